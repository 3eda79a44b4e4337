"""The scenario model: what users write, typed and validated, knowing nothing of SimPy.

A scenario is a horizon, an account, a platform profile, functions and traffic.
Functions mirror Inngest's ``createFunction`` options: ``id``, ``triggers``, ``steps``
(``run``/``sleep``/``waitForEvent``), ``retries``, ``timeouts``, ``cancelOn`` and one
field per flow-control mechanism, each parsed by its own module through the registry
in :mod:`flowsim.policies`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flowsim.distributions import Distribution
from flowsim.expr import Expr
from flowsim.plans import Plan
from flowsim.platform import Platform
from flowsim.policies.base import Mechanism
from flowsim.traffic.sources import TrafficSource

MAX_RETRIES = 20                 # consts.MaxRetries (§10)
DEFAULT_RETRIES = 4              # consts.DefaultRetryCount (§10)
MAX_CANCELLATIONS = 5            # consts.MaxCancellations (§10)
DEFAULT_PRIORITY_RANGE = 600.0   # Cloud docs' ±600 s (spec README decisions, §7.1)


@dataclass(frozen=True)
class Trigger:
    """An event trigger: a name with Inngest's ``*`` wildcard, and an optional ``if``."""

    event: str
    condition: Expr | None = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """A regex when the name has a wildcard, else ``None`` (exact match)."""
        if "*" not in self.event:
            return None
        return re.compile("^" + ".*".join(re.escape(p) for p in self.event.split("*")) + "$")


@dataclass(frozen=True)
class RunStep:
    """``step.run``: holds a concurrency slot for its duration; may fail and retry."""

    name: str
    duration: Distribution
    failure_rate: float = 0.0


@dataclass(frozen=True)
class SleepStep:
    """``step.sleep``: no slot held; the next step is enqueued when it ends."""

    name: str
    duration: float


@dataclass(frozen=True)
class WaitStep:
    """``step.waitForEvent``: no slot held; resumes on a matching event or the timeout.

    ``match`` is a dotted path (``data.user_id``) compared between the run's event and
    the incoming one; ``condition`` is a CEL expression over ``event`` and ``async``.
    """

    name: str
    event: str
    timeout: float
    match: str | None = None
    condition: Expr | None = None


Step = RunStep | SleepStep | WaitStep


@dataclass(frozen=True)
class CancelOn:
    """``cancelOn``: a matching event cancels a queued, sleeping or waiting run (§10)."""

    event: str
    match: str | None = None
    condition: Expr | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its triggers, steps, retries, timeouts and mechanisms."""

    id: str
    index: int
    triggers: tuple[Trigger, ...]
    steps: tuple[Step, ...]
    retries: int = DEFAULT_RETRIES
    start_timeout: float | None = None
    finish_timeout: float | None = None
    cancel_on: tuple[CancelOn, ...] = ()
    mechanisms: dict[str, Mechanism] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionSpec) and other.id == self.id


@dataclass(frozen=True)
class Account:
    """The account's settings: its concurrency limit, the priority factor's range, the
    queue path (``key_queues``: per-key backlogs, §3.4; default the walk of §3.3), and its
    Inngest Cloud plan (:mod:`flowsim.plans`) with bursty concurrency."""

    concurrency: int
    priority_range: float = DEFAULT_PRIORITY_RANGE
    key_queues: bool = False
    plan: Plan | None = None
    """The plan, or ``None`` (no plan: the dev server's defaults, nothing capped)."""
    burst: bool = False
    """Bursty concurrency on: the plan has it and ``account.burst`` is not ``false``."""
    burst_minutes_used: int = 0
    """Burst minutes of the month already spent when the simulation starts."""


@dataclass
class Scenario:
    """A validated scenario. ``raw`` keeps the parsed YAML for variants and exports."""

    name: str
    seed: int
    horizon: float
    account: Account
    platform: Platform
    functions: tuple[FunctionSpec, ...]
    traffic: tuple[TrafficSource, ...]
    file: str | None = None
    description: str = ""
    raw: Any = None

    def function(self, function_id: str) -> FunctionSpec:
        for fn in self.functions:
            if fn.id == function_id:
                return fn
        raise KeyError(function_id)
