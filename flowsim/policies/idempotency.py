"""Idempotency: a repeated event starts no second run (spec §5.1, §5.3).

Two rules, both with the outcome ``duplicate`` and the key in the events table:

1. **Event-ID idempotency, always on** (§5.3), even without an ``idempotency`` field.
   ``runner.Initialize`` sets the run's idempotency key to the event's id; creating run
   state does ``SET <fn>-<event id> NX EX 24h`` (``FunctionIdempotencyPeriod``) and a
   key that already exists drops the run silently. A finished run turns the key into a
   tombstone with ``SET … XX KEEPTTL``, which keeps the TTL. So the window is
   **[creation of the first run, creation + 24h)**, measured from the moment its state
   was created, whether or not that run is still going: at exactly +24h the key has
   expired and the same id starts a new run, which opens a new window. Checked at
   ``ORDER_IDEMPOTENCY`` (state creation, §1 step 8), the key taken there too: a run
   that the singleton enqueue then skips (§1 step 9) has already taken it. A batch's run
   is keyed by ``<fn>-<batch id>``, unique per batch, so batch candidates are never
   duplicates. Events that never reach state creation (rate limited, debounced into
   another run, singleton-skipped before it) take no key. Generated traffic numbers its
   events uniquely, so for a scenario with only generated sources the rule can never
   fire and is not installed (:func:`ids_may_repeat`).

2. **``idempotency: "<expr>"``** (§5.1). Inngest's SDK layer rewrites it to
   ``RateLimit{limit: 1, period: 24h, key: expr}``, which *replaces* any configured
   ``rateLimit``. flowsim does the same: an :class:`IdempotencyKeyStage` is the rate
   limiter of :mod:`flowsim.policies.ratelimit` with those numbers (the rateLimit config
   warns and stands down), checked where the rate limit is (§1 step 3, before debounce)
   and with all its rules: a key evaluating to ``false`` means no dedup at all, an
   evaluation error drops the event with outcome ``error``, batch runs bypass it.
   Only the outcome (``duplicate``), the reason and the label of the admitted run's key
   (``runs.keys["idempotency"]``) differ. The validation is the rate
   limit's: "key is invalid: …". With limit 1 the hidden burst is 0, so a key admits
   one event, then none until exactly 24h after it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Iterable

from flowsim.expr import Expr
from flowsim.policies.base import ORDER_IDEMPOTENCY, BuildContext, Candidate, Constraint, Drop, EventStage, StageContext
from flowsim.policies.ratelimit import RateLimitStage, format_at
from flowsim.scenario.source import Node
from flowsim.traffic.sources import GeneratedSource

PERIOD = 86400.0            # consts.FunctionIdempotencyPeriod (24h)
OUTCOME = "duplicate"


@dataclass(frozen=True)
class IdempotencyConfig:
    """The always-on event-id rule plus the optional ``idempotency`` key expression."""

    key: Expr | None

    field: ClassVar[str] = "idempotency"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "IdempotencyConfig":
        if node is None:
            return cls(None)
        return cls(node.expr("key is invalid: {error}"))      # validated as the rate limit it becomes (§5.1)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        stages: list[EventStage] = [EventIdStage()] if ids_may_repeat(ctx.scenario.traffic) else []
        if self.key is not None:
            stages.append(IdempotencyKeyStage(self.key))
        return stages, ()


def ids_may_repeat(traffic: Iterable[object]) -> bool:
    """Whether two events of this traffic can share an id, so that the event-id rule can
    ever drop one. Explicit and replayed events carry their own ids; a generated source
    numbers its events ``<source>-<k>``, and since ``k`` is an integer (the part after the
    last dash) and source names are unique, those ids never repeat: the rule is then a
    no-op, and skipping it saves its memory (an entry per event for 24 h) and time."""
    return not all(isinstance(source, GeneratedSource) for source in traffic)


class IdempotencyKeyStage(RateLimitStage):
    """``idempotency: <expr>`` as Inngest runs it: a rate limit of 1 per 24h on the key."""

    outcome = OUTCOME
    what = "idempotency"
    label = "idempotency"

    def __init__(self, key: Expr) -> None:
        super().__init__(1, PERIOD, key)

    def reason(self, key: str, retry_at: float) -> str:
        return (f"idempotency key {key} already used (rate limit 1/24h): "
                f"no new run for it until t={format_at(retry_at)}")


class EventIdStage(EventStage):
    """Event-ID idempotency: the first run of an event id holds it for 24 hours (§5.3)."""

    order = ORDER_IDEMPOTENCY

    def __init__(self) -> None:
        self.created: dict[str, float] = {}          # event id -> when its run's state was created
        self._expiry: deque[tuple[float, str]] = deque()

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | None:
        if candidate.batch_id is not None:      # keyed by the batch id: never a duplicate
            return None
        now = ctx.now
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:   # Redis EX: gone at exactly +24h
            _, old = expiry.popleft()
            del self.created[old]
        event_id = candidate.event.id
        first = self.created.get(event_id)
        if first is not None:
            return Drop(OUTCOME, f"event id {event_id} already started a run at t={format_at(first)}: "
                                 f"no new run for it until t={format_at(first + PERIOD)}", key=event_id)
        self.created[event_id] = now
        expiry.append((now + PERIOD, event_id))
        return None
