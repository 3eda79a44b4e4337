"""Throttle: how many runs of a function may *start* per period, per key (spec §4).

Configuration (§4.1), as Inngest's SDKs accept it::

    throttle: {limit: 10, period: 60s, burst: 5, key: event.data.customer_id}

``limit`` 0 is taken as 1 (``UnmarshalJSON``); ``burst`` defaults to 0; ``key`` is
optional CEL. ``period`` must lie between 1s and 7d (the documented range; Inngest's
server does not check it, but a period under 1 s becomes 0 once truncated and breaks
the maths), and a fractional period is truncated to whole seconds, as the Constraint
API does (``int(period.Seconds())``, §2.2), with a warning.

Algorithm (§4.2): the GCRA of :mod:`flowsim.policies.gcra` with ``emission =
period/limit`` and GCRA burst ``limit + burst − 1``, so from idle ``limit + burst``
runs start at once, then one per ``period/limit``; the tolerance is
``τ = (limit + burst − 1) · period/limit``. Each function has its own buckets: two
functions with the same key expression do not share a limit (§4.1).

In the queue (§3.3, §4.2, §4.3): only a run's *start* item is throttled, and every
retry of it consumes throttle again (``start_only``); later steps are not. A throttled
item is skipped by the walk, never dropped, so runs of one key start FIFO by score;
the refusal (``blocked_by = throttle:<key>``, or ``throttle`` without a key) carries the
GCRA's retry time, at which the engine walks the queue again through
``platform.throttle_wake``: at the next whole second on ``inngest`` (the partition is
requeued to ``now.Truncate(1s) + 1s`` and rescanned until the GCRA allows), exactly
then on ``ideal``. On ``inngest`` that requeue is forced (``platform.throttle_force``):
until the rescan, a new arrival does not make the queue walked, only the end of one of
the function's own executing items does; and the bucket's Redis key expires as the Lua
writes it (``platform.gcra_key_expiry``, :mod:`flowsim.policies.gcra`): 5 runs at 0 s and
5 at 12.2 s with ``{limit: 4, period: 10s, burst: 1}`` all start at once, the key written
at 0 s (``tat`` 12.5 s) having expired at 12 s.

Keys (§2.1, §1 step 5): evaluated once per run from its first event into
``run.keys["throttle"]``; a key evaluating to ``false`` (missing field) shares the
bucket ``"false"``, an evaluation error the bucket ``"<nil>"``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

from flowsim.errors import ScenarioWarning
from flowsim.expr import Expr, key_value
from flowsim.policies.base import BuildContext, Constraint, EventStage, Refusal
from flowsim.policies.gcra import Buckets, Rate
from flowsim.scenario.source import Node
from flowsim.units import format_duration

if TYPE_CHECKING:
    from flowsim.engine.runs import QueueItem, Run

MIN_PERIOD = 1.0                # docs: "minimum granularity is one second"
MAX_PERIOD = 7 * 86400.0        # docs: period up to 7d
KEY_LABEL = "throttle"          # the run's throttle key in runs.keys


@dataclass(frozen=True)
class ThrottleConfig:
    """A function's ``throttle`` field (§4.1); ``period`` already in whole seconds."""

    limit: int
    period: float
    burst: int
    key: Expr | None

    field: ClassVar[str] = "throttle"

    @property
    def rate(self) -> Rate:
        """The GCRA: emission ``period/limit``, GCRA burst ``limit + burst − 1`` (§4.2)."""
        return Rate(self.period, self.limit, self.limit + self.burst - 1)

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "ThrottleConfig | None":
        if node is None:
            return None
        node.mapping(("limit", "period", "burst", "key"), required=("limit", "period"))
        limit_node = node.child("limit")
        limit = limit_node.int(minimum=0)
        if limit == 0:
            warnings.warn(ScenarioWarning(limit_node.error(
                "throttle limit 0 is taken as 1, as Inngest does (spec §4.1)").format()))
            limit = 1
        burst = node.get("burst").int(minimum=0) if node.get("burst") else 0
        period_node = node.child("period")
        period = period_node.duration(what="throttle period")
        if not MIN_PERIOD <= period <= MAX_PERIOD:
            raise period_node.error(
                f"throttle period must be between 1s and 7d (Inngest's documented range; the period is "
                f"truncated to whole seconds, so a shorter one would be 0), got {format_duration(period)}")
        whole = float(int(period))
        if whole != period:
            warnings.warn(ScenarioWarning(period_node.error(
                f"throttle period {format_duration(period)} is truncated to {format_duration(whole)}, as "
                "Inngest's Constraint API does (int(period.Seconds()), spec §2.2)").format()))
        key = node.get("key").expr("throttle key is invalid: {error}") if node.get("key") else None
        return cls(limit, whole, burst, key)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return (), (ThrottleConstraint(self, ctx.platform.gcra_key_expiry),)


class ThrottleConstraint(Constraint):
    """One function's throttle: a GCRA bucket per key value, gating start items only."""

    stop = False            # a throttled item is skipped by the walk (§3.3)
    start_only = True       # only start items and their retries are throttled (§4.2)

    def __init__(self, config: ThrottleConfig, expiry: bool = False) -> None:
        self.key = config.key
        self.buckets = Buckets(config.rate, expiry)
        self._reasons: dict[str, str] = {}
        # The refusal last given per key and when: at one instant a refused key stays
        # refused until one of its starts is acquired, so a walk past many items of a
        # throttled key computes the GCRA once.
        self._refused: dict[str, tuple[float, Refusal]] = {}

    def bind(self, run: "Run") -> None:
        """Evaluate the key once for the run: ``false`` and ``<nil>`` are shared buckets (§2.1)."""
        if self.key is not None:
            run.keys[KEY_LABEL] = key_value(self.key, run.event)

    def _key(self, item: "QueueItem") -> str:
        return item.run.keys[KEY_LABEL] if self.key is not None else ""

    def check(self, item: "QueueItem", now: float) -> Refusal | None:
        key = self._key(item)
        last = self._refused.get(key)
        if last is not None and last[0] == now:
            return last[1]
        bucket = self.buckets.peek(key, now)
        if bucket is None or bucket.allows(now):
            return None
        refusal = Refusal(self._reason(key), stop=False, retry_at=bucket.retry_at(now))
        self._refused[key] = (now, refusal)
        return refusal

    def _reason(self, key: str) -> str:
        """The refusal's reason for ``key``: ``throttle:<key>``, or ``throttle`` without a key."""
        reason = self._reasons.get(key)
        if reason is None:
            reason = self._reasons[key] = f"throttle:{key}" if self.key is not None else "throttle"
        return reason

    def backlog_key(self, item: "QueueItem") -> str:
        """Start items wait in a backlog per throttle key (§3.4), named as the refusal."""
        return self._reason(self._key(item))

    def acquire(self, item: "QueueItem", now: float) -> None:
        key = self._key(item)
        self._refused.pop(key, None)
        self.buckets.consume(key, now)
