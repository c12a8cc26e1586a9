"""The docker's style sources: style image files with their weights, or a layer of the image.

Widgets only: it says which files (and weights) or which layer the user chose; request.py
reads them. Object names (`style_source`, `style_path`, `browse`, `add_style`, `style_list`,
`style_weight_<row>`, `remove_style`, `style_layer`) are for scripts and the end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .qt import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)

FILES, LAYER = "Image files", "Layer of this image"
IMAGES = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
NO_SUCH_FILE = "no such file"


def _named(widget: Any, name: str) -> Any:
    widget.setObjectName(name)
    return widget


class StyleSources(QWidget):
    changed = Signal()  # the source, the files or a weight changed
    say = Signal(str)  # one line for the user ("" takes an earlier slip back)
    layer_shown = Signal()  # the layer list is shown: the docker fills it with refresh_layers

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.source = _named(QComboBox(), "style_source")
        self.source.addItems([FILES, LAYER])
        self.source.currentTextChanged.connect(self._on_source)
        box.addWidget(self.source)
        self.files = QWidget()
        fbox = QVBoxLayout(self.files)
        fbox.setContentsMargins(0, 0, 0, 0)
        fbox.addLayout(self._path_row())
        self.table = _named(QTableWidget(0, 2), "style_list")
        self.table.setHorizontalHeaderLabels(["Style image", "Weight"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMaximumHeight(110)
        fbox.addWidget(self.table)
        remove = _named(QPushButton("Remove"), "remove_style")
        remove.clicked.connect(self._remove_style)
        fbox.addWidget(remove)
        box.addWidget(self.files)
        self.layer = _named(QComboBox(), "style_layer")
        self.layer.setVisible(False)
        box.addWidget(self.layer)
        self._slipped = False  # the last line said was a missing file's

    def _path_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.path = _named(QLineEdit(), "style_path")
        self.path.setPlaceholderText("style image file")
        self.path.returnPressed.connect(self._add_path)
        browse = _named(QToolButton(), "browse")
        browse.setText("...")
        browse.clicked.connect(self._browse)
        add = _named(QPushButton("Add"), "add_style")
        add.clicked.connect(self._add_path)
        row.addWidget(self.path)
        row.addWidget(browse)
        row.addWidget(add)
        return row

    # -- what the docker asks -------------------------------------------------------------

    def from_layer(self) -> bool:
        return self.source.currentText() == LAYER

    def layer_name(self) -> str | None:
        """The chosen style layer's name when the style comes from a layer, else None."""
        return self.layer.currentText() if self.from_layer() else None

    def chosen_files(self) -> list[tuple[str, float]]:
        """(path, weight) of every row of the list."""
        return [(self._path(row), self._weight(row)) for row in range(self.table.rowCount())]

    def selected_paths(self) -> list[str]:
        """The selected rows' files, or every file when none is selected."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self._path(row) for row in rows or range(self.table.rowCount())]

    def set_source(self, text: str) -> None:
        if text in (FILES, LAYER):
            self.source.setCurrentText(text)

    def refresh_layers(self, names: list[str]) -> None:
        current = self.layer.currentText()
        self.layer.clear()
        self.layer.addItems(names)
        if current:
            self.layer.setCurrentText(current)

    def add_style_file(self, path: str, weight: float = 1.0) -> bool:
        if not Path(path).is_file():
            self._slipped = True
            self.say.emit(f"{NO_SUCH_FILE}: {path}")
            return False
        if self._slipped:
            self._slipped = False
            self.say.emit("")  # an earlier slip, now corrected
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
        spin.valueChanged.connect(lambda *_: self.changed.emit())
        self.table.setCellWidget(row, 1, spin)
        self.changed.emit()
        return True

    # -- internals ------------------------------------------------------------------------

    def _path(self, row: int) -> str:
        return str(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole))

    def _weight(self, row: int) -> float:
        return float(self.table.cellWidget(row, 1).value())

    def _on_source(self, text: str) -> None:
        self.files.setVisible(text == FILES)
        self.layer.setVisible(text == LAYER)
        if text == LAYER:
            self.layer_shown.emit()
        self.changed.emit()

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Style images", "", IMAGES)
        for path in paths:
            self.add_style_file(path)

    def _add_path(self) -> None:
        path = self.path.text().strip()
        if path and self.add_style_file(path):
            self.path.clear()  # kept when it failed, to be corrected

    def _remove_style(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            if row >= 0:
                self.table.removeRow(row)
        self.changed.emit()
