"""Rate limit: drop the events beyond ``limit`` per ``period``, per key (spec §5.1, §5.2).

Configuration (§5.1), checked as ``inngest.RateLimit.IsValid`` does, in its order and
with its messages::

    rateLimit: {limit: 1, period: 4h, key: event.data.company_id}

* ``limit`` > 0: "limit must be greater than 0";
* ``key`` (optional CEL): "key is invalid: …";
* ``period`` required: "period must be specified"; unparsable: "failed to parse time
  duration: …"; at most 24h: "period must be less than 24h0m0s" (exactly 24h is allowed).

The period is truncated to whole seconds, as the Constraint API does (§2.2), with a
warning when that changes it. A period under 1 s truncates to 0, where the Lua's
emission interval is 0 and it admits every event: flowsim warns and applies no limit.
When the function also has ``idempotency``, Inngest's SDK layer replaces the rate limit
with the idempotency one (§5.1): this module warns and stands down, and
:mod:`flowsim.policies.idempotency` builds its own :class:`RateLimitStage`.

Algorithm (§5.2): the GCRA of :mod:`flowsim.policies.gcra` with emission
``period/limit`` and the hidden burst ``floor(limit/10)``, so from idle
``floor(limit/10) + 1`` events are admitted at once, then one per ``period/limit``
(10/min with an event a second admits t = 0, 1, 6, 12, …, 54 s: 11 in a minute). On
``inngest`` the key expires as ``ratelimit.lua`` writes it (``platform.gcra_key_expiry``,
:mod:`flowsim.policies.gcra`): ``{limit: 9, period: 1m}`` admits events at 0 s and 6.5 s,
the key written at 0 s (``tat`` 6.67 s) having expired at 6 s; ``ideal`` keeps the exact
GCRA and drops the second. An event the GCRA refuses is **dropped**: outcome ``rate_limited``, no run, and the
events table's ``key`` column carries the key value; an admitted run carries its key
in ``runs.keys["rateLimit"]``. Checked before debounce (§1
step 3); a batch's run bypasses it (``PreventRateLimit``, §9.1), while events that fail
``batchEvents.if`` come here as ordinary candidates.

Keys (§2.1): a key evaluating to ``false`` (e.g. a missing field) means the event is
not rate limited at all; an evaluation error drops the event with outcome ``error``
(``ErrEvaluatingRateLimitExpression``: no run is created). Without a key the function
has one bucket.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

from flowsim.errors import ScenarioWarning
from flowsim.expr import Expr, ExprEvalError, key_string
from flowsim.policies.base import ORDER_RATE_LIMIT, BuildContext, Candidate, Constraint, Drop, EventStage, StageContext
from flowsim.policies.gcra import Buckets, Rate
from flowsim.scenario.source import Node
from flowsim.units import format_duration, parse_duration

if TYPE_CHECKING:
    from flowsim.engine.runs import Run

MAX_PERIOD = 86400.0            # consts.FunctionIdempotencyPeriod, the upper bound of IsValid
OUTCOME = "rate_limited"


def hidden_burst(limit: int) -> int:
    """The rate limit's GCRA burst, ``floor(limit / 10)`` (§5.2: not configurable)."""
    return limit // 10


def format_at(t: float) -> str:
    """A simulated time for a reason string: ``14400``, ``3.333``."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class RateLimitConfig:
    """A function's ``rateLimit`` field (§5.1); ``period`` already in whole seconds."""

    limit: int
    period: float
    key: Expr | None

    field: ClassVar[str] = "rateLimit"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "RateLimitConfig | None":
        if node is None:
            return None
        node.mapping(("limit", "period", "key"))
        if function.get("idempotency") is not None:
            # SDKFunction.Function rewrites idempotency to a rate limit that replaces this one
            # before anything validates it (§5.1).
            warnings.warn(ScenarioWarning(node.error(
                "rateLimit is ignored: the function's idempotency replaces it, since Inngest rewrites "
                "`idempotency: <key>` to a rate limit of 1 per 24h on that key (spec §5.1)").format()))
            return None
        limit_node = node.get("limit")
        limit = limit_node.int() if limit_node is not None else 0
        if limit <= 0:
            raise (limit_node or node).error("limit must be greater than 0")
        key = node.get("key").expr("key is invalid: {error}") if node.get("key") else None
        period_node = node.get("period")
        if period_node is None or period_node.value == "":
            raise node.error("period must be specified")
        try:
            period = parse_duration(period_node.value)
        except ValueError as exc:
            raise period_node.error(f"failed to parse time duration: {exc}") from None
        if period > MAX_PERIOD:
            raise period_node.error("period must be less than 24h0m0s")
        whole = float(int(period))
        if whole == 0:
            warnings.warn(ScenarioWarning(period_node.error(
                f"rateLimit period {format_duration(period)} is under 1s: Inngest's Constraint API truncates "
                "it to 0s (spec §2.2), where the GCRA admits every event, so no rate limit applies").format()))
            return None
        if whole != period:
            warnings.warn(ScenarioWarning(period_node.error(
                f"rateLimit period {format_duration(period)} is truncated to {format_duration(whole)}, as "
                "Inngest's Constraint API does (int(period.Seconds()), spec §2.2)").format()))
        return cls(limit, whole, key)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return (RateLimitStage(self.limit, self.period, self.key, ctx.platform.gcra_key_expiry),), ()


class RateLimitStage(EventStage):
    """The GCRA as a rate limiter: admit the event or drop it (§5.2).

    Subclasses change only what a refusal is called (``outcome``, ``what``) and says
    (:meth:`reason`): :mod:`flowsim.policies.idempotency` uses it for ``idempotency``.
    """

    order = ORDER_RATE_LIMIT
    outcome: ClassVar[str] = OUTCOME
    what: ClassVar[str] = "rate limit"
    label: ClassVar[str] = "rateLimit"      # the admitted run's key in runs.keys

    def __init__(self, limit: int, period: float, key: Expr | None, expiry: bool = False) -> None:
        self.limit = limit
        self.period = period
        self.key = key
        self.buckets = Buckets(Rate(period, limit, hidden_burst(limit)), expiry)

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | None:
        if candidate.batch_id is not None:      # PreventRateLimit for batch runs (§9.1)
            return None
        if self.key is None:
            key = ""
        else:
            try:
                value = self.key.on(candidate.event)
            except ExprEvalError as exc:        # no run is created (§2.1)
                return Drop("error", f"{self.what} key error: {exc}")
            if value is False:                  # ErrNotRateLimited (§2.1)
                return None
            key = key_string(value)
        now = ctx.now
        if self.buckets.consume(key, now):
            return None
        return Drop(self.outcome, self.reason(key, self.buckets.get(key, now).retry_at(now)), key=key)

    def run_created(self, run: "Run", ctx: StageContext) -> None:
        """Record the key the run was admitted on in ``runs.keys`` (not for batch runs)."""
        if self.key is None or run.batch_id is not None:
            return None
        try:
            value = self.key.on(run.event)
        except ExprEvalError:
            return None
        if value is not False:
            run.keys[self.label] = key_string(value)
        return None

    def reason(self, key: str, retry_at: float) -> str:
        """Why an event was refused; ``retry_at`` is when the key admits one again."""
        on_key = f" on key {key}" if self.key is not None else ""
        return (f"{self.what} {self.limit}/{format_duration(self.period)}{on_key}: "
                f"0 left until t={format_at(retry_at)}")
