"""The GIMP procedure `plug-in-impasto-train-style` (Filters > Artistic > Train Instant
Style...): a style image, a file or a layer, becomes a trained style of the daemon's library
(protocol 1.6, `train`). The Style Transfer dialog's palette then shows it beside the built-in
styles, and Instant paints with it in a fraction of a second.

A training takes minutes on a GPU and longer on a CPU; it runs while GIMP is used for other
things, and makes way for stylizations on the daemon. Its Cancel (the progress window's)
leaves the daemon's checkpoint: the same style, name and steps again go on from there. GIMP's
status-bar Cancel kills the plug-in, and the daemon then stops the training at its heartbeat
timeout, keeping the checkpoint too (the job is not detached, as job.py says).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, GObject  # noqa: E402

from impasto_protocol import Pixels, Progress, policy  # noqa: E402
from impasto_protocol.messages import style_name_from, style_name_problem  # noqa: E402
from impasto_protocol.modes import Features  # noqa: E402
from impasto_protocol.submission import GIMP_CLIENT, build_train, job_label  # noqa: E402

from . import job, layers  # noqa: E402
from .procedures import (  # noqa: E402
    add_endpoint_argument,
    guarded_run,
    plugin_config,
    success_values,
)

log = logging.getLogger(__name__)

PROC_NAME = "plug-in-impasto-train-style"
RW = GObject.ParamFlags.READWRITE


def create(plugin: Gimp.PlugIn, name: str) -> Gimp.Procedure:
    p = Gimp.ImageProcedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run, None)
    p.set_image_types("*")
    p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)  # with or without an image
    p.set_menu_label("Train Instant Style...")
    p.add_menu_path("<Image>/Filters/Artistic")
    p.set_documentation(
        "Train a style image as an instant style of the Impasto daemon",
        "Trains a network for the style of an image file or a layer, on the daemon, and keeps"
        " it in the daemon's library under a name: Style Transfer then offers it beside the"
        " built-in styles, and its Instant mode paints with it in a fraction of a second.",
        name,
    )
    p.set_attribution("Impasto", "Impasto", "2026")
    p.add_file_argument(
        "style-file", "Style _image", "The image file whose style is trained",
        Gimp.FileChooserAction.OPEN, True, None, RW,
    )  # fmt: skip
    p.add_layer_argument(
        "style-layer", "Or a style la_yer", "A layer of an open image to train (before the file)",
        True, RW,
    )  # fmt: skip
    p.add_string_argument(
        "name", "_Name (empty: the file's or layer's)",
        "The trained style's name in the daemon's library; a style of that name is replaced",
        "", RW,
    )  # fmt: skip
    p.add_int_argument(
        "steps", "Training s_teps (0: the usual number)",
        "How long the training runs: more steps come closer to the style and take longer "
        "(0: the daemon's usual number)",
        0, 100000, 0, RW,
    )  # fmt: skip
    add_endpoint_argument(p)
    p.add_string_return_value("trained-name", "Trained name", "The trained style's name", "", RW)
    p.add_string_return_value(
        "details", "Details", "JSON: job id, steps, time, losses, device, ...", "", RW
    )
    return p


def run(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image | None,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: Any,
) -> Gimp.ValueArray:
    if run_mode == Gimp.RunMode.INTERACTIVE:
        from . import dialog  # GimpUi and Gtk only when there is a user to talk to

        if not dialog.training_dialog(procedure, config):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        _remember(procedure, config)
    return guarded_run(procedure, run_mode, lambda ui: _train(procedure, config, ui), True)


def last_values_path(procedure: Gimp.Procedure) -> str:
    """The file GIMP 3.0 keeps a procedure's last values in (its config folder's
    plug-in-settings), which the next dialog opens with."""
    name = f"GimpProcedureConfigRun-{procedure.get_name()}.last"
    return os.path.join(Gimp.directory(), "plug-in-settings", name)


def _remember(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> None:
    """Write the values OK was pressed with where GIMP keeps the last values: GIMP saves them
    only when a run succeeds, and a training is often cancelled (to go on later from its
    checkpoint), after which the dialog forgot its style image. GIMP's serializer is not
    reachable from Python (PyGObject does not see the config as a Gimp.Config), so the few
    lines are written in its format here; the style layer, an object, is not kept (GIMP
    keeps none either)."""
    path = last_values_path(procedure)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(serialized(config))
        os.replace(path + ".tmp", path)
    except OSError as exc:  # remembering is a courtesy, never a failure
        log.warning("cannot remember the training's values in %s: %s", path, exc)


def serialized(config: Gimp.ProcedureConfig) -> str:
    """The training's file, name, steps and endpoint as GIMP's config files write them."""
    gfile = config.get_property("style-file")
    lines = ["# Train Instant Style: the values of the last run started with OK", ""]
    if gfile is not None and gfile.get_uri():
        lines.append(f"(style-file {_quoted(gfile.get_uri())})")
    lines.append(f"(name {_quoted(config.get_property('name') or '')})")
    lines.append(f"(steps {int(config.get_property('steps'))})")
    lines.append(f"(endpoint {_quoted(config.get_property('endpoint') or '')})")
    return "\n".join([*lines, "", "# end of settings", ""])


def _quoted(text: str) -> str:
    """A string as GIMP's config writer quotes it: backslash and quote escaped, control
    characters as octal escapes."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 32:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _style(config: Gimp.ProcedureConfig) -> tuple[Pixels, str]:
    """The one style image the arguments name, and the name it suggests. A layer goes before
    a file: the dialog remembers the last file, and its file button cannot be emptied."""
    layer = config.get_property("style-layer")
    gfile = config.get_property("style-file")
    if layer is not None:
        return layers.layer_pixels(layer), layer.get_name() or "layer"
    if gfile is None or not gfile.get_path():
        raise layers.HostError("no style: give the style image file or layer to train")
    path = gfile.get_path()
    return layers.file_pixels(path), os.path.splitext(os.path.basename(path))[0]


def _train(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, ui: Any) -> Gimp.ValueArray:
    given = (config.get_property("name") or "").strip()
    problem = style_name_problem(given) if given else None
    if problem is not None:  # before any pixels are read or the daemon is reached
        raise layers.HostError(f"name: {problem}")
    style, suggested = _style(config)
    name = given or style_name_from(suggested)
    steps = config.get_property("steps")
    Gimp.progress_init(f"Training {name!r}")
    status = ui.status if ui is not None else (lambda text: Gimp.progress_set_text(text))
    hooks = job.Hooks(idle=ui.pump if ui is not None else (lambda: False), status=status)
    hooks.progress = lambda p: _show_progress(p, name, status, ui)
    client = job.connect(plugin_config(), config.get_property("endpoint") or None, hooks)
    try:
        if not Features.from_hello(client.welcome or {}).trains:
            raise job.DaemonError(
                f"the daemon at {client.endpoint} does not train styles (it is older than"
                " protocol 1.6, or a cluster daemon)"
            )
        request = build_train(
            style,
            name,
            {"steps": steps} if steps > 0 else {},
            label=job_label(GIMP_CLIENT, f"train {name}"),
            overwrite=True,  # the name was asked for: a style of that name is replaced
        )
        try:
            outcome = job.run(client, request, hooks)
        except job.UserCancelled as exc:
            _say_cancelled(name, exc.checkpoint, ui)
            raise
        Gimp.progress_update(1.0)
        Gimp.progress_end()
    finally:
        client.close()
    info = outcome.result.info
    details = {
        "job": outcome.job,
        "endpoint": client.endpoint,
        **{k: info.get(k) for k in ("name", "kind", "steps", "resumed_from", "losses")},
        **{k: info.get(k) for k in ("elapsed", "device", "photos", "settings")},
    }
    return success_values(
        procedure, (GObject.TYPE_STRING, name), (GObject.TYPE_STRING, json.dumps(details))
    )


def _show_progress(p: Progress, name: str, status: Any, ui: Any) -> None:
    fraction = p.iteration / p.total if p.total else 0.0
    Gimp.progress_update(fraction)
    status(policy.training_text(name, p))
    if ui is not None:
        ui.fraction(fraction)


def cancelled_text(name: str, checkpoint: int | None) -> str:
    """What became of a training cancelled in its window, in the words Krita's panel uses."""
    if checkpoint:
        return (
            f"The training of {name!r} was cancelled at step {checkpoint}, which is kept: "
            "Train Instant Style again with the same style, name and steps goes on from there"
        )
    return f"The training of {name!r} was cancelled before its first checkpoint: it starts over"


def _say_cancelled(name: str, checkpoint: int | None, ui: Any) -> None:
    """Tell the user (a run started from the menus) what became of the training: GIMP shows
    nothing for a cancelled run."""
    text = cancelled_text(name, checkpoint)
    log.info("training cancelled: %s", text)
    if ui is not None:
        Gimp.message(text)
