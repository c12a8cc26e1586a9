"""The daemon's socket loop: one ROUTER, one poll loop, one engine thread per device.

The loop's poll timeout is the heartbeat tick (the zguide's Paranoid Pirate pattern): receive,
decode, dispatch, then expire silent peers and old results and send heartbeats. Every request gets
exactly one answer; bad input gets an `error` naming the field and the loop goes on. Each engine
runs on a Worker thread, so ping and status are answered while jobs compute; with several
devices, each has a warm engine of its own and takes the next queued job when it is free.

Three parts do the work: peers.py (who the clients are, sending to them without blocking),
requests.py (the answer to each request type) and job_book.py (a job from queued to forgotten).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence

import zmq

from impasto_protocol import constants as C
from impasto_protocol.codec import Message, decode, encode, header_id, header_type, new_id
from impasto_protocol.errors import ProtocolError

from .backend import Backend, FieldError
from .binding import Binding
from .config import ServerConfig
from .job_book import JobBook
from .jobs import JobRecord, Scheduler
from .peers import Peer, Peers
from .requests import Requests
from .worker import WAKE_ENDPOINT, Worker, WorkerEvent

log = logging.getLogger(__name__)

STOP_GRACE = 0.3  # seconds a stopping daemon still answers (with `shutting_down`)


class Server:
    def __init__(
        self,
        backend: Backend | Sequence[Backend],
        config: ServerConfig,
        context: zmq.Context | None = None,
        devices: Sequence[str] | None = None,
    ) -> None:
        # One backend per device; the first answers for all (hello, settings checks, presets):
        # they are the same engine on other devices.
        self.backends = list(backend) if isinstance(backend, Sequence) else [backend]
        self.backend = self.backends[0]
        self.devices = list(devices) if devices else [""] * len(self.backends)
        if len(self.devices) != len(self.backends):
            raise ValueError("one device name per backend")
        self.config = config
        self.context = context or zmq.Context()
        self.started = time.time()
        self.exit_code = 0
        self._stop = threading.Event()
        self._binding = Binding(config, self.context)
        self.peers = Peers(self._binding.local, config.admins, self._peer_dropped)
        self.book = JobBook(self.peers, config.max_kept_bytes)
        self.requests = Requests(self, self.book, self.peers)
        self._sock: zmq.Socket | None = None
        self._wake: zmq.Socket | None = None
        self._workers: list[Worker] = []
        self._last_heartbeat = 0.0
        self._last_housekeeping = time.monotonic()

    # What tests and the status reply look at.
    @property
    def ready(self) -> bool:
        return self.book.ready

    @property
    def jobs(self) -> dict[str, JobRecord]:
        return self.book.jobs

    @property
    def scheduler(self) -> Scheduler:
        return self.book.scheduler

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- life cycle -------------------------------------------------------------------------

    def bind(self) -> None:
        """Take the endpoint (refusing one a live daemon holds), before the slow model load."""
        self._sock = self._binding.bind()
        self.peers.sock = self._sock
        self._wake = self.context.socket(zmq.PULL)
        self._wake.bind(WAKE_ENDPOINT)
        self._workers = [
            Worker(b, self.context, i, d)
            for i, (b, d) in enumerate(zip(self.backends, self.devices, strict=True))
        ]
        self.book.workers = self._workers
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Ask the loop to end (thread-safe; used by signal handlers and tests)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def serve_forever(self) -> int:
        if self._sock is None:
            self.bind()
        assert self._sock is not None and self._wake is not None
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake, zmq.POLLIN)
        tick_ms = max(10, int(self.config.heartbeat_interval * 1000 / 2))
        log.info("serving on %s", self.config.endpoint)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(tick_ms))
                if self._wake in ready:
                    self._drain_worker()
                if self._sock in ready:
                    self._drain_socket()
                self._housekeeping()
            # Requests already on their way get an answer (`shutting_down`), not silence.
            self.book.cancel_all(C.DAEMON_SHUTDOWN)
            deadline = time.monotonic() + STOP_GRACE
            while time.monotonic() < deadline:
                ready = dict(poller.poll(20))
                if self._wake in ready:
                    self._drain_worker()
                if self._sock in ready:
                    self._drain_socket()
                self.peers.flush()
        finally:
            self._close()
        return self.exit_code

    def _close(self) -> None:
        self.book.cancel_all(C.DAEMON_SHUTDOWN)
        self.peers.flush()
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            # Let the engine threads leave torch first (one may be loading the model, or ending
            # a cancelled job): a thread still in torch's C++ code when the interpreter exits
            # aborts the process ("terminate called without an active exception", SIGABRT).
            worker.join(timeout=30)
        if self._sock is not None:
            self._sock.close(linger=500)
        if self._wake is not None:
            self._wake.close(linger=0)
        self._binding.release()
        log.info("stopped")

    # -- receiving --------------------------------------------------------------------------

    def _drain_socket(self) -> None:
        assert self._sock is not None
        for _ in range(1000):  # bounded, so housekeeping runs under a flood too
            try:
                parts = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._receive(parts)

    def _receive(self, parts: list[zmq.Frame]) -> None:
        identity = parts[0].bytes
        peer = self.peers.get(identity)
        now = time.monotonic()
        if peer is None:
            peer = self.peers.add(identity, parts[-1], now)
        peer.last_seen = now
        if peer.silent_since is not None:
            log.info("client %s is back", peer.name)
            peer.silent_since = None
        try:
            msg = decode([p.buffer for p in parts[1:]])
        except ProtocolError as e:
            if len(parts) > 1 and header_type(parts[1].buffer) in C.NOTICES:
                log.debug("dropped a broken notice from %s: %s", peer.name, e)
                return  # notices are never answered (SPEC.md section 5)
            ref = header_id(parts[1].buffer) if len(parts) > 1 else None
            self.requests.reply_error(peer, e.code, e.message, e.field, ref)
            return
        handler = self.requests.handlers.get(msg.type)
        if handler is None:
            self.requests.reply_error(
                peer, C.E_UNKNOWN_TYPE, f"unknown message type {msg.type!r}", "type", msg.id
            )
            return
        try:
            handler(peer, msg)
        except ProtocolError as e:
            self.requests.reply_error(peer, e.code, e.message, e.field, msg.id, msg.job)
        except FieldError as e:
            self.requests.reply_error(
                peer, e.code, e.message, f"settings.{e.field}" if e.field else "settings", msg.id
            )
        except Exception:
            log.exception("bug while handling %s", msg.type)
            self.requests.reply_error(
                peer, C.E_INTERNAL, "internal error; see the daemon's log", None, msg.id
            )

    # -- the engine's events ----------------------------------------------------------------

    def _drain_worker(self) -> None:
        assert self._wake is not None
        while True:
            try:
                self._wake.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        for worker in self._workers:
            while not worker.events.empty():
                self._on_worker_event(worker.events.get_nowait())

    def _on_worker_event(self, ev: WorkerEvent) -> None:
        if ev.kind == "loaded":
            self.book.loaded.add(ev.worker)
            if len(self.book.loaded) == len(self._workers):
                log.info("ready")
            else:
                log.info("engine %d ready (%s)", ev.worker, self.devices[ev.worker] or "-")
            self.book.start_next()
        elif ev.kind == "load_failed":
            # Any engine: the daemon was asked for that device, and says so rather than run
            # on fewer than asked.
            self.exit_code = 2
            self.book.fail_queued(C.E_ENGINE, f"the engine failed to load: {ev.body['message']}")
            self.stop()
        else:
            self.book.on_job_event(ev)

    # -- housekeeping -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self.peers.flush()
        timeout = self.config.heartbeat_timeout
        # Time this loop did not run (the engine thread held the interpreter, reading a model
        # file for a second; the process was stopped) does not count against the clients: they
        # may have been talking all along, or, in the same process, been stalled with us.
        stalled = now - self._last_housekeeping - self.config.heartbeat_interval
        self._last_housekeeping = now
        if stalled > 0:
            for peer in self.peers:
                peer.last_seen = min(now, peer.last_seen + stalled)
        for peer in self.peers:
            if peer.silent_since is None and now - peer.last_seen > timeout:
                log.info("client %s went silent; cancelling its jobs", peer.name)
                self._silenced(peer, now)
            elif peer.silent_since is not None and now - peer.silent_since > timeout:
                if not self.book.watched_by(peer.identity):
                    self.peers.drop(peer)
        if now - self._last_heartbeat >= self.config.heartbeat_interval:
            self._last_heartbeat = now
            beat = encode(Message(C.HEARTBEAT, new_id()))
            for peer in self.peers:
                if not peer.outbox and peer.silent_since is None:
                    self.peers.try_send(peer, beat)
        self.book.expire(self.config, self.peers.identities())

    def _silenced(self, peer: Peer, now: float) -> None:
        """No word from a client for the heartbeat timeout: it crashed, was killed (GIMP
        SIGKILLs cancelled plug-ins) or is stuck. Its attached jobs are cancelled."""
        peer.silent_since = now
        peer.outbox.clear()
        peer.previews.clear()
        self.book.client_silent(peer)

    def _peer_dropped(self, peer: Peer) -> None:
        """Peers.drop's word that a client is gone: its attached jobs are cancelled."""
        self.book.client_gone(peer)
