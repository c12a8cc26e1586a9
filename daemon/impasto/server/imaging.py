"""Wire pixel buffers to sample arrays for the engine, and the engine's pictures back to wire
buffers in the sample type the client asked for. Runs on the worker thread, never the loop.

No Pillow here and no rounding to 8 bits on the way in: a u16 or f32 layer reaches the engine
with all its levels, as a numpy view of the received frame (a copy only to reorder BGR).
"""

from __future__ import annotations

import numpy as np

from impasto_protocol.pixels import Pixels

_NUMPY_DTYPES: dict[str, np.dtype] = {
    "u8": np.dtype(np.uint8),
    "u16": np.dtype("<u2"),
    "f32": np.dtype("<f4"),
}
_MAX_SAMPLE = {"u8": 255.0, "u16": 65535.0}
# Where each channel of a layout is found in an RGB (or RGBA) array.
_FROM_RGBA = {"RGB": [0, 1, 2], "RGBA": [0, 1, 2, 3], "BGR": [2, 1, 0], "BGRA": [2, 1, 0, 3]}


def to_array(p: Pixels) -> np.ndarray:
    """H x W x C samples (uint8, uint16 or float32) in L, LA, RGB or RGBA order: a read-only
    view of the frame for L, LA, RGB and RGBA; a reordered copy for BGR and BGRA."""
    a = np.frombuffer(p.data, dtype=_NUMPY_DTYPES[p.dtype]).reshape(p.height, p.width, p.channels)
    if p.layout.startswith("BGR"):
        a = a[..., _FROM_RGBA[p.layout]]
    return a


def to_float(p: Pixels) -> np.ndarray:
    """H x W x C float32 samples in 0..1 (NaN as 0), in L, LA, RGB or RGBA order."""
    a = to_array(p)
    if p.dtype == "f32":
        return np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0).astype(np.float32)
    return a.astype(np.float32) / np.float32(_MAX_SAMPLE[p.dtype])


def to_pixels(image: np.ndarray, layout: str, dtype: str) -> Pixels:
    """Encode H x W x 3 (RGB) or x 4 (RGBA) float samples in 0..1 as `layout` and `dtype`.
    Asked-for alpha that the picture lacks is opaque; alpha it has but the layout lacks is
    dropped."""
    h, w, c = image.shape
    order = _FROM_RGBA[layout]
    needs_alpha = len(order) == 4 and c == 3
    out = image[..., order[:3] if needs_alpha else order]  # a new array, ours to scale in place
    if needs_alpha:
        out = np.concatenate([out, np.ones((h, w, 1), np.float32)], axis=2)
    if dtype == "f32":
        samples = out.astype("<f4", copy=False)
    else:
        out *= _MAX_SAMPLE[dtype]
        np.rint(out, out=out)
        samples = out.astype(_NUMPY_DTYPES[dtype])
    # A flat byte view, not a copy: the frame is sent from the array's own memory.
    return Pixels(w, h, samples.reshape(-1).view(np.uint8).data, layout, dtype)


def result_layout(requested: str | None, content: Pixels) -> str:
    if requested:
        return requested
    return "RGBA" if content.layout in ("LA", "RGBA", "BGRA") else "RGB"
