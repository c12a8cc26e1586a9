"""ClipModel without Krita: an animated layer stylized as one clip job, on the numpy document
of test_model_unit (with an animation part here: keyframes, a current time, a keyframe written
only at the time the image shows, as in Krita) and its in-memory link (real JobRouter, real
protocol messages: the clip request, its frames batch, `frame` events, the clip's result
without an image)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from impasto_krita.clip_model import NO_CLIPS, ClipModel
from impasto_krita.daemon_link import LinkState
from impasto_krita.host import Animation, Ends, Frames, HostError
from impasto_krita.model import JobRequest, JobState
from impasto_krita.progress_text import clip_estimate, clip_progress
from test_model_unit import DEFAULTS, WELCOME, ArrayDocument, H, MemoryLink, W, picture

from impasto_protocol import ClipRequest, Message, Pixels, new_id
from impasto_protocol.clip_messages import FramesBatch
from impasto_protocol.messages import error
from impasto_protocol.modes import Mode

TIMES = (0, 2, 5)
CLIP_WELCOME = {**WELCOME, "version": [1, 7], "clip_defaults": {"temporal": 0.5}}


class AnimatedArrays(ArrayDocument):
    """ArrayDocument with animated layers: keyframes by time, and the image's current time,
    the only one a frame can be written at (show_frame), as in Krita 5.1. `later`: the new
    layer is added when the test calls `finish_adding()`, as Krita's event loop would."""

    def __init__(self) -> None:
        super().__init__()
        self.keyframes: dict[str, dict[int, np.ndarray]] = {}  # animated layers: time -> frame
        self.time = 3  # inside the hold of keyframe 2
        self.later = False
        self.adding: list[Callable[[], None]] = []
        self.filled: list[list[int]] = []  # the times each fill_frames wrote
        self.during_fill: Callable[[], None] | None = None  # Krita's busy wait: a nested loop

    def animation(self) -> Animation:
        times = sorted(self.keyframes.get(self.active, {}))
        if len(times) < 2:
            raise HostError(f"the layer {self.names[self.active]!r} is not animated")
        return Animation(self.active, self.names[self.active], W, H, tuple(times))

    def read_frames(self, animation: Animation) -> list[Pixels]:
        frames = self.keyframes[animation.source]
        return [Pixels(W, H, frames[t].tobytes(), "BGRA", "u8") for t in animation.times]

    def add_animated_layer(self, clip: Animation, name: str, ends: Ends) -> None:
        """As Krita's: one undo step ("add"), transparent keyframes, the source kept active."""

        def add() -> None:
            layer = f"layer{len(self.undo)}"
            self.order.insert(self.order.index(clip.source) + 1, layer)
            self.names[layer] = name
            self.layers[layer] = np.zeros((H, W, 4), np.uint8)
            self.keyframes[layer] = {t: np.zeros((H, W, 4), np.uint8) for t in clip.times}
            self.undo.append(("add", layer))
            ends[0](layer)

        if self.later:
            self.adding.append(add)
        else:
            add()

    def finish_adding(self) -> None:
        adding, self.adding = self.adding, []
        for add in adding:
            add()

    def shown(self, layer: str) -> int:
        return max(t for t in self.keyframes[layer] if t <= self.time)

    def show_frame(self, layer: str, frames: Frames) -> int | None:
        key = self.shown(layer)
        if key not in frames:
            return None
        self.keyframes[layer][key] = np.frombuffer(frames[key], np.uint8).reshape(H, W, 4)
        return key

    def fill_frames(self, layer: str, frames: Frames) -> None:
        if self.during_fill is not None:
            self.time = 5  # (Krita's time, moved there to write frame 5)
            self.during_fill()
        for t, data in frames.items():
            self.keyframes[layer][t] = np.frombuffer(data, np.uint8).reshape(H, W, 4)
        self.filled.append(sorted(frames))

    def remove_animated_layer(self, clip: Animation, layer: str) -> None:
        if self.undo[-1] == ("add", layer):
            self.undo.pop()
        else:
            self.undo.append(("remove", layer))
        self.order.remove(layer)
        self.active = clip.source


@pytest.fixture
def setup() -> tuple[ClipModel, MemoryLink, AnimatedArrays, list[str]]:
    link, doc = MemoryLink(), AnimatedArrays()
    link.welcome = CLIP_WELCOME
    doc.keyframes["source"] = {t: np.full((H, W, 4), 40 + 30 * t, np.uint8) for t in TIMES}
    model = ClipModel(link, lambda: doc if doc.open else None)
    ended: list[str] = []
    model.finished.connect(ended.append)
    return model, link, doc, ended


def instant() -> JobRequest:
    """An instant job with a built-in style only, at 16 px (the frames come back smaller)."""
    settings = {"size": 16, "style_weight": 1e4}
    return JobRequest([], "Built-in style 3", settings, False, Mode.INSTANT, {3: 1.0})


def frame(link: MemoryLink, index: int, value: int) -> None:
    link.send("c1", "frame", {"index": index}, picture(value, 16, 12))


def source_frames(doc: AnimatedArrays) -> list[bytes]:
    return [doc.keyframes["source"][t].tobytes() for t in TIMES]


def lowest(doc: AnimatedArrays, layer: str) -> dict[int, int]:
    """Each keyframe's lowest blue sample: 0 while it is transparent."""
    return {t: int(doc.keyframes[layer][t][..., 0].min()) for t in TIMES}


def test_an_animation_is_one_clip_job_into_a_layer_that_fills_as_frames_come(setup) -> None:
    """The layer comes first (one undo step, transparent keyframes, locked), then the clip
    request; a frame back goes in as soon as the image shows its keyframe (now, or when the
    time moves there); the rest go in at the end, and the layer is renamed and unlocked."""
    model, link, doc, ended = setup
    before = source_frames(doc)
    assert model.frame_count() == 3 and model.unavailable() == ""
    assert model.start(instant()) and model.state is JobState.SUBMITTING
    layer = doc.order[1]
    assert doc.names[layer] == "Built-in style 3 (stylizing)" and layer in doc.locked
    assert sorted(doc.keyframes[layer]) == list(TIMES) and doc.undo[-1] == ("add", layer)
    assert lowest(doc, layer) == {0: 0, 2: 0, 5: 0}
    clip = ClipRequest.from_message(link.sent[0])
    assert (clip.frames, clip.width, clip.height) == (3, W, H)
    assert clip.layout == "BGRA" and clip.result_layout == "BGRA" and clip.styles == []
    assert clip.settings["method"] == "fast" and clip.settings["presets"] == [3]
    assert clip.settings["size"] == 16 and clip.label.endswith("Built-in style 3")
    link.answer("c1")
    batch = FramesBatch.from_message(link.sent[1], "c1")
    assert [p.data for p in batch.images] == before and model.state is JobState.RUNNING
    shown: list[int] = []
    model.frame_shown.connect(shown.append)
    progress: list[tuple[int, int, float]] = []
    model.progress.connect(lambda *a: progress.append(a))
    frame(link, 0, 100)
    assert shown == [] and lowest(doc, layer) == {0: 0, 2: 0, 5: 0}  # the image shows 2
    frame(link, 1, 110)
    assert shown == [2] and lowest(doc, layer) == {0: 0, 2: 110, 5: 0}  # scaled up to 32x24
    link.send("c1", "progress", {"iteration": 2, "total": 3, "remaining": 1.0})
    doc.time = 0  # the painter goes to frame 0: shown at the next look
    model.show_current()
    assert shown == [2, 0] and lowest(doc, layer) == {0: 100, 2: 110, 5: 0}
    frame(link, 2, 120)
    assert progress[0] == (2, 3, 1.0) and model.state is JobState.RUNNING
    # While the last frames are written, Krita may run its event loop (a busy wait): neither
    # the look at the current time nor Cancel steps in.
    doc.during_fill = lambda: (model.show_current(), model.cancel())
    link.send("c1", "result", {"frames": 3, "width": 16, "height": 12, "elapsed": 0.3})
    assert model.state is JobState.DONE and ended == ["done"] and doc.filled == [[5]]
    assert shown == [2, 0] and link.cancelled == []
    assert lowest(doc, layer) == {0: 100, 2: 110, 5: 120} and model.layers == [layer]
    assert doc.names[layer] == "Built-in style 3 (instant, 16 px, animation)"
    assert layer not in doc.locked and doc.order == ["source", layer]
    assert source_frames(doc) == before and doc.undo == [("paint", "source"), ("add", layer)]
    assert model.last_result["frames"] == 3


def test_cancel_leaves_nothing_behind(setup) -> None:
    model, link, doc, ended = setup
    model.start(instant())
    link.answer("c1")
    frame(link, 1, 100)  # (written: the image shows it)
    model.cancel()
    assert link.cancelled == ["c1"] and model.state is JobState.CANCELLING
    link.send("c1", "cancelled", {"reason": "requested"})
    assert ended == ["cancelled"] and doc.order == ["source"] and doc.undo == [("paint", "source")]


def test_cancel_before_accepted_sends_no_frames(setup) -> None:
    model, link, doc, ended = setup
    model.start(instant())
    model.cancel()
    link.answer("c1")
    assert link.cancelled == ["c1"] and len(link.sent) == 1  # the clip request alone
    link.send("c1", "cancelled", {"reason": "requested"})
    assert ended == ["cancelled"] and doc.order == ["source"]


def test_cancel_while_the_layer_is_added_sends_nothing(setup) -> None:
    """Krita adds the layer on its event loop: Cancel meanwhile takes it away once it is in,
    and the clip request is never sent; so does an image closed, or a daemon gone, meanwhile."""
    model, link, doc, ended = setup
    doc.later = True
    assert model.start(instant()) and doc.order == ["source"] and link.sent == []
    model.cancel()
    doc.finish_adding()
    assert ended == ["cancelled"] and link.sent == [] and doc.order == ["source"]
    assert doc.undo == [("paint", "source")]
    assert model.start(instant())
    doc.open = False
    model.check_document()
    doc.finish_adding()
    assert ended == ["cancelled", "cancelled"] and link.sent == [] and link.cancelled == []
    doc.open = True
    assert model.start(instant())
    link.state = LinkState.UNREACHABLE  # the daemon went meanwhile
    doc.finish_adding()
    assert ended[-1] == "failed" and link.sent == [] and doc.order == ["source"]


def test_a_refused_batch_or_a_missing_frame_fails_without_a_layer(setup) -> None:
    model, link, doc, ended = setup
    model.start(instant())
    link.answer("c1")
    reply = error("too_large", "no room for the frames", "frames")
    link.route(Message(reply.type, new_id(), reply.body, ref=link.sent[1].id, job="c1"))
    assert ended == ["failed"] and doc.order == ["source"]
    model.start(instant())
    link.answer("c2")
    link.send("c2", "frame", {"index": 0}, picture(100, 16, 12))
    link.send("c2", "result", {"frames": 3, "width": 16, "height": 12})
    assert ended == ["failed", "failed"] and doc.order == ["source"]
    assert doc.undo == [("paint", "source")]


def test_a_daemon_without_clips_or_a_still_layer_is_refused(setup) -> None:
    model, link, doc, _ = setup
    link.welcome = WELCOME  # no clip_defaults
    assert model.unavailable() == NO_CLIPS
    assert not model.start(instant()) and link.sent == []
    link.welcome = CLIP_WELCOME
    doc.keyframes.clear()
    assert model.frame_count() == 0
    assert not model.start(instant()) and link.sent == []


def test_the_progress_line_counts_frames() -> None:
    assert clip_progress(1, 3, 20.0) == (1 / 3, "1/3", "animation: frame 2 of 3, about 20 s left")
    assert clip_progress(0, 3, None)[2] == "animation: frame 1 of 3, estimating time left"
    assert clip_progress(3, 3, 0.0)[2] == "animation: all 3 frames stylized, finishing the layer"
    assert DEFAULTS  # (the defaults the strength reads come from the shared welcome)


def test_the_estimate_for_a_whole_animation_counts_every_frame() -> None:
    """Before Start, with "Whole animation" ticked: the daemon's time for one picture times
    the frames, and that time itself; no time given, the count alone."""
    assert clip_estimate(3, 20.0, False) == "whole animation: 3 frames, about 60 s (20 s each)"
    assert clip_estimate(5, None, True) == "whole animation: 5 frames, each in one quick pass"
    assert clip_estimate(5, None, False) == "whole animation: 5 frames"
