"""`impasto train --daemon`: the same training, run by a daemon (protocol 1.6, `train`), which
writes the trained style into its own library. The style image and the --content-dir photos
travel as pixels; progress draws the same bar; Ctrl-C cancels the job, whose checkpoint the
same command then resumes from, as in process."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from impasto_protocol.client import Client, JobHandle
from impasto_protocol.errors import RemoteError
from impasto_protocol.messages import MAX_TRAIN_PHOTOS, Cancelled, Train
from impasto_protocol.pixels import Pixels
from impasto_protocol.submission import CLI_CLIENT, build_train, job_label

from .daemon_client import curve_keys, daemon_endpoint, make_client, say_hello
from .errors import EXIT_INTERRUPTED, CliError, sigterm_as_interrupt
from .image_files import open_image
from .job_view import ProgressView, follow, preview_saver
from .stylize_on_daemon import cancel_quietly

# The options a daemon's refusal may name, by the request's field.
OPTIONS = {"settings.start": "--from", "name": "--name", "restart": "--restart"}


def train_on_daemon(args: argparse.Namespace, settings: Any) -> int:
    style_path = Path(args.style)
    name = args.name or style_path.stem
    if args.output:
        raise CliError("--output: with --daemon the style goes to the daemon's library; use --name")
    style = open_image(style_path, "style image").convert("RGB")
    photos = _photos(Path(args.content_dir)) if args.content_dir else []
    wire = settings.as_dict()
    del wire["preview_every"]  # the request's own field
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    request = build_train(
        Pixels.from_pil(style),
        name,
        wire,
        label=job_label(CLI_CLIENT, f"train {name}"),
        overwrite=True,  # as in process: the command writes the style it was asked for
        detach=args.detach,
        previews=args.preview_every if preview_dir else 0,
        photos=photos,
        only_photos=args.only_content_dir,
        restart=args.restart,
    )
    curve = curve_keys(args)
    endpoint = daemon_endpoint(args, curve)
    with make_client(args, endpoint, curve) as client, sigterm_as_interrupt():
        welcome = say_hello(client)
        if "train_defaults" not in welcome:
            raise CliError(f"the daemon at {endpoint} does not train styles")
        handle = _queue(client, request)
        if args.detach:
            print(handle.id)
            print(f"impasto train: the daemon trains {name!r}; `impasto watch {handle.id}`"
                  " follows it", file=sys.stderr)  # fmt: skip
            return 0
        view = ProgressView(lines=False, total=settings.steps, unit="step")
        try:
            saver = preview_saver(preview_dir, "step_{:05d}.png") if preview_dir else None
            outcome = follow(handle, view, saver)
        except KeyboardInterrupt:
            outcome = _cancel(client, handle)
        finally:
            view.close()
    if isinstance(outcome, Cancelled):
        at = f" at step {outcome.checkpoint}" if outcome.checkpoint is not None else ""
        print(
            f"impasto train: cancelled{at} ({outcome.reason}); run the same command again to"
            " resume from the daemon's checkpoint",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    _report(args, outcome.info, handle.id, endpoint)
    return 0


def _photos(folder: Path) -> list[Pixels]:
    """The folder's pictures as in process; sent no larger than the daemon reads them."""
    from ..engine.training import PHOTO_SIDE, photo_files

    files = photo_files(folder, defaults=False)
    if len(files) > MAX_TRAIN_PHOTOS:
        raise CliError(
            f"--content-dir: {len(files)} pictures; a daemon takes at most {MAX_TRAIN_PHOTOS}"
        )
    photos = []
    for path in files:
        photo = open_image(path, "training photo").convert("RGB")
        photo.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
        photos.append(Pixels.from_pil(photo))
    return photos


def _report(args: argparse.Namespace, info: dict[str, Any], job: str, endpoint: str) -> None:
    if args.json:
        print(json.dumps({**info, "job": job, "daemon": endpoint}))
        return
    losses = info.get("losses") or {}
    resumed = f", resumed at step {info['resumed_from']}" if info.get("resumed_from") else ""
    print(
        f"the daemon trained {info.get('name')!r} ({info.get('kind')}, {info.get('steps')}"
        f" steps in {float(info.get('elapsed', 0)):.0f} s{resumed}; validation loss"
        f" {float(losses.get('loss', float('nan'))):.3g}); it is in the daemon's library"
    )


def _queue(client: Client, request: Train) -> JobHandle:
    try:
        return client.train(request)
    except RemoteError as e:
        field = e.field or ""
        option = OPTIONS.get(field)
        if option is None and field.startswith("settings."):
            option = "--" + field[len("settings.") :].replace("_", "-")
        if option is not None:
            raise CliError(f"{option}: {e.message}") from None
        raise


def _cancel(client: Client, handle: JobHandle) -> Cancelled:
    """Ctrl-C: cancel the job and wait briefly for the step its checkpoint holds."""
    cancel_quietly(client, handle.id)
    try:
        for event in handle.events(timeout=30):
            if isinstance(event, Cancelled):
                return event
    except (RemoteError, TimeoutError):
        pass
    return Cancelled("interrupted")
