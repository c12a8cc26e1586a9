"""Instant styles: this package's feed-forward networks as the engine uses them.

One pass of a network instead of an optimization, in a fraction of a second, for three uses:
the `fast` method's result, the first preview of an optimization (the canvas shows a styled
picture at once), and the optimization's starting image (`init` = `fast`: it starts near its
goal).

- Style images go through the arbitrary-style pair (Ghiasi et al. 2017): a predictor turns each
  into a 100-number style vector, the vectors are blended with the style weights, and the
  transformer paints the content with the blend.
- Presets alone run the 26-style network (Dumoulin et al. 2017), which mixes its trained styles
  by a weight vector.
- Presets beside style images: a preset enters the style-vector blend as the vector of its
  swatch (a fixed example picture painted in that preset), so both kinds mix in one space.

The networks load on first use (a Gatys-only engine never reads their files) and run at the
output's own size: they are fully convolutional, and a picture painted at its size keeps finer
strokes than one painted at 384 px and scaled up.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cached_property
from importlib import resources

import torch

from ..device import Compute
from ..images import fit_size, resize, tensor_digest, to_tensor
from ..settings import NUM_PRESETS
from ..train_settings import Kind
from ..trained import TrainedStyle
from . import load_arbitrary, load_multistyle
from .arbitrary import PREDICTOR_SIZE, ArbitraryTransformer, StylePredictor
from .models import FastModelError
from .multistyle import MultiStyleNetwork

log = logging.getLogger(__name__)

# The predictor sees the style with its shorter side at this size (its training size); it
# ends in a global average, so the style keeps its aspect ratio instead of being cropped.
PREDICTOR_SIDE = PREDICTOR_SIZE
# A style image smaller than this on its shorter side holds too little texture to predict from.
MIN_STYLE_SIDE = 32
# Swatches: the example picture each preset is shown on, and their size.
SWATCH_IMAGE = "astronaut.png"
SWATCH_SIZE = 128
_VECTOR_CACHE = 64  # style vectors kept (a 100-number vector each)
_NETWORK_CACHE = 4  # scratch-trained styles' networks kept on the device


class InstantStyles:
    """The networks on one engine's device and arithmetic. Thread-safe loading; one job at a
    time, like the engine itself."""

    def __init__(self, compute: Compute) -> None:
        self.compute = compute
        self._lock = threading.Lock()
        self._multistyle: MultiStyleNetwork | None = None
        self._arbitrary: tuple[StylePredictor, ArbitraryTransformer] | None = None
        self._vectors: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._networks: OrderedDict[str, torch.nn.Module] = OrderedDict()

    # -- availability and provenance --------------------------------------------------------

    def check(self) -> None:
        """Raise FastModelError (one line naming the file) unless the model files load."""
        self.multistyle()
        self.arbitrary()

    @cached_property
    def available(self) -> bool:
        try:
            self.check()
        except FastModelError as e:
            log.warning("instant styles unavailable: %s", e)
            return False
        return True

    def names(self, presets_only: bool) -> str:
        """Which networks and weight files a result came from."""
        if presets_only:
            return self.multistyle().info.name
        predictor, transformer = self.arbitrary()
        return f"{predictor.info.name} + {transformer.info.name}"

    def multistyle(self) -> MultiStyleNetwork:
        with self._lock:
            if self._multistyle is None:
                self._multistyle = load_multistyle(self.compute.device)
            return self._multistyle

    def arbitrary(self) -> tuple[StylePredictor, ArbitraryTransformer]:
        with self._lock:
            if self._arbitrary is None:
                self._arbitrary = load_arbitrary(self.compute.device)
            return self._arbitrary

    # -- painting ---------------------------------------------------------------------------

    def _autocast(self):
        """bfloat16 convolutions where the engine uses them; the networks keep their norms and
        style parameters in float32 themselves."""
        if not self.compute.bfloat16:
            return nullcontext()
        return torch.autocast(device_type=self.compute.autocast_type, dtype=torch.bfloat16)

    def style_vector(self, style: torch.Tensor) -> torch.Tensor:
        """(1, 100) for an RGB 0..1 style image (1, 3, H, W); cached by its pixels."""
        h, w = style.shape[-2:]
        if min(h, w) < MIN_STYLE_SIDE:
            raise ValueError(
                f"style image is {w}x{h}; the fast method needs at least {MIN_STYLE_SIDE} px"
                " on its shorter side"
            )
        key = tensor_digest(style)
        vector = self._vectors.get(key)
        if vector is None:
            predictor, _ = self.arbitrary()
            pw, ph = fit_size(w, h, round(PREDICTOR_SIDE * max(w, h) / min(w, h)))
            image = resize(style, pw, ph).to(self.compute.device)
            with torch.inference_mode():
                vector = predictor(image)  # float32: the vector is sensitive to rounding
            self._vectors[key] = vector
            if len(self._vectors) > _VECTOR_CACHE:
                self._vectors.popitem(last=False)
        else:
            self._vectors.move_to_end(key)
        return vector

    def paint(
        self,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        blend: Sequence[float],
        presets: Sequence[int] = (),
        preset_blend: Sequence[float] = (),
        trained: Sequence[TrainedStyle | None] = (),
    ) -> torch.Tensor:
        """`content` (1, 3, H, W) painted in the blend of `styles` and `presets`, at its size,
        as float32 RGB 0..1 on the CPU. Weights need not be normalized; together they must
        have a positive sum. `trained`, beside `styles`: the trained style a style image
        stands for (None for a plain image), whose own network or norms paint it."""
        weights = list(blend) + list(preset_blend or [1.0] * len(presets))
        total = sum(weights)
        if not styles and not presets:
            raise ValueError("a style image or a preset is needed")
        if total <= 0:
            raise ValueError("the style and preset weights must not all be zero")
        x = content.to(self.compute.device)
        if any(t is not None for t in trained):
            return self._paint_trained(x, styles, weights, presets, trained)
        with torch.inference_mode():
            if not styles:
                mix = torch.zeros(NUM_PRESETS)
                for index, weight in zip(presets, weights, strict=True):
                    mix[index] += weight / total
                with self._autocast():
                    out = self.multistyle()(x, mix)
            else:
                pictures = list(styles) + [self.swatch(k, PREDICTOR_SIDE) for k in presets]
                vector = sum(
                    self.style_vector(p) * (w / total)
                    for p, w in zip(pictures, weights, strict=True)
                    if w > 0  # a style weighed 0 takes no part (nor its predictor's time)
                )
                _, transformer = self.arbitrary()
                with self._autocast():
                    out = transformer(x, vector)
        return out.float().cpu().clamp(0, 1)

    def _paint_trained(
        self,
        x: torch.Tensor,
        styles: Sequence[torch.Tensor],
        weights: Sequence[float],
        presets: Sequence[int],
        trained: Sequence[TrainedStyle | None],
    ) -> torch.Tensor:
        """With trained styles: a `scratch` one paints alone with its own network; `fast` ones
        blend with the others in the transformer's norms (a vector's norms are affine in it, so
        this is the vector blend where there are no trained styles)."""
        used = [(i, w) for i, w in enumerate(weights) if w > 0]
        total = sum(w for _, w in used)
        own = [t for t in trained if t is not None and t.kind is Kind.SCRATCH]
        with torch.inference_mode():
            if own:
                single = len(used) == 1 and used[0][0] < len(trained)
                sole = trained[used[0][0]] if single else None  # the only style weighed
                if sole is not own[0]:
                    raise ValueError(
                        f"the trained style {own[0].name!r} has a network of its own and paints"
                        " alone: it cannot be blended with other styles"
                    )
                with self._autocast():
                    return self._network(own[0])(x).float().cpu().clamp(0, 1)
            _, transformer = self.arbitrary()
            pictures = list(styles) + [self.swatch(k, PREDICTOR_SIDE) for k in presets]
            mixed: list[tuple[torch.Tensor, torch.Tensor]] | None = None
            for i, w in used:
                t = trained[i] if i < len(trained) else None
                if t is not None:
                    if t.base and t.base != transformer.info.name:
                        raise ValueError(
                            f"the trained style {t.name!r} was trained on {t.base}; this"
                            f" engine's network is {transformer.info.name}: train it again"
                        )
                    norms = t.norms(self.compute.device)
                else:
                    norms = transformer.norms(self.style_vector(pictures[i]))
                part = [(a * (w / total), b * (w / total)) for a, b in norms]
                mixed = (
                    part
                    if mixed is None
                    else [(a + c, b + d) for (a, b), (c, d) in zip(mixed, part, strict=True)]
                )
            assert mixed is not None
            with self._autocast():
                out = transformer(x, None, mixed)
        return out.float().cpu().clamp(0, 1)

    def _network(self, style: TrainedStyle) -> torch.nn.Module:
        """A scratch-trained style's network on this device, kept for the style's next use."""
        key = "net:" + tensor_digest(*style.weights.values())
        with self._lock:
            net = self._networks.get(key)
            if net is None:
                net = self._networks[key] = style.network(self.compute.device)
                if len(self._networks) > _NETWORK_CACHE:
                    self._networks.popitem(last=False)
            else:
                self._networks.move_to_end(key)
            return net

    def names_trained(self, trained: Sequence[TrainedStyle | None]) -> str:
        """Provenance of a result with trained styles: their names and kinds."""
        return ", ".join(f"trained style {t.name} ({t.kind.value})" for t in trained if t)

    def swatch(self, preset: int, size: int = SWATCH_SIZE) -> torch.Tensor:
        """Preset `preset` on the example picture, (1, 3, H, W) 0..1: what a palette shows,
        and the style image that stands for the preset in a blend or an optimization."""
        picture = resize(self.swatch_picture, *fit_size(256, 256, size))
        return self.paint(picture, [], [], [preset], [1.0])

    @cached_property
    def swatch_picture(self) -> torch.Tensor:
        from PIL import Image

        ref = resources.files("impasto").joinpath("examples").joinpath(SWATCH_IMAGE)
        with resources.as_file(ref) as path, Image.open(path) as image:
            return to_tensor(image.convert("RGB"))[0]
