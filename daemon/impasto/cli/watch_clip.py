"""`impasto watch JOB -o OUT` for a clip job: every frame the daemon sent and sends (a watcher
gets those done before it came, too), kept in OUT.frames/ as they arrive, and OUT written when
the clip is done. A clip job carries no timing: OUT plays at 25 frames per second (numbered
frames carry none); `impasto stylize CLIP --daemon` keeps the source's own."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from impasto_protocol.client import Client
from impasto_protocol.errors import JobCancelled
from impasto_protocol.messages import Cancelled, ClipDone, FrameDone, Preview, Progress

from .errors import CliError
from .job_view import EXIT_CANCELLED

if TYPE_CHECKING:
    from ..clips.clip_types import ClipInfo
    from .stylize_clip import WorkFolder


def watch_clip(args: argparse.Namespace, client: Client, job: str) -> int:
    from ..clips.clip_io import ClipError, check_clip_output
    from .stylize_clip import WorkFolder

    if not args.output:
        raise CliError(f"job {job} is a clip: give -o with a clip's name (out.mp4, frames/)")
    total = int(client.status(job)["job"].get("total") or 0)
    info = _info(total)
    try:
        check_clip_output(args.output, info)
    except ClipError as e:
        raise CliError(str(e)) from None
    work = WorkFolder(args.output, {"job": job, "frames": total})
    handle = client.watch(job)
    for event in handle.events():
        if isinstance(event, FrameDone):
            work.save(event.index, event.image.to_pil().convert("RGB"))
        elif isinstance(event, Preview | Progress):
            continue
        elif isinstance(event, Cancelled):
            work.remove()
            print(f"impasto watch: {JobCancelled(job, event.reason)}", file=sys.stderr)
            return EXIT_CANCELLED
        elif isinstance(event, ClipDone):
            return _write(args, work, event, info)
    raise CliError(f"the events of job {job} ended without an outcome")


def _info(frames: int) -> ClipInfo:
    """Numbered frames' timing: FRAMES_RATE, each frame as long as the next."""
    from ..clips.clip_types import FRAMES_RATE, ClipInfo

    rate = FRAMES_RATE
    step = 1 / rate
    return ClipInfo(
        width=0,
        height=0,
        frame_count=frames,
        rate=rate,
        times=tuple(i * step for i in range(frames)),
        durations=(step,) * frames,
        has_audio=False,
        kind="frames",
        range=(0, frames),
        total_frames=frames,
    )


def _write(args: argparse.Namespace, work: WorkFolder, done: ClipDone, info: ClipInfo) -> int:
    from ..clips.clip_io import write_clip

    write_clip(args.output, work.frames(), info)
    work.remove()
    if args.json:
        print(json.dumps({"output": args.output, **done.info}))
    else:
        seconds = float(done.info.get("elapsed", 0.0))
        print(f"wrote {args.output} ({done.frames} frames, {seconds:.1f} s)")
    return 0
