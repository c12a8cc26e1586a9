from __future__ import annotations

from daemon_process import example_pixels

from impasto_protocol import Preview, Result, Submit


def test_submit_streams_previews_then_the_result(daemon) -> None:
    with daemon.client() as c:
        job = c.submit(
            Submit(
                example_pixels("astronaut"),
                [example_pixels("hubble")],
                {"size": 48, "iterations": 6},
                preview_every=2,
            )
        )
        events = list(job.events(timeout=60))
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and isinstance(events[-1], Result)
    result = events[-1]
    assert (result.image.width, result.image.height, result.image.layout) == (48, 48, "RGB")
    assert result.info["iterations"] == 6
