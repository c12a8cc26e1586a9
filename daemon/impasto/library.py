"""The user's trained styles: a folder of `.style` files (engine/trained.py) that the command
line, the daemon and through it the plug-ins list beside the built-in styles. Deleting a file
removes the style; `impasto train` writes there unless told otherwise.

The folder is $IMPASTO_STYLES, or impasto/styles under $XDG_DATA_HOME (~/.local/share).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .engine.trained import SUFFIX, StyleFileError, TrainedStyle

log = logging.getLogger(__name__)


def styles_dir() -> Path:
    explicit = os.environ.get("IMPASTO_STYLES")
    if explicit:
        return Path(explicit).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data) / "impasto" / "styles"


def style_path(name: str) -> Path:
    """Where the library keeps the style called `name` (with or without the suffix)."""
    return styles_dir() / (name if name.endswith(SUFFIX) else name + SUFFIX)


def resolve(argument: str) -> Path:
    """A style argument that names a trained style: the file itself when it exists, else the
    library's style of that name."""
    given = Path(argument).expanduser()
    if given.exists() or given.parent != Path("."):
        return given
    return style_path(argument)


@dataclass(frozen=True)
class Entry:
    path: Path
    style: TrainedStyle | None  # None: the file is not a usable trained style
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name[: -len(SUFFIX)]


def entries() -> list[Entry]:
    """Every `.style` file in the library, by name; a broken one is listed with its problem."""
    folder = styles_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*" + SUFFIX)):
        try:
            found.append(Entry(path, TrainedStyle.load(path)))
        except StyleFileError as exc:
            log.warning("%s", exc)
            found.append(Entry(path, None, str(exc)))
    return found
