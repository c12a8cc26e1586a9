"""Faults: each tried K times against real daemon processes, with a bystander client whose job
must finish every time.

- a client SIGKILLed in the middle of its job (its job must be cancelled: `client_gone`);
- a client that connects, submits and never reads (its messages must stay bounded, and the
  result still be delivered when it reads at last);
- a client that stops heartbeating (it must hear `cancelled: client_gone` when it reads again);
- a client SIGKILLed while it sends a clip's frames (the clip must be cancelled: `client_gone`);
- the daemon SIGKILLed mid-queue and restarted (every waiting client must get ConnectionLost
  within its timeout, and be served by the new daemon);
- the daemon SIGKILLed in the middle of a training and restarted (the same `train` again must
  resume from the checkpoint and reach the very picture an unbroken training reaches);
- a device error and an out-of-memory error inside a job, injected by
  `faulty_daemon.py` (a real daemon process whose engine raises for jobs of a marked size);
- a full disk under the daemon's log (`--log` on a full tmpfs, or /dev/full), and under the
  file `impasto watch -o` writes (then `impasto watch` again must fetch the result).

    .venv/bin/python -m benchmarks.reliability.faults --trials 5
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from PIL import Image

from impasto_protocol import Client, ConnectionLost, Message, Progress, RemoteError, decode, encode
from impasto_protocol import constants as C
from impasto_protocol import messages as M
from impasto_protocol.errors import ImpastoError, JobCancelled

from . import faulty_daemon
from .common import ROOT, Daemon, example_pixels, main_for, start_daemon, tiny_job

TIMEOUT = 10.0  # what the affected clients allow for an answer
HEARTBEAT_TIMEOUT = 2.0  # the suites' daemons (DaemonProcess's --heartbeat-timeout)
PYTHON = sys.executable
IMPASTO = [PYTHON, "-m", "impasto"]


class Bystander(threading.Thread):
    """Another client with a job to finish while the fault happens."""

    def __init__(self, endpoint: str, iterations: int = 5) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.iterations = endpoint, iterations
        self.finished = False
        self.error: str | None = None
        self.size: tuple[int, int] | None = None  # its result's, for the tests to check

    def run(self) -> None:
        try:
            with Client(self.endpoint, name="bystander", timeout=30.0) as c:
                r = c.submit(tiny_job(self.iterations)).result(timeout=120)
                self.size = (r.image.width, r.image.height)
                self.finished = (r.image.width, r.image.height) == (32, 32)
        except (ImpastoError, TimeoutError) as e:
            self.error = str(e)

    def outcome(self, timeout: float = 150.0) -> bool:
        self.join(timeout)
        return self.finished


def wait_state(endpoint: str, job: str, states: set[str], timeout: float) -> dict[str, Any]:
    """The job's summary once it is in one of `states` (or the last one seen)."""
    deadline = time.monotonic() + timeout
    summary: dict[str, Any] = {}
    with Client(endpoint, name="observer", timeout=5.0) as c:
        while time.monotonic() < deadline:
            summary = c.status(job)["job"]
            if summary["state"] in states:
                break
            time.sleep(0.05)
    return summary


# -- client faults -----------------------------------------------------------------------------

VICTIM = """
import sys
sys.path.insert(0, sys.argv[2])
from daemon_process import example_pixels
from impasto_protocol import Client, Progress, Submit
with Client(sys.argv[1], name="victim", timeout=30) as c:
    job = c.submit(Submit(example_pixels("astronaut", 32), [example_pixels("hubble", 32)],
                          {"size": 32, "iterations": 5000}, progress_every=1))
    for ev in job.events():
        if isinstance(ev, Progress):
            print(job.id, flush=True)
            break
    for ev in job.events():
        pass
"""


def client_killed(daemon: Daemon) -> dict[str, Any]:
    return victim_killed(daemon, VICTIM, "job", None)


def victim_killed(
    daemon: Daemon, script: str, what: str, before: set[str] | None
) -> dict[str, Any]:
    """Run `script` (it prints its job's id when it is where it should die), SIGKILL it while
    a bystander's job runs, and see what becomes of its job (first in a state of `before`)."""
    victim = subprocess.Popen(
        [PYTHON, "-c", script, daemon.endpoint, str(ROOT / "tests" / "daemon")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert victim.stdout is not None
    job = victim.stdout.readline().strip()
    seen = wait_state(daemon.endpoint, job, before, 30) if job and before else {}
    bystander = Bystander(daemon.endpoint)
    bystander.start()
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.wait()
    summary = wait_state(daemon.endpoint, job, {"cancelled", "done", "failed"}, 30) if job else {}
    return {
        "survived": daemon.alive,
        "others_finished": bystander.outcome(),
        "affected_clear": summary.get("state") == "cancelled"
        and summary.get("reason") == C.CLIENT_GONE,
        "seconds_to_outcome": round(time.monotonic() - killed, 2),
        "detail": f"the killed client's {what}: {summary.get('state')} ({summary.get('reason')})",
        # What the verdicts above were made from, for tests to check themselves.
        "raw": {
            "before": seen,
            "job": summary,
            "bystander_size": bystander.size,
            "victim_rc": victim.returncode,
        },
    }


CLIP_VICTIM = """
import sys, time
sys.path.insert(0, sys.argv[2])
from daemon_process import example_pixels
from impasto_protocol import Client, constants as C
from impasto_protocol.clip_messages import ClipRequest, FramesBatch
frame = example_pixels("astronaut", 32, "RGB")
request = ClipRequest(6, 32, 32, "RGB", styles=[example_pixels("hubble", 32, "RGB")],
                      settings={"size": 32, "iterations": 3})
with Client(sys.argv[1], name="clip-victim", timeout=30) as c:
    job = c.request(request.to_message(), C.ACCEPTED).job
    c.request(FramesBatch(job, 0, [frame] * 3).to_message(), C.FRAMES_REPLY)
    print(job, flush=True)
    time.sleep(600)  # half the frames sent; killed here
"""


def clip_client_killed(daemon: Daemon) -> dict[str, Any]:
    """A client that dies half-way through sending a clip's frames: its clip must not wait
    for the rest for ever (holding their memory), and others are served meanwhile."""
    return victim_killed(daemon, CLIP_VICTIM, "clip", {"receiving"})


def client_never_reads(daemon: Daemon) -> dict[str, Any]:
    """Submits a job with a preview and a progress event every iteration, heartbeats, never
    reads until its job is over; then everything it gets is counted."""
    ctx: zmq.Context = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(daemon.endpoint)
    iterations = 60
    label = f"never-reads-{time.monotonic_ns()}"
    job_msg = tiny_job(iterations, progress_every=1, preview_every=1, preview_size=32, label=label)
    before = daemon.resources()
    try:
        sock.send_multipart(encode(job_msg.to_message(mid="nr-1")), copy=False)
        bystander = Bystander(daemon.endpoint)
        bystander.start()
        # Find the job's id without reading our own socket: the daemon's status lists it.
        job = None
        t0 = time.monotonic()
        with Client(daemon.endpoint, name="observer", timeout=5.0) as c:
            while job is None and time.monotonic() - t0 < 10:
                for j in c.status()["jobs"]:
                    if j.get("label") == label:
                        job = j["job"]
                time.sleep(0.05)
        state: dict[str, Any] = {}
        while time.monotonic() - t0 < 120:
            sock.send_multipart(encode(Message(C.HEARTBEAT, "nr-hb")))
            if job is not None:
                state = wait_state(daemon.endpoint, job, {"done", "failed", "cancelled"}, 0.2)
                if state.get("state") in ("done", "failed", "cancelled"):
                    break
            time.sleep(0.2)
        during = daemon.resources()
        others = bystander.outcome()
        got: dict[str, int] = {}
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and sock.poll(500):
            msg = decode(sock.recv_multipart())
            got[msg.type] = got.get(msg.type, 0) + 1
            if msg.type in (C.RESULT, C.ERROR, C.CANCELLED) and msg.ref is None:
                break
    finally:
        sock.close(0)
    return {
        "survived": daemon.alive,
        "others_finished": others,
        "affected_clear": got.get(C.RESULT, 0) == 1 and state.get("state") == "done",
        "seconds_to_outcome": round(time.monotonic() - t0, 2),
        "detail": f"received after the job ended: {dict(sorted(got.items()))} "
        f"(of {iterations} progress/preview events made)",
        "rss_kib_growth": during["rss_kib"] - before["rss_kib"],
        "raw": {
            "job": state,
            "received": got,
            "events_made": iterations,
            "bystander_size": bystander.size,
        },
    }


def client_stops_heartbeating(daemon: Daemon) -> dict[str, Any]:
    with Client(daemon.endpoint, name="stalled", timeout=TIMEOUT) as c:
        job = c.submit(tiny_job(5000, progress_every=1))
        for ev in job.events():
            if isinstance(ev, Progress):
                break
        bystander = Bystander(daemon.endpoint)
        bystander.start()
        stalled = time.monotonic()
        time.sleep(HEARTBEAT_TIMEOUT + 1.5)  # silent: no heartbeats, no reads
        outcome = "none"
        heard_raw: dict[str, Any] = {"exception": None, "reason": None}
        try:
            job.result(timeout=TIMEOUT)
            outcome = "result"
        except JobCancelled as e:
            outcome = f"cancelled ({e.reason})"
            heard_raw = {"exception": type(e).__name__, "reason": e.reason}
        except (ImpastoError, TimeoutError) as e:
            outcome = f"{type(e).__name__}: {e}"
        heard = time.monotonic() - stalled
    return {
        "survived": daemon.alive,
        "others_finished": bystander.outcome(),
        "affected_clear": outcome == f"cancelled ({C.CLIENT_GONE})",
        "seconds_to_outcome": round(heard, 2),
        "detail": f"the stalled client heard: {outcome}",
        "raw": {"heard": heard_raw, "bystander_size": bystander.size},
    }


# -- the daemon killed -------------------------------------------------------------------------


def daemon_killed(tmp: Path, trial: int) -> dict[str, Any]:
    daemon = start_daemon(tmp, name=f"k{trial}")
    errors: list[tuple[str, float]] = []
    lock = threading.Lock()
    started = threading.Barrier(4)

    def waiter(i: int) -> None:
        with Client(daemon.endpoint, name=f"w{i}", timeout=TIMEOUT / 2) as c:
            job = c.submit(tiny_job(3000))  # one runs, two wait: all unfinished at the kill
            started.wait()
            try:
                job.result(timeout=60)
                what = "result"
            except ConnectionLost:
                what = "ConnectionLost"
            except (ImpastoError, TimeoutError) as e:
                what = type(e).__name__
            with lock:
                errors.append((what, time.monotonic()))

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.5)
    daemon.kill()
    killed = time.monotonic()
    for t in threads:
        t.join(60)
    restart = Daemon(daemon.endpoint, daemon.log_path, env=None)
    t0 = time.monotonic()
    restart.start()
    restart_s = time.monotonic() - t0
    try:
        served = Bystander(restart.endpoint)
        served.start()
        others = served.outcome()
        restarted_alive = restart.alive
    finally:
        restart.stop()
        daemon.stop()
    waits = [t - killed for _, t in errors]
    return {
        "survived": others,  # restarted cleanly and serving
        "others_finished": others,
        "affected_clear": len(errors) == 3
        and all(w == "ConnectionLost" for w, _ in errors)
        and max(waits) <= TIMEOUT / 2 + 1.0,
        "seconds_to_outcome": round(max(waits, default=-1), 2),
        "detail": f"waiting clients: {[w for w, _ in errors]}; restart to ready {restart_s:.1f} s",
        "restart_s": round(restart_s, 2),
        "raw": {
            "waiters_heard": [w for w, _ in errors],
            "restarted_alive": restarted_alive,
            "served_size_after_restart": served.size,
        },
    }


TRAINING = {"steps": 8, "size": 32, "style_size": 32, "batch": 1, "checkpoint_every": 2}


def _train(endpoint: str, name: str) -> tuple[bytes, dict[str, Any]]:
    """A training to its end: the validation picture it paints, and its result's facts."""
    request = M.Train(
        example_pixels("hubble", 64), name, TRAINING, validation=example_pixels("rocket", 32)
    )
    with Client(endpoint, name="trainer", timeout=60.0) as c:
        r = c.train(request).result(timeout=600)
    return bytes(r.image.data), r.info


def training_daemon_killed(tmp: Path, trial: int) -> dict[str, Any]:
    """The daemon SIGKILLed while it trains, after a checkpoint and before the end. The
    restarted daemon, given the same `train`, resumes from the checkpoint and paints the very
    picture an unbroken training of the same name and settings paints (SPEC.md, `train`)."""
    styles = tmp / f"styles-t{trial}"
    env = {"IMPASTO_STYLES": str(styles)}
    daemon = start_daemon(tmp, name=f"t{trial}", env=env)
    checkpoint_at = None
    try:
        request = M.Train(
            example_pixels("hubble", 64),
            "resumed",
            TRAINING,
            validation=example_pixels("rocket", 32),
            progress_every=1,
        )
        with Client(daemon.endpoint, name="trainer", timeout=60.0) as c:
            for event in c.train(request).events(timeout=600):
                if (
                    isinstance(event, Progress)
                    and event.iteration >= TRAINING["checkpoint_every"] + 1
                ):
                    checkpoint_at = event.iteration
                    break
        daemon.kill()
        killed = time.monotonic()
    finally:
        daemon.stop()
    restart = Daemon(daemon.endpoint, daemon.log_path, env=env)
    restart.start()
    try:
        bystander = Bystander(restart.endpoint)
        bystander.start()
        resumed, resumed_info = _train(restart.endpoint, "resumed")
        seconds = time.monotonic() - killed
        unbroken, unbroken_info = _train(restart.endpoint, "unbroken")
        others = bystander.outcome()
        alive = restart.alive
    finally:
        code = restart.stop()
    same = resumed == unbroken
    return {
        "survived": alive and code == 0,
        "others_finished": others,
        "affected_clear": bool(resumed_info.get("resumed_from")) and same,
        "seconds_to_outcome": round(seconds, 2),
        "detail": f"killed at step {checkpoint_at}; resumed from step "
        f"{resumed_info.get('resumed_from')}; the same picture as unbroken: {same}",
        "raw": {
            "killed_at_step": checkpoint_at,
            "resumed": {k: resumed_info.get(k) for k in ("steps", "resumed_from")},
            "unbroken": {k: unbroken_info.get(k) for k in ("steps", "resumed_from")},
            "same_picture": same,
            "bystander_size": bystander.size,
        },
    }


# -- engine faults -----------------------------------------------------------------------------


def engine_fault(daemon: Daemon, iterations: int, code: str) -> dict[str, Any]:
    bystander = Bystander(daemon.endpoint)
    bystander.start()
    t0 = time.monotonic()
    with Client(daemon.endpoint, name="unlucky", timeout=TIMEOUT) as c:
        try:
            c.submit(tiny_job(iterations)).result(timeout=60)
            heard = "result"
        except RemoteError as e:
            heard = e.code
        except (ImpastoError, TimeoutError) as e:
            heard = type(e).__name__
        seconds = time.monotonic() - t0
        next_result = c.submit(tiny_job(3)).result(timeout=60)
        again = next_result.image.width == 32
    return {
        "survived": daemon.alive and again,
        "others_finished": bystander.outcome(),
        "affected_clear": heard == code and seconds < TIMEOUT,
        "seconds_to_outcome": round(seconds, 2),
        "detail": f"the job's client heard {heard}; its next job finished: {again}",
        "raw": {
            "heard": heard,
            "next_size": (next_result.image.width, next_result.image.height),
            "daemon_alive": daemon.alive,
            "bystander_size": bystander.size,
        },
    }


def start_faulty(tmp: Path) -> Daemon:
    d = Daemon(f"ipc://{tmp}/faulty.sock", tmp / "faulty.log")
    d.args = [PYTHON, "-m", "benchmarks.reliability.faulty_daemon", d.endpoint, str(d.log_path)]
    return d.start()


# -- full disks --------------------------------------------------------------------------------


def can_mount_tmpfs() -> bool:
    """A tiny tmpfs in a private mount namespace (root, or unprivileged user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [*_unshare(), "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def _unshare() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]


def on_full_tmpfs(folder: Path, command: list[str]) -> list[str]:
    """`command` in a mount namespace where `folder` is a 64 KiB tmpfs already full."""
    script = (
        f'mount -t tmpfs -o size=64k none "{folder}" && '
        f'(dd if=/dev/zero of="{folder}/filler" bs=4k 2>/dev/null; true) && exec "$@"'
    )
    return [*_unshare(), "sh", "-c", script, "sh", *command]


def log_full(tmp: Path, trial: int, tmpfs: bool) -> dict[str, Any]:
    folder = tmp / f"logdisk{trial}"
    folder.mkdir()
    log_path = folder / "daemon.log" if tmpfs else Path("/dev/full")
    daemon = Daemon(f"ipc://{tmp}/lf{trial}.sock", log_path)
    daemon.stderr_path = tmp / f"lf{trial}.stderr"
    if tmpfs:
        daemon.args = on_full_tmpfs(folder, daemon.args)
    daemon.start()
    recovered = None
    try:
        with Client(daemon.endpoint, name="logged", timeout=TIMEOUT) as c:
            for _ in range(3):
                c.submit(tiny_job(3)).result(timeout=60)
            for i in range(50):  # refused requests: each one a log line
                try:
                    c.status(f"nope-{i}")
                except RemoteError:
                    pass
            last = c.submit(tiny_job(3)).result(timeout=60)
            ok = last.image.width == 32
            if tmpfs:  # make room: the log must resume and say what it lost
                filler = Path(f"/proc/{daemon.pid}/root{folder}/filler")
                filler.unlink()
                c.ping()
                c.submit(tiny_job(3)).result(timeout=60)
                time.sleep(0.3)
                text = Path(f"/proc/{daemon.pid}/root{folder}/daemon.log").read_text()
                recovered = "record(s) were lost" in text
        alive = daemon.alive
    finally:
        code = daemon.stop()
        stderr_lines = [line for line in daemon.stderr().splitlines() if line.strip()]
    return {
        "survived": alive and code == 0,
        "others_finished": ok,
        "affected_clear": len(stderr_lines) == 1 and "cannot write the log" in stderr_lines[0],
        "seconds_to_outcome": None,
        "detail": f"stderr: {stderr_lines[:2]}; log resumed when space came back: {recovered}",
        "log_resumed": recovered,
        "raw": {
            "alive_before_stop": alive,
            "exit_code": code,
            "stderr_lines": stderr_lines,
            "last_size": (last.image.width, last.image.height),
        },
    }


def result_file_full(daemon: Daemon, tmp: Path, trial: int, tmpfs: bool) -> dict[str, Any]:
    images = tmp / f"img{trial}"
    images.mkdir()
    for name in ("astronaut", "hubble"):
        with Image.open(ROOT / "daemon" / "impasto" / "examples" / f"{name}.png") as im:
            im.convert("RGB").resize((32, 32)).save(images / f"{name}.png")
    common = ["--endpoint", daemon.endpoint, "--timeout", str(TIMEOUT)]
    sub = subprocess.run(
        [
            *IMPASTO,
            "submit",
            str(images / "astronaut.png"),
            str(images / "hubble.png"),
            "--size",
            "32",
            "--iterations",
            "3",
            *common,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    job = sub.stdout.strip()
    full = tmp / f"fulldisk{trial}"
    full.mkdir()
    command = [*IMPASTO, "watch", job, "-o", str(full / "out.png"), *common]
    t0 = time.monotonic()
    if tmpfs:
        bad = subprocess.run(on_full_tmpfs(full, command), capture_output=True, text=True)
    else:  # a file size limit: EFBIG instead of ENOSPC, but the same path through the CLI
        bad = subprocess.run(command, capture_output=True, text=True, preexec_fn=_no_file_room)
    seconds = time.monotonic() - t0
    err_lines = [line for line in bad.stderr.splitlines() if line.strip()]
    good_path = tmp / f"good{trial}.png"
    good = subprocess.run(
        [*IMPASTO, "watch", job, "-o", str(good_path), *common],
        capture_output=True,
        text=True,
        timeout=60,
    )
    fetched = good.returncode == 0 and good_path.exists() and Image.open(good_path).size == (32, 32)
    clear = (  # (watch reports the job's state on stderr before the error line)
        bad.returncode not in (0, 1)
        and bool(err_lines)
        and "cannot write" in err_lines[-1]
        and "Traceback" not in bad.stderr
    )
    return {
        "survived": daemon.alive,
        "others_finished": fetched,
        "affected_clear": clear and seconds < TIMEOUT and sub.returncode == 0,
        "seconds_to_outcome": round(seconds, 2),
        "detail": f"watch -o onto the full disk: exit {bad.returncode}, "
        f"{err_lines[-1] if err_lines else 'no message'!r}; watch again: exit {good.returncode}",
        "raw": {
            "submit_rc": sub.returncode,
            "full_rc": bad.returncode,
            "full_stderr": bad.stderr,
            "again_rc": good.returncode,
            "again_size": Image.open(good_path).size if good_path.exists() else None,
        },
    }


def _no_file_room() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))


# -- the suite ---------------------------------------------------------------------------------


def run(trials: int = 5, tmp: Path | None = None) -> dict[str, Any]:
    tmp = tmp or Path(tempfile.mkdtemp(prefix="impasto-faults-"))
    tmpfs = can_mount_tmpfs()
    results: dict[str, list[dict[str, Any]]] = {}

    def tried(name: str, fn: Callable[[int], dict[str, Any]]) -> None:
        for k in range(trials):
            try:
                r = fn(k)
            except Exception as e:  # the suite reports a fault it could not even try
                r = {
                    "survived": False,
                    "others_finished": False,
                    "affected_clear": False,
                    "detail": f"the trial raised {type(e).__name__}: {e}",
                }
            results.setdefault(name, []).append(r)

    daemon = start_daemon(tmp, name="shared")
    try:
        tried("client SIGKILLed mid-job", lambda k: client_killed(daemon))
        tried("client never reads", lambda k: client_never_reads(daemon))
        tried("client stops heartbeating", lambda k: client_stops_heartbeating(daemon))
        tried("client SIGKILLed while sending a clip", lambda k: clip_client_killed(daemon))
        tried("result file on a full disk", lambda k: result_file_full(daemon, tmp, k, tmpfs))
        shared_alive = daemon.alive
        shared_res = daemon.resources()
    finally:
        shared_code = daemon.stop()
    tried("daemon SIGKILLed and restarted mid-queue", lambda k: daemon_killed(tmp, k))
    tried("daemon SIGKILLed mid-training and restarted", lambda k: training_daemon_killed(tmp, k))
    faulty = start_faulty(tmp)
    try:
        tried(
            "out of memory in a job (injected)",
            lambda k: engine_fault(faulty, faulty_daemon.OOM_ITERATIONS, C.E_OUT_OF_MEMORY),
        )
        tried(
            "device error in a job (injected)",
            lambda k: engine_fault(faulty, faulty_daemon.ENGINE_ITERATIONS, C.E_ENGINE),
        )
    finally:
        faulty.stop()
    tried("daemon log on a full disk", lambda k: log_full(tmp, k, tmpfs))
    table = {}
    for name, rs in results.items():
        secs = [r["seconds_to_outcome"] for r in rs if r.get("seconds_to_outcome") is not None]
        table[name] = {
            "tried": len(rs),
            "survived": sum(bool(r.get("survived")) for r in rs),
            "others_finished": sum(bool(r.get("others_finished")) for r in rs),
            "affected_clear": sum(bool(r.get("affected_clear")) for r in rs),
            "max_seconds_to_outcome": max(secs) if secs else None,
            "example": rs[0].get("detail"),
            "failures": [
                r["detail"]
                for r in rs
                if not all(r.get(k) for k in ("survived", "others_finished", "affected_clear"))
            ][:3],
        }
    all_ok = all(
        t["survived"] == t["others_finished"] == t["affected_clear"] == t["tried"]
        for t in table.values()
    )
    return {
        "full_disk_method": "64 KiB tmpfs, filled, in a private mount namespace (unshare)"
        if tmpfs
        else "daemon log: /dev/full; result file: RLIMIT_FSIZE (EFBIG)",
        "engine_fault_injection": "faulty_daemon.py: the real server and engine in their own "
        "process; a job of 7 iterations raises torch.OutOfMemoryError, one of 11 RuntimeError",
        "client_timeout_s": TIMEOUT,
        "heartbeat_timeout_s": HEARTBEAT_TIMEOUT,
        "faults": table,
        "shared_daemon": {
            "alive_at_end": shared_alive,
            "exit_code": shared_code,
            "end": shared_res,
        },
        "trials": results,
        "verdict": {"every_fault_survived_and_reported": all_ok and shared_alive},
    }


def add_args(ap: Any) -> None:
    ap.add_argument("--trials", type=int, default=5, help="K: times each fault is tried")


if __name__ == "__main__":
    main_for("faults", run, add_args)
