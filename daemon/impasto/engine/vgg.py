"""VGG19 (Simonyan and Zisserman 2014), the feature extractor of Gatys et al.

The architecture is defined here rather than taken from torchvision: torchvision is optional
(its PyPI wheels are CUDA builds), and the default weights are the original Caffe/Keras release,
whose input convention (BGR, 0..255, mean-subtracted) differs from torchvision's.

Layer names follow the paper: conv1_1, relu1_1, ..., pool5. Gatys et al. name their layers after
the convolutions ("conv4_2"), but their Caffe model applies ReLU in place, so what they read is
the rectified output: our relu4_2. Both are available.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .settings import Pooling

# Output channels of each convolution, block by block.
_BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256, 256),
    (512, 512, 512, 512),
    (512, 512, 512, 512),
)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for b, convs in enumerate(_BLOCKS, start=1):
        for c in range(1, len(convs) + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return tuple(names)


LAYER_NAMES: tuple[str, ...] = _layer_names()
CONV_NAMES: tuple[str, ...] = tuple(n for n in LAYER_NAMES if n.startswith("conv"))
_LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}


def conv_shapes() -> dict[str, tuple[int, int, int, int]]:
    """OIHW shape of every convolution's weight, to validate weight files against."""
    shapes = {}
    in_ch = 3
    for b, convs in enumerate(_BLOCKS, start=1):
        for c, out_ch in enumerate(convs, start=1):
            shapes[f"conv{b}_{c}"] = (out_ch, in_ch, 3, 3)
            in_ch = out_ch
    return shapes


@dataclass(frozen=True)
class InputConvention:
    """How the weights expect their input. Our images are always RGB in 0..1."""

    bgr: bool
    scale: float  # multiply 0..1 pixels by this
    mean: tuple[float, float, float]  # subtracted after scaling, in the weights' channel order
    std: tuple[float, float, float]  # then divided by this


CAFFE = InputConvention(bgr=True, scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0))
TORCHVISION = InputConvention(
    bgr=False, scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)


class VGG19Features(nn.Module):
    """The convolutional part of VGG19, returning the activations of the layers asked for.

    The weights are frozen: only the input image is optimized.
    """

    _order: torch.Tensor
    _scale: torch.Tensor
    _shift: torch.Tensor

    def __init__(
        self,
        weights: dict[str, tuple[torch.Tensor, torch.Tensor]],
        convention: InputConvention,
    ) -> None:
        super().__init__()
        self.convention = convention
        self.convs = nn.ModuleDict()
        for name, shape in conv_shapes().items():
            w, b = weights[name]
            conv = nn.Conv2d(shape[1], shape[0], kernel_size=3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(w)
                assert conv.bias is not None  # Conv2d(bias=True)
                conv.bias.copy_(b)
            self.convs[name] = conv
        self.requires_grad_(False)
        self.eval()
        order = [2, 1, 0] if convention.bgr else [0, 1, 2]
        mean = torch.tensor(convention.mean).view(1, 3, 1, 1)
        std = torch.tensor(convention.std).view(1, 3, 1, 1)
        self.register_buffer("_order", torch.tensor(order), persistent=False)
        self.register_buffer("_scale", convention.scale / std, persistent=False)
        self.register_buffer("_shift", mean / std, persistent=False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """RGB 0..1 -> the weights' input convention, in the weights' dtype.

        The normalization itself runs in the image's precision (float32); only its result is
        rounded, as autocast would round it before the first convolution.
        """
        x = image.index_select(1, self._order)
        return (x * self._scale - self._shift).to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        """The arithmetic of the convolutions: that of the weights (see Stylizer)."""
        conv = self.convs["conv1_1"]
        assert isinstance(conv, nn.Conv2d)
        return conv.weight.dtype

    def forward(
        self, image: torch.Tensor, layers: Iterable[str], pooling: Pooling = Pooling.MAX
    ) -> dict[str, torch.Tensor]:
        """Activations of `layers` for an RGB 0..1 image batch (N, 3, H, W).

        Pooling is chosen per call, so one copy of the weights serves both kinds.

        The pass stops at the deepest layer asked for: the layers after it cost time and
        memory and contribute nothing.
        """
        wanted = set(layers)
        if not wanted:
            return {}
        unknown = wanted.difference(_LAYER_INDEX)
        if unknown:
            raise KeyError(f"unknown VGG19 layer(s): {', '.join(sorted(unknown))}")
        last = max(_LAYER_INDEX[n] for n in wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(image)
        for name in LAYER_NAMES[: last + 1]:
            kind = name[:4]
            if kind == "conv":
                x = self.convs[name](x)
            elif kind == "relu":
                # In place unless the convolution's own output was asked for.
                x = F.relu(x, inplace="conv" + name[4:] not in wanted)
            elif pooling == Pooling.MAX:
                x = F.max_pool2d(x, 2, 2)
            else:
                x = F.avg_pool2d(x, 2, 2)
            if name in wanted:
                out[name] = x
        return out
