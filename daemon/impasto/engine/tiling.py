"""The loss and its gradient computed tile by tile, exactly (after Galerne et al. 2024).

Gatys et al.'s losses are global: a Gram matrix averages over every position of a layer. What
limits the image size is not the image but the activations VGG19 keeps for the backward pass,
about 3 KB per input pixel in float32 up to relu5_1. Those can be computed a tile at a time,
because the losses need only sums over positions:

1. Without gradients, each tile (with a halo) goes through the network; each layer's activations
   are cropped to the positions the tile owns, and their Gram matrices and the content's squared
   error are summed over the tiles. The sums are the untiled statistics: every position of every
   layer is owned by exactly one tile, and a halo wider than the deepest layer's receptive field
   makes the owned activations those of the whole image.
2. From the global Gram matrices, the gradient of the loss with respect to each owned activation
   is a closed form: d/dF of ||F W F^T / n - A||^2 / z is 4 (G - A) F W / (n z).
3. Each tile goes through the network again, with gradients, and those activation gradients are
   back-propagated to its pixels. A tile's owned activations depend on its halo's pixels as well,
   so the whole tile's pixel gradient (halo included) is added into the image's gradient; the
   sum over tiles is the untiled gradient.

Tile origins and sizes are multiples of the deepest pooling stride (16 at relu5_1), so the tiles'
pooling grids are the whole image's; at the image's right and bottom edges a tile ends where the
image ends, and its padding is the image's own.

The cost: each iteration runs a forward pass more than an untiled one, over tiles that overlap by
their halos (benchmarks/RESULTS.md, "Editor-sized canvases", has the figures).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .losses import ContentLoss, StyleLoss, flat, mask_for, upcast
from .vgg import LAYER_NAMES

_LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}

# What VGG19's forward and backward passes keep per input pixel, in bytes (float32, up to
# relu5_1, channels-last copies included): measured peak RSS on the CPU at 256-768 px was
# 2.2-3.0 KB; the model takes the high end, with room.
GRAD_BYTES_PER_PIXEL = 3200
# A forward pass without gradients keeps about two layers at a time: measured 0.5-0.7 KB.
FORWARD_BYTES_PER_PIXEL = 800
# What a job keeps at the output size besides the network's activations and the optimizer's
# curvature history (budgeted on its own), per pixel: the iterate, the content, L-BFGS's last
# point and gradient, the tiled gradient and the content layer's target (relu4_2: 512 channels
# at 1/8 of the side), with the step's temporaries. Measured: peak RSS grew 125 bytes per pixel
# more from 1024 to 2048 px in the same tiles (a start from the content, no mask, one history
# pair of 24 bytes: benchmarks/RESULTS.md); a fast start's picture, a luminance copy of the
# content and a mask or alpha add up to 32 more.
JOB_BYTES_PER_PIXEL = 160


Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def stride(layer: str) -> int:
    """How many input pixels one position of `layer` steps over: 2 for each pooling before it."""
    index = _LAYER_INDEX[layer]
    return 2 ** sum(1 for n in LAYER_NAMES[:index] if n.startswith("pool"))


def deepest(layers: Sequence[str]) -> str:
    return max(layers, key=lambda n: _LAYER_INDEX[n])


def halo(layer: str) -> int:
    """Pixels of context a tile needs on each side for `layer`'s activations to be exact.

    Each 3x3 convolution reaches one position further at its layer's stride, each 2x2 pooling at
    most one; the sum is rounded up to the alignment so tile origins stay aligned.
    """
    reach, step = 0, 1
    for name in LAYER_NAMES[: _LAYER_INDEX[layer] + 1]:
        if name.startswith(("conv", "pool")):
            reach += step
        if name.startswith("pool"):
            step *= 2
    align = stride(layer)
    return math.ceil(reach / align) * align


@dataclass(frozen=True)
class Tile:
    """Pixels [y0, y1) x [x0, x1) go through the network; the tile owns [oy0, oy1) x [ox0, ox1)."""

    y0: int
    y1: int
    x0: int
    x1: int
    oy0: int
    oy1: int
    ox0: int
    ox1: int

    def window(self, t: torch.Tensor) -> torch.Tensor:
        return t[..., self.y0 : self.y1, self.x0 : self.x1]

    def owned(self, t: torch.Tensor, step: int) -> torch.Tensor:
        """The positions of a layer (of stride `step`) computed from this tile that it owns."""
        top, bottom = (self.oy0 - self.y0) // step, (self.oy1 - self.y0) // step
        left, right = (self.ox0 - self.x0) // step, (self.ox1 - self.x0) // step
        return t[..., top:bottom, left:right]

    def owned_global(self, t: torch.Tensor, step: int) -> torch.Tensor:
        """The same positions in a whole-image map of that layer."""
        return t[..., self.oy0 // step : self.oy1 // step, self.ox0 // step : self.ox1 // step]

    @property
    def pixels(self) -> int:
        return (self.y1 - self.y0) * (self.x1 - self.x0)


def layout(width: int, height: int, inner: int, layer: str) -> list[Tile]:
    """Tiles owning at most `inner` x `inner` pixels each, covering width x height.

    Tiles of one row (or column) get equal sizes, multiples of the alignment, so no thin tile
    pays a whole halo for a sliver of pixels.
    """
    align = stride(layer)
    pad = halo(layer)
    inner = max(align, inner // align * align)

    def cuts(n: int) -> list[int]:
        count = math.ceil(n / inner)
        size = math.ceil(n / count / align) * align
        edges = [min(n, i * size) for i in range(count)] + [n]
        return sorted(set(edges))

    tiles = []
    ys, xs = cuts(height), cuts(width)
    for oy0, oy1 in itertools.pairwise(ys):
        for ox0, ox1 in itertools.pairwise(xs):
            tiles.append(
                Tile(
                    max(0, oy0 - pad),
                    min(height, oy1 + pad),
                    max(0, ox0 - pad),
                    min(width, ox1 + pad),
                    oy0,
                    oy1,
                    ox0,
                    ox1,
                )
            )
    return tiles


def tile_for_budget(width: int, height: int, budget: int, layer: str) -> int | None:
    """The largest owned tile side whose forward and backward pass fit in `budget` bytes;
    None when even the smallest tile does not."""
    align, pad = stride(layer), halo(layer)
    side = align
    if (side + 2 * pad) ** 2 * GRAD_BYTES_PER_PIXEL > budget:
        return None
    longest = math.ceil(max(width, height) / align) * align
    while side < longest and (side + align + 2 * pad) ** 2 * GRAD_BYTES_PER_PIXEL <= budget:
        side += align
    return side


class TiledFeatures:
    """VGG19's statistics of an image too large for one pass, gathered tile by tile."""

    def __init__(
        self,
        features: Features,
        tiles: list[Tile],
        check: Callable[[], None] | None = None,
    ) -> None:
        self.features = features
        self.tiles = tiles
        # Called between tiles: a long tiled pass can be cancelled within an iteration.
        self.check = check or (lambda: None)

    def maps(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Whole-image activation maps of `layers` (a content target), assembled from tiles."""
        h, w = image.shape[-2:]
        out: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for tile in self.tiles:
                self.check()
                feats = self.features(tile.window(image))
                for name in layers:
                    step = stride(name)
                    part = tile.owned(feats[name], step)
                    if name not in out:
                        c = part.shape[1]
                        out[name] = part.new_zeros(1, c, h // step, w // step)
                    tile.owned_global(out[name], step).copy_(part)
        return out

    def grams(
        self, image: torch.Tensor, layers: Sequence[str], mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Each layer's Gram matrix over the whole image, as losses.gram computes it untiled."""
        sums = self._sums(image, layers, {}, mask)
        return {n: sums.grams[n] for n in layers}

    def _sums(
        self,
        image: torch.Tensor,
        style_layers: Sequence[str],
        content: dict[str, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> _Sums:
        h, w = image.shape[-2:]
        masks = _layer_masks(style_layers, mask, h, w, image)
        acc = _Sums({}, {}, {})
        with torch.no_grad():
            for tile in self.tiles:
                self.check()
                feats = self.features(tile.window(image))
                for name in style_layers:
                    f = flat(upcast(tile.owned(feats[name], stride(name))))  # (C, M)
                    weights = _owned_weights(masks, name, tile)
                    fw = f if weights is None else f * weights
                    part = fw @ f.T
                    acc.grams[name] = acc.grams[name] + part if name in acc.grams else part
                for name, target in content.items():
                    step = stride(name)
                    diff = upcast(tile.owned(feats[name], step)) - tile.owned_global(target, step)
                    sq = diff.pow(2).sum()
                    acc.squares[name] = acc.squares[name] + sq if name in acc.squares else sq
                del feats
        for name in style_layers:
            m = masks.get(name)
            n: torch.Tensor | int = (
                (h // stride(name)) * (w // stride(name)) if m is None else m.sum().clamp_min(1e-8)
            )
            acc.counts[name] = n
            acc.grams[name] = acc.grams[name] / n
        for name, target in content.items():
            acc.squares[name] = acc.squares[name] / target.numel()
        return acc


@dataclass
class _Sums:
    grams: dict[str, torch.Tensor]  # per style layer, normalized like losses.gram
    squares: dict[str, torch.Tensor]  # per content layer: mean squared error (not normalized)
    counts: dict[str, torch.Tensor | int]  # the positions (or mask weight) a Gram divides by


def _loss_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 for a float64 gradient check, float32 otherwise (as losses.py computes)."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _layer_masks(
    layers: Sequence[str], mask: torch.Tensor | None, h: int, w: int, like: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The mask at each style layer's resolution, resampled over the whole image as the
    untiled loss resamples it (an area average), then cropped per tile."""
    if mask is None:
        return {}
    out = {}
    for name in layers:
        step = stride(name)
        shape = like.new_empty(1, 1, h // step, w // step)
        out[name] = mask_for(shape, mask).to(_loss_dtype(like))
    return out


def _owned_weights(masks: dict[str, torch.Tensor], name: str, tile: Tile) -> torch.Tensor | None:
    m = masks.get(name)
    if m is None:
        return None
    part = tile.owned_global(m, stride(name))
    return part.permute(0, 2, 3, 1).reshape(1, -1)


class TiledLoss:
    """The weighted content and style terms of one scale, and their gradient, tile by tile.

    Takes the untiled objective's loss terms (their targets and normalizers) so both compute
    the same numbers; the content targets are whole-image maps made with `TiledFeatures.maps`.
    """

    def __init__(
        self,
        tiled: TiledFeatures,
        content_losses: list[tuple[str, float, ContentLoss]],
        style_losses: list[tuple[str, float, StyleLoss]],
        mask: torch.Tensor | None,
    ) -> None:
        self.tiled = tiled
        self.content_losses = content_losses
        self.style_losses = style_losses
        self.mask = mask

    def terms(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, _Sums]:
        """The content and style terms (as Objective weighs them), and the sums behind them."""
        sums = self.tiled._sums(
            image,
            [n for n, _, _ in self.style_losses],
            {n: loss.target for n, _, loss in self.content_losses},
            self.mask,
        )
        zero = image.new_zeros((), dtype=_loss_dtype(image))
        content = sum(
            (wt * sums.squares[n] / loss.norm for n, wt, loss in self.content_losses), zero
        )
        style = sum(
            (
                wt * (sums.grams[n] - loss.target).pow(2).sum() / loss.norm
                for n, wt, loss in self.style_losses
            ),
            zero,
        )
        return content, style, sums

    def gradient(
        self, image: torch.Tensor, sums: _Sums, content_scale: float, style_scale: float
    ) -> torch.Tensor:
        """d(content_scale * content + style_scale * style)/d image, tile by tile."""
        h, w = image.shape[-2:]
        style_names = [n for n, _, _ in self.style_losses]
        masks = _layer_masks(style_names, self.mask, h, w, image)
        # d/dG of each style term, symmetric; the per-position gradient is then 2 dG F W / n.
        d_gram = {
            n: style_scale * wt * 2 * (sums.grams[n] - loss.target) / loss.norm
            for n, wt, loss in self.style_losses
        }
        grad = torch.zeros_like(image)
        for tile in self.tiled.tiles:
            self.tiled.check()
            window = tile.window(image).detach().requires_grad_(True)
            with torch.enable_grad():
                feats = self.tiled.features(window)
                outputs, grads = [], []
                for name, wt, loss in self.content_losses:
                    step = stride(name)
                    own = tile.owned(feats[name], step)
                    diff = upcast(own.detach()) - tile.owned_global(loss.target, step)
                    g = content_scale * wt * 2 * diff / (loss.target.numel() * loss.norm)
                    outputs.append(own)
                    grads.append(g.to(own.dtype))
                for name in style_names:
                    step = stride(name)
                    own = tile.owned(feats[name], step)
                    f = flat(upcast(own.detach()))
                    weights = _owned_weights(masks, name, tile)
                    fw = f if weights is None else f * weights
                    n = sums.counts[name]
                    g_flat = 2 * d_gram[name] @ fw / n  # (C, M)
                    c, oh, ow = own.shape[1:]
                    g = g_flat.T.reshape(1, oh, ow, c).permute(0, 3, 1, 2)
                    outputs.append(own)
                    grads.append(g.to(own.dtype))
                torch.autograd.backward(outputs, grads)
            assert window.grad is not None
            tile.window(grad).add_(window.grad)
            del feats, outputs, grads
        return grad


class _TiledTerms(torch.autograd.Function):
    """content_scale * content + style_scale * style, whose backward is the tiled gradient.

    The gradient is computed in the forward pass, while the Gram sums are at hand; autograd
    then scales it by the incoming gradient (1 from `total.backward()`).
    """

    @staticmethod
    def forward(ctx, image, loss, content_scale, style_scale):  # type: ignore[override]
        content, style, sums = loss.terms(image)
        grad = loss.gradient(image, sums, content_scale, style_scale)
        ctx.save_for_backward(grad)
        ctx.mark_non_differentiable(content, style)
        return content_scale * content + style_scale * style, content, style

    @staticmethod
    def backward(ctx, grad_out, _c, _s):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad_out * grad, None, None, None


def weighted_terms(
    loss: TiledLoss, image: torch.Tensor, content_scale: float, style_scale: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weighted sum, content, style). The sum carries the tiled gradient when autograd needs
    one; otherwise only the first (forward-only) pass runs."""
    if torch.is_grad_enabled() and image.requires_grad:
        return _TiledTerms.apply(image, loss, content_scale, style_scale)
    content, style, _ = loss.terms(image)
    return content_scale * content + style_scale * style, content, style


__all__ = [
    "FORWARD_BYTES_PER_PIXEL",
    "GRAD_BYTES_PER_PIXEL",
    "JOB_BYTES_PER_PIXEL",
    "Tile",
    "TiledFeatures",
    "TiledLoss",
    "deepest",
    "halo",
    "layout",
    "stride",
    "tile_for_budget",
    "weighted_terms",
]
