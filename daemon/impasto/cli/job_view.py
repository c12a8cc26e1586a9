"""Following a job on a terminal: its progress as a bar (or lines), its previews into a folder,
its outcome as one line or as JSON."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from impasto_protocol.client import JobHandle
from impasto_protocol.messages import Cancelled, ClipDone, FrameDone, Preview, Progress, Result

from .errors import CliError

EXIT_CANCELLED = 1


class ProgressView:
    """tqdm's bar on a terminal (as `impasto stylize` draws it); elsewhere, with `lines`, one
    line per progress event on stderr, and nothing without."""

    def __init__(
        self, lines: bool, prefix: str = "", total: int | None = None, unit: str = "it"
    ) -> None:
        self.tty = sys.stderr.isatty()  # tqdm's own test, with disable=None
        self.lines = lines and not self.tty
        self.prefix = prefix
        self.unit = unit  # what the bar counts: iterations, or a training's steps
        self.bar: Any = None
        if total is not None:
            self._open(total)

    def _open(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, unit=self.unit, disable=None, file=sys.stderr, dynamic_ncols=True
        )

    def note(self, text: str) -> None:
        if self.lines:
            print(f"{self.prefix}{text}", file=sys.stderr, flush=True)

    def update(self, p: Progress) -> None:
        size = f"{p.width}x{p.height} " if p.width else ""  # (a training has no scales)
        if p.paused:
            stats = "paused: a stylization runs first"
        elif math.isnan(p.loss):  # iteration 0: the fast networks' preview, before any loss
            stats = f"{size}instant preview"
        else:
            stats = f"{size}content {p.content_loss:.3g} style {p.style_loss:.3g}"
        if self.lines:
            self.note(f"{p.iteration}/{p.total} it, {stats}, {p.elapsed:.1f} s")
            return
        if not self.tty:
            return
        if self.bar is None:  # opened at the first event, which tells the total
            self._open(p.total)
        self.bar.total = p.total
        self.bar.update(p.iteration - self.bar.n)
        self.bar.set_postfix_str(stats, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def follow(
    handle: JobHandle, view: ProgressView, save_preview: Any = None, on_frame: Any = None
) -> Result | Cancelled | ClipDone:
    """The job's events to its end: progress to the view, previews to `save_preview`, a
    clip's frames to `on_frame`."""
    for event in handle.events():
        if isinstance(event, Progress):
            view.update(event)
        elif isinstance(event, Preview):
            view.update(event.progress)
            if save_preview is not None:
                save_preview(event)
        elif isinstance(event, FrameDone):
            if on_frame is None:
                raise CliError(f"job {handle.id} is a clip: give -o with a clip's name")
            on_frame(event)
        else:
            return event
    raise CliError(f"the events of job {handle.id} ended without an outcome")


def preview_saver(folder: Path, name: str) -> Any:
    def save(event: Preview) -> None:
        path = folder / name.format(event.progress.iteration)
        try:
            event.image.to_pil().save(path)
        except OSError as e:
            raise CliError(f"cannot write {path}: {e.strerror or e}") from None

    return save


def make_folder(path: Path, option: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"{option}: cannot create {path}: {e.strerror or e}") from None


def result_line(result: Result, head: str) -> str:
    info = result.info
    # A training's result counts steps (and its picture is the validation picture).
    count = (
        f"{info['steps']} steps" if "steps" in info else f"{info.get('iterations', '?')} iterations"
    )
    return (
        f"{head} ({result.image.width}x{result.image.height}, "
        f"{count}, {float(info.get('elapsed', 0.0)):.1f} s)"
    )


def result_summary(result: Result, output: Path | None, job: str, endpoint: str) -> dict[str, Any]:
    """The result's facts, with the keys of `impasto stylize --json` where they exist."""
    info = dict(result.info)
    summary: dict[str, Any] = {
        "output": str(output) if output is not None else None,
        "width": result.image.width,
        "height": result.image.height,
        "iterations": info.pop("iterations", None),
        "seconds": round(float(info.pop("elapsed", 0.0)), 3),
    }
    summary.update(info)
    summary.update(job=job, daemon=endpoint, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return summary
