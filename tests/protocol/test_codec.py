"""The envelope and the submit parser against hostile input, without a daemon.

`decode` and `Submit.from_message` are the daemon's first line of defence: whatever bytes arrive,
they must return a message or raise ProtocolError with a code of SPEC.md (never another
exception), in bounded time. Property tests feed them random bytes, random msgpack objects and
mutations of valid messages; specific tests pin the limits and the versioning rules.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impasto_protocol import Message, ProtocolError, RemoteError, Submit, decode, encode
from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.codec import header_id
from impasto_protocol.pixels import DTYPES, LAYOUTS, MAX_SIDE, Pixels, pixels_from_descriptor

# One call may take this much CPU time at most (the thread's, which waiting for a core does not
# add to). decode and from_message take microseconds; the bound catches a pathological case
# (quadratic work on a 64 KiB header, a runaway recursion).
BOUND_S = 1.0

# Properties that are not the main targets run a tenth as many examples as the profile says.
FEW = max(100, settings.default.max_examples // 10)

HEADER_FIELDS = (None, "v", "type", "id", "ref", "job", "body")
IMAGE_FIELDS = ("content", "styles", "mask", "init_image")
SCALAR_FIELDS = (
    "settings",
    "init_job",
    "replace",
    "priority",
    "progress_every",
    "preview_every",
    "preview_size",
    "detach",
    "label",
    "result_layout",
    "result_dtype",
    "time_budget",
    "inputs_from",
)
# A field a submit error may name: a body field, a style by index, or "frames".
SUBMIT_FIELD = re.compile(
    r"^(content|styles(\[\d+\])?|mask|init_image|frames|" + "|".join(SCALAR_FIELDS) + ")$"
)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def header(**fields: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"v": [1, 0], "type": "ping", "id": "t-1", "ref": None, "job": None}
    h.update(fields)
    return h


def timed(fn: Any, *args: Any) -> Any:
    """fn(*args) -> (result or the exception, seconds of this thread's CPU time: the work done,
    which a loaded machine does not stretch as it does the wall clock)."""
    start = time.thread_time()
    try:
        out: Any = fn(*args)
    except Exception as e:
        out = e
    return out, time.thread_time() - start


def check_decode(parts: list[bytes]) -> Message | ProtocolError:
    """decode(parts) returns a sound Message or raises a sound ProtocolError, quickly."""
    out, elapsed = timed(decode, parts)
    assert elapsed < BOUND_S, f"decode took {elapsed:.3f} s"
    if isinstance(out, Exception):
        assert isinstance(out, ProtocolError), f"{type(out).__name__}: {out}"
        assert out.code in C.ERROR_CODES
        assert out.field in HEADER_FIELDS
        assert isinstance(out.message, str) and out.message
        if out.code == C.E_MALFORMED:
            assert out.field is None
        return out
    assert isinstance(out.type, str) and out.type
    assert isinstance(out.id, str) and 0 < len(out.id) <= C.MAX_ID_LENGTH
    for value in (out.ref, out.job):
        assert value is None or (isinstance(value, str) and 0 < len(value) <= C.MAX_ID_LENGTH)
    assert isinstance(out.body, dict)
    assert out.version[0] == C.VERSION[0]
    assert out.frames == list(parts[1:])
    assert len(parts[0]) <= C.MAX_HEADER_BYTES and len(out.frames) <= C.MAX_FRAMES
    # The daemon reads the id of a message that failed to decode: that must never raise either.
    return out


def check_header_id(raw: bytes, error: ProtocolError | None) -> None:
    out, elapsed = timed(header_id, raw)
    assert elapsed < BOUND_S
    assert out is None or (isinstance(out, str) and 0 < len(out) <= C.MAX_ID_LENGTH)
    if error is not None:
        # The daemon answers with an error whose ref is that id: its clients must be able to
        # decode that answer.
        reply = decode(encode(M.error(error.code, error.message, error.field, ref=out)))
        assert reply.ref == out and reply.body["code"] == error.code


def check_submit(msg: Message) -> Submit | ProtocolError:
    """Submit.from_message(msg) returns a consistent Submit or raises a ProtocolError that
    names the field at fault, quickly."""
    out, elapsed = timed(Submit.from_message, msg)
    assert elapsed < BOUND_S, f"from_message took {elapsed:.3f} s"
    if isinstance(out, Exception):
        assert isinstance(out, ProtocolError), f"{type(out).__name__}: {out}"
        assert out.code in C.ERROR_CODES
        assert out.field is not None and SUBMIT_FIELD.match(out.field), out.field
        return out
    images = [p for p in (out.content, *out.styles, out.mask, out.init_image) if p is not None]
    if out.inputs_from is None:
        assert out.content is not None and 1 <= len(out.styles) <= C.MAX_FRAMES
    else:
        assert out.content is None and out.mask is None and not out.styles
    assert len(images) == len(msg.frames)  # every frame described exactly once
    for p in images:
        assert 1 <= p.width <= MAX_SIDE and 1 <= p.height <= MAX_SIDE
        assert p.layout in LAYOUTS and p.dtype in DTYPES
        assert len(p.data) == p.nbytes
    assert out.mask is None or out.mask.layout == "L"
    assert out.init_image is None or out.init_job is None
    assert -10 <= out.priority <= 10 and out.progress_every >= 1 and out.preview_every >= 0
    assert 16 <= out.preview_size <= 65535 and isinstance(out.detach, bool)
    assert isinstance(out.label, str) and len(out.label) <= 200
    assert out.result_layout in (None, *M.RESULT_LAYOUTS)
    assert out.result_dtype in DTYPES
    assert out.time_budget is None or (
        math.isfinite(out.time_budget) and 0.001 <= out.time_budget <= 7 * 86400
    )
    assert all(isinstance(k, str) for k in out.settings)
    return out


# -- strategies ------------------------------------------------------------------------------

# msgpack's integer range, with its edges weighted in.
INTS = st.integers(-(2**63), 2**64 - 1) | st.sampled_from(
    [0, 1, -1, 2**31, 2**32, 2**63 - 1, 2**64 - 1, -(2**63), 65535, 65536, MAX_SIDE + 1]
)
LEAVES = (
    st.none()
    | st.booleans()
    | INTS
    | st.floats()  # nan and both infinities included
    | st.binary(max_size=32)
    | st.text(max_size=32)  # Hypothesis' text has no surrogates: msgpack can encode it
    | st.sampled_from(["/etc/passwd", "../../etc/shadow", "u8", "RGBA", "L", "submit", ""])
)
KEYS = st.text(max_size=12) | st.binary(max_size=8) | st.sampled_from(["frame", "v", "body"])
OBJECTS = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=24,
)
# What a string header field may hold: ids and types of every length, and junk.
IDS = st.text(max_size=70) | LEAVES | st.lists(LEAVES, max_size=3)
TYPES = st.sampled_from([*C.REQUESTS, *C.NOTICES, *C.REPLIES, *C.EVENTS]) | IDS
VERSIONS = (
    st.tuples(INTS, INTS).map(list)
    | st.tuples(st.sampled_from([0, 1, 2]), st.integers(0, 5)).map(list)
    | OBJECTS
)
FRAMES = st.lists(st.binary(max_size=48), max_size=40)


@st.composite
def plausible_headers(draw: st.DrawFn) -> dict[Any, Any]:
    """Maps that look like headers: each field present or not, well-typed or not."""
    out: dict[Any, Any] = {}
    for key, values in (
        ("v", VERSIONS | st.just([1, 0])),
        ("type", TYPES),
        ("id", IDS),
        ("ref", IDS | st.none()),
        ("job", IDS | st.none()),
        ("body", OBJECTS | st.dictionaries(st.text(max_size=12), OBJECTS, max_size=6)),
    ):
        if draw(st.integers(0, 4)):  # present four times in five
            out[key] = draw(values)
    out.update(draw(st.dictionaries(KEYS, OBJECTS, max_size=3)))  # unknown fields
    return out


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A valid header with bytes flipped, inserted, or cut off."""
    raw = bytearray(
        pack(header(type=draw(TYPES.filter(lambda t: isinstance(t, str))), body={"x": [1, 2.5]}))
    )
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "cut"]))
        if action == "flip" and i < len(raw):
            raw[i] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del raw[i:]
    return bytes(raw)


HEADERS_AS_BYTES = (
    st.binary(max_size=256) | OBJECTS.map(pack) | plausible_headers().map(pack) | mutated_bytes()
)


@st.composite
def pixels(draw: st.DrawFn, layouts: tuple[str, ...] = LAYOUTS) -> Pixels:
    w, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    layout, dtype = draw(st.sampled_from(layouts)), draw(st.sampled_from(sorted(DTYPES)))
    n = w * h * len(layout) * DTYPES[dtype]
    return Pixels(w, h, draw(st.binary(min_size=n, max_size=n)), layout, dtype)


JSONISH = st.recursive(
    st.none() | st.booleans() | INTS | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def submits(draw: st.DrawFn) -> Submit:
    """A valid Submit with every optional field present or not."""
    maybe = lambda s: draw(st.none() | s)  # noqa: E731
    init_image = maybe(pixels())
    inputs_from = maybe(st.text(min_size=1, max_size=64))  # then no content, styles or mask
    return Submit(
        content=None if inputs_from else draw(pixels()),
        styles=[] if inputs_from else draw(st.lists(pixels(), min_size=1, max_size=3)),
        settings=draw(st.dictionaries(st.text(max_size=12), JSONISH, max_size=4)),
        mask=None if inputs_from else maybe(pixels(layouts=("L",))),
        init_image=init_image,
        init_job=None if init_image is not None else maybe(st.text(min_size=1, max_size=64)),
        replace=maybe(st.text(min_size=1, max_size=64)),
        priority=draw(st.integers(-10, 10)),
        progress_every=draw(st.integers(1, 1_000_000)),
        preview_every=draw(st.integers(0, 1_000_000)),
        preview_size=draw(st.integers(16, 65535)),
        detach=draw(st.booleans()),
        label=draw(st.text(max_size=200)),
        result_layout=maybe(st.sampled_from(M.RESULT_LAYOUTS)),
        result_dtype=draw(st.sampled_from(tuple(DTYPES))),
        time_budget=maybe(st.floats(0.001, 7 * 86400)),
        inputs_from=inputs_from,
    )


# Values a hostile client puts where a field belongs.
HOSTILE = (
    OBJECTS
    | st.sampled_from(
        [
            "/etc/passwd",
            {"path": "/etc/passwd"},
            -1,
            2**64 - 1,
            -(2**63),
            float("nan"),
            float("inf"),
            True,
            [],
            {},
            [[[[[[]]]]]],
        ]
    )
    | st.builds(lambda n: [n] * 40, INTS)
)
DESCRIPTOR_VALUES = {
    "frame": st.integers(-3, 8) | HOSTILE,
    "width": st.sampled_from([0, -1, 1, 2, 4, MAX_SIDE, MAX_SIDE + 1, 2**64 - 1]) | HOSTILE,
    "height": st.sampled_from([0, -1, 1, 2, 4, MAX_SIDE, MAX_SIDE + 1, 2**64 - 1]) | HOSTILE,
    "channels": st.integers(-1, 5) | HOSTILE,
    "layout": st.sampled_from([*LAYOUTS, "CMYK", "rgb", "", "RGBAA"]) | HOSTILE,
    "dtype": st.sampled_from([*DTYPES, "f64", "U8", ""]) | HOSTILE,
}


INT_RANGES = {
    "priority": (-10, 10),
    "progress_every": (1, 1_000_000),
    "preview_every": (0, 1_000_000),
    "preview_size": (16, 65535),
}


def breaks(key: str, value: Any) -> bool:
    """Whether body[key] = value makes every submit invalid, whatever its other fields hold.
    None is never such a value: it stands for an absent optional field."""
    if value is None:
        return False
    if key in ("content", "mask", "init_image", "settings"):
        return not isinstance(value, dict)
    if key == "styles":
        return not isinstance(value, list)
    if key in ("init_job", "replace", "inputs_from"):
        return not isinstance(value, str)
    if key in INT_RANGES:
        lo, hi = INT_RANGES[key]
        return isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi
    if key == "detach":
        return not isinstance(value, bool)
    if key == "label":
        return not isinstance(value, str) or len(value) > M.MAX_LABEL
    if key in ("result_layout", "result_dtype"):
        allowed = M.RESULT_LAYOUTS if key == "result_layout" else tuple(DTYPES)
        return not (isinstance(value, str) and value in allowed)
    if key == "time_budget":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return not (number and math.isfinite(value) and 0.001 <= value <= 7 * 86400)
    raise AssertionError(f"no rule for {key}")


def same_images(a: Submit, b: Submit) -> bool:
    def key(p: Pixels | None) -> Any:
        return p and (p.width, p.height, p.layout, p.dtype, bytes(p.data))

    images = lambda s: [key(p) for p in (s.content, *s.styles, s.mask, s.init_image)]  # noqa: E731
    return images(a) == images(b)


@st.composite
def mutated_submits(draw: st.DrawFn) -> tuple[list[bytes], str, Submit | None]:
    """A valid submit with one thing broken; returns (parts, what was broken, and the valid
    submit where the break may leave its meaning unchanged: a descriptor key it lacks removed,
    or a descriptor value set to what it was)."""
    sub = draw(submits().filter(lambda s: s.inputs_from is None))  # (which sends images)
    msg = sub.to_message("s-1")
    body, frames = msg.body, [bytes(f) for f in msg.frames]
    images = [k for k in IMAGE_FIELDS if k in body]
    kind = draw(st.sampled_from(["field", "drop field", "descriptor", "frames"]))
    if kind == "field":
        key = draw(st.sampled_from([*IMAGE_FIELDS, *SCALAR_FIELDS]))
        body[key] = draw(HOSTILE.filter(lambda value: breaks(key, value)))
        what = key
    elif kind == "drop field":
        key = draw(st.sampled_from(images))
        del body[key]
        what = key
    elif kind == "descriptor":
        key = draw(st.sampled_from(images))
        desc = body[key][draw(st.integers(0, len(body[key]) - 1))] if key == "styles" else body[key]
        name = draw(st.sampled_from(sorted(DESCRIPTOR_VALUES)))
        if draw(st.booleans()):
            # Another layout of as many channels (RGBA for BGRA) describes the same bytes
            # validly: a change of meaning, not a break.
            old = desc.get(name)
            desc[name] = draw(
                DESCRIPTOR_VALUES[name].filter(
                    lambda v: not (name == "layout" and v in LAYOUTS and v != old
                                   and len(v) == len(old))
                )
            )  # fmt: skip
        else:
            desc.pop(name, None)
        return [encode(Message(msg.type, msg.id, body))[0], *frames], key, sub
    else:
        action = draw(st.sampled_from(["drop", "truncate", "extend", "append", "duplicate"]))
        i = draw(st.integers(0, len(frames) - 1))
        if action == "drop":
            del frames[i]
        elif action == "truncate":
            frames[i] = frames[i][: draw(st.integers(0, max(0, len(frames[i]) - 1)))]
        elif action == "extend":
            frames[i] += draw(st.binary(min_size=1, max_size=8))
        elif action == "append":
            frames.append(draw(st.binary(max_size=16)))
        else:
            frames.append(frames[i])
        what = "frames"
    return [encode(Message(msg.type, msg.id, body))[0], *frames], what, None


DESCRIPTORS = st.fixed_dictionaries({}, optional=DESCRIPTOR_VALUES)


@st.composite
def random_submits(draw: st.DrawFn) -> tuple[list[bytes], str, Submit | None]:
    """Submits whose known fields hold anything at all (or any map as the body)."""
    body = draw(
        st.fixed_dictionaries(
            {},
            optional={
                **{k: HOSTILE for k in ("mask", "init_image", *SCALAR_FIELDS, "future")},
                "content": DESCRIPTORS | HOSTILE,
                "styles": st.lists(DESCRIPTORS | HOSTILE, max_size=4) | HOSTILE,
            },
        )
        | st.dictionaries(KEYS, OBJECTS, max_size=6)
    )
    return [pack(header(type="submit", body=body)), *draw(FRAMES)], "anything", None


# -- round trips -----------------------------------------------------------------------------


def round_trip(msg: Message) -> Message:
    parts = [bytes(p) for p in encode(msg)]
    back = decode(parts)
    assert (back.type, back.id, back.ref, back.job) == (msg.type, msg.id, msg.ref, msg.job)
    assert back.version == C.VERSION
    assert [bytes(f) for f in back.frames] == [bytes(f) for f in msg.frames]
    return back


@settings(max_examples=FEW)
@given(submits())
def test_submit_round_trip(sub: Submit) -> None:
    back = Submit.from_message(round_trip(sub.to_message()))
    for name in SCALAR_FIELDS:
        if name != "settings":
            assert getattr(back, name) == getattr(sub, name), name
    assert pack(back.settings) == pack(sub.settings)
    pairs = [(back.content, sub.content), *zip(back.styles, sub.styles, strict=True)]
    pairs += [(back.mask, sub.mask), (back.init_image, sub.init_image)]
    for got, sent in pairs:
        if sent is None:
            assert got is None
            continue
        assert got is not None
        assert (got.width, got.height, got.layout, got.dtype) == (
            sent.width,
            sent.height,
            sent.layout,
            sent.dtype,
        )
        assert bytes(got.data) == bytes(sent.data)


@pytest.mark.parametrize(
    "msg",
    [
        M.hello("a test"),
        M.watch("job-1"),
        M.cancel("job-1"),
        M.status(),
        M.status("job-1"),
        M.ping(),
        M.ping([b"", b"\x00" * 1000, b"abc"]),
        M.shutdown(),
        Message(C.ACK, "a-1", job="job-1"),
        Message(C.HEARTBEAT, "h-1"),
        Message(C.ACCEPTED, "r-1", {"state": "queued", "position": 1}, ref="s-1", job="j-1"),
        Message(C.PING_REPLY, "r-2", {"time": 1.5}, ref="p-1", frames=[b"abc"]),
    ],
    ids=lambda m: m.type,
)
def test_request_and_reply_round_trip(msg: Message) -> None:
    back = round_trip(msg)
    assert back.body == msg.body


def test_hello_carries_the_version() -> None:
    back = round_trip(M.hello("me"))
    assert back.body == {"client": "me", "version": list(C.VERSION)}


PROGRESS_BODY = {
    "iteration": 10,
    "total": 20,
    "scale": 0,
    "scales": 1,
    "width": 32,
    "height": 16,
    "loss": 0.83,
    "content_loss": 0.1,
    "style_loss": 0.2,
    "tv_loss": 0.0,
    "elapsed": 1.25,
}


def test_job_events_round_trip() -> None:
    image = Pixels(2, 1, bytes(range(6)), "RGB")
    progress = M.job_event(round_trip(Message(C.PROGRESS, "e-1", PROGRESS_BODY, job="j")))
    assert progress == M.Progress(10, 20, 0, 1, 32, 16, 0.83, 0.1, 0.2, 0.0, 1.25)
    assert progress.eta == pytest.approx(1.25)  # a 1.3 daemon's: from the pace so far
    # 1.4: the daemon's own estimate, when it sends one that is a number of seconds.
    for sent, eta in ((4.5, 4.5), (None, 1.25), ("soon", 1.25), (-1.0, 1.25), (math.inf, 1.25)):
        body = {**PROGRESS_BODY, "remaining": sent}
        got = M.job_event(round_trip(Message(C.PROGRESS, "e-3", body, job="j")))
        assert isinstance(got, M.Progress) and got.eta == pytest.approx(eta), sent

    # The bar's fraction: by time when the daemon says the seconds left (10 of 20 iterations
    # in 1.25 s with 3.75 s to go is a quarter of the way), else by iterations.
    assert progress.fraction == pytest.approx(0.5)
    ahead = M.Progress(10, 20, 0, 1, 32, 16, 0.8, 0.1, 0.2, 0.0, 1.25, remaining=3.75)
    assert ahead.fraction == pytest.approx(0.25)
    assert M.Progress(20, 20, 0, 1, 32, 16, 0.8, 0.1, 0.2, 0.0, 5.0, remaining=0.0).fraction == 1
    assert M.Progress(0, 0, 0, 1, 32, 16, 0.8, 0.1, 0.2, 0.0, 0.0).fraction == 0
    # The first event (the preview at iteration 0) carries the whole job's estimate: the time
    # left shows from the start, the bar at 0; without an estimate there is none yet.
    first = M.Progress(0, 20, 0, 1, 32, 16, 0.8, 0.1, 0.2, 0.0, 0.0, remaining=30.0)
    assert (first.eta, first.fraction) == (30.0, 0.0)
    assert M.Progress(0, 20, 0, 1, 32, 16, 0.8, 0.1, 0.2, 0.0, 0.0).eta is None

    body = {**PROGRESS_BODY, "image": image.descriptor(0)}
    preview = M.job_event(round_trip(Message(C.PREVIEW, "e-2", body, job="j", frames=[image.data])))
    assert isinstance(preview, M.Preview) and preview.progress == progress
    assert bytes(preview.image.data) == image.data and preview.image.layout == "RGB"

    body = {"image": image.descriptor(0), "iterations": 20, "stopped": "completed"}
    result = M.job_event(round_trip(Message(C.RESULT, "e-3", body, job="j", frames=[image.data])))
    assert isinstance(result, M.Result) and bytes(result.image.data) == image.data
    assert result.info == {"iterations": 20, "stopped": "completed"}

    cancelled = M.job_event(round_trip(Message(C.CANCELLED, "e-4", {"reason": "client"}, job="j")))
    assert cancelled == M.Cancelled("client")

    failed = round_trip(M.error(C.E_ENGINE, "boom", "settings.size", job="j"))
    with pytest.raises(RemoteError) as info:
        M.job_event(failed)
    assert (info.value.code, info.value.field, info.value.job) == (C.E_ENGINE, "settings.size", "j")


# -- properties of decode --------------------------------------------------------------------


@given(HEADERS_AS_BYTES, FRAMES)
def test_decode_never_raises_anything_but_protocol_error(raw: bytes, frames: list[bytes]) -> None:
    """Random bytes, random msgpack objects, header-like maps with every field right or wrong,
    and valid headers with bytes flipped, each followed by 0..40 random frames."""
    msg = check_decode([raw, *frames])
    check_header_id(raw, msg if isinstance(msg, ProtocolError) else None)
    if isinstance(msg, Message):
        # A header that decodes has its id readable for the error reply, too.
        assert header_id(raw) == msg.id


# -- properties of Submit.from_message -------------------------------------------------------


@given(mutated_submits() | random_submits())
def test_a_broken_submit_is_refused_naming_the_field(
    case: tuple[list[bytes], str, Submit | None],
) -> None:
    """Valid submits with one thing broken, and submits whose fields hold anything at all
    (those may be valid: any error they get names a submit field, check_submit checks)."""
    parts, what, unchanged = case
    msg = check_decode(parts)
    if isinstance(msg, ProtocolError):  # a huge hostile value made the header too long
        assert msg.code == C.E_MALFORMED
        return
    out = check_submit(msg)
    if isinstance(out, Submit) and what != "anything":
        assert unchanged is not None and same_images(out, unchanged), f"accepted a broken {what}"
    if isinstance(out, ProtocolError) and what in SCALAR_FIELDS:
        assert out.field == what
    elif isinstance(out, ProtocolError) and what != "anything":
        # An image or a frame broke: the error names an image field, or the frames.
        assert re.match(r"^(content|styles(\[\d+\])?|mask|init_image|frames|init_job)$", out.field)


@settings(max_examples=FEW)
@given(
    st.sampled_from([C.PROGRESS, C.PREVIEW, C.RESULT, C.CANCELLED, C.ERROR]),
    st.dictionaries(st.sampled_from([*PROGRESS_BODY, "image", "reason", "code"]), HOSTILE),
    FRAMES,
)
def test_job_event_from_a_hostile_daemon(
    mtype: str, body: dict[str, Any], frames: list[bytes]
) -> None:
    """The clients parse job events with the same care: a broken event is a ProtocolError
    (RemoteError for an `error`), never another exception."""
    msg = check_decode([pack(header(type=mtype, job="j", body=body)), *frames])
    if isinstance(msg, ProtocolError):
        return
    out, elapsed = timed(M.job_event, msg)
    assert elapsed < BOUND_S
    if isinstance(out, Exception):
        assert isinstance(out, ProtocolError), f"{type(out).__name__}: {out}"
        assert mtype == C.ERROR or out.code in C.ERROR_CODES


# -- specific cases: the envelope ------------------------------------------------------------


def expect(parts: list[bytes], code: str, field: str | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(parts)
    assert (info.value.code, info.value.field) == (code, field), info.value
    return info.value


def raw_str(data: bytes) -> bytes:
    """A msgpack str of arbitrary bytes (msgpack's packer only writes valid UTF-8)."""
    assert len(data) < 32
    return bytes([0xA0 | len(data)]) + data


@pytest.mark.parametrize(
    "raw",
    [
        # the type is not UTF-8
        b"\x83" + pack("v") + pack([1, 0]) + pack("type") + raw_str(b"\xff\xfe") + pack("id")
        + pack("x"),
        # a lone surrogate, CESU-style
        b"\x83" + pack("v") + pack([1, 0]) + pack("type") + raw_str(b"\xed\xa0\x80") + pack("id")
        + pack("x"),
        # a key that is not UTF-8
        b"\x84" + pack("v") + pack([1, 0]) + pack("type") + pack("ping") + pack("id") + pack("x")
        + raw_str(b"\xc3") + pack(1),
        # deep inside the body
        b"\x84" + pack("v") + pack([1, 0]) + pack("type") + pack("ping") + pack("id") + pack("x")
        + pack("body") + b"\x81" + pack("label") + raw_str(b"ok \x80"),
    ],
    ids=["type", "surrogate", "key", "body"],
)  # fmt: skip
def test_strings_that_are_not_utf8_are_malformed(raw: bytes) -> None:
    expect([raw], C.E_MALFORMED)


def padded_header(total: int) -> bytes:
    """A valid ping header of exactly `total` bytes."""
    for n in range(total, 0, -1):
        raw = pack(header(pad="x" * n))
        if len(raw) == total:
            return raw
        if len(raw) < total:
            break
    raise AssertionError(f"cannot build a header of {total} bytes")


def test_header_size_limit() -> None:
    assert decode([padded_header(C.MAX_HEADER_BYTES)]).type == "ping"
    expect([padded_header(C.MAX_HEADER_BYTES + 1)], C.E_MALFORMED)
    expect([pack(header(body={"label": "x" * 200_000}))], C.E_MALFORMED)


def test_frame_count_limit() -> None:
    raw = pack(header())
    assert len(decode([raw, *[b"f"] * C.MAX_FRAMES]).frames) == C.MAX_FRAMES
    expect([raw, *[b"f"] * (C.MAX_FRAMES + 1)], C.E_MALFORMED)
    expect([raw, *[b""] * 10_000], C.E_MALFORMED)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x91" * 100_000 + b"\xc0",  # over the size limit: refused before unpacking
        b"\x91" * 60_000 + b"\xc0",  # under it: the unpacker's depth limit
        b"\x81\xa1k" * 20_000 + b"\xc0",  # nested maps
        # a valid header whose body is nested 60,000 deep
        b"\x84" + pack("v") + pack([1, 0]) + pack("type") + pack("ping") + pack("id") + pack("x")
        + pack("body") + b"\x81\xa1k" + b"\x91" * 60_000 + b"\xc0",
    ],
    ids=["arrays-100k", "arrays-60k", "maps-20k", "in-body"],
)  # fmt: skip
def test_deep_nesting_is_malformed_not_a_crash(raw: bytes) -> None:
    error = expect([raw], C.E_MALFORMED)
    assert "Recursion" not in error.message
    assert header_id(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc1",  # never used in msgpack
        pack([1, 0]),
        pack("a string"),
        pack(None),
        pack(header())[:-1],  # truncated
        pack(header()) + b"\x00",  # trailing data
        b"\x81\x01\x02",  # an integer key
        b"\x81\x92\x01\x02\x03",  # an array as a key
        b"\x81" + pack("t") + msgpack.packb(msgpack.Timestamp(1, 0)),  # an ext type
    ],
    ids=["empty", "c1", "array", "str", "nil", "truncated", "trailing", "int-key", "array-key",
         "ext"],
)  # fmt: skip
def test_not_a_map_is_malformed(raw: bytes) -> None:
    expect([raw], C.E_MALFORMED)


def test_an_empty_message_is_malformed() -> None:
    expect([], C.E_MALFORMED)


@pytest.mark.parametrize("v", [[2, 0], [0, 9], [2**64 - 1, 0], [-1, 0]])
def test_another_major_version_is_version_mismatch(v: list[int]) -> None:
    expect([pack(header(v=v))], C.E_VERSION, "v")


def test_a_higher_minor_version_is_accepted() -> None:
    msg = decode([pack(header(v=[1, 99]))])
    assert msg.version == (1, 99) and msg.type == "ping"


@pytest.mark.parametrize("v", [None, "1.0", [1], [1, 0, 0], [1, "0"], [True, 0], 1])
def test_a_missing_or_broken_version_is_missing_field(v: Any) -> None:
    h = header(v=v)
    if v is None:
        del h["v"]
    expect([pack(h)], C.E_MISSING_FIELD, "v")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"type": None}, C.E_MISSING_FIELD, "type"),
        ({"type": ""}, C.E_INVALID_FIELD, "type"),
        ({"type": 7}, C.E_INVALID_FIELD, "type"),
        ({"type": ["ping"]}, C.E_INVALID_FIELD, "type"),
        ({"id": None}, C.E_MISSING_FIELD, "id"),
        ({"id": ""}, C.E_INVALID_FIELD, "id"),
        ({"id": "x" * 65}, C.E_INVALID_FIELD, "id"),
        ({"id": b"bytes"}, C.E_INVALID_FIELD, "id"),
        ({"ref": 5}, C.E_INVALID_FIELD, "ref"),
        ({"job": "j" * 65}, C.E_INVALID_FIELD, "job"),
        ({"body": [1, 2]}, C.E_INVALID_FIELD, "body"),
    ],
)
def test_header_fields(change: dict[str, Any], code: str, field: str) -> None:
    expect([pack(header(**change))], code, field)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (pack(header(id="ok-1", v=[9, 9])), "ok-1"),
        (pack(header(id="")), None),  # regression: "" was echoed as the error's invalid ref
        (pack(header(id="x" * 65)), None),
        (pack(header(id=7)), None),
        (pack([1, 2]), None),
        (b"\xc1", None),
        (padded_header(C.MAX_HEADER_BYTES + 1), None),
    ],
)
def test_header_id_of_a_refused_message(raw: bytes, expected: str | None) -> None:
    assert header_id(raw) == expected


def test_header_edges_that_are_fine() -> None:
    assert decode([pack(header(id="x" * 64))]).id == "x" * 64
    assert decode([pack(header(body=None))]).body == {}
    msg = decode([pack({"v": [1, 0], "type": "ping", "id": "i"})])  # ref, job, body absent
    assert (msg.ref, msg.job, msg.body) == (None, None, {})


def test_unknown_header_and_body_fields_are_ignored() -> None:
    sub = Submit(Pixels(1, 1, b"abc", "RGB"), [Pixels(1, 1, b"def", "RGB")], {"size": 32})
    parts = encode(sub.to_message("s-1"))
    h = msgpack.unpackb(parts[0])
    h["future"] = {"nested": [1, 2, {"x": None}], "flag": True}
    h["body"]["future_field"] = ["anything", 1.5, None]
    h["body"]["content"]["future_key"] = "ignored"
    msg = decode([pack(h), *parts[1:]])
    back = Submit.from_message(msg)
    assert back.settings == {"size": 32} and bytes(back.content.data) == b"abc"


# -- specific cases: submit ------------------------------------------------------------------


def submit_parts(body_change: dict[str, Any], frames: list[bytes] | None = None) -> Message:
    """A valid 1x1 RGB + 1x1 RGB submit with `body_change` applied (None deletes a field)."""
    body: dict[str, Any] = {
        "content": {"frame": 0, "width": 1, "height": 1, "layout": "RGB", "dtype": "u8"},
        "styles": [{"frame": 1, "width": 1, "height": 1, "layout": "RGB"}],
    }
    for key, value in body_change.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return decode([pack(header(type="submit", body=body)), *(frames or [b"abc", b"def"])])


def refused(body_change: dict[str, Any], frames: list[bytes] | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        Submit.from_message(submit_parts(body_change, frames))
    assert info.value.code in C.ERROR_CODES
    return info.value


def desc(**change: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"frame": 0, "width": 1, "height": 1, "layout": "RGB", "dtype": "u8"}
    d.update(change)
    return {k: v for k, v in d.items() if v is not None}


def test_the_minimal_submit_is_accepted() -> None:
    sub = Submit.from_message(submit_parts({}))
    assert bytes(sub.content.data) == b"abc" and bytes(sub.styles[0].data) == b"def"


@pytest.mark.parametrize(
    ("change", "frames", "code", "field"),
    [
        # more pixels declared than the frame holds, and fewer
        ({"content": desc(width=2)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width=1000, height=1000)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(dtype="f32")}, None, C.E_INVALID_FIELD, "content"),
        ({}, [b"ab", b"def"], C.E_INVALID_FIELD, "content"),
        ({}, [b"abcd", b"def"], C.E_INVALID_FIELD, "content"),
        ({}, [b"abc"], C.E_INVALID_FIELD, "styles[0]"),  # its frame is missing
        # sizes
        ({"content": desc(width=0)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width=-1)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(height=MAX_SIDE + 1)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width=2**64 - 1)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width=True)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width=1.0)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(width="1")}, None, C.E_INVALID_FIELD, "content"),
        # frame indices
        ({"content": desc(frame=2)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(frame=-1)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(frame=2**63)}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(frame="0")}, None, C.E_INVALID_FIELD, "content"),
        ({"styles": [desc(frame=0)]}, None, C.E_INVALID_FIELD, "styles[0]"),  # reused
        ({}, [b"abc", b"def", b"ghi"], C.E_INVALID_FIELD, "frames"),  # undescribed
        # layouts, dtypes and channels
        ({"content": desc(layout="CMYK")}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(layout=["R", "G", "B"])}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(dtype="f64")}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(dtype=["u8"])}, None, C.E_INVALID_FIELD, "content"),  # unhashable
        ({"content": desc(dtype={"u8": 1})}, None, C.E_INVALID_FIELD, "content"),
        ({"content": desc(channels=4)}, None, C.E_INVALID_FIELD, "content"),
        # missing fields
        ({"content": None}, None, C.E_MISSING_FIELD, "content"),
        ({"styles": None}, None, C.E_MISSING_FIELD, "styles"),
        ({"content": desc(width=None)}, None, C.E_MISSING_FIELD, "content"),
        ({"content": desc(layout=None)}, None, C.E_MISSING_FIELD, "content"),
        ({"content": desc(frame=None)}, None, C.E_MISSING_FIELD, "content"),
        # wrong types
        ({"content": "/etc/passwd"}, None, C.E_INVALID_FIELD, "content"),
        ({"content": [desc()]}, None, C.E_INVALID_FIELD, "content"),
        ({"styles": "/etc/passwd"}, None, C.E_INVALID_FIELD, "styles"),
        ({"styles": ["/etc/passwd"]}, None, C.E_INVALID_FIELD, "styles[0]"),
        ({"styles": []}, None, C.E_INVALID_FIELD, "styles"),
        ({"styles": [desc(frame=1)] * 33}, None, C.E_TOO_LARGE, "styles"),
        ({"mask": desc(frame=1)}, [b"abc", b"def", b"x"], C.E_INVALID_FIELD, "mask"),  # reused
        ({"mask": desc(frame=2, layout="RGB")}, [b"abc", b"def", b"xy"], C.E_INVALID_FIELD, "mask"),
        ({"mask": desc(frame=2, layout="L")}, [b"abc", b"def", b"x"], None, None),
        ({"settings": ["size", 32]}, None, C.E_INVALID_FIELD, "settings"),
        ({"settings": {b"size": 32}}, None, C.E_INVALID_FIELD, "settings"),
        ({"priority": 11}, None, C.E_INVALID_FIELD, "priority"),
        ({"priority": 2**64 - 1}, None, C.E_INVALID_FIELD, "priority"),
        ({"priority": 1.5}, None, C.E_INVALID_FIELD, "priority"),
        ({"progress_every": 0}, None, C.E_INVALID_FIELD, "progress_every"),
        ({"preview_size": 8}, None, C.E_INVALID_FIELD, "preview_size"),
        ({"detach": 1}, None, C.E_INVALID_FIELD, "detach"),
        ({"label": "x" * 201}, None, C.E_INVALID_FIELD, "label"),
        ({"result_layout": "L"}, None, C.E_INVALID_FIELD, "result_layout"),
        ({"result_dtype": "u32"}, None, C.E_INVALID_FIELD, "result_dtype"),
        ({"result_dtype": 16}, None, C.E_INVALID_FIELD, "result_dtype"),
        ({"inputs_from": ""}, None, C.E_INVALID_FIELD, "inputs_from"),
        ({"inputs_from": "j"}, None, C.E_INVALID_FIELD, "inputs_from"),  # and content too
        ({"time_budget": float("nan")}, None, C.E_INVALID_FIELD, "time_budget"),
        ({"time_budget": float("inf")}, None, C.E_INVALID_FIELD, "time_budget"),
        ({"time_budget": 0}, None, C.E_INVALID_FIELD, "time_budget"),
        ({"init_job": ""}, None, C.E_INVALID_FIELD, "init_job"),
        ({"init_job": "j" * 65}, None, C.E_INVALID_FIELD, "init_job"),
        ({"replace": 5}, None, C.E_INVALID_FIELD, "replace"),
        (
            {"init_image": desc(frame=2), "init_job": "j-1"},
            [b"abc", b"def", b"ghi"],
            C.E_INVALID_FIELD,
            "init_job",
        ),
    ],
)
def test_submit_refusals(
    change: dict[str, Any], frames: list[bytes] | None, code: str | None, field: str | None
) -> None:
    if code is None:
        Submit.from_message(submit_parts(change, frames))
        return
    error = refused(change, frames)
    assert (error.code, error.field) == (code, field), error


def test_an_unhashable_dtype_is_invalid_field_not_type_error() -> None:
    """Regression: `dtype not in DTYPES` looked a list up in a dict and raised TypeError, which
    the daemon logged as a bug and answered with `internal`."""
    for dtype in (["u8"], {"u8": 1}, [[]]):
        with pytest.raises(ProtocolError) as info:
            pixels_from_descriptor(desc(dtype=dtype), [b"abc"], set(), "content")
        assert (info.value.code, info.value.field) == (C.E_INVALID_FIELD, "content")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_progress_with_non_finite_counters_is_not_a_crash(value: float) -> None:
    """Regression: int(nan) in Progress.from_body raised ValueError (OverflowError for inf)
    out of job_event, past the clients' ProtocolError handling."""
    body = {**PROGRESS_BODY, "iteration": value, "total": value, "width": value, "loss": value}
    progress = M.job_event(Message(C.PROGRESS, "e-1", body, job="j"))
    assert progress.iteration == 0 and progress.total == 0 and progress.width == 0
    assert math.isnan(progress.loss) or math.isinf(progress.loss)  # floats are reported as sent


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("hubble", "hubble"),
        ("Starry Night (1889)", "Starry Night (1889)"),
        ("  __my/odd:name ", "my_odd_name"),
        ("painting.style", "painting"),
        ("x.style .style", "x"),
        ("Ölgemälde 夜", "Ölgemälde 夜"),
        ("...", "style"),
        ("", "style"),
        ("a" * 70, "a" * 64),
    ],
)
def test_a_style_name_from_a_file_or_layer_name(text: str, name: str) -> None:
    from impasto_protocol.messages import style_name_from, style_name_problem

    assert style_name_from(text) == name
    assert style_name_problem(name) is None


@given(st.text(max_size=100))
def test_every_text_gives_a_valid_style_name(text: str) -> None:
    from impasto_protocol.messages import style_name_from, style_name_problem

    assert style_name_problem(style_name_from(text)) is None
