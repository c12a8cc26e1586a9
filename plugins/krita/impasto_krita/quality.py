"""The docker's Quality list: the presets (impasto_protocol.policy) by the words both editors
show, each with the size it computes at, and Custom (the Advanced form's own values)."""

from __future__ import annotations

from impasto_protocol import policy

from .qt import QComboBox, QWidget
from .settings_form import CUSTOM, PRESETS


def preset_text(name: str) -> str:
    """A quality preset as the list shows it: its name and the size it computes at."""
    quality = PRESETS.get(name)
    if quality is None:
        return "Custom (Advanced)"
    return f"{name}: {quality.side} px" if quality.side else f"{name}: the layer's own"


class QualityChoice(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preset")
        for name in (*PRESETS, CUSTOM):  # shown with what it means, known by its name
            self.addItem(preset_text(name), name)
        self.setToolTip("the size a job computes at; the line below says how long here")
        self.choose(policy.DEFAULT_QUALITY.label)

    def name(self) -> str:
        return str(self.currentData() or CUSTOM)

    def choose(self, name: str) -> None:
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)
