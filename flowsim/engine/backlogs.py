"""Key queues (spec §3.4, §2.4): per-key backlogs refilled into the ready queue by the
shadow scanner, Inngest's second queue path (``account: {key_queues: true}``).

Where the default path (:mod:`flowsim.engine.queue`) keeps one queue per function and
walks it, key queues keep each function's items in *backlogs*: one per start or not and
combination of the keys its constraints name (:meth:`Constraint.backlog_key`; Inngest's
``fn:<id>[:start][:t<throttle key>][:c1<key>][:c2<key>]``, ``ItemBacklog`` in
``pkg/execution/queue/backlog.go``), each in score order (§3.3, §7.2). An item goes into
its backlog when it is enqueued, whenever it is due. The *shadow scanner* moves items from
the backlogs to the ready queue (one :class:`ShadowPartition` per function):

* **ticks** (``platform.shadow_tick``, 100 ms, ``scan.go``): a tick scans every function
  whose pointer (its earliest backlog) is due by ``now.Truncate(1s) + backlog_lookahead``;
  nothing else triggers a scan: a released slot or a new arrival waits for the next tick.
  ``shadow_tick: 0`` (``ideal``) makes the scanner continuous: a function is scanned
  whenever one of its items is enqueued, a slot is released anywhere, a policy wakes it,
  or one of its requeue times comes.
* **a function's scan** (``ProcessShadowPartition``, ``shadow_process.go``): its backlogs
  due by ``now + backlog_lookahead`` (2 s), at most ``backlog_peek`` (100) of them taken
  from a random offset in pointer order when more are due (``peekOrderedSetUntil.lua``;
  a continuous scanner takes them all), in a weighted random order, weight
  ``step_backlog_weight`` (10) for backlogs of continuing runs and
  ``start_backlog_weight`` (1) for backlogs of starts (``ShuffleBacklogs``). When a
  constraint splits start backlogs only (throttle) and none splits every backlog (keyed
  limits), the default backlog of continuing runs goes first and is refilled up to as
  many times as there are backlogs in the scan (``BacklogRefillMultiplier``).
* **a refill** (``ProcessShadowPartitionBacklog``, ``BacklogRefillConstraintCheck`` in
  ``constraints.go``, ``acquire.lua``, ``backlogRefill.lua``): of the first
  ``refill_size`` (20) items of the backlog with a score due by ``now + lookahead``, the
  constraints grant the first k (asked item by item; see :meth:`Constraint.backlog_key`
  for why that is Inngest's batched ``Acquire``). Granted items take their slots and
  throttle at once (§2.4) and go to the ready queue, where each starts when it is due:
  an item refilled ahead of its time holds its slots while it waits.
* **requeues**: a backlog refused by a keyed limit is due again after
  ``min(hits × key_backoff_step, concurrency_requeue)`` (0 at the snapshot:
  ``requeueBackOff``); one refused by the function or account limit or a throttle at the
  latest retry time the refusing constraints give (``concurrency_retry`` for a
  concurrency limit, the GCRA's retry time for a throttle; at most
  ``throttle_backoff_max`` ahead). When several refuse, the keyed limit counts first,
  then the function or account limit, then the throttle (Inngest takes the last of the
  exhausted constraints in its sort order, ``ConvertLimitingConstraint``). A refill that
  moved some items but not all and was cut short by the function or account limit ends
  the scan, and the function is not scanned for ``concurrency_requeue`` (5 s), unless an
  enqueue pulls its pointer earlier (``enqueue_to_backlog``); a refill that moved nothing
  does not (Inngest counts it as "fully processed", ``shadow_process.go``). A release does
  not pull any pointer (``dequeue.lua`` touches only the ready queue).

Wait reasons (``steps.waits``, ``blocked_by``): a refused item waits for the refusing
constraint's reason, as in the walk; the other items of its backlog take the backlog's
reason (the last refill's refusal, or ``backlog`` while they wait only for the scanner:
its tick, the refill size, the backlog peek or a requeue); an item refused by a
constraint that does not split backlogs has its own reason. A refilled item that waited
for its backlog's refusal waited for the scanner from the moment that refusal stopped
holding (the constraint's last release of its key, or the retry time) until its refill.
Only items already due wait.
"""
from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from flowsim.engine.queue import ScoreOrder
from flowsim.engine.runs import QueueItem
from flowsim.policies.base import Constraint, Refusal

if TYPE_CHECKING:
    from flowsim.engine.world import FunctionRuntime, Scheduled, World

BACKLOG = "backlog"
"""The wait reason of an item that waits in its backlog for the shadow scanner only."""
DEFAULT_BACKLOG = "steps"
"""The backlog of a function's continuing runs without keys (Inngest's ``fn:<id>``); a
backlog's id is this or ``start``, then the keys the constraints name, space-separated."""
START_BACKLOG = "start"

Limit = tuple[Constraint, Refusal]


def weighted_order(rng: np.random.Generator, weights: Sequence[float]) -> list[int]:
    """A random order of ``range(len(weights))`` drawn as successive sampling without
    replacement with probability proportional to the weights (``sampleuv.Weighted.Take``,
    as ``ShuffleBacklogs`` does): the exponential race, ascending ``E_i / w_i``."""
    n = len(weights)
    if n <= 1:
        return list(range(n))
    keys = rng.standard_exponential(n) / np.asarray(weights, dtype=float)
    return np.argsort(keys, kind="stable").tolist()


def splits_backlogs(constraint: Constraint) -> bool:
    """Whether ``constraint`` names a backlog key (overrides :meth:`Constraint.backlog_key`)."""
    return type(constraint).backlog_key is not Constraint.backlog_key


class Backlog:
    """One backlog: its items in score order, its pointer (when it is due) and its state."""

    __slots__ = ("id", "start", "items", "pointer", "hits", "reason", "constraint", "retry_at")

    def __init__(self, backlog_id: str, start: bool) -> None:
        self.id = backlog_id
        self.start = start
        self.items = ScoreOrder()
        self.pointer = math.inf
        self.hits = 0                   # successive refusals by a keyed limit
        self.reason = BACKLOG           # why its due items wait, who said so, and until when
        self.constraint: Constraint | None = None
        self.retry_at: float | None = None

    def earliest(self) -> float:
        """The lowest score of its items (``inf`` when empty)."""
        keys = self.items.keys
        return keys[0][0] if keys else math.inf


class ShadowPartition:
    """One function's backlogs and its scan (``QueueShadowPartition``).

    The engine calls :meth:`remove` for a cancelled item (the function's ``queue``); the
    scanner calls the rest."""

    def __init__(self, scanner: "ShadowScanner", fn: "FunctionRuntime", constraints: list[Constraint]) -> None:
        self.scanner = scanner
        self.world = scanner.world
        self.name = fn.spec.id
        ordered = sorted(constraints, key=lambda c: not c.stop)     # the walk's order: stop-kinds first
        self.start_constraints = ordered
        self.step_constraints = [c for c in ordered if not c.start_only]
        self.start_keyers = [c for c in self.start_constraints if splits_backlogs(c)]
        self.step_keyers = [c for c in self.step_constraints if splits_backlogs(c)]
        self.uniform = {id(c): c.stop or splits_backlogs(c) for c in ordered}
        # Throttle without custom keys: the default backlog first, refilled many times.
        self.boost = (any(c.start_only for c in self.start_keyers) and not self.step_keyers)
        self.rng = self.world.streams[f"backlogs:{fn.spec.id}"]
        self.backlogs: dict[str, Backlog] = {}
        self.where: dict[int, Backlog] = {}         # item seq -> its backlog
        self.ready: dict[int, QueueItem] = {}       # item seq -> refilled, holding its slots until due
        self.pointer = math.inf                     # when the function is due for a scan
        self.dirty = False                          # continuous scanner: scan it at the next scan
        self.timer: "Scheduled | None" = None       # continuous scanner: its next requeue time
        self.timer_at = math.inf
        self.future: list[float] = []               # continuous scanner: scores not yet due (a heap)
        self.retry_at = math.inf                    # continuous scanner: the earliest retry of an item's own refusal

    # -- items in and out ---------------------------------------------------------------
    def enqueue(self, item: QueueItem, ready: float, now: float) -> None:
        """Put a new item in its backlog (it is due at ``ready``)."""
        backlog_id = self._backlog_id(item)
        b = self.backlogs.get(backlog_id)
        if b is None:
            b = self.backlogs[backlog_id] = Backlog(backlog_id, item.is_start)
        b.items.push(item)
        item.in_queue = True
        self.where[item.seq] = b
        score = item.score
        if score < b.pointer:               # enqueue_to_backlog: pointers move only earlier
            b.pointer = score
        if score < self.pointer:
            self.pointer = score
        if ready > now:
            item.timer = self.world.call_at(ready, self._at_ready, item)
        else:
            self._note(item, b, b.reason, b.constraint, now)
        self.scanner.enqueued(self, score, now)

    def _backlog_id(self, item: QueueItem) -> str:
        keyers = self.start_keyers if item.is_start else self.step_keyers
        parts = [START_BACKLOG if item.is_start else DEFAULT_BACKLOG]
        for c in keyers:
            key = c.backlog_key(item)
            if key is not None:
                parts.append(key)
        return " ".join(parts)

    def remove(self, item: QueueItem) -> None:
        """Take out a cancelled item: from its backlog (the pointers move to the earliest
        item, ``dequeue.lua``), or from the ready queue, releasing the slots it holds."""
        now = self.world.now
        item.in_queue = False
        if item.timer is not None:
            item.timer.cancel()
            item.timer = None
        if self.ready.pop(item.seq, None) is not None:
            for c in item.held:
                c.release(item, now)
            self.scanner.released(item)
            item.held = ()
            return
        b = self.where.pop(item.seq)
        b.items.remove(item)
        if len(b.items):
            b.pointer = b.earliest()
        else:
            del self.backlogs[b.id]
        self.pointer = min((x.pointer for x in self.backlogs.values()), default=math.inf)
        self.scanner.changed(self)

    def _at_ready(self, item: QueueItem) -> None:
        """An item's due time: start it if it was refilled, else it waits in its backlog from now."""
        item.timer = None
        now = self.world.now
        if self.ready.pop(item.seq, None) is not None:
            self._start(item)
        else:
            b = self.where[item.seq]
            self._note(item, b, b.reason, b.constraint, now)
            self.scanner.due(self)

    def _start(self, item: QueueItem) -> None:
        """Start a refilled item, holding the slots its refill took."""
        item.in_queue = False
        if item.reason is not None:
            item.note_reason(None, self.world.now)
        self.world._start(item, item.held, True)

    # -- the scan -------------------------------------------------------------------------
    def due(self, now: float, until: float) -> bool:
        """Whether the function is due for a scan: its pointer is due by ``until``."""
        return self.pointer <= until and bool(self.backlogs)

    def scan(self, now: float, continuous: bool) -> bool:
        """Scan the function's backlogs once (``ProcessShadowPartition``); True when a
        continuous scanner should scan it again at once (a refill stopped at
        ``refill_size`` with more items due and nothing refusing them)."""
        sc = self.scanner
        until = now + sc.lookahead
        self.retry_at = math.inf
        due = [b for b in self.backlogs.values() if b.pointer <= until]
        if not continuous and len(due) > sc.peek:
            due.sort(key=lambda b: (b.pointer, b.id))
            offset = int(self.rng.integers(0, len(due) - sc.peek + 1))
            due = due[offset:offset + sc.peek]
        weights = [sc.start_weight if b.start else sc.step_weight for b in due]
        order = [due[i] for i in weighted_order(self.rng, weights)]
        if self.boost:
            default = self.backlogs.get(DEFAULT_BACKLOG)
            if default is not None:
                order.insert(0, default)
        requeue_at = -math.inf
        again = False
        refilled = 0
        for position, b in enumerate(order):
            times = len(order) if self.boost and b.id == DEFAULT_BACKLOG else 1
            for _ in range(times):
                if self.backlogs.get(b.id) is not b:        # emptied earlier in this scan
                    break
                granted, limit, more = self._refill(b, now, until)
                refilled += granted
                if self.backlogs.get(b.id) is not b or not granted:
                    break       # fully refilled, or nothing granted ("fully processed" either way)
                if limit is not None and limit[1].stop:
                    # Cut short by the function or account limit: the whole function waits.
                    requeue_at = now + sc.concurrency_requeue
                    self._log_requeue(limit, requeue_at)
                    for rest in order[position + 1:]:
                        if self.backlogs.get(rest.id) is rest:
                            self._set_reason(rest, limit[1].reason, limit[0], now)
                    self._repoint(requeue_at)
                    return False
                again = again or more
        self._repoint(requeue_at)
        return continuous and again and refilled > 0

    def _repoint(self, requeue_at: float) -> None:
        """``ShadowPartitionRequeue``: the pointer goes to the earliest backlog, or to
        ``requeue_at`` if later."""
        earliest = min((b.pointer for b in self.backlogs.values()), default=math.inf)
        self.pointer = max(earliest, requeue_at) if self.backlogs else math.inf

    def _refill(self, b: Backlog, now: float, until: float) -> tuple[int, Limit | None, bool]:
        """Refill ``b`` once: (items granted, Inngest's limiting constraint, whether items
        are left due that nothing refused: the refill size cut it)."""
        window = b.items.window(self.scanner.refill_size)
        uniform = self.uniform
        prior = (b.reason, b.constraint, b.retry_at)      # why its items waited until now
        granted: list[QueueItem] = []
        refusals: list[Limit] = []       # of the item that ended the refill, by every backlog-wide constraint
        for item in window:
            if item.score > until:
                break               # not due yet, nor any later item
            constraints = self.start_constraints if item.is_start else self.step_constraints
            refusal = None
            for k, c in enumerate(constraints):
                refusal = c.check(item, now)
                if refusal is not None:
                    break
            if refusal is None:
                for c in constraints:
                    c.acquire(item, now)
                item.held = constraints
                granted.append(item)
                continue
            if uniform[id(c)]:         # every later item would be refused alike
                refusals = [(c, refusal)] + self._refusals(item, constraints[k + 1:], now)
                break
            self._note(item, b, refusal.reason, c, now)     # its own refusal: skip it
            if refusal.retry_at is not None and refusal.retry_at < self.retry_at:
                self.retry_at = refusal.retry_at
        if granted:
            b.items.started(granted)
            for item in granted:
                del self.where[item.seq]
        left = len(b.items)
        if not refusals and granted and left:
            # Exhausted by what it granted? (Asked of the last one: the same answer for its backlog.)
            last = granted[-1]
            refusals = self._refusals(last, self.start_constraints if last.is_start else self.step_constraints, now)
        limiting = None
        if refusals:
            limiting = self._requeue(b, refusals, now)
            self._set_reason(b, refusals[0][1].reason, refusals[0][0], now, refusals[0][1].retry_at)
        else:
            b.hits = 0
            if left:
                b.pointer = b.earliest()
                self._set_reason(b, BACKLOG, None, now)
        if not left:
            del self.backlogs[b.id]
        if granted:
            self._log_refill(b, len(granted), left, refusals[0] if refusals else None)
            for item in granted:
                self._freed_since(item, prior, now)
                if max(item.at, item.score) <= now:
                    if item.timer is not None:
                        item.timer.cancel()
                        item.timer = None
                    self._start(item)
                else:
                    self.ready[item.seq] = item      # its timer at its due time starts it
        more = not refusals and bool(left) and b.earliest() <= until
        return len(granted), limiting, more

    def _refusals(self, item: QueueItem, constraints: Sequence[Constraint], now: float) -> list[Limit]:
        """The refusals of ``item`` by those of ``constraints`` whose answer holds for its whole backlog."""
        uniform = self.uniform
        out = []
        for c in constraints:
            if uniform[id(c)]:
                refusal = c.check(item, now)
                if refusal is not None:
                    out.append((c, refusal))
        return out

    def _requeue(self, b: Backlog, refusals: list[Limit], now: float) -> Limit:
        """Requeue a refused backlog (``ProcessShadowPartitionBacklog``) and return Inngest's
        limiting constraint: the last exhausted one in its sort order
        (``ConvertLimitingConstraint``), so a keyed limit (a refusal that neither stops nor
        has a retry time), else the function or account limit, else the throttle. A keyed
        limit requeues the backlog after its back-off, anything else at the latest retry time
        of the refusing constraints (a concurrency limit's ``concurrency_retry``)."""
        sc = self.scanner
        keyed = stop = None
        retry = -math.inf
        for limit in refusals:
            refusal = limit[1]
            if refusal.stop:
                stop = stop or limit
            elif refusal.retry_at is None:
                keyed = keyed or limit
            t = refusal.retry_at if refusal.retry_at is not None else now + sc.concurrency_retry
            if t > retry:
                retry = t
        if keyed is not None:
            retry = now + min(b.hits * sc.key_backoff_step, sc.concurrency_requeue)
            b.hits += 1
        b.pointer = min(retry, now + sc.throttle_backoff_max)
        return keyed or stop or refusals[0]

    # -- wait reasons and the decision log -----------------------------------------------------
    def _set_reason(self, b: Backlog, reason: str, constraint: Constraint | None, now: float,
                    retry_at: float | None = None) -> None:
        """Say why ``b``'s due items wait from now on; when it changes, every one of them is told."""
        b.retry_at = retry_at
        if b.reason == reason and b.constraint is constraint:
            return
        b.reason = reason
        b.constraint = constraint
        for item in b.items.items:
            self._note(item, b, reason, constraint, now)

    def _freed_since(self, item: QueueItem, prior: tuple[str, Constraint | None, float | None], now: float) -> None:
        """A refilled item that waited for its backlog's refusal (``prior``: its reason,
        constraint and retry time): from the moment that refusal no longer held (the
        constraint's last release of the item's key, or the retry time) until now it waited
        only for the scanner (``backlog``). A release of a constraint object of another
        function (an account or env limit each function holds its own copy of) is not seen."""
        reason, c, retry_at = prior
        if c is None or item.reason != reason:
            return
        if retry_at is not None:
            since = retry_at
        else:
            since = self.scanner.freed.get((id(c), c.backlog_key(item)), -math.inf)
        if item.reason_since < since < now:
            item.note_reason(BACKLOG, since)

    def _note(self, item: QueueItem, b: Backlog, reason: str, constraint: Constraint | None, now: float) -> None:
        if item.reason == reason or max(item.at, item.score) > now:
            return
        if item.note_reason(reason, now) and self.world.explain:
            why = (constraint.explain(item, now) if constraint is not None
                   else "the shadow scanner's next refill")
            run = item.run
            self.world.log("waiting", f"run {run.id} {self.world._item_name(item)} waiting in backlog "
                                      f"{self.name}/{b.id}: {why}", run_id=run.id, function_id=self.name,
                           reason=reason, backlog=b.id)

    def _log_refill(self, b: Backlog, granted: int, left: int, limit: Limit | None) -> None:
        if self.world.explain:
            then = f"; then refused by {limit[1].reason}" if limit is not None else ""
            self.world.log("refill", f"backlog {self.name}/{b.id}: {granted} item(s) moved to the ready queue, "
                                     f"{left} left{then}", function_id=self.name, backlog=b.id, granted=granted,
                           left=left, limited_by=limit[1].reason if limit is not None else "")

    def _log_requeue(self, limit: Limit, at: float) -> None:
        if self.world.explain:
            self.world.log("requeue", f"function {self.name}: refill cut short by {limit[1].reason}; its backlogs "
                                      f"are scanned again from t={at:g}s", function_id=self.name,
                           reason=limit[1].reason, until=at)

    # -- the continuous scanner's timer --------------------------------------------------------
    def next_time(self, now: float) -> float:
        """The continuous scanner's next look at this function: when its pointer, a
        backlog's requeue time or an item's score comes within the lookahead, or the retry
        time of an item's own refusal comes (``inf`` if never)."""
        la = self.scanner.lookahead
        until = now + la
        if not self.backlogs:
            return math.inf
        if self.pointer > until:
            return self.pointer - la
        t = min((b.pointer for b in self.backlogs.values() if b.pointer > until), default=math.inf)
        future = self.future
        while future and future[0] <= until:
            heapq.heappop(future)
        if future:
            t = min(t, future[0])
        return min(t - la, self.retry_at if self.retry_at > now else math.inf)


class ShadowScanner:
    """The shadow scanner of one simulation: the functions' partitions and when they are scanned."""

    def __init__(self, world: "World") -> None:
        p = world.platform
        self.world = world
        self.tick_us = round(p.shadow_tick * 1e6)
        self.lookahead = p.backlog_lookahead
        self.peek = p.backlog_peek
        self.refill_size = p.refill_size
        self.step_weight = float(p.step_backlog_weight)
        self.start_weight = float(p.start_backlog_weight)
        self.key_backoff_step = p.key_backoff_step
        self.concurrency_requeue = p.concurrency_requeue
        self.concurrency_retry = p.concurrency_retry
        self.throttle_backoff_max = p.throttle_backoff_max
        self.continuous = self.tick_us == 0
        self.partitions: list[ShadowPartition] = []
        self.order_rng = world.streams["shuffle"]
        self.armed: "Scheduled | None" = None       # ticks: the next tick
        self.armed_at = math.inf
        self.last_tick = -math.inf
        self.pending = False                        # continuous: a scan is due now
        self.freed: dict[tuple[int, str | None], float] = {}     # (constraint, key) -> its last release

    def partition(self, fn: "FunctionRuntime", constraints: list[Constraint]) -> ShadowPartition:
        """The backlogs of ``fn`` (its ``queue`` with key queues)."""
        part = ShadowPartition(self, fn, constraints)
        self.partitions.append(part)
        return part

    def enqueue(self, item: QueueItem, ready: float, now: float) -> None:
        """A new queue item (``World._enqueue``): into its function's backlogs."""
        item.run.fn.queue.enqueue(item, ready, now)

    # -- what may trigger a scan --------------------------------------------------------------
    def enqueued(self, part: ShadowPartition, score: float, now: float) -> None:
        if self.continuous:
            if score > now + self.lookahead:
                heapq.heappush(part.future, score)
                self._time(part, now)
            else:
                self._mark(part)
        else:
            self._arm(self._next_tick(part, now))

    def changed(self, part: ShadowPartition) -> None:
        """A cancellation moved the function's pointers (to its earliest items)."""
        if self.continuous:
            self._mark(part)
        else:
            self._arm(self._next_tick(part, self.world.now))

    def due(self, part: ShadowPartition) -> None:
        """An item of ``part`` waiting in a backlog became due."""
        if self.continuous:
            self._mark(part)

    def released(self, item: QueueItem) -> None:
        """``item`` released its slots (``World._end_item``, a cancelled refilled item): a
        continuous scanner scans every function with waiting items; ticks do not, but the
        time is kept, per constraint and key, so that an item refused by it and refilled
        later waits for the scanner (``backlog``) from then on."""
        now = self.world.now
        freed = self.freed
        for c in item.held:
            freed[(id(c), c.backlog_key(item))] = now
        if self.continuous:
            for part in self.partitions:
                if part.backlogs:
                    self._mark(part)

    def wake(self, fn: "FunctionRuntime") -> None:
        """A policy freed capacity of its own (``StageContext.wake``): a continuous scanner
        scans the function now; ticks wait for the next tick."""
        if self.continuous:
            self._mark(fn.queue)

    # -- ticks ----------------------------------------------------------------------------------
    def _tick_time(self, k: int) -> float:
        return k * self.tick_us / 1e6

    def _grid(self, t: float) -> float:
        """The first tick at or after ``t``."""
        k = max(math.floor(t * 1e6 / self.tick_us), 0)
        while self._tick_time(k) < t:
            k += 1
        while k > 0 and self._tick_time(k - 1) >= t:
            k -= 1
        return self._tick_time(k)

    def _next_tick(self, part: ShadowPartition, now: float) -> float:
        """The first tick after the last one at which ``part`` is due:
        ``pointer <= tick.Truncate(1s) + lookahead``."""
        if not part.backlogs:
            return math.inf
        earliest = max(now, float(math.ceil(part.pointer - self.lookahead)))
        t = self._grid(earliest)
        if t <= self.last_tick:
            t = self._grid(math.nextafter(self.last_tick, math.inf))
        return t

    def _arm(self, t: float) -> None:
        if t < self.armed_at:
            if self.armed is not None:
                self.armed.cancel()
            self.armed_at = t
            self.armed = self.world.call_at(t, self._on_tick)

    def _on_tick(self) -> None:
        now = self.world.now
        self.armed = None
        self.armed_at = math.inf
        self.last_tick = now
        until = math.floor(now) + self.lookahead
        due = [p for p in self.partitions if p.due(now, until)]
        for part in self._shuffled(due):
            part.scan(now, False)
        self._arm(min((self._next_tick(p, now) for p in self.partitions), default=math.inf))

    def _shuffled(self, parts: list[ShadowPartition]) -> list[ShadowPartition]:
        """Functions scanned at one instant, in a uniformly shuffled order (§3.3)."""
        if len(parts) <= 1:
            return parts
        return [parts[i] for i in self.order_rng.permutation(len(parts))]

    # -- the continuous scanner ---------------------------------------------------------------
    def _mark(self, part: ShadowPartition) -> None:
        part.dirty = True
        if not self.pending:
            self.pending = True
            self.world.call_at(self.world.now, self._on_scan)

    def _time(self, part: ShadowPartition, now: float) -> None:
        t = part.next_time(now)
        if t < part.timer_at:
            if part.timer is not None:
                part.timer.cancel()
            part.timer_at = t
            part.timer = self.world.call_at(t, self._timed, part)

    def _timed(self, part: ShadowPartition) -> None:
        part.timer = None
        part.timer_at = math.inf
        self._mark(part)

    def _on_scan(self) -> None:
        now = self.world.now
        self.pending = False
        parts = [p for p in self.partitions if p.dirty]
        for p in parts:
            p.dirty = False
        until = now + self.lookahead
        for part in self._shuffled(parts):
            if part.due(now, until) and part.scan(now, True):
                self._mark(part)
            self._time(part, now)
