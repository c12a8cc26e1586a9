"""Pixel buffers on the wire: raw frames that the header describes.

Images never travel inside msgpack: a header field holds a small descriptor (frame index, size,
channel layout, sample type) and the pixels follow as their own ZeroMQ frame, so a 4096x4096 RGBA
layer is sent and received without being copied into or out of a serializer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .constants import E_INVALID_FIELD, E_MISSING_FIELD
from .errors import ProtocolError

# Sample types: name -> bytes per sample. Multi-byte samples are little-endian; f32 is 0..1.
DTYPES = {"u8": 1, "u16": 2, "f32": 4}
# Channel layouts: the letters give the order of interleaved channels in each pixel.
LAYOUTS = ("L", "LA", "RGB", "RGBA", "BGR", "BGRA")
MAX_SIDE = 65535

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Pixels:
    """An image as raw interleaved samples, rows top to bottom, no padding between rows."""

    width: int
    height: int
    data: Buffer
    layout: str = "RGBA"
    dtype: str = "u8"

    @property
    def channels(self) -> int:
        return len(self.layout)

    @property
    def nbytes(self) -> int:
        return self.width * self.height * self.channels * DTYPES[self.dtype]

    def descriptor(self, frame: int) -> dict[str, Any]:
        return {
            "frame": frame,
            "width": self.width,
            "height": self.height,
            "channels": self.channels,
            "layout": self.layout,
            "dtype": self.dtype,
        }

    # Conveniences for scripts. Pillow is imported here and only here, so the package itself
    # needs nothing but pyzmq and msgpack (plugins build Pixels from their host's buffers).
    @classmethod
    def from_pil(cls, image: Any) -> Pixels:
        """From a Pillow image: RGBA when it has alpha, L for grey masks, RGB otherwise."""
        mode = image.mode
        if mode not in ("L", "LA", "RGB", "RGBA"):
            has_alpha = "A" in mode or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
        return cls(image.width, image.height, image.tobytes(), image.mode, "u8")

    @classmethod
    def open(cls, path: Any) -> Pixels:
        """Read an image file (any format Pillow reads), in its EXIF orientation."""
        from PIL import Image, ImageOps

        with Image.open(path) as image:
            return cls.from_pil(ImageOps.exif_transpose(image))

    def to_pil(self) -> Any:
        """A Pillow image of 8-bit pixels (the daemon's results and previews are u8)."""
        from PIL import Image

        if self.dtype != "u8":
            raise ValueError(f"to_pil needs u8 samples, not {self.dtype}")
        layout = self.layout
        mode = {"BGR": "RGB", "BGRA": "RGBA"}.get(layout, layout)
        return Image.frombytes(mode, (self.width, self.height), bytes(self.data), "raw", layout)


class DataFrames:
    """The data frames of a message being built: each image put in takes the next frame, and
    its descriptor says which."""

    def __init__(self) -> None:
        self.frames: list[Buffer] = []

    def put(self, p: Pixels) -> dict[str, Any]:
        self.frames.append(p.data)
        return p.descriptor(len(self.frames) - 1)


def read_pixels(
    body: dict[str, Any], name: str, frames: Sequence[Buffer], used: set[int]
) -> Pixels | None:
    """The image that body[name] describes, checked against its frame. None when absent."""
    desc = body.get(name)
    if desc is None:
        return None
    return pixels_from_descriptor(desc, frames, used, name)


def check_all_described(frames: Sequence[Buffer], used: set[int]) -> None:
    """Every data frame of a request was described by one of its image fields."""
    if len(used) != len(frames):
        raise ProtocolError(
            E_INVALID_FIELD, f"{len(frames)} frames sent but {len(used)} described", "frames"
        )


def pixels_from_descriptor(
    desc: Any, frames: Sequence[Buffer], used: set[int], field: str
) -> Pixels:
    if not isinstance(desc, dict):
        raise ProtocolError(E_INVALID_FIELD, "expected an image descriptor (a map)", field)

    def need(key: str) -> Any:
        if key not in desc:
            raise ProtocolError(E_MISSING_FIELD, f"image descriptor lacks {key!r}", field)
        return desc[key]

    index = need("frame")
    width, height = need("width"), need("height")
    layout, dtype = need("layout"), desc.get("dtype", "u8")
    for key, value in (("frame", index), ("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(E_INVALID_FIELD, f"{key} must be an integer", field)
    if not 1 <= width <= MAX_SIDE or not 1 <= height <= MAX_SIDE:
        raise ProtocolError(
            E_INVALID_FIELD, f"size {width}x{height} is outside 1..{MAX_SIDE} per side", field
        )
    if layout not in LAYOUTS:
        raise ProtocolError(
            E_INVALID_FIELD, f"layout {layout!r} is not one of {', '.join(LAYOUTS)}", field
        )
    if not isinstance(dtype, str) or dtype not in DTYPES:  # a list would raise TypeError
        raise ProtocolError(
            E_INVALID_FIELD, f"dtype {dtype!r} is not one of {', '.join(DTYPES)}", field
        )
    channels = desc.get("channels", len(layout))
    if channels != len(layout):
        raise ProtocolError(
            E_INVALID_FIELD,
            f"channels is {channels!r} but layout {layout} has {len(layout)}",
            field,
        )
    if not 0 <= index < len(frames):
        raise ProtocolError(
            E_INVALID_FIELD, f"frame {index} does not exist ({len(frames)} frames sent)", field
        )
    if index in used:
        raise ProtocolError(E_INVALID_FIELD, f"frame {index} is already used", field)
    used.add(index)
    data = frames[index]
    pixels = Pixels(width, height, data, layout, dtype)
    if len(data) != pixels.nbytes:
        raise ProtocolError(
            E_INVALID_FIELD,
            f"{width}x{height} {layout} {dtype} needs {pixels.nbytes} bytes "
            f"but frame {index} holds {len(data)}",
            field,
        )
    return pixels
