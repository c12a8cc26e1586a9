"""A scripted daemon of protocol 1.9, for the forward-compatibility tests (SPEC.md section 1).

A newer minor version only adds, and receivers ignore what they do not know. No real daemon
can send what a later version will add, so this peer is scripted; its sockets and codec are the
real ones, and the clients it talks to (the blocking client, the CLI, the Krita and GIMP
plug-ins) are the real ones too. Every body it sends carries fields this version has never
heard of, and each job's events include an event type it does not know, before and between the
progress, the preview and the result.

The job itself is a picture of stripes at the content's size, in the layout and sample type
the submit asked for (as a real daemon answers), so a client that writes it somewhere writes
something a test can recognise.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import zmq

from impasto.backends.local import settings_description
from impasto.engine.vgg import LAYER_NAMES
from impasto_protocol import Pixels
from impasto_protocol import constants as C
from impasto_protocol.codec import Message, decode, encode
from impasto_protocol.limits import DEFAULTS

FUTURE = {"future_field": {"nested": [1, 2, 3]}, "another": "x"}
VERSION = (1, 9)
UNKNOWN_EVENT = "frobnicated"


def stripes(width: int, height: int, layout: str, dtype: str = "u8") -> Pixels:
    """Vertical stripes of eight levels, opaque where the layout has alpha."""
    levels = [(x // 4 % 8) * 36 for x in range(width)]
    samples: list[int] = []
    for _ in range(height):
        for v in levels:
            for channel in layout:
                samples.append(255 if channel == "A" else v)
    if dtype == "u8":
        data = bytes(samples)
    elif dtype == "u16":
        data = struct.pack(f"<{len(samples)}H", *(v * 257 for v in samples))
    else:
        data = struct.pack(f"<{len(samples)}f", *(v / 255 for v in samples))
    return Pixels(width, height, data, layout, dtype)


def result_layout(submit: dict[str, Any]) -> str:
    """SPEC.md section 4: `result_layout`, else RGBA when the content has alpha, else RGB."""
    if submit.get("result_layout"):
        return str(submit["result_layout"])
    return "RGBA" if "A" in submit["content"]["layout"] else "RGB"


class NewerDaemon(threading.Thread):
    """Answers hello and submit like a 1.9 daemon, a ping with its reply, status with the job's
    state, and any other request with an error reply (it keeps serving, as a daemon must)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint = endpoint
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.bind(endpoint)
        self.halt = threading.Event()
        self.seen: list[str] = []
        self.jobs: dict[str, str] = {}  # job id -> state

    def close(self) -> None:
        self.halt.set()
        self.join(5)
        self.sock.close(linger=0)

    def send(self, peer: bytes, msg: Message) -> None:
        self.sock.send_multipart([peer, *encode(msg)])

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            if not self.sock.poll(100):
                continue
            peer, *parts = self.sock.recv_multipart()
            msg = decode(parts)
            self.seen.append(msg.type)
            n += 1
            if msg.type == C.HELLO:
                self.send(peer, self.reply(C.HELLO_REPLY, f"d-{n}", self.welcome(), msg))
            elif msg.type == C.SUBMIT:
                self.job(peer, msg, n)
            elif msg.type == C.PING:
                self.send(peer, self.reply(C.PING_REPLY, f"d-{n}", dict(FUTURE), msg))
            elif msg.type == C.STATUS and msg.body.get("job") in self.jobs:
                job = {"id": msg.body["job"], "state": self.jobs[msg.body["job"]], **FUTURE}
                self.send(peer, self.reply(C.STATUS_REPLY, f"d-{n}", {"job": job}, msg))
            elif msg.type in C.NOTICES:
                continue
            else:
                body = {"code": C.E_UNKNOWN_TYPE, "message": "not here", "field": "type"}
                self.send(peer, self.reply(C.ERROR, f"d-{n}", body, msg))

    @staticmethod
    def reply(kind: str, mid: str, body: dict[str, Any], to: Message) -> Message:
        return Message(kind, mid, body, ref=to.id, version=VERSION)

    @staticmethod
    def welcome() -> dict[str, Any]:
        """Everything a 1.3 daemon says, and more: a 1.9 daemon only adds."""
        return {
            "version": list(VERSION),
            "daemon": "impasto 9.9",
            "ready": True,
            "state": "ready",
            "device": "cpu, float32 convolutions",
            "weights": "vgg19 (scripted)",
            "heartbeat_interval": 1.0,
            "heartbeat_timeout": 10.0,
            "result_ttl": 600.0,
            "limits": {**DEFAULTS.to_wire(), "max_frobs": 3},
            "can_shutdown": False,
            "layers": list(LAYER_NAMES),
            "methods": ["gatys", "fast", "future_method"],
            "presets": 0,
            **settings_description(),
            **FUTURE,
        }

    def job(self, peer: bytes, msg: Message, n: int) -> None:
        job = f"job{n}"
        self.jobs[job] = "running"
        content = msg.body["content"]
        w, h = content["width"], content["height"]

        def event(kind: str, suffix: str, body: dict[str, Any], frames=()) -> None:
            out = Message(
                kind, f"d-{n}{suffix}", body, job=job, frames=list(frames), version=VERSION
            )
            self.send(peer, out)

        accepted = {"state": "queued", "position": 1, **FUTURE}
        self.send(
            peer, Message(C.ACCEPTED, f"d-{n}a", accepted, ref=msg.id, job=job, version=VERSION)
        )
        event(UNKNOWN_EVENT, "b", {"how": "newly"})
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
        event(C.PROGRESS, "c", progress)
        layout = result_layout(msg.body)
        preview = stripes(w, h, layout)
        event(
            C.PREVIEW,
            "d",
            {**progress, "iteration": 2, "image": preview.descriptor(0)},
            [preview.data],
        )
        event(UNKNOWN_EVENT, "e", {})
        image = stripes(w, h, layout, msg.body.get("result_dtype") or "u8")
        result: dict[str, Any] = {
            "image": image.descriptor(0),
            "iterations": 2,
            "elapsed": 0.2,
            "stopped": "completed",
            **FUTURE,
        }
        self.jobs[job] = "done"
        event(C.RESULT, "f", result, [image.data])
