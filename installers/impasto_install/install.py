"""Installing and removing a plug-in, safely re-runnable.

The new copy is assembled in a temporary folder beside the target and swapped in at the end, so
a failed install (no network for the wheels, a full disk) leaves the previous one working.
Re-running keeps the endpoint and daemon command of an existing impasto.json unless new ones
are given: upgrading the plug-in should not undo the user's choices.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from impasto_protocol.endpoint import EndpointError, parse
from impasto_protocol.launcher import CONFIG_NAME, PluginConfig

from . import kritarc
from .hosts import GIMP, KRITA, Host, gimp_plug_ins_dir, krita_pykrita_dir, kritarc_path
from .vendor import DEFAULT_PYTHONS, VendorError, platform_tags, vendor_protocol, vendor_wheels

log = logging.getLogger(__name__)


class InstallError(RuntimeError):
    """What stopped an install, in one line."""


@dataclass
class InstallOptions:
    folder: Path | None = None  # the host's plug-in folder (pykrita, plug-ins); None: default
    kritarc: Path | None = None  # Krita only; None: the default kritarc
    endpoint: str | None = None  # None: keep the existing one (or the default endpoint)
    # None: keep the existing one, or this Python's `-m impasto daemon`; []: never start one
    daemon_command: list[str] | None = None
    pythons: list[str] = field(default_factory=lambda: list(DEFAULT_PYTHONS))
    platforms: list[str] | None = None  # None: this machine's wheel tags
    wheels: Path | None = None  # a folder of wheels to use instead of PyPI
    vendor: bool = True  # False: the host's Python already has pyzmq and msgpack


@dataclass
class Installed:
    """Where things went, for the report to the user."""

    plugin: Path
    config: PluginConfig
    notes: list[str] = field(default_factory=list)


def plugin_folder(host: Host, options: InstallOptions) -> Path:
    if options.folder is not None:
        return options.folder
    return krita_pykrita_dir() if host is KRITA else gimp_plug_ins_dir()


def _package_source(host: Host) -> Path:
    spec = importlib.util.find_spec(host.package)  # finds it without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise InstallError(f"the {host.name} plug-in ({host.package}) is missing from impasto")
    return Path(next(iter(spec.submodule_search_locations)))


def _config(options: InstallOptions, existing: Path) -> PluginConfig:
    try:
        config = PluginConfig.load(existing)
    except ValueError as e:
        log.warning("replacing an unreadable config: %s", e)
        config = PluginConfig()
    if options.endpoint is not None:
        try:
            parse(options.endpoint)
        except EndpointError as e:
            raise InstallError(f"--endpoint: {e}") from None
        config.endpoint = options.endpoint
    if options.daemon_command is not None:
        config.daemon_command = list(options.daemon_command)  # [] = never start one
    elif not existing.exists():
        config.daemon_command = [sys.executable, "-m", "impasto", "daemon"]
    return config


def _assemble(host: Host, options: InstallOptions, stage: Path, config: PluginConfig) -> Path:
    """Build the plug-in in `stage`; returns the folder that becomes `host.folder`."""
    source = _package_source(host)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", host.entry)
    if host.entry_inside:  # GIMP: FOLDER/entry + FOLDER/package/
        folder = stage / host.folder
        shutil.copytree(source, folder / host.package, ignore=ignore)
        shutil.copy2(source / host.entry, folder / host.entry)
    else:  # Krita: entry beside FOLDER (= the package)
        folder = stage / host.folder
        shutil.copytree(source, folder, ignore=ignore)
        shutil.copy2(source / host.entry, stage / host.entry)
    if host.executable_entry:
        entry = folder / host.entry
        entry.chmod(entry.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    vendor = folder / "vendor"
    vendor_protocol(vendor)
    if options.vendor:
        try:
            platforms = options.platforms or platform_tags()
            vendor_wheels(vendor, options.pythons, platforms, options.wheels)
        except VendorError as e:
            raise InstallError(str(e)) from None
    config.save(folder / CONFIG_NAME)
    return folder


def _swap_in(new: Path, target: Path) -> None:
    """Replace `target` (a folder or file) by `new`, keeping the old one until the new is there."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.impasto-old")
        _remove(old)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def install(host: Host, options: InstallOptions) -> Installed:
    base = plugin_folder(host, options)
    target = base / host.folder
    config = _config(options, target / CONFIG_NAME)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InstallError(f"cannot create {base}: {e.strerror or e}") from None
    try:
        with tempfile.TemporaryDirectory(prefix=".impasto-install-", dir=base) as tmp:
            stage = Path(tmp)
            folder = _assemble(host, options, stage, config)
            if not host.entry_inside:
                _swap_in(stage / host.entry, base / host.entry)
            _swap_in(folder, target)
    except OSError as e:
        raise InstallError(f"cannot install into {base}: {e.strerror or e}") from None
    installed = Installed(target, config)
    if host is KRITA:
        rc = options.kritarc or kritarc_path()
        kritarc.enable(rc, host.package)
        installed.notes.append(f"enabled in {rc}; restart Krita to load it")
        warning = active_venv_warning(os.environ)
        if warning:
            installed.notes.append(warning)
    if host is GIMP:
        installed.notes.append("restart GIMP: Filters > Artistic > Style Transfer...")
    return installed


def active_venv(environ: Mapping[str, str]) -> str | None:
    """The virtual environment active in `environ`: VIRTUAL_ENV, or the folder of a venv whose
    bin is first on PATH (activated by hand, or by a tool that sets no VIRTUAL_ENV)."""
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        return venv
    first = environ.get("PATH", "").split(os.pathsep)[0]
    if first and (Path(first).parent / "pyvenv.cfg").is_file():
        return str(Path(first).parent)
    return None


def active_venv_warning(environ: Mapping[str, str]) -> str | None:
    """One line when Krita started from this shell would load no plug-in at all: Krita's
    embedded Python finds the venv's `python` on PATH and takes its pyvenv.cfg, whose
    site-packages lack PyQt5 ("No module named 'PyQt5'"). The daemon's start does not need
    the venv on PATH (impasto.json names its Python by absolute path)."""
    venv = active_venv(environ)
    if venv is None:
        return None
    return (
        f"warning: the virtual environment {venv} is active: start Krita from a shell "
        "without it (`deactivate` first) or from the desktop menu, or Krita's Python takes "
        "it and loads no plug-in"
    )


def uninstall(host: Host, options: InstallOptions) -> list[Path]:
    """Remove what `install` put there; returns the paths removed."""
    base = plugin_folder(host, options)
    removed = []
    paths = [base / host.folder]
    if not host.entry_inside:
        paths.append(base / host.entry)
    for path in paths:
        if path.exists() or path.is_symlink():
            _remove(path)
            removed.append(path)
    if host is KRITA:
        rc = options.kritarc or kritarc_path()
        if kritarc.is_enabled(rc, host.package):
            removed.append(rc)
        kritarc.disable(rc, host.package)
    return removed
