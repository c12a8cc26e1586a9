"""The dialog's estimate line and the Automatic quality without GIMP: what a real daemon
estimates right after it loaded (it times a few iterations then), and which preset Automatic
chooses from those times."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

# tests/daemon/, put on sys.path by conftest
from daemon_process import DaemonProcess, tcp_endpoint
from impasto_gimp import estimate
from impasto_gimp.settings import Arguments, with_quality

from impasto_protocol import Client, policy


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    daemon = DaemonProcess(tcp_endpoint(), tmp_path_factory.mktemp("estimate") / "daemon.log")
    daemon.start(wait_ready=120)
    try:
        with Client(daemon.endpoint, timeout=10.0) as c:
            c.hello()
            yield c
    finally:
        daemon.stop()


PHOTO = (4000, 3000)  # a camera's picture: High would take many minutes on a CPU


def _seconds(c: Client, args: Arguments, region: tuple[int, int]) -> float:
    seconds = estimate.ask_estimate(c, args, region, 1)["seconds"]
    assert isinstance(seconds, float), "a loaded daemon has timed iterations: it has a time"
    return seconds


@pytest.mark.parametrize("region", [PHOTO, (64, 48)])
def test_automatic_is_the_finest_preset_expected_in_reasonable_time(
    client: Client, region: tuple[int, int]
) -> None:
    resolved, words = estimate.resolve(client, Arguments(), region, 1)
    chosen = policy.Quality(resolved.quality)
    assert words == f"Automatic: {chosen.label}"
    times = {
        q: _seconds(client, with_quality(resolved, q), region) for q in policy.AUTOMATIC_CHOICES
    }
    # The rule, checked against this machine's own measured times: the chosen preset fits the
    # reasonable time (or is the smallest), every finer one does not.
    finer = policy.AUTOMATIC_CHOICES[: policy.AUTOMATIC_CHOICES.index(chosen)]
    assert all(times[q] > policy.REASONABLE_SECONDS for q in finer), times
    assert times[chosen] <= policy.REASONABLE_SECONDS or chosen is policy.Quality.DRAFT, times
    if region == (64, 48):  # every preset computes 64x48 here: High's iterations are cheap
        assert chosen is policy.Quality.HIGH, times
    # A named preset is kept as it is.
    kept, words = estimate.resolve(client, Arguments(quality="draft"), region, 1)
    assert (kept.quality, words) == ("draft", "Draft")


def test_the_line_names_the_choice_the_size_and_the_time(client: Client) -> None:
    lines: list[str] = []
    said = threading.Event()
    worker = estimate.Estimator(client.endpoint)
    worker.on_text = lambda text: (lines.append(text), said.set())
    try:
        worker.ask(Arguments(), PHOTO, 1)
        assert said.wait(60), "no estimate line"
    finally:
        worker.close()
    resolved, words = estimate.resolve(client, Arguments(), PHOTO, 1)
    side = policy.Quality(resolved.quality).side
    size = f"{side}x{side * 3 // 4}"
    pattern = rf"{re.escape(words)}: {size} px, about \d+ (s|min) here; the result is scaled up"
    assert re.match(pattern, lines[0]), lines
