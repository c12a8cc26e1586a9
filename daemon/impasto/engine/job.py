"""What a caller hands the engine and what it gets back: job, progress, cancellation, result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from PIL import Image

from .settings import StyleSettings


class Cancelled(Exception):
    """The job's CancelToken was set; the engine stopped within one iteration.

    `partial` is the image as far as it got (at the output size), or None before the first
    step: a daemon warm-starts the job that replaced this one from it."""

    def __init__(self, partial: Image.Image | None = None) -> None:
        super().__init__("cancelled")
        self.partial = partial


class CancelToken:
    """Set from any thread (a socket loop, a Cancel button); checked every iteration."""

    def __init__(self, event: threading.Event | None = None) -> None:
        # A daemon passes its own event, which its socket loop sets.
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class Job:
    """Images are Pillow images in any common mode; the settings say what to do with them."""

    content: Image.Image
    styles: Sequence[Image.Image]
    settings: StyleSettings = field(default_factory=StyleSettings)
    # Same size as the content; white (1) is stylized, black (0) keeps the content, grey blends.
    mask: Image.Image | None = None
    # The starting image when settings.init is "image" (a file, or a previous result to warm-start).
    init_image: Image.Image | None = None


@dataclass(frozen=True)
class Progress:
    """One report during a job. Loss terms are those of the iterate before the step just taken."""

    iteration: int  # iterations done so far, over all scales
    total: int  # iterations planned over all scales
    scale: int  # 0-based index of the current scale
    scales: int
    width: int  # size of the current scale
    height: int
    content_loss: float  # unweighted terms (relative errors, see losses.py)
    style_loss: float
    tv_loss: float
    loss: float  # the weighted total being minimized
    elapsed: float  # seconds since the job started
    # 8-bit, possibly downscaled; only when asked for. Iteration 0 with NaN losses: the fast
    # networks' picture, sent before the optimization starts.
    preview: Image.Image | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Reporting:
    """How the caller wants to hear about a running job, and how it may stop it."""

    on_progress: ProgressCallback | None = None
    every: int = 1  # progress cadence in iterations
    preview_every: int = 0  # also report, with a preview, every K iterations (0: never)
    preview_size: int | None = None  # longer side of previews (None: the current scale's size)
    cancel: CancelToken | None = None
    time_budget: float | None = None  # seconds; when spent, stop and deliver the current image


class StopReason(str, Enum):
    COMPLETED = "completed"
    TIME_BUDGET = "time_budget"


@dataclass(frozen=True)
class StyleResult:
    image: Image.Image  # 8-bit RGB, or RGBA when the content had alpha
    iterations: int  # done, over all scales
    elapsed: float
    # Of the delivered 8-bit image, at the last scale run; None for the fast method, which
    # optimizes nothing (its losses would cost a pass through VGG19).
    content_loss: float | None
    style_loss: float | None
    tv_loss: float | None
    loss: float | None
    device: str
    weights: str  # which VGG19 weights produced it
    stopped: StopReason
    scales: tuple[tuple[int, int, int], ...]  # (width, height, iterations) per scale run
    settings: StyleSettings
