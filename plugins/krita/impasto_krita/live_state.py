"""Live mode's records: the pictures it shows, the updates it has on the daemon, the change
waiting to be sent and its counters; what identifies a state; the downscaled copy. The logic
that uses them is live_model.LiveModel's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from impasto_protocol import Pixels

from .host import Document, Target


@dataclass(frozen=True)
class LivePicture:
    """A live result: `image` (BGRA u8, the downscaled size) for the state `digest` of the area
    `target` of the document; `seq` orders updates (higher: newer)."""

    seq: int
    image: Pixels
    target: Target
    digest: str
    name: str  # the styles, for Apply's layer name
    refined: bool = False  # a picture of the optimization (refine when idle)


@dataclass(eq=False)
class Update:
    seq: int
    target: Target
    digest: str
    name: str
    content: Pixels  # the downscaled copy sent (a refine sends it again)
    job_id: str | None = None
    cancel_on_accept: bool = False
    refine: bool = False


@dataclass
class Pending:
    """A change not sent yet: the state read last, or (pixels None) one noted by the host's
    revision and read when the update is due."""

    target: Target
    pixels: Pixels | None
    digest: str | None
    first_change: float
    last_change: float


@dataclass
class LiveCounters:
    """What live mode did, for the docker's tooltip, tests and benchmarks."""

    sent: int = 0
    replaced: int = 0  # sent with `replace` (a newer state over one in flight)
    shown: int = 0
    stale: int = 0  # pictures that came after a newer one was shown: dropped
    refused: int = 0
    refines: int = 0  # refine jobs sent
    refines_cancelled: int = 0  # by a change of the picture (or of the styles)
    shown_seqs: list[int] = field(default_factory=list)


def state_digest(target: Target, pixels: Pixels) -> str:
    """What identifies a state: the layer, the area, the selection and the pixels."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((target.source, target.area, pixels.width, pixels.height)).encode())
    h.update(target.selection or b"")
    h.update(bytes(pixels.data))
    return h.hexdigest()


def same_document(a: Document, b: Document) -> bool:
    """Whether two Document objects stand for the same image (KritaDocument.active() makes a
    new wrapper each time)."""
    da, db = getattr(a, "doc", a), getattr(b, "doc", b)
    return bool(da is db or da == db)


def shrink_qimage(pixels: Pixels, side: int) -> Pixels:
    """BGRA u8 scaled down (smoothly) so its longer side is at most `side`; as it is when
    already small enough. Krita's and the tests' shrink."""
    from . import imaging

    w, h = pixels.width, pixels.height
    if max(w, h) <= side:
        return pixels
    scale = side / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    image = imaging.scaled(imaging.from_bgra(pixels.data, w, h), nw, nh)
    return Pixels(nw, nh, imaging.to_bgra(image), "BGRA", "u8")
