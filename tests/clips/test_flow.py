"""Optical flow, warping, the forward-backward check and the warping error (clips/flow.py),
on small synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest
from moving import moving_square, texture

from impasto.clips.flow import consistency, farneback_flow, optical_flow, warp, warping_error


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` moved right by dx and down by dy (edges wrap; the tests look at the middle)."""
    return np.roll(image, (dy, dx), axis=(0, 1))


@pytest.mark.parametrize("method", [optical_flow, farneback_flow])
def test_flow_of_a_translation_recovers_the_shift(method) -> None:
    """Both methods: DIS, which carries a clip's frames, and Farnebäck, which measures them."""
    a = texture(64, 64, 3)
    b = shifted(a, 3, -2)  # b shows a's content 3 px right and 2 px up
    flow = method(a, b)
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
    middle = flow[16:48, 16:48]
    assert np.abs(np.median(middle[..., 0]) - 3) < 0.3
    assert np.abs(np.median(middle[..., 1]) + 2) < 0.3


def test_warp_of_a_shifted_image_matches() -> None:
    a = texture(64, 64, 4)
    b = shifted(a, 2, 1)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2, 1
    back = warp(b, flow)  # a[p] = b[p + (2, 1)]
    assert back.dtype == np.uint8
    assert np.array_equal(back[8:-8, 8:-8], a[8:-8, 8:-8])
    # With the measured flow, nearly as good.
    measured = warp(b, optical_flow(a, b)).astype(float)
    assert np.abs(measured[8:-8, 8:-8] - a[8:-8, 8:-8]).mean() < 4


def test_consistency_rejects_the_region_revealed_by_motion() -> None:
    previous, frame = moving_square(frames=2, side=16, step=4)[:2]
    mask = consistency(optical_flow(frame, previous), optical_flow(previous, frame))
    assert mask.shape == (64, 64)
    rows = slice(24 + 4, 40 - 4)  # the square's rows (y 24..40), away from its corners
    # The square moved from x 16 to x 20: the strip x 16..20 shows background the previous
    # frame did not show. Rejected.
    assert mask[rows, 16:20].mean() < 0.35
    # The static background far from the square, and the square's inside, are kept.
    assert mask[2:14, 2:62].mean() > 0.9
    assert mask[rows, 26:32].mean() > 0.9


def test_warping_error_of_identical_static_outputs_is_zero() -> None:
    clip = [texture(48, 48, 5)] * 3
    mean, per_frame = warping_error(clip, clip)
    assert len(per_frame) == 2 and mean < 1e-6


@pytest.mark.parametrize("method", [optical_flow, farneback_flow])
def test_warping_error_is_lower_for_consistent_than_flickering_outputs(method) -> None:
    clip = moving_square(frames=4)
    rng = np.random.default_rng(0)
    flicker = [
        np.clip(f.astype(int) + rng.integers(-40, 41, f.shape), 0, 255).astype(np.uint8)
        for f in clip
    ]
    floor, _ = warping_error(clip, clip, method)
    noisy, _ = warping_error(clip, flicker, method)
    assert floor < 0.03
    assert noisy > 3 * floor + 0.02
