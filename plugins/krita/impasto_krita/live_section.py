"""The docker's Live row: the switch, what is read (layer or canvas), the preview size, the
live picture, Enlarge and Apply. The logic is live_model.LiveModel's; this module only ticks
it with a timer and shows what it reports.

The live picture is shown in the docker, in a QLabel (and, enlarged, in a window of its own),
never in a layer of the image. Writing pixels through the scripting API adds no undo step in
Krita 5.1, but a live layer would: adding it and removing it are undo steps, it would be saved
and exported with the image, and above the painted layer it would hide the very strokes being
painted (below it, it would be hidden). Apply is the only thing live mode does to the image:
one new layer, one undo step.

Widgets carry object names (`live_toggle`, `live_source`, `live_size`, `live_refine`,
`live_preview`, `live_enlarge`, `live_apply`, `live_status`) for scripts and the end-to-end tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from . import imaging
from .host import Document, HostError
from .live_model import MAX_PREVIEW_SIZE, PREVIEW_SIZE, LiveModel, LivePicture, shrink_qimage
from .qt import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPixmap,
    QPushButton,
    QSpinBox,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .request import JobRequest

log = logging.getLogger(__name__)

TICK_MS = 50  # how often live mode looks for a change (live_model.LiveModel.tick)
THUMB_PX = 240  # the picture's longer side in the docker
SOURCES = ("Layer", "Canvas")


class LiveSection(QWidget):
    """Live mode's controls. `request()` gives the styles of a job now (HostError: none);
    `selection_only()` the docker's "Selection only"."""

    applied = Signal(str)  # the new layer's name
    message = Signal(str)  # one line for the docker's message line

    def __init__(
        self,
        link: Any,
        documents: Callable[[], Document | None],
        request: Callable[[], JobRequest],
        selection_only: Callable[[], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("live_section")
        self._request = request
        self._selection_only = selection_only
        self.model = LiveModel(
            link, documents, shrink_qimage, time.monotonic, self._on_picture, self._on_status
        )
        self.pictures_shown = 0  # how many pictures the label showed (tests, benchmarks)
        self.shown_at: float = 0.0  # time.monotonic() when the last one was shown
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._big: QLabel | None = None

    def _build(self) -> None:
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.toggle = self._named(QCheckBox("Live"), "live_toggle")
        self.toggle.setToolTip(
            "restyle the layer (or the canvas) with the instant method while you paint, "
            "shown here; Apply copies the picture into a new layer"
        )
        self.toggle.toggled.connect(self._on_toggle)
        row.addWidget(self.toggle)
        self.source = self._named(QComboBox(), "live_source")
        self.source.addItems(list(SOURCES))
        self.source.setToolTip("what live mode restyles: the active layer, or all visible layers")
        self.source.currentIndexChanged.connect(lambda _: self._options())
        row.addWidget(self.source)
        self.size = self._named(QSpinBox(), "live_size")
        self.size.setRange(128, MAX_PREVIEW_SIZE)
        self.size.setSingleStep(64)
        self.size.setValue(PREVIEW_SIZE)
        self.size.setSuffix(" px")
        self.size.setToolTip("the live picture's longer side: the layer is restyled at this size")
        self.size.valueChanged.connect(lambda _: self._options())
        row.addWidget(self.size)
        box.addLayout(row)
        self.refine = self._named(QCheckBox("Refine when idle"), "live_refine")
        self.refine.setToolTip(
            "after a few seconds without a change, the optimization improves the live picture "
            "(with the strength below); the next stroke stops it at once"
        )
        self.refine.toggled.connect(lambda _: self._options())
        box.addWidget(self.refine)
        self.preview = self._named(QLabel(), "live_preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setVisible(False)
        box.addWidget(self.preview)
        buttons = QHBoxLayout()
        self.enlarge = self._named(QToolButton(), "live_enlarge")
        self.enlarge.setText("Enlarge")
        self.enlarge.setToolTip("show the live picture at its own size in a window")
        self.enlarge.clicked.connect(self.show_enlarged)
        buttons.addWidget(self.enlarge)
        self.apply_button = self._named(QPushButton("Apply"), "live_apply")
        self.apply_button.setToolTip("copy the live picture into a new layer (one undo step)")
        self.apply_button.clicked.connect(self.apply)
        buttons.addWidget(self.apply_button)
        box.addLayout(buttons)
        self.status = self._named(QLabel(""), "live_status")
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        self._update_buttons()

    @staticmethod
    def _named(widget: Any, name: str) -> Any:
        widget.setObjectName(name)
        return widget

    @classmethod
    def attach(cls, docker: Any) -> LiveSection:
        """The Live row in the docker (docker.py's StyleTransferDocker), under the mode: it
        restyles with the styles chosen below it, asked again whenever they change."""
        from . import document  # (Krita's API: only in Krita)

        root = docker.scroll.widget()
        live = cls(
            docker.link,
            document.KritaDocument.active,
            lambda: docker.model.request(docker._choice()),
            docker.selection_only.isChecked,
            root,
        )
        root.layout().insertWidget(root.layout().indexOf(docker.mode) + 1, live)
        live.message.connect(docker._show_message)
        for changed in (
            docker.styles.changed,
            docker.palette.changed,
            docker.trained.changed,
            docker.form.changed,
            docker.link.swatches_changed,
        ):
            changed.connect(live.refresh_request)
        document.on_document_closed(live.check_document)
        return live

    # -- what the docker calls ------------------------------------------------------------

    def refresh_request(self, *_: Any) -> None:
        """The styles changed: the next update uses the new ones."""
        if not self.toggle.isChecked():
            return
        try:
            self.model.set_request(self._request())
        except (HostError, ValueError) as e:
            self.model.set_request(None)
            self._on_status(f"live: {e}")
        self._options()

    def stop(self) -> None:
        """Live off: the docker closed, or the switch."""
        if self.toggle.isChecked():
            self.toggle.setChecked(False)  # (_on_toggle stops the model)
        else:
            self.model.stop()

    def check_document(self) -> None:
        self.model.check_document()
        self._update_buttons()

    def apply(self) -> None:
        try:
            layer = self.model.apply()
        except HostError as e:
            self.message.emit(str(e))
            return
        self.applied.emit(layer)

    def show_enlarged(self) -> None:
        """The picture at its own size (the preview size) in a window beside Krita's."""
        if self._big is None:
            self._big = QLabel()
            self._big.setObjectName("live_enlarged")
            self._big.setWindowTitle("Live style")
            self._big.setWindowFlags(Qt.WindowType.Window)
        self._show_big()
        self._big.show()
        self._big.raise_()

    # -- internals ------------------------------------------------------------------------

    def _on_toggle(self, on: bool) -> None:
        if on:
            self.refresh_request()
            self.model.start()
            self._timer.start()
        else:
            self._timer.stop()
            self.model.stop()
        self._update_buttons()

    def _options(self) -> None:
        self.model.set_options(
            canvas=self.source.currentIndex() == 1,
            selection_only=self._selection_only(),
            preview_size=self.size.value(),
            refine=self.refine.isChecked(),
        )

    def _tick(self) -> None:
        try:
            self._options()
            self.model.tick()
        except Exception:  # an error must not repeat 20 times a second into Qt's loop
            log.exception("live mode stopped")
            self.stop()
            self._on_status("live stopped after an error (see the log)")

    def _on_picture(self, picture: LivePicture) -> None:
        image = imaging.from_bgra(picture.image.data, picture.image.width, picture.image.height)
        self._pixmap = QPixmap.fromImage(image)
        thumb = self._pixmap.scaled(
            THUMB_PX,
            THUMB_PX,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.preview.setPixmap(thumb)
        self.preview.setVisible(True)
        self.pictures_shown += 1
        self.shown_at = time.monotonic()
        if self._big is not None and self._big.isVisible():
            self._show_big()
        self._update_buttons()

    def _show_big(self) -> None:
        if self._big is not None and getattr(self, "_pixmap", None) is not None:
            self._big.setPixmap(self._pixmap)
            self._big.resize(self._pixmap.size())

    def _on_status(self, text: str) -> None:
        self.status.setText(text)

    def _update_buttons(self) -> None:
        has = self.model.picture is not None
        self.apply_button.setEnabled(has)
        self.enlarge.setEnabled(has)
        if not has:
            self.preview.setVisible(False)
