"""Conversions between Pillow images and the engine's tensors, and resizing.

Inside the engine an image is a float32 tensor (1, 3, H, W), RGB, 0..1; alpha travels beside it
as (1, 1, H, W). Pillow does file I/O and colour-mode conversion; torch does the resampling.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


class ImageError(ValueError):
    """An input image cannot be used (empty, unsupported mode, wrong size)."""


def _float_array(image: Image.Image) -> np.ndarray:
    """H x W x C float32 in 0..1, for every Pillow mode we accept (8 and 16 bit, float, palette)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: Pillow keeps it as 32-bit ints in 0..65535.
        arr = np.asarray(image.convert("I"), dtype=np.float32) / 65535.0
        return np.clip(arr, 0.0, 1.0)[..., None]
    if mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)[..., None]
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1-bit
    arr = np.asarray(image, dtype=np.float32) / 255.0
    return arr[..., None] if arr.ndim == 2 else arr


def to_tensor(image: Image.Image) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(rgb, alpha): grey becomes three equal channels; alpha is None for opaque modes."""
    if image.width < 1 or image.height < 1:
        raise ImageError("image is empty (0 pixels)")
    arr = _float_array(image)
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0)
    channels = t.shape[1]
    alpha = t[:, channels - 1 :] if channels in (2, 4) else None
    rgb = t[:, : 3 if channels >= 3 else 1]
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    return rgb.contiguous(), None if alpha is None else alpha.contiguous()


def to_mask(image: Image.Image) -> torch.Tensor:
    """A mask image as (1, 1, H, W) weights in 0..1: white (and opaque) means stylize."""
    rgb, alpha = to_tensor(image)
    grey = rgb.mean(dim=1, keepdim=True)
    return grey if alpha is None else grey * alpha


def to_image(rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """8-bit RGB or RGBA Pillow image from 0..1 tensors."""
    t = rgb if alpha is None else torch.cat([rgb, alpha.to(rgb)], dim=1)
    arr = (t[0].detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    arr_np = arr.permute(1, 2, 0).contiguous().cpu().numpy()
    return Image.fromarray(arr_np, "RGB" if alpha is None else "RGBA")


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) with the longer side `long_side` and the aspect ratio kept (each >= 1)."""
    if width >= height:
        return long_side, max(1, round(height * long_side / width))
    return max(1, round(width * long_side / height)), long_side


def resize(t: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Resample (1, C, H, W) to (height, width): antialiased bicubic, kept inside 0..1."""
    if t.shape[-2:] == (height, width):
        return t
    mode = "bicubic" if min(t.shape[-2:]) > 1 else "bilinear"
    out = F.interpolate(t, size=(height, width), mode=mode, align_corners=False, antialias=True)
    return out.clamp(0, 1)


def tensor_digest(*tensors: torch.Tensor) -> str:
    """A content hash, for cache keys: equal pixels give equal keys whatever their source."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        c = t.detach().cpu().contiguous()
        h.update(str((tuple(c.shape), str(c.dtype))).encode())
        h.update(c.numpy().tobytes())
    return h.hexdigest()
