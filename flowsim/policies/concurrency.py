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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

from flowsim.expr import Expr, key_value
from flowsim.policies.base import BuildContext, Constraint, EventStage, Refusal
from flowsim.scenario.source import Node

if TYPE_CHECKING:
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
        account = scenario.get("account")
        account_limit = DEFAULT_ACCOUNT_LIMIT
        if account is not None and account.get("concurrency") is not None:
            account_limit = account.get("concurrency").int(minimum=1)
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
        return cls(account_limit, function_limit, tuple(keyed))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        constraints: list[Constraint] = []
        if not account_never_binds(ctx.scenario, self.account_limit):
            account = ctx.shared_state("concurrency:account", Tally)
            constraints.append(LimitConstraint(account, "account", self.account_limit))
        if self.function_limit is not None:
            constraints.append(LimitConstraint(Tally(), "function", self.function_limit))
        for k in self.keyed:
            if k.scope == "fn":
                counter = Counter()
            else:  # shared by expression text and value across functions (§3.2)
                counter = ctx.shared_state(("concurrency", k.scope, k.key.text), Counter)
            constraints.append(KeyedConstraint(counter, k))
        return (), constraints


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
