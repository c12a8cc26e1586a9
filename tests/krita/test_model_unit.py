"""StyleTransferModel without Krita: its state machine on a document of numpy arrays.

The model is the plug-in's own (real Qt signals: PyQt5 from the `test` extra, no display);
the document implements host.Document on arrays, with an undo stack; the link is a small
in-memory one whose requests go through the plug-in's real JobRouter (jobs.py), and the tests
answer them with real protocol messages (impasto_protocol's Message: accepted, progress,
preview, result, cancelled, error), decoded into typed events as in Krita.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from impasto_krita.daemon_link import LinkState
from impasto_krita.host import HostError, Target
from impasto_krita.jobs import JobRouter
from impasto_krita.model import JobRequest, JobState, StyleTransferModel
from impasto_krita.qt import QObject, Signal
from impasto_krita.request import StyleChoice

from impasto_protocol import Message, Pixels, Submit, new_id, policy
from impasto_protocol.clip_messages import FramesBatch
from impasto_protocol.messages import error
from impasto_protocol.modes import Mode
from impasto_protocol.region import Region

W, H = 32, 24
DEFAULTS = {"style_weight": 1e4, "iterations": 40, "size": 512}
WELCOME = {"version": [1, 6], "defaults": DEFAULTS, "limits": {}, "methods": ["gatys", "fast"]}


class ArrayDocument:
    """host.Document on numpy arrays: layers are BGRA u8 arrays by id, bottom first; adding a
    layer is an undo step, as in Krita."""

    def __init__(self) -> None:
        self.layers: dict[str, np.ndarray] = {"source": np.full((H, W, 4), 200, np.uint8)}
        self.names = {"source": "Background"}
        self.order = ["source"]
        self.undo: list[tuple[str, str]] = [("paint", "source")]
        self.active = "source"
        self.locked: set[str] = set()
        self.open = True
        self.selection: Region | None = None

    def is_open(self) -> bool:
        return self.open

    def target(self, selection_only: bool) -> Target:
        area, mask = Region.whole(W, H), None
        if selection_only and self.selection is not None:
            area = self.selection.around(Region.whole(W, H))
            inside = np.zeros((area.height, area.width), np.uint8)
            s = self.selection
            inside[
                s.y - area.y : s.y - area.y + s.height, s.x - area.x : s.x - area.x + s.width
            ] = 255
            mask = inside.tobytes()
        return Target(self.active, self.names[self.active], area, mask, "u8")

    def target_size(self, selection_only: bool) -> tuple[int, int] | None:
        return self.target(selection_only).area.size

    def read_pixels(self, target: Target) -> Pixels:
        a = target.area
        data = self.layers[target.source][a.y : a.y + a.height, a.x : a.x + a.width]
        return Pixels(a.width, a.height, data.tobytes(), "BGRA", "u8")

    def style_layers(self) -> list[str]:
        return [self.names[i] for i in self.order]

    def read_style_layer(self, name: str) -> Pixels | None:
        ids = [i for i in self.order if self.names[i] == name]
        return None if not ids else Pixels(W, H, self.layers[ids[0]].tobytes(), "BGRA", "u8")

    def add_result_layer(self, target: Target, name: str, above: frozenset[str]) -> str:
        layer = f"layer{len(self.undo)}"
        i = self.order.index(target.source)
        while i + 1 < len(self.order) and self.order[i + 1] in above:
            i += 1
        self.order.insert(i + 1, layer)
        self.layers[layer] = np.zeros((H, W, 4), np.uint8)
        self.names[layer] = name
        self.undo.append(("add", layer))
        self.active = layer
        return layer

    def write_result(self, target: Target, layer: str, bgra: bytes, dtype: str) -> None:
        a = target.area
        pixels = np.frombuffer(bgra, np.uint8).reshape(a.height, a.width, 4)
        self.layers[layer][a.y : a.y + a.height, a.x : a.x + a.width] = pixels

    def rename_layer(self, layer: str, name: str) -> None:
        self.names[layer] = name

    def remove_result_layer(self, target: Target, layer: str) -> None:
        if self.undo[-1] == ("add", layer):
            self.undo.pop()
        else:
            self.undo.append(("remove", layer))
        self.order.remove(layer)
        self.active = target.source

    def lock_layer(self, layer: str, locked: bool) -> None:
        (self.locked.add if locked else self.locked.discard)(layer)

    def keep_source_active(self, target: Target, layer: str) -> None:
        if self.active == layer:
            self.active = target.source


class MemoryLink(QObject):
    """What the model uses of DaemonLink, in memory; requests go through a real JobRouter."""

    state_changed = Signal()
    estimated = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.state = LinkState.READY
        self.welcome: dict[str, Any] | None = WELCOME
        self.jobs = JobRouter(set())
        self.sent: list[Message] = []
        self.cancelled: list[str] = []
        self.busy_jobs = 0  # other clients' jobs on the daemon
        self.trained: list[Any] = []

    @property
    def defaults(self) -> dict[str, Any]:
        return dict((self.welcome or {}).get("defaults") or {})

    def usable(self) -> bool:
        return self.state is LinkState.READY

    def describe(self) -> str:
        return self.state.value

    def poll_status(self) -> None:
        pass

    def estimate(self, request: Any) -> bool:
        return False

    def cancel(self, job: str) -> None:
        self.cancelled.append(job)

    def start_job(self, request: Message, listener: Any) -> Any:
        self.sent.append(request)
        return self.jobs.add(request.id, listener)

    def send_frames(self, handle: Any, frames: list[Pixels]) -> None:
        """One `frames` batch of them all (the real link cuts them by size)."""
        batch = FramesBatch(handle.job, 0, list(frames)).to_message()
        self.sent.append(batch)
        self.jobs.follow_batches(handle, [batch.id])

    # -- the daemon's side ----------------------------------------------------------------

    def answer(self, job: str, position: int = 0, request: Message | None = None) -> None:
        ref = (request or self.sent[-1]).id
        self.route(Message("accepted", new_id(), {"position": position}, ref=ref, job=job))

    def send(self, job: str, kind: str, body: dict[str, Any], image: Pixels | None = None):
        frames: list[Any] = []
        if image is not None:
            body = {**body, "image": image.descriptor(0)}
            frames = [image.data]
        self.route(Message(kind, new_id(), body, job=job, frames=frames))

    def route(self, msg: Message) -> None:
        assert self.jobs.route(msg), f"nobody waits for {msg.type}"


def progress(i: int, total: int = 10) -> dict[str, Any]:
    return {"iteration": i, "total": total, "elapsed": 0.1 * i, "width": W, "height": H}


def picture(value: int, w: int = W, h: int = H) -> Pixels:
    return Pixels(w, h, bytes([value, value, value, 255]) * (w * h), "BGRA", "u8")


class Recorder:
    def __init__(self, model: StyleTransferModel) -> None:
        self.states: list[str] = []
        self.finished: list[str] = []
        self.messages: list[str] = []
        self.previews: list[int] = []
        model.state_changed.connect(self.states.append)
        model.finished.connect(self.finished.append)
        model.message.connect(self.messages.append)
        model.preview_applied.connect(self.previews.append)


@pytest.fixture
def setup() -> tuple[StyleTransferModel, MemoryLink, ArrayDocument, Recorder]:
    link, doc = MemoryLink(), ArrayDocument()
    model = StyleTransferModel(link, lambda: doc if doc.open else None)  # type: ignore[arg-type]
    return model, link, doc, Recorder(model)


def request(mode: Mode = Mode.PAINT, weight: float = 1e4) -> JobRequest:
    settings = {"size": 0, "iterations": 10, "style_weight": weight}
    return JobRequest([picture(50, 8, 8)], "hubble", settings, True, mode)


def test_a_job_previews_then_lands_its_result_in_one_undo_step(setup) -> None:
    model, link, doc, seen = setup
    assert model.start(request())
    assert model.state is JobState.SUBMITTING and doc.undo[-1][0] == "add"
    layer = doc.order[1]
    submit = Submit.from_message(link.sent[0])
    assert submit.result_layout == "BGRA" and submit.settings["style_weight"] == 1e4
    link.answer("j1")
    assert model.state is JobState.RUNNING and model.jobs_seen == ["j1"]
    link.send("j1", "progress", progress(1))
    link.send("j1", "preview", progress(0), picture(10))  # a Paint job's instant picture
    assert seen.previews == [] and doc.layers[layer].max() == 0
    # While it runs a stroke lands on the source: it stays active, the preview layer locked.
    assert doc.active == "source" and doc.locked == {layer}
    link.send("j1", "preview", progress(3), picture(90, 16, 12))  # smaller: scaled up
    assert seen.previews == [3] and doc.layers[layer][..., 0].min() == 90
    doc.active = layer  # as a click on it in the Layers docker
    link.send("j1", "preview", progress(4), picture(90, 16, 12))
    assert doc.active == "source" and doc.locked == {layer}
    link.send("j1", "result", {"iterations": 10, "elapsed": 1.5}, picture(120))
    assert model.state is JobState.DONE and seen.finished == ["done"]
    assert doc.layers[layer][..., 0].min() == 120 and model.last_result["iterations"] == 10
    assert doc.names[layer] == "hubble (paint, strength 50, 32 px)"
    assert doc.active == "source" and model.results == {layer} and doc.locked == set()
    assert [step for step in doc.undo if step[0] != "paint"] == [("add", layer)]


def test_a_selection_is_sent_with_its_mask_and_only_it_changes(setup) -> None:
    model, link, doc, _ = setup
    doc.selection = Region(8, 8, 8, 8)
    assert model.start(request())
    submit = Submit.from_message(link.sent[0])
    assert submit.mask is not None and submit.content is not None
    assert (submit.content.width, submit.content.height) == (submit.mask.width, submit.mask.height)
    area = doc.selection.around(Region.whole(W, H))
    link.answer("j1")
    link.send("j1", "result", {}, picture(120, area.width, area.height))
    layer = doc.layers[doc.order[1]]
    assert layer[12, 12, 3] == 255  # the middle of the selection: opaque result
    assert layer[area.y, area.x, 3] == 0  # the context around it: untouched (transparent)
    assert layer[0 : area.y].max(initial=0) == 0


def test_a_strength_change_replaces_the_job_warm_started(setup) -> None:
    model, link, doc, seen = setup
    model.start(request())
    link.answer("j1")
    model.set_strength(70)
    replacement = Submit.from_message(link.sent[-1])
    assert replacement.replace == "j1" and replacement.init_job == "j1"
    assert replacement.inputs_from == "j1" and replacement.content is None
    assert replacement.settings["style_weight"] == pytest.approx(policy.style_weight(70, DEFAULTS))
    model.set_strength(80)  # while the replacement is unanswered: kept for later
    assert len(link.sent) == 2
    link.answer("j2")
    assert len(link.sent) == 3  # the pending strength went out once j2 was accepted
    with pytest.raises(AssertionError, match="nobody waits"):  # j1 was replaced: forgotten
        link.send("j1", "progress", progress(5))
    link.answer("j3")
    link.send("j3", "preview", progress(0), picture(10))  # a replacement's iteration 0
    assert seen.previews == []
    link.send("j3", "result", {}, picture(99))
    assert doc.names[doc.order[1]] == "hubble (paint, strength 80, 32 px)"
    assert model.jobs_seen == ["j1", "j2", "j3"] and seen.finished == ["done"]


def test_below_50_a_blending_daemon_gets_the_blend_with_the_photo(setup) -> None:
    """Protocol 1.8: the strength's low half also blends with the photo (`amount`), a change
    to 50 or more takes the blend away again, and Instant's strength is the blend alone; a 1.6
    daemon (WELCOME) never gets `amount`, which it would refuse as unknown."""
    model, link, doc, _ = setup
    low = model.request(StyleChoice(layer="Background", strength=20))
    assert "amount" not in low.settings  # the 1.6 daemon
    link.welcome = {**WELCOME, "version": [1, 8]}
    low = model.request(StyleChoice(layer="Background", strength=20))
    assert low.settings["amount"] == pytest.approx(0.4)
    assert low.settings["style_weight"] == pytest.approx(policy.style_weight(20, DEFAULTS))
    model.start(low)
    assert Submit.from_message(link.sent[-1]).settings["amount"] == pytest.approx(0.4)
    link.answer("j1")
    model.set_strength(70)
    assert "amount" not in Submit.from_message(link.sent[-1]).settings
    link.answer("j2")
    model.set_strength(10)
    assert Submit.from_message(link.sent[-1]).settings["amount"] == pytest.approx(0.2)
    link.answer("j3")
    link.send("j3", "result", {}, picture(99))
    assert doc.names[doc.order[1]] == "Background (paint, strength 10, 32 px)"
    choice = StyleChoice(layer="Background", strength=25, mode=Mode.INSTANT)
    instant = model.request(choice)
    assert instant.settings["amount"] == pytest.approx(0.5)


def test_a_replacement_runs_the_rest_of_the_count_not_the_whole_count_again(setup) -> None:
    """A strength change at iteration 20 of 58 goes on from the current picture: its job asks
    for the 38 iterations left, not its whole count again (which at full size takes longer
    than the job it replaces); the next one counts from the replacement's own count."""
    model, link, _doc, _ = setup
    model.start(request(Mode.REFINE))  # asks for 10; the daemon planned 58 (a fast start)
    link.answer("j1")
    link.send("j1", "progress", progress(20, total=58))
    model.set_strength(70)
    assert Submit.from_message(link.sent[-1]).settings["iterations"] == 38
    link.answer("j2")
    link.send("j2", "progress", progress(35, total=38))
    model.set_strength(60)  # near the end: enough iterations to show the new strength
    assert Submit.from_message(link.sent[-1]).settings["iterations"] == 10


def test_a_refused_replacement_keeps_the_running_job(setup) -> None:
    model, link, _doc, seen = setup
    model.start(request())
    link.answer("j1")
    model.set_strength(70)
    link.route(error("busy", "no room", ref=link.sent[-1].id))
    assert model.state is JobState.RUNNING
    assert seen.messages[0].startswith("the new strength was not applied: ")
    link.send("j1", "preview", progress(2), picture(40))
    assert seen.previews == [2]


def test_cancel_undoes_the_layer_and_leaves_the_history_as_it_was(setup) -> None:
    model, link, doc, seen = setup
    before = list(doc.undo)
    model.start(request())
    link.answer("j1")
    link.send("j1", "preview", progress(2), picture(40))
    model.cancel()
    assert model.state is JobState.CANCELLING and link.cancelled == ["j1"]
    link.send("j1", "cancelled", {"reason": "user"})
    assert model.state is JobState.CANCELLED and seen.finished == ["cancelled"]
    assert doc.order == ["source"] and doc.undo == before
    assert doc.locked == set()  # (Redo would bring it back unlocked, the painter's)


def test_cancel_before_accepted_cancels_once_accepted(setup) -> None:
    model, link, doc, _ = setup
    model.start(request())
    model.cancel()
    assert link.cancelled == []
    link.answer("j1")
    assert link.cancelled == ["j1"]
    link.send("j1", "result", {}, picture(5))  # it finished first: no result kept
    assert model.state is JobState.CANCELLED and doc.order == ["source"]


def test_a_failure_or_a_refusal_removes_the_layer(setup) -> None:
    model, link, doc, seen = setup
    model.start(request())
    link.route(error("invalid_field", "bad settings", ref=link.sent[-1].id))
    assert model.state is JobState.FAILED and doc.order == ["source"]
    assert seen.messages[-1].startswith("the daemon refused the job: bad settings")
    model.start(request())
    link.answer("j2")
    link.send("j2", "error", {"code": "internal", "message": "out of memory"})
    assert model.state is JobState.FAILED and doc.order == ["source"]
    assert "out of memory" in seen.messages[-1]


def test_a_closed_document_cancels_its_job_and_a_lost_daemon_fails_it(setup) -> None:
    model, link, doc, seen = setup
    model.start(request())
    link.answer("j1")
    doc.open = False
    link.send("j1", "preview", progress(2), picture(40))
    assert model.state is JobState.CANCELLED and link.cancelled == ["j1"]
    assert seen.messages[-1] == "the document was closed: its job is cancelled"
    doc.open = True  # (a closed Krita image takes its layers with it; this one keeps them)
    kept = list(doc.order)
    model.start(request())
    (second,) = set(doc.order) - set(kept)
    link.answer("j2")
    link.state = LinkState.UNREACHABLE
    link.state_changed.emit()
    assert model.state is JobState.FAILED and second not in doc.order


def test_a_second_job_goes_above_the_first_result(setup) -> None:
    model, link, doc, _ = setup
    model.start(request())
    link.answer("j1")
    link.send("j1", "result", {}, picture(1))
    model.start(request(Mode.INSTANT))
    assert doc.order[2] in doc.locked  # above the first result, which stays
    assert doc.active == "source"
    link.answer("j2")
    link.send("j2", "result", {}, picture(2))
    assert doc.names[doc.order[2]] == "hubble (instant, 32 px)"


def test_start_refuses_what_cannot_run(setup) -> None:
    model, link, doc, seen = setup
    assert not model.start(JobRequest([], "nothing", {}, True))
    assert seen.messages[-1].startswith("choose a style image")
    link.state = LinkState.LOADING
    assert not model.start(request()) and seen.messages[-1].startswith("cannot start")
    link.state = LinkState.READY
    doc.open = False
    assert not model.start(request()) and seen.messages[-1] == "open an image first"
    assert link.sent == [] and model.state is JobState.IDLE


def test_the_request_reads_the_daemons_current_defaults(setup, tmp_path: Path) -> None:
    model, link, doc, _ = setup
    choice = StyleChoice(layer="Background", presets={2: 0.5}, trained=["ink"], strength=70)
    built = model.request(choice)
    assert built.style_name == "Background + Built-in style 2 + ink"
    assert built.settings["style_blend"] == [1.0, 1.0] and built.settings["trained"] == ["ink"]
    assert built.settings["style_weight"] == pytest.approx(policy.style_weight(70, DEFAULTS))
    link.welcome = {**WELCOME, "defaults": {**DEFAULTS, "style_weight": 1e6}}  # a new daemon
    again = model.request(choice)
    assert again.settings["style_weight"] == pytest.approx(policy.style_weight(70, link.defaults))
    model.start(again)
    link.answer("j1")
    link.send("j1", "result", {}, picture(3))
    assert "strength 70" in doc.names[doc.order[1]]  # read back with the same defaults
    with pytest.raises(HostError, match=r"cannot read"):
        model.request(StyleChoice(files=[(str(tmp_path / "gone.png"), 1.0)]))
    with pytest.raises(HostError, match="add a style image"):
        model.request(StyleChoice())


@pytest.mark.slow
def test_a_job_through_the_real_link_on_a_real_daemon(daemon, tmp_path: Path) -> None:
    """The same model on the plug-in's own DaemonLink (Qt's event loop, no Krita) and a real
    daemon: a small Paint job previews, and its result lands in the array document."""
    from impasto_krita.daemon_link import DaemonLink
    from PyQt5.QtCore import QCoreApplication  # the event loop Krita would run

    app = QCoreApplication.instance() or QCoreApplication(["test"])
    config = tmp_path / "impasto.json"
    config.write_text(json.dumps({"endpoint": daemon.endpoint}))
    link, doc = DaemonLink(config), ArrayDocument()
    model = StyleTransferModel(link, lambda: doc)  # type: ignore[arg-type]
    seen = Recorder(model)

    def spin(until: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)

    link.open()
    try:
        spin(lambda: link.state is LinkState.READY, 60)
        assert link.state is LinkState.READY, link.describe()
        settings = {"size": 32, "iterations": 6, "style_weight": model.style_weight(70)}
        job = JobRequest([picture(50, 16, 16)], "grey", settings, True)
        assert model.start(job), seen.messages
        spin(lambda: not model.state.active, 120)
    finally:
        link.close()
    assert seen.finished == ["done"], seen.messages
    assert model.jobs_seen and model.last_result.get("iterations") == 6
    assert doc.names[doc.order[1]] == "grey (paint, strength 70, 32 px)"  # the daemon's defaults
    result = doc.layers[doc.order[1]]
    assert (result[..., 3] == 200).all()  # the whole area, with the source's own alpha
    assert result[..., :3].any()
