#!/usr/bin/env python3
"""Impasto style transfer for GIMP 3: Filters > Artistic > Style Transfer...

GIMP runs this file as its own process (PyGObject); the work happens in the modules of the
`impasto_gimp` package beside it. Installed layout (`impasto install gimp`):

    plug-ins/impasto-stylize/impasto-stylize.py     this file (executable)
    plug-ins/impasto-stylize/impasto_gimp/          the package
    plug-ins/impasto-stylize/vendor/common/         impasto_protocol
    plug-ins/impasto-stylize/vendor/py3XY/          pyzmq and msgpack for Python 3.XY
    plug-ins/impasto-stylize/impasto.json           endpoint and daemon command
"""

import os
import sys


def _setup_path() -> str:
    """Put the vendored packages first on sys.path, before anything imports zmq or msgpack,
    so the copies the installer matched to GIMP's Python win over any system ones. Returns the
    plug-in folder (where impasto.json lives)."""
    here = os.path.dirname(os.path.realpath(__file__))
    # Installed: the package is a subfolder of `here`. In the source tree this file lives
    # inside the package itself, so its parent holds the package.
    base = here if os.path.isdir(os.path.join(here, "impasto_gimp")) else os.path.dirname(here)
    vendor = os.path.join(here, "vendor")
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    for folder in (os.path.join(vendor, "common"), os.path.join(vendor, version)):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.insert(0, folder)
    if base not in sys.path:
        sys.path.append(base)
    return here


PLUGIN_DIR = _setup_path()

from impasto_gimp.plugin import main  # noqa: E402  (after the path setup above)

if __name__ == "__main__":
    main(PLUGIN_DIR, sys.argv)
