"""Clips in: videos (PyAV, FFmpeg's libraries), animations (GIF, APNG, animated WebP: Pillow)
and numbered frames (a folder, or a printf pattern like frames/%04d.png), read lazily frame
after frame as RGB Pillow images, with each frame's timing. Clips out: clip_write.py.

Every problem a user can cause is a ClipError with one line naming it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
from PIL import Image

from .clip_types import (
    ANIMATION_EXTENSIONS,
    FRAME_EXTENSIONS,
    FRAMES_RATE,
    PRINTF,
    VIDEO_EXTENSIONS,
    ClipError,
    ClipInfo,
    is_printf_pattern,
)
from .clip_write import check_clip_output, write_clip

__all__ = [
    "MAX_FRAMES",
    "MAX_PIXELS",
    "Clip",
    "ClipError",
    "ClipInfo",
    "check_clip_output",
    "is_clip_path",
    "open_clip",
    "parse_frame_range",
    "write_clip",
]

MAX_FRAMES = 100_000
MAX_PIXELS = 8192 * 8192  # per frame, as the source has them
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z]+)$")


def is_clip_path(text: str) -> bool:
    """A video by its extension (whether or not it exists), an animated GIF, PNG or WebP (a still
    one is a picture), a folder of numbered frames, or a printf pattern like frames/%04d.png."""
    path = Path(text)
    suffix = path.suffix.lower()
    if is_printf_pattern(text):
        return True
    if suffix in VIDEO_EXTENSIONS:
        return True
    if path.is_dir():
        try:
            return bool(_numbered_groups(path))
        except OSError:
            return False
    if suffix in ANIMATION_EXTENSIONS and path.is_file():
        try:
            with Image.open(path) as image:
                return getattr(image, "n_frames", 1) > 1
        except (OSError, ValueError, SyntaxError):
            return False
    return False


def parse_frame_range(text: str) -> tuple[int, int | None]:
    """--frames A:B: frames A to B-1, counted from 0, as a Python slice; A: to the end."""
    match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", text)
    if match is None:
        raise ClipError(f"--frames: expected A:B (frames A to B-1, from 0), got {text!r}")
    first = int(match.group(1) or 0)
    end = int(match.group(2)) if match.group(2) else None
    if end is not None and end <= first:
        raise ClipError(f"--frames {text}: takes no frame (B must be greater than A)")
    return first, end


class Clip:
    """An open clip: `info`, and iteration yielding RGB images in order, decoded as they are
    asked for. Close it (or use `with`)."""

    def __init__(self, source: str, info: ClipInfo, reader: Any) -> None:
        self.source = source
        self.info = info
        self._reader = reader

    def __iter__(self) -> Iterator[Image.Image]:
        return self.iter_from(0)

    def iter_from(self, index: int) -> Iterator[Image.Image]:
        """The frames from the range's `index`-th on (earlier ones are skipped unconverted)."""
        first, end = self.info.range
        return self._reader.frames(first + index, end)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Clip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_clip(
    source: str,
    frames: tuple[int, int | None] | None = None,
    max_frames: int = MAX_FRAMES,
    max_pixels: int = MAX_PIXELS,
) -> Clip:
    """Open a clip and check it against the range and the limits (ClipError otherwise).
    `frames` is (A, B): frames A to B-1 counted from 0, B None for the end."""
    reader = _reader_for(source)
    try:
        info = _ranged_info(source, reader, frames)
        if info.width * info.height > max_pixels:
            raise ClipError(
                f"{source}: frames of {info.width}x{info.height} are more than {max_pixels} pixels"
            )
        if info.frame_count > max_frames:
            raise ClipError(
                f"{source}: {info.frame_count} frames are more than the limit of {max_frames};"
                " take fewer with --frames A:B"
            )
    except BaseException:
        reader.close()
        raise
    return Clip(source, info, reader)


def _reader_for(source: str) -> Any:
    path = Path(source)
    if is_printf_pattern(source):
        return _FramesReader(source, _pattern_files(source))
    if path.is_dir():
        return _FramesReader(source, _folder_files(path))
    if not path.exists():
        raise ClipError(f"clip not found: {source}")
    if not path.is_file():
        raise ClipError(f"clip is not a file: {source}")
    if path.suffix.lower() in ANIMATION_EXTENSIONS:
        return _AnimationReader(source)
    return _VideoReader(source)


def _ranged_info(source: str, reader: Any, frames: tuple[int, int | None] | None) -> ClipInfo:
    times, durations = reader.timing()
    total = len(times)
    if total == 0:
        raise ClipError(f"{source}: the clip has no frames")
    first, end = frames if frames is not None else (0, None)
    end = total if end is None else end
    if first >= total or end > total:
        raise ClipError(
            f"--frames {first}:{end} is outside the clip, which has {total} frames (0:{total})"
        )
    times, durations = tuple(times[first:end]), tuple(durations[first:end])
    length = sum(durations, Fraction(0))
    rate = Fraction(len(times)) / length if length > 0 else FRAMES_RATE
    width, height = reader.size
    return ClipInfo(
        width,
        height,
        len(times),
        rate.limit_denominator(1_000_000),
        times,
        durations,
        reader.has_audio,
        reader.kind,
        (first, end),
        total,
    )


class _VideoReader:
    """A container FFmpeg reads; its first video stream. Counting and timing the frames reads
    the packets only (no decoding)."""

    kind = "video"

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self.container = av.open(source)
        except av.FFmpegError:
            raise ClipError(f"{source}: not a video or animation FFmpeg can read") from None
        try:
            self._check_streams()
        except BaseException:
            self.container.close()
            raise

    def _check_streams(self) -> None:
        if not self.container.streams.video:
            raise ClipError(f"{self.source}: holds no video stream")
        stream = self.container.streams.video[0]
        name = stream.codec_context.name if stream.codec_context else "none"
        try:
            av.codec.Codec(name, "r")
        except (av.FFmpegError, ValueError):
            raise ClipError(
                f"{self.source}: FFmpeg cannot decode its video codec ({name or 'unknown'})"
            ) from None
        self.stream = stream
        self.size = (stream.codec_context.width, stream.codec_context.height)
        self.has_audio = bool(self.container.streams.audio)

    def timing(self) -> tuple[list[Fraction], list[Fraction]]:
        tb = self.stream.time_base or Fraction(1, 90000)
        stamps: list[tuple[int, int]] = []
        try:
            for packet in self.container.demux(self.stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.size and ts is not None and not packet.is_discard:
                    stamps.append((ts, packet.duration or 0))
        except av.FFmpegError as e:
            raise ClipError(f"{self.source}: cannot be read ({e})") from None
        stamps.sort()
        self.stamps = [ts for ts, _ in stamps]
        self.index_of = {ts: i for i, ts in enumerate(self.stamps)}
        rate = self.stream.average_rate or self.stream.guessed_rate or FRAMES_RATE
        times = [Fraction(ts) * tb for ts, _ in stamps]
        durations = [b - a for a, b in itertools.pairwise(times)]
        if stamps:
            last = Fraction(stamps[-1][1]) * tb
            durations.append(last if last > 0 else 1 / Fraction(rate))
        return times, durations

    def frames(self, first: int, end: int) -> Iterator[Image.Image]:
        index = -1
        try:
            for index, frame in self._decoded(first):
                if index >= end:
                    return
                if index >= first:
                    yield frame.to_image().convert("RGB")
        except av.FFmpegError as e:
            raise ClipError(f"{self.source}: frame {index + 1} cannot be decoded ({e})") from None
        if index + 1 < end:
            raise ClipError(f"{self.source}: ended after {index + 1} of {end} frames")

    def _decoded(self, first: int) -> Iterator[tuple[int, Any]]:
        """The decoded frames with their indices, from the keyframe at or before `first` (a
        long clip is not decoded from its start to resume near its end), else from the start."""
        if first > 0:
            self.container.seek(self.stamps[first], stream=self.stream, backward=True)
            decoded = self.container.decode(self.stream)
            head = next(decoded, None)
            pts = head.pts if head is not None else None
            at = self.index_of.get(pts, first + 1) if pts is not None else first + 1
            if head is not None and at <= first:  # frames follow in presentation order
                yield at, head
                yield from enumerate(decoded, start=at + 1)
                return
        self.container.seek(0, stream=self.stream)
        yield from enumerate(self.container.decode(self.stream))

    def close(self) -> None:
        self.container.close()


class _AnimationReader:
    """An animated GIF, PNG or WebP, through Pillow (FFmpeg reads few animated WebPs)."""

    kind = "animation"
    has_audio = False

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self.image = Image.open(source)
        except (OSError, ValueError, SyntaxError):
            raise ClipError(f"{source}: not a video or animation Pillow can read") from None
        self.count: int = getattr(self.image, "n_frames", 1)
        if self.count < 2:
            self.image.close()
            raise ClipError(f"{source}: a still picture, not an animation")
        self.size = self.image.size

    def timing(self) -> tuple[list[Fraction], list[Fraction]]:
        durations = []
        for i in range(self.count):
            self.image.seek(i)
            if self.image.format == "WEBP":
                self.image.load()  # WebP tells a frame's duration once it is decoded
            ms = self.image.info.get("duration") or 0
            durations.append(Fraction(ms).limit_denominator(1000) / 1000 or 1 / FRAMES_RATE)
        times = [sum(durations[:i], Fraction(0)) for i in range(len(durations))]
        return times, durations

    def frames(self, first: int, end: int) -> Iterator[Image.Image]:
        for i in range(first, end):
            try:
                self.image.seek(i)
                yield self.image.convert("RGB")
            except (OSError, ValueError, EOFError) as e:
                raise ClipError(f"{self.source}: frame {i} cannot be read ({e})") from None

    def close(self) -> None:
        self.image.close()


class _FramesReader:
    """Numbered pictures, in the order of their numbers; all of the first one's size."""

    kind = "frames"
    has_audio = False

    def __init__(self, source: str, files: list[Path]) -> None:
        self.source = source
        self.files = files
        self.size = (0, 0)
        if files:
            self.size = _picture_size(files[0])
            for path in files[1:]:
                if _picture_size(path) != self.size:
                    w, h = self.size
                    raise ClipError(f"{path}: not the size of the first frame ({w}x{h})")

    def timing(self) -> tuple[list[Fraction], list[Fraction]]:
        n = len(self.files)
        return [i / FRAMES_RATE for i in range(n)], [1 / FRAMES_RATE] * n

    def frames(self, first: int, end: int) -> Iterator[Image.Image]:
        for path in self.files[first:end]:
            try:
                with Image.open(path) as image:
                    yield image.convert("RGB")
            except (OSError, ValueError, SyntaxError) as e:
                raise ClipError(f"{path}: cannot be read ({e})") from None

    def close(self) -> None:
        pass


def _picture_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, SyntaxError):
        raise ClipError(f"{path}: not a picture Pillow can read") from None


def _numbered_groups(folder: Path) -> dict[tuple[str, str], list[tuple[int, Path]]]:
    """The folder's numbered pictures, by (prefix, extension)."""
    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for path in folder.iterdir():
        match = _NUMBERED.match(path.name)
        if match and match.group(3).lower() in FRAME_EXTENSIONS and path.is_file():
            key = (match.group(1), match.group(3))
            groups.setdefault(key, []).append((int(match.group(2)), path))
    return groups


def _folder_files(folder: Path) -> list[Path]:
    groups = _numbered_groups(folder)
    if not groups:
        raise ClipError(f"{folder}: the folder has no frames (numbered pictures like 0001.png)")
    if len(groups) > 1:
        names = ", ".join(sorted(f"{p}N{e}" for p, e in groups))
        raise ClipError(
            f"{folder}: the folder holds several numbered sequences ({names}); name one with a"
            " pattern like frames/%04d.png"
        )
    return [path for _, path in sorted(next(iter(groups.values())))]


def _pattern_files(pattern: str) -> list[Path]:
    folder = Path(pattern).parent
    name = Path(pattern).name
    if not folder.is_dir():
        raise ClipError(f"{pattern}: the folder {folder} does not exist")
    before, _, after = PRINTF.split(name.replace("%%", "\0"), maxsplit=1)
    numbered = re.compile(
        re.escape(before.replace("\0", "%")) + r"(\d+)" + re.escape(after.replace("\0", "%"))
    )
    found = []
    for path in folder.iterdir():
        match = numbered.fullmatch(path.name)
        if match and path.is_file() and name % int(match.group(1)) == path.name:
            found.append((int(match.group(1)), path))
    if not found:
        raise ClipError(f"{pattern}: no frames match the pattern")
    return [path for _, path in sorted(found)]
