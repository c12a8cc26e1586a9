"""Progress says how long the job should still take, from measured costs per scale."""

from __future__ import annotations

from impasto.engine import Job, Progress, Reporting, StyleSettings, Stylizer


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
