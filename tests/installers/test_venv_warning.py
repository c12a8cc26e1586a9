"""`impasto install krita` from a shell where a virtual environment is active warns, in one
line: Krita started from that shell finds the venv's python on PATH, its Python takes the
venv's pyvenv.cfg, and it loads no plug-in ("No module named 'PyQt5'")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from impasto_install.install import active_venv, active_venv_warning


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    """A real virtual environment (without pip: only its layout matters here)."""
    folder = tmp_path / "venv"
    venv.create(folder, with_pip=False)
    return folder


def install_krita(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    folder, rc = tmp_path / "pykrita", tmp_path / "kritarc"
    command = [sys.executable, "-m", "impasto", "install", "krita", "--dir", str(folder)]
    command += ["--kritarc", str(rc), "--no-vendor"]
    return subprocess.run(command, capture_output=True, text=True, env={**base, **env})


def test_an_active_venv_is_found_by_virtual_env_or_by_the_first_folder_on_path(
    env_dir: Path,
) -> None:
    assert active_venv({"VIRTUAL_ENV": str(env_dir)}) == str(env_dir)
    on_path = {"PATH": os.pathsep.join([str(env_dir / "bin"), "/usr/bin"])}
    assert active_venv(on_path) == str(env_dir)
    later = {"PATH": os.pathsep.join(["/usr/bin", str(env_dir / "bin")])}
    assert active_venv(later) is None  # not first: the system's python comes first
    assert active_venv({"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": ""}) is None
    warning = active_venv_warning({"VIRTUAL_ENV": str(env_dir)})
    assert warning is not None and "\n" not in warning and str(env_dir) in warning


def test_install_krita_warns_in_one_line_with_a_venv_active_and_not_without(
    tmp_path: Path, env_dir: Path
) -> None:
    path = os.pathsep.join([str(env_dir / "bin"), "/usr/bin", "/bin"])
    done = install_krita(tmp_path / "a", {"VIRTUAL_ENV": str(env_dir), "PATH": path})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(env_dir) in warnings[0], done.stdout
    clean = install_krita(tmp_path / "b", {"PATH": "/usr/bin:/bin"})
    assert clean.returncode == 0, clean.stderr
    assert "warning" not in clean.stdout + clean.stderr, clean.stdout
    # The daemon's start needs no venv on PATH: its Python is named by absolute path.
    config = json.loads((tmp_path / "b" / "pykrita" / "impasto_krita" / "impasto.json").read_text())
    assert Path(config["daemon_command"][0]).is_absolute(), config
    assert config["daemon_command"][0] == sys.executable
