"""What the daemon holds for a clip job (SPEC.md, `clip`): the frames received, in order, until
they are stylized; each stylized frame's `frame` event, kept for watchers that come later; and
the last frame done, from which a clip that made way for a still goes on."""

from __future__ import annotations

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
    sent: list[list[Any]] = field(default_factory=list)  # the encoded `frame` events, in order
    last_output: np.ndarray | None = None  # the result of frame len(sent) - 1 (float RGB)

    @property
    def complete(self) -> bool:
        return len(self.received) == self.request.frames

    @property
    def done(self) -> int:
        return len(self.sent)

    def reserved_bytes(self) -> int:
        """The memory its input frames take once all are in: what `max_clip_bytes` bounds
        for the unfinished clips together (reserved when the clip is accepted)."""
        return self.request.frames * self.request.frame_bytes

    def held_bytes(self) -> int:
        """What the clip holds now: frames received, frame events kept, the last output."""
        n = sum(p.nbytes for p in self.received)
        n += sum(len(part) for message in self.sent for part in message)
        return n + (0 if self.last_output is None else self.last_output.nbytes)

    def release_inputs(self) -> None:
        """The job is over: the frames it received are not needed any more (a watcher that
        comes later gets the frames sent, which are kept with the job)."""
        self.received = []
        self.last_output = None
