"""The Advanced form (settings_form.py) without Krita, built from a daemon's defaults as the
docker builds it: a list field's placeholder fits the field (the longer one was cut off), and
its tooltip says what the placeholder has no room for."""

from __future__ import annotations

import pytest

pytest.importorskip("PyQt5.QtWidgets", reason="the plug-in's Qt: pip install -e .[test]")

from impasto_krita.settings_form import LIST_TIP, SettingsForm
from PyQt5.QtWidgets import QApplication, QLineEdit, QStyle

FRAME = QStyle.PixelMetric.PM_DefaultFrameWidth
DEFAULTS = {"size": 512, "iterations": 150, "content_layer_weights": [], "style_layers": ["a"]}


def test_a_list_fields_placeholder_fits_and_its_tooltip_says_the_rest(
    offscreen_app: QApplication,
) -> None:
    form = SettingsForm()
    form.build({"defaults": DEFAULTS})
    edits = [form.widgets[n] for n in ("content_layer_weights", "style_layers")]
    assert all(isinstance(e, QLineEdit) for e in edits)
    for edit in edits:
        room = edit.sizeHint().width() - 2 * edit.style().pixelMetric(FRAME)
        assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) < room, edit
        assert LIST_TIP in edit.toolTip()
    assert form.widgets["content_layer_weights"].text() == ""  # where the placeholder shows
