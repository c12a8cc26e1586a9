"""A job from files to a daemon: the Submit built from the options and images, sent with the
option named in a refusal, and `impasto stylize --daemon` from start to the written result."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from impasto_protocol import messages as M
from impasto_protocol import policy
from impasto_protocol.client import Client, JobHandle
from impasto_protocol.constants import CANCEL_REPLY
from impasto_protocol.errors import ImpastoError, JobCancelled, RemoteError
from impasto_protocol.messages import Cancelled, Result, Submit
from impasto_protocol.pixels import Pixels
from impasto_protocol.submission import CLI_CLIENT, JobRefused, build_submit, job_label

from ..engine.settings import InitMode, StyleSettings, settings_fields, wire_value
from .daemon_client import curve_keys, daemon_endpoint, make_client, say_hello
from .errors import CliError, sigterm_as_interrupt
from .image_files import save_atomically
from .job_view import (
    EXIT_CANCELLED,
    ProgressView,
    follow,
    preview_saver,
    result_line,
    result_summary,
)
from .options import option_name, preset_fields

if TYPE_CHECKING:
    from PIL import Image


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings options the user gave (the others are absent: argparse.SUPPRESS), as the
    wire carries them; the daemon supplies its defaults for the rest."""
    names = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
    given = {k: wire_value(v) for k, v in vars(args).items() if k in names}
    return given | {k: wire_value(v) for k, v in preset_fields(args).items()}


def to_pixels(image: Image.Image, mask: bool = False) -> Pixels:
    """Content keeps its alpha (RGBA), a mask is grey (L)."""
    return Pixels.from_pil(image.convert("L") if mask else image)


def submit_job(client: Client, job: Submit) -> JobHandle:
    """Submit, naming the command-line option when the daemon refuses a setting."""
    _check_frame_sizes(client, job)
    try:
        return client.submit(job)
    except RemoteError as e:
        raise submit_refusal(e) from None


def submit_refusal(e: RemoteError) -> Exception:
    """A refused setting as the command-line option that gave it; other refusals as they are."""
    field = e.field or ""
    if field.startswith("settings."):
        name = field[len("settings.") :]
        options = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
        if name in options:
            return CliError(f"{option_name(name)}: {e.message}")
    return e


def _check_frame_sizes(client: Client, job: Submit) -> None:
    why = policy.oversized_image(job, client.welcome)
    if why is not None:
        raise CliError(why)


def stylize_on_daemon(
    args: argparse.Namespace,
    settings: StyleSettings,
    output: Path,
    fmt: str,
    content: Image.Image,
    styles: list[Image.Image],
    mask: Image.Image | None,
    init: Image.Image | None,
    trained: list[str] | None = None,
) -> int:
    """`impasto stylize --daemon`: checked and opened as in process; run on the daemon.
    `trained`: names of trained styles in the daemon's library, after `styles`."""
    curve = curve_keys(args)
    endpoint = daemon_endpoint(args, curve)
    wire = given_settings(args)
    if trained:
        wire["trained"] = list(trained)  # resolved in the daemon's own library
    if args.init is not None and settings.init is not InitMode.IMAGE:  # else the daemon's default
        wire["init"] = settings.init.value
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    with make_client(args, endpoint, curve) as client, sigterm_as_interrupt():
        welcome = say_hello(client)
        try:
            job = build_submit(
                to_pixels(content),
                [to_pixels(s) for s in styles],
                wire,
                welcome,
                label=job_label(CLI_CLIENT, f"stylize {output.name}"),
                previews=args.preview_every if preview_dir else 0,
                preview_size=min(65535, max(16, settings.size)),  # as in process: full scale
                mask=to_pixels(mask, mask=True) if mask is not None else None,
                init_image=to_pixels(init) if init is not None else None,
                time_budget=args.time_budget,
            )
        except JobRefused as e:
            raise CliError(str(e)) from None
        handle = submit_job(client, job)
        view = ProgressView(lines=False, total=settings.iterations)
        try:
            saver = preview_saver(preview_dir, "step_{:05d}.png") if preview_dir else None
            outcome = follow(handle, view, saver)
        except KeyboardInterrupt:
            cancel_quietly(client, handle.id)
            raise
        finally:
            view.close()
    if isinstance(outcome, Cancelled):
        raise CliError(
            f"{JobCancelled(handle.id, outcome.reason)}; nothing was written", EXIT_CANCELLED
        )
    if not isinstance(outcome, Result):
        raise CliError(f"job {handle.id} ended without a picture")
    save_atomically(outcome.image.to_pil(), output, fmt)
    if args.json:
        print(json.dumps(result_summary(outcome, output, handle.id, endpoint)))
    else:
        print(result_line(outcome, f"wrote {output}"))
    return 0


def cancel_quietly(client: Client, job: str) -> None:
    """Best effort, briefly: an interrupted stylize should not leave its job running."""
    with contextlib.suppress(ImpastoError, TimeoutError, zmq.ZMQError):
        client.request(M.cancel(job), CANCEL_REPLY, timeout=2.0)
