"""The docker's footer, always in view below the settings: Start, Cancel, the progress bar, what
the job is doing, the daemon's state and the latest message. Object names: `start`, `cancel`,
`progress`, `phase`, `daemon_state`, `message`."""

from __future__ import annotations

import logging

from .qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

BAR_STEPS = 1000  # the bar's range: it shows a fraction (by time), its text the count


def line(name: str, shown: bool = True) -> QLabel:
    """A label of one or more lines of text (it wraps), named `name`."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    if not shown:
        label.setVisible(False)
    return label


class Footer(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 0, 6, 4)
        box.setSpacing(2)
        row = QHBoxLayout()
        self.start = QPushButton("Start")
        self.start.setObjectName("start")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancel")
        row.addWidget(self.start)
        row.addWidget(self.cancel)
        box.addLayout(row)
        # The bar shows numbers only ("12/40, 4 s left"): a sentence would wrap inside it.
        # What the job is doing goes on the line below it.
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        box.addWidget(self.progress)
        self.phase = line("phase", shown=False)  # shown while there is something to say
        box.addWidget(self.phase)
        self.daemon_state = line("daemon_state")
        box.addWidget(self.daemon_state)
        self.message = line("message", shown=False)
        box.addWidget(self.message)

    def show_progress(self, fraction: float, bar: str, phase: str) -> None:
        """The bar (filled by time, with a count short enough for one line) and the sentence
        below it."""
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * BAR_STEPS))
        self.progress.setFormat(bar)
        self.phase.setText(phase)
        self.phase.setVisible(bool(phase))

    def show_message(self, text: str) -> None:
        if text:
            log.info("%s", text)
        self.message.setText(text)
        self.message.setVisible(bool(text))
