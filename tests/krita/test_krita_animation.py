"""impasto_krita.animation in the real Krita (Debian's 5.1, under Xvfb): the frames of an
animated layer found and read, and a new animated layer written from stylized frames.

The plug-in is installed with `impasto install krita`; a small harness plug-in
(harness/impasto_script) runs harness/animation_steps.py inside Krita, which makes a 64x48
image whose layer `source` has keyframes at 0, 2, 5 and 8 (playback range 0..6), and records
what the module did; the pixels come back as files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import krita_run
import numpy as np
import pytest
from krita_run import install, make_home

pytestmark = pytest.mark.krita

W, H = 64, 48


def run_steps(tmp_path: Path, resource_cache: Path, wheels: Path) -> tuple[dict, Path]:
    """Install the plug-in, run the steps in Krita; the evidence and the folder of files."""
    home = make_home(tmp_path / "krita", resource_cache)
    install(home, f"ipc://{tmp_path}/none.sock", [sys.executable, "-c", "pass"], wheels)
    home.kritarc.write_text("[python]\nenable_impasto_script=true\n")  # not the docker
    return krita_run.run_steps(home, "animation_steps.py", resource_cache)


def image(out: Path, name: str) -> np.ndarray:
    data = (out / f"{name}.bin").read_bytes()
    assert len(data) == W * H * 4, f"{name}: {len(data)} bytes"
    return np.frombuffer(data, np.uint8).reshape(H, W, 4)


def inverted(frame: np.ndarray) -> np.ndarray:
    out = 255 - frame
    out[..., 3] = frame[..., 3]
    return out


@pytest.fixture(scope="module")
def animated(tmp_path_factory, resource_cache, wheels) -> tuple[dict, Path]:
    """One Krita run for all the checks below (a start takes about 10 s)."""
    return run_steps(tmp_path_factory.mktemp("animation"), resource_cache, wheels)


def test_frames_found_are_the_keyframes_in_the_playback_range(animated) -> None:
    """Keyframes 0, 2, 5 (not 8, past the range); a range starting in a hold starts with it;
    a layer without animation, or none, is refused in one line."""
    found = animated[0]["found"]
    assert found["range"] == [0, 6], found
    assert found["times"] == [0, 2, 5], found
    assert found["times_from_1"] == [1, 2, 5], found  # time 1 shows keyframe 0, held
    assert "'Background' is not animated" in found["background_error"], found
    assert found["background_error"].startswith("AnimationError"), found
    assert "select the animated layer" in found["none_error"], found
    assert "\n" not in found["background_error"]


def test_frames_read_are_the_pixels_written_and_time_stays(animated) -> None:
    """Each frame read is what the test wrote at that keyframe; a held time reads its
    keyframe's picture; the current time (3) and the undo history are unchanged."""
    ev, out = animated
    for time in (0, 2, 5):
        assert np.array_equal(image(out, f"read_{time}"), image(out, f"written_{time}")), time
    assert np.array_equal(image(out, "read_1"), image(out, "written_0"))
    assert np.array_equal(image(out, "read_3"), image(out, "written_2"))
    assert not np.array_equal(image(out, "written_0"), image(out, "written_2"))
    assert ev["after_read"] == {"time": 3, "undo_same": True}, ev["after_read"]


def test_written_layer_has_keyframes_at_those_times_only(animated) -> None:
    """The new layer sits right above the source, with keyframes at 0, 2, 5 holding the
    inverted frames; the source keeps its keyframes and pixels; the time and the active layer
    are as before; the temporary image it was built in is gone."""
    ev, out = animated
    assert ev["write"].get("done") == "stylized", ev["write"]
    assert ev["write"]["views"] == 1 and ev["write"]["active_document"] == "animation", ev
    assert ev["names_after"] == ["Background", "source", "stylized"], ev["names_after"]
    assert ev["keys"] == [0, 2, 5], ev["keys"]
    for time in (0, 2, 5):
        assert np.array_equal(image(out, f"new_{time}"), inverted(image(out, f"written_{time}")))
    assert ev["source_keys"] == [0, 2, 5, 8], ev["source_keys"]
    for time in (0, 2, 5, 8):
        assert np.array_equal(image(out, f"source_{time}"), image(out, f"written_{time}"))
    assert ev["time_after"] == 3
    assert ev["active_after"] == ev["active_before"] == "source", ev


def test_writing_a_layer_is_one_undo_step(animated) -> None:
    """Built in a temporary image, the layer comes into the user's image as one "Add Layer"
    step: no "Switch current time" or "Add Keyframe" steps there."""
    ev = animated[0]
    assert ev["write_undo"] == ["Add Layer"], ev["write_undo"]


def test_a_layer_without_a_frame_at_zero(animated) -> None:
    """Frames at 2 and 5 only: Krita 5.1 keeps a keyframe at 0 on any animated raster layer,
    here transparent (it adds nothing before frame 2); one edit_undo takes the layer away,
    the source as it was. A frame of the wrong size is refused before anything."""
    ev = animated[0]
    assert ev["write2"].get("done") == "later", ev["write2"]
    assert ev["keys2"] == [0, 2, 5], ev["keys2"]
    assert ev["zero2"] == [0], ev["zero2"]  # every byte 0: transparent
    assert ev["names_after2"] == ["Background", "source", "later", "stylized"], ev
    assert ev["time_after2"] == 3
    assert ev["write2_undo"] == ["Add Layer"], ev["write2_undo"]
    assert ev["undone2"] == {"names": ["Background", "source", "stylized"], "time": 3}, ev
    assert ev["source_keys_undone"] == [0, 2, 5, 8]
    assert "not 12288 bytes" in ev["size_error"], ev["size_error"]


def test_an_image_closed_while_its_layer_is_written(animated) -> None:
    """The user closes the image before the layer is in: `failed` says so, and the temporary
    image is closed with it (only the first image is left, in its one view)."""
    closed = animated[0]["closed"]
    assert closed["done"] is None, closed
    assert "closed before its animation was written" in closed["failed"], closed
    assert closed["documents"] == ["animation"], closed
    assert closed["views"] == 1 and closed["active_document"] == "animation", closed
