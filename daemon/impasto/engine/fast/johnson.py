"""Johnson et al. (2016), "Perceptual losses for real-time style transfer and super-resolution":
one feed-forward network per style, trained from scratch (training.py) and kept in a trained
style's file (trained.py).

The layout is the paper's with instance norm (Ulyanov et al.), which trains faster and paints
better than its batch norm: a 9x9 convolution, two stride-2 3x3 ones, five residual blocks, two
2x upsamplings (nearest, then a convolution: no checkerboard of transposed convolutions) and a
9x9 to RGB, through a sigmoid. `width` is the first layer's channels (the paper's 32); a
smaller one trains and runs faster on a CPU, at some cost in texture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import pad_to_stride

DEFAULT_WIDTH = 32
RESIDUAL_BLOCKS = 5


class _ConvNorm(nn.Module):
    """[2x nearest upsampling,] reflect padding, convolution, instance norm, [ReLU]."""

    def __init__(
        self,
        channels: tuple[int, int],
        kernel: int,
        stride: int = 1,
        upsample: bool = False,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.upsample, self.relu = upsample, relu
        self.pad = kernel // 2
        self.conv = nn.Conv2d(*channels, kernel, stride)
        self.norm = nn.InstanceNorm2d(channels[1], affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        p = self.pad
        x = self.norm(self.conv(F.pad(x, (p, p, p, p), mode="reflect")))
        return F.relu(x) if self.relu else x


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _ConvNorm((channels, channels), 3)
        self.conv2 = _ConvNorm((channels, channels), 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class JohnsonNetwork(nn.Module):
    """Content images RGB 0..1 (N, 3, H, W) -> stylized RGB 0..1 at the same size."""

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"network width {width} must be at least 1")
        self.width = width
        w = width
        self.contract = nn.Sequential(
            _ConvNorm((3, w), 9), _ConvNorm((w, 2 * w), 3, 2), _ConvNorm((2 * w, 4 * w), 3, 2)
        )
        self.residual = nn.Sequential(*(_Residual(4 * w) for _ in range(RESIDUAL_BLOCKS)))
        self.expand = nn.Sequential(
            _ConvNorm((4 * w, 2 * w), 3, upsample=True), _ConvNorm((2 * w, w), 3, upsample=True)
        )
        self.out = nn.Conv2d(w, 3, 9)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        x, (h, w) = pad_to_stride(content)
        x = self.expand(self.residual(self.contract(x)))
        x = torch.sigmoid(self.out(F.pad(x, (4, 4, 4, 4), mode="reflect")))
        return x[..., :h, :w].contiguous()
