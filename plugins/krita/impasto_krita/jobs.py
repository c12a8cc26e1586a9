"""Requests that become jobs (a submit, a train) and the daemon's answers, routed to them.

The link hands each request to a JobRouter, which gives back a JobHandle; the daemon's answer
(`accepted`, or a refusal) and then the job's events reach the handle's listener as typed
objects: the protocol's Progress, Preview, Result and Cancelled (impasto_protocol.messages), a
clip's FrameDone and ClipDone, or a RemoteError when the job failed. The `frames` batches of a
clip are followed too: an error to one ends its clip as a RemoteError event. Nobody outside
this module matches message ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from impasto_protocol import (
    Cancelled,
    ClipDone,
    FrameDone,
    Message,
    Preview,
    Progress,
    RemoteError,
    Result,
)
from impasto_protocol.constants import ERROR, EVENTS
from impasto_protocol.messages import job_event, remote_error

log = logging.getLogger(__name__)

# What a job's listener hears after `accepted`; the last four end the job.
Event: TypeAlias = Progress | Preview | FrameDone | Result | ClipDone | Cancelled | RemoteError
ENDS = (Result, ClipDone, Cancelled, RemoteError)


class JobListener(Protocol):
    def job_accepted(self, handle: JobHandle, position: int) -> None:
        """The daemon took the request: `handle.job` is its job id; `position` its place in
        the queue (1-based: 1 runs next, at once when nothing else runs; 0: not said)."""
        ...

    def job_refused(self, handle: JobHandle, text: str) -> None:
        """The daemon did not take the request; `text` says why, in one line."""
        ...

    def job_event(self, handle: JobHandle, event: Event) -> None: ...


@dataclass(eq=False)
class JobHandle:
    """One request, and the job it became once accepted."""

    request: str  # the request's message id
    listener: JobListener
    job: str | None = None  # the job id, once accepted
    ended: bool = False  # refused, or its last event came


class JobRouter:
    def __init__(self, mine: set[str]) -> None:
        self.mine = mine  # every job id accepted (the link's "busy" count leaves them out)
        self._requests: dict[str, JobHandle] = {}
        self._jobs: dict[str, JobHandle] = {}
        self._batches: dict[str, JobHandle] = {}  # a clip's `frames` requests, by id

    def add(self, request: str, listener: JobListener) -> JobHandle:
        handle = JobHandle(request, listener)
        self._requests[request] = handle
        return handle

    def follow_batches(self, handle: JobHandle, requests: list[str]) -> None:
        """The `frames` requests that carry the clip job of `handle`: their replies are
        taken here, and an error to one is the clip's end (it takes no frame after it)."""
        for request in requests:
            self._batches[request] = handle

    def forget(self, handle: JobHandle) -> None:
        """Nothing more for this handle: answers and events that still come are dropped."""
        self._requests.pop(handle.request, None)
        if handle.job is not None:
            self._jobs.pop(handle.job, None)
        for request in [r for r, h in self._batches.items() if h is handle]:
            del self._batches[request]

    def route(self, msg: Message) -> bool:
        """Deliver an answer or a job event to its handle; False when it is neither."""
        if msg.ref is not None and msg.ref in self._requests:
            self._answer(self._requests.pop(msg.ref), msg)
            return True
        if msg.ref is not None and msg.ref in self._batches:
            handle = self._batches.pop(msg.ref)
            if msg.type == ERROR:
                self._end(handle, remote_error(msg))
            return True
        if msg.job is not None and msg.ref is None and msg.job in self._jobs:
            self._event(self._jobs[msg.job], msg)
            return True
        return False

    def _answer(self, handle: JobHandle, msg: Message) -> None:
        if msg.type != "accepted" or msg.job is None:
            text = str(remote_error(msg)) if msg.type == ERROR else f"unexpected {msg.type}"
            handle.ended = True
            handle.listener.job_refused(handle, text)
            return
        handle.job = msg.job
        self._jobs[msg.job] = handle
        self.mine.add(msg.job)
        position = msg.body.get("position")
        handle.listener.job_accepted(handle, position if isinstance(position, int) else 0)

    def _event(self, handle: JobHandle, msg: Message) -> None:
        if msg.type not in (*EVENTS, ERROR):
            return  # an event of a newer protocol version: ignored (SPEC.md section 1)
        event: Event
        try:
            event = job_event(msg)
        except RemoteError as e:
            event = e
        except Exception as e:
            log.warning("ignoring a bad event from the daemon: %s", e)
            return
        if isinstance(event, ENDS):
            self._end(handle, event)
        else:
            handle.listener.job_event(handle, event)

    def _end(self, handle: JobHandle, event: Event) -> None:
        handle.ended = True
        self.forget(handle)
        handle.listener.job_event(handle, event)
