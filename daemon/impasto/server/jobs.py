"""Job records and the queue: priorities first, then fairness between clients, then age."""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.messages import Submit, Train

from .clip_state import ClipState


class JobState(str, Enum):
    RECEIVING = "receiving"  # a clip whose frames are still arriving
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


_sequence = itertools.count()


def new_job_id() -> str:
    """128 random bits: a job id says nothing about the daemon or its other jobs, and cannot
    be guessed (ownership, not secrecy, is what protects a job; this only adds depth)."""
    return secrets.token_hex(16)


@dataclass
class JobRecord:
    id: str
    client: bytes  # the submitting connection's routing id: heartbeats, fairness, limits
    owner: str  # who may see and act on the job (peers.Peer.owner): a key, "local" or "anyone"
    # The request that made it: a stylization, (1.6) a training or (1.7) a clip.
    submit: Submit | Train | ClipRequest
    settings: Any  # checked by the backend
    submit_ref: str  # the id of the submit (or train) request
    state: JobState = JobState.QUEUED
    urgent: bool = False  # a replacement: runs before everything else
    seq: int = field(default_factory=lambda: next(_sequence))
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    iteration: int = 0
    total: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str | None = None
    error: tuple[str, str, str | None] | None = None  # code, message, field
    # The delivered result, or the image a cancelled job had reached: a warm start's source.
    last_image: np.ndarray | None = None  # H x W x C uint16 samples (see keep_image)
    warm_from: str | None = None  # the job whose image this one started from
    worker: int | None = None  # the engine that runs (or ran) it: an index into the devices
    device: str | None = None  # that engine's device
    result_message: Any = None  # the encoded result, kept for watchers that come later
    watchers: set[bytes] = field(default_factory=set)
    # A training makes way for stylization jobs: the socket loop sets `pause`, the trainer
    # saves a checkpoint and the job is queued again, to resume from it.
    pause: threading.Event = field(default_factory=threading.Event)
    runs: int = 0  # times started (a paused training starts again)
    ran_seconds: float = 0.0  # running time before its last pause
    checkpoint_step: int | None = None  # a training's saved checkpoint, once it has one
    clip: ClipState | None = None  # a clip's frames in and out

    @property
    def training(self) -> bool:
        return isinstance(self.submit, Train)

    @property
    def kind(self) -> str:
        """As a job summary says it: `stylize`, `train` (1.6) or `clip` (1.7)."""
        if isinstance(self.submit, Train):
            return "train"
        return "clip" if self.clip is not None else "stylize"

    @property
    def tier(self) -> int:
        """The queue's first order after replacements: stills, then clips, then trainings
        (the longer the work, the later; a running clip or training makes way for a job of
        an earlier tier)."""
        return {"stylize": 0, "clip": 1, "train": 2}[self.kind]

    @property
    def stylization(self) -> Submit | None:
        """The submit, for a stylization job (None for a training)."""
        return self.submit if isinstance(self.submit, Submit) else None

    def kept_bytes(self) -> int:
        """The memory a finished job holds for later `watch`es, warm starts and `inputs_from`:
        the encoded result, the last image and the inputs (counted for every job that holds
        them, although a replacement shares its source's)."""
        n = sum(len(f) for f in self.result_message) if self.result_message is not None else 0
        s = self.submit
        if isinstance(s, ClipRequest):
            assert self.clip is not None
            return n + self.clip.held_bytes()
        if isinstance(s, Train):
            images = [s.style, *s.photos, s.validation]
        else:
            images = [s.content, *s.styles, s.mask, s.init_image]
        n += sum(p.nbytes for p in images if p is not None)
        if self.last_image is not None:
            n += self.last_image.nbytes
        return n

    def keep_image(self, image: np.ndarray | None) -> None:
        """Keep a float picture as a warm start's source, in 16 bits per sample: half the
        memory of floats, and finer than the optimizer's steps."""
        if image is None:
            self.last_image = None
            return
        self.last_image = np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)

    def cancelled_body(self) -> dict[str, Any]:
        """The `cancelled` event's body: why, and where a training's checkpoint stands (a
        later train request of the same name resumes from it)."""
        body: dict[str, Any] = {"reason": self.cancel_reason}
        if self.checkpoint_step is not None:
            body["checkpoint"] = self.checkpoint_step
        return body

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job": self.id,
            "kind": self.kind,
            "owner": self.owner,
            "state": self.state.value,
            "label": self.submit.label,
            "priority": self.submit.priority,
            "detach": self.submit.detach,
            "submitted": self.submitted,
            "started": self.started,
            "finished": self.finished,
            "iteration": self.iteration,
            "total": self.total,
        }
        if isinstance(self.submit, Train):
            out["name"] = self.submit.name
        if self.worker is not None:
            out["worker"], out["device"] = self.worker, self.device
        if self.cancel_reason:
            out["reason"] = self.cancel_reason
        if self.error:
            out["error"] = {"code": self.error[0], "message": self.error[1], "field": self.error[2]}
        return out


class Scheduler:
    """Chooses the next job. Clips wait behind stills and trainings behind both (they run for
    minutes or hours, and an editor waits on a still). Among the highest priority, the client
    whose last job started longest ago goes first, so one client's batch cannot starve
    another's single edit."""

    def __init__(self) -> None:
        self.queued: list[JobRecord] = []
        self._last_start: dict[bytes, int] = {}
        self._starts = itertools.count()
        self._positions: dict[str, int] | None = None  # order()'s, until the queue changes

    def __len__(self) -> int:
        return len(self.queued)

    def push(self, job: JobRecord) -> None:
        self.queued.append(job)
        self._positions = None

    def remove(self, job: JobRecord) -> None:
        self.queued.remove(job)
        self._positions = None

    def position(self, job: JobRecord) -> int:
        """1-based place in the order successive pops would take the queue now."""
        if self._positions is None:  # status asks for every queued job's: order them once
            self._positions = {j.id: i for i, j in enumerate(self.order(), 1)}
        return self._positions[job.id]

    def order(self) -> list[JobRecord]:
        """The queue in the order successive pops take it, were nothing else to arrive. Not a
        sort by `_key`: each start sends its client behind the others of its priority."""
        last = dict(self._last_start)
        clock = max(last.values(), default=-1) + 1
        tiers: dict[tuple[int, int, int], dict[bytes, deque[JobRecord]]] = {}
        for job in sorted(self.queued, key=lambda j: j.seq):
            tier = self._key(job)[:3]
            tiers.setdefault(tier, {}).setdefault(job.client, deque()).append(job)
        out: list[JobRecord] = []
        for tier in sorted(tiers):
            owners = tiers[tier]
            heap = [(last.get(o, -1), jobs[0].seq, o) for o, jobs in owners.items()]
            heapq.heapify(heap)
            while heap:
                _, _, owner = heapq.heappop(heap)
                out.append(owners[owner].popleft())
                last[owner], clock = clock, clock + 1
                if owners[owner]:
                    heapq.heappush(heap, (last[owner], owners[owner][0].seq, owner))
        return out

    def pop(self) -> JobRecord | None:
        if not self.queued:
            return None
        job = min(self.queued, key=self._key)
        self.queued.remove(job)
        self._positions = None
        self._last_start[job.client] = next(self._starts)
        return job

    def forget(self, present: Collection[bytes]) -> None:
        """Drop the start times of clients that are gone and have nothing queued. Each
        connection is a new client (ZeroMQ routing ids are per connection), so a daemon that
        scripts reach with one `impasto submit` after another would otherwise keep one entry
        per call for as long as it runs."""
        if len(self._last_start) <= len(present):
            return  # cheap on every tick; what is left is bounded by the clients present
        waiting = {j.client for j in self.queued}
        for owner in [o for o in self._last_start if o not in present and o not in waiting]:
            del self._last_start[owner]

    @property
    def remembered_clients(self) -> int:
        return len(self._last_start)

    def waiting_tiers(self) -> list[int]:
        """The tier of each queued job: a running clip or training makes way for one of an
        earlier tier (JobRecord.tier)."""
        return [j.tier for j in self.queued]

    def _key(self, job: JobRecord) -> tuple[int, int, int, int, int]:
        return (
            0 if job.urgent else 1,
            job.tier,
            -job.submit.priority,
            self._last_start.get(job.client, -1),
            job.seq,
        )
