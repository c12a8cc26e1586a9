"""Load: many clients on one daemon, each submitting, following, sometimes cancelling or
replacing its jobs, while a probe measures how fast ping and status are answered.

The clients are threads with a socket each, spread over several processes so that they are not
all behind one interpreter lock. Every accepted job must end in exactly one outcome the client
sees (result, cancelled or error): a job that does not is *lost*. Fairness: jobs finished and
time queued per client.

    .venv/bin/python -m benchmarks.reliability.load --clients 32 --processes 4 --duration 120
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from statistics import median
from typing import Any

from impasto_protocol import Client, Progress, RemoteError, Result
from impasto_protocol.client import JobHandle
from impasto_protocol.errors import ImpastoError

from .common import latency_ms, main_for, start_daemon, tiny_job

CANCEL_P = 0.15  # share of rounds in which the client cancels its job
REPLACE_P = 0.15  # share of rounds in which it replaces it with a new one
BUSY_QUEUE = 8  # "the queue is full": at least this many jobs queued when a probe is taken


def follow(
    client: Client, handle: JobHandle, kind: str, cancel_at_progress: bool, timeout: float
) -> dict[str, Any]:
    """Follow a job to its outcome; `cancel_at_progress` cancels it at its first progress."""
    rec: dict[str, Any] = {"job": handle.id, "kind": kind, "outcome": "lost"}
    terminal: list[str] = []  # the outcomes the client saw, raw: "result", "cancelled", "error"
    rec["terminal"] = terminal
    start = time.monotonic()
    try:
        for ev in handle.events(timeout=timeout):
            if isinstance(ev, Progress) and cancel_at_progress:
                cancel_at_progress = False
                client.cancel(handle.id)
            elif isinstance(ev, Result):
                rec["outcome"] = "finished"
                rec["queued_s"] = float(ev.info.get("queued", 0.0))
                rec["size_ok"] = (ev.image.width, ev.image.height) == (32, 32)
                terminal.append("result")
                rec["size"] = (ev.image.width, ev.image.height)
            elif not isinstance(ev, Progress) and hasattr(ev, "reason"):
                rec["outcome"] = "cancelled"
                rec["reason"] = ev.reason  # type: ignore[attr-defined]
                terminal.append("cancelled")
    except RemoteError as e:
        rec["outcome"] = "failed"
        rec["code"] = e.code
        terminal.append("error")
        rec["error_job"] = e.job
    except (ImpastoError, TimeoutError) as e:
        rec["outcome"] = "lost"
        rec["error"] = str(e)
    rec["follow_s"] = time.monotonic() - start
    return rec


def client_loop(
    endpoint: str, name: str, duration: float, iterations: int, seed: int, follow_timeout: float
) -> dict[str, Any]:
    """One client: rounds of submit / follow, with some cancels and replacements."""
    rng = random.Random(seed)
    jobs: list[dict[str, Any]] = []
    refused: list[str] = []
    deadline = time.monotonic() + duration
    with Client(endpoint, name=name, timeout=30.0) as c:
        c.hello()
        while time.monotonic() < deadline:
            roll = rng.random()
            try:
                first = c.submit(tiny_job(iterations, progress_every=1))
                if roll < CANCEL_P / 2:  # still queued, most likely
                    c.cancel(first.id)
                    jobs.append(follow(c, first, "cancelled-queued", False, follow_timeout))
                elif roll < CANCEL_P:
                    jobs.append(follow(c, first, "cancelled-running", True, follow_timeout))
                elif roll < CANCEL_P + REPLACE_P:
                    second = c.submit(tiny_job(iterations, progress_every=1, replace=first.id))
                    jobs.append(follow(c, first, "replaced", False, follow_timeout))
                    jobs.append(follow(c, second, "replacement", False, follow_timeout))
                else:
                    jobs.append(follow(c, first, "plain", False, follow_timeout))
            except (ImpastoError, TimeoutError) as e:
                refused.append(f"{type(e).__name__}: {e}")
                time.sleep(0.2)
    return {"client": name, "jobs": jobs, "refused": refused}


def client_process(
    endpoint: str,
    names: list[str],
    duration: float,
    iterations: int,
    seed: int,
    follow_timeout: float,
) -> list[dict[str, Any]]:
    """A process of client threads, each with its own socket."""
    out: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(i: int, name: str) -> None:
        try:
            r = client_loop(endpoint, name, duration, iterations, seed * 1000 + i, follow_timeout)
        except Exception as e:  # a client's own crash is a figure, not the end of the run
            r = {"client": name, "jobs": [], "refused": [], "crashed": repr(e)}
        with lock:
            out.append(r)

    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


class Probe(threading.Thread):
    """Ping and status from a client of its own, every `interval`, with the queue length."""

    def __init__(self, endpoint: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.interval = endpoint, interval
        self.samples: list[tuple[int, float, float]] = []  # queue, ping s, status s
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with Client(self.endpoint, name="probe", timeout=10.0) as c:
            while not self.halt.is_set():
                try:
                    t0 = time.perf_counter()
                    c.ping()
                    t1 = time.perf_counter()
                    status = c.status()
                    t2 = time.perf_counter()
                    self.samples.append((int(status.get("queue", 0)), t1 - t0, t2 - t1))
                except (ImpastoError, TimeoutError) as e:
                    self.errors.append(str(e))
                self.halt.wait(self.interval)


def run(
    clients: int = 32,
    processes: int = 4,
    duration: float = 60.0,
    iterations: int = 3,
    probe_interval: float = 0.05,
    seed: int = 1,
    tmp: Path | None = None,
    daemon_args: tuple[str, ...] = (),
    devices: str | None = None,
) -> dict[str, Any]:
    tmp = tmp or Path(tempfile.mkdtemp(prefix="impasto-load-"))
    # devices: several engines taking jobs from one queue (`impasto daemon --devices cpu,cpu`)
    daemon = start_daemon(tmp, *daemon_args, name="load", devices=devices)
    follow_timeout = max(120.0, duration)
    try:
        start_res = daemon.resources()
        probe = Probe(daemon.endpoint, probe_interval)
        probe.start()
        names = [f"client-{i:02d}" for i in range(clients)]
        groups = [names[i::processes] for i in range(processes)]
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    client_process,
                    daemon.endpoint,
                    g,
                    duration,
                    iterations,
                    seed + k,
                    follow_timeout,
                )
                for k, g in enumerate(groups)
            ]
            per_client = [r for f in futures for r in f.result()]
        probe.halt.set()
        probe.join(15)
        alive = daemon.alive
        with daemon.client(timeout=10.0) as c:
            kept = {j["job"]: j for j in c.status().get("jobs", [])}
        end_res = daemon.resources()
    finally:
        code = daemon.stop()
    return summarize(per_client, probe, kept, alive, code, start_res, end_res, clients, processes)


def summarize(
    per_client: list[dict[str, Any]],
    probe: Probe,
    kept: dict[str, Any],
    alive: bool,
    exit_code: int | None,
    start_res: dict,
    end_res: dict,
    clients: int,
    processes: int,
) -> dict[str, Any]:
    jobs = [j for c in per_client for j in c["jobs"]]
    outcomes: dict[str, int] = {}
    for j in jobs:
        outcomes[j["outcome"]] = outcomes.get(j["outcome"], 0) + 1
    # The daemon's own record, for the jobs it still keeps, must agree with what clients saw.
    state_of = {"finished": "done", "cancelled": "cancelled", "failed": "failed"}
    disagree = [
        j["job"]
        for j in jobs
        if j["job"] in kept and kept[j["job"]]["state"] != state_of.get(j["outcome"], "?")
    ]
    finished_per_client = sorted(
        sum(1 for j in c["jobs"] if j["outcome"] == "finished") for c in per_client
    )
    waits = {
        c["client"]: [j["queued_s"] for j in c["jobs"] if j["outcome"] == "finished"]
        for c in per_client
    }
    medians = [median(w) for w in waits.values() if w]
    all_waits = [x for w in waits.values() for x in w]
    x = finished_per_client
    jain = (sum(x) ** 2 / (len(x) * sum(v * v for v in x))) if x and sum(x) else None
    busy = [s for s in probe.samples if s[0] >= BUSY_QUEUE]
    # Which engine ran the finished jobs the daemon still keeps (status's `worker`).
    per_engine: dict[str, int] = {}
    for job in kept.values():
        if job["state"] == "done":
            key = str(job.get("worker"))
            per_engine[key] = per_engine.get(key, 0) + 1
    figures: dict[str, Any] = {
        "clients": clients,
        "processes": processes,
        "done_per_engine": dict(sorted(per_engine.items())),
        "jobs": {
            "submitted": len(jobs),
            "finished": outcomes.get("finished", 0),
            "cancelled": outcomes.get("cancelled", 0),
            "failed": outcomes.get("failed", 0),
            "lost": outcomes.get("lost", 0),
            "by_kind": _by_kind(jobs),
            "wrong_size_results": sum(1 for j in jobs if j.get("size_ok") is False),
            "outcome_disagrees_with_daemon": len(disagree),
            "refused_requests": sum(len(c["refused"]) for c in per_client),
            "refused_examples": [r for c in per_client for r in c["refused"]][:5],
            "client_crashes": [c["crashed"] for c in per_client if "crashed" in c],
        },
        "latency_ms": {
            "queue_full_threshold": BUSY_QUEUE,
            "max_queue_seen": max((s[0] for s in probe.samples), default=0),
            "ping_while_queue_full": latency_ms([s[1] for s in busy]),
            "status_while_queue_full": latency_ms([s[2] for s in busy]),
            "ping_all": latency_ms([s[1] for s in probe.samples]),
            "status_all": latency_ms([s[2] for s in probe.samples]),
            "probe_errors": probe.errors[:5],
        },
        "fairness": {
            "finished_per_client_min": min(x, default=0),
            "finished_per_client_median": median(x) if x else 0,
            "finished_per_client_max": max(x, default=0),
            "jain_index": None if jain is None else round(jain, 3),
            "queued_s_p50": _r(median(all_waits)) if all_waits else None,
            "queued_s_p99": _r(sorted(all_waits)[int(0.99 * (len(all_waits) - 1))])
            if all_waits
            else None,
            "client_median_queued_s_min": _r(min(medians)) if medians else None,
            "client_median_queued_s_max": _r(max(medians)) if medians else None,
        },
        "daemon": {
            "alive_at_end": alive,
            "exit_code": exit_code,
            "start": start_res,
            "end": end_res,
        },
    }
    # What the figures above were made from, for tests to check themselves.
    figures["raw"] = {
        "per_client": per_client,
        "daemon_states": {job: summary["state"] for job, summary in kept.items()},
        "probe_samples": len(probe.samples),
        "probe_errors": probe.errors,
    }
    lat = figures["latency_ms"]
    figures["verdict"] = {
        "no_results_lost": figures["jobs"]["lost"] == 0 and not disagree,
        "daemon_alive": alive and exit_code == 0,
        "no_client_starved": min(x, default=0) > 0,
        "ping_p99_under_50ms": (lat["ping_while_queue_full"]["p99"] or 1e9) < 50,
        "status_p99_under_50ms": (lat["status_while_queue_full"]["p99"] or 1e9) < 50,
    }
    return figures


def _by_kind(jobs: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for j in jobs:
        d = out.setdefault(j["kind"], {})
        d[j["outcome"]] = d.get(j["outcome"], 0) + 1
    return out


def _r(x: float) -> float:
    return round(x, 3)


def add_args(ap: Any) -> None:
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of submitting")
    ap.add_argument("--iterations", type=int, default=3, help="per job (32 px)")
    ap.add_argument("--probe-interval", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--devices", help="the daemon's --devices (cpu,cpu: two engines taking jobs from one queue)"
    )


if __name__ == "__main__":
    main_for("load", run, add_args)
