"""Train Instant Style in the real GIMP 3.0, against a real daemon: a style image file, and a
layer, each become a trained style of the daemon's library, named after the file or the layer
(or as asked); Style Transfer's Instant mode then paints with it. A bad name and a missing style
get one line each, before anything reaches the daemon. One GIMP session (batch/train.py) makes
every call."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from impasto.engine.trained import TrainedStyle

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

CALLS: dict[str, dict[str, Any]] = {
    "bad_name": {"style": True, "arguments": {"name": "a/b", "steps": 2}},
    "no_style": {"arguments": {"steps": 2}},
    "file": {"style": True, "arguments": {"steps": 2}},
    "layer": {"style": True, "layer": "sky/layer", "arguments": {"steps": 1}},
}
# The file's stem; the layer's name, made valid (the layer call names the file too: the
# layer goes first, as the dialog remembers the last file).
TRAINED = ("my painting", "sky_layer")


@pytest.fixture(scope="module")
def calls(gimp: GimpHost, load_example) -> Any:
    out = gimp.shared / "out" / "train"
    out.mkdir(parents=True)
    load_example("astronaut").resize((64, 48), Image.Resampling.LANCZOS).save(out / "photo.png")
    load_example("hubble", 64).save(out / "my painting.png")
    style = gimp.inside(out / "my painting.png")
    params = {
        "out": gimp.inside(out),
        "content": gimp.inside(out / "photo.png"),
        "trained": TRAINED[0],
        "calls": {
            name: {**c, "style": style if c.get("style") else None} for name, c in CALLS.items()
        },
    }
    (gimp.shared / "train.json").write_text(json.dumps(params))
    library = gimp.shared / "styles"
    try:
        done = subprocess.run(gimp.command("train.py"), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        found = {name: (library / f"{name}.style").exists() for name in TRAINED}
        yield json.loads((out / "train.json").read_text()), found, library
    finally:  # the session's other tests expect the daemon's library as conftest made it
        for name in TRAINED:
            (library / f"{name}.style").unlink(missing_ok=True)


def test_a_style_file_and_a_layer_become_trained_styles(calls) -> None:
    got, found, library = calls
    for call, name, steps in (("file", TRAINED[0], 2), ("layer", TRAINED[1], 1)):
        ev = got[call]
        assert ev["status"] == "success", ev
        assert ev["name"] == name, ev
        details = ev["details"]
        assert (details["name"], details["kind"], details["steps"]) == (name, "fast", steps)
        assert details["settings"]["steps"] == steps and details["job"], details
        assert set(details["losses"]) == {"loss", "content", "style", "tv"}, details
        assert found[name], f"{name}.style is not in the daemon's library"
    assert TrainedStyle.load(library / f"{TRAINED[0]}.style").settings["steps_done"] == 2


def test_it_is_in_the_filters_menu(calls) -> None:
    got, _, _ = calls
    assert got["menu"] == {
        "label": "Train Instant Style...",
        "paths": ["<Image>/Filters/Artistic"],
    }, got["menu"]


def test_instant_paints_with_the_style_just_trained(calls) -> None:
    got, _, _ = calls
    ev = got["stylize"]
    assert ev["status"] == "success", ev
    assert ev["details"]["settings"]["trained"] == [TRAINED[0]], ev
    assert f"trained style {TRAINED[0]} (fast)" in ev["details"]["weights"], ev


@pytest.mark.parametrize(
    ("call", "message"),
    [("bad_name", "name: '/' cannot be in a trained style's name"), ("no_style", "no style")],
)
def test_a_bad_training_gets_one_line(calls, call: str, message: str) -> None:
    got, _, library = calls
    ev = got[call]
    assert ev["status"] == "execution-error", ev
    assert message in ev["error"] and "\n" not in ev["error"].strip(), ev
    assert not (library / "a_b.style").exists() and not (library / "a.style").exists()
