"""ClipModel without Krita: an animated layer stylized as one clip job, on the numpy document
and the in-memory link of test_model_unit (real JobRouter, real protocol messages: the clip
request, its frames batch, `frame` events, the clip's result without an image)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from impasto_krita.clip_model import NO_CLIPS, ClipModel
from impasto_krita.model import JobRequest, JobState
from impasto_krita.progress_text import clip_estimate, clip_progress
from test_model_unit import DEFAULTS, WELCOME, ArrayDocument, H, MemoryLink, W, picture

from impasto_protocol import ClipRequest, Message, new_id
from impasto_protocol.clip_messages import FramesBatch
from impasto_protocol.messages import error
from impasto_protocol.modes import Mode

TIMES = (0, 2, 5)
CLIP_WELCOME = {**WELCOME, "version": [1, 7], "clip_defaults": {"temporal": 0.5}}


@pytest.fixture
def setup() -> tuple[ClipModel, MemoryLink, ArrayDocument, list[str]]:
    link, doc = MemoryLink(), ArrayDocument()
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


def source_frames(doc: ArrayDocument) -> list[bytes]:
    return [doc.keyframes["source"][t].tobytes() for t in TIMES]


def test_an_animation_is_one_clip_job_and_lands_as_one_animated_layer(setup) -> None:
    model, link, doc, ended = setup
    before = source_frames(doc)
    assert model.frame_count() == 3 and model.unavailable() == ""
    assert model.start(instant()) and model.state is JobState.SUBMITTING
    clip = ClipRequest.from_message(link.sent[0])
    assert (clip.frames, clip.width, clip.height) == (3, W, H)
    assert clip.layout == "BGRA" and clip.result_layout == "BGRA" and clip.styles == []
    assert clip.settings["method"] == "fast" and clip.settings["presets"] == [3]
    assert clip.settings["size"] == 16 and clip.label.endswith("Built-in style 3")
    link.answer("c1")
    batch = FramesBatch.from_message(link.sent[1], "c1")
    assert [p.data for p in batch.images] == before and model.state is JobState.RUNNING
    shown: list[tuple[int, int, float]] = []
    model.progress.connect(lambda *a: shown.append(a))
    for i, value in enumerate((100, 110, 120)):
        frame(link, i, value)
        link.send("c1", "progress", {"iteration": i + 1, "total": 3, "remaining": 2.0 - i})
    assert doc.order == ["source"] and shown[0] == (1, 3, 2.0)
    link.send("c1", "result", {"frames": 3, "width": 16, "height": 12, "elapsed": 0.3})
    assert model.state is JobState.DONE and ended == ["done"]
    layer = doc.order[1]
    assert sorted(doc.keyframes[layer]) == list(TIMES) and model.layers == [layer]
    assert doc.keyframes[layer][2][..., 0].min() == 110  # scaled up to the image's size
    assert doc.names[layer] == "Built-in style 3 (instant, 16 px, animation)"
    assert source_frames(doc) == before and doc.undo[-1] == ("add", layer)
    assert model.last_result["frames"] == 3


def test_cancel_leaves_nothing_behind(setup) -> None:
    model, link, doc, ended = setup
    model.start(instant())
    link.answer("c1")
    frame(link, 0, 100)
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
    assert clip_progress(3, 3, 0.0)[2] == "animation: all 3 frames stylized, adding the layer"
    assert DEFAULTS  # (the defaults the strength reads come from the shared welcome)


def test_the_estimate_for_a_whole_animation_counts_every_frame() -> None:
    """Before Start, with "Whole animation" ticked: the daemon's time for one picture times
    the frames, and that time itself; no time given, the count alone."""
    assert clip_estimate(3, 20.0, False) == "whole animation: 3 frames, about 60 s (20 s each)"
    assert clip_estimate(5, None, True) == "whole animation: 5 frames, each in one quick pass"
    assert clip_estimate(5, None, False) == "whole animation: 5 frames"
