"""Pixel work on QImage: scaling previews, feathered selection masks, sample conversions.

Plug-ins cannot count on numpy or Pillow inside Krita, and a Python loop over every pixel of a
large layer takes seconds. QImage does the per-pixel work in C++: building images from buffers,
smooth scaling (which doubles as a blur for feathering) and alpha compositing. What QImage cannot
do is done with bytes slicing and bytes.translate, which also run in C.

Buffers here are BGRA with straight (not premultiplied) alpha: 8-bit, the byte order of
QImage.Format.Format_ARGB32 on little-endian machines and of Krita's 8-bit RGBA layers, or 16-bit,
Krita's 16-bit RGBA layers, which QImage.Format.Format_RGBA64 scales and composites as they are
(it reads the channels as R, G, B, A, but scaling treats every colour channel alike, and alpha
is the fourth in both).
"""

from __future__ import annotations

import sys
from pathlib import Path

from impasto_protocol import Pixels

from .qt import QColor, QImage, QPainter, Qt

if sys.byteorder != "little":  # ARGB32 is B, G, R, A in memory only on little-endian machines
    raise ImportError("impasto_krita needs a little-endian machine")

# 2a - 255, clamped: the blurred selection's alpha is 128 at the selection's edge and 255 at one
# feather radius inside it, so this ramp is 0 at the edge and 255 a radius in (feather inside).
_INNER_RAMP = bytes(max(0, min(255, 2 * a - 255)) for a in range(256))


def from_bgra(data: bytes | bytearray | memoryview, width: int, height: int) -> QImage:
    """A QImage that owns a copy of the pixels (QImage would otherwise point into `data`)."""
    return QImage(bytes(data), width, height, width * 4, QImage.Format.Format_ARGB32).copy()


def from_rgb(data: bytes | bytearray | memoryview, width: int, height: int) -> QImage:
    """An RGB u8 picture (the daemon's preset swatches) as a QImage that owns its pixels; rows
    of 3-byte pixels are not 4-byte aligned, hence the explicit stride."""
    return QImage(bytes(data), width, height, width * 3, QImage.Format.Format_RGB888).copy()


def to_bgra(image: QImage) -> bytes:
    """Straight-alpha BGRA rows without padding (4-byte pixels never need row padding)."""
    if image.format() != QImage.Format.Format_ARGB32:
        image = image.convertToFormat(QImage.Format.Format_ARGB32)
    return image.constBits().asstring(image.sizeInBytes())


def scaled(image: QImage, width: int, height: int) -> QImage:
    """`image` at exactly width x height (previews come at the daemon's preview size)."""
    if image.width() == width and image.height() == height:
        return image
    out = image.scaled(
        width,
        height,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    return out.convertToFormat(QImage.Format.Format_ARGB32)


def fit(image: QImage, side: int) -> QImage:
    """`image` with its longer side `side` (aspect kept), in ARGB32."""
    out = image.scaled(
        side,
        side,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    return out.convertToFormat(QImage.Format.Format_ARGB32)


def framed(image: QImage, color: QColor, width: int) -> QImage:
    """A copy of `image` inside a frame `width` px wide of `color`."""
    out = image.copy()
    w, h = out.width(), out.height()
    painter = QPainter(out)
    for x, y, fw, fh in ((0, 0, w, width), (0, h - width, w, width),
                         (0, 0, width, h), (w - width, 0, width, h)):  # fmt: skip
        painter.fillRect(x, y, fw, fh, color)
    painter.end()
    return out


def alpha_image(alpha: bytes, width: int, height: int) -> QImage:
    """An image whose alpha channel is `alpha` (one byte per pixel), for compositing."""
    buf = bytearray(width * height * 4)
    buf[3::4] = alpha
    return from_bgra(buf, width, height)


def alpha_of(image: QImage) -> bytes:
    return to_bgra(image)[3::4]


def multiply_alpha(image: QImage, mask: QImage) -> None:
    """image.alpha *= mask.alpha / 255, in place; colours are kept where the result is opaque."""
    painter = QPainter(image)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
    painter.drawImage(0, 0, mask)
    painter.end()


def feather_radius(width: int, height: int) -> int:
    """Soft enough to hide the seam, small enough to leave narrow selections stylized."""
    return max(0, min(16, round(min(width, height) / 16)))


def feathered_mask(selection: bytes, width: int, height: int, radius: int) -> QImage:
    """The selection (one byte per pixel) with its edge softened INSIDE the selection only:
    wherever the selection is 0 the mask is 0, so pixels outside it never change."""
    base = alpha_image(selection, width, height)
    if radius < 1:
        return base
    # Smooth down- then up-scaling is a box blur followed by a bilinear one, done in C++.
    small = base.scaled(
        max(1, width // radius),
        max(1, height // radius),
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    blurred = scaled(small, width, height)
    mask = alpha_image(alpha_of(blurred).translate(_INNER_RAMP), width, height)
    multiply_alpha(mask, base)  # x selection: exactly 0 outside, the selection's own softness
    return mask


# Sample type -> the QImage format that holds BGRA pixels of it, and bytes per pixel.
_DEEP_FORMATS = {
    "u8": (QImage.Format.Format_ARGB32, 4),
    "u16": (QImage.Format.Format_RGBA64, 8),
}


def fitted(pixels: Pixels, width: int, height: int, mask: QImage | None) -> bytes:
    """A preview or result (BGRA, u8 or u16) as the bytes of a width x height area: scaled
    (a preview comes smaller), masked by the feathered selection, and nothing else.

    This runs on the UI thread for every preview, so it keeps to one image: QImage views the
    received frame without a copy, scaling makes the one new image (premultiplied, which the
    mask composites onto in place), and one conversion back to straight alpha gives the bytes.
    """
    fmt, pixel_bytes = _DEEP_FORMATS[pixels.dtype]
    data = bytes(pixels.data)  # the same object when the frame is bytes already
    image = QImage(data, pixels.width, pixels.height, pixels.width * pixel_bytes, fmt)
    if (pixels.width, pixels.height) != (width, height):
        image = image.scaled(
            width,
            height,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        if pixels.dtype == "u16" and _opaque_u16(data):
            # Qt's 16-bit smooth scaling leaves an opaque picture at alpha 65533 (0xFFFD).
            image = _opaque(image.convertToFormat(fmt))
    if mask is not None:
        multiply_alpha(image, mask)  # (an unscaled view is copied here, not the frame written)
    if image.format() != fmt:
        image = image.convertToFormat(fmt)
    return image.constBits().asstring(image.sizeInBytes())


def _opaque_u16(bgra: bytes) -> bool:
    """Whether every pixel of 16-bit BGRA is opaque (alpha 65535: both of its bytes 255)."""
    low, high = bgra[6::8], bgra[7::8]
    return low.count(255) == len(low) == high.count(255)


def _opaque(image: QImage) -> QImage:
    """A 16-bit straight-alpha image with its alpha set to 65535 everywhere, exactly."""
    data = bytearray(image.constBits().asstring(image.sizeInBytes()))
    data[6::8] = data[7::8] = b"\xff" * (len(data) // 8)
    w, h = image.width(), image.height()
    return QImage(bytes(data), w, h, w * 8, QImage.Format.Format_RGBA64).copy()


def widen_to_u16(samples: bytes) -> bytes:
    """8-bit samples as little-endian 16-bit ones: v * 257 is the bytes (v, v)."""
    out = bytearray(len(samples) * 2)
    out[0::2] = samples
    out[1::2] = samples
    return bytes(out)


def gray_alpha(bgra: bytes, width: int, height: int, dtype: str = "u8") -> bytes:
    """BGRA to interleaved grey + alpha, for grayscale layers: 8-bit, or 16-bit (Krita's 16-bit
    grey layers, whose results come in 16 bits). QImage takes the luma in C++; its 16-bit
    formats read the channels as R, G, B, so they are swapped back first."""
    if dtype == "u16":
        size = 2  # bytes per sample
        colour = QImage(bytes(bgra), width, height, width * 8, QImage.Format.Format_RGBX64)
        gray = colour.rgbSwapped().convertToFormat(QImage.Format.Format_Grayscale16)
    else:
        size = 1
        colour = QImage(bytes(bgra), width, height, width * 4, QImage.Format.Format_RGB32)
        gray = colour.convertToFormat(QImage.Format.Format_Grayscale8)
    row = width * size
    stride = gray.bytesPerLine()  # rows are padded to 4 bytes
    raw = gray.constBits().asstring(gray.sizeInBytes())
    values = b"".join(raw[y * stride : y * stride + row] for y in range(height))
    out = bytearray(width * height * 2 * size)
    for byte in range(size):  # each sample's bytes: grey, then alpha (the fourth of BGRA's)
        out[byte :: 2 * size] = values[byte::size]
        out[size + byte :: 2 * size] = bgra[3 * size + byte :: 4 * size]
    return bytes(out)


def load_style_file(path: str, max_side: int) -> Pixels:
    """A style image file as BGRA pixels, its longer side at most `max_side`: the daemon scales
    styles to the output anyway, so sending a 6000 px photo would only cost time."""
    image = QImage(path)
    if image.isNull():
        raise ValueError(f"cannot read the style image {path} (missing, or not an image)")
    if max(image.width(), image.height()) > max_side:
        image = image.scaled(
            max_side,
            max_side,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    return Pixels(image.width(), image.height(), to_bgra(image), "BGRA", "u8")


def style_name(path: str) -> str:
    return Path(path).stem
