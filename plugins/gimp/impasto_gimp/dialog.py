"""The interactive UI: the settings dialog and a progress window with a graceful Cancel.

Imported only in interactive runs (GimpUi needs a display). The settings dialog is GIMP's
ProcedureDialog generated from the procedure's arguments, so it and scripting never disagree and
GIMP remembers the values; the hand-made parts only edit arguments: the list of styles
(style_list.py) its three style arguments, the palette of built-in styles (palette.py)
`presets`. The progress window exists because GIMP's own progress-bar Cancel SIGKILLs the
plug-in: its Cancel button instead asks the daemon to cancel and removes the unfinished layer,
with GTK events pumped while the job runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gimp, GimpUi, GLib, GObject, Gtk  # noqa: E402

from impasto_protocol.modes import Mode  # noqa: E402

from . import help_page, style_list  # noqa: E402
from .estimate import Estimator  # noqa: E402
from .palette import Palette  # noqa: E402
from .prefetch import Prefetch, Swatches  # noqa: E402
from .settings import Arguments  # noqa: E402
from .style_list import StyleList  # noqa: E402

# What the estimate needs from the dialog's current values: the arguments, the size of the
# pixels OK would send and the number of style images; None while they cannot say.
EstimateInput = Callable[[], "tuple[Arguments, tuple[int, int], int] | None"]

log = logging.getLogger(__name__)

DIALOG_TITLE = "Style Transfer"
PROGRESS_TITLE = "Style Transfer: running"  # distinct, so tools (and tests) can find each window
TRAINING_TITLE = "Train Instant Style"
TRAINING_PROGRESS_TITLE = "Train Instant Style: training"
# The training dialog's arguments but the style layer, which gets a chooser of its own.
TRAINING_FIELDS = ["style-file", "name", "steps", "endpoint"]
STYLE_LAYER_TITLE = "Choose the layer to train"
# The style images and the style layer are one list (style_list.py) that edits their three
# arguments; the rest are GIMP's generated widgets.
MAIN = ["mode", "strength", "quality", "preserve-colors"]
STYLES = list(style_list.ARGUMENTS)
PALETTE = ["presets", "trained"]
ADVANCED = ["size", "iterations", "preview-every", "padding", "advanced", "endpoint"]
# Arguments only the optimization reads: greyed out while the mode is Instant. (Not strength:
# since protocol 1.8 Instant's strength is the blend with the photo.)
OPTIMIZATION = ["quality", "iterations", "preview-every"]


def settings_dialog(
    procedure: Gimp.Procedure,
    config: Gimp.ProcedureConfig,
    prefetch: Prefetch | str,
    estimate_input: EstimateInput | None = None,
) -> bool:
    """Show the settings; True when the user pressed OK (the config then holds the values).
    `prefetch` fetches the palette's swatches meanwhile, or is why it cannot (one line);
    with `estimate_input`, a line says what OK would do (estimate.py), kept up to date."""
    GimpUi.init("impasto-stylize")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, DIALOG_TITLE)
    help_page.own_help(dialog, "style-transfer")
    palette = Palette(config)
    box = dialog.fill_box("palette-box", PALETTE)
    box.pack_start(palette.widget, True, True, 0)
    box.reorder_child(palette.widget, 0)  # the swatches above the argument's text
    palette.widget.show_all()  # the dialog shows only the widgets it made itself
    dialog.get_label("palette-title", "Built-in styles", False, False)
    dialog.fill_expander("palette-expander", "palette-title", False, "palette-box").set_expanded(
        True
    )
    # Strength as a slider with its number (the shared 0..100 scale Krita's slider shows);
    # GIMP's default for a number is a spin box alone. Whole numbers, as Krita shows them (the
    # argument stays a double: Script-Fu calls by position keep working).
    strength = dialog.get_scale_entry("strength", 1.0)
    strength.set_digits(0)
    log.info("strength shown with %d decimals", strength.get_spin_button().get_digits())
    line = dialog.get_label("estimate-line", "", False, False)
    line.set_line_wrap(True)
    line.set_xalign(0.0)
    styles = _style_list(dialog, config)
    main = [MAIN[0], "style-list-box", *MAIN[1:]]
    dialog.fill([*main, "estimate-line", _columns(dialog)])
    estimator = None
    optimizing = Gimp.ValueArray.new(2)
    for mode in (Mode.REFINE, Mode.PAINT):
        optimizing.append(GObject.Value(GObject.TYPE_STRING, mode.value))
    for name in OPTIMIZATION:
        dialog.set_sensitive_if_in(name, None, "mode", optimizing, True)
    if isinstance(prefetch, Prefetch):
        # Called on the worker thread: hand each call to the main loop.
        prefetch.on_status = lambda text: GLib.idle_add(palette.status, text)
        prefetch.on_done = lambda swatches: GLib.idle_add(palette.fill, swatches)
        estimator = _follow_estimate(config, prefetch, estimate_input, line)  # before start
        prefetch.start()
    else:
        palette.fill(Swatches(problem=prefetch))
    try:
        return _run(dialog, styles)
    finally:
        palette.close()
        styles.close()
        if estimator is not None:
            estimator.on_text = lambda text: None
            estimator.close()
        if isinstance(prefetch, Prefetch):
            prefetch.on_done = lambda swatches: None
        dialog.destroy()


def _run(dialog: GimpUi.ProcedureDialog, styles: StyleList) -> bool:
    """Run the dialog until Cancel, or OK with a style to paint with. OK without one keeps
    the dialog open and says why: closing it would end in an error, the choices made lost."""
    while dialog.run():
        problem = styles.problem()
        if problem is None:
            return True
        log.info("OK refused: %s", problem)
        styles.refuse(problem)
    return False


def _columns(dialog: GimpUi.ProcedureDialog) -> str:
    """The built-in styles and Advanced side by side, the id of their row: below the palette,
    an open Advanced made the dialog 884 px tall, more than a 1366x768 screen shows; beside
    it, it makes the dialog wider, not taller."""
    dialog.fill_box("advanced-box", ADVANCED)
    dialog.get_label("advanced-title", "_Advanced", False, True)
    expander = dialog.fill_expander("advanced-expander", "advanced-title", False, "advanced-box")
    # GTK sizes the window for the new column at the old width first, where the labels wrap,
    # and never shrinks it again by itself: ask for the smallest size that shows everything.
    expander.connect("notify::expanded", lambda *_: GLib.idle_add(_fit, dialog))
    row = dialog.fill_box("columns-box", ["palette-expander", "advanced-expander"])
    row.set_orientation(Gtk.Orientation.HORIZONTAL)
    row.set_spacing(18)
    return "columns-box"


def _fit(dialog: GimpUi.ProcedureDialog) -> bool:
    """Shrink the dialog to its content (GLib.idle_add callback: False runs it once)."""
    dialog.resize(1, 1)
    return False


def _style_list(dialog: GimpUi.ProcedureDialog, config: Gimp.ProcedureConfig) -> StyleList:
    """The "Styles" row: its title beside the list (in a box of its own: an empty list of
    arguments would fill a box with every argument)."""
    dialog.get_label("styles-title", "Styles", False, False)
    box = dialog.fill_box("style-list-box", ["styles-title"])
    box.set_orientation(Gtk.Orientation.HORIZONTAL)
    box.set_spacing(12)
    styles = StyleList(config, lambda: dialog)
    box.pack_start(styles.widget, True, True, 0)
    styles.widget.show_all()
    return styles


def _follow_estimate(
    config: Gimp.ProcedureConfig,
    prefetch: Prefetch | str,
    estimate_input: EstimateInput | None,
    line: Gtk.Label,
) -> Estimator | None:
    """Ask again on every change of an argument, and once the palette's worker is done (it
    may have started the daemon); the answer goes into `line` on the main loop."""
    if estimate_input is None or not isinstance(prefetch, Prefetch):
        return None
    estimator = Estimator(prefetch.endpoint or prefetch.config.resolved_endpoint())

    def show(text: str) -> bool:
        line.set_text(text)
        return False

    def ask(*_: object) -> None:
        asked = estimate_input()
        if asked is not None:
            estimator.ask(*asked)

    estimator.on_text = lambda text: GLib.idle_add(show, text)
    config.connect("notify", ask)
    done = prefetch.on_done

    def after_prefetch(swatches: Swatches) -> None:
        done(swatches)
        GLib.idle_add(lambda: ask() or False)

    prefetch.on_done = after_prefetch
    ask()
    return estimator


def training_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    """The Train Instant Style dialog, GIMP's generated one; True when the user pressed OK."""
    GimpUi.init("impasto-train-style")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, TRAINING_TITLE)
    help_page.own_help(dialog, "train")
    gfile = config.get_property("style-file")
    log.info(
        "training dialog opens with: %s, %r",
        gfile.get_uri() if gfile is not None else None,
        config.get_property("name"),
    )
    dialog.fill(TRAINING_FIELDS)
    _style_layer_chooser(dialog, config)
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


def _style_layer_chooser(dialog: GimpUi.ProcedureDialog, config: Gimp.ProcedureConfig) -> None:
    """The style layer's chooser, below the style image: GimpUi's generated one opens a window
    called "Choose drawable"; this one, bound to the same argument, says what it is for."""
    chooser = GimpUi.prop_drawable_chooser_new(config, "style-layer", STYLE_LAYER_TITLE)
    above = dialog.get_widget("style-file", GObject.TYPE_NONE)
    box = above.get_parent() if above is not None else None
    if not isinstance(box, Gtk.Box):
        dialog.get_content_area().pack_start(chooser, False, False, 0)
    else:
        box.pack_start(chooser, False, False, 0)
        box.reorder_child(chooser, box.get_children().index(above) + 1)
    chooser.show_all()
    log.info("style layer chooser: %s", STYLE_LAYER_TITLE)


class ProgressWindow:
    """A small window with a status line, a progress bar and Cancel, alive while the job runs."""

    def __init__(self, title: str = PROGRESS_TITLE) -> None:
        GimpUi.init("impasto")  # (once: a run without the dialog, Filters > Repeat, comes here)
        log.info("progress window: %s", title)
        self.cancelled = False
        self.window = Gtk.Window(title=title)
        self.window.set_default_size(360, -1)
        # Tied to the window that shows this procedure's progress (the image's), not kept
        # above every other window: it moves and minimizes with the image. Centred on the
        # screen: that parent is another process's window, which GTK cannot centre on, so
        # CENTER_ON_PARENT put it in the top left corner, over GIMP's menus.
        GimpUi.window_set_transient(self.window)
        self.window.set_position(Gtk.WindowPosition.CENTER)
        self.window.connect("delete-event", self._on_cancel)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=12)
        self.label = Gtk.Label(label="Connecting to the Impasto daemon...", xalign=0.0)
        # A long status line ("Painting: ... (8/100000, 13 h 30 min left)") wraps instead of
        # being cut off at the window's edge.
        self.label.set_line_wrap(True)
        self.label.set_max_width_chars(48)
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

    def follow(self, prefetch: Prefetch) -> None:
        """Show the palette worker's status lines (it may still be starting the daemon)."""
        prefetch.on_status = lambda text: GLib.idle_add(self._worker_status, text)

    def _worker_status(self, text: str) -> bool:
        if not self.cancelled:
            self.label.set_text(text)
        return False

    def close(self) -> None:
        self.window.destroy()
        self.pump()
