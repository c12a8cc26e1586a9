"""A layer's animation stylized through the docker in the real Krita (Debian's 5.1, under Xvfb),
against a real daemon: the "Whole animation" option, Start with the Instant mode and a built-in
style, the new animated layer, its undo, and Cancel.

The plug-in is installed with `impasto install krita` and runs as the user's docker; the
script harness (harness/impasto_script) runs harness/clip_steps.py inside Krita, which drives
the docker's widgets and records what happened; the pixels come back as files.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import krita_run
import numpy as np
import pytest
from krita_run import install, make_home
from PIL import Image

pytestmark = pytest.mark.krita

SCREENSHOTS = Path(__file__).resolve().parents[2] / "plugins" / "krita" / "screenshots"
W, H = 64, 48
KEYS = (0, 2, 5)


def run_steps(tmp_path: Path, resource_cache: Path, wheels: Path, endpoint: str) -> tuple:
    """Install the plug-in (the docker enabled) and the script harness; run the steps."""
    home = make_home(tmp_path / "krita", resource_cache)
    install(home, endpoint, [sys.executable, "-c", "pass"], wheels)
    rc = home.kritarc.read_text().replace("enable_impasto_e2e=true", "enable_impasto_script=true")
    home.kritarc.write_text(rc)
    return krita_run.run_steps(home, "clip_steps.py", resource_cache)


def image(out: Path, name: str) -> np.ndarray:
    data = (out / f"{name}.bin").read_bytes()
    assert len(data) == W * H * 4, f"{name}: {len(data)} bytes"
    return np.frombuffer(data, np.uint8).reshape(H, W, 4)


def test_whole_animation_through_the_docker(tmp_path, resource_cache, wheels, daemon) -> None:
    """The option names the frame count; the result is one new animated layer above the
    source, keyframes where the source has them, stylized; the source unchanged; one undo
    takes it away; a cancelled clip leaves no layer."""
    ev, out = run_steps(tmp_path, resource_cache, wheels, daemon.endpoint)
    option = ev["option"]
    assert option["text"] == "Whole animation (3 frames)" and not option["checked"], option
    assert "new animated layer" in option["tooltip"], option
    # Before Start, the estimate covers every frame (Instant: the daemon gives no time).
    assert option["estimate"].endswith("; whole animation: 3 frames, each in one quick pass")
    assert ev["done"]["outcome"] == "done", ev["done"]
    assert any(line.startswith("animation: frame ") for line in ev["done"]["lines"]), ev["done"]
    assert ev["names_before"] == ["Background", "source"], ev
    assert ev["names_after"][:2] == ["Background", "source"] and len(ev["names_after"]) == 3, ev
    name = ev["names_after"][2]
    assert re.fullmatch(r"Built-in style 3 \(instant, \d+ px, animation\)", name), name
    assert ev["new_keys"] == list(KEYS) and ev["source_keys"] == list(KEYS), ev
    for t in KEYS:
        assert np.array_equal(image(out, f"source_{t}"), image(out, f"written_{t}")), t
    assert not np.array_equal(image(out, "new_2"), image(out, "written_2"))
    assert not np.array_equal(image(out, "new_2"), image(out, "new_5"))  # each frame its own
    assert ev["undo_last"] == ["Add Layer"], ev["undo_last"]
    assert ev["names_undone"] == ["Background", "source"], ev
    assert ev["cancel"]["outcome"] == "cancelled", ev["cancel"]
    assert ev["names_cancelled"] == ["Background", "source"], ev
    # The pictures plugins/krita/README.md shows (the option ticked; the first frame back);
    # IMPASTO_UPDATE_SCREENSHOTS=1 copies them there.
    for name in ("docker_animation", "docker_animation_running"):
        with Image.open(out / f"{name}.png") as im:
            assert im.width > 150 and im.height > 300, (name, im.size)
        if os.environ.get("IMPASTO_UPDATE_SCREENSHOTS") == "1":
            (SCREENSHOTS / f"{name}.png").write_bytes((out / f"{name}.png").read_bytes())
