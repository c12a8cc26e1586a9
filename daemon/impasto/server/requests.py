"""The daemon's answer to each request type (SPEC.md section 6).

Every handler either replies or raises ProtocolError (or the backend's FieldError), which the
socket loop turns into the one `error` reply. Jobs are visible only to their owner and to
administrators (SPEC.md section 13): someone else's job is answered as a missing one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.codec import Message, encode, is_version, new_id
from impasto_protocol.errors import ProtocolError
from impasto_protocol.limits import Limits
from impasto_protocol.pixels import Pixels

from .. import __version__
from .backend import Backend, FieldError, SettingsRequest, TrainingRequest
from .clip_requests import ClipRequests
from .config import ServerConfig
from .imaging import to_pixels
from .job_book import JobBook
from .jobs import JobRecord, JobState, new_job_id
from .peers import Peer, Peers, printable
from .refusals import check_input_size, refusal

log = logging.getLogger(__name__)


class Daemon(Protocol):
    """What the request handlers use of the daemon (server.Server is one): its settings, its
    engines and its life, nothing of the socket loop."""

    @property
    def config(self) -> ServerConfig: ...

    @property
    def backend(self) -> Backend:
        """The first engine's: it answers for all (they are the same engine elsewhere)."""

    @property
    def backends(self) -> Sequence[Backend]: ...

    @property
    def started(self) -> float:
        """time.time() when the daemon started."""

    @property
    def stopping(self) -> bool: ...

    def stop(self) -> None:
        """End the loop (after the reply in hand is sent)."""


class Requests:
    """The request handlers, by message type."""

    def __init__(self, server: Daemon, book: JobBook, peers: Peers) -> None:
        self.server = server
        self.book = book
        self.peers = peers
        clips = ClipRequests(self)
        self.handlers = {
            C.HELLO: self.hello,
            C.SUBMIT: self.submit,
            C.WATCH: self.watch,
            C.CANCEL: self.cancel,
            C.STATUS: self.status,
            C.PING: self.ping,
            C.SHUTDOWN: self.shutdown,
            C.PRESETS: self.presets,
            C.ESTIMATE: self.estimate,
            C.TRAIN: self.train,
            C.CLIP: clips.clip,
            C.FRAMES: clips.frames,
            C.HEARTBEAT: lambda peer, msg: None,
            C.ACK: self.ack,
        }

    def hello(self, peer: Peer, msg: Message) -> None:
        version = msg.body.get("version")
        if version is not None and not is_version(version):
            raise ProtocolError(C.E_INVALID_FIELD, "expected [major, minor]", "version")
        if is_version(version) and version[0] != C.VERSION[0]:
            raise ProtocolError(
                C.E_VERSION,
                f"protocol {version[0]} is not supported; this daemon speaks "
                f"{C.VERSION[0]}.{C.VERSION[1]}",
                "version",
            )
        name = msg.body.get("client")
        if isinstance(name, str):
            peer.name = printable(name[:100])  # it goes into the log
        cfg = self.server.config
        body = {
            "version": list(C.VERSION),
            "daemon": f"impasto {__version__}",
            "ready": self.book.ready,
            "state": "ready" if self.book.ready else "starting",
            "heartbeat_interval": cfg.heartbeat_interval,
            "heartbeat_timeout": cfg.heartbeat_timeout,
            "result_ttl": cfg.result_ttl,
            "limits": cfg.limits.to_wire(),
            "can_shutdown": peer.local,
            **self.server.backend.describe(),
            "devices": len(self.server.backends),
        }
        self.reply(peer, msg, C.HELLO_REPLY, body)

    def submit(self, peer: Peer, msg: Message) -> None:
        sub = self.submitted(peer, msg)
        content = sub.content
        assert content is not None  # from_message requires it without inputs_from
        limits = self.server.config.limits
        _check_images(sub, content, limits)
        if sub.init_job is not None:
            self.stylization_job(peer, sub.init_job, "init_job")
        request = SettingsRequest(
            settings=dict(sub.settings),
            content_size=(content.width, content.height),
            warm_start=sub.init_job is not None or sub.init_image is not None,
            n_styles=len(sub.styles),
            limits=limits,
        )
        try:
            checked = self.server.backend.check_settings(request)
        except FieldError as e:
            raise refusal(e) from None
        replaced = self.replaceable(peer, sub.replace)
        self.check_room(peer, replaced)
        job = self.new_job(peer, msg, sub, checked, urgent=replaced is not None)
        log.info(
            "job %s from %s: %dx%d, %d style(s)%s",
            job.id,
            peer.name,
            content.width,
            content.height,
            len(sub.styles),
            f", replaces {replaced.id}" if replaced else "",
        )
        self.queue(peer, msg, job, replaced)

    def submitted(self, peer: Peer, msg: Message) -> M.Submit:
        """The submit as read from the wire, with the images of `inputs_from` when it names
        an earlier job."""
        if self.server.stopping:
            raise ProtocolError(C.E_SHUTTING_DOWN, "the daemon is shutting down")
        sub = M.Submit.from_message(msg)
        if sub.inputs_from is not None:
            # The images of an earlier job of this owner's (kept as long as that job is, 8.4):
            # a strength change sends settings, not the layer again.
            source = self.stylization_job(peer, sub.inputs_from, "inputs_from")
            sub = replace(sub, content=source.content, styles=list(source.styles), mask=source.mask)
        return sub

    def queue(self, peer: Peer, msg: Message, job: JobRecord, replaced: JobRecord | None) -> None:
        """An accepted job into the book, `accepted` to its client, and perhaps a start."""
        self.book.add(job, replaced)
        self.reply(
            peer,
            msg,
            C.ACCEPTED,
            {"state": job.state.value, "position": self.book.scheduler.position(job)},
            job=job.id,
        )
        self.book.start_next()

    def train(self, peer: Peer, msg: Message) -> None:
        """1.6: queue a training, which writes a trained style to the daemon's library."""
        if self.server.stopping:
            raise ProtocolError(C.E_SHUTTING_DOWN, "the daemon is shutting down")
        if not self.server.backend.trains:
            raise ProtocolError(C.E_UNKNOWN_TYPE, "this daemon does not train styles", "type")
        request = M.Train.from_message(msg)
        limits = self.server.config.limits
        images = [("style", request.style)]
        images += [(f"photos[{i}]", p) for i, p in enumerate(request.photos)]
        if request.validation is not None:
            images.append(("validation", request.validation))
        for name, p in images:
            check_input_size(name, p.width, p.height, limits.max_input_pixels)
        for other in self.book.jobs.values():
            s = other.submit
            if isinstance(s, M.Train) and s.name == request.name and not other.state.finished:
                raise ProtocolError(
                    C.E_BUSY, f"a training of {request.name!r} is already queued or running", "name"
                )
        asked = TrainingRequest(
            settings=dict(request.settings),
            name=request.name,
            overwrite=request.overwrite,
            style_size=(request.style.width, request.style.height),
            limits=limits,
        )
        try:
            checked = self.server.backend.check_training(asked)
        except FieldError as e:  # (its field is the wire path: `settings.steps`, `name`)
            raise ProtocolError(e.code, e.message, e.field) from None
        self.check_room(peer, None)
        job = self.new_job(peer, msg, request, checked)
        log.info("job %s from %s: train %r", job.id, peer.name, request.name)
        self.queue(peer, msg, job, None)

    @staticmethod
    def new_job(
        peer: Peer,
        msg: Message,
        request: M.Submit | M.Train | ClipRequest,
        settings: Any,
        **more: Any,
    ) -> JobRecord:
        """The record of a job this peer's request makes: `settings` as the backend checked
        them, `more` the record's other fields."""
        return JobRecord(
            id=new_job_id(),
            client=peer.identity,
            owner=peer.owner,
            submit=request,
            settings=settings,
            submit_ref=msg.id,
            **more,
        )

    def check_room(self, peer: Peer, replaced: JobRecord | None) -> None:
        """`busy` when this client has its most unfinished jobs, or the queue is full."""
        limits = self.server.config.limits
        mine = [
            j for j in self.book.jobs.values() if j.client == peer.identity and not j.state.finished
        ]
        if len(mine) - (replaced is not None) >= limits.max_jobs_per_client:
            raise ProtocolError(
                C.E_BUSY, f"this client already has {len(mine)} unfinished jobs", None
            )
        if len(self.book.scheduler) >= limits.max_queue:
            raise ProtocolError(C.E_BUSY, f"the queue is full ({limits.max_queue} jobs)", None)

    def replaceable(self, peer: Peer, job_id: str | None) -> JobRecord | None:
        if job_id is None:
            return None
        job = self.visible_job(peer, job_id, "replace")
        if job.stylization is None:
            raise ProtocolError(C.E_INVALID_FIELD, f"job {job_id} is a {job.kind} job", "replace")
        return None if job.state.finished else job

    def stylization_job(self, peer: Peer, job_id: str, field_name: str) -> M.Submit:
        """The submit of a visible stylization job (a training or a clip has no one image to
        start from)."""
        job = self.visible_job(peer, job_id, field_name)
        if job.stylization is None:
            raise ProtocolError(C.E_INVALID_FIELD, f"job {job_id} is a {job.kind} job", field_name)
        return job.stylization

    def watch(self, peer: Peer, msg: Message) -> None:
        job = self.job(peer, msg)
        self.reply(
            peer,
            msg,
            C.ACCEPTED,
            {"state": job.state.value, "position": self.book.position(job)},
            job=job.id,
        )
        for frame in job.clip.sent if job.clip is not None else ():
            self.peers.send(peer, C.FRAME, job.id, frame)  # a clip's frames done so far
        if job.state is JobState.DONE and job.result_message is not None:
            self.peers.send(peer, C.RESULT, job.id, job.result_message)
        elif job.state is JobState.CANCELLED:
            self.book.send_event(peer, C.CANCELLED, job, job.cancelled_body())
        elif job.state is JobState.FAILED and job.error is not None:
            code, message, field_name = job.error
            self.book.send_event(
                peer, C.ERROR, job, {"code": code, "message": message, "field": field_name}
            )
        else:
            job.watchers.add(peer.identity)

    def cancel(self, peer: Peer, msg: Message) -> None:
        job = self.job(peer, msg)
        before = job.state
        if not before.finished:
            self.book.cancel(job, C.BY_CLIENT)
        self.reply(
            peer,
            msg,
            C.CANCEL_REPLY,
            {"state": before.value, "cancelled": not before.finished},
            job=job.id,
        )

    def status(self, peer: Peer, msg: Message) -> None:
        if msg.job is not None:
            job = self.job(peer, msg)
            summary = {**job.summary(), "position": self.book.position(job)}
            self.reply(peer, msg, C.STATUS_REPLY, {"job": summary}, job=job.id)
            return
        mine = [j for j in self.book.jobs.values() if self.visible(peer, j)]
        counts = {s.value: 0 for s in JobState}
        for j in mine:
            counts[j.state.value] += 1
        running = [j for j in self.book.running if self.visible(peer, j)]
        workers = [
            {
                "device": w.device,
                "ready": w.index in self.book.loaded,
                "job": next((j.id for j in running if j.worker == w.index), None),
            }
            for w in self.book.workers
        ]
        body = {
            "ready": self.book.ready,
            "uptime": time.time() - self.server.started,
            "clients": sum(1 for p in self.peers if p.silent_since is None),
            "counts": counts,
            "queue": len(self.book.scheduler),  # everyone's: how long a new job would wait
            "running": running[0].id if running else None,
            "workers": workers,
            "jobs": [
                {**j.summary(), "position": self.book.position(j)}
                for j in sorted(mine, key=lambda j: j.seq)
            ],
            "engine": self.server.backend.stats(),
        }
        self.reply(peer, msg, C.STATUS_REPLY, body)

    def presets(self, peer: Peer, msg: Message) -> None:
        """The built-in styles' swatches, rendered by the backend when it loaded."""
        pixels = [to_pixels(image, "RGB", "u8") for image in self.server.backend.swatches()]
        # 1.5: the trained styles of the daemon's library, their swatches in the frames after
        # the presets' (the backend reads a style file again only when it changed).
        trained = self.server.backend.trained_styles()
        own = [to_pixels(image, "RGB", "u8") for _, image in trained]
        body = {
            "ready": self.book.ready,
            "count": len(pixels),
            "swatches": [p.descriptor(i) for i, p in enumerate(pixels)],
            "trained_styles": [
                {**info, "swatch": p.descriptor(len(pixels) + i)}
                for i, ((info, _), p) in enumerate(zip(trained, own, strict=True))
            ],
        }
        frames = [p.data for p in pixels] + [p.data for p in own]
        self.reply(peer, msg, C.PRESETS_REPLY, body, frames=frames)

    def estimate(self, peer: Peer, msg: Message) -> None:
        """A job's output size, time and memory without sending it (checked as a submit)."""
        limits = self.server.config.limits
        asked = M.EstimateRequest.from_message(msg, limits.max_styles)
        check_input_size("width", asked.width, asked.height, limits.max_input_pixels)
        request = SettingsRequest(
            settings=dict(asked.settings),
            content_size=(asked.width, asked.height),
            warm_start=asked.warm_start,
            n_styles=asked.styles,
            limits=limits,
        )
        try:
            body = self.server.backend.estimate(request)
        except FieldError as e:
            raise refusal(e) from None
        self.reply(peer, msg, C.ESTIMATE_REPLY, body)

    def ping(self, peer: Peer, msg: Message) -> None:
        self.reply(peer, msg, C.PING_REPLY, {"time": time.time()}, frames=msg.frames)

    def shutdown(self, peer: Peer, msg: Message) -> None:
        if not peer.local:
            raise ProtocolError(
                C.E_NOT_ALLOWED, "shutdown is only allowed to local or authenticated clients"
            )
        log.info("shutdown requested by %s", peer.name)
        self.reply(
            peer,
            msg,
            C.SHUTDOWN_REPLY,
            {"jobs_cancelled": sum(1 for j in self.book.jobs.values() if not j.state.finished)},
        )
        self.server.stop()

    def ack(self, peer: Peer, msg: Message) -> None:
        slot = peer.previews.get(msg.job or "")
        if slot is None:
            return
        slot.in_flight = False
        if slot.waiting is not None:
            frames, slot.waiting = slot.waiting, None
            slot.in_flight = True
            self.peers.send(peer, C.PREVIEW, msg.job, frames)

    def job(self, peer: Peer, msg: Message) -> JobRecord:
        return self.visible_job(peer, M.require_job(msg), "job")

    def visible_job(self, peer: Peer, job_id: str, field_name: str) -> JobRecord:
        """The job, if this peer may see it. Someone else's job gets the very answer a job
        that does not exist gets, so that ids cannot be probed."""
        job = self.book.jobs.get(job_id)
        if job is None or not self.visible(peer, job):
            raise ProtocolError(
                C.E_UNKNOWN_JOB,
                f"no job {job_id} (finished jobs are kept {self.server.config.result_ttl:g} s)",
                field_name,
            )
        return job

    @staticmethod
    def visible(peer: Peer, job: JobRecord) -> bool:
        return peer.admin or job.owner == peer.owner

    def reply(
        self,
        peer: Peer,
        request: Message,
        mtype: str,
        body: dict[str, Any],
        job: str | None = None,
        frames: list[Any] | None = None,
    ) -> None:
        msg = Message(mtype, new_id(), body, ref=request.id, job=job, frames=frames or [])
        self.peers.send(peer, mtype, job, encode(msg))

    def reply_error(
        self,
        peer: Peer,
        code: str,
        message: str,
        field_name: str | None,
        ref: str | None,
        job: str | None = None,
    ) -> None:
        # Field names and messages may quote the client's strings: no newlines into the log.
        where, what = printable(field_name or ""), printable(message)
        log.info("error to %s: %s %s: %s", peer.name, code, where, what)
        msg = M.error(code, message, field_name, ref=ref, job=job)
        self.peers.send(peer, C.ERROR, job, encode(msg))


def _check_images(sub: M.Submit, content: Pixels, limits: Limits) -> None:
    """A submit's images within the daemon's limits, and its mask the content's size."""
    images = [
        ("content", content),
        *((f"styles[{i}]", s) for i, s in enumerate(sub.styles)),
    ]
    images += [(n, p) for n, p in (("mask", sub.mask), ("init_image", sub.init_image)) if p]
    for name, p in images:
        check_input_size(name, p.width, p.height, limits.max_input_pixels)
    if len(sub.styles) > limits.max_styles:
        raise ProtocolError(C.E_TOO_LARGE, f"at most {limits.max_styles} styles", "styles")
    if sub.mask is not None and (sub.mask.width, sub.mask.height) != (
        content.width,
        content.height,
    ):
        raise ProtocolError(
            C.E_INVALID_FIELD,
            f"mask is {sub.mask.width}x{sub.mask.height} but the content is "
            f"{content.width}x{content.height}",
            "mask",
        )
