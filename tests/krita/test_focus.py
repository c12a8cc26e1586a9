"""The docker's wheel and focus manners (impasto_krita.focus) on plain Qt widgets: PyQt5 from
the `test` extra, on Qt's offscreen platform (no display, no Krita). The real docker in Krita
is checked by test_krita_plugin.py; here each rule is shown to hold and to be needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("PyQt5.QtWidgets", reason="the plug-in's Qt: pip install -e .[test]")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from impasto_krita.focus import WheelGuard, set_enabled, set_shown
from PyQt5.QtCore import QPoint, QPointF, Qt
from PyQt5.QtGui import QWheelEvent
from PyQt5.QtWidgets import (
    QApplication,
    QComboBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@pytest.fixture(scope="module")
def app() -> QApplication:
    return QApplication.instance() or QApplication([])


def panel() -> tuple[QScrollArea, QVBoxLayout]:
    """A short scroll area over a tall column of controls, as the docker's settings are."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    column = QWidget()
    box = QVBoxLayout(column)
    scroll.setWidget(column)
    scroll.resize(200, 120)
    return scroll, box


def wheel_down(widget: QWidget) -> None:
    """One notch of the wheel over `widget`, delivered as Qt delivers a real one."""
    at = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(0, 0), QPoint(0, -120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def combo() -> QComboBox:
    box = QComboBox()
    box.addItems(["Instant", "Refine", "Paint"])
    box.setCurrentIndex(1)
    return box


def test_the_wheel_passes_over_an_unfocused_combo_box(app: QApplication) -> None:
    scroll, box = panel()
    mode = combo()
    box.addWidget(mode)
    for _ in range(20):
        box.addWidget(QSpinBox())
    WheelGuard(scroll)
    scroll.show()
    app.processEvents()
    mode.clearFocus()  # (shown, the window focuses its first control)
    wheel_down(mode)
    assert mode.currentIndex() == 1  # Refine stays Refine
    # (A real wheel, ignored, goes on to the scroll area; Qt delivers a sent one, as here,
    # to its receiver alone, so the scrolling itself cannot be shown without a mouse.)
    assert mode.focusPolicy() == Qt.FocusPolicy.StrongFocus
    mode.setFocus()  # once clicked, the wheel is the box's
    app.processEvents()
    if mode.hasFocus():  # (offscreen: only where the window can be active)
        wheel_down(mode)
        assert mode.currentIndex() == 2


def test_without_the_guard_the_wheel_changes_the_setting(app: QApplication) -> None:
    scroll, box = panel()
    mode = combo()
    box.addWidget(mode)
    scroll.show()
    app.processEvents()
    wheel_down(mode)
    assert mode.currentIndex() == 2  # what the guard prevents


def test_controls_added_later_are_guarded_too(app: QApplication) -> None:
    scroll, box = panel()
    WheelGuard(scroll)
    scroll.show()
    app.processEvents()
    later = QWidget()  # as the Advanced form, built once the daemon answers
    inner = QVBoxLayout(later)
    weight = QSpinBox()
    weight.setValue(5)
    inner.addWidget(weight)
    box.addWidget(later)
    app.processEvents()
    assert weight.focusPolicy() == Qt.FocusPolicy.StrongFocus
    wheel_down(weight)
    assert weight.value() == 5


def column_with_focus() -> tuple[QWidget, QPushButton, QSpinBox, QPushButton]:
    """A Cancel button that holds the focus, a number box next in line, and a refuge."""
    window = QWidget()
    box = QVBoxLayout(window)
    cancel, number, refuge = QPushButton("Cancel"), QSpinBox(), QPushButton("canvas")
    for w in (refuge, cancel, number):
        box.addWidget(w)
    window.show()
    cancel.setFocus()
    return window, cancel, number, refuge


def test_a_disabled_button_gives_its_focus_to_the_refuge(app: QApplication) -> None:
    window, cancel, number, refuge = column_with_focus()
    assert window.focusWidget() is cancel
    set_enabled(cancel, False, lambda: refuge)
    assert window.focusWidget() is refuge and not cancel.isEnabled()
    cancel.setEnabled(True)
    cancel.setFocus()
    set_shown(cancel, False)  # no refuge: the focus is cleared, not passed on
    assert window.focusWidget() is not number and not cancel.isVisible()


def test_qt_alone_passes_the_focus_to_the_number_box(app: QApplication) -> None:
    window, cancel, number, _ = column_with_focus()
    cancel.setEnabled(False)
    assert window.focusWidget() is number  # what set_enabled prevents
