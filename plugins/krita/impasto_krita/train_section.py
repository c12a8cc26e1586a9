"""The docker's Train row: the chosen style image turned into a trained style on the daemon
(style_training.py), its steps, a Stop button and one line saying how far it is.

Shown when the daemon trains styles (protocol 1.6). The style comes from the docker (a
callback), which knows whether it is a file of the style list or a layer.
"""

from __future__ import annotations

from collections.abc import Callable

from impasto_protocol import Pixels
from impasto_protocol.messages import style_name_from
from impasto_protocol.modes import Features

from .focus import Refuge, set_enabled, set_shown
from .host import HostError
from .qt import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget
from .style_training import StyleTraining, TrainingState

HELP = (
    "Train the chosen style image as an instant style of the daemon: minutes to hours there,"
    " in the background (it goes on when Krita closes, and waits while a Start job runs)."
    " Then it is ticked under Trained styles, and Instant paints with it in a fraction of a"
    " second. Training a name again replaces that style; after Stop, Train goes on from"
    " where it stopped."
)
STEPS_HELP = "more steps: closer to the style, and longer (the daemon's default is {steps})"

# The style to train, as the docker has it: its pixels and a name for it (file or layer).
StyleSource = Callable[[], tuple[Pixels, str]]


class TrainSection(QWidget):
    def __init__(
        self,
        training: StyleTraining,
        style: StyleSource,
        on_error: Callable[[str], None],
        parent: QWidget | None = None,
        refuge: Refuge | None = None,
    ) -> None:
        """`refuge()`: where the keyboard goes when Train or Stop, clicked, goes grey."""
        super().__init__(parent)
        self._refuge = refuge
        self.setObjectName("train_section")
        self.training = training
        self._style = style
        self._on_error = on_error
        self._steps_from_daemon = 0  # the default last taken from a daemon
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.button = QPushButton("Train as instant style")
        self.button.setObjectName("train_style")
        self.button.clicked.connect(self._on_train)
        row.addWidget(self.button, 1)
        self.steps = QSpinBox()
        self.steps.setObjectName("train_steps")
        self.steps.setRange(1, 100_000)
        self.steps.setSuffix(" steps")
        row.addWidget(self.steps)
        self.stop = QPushButton("Stop")
        self.stop.setObjectName("train_stop")
        self.stop.setToolTip("stop the training; the daemon keeps where it got to")
        self.stop.clicked.connect(training.cancel)
        row.addWidget(self.stop)
        box.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("train_status")
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        training.changed.connect(self.update_state)
        self.update_state()

    def update_state(self) -> None:
        """Follow the daemon (whether it trains, its default steps) and the training."""
        features = Features.from_hello(self.training.link.welcome or {})
        if features.trains and features.train_steps != self._steps_from_daemon:
            self._steps_from_daemon = features.train_steps
            self.steps.setValue(features.train_steps)
            self.steps.setToolTip(STEPS_HELP.format(steps=features.train_steps))
        state = self.training.state
        why = self.training.why_not()
        set_enabled(self.button, not why, self._refuge)
        self.button.setToolTip(HELP + (f"\n\nNot now: {why}." if why else ""))
        set_enabled(self.steps, not state.active, self._refuge)
        set_shown(self.stop, state.active, self._refuge)
        set_enabled(self.stop, state is TrainingState.TRAINING, self._refuge)
        self.status.setText(self.training.text)
        self.status.setVisible(bool(self.training.text))
        self.setVisible(features.trains or state.active)

    def _on_train(self) -> None:
        try:
            style, name = self._style()
        except HostError as e:
            self._on_error(str(e))
            return
        self._on_error("")
        self.training.start(style, style_name_from(name), self.steps.value())
