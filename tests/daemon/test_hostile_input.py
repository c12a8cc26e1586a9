"""A real daemon against hostile clients: raw DEALER sockets sending whatever bytes they like.

SPEC.md section 5: a client that breaks the protocol gets an `error` (with the request's `ref`
when its header was readable) and the daemon goes on serving everyone; a frame over
`max_message_bytes` makes ZeroMQ drop the connection instead. The daemon never opens a file
named in a message. Every input here is followed by a ping from a separate, well-behaved
client, and at the end the daemon must still be alive, with no traceback in its log, and able
to run a real job.
"""

from __future__ import annotations

import errno
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from daemon_process import DaemonProcess, example_pixels
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from impasto_protocol import Client, Message, Pixels, ProtocolError, Result, Submit, decode, encode
from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.clip_messages import ClipRequest, FramesBatch
from impasto_protocol.codec import header_id, header_type, new_id
from impasto_protocol.limits import Limits
from impasto_protocol.pixels import DTYPES, LAYOUTS

MAX_INPUT_PIXELS = 4096  # so that max_message_bytes is 4096 * 16 + 4096 = 69632
MAX_MESSAGE_BYTES = MAX_INPUT_PIXELS * 16 + 4096
# How long to wait for an answer that must come: generous, so that only an answer that never
# comes fails a test, not a loaded machine (how fast answers come is for the benchmarks).
ANSWER_S = 30.0
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
EXAMPLES = 5000 if FUZZ else 300

HOSTILE_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # the daemon's state differs between runs: replaying is of little use
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("hostile")
    proc = DaemonProcess(
        f"ipc://{tmp}/h.sock",
        tmp / "daemon.log",
        "--max-input-pixels", str(MAX_INPUT_PIXELS),
        # Small limits, so that a submit the fuzzer gets right by chance is a tiny job.
        "--max-output-pixels", "1024",
        "--max-iterations", "5",
    ).start()  # fmt: skip
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def witness(hostile: DaemonProcess):
    """A well-behaved client that pings the daemon after every hostile input."""
    with Client(hostile.endpoint, timeout=ANSWER_S, name="witness") as c:
        yield c


def assert_serving(witness: Client) -> None:
    """The daemon answers the witness (its client raises ConnectionLost after ANSWER_S)."""
    witness.ping()


class Raw:
    """A DEALER socket that sends raw multipart messages and reads what comes back."""

    def __init__(self, context: zmq.Context, endpoint: str) -> None:
        self.sock = context.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.jobs: list[str] = []  # jobs a fuzzed submit got accepted by chance

    def close(self) -> None:
        self.sock.close(linger=0)

    def exchange(self, parts: list[bytes], timeout: float = ANSWER_S) -> list[Message]:
        """Send `parts`, then a ping: answers come in request order, so what arrives before the
        ping's reply is the answer to `parts` (if any). Heartbeats and job events are skipped.
        """
        self.sock.send_multipart(parts)
        probe = new_id()
        self.sock.send_multipart(encode(M.ping(mid=probe)))
        answers: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer within {timeout} s; got {answers}"
            if not self.sock.poll(int(left * 1000) + 1):
                continue
            msg = decode(self.sock.recv_multipart())
            if msg.ref == probe:
                return answers
            if msg.type == C.HEARTBEAT or (msg.ref is None and msg.job is not None):
                continue
            if msg.type == C.ACCEPTED and msg.job is not None:
                self.jobs.append(msg.job)
            answers.append(msg)

    def cancel_jobs(self) -> None:
        for job in self.jobs:
            self.exchange(encode(M.cancel(job)))
        self.jobs.clear()


@pytest.fixture(scope="module")
def raw(hostile: DaemonProcess, context: zmq.Context):
    r = Raw(context, hostile.endpoint)
    yield r
    r.close()


@dataclass
class Expect:
    """What the daemon must answer: an error (code, field), nothing, or any one answer."""

    ref: str | None = None
    code: str | None = None
    field: str | None = None
    silent: bool = False


def expectation(parts: list[bytes]) -> Expect:
    """Derived from the protocol package, which the daemon uses to parse (test_codec.py checks
    that it is sound)."""
    try:
        msg = decode(parts)
    except ProtocolError as e:
        if header_type(parts[0]) in C.NOTICES:
            return Expect(silent=True)  # a broken notice is dropped, not answered
        return Expect(header_id(parts[0]), e.code, e.field)
    if msg.type in C.NOTICES:
        return Expect(silent=True)
    if msg.type not in C.REQUESTS:
        return Expect(msg.id, C.E_UNKNOWN_TYPE, "type")
    parse = PARSERS.get(msg.type)
    if parse is not None:
        try:
            parse(msg)
        except ProtocolError as e:
            return Expect(msg.id, e.code, e.field)
    if msg.type == C.HELLO:
        v = msg.body.get("version")
        well_formed = isinstance(v, list) and len(v) == 2
        if well_formed and not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            well_formed = False
        if v is not None and not well_formed:
            return Expect(msg.id, C.E_INVALID_FIELD, "version")
        if well_formed and v[0] != C.VERSION[0]:
            return Expect(msg.id, C.E_VERSION, "version")
    return Expect(msg.id)


# The protocol package's parsers, which the daemon applies before anything else: what they refuse
# is refused with their code and field. (What they accept may still be refused later, by the
# daemon's limits or its engine's settings: then any one answer with the right `ref` is right.)
PARSERS = {
    C.SUBMIT: M.Submit.from_message,
    C.ESTIMATE: lambda msg: M.EstimateRequest.from_message(msg, Limits().max_styles),
    C.TRAIN: M.Train.from_message,
    C.CLIP: ClipRequest.from_message,
}


def check_answers(parts: list[bytes], answers: list[Message]) -> None:
    want = expectation(parts)
    if want.silent:
        assert answers == []
        return
    assert len(answers) == 1, f"one answer expected, got {answers}"
    (answer,) = answers
    assert answer.ref == want.ref
    if answer.type == C.ERROR:
        assert answer.body.get("code") in C.ERROR_CODES, answer.body
        assert isinstance(answer.body.get("message"), str)
    if want.code is not None:
        assert answer.type == C.ERROR, answer
        assert (answer.body["code"], answer.body["field"]) == (want.code, want.field), answer.body


def send_checked(raw: Raw, witness: Client, parts: list[bytes]) -> list[Message]:
    answers = raw.exchange(parts)
    check_answers(parts, answers)
    raw.cancel_jobs()
    assert_serving(witness)
    return answers


# -- strategies ------------------------------------------------------------------------------


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


INTS = st.integers(-(2**63), 2**64 - 1) | st.sampled_from([0, 1, -1, 65535, 65536, 2**64 - 1])
LEAVES = (
    st.none()
    | st.booleans()
    | INTS
    | st.floats()
    | st.binary(max_size=16)
    | st.text(max_size=16)
    | st.sampled_from(["/etc/passwd", "RGBA", "u8", "submit", ""])
)
OBJECTS = st.recursive(
    LEAVES,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=8,
)
FRAMES = st.lists(st.binary(max_size=64), max_size=5) | st.lists(st.just(b"f"), max_size=40)
# Types a hostile client sends; never shutdown (this client is local: it would be obeyed).
TYPES = st.sampled_from(
    [t for t in (*C.REQUESTS, *C.NOTICES, *C.REPLIES, *C.EVENTS) if t != C.SHUTDOWN]
) | st.text(max_size=12)
IDS = st.text(min_size=1, max_size=64) | LEAVES


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    h: dict[str, Any] = {"v": [1, 0], "type": draw(TYPES), "id": draw(IDS)}
    if draw(st.integers(0, 5)) == 0:
        h["v"] = draw(st.tuples(INTS, INTS).map(list) | LEAVES)
    for key in ("ref", "job"):
        if draw(st.booleans()):
            h[key] = draw(IDS)
    h["body"] = draw(st.dictionaries(st.text(max_size=12), OBJECTS, max_size=4) | LEAVES)
    return h


def descriptor(frame: int, w: int, h: int, layout: str = "RGB", dtype: str = "u8") -> dict:
    return {"frame": frame, "width": w, "height": h, "layout": layout, "dtype": dtype}


def break_frames(draw: st.DrawFn, frames: list[bytes]) -> None:
    """One of `frames` cut, dropped or grown, or a frame added."""
    i = draw(st.integers(0, len(frames) - 1))
    action = draw(st.sampled_from(["cut", "drop", "add", "grow"]))
    if action == "cut":
        frames[i] = frames[i][: draw(st.integers(0, max(0, len(frames[i]) - 1)))]
    elif action == "drop":
        del frames[i]
    elif action == "add":
        frames.append(draw(st.binary(max_size=32)))
    else:
        frames[i] += b"\x00"


@st.composite
def broken_submits(draw: st.DrawFn) -> list[bytes]:
    """A small valid submit, then broken: a field replaced, a frame cut, dropped or added,
    or a descriptor declaring more pixels than its frame holds."""
    w, h = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    layout = draw(st.sampled_from(LAYOUTS))
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    n = w * h * len(layout) * DTYPES[dtype]
    body: dict[str, Any] = {
        "content": descriptor(0, w, h, layout, dtype),
        "styles": [descriptor(1, 2, 2)],
        "settings": {"size": 32, "iterations": 2},
    }
    frames = [bytes(n), bytes(12)]
    what = draw(st.sampled_from(["field", "setting", "descriptor", "frames", "declare more"]))
    if what == "field":
        key = draw(
            st.sampled_from(
                ["content", "styles", "mask", "init_image", "settings", "priority", "init_job",
                 "replace", "preview_size", "detach", "label", "time_budget", "result_layout",
                 "result_dtype", "inputs_from"]
            )
        )  # fmt: skip
        body[key] = draw(OBJECTS)
    elif what == "setting":
        body["settings"][draw(st.text(max_size=16) | st.sampled_from(SETTING_NAMES))] = draw(
            OBJECTS
        )
    elif what == "descriptor":
        key = draw(st.sampled_from(["frame", "width", "height", "layout", "dtype", "channels"]))
        body["content"][key] = draw(OBJECTS)
    elif what == "frames":
        break_frames(draw, frames)
    else:
        body["content"]["width"] = w + draw(st.integers(1, 1000))
    header = {"v": [1, 0], "type": "submit", "id": draw(st.text(min_size=1, max_size=64))}
    return [pack({**header, "body": body}), *frames]


def tiny(w: int = 4, h: int = 4, layout: str = "RGB") -> Pixels:
    return Pixels(w, h, bytes(w * h * len(layout)), layout)


# Within the hostile daemon's limits, so that a request left valid is accepted (and cancelled).
TINY_JOB = {"size": 16, "iterations": 2}
TINY_TRAINING = {"steps": 1, "size": 32, "style_size": 32, "batch": 1}


def valid_requests() -> dict[str, Message]:
    """One small, valid request of every type SPEC.md lists but submit (broken_submits) and
    shutdown (this client is local: it would be obeyed)."""
    return {
        C.HELLO: M.hello("hostile"),
        C.WATCH: M.watch("job-1"),
        C.CANCEL: M.cancel("job-1"),
        C.STATUS: M.status("job-1"),
        C.PING: M.ping([b"x"]),
        C.PRESETS: M.presets(),
        C.ESTIMATE: M.EstimateRequest(64, 48, {"size": 32, "iterations": 2}).to_message(),
        C.TRAIN: M.Train(tiny(32, 32), "hostile", TINY_TRAINING, validation=tiny()).to_message(),
        C.CLIP: ClipRequest(3, 4, 4, styles=[tiny()], settings=TINY_JOB).to_message(),
        C.FRAMES: FramesBatch("job-1", 0, [tiny(), tiny()]).to_message(),
    }


REQUEST_FIELDS = [
    "frames", "width", "height", "layout", "dtype", "styles", "settings", "mask", "temporal",
    "after", "style", "name", "photos", "only_photos", "validation", "overwrite", "restart",
    "warm_start", "first", "images", "version", "client", "payload", "priority", "detach",
    "label", "preview_size", "progress_every", "preview_every", "result_layout",
]  # fmt: skip


@st.composite
def broken(draw: st.DrawFn, msg: Message) -> list[bytes]:
    """`msg`, broken as broken_submits breaks a submit: a field replaced, removed or added, a
    value inside a nested map replaced, the header's job replaced, or a frame cut, dropped or
    added."""
    header, *frames = encode(msg)
    h = msgpack.unpackb(header, raw=False)
    body = h.setdefault("body", {})
    what = draw(st.sampled_from(["field", "drop", "nested", "job", "frames"]))
    if what == "field":
        key = draw(st.sampled_from(REQUEST_FIELDS) | st.sampled_from(sorted(body) or ["x"]))
        body[key] = draw(OBJECTS)
    elif what == "drop" and body:
        del body[draw(st.sampled_from(sorted(body)))]
    elif what == "nested":
        inner = [v for v in body.values() if isinstance(v, dict)]
        inner += [
            v[0] for v in body.values() if isinstance(v, list) and v and isinstance(v[0], dict)
        ]
        if inner:
            target = draw(st.sampled_from(inner))
            names = [*sorted(target), "frame", "width", "layout", "steps"]
            target[draw(st.sampled_from(names))] = draw(OBJECTS)
    elif what == "job":
        h["job"] = draw(IDS)
    elif frames:
        break_frames(draw, frames)
    return [pack(h), *frames]


# A small valid request of every type but submit (broken_submits) and shutdown, broken. (Its
# frames batch names a job that does not exist: test_hostile_frames_for_a_receiving_clip sends
# batches to one that does.)
BROKEN_REQUESTS = st.sampled_from(sorted(valid_requests())).flatmap(
    lambda t: broken(valid_requests()[t])
)


SETTING_NAMES = [
    "size", "iterations", "content_weight", "style_weight", "tv_weight", "content_layers",
    "style_layers", "style_blend", "style_scale", "init", "seed", "optimizer", "learning_rate",
    "pooling", "preserve_color", "scales", "max_pixels", "weights", "device",
]  # fmt: skip

MESSAGES = (
    st.tuples(st.binary(max_size=200), FRAMES).map(lambda t: [t[0], *t[1]])
    | st.tuples(OBJECTS.map(pack), FRAMES).map(lambda t: [t[0], *t[1]])
    | st.tuples(headers().map(pack), FRAMES).map(lambda t: [t[0], *t[1]])
    | broken_submits()
    | BROKEN_REQUESTS
)


# -- the properties --------------------------------------------------------------------------


def test_limits_as_configured(hostile: DaemonProcess) -> None:
    with hostile.client() as c:
        limits = c.hello()["limits"]
    assert limits["max_message_bytes"] == MAX_MESSAGE_BYTES
    assert limits["max_input_pixels"] == MAX_INPUT_PIXELS


@HOSTILE_SETTINGS
@given(parts=MESSAGES)
def test_hostile_messages_get_an_error_and_the_daemon_goes_on(
    raw: Raw, witness: Client, parts: list[bytes]
) -> None:
    try:
        msg = decode(parts)
        assume(msg.type != C.SHUTDOWN)
    except ProtocolError:
        pass
    send_checked(raw, witness, parts)


@pytest.fixture(scope="module")
def receiving_clip(hostile: DaemonProcess, context: zmq.Context):
    """A clip job waiting for its frames, and the socket that opened it (a clip takes frames
    from its own client)."""
    r = Raw(context, hostile.endpoint)
    request = ClipRequest(10_000, 4, 4, styles=[tiny()], settings=TINY_JOB)
    (answer,) = r.exchange(encode(request.to_message()))
    assert answer.type == C.ACCEPTED, answer.body
    yield r, answer.job
    (answer,) = r.exchange(encode(M.cancel(answer.job)))
    assert answer.type == C.CANCEL_REPLY, answer.body  # the clip outlived every batch
    r.close()


@HOSTILE_SETTINGS
@given(data=st.data())
def test_hostile_frames_for_a_receiving_clip(
    receiving_clip: tuple[Raw, str], witness: Client, data: st.DataObject
) -> None:
    """Broken `frames` batches for a real clip: each gets exactly one answer, the parser's
    refusal when it has one, and the clip goes on receiving."""
    r, job = receiving_clip
    parts = data.draw(broken(FramesBatch(job, 0, [tiny(), tiny()]).to_message()))
    answers = r.exchange(parts)
    want = expectation(parts)
    try:
        msg = decode(parts)
        if msg.type == C.FRAMES and msg.job == job:
            FramesBatch.from_message(msg, job)
    except ProtocolError as e:
        want = Expect(header_id(parts[0]), e.code, e.field)
    assert len(answers) == 1, answers
    assert answers[0].ref == want.ref, answers[0]
    if want.code is not None:
        assert (answers[0].body["code"], answers[0].body["field"]) == (want.code, want.field)
    assert_serving(witness)


def hello_parts(v: Any = (1, 0), body_version: Any = (1, 0), mid: str = "h-1") -> list[bytes]:
    version = body_version if isinstance(body_version, str) else list(body_version)
    body = {"client": "hostile", "version": version}
    return [pack({"v": list(v), "type": "hello", "id": mid, "body": body})]


@pytest.mark.parametrize(
    ("parts", "code", "field", "ref"),
    [
        (hello_parts(v=(2, 0)), C.E_VERSION, "v", "h-1"),
        (hello_parts(v=(0, 1)), C.E_VERSION, "v", "h-1"),
        (hello_parts(body_version=(2, 0)), C.E_VERSION, "version", "h-1"),
        (hello_parts(body_version=(99, 7)), C.E_VERSION, "version", "h-1"),
        (hello_parts(body_version="x"), C.E_INVALID_FIELD, "version", "h-1"),
        (hello_parts(body_version=(1,)), C.E_INVALID_FIELD, "version", "h-1"),
        ([pack({"v": [1, 0], "type": 7, "id": "t-1"})], C.E_INVALID_FIELD, "type", "t-1"),
        ([pack({"v": [1, 0], "type": "frobnicate", "id": "u-1"})], C.E_UNKNOWN_TYPE, "type", "u-1"),
        ([pack({"v": [1, 0], "type": "result", "id": "u-2"})], C.E_UNKNOWN_TYPE, "type", "u-2"),
        ([pack({"v": [1, 9], "type": "future", "id": "u-3"})], C.E_UNKNOWN_TYPE, "type", "u-3"),
        ([b""], C.E_MALFORMED, None, None),
        ([b"\xc1"], C.E_MALFORMED, None, None),
        ([b"\x91" * 60_000 + b"\xc0"], C.E_MALFORMED, None, None),
        ([pack({"v": [1, 0], "type": "ping", "id": "f-1"}), *[b"x"] * 33], C.E_MALFORMED, None,
         "f-1"),
        ([pack({"v": [1, 0], "type": "ping", "id": "x" * 65})], C.E_INVALID_FIELD, "id", None),
        ([pack({"v": [1, 0], "type": "ping"})], C.E_MISSING_FIELD, "id", None),
        ([pack({"type": "ping", "id": "m-1"})], C.E_MISSING_FIELD, "v", "m-1"),
        ([pack({"v": [1, 0], "type": "watch", "id": "w-1"})], C.E_MISSING_FIELD, "job", "w-1"),
        (
            [pack({"v": [1, 0], "type": "cancel", "id": "c-1", "job": "nope"})],
            C.E_UNKNOWN_JOB,
            "job",
            "c-1",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)  # fmt: skip
def test_specific_refusals(
    raw: Raw, witness: Client, parts: list[bytes], code: str, field: str | None, ref: str | None
) -> None:
    (answer,) = send_checked(raw, witness, parts)
    assert (answer.type, answer.ref) == (C.ERROR, ref)
    assert (answer.body["code"], answer.body["field"]) == (code, field)


@pytest.mark.parametrize(
    "parts",
    [
        [pack({"v": [1, 0], "type": "heartbeat"})],  # no id
        [pack({"v": [1, 0], "type": "ack", "id": "a-1", "job": 5})],
        [pack({"v": [9, 0], "type": "heartbeat", "id": "h-9"})],
    ],
    ids=["heartbeat-without-id", "ack-with-a-bad-job", "heartbeat-of-another-major"],
)
def test_a_broken_notice_is_never_answered(raw: Raw, witness: Client, parts: list[bytes]) -> None:
    """SPEC.md section 5: notices are one-way, even when they are broken."""
    assert send_checked(raw, witness, parts) == []


def test_the_iteration_limit_is_the_optimizations(raw: Raw, witness: Client) -> None:
    """Regression: the default iteration count was held against --max-iterations for the fast
    method too, which has no iterations: every instant job was refused."""
    fast = {"size": 16, "method": "fast", "presets": [1]}
    (answer,) = send_checked(
        raw, witness, submit_parts({"styles": [], "settings": fast}, [bytes(768)])
    )
    assert answer.type == C.ACCEPTED, answer.body
    (answer,) = send_checked(raw, witness, submit_parts({"settings": {"size": 16}}))
    assert (answer.body["code"], answer.body["field"]) == (C.E_TOO_LARGE, "settings.iterations")


def submit_parts(body_change: dict[str, Any], frames: list[bytes] | None = None) -> list[bytes]:
    body: dict[str, Any] = {
        "content": descriptor(0, 16, 16),
        "styles": [descriptor(1, 16, 16)],
        "settings": {"size": 16, "iterations": 2},
    }
    body.update(body_change)
    frames = frames if frames is not None else [bytes(768), bytes(768)]
    return [pack({"v": [1, 0], "type": "submit", "id": "s-1", "body": body}), *frames]


@pytest.mark.parametrize(
    ("change", "frames", "code", "field"),
    [
        ({"content": descriptor(0, 64, 64)}, None, C.E_INVALID_FIELD, "content"),  # > frame
        ({}, [bytes(767), bytes(768)], C.E_INVALID_FIELD, "content"),  # truncated
        ({}, [bytes(768)], C.E_INVALID_FIELD, "styles[0]"),  # frame missing
        ({}, [bytes(768), bytes(768), b"x"], C.E_INVALID_FIELD, "frames"),  # undescribed
        ({"content": descriptor(0, 65, 64)}, [bytes(65 * 64 * 3), bytes(768)], C.E_TOO_LARGE,
         "content"),  # over --max-input-pixels
        # Regression: a list as dtype raised TypeError in the parser: an `internal` error.
        ({"content": {**descriptor(0, 16, 16), "dtype": ["u8"]}}, None, C.E_INVALID_FIELD,
         "content"),
        ({"settings": {"iterations": 6}}, None, C.E_TOO_LARGE, "settings.iterations"),
        # Regression: the default iterations (300) escaped --max-iterations 5.
        ({"settings": {"size": 16}}, None, C.E_TOO_LARGE, "settings.iterations"),
        ({"settings": {"size": 64, "iterations": 2}}, None, C.E_TOO_LARGE, "settings.size"),
        ({"settings": {"size": 16, "iterations": 2, "bogus": 1}}, None, C.E_INVALID_FIELD,
         "settings.bogus"),
        # Regression: refused only when the job ran, after it was accepted and queued.
        ({"settings": {"size": 16, "iterations": 2, "style_blend": [1.0, 2.0]}}, None,
         C.E_INVALID_FIELD, "settings.style_blend"),
        ({"settings": {"size": 16, "iterations": [2]}}, None, C.E_INVALID_FIELD,
         "settings.iterations"),
        ({"settings": {"size": 16, "iterations": 2, "optimizer": {"x": 1}}}, None,
         C.E_INVALID_FIELD, "settings.optimizer"),
        ({"settings": {"size": 16, "iterations": 2, "style_layers": [[1]]}}, None,
         C.E_INVALID_FIELD, "settings.style_layers"),
        ({"settings": {"size": 16, "iterations": 2, "seed": 2**64 - 1}}, None,
         C.E_INVALID_FIELD, "settings.seed"),
        ({"settings": {"size": 16, "iterations": 2, "style_weight": float("nan")}}, None,
         C.E_INVALID_FIELD, "settings.style_weight"),
        ({"init_job": "nope"}, None, C.E_UNKNOWN_JOB, "init_job"),
        ({"replace": "nope"}, None, C.E_UNKNOWN_JOB, "replace"),
        ({"mask": descriptor(2, 8, 8, "L")}, [bytes(768), bytes(768), bytes(64)],
         C.E_INVALID_FIELD, "mask"),  # not the content's size
    ],
)  # fmt: skip
def test_submit_refusals(
    raw: Raw,
    witness: Client,
    change: dict[str, Any],
    frames: list[bytes] | None,
    code: str,
    field: str,
) -> None:
    parts = submit_parts(change, frames)
    (answer,) = raw.exchange(parts)
    assert (answer.type, answer.ref) == (C.ERROR, "s-1"), answer
    assert (answer.body["code"], answer.body["field"]) == (code, field), answer.body
    assert_serving(witness)


# -- files named in messages -----------------------------------------------------------------


def readers_of(fifo: Path) -> bool:
    """Whether any process has the FIFO open for reading (or is blocked opening it)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        assert e.errno == errno.ENXIO, e
        return False
    os.close(fd)
    return True


def test_paths_in_fields_are_refused_and_never_opened(
    hostile: DaemonProcess, raw: Raw, witness: Client, tmp_path: Path
) -> None:
    fifo = tmp_path / "trap"
    os.mkfifo(fifo)
    path = str(fifo)
    ok = {"size": 16, "iterations": 2}
    cases: list[tuple[list[bytes], str]] = [
        (submit_parts({"content": path}), "content"),
        (submit_parts({"content": {"path": path}}), "content"),
        (submit_parts({"styles": [path]}), "styles[0]"),
        (submit_parts({"styles": path}), "styles"),
        (submit_parts({"mask": path}), "mask"),
        (submit_parts({"init_image": path}), "init_image"),
        (submit_parts({"content": {**descriptor(0, 16, 16), "frame": path}}), "content"),
        (submit_parts({"content": {**descriptor(0, 16, 16), "layout": path}}), "content"),
        (submit_parts({"init_job": path}), "init_job"),
        (submit_parts({"replace": path}), "replace"),
        (submit_parts({"settings": {**ok, "weights": path}}), "settings.weights"),
        (submit_parts({"settings": {**ok, "init": path}}), "settings.init"),
        (submit_parts({"settings": {**ok, "style_layers": [path]}}), "settings.style_layers"),
        (submit_parts({"settings": {**ok, path: 1}}), f"settings.{path}"),
        ([pack({"v": [1, 0], "type": "watch", "id": "w-1", "job": path})], "job"),
        ([pack({"v": [1, 0], "type": "status", "id": "t-1", "job": path})], "job"),
    ]
    for parts, field in cases:
        answers = raw.exchange(parts)
        assert len(answers) == 1 and answers[0].type == C.ERROR, (field, answers)
        assert answers[0].body["field"] == field, answers[0].body
        assert not readers_of(fifo), f"the daemon opened {path} ({field})"
        assert_serving(witness)
    assert hostile.proc is not None
    fds = Path(f"/proc/{hostile.proc.pid}/fd")
    if fds.is_dir():
        opened = {os.readlink(p) for p in fds.iterdir() if p.is_symlink()}
        assert path not in opened


# -- oversized messages ----------------------------------------------------------------------


def monitored(context: zmq.Context, endpoint: str) -> tuple[zmq.Socket, zmq.Socket]:
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    sock.connect(endpoint)
    return sock, monitor


def wait_event(monitor: zmq.Socket, event: int, timeout: float) -> bool:
    from zmq.utils.monitor import recv_monitor_message

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if monitor.poll(int(left * 1000) + 1) and recv_monitor_message(monitor)["event"] == event:
            return True
    return False


@pytest.mark.parametrize(
    "parts",
    [
        [b"\x00" * (MAX_MESSAGE_BYTES + 1)],
        [pack({"v": [1, 0], "type": "ping", "id": "o-1"}), b"\x00" * (MAX_MESSAGE_BYTES + 1)],
        [pack({"v": [1, 0], "type": "ping", "id": "o-2"}), b"x", b"\x00" * 1_000_000, b"y"],
        submit_parts({"content": descriptor(0, 200, 200)}, [bytes(200 * 200 * 3), bytes(768)]),
    ],
    ids=["header", "frame", "middle-frame", "submit"],
)
def test_oversized_messages_end_the_connection(
    hostile: DaemonProcess, context: zmq.Context, witness: Client, parts: list[bytes]
) -> None:
    """libzmq drops a connection whose frame is over ZMQ_MAXMSGSIZE, before buffering it: the
    sender gets no answer, sees a disconnect, and everyone else is served as before."""
    sock, monitor = monitored(context, hostile.endpoint)
    try:
        assert wait_event(monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED, ANSWER_S)
        sock.send_multipart(parts)
        assert wait_event(monitor, zmq.EVENT_DISCONNECTED, ANSWER_S)
        assert_serving(witness)
        got = []
        while sock.poll(0):
            got.append(decode(sock.recv_multipart()))
        assert [m for m in got if m.type != C.HEARTBEAT] == []
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)


def test_a_message_just_under_the_limit_is_answered(raw: Raw, witness: Client) -> None:
    parts = [pack({"v": [1, 0], "type": "ping", "id": "p-1"}), b"\x01" * MAX_MESSAGE_BYTES]
    (answer,) = raw.exchange(parts)
    assert answer.type == C.PING_REPLY and [bytes(f) for f in answer.frames] == parts[1:]


# -- a flood ---------------------------------------------------------------------------------


def garbage(rng: random.Random, i: int) -> list[bytes]:
    kind = i % 5
    if kind == 0:
        return [rng.randbytes(rng.randrange(0, 100))]
    if kind == 1:
        return [pack([i, "not a map"])]
    if kind == 2:
        return [pack({"v": [1, 0], "type": f"junk{i}", "id": f"g-{i}"})]
    if kind == 3:
        return submit_parts({"content": "/etc/passwd"})
    return [pack({"v": [1, 0], "type": "ping", "id": f"g-{i}"}), *[b"x"] * 40]


def test_a_flood_of_garbage_does_not_starve_others(
    hostile: DaemonProcess, context: zmq.Context, witness: Client
) -> None:
    rng = random.Random(1)
    flood = context.socket(zmq.DEALER)
    flood.linger = 0
    flood.sndhwm = 0  # queue all of it in this process: send as fast as possible
    flood.connect(hostile.endpoint)
    try:
        witness.ping()  # connected and warm
        for i in range(2000):
            flood.send_multipart(garbage(rng, i))
        assert_serving(witness)  # behind 2000 queued messages of another client
        # Every garbage message gets its error: none is dropped, however slowly it is read.
        errors = 0
        deadline = time.monotonic() + 120
        while errors < 2000 and time.monotonic() < deadline:
            if flood.poll(1000):
                msg = decode(flood.recv_multipart())
                if msg.type == C.ERROR:
                    assert msg.body["code"] in C.ERROR_CODES
                    errors += 1
        assert errors == 2000
    finally:
        flood.close(linger=0)
    assert_serving(witness)


# -- log forging -----------------------------------------------------------------------------


def test_a_client_cannot_write_lines_into_the_log(hostile: DaemonProcess, raw: Raw) -> None:
    """Regression: the client's name and setting names went into the log as they were, so a
    newline in them started a line of the client's choosing."""
    forged = "x\nTraceback (most recent call last):\n  forged"
    (answer,) = raw.exchange(
        [pack({"v": [1, 0], "type": "hello", "id": "l-1", "body": {"client": forged}})]
    )
    assert answer.type == C.HELLO_REPLY
    (answer,) = raw.exchange(submit_parts({"settings": {"size": 16, forged: 1}}))
    assert answer.body["field"] == f"settings.{forged}"  # the client hears it as it was
    (answer,) = raw.exchange(hello_parts(body_version=(forged, 0)))
    assert (answer.body["code"], answer.body["field"]) == (C.E_INVALID_FIELD, "version")
    time.sleep(0.2)  # the log is written by another process
    assert not re.search(r"^(Traceback|  forged)", hostile.log(), re.MULTILINE)


# -- at the end ------------------------------------------------------------------------------


def test_after_all_that_the_daemon_is_alive_and_works(hostile: DaemonProcess) -> None:
    assert hostile.alive
    with hostile.client() as c:
        job = c.submit(
            Submit(
                example_pixels("astronaut", 32),
                [example_pixels("hubble", 32)],
                {"size": 32, "iterations": 3},
            )
        )
        result = job.result(timeout=60)
    assert isinstance(result, Result) and result.image.width == 32
    log = hostile.log()
    assert not re.search(r"^Traceback", log, re.MULTILINE)  # (escaped, a client may quote it)
    assert "bug while handling" not in log
    assert "error to" in log  # the log was written, and saw the errors
