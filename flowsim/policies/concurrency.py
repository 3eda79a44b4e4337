"""Concurrency limits: account, function and keyed step limits (spec §3).

Configuration (§3.1), as Inngest's SDKs accept it::

    concurrency: 5                                   # function limit
    concurrency: {limit: 5, key: event.data.user_id} # one keyed limit
    concurrency: [{limit: 1, key: event.data.user_id}, {limit: 60, key: '"openai"', scope: account}]

What counts (§3.2): every executing queue item (one step request) holds one slot in
every limit that applies to it, from the moment it starts until its request returns;
sleeping and waiting runs hold none. Keys are evaluated once per run from the run's
first event (§1 step 5, §3.5). An env- or account-scoped key is shared by every
function whose key *expression text* is identical and evaluates to the same value,
each function comparing the shared count with its own limit (§3.2). The account limit
(``account.concurrency``) applies to every item.

Queue walk (§3.3): a refusal by the account or function limit stops the walk of the
function's queue; a refusal by a keyed limit skips the item.

Decisions (spec README): function ``limit: 0`` means no function limit; a keyed
``limit: 0`` is rejected at load time.

The account limit is ``account.concurrency``, else the plan's included limit
(:mod:`flowsim.plans`), else the dev server's 1000. On a plan with bursty concurrency
(Pro and above, ``account.burst`` not ``false``) it is a :class:`BurstLedger`: up to
3× the limit while the month's 60 burst minutes last, metered as Inngest's docs say
("the burst budget is measured in whole minutes. Each minute in which you use concurrency
above your account concurrency limit consumes one whole minute"): clock minutes counted
from t = 0, and a minute is spent as soon as the steps executing (each holding its slot
over ``[start, end)``) exceed the limit at any moment in it, including steps admitted
earlier that are still running. A step may start above the limit while the current
minute is paid for or a minute is left; once the allowance is spent, the limit is the
base again from the end of the last paid minute (steps already running go on). Function
limits, keyed limits and throttle apply during a burst as always.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from flowsim.errors import ScenarioWarning
from flowsim.expr import Expr, key_value
from flowsim.plans import BURST_FACTOR, BURST_METER, BURST_MINUTES, PLANS, Plan
from flowsim.policies.base import BuildContext, Constraint, EventStage, Refusal, SummarySection
from flowsim.scenario.source import Node
from flowsim.units import format_duration

if TYPE_CHECKING:
    from flowsim.engine.world import QueueDepth
    from flowsim.scenario.model import Scenario

MAX_CONCURRENCY_LIMITS = 2          # consts.MaxConcurrencyLimits
DEFAULT_ACCOUNT_LIMIT = 1000        # consts.DefaultConcurrencyLimit (dev server)
SCOPES = ("fn", "env", "account")


class Counter:
    """In-use slots per key of one family of limits (shared across functions if scoped)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used: dict[str, int] = {}


class Tally:
    """In-use slots of one unkeyed limit (the account's is shared by every function)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0


@dataclass(frozen=True)
class KeyedLimit:
    limit: int
    key: Expr
    scope: str
    label: str          # "concurrency[i]" in run.keys


@dataclass(frozen=True)
class ConcurrencyConfig:
    """A function's concurrency settings plus the account limit."""

    account_limit: int
    function_limit: int | None
    keyed: tuple[KeyedLimit, ...]

    field: ClassVar[str] = "concurrency"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "ConcurrencyConfig":
        account = account_limit(scenario.get("account"))
        function_limit: int | None = None
        keyed: list[KeyedLimit] = []
        if node is not None:
            if isinstance(node.value, dict) and ("fn" in node.value or "step" in node.value):
                raise node.error("function (run) concurrency semaphores (the {fn: [...], step: [...]} form) "
                                 "are not modelled until Inngest documents them; use the step limits form")
            entries = node.elements()
            if len(entries) > MAX_CONCURRENCY_LIMITS:
                raise node.error("There are more concurrency limits specified than the allowed max of: "
                                 f"{MAX_CONCURRENCY_LIMITS}")
            parsed = []
            for entry in entries:
                if isinstance(entry.value, (int, float)) and not isinstance(entry.value, bool):
                    parsed.append((entry.int(minimum=0), None, "fn", entry))
                    continue
                entry.mapping(("limit", "key", "scope"), required=("limit",),
                              expected="an integer limit, a mapping with limit, key, scope, or a list of "
                                       f"up to {MAX_CONCURRENCY_LIMITS} of them")
                limit = entry.child("limit").int(minimum=0)
                scope = entry.get("scope").choice(SCOPES) if entry.get("scope") else "fn"
                key = entry.get("key")
                if key is None and scope != "fn":
                    raise entry.error(f"A concurrency key must be specified for {scope} scoped limits")
                expr = key.expr("Invalid concurrency key '{text}': {error}") if key is not None else None
                if expr is not None and limit == 0:
                    raise entry.child("limit").error(
                        "a keyed concurrency limit of 0 would block every run (Inngest's Constraint API "
                        "gives it no capacity, spec §3.1); remove the limit or set it to at least 1")
                parsed.append((limit, expr, scope, entry))
            # Inngest sorts step limits by limit, ascending (§3.1).
            parsed.sort(key=lambda p: p[0])
            for limit, expr, scope, entry in parsed:
                if expr is None:
                    if function_limit is not None:
                        raise entry.error("only one function-level (unkeyed) concurrency limit is allowed")
                    function_limit = limit if limit > 0 else None
                else:
                    keyed.append(KeyedLimit(limit, expr, scope, f"concurrency[{len(keyed)}]"))
        return cls(account, function_limit, tuple(keyed))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        constraints: list[Constraint] = []
        acct = ctx.scenario.account
        binds = not account_never_binds(ctx.scenario, self.account_limit)
        if acct.burst:
            ledger = ctx.shared_state("concurrency:account", lambda: BurstLedger(
                acct.plan.name, self.account_limit, acct.burst_minutes_used))
            if binds:
                constraints.append(BurstLimitConstraint(ledger))
        elif binds:
            account = ctx.shared_state("concurrency:account", Tally)
            constraints.append(LimitConstraint(account, "account", self.account_limit))
        plan = acct.plan
        if plan is not None and plan.queue_depth is not None and ctx.queue_depth is not None:
            ctx.shared_state("plan:queue_depth", lambda: QueueDepthWatch(plan, ctx.queue_depth))
        if self.function_limit is not None:
            constraints.append(LimitConstraint(Tally(), "function", self.function_limit))
        for k in self.keyed:
            if k.scope == "fn":
                counter = Counter()
            else:  # shared by expression text and value across functions (§3.2)
                counter = ctx.shared_state(("concurrency", k.scope, k.key.text), Counter)
            constraints.append(KeyedConstraint(counter, k))
        return (), constraints


def account_limit(account: Node | None) -> int:
    """The account limit a scenario's ``account`` gives (validated by the loader):
    ``concurrency``, else its plan's included concurrency, else :data:`DEFAULT_ACCOUNT_LIMIT`."""
    if account is None or not isinstance(account.value, dict):
        return DEFAULT_ACCOUNT_LIMIT
    if account.get("concurrency") is not None:
        return account.get("concurrency").int(minimum=1)
    plan = PLANS.get(account.get("plan").value) if account.get("plan") is not None else None
    if plan is not None and plan.concurrency is not None:
        return plan.concurrency
    return DEFAULT_ACCOUNT_LIMIT


def account_never_binds(scenario: "Scenario", limit: int) -> bool:
    """Whether the account limit can never refuse an item: every function has a function
    limit, and together they stay below it (the items executing at once never exceed the
    sum, and a limit refuses only when reached: at equality it would refuse first, and be
    named as the reason). The account constraint is then left out: the same decisions,
    and three calls fewer per item (check, acquire, release)."""
    total = 0
    for fn in scenario.functions:
        conf = fn.mechanisms.get(ConcurrencyConfig.field)
        if conf is None or conf.function_limit is None:
            return False
        total += conf.function_limit
    return total < limit


class LimitConstraint(Constraint):
    """The account or function limit: one counter, refusal stops the walk (§3.3)."""

    stop = True

    def __init__(self, tally: Tally, reason: str, limit: int) -> None:
        self.tally = tally
        self.reason = reason
        self.limit = limit
        self.refusal = Refusal(reason, stop=True)

    def check(self, item, now: float) -> Refusal | None:
        return self.refusal if self.tally.used >= self.limit else None

    def acquire(self, item, now: float) -> None:
        self.tally.used += 1

    def explain(self, item, now: float) -> str:
        return f"{self.reason} limit: {self.tally.used}/{self.limit} in use"

    def release(self, item, now: float) -> None:
        self.tally.used -= 1


class KeyedConstraint(Constraint):
    """A keyed limit: the key value is evaluated once per run; refusal skips (§3.3).

    A key evaluating to ``false`` (missing field) shares the bucket ``"false"``; an
    evaluation error shares the bucket ``"<nil>"`` (§2.1).
    """

    stop = False

    def __init__(self, counter: Counter, spec: KeyedLimit) -> None:
        self.counter = counter
        self.spec = spec
        self.label = spec.label
        self._refusals: dict[str, Refusal] = {}

    def bind(self, run) -> None:
        run.keys[self.label] = key_value(self.spec.key, run.event)

    def check(self, item, now: float) -> Refusal | None:
        value = item.run.keys[self.label]
        if self.counter.used.get(value, 0) < self.spec.limit:
            return None
        return self._refusal(value)

    def _refusal(self, value: str) -> Refusal:
        refusal = self._refusals.get(value)
        if refusal is None:
            refusal = self._refusals[value] = Refusal(f"concurrency:{self.spec.key.text}={value}")
        return refusal

    def backlog_key(self, item) -> str:
        """Runs of each key value wait in their own backlog (§3.4), named as the refusal."""
        return self._refusal(item.run.keys[self.label]).reason

    def explain(self, item, now: float) -> str:
        value = item.run.keys[self.label]
        return (f"keyed limit {self.spec.key.text}={value}: "
                f"{self.counter.used.get(value, 0)}/{self.spec.limit} in use")

    def acquire(self, item, now: float) -> None:
        used = self.counter.used
        value = item.run.keys[self.label]
        used[value] = used.get(value, 0) + 1

    def release(self, item, now: float) -> None:
        used = self.counter.used
        value = item.run.keys[self.label]
        n = used[value] - 1
        if n:
            used[value] = n
        else:
            del used[value]


def _minute(t: float) -> int:
    """The clock minute (from t = 0) holding time ``t``."""
    return int(t // BURST_METER)


class BurstLedger(SummarySection):
    """The account's in-use slots and the burst allowance they spend (see the module doc).

    The interval since the last change of ``used`` is accounted for lazily, when the next
    question or change comes (``_advance``): the minutes it covered at a level above the
    limit are spent then, each at the moment it was first above the limit, which is what
    an eager meter would have done."""

    section = "burst"

    def __init__(self, plan: str, base: int, spent_before: int) -> None:
        self.plan = plan
        self.used = 0
        self.base = base
        self.ceiling = BURST_FACTOR * base
        self.before = spent_before
        self.spent = spent_before
        self.paid: list[int] = []         # the minutes spent in this simulation, in order
        self.last_paid = -1                # the last minute spent
        self.last_seen = -1                # the last minute seen above the limit (spent or not)
        self.unpaid = 0                    # minutes above the limit after the allowance ran out
        self.since = 0.0                   # when ``used`` last changed
        self.ran_out_at: float | None = 0.0 if spent_before >= BURST_MINUTES else None
        self.runs = 0                      # runs whose start item was admitted above the limit
        self.steps = 0                     # items (of any kind) admitted above the limit
        self.peak = 0
        self.peak_at = 0.0

    def _advance(self, now: float) -> None:
        """Spend the minutes that ``[since, now)`` covered at the current level."""
        if self.used > self.base and now > self.since:
            first = max(_minute(self.since), self.last_seen + 1)
            for m in range(first, math.ceil(now / BURST_METER)):
                self._spend(m, max(m * BURST_METER, self.since))
        self.since = now

    def _spend(self, minute: int, at: float) -> None:
        self.last_seen = minute
        if self.spent < BURST_MINUTES:
            self.spent += 1
            self.paid.append(minute)
            self.last_paid = minute
            if self.spent == BURST_MINUTES:
                self.ran_out_at = at
        else:
            self.unpaid += 1

    def admits(self, now: float) -> bool:
        """Whether one more slot may be taken at ``now``: below the limit, or below the
        burst ceiling while the current minute is paid for or a minute is left. (Catching
        up on the minutes already past changes no answer, so a question may do it.)"""
        used = self.used
        if used < self.base:
            return True
        if used >= self.ceiling:
            return False
        self._advance(now)
        return _minute(now) == self.last_paid or self.spent < BURST_MINUTES

    def acquire(self, is_first_start: bool, now: float) -> None:
        self._advance(now)
        if self.used >= self.base:
            minute = _minute(now)
            if minute > self.last_seen:
                self._spend(minute, now)
            self.steps += 1
            if is_first_start:
                self.runs += 1
        self.used += 1
        if self.used > self.peak:
            self.peak = self.used
            self.peak_at = now

    def release(self, now: float) -> None:
        self._advance(now)
        self.used -= 1

    def describe(self) -> str:
        """The ledger's state in words, for the decision log."""
        left = BURST_MINUTES - self.spent
        state = (f"{left} of {BURST_MINUTES} burst minutes left" if left else
                 f"burst allowance spent at t={self.ran_out_at:g}s")
        return f"account limit: {self.used}/{self.base} in use (burst up to {self.ceiling}; {state})"

    def report(self, end: float) -> dict[str, Any]:
        self._advance(end)
        spans: list[list[float]] = []
        for m in self.paid:
            start = m * BURST_METER
            if spans and spans[-1][1] == start:
                spans[-1][1] = start + BURST_METER
            else:
                spans.append([start, start + BURST_METER])
        ran_out = self.ran_out_at is not None
        back = None                       # the end of the last minute paid for, once none is left
        if ran_out:
            back = (self.last_paid + 1) * BURST_METER if self.paid else 0.0
        return {
            "what": (f"bursty concurrency ({self.plan} plan): up to {BURST_FACTOR}x the account limit for up to "
                     f"{BURST_MINUTES} minutes a month; a minute is spent for each clock minute from t=0 in which "
                     "more steps executed than the account limit"),
            "account_limit": self.base,
            "burst_limit": self.ceiling,
            "allowance_minutes": BURST_MINUTES,
            "minutes_spent_before": self.before,
            "minutes_spent": len(self.paid),
            "minutes_left": BURST_MINUTES - self.spent,
            "burst_spans": spans,
            "runs_started_by_burst": self.runs,
            "steps_started_by_burst": self.steps,
            "peak_in_use": self.peak,
            "peak_at": self.peak_at,
            "ran_out": ran_out,
            "ran_out_at": self.ran_out_at,
            "limit_back_to_base_at": back,
            "minutes_above_limit_after_running_out": self.unpaid,
        }


class BurstLimitConstraint(Constraint):
    """The account limit with bursty concurrency: the shared :class:`BurstLedger` decides;
    a refusal stops the walk and is named ``account``, as the plain account limit's (§3.3)."""

    stop = True

    def __init__(self, ledger: BurstLedger) -> None:
        self.ledger = ledger
        self.refusal = Refusal("account", stop=True)

    def check(self, item, now: float) -> Refusal | None:
        return None if self.ledger.admits(now) else self.refusal

    def acquire(self, item, now: float) -> None:
        self.ledger.acquire(item.run.started_at is None, now)

    def release(self, item, now: float) -> None:
        self.ledger.release(now)

    def explain(self, item, now: float) -> str:
        return self.ledger.describe()


class QueueDepthWatch(SummarySection):
    """The plan's queue depth against the account's simulated one. Inngest publishes the
    limit but neither its docs nor its source say what happens at it (the source's
    per-function backlog size limit is a separate, Cloud-configured hook), so flowsim does
    not guess: it warns when the depth first passes the limit and goes on queueing."""

    section = "queue_depth"

    def __init__(self, plan: Plan, depth: "QueueDepth") -> None:
        self.plan = plan
        self.depth = depth
        depth.watch(plan.queue_depth, self._passed)

    def _passed(self, count: int, now: float) -> None:
        warnings.warn(ScenarioWarning(
            f"at t={format_duration(now)} the account's queues held {count:,} items, more than the "
            f"{self.plan.name} plan's queue depth of {self.plan.queue_depth:,}; Inngest does not publish what "
            "happens then, and flowsim keeps queueing, so results from then on may be optimistic"))

    def report(self, end: float) -> dict[str, Any]:
        depth = self.depth
        return {
            "what": (f"queue items waiting (enqueued, not started) across the account against the {self.plan.name} "
                     "plan's queue depth; what Inngest does beyond it is not published, flowsim keeps queueing"),
            "limit": self.plan.queue_depth,
            "peak": depth.peak,
            "peak_at": depth.peak_at,
            "exceeded": depth.passed_at is not None,
            "first_exceeded_at": depth.passed_at,
        }
