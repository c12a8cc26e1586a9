"""What a style-transfer job needs of the editor, as an interface: the Document.

The model (model.py) speaks to the open image only through this, so it runs without Krita:
document.py implements it on Krita's API (KritaDocument), the unit tests on numpy arrays. As in
Acly/krita-ai-diffusion, the host is one small object per open image, and the model asks a
factory for the active one when a job starts.

Layers are named by an id string (Krita's node uuid): the model keeps the ids of the result
layers it made, so that the next job's layer goes above them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from impasto_protocol import Pixels
from impasto_protocol.region import Region


class HostError(Exception):
    """Something about the open image that stops a job; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """What a job works on: the source layer, the area sent, and the selection inside it."""

    source: str  # the source layer's id
    name: str  # the source layer's name, for the docker
    area: Region
    selection: bytes | None  # one byte per pixel of `area`; None: the whole area
    result_dtype: str  # the sample type results are asked in ("u8", or "u16" for deep layers)
    format: Any = None  # how the host itself reads and writes the layer


Frames = dict[int, bytes]  # an animation's pictures by time
Ends = tuple[Callable[[str], None], Callable[[str], None]]  # (done, failed) of an async step


@dataclass(frozen=True)
class Animation:
    """An animated layer a clip job stylizes: its id and name, the whole image's size (every
    frame is a whole-image picture) and the times of its frames, in order."""

    source: str
    name: str
    width: int
    height: int
    times: tuple[int, ...]


class Document(Protocol):
    """One open image. Adding the result layer is one undo step; writing pixels into it and
    renaming it add none, so a finished result is undone in one step; removing it leaves the
    image and its undo history as they were before the job."""

    def is_open(self) -> bool:
        """Whether the image is still open (a closed one's job is cancelled)."""
        ...

    def target(self, selection_only: bool) -> Target:
        """The active layer and the area a job sends (the selection's, with context, or the
        whole image); HostError when there is nothing a job can stylize."""
        ...

    def target_size(self, selection_only: bool) -> tuple[int, int] | None:
        """The size of the area `target` would give, without reading pixels; None: none."""
        ...

    def read_pixels(self, target: Target) -> Pixels:
        """The source layer's pixels in the target's area, as they travel."""
        ...

    def style_layers(self) -> list[str]:
        """The names of the paint layers that can serve as a style, depth first."""
        ...

    def read_style_layer(self, name: str) -> Pixels | None:
        """The whole layer of that name, or None when there is none; HostError: empty."""
        ...

    def add_result_layer(self, target: Target, name: str, above: frozenset[str]) -> str:
        """A new layer right above the source (and above the layers `above` that sit right
        over it: earlier results); its id. One undo step."""
        ...

    def write_result(self, target: Target, layer: str, bgra: bytes, dtype: str) -> None:
        """BGRA pixels of `dtype`, the size of the target's area, into the result layer."""
        ...

    def rename_layer(self, layer: str, name: str) -> None: ...

    def remove_result_layer(self, target: Target, layer: str) -> None:
        """Take an unfinished result layer away: undo its creation when that is the latest
        step, else remove it (one step that brings it back). The source becomes active."""
        ...

    def lock_layer(self, layer: str, locked: bool) -> None:
        """Lock the result layer against painting while previews are written into it (the
        plug-in's own writes still land), or unlock it for the painter. No undo step."""
        ...

    def keep_source_active(self, target: Target, layer: str) -> None:
        """Make the source the active layer again if the result layer became it."""
        ...

    def animation(self) -> Animation:
        """The active layer's frames in the playback range (animation.animation_frames); an
        HostError when it has fewer than two, or is no animated 8-bit RGB layer."""
        ...

    def read_frames(self, animation: Animation) -> list[Pixels]:
        """The source's picture at each of the animation's times, whole-image BGRA u8, read
        without changing the image or its current time."""
        ...

    def add_animated_layer(self, clip: Animation, name: str, ends: Ends) -> None:
        """Start adding a new layer above the source with a transparent keyframe at each of
        the clip's times: one undo step. It may finish later, on the event loop: then
        `ends` = (done, failed) gets `done(layer id)` or `failed(message)`."""
        ...

    def show_frame(self, layer: str, frames: Frames) -> int | None:
        """Write into the new layer the one frame of `frames` (whole-image BGRA u8, by time)
        that the image shows now, if any: its time (None: none). No undo step, and the
        current time stays (Krita writes a keyframe only at the current time)."""
        ...

    def fill_frames(self, layer: str, frames: Frames) -> None:
        """Write every frame of `frames` into the new layer's keyframe at its time, leaving
        the current time and the undo history as they were."""
        ...

    def remove_animated_layer(self, clip: Animation, layer: str) -> None:
        """Take an unfinished animated layer away, as remove_result_layer does a still's."""
        ...
