"""The docker's instant-style controls: the mode choice and the palette of built-in styles.

Since protocol 1.1 a daemon can paint with feed-forward networks beside the optimization. The
mode (impasto_protocol.modes decides what each one submits) says how a job uses them; the
palette shows the daemon's built-in styles as small swatches that toggle into the mix, each with
a blend weight. Both keep the user's choice apart from their widgets: a daemon without the
networks (or older than 1.1) disables them, with a tooltip saying why, and its jobs are plain
Paint jobs without presets, but the choice is kept, remembered, and comes back with a daemon
that has them.

Widgets carry object names (`mode`, `palette_toggle`, `palette`, `preset_list`,
`preset_weight_<k>`) for scripts and the end-to-end tests.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

from impasto_protocol import Pixels
from impasto_protocol.modes import DEFAULT_MODE, Mode

from . import imaging
from .qt import (
    QAbstractItemView,
    QColor,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QIcon,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPixmap,
    QSize,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from .request import preset_name

log = logging.getLogger(__name__)

WAITING = "waiting for the daemon to say whether it has instant styles"
NO_METHOD = "this daemon has no instant styles (it lacks the feed-forward networks or is older)"
NO_PRESETS = "this daemon has no built-in styles (it lacks the feed-forward networks or is older)"
SWATCH_PX = 36  # a swatch's icon in the grid
FRAME_PX = 3  # the frame around a swatch in the mix
CELL_PX = 42  # a grid cell: the icon and some room for the selection's highlight
VISIBLE_ROWS = 3  # grid rows shown before it scrolls: the docker stays compact
DEFAULT_WEIGHT = 1.0
ROLE = Qt.ItemDataRole.UserRole


def swatch_icon(p: Pixels, highlight: QColor) -> QIcon:
    """The swatch at icon size, and a framed copy for when it is in the mix: item views draw
    a selected icon in its Selected mode, which styles barely tint (invisible on a picture)."""
    if p.layout != "RGB" or p.dtype != "u8":  # the spec says RGB u8; show a blank otherwise
        log.warning("a swatch in %s %s, not RGB u8", p.layout, p.dtype)
        return QIcon()
    image = imaging.fit(imaging.from_rgb(p.data, p.width, p.height), SWATCH_PX)
    icon = QIcon(QPixmap.fromImage(image))
    icon.addPixmap(
        QPixmap.fromImage(imaging.framed(image, highlight, FRAME_PX)), QIcon.Mode.Selected
    )
    return icon


class ModeChoice(QWidget):
    """A "Mode" row: Instant, Refine or Paint. `effective()` is what a job runs now: Paint
    while the daemon lacks the fast method."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Mode"))
        self.combo = QComboBox()
        self.combo.setObjectName("mode")
        for i, mode in enumerate(Mode):
            self.combo.addItem(mode.label, mode.value)
            self.combo.setItemData(i, mode.help, Qt.ItemDataRole.ToolTipRole)
        row.addWidget(self.combo, 1)
        self.chosen = DEFAULT_MODE
        self.why_not = WAITING  # "" when the daemon runs the fast method
        self.combo.currentIndexChanged.connect(self._on_index)
        self._show()

    def effective(self) -> Mode:
        return self.chosen if not self.why_not else Mode.PAINT

    def choose(self, mode: Mode) -> None:
        self.chosen = mode
        self._show()

    def set_available(self, why_not: str) -> None:
        if why_not != self.why_not:
            self.why_not = why_not
            self._show()

    def _show(self) -> None:
        shown = self.effective()
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(shown.value))
        self.combo.blockSignals(False)
        self.combo.setEnabled(not self.why_not)
        tip = f"{shown.label}: {shown.help}"
        self.combo.setToolTip(tip if not self.why_not else f"Paint only: {self.why_not}")

    def _on_index(self, index: int) -> None:
        self.chosen = Mode(self.combo.itemData(index))
        self._show()
        self.changed.emit()


class Palette(QWidget):
    """A collapsible grid of the built-in styles' swatches. Clicking one toggles it into the
    mix; each chosen one gets a row with its blend weight below the grid (shown even while the
    grid is folded, so the mix stays visible). `mix()` is what a job uses."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("palette_section")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.toggle = QToolButton()
        self.toggle.setObjectName("palette_toggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show)
        box.addWidget(self.toggle)
        self.grid = self._grid()
        box.addWidget(self.grid)
        self.weights = QTableWidget(0, 2)
        self.weights.setObjectName("preset_list")
        self.weights.setHorizontalHeaderLabels(["Built-in style", "Weight"])
        self.weights.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.weights.verticalHeader().setVisible(False)
        self.weights.setIconSize(QSize(20, 20))
        self.weights.setMaximumHeight(110)
        box.addWidget(self.weights)
        self._mix: dict[int, float] = {}  # the user's choice, also while it cannot be used
        self._icons: list[QIcon] = []
        self.why_not = WAITING  # "" when the daemon has built-in styles
        self._show()

    def _grid(self) -> QListWidget:
        grid = QListWidget()
        grid.setObjectName("palette")
        grid.setViewMode(QListWidget.ViewMode.IconMode)
        grid.setFlow(QListWidget.Flow.LeftToRight)
        grid.setWrapping(True)
        grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        grid.setMovement(QListWidget.Movement.Static)
        grid.setUniformItemSizes(True)
        grid.setIconSize(QSize(SWATCH_PX, SWATCH_PX))
        grid.setGridSize(QSize(CELL_PX, CELL_PX))
        grid.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        # The frame on the icon marks a chosen swatch; the item's own highlight would only
        # colour the empty caption strip under it.
        grid.setStyleSheet("QListWidget#palette::item:selected { background: transparent; }")
        grid.setFixedHeight(VISIBLE_ROWS * CELL_PX + 2 * grid.frameWidth() + 4)
        grid.itemSelectionChanged.connect(self._on_selection)
        return grid

    # -- what the docker asks -------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self._icons)

    def mix(self) -> dict[int, float]:
        """{built-in style: weight} for the next job; empty while the daemon has none."""
        if self.why_not:
            return {}
        return {k: w for k, w in sorted(self._mix.items()) if k < self.count}

    def chosen(self) -> dict[int, float]:
        """The user's choice, to remember: kept while this daemon cannot use it."""
        return dict(self._mix)

    def names(self) -> list[str]:
        return [preset_name(k) for k in self.mix()]

    def set_chosen(self, mix: dict[int, float]) -> None:
        self._mix = {k: w for k, w in mix.items() if w > 0}
        self._select()
        self._sync_rows()
        self._show()

    def set_available(self, why_not: str) -> None:
        if why_not != self.why_not:
            self.why_not = why_not
            self._show()

    def set_swatches(self, swatches: list[Pixels]) -> None:
        """The daemon's swatches (a new connection's): rebuild the grid, keep the choice."""
        highlight = self.grid.palette().highlight().color()
        self._icons = [swatch_icon(p, highlight) for p in swatches]
        self.grid.blockSignals(True)
        self.grid.clear()
        for k, icon in enumerate(self._icons):
            item = QListWidgetItem(icon, "")
            item.setData(ROLE, k)
            item.setToolTip(f"{preset_name(k)} (click to add it to the mix, or take it out)")
            self.grid.addItem(item)
        self.grid.blockSignals(False)
        self._select()
        self._sync_rows()
        self._show()

    # -- internals ------------------------------------------------------------------------

    def _select(self) -> None:
        self.grid.blockSignals(True)
        for row in range(self.grid.count()):
            item = self.grid.item(row)
            item.setSelected(item.data(ROLE) in self._mix)
        self.grid.blockSignals(False)

    def _on_selection(self) -> None:
        selected = {int(item.data(ROLE)) for item in self.grid.selectedItems()}
        for k in selected - self._mix.keys():
            self._mix[k] = DEFAULT_WEIGHT
        for k in [k for k in self._mix if k < self.count and k not in selected]:
            del self._mix[k]
        self._sync_rows()
        self._show()
        self.changed.emit()

    def _rows(self) -> list[int]:
        return [self.weights.item(r, 0).data(ROLE) for r in range(self.weights.rowCount())]

    def _sync_rows(self) -> None:
        """One row per chosen style the grid shows, in preset order; rows are added and
        removed one by one, so a weight's spin box lives as long as its style is chosen."""
        want = sorted(k for k in self._mix if k < self.count)
        for r in reversed(range(self.weights.rowCount())):
            k = self.weights.item(r, 0).data(ROLE)
            if k not in want:
                self.weights.removeRow(r)
            else:
                self.weights.item(r, 0).setIcon(self._icons[k])
        for k in want:
            have = self._rows()
            if k not in have:
                self._insert_row(bisect.bisect(have, k), k)

    def _insert_row(self, row: int, k: int) -> None:
        self.weights.insertRow(row)
        item = QTableWidgetItem(self._icons[k], preset_name(k))
        item.setData(ROLE, k)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.weights.setItem(row, 0, item)
        spin = QDoubleSpinBox()
        spin.setObjectName(f"preset_weight_{k}")
        spin.setRange(0.01, 100.0)
        spin.setValue(self._mix[k])
        spin.valueChanged.connect(lambda value, k=k: self._on_weight(k, value))
        self.weights.setCellWidget(row, 1, spin)

    def _on_weight(self, k: int, value: float) -> None:
        if k in self._mix:
            self._mix[k] = float(value)
            self.changed.emit()

    def _show(self, *_: Any) -> None:
        usable = not self.why_not
        open_ = usable and self.toggle.isChecked()
        n = len(self.mix())
        text = "Built-in styles" + (f" ({n} in the mix)" if n else "")
        if usable and not self.count:
            text += " (loading...)"
        self.toggle.setText(text)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.toggle.setEnabled(usable)
        self.toggle.setToolTip(
            "the daemon's built-in styles: click swatches to paint with them, beside or "
            "instead of style images"
            if usable
            else self.why_not
        )
        self.grid.setVisible(open_)
        self.weights.setVisible(usable and n > 0)


class TrainedList(QWidget):
    """The trained styles of the daemon's library (protocol 1.5: made with `impasto train`),
    each a checkable row with its swatch; the checked ones join the job's styles (weighed
    equally with the style images). Hidden while the daemon has none. The user's choice is
    kept by name, also for styles this daemon lacks (another daemon may have them)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trained_section")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Trained styles")
        box.addWidget(self.title)
        self.list = QListWidget()
        self.list.setObjectName("trained_list")
        self.list.setIconSize(QSize(SWATCH_PX, SWATCH_PX))
        self.list.setMaximumHeight(VISIBLE_ROWS * (SWATCH_PX + 6))
        self.list.itemChanged.connect(self._on_item)
        box.addWidget(self.list)
        self._chosen: list[str] = []
        self._available: list[str] = []
        self._filling = False
        self.setVisible(False)

    def chosen(self) -> list[str]:
        """The names to remember."""
        return list(self._chosen)

    def names(self) -> list[str]:
        """The checked styles this daemon has, for the next job."""
        return [n for n in self._chosen if n in self._available]

    def set_chosen(self, names: list[str]) -> None:
        self._chosen = list(dict.fromkeys(names))
        self._fill_checks()

    def set_styles(self, styles: list[Any]) -> None:
        """The daemon's trained styles (impasto_protocol's TrainedStyleInfo)."""
        self._filling = True
        try:
            self.list.clear()
            self._available = []
            for style in styles:
                item = QListWidgetItem(swatch_icon(style.swatch, QColor(0, 0, 0, 0)), style.name)
                item.setData(ROLE, style.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                steps = f", {style.steps} steps" if style.steps else ""
                item.setToolTip(f"trained style {style.name} ({style.kind}{steps})")
                self.list.addItem(item)
                self._available.append(style.name)
        finally:
            self._filling = False
        self._fill_checks()
        self.setVisible(bool(self._available))

    def _fill_checks(self) -> None:
        self._filling = True
        try:
            for row in range(self.list.count()):
                item = self.list.item(row)
                on = item.data(ROLE) in self._chosen
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self._filling = False
        n = len(self.names())
        self.title.setText(f"Trained styles ({n} in the mix)" if n else "Trained styles")

    def _on_item(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        name = item.data(ROLE)
        checked = item.checkState() == Qt.CheckState.Checked
        if checked and name not in self._chosen:
            self._chosen.append(name)
        elif not checked and name in self._chosen:
            self._chosen.remove(name)
        self._fill_checks()
        self.changed.emit()
