"""Colour preservation (Gatys, Bethge, Hertzmann, Shechtman 2017, "Controlling Perceptual
Factors in Neural Style Transfer"): luminance-only transfer, and matching the style's colours to
the content's.

All images here are float tensors (1, 3, H, W), RGB, 0..1.
"""

from __future__ import annotations

import torch

# RGB <-> YIQ (NTSC), the space the paper uses: Y carries luminance, I and Q the chroma.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=torch.float64,
)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y as a 3-channel grey image, which is what the network sees in luminance-only transfer."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance with the content's mean and standard deviation (grey, 3 channels).

    Without this, a dark style would darken the whole result.
    """
    ys, yc = luminance(style)[:, :1], luminance(content)[:, :1]
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's chroma (I and Q)."""
    y = rgb_to_yiq(stylized)[:, :1]
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    vals = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(vals) @ vecs.T


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style with the content's colour mean and covariance (a linear map per pixel)."""
    s = style[0].flatten(1).double()  # (3, M)
    c = content[0].flatten(1).double()
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64) * 1e-5
    cov_s = torch.cov(s) + eye
    cov_c = torch.cov(c) + eye
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    out = a @ (s - mu_s) + mu_c
    return out.view_as(style[0]).unsqueeze(0).to(style.dtype).clamp(0, 1)
