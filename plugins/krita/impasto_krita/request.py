"""From what the docker's widgets say (a StyleChoice) to what a job asks for (a JobRequest).

The docker holds widgets only: it reads them into a StyleChoice, plain data. Here the style
files are loaded (at most STYLE_MAX_SIDE: the daemon scales styles to the output anyway) or the
style layer is read, and the wire settings are built: the trained styles, the blend of every
style's weight, the style weight of the strength (by the daemon's current defaults) and the
name the result layer gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from impasto_protocol import ClipRequest, Pixels, policy
from impasto_protocol.modes import Mode, preset_fields, settings_for
from impasto_protocol.submission import KRITA_CLIENT, job_label

from . import imaging, sizes
from .host import Document, HostError

STYLE_MAX_SIDE = 1024  # style images are sent at most this large (the daemon rescales them)
# A replacement runs at least this many iterations (never more than the job asked for): one
# that came at the very end would otherwise not show the new strength at all.
MIN_REPLACEMENT_ITERATIONS = 10


def preset_name(k: int) -> str:
    """How a built-in style is named in layer names and tooltips: presets have numbers only
    (the command line's `--preset K` takes the same number), as in the GIMP plug-in."""
    return f"Built-in style {k}"


@dataclass
class StyleChoice:
    """The docker's state: `files` the style list's (path, weight) rows, `layer` the style
    layer's name when the style comes from a layer (None: from the files), `presets` the
    palette's {number: weight}, `trained` the ticked trained styles this daemon has,
    `strength` 0..100, `settings` the Advanced form's values by name."""

    files: list[tuple[str, float]] = field(default_factory=list)
    layer: str | None = None
    presets: dict[int, float] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    strength: int = policy.DEFAULT_STRENGTH
    settings: dict[str, Any] = field(default_factory=dict)
    selection_only: bool = True
    mode: Mode = Mode.PAINT
    quality: str = ""  # the preset whose size `settings` holds ("" for none: Custom)


@dataclass
class JobRequest:
    """What the user asked for; `settings` are engine settings by name (hello_reply.defaults),
    before the mode's own; `presets` the palette's built-in styles {number: blend weight}."""

    styles: list[Pixels]
    style_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    selection_only: bool = True
    mode: Mode = Mode.PAINT
    presets: dict[int, float] = field(default_factory=dict)
    quality: str = ""  # the preset whose size `settings` holds (see sizes.quality_side())


def replacement_iterations(iteration: int, total: int, asked: Any = None) -> int:
    """The iterations of a replacement made at `iteration` of `total` (a strength change
    while a job runs). It goes on from the current picture at full size, so it runs the
    replaced job's remaining iterations and ends about when that job would have: the whole
    count again (`asked`, the daemon's default when absent) would make a strength change
    cost more than starting over."""
    rest = max(0, total - iteration)
    floor = MIN_REPLACEMENT_ITERATIONS
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
        floor = min(floor, asked)
    return max(rest, floor)


def styles_counted(choice: StyleChoice) -> int:
    """How many style images a job of `choice` sends (the layer counts as one)."""
    return 1 if choice.layer is not None else len(choice.files)


def job_request(
    choice: StyleChoice,
    doc: Document | None,
    defaults: Mapping[str, Any],
    load: bool = True,
    blends: bool = False,
) -> JobRequest:
    """The request for `choice`; `defaults`: the daemon's current engine defaults (the
    strength's scale). Without `load` (for an estimate) no style is read and the settings are
    only the form's and the trained styles'. HostError for a missing or unreadable style."""
    settings = dict(choice.settings)
    if choice.trained:  # the daemon's trained styles join the images, weighed after them
        settings["trained"] = list(choice.trained)
    if not load:
        return JobRequest(
            [], "", settings, choice.selection_only, choice.mode, choice.presets, choice.quality
        )
    styles, weights, name = _styles(choice, doc, bool(choice.presets) or bool(choice.trained))
    blend = weights + [1.0] * len(choice.trained)
    if len(blend) > 1 or (blend and choice.presets):  # normalized together with the presets'
        settings["style_blend"] = blend
    # The style weight and, where the daemon `blends` (protocol 1.8), the blend with the photo
    # (Instant keeps only the blend: settings_for drops the weight).
    settings.update(policy.strength_settings(choice.strength, defaults, blends))
    names = (name, *(preset_name(k) for k in choice.presets), *choice.trained)
    return JobRequest(
        styles,
        " + ".join(n for n in names if n),
        settings,
        choice.selection_only,
        mode=choice.mode,
        presets=dict(choice.presets),
        quality=choice.quality,
    )


def _styles(
    choice: StyleChoice, doc: Document | None, optional: bool
) -> tuple[list[Pixels], list[float], str]:
    """The style images, their weights and their names for the result layer; none at all is
    fine when built-in or trained styles are chosen (`optional`)."""
    if choice.layer is not None:
        pixels = _layer(doc, choice.layer)
        if pixels is None:
            if optional:
                return [], [], ""
            raise HostError("choose the layer that holds the style")
        return [pixels], [1.0], choice.layer
    styles, weights, names = [], [], []
    for path, weight in choice.files:
        styles.append(load_style_file(path))
        weights.append(weight)
        names.append(imaging.style_name(path))
    if not styles and not optional:
        raise HostError("add a style image first, or choose a built-in style")
    return styles, weights, " + ".join(names)


def style_to_train(paths: list[str], layer: str | None, doc: Document | None) -> tuple[Pixels, str]:
    """The one style Train turns into a trained style, with its name: the style layer, or
    the one file of `paths` (the list's selected rows, or all of them)."""
    if layer is not None:
        pixels = _layer(doc, layer)
        if pixels is None:
            raise HostError("choose the layer that holds the style to train")
        return pixels, layer
    if not paths:
        raise HostError("add the style image to train first")
    if len(paths) > 1:
        raise HostError("several style images: select the one to train in the list")
    return load_style_file(paths[0]), imaging.style_name(paths[0])


def load_style_file(path: str) -> Pixels:
    try:
        return imaging.load_style_file(path, STYLE_MAX_SIDE)
    except ValueError as e:
        raise HostError(str(e)) from None


def _layer(doc: Document | None, name: str) -> Pixels | None:
    return None if doc is None or not name else doc.read_style_layer(name)


def job_settings(
    request: JobRequest, width: int, height: int, welcome: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A job's wire settings for a width x height area, the same for a still and a clip: the
    size within the area and the daemon's limits, then the mode's own settings and the
    palette's presets."""
    settings = dict(request.settings)
    size = settings.get("size")  # 0: the area's own; absent before the form is built
    side = size if isinstance(size, int) else policy.DEFAULT_QUALITY.side
    preset = sizes.quality_side(request.quality, width, height)  # near the area's own: that
    side = side if preset is None else preset
    limits = (welcome or {}).get("limits") or {}
    settings["size"] = policy.job_size(side, width, height, limits)
    settings = settings_for(request.mode, settings)
    settings.update(preset_fields(request.presets))
    return settings


def clip_request(
    request: JobRequest, width: int, height: int, frames: int, welcome: Mapping[str, Any] | None
) -> ClipRequest:
    """The clip job of `frames` whole-image frames for `request`: the settings, styles and
    label a still of that size would have, the frames and results in BGRA as a still's
    pixels travel (Krita's own order: no conversion on either side)."""
    return ClipRequest(
        frames,
        width,
        height,
        layout="BGRA",
        styles=list(request.styles),
        settings=job_settings(request, width, height, welcome),
        result_layout="BGRA",
        label=job_label(KRITA_CLIENT, request.style_name),
    )


def result_name(
    style: str, mode: Mode, settings: Mapping[str, Any], defaults: Mapping[str, Any]
) -> str:
    """A result layer's name: the style and what sets this result apart from others, the
    mode, the strength it ended with (after any change while it ran) and its size."""
    words = [mode.value]
    weight = settings.get("style_weight")
    if mode is not Mode.INSTANT and isinstance(weight, (int, float)) and weight > 0:
        words.append(f"strength {round(policy.strength_of(weight, defaults))}")
    elif mode is Mode.INSTANT and isinstance(settings.get("amount"), (int, float)):
        words.append(f"strength {round(settings['amount'] * policy.BLEND_BELOW)}")
    words.append(f"{settings.get('size')} px")
    return f"{style} ({', '.join(words)})"
