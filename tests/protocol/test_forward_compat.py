"""SPEC.md section 1: a newer minor version only adds, and receivers ignore what they do not
know. The scripted 1.9 daemon of newer_daemon.py sends an event type and fields this version has
never heard of; the blocking client and `impasto stylize --daemon` must take the job to its end
as if they were not there (the Krita and GIMP plug-ins meet the same peer in their end-to-end
tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from impasto_protocol import Client, Pixels, Preview, Progress, Result, Submit
from impasto_protocol import constants as C
from newer_daemon import NewerDaemon


@pytest.fixture
def newer(tmp_path: Path):
    peer = NewerDaemon(f"ipc://{tmp_path}/newer.sock")
    peer.start()
    yield peer.endpoint, peer
    peer.close()


def test_the_blocking_client_ignores_what_it_does_not_know(newer: tuple[str, Any]) -> None:
    endpoint, _ = newer
    pixels = Pixels(4, 2, bytes(24), "RGB")
    with Client(endpoint, timeout=10.0) as c:
        welcome = c.hello()
        assert welcome["version"] == [1, 9]
        job = c.submit(Submit(pixels, [pixels], {"size": 4}))
        events = list(job.events(timeout=10))
    assert [type(e) for e in events] == [Progress, Preview, Result]
    result = events[-1]
    assert isinstance(result, Result)
    assert (result.image.width, result.image.height) == (4, 2)


def test_impasto_stylize_on_a_newer_daemon(newer: tuple[str, Any], tmp_path: Path) -> None:
    endpoint, peer = newer
    examples = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.open(examples / "astronaut.png").convert("RGB").resize((32, 32)).save(content)
    Image.open(examples / "hubble.png").convert("RGB").resize((32, 32)).save(style)
    out = tmp_path / "out.png"
    args = [content, style, "-o", out, "--size", "32", "--daemon", endpoint]
    r = subprocess.run(
        [sys.executable, "-m", "impasto", "stylize", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert r.returncode == 0, r.stderr
    assert C.SUBMIT in peer.seen
    with Image.open(out) as image:
        assert image.size == (32, 32)
