"""Shared pytest setup: the Hypothesis settings profiles (flowsim.testing.profiles).

``.ci/run`` exports ``HYPOTHESIS_PROFILE=ci`` (deeper, derandomized, no example
database); a local run gets the fast ``default`` profile.
"""
from __future__ import annotations

from flowsim.testing import profiles

profiles.load()
