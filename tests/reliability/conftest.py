"""The smoke versions of the reliability suites (benchmarks/reliability/): the same functions,
small parameters. They assert the invariants (nothing lost, the daemon alive, clear errors),
never timings: the figures are for `make reliability` on a quiet machine."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "tests" / "daemon"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
