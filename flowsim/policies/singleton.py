"""Singleton: at most one run of a function per key at a time (spec §8).

Configuration (§8.1)::

    singleton: {key: event.data.user_id, mode: skip}   # mode: skip (default) | cancel
    singleton: {mode: cancel}                           # no key: one lock per function

``key`` is optional CEL, evaluated once per run on ``candidate.events[0]`` (§1 step 6).
A key evaluating to ``false`` (a missing field) means the run is not a singleton and
proceeds with no lock; a key that fails to evaluate means the singleton is ignored for
that run, with a warning in the decision log (§2.1, ``ErrNotASingleton`` and
``ErrEvaluatingSingletonExpression``). Rejected: ``"Batching and singletons are mutually
exclusive"`` (§8.1, §9.1). Singleton and concurrency both apply (§8.1, §11.6).

The lock (§8.2) is taken when the run is *enqueued* (:meth:`SingletonStage.run_created`)
and released when the run ends (completed, failed or cancelled), so queued, throttled,
sleeping, waiting and retrying runs all hold it. The runs that held a lock carry it in
``runs.keys["singleton"]``.

* ``skip``: if the lock is held, the new run is recorded as a skipped run whose
  ``cancel_reason`` names the holder (``SkipExistingRunID``), and its events get the
  outcome ``singleton_skipped``.
* ``cancel``: the lock is freed (GETDEL) and the holder cancelled with reason
  ``singleton``; an executing step of the holder finishes and keeps its slots until
  then, its result discarded (the engine's :meth:`cancel_run`). The new run takes the
  lock at its enqueue.

**The race in cancel mode.** Inngest frees the lock, cancels the holder and creates the
new run's state before the enqueue retakes the lock atomically; an event of the same key
processed in between finds the lock free, enqueues first, and the late run is skipped
(``enqueue.lua`` returns 2: "During a rapid burst… cancel mode can skip some new runs
rather than cancel each previous run", §8.2). flowsim processes each event atomically,
so it models that window with the platform constant ``singleton_cancel_gap``: a run
that cancelled a holder is held for that long before it is created, while a run that
found the lock free is created at once (its other scheduling work takes no simulated
time, like every other run's). At the enqueue the lock is checked again, and a run that
finds it taken is skipped (``singleton_skipped``, recorded as a skipped run). The
``inngest`` profile uses 10 ms (see :mod:`flowsim.platform`); ``ideal`` uses 0, where
cancel mode never skips.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

from flowsim.expr import Expr, ExprEvalError, key_string
from flowsim.policies.base import (HOLD, ORDER_SINGLETON, BuildContext, Candidate, Constraint, Drop, EventStage,
                                   StageContext)
from flowsim.scenario.source import Node

if TYPE_CHECKING:
    from flowsim.engine.runs import Run
    from flowsim.traffic.event import Event

MODES = ("skip", "cancel")      # enums.SingletonMode: skip = 0 (default), cancel = 1
OUTCOME = "singleton_skipped"
KEY_LABEL = "singleton"         # the run's lock key in runs.keys


@dataclass(frozen=True)
class SingletonConfig:
    """A function's ``singleton`` field: an optional key and the mode."""

    key: Expr | None
    mode: str

    field: ClassVar[str] = "singleton"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "SingletonConfig | None":
        if node is None:
            return None
        node.mapping(("key", "mode"))
        if function.get("batchEvents") is not None:
            raise node.error("Batching and singletons are mutually exclusive")
        mode = node.get("mode").choice(MODES) if node.get("mode") else "skip"
        key = node.get("key").expr("Invalid singleton key '{text}': {error}") if node.get("key") else None
        return cls(key, mode)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return (SingletonStage(self, ctx.function.id, ctx.platform.singleton_cancel_gap),), ()


class SingletonStage(EventStage):
    """The per-function lock table: lock key → the run holding it (§8.2)."""

    order = ORDER_SINGLETON

    def __init__(self, config: SingletonConfig, function_id: str, cancel_gap: float) -> None:
        self.key = config.key
        self.cancel = config.mode == "cancel"
        self.function_id = function_id
        self.cancel_gap = cancel_gap
        self.holders: dict[str, "Run"] = {}

    def _lock_key(self, event: "Event") -> tuple[str | None, str]:
        """The lock key for a run whose first event is ``event``, or ``None`` and the
        evaluation error (empty when the key is ``false``: not a singleton, §2.1)."""
        if self.key is None:
            return self.function_id, ""         # no key: one lock per function
        try:
            value = self.key.on(event)
        except ExprEvalError as exc:
            return None, str(exc)
        if value is False:
            return None, ""
        return key_string(value), ""

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | object | None:
        """Skip mode's pre-check, or cancel mode's release of the holder (§8.2)."""
        key, error = self._lock_key(candidate.event)
        if key is None:
            if error:
                ctx.log("singleton", f"singleton key error, singleton ignored: {error}",
                        function_id=self.function_id, event_id=candidate.event.id)
            return None
        holder = self.holders.get(key)
        if holder is None:
            return None
        if not self.cancel:
            return Drop(OUTCOME, f"singleton {key} held by run {holder.id}", record_run=True, key=key)
        del self.holders[key]                   # GETDEL, then cancel the holder
        ctx.cancel_run(holder, "singleton")
        if self.cancel_gap > 0:
            ctx.call_at(ctx.now + self.cancel_gap, ctx.resume, candidate, self)
            return HOLD
        return None

    def run_created(self, run: "Run", ctx: StageContext) -> Drop | None:
        """Take the lock at enqueue; skip the run if another run took it first (§8.2)."""
        key, _ = self._lock_key(run.event)
        if key is None:
            return None
        holder = self.holders.get(key)
        if holder is not None:
            return Drop(OUTCOME, f"singleton {key} taken by run {holder.id} before this run's enqueue",
                        record_run=True, key=key)
        self.holders[key] = run
        run.keys[KEY_LABEL] = key
        return None

    def run_ended(self, run: "Run", ctx: StageContext) -> None:
        """Release the lock if it still names ``run`` (``dequeue.lua``, §8.2)."""
        key = run.keys.get(KEY_LABEL)
        if key is not None and self.holders.get(key) is run:
            del self.holders[key]
