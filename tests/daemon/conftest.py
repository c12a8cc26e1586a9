from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from daemon_process import DaemonProcess


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    """One real daemon per test module (starting one costs ~3 s on 2 cores)."""
    tmp = tmp_path_factory.mktemp("daemon")
    proc = DaemonProcess(f"ipc://{tmp}/d.sock", tmp / "daemon.log").start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_daemon(tmp_path: Path):
    """A daemon of the test's own, for tests that kill or shut it down."""
    procs: list[DaemonProcess] = []

    def make(*extra: str, start: bool = True) -> DaemonProcess:
        p = DaemonProcess(
            f"ipc://{tmp_path}/d{len(procs)}.sock", tmp_path / f"d{len(procs)}.log", *extra
        )
        procs.append(p)
        return p.start() if start else p

    yield make
    for p in procs:
        p.stop()
