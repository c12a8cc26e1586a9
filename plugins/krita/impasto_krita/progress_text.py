"""What the docker's footer says about a job: the progress bar's text and the line below it.

The bar fills by time (Progress.fraction: the daemon's seconds left, when it says them), because
finer scales cost more per iteration: filled by the count, the bar would sit near its end for
most of a job. So the bar's own text says the same as its fill, the share done and the time left
("6 %, 79 s left"), and the iteration count goes on the line below (", iteration 40 of 150"),
where it cannot be read as the bar's measure. Plain functions of plain values, tested without
Krita (tests/krita/test_progress_text.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impasto_protocol import policy
from impasto_protocol.modes import Mode

# (fraction 0..1, the bar's text, the line below the bar)
Shown = tuple[float, str, str]


def retargeting(strength: int) -> str:
    """What a replacement after a strength change does, in the painter's words."""
    return f"re-targeting to strength {strength} ({policy.strength_word(strength)})"


def waits(position: int, others: int) -> bool:
    """Whether a job the daemon accepted at `position` (1-based: 1 runs next; 0 from a daemon
    that does not say) waits, while the daemon has `others` jobs of other clients. Place 1 of
    a daemon that runs nothing else starts at once: "queued" would be stale before it could
    be read."""
    return position > 1 or (position == 1 and others > 0)


def queued(position: int, replacing: bool, others: int, strength: int) -> Shown:
    """The footer when the daemon accepted the job at `position` (see waits())."""
    if replacing:  # the count starts over: say why, before the first count arrives
        return 0.0, "", f"{retargeting(strength)}: from the current result"
    if waits(position, others):
        return 0.0, "queued", f"queued: place {position} in the daemon's queue"
    return 0.0, "", "starting..."


def progress(
    mode: Mode,
    iteration: int,
    total: int,
    eta: float | None,
    fraction: float,
    retarget: str = "",
) -> Shown:
    """The footer at a job's progress: `eta` the seconds left (None: unknown yet), `fraction`
    how far by time, `retarget` the words of a replacement ("" for none): its count restarts
    at 0, and the line says why."""
    if mode is Mode.INSTANT:  # one pass: its only count is 1/1, at the end
        return fraction, "", policy.doing(mode.value, iteration) + "..."
    known = eta is not None and eta >= 0
    bar = f"{round(max(0.0, min(1.0, fraction)) * 100)} %"
    bar += f", {policy.time_left(eta)}" if known else ""
    line = retarget or policy.doing(mode.value, iteration)
    if iteration > 0:  # (Refine's iteration 0 is the instant picture, before iterating)
        line += f", iteration {iteration} of {total}"
    return fraction, bar, line


def finished(outcome: str, mode: Mode | None, info: Mapping[str, Any]) -> Shown:
    """The footer when a job ended ("done", "cancelled", "failed"); `info` the result's."""
    if outcome != "done":
        return 0.0, "", outcome
    elapsed = info.get("elapsed")
    seconds = "? s"
    if isinstance(elapsed, (int, float)):  # an instant style takes a fraction of one
        seconds = f"{elapsed:.2f} s" if elapsed < 1 else f"{elapsed:.1f} s"
    if mode is Mode.INSTANT:
        return 1.0, "done", f"done: instant style in {seconds}"
    return 1.0, "done", f"done: {info.get('iterations', '?')} iterations in {seconds}"


def clip_progress(done: int, total: int, eta: float | None) -> Shown:
    """The footer while an animation is stylized: `done` of `total` frames back, `eta` the
    daemon's seconds left (None: unknown yet). The bar fills by frames (each costs about the
    same); the line names the frame being painted, as the painter counts them."""
    fraction = done / total if total > 0 else 0.0
    if done >= total:  # the frames not in the layer yet go in next, in a moment
        line = f"animation: all {total} frames stylized, finishing the layer"
        return 1.0, f"{done}/{total}", line
    frame = done + 1
    known = eta is not None and eta >= 0
    left = f"about {policy.duration(eta)} left" if known else policy.time_left(None)
    return fraction, f"{done}/{total}", f"animation: frame {frame} of {total}, {left}"


def clip_estimate(frames: int, seconds: float | None, instant: bool) -> str:
    """What the estimate line adds while "Whole animation" is ticked: the frame count, and the
    time for all of them from the daemon's time for one picture (each frame is a stylization
    of its own; `seconds` None: the daemon gave no time). `instant`: the fast method's pass."""
    text = f"whole animation: {frames} frames"
    if seconds is not None and seconds >= 0:
        each = policy.duration(seconds)
        return f"{text}, about {policy.duration(frames * seconds)} ({each} each)"
    return f"{text}, each in one quick pass" if instant else text
