"""Impasto for Krita: neural style transfer with live previews, served by the Impasto daemon.

Krita imports this package at start-up, so it only sets up the import path and registers the
docker and the menu action; sockets and widgets are created when Krita creates the docker.
"""

from __future__ import annotations

import sys
from pathlib import Path

__version__ = "0.1.0"


def _vendor_paths() -> None:
    """`impasto install krita` puts pyzmq and msgpack for each Python version in
    vendor/py3XY and the protocol package in vendor/common: they must win over anything else
    on sys.path (a system pyzmq of another version would not match the protocol package)."""
    vendor = Path(__file__).resolve().parent / "vendor"
    for folder in (vendor / "common", vendor / f"py{sys.version_info[0]}{sys.version_info[1]}"):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


_vendor_paths()


def _register() -> None:
    from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita

    from .docker import DOCKER_ID, StyleTransferDocker
    from .extension import ImpastoExtension

    app = Krita.instance()
    app.addExtension(ImpastoExtension(app))
    app.addDockWidgetFactory(
        DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, StyleTransferDocker)
    )


try:
    from krita import Krita  # noqa: F401  (only inside Krita)
except ImportError:  # imported outside Krita (tests, linters): register nothing
    pass
else:
    _register()
