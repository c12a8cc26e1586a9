"""The daemon's configuration: one dataclass, filled from `impasto daemon`'s options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from impasto_protocol.constants import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT
from impasto_protocol.limits import DEFAULTS, Limits


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
    # The limits clients see in hello_reply (impasto_protocol.limits says what each means).
    limits: Limits = DEFAULTS
    # CurveZMQ: the daemon's secret key file and a folder of allowed client public keys.
    curve_secret_file: Path | None = None
    curve_allow_dir: Path | None = None
    insecure: bool = False  # allow a non-local TCP bind without CurveZMQ
    # Owners who see and may act on every job: CurveZMQ public keys (z85), or "local".
    admins: frozenset[str] = frozenset()

    @property
    def max_message_bytes(self) -> int:
        """ZMQ_MAXMSGSIZE, from the largest image a client may send."""
        return self.limits.max_message_bytes
