"""One referee for every benchmark: the losses of Gatys et al. (2016) on 8-bit RGB images.

Impasto and pastiche each minimize their own variant of the paper's objective (impasto divides
every term by its target's energy, pastiche uses means and its own per-layer weights), so neither
tool's reported loss can judge the other. This evaluator scores both on the same terms, with code
that shares nothing with impasto's losses: pastiche's own VGG19 class, its own copy of the
original weights and its own image preprocessing (RGB -> BGR, 0..255, mean pixel subtracted).

Losses, as in the paper (Eq. 1, 4 and 5), summed in float64:

- content: 1/2 * sum (F - P)^2 on relu4_2 (pastiche's block4_relu2);
- style: sum over relu1_1 .. relu5_1 of w_l * 1/(4 N_l^2 M_l^2) * sum (G - A)^2, w_l = 1/5,
  with G = F F^T unnormalized (N_l channels, M_l positions).

The paper assumes the style image has as many positions as the output. Ours may not (the style
keeps its aspect ratio), and an unnormalized Gram grows with the number of positions, so the
style's Gram is rescaled to the output's M_l: A = (M_l / M_style) F_s F_s^T. When the sizes agree
this is exactly the paper's A. Usage (CLI): evaluate.py CONTENT STYLE IMAGE [IMAGE ...]
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass

import torch
from pastiche.pastiche import load_image
from pastiche.vgg19 import VGG19
from PIL import Image

from impasto.engine.weights import pastiche_weights_path

CONTENT_LAYER = "block4_relu2"
STYLE_LAYERS = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1")


@dataclass(frozen=True)
class PaperLosses:
    """The paper's unweighted loss terms of one image (alpha and beta are not applied)."""

    content: float
    style: float
    style_layers: tuple[float, ...]  # each layer's w_l * E_l; they add up to `style`


def pastiche_tensor(image: Image.Image) -> torch.Tensor:
    """An 8-bit image in pastiche's input convention, through pastiche's own loader.

    The image goes through a lossless in-memory PNG so that `load_image` (which opens a file)
    preprocesses it exactly as pastiche preprocesses its inputs; no size is given, so it is not
    resampled.
    """
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    buf.seek(0)
    return load_image(buf)


def _gram(features: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(F F^T, M) in float64, for features (1, N, H, W)."""
    f = features[0].flatten(1).double()
    return f @ f.T, f.shape[1]


class PaperEvaluator:
    """Scores images against one content image (at the output size) and one style image.

    The style image must be given at the size the tools used it at; the content image at the
    size of the images to be scored.
    """

    def __init__(self, content: Image.Image, style: Image.Image, pooling: str = "max") -> None:
        self.vgg = VGG19.from_quantized_bin(str(pastiche_weights_path()), pooling=pooling)
        for p in self.vgg.parameters():
            p.requires_grad_(False)
        self.vgg.eval()
        self.size = content.size
        with torch.no_grad():
            feats = self.vgg.forward(pastiche_tensor(content), [CONTENT_LAYER])
            self.content_target = feats[CONTENT_LAYER].double()
            sfeats = self.vgg.forward(pastiche_tensor(style), STYLE_LAYERS)
        # Stored normalized (A / M_style): rescaled to each scored image's M_l in `evaluate`.
        self.style_targets: dict[str, torch.Tensor] = {}
        for name in STYLE_LAYERS:
            g, m = _gram(sfeats[name])
            self.style_targets[name] = g / m

    def evaluate(self, image: Image.Image) -> PaperLosses:
        """The paper's content and style loss of `image`, which must have the content's size."""
        if image.size != self.size:
            raise ValueError(f"image is {image.size}, the content is {self.size}")
        with torch.no_grad():
            feats = self.vgg.forward(pastiche_tensor(image), (CONTENT_LAYER, *STYLE_LAYERS))
            content = 0.5 * (feats[CONTENT_LAYER].double() - self.content_target).pow(2).sum()
            weight = 1.0 / len(STYLE_LAYERS)
            layers = []
            for name in STYLE_LAYERS:
                g, m = _gram(feats[name])
                n = g.shape[0]
                a = self.style_targets[name] * m
                layers.append(weight * float((g - a).pow(2).sum()) / (4.0 * n**2 * m**2))
        return PaperLosses(float(content), sum(layers), tuple(layers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("content", help="content image, at the size of the images scored")
    parser.add_argument("style", help="style image, at the size the style was used at")
    parser.add_argument("images", nargs="+", help="8-bit RGB images to score")
    parser.add_argument("--pooling", choices=("max", "avg"), default="max")
    args = parser.parse_args(argv)
    evaluator = PaperEvaluator(Image.open(args.content), Image.open(args.style), args.pooling)
    print(f"{'content':>14} {'style':>14}  image")
    for path in args.images:
        losses = evaluator.evaluate(Image.open(path))
        print(f"{losses.content:14.6g} {losses.style:14.6g}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
