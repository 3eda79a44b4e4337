"""Summary-only recording: fold every row into accumulators as it arrives (issue 9).

:class:`SummaryRecorder` has the recording interface the engine uses on
:class:`~flowsim.results.recorder.Recorder` (``event_row``, ``set_outcome``, ``run_row``,
``step_row``) but keeps no rows: each one is folded at once into counts, sums and
fixed-size sketches, so memory stays flat however long the simulation runs. It holds only
what the system bounds: the event rows still without an outcome, one accumulator per
function, constraint, outcome and key value seen, and buffers of at most :data:`CHUNK`
values. It produces the dict of :func:`flowsim.results.metrics.summarize`, with the same
keys, nesting and warm-up, plus a ``summary_only`` entry naming what differs:

* exact: every count and rate, throughput, ``blocked_by``, ``outcomes``, ``runs``,
  ``binding`` (items, total and mean delay, share, worst key; overall and per function),
  ``losses_by_key``, the ``count`` and ``max`` of every distribution, Jain's index of
  per-key throughput, ``fairness.key`` and ``fairness.keys``; the key groups' number of
  values and busiest key with its runs and completions; ``queue``'s created and started
  runs; ``cancel_reasons``, ``batching``, ``debounce``, ``drops`` and the ``warnings``'
  codes;
* exact up to floating-point rounding (the sums are added in another order than the
  tables' numpy sums, ~1e-15 relative): the ``mean`` of every distribution, the
  time-weighted ``mean`` slot use of each concurrency constraint (``all_keys_mean`` and
  ``busiest_key_mean`` for a keyed one), the busiest key's mean start latency, the queue's
  ``depth`` per quarter, Jain's index of per-key mean start latency;
* approximate: p50/p90/p95/p99 of every distribution, within :data:`RELATIVE_ACCURACY`
  (0.5%) of numpy's linear percentiles for values of at least :data:`SMALLEST` (1 ns;
  smaller magnitudes count as 0);
* omitted (``None``): the ``peak`` and ``saturated`` fraction of each concurrency
  constraint (a step's row arrives when it ends, so the level at a past instant depends
  on steps still running, whose number only the engine knows), with the busiest key's
  ``busiest_key_peak``; every key's p99 start latency and so the worst key of each key
  group (``keys.*.worst``); and fairness's worst-key p99 and starvation (a sketch or an
  interval sweep per key value).

The percentiles come from a log-bucketed histogram (DDSketch's mapping, numpy-vectorised
over buffered values): the ``ddsketch`` package adds a value in ~0.55 µs, several times
what recording a row costs, while a list append and a share of a vectorised fold cost
~0.06 µs.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flowsim.results.metrics import (NOT_LOSSES, PERCENTILES, QUARTERS, WORK_KINDS, batch_summary, binding_dict,
                                     binding_name, complete, concurrency_groups, jain, key_group, keyed_limits,
                                     queued_time, quarters)
from flowsim.results.recorder import OUTCOMES, STATUSES, Recorder, blocked_by

if TYPE_CHECKING:
    from flowsim.scenario.model import Scenario

RELATIVE_ACCURACY = 0.005
SMALLEST = 1e-9        # smaller magnitudes go to the zero bucket
LARGEST = 1e12         # larger ones to the last bucket (the exact max still bounds them)
CHUNK = 4096           # rows between two folds of the buffered values
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LN_GAMMA = math.log(_GAMMA)
_I0 = math.ceil(math.log(SMALLEST) / _LN_GAMMA)
_NB = math.ceil(math.log(LARGEST) / _LN_GAMMA) - _I0 + 1      # buckets per sign
OMITTED = ("concurrency.*.peak", "concurrency.*.saturated", "concurrency.*.busiest_key_peak",
           "keys.*.busiest.start_latency_p99", "keys.*.worst", "fairness.worst_p99_start_latency",
           "fairness.worst_key", "fairness.starvation_max", "fairness.starved_key")


class Total:
    """The count and sum of a stream of floats, buffered: ``add`` is a list append, and
    every :meth:`fold` adds the buffer's numpy sum into a compensated (Neumaier) total."""

    __slots__ = ("buffer", "add", "count", "_sum", "_carry")

    def __init__(self) -> None:
        self.buffer: list[float] = []
        self.add = self.buffer.append
        self.count = 0
        self._sum = 0.0
        self._carry = 0.0

    def fold(self) -> None:
        """Fold the buffered values in and empty the buffer."""
        if self.buffer:
            self._fold(np.asarray(self.buffer, dtype=float))
            self.buffer.clear()

    def _fold(self, values: np.ndarray) -> None:
        self.count += values.size
        part = float(values.sum())
        s = self._sum + part
        self._carry += (self._sum - s) + part if abs(self._sum) >= abs(part) else (part - s) + self._sum
        self._sum = s

    @property
    def sum(self) -> float:
        return self._sum + self._carry


class Sketch(Total):
    """A distribution in fixed memory: count, sum, exact min and max, and counts in
    logarithmic buckets ``(γ^(i-1), γ^i]`` of each sign, γ = (1+α)/(1-α), so that every
    value in a bucket is within relative accuracy α of the bucket's representative."""

    __slots__ = ("min", "max", "buckets")

    def __init__(self) -> None:
        super().__init__()
        self.min = math.inf
        self.max = -math.inf
        self.buckets = np.zeros(2 * _NB + 1, dtype=np.int64)     # negatives, zero, positives

    def _fold(self, values: np.ndarray) -> None:
        super()._fold(values)
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        size = np.abs(values)
        index = np.ceil(np.log(np.maximum(size, SMALLEST)) * (1 / _LN_GAMMA)).astype(np.int64)
        np.clip(index, _I0, _I0 + _NB - 1, out=index)
        slot = np.where(values > 0, index + (_NB + 1 - _I0), (_NB - 1 + _I0) - index)
        slot[size < SMALLEST] = _NB
        self.buckets += np.bincount(slot, minlength=2 * _NB + 1)

    def _value(self, rank: int, cumulative: np.ndarray) -> float:
        """The estimate of the ``rank``-th smallest value (0-based)."""
        if rank == 0:
            return self.min
        if rank == self.count - 1:
            return self.max
        slot = int(np.searchsorted(cumulative, rank, side="right"))
        if slot == _NB:
            return 0.0
        i = (slot - _NB - 1 if slot > _NB else _NB - 1 - slot) + _I0
        value = 2 * _GAMMA ** i / (1 + _GAMMA)
        return min(max(value if slot > _NB else -value, self.min), self.max)

    def distribution(self) -> dict[str, float | int | None]:
        """As :func:`flowsim.results.metrics.distribution`: count, mean, percentiles
        (numpy's linear interpolation between the estimated order statistics) and max."""
        self.fold()
        out: dict[str, float | int | None] = {"count": self.count}
        if self.count == 0:
            out.update({"mean": None, **{f"p{p}": None for p in PERCENTILES}, "max": None})
            return out
        out["mean"] = self.sum / self.count
        cumulative = np.cumsum(self.buckets)
        for p in PERCENTILES:
            h = (self.count - 1) * p / 100
            lo = math.floor(h)
            low = self._value(lo, cumulative)
            high = self._value(min(lo + 1, self.count - 1), cumulative)
            out[f"p{p}"] = float(low + (high - low) * (h - lo))
        out["max"] = self.max
        return out


class Queued:
    """Item-seconds spent queued in each quarter of the measured window (``metrics.queued_time``),
    from the buffered (due, left) times of a function's work items, folded with numpy."""

    __slots__ = ("due", "left", "edges", "time")

    def __init__(self, edges: np.ndarray) -> None:
        self.due: list[float] = []
        self.left: list[float] = []
        self.edges = edges
        self.time = np.zeros(len(edges) - 1)

    def fold(self) -> None:
        """Fold the buffered intervals in and empty the buffers."""
        if self.due:
            due = np.asarray(self.due, dtype=float)
            self.time += queued_time(due, np.maximum(np.asarray(self.left, dtype=float), due), self.edges)
            self.due.clear()
            self.left.clear()


class _Function:
    """The accumulators of one function's section of the summary."""

    __slots__ = ("outcomes", "statuses", "start", "end_to_end", "queue_wait", "losses", "slots", "keyed",
                 "binding", "binding_by_value", "groups", "queued", "queued_due", "queued_left", "created", "started",
                 "batches")

    def __init__(self, edges: np.ndarray) -> None:
        self.outcomes: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.start = Sketch()
        self.end_to_end = Sketch()
        self.queue_wait = Sketch()
        self.losses: dict[tuple[str, str], int] = {}
        self.slots: Total | None = None                  # its function concurrency limit's slot time
        # (key label, keyed limit's slot time, its slot time per key value)
        self.keyed: list[tuple[str, Total, dict[Any, float]]] = []
        self.binding: dict[str, list[Any]] = {}          # as SummaryRecorder.binding, this function's steps
        self.binding_by_value: dict[tuple[str, str], float] = {}
        self.groups: dict[str, dict[Any, list[Any]]] = {}   # key label -> its key group's values
        self.queued = Queued(edges)
        self.queued_due = self.queued.due.append          # a work item's (due, left) times
        self.queued_left = self.queued.left.append
        self.created = 0                                 # runs created, and started, in the second half
        self.started = 0
        self.batches: dict[int, int] | None = None       # batch size -> batches, with batchEvents


class SummaryRecorder:
    """Recorder of the summary alone (see the module docstring): what
    :func:`flowsim.simulate` uses with ``tables=False``."""

    def __init__(self, scenario: "Scenario", warmup: float = 0.0) -> None:
        self.scenario = scenario
        self.warmup = warmup
        self.horizon = scenario.horizon
        self._until_fold = CHUNK                          # rows until the next fold
        self._next_event_row = 0
        self._pending: dict[int, tuple[Any, str]] = {}  # event row -> (event, function id), no outcome yet
        self.outcomes: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.cancel_reasons: dict[str, int] = {}
        self.blocked_by: dict[str, int] = {}
        self.start, self.end_to_end, self.queue_wait, self.throttle = Sketch(), Sketch(), Sketch(), Sketch()
        self.binding: dict[str, list[Any]] = {}          # constraint -> [items, total delay]
        self.binding_by_value: dict[tuple[str, str], float] = {}
        edges = quarters(warmup, self.horizon)
        self._half = float(edges[QUARTERS // 2])
        self.fns = {fn.id: _Function(edges) for fn in scenario.functions}
        self.account_slots = Total()
        self.function_slots: dict[str, Total] = {}
        for fn in scenario.functions:
            conf = fn.mechanisms.get("concurrency")
            if conf is not None and conf.function_limit is not None:
                self.fns[fn.id].slots = self.function_slots[fn.id] = Total()
            if fn.mechanisms.get("batchEvents") is not None:
                self.fns[fn.id].batches = {}
        # metrics.keyed_limits reads only the scenario of the result it is given.
        self.keyed = keyed_limits(SimpleNamespace(scenario=scenario))
        self.keyed_slots: dict[str, Total] = {}
        self.keyed_per_key: dict[str, dict[Any, float]] = {}
        for name, members in self.keyed.items():
            total = self.keyed_slots[name] = Total()
            per_key = self.keyed_per_key[name] = {}
            for fn_id, label in {f: label for f, label, _ in members}.items():
                self.fns[fn_id].keyed.append((label, total, per_key))
        # Key groups (metrics.key_story): name -> [label, functions, value -> [runs, completed, started, latency sum]]
        self._group_names = concurrency_groups(scenario)
        self.key_groups: dict[str, list[Any]] = {}
        self._totals: list[Any] = [self.start, self.end_to_end, self.queue_wait, self.throttle, self.account_slots,
                                   *self.function_slots.values(), *self.keyed_slots.values()]
        for acc in self.fns.values():
            self._totals += [acc.start, acc.end_to_end, acc.queue_wait, acc.queued]
        # Cancelled work items that never started leave the queue when their run ends: run seq -> (fn, due).
        self._cancelled_items: dict[int, list[tuple[_Function, float]]] = {}
        # Fairness: the label runs carry first (the lowest run seq's smallest label), and
        # per label and key value of the measured runs: [runs, completed, started, latency sum].
        self._first_keyed: tuple[int, str] | None = None
        self._all_runs = [0, 0, 0, 0.0]
        self._per_key: dict[str, dict[Any, list[Any]]] = {}

    def _measured(self, at: float) -> bool:
        return not self.warmup or at >= self.warmup

    def _fold_all(self) -> None:
        """Fold every buffer (each row adds at most one value to each, so no buffer
        holds more than :data:`CHUNK` values)."""
        self._until_fold = CHUNK
        for total in self._totals:
            total.fold()

    # -- events ---------------------------------------------------------------------
    def event_row(self, event: Any, function_id: str, outcome: str = "", run_id: str = "",
                  reason: str = "") -> int:
        """Fold the row of ``event`` for ``function_id`` if its outcome is known, else open
        it until ``set_outcome``; return its index."""
        row = self._next_event_row
        self._next_event_row = row + 1
        if not outcome:
            self._pending[row] = (event, function_id)
        elif self._measured(event.at):
            self._outcome(function_id, outcome, "")
        return row

    def set_outcome(self, row: int, outcome: str, run_id: str | None = None, reason: str = "",
                    key: str = "") -> None:
        """Fold the row's one outcome; a second one for the same row is refused."""
        opened = self._pending.pop(row, None)
        if opened is None:
            raise RuntimeError(f"event row {row} already has an outcome (or was never opened); refusing {outcome}")
        event, function_id = opened
        if self._measured(event.at):
            self._outcome(function_id, outcome, "" if key is None else str(key))

    def _outcome(self, function_id: str, outcome: str, key: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        fn = self.fns[function_id]
        fn.outcomes[outcome] = fn.outcomes.get(outcome, 0) + 1
        if key and outcome not in NOT_LOSSES:
            fn.losses[(outcome, key)] = fn.losses.get((outcome, key), 0) + 1

    # -- runs -----------------------------------------------------------------------
    def run_row(self, run: Any, status: str) -> None:
        """Fold the row of ``run``, which ends now with ``status`` (or is ``pending``)."""
        keys = run.keys
        if keys:
            if self._first_keyed is None or run.seq < self._first_keyed[0]:
                self._first_keyed = (run.seq, min(keys))
            for label in keys:
                if label not in self._per_key:    # every earlier measured run lacked it
                    self._per_key[label] = {"": list(self._all_runs)} if self._all_runs[0] else {}
        fn = self.fns[run.fn.spec.id]
        if self._cancelled_items:
            items = self._cancelled_items.pop(run.seq, None)
            if items is not None:
                for acc, due in items:
                    acc.queued_due(due)
                    acc.queued_left(run.ended_at)
        event_at = run.event.at
        if self.warmup and event_at < self.warmup:
            return
        self._until_fold -= 1
        if not self._until_fold:
            self._fold_all()
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        statuses = fn.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if status == "cancelled":
            reason = run.cancel_reason
            self.cancel_reasons[reason] = self.cancel_reasons.get(reason, 0) + 1
        started = run.started_at
        latency = None if started is None else started - event_at
        if latency is not None:
            self.start.add(latency)
            fn.start.add(latency)
            if started >= self._half:
                fn.started += 1
        if run.created_at >= self._half:
            fn.created += 1
        completed = status == "completed"
        if completed:
            self.end_to_end.add(run.ended_at - event_at)
            fn.end_to_end.add(run.ended_at - event_at)
        if fn.batches is not None and run.batch_id is not None and status != "skipped":
            size = len(run.events)
            fn.batches[size] = fn.batches.get(size, 0) + 1
        mine = [self._all_runs]
        if self._per_key:
            for label, groups in self._per_key.items():
                value = keys.get(label, "")
                group = groups.get(value)
                mine.append(group if group is not None else groups.setdefault(value, [0, 0, 0, 0.0]))
        if keys:
            fn_groups = fn.groups
            for label, value in keys.items():
                values = fn_groups.get(label)
                if values is None:
                    values = fn_groups[label] = self._key_group(run.fn.spec.id, label)
                group = values.get(value)
                mine.append(group if group is not None else values.setdefault(value, [0, 0, 0, 0.0]))
        if latency is None:
            for group in mine:
                group[0] += 1
                if completed:
                    group[1] += 1
        elif completed:
            for group in mine:
                group[0] += 1
                group[1] += 1
                group[2] += 1
                group[3] += latency
        else:
            for group in mine:
                group[0] += 1
                group[2] += 1
                group[3] += latency

    def _key_group(self, fn_id: str, label: str) -> dict[Any, list[Any]]:
        """The values of the key group of ``label`` on ``fn_id``'s runs, made on first use."""
        name = key_group(fn_id, label, self._group_names)
        group = self.key_groups.get(name)
        if group is None:
            group = self.key_groups[name] = [label, [], {}]
        group[1].append(fn_id)
        return group[2]

    # -- steps ----------------------------------------------------------------------
    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str,
                 waits: dict[str, float] | None) -> None:
        """Fold the row of a step attempt, sleep or wait that ends now (or is still open)."""
        self._until_fold -= 1
        if not self._until_fold:
            self._fold_all()
        fn_id = run.fn.spec.id
        fn = self.fns[fn_id]
        work = False
        if kind in WORK_KINDS:
            if started_at is not None:          # queued time (clipped to the quarters when folded), slot time
                work = True
                fn.queued_due(enqueued_at)
                fn.queued_left(started_at)
                t0 = self.warmup
                end = self.horizon if ended_at is None else ended_at
                held = (end if end > t0 else t0) - (started_at if started_at > t0 else t0)
                self.account_slots.add(held)
                if fn.slots is not None:
                    fn.slots.add(held)
                if fn.keyed:
                    keys = run.keys
                    for label, total, per_key in fn.keyed:
                        value = keys.get(label)
                        if value is not None:
                            total.add(held)
                            per_key[value] = per_key.get(value, 0.0) + held
            elif status == "cancelled":          # it left the queue when its run ends, right after this row
                self._cancelled_items.setdefault(run.seq, []).append((fn, enqueued_at))
            else:
                fn.queued_due(enqueued_at)
                fn.queued_left(self.horizon)
        if self.warmup and enqueued_at < self.warmup:
            return
        if work:
            self.queue_wait.add(started_at - enqueued_at)
            fn.queue_wait.add(started_at - enqueued_at)
        if waits:
            reason = next(iter(waits)) if len(waits) == 1 else blocked_by(waits)
            self.blocked_by[reason] = self.blocked_by.get(reason, 0) + 1
            self._waits(fn_id, fn, waits)

    def _waits(self, fn_id: str, fn: _Function, waits: dict[str, float]) -> None:
        """Fold a step's waits into the binding tables (all steps', and its function's) and
        the throttle delay, in the order of the JSON the tables hold (sorted reasons), so
        sums are the tables' to the bit."""
        items = sorted(waits.items()) if len(waits) > 1 else waits.items()
        throttle = 0
        for reason, seconds in items:
            name, value = binding_name(reason, fn_id)
            for rows, per_value in ((self.binding, self.binding_by_value), (fn.binding, fn.binding_by_value)):
                row = rows.get(name)
                if row is None:
                    row = rows[name] = [0, 0.0]
                row[0] += 1
                row[1] += seconds
                if value:
                    per_value[(name, value)] = per_value.get((name, value), 0.0) + seconds
            if reason.startswith("throttle:"):
                throttle += seconds
        if throttle:
            self.throttle.add(throttle)

    # -- the end ----------------------------------------------------------------------
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Zero-row tables with the usual columns and dtypes (no rows are kept)."""
        return Recorder().tables()

    def summary(self, seed: int, received: int, unmatched: int) -> dict[str, Any]:
        """The dict of :func:`flowsim.results.metrics.summarize` (see the module docstring
        for what is exact), with ``summary_only`` naming what is approximate or omitted."""
        for event, function_id in self._pending.values():    # never given an outcome: "" in the tables
            if self._measured(event.at):
                self._outcome(function_id, "", "")
        self._pending.clear()
        for total in self._totals:
            total.fold()
        span = max(self.horizon - self.warmup, 0.0)
        outcomes = _counts(self.outcomes, OUTCOMES)
        n_rows = max(sum(self.outcomes.values()), 1)
        by_fn: dict[str, Any] = {}
        for fn_id, fn in self.fns.items():
            losses: dict[str, dict[str, int]] = {}
            for (outcome, key), n in sorted(fn.losses.items()):
                losses.setdefault(outcome, {})[key] = n
            by_fn[fn_id] = {
                "outcomes": _counts(fn.outcomes),
                "runs": _counts(fn.statuses),
                "start_latency": fn.start.distribution(),
                "end_to_end_latency": fn.end_to_end.distribution(),
                "queue_wait": fn.queue_wait.distribution(),
                "throughput": float(fn.statuses.get("completed", 0) / span) if span else 0.0,
                "losses_by_key": losses,
                "binding": binding_dict(fn.binding, fn.binding_by_value),
            }
        keys = self._keys()
        summary = {
            "scenario": self.scenario.name,
            "seed": seed,
            "horizon": self.horizon,
            "warmup": self.warmup,
            "events": {"received": received, "unmatched": unmatched},
            "outcomes": outcomes,
            "outcome_rates": {k: v / n_rows for k, v in outcomes.items()},
            "runs": _counts(self.statuses, STATUSES),
            "start_latency": self.start.distribution(),
            "end_to_end_latency": self.end_to_end.distribution(),
            "queue_wait": self.queue_wait.distribution(),
            "throttle_delay": self.throttle.distribution(),
            "throughput": float(self.statuses.get("completed", 0) / span) if span else 0.0,
            "blocked_by": _counts(self.blocked_by),
            "binding": binding_dict(self.binding, self.binding_by_value),
            "concurrency": self._slot_use(span, {name: k["busiest"]["key"] for name, k in keys.items()}),
            "keys": keys,
            "queue": self._queue(),
            "cancel_reasons": _counts(self.cancel_reasons),
            "batching": {fn.id: batch_summary(fn.mechanisms["batchEvents"].max_size,
                                              fn.mechanisms["batchEvents"].timeout, self.fns[fn.id].batches)
                         for fn in self.scenario.functions if self.fns[fn.id].batches is not None},
            "fairness": self._fairness(span),
            "functions": by_fn,
        }
        complete(summary, self.scenario)
        summary["summary_only"] = {"relative_accuracy": RELATIVE_ACCURACY,
                                   "approximate": [f"p{p}" for p in PERCENTILES], "omitted": list(OMITTED)}
        return summary

    def _slot_use(self, span: float, busiest: dict[str, str]) -> dict[str, dict[str, Any]]:
        """As ``metrics.slot_use``, with the means only (peaks and saturated are omitted)."""
        def mean(seconds: float) -> float:
            return seconds / span if span > 0 else 0.0
        out: dict[str, dict[str, Any]] = {
            "account": {"limit": self.scenario.account.concurrency, "peak": None, "mean": mean(self.account_slots.sum),
                        "saturated": None}}
        for fn in self.scenario.functions:
            if fn.id in self.function_slots:
                out[f"function:{fn.id}"] = {"limit": fn.mechanisms["concurrency"].function_limit, "peak": None,
                                            "mean": mean(self.function_slots[fn.id].sum), "saturated": None}
        for name, members in self.keyed.items():
            limits = sorted({lim for _, _, lim in members})
            per_key = self.keyed_per_key[name]
            chosen = busiest.get(name)
            out[name] = {"limit": limits[0] if len(limits) == 1 else "/".join(map(str, limits)),
                         "peak": None, "all_keys_mean": mean(self.keyed_slots[name].sum),
                         "saturated": None, "busiest_key": chosen,
                         "busiest_key_mean": None if chosen is None else mean(per_key.get(chosen, 0.0)),
                         "busiest_key_peak": None}
        return out

    def _keys(self) -> dict[str, dict[str, Any]]:
        """As ``metrics.key_story``: per key group, the busiest key (its runs, completions
        and mean start latency); the p99s and the worst key are omitted."""
        order = {fn.id: i for i, fn in enumerate(self.scenario.functions)}
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(self.key_groups):
            label, fns, values = self.key_groups[name]
            busiest = min(values, key=lambda v: (-values[v][0], str(v)))
            runs, completed, started, latency = values[busiest]
            out[name] = {"label": label, "functions": sorted(fns, key=order.__getitem__), "keys": len(values),
                         "busiest": {"key": str(busiest), "runs": runs, "completed": completed,
                                     "start_latency_mean": latency / started if started else None,
                                     "start_latency_p99": None},
                         "worst": None}
        return out

    def _queue(self) -> dict[str, dict[str, Any]]:
        """As ``metrics.queue_trend``."""
        width = (self.horizon - self.warmup) / QUARTERS
        out = {}
        for fn_id, fn in self.fns.items():
            depth = fn.queued.time / width if width > 0 else np.zeros(QUARTERS)
            out[fn_id] = {"depth": [float(d) for d in depth], "half": float(self.horizon - self._half),
                          "created": fn.created, "started": fn.started}
        return out

    def _fairness(self, span: float) -> dict[str, Any]:
        """As ``metrics.fairness``: Jain's indices over the key values of the first label;
        the worst key's p99 and the starvation are omitted."""
        if self._first_keyed is None:
            return {}
        label = self._first_keyed[1]
        groups = [self._per_key[label][v] for v in sorted(self._per_key[label])]
        groups = [g for g in groups if g[0]]
        if not groups:
            return {}
        return {
            "key": label,
            "keys": len(groups),
            "jain_throughput": jain([g[1] / span if span else 0.0 for g in groups]),
            "jain_start_latency": jain([g[3] / g[2] if g[2] else math.nan for g in groups]),
            "worst_p99_start_latency": None,
            "worst_key": None,
            "starvation_max": None,
            "starved_key": None,
        }


def _counts(counts: dict[str, int], names: tuple[str, ...] = ()) -> dict[str, int]:
    """As ``metrics._counts`` from counts already made: ``names`` first, then the rest sorted."""
    out = {n: 0 for n in names}
    out.update({str(k): counts[k] for k in sorted(counts)})
    return out
