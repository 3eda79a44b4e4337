"""Event batching (``batchEvents``): many events, one run (spec §9, §1 step 2, §2.1).

Configuration (§9.1), as Inngest's SDKs accept it::

    batchEvents: {maxSize: 100, timeout: 30s}
    batchEvents: {maxSize: 100, timeout: 30s, key: event.data.campaign_id, if: "event.data.bulk == true"}

``maxSize`` ≥ 2; ``timeout`` a Go duration (``time.ParseDuration``: no ``d`` unit, §2.2)
of at least 1 s; ``key`` and ``if`` CEL. With an ``account.plan``, ``maxSize`` is at most
the plan's event batch capacity and ``timeout`` at most its batch timeout
(:mod:`flowsim.plans`). Rejected on the same function, as Inngest's
``Function.Validate`` does: ``cancelOn``, ``debounce``, ``singleton``, ``priority.run``.
Accepted with a :class:`~flowsim.errors.ScenarioWarning`: ``rateLimit`` and
``idempotency``, which batched events bypass (§9.1, the spec README's decisions table).

Algorithm (§1 step 2, §9.2). Batching is the first event stage:

* ``if`` absent or ``true``: the event joins the open batch of its key value (one batch
  and one timer per value; no ``key`` means one batch per function; a missing field
  gives the value ``false``, so such events share the batch ``"false"``, §2.1) and is
  held. Nothing later in §1 sees it on its own: no rate limit, no idempotency key.
  A key that fails to evaluate makes the append fail: the event gets the outcome
  ``error`` and no run (§2.1's table).
* ``if`` false, or an error: the event goes on alone, as a normal single-event run,
  through the rate limit and every later stage.
* A batch closes when it holds ``maxSize`` events (at once) or ``timeout`` after its
  first event was committed (measured from that event, never extended). On close one
  candidate with all the batch's events, in append order, and ``batch_id`` set goes on
  through the later stages; the engine gives every event the outcome ``batched`` with
  the run's id, binds concurrency and throttle keys from the batch's first event,
  enqueues at *now* (event ``ts`` ignored) and creates no ``cancelOn`` pause and no
  start timeout (§9.2).

The in-memory append buffer (§9.2, ``pkg/execution/batch/buffer.go`` and
``lua/bulk_append.lua``), on the ``inngest`` platform: appends are not committed one by
one but collected per (function, batch key) and bulk-appended when the buffer holds
``maxSize`` events or ``min(platform.batch_buffer, timeout)`` after the buffer's first
event (0.5 s: ``DefaultMaxBufferDuration``). A flush appends its events in order to the
key's open batch, opening a new one (whose timeout starts at the flush) whenever there
is none; an event that fills a batch closes it at the flush and the rest overflow into
a new batch (``bulk_append.lua`` splits overflow into batches of ``maxSize``). So a
batch's "first event" time, and its timeout, is the flush time, up to 0.5 s after the
event arrived. The flush size is the function's ``maxSize``, as ``buffer.go`` sets it
(``batchMaxSize = fn.EventBatch.MaxSize``); ``DefaultMaxBufferSize`` (50) applies only to
functions without one, so it does not enter here.
``platform.batch_buffer`` of 0 (the ``ideal`` profile) turns the buffer off: every event
is committed when it arrives. Not modelled: the 10 MiB batch cap, queue latency of the
timeout job, event-id deduplication inside a batch (event ids are unique here).

Decisions are logged (``ctx.log``, kind ``batch``): each close with its reason, and each
event sent around the batch by ``if``.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from flowsim.errors import ScenarioWarning
from flowsim.expr import Expr, ExprEvalError, is_true, key_string
from flowsim.plans import Plan, plan_of
from flowsim.policies.base import (ORDER_BATCHING, HOLD, BuildContext, Candidate, Constraint, Drop, EventStage,
                                   StageContext, Timer)
from flowsim.scenario.source import Node
from flowsim.units import format_duration

MIN_SIZE = 2                 # EventBatchConfig.IsValid
MIN_TIMEOUT = 1.0            # "batch timeout should be more than 1s"

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"([0-9]*)(\.[0-9]*)?([^0-9.]*)")


def parse_go_duration(text: str) -> float | None:
    """Seconds for a Go ``time.ParseDuration`` string, or ``None`` where Go returns an error.

    Go accepts an optional sign, then one or more ``<number><unit>`` parts with units
    ``ns us µs ms s m h`` (no ``d``, §2.2); a lone ``0`` needs no unit.
    """
    s = text
    negative = False
    if s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        return None
    total = 0.0
    while s:
        m = _GO_PART.match(s)
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if not whole and len(frac) <= 1:        # no digits at all ("." or a bare unit)
            return None
        if unit not in _GO_UNITS:               # missing or unknown unit ("30", "1d")
            return None
        total += float((whole or "0") + frac) * _GO_UNITS[unit]
        s = s[m.end():]
    return -total if negative else total


def _timeout_text(value: Any) -> str:
    """The timeout as the SDK would send it: YAML numbers become their text (and fail in Go)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class BatchConfig:
    """A function's ``batchEvents`` settings (spec §9.1)."""

    max_size: int
    timeout: float
    key: Expr | None
    condition: Expr | None

    field: ClassVar[str] = "batchEvents"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "BatchConfig | None":
        """Validate ``batchEvents`` with Inngest's messages and check the function's other fields."""
        if node is None:
            return None
        node.mapping(("maxSize", "timeout", "key", "if"), required=("maxSize", "timeout"))
        size_node = node.child("maxSize")
        max_size = size_node.int()
        if max_size < MIN_SIZE:
            raise size_node.error(f"batch size cannot be smaller than 2: {max_size}")
        timeout_node = node.child("timeout")
        text = _timeout_text(timeout_node.value)
        timeout = parse_go_duration(text)
        if timeout is None:
            raise timeout_node.error(f"invalid timeout string: {text} (a Go duration such as 500ms, 30s, 5m "
                                     "or 1h30m; Go has no d unit, spec §2.2)")
        if timeout < MIN_TIMEOUT:
            raise timeout_node.error("batch timeout should be more than 1s")
        _check_plan(plan_of(scenario), size_node, max_size, timeout_node, timeout)
        key = _compile(node.get("key"), "batch key expression is invalid: ")
        condition = _compile(node.get("if"), "conditional batch expression is invalid: ")
        _check_siblings(function)
        return cls(max_size, timeout, key, condition)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return [BatchStage(self, ctx)], ()


def _check_plan(plan: Plan | None, size_node: Node, max_size: int, timeout_node: Node, timeout: float) -> None:
    """The account's plan caps a batch's size and timeout (Inngest's published plan limits)."""
    if plan is None:
        return
    if plan.batch_size is not None and max_size > plan.batch_size:
        raise size_node.error(f"the {plan.name} plan's event batch capacity is {plan.batch_size:,} events "
                              f"(Inngest's published plan limits); maxSize {max_size:,} is above it")
    if plan.batch_timeout is not None and timeout > plan.batch_timeout:
        raise timeout_node.error(f"the {plan.name} plan's event batch timeout is "
                                 f"{format_duration(plan.batch_timeout)} (Inngest's published plan limits); "
                                 f"timeout {format_duration(timeout)} is above it")


def _compile(node: Node | None, prefix: str) -> Expr | None:
    return node.expr(prefix + "{error}") if node is not None else None


def _check_siblings(function: Node) -> None:
    """Combinations Inngest rejects or ignores (spec §9.1); located at the other field."""
    for field, message in (("cancelOn", "Batching and cancellation are mutually exclusive"),
                           ("debounce", "Batching and debouncing are mutually exclusive"),
                           ("singleton", "Batching and singletons are mutually exclusive")):
        other = function.get(field)
        if other is not None:
            raise other.error(message)
    priority = function.get("priority")
    if priority is not None and priority.get("run") is not None:
        raise priority.child("run").error("A function cannot specify Priority.Run and Batch together")
    rate_limit = function.get("rateLimit")
    if rate_limit is not None:
        warnings.warn(ScenarioWarning(rate_limit.error(
            "rateLimit with batchEvents: Inngest accepts it but batched events bypass the rate limit; only "
            "events that fail batchEvents.if are rate limited (spec §9.1)").format()), stacklevel=2)
    idempotency = function.get("idempotency")
    if idempotency is not None:
        warnings.warn(ScenarioWarning(idempotency.error(
            "idempotency with batchEvents: Inngest accepts it but batched events bypass it (a batch run's "
            "idempotency key is '<function id>-<batch id>'); only events that fail batchEvents.if use it "
            "(spec §9.1, §9.2)").format()), stacklevel=2)


class _Batch:
    """An open batch of one key value: its events in append order and its timeout timer."""

    __slots__ = ("id", "key", "events", "opened_at", "timer")

    def __init__(self, batch_id: str, key: str, opened_at: float) -> None:
        self.id = batch_id
        self.key = key
        self.events: list[Any] = []
        self.opened_at = opened_at
        self.timer: Timer | None = None


class _Buffer:
    """Events of one key value waiting in the in-memory append buffer (§9.2)."""

    __slots__ = ("events", "timer")

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.timer: Timer | None = None


class BatchStage(EventStage):
    """Holds events in per-key batches and hands each closed batch on as one candidate."""

    order = ORDER_BATCHING

    def __init__(self, config: BatchConfig, ctx: BuildContext) -> None:
        self.config = config
        self.function = ctx.function
        buffer = ctx.platform.batch_buffer
        # buffer.go flushDuration: the buffer window, clamped to the batch timeout (§9.2).
        self.flush_after = min(buffer, config.timeout) if buffer > 0 else 0.0
        self.open: dict[str, _Batch] = {}
        self.buffers: dict[str, _Buffer] = {}
        self.count = 0

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | object | None:
        event = candidate.event
        cfg = self.config
        if cfg.condition is not None:
            try:
                batched = is_true(cfg.condition.on(event))
            except ExprEvalError:
                batched = False             # an error counts as false (§2.1): a normal run
            if not batched:
                ctx.log("batch", f"event {event.id} not batched: if is not true ({cfg.condition.text})",
                        event_id=event.id)
                return None
        key = ""
        if cfg.key is not None:
            try:
                key = key_string(cfg.key.on(event))
            except ExprEvalError as exc:
                # The append fails: no batch, no run (§2.1, redisBatchManager.batchKey).
                return Drop("error", f"batch key error: {exc}")
        if self.flush_after <= 0:
            self._append(key, [event], ctx)
            return HOLD
        buf = self.buffers.get(key)
        if buf is None:
            buf = self.buffers[key] = _Buffer()
        buf.events.append(event)
        if len(buf.events) >= cfg.max_size:
            self._flush(key, ctx)
        elif len(buf.events) == 1:
            buf.timer = ctx.call_at(ctx.now + self.flush_after, self._flush, key, ctx)
        return HOLD

    def _flush(self, key: str, ctx: StageContext) -> None:
        """Bulk-append the key's buffered events (``bulk_append.lua``)."""
        buf = self.buffers.pop(key)
        if buf.timer is not None:
            buf.timer.cancel()
        self._append(key, buf.events, ctx)

    def _append(self, key: str, events: list[Any], ctx: StageContext) -> None:
        """Commit ``events`` to the key's open batch, opening and closing batches as they fill."""
        max_size = self.config.max_size
        for event in events:
            batch = self.open.get(key)
            if batch is None:
                self.count += 1
                batch = self.open[key] = _Batch(f"{self.function.id}/b{self.count}", key, ctx.now)
                # The timeout runs from the first committed event, never extended (§9.2).
                batch.timer = ctx.call_at(ctx.now + self.config.timeout, self._timeout, batch, ctx)
            batch.events.append(event)
            if len(batch.events) >= max_size:
                self._close(batch, "full", ctx)

    def _timeout(self, batch: _Batch, ctx: StageContext) -> None:
        batch.timer = None
        if self.open.get(batch.key) is batch:
            self._close(batch, "timeout", ctx)

    def _close(self, batch: _Batch, why: str, ctx: StageContext) -> None:
        """Start the batch: one candidate with all its events, past this stage (§9.2)."""
        del self.open[batch.key]
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        label = batch.key if self.config.key is not None else batch.id
        ctx.log("batch", f"batch {label} closed ({why})", batch_id=batch.id, key=batch.key,
                size=len(batch.events), opened_at=batch.opened_at)
        ctx.resume(Candidate(self.function, batch.events, batch_id=batch.id), after=self)
