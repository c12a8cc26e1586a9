"""A synthetic clip for the clips tests: a textured square moving over a textured background."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter


def texture(w: int, h: int, seed: int) -> np.ndarray:
    """Smooth random texture, uint8 RGB: enough structure everywhere for optical flow."""
    rng = np.random.default_rng(seed)
    layers = []
    for sigma in (1.5, 4.0):  # fine and coarse structure, as a pyramid of flow needs
        noise = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        blurred = np.asarray(noise.filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32)
        layers.append((blurred - blurred.mean()) / (blurred.std() + 1e-6))
    return np.clip(128 + 40 * (layers[0] + layers[1]), 0, 255).astype(np.uint8)


def moving_square(
    frames: int = 4, size: int = 64, side: int = 20, step: int = 3
) -> list[np.ndarray]:
    """`frames` frames of size x size: a static background and a square of `side` px moving
    right by `step` px a frame."""
    back = texture(size, size, 1)
    square = texture(side, side, 2) // 2 + 100
    y = (size - side) // 2
    clip = []
    for t in range(frames):
        frame = back.copy()
        x = size // 4 + t * step
        frame[y : y + side, x : x + side] = square
        clip.append(frame)
    return clip
