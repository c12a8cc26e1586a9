"""What the daemon holds for a clip job (SPEC.md, `clip`): the frames received, in order, until
they are stylized; each stylized frame's `frame` event, kept for watchers that come later; and
the last frame done, from which a clip that made way for a still goes on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.pixels import Pixels


@dataclass
class ClipState:
    request: ClipRequest
    temporal: float  # as the request gave it, or the daemon's default
    received: list[Pixels] = field(default_factory=list)
    # The encoded `frame` events kept for later watchers, in order: every one, unless they
    # outgrow the daemon's memory for kept results, when the oldest go (drop_oldest).
    sent: deque[list[Any]] = field(default_factory=deque)
    done: int = 0  # frames stylized (and sent)
    last_output: np.ndarray | None = None  # the result of frame done - 1 (float RGB)

    @property
    def complete(self) -> bool:
        return len(self.received) == self.request.frames

    def reserved_bytes(self) -> int:
        """The memory its input frames take once all are in: what `max_clip_bytes` bounds
        for the unfinished clips together (reserved when the clip is accepted)."""
        return self.request.frames * self.request.frame_bytes

    def held_bytes(self) -> int:
        """What the clip holds now: frames received, frame events kept, the last output."""
        n = sum(p.nbytes for p in self.received) + self.sent_bytes()
        return n + (0 if self.last_output is None else self.last_output.nbytes)

    def sent_bytes(self) -> int:
        return sum(len(part) for message in self.sent for part in message)

    def keep_within(self, budget: int) -> None:
        """The oldest frame events forgotten until those kept fit `budget` bytes (the newest
        is always kept): a long clip's results cannot fill the daemon's memory."""
        held = self.sent_bytes()
        while len(self.sent) > 1 and held > budget:
            held -= sum(len(part) for part in self.sent.popleft())

    def release_inputs(self) -> None:
        """The job is over: the frames it received are not needed any more (a watcher that
        comes later gets the frames sent, which are kept with the job)."""
        self.received = []
        self.last_output = None
