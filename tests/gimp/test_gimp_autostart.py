"""A user's first run in the real GIMP 3.0: no daemon answers, and the plug-in starts one itself.

GIMP's Python (trixie's 3.13, in the root) is not the daemon's (the project's environment, with
torch): `impasto install gimp` writes into the plug-in's impasto.json the daemon's Python by
absolute path. The test installs the plug-in as a user would, with that default command, and
binds the environment's folders into the root at the same paths, so the command runs there as it
runs on a user's machine. The plug-in starts the daemon (detached), the job completes, and the
daemon is still there after GIMP has quit, warm for the next run, as the README says; the test
then shuts it down.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import gimp_root
import pytest
from PIL import Image

from impasto_protocol import Client, ConnectionLost

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

REPO = Path(__file__).resolve().parents[2]
GIMP_TIMEOUT = 300  # seconds: a cold daemon start (torch, the networks) and one Instant job
CONFIG = "/shared/autostart/gimpcfg"  # this test's own GIMP config folder (GIMP3_DIRECTORY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(endpoint: str) -> bool:
    client = Client(endpoint, timeout=2.0)
    try:
        client.hello()
        return True
    except ConnectionLost:
        return False
    finally:
        client.close()


def _daemon_pids(port: int) -> list[int]:
    """The daemons listening on `port` (started inside the root: the same kernel's /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "daemon" in args and any(a.endswith(f":{port}") for a in args):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def environment(gimp: GimpHost) -> Iterator[None]:
    """This Python's environment and the repository at their own paths inside the root."""
    folders = sorted({REPO, Path(sys.prefix), Path(sys.base_prefix)})
    outer = [f for f in folders if not any(o != f and o in f.parents for o in folders)]
    with gimp_root.host_folders(gimp.root, outer):
        yield


def test_first_run_starts_the_daemon(
    gimp: GimpHost, wheels: Path, environment: None, load_example
) -> None:
    out = gimp.shared / "autostart"
    out.mkdir()
    load_example("astronaut").resize((64, 48), Image.Resampling.LANCZOS).save(out / "content.png")
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    install = [
        str(Path(sys.executable).parent / "impasto"),
        "install",
        "gimp",
        "--dir",
        str(out / "gimpcfg" / "plug-ins"),
        "--endpoint",
        endpoint,
        "--python",
        "3.13",
        "--wheels",
        str(wheels),
    ]  # fmt: skip  (the default daemon command: this environment's Python, by absolute path)
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    config = json.loads((out / "gimpcfg/plug-ins/impasto-stylize/impasto.json").read_text())
    assert config["daemon_command"][0] == sys.executable, config
    assert Path(config["daemon_command"][0]).is_absolute(), config
    assert not _answers(endpoint), f"something already answers at {endpoint}"
    (gimp.shared / "autostart.json").write_text(
        json.dumps({"out": gimp.inside(out), "content": gimp.inside(out / "content.png")})
    )
    port = int(endpoint.rsplit(":", 1)[1])
    command = [
        "timeout", "-k", "10", str(GIMP_TIMEOUT),
        *gimp.env(f"GIMP3_DIRECTORY={CONFIG}", "XDG_RUNTIME_DIR=/shared/autostart/run"),
        "gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval",
        "-b", 'exec(open("/shared/autostart.py").read())', "--quit",
    ]  # fmt: skip
    (out / "run").mkdir(mode=0o700)
    try:
        gimp_run = subprocess.run(command, capture_output=True, text=True)
        daemon_log = out / "run" / "impasto" / "daemon.log"
        log = daemon_log.read_text()[-3000:] if daemon_log.exists() else "(no daemon log)"
        assert gimp_run.returncode == 0, gimp_run.stdout[-2000:] + gimp_run.stderr[-2000:] + log
        ev = json.loads((out / "autostart.json").read_text())
        assert ev["status"] == "success", (ev, log)
        assert ev["details"]["endpoint"] == endpoint, ev
        assert ev["layers"][0].startswith("Style transfer of "), ev
        # The daemon the plug-in started: the configured command, with its endpoint, logged
        # where the launcher logs it; still running after GIMP quit.
        assert f"{sys.executable} -m impasto daemon --endpoint {endpoint}" in log, log
        assert _answers(endpoint), "the daemon the plug-in started is gone with GIMP"
        assert len(_daemon_pids(port)) == 1, _daemon_pids(port)
    finally:
        if _answers(endpoint):
            client = Client(endpoint, timeout=10.0)
            try:
                client.shutdown()
            finally:
                client.close()
        deadline = time.monotonic() + 60
        while _daemon_pids(port) and time.monotonic() < deadline:
            time.sleep(0.5)  # gone before its folders are unbound
    assert not _daemon_pids(port), "the daemon did not stop when asked"
