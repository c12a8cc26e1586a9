"""The optimization: Gatys et al.'s image-pixel descent, coarse to fine, with a warm model.

A `Stylizer` loads VGG19 once and keeps it (and a cache of style targets) for every job it runs,
which is what makes a daemon's repeated edits fast. It knows nothing of sockets or files: jobs come
in as Pillow images and settings, progress goes out through a callback, and a CancelToken stops it.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from . import color
from .cache import StyleTargetCache, Targets
from .device import Compute, Precision, select
from .images import ImageError, fit_size, resize, tensor_digest, to_image, to_mask, to_tensor
from .job import Cancelled, Job, Progress, Reporting, StopReason, StyleResult
from .lbfgs import ProjectedLBFGS
from .losses import ContentLoss, StyleLoss, gram, tv_loss
from .schedule import plan_scales
from .settings import (
    MAX_STYLES,
    MIN_SIZE,
    InitMode,
    LimitError,
    Optimizer,
    Pooling,
    PreserveColor,
    SettingsError,
    StyleSettings,
)
from .vgg import LAYER_NAMES, VGG19Features
from .weights import load_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossTerms:
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def floats(self) -> tuple[float, float, float, float]:
        return (float(self.content), float(self.style), float(self.tv), float(self.total))


@dataclass
class _Prepared:
    """A job's inputs, checked and converted once, at the output size, on the CPU."""

    settings: StyleSettings
    scales: list[tuple[int, int, int]]
    content: torch.Tensor  # RGB as delivered (colour kept for luminance mode's chroma)
    net_content: torch.Tensor  # what the network sees: grey luminance in luminance mode
    alpha: torch.Tensor | None
    mask: torch.Tensor | None
    styles: list[torch.Tensor]  # colour-preprocessed style images
    style_keys: list[str]
    blend: list[float]
    init: torch.Tensor | None


class Stylizer:
    """A warm engine. Not thread-safe per instance: run one job at a time on it."""

    def __init__(
        self,
        device: str = "auto",
        weights: str | Path | None = None,
        precision: Precision | str = Precision.AUTO,
        cache_bytes: int = 256 * 2**20,
    ) -> None:
        self.compute: Compute = select(device, precision)
        loaded = load_weights(weights)
        self.weights_name = loaded.name
        self.model = VGG19Features(loaded.tensors, loaded.convention).to(self.compute.device)
        if self.compute.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.cache = StyleTargetCache(cache_bytes)
        log.info("VGG19 ready on %s (%s)", self.compute.describe(), self.weights_name)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return LAYER_NAMES

    def warm_up(self, size: int = 64) -> None:
        """One forward and backward pass, so the first job does not pay for kernel selection."""
        x = torch.rand(1, 3, size, size, device=self.compute.device, requires_grad=True)
        with self._autocast():
            feats = self.model(x, ["relu5_1"])
        feats["relu5_1"].float().sum().backward()

    # -- the job ----------------------------------------------------------------------------

    def stylize(self, job: Job, reporting: Reporting | None = None) -> StyleResult:
        """Run one job to the end (or to its time budget); raise Cancelled if it was cancelled."""
        rep = reporting or Reporting()
        start = time.perf_counter()
        prep = self._prepare(job)
        s = prep.settings
        total = sum(n for _, _, n in prep.scales)
        done = 0
        x: torch.Tensor | None = None
        stopped = StopReason.COMPLETED
        run_scales: list[tuple[int, int, int]] = []
        objective: _Objective | None = None
        for index, (w, h, iters) in enumerate(prep.scales):
            objective = self._objective(prep, w, h)
            x = self._initial(prep, x, w, h)
            run = 0
            opt = _make_optimizer(s, x)
            for _ in range(iters):
                if rep.cancel is not None and rep.cancel.cancelled:
                    raise Cancelled(self._partial(prep, x))
                if rep.time_budget is not None and time.perf_counter() - start >= rep.time_budget:
                    stopped = StopReason.TIME_BUDGET
                    break
                step_terms = _step(opt, x, objective)
                done += 1
                run += 1
                last_of_scale = run == iters
                want_preview = rep.preview_every > 0 and (
                    done % rep.preview_every == 0 or last_of_scale
                )
                if rep.on_progress and (
                    done % max(1, rep.every) == 0 or last_of_scale or want_preview
                ):
                    c, st, tv, tot = step_terms.floats()
                    rep.on_progress(
                        Progress(
                            iteration=done,
                            total=total,
                            scale=index,
                            scales=len(prep.scales),
                            width=w,
                            height=h,
                            content_loss=c,
                            style_loss=st,
                            tv_loss=tv,
                            loss=tot,
                            elapsed=time.perf_counter() - start,
                            preview=(
                                self._deliver(prep, x, w, h, rep.preview_size)
                                if want_preview
                                else None
                            ),
                        )
                    )
            run_scales.append((w, h, run))
            if stopped is not StopReason.COMPLETED:
                break
        assert x is not None and objective is not None  # at least one scale always runs
        # The delivered pixels are 8-bit: report the losses of exactly what is delivered.
        with torch.no_grad():
            x.mul_(255).round_().div_(255)
            terms = objective.evaluate(x).floats()
        out_w, out_h, _ = prep.scales[-1]
        # Stopped early at a coarse scale: the output size is delivered all the same.
        final = resize(x.detach().float().cpu(), out_w, out_h)
        image = self._deliver(prep, final, out_w, out_h, None)
        return StyleResult(
            image=image,
            iterations=done,
            elapsed=time.perf_counter() - start,
            content_loss=terms[0],
            style_loss=terms[1],
            tv_loss=terms[2],
            loss=terms[3],
            device=self.compute.describe(),
            weights=self.weights_name,
            stopped=stopped,
            scales=tuple(run_scales),
            settings=s,
        )

    # -- preparing inputs -------------------------------------------------------------------

    def _prepare(self, job: Job) -> _Prepared:
        s = job.settings.validate(self.layer_names)
        if not job.styles:
            raise SettingsError("styles", "at least one style image is needed")
        if len(job.styles) > MAX_STYLES:
            raise SettingsError("styles", f"at most {MAX_STYLES} style images")
        if s.style_blend and len(s.style_blend) != len(job.styles):
            raise SettingsError(
                "style_blend", f"{len(s.style_blend)} weights given for {len(job.styles)} styles"
            )
        cw, ch = job.content.size
        if cw < 1 or ch < 1:
            raise ImageError("content image is empty (0 pixels)")
        out_w, out_h = output_size(cw, ch, s)
        if (s.init is InitMode.IMAGE) != (job.init_image is not None):
            raise SettingsError("init", "an init image is given exactly when init is 'image'")
        rgb, alpha = to_tensor(job.content)
        content = resize(rgb, out_w, out_h)
        alpha = None if alpha is None else resize(alpha, out_w, out_h)
        mask = None
        if job.mask is not None:
            if job.mask.size != job.content.size:
                raise ImageError(
                    f"mask is {job.mask.width}x{job.mask.height} but the content is {cw}x{ch}"
                )
            mask = resize(to_mask(job.mask), out_w, out_h)
        net_content = content
        if s.preserve_color is PreserveColor.LUMINANCE:
            net_content = color.luminance(content)
        # Larger styles than the largest scale needs are shrunk first: colour matching and
        # hashing then work on fewer pixels.
        style_long = _style_long_side(out_w, out_h, s.style_scale)
        styles, keys = [], []
        for i, image in enumerate(job.styles):
            if image.width < 1 or image.height < 1:
                raise ImageError(f"style image {i + 1} is empty (0 pixels)")
            st = to_tensor(image)[0]
            if max(st.shape[-2:]) > style_long:
                st = resize(st, *_style_size(st.shape[-1], st.shape[-2], style_long))
            if s.preserve_color is PreserveColor.LUMINANCE:
                st = color.match_luminance(st, content)
            elif s.preserve_color is PreserveColor.MATCH:
                st = color.match_colors(st, content)
            styles.append(st)
            keys.append(tensor_digest(st))
        blend = list(s.style_blend) if s.style_blend else [1.0] * len(styles)
        blend = [b / sum(blend) for b in blend]
        init = None
        if job.init_image is not None:
            init = to_tensor(job.init_image)[0]
            if s.preserve_color is PreserveColor.LUMINANCE:
                init = color.luminance(init)
        # A warm start begins where the previous result ended: at full size, unless the
        # caller asked for scales explicitly.
        n_scales = 1 if (init is not None and s.scales == 0) else s.scales
        scales = plan_scales(cw, ch, s.size, s.iterations, n_scales)
        return _Prepared(s, scales, content, net_content, alpha, mask, styles, keys, blend, init)

    def _initial(self, prep: _Prepared, previous: torch.Tensor | None, w: int, h: int):
        dev = self.compute.device
        if previous is not None:
            x = resize(previous.detach().cpu(), w, h)
        elif prep.settings.init is InitMode.NOISE:
            gen = torch.Generator().manual_seed(prep.settings.seed)
            x = torch.rand(1, 3, h, w, generator=gen)
        elif prep.init is not None:
            x = resize(prep.init, w, h)
        else:
            x = resize(prep.net_content, w, h)
        # The optimized image stays NCHW-contiguous (L-BFGS flattens it with view(-1));
        # _features hands the network a channels-last copy where that is faster.
        # copy=True: `resize` returns its input when the size already fits, so without a copy
        # the optimizer would write into prep.net_content (or prep.init), and the mask would
        # blend the iterate with itself instead of with the content.
        return x.to(dev, copy=True).contiguous().requires_grad_(True)

    # -- targets and the objective ----------------------------------------------------------

    def _autocast(self):
        c = self.compute
        if not c.bfloat16:
            return nullcontext()
        return torch.autocast(device_type=c.autocast_type, dtype=torch.bfloat16)

    def _features(self, image: torch.Tensor, layers, pooling: Pooling) -> dict[str, torch.Tensor]:
        if self.compute.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.model(image, layers, pooling)

    def _style_targets(self, prep: _Prepared, index: int, w: int, h: int) -> Targets:
        s = prep.settings
        style = prep.styles[index]
        long_side = _style_long_side(w, h, s.style_scale)
        sw, sh = _style_size(style.shape[-1], style.shape[-2], long_side)
        key = "|".join(
            [
                prep.style_keys[index],
                f"{sw}x{sh}",
                s.pooling.value,
                self.weights_name,
                ",".join(s.style_layers),
                str(self.compute.bfloat16),
            ]
        )
        targets = self.cache.get(key)
        if targets is None:
            image = resize(style, sw, sh).to(self.compute.device)
            with torch.no_grad():
                feats = self._features(image, s.style_layers, s.pooling)
                targets = {name: gram(feats[name]) for name in s.style_layers}
            self.cache.put(key, targets)
        return targets

    def _objective(self, prep: _Prepared, w: int, h: int) -> _Objective:
        s = prep.settings
        dev = self.compute.device
        content = resize(prep.net_content, w, h).to(dev)
        mask = None if prep.mask is None else resize(prep.mask, w, h).to(dev)
        with torch.no_grad():
            feats = self._features(content, s.content_layers, s.pooling)
        cw = _normalized(s.content_layer_weights, len(s.content_layers))
        content_losses = [
            (name, wt, ContentLoss(feats[name]))
            for name, wt in zip(s.content_layers, cw, strict=True)
        ]
        blended: dict[str, torch.Tensor] = {}
        for i, b in enumerate(prep.blend):
            if b == 0:
                continue
            for name, g in self._style_targets(prep, i, w, h).items():
                blended[name] = blended[name] + b * g if name in blended else b * g
        sw = _normalized(s.style_layer_weights, len(s.style_layers))
        style_losses = [
            (name, wt, StyleLoss(blended[name]))
            for name, wt in zip(s.style_layers, sw, strict=True)
        ]
        return _Objective(self, s, content_losses, style_losses, content, mask)

    def _partial(self, prep: _Prepared, x: torch.Tensor | None) -> Image.Image | None:
        """The current iterate as a delivered image at the output size (a cancelled job's)."""
        if x is None:
            return None
        out_w, out_h, _ = prep.scales[-1]
        return self._deliver(
            prep, resize(x.detach().float().cpu(), out_w, out_h), out_w, out_h, None
        )

    def _deliver(self, prep: _Prepared, x: torch.Tensor, w: int, h: int, size: int | None):
        """The 8-bit image a user sees of iterate `x`: masked, colours restored, alpha attached."""
        with torch.no_grad():
            out = x.detach().float().cpu().clamp(0, 1)
            if prep.mask is not None:
                m = resize(prep.mask, w, h)
                out = m * out + (1 - m) * resize(prep.net_content, w, h)
            if prep.settings.preserve_color is PreserveColor.LUMINANCE:
                out = color.combine_luminance(out, resize(prep.content, w, h))
            alpha = None if prep.alpha is None else resize(prep.alpha, w, h)
            if size is not None and max(w, h) > size:
                pw, ph = fit_size(w, h, size)
                out = resize(out, pw, ph)
                alpha = None if alpha is None else resize(alpha, pw, ph)
            return to_image(out, alpha)


class _Objective:
    """alpha * content + beta * style + tv, for one scale."""

    def __init__(self, engine, settings, content_losses, style_losses, content, mask) -> None:
        self.engine = engine
        self.settings = settings
        self.content_losses = content_losses
        self.style_losses = style_losses
        self.content = content
        self.mask = mask
        seen = dict.fromkeys(settings.content_layers + settings.style_layers)
        self.layers = list(seen)

    def evaluate(self, x: torch.Tensor) -> LossTerms:
        s = self.settings
        image = x if self.mask is None else self.mask * x + (1 - self.mask) * self.content
        feats = self.engine._features(image, self.layers, s.pooling)
        zero = image.new_zeros(())
        content = sum((wt * loss(feats[n]) for n, wt, loss in self.content_losses), zero)
        style = sum((wt * loss(feats[n], self.mask) for n, wt, loss in self.style_losses), zero)
        # Reported unweighted like the other terms, also when it is not optimized (detached:
        # then it costs no backward pass).
        tv = tv_loss(image if s.tv_weight > 0 else image.detach())
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        return LossTerms(content, style, tv, total)


def output_size(width: int, height: int, s: StyleSettings) -> tuple[int, int]:
    """The output size for a content of width x height, checked against the pixel limit
    (LimitError) and the smallest size VGG19 can take (SettingsError). A daemon calls this
    before queueing a job, so its refusal is the engine's own."""
    w, h = fit_size(width, height, s.size)
    if w * h > s.max_pixels:
        raise LimitError("size", f"{w}x{h} exceeds the limit of {s.max_pixels} pixels")
    if min(w, h) < MIN_SIZE:
        raise SettingsError(
            "size", f"output would be {w}x{h}; its shorter side must be >= {MIN_SIZE} px"
        )
    return w, h


def _style_long_side(width: int, height: int, style_scale: float) -> int:
    """The style image's longer side for an output (or scale) of width x height."""
    return max(MIN_SIZE, round(max(width, height) * style_scale))


def _style_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """`fit_size`, but with both sides at least MIN_SIZE: VGG19's pooling halves a side four
    times before relu5_1, so a thinner style (a banner, a small style_scale, a coarse scale)
    would reach a zero-sized layer and crash."""
    w, h = fit_size(width, height, long_side)
    if min(w, h) < MIN_SIZE:
        k = MIN_SIZE / min(width, height)
        w, h = max(MIN_SIZE, round(width * k)), max(MIN_SIZE, round(height * k))
    return w, h


def _normalized(weights: tuple[float, ...], n: int) -> list[float]:
    w = list(weights) if weights else [1.0] * n
    total = sum(w)
    return [v / total for v in w] if total > 0 else w


def _make_optimizer(s: StyleSettings, x: torch.Tensor) -> torch.optim.Optimizer | ProjectedLBFGS:
    if s.optimizer is Optimizer.ADAM:
        return torch.optim.Adam([x], lr=s.learning_rate)
    # One L-BFGS iteration (one evaluation) per step() keeps progress, previews and cancellation
    # per iteration; the history persists across calls. lbfgs.py says why not torch's.
    return ProjectedLBFGS(x)


def _step(
    opt: torch.optim.Optimizer | ProjectedLBFGS, x: torch.Tensor, objective: _Objective
) -> LossTerms:
    holder: list[LossTerms] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = objective.evaluate(x)
        terms.total.backward()
        holder.append(terms)
        return terms.total

    opt.step(closure)  # type: ignore[arg-type]  # the stubs want float; torch takes a Tensor
    with torch.no_grad():
        # Projection onto the valid range: the delivered 8-bit image is then the optimized one.
        x.clamp_(0, 1)
    terms = holder[-1]
    return LossTerms(*(t.detach() for t in (terms.content, terms.style, terms.tv, terms.total)))
