"""The blocking client, for scripts and for plug-ins that own their process (GIMP).

    with Client() as client:
        job = client.submit(Submit(Pixels.open("photo.jpg"), [Pixels.open("style.jpg")]))
        for event in job.events():
            ...

Waiting calls send heartbeats and watch for the daemon's; when the daemon stays silent longer
than `timeout` they raise ConnectionLost and reset the socket, so the next call can reach a
restarted daemon. A script that holds an attached job must keep calling into the client (or
submit with detach=True): a silent client is taken for gone and its jobs are cancelled.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import zmq

from . import messages as M
from .clip_messages import ClipRequest, batches
from .codec import Message
from .constants import (
    ACCEPTED,
    ERROR,
    ESTIMATE_REPLY,
    EVENTS,
    FRAMES_REPLY,
    HELLO_REPLY,
    PING_REPLY,
    PRESETS_REPLY,
    STATUS_REPLY,
)
from .dealer import Connection
from .errors import ConnectionLost, JobCancelled, ProtocolError
from .messages import Cancelled, ClipDone, JobEvent, Preview, Result, Submit
from .pixels import Pixels


class Client(Connection):
    def __init__(self, endpoint: str | None = None, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self.welcome: dict[str, Any] | None = None
        self._replies: dict[str, Message] = {}
        self._job_events: dict[str, deque[Message]] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """Negotiate the version; returns the daemon's capabilities (see SPEC.md)."""
        reply = self.request(M.hello(self.name), HELLO_REPLY)
        self.welcome = reply.body
        self.apply_welcome(reply.body)
        return reply.body

    def ping(self, payload: list[bytes] | None = None) -> float:
        """Round-trip time in seconds. Payload frames are echoed back (a link test)."""
        start = time.perf_counter()
        reply = self.request(M.ping(payload), PING_REPLY)
        if len(reply.frames) != len(payload or []):
            raise ProtocolError("malformed", "ping_reply did not echo the payload")
        return time.perf_counter() - start

    def submit(self, job: Submit) -> JobHandle:
        return self._queue(job.to_message())

    def train(self, request: M.Train) -> JobHandle:
        """Queue a training (protocol 1.6): progress counts steps, previews show the
        validation picture, and the result's image is that picture painted by the trained
        network, which is then in the daemon's library as `request.name`."""
        return self._queue(request.to_message())

    def clip(self, request: ClipRequest, frames: Iterable[Pixels]) -> JobHandle:
        """Queue a clip job (protocol 1.7): the request, then `frames` (read lazily, in
        order) in bounded batches, each answered; the daemon queues the job when the last one
        is in. Its events then bring each stylized frame (FrameDone) and end with ClipDone.
        A failure while sending cancels the job, so the daemon does not wait for the rest."""
        handle = self._queue(request.to_message())
        received = 0
        try:
            for batch in batches(handle.id, frames):
                received = int(self.request(batch.to_message(), FRAMES_REPLY).body["received"])
            if received != request.frames:
                raise ValueError(
                    f"the clip request says {request.frames} frames, {received} were given"
                )
        except BaseException:
            self._cancel_quietly(handle.id)
            raise
        return handle

    def _cancel_quietly(self, job: str) -> None:
        try:
            self.cancel(job)
        except Exception:
            pass  # the daemon is gone, or so is the job: nothing is waiting for frames

    def _queue(self, msg: Message) -> JobHandle:
        """A submit or train request: its events are kept for the handle from the reply on."""
        reply = self.request(msg, ACCEPTED)
        assert reply.job is not None  # request() checked it
        self._job_events.setdefault(reply.job, deque())
        return JobHandle(self, reply.job, reply.body)

    def watch(self, job: str) -> JobHandle:
        """Follow a job submitted elsewhere (or earlier): its events come here too, and a
        finished job's result is sent again."""
        reply = self.request(M.watch(job), ACCEPTED)
        self._job_events.setdefault(job, deque())
        return JobHandle(self, job, reply.body)

    def cancel(self, job: str) -> dict[str, Any]:
        return self.request(M.cancel(job), "cancel_reply").body

    def status(self, job: str | None = None) -> dict[str, Any]:
        return self.request(M.status(job), STATUS_REPLY).body

    def shutdown(self) -> dict[str, Any]:
        return self.request(M.shutdown(), "shutdown_reply").body

    def presets(self) -> list[Pixels]:
        """The built-in styles' swatches (protocol 1.1), one RGB picture per preset, in order;
        empty while the daemon is starting or when it has no fast networks."""
        return M.swatches_from(self.request(M.presets(), PRESETS_REPLY))

    def palette(self) -> tuple[list[Pixels], list[M.TrainedStyleInfo]]:
        """One presets request: the built-in styles' swatches and (protocol 1.5) the trained
        styles of the daemon's library, each with its swatch."""
        reply = self.request(M.presets(), PRESETS_REPLY)
        return M.swatches_from(reply), M.trained_from(reply)

    def estimate(self, request: M.EstimateRequest) -> dict[str, Any]:
        """What the job would be (protocol 1.4): `width` and `height` of the output, `seconds`
        from the daemon's measured costs, `tiled`, `memory` (nil where unknown); a setting
        the daemon would refuse raises RemoteError as the submit would."""
        return self.request(request.to_message(), ESTIMATE_REPLY).body

    def request(self, msg: Message, expect: str, timeout: float | None = None) -> Message:
        """Send a request and wait for its one terminal answer.

        The daemon answers every request at once (its loop never waits on the engine), so an
        answer that does not come within `timeout` (default: the client's) was lost: ZeroMQ
        drops a connection that sends a frame over the daemon's max_message_bytes, and the
        request with it. The socket is then reset and ConnectionLost raised.
        """
        self.send(msg)  # refuses a frame over the daemon's limit before it goes
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while msg.id not in self._replies:
            try:
                self._wait(deadline, f"an answer to {msg.type}")
            except TimeoutError:
                self.reset()
                raise ConnectionLost(
                    f"no answer to {msg.type} from {self.endpoint} within {wait:g} s "
                    "(a frame over the daemon's max_message_bytes is dropped with its request)"
                ) from None
        reply = self._replies.pop(msg.id)
        if reply.type == ERROR:
            raise M.remote_error(reply)
        if reply.type != expect:
            raise ProtocolError("malformed", f"expected {expect}, got {reply.type}")
        if expect == ACCEPTED and reply.job is None:
            raise ProtocolError("malformed", "accepted without a job id")
        return reply

    # -- events -----------------------------------------------------------------------------

    def events(self, job: str, timeout: float | None = None) -> Iterator[JobEvent]:
        """The job's events in order, ending after its result or cancellation. A failed job
        raises RemoteError. `timeout` bounds the whole wait (None: as long as the daemon lives).
        """
        queue = self._job_events.setdefault(job, deque())
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while not queue:
                self._wait(deadline, f"events of job {job}")
            msg = queue.popleft()
            if msg.type not in (*EVENTS, ERROR):
                continue  # an event type of a newer minor version: ignored (SPEC.md section 1)
            try:
                event = M.job_event(msg)
            except Exception:
                self._job_events.pop(job, None)
                raise
            if isinstance(event, Preview):
                self.ack(job)  # consumed: the daemon may send the next preview
            yield event
            if isinstance(event, (Result, Cancelled, ClipDone)):
                self._job_events.pop(job, None)
                return

    def _wait(self, deadline: float | None, what: str) -> None:
        """Receive and file messages until one arrives or a deadline passes."""
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        self.heartbeat_if_due(now)
        slice_s = self.heartbeat_interval
        if deadline is not None:
            slice_s = min(slice_s, deadline - now)
        if self.socket.poll(max(1, int(slice_s * 1000)), zmq.POLLIN):
            while (msg := self.receive_ready()) is not None:
                self._file(msg)
        elif self.silent_for() > self.timeout:
            self.reset()
            raise ConnectionLost(
                f"no answer from the daemon at {self.endpoint} for {self.timeout:g} s "
                f"while waiting for {what}: is it running? (start it with `impasto daemon`)"
            )

    def _file(self, msg: Message) -> None:
        """Replies carry `ref` (the request's id); job events carry `job` and no `ref`."""
        if msg.ref is not None:
            if msg.type == ACCEPTED and msg.job is not None:
                # Events may follow in the same batch, before request() returns.
                self._job_events.setdefault(msg.job, deque())
            self._replies[msg.ref] = msg
        elif msg.job is not None and msg.job in self._job_events:
            self._job_events[msg.job].append(msg)


class JobHandle:
    """A submitted (or watched) job."""

    def __init__(self, client: Client, job: str, accepted: dict[str, Any]) -> None:
        self.client = client
        self.id = job
        self.accepted = accepted

    def events(self, timeout: float | None = None) -> Iterator[JobEvent]:
        return self.client.events(self.id, timeout)

    def result(self, timeout: float | None = None) -> Result:
        """Wait for the result, skipping progress and previews; raise JobCancelled if the job
        was cancelled and RemoteError if it failed."""
        for event in self.events(timeout):
            if isinstance(event, Result):
                return event
            if isinstance(event, Cancelled):
                raise JobCancelled(self.id, event.reason)
        raise ProtocolError("malformed", "the job's events ended without an outcome")

    def cancel(self) -> dict[str, Any]:
        return self.client.cancel(self.id)
