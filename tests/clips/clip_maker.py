"""Tiny clips made with PyAV and Pillow for the clip tests: a square moving over a texture, and
a tone for the audio track."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def square_frames(count: int = 5, width: int = 48, height: int = 32) -> list[Image.Image]:
    """A bright square moving right 4 px a frame over a fixed random texture."""
    rng = np.random.default_rng(7)
    back = rng.integers(40, 160, (height, width, 3), dtype=np.uint8)
    frames = []
    for t in range(count):
        frame = back.copy()
        x, y = 2 + 4 * t, height // 2 - 6
        frame[y : y + 12, x : x + 12] = (250, 220, 30)
        frames.append(Image.fromarray(frame))
    return frames


def make_video(
    path: Path,
    count: int = 5,
    size: tuple[int, int] = (48, 32),
    rate: int = 10,
    audio: bool = False,
    codec: str = "libx264",
    durations: list[Fraction] | None = None,
    gop: int | None = None,
) -> list[Image.Image]:
    """A video of the moving square (H.264 unless told), optionally with a tone as AAC audio;
    `durations` (seconds) gives the frames variable timing, `gop` a keyframe every so many
    frames. Returns the frames drawn."""
    frames = square_frames(count, *size)
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        stream.time_base = stream.codec_context.time_base = tb
        sound = container.add_stream("aac", rate=44100) if audio else None
        t = Fraction(0)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = round(t / tb), tb
            container.mux(stream.encode(frame))
            t += durations[i] if durations else Fraction(1, rate)
        container.mux(stream.encode(None))
        if sound is not None:
            _tone(container, sound, float(t))
    return frames


def _tone(container: av.container.OutputContainer, sound: av.AudioStream, seconds: float) -> None:
    samples = int(44100 * seconds)
    wave = (0.3 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 44100)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = wave[None, start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate, frame.pts = 44100, start
        container.mux(sound.encode(frame))
    container.mux(sound.encode(None))


def make_animation(path: Path, count: int = 5, durations: list[int] | None = None) -> None:
    """An animated GIF, PNG or WebP (by the extension), `durations` in ms."""
    frames = square_frames(count)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations or 100, loop=0)


def make_frames(folder: Path, count: int = 5, name: str = "%04d.png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(square_frames(count)):
        image.save(folder / (name % (i + 1)))
