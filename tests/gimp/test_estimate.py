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


def _times(high: float, normal: float, draft: float):
    table = {policy.Quality.HIGH: high, policy.Quality.NORMAL: normal, policy.Quality.DRAFT: draft}
    return table.__getitem__


R = policy.REASONABLE_SECONDS
H = policy.AUTOMATIC_HYSTERESIS


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ((R, 60, 10), policy.Quality.HIGH),
        ((R + 1, R, 10), policy.Quality.NORMAL),
        ((900, R + 1, R + 1), policy.Quality.DRAFT),  # nothing fits: the smallest
    ],
)
def test_automatic_without_a_previous_choice_is_the_finest_in_time(times, expected) -> None:
    assert policy.automatic_quality(_times(*times)) is expected


def test_automatic_does_not_flip_on_noise_around_the_line() -> None:
    """High's estimate moving a few per cent either side of the line, as the daemon's
    measured costs do between two openings of the dialog: without the previous choice
    Automatic flips each time, with it it keeps the first."""
    noisy = [R * f for f in (1.05, 0.95, 1.1, 0.9, 1.05)]
    alone = [policy.automatic_quality(_times(t, 60, 10)) for t in noisy]
    assert len(set(alone)) == 2  # the flipping the hysteresis is for
    kept, previous = [], None
    for t in noisy:
        previous = policy.automatic_quality(_times(t, 60, 10), previous)
        kept.append(previous)
    assert kept == [policy.Quality.NORMAL] * len(noisy)


@pytest.mark.parametrize(
    ("previous", "times", "expected"),
    [
        # The previous choice is kept up to R * H...
        (policy.Quality.HIGH, (R * H, 60, 10), policy.Quality.HIGH),
        (policy.Quality.HIGH, (R * H + 1, 60, 10), policy.Quality.NORMAL),
        # ...and a finer one taken only under R / H.
        (policy.Quality.NORMAL, (R / H + 1, 60, 10), policy.Quality.NORMAL),
        (policy.Quality.NORMAL, (R / H, 60, 10), policy.Quality.HIGH),
        (policy.Quality.DRAFT, (R / H + 1, R / H, 10), policy.Quality.NORMAL),
        # A coarser one than the previous: the plain rule (the previous is clearly too slow).
        (policy.Quality.HIGH, (900, R, 10), policy.Quality.NORMAL),
        (policy.Quality.HIGH, (900, R + 1, 10), policy.Quality.DRAFT),
        # Full size is never Automatic's: as if there were no previous choice.
        (policy.Quality.FULL, (R, 60, 10), policy.Quality.HIGH),
    ],
)
def test_automatic_keeps_its_previous_choice_within_the_band(previous, times, expected) -> None:
    assert policy.automatic_quality(_times(*times), previous) is expected


def test_without_estimates_automatic_is_the_default_whatever_came_before() -> None:
    assert policy.automatic_quality(lambda q: None, policy.Quality.HIGH) is policy.DEFAULT_QUALITY


def test_resolve_remembers_automatic_s_choice_for_the_same_question(client: Client) -> None:
    """The dialog's worker and OK's run share the choice: a question asked again starts from
    the last answer (here a Draft remembered for a tiny region, where High is clearly in time
    and so is taken; and the answer is remembered in its place)."""
    region = (64, 48)
    key = (Arguments(), region, True)
    estimate._automatic[key] = policy.Quality.DRAFT
    try:
        resolved, words = estimate.resolve(client, Arguments(), region, 1)
        assert (resolved.quality, words) == ("high", "Automatic: High")
        assert estimate._automatic[key] is policy.Quality.HIGH
        again, _ = estimate.resolve(client, Arguments(), region, 1)
        assert again == resolved
    finally:
        estimate._automatic.pop(key, None)
