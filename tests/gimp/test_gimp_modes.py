"""The three modes and the built-in styles in the real GIMP 3.0, against a real daemon:
Instant (one pass of a feed-forward network), Refine (the optimization from the instant
picture: its first preview is iteration 0), Paint with presets, presets without any style
image, and a trained style of the daemon's library. One GIMP session (batch/modes.py) makes
every call; each test checks one of them."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from impasto_protocol import Client

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

SIZE = (96, 64)
PRESETS = "3:1,17:0.5"
COVER = "my earlier result"  # an opaque layer above the source, as a renamed result would be
CALLS: dict[str, dict[str, Any]] = {
    "instant_style": {"style": True, "arguments": {"mode": "instant"}},
    "instant_presets": {"style": False, "arguments": {"mode": "instant", "presets": PRESETS}},
    "refine": {
        "style": True,
        "arguments": {"mode": "refine", "iterations": 6, "preview-every": 2},
    },
    "instant_trained": {"style": False, "arguments": {"mode": "instant", "trained": "hubble"}},
    "paint_presets": {
        "style": False,
        "arguments": {"mode": "paint", "presets": "7", "iterations": 3, "preview-every": 0},
    },
    "covered": {
        "style": True,
        "arguments": {"mode": "paint", "iterations": 3, "preview-every": 1},
        "cover": COVER,
    },
}


@pytest.fixture(scope="module")
def calls(gimp: GimpHost, load_example) -> dict[str, dict[str, Any]]:
    out = gimp.shared / "out" / "modes"
    out.mkdir(parents=True)
    load_example("astronaut").resize(SIZE, Image.Resampling.LANCZOS).save(out / "content.png")
    load_example("hubble", 64).save(out / "style.png")
    style = gimp.inside(out / "style.png")
    params = {
        "out": gimp.inside(out),
        "content": gimp.inside(out / "content.png"),
        "calls": {
            name: {
                "style": style if c["style"] else None,
                "arguments": c["arguments"],
                "cover": c.get("cover"),
            }
            for name, c in CALLS.items()
        },
    }
    (gimp.shared / "modes.json").write_text(json.dumps(params))
    done = subprocess.run(gimp.command("modes.py"), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "modes.json").read_text())


def _succeeded(call: dict[str, Any]) -> dict[str, Any]:
    assert call["status"] == "success", call
    assert call["source_unchanged"] and call["result_changed"], call
    assert call["result_size"] == list(SIZE) and len(call["layers"]) == 2, call
    assert call["layers"][0] == "Style transfer of " + call["layers"][1], call
    return dict(call["details"])


def test_instant_mode_is_one_fast_pass(gimp: GimpHost, calls: dict) -> None:
    details = _succeeded(calls["instant_style"])
    assert details["mode"] == "instant"
    assert details["settings"]["method"] == "fast", details["settings"]
    assert details["iterations"] == 0  # the fast method optimizes nothing
    # What the daemon itself recorded for the job.
    with Client(gimp.endpoint, timeout=5.0) as client:
        assert client.status(details["job"])["job"]["state"] == "done"


def test_presets_alone_need_no_style_image(calls: dict) -> None:
    details = _succeeded(calls["instant_presets"])
    settings = details["settings"]
    assert settings["method"] == "fast", settings
    assert (settings["presets"], settings["preset_blend"]) == ([3, 17], [1.0, 0.5]), settings


def test_refine_starts_from_the_instant_picture(calls: dict) -> None:
    call = calls["refine"]
    details = _succeeded(call)
    # The instant picture comes first; later previews may be dropped for a slow reader (SPEC
    # 8.2: the latest preview wins), so only their order is certain.
    assert details["preview_iterations"][0] == 0, details
    assert details["preview_iterations"] == sorted(details["preview_iterations"])
    assert call["previews"] == len(details["preview_iterations"]) >= 1
    assert details["iterations"] == 6
    assert (details["settings"]["method"], details["settings"]["init"]) == ("gatys", "fast")


def test_paint_with_presets_only(calls: dict) -> None:
    """The optimization takes a preset's swatch as its style image (SPEC section 6)."""
    details = _succeeded(calls["paint_presets"])
    settings = details["settings"]
    assert (settings["method"], settings["presets"], details["iterations"]) == ("gatys", [7], 3)
    assert settings["init"] != "fast"


def test_a_trained_style_of_the_daemons_library(calls: dict) -> None:
    """A trained style named in the `trained` argument, without a style image: the daemon
    paints with it (conftest trains `hubble` into the daemon's library)."""
    details = _succeeded(calls["instant_trained"])
    assert details["settings"]["method"] == "fast", details["settings"]
    assert "trained style hubble (fast)" in details["weights"], details["weights"]


def test_the_result_goes_on_top_of_an_opaque_layer(calls: dict) -> None:
    """With an opaque layer above the source (an earlier result the user renamed), the new
    layer goes on top of the stack: right above the source, that layer would hide its
    previews and the result. The source stays as it was."""
    call = calls["covered"]
    assert call["status"] == "success", call
    assert call["source_unchanged"] and call["result_changed"], call
    assert call["layers"] == ["Style transfer of Background", COVER, "Background"], call
    assert call["result_position"] == 0, call
    details = call["details"]
    assert call["previews"] >= 1, call
    # The first preview was on the canvas: no visible layer above it, itself switched on.
    assert details["first_preview_hidden_by"] == [], details
