"""The "Style Transfer" docker: widgets only. The job lives in StyleTransferModel, the daemon
connection in DaemonLink; this module turns widget state into a JobRequest and shows what the
model and the link report.

Widgets carry object names (`start`, `strength`, `style_path`, `setting_iterations`, `mode`,
`palette`, ...) so that scripts and the end-to-end tests can drive the docker as a user would.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from impasto_protocol import policy
from impasto_protocol.modes import Features, Mode
from krita import DockWidget

from . import document, imaging
from .connection import DaemonLink, LinkState
from .document import HostError
from .instant import NO_METHOD, NO_PRESETS, WAITING, ModeChoice, Palette, TrainedList
from .model import JobRequest, JobState, StyleTransferModel
from .qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from .remembered import Remembered
from .settings_form import CUSTOM, PRESETS, SettingsForm
from .train_section import TrainSection
from .training import StyleTraining

log = logging.getLogger(__name__)

DOCKER_ID = "impasto_style_transfer"
TITLE = "Style Transfer"
CONFIG_PATH = Path(__file__).resolve().parent / "impasto.json"
STYLE_MAX_SIDE = 1024  # style images are sent at most this large (the daemon rescales them)
FILES, LAYER = "Image files", "Layer of this image"
REPLACE_DELAY_MS = 400  # a strength change waits for the slider to rest before replacing
# Opened from the menu, the docker asks for this much of its column (at most two thirds of the
# window): Krita gives a new docker only a share of a column that other dockers fill.
COMFORTABLE_HEIGHT = 560
ESTIMATE_POLL_MS = 2000  # how often the estimate looks for another layer or selection
BAR_STEPS = 1000  # the bar's range: it shows a fraction (by time), its text the count
FIXED_STRENGTH = "Instant mode: the network paints at its own strength (Refine or Paint set it)"


def preset_text(name: str) -> str:
    """A quality preset as the list shows it: its name and the size it computes at."""
    quality = PRESETS.get(name)
    if quality is None:
        return "Custom (Advanced)"
    return f"{name}: {quality.side} px" if quality.side else f"{name}: the layer's own"


class StyleTransferDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.link = DaemonLink(CONFIG_PATH, self)
        self.model = StyleTransferModel(self.link, self)
        self.training = StyleTraining(self.link, self)
        self._replace_timer = QTimer(self)
        self._replace_timer.setSingleShot(True)
        self._replace_timer.setInterval(REPLACE_DELAY_MS)
        self._replace_timer.timeout.connect(self._apply_strength)
        self._build()
        self._remembered = Remembered.load(document.krita_setting)
        self._restoring = True
        self._restore()
        self._restoring = False
        self._watch_changes()
        self.link.state_changed.connect(self._on_link_state)
        self.link.swatches_changed.connect(lambda: self.palette.set_swatches(self.link.swatches))
        self.link.swatches_changed.connect(lambda: self.trained.set_styles(self.link.trained))
        self.training.trained.connect(self._on_trained)
        self.model.state_changed.connect(lambda _: self._update_buttons())
        self.model.state_changed.connect(lambda _: self._show_target())
        self.model.progress.connect(self._on_progress)
        self.model.queued.connect(self._on_queued)
        self.model.message.connect(self._show_message)
        self.model.finished.connect(self._on_finished)
        self.model.finished.connect(lambda _: self._ask_estimate(again=True))  # new costs
        self.model.estimated.connect(self.estimate.setText)
        self._was_ready = False
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setInterval(ESTIMATE_POLL_MS)
        self._estimate_timer.timeout.connect(self._ask_estimate)
        self._estimate_timer.start()
        for changed in (
            self.preset.currentIndexChanged,
            self.form.changed,
            self.mode.changed,
            self.palette.changed,
            self.trained.changed,
            self.selection_only.toggled,
        ):
            changed.connect(lambda *_: self._ask_estimate())
        document.on_document_closed(self.model.check_document)
        # Closing the panel cancels its job: its close button (closeEvent) or unticking it in
        # Settings > Dockers (the toggle action; a hide alone also happens when it is tabbed).
        self.toggleViewAction().triggered.connect(self._on_toggled)
        self._update_buttons()

    # -- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        """The settings scroll (Advanced alone has more fields than a laptop screen is tall);
        Start, Cancel, the progress and the messages stay below them, always in view."""
        outer = QWidget(self)
        outer_box = QVBoxLayout(outer)
        outer_box.setContentsMargins(0, 0, 0, 0)
        self.scroll = self._named(QScrollArea(outer), "settings_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer_box.addWidget(self.scroll, 1)
        root = QWidget()
        box = QVBoxLayout(root)
        self.target = self._named(QLabel(), "target_layer")
        self.target.setWordWrap(True)
        self.target.setToolTip("the layer Start stylizes: the active layer when you click it")
        box.addWidget(self.target)
        self.mode = ModeChoice(root)
        self.mode.changed.connect(self._on_mode)
        box.addWidget(self.mode)

        style = QGroupBox("Style", root)
        sbox = QVBoxLayout(style)
        self.source = self._named(QComboBox(), "style_source")
        self.source.addItems([FILES, LAYER])
        self.source.currentTextChanged.connect(self._on_source)
        sbox.addWidget(self.source)
        self.files = QWidget()
        fbox = QVBoxLayout(self.files)
        fbox.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.path = self._named(QLineEdit(), "style_path")
        self.path.setPlaceholderText("style image file")
        self.path.returnPressed.connect(self._add_path)
        browse = self._named(QToolButton(), "browse")
        browse.setText("...")
        browse.clicked.connect(self._browse)
        add = self._named(QPushButton("Add"), "add_style")
        add.clicked.connect(self._add_path)
        row.addWidget(self.path)
        row.addWidget(browse)
        row.addWidget(add)
        fbox.addLayout(row)
        self.table = self._named(QTableWidget(0, 2), "style_list")
        self.table.setHorizontalHeaderLabels(["Style image", "Weight"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMaximumHeight(110)
        fbox.addWidget(self.table)
        remove = self._named(QPushButton("Remove"), "remove_style")
        remove.clicked.connect(self._remove_style)
        fbox.addWidget(remove)
        sbox.addWidget(self.files)
        self.layer = self._named(QComboBox(), "style_layer")
        self.layer.setVisible(False)
        sbox.addWidget(self.layer)
        self.palette = Palette(style)
        sbox.addWidget(self.palette)
        self.trained = TrainedList(style)
        sbox.addWidget(self.trained)
        self.train = TrainSection(self.training, self._style_to_train, self._show_message, style)
        sbox.addWidget(self.train)
        box.addWidget(style)

        row = QHBoxLayout()
        row.addWidget(QLabel("Strength"))
        self.strength_word = self._named(QLabel(), "strength_word")
        row.addWidget(self.strength_word, 1)
        self.strength_value = self._named(QSpinBox(), "strength_value")
        self.strength_value.setRange(0, policy.STRENGTH_MAX)
        self.strength_value.setToolTip("type a strength, 0 (subtle) to 100 (strong)")
        row.addWidget(self.strength_value)
        reset = self._named(QToolButton(), "strength_reset")
        reset.setText("Reset")
        reset.setToolTip(f"back to {policy.DEFAULT_STRENGTH}, the daemon's own style weight")
        reset.clicked.connect(lambda: self.strength.setValue(policy.DEFAULT_STRENGTH))
        row.addWidget(reset)
        box.addLayout(row)
        self.strength = self._named(QSlider(Qt.Orientation.Horizontal), "strength")
        self.strength.setRange(0, policy.STRENGTH_MAX)
        self.strength.setPageStep(10)
        self.strength.setValue(policy.DEFAULT_STRENGTH)
        self.strength.valueChanged.connect(self._on_strength)
        self.strength.valueChanged.connect(self.strength_value.setValue)
        self.strength_value.setValue(policy.DEFAULT_STRENGTH)
        self.strength_value.valueChanged.connect(self.strength.setValue)
        box.addWidget(self.strength)
        ends = QHBoxLayout()
        left, right = Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignRight
        for text, align in ((policy.STRENGTH_WORDS[0], left), ("strong", right)):
            end = QLabel(text)
            end.setEnabled(False)  # greyed: a scale's marks, not a control
            ends.addWidget(end, 1, align)
        box.addLayout(ends)

        row = QHBoxLayout()
        row.addWidget(QLabel("Quality"))
        self.preset = self._named(QComboBox(), "preset")
        for name in (*PRESETS, CUSTOM):  # shown with what it means, known by its name
            self.preset.addItem(preset_text(name), name)
        self.preset.setToolTip("the size a job computes at; the line below says how long here")
        self._choose_preset(policy.DEFAULT_QUALITY.label)
        self.preset.currentIndexChanged.connect(lambda _: self._on_preset(self._preset_name()))
        row.addWidget(self.preset)
        self.more = self._named(QToolButton(), "advanced_toggle")
        self.more.setText("Advanced")
        self.more.setCheckable(True)
        row.addWidget(self.more)
        box.addLayout(row)
        # What Start would do: the size computed at, the time the daemon expects, tiles, and
        # whether the result would be scaled up to the area.
        self.estimate = self._named(QLabel(), "estimate")
        self.estimate.setWordWrap(True)
        box.addWidget(self.estimate)
        self.form = SettingsForm(root)
        self.form.setVisible(False)
        self.more.toggled.connect(self.form.setVisible)
        self.more.toggled.connect(self._on_advanced)
        box.addWidget(self.form)

        self.selection_only = self._named(QCheckBox("Selection only"), "selection_only")
        self.selection_only.setChecked(True)
        box.addWidget(self.selection_only)

        box.addStretch(1)
        self.scroll.setWidget(root)
        self._fit_width()

        footer = QWidget(outer)
        fbox = QVBoxLayout(footer)
        fbox.setContentsMargins(6, 0, 6, 4)
        fbox.setSpacing(2)
        row = QHBoxLayout()
        self.start = self._named(QPushButton("Start"), "start")
        self.start.clicked.connect(self._on_start)
        self.cancel = self._named(QPushButton("Cancel"), "cancel")
        self.cancel.clicked.connect(self.model.cancel)
        row.addWidget(self.start)
        row.addWidget(self.cancel)
        fbox.addLayout(row)
        # The bar shows numbers only ("12/40, 4 s left"): a sentence would wrap inside it.
        # What the job is doing goes on the line below it.
        self.progress = self._named(QProgressBar(), "progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        fbox.addWidget(self.progress)
        self.phase = self._named(QLabel(), "phase")
        self.phase.setWordWrap(True)
        self.phase.setVisible(False)  # shown while there is something to say
        fbox.addWidget(self.phase)
        self.daemon_state = self._named(QLabel(self.link.describe()), "daemon_state")
        self.daemon_state.setWordWrap(True)
        fbox.addWidget(self.daemon_state)
        self.message = self._named(QLabel(), "message")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        fbox.addWidget(self.message)
        outer_box.addWidget(footer)
        self.setWidget(outer)
        self._show_strength(self.strength.value())
        self._on_mode()

    def _fit_width(self) -> None:
        """The panel is at least as wide as its settings (with the scroll bar beside them):
        they never scroll sideways, nor are they cut off at the panel's edge."""
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        self.scroll.setMinimumWidth(self.scroll.widget().minimumSizeHint().width() + bar)

    def _on_advanced(self, shown: bool) -> None:
        """Opened, Advanced scrolls up to the top of the view (in a short panel it would open
        below the fold); the settings above it are a scroll away."""
        if shown:  # once the form is laid out
            bar = self.scroll.verticalScrollBar()
            QTimer.singleShot(0, lambda: bar.setValue(self.more.y()))

    @staticmethod
    def _named(widget: Any, name: str) -> Any:
        widget.setObjectName(name)
        return widget

    # -- Krita hooks ----------------------------------------------------------------------

    def canvasChanged(self, canvas: Any) -> None:
        self._refresh_layers()
        self._show_target()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.link.open()  # connect (or start the daemon) when the panel is first shown

    def claim_room(self) -> None:
        """Make the docked panel tall enough to use: the other dockers of its column shrink
        (never below their own minimum). A floating panel keeps the size the user gave it."""
        window = self.parentWidget()
        if self.isFloating() or not isinstance(window, QMainWindow):
            return
        wanted = min(COMFORTABLE_HEIGHT, window.height() * 2 // 3)
        if self.height() < wanted:
            window.resizeDocks([self], [wanted], Qt.Orientation.Vertical)

    def closeEvent(self, event: Any) -> None:
        self.model.cancel()  # closing the panel cancels its job
        super().closeEvent(event)

    def _on_toggled(self, shown: bool) -> None:
        if not shown:
            self.model.cancel()

    # -- remembered between sessions --------------------------------------------------------

    def _restore(self) -> None:
        r = self._remembered
        for path, weight in r.styles:
            if Path(path).is_file():
                self.add_style_file(path, weight)
            else:
                log.info("a remembered style image is gone: %s", path)
        if r.strength is not None:
            self.strength.setValue(r.strength)
        if r.preset in (*PRESETS, CUSTOM):
            self._choose_preset(r.preset)
        self.selection_only.setChecked(r.selection_only)
        if r.source in (FILES, LAYER):
            self.source.setCurrentText(r.source)
        if r.mode in {m.value for m in Mode}:
            self.mode.choose(Mode(r.mode))
        self.palette.set_chosen(r.palette)
        self.trained.set_chosen(r.trained)

    def _watch_changes(self) -> None:
        for signal in (
            self.strength.valueChanged,
            self.preset.currentIndexChanged,
            self.selection_only.toggled,
            self.source.currentTextChanged,
            self.form.changed,
            self.mode.changed,
            self.palette.changed,
            self.trained.changed,
        ):
            signal.connect(self._remember)

    def _remember(self, *_: Any) -> None:
        """Save everything on every change: Krita keeps it in memory and writes kritarc when
        it quits; there is no 'closing' moment a docker could rely on."""
        if self._restoring:
            return
        r = self._remembered
        r.styles = [
            (self.table.item(row, 0).data(Qt.ItemDataRole.UserRole), self._weight(row))
            for row in range(self.table.rowCount())
        ]
        r.strength = self.strength.value()
        r.preset = self._preset_name()
        r.selection_only = self.selection_only.isChecked()
        r.source = self.source.currentText()
        r.mode = self.mode.chosen.value
        r.palette = self.palette.chosen()
        r.trained = self.trained.chosen()
        if self.form.built:  # else keep what was remembered: the daemon never answered
            try:
                r.advanced = self.form.values()
            except ValueError:
                pass  # a half-typed list: remember it once it reads
        r.save(document.save_krita_setting)

    def _weight(self, row: int) -> float:
        return float(self.table.cellWidget(row, 1).value())

    # -- style sources --------------------------------------------------------------------

    def _on_source(self, text: str) -> None:
        self.files.setVisible(text == FILES)
        self.layer.setVisible(text == LAYER)
        if text == LAYER:
            self._refresh_layers()

    def _refresh_layers(self) -> None:
        current = self.layer.currentText()
        self.layer.clear()
        for name, _node in document.style_layers(document.active_document()):
            self.layer.addItem(name)
        if current:
            self.layer.setCurrentText(current)

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Style images", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
        )
        for path in paths:
            self.add_style_file(path)

    def _add_path(self) -> None:
        path = self.path.text().strip()
        if path and self.add_style_file(path):
            self.path.clear()  # kept when it failed, to be corrected

    def add_style_file(self, path: str, weight: float = 1.0) -> bool:
        if not Path(path).is_file():
            self._show_message(f"no such file: {path}")
            return False
        if self.message.text().startswith("no such file"):
            self._show_message("")  # an earlier slip, now corrected
        row = self.table.rowCount()
        self.table.insertRow(row)
        item = QTableWidgetItem(Path(path).name)
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setToolTip(path)
        self.table.setItem(row, 0, item)
        spin = QDoubleSpinBox()
        spin.setObjectName(f"style_weight_{row}")
        spin.setRange(0.01, 100.0)
        spin.setValue(weight)
        spin.valueChanged.connect(self._remember)
        self.table.setCellWidget(row, 1, spin)
        self._remember()
        return True

    def _remove_style(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            if row >= 0:
                self.table.removeRow(row)
        self._remember()

    def _styles(self, presets: bool) -> tuple[list[Any], list[float], str]:
        """The style images, their weights and the name for the result layer; none at all is
        fine when built-in styles are chosen (`presets`)."""
        if self.source.currentText() == LAYER:
            chosen = self._style_layer()
            if chosen is None:
                if presets:
                    return [], [], ""
                raise HostError("choose the layer that holds the style")
            return [chosen[0]], [1.0], chosen[1]
        styles, weights, names = [], [], []
        for row in range(self.table.rowCount()):
            path = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            try:
                styles.append(imaging.load_style_file(path, STYLE_MAX_SIDE))
            except ValueError as e:
                raise HostError(str(e)) from None
            weights.append(self._weight(row))
            names.append(imaging.style_name(path))
        if not styles and not presets:
            raise HostError("add a style image first, or choose a built-in style")
        return styles, weights, " + ".join(names)

    def _style_layer(self) -> tuple[Any, str] | None:
        """The chosen style layer's pixels and name, or None when none is chosen."""
        doc = document.active_document()
        node = dict(document.style_layers(doc)).get(self.layer.currentText())
        return None if node is None else (document.read_style_layer(doc, node), node.name())

    def _style_to_train(self) -> tuple[Any, str]:
        """The one style Train turns into a trained style: the layer, or the style image
        selected in the list (or the only one there), with its name."""
        if self.source.currentText() == LAYER:
            chosen = self._style_layer()
            if chosen is None:
                raise HostError("choose the layer that holds the style to train")
            return chosen
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        rows = rows or list(range(self.table.rowCount()))
        if not rows:
            raise HostError("add the style image to train first")
        if len(rows) > 1:
            raise HostError("several style images: select the one to train in the list")
        path = self.table.item(rows[0], 0).data(Qt.ItemDataRole.UserRole)
        try:
            return imaging.load_style_file(path, STYLE_MAX_SIDE), imaging.style_name(path)
        except ValueError as e:
            raise HostError(str(e)) from None

    def _on_trained(self, name: str) -> None:
        """A training of this panel's ended: its style is ticked (the list shows it as soon
        as the daemon's styles are read again)."""
        self.trained.set_chosen([*self.trained.chosen(), name])
        self._remember()
        self._ask_estimate()

    # -- settings -------------------------------------------------------------------------

    def _on_strength(self, value: int) -> None:
        """The user moved the strength: shown, and while a job runs, applied to it."""
        self._show_strength(value)
        if self.model.state.active and self.model.mode is not Mode.INSTANT:
            self._replace_timer.start()

    def _show_strength(self, value: int) -> None:
        self.strength_word.setText(policy.strength_word(value))
        if self.mode.effective() is not Mode.INSTANT:
            weight = policy.style_weight(value, self.form.defaults)
            tip = f"style weight {weight:.3g} (the daemon's default at {policy.DEFAULT_STRENGTH})"
            self.strength.setToolTip(tip)

    def _on_mode(self) -> None:
        """The fast method has no style weight: Instant greys the strength out."""
        instant = self.mode.effective() is Mode.INSTANT
        for widget in (self.strength, self.strength_value, self.strength_word):
            widget.setEnabled(not instant)
        self.strength.setToolTip(FIXED_STRENGTH)
        self._show_strength(self.strength.value())

    def _apply_strength(self) -> None:
        weight = policy.style_weight(self.strength.value(), self.form.defaults)
        self.model.set_style_weight(weight)

    def _preset_name(self) -> str:
        return str(self.preset.currentData() or CUSTOM)

    def _choose_preset(self, name: str) -> None:
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)

    def _on_preset(self, name: str) -> None:
        quality = PRESETS.get(name)
        if quality is not None:
            self.form.set_value("size", quality.side)
            self.form.set_value("iterations", quality.iterations(self.form.defaults))

    def _show_target(self) -> None:
        """Which layer Start stylizes (the active one), or which one the running job does."""
        job = self.model.job
        if self.model.state.active and job is not None:
            self.target.setText(f"Stylizing: {job.target.node.name()}")
        else:
            what = document.describe_target(self.selection_only.isChecked())
            self.target.setText(f"Layer: {what}" if what else "Layer: open an image first")

    def _ask_estimate(self, again: bool = False) -> None:
        """The estimate line for the current layer, selection and settings (the model asks the
        daemon only when one of them changed, or `again`)."""
        if self.isVisible():
            self._show_target()
        if not self.form.built or self.model.state.active or not self.isVisible():
            return
        try:
            settings = self.form.values()
        except ValueError:
            return  # a half-typed value: ask once it reads
        n_styles = 1 if self.source.currentText() == LAYER else self.table.rowCount()
        if self.trained.names():
            settings["trained"] = self.trained.names()
        request = JobRequest(
            [], "", settings, self.selection_only.isChecked(), self.mode.effective(),
            self.palette.mix(),
        )  # fmt: skip
        self.model.estimate(request, self._preset_name(), n_styles, again)

    def _on_start(self) -> None:
        presets = self.palette.mix()
        trained = self.trained.names()
        try:
            styles, weights, name = self._styles(bool(presets) or bool(trained))
            settings = self.form.values()
        except (HostError, ValueError) as e:
            self._show_message(str(e))
            return
        if trained:  # the daemon's trained styles join the images, weighed after them
            settings["trained"] = trained
        blend = weights + [1.0] * len(trained)
        if len(blend) > 1 or (blend and presets):  # normalized together with the presets'
            settings["style_blend"] = blend
        settings["style_weight"] = policy.style_weight(self.strength.value(), self.form.defaults)
        name = " + ".join(n for n in (name, *self.palette.names(), *trained) if n)
        mode = self.mode.effective()
        request = JobRequest(
            styles,
            name,
            settings,
            self.selection_only.isChecked(),
            mode=mode,
            presets=presets,
        )
        self._show_message("")
        self._show_progress(0, "", "waiting for the daemon...")
        if self.model.start(request):
            self.cancel.setFocus()  # not the next spin box in line, where a key would edit it

    # -- reports --------------------------------------------------------------------------

    def _on_link_state(self) -> None:
        self.daemon_state.setText(self.link.describe())
        self.daemon_state.setToolTip(self.link.describe(full=True))
        welcome = self.link.welcome
        if welcome and not self.form.built:
            self.form.build(welcome)
            self._fit_width()
            self._restoring = True
            self._on_preset(self._preset_name())
            for name, value in self._remembered.advanced.items():
                self.form.set_value(name, value)
            self._restoring = False
            self._show_strength(self.strength.value())
        self._update_instant()
        self._update_buttons()
        self.train.update_state()
        ready = self.link.state is LinkState.READY
        if ready and not self._was_ready:  # a new daemon, or a reconnection
            self._ask_estimate(again=True)
        self._was_ready = ready

    def _update_instant(self) -> None:
        """Offer the mode choice and the palette as far as the daemon has the fast method and
        built-in styles; decided when it is ready (a loading daemon does not say yet)."""
        if self.link.state is LinkState.READY:
            welcome = self.link.welcome
            features = Features.from_hello(welcome or {})
            self.mode.set_available("" if features.fast else NO_METHOD)
            self.palette.set_available("" if features.presets else NO_PRESETS)
        elif self.link.welcome is None:
            self.mode.set_available(WAITING)
            self.palette.set_available(WAITING)
        self._on_mode()

    def _update_buttons(self) -> None:
        active = self.model.state.active
        self.start.setEnabled(not active and self.link.usable() and self.form.built)
        self.cancel.setEnabled(active and self.model.state is not JobState.CANCELLING)

    def _retargeting(self) -> str:
        value = self.strength.value()
        return f"re-targeting to strength {value} ({policy.strength_word(value)})"

    def _show_progress(self, fraction: float, bar: str, phase: str) -> None:
        """The bar (filled by time, with a count short enough for one line) and the sentence
        below it."""
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * BAR_STEPS))
        self.progress.setFormat(bar)
        self.phase.setText(phase)
        self.phase.setVisible(bool(phase))

    def _on_queued(self, position: int, replacing: bool) -> None:
        if replacing:  # the bar starts over: say why, before the first count arrives
            self._show_progress(0, "", f"{self._retargeting()}: from the current result")
        elif position > 0:  # replaced by the first count at once when nothing else runs
            self._show_progress(0, "queued", f"queued: place {position} in the daemon's queue")
        else:
            self._show_progress(0, "", "starting...")

    def _on_progress(
        self, iteration: int, total: int, eta: float, replacing: bool, fraction: float
    ) -> None:
        left = f", {policy.duration(eta)} left" if eta >= 0 else ""  # -1: unknown (iteration 0)
        count = f"{iteration}/{total}{left}"
        mode = self.model.mode
        if mode is Mode.INSTANT:  # one pass: its only count is 1/1, at the end
            self._show_progress(fraction, "", "painting with the instant style...")
        elif replacing:  # a replacement counts its own iterations from 0
            self._show_progress(fraction, count, f"{self._retargeting()}")
        elif iteration == 0 and mode is Mode.REFINE:  # the instant picture, before iterating
            self._show_progress(0, count, "instant picture shown; refining it")
        else:
            self._show_progress(fraction, count, "painting: iterations of the optimizer")

    def _on_finished(self, outcome: str) -> None:
        if outcome == "done":
            info = self.model.last_result
            elapsed = info.get("elapsed")
            seconds = "? s"
            if isinstance(elapsed, (int, float)):  # an instant style takes a fraction of one
                seconds = f"{elapsed:.2f} s" if elapsed < 1 else f"{elapsed:.1f} s"
            if self.model.mode is Mode.INSTANT:
                phase = f"done: instant style in {seconds}"
            else:
                phase = f"done: {info.get('iterations', '?')} iterations in {seconds}"
            self._show_progress(1.0, "done", phase)
        else:
            self._show_progress(0, "", outcome)
        self._update_buttons()

    def _show_message(self, text: str) -> None:
        if text:
            log.info("%s", text)
        self.message.setText(text)
        self.message.setVisible(bool(text))
