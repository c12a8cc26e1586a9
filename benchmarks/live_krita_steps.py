"""Steps run inside Krita (the tests' impasto_script harness) by benchmarks/live.py: live mode's
figures measured in the real docker on a real daemon. Settings come from $IMPASTO_LIVE_BENCH
(JSON); what was measured is returned as the run's evidence.

- Krita's own stroke time: a stroke is Krita's fill action on a rectangle (select, fill,
  waitForDone), timed with live off, then with live on while the script paints on.
- The update rate: pictures shown per second while the script paints a stroke every `gap_ms`.
- Latency: from the end of a stroke (its waitForDone) to the live picture of that state shown
  in the docker's QLabel, at each preview size, the script idle in between.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from krita import Krita, ManagedColor, Selection

CONFIG = json.loads(os.environ.get("IMPASTO_LIVE_BENCH", "{}"))
W, H = CONFIG.get("width", 1536), CONFIG.get("height", 1152)
SIZES = CONFIG.get("sizes", [256, 512, 768])
REPEATS = CONFIG.get("repeats", 8)
STROKES = CONFIG.get("strokes", 40)
GAP_MS = CONFIG.get("gap_ms", 40)
WAIT_S = 60


def stroke(doc, rng: random.Random) -> float:
    """One fill stroke on a random rectangle; the seconds Krita took (to waitForDone)."""
    w, h = rng.randint(40, W // 4), rng.randint(40, H // 4)
    x, y = rng.randint(0, W - w), rng.randint(0, H - h)
    t0 = time.perf_counter()
    sel = Selection()
    sel.select(x, y, w, h, 255)
    doc.setSelection(sel)
    color = ManagedColor("RGBA", "U8", "")
    color.setComponents([rng.random(), rng.random(), rng.random(), 1.0])
    Krita.instance().activeWindow().activeView().setForeGroundColor(color)
    Krita.instance().action("fill_selection_foreground_color").trigger()
    doc.waitForDone()
    return time.perf_counter() - t0


def caught_up(live) -> bool:
    m = live.model
    return m.picture is not None and m.picture.digest == m._seen and m._pending is None


def wait(until, seconds: float = WAIT_S):
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        yield 5
    return until()


def painting(doc, live, rng: random.Random):
    """STROKES strokes GAP_MS apart; their times, and the pictures shown meanwhile."""
    times = []
    shown0 = live.pictures_shown
    t0 = time.monotonic()
    for _ in range(STROKES):
        times.append(stroke(doc, rng))
        yield GAP_MS
    seconds = time.monotonic() - t0
    return {"stroke_s": times, "seconds": seconds, "shown": live.pictures_shown - shown0}


def steps(out: Path):
    k = Krita.instance()
    rng = random.Random(7)
    doc = k.createDocument(W, H, "live-bench", "RGBA", "U8", "", 72.0)
    k.activeWindow().addView(doc)
    yield 300
    layer = doc.createNode("paint", "paintlayer")
    doc.rootNode().addChildNode(layer, None)
    yield 400
    k.action("impasto_show_style_transfer").trigger()
    docker = next(d for d in k.dockers() if d.objectName() == "impasto_style_transfer")
    ok = yield from wait(lambda: docker.link.state.value == "ready" and docker.palette.count > 0)
    ev: dict = {"daemon": docker.link.describe(), "image": [W, H]}
    if not ok:
        return ev
    docker.selection_only.setChecked(False)
    docker.palette.set_chosen({3: 1.0})
    live = docker.live
    ticks: list[float] = []  # Krita's UI thread in live mode's tick (read, compare, send)
    tick = live.model.tick

    def timed_tick() -> None:
        t0 = time.perf_counter()
        tick()
        ticks.append(time.perf_counter() - t0)

    live.model.tick = timed_tick
    if "pause_s" in CONFIG:  # (the defaults otherwise: live_model.PAUSE_S, live_section.TICK_MS)
        live.model.pause = float(CONFIG["pause_s"])
    if "tick_ms" in CONFIG:
        live._timer.setInterval(int(CONFIG["tick_ms"]))
    ev["pause_s"], ev["tick_ms"] = live.model.pause, live._timer.interval()
    for _ in range(3):  # Krita's first fills are slower (caches): not counted
        stroke(doc, rng)
        yield 50
    ev["off"] = yield from painting(doc, live, rng)
    live.size.setValue(512)
    live.toggle.setChecked(True)
    yield from wait(lambda: caught_up(live))
    del ticks[:]
    ev["on_512"] = yield from painting(doc, live, rng)
    ev["on_512"]["tick_s"] = list(ticks)
    yield from wait(lambda: caught_up(live))
    ev["latency"] = {}
    for size in SIZES:
        live.size.setValue(size)
        yield from wait(lambda: caught_up(live))  # the current state at this size
        yield from wait(lambda: caught_up(live))
        seen = []
        for _ in range(REPEATS):
            stroke(doc, rng)
            end = time.monotonic()
            before = live.pictures_shown
            shown = yield from wait(lambda b=before: caught_up(live) and live.pictures_shown > b)
            if shown:
                seen.append(live.shown_at - end)
            yield 300  # idle between strokes
        picture = live.model.picture
        ev["latency"][str(size)] = {
            "seconds": seen,
            "picture": [picture.image.width, picture.image.height] if picture else None,
        }
    # The panel floated and tall enough to show the Live row with its picture (README).
    docker.setFloating(True)
    docker.resize(400, 760)
    yield 500
    docker.scroll.ensureWidgetVisible(live.status)
    yield 300
    docker.grab().save(str(out / "docker_live.png"))
    live.toggle.setChecked(False)
    c = live.model.counters
    ev["counters"] = {"sent": c.sent, "replaced": c.replaced, "shown": c.shown, "stale": c.stale}
    return ev
