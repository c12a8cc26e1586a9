"""How honest the engine's time estimates are: the estimate before a job, the time left it
reports along the way, and the time the job really took.

Each job runs as a daemon runs it (issue 33, items 9 and 16): one warm Stylizer, warmed up as a
daemon loads (`warm_up(measure=128)`, local.py's MEASURE_SIDE), a Paint job (the optimization
from the content, the automatic scales), progress after every iteration and a preview every
`policy.preview_every` iterations at the job's size. For each job it records the estimate
given before the start, and at 5 %, 25 % and 50 % of the job's real time the time left then
reported, as the total it promised (elapsed + remaining) over the real time: 1.0 is honest,
below 1 is low.

The same iterations are also fed to the model the engine had before (a running mean of each
size's cost, a size never measured scaled from the nearest measured one by its pixels, one
size timed at load): both models see the same machine, so their ratios compare even when the
machine was busy. On a shared machine absolute times mean little; the ratio within one job is
what this measures. Jobs run one after another on one engine, so later jobs start from the
costs the earlier ones measured, as a daemon's do.

    .venv/bin/python benchmarks/estimates.py --sizes 256 512 --pairs astronaut:brick \\
        grace_hopper:grass
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from common import RESULTS, machine_info
from impasto.engine import Job, Progress, Reporting, StyleSettings, Stylizer
from impasto.engine.schedule import SCALE_SETUP_ITERATIONS, IterationCosts, Scale
from impasto_protocol import policy

log = logging.getLogger("estimates")

IMAGES = Path(__file__).resolve().parent / "images"
MEASURE_SIDE = 128  # as the daemon warms up (backends/local.py)
POINTS = (0.05, 0.25, 0.5)  # fractions of the real time at which the time left is read


class OldCosts:
    """The estimate model before issue 33: a running mean per size (0.7 old, 0.3 new), and a
    size never measured predicted from the nearest measured one by the pixel ratio."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}

    def observe(self, pixels: int, seconds: float) -> None:
        old = self.seconds.get(pixels)
        self.seconds[pixels] = seconds if old is None else 0.7 * old + 0.3 * seconds

    def predict(self, pixels: int) -> float | None:
        if not self.seconds:
            return None
        nearest = min(self.seconds, key=lambda p: abs(math.log(p / pixels)))
        return self.seconds[nearest] * pixels / nearest

    def remaining(self, scales: list[Scale], index: int, run: int) -> float | None:
        seconds = 0.0
        for i in range(index, len(scales)):
            cost = self.predict(scales[i].pixels)
            if cost is None:
                return None
            left = scales[i].iterations - run if i == index else scales[i].iterations
            setup = 0 if i == index else SCALE_SETUP_ITERATIONS
            seconds += (max(0, left) + setup) * cost
        return seconds

    def estimate(self, scales: list[Scale]) -> float | None:
        total = 0.0
        for s in scales:
            cost = self.predict(s.pixels)
            if cost is None:
                return None
            total += cost * (s.iterations + SCALE_SETUP_ITERATIONS)
        return total


class Teed(IterationCosts):
    """The engine's costs, every observation also given to the old model."""

    def __init__(self, old: OldCosts) -> None:
        super().__init__()
        self.old = old

    def observe(self, pixels: int, seconds: float) -> None:
        super().observe(pixels, seconds)
        self.old.observe(pixels, seconds)


@dataclass
class Reading:
    """One progress report: when, where in the plan, and what each model said was left."""

    elapsed: float
    iteration: int
    scale: int
    remaining: float | None  # the engine's (the new model)
    old_remaining: float | None


@dataclass
class Run:
    size: int
    pair: str
    width: int
    height: int
    iterations: int
    scales: list[list[int]]  # (w, h, iterations run) per scale
    real_s: float  # stylize() from call to return, as a client waits for it
    cpu_s: float  # the process's CPU time over the job (a busy machine: far below real x 2)
    estimate_s: float | None  # before the start, the new model (Stylizer.estimate)
    old_estimate_s: float | None  # the same plan, the old model
    at: dict[str, dict[str, float | None]] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)

    def ratios(self) -> dict[str, float | None]:
        """Promised total over real time: before the start and at each point, both models."""
        out: dict[str, float | None] = {
            "new_before": _ratio(self.estimate_s, self.real_s),
            "old_before": _ratio(self.old_estimate_s, self.real_s),
        }
        for name, point in self.at.items():
            for model in ("new", "old"):
                total = point.get(f"{model}_total")
                out[f"{model}_{name}"] = _ratio(total, self.real_s)
        return out


def _ratio(value: float | None, real: float) -> float | None:
    return None if value is None else round(value / real, 3)


def run_one(
    engine: Stylizer,
    old: OldCosts,
    size: int,
    iterations: int,
    content: Image.Image,
    style: Image.Image,
    pair: str,
) -> Run:
    settings = StyleSettings(size=size, init="content")
    if iterations > 0:
        settings = settings.replace(iterations=iterations)
    estimate = engine.estimate(*content.size, settings)
    plan = engine.prepare(Job(content, [style], settings)).scales
    old_estimate = old.estimate(plan)
    readings: list[Reading] = []
    runs: dict[int, int] = {}  # iterations seen per scale (progress after every iteration)

    def on_progress(p: Progress) -> None:
        if p.iteration == 0:  # the instant picture, before any iteration
            readings.append(Reading(p.elapsed, 0, 0, p.remaining, old_estimate))
            return
        runs[p.scale] = runs.get(p.scale, 0) + 1
        old_left = old.remaining(plan, p.scale, runs[p.scale])
        readings.append(Reading(p.elapsed, p.iteration, p.scale, p.remaining, old_left))

    every = policy.preview_every(settings.iterations)
    reporting = Reporting(on_progress, every=1, preview_every=every, preview_size=size)
    cpu, began = time.process_time(), time.perf_counter()
    result = engine.stylize(Job(content, [style], settings), reporting)
    real, cpu = time.perf_counter() - began, time.process_time() - cpu
    run = Run(
        size=size,
        pair=pair,
        width=result.picture.width,
        height=result.picture.height,
        iterations=result.iterations,
        scales=[list(s) for s in result.scales],
        real_s=round(real, 2),
        cpu_s=round(cpu, 2),
        estimate_s=None if estimate.seconds is None else round(estimate.seconds, 2),
        old_estimate_s=None if old_estimate is None else round(old_estimate, 2),
        readings=readings,
    )
    for fraction in POINTS:
        reading = next((r for r in readings if r.elapsed >= fraction * real), None)
        if reading is None:
            continue

        def total(left: float | None, at: Reading = reading) -> float | None:
            return None if left is None else round(at.elapsed + left, 2)

        run.at[f"{round(fraction * 100)}%"] = {
            "elapsed": round(reading.elapsed, 2),
            "iteration": reading.iteration,
            "new_total": total(reading.remaining),
            "old_total": total(reading.old_remaining),
        }
    return run


def load(name: str) -> Image.Image:
    return Image.open(IMAGES / f"{name}.jpg").convert("RGB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument(
        "--pairs",
        nargs="+",
        default=["astronaut:brick", "grace_hopper:grass"],
        help="content:style names of benchmarks/images (without .jpg)",
    )
    parser.add_argument(
        "--iterations", type=int, default=0, help="per job (0: the daemon's default, 150)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "estimates.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pairs = []
    for pair in args.pairs:
        content, _, style = pair.partition(":")
        if not style or not (IMAGES / f"{content}.jpg").is_file():
            parser.error(f"pair {pair!r} is not content:style of benchmarks/images")
        if not (IMAGES / f"{style}.jpg").is_file():
            parser.error(f"no style image {style!r} in benchmarks/images")
        pairs.append((pair, load(content), load(style)))
    info = machine_info("start")
    old = OldCosts()
    engine = Stylizer(device="cpu")
    engine.costs = Teed(old)
    # The old model measured one size at load; the new one two (Stylizer.warm_up).
    engine.warm_up(measure=MEASURE_SIDE)
    old.seconds = {p: s for p, s in old.seconds.items() if p == MEASURE_SIDE**2}
    runs: list[Run] = []
    for size in args.sizes:
        for name, content, style in pairs:
            run = run_one(engine, old, size, args.iterations, content, style, name)
            log.info("%d px %s: real %.1f s, ratios %s", size, name, run.real_s, run.ratios())
            runs.append(run)
            write(args.out, info, runs)  # after every job: a long run stopped keeps the rest
    info.update(machine_info("end"))
    write(args.out, info, runs)
    log.info("wrote %s", args.out)
    return 0


def write(path: Path, info: dict[str, Any], runs: list[Run]) -> None:
    body: dict[str, Any] = {
        "machine": info,
        "what": (__doc__ or "").split("\n\n")[0],
        "runs": [{**asdict(r), "ratios": r.ratios()} for r in runs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
