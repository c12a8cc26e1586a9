"""Clip jobs (protocol 1.7): the `clip` request that describes one, the `frames` requests that
carry its frames in bounded batches, and how a client cuts its frames into those batches.

A clip can be far larger than one message may be (`max_message_bytes` bounds each frame, and
a daemon receives a message whole before it reads any of it), so the request that makes the job
holds no frame: the frames follow in order, at most MAX_FRAMES and about BATCH_BYTES a message,
each batch answered by `frames_reply`. The job is queued when the last one is in. The events
that come back (`frame`, and a result without an image) are in events.py with the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import fields as F
from .codec import Message, new_id
from .constants import CLIP, E_INVALID_FIELD, E_TOO_LARGE, FRAMES, MAX_FRAMES
from .errors import ProtocolError
from .messages import (
    PREVIEW_SIZE,
    RESULT_LAYOUTS,
    job_options_from_wire,
    job_options_to_wire,
    require_a_style,
)
from .pixels import (
    DTYPES,
    LAYOUTS,
    MAX_SIDE,
    DataFrames,
    Pixels,
    check_all_described,
    pixels_from_descriptor,
    read_pixels,
)

# A batch of frames stays under this many bytes (and MAX_FRAMES frames) whatever the daemon's
# limit per frame: the daemon holds each message whole before it reads it.
BATCH_BYTES = 64 * 2**20
# A clip's progress events come every frame by default: a frame is the unit a painter counts.
CLIP_PROGRESS_EVERY = 1


@dataclass
class ClipRequest:
    """A clip job: `frames` frames of `width` x `height` in `layout`/`dtype` (sent afterwards
    in `frames` requests), the styles and settings of a submit, and `temporal`, the strength
    of temporal consistency 0..1 (None: the daemon's `clip_defaults.temporal`).

    `after` continues a clip that stopped: the frame before this clip's first, as it was sent,
    and its stylized result (as a `frame` event brought it). The first frame is then carried
    from that result as in an unbroken run, so a client can resume a cancelled clip on any
    daemon, one restarted since too."""

    frames: int
    width: int
    height: int
    layout: str = "RGB"
    dtype: str = "u8"
    styles: list[Pixels] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    mask: Pixels | None = None
    temporal: float | None = None
    after: tuple[Pixels, Pixels] | None = None  # (input, output)
    result_layout: str | None = None  # RGB (default), RGBA, BGR or BGRA
    priority: int = 0
    progress_every: int = CLIP_PROGRESS_EVERY  # frames between progress events
    preview_every: int = 0  # frames between previews of the latest frame (0: none)
    preview_size: int = PREVIEW_SIZE
    detach: bool = False
    label: str = ""

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * len(self.layout) * DTYPES[self.dtype]

    def to_message(self, mid: str | None = None) -> Message:
        data = DataFrames()
        put = data.put

        body: dict[str, Any] = {
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "layout": self.layout,
            "dtype": self.dtype,
            "styles": [put(s) for s in self.styles],
            "settings": self.settings,
            **job_options_to_wire(self),
        }
        if self.mask is not None:
            body["mask"] = put(self.mask)
        if self.after is not None:
            body["after"] = {"input": put(self.after[0]), "output": put(self.after[1])}
        for name in ("temporal", "result_layout"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        return Message(CLIP, mid or new_id(), body, frames=data.frames)

    @classmethod
    def from_message(cls, msg: Message) -> ClipRequest:
        b, frames, used = msg.body, msg.frames, set[int]()
        descs = F.array(b, "styles")
        settings = F.mapping(b, "settings")
        if len(descs) > MAX_FRAMES:
            raise ProtocolError(E_TOO_LARGE, f"at most {MAX_FRAMES} style images", "styles")
        require_a_style(bool(descs), settings)
        styles = [
            pixels_from_descriptor(d, frames, used, f"styles[{i}]") for i, d in enumerate(descs)
        ]
        clip = cls(
            frames=F.integer(b, "frames", lo=1, required=True) or 1,
            width=F.integer(b, "width", lo=1, hi=MAX_SIDE, required=True) or 1,
            height=F.integer(b, "height", lo=1, hi=MAX_SIDE, required=True) or 1,
            layout=F.text(b, "layout", required=True, choices=LAYOUTS) or "RGB",
            dtype=F.text(b, "dtype", "u8", choices=tuple(DTYPES)) or "u8",
            styles=styles,
            settings=settings,
            mask=read_pixels(b, "mask", frames, used),
            temporal=F.number(b, "temporal", None, 0.0, 1.0),
            after=_after(b, frames, used),
            result_layout=F.text(b, "result_layout", choices=RESULT_LAYOUTS),
            **_job_options(b),
        )
        check_all_described(frames, used)
        clip.check_images()
        return clip

    def check_images(self) -> None:
        """The mask and `after` fit the frames (their sizes, the input's layout)."""
        size = (self.width, self.height)
        if self.mask is not None:
            if self.mask.layout != "L":
                raise ProtocolError(E_INVALID_FIELD, "a mask has layout L (one channel)", "mask")
            if (self.mask.width, self.mask.height) != size:
                raise ProtocolError(
                    E_INVALID_FIELD,
                    f"mask is {self.mask.width}x{self.mask.height} but the frames are "
                    f"{self.width}x{self.height}",
                    "mask",
                )
        if self.after is not None:
            problem = self.frame_problem(self.after[0])
            if problem is not None:
                raise ProtocolError(E_INVALID_FIELD, problem, "after.input")
            if self.after[1].layout not in RESULT_LAYOUTS:
                raise ProtocolError(
                    E_INVALID_FIELD,
                    f"a frame's result is {', '.join(RESULT_LAYOUTS)}, not {self.after[1].layout}",
                    "after.output",
                )
        if not all(isinstance(key, str) for key in self.settings):
            raise ProtocolError(E_INVALID_FIELD, "setting names are strings", "settings")

    def frame_problem(self, p: Pixels) -> str | None:
        """Why `p` cannot be one of this clip's frames (every frame as the request said)."""
        if (p.width, p.height, p.layout, p.dtype) == (
            self.width,
            self.height,
            self.layout,
            self.dtype,
        ):
            return None
        return (
            f"a {p.width}x{p.height} {p.layout} {p.dtype} frame; this clip's frames are "
            f"{self.width}x{self.height} {self.layout} {self.dtype}"
        )


def _after(b: dict[str, Any], frames: list[Any], used: set[int]) -> tuple[Pixels, Pixels] | None:
    after = F.mapping(b, "after")
    if not after:
        return None
    pair = []
    for key in ("input", "output"):
        if after.get(key) is None:
            raise ProtocolError(E_INVALID_FIELD, f"after needs {key!r}", f"after.{key}")
        pair.append(pixels_from_descriptor(after[key], frames, used, f"after.{key}"))
    return pair[0], pair[1]


def _job_options(b: dict[str, Any]) -> dict[str, Any]:
    """A submit's job options, but counted in frames: progress every frame by default."""
    options = job_options_from_wire(b)
    if b.get("progress_every") is None:
        options["progress_every"] = CLIP_PROGRESS_EVERY
    return options


@dataclass
class FramesBatch:
    """Frames `first`, `first` + 1, ... of the clip job `job`, in one `frames` request."""

    job: str
    first: int
    images: list[Pixels]

    def to_message(self, mid: str | None = None) -> Message:
        body = {"first": self.first, "images": [p.descriptor(i) for i, p in enumerate(self.images)]}
        return Message(
            FRAMES, mid or new_id(), body, job=self.job, frames=[p.data for p in self.images]
        )

    @classmethod
    def from_message(cls, msg: Message, job: str) -> FramesBatch:
        b, used = msg.body, set[int]()
        descs = F.array(b, "images", required=True)
        if not 1 <= len(descs) <= MAX_FRAMES:
            raise ProtocolError(E_INVALID_FIELD, f"1..{MAX_FRAMES} images a batch", "images")
        images = [
            pixels_from_descriptor(d, msg.frames, used, f"images[{i}]") for i, d in enumerate(descs)
        ]
        check_all_described(msg.frames, used)
        first = F.integer(b, "first", lo=0, required=True) or 0
        return cls(job, first, images)


def batches(
    job: str, frames: Iterable[Pixels], first: int = 0, max_bytes: int = BATCH_BYTES
) -> Iterator[FramesBatch]:
    """`frames` (numbered from `first`) cut into batches of at most MAX_FRAMES frames and about
    `max_bytes` (a single larger frame travels alone), read lazily: a long clip is never all in
    a client's memory."""
    batch: list[Pixels] = []
    size = 0
    for p in frames:
        if batch and (len(batch) == MAX_FRAMES or size + p.nbytes > max_bytes):
            yield FramesBatch(job, first, batch)
            first += len(batch)
            batch, size = [], 0
        batch.append(p)
        size += p.nbytes
    if batch:
        yield FramesBatch(job, first, batch)
