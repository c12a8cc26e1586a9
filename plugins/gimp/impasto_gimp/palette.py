"""The palette of built-in styles in the settings dialog: a swatch per preset, each toggled
into the mix with a weight, written to the procedure's `presets` argument; then the daemon's
trained styles (protocol 1.5), each a toggle that writes its name to the `trained` argument.

The argument stays the truth (scripts set it, GIMP remembers it), so the palette is only a
second way to edit it: a click writes the text ("3:1,17:0.5"), and text typed into the
argument's entry turns the matching swatches on. The swatches arrive from a worker thread
(prefetch.py) after the dialog opened; `fill` and `status` run on the main loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import Gdk, GdkPixbuf, Gimp, GLib, Gtk  # noqa: E402

from impasto_protocol import Pixels  # noqa: E402
from impasto_protocol.modes import MAX_PRESET_WEIGHT  # noqa: E402

from .prefetch import Swatches  # noqa: E402
from .settings import (  # noqa: E402
    SettingsInputError,
    format_presets,
    parse_presets,
    parse_trained,
)

log = logging.getLogger(__name__)

ARGUMENT = "presets"
TRAINED = "trained"  # the argument the trained styles' toggles write
SHOWN = 64  # px: half the daemon's 128 px swatches (sharp), six to a row
COLUMNS = 6
# Px of swatches visible at once, a row and a half (the cut row says "scroll"): with it the
# whole dialog stays under 700 px, so it fits a 1366x768 screen with a title bar and a panel.
HEIGHT = 180
HELP = "Click styles to mix them; set each one's weight in the blend below it."
# A chosen style's button: GIMP's themes show a pressed toggle button barely darker, so a chosen
# swatch gets a thick coloured frame and a tinted ground around its picture too.
CHOSEN = "impasto-chosen"
CHOSEN_CSS = (
    f"button.{CHOSEN} {{ border: 3px solid #2f7fd8; background-image: none;"
    " background-color: rgba(47, 127, 216, 0.45); }"
)
_css_installed = False


def mark_chosen(toggle: Gtk.ToggleButton) -> None:
    """Frame `toggle` while it is on, now and whenever it is toggled."""
    global _css_installed
    if not _css_installed:
        provider = Gtk.CssProvider()
        provider.load_from_data(CHOSEN_CSS.encode())
        screen = Gdk.Screen.get_default()
        if screen is not None:
            Gtk.StyleContext.add_provider_for_screen(
                screen, provider, Gtk.STYLE_PROVIDER_PRIORITY_USER
            )
        _css_installed = True

    def show(button: Gtk.ToggleButton) -> None:
        context = button.get_style_context()
        if button.get_active():
            context.add_class(CHOSEN)
        else:
            context.remove_class(CHOSEN)

    toggle.connect("toggled", show)
    show(toggle)


def pixbuf(pixels: Pixels, side: int = SHOWN) -> GdkPixbuf.Pixbuf:
    """A GdkPixbuf of an RGB u8 swatch, scaled to `side` on its longer side."""
    if pixels.layout != "RGB" or pixels.dtype != "u8":
        raise ValueError(f"a swatch is {pixels.layout} {pixels.dtype}, not RGB u8")
    w, h = pixels.width, pixels.height
    data = GLib.Bytes.new(bytes(pixels.data))
    full = GdkPixbuf.Pixbuf.new_from_bytes(data, GdkPixbuf.Colorspace.RGB, False, 8, w, h, w * 3)
    scale = side / max(w, h)
    if scale == 1.0:
        return full
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return full.scale_simple(*size, GdkPixbuf.InterpType.BILINEAR)


class Cell:
    """One preset: a toggle button showing its swatch and number, and its weight below."""

    def __init__(
        self,
        index: int,
        pixels: Pixels,
        changed: Callable[[], None],
        scroll: Callable[[Gtk.Widget, Gdk.EventScroll], bool],
    ) -> None:
        self.index = index
        self.toggle = Gtk.ToggleButton(label=str(index))  # the number scripts use
        self.toggle.set_image(Gtk.Image.new_from_pixbuf(pixbuf(pixels)))
        self.toggle.set_image_position(Gtk.PositionType.LEFT)  # beside: the row stays low
        self.toggle.set_always_show_image(True)
        self.toggle.set_tooltip_text(f"Built-in style {index}")
        mark_chosen(self.toggle)
        self.weight = Gtk.SpinButton.new_with_range(0.1, MAX_PRESET_WEIGHT, 0.1)
        self.weight.set_digits(1)
        self.weight.set_value(1.0)
        self.weight.set_width_chars(3)
        self.weight.set_sensitive(False)
        self.weight.set_tooltip_text(f"Weight of style {index} in the blend")
        self.widget = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=2)
        self.widget.pack_start(self.toggle, False, False, 0)
        self.widget.pack_start(self.weight, False, False, 0)
        self.toggle.connect("toggled", self._on_toggled, changed)
        self.weight.connect("value-changed", lambda *_: changed())
        # A spin button takes the mouse wheel: in a scrolled palette, scrolling past a weight
        # would change it. The wheel scrolls the palette instead (the weight has +/- and text).
        self.weight.connect("scroll-event", scroll)

    def _on_toggled(self, button: Gtk.ToggleButton, changed: Callable[[], None]) -> None:
        self.weight.set_sensitive(button.get_active())
        changed()

    @property
    def value(self) -> float:
        """The weight in the mix: 0 when the swatch is off."""
        return round(self.weight.get_value(), 2) if self.toggle.get_active() else 0.0

    def set(self, weight: float) -> None:
        self.toggle.set_active(weight > 0)
        if weight > 0:
            self.weight.set_value(weight)


class Palette:
    """The palette widget (`widget`), bound to `config`'s presets argument."""

    def __init__(self, config: Gimp.ProcedureConfig) -> None:
        self.config = config
        self.cells: list[Cell] = []
        self.closed = False
        self._syncing = False  # set while one side updates the other, so it does not echo
        self.note = Gtk.Label(label="Asking the Impasto daemon for its built-in styles...")
        self.note.set_xalign(0.0)
        self.note.set_line_wrap(True)
        self.note.set_max_width_chars(60)
        self.flow = Gtk.FlowBox()
        self.flow.set_selection_mode(Gtk.SelectionMode.NONE)
        self.flow.set_homogeneous(True)
        self.flow.set_min_children_per_line(COLUMNS)
        self.flow.set_max_children_per_line(COLUMNS)
        self.scroller = Gtk.ScrolledWindow()
        self.scroller.set_policy(Gtk.PolicyType.NEVER, Gtk.PolicyType.AUTOMATIC)
        self.scroller.set_min_content_height(HEIGHT)
        self.scroller.set_no_show_all(True)  # shown once there are swatches
        self.scroller.add(self.flow)
        self.widget = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        self.widget.pack_start(self.note, False, False, 0)
        self.widget.pack_start(self.scroller, True, True, 0)
        self.trained: list[Gtk.ToggleButton] = []
        self._handler = config.connect(f"notify::{ARGUMENT}", self._on_argument)
        self._trained_handler = config.connect(f"notify::{TRAINED}", self._on_trained_argument)

    def status(self, text: str) -> bool:
        """Show how fetching goes (GLib.idle_add callback: False runs it once)."""
        if not self.closed and not self.cells:
            self.note.set_text(text)
        return False

    def fill(self, swatches: Swatches) -> bool:
        """Show the swatches, or why there are none (GLib.idle_add callback)."""
        if self.closed:
            return False
        if swatches.problem or not swatches.pictures:
            self.note.set_text(swatches.problem or "The daemon has no built-in styles.")
            return False
        try:
            cells = [
                Cell(index, pixels, self._on_cell, self._on_wheel)
                for index, pixels in enumerate(swatches.pictures)
            ]
        except ValueError as exc:  # not RGB u8: a daemon that breaks SPEC section 6
            self.note.set_text(f"Cannot show the built-in styles: {exc}")
            return False
        for cell in cells:
            self.cells.append(cell)
            self.flow.add(cell.widget)
        self._apply(self.config.get_property(ARGUMENT) or "")
        self.note.set_text(HELP)
        self.scroller.set_no_show_all(False)
        self.scroller.show_all()
        self._fill_trained(swatches)
        log.info(
            "palette: %d swatches shown, trained styles %s",
            len(self.cells),
            [t.get_label() for t in self.trained],
        )
        return False

    def _fill_trained(self, swatches: Swatches) -> None:
        """The daemon's trained styles (1.5) after the presets: a toggle each, with its swatch
        and name, that puts the name into the `trained` argument (weight 1, as the style
        images). The argument stays the truth, as for the presets."""
        for info in swatches.trained:
            try:
                picture = Gtk.Image.new_from_pixbuf(pixbuf(info.swatch))
            except ValueError:
                picture = Gtk.Image()
            toggle = Gtk.ToggleButton(label=info.name)
            toggle.set_image(picture)
            toggle.set_image_position(Gtk.PositionType.LEFT)
            toggle.set_always_show_image(True)
            toggle.set_tooltip_text(f"Trained style {info.name} ({info.kind})")
            mark_chosen(toggle)
            toggle.connect("toggled", lambda *_: self._on_trained())
            self.trained.append(toggle)
            self.flow.add(toggle)
        self._apply_trained(self.config.get_property(TRAINED) or "")
        self.flow.show_all()

    def _on_trained(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            names = parse_trained(self.config.get_property(TRAINED) or "")
            shown = {t.get_label() for t in self.trained}
            names = [n for n in names if n not in shown]  # typed names of other styles stay
            names += [t.get_label() for t in self.trained if t.get_active()]
            self.config.set_property(TRAINED, ", ".join(names))
        finally:
            self._syncing = False

    def _on_trained_argument(self, *_: object) -> None:
        if not self._syncing:
            self._apply_trained(self.config.get_property(TRAINED) or "")

    def _apply_trained(self, text: str) -> None:
        self._syncing = True
        try:
            names = set(parse_trained(text))
            for toggle in self.trained:
                toggle.set_active(toggle.get_label() in names)
        finally:
            self._syncing = False

    def close(self) -> None:
        """The dialog is going: ignore late callbacks, let go of the config."""
        self.closed = True
        self.config.disconnect(self._handler)
        self.config.disconnect(self._trained_handler)

    def mix(self) -> dict[int, float]:
        return {cell.index: cell.value for cell in self.cells if cell.value > 0}

    def _on_wheel(self, _widget: Gtk.Widget, event: Gdk.EventScroll) -> bool:
        """Scroll the palette by what the wheel would scroll it elsewhere."""
        adjustment = self.scroller.get_vadjustment()
        step = adjustment.get_page_size() ** (2 / 3)  # GTK's own wheel step
        smooth, _dx, dy = event.get_scroll_deltas()
        if not smooth:
            _found, direction = event.get_scroll_direction()
            dy = {Gdk.ScrollDirection.UP: -1.0, Gdk.ScrollDirection.DOWN: 1.0}.get(direction, 0.0)
        top = adjustment.get_upper() - adjustment.get_page_size()
        adjustment.set_value(min(max(adjustment.get_value() + dy * step, 0.0), top))
        return True  # handled: the weight keeps its value

    def _on_cell(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.config.set_property(ARGUMENT, format_presets(self.mix()))
        finally:
            self._syncing = False

    def _on_argument(self, *_: object) -> None:
        if not self._syncing:
            self._apply(self.config.get_property(ARGUMENT) or "")

    def _apply(self, text: str) -> None:
        """Turn on the swatches the argument names. Text that does not parse (yet: the user
        may be typing) changes nothing; the run reports it."""
        try:
            mix = parse_presets(text)
        except SettingsInputError:
            return
        self._syncing = True
        try:
            for cell in self.cells:
                cell.set(mix.get(cell.index, 0.0))
        finally:
            self._syncing = False
