"""The daemon on a real local Ray cluster: two CPU actors, real sockets, no mocks.

A Ray head is started on this machine for the module (`ray start --head`, 2 CPUs), and a
daemon joins it with `--ray ADDRESS --devices cpu,cpu`: each engine is an actor process holding
its own warm model. Needs the `cluster` extra (Ray); skipped without it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from daemon_process import DaemonProcess, example_pixels
from test_lifecycle import (
    long_job,
    remote_error,
    status_of,
    step,
    tiny,
    wait_finished,
    wait_for,
    wait_running,
)

from impasto_protocol import ClipRequest, Preview, Progress, RemoteError, Result
from impasto_protocol import constants as C
from impasto_protocol.messages import Train

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    """A local Ray head with 2 CPUs; its temporary files under a short path (Ray's sockets
    must fit the 107 bytes of a Unix socket path)."""
    port = _free_port()
    temp = Path(f"/tmp/impasto-ray-{os.getpid()}")
    command = [
        str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
    ]  # fmt: skip
    started = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    yield f"127.0.0.1:{port}"
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def cluster_daemon(ray_head: str, tmp_path: Path):
    d = DaemonProcess(
        f"ipc://{tmp_path}/d.sock", tmp_path / "d.log", "--ray", ray_head, "--devices", "cpu,cpu"
    )
    i = d.args.index("--device")
    del d.args[i : i + 2]
    d.start(wait_ready=180)
    with d.client() as c:  # ready means one engine; these tests want both
        wait_for(lambda: all(w["ready"] for w in c.status()["workers"]), 180, "both engines")
    yield d
    d.stop()


def _engine_processes() -> dict[int, int]:
    """The actors' processes: pid -> CPU ticks used so far."""
    out = subprocess.run(["pgrep", "-f", "ray::Engine"], capture_output=True, text=True).stdout
    ticks = {}
    for pid in map(int, out.split()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ticks[pid] = int(stat.rsplit(")", 1)[1].split()[11])
    return ticks


def test_two_actors_run_jobs_side_by_side_with_progress_and_cancel(cluster_daemon) -> None:
    with cluster_daemon.client() as c:
        welcome = c.hello()
        assert welcome["devices"] == 2
        # Trainings run on a daemon's own engines, not on a cluster's actors: refused clearly.
        assert "train_defaults" not in welcome
        with pytest.raises(RemoteError) as refused:
            c.train(Train(example_pixels("hubble", 48), "on-the-cluster"))
        assert refused.value.code == C.E_UNKNOWN_TYPE and "train" in refused.value.message
        # So do clips (protocol 1.7): their frames would cross the cluster one by one.
        assert "clip_defaults" not in welcome
        frame = example_pixels("astronaut", 48, "RGB")
        clip = ClipRequest(1, 48, 48, "RGB", styles=[example_pixels("hubble", 48)])
        with pytest.raises(RemoteError) as refused:
            c.clip(clip, [frame])
        assert refused.value.code == C.E_UNKNOWN_TYPE and "clip" in refused.value.message
        status = c.status()
        assert [w["device"] for w in status["workers"]] == ["ray:cpu", "ray:cpu"]
        assert len(_engine_processes()) == 2  # an actor process per engine
        # A short job streams its progress and previews back from the actor.
        events = list(c.submit(tiny(48, 6, progress_every=1, preview_every=3)).events(120))
        assert isinstance(events[-1], Result) and events[-1].image.width == 48
        steps = [step(e).iteration for e in events if isinstance(e, (Progress, Preview))]
        assert steps[0] == 0 and steps[-1] == 6 and steps == sorted(steps)  # 0: fast start
        assert any(isinstance(e, Preview) and e.progress.iteration > 0 for e in events)
        # Two long jobs run at once, one per actor; a cancel stops one within an iteration.
        first, second = c.submit(long_job()), c.submit(long_job())
        wait_running(c, first.id, 120)
        wait_running(c, second.id, 120)
        assert {w["job"] for w in c.status()["workers"]} == {first.id, second.id}
        before = status_of(c, first.id)["iteration"]
        c.cancel(first.id)
        states = wait_finished(c, [first.id], timeout=30)
        assert states[first.id]["state"] == "cancelled"
        assert states[first.id]["iteration"] <= before + 3  # (progress in flight, then stop)
        assert status_of(c, second.id)["state"] == "running"
        c.cancel(second.id)
        wait_finished(c, [second.id], timeout=30)


def test_a_lost_actor_fails_its_job_clearly_and_the_next_job_runs(cluster_daemon) -> None:
    with cluster_daemon.client() as c:
        job = c.submit(long_job())
        wait_running(c, job.id, 120)
        # The actor that computes is the one using the CPU.
        before = _engine_processes()
        time.sleep(1.0)
        after = _engine_processes()
        busy = max(after, key=lambda p: after[p] - before.get(p, 0))
        os.kill(busy, signal.SIGKILL)
        e = remote_error(lambda: job.result(timeout=60))
        assert e.code == "engine_error" and "the cluster lost this job's engine" in str(e), str(e)
        c.ping()  # the daemon goes on (ConnectionLost otherwise)
        # The next jobs run, two at once: one of them on a new actor where the old was lost.
        jobs = [c.submit(tiny(32, 2)), c.submit(tiny(32, 2))]
        assert [j.result(timeout=180).image.width for j in jobs] == [32, 32]
        assert {status_of(c, j.id)["worker"] for j in jobs} == {0, 1}
        assert busy not in _engine_processes() and len(_engine_processes()) == 2


def test_an_actor_lost_while_loading_is_replaced(ray_head: str, tmp_path: Path) -> None:
    d = DaemonProcess(
        f"ipc://{tmp_path}/d.sock", tmp_path / "d.log", "--ray", ray_head, "--devices", "cpu,cpu"
    )
    i = d.args.index("--device")
    del d.args[i : i + 2]
    d.start(wait_ready=0)
    try:
        deadline = time.monotonic() + 120
        while len(_engine_processes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        first = sorted(_engine_processes())[0]
        os.kill(first, signal.SIGKILL)  # loading VGG19 takes seconds: it was still loading
        d.wait_ready(180)
        with d.client() as c:
            wait_for(lambda: all(w["ready"] for w in c.status()["workers"]), 180, "engines")
            assert c.submit(tiny(32, 2)).result(timeout=180).image.width == 32
        assert "died while loading" in d.log()
    finally:
        d.stop()
