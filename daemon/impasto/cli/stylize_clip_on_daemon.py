"""`impasto stylize CLIP ... --daemon`: the clip's frames sent to a daemon as a clip job
(protocol 1.7), each stylized frame kept in OUT.frames/ as it comes back, exactly as the
in-process run keeps them: Ctrl-C cancels the job and keeps the frames done, and the same
command again sends only the frames left, continuing from the last one kept (`after`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from impasto_protocol.client import Client
from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.errors import JobCancelled, RemoteError
from impasto_protocol.messages import Cancelled, ClipDone, FrameDone
from impasto_protocol.pixels import Pixels
from impasto_protocol.submission import CLI_CLIENT, job_label

from .daemon_client import curve_keys, daemon_endpoint, make_client, say_hello
from .errors import CliError, sigterm_as_interrupt
from .job_view import EXIT_CANCELLED
from .stylize_on_daemon import cancel_quietly, given_settings, submit_refusal

if TYPE_CHECKING:
    from PIL import Image

    from ..clips.clip_io import Clip
    from .stylize_clip import WorkFolder


def stylize_frames_on_daemon(
    args: argparse.Namespace,
    clip: Clip,
    work: WorkFolder,
    styles: Sequence[Any],
    mask: Image.Image | None,
    temporal: float,
) -> None:
    """The frames not done yet, stylized on the daemon that --daemon names; each one saved
    in `work` as soon as it arrives. KeyboardInterrupt cancels the job (the frames kept)."""
    total = clip.info.frame_count
    if work.done >= total:
        return
    curve = curve_keys(args)
    endpoint = daemon_endpoint(args, curve)
    with make_client(args, endpoint, curve) as client, sigterm_as_interrupt():
        welcome = say_hello(client)
        if "clip_defaults" not in welcome:
            raise CliError(
                f"the daemon at {endpoint} runs no clip jobs (it needs protocol 1.7 and the "
                "local engine); drop --daemon"
            )
        frames = clip.iter_from(max(work.done - 1, 0))
        after = None
        if work.done:  # go on from the last frame kept: its input and its output
            after = (Pixels.from_pil(next(frames)), Pixels.from_pil(work.load(work.done - 1)))
        request = _request(args, clip, work, styles, mask, temporal, after)
        _run(client, request, _as_pixels(frames, request.layout), work, total)


def _request(
    args: argparse.Namespace,
    clip: Clip,
    work: WorkFolder,
    styles: Sequence[Any],
    mask: Image.Image | None,
    temporal: float,
    after: tuple[Pixels, Pixels] | None,
) -> ClipRequest:
    from PIL import Image

    sent = []
    for i, style in enumerate(styles):
        if not isinstance(style, Image.Image):
            raise CliError(
                f"style {i + 1}: a trained style's file is not sent to a daemon; stylize the"
                " clip without --daemon"
            )
        sent.append(Pixels.from_pil(style))
    info = clip.info
    return ClipRequest(
        frames=info.frame_count - work.done,
        width=info.width,
        height=info.height,
        layout="RGB",
        styles=sent,
        settings=given_settings(args),
        mask=None if mask is None else Pixels.from_pil(mask.convert("L")),
        temporal=temporal,
        after=after,
        label=job_label(CLI_CLIENT, f"stylize {args.output}"),
    )


def _as_pixels(frames: Iterator[Image.Image], layout: str) -> Iterator[Pixels]:
    for image in frames:
        yield Pixels.from_pil(image.convert(layout))


def _run(
    client: Client, request: ClipRequest, frames: Iterator[Pixels], work: WorkFolder, total: int
) -> None:
    from tqdm import tqdm

    first = work.done
    bar = tqdm(
        total=total, initial=first, unit="frame", disable=None, file=sys.stderr,
        dynamic_ncols=True,
    )  # fmt: skip
    handle = None
    try:
        try:
            handle = client.clip(request, frames)
        except RemoteError as e:
            raise submit_refusal(e) from None
        for event in handle.events():
            if isinstance(event, FrameDone):
                work.save(first + event.index, event.image.to_pil().convert("RGB"))
                bar.update(1)
            elif isinstance(event, Cancelled):
                raise CliError(
                    f"{JobCancelled(handle.id, event.reason)}; the frames done are kept in "
                    f"{work.path}",
                    EXIT_CANCELLED,
                )
            elif isinstance(event, ClipDone):
                return
    except KeyboardInterrupt:
        if handle is not None:
            cancel_quietly(client, handle.id)
        raise
    finally:
        bar.close()
