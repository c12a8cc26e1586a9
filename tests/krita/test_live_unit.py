"""Live mode (impasto_krita.live_model) without Krita: the debounce, one job in flight with
`replace`, stale pictures dropped, the selection, the daemon going away, Live off and a closed
document; on the numpy document of test_model_unit with a fake clock, and then on a real daemon
process through the plug-in's real DaemonLink (Qt's event loop from PyQt5, no Krita).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")

from impasto_krita.daemon_link import DaemonLink, LinkState
from impasto_krita.host import HostError
from impasto_krita.live_model import LiveModel, LivePicture, shrink_qimage
from impasto_krita.request import JobRequest
from PyQt5.QtCore import QCoreApplication
from test_model_unit import ArrayDocument, H, MemoryLink, W, picture

from impasto_protocol import Submit
from impasto_protocol.modes import Mode
from impasto_protocol.region import Region

PRESET = JobRequest([], "Built-in style 3", {}, True, Mode.INSTANT, {3: 1.0})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def live_setup(
    doc: ArrayDocument | None = None,
) -> tuple[LiveModel, MemoryLink, ArrayDocument, Clock, list[LivePicture]]:
    link, doc, clock = MemoryLink(), doc or ArrayDocument(), Clock()
    shown: list[LivePicture] = []
    live = LiveModel(link, lambda: doc if doc.open else None, shrink_qimage, clock, shown.append)
    live.set_request(PRESET)
    live.start()
    return live, link, doc, clock, shown


def submits(link: MemoryLink) -> list[Submit]:
    return [Submit.from_message(m) for m in link.sent]


def paint(doc: ArrayDocument, value: int) -> None:
    doc.layers["source"][2:6, 3:9] = (value, value, value, 255)


def settle(live: LiveModel, clock: Clock) -> None:
    """A tick after the pause: the state read is sent."""
    live.tick()
    clock.advance(live.pause)
    live.tick()


def test_nothing_is_sent_while_the_picture_stays_as_it_was() -> None:
    live, link, _doc, clock, _ = live_setup()
    live.tick()
    assert link.sent == []  # the first read starts the pause
    clock.advance(live.pause)
    live.tick()
    assert len(link.sent) == 1
    link.answer("j1")
    link.send("j1", "result", {"info": {}}, picture(9))
    for _ in range(10):
        clock.advance(1.0)
        live.tick()
    assert len(link.sent) == 1, "an idle, unchanged picture sends nothing"


def test_an_update_waits_for_a_pause_in_the_stroke() -> None:
    """Changes closer together than the pause send nothing until max_wait has passed."""
    live, link, doc, clock, _ = live_setup()
    live.max_wait = 1.0
    for value in range(1, 6):  # a stroke: a change at every tick, 0.05 s apart
        paint(doc, value * 10)
        live.tick()
        clock.advance(live.pause / 2)
    assert link.sent == []
    clock.advance(live.pause)
    live.tick()
    assert len(link.sent) == 1
    sent = submits(link)[0]
    assert sent.settings["method"] == "fast" and sent.settings["presets"] == [3], sent.settings
    assert "style_weight" not in sent.settings and sent.replace is None
    assert sent.content.width == W and sent.content.height == H  # already under 512 px


def test_continuous_painting_still_gets_updates_at_max_wait() -> None:
    live, link, doc, clock, _ = live_setup()
    answered = 0
    for value in range(1, 40):
        paint(doc, value)
        live.tick()
        clock.advance(0.05)
        while answered < len(link.sent):  # the daemon accepts each at once
            answered += 1
            link.answer(f"j{answered}", request=link.sent[answered - 1])
    # 39 ticks of 0.05 s: about 2 s of painting, an update every max_wait (0.5 s)
    assert 3 <= len(link.sent) <= 5, len(link.sent)


def test_a_newer_state_replaces_the_job_in_flight_and_stale_pictures_are_dropped() -> None:
    live, link, doc, clock, shown = live_setup()
    settle(live, clock)
    first = link.sent[-1]
    paint(doc, 50)
    settle(live, clock)
    assert len(link.sent) == 1, "no second job before the first is accepted (replace needs its id)"
    link.answer("j1", request=first)
    live.tick()
    assert len(link.sent) == 2
    second = submits(link)[1]
    assert second.replace == "j1"
    assert live.in_flight == 2 and live.counters.replaced == 1
    link.answer("j2")
    link.send("j2", "result", {"info": {}}, picture(22))
    assert [p.seq for p in shown] == [2]
    # j1's result was already on its way when it was replaced: never shown after j2's
    link.send("j1", "result", {"info": {}}, picture(11))
    assert [p.seq for p in shown] == [2] and live.counters.stale == 1
    assert bytes(shown[-1].image.data)[:4] == bytes([22, 22, 22, 255])
    assert live.in_flight == 0


def test_the_copy_is_downscaled_to_the_preview_size() -> None:
    doc = ArrayDocument()
    live, link, doc, clock, _ = live_setup(doc)
    live.set_options(canvas=False, selection_only=True, preview_size=16)
    settle(live, clock)
    sent = submits(link)[0]
    assert (sent.content.width, sent.content.height) == (16, 12)
    assert sent.settings["size"] == 16


def test_the_selection_sends_its_box_and_apply_writes_inside_it() -> None:
    doc = ArrayDocument()
    doc.selection = Region(8, 8, 8, 8)
    live, link, doc, clock, _shown = live_setup(doc)
    settle(live, clock)
    sent = submits(link)[0]
    area = doc.target(True).area
    assert (sent.content.width, sent.content.height) == (area.width, area.height) != (W, H)
    link.answer("j1")
    link.send("j1", "result", {"info": {}}, picture(0, area.width, area.height))
    undo_before = list(doc.undo)
    layer = live.apply()
    assert doc.undo == [*undo_before, ("add", layer)], "Apply is one undo step"
    assert doc.names[layer] == f"Built-in style 3 (live, {max(area.width, area.height)} px)"
    out = doc.layers[layer]
    assert out[12, 12, 3] == 255  # inside the selection: the live picture
    assert out[0, 0, 3] == 0 and out[H - 1, W - 1, 3] == 0  # outside: nothing
    assert doc.active == "source"
    doc.active = layer  # Krita makes the new layer active a moment later: not restyled
    settle(live, clock)
    assert len(link.sent) == 1


def test_apply_without_a_picture_says_so() -> None:
    live, *_ = live_setup()
    with pytest.raises(HostError, match="no live picture yet"):
        live.apply()


def test_live_off_cancels_its_jobs_even_one_not_accepted_yet() -> None:
    live, link, doc, clock, _shown = live_setup()
    settle(live, clock)
    request = link.sent[-1]
    live.stop()
    assert link.cancelled == []
    link.answer("j1", request=request)
    assert link.cancelled == ["j1"] and live.in_flight == 0
    paint(doc, 77)
    settle(live, clock)
    assert len(link.sent) == 1, "nothing is sent while live is off"


def test_a_closed_document_cancels_the_job() -> None:
    live, link, doc, clock, _ = live_setup()
    settle(live, clock)
    link.answer("j1")
    doc.open = False
    live.check_document()
    assert link.cancelled == ["j1"] and live.in_flight == 0
    assert "closed" in live.status


def test_the_daemon_gone_is_reported_and_live_resumes_when_it_is_back() -> None:
    live, link, _doc, clock, _shown = live_setup()
    settle(live, clock)
    link.answer("j1")
    link.state = LinkState.UNREACHABLE
    live.tick()
    assert live.status.startswith("live waits for the daemon") and live.in_flight == 0
    link.state = LinkState.READY
    settle(live, clock)
    assert len(link.sent) == 2 and submits(link)[1].replace is None, "sent again, afresh"


def test_a_style_change_sends_the_same_picture_again() -> None:
    live, link, _doc, clock, _ = live_setup()
    settle(live, clock)
    link.answer("j1")
    link.send("j1", "result", {"info": {}}, picture(5))
    live.set_request(JobRequest([], "Built-in style 7", {}, True, Mode.INSTANT, {7: 1.0}))
    settle(live, clock)
    assert submits(link)[1].settings["presets"] == [7]


# -- a real daemon --------------------------------------------------------------------------


def spin(app: QCoreApplication, until: Callable[[], bool], seconds: float, live=None) -> bool:
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        app.processEvents()
        if live is not None:
            live.tick()
        time.sleep(0.01)
    return until()


@pytest.mark.slow
def test_live_on_a_real_daemon(tmp_path: Path, daemon) -> None:
    """Three strokes on the numpy document through the plug-in's DaemonLink and a real
    daemon: the live picture follows the latest state (its digest is the state's), shown
    pictures only ever get newer, and after Live off the daemon has no unfinished job."""
    app = QCoreApplication.instance() or QCoreApplication(["test"])
    config = tmp_path / "impasto.json"
    config.write_text(json.dumps({"endpoint": daemon.endpoint}))
    link = DaemonLink(config)
    link.open()
    doc = ArrayDocument()
    shown: list[LivePicture] = []
    live = LiveModel(link, lambda: doc, shrink_qimage, time.monotonic, shown.append)
    try:
        assert spin(app, lambda: link.state is LinkState.READY, 60), link.describe()
        live.set_request(PRESET)
        live.start()
        for value in (40, 120, 220):
            paint(doc, value)
            live.tick()
            state = live._seen
            assert spin(app, lambda s=state: bool(shown) and shown[-1].digest == s, 60, live), (
                live.status
            )
        seqs = [p.seq for p in shown]
        assert seqs == sorted(set(seqs)), seqs
        image = shown[-1].image
        assert (image.width, image.height) == (W, H) and image.layout == "BGRA"
        assert not np.all(np.frombuffer(bytes(image.data), np.uint8) == 0)
        live.stop()
        with daemon.client() as client:
            assert spin(app, lambda: not unfinished(client), 10), unfinished(client)
        assert live.in_flight == 0
    finally:
        link.close()


def unfinished(client) -> list[dict]:
    jobs = client.status()["jobs"]
    return [j for j in jobs if j["state"] in ("queued", "running")]


# -- the docker's Live row (offscreen Qt widgets) -------------------------------------------


def test_the_live_row_shows_the_picture_and_applies_it(offscreen_app) -> None:
    """Live on, a picture comes: the preview label shows it and Apply adds one layer; Live
    off cancels the job in flight."""
    from impasto_krita.live_section import LiveSection

    link, doc, clock = MemoryLink(), ArrayDocument(), Clock()
    section = LiveSection(link, lambda: doc, lambda: PRESET, lambda: True)
    section.model.clock = clock
    assert not section.apply_button.isEnabled() and not section.enlarge.isEnabled()
    section.toggle.setChecked(True)
    section._tick()
    clock.advance(section.model.pause)
    section._tick()
    assert len(link.sent) == 1
    link.answer("j1")
    link.send("j1", "result", {"info": {}}, picture(30))
    assert section.pictures_shown == 1 and section.apply_button.isEnabled()
    pixmap = section.preview.pixmap()
    assert pixmap is not None and (pixmap.width(), pixmap.height()) == (240, 180)
    section.show_enlarged()
    assert section._big is not None and section._big.pixmap().width() == W
    section._big.close()
    before = list(doc.order)
    section.apply()
    assert len(doc.order) == len(before) + 1
    assert doc.names[doc.order[1]] == f"Built-in style 3 (live, {W} px)"
    paint(doc, 99)
    section._tick()
    clock.advance(section.model.pause)
    section._tick()
    link.answer("j2")
    section.toggle.setChecked(False)
    assert link.cancelled == ["j2"] and section.model.in_flight == 0
