"""Fixtures of the Krita end-to-end tests: Krita itself (or a skip), the wheels the installer
vendors, Krita's resource folder shared across the session, and a real daemon per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_process import DaemonProcess
from krita_run import DAEMON_TIMINGS, krita_missing, krita_python

from hosts import host_missing


@pytest.fixture(scope="session")
def krita_ready() -> None:
    reason = krita_missing()
    if reason:
        host_missing(reason)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory, krita_ready: None) -> Path:
    """pyzmq and msgpack wheels for Krita's Python, downloaded once per session."""
    folder = tmp_path_factory.mktemp("wheels")
    version = krita_python()
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
        "--python-version", version, "--platform", "manylinux2014_x86_64",
        "pyzmq", "msgpack", "-d", str(folder),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip download failed:\n{done.stderr}"
    return folder


@pytest.fixture(scope="session")
def resource_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Krita's resource folder from the first run, copied into later HOMEs (11 s -> 3.5 s)."""
    return tmp_path_factory.mktemp("krita-resources")


# How long a daemon may take to say it is ready: it times a few iterations first, which took
# more than a minute once on this 2-core machine shared with other test runs (load 14).
DAEMON_READY_S = 180.0


@pytest.fixture
def daemon(tmp_path: Path):
    proc = DaemonProcess(f"ipc://{tmp_path}/d.sock", tmp_path / "daemon.log", *DAEMON_TIMINGS)
    proc.start(wait_ready=DAEMON_READY_S)
    yield proc
    proc.stop()


@pytest.fixture
def offscreen_app():
    """A QApplication on Qt's offscreen platform (no display, no Krita), for the plug-in's own
    widgets; kept alive while the test's widgets are."""
    widgets = pytest.importorskip("PyQt5.QtWidgets", reason="the plug-in's Qt: .[test]")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return widgets.QApplication.instance() or widgets.QApplication([])
