"""Quality against time on a set of image pairs: the machinery of tune.py and compare_set.py.

For one pair at one size:
- `reference` runs pastiche (its defaults, 100 steps, as compare_pastiche.py does) and scores its
  image after every step with the independent evaluator (evaluate.py); the result is cached as
  JSON, since it depends only on the pair, the size and pastiche;
- `run_impasto` runs impasto with given settings, optionally a time budget, and scores the image
  it would deliver after every iteration (coarse scales upsampled, as the engine delivers them);
- `Reached` and `losses_at` turn both curves into the figures the issue asks for: when impasto
  first reaches pastiche's final losses, when pastiche itself first does, and the losses at a
  given time.

Time is wall time by default. Tuning runs may instead use a *modelled* clock (`CostModel`): each
iteration advances the clock by what an iteration of that size costs on a quiet machine, measured
once; the engine's pacer then sees the same times whatever else the machine is doing, so sweeps
can run beside other work and still compare like for like. compare_set.py always uses wall time.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

import impasto.engine.stylizer as stylizer_module
from compare_pastiche import prepare_inputs, run_pastiche
from evaluate import PaperEvaluator, PaperLosses
from impasto.engine import (
    Cancelled,
    CancelToken,
    Job,
    Progress,
    Reporting,
    StyleResult,
    StyleSettings,
    Stylizer,
)
from impasto.engine.images import fit_size, resize, to_image, to_tensor
from pairs import Pair

PASTICHE_STEPS = 100


@dataclass
class Point:
    """One scored image on a tool's curve."""

    iteration: int  # pastiche steps, or impasto iterations over all scales
    time_s: float
    content: float
    style: float
    layers: tuple[float, ...]
    width: int = 0  # the size the tool worked at (impasto's coarse scales are smaller)

    def at_most(self, other: Point, strict: bool = False) -> bool:
        """Both losses at most `other`'s (strict: each style layer's term too)."""
        if not (self.content <= other.content and self.style <= other.style):
            return False
        return not strict or all(a <= b for a, b in zip(self.layers, other.layers, strict=True))


@dataclass
class Curve:
    tool: str
    points: list[Point]
    setup_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> Point:
        return self.points[-1]

    def first_reaching(self, target: Point, strict: bool = False) -> Point | None:
        return next((p for p in self.points if p.at_most(target, strict)), None)

    def at(self, seconds: float) -> Point:
        """The last point at or before `seconds` (the first if none)."""
        before = [p for p in self.points if p.time_s <= seconds]
        return before[-1] if before else self.points[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "setup_s": self.setup_s,
            "details": self.details,
            "points": [asdict(p) for p in self.points],
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> Curve:
        pts = [Point(**{**p, "layers": tuple(p["layers"])}) for p in d["points"]]
        return Curve(d["tool"], pts, d["setup_s"], d["details"])


def _point(iteration: int, t: float, losses: PaperLosses, width: int) -> Point:
    return Point(iteration, t, losses.content, losses.style, losses.style_layers, width)


@contextmanager
def prepared(pair: Pair, size: int) -> Iterator[tuple[Path, Path, PaperEvaluator]]:
    """The pair resized once for both tools (compare_pastiche.prepare_inputs) and its referee."""
    with tempfile.TemporaryDirectory(prefix="impasto-quality-") as tmp:
        content, style = prepare_inputs(pair.content_path, pair.style_path, size, Path(tmp))
        yield content, style, PaperEvaluator(Image.open(content), Image.open(style))


def pastiche_curve(pair: Pair, size: int, steps: int = PASTICHE_STEPS) -> tuple[Curve, Image.Image]:
    """Pastiche's run for a pair (its defaults), every step scored, and its final image."""
    with prepared(pair, size) as (content, style, evaluator):
        run = run_pastiche(content, style, size, steps, 1)
        points = []
        for snap in run.snapshots:
            assert snap.image is not None
            points.append(
                _point(snap.iteration, snap.time_s, evaluator.evaluate(snap.image), snap.width)
            )
    last = run.snapshots[-1].image
    assert last is not None
    curve = Curve("pastiche", points, run.setup_s, {"step_times_s": run.details["step_times_s"]})
    return curve, last


def reference(pair: Pair, size: int, cache: Path, steps: int = PASTICHE_STEPS) -> Curve:
    """Pastiche's curve for a pair: every step scored. Cached in `cache`."""
    path = cache / f"pastiche_{size}_{pair.name}.json"
    if path.exists():
        return Curve.from_json(json.loads(path.read_text()))
    curve, _ = pastiche_curve(pair, size, steps)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(curve.to_json()))
    return curve


class CostModel:
    """Modelled seconds for impasto's iterations and pastiche's steps on a quiet machine.

    `impasto(pixels)`: interpolated between measured single-scale iterations (by pixels, and
    in proportion to the pixels outside them); `setup(pixels)`: what a new scale's targets
    cost (content and style forward passes, about a third of an iteration each);
    `pastiche(pixels)`: a pastiche step, as a measured multiple of impasto's iteration at the
    same size (both are one forward and one backward pass through VGG19).
    """

    def __init__(self, points: list[tuple[int, float]], pastiche_ratio: float) -> None:
        self.points = sorted((int(p), float(t)) for p, t in points)
        self.pastiche_ratio = pastiche_ratio

    def impasto(self, pixels: int) -> float:
        pts = self.points
        if pixels <= pts[0][0]:
            return pts[0][1] * pixels / pts[0][0]
        for (p0, t0), (p1, t1) in itertools.pairwise(pts):
            if pixels <= p1:
                return t0 + (t1 - t0) * (pixels - p0) / (p1 - p0)
        return pts[-1][1] * pixels / pts[-1][0]

    def setup(self, pixels: int) -> float:
        return 2 / 3 * self.impasto(pixels)

    def pastiche(self, pixels: int) -> float:
        return self.pastiche_ratio * self.impasto(pixels)

    def to_json(self) -> dict[str, Any]:
        return {"points": self.points, "pastiche_ratio": self.pastiche_ratio}


@contextmanager
def modelled_clock(model: CostModel) -> Iterator[Callable[[], float]]:
    """Within it the engine's clock advances only by the model's cost of what the engine does."""
    now = [0.0]
    real_step, real_objective = stylizer_module.step, Stylizer.objective_at

    def step(opt: Any, x: torch.Tensor, objective: Any) -> Any:
        out = real_step(opt, x, objective)
        now[0] += model.impasto(x.shape[-1] * x.shape[-2])
        return out

    def objective(self: Stylizer, prep: Any, w: int, h: int, *check: Any) -> Any:
        now[0] += model.setup(w * h)
        return real_objective(self, prep, w, h, *check)

    fake = types.SimpleNamespace(perf_counter=lambda: now[0])
    real_time = stylizer_module.time
    stylizer_module.step = step  # type: ignore[assignment]
    Stylizer.objective_at = objective  # type: ignore[method-assign]
    stylizer_module.time = fake  # type: ignore[assignment]
    try:
        yield fake.perf_counter
    finally:
        stylizer_module.step = real_step
        Stylizer.objective_at = real_objective  # type: ignore[method-assign]
        stylizer_module.time = real_time


def run_impasto(
    engine: Stylizer,
    pair: Pair,
    size: int,
    settings: dict[str, Any],
    budget: float | None = None,
    model: CostModel | None = None,
    dense_until: float = math.inf,
    keep_final: bool = False,
    stop_after: float | None = None,
    final_only: bool = False,
    stop_when: Callable[[Point], bool] | None = None,
) -> Curve:
    """Impasto's curve: the delivered image after every iteration, scored (after
    `dense_until` seconds only every 10th iteration, to save scoring time). `stop_after`
    cancels the job after that many seconds, without changing its schedule (a time budget
    would): the curve then ends there. `final_only` scores only the delivered image.
    `stop_when` scores each image as it comes (off the clock, which then must be modelled) and
    cancels the job once it returns True.

    The clock is the engine's own elapsed time (wall, or modelled with `model`), less the time
    spent in our callback; scoring happens after the run, off the clock.
    """
    with prepared(pair, size) as (content, style, evaluator):
        job = Job(
            Image.open(content).convert("RGB"),
            [Image.open(style).convert("RGB")],
            StyleSettings(size=size, **settings),
        )
        snaps: list[tuple[int, float, Image.Image, int]] = []
        overhead = [0.0]

        cancel = CancelToken()

        online: list[Point] = []
        out_size = fit_size(*job.content.size, job.settings.size)

        def record(p: Progress) -> None:
            enter = time.perf_counter()
            if p.preview is not None and not final_only:
                snaps.append((p.iteration, p.elapsed - overhead[0], p.preview.to_pil(), p.width))
            if stop_after is not None and p.elapsed - overhead[0] > stop_after:
                cancel.cancel()
            if stop_when is not None and p.preview is not None:
                image = p.preview.to_pil()
                if image.size != out_size:
                    image = to_image(resize(to_tensor(image)[0], *out_size))
                online.append(_point(p.iteration, p.elapsed, evaluator.evaluate(image), p.width))
                if stop_when(online[-1]):
                    cancel.cancel()
            overhead[0] += time.perf_counter() - enter if model is None else 0.0

        rep = Reporting(
            on_progress=record, every=1, preview_every=1, time_budget=budget, cancel=cancel
        )
        result: StyleResult | None = None
        try:
            if model is None:
                result = engine.stylize(job, rep)
            else:
                with modelled_clock(model):
                    result = engine.stylize(job, rep)
        except Cancelled:
            pass
        out_w, out_h = out_size
        points = list(online)
        for i, (it, t, image, width) in enumerate([] if online else snaps):
            if t > dense_until and it % 10 and i != len(snaps) - 1:
                continue
            if image.size != (out_w, out_h):  # a coarse scale: upsampled, as delivered
                image = to_image(resize(to_tensor(image)[0], out_w, out_h))
            points.append(_point(it, t, evaluator.evaluate(image), width))
        if result is not None:  # the delivered image (8-bit rounding) is the last point
            final = _point(
                result.iterations, result.elapsed, evaluator.evaluate(result.image), out_w
            )
            if not points or points[-1].iteration != final.iteration:
                points.append(final)
            else:
                points[-1] = Point(**{**asdict(final), "time_s": points[-1].time_s})
    details = {
        "scales": [list(s) for s in result.scales] if result else None,
        "stopped": result.stopped.value if result else "cancelled",
        "elapsed_s": result.elapsed if result else points[-1].time_s,
        "budget_s": budget,
        "settings": settings,
        "clock": "modelled" if model is not None else "wall",
    }
    if keep_final and result is not None:
        details["final_image"] = result.image  # not JSON: callers pop it
    return Curve("impasto", points, 0.0, details)


def pastiche_time(
    curve: Curve, model: CostModel | None, pixels: int, step: int | None = None
) -> float:
    """Pastiche's time to `step` (default: its last), on the wall clock or the model's."""
    step = curve.final.iteration if step is None else step
    if model is not None:
        return step * model.pastiche(pixels)
    return next(p.time_s for p in curve.points if p.iteration == step)


def output_pixels(pair: Pair, size: int) -> int:
    with Image.open(pair.content_path) as image:
        w, h = fit_size(image.width, image.height, size)
    return w * h


def ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or b <= 0:
        return math.inf
    return a / b
