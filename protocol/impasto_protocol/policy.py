"""What every client of the daemon decides the same way: the plug-ins and the command line
take these from here, so a slider position or a quality word means the same in Krita and GIMP.

A daemon says its own defaults in hello_reply's `defaults`; the fallbacks below are for a
daemon that does not (an older one) and equal SPEC.md section 10's defaults (a test holds them
to the engine's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from .messages import Progress, Submit

FALLBACK_STYLE_WEIGHT = 20.0
FALLBACK_ITERATIONS = 150

# Strength: what both editors' sliders show, 0 (the photo) .. 100 (strong), 50 the daemon's
# own style weight. The weight is the default times 10**((strength - 50) / 50 *
# STRENGTH_DECADES): each step multiplies it by the same factor (about 5 %), and the ends are a
# tenth and ten times the default. Below BLEND_BELOW the picture is also blended towards the
# photo (protocol 1.8's `amount` = strength / BLEND_BELOW): the weight alone never made a
# picture subtle (at Draft, a tenth of the default weight changed the photo by 27 levels on
# average against 31 at the default; benchmarks/RESULTS.md, "Strength"), while the blend makes
# the change grow steadily from nothing at 0 to the default's at 50.
STRENGTH_MAX = 100
DEFAULT_STRENGTH = 50
STRENGTH_DECADES = 1.0
BLEND_BELOW = DEFAULT_STRENGTH
# The words a slider shows beside its number, from the lowest strength up.
STRENGTH_WORDS = ("subtle", "light", "balanced", "strong", "very strong")


class Quality(str, Enum):
    """A quality preset: how large a job runs and how many iterations it takes. Both editors
    offer these four, with these words, and mean the same by them."""

    DRAFT = "draft"
    NORMAL = "normal"
    HIGH = "high"
    FULL = "full"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def side(self) -> int:
        """The longer side a job runs at, at most; 0: the layer's (or selection's) own."""
        return _PRESETS[self][0]

    def iterations(self, defaults: Mapping[str, Any]) -> int:
        """The daemon's default iterations, scaled for this preset."""
        return max(1, round(default_iterations(defaults) * _PRESETS[self][1]))


_LABELS = {
    Quality.DRAFT: "Draft",
    Quality.NORMAL: "Normal",
    Quality.HIGH: "High",
    Quality.FULL: "Full size",
}
# (longer side, factor on the daemon's iterations). Normal takes about a minute on a laptop
# CPU; Full size is the layer at its own resolution, which can take much longer.
_PRESETS = {
    Quality.DRAFT: (256, 1 / 3),
    Quality.NORMAL: (512, 1.0),
    Quality.HIGH: (1024, 2.0),
    Quality.FULL: (0, 1.0),
}
DEFAULT_QUALITY = Quality.NORMAL

# The values of `preserve_color` (SPEC.md section 10) by the words both editors show, and what
# each does to the picture. "match" recolours the style image to the photo's colours before
# painting (the engine's color.match_colors), so the photo's colours stay; "luminance" paints
# only light and shade and puts the photo's own colours back (color.combine_luminance).
COLOR_LABELS = {
    "none": "Take the style's colours",
    "luminance": "Keep the photo's colours exactly",
    "match": "Keep the photo's colours (style recoloured)",
}
COLOR_HELP = {
    "none": "The painting takes the style image's colours",
    "luminance": "The style paints light and shade only; every colour is the photo's own",
    "match": "The style image is recoloured in the photo's colours first, so the painting "
    "keeps the photo's colours with the style's brushwork",
}
MIN_SIDE = 16  # the engine's smallest size

# "Automatic": the finest of Draft, Normal and High that the daemon expects to finish within
# REASONABLE_SECONDS on its own device (from the iterations it timed). Measured on a 2-core
# CPU: Draft 14 s, Normal 112 s, High about 12 min (estimated 700 s), so such a machine gets
# Normal with room either way, a slower one Draft and a GPU High. Full size is never chosen
# automatically: on a large photo it can take hours.
AUTOMATIC = "automatic"
AUTOMATIC_LABEL = "Automatic"
REASONABLE_SECONDS = 180.0
AUTOMATIC_CHOICES = (Quality.HIGH, Quality.NORMAL, Quality.DRAFT)
# Hysteresis: once Automatic chose a preset for a picture, it keeps it while that preset's
# estimate stays under REASONABLE_SECONDS times this factor, and moves to a finer one only when
# that one's estimate is under REASONABLE_SECONDS divided by it. A preset whose estimate sits
# near the line (a 2000 px photo's High at about 3 min) then does not flip between two
# questions whose estimates differ by the noise of a busy machine.
AUTOMATIC_HYSTERESIS = 1.25


def automatic_quality(
    seconds: Callable[[Quality], float | None], previous: Quality | None = None
) -> Quality:
    """The preset Automatic stands for, given the daemon's estimate for each (`seconds`, None
    where it has none: before it measured anything, for the fast method, on a cluster); with
    no estimate, the default preset. `previous`: what Automatic chose for the same picture
    and settings before, kept within AUTOMATIC_HYSTERESIS's band."""
    for quality in AUTOMATIC_CHOICES:
        expected = seconds(quality)
        if expected is None:
            return DEFAULT_QUALITY
        if expected <= _automatic_limit(quality, previous):
            return quality
    return AUTOMATIC_CHOICES[-1]


def _automatic_limit(quality: Quality, previous: Quality | None) -> float:
    """The most seconds `quality` may be expected to take for Automatic to choose it, after
    `previous`: less for a finer preset than the previous choice, more for that choice."""
    if previous not in AUTOMATIC_CHOICES or quality is previous:
        factor = 1.0 if previous not in AUTOMATIC_CHOICES else AUTOMATIC_HYSTERESIS
    elif AUTOMATIC_CHOICES.index(quality) < AUTOMATIC_CHOICES.index(previous):
        factor = 1 / AUTOMATIC_HYSTERESIS  # finer than before: only when clearly in time
    else:
        factor = 1.0  # coarser than before: the previous one is clearly too slow now
    return REASONABLE_SECONDS * factor


def job_size(requested: int, width: int, height: int, limits: Mapping[str, Any]) -> int:
    """The longer side a job on a width x height region runs at: `requested` (a preset's side,
    or the user's; 0 for the region's own), never more than the region's own (the engine
    would only invent pixels), and small enough for the daemon's `max_output_pixels`."""
    longer = max(width, height)
    side = min(requested, longer) if requested > 0 else longer
    cap = limits.get("max_output_pixels")
    if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
        side = min(side, math.floor(longer * math.sqrt(cap / (width * height))))
    return max(MIN_SIDE, side)


# Selections: the engine sees some surroundings, so a stroke across the selection's edge
# continues the picture outside it.
CONTEXT_PADDING = 0.1  # of the selection's longer side
MIN_CONTEXT_PADDING = 8


def context_padding(width: int, height: int) -> int:
    """Pixels of context sent around a width x height selection (clipped to the layer)."""
    return max(MIN_CONTEXT_PADDING, round(CONTEXT_PADDING * max(width, height)))


# Previews: about PREVIEWS_PER_JOB canvas updates per job, but at least one every
# MAX_PREVIEW_EVERY iterations; never larger than MAX_PREVIEW_SIDE (the editor scales them to
# the layer, and a larger frame costs transfer time on every update).
PREVIEWS_PER_JOB = 30
MAX_PREVIEW_EVERY = 10
MAX_PREVIEW_SIDE = 768


def preview_every(iterations: int) -> int:
    return max(1, min(MAX_PREVIEW_EVERY, iterations // PREVIEWS_PER_JOB))


def cadence(
    settings: Mapping[str, Any], defaults: Mapping[str, Any], asked: int = -1
) -> tuple[int, int]:
    """A job's `preview_every` and `progress_every`, from its settings (as submitted) and the
    daemon's defaults. `asked` >= 0 is a caller's own preview interval (0: none). A job of the
    fast method asks for no previews: its result is the next picture anyway."""
    every = preview_every(int(settings.get("iterations") or default_iterations(defaults)))
    if settings.get("method") == "fast":
        return 0, every
    return (every if asked < 0 else asked), every


def preview_size(job_side: int) -> int:
    return max(MIN_SIDE, min(MAX_PREVIEW_SIDE, job_side))


def default_style_weight(defaults: Mapping[str, Any]) -> float:
    return _positive(defaults.get("style_weight"), FALLBACK_STYLE_WEIGHT)


def default_iterations(defaults: Mapping[str, Any]) -> int:
    return int(_positive(defaults.get("iterations"), FALLBACK_ITERATIONS))


def style_weight(strength: float, defaults: Mapping[str, Any]) -> float:
    """The style weight for a strength in 0..STRENGTH_MAX (DEFAULT_STRENGTH: the default's)."""
    _check_strength(strength)
    half = STRENGTH_MAX / 2
    exponent = (strength - DEFAULT_STRENGTH) / half * STRENGTH_DECADES
    return default_style_weight(defaults) * 10.0**exponent


def strength_of(weight: float, defaults: Mapping[str, Any]) -> float:
    """The strength that gives `weight` (the inverse of style_weight), clamped to the scale:
    for showing a style weight that came from elsewhere (a script, an older setting)."""
    if not weight > 0 or math.isinf(weight):
        raise ValueError(f"style weight {weight:g} is not a positive number")
    decades = math.log10(weight / default_style_weight(defaults))
    strength = DEFAULT_STRENGTH + decades / STRENGTH_DECADES * STRENGTH_MAX / 2
    return min(float(STRENGTH_MAX), max(0.0, strength))


def strength_word(strength: float) -> str:
    """ "subtle" .. "very strong": the word for a strength, the middle one at the default
    (whole numbers, as the sliders show them)."""
    n = len(STRENGTH_WORDS)
    index = min(n - 1, int(strength / STRENGTH_MAX * n)) if strength > 0 else 0
    return STRENGTH_WORDS[index]


def amount(strength: float) -> float:
    """How much of the stylized picture a strength shows, blended with the photo (protocol
    1.8's `amount`): 0 at strength 0, rising in equal steps to 1 at BLEND_BELOW and above."""
    _check_strength(strength)
    return min(1.0, strength / BLEND_BELOW)


def strength_settings(
    strength: float, defaults: Mapping[str, Any], blends: bool, instant: bool = False
) -> dict[str, float]:
    """The settings a strength stands for: `style_weight` (not for the instant network, which
    has none) and, where the daemon `blends` (protocol 1.8: modes.Features.blends) and the
    strength is below BLEND_BELOW, `amount`. An older daemon would refuse `amount` as an unknown
    setting: with it the low end is left to the style weight alone (and Instant has no
    strength)."""
    settings: dict[str, float] = {}
    if not instant:
        settings["style_weight"] = style_weight(strength, defaults)
    share = amount(strength)
    if blends and share < 1:
        settings["amount"] = share
    return settings


def strength_help(strength: float, blends: bool = True, instant: bool = False) -> str:
    """What a strength does to the picture, in a painter's words (a slider's tooltip)."""
    value = round(strength)
    head = f"{value}, {strength_word(strength)}: "
    if instant and not blends:
        return "Instant mode: this daemon paints at the network's own strength (update it)"
    if strength <= 0 and blends:
        return head + "the photo as it is; move right to bring the painting in"
    if strength < BLEND_BELOW:
        if blends:
            share = round(100 * amount(strength))
            return head + f"the painting laid over the photo at {share} %; the photo shows through"
        return head + "less style than the default (this daemon repaints the whole picture)"
    if strength == DEFAULT_STRENGTH or instant:
        more = "; Refine and Paint can go further" if strength > DEFAULT_STRENGTH else ""
        return head + f"the style fully painted, as the daemon paints it by default{more}"
    factor = 10.0 ** ((strength - DEFAULT_STRENGTH) / (STRENGTH_MAX / 2) * STRENGTH_DECADES)
    return head + f"the style pushed further: {factor:.1f} times the default's weight of style"


def _check_strength(strength: float) -> None:
    if math.isnan(strength) or not 0 <= strength <= STRENGTH_MAX:
        raise ValueError(f"strength {strength:g} is outside 0..{STRENGTH_MAX}")


def _positive(value: Any, fallback: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return fallback
    return float(value) if math.isfinite(value) and value > 0 else fallback


def oversized_image(submit: Submit, welcome: Mapping[str, Any] | None) -> str | None:
    """Why `submit` cannot be sent to the daemon that said `welcome`, or None: a frame over its
    `max_message_bytes` makes ZeroMQ drop the connection without an answer (while heartbeats
    go on), so every client checks before sending. One line, naming the image."""
    limit = ((welcome or {}).get("limits") or {}).get("max_message_bytes")
    if isinstance(limit, bool) or not isinstance(limit, int):
        return None
    images = [("content image", submit.content), ("mask", submit.mask)]
    images += [("init image", submit.init_image)]
    images += [(f"style image {i + 1}", s) for i, s in enumerate(submit.styles)]
    for role, image in images:
        if image is not None and image.nbytes > limit:
            return (
                f"the {role} ({image.width}x{image.height}) is larger than the daemon accepts "
                f"({limit} bytes per image)"
            )
    return None


def estimate_text(
    label: str, estimate: Mapping[str, Any], width: int, height: int, instant: bool = False
) -> str:
    """What a plug-in shows before Start, from an estimate_reply, for a width x height area:
    the size the job computes at, the time the daemon expects, and whether the result will be
    scaled up to the area (never silently). `instant`: the job is the fast method's one pass,
    for which a daemon gives no time."""
    w, h = estimate.get("width"), estimate.get("height")
    if not isinstance(w, int) or not isinstance(h, int):
        return ""
    text = f"{label}: {w}x{h} px"
    seconds = estimate.get("seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        text += f", about {duration(seconds)} here"
    elif instant:
        text += ", painted in one quick pass"
    else:
        text += " (no time estimate from this daemon)"
    if estimate.get("tiled"):
        text += ", in tiles"
    if w < width or h < height:
        text += f"; the result is scaled up to the {width}x{height} area"
    return text


def training_text(name: str, p: Progress) -> str:
    """One line for a training's progress (protocol 1.6), the same in both editors."""
    count = f"Training {name!r}: {p.iteration}/{p.total} steps"
    if p.paused:
        return f"{count}, waiting while a stylization runs"
    return count + (f", about {duration(p.eta)} left" if p.eta is not None else "")


def time_left(eta: float | None) -> str:
    """ "27 s left", or that there is no estimate yet (None, NaN or negative: before the
    first timed iteration)."""
    if eta is None or not math.isfinite(eta) or eta < 0:
        return "estimating time left"
    return f"{duration(eta)} left"


def progress_count(iteration: int, total: int, eta: float | None) -> str:
    """ "30/300, 27 s left": the numbers of a job's progress."""
    return f"{iteration}/{total}, {time_left(eta)}"


def doing(mode: str, iteration: int) -> str:
    """What a job of this mode (modes.Mode's value) is doing at `iteration`, in the painter's
    words: the fast method's one pass, Refine's iteration-0 picture (the instant one, shown
    before the optimization starts from it), or the optimization's iterations."""
    if mode == "instant":
        return "painting with the instant style"
    if mode == "refine" and iteration <= 0:
        return "instant picture shown; refining it"
    return "painting: iterations of the optimizer"


def progress_line(mode: str, iteration: int, total: int, eta: float | None) -> str:
    """One status line for a job's progress (what `doing` says, then the numbers): for an
    editor that has one line for both."""
    text = doing(mode, iteration)
    if mode != "instant":
        text += f" ({progress_count(iteration, total, eta)})"
    return text[0].upper() + text[1:]


def duration(seconds: float) -> str:
    """A rough time for people: 40 s, 3 min, 1 h 20 min."""
    s = max(1, round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {round(s % 3600 / 60)} min"
