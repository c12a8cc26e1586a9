"""Trained styles through a real daemon (protocol 1.5): its library is listed with swatches in
presets_reply and in status, a submit names a style in `settings.trained`, and what it cannot
paint is refused with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from daemon_process import (
    DaemonProcess,
    example_pixels,
    library_daemon,
    tcp_endpoint,
    train_tiny_style,
)
from PIL import Image

from impasto.engine import Job, StyleSettings
from impasto.engine.trained import TrainedStyle
from impasto_protocol import Client, RemoteError, Submit


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, stylizer, load_example) -> Path:
    folder = tmp_path_factory.mktemp("styles")
    for name, kind in (("hubble", "fast"), ("own", "scratch")):
        train_tiny_style(stylizer, load_example("hubble", 64), folder / f"{name}.style", kind)
    (folder / "broken.style").write_text("not a style")
    return folder


@pytest.fixture(scope="module")
def daemon(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    log = tmp_path_factory.mktemp("trained-daemon") / "daemon.log"
    yield from library_daemon(tcp_endpoint(), log, library)


def test_the_library_is_listed_with_swatches(daemon: DaemonProcess, library: Path) -> None:
    with Client(daemon.endpoint, timeout=30) as c:
        c.hello()
        presets, trained = c.palette()
        assert len(presets) == 26
        assert [(t.name, t.kind, t.steps) for t in trained] == [
            ("hubble", "fast", 2),
            ("own", "scratch", 2),
        ]  # broken.style is left out
        for t in trained:
            kept = TrainedStyle.load(library / f"{t.name}.style").swatch.numpy()
            assert (t.swatch.height, t.swatch.width, 3) == kept.shape
            assert np.array_equal(np.asarray(t.swatch.to_pil()), kept)
        assert c.status()["engine"]["trained_styles"] == ["hubble", "own"]


def test_a_submit_names_a_trained_style(daemon: DaemonProcess, library: Path, stylizer) -> None:
    content = example_pixels("astronaut", 48)
    settings = {"method": "fast", "trained": ["hubble"], "size": 48}
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        result = c.submit(Submit(content, [], settings=settings)).result(timeout=60)
    assert "trained style hubble (fast)" in result.info["weights"]
    assert result.info["settings"]["trained"] == ["hubble"]  # every setting as used
    mine = stylizer.stylize(
        Job(
            content.to_pil(),
            [TrainedStyle.load(library / "hubble.style")],
            StyleSettings(method="fast", size=48),
        )
    )
    theirs = np.asarray(result.image.to_pil().convert("RGB"), dtype=float)
    ours = np.asarray(mine.image.convert("RGB"), dtype=float)
    assert theirs.shape == ours.shape and np.abs(theirs - ours).mean() < 3.0  # of 255


def test_what_a_trained_style_cannot_do_is_refused(daemon: DaemonProcess, library: Path) -> None:
    content = example_pixels("astronaut", 48)
    style = example_pixels("hubble", 48)
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        with pytest.raises(RemoteError) as unknown:
            c.submit(Submit(content, [], settings={"method": "fast", "trained": ["nope"]}))
        assert unknown.value.field == "settings.trained"
        assert "no trained style 'nope'" in str(unknown.value) and "hubble, own" in str(
            unknown.value
        )
        with pytest.raises(RemoteError) as broken:
            c.submit(Submit(content, [], settings={"method": "fast", "trained": ["broken"]}))
        assert "not an Impasto trained style file" in str(broken.value)
        # A network of its own paints alone: blended with an image, the job fails, naming it.
        job = c.submit(Submit(content, [style], settings={"method": "fast", "trained": ["own"]}))
        with pytest.raises(RemoteError) as alone:
            job.result(timeout=60)
        assert alone.value.field == "styles" and "paints alone" in str(alone.value)
        # The daemon keeps serving; a deleted file is gone from the next listing.
        (library / "own.style").unlink()
        _, trained = c.palette()
        assert [t.name for t in trained] == ["hubble"]
        assert c.status()["engine"]["trained_styles"] == ["hubble"]


def test_the_command_line_names_the_daemons_trained_style(
    daemon: DaemonProcess, library: Path, tmp_path: Path
) -> None:
    content = tmp_path / "content.png"
    example_pixels("astronaut", 48).to_pil().save(content)
    out = tmp_path / "out.png"

    def impasto(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "impasto", "stylize", content, *args, "-o", out]
        env = {**os.environ, "IMPASTO_STYLES": str(tmp_path / "elsewhere")}  # not the daemon's
        return subprocess.run(
            [str(c) for c in command], capture_output=True, text=True, timeout=120, env=env
        )

    done = impasto("hubble.style", "--method", "fast", "--size", "48", "--daemon", daemon.endpoint)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as im:
        assert im.size == (48, 48)
    # A file of its own is not sent to the daemon: one line says what to do instead.
    done = impasto(library / "hubble.style", "--method", "fast", "--daemon", daemon.endpoint)
    assert done.returncode == 2 and "is not sent to a daemon" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
