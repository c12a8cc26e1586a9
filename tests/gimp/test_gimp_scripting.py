"""The README's Script-Fu example (tests/gimp/batch/stylize.scm), run as written in the real
GIMP 3.0's Script-Fu batch interpreter against a real daemon."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageChops

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

SIZE = (64, 48)


def test_script_fu_example(gimp: GimpHost, load_example) -> None:
    folder = gimp.shared / "scriptfu"  # /shared/scriptfu inside the root, as the example says
    folder.mkdir()
    photo = load_example("astronaut").resize(SIZE, Image.Resampling.LANCZOS).convert("RGB")
    photo.save(folder / "photo.png")
    load_example("hubble", 48).save(folder / "style.png")

    done = subprocess.run(gimp.command("stylize.scm"), capture_output=True, text=True)
    log = f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, log

    styled = Image.open(folder / "styled.png").convert("RGB")
    assert styled.size == SIZE
    # The style was applied to the whole layer (no selection): most samples changed.
    diff = ImageChops.difference(styled, photo)
    changed = sum(1 for value in diff.tobytes() if value > 8)
    assert changed > len(diff.tobytes()) // 2, f"only {changed} samples changed\n{log}"
    assert Image.open(folder / "photo.png").convert("RGB").tobytes() == photo.tobytes()
