"""Live mode in the real Krita (Debian's 5.1, under Xvfb) with a real daemon: the docker's Live
row, driven by harness/live_steps.py through the impasto_script harness plug-in, with the
Impasto plug-in installed by `impasto install krita` and enabled (its docker is the real one).

The steps paint strokes with Krita's fill action (one undo step each), wait for each state's
live picture, paint a burst of strokes faster than updates, Apply, switch Live off and ask the
daemon for the jobs left. One Krita run serves every check below.
"""

from __future__ import annotations

import sys
from pathlib import Path

import krita_run
import numpy as np
import pytest
from krita_run import install, make_home

from impasto_protocol import Pixels
from impasto_protocol.submission import build_submit

pytestmark = pytest.mark.krita

W, H = 320, 240
PREVIEW = 512  # the live copy's side: the 320x240 layer is under it, so sent as it is


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, resource_cache, wheels):
    """One Krita run with its own daemon (a start takes about 10 s); the evidence, the folder
    of files and the daemon, kept for the module's tests."""
    from daemon_process import DaemonProcess
    from krita_run import DAEMON_TIMINGS

    root = tmp_path_factory.mktemp("live")
    daemon = DaemonProcess(f"ipc://{root}/d.sock", root / "daemon.log", *DAEMON_TIMINGS)
    daemon.start()
    try:
        home = make_home(root / "krita", resource_cache)
        install(home, daemon.endpoint, [sys.executable, "-c", "pass"], wheels)
        rc = home.kritarc.read_text()
        home.kritarc.write_text(rc.replace("[python]\n", "[python]\nenable_impasto_script=true\n"))
        result, out = krita_run.run_steps(home, "live_steps.py", resource_cache)
        yield result, out, daemon
    finally:
        daemon.stop()


def image(out: Path, name: str, w: int = W, h: int = H) -> np.ndarray:
    data = (out / f"{name}.bin").read_bytes()
    assert len(data) == w * h * 4, f"{name}: {len(data)} bytes"
    return np.frombuffer(data, np.uint8).reshape(h, w, 4)


def test_the_live_picture_follows_every_stroke(live_run) -> None:
    """Each stroke brings a newer live picture of that very state (its digest is the state
    live mode read last), computed on the layer's size (under the 512 px preview size), and
    the pictures differ from stroke to stroke."""
    ev, out, _ = live_run
    assert ev.get("first") is True, ev
    steps = ev["steps"]
    assert [s["shown"] for s in steps] == [True, True, True], steps
    assert [s["size"] for s in steps] == [[W, H]] * 3, steps
    assert len({s["layer"] for s in steps}) == 3, steps
    pictures = [image(out, f"live_{i}") for i in range(3)]
    assert not np.array_equal(pictures[0], pictures[1])
    assert not np.array_equal(pictures[1], pictures[2])
    assert all(p[..., 3].min() == 255 for p in pictures)  # the instant network's, opaque


def test_the_last_picture_is_the_last_state_stylized(live_run) -> None:
    """After the burst, the picture shown is the daemon's instant picture of the layer as it
    is at the end (asked again here, with the settings live mode sent), not of an earlier
    state: the last single stroke's picture is far from it."""
    ev, out, daemon = live_run
    assert ev["final_size"] == [W, H], ev
    layer = image(out, "layer")
    settings = ev["sent_settings"]
    assert settings["method"] == "fast" and settings["presets"] == [3], settings
    with daemon.client(timeout=60) as client:
        welcome = client.hello()
        content = Pixels(W, H, layer.tobytes(), "BGRA", "u8")
        submit = build_submit(
            content, [], settings, welcome, label="check", result_layout="BGRA", previews=0
        )
        result = client.submit(submit).result(timeout=120)
    again = np.frombuffer(bytes(result.image.data), np.uint8).reshape(H, W, 4).astype(float)
    final = image(out, "live_final").astype(float)
    earlier = image(out, "live_2").astype(float)
    off = np.abs(final - again).mean()
    assert off < 1.0, off
    assert np.abs(earlier - again).mean() > 5 * max(off, 0.5)


def test_a_burst_of_strokes_ends_on_its_last_state_and_never_goes_back(live_run) -> None:
    """Strokes faster than updates: the picture catches up with the last one, and the pictures
    shown only ever get newer (sequence numbers strictly rising: no stale one after a newer)."""
    ev, _, _ = live_run
    assert ev["burst_caught_up"] is True, ev
    seqs = ev["shown_seqs"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert ev["counters"]["shown"] == len(seqs) >= 5, ev["counters"]
    assert ev["preview_visible"] and ev["preview"] and max(ev["preview"]) == 240, ev


def test_the_undo_history_holds_the_strokes_and_the_apply_step_only(live_run) -> None:
    """Live updates add nothing to the image; Apply adds one layer, named after the style and
    the live size, above the painted layer, which stays active."""
    ev, out, _ = live_run
    strokes = len(ev["steps"]) + 4  # and the burst's four
    assert ev["history"] == ["Flood Fill Layer"] * strokes + ["Add Layer"], ev["history"]
    name = f"Built-in style 3 (live, {W} px)"
    expected = list(ev["names_before"])  # (with Krita's "Selection Mask" node of the strokes)
    expected.insert(expected.index("paint") + 1, name)
    assert ev["names_after"] == expected, ev
    assert ev["active_after_apply"] == "paint"
    applied = image(out, "applied")
    assert applied[..., 3].min() == 255  # the whole layer (no selection sent)
    assert not np.array_equal(applied, image(out, "layer"))


def test_live_off_leaves_no_job_on_the_daemon(live_run) -> None:
    """Switched off, live mode has nothing in flight and the daemon (asked with `status`) has
    no queued or running job; its live jobs are done or cancelled (replaced, or by the client)."""
    ev, _, _ = live_run
    assert ev["in_flight_after_off"] == 0
    assert ev["unfinished"] == [], ev["unfinished"]
    live_jobs = [j for j in ev["daemon_jobs"] if "live:" in (j["label"] or "")]
    assert live_jobs and {j["state"] for j in live_jobs} <= {"done", "cancelled"}, live_jobs
    # every live job the daemon saw is one live mode sent (Apply's new layer, active for a
    # moment, is not restyled)
    assert len(live_jobs) == ev["sent_at_end"], (live_jobs, ev["counters"])


def test_refine_when_idle_improves_the_picture_and_the_next_stroke_cancels_it(live_run) -> None:
    """With "Refine when idle" ticked, the idle state's picture is replaced by the
    optimization's (warm-started from the live job); the next stroke cancels it on the daemon at
    once, and live mode goes back to instant updates of the new state."""
    ev, _, _ = live_run
    assert ev["refined"] is True, ev
    assert ev["refined_digest_is_state"] is True
    assert ev["refines"] == {"sent": 1, "cancelled": 1}, ev["refines"]
    assert True not in ev["in_flight_after_stroke"], "no refine left in flight after the stroke"
    assert ev["caught_up_after_refine"] is True, ev
    refine_jobs = [j for j in ev["daemon_jobs"] if "live, refine:" in (j["label"] or "")]
    assert [j["state"] for j in refine_jobs] == ["cancelled"], refine_jobs
