"""ProjectedLBFGS on problems whose answers are known."""

from __future__ import annotations

import pytest
import torch

from impasto.engine.lbfgs import ProjectedLBFGS


def _closure(opt, f, x: torch.Tensor):
    """What the engine's closure does: clear the gradient, evaluate, backpropagate."""

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    return closure


def _minimize(f, x: torch.Tensor, steps: int, **kwargs) -> tuple[ProjectedLBFGS, list[float]]:
    opt = ProjectedLBFGS(x, **kwargs)
    closure = _closure(opt, f, x)
    losses = []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return opt, losses


def _torch_lbfgs_clamped(f, x: torch.Tensor, steps: int) -> float:
    """torch.optim.LBFGS as the engine used it before: no line search, clamped after each step."""
    opt = torch.optim.LBFGS(
        [x], lr=1, max_iter=1, history_size=20, tolerance_grad=0, tolerance_change=0
    )
    closure = _closure(opt, f, x)
    for _ in range(steps):
        opt.step(closure)  # type: ignore[arg-type]
        with torch.no_grad():
            x.clamp_(0, 1)
    return float(f(x).detach())


def test_box_constrained_quadratic_reaches_the_projected_minimum() -> None:
    """Separable, badly scaled quadratic whose unconstrained minimum lies partly outside 0..1:
    the constrained minimum is the clamped centre. torch's L-BFGS, clamped after each step,
    stalls far from it (why lbfgs.py exists)."""
    gen = torch.Generator().manual_seed(0)
    centre = torch.rand(200, generator=gen, dtype=torch.float64) * 1.6 - 0.3
    scale = torch.logspace(0, 3, 200, dtype=torch.float64)

    def f(v: torch.Tensor) -> torch.Tensor:
        return (scale * (v - centre) ** 2).sum()

    best = float(f(centre.clamp(0, 1)))
    x = torch.full((200,), 0.5, dtype=torch.float64, requires_grad=True)
    _minimize(f, x, 300)
    assert torch.allclose(x.detach(), centre.clamp(0, 1), atol=1e-6)
    assert x.min() >= 0 and x.max() <= 1
    stalled = _torch_lbfgs_clamped(f, torch.full_like(x, 0.5).requires_grad_(True), 300)
    assert stalled - best > 1e3 * (float(f(x).detach()) - best + 1e-9)


def test_unconstrained_convergence_matches_torch_lbfgs() -> None:
    """Inside the box the method is plain L-BFGS: as good as torch's on an ill-conditioned
    least-squares problem."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(60, 40, generator=gen, dtype=torch.float64) @ torch.diag(
        torch.logspace(0, 2, 40, dtype=torch.float64)
    )
    target = torch.rand(40, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    b = a @ target

    def f(v: torch.Tensor) -> torch.Tensor:
        return ((a @ v - b) ** 2).sum()

    x = torch.full((40,), 0.5, dtype=torch.float64, requires_grad=True)
    _, losses = _minimize(f, x, 80)
    reference = _torch_lbfgs_clamped(f, torch.full_like(x, 0.5).requires_grad_(True), 80)
    assert losses[-1] < 1e-4 * losses[0]
    assert losses[-1] < 2 * reference


def test_overshoot_is_backed_off_and_converges() -> None:
    """A non-convex bowl (log(1 + 100 d^2)) makes the quadratic model overshoot."""
    x = torch.linspace(0.0, 0.3, 10, dtype=torch.float64).requires_grad_(True)

    def f(v: torch.Tensor) -> torch.Tensor:
        return torch.log1p(100 * (v - 0.5) ** 2).sum()

    opt, _ = _minimize(f, x, 60, max_increase=0.0)
    assert opt.rejected > 0
    assert float(f(x).detach()) < 1e-12
    assert torch.allclose(x.detach(), torch.full((10,), 0.5, dtype=torch.float64), atol=1e-6)


def test_history_is_bounded_in_bytes() -> None:
    x = torch.zeros(1000, requires_grad=True)  # 4000 bytes a vector
    assert ProjectedLBFGS(x, history=20, history_bytes=10 * 8000).history == 10
    assert ProjectedLBFGS(x, history=20, history_bytes=10**9).history == 20
    assert ProjectedLBFGS(x, history=20, history_bytes=1).history == 1


def test_non_finite_loss_at_the_start_is_an_error() -> None:
    x = torch.zeros(4, requires_grad=True)
    with pytest.raises(FloatingPointError):
        _minimize(lambda v: (v * float("nan")).sum(), x, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (a host to copy to)")
def test_a_history_on_the_host_takes_the_same_steps() -> None:
    """A device short of memory keeps the pairs in the host's memory (the engine's
    memory.history_place): the steps are those of a history on the device, bit for bit."""
    gen = torch.Generator().manual_seed(3)
    centre = (torch.rand(5000, generator=gen) * 1.6 - 0.3).cuda()
    scale = torch.logspace(0, 2, 5000).cuda()

    def f(v: torch.Tensor) -> torch.Tensor:
        return (scale * (v - centre) ** 2).sum()

    x_device = torch.full((5000,), 0.5, device="cuda", requires_grad=True)
    x_host = torch.full((5000,), 0.5, device="cuda", requires_grad=True)
    on_device, losses = _minimize(f, x_device, 40)
    on_host, host_losses = _minimize(f, x_host, 40, store="cpu")
    assert on_host._s[0].device.type == "cpu" and on_device._s[0].device.type == "cuda"
    assert losses == host_losses
    assert torch.equal(x_device, x_host)
