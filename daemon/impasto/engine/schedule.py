"""Coarse-to-fine: which sizes to optimize at, how long each gets, and when to move on.

Most of the picture's structure forms at a coarse scale, where an iteration costs a fraction of
one at the output size; the finer scales then refine, starting from the upsampled result. The
output size always gets the last word: an upsampled coarse picture is blurry and cannot match the
style's fine texture statistics, so whatever ends a job early (a time budget, a plateau) must
still leave iterations at the full size.

Three pieces:
- `plan_scales` fixes the sizes and, from `iterations`, the most iterations each scale may run
  (a deterministic plan: the same settings give the same plan on every machine);
- `IterationCosts` remembers what an iteration cost at each size on this engine, so that a time
  budget can be planned before the first iteration of a job runs (a daemon's engine keeps it
  across jobs; a fresh engine learns from the job's first iterations);
- `Pacer` walks the plan during a job: it fits the plan into a time budget from the measured
  costs, re-plans at every scale and after every iteration, and ends a scale early when its loss
  stops improving.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import deque
from dataclasses import dataclass, field

from .images import fit_size
from .settings import MAX_SCALES, MIN_SIZE

# The automatic schedule starts at the first scale at or below this size.
COARSEST_AUTO = 128
# Each scale's longer side is this much larger than the last one's. sqrt(2) doubles the pixels per
# step: the upsampled start of each scale is closer to its optimum than with steps of 2.
SCALE_RATIO = math.sqrt(2)
# A scale's share of a job's time is this fraction of the next finer scale's.
COARSER_SHARE = 0.5
# With a time budget, the output size gets at least this share of it.
FINAL_SHARE = 0.5
# ...and at least this many iterations, coarse scales being dropped to make room.
MIN_FINAL_ITERATIONS = 8
# A coarse scale has plateaued when its loss fell by less than this fraction per iteration,
# averaged over the last PLATEAU_WINDOW iterations.
PLATEAU_TOLERANCE = 0.002
PLATEAU_WINDOW = 5
# IterationCosts: the iterations per size whose median is that size's cost (about one scale of
# a job: a new job's own pace takes over within half a scale, one slow iteration moves nothing).
COST_WINDOW = 31
# The bounds of the exponent with which an iteration's cost grows with its pixels, beyond the
# largest measured size and below the smallest. On a 2-core CPU (one thread, CPU time, so that
# other programs did not count), the cost per pixel at 512 and 724 px was 1.07 and 1.14 times
# that at 256 px (activations that no longer fit the caches): a size larger than any measured
# costs at least its pixels' share, and up to 1.2 when the measured sizes show such growth. On
# two threads a small size's cost is partly fixed overhead, so a larger one's per-pixel cost is
# lower: that slope (below 1) is not carried far beyond the sizes that showed it. Below the
# smallest measured size, the cost falls at most in proportion to the pixels.
GROWTH_ABOVE = (1.0, 1.2)
GROWTH_BELOW = (0.5, 1.0)
# The first iteration at a size also computes the targets and sets up kernels: counted as this
# many iterations when a budget is planned.
SCALE_SETUP_ITERATIONS = 1.0


@dataclass(frozen=True)
class Scale:
    width: int
    height: int
    iterations: int  # the most this scale may run

    @property
    def pixels(self) -> int:
        return self.width * self.height


def auto_scales(size: int, ratio: float | None = None) -> int:
    """How many scales the automatic schedule uses for an output whose longer side is `size`."""
    ratio = SCALE_RATIO if ratio is None else ratio
    steps = math.floor(math.log(max(size, 1) / COARSEST_AUTO, ratio) + 1e-9)
    return max(1, min(MAX_SCALES, steps + 1))


def plan_scales(
    width: int,
    height: int,
    size: int,
    iterations: int,
    scales: int,
    ratio: float | None = None,
    coarser_share: float | None = None,
) -> list[Scale]:
    """The scales from coarse to fine (the last is the output size) with their iterations.

    Each scale's time is `coarser_share` of the next finer one's; an iteration's cost grows with
    the pixels, so a coarse scale gets more iterations than a fine one. Scales whose shorter side
    would fall below MIN_SIZE pixels, and scales that would get no iteration, are dropped; the
    rounding remainder goes to the cheapest scale. `ratio` and `coarser_share` default to
    SCALE_RATIO and COARSER_SHARE (read when called, so a benchmark can try others).
    """
    ratio = SCALE_RATIO if ratio is None else ratio
    coarser_share = COARSER_SHARE if coarser_share is None else coarser_share
    n = auto_scales(size, ratio) if scales == 0 else scales
    sizes: list[tuple[int, int]] = []
    for i in range(n):
        w, h = fit_size(width, height, max(1, round(size / ratio ** (n - 1 - i))))
        if (min(w, h) >= MIN_SIZE or i == n - 1) and (w, h) not in sizes:
            sizes.append((w, h))
    sizes = sizes[-iterations:]  # fewer iterations than scales: keep the finest
    last = sizes[-1][0] * sizes[-1][1]
    # Iterations per unit of time at each scale, relative to the output size's.
    shares = [
        coarser_share ** (len(sizes) - 1 - i) * last / (w * h) for i, (w, h) in enumerate(sizes)
    ]
    counts = [max(1, math.floor(iterations * s / sum(shares))) for s in shares]
    while sum(counts) > iterations:  # the minimum of one per scale overshot
        counts[counts.index(max(counts))] -= 1
    counts[0] += iterations - sum(counts)
    return [Scale(w, h, c) for (w, h), c in zip(sizes, counts, strict=True)]


def finest_in_equal_time(plan: list[Scale], scales: int) -> list[Scale]:
    """The last `scales` sizes of `plan`, sharing the time the whole plan would take.

    For a start that is already stylized (the fast networks' picture): the coarse scales would
    only blur it again, and the full size is where its style's fine texture is measured. The job
    takes as long as the plan it replaces, counted as pixels times iterations (an iteration's cost
    is nearly proportional to its pixels), split between the kept sizes in the plan's own
    proportions (each size COARSER_SHARE of the next finer one's time).
    """
    kept = plan[-max(1, scales) :]
    work = sum(s.iterations * s.pixels for s in plan)
    times = [COARSER_SHARE ** (len(kept) - 1 - i) for i in range(len(kept))]
    return [
        Scale(s.width, s.height, max(1, round(work * t / sum(times) / s.pixels)))
        for s, t in zip(kept, times, strict=True)
    ]


class IterationCosts:
    """Seconds per iteration by size, as measured on one engine (device and precision).

    Each size's cost is the median of its last COST_WINDOW iterations, not a running mean: an
    iteration slowed by another program moves a median by one rank, not by its own length, so
    two estimates asked a minute apart (a dialog opened twice) agree, and one busy job does
    not halve or double the next one's estimate.

    A size never measured is interpolated between the measured sizes on either side of it
    (a straight line in log cost against log pixels), or extrapolated from the nearest end:
    an iteration's cost grows with its pixels as pixels ** exponent, the exponent fitted to
    the two measured sizes nearest that end and bounded by GROWTH_ABOVE or GROWTH_BELOW.
    Scaling by the pixel ratio from the nearest measured size alone, as before, took the
    per-pixel cost of a small size (on two CPU threads, partly fixed overhead) for that of a
    size 16 or 64 times larger: the estimate of a large job then depended on which size had
    been measured last, and swung by a factor of two between two openings of a dialog.
    """

    def __init__(self) -> None:
        # pixels -> the last COST_WINDOW seconds per iteration measured at that size
        self._samples: dict[int, deque[float]] = {}
        # A daemon's socket thread reads the costs (estimates) while its worker observes.
        self._lock = threading.Lock()

    def observe(self, pixels: int, seconds: float) -> None:
        if pixels <= 0 or not (math.isfinite(seconds) and seconds > 0):
            return  # a clock that did not move says nothing about the cost
        with self._lock:
            self._samples.setdefault(pixels, deque(maxlen=COST_WINDOW)).append(seconds)

    def measured(self, pixels: int) -> bool:
        return pixels in self._samples

    def costs(self) -> dict[int, float]:
        """Each measured size's cost (the median of its window), by pixels."""
        with self._lock:
            samples = {p: list(q) for p, q in self._samples.items()}
        return {p: statistics.median(q) for p, q in sorted(samples.items()) if q}

    def predict(self, pixels: int) -> float | None:
        return predict_cost(self.costs(), pixels)

    def estimate(self, scales: list[Scale]) -> float | None:
        """The seconds a plan would take, or None before anything was measured."""
        known = self.costs()
        total = 0.0
        for s in scales:
            cost = predict_cost(known, s.pixels)
            if cost is None:
                return None
            total += cost * (s.iterations + SCALE_SETUP_ITERATIONS)
        return total

    def remaining(self, scales: list[Scale], index: int, run: int) -> float | None:
        """Seconds left after `run` iterations of scale `index`: the rest of this scale at
        its measured cost, then the later scales' iterations (and setup) at theirs. The pace
        so far would run low: later scales are larger, so each iteration costs more."""
        known = self.costs()
        seconds = 0.0
        for i in range(index, len(scales)):
            cost = predict_cost(known, scales[i].pixels)
            if cost is None:
                return None
            if i == index:
                seconds += max(0, scales[i].iterations - run) * cost
            else:
                seconds += (scales[i].iterations + SCALE_SETUP_ITERATIONS) * cost
        return seconds


def predict_cost(costs: dict[int, float], pixels: int) -> float | None:
    """The seconds of an iteration at `pixels`, from `costs` (seconds by measured pixels, as
    IterationCosts.costs gives them); None when nothing was measured. IterationCosts says how."""
    if not costs:
        return None
    if pixels in costs:
        return costs[pixels]
    sizes = sorted(costs)
    below = [p for p in sizes if p < pixels]
    above = [p for p in sizes if p > pixels]
    if below and above:  # between two measured sizes
        lo, hi = below[-1], above[0]
        return _power(costs, lo, hi, pixels, lo, -math.inf, math.inf)
    if below:  # larger than any measured: from the largest
        lo, hi = (sizes[-2], sizes[-1]) if len(sizes) > 1 else (sizes[-1], sizes[-1])
        return _power(costs, lo, hi, pixels, hi, *GROWTH_ABOVE)
    lo, hi = (sizes[0], sizes[1]) if len(sizes) > 1 else (sizes[0], sizes[0])
    return _power(costs, lo, hi, pixels, lo, *GROWTH_BELOW)


def _power(
    costs: dict[int, float], lo: int, hi: int, pixels: int, base: int, least: float, most: float
) -> float:
    """costs[base] * (pixels / base) ** k, k the log-log slope from `lo` to `hi` within
    [least, most] (1, proportional to pixels, when lo == hi or the slope is not finite)."""
    k = 1.0
    if hi != lo:
        slope = math.log(costs[hi] / costs[lo]) / math.log(hi / lo)
        if math.isfinite(slope):
            k = slope
    k = min(most, max(least, k))
    return costs[base] * (pixels / base) ** k


@dataclass
class Pacer:
    """Decides, iteration by iteration, whether the current scale goes on.

    Without a budget it runs the plan, ending a coarse scale early on a plateau (its unused
    iterations are dropped: the plan's time is an upper bound). With a budget it gives the output
    size at least FINAL_SHARE of the time and MIN_FINAL_ITERATIONS iterations, spreads the rest
    over the coarse scales in the plan's proportions, and re-plans after every iteration from the
    costs measured so far, so a slow machine or a busy one still ends at the full size.
    """

    scales: list[Scale]
    costs: IterationCosts
    budget: float | None = None  # seconds, from `start`
    start: float = 0.0
    _losses: list[float] = field(default_factory=list)
    _deadline: float | None = None  # of the current scale, from the budget
    _skipped: set[int] = field(default_factory=set)

    @property
    def final(self) -> int:
        return len(self.scales) - 1

    def begin(self, index: int, now: float) -> bool:
        """Start scale `index`; False when the budget leaves it no time (skip it)."""
        self._losses = []
        self._deadline = None
        if self.budget is None or index == self.final:
            return True
        left = self.budget - (now - self.start)
        final = self.scales[self.final]
        final_cost = self.costs.predict(final.pixels)
        if final_cost is None:
            # Nothing measured yet: run this coarse scale's first iterations and re-plan.
            self._deadline = now + (1 - FINAL_SHARE) * left * self._coarse_share(index)
            return True
        final_time = max(
            FINAL_SHARE * left,
            final_cost * (min(MIN_FINAL_ITERATIONS, final.iterations) + SCALE_SETUP_ITERATIONS),
        )
        mine = (left - final_time) * self._coarse_share(index)
        cost = self.costs.predict(self.scales[index].pixels) or final_cost
        if mine < cost * (2 + SCALE_SETUP_ITERATIONS):
            self._skipped.add(index)
            return False
        self._deadline = now + mine
        return True

    def _coarse_share(self, index: int) -> float:
        """Scale `index`'s part of the time the coarse scales still have, by the plan's time."""
        rest = [i for i in range(index, self.final) if i not in self._skipped]
        weights = {i: COARSER_SHARE ** (self.final - i) for i in rest}
        return weights[index] / sum(weights.values())

    def keep_going(self, index: int, done: int, loss: float, now: float) -> bool:
        """After `done` iterations of scale `index`, whose last loss was `loss`: another one?"""
        self._losses.append(loss)
        scale = self.scales[index]
        if done >= scale.iterations:
            return False
        if self.budget is not None and now - self.start >= self.budget:
            return False
        if index == self.final:
            return True
        if self._deadline is not None and now >= self._deadline:
            return False
        return not self._plateaued()

    def out_of_time(self, now: float) -> bool:
        return self.budget is not None and now - self.start >= self.budget

    def _plateaued(self) -> bool:
        if len(self._losses) <= PLATEAU_WINDOW:
            return False
        old, new = self._losses[-1 - PLATEAU_WINDOW], self._losses[-1]
        if not (math.isfinite(old) and math.isfinite(new)) or new <= 0:
            return False
        return (old - new) / (PLATEAU_WINDOW * new) < PLATEAU_TOLERANCE
