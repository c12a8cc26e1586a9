"""A job's life in the daemon once it is accepted (SPEC.md section 8): queued, started on a
free engine's worker thread (one per device), its events sent to the clients that watch it,
finished, kept for a while for clients that come back, then forgotten."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from impasto_protocol import constants as C
from impasto_protocol.codec import Message, encode, new_id

from .config import ServerConfig
from .jobs import JobRecord, JobState, Scheduler
from .peers import Peer, Peers, PreviewSlot
from .worker import Worker, WorkerEvent

log = logging.getLogger(__name__)


class JobBook:
    """Every job the daemon keeps, the queue, and the jobs the engines run."""

    def __init__(self, peers: Peers, kept_bytes: int) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.scheduler = Scheduler()
        self.workers: list[Worker] = []
        self.loaded: set[int] = set()  # workers whose engine has loaded: jobs may start there
        self.busy: dict[int, JobRecord] = {}  # worker index: the job it runs
        self._peers = peers
        self._kept_bytes = kept_bytes  # the memory for kept results (ServerConfig.max_kept_bytes)

    @property
    def ready(self) -> bool:
        return bool(self.loaded)

    @property
    def running(self) -> list[JobRecord]:
        """The running jobs, in the order of their workers."""
        return [self.busy[i] for i in sorted(self.busy)]

    # -- arriving and starting --------------------------------------------------------------

    def add(self, job: JobRecord, replaced: JobRecord | None) -> None:
        """An accepted job, watched by its submitter; `replaced` is cancelled for it."""
        job.watchers.add(job.client)
        self.jobs[job.id] = job
        if replaced is not None:
            self.cancel(replaced, C.REPLACED)
        if job.state is JobState.QUEUED:  # (a clip is queued when its frames are in)
            self.scheduler.push(job)

    def frames_complete(self, job: JobRecord) -> None:
        """A clip's last frame arrived: it is queued like any job."""
        job.state = JobState.QUEUED
        self.scheduler.push(job)

    def position(self, job: JobRecord) -> int:
        return self.scheduler.position(job) if job.state is JobState.QUEUED else 0

    def start_next(self) -> None:
        """Queued jobs to free engines, the scheduler's choice to the first free one; then,
        for stylizations still waiting, running trainings are asked to make way."""
        for worker in self.workers:
            if worker.index in self.loaded and worker.index not in self.busy:
                job = self.scheduler.pop()
                if job is None:
                    return
                self._start(job, worker)
        self._make_way()

    def _make_way(self) -> None:
        """A running clip or training makes way for a queued job of an earlier tier (a still
        before a clip, either before a training): one running job per waiting one."""
        waiting = self.scheduler.waiting_tiers()
        making_way = sum(1 for j in self.busy.values() if j.pause.is_set())
        for job in sorted(self.running, key=lambda j: -j.tier):  # trainings first
            if job.tier == 0 or job.pause.is_set() or job.cancel.is_set():
                continue
            if sum(1 for tier in waiting if tier < job.tier) - making_way <= 0:
                continue
            log.info("job %s: the %s makes way for a shorter job", job.id, job.kind)
            job.pause.set()  # checked every training step, and between a clip's frames
            making_way += 1

    def _start(self, job: JobRecord, worker: Worker) -> None:
        init = None
        s = job.stylization
        if s is not None and s.init_job is not None:
            source = self.jobs.get(s.init_job)
            init = source.last_image if source is not None else None
            if init is None:
                log.info("job %s: no image to warm-start from; starting from the content", job.id)
            else:
                job.warm_from = s.init_job
        job.state = JobState.RUNNING
        job.runs += 1
        if job.started is None:  # (a paused training keeps its first start)
            job.started = time.time()
        job.worker, job.device = worker.index, worker.device
        self.busy[worker.index] = job
        worker.start_job(job, init)

    # -- ending -----------------------------------------------------------------------------

    def cancel(self, job: JobRecord, reason: str) -> None:
        if job.state in (JobState.QUEUED, JobState.RECEIVING):
            if job.state is JobState.QUEUED:
                self.scheduler.remove(job)
            self.finish_cancelled(job, reason)
        elif job.state is JobState.RUNNING and not job.cancel.is_set():
            # The engine checks this every iteration; the worker then reports "stopped".
            job.cancel_reason = reason
            job.cancel.set()

    def cancel_all(self, reason: str) -> None:
        for job in list(self.jobs.values()):
            if not job.state.finished:
                if job.state is JobState.QUEUED:
                    self.scheduler.remove(job)
                self.finish_cancelled(job, reason)

    def finish_cancelled(self, job: JobRecord, reason: str) -> None:
        job.state = JobState.CANCELLED
        job.cancel_reason = job.cancel_reason or reason
        job.cancel.set()
        job.finished = time.time()
        if job.clip is not None:
            job.clip.release_inputs()
        log.info("job %s cancelled (%s)", job.id, job.cancel_reason)
        self.to_watchers(job, C.CANCELLED, job.cancelled_body())

    def fail(self, job: JobRecord, code: str, message: str, field_name: str | None = None) -> None:
        job.state = JobState.FAILED
        job.finished = time.time()
        job.error = (code, message, field_name)
        if job.clip is not None:
            job.clip.release_inputs()
        log.info("job %s failed: %s", job.id, message)
        self.to_watchers(job, C.ERROR, {"code": code, "message": message, "field": field_name})

    def fail_queued(self, code: str, message: str) -> None:
        for queued in list(self.scheduler.queued):
            self.scheduler.remove(queued)
            self.fail(queued, code, message)

    def client_silent(self, peer: Peer) -> None:
        """The client's attached jobs are cancelled; it may still hear their outcomes."""
        for job in list(self.jobs.values()):
            if job.client == peer.identity and not job.submit.detach and not job.state.finished:
                self.cancel(job, C.CLIENT_GONE)

    def client_gone(self, peer: Peer) -> None:
        """The client is dropped: it watches nothing, and its attached jobs are cancelled."""
        for job in list(self.jobs.values()):
            job.watchers.discard(peer.identity)
        self.client_silent(peer)

    def watched_by(self, identity: bytes) -> bool:
        return any(identity in j.watchers for j in self.jobs.values() if not j.state.finished)

    # -- the engine's events ----------------------------------------------------------------

    def on_job_event(self, ev: WorkerEvent) -> None:
        job = ev.job
        assert job is not None
        final = ev.kind not in ("progress", "preview", "frame")
        if final and self.busy.get(ev.worker) is job:
            del self.busy[ev.worker]  # that engine is free
        if ev.kind in ("paused", "stopped") and "checkpoint" in ev.body:
            job.checkpoint_step = int(ev.body["checkpoint"])
        if job.state.finished:  # cancelled by a shutdown while the engine still ran
            return
        if ev.kind == "paused":
            self._requeue(job, ev)
            return
        if ev.kind == "frame":
            self._frame(job, ev)
            return
        if ev.kind in ("progress", "preview"):
            job.iteration = int(ev.body.get("iteration", job.iteration))
            job.total = int(ev.body.get("total", job.total))
            if ev.kind == "progress":
                self.to_watchers(job, C.PROGRESS, ev.body)
            else:
                self._preview(job, ev)
            return
        # The job is over: result, stopped or failed.
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
            if job.clip is not None:
                job.clip.release_inputs()
            log.info("job %s done in %.2f s", job.id, body.get("elapsed", 0.0))
            for identity in list(job.watchers):
                peer = self._peers.get(identity)
                if peer is not None:
                    peer.previews.pop(job.id, None)
                    self._peers.send(peer, C.RESULT, job.id, job.result_message)
        elif ev.kind == "stopped":
            self.finish_cancelled(job, job.cancel_reason or C.BY_CLIENT)
        else:
            self.fail(
                job,
                ev.body.get("code", C.E_ENGINE),
                ev.body.get("message", ""),
                ev.body.get("field"),
            )
        job.watchers.clear()
        self.start_next()

    def _frame(self, job: JobRecord, ev: WorkerEvent) -> None:
        """A clip's frame: to every watcher (never dropped), and kept for later watchers; the
        picture is what the clip goes on from if it makes way."""
        assert job.clip is not None
        frames = encode(Message(C.FRAME, new_id(), ev.body, job=job.id, frames=ev.frames))
        job.clip.sent.append(frames)
        job.clip.keep_within(self._kept_bytes)
        job.clip.done += 1
        job.clip.last_output = ev.image
        job.iteration = job.clip.done
        for identity in list(job.watchers):
            peer = self._peers.get(identity)
            if peer is not None:
                self._peers.send(peer, C.FRAME, job.id, frames)

    def _requeue(self, job: JobRecord, ev: WorkerEvent) -> None:
        """A training or a clip that made way: queued again (behind the shorter jobs), to go
        on from its checkpoint or its last frame; cancelled instead if a cancel came while it
        paused."""
        job.pause.clear()
        job.ran_seconds = float(ev.body.get("elapsed", job.ran_seconds))
        if job.cancel.is_set():
            self.finish_cancelled(job, job.cancel_reason or C.BY_CLIENT)
            job.watchers.clear()
        else:
            job.state = JobState.QUEUED
            job.worker = job.device = None
            self.scheduler.push(job)
            log.info("job %s: paused at %d, queued again", job.id, job.iteration)
            body: dict[str, Any] = {"iteration": job.iteration, "total": job.total}
            body |= {"elapsed": job.ran_seconds, "paused": True}
            self.to_watchers(job, C.PROGRESS, body)
        self.start_next()

    # -- to the watchers --------------------------------------------------------------------

    def send_event(self, peer: Peer, mtype: str, job: JobRecord, body: dict[str, Any]) -> None:
        self._peers.send(peer, mtype, job.id, encode(Message(mtype, new_id(), body, job=job.id)))

    def to_watchers(self, job: JobRecord, mtype: str, body: dict[str, Any]) -> None:
        frames = encode(Message(mtype, new_id(), body, job=job.id))
        for identity in list(job.watchers):
            peer = self._peers.get(identity)
            if peer is not None:
                if mtype != C.PROGRESS:
                    peer.previews.pop(job.id, None)
                self._peers.send(peer, mtype, job.id, frames)

    def _preview(self, job: JobRecord, ev: WorkerEvent) -> None:
        frames = encode(Message(C.PREVIEW, new_id(), ev.body, job=job.id, frames=ev.frames))
        for identity in list(job.watchers):
            peer = self._peers.get(identity)
            if peer is None:
                continue
            slot = peer.previews.setdefault(job.id, PreviewSlot())
            if slot.in_flight:
                slot.waiting = frames
            else:
                slot.in_flight = True
                self._peers.send(peer, C.PREVIEW, job.id, frames)

    # -- forgetting -------------------------------------------------------------------------

    def expire(self, config: ServerConfig, present: Collection[bytes]) -> None:
        """Forget finished jobs past their time, their number or the memory budget."""
        self.scheduler.forget(present)
        now = time.time()
        finished = [j for j in self.jobs.values() if j.state.finished and j.finished]
        finished.sort(key=lambda j: j.finished or 0)
        excess = len(finished) - config.max_kept_jobs
        # Results are kept for clients that come back, within a memory budget: without one, a
        # daemon running large jobs would hold up to 256 full-size results for result_ttl.
        kept = {j.id: j.kept_bytes() for j in finished}
        total = sum(kept.values())
        for i, job in enumerate(finished):
            if (
                i < excess
                or total > config.max_kept_bytes
                or now - (job.finished or now) > config.result_ttl
            ):
                # A job that a queued job warm-starts from is kept until that one starts.
                if any(
                    (s := q.stylization) is not None and s.init_job == job.id
                    for q in self.scheduler.queued
                ):
                    continue
                total -= kept[job.id]
                del self.jobs[job.id]
