"""What end-to-end tests do when their host (Krita, GIMP 3) is missing.

Locally a missing host skips with its reason; CI sets IMPASTO_REQUIRE_HOSTS=1, where a test that
cannot reach its host is a failure: end-to-end tests must not turn into silent skips there.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def hosts_required() -> bool:
    return os.environ.get("IMPASTO_REQUIRE_HOSTS", "") not in ("", "0")


def host_missing(reason: str) -> NoReturn:
    """Skip (or, with IMPASTO_REQUIRE_HOSTS=1, fail) with `reason`."""
    if hosts_required():
        pytest.fail(f"{reason} (IMPASTO_REQUIRE_HOSTS=1: a missing host is a failure)")
    pytest.skip(reason)
