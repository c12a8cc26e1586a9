"""Per-iteration cost: impasto's full iteration against a bare VGG19 forward+backward.

An iteration of Gatys et al. cannot cost less than one forward and one backward pass through
VGG19 to the deepest layer used (relu5_1), so that pass is the floor; everything impasto adds on
top (loss terms, Gram matrices, the L-BFGS update, clamping, progress reporting) is overhead. The
target is at most 1.1x the floor.

The two are interleaved in one process so that machine noise hits both alike: impasto runs a
single-scale job, and from its progress callback (called after every iteration) a bare pass runs
at the same size with the same model and precision. The impasto iteration time is the wall time
between the end of one callback and the start of the next, so the bare pass in the callback is
not counted against impasto; the bare pass is timed on its own. So is, after it, one pass of the
job's own objective (forward to its layers, the content and Gram losses, backward) without the
optimizer: the difference to the bare pass is what the losses cost, the rest of the iteration
(L-BFGS, clamping, reporting) is the difference to impasto's iteration.

Two windows of iterations are timed: early ones (after a few warm-up iterations) and steady ones,
after L-BFGS has filled its history of past steps, whose update then costs the most; a long job
spends most of its iterations in the steady state. Medians are reported.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from common import EXAMPLES, RESULTS, load_average, machine_info, median
from impasto.engine import Job, Progress, Reporting, StyleSettings, Stylizer
from impasto.engine.lbfgs import DEFAULT_HISTORY

log = logging.getLogger("per_iteration")


# The engine's L-BFGS keeps this many past steps (lbfgs.DEFAULT_HISTORY); until its history is
# full, each iteration's update is cheaper than in a long run.
LBFGS_HISTORY = DEFAULT_HISTORY


@dataclass
class Window:
    """A run of consecutive iterations that are timed (each followed by one bare pass)."""

    name: str  # "early" (short history) or "steady" (L-BFGS history full)
    first: int  # 1-based iteration numbers, inclusive
    last: int
    impasto_s: list[float] = field(default_factory=list)
    bare_s: list[float] = field(default_factory=list)
    objective_s: list[float] = field(default_factory=list)

    def __contains__(self, iteration: int) -> bool:
        return self.first <= iteration <= self.last


@dataclass
class Row:
    size: int
    width: int
    height: int
    precision: str  # as asked for
    bfloat16: bool  # what the engine resolved it to
    window: str
    iterations: str  # which iterations were timed
    impasto_median_s: float
    bare_median_s: float
    ratio: float
    # The job's own objective (forward to its layers, content and Gram losses, backward) without
    # the optimizer: what the losses add to the bare pass, and what the rest of an iteration adds.
    objective_median_s: float
    impasto_s: list[float]
    bare_s: list[float]
    objective_s: list[float]


def bare_pass(model: torch.nn.Module, x: torch.Tensor) -> float:
    """One forward to relu5_1 and one backward to the input image, in the model's arithmetic
    (its weights are bfloat16 in bfloat16 mode, float32 otherwise); returns its wall time."""
    x.grad = None
    start = time.perf_counter()
    # As the engine hands it the image: channels-last where its convolutions are (device.py).
    out = model(x.contiguous(memory_format=torch.channels_last), ["relu5_1"])["relu5_1"]
    out.float().sum().backward()
    return time.perf_counter() - start


def objective_pass(objective: Any, x: torch.Tensor) -> float:
    """The job's objective on `x`, forward and backward, as one L-BFGS evaluation runs it."""
    x.grad = None
    start = time.perf_counter()
    objective.evaluate(x).total.backward()
    return time.perf_counter() - start


class Interleaver:
    """The progress callback: in a timed window, times impasto's iteration, then runs a bare pass.

    Outside the windows it does nothing, so that filling the L-BFGS history costs no more than
    the job itself.
    """

    def __init__(self, stylizer: Stylizer, windows: list[Window]) -> None:
        self.stylizer = stylizer
        self.windows = windows
        self.bf16 = stylizer.compute.bfloat16
        self.size: tuple[int, int] | None = None
        self._x: torch.Tensor | None = None
        self._last_exit: float | None = None
        self.objective: Any = None  # set by measure(): the job's Objective

    def __call__(self, p: Progress) -> None:
        enter = time.perf_counter()
        window = next((w for w in self.windows if p.iteration in w), None)
        if window is None:
            self._last_exit = time.perf_counter()
            return
        if self._last_exit is not None:
            window.impasto_s.append(enter - self._last_exit)
        if self._x is None:
            self.size = (p.width, p.height)
            self._x = torch.rand(1, 3, p.height, p.width, requires_grad=True)
        window.bare_s.append(bare_pass(self.stylizer.model, self._x))
        window.objective_s.append(objective_pass(self.objective, self._x))
        self._last_exit = time.perf_counter()


def measure(
    stylizer: Stylizer, content: Image.Image, style: Image.Image, size: int, n: int, warmup: int
) -> tuple[Interleaver, float]:
    """One single-scale job, timed in two windows of n iterations: early and steady.

    The early window follows `warmup` untimed iterations (the first also prepares the job); the
    steady one starts once the L-BFGS history is full, as in any run of more than 50 iterations.
    """
    early = Window("early", warmup + 1, warmup + n)
    start = max(early.last, LBFGS_HISTORY + warmup) + 1
    steady = Window("steady", start, start + n - 1)
    settings = StyleSettings(size=size, iterations=steady.last, scales=1)
    rec = Interleaver(stylizer, [early, steady])
    make_objective = stylizer.objective_at

    def keep(*args: Any) -> Any:  # the engine's own objective, to time it alone
        rec.objective = make_objective(*args)
        return rec.objective

    stylizer.objective_at = keep  # type: ignore[method-assign]
    try:
        result = stylizer.stylize(
            Job(content, [style], settings), Reporting(on_progress=rec, every=1)
        )
    finally:
        del stylizer.objective_at  # the class's method again
    return rec, result.elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256, 512], help="output sizes")
    parser.add_argument(
        "--precision", nargs="+", default=["float32", "bfloat16"], help="engine precisions"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed iterations per window")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    parser.add_argument("--content", type=Path, default=EXAMPLES / "astronaut.png")
    parser.add_argument("--style", type=Path, default=EXAMPLES / "hubble.png")
    parser.add_argument("--out", type=Path, default=RESULTS / "per_iteration.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    info = machine_info()
    content = Image.open(args.content).convert("RGB")
    style = Image.open(args.style).convert("RGB")
    stylizers = {}
    for p in args.precision:
        stylizer = Stylizer(device="cpu", precision=p)
        # "auto" (the engine's default) is labelled by what it resolved to on this machine
        stylizers[
            ("bfloat16" if stylizer.compute.bfloat16 else "float32") if p == "auto" else p
        ] = stylizer
    for s in stylizers.values():
        s.warm_up()
    rows: list[Row] = []
    for size in args.size:
        for precision, stylizer in stylizers.items():
            rec, elapsed = measure(stylizer, content, style, size, args.steps, args.warmup)
            assert rec.size is not None
            for w in rec.windows:
                imp, bare, obj = median(w.impasto_s), median(w.bare_s), median(w.objective_s)
                row = Row(
                    size,
                    rec.size[0],
                    rec.size[1],
                    precision,
                    rec.bf16,
                    w.name,
                    f"{w.first}-{w.last}",
                    imp,
                    bare,
                    imp / bare,
                    obj,
                    w.impasto_s,
                    w.bare_s,
                    w.objective_s,
                )
                rows.append(row)
                log.info(
                    "%d px %-8s (bf16=%s) %-6s: impasto %.3f s/it, bare fwd+bwd %.3f s, ratio %.3f;"
                    " objective alone %.3f s",
                    size,
                    precision,
                    rec.bf16,
                    w.name,
                    imp,
                    bare,
                    row.ratio,
                    obj,
                )
            log.info("job of %d px %s took %.1f s", size, precision, elapsed)
    info["load_average_at_end"] = load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "steps": args.steps,
        "warmup": args.warmup,
        "lbfgs_history": LBFGS_HISTORY,
        "content": str(args.content),
        "style": str(args.style),
        "rows": [asdict(r) for r in rows],
    }
    args.out.write_text(json.dumps(payload, indent=1))
    print()
    print(
        "| size | precision | iterations | impasto s/iter | bare fwd+bwd s | ratio"
        " | objective alone s | its ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.width}x{r.height} | {r.precision} | {r.iterations} ({r.window}) | "
            f"{r.impasto_median_s:.3f} | {r.bare_median_s:.3f} | {r.ratio:.3f} | "
            f"{r.objective_median_s:.3f} | {r.objective_median_s / r.bare_median_s:.3f} |"
        )
    print(f"\nmedians; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
