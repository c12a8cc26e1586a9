"""Regression: a full disk under the daemon's log stalled the daemon.

logging's handlers answered every failed write with a traceback on stderr (about 1.5 KB per
record); where stderr was a pipe nobody read, as here (DaemonProcess's), the pipe filled after
some 40 records and the daemon blocked inside its socket loop, so every client timed out.
`impasto daemon --log` now writes through DaemonLogHandler: one line on stderr, records dropped
while the disk is full, and a note of how many once it is not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from daemon_process import DaemonProcess

from impasto_protocol import RemoteError

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


def test_a_daemon_logging_to_a_full_disk_goes_on_serving(tmp_path: Path) -> None:
    proc = DaemonProcess(f"ipc://{tmp_path}/d.sock", Path("/dev/full")).start()
    try:
        with proc.client() as c:
            for i in range(300):  # each refusal is a log record
                with pytest.raises(RemoteError):
                    c.status(f"nope-{i}")
            c.ping()  # still served (ConnectionLost otherwise)
    finally:
        code = proc.stop()
    assert code == 0
    lines = [line for line in proc.stderr().splitlines() if line.strip()]
    assert lines == [
        "impasto daemon: cannot write the log /dev/full: No space left on device; "
        "dropping log records until it can be written"
    ]


def test_the_log_resumes_and_counts_what_it_lost(tmp_path: Path) -> None:
    """A real write failure (a file size limit), then room again: the records in between are
    counted in the log, and stderr got one line. In a child, so the limit stays there."""
    log = tmp_path / "daemon.log"
    script = textwrap.dedent(
        f"""
        import logging, resource
        from impasto.server.logfile import DaemonLogHandler
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))
        handler = DaemonLogHandler({str(log)!r})
        logger = logging.getLogger("t")
        logger.addHandler(handler)
        logger.propagate = False
        for i in range(100):
            logger.warning("record %03d %s", i, "x" * 60)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        logger.warning("after the disk had room again")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("\n") == 1 and "cannot write the log" in out.stderr, out.stderr
    text = log.read_text()
    assert "Traceback" not in out.stderr
    resumed = text.index("after the disk had room again")
    assert text.index("record(s) were lost", resumed) > resumed
