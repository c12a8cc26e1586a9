"""Pieces the fast networks share: any-size padding, float32 instance norm, weight loading, and
the optional emulation of the TFLite graphs' activation quantization."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import REINSTALL_HINT, FastModelError
from .onnx_weights import ConvFacts, OnnxWeights, Quant

# Both conditional-instance-norm networks add this to the variance (their graphs' constant).
NORM_EPS = 1e-5
# Both transformers downsample twice by 2, with 3x3 stride-2 convolutions, and upsample twice.
STRIDE = 4
# The decoder's reflect padding needs at least 2x2 pixels at 1/4 scale.
MIN_SIDE = 2 * STRIDE


@contextlib.contextmanager
def float32_math(x: torch.Tensor) -> Iterator[None]:
    """Autocast off, so the style parameters (matrix products, which autocast would run in
    bfloat16) and the normalization statistics are computed in float32.

    bfloat16 keeps 8 significant bits: fine for a convolution's products, not for a mean and a
    variance over a million pixels, nor for scales that multiply every pixel of a channel.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        yield


def pad_to_stride(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom and right so both sides are multiples of STRIDE.

    The transformers are fully convolutional, but a 3x3 stride-2 convolution over an odd side
    rounds up (75 -> 38) and the 2x upsampling after it then overshoots (38 -> 76): sides must be
    multiples of 4 for the output to come back at the input's size. Reflection, like the networks'
    own padding, continues the picture's texture at the border rather than adding a flat edge;
    the padded strip is cropped off afterwards. Returns the padded image and the original size.

    The padded image is laid out channels-last (NHWC), as the modules' weights are: oneDNN's
    convolutions run about 25% faster so on CPU (and cuDNN's tensor-core ones want it).
    """
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"image is {w}x{h}; the fast networks need at least {MIN_SIDE} px a side")
    ph, pw = -h % STRIDE, -w % STRIDE
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), mode="reflect")
    return image.contiguous(memory_format=torch.channels_last), (h, w)


def instance_norm(
    x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, float32_out: bool = False
) -> torch.Tensor:
    """Conditional instance norm: per image and channel, (x - mean) / sqrt(var + eps), then the
    style's scale (N, C) and shift (N, C). Biased variance, as both graphs compute it.

    Run as batch norm over one "image" of N*C channels, which is what instance norm is: one
    fused pass for statistics and affine map, twice as fast on CPU as torch.var_mean plus
    addcmul. With float32 scale and shift, batch norm accumulates the statistics and applies
    the map in float32 whatever x's dtype (a bfloat16 mean over a million pixels would be
    useless); the result has x's dtype, that of the next convolution, or float32 for the layer
    before the output sigmoid.
    """
    n, c, h, w = x.shape
    with float32_math(x):
        if float32_out:
            x = x.float()
        # One image is already a batch of one: no reshape, which (even to the same shape) would
        # lose the channels-last layout for reflection_pad2d, costing two copies per layer.
        batch = x if n == 1 else x.reshape(1, n * c, h, w)
        weight, bias = scale.float().reshape(n * c), shift.float().reshape(n * c)
        y = F.batch_norm(batch, None, None, weight, bias, training=True, eps=NORM_EPS)
    if n == 1:
        return y
    return y.view(n, c, h, w).contiguous(memory_format=torch.channels_last)


QuantTap = Callable[[str, torch.Tensor], torch.Tensor]


@dataclass
class _QuantState:
    """Shared by a network's ActivationQuant scopes, so one switch or tap reaches all."""

    table: Mapping[str, Quant]
    enabled: bool
    tap: QuantTap | None = None


class ActivationQuant:
    """Fake quantization of activations where a QDQ graph quantizes them, when enabled.

    `q(x, name)` rounds x to the int8 grid of the graph's QuantizeLinear for the op `name`
    (relative to the scope's prefix) and maps it back to float, as the graph's DequantizeLinear
    does. Disabled, it returns x untouched: the modules run as the float network the int8 model
    approximates.

    `tap`, when set, sees every quantized activation by its full name and returns what the
    network continues with: a test can compare op by op against the graph, and feed the graph's
    own values forward so that one rounding tie does not spread into the rest of the network.
    """

    def __init__(
        self,
        table: Mapping[str, Quant],
        enabled: bool,
        prefix: str = "",
        *,
        _state: _QuantState | None = None,
    ) -> None:
        self.state: _QuantState = _state or _QuantState(table, enabled)
        self.prefix = prefix

    @property
    def enabled(self) -> bool:
        return self.state.enabled

    def scope(self, name: str) -> ActivationQuant:
        return ActivationQuant({}, False, f"{self.prefix}{name}/", _state=self.state)

    def __call__(self, x: torch.Tensor, name: str) -> torch.Tensor:
        state = self.state
        if not state.enabled:
            return x
        full = self.prefix + name
        q = state.table.get(full)
        if q is None:
            raise KeyError(f"the graph quantizes no activation named {full!r}")
        # Round half to even, as ONNX QuantizeLinear does. (torch multiplies by 1/scale where
        # ONNX divides by the scale; fed the graph's own inputs, this lands on onnxruntime's
        # level more often than dividing does: one element in a million or two is off by one.)
        x = torch.fake_quantize_per_tensor_affine(x.float(), q.scale, q.zero_point, q.qmin, q.qmax)
        return state.tap(full, x) if state.tap is not None else x


def channels_last(module: nn.Module) -> None:
    """Lay out `module`'s 4-d weights channels-last, as its inputs are (see pad_to_stride)."""
    # Module.to(memory_format=...) is documented but missing from torch's type stubs.
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def load_conv(conv: nn.Conv2d, facts: ConvFacts, where: OnnxWeights) -> nn.Conv2d:
    """Copy a graph convolution's weights into `conv`, checking shape, stride and grouping."""
    expected = tuple(conv.weight.shape)
    if tuple(facts.weight.shape) != expected or facts.groups != conv.groups:
        raise FastModelError(
            f"{where.path}: a convolution has weights {tuple(facts.weight.shape)} in "
            f"{facts.groups} group(s), expected {expected} in {conv.groups}; {REINSTALL_HINT}"
        )
    if facts.stride != tuple(conv.stride):
        raise FastModelError(
            f"{where.path}: a convolution has stride {facts.stride}, expected "
            f"{tuple(conv.stride)}; {REINSTALL_HINT}"
        )
    with torch.no_grad():
        conv.weight.copy_(facts.weight)
        if conv.bias is not None:
            if facts.bias is None:
                conv.bias.zero_()
            else:
                conv.bias.copy_(facts.bias)
    return conv
