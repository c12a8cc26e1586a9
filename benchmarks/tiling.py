"""Editor-sized canvases: time per iteration and peak memory, whole against exact tiles.

Each measurement runs in a process of its own, so its peak resident memory (VmHWM, reset once
the model is loaded and warm) is that job's alone: what it grew by over the warm engine is
what a memory budget has to hold. A job is one scale at the given size from the content, with
the default layers, and a few iterations; the first is not timed (it selects kernels).

`.venv/bin/python benchmarks/tiling.py --sizes 1024 2048 --budgets-mb 1024 2048` runs, for
each size, the whole image and tiles under the matching budget, alternating which goes first
from size to size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import EXAMPLES, RESULTS, load_average, machine_info, median


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _stamp(stamps: list[float]) -> None:
    stamps.append(time.perf_counter())


def measure(
    size: int, budget_mb: int | None, iterations: int, tile: int | None = None
) -> dict[str, Any]:
    """One job in this process (the child's side); `tile` forces tiles of that side."""
    from PIL import Image

    from impasto.engine import Job, Reporting, StyleSettings, Stylizer

    engine = Stylizer(
        device="cpu",
        precision="float32",
        memory_budget=None if budget_mb is None else budget_mb * 2**20,
    )
    engine.warm_up(64)
    engine.tile_side = tile
    with Image.open(EXAMPLES / "astronaut.png") as im:
        content = im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    with Image.open(EXAMPLES / "hubble.png") as im:
        style = im.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    s = StyleSettings(size=size, scales=1, iterations=iterations, init="content")
    plan = engine.memory_plan(size, size, s)
    stamps: list[float] = []
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    result = engine.stylize(
        Job(content, [style], s),
        Reporting(on_progress=lambda p: _stamp(stamps) if p.iteration else None),
    )
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    return {
        "size": size,
        "budget_mb": budget_mb,
        "tile": plan.tile,
        "planned_fixed_mb": plan.fixed / 2**20,  # the job's images and L-BFGS's history
        "iterations": result.iterations,
        "seconds_per_iteration": median(steps),
        "first_iteration_and_setup_s": stamps[0] - start,
        "total_s": time.perf_counter() - start,
        "peak_growth_mb": (_status("VmHWM") - before) / 2**20,
        "loss": result.loss,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    p.add_argument("--budgets-mb", type=int, nargs="+", default=[1024, 2048])
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--tile", type=int, help="force tiles of this owned side (both sizes alike)")
    p.add_argument("--no-whole", action="store_true", help="skip the untiled runs")
    p.add_argument("--out", default="tiling.json", help="results file (relative: under results/)")
    p.add_argument("--child", nargs=2, metavar=("SIZE", "BUDGET"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        size, budget = int(args.child[0]), args.child[1]
        budget_mb = None if budget == "none" else int(budget)
        print(json.dumps(measure(size, budget_mb, args.iterations, args.tile)))
        return
    rows = []
    for i, (size, budget) in enumerate(zip(args.sizes, args.budgets_mb, strict=True)):
        runs = [str(budget), "none"] if i % 2 == 0 else ["none", str(budget)]
        if args.no_whole:
            runs = [str(budget)]
        for b in runs:
            command = [sys.executable, __file__, "--iterations", str(args.iterations)]
            if args.tile and b != "none":
                command += ["--tile", str(args.tile)]
            out = subprocess.run(
                [*command, "--child", str(size), b], capture_output=True, text=True, check=True
            )
            row = {**json.loads(out.stdout.strip().splitlines()[-1]), "load": load_average()}
            print(json.dumps(row), flush=True)
            rows.append(row)
    path = RESULTS / args.out  # an absolute --out stays as it is
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine_info("end"), "rows": rows}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
