"""The docker's strength control: a word, a number, Reset, and a slider between its two ends.

Widgets only: the docker says what a strength means as a style weight (the model maps it, by
the daemon's current defaults). Object names: `strength`, `strength_value`, `strength_word`,
`strength_reset`.
"""

from __future__ import annotations

from collections.abc import Callable

from impasto_protocol import policy

from .qt import QHBoxLayout, QLabel, QSlider, QSpinBox, Qt, QToolButton, QVBoxLayout, QWidget

FIXED = "Instant mode: the network paints at its own strength (Refine or Paint set it)"


class StrengthControl(QWidget):
    def __init__(self, weight: Callable[[int], float], parent: QWidget | None = None) -> None:
        """`weight(strength)`: the style weight a strength stands for, for the tooltip."""
        super().__init__(parent)
        self._weight = weight
        self.instant = False
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Strength"))
        self.word = QLabel()
        self.word.setObjectName("strength_word")
        row.addWidget(self.word, 1)
        self.number = QSpinBox()
        self.number.setObjectName("strength_value")
        self.number.setRange(0, policy.STRENGTH_MAX)
        self.number.setToolTip("type a strength, 0 (subtle) to 100 (strong)")
        row.addWidget(self.number)
        self.reset = QToolButton()
        self.reset.setObjectName("strength_reset")
        self.reset.setText("Reset")
        self.reset.setToolTip(f"back to {policy.DEFAULT_STRENGTH}, the daemon's own style weight")
        self.reset.clicked.connect(lambda: self.slider.setValue(policy.DEFAULT_STRENGTH))
        row.addWidget(self.reset)
        box.addLayout(row)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("strength")
        self.slider.setRange(0, policy.STRENGTH_MAX)
        self.slider.setPageStep(10)
        self.slider.setValue(policy.DEFAULT_STRENGTH)
        self.slider.valueChanged.connect(self.number.setValue)
        self.slider.valueChanged.connect(self.show_value)
        self.number.setValue(policy.DEFAULT_STRENGTH)
        self.number.valueChanged.connect(self.slider.setValue)
        box.addWidget(self.slider)
        box.addLayout(self._ends())
        self.show_value(self.slider.value())

    @staticmethod
    def _ends() -> QHBoxLayout:
        ends = QHBoxLayout()
        left, right = Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignRight
        for text, align in ((policy.STRENGTH_WORDS[0], left), ("strong", right)):
            end = QLabel(text)
            end.setEnabled(False)  # greyed: a scale's marks, not a control
            ends.addWidget(end, 1, align)
        return ends

    def show_value(self, value: int | None = None) -> None:
        """The word for the strength and, unless Instant, its style weight as the tooltip."""
        value = self.slider.value() if value is None else value
        self.word.setText(policy.strength_word(value))
        if not self.instant:
            weight = self._weight(value)
            tip = f"style weight {weight:.3g} (the daemon's default at {policy.DEFAULT_STRENGTH})"
            self.slider.setToolTip(tip)

    def set_instant(self, instant: bool) -> None:
        """The fast method has no style weight: Instant greys the strength out."""
        self.instant = instant
        for widget in (self.slider, self.number, self.word, self.reset):
            widget.setEnabled(not instant)
        self.slider.setToolTip(FIXED)
        self.show_value()
