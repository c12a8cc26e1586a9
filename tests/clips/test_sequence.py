"""Clips stylized frame by frame (clips/sequence.py) on a synthetic moving square: temporal
consistency lowers the warping error clearly, keeps the style, and survives a resume."""

from __future__ import annotations

import numpy as np
import pytest
from moving import moving_square
from PIL import Image

from impasto.clips.flow import warping_error
from impasto.clips.sequence import DEFAULT_TEMPORAL, FrameStylizer, style_loss
from impasto.engine import StyleSettings, Stylizer

FAST = StyleSettings(size=64, method="fast")
OPTIMIZATION = StyleSettings(size=64, iterations=20)


def run(
    engine: Stylizer, clip: list[np.ndarray], style: Image.Image, s: StyleSettings, t: float
) -> list[np.ndarray]:
    stylizer = FrameStylizer(engine, [style], s, t)
    return [np.asarray(stylizer.frame(Image.fromarray(f))) for f in clip]


def mean_style_loss(engine, clip, outputs, style, s) -> float:
    return float(
        np.mean([style_loss(engine, f, o, [style], s) for f, o in zip(clip, outputs, strict=True)])
    )


@pytest.mark.parametrize("settings", [FAST, OPTIMIZATION], ids=["fast", "optimization"])
def test_temporal_consistency_lowers_the_warping_error_and_keeps_the_style(
    stylizer: Stylizer, load_example, settings: StyleSettings
) -> None:
    clip = moving_square(frames=5)
    style = load_example("hubble", 128)
    independent = run(stylizer, clip, style, settings, 0.0)
    consistent = run(stylizer, clip, style, settings, DEFAULT_TEMPORAL)
    assert all(o.shape == (64, 64, 3) for o in consistent)
    floor, _ = warping_error(clip, clip)
    free, _ = warping_error(clip, independent)
    tied, _ = warping_error(clip, consistent)
    assert free > 2 * floor  # stylized frames flicker: there is something to remove
    assert tied < 0.6 * free
    loss_free = mean_style_loss(stylizer, clip, independent, style, settings)
    loss_tied = mean_style_loss(stylizer, clip, consistent, style, settings)
    assert loss_tied < 1.25 * loss_free


@pytest.mark.parametrize("settings", [FAST, OPTIMIZATION], ids=["fast", "optimization"])
def test_resume_gives_the_next_frame_of_an_uninterrupted_run(
    stylizer: Stylizer, load_example, settings: StyleSettings
) -> None:
    clip = [Image.fromarray(f) for f in moving_square(frames=3)]
    style = load_example("hubble", 128)
    whole = FrameStylizer(stylizer, [style], settings, DEFAULT_TEMPORAL)
    outputs = [whole.frame(f) for f in clip]
    resumed = FrameStylizer(stylizer, [style], settings, DEFAULT_TEMPORAL)
    resumed.resume(clip[1], outputs[1])
    assert np.array_equal(np.asarray(resumed.frame(clip[2])), np.asarray(outputs[2]))


def test_frames_are_resized_as_stills_and_temporal_is_checked(
    stylizer: Stylizer, load_example
) -> None:
    style = load_example("hubble", 128)
    frame = Image.fromarray(moving_square(frames=1, size=64)[0]).resize((96, 48))
    out = FrameStylizer(stylizer, [style], StyleSettings(size=40, method="fast"), 0.5).frame(frame)
    assert out.size == (40, 20)
    with pytest.raises(ValueError):
        FrameStylizer(stylizer, [style], FAST, 1.5)


def test_amount_blends_each_frame_but_the_frames_carry_each_other_unblended(
    stylizer: Stylizer, load_example
) -> None:
    """Protocol 1.8's amount in a clip: each delivered frame is the amount-1 frame blended with
    its photo (not a blend of blends drifting towards the photo), and a resume from a
    delivered frame goes on as an uninterrupted run, within the rounding of the blend."""
    clip = moving_square(frames=3)
    style = load_example("hubble", 128)
    half = StyleSettings(size=64, method="fast", amount=0.5)
    full = run(stylizer, clip, style, FAST, DEFAULT_TEMPORAL)
    blended = run(stylizer, clip, style, half, DEFAULT_TEMPORAL)
    for photo, out, mixed in zip(clip, full, blended, strict=True):
        expected = (out.astype(float) + photo.astype(float)) / 2
        assert np.abs(mixed - expected).max() <= 1
    assert np.abs(full[2].astype(float) - clip[2]).mean() > 5  # (so the check above can fail)
    resumed = FrameStylizer(stylizer, [style], half, DEFAULT_TEMPORAL)
    resumed.resume(Image.fromarray(clip[1]), Image.fromarray(blended[1]))
    again = np.asarray(resumed.frame(Image.fromarray(clip[2])))
    assert np.abs(again.astype(float) - blended[2]).max() <= 2
