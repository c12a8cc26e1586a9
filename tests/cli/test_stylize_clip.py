"""`impasto stylize CLIP ...` as a user runs it: real subprocesses on tiny real clips (PyAV),
both methods, --frames, the audio kept, Ctrl-C and resuming; mistakes as one line and exit 2
with nothing written (those in-process, through the same main())."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from impasto.cli import main
from impasto.clips.clip_io import open_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clips"))
from cli_process import impasto
from clip_maker import make_animation, make_video

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    found = {"audio": d / "audio.mp4", "long": d / "long.mp4", "anim": d / "anim.gif"}
    make_video(found["audio"], count=6, size=(64, 48), audio=True)
    make_video(found["long"], count=10, size=(64, 48))
    make_animation(found["anim"], count=3, durations=[100, 300, 100])
    found["style"] = d / "style.png"
    Image.open(EXAMPLES / "hubble.png").convert("RGB").resize((40, 35)).save(found["style"])
    return found


def frames_of(path: Path) -> tuple[int, tuple[int, int]]:
    with open_clip(str(path)) as clip:
        return clip.info.frame_count, (clip.info.width, clip.info.height)


def test_fast_method_with_a_range_keeps_the_audio(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    mask = tmp_path / "mask.png"  # one still mask for every frame: the left half stylized
    left = Image.new("L", (64, 48))
    left.paste(255, (0, 0, 32, 48))
    left.save(mask)
    r = impasto(
        "stylize", files["audio"], "--preset", "3", "--method", "fast", "--size", 32,
        "--frames", "1:5", "--mask", mask, "-o", out, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["frames"] == 4 and summary["range"] == [1, 5] and summary["audio"]
    assert frames_of(out) == (4, (32, 24))
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    with open_clip(str(out)) as painted, open_clip(str(files["audio"]), (1, 2)) as source:
        got = np.asarray(next(iter(painted)), dtype=float)
        was = np.asarray(next(iter(source)).resize((32, 24)), dtype=float)
    change = np.abs(got - was).mean(axis=(0, 2))
    assert change[:14].mean() > 3 * change[18:].mean()  # the mask's black half kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png", "out.mp4"]  # no frames/


def test_optimization_on_an_animation(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.png"  # an animated PNG
    r = impasto(
        "stylize", files["anim"], files["style"], "--size", 32, "--iterations", 2,
        "--temporal", 0.5, "--preserve-color", "luminance", "-o", out,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "3 frames" in r.stdout
    with open_clip(str(out)) as clip:
        assert clip.info.frame_count == 3 and [d * 1000 for d in clip.info.durations] == [
            100,
            300,
            100,
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def interrupt_after(command: list[str | Path | int], work: Path, frames: int) -> str:
    """Run `command`, Ctrl-C it once `frames` frames are kept in `work`; its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "impasto", *map(str, command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    deadline = time.monotonic() + 240
    while len(list(work.glob("[0-9]*.png"))) < frames and proc.poll() is None:
        assert time.monotonic() < deadline, "no frames done in time"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "run the same command again" in stderr and str(work) in stderr
    return stderr


def test_ctrl_c_keeps_the_frames_done_and_the_same_command_resumes(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "painted"  # a folder of numbered PNGs: lossless, frame for frame
    work = tmp_path / "painted.frames"
    command: list[str | Path | int] = [
        "stylize", files["long"], files["style"], "--size", 32, "--iterations", 6, "-o", out,
        "--json",
    ]  # fmt: skip
    interrupt_after(command, work, 2)
    assert not out.exists()  # OUT only when complete
    kept = sorted(work.glob("[0-9]*.png"))
    assert 2 <= len(kept) < 10 and (work / "manifest.json").is_file()
    stamps = {p.name: p.stat().st_mtime_ns for p in kept}
    kept_pixels = [Image.open(p).tobytes() for p in kept]

    interrupt_after(command, work, len(kept) + 1)  # resumed, and stopped again
    assert not out.exists()
    more = sorted(work.glob("[0-9]*.png"))
    assert len(more) > len(kept)
    assert {name: (work / name).stat().st_mtime_ns for name in stamps} == stamps  # untouched

    r = impasto(*command)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["resumed_at"] == len(more)  # the frames kept, not recomputed
    assert not work.exists()
    written = sorted(out.iterdir())
    assert len(written) == 10
    for path, pixels in zip(written, kept_pixels, strict=False):
        assert Image.open(path).tobytes() == pixels


def tiny_trained_style(path: Path) -> Path:
    """A trained style file (an untrained scratch network: any weights paint)."""
    import torch

    from impasto.engine.fast.johnson import JohnsonNetwork
    from impasto.engine.train_settings import Kind
    from impasto.engine.trained import TrainedStyle

    picture = torch.full((32, 32, 3), 128, dtype=torch.uint8)
    weights = JohnsonNetwork(8).state_dict()
    TrainedStyle("tiny", Kind.SCRATCH, weights, picture, picture, width=8).save(path)
    return path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
    from daemon_process import DaemonProcess

    tmp = tmp_path_factory.mktemp("clip-daemon")
    proc = DaemonProcess(f"ipc://{tmp}/d.sock", tmp / "daemon.log").start()
    yield proc
    proc.stop()


def test_on_a_daemon_ctrl_c_keeps_the_frames_and_the_same_command_goes_on(
    files: dict[str, Path], tmp_path: Path, daemon
) -> None:
    """The clip as a daemon's clip job: interrupted and resumed (the frames left sent with
    `after`), it gives the very frames of the same command run in this process."""
    here, there = tmp_path / "here", tmp_path / "there"
    options = [files["style"], "--size", 32, "--iterations", 6, "--precision", "float32", "--json"]
    local = impasto("stylize", files["long"], *options, "-o", here)
    assert local.returncode == 0, local.stderr
    command = ["stylize", files["long"], *options, "-o", there, "--daemon", daemon.endpoint]
    interrupt_after(command, tmp_path / "there.frames", 3)
    assert not there.exists()
    r = impasto(*command)
    assert r.returncode == 0, r.stderr
    assert 3 <= json.loads(r.stdout)["resumed_at"] < 10
    ours, theirs = sorted(here.iterdir()), sorted(there.iterdir())
    assert len(ours) == len(theirs) == 10
    for a, b in zip(ours, theirs, strict=True):
        assert Image.open(a).tobytes() == Image.open(b).tobytes(), b.name
    assert "job" in daemon.log() and not (tmp_path / "there.frames").exists()


def test_impasto_watch_writes_a_clip_jobs_frames(tmp_path: Path, daemon) -> None:
    """A clip job sent by a script, followed from the command line: every frame, written."""
    from impasto_protocol import Client, ClipRequest, Pixels
    from impasto_protocol.messages import ClipDone, FrameDone

    with open_clip(str(Path(__file__).resolve().parents[1] / "data/clips/carphone_6.mp4")) as c:
        frames = [Pixels.from_pil(image) for image in c]
    request = ClipRequest(
        6, frames[0].width, frames[0].height, "RGB", settings={"method": "fast", "size": 40,
        "presets": [2]}, detach=True,
    )  # fmt: skip
    with Client(daemon.endpoint, timeout=10) as client:
        client.hello()
        handle = client.clip(request, frames)
        sent = [e for e in handle.events(120) if isinstance(e, FrameDone | ClipDone)]
    out = tmp_path / "watched"
    r = impasto("watch", handle.id, "-o", f"{out}/%02d.png", "--endpoint", daemon.endpoint)
    assert r.returncode == 0, r.stderr
    assert "6 frames" in r.stdout
    written = sorted(out.iterdir())
    assert [p.name for p in written] == [f"{i:02d}.png" for i in range(6)]
    for path, event in zip(written, sent[:6], strict=True):
        assert Image.open(path).tobytes() == event.image.to_pil().tobytes()
    r = impasto("watch", handle.id, "--endpoint", daemon.endpoint)
    assert r.returncode == 2 and "is a clip: give -o" in r.stderr


def test_a_different_command_starts_over(files: dict[str, Path], tmp_path: Path) -> None:
    """...with a trained style (as stills take them) this time."""
    style = tiny_trained_style(tmp_path / "tiny.style")
    out = tmp_path / "out.gif"
    work = tmp_path / "out.gif.frames"
    work.mkdir()
    (work / "manifest.json").write_text('{"source": "another"}')
    Image.new("RGB", (32, 24)).save(work / "000000.png")
    r = impasto(
        "stylize", files["anim"], style, "--method", "fast", "--size", 32, "-o", out, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "starting over" in r.stderr and json.loads(r.stdout)["resumed_at"] == 0
    assert frames_of(out) == (3, (32, 21)) and not work.exists()


BAD = [
    (["--frames", "2:9"], "out.mp4", "--frames 2:9 is outside the clip, which has 6 frames"),
    (["--frames", "4:2"], "out.mp4", "--frames 4:2: takes no frame"),
    ([], "out.jpg", "no clip writer for '.jpg'"),
    (["--temporal", "2"], "out.mp4", "--temporal: must be within 0..1"),
    (["--time-budget", "5"], "out.mp4", "--time-budget is for stills"),
    (["--mask", "missing.png"], "out.mp4", "mask not found"),
    (["--size", "1"], "out.mp4", "--size"),
]


@pytest.mark.parametrize(("extra", "out", "message"), BAD)
def test_mistakes_are_one_line_exit_2_nothing_written(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    out: str,
    message: str,
) -> None:
    args = ["stylize", str(files["audio"]), "--preset", "2", "--method", "fast"]
    assert main([*args, *extra, "-o", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_not_a_clip_and_clip_options_on_a_still(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    assert main(["stylize", str(fake), "--preset", "2", "-o", str(tmp_path / "o.mp4")]) == 2
    assert "not a video or animation FFmpeg can read" in capsys.readouterr().err
    still = EXAMPLES / "rocket.png"
    assert main(["stylize", str(still), "--preset", "2", "--frames", "0:2", "-o", "x.png"]) == 2
    assert "--frames is for clips" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4"]
