"""What a caller hands the engine and what it gets back: job, progress, cancellation, result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from PIL import Image

from .images import ImageInput, Picture
from .settings import StyleSettings
from .trained import TrainedStyle

# Bits per sample a caller stores results in: the final losses are those of exactly those
# samples. 0 means float32, which needs no rounding.
SAMPLE_BITS = (8, 16, 0)


class Cancelled(Exception):
    """The job's CancelToken was set; the engine stopped within one iteration.

    `partial` is the image as far as it got (at the output size), or None before the first
    step: a daemon warm-starts the job that replaced this one from it."""

    def __init__(self, partial: Picture | None = None) -> None:
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
class Temporal:
    """A temporal term for a video frame (Ruder, Dosovitskiy and Brox 2016): the previous
    frame's result moved by the optical flow onto this frame, and where the flow can be trusted.

    The objective adds `weight` * mean(weights * (x - warped)^2), divided by the energy of
    `warped` like the other terms (so one weight suits every size), at every scale."""

    warped: ImageInput | Picture  # the warped previous result, at the content's size
    weights: ImageInput  # same size; 0..1 per pixel (white 1: the flow is consistent there)
    weight: float = 1.0


@dataclass(frozen=True)
class Job:
    """Images are Pillow images in any common mode, or arrays of samples (see ImageInput);
    the settings say what to do with them."""

    content: ImageInput
    # Images, or trained styles (trained.py) that stand for their style image.
    styles: Sequence[ImageInput | TrainedStyle]
    settings: StyleSettings = field(default_factory=StyleSettings)
    # Same size as the content; white (1) is stylized, black (0) keeps the content, grey blends.
    mask: ImageInput | None = None
    # The starting image when settings.init is "image" (a file, or a previous result to warm-start).
    init_image: ImageInput | Picture | None = None
    sample_bits: int = 8  # one of SAMPLE_BITS: how the caller will store the result
    # Video frames: tie the result to the previous frame's (None for stills: no such term).
    temporal: Temporal | None = None


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
    # Possibly downscaled; only when asked for. Iteration 0 with NaN losses: the fast
    # networks' picture, sent before the optimization starts.
    preview: Picture | None = None
    # Seconds the job should still take, from the measured cost of an iteration at each of its
    # remaining scales (within the time budget); None while a scale's cost is unknown.
    remaining: float | None = None


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
    picture: Picture  # RGB, or RGBA when the content had alpha; rounded to job.sample_bits
    iterations: int  # done, over all scales
    elapsed: float
    # Of the delivered samples, at the last scale run; None for the fast method, which
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

    @cached_property
    def image(self) -> Image.Image:
        """The picture in 8 bits per channel (RGB or RGBA), for files and screens."""
        return self.picture.to_pil()
