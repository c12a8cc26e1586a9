"""The Makefile's promise to a first-time user: `make demo` installs what stylizing needs and
none of the extras (tests, linters, clusters, training photos); `make test` has them all.
Checked with `make -n` (what make would run) in an empty copy, so nothing is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str, tmp_path: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    # (--no-print-directory: under `make test` this make is a sub-make, which would otherwise
    # print the directory it enters and leaves around the commands)
    r = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout


def installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if "pip install" in line]


def test_make_demo_installs_torch_then_the_project_without_extras(tmp_path: Path) -> None:
    steps = installs(planned("demo", tmp_path))
    assert len(steps) == 2, steps
    assert '"torch==' in steps[0]
    assert steps[1].rstrip().endswith("-e .")
    assert "impasto stylize" in planned("demo", tmp_path)


def test_make_test_adds_every_extra_the_suite_needs(tmp_path: Path) -> None:
    steps = installs(planned("test", tmp_path))
    extras = steps[-1].split("-e ", 1)[1].strip("'\" ")
    assert extras == ".[test,dev,cluster,train]", steps


def test_make_demo_keeps_its_run_summary_for_the_readme_caption(tmp_path: Path) -> None:
    """The README's demo caption is written from the demo's own run (benchmarks/figures.py)."""
    lines = planned("demo", tmp_path).replace("\\\n", " ").splitlines()
    stylize = next(line for line in lines if "impasto stylize" in line)
    assert stylize.rstrip().endswith("--json > out/demo.json"), stylize


@pytest.mark.parametrize(
    ("target", "mode"),
    [("figures", "--quick"), ("figures-full", "--full"), ("figures-render", "--render")],
)
def test_make_figures_runs_the_registry(tmp_path: Path, target: str, mode: str) -> None:
    commands = planned(target, tmp_path)
    assert f"-m benchmarks.figures {mode}" in commands.splitlines()[-1], commands
    if mode != "--render":  # measuring needs the plots' matplotlib
        assert any(".[bench]" in line for line in installs(commands)), commands
