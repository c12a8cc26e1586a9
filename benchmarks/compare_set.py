"""Impasto against pastiche on a set of image pairs, like for like, on the wall clock.

For every pair (pairs.py; `--set tuning`, `validation` or `all`), at `--size`, in one process:

1. pastiche with its defaults for 100 steps, its image scored after every step by the
   independent evaluator (evaluate.py); and impasto with its defaults (nothing but the size
   given), its delivered image scored after every iteration. Which of the two runs first
   alternates from pair to pair, so that a machine that slows down over the run does not favour
   either tool.
2. impasto again with a time budget of 1/3 and of 1/5 of pastiche's 100-step time (measured in
   step 1, on this machine, in this run).

Figures per pair, and their medians:
- like for like: the time impasto needs to first reach pastiche's final content and style losses,
  divided by the time pastiche itself first reaches them (its curve often gets there long
  before its 100th step); the same for the strict criterion (content and every style layer);
- the losses impasto delivers within 1/3 and 1/5 of pastiche's time, relative to pastiche's
  final ones.

Outputs in `--out`: compare_set_SET_SIZE.json (every curve), .md (the table, also printed) and
.jpg (content, style, pastiche's and impasto's final images, one row per pair).
Clocks: pastiche's is the sum of its steps (its setup is reported apart); impasto's is its job's
elapsed time, which includes computing the style targets, less the time our callback takes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

import figure_text
import pairs
import quality
from common import RESULTS, load_average, machine_info, median
from impasto.engine import Stylizer

log = logging.getLogger("compare_set")
BUDGETS = (3, 5)


def figures(pastiche: quality.Curve, impasto: quality.Curve) -> dict[str, Any]:
    target = pastiche.final
    own = pastiche.first_reaching(target)
    own_strict = pastiche.first_reaching(target, strict=True)
    reach = impasto.first_reaching(target)
    reach_strict = impasto.first_reaching(target, strict=True)
    return {
        "pastiche_100_s": target.time_s,
        "pastiche_first_s": own.time_s if own else None,
        "pastiche_first_step": own.iteration if own else None,
        "pastiche_first_strict_s": own_strict.time_s if own_strict else None,
        "impasto_reach_s": reach.time_s if reach else None,
        "impasto_reach_strict_s": reach_strict.time_s if reach_strict else None,
        "ratio": quality.ratio(reach.time_s if reach else None, own.time_s if own else None),
        "ratio_strict": quality.ratio(
            reach_strict.time_s if reach_strict else None,
            own_strict.time_s if own_strict else None,
        ),
        "impasto_final_s": impasto.final.time_s,
        "impasto_final_content": impasto.final.content / target.content,
        "impasto_final_style": impasto.final.style / target.style,
    }


def compare_pair(
    engine: Stylizer, pair: pairs.Pair, size: int, impasto_first: bool
) -> tuple[dict[str, Any], dict[str, Any], list[Image.Image]]:
    if impasto_first:
        impasto = quality.run_impasto(engine, pair, size, {}, keep_final=True)
        pastiche, pastiche_image = quality.pastiche_curve(pair, size)
    else:
        pastiche, pastiche_image = quality.pastiche_curve(pair, size)
        impasto = quality.run_impasto(engine, pair, size, {}, keep_final=True)
    row = {"pair": pair.name, "impasto_first": impasto_first, **figures(pastiche, impasto)}
    curves = {"pastiche": pastiche.to_json(), "impasto": impasto.to_json()}
    target = pastiche.final
    budget_images = []
    for k in BUDGETS:
        budget = target.time_s / k
        run = quality.run_impasto(engine, pair, size, {}, budget, keep_final=True)
        row[f"b{k}_s"] = budget
        row[f"b{k}_elapsed_s"] = run.details["elapsed_s"]
        row[f"b{k}_content"] = run.final.content / target.content
        row[f"b{k}_style"] = run.final.style / target.style
        row[f"b{k}_layers"] = [a / b for a, b in zip(run.final.layers, target.layers, strict=True)]
        row[f"b{k}_scales"] = run.details["scales"]
        curves[f"impasto_1/{k}"] = run.to_json()
        budget_images.append(run.details.pop("final_image"))
    with quality.prepared(pair, size) as (content, style, _):
        images = [Image.open(content).convert("RGB"), Image.open(style).convert("RGB")]
    images += [pastiche_image, impasto.details.pop("final_image"), *budget_images]
    return row, curves, images


def contact_sheet(rows: list[tuple[str, list[Image.Image]]], path: Path, cell: int) -> None:
    """One row per pair: content, style, pastiche (100 steps), impasto (defaults), impasto
    within 1/3 and 1/5 of pastiche's time."""
    titles = ["content", "style", "pastiche 100 steps", "impasto", "impasto 1/3", "impasto 1/5"]
    pad, head = 6, 18
    sheet = Image.new(
        "RGB",
        (len(titles) * (cell + pad) + pad + 140, head + len(rows) * (cell + pad) + pad),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(titles):
        draw.text((140 + pad + j * (cell + pad), 3), title, fill="black")
    for i, (name, images) in enumerate(rows):
        y = head + pad + i * (cell + pad)
        draw.text((4, y + cell // 2), name, fill="black")
        for j, image in enumerate(images):
            thumb = image.copy()
            thumb.thumbnail((cell, cell))
            sheet.paste(thumb, (140 + pad + j * (cell + pad), y))
    sheet.save(path, quality=88)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--set", choices=sorted(pairs.SETS), default="all")
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="impasto's convolutions (pastiche always runs float32); auto: the engine's default",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--stem",
        help="the output files' name (default compare_set_SET_SIZE, with _PRECISION unless auto)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    info = machine_info()
    engine = Stylizer(device="cpu", precision=args.precision)
    engine.warm_up()
    rows, curves, sheet = [], {}, []
    for i, pair in enumerate(pairs.SETS[args.set]):
        row, pair_curves, images = compare_pair(engine, pair, args.size, impasto_first=i % 2 == 1)
        rows.append(row)
        curves[pair.name] = pair_curves
        sheet.append((pair.name, images))
        log.info(
            "%s: %s", pair.name, json.dumps({k: v for k, v in row.items() if "scales" not in k})
        )
    info["load_average_at_end"] = load_average()
    info["engine"] = engine.compute.describe()
    summary = {
        "median_ratio": median([r["ratio"] for r in rows]),
        "median_ratio_strict": median([r["ratio_strict"] for r in rows]),
    }
    for k in BUDGETS:
        ok = [max(r[f"b{k}_content"], r[f"b{k}_style"]) <= 1 for r in rows]
        summary[f"b{k}_pairs_at_most_pastiche"] = f"{sum(ok)}/{len(ok)}"
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.stem or f"compare_set_{args.set}_{args.size}" + (
        "" if args.precision == "auto" else f"_{args.precision}"
    )
    payload = {"machine": info, "size": args.size, "set": args.set, "summary": summary}
    payload["precision"] = {"asked": args.precision, "impasto": engine.compute.describe()}
    payload |= {"rows": rows, "curves": curves}
    (args.out / f"{stem}.json").write_text(json.dumps(payload, indent=1))
    # JPEG: a dozen rows of photos is 2 MB as PNG, 0.4 MB here, with nothing visible lost.
    contact_sheet(sheet, args.out / f"{stem}.jpg", 128 if args.size <= 256 else 192)
    table = figure_text.compare_table(rows)  # the table RESULTS.md shows, from the same rows
    (args.out / f"{stem}.md").write_text(table + "\n")
    print(table)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
