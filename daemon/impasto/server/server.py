"""The daemon's socket loop: one ROUTER, one poll loop, one engine thread.

The loop's poll timeout is the heartbeat tick (the zguide's Paranoid Pirate pattern): receive,
decode, dispatch, then expire silent peers and old results and send heartbeats. Every request gets
exactly one answer; bad input gets an `error` naming the field and the loop goes on. The engine
runs on the Worker thread, so ping and status are answered while a job computes.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.codec import Message, decode, encode, header_id, header_type, new_id
from impasto_protocol.endpoint import parse as parse_endpoint
from impasto_protocol.errors import ProtocolError

from .. import __version__
from .backend import Backend, FieldError, SettingsRequest
from .binding import Binding
from .config import ServerConfig
from .imaging import from_pil
from .jobs import JobRecord, JobState, Scheduler, new_job_id
from .worker import WAKE_ENDPOINT, Worker, WorkerEvent

log = logging.getLogger(__name__)

# Who owns a job (SPEC.md section 13): an authenticated client's CurveZMQ public key; without
# CurveZMQ, every client on a local endpoint is the one local user (the IPC socket is private to
# the user running the daemon), and every client of an --insecure endpoint is "anyone".
LOCAL_OWNER = "local"
ANYONE = "anyone"

MAX_OUTBOX = 10_000  # messages waiting for a peer that does not read; then it is dropped
STOP_GRACE = 0.3  # seconds a stopping daemon still answers (with `shutting_down`)


@dataclass
class PreviewSlot:
    """Latest wins: at most one preview in flight (sent, not acknowledged) per job and peer,
    and at most one waiting; a newer preview replaces the waiting one."""

    in_flight: bool = False
    waiting: list[Any] | None = None


@dataclass
class Peer:
    identity: bytes
    last_seen: float
    local: bool  # on this machine (IPC or loopback), or authenticated by CurveZMQ
    name: str = "?"
    user: str | None = None  # the CurveZMQ public key, when authenticated
    owner: str = LOCAL_OWNER  # whose jobs it sees: see LOCAL_OWNER
    admin: bool = False  # sees and may act on everyone's jobs (`impasto daemon --admin`)
    previews: dict[str, PreviewSlot] = field(default_factory=dict)
    outbox: deque[tuple[str, str | None, list[Any]]] = field(default_factory=deque)
    # Set when the peer went silent: its jobs were cancelled, and their outcomes are still
    # sent to it (best effort), so a client that was only stalled hears why they ended.
    silent_since: float | None = None


class Server:
    def __init__(
        self, backend: Backend, config: ServerConfig, context: zmq.Context | None = None
    ) -> None:
        self.backend = backend
        self.config = config
        self.context = context or zmq.Context()
        self.started = time.time()
        self.ready = False
        self.exit_code = 0
        self.jobs: dict[str, JobRecord] = {}
        self.peers: dict[bytes, Peer] = {}
        self.scheduler = Scheduler()
        self.running: JobRecord | None = None
        self._stop = threading.Event()
        self._binding = Binding(config, self.context)
        self._sock: zmq.Socket | None = None
        self._wake: zmq.Socket | None = None
        self._worker: Worker | None = None
        self._last_heartbeat = 0.0
        self._last_housekeeping = time.monotonic()
        self._handlers: dict[str, Callable[[Peer, Message], None]] = {
            C.HELLO: self._on_hello,
            C.SUBMIT: self._on_submit,
            C.WATCH: self._on_watch,
            C.CANCEL: self._on_cancel,
            C.STATUS: self._on_status,
            C.PING: self._on_ping,
            C.SHUTDOWN: self._on_shutdown,
            C.PRESETS: self._on_presets,
            C.HEARTBEAT: lambda peer, msg: None,
            C.ACK: self._on_ack,
        }

    # -- life cycle -------------------------------------------------------------------------

    def bind(self) -> None:
        """Take the endpoint (refusing one a live daemon holds), before the slow model load."""
        self._sock = self._binding.bind()
        self._wake = self.context.socket(zmq.PULL)
        self._wake.bind(WAKE_ENDPOINT)
        self._worker = Worker(self.backend, self.context)
        self._worker.start()

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
            self._cancel_all(C.DAEMON_SHUTDOWN)
            deadline = time.monotonic() + STOP_GRACE
            while time.monotonic() < deadline:
                ready = dict(poller.poll(20))
                if self._wake in ready:
                    self._drain_worker()
                if self._sock in ready:
                    self._drain_socket()
                self._flush_outboxes()
        finally:
            self._close()
        return self.exit_code

    def _cancel_all(self, reason: str) -> None:
        for job in list(self.jobs.values()):
            if not job.state.finished:
                if job.state is JobState.QUEUED:
                    self.scheduler.remove(job)
                self._finish_cancelled(job, reason)
        self.running = None

    def _close(self) -> None:
        self._cancel_all(C.DAEMON_SHUTDOWN)
        self._flush_outboxes()
        if self._worker is not None:
            self._worker.stop()
            # Let the engine thread leave torch first (it may be loading the model, or ending a
            # cancelled job): a thread still in torch's C++ code when the interpreter exits
            # aborts the process ("terminate called without an active exception", SIGABRT).
            self._worker.join(timeout=30)
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
            peer = self._new_peer(identity, parts[-1], now)
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
            self._reply_error(peer, e.code, e.message, e.field, ref)
            return
        handler = self._handlers.get(msg.type)
        if handler is None:
            self._reply_error(
                peer, C.E_UNKNOWN_TYPE, f"unknown message type {msg.type!r}", "type", msg.id
            )
            return
        try:
            handler(peer, msg)
        except ProtocolError as e:
            self._reply_error(peer, e.code, e.message, e.field, msg.id, msg.job)
        except FieldError as e:
            self._reply_error(
                peer, e.code, e.message, f"settings.{e.field}" if e.field else "settings", msg.id
            )
        except Exception:
            log.exception("bug while handling %s", msg.type)
            self._reply_error(
                peer, C.E_INTERNAL, "internal error; see the daemon's log", None, msg.id
            )

    def _new_peer(self, identity: bytes, frame: zmq.Frame, now: float) -> Peer:
        user = _frame_property(frame, "User-Id") or None
        address = _frame_property(frame, "Peer-Address")
        local = self._binding.local or user is not None or _is_loopback_address(address)
        owner = user or (LOCAL_OWNER if local else ANYONE)
        peer = Peer(identity, now, local, user=user, owner=owner)
        peer.admin = owner in self.config.admins
        self.peers[identity] = peer
        log.debug("new peer %s (address %r, user %r)", identity.hex(), address, user)
        return peer

    # -- requests ---------------------------------------------------------------------------

    def _on_hello(self, peer: Peer, msg: Message) -> None:
        version = msg.body.get("version")
        if version is not None and not (
            isinstance(version, list)
            and len(version) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in version)
        ):
            raise ProtocolError(C.E_INVALID_FIELD, "expected [major, minor]", "version")
        if isinstance(version, list) and version[0] != C.VERSION[0]:
            raise ProtocolError(
                C.E_VERSION,
                f"protocol {version[0]} is not supported; this daemon speaks "
                f"{C.VERSION[0]}.{C.VERSION[1]}",
                "version",
            )
        name = msg.body.get("client")
        if isinstance(name, str):
            peer.name = _printable(name[:100])  # it goes into the log
        cfg = self.config
        body = {
            "version": list(C.VERSION),
            "daemon": f"impasto {__version__}",
            "ready": self.ready,
            "state": "ready" if self.ready else "starting",
            "heartbeat_interval": cfg.heartbeat_interval,
            "heartbeat_timeout": cfg.heartbeat_timeout,
            "result_ttl": cfg.result_ttl,
            "limits": cfg.limits.to_wire(),
            "can_shutdown": peer.local,
            **self.backend.describe(),
        }
        self._reply(peer, msg, C.HELLO_REPLY, body)

    def _on_submit(self, peer: Peer, msg: Message) -> None:
        if self._stop.is_set():
            raise ProtocolError(C.E_SHUTTING_DOWN, "the daemon is shutting down")
        sub = M.Submit.from_message(msg)
        cfg = self.config
        images = [
            ("content", sub.content),
            *((f"styles[{i}]", s) for i, s in enumerate(sub.styles)),
        ]
        images += [(n, p) for n, p in (("mask", sub.mask), ("init_image", sub.init_image)) if p]
        for name, p in images:
            if p.width * p.height > cfg.max_input_pixels:
                raise ProtocolError(
                    C.E_TOO_LARGE,
                    f"{p.width}x{p.height} is over the daemon's limit of "
                    f"{cfg.max_input_pixels} pixels per image",
                    name,
                )
        if len(sub.styles) > cfg.max_styles:
            raise ProtocolError(C.E_TOO_LARGE, f"at most {cfg.max_styles} styles", "styles")
        if sub.mask is not None and (sub.mask.width, sub.mask.height) != (
            sub.content.width,
            sub.content.height,
        ):
            raise ProtocolError(
                C.E_INVALID_FIELD,
                f"mask is {sub.mask.width}x{sub.mask.height} but the content is "
                f"{sub.content.width}x{sub.content.height}",
                "mask",
            )
        if sub.init_job is not None:
            self._visible_job(peer, sub.init_job, "init_job")
        request = SettingsRequest(
            settings=dict(sub.settings),
            content_size=(sub.content.width, sub.content.height),
            warm_start=sub.init_job is not None or sub.init_image is not None,
            n_styles=len(sub.styles),
            limits=cfg.limits,
        )
        try:
            checked = self.backend.check_settings(request)
        except FieldError as e:
            code = e.code
            where = f"settings.{e.field}" if e.field else "settings"
            raise ProtocolError(code, e.message, where) from None
        replaced = self._replaceable(peer, sub.replace)
        mine = [j for j in self.jobs.values() if j.client == peer.identity and not j.state.finished]
        if len(mine) - (replaced is not None) >= cfg.max_jobs_per_client:
            raise ProtocolError(
                C.E_BUSY, f"this client already has {len(mine)} unfinished jobs", None
            )
        if len(self.scheduler) >= cfg.max_queue:
            raise ProtocolError(C.E_BUSY, f"the queue is full ({cfg.max_queue} jobs)", None)
        job = JobRecord(
            id=new_job_id(),
            client=peer.identity,
            owner=peer.owner,
            submit=sub,
            settings=checked,
            submit_ref=msg.id,
            urgent=replaced is not None,
        )
        job.watchers.add(peer.identity)
        self.jobs[job.id] = job
        if replaced is not None:
            self._cancel(replaced, C.REPLACED)
        self.scheduler.push(job)
        log.info(
            "job %s from %s: %dx%d, %d style(s)%s",
            job.id,
            peer.name,
            sub.content.width,
            sub.content.height,
            len(sub.styles),
            f", replaces {replaced.id}" if replaced else "",
        )
        self._reply(
            peer,
            msg,
            C.ACCEPTED,
            {"state": job.state.value, "position": self.scheduler.position(job)},
            job=job.id,
        )
        self._start_next()

    def _replaceable(self, peer: Peer, job_id: str | None) -> JobRecord | None:
        if job_id is None:
            return None
        job = self._visible_job(peer, job_id, "replace")
        return None if job.state.finished else job

    def _on_watch(self, peer: Peer, msg: Message) -> None:
        job = self._job(peer, msg)
        self._reply(
            peer,
            msg,
            C.ACCEPTED,
            {"state": job.state.value, "position": self._position(job)},
            job=job.id,
        )
        if job.state is JobState.DONE and job.result_message is not None:
            self._send(peer, C.RESULT, job.id, job.result_message)
        elif job.state is JobState.CANCELLED:
            self._send_event(peer, C.CANCELLED, job, {"reason": job.cancel_reason})
        elif job.state is JobState.FAILED and job.error is not None:
            code, message, field_name = job.error
            self._send_event(
                peer, C.ERROR, job, {"code": code, "message": message, "field": field_name}
            )
        else:
            job.watchers.add(peer.identity)

    def _on_cancel(self, peer: Peer, msg: Message) -> None:
        job = self._job(peer, msg)
        before = job.state
        if not before.finished:
            self._cancel(job, C.BY_CLIENT)
        self._reply(
            peer,
            msg,
            C.CANCEL_REPLY,
            {"state": before.value, "cancelled": not before.finished},
            job=job.id,
        )

    def _on_status(self, peer: Peer, msg: Message) -> None:
        if msg.job is not None:
            job = self._job(peer, msg)
            summary = {**job.summary(), "position": self._position(job)}
            self._reply(peer, msg, C.STATUS_REPLY, {"job": summary}, job=job.id)
            return
        mine = [j for j in self.jobs.values() if self._visible(peer, j)]
        counts = {s.value: 0 for s in JobState}
        for j in mine:
            counts[j.state.value] += 1
        running = self.running if self.running and self._visible(peer, self.running) else None
        body = {
            "ready": self.ready,
            "uptime": time.time() - self.started,
            "clients": sum(1 for p in self.peers.values() if p.silent_since is None),
            "counts": counts,
            "queue": len(self.scheduler),  # everyone's: how long a new job would wait
            "running": running.id if running else None,
            "jobs": [
                {**j.summary(), "position": self._position(j)}
                for j in sorted(mine, key=lambda j: j.seq)
            ],
            **self.backend_stats(),
        }
        self._reply(peer, msg, C.STATUS_REPLY, body)

    def backend_stats(self) -> dict[str, Any]:
        stats = getattr(self.backend, "stats", None)
        return {"engine": stats()} if callable(stats) else {}

    def _on_presets(self, peer: Peer, msg: Message) -> None:
        """The built-in styles' swatches, rendered by the backend when it loaded."""
        swatches: list[Any] = getattr(self.backend, "swatches", list)()
        pixels = [from_pil(image.convert("RGB"), "RGB") for image in swatches]
        body = {
            "ready": self.ready,
            "count": len(pixels),
            "swatches": [p.descriptor(i) for i, p in enumerate(pixels)],
        }
        self._reply(peer, msg, C.PRESETS_REPLY, body, frames=[p.data for p in pixels])

    def _on_ping(self, peer: Peer, msg: Message) -> None:
        self._reply(peer, msg, C.PING_REPLY, {"time": time.time()}, frames=msg.frames)

    def _on_shutdown(self, peer: Peer, msg: Message) -> None:
        if not peer.local:
            raise ProtocolError(
                C.E_NOT_ALLOWED, "shutdown is only allowed to local or authenticated clients"
            )
        log.info("shutdown requested by %s", peer.name)
        self._reply(
            peer,
            msg,
            C.SHUTDOWN_REPLY,
            {"jobs_cancelled": sum(1 for j in self.jobs.values() if not j.state.finished)},
        )
        self.stop()

    def _on_ack(self, peer: Peer, msg: Message) -> None:
        slot = peer.previews.get(msg.job or "")
        if slot is None:
            return
        slot.in_flight = False
        if slot.waiting is not None:
            frames, slot.waiting = slot.waiting, None
            slot.in_flight = True
            self._send(peer, C.PREVIEW, msg.job, frames)

    def _job(self, peer: Peer, msg: Message) -> JobRecord:
        return self._visible_job(peer, M.require_job(msg), "job")

    def _visible_job(self, peer: Peer, job_id: str, field_name: str) -> JobRecord:
        """The job, if this peer may see it. Someone else's job gets the very answer a job
        that does not exist gets, so that ids cannot be probed."""
        job = self.jobs.get(job_id)
        if job is None or not self._visible(peer, job):
            raise ProtocolError(
                C.E_UNKNOWN_JOB,
                f"no job {job_id} (finished jobs are kept {self.config.result_ttl:g} s)",
                field_name,
            )
        return job

    @staticmethod
    def _visible(peer: Peer, job: JobRecord) -> bool:
        return peer.admin or job.owner == peer.owner

    def _position(self, job: JobRecord) -> int:
        return self.scheduler.position(job) if job.state is JobState.QUEUED else 0

    # -- jobs -------------------------------------------------------------------------------

    def _cancel(self, job: JobRecord, reason: str) -> None:
        if job.state is JobState.QUEUED:
            self.scheduler.remove(job)
            self._finish_cancelled(job, reason)
        elif job.state is JobState.RUNNING and not job.cancel.is_set():
            # The engine checks this every iteration; the worker then reports "stopped".
            job.cancel_reason = reason
            job.cancel.set()

    def _finish_cancelled(self, job: JobRecord, reason: str) -> None:
        job.state = JobState.CANCELLED
        job.cancel_reason = job.cancel_reason or reason
        job.cancel.set()
        job.finished = time.time()
        log.info("job %s cancelled (%s)", job.id, job.cancel_reason)
        self._to_watchers(job, C.CANCELLED, {"reason": job.cancel_reason})

    def _start_next(self) -> None:
        if not self.ready or self.running is not None or self._worker is None:
            return
        job = self.scheduler.pop()
        if job is None:
            return
        init = None
        if job.submit.init_job is not None:
            source = self.jobs.get(job.submit.init_job)
            init = source.last_image if source is not None else None
            if init is None:
                log.info("job %s: no image to warm-start from; starting from the content", job.id)
            else:
                job.warm_from = job.submit.init_job
        job.state = JobState.RUNNING
        job.started = time.time()
        self.running = job
        self._worker.start_job(job, init)

    def _drain_worker(self) -> None:
        assert self._wake is not None and self._worker is not None
        while True:
            try:
                self._wake.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        while not self._worker.events.empty():
            self._on_worker_event(self._worker.events.get_nowait())

    def _on_worker_event(self, ev: WorkerEvent) -> None:
        if ev.kind == "loaded":
            self.ready = True
            log.info("ready")
            self._start_next()
            return
        if ev.kind == "load_failed":
            self.exit_code = 2
            for queued in list(self.scheduler.queued):
                self.scheduler.remove(queued)
                self._fail(queued, C.E_ENGINE, f"the engine failed to load: {ev.body['message']}")
            self.stop()
            return
        job = ev.job
        assert job is not None
        if job.state.finished:  # cancelled by a shutdown while the engine still ran
            if ev.kind not in ("progress", "preview") and self.running is job:
                self.running = None
            return
        if ev.kind in ("progress", "preview"):
            job.iteration = int(ev.body.get("iteration", job.iteration))
            job.total = int(ev.body.get("total", job.total))
            if ev.kind == "progress":
                self._to_watchers(job, C.PROGRESS, ev.body)
            else:
                self._preview(job, ev)
            return
        # The job is over: result, stopped or failed.
        self.running = None
        job.finished = time.time()
        if ev.kind == "result":
            job.state = JobState.DONE
            body = {
                **ev.body,
                "queued": (job.started or 0) - job.submitted,
                "warm_start": job.warm_from,
            }
            msg = Message(C.RESULT, new_id(), body, job=job.id, frames=ev.frames)
            job.result_message = encode(msg)
            log.info("job %s done in %.2f s", job.id, body.get("elapsed", 0.0))
            for identity in list(job.watchers):
                peer = self.peers.get(identity)
                if peer is not None:
                    peer.previews.pop(job.id, None)
                    self._send(peer, C.RESULT, job.id, job.result_message)
        elif ev.kind == "stopped":
            self._finish_cancelled(job, job.cancel_reason or C.BY_CLIENT)
        else:
            self._fail(
                job,
                ev.body.get("code", C.E_ENGINE),
                ev.body.get("message", ""),
                ev.body.get("field"),
            )
        job.watchers.clear()
        self._start_next()

    def _fail(self, job: JobRecord, code: str, message: str, field_name: str | None = None) -> None:
        job.state = JobState.FAILED
        job.finished = time.time()
        job.error = (code, message, field_name)
        log.info("job %s failed: %s", job.id, message)
        self._to_watchers(job, C.ERROR, {"code": code, "message": message, "field": field_name})

    def _preview(self, job: JobRecord, ev: WorkerEvent) -> None:
        frames = encode(Message(C.PREVIEW, new_id(), ev.body, job=job.id, frames=ev.frames))
        for identity in list(job.watchers):
            peer = self.peers.get(identity)
            if peer is None:
                continue
            slot = peer.previews.setdefault(job.id, PreviewSlot())
            if slot.in_flight:
                slot.waiting = frames
            else:
                slot.in_flight = True
                self._send(peer, C.PREVIEW, job.id, frames)

    # -- sending ----------------------------------------------------------------------------

    def _reply(
        self,
        peer: Peer,
        request: Message,
        mtype: str,
        body: dict[str, Any],
        job: str | None = None,
        frames: list[Any] | None = None,
    ) -> None:
        msg = Message(mtype, new_id(), body, ref=request.id, job=job, frames=frames or [])
        self._send(peer, mtype, job, encode(msg))

    def _reply_error(
        self,
        peer: Peer,
        code: str,
        message: str,
        field_name: str | None,
        ref: str | None,
        job: str | None = None,
    ) -> None:
        # Field names and messages may quote the client's strings: no newlines into the log.
        where, what = _printable(field_name or ""), _printable(message)
        log.info("error to %s: %s %s: %s", peer.name, code, where, what)
        msg = M.error(code, message, field_name, ref=ref, job=job)
        self._send(peer, C.ERROR, job, encode(msg))

    def _send_event(self, peer: Peer, mtype: str, job: JobRecord, body: dict[str, Any]) -> None:
        self._send(peer, mtype, job.id, encode(Message(mtype, new_id(), body, job=job.id)))

    def _to_watchers(self, job: JobRecord, mtype: str, body: dict[str, Any]) -> None:
        frames = encode(Message(mtype, new_id(), body, job=job.id))
        for identity in list(job.watchers):
            peer = self.peers.get(identity)
            if peer is not None:
                if mtype != C.PROGRESS:
                    peer.previews.pop(job.id, None)
                self._send(peer, mtype, job.id, frames)

    def _send(self, peer: Peer, mtype: str, job: str | None, frames: list[Any]) -> None:
        """Send now if the peer's pipe has room, else queue. Queued progress events of a job are
        replaced by newer ones; results, errors and replies are never dropped."""
        if peer.silent_since is not None:
            self._try_send(peer, frames)  # nothing is queued for a peer that may be dead
            return
        if peer.outbox:
            self._queue(peer, mtype, job, frames)
            return
        if not self._try_send(peer, frames):
            self._queue(peer, mtype, job, frames)

    def _queue(self, peer: Peer, mtype: str, job: str | None, frames: list[Any]) -> None:
        if mtype == C.PROGRESS:
            for i in range(len(peer.outbox) - 1, -1, -1):
                kind, queued_job, _ = peer.outbox[i]
                if kind == C.PROGRESS and queued_job == job:
                    peer.outbox[i] = (mtype, job, frames)
                    return
        peer.outbox.append((mtype, job, frames))
        if len(peer.outbox) > MAX_OUTBOX:
            log.warning("peer %s reads nothing; dropping it", peer.name)
            self._drop_peer(peer)

    def _try_send(self, peer: Peer, frames: list[Any]) -> bool:
        assert self._sock is not None
        try:
            self._sock.send_multipart([peer.identity, *frames], zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as e:
            if e.errno == errno.EHOSTUNREACH:  # the peer disconnected
                self._drop_peer(peer)
                return True
            raise

    def _flush_outboxes(self) -> None:
        for peer in list(self.peers.values()):
            while peer.outbox and peer.identity in self.peers:
                if not self._try_send(peer, peer.outbox[0][2]):
                    break
                if peer.outbox:
                    peer.outbox.popleft()

    # -- housekeeping -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self._flush_outboxes()
        timeout = self.config.heartbeat_timeout
        # Time this loop did not run (the engine thread held the interpreter, reading a model
        # file for a second; the process was stopped) does not count against the clients: they
        # may have been talking all along, or, in the same process, been stalled with us.
        stalled = now - self._last_housekeeping - self.config.heartbeat_interval
        self._last_housekeeping = now
        if stalled > 0:
            for peer in self.peers.values():
                peer.last_seen = min(now, peer.last_seen + stalled)
        for peer in list(self.peers.values()):
            if peer.silent_since is None and now - peer.last_seen > timeout:
                log.info("client %s went silent; cancelling its jobs", peer.name)
                self._silenced(peer, now)
            elif peer.silent_since is not None and now - peer.silent_since > timeout:
                if not any(
                    peer.identity in j.watchers for j in self.jobs.values() if not j.state.finished
                ):
                    self._drop_peer(peer)
        if now - self._last_heartbeat >= self.config.heartbeat_interval:
            self._last_heartbeat = now
            beat = encode(Message(C.HEARTBEAT, new_id()))
            for peer in list(self.peers.values()):
                if not peer.outbox and peer.silent_since is None:
                    self._try_send(peer, beat)
        self._expire_jobs()

    def _silenced(self, peer: Peer, now: float) -> None:
        """No word from a client for the heartbeat timeout: it crashed, was killed (GIMP
        SIGKILLs cancelled plug-ins) or is stuck. Its attached jobs are cancelled."""
        peer.silent_since = now
        peer.outbox.clear()
        peer.previews.clear()
        for job in list(self.jobs.values()):
            if job.client == peer.identity and not job.submit.detach and not job.state.finished:
                self._cancel(job, C.CLIENT_GONE)

    def _drop_peer(self, peer: Peer) -> None:
        """A client is gone: its attached jobs are cancelled, its queued messages dropped."""
        if self.peers.pop(peer.identity, None) is None:
            return
        peer.outbox.clear()
        for job in list(self.jobs.values()):
            job.watchers.discard(peer.identity)
            if job.client == peer.identity and not job.submit.detach and not job.state.finished:
                self._cancel(job, C.CLIENT_GONE)

    def _expire_jobs(self) -> None:
        self.scheduler.forget(self.peers.keys())
        now = time.time()
        finished = [j for j in self.jobs.values() if j.state.finished and j.finished]
        finished.sort(key=lambda j: j.finished or 0)
        excess = len(finished) - self.config.max_kept_jobs
        # Results are kept for clients that come back, within a memory budget: without one, a
        # daemon running large jobs would hold up to 256 full-size results for result_ttl.
        kept = {j.id: j.kept_bytes() for j in finished}
        total = sum(kept.values())
        for i, job in enumerate(finished):
            if (
                i < excess
                or total > self.config.max_kept_bytes
                or now - (job.finished or now) > self.config.result_ttl
            ):
                # A job that a queued job warm-starts from is kept until that one starts.
                if any(q.submit.init_job == job.id for q in self.scheduler.queued):
                    continue
                total -= kept[job.id]
                del self.jobs[job.id]


def _frame_property(frame: zmq.Frame, name: str) -> str:
    try:
        return str(frame.get(name))
    except (zmq.ZMQError, KeyError, AttributeError, UnicodeDecodeError):
        return ""


def _printable(text: str) -> str:
    """`text` for a log line: control characters (newlines above all) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _is_loopback_address(address: str) -> bool:
    if not address:
        return False
    try:
        return parse_endpoint(f"tcp://{address}:0").local
    except ValueError:
        return False
