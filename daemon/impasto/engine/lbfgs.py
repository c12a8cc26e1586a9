"""L-BFGS for an image that must stay inside the valid pixel range.

torch.optim.LBFGS, used without a line search (one function evaluation per iteration), has two
faults here:
- after we clamp the image to 0..1, it still records the unclamped step as its curvature pair,
  so its model of the objective drifts; with dark or saturated styles many pixels sit at the
  bounds and the loss can suddenly jump (we saw the style loss triple late in a 256 px run);
- its history is a fixed number of full-size vectors: 100 pairs of a 2048 px image are 10 GB.

This one records the step actually taken (after projection), keeps only pairs with positive
curvature, backs off halfway towards the last accepted point when the loss rises by more than
`max_increase` (each such try costs one evaluation, like any iteration), and bounds the history
in bytes as well as in pairs. On a device short of memory the history can live on the host
(`store`): each pair is copied in for the two loops of a step, which costs transfers, not
quality (a history cut to one pair would).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Closure = Callable[[], torch.Tensor]

DEFAULT_HISTORY = 20  # past steps kept (fewer when they would exceed history_bytes)
DEFAULT_HISTORY_BYTES = 512 * 2**20


class ProjectedLBFGS:
    """One evaluation per step(); the image tensor is updated in place and kept in [lo, hi]."""

    def __init__(
        self,
        x: torch.Tensor,
        history: int = DEFAULT_HISTORY,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        lo: float = 0.0,
        hi: float = 1.0,
        max_increase: float = 0.01,
        store: torch.device | str | None = None,
    ) -> None:
        if not x.is_contiguous():
            raise ValueError("the optimized tensor must be contiguous")
        self.x = x
        vector_bytes = x.numel() * x.element_size()
        self.history = max(1, min(history, history_bytes // (2 * vector_bytes)))
        self.lo, self.hi = lo, hi
        self.max_increase = max_increase
        # Where the pairs are kept: beside the image, or on the host (pinned, for CUDA copies).
        self.store = x.device if store is None else torch.device(store)
        self._s: list[torch.Tensor] = []
        self._y: list[torch.Tensor] = []
        # 0-d tensors on the image's device: the recursion never waits on a GPU.
        self._rho: list[torch.Tensor] = []
        self._h0: torch.Tensor | None = None  # s'y / y'y of the newest pair
        self._x_prev: torch.Tensor | None = None
        self._g_prev: torch.Tensor | None = None
        self._f_prev = math.inf
        self.rejected = 0  # evaluations spent backing off, for diagnostics

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.x.grad = None

    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        with torch.no_grad():
            self._update(float(loss))
        return loss

    def _update(self, f: float) -> None:
        assert self.x.grad is not None, "the closure must call backward()"
        x = self.x.detach().view(-1)
        g = self.x.grad.detach().reshape(-1).to(x.dtype, copy=True)
        if self._x_prev is not None and self._g_prev is not None:
            if not math.isfinite(f) or f > self._f_prev + self.max_increase * abs(self._f_prev):
                # The quadratic model overshot: halve the step from the last good point.
                x.copy_(self._x_prev + 0.5 * (x - self._x_prev))
                self.rejected += 1
                return
            s = x - self._x_prev
            y = g.masked_fill(s == 0, 0.0) - self._g_prev.masked_fill(s == 0, 0.0)
            sy, yy = s @ y, y @ y
            if bool(sy > 1e-10 * yy):  # positive curvature only; the one sync per step
                self._s.append(self._keep(s))
                self._y.append(self._keep(y))
                self._rho.append(1.0 / sy)
                self._h0 = 1.0 / (self._rho[-1] * yy)
                if len(self._s) > self.history:
                    del self._s[0], self._y[0], self._rho[0]
        if not math.isfinite(f) or not bool(torch.isfinite(g).all()):
            raise FloatingPointError("the loss or its gradient is not finite")
        # Pixels held at a bound by a gradient pushing outwards stay out of the step: the
        # quasi-Newton model then describes the free pixels only, as in L-BFGS-B.
        held = ((x <= self.lo) & (g > 0)) | ((x >= self.hi) & (g < 0))
        g_free = g.masked_fill(held, 0.0)
        d = self._direction(g_free).masked_fill_(held, 0.0)
        self._x_prev, self._g_prev, self._f_prev = x.clone(), g_free, f
        x.add_(d).clamp_(self.lo, self.hi)

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """-H g by the two-loop recursion (Nocedal and Wright, algorithm 7.4)."""
        if not self._s:
            # No curvature known yet: a gradient step of at most unit length per L1 norm,
            # as torch's L-BFGS starts.
            return g.neg().mul_(min(1.0, 1.0 / max(float(g.abs().sum()), 1e-12)))
        q = g.neg()
        alphas = []
        for s, y, rho in zip(
            reversed(self._s), reversed(self._y), reversed(self._rho), strict=True
        ):
            s, y = self._fetch(s), self._fetch(y)
            a = rho * (s @ q)
            alphas.append(a)
            q.addcmul_(y, a, value=-1)
        assert self._h0 is not None
        q.mul_(self._h0)  # H0 = s'y / y'y
        for s, y, rho, a in zip(self._s, self._y, self._rho, reversed(alphas), strict=True):
            s, y = self._fetch(s), self._fetch(y)
            q.addcmul_(s, a - rho * (y @ q))
        return q

    def _keep(self, v: torch.Tensor) -> torch.Tensor:
        """A history vector where the history lives (a copy when that is the host)."""
        if v.device == self.store:
            return v
        kept = torch.empty(v.shape, dtype=v.dtype, device=self.store, pin_memory=v.is_cuda)
        return kept.copy_(v, non_blocking=True)  # ordered on the stream before any _fetch

    def _fetch(self, v: torch.Tensor) -> torch.Tensor:
        return v if v.device == self.x.device else v.to(self.x.device, non_blocking=True)
