"""Command-line options derived from StyleSettings, so a default or a limit lives in one place."""

from __future__ import annotations

import argparse
import dataclasses
from enum import Enum
from typing import Any

from impasto_protocol import modes
from impasto_protocol.modes import parse_preset_mix

from ..engine.settings import (
    NUM_PRESETS,
    InitMode,
    SettingsError,
    StyleSettings,
    check_method_fields,
    settings_fields,
)

# Settings set through an option of another shape than their field's.
OTHER_OPTIONS = {"presets": "--preset", "preset_blend": "--preset", "init": "--init"}


def option_name(field_name: str) -> str:
    return OTHER_OPTIONS.get(field_name) or "--" + field_name.replace("_", "-")


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """One option per StyleSettings field. Unset options stay out of the namespace
    (argparse.SUPPRESS), so StyleSettings supplies the default itself."""
    group = parser.add_argument_group("engine settings")
    for f in settings_fields():
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        default = f.default
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": f.name}
        shown = default
        if isinstance(default, Enum):
            kwargs["choices"] = [e.value for e in type(default)]
            shown = default.value
        elif isinstance(default, tuple):
            kwargs["nargs"] = "+"
            kwargs["metavar"] = meta.get("metavar") or "X"
            if not f.name.endswith("layers"):
                kwargs["type"] = float
            shown = " ".join(str(v) for v in default) or "equal"
        elif isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = type(default)
            kwargs["metavar"] = "N" if isinstance(default, int) else "X"
        kwargs["help"] = f"{meta['help']} (default: {meta.get('shown') or shown})"
        group.add_argument(option_name(f.name), **kwargs)


def settings_from_args(args: argparse.Namespace, **extra: Any) -> StyleSettings:
    """StyleSettings from the options given; `extra` adds fields set by other means (--init)."""
    names = {f.name for f in dataclasses.fields(StyleSettings)}
    given = {k: v for k, v in vars(args).items() if k in names}
    given.update(extra)
    return StyleSettings(**given)


def add_job_style_options(parser: argparse.ArgumentParser, init_help_default: str) -> None:
    """--init and --preset, which `stylize` and `submit` share."""
    parser.add_argument(
        "--init",
        metavar="content|noise|fast|PATH",
        help="starting image: the content, noise, the fast method's picture, or an image file"
        f" (default: {init_help_default})",
    )
    parser.add_argument(
        "--preset",
        nargs="+",
        metavar="K[:W]",
        help=f"built-in styles, 0-{NUM_PRESETS - 1}, each with a blend weight (default 1); with"
        " or without STYLE images. `impasto styles` shows them",
    )


def preset_fields(args: argparse.Namespace) -> dict[str, tuple[Any, ...]]:
    """The presets and their weights from --preset, as settings fields (a weight of 0: off)."""
    try:
        mix = parse_preset_mix(getattr(args, "preset", None) or [])
    except ValueError as e:
        raise SettingsError("presets", str(e)) from None
    fields = modes.preset_fields(mix)
    return {name: tuple(values) for name, values in fields.items()}


def init_choice(value: str | None) -> tuple[InitMode, str | None]:
    """--init's value: a mode, or a path (mode "image"); none given: the engine's default."""
    if value is None:
        return StyleSettings().init, None
    modes = (InitMode.CONTENT.value, InitMode.NOISE.value, InitMode.FAST.value)
    if value in modes:
        return InitMode(value), None
    return InitMode.IMAGE, value


def check_styles_and_method(args: argparse.Namespace, settings: StyleSettings) -> None:
    """A job needs a style image or a preset; the fast method refuses the optimization's
    settings when they are given explicitly (they would silently do nothing)."""
    if not args.styles and not getattr(args, "preset", None):
        raise SettingsError("styles", "give at least one STYLE image or --preset")
    names = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
    given = {k for k in vars(args) if k in names}
    if getattr(args, "init", None) is not None:
        given.add("init")
    check_method_fields(settings.method, given)
