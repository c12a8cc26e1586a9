"""Faults inside the daemon: an engine that runs out of memory or fails, a bug in a handler, a
full queue, requests that reach a stopping daemon. The server runs in this process (on a thread,
with real sockets and the real engine) so that a fault can be injected into its backend."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
import zmq
from daemon_process import example_pixels

from impasto.backends.local import StylizerBackend
from impasto.server import Server, ServerConfig
from impasto_protocol import Client, RemoteError, Submit
from impasto_protocol import messages as M
from impasto_protocol.codec import decode, encode
from impasto_protocol.limits import Limits


class FaultyBackend(StylizerBackend):
    """The real engine, with one fault armed at a time."""

    fault: str | None = None

    def describe(self):
        if self.fault == "describe":
            raise KeyError("injected bug")
        return super().describe()

    def run(self, job, progress):
        fault = self.fault

        def failing_progress(fields, preview):
            if fault == "oom":
                raise torch.OutOfMemoryError("CUDA out of memory. (injected)")
            if fault == "engine":
                raise RuntimeError("injected device error")
            progress(fields, preview)

        return super().run(job, failing_progress)


def small_job(**kw) -> Submit:
    settings = {"size": 32, "iterations": kw.pop("iterations", 3)}
    return Submit(
        example_pixels("astronaut", 32),
        [example_pixels("hubble", 32)],
        settings,
        progress_every=1,
        **kw,
    )


@pytest.fixture
def server(tmp_path: Path):
    backend = FaultyBackend("cpu", None, "float32")
    config = ServerConfig(
        endpoint=f"ipc://{tmp_path}/f.sock",
        heartbeat_interval=0.2,
        heartbeat_timeout=2,
        limits=Limits(max_queue=1),
    )
    srv = Server(backend, config)
    srv.bind()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    with Client(config.endpoint, timeout=10) as c:
        for _ in range(100):
            if c.hello()["ready"]:
                break
            threading.Event().wait(0.1)
    yield srv, backend
    srv.stop()
    thread.join(10)


@pytest.mark.parametrize(("fault", "code"), [("oom", "out_of_memory"), ("engine", "engine_error")])
def test_a_job_that_fails_in_the_engine_gets_an_error_and_the_daemon_goes_on(
    server, fault: str, code: str
) -> None:
    srv, backend = server
    with Client(srv.config.endpoint, timeout=10) as c:
        backend.fault = fault
        job = c.submit(small_job())
        with pytest.raises(RemoteError) as err:
            job.result(timeout=60)
        assert err.value.code == code and err.value.job == job.id
        assert c.status(job.id)["job"]["state"] == "failed"
        backend.fault = None
        assert c.submit(small_job()).result(timeout=60).image.width == 32


def test_a_bug_in_a_handler_is_an_internal_error_not_a_crash(server) -> None:
    srv, backend = server
    with Client(srv.config.endpoint, timeout=10) as c:
        backend.fault = "describe"
        with pytest.raises(RemoteError) as err:
            c.hello()
        assert err.value.code == "internal"
        backend.fault = None
        assert c.hello()["ready"]


def test_a_full_queue_answers_busy(server) -> None:
    srv, _ = server
    with Client(srv.config.endpoint, timeout=10) as c:
        running = c.submit(small_job(iterations=5000))
        queued = c.submit(small_job())
        with pytest.raises(RemoteError) as err:
            c.submit(small_job())
        assert err.value.code == "busy"
        c.cancel(running.id)
        assert queued.result(timeout=60).image.width == 32


def test_requests_that_reach_a_stopping_daemon_are_answered(server) -> None:
    srv, _ = server
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(srv.config.endpoint)
    try:
        # Pipelined: the submit arrives right behind the shutdown.
        sock.send_multipart(encode(M.shutdown(mid="s1")))
        sock.send_multipart(encode(small_job().to_message(mid="s2")), copy=False)
        answers = {}
        while len(answers) < 2 and sock.poll(5000):
            msg = decode(sock.recv_multipart())
            if msg.ref:
                answers[msg.ref] = msg
    finally:
        sock.close(0)
    assert answers["s1"].type == "shutdown_reply"
    assert answers["s2"].type == "error" and answers["s2"].body["code"] == "shutting_down"
