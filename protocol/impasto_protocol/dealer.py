"""What both clients share: the DEALER socket, sending, decoding and heartbeat bookkeeping."""

from __future__ import annotations

import logging
import time
from typing import Any

import zmq

from .codec import Message, decode, encode, new_id
from .constants import ACK, E_TOO_LARGE, HEARTBEAT, HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT
from .curve import ClientKeys
from .endpoint import default_endpoint
from .errors import ProtocolError

log = logging.getLogger(__name__)


class Connection:
    """A lazily created DEALER socket to one daemon. Not thread-safe (ZeroMQ sockets are not)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        name: str = "impasto-client",
        timeout: float = HEARTBEAT_TIMEOUT,
        curve: ClientKeys | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint or default_endpoint()
        self.name = name
        self.timeout = timeout  # silence from the daemon after which it is taken for gone
        self.heartbeat_interval = HEARTBEAT_INTERVAL
        self.curve = curve
        self._context = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self.max_frame_bytes: int | None = None  # the daemon's max_message_bytes, from hello
        self._last_sent = 0.0
        self._last_heard = 0.0

    @property
    def socket(self) -> zmq.Socket:
        if self._sock is None:
            sock = self._context.socket(zmq.DEALER)
            sock.linger = 0  # never hang on exit with unsent messages to a dead daemon
            if self.curve is not None:
                self.curve.apply(sock)
            sock.connect(self.endpoint)
            self._sock = sock
            self._last_heard = time.monotonic()
        return self._sock

    def reset(self) -> None:
        """Drop the socket (and whatever it queued); the next send makes a fresh one. This is
        the Lazy Pirate recovery: a restarted daemon is reached by the new socket."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def close(self) -> None:
        self.reset()

    def send(self, msg: Message) -> str:
        """Queue `msg` without blocking; returns its id. Raises ProtocolError (too_large) for a
        frame over the daemon's limit: ZeroMQ would drop the connection, and the request with
        it, unanswered."""
        limit = self.max_frame_bytes
        for i, frame in enumerate(msg.frames):
            if limit is not None and len(frame) > limit:
                message = f"frame {i} has {len(frame)} bytes; the daemon accepts {limit}"
                raise ProtocolError(E_TOO_LARGE, message, "frames")
        try:
            # Never block: when the daemon refuses the CurveZMQ handshake, libzmq drops the
            # connection and a blocking send would wait forever. The message is lost then, and
            # the silence that follows is reported as with any unreachable daemon.
            self.socket.send_multipart(encode(msg), zmq.NOBLOCK, copy=False)
        except zmq.Again:
            log.debug("%s to %s not sent: no connection to queue it on", msg.type, self.endpoint)
        self._last_sent = time.monotonic()
        return msg.id

    def heartbeat_if_due(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._sock is not None and now - self._last_sent >= self.heartbeat_interval:
            self.send(Message(HEARTBEAT, new_id()))

    def silent_for(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self._last_heard

    def receive_ready(self) -> Message | None:
        """One message if one is waiting, else None. Heartbeats are consumed here."""
        while True:
            try:
                parts = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return None
            self._last_heard = time.monotonic()
            try:
                msg = decode([p.buffer for p in parts])
            except ProtocolError as e:
                log.warning("ignoring a malformed message from the daemon: %s", e)
                continue
            if msg.type == HEARTBEAT:
                continue
            return msg

    def ack(self, job: str) -> None:
        self.send(Message(ACK, new_id(), job=job))

    def apply_welcome(self, body: dict[str, Any]) -> None:
        """Adopt the daemon's timings and frame limit from hello_reply."""
        limits = body.get("limits")
        limit = limits.get("max_message_bytes") if isinstance(limits, dict) else None
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            self.max_frame_bytes = limit
        interval = body.get("heartbeat_interval")
        if isinstance(interval, (int, float)) and 0 < interval < 3600:
            self.heartbeat_interval = float(interval)
