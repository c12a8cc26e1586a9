"""Load and soak, small: a few clients for seconds. Every accepted job must end in an outcome
its client saw, and the daemon must be alive and exit cleanly."""

from __future__ import annotations

from pathlib import Path

from benchmarks.reliability import load, soak


def test_load_loses_nothing_and_starves_no_one(tmp_path: Path) -> None:
    figures = load.run(clients=8, processes=2, duration=6.0, iterations=2, tmp=tmp_path)
    jobs = figures["jobs"]
    assert jobs["submitted"] > 0
    assert jobs["lost"] == 0, figures
    assert jobs["outcome_disagrees_with_daemon"] == 0
    assert jobs["wrong_size_results"] == 0
    assert jobs["client_crashes"] == [] and jobs["refused_requests"] == 0, jobs
    assert jobs["finished"] + jobs["cancelled"] + jobs["failed"] == jobs["submitted"]
    assert jobs["failed"] == 0
    assert figures["fairness"]["finished_per_client_min"] > 0
    assert figures["daemon"]["alive_at_end"] and figures["daemon"]["exit_code"] == 0
    assert figures["latency_ms"]["probe_errors"] == []
    assert figures["latency_ms"]["ping_all"]["n"] > 0


def test_soak_keeps_descriptors_and_threads_bounded(tmp_path: Path) -> None:
    figures = soak.run(duration=20.0, clients=4, processes=2, sample_every=2.0, tmp=tmp_path)
    assert figures["jobs"]["lost"] == 0 and figures["jobs"]["finished"] > 0, figures["jobs"]
    verdict = figures["verdict"]
    assert verdict["daemon_alive"]
    assert verdict["fds_bounded"], figures["fds"]
    assert verdict["threads_bounded"], figures["threads"]
    for name, side in figures["side_traffic"].items():
        assert side["rounds"] > 0 and side["failures"] == 0, (name, side)
