"""Tools for testing flowsim and scenarios built on it: invariant checkers.

Each checker takes a :class:`~flowsim.Result` and raises :class:`InvariantError`
(an ``AssertionError``) naming the event, run, key and time when the invariant fails.
"""
from flowsim.testing.invariants import InvariantError, check_concurrency, check_conservation

__all__ = ["InvariantError", "check_conservation", "check_concurrency"]
