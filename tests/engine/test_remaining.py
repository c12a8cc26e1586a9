"""Progress says how long the job should still take, from measured costs per scale."""

from __future__ import annotations

import math

import pytest

from impasto.engine import Job, Progress, Reporting, StyleSettings, Stylizer, stylizer


def test_remaining_follows_the_measured_costs_of_the_scales_left(load_example) -> None:
    engine = Stylizer(device="cpu", precision="float32")
    content, style = load_example("astronaut", 96).convert("RGB"), load_example("hubble", 64)
    s = StyleSettings(size=96, scales=2, iterations=16, init="content")
    seen: list[Progress] = []
    result = engine.stylize(Job(content, [style.convert("RGB")], s), Reporting(seen.append))
    assert [p.iteration for p in seen] == list(range(1, result.iterations + 1))
    # Unknown until an iteration at a size was measured (the first one also picks kernels).
    assert seen[0].remaining is None
    known = [p for p in seen if p.remaining is not None]
    assert known and known[-1].iteration == result.iterations and known[-1].remaining == 0
    # Within a factor of the time that was really left, in the first scale too, where the
    # pace so far (small iterations) would promise too little for the larger scale to come.
    first = next(p for p in known if p.scale == 0)
    left = result.elapsed - first.elapsed
    assert 0.3 * left < first.remaining < 3 * left, (first, left)
    # A warm engine knows every scale's cost from the first iteration on.
    again: list[Progress] = []
    engine.stylize(Job(content, [style.convert("RGB")], s), Reporting(again.append))
    assert again[0].remaining is not None and again[0].remaining > 0


def test_a_slow_cadence_still_reports_every_few_seconds(load_example, monkeypatch) -> None:
    """Progress comes at the reporting's cadence in iterations, or after PROGRESS_SECONDS
    without one (here 0: after every iteration), so a client's time left never freezes for
    the length of `every` slow iterations."""
    engine = Stylizer(device="cpu", precision="float32")
    content, style = load_example("astronaut", 64).convert("RGB"), load_example("hubble", 64)
    s = StyleSettings(size=64, scales=1, iterations=5, init="content")
    job = Job(content, [style.convert("RGB")], s)
    seen: list[Progress] = []
    monkeypatch.setattr(stylizer, "PROGRESS_SECONDS", math.inf)
    engine.stylize(job, Reporting(seen.append, every=1000))
    assert [p.iteration for p in seen] == [5]  # only the last: every 1000 iterations
    monkeypatch.setattr(stylizer, "PROGRESS_SECONDS", 0.0)
    seen.clear()
    engine.stylize(job, Reporting(seen.append, every=1000))
    assert [p.iteration for p in seen] == [1, 2, 3, 4, 5]


def test_the_first_preview_carries_the_plan_estimate(load_example) -> None:
    """The instant picture at iteration 0 comes before any iteration of the job: its time left
    is the whole plan's estimate, as `estimate` gives it, once the engine measured anything."""
    engine = Stylizer(device="cpu", precision="float32")
    if not engine.instant.available:
        pytest.skip("the fast networks' files are not installed")
    engine.warm_up(instant=False, measure=32)
    content, style = load_example("astronaut", 64).convert("RGB"), load_example("hubble", 64)
    s = StyleSettings(size=64, scales=2, iterations=6, init="content")
    expected = engine.estimate(*content.size, s).seconds
    seen: list[Progress] = []
    engine.stylize(Job(content, [style.convert("RGB")], s), Reporting(seen.append, preview_every=3))
    assert seen[0].iteration == 0 and seen[0].preview is not None
    assert expected is not None and seen[0].remaining == pytest.approx(expected)
    assert all(p.remaining is not None for p in seen)
