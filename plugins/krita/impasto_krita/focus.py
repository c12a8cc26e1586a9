"""The docker's manners with the wheel and the keyboard: they belong to the panel's scrolling
and to the canvas, not to whichever number box the pointer or Qt's focus chain passes over.

The wheel: a combo box, spin box or slider takes it as the pointer passes over it, so that
scrolling the panel changed settings unseen (over the Mode box, Refine became Paint).
`WheelGuard`, installed once on the docker, gives every one of them the StrongFocus policy (a
click or Tab focuses it, the wheel does not) and hands the wheel of an unfocused one on to its
parents, so the scroll area scrolls. It follows the widgets added later (the Advanced form
built from the daemon's settings, a style's weight) through Qt's ChildPolished event.

The keyboard: Qt hands the focus of a control that is disabled or hidden (Start, Cancel, Train
and Stop, around a job) to the next control in line, often a spin box, where Krita's shortcuts
typed with the pointer on the canvas then edit a number. `set_enabled` and `set_shown` give
the focus to a refuge first (the canvas), or clear it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .qt import QAbstractSpinBox, QComboBox, QEvent, QObject, QSlider, Qt, QWidget

WHEELED = (QComboBox, QAbstractSpinBox, QSlider)  # what a passing wheel would change

# Where the focus goes when the control holding it goes away: the canvas (None: nowhere).
Refuge = Callable[[], "QWidget | None"]


class WheelGuard(QObject):
    """One event filter on every widget under `root`, now and later: the wheel reaches a
    combo box, spin box or slider only while it has the focus."""

    def __init__(self, root: QWidget) -> None:
        super().__init__(root)
        self._watch(root)

    def _watch(self, widget: QWidget) -> None:
        for w in (widget, *widget.findChildren(QWidget)):
            w.installEventFilter(self)  # (installing it twice keeps one)
            if isinstance(w, WHEELED):
                w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def eventFilter(self, watched: QObject, event: Any) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ChildPolished and isinstance(event.child(), QWidget):
            self._watch(event.child())  # a widget added since: its own and its children
        elif kind == QEvent.Type.Wheel and isinstance(watched, WHEELED):
            if not watched.hasFocus():
                event.ignore()  # Qt offers an ignored wheel to the parents: the scroll area
                return True
        return False


def _give_up_focus(widget: QWidget, refuge: Refuge | None) -> None:
    """If `widget` (or a child of it) holds its window's focus, hand it to the refuge, or
    clear it: never to the next control in line."""
    holder = widget.window().focusWidget()
    if holder is None or not (holder is widget or widget.isAncestorOf(holder)):
        return
    place = refuge() if refuge is not None else None
    if place is not None and place.isEnabled() and place.isVisible():
        place.setFocus(Qt.FocusReason.OtherFocusReason)
    if widget.window().focusWidget() is holder:
        holder.clearFocus()


def set_enabled(widget: QWidget, enabled: bool, refuge: Refuge | None = None) -> None:
    """QWidget.setEnabled, except that a control losing its use gives its focus to the
    refuge instead of to the next number box."""
    if not enabled:
        _give_up_focus(widget, refuge)
    widget.setEnabled(enabled)


def set_shown(widget: QWidget, shown: bool, refuge: Refuge | None = None) -> None:
    """QWidget.setVisible, with the same care for the focus as `set_enabled`."""
    if not shown:
        _give_up_focus(widget, refuge)
    widget.setVisible(shown)
