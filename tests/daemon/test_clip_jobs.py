"""Clip jobs (protocol 1.7, `clip` and `frames`) on real daemons over real sockets: every frame
comes back in order, as the in-process FrameStylizer paints it; a still is served while a clip
runs, and the clip that made way for it goes on to the very frames of an unbroken run; a
cancelled clip is continued with `after`; a later watcher gets every frame; the limits and every
bad request get one error naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from daemon_process import DaemonProcess, example_pixels

from impasto.clips.clip_io import open_clip
from impasto_protocol import Client, RemoteError, Submit
from impasto_protocol import constants as C
from impasto_protocol.clip_messages import ClipRequest, FramesBatch
from impasto_protocol.messages import Cancelled, ClipDone, FrameDone, Preview, Progress, Result
from impasto_protocol.pixels import Pixels

CLIP = Path(__file__).resolve().parents[1] / "data" / "clips" / "carphone_6.mp4"
FAST = {"method": "fast", "size": 64}  # a frame in a fraction of a second
OPTIMIZED = {"size": 40, "iterations": 10}  # later frames run 4 iterations each


@pytest.fixture(scope="module")
def frames() -> list[Pixels]:
    """The six frames of the test clip (176x144), as a client sends them."""
    with open_clip(str(CLIP)) as clip:
        return [Pixels.from_pil(image) for image in clip]


def clip_request(frames: list[Pixels], settings: dict, **fields) -> ClipRequest:
    first = frames[0]
    return ClipRequest(
        frames=len(frames),
        width=first.width,
        height=first.height,
        layout=first.layout,
        styles=[example_pixels("hubble", 48)],
        settings=settings,
        **fields,
    )


def run(handle, timeout: float = 180.0) -> list:
    """Every event of the job up to its outcome (the outcome last; an error raises)."""
    out = []
    for event in handle.events(timeout):
        out.append(event)
        if isinstance(event, (ClipDone, Cancelled)):
            return out
    raise AssertionError("no outcome")


def pictures(events: list) -> dict[int, np.ndarray]:
    return {e.index: np.asarray(e.image.to_pil()) for e in events if isinstance(e, FrameDone)}


@pytest.fixture(scope="module")
def unbroken(daemon: DaemonProcess, frames: list[Pixels]) -> dict[str, dict[int, np.ndarray]]:
    """Each method's frames from one clip job that nothing interrupted."""
    out = {}
    with daemon.client() as client:
        client.hello()
        for name, settings in (("fast", FAST), ("optimized", OPTIMIZED)):
            out[name] = pictures(run(client.clip(clip_request(frames, settings), frames)))
    return out


def test_every_frame_comes_back_in_order_as_the_engine_paints_it(
    daemon: DaemonProcess, frames: list[Pixels], unbroken: dict
) -> None:
    from impasto.clips.sequence import DEFAULT_TEMPORAL, FrameStylizer
    from impasto.engine import StyleSettings, Stylizer

    with daemon.client() as client:
        welcome = client.hello()
        assert welcome["version"] == list(C.VERSION) == [1, 8]
        assert welcome["clip_defaults"]["temporal"] == DEFAULT_TEMPORAL
        assert welcome["limits"]["max_clip_frames"] >= 6
        handle = client.clip(clip_request(frames, FAST, preview_every=2, preview_size=32), frames)
        events = run(handle)
    indices = [e.index for e in events if isinstance(e, FrameDone)]
    assert indices == list(range(6))
    done = events[-1]
    assert isinstance(done, ClipDone) and done.frames == 6
    assert (done.info["width"], done.info["height"]) == (64, 52)
    assert done.info["temporal"] == DEFAULT_TEMPORAL and done.info["settings"]["method"] == "fast"
    counted = [e for e in events if isinstance(e, Progress)]
    previews = [e for e in events if isinstance(e, Preview)]
    assert [p.frame for p in counted] == [0, 2, 4]  # the others fell on preview frames
    assert [p.progress.frame for p in previews] == [1, 3, 5]
    assert all(max(p.image.width, p.image.height) == 32 for p in previews)
    # The daemon's frames are the in-process FrameStylizer's, pixel for pixel.
    engine = Stylizer("cpu", precision="float32")
    local = FrameStylizer(
        engine,
        [example_pixels("hubble", 48).to_pil()],
        StyleSettings(**FAST),
        DEFAULT_TEMPORAL,
    )
    got = pictures(events)
    for i, p in enumerate(frames):
        np.testing.assert_array_equal(np.asarray(local.frame(p.to_pil())), got[i])
        np.testing.assert_array_equal(got[i], unbroken["fast"][i])  # and the same every time


def test_a_still_is_served_while_a_clip_runs_and_the_clip_goes_on_unchanged(
    daemon: DaemonProcess, frames: list[Pixels], unbroken: dict
) -> None:
    with daemon.client() as client:
        client.hello()
        clip = client.clip(clip_request(frames, OPTIMIZED), frames)
        events = []
        for event in clip.events(180):
            events.append(event)
            if isinstance(event, FrameDone) and event.index == 0:
                break  # the clip runs: now a still arrives
        still = client.submit(
            Submit(example_pixels("astronaut", 32), [example_pixels("hubble", 32)],
                   settings={"size": 32, "iterations": 3})
        )  # fmt: skip
        result = still.result(120)
        events += run(clip)
    assert isinstance(result, Result) and result.image.width == 32
    assert isinstance(events[-1], ClipDone)
    assert any(isinstance(e, Progress) and e.paused for e in events), "the clip did not make way"
    got = pictures(events)
    assert sorted(got) == list(range(6))
    for i in range(6):
        np.testing.assert_array_equal(got[i], unbroken["optimized"][i])


def test_a_cancelled_clip_goes_on_with_after_to_the_frames_of_an_unbroken_run(
    daemon: DaemonProcess, frames: list[Pixels], unbroken: dict
) -> None:
    with daemon.client() as client:
        client.hello()
        handle = client.clip(clip_request(frames, FAST), frames)
        events = []
        for event in handle.events(120):
            events.append(event)
            if isinstance(event, FrameDone) and event.index == 1:
                client.cancel(handle.id)
            if isinstance(event, (Cancelled, ClipDone)):
                break
        assert isinstance(events[-1], Cancelled) and events[-1].reason == C.BY_CLIENT
        got = pictures(events)
        last = max(got)
        assert last < 5, "the clip ended before the cancel arrived"
        rest = frames[last + 1 :]
        after = (frames[last], next(e.image for e in events if getattr(e, "index", -1) == last))
        resumed = run(client.clip(clip_request(rest, FAST, after=after), rest))
    for e in resumed:
        if isinstance(e, FrameDone):
            got[last + 1 + e.index] = np.asarray(e.image.to_pil())
    for i in range(6):
        np.testing.assert_array_equal(got[i], unbroken["fast"][i])


def test_a_later_watcher_gets_every_frame_then_the_outcome(
    daemon: DaemonProcess, frames: list[Pixels]
) -> None:
    with daemon.client() as client:
        client.hello()
        handle = client.clip(clip_request(frames, FAST), frames)
        first = run(handle)
        with daemon.client() as other:
            other.hello()
            again = run(other.watch(handle.id))
        status = client.status(handle.id)["job"]
    assert [e.index for e in again if isinstance(e, FrameDone)] == list(range(6))
    assert isinstance(again[-1], ClipDone) and again[-1].frames == 6
    assert status["kind"] == "clip" and status["state"] == "done" and status["iteration"] == 6
    for a, b in zip(pictures(first).values(), pictures(again).values(), strict=True):
        np.testing.assert_array_equal(a, b)


def refused(client: Client, message, expect_field: str, code: str = C.E_INVALID_FIELD) -> str:
    with pytest.raises(RemoteError) as err:
        client.request(message, C.ACCEPTED if message.type == C.CLIP else C.FRAMES_REPLY)
    assert (err.value.code, err.value.field) == (code, expect_field), err.value
    return err.value.message


def test_bad_frames_are_refused_naming_the_field_and_the_daemon_goes_on(
    daemon: DaemonProcess, frames: list[Pixels]
) -> None:
    with daemon.client() as client:
        client.hello()
        request = clip_request(frames[:3], FAST)
        job = client.request(request.to_message(), C.ACCEPTED).job
        assert client.status(job)["job"]["state"] == C.RECEIVING
        refused(client, FramesBatch(job, 1, frames[:1]).to_message(), "first")
        small = Pixels.from_pil(frames[0].to_pil().resize((88, 72)))
        message = refused(client, FramesBatch(job, 0, [frames[0], small]).to_message(), "images[1]")
        assert "88x72" in message and "176x144" in message
        refused(client, FramesBatch(job, 0, frames[:4]).to_message(), "images", C.E_TOO_LARGE)
        reply = client.request(FramesBatch(job, 0, frames[:2]).to_message(), C.FRAMES_REPLY)
        assert reply.body["received"] == 2 and reply.body["state"] == C.RECEIVING
        reply = client.request(FramesBatch(job, 2, frames[2:3]).to_message(), C.FRAMES_REPLY)
        assert reply.body["state"] in (C.QUEUED, C.RUNNING) or reply.body["received"] == 3
        refused(client, FramesBatch(job, 3, frames[:1]).to_message(), "job")
        still = client.submit(
            Submit(example_pixels("astronaut", 32), [], settings={"method": "fast", "presets": [1]})
        )
        refused(client, FramesBatch(still.id, 0, frames[:1]).to_message(), "job")
        mask = Pixels(10, 10, bytes(100), "L")
        refused(client, clip_request(frames, FAST, mask=mask).to_message(), "mask")
        refused(client, clip_request(frames, {"size": 8}).to_message(), "settings.size")
        no_style = clip_request(frames, FAST)
        no_style.styles = []
        refused(client, no_style.to_message(), "styles")
        run(client.watch(job))
        assert client.ping() >= 0


def test_a_clip_keeps_its_newest_frames_within_the_memory_for_kept_results(
    fresh_daemon, frames: list[Pixels]
) -> None:
    """With --kept-mb 1, a clip whose frames' results take 392 KB each keeps the newest two
    for a later watcher, who reads their indices; the submitter got all six."""
    d = fresh_daemon("--kept-mb", "1")
    with d.client() as client:
        client.hello()
        handle = client.clip(clip_request(frames, {"method": "fast", "size": 400}), frames)
        first = run(handle)
        assert [e.index for e in first if isinstance(e, FrameDone)] == list(range(6))
        with d.client() as other:
            other.hello()
            again = run(other.watch(handle.id))
    kept = [e for e in again if isinstance(e, FrameDone)]
    assert [e.index for e in kept] == [4, 5]
    assert (kept[0].image.width, kept[0].image.height) == (400, 327)
    assert isinstance(again[-1], ClipDone) and again[-1].frames == 6
    for e in kept:
        np.testing.assert_array_equal(np.asarray(e.image.to_pil()), pictures(first)[e.index])


@pytest.fixture
def small_daemon(fresh_daemon) -> Iterator[DaemonProcess]:
    yield fresh_daemon("--max-clip-frames", "4", "--max-clip-mb", "1")


def test_the_clip_limits_are_announced_and_kept(
    small_daemon: DaemonProcess, frames: list[Pixels]
) -> None:
    with small_daemon.client() as client:
        limits = client.hello()["limits"]
        assert (limits["max_clip_frames"], limits["max_clip_bytes"]) == (4, 2**20)
        refused(client, clip_request(frames, FAST).to_message(), "frames", C.E_TOO_LARGE)
        # 176x144 RGB: 76032 bytes a frame; 4 frames take 304128 bytes: three such clips fit
        # in 1 MiB while their frames arrive, a fourth does not until one of them is over.
        held = [
            client.request(clip_request(frames[:4], FAST).to_message(), C.ACCEPTED).job
            for _ in range(3)
        ]
        message = refused(client, clip_request(frames[:4], FAST).to_message(), "frames", C.E_BUSY)
        assert "1048576" in message
        client.cancel(held[0])
        assert client.request(clip_request(frames[:4], FAST).to_message(), C.ACCEPTED).job
        huge = clip_request(frames[:4], FAST)
        huge.width, huge.height = 1000, 1000
        refused(client, huge.to_message(), "frames", C.E_TOO_LARGE)
