"""The coarse-to-fine plan and the pacer that fits it into a time budget, on synthetic costs.

No network runs here: the pacer is fed the clock readings and losses an engine would feed it, so
the tests can say exactly when it must move on, skip a scale or stop.
"""

from __future__ import annotations

import itertools
import math

import pytest

from impasto.engine import schedule
from impasto.engine.images import fit_size
from impasto.engine.schedule import (
    IterationCosts,
    Pacer,
    Scale,
    auto_scales,
    finest_in_equal_time,
    plan_scales,
)
from impasto.engine.settings import MIN_SIZE

RATIO = schedule.SCALE_RATIO


@pytest.mark.parametrize(
    ("w", "h", "size", "iterations", "scales"),
    [(256, 256, 256, 300, 3), (640, 480, 512, 100, 0), (300, 100, 300, 50, 2),
     (1000, 1000, 2048, 500, 5), (256, 256, 256, 7, 3)],
)  # fmt: skip
def test_plan_scales(w: int, h: int, size: int, iterations: int, scales: int) -> None:
    plan = plan_scales(w, h, size, iterations, scales)
    assert sum(s.iterations for s in plan) == iterations
    assert (plan[-1].width, plan[-1].height) == fit_size(w, h, size)
    if scales:
        assert len(plan) == scales
    for a, b in itertools.pairwise(plan):
        assert max(b.width, b.height) == pytest.approx(RATIO * max(a.width, a.height), abs=1.5)
        assert a.iterations >= 1 and b.iterations >= 1
        # Each coarser scale gets COARSER_SHARE of the next one's time (cost ~ pixels).
        share = (a.iterations * a.pixels) / (b.iterations * b.pixels)
        if b.iterations >= 20:
            assert share == pytest.approx(schedule.COARSER_SHARE, rel=0.35)
    for s in plan:
        assert min(s.width, s.height) >= MIN_SIZE
        assert abs(s.width / s.height - w / h) < 0.1


def test_plan_scales_other_ratio() -> None:
    plan = plan_scales(256, 256, 256, 70, 3, ratio=2.0, coarser_share=0.5)
    assert [(s.width, s.iterations) for s in plan] == [(64, 40), (128, 20), (256, 10)]
    assert plan_scales(100, 100, 100, 10, 1) == [Scale(100, 100, 10)]


def test_plan_scales_drops_tiny_scales() -> None:
    plan = plan_scales(40, 40, 40, 12, 4, ratio=2.0)  # 5 and 10 px are below the minimum
    assert [(s.width, s.height) for s in plan] == [(20, 20), (40, 40)]
    assert sum(s.iterations for s in plan) == 12
    plan = plan_scales(400, 40, 400, 12, 3, ratio=2.0)  # a thin image: its shorter side decides
    assert [(s.width, s.height) for s in plan] == [(200, 20), (400, 40)]


def test_plan_scales_fewer_iterations_than_scales() -> None:
    plan = plan_scales(256, 256, 256, 2, 4)
    assert [s.iterations for s in plan] == [1, 1]
    assert (plan[-1].width, plan[-1].height) == (256, 256)
    assert plan_scales(256, 256, 256, 1, 4) == [Scale(256, 256, 1)]


def test_plan_scales_automatic() -> None:
    assert auto_scales(schedule.COARSEST_AUTO) == 1
    assert len(plan_scales(64, 64, 64, 10, 0)) == 1
    plan = plan_scales(512, 512, 512, 100, 0)
    assert len(plan) == auto_scales(512)
    assert max(plan[0].width, plan[0].height) <= schedule.COARSEST_AUTO
    assert max(plan[0].width, plan[0].height) > schedule.COARSEST_AUTO / RATIO


@pytest.mark.parametrize("size", [64, 256, 512, 1000])
@pytest.mark.parametrize("kept", [1, 2])
def test_finest_in_equal_time(size: int, kept: int) -> None:
    plan = plan_scales(size, size * 3 // 4, size, 150, 0)
    fine = finest_in_equal_time(plan, kept)
    assert [(s.width, s.height) for s in fine] == [(s.width, s.height) for s in plan[-kept:]]

    def work(scales: list[Scale]) -> int:
        return sum(s.iterations * s.pixels for s in scales)

    # The same time as the whole plan (to the rounding of one iteration per scale)...
    assert abs(work(fine) - work(plan)) <= sum(s.pixels for s in fine) / 2 + 1
    # ...so a plan of one scale is itself, and the finest scale never loses iterations.
    if len(plan) == 1:
        assert fine == plan
    assert fine[-1].iterations >= plan[-1].iterations


def test_costs_predict_by_pixels() -> None:
    costs = IterationCosts()
    assert costs.predict(1000) is None
    assert costs.estimate([Scale(10, 10, 5)]) is None
    costs.observe(100 * 100, 0.5)
    costs.observe(200 * 200, 2.0)
    assert costs.predict(200 * 200) == pytest.approx(2.0)
    assert costs.predict(400 * 400) == pytest.approx(8.0)  # the measured slope, 1
    assert costs.predict(50 * 50) == pytest.approx(0.125)
    assert costs.estimate([Scale(100, 100, 4)]) == pytest.approx(
        0.5 * (4 + schedule.SCALE_SETUP_ITERATIONS)
    )


def test_a_size_cost_is_the_median_of_its_last_iterations() -> None:
    """One iteration slowed by another program does not move the estimate; a lasting change
    of pace takes over once it fills half the window."""
    costs = IterationCosts()
    for seconds in (1.0, 1.1, 0.9, 30.0, 1.0):
        costs.observe(256 * 256, seconds)
    assert costs.predict(256 * 256) == pytest.approx(1.0)
    for _ in range(schedule.COST_WINDOW // 2 + 1):
        costs.observe(256 * 256, 2.0)
    assert costs.predict(256 * 256) == pytest.approx(2.0)
    for _ in range(schedule.COST_WINDOW):
        costs.observe(256 * 256, 3.0)
    assert costs.predict(256 * 256) == pytest.approx(3.0)  # the window forgot the rest


def test_nothing_learnt_from_a_clock_that_did_not_move() -> None:
    costs = IterationCosts()
    for seconds in (0.0, -1.0, math.nan, math.inf):
        costs.observe(64 * 64, seconds)
    assert costs.predict(64 * 64) is None and not costs.measured(64 * 64)


def test_an_unmeasured_size_is_interpolated_between_measured_ones() -> None:
    costs = IterationCosts()
    costs.observe(128 * 128, 0.4)  # partly overhead: dearer per pixel
    costs.observe(512 * 512, 4.0)
    # On the straight line in log-log: 256 px is halfway, sqrt(0.4 * 4.0).
    assert costs.predict(256 * 256) == pytest.approx(math.sqrt(0.4 * 4.0))
    # Whichever size is observed last, the same answer (nearest-size scaling gave 1.6 or 1.0).
    again = IterationCosts()
    again.observe(512 * 512, 4.0)
    again.observe(128 * 128, 0.4)
    assert again.predict(256 * 256) == pytest.approx(costs.predict(256 * 256))


@pytest.mark.parametrize(
    ("small", "large", "exponent"),
    [(0.5, 2.0, 1.0), (0.8, 2.0, 1.0), (0.5, 2.0 * 4**0.1, 1.1), (0.5, 4.0, 1.2)],
)
def test_a_larger_size_is_extrapolated_with_a_bounded_growth(
    small: float, large: float, exponent: float
) -> None:
    """Beyond the largest measured size: at least in proportion to the pixels (a small size's
    fixed overhead is not carried to a large one), at most GROWTH_ABOVE's steeper slope."""
    costs = IterationCosts()
    costs.observe(128 * 128, small)
    costs.observe(256 * 256, large)
    assert costs.predict(1024 * 1024) == pytest.approx(large * 16**exponent)


def test_a_smaller_size_is_extrapolated_with_a_bounded_slope() -> None:
    costs = IterationCosts()
    costs.observe(256 * 256, 1.0)
    assert costs.predict(128 * 128) == pytest.approx(0.25)  # one size: by the pixels
    costs.observe(512 * 512, 2.0)  # slope 0.5, GROWTH_BELOW's least
    assert costs.predict(128 * 128) == pytest.approx(0.5)


def test_the_estimate_of_a_plan_is_the_same_asked_twice_between_iterations() -> None:
    """A dialog opened twice while nothing new was measured, and after a job at another size
    whose pace matched the model: the same plan's estimate does not move."""
    costs = IterationCosts()
    costs.observe(128 * 128, 0.3)
    costs.observe(256 * 256, 1.2)
    plan = plan_scales(1536, 1024, 1024, 300, 0)
    first = costs.estimate(plan)
    assert costs.estimate(plan) == first
    for _ in range(10):
        costs.observe(362 * 241, costs.predict(362 * 241) or 0.0)
    assert costs.estimate(plan) == pytest.approx(first)


class Clock:
    """What the engine would report: every iteration costs `cost(pixels)` seconds."""

    def __init__(self) -> None:
        self.now = 0.0


def drive(pacer: Pacer, cost, losses=None, clock: Clock | None = None) -> list[int]:
    """Run `pacer` as the engine does; the iterations each scale ran (0: skipped)."""
    clock = clock or Clock()
    ran = []
    for index, scale in enumerate(pacer.scales):
        if not pacer.begin(index, clock.now):
            ran.append(0)
            continue
        clock.now += cost(scale.pixels) * schedule.SCALE_SETUP_ITERATIONS
        done = 0
        while True:
            clock.now += cost(scale.pixels)
            done += 1
            pacer.costs.observe(scale.pixels, cost(scale.pixels))
            loss = losses(index, done) if losses else 1.0 / done
            if not pacer.keep_going(index, done, loss, clock.now):
                break
        ran.append(done)
    return ran


def per_pixel(pixels: int) -> float:
    return pixels * 1e-5  # 256 x 256: 0.66 s an iteration


def test_without_a_budget_the_plan_runs() -> None:
    plan = plan_scales(256, 256, 256, 60, 3)
    ran = drive(Pacer(plan, IterationCosts()), per_pixel)
    assert ran == [s.iterations for s in plan]


def test_a_plateau_ends_a_coarse_scale_but_never_the_last() -> None:
    plan = plan_scales(256, 256, 256, 120, 3)

    def flat_after_ten(index: int, done: int) -> float:
        return 1.0 / min(done, 10)

    ran = drive(Pacer(plan, IterationCosts()), per_pixel, flat_after_ten)
    for n, s in zip(ran[:-1], plan[:-1], strict=True):
        assert n == 10 + schedule.PLATEAU_WINDOW < s.iterations
    assert ran[-1] == plan[-1].iterations


@pytest.mark.parametrize("budget", [6.0, 12.0, 30.0])
@pytest.mark.parametrize("known", [False, True])
def test_a_budget_ends_at_the_full_size_on_time(budget: float, known: bool) -> None:
    """Whatever the budget and whether the costs were known before the job: the output size
    runs, gets its share, and the job ends within one iteration of the budget."""
    plan = plan_scales(256, 256, 256, 300, 3)
    costs = IterationCosts()
    if known:
        costs.observe(256 * 256, per_pixel(256 * 256))
    clock = Clock()
    ran = drive(Pacer(plan, costs, budget, 0.0), per_pixel, clock=clock)
    final_cost = per_pixel(256 * 256)
    assert ran[-1] >= 1
    assert clock.now <= budget + final_cost
    final_time = ran[-1] * final_cost
    assert final_time >= min(
        schedule.FINAL_SHARE * budget - final_cost,
        schedule.MIN_FINAL_ITERATIONS * final_cost,
    )


def test_a_tight_budget_skips_coarse_scales() -> None:
    plan = plan_scales(256, 256, 256, 300, 3)
    costs = IterationCosts()
    costs.observe(256 * 256, per_pixel(256 * 256))
    final_cost = per_pixel(256 * 256)
    budget = final_cost * (schedule.MIN_FINAL_ITERATIONS + 2)
    ran = drive(Pacer(plan, costs, budget, 0.0), per_pixel)
    assert ran[0] == 0  # no time for the coarsest scale
    assert ran[-1] >= schedule.MIN_FINAL_ITERATIONS - 1


def test_a_spent_budget_still_runs_one_final_iteration() -> None:
    plan = plan_scales(256, 256, 256, 300, 3)
    ran = drive(Pacer(plan, IterationCosts(), 1e-9, 0.0), per_pixel)
    assert ran[-1] == 1
    assert sum(ran) <= len(plan)


def test_a_generous_budget_runs_the_plan() -> None:
    plan = plan_scales(256, 256, 256, 30, 3)
    ran = drive(Pacer(plan, IterationCosts(), 1e6, 0.0), per_pixel)
    assert ran == [s.iterations for s in plan]


def test_non_finite_losses_do_not_count_as_a_plateau() -> None:
    plan = [Scale(64, 64, 20), Scale(128, 128, 5)]
    ran = drive(Pacer(plan, IterationCosts()), per_pixel, lambda i, d: math.nan)
    assert ran == [20, 5]
