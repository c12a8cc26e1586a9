"""impasto_protocol.policy: the decisions both plug-ins and the CLI share."""

from __future__ import annotations

import itertools
import math

import pytest

from impasto.engine import StyleSettings
from impasto_protocol import policy


def test_the_fallbacks_are_the_engines_defaults() -> None:
    """Used only when a daemon does not say its defaults: then they must be the real ones
    (they once were 3.0 in Krita and 1.0 in GIMP, and 300 iterations in both)."""
    engine = StyleSettings()
    assert policy.FALLBACK_STYLE_WEIGHT == engine.style_weight
    assert policy.FALLBACK_ITERATIONS == engine.iterations
    assert policy.default_style_weight({}) == engine.style_weight
    assert policy.default_iterations({}) == engine.iterations


@pytest.mark.parametrize("bad", [None, True, -1.0, 0, math.nan, math.inf, "20", [20]])
def test_a_default_that_is_not_a_positive_number_falls_back(bad: object) -> None:
    assert policy.default_style_weight({"style_weight": bad}) == policy.FALLBACK_STYLE_WEIGHT
    assert policy.default_iterations({"iterations": bad}) == policy.FALLBACK_ITERATIONS


def test_strength_is_a_log_scale_around_the_daemons_default() -> None:
    defaults = {"style_weight": 5.0}
    assert policy.style_weight(0.0, defaults) == 5.0
    assert policy.style_weight(-2.0, defaults) == pytest.approx(0.05)
    assert policy.style_weight(2.0, defaults) == pytest.approx(500.0)
    steps = [policy.style_weight(s / 10, defaults) for s in range(-20, 21)]
    ratios = [b / a for a, b in itertools.pairwise(steps)]
    assert all(r == pytest.approx(ratios[0]) for r in ratios)  # each step the same factor


@pytest.mark.parametrize("strength", [-2.01, 2.5, math.nan, math.inf])
def test_a_strength_outside_the_range_is_refused(strength: float) -> None:
    with pytest.raises(ValueError, match="strength"):
        policy.style_weight(strength, {})
