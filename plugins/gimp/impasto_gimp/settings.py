"""From the procedure's arguments to the engine settings of a submit (pure Python, no GIMP).

The procedure's arguments are registered when GIMP queries the plug-in, long before any daemon
is reached, so they cannot carry the engine's defaults. They are therefore relative or
"0 = automatic": strength scales the daemon's own `style_weight` on a log scale (and below 50
blends with the photo, protocol 1.8's `amount`, where the daemon can), the quality
preset (impasto_protocol.policy, the same four as Krita's) gives the size and scales the
daemon's `iterations`, and the advanced text names settings that hello_reply's `defaults`
lists and types. An engine default lives only in the engine: the daemon says it.

What a mode (Instant / Refine / Paint) and a palette choice mean is decided once for every
client in `impasto_protocol.modes`; this module only parses the arguments that name them and
checks them against what the daemon said it can do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from impasto_protocol import policy
from impasto_protocol.modes import (
    DEFAULT_MODE,
    Features,
    Mode,
    parse_preset_text,
    preset_fields,
    settings_for,
)

PRESERVE_COLORS = tuple(policy.COLOR_LABELS)  # the values of preserve_color
# Settings the procedure has arguments of its own for; the advanced text may not set them.
OWN_ARGUMENTS = {
    "size": "size",
    "iterations": "iterations (or quality)",
    "style_weight": "strength",
    "amount": "strength",  # protocol 1.8: the blend with the photo below strength 50
    "preserve_color": "preserve-colors",
    "method": "mode",
    "presets": "presets",
    "preset_blend": "presets (index:weight)",
    "trained": "trained",
}


class SettingsInputError(ValueError):
    """A setting the user gave cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class Arguments:
    """The procedure arguments that become engine settings (names as in the procedure)."""

    mode: str = DEFAULT_MODE.value
    presets: str = ""  # "index:weight, ..." (parse_presets)
    strength: float = float(policy.DEFAULT_STRENGTH)  # 0..100, Krita's slider's scale
    quality: str = policy.AUTOMATIC  # or a policy.Quality value (resolve with `with_quality`)
    preserve_colors: str = "none"
    size: int = 0  # 0: from the quality preset
    iterations: int = 0  # 0: from the quality preset
    advanced: str = ""  # "name=value; name=v1,v2" over hello_reply's defaults
    trained: str = ""  # names of the daemon's trained styles, "hubble, my-painting"


def engine_settings(
    args: Arguments,
    defaults: dict[str, Any],
    region: tuple[int, int],
    features: Features,
    limits: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The submit's `settings` map. `defaults` and `limits` are hello_reply's; `region` the
    size of the pixels sent; `features` what the daemon can do. Raises SettingsInputError for
    bad input or for a mode the daemon cannot run."""
    mode = parse_mode(args.mode)
    mix = parse_presets(args.presets)
    check_features(mode, mix, features)
    quality = parse_quality(args.quality) or policy.DEFAULT_QUALITY
    if args.preserve_colors not in PRESERVE_COLORS:
        raise SettingsInputError(
            f"preserve-colors {args.preserve_colors!r} is not one of {', '.join(PRESERVE_COLORS)}"
        )
    if not 0 <= args.strength <= policy.STRENGTH_MAX or math.isnan(args.strength):
        raise SettingsInputError(f"strength {args.strength:g} is outside 0..{policy.STRENGTH_MAX}")
    settings = parse_advanced(args.advanced, defaults)
    settings.update(
        size=policy.job_size(args.size or quality.side, *region, limits or {}),
        iterations=args.iterations or quality.iterations(defaults),
        preserve_color=args.preserve_colors,
    )
    # The weight and, where the daemon blends (1.8), the blend with the photo; settings_for
    # keeps only the blend for Instant, whose network has no weight.
    settings.update(policy.strength_settings(args.strength, defaults, features.blends))
    settings.update(preset_fields(mix))
    trained = parse_trained(args.trained)
    if trained:
        if not features.trained:
            raise SettingsInputError(
                "trained styles need a daemon of protocol 1.5 or newer; this one is "
                f"{features.version[0]}.{features.version[1]}"
            )
        settings["trained"] = trained
    return settings_for(mode, settings)


def parse_trained(text: str) -> list[str]:
    """The trained styles' names, separated by commas or semicolons (a name may hold spaces),
    each once."""
    names: list[str] = []
    for name in (n.strip() for n in re.split(r"[,;]", text)):
        if name and name not in names:
            names.append(name)
    return names


def parse_quality(text: str) -> policy.Quality | None:
    """The preset a quality argument names; None for Automatic, which only a daemon's
    estimates resolve (`with_quality`; engine_settings alone takes the default preset)."""
    if text == policy.AUTOMATIC:
        return None
    try:
        return policy.Quality(text)
    except ValueError:
        valid = ", ".join([policy.AUTOMATIC] + [q.value for q in policy.Quality])
        raise SettingsInputError(f"quality {text!r} is not one of {valid}") from None


def with_quality(args: Arguments, quality: policy.Quality) -> Arguments:
    return replace(args, quality=quality.value)


def style_files(first: str | None, more: str) -> list[str]:
    """The style image files the arguments name: `style-file`'s path, then `style-paths`
    (separated by ';'), each once, in that order."""
    paths = [first] if first else []
    for path in (p.strip() for p in more.split(";")):
        if path and path not in paths:
            paths.append(path)
    return paths


def config_style_files(config: Any) -> list[str]:
    """style_files of a procedure config's `style-file` (a Gio.File) and `style-paths`."""
    gfile = config.get_property("style-file")
    return style_files(
        gfile.get_path() if gfile else None, config.get_property("style-paths") or ""
    )


def style_file_arguments(paths: list[str]) -> tuple[str | None, str]:
    """The `style-file` path and the `style-paths` text that name `paths` (style_files'
    inverse): the first file, and the others joined by ';'."""
    return (paths[0] if paths else None), ";".join(paths[1:])


NO_STYLE = "Choose a style first: add an image or a layer, or click a built-in or trained style."


def style_problem(files: list[str], layer: bool, presets: str, trained: str) -> str | None:
    """Why OK cannot paint yet, in one line, or None when a style is chosen: the dialog asks
    before it closes, so that the choices made in it are not lost to a failed run. `files`:
    the style images, `layer`: whether a style layer is chosen, `presets` and `trained`: the
    arguments' text."""
    try:
        mix = parse_presets(presets)
    except SettingsInputError as e:
        return str(e)
    if files or layer or any(weight > 0 for weight in mix.values()) or parse_trained(trained):
        return None
    return NO_STYLE


def parse_mode(text: str) -> Mode:
    try:
        return Mode(text)
    except ValueError:
        valid = ", ".join(m.value for m in Mode)
        raise SettingsInputError(f"mode {text!r} is not one of {valid}") from None


def check_features(mode: Mode, mix: Mapping[int, float], features: Features) -> None:
    """Refuse, in one line, what this daemon cannot run: Instant and Refine need its fast
    method, presets its built-in styles (and an index below their count)."""
    if mode is not Mode.PAINT and not features.fast:
        raise SettingsInputError(
            f"the {mode.label} mode needs the daemon's instant styles, and this daemon has "
            f"none ({features.why_no_instant()}); choose the Paint mode"
        )
    if not mix:
        return
    if features.presets <= 0:
        raise SettingsInputError(
            f"the daemon has no built-in styles ({features.why_no_instant()}); "
            "leave the presets empty"
        )
    unknown = [index for index in mix if index >= features.presets]
    if unknown:
        raise SettingsInputError(
            f"presets: there is no built-in style {unknown[0]}; "
            f"the daemon has {features.presets} (0-{features.presets - 1})"
        )


def parse_presets(text: str) -> dict[int, float]:
    """The presets argument, "3:1, 17:0.5" (or "3 17": weight 1), as {index: weight}
    (modes.parse_preset_text). Raises SettingsInputError naming the first mistake."""
    try:
        return parse_preset_text(text)
    except ValueError as e:
        raise SettingsInputError(f"presets: {e}") from None


def format_presets(mix: Mapping[int, float]) -> str:
    """The presets argument for a palette's choice: "3:1,17:0.5" (presets turned off left out)."""
    return ",".join(f"{index}:{weight:g}" for index, weight in sorted(mix.items()) if weight > 0)


def parse_advanced(text: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """Parse "name=value; name=v1, v2" (entries by ';' or new lines). Each value takes the type
    of the setting's default in `defaults`; lists split on commas or spaces."""
    out: dict[str, Any] = {}
    for entry in re.split(r"[;\n]", text):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, raw = entry.partition("=")
        name, raw = name.strip().replace("-", "_"), raw.strip()
        if not sep or not name:
            raise SettingsInputError(f"advanced setting {entry!r} is not name=value")
        if name in OWN_ARGUMENTS:
            raise SettingsInputError(
                f"advanced setting {name!r}: use the {OWN_ARGUMENTS[name]} argument instead"
            )
        if name not in defaults:
            valid = ", ".join(sorted(k for k in defaults if k not in OWN_ARGUMENTS))
            raise SettingsInputError(f"unknown advanced setting {name!r}; valid: {valid}")
        out[name] = _typed(name, raw, defaults[name])
    return out


def _typed(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, (list, tuple)):
            items = [item for item in re.split(r"[,\s]+", raw) if item]
            if name.endswith("_layers"):
                return items
            return [float(item) for item in items]
    except ValueError:
        kind = "a number" if not isinstance(default, (list, tuple)) else "numbers"
        raise SettingsInputError(f"advanced setting {name}: {raw!r} is not {kind}") from None
    return raw
