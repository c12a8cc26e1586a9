"""The "Style Transfer" docker: widgets only. The job lives in StyleTransferModel, the daemon
connection in DaemonLink; this module reads the widgets into a StyleChoice (the model makes the
job's request of it) and shows what the model and the link report.

Widgets carry object names (`start`, `strength`, `style_path`, `setting_iterations`, `mode`,
`palette`, ...) so that scripts and the end-to-end tests can drive the docker as a user would.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from impasto_protocol.modes import Features, Mode
from krita import DockWidget

from . import document, progress_text
from .animation import AnimatedDocument
from .animation_section import AnimationOption
from .daemon_link import DaemonLink, LinkState
from .document import KritaDocument
from .focus import WheelGuard, set_enabled
from .footer import Footer, line
from .host import HostError
from .instant import NO_METHOD, NO_PRESETS, WAITING, ModeChoice, Palette, TrainedList
from .live_section import LiveSection
from .model import JobState, StyleTransferModel
from .qt import (
    QCheckBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from .quality import QualityChoice
from .refusal import RefusalLine, succeeds
from .remembered import Remembered
from .remembering import remember, restore, watch_changes
from .request import StyleChoice, style_to_train
from .settings_form import PRESETS, SettingsForm
from .strength import StrengthControl
from .style_section import NO_SUCH_FILE, StyleSources
from .style_training import StyleTraining
from .train_section import TrainSection

log = logging.getLogger(__name__)

DOCKER_ID = "impasto_style_transfer"
TITLE = "Style Transfer"
CONFIG_PATH = Path(__file__).resolve().parent / "impasto.json"
REPLACE_DELAY_MS = 400  # a strength change waits for the slider to rest before replacing
# Opened from the menu, the docker asks for this much of its column (at most two thirds of the
# window): Krita gives a new docker only a share of a column that other dockers fill.
COMFORTABLE_HEIGHT = 560
ESTIMATE_POLL_MS = 2000  # how often the estimate looks for another layer or selection


class StyleTransferDocker(DockWidget):
    _still_estimate = ""  # the model's last estimate line, for a still picture

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.link = DaemonLink(CONFIG_PATH, self)
        self.model = StyleTransferModel(self.link, KritaDocument.active, self)
        self.training = StyleTraining(self.link, self)
        self._replace_timer = self._timer(REPLACE_DELAY_MS, self._apply_strength, single=True)
        self._build()
        self._wheel_guard = WheelGuard(self)  # the wheel scrolls the panel, not the settings
        self._remembered = Remembered.load(document.krita_setting)
        self._restoring = True
        restore(self, self._remembered)
        self._restoring = False
        watch_changes(self, self._remember)
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
        self.model.estimated.connect(self._on_estimated)
        self.animation.check.toggled.connect(lambda _: self._show_estimate())
        self._was_ready = False
        self.styles.changed.connect(self.refusal.refresh)
        self._timer(ESTIMATE_POLL_MS, self._ask_estimate).start()
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
        self.live = LiveSection.attach(self)  # the Live row, under the mode

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
        self.target = line("target_layer")
        self.target.setToolTip("the layer Start stylizes: the active layer when you click it")
        box.addWidget(self.target)
        self.mode = ModeChoice(root)
        self.mode.changed.connect(self._on_mode)
        box.addWidget(self.mode)
        box.addWidget(self._build_style(root))
        self.strength_control = StrengthControl(self.model.blends, root)
        self.strength = self.strength_control.slider
        self.strength.valueChanged.connect(self._on_strength)
        box.addWidget(self.strength_control)
        self._build_quality(box, root)
        self.selection_only = self._named(QCheckBox("Selection only"), "selection_only")
        self.selection_only.setChecked(True)
        box.addWidget(self.selection_only)
        box.addStretch(1)
        self.scroll.setWidget(root)
        self._fit_width()
        outer_box.addWidget(self._build_footer(outer))
        self.setWidget(outer)
        self._on_mode()

    def _build_style(self, root: QWidget) -> QGroupBox:
        """Style images or a layer, the built-in and trained styles, and Train."""
        style = QGroupBox("Style", root)
        sbox = QVBoxLayout(style)
        self.styles = StyleSources(style)
        self.styles.say.connect(self._on_style_message)
        self.styles.layer_shown.connect(self._refresh_layers)
        sbox.addWidget(self.styles)
        self.palette = Palette(style)
        sbox.addWidget(self.palette)
        self.trained = TrainedList(style)
        sbox.addWidget(self.trained)
        self.train = TrainSection(
            self.training, self._style_to_train, self._on_train_refused, style, document.canvas
        )
        sbox.addWidget(self.train)
        return style

    def _build_quality(self, box: QVBoxLayout, root: QWidget) -> None:
        """The quality preset, Advanced, the estimate line and the Advanced form."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Quality"))
        self.preset = QualityChoice()
        self.preset.currentIndexChanged.connect(lambda _: self._on_preset(self.preset.name()))
        row.addWidget(self.preset)
        self.more = self._named(QToolButton(), "advanced_toggle")
        self.more.setText("Advanced")
        self.more.setCheckable(True)
        row.addWidget(self.more)
        box.addLayout(row)
        # What Start would do: the size computed at, the time the daemon expects, tiles, and
        # whether the result would be scaled up to the area.
        self.estimate = line("estimate")
        box.addWidget(self.estimate)
        self.form = SettingsForm(root)
        self.form.setVisible(False)
        self.more.toggled.connect(self.form.setVisible)
        self.more.toggled.connect(self._on_advanced)
        box.addWidget(self.form)

    def _build_footer(self, outer: QWidget) -> QWidget:
        """Start, Cancel, the progress bar and the lines below it."""
        self.footer = Footer(outer)
        self.start, self.cancel = self.footer.start, self.footer.cancel
        self.start.clicked.connect(self._on_start)
        self.cancel.clicked.connect(self.model.cancel)
        self.progress, self.phase = self.footer.progress, self.footer.phase
        self.daemon_state, self.message = self.footer.daemon_state, self.footer.message
        self.daemon_state.setText(self.link.describe())
        self.refusal = RefusalLine(self.footer)
        clips = (self.link, AnimatedDocument.active, self.footer)
        self.animation = AnimationOption(*clips, self._update_buttons, self._show_message)
        return self.footer

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

    def _timer(self, ms: int, slot: Any, single: bool = False) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(single)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # -- Krita hooks ----------------------------------------------------------------------

    def canvasChanged(self, canvas: Any) -> None:
        self._refresh_layers()
        self._show_target()
        self.refusal.refresh()

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
        self.animation.model.cancel()
        self.live.stop()  # and live mode's
        super().closeEvent(event)

    def _on_toggled(self, shown: bool) -> None:
        if not shown:
            self.model.cancel()
            self.animation.model.cancel()
            self.live.stop()

    def _remember(self, *_: Any) -> None:
        if not self._restoring:
            remember(self, self._remembered)

    # -- style sources --------------------------------------------------------------------

    def _refresh_layers(self) -> None:
        doc = KritaDocument.active()
        self.styles.refresh_layers(doc.style_layers() if doc is not None else [])

    def _on_style_message(self, text: str) -> None:
        """A missing file is said; "" takes that back once a file is added."""
        if text or self.message.text().startswith(NO_SUCH_FILE):
            self._show_message(text)

    def _style_to_train(self) -> tuple[Any, str]:
        """The one style Train turns into a trained style: the layer, or the style image
        selected in the list (or the only one there), with its name."""
        layer = self.styles.layer_name()
        return style_to_train(self.styles.selected_paths(), layer, KritaDocument.active())

    def _choice(self) -> StyleChoice:
        """What the widgets say; ValueError (one line) for a half-typed Advanced value."""
        settings = self.form.values()
        return StyleChoice(
            files=self.styles.chosen_files(),
            layer=self.styles.layer_name(),
            presets=self.palette.mix(),
            trained=self.trained.names(),
            strength=self.strength.value(),
            settings=settings,
            selection_only=self.selection_only.isChecked(),
            mode=self.mode.effective(),
            quality=self._quality(settings.get("size")),
        )

    def _quality(self, size: object) -> str:
        """The preset whose size the form holds: only a preset's size becomes the layer's own
        when it is about as large ("" for Custom, or a size typed in Advanced)."""
        quality = PRESETS.get(self.preset.name())
        return quality.label if quality is not None and quality.side == size else ""

    def _on_trained(self, name: str) -> None:
        """A training of this panel's ended: its style is ticked (the list shows it as soon
        as the daemon's styles are read again)."""
        self.trained.set_chosen([*self.trained.chosen(), name])
        self._remember()
        self._ask_estimate()

    # -- settings -------------------------------------------------------------------------

    def _on_strength(self, value: int) -> None:
        """The user moved the strength: while a job runs, it is applied to it."""
        if self.model.state.active and self.model.mode is not Mode.INSTANT:
            self._replace_timer.start()  # (an instant job is done before the slider rests)

    def _on_mode(self) -> None:
        self.strength_control.set_instant(self.mode.effective() is Mode.INSTANT)

    def _apply_strength(self) -> None:
        self.model.set_strength(self.strength.value())

    def _on_preset(self, name: str) -> None:
        quality = PRESETS.get(name)
        if quality is not None:
            self.form.set_value("size", quality.side)
            self.form.set_value("iterations", quality.iterations(self.link.defaults))

    def _show_target(self) -> None:
        """Which layer Start stylizes (the active one), or which one the running job does."""
        job = self.model.job
        if self.model.state.active and job is not None:
            self.target.setText(f"Stylizing: {job.target.name}")
        else:
            what = document.describe_target(self.selection_only.isChecked())
            self.target.setText(f"Layer: {what}" if what else "Layer: open an image first")

    def _on_estimated(self, text: str) -> None:
        self._still_estimate = text
        self._show_estimate()

    def _show_estimate(self) -> None:
        """The estimate line: the still's (the model's last answer), and with "Whole
        animation" ticked, the time for all its frames."""
        line = self._still_estimate
        per_picture = self.model.picture_time
        if line and per_picture is not None and self.animation.wanted():
            frames = self.animation.model.frame_count()
            if frames:
                line += "; " + progress_text.clip_estimate(frames, *per_picture)
        self.estimate.setText(line)

    def _ask_estimate(self, again: bool = False) -> None:
        """The estimate line for the current layer, selection and settings (the model asks the
        daemon only when one of them changed, or `again`)."""
        self._show_estimate()  # the animation's frame count may have changed
        if self.isVisible():
            self._show_target()
            doc = KritaDocument.active()
            selection_only = self.selection_only.isChecked()
            self.preset.show_sizes(doc.target_size(selection_only) if doc is not None else None)
        self.refusal.refresh()
        if not self.form.built or self.model.state.active or not self.isVisible():
            return
        try:
            choice = self._choice()
        except ValueError:
            return  # a half-typed value: ask once it reads
        self.model.estimate(choice, self.preset.name(), again)

    def _on_start(self) -> None:
        try:
            request = self.model.request(self._choice())
        except (HostError, ValueError) as e:
            self.refusal.refused(str(e), self._why_not_start)
            return
        self._show_message("")
        if (self.animation.model if self.animation.wanted() else self.model).start(request):
            self._show_progress(0, "", "waiting for the daemon...")
        else:  # the model said why
            self.refusal.refused(self.message.text(), self._why_not_start)

    def _why_not_start(self) -> str:
        return self.model.why_not(self._choice())

    def _on_train_refused(self, text: str) -> None:
        if text:
            self.refusal.refused(text, succeeds(self._style_to_train))
        else:
            self._show_message("")

    # -- reports --------------------------------------------------------------------------

    def _on_link_state(self) -> None:
        self.daemon_state.setText(self.link.describe())
        self.daemon_state.setToolTip(self.link.describe(full=True))
        welcome = self.link.welcome
        if welcome and not self.form.built:
            self.form.build(welcome)
            self._fit_width()
            self._restoring = True
            self._on_preset(self.preset.name())
            for name, value in self._remembered.advanced.items():
                self.form.set_value(name, value)
            self._restoring = False
            self._on_mode()  # whether Instant has a strength depends on the daemon's version
        self._update_instant()
        self._update_buttons()
        self.train.update_state()
        self.refusal.refresh()
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
        """Start or Cancel, as the job allows. A clicked one that goes grey hands the keyboard
        to the canvas, not to the next spin box in line, where Krita's shortcuts would edit
        a number."""
        active = self.model.state.active
        clip = self.animation.model.state.active
        usable = not active and not clip and self.link.usable() and self.form.built
        set_enabled(self.start, usable, document.canvas)
        cancellable = active and self.model.state is not JobState.CANCELLING
        cancellable = cancellable or self.animation.cancellable()
        set_enabled(self.cancel, cancellable, document.canvas)

    def _show_progress(self, fraction: float, bar: str, phase: str) -> None:
        self.footer.show_progress(fraction, bar, phase)

    def _on_queued(self, position: int, replacing: bool) -> None:
        others = self.link.busy_jobs
        self._show_progress(*progress_text.queued(position, replacing, others, self._strength()))

    def _on_progress(
        self, iteration: int, total: int, eta: float, replacing: bool, fraction: float
    ) -> None:
        retarget = progress_text.retargeting(self._strength()) if replacing else ""
        mode = self.model.mode or Mode.PAINT
        seconds = eta if eta >= 0 else None  # -1: unknown (iteration 0)
        self._show_progress(
            *progress_text.progress(mode, iteration, total, seconds, fraction, retarget)
        )

    def _strength(self) -> int:
        return int(self.strength.value())

    def _on_finished(self, outcome: str) -> None:
        info = self.model.last_result
        self._show_progress(*progress_text.finished(outcome, self.model.mode, info))
        self._update_buttons()

    def _show_message(self, text: str) -> None:
        self.refusal.say(text)
