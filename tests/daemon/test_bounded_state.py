"""Regression: what the daemon remembers about clients must not grow with every connection.

Each connection is a new client to the daemon (ZeroMQ routing ids are per connection), so a
script that runs `impasto submit` again and again is a new client each time. The scheduler kept
the start time of every client that ever had a job started, for as long as the daemon ran: one
entry per call, never dropped (found while writing the soak suite, by listing what the daemon
keeps per client). The server runs in this process so that its bookkeeping can be counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_process import example_pixels

from impasto.backends.local import StylizerBackend
from impasto.server import Server, ServerConfig
from impasto_protocol import Client, RemoteError, Submit


@contextlib.contextmanager
def serving(config: ServerConfig) -> Iterator[Server]:
    """The daemon's server on the real engine, on a thread of this process."""
    srv = Server(StylizerBackend("cpu", None, "float32"), config)
    srv.bind()
    loop = threading.Thread(target=srv.serve_forever, daemon=True)
    loop.start()
    try:
        yield srv
    finally:
        srv.stop()
        loop.join(30)


def tiny(size: int) -> Submit:
    return Submit(
        example_pixels("astronaut", size),
        [example_pixels("hubble", size)],
        {"size": size, "iterations": 1},
    )


def test_clients_that_came_and_went_are_forgotten(tmp_path: Path) -> None:
    config = ServerConfig(
        endpoint=f"ipc://{tmp_path}/b.sock", heartbeat_interval=0.1, heartbeat_timeout=0.4
    )
    with serving(config) as srv:
        for _ in range(20):  # like 20 runs of `impasto stylize --daemon`: connect, run, leave
            with Client(config.endpoint, timeout=60) as c:
                c.hello()  # adopt the daemon's heartbeat interval
                assert c.submit(tiny(16)).result(timeout=60).image.width == 16
        assert srv.scheduler.remembered_clients >= 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (srv.peers or srv.scheduler.remembered_clients):
            time.sleep(0.1)  # silent for the timeout: taken for gone, then dropped
        assert len(srv.peers) == 0
        assert srv.scheduler.remembered_clients == 0
        with Client(config.endpoint, timeout=60) as c:  # and the daemon still serves
            c.hello()
            assert c.submit(tiny(16)).result(timeout=60).image.width == 16


def test_kept_results_stay_within_their_memory_budget(tmp_path: Path) -> None:
    """Regression: finished jobs were kept by count (256) and age only, each with its encoded
    result and its last image, so a daemon running large jobs could hold 256 full-size results
    (a 4096x4096 RGBA job holds 128 MiB) for result_ttl. Now a byte budget drops the oldest."""
    config = ServerConfig(endpoint=f"ipc://{tmp_path}/k.sock")
    with serving(config) as srv, Client(config.endpoint, timeout=60) as c:
        first = c.submit(tiny(32))
        first.result(timeout=60)
        per_job = srv.jobs[first.id].kept_bytes()
        assert per_job > 2 * 32 * 32 * 3  # the encoded result and the image beside it
        srv.config = dataclasses.replace(config, max_kept_bytes=3 * per_job + per_job // 2)
        ids = [c.submit(tiny(32)) for _ in range(5)]
        for handle in ids:
            handle.result(timeout=60)
        time.sleep(1.0)  # a housekeeping tick
        kept = [j["job"] for j in c.status()["jobs"]]
        assert kept == [h.id for h in ids[-3:]]  # the newest three, oldest dropped first
        assert sum(j.kept_bytes() for j in srv.jobs.values()) <= srv.config.max_kept_bytes
        assert c.watch(ids[-1].id).result(timeout=10).image.width == 32
        with pytest.raises(RemoteError) as err:
            c.watch(first.id)
        assert err.value.code == "unknown_job"
