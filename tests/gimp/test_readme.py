"""The scripting examples in plugins/gimp/README.md are the files the GIMP tests run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = Path(__file__).parent / "batch"


def _blocks(language: str) -> list[list[str]]:
    readme = (ROOT / "plugins" / "gimp" / "README.md").read_text()
    return [b.splitlines() for b in re.findall(rf"```{language}\n(.*?)```", readme, re.S)]


def _below_header(path: Path, comment: str) -> list[str]:
    """The file without its opening comment lines (which say how the tests run it)."""
    lines = path.read_text().splitlines()
    while lines and lines[0].startswith(comment):
        lines.pop(0)
    return lines


def test_readme_scheme_example_is_the_tested_file() -> None:
    tested = (BATCH / "stylize.scm").read_text()
    code = [line for line in tested.splitlines() if not line.startswith(";")]
    assert _blocks("scheme") == [code]


def test_readme_python_example_is_the_tested_file() -> None:
    assert _blocks("python") == [_below_header(BATCH / "example.py", "#")]
