"""The Impasto plug-in in the real Krita (Debian's 5.1, under Xvfb), against a real daemon.

Each test installs the plug-in with `impasto install krita` into a throwaway HOME, then a
harness plug-in (harness/impasto_e2e) drives the docker's widgets, records evidence and exits.
Krita's exit code says whether the scenario ran; the evidence says whether it did the right
thing. Run alone with `pytest -m krita`; CI installs Krita with .ci/install-krita.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest
from daemon_process import EXAMPLES, DaemonProcess
from krita_run import Outcome, install, make_home, run_scenario, save_resources
from PIL import Image

from impasto_protocol import Client, ConnectionLost

pytestmark = pytest.mark.krita

SIZE = 96  # the document
SELECTION = [24, 16, 48, 56]  # x, y, w, h: the engine sees it with some padding around it
# The daemon the tests start: small heartbeat timings would cancel a job while Krita saves.
DAEMON_TIMINGS = ("--heartbeat-interval", "1", "--heartbeat-timeout", "10")
DAEMON_COMMAND = [sys.executable, "-m", "impasto", "daemon", "--device", "cpu",
                  "--precision", "float32", *DAEMON_TIMINGS]  # fmt: skip


def images(folder: Path) -> tuple[str, str]:
    """The content (astronaut, 96 px, RGB) and the style (hubble.png, 64 px)."""
    content, style = folder / "astronaut.png", folder / "hubble.png"
    with Image.open(EXAMPLES / "astronaut.png") as im:
        im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(content)
    with Image.open(EXAMPLES / "hubble.png") as im:
        im.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS).save(style)
    return str(content), str(style)


def run(tmp_path: Path, resource_cache: Path, wheels: Path, endpoint: str, **scenario) -> Outcome:
    home = make_home(tmp_path / "krita", resource_cache)
    install(home, endpoint, DAEMON_COMMAND, wheels)
    content, style = images(tmp_path)
    outcome = run_scenario(
        home, {"image": content, "style": style, "selection": SELECTION, **scenario}
    )
    save_resources(home, resource_cache)
    assert outcome.rc == 0, (
        f"Krita exited with {outcome.rc} after {outcome.seconds:.1f} s\n"
        f"evidence: {outcome.evidence}\nlog tail:\n{outcome.log}"
    )
    return outcome


def above_source(layers: list[str], name: str) -> list[str]:
    """The layer list with `name` right above the source (the first layer; a selection adds a
    "Selection Mask" node after it)."""
    return [layers[0], name, *layers[1:]]


def pixels(data: bytes, bpp: int, i: int) -> bytes:
    return data[i * bpp : (i + 1) * bpp]


def check_document(o: Outcome, changed_inside: bool) -> None:
    """The source layer is untouched; outside the selection the image is byte-identical;
    inside it the image changed (or, after a cancel, did not)."""
    assert o.read("source_after.bin") == o.read("source_before.bin"), "source layer modified"
    sel = o.read("selection.bin")
    before, after = o.read("projection_before.bin"), o.read("projection_after.bin")
    bpp = len(before) // len(sel)
    assert bpp * len(sel) == len(before) == len(after)
    outside = [i for i, m in enumerate(sel) if m == 0]
    inside = [i for i, m in enumerate(sel) if m == 255]
    assert outside and inside
    moved = [i for i in outside if pixels(before, bpp, i) != pixels(after, bpp, i)]
    assert not moved, f"{len(moved)} pixels outside the selection changed, e.g. {moved[:5]}"
    differ = sum(pixels(before, bpp, i) != pixels(after, bpp, i) for i in inside)
    if changed_inside:
        assert differ > 0.5 * len(inside), f"only {differ}/{len(inside)} selected pixels changed"
    else:
        assert differ == 0, f"{differ} selected pixels changed"


@pytest.fixture
def daemon(tmp_path: Path):
    proc = DaemonProcess(f"ipc://{tmp_path}/d.sock", tmp_path / "daemon.log", *DAEMON_TIMINGS)
    proc.start()
    yield proc
    proc.stop()


def test_live_previews_then_result_layer(tmp_path, resource_cache, wheels, daemon) -> None:
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", size=64, iterations=40, change_strength=True, save=True, undo=True,
    )  # fmt: skip
    ev = o.evidence
    assert ev["outcome"] == "done", ev
    assert ev["color"][:2] == ["RGBA", "U8"]
    previews = [p["sha256"] for p in ev["previews"]]
    assert len(set(previews)) >= 2, f"previews that reached the layer: {ev['previews']}"
    assert ev["result_sha256"] not in previews[:1]
    # The strength change replaced the job with one that warm-started from it.
    assert len(ev["jobs"]) == 2, ev["jobs"]
    assert ev["result_info"]["warm_start"] == ev["jobs"][0]
    assert {p["job"] for p in ev["previews"]} == set(ev["jobs"])
    # One new layer, above the source, named after the style.
    assert ev["result_layer"] == "hubble"
    assert ev["layers_after"] == above_source(ev["layers_before"], "hubble")
    check_document(o, changed_inside=True)
    # The saved document holds the result layer; one undo removes it.
    assert ev["saved"]
    with zipfile.ZipFile(o.out / "saved.kra") as kra:
        maindoc = kra.read("maindoc.xml").decode()
    assert 'name="hubble"' in maindoc
    assert ev["layers_after_undo"] == ev["layers_before"]


def test_cancel_leaves_the_document_as_it_was(tmp_path, resource_cache, wheels, daemon) -> None:
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="cancel", size=64, iterations=5000,
    )  # fmt: skip
    ev = o.evidence
    assert ev["outcome"] == "cancelled", ev
    assert len(ev["previews"]) == 1  # cancelled at the first preview
    # Decided: a cancelled job's layer is removed, so the document is exactly as before.
    assert ev["layers_after"] == ev["layers_before"]
    assert o.read("projection_after.bin") == o.read("projection_before.bin")
    check_document(o, changed_inside=False)
    with daemon.client() as client:
        job = client.status(ev["jobs"][0])["job"]
    assert job["state"] == "cancelled" and job["reason"] == "client", job


def test_starts_the_daemon_when_none_runs(tmp_path, resource_cache, wheels) -> None:
    endpoint = f"ipc://{tmp_path}/auto.sock"
    assert not Path(endpoint[6:]).exists()
    pid = None
    try:
        o = run(
            tmp_path, resource_cache, wheels, endpoint,
            mode="complete", size=48, iterations=20,
        )  # fmt: skip
        ev = o.evidence
        pid = ev.get("daemon_pid")
        assert pid, ev
        assert any(s.startswith("Starting the daemon") or "loading" in s
                   for s in ev["daemon_states_seen"]), ev["daemon_states_seen"]  # fmt: skip
        assert ev["outcome"] == "done", ev
        assert ev["layers_after"] == above_source(ev["layers_before"], "hubble")
        check_document(o, changed_inside=True)
        with Client(endpoint, timeout=10) as client:  # the daemon outlives Krita, as designed
            assert client.status(ev["jobs"][0])["job"]["state"] == "done"
            client.shutdown()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        assert not _alive(pid), "the daemon did not stop after shutdown"
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
        _shutdown_quietly(endpoint)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (its parent, Krita, is gone; init reaps it soon) counts as stopped.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _shutdown_quietly(endpoint: str) -> None:
    if Path(endpoint[6:]).exists():
        try:
            with Client(endpoint, timeout=2) as client:
                client.shutdown()
        except (ConnectionLost, OSError):
            pass


@pytest.mark.parametrize(
    ("convert", "result_color"),
    [
        (["RGBA", "U16", "sRGB-elle-V2-srgbtrc.icc"], ["RGBA", "U16"]),  # sent as BGRA u16
        (["GRAYA", "U8", ""], ["GRAYA", "U8"]),  # sent as LA, written back as grey
        (["RGBA", "F32", ""], ["RGBA", "U8"]),  # linear float: through an 8-bit sRGB copy
    ],
    ids=["rgba16", "gray8", "float32-linear"],
)
def test_other_colour_models(tmp_path, resource_cache, wheels, daemon, convert, result_color):
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", size=48, iterations=12, convert=convert,
    )  # fmt: skip
    ev = o.evidence
    assert ev["outcome"] == "done", ev
    assert ev["color"][:2] == convert[:2]
    assert ev["result_color"] == result_color
    check_document(o, changed_inside=True)


def test_cmyk_is_refused_with_a_message(tmp_path, resource_cache, wheels, daemon) -> None:
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="refuse", size=48, iterations=12, convert=["CMYKA", "U8", ""],
    )  # fmt: skip
    ev = o.evidence
    assert ev["outcome"] == "idle", ev
    assert "CMYKA" in ev["message"] and "RGB" in ev["message"], ev["message"]
    assert ev["layers_after"] == ev["layers_before"]
    check_document(o, changed_inside=False)
