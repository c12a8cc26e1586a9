"""The GIMP plug-in's argument-to-settings mapping (pure Python: runs without GIMP)."""

from __future__ import annotations

import pytest
from impasto_gimp.settings import (
    Arguments,
    SettingsInputError,
    describe_defaults,
    engine_settings,
    format_eta,
    parse_advanced,
)

from impasto.engine.settings import StyleSettings


@pytest.fixture(scope="module")
def defaults() -> dict:
    """What hello_reply's `defaults` holds: every StyleSettings field with its default."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(StyleSettings):
        value = f.default
        out[f.name] = list(value) if isinstance(value, tuple) else getattr(value, "value", value)
    return out


def test_defaults_come_from_the_daemon(defaults: dict) -> None:
    s = engine_settings(Arguments(), defaults, region_side=80)
    assert s["size"] == 80  # full resolution of the region sent
    assert s["iterations"] == defaults["iterations"]
    assert s["style_weight"] == pytest.approx(defaults["style_weight"])
    assert s["preserve_color"] == "none"
    assert StyleSettings(**s).validate()  # the engine accepts what the plug-in sends


def test_strength_is_logarithmic_and_quality_scales_iterations(defaults: dict) -> None:
    s = engine_settings(Arguments(strength=1.0, quality="draft"), defaults, 64)
    assert s["style_weight"] == pytest.approx(10 * defaults["style_weight"])
    assert s["iterations"] == round(defaults["iterations"] / 3)
    s = engine_settings(
        Arguments(strength=-2.0, quality="high", iterations=7, size=32), defaults, 64
    )
    assert s["style_weight"] == pytest.approx(defaults["style_weight"] / 100)
    assert (s["iterations"], s["size"]) == (7, 32)  # explicit values win over the preset


def test_advanced_values_take_the_types_of_the_defaults(defaults: dict) -> None:
    s = parse_advanced(
        "tv_weight=0.5; seed=3\npooling=avg; style_layers=relu1_1, relu2_1; style_blend=1 2",
        defaults,
    )
    assert s == {
        "tv_weight": 0.5,
        "seed": 3,
        "pooling": "avg",
        "style_layers": ["relu1_1", "relu2_1"],
        "style_blend": [1.0, 2.0],
    }
    assert StyleSettings(**{**defaults, **s}).validate()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colour=1", "unknown advanced setting 'colour'; valid: "),
        ("seed=x", "seed: 'x' is not a number"),
        ("size=10", "use the size argument"),
        ("pooling", "is not name=value"),
    ],
)
def test_bad_advanced_text_is_refused_in_one_line(defaults: dict, text: str, words: str) -> None:
    with pytest.raises(SettingsInputError, match=r"^[^\n]*$") as exc:
        parse_advanced(text, defaults)
    assert words in str(exc.value)


@pytest.mark.parametrize(
    "args",
    [Arguments(quality="best"), Arguments(preserve_colors="all"), Arguments(strength=3.0)],
)
def test_bad_arguments_are_refused(defaults: dict, args: Arguments) -> None:
    with pytest.raises(SettingsInputError):
        engine_settings(args, defaults, 64)


def test_help_texts(defaults: dict) -> None:
    text = describe_defaults(defaults, {"pooling": ["max", "avg"]})
    assert "pooling=max  (max | avg)" in text and "size=" not in text
    assert format_eta(None) == "estimating time left"
    assert format_eta(75) == "1 min 15 s left"
    assert format_eta(3 * 3600 + 120) == "3 h 02 min left"
