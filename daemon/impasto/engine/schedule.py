"""Coarse-to-fine: which sizes to optimize at, and how many iterations each gets.

Most of the picture's structure forms at a coarse scale, where an iteration costs a quarter of
the next finer one; the finer scales then only refine, starting from the upsampled result. This
is what lets a first preview arrive quickly and a whole job finish several times sooner than at
a single scale.
"""

from __future__ import annotations

import math

from .images import fit_size
from .settings import MAX_SCALES, MIN_SIZE

# The automatic schedule starts at the first halving of the output at or below this size.
COARSEST_AUTO = 128


def auto_scales(size: int) -> int:
    return max(1, min(MAX_SCALES, math.floor(math.log2(max(size, 1) / COARSEST_AUTO)) + 1))


def plan_scales(
    width: int, height: int, size: int, iterations: int, scales: int
) -> list[tuple[int, int, int]]:
    """[(width, height, iterations)] from coarse to fine; the last is the output size.

    Each scale is twice the one before. Coarser scales get more iterations (twice as many per
    halving) since they are cheap. Scales whose shorter side would fall below MIN_SIZE pixels, and
    scales that would get no iteration, are dropped.
    """
    n = auto_scales(size) if scales == 0 else scales
    sizes = []
    for i in range(n):
        w, h = fit_size(width, height, max(1, round(size / 2 ** (n - 1 - i))))
        if min(w, h) >= MIN_SIZE or i == n - 1:
            sizes.append((w, h))
    sizes = sizes[-iterations:]  # fewer iterations than scales: keep the finest
    shares = [2 ** (len(sizes) - 1 - i) for i in range(len(sizes))]
    counts = [max(1, math.floor(iterations * s / sum(shares))) for s in shares]
    while sum(counts) > iterations:  # the minimum of one per scale overshot
        counts[counts.index(max(counts))] -= 1
    counts[0] += iterations - sum(counts)  # rounding remainder to the cheapest scale
    return [(w, h, c) for (w, h), c in zip(sizes, counts, strict=True)]
