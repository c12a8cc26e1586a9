"""Command-line options derived from StyleSettings, so a default or a limit lives in one place."""

from __future__ import annotations

import argparse
import dataclasses
from enum import Enum
from typing import Any

from ..engine.settings import StyleSettings, settings_fields


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


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
        kwargs["help"] = f"{meta['help']} (default: {shown})"
        group.add_argument(option_name(f.name), **kwargs)


def settings_from_args(args: argparse.Namespace, **extra: Any) -> StyleSettings:
    """StyleSettings from the options given; `extra` adds fields set by other means (--init)."""
    names = {f.name for f in dataclasses.fields(StyleSettings)}
    given = {k: v for k, v in vars(args).items() if k in names}
    given.update(extra)
    return StyleSettings(**given)
