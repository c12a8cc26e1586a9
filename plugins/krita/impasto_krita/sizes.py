"""The size a job computes at, as a painter sees it: a quality preset as large as the layer, or
nearly, computes at the layer's own size (and the estimate line says so), and a result computed
smaller than its area is never scaled up silently. Plain functions, tested without Krita
(tests/krita/test_sizes.py)."""

from __future__ import annotations

from impasto_protocol import Pixels, policy

from .host import Target

QUALITIES = {q.label: q for q in policy.Quality}  # the presets by the words both editors show
# A preset's side at least this share of the area's longer side becomes the area's own size.
NEAR_OWN = 0.85


def quality_side(quality: str, width: int, height: int) -> int | None:
    """The side a job of the preset named `quality` asks for on a width x height area, None
    for no preset. A preset as large as the area or nearly (NEAR_OWN) asks for the area's own
    (0): computed at 1024 px and scaled up to a 1200 px layer, High would look worse than Full
    size, and with its iterations take longer too."""
    preset = QUALITIES.get(quality)
    if preset is None:
        return None
    near = preset.side >= NEAR_OWN * max(width, height)
    return 0 if near else preset.side


def quality_label(quality: str, width: int, height: int) -> str:
    """The preset's name for the line that says what Start would do, and whether it computes
    at the area's own size: without it, "High: 1200x800 px" beside a list entry of 1024 px
    would read as a contradiction."""
    preset = QUALITIES.get(quality)
    if preset is not None and preset.side and quality_side(quality, width, height) == 0:
        return f"{quality} at the layer's own size"
    return quality


def scaled_up(image: Pixels, target: Target) -> str:
    """What the user is told when the result was computed smaller than the area it fills:
    never scaled up silently."""
    area = target.area
    if image.width >= area.width and image.height >= area.height:
        return ""
    return (
        f"computed at {image.width}x{image.height} and scaled up to the {area.width}x"
        f"{area.height} area; the Full size quality computes at the area's own size"
    )
