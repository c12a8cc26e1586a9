"""The non-blocking client, for editor event loops (Qt in Krita, GLib in GIMP).

The loop watches `fd` (QSocketNotifier, GLib.io_add_watch) and calls `drain()` when it is
readable, plus `tick()` from a timer about once a second. ZeroMQ's descriptor is edge-triggered:
it signals a change of state, not "data waiting", so `drain()` reads until ZMQ_EVENTS says nothing
is left, and the caller must drain once more after each send (a send can consume the edge:
with Qt, `QTimer.singleShot(0, drain)`). tick() sends heartbeats, so it reads what is waiting
too, keeping the edge armed; the next `drain()` returns those messages (drain after tick() to
have them at once rather than at the next edge). Nothing here blocks.

After a loss (State.LOST) the next connect() makes a new socket, so `fd` changes: read it again
and watch the new descriptor. submit() raises ProtocolError (too_large) at once for an image
over the daemon's max_message_bytes rather than sending what the daemon would drop unanswered.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import Enum
from typing import Any

import zmq

from . import messages as M
from .clip_messages import ClipRequest, batches
from .codec import Message
from .constants import ERROR, HELLO_REPLY, PREVIEW
from .dealer import Connection
from .pixels import Pixels


class State(str, Enum):
    DISCONNECTED = "disconnected"  # nothing sent yet, or reset after a loss
    CONNECTING = "connecting"  # hello sent, no answer yet
    STARTING = "starting"  # the daemon answered but is still loading its model
    READY = "ready"
    LOST = "lost"  # the daemon went silent; connect() again (or start one)
    REFUSED = "refused"  # hello was refused (e.g. protocol version); see `error`


class NonBlockingClient(Connection):
    def __init__(self, endpoint: str | None = None, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self.state = State.DISCONNECTED
        self.welcome: dict[str, Any] | None = None
        self.error: str | None = None
        self._hello_id: str | None = None
        self._pending: list[Message] = []  # read by tick(), returned by the next drain()

    @property
    def fd(self) -> int:
        """The descriptor to watch for readability (edge-triggered; see the module docstring)."""
        return int(self.socket.getsockopt(zmq.FD))

    def connect(self) -> None:
        self._hello_id = self.send(M.hello(self.name))
        self.state = State.CONNECTING
        self.error = None

    def submit(self, job: M.Submit) -> str:
        """Returns the request id; the answer (`accepted`, ref = this id) carries the job id."""
        return self.send(job.to_message())

    def clip(self, request: ClipRequest) -> str:
        """A clip job (protocol 1.7), without its frames: its `accepted` (ref = this id) carries
        the job id, to which send_frames() then sends them."""
        return self.send(request.to_message())

    def send_frames(self, job: str, frames: Iterable[Pixels], first: int = 0) -> list[str]:
        """The clip's frames (numbered from `first`) in bounded batches, all sent now: ZeroMQ
        queues them, and the daemon answers each with a `frames_reply` in order. Returns the
        batches' request ids; an `error` to one of them means the clip takes none after it."""
        return [self.send(batch.to_message()) for batch in batches(job, frames, first)]

    def cancel(self, job: str) -> str:
        return self.send(M.cancel(job))

    def status(self, job: str | None = None) -> str:
        return self.send(M.status(job))

    def presets(self) -> str:
        """Ask for the built-in styles' swatches (protocol 1.1); the answer, `presets_reply`
        (ref = this id), goes to M.swatches_from(). An older daemon answers unknown_type."""
        return self.send(M.presets())

    def drain(self) -> list[Message]:
        """Every message waiting, in order (heartbeats consumed). Previews are acknowledged as
        they are read: the caller shows the latest of a batch, and the daemon may send the next.
        """
        out, self._pending = self._pending, []
        if self.state in (State.DISCONNECTED, State.LOST):
            return out
        out += self._receive_waiting()
        return out

    def _receive_waiting(self) -> list[Message]:
        out: list[Message] = []
        while int(self.socket.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            msg = self.receive_ready()
            if msg is None:
                break
            if msg.ref is not None and msg.ref == self._hello_id:
                self._on_hello(msg)
            elif msg.type == PREVIEW and msg.job is not None:
                self.ack(msg.job)
            out.append(msg)
        return out

    def tick(self, now: float | None = None) -> State:
        """Call about once a second: sends heartbeats, notices a silent daemon. What it reads
        on the way, the next drain() returns."""
        if self.state in (State.DISCONNECTED, State.LOST, State.REFUSED):
            return self.state
        # A send can consume the descriptor's edge: what waits now would not make it readable
        # again, and the daemon would look silent. Reading until nothing waits re-arms it.
        self._pending += self._receive_waiting()
        now = time.monotonic() if now is None else now
        if self.silent_for(now) > self.timeout:
            self.reset()
            self.state = State.LOST
            self.error = f"no answer from the daemon at {self.endpoint} for {self.timeout:g} s"
            return self.state
        self.heartbeat_if_due(now)
        if self.state is State.STARTING:
            self._hello_id = self.send(M.hello(self.name))  # poll readiness
        self._pending += self._receive_waiting()
        return self.state

    def _on_hello(self, msg: Message) -> None:
        if msg.type == ERROR:
            self.state = State.REFUSED
            self.error = str(M.remote_error(msg))
            return
        if msg.type == HELLO_REPLY:
            self.welcome = msg.body
            self.apply_welcome(msg.body)
            self.state = State.READY if msg.body.get("ready") else State.STARTING
