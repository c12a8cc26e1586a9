"""The docker's Quality list: the presets (impasto_protocol.policy) by the words both editors
show, each with the size it computes at on the current layer (a preset as large as the layer,
or nearly, computes at the layer's own: sizes.py) and, in its tooltip, how its iterations
compare, and Custom (the Advanced form's own values)."""

from __future__ import annotations

from impasto_protocol import policy

from .qt import QComboBox, Qt, QWidget
from .settings_form import CUSTOM, PRESETS
from .sizes import quality_side

# Defaults to compare the presets' iterations with (Normal's and Full size's are the daemon's
# own): said in each preset's tooltip, High beside Full size on a layer of about High's size,
# both at the layer's own size, does not read as a contradiction when High takes longer.
COMPARED = {"iterations": 100}


def preset_text(name: str, size: tuple[int, int] | None = None) -> str:
    """A quality preset as the list shows it: its name and the size it computes at on a
    `size` area when one is known (short: the list is as wide as its longest entry)."""
    quality = PRESETS.get(name)
    if quality is None:
        return "Custom (Advanced)"
    side = quality.side if size is None else quality_side(name, *size)
    if side:
        return f"{name}: {side} px"
    return f"{name}: {max(size)} px, the layer's" if size else f"{name}: the layer's own"


def preset_tip(name: str) -> str:
    """How a preset's iterations compare with Normal's (and Full size's), for its tooltip."""
    quality = PRESETS.get(name)
    if quality is None:
        return "the Advanced settings as they are"
    more = quality.iterations(COMPARED) - policy.default_iterations(COMPARED)
    if more > 0:
        return "more iterations than Normal and Full size: longer, closer to the style"
    if more < 0:
        return "fewer iterations than Normal and Full size: quicker, a rougher picture"
    return "the daemon's own number of iterations"


class QualityChoice(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preset")
        for name in (*PRESETS, CUSTOM):  # shown with what it means, known by its name
            self.addItem(preset_text(name), name)
            self.setItemData(self.count() - 1, preset_tip(name), Qt.ItemDataRole.ToolTipRole)
        self.setToolTip("the size a job computes at; the line below says how long here")
        self.choose(policy.DEFAULT_QUALITY.label)

    def name(self) -> str:
        return str(self.currentData() or CUSTOM)

    def choose(self, name: str) -> None:
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)

    def show_sizes(self, size: tuple[int, int] | None) -> None:
        """Each preset with the size it computes at on a `size` area (None: no image open)."""
        for index in range(self.count()):
            self.setItemText(index, preset_text(str(self.itemData(index)), size))
