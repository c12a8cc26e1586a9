"""benchmarks/figures.py: the documents' figures are the committed result files', and every one
of those files says where, when, at which commit and by which command it was measured.

Rendering needs no torch and runs no benchmark: it reads the committed JSON files and rewrites
the regions between `<!-- figure: NAME -->` markers. A hand edit inside a region, a result file
changed without rendering, or a region without a registered figure fails here.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import figures  # noqa: E402 - the repository root is not on the path


@pytest.mark.parametrize("document", sorted(figures.DOCUMENTS))
def test_rendering_the_committed_files_gives_the_committed_document(document: str) -> None:
    rendered = figures.render_document(document)
    assert rendered == (ROOT / document).read_text(), (
        f"{document} differs from what its result files give: run `make figures-render`"
    )


def test_every_region_is_registered_and_every_registered_region_is_in_a_document() -> None:
    found = [name for d in figures.DOCUMENTS for name in figures.region_names(d)]
    assert sorted(found) == sorted(figures.regions()), found
    assert len(found) == len(set(found)), "a region appears twice"


@pytest.mark.parametrize("figure", figures.FIGURES, ids=lambda f: f.name)
def test_every_registered_file_exists_and_says_where_when_and_how(
    figure: figures.Figure,
) -> None:
    assert figures.problems(figure) == []


@pytest.mark.parametrize("figure", figures.FIGURES, ids=lambda f: f.name)
def test_every_figure_has_a_command_unless_others_measure_it(figure: figures.Figure) -> None:
    files = set(figure.results) | set(figure.pending)
    measured_elsewhere = all(
        any(f in other.results + other.pending for other in figures.FIGURES if other.full)
        for f in files
    )
    assert figure.full or measured_elsewhere, figure.name
    if figure.quick:
        assert figure.quick_minutes > 0


def test_the_quick_set_stays_under_forty_minutes() -> None:
    assert sum(f.quick_minutes for f in figures.FIGURES) <= 40


def test_a_hand_edit_inside_a_region_is_put_back(tmp_path: Path) -> None:
    """The check that guards the documents can fail: a number typed into a region goes."""
    document = "benchmarks/RESULTS.md"
    text = (ROOT / document).read_text()
    marker = "<!-- figure: per-iteration -->\n"
    assert marker in text
    edited = text.replace(marker, marker + "| 128x128 | float32 | 1.05 |\n", 1)
    copy = tmp_path / "root"
    (copy / "benchmarks").mkdir(parents=True)
    (copy / document).write_text(edited)
    original = figures.ROOT
    try:
        figures.ROOT = copy
        assert figures.render_document(document) == text
    finally:
        figures.ROOT = original


def test_a_result_without_a_commit_is_a_problem_unless_listed(tmp_path: Path) -> None:
    figure = next(f for f in figures.FIGURES if f.name == "tiling")
    results = tmp_path / "results"
    results.mkdir()
    for rel in figure.results:
        shutil.copy(figures.RESULTS / rel, results / rel)
    assert figures.problems(figure, results) == []
    old = json.loads((results / "tiling_fixed.json").read_text())  # listed: measured before
    old["machine"]["commit"] = "0123456789abcdef0123456789abcdef01234567"
    (results / "tiling_fixed.json").write_text(json.dumps(old))
    assert figures.problems(figure, results) == [
        "tiling_fixed.json: has a commit now; take it off tiling's without_commit"
    ]
    new = json.loads((results / "tiling.json").read_text())  # not listed: must have one
    del new["machine"]["commit"]
    del new["machine"]["command"]
    (results / "tiling.json").write_text(json.dumps(new))
    problems = figures.problems(figure, results)
    assert "tiling.json: no commit" in problems and "tiling.json: no command" in problems


def test_an_unregistered_region_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "root"
    (copy / "benchmarks").mkdir(parents=True)
    (copy / "benchmarks" / "RESULTS.md").write_text(
        "<!-- figure: nothing-here -->\n<!-- /figure -->\n"
    )
    original = figures.ROOT
    try:
        figures.ROOT = copy
        with pytest.raises(ValueError, match="nothing-here"):
            figures.render_document("benchmarks/RESULTS.md")
    finally:
        figures.ROOT = original


def test_the_demo_caption_comes_from_the_demo_run(tmp_path: Path) -> None:
    """A demo record as readme_figure.py writes it renders the picture and its caption."""
    record = {
        "machine": {
            "date": "2026-12-07T22:00:00+00:00",
            "cpu": "Some CPU",
            "cpu_flags": ["avx2"],
            "logical_cpus": 2,
            "torch": "2.13.0+cpu",
            "torch_threads": 2,
            "precision": "float32",
            "command": "make demo",
            "commit": "0123456789abcdef0123456789abcdef01234567",
        },
        "run": {
            "width": 256,
            "height": 256,
            "iterations": 87,
            "seconds": 41.2,
            "scales": [[256, 256, 87]],
            "device": "cpu, float32 convolutions",
        },
    }
    (tmp_path / "demo.json").write_text(json.dumps(record))
    figure = next(f for f in figures.FIGURES if f.name == "demo")
    text = figure.regions["demo"](figure.source(tmp_path, "benchmarks/results/"))
    assert "![content, style and result of make demo](benchmarks/results/demo.png)" in text
    assert "87 iterations at 256 px, 41 s on Some CPU" in text
    assert "commit 0123456" in text


def test_commands_name_the_results_folder_as_any_clone_has_it(tmp_path: Path) -> None:
    inside = figures.expand("{python} x.py --out {results}/a.json", figures.RESULTS)
    assert inside[-1] == "benchmarks/results/a.json", inside
    outside = figures.expand("{python} x.py --out {results}/a.json", tmp_path)
    assert outside[-1] == f"{tmp_path}/a.json", outside
