"""An animation's frames in GIMP's terms: layers as frames, read from the image and written
into a new one (the source image is only ever read).

GIMP animates with one top-level layer per frame, the bottom layer first, each frame's timing in
its name ("Frame 3 (100ms)", "(combine)"/"(replace)"): what its GIF and WebP export read. So the
result keeps every frame's name, in the same order, and plays as the source did.
"""

from __future__ import annotations

from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

from impasto_protocol import Pixels  # noqa: E402

from . import layers  # noqa: E402

# Every frame travels as 8-bit RGBA: a clip's results come back as u8 (protocol 1.7), and the
# alpha keeps what lies outside a smaller layer transparent in the result too.
FRAME_FORMAT = "R'G'B'A u8"
MIN_FRAMES = 2


@dataclass(frozen=True)
class Frame:
    """One frame: the layer's name (its timing with it) and its pixels at the image's size."""

    name: str
    pixels: Pixels


def frame_layers(image: Gimp.Image) -> list[Gimp.Layer]:
    """The image's top-level layers, bottom (the first frame) to top; HostError for fewer
    than two, which is a picture, not an animation."""
    found = list(reversed(image.get_layers()))
    if len(found) < MIN_FRAMES:
        raise layers.HostError(
            f"an animation needs at least {MIN_FRAMES} frames, one layer each, and this image "
            f"has {len(found)} layer{'' if len(found) == 1 else 's'}: use Style Transfer for "
            "a single picture"
        )
    return found


def read_frame(image: Gimp.Image, layer: Gimp.Layer) -> Frame:
    """A layer's pixels where they lie on the image's canvas: a smaller or offset layer on
    transparency, whatever lies outside the image cut off. A layer group's buffer is its
    projection, so a group is one frame as GIMP shows it."""
    width, height = image.get_width(), image.get_height()
    _, ox, oy = layer.get_offsets()
    # The image's rectangle in the layer's coordinates; outside the layer the abyss is empty.
    rect = Gegl.Rectangle.new(-ox, -oy, width, height)
    data = bytes(layer.get_buffer().get(rect, 1.0, FRAME_FORMAT, Gegl.AbyssPolicy.NONE))
    return Frame(layer.get_name(), Pixels(width, height, data, "RGBA", "u8"))


def read_frames(image: Gimp.Image) -> list[Frame]:
    return [read_frame(image, layer) for layer in frame_layers(image)]


def new_animation(source: Gimp.Image, frames: list[Frame]) -> Gimp.Image:
    """A new RGB image of the source's size and resolution holding `frames` as layers, the
    first at the bottom, each named as given. Undo is off while it is built: a new image's
    history would only hold its own making."""
    width, height = source.get_width(), source.get_height()
    image = Gimp.Image.new(width, height, Gimp.ImageBaseType.RGB)
    image.undo_disable()
    _, xres, yres = source.get_resolution()
    image.set_resolution(xres, yres)
    for frame in frames:
        layer = Gimp.Layer.new(
            image, frame.name, width, height, Gimp.ImageType.RGBA_IMAGE, 100.0,
            Gimp.LayerMode.NORMAL,
        )  # fmt: skip
        image.insert_layer(layer, None, 0)  # above the frames before it
        layers.put_pixels(layer, width, height, frame.pixels)
    image.undo_enable()
    return image
