"""The README's scripting example, run exactly as written against a real daemon."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    part = text[text.index("### Scripting it from Python") :]
    match = re.search(r"```python\n(.*?)```", part, flags=re.S)
    assert match, "no python block under 'Scripting it from Python'"
    return match.group(1)


def test_the_readme_scripting_example_works_as_written(daemon, tmp_path: Path) -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 5
    examples = ROOT / "daemon" / "impasto" / "examples"
    # The example's file names, from the bundled images (small, so the run stays short).
    Image.open(examples / "astronaut.png").resize((96, 96)).save(tmp_path / "photo.jpg")
    Image.open(examples / "hubble.png").resize((96, 96)).save(tmp_path / "art.jpg")
    env = {**os.environ, "IMPASTO_ENDPOINT": daemon.endpoint}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=300
    )
    assert run.returncode == 0, run.stderr.decode()
    with Image.open(tmp_path / "painted.png") as out:
        assert out.size == (256, 256)
