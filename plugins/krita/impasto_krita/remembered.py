"""What the docker remembers between Krita sessions, in Krita's own settings (kritarc, group
"impasto"): the style files and their weights, the strength, the quality preset, the advanced
values, "selection only", the style source, the mode, the palette's built-in styles and the
trained styles chosen.

Krita stores strings, so lists and maps travel as JSON. A value that cannot be read (an older
version's, or edited by hand) is ignored, never an error: remembering is a convenience. Advanced
values are kept by name; the form applies those its daemon still knows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Read = Callable[[str], str]  # key -> stored text ("" when absent)
Write = Callable[[str, str], None]


def _json(text: str, kind: type) -> Any:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        log.warning("ignoring an unreadable remembered setting: %.80s", text)
        return None
    return value if isinstance(value, kind) else None


@dataclass
class Remembered:
    styles: list[tuple[str, float]] = field(default_factory=list)  # (path, blend weight)
    strength: int | None = None  # the slider's position; None: the daemon's default weight
    preset: str = ""
    advanced: dict[str, Any] = field(default_factory=dict)
    selection_only: bool = True
    source: str = ""
    mode: str = ""  # a Mode value; "" or unknown: the default
    palette: dict[int, float] = field(default_factory=dict)  # built-in style -> blend weight
    trained: list[str] = field(default_factory=list)  # the daemon's trained styles, by name

    @classmethod
    def load(cls, read: Read) -> Remembered:
        out = cls()
        for item in _json(read("style_files"), list) or []:
            if (
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], (int, float))
            ):
                out.styles.append((item[0], float(item[1])))
        strength = read("strength")
        out.strength = int(strength) if strength.strip().isdigit() else None
        out.preset = read("preset")
        out.advanced = _json(read("advanced"), dict) or {}
        out.selection_only = read("selection_only") != "false"
        out.source = read("style_source")
        out.mode = read("mode")
        for item in _json(read("palette"), list) or []:
            if (
                isinstance(item, list)
                and len(item) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item)
                and isinstance(item[0], int)
                and item[0] >= 0
                and item[1] > 0
            ):
                out.palette[item[0]] = float(item[1])
        names = _json(read("trained"), list) or []
        out.trained = [n for n in names if isinstance(n, str) and n]
        return out

    def save(self, write: Write) -> None:
        write("style_files", json.dumps([[p, w] for p, w in self.styles]))
        write("strength", "" if self.strength is None else str(self.strength))
        write("preset", self.preset)
        write("advanced", json.dumps(self.advanced))
        write("selection_only", "true" if self.selection_only else "false")
        write("style_source", self.source)
        write("mode", self.mode)
        write("palette", json.dumps([[k, w] for k, w in sorted(self.palette.items())]))
        write("trained", json.dumps(self.trained))
