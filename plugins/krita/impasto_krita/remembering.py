"""The docker's choices to and from the settings Krita keeps between sessions (Remembered):
what `docker.py` restores when it is built and saves on every change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from impasto_protocol.modes import Mode

from . import document
from .remembered import Remembered
from .settings_form import CUSTOM, PRESETS

log = logging.getLogger(__name__)


def restore(docker: Any, r: Remembered) -> None:
    """The docker's widgets set to what was remembered (a style file that is gone is left out)."""
    for path, weight in r.styles:
        if Path(path).is_file():
            docker.styles.add_style_file(path, weight)
        else:
            log.info("a remembered style image is gone: %s", path)
    if r.strength is not None:
        docker.strength.setValue(r.strength)
    if r.preset in (*PRESETS, CUSTOM):
        docker.preset.choose(r.preset)
    docker.selection_only.setChecked(r.selection_only)
    docker.styles.set_source(r.source)
    if r.mode in {m.value for m in Mode}:
        docker.mode.choose(Mode(r.mode))
    docker.palette.set_chosen(r.palette)
    docker.trained.set_chosen(r.trained)


def watch_changes(docker: Any, slot: Callable[..., None]) -> None:
    """`slot` called on every change of a remembered choice."""
    for signal in (
        docker.strength.valueChanged,
        docker.preset.currentIndexChanged,
        docker.selection_only.toggled,
        docker.styles.changed,
        docker.form.changed,
        docker.mode.changed,
        docker.palette.changed,
        docker.trained.changed,
    ):
        signal.connect(slot)


def remember(docker: Any, r: Remembered) -> None:
    """Save everything on every change: Krita keeps it in memory and writes kritarc when it
    quits; there is no 'closing' moment a docker could rely on."""
    r.styles = docker.styles.chosen_files()
    r.strength = docker.strength.value()
    r.preset = docker.preset.name()
    r.selection_only = docker.selection_only.isChecked()
    r.source = docker.styles.source.currentText()
    r.mode = docker.mode.chosen.value
    r.palette = docker.palette.chosen()
    r.trained = docker.trained.chosen()
    if docker.form.built:  # else keep what was remembered: the daemon never answered
        try:
            r.advanced = docker.form.values()
        except ValueError:
            pass  # a half-typed list: remember it once it reads
    r.save(document.save_krita_setting)
