"""The footer's words for a job (progress_text.py), without Krita: the bar's text says what its
fill measures, and the count goes on the line below."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from impasto_krita import progress_text

from impasto_protocol import Progress
from impasto_protocol.modes import Mode


def event(iteration: int, total: int, elapsed: float, remaining: float | None) -> Progress:
    body = {"iteration": iteration, "total": total, "elapsed": elapsed, "remaining": remaining}
    return Progress.from_body(body)


def test_the_bar_says_the_share_of_time_its_fill_shows_and_the_line_the_count() -> None:
    """40 of 150 iterations are done in 5 s of an 84 s job (the coarse scales are cheap): the
    bar is 6 % full and says 6 %, not "40/150", which reads as 27 %."""
    p = event(40, 150, 5.0, 79.0)
    fraction, bar, line = progress_text.progress(Mode.PAINT, 40, 150, p.eta, p.fraction)
    assert round(fraction * 100) == 6
    assert bar == "6 %, 79 s left"
    assert line == "painting: iterations of the optimizer, iteration 40 of 150"


def test_the_time_left_is_the_daemons_remaining_when_it_says_one() -> None:
    """At 2.5 s the pace so far says 2.5 / 5 * 145 = 72 s; the daemon, which knows the later
    scales cost more per iteration, says 85 s: that is the one shown."""
    p = event(5, 150, 2.5, 85.0)
    _, bar, _ = progress_text.progress(Mode.PAINT, 5, 150, p.eta, p.fraction)
    assert bar == "3 %, 85 s left"
    without = event(5, 150, 2.5, None)  # an older daemon: by the pace, and the bar by count
    _, bar, _ = progress_text.progress(Mode.PAINT, 5, 150, without.eta, without.fraction)
    assert bar == "3 %, 72 s left"


def test_no_time_before_the_first_iteration_and_no_count_for_the_instant_picture() -> None:
    p = event(0, 58, 0.0, None)
    _, bar, line = progress_text.progress(Mode.REFINE, 0, 58, p.eta, p.fraction)
    assert (bar, line) == ("0 %", "instant picture shown; refining it")
    _, bar, line = progress_text.progress(Mode.INSTANT, 1, 1, None, 1.0)
    assert (bar, line) == ("", "painting with the instant style...")


def test_a_replacement_says_why_its_count_starts_over() -> None:
    retarget = progress_text.retargeting(70)
    _, _, line = progress_text.progress(Mode.REFINE, 3, 38, 20.0, 0.1, retarget)
    assert line == "re-targeting to strength 70 (strong), iteration 3 of 38"
    assert progress_text.queued(1, True, 0, 70)[2] == f"{retarget}: from the current result"


def test_place_one_of_an_idle_daemon_is_starting_not_queued() -> None:
    """SPEC: `position` is 1-based and 1 runs next; with nothing else on the daemon the job
    runs at once."""
    assert progress_text.queued(1, False, 0, 50) == (0.0, "", "starting...")
    assert progress_text.queued(0, False, 0, 50) == (0.0, "", "starting...")
    busy = (0.0, "queued", "queued: place 1 in the daemon's queue")
    assert progress_text.queued(1, False, 1, 50) == busy  # another client's job runs first
    assert progress_text.queued(3, False, 0, 50)[2] == "queued: place 3 in the daemon's queue"


def test_the_end_says_what_was_done() -> None:
    info = {"iterations": 38, "elapsed": 12.34}
    assert progress_text.finished("done", Mode.REFINE, info) == (
        1.0,
        "done",
        "done: 38 iterations in 12.3 s",
    )
    instant = progress_text.finished("done", Mode.INSTANT, {"elapsed": 0.123})
    assert instant[2] == "done: instant style in 0.12 s"
    assert progress_text.finished("cancelled", Mode.PAINT, {}) == (0.0, "", "cancelled")
