"""Delivering the picture: what a user sees of an iterate, and the iterate a scale starts from.

The optimization works on the network's picture (grey luminance in luminance mode, the whole
content even where a mask keeps it); a delivered picture has the mask and the `amount` applied
(both blend with the content), the colours restored, the alpha attached, and its samples
rounded to the caller's storage precision.
"""

from __future__ import annotations

import torch

from . import color
from .images import Picture, fit_size, resize
from .prepare import PreparedJob
from .settings import InitMode, PreserveColor


def deliver(
    prep: PreparedJob, x: torch.Tensor, w: int, h: int, size: int | None, bits: int = 0
) -> Picture:
    """The picture a user sees of iterate `x` (at w x h): masked, colours restored, alpha
    attached, no larger than `size` (None: as it is), rounded to `bits` per sample (0: not
    rounded)."""
    with torch.no_grad():
        out = x.detach().float().cpu().clamp(0, 1)
        m = blend_weight(prep, w, h)
        if m is not None:
            out = m * out + (1 - m) * resize(prep.net_content, w, h)
        if prep.settings.preserve_color is PreserveColor.LUMINANCE:
            out = color.combine_luminance(out, resize(prep.content, w, h))
        alpha = None if prep.alpha is None else resize(prep.alpha, w, h)
        if size is not None and max(w, h) > size:
            pw, ph = fit_size(w, h, size)
            out = resize(out, pw, ph)
            alpha = None if alpha is None else resize(alpha, pw, ph)
        return Picture.of(round_samples(out, bits), alpha)


def blend_weight(prep: PreparedJob, w: int, h: int) -> torch.Tensor | float | None:
    """How much of the iterate each pixel shows (the rest is the content), at w x h: the mask
    times `amount` (protocol 1.8); None where all of it shows. Blended before the colours are
    restored, so in luminance mode the content's own colours come back as they are."""
    amount = prep.settings.amount
    if prep.mask is None:
        return None if amount >= 1 else amount
    m = resize(prep.mask, w, h)
    return m if amount >= 1 else amount * m


def at_output(prep: PreparedJob, x: torch.Tensor, bits: int = 0) -> Picture:
    """Iterate `x` delivered at the output size, rounded to `bits` per sample."""
    out_w, out_h = prep.out_size
    return deliver(prep, resize(x.detach().float().cpu(), out_w, out_h), out_w, out_h, None, bits)


def partial(prep: PreparedJob, x: torch.Tensor | None) -> Picture | None:
    """The current iterate as a delivered image at the output size (a cancelled job's)."""
    return None if x is None else at_output(prep, x)


def round_samples(t: torch.Tensor, bits: int) -> torch.Tensor:
    """`t` (0..1) rounded in place to the levels of `bits`-bit samples; 0 leaves it as it is."""
    if bits:
        levels = float(2**bits - 1)
        t.clamp_(0, 1).mul_(levels).round_().div_(levels)
    return t


def initial(
    prep: PreparedJob, previous: torch.Tensor | None, w: int, h: int, device: torch.device
) -> torch.Tensor:
    """The iterate scale w x h starts from, on `device`: the previous scale's result scaled
    up, or for the first scale the noise, init image, painted picture or content."""
    if previous is not None:
        x = resize(previous.detach().cpu(), w, h)
    elif prep.settings.init is InitMode.NOISE:
        gen = torch.Generator().manual_seed(prep.settings.seed)
        x = torch.rand(1, 3, h, w, generator=gen)
    elif prep.init is not None:
        x = resize(prep.init, w, h)
    elif prep.painted is not None:
        x = resize(prep.painted, w, h)
    else:
        x = resize(prep.net_content, w, h)
    # The optimized image stays NCHW-contiguous (L-BFGS flattens it with view(-1));
    # Stylizer.features hands the network a channels-last copy where that is faster.
    # copy=True: `resize` returns its input when the size already fits, so without a copy
    # the optimizer would write into prep.net_content (or prep.init), and the mask would
    # blend the iterate with itself instead of with the content.
    return x.to(device, copy=True).contiguous().requires_grad_(True)
