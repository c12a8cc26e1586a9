"""Finding pictures on a screenshot, for the GUI tests: where does the dialog show a swatch?

The palette shows each 128 px swatch at half size. GdkPixbuf's bilinear filter averages 2x2
blocks when it halves a picture, like Pillow's BOX filter, so the test's own half-size copy
matches what is on the screen to within rounding. Each copy is found by the least mean squared
difference over all positions, computed with FFTs (a few seconds for 26 pictures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

MATCH_MSE = 60.0  # mean squared difference (0..255 per sample) below which a picture is "shown"


@dataclass(frozen=True)
class Match:
    x: int  # top-left corner on the screenshot
    y: int
    mse: float

    def centre(self, size: tuple[int, int]) -> tuple[int, int]:
        return self.x + size[0] // 2, self.y + size[1] // 2


def _window_sums(values: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of `values` over every h x w window (top-left anchored), by an integral image."""
    table = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]


def locate(screen: Image.Image, pictures: list[Image.Image]) -> list[Match]:
    """The best position of each picture on `screen` (all RGB), with its mean squared error."""
    s = np.asarray(screen.convert("RGB"), dtype=np.float64)
    height, width = s.shape[:2]
    spectra = [np.fft.rfft2(s[..., c]) for c in range(3)]
    squares = _window_sums((s**2).sum(axis=2), *pictures[0].size[::-1])
    found = []
    for picture in pictures:
        t = np.asarray(picture.convert("RGB"), dtype=np.float64)
        th, tw = t.shape[:2]
        if picture.size != pictures[0].size:
            squares = _window_sums((s**2).sum(axis=2), th, tw)
        corr = np.zeros((height, width))
        for c in range(3):
            padded = np.zeros((height, width))
            padded[:th, :tw] = t[..., c]
            corr += np.fft.irfft2(spectra[c] * np.conj(np.fft.rfft2(padded)), s=(height, width))
        valid = corr[: height - th + 1, : width - tw + 1]
        ssd = squares - 2 * valid + (t**2).sum()
        y, x = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
        found.append(Match(int(x), int(y), float(ssd[y, x]) / t.size))
    return found


def half(picture: Image.Image) -> Image.Image:
    """A swatch as the palette shows it (palette.SHOWN = 64 for the daemon's 128 px)."""
    w, h = picture.size
    return picture.resize((w // 2, h // 2), Image.Resampling.BOX)
