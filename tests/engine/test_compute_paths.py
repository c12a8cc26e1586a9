"""The GPU code paths that can run on a CPU: bfloat16 autocast and channels-last activations.

CI has no GPU, so these run the very code a CUDA device runs (autocast, NHWC copies of the input,
a channels-last model) on the CPU, and compare against plain float32.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from PIL import Image

from impasto.engine import Job, StyleSettings, Stylizer
from impasto.engine.device import Precision, select

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"


@pytest.fixture(scope="module")
def pictures() -> tuple[Image.Image, Image.Image]:
    content = Image.open(EXAMPLES / "astronaut.png").convert("RGB").resize((40, 40))
    style = Image.open(EXAMPLES / "hubble.png").convert("RGB").resize((40, 35))
    return content, style


def _run(engine: Stylizer, pictures: tuple[Image.Image, Image.Image]) -> tuple[bytes, float]:
    # From the content, at the style weight this test was written for: the two arithmetics
    # then start from the same picture (the fast start is painted in each engine's own).
    s = StyleSettings(size=40, iterations=8, scales=1, init="content", style_weight=3.0)
    r = engine.stylize(Job(pictures[0], [pictures[1]], s))
    return r.image.tobytes(), r.loss


def test_channels_last_bfloat16_path_matches_float32(
    pictures: tuple[Image.Image, Image.Image],
) -> None:
    reference = Stylizer(device="cpu", precision=Precision.FLOAT32)
    fast = Stylizer(device="cpu", precision=Precision.BFLOAT16)
    fast.compute = dataclasses.replace(fast.compute, channels_last=True)
    fast.model = fast.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    assert fast.compute.bfloat16 and fast.compute.channels_last
    ref_pixels, ref_loss = _run(reference, pictures)
    pixels, loss = _run(fast, pictures)
    assert pixels != ref_pixels  # it really ran in other arithmetic
    # ... yet optimizes the same objective: the final losses agree closely.
    assert loss == pytest.approx(ref_loss, rel=0.05)


def test_same_seed_same_output_in_bfloat16(pictures: tuple[Image.Image, Image.Image]) -> None:
    engine = Stylizer(device="cpu", precision=Precision.BFLOAT16)
    s = StyleSettings(size=40, iterations=5, scales=1, init="noise", seed=7)
    a = engine.stylize(Job(pictures[0], [pictures[1]], s)).image.tobytes()
    b = engine.stylize(Job(pictures[0], [pictures[1]], s)).image.tobytes()
    c = engine.stylize(Job(pictures[0], [pictures[1]], s.replace(seed=8))).image.tobytes()
    assert a == b
    assert a != c


def test_device_selection() -> None:
    assert select("cpu", "float32").device.type == "cpu"
    assert not select("cpu", "float32").bfloat16
    assert select("cpu", "bfloat16").bfloat16
    assert select("auto", "float32").device.type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="not available here"):
        select("cuda:99", "auto")
