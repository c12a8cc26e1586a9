"""`impasto stylize CLIP STYLE... -o OUT`: a video, an animation or numbered frames, stylized
frame after frame in this process (clips.sequence.FrameStylizer), then written to OUT.

The frames done are kept beside OUT, in OUT.frames/ (numbered PNGs and a manifest of the
source, the range and the settings), so Ctrl-C loses at most the frame being painted and the
same command again goes on after the last frame done. OUT is written (atomically) only when
every frame is done, and the folder removed then.

Nothing heavy is imported at module level: `impasto` builds its parser from here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.settings import StyleSettings, wire_value
from .errors import EXIT_INTERRUPTED, CliError, sigterm_as_interrupt
from .image_files import open_image
from .memory_budget import local_engine
from .options import init_choice

if TYPE_CHECKING:
    from ..clips.clip_io import Clip

MANIFEST = "manifest.json"
FRAME = "%06d.png"


def add_clip_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("clips (CONTENT a video, an animation or numbered frames)")
    group.add_argument(
        "--frames",
        metavar="A:B",
        help="stylize frames A to B-1, counted from 0 as a Python slice (A: to the end)",
    )
    group.add_argument(
        "--temporal",
        type=float,
        metavar="S",
        help="strength of temporal consistency, 0..1; 0 stylizes each frame on its own"
        " (default: clips.sequence.DEFAULT_TEMPORAL, see docs/cli.md)",
    )


def is_clip_content(args: argparse.Namespace) -> bool:
    """Whether CONTENT is a clip; the clip options given with a still one are a mistake."""
    from ..clips.clip_io import is_clip_path

    if is_clip_path(args.content):
        return True
    for name in ("frames", "temporal"):
        if getattr(args, name, None) is not None:
            raise CliError(f"--{name} is for clips; {args.content} is a still picture")
    return False


def run_clip(args: argparse.Namespace, settings: StyleSettings, styles: Sequence[Any]) -> int:
    """Check every input (one line and exit 2, nothing written), then stylize the frames not
    done yet and write OUT."""
    from ..clips.clip_io import ClipError

    try:
        return _run(args, settings, styles)
    except ClipError as e:
        raise CliError(str(e)) from None


def _run(args: argparse.Namespace, settings: StyleSettings, styles: Sequence[Any]) -> int:
    from ..clips.clip_io import check_clip_output, open_clip, parse_frame_range
    from ..clips.sequence import DEFAULT_TEMPORAL

    temporal = DEFAULT_TEMPORAL if args.temporal is None else args.temporal
    _refuse_still_options(args, temporal)
    frames = parse_frame_range(args.frames) if args.frames else None
    mask = open_image(Path(args.mask), "mask") if args.mask else None
    started = time.monotonic()
    with open_clip(args.content, frames) as clip:
        audio = args.content if clip.info.has_audio else None
        check_clip_output(args.output, clip.info, audio)
        work = WorkFolder(args.output, _manifest(args, clip, settings, temporal))
        try:
            if args.daemon is not None:
                from .stylize_clip_on_daemon import stylize_frames_on_daemon

                stylize_frames_on_daemon(args, clip, work, styles, mask, temporal)
            else:
                stylizer = _frame_stylizer(args, styles, settings, temporal, mask)
                _stylize_frames(clip, stylizer, work)
        except KeyboardInterrupt:
            return _interrupted(args, work, clip.info.frame_count)
        _write_output(args, clip, work, audio)
    _report(args, clip, work, time.monotonic() - started)
    return 0


def _refuse_still_options(args: argparse.Namespace, temporal: float) -> None:
    if not 0 <= temporal <= 1:
        raise CliError(f"--temporal: must be within 0..1, got {temporal}")
    for option, given in (
        ("--preview-dir", args.preview_dir),
        ("--time-budget", args.time_budget),
        ("--init PATH", init_choice(args.init)[1]),
    ):
        if given is not None:
            raise CliError(f"{option} is for stills, not clips")
    content = os.path.realpath(args.content.rstrip("/" + os.sep) or args.content)
    output = os.path.realpath(args.output.rstrip("/" + os.sep) or args.output)
    if content == output:
        raise CliError(f"the output {args.output} is also the input; choose another output name")


def _frame_stylizer(
    args: argparse.Namespace,
    styles: Sequence[Any],
    settings: StyleSettings,
    temporal: float,
    mask: Any,
) -> Any:
    from ..clips.sequence import FrameStylizer

    return FrameStylizer(local_engine(args), styles, settings, temporal, mask=mask)


def _manifest(
    args: argparse.Namespace, clip: Clip, settings: StyleSettings, temporal: float
) -> dict[str, Any]:
    """What the frames kept depend on: a resumed run must match it."""
    fields = {name: wire_value(value) for name, value in vars(settings).items()}
    return {
        "source": _file_stamp(args.content),
        "range": list(clip.info.range),
        "frames": clip.info.frame_count,
        "styles": [_file_stamp(s) for s in args.styles],
        "mask": _file_stamp(args.mask) if args.mask else None,
        "temporal": temporal,
        "settings": fields,
        "weights": args.weights,
    }


def _file_stamp(name: str) -> list[Any]:
    """A file by its absolute path, size and modification time (a name as it is)."""
    path = Path(name)
    if not path.is_file():
        return [name]
    stat = path.stat()
    return [os.path.abspath(name), stat.st_size, stat.st_mtime_ns]


class WorkFolder:
    """OUT.frames/: the frames done (numbered PNGs, each written whole) and the manifest. Made
    with the first frame done, so a run that fails before one leaves nothing."""

    def __init__(self, output: str, manifest: dict[str, Any]) -> None:
        base = Path(os.path.abspath(output.rstrip("/" + os.sep) or output))
        # frames/%04d.png: frames/_04d.png.frames (the pattern's folder made with the first frame)
        self.path = base.with_name(base.name.replace("%", "_") + ".frames")
        self.manifest = manifest
        self.done = 0
        self.resumed = 0
        self._open()

    def _open(self) -> None:
        if not self.path.is_dir():
            return
        try:
            kept = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = None
        if kept != self.manifest:
            print(
                f"impasto stylize: {self.path} holds frames of another source, range or"
                " settings; starting over",
                file=sys.stderr,
            )
            self.remove()
            return
        while self.done < self.manifest["frames"] and self.frame_path(self.done).is_file():
            self.done += 1
        self.resumed = self.done

    def frame_path(self, index: int) -> Path:
        return self.path / (FRAME % index)

    def save(self, index: int, image: Any) -> None:
        if not self.path.is_dir():
            self.path.mkdir(parents=True)
            _write_text(self.path / MANIFEST, json.dumps(self.manifest, indent=1))
        tmp = self.path / f".{index}.tmp.png"
        image.save(tmp, format="PNG")
        os.replace(tmp, self.frame_path(index))
        self.done = index + 1

    def load(self, index: int) -> Any:
        from PIL import Image

        with Image.open(self.frame_path(index)) as image:
            return image.convert("RGB")

    def frames(self) -> Iterator[Any]:
        for index in range(self.done):
            yield self.load(index)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _stylize_frames(clip: Clip, stylizer: Any, work: WorkFolder) -> None:
    """The frames not done yet, in order, each kept as soon as it is done; a progress bar on
    a terminal counts them, with the time left."""
    from tqdm import tqdm

    total = clip.info.frame_count
    if work.done >= total:
        return
    bar = tqdm(
        total=total, initial=work.done, unit="frame", disable=None, file=sys.stderr,
        dynamic_ncols=True,
    )  # fmt: skip
    try:
        with sigterm_as_interrupt():
            frames = clip.iter_from(max(work.done - 1, 0))
            if work.done:  # go on from the last frame kept: its input and its output
                stylizer.resume(next(frames), work.load(work.done - 1))
            for index, image in enumerate(frames, start=work.done):
                work.save(index, stylizer.frame(image))
                bar.update(1)
    finally:
        bar.close()


def _interrupted(args: argparse.Namespace, work: WorkFolder, total: int) -> int:
    if work.done == 0:
        work.remove()
        raise KeyboardInterrupt  # nothing done: nothing kept (the usual one line)
    print(
        f"impasto stylize: interrupted after {work.done} of {total} frames, kept in"
        f" {work.path}; run the same command again to go on",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _write_output(args: argparse.Namespace, clip: Clip, work: WorkFolder, audio: Any) -> None:
    from ..clips.clip_io import write_clip

    write_clip(args.output, work.frames(), clip.info, audio_from=audio)
    work.remove()


def _report(args: argparse.Namespace, clip: Clip, work: WorkFolder, seconds: float) -> None:
    info = clip.info
    if args.json:
        summary = {
            "output": args.output,
            "frames": info.frame_count,
            "range": list(info.range),
            "resumed_at": work.resumed,
            "seconds": round(seconds, 3),
            "audio": info.has_audio,
        }
        print(json.dumps(summary))
    else:
        resumed = f", {work.resumed} kept from before" if work.resumed else ""
        print(f"wrote {args.output} ({info.frame_count} frames{resumed}, {seconds:.1f} s)")
