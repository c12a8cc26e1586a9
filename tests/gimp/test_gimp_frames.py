"""Style Transfer (Animation) in the real GIMP 3.0, against a real daemon: a layers-as-frames
image (a full layer, a smaller offset one, a layer group) comes back as a new image of painted
frames, in order, named as before (timings kept), the source untouched; the frames are the
very ones a direct clip job of the same frames and settings gives, so the plug-in adds no
flicker of its own. A one-layer image and a daemon without clip jobs get one line each, and no
new image. One GIMP session (batch/frames.py) makes every call."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image

from conftest import _free_port
from impasto_protocol import Client, ClipDone, ClipRequest, FrameDone, Pixels
from newer_daemon import NewerDaemon

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

SIZE = (48, 40)
SHIFT = (3, 2)  # the second crop, moved: the motion between frames
SMALL = (4, 4, 40, 32)  # frame 3: a smaller layer at an offset (x, y, width, height)
NAMES = ["Frame 1 (100ms)", "Frame 2 (200ms)", "Frame 3 (100ms) (replace)", "Frame 4 (300ms)"]
ARGUMENTS = {"mode": "instant", "presets": "3"}
# The optimization from the instant picture, at a steadiness of the caller's own.
REFINE = {"mode": "refine", "trained": "hubble", "iterations": 3, "steadiness": 0.5, "size": 32}


def crops(load_example) -> tuple[Image.Image, Image.Image]:
    """Two crops of one picture, the second moved by SHIFT."""
    picture = load_example("astronaut", 96)
    w, h = SIZE
    first = picture.crop((20, 10, 20 + w, 10 + h))
    dx, dy = SHIFT
    return first, picture.crop((20 + dx, 10 + dy, 20 + dx + w, 10 + dy + h))


def canvases(first: Image.Image, second: Image.Image) -> list[np.ndarray]:
    """Each frame as the plug-in must send it: RGBA at the image's size, the smaller layer on
    transparency, the group as its one layer shows."""
    opaque = [np.asarray(image.convert("RGBA")) for image in (first, second)]
    x, y, w, h = SMALL
    small = np.zeros((*SIZE[::-1], 4), np.uint8)
    small[y : y + h, x : x + w] = opaque[0][:h, :w]
    return [opaque[0], opaque[1], small, opaque[1]]


@pytest.fixture(scope="module")
def calls(gimp: GimpHost, load_example) -> Any:
    out = gimp.shared / "out" / "frames"
    out.mkdir(parents=True)
    first, second = crops(load_example)
    first.save(out / "first.png")
    second.save(out / "second.png")
    x, y, w, h = SMALL
    first.crop((0, 0, w, h)).save(out / "small.png")
    frames = [
        {"path": gimp.inside(out / "first.png"), "name": NAMES[0]},
        {"path": gimp.inside(out / "second.png"), "name": NAMES[1]},
        {"path": gimp.inside(out / "small.png"), "name": NAMES[2], "offset": [x, y]},
        {"path": gimp.inside(out / "second.png"), "name": NAMES[3], "group": True},
    ]
    older = NewerDaemon(f"tcp://127.0.0.1:{_free_port()}")  # no clip_defaults: no clip jobs
    older.start()
    params = {
        "out": gimp.inside(out),
        "frames": frames,
        "calls": {
            "animation": {"frames": 4, "arguments": ARGUMENTS},
            "indexed": {"frames": 4, "arguments": ARGUMENTS, "indexed": True},
            "refine": {"frames": 2, "arguments": REFINE},
            "one_layer": {"frames": 1, "arguments": ARGUMENTS},
            "too_old": {"frames": 2, "arguments": {**ARGUMENTS, "endpoint": older.endpoint}},
        },
    }
    (gimp.shared / "frames.json").write_text(json.dumps(params))
    try:
        done = subprocess.run(gimp.command("frames.py"), capture_output=True, text=True)
    finally:
        older.close()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "frames.json").read_text()), out, canvases(first, second)


def painted(out: Path, call: str, count: int) -> list[np.ndarray]:
    w, h = SIZE
    return [
        np.frombuffer((out / f"{call}-{i}.rgba").read_bytes(), np.uint8).reshape(h, w, 4)
        for i in range(count)
    ]


def test_the_frames_come_back_painted_in_order_with_their_names(calls) -> None:
    got, out, sent = calls
    ev = got["animation"]
    assert ev["status"] == "success", ev
    assert ev["names"] == NAMES, ev["names"]  # bottom up, the timings kept
    assert ev["size"] == list(SIZE) and ev["layer_sizes"] == [list(SIZE)] * 4, ev
    assert ev["new_images"] == 1, ev
    details = ev["details"]
    assert details["frames"] == 4 and details["settings"]["method"] == "fast", details
    assert details["settings"]["presets"] == [3], details
    for i, (frame, source) in enumerate(zip(painted(out, "animation", 4), sent, strict=True)):
        shown = source[..., 3] > 0
        change = np.abs(frame[..., :3].astype(int) - source[..., :3].astype(int))[shown].mean()
        assert change > 10, f"frame {i} is hardly changed ({change:.1f} levels)"
        assert (frame[..., 3] == source[..., 3]).all(), f"frame {i}: transparency not kept"


def test_an_indexed_animation_as_gimp_opens_a_gif(calls) -> None:
    """A GIF opens as an indexed image: its frames are read as RGBA all the same, and the
    result is an RGB image (the painted frames have more colours than a palette holds)."""
    got, out, sent = calls
    ev = got["indexed"]
    assert ev["status"] == "success", ev
    assert ev["names"] == NAMES and ev["size"] == list(SIZE) and ev["new_images"] == 1, ev
    for i, (frame, source) in enumerate(zip(painted(out, "indexed", 4), sent, strict=True)):
        change = np.abs(frame[..., :3].astype(int) - source[..., :3].astype(int)).mean()
        assert change > 10, f"frame {i} is hardly changed ({change:.1f} levels)"


def test_refine_with_a_trained_style_and_the_callers_steadiness(calls) -> None:
    """Refine: the optimization, the first frame from its instant picture with every
    iteration; the steadiness and size given are the clip's, and smaller frames are scaled up
    to the image."""
    got, _, _ = calls
    ev = got["refine"]
    assert ev["status"] == "success", ev
    assert ev["names"] == NAMES[:2] and ev["layer_sizes"] == [list(SIZE)] * 2, ev
    details = ev["details"]
    assert (details["temporal"], details["width"], details["height"]) == (0.5, 32, 27), details
    settings = details["settings"]
    assert (settings["method"], settings["init"], settings["iterations"]) == ("gatys", "fast", 3)
    assert settings["trained"] == ["hubble"], settings


def test_the_source_animation_is_left_as_it_was(calls) -> None:
    got, _, _ = calls
    for call in ("animation", "indexed", "refine", "one_layer", "too_old"):
        ev = got[call]
        assert ev["source_after"] == ev["source_before"], call
    assert [name for name, _ in got["animation"]["source_before"]] == NAMES[::-1]


def test_the_frames_are_those_of_a_direct_clip_job(gimp: GimpHost, calls) -> None:
    """The same frames and settings sent straight to the daemon give the same pictures, pixel
    for pixel: GIMP reads and writes the frames losslessly, and the temporal consistency (the
    warping error) is the daemon's alone."""
    got, out, sent = calls
    details = got["animation"]["details"]
    frames = [np.ascontiguousarray(frame) for frame in sent]
    pixels = [Pixels(SIZE[0], SIZE[1], frame.tobytes(), "RGBA", "u8") for frame in frames]
    request = ClipRequest(
        frames=4, width=SIZE[0], height=SIZE[1], layout="RGBA",
        settings=details["sent"]["settings"], temporal=details["sent"]["temporal"],
        result_layout="RGBA",
    )  # fmt: skip
    direct = {}
    with Client(gimp.endpoint, timeout=60.0) as client:
        client.hello()
        for event in client.clip(request, pixels).events(180):
            if isinstance(event, FrameDone):
                direct[event.index] = np.asarray(event.image.to_pil().convert("RGBA"))
            if isinstance(event, ClipDone):
                break
    assert sorted(direct) == [0, 1, 2, 3]
    for i, frame in enumerate(painted(out, "animation", 4)):
        np.testing.assert_array_equal(frame, direct[i], err_msg=f"frame {i}")


def test_it_is_in_the_filters_menu(calls) -> None:
    got, _, _ = calls
    assert got["menu"] == {
        "label": "Style Transfer (Animation)...",
        "paths": ["<Image>/Filters/Artistic"],
    }, got["menu"]


@pytest.mark.parametrize(
    ("call", "message"),
    [("one_layer", "at least 2 frames"), ("too_old", "too old for animations")],
)
def test_what_cannot_be_animated_gets_one_line_and_no_image(calls, call: str, message) -> None:
    got, _, _ = calls
    ev = got[call]
    assert ev["status"] == "execution-error", ev
    assert message in ev["error"] and "\n" not in ev["error"].strip(), ev
    assert ev["new_images"] == 0, ev
