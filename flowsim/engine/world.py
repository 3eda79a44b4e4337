"""The simulated world: clock, random streams, functions, and the life of every run.

SimPy's ``Environment`` is the clock and the event heap; runs are driven by callbacks,
each its own entry in that heap, rather than one process per run (cheaper, and
cancellation is a flag): the traffic's next event (one :class:`Arrival` entry, reused),
an executing item at its end (the :class:`~flowsim.engine.runs.QueueItem` itself), and
any other timer (:class:`Scheduled`). The way an event travels (spec §1):

1. pauses (``waitForEvent``, ``cancelOn``) that the event matches are resumed;
2. for each function whose trigger matches (name with ``*``, then ``if``), a
   :class:`~flowsim.policies.base.Candidate` goes through the function's event stages
   in §1 order (batching, rate limit, debounce, keys and priority, singleton,
   idempotency), each of which may pass, drop or hold it;
3. a surviving candidate becomes a run, whose keys every constraint binds once, and
   whose start item is enqueued at ``max(now, event.ts)``;
4. the function's queue is walked (:mod:`flowsim.engine.queue`) whenever an item
   becomes ready (with one function, an item ready alone in an empty queue is walked
   alone, and a walk that could start nothing is skipped: see :meth:`World._offer`),
   capacity is released, or a throttle's retry time comes. With ``platform.throttle_force``
   a queue a throttle left waiting is *forced* until its rescan: items that become ready
   meanwhile wait for that rescan (the next whole second), and only the end of one of the
   function's own executing items walks it earlier (§3.3). With key queues
   (``account.key_queues``, §3.4) items go instead into per-key backlogs, which the shadow
   scanner of :mod:`flowsim.engine.backlogs` refills at its ticks (``World.backlogs``).

Every fact is recorded as it happens, into the tables' recorder or the summary-only one;
:meth:`World.run` returns the recorder. Shared mechanism state that is a
:class:`~flowsim.policies.base.SummarySection` reports at the end into ``World.reports``;
the account's queue depth (items enqueued and not yet started) is counted by a
:class:`QueueDepth` that mechanisms may watch.
"""
from __future__ import annotations

from heapq import heappush
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import simpy
from simpy.core import NORMAL

from flowsim.engine.backlogs import ShadowPartition, ShadowScanner
from flowsim.engine.pauses import Pause, PauseIndex
from flowsim.engine.queue import PEEK_WINDOW, FunctionQueue
from flowsim.engine.runs import (CANCELLED, COMPLETED, EXECUTING, FAILED, FINAL, QUEUED, SKIPPED, SLEEP,
                                 SLEEPING, START, STEP, WAITING, QueueItem, Run)
from flowsim.expr import ExprEvalError, is_true
from flowsim.policies.base import HOLD, BuildContext, Candidate, Constraint, Drop, EventStage, SummarySection
from flowsim.results.recorder import Recorder
from flowsim.scenario.model import FunctionSpec, RunStep, Scenario, SleepStep
from flowsim.streams import Streams
from flowsim.traffic.event import Event
from flowsim.traffic.sources import merge

BLOCK = 256     # random draws are taken in blocks of this size, per stream
THROTTLE_RESCAN = "throttle_rescan"
"""The wait reason of an item that only the forced throttle rescan of its queue holds (§3.3)."""


class Scheduled:
    """A callback due at a simulated time, cancellable: its own entry in SimPy's event
    queue (it has what ``Environment.step`` reads of an event: ``callbacks`` and
    ``_ok``), which costs less than a ``Timeout`` with a callback appended. After it
    runs, the world's pending walk runs if nothing else is due before it
    (:meth:`World._flush_walk`)."""

    __slots__ = ("callbacks", "fn", "args", "world", "cancelled")
    _ok = True

    def __init__(self, fn: Callable[..., None], args: tuple, world: "World") -> None:
        self.callbacks = _FIRE
        self.fn = fn
        self.args = args
        self.world = world
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def _fire(entry: Scheduled) -> None:
    if not entry.cancelled:
        entry.fn(*entry.args)
        world = entry.world
        if world._walk_eid is not None:
            world._flush_walk()


_FIRE = (_fire,)


class QueueDepth:
    """The account's queue items enqueued and not yet started (due or later: retries in
    their backoff, items with a future ``ts``), across all functions; its peak; and one
    watched limit, whose ``on_pass(count, now)`` is called the first time the count passes it."""

    __slots__ = ("count", "peak", "peak_at", "limit", "on_pass", "passed_at")

    def __init__(self) -> None:
        self.count = 0
        self.peak = 0
        self.peak_at = 0.0
        self.limit: int | None = None
        self.on_pass: Callable[[int, float], None] | None = None
        self.passed_at: float | None = None

    def watch(self, limit: int, on_pass: Callable[[int, float], None]) -> None:
        """Count from now on, and call ``on_pass`` once when the count first exceeds ``limit``."""
        self.limit = limit
        self.on_pass = on_pass

    def enqueued(self, now: float) -> None:
        n = self.count = self.count + 1
        if n > self.peak:
            self.peak = n
            self.peak_at = now
            if self.passed_at is None and n > self.limit:
                self.passed_at = now
                self.on_pass(n, now)


class Arrival:
    """The entry on SimPy's heap of the traffic's next event (see :meth:`World._on_arrival`)."""

    __slots__ = ("callbacks", "event")
    _ok = True


class Draws:
    """Values from one named stream, drawn in blocks (``sample(rng, n)`` → array)."""

    __slots__ = ("rng", "sample", "buf", "pos")

    def __init__(self, rng: np.random.Generator, sample: Callable[[np.random.Generator, int], np.ndarray]) -> None:
        self.rng = rng
        self.sample = sample
        self.buf: list[float] = []
        self.pos = 0

    def next(self) -> float:
        if self.pos >= len(self.buf):
            self.buf = self.sample(self.rng, BLOCK).tolist()
            self.pos = 0
        v = self.buf[self.pos]
        self.pos += 1
        return v


class FunctionRuntime:
    """One function's runtime: its stages, constraints, queue and random draws."""

    def __init__(self, spec: FunctionSpec, world: "World") -> None:
        self.spec = spec
        self.index = spec.index
        stages: list[EventStage] = []
        constraints: list[Constraint] = []
        ctx = BuildContext(world.scenario, spec, world.platform, world.streams, world.shared,
                           queue_depth=world.queue_depth)
        for mech in spec.mechanisms.values():
            s, c = mech.build(ctx)
            stages.extend(s)
            constraints.extend(c)
        self.stages = sorted(stages, key=lambda s: s.order)
        # Only stages that override a hook are called for it (the base hooks do nothing).
        self.created_hooks = [(i, s) for i, s in enumerate(self.stages)
                              if type(s).run_created is not EventStage.run_created]
        self.ended_hooks = [s for s in self.stages if type(s).run_ended is not EventStage.run_ended]
        self.constraints = constraints
        # Only constraints that override ``bind`` are asked to bind a new run's keys.
        self.binders = [c for c in constraints if getattr(type(c), "bind", None) is not Constraint.bind]
        self.queue: FunctionQueue | ShadowPartition = (
            FunctionQueue(constraints, world.platform.peek_size, ctx.dispatch) if world.backlogs is None
            else world.backlogs.partition(self, constraints))       # key queues (§3.4)
        self.dirty = False
        self.blocked = False
        self.forced = False     # waiting for a forced throttle rescan (platform.throttle_force)
        self.wake: Scheduled | None = None
        self.wake_at = float("inf")
        streams = world.streams
        self.durations: list[Draws | None] = []
        self.failures: list[Draws | None] = []
        for step in spec.steps:
            if isinstance(step, RunStep):
                self.durations.append(Draws(streams[f"durations:{spec.id}/{step.name}"], step.duration.sample))
                self.failures.append(Draws(streams[f"failures:{spec.id}/{step.name}"], _uniform)
                                     if step.failure_rate > 0 else None)
            else:
                self.durations.append(None)
                self.failures.append(None)
        self.retry_draws = Draws(streams[f"retries:{spec.id}"], _uniform)
        # Per step index (one past the end for the final request): its name and whether it is a step.run.
        self.step_names = [step.name for step in spec.steps] + ["(end)"]
        self.is_run_step = [isinstance(step, RunStep) for step in spec.steps] + [False]
        self.step_kinds = ["run" if run else "request" for run in self.is_run_step]     # a queue item's kind column
        self.run_timers = bool(spec.cancel_on) or spec.start_timeout is not None     # set when a run is created


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n)


class World:
    """One simulation of a scenario with one seed. Use :func:`flowsim.simulate`."""

    def __init__(self, scenario: Scenario, seed: int | None = None, explain: bool = False) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.platform = scenario.platform
        self.streams = Streams(self.seed)
        self.env = simpy.Environment()
        self.recorder = Recorder()
        self.shared: dict[Any, Any] = {}
        self.explain = explain
        self.decisions: list[tuple[float, str, str, dict[str, Any]]] = []
        # Key queues (§3.4): every function's items wait in backlogs, which the shadow
        # scanner refills into the ready queue (flowsim.engine.backlogs), instead of the walk.
        self.backlogs = ShadowScanner(self) if scenario.account.key_queues else None
        self.queue_depth = QueueDepth()
        self.functions = [FunctionRuntime(spec, self) for spec in scenario.functions]
        # Counted only when some mechanism watches it (the plan's queue depth).
        self._depth = self.queue_depth if self.queue_depth.limit is not None else None
        platform = self.platform
        self._force = platform.throttle_force and platform.throttle_rescan > 0
        self.reports: dict[str, dict[str, Any]] = {}
        # With one function, a walk may be done at once or skipped when an item is made
        # ready (_offer): with several, every walk shuffles the functions walked, and
        # skipping one would change the random draws. After a skipped walk, a change later
        # in the same instant (a release) then asks for its own walk, due after everything
        # already scheduled for that instant, as any walk is: the tables are the same as
        # with every walk, but the pushed item's "waiting" decision would be logged at the
        # push rather than after the instant's other decisions, so not with ``explain``.
        self._solo = len(self.functions) == 1 and not explain and self.backlogs is None
        if explain and self.backlogs is None:
            for fn in self.functions:
                fn.queue.on_wait = self._log_wait
        self.pauses = PauseIndex()
        self._rows: dict[tuple[int, int], int] = {}
        self._trigger_cache: dict[str, list[tuple[FunctionRuntime, list[Any]]]] = {}
        self._dirty: list[FunctionRuntime] = []
        self._walk_pending = False
        self._walk_eid: int | None = None
        self.live_runs: dict[int, Run] = {}
        # Requests still executing for runs cancelled meanwhile, by item seq: their steps row
        # comes when they end, or at the horizon if that comes first.
        self._discarded: dict[int, QueueItem] = {}
        self._run_seq = 0
        self._item_seq = 0
        self.events_in = 0
        self.events_unmatched = 0
        self._shuffle = self.streams["shuffle"]
        # Bound once: the hot paths pass them on every arrival, walk and step.
        self._start_cb = self._start
        # SimPy's callbacks of the entries every run has: the arrival of an event, and the
        # end of an executing item (the item is its own entry; see _start).
        self._arrival = Arrival()
        self._arrival_callbacks = (self._on_arrival,)
        self._end_callbacks = (self._end_item,)
        self._sleep_callbacks = (self._wake_from_sleep,)      # a sleeping run is its own entry too
        self._traffic: Iterator[Event] | None = None

    # -- StageContext ---------------------------------------------------------------
    @property
    def now(self) -> float:
        """The simulated time, in seconds since the start."""
        return self.env._now

    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> Scheduled:
        """Call ``fn(*args)`` at simulated time ``when`` (now if earlier); cancellable.

        In SimPy's order: ``Timeout(env, when - now)``'s place, at ``now + (when - now)``
        (SimPy's arithmetic, kept), behind everything scheduled before for that time."""
        env = self.env
        delay = when - env._now
        entry = Scheduled(fn, args, self)
        heappush(env._queue, (env._now + (delay if delay > 0.0 else 0.0), NORMAL, next(env._eid), entry))
        return entry

    def _advance(self, until: float) -> None:
        """Run every callback due before ``until`` (SimPy's ``run(until=...)``)."""
        if self._walk_eid is not None:     # a walk asked for outside any callback
            self._push_walk()
        self.env.run(until=until)

    def wake(self, function: FunctionSpec) -> None:
        """Walk ``function``'s queue at this instant (a policy freed capacity of its own)."""
        if self.backlogs is not None:
            self.backlogs.wake(self.functions[function.index])
        else:
            self._mark(self.functions[function.index])

    def resume(self, candidate: Candidate, after: EventStage) -> None:
        """Continue a held candidate's way through the stages after ``after``."""
        fn = self.functions[candidate.function.index]
        self._submit(candidate, fn, fn.stages.index(after) + 1)

    def set_outcome(self, event: Event, function: FunctionSpec, outcome: str, run_id: str | None = None,
                    reason: str = "", key: str = "") -> None:
        """Give ``event`` its one outcome for ``function`` (``key``: the mechanism's key value)."""
        row = self._rows.pop((event.seq, function.index))
        self.recorder.set_outcome(row, outcome, run_id, reason, key)

    def log(self, kind: str, message: str, **facts: Any) -> None:
        """Record a decision (kept only with ``explain``)."""
        if self.explain:
            self.decisions.append((self.now, kind, message, facts))

    def _log_wait(self, item: QueueItem, constraint: Constraint | None, behind: bool) -> None:
        run = item.run
        if constraint is None:
            why = "outside the queue's peek window, behind other items"
        else:
            why = constraint.explain(item, self.now)
            if behind:
                why = f"behind an item held by the {why}"
        self.log("waiting", f"run {run.id} {self._item_name(item)} waiting: {why}", run_id=run.id,
                 function_id=run.fn.spec.id, reason=item.reason)

    def _log_start(self, item: QueueItem, now: float) -> None:
        """Log a start, every one (the queue has already cleared the item's waiting reason,
        so whether it waited is told by its enqueue time): one ``started`` row per started
        row of the steps table."""
        run = item.run
        waited = now - item.at
        self.log("started", f"run {run.id} {self._item_name(item)} started "
                 + (f"after waiting {waited:g}s" if waited > 0 else "at once"),
                 run_id=run.id, function_id=run.fn.spec.id, step=run.fn.step_names[item.step_index],
                 attempt=item.attempt, waited=waited)

    @staticmethod
    def _item_name(item: QueueItem) -> str:
        steps = item.run.fn.spec.steps
        name = steps[item.step_index].name if item.step_index < len(steps) else "(end)"
        return f"step {name}" + (f" attempt {item.attempt}" if item.attempt > 1 else "")

    # -- running --------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None, chunks: int = 100) -> Recorder:
        """Simulate until the horizon and close every open record; return the recorder.

        A world runs once: its clock, streams and records are spent afterwards."""
        if self._traffic is not None:
            raise RuntimeError("World.run was already called; build a new World to run again")
        horizon = self.scenario.horizon
        self._traffic = merge(list(self.scenario.traffic), self.streams, horizon)
        self._arrival.event = None
        self._on_arrival(self._arrival)        # puts the first event on the heap
        if progress is None:
            self._advance(horizon)
        else:
            for k in range(1, chunks + 1):
                self._advance(horizon * k / chunks)
                progress(k / chunks)
        self._close()
        for state in self.shared.values():
            if isinstance(state, SummarySection):
                self.reports[state.section] = state.report(horizon)
        return self.recorder

    def _on_arrival(self, entry: Arrival) -> None:
        """SimPy's callback of the arrival entry: the traffic's next event is put on the
        heap in the same entry (an arrival is due only once the previous one has run),
        then this event arrives (none when :meth:`run` primes the first), then the walk
        it asked for runs if nothing else is due first."""
        event = entry.event
        following = next(self._traffic, None)
        if following is not None:
            env = self.env
            entry.callbacks = self._arrival_callbacks
            entry.event = following
            delay = following.at - env._now
            heappush(env._queue, (env._now + (delay if delay > 0.0 else 0.0), NORMAL, next(env._eid), entry))
        if event is not None:
            self.events_in += 1
            pauses = self.pauses
            if pauses.by_value or pauses.general:       # bool(pauses), without the call
                pauses.dispatch(event)
            matches = self._trigger_cache.get(event.name)
            if matches is None:
                matches = self._trigger_cache[event.name] = self._match_triggers(event.name)
            if not matches:
                self.events_unmatched += 1
            rec = self.recorder
            for fn, triggers in matches:
                if triggers[0].condition is not None:      # else the first trigger matches at once
                    reason = self._filter(event, triggers)
                    if reason is not None:
                        rec.event_row(event, fn.spec.id, "filtered", reason=reason)
                        if self.explain:
                            self.log("filtered", f"event {event.id} for {fn.spec.id}: filtered ({reason})",
                                     event_id=event.id, function_id=fn.spec.id)
                        continue
                if fn.stages:
                    self._rows[(event.seq, fn.index)] = rec.event_row(event, fn.spec.id)
                    self._submit(Candidate(fn.spec, [event]), fn, 0)
                else:                  # nothing to pass: a run at once, its row recorded with its outcome
                    self._create_run(fn, (event,), 0.0, None, lone=True)
        if self._walk_eid is not None:
            self._flush_walk()

    def _match_triggers(self, name: str) -> list[tuple[FunctionRuntime, list[Any]]]:
        out = []
        for fn in self.functions:
            hits = [t for t in fn.spec.triggers
                    if (t.event == name if t.pattern is None else t.pattern.match(name))]
            if hits:
                out.append((fn, hits))
        return out

    @staticmethod
    def _filter(event: Event, triggers: list[Any]) -> str | None:
        """``None`` if some matching trigger's ``if`` holds, else why the event is filtered."""
        reason = ""
        for t in triggers:
            if t.condition is None:
                return None
            try:
                if is_true(t.condition.on(event)):
                    return None
                reason = f"if false: {t.condition.text}"
            except ExprEvalError as exc:
                reason = f"if error: {exc}"
        return reason

    # -- the pipeline of event stages -------------------------------------------------
    def _submit(self, cand: Candidate, fn: FunctionRuntime, start: int) -> None:
        stages = fn.stages
        for i in range(start, len(stages)):
            verdict = stages[i].admit(cand, self)
            if verdict is None:
                continue
            if verdict is HOLD:
                return
            self._drop(cand, fn, verdict)
            return
        self._create_run(fn, cand.events, cand.priority_factor, cand.batch_id)

    def _drop(self, cand: Candidate, fn: FunctionRuntime, drop: Drop, run: Run | None = None) -> None:
        run_id = None
        if drop.record_run:
            if run is None:
                run = self._new_run(fn, cand.events, cand.priority_factor, cand.batch_id)
            run.state = SKIPPED
            run.ended_at = self.env._now
            run.cancel_reason = drop.reason
            self.recorder.run_row(run, SKIPPED)
            run_id = run.id
        for event in cand.events:
            self.set_outcome(event, fn.spec, drop.outcome, run_id, drop.reason, drop.key)
            self.log(drop.outcome, f"event {event.id} for {fn.spec.id}: {drop.outcome} ({drop.reason})",
                     event_id=event.id, function_id=fn.spec.id, key=drop.key)

    def _new_run(self, fn: FunctionRuntime, events: Sequence[Event], priority_factor: float, batch_id: str | None) -> Run:
        self._run_seq += 1
        run = Run(self._run_seq, fn, events, self.env._now, priority_factor, batch_id)
        for c in fn.binders:
            c.bind(run)
        return run

    def _create_run(self, fn: FunctionRuntime, events: Sequence[Event], priority_factor: float,
                    batch_id: str | None, lone: bool = False) -> None:
        """Create the run of a candidate that passed every stage, and enqueue its start.
        ``lone``: one event of a function without stages, whose events-table row is
        recorded here with its outcome; otherwise each event's row is taken from ``_rows``."""
        run = self._new_run(fn, events, priority_factor, batch_id)
        for i, stage in fn.created_hooks:
            drop = stage.run_created(run, self)
            if drop is not None:
                for earlier in fn.stages[:i]:      # undo what they took at enqueue (a lock)
                    earlier.run_ended(run, self)
                self._drop(Candidate(fn.spec, list(events), batch_id, priority_factor), fn, drop, run)
                return
        outcome = "batched" if batch_id is not None else "run"
        if lone:
            self.recorder.event_row(events[0], fn.spec.id, outcome, run.id)
        else:
            rows, set_outcome = self._rows, self.recorder.set_outcome     # self.set_outcome, inlined
            for event in events:
                set_outcome(rows.pop((event.seq, fn.index)), outcome, run.id)
        if self.explain:
            self.log("admitted", f"run {run.id} of {fn.spec.id} created from event "
                     f"{', '.join(e.id for e in events)}", run_id=run.id, function_id=fn.spec.id,
                     keys=dict(run.keys), priority_factor=run.priority_factor)
        self.live_runs[run.seq] = run
        spec = fn.spec
        now = self.env._now
        if batch_id is None and fn.run_timers:
            for c in spec.cancel_on:
                pause = Pause(run, c.event, c.match, c.condition, self._cancel_on_match)
                if c.timeout is not None:
                    pause.timer = self.call_at(now + c.timeout, pause.kill)
                run.pauses += (pause,)
                self.pauses.add(pause)
            if spec.start_timeout is not None:
                run.timers += (self.call_at(now + spec.start_timeout, self._start_timeout, run),)
        ts = run.event.ts
        at = ts if batch_id is None and ts > now else now      # max(now, ts) unless a batch
        self._enqueue(run, START, 0, 1, at, lone)

    def _cancel_on_match(self, pause: Pause, event: Event) -> None:
        self.cancel_run(pause.run, "cancel_on")

    # -- queue ------------------------------------------------------------------------
    def _enqueue(self, run: Run, kind: str, step_index: int, attempt: int, at: float, last: bool = False) -> None:
        """Make ``run``'s next queue item, due at ``at``. ``last``: nothing else happens in
        this callback after it (see :meth:`_offer`)."""
        self._item_seq += 1
        item = QueueItem(run, kind, step_index, attempt, at, self._item_seq)
        now = self.env._now
        if self._depth is not None:
            self._depth.enqueued(now)
        ready = at
        if kind != SLEEP and attempt == 1 and at <= now + self.platform.future_at_limit:
            item.score = score = run.created_at - run.priority_factor
            if score > at:
                # A negative factor scores the item after now; the queue only peeks items
                # scored at or before now, so the item waits until then (§7.2).
                ready = score
                item.note_reason("priority", at)
        else:
            item.score = at          # retries and resumed sleeps lose their place (§3.5, §7.2)
        run.item = item
        run.state = QUEUED
        if self.backlogs is not None:
            self.backlogs.enqueue(item, ready, now)
        elif ready > now:
            item.timer = self.call_at(ready, self._ready, item)
        else:
            self._offer(item, now, last)

    def _ready(self, item: QueueItem) -> None:
        item.timer = None
        self._offer(item, self.env._now, True)

    def _offer(self, item: QueueItem, now: float, last: bool) -> None:
        """Put a ready item in its function's queue and ask for a walk, unless, with one
        function (``_solo``) and no walk pending, the walk can be done at once or skipped:
        * ``last`` (nothing else happens in this callback after this item is made ready)
          and nothing on SimPy's heap is due now: the walk would come next and see this item
          alone in an empty queue, so the constraints' answer now is the walk's; if they
          grant it, it starts here, and if a function or account limit refuses it, it waits
          at the head (``FunctionQueue.walk_alone``). The same random draws and records
          follow, in the same order; only the walk's own sequence number in SimPy's order
          is not taken, which changes no order between entries.
        * the walk would start nothing (``FunctionQueue.push`` with ``hold``)."""
        fn = item.run.fn
        if fn.forced:
            self._wait_forced(fn, item, now)
            return
        hold = self._solo and not fn.dirty
        if hold and last and not fn.blocked:      # not blocked and no walk pending: an empty queue
            heap = self.env._queue
            if (not heap or heap[0][0] > now) and fn.queue.walk_alone(item, now, self._start_cb):
                fn.blocked = fn.queue.blocked
                return
        if not fn.queue.push(item, now, hold):
            self._mark(fn)

    def _wait_forced(self, fn: FunctionRuntime, item: QueueItem, now: float) -> None:
        """Queue ``item`` of a function forced until its throttle rescan: it waits for the
        next whole-second rescan, which an arrival does not bring earlier (§3.3). Its wait
        is noted as the walk would note it (the first refusal), or as ``throttle_rescan``
        when nothing but the forced rescan holds it."""
        queue = fn.queue
        queue.push(item, now)
        if item.reason != PEEK_WINDOW:
            reason, refuser = THROTTLE_RESCAN, None
            for c in queue.start_constraints if item.is_start else queue.step_constraints:
                refusal = c.check(item, now)
                if refusal is not None:
                    reason, refuser = refusal.reason, c
                    break
            if item.note_reason(reason, now) and self.explain:
                why = "its queue waits for the forced throttle rescan" if refuser is None else \
                    refuser.explain(item, now)
                self.log("waiting", f"run {item.run.id} {self._item_name(item)} waiting: {why}",
                         run_id=item.run.id, function_id=fn.spec.id, reason=reason)
        tick = self.platform.throttle_wake(now, now)
        if tick < fn.wake_at:
            self._schedule_wake(fn, tick)

    def _mark(self, fn: FunctionRuntime) -> None:
        if not fn.dirty:
            fn.dirty = True
            self._dirty.append(fn)
        if not self._walk_pending:
            # The walk is due now, after everything already scheduled for now: it takes
            # its place in SimPy's event order (a sequence number) at once, but is only
            # put on the heap if something precedes it there (see _flush_walk).
            self._walk_pending = True
            self._walk_eid = next(self.env._eid)

    def _flush_walk(self) -> None:
        """After a callback: run the pending walk at once if it is the next event in
        SimPy's order (nothing is due before it), else put it on the heap in its place.
        Either way it runs exactly where a zero-delay timeout scheduled by ``_mark``
        would have, so the order of everything observable is unchanged."""
        env = self.env
        queue = env._queue
        while self._walk_eid is not None:
            if queue:
                t, priority, eid, _ = queue[0]
                if t <= env._now and (priority < NORMAL or eid < self._walk_eid):
                    self._push_walk()
                    return
            self._walk_all()

    def _push_walk(self) -> None:
        """Put the pending walk on SimPy's heap now, with the place ``_mark`` took for it
        (what ``Environment.schedule`` does for a zero-delay event, with that sequence number)."""
        env = self.env
        heappush(env._queue, (env._now, NORMAL, self._walk_eid, Scheduled(self._walk_all, (), self)))
        self._walk_eid = None

    def _walk_all(self) -> None:
        self._walk_pending = False
        self._walk_eid = None
        fns = self._dirty
        self._dirty = []
        if len(fns) > 1:
            # Partitions are taken in a uniformly shuffled order (§3.3), from the seed.
            fns.sort(key=lambda f: f.index)
            fns = [fns[i] for i in self._shuffle.permutation(len(fns))]
        now = self.env._now
        for fn in fns:
            fn.dirty = False
            fn.queue.walk(now, self._start_cb)
            fn.blocked = fn.queue.blocked
            retry_at = fn.queue.retry_at
            fn.forced = False
            if retry_at is not None:
                fn.forced = self._force
                wake = self.platform.throttle_wake(now, retry_at)
                if wake < fn.wake_at:
                    self._schedule_wake(fn, wake)

    def _schedule_wake(self, fn: FunctionRuntime, when: float) -> None:
        """Walk ``fn``'s queue at ``when`` (a throttle rescan), instead of a later one."""
        if fn.wake is not None:
            fn.wake.cancel()
        fn.wake_at = when
        fn.wake = self.call_at(when, self._wake, fn)

    def _wake(self, fn: FunctionRuntime) -> None:
        fn.wake = None
        fn.wake_at = float("inf")
        self._mark(fn)

    # -- executing ------------------------------------------------------------------
    def _start(self, item: QueueItem, constraints: Sequence[Constraint], leased: bool = False) -> None:
        """Start ``item`` now, taking a slot of every constraint, or, ``leased``, holding the
        slots it took when its backlog was refilled (key queues, §2.4)."""
        now = self.env._now
        if not leased:
            for c in constraints:
                c.acquire(item, now)
        if self._depth is not None:
            self._depth.count -= 1
        item.held = constraints
        item.started_at = now
        if self.explain:
            self._log_start(item, now)
        run = item.run
        fn = run.fn
        if run.started_at is None:
            run.started_at = now
            if fn.spec.finish_timeout is not None:
                run.timers += (self.call_at(now + fn.spec.finish_timeout, self._finish_timeout, run),)
        run.state = EXECUTING
        failed = False
        duration = 0.0
        index = item.step_index
        if fn.is_run_step[index]:
            step = fn.spec.steps[index]
            override = run.event.durations
            if override and step.name in override:
                duration = override[step.name]
            else:
                draws = fn.durations[index]     # Draws.next(), inlined: once per item
                pos = draws.pos
                if pos >= len(draws.buf):
                    draws.buf = draws.sample(draws.rng, BLOCK).tolist()
                    pos = 0
                duration = draws.buf[pos]
                draws.pos = pos + 1
            draws = fn.failures[index]
            failed = draws is not None and draws.next() < step.failure_rate
        item.failed = failed
        item.callbacks = self._end_callbacks      # the item is due on SimPy's heap at its end, as call_at(now + duration)
        delay = (now + duration) - now
        env = self.env
        heappush(env._queue, (now + (delay if delay > 0.0 else 0.0), NORMAL, next(env._eid), item))

    def _end_item(self, item: QueueItem) -> None:
        """SimPy's callback of an executing item at its end: its slots are released and
        the run goes on; then the walk that may have been asked for runs if nothing else
        is due first."""
        now = self.env._now
        for c in item.held:
            c.release(item, now)
        if self.backlogs is not None:
            self.backlogs.released(item)
        item.held = ()
        item.ended_at = now
        run = item.run
        own = run.fn
        for fn in self.functions:      # capacity was released: walk the queues it may unblock
            # (a queue forced until its throttle rescan only for its own items' ends, §3.3)
            if fn.blocked and not fn.dirty and (fn is own or not fn.forced):
                self._mark(fn)
        if run.state in FINAL:      # cancelled while executing: the request finished, its result is discarded
            del self._discarded[item.seq]
            self._step_row(item, "cancelled")
        elif not run.fn.is_run_step[item.step_index]:     # a zero-time request that found a sleep, a wait or the end
            self._step_row(item, "completed")
            self._proceed(run, item.step_index)
        elif item.failed:
            self._step_row(item, "failed")
            if item.attempt <= run.fn.spec.retries:
                delay = self.platform.retry_delay(item.attempt, run.fn.retry_draws.next())
                self._enqueue(run, item.kind, item.step_index, item.attempt + 1, now + delay)
            else:
                self._finish(run, FAILED)
        else:
            self._step_row(item, "completed")
            self._proceed(run, item.step_index + 1)
        if self._walk_eid is not None:
            self._flush_walk()

    def _proceed(self, run: Run, index: int) -> None:
        """Move ``run`` to step ``index``: enqueue it, sleep, wait, or complete."""
        steps = run.fn.spec.steps
        now = self.env._now
        run.item = None
        if index >= len(steps):
            self._finish(run, COMPLETED)
            return
        step = steps[index]
        if isinstance(step, RunStep):
            self._enqueue(run, STEP, index, 1, now, True)
        elif isinstance(step, SleepStep):
            run.state = SLEEPING
            run.phase = (index, now)
            # The run is its own entry on SimPy's heap, due when the sleep ends, as
            # call_at(now + step.duration). Only this line makes a run SLEEPING and only
            # cancel_run ends a sleep early (changing the state), so the entry, when it
            # comes, wakes the run only if it is still sleeping.
            run.callbacks = self._sleep_callbacks
            env = self.env
            delay = (now + step.duration) - now
            heappush(env._queue, (now + (delay if delay > 0.0 else 0.0), NORMAL, next(env._eid), run))
        else:
            run.state = WAITING
            run.phase = (index, now)
            pause = Pause(run, step.event, step.match, step.condition, self._wait_matched)
            pause.timer = self.call_at(now + step.timeout, self._wait_timeout, run, pause)
            run.pauses += (pause,)
            self.pauses.add(pause)

    def _wake_from_sleep(self, run: Run) -> None:
        """SimPy's callback of a sleeping run at the end of its sleep (none if it was
        cancelled meanwhile); then the walk it may have asked for."""
        if run.state == SLEEPING:
            index = self._phase_row(run, "completed")
            self._enqueue(run, SLEEP, index + 1, 1, self.env._now, True)
            if self._walk_eid is not None:
                self._flush_walk()

    def _wait_matched(self, pause: Pause, event: Event) -> None:
        self._resume_wait(pause.run, "matched", False)     # during an arrival, which goes on

    def _wait_timeout(self, run: Run, pause: Pause) -> None:
        pause.kill()
        self._resume_wait(run, "timed_out", True)

    def _resume_wait(self, run: Run, status: str, last: bool) -> None:
        index = self._phase_row(run, status)
        self._enqueue(run, STEP, index + 1, 1, self.env._now, last)

    # -- ends -------------------------------------------------------------------------
    def _finish(self, run: Run, status: str) -> None:
        run.state = status
        run.ended_at = self.env._now
        run.item = None
        if run.timers:
            for timer in run.timers:
                timer.cancel()
            run.timers = ()
        if run.pauses:
            for pause in run.pauses:
                pause.kill()
            run.pauses = ()
        del self.live_runs[run.seq]
        self.recorder.run_row(run, status)
        for stage in run.fn.ended_hooks:
            stage.run_ended(run, self)

    def cancel_run(self, run: Run, reason: str) -> None:
        """Cancel ``run`` now: a queued item leaves its queue, a sleep or wait ends;
        an executing request finishes and holds its slots until then, but its result
        is discarded (§8.2, §10)."""
        if run.ended:
            return
        self.log("cancel", f"run {run.id} cancelled: {reason}", run_id=run.id, reason=reason)
        run.cancel_reason = reason
        item = run.item
        if item is not None and item.started_at is None:
            if item.in_queue:
                run.fn.queue.remove(item)
            elif item.timer is not None:
                item.timer.cancel()
            if self._depth is not None:
                self._depth.count -= 1
            self._step_row(item, "cancelled")
        elif run.state in (SLEEPING, WAITING):
            self._phase_row(run, "cancelled")
        elif item is not None:        # executing: it finishes, discarded (its row when it ends)
            self._discarded[item.seq] = item
        self._finish(run, CANCELLED)

    def _start_timeout(self, run: Run) -> None:
        if run.started_at is None:
            self.cancel_run(run, "start_timeout")

    def _finish_timeout(self, run: Run) -> None:
        """Cancel a run still going at its finish deadline, unless its final request
        is already executing: that one may end after the deadline (§10)."""
        item = run.item
        if item is not None and item.started_at is not None:
            steps = run.fn.spec.steps
            if item.step_index >= len(steps) - 1:
                return
        self.cancel_run(run, "finish_timeout")

    # -- records ----------------------------------------------------------------------
    def _step_row(self, item: QueueItem, status: str) -> None:
        run = item.run
        fn = run.fn
        index = item.step_index
        if item.reason is not None:
            item.note_reason(None, self.env._now if item.started_at is None else item.started_at)
        self.recorder.step_row(run, fn.step_names[index], fn.step_kinds[index], item.attempt, item.at,
                               item.started_at, item.ended_at, status, item.waits)

    def _phase_row(self, run: Run, status: str) -> int:
        """Record the sleep or wait ``run`` is in, ending now; return its step index."""
        index, since = run.phase
        run.phase = None
        step = run.fn.spec.steps[index]
        kind = "sleep" if isinstance(step, SleepStep) else "wait"
        self.recorder.step_row(run, step.name, kind, 1, since, since,
                               None if status == "pending" else self.env._now, status, None)
        return index

    def _close(self) -> None:
        """At the horizon: held events and unfinished runs are recorded as pending."""
        for fn in self.functions:
            for stage in fn.stages:
                stage.horizon(self)
        for row in self._rows.values():
            self.recorder.set_outcome(row, "pending")
        self._rows.clear()
        for run in self.live_runs.values():
            item = run.item
            if item is not None:
                if item.started_at is None:
                    self._step_row(item, "pending")
                else:
                    self._step_row(item, "running")
            elif run.state in (SLEEPING, WAITING):
                self._phase_row(run, "pending")
            self.recorder.run_row(run, "pending")
        for item in self._discarded.values():     # of cancelled runs, still executing: held slots until now
            self._step_row(item, "running")
