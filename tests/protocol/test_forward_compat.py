"""SPEC.md section 1: a newer minor version only adds, and receivers ignore what they do not
know. A scripted peer on a real ROUTER socket plays a daemon of protocol 1.9, which sends an
event type and fields this version has never heard of; the blocking client and `impasto
stylize --daemon` (the GIMP plug-in follows jobs with the same client) must take the job to its
end as if they were not there. No real daemon can send those, so the peer is scripted; the
sockets, the codec and the clients are the real ones."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import zmq
from PIL import Image

from impasto_protocol import Client, Pixels, Preview, Progress, Result, Submit
from impasto_protocol import constants as C
from impasto_protocol.codec import Message, decode, encode

FUTURE = {"future_field": {"nested": [1, 2, 3]}, "another": "x"}


class NewerDaemon(threading.Thread):
    """Answers hello and submit like a 1.9 daemon: every body carries unknown fields, and each
    job's events include an unknown event type before its progress, preview and result."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.bind(endpoint)
        self.stop = threading.Event()
        self.seen: list[str] = []

    def send(self, peer: bytes, msg: Message) -> None:
        self.sock.send_multipart([peer, *encode(msg)])

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            if not self.sock.poll(100):
                continue
            peer, *parts = self.sock.recv_multipart()
            msg = decode(parts)
            self.seen.append(msg.type)
            n += 1
            ver = (1, 9)
            if msg.type == C.HELLO:
                body = {
                    "version": [1, 9],
                    "daemon": "impasto 9.9",
                    "ready": True,
                    "state": "ready",
                    "heartbeat_interval": 1.0,
                    "heartbeat_timeout": 10.0,
                    "result_ttl": 600.0,
                    "limits": {"max_message_bytes": 2**26, "max_frobs": 3},
                    "can_shutdown": False,
                    "methods": ["gatys", "fast", "future_method"],
                    "presets": 0,
                    **FUTURE,
                }
                self.send(peer, Message(C.HELLO_REPLY, f"d-{n}", body, ref=msg.id, version=ver))
            elif msg.type == C.SUBMIT:
                self.job(peer, msg, n)
            elif msg.type in C.NOTICES:
                continue
            else:
                body = {"code": "unknown_type", "message": "not here", "field": "type"}
                self.send(peer, Message(C.ERROR, f"d-{n}", body, ref=msg.id, version=ver))

    def job(self, peer: bytes, msg: Message, n: int) -> None:
        ver = (1, 9)
        job = f"job{n}"
        content = msg.body["content"]
        w, h = content["width"], content["height"]
        accepted = {"state": "queued", "position": 1, **FUTURE}
        self.send(peer, Message(C.ACCEPTED, f"d-{n}a", accepted, ref=msg.id, job=job, version=ver))
        self.send(peer, Message("frobnicated", f"d-{n}b", {"how": "newly"}, job=job, version=ver))
        progress = {
            "iteration": 1,
            "total": 2,
            "scale": 0,
            "scales": 1,
            "width": w,
            "height": h,
            "loss": 1.0,
            "content_loss": 0.5,
            "style_loss": 0.5,
            "tv_loss": 0.0,
            "elapsed": 0.1,
            **FUTURE,
        }
        self.send(peer, Message(C.PROGRESS, f"d-{n}c", progress, job=job, version=ver))
        image = Pixels(w, h, bytes(i % 256 for i in range(w * h * 3)), "RGB")
        preview = {**progress, "iteration": 2, "image": image.descriptor(0)}
        frames = [image.data]
        self.send(peer, Message(C.PREVIEW, f"d-{n}d", preview, job=job, frames=frames, version=ver))
        self.send(peer, Message("frobnicated", f"d-{n}e", {}, job=job, version=ver))
        result: dict[str, Any] = {
            "image": image.descriptor(0),
            "iterations": 2,
            "elapsed": 0.2,
            "stopped": "completed",
            **FUTURE,
        }
        self.send(peer, Message(C.RESULT, f"d-{n}f", result, job=job, frames=frames, version=ver))


@pytest.fixture
def newer(tmp_path: Path):
    peer = NewerDaemon(f"ipc://{tmp_path}/newer.sock")
    peer.start()
    yield f"ipc://{tmp_path}/newer.sock", peer
    peer.stop.set()
    peer.join(5)
    peer.sock.close(linger=0)


def test_the_blocking_client_ignores_what_it_does_not_know(newer: tuple[str, Any]) -> None:
    endpoint, _ = newer
    pixels = Pixels(4, 2, bytes(24), "RGB")
    with Client(endpoint, timeout=10.0) as c:
        welcome = c.hello()
        assert welcome["version"] == [1, 9]
        job = c.submit(Submit(pixels, [pixels], {"size": 4}))
        events = list(job.events(timeout=10))
    assert [type(e) for e in events] == [Progress, Preview, Result]
    result = events[-1]
    assert isinstance(result, Result)
    assert (result.image.width, result.image.height) == (4, 2)


def test_impasto_stylize_on_a_newer_daemon(newer: tuple[str, Any], tmp_path: Path) -> None:
    endpoint, peer = newer
    examples = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.open(examples / "astronaut.png").convert("RGB").resize((32, 32)).save(content)
    Image.open(examples / "hubble.png").convert("RGB").resize((32, 32)).save(style)
    out = tmp_path / "out.png"
    args = [content, style, "-o", out, "--size", "32", "--daemon", endpoint]
    r = subprocess.run(
        [sys.executable, "-m", "impasto", "stylize", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert r.returncode == 0, r.stderr
    assert C.SUBMIT in peer.seen
    with Image.open(out) as image:
        assert image.size == (32, 32)
