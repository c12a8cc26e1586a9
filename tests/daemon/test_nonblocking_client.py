"""NonBlockingClient driven the way an editor's event loop drives it: a selector on `client.fd`
(edge-triggered), drain() when it is readable and once after each send, tick() from a timer."""

from __future__ import annotations

import selectors
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from daemon_process import example_pixels

from impasto_protocol import ClipRequest, NonBlockingClient, ProtocolError, State, Submit
from impasto_protocol.codec import Message

TICK = 0.2


class EventLoop:
    """A stand-in for Qt's or GLib's loop: an fd notifier and a timer, nothing more."""

    def __init__(self, client: NonBlockingClient) -> None:
        self.client = client
        self.selector = selectors.DefaultSelector()
        self.selector.register(client.fd, selectors.EVENT_READ)
        self.messages: list[Message] = []
        self.states: list[State] = [client.state]
        self._next_tick = time.monotonic()

    def send(self, call: Callable[..., str | None], *args: object) -> str | None:
        """A request, then the drain the docstring asks for: a send can consume the edge."""
        result = call(*args)
        self._note_state()  # before the drain, which may already bring the answer
        self._take(self.client.drain())
        return result

    def run_until(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            now = time.monotonic()
            assert now < deadline, f"nothing happened for {timeout} s; states {self.states}"
            for _ in self.selector.select(timeout=max(0.0, min(self._next_tick, deadline) - now)):
                self._take(self.client.drain())
            if time.monotonic() >= self._next_tick:
                self._next_tick = time.monotonic() + TICK
                self.client.tick()  # no drain after it: the docstring does not ask for one
                self._note_state()

    def drain(self) -> None:
        """What tick() read is handed out by the next drain (the loop's next edge, or this)."""
        self._take(self.client.drain())

    def _take(self, messages: list[Message]) -> None:
        self.messages += messages
        self._note_state()

    def _note_state(self) -> None:
        if self.client.state is not self.states[-1]:
            self.states.append(self.client.state)

    def of_type(self, mtype: str) -> list[Message]:
        return [m for m in self.messages if m.type == mtype]

    def close(self) -> None:
        self.selector.close()
        self.client.close()


def connected(endpoint: str, timeout: float = 5.0) -> EventLoop:
    loop = EventLoop(NonBlockingClient(endpoint, timeout=timeout))
    loop.send(loop.client.connect)
    loop.run_until(lambda: loop.client.state is State.READY, 30)
    return loop


def test_a_job_with_previews_from_an_event_loop(daemon) -> None:
    loop = connected(daemon.endpoint)
    try:
        assert loop.states == [State.DISCONNECTED, State.CONNECTING, State.READY]
        assert loop.client.welcome is not None and loop.client.welcome["ready"] is True
        assert loop.client.heartbeat_interval == 0.2  # adopted from hello_reply
        request = loop.send(
            loop.client.submit,
            Submit(
                example_pixels("astronaut", 48),
                [example_pixels("hubble", 32)],
                {"size": 48, "iterations": 12},
                preview_every=1,
                progress_every=1,
            ),
        )
        loop.run_until(lambda: bool(loop.of_type("accepted")), 60)
        accepted = loop.of_type("accepted")[0]
        assert accepted.ref == request and accepted.job
        loop.run_until(lambda: bool(loop.of_type("result")), 60)
        job_messages = [m for m in loop.messages if m.job == accepted.job]
        kinds = [m.type for m in job_messages]
        assert kinds[0] == "accepted" and kinds[-1] == "result"
        assert kinds.count("result") == 1 and set(kinds[1:-1]) <= {"preview", "progress"}
        # Every preview was acknowledged as drain() read it: the daemon sent the next ones.
        iterations = [m.body["iteration"] for m in job_messages if m.type == "preview"]
        assert len(iterations) >= 6 and iterations == sorted(set(iterations))
        assert loop.client.state is State.READY
    finally:
        loop.close()


def test_a_clip_from_an_event_loop(daemon) -> None:
    """The clip request, then (once its job id is known) every frame at once in batches; the
    frames' results come back in order, each a `frame` event, and the result last."""
    loop = connected(daemon.endpoint)
    frames = [example_pixels(name, 40, "RGB") for name in ("astronaut", "rocket", "astronaut")]
    try:
        request = ClipRequest(
            3, 40, 40, "RGB", settings={"method": "fast", "presets": [4], "size": 32}
        )
        sent = loop.send(loop.client.clip, request)
        loop.run_until(lambda: bool(loop.of_type("accepted")), 60)
        job = loop.of_type("accepted")[0]
        assert job.ref == sent and job.body["state"] == "receiving"
        batch_ids = loop.client.send_frames(job.job, iter(frames))
        loop.drain()
        loop.run_until(lambda: bool(loop.of_type("result")), 120)
        replies = loop.of_type("frames_reply")
        assert [r.ref for r in replies] == batch_ids and replies[-1].body["received"] == 3
        done = [m.body["index"] for m in loop.of_type("frame")]
        assert done == [0, 1, 2]
        assert loop.of_type("result")[0].body["frames"] == 3
    finally:
        loop.close()


def test_no_daemon_is_lost_after_the_timeout(tmp_path: Path) -> None:
    loop = EventLoop(NonBlockingClient(f"ipc://{tmp_path}/nobody.sock", timeout=1.0))
    try:
        start = time.monotonic()
        loop.send(loop.client.connect)
        loop.run_until(lambda: loop.client.state is State.LOST, 60)
        assert time.monotonic() - start >= 1.0  # not before its timeout (load only adds to this)
        assert loop.states == [State.DISCONNECTED, State.CONNECTING, State.LOST]
        assert loop.client.error and "no answer" in loop.client.error
        assert loop.messages == []
        assert loop.client.drain() == [] and loop.client.tick() is State.LOST
    finally:
        loop.close()


def test_a_daemon_still_loading_reports_starting_then_ready(fresh_daemon) -> None:
    d = fresh_daemon(start=False)
    d.start(wait_ready=0)
    loop = EventLoop(NonBlockingClient(d.endpoint, timeout=30))
    try:
        loop.send(loop.client.connect)
        loop.run_until(lambda: loop.client.state is State.READY, 60)
        loop.drain()
        # The model may load before the hello arrives; if not, STARTING came in between.
        assert loop.states in (
            [State.DISCONNECTED, State.CONNECTING, State.READY],
            [State.DISCONNECTED, State.CONNECTING, State.STARTING, State.READY],
        )
        replies = loop.of_type("hello_reply")
        assert replies[-1].body["ready"] is True
        assert [r.body["ready"] for r in replies] == sorted(r.body["ready"] for r in replies)
        if State.STARTING in loop.states:
            assert replies[0].body["state"] == "starting"
    finally:
        loop.close()


def test_a_tick_that_sends_does_not_strand_waiting_messages(daemon) -> None:
    """Regression: tick()'s heartbeat is a send, and a send can consume the descriptor's edge.
    Messages that had arrived unseen then never made the fd readable again, so a loop that drains
    when the fd is readable and after its own sends (as documented) read nothing more, and
    tick() declared the live daemon LOST."""
    loop = connected(daemon.endpoint, timeout=2.0)
    try:
        time.sleep(0.5)  # busy elsewhere: the daemon's heartbeats wait unread
        loop.client.tick()  # the timer fires before the fd notifier does
        deadline = time.monotonic() + 2.5  # more than the client's timeout
        loop.run_until(lambda: time.monotonic() > deadline, 5)
        assert loop.client.state is State.READY, loop.client.error
        assert Counter(s.value for s in loop.states)["lost"] == 0
        loop.send(loop.client.status)
        loop.run_until(lambda: bool(loop.of_type("status_reply")), 60)
    finally:
        loop.close()


def test_an_image_over_the_frame_limit_is_refused_before_sending(fresh_daemon) -> None:
    """ZeroMQ drops a connection that sends a frame over max_message_bytes, and the request
    with it, unanswered: an editor would wait forever. submit() refuses it at once instead."""
    d = fresh_daemon("--max-input-pixels", "1024")  # frames up to 1024 * 16 + 4096 bytes
    loop = connected(d.endpoint)
    try:
        limit = loop.client.welcome["limits"]["max_message_bytes"]
        assert loop.client.max_frame_bytes == limit == 20480
        big = Submit(example_pixels("astronaut", 96), [example_pixels("hubble", 32)], {"size": 32})
        with pytest.raises(ProtocolError) as refused:
            loop.client.submit(big)
        assert (refused.value.code, refused.value.field) == ("too_large", "frames")
        assert "20480" in str(refused.value)
        small = Submit(
            example_pixels("astronaut", 32),
            [example_pixels("hubble", 32)],
            {"size": 32, "iterations": 2},
        )
        loop.send(loop.client.submit, small)
        loop.run_until(lambda: bool(loop.of_type("result")), 60)
        assert loop.client.state is State.READY
    finally:
        loop.close()
