"""Memory planning and estimates: how a job fits the memory budget, and what it would take.

A job keeps its images at the output size and the optimizer's history besides the warm model;
what is left of the budget holds the network's activations. A job whose activations do not fit
whole runs them in tiles (tiling.py); one that does not fit even in the smallest tiles is refused
before any work starts. The estimate a client asks for before sending a job comes from the same
plan and from the iteration costs measured so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import tiling
from .lbfgs import DEFAULT_HISTORY, DEFAULT_HISTORY_BYTES
from .schedule import SCALE_SETUP_ITERATIONS, IterationCosts, Scale
from .settings import LimitError, StyleSettings

# A tiled iteration's cost over an untiled one at the same size (measured 1.65-2.1x).
TILED_COST = 2.0


@dataclass(frozen=True)
class Estimate:
    """Stylizer.estimate's answer."""

    width: int  # the output size
    height: int
    seconds: float | None  # None: nothing measured yet on this engine (or the fast method)
    tiled: bool  # the output's activations do not fit the memory budget whole
    memory: int  # bytes the job plans to use besides the model (0 for the fast method)


@dataclass(frozen=True)
class MemoryPlan:
    """A job's share of the memory budget (bytes), and the tiles it runs in if any."""

    budget: int
    fixed: int  # images at the output size and the optimizer's history (on the device)
    history: int  # the optimizer's curvature history, at most
    tile: int | None  # the owned side of a tile at the output size; None: untiled
    activations: int  # what the network's passes keep at most: the whole image's, or a tile's
    history_on_host: bool = False  # the history lives in the host's memory, not the device's

    @property
    def room(self) -> int:
        """What is left for the network's activations."""
        return self.budget - self.fixed

    def fits_whole(self, pixels: int, per_pixel: int = tiling.GRAD_BYTES_PER_PIXEL) -> bool:
        """Whether a pass over `pixels` at `per_pixel` bytes fits untiled."""
        return per_pixel * pixels <= self.room


def plan_memory(
    width: int,
    height: int,
    s: StyleSettings,
    budget: int,
    host_free: int | None,
    tile_side: int | None = None,
) -> MemoryPlan:
    """How a job at width x height fits `budget`: whole, or in tiles of which side (always
    `tile_side` where one is given). `host_free`: the host's free memory where the device is
    not the CPU, else None.

    Raises LimitError, with the memory the job would need, when even the smallest tiles do
    not fit.
    """
    layer = tiling.deepest(s.content_layers + s.style_layers)
    pixels = width * height
    history, on_host = history_place(budget, 3 * 4 * pixels, host_free)
    fixed = tiling.JOB_BYTES_PER_PIXEL * pixels + (0 if on_host else history)
    whole = MemoryPlan(budget, fixed, history, None, tiling.GRAD_BYTES_PER_PIXEL * pixels, on_host)
    side = tile_side
    if side is None:
        if whole.fits_whole(pixels):
            return whole
        side = tiling.tile_for_budget(width, height, whole.room, layer)
    if side is None:
        smallest = tile_activations(tiling.stride(layer), layer)
        raise LimitError(
            "size",
            f"a {width}x{height} output needs at least {mb(fixed + smallest)} MB, even in"
            f" tiles; the memory budget is {mb(budget)} MB",
        )
    return MemoryPlan(budget, fixed, history, side, tile_activations(side, layer), on_host)


def tiles(
    plan: MemoryPlan | None,
    tile_side: int | None,
    w: int,
    h: int,
    s: StyleSettings,
    per_pixel: int = tiling.GRAD_BYTES_PER_PIXEL,
) -> list[tiling.Tile] | None:
    """The tiles for a w x h pass costing `per_pixel` bytes, or None when it fits whole (a
    coarse scale of a tiled job may). `tile_side`: tiles of that side whatever the budget."""
    if plan is None or plan.tile is None:
        return None
    if tile_side is None and plan.fits_whole(w * h, per_pixel):
        return None
    return tiling.layout(w, h, plan.tile, tiling.deepest(s.content_layers + s.style_layers))


def estimate_seconds(costs: IterationCosts, scales: list[Scale], plan: MemoryPlan) -> float | None:
    """The seconds `scales` would take at the iteration costs measured so far (None before
    any), tiled scales at about twice an untiled iteration's cost where not measured."""
    seconds = costs.estimate(scales)
    if seconds is not None and plan.tile is not None:
        for sc in scales:
            if not plan.fits_whole(sc.pixels) and not costs.measured(sc.pixels):
                # Predicted from untiled iterations; tiles cost about twice as much
                # (benchmarks/RESULTS.md: 1.65-2.1x at 1024-2048 px).
                cost = costs.predict(sc.pixels) or 0.0
                seconds += (TILED_COST - 1) * cost * (sc.iterations + SCALE_SETUP_ITERATIONS)
    return seconds


def tile_activations(side: int, layer: str) -> int:
    """Bytes of a forward and backward pass over a tile owning side x side, with its halos."""
    return tiling.GRAD_BYTES_PER_PIXEL * (side + 2 * tiling.halo(layer)) ** 2


def history_place(budget: int, vector_bytes: int, host_free: int | None) -> tuple[int, bool]:
    """The bytes of L-BFGS's history, and whether it lives on the host.

    On the device it gets an eighth of a small budget, and at most its usual cap. A device
    (not the CPU: `host_free` None) too short for that cap's pairs at this size keeps the
    history in the host's memory instead, up to a quarter of what the host has free: fewer
    pairs would cost quality, host pairs cost a copy in per step (lbfgs.py).
    """
    on_device = max(0, min(DEFAULT_HISTORY_BYTES, budget // 8))
    wanted = min(DEFAULT_HISTORY_BYTES, 2 * DEFAULT_HISTORY * vector_bytes)
    if host_free is None or on_device >= wanted:
        return on_device, False
    on_host = min(wanted, host_free // 4)
    return (on_host, True) if on_host > on_device else (on_device, False)


def mb(n: int) -> int:
    """Bytes in whole megabytes, rounded up (for messages)."""
    return math.ceil(n / 2**20)
