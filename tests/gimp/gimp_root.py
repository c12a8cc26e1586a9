"""The Debian trixie root that runs the real GIMP 3.0 headlessly.

Debian 12 has only GIMP 2.10; trixie's GIMP 3.0 runs from a debootstrap root entered with chroot.
Building it takes minutes and ~750 MB, so it is cached at `IMPASTO_GIMP_ROOT` (default
/var/cache/impasto/gimp-trixie) and reused. It is built in a temporary folder beside its final
place and renamed into place only when complete: an existing root is always a whole one.

Mounts (proc, sys, dev, dev/pts, a private tmpfs on dev/shm, the shared test folder) are made per
test session by `mounted()` and always undone in reverse order. An flock beside the root makes two
test runs on one machine take turns instead of unmounting each other's folders.

Standard library only: `.ci/install-gimp` runs this file with the system python3 before the
project's virtual environment exists (`python3 tests/gimp/gimp_root.py build`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/var/cache/impasto/gimp-trixie")
MIRROR = "http://deb.debian.org/debian"
SUITE = "trixie"
# python3-zmq and python3-msgpack as in the recipe; the plug-in still imports the installer's
# vendored cp313 wheels first (the end-to-end test checks which copy it imported).
PACKAGES = ("gimp", "python3-zmq", "python3-msgpack")
# The interactive tests run the GUI gimp-3.0 on a virtual X server and act as the user with
# xdotool. A root built before these were added gets them installed once by `ensure_gui_tools`.
GUI_PACKAGES = ("xvfb", "xauth", "xdotool")
GUI_TOOLS = ("usr/bin/Xvfb", "usr/bin/xauth", "usr/bin/xdotool")
GIMP_CONSOLE = "usr/bin/gimp-console-3.0"
SHARED = "shared"  # the test folder's mount point inside the root
LOCK_WAIT = 1800.0  # seconds: a concurrent build or test session may take this long


class RootError(RuntimeError):
    """The root cannot be built or entered; the message says why in one line."""


def root_path() -> Path:
    return Path(os.environ.get("IMPASTO_GIMP_ROOT") or DEFAULT_ROOT)


def is_complete(root: Path) -> bool:
    return (root / GIMP_CONSOLE).exists()


def _run(cmd: list[str], timeout: float) -> None:
    log.info("running %s", " ".join(cmd))
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RootError(f"{cmd[0]} timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise RootError(f"cannot run {cmd[0]}: {exc}") from exc
    log.info("%s took %.1f s", cmd[0], time.monotonic() - started)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RootError(f"{' '.join(cmd[:4])} failed ({done.returncode}): " + " | ".join(tail))


@contextlib.contextmanager
def _locked(root: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive flock beside `root` (one builder or test session at a time)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RootError(f"{root} stayed locked for {wait:.0f} s") from None
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_mountpoint(path: Path) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def _umount(path: Path) -> None:
    if not _is_mountpoint(path):
        return
    done = subprocess.run(["umount", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # Still busy (a GIMP child killed by a timeout may linger a moment): detach it lazily
        # so the root is never left with the host's /dev or a test folder bound inside it.
        log.warning("umount %s failed (%s); detaching lazily", path, done.stderr.strip())
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def _system_mounts(root: Path) -> Iterator[None]:
    """proc, sys, dev, dev/pts and a private dev/shm, undone in reverse order whatever happens."""
    made: list[Path] = []
    specs: list[tuple[str, list[str]]] = [
        ("proc", ["-t", "proc", "proc"]),
        ("sys", ["-t", "sysfs", "sys"]),
        ("dev", ["--bind", "/dev"]),
        ("dev/pts", ["--bind", "/dev/pts"]),
        # GIMP moves tiles through shm: a private tmpfs keeps them out of the host's /dev/shm.
        ("dev/shm", ["-t", "tmpfs", "-o", "mode=1777", "shm"]),
    ]
    try:
        for rel, args in specs:
            target = root / rel
            target.mkdir(parents=True, exist_ok=True)
            _run(["mount", *args, str(target)], timeout=30)
            made.append(target)
        yield
    finally:
        for target in reversed(made):
            _umount(target)


def _remove(path: Path) -> None:
    """Delete a (half-built) root, first undoing any mount a killed run left inside it."""
    if not path.exists():
        return
    for rel in ("shared", "dev/shm", "dev/pts", "dev", "sys", "proc"):
        _umount(path / rel)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "debootstrap"], check=False, env=env)
    if not shutil.which("debootstrap"):
        raise RootError(
            "debootstrap is missing and `apt-get install debootstrap` did not install it"
        )


def build(root: Path | None = None) -> Path:
    """Return the complete root, building it first when absent (minutes; needs root and network)."""
    root = root or root_path()
    if is_complete(root):
        return root
    if os.geteuid() != 0:
        raise RootError("building the GIMP 3 root needs root (debootstrap, mount, chroot)")
    with _locked(root):
        if is_complete(root):  # another run built it while we waited
            return root
        _ensure_debootstrap()
        _remove(root)  # an incomplete leftover (cannot happen with rename, but be sure)
        tmp = root.parent / f".{root.name}.building"
        _remove(tmp)
        started = time.monotonic()
        try:
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3,python3-gi,ca-certificates",
                    SUITE,
                    str(tmp),
                    MIRROR,
                ],
                timeout=1200,
            )
            shutil.copyfile("/etc/resolv.conf", tmp / "etc/resolv.conf")
            with _system_mounts(tmp):
                _install(tmp, [*PACKAGES, *GUI_PACKAGES])
            (tmp / SHARED).mkdir(exist_ok=True)
            if not is_complete(tmp):
                raise RootError(f"the built root has no /{GIMP_CONSOLE}")
            tmp.rename(root)
        except BaseException:
            _remove(tmp)
            raise
        log.info("built %s in %.0f s", root, time.monotonic() - started)
    return root


def _install(root: Path, packages: list[str]) -> None:
    """apt-get install `packages` inside `root` (its system folders must be mounted)."""
    apt = ["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    _run([*apt, "update"], timeout=600)
    _run([*apt, "install", "-y", "--no-install-recommends", *packages], timeout=1800)
    _run([*apt, "clean"], timeout=120)


def has_gui_tools(root: Path) -> bool:
    return all((root / tool).exists() for tool in GUI_TOOLS)


def ensure_gui_tools(root: Path) -> None:
    """Install Xvfb, xauth and xdotool into an existing root that lacks them (once; a no-op
    when they are there). Needs root and the network, like `build`."""
    if has_gui_tools(root):
        return
    if os.geteuid() != 0:
        raise RootError("installing Xvfb and xdotool into the GIMP 3 root needs root")
    with _locked(root):
        if has_gui_tools(root):  # another run installed them while we waited
            return
        for rel in ("shared", "dev/shm", "dev/pts", "dev", "sys", "proc"):
            _umount(root / rel)
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        started = time.monotonic()
        with _system_mounts(root):
            _install(root, list(GUI_PACKAGES))
        if not has_gui_tools(root):
            raise RootError(f"apt-get installed {', '.join(GUI_PACKAGES)} but a tool is missing")
        log.info(
            "added %s to %s in %.0f s", ", ".join(GUI_PACKAGES), root, time.monotonic() - started
        )


@contextlib.contextmanager
def mounted(root: Path, shared: Path) -> Iterator[Path]:
    """Mount the system folders and bind `shared` at /shared inside `root`, for one test session.

    Holds the root's flock throughout so a second test run waits instead of pulling the mounts
    out from under this one; every mount is undone in reverse order, also on errors.
    """
    if not is_complete(root):
        raise RootError(f"{root} is not a complete GIMP 3 root")
    with _locked(root):
        for rel in ("shared", "dev/shm", "dev/pts", "dev", "sys", "proc"):
            _umount(root / rel)  # left behind by a run that was killed before its finally
        with _system_mounts(root):
            target = root / SHARED
            target.mkdir(exist_ok=True)
            _run(["mount", "--bind", str(shared), str(target)], timeout=30)
            try:
                yield root
            finally:
                _umount(target)


@contextlib.contextmanager
def host_folders(root: Path, folders: list[Path]) -> Iterator[None]:
    """Bind each host folder read-only at the same path inside `root`, so that a command
    written on the host by absolute path (the daemon's Python that `impasto install` names)
    runs inside it as a user's editor runs it on the host. Undone in reverse order; a mount
    left by a killed run is undone first."""
    made: list[Path] = []
    try:
        for folder in folders:
            target = root / str(folder.resolve()).lstrip("/")
            _umount(target)
            target.mkdir(parents=True, exist_ok=True)
            _run(["mount", "--bind", "-o", "ro", str(folder.resolve()), str(target)], timeout=30)
            made.append(target)
        yield
    finally:
        for target in reversed(made):
            _umount(target)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if argv[1:] != ["build"]:
        print("usage: gimp_root.py build   (builds the root at $IMPASTO_GIMP_ROOT when absent)")
        return 2
    try:
        root = build()
        ensure_gui_tools(root)
    except RootError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"GIMP 3 root ready: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
