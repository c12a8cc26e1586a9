"""The Script-Fu example in plugins/gimp/README.md is the file the GIMP tests run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_scheme_example_is_the_tested_file() -> None:
    readme = (ROOT / "plugins" / "gimp" / "README.md").read_text()
    blocks = re.findall(r"```scheme\n(.*?)```", readme, re.S)
    assert len(blocks) == 1
    tested = (Path(__file__).parent / "batch" / "stylize.scm").read_text()
    code = [line for line in tested.splitlines() if not line.startswith(";")]
    assert blocks[0].splitlines() == code
