"""The daemon's clients as its socket loop knows them: who each one is (its ZeroMQ routing id,
whether it is local, whose jobs it sees) and what waits to be sent to it.

A client that does not read must not stall the loop or grow without bound: a send that would
block queues the message in the client's outbox (a newer progress event of the same job
replaces a queued one), and a client whose outbox overflows is dropped.
"""

from __future__ import annotations

import errno
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zmq

from impasto_protocol import constants as C
from impasto_protocol.endpoint import parse as parse_endpoint

log = logging.getLogger(__name__)

# Who owns a job (SPEC.md section 13): an authenticated client's CurveZMQ public key; without
# CurveZMQ, every client on a local endpoint is the one local user (the IPC socket is private to
# the user running the daemon), and every client of an --insecure endpoint is "anyone".
LOCAL_OWNER = "local"
ANYONE = "anyone"

MAX_OUTBOX = 10_000  # messages waiting for a peer that does not read; then it is dropped


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


class Peers:
    """The peers by routing id, and sending to them without ever blocking."""

    def __init__(
        self, local_binding: bool, admins: frozenset[str], on_drop: Callable[[Peer], None]
    ) -> None:
        self._peers: dict[bytes, Peer] = {}
        self._local_binding = local_binding
        self._admins = admins
        self._on_drop = on_drop  # the server cancels a dropped peer's attached jobs
        self.sock: zmq.Socket | None = None

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[Peer]:
        return iter(list(self._peers.values()))

    def get(self, identity: bytes) -> Peer | None:
        return self._peers.get(identity)

    def identities(self) -> set[bytes]:
        return set(self._peers)

    def add(self, identity: bytes, frame: zmq.Frame, now: float) -> Peer:
        """A peer heard from for the first time; `frame` carries ZeroMQ's metadata about it."""
        user = _frame_property(frame, "User-Id") or None
        address = _frame_property(frame, "Peer-Address")
        local = self._local_binding or user is not None or _is_loopback_address(address)
        owner = user or (LOCAL_OWNER if local else ANYONE)
        peer = Peer(identity, now, local, user=user, owner=owner, admin=owner in self._admins)
        self._peers[identity] = peer
        log.debug("new peer %s (address %r, user %r)", identity.hex(), address, user)
        return peer

    def drop(self, peer: Peer) -> None:
        """A client is gone: its queued messages are dropped, and the server hears of it."""
        if self._peers.pop(peer.identity, None) is None:
            return
        peer.outbox.clear()
        self._on_drop(peer)

    def send(self, peer: Peer, mtype: str, job: str | None, frames: list[Any]) -> None:
        """Send now if the peer's pipe has room, else queue. Queued progress events of a job are
        replaced by newer ones; results, errors and replies are never dropped."""
        if peer.silent_since is not None:
            self.try_send(peer, frames)  # nothing is queued for a peer that may be dead
            return
        if peer.outbox:
            self._queue(peer, mtype, job, frames)
            return
        if not self.try_send(peer, frames):
            self._queue(peer, mtype, job, frames)

    def try_send(self, peer: Peer, frames: list[Any]) -> bool:
        """One send that never blocks: False if the peer's pipe is full."""
        assert self.sock is not None
        try:
            self.sock.send_multipart([peer.identity, *frames], zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as e:
            if e.errno == errno.EHOSTUNREACH:  # the peer disconnected
                self.drop(peer)
                return True
            raise

    def flush(self) -> None:
        """Send what waits in the outboxes, as far as the pipes take it."""
        for peer in list(self._peers.values()):
            while peer.outbox and peer.identity in self._peers:
                if not self.try_send(peer, peer.outbox[0][2]):
                    break
                if peer.outbox:
                    peer.outbox.popleft()

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
            self.drop(peer)


def printable(text: str) -> str:
    """`text` for a log line: control characters (newlines above all) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _frame_property(frame: zmq.Frame, name: str) -> str:
    try:
        return str(frame.get(name))
    except (zmq.ZMQError, KeyError, AttributeError, UnicodeDecodeError):
        return ""


def _is_loopback_address(address: str) -> bool:
    if not address:
        return False
    try:
        return parse_endpoint(f"tcp://{address}:0").local
    except ValueError:
        return False
