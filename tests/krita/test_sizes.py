"""The size a quality preset computes at (sizes.py, quality.py) and what the docker says of it,
without Krita: on a 1200x800 layer High (1024 px) computed at 1024x683 and scaled up, and
said it takes longer than Full size at 1200x800; a preset about as large as the layer now
computes at the layer's own size, and says so. The real model and Quality list (PyQt5 on Qt's
offscreen platform), on test_model_unit's in-memory link."""

from __future__ import annotations

import pytest

pytest.importorskip("PyQt5.QtWidgets", reason="the plug-in's Qt: pip install -e .[test]")

from impasto_krita.model import StyleTransferModel
from impasto_krita.quality import QualityChoice, preset_text
from impasto_krita.request import JobRequest
from impasto_krita.sizes import quality_label, quality_side
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication
from test_model_unit import ArrayDocument, MemoryLink

from impasto_protocol import policy


@pytest.fixture
def quality_list(offscreen_app: QApplication) -> QualityChoice:
    """The docker's Quality list."""
    return QualityChoice()


def test_a_preset_about_as_large_as_the_layer_computes_at_the_layers_own_size() -> None:
    assert quality_side("High", 1200, 800) == 0  # 1024 px is within 15 % of 1200 px
    assert quality_side("High", 800, 1200) == 0
    assert quality_side("High", 1300, 800) == 1024  # 1024 px is 79 %: a smaller job
    assert quality_side("High", 1024, 1) == 0
    assert quality_side("Normal", 1200, 800) == 512
    assert quality_side("Full size", 1200, 800) == 0
    assert quality_side("Custom", 1200, 800) is None
    assert quality_side("", 1200, 800) is None


def test_the_estimate_line_says_when_a_preset_computes_at_the_layers_own_size() -> None:
    assert quality_label("High", 1200, 800) == "High at the layer's own size"
    assert quality_label("High", 2000, 800) == "High"
    assert quality_label("Full size", 1200, 800) == "Full size"  # (its name says it)


def test_the_model_asks_a_preset_near_the_layers_size_for_that_size() -> None:
    """A size the painter typed stays as typed (no `quality`): only a preset's size moves."""
    link = MemoryLink()
    model = StyleTransferModel(link, lambda: ArrayDocument())  # type: ignore[arg-type]
    high = {"size": 1024, "iterations": 20}
    assert model._settings(JobRequest([], "", high, quality="High"), 1200, 800)["size"] == 1200
    assert model._settings(JobRequest([], "", high), 1200, 800)["size"] == 1024
    normal = {"size": 512, "iterations": 20}
    assert model._settings(JobRequest([], "", normal, quality="Normal"), 1200, 800)["size"] == 512


def test_the_list_shows_each_presets_size_on_this_layer_its_tip_the_iterations(
    quality_list: QualityChoice,
) -> None:
    assert preset_text("High") == "High: 1024 px"
    assert preset_text("High", (1200, 800)) == "High: 1200 px, the layer's"
    assert preset_text("Draft", (1200, 800)) == "Draft: 256 px"
    assert preset_text("Full size", (1200, 800)) == "Full size: 1200 px, the layer's"
    assert preset_text("Full size") == "Full size: the layer's own"
    choice = quality_list
    choice.show_sizes((1200, 800))
    texts = [choice.itemText(i) for i in range(choice.count())]
    assert texts[2:] == [
        "High: 1200 px, the layer's",
        "Full size: 1200 px, the layer's",
        "Custom (Advanced)",
    ]
    tips = [choice.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(choice.count())]
    assert tips[0].startswith("fewer iterations") and tips[2].startswith("more iterations")
    assert tips[1] == tips[3] == "the daemon's own number of iterations"
    choice.show_sizes(None)  # no image open
    assert choice.itemText(1) == f"Normal: {policy.Quality.NORMAL.side} px"
