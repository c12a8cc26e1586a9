"""Load and soak, small: a few clients for seconds. Every accepted job must end in an outcome
its client saw, and the daemon must be alive and exit cleanly.

Checked here from the clients' own records of each job (what they received) and the daemon's
samples, not from the suites' counts and verdicts: a wrong verdict must not pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.reliability import load, soak

STATE_OF = {"result": "done", "cancelled": "cancelled", "error": "failed"}


def check_jobs(per_client: list[dict[str, Any]], daemon_states: dict[str, str] | None) -> None:
    """Each job its client followed ended in exactly one outcome the client received; results
    are 32 px; the daemon, for the jobs it still keeps, says the same; no client crashed."""
    assert per_client, per_client
    for client in per_client:
        assert "crashed" not in client and client["refused"] == [], client
        for job in client["jobs"]:
            assert len(job["terminal"]) == 1, job  # [] is a lost job
            (outcome,) = job["terminal"]
            assert outcome != "error", job  # these jobs cannot fail
            if outcome == "result":
                assert tuple(job["size"]) == (32, 32), job
            if daemon_states is not None and job["job"] in daemon_states:
                assert daemon_states[job["job"]] == STATE_OF[outcome], job


def test_load_loses_nothing_and_starves_no_one(tmp_path: Path) -> None:
    figures = load.run(clients=8, processes=2, duration=6.0, iterations=2, tmp=tmp_path)
    raw = figures["raw"]
    per_client = raw["per_client"]
    assert len(per_client) == 8
    check_jobs(per_client, raw["daemon_states"])
    finished = [sum(j["terminal"] == ["result"] for j in c["jobs"]) for c in per_client]
    assert min(finished) > 0, finished  # no client starved
    assert figures["daemon"]["alive_at_end"] and figures["daemon"]["exit_code"] == 0
    assert raw["probe_errors"] == [] and raw["probe_samples"] > 0, raw["probe_errors"]


def test_load_on_two_engines_loses_nothing_and_uses_both(tmp_path: Path) -> None:
    """`--devices cpu,cpu`: two engines take jobs from one queue."""
    figures = load.run(
        clients=4, processes=2, duration=6.0, iterations=2, tmp=tmp_path, devices="cpu,cpu"
    )
    raw = figures["raw"]
    check_jobs(raw["per_client"], raw["daemon_states"])
    assert figures["daemon"]["alive_at_end"] and figures["daemon"]["exit_code"] == 0
    engines = figures["done_per_engine"]
    assert set(engines) == {"0", "1"} and min(engines.values()) > 0, engines


def test_soak_keeps_descriptors_and_threads_bounded(tmp_path: Path) -> None:
    figures = soak.run(duration=20.0, clients=4, processes=2, sample_every=2.0, tmp=tmp_path)
    per_client = figures["raw"]["per_client"]
    check_jobs(per_client, None)
    assert any(j["terminal"] == ["result"] for c in per_client for j in c["jobs"]), per_client
    end = figures["daemon_at_end"]
    assert end["alive"] and end["exit_code"] == 0, end
    # Read from the daemon's /proc samples: descriptors and threads back where they started.
    samples = figures["samples"]
    assert len(samples) >= 3, samples
    assert samples[-1]["fds"] <= samples[0]["fds"] + 4, samples
    assert samples[-1]["threads"] <= samples[0]["threads"] + 1, samples
    for name, side in figures["side_traffic"].items():
        assert side["rounds"] > 0 and side["failures"] == 0, (name, side)
