"""The fast networks' part in a job: one pass instead of an optimization.

Three uses (fast/styles.py paints): the `fast` method's result, the first preview of an
optimization (a canvas shows a styled picture at once), and the optimization's starting image
(init "fast"). The caller's clock (`elapsed`: seconds since the job began) times the reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import color
from .deliver import deliver
from .fast import FastModelError
from .fast.styles import InstantStyles
from .images import fit_size, resize
from .job import Progress, Reporting, StopReason, StyleResult
from .prepare import PreparedJob, can_paint
from .settings import PreserveColor, SettingsError


def paint(instant: InstantStyles, prep: PreparedJob, w: int, h: int) -> torch.Tensor:
    """The fast networks' picture of the job at w x h, as the optimization sees pictures
    (grey in luminance mode)."""
    content = resize(prep.net_content, w, h)
    try:
        painted = instant.paint(
            content,
            prep.fast_styles,
            prep.fast_blend,
            prep.presets,
            prep.preset_blend,
            prep.trained,
        )
    except FastModelError:
        raise
    except ValueError as e:  # a trained style that cannot take part as asked
        raise SettingsError("styles", str(e)) from None
    if prep.settings.preserve_color is PreserveColor.LUMINANCE:
        painted = color.luminance(painted)
    return painted


def first_preview(
    instant: InstantStyles,
    prep: PreparedJob,
    rep: Reporting,
    elapsed: Callable[[], float],
    remaining: float | None = None,
) -> None:
    """Before the optimization's first iteration: the fast networks' picture as a preview
    (iteration 0, no losses yet), so a canvas shows a styled picture at once; `remaining`:
    the seconds the whole job should take (the engine's estimate), for a time left from the
    first event on."""
    if not can_paint(instant, prep.fast_styles, prep.fast_blend):
        return
    out_w, out_h = prep.out_size
    w, h = out_w, out_h
    if rep.preview_size is not None and max(w, h) > rep.preview_size:
        w, h = fit_size(w, h, rep.preview_size)
    if prep.painted is not None:
        picture = resize(prep.painted, w, h)
    else:
        picture = paint(instant, prep, w, h)
    first = prep.scales[0]
    assert rep.on_progress is not None
    rep.on_progress(
        Progress(
            iteration=0,
            total=sum(sc.iterations for sc in prep.scales),
            scale=0,
            scales=len(prep.scales),
            width=first.width,
            height=first.height,
            content_loss=math.nan,
            style_loss=math.nan,
            tv_loss=math.nan,
            loss=math.nan,
            elapsed=elapsed(),
            preview=deliver(prep, picture, w, h, None),
            remaining=remaining,
        )
    )


def paint_job(
    instant: InstantStyles,
    prep: PreparedJob,
    rep: Reporting,
    elapsed: Callable[[], float],
    device: str,
) -> StyleResult:
    """The fast method's result: the job painted at the output size, on `device` (its
    description)."""
    out_w, out_h = prep.out_size
    painted = paint(instant, prep, out_w, out_h)  # FastModelError without the model files
    image = deliver(prep, painted, out_w, out_h, None, prep.sample_bits)
    seconds = elapsed()
    if rep.on_progress:
        nan = math.nan
        preview = image if rep.preview_every > 0 else None  # only when asked for
        rep.on_progress(Progress(1, 1, 0, 1, out_w, out_h, nan, nan, nan, nan, seconds, preview))
    names = (
        instant.names(presets_only=not prep.fast_styles),
        instant.names_trained(prep.trained),
    )
    return StyleResult(
        picture=image,
        iterations=0,
        elapsed=seconds,
        content_loss=None,
        style_loss=None,
        tv_loss=None,
        loss=None,
        device=device,
        weights=", ".join(n for n in names if n),
        stopped=StopReason.COMPLETED,
        scales=((out_w, out_h, 0),),
        settings=prep.settings,
    )
