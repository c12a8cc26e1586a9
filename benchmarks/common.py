"""What every benchmark records beside its numbers: the machine, the software and the command.

A timing means nothing without the machine it was taken on, and a result cannot be reproduced
without the exact command; each results file carries both.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "daemon" / "impasto" / "examples"
RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU's model name as lscpu reports it (falls back to platform's guess)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            return value.strip()
    return "unknown"


def cpu_flags() -> list[str]:
    """The SIMD features that decide oneDNN's kernels (bfloat16 is native only with some)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = line.partition(":")[2].split()
            wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni")
            return [f for f in wanted if f in flags]
    return []


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages: a busy machine shows here."""
    try:
        return os.getloadavg()
    except OSError:
        return None


ROOT = Path(__file__).resolve().parent.parent
# What a result depends on: the engine, the protocol and the benchmark scripts themselves.
CODE_PATHS = ("daemon", "protocol", "benchmarks")


def git_commit() -> dict[str, Any]:
    """The commit the code ran at, and whether the engine, protocol or benchmarks differed from
    it (a figure from uncommitted code cannot be reproduced from the commit alone)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "modified": None}
    modified = sorted(line[3:] for line in changed if line.strip() and "/results/" not in line)
    return {"commit": head, "modified": modified}


def default_precision() -> str:
    """What the engine's `auto` precision resolves to on this machine's CPU."""
    return "bfloat16" if _mkldnn_bf16() else "float32"


def machine_info(moment: str = "start") -> dict[str, Any]:
    """Everything needed to judge whether two result files are comparable. `moment`: when in
    the run this is called, "start" or "end", which the load average's key says (a machine
    busy during a run shows at its end, not in a load taken before it). `precision` is what
    the engine's default (`auto`) runs its convolutions in here; a script that runs another
    precision records that beside its figures."""
    if moment not in ("start", "end"):
        raise ValueError(f"moment is 'start' or 'end', not {moment!r}")
    try:
        import pastiche

        pastiche_version = getattr(pastiche, "__version__", "unknown")
    except ImportError:  # pragma: no cover - the comparison needs it, the others do not
        pastiche_version = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn_bf16": _mkldnn_bf16(),
        "python": platform.python_version(),
        "pastiche": pastiche_version,
        "precision": default_precision(),
        f"load_average_at_{moment}": load_average(),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        **git_commit(),
    }


def _mkldnn_bf16() -> bool | None:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        return float("nan")
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
