"""The dialogs' Help button: the plug-in's own help page (help.html, beside this module),
not GIMP's user manual, which has no page for a plug-in and, when it is not installed (the
usual case), offers to read the manual online instead.

GimpUi's dialogs wire their Help button to GIMP's help system itself; the button is hidden
and one of the same place and mnemonic opens the page in the web browser instead.
"""

from __future__ import annotations

import logging
import os

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gimp, GLib, Gtk  # noqa: E402

log = logging.getLogger(__name__)

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.html")
LABEL = "_Help"


def page_uri(section: str = "") -> str:
    uri = GLib.filename_to_uri(PAGE, None)
    return f"{uri}#{section}" if section else uri


def _find_help_button(widget: Gtk.Widget) -> Gtk.Button | None:
    if isinstance(widget, Gtk.Button) and widget.get_label() == LABEL:
        return widget
    if isinstance(widget, Gtk.Container):
        for child in widget.get_children():
            found = _find_help_button(child)
            if found is not None:
                return found
    return None


def own_help(dialog: Gtk.Dialog, section: str) -> bool:
    """Swap `dialog`'s Help button for one that opens help.html at `section`; False when the
    dialog has none (then nothing changes)."""
    gimp_help = _find_help_button(dialog)
    parent = gimp_help.get_parent() if gimp_help is not None else None
    if gimp_help is None or not isinstance(parent, Gtk.Box):
        log.info("help: no Help button to replace")
        return False
    position = parent.child_get_property(gimp_help, "position")
    pack_type = parent.child_get_property(gimp_help, "pack-type")
    gimp_help.hide()
    gimp_help.set_no_show_all(True)
    ours = Gtk.Button.new_with_mnemonic(LABEL)
    ours.set_tooltip_text("Impasto's help for this dialog, in your web browser")
    ours.connect("clicked", lambda *_: open_page(dialog, section))
    parent.add(ours)
    parent.child_set_property(ours, "pack-type", pack_type)
    parent.reorder_child(ours, position)
    if isinstance(parent, Gtk.ButtonBox):
        parent.set_child_secondary(ours, parent.get_child_secondary(gimp_help))
    ours.show()
    return True


def open_page(window: Gtk.Window, section: str) -> None:
    """Open the help page at `section`, or say where it is when nothing can show it."""
    uri = page_uri(section)
    log.info("help: opening %s", uri)
    try:
        Gtk.show_uri_on_window(window, uri, Gdk.CURRENT_TIME)
    except GLib.Error as exc:
        log.info("help: cannot open it: %s", exc.message)
        Gimp.message(f"Impasto's help is the page {PAGE}: open it in a web browser")
