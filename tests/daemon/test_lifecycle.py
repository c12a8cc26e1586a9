"""The daemon's life cycle through real sockets: every request type, concurrent clients,
cancellation, replacement, warm starts, the queue's order, lost clients, a lost daemon, a second
daemon, result retention, latest-wins previews, limits and pixel formats.

One daemon (with low limits) serves the module; the tests that kill, shut down or reconfigure a
daemon start their own. An autouse fixture cancels whatever a test left behind, so each test
finds the engine idle. Jobs are 32-64 px and a few iterations; the "long" job (64 px, 300
iterations, ~30 s on 2 cores) exists only to be running when a test acts, and is always
cancelled.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_process import EXAMPLES, DaemonProcess, example_pixels
from PIL import Image

from impasto.backends.local import settings_to_wire
from impasto.engine import LAYER_NAMES, StyleSettings
from impasto.server.jobs import JobRecord, Scheduler
from impasto_protocol import (
    Cancelled,
    Client,
    ConnectionLost,
    EstimateRequest,
    JobCancelled,
    Pixels,
    Preview,
    Progress,
    RemoteError,
    Result,
    Submit,
)
from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.constants import PING_REPLY

MAX_ITERATIONS = 1000
MAX_INPUT_PIXELS = 128 * 128
MAX_OUTPUT_PIXELS = 256 * 256
HEARTBEAT_TIMEOUT = 2.0  # daemon_process's --heartbeat-timeout
LIMITS = (
    "--max-iterations", str(MAX_ITERATIONS),
    "--max-input-pixels", str(MAX_INPUT_PIXELS),
    "--max-output-pixels", str(MAX_OUTPUT_PIXELS),
)  # fmt: skip

STYLE = example_pixels("hubble", 32)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """This module's daemon (overriding conftest's), with low limits for the limits tests."""
    tmp = tmp_path_factory.mktemp("lifecycle")
    proc = DaemonProcess(f"ipc://{tmp}/d.sock", tmp / "daemon.log", *LIMITS).start()
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def _leave_the_daemon_idle(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the module's daemon: cancel its leftovers and wait for an idle engine."""
    daemon = request.getfixturevalue("daemon") if "daemon" in request.fixturenames else None
    yield
    if daemon is None or not daemon.alive:
        return
    with daemon.client() as c:
        for j in c.status()["jobs"]:
            if j["state"] in ("queued", "running"):
                c.cancel(j["job"])
        wait_for(lambda: c.status()["running"] is None, 60, "an idle engine")


# -- helpers -----------------------------------------------------------------------------------


def serves(c: Client) -> float:
    """A ping answered, however loaded the machine (within a minute): its round trip."""
    start = time.perf_counter()
    c.request(M.ping(), PING_REPLY, timeout=60)
    return time.perf_counter() - start


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def content(width: int, height: int | None = None, name: str = "astronaut") -> Pixels:
    with Image.open(EXAMPLES / f"{name}.png") as im:
        image = im.convert("RGB").resize((width, height or width), Image.Resampling.LANCZOS)
    return Pixels.from_pil(image)


def tiny(size: int = 32, iterations: int = 3, settings: dict | None = None, **kw: Any) -> Submit:
    """A job of a fraction of a second."""
    return Submit(
        kw.pop("content", None) or content(size),
        [STYLE],
        {"size": size, "iterations": iterations, **(settings or {})},
        **kw,
    )


def long_job(**kw: Any) -> Submit:
    """~30 s on 2 cores: running for as long as any test acts on it, then cancelled."""
    kw.setdefault("progress_every", 1)
    return tiny(64, 300, **kw)


def array(p: Pixels) -> np.ndarray:
    assert p.dtype == "u8"
    return np.frombuffer(bytes(p.data), np.uint8).reshape(p.height, p.width, p.channels)


def step(event: Progress | Preview) -> Progress:
    return event.progress if isinstance(event, Preview) else event


def status_of(client: Client, job: str) -> dict[str, Any]:
    return client.status(job)["job"]


def wait_running(client: Client, job: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until the job has done an iteration (its status is as fresh as its progress)."""
    return wait_for(
        lambda: (s := status_of(client, job))["state"] == "running" and s["iteration"] >= 1 and s,
        timeout,
        f"job {job} to run",
    )


def wait_finished(client: Client, jobs: list[str], timeout: float = 30) -> dict[str, dict]:
    def finished() -> dict[str, dict] | None:
        states = {j: status_of(client, j) for j in jobs}
        done = all(s["state"] in ("done", "failed", "cancelled") for s in states.values())
        return states if done else None

    return wait_for(finished, timeout, f"jobs {jobs} to finish", every=0.1)


def remote_error(call: Callable[[], Any]) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        call()
    return info.value


# -- 1. every request type ---------------------------------------------------------------------


def test_hello_describes_the_daemon(daemon) -> None:
    with daemon.client() as c:
        welcome = c.hello()
    assert welcome["version"] == list(C.VERSION)
    assert welcome["devices"] == 1  # one engine: the daemon was started with one --device
    assert welcome["ready"] is True and welcome["state"] == "ready"
    assert welcome["heartbeat_interval"] == 0.2 and welcome["heartbeat_timeout"] == 2.0
    limits = welcome["limits"]
    assert limits["max_iterations"] == MAX_ITERATIONS
    assert limits["max_input_pixels"] == MAX_INPUT_PIXELS
    assert limits["max_output_pixels"] == MAX_OUTPUT_PIXELS
    assert {"max_styles", "max_message_bytes", "max_queue", "max_jobs_per_client"} <= set(limits)
    assert welcome["can_shutdown"] is True  # an IPC endpoint is local
    names = {f.name for f in dataclasses.fields(StyleSettings)}
    assert set(welcome["defaults"]) == names
    assert welcome["defaults"] == settings_to_wire(StyleSettings())
    assert welcome["layers"] == list(LAYER_NAMES)
    assert welcome["choices"] == {
        "init": ["content", "noise", "image", "fast"],
        "method": ["gatys", "fast"],
        "optimizer": ["lbfgs", "adam"],
        "pooling": ["max", "avg"],
        "preserve_color": ["none", "luminance", "match"],
    }
    assert welcome["device"] and welcome["weights"]
    assert set(welcome) == spec_fields("`hello_reply` body:")  # SPEC.md's table, exactly


def spec_fields(marker: str) -> set[str]:
    """The backticked names in the first column of the table after `marker` in SPEC.md."""
    spec = (Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md").read_text()
    after = spec[spec.index(marker) :]
    start = after.index("\n|")
    table = after[start : after.index("\n\n", start)]
    names: set[str] = set()
    for row in table.strip().splitlines()[2:]:  # past the header and the rule
        names.update(re.findall(r"`([a-z_0-9]+)`", row.split("|")[1]))
    return names


def test_ping_echoes_its_payload_byte_for_byte(daemon) -> None:
    # Frames under the daemon's max_message_bytes (~260 KB with this module's limits).
    payload = [b"", b"\x00\xff\x00" * 7, os.urandom(200_000), bytes(range(256))]
    with daemon.client() as c:
        assert c.hello()["limits"]["max_message_bytes"] > 200_000
        assert serves(c) > 0
        c.ping(payload)  # raises unless the frames come back
        reply = c.request(M.ping(payload), PING_REPLY)
    assert [bytes(f) for f in reply.frames] == payload
    assert isinstance(reply.body["time"], float)


def test_submit_watch_status_and_cancel_round_trips(daemon) -> None:
    with daemon.client() as a, daemon.client() as b, daemon.client() as late:
        job = a.submit(tiny(48, 30, progress_every=1, preview_every=5, label="watched"))
        assert job.accepted["state"] in ("queued", "running")
        # A second client watches the running job: it hears its events from then on. Each
        # client reads on its own thread (a silent client would be taken for gone).
        own: list = []
        reader = threading.Thread(target=lambda: own.extend(job.events(timeout=30)))
        reader.start()
        wait_running(b, job.id)
        handle = b.watch(job.id)
        assert handle.accepted == {"state": "running", "position": 0}
        watched = list(handle.events(timeout=30))
        reader.join(30)
        assert isinstance(watched[-1], Result) and isinstance(own[-1], Result)
        progress = [step(e).iteration for e in watched if isinstance(e, (Progress, Preview))]
        assert progress and progress == sorted(progress) and progress[-1] == 30
        assert array(watched[-1].image).tobytes() == array(own[-1].image).tobytes()

        # A client that comes later gets the finished job's result again: the same pixels.
        again = late.watch(job.id)
        assert again.accepted == {"state": "done", "position": 0}
        resent = list(again.events(timeout=60))
        assert len(resent) == 1 and isinstance(resent[0], Result)
        assert array(resent[0].image).tobytes() == array(own[-1].image).tobytes()
        assert resent[0].info == own[-1].info

        # status: of one job, and of all.
        one = status_of(b, job.id)
        assert one["job"] == job.id and one["state"] == "done" and one["label"] == "watched"
        assert one["iteration"] == one["total"] == 30
        assert one["submitted"] <= one["started"] <= one["finished"] <= time.time()
        everything = b.status()
        assert everything["ready"] is True and everything["running"] is None
        assert everything["queue"] == 0 and everything["counts"]["done"] >= 1
        assert everything["clients"] >= 3
        assert job.id in [j["job"] for j in everything["jobs"]]
        assert set(everything["counts"]) == set(C.JOB_STATES)
        assert set(everything) == spec_fields("`status_reply` body:")  # SPEC.md's table

        # cancel: a finished job is left alone; unknown jobs are refused.
        assert a.cancel(job.id) == {"state": "done", "cancelled": False}
        for call in (lambda: a.cancel("no-such-job"), lambda: a.status("no-such-job")):
            e = remote_error(call)
            assert (e.code, e.field) == ("unknown_job", "job")
        e = remote_error(lambda: b.watch("no-such-job"))
        assert (e.code, e.field) == ("unknown_job", "job")


def test_shutdown_cancels_the_running_job_and_exits_0(fresh_daemon) -> None:
    d = fresh_daemon()
    with d.client() as c:
        job = c.submit(long_job())
        assert isinstance(next(iter(job.events(timeout=30))), Progress)
        assert c.shutdown() == {"jobs_cancelled": 1}
        with pytest.raises(JobCancelled) as info:
            job.result(timeout=60)
        assert info.value.reason == "shutdown"
    assert d.proc is not None and d.proc.wait(15) == 0


# -- 2. concurrent clients ---------------------------------------------------------------------


def test_concurrent_clients_get_their_own_events_and_results(daemon) -> None:
    sizes = [(32, 24), (40, 40), (24, 48), (48, 32)]  # content width x height, one per client
    errors: list[BaseException] = []
    outcomes: dict[int, list[tuple[str, list]]] = {}

    def client_thread(n: int) -> None:
        w, h = sizes[n]
        try:
            with daemon.client(name=f"client-{n}") as c:
                runs = []
                for _ in range(2):
                    job = c.submit(
                        tiny(max(w, h), 3, content=content(w, h), progress_every=1, preview_every=2)
                    )
                    runs.append((job.id, list(job.events(timeout=60))))
                outcomes[n] = runs
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client_thread, args=(n,)) for n in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert sorted(outcomes) == list(range(len(sizes)))
    ids = [job for runs in outcomes.values() for job, _ in runs]
    assert len(set(ids)) == 2 * len(sizes)
    for n, runs in outcomes.items():
        w, h = sizes[n]
        for _, events in runs:
            assert isinstance(events[-1], Result)
            assert sum(isinstance(e, Result) for e in events) == 1
            result = events[-1].image
            assert (result.width, result.height) == (w, h)
            steps = [step(e) for e in events[:-1]]
            # This job's, none of another's; 0 is the fast start's picture (init "fast").
            assert [s.iteration for s in steps] == [0, 1, 2, 3]
            assert all((s.width, s.height) == (w, h) and s.total == 3 for s in steps)
            for e in events:
                if isinstance(e, Preview):
                    assert (e.image.width, e.image.height) == (w, h)


# -- 3. cancel ---------------------------------------------------------------------------------


def test_cancel_a_queued_job_and_a_running_one(daemon) -> None:
    with daemon.client() as c:
        running = c.submit(long_job())
        queued = c.submit(tiny())
        assert queued.accepted == {"state": "queued", "position": 1}
        assert c.cancel(queued.id) == {"state": "queued", "cancelled": True}
        assert list(queued.events(timeout=60)) == [Cancelled("client")]
        gone = status_of(c, queued.id)
        assert gone["state"] == "cancelled" and gone["reason"] == "client"
        assert gone["started"] is None and gone["iteration"] == 0

        # The running one stops within about an iteration of the cancel.
        events = running.events(timeout=30)
        last = 0
        for e in events:
            assert isinstance(e, Progress)
            last = e.iteration
            if last >= 3:
                break
        at_cancel = status_of(c, running.id)["iteration"]
        assert c.cancel(running.id) == {"state": "running", "cancelled": True}
        rest = list(events)
        assert rest[-1] == Cancelled("client")
        last = max([last, *(e.iteration for e in rest if isinstance(e, Progress))])
        assert at_cancel <= last <= at_cancel + 2, (at_cancel, last)
        final = status_of(c, running.id)
        assert final["state"] == "cancelled" and final["reason"] == "client"
        assert final["iteration"] < 300
        assert c.status(queued.id)["job"]["started"] is None  # it never ran


# -- 4. replace --------------------------------------------------------------------------------


def test_replace_cancels_the_old_job_and_runs_the_new_one_first(daemon) -> None:
    with daemon.client() as a, daemon.client() as other:
        old = a.submit(long_job())
        wait_running(a, old.id)
        # Another client's job queues first: only urgency puts the replacement ahead of it.
        waiting = other.submit(tiny(detach=True))
        assert waiting.accepted["position"] == 1
        new = a.submit(tiny(replace=old.id, progress_every=1))
        assert new.accepted == {"state": "queued", "position": 1}
        with pytest.raises(JobCancelled) as info:
            old.result(timeout=60)
        assert info.value.reason == "replaced"
        result = new.result(timeout=30)
        assert result.info["iterations"] == 3
        states = wait_finished(a, [old.id, new.id, waiting.id])
        assert states[old.id]["reason"] == "replaced"
        assert states[new.id]["state"] == states[waiting.id]["state"] == "done"
        assert states[new.id]["started"] < states[waiting.id]["started"]

        # Every local client is the same owner (SPEC section 13; other keys: test_security):
        # another connection may name the job, and replacing a finished job replaces nothing.
        again = other.submit(tiny(replace=new.id))
        assert again.result(timeout=30).info["iterations"] == 3
        e = remote_error(lambda: a.submit(tiny(replace="no-such-job")))
        assert (e.code, e.field) == ("unknown_job", "replace")


# -- 5. warm start -----------------------------------------------------------------------------


def test_warm_start_from_a_finished_job_begins_at_full_size(daemon) -> None:
    with daemon.client() as c:
        first = c.submit(tiny(32, 3))
        assert first.result(timeout=30).info["warm_start"] is None
        source = first.id
        # At 256 px with 2 iterations a cold job from the content runs two scales (181 and 256
        # px; from the fast picture it would run at 256 px only) ...
        cold = c.submit(tiny(256, 2, {"init": "content"}, content=content(32))).result(timeout=60)
        assert cold.info["scales"] == [[181, 181, 1], [256, 256, 1]]
        # ... and a warm one only the last: it starts from the source's result.
        warm = c.submit(
            tiny(256, 2, {"style_weight": 10.0}, content=content(32), init_job=source)
        ).result(timeout=60)
        assert warm.info["warm_start"] == source
        assert warm.info["scales"] == [[256, 256, 2]]
        assert warm.info["settings"]["style_weight"] == 10.0
        assert warm.info["settings"]["init"] == "image"

        e = remote_error(lambda: c.submit(tiny(init_job="no-such-job")))
        assert (e.code, e.field) == ("unknown_job", "init_job")


# -- 6. priorities and fairness ----------------------------------------------------------------


def test_priority_then_fairness_decide_the_order(daemon) -> None:
    with (
        daemon.client() as z,
        daemon.client() as x,
        daemon.client() as y,
        daemon.client() as w,
    ):
        # Detached, so that the clients' silence while others submit cancels nothing.
        blocker = z.submit(long_job(detach=True))
        wait_running(z, blocker.id)
        xs = [x.submit(tiny(detach=True, label=f"x{i}")) for i in range(3)]
        assert [j.accepted["position"] for j in xs] == [1, 2, 3]
        y1 = y.submit(tiny(detach=True, label="y1"))
        # Y has not had a turn: its job runs right after X's first, and the queue says so.
        assert y1.accepted["position"] == 2
        urgent = w.submit(tiny(detach=True, priority=5, label="w5"))
        assert urgent.accepted["position"] == 1
        queued = [j for j in z.status()["jobs"] if j["state"] == "queued"]
        promised = [j["label"] for j in sorted(queued, key=lambda j: j["position"])]
        assert promised == ["w5", "x0", "y1", "x1", "x2"]

        z.cancel(blocker.id)
        ids = [urgent.id, *(j.id for j in xs), y1.id]
        states = wait_finished(z, ids)
        assert all(s["state"] == "done" for s in states.values()), states
        started = [s["label"] for s in sorted(states.values(), key=lambda s: s["started"])]
        assert started == promised


def test_scheduler_positions_match_the_order_of_pops() -> None:
    """Regression: position() sorted by the current key, which ignores that each start sends its
    client to the back; a client's second job was promised a place ahead of others' first."""
    rng = random.Random(7)
    submit = tiny()
    for _ in range(200):
        s = Scheduler()
        for _ in range(rng.randrange(1, 12)):
            if s.queued and rng.random() < 0.3:
                s.pop()  # a start: it changes who has waited longest
            job = JobRecord(
                id=f"j{rng.random()}",
                client=rng.choice([b"a", b"b", b"c"]),
                owner="local",
                submit=dataclasses.replace(submit, priority=rng.choice([0, 0, 5])),
                settings=None,
                submit_ref="r",
                urgent=rng.random() < 0.1,
            )
            s.push(job)
        promised = sorted(s.queued, key=s.position)
        assert [s.position(j) for j in promised] == list(range(1, len(promised) + 1))
        popped = list(iter(s.pop, None))
        assert [j.id for j in popped] == [j.id for j in promised]


# -- 7. lost clients ---------------------------------------------------------------------------

CLIENT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from daemon_process import example_pixels
from impasto_protocol import Client, Submit
client = Client({endpoint!r}, timeout=10)
job = client.submit(Submit(
    example_pixels("astronaut", 64), [example_pixels("hubble", 32)],
    {{"size": 64, "iterations": {iterations}}}, detach={detach},
))
print(job.id, flush=True)
for event in job.events():
    pass
"""


def client_process(daemon: DaemonProcess, iterations: int, detach: bool) -> tuple:
    script = CLIENT_SCRIPT.format(
        tests=str(Path(__file__).parent),
        endpoint=daemon.endpoint,
        iterations=iterations,
        detach=detach,
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "the client process printed no job id"
    return proc, proc.stdout.readline().decode().strip()


def test_a_killed_clients_attached_job_is_cancelled(daemon) -> None:
    proc, job = client_process(daemon, 300, detach=False)
    with daemon.client() as c:
        wait_running(c, job)
        killed = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # Another client's job, queued behind it, finishes normally.
        other = c.submit(tiny())
        assert other.result(timeout=HEARTBEAT_TIMEOUT + 30).info["iterations"] == 3
        gone = wait_for(
            lambda: (s := status_of(c, job))["state"] == "cancelled" and s, 60, "the cancel"
        )
        assert gone["reason"] == "client_gone"
        assert gone["finished"] - killed < HEARTBEAT_TIMEOUT + 1.5


# Long enough to outlive the heartbeat timeout after its client is killed: 50 iterations once
# took 5 s on 2 cores, and under 2 s on a quiet machine, which failed the test.
DETACHED_ITERATIONS = 200


def test_a_killed_clients_detached_job_runs_to_the_end(daemon) -> None:
    proc, job = client_process(daemon, DETACHED_ITERATIONS, detach=True)
    with daemon.client() as c:
        wait_running(c, job)
        killed = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        final = wait_finished(c, [job], 60)[job]
        assert final["state"] == "done" and final["iteration"] == DETACHED_ITERATIONS
        # It outlived its client's heartbeat timeout, so the daemon did take the client for gone.
        assert final["finished"] - killed > HEARTBEAT_TIMEOUT
        result = c.watch(job).result(timeout=60)
        assert result.info["iterations"] == DETACHED_ITERATIONS


# -- 8. a lost daemon --------------------------------------------------------------------------


def test_a_client_survives_its_daemon_being_killed_and_restarted(fresh_daemon) -> None:
    d = fresh_daemon()
    client = Client(d.endpoint, timeout=2)
    try:
        job = client.submit(long_job())
        events = job.events(timeout=60)
        assert isinstance(next(events), Progress)
        d.kill()
        start = time.monotonic()
        with pytest.raises(ConnectionLost):
            for _ in events:
                pass
        # The heartbeat told (after about 2 s), not the events' own 60 s timeout running out.
        assert time.monotonic() - start < 30
        d.start()  # the same endpoint
        assert client.hello()["ready"] is True
        assert client.submit(tiny()).result(timeout=30).info["iterations"] == 3
    finally:
        client.close()


# -- 9. one daemon per endpoint ----------------------------------------------------------------


def free_tcp_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_a_second_daemon_on_the_same_endpoint_is_refused(
    fresh_daemon, tmp_path: Path, transport: str
) -> None:
    """IPC is guarded by a lock file (ZeroMQ would silently take the socket file over), TCP by
    the port itself."""
    if transport == "ipc":
        first = fresh_daemon()
    else:
        first = DaemonProcess(free_tcp_endpoint(), tmp_path / "first.log").start()
    second = DaemonProcess(first.endpoint, tmp_path / "second.log")
    try:
        second.start(wait_ready=0)
        assert second.proc is not None and second.proc.wait(60) == 2
        lines = second.stderr().strip().splitlines()
        assert len(lines) == 1 and "already" in lines[0], lines
        assert first.alive
        with first.client() as c:
            serves(c)
            assert c.submit(tiny()).result(timeout=30).info["iterations"] == 3
    finally:
        second.stop()
        first.stop()


# -- 10. result retention ----------------------------------------------------------------------


def test_finished_jobs_expire_after_the_result_ttl(fresh_daemon) -> None:
    d = fresh_daemon("--result-ttl", "1")
    with d.client() as c:
        assert c.hello()["result_ttl"] == 1.0
        job = c.submit(tiny())
        job.result(timeout=30)
        assert status_of(c, job.id)["state"] == "done"
        finished = time.monotonic()

        def expired() -> bool:
            try:
                c.status(job.id)
                return False
            except RemoteError as e:
                assert (e.code, e.field) == ("unknown_job", "job")
                return True

        wait_for(expired, 60, "the job to expire")
        assert time.monotonic() - finished > 0.8  # not before its TTL (load only adds to this)
        e = remote_error(lambda: c.watch(job.id))
        assert e.code == "unknown_job"


# -- 11. latest-wins previews ------------------------------------------------------------------


def test_a_client_that_does_not_read_gets_one_preview_and_the_result(daemon) -> None:
    """The daemon keeps one preview in flight (unacknowledged) per job and client, and one
    waiting; the waiting one is dropped when the result goes out, so a client that read nothing
    while the job ran finds the first preview, then the result."""
    with daemon.client() as reader, daemon.client() as idle:
        job = idle.submit(tiny(48, 20, preview_every=1, progress_every=1000))
        while status_of(reader, job.id)["state"] != "done":
            idle.heartbeat_if_due()  # alive, but reading nothing
            time.sleep(0.05)
        events = list(job.events(timeout=60))
    previews = [e for e in events if isinstance(e, Preview)]
    assert isinstance(events[-1], Result)
    assert len(previews) == 1 and previews[0].progress.iteration == 0  # the fast start
    assert len(events) == 2


def test_a_client_that_reads_and_acknowledges_gets_many_previews(daemon) -> None:
    with daemon.client() as c:
        events = list(c.submit(tiny(48, 20, preview_every=1)).events(timeout=30))
    previews = [e.progress.iteration for e in events if isinstance(e, Preview)]
    assert isinstance(events[-1], Result)
    assert len(previews) >= 10 and previews == sorted(set(previews)) and previews[-1] == 20


# -- 12. limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submit", "code", "field"),
    [
        (lambda: tiny(iterations=MAX_ITERATIONS + 1), "too_large", "settings.iterations"),
        (lambda: tiny(content=content(129)), "too_large", "content"),
        (lambda: Submit(content(32), [content(130)], {"size": 32}), "too_large", "styles[0]"),
        (lambda: tiny(257, content=content(32)), "too_large", "settings.size"),
        (lambda: tiny(settings={"stlye_weight": 2.0}), "invalid_field", "settings.stlye_weight"),
        (
            lambda: tiny(mask=Pixels(16, 32, bytes(16 * 32), "L")),
            "invalid_field",
            "mask",
        ),
    ],
    ids=["iterations", "content", "style", "output", "unknown-setting", "mask-size"],
)
def test_limits_are_refused_naming_the_field(daemon, submit, code, field) -> None:
    with daemon.client() as c:
        e = remote_error(lambda: c.submit(submit()))
        assert (e.code, e.field) == (code, field), str(e)
        serves(c)  # and the daemon serves on
        assert c.status()["queue"] == 0


def test_a_memory_budget_tiles_what_fits_and_refuses_what_cannot(fresh_daemon) -> None:
    """With --memory-budget, a job too large for it whole runs in tiles, with progress and
    previews; one too large even in tiles is refused before it is queued, with what it needs."""
    d = fresh_daemon("--memory-budget", "100")
    shallow = {"content_layers": ["relu2_2"], "style_layers": ["relu1_1", "relu2_1", "relu3_1"]}
    with d.client() as c:
        # relu5_1's halo makes even the smallest tile of a default job need about 140 MB.
        e = remote_error(lambda: c.submit(tiny(256, content=content(256))))
        assert (e.code, e.field) == ("too_large", "settings.size"), str(e)
        assert re.search(
            r"needs at least \d+ MB, even in tiles; the memory budget is 100 MB", str(e)
        )
        assert c.status()["queue"] == 0
        job = c.submit(tiny(256, 3, shallow, content=content(256), preview_every=1))
        events = list(job.events(timeout=120))
    assert isinstance(events[-1], Result) and events[-1].image.width == 256
    # (the last preview may give way to the result: latest wins)
    steps = [step(e).iteration for e in events[:-1] if step(e).iteration > 0]
    assert steps[:2] == [1, 2] and steps == sorted(set(steps))
    assert sum(isinstance(e, Preview) and step(e).iteration > 0 for e in events) >= 2
    assert "in tiles" in d.log()


def test_two_devices_run_two_jobs_at_once(fresh_daemon) -> None:
    """`--devices cpu,cpu`: a warm engine per device; queued jobs go to whichever is free, and
    status says which device runs which job."""
    d = fresh_daemon("--devices", "cpu,cpu", start=False)
    i = d.args.index("--device")
    del d.args[i : i + 2]  # (the harness's --device cpu: one of the two options, not both)
    d.start()
    with d.client() as c:
        assert c.hello()["devices"] == 2
        first, second = c.submit(long_job()), c.submit(long_job())
        wait_running(c, first.id, 60)
        wait_running(c, second.id, 60)  # both at once
        status = c.status()
        assert [w["device"] for w in status["workers"]] == ["cpu", "cpu"]
        assert {w["job"] for w in status["workers"]} == {first.id, second.id}
        on = {j["job"]: j.get("worker") for j in status["jobs"]}
        assert {on[first.id], on[second.id]} == {0, 1}
        third = c.submit(tiny())
        assert status_of(c, third.id)["state"] == "queued"  # no engine is free
        c.cancel(first.id)
        # The freed engine takes the queued job while the other still runs the second.
        assert third.result(timeout=60).image.width == 32
        assert status_of(c, third.id)["worker"] == on[first.id]
        assert status_of(c, second.id)["state"] == "running"
        c.cancel(second.id)
        wait_finished(c, [first.id, second.id])


def test_devices_are_checked_before_starting(tmp_path: Path) -> None:
    for devices, message in (
        ("cpu,,cpu", "expected a comma-separated list"),
        ("cpu,tpu", "--devices: "),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "impasto", "daemon", "--endpoint", f"ipc://{tmp_path}/x.sock",
             "--devices", devices],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 2 and message in out.stderr, out.stderr


def test_estimate_gives_the_output_size_and_a_time_from_measured_costs(fresh_daemon) -> None:
    d = fresh_daemon("--memory-budget", "100")
    shallow = {"content_layers": ["relu2_2"], "style_layers": ["relu1_1", "relu2_1", "relu3_1"]}
    with d.client() as c:
        # Before any job: the size, the plan, and a time from the iterations timed at load.
        first = c.estimate(EstimateRequest(300, 200, {"size": 64, "iterations": 10}))
        assert (first["width"], first["height"]) == (64, 43) and first["seconds"] > 0
        assert first["tiled"] is False and first["memory"] > 0
        job = c.submit(tiny(64, 10, settings={"scales": 1, "init": "content"}))
        took = job.result(timeout=60).info["elapsed"]
        after = c.estimate(EstimateRequest(64, 64, {"size": 64, "iterations": 10, "scales": 1}))
        # From that job's measured iterations: the same job is estimated near its own time.
        assert 0.3 * took < after["seconds"] < 3 * took
        larger = c.estimate(EstimateRequest(64, 64, {"size": 128, "iterations": 10, "scales": 1}))
        # Four times the pixels cost more, though less than four times at these small sizes:
        # both are measured now (128 px by the daemon's warm-up at load).
        assert larger["seconds"] > after["seconds"]
        # A size that fits the budget only in tiles, and one that does not fit at all.
        tiled = c.estimate(EstimateRequest(256, 256, {"size": 256, **shallow}))
        assert tiled["tiled"] is True and tiled["memory"] <= 100 * 2**20
        e = remote_error(lambda: c.estimate(EstimateRequest(256, 256, {"size": 256})))
        assert (e.code, e.field) == ("too_large", "settings.size") and "even in tiles" in str(e)
        e = remote_error(lambda: c.estimate(EstimateRequest(64, 64, {"styel_weight": 1})))
        assert (e.code, e.field) == ("invalid_field", "settings.styel_weight")
        e = remote_error(lambda: c.estimate(EstimateRequest(0, 64)))
        assert (e.code, e.field) == ("invalid_field", "width")
        assert c.status()["queue"] == 0  # nothing was queued


def test_jobs_at_the_limits_are_accepted(daemon) -> None:
    with daemon.client() as c:
        job = c.submit(tiny(256, 1, content=content(128)))
        assert job.result(timeout=60).image.width == 256


# -- 13. pixel formats -------------------------------------------------------------------------


def test_sample_types_and_layouts(daemon) -> None:
    """The same samples in every format give the same result (u8 v, u16 257 v and f32 v / 255
    are the same number to the engine, which is deterministic on the CPU); the result's layout
    is RGBA iff the content has alpha, or the one asked for."""
    rgb = array(content(32))
    alpha = np.full((32, 32, 1), 200, np.uint8)
    rgba = np.concatenate([rgb, alpha], axis=2)
    grey = rgb.mean(axis=2).round().astype(np.uint8)

    def run(p: Pixels, **kw: Any) -> Pixels:
        with daemon.client() as c:
            return c.submit(tiny(content=p, **kw)).result(timeout=30).image

    reference = run(Pixels(32, 32, rgb.tobytes(), "RGB"))
    with_alpha = run(Pixels(32, 32, rgba.tobytes(), "RGBA"))
    assert (reference.layout, with_alpha.layout) == ("RGB", "RGBA")
    assert (array(with_alpha)[..., 3] == 200).all()
    assert close(array(with_alpha)[..., :3], array(reference))

    u16 = run(Pixels(32, 32, (rgb.astype("<u2") * 257).tobytes(), "RGB", "u16"))
    assert u16.layout == "RGB" and close(array(u16), array(reference))
    f32 = run(Pixels(32, 32, (rgba.astype("<f4") / 255).tobytes(), "RGBA", "f32"))
    assert f32.layout == "RGBA" and close(array(f32), array(with_alpha))
    bgra = run(Pixels(32, 32, rgba[..., [2, 1, 0, 3]].tobytes(), "BGRA"))
    assert bgra.layout == "RGBA" and close(array(bgra), array(with_alpha))
    as_bgra = run(Pixels(32, 32, rgba.tobytes(), "RGBA"), result_layout="BGRA")
    assert as_bgra.layout == "BGRA" and close(array(as_bgra)[..., [2, 1, 0, 3]], array(with_alpha))
    as_rgb = run(Pixels(32, 32, rgba.tobytes(), "RGBA"), result_layout="RGB")
    assert as_rgb.layout == "RGB" and close(array(as_rgb), array(with_alpha)[..., :3])

    grey_result = run(Pixels(32, 32, grey.tobytes(), "L"))
    assert grey_result.layout == "RGB" and (grey_result.width, grey_result.height) == (32, 32)
    # The content was grey: the result is not the colour one.
    assert not close(array(grey_result), array(reference))


def test_sixteen_bit_layers_keep_their_levels(daemon) -> None:
    """A smooth 16-bit gradient that the mask keeps comes back with every level it had when
    the result is asked for in u16 (8 bits band it into a third as many), and an f32 result
    keeps the float samples. Previews stay u8 (for display), and so does a result by default."""
    w, h = 96, 32
    ramp = np.linspace(0.30, 0.45, w)  # 0.15 of the range: 39 levels in 8 bits, 9830 in 16
    rgb16 = np.repeat(np.repeat(np.rint(ramp * 65535)[None, :, None], h, 0), 3, 2).astype("<u2")
    mask = np.zeros((h, w), np.uint8)
    mask[h // 2 :] = 255  # the lower half is stylized, the upper half kept
    masked = Pixels(w, h, mask.tobytes(), "L")

    def run(p: Pixels, **kw: Any) -> tuple[Pixels, list[Pixels]]:
        with daemon.client() as c:
            handle = c.submit(tiny(w, 2, content=p, mask=masked, preview_every=1, **kw))
            events = list(handle.events(timeout=30))
            assert isinstance(events[-1], Result)
            return events[-1].image, [e.image for e in events if isinstance(e, Preview)]

    as_u16, previews = run(Pixels(w, h, rgb16.tobytes(), "RGB", "u16"), result_dtype="u16")
    assert as_u16.dtype == "u16" and previews and {p.dtype for p in previews} == {"u8"}
    out16 = np.frombuffer(bytes(as_u16.data), "<u2").reshape(h, w, 3)
    top = out16[: h // 4]  # away from the mask's edge
    assert (top == rgb16[: h // 4]).all()
    assert len(np.unique(top[0, :, 0])) == w  # every column its own level
    assert (out16[h // 2 :] != rgb16[h // 2 :]).any()  # and the rest was stylized

    as_u8, _ = run(Pixels(w, h, rgb16.tobytes(), "RGB", "u16"))
    assert as_u8.dtype == "u8"
    assert len(np.unique(array(as_u8)[0, :, 0])) <= 40  # what 1.2 gave back for the same layer

    rgbf = (rgb16 / 65535).astype("<f4")
    as_f32, _ = run(Pixels(w, h, rgbf.tobytes(), "RGB", "f32"), result_dtype="f32")
    outf = np.frombuffer(bytes(as_f32.data), "<f4").reshape(h, w, 3)
    assert as_f32.dtype == "f32" and np.abs(outf[: h // 4] - rgbf[: h // 4]).max() < 1e-6


def test_a_submit_takes_its_images_from_an_earlier_job(daemon) -> None:
    """inputs_from: content, styles and mask of an earlier job, none of them sent again (a
    strength change sends only settings); the result is the one sending them gives. Sending
    an image as well, or naming a job the daemon does not have, is refused."""
    mask = np.zeros((32, 32), np.uint8)
    mask[:, 16:] = 255
    full = tiny(mask=Pixels(32, 32, mask.tobytes(), "L"), settings={"style_weight": 50.0})
    with daemon.client() as c:
        first = c.submit(full)
        sent = first.result(timeout=30).image
        borrowed = dataclasses.replace(full, content=None, styles=[], mask=None)
        borrowed = dataclasses.replace(borrowed, inputs_from=first.id)
        assert borrowed.to_message().frames == []  # only settings travel
        again = c.submit(borrowed).result(timeout=30).image
        assert bytes(again.data) == bytes(sent.data)
        stronger = dataclasses.replace(borrowed, settings={**full.settings, "style_weight": 500.0})
        assert bytes(c.submit(stronger).result(timeout=30).image.data) != bytes(sent.data)
        assert full.content is not None
        for extra, name in (
            ({"content": full.content}, "content"),
            ({"styles": full.styles}, "styles"),
            ({"mask": full.mask}, "mask"),
        ):
            with pytest.raises(RemoteError) as refused:
                c.submit(dataclasses.replace(borrowed, **extra))
            error = refused.value
            assert (error.code, error.field) == (C.E_INVALID_FIELD, "inputs_from")
            assert f"sends {name} too" in error.message
        with pytest.raises(RemoteError) as refused:
            c.submit(dataclasses.replace(borrowed, inputs_from="0" * 32))
        assert (refused.value.code, refused.value.field) == (C.E_UNKNOWN_JOB, "inputs_from")


def close(a: np.ndarray, b: np.ndarray, tolerance: int = 2) -> bool:
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= tolerance


def test_a_stalled_client_hears_that_its_job_was_cancelled(daemon) -> None:
    """A client silent past the heartbeat timeout (stuck, not dead) loses its attached job,
    and when it comes back its events end with the cancellation instead of waiting forever."""
    with daemon.client() as c:
        job = c.submit(long_job())
        wait_running(c, job.id)
        time.sleep(3.0)  # the daemon's heartbeat timeout is 2 s; this client sends nothing
        outcome = [e for e in job.events(timeout=60) if isinstance(e, Cancelled)]
        assert outcome and outcome[0].reason == "client_gone"
        assert c.status(job.id)["job"]["reason"] == "client_gone"


def test_the_order_of_cancelled_and_cancel_reply(daemon) -> None:
    """SPEC.md 8.1, on a raw socket: a queued job's `cancelled` event comes before the
    `cancel_reply`; a running job's comes after it, once the engine has stopped."""
    import zmq

    from impasto_protocol import decode, encode

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(daemon.endpoint)

    def until(kind: str, ref: str) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not sock.poll(1000):
                continue
            msg = decode(sock.recv_multipart())
            if msg.type in (C.HEARTBEAT, C.PROGRESS, C.PREVIEW):
                continue
            seen.append((msg.type, msg.job))
            if msg.type == kind and msg.ref == ref:
                return seen
        raise AssertionError(f"no {kind} within 60 s: {seen}")

    try:
        jobs = []
        for submit in (long_job(), tiny()):
            request = submit.to_message()
            sock.send_multipart(encode(request))
            jobs.append(until(C.ACCEPTED, request.id)[-1][1])
        running, queued = jobs
        request = M.cancel(queued)
        sock.send_multipart(encode(request))
        assert until(C.CANCEL_REPLY, request.id) == [
            (C.CANCELLED, queued),
            (C.CANCEL_REPLY, queued),
        ]
        request = M.cancel(running)
        sock.send_multipart(encode(request))
        assert until(C.CANCEL_REPLY, request.id) == [(C.CANCEL_REPLY, running)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sock.poll(1000):
                msg = decode(sock.recv_multipart())
                if msg.type == C.CANCELLED:
                    assert msg.job == running
                    break
        else:
            raise AssertionError("the running job's cancelled event never came")
    finally:
        sock.close(linger=0)
