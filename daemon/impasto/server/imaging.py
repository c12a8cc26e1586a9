"""Wire pixel buffers to Pillow images and back. Runs on the worker thread, never the loop."""

from __future__ import annotations

import numpy as np
from PIL import Image

from impasto_protocol.pixels import Pixels

_MODES = {"L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA", "BGR": "RGB", "BGRA": "RGBA"}


def to_pil(p: Pixels) -> Image.Image:
    """8-bit Pillow image of a wire buffer. u16 and f32 samples are rounded to 8 bits, which is
    what the engine works from (its results are 8-bit too)."""
    mode = _MODES[p.layout]
    if p.dtype == "u8":
        # One copy, from the received frame into Pillow's own storage.
        return Image.frombytes(mode, (p.width, p.height), p.data, "raw", p.layout)  # type: ignore[arg-type]
    if p.dtype == "u16":
        a = np.frombuffer(p.data, dtype="<u2").astype(np.float32) / 257.0
    else:
        a = np.nan_to_num(np.frombuffer(p.data, dtype="<f4"), nan=0.0) * 255.0
    a = np.clip(np.rint(a), 0, 255).astype(np.uint8).reshape(p.height, p.width, p.channels)
    if p.layout.startswith("BGR"):
        a = a[..., [2, 1, 0, *range(3, p.channels)]]
    return Image.fromarray(a[..., 0] if p.channels == 1 else a)


def from_pil(image: Image.Image, layout: str) -> Pixels:
    """Encode a delivered 8-bit image in the layout the client asked for."""
    mode = _MODES[layout]
    if image.mode != mode:
        image = image.convert(mode)
    return Pixels(image.width, image.height, image.tobytes("raw", layout), layout, "u8")


def result_layout(requested: str | None, content: Pixels) -> str:
    if requested:
        return requested
    return "RGBA" if content.layout in ("LA", "RGBA", "BGRA") else "RGB"
