"""Wheels for the installer tests, downloaded from PyPI once per session (as `pip download`
would for a user), so each install below runs offline with --wheels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impasto_install.vendor import PACKAGES, platform_tags

PYTHONS = ("3.11", "3.13")  # Debian's Krita (3.11) and GIMP 3 on trixie (3.13)


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    platforms = [arg for tag in platform_tags() for arg in ("--platform", tag)]
    for python in PYTHONS:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", "--python-version", python,
            "--dest", str(folder), *platforms, *PACKAGES,
        ]  # fmt: skip
        subprocess.run(command, check=True)
    return folder
