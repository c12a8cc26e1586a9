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

from ..engine.trained import SUFFIX, StyleFileError, TrainedStyle

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


class Library:
    """The trained styles of one folder, each file read again only when it changed (a daemon
    asks at every palette request and every job that names one)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else styles_dir()
        self._read: dict[Path, tuple[tuple[int, int], Entry]] = {}

    def entries(self) -> list[Entry]:
        """Every `.style` file, by name; a broken one with its problem."""
        if not self.folder.is_dir():
            return []
        found, seen = [], set()
        for path in sorted(self.folder.glob("*" + SUFFIX)):
            try:
                stat = path.stat()
            except OSError:  # deleted meanwhile
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            seen.add(path)
            cached = self._read.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, _read(path))
                self._read[path] = cached
            found.append(cached[1])
        for gone in set(self._read) - seen:
            del self._read[gone]
        return found

    def get(self, name: str) -> TrainedStyle:
        """The usable style called `name`; StyleFileError (one line) when there is none."""
        entries = self.entries()
        for entry in entries:
            if entry.name == name:
                if entry.style is None:
                    raise StyleFileError(entry.problem)
                return entry.style
        known = ", ".join(e.name for e in entries if e.style is not None) or "none"
        raise StyleFileError(f"no trained style {name!r} in {self.folder} (there: {known})")


def _read(path: Path) -> Entry:
    try:
        return Entry(path, TrainedStyle.load(path))
    except StyleFileError as exc:
        log.warning("%s", exc)
        return Entry(path, None, str(exc))


def entries() -> list[Entry]:
    """Every `.style` file in the user's library (see Library.entries)."""
    return Library().entries()
