"""The job events of SPEC.md (progress, preview, result, cancelled, error) as a client sees
them: each message turned into a frozen dataclass, every field read defensively (a newer daemon
may add fields, an older one omit them). messages.py holds the requests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .codec import Message, new_id
from .constants import (
    CANCELLED,
    E_INVALID_FIELD,
    E_MISSING_FIELD,
    ERROR,
    FRAME,
    PREVIEW,
    PROGRESS,
    RESULT,
)
from .errors import ProtocolError, RemoteError
from .pixels import Pixels, read_pixels


@dataclass(frozen=True)
class Progress:
    iteration: int
    total: int
    scale: int
    scales: int
    width: int
    height: int
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float
    remaining: float | None = None  # 1.4: the daemon's own estimate of the seconds left
    paused: bool = False  # 1.6: a training (1.7: or a clip) that made way, queued again
    frame: int | None = None  # 1.7: a clip's progress: the index of the frame done last

    @classmethod
    def from_body(cls, b: dict[str, Any]) -> Progress:
        def num(name: str) -> float:
            value = b.get(name, 0)
            return value if isinstance(value, (int, float)) else 0

        def count(name: str) -> int:
            value = num(name)
            return int(value) if math.isfinite(value) else 0  # int(nan) raises

        return cls(
            iteration=count("iteration"),
            total=count("total"),
            scale=count("scale"),
            scales=count("scales"),
            width=count("width"),
            height=count("height"),
            loss=float(num("loss")),
            content_loss=float(num("content_loss")),
            style_loss=float(num("style_loss")),
            tv_loss=float(num("tv_loss")),
            elapsed=float(num("elapsed")),
            remaining=_seconds(b.get("remaining")),
            paused=b.get("paused") is True,
            frame=_index(b.get("frame")),
        )

    @property
    def eta(self) -> float | None:
        """Seconds left: the daemon's estimate (1.4: from the measured cost of an iteration at
        each remaining scale), else from the pace so far, which runs low when the later scales
        are larger (None before the first iteration without the daemon's estimate: a daemon
        gives it from the first event, the preview at iteration 0 included)."""
        if self.remaining is not None:
            return self.remaining
        if self.iteration <= 0:
            return None
        return self.elapsed / self.iteration * max(0, self.total - self.iteration)

    @property
    def fraction(self) -> float:
        """How far the job is, 0..1, for a progress bar: by time when the daemon says the
        seconds left (finer scales cost more per iteration, so a count would sit near the end
        for most of the job), else by iterations."""
        if self.total <= 0:
            return 0.0
        if self.iteration >= self.total:
            return 1.0
        if self.remaining is not None and self.elapsed + self.remaining > 0:
            return min(1.0, self.elapsed / (self.elapsed + self.remaining))
        return max(0.0, self.iteration / self.total)


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _seconds(value: Any) -> float | None:
    """A non-negative finite number of seconds, or None (absent, nil or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True)
class Preview:
    progress: Progress
    image: Pixels


@dataclass(frozen=True)
class Result:
    image: Pixels
    info: dict[str, Any]  # iterations, elapsed, losses, device, weights, style_cache, ...


@dataclass(frozen=True)
class Cancelled:
    reason: str
    checkpoint: int | None = None  # 1.6: a training's saved step; the next request resumes


@dataclass(frozen=True)
class FrameDone:
    """1.7: frame `index` of a clip job, stylized (never dropped; in order)."""

    index: int
    image: Pixels


@dataclass(frozen=True)
class ClipDone:
    """1.7: a clip job's result: every frame was sent as a `frame` event before it; `info`
    holds the facts (frames, width, height, elapsed, device, settings, temporal)."""

    info: dict[str, Any]

    @property
    def frames(self) -> int:
        return _index(self.info.get("frames")) or 0


JobEvent = Progress | Preview | Result | Cancelled | FrameDone | ClipDone


def job_event(msg: Message) -> JobEvent:
    """Turn a job event message into its dataclass; raise RemoteError for an `error`."""
    if msg.type == ERROR:
        raise remote_error(msg)
    if msg.type == PROGRESS:
        return Progress.from_body(msg.body)
    if msg.type == PREVIEW:
        return Preview(Progress.from_body(msg.body), _image(msg))
    if msg.type == RESULT:
        if msg.body.get("image") is None and "frames" in msg.body:
            return ClipDone(dict(msg.body))  # 1.7: a clip's frames came before it
        return Result(_image(msg), {k: v for k, v in msg.body.items() if k != "image"})
    if msg.type == FRAME:
        index = _index(msg.body.get("index"))
        if index is None:
            raise ProtocolError(E_INVALID_FIELD, "a frame event's index", "index")
        return FrameDone(index, _image(msg))
    if msg.type == CANCELLED:
        step = msg.body.get("checkpoint")
        step = step if isinstance(step, int) and not isinstance(step, bool) else None
        return Cancelled(str(msg.body.get("reason", "")), step)
    raise ProtocolError(E_INVALID_FIELD, f"not a job event: {msg.type}", "type")


def _image(msg: Message) -> Pixels:
    image = read_pixels(msg.body, "image", msg.frames, set())
    if image is None:
        raise ProtocolError(E_MISSING_FIELD, f"{msg.type} without an image", "image")
    return image


def remote_error(msg: Message) -> RemoteError:
    b = msg.body
    field_name = b.get("field")
    return RemoteError(
        str(b.get("code", "internal")),
        str(b.get("message", "unspecified error")),
        field_name if isinstance(field_name, str) else None,
        msg.job,
    )


def error(
    code: str,
    message: str,
    field_name: str | None = None,
    ref: str | None = None,
    job: str | None = None,
) -> Message:
    body = {"code": code, "message": message, "field": field_name}
    return Message(ERROR, new_id(), body, ref=ref, job=job)
