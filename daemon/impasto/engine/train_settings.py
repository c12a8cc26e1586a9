"""A training's settings (training.py), without torch: the command line builds its options
from them before anything heavy is imported."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from .settings import StyleSettings

MIN_CROP = 32  # px: smaller crops hold no style texture to learn from


class Kind(str, Enum):
    """How a trained style's network began (trained.py): the instant network's norms for
    this style (`fast`), or a network of its own from random weights (`scratch`)."""

    FAST = "fast"
    SCRATCH = "scratch"


LEARNING_RATES = {Kind.FAST: 0.02, Kind.SCRATCH: 0.001}


class TrainSettingsError(ValueError):
    """A training setting out of range; one line naming it (`field`: the setting's name)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TrainSettings:
    start: Kind = Kind.FAST
    steps: int = 300
    size: int = 256  # px a side of the content crops
    batch: int = 2
    learning_rate: float = 0.0  # 0: the start's own (LEARNING_RATES)
    style_size: int = 256  # px, the style image's longer side for its Gram targets
    width: int = 16  # scratch: the network's first-layer channels (the paper's 32)
    content_weight: float = StyleSettings.content_weight
    # Not the optimization's 20: a network trained at 20 paints the style's texture alone (the
    # content is gone; benchmarks/RESULTS.md, "Trained styles"). 5 keeps the picture, from a
    # small sweep of 1, 3 and 10 on two styles and two photos (results/training/).
    style_weight: float = 5.0
    tv_weight: float = StyleSettings.tv_weight
    preview_every: int = 50  # steps between previews of the validation picture (0: none)
    checkpoint_every: int = 50  # steps between checkpoints (0: only when cancelled)
    seed: int = 0

    def validate(self) -> TrainSettings:
        checks = [
            ("steps", self.steps >= 1, "at least 1"),
            ("size", MIN_CROP <= self.size <= 2048, f"{MIN_CROP}..2048 px"),
            ("batch", 1 <= self.batch <= 64, "1..64"),
            ("style_size", MIN_CROP <= self.style_size <= 2048, f"{MIN_CROP}..2048 px"),
            ("width", 1 <= self.width <= 128, "1..128"),
            ("learning_rate", 0 <= self.learning_rate < 1, "0 (automatic) or below 1"),
            ("preview_every", self.preview_every >= 0, "0 or more"),
            ("checkpoint_every", self.checkpoint_every >= 0, "0 or more"),
            ("seed", 0 <= self.seed < 2**32, "0..4294967295"),
        ]
        for weight in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, weight)
            checks.append((weight, math.isfinite(value) and value >= 0, "0 or more"))
        for name, ok, wanted in checks:
            if not ok:
                raise TrainSettingsError(f"{name} {getattr(self, name)!r} must be {wanted}", name)
        return self

    @property
    def rate(self) -> float:
        return self.learning_rate or LEARNING_RATES[self.start]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "start": self.start.value}
