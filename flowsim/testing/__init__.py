"""Tools for testing flowsim and scenarios built on it.

* :mod:`flowsim.testing.invariants` — checkers that take any :class:`~flowsim.Result` and
  raise :class:`InvariantError` (an ``AssertionError``) naming the invariant, run, key
  and time when it fails; :func:`check_all` runs them all.
* :mod:`flowsim.testing.strategies` — Hypothesis strategies for event streams,
  flow-control configurations, step lists and whole scenarios.
* :mod:`flowsim.testing.stateful` — a Hypothesis state machine for the queue and
  concurrency core.
* :mod:`flowsim.testing.check` — :func:`check_scenario`: every invariant on a scenario
  under perturbed traffic, with a minimal reproducer (``flowsim check``).
* :mod:`flowsim.testing.profiles` — Hypothesis settings profiles ``default`` and ``ci``.

The strategies, the state machine and :func:`check_scenario` need Hypothesis
(``pip install flowsim[test]``); the invariant checkers do not.
"""
from flowsim.testing.invariants import (INVARIANTS, InvariantError, check_all, check_batching, check_concurrency,
                                        check_conservation, check_debounce, check_littles_law, check_priority_order,
                                        check_rate_limit, check_singleton, check_throttle, check_work_conserving)

__all__ = ["INVARIANTS", "InvariantError", "check_all", "check_batching", "check_concurrency", "check_conservation",
           "check_debounce", "check_littles_law", "check_priority_order", "check_rate_limit", "check_singleton",
           "check_throttle", "check_work_conserving", "check_scenario", "check_determinism"]


def __getattr__(name: str):
    # check_scenario and check_determinism import Hypothesis and subprocess helpers: load on use.
    if name == "check_scenario":
        from flowsim.testing.check import check_scenario
        return check_scenario
    if name == "check_determinism":
        from flowsim.testing.determinism import check_determinism
        return check_determinism
    raise AttributeError(f"module 'flowsim.testing' has no attribute {name!r}")
