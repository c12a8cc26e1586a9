"""Soak: mixed traffic on one daemon for a long time, with its memory, descriptors and threads
sampled throughout.

The traffic: editor-like clients in other processes (load.py's: submit, follow, cancel,
replace), a client that reconnects for every request (a new peer each time: `impasto status`
run from a script), one that watches finished jobs again, one that sends garbage, one that
submits and never reads, and the other kinds of work a daemon serves: instant jobs, estimate
and presets requests, clip jobs, and a training job again and again. Memory must level off: the
daemon keeps at most 256 finished jobs and a bounded style cache, so after warm-up its resident
memory may move, not climb.

    .venv/bin/python -m benchmarks.reliability.soak --duration 1800
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import zmq

from impasto_protocol import Client, ClipDone, FrameDone, Submit, encode
from impasto_protocol import messages as M
from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.errors import ImpastoError

from .common import Daemon, example_pixels, main_for, start_daemon, tiny_job
from .load import client_process


class Wrong(Exception):
    """An answer that came but is not what the request asked for (a failure of the round)."""


def expect(fact: bool, what: str) -> None:
    if not fact:
        raise Wrong(what)


class Side(threading.Thread):
    """A background actor that counts its rounds and its failures until told to stop."""

    def __init__(self, name: str, step: Any, pause: float) -> None:
        super().__init__(name=name, daemon=True)
        self.step, self.pause = step, pause
        self.rounds = self.failures = 0
        self.last_failure = ""
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.step()
                self.rounds += 1
            except (ImpastoError, TimeoutError, zmq.ZMQError, Wrong) as e:
                self.failures += 1
                self.last_failure = f"{type(e).__name__}: {e}"
            self.halt.wait(self.pause)


def actors(daemon: Daemon) -> list[Side]:
    endpoint = daemon.endpoint
    rng = random.Random(7)
    ctx: zmq.Context = zmq.Context.instance()

    def reconnect() -> None:
        with Client(endpoint, name="script", timeout=10.0) as c:
            c.hello()
            c.status()

    def rewatch() -> None:
        with Client(endpoint, name="rewatch", timeout=10.0) as c:
            jobs = c.status()["jobs"]
            # (a clip's events end with its frames and a result without an image: not result())
            done = [j["job"] for j in jobs if j["state"] == "done" and j.get("kind") != "clip"]
            if done:
                c.watch(rng.choice(done)).result(timeout=30)

    def garbage() -> None:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        try:
            sock.send_multipart([rng.randbytes(rng.randrange(1, 200))])
            sock.send_multipart([b"\x91" * 1000, b"x"])
            sock.poll(2000)
        finally:
            sock.close(0)

    def never_reads() -> None:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        try:
            job = tiny_job(20, progress_every=1, preview_every=1, preview_size=32)
            sock.send_multipart(encode(job.to_message()), copy=False)
            time.sleep(5.0)  # no heartbeats either: the daemon cancels its job
        finally:
            sock.close(0)

    photo, style = example_pixels("astronaut", 32), example_pixels("hubble", 32)

    def instant() -> None:
        job = Submit(photo, [], {"size": 32, "method": "fast", "presets": [rng.randrange(1, 4)]})
        with Client(endpoint, name="instant", timeout=30.0) as c:
            image = c.submit(job).result(timeout=60).image
        expect((image.width, image.height) == (32, 32), f"a {image.width}x{image.height} result")

    def asks() -> None:
        with Client(endpoint, name="asks", timeout=30.0) as c:
            answer = c.estimate(M.EstimateRequest(640, 480, {"size": 256, "iterations": 50}))
            seconds = answer["seconds"]  # nil on an engine that has measured nothing yet
            expect(answer["width"] == 256 and (seconds is None or seconds > 0), f"{answer}")
            expect(len(c.presets()) > 0, "no presets")

    def clip() -> None:
        frames = [example_pixels(name, 32) for name in ("astronaut", "rocket", "astronaut")]
        request = ClipRequest(
            3, 32, 32, "RGB", styles=[style], settings={"size": 32, "iterations": 3}
        )
        with Client(endpoint, name="clip", timeout=30.0) as c:
            events = list(c.clip(request, frames).events(timeout=120))
        done = [e.index for e in events if isinstance(e, FrameDone)]
        expect(done == [0, 1, 2] and isinstance(events[-1], ClipDone), f"clip events {events}")

    def training() -> None:
        settings = {"steps": 2, "size": 32, "style_size": 32, "batch": 1}
        request = M.Train(
            example_pixels("hubble", 64), "soak", settings, overwrite=True, restart=True
        )
        with Client(endpoint, name="train", timeout=30.0) as c:
            info = c.train(request).result(timeout=600).info
        expect(info.get("steps") == 2, f"training info {info}")

    return [
        Side("reconnect", reconnect, 0.5),
        Side("rewatch", rewatch, 2.0),
        Side("garbage", garbage, 0.5),
        Side("never-reads", never_reads, 10.0),
        Side("instant", instant, 1.0),
        Side("estimate-presets", asks, 1.0),
        Side("clip", clip, 5.0),
        Side("training", training, 20.0),
    ]


def run(
    duration: float = 1800.0,
    clients: int = 6,
    processes: int = 2,
    sample_every: float = 10.0,
    tmp: Path | None = None,
) -> dict[str, Any]:
    tmp = tmp or Path(tempfile.mkdtemp(prefix="impasto-soak-"))
    # Its own library, for the trained style the training side writes again and again.
    daemon = start_daemon(tmp, name="soak", env={"IMPASTO_STYLES": str(tmp / "styles")})
    sides = actors(daemon)
    try:
        # One round of each kind of work first: what the daemon loads once, on first use (the
        # fast networks, the trainer and its threads), is in before the first sample, so that
        # the samples show growth, not a warm-up.
        for s in sides:
            s.step()
    except BaseException:
        daemon.stop()
        raise
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    halt = threading.Event()

    def sampler() -> None:
        while not halt.is_set():
            samples.append({"t": round(time.monotonic() - t0, 1), **daemon.resources()})
            halt.wait(sample_every)

    sampling = threading.Thread(target=sampler, daemon=True)
    sampling.start()
    for s in sides:
        s.start()
    try:
        names = [f"editor-{i}" for i in range(clients)]
        groups = [names[i::processes] for i in range(processes)]
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(client_process, daemon.endpoint, g, duration, 3, 100 + k, 120.0)
                for k, g in enumerate(groups)
            ]
            per_client = [r for f in futures for r in f.result()]
        for s in sides:
            s.halt.set()
        for s in sides:
            s.join(600)  # a round under way ends within its own timeouts
        time.sleep(0.5)
        halt.set()
        sampling.join(sample_every + 5)
        samples.append({"t": round(time.monotonic() - t0, 1), **daemon.resources()})
        with daemon.client(timeout=10.0) as c:
            status = c.status()
        alive = daemon.alive
    finally:
        code = daemon.stop()
    return summarize(samples, per_client, sides, status, alive, code, duration)


def summarize(
    samples: list[dict[str, Any]],
    per_client: list[dict[str, Any]],
    sides: list[Side],
    status: dict[str, Any],
    alive: bool,
    code: int | None,
    duration: float,
) -> dict[str, Any]:
    jobs = [j for c in per_client for j in c["jobs"]]
    count = {
        k: sum(1 for j in jobs if j["outcome"] == k)
        for k in ("finished", "cancelled", "failed", "lost")
    }
    warm = [s for s in samples if s["t"] >= duration * 0.1] or samples
    second_half = [s for s in samples if s["t"] >= duration * 0.5] or samples
    rss = [s["rss_kib"] for s in samples]
    growth = (samples[-1]["rss_kib"] - warm[0]["rss_kib"]) / 1024
    half_growth = (samples[-1]["rss_kib"] - second_half[0]["rss_kib"]) / 1024
    figures: dict[str, Any] = {
        "jobs": {**count, "submitted": len(jobs)},
        "side_traffic": {
            s.name: {
                "rounds": s.rounds,
                "failures": s.failures,
                "last_failure": s.last_failure[:200],
            }
            for s in sides
        },
        "memory_mib": {
            "start": round(samples[0]["rss_kib"] / 1024, 1),
            "after_warm_up": round(warm[0]["rss_kib"] / 1024, 1),
            "end": round(samples[-1]["rss_kib"] / 1024, 1),
            "max": round(max(rss) / 1024, 1),
            "growth_after_warm_up": round(growth, 1),
            "growth_over_second_half": round(half_growth, 1),
        },
        "fds": {
            "start": samples[0]["fds"],
            "end": samples[-1]["fds"],
            "max": max(s["fds"] for s in samples),
        },
        "threads": {
            "start": samples[0]["threads"],
            "end": samples[-1]["threads"],
            "max": max(s["threads"] for s in samples),
        },
        "daemon_at_end": {
            "clients": status.get("clients"),
            "kept_jobs": len(status.get("jobs", [])),
            "counts": status.get("counts"),
            "engine": status.get("engine"),
            "alive": alive,
            "exit_code": code,
        },
        "samples": samples,
        # The clients' own records (load.py's follow()), for tests to check themselves.
        "raw": {"per_client": per_client},
    }
    figures["verdict"] = {
        "no_results_lost": count["lost"] == 0,
        "daemon_alive": alive and code == 0,
        "fds_bounded": figures["fds"]["end"] <= figures["fds"]["start"] + 4,
        "threads_bounded": figures["threads"]["end"] <= figures["threads"]["start"] + 1,
        # Bounded caches: the 256 kept results at 32 px are small; allow for allocator noise.
        "memory_levels_off": half_growth < 32,
    }
    return figures


def add_args(ap: Any) -> None:
    ap.add_argument("--duration", type=float, default=1800.0, help="seconds of traffic")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--sample-every", type=float, default=10.0)


if __name__ == "__main__":
    main_for("soak", run, add_args)
