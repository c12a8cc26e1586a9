"""What every client of the daemon decides the same way: the plug-ins and the command line
take these from here, so a slider position or a quality word means the same in Krita and GIMP.

A daemon says its own defaults in hello_reply's `defaults`; the fallbacks below are for a
daemon that does not (an older one) and equal SPEC.md section 10's defaults (a test holds them
to the engine's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

FALLBACK_STYLE_WEIGHT = 20.0
FALLBACK_ITERATIONS = 150

# Strength is an exponent: the style weight is the daemon's default times 10**strength, so each
# step multiplies the weight by the same factor and 0 is the daemon's default.
STRENGTH_DECADES = 2.0  # strength runs from -2 (a hundredth of the default) to 2 (a hundredfold)


def default_style_weight(defaults: Mapping[str, Any]) -> float:
    return _positive(defaults.get("style_weight"), FALLBACK_STYLE_WEIGHT)


def default_iterations(defaults: Mapping[str, Any]) -> int:
    return int(_positive(defaults.get("iterations"), FALLBACK_ITERATIONS))


def style_weight(strength: float, defaults: Mapping[str, Any]) -> float:
    """The style weight for a strength in -STRENGTH_DECADES..STRENGTH_DECADES."""
    if math.isnan(strength) or abs(strength) > STRENGTH_DECADES:
        raise ValueError(
            f"strength {strength} is outside -{STRENGTH_DECADES:g}..{STRENGTH_DECADES:g}"
        )
    return default_style_weight(defaults) * 10.0**strength


def _positive(value: Any, fallback: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return fallback
    return float(value) if math.isfinite(value) and value > 0 else fallback
