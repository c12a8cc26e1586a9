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
from test_model_unit import ArrayDocument, H, MemoryLink, W, picture, progress

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


class RevisionDocument(ArrayDocument):
    """A document that says when its pixels changed (as Krita's thumbnail cache key does), and
    counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.rev = 1
        self.reads = 0

    def revision(self, target, canvas: bool) -> int:
        return self.rev

    def read_pixels(self, target):
        self.reads += 1
        return super().read_pixels(target)


def test_an_unchanged_revision_skips_the_read() -> None:
    """Where the host tells changes apart, an idle tick reads nothing, and neither does a
    stroke until its update is due; a new revision is read then (and sent only when the pixels
    differ); a style change reads again whatever the revision."""
    doc = RevisionDocument()
    live, link, doc, clock, _ = live_setup(doc)
    settle(live, clock)
    assert len(link.sent) == 1 and doc.reads == 1
    link.answer("j1")
    for _ in range(10):
        clock.advance(0.05)
        live.tick()
    assert doc.reads == 1, "nothing read while the revision stays"
    doc.rev += 1  # changed by the host's account, same pixels: read, not sent
    settle(live, clock)
    assert doc.reads == 2 and len(link.sent) == 1
    paint(doc, 70)
    doc.rev += 1
    settle(live, clock)
    assert doc.reads == 3 and len(link.sent) == 2
    link.answer("j2")
    live.set_request(JobRequest([], "Built-in style 7", {}, True, Mode.INSTANT, {7: 1.0}))
    settle(live, clock)
    assert doc.reads == 4
    link.answer("j3")
    for value in range(1, 8):  # a stroke: a change at every tick, 0.05 s apart, 0.3 s
        paint(doc, value)
        doc.rev += 1
        live.tick()
        clock.advance(0.05)
    assert doc.reads == 4, "nothing is read while the stroke goes on (before max_wait)"
    live.tick()
    clock.advance(live.pause)
    live.tick()
    assert doc.reads == 5 and len(link.sent) == 4, "the stroke's end: read once, sent"


def refining(live: LiveModel) -> None:
    live.set_options(canvas=False, selection_only=True, preview_size=512, refine=True)


def shown_live_picture(live: LiveModel, link: MemoryLink, clock: Clock, value: int = 9) -> None:
    """The first state sent, accepted as j1 and its instant picture shown."""
    settle(live, clock)
    link.answer("j1")
    link.send("j1", "result", {"info": {}}, picture(value))


def test_refine_when_idle_improves_the_live_picture_in_place() -> None:
    """Unchanged `refine_after` seconds after its picture came, the state is refined: an
    optimization warm-started from the live job, at the same size, whose previews replace the
    live picture one after another; a refined state is not refined again."""
    live, link, doc, clock, shown = live_setup()
    live.set_request(
        JobRequest([], "Built-in style 3", {"iterations": 30}, True, Mode.INSTANT, {3: 1.0})
    )
    refining(live)
    shown_live_picture(live, link, clock)
    clock.advance(live.refine_after / 2)
    live.tick()
    assert len(link.sent) == 1, "not before refine_after"
    clock.advance(live.refine_after / 2)
    live.tick()
    assert len(link.sent) == 2 and live.counters.refines == 1
    refine = submits(link)[1]
    assert refine.init_job == "j1" and refine.replace is None
    assert refine.settings["method"] == "gatys" and "init" not in refine.settings
    assert refine.settings["iterations"] == 30 and refine.settings["presets"] == [3]
    assert refine.settings["size"] == W and refine.preview_size == W
    assert refine.content is not None and bytes(refine.content.data) == bytes(
        submits(link)[0].content.data
    )
    link.answer("j2")
    link.send("j2", "progress", progress(3, 30))
    assert live.status == "live: refining, 3/30"
    for value in (20, 21):
        link.send("j2", "preview", progress(value - 10, 30), picture(value))
    link.send("j2", "result", {"info": {}}, picture(22))
    assert [bytes(p.image.data)[0] for p in shown] == [9, 20, 21, 22]
    assert [p.refined for p in shown] == [False, True, True, True]
    assert live.picture is not None and live.picture.refined and live.in_flight == 0
    layer = live.apply()
    assert doc.names[layer] == f"Built-in style 3 (live, refined, {W} px)"
    for _ in range(5):
        clock.advance(live.refine_after)
        live.tick()
    assert len(link.sent) == 2, "a refined state is not refined again"


def test_the_next_stroke_cancels_the_refine_at_once() -> None:
    live, link, doc, clock, shown = live_setup()
    refining(live)
    shown_live_picture(live, link, clock)
    clock.advance(live.refine_after)
    live.tick()
    link.answer("j2")
    link.send("j2", "preview", progress(1), picture(30))
    paint(doc, 60)
    live.tick()  # the stroke's first change: before its own update is due
    assert link.cancelled == ["j2"] and live.in_flight == 0
    assert live.counters.refines_cancelled == 1
    clock.advance(live.pause)
    live.tick()
    update = submits(link)[2]
    assert update.settings["method"] == "fast" and update.replace is None
    link.answer("j3")
    link.send("j3", "result", {"info": {}}, picture(40))
    assert [bytes(p.image.data)[0] for p in shown] == [9, 30, 40]
    # the new state is refined in its turn
    clock.advance(live.refine_after)
    live.tick()
    assert submits(link)[3].init_job == "j3"


def test_a_refine_not_accepted_yet_is_cancelled_when_accepted() -> None:
    live, link, doc, clock, _ = live_setup()
    refining(live)
    shown_live_picture(live, link, clock)
    clock.advance(live.refine_after)
    live.tick()
    paint(doc, 60)
    settle(live, clock)
    assert len(link.sent) == 2, "the update waits for the refine's accepted (then cancels it)"
    link.answer("j2", request=link.sent[1])
    assert link.cancelled == ["j2"] and live.in_flight == 0
    live.tick()
    assert submits(link)[2].settings["method"] == "fast" and submits(link)[2].replace is None


def test_refine_off_cancels_a_refine_and_none_starts_without_it() -> None:
    live, link, _doc, clock, _ = live_setup()
    shown_live_picture(live, link, clock)
    clock.advance(live.refine_after * 3)
    live.tick()
    assert len(link.sent) == 1, "refine when idle is off by default"
    refining(live)
    live.tick()
    assert len(link.sent) == 2
    link.answer("j2")
    live.set_options(canvas=False, selection_only=True, preview_size=512, refine=False)
    assert link.cancelled == ["j2"] and live.in_flight == 0


# -- a real daemon --------------------------------------------------------------------------


def spin(app: QCoreApplication, until: Callable[[], bool], seconds: float, live=None) -> bool:
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        app.processEvents()
        if live is not None:
            live.tick()
        time.sleep(0.01)
    return until()


def live_on_daemon(tmp_path: Path, daemon):
    """Live mode on the numpy document through the plug-in's real DaemonLink to `daemon`."""
    app = QCoreApplication.instance() or QCoreApplication(["test"])
    config = tmp_path / "impasto.json"
    config.write_text(json.dumps({"endpoint": daemon.endpoint}))
    link = DaemonLink(config)
    link.open()
    doc = ArrayDocument()
    shown: list[LivePicture] = []
    live = LiveModel(link, lambda: doc, shrink_qimage, time.monotonic, shown.append)
    return app, link, doc, shown, live


@pytest.mark.slow
def test_live_on_a_real_daemon(tmp_path: Path, daemon) -> None:
    """Three strokes on the numpy document through the plug-in's DaemonLink and a real
    daemon: the live picture follows the latest state (its digest is the state's), shown
    pictures only ever get newer, and after Live off the daemon has no unfinished job."""
    app, link, doc, shown, live = live_on_daemon(tmp_path, daemon)
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


@pytest.mark.slow
def test_refine_when_idle_on_a_real_daemon(tmp_path: Path, daemon) -> None:
    """Refine when idle through a real daemon: the refine warm-starts from the live job (its
    first picture is the live one), a stroke cancels it on the daemon at once, and the new
    state, left alone, is refined to the end."""
    app, link, doc, shown, live = live_on_daemon(tmp_path, daemon)
    live.refine_after = 0.2
    try:
        assert spin(app, lambda: link.state is LinkState.READY, 60), link.describe()
        live.set_request(
            JobRequest([], "Built-in style 3", {"iterations": 400}, True, Mode.INSTANT, {3: 1.0})
        )
        live.set_options(canvas=False, selection_only=True, preview_size=512, refine=True)
        live.start()
        paint(doc, 90)
        assert spin(app, lambda: any(p.refined for p in shown), 60, live), live.status
        instant = next(p for p in shown if not p.refined)
        first_refined = next(p for p in shown if p.refined)
        assert first_refined.digest == instant.digest == live._seen
        refine_job = live.job_ids()[0]
        paint(doc, 200)  # the painter is back
        live.tick()
        assert live.in_flight == 0 and live.counters.refines_cancelled == 1
        with daemon.client() as client:
            assert spin(app, lambda: job_state(client, refine_job) == "cancelled", 20)
        state = live._seen
        assert spin(
            app,
            lambda: (
                live.picture is not None
                and live.picture.refined
                and live.picture.digest == state
                and live.in_flight == 0
            ),
            120,
            live,
        ), live.status
        refined = np.frombuffer(bytes(live.picture.image.data), np.uint8)
        first = next(p for p in shown if p.digest == state and not p.refined)
        assert not np.array_equal(refined, np.frombuffer(bytes(first.image.data), np.uint8))
        assert live.counters.refines == 2
        seqs = [p.seq for p in shown]
        assert seqs == sorted(seqs), seqs
    finally:
        live.stop()
        link.close()


def job_state(client, job: str) -> str | None:
    return next((j["state"] for j in client.status()["jobs"] if j["job"] == job), None)


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
    assert not section.model.refine
    section.refine.setChecked(True)
    assert section.model.refine, "the checkbox turns refine when idle on"
    section.toggle.setChecked(False)
    assert link.cancelled == ["j2"] and section.model.in_flight == 0
