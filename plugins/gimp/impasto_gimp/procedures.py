"""What the procedures (plugin.py's Style Transfer, frames_procedure.py's Style Transfer
(Animation), train_procedure.py's Train Instant Style) share: the plug-in's daemon config, the
arguments they have in common, the style images those name, and the return values of a run that
failed."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, GLib, GObject  # noqa: E402

from impasto_protocol import Pixels  # noqa: E402
from impasto_protocol.launcher import CONFIG_NAME, PluginConfig  # noqa: E402
from impasto_protocol.modes import Mode  # noqa: E402

from . import job, layers  # noqa: E402
from .settings import SettingsInputError, config_style_files  # noqa: E402

log = logging.getLogger(__name__)

RW = GObject.ParamFlags.READWRITE

_plugin_dir = ""  # the installed plug-in's folder, where impasto.json is


def set_plugin_dir(path: str) -> None:
    global _plugin_dir
    _plugin_dir = path


def plugin_config() -> PluginConfig:
    path = os.path.join(_plugin_dir, CONFIG_NAME)
    try:
        return PluginConfig.load(path)
    except ValueError as exc:
        raise job.DaemonError(str(exc)) from None


def error_values(procedure: Gimp.Procedure, message: str) -> Gimp.ValueArray:
    log.error("%s", message)
    return procedure.new_return_values(
        Gimp.PDBStatusType.EXECUTION_ERROR,
        GLib.Error.new_literal(GLib.quark_from_string("impasto"), message, 0),
    )


def progress_window(run_mode: Gimp.RunMode, training: bool = False) -> Any:
    """The plug-in's own progress window (dialog.ProgressWindow, with its graceful Cancel)
    for every run a user started from the menus: the dialog's (INTERACTIVE) and Filters >
    Repeat's (WITH_LAST_VALS: no dialog, but a user watching all the same). None for scripts
    (NONINTERACTIVE) and where GIMP has no display to show it on (gimp-console). `training`:
    Train Instant Style's window, not Style Transfer's."""
    if run_mode == Gimp.RunMode.NONINTERACTIVE or not Gimp.Display.name():
        return None
    from . import dialog  # GimpUi and Gtk only when there is a user to talk to

    return dialog.ProgressWindow(
        dialog.TRAINING_PROGRESS_TITLE if training else dialog.PROGRESS_TITLE
    )


def guarded_run(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    work: Callable[[Any], Gimp.ValueArray],
    training: bool = False,
) -> Gimp.ValueArray:
    """`work(ui)`, its return values, with the progress window (progress_window's, or None)
    open while it runs; what ends a run early becomes the return values instead: a problem
    the user can fix in one line, or a cancel."""
    ui = progress_window(run_mode, training)
    try:
        return work(ui)
    except (layers.HostError, SettingsInputError, job.DaemonError) as exc:
        return error_values(procedure, str(exc))
    except job.UserCancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    finally:
        if ui is not None:
            ui.close()


def success_values(procedure: Gimp.Procedure, *values: tuple[Any, Any]) -> Gimp.ValueArray:
    """A successful run's return values: `values`, (GType, value) pairs, in the order the
    procedure declared them, after the status."""
    out = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    for index, (gtype, value) in enumerate(values, start=1):
        out.remove(index)
        out.insert(index, GObject.Value(gtype, value))
    return out


def add_endpoint_argument(p: Gimp.Procedure) -> None:
    """The daemon to use instead of the configured one (every procedure takes it)."""
    p.add_string_argument(
        "endpoint", "Impasto serv_er (empty: the usual one)",
        "Where the Impasto daemon that paints runs, e.g. tcp://gpu-box:50571 for a faster "
        "computer (empty: the one set up when Impasto was installed)",
        "", GObject.ParamFlags.READWRITE,
    )  # fmt: skip


def add_style_arguments(p: Gimp.Procedure) -> None:
    """The style images: a file, a layer of an open image, more files (both procedures that
    paint take them, first among their arguments: Script-Fu calls by position)."""
    p.add_file_argument(
        "style-file", "Style _image", "An image file whose style is transferred",
        Gimp.FileChooserAction.OPEN, True, None, RW,
    )  # fmt: skip
    p.add_layer_argument(
        "style-layer", "Or a style la_yer",
        "A layer of an open image to take the style from (with a style image too: both, blended)",
        True, RW,
    )  # fmt: skip
    p.add_string_argument(
        "style-paths",
        "_More style images (paths, ';' between)",
        "Further style image files to blend in, separated by ';'",
        "",
        RW,
    )


def add_palette_arguments(p: Gimp.Procedure) -> None:
    """The built-in styles with their blend, and the trained styles, by name."""
    p.add_string_argument(
        "presets", "Chosen _built-in styles (number:weight)",
        "Which built-in styles paint and how much each counts: 3:1,17:0.5 is style 3 in full "
        "and style 17 at half weight. Clicking the swatches writes this; alone or beside style "
        "images (empty: none)",
        "", RW,
    )  # fmt: skip
    p.add_string_argument(
        "trained", "Your trained styles (na_mes)",
        "Styles you trained (Filters > Artistic > Train Instant Style, or impasto train), by "
        "name with ',' between, e.g. hubble, my-painting. Clicking their buttons writes this; "
        "alone or beside style images",
        "", RW,
    )  # fmt: skip


def config_styles(config: Gimp.ProcedureConfig, presets: bool) -> list[Pixels]:
    """The style images the arguments name; none is fine when built-in styles are given."""
    styles = []
    layer = config.get_property("style-layer")
    if layer is not None:
        styles.append(layers.layer_pixels(layer))
    styles += [layers.file_pixels(p) for p in config_style_files(config)]
    if not styles and not presets:
        raise layers.HostError(
            "no style: give a style image file, a style layer, built-in styles (presets) or "
            "trained styles"
        )
    return styles


def mode_choice() -> Gimp.Choice:
    """Instant / Refine / Paint, with the words impasto_protocol.modes gives every client."""
    choice = Gimp.Choice.new()
    for i, mode in enumerate(Mode):
        choice.add(mode.value, i, mode.label, mode.help)
    return choice
