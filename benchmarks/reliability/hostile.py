"""Hostile input: property-based fuzzing of the decoder and validators in process, then of a
real daemon over its socket, then named attacks, with the daemon's memory measured throughout.

The strategies are the test suite's own (tests/protocol/test_codec.py and
tests/daemon/test_hostile_input.py): this suite runs them for far more examples and counts
instead of stopping at the first failure. A *crash* is an exception other than ProtocolError
from the decoder, or a daemon that dies; a *hang* is a call over 1 s, or a request the daemon
does not answer within 2 s; a *wrong answer* is one that breaks SPEC.md's rules (one answer per
request, the right `ref`, the right code and field).

    .venv/bin/python -m benchmarks.reliability.hostile --decoder-inputs 100000 --socket-inputs 10000
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from impasto_protocol import Client, ProtocolError, decode
from impasto_protocol import constants as C
from impasto_protocol import messages as M

from .common import ROOT, Daemon, main_for, process_resources, start_daemon

for _p in (ROOT / "tests" / "protocol", ROOT / "tests" / "daemon"):
    if str(_p) not in __import__("sys").path:
        __import__("sys").path.insert(0, str(_p))

import test_codec as codec_tests  # noqa: E402
import test_hostile_input as socket_tests  # noqa: E402

BOUND_S = 1.0  # a decoder call over this is a hang
# A request the daemon does not answer within this is a hang (run(answer_s=...): the smoke test
# gives a loaded machine more; tests/daemon/test_hostile_input.py's own ANSWER_S is generous).
ANSWER_S = 2.0


class _Raw(socket_tests.Raw):
    """The tests' raw socket, waiting ANSWER_S (this suite's) for an answer."""

    def exchange(self, parts: list[bytes], timeout: float | None = None) -> list[Any]:
        return super().exchange(parts, ANSWER_S if timeout is None else timeout)


EVENT_TYPES = (C.PROGRESS, C.PREVIEW, C.RESULT, C.CANCELLED, C.ERROR)

DECODER_INPUTS = st.one_of(
    st.tuples(codec_tests.HEADERS_AS_BYTES, codec_tests.FRAMES).map(lambda t: [t[0], *t[1]]),
    codec_tests.mutated_submits().map(lambda c: c[0]),
    codec_tests.random_submits().map(lambda c: c[0]),
    socket_tests.MESSAGES,
)


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # count every input; no shrinking of what is not a failure
        suppress_health_check=list(HealthCheck),
    )


def fuzz_decoder(n: int) -> dict[str, Any]:
    """decode, then the validator the daemon (Submit) or a client (job events) applies."""
    stats = {"inputs": 0, "decoded": 0, "refused": 0, "crashes": 0, "hangs": 0, "slowest_ms": 0.0}
    examples: list[str] = []

    @_settings(n)
    @given(parts=DECODER_INPUTS)
    def one(parts: list[bytes]) -> None:
        stats["inputs"] += 1
        t0 = time.perf_counter()
        try:
            msg = decode(parts)
            if msg.type == C.SUBMIT:
                M.Submit.from_message(msg)
            elif msg.type in EVENT_TYPES:
                M.job_event(msg)
            stats["decoded"] += 1
        except ProtocolError:
            stats["refused"] += 1
        except Exception as e:
            stats["crashes"] += 1
            if len(examples) < 5:
                examples.append(f"{type(e).__name__}: {e} <- {parts[:1]!r:.200}")
        dt = time.perf_counter() - t0
        stats["slowest_ms"] = max(stats["slowest_ms"], dt * 1000)
        if dt > BOUND_S:
            stats["hangs"] += 1

    t0 = time.perf_counter()
    one()
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["slowest_ms"] = round(stats["slowest_ms"], 2)
    return {**stats, "crash_examples": examples}


def hostile_daemon(tmp: Path) -> Daemon:
    """The limits of test_hostile_input's daemon: a submit the fuzzer gets right is tiny."""
    return start_daemon(
        tmp,
        "--max-input-pixels",
        str(socket_tests.MAX_INPUT_PIXELS),
        "--max-output-pixels",
        "1024",
        "--max-iterations",
        "5",
        name="hostile",
    )


def fuzz_socket(daemon: Daemon, n: int) -> dict[str, Any]:
    """Hostile multipart messages over a raw DEALER socket; a witness pings after each."""
    ctx = zmq.Context()
    raw = _Raw(ctx, daemon.endpoint)
    stats = {"inputs": 0, "answered_right": 0, "wrong_answers": 0, "hangs": 0, "crashes": 0}
    examples: list[str] = []
    witness = Client(daemon.endpoint, timeout=ANSWER_S, name="witness")
    before = daemon.resources()

    @_settings(n)
    @given(parts=socket_tests.MESSAGES)
    def one(parts: list[bytes]) -> None:
        if not daemon.alive:
            stats["crashes"] += 1
            return
        try:
            if decode(parts).type == C.SHUTDOWN:
                return  # this client is local: it would be obeyed
        except ProtocolError:
            pass
        stats["inputs"] += 1
        try:
            socket_tests.send_checked(raw, witness, parts)
            stats["answered_right"] += 1
        except AssertionError as e:
            kind = "hangs" if "no answer within" in str(e) else "wrong_answers"
            stats[kind] += 1
            if len(examples) < 5:
                examples.append(f"{kind}: {str(e)[:200]} <- {parts[:1]!r:.200}")
        except Exception as e:
            stats["hangs"] += 1
            if len(examples) < 5:
                examples.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    try:
        one()
    finally:
        witness.close()
        raw.close()
        ctx.destroy(linger=0)
    return {
        **stats,
        "seconds": round(time.perf_counter() - t0, 1),
        "rss_kib_before": before["rss_kib"],
        "rss_kib_after": daemon.resources()["rss_kib"],
        "examples": examples,
    }


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def named_attacks(daemon: Daemon, tmp: Path) -> dict[str, Any]:
    """One row per attack: what the daemon answered and whether it went on serving."""
    ctx = zmq.Context()
    raw = _Raw(ctx, daemon.endpoint)
    ping = pack({"v": [1, 0], "type": "ping", "id": "a-1"})
    limit = socket_tests.MAX_MESSAGE_BYTES
    cases: dict[str, list[bytes]] = {
        "truncated header": [ping[: len(ping) // 2]],
        "header claims a 4 GiB array": [b"\xdd\xff\xff\xff\xff"],
        "header claims a 4 GiB map": [b"\xdf\xff\xff\xff\xff"],
        "header claims a 4 GiB string": [b"\xdb\xff\xff\xff\xff" + b"x" * 10],
        "nested 60,000 deep": [b"\x91" * 60_000 + b"\xc0"],
        "unknown type": [pack({"v": [1, 0], "type": "format_disk", "id": "a-2"})],
        "type not UTF-8": [b"\x83\xa1v\x92\x01\x00\xa4type\xa2\xff\xfe\xa2id\xa3a-3"],
        "descriptor lies: 8192x8192 in 768 bytes": socket_tests.submit_parts(
            {"content": socket_tests.descriptor(0, 8192, 8192)}
        ),
        "descriptor lies: frame cut short": socket_tests.submit_parts({}, [bytes(700), bytes(768)]),
        "frame index out of range": socket_tests.submit_parts(
            {"content": socket_tests.descriptor(7, 16, 16)}
        ),
        "33 frames": [ping, *[b"x"] * 33],
        "frame just under max_message_bytes": [ping, b"\x01" * limit],
    }
    rows: dict[str, Any] = {}
    try:
        with Client(daemon.endpoint, timeout=ANSWER_S, name="witness") as witness:
            for name, parts in cases.items():
                t0 = time.perf_counter()
                try:
                    answers = raw.exchange(parts)
                    what = [a.body.get("code") if a.type == C.ERROR else a.type for a in answers]
                except AssertionError as e:
                    what = [f"no answer: {e}"]
                ms = (time.perf_counter() - t0) * 1000
                witness.ping()
                rows[name] = {"answer": what, "ms": round(ms, 1), "serving": daemon.alive}
            rows["frame over max_message_bytes"] = oversized(ctx, daemon, limit, witness)
            rows["file paths in 16 fields"] = paths_never_opened(raw, daemon, tmp, witness)
    finally:
        raw.close()
        ctx.destroy(linger=0)
    return rows


def oversized(ctx: zmq.Context, daemon: Daemon, limit: int, witness: Client) -> dict[str, Any]:
    sock, monitor = socket_tests.monitored(ctx, daemon.endpoint)
    try:
        socket_tests.wait_event(monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED, 2.0)
        sock.send_multipart([b"\x00" * (limit + 1)])
        dropped = socket_tests.wait_event(monitor, zmq.EVENT_DISCONNECTED, 2.0)
        witness.ping()
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)
    return {
        "answer": ["connection dropped by ZeroMQ" if dropped else "not dropped"],
        "serving": daemon.alive,
    }


def paths_never_opened(raw: Any, daemon: Daemon, tmp: Path, witness: Client) -> dict[str, Any]:
    """A FIFO's path in every field that could name a file: opening it would be seen."""
    fifo = tmp / "trap"
    os.mkfifo(fifo)
    path = str(fifo)
    d = socket_tests.descriptor(0, 16, 16)
    ok = {"size": 16, "iterations": 2}
    bodies = [
        {"content": path},
        {"content": {"path": path}},
        {"styles": [path]},
        {"styles": path},
        {"mask": path},
        {"init_image": path},
        {"content": {**d, "frame": path}},
        {"content": {**d, "layout": path}},
        {"init_job": path},
        {"replace": path},
        {"settings": {**ok, "weights": path}},
        {"settings": {**ok, "init": path}},
        {"settings": {**ok, "style_layers": [path]}},
        {"settings": {**ok, path: 1}},
    ]
    messages = [socket_tests.submit_parts(b) for b in bodies]
    messages += [
        [pack({"v": [1, 0], "type": t, "id": "p-1", "job": path})] for t in ("watch", "status")
    ]
    refused = opened = 0
    for parts in messages:
        answers = raw.exchange(parts)
        refused += len(answers) == 1 and answers[0].type == C.ERROR
        opened += socket_tests.readers_of(fifo)
    witness.ping()
    fds = {os.readlink(p) for p in Path(f"/proc/{daemon.pid}/fd").iterdir() if p.is_symlink()}
    return {
        "answer": [f"{refused}/{len(messages)} refused with an error"],
        "opened": opened + (path in fds),
        "serving": daemon.alive,
        "refused": refused,
        "messages": len(messages),
    }


def frame_count_gap(daemon: Daemon, frames: list[int]) -> dict[str, Any]:
    """ZMQ_MAXMSGSIZE bounds each frame, not the number of frames: libzmq buffers a whole
    multipart message before the daemon sees its first frame, so a message of many frames just
    under the limit is held in memory, then refused (`malformed`). Measured, not prevented."""
    ctx = zmq.Context()
    size = socket_tests.MAX_MESSAGE_BYTES - 1024
    rows = []
    try:
        for n in frames:
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.sndhwm = 0
            sock.connect(daemon.endpoint)
            base = peak = daemon.resources()["rss_kib"]
            done = threading.Event()

            def sample(done: threading.Event = done) -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, process_resources(daemon.pid)["rss_kib"])
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            t0 = time.perf_counter()
            sock.send_multipart(
                [pack({"v": [1, 0], "type": "ping", "id": "g-1"}), *[b"\x00" * size] * n],
                copy=False,
            )
            answer = None
            if sock.poll(60_000):
                reply = decode(sock.recv_multipart())
                answer = reply.body.get("code") if reply.type == C.ERROR else reply.type
            seconds = time.perf_counter() - t0
            time.sleep(0.3)
            done.set()
            sampler.join()
            sock.close(0)
            rows.append(
                {
                    "frames": n,
                    "frame_bytes": size,
                    "mib_sent": round(n * size / 2**20, 1),
                    "answer": answer,
                    "seconds": round(seconds, 2),
                    "rss_mib_before": base // 1024,
                    "rss_mib_peak": peak // 1024,
                    "rss_mib_after": daemon.resources()["rss_kib"] // 1024,
                }
            )
    finally:
        ctx.destroy(linger=0)
    return {"max_message_bytes": socket_tests.MAX_MESSAGE_BYTES, "rows": rows}


def flood(daemon: Daemon, n: int) -> dict[str, Any]:
    """`n` garbage messages as fast as one socket sends them; a witness pings meanwhile."""
    import random

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.sndhwm = 0
    sock.connect(daemon.endpoint)
    rng = random.Random(1)
    try:
        with Client(daemon.endpoint, timeout=5.0, name="witness") as witness:
            witness.ping()
            for i in range(n):
                sock.send_multipart(socket_tests.garbage(rng, i))
            pings = [witness.ping() for _ in range(20)]
        errors = 0
        deadline = time.monotonic() + 60
        while errors < n and time.monotonic() < deadline:
            if sock.poll(1000) and decode(sock.recv_multipart()).type == C.ERROR:
                errors += 1
    finally:
        ctx.destroy(linger=0)
    return {
        "messages": n,
        "errors_received": errors,
        "witness_ping_ms_max": round(max(pings) * 1000, 2),
    }


def run(
    decoder_inputs: int = 100_000,
    socket_inputs: int = 10_000,
    flood_messages: int = 5000,
    gap_frames: tuple[int, ...] = (100, 1000, 4000),
    tmp: Path | None = None,
    answer_s: float = ANSWER_S,
) -> dict[str, Any]:
    global ANSWER_S
    ANSWER_S = answer_s
    tmp = tmp or Path(tempfile.mkdtemp(prefix="impasto-hostile-"))
    decoder = fuzz_decoder(decoder_inputs)
    daemon = hostile_daemon(tmp)
    try:
        start = daemon.resources()
        socket_fuzz = fuzz_socket(daemon, socket_inputs)
        attacks = named_attacks(daemon, tmp)
        flooded = flood(daemon, flood_messages)
        before_gap = daemon.resources()
        gap = frame_count_gap(daemon, list(gap_frames))
        with daemon.client() as c:
            works = (
                c.submit(
                    socket_tests.Submit(
                        socket_tests.example_pixels("astronaut", 32),
                        [socket_tests.example_pixels("hubble", 32)],
                        {"size": 32, "iterations": 3},
                    )
                )
                .result(timeout=60)
                .image.width
                == 32
            )
        alive = daemon.alive
        end = daemon.resources()
    finally:
        code = daemon.stop()
    log = daemon.log()
    tracebacks = log.count("\nTraceback") + log.startswith("Traceback")
    crashes = decoder["crashes"] + socket_fuzz["crashes"] + (not alive)
    hangs = decoder["hangs"] + socket_fuzz["hangs"]
    return {
        "decoder": decoder,
        "socket": socket_fuzz,
        "attacks": attacks,
        "flood": flooded,
        "frame_count_gap": gap,
        "daemon": {
            "alive_at_end": alive,
            "exit_code": code,
            "ran_a_job_at_the_end": works,
            "tracebacks_in_log": tracebacks,
            "start": start,
            "before_gap": before_gap,
            "end": end,
            "rss_growth_mib_before_gap": (before_gap["rss_kib"] - start["rss_kib"]) // 1024,
        },
        "verdict": {
            "decoder_inputs_at_least_100000": decoder["inputs"] >= 100_000,
            "crashes_0": crashes == 0,
            "hangs_0": hangs == 0,
            "wrong_answers_0": socket_fuzz["wrong_answers"] == 0,
            "paths_never_opened": attacks["file paths in 16 fields"]["opened"] == 0,
            "daemon_alive_and_working": alive and works and code == 0 and tracebacks == 0,
        },
    }


def add_args(ap: Any) -> None:
    ap.add_argument("--decoder-inputs", type=int, default=100_000)
    ap.add_argument("--socket-inputs", type=int, default=10_000)
    ap.add_argument("--flood-messages", type=int, default=5000)
    ap.add_argument("--gap-frames", type=int, nargs="+", default=[100, 1000, 4000])


if __name__ == "__main__":
    main_for("hostile", run, add_args)
