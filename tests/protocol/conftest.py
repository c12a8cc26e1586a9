"""Hypothesis profiles for the protocol's property tests.

The normal run tries 2000 examples per property (a few seconds each). For a long fuzzing run:

    HYPOTHESIS_PROFILE=fuzz .venv/bin/pytest tests/protocol
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "impasto",
    max_examples=2000,
    # Timing is checked by the tests themselves, with a bound that suits a loaded 2-core machine.
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("fuzz", parent=settings.get_profile("impasto"), max_examples=100_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "impasto")
