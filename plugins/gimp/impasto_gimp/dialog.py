"""The interactive UI: the settings dialog and a progress window with a graceful Cancel.

Imported only in interactive runs (GimpUi needs a display). The settings dialog is GIMP's
ProcedureDialog generated from the procedure's arguments, so it and scripting never disagree and
GIMP remembers the values. The progress window exists because GIMP's own progress-bar Cancel
SIGKILLs the plug-in: its Cancel button instead asks the daemon to cancel and removes the
unfinished layer, with GTK events pumped while the job runs.
"""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gimp, GimpUi, Gtk  # noqa: E402

DIALOG_TITLE = "Style Transfer"
PROGRESS_TITLE = "Style Transfer: running"  # distinct, so tools (and tests) can find each window
MAIN = ["style-file", "style-layer", "style-paths", "strength", "quality", "preserve-colors"]
ADVANCED = ["size", "iterations", "preview-every", "padding", "advanced", "endpoint"]


def settings_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    """Show the settings; True when the user pressed OK (the config then holds the values)."""
    GimpUi.init("impasto-stylize")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, DIALOG_TITLE)
    dialog.fill_box("advanced-box", ADVANCED)
    dialog.get_label("advanced-title", "Advanced", False, False)
    dialog.fill_expander("advanced-expander", "advanced-title", False, "advanced-box")
    dialog.fill([*MAIN, "advanced-expander"])
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


class ProgressWindow:
    """A small window with a status line, a progress bar and Cancel, alive while the job runs."""

    def __init__(self) -> None:
        self.cancelled = False
        self.window = Gtk.Window(title=PROGRESS_TITLE)
        self.window.set_default_size(360, -1)
        self.window.set_keep_above(True)
        self.window.connect("delete-event", self._on_cancel)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=12)
        self.label = Gtk.Label(label="Connecting to the Impasto daemon...", xalign=0.0)
        self.bar = Gtk.ProgressBar()
        self.button = Gtk.Button.new_with_mnemonic("_Cancel")
        self.button.connect("clicked", self._on_cancel)
        box.pack_start(self.label, False, False, 0)
        box.pack_start(self.bar, False, False, 0)
        box.pack_end(self.button, False, False, 0)
        self.window.add(box)
        self.window.show_all()
        self.pump()

    def _on_cancel(self, *_: object) -> bool:
        self.cancelled = True
        self.button.set_sensitive(False)
        self.label.set_text("Cancelling...")
        return True  # keep the window until the daemon confirms

    def pump(self) -> bool:
        """Handle pending GTK events; True once Cancel was pressed."""
        while Gtk.events_pending():
            Gtk.main_iteration_do(False)
        return self.cancelled

    def status(self, text: str) -> None:
        if not self.cancelled:
            self.label.set_text(text)
        Gimp.progress_set_text(text)
        self.pump()

    def fraction(self, value: float) -> None:
        self.bar.set_fraction(max(0.0, min(1.0, value)))
        self.pump()

    def close(self) -> None:
        self.window.destroy()
        self.pump()
