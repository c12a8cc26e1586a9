"""Each fault of the faults suite, tried once: the daemon survives, the bystander's job
finishes, and the affected client hears a clear outcome.

Checked here from what the trial saw (its "raw" record) and from the daemon process itself,
not from the suite's own verdicts: a wrong verdict must not pass."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.reliability import faults
from benchmarks.reliability.common import Daemon, start_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("faults"), name="shared")
    yield d
    assert d.stop() == 0


def running(d: Daemon) -> bool:
    """The daemon's process exists and has not exited (asked of the OS, not of the suite)."""
    assert d.proc is not None
    try:
        os.kill(d.proc.pid, 0)
    except ProcessLookupError:
        return False
    return d.proc.poll() is None


def test_a_client_killed_mid_job(daemon: Daemon) -> None:
    raw = faults.client_killed(daemon)["raw"]
    assert running(daemon)
    assert raw["bystander_size"] == (32, 32), raw
    assert (raw["job"]["state"], raw["job"]["reason"]) == ("cancelled", "client_gone"), raw


def test_a_client_that_never_reads(daemon: Daemon) -> None:
    raw = faults.client_never_reads(daemon)["raw"]
    assert running(daemon)
    assert raw["bystander_size"] == (32, 32), raw
    assert raw["job"]["state"] == "done", raw
    # When it reads at last: its result, once, and no more events than the job made.
    received = raw["received"]
    assert received.get("result") == 1, received
    assert received.get("progress", 0) + received.get("preview", 0) <= 2 * raw["events_made"]


def test_a_client_that_stops_heartbeating(daemon: Daemon) -> None:
    raw = faults.client_stops_heartbeating(daemon)["raw"]
    assert running(daemon)
    assert raw["bystander_size"] == (32, 32), raw
    assert raw["heard"] == {"exception": "JobCancelled", "reason": "client_gone"}, raw


def test_a_client_killed_while_sending_a_clip(daemon: Daemon) -> None:
    raw = faults.clip_client_killed(daemon)["raw"]
    assert running(daemon)
    assert raw["before"]["state"] == "receiving", raw  # killed with frames still to come
    assert raw["bystander_size"] == (32, 32), raw
    assert (raw["job"]["state"], raw["job"]["reason"]) == ("cancelled", "client_gone"), raw


def test_the_daemon_killed_mid_training_and_restarted(tmp_path: Path) -> None:
    raw = faults.training_daemon_killed(tmp_path, 0)["raw"]
    steps = faults.TRAINING["steps"]
    assert raw["killed_at_step"] is not None and raw["killed_at_step"] < steps, raw
    # The restarted daemon resumed from a checkpoint, not from scratch, and reached the
    # picture an unbroken training of the same settings reaches.
    assert raw["resumed"]["steps"] == raw["unbroken"]["steps"] == steps, raw
    assert 0 < raw["resumed"]["resumed_from"] <= raw["killed_at_step"], raw
    assert raw["unbroken"]["resumed_from"] == 0, raw
    assert raw["same_picture"], raw
    assert raw["bystander_size"] == (32, 32), raw


def test_a_result_file_on_a_full_disk(daemon: Daemon, tmp_path: Path) -> None:
    raw = faults.result_file_full(daemon, tmp_path, 0, faults.can_mount_tmpfs())["raw"]
    assert running(daemon)
    assert raw["submit_rc"] == 0, raw
    # The watch onto the full disk fails with one clear line, no traceback...
    lines = [line for line in raw["full_stderr"].splitlines() if line.strip()]
    assert raw["full_rc"] not in (0, 1) and lines and "cannot write" in lines[-1], raw
    assert "Traceback" not in raw["full_stderr"], raw
    # ...and watching again fetches the result.
    assert raw["again_rc"] == 0 and raw["again_size"] == (32, 32), raw


def test_the_daemon_killed_and_restarted(tmp_path: Path) -> None:
    raw = faults.daemon_killed(tmp_path, 0)["raw"]
    assert raw["waiters_heard"] == ["ConnectionLost"] * 3, raw
    assert raw["restarted_alive"] and raw["served_size_after_restart"] == (32, 32), raw


def test_injected_engine_faults(tmp_path: Path) -> None:
    faulty = faults.start_faulty(tmp_path)
    try:
        for iterations, code in [
            (faults.faulty_daemon.OOM_ITERATIONS, "out_of_memory"),
            (faults.faulty_daemon.ENGINE_ITERATIONS, "engine_error"),
        ]:
            raw = faults.engine_fault(faulty, iterations, code)["raw"]
            assert running(faulty)
            assert raw["heard"] == code, raw
            assert raw["next_size"] == (32, 32) and raw["bystander_size"] == (32, 32), raw
    finally:
        assert faulty.stop() == 0


@pytest.mark.parametrize("tmpfs", [False, True], ids=["dev-full", "tmpfs"])
def test_the_daemon_log_on_a_full_disk(tmp_path: Path, tmpfs: bool) -> None:
    if tmpfs and not faults.can_mount_tmpfs():
        pytest.skip("no private mount namespace here (unshare -m needs root or user namespaces)")
    trial = faults.log_full(tmp_path, 0, tmpfs)
    raw = trial["raw"]
    assert raw["alive_before_stop"] and raw["exit_code"] == 0, raw
    assert raw["last_size"] == (32, 32), raw  # served on, the log full
    lines = raw["stderr_lines"]
    assert len(lines) == 1 and "cannot write the log" in lines[0], lines
    if tmpfs:
        assert trial["log_resumed"], trial  # the log file itself says records were lost
