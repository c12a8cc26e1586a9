"""Instant styles in figures: speed and memory of the fast method, its quality, and what a fast
start does for the optimization.

    python benchmarks/instant.py speed               # 256..2048 px against a bare VGG19 pass
    python benchmarks/instant.py quality [--size N] [--set S]  # fast vs pastiche vs Gatys
    python benchmarks/instant.py native                        # 1024 px: at its size or at 384
    python benchmarks/instant.py plot [--size N] [--set S]     # quality's curves as a figure

- speed: the fast method (a style image through the arbitrary-style network, and a preset mix
  through the 26-style network) at 256, 512, 1024 and 2048 px on the warm engine, beside one
  bare VGG19 forward pass to relu5_1 at the same size and arithmetic, alternating; medians of
  `--repeats`, and each call's peak resident memory above the process's before it (Linux:
  /proc/self/clear_refs resets the peak).
- quality: on every pair of pairs.py (`--set`), the paper's losses (evaluate.py) of the fast
  picture, against pastiche's 100-step picture (quality.reference) and impasto's default
  optimization; then the optimization from `init` = `fast` against the same from the content,
  as curves of loss against time (wall clock), and the time each first reaches pastiche's final
  losses.
- plot: from quality's JSON, each pair's content and style loss (over pastiche's final ones)
  against seconds, from the fast picture and from the content (needs matplotlib).
- native: one content at 1024 px painted at its own size against painted at 384 px and
  upsampled (what a fixed-size network does), side by side in one image with a crop.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

import pairs
import quality
from common import RESULTS, machine_info
from impasto.engine import Job, Pooling, StyleSettings, Stylizer
from impasto.engine.images import fit_size, resize, to_image, to_tensor

log = logging.getLogger("instant")
OUT = RESULTS / "instant"
SIZES = (256, 512, 1024, 2048)


def _peak_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(call, repeats: int) -> tuple[float, float]:
    """(median seconds, peak MiB above the resident memory before the call)."""
    times, peaks = [], []
    for _ in range(repeats):
        base = _rss_kib()
        _peak_reset()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        peaks.append(max(0, _peak_kib() - base) / 1024)
    return statistics.median(times), max(peaks)


def _calls(engine: Stylizer, image: Image.Image, style: Image.Image) -> dict[str, Any]:
    """What is timed at one size: the two fast paths and the bare VGG19 pass."""
    size = max(image.size)
    fast_style = StyleSettings(method="fast", size=size)  # type: ignore[arg-type]
    fast_preset = StyleSettings(method="fast", size=size, presets=(3, 17))  # type: ignore[arg-type]
    x = to_tensor(image)[0]

    def bare() -> None:
        with torch.no_grad():
            engine.features(x, ["relu5_1"], Pooling.MAX)

    return {
        "fast, style image": lambda: engine.stylize(Job(image, [style], fast_style)),
        "fast, 2 presets": lambda: engine.stylize(Job(image, [], fast_preset)),
        "VGG19 forward to relu5_1": bare,
    }


def speed(args: argparse.Namespace) -> dict[str, Any]:
    engine = Stylizer(device="cpu")
    engine.warm_up()
    content = Image.open(pairs.TUNING[0].content_path).convert("RGB")
    style = Image.open(pairs.TUNING[0].style_path).convert("RGB")
    rows = []
    for size in SIZES:
        calls = _calls(engine, content.resize((size, size), Image.Resampling.BICUBIC), style)
        for call in calls.values():  # warm: the first call at a size selects kernels
            call()
        for name, call in calls.items():
            seconds, peak = measure(call, args.repeats)
            rows.append({"size": size, "what": name, "seconds": seconds, "peak_mib": peak})
            log.info("%d px %-26s %.3f s, peak +%.0f MiB", size, name, seconds, peak)
    return {"engine": engine.compute.describe(), "repeats": args.repeats, "rows": rows}


def quality_figures(args: argparse.Namespace) -> dict[str, Any]:
    engine = Stylizer(device="cpu")
    engine.warm_up()
    cache = RESULTS / "quality"
    rows, curves = [], {}
    for i, pair in enumerate(pairs.SETS[args.set]):
        ref = quality.reference(pair, args.size, cache)
        target = ref.final
        fast = quality.run_impasto(engine, pair, args.size, {"method": "fast"}, final_only=True)
        runs = {}
        order = ("content", "fast") if i % 2 == 0 else ("fast", "content")  # A/B, alternating
        for init in order:
            runs[init] = quality.run_impasto(engine, pair, args.size, {"init": init})
        row: dict[str, Any] = {
            "pair": pair.name,
            "fast_s": fast.final.time_s,
            "fast_content": fast.final.content / target.content,
            "fast_style": fast.final.style / target.style,
        }
        for init, run in runs.items():  # "from_fast": the optimization from the fast picture
            reach = run.first_reaching(target)
            row[f"from_{init}_reach_s"] = reach.time_s if reach else None
            row[f"from_{init}_final_s"] = run.final.time_s
            row[f"from_{init}_content"] = run.final.content / target.content
            row[f"from_{init}_style"] = run.final.style / target.style
            curves[f"{pair.name}/{init}"] = run.to_json()
        rows.append(row)
        log.info("%s: %s", pair.name, json.dumps(row))

    def sooner(r: dict[str, Any]) -> bool:
        fast, content = r["from_fast_reach_s"], r["from_content_reach_s"]
        return fast is not None and (content is None or fast < content)

    faster = sum(1 for r in rows if sooner(r))
    return {
        "size": args.size,
        "set": args.set,
        "rows": rows,
        "init_fast_reaches_sooner": f"{faster}/{len(rows)}",
        "curves": curves,
    }


def native(args: argparse.Namespace) -> dict[str, Any]:
    """The same 1024 px content painted at its size and at 384 px upsampled."""
    engine = Stylizer(device="cpu")
    pair = pairs.TUNING[0]
    content = Image.open(pair.content_path).convert("RGB")
    style = to_tensor(Image.open(pair.style_path).convert("RGB"))[0]
    big = resize(to_tensor(content)[0], *fit_size(content.width, content.height, 1024))
    at_size = engine.instant.paint(big, [style], [1.0])
    small = resize(big, *fit_size(big.shape[-1], big.shape[-2], 384))
    upsampled = resize(engine.instant.paint(small, [style], [1.0]), big.shape[-1], big.shape[-2])
    a, b = to_image(at_size), to_image(upsampled)
    crop = (384, 256, 640, 512)  # the face, at full resolution
    sheet = Image.new("RGB", (2 * 1024 + 2 * 256 + 30, 1024), "white")
    sheet.paste(a, (0, 0))
    sheet.paste(b, (1024 + 10, 0))
    sheet.paste(a.crop(crop), (2 * 1024 + 20, 0))
    sheet.paste(b.crop(crop), (2 * 1024 + 20, 266))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "native_1024.jpg"
    sheet.save(path, quality=90)  # 3 MB as PNG

    def sharpness(image: Image.Image) -> float:
        t = to_tensor(image)[0]
        return float((t[..., 1:, :] - t[..., :-1, :]).abs().mean())

    return {
        "image": str(path.relative_to(RESULTS.parent)),
        "layout": "painted at 1024 px | painted at 384 px and upsampled | crops of both",
        "mean_abs_vertical_gradient": {"native": sharpness(a), "upsampled": sharpness(b)},
    }


def plot(args: argparse.Namespace) -> dict[str, Any]:
    """Loss against time for each pair of quality's run: from `fast` and from `content`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads((OUT / f"quality_{args.set}_{args.size}.json").read_text())
    names = [r["pair"] for r in data["rows"]]
    cols = min(6, len(names))  # six pairs a band: a band is two rows, content and style
    bands = -(-len(names) // cols)
    fig, grid = plt.subplots(2 * bands, cols, figsize=(3.2 * cols, 5.5 * bands), squeeze=False)
    for j, name in enumerate(names):
        band, col = divmod(j, cols)
        axes = [[grid[2 * band][col]], [grid[2 * band + 1][col]]]
        target = quality.reference(pairs.find(name), args.size, RESULTS / "quality").final
        for init, colour in (("content", "tab:blue"), ("fast", "tab:red")):
            points = data["curves"][f"{name}/{init}"]["points"]
            t = [p["time_s"] for p in points]
            for i, key in enumerate(("content", "style")):
                ref = getattr(target, key)
                axes[i][0].plot(t, [p[key] / ref for p in points], color=colour, label=init)
        for i, key in enumerate(("content", "style")):
            ax = axes[i][0]
            ax.axhline(1.0, color="black", lw=0.8, ls="--")
            ax.set_yscale("log")
            ax.set_title(f"{name}: {key}", fontsize=9)
            ax.set_xlabel("seconds")
        axes[0][0].legend(title="init", fontsize=8)
    for band in range(bands):
        grid[2 * band][0].set_ylabel("content loss / pastiche's final")
        grid[2 * band + 1][0].set_ylabel("style loss / pastiche's final")
    for j in range(len(names), bands * cols):  # empty places in the last band
        grid[2 * (bands - 1)][j % cols].axis("off")
        grid[2 * (bands - 1) + 1][j % cols].axis("off")
    fig.tight_layout()
    path = OUT / f"quality_{args.set}_{args.size}.png"
    fig.savefig(path, dpi=90)
    return {"figure": str(path.relative_to(RESULTS.parent))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("speed", "quality", "native", "plot"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--set", choices=sorted(pairs.SETS), default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT, help="the folder the JSON goes to")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.what == "plot":
        print(json.dumps(plot(args)))
        return 0
    figures = {"speed": speed, "quality": quality_figures, "native": native}[args.what](args)
    payload = {"machine": machine_info("end"), **figures}
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{args.set}_{args.size}" if args.what == "quality" else ""
    path = args.out / f"{args.what}{suffix}.json"
    path.write_text(json.dumps(payload, indent=1))
    summary = {k: v for k, v in figures.items() if k not in ("curves", "rows")}
    print(json.dumps(summary))
    for row in figures.get("rows", []):
        print(json.dumps(row))
    print("written:", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
