"""Finding and starting a daemon on behalf of a plug-in or a script.

Editor plug-ins cannot ask the user for a shell: when nothing answers at the configured endpoint
they start the daemon themselves, detached, so it stays warm for the next edit after the editor
closes. What to start, and where it listens, comes from the plug-in's `impasto.json`, written by
`impasto install` (the editor's embedded Python cannot locate the Python that has torch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .endpoint import default_endpoint, ensure_private_dir, ipc_path, runtime_dir

CONFIG_NAME = "impasto.json"
# A cold start loads torch and VGG19: seconds on CPU, more on a slow disk.
DEFAULT_START_TIMEOUT = 120.0
# How long a first hello waits before the daemon is taken for absent (a socket file can be
# left by a daemon that crashed, and TCP gives no such sign at all).
PROBE_TIMEOUT = 3.0
READY_POLL = 0.5  # seconds between hellos while a daemon loads


class DaemonStartError(RuntimeError):
    """The daemon could not be started; the message is one line for the user."""


@dataclass
class PluginConfig:
    """A plug-in's `impasto.json`: where its daemon listens and how to start one."""

    endpoint: str | None = None  # None: default_endpoint(), the per-user socket
    daemon_command: list[str] = field(default_factory=list)  # empty: never start one
    start_timeout: float = DEFAULT_START_TIMEOUT

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PluginConfig:
        """The config at `path`; defaults when there is none. Raises ValueError (one line)."""
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read {path}: {e}") from None
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Any, where: str = "config") -> PluginConfig:
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a JSON object")
        endpoint = raw.get("endpoint")
        if endpoint is not None and (not isinstance(endpoint, str) or "://" not in endpoint):
            raise ValueError(f"{where}: endpoint must be like ipc://PATH or tcp://HOST:PORT")
        command = raw.get("daemon_command", [])
        if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
            raise ValueError(f"{where}: daemon_command must be a list of strings")
        timeout = raw.get("start_timeout", DEFAULT_START_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"{where}: start_timeout must be a positive number of seconds")
        return cls(endpoint or None, list(command), float(timeout))

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "daemon_command": self.daemon_command,
            "start_timeout": self.start_timeout,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def resolved_endpoint(self) -> str:
        return self.endpoint or default_endpoint()


def no_daemon_text(endpoint: str) -> str:
    """What every client says when nothing answers and it may not start a daemon itself."""
    return (
        f"no Impasto daemon answers at {endpoint} and none is configured to start: start one "
        f"with `impasto daemon --endpoint {endpoint}`, or run `impasto install` again"
    )


def waiting_text(startup: Startup) -> str:
    """What every client says while it waits for a daemon to be ready."""
    where = startup.config.resolved_endpoint()
    if startup.process is not None:
        return f"Starting the Impasto daemon at {where} (loading the model; log: {startup.log})"
    return f"Waiting for the Impasto daemon at {where} to load the model"


def nothing_listening(endpoint: str) -> bool:
    """True when no daemon can be listening: an ipc:// endpoint whose socket file is absent.
    (For TCP there is no such shortcut: only an answer, or the lack of one, tells.)"""
    path = ipc_path(endpoint)
    return path is not None and not path.exists()


def default_log_path() -> Path:
    return runtime_dir() / "daemon.log"


def start_daemon(config: PluginConfig, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `config.daemon_command --endpoint ENDPOINT`, detached from the caller (its own
    session on POSIX, its own process group without a console on Windows), appending its output
    to `log_path`. Returns at once: the daemon announces readiness in hello_reply."""
    endpoint = config.resolved_endpoint()
    if not config.daemon_command:
        raise DaemonStartError(no_daemon_text(endpoint))
    log = log_path or default_log_path()
    try:
        ensure_private_dir(log.parent)
    except (OSError, ValueError) as e:
        raise DaemonStartError(f"cannot use the folder {log.parent}: {e}") from None
    command = [*config.daemon_command, "--endpoint", endpoint]
    detach: dict[str, Any]
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
        detach = {"creationflags": flags}
    else:
        detach = {"start_new_session": True}  # not killed with the editor's process group
    # Spinning OpenMP threads would make torch several times slower next to a busy editor.
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    try:
        with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"--- {stamp} {' '.join(command)}\n".encode())
            out.flush()
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=os.path.expanduser("~") if sys.platform == "win32" else "/",
                env=env,
                **detach,
            )
    except OSError as e:
        raise DaemonStartError(
            f"cannot start the daemon ({command[0]}): {e.strerror or e} (log: {log})"
        ) from None


@dataclass
class Startup:
    """One client bringing up a daemon that did not answer ready: started at most once, then
    given `start_timeout` to say it is ready. The CLI waits for it blocking, GIMP between its
    UI events, Krita from a timer; what counts as started, gone or late is decided here, so
    the three say the same thing."""

    config: PluginConfig
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float | None = None  # time.monotonic() when started (or when waiting began)

    def start(self) -> None:
        """Start the configured daemon (DaemonStartError: one line)."""
        self.process = start_daemon(self.config, self.log_path)
        self.started_at = time.monotonic()

    def wait_for_one(self) -> None:
        """Wait for a daemon that answers but still loads, or that someone else starts."""
        if self.started_at is None:
            self.started_at = time.monotonic()

    @property
    def log(self) -> Path:
        return self.log_path or default_log_path()

    def waited(self) -> float:
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def check(self) -> None:
        """Raise DaemonStartError when the daemon started here has exited, or when the wait
        has lasted longer than `start_timeout`."""
        if self.process is not None and self.process.poll() is not None:
            raise DaemonStartError(
                f"the Impasto daemon exited at once (status {self.process.returncode}); "
                f"see {self.log}"
            )
        if self.waited() > self.config.start_timeout:
            where = self.config.resolved_endpoint()
            see = f"; see {self.log}" if self.process is not None else ""
            raise DaemonStartError(
                f"the Impasto daemon at {where} was not ready within "
                f"{self.config.start_timeout:g} s{see}"
            )


def wait_until_ready(
    startup: Startup,
    hello: Callable[[], Mapping[str, Any] | None],
    pause: Callable[[float], None] = time.sleep,
    every: float = 0.5,
) -> Mapping[str, Any]:
    """Say hello until a daemon answers ready, and return its hello_reply. `hello` returns
    None while nothing answers; `pause` may run the caller's event loop (and raise to
    cancel). Raises DaemonStartError (Startup.check) when the daemon will not come."""
    startup.wait_for_one()
    while True:
        welcome = hello()
        if welcome is not None and welcome.get("ready"):
            return welcome
        startup.check()
        pause(every)


def connect_or_start(
    startup: Startup,
    hello: Callable[[float], Mapping[str, Any] | None],
    pause: Callable[[float], None] = time.sleep,
    on_wait: Callable[[str], None] = lambda text: None,
) -> Mapping[str, Any]:
    """The daemon at the configured endpoint, ready: the running one, or one started now. The
    one decision of the clients that may block (the command line, GIMP); Krita, which may not,
    makes the same from its timer with the same Startup and texts.

    `hello(timeout)` returns the daemon's hello_reply, or None when nothing answers within
    `timeout`. A daemon that answers but still loads is waited for, never started twice; with
    nothing listening, the configured command starts one. `on_wait` is told once what is
    awaited. Raises DaemonStartError (one line) when none can be started or it does not come.
    """
    endpoint = startup.config.resolved_endpoint()
    # No socket file: nothing listens, so do not wait for an answer that cannot come.
    welcome = None if nothing_listening(endpoint) else hello(PROBE_TIMEOUT)
    if welcome is not None and welcome.get("ready"):
        return welcome
    if welcome is None:
        startup.start()
    on_wait(waiting_text(startup))
    return wait_until_ready(startup, lambda: hello(READY_POLL), pause, READY_POLL)
