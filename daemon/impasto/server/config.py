"""The daemon's configuration: one dataclass, filled from `impasto daemon`'s options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from impasto_protocol.constants import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT


@dataclass(frozen=True)
class ServerConfig:
    endpoint: str
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT  # silence after which a client is gone
    result_ttl: float = 600.0  # seconds a finished job's result stays fetchable
    max_kept_jobs: int = 256  # finished jobs kept, oldest dropped first
    # ... and at most this much of their images (a 4096x4096 RGBA result holds 128 MiB: the
    # encoded result and the image a warm start would begin from).
    max_kept_bytes: int = 2**30
    max_queue: int = 256  # queued jobs, all clients together
    max_jobs_per_client: int = 32  # unfinished jobs of one client
    max_input_pixels: int = 8192 * 8192  # per image sent (content, style, mask, init)
    max_output_pixels: int = 4096 * 4096
    max_iterations: int = 100_000
    max_styles: int = 16
    # ZMQ_MAXMSGSIZE: a larger frame makes libzmq drop the connection before it is buffered.
    max_message_bytes: int = 8192 * 8192 * 4 + 4096
    # CurveZMQ: the daemon's secret key file and a folder of allowed client public keys.
    curve_secret_file: Path | None = None
    curve_allow_dir: Path | None = None
    insecure: bool = False  # allow a non-local TCP bind without CurveZMQ
    # Owners who see and may act on every job: CurveZMQ public keys (z85), or "local".
    admins: frozenset[str] = frozenset()
