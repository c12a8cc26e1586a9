"""Taking the endpoint: one daemon per endpoint, private by default, CurveZMQ when remote."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from impasto_protocol.endpoint import (
    EndpointError,
    ensure_private_dir,
    ipc_path,
    parse,
    runtime_dir,
)

from .config import ServerConfig

log = logging.getLogger(__name__)


class AlreadyRunning(EndpointError):
    pass


class Binding:
    def __init__(self, config: ServerConfig, context: zmq.Context) -> None:
        self.config = config
        self.context = context
        self.local = parse(config.endpoint).local
        self._lock: IO[str] | None = None
        self._auth: ThreadAuthenticator | None = None
        self._path: Path | None = None

    def bind(self) -> zmq.Socket:
        cfg = self.config
        curve = cfg.curve_secret_file is not None
        if not self.local and not curve and not cfg.insecure:
            raise EndpointError(
                f"{cfg.endpoint} can be reached from other machines: give --curve-key and "
                "--allow (see `impasto keys`), or --insecure to accept anyone"
            )
        path = ipc_path(cfg.endpoint)
        if path is not None:
            self._take_ipc_path(path)
        sock = self.context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unknown peer is an error, not a drop
        sock.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_bytes)
        sock.linger = 0
        if curve:
            self._start_curve(sock)
        try:
            sock.bind(cfg.endpoint)
        except zmq.ZMQError as e:
            sock.close(linger=0)
            self.release()
            if e.errno == zmq.EADDRINUSE:
                raise AlreadyRunning(
                    f"{cfg.endpoint} is already in use: is another daemon running there? "
                    "(`impasto ping --endpoint ...` tells)"
                ) from None
            raise EndpointError(f"cannot bind {cfg.endpoint}: {e}") from None
        if path is not None:
            os.chmod(path, 0o600)
        return sock

    def _take_ipc_path(self, path: Path) -> None:
        """ZeroMQ silently replaces an existing IPC socket file, which would orphan a running
        daemon; an exclusive lock next to the socket makes the second daemon refuse instead."""
        if path.parent == runtime_dir():
            ensure_private_dir(path.parent)
        elif not path.parent.is_dir():
            raise EndpointError(f"{path.parent} does not exist")
        self._path = path
        import fcntl  # POSIX only, like IPC itself

        lock = open(f"{path}.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise AlreadyRunning(
                f"another daemon is already serving {self.config.endpoint}"
            ) from None
        self._lock = lock

    def _start_curve(self, sock: zmq.Socket) -> None:
        cfg = self.config
        assert cfg.curve_secret_file is not None
        public, secret = zmq.auth.load_certificate(str(cfg.curve_secret_file))
        if secret is None:
            raise EndpointError(f"{cfg.curve_secret_file} holds no secret key")
        allow = cfg.curve_allow_dir
        if allow is None or not allow.is_dir():
            raise EndpointError("CurveZMQ needs --allow DIR, a folder of allowed client keys")
        self._auth = ThreadAuthenticator(self.context)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(allow))
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True
        log.info("CurveZMQ on; allowed client keys from %s", allow)

    def release(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._lock is not None:
            if self._path is not None:
                self._path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None
