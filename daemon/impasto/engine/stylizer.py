"""The optimization: Gatys et al.'s image-pixel descent, coarse to fine, with a warm model.

A `Stylizer` loads VGG19 once and keeps it (and a cache of style targets) for every job it runs,
which is what makes a daemon's repeated edits fast. It knows nothing of sockets or files: jobs come
in as images (Pillow, or arrays of samples) and settings, progress goes out through a callback,
and a CancelToken stops it; results are float Pictures the caller stores at its own precision.

This module is the loop: scale by scale, step by step, with pacing, cancellation, progress and
the time left. Its parts live beside it: prepare.py checks and converts a job, memory.py fits it
into the memory budget, objective.py weighs an iterate, deliver.py makes pictures of it, and
painting.py runs the fast networks' part.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from . import objective as objectives
from .cache import StyleTargetCache
from .deliver import at_output, deliver, initial, partial, round_samples
from .device import Compute, Precision, free_memory, select
from .fast.styles import InstantStyles
from .job import Cancelled, Job, Progress, Reporting, StopReason, StyleResult
from .memory import Estimate, MemoryPlan, estimate_seconds, mb, plan_memory
from .objective import LossTerms, Objective, make_optimizer, step
from .painting import first_preview, paint, paint_job
from .prepare import PreparedJob, can_paint, output_size, prepare, schedule
from .schedule import SCALE_RATIO, IterationCosts, Pacer
from .settings import InitMode, LimitError, Method, Pooling, StyleSettings
from .vgg import LAYER_NAMES, VGG19Features
from .weights import load_weights

log = logging.getLogger(__name__)

# A warm-up's measured iterations (warm_up's `measure`): two timed steps (a size's first step
# also selects kernels and is not counted); one at SCALE_RATIO times that side.
MEASURE_ITERATIONS = 3
# A progress report at least this often (seconds) while iterations are slower than the
# reporting's cadence in iterations: a client's time left moves every few seconds, not once
# a minute (ten iterations of a large job on a CPU).
PROGRESS_SECONDS = 2.0


@dataclass
class _Course:
    """A job's optimization so far, across its scales."""

    total: int  # the iterations the job will run, as far as is known now
    done: int = 0
    x: torch.Tensor | None = None  # the iterate
    objective: Objective | None = None  # the current scale's
    scales: list[tuple[int, int, int]] = field(default_factory=list)  # (w, h, iterations run)
    stopped: StopReason = StopReason.COMPLETED
    reported: float = 0.0  # time.perf_counter() of the last progress report


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
        feats = self.features(x, ["relu5_1"], Pooling.MAX)
        feats["relu5_1"].float().sum().backward()
        if instant and self.instant.available:
            self.instant.paint(x.detach(), [x.detach()], [1.0])
            self.instant.paint(x.detach(), [], [], [0], [1.0])
        if measure > 0:
            # Two sizes, so that a larger job's cost is extrapolated from a slope, not from
            # one small size's cost per pixel (schedule.IterationCosts). The larger (twice the
            # pixels: a daemon's start is waited for) only where it runs whole: a tiled
            # iteration's cost is not that of its pixels.
            larger = round(measure * SCALE_RATIO)
            for side, iterations in ((measure, MEASURE_ITERATIONS), (larger, 2)):
                settings = StyleSettings(
                    size=side, iterations=iterations, scales=1, init=InitMode.CONTENT
                )
                if side > measure and not self._runs_whole(side, settings):
                    break
                noise = Image.effect_noise((side, side), 64).convert("RGB")
                self.stylize(Job(noise, [noise], settings))

    def _runs_whole(self, side: int, s: StyleSettings) -> bool:
        """Whether a side x side job fits the memory budget without tiles."""
        try:
            return self.memory_plan(side, side, s).tile is None
        except LimitError:
            return False

    # -- the job ----------------------------------------------------------------------------

    def stylize(self, job: Job, reporting: Reporting | None = None) -> StyleResult:
        """Run one job to the end (or to its time budget); raise Cancelled if it was cancelled."""
        rep = reporting or Reporting()
        start = time.perf_counter()

        def elapsed() -> float:
            return time.perf_counter() - start

        prep = self.prepare(job)
        if rep.cancel is not None and rep.cancel.cancelled:
            raise Cancelled(None)
        if prep.settings.method is Method.FAST:
            return paint_job(self.instant, prep, rep, elapsed, self.compute.describe())
        self._plan(prep)
        if rep.on_progress and rep.preview_every > 0 and prep.init is None:
            # Not for a warm start: it begins from a previous result, which is further along.
            # With the whole plan's estimate as the time left: a client shows one at once.
            first_preview(self.instant, prep, rep, elapsed, self._planned(prep, rep))
        course = self._optimize(prep, rep, start)
        return self._finish(prep, course, start)

    def prepare(self, job: Job) -> PreparedJob:
        """`job` checked and converted once, its scales planned (prepare.py)."""
        return prepare(job, self.layer_names, self.instant)

    def _plan(self, prep: PreparedJob) -> None:
        """Before any work: the job's memory plan (a job that cannot fit even in tiles is
        refused here), and the fast networks' picture where the job starts from it."""
        s = prep.settings
        prep.memory = self.memory_plan(*prep.out_size, s)
        if prep.memory.tile is not None:
            log.info(
                "%dx%d: activations in tiles of %d px (memory budget %d MB)",
                *prep.out_size,
                prep.memory.tile,
                mb(prep.memory.budget),
            )
        if s.init is InitMode.FAST:
            # Only where to start: without the networks' files, or with a style too small for
            # their predictor, the optimization starts from the content instead.
            if can_paint(self.instant, prep.fast_styles, prep.fast_blend):
                prep.painted = paint(self.instant, prep, *prep.out_size)
            else:
                log.info("init fast: the fast networks cannot paint this job; from the content")

    def _optimize(self, prep: PreparedJob, rep: Reporting, start: float) -> _Course:
        """The scales from coarse to fine, as far as the pacer lets them run."""
        check = _cancel_check(rep)
        course = _Course(total=sum(sc.iterations for sc in prep.scales), reported=start)
        pacer = Pacer(prep.scales, self.costs, rep.time_budget, start)
        for index, scale in enumerate(prep.scales):
            if not pacer.begin(index, time.perf_counter()):
                course.total -= scale.iterations
                continue
            run = self._run_scale(prep, rep, start, pacer, course, index, check)
            course.scales.append((scale.width, scale.height, run))
            if index == pacer.final and run < scale.iterations:
                course.stopped = StopReason.TIME_BUDGET
        return course

    def _run_scale(
        self,
        prep: PreparedJob,
        rep: Reporting,
        start: float,
        pacer: Pacer,
        course: _Course,
        index: int,
        check: Callable[[], None],
    ) -> int:
        """Scale `index`'s iterations, until the pacer ends it; how many ran."""
        scale = prep.scales[index]
        w, h = scale.width, scale.height
        try:
            objective = course.objective = self.objective_at(prep, w, h, check)
        except Cancelled:
            raise Cancelled(partial(prep, course.x)) from None
        x = course.x = initial(prep, course.x, w, h, self.compute.device)
        opt = make_optimizer(prep.settings, x, prep.memory)
        run = 0
        while True:
            if rep.cancel is not None and rep.cancel.cancelled:
                raise Cancelled(partial(prep, x))
            began = time.perf_counter()
            try:
                terms = step(opt, x, objective)
            except Cancelled:  # between two tiles of a tiled iteration
                raise Cancelled(partial(prep, x)) from None
            now = time.perf_counter()
            if run > 0:  # the first step at a size also selects kernels
                self.costs.observe(w * h, now - began)
            course.done += 1
            run += 1
            more = pacer.keep_going(index, run, float(terms.total), now)
            if not more and index < pacer.final:
                course.total -= scale.iterations - run  # a plateau or the budget ended it early
            self._report(prep, rep, start, course, index, run, terms, last=not more)
            if not more:
                return run

    def _report(
        self,
        prep: PreparedJob,
        rep: Reporting,
        start: float,
        course: _Course,
        index: int,
        run: int,
        terms: LossTerms,
        last: bool,
    ) -> None:
        """Progress after an iteration, at the reporting's cadence and at a scale's `last`."""
        done = course.done
        want_preview = rep.preview_every > 0 and (done % rep.preview_every == 0 or last)
        now = time.perf_counter()
        due = done % max(1, rep.every) == 0 or now - course.reported >= PROGRESS_SECONDS
        if not rep.on_progress or not (due or last or want_preview):
            return
        course.reported = now
        scale = prep.scales[index]
        w, h = scale.width, scale.height
        assert course.x is not None
        c, st, tv, tot = terms.floats()
        rep.on_progress(
            Progress(
                iteration=done,
                total=max(course.total, done),
                scale=index,
                scales=len(prep.scales),
                width=w,
                height=h,
                content_loss=c,
                style_loss=st,
                tv_loss=tv,
                loss=tot,
                elapsed=time.perf_counter() - start,
                remaining=self._remaining(prep, index, run, rep, start),
                preview=deliver(prep, course.x, w, h, rep.preview_size) if want_preview else None,
            )
        )

    def _remaining(
        self, prep: PreparedJob, index: int, run: int, rep: Reporting, start: float
    ) -> float | None:
        """Seconds left after `run` iterations of scale `index`, at the measured costs and
        within the time budget."""
        seconds = self.costs.remaining(prep.scales, index, run)
        if seconds is not None and rep.time_budget is not None:
            # The pacer ends the job within its budget.
            seconds = min(seconds, max(0.0, rep.time_budget - (time.perf_counter() - start)))
        return seconds

    def _planned(self, prep: PreparedJob, rep: Reporting) -> float | None:
        """Seconds the whole plan should take, before its first iteration (within the time
        budget); None before anything was measured."""
        assert prep.memory is not None  # planned by _plan
        seconds = estimate_seconds(self.costs, prep.scales, prep.memory)
        if seconds is not None and rep.time_budget is not None:
            seconds = min(seconds, rep.time_budget)
        return seconds

    def _finish(self, prep: PreparedJob, course: _Course, start: float) -> StyleResult:
        x, objective = course.x, course.objective
        assert x is not None and objective is not None  # at least one scale always runs
        # Report the losses of exactly the samples the caller stores (8 or 16 bits, or float).
        with torch.no_grad():
            round_samples(x, prep.sample_bits)
            terms = objective.evaluate(x).floats()
        image = at_output(prep, x, prep.sample_bits)
        return StyleResult(
            picture=image,
            iterations=course.done,
            elapsed=time.perf_counter() - start,
            content_loss=terms[0],
            style_loss=terms[1],
            tv_loss=terms[2],
            loss=terms[3],
            device=self.compute.describe(),
            weights=self.weights_name,
            stopped=course.stopped,
            scales=tuple(course.scales),
            settings=prep.settings,
        )

    # -- the network and the objective ------------------------------------------------------

    def features(
        self, image: torch.Tensor, layers: Sequence[str], pooling: Pooling = Pooling.MAX
    ) -> dict[str, torch.Tensor]:
        """VGG19's activations of `layers` for RGB 0..1 images (N, 3, H, W) on the device, in
        the model's dtype (bfloat16 or float32; the losses upcast). With the default pooling:
        what the perceptual loss of a training (training.py) sees."""
        if self.compute.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image, layers, pooling)

    def objective_at(
        self, prep: PreparedJob, w: int, h: int, check: Callable[[], None] = lambda: None
    ) -> Objective:
        """The job's objective at scale w x h (objective.py); `check` raises Cancelled between
        tiles."""
        return objectives.build(self, prep, w, h, check)

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
        device = self.compute.device
        host = None if device.type == "cpu" else free_memory(torch.device("cpu"))
        return plan_memory(width, height, s, budget, host, self.tile_side)

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
        # As prepare plans it (assuming the fast networks can paint the styles).
        paints = s.init is InitMode.FAST and self.instant.available and not warm_start
        scales = schedule(width, height, s, warm_start, paints)
        seconds = estimate_seconds(self.costs, scales, plan)
        return Estimate(out_w, out_h, seconds, plan.tile is not None, plan.fixed + plan.activations)


def _cancel_check(rep: Reporting) -> Callable[[], None]:
    """Raises Cancelled (without a picture) once the job is cancelled: called between tiles."""
    token = rep.cancel

    def check() -> None:
        if token is not None and token.cancelled:
            raise Cancelled(None)

    return check
