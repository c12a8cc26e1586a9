"""What both procedures (plugin.py's Style Transfer, train_procedure.py's Train Instant
Style) share: the plug-in's daemon config and the return values of a run that failed."""

from __future__ import annotations

import logging
import os
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, GLib, GObject  # noqa: E402

from impasto_protocol.launcher import CONFIG_NAME, PluginConfig  # noqa: E402

from . import job  # noqa: E402

log = logging.getLogger(__name__)

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


def add_endpoint_argument(p: Gimp.Procedure) -> None:
    """The daemon to use instead of the configured one (both procedures take it)."""
    p.add_string_argument(
        "endpoint", "Impasto serv_er (empty: the usual one)",
        "Where the Impasto daemon that paints runs, e.g. tcp://gpu-box:50571 for a faster "
        "computer (empty: the one set up when Impasto was installed)",
        "", GObject.ParamFlags.READWRITE,
    )  # fmt: skip
