"""A real daemon process whose engine fails on request, for the faults suite (tests only).

    .venv/bin/python -m benchmarks.reliability.faulty_daemon ENDPOINT LOG

It is `impasto daemon`'s server on the real engine, with one difference: a job of exactly
`OOM_ITERATIONS` iterations raises torch's out-of-memory error at its first iteration, and one
of `ENGINE_ITERATIONS` a RuntimeError, as a failing device would. The fault is chosen by the job,
so a test injects it into one job while other clients' jobs run as usual; nothing in the daemon
itself knows about it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import torch

from impasto.backends.local import StylizerBackend
from impasto.server import Server, ServerConfig
from impasto.server.logfile import DaemonLogHandler

OOM_ITERATIONS = 7
ENGINE_ITERATIONS = 11


class InjectingBackend(StylizerBackend):
    def run(self, job: Any, progress: Any) -> Any:
        iterations = getattr(job.settings, "iterations", None)

        def sink(fields: dict[str, Any], preview: Any) -> None:
            if iterations == OOM_ITERATIONS:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate (injected)")
            if iterations == ENGINE_ITERATIONS:
                raise RuntimeError("device lost (injected)")
            progress(fields, preview)

        return super().run(job, sink)


def main() -> int:
    endpoint, log_path = sys.argv[1], sys.argv[2]
    handler = DaemonLogHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    config = ServerConfig(endpoint=endpoint, heartbeat_interval=0.2, heartbeat_timeout=2.0)
    server = Server(InjectingBackend("cpu", None, "float32"), config)
    server.bind()
    server.install_signal_handlers()
    return server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
