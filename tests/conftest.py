"""Shared fixtures: the bundled example images, shrunk, and one warm engine for the session.

Loading VGG19 takes seconds, so every engine test shares one CPU Stylizer in float32 (bfloat16
would make results depend on the CPU's instruction set).
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads then sleep instead of spinning. On a machine
# shared with other work, spinning threads wait for descheduled ones and a 32 px iteration can
# take ten times longer; sleeping costs next to nothing at these sizes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import impasto
from impasto.engine import Stylizer

EXAMPLES = Path(impasto.__file__).parent / "examples"


def example(name: str, size: int | None = None) -> Image.Image:
    """An example image (astronaut, rocket, hubble: RGB; brick: grey), longer side `size`."""
    with Image.open(EXAMPLES / f"{name}.png") as im:
        image = im.copy()
    if size is not None:
        w, h = image.size
        scale = size / max(w, h)
        image = image.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
        )
    return image


@pytest.fixture(scope="session")
def load_example() -> Callable[..., Image.Image]:
    return example


@pytest.fixture(scope="session")
def stylizer() -> Stylizer:
    return Stylizer(device="cpu", precision="float32")
