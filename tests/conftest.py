"""Shared fixtures: the bundled example images, shrunk, and one warm engine for the session.

Loading VGG19 takes seconds, so every engine test shares one CPU Stylizer in float32 (bfloat16
would make results depend on the CPU's instruction set).
"""

from __future__ import annotations

import os
import sys

# Before torch loads OpenMP: idle OpenMP threads then sleep instead of spinning. On a machine
# shared with other work, spinning threads wait for descheduled ones and a 32 px iteration can
# take ten times longer; sleeping costs next to nothing at these sizes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import impasto
import impasto_protocol
import impasto_protocol.codec
from impasto.engine import Stylizer
from impasto_protocol.codec import Message
from impasto_protocol.constants import ERROR

EXAMPLES = Path(impasto.__file__).parent / "examples"


def example(name: str, size: int | None = None) -> Image.Image:
    """An example image (astronaut, rocket, hubble: RGB; brick: grey), longer side `size`."""
    with Image.open(EXAMPLES / f"{name}.png") as im:
        image = im.copy()
    if size is not None:
        w, h = image.size
        scale = size / max(w, h)
        image = image.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
        )
    return image


@pytest.fixture(scope="session")
def load_example() -> Callable[..., Image.Image]:
    return example


@pytest.fixture(scope="session")
def stylizer() -> Stylizer:
    return Stylizer(device="cpu", precision="float32")


# The error replies the tests received: tests/protocol/test_spec.py checks that every error code
# is one a daemon really sent to a test, not only a word in a test's text. Every message a test
# receives goes through impasto_protocol's decode (a daemon in the test's process decodes only
# the requests sent to it, never an `error`), so an `error` decoded here is a daemon's reply.
RECEIVED_ERROR_CODES: dict[str, set[str]] = {}  # code -> ids of the tests that received it
RAN_TESTS: set[str] = set()  # ids of the tests whose body ran to a pass or a failure
COLLECTED_TESTS: set[str] = set()  # ids of the session's tests, run or not
_running: list[str] = [""]


def _recording(decode: Callable[..., Message]) -> Callable[..., Message]:
    def recording_decode(parts: Any) -> Message:
        msg = decode(parts)
        if msg.type == ERROR and isinstance(msg.body.get("code"), str):
            RECEIVED_ERROR_CODES.setdefault(msg.body["code"], set()).add(_running[0])
        return msg

    recording_decode.__wrapped__ = decode  # type: ignore[attr-defined]
    return recording_decode


# Wherever the package holds decode (whatever its modules are called): the clients' too.
_plain_decode = impasto_protocol.codec.decode
_decode = _recording(_plain_decode)
for _name, _module in list(sys.modules.items()):
    if _name.split(".")[0] == "impasto_protocol" and vars(_module).get("decode") is _plain_decode:
        _module.decode = _decode  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _running[0] = item.nodeid
    try:
        yield
    finally:
        _running[0] = ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and not report.skipped:
        RAN_TESTS.add(report.nodeid)


@pytest.fixture
def error_replies() -> tuple[set[str], set[str], dict[str, set[str]]]:
    """The ids of the session's tests, of those that ran so far, and the error codes that
    daemons sent them (code -> test ids)."""
    return COLLECTED_TESTS, RAN_TESTS, RECEIVED_ERROR_CODES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_the_others` run last: they check what the others received."""
    items.sort(key=lambda item: item.get_closest_marker("after_the_others") is not None)
    COLLECTED_TESTS.update(item.nodeid for item in items)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "after_the_others: runs after the session's other tests (see conftest.py)"
    )
