"""The objective: alpha * content + beta * style + tv, for one scale, and a step of descent on it.

At each scale the content's activations and the styles' Gram matrices (blended by the style
weights, cached across jobs on the engine) become the targets; `Objective.evaluate` weighs an
iterate against them, in tiles where the scale's activations do not fit the memory budget whole.
`layer_weights` is the perceptual loss's weighting of VGG19's layers, shared with training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from . import memory, tiling
from .cache import Targets
from .images import resize
from .lbfgs import ProjectedLBFGS
from .losses import ContentLoss, StyleLoss, gram, tv_loss
from .memory import MemoryPlan
from .prepare import PreparedJob, TemporalTarget, style_long_side, style_size
from .settings import STYLE_LAYER_EMPHASIS, Optimizer, StyleSettings

if TYPE_CHECKING:
    from .stylizer import Stylizer

# (layer, weight, loss) for each content or style layer
ContentTerms = list[tuple[str, float, ContentLoss]]
StyleTerms = list[tuple[str, float, StyleLoss]]


@dataclass(frozen=True)
class LossTerms:
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def floats(self) -> tuple[float, float, float, float]:
        c, s, tv, total = (
            float(t.detach()) for t in (self.content, self.style, self.tv, self.total)
        )
        return c, s, tv, total


class Objective:
    """alpha * content + beta * style + tv, for one scale."""

    def __init__(
        self,
        engine: Stylizer,
        settings: StyleSettings,
        content_losses: ContentTerms,
        style_losses: StyleTerms,
        content: torch.Tensor,
        mask: torch.Tensor | None,
        tiled: tiling.TiledLoss | None = None,
        temporal: TemporalTarget | None = None,
    ) -> None:
        self.engine = engine
        # A video frame's tie to the previous result, at this scale (None for stills).
        self.temporal = temporal
        # Set when this scale's activations do not fit the memory budget whole.
        self.tiled = tiled
        self.settings = settings
        self.content_losses = content_losses
        self.style_losses = style_losses
        self.content = content
        self.mask = mask
        seen = dict.fromkeys(settings.content_layers + settings.style_layers)
        self.layers = list(seen)

    def evaluate(self, x: torch.Tensor) -> LossTerms:
        s = self.settings
        image = x if self.mask is None else self.mask * x + (1 - self.mask) * self.content
        # Reported unweighted like the other terms, also when it is not optimized (detached:
        # then it costs no backward pass).
        tv = tv_loss(image if s.tv_weight > 0 else image.detach())
        if self.tiled is not None:
            weighted, content, style = tiling.weighted_terms(
                self.tiled, image, s.content_weight, s.style_weight
            )
            total = self._with_temporal(x, weighted + s.tv_weight * tv)
            return LossTerms(content, style, tv, total)
        feats = self.engine.features(image, self.layers, s.pooling)
        zero = image.new_zeros(())
        content = sum((wt * loss(feats[n]) for n, wt, loss in self.content_losses), zero)
        style = sum((wt * loss(feats[n], self.mask) for n, wt, loss in self.style_losses), zero)
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        return LossTerms(content, style, tv, self._with_temporal(x, total))

    def _with_temporal(self, x: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """`total` plus the temporal term (Ruder et al. 2016): the weighted mean squared
        distance to the warped previous result where the flow is consistent, divided by that
        result's energy like the other terms (losses.py). Stills: `total` itself."""
        t = self.temporal
        if t is None:
            return total
        error = (t.weights * (x - t.warped) ** 2).mean() / (t.warped.square().mean() + 1e-8)
        return total + t.weight * error


def build(
    engine: Stylizer, prep: PreparedJob, w: int, h: int, check: Callable[[], None]
) -> Objective:
    """The objective of scale w x h; `check` raises Cancelled between tiles."""
    s = prep.settings
    dev = engine.compute.device
    content = resize(prep.net_content, w, h).to(dev)
    mask = None if prep.mask is None else resize(prep.mask, w, h).to(dev)
    tiles = memory.tiles(prep.memory, engine.tile_side, w, h, s)
    if tiles is not None:
        feats = tiled_features(engine, s, tiles, check).maps(content, s.content_layers)
    else:
        with torch.no_grad():
            feats = engine.features(content, s.content_layers, s.pooling)
    cw, sw = layer_weights(s)
    content_losses = [
        (name, wt, ContentLoss(feats[name])) for name, wt in zip(s.content_layers, cw, strict=True)
    ]
    blended: dict[str, torch.Tensor] = {}
    for i, b in enumerate(prep.blend):
        if b == 0:
            continue
        for name, g in style_targets(engine, prep, i, w, h, check).items():
            blended[name] = blended[name] + b * g if name in blended else b * g
    style_losses = [
        (name, wt, StyleLoss(blended[name])) for name, wt in zip(s.style_layers, sw, strict=True)
    ]
    tiled = None
    if tiles is not None:
        features = tiled_features(engine, s, tiles, check)
        tiled = tiling.TiledLoss(features, content_losses, style_losses, mask)
    temporal = None
    if prep.temporal is not None:
        t = prep.temporal
        temporal = TemporalTarget(
            resize(t.warped, w, h).to(dev), resize(t.weights, w, h).to(dev), t.weight
        )
    return Objective(engine, s, content_losses, style_losses, content, mask, tiled, temporal)


def style_targets(
    engine: Stylizer, prep: PreparedJob, index: int, w: int, h: int, check: Callable[[], None]
) -> Targets:
    """Style `index`'s Gram matrices for scale w x h, from the engine's cache where it has them."""
    s = prep.settings
    style = prep.styles[index]
    long_side = style_long_side(w, h, s.style_scale)
    sw, sh = style_size(style.shape[-1], style.shape[-2], long_side)
    key = "|".join(
        [
            prep.style_keys[index],
            f"{sw}x{sh}",
            s.pooling.value,
            engine.weights_name,
            ",".join(s.style_layers),
            str(engine.compute.bfloat16),
        ]
    )
    targets = engine.cache.get(key)
    if targets is None:
        image = resize(style, sw, sh).to(engine.compute.device)
        per_pixel = tiling.FORWARD_BYTES_PER_PIXEL
        tiles = memory.tiles(prep.memory, engine.tile_side, sw, sh, s, per_pixel)
        if tiles is not None:
            targets = tiled_features(engine, s, tiles, check).grams(image, s.style_layers)
        else:
            with torch.no_grad():
                feats = engine.features(image, s.style_layers, s.pooling)
                targets = {name: gram(feats[name]) for name in s.style_layers}
        engine.cache.put(key, targets)
    return targets


def tiled_features(
    engine: Stylizer, s: StyleSettings, tiles: list[tiling.Tile], check: Callable[[], None]
) -> tiling.TiledFeatures:
    layers = list(dict.fromkeys(s.content_layers + s.style_layers))
    return tiling.TiledFeatures(
        lambda image: engine.features(image, layers, s.pooling), tiles, check
    )


def layer_weights(s: StyleSettings) -> tuple[list[float], list[float]]:
    """The content layers' and the style layers' weights, each summing to 1 (the style
    layers' default emphasises relu4_1): the same perceptual loss for optimization and
    training."""
    content = _normalized(s.content_layer_weights, len(s.content_layers))
    style = _normalized(
        s.style_layer_weights or tuple(STYLE_LAYER_EMPHASIS.get(n, 1.0) for n in s.style_layers),
        len(s.style_layers),
    )
    return content, style


def _normalized(weights: tuple[float, ...], n: int) -> list[float]:
    w = list(weights) if weights else [1.0] * n
    total = sum(w)
    return [v / total for v in w] if total > 0 else w


def make_optimizer(
    s: StyleSettings, x: torch.Tensor, plan: MemoryPlan | None = None
) -> torch.optim.Optimizer | ProjectedLBFGS:
    if s.optimizer is Optimizer.ADAM:
        return torch.optim.Adam([x], lr=s.learning_rate)
    # One L-BFGS iteration (one evaluation) per step() keeps progress, previews and cancellation
    # per iteration; the history persists across calls. lbfgs.py says why not torch's.
    # A fresh history at each scale: carrying the inverse curvature over from the coarser scale
    # made no measurable difference on the tuning set (benchmarks/RESULTS.md).
    if plan is None:
        return ProjectedLBFGS(x)
    return ProjectedLBFGS(
        x, history_bytes=plan.history, store="cpu" if plan.history_on_host else None
    )


def step(
    opt: torch.optim.Optimizer | ProjectedLBFGS, x: torch.Tensor, objective: Objective
) -> LossTerms:
    """One iteration on `x`, projected onto the valid range; the terms of the iterate it
    started from."""
    holder: list[LossTerms] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = objective.evaluate(x)
        terms.total.backward()
        holder.append(terms)
        return terms.total

    opt.step(closure)  # type: ignore[arg-type]  # the stubs want float; torch takes a Tensor
    with torch.no_grad():
        # Projection onto the valid range: the delivered 8-bit image is then the optimized one.
        x.clamp_(0, 1)
    terms = holder[-1]
    return LossTerms(*(t.detach() for t in (terms.content, terms.style, terms.tv, terms.total)))
