"""The GIMP side of a job: which pixels to send, in which format, and the result layer.

All access to GIMP's image API lives here, so job.py and the dialog deal only
in Pixels and rectangles. The source drawable is only ever read.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

from impasto_protocol import Pixels  # noqa: E402
from impasto_protocol.region import Region  # noqa: E402

log = logging.getLogger(__name__)

RESULT_NAME = "Style transfer"
# Carried by the layer's name while previews are written into it, dropped when the result lands:
# a plug-in killed by GIMP's own Cancel (SIGKILL, no cleanup) leaves a layer that says so.
UNFINISHED = " (unfinished)"


class HostError(ValueError):
    """The image or a setting cannot be used as it is; the message is one line for the user."""


@dataclass(frozen=True)
class SourceFormat:
    """How the source's pixels are read: a babl format and the protocol's matching sample
    type. Every precision travels as it is (u16 or f32 rather than truncated in GIMP), and the
    result comes back in the same sample type."""

    babl: str
    layout: str
    dtype: str


_BABL_TYPE = {"u8": "u8", "u16": "u16", "f32": "float"}


def source_format(image: Gimp.Image, drawable: Gimp.Drawable) -> SourceFormat:
    """Check the colour model and pick the read format; HostError for what cannot be sent."""
    base = image.get_base_type()
    if base != Gimp.ImageBaseType.RGB:
        mode = "grayscale" if base == Gimp.ImageBaseType.GRAY else "indexed"
        raise HostError(
            f"Style Transfer works on RGB images and this one is {mode}: "
            "convert it with Image > Mode > RGB first"
        )
    if not isinstance(drawable, Gimp.Layer):
        raise HostError("Style Transfer works on a layer, not on a channel or a layer mask")
    name = image.get_precision().value_nick  # e.g. "u8-non-linear", "half-perceptual"
    if name.startswith("u8"):
        dtype = "u8"
    elif name.startswith(("u16", "u32")):
        dtype = "u16"  # (u32: 65536 levels are more than a stylized picture holds)
    else:
        dtype = "f32"  # half, float, double: clamped to 0..1 by the daemon
    alpha = drawable.has_alpha()
    layout = "RGBA" if alpha else "RGB"
    babl = f"R'G'B'{'A' if alpha else ''} {_BABL_TYPE[dtype]}"
    return SourceFormat(babl, layout, dtype)


def region(image: Gimp.Image, drawable: Gimp.Drawable, padding: int) -> Region:
    """The selection's bounds on `drawable` (drawable coordinates) plus `padding` pixels of
    context (negative: the shared policy's, as in Krita), clipped to the drawable, or the whole
    drawable when nothing is selected."""
    whole = Region.whole(drawable.get_width(), drawable.get_height())
    if Gimp.Selection.is_empty(image):
        return whole
    found, x, y, w, h = drawable.mask_intersect()
    if not found or w <= 0 or h <= 0:
        raise HostError("the selection does not overlap the layer: select inside it, or nothing")
    return Region(x, y, w, h).around(whole, padding)


def _rect(x: int, y: int, w: int, h: int) -> Gegl.Rectangle:
    return Gegl.Rectangle.new(x, y, w, h)


def read(drawable: Gimp.Drawable, where: Region, fmt: SourceFormat) -> Pixels:
    buffer = drawable.get_buffer()
    rect = _rect(where.x, where.y, where.width, where.height)
    data = bytes(buffer.get(rect, 1.0, fmt.babl, Gegl.AbyssPolicy.CLAMP))
    return Pixels(where.width, where.height, data, fmt.layout, fmt.dtype)


def selection_mask(image: Gimp.Image, drawable: Gimp.Drawable, where: Region) -> Pixels | None:
    """The selection over the region sent, as the engine's mask (L u8, 255 stylized), as
    Krita sends it: the engine's style statistics then come from the selected pixels only,
    not from the context around them. None without a selection."""
    if Gimp.Selection.is_empty(image):
        return None
    _, ox, oy = drawable.get_offsets()  # the selection is in image coordinates
    rect = _rect(ox + where.x, oy + where.y, where.width, where.height)
    buffer = image.get_selection().get_buffer()
    data = bytes(buffer.get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE))
    return Pixels(where.width, where.height, data, "L", "u8")


def layer_pixels(layer: Gimp.Drawable) -> Pixels:
    """A whole layer as 8-bit RGB: a style image (its alpha carries no style)."""
    if not isinstance(layer, Gimp.Layer):
        raise HostError("the style source must be a layer")
    w, h = layer.get_width(), layer.get_height()
    data = bytes(
        layer.get_buffer().get(_rect(0, 0, w, h), 1.0, "R'G'B' u8", Gegl.AbyssPolicy.CLAMP)
    )
    return Pixels(w, h, data, "RGB", "u8")


def file_pixels(path: str) -> Pixels:
    """An image file, loaded by GIMP itself (every format GIMP reads), flattened to RGB."""
    gfile = Gio.File.new_for_path(path)
    if not gfile.query_exists(None):
        raise HostError(f"style image {path} does not exist")
    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    except Exception as exc:  # GLib.Error from the loader
        raise HostError(f"GIMP cannot open the style image {path}: {exc}") from None
    if loaded is None:
        raise HostError(f"GIMP cannot open the style image {path}")
    try:
        return layer_pixels(loaded.flatten())
    finally:
        loaded.delete()


@contextlib.contextmanager
def same_selected_layers(image: Gimp.Image) -> Iterator[list[Gimp.Layer]]:
    """The layers selected before, selected again after: adding a layer selects it, and
    removing it selects another (the one now on top), so a cancelled or failed run would
    leave a different layer active than the user had. The caller empties the list it gets
    to keep the new selection (a finished result stays selected)."""
    selected = list(image.get_selected_layers())
    try:
        yield selected
    finally:
        kept = [layer for layer in selected if layer.is_valid()]
        if kept:
            image.set_selected_layers(kept)


def result_name(source: Gimp.Layer) -> str:
    return f"{RESULT_NAME} of {source.get_name()}"


def _siblings(image: Gimp.Image, source: Gimp.Layer) -> list[Gimp.Layer]:
    parent = source.get_parent()
    return list(parent.get_children() if parent is not None else image.get_layers())


def remove_leftovers(image: Gimp.Image, source: Gimp.Layer) -> list[str]:
    """Remove an earlier run's unfinished layer of this source, what a run that GIMP killed
    leaves (GIMP's own Cancel in the status bar kills the plug-in before it can clean up), as
    one undo step of its own; the names removed."""
    name = result_name(source)
    found = [
        layer
        for layer in _siblings(image, source)
        if layer.get_name().startswith(name) and UNFINISHED in layer.get_name()
    ]
    if not found:
        return []
    names = [layer.get_name() for layer in found]  # (a removed layer has no name to ask)
    image.undo_group_start()
    try:
        for layer in found:
            image.remove_layer(layer)
    finally:
        image.undo_group_end()
    return names


def put_pixels(layer: Gimp.Layer, w: int, h: int, pixels: Pixels) -> None:
    """Write `pixels` (RGB or RGBA of any sample type) into the w x h `layer`, resampled by
    GEGL when the daemon sent another size: a preview (downscaled to preview_size), or a
    result of a smaller processing size."""
    if pixels.layout not in ("RGB", "RGBA") or pixels.dtype not in _BABL_TYPE:
        raise HostError(f"the daemon sent {pixels.layout} {pixels.dtype}, not RGB(A)")
    fmt = f"R'G'B'{'A' if pixels.layout == 'RGBA' else ''} {_BABL_TYPE[pixels.dtype]}"
    data = bytes(pixels.data)
    if (pixels.width, pixels.height) != (w, h):
        small = Gegl.Buffer.new(fmt, 0, 0, pixels.width, pixels.height)
        small.set(_rect(0, 0, pixels.width, pixels.height), fmt, data)
        scale = w / pixels.width
        data = bytes(small.get(_rect(0, 0, w, h), scale, fmt, Gegl.AbyssPolicy.CLAMP))
    buffer = layer.get_buffer()
    buffer.set(_rect(0, 0, w, h), fmt, data)
    buffer.flush()


class ResultLayer:
    """A new layer that previews and the result are written into, on top of the layers
    beside the source (the source's group or the image), so nothing covers it.

    It covers the region sent; with a selection it gets a layer mask made from it, so pixels
    outside the selection show the untouched source below (and stay editable: the mask can be
    painted on later). Its name ends in UNFINISHED until `finish` writes the result."""

    def __init__(self, image: Gimp.Image, source: Gimp.Layer, where: Region) -> None:
        self.image = image
        self.where = where
        self.name = result_name(source)
        layer = Gimp.Layer.new(
            image,
            self.name + UNFINISHED,
            where.width,
            where.height,
            Gimp.ImageType.RGBA_IMAGE,
            100.0,
            Gimp.LayerMode.NORMAL,
        )
        # On top of the source's stack (its group's, or the image's): right above the source
        # it would be hidden under any opaque layer there, an earlier result the user renamed
        # or a layer of paint alike, and the previews and result would never show.
        image.insert_layer(layer, source.get_parent(), 0)
        _, ox, oy = source.get_offsets()
        layer.set_offsets(ox + where.x, oy + where.y)
        if not Gimp.Selection.is_empty(image):
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
        self.layer = layer
        self.writes = 0

    def hidden_by(self) -> list[str]:
        """What keeps this layer off the canvas: the visible layers stacked above it beside
        it, and "(itself)" when it is switched off. Empty for a preview the user sees."""
        siblings = _siblings(self.image, self.layer)
        above = siblings[: self.image.get_item_position(self.layer)]
        names = [layer.get_name() for layer in above if layer.get_visible()]
        return names + ([] if self.layer.get_visible() else ["(itself)"])

    def write(self, pixels: Pixels) -> None:
        """Show `pixels` (a u8 preview, or the result in the sample type the submit asked for:
        the source's own, so a 16-bit image gets 16-bit levels back) in the layer, scaled to
        the region when the daemon sent a smaller image, and push it to the canvas at once."""
        w, h = self.where.width, self.where.height
        put_pixels(self.layer, w, h, pixels)
        self.layer.update(0, 0, w, h)
        Gimp.displays_flush()
        self.writes += 1

    def finish(self, pixels: Pixels) -> None:
        """Write the final result and drop the "(unfinished)" mark from the name. With a
        layer mask, the layer itself is left the active drawable, not its mask: GIMP greys
        out Filters > Repeat and Re-Show on a mask (a grey drawable this filter refuses)."""
        self.write(pixels)
        self.layer.set_name(self.name)
        if self.layer.get_mask() is not None:
            self.layer.set_edit_mask(False)

    def remove(self) -> None:
        self.image.remove_layer(self.layer)
