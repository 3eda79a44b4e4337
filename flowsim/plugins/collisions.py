"""Hatchet's concurrency strategies: what a keyed limit does with a run that collides.

Configuration (Hatchet's ``ConcurrencyExpression(expression, max_runs, limit_strategy)``)::

    policies:
      - policy: collision
        key: event.data.user           # Hatchet's expression (CEL); one group without it
        max_runs: 1
        strategy: cancel_in_progress   # | cancel_newest | cancel_queued_except_newest
                                       # | cancel_queued_except_oldest

Slots (Hatchet v1): each key has ``max_runs`` slots; a run that gets one keeps it from
its creation (or its promotion) until it ends, queued or running — Hatchet assigns
concurrency slots to queued tasks, before a worker picks them up — and only runs holding
a slot may start (a run without one waits, ``steps.blocked_by`` =
``collision:<strategy>:<key>``). When a slot frees, the oldest waiting run of the key
takes it. The strategies (Hatchet docs, "Concurrency"; v0.105.16 release notes):

* ``cancel_in_progress`` (Hatchet's default): a new run always gets a slot; the oldest
  holders of its key are cancelled, running or queued, so that the newest ``max_runs``
  remain;
* ``cancel_newest``: a new run that finds every slot of its key taken is cancelled;
* ``cancel_queued_except_newest``: a new run that finds the slots taken waits; of the
  waiting runs of the key only the newest ``max_runs`` are kept, older ones cancelled
  ("keeping only the most recent queued item until in-progress runs complete —
  conceptually similar to debouncing");
* ``cancel_queued_except_oldest``: up to ``max_runs`` runs wait behind the slots; a new
  run beyond that is cancelled (the queue depth keeps the oldest).

A cancelled run is a created run (events keep the outcome ``run``) with status
``cancelled`` and ``cancel_reason`` ``<strategy>: …``; an executing request of a
cancelled holder finishes (its result discarded) and keeps the engine's concurrency
slots until then (spec §8.2, ``cancel_run``), while its Hatchet slot frees at once.
A new run to be cancelled is cancelled at its creation time, before any queue walk can
start it. Each run's key is in ``runs.keys["collision"]``.

A holder that ends, however it ends (``cancelOn``, a timeout), frees its slot to the
oldest waiting run, and the function's queue is walked again at once (``ctx.wake``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from flowsim.expr import Expr
from flowsim.plugins.keys import key_of, parse_key
from flowsim.policies.base import BuildContext, Constraint, Drop, EventStage, Refusal, StageContext
from flowsim.scenario.source import Node

if TYPE_CHECKING:
    from flowsim.engine.runs import QueueItem, Run

STRATEGIES = ("cancel_in_progress", "cancel_newest", "cancel_queued_except_newest", "cancel_queued_except_oldest")
LABEL = "collision"
ORDER_COLLISION = 70    # after singleton (§1 step 6): sees only runs that will be enqueued
HOLDER, WAITING, DOOMED = "holder", "waiting", "doomed"


@dataclass(frozen=True)
class Collision:
    """``collision``: a keyed limit of ``max_runs`` slots with a Hatchet strategy."""

    key: Expr | None
    max_runs: int
    strategy: str

    @classmethod
    def parse(cls, node: Node, function: Node, scenario: Node) -> "Collision":
        node.mapping(("key", "max_runs", "strategy"), required=("max_runs", "strategy"))
        return cls(parse_key(node.get("key")), node.child("max_runs").int(minimum=1),
                   node.child("strategy").choice(STRATEGIES))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        stage = CollisionStage(self)
        return (stage,), (SlotConstraint(stage),)


class CollisionStage(EventStage):
    """Assigns slots at run creation, applies the strategy, frees slots at run end."""

    order = ORDER_COLLISION

    def __init__(self, config: Collision) -> None:
        self.config = config
        self.holders: dict[str, list["Run"]] = {}
        self.waiting: dict[str, list["Run"]] = {}

    def run_created(self, run: "Run", ctx: StageContext) -> Drop | None:
        cfg = self.config
        key = run.keys[LABEL] = key_of(cfg.key, run.event)
        holders = self.holders.setdefault(key, [])
        waiting = self.waiting.setdefault(key, [])
        strategy = cfg.strategy
        if strategy == "cancel_in_progress":
            self._take(run, holders)
            while len(holders) > cfg.max_runs:
                ctx.cancel_run(holders[0], f"{strategy}: newer run {run.id} on key {key}")
        elif len(holders) < cfg.max_runs:
            self._take(run, holders)
        elif strategy == "cancel_newest":
            self._doom(run, ctx, f"{strategy}: {cfg.max_runs} run(s) of key {key} hold its slots")
        elif strategy == "cancel_queued_except_newest":
            run.attrs[LABEL] = WAITING
            waiting.append(run)
            while len(waiting) > cfg.max_runs:
                ctx.cancel_run(waiting[0], f"{strategy}: newer queued run {run.id} on key {key}")
        elif len(waiting) < cfg.max_runs:       # cancel_queued_except_oldest
            run.attrs[LABEL] = WAITING
            waiting.append(run)
        else:
            self._doom(run, ctx, f"{strategy}: {cfg.max_runs} older run(s) of key {key} already wait")
        return None

    @staticmethod
    def _take(run: "Run", holders: list["Run"]) -> None:
        run.attrs[LABEL] = HOLDER
        holders.append(run)

    @staticmethod
    def _doom(run: "Run", ctx: StageContext, reason: str) -> None:
        """Cancel the new run as soon as it exists (it is enqueued after this call, and the
        constraint refuses it meanwhile)."""
        run.attrs[LABEL] = DOOMED
        ctx.call_at(ctx.now, ctx.cancel_run, run, reason)

    def run_ended(self, run: "Run", ctx: StageContext) -> None:
        state = run.attrs.pop(LABEL, None)
        key = run.keys.get(LABEL)
        if state == WAITING:
            self.waiting[key].remove(run)
        elif state == HOLDER:
            holders = self.holders[key]
            holders.remove(run)
            waiting = self.waiting[key]
            promoted_any = False
            while waiting and len(holders) < self.config.max_runs:
                promoted = waiting.pop(0)
                self._take(promoted, holders)
                promoted_any = True
                ctx.log("collision", f"run {promoted.id} takes the freed slot of key {key}",
                        run_id=promoted.id, key=key)
            if promoted_any:
                ctx.wake(run.fn.spec)


class SlotConstraint(Constraint):
    """Only runs holding a slot of their key may start."""

    start_only = True

    def __init__(self, stage: CollisionStage) -> None:
        self.stage = stage
        self.prefix = f"{LABEL}:{stage.config.strategy}:"

    def check(self, item: "QueueItem", now: float) -> Refusal | None:
        if item.run.attrs.get(LABEL) == HOLDER:
            return None
        return Refusal(self.prefix + item.run.keys[LABEL])

    def explain(self, item: "QueueItem", now: float) -> str:
        key = item.run.keys[LABEL]
        held = len(self.stage.holders.get(key, ()))
        return f"{self.prefix}{key}: {held}/{self.stage.config.max_runs} slots held"
