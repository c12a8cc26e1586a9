"""Conversions between the caller's images and the engine's tensors, and resizing.

Inside the engine an image is a float32 tensor (1, 3, H, W), RGB, 0..1; alpha travels beside it
as (1, 1, H, W). An input is a Pillow image (files: Pillow does I/O and colour-mode conversion)
or a numpy array of samples (a daemon's wire buffers, viewed without a copy); a result is a
`Picture`, kept in float so that the caller stores it at the precision it wants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# An input image: Pillow, or an H x W x C array (C = 1, 2, 3, 4 for L, LA, RGB, RGBA) of uint8,
# uint16 or float32 samples (floats in 0..1; outside is clamped, NaN reads as 0).
ImageInput = Image.Image | np.ndarray
_SAMPLE_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


class ImageError(ValueError):
    """An input image cannot be used (empty, unsupported mode, wrong size)."""


@dataclass(frozen=True)
class Picture:
    """What the engine delivers: float32 RGB (1, 3, H, W) in 0..1 on the CPU, and the content's
    alpha (1, 1, H, W) or None. 8-bit, 16-bit or float copies are the caller's choice."""

    rgb: torch.Tensor
    alpha: torch.Tensor | None = None

    @classmethod
    def of(cls, rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> Picture:
        """From 0..1 tensors on any device, in any float dtype (float32 on the CPU here)."""
        rgb = rgb.detach().float().cpu().clamp(0, 1).contiguous()
        if alpha is not None:
            alpha = alpha.detach().float().cpu().clamp(0, 1).contiguous()
        return cls(rgb, alpha)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[-1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[-2])

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def to_array(self) -> np.ndarray:
        """H x W x 3 (or 4 with alpha) float32 samples in 0..1."""
        t = self.rgb if self.alpha is None else torch.cat([self.rgb, self.alpha], dim=1)
        return t[0].permute(1, 2, 0).contiguous().numpy()

    def to_pil(self) -> Image.Image:
        """8-bit RGB or RGBA, for files and screens."""
        return to_image(self.rgb, self.alpha)


def image_size(image: ImageInput) -> tuple[int, int]:
    """(width, height) of an input image."""
    if isinstance(image, np.ndarray):
        return int(image.shape[1]), int(image.shape[0])
    return image.size


def _array_samples(arr: np.ndarray) -> torch.Tensor:
    """H x W x C float32 tensor in 0..1 from an array of samples: one conversion, no Pillow."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or not 1 <= arr.shape[2] <= 4:
        raise ImageError(f"an image array is H x W x 1..4, not {'x'.join(map(str, arr.shape))}")
    if arr.dtype == np.float32:
        t = torch.from_numpy(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0))
        return t.clamp_(0.0, 1.0)
    scale = _SAMPLE_SCALE.get(arr.dtype)
    if scale is None:
        raise ImageError(f"image samples are uint8, uint16 or float32, not {arr.dtype}")
    # astype copies into a writable array torch may own; the division happens in place.
    return torch.from_numpy(arr.astype(np.float32)).div_(scale)


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


def to_tensor(image: ImageInput) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(rgb, alpha): grey becomes three equal channels; alpha is None for opaque modes."""
    w, h = image_size(image)
    if w < 1 or h < 1:
        raise ImageError("image is empty (0 pixels)")
    if isinstance(image, np.ndarray):
        samples = _array_samples(image)
    else:
        samples = torch.from_numpy(np.ascontiguousarray(_float_array(image)))
    t = samples.permute(2, 0, 1).unsqueeze(0)
    channels = t.shape[1]
    alpha = t[:, channels - 1 :] if channels in (2, 4) else None
    rgb = t[:, : 3 if channels >= 3 else 1]
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    return rgb.contiguous(), None if alpha is None else alpha.contiguous()


def to_mask(image: ImageInput) -> torch.Tensor:
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
