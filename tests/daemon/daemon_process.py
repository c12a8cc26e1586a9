"""A real `impasto daemon` in a subprocess, on a private IPC endpoint, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from impasto_protocol import Client, ConnectionLost, Pixels

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "daemon" / "impasto" / "examples"


def tcp_endpoint() -> str:
    """A loopback TCP endpoint on a port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def train_tiny_style(stylizer, style: Image.Image, path: Path, kind: str = "fast") -> None:
    """A trained style made in a moment (two steps on 32 px crops) for a daemon's library:
    what the tests need is a real file, not a good style. Named as `path` is."""
    from impasto.engine.train_settings import Kind, TrainSettings
    from impasto.engine.training import Trainer, load_photos, photo_files

    settings = TrainSettings(
        start=Kind(kind), steps=2, size=32, batch=1, style_size=48, width=4, preview_every=0
    )
    Trainer(stylizer, style, load_photos(photo_files()), settings).run().save(path)


def example_pixels(name: str, size: int = 48, mode: str = "RGB") -> Pixels:
    with Image.open(EXAMPLES / f"{name}.png") as im:
        return Pixels.from_pil(im.convert(mode).resize((size, size), Image.Resampling.LANCZOS))


class DaemonProcess:
    """Start with `start()`, stop with `stop()` (or `kill()`); `log()` reads its log file and
    `stderr()` what it wrote to stderr (kept in a file beside the log)."""

    def __init__(self, endpoint: str, log: Path, *extra: str, env: dict | None = None) -> None:
        self.endpoint = endpoint
        self.log_path = log
        self.args = [
            sys.executable, "-m", "impasto", "daemon",
            "--endpoint", endpoint,
            "--device", "cpu",
            "--precision", "float32",
            "--heartbeat-interval", "0.2",
            "--heartbeat-timeout", "2",
            "--log", str(log),
            *extra,
        ]  # fmt: skip
        self.env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})}
        # Beside the log, unless the log is a device (/dev/full in the full-disk tests).
        folder = log.parent if log.parent != Path("/dev") else Path(tempfile.mkdtemp())
        self.stderr_path = folder / f"{log.stem}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_default_endpoint(cls, xdg: Path) -> DaemonProcess:
        """A daemon left to pick its default endpoint (no --endpoint, IMPASTO_ENDPOINT empty)
        under XDG_RUNTIME_DIR=`xdg`: the per-user socket in `xdg`/impasto/."""
        proc = cls(
            "unused", xdg / "daemon.log", env={"XDG_RUNTIME_DIR": str(xdg), "IMPASTO_ENDPOINT": ""}
        )
        i = proc.args.index("--endpoint")
        del proc.args[i : i + 2]
        proc.endpoint = f"ipc://{xdg / 'impasto' / 'daemon.sock'}"
        return proc

    def start(self, wait_ready: float = 60.0) -> DaemonProcess:
        # stderr into a file beside the log, not a pipe: nobody drains a pipe while a test
        # runs, and a daemon that writes enough to it would block on the full pipe.
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=err
            )
        if wait_ready:
            self.wait_ready(wait_ready)
        return self

    def wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.stderr()}")
            try:
                with Client(self.endpoint, timeout=1.0) as c:
                    welcome = c.hello()
                    if welcome["ready"]:
                        return welcome
            except ConnectionLost:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"daemon not ready after {timeout} s; log:\n{self.log()}")

    def client(self, **kwargs) -> Client:
        kwargs.setdefault("timeout", 5.0)
        return Client(self.endpoint, **kwargs)

    def stderr(self) -> str:
        path = self.stderr_path
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def library_daemon(endpoint: str, log: Path, library: Path, *extra: str) -> Iterator[DaemonProcess]:
    """A started daemon whose library of trained styles is the folder `library`, stopped when
    the generator ends: a fixture says `yield from library_daemon(...)`."""
    d = DaemonProcess(endpoint, log, *extra, env={"IMPASTO_STYLES": str(library)})
    d.start(wait_ready=120)
    try:
        yield d
    finally:
        d.stop()
