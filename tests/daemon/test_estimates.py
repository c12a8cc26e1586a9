"""A real daemon's time left: in every progress event, from the first one on."""

from __future__ import annotations

import pytest
from daemon_process import example_pixels

from impasto_protocol import EstimateRequest, Preview, Progress, Result, Submit


def test_every_progress_event_says_the_time_left_from_the_first(daemon) -> None:
    """The daemon measured iterations while it loaded, so even its first job's first event
    (the instant picture at iteration 0, before any iteration of the job) has a time left,
    and so has each one after it, down to 0 at the last iteration."""
    settings = {"size": 64, "iterations": 6, "scales": 2, "init": "content"}
    with daemon.client() as c:
        estimate = c.estimate(EstimateRequest(64, 64, settings, styles=1))
        job = c.submit(
            Submit(
                example_pixels("astronaut", 64),
                [example_pixels("hubble", 64)],
                settings,
                preview_every=3,
                progress_every=1,
            )
        )
        events = list(job.events(timeout=120))
    assert isinstance(events[-1], Result), events[-1]
    progress = [e.progress if isinstance(e, Preview) else e for e in events[:-1]]
    assert progress and all(isinstance(p, Progress) for p in progress)
    assert [p.remaining is not None for p in progress] == [True] * len(progress), progress
    first = progress[0]
    if first.iteration == 0:  # the instant picture: the whole plan's estimate
        assert estimate["seconds"] > 0
        assert first.remaining == pytest.approx(estimate["seconds"])
    assert progress[-1].iteration == 6 and progress[-1].remaining == 0
