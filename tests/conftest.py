"""Shared, light test configuration for bayes_distill.

Slow fixtures (real NUTS fits) belong in the test modules that need them, scoped to the
session; this file only holds what every test module may share.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Property tests stay fast by default; `HYPOTHESIS_PROFILE=thorough pytest` searches harder.
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
