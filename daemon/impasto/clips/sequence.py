"""Stylizing a clip frame by frame, with temporal consistency, by either method.

A `FrameStylizer` takes the frames in order and keeps the previous input and output itself; the
optical flow (flow.py) from each frame back to the previous one carries the previous result
onto the new frame, and the forward-backward check says where that can be trusted (occluded and
revealed pixels cannot).

- **fast**: the style is fixed once for the clip (the first frame's prepared styles: a style
  vector, a preset mix or a trained style, computed once; with colour matching, matched to the
  first frame), each frame is painted, then blended with the previous result moved by the flow
  where the flow is consistent: out = new + alpha * mask * (warped - new), alpha = `temporal`.
  Static areas stay still; moving ones follow the motion; revealed ones take the new frame.
- **optimization** (Ruder, Dosovitskiy and Brox 2016): the first frame gets the settings'
  iterations; each later frame starts from the previous result moved by the flow (revealed
  areas from the fast networks' picture of the frame, or the frame itself without them) and runs
  `LATER_ITERATIONS` of the iterations, with the engine's temporal term (job.Temporal) tying it
  to the moved result where the flow is consistent, weighted `temporal * TEMPORAL_WEIGHT`.

`temporal` = 0 makes the frames independent (no blend, no warm start, no temporal term).
Frames are resized as stills are (the settings' size), and the flow is computed at that size.
The defaults below were measured by benchmarks/clips.py (benchmarks/results/clips/).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..engine import CancelToken, Job, Reporting, StyleSettings, Stylizer, color
from ..engine.deliver import deliver
from ..engine.fast import FastModelError
from ..engine.images import resize, to_mask, to_tensor
from ..engine.job import Temporal
from ..engine.painting import paint
from ..engine.prepare import PreparedJob, output_size
from ..engine.settings import InitMode, Method, PreserveColor, SettingsError
from .flow import backward_mask, warp

# The default strength of temporal consistency (the command line's --temporal), for both
# methods. Measured by benchmarks/clips.py (benchmarks/results/clips/README.md), tuned on
# carphone and checked on bigbuckbunny: the fast method's warping error 0.25x and 0.41x that of
# independent frames at 1.19x and 1.09x their style loss (0.7 only just reached 0.5x on
# bigbuckbunny); the optimization's 0.30x and 0.18x at 1.08x and 1.01x.
DEFAULT_TEMPORAL: float = 0.8
# The optimization's temporal weight at temporal = 1 (the term is a relative error, like the
# content and style terms, so one weight suits every size). 0.6 to 1.0 of it measured alike.
TEMPORAL_WEIGHT = 4.0
# The optimization's later frames run this fraction of the settings' iterations (at least one):
# they start from the previous result, moved, which is most of the way there. 0.2 let the style
# loss rise 1.22x on carphone; 0.4 kept it at 1.08x with the same warping error.
LATER_ITERATIONS = 0.4


def _u8(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) 0..1 as H x W x C uint8."""
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 as (1, 3, H, W) float32 0..1."""
    return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0)


# A frame: a Pillow image, or an array of samples as the engine takes them (H x W x C).
FrameImage = Image.Image | np.ndarray


def at_size(image: FrameImage, settings: StyleSettings) -> np.ndarray:
    """A frame at the settings' output size, RGB uint8, resized as the engine resizes stills:
    what FrameStylizer works on (and what a warping error compares its results with)."""
    rgb = to_tensor(image.convert("RGB") if isinstance(image, Image.Image) else image)[0]
    w, h = output_size(rgb.shape[3], rgb.shape[2], settings)
    return _u8(resize(rgb, w, h))


class FrameStylizer:
    """A clip's frames stylized in order on `engine`, with `styles` (images or trained styles,
    as a Job takes them) and `settings`; `temporal` 0..1 is the strength of temporal
    consistency (0: frames independent); `mask` (the frames' size) as a Job's mask; `cancel`
    stops an optimized frame within an iteration (the engine raises Cancelled)."""

    def __init__(
        self,
        engine: Stylizer,
        styles: Sequence[Any],
        settings: StyleSettings,
        temporal: float,
        mask: FrameImage | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        if not 0 <= temporal <= 1:
            raise SettingsError("temporal", f"must be within 0..1, not {temporal}")
        self.engine = engine
        self.styles = list(styles)
        settings = settings.validate(engine.layer_names)
        # `amount` (protocol 1.8) blends each delivered frame with its photo; the frames carry
        # each other forward unblended, else every frame would pull the next towards the photo.
        self.amount = settings.amount
        self.settings = dataclasses.replace(settings, amount=1.0)
        self.temporal = temporal
        self.mask = mask
        self.cancel = cancel
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (input, output) uint8
        self._fast: PreparedJob | None = None  # the fast method's styles, fixed at frame 1

    # -- the interface ----------------------------------------------------------------------

    def frame(self, image: FrameImage) -> Image.Image:
        """The next frame stylized (RGB, at the settings' size)."""
        frame = self._resized(image)
        if self.settings.method is Method.FAST:
            out = self._fast_frame(frame)
        else:
            out = self._optimized_frame(frame)
        self._previous = frame, out
        return Image.fromarray(self._blended(out, frame))

    def _blended(self, out: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """A frame as delivered: `amount` of the stylized one, the rest the photo (the mask
        was applied already, and a kept area is the photo either way)."""
        if self.amount >= 1:
            return out
        mixed = self.amount * out.astype(np.float32) + (1 - self.amount) * frame
        return np.clip(np.round(mixed), 0, 255).astype(np.uint8)

    def _unblended(self, delivered: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """The stylized frame behind a delivered one (a resumed clip's last), as near as its
        8 bits allow: the blend undone. At amount 0 nothing of it was kept: the photo."""
        if self.amount >= 1:
            return delivered
        if self.amount <= 0:
            return frame
        out = (delivered.astype(np.float32) - (1 - self.amount) * frame) / self.amount
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    def resume(
        self,
        previous_input: FrameImage,
        previous_output: FrameImage,
        first: FrameImage | None = None,
    ) -> None:
        """Continue a clip after `previous_input` (a frame as given to `frame`) whose result was
        `previous_output` (RGB uint8): the next frame is then what an uninterrupted run would
        give (with `amount` below 1, within the rounding of the blend undone). The fast method
        fixes its style on the clip's first frame (with colour matching, matched to it): give
        `first` for the very same frames, else the next frame stands in for it."""
        frame = self._resized(previous_input)
        out = previous_output
        out = np.asarray(out.convert("RGB") if isinstance(out, Image.Image) else out)[..., :3]
        if out.shape != frame.shape:
            out = _u8(resize(_tensor(out), frame.shape[1], frame.shape[0]))
        self._previous = frame, self._unblended(out, frame)
        if first is not None and self.settings.method is Method.FAST:
            self._prepare_fast(self._resized(first))

    # -- parts ------------------------------------------------------------------------------

    def _resized(self, image: FrameImage) -> np.ndarray:
        return at_size(image, self.settings)

    def _job_mask(self, frame: np.ndarray) -> np.ndarray | None:
        if self.mask is None:
            return None
        h, w = frame.shape[:2]
        return _u8(resize(to_mask(self.mask), w, h))[..., 0]

    def _carried(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The previous output moved onto `frame` by the flow, and where the flow is
        consistent (H x W float32 0/1); None for a first frame or temporal 0."""
        if self._previous is None or self.temporal <= 0:
            return None
        before, out = self._previous
        flow, consistent = backward_mask(frame, before)
        return warp(out, flow), consistent

    def _fast_frame(self, frame: np.ndarray) -> np.ndarray:
        """Painted with the clip's fixed style, blended with the previous result moved."""
        h, w = frame.shape[:2]
        fast = self._fast or self._prepare_fast(frame)
        content = _tensor(frame)
        net_content = content
        if self.settings.preserve_color is PreserveColor.LUMINANCE:
            net_content = color.luminance(content)
        prep = dataclasses.replace(fast, content=content, net_content=net_content)
        new = deliver(prep, paint(self.engine.instant, prep, w, h), w, h, None).rgb
        carried = self._carried(frame)
        if carried is not None:
            warped, consistent = carried
            keep = self.temporal * torch.from_numpy(consistent)[None, None]
            new = new + keep * (_tensor(warped) - new)
        return _u8(new)

    def _prepare_fast(self, first: np.ndarray) -> PreparedJob:
        """The clip's fixed style, from its first frame (a style vector, a preset mix or a
        trained style; with colour matching, matched to that frame)."""
        self._fast = self.engine.prepare(
            Job(first, self.styles, self.settings, self._job_mask(first))
        )
        return self._fast

    def _optimized_frame(self, frame: np.ndarray) -> np.ndarray:
        """The first frame optimized in full; later ones from the previous result moved, with
        the temporal term and fewer iterations."""
        mask = self._job_mask(frame)
        carried = self._carried(frame)
        if carried is None:
            return self._stylize(Job(frame, self.styles, self.settings, mask))
        warped, consistent = carried
        fill = self._fill(frame, mask)
        c = consistent[..., None]
        start = (c * warped + (1 - c) * fill).round().astype(np.uint8)
        s = dataclasses.replace(
            self.settings,
            init=InitMode.IMAGE,
            scales=1,  # from a picture at the full size: coarse scales would blur it
            iterations=max(1, round(LATER_ITERATIONS * self.settings.iterations)),
        )
        weight = self.temporal * TEMPORAL_WEIGHT
        temporal = Temporal(warped, consistent, weight)
        job = Job(frame, self.styles, s, mask, init_image=start, temporal=temporal)
        return self._stylize(job)

    def _fill(self, frame: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """What revealed areas start from: the fast networks' picture of the frame, or the
        frame itself where they cannot paint (no model files, a style too small)."""
        s = dataclasses.replace(self.settings, method=Method.FAST, init=InitMode.FAST)
        try:
            return self._stylize(Job(frame, self.styles, s, mask))
        except (FastModelError, SettingsError):
            return frame

    def _stylize(self, job: Job) -> np.ndarray:
        result = self.engine.stylize(job, Reporting(cancel=self.cancel))
        return np.asarray(result.image.convert("RGB"))


def style_loss(
    engine: Stylizer,
    frame: Image.Image | np.ndarray,
    output: Image.Image | np.ndarray,
    styles: Sequence[Any],
    settings: StyleSettings,
) -> float:
    """The optimization's style loss (unweighted, as StyleResult reports it) of `output`, a
    stylized `frame` at the settings' size, for `styles`: how far from the style a frame is,
    whichever method made it."""
    s = dataclasses.replace(settings, method=Method.GATYS, init=InitMode.CONTENT, scales=1)
    out = np.asarray(output.convert("RGB") if isinstance(output, Image.Image) else output)
    content = frame if isinstance(frame, np.ndarray) else np.asarray(frame.convert("RGB"))
    h, w = out.shape[:2]
    content = _u8(resize(_tensor(content), w, h))
    prep = engine.prepare(Job(content, styles, dataclasses.replace(s, size=max(w, h))))
    x = _tensor(out).to(engine.compute.device)
    if s.preserve_color is PreserveColor.LUMINANCE:
        x = color.luminance(x)
    with torch.no_grad():
        return engine.objective_at(prep, w, h).evaluate(x).floats()[1]
