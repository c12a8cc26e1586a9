"""Trained styles in figures: what `impasto train` reaches, against steps and wall time, for both
starts, on photos it never trained on; one instant application's time; the pictures beside the
optimization's.

    python benchmarks/training.py [--styles hubble retina] [--fast-steps 300]
        [--scratch-steps 600] [--every 50] [--size 256] [--batch 2] [--style-weight 5]
        [--starts fast scratch] [--out DIR]

For each style (benchmarks/images/STYLE.jpg), a `--from fast` and a `--from scratch` trainer
with the command's defaults take turns, `--every` steps each, so both see the same machine load.
After each turn the network paints the validation photos (held apart from the training set:
scikit-image's motorcycle_right when installed, and grace_hopper of the benchmark images, at
256 px) and the referee (evaluate.py) scores each picture's paper losses; the fast start's
step 0 is the untrained instant network. Then impasto's default optimization paints the same
photos (its time and losses, the reference a trained style is measured against), and each
trained network is timed on one 512 and one 1024 px picture (median of 3). Writes
training.json and one side-by-side picture per style (photo, instant untrained, fast trained,
scratch trained, optimization) under --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from common import RESULTS, machine_info
from evaluate import PaperEvaluator
from impasto.engine import Job, StyleSettings, Stylizer
from impasto.engine.images import fit_size, resize, to_image, to_tensor
from impasto.engine.train_settings import Kind, TrainSettings
from impasto.engine.training import Trainer, load_photos, photo_files
from pairs import IMAGES

VALIDATION_SIDE = 256
OUT = RESULTS / "training"


def validation_photos() -> dict[str, Image.Image]:
    photos = {"grace_hopper": Image.open(IMAGES / "grace_hopper.jpg").convert("RGB")}
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.submodule_search_locations:
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        if (data / "motorcycle_right.png").is_file():
            photos["motorcycle_right"] = Image.open(data / "motorcycle_right.png").convert("RGB")
    for name, im in photos.items():
        im.thumbnail((VALIDATION_SIDE, VALIDATION_SIDE))
        photos[name] = im
    return photos


STRUCTURE_SIDE = 32  # px: the coarse light and dark of a picture, what makes it recognisable


def structure(picture: Image.Image, photo: Image.Image) -> float:
    """How much of the photo's coarse light and dark the picture keeps: the correlation of
    their luminance at STRUCTURE_SIDE px (1: the same shapes of light; about 0: none). The
    paper's content loss misses a network that paints the style's texture over everything
    (relu4_2 of such a picture is about as far from the photo's as a stylized one's), the
    picture does not."""
    side = (STRUCTURE_SIDE, STRUCTURE_SIDE)
    a, b = (
        np.asarray(im.convert("L").resize(side, Image.Resampling.BOX), dtype=np.float64).ravel()
        for im in (picture, photo)
    )
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


def score(trainer: Trainer, photos: dict[str, Image.Image], judges: dict[str, PaperEvaluator]):
    """The paper losses and the structure kept of the network's pictures of the validation
    photos, and their means."""
    per = {}
    for name, photo in photos.items():
        picture = to_image(trainer.picture(to_tensor(photo)[0]))
        losses = judges[name].evaluate(picture)
        per[name] = {
            "content": losses.content,
            "style": losses.style,
            "structure": structure(picture, photo),
        }
    return {k: statistics.fmean(v[k] for v in per.values()) for k in per[next(iter(per))]} | {
        "photos": per
    }


def apply_time(trainer: Trainer, side: int, repeats: int = 3) -> float:
    photo = Image.open(IMAGES / "astronaut.jpg").convert("RGB")
    t = to_tensor(photo)[0]
    t = resize(t, *fit_size(t.shape[-1], t.shape[-2], side))
    trainer.picture(t)  # warm
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        trainer.picture(t)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run_style(
    engine: Stylizer, style_name: str, args: argparse.Namespace, photos, training
) -> dict[str, Any]:
    style = Image.open(IMAGES / f"{style_name}.jpg").convert("RGB")
    judge_style = style.copy()
    judge_style.thumbnail((VALIDATION_SIDE, VALIDATION_SIDE))
    judges = {n: PaperEvaluator(p, judge_style) for n, p in photos.items()}
    steps = {Kind.FAST: args.fast_steps, Kind.SCRATCH: args.scratch_steps}
    starts = [Kind(k) for k in args.starts]
    trainers = {
        kind: Trainer(
            engine,
            style,
            training,
            TrainSettings(
                start=kind,
                steps=steps[kind],
                size=args.size,
                batch=args.batch,
                style_weight=args.style_weight,
                preview_every=0,
            ),
            name=style_name,
        )
        for kind in starts
    }
    curves: dict[str, list[dict[str, Any]]] = {k.value: [] for k in starts}
    wall = {k: 0.0 for k in starts}
    for kind, trainer in trainers.items():
        curves[kind.value].append({"step": 0, "seconds": 0.0, **score(trainer, photos, judges)})
    first = next(iter(trainers.values()))  # at step 0 (fast: the untrained instant network)
    untrained = {n: to_image(first.picture(to_tensor(p)[0])) for n, p in photos.items()}
    while any(t.step < t.s.steps for t in trainers.values()):
        for kind, trainer in trainers.items():  # turns: both under the same load
            if trainer.step >= trainer.s.steps:
                continue
            goal = min(trainer.s.steps, trainer.step + args.every)
            began = time.perf_counter()
            trainer.s = replace(trainer.s, steps=goal)  # train to `goal`, then stop
            trainer.run()
            wall[kind] += time.perf_counter() - began
            trainer.s = replace(trainer.s, steps=steps[kind])
            point = {"step": trainer.step, "seconds": round(wall[kind], 2)}
            curves[kind.value].append({**point, **score(trainer, photos, judges)})
            print(style_name, kind.value, point, flush=True)
    gatys = {}
    gatys_pictures = {}
    for name, photo in photos.items():
        began = time.perf_counter()
        result = engine.stylize(Job(photo, [style], StyleSettings(size=max(photo.size))))
        seconds = time.perf_counter() - began
        losses = judges[name].evaluate(result.image)
        gatys[name] = {
            "seconds": round(seconds, 2),
            "content": losses.content,
            "style": losses.style,
            "structure": structure(result.image, photo),
        }
        gatys_pictures[name] = result.image
    applying = {
        kind.value: {str(side): round(apply_time(t, side), 4) for side in (512, 1024)}
        for kind, t in trainers.items()
    }
    # One picture: each validation photo in a row; photo, untrained, fast, scratch, Gatys.
    rows = []
    for name, photo in photos.items():
        cells = [photo, untrained[name]]
        cells += [to_image(t.picture(to_tensor(photo)[0])) for t in trainers.values()]
        cells.append(gatys_pictures[name])
        rows.append(cells)
    w = max(c.width for row in rows for c in row)
    h = max(c.height for row in rows for c in row)
    sheet = Image.new("RGB", (w * len(rows[0]), h * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet.paste(cell, (c * w, r * h))
    sheet.save(args.out / f"{style_name}.jpg", quality=90)
    return {
        "curves": curves,
        "gatys": gatys,
        "apply_seconds": applying,
        "trained_losses": {k.value: t.validation_losses() for k, t in trainers.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--styles", nargs="+", default=["hubble", "retina"])
    p.add_argument("--fast-steps", type=int, default=TrainSettings().steps)
    p.add_argument("--scratch-steps", type=int, default=2 * TrainSettings().steps)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--size", type=int, default=TrainSettings().size)
    p.add_argument("--batch", type=int, default=TrainSettings().batch)
    p.add_argument("--style-weight", type=float, default=TrainSettings().style_weight)
    p.add_argument(
        "--starts", nargs="+", choices=[k.value for k in Kind], default=[k.value for k in Kind]
    )
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--structure-of-sheets",
        action="store_true",
        help="only add the structure kept by the final pictures to --out's training.json,"
        " measured on its sheets (for runs made before the script measured it)",
    )
    args = p.parse_args(argv)
    if args.structure_of_sheets:
        return structure_of_sheets(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    engine = Stylizer("cpu", precision="float32")
    engine.warm_up()
    photos = validation_photos()
    training = load_photos(photo_files())
    started = time.strftime("%Y-%m-%d %H:%M")
    report = {
        "machine": machine_info(),
        "date": started,
        "command": "python benchmarks/training.py " + " ".join(argv or sys.argv[1:]),
        "settings": {
            "size": args.size,
            "batch": args.batch,
            "every": args.every,
            "style_weight": args.style_weight,
            "starts": args.starts,
        },
        "validation": sorted(photos),
        "training_photos": len(training.photos),
        "styles": {},
    }
    for name in args.styles:
        report["styles"][name] = run_style(engine, name, args, photos, training)
        (args.out / "training.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out / 'training.json'}")
    return 0


def structure_of_sheets(folder: Path) -> int:
    """`structure` of each picture on the sheets (JPEG, quality 90) against the photo in its
    row: the untrained network, each start's final network, the optimization."""
    path = folder / "training.json"
    report = json.loads(path.read_text())
    photos = validation_photos()
    for style, data in report["styles"].items():
        columns = ["untrained", *data["curves"], "gatys"]
        with Image.open(folder / f"{style}.jpg") as sheet:
            w, h = sheet.width // (len(columns) + 1), sheet.height // len(photos)
            found: dict[str, dict[str, float]] = {}
            for row, (name, photo) in enumerate(photos.items()):
                cells = [
                    sheet.crop((c * w, row * h, c * w + photo.width, row * h + photo.height))
                    for c in range(len(columns) + 1)
                ]
                pictures = zip(columns, cells[1:], strict=True)
                found[name] = {k: structure(cell, cells[0]) for k, cell in pictures}
        data["structure_of_sheet"] = found
        print(style, found)
    path.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
