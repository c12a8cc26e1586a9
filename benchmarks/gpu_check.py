"""The GPU check: the CUDA paths no CPU machine runs, tested and timed once on a real GPU.

    make gpu-check                          # on a machine with CUDA; 5-8 min on one H100/H200
    .venv/bin/python benchmarks/gpu_check.py --device cpu --quick --out /tmp/gpu-check

It runs the CUDA-only tests (found by their skip marks) and the device-selection tests, then
measures, each measurement guarded (an error or out-of-memory is recorded as one line and the
check goes on), within a global time budget (what it leaves no room for is recorded as skipped):
- per_iteration: the engine's iteration time and peak memory at 512-4096 px in float32 and
  bfloat16, against a bare VGG19 forward and backward (the engine's own module) at each size;
- end_to_end_512: 512 px, 500 iterations, one scale, from the content (jcjohnson/neural-style
  took 22-30 s on a Pascal Titan X; the target is under 2 s);
- job_4096: a 4096 px job to completion in the device's own memory budget (mem_get_info), and
  a 2048 px one under a small budget (tiles; on CUDA, the L-BFGS history in pinned host memory);
- fast: the fast method at 1024, 2048 and 4096 px;
- daemon_first_preview: a warm `impasto daemon` on a private IPC socket: a 1024 px job's
  submit to its first preview (previews every iteration).

Results: one JSON file per run and a markdown summary beside it, in benchmarks/results/gpu/
(`--out`), named by date and device. Without CUDA, `--device cuda` (the default) prints one line
and exits 0, writing nothing. `--device cpu --quick` runs every measurement at tiny sizes on the
CPU: tests/test_gpu_check.py runs it in CI, so the code that will run on the GPU has run at least
once on a CPU before.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from common import EXAMPLES, RESULTS, machine_info, median
from impasto.engine.device import select

ROOT = Path(__file__).resolve().parent.parent
OUT = RESULTS / "gpu"


@dataclass(frozen=True)
class Plan:
    """The sizes and counts of one run: the real one, or QUICK: every code path at tiny sizes
    (bfloat16 convolutions are emulated on most CPUs: slow)."""

    sizes: tuple[int, ...] = (512, 1024, 2048, 4096)
    iterations: int = 12  # per per_iteration job; the first is not timed
    bare_repeats: int = 5
    end_to_end: tuple[int, int] = (512, 500)  # size, iterations
    big: int = 4096
    big_iterations: int = 12
    tight: tuple[int, int] = (2048, 2048)  # size, memory budget in MB (tiles, host history)
    tile: int | None = None  # tiles of this side in the tight job, whatever its budget
    fast_sizes: tuple[int, ...] = (1024, 2048, 4096)
    fast_repeats: int = 3
    preview_size: int = 1024


QUICK = Plan((24, 32), 3, 2, (64, 10), 96, 3, (48, 200), 32, (64, 96), 1, 64)


@dataclass
class Run:
    """The measurements so far, the deadline, and what it left no room for."""

    device: str
    deadline: float
    sections: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def guarded(self, name: str, measure: Callable[[], dict[str, Any]]) -> None:
        """Run one measurement, unless the budget is spent; an error is recorded, not raised."""
        if time.monotonic() >= self.deadline:
            self.skipped.append(name)
            print(f"{name}: skipped (time budget spent)", flush=True)
            return
        start = time.monotonic()
        try:
            value: dict[str, Any] = measure()
        except Exception as e:  # out of memory, a driver error: recorded, and the check goes on
            value = error(e)
        with contextlib.suppress(Exception):  # a broken device fails the next one, not this
            release(self.device)
        self.sections[name] = value
        print(f"{name}: {time.monotonic() - start:.1f} s {value.get('error', 'ok')}", flush=True)


def error(e: Exception) -> dict[str, str]:
    return {"error": f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"[:300]}


def release(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def gpu_info(device: str) -> dict[str, Any]:
    """The GPU, its memory, and the driver, CUDA and cuDNN versions (empty on the CPU)."""
    if not device.startswith("cuda"):
        return {}
    props = torch.cuda.get_device_properties(torch.device(device))
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        driver = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = None
    return {
        "gpu": props.name,
        "gpu_memory_bytes": props.total_memory,
        "capability": f"{props.major}.{props.minor}",
        "gpu_count": torch.cuda.device_count(),
        "driver": driver,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "bf16_supported": torch.cuda.is_bf16_supported(),
    }


def commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "rev-parse", "HEAD"]
        return subprocess.run(git, cwd=ROOT, capture_output=True, text=True).stdout.strip() or None
    return None


# Device selection, bfloat16, channels-last (on CUDA, select("auto") is CUDA); not with --quick.
ALWAYS = ("tests/engine/test_compute_paths.py",)
OUTCOME = re.compile(r"(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS) ")
SKIP_WITHOUT_CUDA = re.compile(r"skipif\(\s*not torch\.cuda\.is_available\(\)")


def cuda_tests(root: Path = ROOT) -> list[str]:
    """Node ids of the tests that skip without CUDA (a skipif mark on a test, or a module's
    pytestmark), and the ALWAYS files."""
    found: list[str] = list(ALWAYS)
    for path in sorted((root / "tests").rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root).as_posix()
        for match in SKIP_WITHOUT_CUDA.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            if text[line_start : match.start()].lstrip().startswith("pytestmark"):
                found.append(rel)
                continue
            test = re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)", re.M).search(text, match.end())
            if test:
                found.append(f"{rel}::{test.group(1)}")
    return list(dict.fromkeys(found))


def run_tests(ids: list[str], timeout: float) -> dict[str, Any]:
    """pytest on the tests `ids`; the outcome of each test and the summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *ids]
    out = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    outcomes = [ln[:300] for ln in lines if OUTCOME.match(ln)]  # -rA's short summary
    return {
        "tests": ids,
        "returncode": out.returncode,
        "summary": lines[-1] if lines else out.stderr.strip()[-300:],
        "outcomes": outcomes,
    }


def pictures(size: int) -> tuple[Image.Image, Image.Image]:
    """The astronaut and the Hubble field, square at `size`."""
    # convert() loads the single-frame PNG, and Pillow then closes its file.
    ims = [Image.open(EXAMPLES / f"{n}.png").convert("RGB") for n in ("astronaut", "hubble")]
    content, style = (im.resize((size, size), Image.Resampling.LANCZOS) for im in ims)
    return content, style


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak(device: torch.device) -> Iterator[dict[str, int | None]]:
    """Peak memory in a block: torch.cuda.max_memory_allocated on CUDA; on a Linux CPU the
    resident memory's peak growth (VmHWM, reset through clear_refs)."""
    out: dict[str, int | None] = {"peak_bytes": None}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        yield out
        out["peak_bytes"] = int(torch.cuda.max_memory_allocated(device))
        return
    before = _status_bytes("VmRSS")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    yield out
    hwm = _status_bytes("VmHWM")
    out["peak_bytes"] = None if hwm is None or before is None else max(0, hwm - before)


def _status_bytes(key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def engine_job(engine: Any, size: int, iterations: int, **settings: Any) -> dict[str, Any]:
    """One job (one scale from the content unless `settings` say otherwise; None: the default):
    the median seconds per iteration (the first, which selects kernels, not counted), the whole
    job's time, its peak memory and its memory plan."""
    from impasto.engine import Job, Reporting, StyleSettings

    content, style = pictures(size)
    settings = {"scales": 1, "init": "content", **settings}
    extra = {k: v for k, v in settings.items() if v is not None}
    s = StyleSettings(size=size, iterations=iterations, **extra)
    plan = engine.memory_plan(size, size, s)
    stamps: list[float] = []
    device = engine.compute.device
    with peak(device) as mem:
        start = time.perf_counter()
        # The losses in each Progress are read from the device: a report follows a finished step.
        result = engine.stylize(
            Job(content, [style], s),
            Reporting(on_progress=lambda p: stamps.append(time.perf_counter())),
        )
        sync(device)
        total = time.perf_counter() - start
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    return {
        "size": size,
        "iterations": result.iterations,
        "scales": [list(sc) for sc in result.scales],
        "seconds_per_iteration": median(steps) if steps else total,
        "total_s": total,
        **mem,
        "tile": plan.tile,
        "history_on_host": plan.history_on_host,
        "budget_bytes": plan.budget,
        "loss": result.loss,
        "engine": result.device,
    }


def bare_pass(engine: Any, size: int, repeats: int) -> dict[str, Any]:
    """The floor of an iteration: VGG19 (the engine's module, in its arithmetic and layout)
    forward to relu5_1 and backward to the image; the median of `repeats` after one untimed."""
    device = engine.compute.device
    x = torch.rand(1, 3, size, size, device=device, requires_grad=True)
    times = []
    with peak(device) as mem:
        for i in range(repeats + 1):
            x.grad = None
            sync(device)
            start = time.perf_counter()
            engine.features(x, ["relu5_1"])["relu5_1"].float().sum().backward()
            sync(device)
            if i:
                times.append(time.perf_counter() - start)
    return {"seconds": median(times), **mem}


def per_iteration(
    device: str, plan: Plan, engines: dict[str, Any]
) -> Callable[[int, str], dict[str, Any]]:
    """A measurement per size and precision, the engine's job and the bare pass."""

    def measure(size: int, precision: str) -> dict[str, Any]:
        engine = engines[precision]
        job = engine_job(engine, size, plan.iterations)
        release(device)
        bare: dict[str, Any]
        try:
            bare = bare_pass(engine, size, plan.bare_repeats)
        except Exception as e:  # the job fitted (perhaps in tiles) but a whole pass does not
            bare = error(e)
        ratio = job["seconds_per_iteration"] / bare["seconds"] if "seconds" in bare else None
        return {**job, "precision": precision, "bare": bare, "ratio_to_bare": ratio}

    return measure


def fast_method(engine: Any, size: int, repeats: int) -> dict[str, Any]:
    """The fast method (one pass of the arbitrary-style network) at `size`: median seconds."""
    from impasto.engine import Job, StyleSettings

    if not engine.instant.available:
        return {"error": "the fast networks are not available here"}
    content, style = pictures(size)
    job = Job(content, [style], StyleSettings(size=size, method="fast"))
    engine.stylize(job)  # the first at a size selects kernels
    device = engine.compute.device
    times = []
    with peak(device) as mem:
        for _ in range(repeats):
            start = time.perf_counter()
            engine.stylize(job).picture  # noqa: B018 - the picture is on the host: synced
            sync(device)
            times.append(time.perf_counter() - start)
    return {"size": size, "seconds": median(times), **mem}


def fresh_job(
    device: str, size: int, iterations: int, budget_mb: int | None = None, **kw: Any
) -> dict[str, Any]:
    """A job on a fresh engine at the device's default precision, in its default memory budget
    (on CUDA, from mem_get_info) or in `budget_mb`; kw: engine_job's. A budget far below the
    size's gives exact tiles and, on CUDA, the L-BFGS history in pinned host memory."""
    from impasto.engine import Stylizer

    engine = Stylizer(device=device, memory_budget=None if budget_mb is None else budget_mb << 20)
    engine.warm_up(64)
    engine.tile_side = kw.pop("tile", None)
    return {"budget_mb": budget_mb, **engine_job(engine, size, iterations, **kw)}


def daemon_first_preview(device: str, size: int, timeout: float) -> dict[str, Any]:
    """A warm daemon (started, ready, one small job done): seconds from a `size` px job's
    submit to its first preview (previews every iteration); the job is then cancelled."""
    from impasto_protocol import Client, ConnectionLost, Pixels, Preview, Submit

    folder = Path(tempfile.mkdtemp(prefix="impasto-gpu-check-"))
    endpoint = f"ipc://{folder / 'daemon.sock'}"
    command = [sys.executable, "-m", "impasto", "daemon", "--endpoint", endpoint]
    command += ["--device", device, "--log", str(folder / "daemon.log")]
    started = time.perf_counter()
    with open(folder / "daemon.stderr", "wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    try:
        ready = None
        while ready is None:
            if proc.poll() is not None or time.perf_counter() - started > timeout:
                tail = (folder / "daemon.stderr").read_text(errors="replace")[-300:]
                raise RuntimeError(f"daemon not ready (exit {proc.poll()}): {tail}")
            with contextlib.suppress(ConnectionLost), Client(endpoint, timeout=2.0) as c:
                ready = welcome if (welcome := c.hello())["ready"] else None
            time.sleep(0.1 if ready is None else 0)
        ready_s = time.perf_counter() - started
        content, style = (Pixels.from_pil(im) for im in pictures(size))
        small = {"size": 64, "iterations": 2}
        with Client(endpoint, timeout=timeout) as c:
            c.submit(Submit(content, [style], small)).result()  # warm: kernels, fast networks
            t0 = time.perf_counter()
            handle = c.submit(Submit(content, [style], {"size": size}, preview_every=1))
            first: dict[int, float] = {}  # iteration 0 (the fast picture), then a step's
            for event in handle.events():
                if isinstance(event, Preview):
                    first.setdefault(min(event.progress.iteration, 1), time.perf_counter() - t0)
                    if 1 in first:
                        break
            handle.cancel()
            c.shutdown()
        proc.wait(timeout)
        return {
            "size": size,
            "daemon_device": ready.get("device"),
            "ready_s": ready_s,
            "first_preview_s": first.get(0, first.get(1)),
            "first_step_preview_s": first.get(1),
            "exit": proc.returncode,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def measure_all(run: Run, plan: Plan, budget: float) -> None:
    """Every measurement, guarded, in order of what matters most if the budget runs out."""
    device = run.device
    ids = [i for i in cuda_tests() if i not in ALWAYS or plan is not QUICK]
    run.guarded("tests", lambda: run_tests(ids, timeout=max(60.0, budget / 3)))
    engines: dict[str, Any] = {}

    def load() -> dict[str, str]:
        from impasto.engine import Stylizer

        for precision in ("float32", "bfloat16"):
            engines[precision] = Stylizer(device=device, precision=precision)
            engines[precision].warm_up(max(32, min(64, plan.sizes[0])))
        return {p: e.compute.describe() for p, e in engines.items()}

    run.guarded("engines", load)
    if not engines:
        return
    # The engine's default precision here (bfloat16 on CUDA where it is native).
    auto = engines["bfloat16" if select(device, "auto").bfloat16 else "float32"]
    run.guarded("end_to_end_512", partial(engine_job, auto, *plan.end_to_end))
    measure = per_iteration(device, plan, engines)
    for size in plan.sizes:  # both precisions at a size, then the next: the budget cuts sizes
        for precision in ("float32", "bfloat16"):
            run.guarded(f"per_iteration/{precision}/{size}", partial(measure, size, precision))
    for size in plan.fast_sizes:
        run.guarded(f"fast/{size}", partial(fast_method, auto, size, plan.fast_repeats))
    engines.clear()  # the GPU's memory to the daemon, then to each job's fresh engine
    release(device)
    preview = partial(daemon_first_preview, device, plan.preview_size, 120.0)
    run.guarded("daemon_first_preview", preview)
    job = partial(fresh_job, device, plan.big, plan.big_iterations, scales=None, init=None)
    run.guarded("job_4096", job)  # the defaults: the fast start, then the output size
    size, budget_mb = plan.tight
    tight = partial(fresh_job, device, size, plan.iterations, budget_mb, tile=plan.tile)
    run.guarded("job_4096/tight_budget", tight)


def summary(report: dict[str, Any]) -> str:
    """The run in markdown: the machine, then one line per measurement."""
    m = report["machine"]
    gpu = "no GPU, "
    if "gpu" in m:
        gpu = f"{m['gpu']} ({m['gpu_memory_bytes'] / 2**30:.1f} GiB), driver {m['driver']}, "
        gpu += f"CUDA {m['cuda']}, cuDNN {m['cudnn']}, "
    lines = [
        f"# GPU check: {m.get('gpu') or report['device']}, {m['date']}",
        "",
        f"- machine: {gpu}torch {m['torch']}, CPU {m['cpu']} ({m['logical_cpus']} logical)",
        f"- commit {report['commit']}; command `{m['command']}`",
        f"- time budget {report['budget_s']:.0f} s, used {report['elapsed_s']:.0f} s; skipped:"
        f" {', '.join(report['skipped']) or 'nothing'}",
        "",
        "| measurement | result |",
        "|---|---|",
    ]
    for name, value in report["sections"].items():
        lines.append(f"| {name} | {_cell(value)} |")
    return "\n".join(lines) + "\n"


SHOWN = ("seconds_per_iteration", "seconds", "total_s", "first_preview_s", "first_step_preview_s")


def _cell(v: dict[str, Any]) -> str:
    if "error" in v:
        return f"**error**: {v['error']}".replace("|", "/")
    if "summary" in v:
        return f"pytest: {v['summary']}".replace("|", "/")
    parts = [f"{k} {v[k]:.4g}" for k in SHOWN if isinstance(v.get(k), float)]
    if v.get("peak_bytes") is not None:
        parts.append(f"peak {v['peak_bytes'] / 2**20:.0f} MiB")
    if isinstance(v.get("bare"), dict) and "seconds" in v["bare"]:
        parts.append(f"bare {v['bare']['seconds']:.4g} s (x{v['ratio_to_bare']:.2f})")
    parts += [f"{k} {v[k]}" for k in ("iterations", "tile", "history_on_host") if k in v]
    return ", ".join(parts) or json.dumps(v)[:200].replace("|", "/")


def write(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    name = report["machine"].get("gpu") or report["device"]
    stem = f"{stamp}_{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}"
    (out / f"{stem}.md").write_text(summary(report))
    (path := out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: every code path, quickly")
    p.add_argument("--budget", type=float, default=420.0, help="seconds; then nothing new starts")
    p.add_argument("--out", type=Path, default=OUT, help="folder for the JSON and markdown")
    p.add_argument("--commit", default=commit(), help="default: git rev-parse HEAD (a copy: none)")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing to do")
        return 0
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    start = time.monotonic()
    run = Run(args.device, deadline=start + args.budget)
    report: dict[str, Any] = {
        "machine": {**machine_info(), **gpu_info(args.device)},
        "commit": args.commit,
        "device": args.device,
        "quick": args.quick,
        "budget_s": args.budget,
    }
    measure_all(run, QUICK if args.quick else Plan(), args.budget)
    report.update(sections=run.sections, skipped=run.skipped)
    report["elapsed_s"] = time.monotonic() - start
    path = write(report, args.out)
    print(f"wrote {path} and {path.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
