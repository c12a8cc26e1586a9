"""The losses of Gatys et al., normalized so one set of weights works everywhere.

Where we depart from the paper, and why:
- The paper's content loss is 1/2 * sum (F - P)^2 and its style term per layer is
  1/(4 N^2 M^2) * sum (G - A)^2 with G = F F^T. Both grow with the image (M positions) and with
  the scale of the network's activations, which differ between weight files by orders of magnitude.
  We use means over positions instead of sums (G = F F^T / M) and divide each term by its
  target's energy, so each term is a relative error: the same weights then suit 64 px and 2048 px,
  the original Caffe weights and torchvision's, and every style layer contributes comparably.
  Up to those constant factors per layer, the terms and their gradients are the paper's.
- Gram matrices and losses are computed in float32 (float64 for float64 input, as in the
  gradient checks), also when the convolutions run in bfloat16: a float16 Gram matrix overflows
  (its maximum is 65504), a known failure elsewhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8
_HALF = (torch.float16, torch.bfloat16)


def upcast(t: torch.Tensor) -> torch.Tensor:
    """Half precisions to float32 (overflow, see above); float32 and float64 stay as they are,
    so a float64 gradient check sees float64 arithmetic throughout."""
    return t.float() if t.dtype in _HALF else t


class _Gram(torch.autograd.Function):
    """F diag(w) F^T with the backward pass that symmetry allows.

    Autograd would differentiate F F^T with two matrix products, dG F and dG^T F; since G is
    symmetric the gradient is (dG + dG^T) diag(w) F, one product. At the five style layers this
    takes the Gram matrices' backward from about 140 ms to 46 ms per iteration at 256 px on two
    CPU cores (benchmarks/RESULTS.md).
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        fw = f if w is None else f * w
        ctx.save_for_backward(fw)
        return fw @ f.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (fw,) = ctx.saved_tensors
        return (grad + grad.T) @ fw, None


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations per position, (C, C), in float32 at least.

    With a mask (1, 1, H, W) of 0..1 weights the statistics are those of the masked region only,
    as in Gatys et al. 2017's spatial control.
    """
    # A reshape, not flatten(2)[0]: indexing the batch makes autograd zero-fill a whole
    # feature-sized gradient in the backward pass; a view's backward is free.
    if features.shape[0] != 1:
        raise ValueError(f"gram() takes a batch of one image, got {features.shape[0]}")
    f = flat(upcast(features))  # (C, M)
    if mask is None:
        return _Gram.apply(f, None) / f.shape[1]
    m = mask_for(features, mask).flatten().to(f.dtype)
    return _Gram.apply(f, m) / m.sum().clamp_min(_EPS)


def flat(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (C, H*W) without a copy, in either memory layout: channels-last
    activations (NHWC, what the CPU and GPU convolutions prefer) are viewed as the transpose
    of (H*W, C), which the matrix products take as it is. (A tile's cropped activations,
    tiling.py, are copied.)"""
    c = features.shape[1]
    if not features.is_contiguous() and features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(-1, c).T
    return features.reshape(c, -1)


def mask_for(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mask resampled to a layer's resolution (area average keeps soft edges soft)."""
    h, w = features.shape[-2:]
    if mask.shape[-2:] == (h, w):
        return mask
    return F.adaptive_avg_pool2d(mask, (h, w))


class ContentLoss:
    """Relative squared error of a layer's activations against the content's."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target = upcast(target.detach())
        self.norm = self.target.pow(2).mean().clamp_min(_EPS)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return (upcast(features) - self.target).pow(2).mean() / self.norm


class StyleLoss:
    """Relative squared error of a layer's Gram matrix against the style's."""

    def __init__(self, target_gram: torch.Tensor) -> None:
        self.target = upcast(target_gram.detach())
        self.norm = self.target.pow(2).sum().clamp_min(_EPS)

    def __call__(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return (gram(features, mask) - self.target).pow(2).sum() / self.norm


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels (0..1 units)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()
