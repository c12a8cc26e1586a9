"""Clips out, chosen by the output's name: .mp4/.mov/.mkv (H.264, yuv420p), .webm (VP9), .gif,
.png/.apng (animated PNG), .webp (animated), a folder or a printf pattern (numbered PNGs).

Each frame keeps its duration; a video's audio is copied untouched (its packets remuxed, trimmed
to the range) into a container that carries audio. Everything is written under a temporary
name beside the output and renamed when complete: the output appears only then.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from fractions import Fraction
from math import lcm
from pathlib import Path
from typing import Any

import av
from PIL import Image

from .clip_types import FRAMES_RATE, ClipError, ClipInfo, is_printf_pattern

# Output extension -> (PyAV container format, video encoder).
VIDEO_WRITERS = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
}
ENCODER_OPTIONS = {
    "libx264": {"crf": "18", "preset": "medium"},
    "libvpx-vp9": {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4"},
}
ANIMATION_WRITERS = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WEBP"}
# The audio codecs each container takes (None: any).
AUDIO_CODECS: dict[str, set[str] | None] = {
    "mp4": {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    "matroska": None,
    "webm": {"opus", "vorbis"},
}
FRAME_NAME = "%06d.png"  # in an output folder


def output_kind(out: str) -> str:
    """ "video", "animation" or "frames" by the output's name; ClipError for none of them."""
    path = Path(out)
    suffix = path.suffix.lower()
    if is_printf_pattern(out) or path.is_dir() or out.endswith(("/", os.sep)) or not suffix:
        return "frames"
    if suffix in VIDEO_WRITERS:
        return "video"
    if suffix in ANIMATION_WRITERS:
        return "animation"
    known = ", ".join(sorted({*VIDEO_WRITERS, *ANIMATION_WRITERS}))
    raise ClipError(
        f"{out}: no clip writer for {suffix!r}; write {known}, a folder or a pattern like"
        " frames/%04d.png"
    )


def check_clip_output(out: str, info: ClipInfo, audio_from: str | None = None) -> None:
    """Whether `out` can be written, before any work: its writer, its encoder, its folder, and
    whether the source's audio can go into it."""
    kind = output_kind(out)
    path = Path(out.rstrip("/" + os.sep) or out)
    folder = path.parent
    if is_printf_pattern(out) and not folder.is_dir():
        folder = folder.parent  # the pattern's folder is made with the frames
    if not folder.is_dir():
        raise ClipError(f"the output's folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise ClipError(f"the output's folder is not writable: {folder}")
    if kind == "frames" and not is_printf_pattern(out) and path.is_dir():
        foreign = [p.name for p in path.iterdir() if not _is_frame_file(p)]
        if foreign:
            raise ClipError(f"{out}: the output folder holds other files ({foreign[0]})")
    if kind == "video":
        fmt, encoder = VIDEO_WRITERS[path.suffix.lower()]
        try:
            av.codec.Codec(encoder, "w")
        except (av.FFmpegError, ValueError):
            raise ClipError(
                f"{out}: this FFmpeg has no {encoder} encoder for {path.suffix}; use .mp4 or .mkv"
            ) from None
        codec = _audio_codec(audio_from) if audio_from and info.has_audio else None
        allowed = AUDIO_CODECS[fmt]
        if codec is not None and allowed is not None and codec not in allowed:
            raise ClipError(
                f"{out}: the source's audio ({codec}) cannot be copied into {path.suffix}; use .mkv"
            )


def _is_frame_file(path: Path) -> bool:
    stem = path.stem
    return path.suffix.lower() == ".png" and stem.isdigit()


def _audio_codec(source: str) -> str | None:
    try:
        with av.open(source) as container:
            streams = container.streams.audio
            return streams[0].codec_context.name if streams else None
    except av.FFmpegError:
        return None


def write_clip(
    out: str, frames: Iterable[Image.Image], info: ClipInfo, audio_from: str | None = None
) -> int:
    """Write the frames (as many as info.durations has) to `out`, keeping their timing, and
    the audio of `audio_from` when both it and `out` carry audio. Returns the frames written."""
    check_clip_output(out, info, audio_from)
    kind = output_kind(out)
    path = Path(out.rstrip("/" + os.sep) or out)
    if is_printf_pattern(out) and not path.parent.is_dir():  # the pattern's folder comes too
        path = path.parent
    tmp = path.with_name(f".{path.name.replace('%', '_')}.{os.getpid()}.tmp{path.suffix}")
    try:
        if kind == "video":
            count = _write_video(tmp, frames, info, audio_from)
            os.replace(tmp, path)
        elif kind == "animation":
            count = _write_animation(tmp, frames, info, ANIMATION_WRITERS[path.suffix.lower()])
            os.replace(tmp, path)
        else:
            tmp.mkdir()
            count = _write_frames(tmp, frames)
            _place_frames(tmp, out)
    except OSError as e:
        raise ClipError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return count


def _time_base(times: list[Fraction]) -> Fraction:
    """A time base in which every time is a whole number of ticks (else 1/90000)."""
    den = 1
    for t in times:
        den = lcm(den, t.denominator)
        if den > 1_000_000:
            return Fraction(1, 90000)
    return Fraction(1, max(den, 1))


def _even(image: Image.Image) -> Image.Image:
    """yuv420p halves the colour planes: an odd width or height loses its last pixel."""
    w, h = image.size
    if w % 2 or h % 2:
        image = image.crop((0, 0, max(2, w - w % 2), max(2, h - h % 2)))
    return image.convert("RGB")


def _write_video(
    tmp: Path, frames: Iterable[Image.Image], info: ClipInfo, audio_from: str | None
) -> int:
    fmt, encoder = VIDEO_WRITERS[tmp.suffix.lower()]
    offset = info.times[0] if info.range[0] > 0 or info.times[0] < 0 else Fraction(0)
    times = [t - offset for t in info.times]
    tb = _time_base(times)
    source = av.open(audio_from) if audio_from and info.has_audio else None
    try:
        with av.open(str(tmp), "w", format=fmt) as container:
            video: Any = None
            audio = _add_audio(container, source)
            count = 0
            ticks: dict[int, int] = {}  # pts -> duration
            for count, image in enumerate(_limited(frames, len(times)), start=1):
                picture = _even(image)
                if video is None:
                    video = _add_video(container, encoder, picture.size, info.rate, tb)
                frame = av.VideoFrame.from_image(picture)
                frame.pts = round(times[count - 1] / tb)
                frame.time_base = tb
                ticks[frame.pts] = round(info.durations[count - 1] / tb)
                _mux_video(container, video.encode(frame), ticks)
            if video is None:
                raise ClipError(f"{tmp.name}: no frames to write")
            _mux_video(container, video.encode(None), ticks)
            if audio is not None and source is not None:
                _copy_audio(source, audio, info, offset)
    finally:
        if source is not None:
            source.close()
    return count


def _mux_video(container: Any, packets: list[Any], ticks: dict[int, int]) -> None:
    """Each packet with its frame's duration (Matroska keeps the last frame's so)."""
    for packet in packets:
        packet.duration = ticks.get(packet.pts, packet.duration)
        container.mux(packet)


def _limited(frames: Iterable[Image.Image], n: int) -> Iterator[Image.Image]:
    for i, image in enumerate(frames):
        if i >= n:
            return
        yield image


def _add_video(container: Any, encoder: str, size: tuple[int, int], rate: Fraction, tb: Any) -> Any:
    stream = container.add_stream(encoder, rate=rate, options=ENCODER_OPTIONS.get(encoder, {}))
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = tb
    stream.codec_context.time_base = tb
    return stream


def _add_audio(container: Any, source: Any) -> Any:
    if source is None or not source.streams.audio:
        return None
    return container.add_stream_from_template(source.streams.audio[0])


def _copy_audio(source: Any, out_stream: Any, info: ClipInfo, offset: Fraction) -> None:
    """The source's audio packets, as they are, from the range's first frame to its end."""
    stream = source.streams.audio[0]
    tb = stream.time_base
    first, end = info.range
    lo = info.times[0] if first > 0 else None
    hi = info.times[-1] + info.durations[-1] if end < info.total_frames else None
    shift = round(offset / tb)
    for packet in source.demux(stream):
        if packet.dts is None or not packet.size:
            continue
        t = Fraction(packet.pts if packet.pts is not None else packet.dts) * tb
        if (lo is not None and t < lo) or (hi is not None and t >= hi):
            continue
        if packet.pts is not None:
            packet.pts -= shift
        packet.dts -= shift
        packet.stream = out_stream
        out_stream.container.mux(packet)


def _write_animation(tmp: Path, frames: Iterable[Image.Image], info: ClipInfo, fmt: str) -> int:
    pictures = [image.convert("RGB") for image in _limited(frames, info.frame_count)]
    if not pictures:
        raise ClipError(f"{tmp.name}: no frames to write")
    durations = [float(d * 1000) for d in info.durations[: len(pictures)]]
    durations += [float(1000 / FRAMES_RATE)] * (len(pictures) - len(durations))
    extra: dict[str, Any] = {"lossless": True} if fmt == "WEBP" else {}
    pictures[0].save(
        tmp,
        format=fmt,
        save_all=True,
        append_images=pictures[1:],
        duration=[round(d) for d in durations] if fmt != "PNG" else durations,
        loop=0,
        **extra,
    )
    return len(pictures)


def _write_frames(folder: Path, frames: Iterable[Image.Image]) -> int:
    count = 0
    for count, image in enumerate(frames, start=1):
        image.convert("RGB").save(folder / (FRAME_NAME % (count - 1)), format="PNG")
    if count == 0:
        raise ClipError(f"{folder.name}: no frames to write")
    return count


def _place_frames(tmp: Path, out: str) -> None:
    """The finished frames into place: the folder renamed (an earlier output of frames only is
    replaced), or each file renamed to the pattern's name."""
    names = sorted(tmp.iterdir())
    if is_printf_pattern(out):
        folder, pattern = Path(out).parent, Path(out).name
        if not folder.is_dir():
            for i, path in enumerate(names):
                os.replace(path, tmp / (pattern % i))
            os.replace(tmp, folder)
            return
        for i, path in enumerate(names):
            os.replace(path, folder / (pattern % i))
        return
    target = Path(out.rstrip("/" + os.sep) or out)
    if target.is_dir():
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
