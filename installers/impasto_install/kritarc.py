"""Turning a Krita Python plug-in on and off in kritarc.

Krita starts user plug-ins only when `[python] enable_<name>=true` is set. kritarc holds all of
the user's Krita settings, so it is edited line by line, never re-serialized: every other line,
comment and ordering stays as Krita wrote it.
"""

from __future__ import annotations

import os
from pathlib import Path

SECTION = "[python]"


def _key(plugin: str) -> str:
    return f"enable_{plugin}"


def _without_key(lines: list[str], key: str) -> tuple[list[str], int | None]:
    """`lines` minus `key` in the [python] section, and the index of that section's header."""
    out: list[str] = []
    header: int | None = None
    section = ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped
            if section == SECTION and header is None:
                header = len(out)
        elif section == SECTION and stripped.split("=", 1)[0].strip() == key:
            continue
        out.append(line)
    return out, header


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".impasto-tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def enable(path: Path, plugin: str) -> None:
    lines, header = _without_key(_read(path), _key(plugin))
    entry = f"{_key(plugin)}=true\n"
    if header is None:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += [SECTION + "\n", entry]
    else:
        lines.insert(header + 1, entry)
    _write(path, lines)


def disable(path: Path, plugin: str) -> None:
    if not path.exists():
        return
    before = _read(path)
    lines, _ = _without_key(before, _key(plugin))
    if lines != before:
        _write(path, lines)


def is_enabled(path: Path, plugin: str) -> bool:
    section = ""
    for line in _read(path):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif section == SECTION and "=" in stripped:
            key, value = (s.strip() for s in stripped.split("=", 1))
            if key == _key(plugin):
                return value.lower() == "true"
    return False
