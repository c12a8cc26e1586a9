"""The plug-in's DaemonLink without Krita (Qt's event loop from PyQt5) on real daemons that it
starts itself: what the panel's state line says when the daemon goes away."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")

from impasto_krita.daemon_link import DaemonLink, LinkState
from PyQt5.QtCore import QCoreApplication

from impasto_protocol import Client
from impasto_protocol.launcher import nothing_listening

DAEMON = [sys.executable, "-m", "impasto", "daemon", "--device", "cpu", "--precision", "float32"]


def spin(app: QCoreApplication, until: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("started_by", ["link", "someone else"])
def test_after_a_shutdown_the_link_says_so_and_starts_the_daemon_again(
    tmp_path: Path, started_by: str
) -> None:
    """`impasto shutdown` stops the daemon: the state line goes from "Daemon connected"
    straight to "Starting the daemon", once the daemon is gone (the link's own exited, or the
    socket of one started elsewhere was removed) rather than after the heartbeat's timeout,
    and not to "exited at once" for the link's own (it ran; it was stopped)."""
    app = QCoreApplication.instance() or QCoreApplication(["test"])
    endpoint = f"ipc://{tmp_path}/d.sock"
    command = [*DAEMON, "--log", str(tmp_path / "daemon.log")]
    if started_by != "link":
        subprocess.Popen([*command, "--endpoint", endpoint], start_new_session=True)
        spin(app, lambda: not nothing_listening(endpoint), 60)
    config = tmp_path / "impasto.json"
    config.write_text(json.dumps({"endpoint": endpoint, "daemon_command": command}))
    link = DaemonLink(config)
    said: list[str] = []
    link.state_changed.connect(lambda: said.append(link.describe()))
    link.open()
    try:
        spin(app, lambda: link.state is LinkState.READY, 120)
        assert link.state is LinkState.READY, "\n".join(said)
        first = link.process
        with Client(endpoint, timeout=10) as client:
            client.shutdown()
        after = len(said)
        spin(app, lambda: link.state is LinkState.READY and link.process is not first, 120)
        assert link.state is LinkState.READY and link.process is not first, "\n".join(said)
        changes = [s for s in said[after:] if not s.startswith("Daemon connected")]
        assert changes and changes[0].startswith("Starting the daemon"), "\n".join(said)
        assert not [s for s in changes if "unreachable" in s or "error" in s], "\n".join(said)
    finally:
        with Client(endpoint, timeout=10) as client:
            if link.state is LinkState.READY:
                client.shutdown()
        link.close()
