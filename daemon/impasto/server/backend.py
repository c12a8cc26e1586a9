"""What the server needs from an engine, and nothing more: the server never imports torch.

`impasto.backends.local.StylizerBackend` implements this for the style transfer engine; tests can
run the server on the real engine or, to study the socket loop alone, on any other Backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from impasto_protocol.limits import Limits
from impasto_protocol.messages import PREVIEW_EVERY, PREVIEW_SIZE, PROGRESS_EVERY

# Images between the server and a backend are numpy arrays, H x W x C: inputs are the wire's
# samples (uint8, uint16 or float32; C = 1..4 for L, LA, RGB, RGBA), outputs float32 RGB or
# RGBA in 0..1, which the server encodes in the sample type the client asked for.
Samples = np.ndarray


class FieldError(ValueError):
    """A job setting the engine refuses; becomes an `error` reply naming `field`."""

    def __init__(self, field_name: str | None, message: str, code: str = "invalid_field") -> None:
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name
        self.message = message
        self.code = code


class JobStopped(Exception):
    """The job's cancel event was set; `partial` is the image as far as it got (or None), and
    `info` facts for the `cancelled` event (a training's checkpoint step)."""

    def __init__(self, partial: Samples | None, info: dict[str, Any] | None = None) -> None:
        super().__init__("stopped")
        self.partial = partial
        self.info = info or {}


class JobPaused(Exception):
    """A training's pause event was set: it saved a checkpoint at `step` and made way for
    stylization jobs; run again, it resumes there. `elapsed`: its running seconds so far."""

    def __init__(self, step: int, elapsed: float) -> None:
        super().__init__(f"paused at step {step}")
        self.step = step
        self.elapsed = elapsed


class OutOfMemory(Exception):
    """The device ran out of memory; the daemon reports it and keeps serving."""


@dataclass(frozen=True)
class SettingsRequest:
    """What a backend checks a submit's settings against. The server knows no setting by
    name: the limits on iterations and output pixels are the backend's to apply."""

    settings: dict[str, Any]
    content_size: tuple[int, int]
    warm_start: bool  # an init_image or init_job: the job starts from that picture
    n_styles: int
    limits: Limits


@dataclass(frozen=True)
class TrainingRequest:
    """What a backend checks a train request against before it is queued (SPEC.md, train)."""

    settings: dict[str, Any]
    name: str
    overwrite: bool
    style_size: tuple[int, int]
    limits: Limits


@dataclass
class TrainInput:
    style: Samples
    photos: list[Samples]
    only_photos: bool
    validation: Samples | None
    settings: Any  # what check_training returned
    name: str
    overwrite: bool
    restart: bool  # ignore a checkpoint (only on a job's first run: a paused one resumes)
    progress_every: int = PROGRESS_EVERY
    preview_every: int = PREVIEW_EVERY
    preview_size: int = PREVIEW_SIZE
    elapsed_before: float = 0.0  # seconds the job ran before it was paused
    cancel: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)


@dataclass
class JobInput:
    content: Samples
    styles: list[Samples]
    settings: Any  # what check_settings returned
    mask: Samples | None = None
    init: Samples | None = None
    result_dtype: str = "u8"  # the client stores the result as u8, u16 or f32 samples
    progress_every: int = PROGRESS_EVERY
    preview_every: int = PREVIEW_EVERY
    preview_size: int = PREVIEW_SIZE
    time_budget: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class ClipInput:
    """A clip job's frames and settings. `frame(i)` is frame i as sent (the server holds them
    all: a clip is read in order, and a resumed one reads its first again). Frames before
    `start` are done: `previous` is frame start - 1 as sent and its result (float RGB), which
    the next frame is carried from; `after` gives the same for a clip that continues one that
    stopped (the client sent them)."""

    frame: Callable[[int], Samples]
    count: int
    styles: list[Samples]
    settings: Any  # what check_settings returned
    temporal: float
    mask: Samples | None = None
    start: int = 0
    previous: tuple[Samples, Samples] | None = None
    progress_every: int = 1  # frames between progress events
    preview_every: int = PREVIEW_EVERY  # frames between previews of the latest frame
    preview_size: int = PREVIEW_SIZE
    elapsed_before: float = 0.0  # seconds the job ran before it made way
    cancel: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)


@dataclass
class JobOutput:
    image: Samples  # float32 RGB or RGBA
    info: dict[str, Any]  # msgpack-able facts for the result message


# progress(fields, preview): fields are msgpack-able numbers (see SPEC.md, `progress`).
ProgressSink = Callable[[dict[str, Any], Samples | None], None]
# frame_done(index, image): a clip's frame stylized, float32 RGB or RGBA in 0..1.
FrameSink = Callable[[int, Samples], None]


class Backend(Protocol):
    """Every backend implements all of it; what one cannot do it answers trivially (no
    swatches, no stats; `trains` False, and then check_training and train are never called)."""

    # False: `train` requests are answered `unknown_type` (a backend that does not train).
    trains: bool
    # False: `clip` and `frames` requests are answered `unknown_type` (1.7).
    clips: bool

    def load(self) -> None:
        """The slow part (weights, warm-up). Runs on the worker thread after the socket is
        bound, so clients can connect and see "starting" meanwhile."""

    def describe(self) -> dict[str, Any]:
        """Facts for hello_reply: device, weights, layers, settings defaults and choices."""

    def check_settings(self, request: SettingsRequest) -> Any:
        """Validate a submit's settings before it is queued, within the daemon's limits;
        raise FieldError (code `too_large` for what a limit refuses)."""

    def estimate(self, request: SettingsRequest) -> dict[str, Any]:
        """The `estimate` reply's body for a job that is not sent (SPEC.md): the checks of
        check_settings, then the output size, seconds, tiling and memory (nil where unknown).
        Answered on the socket loop: it must not wait on the engine."""

    def run(self, job: JobInput, progress: ProgressSink) -> JobOutput:
        """Run a job; raise JobStopped when job.cancel is set, OutOfMemory, FieldError."""

    def check_training(self, request: TrainingRequest) -> Any:
        """Validate a train request before it is queued (FieldError naming the setting, or
        `name` for a style that exists without `overwrite`). Called only when `trains`."""

    def train(self, job: TrainInput, progress: ProgressSink) -> JobOutput:
        """Train and write the style to the library; raise JobStopped (after a checkpoint)
        when job.cancel is set, JobPaused when job.pause is, OutOfMemory, FieldError. Called
        only when `trains`."""

    def run_clip(self, job: ClipInput, progress: ProgressSink, frame_done: FrameSink) -> JobOutput:
        """Stylize the clip's frames from `job.start`, each given to frame_done as soon as it
        is done; the output's image is unused (empty) and its info the result's body. Raise
        JobStopped when job.cancel is set, JobPaused (its step: the frames done) when job.pause
        is, checked between frames. Called only when `clips`."""

    def swatches(self) -> list[Samples]:
        """The presets' swatches for the `presets` request: already rendered (the socket loop
        calls it), empty when there are none (yet)."""

    def trained_styles(self) -> list[tuple[dict[str, Any], Samples]]:
        """The trained styles a job may name, for the `presets` request: each one's facts
        (name, kind, steps, loss) and its swatch. Answered on the socket loop; empty when
        there are none (or the backend keeps no library)."""

    def stats(self) -> dict[str, Any]:
        """The engine's counters for the `status` reply's `engine` (msgpack-able; empty when
        there are none). Answered on the socket loop: it must not wait on the engine."""
