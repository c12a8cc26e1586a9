"""`make gpu-check` (benchmarks/gpu_check.py) before any GPU: its real script, run as CI runs it.

Without CUDA the default run says so in one line, exits 0 and writes nothing. `--device cpu
--quick` runs every measurement's code path at tiny sizes on the CPU, so the code a GPU machine
will run once has run here: the JSON must have every section, each with numbers, not errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))

import gpu_check  # noqa: E402 - from benchmarks/, as the script imports its neighbours

SECTIONS = (
    "tests",
    "engines",
    *(f"per_iteration/{p}/{s}" for p in ("float32", "bfloat16") for s in gpu_check.QUICK.sizes),
    "end_to_end_512",
    "job_4096",
    "job_4096/tight_budget",
    *(f"fast/{s}" for s in gpu_check.QUICK.fast_sizes),
    "daemon_first_preview",
)


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the real check")
def test_without_cuda_it_says_so_and_writes_nothing(tmp_path: Path) -> None:
    out = _run("--out", str(tmp_path / "gpu"), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "no CUDA device" in out.stdout
    assert not (tmp_path / "gpu").exists()


def test_the_cuda_only_tests_are_found() -> None:
    """The host-history test of L-BFGS skips without CUDA: the check runs it by its mark."""
    ids = gpu_check.cuda_tests()
    host = "tests/engine/test_lbfgs.py::test_a_history_on_the_host_takes_the_same_steps"
    assert host in ids
    assert all((ROOT / i.partition("::")[0]).is_file() for i in ids)


def _numbers(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.slow
def test_quick_cpu_run_exercises_every_measurement(tmp_path: Path) -> None:
    out = _run("--device", "cpu", "--quick", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = tmp_path.glob("*_cpu.json")
    assert path.with_suffix(".md").is_file()
    report = json.loads(path.read_text())
    assert report["skipped"] == []
    assert report["commit"] and report["machine"]["torch"] == torch.__version__
    assert set(report["sections"]) == set(SECTIONS)
    for name in SECTIONS:
        section = report["sections"][name]
        assert "error" not in section, f"{name}: {section['error']}"
    sections = report["sections"]
    assert sections["tests"]["returncode"] == 0 and sections["tests"]["outcomes"]
    for name in SECTIONS[2:]:
        assert _numbers(sections[name]), name
    for name in SECTIONS:
        if name.startswith("per_iteration/"):
            row = sections[name]
            assert row["seconds_per_iteration"] > 0 and row["bare"]["seconds"] > 0, name
    assert sections["end_to_end_512"]["iterations"] == gpu_check.QUICK.end_to_end[1]
    assert sections["job_4096/tight_budget"]["tile"] == gpu_check.QUICK.tile
    assert sections["daemon_first_preview"]["first_step_preview_s"] > 0
    assert sections["daemon_first_preview"]["exit"] == 0
