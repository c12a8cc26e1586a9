"""`impasto train` as a user runs it: a real subprocess trains a tiny style into the library,
`impasto styles` lists it, `impasto stylize` applies it by name, Ctrl-C leaves a checkpoint that
the next run resumes from, and bad input gets one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"
TINY = ["--size", "32", "--batch", "1", "--style-size", "48"]


def _env(library: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore", "IMPASTO_STYLES": str(library)}


def impasto(library: Path, *args: str | Path, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "impasto", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(library),
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    out = {}
    for name, size in (("astronaut", (48, 40)), ("hubble", (64, 56))):
        path = d / f"{name}.png"
        Image.open(EXAMPLES / f"{name}.png").convert("RGB").resize(size).save(path)
        out[name] = path
    return out


def test_train_into_the_library_list_and_apply_by_name(images, tmp_path: Path) -> None:
    library = tmp_path / "styles"
    r = impasto(library, "train", images["hubble"], "--steps", "3", *TINY, "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["output"] == str(library / "hubble.style") and summary["steps"] == 3
    assert summary["kind"] == "fast" and summary["losses"]["style"] > 0

    listed = impasto(library, "styles", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["trained"]
    assert (entry["name"], entry["kind"], entry["steps"]) == ("hubble", "fast", 3)

    out = tmp_path / "out.png"
    r = impasto(
        library, "stylize", images["astronaut"], "hubble.style", "-o", out, "--method", "fast",
        "--size", "48",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im, Image.open(images["astronaut"]) as content:
        assert im.size == content.size
        assert im.convert("RGB").tobytes() != content.convert("RGB").tobytes()
    # As the optimization's start, with its style image as the style.
    r = impasto(
        library, "stylize", images["astronaut"], "hubble.style", "-o", out, "--init", "fast",
        "--iterations", "3", "--size", "48", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["iterations"] == 3

    # Deleting the file removes the style.
    (library / "hubble.style").unlink()
    assert json.loads(impasto(library, "styles", "--json").stdout)["trained"] == []
    r = impasto(
        library, "stylize", images["astronaut"], "hubble.style", "-o", out, "--method", "fast"
    )
    assert r.returncode == 2 and "hubble.style: no such file" in r.stderr, r.stderr


def test_ctrl_c_leaves_a_checkpoint_the_next_run_resumes(images, tmp_path: Path) -> None:
    library = tmp_path / "styles"
    style = library / "hubble.style"
    checkpoint = library / "hubble.style.checkpoint"
    command = [sys.executable, "-m", "impasto", "train", str(images["hubble"]), *TINY]
    proc = subprocess.Popen(
        [*command, "--steps", "100000", "--checkpoint-every", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(library),
    )
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert checkpoint.exists(), proc.stderr.read() if proc.poll() is not None else "no file"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "resume" in err, err
    assert checkpoint.exists() and not style.exists()
    stopped = int(err.split("interrupted at step ")[1].split(";")[0])

    # The same command with a step more to go resumes where it stopped, and finishes.
    r = impasto(library, *command[3:], "--steps", str(stopped + 1), "--json")
    assert r.returncode == 0, r.stderr
    assert f"resuming at step {stopped}" in r.stderr
    assert json.loads(r.stdout)["steps"] == stopped + 1
    assert style.exists() and not checkpoint.exists()


def test_bad_input_gets_one_line(images, tmp_path: Path) -> None:
    library = tmp_path / "styles"
    cases = [
        (["train", images["hubble"], "--size", "8"], "size 8 must be 32..2048 px"),
        (["train", images["hubble"], "-o", tmp_path / "x.png"], "ends in .style"),
        (["train", tmp_path / "none.png"], "style image not found"),
        (["train", images["hubble"], "--content-dir", tmp_path / "nowhere"], "does not exist"),
        (["train", images["hubble"], "--only-content-dir"], "goes with --content-dir"),
    ]
    for args, message in cases:
        r = impasto(library, *args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, r.stderr)
    assert not library.exists()  # nothing written


@pytest.fixture
def daemon_library(tmp_path: Path):
    """A real daemon whose library is a fresh folder: (its endpoint, the folder)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
    from daemon_process import library_daemon

    library = tmp_path / "daemon-styles"
    for d in library_daemon(f"ipc://{tmp_path}/d.sock", tmp_path / "d.log", library):
        yield d, library


def test_train_on_a_daemon_ctrl_c_and_resume(images, tmp_path: Path, daemon_library) -> None:
    from impasto_protocol import Client

    daemon, library = daemon_library
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(images["astronaut"]).save(photos / "one.png")
    mine = tmp_path / "mine"  # this process's own library: the daemon's is another
    command = [
        sys.executable, "-m", "impasto", "train", str(images["hubble"]), *TINY,
        "--daemon", daemon.endpoint, "--name", "sky", "--content-dir", str(photos),
        "--only-content-dir", "--checkpoint-every", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [*command, "--steps", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(mine),
    )
    try:
        with Client(daemon.endpoint, timeout=30) as c:
            c.hello()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                jobs = [j for j in c.status()["jobs"] if j.get("name") == "sky"]
                if jobs and jobs[0]["iteration"] >= 2:
                    break
                time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "cancelled at step" in err and "resume" in err, err
    stopped = int(err.split("cancelled at step ")[1].split(" ")[0])
    assert stopped >= 2 and (library / "sky.style.checkpoint").exists()

    r = subprocess.run(
        [*command, "--steps", str(stopped + 1), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(mine),
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["name"], summary["steps"], summary["resumed_from"]) == (
        "sky",
        stopped + 1,
        stopped,
    )
    assert summary["photos"] == 1
    assert (library / "sky.style").exists() and not (library / "sky.style.checkpoint").exists()
    assert not mine.exists()  # the daemon wrote it, into its own library
    status = impasto(mine, "status", summary["job"], "--endpoint", daemon.endpoint, timeout=60)
    assert status.returncode == 0, status.stderr
    assert f"{stopped + 1}/{stopped + 1} steps" in status.stdout, status.stdout
    assert "trains:    sky" in status.stdout, status.stdout

    bad = subprocess.run(
        [*command, "--name", "a/b"], capture_output=True, text=True, timeout=120, env=_env(mine)
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "error: --name: '/' cannot be in" in bad.stderr, bad.stderr


def test_a_detached_training_is_watched_later(images, tmp_path: Path, daemon_library) -> None:
    daemon, library = daemon_library
    mine = tmp_path / "mine"
    queued = impasto(
        mine, "train", images["hubble"], *TINY, "--steps", "2", "--name", "later",
        "--daemon", daemon.endpoint, "--detach",
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    job = queued.stdout.strip()
    assert len(job) == 32 and f"impasto watch {job}" in queued.stderr, queued
    picture = tmp_path / "validation.png"
    watched = impasto(mine, "watch", job, "-o", picture, "--endpoint", daemon.endpoint)
    assert watched.returncode == 0, watched.stderr
    assert f"wrote {picture} (" in watched.stdout and ", 2 steps, " in watched.stdout, watched
    assert Image.open(picture).mode == "RGB"  # the validation picture as the style paints it
    assert (library / "later.style").exists() and not mine.exists()
