"""The modes policy the plug-ins share (impasto_protocol.modes) against the engine's rules."""

from __future__ import annotations

import pytest

from impasto.engine.settings import OPTIMIZATION_ONLY, SettingsError, check_method_fields
from impasto_protocol.modes import OPTIMIZATION_ONLY as PROTOCOL_COPY
from impasto_protocol.modes import Mode, preset_fields, settings_for

DIALOG = {"size": 512, "style_weight": 7.0, "iterations": 120, "preserve_color": "luminance"}


def test_the_protocol_knows_the_engines_optimization_settings() -> None:
    assert PROTOCOL_COPY == OPTIMIZATION_ONLY


def test_instant_drops_what_the_fast_method_refuses() -> None:
    s = settings_for(Mode.INSTANT, DIALOG)
    assert s == {"size": 512, "preserve_color": "luminance", "method": "fast"}
    check_method_fields(s["method"], set(s))  # the engine accepts it
    with pytest.raises(SettingsError):
        check_method_fields("fast", set(DIALOG))  # and would refuse the dialog's as they are


def test_refine_starts_from_the_fast_picture_and_paint_from_the_content() -> None:
    assert settings_for("refine", DIALOG) == {**DIALOG, "method": "gatys", "init": "fast"}
    paint = {**DIALOG, "method": "gatys", "init": "content"}
    assert settings_for(Mode.PAINT, {**DIALOG, "init": "fast"}) == paint
    assert DIALOG == {"size": 512, "style_weight": 7.0, "iterations": 120,
                      "preserve_color": "luminance"}  # fmt: skip  # the input is not changed
    with pytest.raises(ValueError):
        settings_for("fastest", DIALOG)


def test_preset_fields_from_a_palette() -> None:
    assert preset_fields({}) == {}
    assert preset_fields({4: 0.0}) == {}
    assert preset_fields({9: 1.0, 2: 0.5, 4: 0.0}) == {
        "presets": [2, 9],
        "preset_blend": [0.5, 1.0],
    }
    assert [m.label for m in Mode] == ["Instant", "Refine", "Paint"]
