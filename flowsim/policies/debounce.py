"""Debounce: one run per quiet period, with the last event (spec §6).

Configuration (§6.1), as Inngest's SDKs accept it::

    debounce: {period: 5m}                                          # one debounce per function
    debounce: {period: 5m, key: event.data.document_id, timeout: 30m}

Algorithm (§6.2), per key value. The key is evaluated once per event, on the incoming
event; a key that evaluates to ``false`` (a missing field) shares the debounce ``"false"``,
an evaluation error shares ``"<invalid>"`` (§2.1 table); without a key there is one
debounce for the whole function. A debounce *generation* is:

* opened by an event that finds no open generation for its key; the deadline is
  ``now + timeout`` when a timeout is configured;
* each later event whose ``ts`` is not older than the stored event's replaces the stored
  event (the replaced one gets the outcome ``debounced``, "superseded by <id>") and
  restarts the wait to a full ``period``; an event whose ``ts`` is older than the stored
  one is ignored entirely (outcome ``debounced``, out of order, no extension);
* the wait is ``ttl = period``, cut to what is left until the deadline when that is
  shorter, and clamped to at least ``platform.debounce_min_ttl`` (1 s on Inngest, so an
  event within 1 s of the deadline still pushes the run past it, and a stream of more
  than one event a second keeps pushing it 1 s at a time, as in Inngest, §6.2, PR #3554);
* the generation stops accepting events after ``ttl`` (Inngest's pointer key expires) and
  fires ``platform.debounce_delay`` later (``50 ms + 1 s`` on Inngest, 0 on ``ideal``): the
  stored event continues through the remaining stages as a run candidate, so singleton,
  keys and priority, throttle, concurrency and idempotency apply to it normally while the
  rate limit, which came before, is not applied again (§1 steps 3-4). An event arriving
  after the generation closed, even in the ``debounce_delay`` before the fire, opens a new
  generation, as a new Inngest debounce does once the pointer expired.

The run's start item is enqueued at ``max(fire time, event.ts)`` by the engine (§1 step 9),
so the run starts ``period + 1.05 s`` after the last event on the ``inngest`` platform.

Payload mode (``mode``): Inngest's is ``trailing`` — the run gets the last event, as above.
``leading`` is Trigger.dev's (its ``debounce.mode: "leading"``, the default there): the
run gets the *first* event of the generation; later events only restart the wait (same
period, timeout and clamp) and get the outcome ``debounced`` ("debounced into <first
id>"), whatever their ``ts``. Inngest's ``debounce:`` field has no ``mode``; the leading
mode is reached through the ``debounce`` plug-in (:mod:`flowsim.plugins.debounce_modes`).

Decisions and known divergences (spec README decisions table):

* **Timeout, intended behaviour.** ``timeout`` caps *every* generation, measured from that
  generation's first event. Inngest's source loses the timeout from the second generation of
  a key onwards (§6.4); flowsim does not reproduce that bug.
* **Unparseable timeout rejected.** Inngest silently ignores a ``timeout`` it cannot parse
  (no cap at all, §6.1); a user who writes a timeout means it, so flowsim rejects it with an
  error instead.
* **Not modelled:** the 750 ms × 5 retries of events that arrive while the debounce job is
  leased (the few ms of the fire itself, §6.2); the whole-second rounding of Inngest's Redis
  TTLs (flowsim keeps fractional periods and remaining times, a difference below 1 s); and
  the race in which the firing job's ``start.lua`` overwrites the pointer of a generation
  opened during the ``debounce_delay`` window (that generation keeps accepting events here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from flowsim.expr import Expr, key_value
from flowsim.policies.base import (HOLD, ORDER_DEBOUNCE, BuildContext, Candidate, Constraint, Drop, EventStage,
                                   StageContext)
from flowsim.scenario.source import Node
from flowsim.units import parse_duration

MIN_PERIOD = 1.0              # consts.MinDebouncePeriod
MAX_PERIOD = 7 * 86400.0      # consts.MaxDebouncePeriod
INVALID_KEY = "<invalid>"     # the shared debounce of keys whose expression errors (§2.1)


@dataclass(frozen=True)
class DebounceConfig:
    """A function's ``debounce``: period and optional key and timeout, in seconds."""

    period: float
    key: Expr | None = None
    timeout: float | None = None
    mode: str = "trailing"
    """``trailing`` (Inngest: the last event) or ``leading`` (Trigger.dev: the first)."""

    field: ClassVar[str] = "debounce"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "DebounceConfig | None":
        """Validate with Inngest's messages (``Function.Validate``, §6.1)."""
        if node is None:
            return None
        node.mapping(("period", "key", "timeout"))
        if function.get("batchEvents") is not None:
            raise node.error("Batching and debouncing are mutually exclusive")
        return cls(_period(node.child("period")), _key(node.get("key")), _timeout(node.get("timeout")))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return (DebounceStage(self, ctx),), ()


def _raw(node: Node) -> str:
    """The value as the user wrote it, for messages (``''`` when absent)."""
    return "" if node.value is None else str(node.value)


def _period(node: Node) -> float:
    raw = _raw(node)
    try:
        if node.value is None:
            raise ValueError("a period is required")
        period = parse_duration(node.value)
    except ValueError as exc:
        raise node.error(f"The debounce period of '{raw}' is invalid: {exc}") from None
    if period < MIN_PERIOD:
        raise node.error(f"The debounce period of '{raw}' is less than the min of: 1s")
    if period > MAX_PERIOD:
        raise node.error(f"The debounce period of '{raw}' is greater than the max of: 168h0m0s")
    return period


def _key(node: Node | None) -> Expr | None:
    if node is None or node.value == "":        # "" is treated as no key (§6.1)
        return None
    if not isinstance(node.value, str):
        raise node.error(f"Debounce expression is invalid: expected a CEL expression string, got {node.value!r}")
    return node.expr("Debounce expression is invalid: {error}")


def _timeout(node: Node | None) -> float | None:
    if node is None or node.value == "":        # Inngest: an empty timeout is no timeout
        return None
    try:
        return parse_duration(node.value)
    except ValueError as exc:
        # Inngest ignores an unparseable timeout (no cap, §6.1); flowsim refuses it.
        raise node.error(f"The debounce timeout of '{_raw(node)}' is invalid: {exc} (Inngest would silently "
                         "ignore it and never cap the debounce; fix it or remove it)") from None


class Generation:
    """One debounce of one key: from the event that opens it to the fire."""

    __slots__ = ("number", "key", "candidate", "deadline", "close_at", "fire_at", "events")

    def __init__(self, number: int, key: str, candidate: Candidate, deadline: float | None) -> None:
        self.number = number
        self.key = key
        self.candidate = candidate      # holds the stored (latest in-order) event
        self.deadline = deadline        # first event + timeout, or None (§6.2 ``t``)
        self.close_at = 0.0             # the pointer's expiry: later events open a new generation
        self.fire_at = 0.0              # close_at + platform.debounce_delay
        self.events = 1                 # events that joined (stored or superseded)


class DebounceStage(EventStage):
    """Holds each candidate in its key's generation; resumes the last one at the fire."""

    order = ORDER_DEBOUNCE

    def __init__(self, config: DebounceConfig, ctx: BuildContext) -> None:
        self.config = config
        self.function = ctx.function
        self.delay = ctx.platform.debounce_delay
        self.min_ttl = ctx.platform.debounce_min_ttl
        self.open: dict[str, Generation] = {}
        self.generations = 0

    def _key_of(self, event: Any) -> str:
        """The debounce key of ``event`` (§2.1): ``"false"`` for a missing field,
        ``"<invalid>"`` for an evaluation error, ``""`` without a key expression."""
        return key_value(self.config.key, event, INVALID_KEY)

    def _label(self, key: str) -> str:
        return key if self.config.key is not None else self.function.id

    def _extend(self, gen: Generation, now: float) -> None:
        """Restart ``gen``'s wait at ``now``: a full period, capped by the deadline,
        clamped to the platform's minimum (§6.2 newDebounce / updateDebounce)."""
        ttl = self.config.period
        if gen.deadline is not None and now + ttl > gen.deadline:
            ttl = gen.deadline - now
        ttl = max(ttl, self.min_ttl)
        gen.close_at = now + ttl
        gen.fire_at = gen.close_at + self.delay

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | object | None:
        event = candidate.event
        key = self._key_of(event)
        now = ctx.now
        gen = self.open.get(key)
        if gen is not None and now >= gen.close_at:
            gen = None      # closed: it fires by itself; this event opens the next one
        if gen is None:
            self.generations += 1
            timeout = self.config.timeout
            gen = Generation(self.generations, key, candidate, None if timeout is None else now + timeout)
            self._extend(gen, now)
            self.open[key] = gen
            ctx.call_at(gen.fire_at, self._fire, gen, ctx)
            ctx.log("debounce", f"debounce {self._label(key)} opened by event {event.id}, fires at "
                    f"{gen.fire_at:g}", event=event.id, key=key, generation=gen.number, fire_at=gen.fire_at)
            return HOLD
        stored = gen.candidate.event
        if self.config.mode == "leading":      # Trigger.dev: keep the first, restart the wait
            gen.events += 1
            self._extend(gen, now)
            ctx.log("debounce", f"event {event.id} joins debounce {self._label(key)} led by {stored.id}",
                    event=event.id, key=key, generation=gen.number, stored=stored.id)
            return Drop("debounced", f"debounced into {stored.id}", key=key)
        if event.ts < stored.ts:
            # §6.2 updateDebounce returns -2: the older event has no effect at all.
            reason = f"out of order: ts {event.ts:g} older than stored event {stored.id} (ts {stored.ts:g})"
            ctx.log("debounce", f"event {event.id} ignored in debounce {self._label(key)}: {reason}",
                    event=event.id, key=key, generation=gen.number, stored=stored.id)
            return Drop("debounced", reason, key=key)
        ctx.set_outcome(stored, self.function, "debounced", reason=f"superseded by {event.id}", key=key)
        ctx.log("debounce", f"superseded in debounce {self._label(key)} by event {event.id}",
                event=stored.id, by=event.id, key=key, generation=gen.number)
        gen.candidate = candidate
        gen.events += 1
        self._extend(gen, now)      # the pending timer notices the later fire time when it rings
        return HOLD

    def _fire(self, gen: Generation, ctx: StageContext) -> None:
        """The generation's timer: re-armed while updates pushed the fire time later,
        else hand the stored event on as a run candidate (§6.2 handleDebounce)."""
        now = ctx.now
        if gen.fire_at > now + 1e-9:
            ctx.call_at(gen.fire_at, self._fire, gen, ctx)
            return
        if self.open.get(gen.key) is gen:
            del self.open[gen.key]
        event = gen.candidate.event
        ctx.log("debounce", f"debounce {self._label(gen.key)} fired with event {event.id} "
                f"({gen.events} event{'s' if gen.events != 1 else ''})", event=event.id, key=gen.key,
                generation=gen.number, events=gen.events)
        ctx.resume(gen.candidate, after=self)
