"""What a client sends: a stylization or a training built the same way by Krita, GIMP and the
command line, so that a job's cadence, preview size, label and size checks cannot drift apart
between them (each used to build its own, and the command line had a cadence of its own).

The caller says what it knows (its pixels, the engine settings it chose, the daemon's
hello_reply); the job options follow from policy. A job the daemon could not take is refused
here, before it is sent: ZeroMQ drops an oversized frame without an answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import policy
from .messages import MAX_LABEL, PREVIEW_SIZE, Submit, Train
from .pixels import Pixels

# The first word of every job's label, which `impasto status` shows: who sent the job.
CLI_CLIENT = "impasto"
KRITA_CLIENT = "krita"
GIMP_CLIENT = "GIMP"


class JobRefused(ValueError):
    """A job the daemon would not take, found before sending it; one line for the user."""


def job_label(client: str, what: str) -> str:
    """The label of a job: who sent it and what it is, cut to the length the daemon takes."""
    return f"{client}: {what}"[:MAX_LABEL]


def build_submit(
    content: Pixels,
    styles: Sequence[Pixels],
    settings: Mapping[str, Any],
    welcome: Mapping[str, Any] | None,
    *,
    label: str,
    previews: int = -1,
    preview_size: int | None = None,
    mask: Pixels | None = None,
    init_image: Pixels | None = None,
    result_layout: str | None = None,
    result_dtype: str = "u8",
    time_budget: float | None = None,
) -> Submit:
    """A stylization of `content` with `styles` and the engine `settings` (by name, as sent),
    for the daemon that said `welcome`. `previews`: the caller's own preview interval (0:
    none; -1: policy's cadence); `preview_size`: the caller's own preview side (default:
    policy's, from the job's size). Raises JobRefused when an image is larger than the
    daemon accepts."""
    welcome = welcome or {}
    defaults = welcome.get("defaults") or {}
    preview_every, progress_every = policy.cadence(settings, defaults, previews)
    if preview_size is None:
        side = settings.get("size") or defaults.get("size") or PREVIEW_SIZE
        preview_size = policy.preview_size(int(side))
    submit = Submit(
        content=content,
        styles=list(styles),
        settings=dict(settings),
        mask=mask,
        init_image=init_image,
        progress_every=progress_every,
        preview_every=preview_every,
        preview_size=preview_size,
        label=label[:MAX_LABEL],
        result_layout=result_layout,
        result_dtype=result_dtype,
        time_budget=time_budget,
    )
    why = policy.oversized_image(submit, welcome)
    if why is not None:
        raise JobRefused(why)
    return submit


def build_train(
    style: Pixels,
    name: str,
    settings: Mapping[str, Any],
    *,
    label: str,
    overwrite: bool,
    detach: bool = False,
    previews: int = 0,
    photos: Sequence[Pixels] = (),
    only_photos: bool = False,
    restart: bool = False,
) -> Train:
    """A training of `style` as the trained style `name` (protocol 1.6). Progress comes at
    every step: a step takes seconds, and the painter watches them count."""
    return Train(
        style,
        name,
        settings=dict(settings),
        photos=list(photos),
        only_photos=only_photos,
        overwrite=overwrite,
        restart=restart,
        progress_every=1,
        preview_every=previews,
        detach=detach,
        label=label[:MAX_LABEL],
    )
