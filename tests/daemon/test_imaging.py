"""The server's pixel path without a daemon: wire buffers to sample arrays and back."""

from __future__ import annotations

import numpy as np
import pytest

from impasto.server.imaging import to_array, to_pixels
from impasto_protocol import Pixels

RNG = np.random.default_rng(7)


def test_u8_rgb_and_grey_are_views_of_the_frame() -> None:
    rgb = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    frame = rgb.tobytes()
    a = to_array(Pixels(7, 5, frame, "RGB"))
    assert a.dtype == np.uint8 and a.shape == (5, 7, 3) and (a == rgb).all()
    assert not a.flags.owndata and not a.flags.writeable  # the received bytes, not a copy
    grey = to_array(Pixels(7, 5, rgb[..., 0].tobytes(), "L"))
    assert grey.shape == (5, 7, 1) and (grey[..., 0] == rgb[..., 0]).all()


@pytest.mark.parametrize("dtype,numpy", [("u16", "<u2"), ("f32", "<f4")])
def test_wide_samples_arrive_unrounded(dtype: str, numpy: str) -> None:
    rgba = RNG.random((4, 6, 4))
    samples = (rgba * 65535).round().astype(numpy) if dtype == "u16" else rgba.astype(numpy)
    a = to_array(Pixels(6, 4, samples[..., [2, 1, 0, 3]].tobytes(), "BGRA", dtype))
    assert a.dtype == np.dtype(numpy) and (a == samples).all()  # reordered to RGBA, same values


def test_results_in_every_layout_and_sample_type() -> None:
    picture = RNG.random((3, 5, 4)).astype(np.float32)
    for layout, order in (("RGB", [0, 1, 2]), ("BGRA", [2, 1, 0, 3]), ("BGR", [2, 1, 0])):
        p = to_pixels(picture, layout, "u16")
        assert (p.width, p.height, p.layout, p.dtype) == (5, 3, layout, "u16")
        assert len(p.data) == p.nbytes
        got = np.frombuffer(p.data, "<u2").reshape(3, 5, len(layout))
        assert (got == np.rint(picture[..., order] * 65535)).all()
    as_f32 = to_pixels(picture, "RGBA", "f32")
    assert (np.frombuffer(as_f32.data, "<f4").reshape(3, 5, 4) == picture).all()
    as_u8 = to_pixels(picture, "RGBA", "u8")
    assert (np.frombuffer(as_u8.data, np.uint8).reshape(3, 5, 4) == np.rint(picture * 255)).all()


def test_alpha_the_picture_lacks_is_opaque() -> None:
    rgb = np.full((2, 2, 3), 0.5, np.float32)
    for dtype, top in (("u8", 255), ("u16", 65535), ("f32", 1.0)):
        p = to_pixels(rgb, "BGRA", dtype)
        width = {"u8": np.uint8, "u16": "<u2", "f32": "<f4"}[dtype]
        assert (np.frombuffer(p.data, width).reshape(2, 2, 4)[..., 3] == top).all()
    assert (to_pixels(rgb, "RGB", "u8").data.nbytes, len(rgb.tobytes())) == (12, 48)
