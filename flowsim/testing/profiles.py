"""Hypothesis settings profiles for flowsim's property tests and for users' own.

* ``default`` — fast, for local runs: 25 examples, state machines of up to 20 steps,
  no deadline (simulation times vary on a loaded machine), the example database in the
  user's cache directory (``$FLOWSIM_HYPOTHESIS_DB``, else
  ``$XDG_CACHE_HOME/flowsim/hypothesis`` or ``~/.cache/flowsim/hypothesis``), never inside
  the package or the project, so failing examples are replayed first on the next run.
* ``ci`` — deeper and reproducible, for continuous integration: 100 examples, state
  machines of up to 25 steps, derandomized (the same examples on every run, so a red
  build is a real regression and a green one stays green), no database, and the failing
  example printed as a blob that ``@reproduce_failure`` replays.

Tests whose ``@settings`` name ``max_examples`` keep their own count; everything else
they leave unset comes from the profile. Use::

    from flowsim.testing import profiles
    profiles.load()          # registers both, then loads $HYPOTHESIS_PROFILE (default: "default")

Registering ``default`` and ``ci`` replaces Hypothesis' own profiles of those names in
the process (its built-in ``ci`` is loaded automatically where ``CI`` is set; ``load``
re-registers it with the values above).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

ENV = "HYPOTHESIS_PROFILE"
DATABASE_ENV = "FLOWSIM_HYPOTHESIS_DB"

_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
PROFILES: dict[str, dict[str, Any]] = {
    "default": {**_COMMON, "max_examples": 25, "stateful_step_count": 20},
    "ci": {**_COMMON, "max_examples": 100, "stateful_step_count": 25, "derandomize": True, "database": None,
           "print_blob": True},
}


def database_path() -> Path:
    """Where the ``default`` profile keeps failing examples (outside the package)."""
    explicit = os.environ.get(DATABASE_ENV)
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "flowsim" / "hypothesis"


def register() -> None:
    """Register the ``default`` and ``ci`` profiles (replacing Hypothesis' own)."""
    for name, values in PROFILES.items():
        if name == "default" and "database" not in values:
            values = {**values, "database": DirectoryBasedExampleDatabase(str(database_path()))}
        settings.register_profile(name, **values)


def load(name: str | None = None) -> str:
    """Register the profiles and load ``name``, else ``$HYPOTHESIS_PROFILE``, else ``default``."""
    register()
    name = name or os.environ.get(ENV) or "default"
    settings.load_profile(name)
    return name
