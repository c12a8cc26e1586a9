"""The styles of a run as one list in the settings dialog: the chosen style images and the
style layer, each with its picture, added with "Add images..." or "Add a layer" and taken
out with its own button.

The procedure's three style arguments stay the truth (scripts set them, GIMP remembers
them): `style-file` (the first image), `style-paths` (the other images, ';' between) and
`style-layer`. The list writes them and follows them, so a Reset of the dialog or a
remembered run shows up here too. Several images are blended with the layer; the built-in
styles (palette.py) blend in beside them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
gi.require_version("Pango", "1.0")
from gi.repository import GdkPixbuf, Gimp, Gio, GLib, Gtk, Pango  # noqa: E402

from .settings import (  # noqa: E402
    config_style_files,
    style_file_arguments,
    style_files,
    style_problem,
)

log = logging.getLogger(__name__)

ARGUMENTS = ("style-file", "style-paths", "style-layer")
# The palette's arguments: a style clicked there is a style too, so "No style yet" goes.
OTHER_STYLES = ("presets", "trained")
THUMBNAIL = (72, 48)  # px at most: a style's picture in the list
EMPTY = "No style yet: add an image or a layer, or click built-in styles below."
ADD_FILES_TITLE = "Add style images"
LAYER_PROMPT = "Add a layer..."


class StyleList:
    """The list widget (`widget`), bound to `config`'s three style arguments."""

    def __init__(self, config: Gimp.ProcedureConfig, window: Callable[[], Gtk.Window]) -> None:
        self.config = config
        self.window = window  # the dialog, for the file chooser's parent
        self._syncing = False
        self.chips = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        self.empty = Gtk.Label(label=EMPTY)
        self.empty.set_xalign(0.0)
        self.empty.set_line_wrap(True)
        self.empty.set_no_show_all(True)  # shown by _show, when no style is chosen
        # Why OK did not close the dialog (`refuse`), until the styles change.
        self.warning = Gtk.Label()
        self.warning.set_xalign(0.0)
        self.warning.set_line_wrap(True)
        self.warning.set_no_show_all(True)
        scroller = Gtk.ScrolledWindow()
        scroller.set_policy(Gtk.PolicyType.AUTOMATIC, Gtk.PolicyType.NEVER)
        scroller.add(self.chips)
        add_files = Gtk.Button.new_with_mnemonic("Add _images...")
        add_files.set_tooltip_text("Style image files (several are blended)")
        add_files.connect("clicked", self._on_add_files)
        self.layers = Gtk.ComboBoxText()
        self.layers.set_tooltip_text("A layer of an open image to take the style from")
        self.layers.connect("changed", self._on_layer)
        label = Gtk.Label.new_with_mnemonic("or a la_yer:")
        label.set_mnemonic_widget(self.layers)
        controls = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        controls.pack_start(add_files, False, False, 0)
        controls.pack_start(label, False, False, 0)
        controls.pack_start(self.layers, False, False, 0)
        self.widget = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
        self.widget.pack_start(self.warning, False, False, 0)
        self.widget.pack_start(self.empty, False, False, 0)
        self.widget.pack_start(scroller, False, False, 0)
        self.widget.pack_start(controls, False, False, 0)
        self._handlers = [
            config.connect(f"notify::{name}", self._on_argument) for name in ARGUMENTS
        ]
        self._handlers += [
            config.connect(f"notify::{name}", self._on_other_styles) for name in OTHER_STYLES
        ]
        self._fill_layers()
        self._show()

    def close(self) -> None:
        for handler in self._handlers:
            self.config.disconnect(handler)
        self._handlers = []

    # -- the arguments ----------------------------------------------------------------------

    def files(self) -> list[str]:
        return config_style_files(self.config)

    def _set_files(self, paths: list[str]) -> None:
        first, more = style_file_arguments(paths)
        self._syncing = True
        try:
            self.config.set_property("style-file", Gio.File.new_for_path(first) if first else None)
            self.config.set_property("style-paths", more)
        finally:
            self._syncing = False
        self._show()

    def _set_layer(self, layer: Gimp.Layer | None) -> None:
        self._syncing = True
        try:
            self.config.set_property("style-layer", layer)
        finally:
            self._syncing = False
        self._show()

    def _on_argument(self, *_: object) -> None:
        if not self._syncing:
            self._show()

    def _on_other_styles(self, *_: object) -> None:
        self._show_empty(bool(self.files()) or self._layer() is not None)

    def _layer(self) -> Gimp.Layer | None:
        layer = self.config.get_property("style-layer")
        return layer if layer is not None and layer.is_valid() else None

    def problem(self) -> str | None:
        """Why OK cannot paint yet (settings.style_problem), or None."""
        return style_problem(
            self.files(),
            self._layer() is not None,
            self.config.get_property("presets") or "",
            self.config.get_property("trained") or "",
        )

    def refuse(self, problem: str) -> None:
        """Say in the dialog why OK did not close it (the dialog stays open), in place of
        the "No style yet" line."""
        self.warning.set_markup(f"<b>{GLib.markup_escape_text(problem)}</b>")
        self.warning.show()
        self.empty.hide()

    def _show_empty(self, listed: bool) -> None:
        """The "No style yet" line only while no style is chosen anywhere: not in the list, nor in
        the palette (built-in or trained styles); any change takes the warning away."""
        self.warning.hide()
        empty = not listed and self.problem() is not None
        self.empty.set_visible(empty)
        log.info("no-style line: %s", "shown" if empty else "hidden")

    # -- the widgets ------------------------------------------------------------------------

    def _show(self) -> None:
        """Rebuild the chips from the arguments."""
        for child in self.chips.get_children():
            self.chips.remove(child)
        shown = []
        for path in self.files():
            picture = _file_picture(path)
            chip = _chip(os.path.basename(path), path, picture, lambda p=path: self._remove(p))
            self.chips.pack_start(chip, False, False, 0)
            shown.append(f"{os.path.basename(path)} {_size(picture)}")
        layer = self._layer()
        if layer is not None:
            size = _fit(layer.get_width(), layer.get_height())
            picture = layer.get_thumbnail(*size, Gimp.PixbufTransparency.SMALL_CHECKS)
            name = f"layer {layer.get_name()}"
            chip = _chip(name, _layer_title(layer), picture, lambda: self._set_layer(None))
            self.chips.pack_start(chip, False, False, 0)
            shown.append(f"{name} {_size(picture)}")
        self.chips.show_all()
        log.info("style list: %s", shown)
        self._show_empty(bool(shown))

    def _remove(self, path: str) -> None:
        self._set_files([p for p in self.files() if p != path])

    def _on_add_files(self, _button: Gtk.Button) -> None:
        chooser = Gtk.FileChooserDialog(
            title=ADD_FILES_TITLE, transient_for=self.window(), action=Gtk.FileChooserAction.OPEN
        )
        chooser.add_buttons("_Cancel", Gtk.ResponseType.CANCEL, "_Add", Gtk.ResponseType.ACCEPT)
        chooser.set_select_multiple(True)
        images = Gtk.FileFilter()
        images.set_name("Images")
        images.add_pixbuf_formats()
        images.add_pattern("*.xcf")
        everything = Gtk.FileFilter()
        everything.set_name("All files")
        everything.add_pattern("*")
        chooser.add_filter(images)
        chooser.add_filter(everything)
        try:
            if chooser.run() == Gtk.ResponseType.ACCEPT:
                added = [f.get_path() for f in chooser.get_files() if f.get_path()]
                self._set_files(style_files(None, ";".join(self.files() + added)))
        finally:
            chooser.destroy()

    def _fill_layers(self) -> None:
        self._layers = list(_open_layers())
        self.layers.append_text(LAYER_PROMPT)
        titles = layer_titles(self._layers)
        for title in titles:
            self.layers.append_text(title)
        self.layers.set_active(0)
        log.info("layers to add: %s", titles)

    def _on_layer(self, combo: Gtk.ComboBoxText) -> None:
        index = combo.get_active()
        if index <= 0:
            return
        self._set_layer(self._layers[index - 1])
        combo.set_active(0)  # back to the prompt: the list shows the choice


def _open_layers() -> Iterator[Gimp.Layer]:
    """Every layer of every open image, groups' layers included, top first."""

    def walk(items: list[Gimp.Item]) -> Iterator[Gimp.Layer]:
        for item in items:
            if item.is_group():
                yield from walk(item.get_children())
            elif isinstance(item, Gimp.Layer):
                yield item

    for image in Gimp.get_images():
        yield from walk(image.get_layers())


def _layer_title(layer: Gimp.Layer) -> str:
    image = layer.get_image()
    return f"{image.get_name() if image else '?'}: {layer.get_name()}"


def layer_titles(layers: list[Gimp.Layer]) -> list[str]:
    """Each layer's line in "Add a layer...": its image and name; where two lines would read
    the same (two images of one name, a name used twice), the image as GIMP's title bar names
    it ("[Untitled]-2"), the layer's size and its place in its stack too:
    "[Untitled]-2: Background, 640x480, 2nd of 3 from the top"."""
    plain = [_layer_title(layer) for layer in layers]
    return [
        title if plain.count(title) == 1 else _distinct_title(layer)
        for title, layer in zip(plain, layers, strict=True)
    ]


def _distinct_title(layer: Gimp.Layer) -> str:
    image = layer.get_image()
    parent = layer.get_parent()
    stack = [x.get_id() for x in (parent.get_children() if parent else image.get_layers())]
    place = stack.index(layer.get_id()) + 1 if layer.get_id() in stack else 0
    return (
        f"{image.get_name()}-{image.get_id()}: {layer.get_name()}, "
        f"{layer.get_width()}x{layer.get_height()}, {_ordinal(place)} of {len(stack)} from the top"
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _file_picture(path: str) -> GdkPixbuf.Pixbuf | None:
    """The style file's picture, at most THUMBNAIL (a small one at its own size); None when
    GdkPixbuf cannot read it (GIMP may still open it when the job runs)."""
    try:
        _, width, height = GdkPixbuf.Pixbuf.get_file_info(path)
        if width <= THUMBNAIL[0] and height <= THUMBNAIL[1]:
            return GdkPixbuf.Pixbuf.new_from_file(path)
        return GdkPixbuf.Pixbuf.new_from_file_at_scale(path, *THUMBNAIL, True)
    except (GLib.Error, TypeError):
        return None


def _fit(width: int, height: int) -> tuple[int, int]:
    """A picture's size within THUMBNAIL, never larger than its own."""
    scale = min(1.0, THUMBNAIL[0] / width, THUMBNAIL[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _size(picture: GdkPixbuf.Pixbuf | None) -> str:
    return f"{picture.get_width()}x{picture.get_height()}" if picture else "(no picture)"


def _chip(
    name: str, tooltip: str, picture: GdkPixbuf.Pixbuf | None, remove: Callable[[], None]
) -> Gtk.Widget:
    """One style: its picture, its name and a button that takes it out, side by side (a
    picture above its name made the dialog's Styles row, and the dialog, taller than a
    1366x768 screen shows)."""
    image = Gtk.Image.new_from_pixbuf(picture) if picture else Gtk.Image()
    # The whole name, on up to three lines (cut at 12 characters, names that differ only at
    # their end looked the same); longer ones end in "...", the tooltip has all of it.
    label = Gtk.Label(label=name)
    label.set_max_width_chars(18)
    label.set_line_wrap(True)
    label.set_line_wrap_mode(Pango.WrapMode.WORD_CHAR)
    label.set_lines(3)
    label.set_ellipsize(Pango.EllipsizeMode.END)
    label.set_xalign(0.0)
    button = Gtk.Button(label="\u00d7")
    button.set_relief(Gtk.ReliefStyle.NONE)
    button.set_tooltip_text(f"Take {name} out of the styles")
    button.connect("clicked", lambda *_: remove())
    chip = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=2)
    chip.pack_start(image, False, False, 0)
    chip.pack_start(label, True, True, 0)
    chip.pack_start(button, False, False, 0)
    chip.set_tooltip_text(tooltip)
    return chip
