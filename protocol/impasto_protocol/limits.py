"""The daemon's limits, as clients see them in `hello_reply.limits` (SPEC.md section 12).

Defined once: the daemon's configuration and `impasto daemon`'s options take their defaults
from here, and a test holds SPEC.md's table to them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# A frame carries one image; the largest sample type is float32 with four channels.
BYTES_PER_PIXEL_MAX = 16
FRAME_ROOM = 4096  # beyond the pixels: what a frame may hold besides (nothing today), rounded up


def message_bytes(max_input_pixels: int) -> int:
    """ZMQ_MAXMSGSIZE for a daemon that takes images of up to `max_input_pixels`: a frame
    larger than this makes libzmq drop the connection before the frame is buffered."""
    return max_input_pixels * BYTES_PER_PIXEL_MAX + FRAME_ROOM


@dataclass(frozen=True)
class Limits:
    max_input_pixels: int = 8192 * 8192  # per image sent (content, style, mask, init)
    max_output_pixels: int = 4096 * 4096
    max_iterations: int = 100_000
    max_styles: int = 16
    max_queue: int = 256  # queued jobs, all clients together
    max_jobs_per_client: int = 32  # unfinished jobs of one client (connection)
    max_clip_frames: int = 10_000  # 1.7: frames of one clip job
    # 1.7: the bytes of the frames that the daemon's unfinished clips hold, all together
    # (sent frames wait in memory until they are stylized)
    max_clip_bytes: int = 2 * 2**30

    @property
    def max_message_bytes(self) -> int:
        return message_bytes(self.max_input_pixels)

    def to_wire(self) -> dict[str, int]:
        """`hello_reply.limits`."""
        return {**asdict(self), "max_message_bytes": self.max_message_bytes}


DEFAULTS = Limits()
