"""The two hosts, and where each keeps a user's plug-ins on Linux, Windows and macOS."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value and os.path.isabs(value) else _home() / fallback


def _appdata(variable: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else _home() / "AppData" / "Roaming"


def krita_pykrita_dir() -> Path:
    """Krita's per-user resource folder + pykrita (Krita's own documentation's locations)."""
    if sys.platform == "win32":
        return _appdata("APPDATA") / "krita" / "pykrita"
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "krita" / "pykrita"
    return _xdg("XDG_DATA_HOME", ".local/share") / "krita" / "pykrita"


def kritarc_path() -> Path:
    if sys.platform == "win32":
        return _appdata("LOCALAPPDATA") / "kritarc"
    if sys.platform == "darwin":
        return _home() / "Library" / "Preferences" / "kritarc"
    return _xdg("XDG_CONFIG_HOME", ".config") / "kritarc"


def gimp_plug_ins_dir() -> Path:
    """GIMP 3's per-user plug-ins folder ($GIMP3_DIRECTORY overrides it, as it does for GIMP)."""
    custom = os.environ.get("GIMP3_DIRECTORY")
    if custom:
        return Path(custom) / "plug-ins"
    if sys.platform == "win32":
        base = _appdata("APPDATA") / "GIMP"
    elif sys.platform == "darwin":
        base = _home() / "Library" / "Application Support" / "GIMP"
    else:
        base = _xdg("XDG_CONFIG_HOME", ".config") / "GIMP"
    return base / "3.0" / "plug-ins"


@dataclass(frozen=True)
class Host:
    """What an install of one host's plug-in consists of.

    `package` is the plug-in's Python package (shipped with impasto); `folder` the name of what
    lands in the host's plug-in folder; `entry` a file of the package that goes beside or inside
    that folder instead (Krita's .desktop file, GIMP's executable main script).
    """

    name: str
    package: str
    folder: str
    entry: str
    entry_inside: bool  # GIMP: entry inside the folder; Krita: entry beside it
    executable_entry: bool


KRITA = Host("krita", "impasto_krita", "impasto_krita", "impasto_krita.desktop", False, False)
GIMP = Host("gimp", "impasto_gimp", "impasto-stylize", "impasto-stylize.py", True, True)
HOSTS = {h.name: h for h in (KRITA, GIMP)}
