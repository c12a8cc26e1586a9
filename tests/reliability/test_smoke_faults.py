"""Each fault of the faults suite, tried once: the daemon survives, the bystander's job
finishes, and the affected client hears a clear outcome."""

from __future__ import annotations

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


def check(trial: dict) -> None:
    assert trial["survived"], trial
    assert trial["others_finished"], trial
    assert trial["affected_clear"], trial


def test_a_client_killed_mid_job(daemon: Daemon) -> None:
    check(faults.client_killed(daemon))


def test_a_client_that_never_reads(daemon: Daemon) -> None:
    check(faults.client_never_reads(daemon))


def test_a_client_that_stops_heartbeating(daemon: Daemon) -> None:
    check(faults.client_stops_heartbeating(daemon))


def test_a_result_file_on_a_full_disk(daemon: Daemon, tmp_path: Path) -> None:
    check(faults.result_file_full(daemon, tmp_path, 0, faults.can_mount_tmpfs()))


def test_the_daemon_killed_and_restarted(tmp_path: Path) -> None:
    check(faults.daemon_killed(tmp_path, 0))


def test_injected_engine_faults(tmp_path: Path) -> None:
    faulty = faults.start_faulty(tmp_path)
    try:
        check(faults.engine_fault(faulty, faults.faulty_daemon.OOM_ITERATIONS, "out_of_memory"))
        check(faults.engine_fault(faulty, faults.faulty_daemon.ENGINE_ITERATIONS, "engine_error"))
    finally:
        assert faulty.stop() == 0


@pytest.mark.parametrize("tmpfs", [False, True], ids=["dev-full", "tmpfs"])
def test_the_daemon_log_on_a_full_disk(tmp_path: Path, tmpfs: bool) -> None:
    if tmpfs and not faults.can_mount_tmpfs():
        pytest.skip("no private mount namespace here (unshare -m needs root or user namespaces)")
    trial = faults.log_full(tmp_path, 0, tmpfs)
    check(trial)
    if tmpfs:
        assert trial["log_resumed"], trial
