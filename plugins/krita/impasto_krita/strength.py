"""The docker's strength control: a word, a number, Reset, and a slider between its two ends.

Widgets only: the docker says whether the daemon blends (protocol 1.8), on which what a
strength does depends; impasto_protocol.policy says it in words (the tooltip). Object names:
`strength`, `strength_value`, `strength_word`, `strength_reset`.
"""

from __future__ import annotations

from collections.abc import Callable

from impasto_protocol import policy

from .qt import QHBoxLayout, QLabel, QSlider, QSpinBox, Qt, QToolButton, QVBoxLayout, QWidget

FIXED = "Instant mode: this daemon paints at the network's own strength (update it)"


class StrengthControl(QWidget):
    def __init__(self, blends: Callable[[], bool], parent: QWidget | None = None) -> None:
        """`blends()`: whether the daemon blends with the photo (protocol 1.8), which the low
        half of the scale and the Instant mode's strength need."""
        super().__init__(parent)
        self._blends = blends
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
        self.number.setToolTip("type a strength: 0 leaves the photo, 50 the default, 100 the most")
        row.addWidget(self.number)
        self.reset = QToolButton()
        self.reset.setObjectName("strength_reset")
        self.reset.setText("Reset")
        self.reset.setToolTip(
            f"back to {policy.DEFAULT_STRENGTH}: the style as the daemon paints it"
        )
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
        """The word for the strength and, as the tooltip, what it does to the picture."""
        value = self.slider.value() if value is None else value
        self.word.setText(policy.strength_word(value))
        blends = self._blends()
        if self.instant and not blends:
            self.slider.setToolTip(FIXED)
        else:
            self.slider.setToolTip(policy.strength_help(value, blends, self.instant))

    def set_instant(self, instant: bool) -> None:
        """The fast method has no style weight: its strength is the blend with the photo alone
        (protocol 1.8), so with an older daemon Instant greys the strength out."""
        self.instant = instant
        usable = not instant or self._blends()
        for widget in (self.slider, self.number, self.word, self.reset):
            widget.setEnabled(usable)
        self.show_value()
