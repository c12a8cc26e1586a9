"""A virtual X server (Xvfb) for an end-to-end test: it picks a free display number itself
(-displayfd), so a test never races the previous test's server that is still shutting down,
and it is stopped and waited for when the test is done."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 30  # seconds for Xvfb to say its display number


class DisplayError(RuntimeError):
    """Xvfb did not start; the message holds the end of its log."""


@contextlib.contextmanager
def virtual_display(prefix: list[str], screen: str, log: Path) -> Iterator[str]:
    """Run Xvfb (after `prefix`, e.g. a chroot) with one `screen` ("1280x1024"); yields the
    display name (":N")."""
    read, write = os.pipe()
    with open(log, "w") as out:
        xvfb = subprocess.Popen(
            [*prefix, "Xvfb", "-displayfd", str(write), "-screen", "0", f"{screen}x24",
             "-nolisten", "tcp"],
            pass_fds=(write,), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], START_TIMEOUT)
        number = os.read(read, 16).decode().strip() if ready else ""
        if not number.isdigit():
            raise DisplayError(f"Xvfb did not start: {log.read_text()[-500:]}")
        yield f":{number}"
    finally:
        os.close(read)
        xvfb.terminate()
        try:
            xvfb.wait(10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
            xvfb.wait(10)
