"""Clip jobs on the local engine (SPEC.md, `clip`): the server's ClipInput through the same
FrameStylizer that `impasto stylize CLIP` uses, each frame handed back as soon as it is done,
and the clip's progress counted in frames.

Between frames the job checks its cancel event (an optimized frame also stops within an
iteration) and its pause event: a clip makes way for a still there, and the server queues it
again to go on from the last frame done, to the very frames an unbroken run gives.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..clips.sequence import FrameStylizer
from ..engine import Cancelled, CancelToken, StyleSettings, Stylizer
from ..engine.images import fit_size, resize, to_tensor
from ..server.backend import (
    ClipInput,
    FrameSink,
    JobOutput,
    JobPaused,
    JobStopped,
    ProgressSink,
    Samples,
)


def run_clip(
    job: ClipInput,
    progress: ProgressSink,
    frame_done: FrameSink,
    stylizer: Stylizer,
    styles: list[Any],
) -> JobOutput:
    """The frames from job.start to the end; `styles` are the style images and the trained
    styles the settings name, as a Job takes them."""
    settings: StyleSettings = job.settings
    frames = FrameStylizer(
        stylizer, styles, settings, job.temporal, job.mask, CancelToken(job.cancel)
    )
    if job.previous is not None:
        before, result = job.previous
        first = job.frame(0) if job.start > 0 else None  # (the fast method's style is fixed on it)
        frames.resume(before, _u8(result), first)
    clock = _FrameClock(job.elapsed_before)
    size = (0, 0)
    for index in range(job.start, job.count):
        if job.cancel.is_set():
            raise JobStopped(None)
        if job.pause.is_set():
            raise JobPaused(index, clock.elapsed())
        source = job.frame(index)
        try:
            picture = np.asarray(frames.frame(source), dtype=np.float32) / 255.0
        except Cancelled:
            raise JobStopped(None) from None
        image = _with_alpha(picture, source)
        size = (image.shape[1], image.shape[0])
        frame_done(index, image)
        clock.frame_done()
        _report(job, progress, index, clock, image)
    info = {
        "frames": job.count,
        "width": size[0],
        "height": size[1],
        "elapsed": clock.elapsed(),
        "device": stylizer.compute.describe(),
        "weights": stylizer.weights_name,
        "temporal": job.temporal,
        "method": settings.method.value,
    }
    return JobOutput(np.zeros((0, 0, 3), np.float32), info)


class _FrameClock:
    """The clip's running time (before a pause too) and the seconds left, from the frames
    timed in this run after its first (an optimized clip's first frame runs every
    iteration, the later ones fewer)."""

    def __init__(self, before: float) -> None:
        self.before = before
        self.start = time.perf_counter()
        self.last = self.start
        self.times: list[float] = []

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.start

    def frame_done(self) -> None:
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now

    def remaining(self, frames_left: int) -> float:
        later = self.times[1:] or self.times
        return sum(later) / len(later) * frames_left


def _report(
    job: ClipInput, progress: ProgressSink, index: int, clock: _FrameClock, image: Samples
) -> None:
    """`progress` every progress_every frames, or a preview of the frame (downscaled to
    preview_size) every preview_every frames, as a still's progress and previews go."""
    done = index + 1
    preview = job.preview_every > 0 and (done % job.preview_every == 0 or done == job.count)
    if not preview and done % job.progress_every and done != job.count:
        return
    fields = {
        "iteration": done,
        "total": job.count,
        "frame": index,
        "elapsed": clock.elapsed(),
        "remaining": clock.remaining(job.count - done),
    }
    progress(fields, _downscaled(image, job.preview_size) if preview else None)


def _downscaled(image: Samples, longest: int) -> Samples:
    h, w = image.shape[:2]
    if max(w, h) <= longest:
        return image
    fw, fh = fit_size(w, h, longest)
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0)
    return resize(t, fw, fh)[0].permute(1, 2, 0).contiguous().numpy()


def _with_alpha(picture: Samples, source: Samples) -> Samples:
    """The frame's own alpha carried to its result (resampled to the output's size), as a
    still's is; an opaque frame's result is RGB."""
    alpha = to_tensor(source)[1]
    if alpha is None:
        return picture
    h, w = picture.shape[:2]
    a = resize(alpha, w, h)[0].permute(1, 2, 0).clamp(0, 1).numpy()
    return np.concatenate([picture, a.astype(np.float32)], axis=2)


def _u8(image: Samples) -> np.ndarray:
    """A frame's result as FrameStylizer keeps it: RGB uint8."""
    return np.rint(np.clip(image[..., :3], 0.0, 1.0) * 255.0).astype(np.uint8)
