"""The `impasto` command run as a user runs it: a subprocess of this Python, its output kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def impasto(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impasto", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
