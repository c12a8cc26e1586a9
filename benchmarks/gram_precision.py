"""The style layers' Gram matrices alone, forward and backward: float32 (what the engine does)
against bfloat16 operands, on random bfloat16 feature maps of the five style layers' shapes.

per_iteration.py shows that everything an iteration costs above a bare VGG19 pass is the losses;
this measures how much of that the Gram matrices' float32 arithmetic is, and what bfloat16
operands (rounded Grams, 2^-9 relative per entry) would save. Alternating, medians.

    python benchmarks/gram_precision.py [--size 256 512] [--repeats 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from common import RESULTS, machine_info
from impasto.engine.losses import gram

Run = Callable[[list[torch.Tensor]], None]


def feature_maps(side: int) -> list[torch.Tensor]:
    """relu1_1..relu5_1 of a side x side image: channels and the pooled sizes, channels-last."""
    shapes = [(64, 1), (128, 2), (256, 4), (512, 8), (512, 16)]
    return [
        torch.randn(1, c, side // k, side // k, dtype=torch.bfloat16)
        .contiguous(memory_format=torch.channels_last)
        .requires_grad_(True)
        for c, k in shapes
    ]


def as_engine(maps: list[torch.Tensor]) -> None:
    sum(gram(f).square().sum() for f in maps).backward()  # type: ignore[union-attr]


def bfloat16_operands(maps: list[torch.Tensor]) -> None:
    total = torch.zeros(())
    for f in maps:
        m = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])  # (H*W, C), no copy
        total = total + ((m.T @ m).float() / m.shape[0]).square().sum()
    total.backward()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS / "gram_precision.json")
    args = parser.parse_args(argv)
    runs: dict[str, Run] = {"float32 (engine)": as_engine, "bfloat16 operands": bfloat16_operands}
    figures = {}
    for side in args.size:
        maps = feature_maps(side)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            order = list(runs.items()) if r % 2 == 0 else list(reversed(runs.items()))
            for name, run in order:
                for f in maps:
                    f.grad = None
                start = time.perf_counter()
                run(maps)
                times[name].append(time.perf_counter() - start)
        figures[side] = {name: statistics.median(t[2:]) for name, t in times.items()}  # warm
        print(side, {name: round(v, 4) for name, v in figures[side].items()})
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_info("end"), "seconds": figures}, indent=1))
    print("written:", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
