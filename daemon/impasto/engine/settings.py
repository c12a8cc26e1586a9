"""Every engine default in one place.

`StyleSettings` is the single source of truth for what a stylization job can ask for. The command
line derives its options from the field metadata below, and the wire protocol's `submit` fields
(see protocol/SPEC.md) are checked against it by a test, so a default is never written twice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class SettingsError(ValueError):
    """A setting has an invalid value. `field` names it, so every caller can point at it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class LimitError(SettingsError):
    """A valid setting that asks for more than a configured limit allows (a daemon answers
    `too_large` rather than `invalid_field`)."""


class Optimizer(str, Enum):
    LBFGS = "lbfgs"
    ADAM = "adam"


class Pooling(str, Enum):
    MAX = "max"
    AVG = "avg"


class PreserveColor(str, Enum):
    NONE = "none"
    # Gatys et al. 2017, "Controlling Perceptual Factors": transfer on luminance only, after
    # matching the style's luminance mean and variance to the content's; keep the content's chroma.
    LUMINANCE = "luminance"
    # The same paper's other method: give the style image the content's colour statistics
    # (mean and covariance) before the transfer.
    MATCH = "match"


class InitMode(str, Enum):
    CONTENT = "content"
    NOISE = "noise"
    # An explicit image (a file on the command line, a previous result in the daemon).
    IMAGE = "image"
    # The feed-forward network's picture of the same job: already styled, so the optimization
    # starts near its goal.
    FAST = "fast"


class Method(str, Enum):
    # Gatys et al.: optimize the picture's pixels. The best pictures, seconds to minutes.
    GATYS = "gatys"
    # A feed-forward network, one pass: any style image (Ghiasi et al. 2017) or the built-in
    # presets (Dumoulin et al. 2017). A fraction of a second.
    FAST = "fast"


def _opt(
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    cli: bool = True,
    metavar: str | None = None,
    shown: str | None = None,
) -> dict[str, Any]:
    """Field metadata: the help text and the limits that validation and the CLI share;
    `shown`: the default in words, where the field's own (an empty tuple) says nothing."""
    return dict(help=help, lo=lo, hi=hi, lo_open=lo_open, cli=cli, metavar=metavar, shown=shown)


DEFAULT_CONTENT_LAYERS = ("relu4_2",)
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# The style layers' weights when none are given: relu4_1 counts STYLE_LAYER_EMPHASIS times as
# much as each other layer. Each term is a relative error (losses.py), which weighs the layers
# alike; in Gatys et al.'s own units relu4_1 dominates the style loss with these weights, and
# without the emphasis the style's mid-scale texture (bricks, blades of grass) stayed far from
# it while the finer layers were matched many times better than needed. Tuned on the
# benchmarks' set of pairs (benchmarks/RESULTS.md).
STYLE_LAYER_EMPHASIS = {"relu4_1": 8.0}

# Limits that keep a job from exhausting the machine; the daemon may lower them.
MAX_ITERATIONS = 100_000
MAX_STYLES = 16
MAX_SCALES = 8
MIN_SIZE = 16
# The built-in styles of the conditional network (engine/fast/multistyle.py).
NUM_PRESETS = 26
# Settings that only the optimization reads: giving one with the fast method is a mistake.
# (impasto_protocol.modes keeps a copy for the plug-ins; a test compares the two.)
OPTIMIZATION_ONLY = frozenset(
    {
        "iterations",
        "content_weight",
        "style_weight",
        "tv_weight",
        "content_layers",
        "content_layer_weights",
        "style_layers",
        "style_layer_weights",
        "style_scale",
        "seed",
        "optimizer",
        "learning_rate",
        "pooling",
        "scales",
        "init",
    }
)


@dataclass(frozen=True)
class StyleSettings:
    """The settings of one stylization job.

    Loss weights are relative: every loss term is divided by its target's energy (see losses.py),
    so the defaults work at any resolution and with either weight file.
    """

    method: Method = field(
        default=Method.GATYS,
        metadata=_opt("gatys: optimize the picture (best); fast: a feed-forward network (instant)"),
    )
    size: int = field(
        default=512,
        metadata=_opt("output size: the longer side in pixels (aspect ratio kept)", lo=MIN_SIZE),
    )
    iterations: int = field(
        default=150,
        metadata=_opt(
            "optimizer iterations in all, shared among the scales (coarse scales get more);"
            " a fast start runs fewer, at the full size, in the time these would take",
            lo=1,
            hi=MAX_ITERATIONS,
        ),
    )
    content_weight: float = field(
        default=1.0, metadata=_opt("weight of the content loss (alpha)", lo=0.0)
    )
    style_weight: float = field(
        default=20.0, metadata=_opt("weight of the style loss (beta)", lo=0.0)
    )
    tv_weight: float = field(
        default=0.0, metadata=_opt("weight of the total variation (smoothness) loss", lo=0.0)
    )
    content_layers: tuple[str, ...] = field(
        default=DEFAULT_CONTENT_LAYERS,
        metadata=_opt("VGG19 layers of the content loss", metavar="LAYER"),
    )
    content_layer_weights: tuple[float, ...] = field(
        default=(),
        metadata=_opt("one weight per content layer", lo=0.0, metavar="W"),
    )
    style_layers: tuple[str, ...] = field(
        default=DEFAULT_STYLE_LAYERS,
        metadata=_opt("VGG19 layers of the style loss", metavar="LAYER"),
    )
    style_layer_weights: tuple[float, ...] = field(
        default=(),
        metadata=_opt(
            "one weight per style layer",
            lo=0.0,
            metavar="W",
            shown="relu4_1 8, the others 1",
        ),
    )
    style_blend: tuple[float, ...] = field(
        default=(),
        metadata=_opt("blend weights of the style images", lo=0.0, metavar="W"),
    )
    presets: tuple[int, ...] = field(
        default=(),
        metadata=_opt(
            f"built-in styles by number (0-{NUM_PRESETS - 1}), alone or beside style images",
            lo=0,
            hi=NUM_PRESETS - 1,
            cli=False,
            metavar="K",
        ),
    )
    preset_blend: tuple[float, ...] = field(
        default=(),
        metadata=_opt("blend weights of the presets (default: equal)", lo=0.0, cli=False),
    )
    trained: tuple[str, ...] = field(
        default=(),
        metadata=_opt(
            "trained styles of the daemon's library, by name, beside the style images"
            " (style_blend weighs them after the images)",
            cli=False,
            metavar="NAME",
        ),
    )
    style_scale: float = field(
        default=1.0,
        metadata=_opt(
            "size of the style image relative to the output (smaller: finer brush strokes)",
            lo=0.0,
            hi=8.0,
            lo_open=True,
        ),
    )
    init: InitMode = field(
        # The fast networks' picture, optimized at the full size only (schedule.py's
        # finest_in_equal_time): the same losses are reached sooner from it than from the
        # content on 7 of 12 benchmark runs (4 of 6 pairs at 256 px, 3 of 6 at 512 px), and
        # at equal time it is ahead on every pair (benchmarks/RESULTS.md). Without the
        # networks' files it starts from the content.
        default=InitMode.FAST,
        metadata=_opt(
            "starting image: the fast method's picture, the content, noise, or an image",
            cli=False,
        ),
    )
    seed: int = field(
        default=0, metadata=_opt("random seed (noise init, Adam)", lo=0, hi=2**63 - 1)
    )
    optimizer: Optimizer = field(default=Optimizer.LBFGS, metadata=_opt("optimizer"))
    learning_rate: float = field(
        default=0.02,
        metadata=_opt("Adam's step size, in 0..1 pixel units", lo=0.0, hi=1.0, lo_open=True),
    )
    pooling: Pooling = field(default=Pooling.MAX, metadata=_opt("VGG19 pooling"))
    preserve_color: PreserveColor = field(
        default=PreserveColor.NONE, metadata=_opt("keep the content's colours")
    )
    scales: int = field(
        default=0,
        metadata=_opt(
            "coarse-to-fine scales, each with twice the pixels of the last (0: automatic, 1: "
            "single scale)",
            lo=0,
            hi=MAX_SCALES,
        ),
    )
    max_pixels: int = field(
        default=4096 * 4096,
        metadata=_opt("refuse outputs with more pixels than this", lo=MIN_SIZE * MIN_SIZE),
    )
    # Protocol 1.8: how much of the stylized picture is delivered, blended with the content
    # (previews and result alike, for both methods). The style weight alone cannot make a
    # picture subtle: at a tenth of the default weight the optimization still moved the photo
    # by nearly as many levels as at the default (benchmarks/RESULTS.md, "Strength"), so the
    # low end of the editors' strength scale blends towards the photo with this.
    amount: float = field(
        default=1.0,
        metadata=_opt(
            "how much of the stylized picture to deliver, blended with the content (0: the "
            "content, 1: the stylized picture)",
            lo=0.0,
            hi=1.0,
        ),
    )

    def __post_init__(self) -> None:
        # Accept plain strings and lists from the CLI or the wire; store Enums and tuples.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, Enum) and not isinstance(value, type(f.default)):
                object.__setattr__(self, f.name, _to_enum(type(f.default), f.name, value))
            elif isinstance(f.default, tuple) and isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))

    def replace(self, **changes: Any) -> StyleSettings:
        return dataclasses.replace(self, **changes)

    def validate(self, layer_names: tuple[str, ...] | None = None) -> StyleSettings:
        """Check every field against its type and limits; raise SettingsError naming the first
        bad one.

        `layer_names` (the model's) lets the layer fields be checked too.
        """
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if layer_names is not None:
            for name in ("content_layers", "style_layers"):
                for layer in getattr(self, name):
                    if layer not in layer_names:
                        raise SettingsError(
                            name, f"unknown layer {layer!r}; valid: {', '.join(layer_names)}"
                        )
        if not self.content_layers and not self.style_layers:
            raise SettingsError("style_layers", "no content or style layers given")
        for layers, weights in (
            ("content_layers", "content_layer_weights"),
            ("style_layers", "style_layer_weights"),
        ):
            n, w = len(getattr(self, layers)), getattr(self, weights)
            if w and len(w) != n:
                raise SettingsError(weights, f"{len(w)} weights given for {n} layers")
        if self.style_blend and sum(self.style_blend) <= 0:
            raise SettingsError("style_blend", "the blend weights must not all be zero")
        if self.preset_blend and len(self.preset_blend) != len(self.presets):
            raise SettingsError(
                "preset_blend",
                f"{len(self.preset_blend)} weights given for {len(self.presets)} presets",
            )
        if self.preset_blend and sum(self.preset_blend) <= 0:
            raise SettingsError("preset_blend", "the preset weights must not all be zero")
        return self


def wire_value(value: Any) -> Any:
    """A settings value as JSON and msgpack carry it: enums by value, tuples as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [wire_value(v) for v in value]
    return value


def check_styles_given(settings: StyleSettings, n_styles: int) -> None:
    """What the settings ask of the job's style images, checked before any work is done (a
    daemon checks it before it queues the job): some style to paint with, and one blend weight
    per style image."""
    n_styles += len(settings.trained)  # a daemon's trained styles stand beside the images
    if not n_styles and not settings.presets:
        raise SettingsError("styles", "at least one style image or preset is needed")
    if settings.style_blend and len(settings.style_blend) != n_styles:
        raise SettingsError(
            "style_blend", f"{len(settings.style_blend)} weights given for {n_styles} styles"
        )


def check_method_fields(method: Method | str, given: set[str]) -> None:
    """Refuse settings the chosen method would ignore: a user who sets the optimizer for the
    fast method expects it to matter. `given` are the names the caller set explicitly."""
    if Method(method) is not Method.FAST:
        return
    ignored = sorted(given & OPTIMIZATION_ONLY)
    if ignored:
        raise SettingsError(ignored[0], "only the optimization (method gatys) uses this setting")


def _to_enum(enum_type: type[Enum], name: str, value: Any) -> Enum:
    try:
        return enum_type(value)
    except ValueError:
        valid = ", ".join(e.value for e in enum_type)
        raise SettingsError(name, f"invalid choice {value!r}; valid: {valid}") from None


def _check_number(name: str, value: Any, kind: type, meta: dict[str, Any]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise SettingsError(name, f"expected {'a number' if kind is float else 'an integer'}")
    if not math.isfinite(value):
        raise SettingsError(name, f"must be finite, got {value}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
        raise SettingsError(
            name, f"must be {'>' if meta.get('lo_open') else '>='} {lo}, got {value}"
        )
    if hi is not None and value > hi:
        raise SettingsError(name, f"must be <= {hi}, got {value}")


def _check_field(f: dataclasses.Field[Any], value: Any) -> None:
    meta = dict(f.metadata)
    default = f.default
    if isinstance(default, Enum):
        if not isinstance(value, type(default)):
            _to_enum(type(default), f.name, value)
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f.name, "expected true or false")
    elif isinstance(default, (int, float)):
        _check_number(f.name, value, type(default), meta)
    elif isinstance(default, tuple):
        if not isinstance(value, tuple):
            raise SettingsError(f.name, "expected a list")
        if len(value) > 64:
            raise SettingsError(f.name, "too many entries (at most 64)")
        for item in value:
            if f.name.endswith("layers"):
                if not isinstance(item, str):
                    raise SettingsError(f.name, "expected layer names")
            elif f.name == "trained":
                if not isinstance(item, str) or not 0 < len(item) <= 200:
                    raise SettingsError(f.name, "expected the names of trained styles")
            elif f.name == "presets":
                if isinstance(item, bool) or not isinstance(item, int):
                    raise SettingsError(f.name, "expected preset numbers (integers)")
                if not 0 <= item < NUM_PRESETS:
                    raise SettingsError(
                        f.name,
                        f"unknown preset {item}; the built-in styles are 0-{NUM_PRESETS - 1}",
                    )
            else:
                _check_number(f.name, item, float, meta)


def settings_fields() -> tuple[dataclasses.Field[Any], ...]:
    """The fields of StyleSettings, for the CLI and the protocol to derive from."""
    return dataclasses.fields(StyleSettings)
