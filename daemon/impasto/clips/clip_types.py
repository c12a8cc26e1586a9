"""The types clip_io and clip_write share: the error, what a clip holds, the names of clips."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

VIDEO_EXTENSIONS = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}
ANIMATION_EXTENSIONS = {".gif", ".png", ".apng", ".webp"}  # clips only when animated
FRAME_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
# Numbered frames carry no timing: they play at this rate, and are written without one.
FRAMES_RATE = Fraction(25)
PRINTF = re.compile(r"%(0?\d*)d")


class ClipError(Exception):
    """A clip that cannot be read or written, or a request it cannot meet: one line."""


@dataclass(frozen=True)
class ClipInfo:
    """What a clip holds, after the range (`frames`) was applied."""

    width: int
    height: int
    frame_count: int
    rate: Fraction  # average frames per second over the range
    times: tuple[Fraction, ...]  # each frame's presentation time in seconds, on the source's clock
    durations: tuple[Fraction, ...]  # each frame's duration in seconds (variable timing survives)
    has_audio: bool
    kind: str  # "video" | "animation" | "frames"
    range: tuple[int, int] = (0, 0)  # the frames taken: A:B of the source's
    total_frames: int = 0  # the source's frames, before the range


def is_printf_pattern(text: str) -> bool:
    """A name like frames/%04d.png: one printf number (%d, %4d, %04d) in the file name."""
    return len(PRINTF.findall(Path(text).name.replace("%%", ""))) == 1
