"""A rectangle of an image, in pixels: the part of a layer a plug-in sends and fills.

Both plug-ins send the selection's bounds grown by some context (policy.context_padding) and
clipped to the layer, or the whole layer when nothing is selected; `around` is that rule once.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import policy


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    @classmethod
    def whole(cls, width: int, height: int) -> Region:
        """A whole width x height image or layer."""
        return cls(0, 0, width, height)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def clipped(self, bounds: Region) -> Region:
        """The part inside `bounds` (empty, at the nearest corner, when they do not overlap)."""
        x0, y0 = max(self.x, bounds.x), max(self.y, bounds.y)
        x1 = min(self.x + self.width, bounds.x + bounds.width)
        y1 = min(self.y + self.height, bounds.y + bounds.height)
        return Region(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def around(self, bounds: Region, padding: int | None = None) -> Region:
        """This rectangle (a selection's bounds) with `padding` pixels of context on every side
        (None or negative: the shared policy's for its size), clipped to `bounds`."""
        if padding is None or padding < 0:
            padding = policy.context_padding(self.width, self.height)
        grown = Region(
            self.x - padding, self.y - padding, self.width + 2 * padding, self.height + 2 * padding
        )
        return grown.clipped(bounds)
