"""Runs and queue items: the state the engine moves through its queues.

A run is a sequence of queue items (spec §3.2): the *start* item, one item per
``step.run`` after the first, a *sleep* item when a sleep ends, retries of any of
them. Each item is one SDK request: it holds a slot in every concurrency constraint
while it executes and none while it waits; sleeping and waiting runs have no item.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from flowsim.engine.world import FunctionRuntime
    from flowsim.policies.base import Constraint
    from flowsim.traffic.event import Event

# Item kinds. Only START items (and their retries) are throttled (§4.2); SLEEP items
# (a resumed sleep) and retries are scored by their due time (§7.2, §3.5).
START, STEP, SLEEP = "start", "step", "sleep"

# Run states while alive, then final statuses.
QUEUED, EXECUTING, SLEEPING, WAITING = "queued", "executing", "sleeping", "waiting"
COMPLETED, FAILED, CANCELLED, SKIPPED, PENDING = "completed", "failed", "cancelled", "skipped", "pending"
FINAL = (COMPLETED, FAILED, CANCELLED, SKIPPED)


class Run:
    """A function run created from one event (or a batch of events)."""

    __slots__ = ("id", "seq", "fn", "events", "event", "created_at", "state", "started_at", "ended_at",
                 "cancel_reason", "priority_factor", "keys", "item", "timers", "pauses", "batch_id",
                 "phase", "_attrs", "callbacks")
    _ok = True      # with ``callbacks``: a sleeping run is its own entry in SimPy's event queue

    def __init__(self, seq: int, fn: "FunctionRuntime", events: Sequence["Event"], created_at: float,
                 priority_factor: float, batch_id: str | None) -> None:
        self.id = f"r{seq}"
        self.seq = seq
        self.fn = fn
        self.events = events
        self.event = events[0]
        self.created_at = created_at
        self.state = QUEUED
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.cancel_reason = ""
        self.priority_factor = priority_factor
        self.keys: dict[str, Any] = {}
        self.item: QueueItem | None = None
        self.timers: tuple[Any, ...] = ()      # its cancellable timers and pauses (few, most runs none)
        self.pauses: tuple[Any, ...] = ()
        self.batch_id = batch_id
        self.phase: tuple[int, float] | None = None    # the sleep or wait it is in: (step index, since)
        self._attrs: dict[str, Any] | None = None

    @property
    def attrs(self) -> dict[str, Any]:
        """Policies' own state for this run (made on first use: most runs need none)."""
        attrs = self._attrs
        if attrs is None:
            attrs = self._attrs = {}
        return attrs

    @property
    def ended(self) -> bool:
        return self.state in FINAL

    def __repr__(self) -> str:
        return f"Run({self.id}, {self.fn.spec.id}, {self.state})"


class QueueItem:
    """One request of a run waiting for, or holding, its concurrency slots.

    ``score`` orders the function's queue (§3.3, §7.2); ``waits`` accumulates, per
    reason, how long the item was held back (its row's ``waits`` and ``blocked_by``).
    While it executes, the item is its own entry in SimPy's event queue, due at its end
    (``callbacks``, ``_ok``: what ``Environment.step`` reads of an event; ``failed``:
    whether the attempt fails).
    """

    __slots__ = ("run", "kind", "step_index", "attempt", "at", "score", "seq", "started_at", "ended_at",
                 "held", "is_start", "reason", "reason_since", "waits", "in_queue", "timer", "callbacks",
                 "failed")
    _ok = True

    def __init__(self, run: Run, kind: str, step_index: int, attempt: int, at: float, seq: int) -> None:
        self.run = run
        self.kind = kind
        self.step_index = step_index
        self.attempt = attempt
        self.at = at
        self.score = 0.0
        self.seq = seq
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.held: Sequence["Constraint"] = ()      # the constraints it holds a slot of
        self.is_start = kind == START
        self.reason: str | None = None
        self.reason_since = at
        self.waits: dict[str, float] | None = None
        self.in_queue = False
        self.timer: Any = None

    def note_reason(self, reason: str | None, now: float) -> bool:
        """Record that from ``now`` the item waits because of ``reason``; True if it changed."""
        if reason == self.reason:
            return False
        if self.reason is not None and now > self.reason_since:
            waits = self.waits
            if waits is None:
                self.waits = {self.reason: now - self.reason_since}
            else:
                waits[self.reason] = waits.get(self.reason, 0.0) + (now - self.reason_since)
        self.reason = reason
        self.reason_since = now
        return True
