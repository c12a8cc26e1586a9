"""Third-party and protocol code a plug-in carries with it (its folder `vendor/`).

Layout: `vendor/common/impasto_protocol/` (pure Python, any version) and `vendor/py3XY/` (pyzmq
and msgpack unpacked from the wheels for CPython 3.XY). The plug-in puts the folder for the
Python it finds itself in, then `common`, at the front of sys.path. Unpacking rather than
installing is what pip does for a wheel anyway, minus the scripts and the record.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = ("pyzmq", "msgpack")
DEFAULT_PYTHONS = ("3.10", "3.11", "3.12", "3.13")


class VendorError(RuntimeError):
    """Wheels could not be had; one line for the user."""


def version_folder(python: str) -> str:
    major, minor = python.split(".")
    return f"py{major}{minor}"


def platform_tags() -> list[str]:
    """pip `--platform` tags for binary wheels that load on this machine, newest first."""
    machine = platform.machine().lower()
    if sys.platform == "win32":
        return ["win_arm64" if machine in ("arm64", "aarch64") else "win_amd64"]
    if sys.platform == "darwin":
        arch = "arm64" if machine == "arm64" else "x86_64"
        major = int(platform.mac_ver()[0].split(".")[0] or 11)
        versions = [f"{v}_0" for v in range(major, 10, -1)] + [f"10_{m}" for m in range(15, 8, -1)]
        return [f"macosx_{v}_{a}" for v in versions for a in (arch, "universal2")]
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    libc, version = platform.libc_ver()
    if libc != "glibc" or not version:
        raise VendorError("vendoring needs a glibc Linux; pass --platform with your wheel tags")
    newest = int(version.split(".")[1])
    tags = [f"manylinux_2_{m}_{arch}" for m in range(newest, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def fetch_wheels(python: str, dest: Path, platforms: list[str], wheels: Path | None) -> list[Path]:
    """pyzmq and msgpack wheels for CPython `python` in `dest`: from PyPI (pip's cache helps a
    re-run), or only from the folder `wheels` (offline installs)."""
    tag = python.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--no-deps",
        "--python-version", python, "--implementation", "cp", "--abi", f"cp{tag}",
        "--dest", str(dest),
    ]  # fmt: skip
    for p in platforms:
        command += ["--platform", p]
    if wheels is not None:
        command += ["--no-index", "--find-links", str(wheels)]
    command += list(PACKAGES)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        reason = lines[0] if lines else f"pip exited with status {done.returncode}"
        source = f"in {wheels}" if wheels else "on PyPI"
        raise VendorError(f"no pyzmq/msgpack wheels for Python {python} {source}: {reason}")
    found = sorted(dest.glob("*.whl"))
    names = {w.name.split("-")[0].lower() for w in found}
    if names != set(PACKAGES):
        raise VendorError(f"expected wheels for {', '.join(PACKAGES)} in {dest}, got {found}")
    return found


def unpack(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            target = (dest / member).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise VendorError(f"{wheel.name} holds a path outside its folder: {member}")
        z.extractall(dest)


def vendor_wheels(
    folder: Path, pythons: list[str], platforms: list[str], wheels: Path | None
) -> None:
    for python in pythons:
        with tempfile.TemporaryDirectory(prefix="impasto-wheels-") as tmp:
            target = folder / version_folder(python)
            target.mkdir(parents=True)
            for wheel in fetch_wheels(python, Path(tmp), platforms, wheels):
                unpack(wheel, target)


def vendor_protocol(folder: Path) -> None:
    import impasto_protocol

    source = Path(impasto_protocol.__file__).parent
    shutil.copytree(
        source,
        folder / "common" / "impasto_protocol",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
