"""Steps run inside Krita by the impasto_script harness for tests/krita/test_krita_live.py: the
real docker's Live row on a real daemon. They paint strokes with Krita's own fill action (each
an undo step, as a brush stroke is), wait for the live picture of each state, paint a burst of
strokes closer together than an update takes, Apply, switch Live off and ask the daemon which
jobs are left. What they saw is returned; the pictures go to files in `out`."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from PyQt5.QtWidgets import QApplication

from krita import Krita, ManagedColor, Selection

W, H = 320, 240
WAIT_S = 60  # for one live picture, on a loaded machine
# (x, y, w, h, BGR colour 0..1): strokes, one at a time
STROKES = [
    (20, 20, 120, 40, (0.9, 0.1, 0.1)),
    (160, 60, 60, 140, (0.1, 0.8, 0.2)),
    (40, 150, 200, 30, (0.1, 0.2, 0.9)),
]
BURST = [(10 + 30 * i, 100, 25, 25, (0.9, 0.9 - 0.2 * i, 0.1)) for i in range(4)]


def undo_history() -> list[str]:
    for w in QApplication.instance().allWidgets():
        if w.metaObject().className() == "KisUndoView":
            model, current = w.model(), w.currentIndex().row()
            return [str(model.index(i, 0).data()) for i in range(1, current + 1)]
    raise RuntimeError("no Undo History docker")


def stroke(doc, x: int, y: int, w: int, h: int, rgb: tuple[float, float, float]) -> None:
    """Select a rectangle (no undo step) and fill it with a colour: Krita's "Flood Fill
    Layer", one undo step."""
    sel = Selection()
    sel.select(x, y, w, h, 255)
    doc.setSelection(sel)
    color = ManagedColor("RGBA", "U8", "")
    color.setComponents([rgb[2], rgb[1], rgb[0], 1.0])  # Krita's order here is B, G, R, A
    Krita.instance().activeWindow().activeView().setForeGroundColor(color)
    Krita.instance().action("fill_selection_foreground_color").trigger()
    doc.waitForDone()


def wait(until, seconds: float = WAIT_S):
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        yield 20
    return until()


def caught_up(live) -> bool:
    """The picture shown is the one of the state live mode read last, and nothing waits."""
    m = live.model
    return m.picture is not None and m.picture.digest == m._seen and m._pending is None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def steps(out: Path):
    k = Krita.instance()
    doc = k.createDocument(W, H, "live", "RGBA", "U8", "", 72.0)
    k.activeWindow().addView(doc)
    yield 300
    layer = doc.createNode("paint", "paintlayer")
    doc.rootNode().addChildNode(layer, None)
    yield 400
    layer.setPixelData(bytes([250, 245, 240, 255]) * (W * H), 0, 0, W, H)  # (no undo step)
    doc.refreshProjection()
    k.action("impasto_show_style_transfer").trigger()
    docker = next(d for d in k.dockers() if d.objectName() == "impasto_style_transfer")
    ev: dict = {}
    ok = yield from wait(lambda: docker.link.state.value == "ready" and docker.palette.count > 0)
    ev["daemon"] = docker.link.describe()
    if not ok:
        return ev
    docker.selection_only.setChecked(False)  # the strokes' selections stay: whole layer
    docker.palette.set_chosen({3: 1.0})
    live = docker.live
    ev["active"] = doc.activeNode().name()
    history = undo_history()
    live.toggle.setChecked(True)
    ev["first"] = yield from wait(lambda: caught_up(live))
    ev["steps"] = []
    for i, (x, y, w, h, rgb) in enumerate(STROKES):
        before = live.model.picture.seq
        stroke(doc, x, y, w, h, rgb)
        shown = yield from wait(lambda b=before: caught_up(live) and live.model.picture.seq > b)
        picture = live.model.picture
        (out / f"live_{i}.bin").write_bytes(bytes(picture.image.data))
        layer_now = bytes(layer.pixelData(0, 0, W, H))
        ev["steps"].append(
            {
                "shown": shown,
                "seq": picture.seq,
                "size": [picture.image.width, picture.image.height],
                "layer": digest(layer_now),
                "label": live.status.text(),
            }
        )
    for x, y, w, h, rgb in BURST:  # closer together than an update: replacements, stale drops
        stroke(doc, x, y, w, h, rgb)
        yield 30
    ev["burst_caught_up"] = yield from wait(lambda: caught_up(live))
    final = live.model.picture
    (out / "live_final.bin").write_bytes(bytes(final.image.data))
    ev["final_size"] = [final.image.width, final.image.height]
    ev["sent_settings"] = live.model.sent_settings
    c = live.model.counters
    ev["counters"] = {"sent": c.sent, "replaced": c.replaced, "shown": c.shown, "stale": c.stale}
    ev["shown_seqs"] = list(c.shown_seqs)
    pixmap = live.preview.pixmap()
    ev["preview"] = None if pixmap is None else [pixmap.width(), pixmap.height()]
    ev["preview_visible"] = live.preview.isVisible()
    docker.grab().save(str(out / "docker_live.png"))
    names_before = [n.name() for n in doc.rootNode().childNodes()]
    live.apply_button.click()
    yield 500
    ev["names_before"] = names_before
    ev["names_after"] = [n.name() for n in doc.rootNode().childNodes()]
    ev["history"] = undo_history()[len(history) :]
    applied = next((n for n in doc.rootNode().childNodes() if n.name() not in names_before), None)
    if applied is not None:
        (out / "applied.bin").write_bytes(bytes(applied.pixelData(0, 0, W, H)))
    (out / "layer.bin").write_bytes(bytes(layer.pixelData(0, 0, W, H)))
    ev["active_after_apply"] = doc.activeNode().name()
    # Refine when idle, through its box: the optimization's first picture of the live state,
    # then a stroke that cancels it at once.
    live.model.refine_after = 0.3
    live.refine.setChecked(True)
    m = live.model
    ev["refined"] = yield from wait(lambda: m.picture is not None and m.picture.refined)
    ev["refine_jobs"] = m.job_ids()
    ev["refine_status"] = live.status.text()
    ev["refined_digest_is_state"] = m.picture is not None and m.picture.digest == m._seen
    stroke(doc, 200, 20, 40, 40, (0.5, 0.5, 0.5))
    yield 150  # a few ticks: the change is noted, the refine cancelled
    ev["refines"] = {"sent": m.counters.refines, "cancelled": m.counters.refines_cancelled}
    ev["in_flight_after_stroke"] = [u.refine for u in m._updates.values()]
    ev["caught_up_after_refine"] = yield from wait(
        lambda: caught_up(live) and not live.model.picture.refined
    )
    live.toggle.setChecked(False)
    ev["in_flight_after_off"] = live.model.in_flight
    ev["sent_at_end"] = live.model.counters.sent
    from impasto_protocol import Client  # (the plug-in's vendored protocol package)

    def unfinished() -> list:
        with Client(docker.link.endpoint, timeout=5.0) as client:
            jobs = client.status()["jobs"]
        return [j for j in jobs if j["state"] in ("queued", "running")]

    left = unfinished()
    for _ in range(50):  # a job cancelled a moment ago may still be finishing its pass
        if not left:
            break
        yield 100
        left = unfinished()
    ev["unfinished"] = left
    with Client(docker.link.endpoint, timeout=5.0) as client:
        jobs = client.status()["jobs"]
    ev["daemon_jobs"] = [
        {"state": j["state"], "label": j.get("label"), "reason": j.get("reason")} for j in jobs
    ]
    return ev
