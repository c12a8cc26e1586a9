"""benchmarks/clip_figures.py: the clips' strip of frames and per-frame plot, from one real run.

The script runs as a reader would run it, on the test clip (tests/data/clips/carphone_6.mp4, the
benchmark clip's first frames) at a tiny size: the pictures and the JSON they are drawn from
must come out, and the numbers must say what the figures show (consistent frames flicker less).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "clip_figures.py"
CLIP = ROOT / "tests" / "data" / "clips" / "carphone_6.mp4"
sys.path.insert(0, str(SCRIPT.parent))

import clip_figures  # noqa: E402 - from benchmarks/, as the script imports its neighbours


def test_round_tick_steps() -> None:
    assert clip_figures.tick_step(0.031) == pytest.approx(0.01)
    assert clip_figures.tick_step(0.0118) == pytest.approx(0.005)
    assert clip_figures.tick_step(7.0) == pytest.approx(2.0)


def test_the_change_rows_show_what_the_warping_error_counts() -> None:
    """A still clip: no change where the flow is consistent; a brighter output frame shows."""
    rng = np.random.default_rng(0)
    still = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = still // 2
    brighter = out.copy()
    brighter[..., 0] += 30
    inputs = [still, still, still]
    plain, lit = clip_figures.change(inputs, [out, out, brighter], 1, 2)
    assert plain.shape == lit.shape == (48, 64, 3)
    counted = (plain != clip_figures.EXCLUDED).any(axis=2)
    assert counted.mean() > 0.9
    assert not plain[counted].any()
    assert (lit[counted] == 10 * clip_figures.GAIN).all()  # 30 in one channel of three


@pytest.mark.slow
def test_one_run_draws_both_figures_from_its_numbers(tmp_path: Path) -> None:
    args = ["--clips", str(CLIP), "--frames", "5", "--size", "64"]
    args += ["--strip-from", "1", "--strip-count", "3", "--out", str(tmp_path)]
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads((tmp_path / "figures.json").read_text())
    assert data["machine"]["command"].endswith(" ".join(args))
    assert data["commit"] and data["strip"]["frames"] == [1, 2, 3]
    (clip,) = data["clips"]
    assert clip["clip"] == CLIP.name and clip["frames"] == 5
    free, kept = clip["runs"]
    assert (free["temporal"], kept["temporal"]) == (0, data["temporal"]) and kept["temporal"] > 0
    for series in (clip["floor_per_frame"], free["warping_error_per_frame"]):
        assert len(series) == 4 and all(v > 0 for v in series)
    assert kept["warping_error"] < free["warping_error"]
    w, h = clip["size"]
    with Image.open(tmp_path / "strip_carphone_6.png") as strip:
        assert strip.size[0] == 3 * w + 4 * clip_figures.GAP and strip.size[1] > 5 * h
    with Image.open(tmp_path / "warping_error_per_frame.png") as plot:
        colours = {c for _, c in plot.convert("RGB").getcolors(1 << 20)}
        assert {clip_figures.INDEPENDENT, clip_figures.CONSISTENT} <= colours
