"""The plug-ins' shared rectangle: the context padding around a selection, clipped."""

from __future__ import annotations

from impasto_protocol import policy
from impasto_protocol.region import Region


def test_around_pads_with_the_policy_and_clips_to_the_image() -> None:
    image = Region.whole(96, 96)
    selection = Region(24, 16, 48, 56)
    pad = policy.context_padding(48, 56)
    around = selection.around(image)
    assert around == Region(24 - pad, 16 - pad, 48 + 2 * pad, 56 + 2 * pad).clipped(image)
    assert Region(0, 0, 10, 10).around(image, 4) == Region(0, 0, 14, 14)
    small = policy.context_padding(10, 10)
    assert Region(90, 90, 10, 10).around(image, -1) == Region(
        90 - small, 90 - small, 6 + small, 6 + small
    )


def test_a_rectangle_outside_the_image_is_empty() -> None:
    image = Region.whole(50, 40)
    assert Region(100, 100, 5, 5).around(image, 2).empty
    assert not Region(10, 10, 5, 5).around(image, 2).empty
    assert Region.whole(50, 40).size == (50, 40)
