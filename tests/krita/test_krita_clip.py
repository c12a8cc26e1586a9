"""A layer's animation stylized through the docker in the real Krita (Debian's 5.1, under Xvfb),
against a real daemon: the "Whole animation" option, Start with the Instant mode and a built-in
style, the new animated layer (a frame in it as it comes), its undo, Cancel, and the frames
against the daemon's own for the same frames and settings.

The plug-in is installed with `impasto install krita` and runs as the user's docker; the
script harness (harness/impasto_script) runs harness/clip_steps.py inside Krita, which drives
the docker's widgets and records what happened; the pixels come back as files.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import krita_run
import numpy as np
import pytest
from krita_run import install, make_home
from PIL import Image

from impasto_protocol import Client, ClipDone, ClipRequest, FrameDone, Pixels

pytestmark = pytest.mark.krita

SCREENSHOTS = Path(__file__).resolve().parents[2] / "plugins" / "krita" / "screenshots"
W, H = 64, 48
KEYS = (0, 2, 5)


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory, resource_cache, wheels):
    """One Krita run (the docker enabled, and the script harness) with its own daemon; the
    evidence, the folder of files and the daemon, kept for the module's tests."""
    from daemon_process import DaemonProcess
    from krita_run import DAEMON_TIMINGS

    root = tmp_path_factory.mktemp("clip")
    daemon = DaemonProcess(f"ipc://{root}/d.sock", root / "daemon.log", *DAEMON_TIMINGS)
    daemon.start(wait_ready=180.0)  # (conftest's DAEMON_READY_S: a loaded machine)
    try:
        home = make_home(root / "krita", resource_cache)
        install(home, daemon.endpoint, [sys.executable, "-c", "pass"], wheels)
        rc = home.kritarc.read_text()
        home.kritarc.write_text(rc.replace("enable_impasto_e2e=true", "enable_impasto_script=true"))
        ev, out = krita_run.run_steps(home, "clip_steps.py", resource_cache)
        yield ev, out, daemon
    finally:
        daemon.stop()


def image(out: Path, name: str) -> np.ndarray:
    data = (out / f"{name}.bin").read_bytes()
    assert len(data) == W * H * 4, f"{name}: {len(data)} bytes"
    return np.frombuffer(data, np.uint8).reshape(H, W, 4)


def test_whole_animation_through_the_docker(clip_run) -> None:
    """The option names the frame count; the result is one new animated layer above the
    source, keyframes where the source has them, stylized; the source unchanged and still the
    active layer, the current time as it was; one undo step, which takes it away; a cancelled
    clip leaves no layer."""
    ev, out, _ = clip_run
    option = ev["option"]
    assert option["text"] == "Whole animation (3 frames)" and not option["checked"], option
    assert "new animated layer" in option["tooltip"], option
    # Before Start, the estimate covers every frame (Instant: the daemon gives no time).
    assert option["estimate"].endswith("; whole animation: 3 frames, each in one quick pass")
    assert ev["done"]["outcome"] == "done", ev["done"]
    assert any(line.startswith("animation: frame ") for line in ev["done"]["lines"]), ev["done"]
    assert ev["names_before"] == ["Background", "source"], ev
    assert ev["names_after"][:2] == ["Background", "source"] and len(ev["names_after"]) == 3, ev
    name = ev["names_after"][2]
    assert re.fullmatch(rf"Built-in style 3 \(instant, {W} px, animation\)", name), name
    assert ev["new_keys"] == list(KEYS) and ev["source_keys"] == list(KEYS), ev
    for t in KEYS:
        assert np.array_equal(image(out, f"source_{t}"), image(out, f"written_{t}")), t
    assert not np.array_equal(image(out, "new_2"), image(out, "written_2"))
    assert not np.array_equal(image(out, "new_2"), image(out, "new_5"))  # each frame its own
    # Frames 0 and 5 went in at the end, by moving the time there and back: no step is left
    # of it ("Switch current time"), and the time is the painter's again.
    assert ev["undo_added"] == ["Add Layer"], ev["undo_added"]
    assert ev["undo_last"] == ["Add Layer"], ev["undo_last"]
    assert ev["time_after"] == 3 and ev["active_after"] == "source", ev
    assert ev["names_undone"] == ["Background", "source"], ev
    assert ev["cancel"]["outcome"] == "cancelled", ev["cancel"]
    assert ev["names_cancelled"] == ["Background", "source"], ev
    # The pictures plugins/krita/README.md shows (the option ticked; the first frame back);
    # IMPASTO_UPDATE_SCREENSHOTS=1 copies them there.
    for name in ("docker_animation", "docker_animation_running"):
        with Image.open(out / f"{name}.png") as im:
            assert im.width > 150 and im.height > 300, (name, im.size)
        if os.environ.get("IMPASTO_UPDATE_SCREENSHOTS") == "1":
            (SCREENSHOTS / f"{name}.png").write_bytes((out / f"{name}.png").read_bytes())


def test_a_frame_goes_into_the_layer_as_it_comes(clip_run) -> None:
    """While the clip runs, the frame the image shows (time 3 shows keyframe 2) is in the new
    layer as soon as it is back, the others still transparent: the painter watches it come.
    The rest go in when the clip ends (there is no writing at another time in Krita 5.1)."""
    ev, out, _ = clip_run
    shown = ev["done"]["shown"]
    assert shown == [{"time": 2, "state": "running", "now": 3, "filled": [2]}], shown
    for t in KEYS:
        assert image(out, f"new_{t}")[..., 3].min() == 255, t  # every keyframe, in the end


def test_the_frames_are_those_of_a_direct_clip_job(clip_run) -> None:
    """The same frames and settings sent straight to the daemon give the same pictures as the
    new layer's keyframes, pixel for pixel: Krita's frames travel and come back as they are
    stored (BGRA, unscaled at the image's size), so the temporal consistency (the warping
    error) is the daemon's alone."""
    ev, out, daemon = clip_run
    sent = ev["sent"]
    assert sent["settings"]["size"] == W and sent["settings"]["method"] == "fast", sent
    frames = [Pixels(W, H, (out / f"written_{t}.bin").read_bytes(), "BGRA", "u8") for t in KEYS]
    request = ClipRequest(
        frames=len(KEYS), width=W, height=H, layout="BGRA", settings=sent["settings"],
        temporal=sent["temporal"], result_layout="BGRA",
    )  # fmt: skip
    direct: dict[int, np.ndarray] = {}
    with Client(daemon.endpoint, timeout=60.0) as client:
        client.hello()
        for event in client.clip(request, frames).events(180):
            if isinstance(event, FrameDone):
                assert (event.image.width, event.image.height) == (W, H), event.image
                data = np.frombuffer(bytes(event.image.data), np.uint8)
                direct[event.index] = data.reshape(H, W, 4)
            if isinstance(event, ClipDone):
                break
    assert sorted(direct) == [0, 1, 2]
    for i, t in enumerate(KEYS):
        np.testing.assert_array_equal(image(out, f"new_{t}"), direct[i], err_msg=f"frame {t}")
