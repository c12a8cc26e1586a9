"""The optimization: Gatys et al.'s image-pixel descent, coarse to fine, with a warm model.

A `Stylizer` loads VGG19 once and keeps it (and a cache of style targets) for every job it runs,
which is what makes a daemon's repeated edits fast. It knows nothing of sockets or files: jobs come
in as images (Pillow, or arrays of samples) and settings, progress goes out through a callback,
and a CancelToken stops it; results are float Pictures the caller stores at its own precision.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from . import color, tiling
from .cache import StyleTargetCache, Targets
from .device import Compute, Precision, free_memory, select
from .fast import FastModelError
from .images import (
    ImageError,
    ImageInput,
    Picture,
    fit_size,
    image_size,
    resize,
    tensor_digest,
    to_mask,
    to_tensor,
)
from .instant import MIN_STYLE_SIDE, PREDICTOR_SIDE, InstantStyles
from .job import SAMPLE_BITS, Cancelled, Job, Progress, Reporting, StopReason, StyleResult
from .lbfgs import DEFAULT_HISTORY, DEFAULT_HISTORY_BYTES, ProjectedLBFGS
from .losses import ContentLoss, StyleLoss, gram, tv_loss
from .schedule import (
    SCALE_SETUP_ITERATIONS,
    IterationCosts,
    Pacer,
    Scale,
    finest_in_equal_time,
    plan_scales,
)
from .settings import (
    MAX_STYLES,
    MIN_SIZE,
    STYLE_LAYER_EMPHASIS,
    InitMode,
    LimitError,
    Method,
    Optimizer,
    Pooling,
    PreserveColor,
    SettingsError,
    StyleSettings,
    check_styles_given,
)
from .trained import TrainedStyle, from_u8
from .vgg import LAYER_NAMES, VGG19Features
from .weights import load_weights

log = logging.getLogger(__name__)

# A warm-up's measured iterations (warm_up's `measure`): two timed steps (a size's first step
# also selects kernels and is not counted).
MEASURE_ITERATIONS = 3


@dataclass(frozen=True)
class LossTerms:
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def floats(self) -> tuple[float, float, float, float]:
        c, s, tv, total = (
            float(t.detach()) for t in (self.content, self.style, self.tv, self.total)
        )
        return c, s, tv, total


@dataclass
class _Prepared:
    """A job's inputs, checked and converted once, at the output size, on the CPU."""

    settings: StyleSettings
    scales: list[Scale]
    content: torch.Tensor  # RGB as delivered (colour kept for luminance mode's chroma)
    net_content: torch.Tensor  # what the network sees: grey luminance in luminance mode
    alpha: torch.Tensor | None
    mask: torch.Tensor | None
    styles: list[torch.Tensor]  # colour-preprocessed style images (presets' swatches too)
    style_keys: list[str]
    blend: list[float]
    init: torch.Tensor | None
    # What the fast networks paint with: the style images (without the presets' swatches),
    # their weights, and the presets with theirs.
    fast_styles: list[torch.Tensor]
    fast_blend: list[float]
    presets: tuple[int, ...]
    preset_blend: list[float]
    trained: list[TrainedStyle | None] = field(default_factory=list)  # beside fast_styles
    painted: torch.Tensor | None = None  # the fast networks' picture at the output size
    sample_bits: int = 8  # the caller's storage precision (Job.sample_bits)
    memory: MemoryPlan | None = None  # how the job fits the memory budget (Method.GATYS)

    @property
    def out_size(self) -> tuple[int, int]:
        return self.scales[-1].width, self.scales[-1].height


class Stylizer:
    """A warm engine. Not thread-safe per instance: run one job at a time on it."""

    def __init__(
        self,
        device: str = "auto",
        weights: str | Path | None = None,
        precision: Precision | str = Precision.AUTO,
        cache_bytes: int = 256 * 2**20,
        memory_budget: int | None = None,
    ) -> None:
        self.compute: Compute = select(device, precision)
        # The bytes a job may use beyond the warm model; None: what the device has free when
        # the job starts. A job whose activations would not fit is computed in tiles.
        self.memory_budget = memory_budget
        # Tiles of this owned side at every scale, whatever the budget (tests, benchmarks).
        self.tile_side: int | None = None
        loaded = load_weights(weights)
        self.weights_name = loaded.name
        # bfloat16 convolutions use a bfloat16 copy of the weights, made once here. Under
        # autocast, torch would cast the frozen weights again at every forward pass (it caches
        # casts only of weights that require gradients), which cost about 5% of an iteration.
        self.model = VGG19Features(loaded.tensors, loaded.convention).to(self.compute.device)
        if self.compute.bfloat16:
            # The convolutions only: the input normalization's mean and scale stay float32.
            self.model.convs.to(torch.bfloat16)
        if self.compute.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.cache = StyleTargetCache(cache_bytes)
        # What an iteration costs here, by size: time budgets are planned from it.
        self.costs = IterationCosts()
        # The feed-forward networks, loaded on first use.
        self.instant = InstantStyles(self.compute)
        log.info("VGG19 ready on %s (%s)", self.compute.describe(), self.weights_name)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return LAYER_NAMES

    def warm_up(self, size: int = 64, instant: bool = True, measure: int = 0) -> None:
        """One forward and backward pass, so the first job does not pay for kernel selection;
        with `instant`, the fast networks are loaded and run once too (a daemon's first
        preview then comes at once, not after a second of loading). With `measure` > 0, a
        few real iterations at that size, so that `estimate` has a time for this device
        before the first job (a client chooses its default quality from it)."""
        x = torch.rand(1, 3, size, size, device=self.compute.device, requires_grad=True)
        feats = self._features(x, ["relu5_1"], Pooling.MAX)
        feats["relu5_1"].float().sum().backward()
        if instant and self.instant.available:
            self.instant.paint(x.detach(), [x.detach()], [1.0])
            self.instant.paint(x.detach(), [], [], [0], [1.0])
        if measure > 0:
            noise = Image.effect_noise((measure, measure), 64).convert("RGB")
            settings = StyleSettings(
                size=measure, iterations=MEASURE_ITERATIONS, scales=1, init=InitMode.CONTENT
            )
            self.stylize(Job(noise, [noise], settings))

    # -- the job ----------------------------------------------------------------------------

    def stylize(self, job: Job, reporting: Reporting | None = None) -> StyleResult:
        """Run one job to the end (or to its time budget); raise Cancelled if it was cancelled."""
        rep = reporting or Reporting()
        start = time.perf_counter()
        prep = self._prepare(job)
        s = prep.settings
        if rep.cancel is not None and rep.cancel.cancelled:
            raise Cancelled(None)
        if s.method is Method.FAST:
            return self._stylize_fast(prep, rep, start)
        # Before any work: a job that cannot fit even in tiles is refused here.
        prep.memory = self.memory_plan(*prep.out_size, s)
        if prep.memory.tile is not None:
            log.info(
                "%dx%d: activations in tiles of %d px (memory budget %d MB)",
                *prep.out_size,
                prep.memory.tile,
                _mb(prep.memory.budget),
            )
        if s.init is InitMode.FAST:
            # Only where to start: without the networks' files, or with a style too small for
            # their predictor, the optimization starts from the content instead.
            if self._can_paint(prep):
                prep.painted = self._paint(prep, *prep.out_size)
            else:
                log.info("init fast: the fast networks cannot paint this job; from the content")
        if rep.on_progress and rep.preview_every > 0 and prep.init is None:
            # Not for a warm start: it begins from a previous result, which is further along.
            self._instant_preview(prep, rep, start)
        check = _cancel_check(rep)
        total = sum(sc.iterations for sc in prep.scales)
        pacer = Pacer(prep.scales, self.costs, rep.time_budget, start)
        done = 0
        x: torch.Tensor | None = None
        stopped = StopReason.COMPLETED
        run_scales: list[tuple[int, int, int]] = []
        objective: _Objective | None = None
        for index, scale in enumerate(prep.scales):
            w, h = scale.width, scale.height
            if not pacer.begin(index, time.perf_counter()):
                total -= scale.iterations
                continue
            try:
                objective = self._objective(prep, w, h, check)
            except Cancelled:
                raise Cancelled(self._partial(prep, x)) from None
            x = self._initial(prep, x, w, h)
            run = 0
            opt = _make_optimizer(s, x, prep.memory)
            while True:
                if rep.cancel is not None and rep.cancel.cancelled:
                    raise Cancelled(self._partial(prep, x))
                began = time.perf_counter()
                try:
                    step_terms = _step(opt, x, objective)
                except Cancelled:  # between two tiles of a tiled iteration
                    raise Cancelled(self._partial(prep, x)) from None
                now = time.perf_counter()
                if run > 0:  # the first step at a size also selects kernels
                    self.costs.observe(w * h, now - began)
                done += 1
                run += 1
                more = pacer.keep_going(index, run, float(step_terms.total), now)
                last_of_scale = not more
                if last_of_scale and index < pacer.final:
                    total -= scale.iterations - run  # a plateau or the budget ended it early
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
                            total=max(total, done),
                            scale=index,
                            scales=len(prep.scales),
                            width=w,
                            height=h,
                            content_loss=c,
                            style_loss=st,
                            tv_loss=tv,
                            loss=tot,
                            elapsed=time.perf_counter() - start,
                            remaining=self._remaining(prep.scales, index, run, rep, start),
                            preview=(
                                self._deliver(prep, x, w, h, rep.preview_size)
                                if want_preview
                                else None
                            ),
                        )
                    )
                if not more:
                    break
            run_scales.append((w, h, run))
            if index == pacer.final and run < scale.iterations:
                stopped = StopReason.TIME_BUDGET
        assert x is not None and objective is not None  # at least one scale always runs
        # Report the losses of exactly the samples the caller stores (8 or 16 bits, or float).
        with torch.no_grad():
            _round_samples(x, prep.sample_bits)
            terms = objective.evaluate(x).floats()
        out_w, out_h = prep.scales[-1].width, prep.scales[-1].height
        final = resize(x.detach().float().cpu(), out_w, out_h)
        image = self._deliver(prep, final, out_w, out_h, None, prep.sample_bits)
        return StyleResult(
            picture=image,
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

    def _remaining(
        self, scales: list[Scale], index: int, run: int, rep: Reporting, start: float
    ) -> float | None:
        """Seconds left after `run` iterations of scale `index`: the rest of this scale at
        its measured cost, then the later scales' iterations (and setup) at theirs. The pace
        so far would run low: later scales are larger, so each iteration costs more."""
        seconds = 0.0
        for i in range(index, len(scales)):
            cost = self.costs.predict(scales[i].pixels)
            if cost is None:
                return None
            if i == index:
                seconds += max(0, scales[i].iterations - run) * cost
            else:
                seconds += (scales[i].iterations + SCALE_SETUP_ITERATIONS) * cost
        if rep.time_budget is not None:  # the pacer ends the job within its budget
            seconds = min(seconds, max(0.0, rep.time_budget - (time.perf_counter() - start)))
        return seconds

    # -- memory -----------------------------------------------------------------------------

    def budget(self) -> int:
        """The bytes the next job may use: the configured budget, or what is free now."""
        if self.memory_budget is not None:
            return self.memory_budget
        return free_memory(self.compute.device)

    def memory_plan(self, width: int, height: int, s: StyleSettings) -> MemoryPlan:
        """How a job at width x height fits the budget: whole, or in tiles of which side.

        Raises LimitError, with the memory the job would need, when even the smallest tiles do
        not fit: a daemon calls this before queueing, so no work starts on such a job.
        """
        budget = self.budget()
        layer = tiling.deepest(s.content_layers + s.style_layers)
        pixels = width * height
        device = self.compute.device
        host = None if device.type == "cpu" else free_memory(torch.device("cpu"))
        history, on_host = _history_place(budget, 3 * 4 * pixels, host)
        fixed = tiling.JOB_BYTES_PER_PIXEL * pixels + (0 if on_host else history)
        whole = MemoryPlan(
            budget, fixed, history, None, tiling.GRAD_BYTES_PER_PIXEL * pixels, on_host
        )
        side = self.tile_side
        if side is None:
            if whole.fits_whole(pixels):
                return whole
            side = tiling.tile_for_budget(width, height, whole.room, layer)
        if side is None:
            smallest = _tile_activations(tiling.stride(layer), layer)
            raise LimitError(
                "size",
                f"a {width}x{height} output needs at least {_mb(fixed + smallest)} MB, even in"
                f" tiles; the memory budget is {_mb(budget)} MB",
            )
        return MemoryPlan(budget, fixed, history, side, _tile_activations(side, layer), on_host)

    def estimate(
        self, width: int, height: int, s: StyleSettings, warm_start: bool = False
    ) -> Estimate:
        """What a job on a width x height content would take on this engine, before it is sent:
        its output size, whether it runs in tiles, the memory it plans for and the seconds its
        scales would take at the iteration costs measured so far (None before any, and for
        the fast method, which is not timed per iteration).

        Raises SettingsError or LimitError as the job itself would."""
        s = s.validate(self.layer_names)
        out_w, out_h = output_size(width, height, s)
        if s.method is Method.FAST:
            return Estimate(out_w, out_h, None, False, 0)
        plan = self.memory_plan(out_w, out_h, s)
        # As _prepare plans it (assuming the fast networks can paint the styles).
        paints = s.init is InitMode.FAST and self.instant.available and not warm_start
        scales = _schedule(width, height, s, warm_start, paints)
        seconds = self.costs.estimate(scales)
        if seconds is not None and plan.tile is not None:
            for sc in scales:
                if not plan.fits_whole(sc.pixels) and not self.costs.measured(sc.pixels):
                    # Predicted from untiled iterations; tiles cost about twice as much
                    # (benchmarks/RESULTS.md: 1.65-2.1x at 1024-2048 px).
                    cost = self.costs.predict(sc.pixels) or 0.0
                    seconds += (TILED_COST - 1) * cost * (sc.iterations + SCALE_SETUP_ITERATIONS)
        return Estimate(out_w, out_h, seconds, plan.tile is not None, plan.fixed + plan.activations)

    # -- the fast networks ------------------------------------------------------------------

    def _paint(self, prep: _Prepared, w: int, h: int) -> torch.Tensor:
        """The fast networks' picture of the job at w x h, as the optimization sees pictures
        (grey in luminance mode)."""
        content = resize(prep.net_content, w, h)
        try:
            painted = self.instant.paint(
                content,
                prep.fast_styles,
                prep.fast_blend,
                prep.presets,
                prep.preset_blend,
                prep.trained,
            )
        except FastModelError:
            raise
        except ValueError as e:  # a trained style that cannot take part as asked
            raise SettingsError("styles", str(e)) from None
        if prep.settings.preserve_color is PreserveColor.LUMINANCE:
            painted = color.luminance(painted)
        return painted

    def _can_paint(self, prep: _Prepared) -> bool:
        """Whether the fast networks can paint this job: their files are there, and no style
        image is too small for their predictor (the optimization copes with those)."""
        used = (st for st, w in zip(prep.fast_styles, prep.fast_blend, strict=True) if w > 0)
        small = any(min(st.shape[-2:]) < MIN_STYLE_SIDE for st in used)
        return self.instant.available and not small

    def _instant_preview(self, prep: _Prepared, rep: Reporting, start: float) -> None:
        """Before the optimization's first iteration: the fast networks' picture as a preview
        (iteration 0, no losses yet), so a canvas shows a styled picture at once."""
        if not self._can_paint(prep):
            return
        out_w, out_h = prep.out_size
        w, h = out_w, out_h
        if rep.preview_size is not None and max(w, h) > rep.preview_size:
            w, h = fit_size(w, h, rep.preview_size)
        if prep.painted is not None:
            picture = resize(prep.painted, w, h)
        else:
            picture = self._paint(prep, w, h)
        first = prep.scales[0]
        assert rep.on_progress is not None
        rep.on_progress(
            Progress(
                iteration=0,
                total=sum(sc.iterations for sc in prep.scales),
                scale=0,
                scales=len(prep.scales),
                width=first.width,
                height=first.height,
                content_loss=math.nan,
                style_loss=math.nan,
                tv_loss=math.nan,
                loss=math.nan,
                elapsed=time.perf_counter() - start,
                preview=self._deliver(prep, picture, w, h, None),
            )
        )

    def _stylize_fast(self, prep: _Prepared, rep: Reporting, start: float) -> StyleResult:
        s = prep.settings
        out_w, out_h = prep.out_size
        painted = self._paint(prep, out_w, out_h)  # FastModelError without the model files
        image = self._deliver(prep, painted, out_w, out_h, None, prep.sample_bits)
        elapsed = time.perf_counter() - start
        if rep.on_progress:
            nan = math.nan
            preview = image if rep.preview_every > 0 else None  # only when asked for
            rep.on_progress(
                Progress(1, 1, 0, 1, out_w, out_h, nan, nan, nan, nan, elapsed, preview)
            )
        return StyleResult(
            picture=image,
            iterations=0,
            elapsed=elapsed,
            content_loss=None,
            style_loss=None,
            tv_loss=None,
            loss=None,
            device=self.compute.describe(),
            weights=", ".join(
                n
                for n in (
                    self.instant.names(presets_only=not prep.fast_styles),
                    self.instant.names_trained(prep.trained),
                )
                if n
            ),
            stopped=StopReason.COMPLETED,
            scales=((out_w, out_h, 0),),
            settings=s,
        )

    # -- preparing inputs -------------------------------------------------------------------

    def _prepare(self, job: Job) -> _Prepared:
        s = job.settings.validate(self.layer_names)
        if s.trained:
            raise SettingsError(
                "trained", "names a daemon's trained styles; give the engine the styles themselves"
            )
        check_styles_given(s, len(job.styles))
        if job.sample_bits not in SAMPLE_BITS:
            raise SettingsError("sample_bits", f"{job.sample_bits} is not one of {SAMPLE_BITS}")
        cw, ch = image_size(job.content)
        if cw < 1 or ch < 1:
            raise ImageError("content image is empty (0 pixels)")
        out_w, out_h = output_size(cw, ch, s)
        if s.method is Method.FAST and s.init not in (InitMode.CONTENT, InitMode.FAST):
            raise SettingsError("init", "the fast method paints the content; it takes no init")
        if (s.init is InitMode.IMAGE) != (job.init_image is not None):
            raise SettingsError("init", "an init image is given exactly when init is 'image'")
        rgb, alpha = to_tensor(job.content)
        content = resize(rgb, out_w, out_h)
        alpha = None if alpha is None else resize(alpha, out_w, out_h)
        mask = None
        if job.mask is not None:
            mw, mh = image_size(job.mask)
            if (mw, mh) != (cw, ch):
                raise ImageError(f"mask is {mw}x{mh} but the content is {cw}x{ch}")
            mask = resize(to_mask(job.mask), out_w, out_h)
        net_content = content
        if s.preserve_color is PreserveColor.LUMINANCE:
            net_content = color.luminance(content)
        # Larger styles than the largest scale needs are shrunk first: colour matching and
        # hashing then work on fewer pixels.
        # The fast networks' style predictor wants the shorter side at PREDICTOR_SIDE.
        style_long = max(_style_long_side(out_w, out_h, s.style_scale), 2 * PREDICTOR_SIDE)
        # A trained style stands for its style image (the optimization's targets) and paints
        # with its own network or norms where the fast networks paint.
        trained = [st if isinstance(st, TrainedStyle) else None for st in job.styles]
        images = [
            from_u8(st.style_image) if isinstance(st, TrainedStyle) else to_tensor(st)[0]
            for st in self._check_styles(job.styles)
        ]
        if s.method is Method.FAST:
            for i, st in enumerate(images):
                h, w = st.shape[-2:]
                if min(w, h) < MIN_STYLE_SIDE:
                    raise SettingsError(
                        "styles",
                        f"style image {i + 1} is {w}x{h}; the fast networks need at least"
                        f" {MIN_STYLE_SIDE} px on its shorter side",
                    )
        fast_blend = list(s.style_blend) if s.style_blend else [1.0] * len(images)
        preset_blend = list(s.preset_blend) if s.preset_blend else [1.0] * len(s.presets)
        if fast_blend and preset_blend and sum(fast_blend) + sum(preset_blend) <= 0:
            raise SettingsError("preset_blend", "the style and preset weights are all zero")
        blend = fast_blend
        if s.method is Method.GATYS and s.presets:
            # For the optimization a preset is its swatch: the example picture in that style.
            images += [self._swatch(k) for k in s.presets]
            blend = fast_blend + preset_blend
        styles, keys = [], []
        for st in images:
            if max(st.shape[-2:]) > style_long:
                st = resize(st, *_style_size(st.shape[-1], st.shape[-2], style_long))
            if s.preserve_color is PreserveColor.LUMINANCE:
                st = color.match_luminance(st, content)
            elif s.preserve_color is PreserveColor.MATCH:
                st = color.match_colors(st, content)
            styles.append(st)
            keys.append(tensor_digest(st))
        blend = [b / sum(blend) for b in blend]
        init = None
        if job.init_image is not None:
            given = job.init_image
            init = given.rgb if isinstance(given, Picture) else to_tensor(given)[0]
            if s.preserve_color is PreserveColor.LUMINANCE:
                init = color.luminance(init)
        n_images = len(job.styles)
        prep = _Prepared(
            s,
            [],  # (below: the schedule depends on whether the networks can paint the styles)
            content,
            net_content,
            alpha,
            mask,
            styles,
            keys,
            blend,
            init,
            fast_styles=styles[:n_images],
            fast_blend=fast_blend,
            presets=s.presets,
            preset_blend=preset_blend,
            trained=trained,
            sample_bits=job.sample_bits,
        )
        # Decided with the same test as where the picture is painted: a job the networks cannot
        # paint starts from the content and keeps the content's schedule.
        paints = s.init is InitMode.FAST and self._can_paint(prep)
        prep.scales = _schedule(cw, ch, s, init is not None, paints)
        return prep

    def _check_styles(
        self, styles: Sequence[ImageInput | TrainedStyle]
    ) -> Sequence[ImageInput | TrainedStyle]:
        if len(styles) > MAX_STYLES:
            raise SettingsError("styles", f"at most {MAX_STYLES} style images")
        for i, image in enumerate(styles):
            if not isinstance(image, TrainedStyle) and min(image_size(image)) < 1:
                raise ImageError(f"style image {i + 1} is empty (0 pixels)")
        return styles

    def _swatch(self, preset: int) -> torch.Tensor:
        try:
            return self.instant.swatch(preset, 2 * PREDICTOR_SIDE)
        except FastModelError as e:
            raise SettingsError("presets", str(e)) from None

    def _initial(self, prep: _Prepared, previous: torch.Tensor | None, w: int, h: int):
        dev = self.compute.device
        if previous is not None:
            x = resize(previous.detach().cpu(), w, h)
        elif prep.settings.init is InitMode.NOISE:
            gen = torch.Generator().manual_seed(prep.settings.seed)
            x = torch.rand(1, 3, h, w, generator=gen)
        elif prep.init is not None:
            x = resize(prep.init, w, h)
        elif prep.painted is not None:
            x = resize(prep.painted, w, h)
        else:
            x = resize(prep.net_content, w, h)
        # The optimized image stays NCHW-contiguous (L-BFGS flattens it with view(-1));
        # _features hands the network a channels-last copy where that is faster.
        # copy=True: `resize` returns its input when the size already fits, so without a copy
        # the optimizer would write into prep.net_content (or prep.init), and the mask would
        # blend the iterate with itself instead of with the content.
        return x.to(dev, copy=True).contiguous().requires_grad_(True)

    # -- targets and the objective ----------------------------------------------------------

    def features(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """VGG19's activations of `layers` for RGB 0..1 images (N, 3, H, W) on the device, with
        the default pooling: what the perceptual loss of a training (training.py) sees."""
        return self._features(image, layers, Pooling.MAX)

    def _features(self, image: torch.Tensor, layers, pooling: Pooling) -> dict[str, torch.Tensor]:
        """VGG19's activations in the model's dtype (bfloat16 or float32); the losses upcast."""
        if self.compute.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image, layers, pooling)

    def _style_targets(
        self, prep: _Prepared, index: int, w: int, h: int, check: Callable[[], None]
    ) -> Targets:
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
            tiles = self._tiles(prep, sw, sh, tiling.FORWARD_BYTES_PER_PIXEL)
            if tiles is not None:
                targets = self._tiled(s, tiles, check).grams(image, s.style_layers)
            else:
                with torch.no_grad():
                    feats = self._features(image, s.style_layers, s.pooling)
                    targets = {name: gram(feats[name]) for name in s.style_layers}
            self.cache.put(key, targets)
        return targets

    def _tiles(
        self, prep: _Prepared, w: int, h: int, per_pixel: int = tiling.GRAD_BYTES_PER_PIXEL
    ) -> list[tiling.Tile] | None:
        """The tiles for a w x h pass costing `per_pixel` bytes, or None when it fits whole."""
        plan = prep.memory
        if plan is None or plan.tile is None:
            return None
        if self.tile_side is None and plan.fits_whole(w * h, per_pixel):
            return None  # a coarse scale of a tiled job may fit whole
        s = prep.settings
        return tiling.layout(w, h, plan.tile, tiling.deepest(s.content_layers + s.style_layers))

    def _tiled(
        self, s: StyleSettings, tiles: list[tiling.Tile], check: Callable[[], None]
    ) -> tiling.TiledFeatures:
        layers = list(dict.fromkeys(s.content_layers + s.style_layers))
        return tiling.TiledFeatures(
            lambda image: self._features(image, layers, s.pooling), tiles, check
        )

    def _objective(
        self, prep: _Prepared, w: int, h: int, check: Callable[[], None] = lambda: None
    ) -> _Objective:
        s = prep.settings
        dev = self.compute.device
        content = resize(prep.net_content, w, h).to(dev)
        mask = None if prep.mask is None else resize(prep.mask, w, h).to(dev)
        tiles = self._tiles(prep, w, h)
        if tiles is not None:
            feats = self._tiled(s, tiles, check).maps(content, s.content_layers)
        else:
            with torch.no_grad():
                feats = self._features(content, s.content_layers, s.pooling)
        cw, sw = layer_weights(s)
        content_losses = [
            (name, wt, ContentLoss(feats[name]))
            for name, wt in zip(s.content_layers, cw, strict=True)
        ]
        blended: dict[str, torch.Tensor] = {}
        for i, b in enumerate(prep.blend):
            if b == 0:
                continue
            for name, g in self._style_targets(prep, i, w, h, check).items():
                blended[name] = blended[name] + b * g if name in blended else b * g
        style_losses = [
            (name, wt, StyleLoss(blended[name]))
            for name, wt in zip(s.style_layers, sw, strict=True)
        ]
        tiled = None
        if tiles is not None:
            tiled = tiling.TiledLoss(
                self._tiled(s, tiles, check), content_losses, style_losses, mask
            )
        return _Objective(self, s, content_losses, style_losses, content, mask, tiled)

    def _partial(self, prep: _Prepared, x: torch.Tensor | None) -> Picture | None:
        """The current iterate as a delivered image at the output size (a cancelled job's)."""
        if x is None:
            return None
        out_w, out_h = prep.scales[-1].width, prep.scales[-1].height
        return self._deliver(
            prep, resize(x.detach().float().cpu(), out_w, out_h), out_w, out_h, None
        )

    def _deliver(
        self, prep: _Prepared, x: torch.Tensor, w: int, h: int, size: int | None, bits: int = 0
    ) -> Picture:
        """The picture a user sees of iterate `x`: masked, colours restored, alpha attached,
        rounded to `bits` per sample (0: not rounded)."""
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
            return Picture.of(_round_samples(out, bits), alpha)


class _Objective:
    """alpha * content + beta * style + tv, for one scale."""

    def __init__(
        self, engine, settings, content_losses, style_losses, content, mask, tiled=None
    ) -> None:
        self.engine = engine
        # Set when this scale's activations do not fit the memory budget whole.
        self.tiled: tiling.TiledLoss | None = tiled
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
        # Reported unweighted like the other terms, also when it is not optimized (detached:
        # then it costs no backward pass).
        tv = tv_loss(image if s.tv_weight > 0 else image.detach())
        if self.tiled is not None:
            weighted, content, style = tiling.weighted_terms(
                self.tiled, image, s.content_weight, s.style_weight
            )
            return LossTerms(content, style, tv, weighted + s.tv_weight * tv)
        feats = self.engine._features(image, self.layers, s.pooling)
        zero = image.new_zeros(())
        content = sum((wt * loss(feats[n]) for n, wt, loss in self.content_losses), zero)
        style = sum((wt * loss(feats[n], self.mask) for n, wt, loss in self.style_losses), zero)
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        return LossTerms(content, style, tv, total)


def _round_samples(t: torch.Tensor, bits: int) -> torch.Tensor:
    """`t` (0..1) rounded in place to the levels of `bits`-bit samples; 0 leaves it as it is."""
    if bits:
        levels = float(2**bits - 1)
        t.clamp_(0, 1).mul_(levels).round_().div_(levels)
    return t


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


def layer_weights(s: StyleSettings) -> tuple[list[float], list[float]]:
    """The content layers' and the style layers' weights, each summing to 1 (the style
    layers' default emphasises relu4_1): the same perceptual loss for optimization and
    training."""
    content = _normalized(s.content_layer_weights, len(s.content_layers))
    style = _normalized(
        s.style_layer_weights or tuple(STYLE_LAYER_EMPHASIS.get(n, 1.0) for n in s.style_layers),
        len(s.style_layers),
    )
    return content, style


def _normalized(weights: tuple[float, ...], n: int) -> list[float]:
    w = list(weights) if weights else [1.0] * n
    total = sum(w)
    return [v / total for v in w] if total > 0 else w


# A fast start (init "fast") runs only the finest scale of the automatic schedule, in the time
# the whole schedule would take: optimizing the painted picture at a coarser size and scaling it
# up blurs away what the network painted (benchmarks/RESULTS.md, "Instant styles").
FAST_START_SCALES = 1


def _schedule(
    width: int, height: int, s: StyleSettings, warm_start: bool, paints: bool
) -> list[Scale]:
    """The scales a job on a width x height content runs, unless the caller asked for them:
    a warm start begins where the previous result ended, at full size; a fast start (`paints`)
    is stylized already, so it skips the coarse scales and spends their time at the finest."""
    n_scales = 1 if warm_start and s.scales == 0 else s.scales
    scales = plan_scales(width, height, s.size, s.iterations, n_scales)
    if paints and s.scales == 0:
        return finest_in_equal_time(scales, FAST_START_SCALES)
    return scales


def _make_optimizer(
    s: StyleSettings, x: torch.Tensor, plan: MemoryPlan | None = None
) -> torch.optim.Optimizer | ProjectedLBFGS:
    if s.optimizer is Optimizer.ADAM:
        return torch.optim.Adam([x], lr=s.learning_rate)
    # One L-BFGS iteration (one evaluation) per step() keeps progress, previews and cancellation
    # per iteration; the history persists across calls. lbfgs.py says why not torch's.
    # A fresh history at each scale: carrying the inverse curvature over from the coarser scale
    # made no measurable difference on the tuning set (benchmarks/RESULTS.md).
    if plan is None:
        return ProjectedLBFGS(x)
    return ProjectedLBFGS(
        x, history_bytes=plan.history, store="cpu" if plan.history_on_host else None
    )


# A tiled iteration's cost over an untiled one at the same size (measured 1.65-2.1x).
TILED_COST = 2.0


@dataclass(frozen=True)
class Estimate:
    """Stylizer.estimate's answer."""

    width: int  # the output size
    height: int
    seconds: float | None  # None: nothing measured yet on this engine (or the fast method)
    tiled: bool  # the output's activations do not fit the memory budget whole
    memory: int  # bytes the job plans to use besides the model (0 for the fast method)


@dataclass(frozen=True)
class MemoryPlan:
    """A job's share of the memory budget (bytes), and the tiles it runs in if any."""

    budget: int
    fixed: int  # images at the output size and the optimizer's history (on the device)
    history: int  # the optimizer's curvature history, at most
    tile: int | None  # the owned side of a tile at the output size; None: untiled
    activations: int  # what the network's passes keep at most: the whole image's, or a tile's
    history_on_host: bool = False  # the history lives in the host's memory, not the device's

    @property
    def room(self) -> int:
        """What is left for the network's activations."""
        return self.budget - self.fixed

    def fits_whole(self, pixels: int, per_pixel: int = tiling.GRAD_BYTES_PER_PIXEL) -> bool:
        """Whether a pass over `pixels` at `per_pixel` bytes fits untiled."""
        return per_pixel * pixels <= self.room


def _tile_activations(side: int, layer: str) -> int:
    """Bytes of a forward and backward pass over a tile owning side x side, with its halos."""
    return tiling.GRAD_BYTES_PER_PIXEL * (side + 2 * tiling.halo(layer)) ** 2


def _history_place(budget: int, vector_bytes: int, host_free: int | None) -> tuple[int, bool]:
    """The bytes of L-BFGS's history, and whether it lives on the host.

    On the device it gets an eighth of a small budget, and at most its usual cap. A device
    (not the CPU: `host_free` None) too short for that cap's pairs at this size keeps the
    history in the host's memory instead, up to a quarter of what the host has free: fewer
    pairs would cost quality, host pairs cost a copy in per step (lbfgs.py).
    """
    on_device = max(0, min(DEFAULT_HISTORY_BYTES, budget // 8))
    wanted = min(DEFAULT_HISTORY_BYTES, 2 * DEFAULT_HISTORY * vector_bytes)
    if host_free is None or on_device >= wanted:
        return on_device, False
    on_host = min(wanted, host_free // 4)
    return (on_host, True) if on_host > on_device else (on_device, False)


def _mb(n: int) -> int:
    return math.ceil(n / 2**20)


def _cancel_check(rep: Reporting) -> Callable[[], None]:
    """Raises Cancelled (without a picture) once the job is cancelled: called between tiles."""
    token = rep.cancel

    def check() -> None:
        if token is not None and token.cancelled:
            raise Cancelled(None)

    return check


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
