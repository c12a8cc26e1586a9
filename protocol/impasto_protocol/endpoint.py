"""Where the daemon listens by default, and which endpoints count as local.

The default is a per-user IPC socket in a directory only its owner can enter (0700), so other
users of the machine cannot reach the daemon. Where ZeroMQ has no IPC transport (pyzmq's Windows
wheels), it is TCP on the loopback interface.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import zmq

DEFAULT_TCP_ENDPOINT = "tcp://127.0.0.1:50571"
ENV_ENDPOINT = "IMPASTO_ENDPOINT"


def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR/impasto, else <tmp>/impasto-<uid>: per user, not created here."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return Path(base) / "impasto"
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"impasto-{uid}"


def default_endpoint() -> str:
    """$IMPASTO_ENDPOINT, else the per-user IPC socket, else loopback TCP."""
    env = os.environ.get(ENV_ENDPOINT)
    if env:
        return env
    if zmq.has("ipc") and sys.platform != "win32":
        return f"ipc://{runtime_dir() / 'daemon.sock'}"
    return DEFAULT_TCP_ENDPOINT


class EndpointError(ValueError):
    """An endpoint that cannot be used, with the reason."""


def ensure_private_dir(path: Path) -> None:
    """Create `path` with mode 0700, or check that an existing one is ours and private: a socket
    in a directory that another user controls could be swapped for theirs."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise EndpointError(f"{path} belongs to another user (uid {st.st_uid})")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def ipc_path(endpoint: str) -> Path | None:
    return Path(endpoint[len("ipc://") :]) if endpoint.startswith("ipc://") else None


@dataclass(frozen=True)
class Parsed:
    transport: str  # ipc, tcp, inproc
    host: str  # for tcp
    local: bool  # only this machine can reach it


def parse(endpoint: str) -> Parsed:
    transport, sep, rest = endpoint.partition("://")
    if not sep or not rest:
        raise EndpointError(f"{endpoint!r} is not an endpoint like ipc://PATH or tcp://HOST:PORT")
    if transport in ("ipc", "inproc"):
        return Parsed(transport, "", True)
    if transport != "tcp":
        raise EndpointError(f"transport {transport!r} is not supported (use ipc or tcp)")
    host, _, port = rest.rpartition(":")
    if not host or not port:
        raise EndpointError(f"{endpoint!r} needs a host and a port: tcp://HOST:PORT")
    host = host.strip("[]")
    return Parsed("tcp", host, _is_loopback(host))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or an interface: could be reachable from elsewhere
