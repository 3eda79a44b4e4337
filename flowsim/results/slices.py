"""The values of key expressions captured while simulating, for metrics restricted to them.

The tables keep no event data, so a metric such as ``p99(start_latency)[event.data.tenant=s1]``
(:mod:`flowsim.results.metric`) needs the value of ``event.data.tenant`` of every row's
event, taken while the simulation runs. :func:`flowsim.simulate` wraps its recorder in one
of these when (and only when) the metrics it is given read a key expression; the wrapper
hands every row to the real recorder unchanged, so the tables and the summary are the
same with or without it.

* With tables, :class:`TaggingRecorder` tags every event row, run and step attempt with
  the code of each expression's value (4 bytes a row and expression): any metric over
  those expressions is then computed exactly from the tables (:class:`TableSource`).
* Summary-only, :class:`FoldingRecorder` keeps no rows: for each set of expressions a
  metric reads together, it folds the rows into one *cell* per function and combination
  of values (the ``s1`` runs of ``tenant-work``), each with its outcome counts, runs,
  completed runs and three sparse latency sketches. Memory grows with the cells, not
  the runs. A cell's sketch counts values in the log-spaced buckets of
  :class:`flowsim.results.streaming.Sketch` (the same mapping, so the same 0.5%
  accuracy, and the same exact count, min and max), but only its non-empty buckets,
  and all cells' buckets are folded together by numpy every :data:`CHUNK` rows.

A row's values come from its own event for an event row and from the run's event (the
first of a batch, the last of a debounce) for a run and its steps, by
:func:`flowsim.expr.key_value`, as keys are. The warm-up is applied as the summary does:
event rows and runs by their event's arrival, steps by their enqueue time.
"""
from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from flowsim.expr import compile_expr, key_value
from flowsim.results.metric import LATENCIES, ArrayDist, NotCaptured, Stats, Where
from flowsim.results.metrics import WORK_KINDS
from flowsim.results.streaming import CHUNK, LARGEST, RELATIVE_ACCURACY, SMALLEST

if TYPE_CHECKING:
    from flowsim.results.recorder import Recorder
    from flowsim.results.result import Result
    from flowsim.results.streaming import SummaryRecorder
    from flowsim.scenario.model import Scenario


class Capture:
    """Key expressions and the values they took: ``codes(event)`` numbers each value
    (0, 1, 2... in first-seen order, per expression). An event's codes are kept in its
    expression cache (``Event.cache``, under this capture), as its expressions' values
    are: its event rows, its run and the run's steps ask for them again."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self._exprs = [compile_expr(p) for p in self.paths]
        self.values: list[list[str]] = [[] for _ in self.paths]
        self.index: list[dict[str, int]] = [{} for _ in self.paths]

    def codes(self, event: Any) -> tuple[int, ...]:
        cache = event.cache
        codes = cache.get(self)
        if codes is None:
            codes = cache[self] = self._codes(event)
        return codes

    def _codes(self, event: Any) -> tuple[int, ...]:
        out = []
        for expr, index, values in zip(self._exprs, self.index, self.values):
            v = key_value(expr, event)
            code = index.get(v)
            if code is None:
                code = index[v] = len(values)
                values.append(v)
            out.append(code)
        return tuple(out)


# --- with tables ---------------------------------------------------------------------------------

class TaggingRecorder:
    """The tables' recorder, with the codes of every row's values kept beside it."""

    def __init__(self, inner: "Recorder", capture: Capture) -> None:
        self.inner = inner
        self.capture = capture
        self.set_outcome = inner.set_outcome
        self.tables = inner.tables
        n = len(capture.paths)
        self._events = [array("i") for _ in range(n)]
        self._runs = [array("i") for _ in range(n)]
        self._steps = [array("i") for _ in range(n)]
        self._seq = array("q")

    def event_row(self, event: Any, function_id: str, outcome: str = "", run_id: str = "",
                  reason: str = "") -> int:
        row = self.inner.event_row(event, function_id, outcome, run_id, reason)
        for column, code in zip(self._events, self.capture.codes(event)):
            column.append(code)
        return row

    def run_row(self, run: Any, status: str) -> None:
        self.inner.run_row(run, status)
        self._seq.append(run.seq)
        for column, code in zip(self._runs, self.capture.codes(run.event)):
            column.append(code)

    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str,
                 waits: dict[str, float] | None) -> None:
        self.inner.step_row(run, step, kind, attempt, enqueued_at, started_at, ended_at, status, waits)
        for column, code in zip(self._steps, self.capture.codes(run.event)):
            column.append(code)

    def slices(self) -> "Tagged":
        """The codes, aligned with the tables' rows (runs in their table's order, by seq)."""
        order = np.argsort(np.frombuffer(self._seq, dtype=np.int64), kind="stable")

        def arrays(columns: list[array], order: np.ndarray | None = None) -> dict[str, np.ndarray]:
            out = {}
            for path, column in zip(self.capture.paths, columns):
                codes = np.frombuffer(column, dtype=np.int32) if len(column) else np.zeros(0, np.int32)
                out[path] = codes[order] if order is not None else codes.copy()
            return out
        return Tagged(self.capture, arrays(self._events), arrays(self._runs, order), arrays(self._steps))


class Tagged:
    """The captured codes of a result with tables; :meth:`source` computes from them."""

    def __init__(self, capture: Capture, events: dict[str, np.ndarray], runs: dict[str, np.ndarray],
                 steps: dict[str, np.ndarray]) -> None:
        self.capture = capture
        self.events, self.runs, self.steps = events, runs, steps
        self._source: TableSource | None = None

    def source(self, result: "Result") -> "TableSource":
        if self._source is None:
            self._source = TableSource(result, self)
        return self._source


class _Units:
    """Rows (or cells) with their function's index and each expression's value code."""

    __slots__ = ("fn", "codes")

    def __init__(self, fn: np.ndarray, codes: dict[str, np.ndarray]) -> None:
        self.fn = fn
        self.codes = codes

    def group_of(self, where: Where, path: str | None, functions: dict[str, int],
                 index: dict[str, dict[str, int]]) -> np.ndarray:
        """Per unit, the code of ``path``'s value (0 without ``path``), -1 when ``where``
        leaves it out."""
        for p in [q for q, _ in where.paths] + ([path] if path else []):
            if p not in self.codes:
                raise NotCaptured(p)
        keep = np.ones(len(self.fn), dtype=bool)
        if where.function is not None:
            keep &= self.fn == functions.get(where.function, -1)
        for p, v in where.paths:
            code = index[p].get(v)
            keep &= False if code is None else self.codes[p] == code
        gid = self.codes[path].astype(np.int64) if path else np.zeros(len(self.fn), dtype=np.int64)
        gid[~keep] = -1
        return gid


def _split(gid: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """``values`` by group (the rows with ``gid`` -1 left out), each in row order."""
    keep = np.flatnonzero(gid >= 0)
    g = gid[keep]
    order = np.argsort(g, kind="stable")
    g, rows = g[order], keep[order]
    if not len(g):
        return {}
    cuts = np.flatnonzero(np.diff(g)) + 1
    return {int(g[a]): values[rows[a:b]] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(g)])}


class TableSource:
    """Slices of a result's tables by function and captured values (exact)."""

    def __init__(self, result: "Result", tagged: Tagged) -> None:
        w = result.warmup
        self.span = max(result.horizon - w, 0.0)
        ids = [f.id for f in result.scenario.functions]
        self.functions = {f: i for i, f in enumerate(ids)}
        self.index = dict(zip(tagged.capture.paths, tagged.capture.index))
        self.values = dict(zip(tagged.capture.paths, tagged.capture.values))
        ev, runs, steps = result.events, result.runs, result.steps
        for table, codes in ((ev, tagged.events), (runs, tagged.runs), (steps, tagged.steps)):
            if any(len(c) != len(table) for c in codes.values()):
                raise RuntimeError("captured values out of step with the tables (an engine bug)")

        def fn_codes(frame: pd.DataFrame) -> np.ndarray:
            return pd.Categorical(frame["function_id"], categories=ids).codes.astype(np.int64)

        def units(frame: pd.DataFrame, codes: dict[str, np.ndarray], keep: np.ndarray) -> _Units:
            return _Units(fn_codes(frame)[keep], {p: c[keep] for p, c in codes.items()})

        keep = (ev["at"] >= w).to_numpy() if w else np.ones(len(ev), dtype=bool)
        self.ev = units(ev, tagged.events, keep)
        self.outcome, self.outcome_names = pd.factorize(ev["outcome"].to_numpy()[keep], sort=True)
        keep = (runs["event_at"] >= w).to_numpy() if w else np.ones(len(runs), dtype=bool)
        self.rn = units(runs, tagged.runs, keep)
        started, ended, arrived = (runs[c].to_numpy(dtype=float)[keep] for c in ("started_at", "ended_at", "event_at"))
        self.completed = (runs["status"].to_numpy()[keep] == "completed")
        self.start = started - arrived
        self.end_to_end = np.where(self.completed, ended - arrived, np.nan)
        keep = (steps["kind"].isin(WORK_KINDS) & steps["started_at"].notna()).to_numpy()
        if w:
            keep = keep & (steps["enqueued_at"] >= w).to_numpy()
        self.st = units(steps, tagged.steps, keep)
        self.queue_wait = (steps["started_at"].to_numpy(dtype=float) - steps["enqueued_at"].to_numpy(dtype=float))[keep]
        self._groups: dict[tuple[Where, str | None], dict[int, Stats]] = {}

    def stats(self, where: Where) -> Stats:
        return self._by(where, None).get(0) or _EMPTY

    def groups(self, where: Where, path: str) -> dict[str, Stats]:
        values = self.values.get(path)
        if values is None:
            raise NotCaptured(path)
        return {values[code]: s for code, s in self._by(where, path).items()}

    def _by(self, where: Where, path: str | None) -> dict[int, Stats]:
        key = (where, path)
        if key not in self._groups:
            self._groups[key] = self._compute(where, path)
        return self._groups[key]

    def _compute(self, where: Where, path: str | None) -> dict[int, Stats]:
        g_ev, g_rn, g_st = (u.group_of(where, path, self.functions, self.index) for u in (self.ev, self.rn, self.st))
        k = len(self.outcome_names)
        by_outcome = _split(g_ev, self.outcome)
        runs = _split(g_rn, self.completed)
        start = _split(np.where(np.isnan(self.start), -1, g_rn), self.start)
        e2e = _split(np.where(np.isnan(self.end_to_end), -1, g_rn), self.end_to_end)
        waits = _split(g_st, self.queue_wait)
        out = {}
        for code in sorted({*by_outcome, *runs, *waits}):
            counts = np.bincount(by_outcome[code], minlength=k) if code in by_outcome else np.zeros(k, np.int64)
            done = runs.get(code)
            out[code] = Stats({str(n): int(c) for n, c in zip(self.outcome_names, counts) if c},
                              0 if done is None else len(done), 0 if done is None else int(done.sum()),
                              {"start_latency": ArrayDist(start.get(code, _NONE)),
                               "queue_wait": ArrayDist(waits.get(code, _NONE)),
                               "end_to_end_latency": ArrayDist(e2e.get(code, _NONE))})
        return out


_NONE = np.zeros(0)
_EMPTY = Stats({}, 0, 0, {lat: ArrayDist(_NONE) for lat in LATENCIES})


# --- summary-only --------------------------------------------------------------------------------

_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LN_GAMMA = math.log(_GAMMA)
_I0 = math.ceil(math.log(SMALLEST) / _LN_GAMMA)
_NB = math.ceil(math.log(LARGEST) / _LN_GAMMA) - _I0 + 1       # buckets per sign
SLOTS = 2 * _NB + 1                                               # negatives, zero, positives
COMPACT = 1 << 16       # bucket entries folded before they are merged into one sorted array, at least


def bucket(values: np.ndarray) -> np.ndarray:
    """The bucket of each value, in value order, as :class:`flowsim.results.streaming.Sketch` numbers them."""
    size = np.abs(values)
    index = np.ceil(np.log(np.maximum(size, SMALLEST)) * (1 / _LN_GAMMA)).astype(np.int64)
    np.clip(index, _I0, _I0 + _NB - 1, out=index)
    slot = np.where(values > 0, index + (_NB + 1 - _I0), (_NB - 1 + _I0) - index)
    slot[size < SMALLEST] = _NB
    return slot


def _representative(slot: int) -> float:
    if slot == _NB:
        return 0.0
    i = (slot - _NB - 1 if slot > _NB else _NB - 1 - slot) + _I0
    value = 2 * _GAMMA ** i / (1 + _GAMMA)
    return value if slot > _NB else -value


class SketchDist:
    """A distribution from a sparse sketch: its count, sum, exact min and max, and the
    counts of its non-empty buckets; percentiles as ``Sketch.distribution`` gives them."""

    __slots__ = ("count", "total", "low", "high", "slots", "counts", "_cumulative")

    def __init__(self, count: int, total: float, low: float, high: float, slots: np.ndarray,
                 counts: np.ndarray) -> None:
        self.count, self.total, self.low, self.high = count, total, low, high
        self.slots, self.counts = slots, counts
        self._cumulative: np.ndarray | None = None

    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def percentile(self, p: int) -> float:
        if not self.count:
            return math.nan
        h = (self.count - 1) * p / 100
        lo = math.floor(h)
        low, high = self._value(lo), self._value(min(lo + 1, self.count - 1))
        return float(low + (high - low) * (h - lo))

    def _value(self, rank: int) -> float:
        if rank == 0:
            return self.low
        if rank == self.count - 1:
            return self.high
        if self._cumulative is None:
            self._cumulative = np.cumsum(self.counts)
        slot = int(self.slots[np.searchsorted(self._cumulative, rank, side="right")])
        return min(max(_representative(slot), self.low), self.high)


class CellSketches:
    """One sparse sketch per cell: ``add(cell, value)`` buffers, :meth:`fold` folds the
    buffer into per-cell count, sum, min and max and into (cell, bucket) counts."""

    def __init__(self) -> None:
        self._cells = array("q")
        self._values = array("d")
        self.count = np.zeros(0, np.int64)
        self.total = np.zeros(0)
        self.low = np.zeros(0)
        self.high = np.zeros(0)
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending = 0
        self.keys = np.zeros(0, np.int64)        # cell * SLOTS + bucket, sorted
        self.counts = np.zeros(0, np.int64)

    def add(self, cell: int, value: float) -> None:
        self._cells.append(cell)
        self._values.append(value)

    def fold(self, cells: int) -> None:
        """Fold the buffer in; ``cells``: how many cells exist now."""
        grow = cells - len(self.count)
        if grow > 0:
            self.count = np.r_[self.count, np.zeros(grow, np.int64)]
            self.total = np.r_[self.total, np.zeros(grow)]
            self.low = np.r_[self.low, np.full(grow, math.inf)]
            self.high = np.r_[self.high, np.full(grow, -math.inf)]
        if not self._values:
            return
        cell = np.frombuffer(self._cells, dtype=np.int64).copy()
        values = np.frombuffer(self._values, dtype=np.float64).copy()
        self._cells, self._values = array("q"), array("d")
        self.count += np.bincount(cell, minlength=cells)
        self.total += np.bincount(cell, weights=values, minlength=cells)
        np.minimum.at(self.low, cell, values)
        np.maximum.at(self.high, cell, values)
        keys, counts = np.unique(cell * SLOTS + bucket(values), return_counts=True)
        self._parts.append((keys, counts))
        self._pending += len(keys)
        if self._pending > max(COMPACT, len(self.keys)):     # geometric: amortized O(log) merges per entry
            self.compact()

    def compact(self) -> None:
        """Merge the folded parts into ``keys`` and ``counts``."""
        if not self._parts:
            return
        keys = np.concatenate([self.keys, *(k for k, _ in self._parts)])
        counts = np.concatenate([self.counts, *(c for _, c in self._parts)])
        self.keys, inverse = np.unique(keys, return_inverse=True)
        self.counts = np.bincount(inverse, weights=counts).astype(np.int64)
        self._parts, self._pending = [], 0

    def merged(self, gid: np.ndarray) -> dict[int, SketchDist]:
        """Per group of cells (``gid`` per cell, -1 left out), the merged distribution."""
        keep = gid >= 0
        groups = np.unique(gid[keep])
        if not len(groups) or not len(self.count):
            return {}
        n = int(groups.max()) + 1
        g = np.where(keep, gid, n)
        count = np.bincount(g, weights=self.count, minlength=n + 1)[:n].astype(np.int64)
        total = np.bincount(g, weights=self.total, minlength=n + 1)[:n]
        low = np.full(n + 1, math.inf)
        high = np.full(n + 1, -math.inf)
        np.minimum.at(low, g, self.low)
        np.maximum.at(high, g, self.high)
        kg = g[self.keys // SLOTS]
        sel = kg < n
        keys, inverse = np.unique(kg[sel] * SLOTS + self.keys[sel] % SLOTS, return_inverse=True)
        counts = np.bincount(inverse, weights=self.counts[sel]).astype(np.int64)
        bounds = np.searchsorted(keys, np.arange(n + 1) * SLOTS)
        return {int(c): SketchDist(int(count[c]), float(total[c]), float(low[c]), float(high[c]),
                                   keys[bounds[c]:bounds[c + 1]] % SLOTS, counts[bounds[c]:bounds[c + 1]])
                for c in groups if count[c]}


class Space:
    """The cells of one set of key expressions: one per function and combination of
    their values, with what the rows of that cell held."""

    def __init__(self, paths: tuple[int, ...]) -> None:
        self.paths = paths                            # indices into the capture's expressions
        self.cells: dict[tuple[int, ...], int] = {}   # (function index, *codes) -> cell
        self.outcomes: dict[tuple[int, str], int] = {}
        self.runs: list[int] = []
        self.completed: list[int] = []
        self.start, self.queue_wait, self.end_to_end = CellSketches(), CellSketches(), CellSketches()
        self.sketches = {"start_latency": self.start, "queue_wait": self.queue_wait,
                         "end_to_end_latency": self.end_to_end}

    def cell(self, fn: int, codes: tuple[int, ...]) -> int:
        key = (fn, *(codes[i] for i in self.paths))
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = len(self.runs)
            self.runs.append(0)
            self.completed.append(0)
        return cell

    def fold(self) -> None:
        for sketch in self.sketches.values():
            sketch.fold(len(self.runs))


class FoldingRecorder:
    """The summary-only recorder, with every row also folded into the cells of each
    :class:`Space` (see the module docstring)."""

    def __init__(self, inner: "SummaryRecorder", capture: Capture, spaces: Sequence[Sequence[str]],
                 scenario: "Scenario", warmup: float = 0.0) -> None:
        self.inner = inner
        self.capture = capture
        self.tables = inner.tables
        self.warmup = warmup
        self.functions = {f.id: i for i, f in enumerate(scenario.functions)}
        self.spaces = [Space(tuple(capture.paths.index(p) for p in paths)) for paths in spaces]
        self._pending: dict[int, tuple[int, ...] | None] = {}     # open event row -> its cells
        self._until_fold = CHUNK

    def _cells(self, function_id: str, event: Any) -> tuple[int, ...]:
        """The cell of each space for ``event``'s rows of ``function_id`` (kept in its cache too)."""
        key = (self, function_id)
        cache = event.cache
        cells = cache.get(key)
        if cells is None:
            codes = self.capture.codes(event)
            fn = self.functions[function_id]
            cells = cache[key] = tuple(space.cell(fn, codes) for space in self.spaces)
        return cells

    def _tick(self) -> None:
        self._until_fold -= 1
        if not self._until_fold:
            self._until_fold = CHUNK
            for space in self.spaces:
                space.fold()

    def event_row(self, event: Any, function_id: str, outcome: str = "", run_id: str = "",
                  reason: str = "") -> int:
        row = self.inner.event_row(event, function_id, outcome, run_id, reason)
        cells = self._cells(function_id, event) if not self.warmup or event.at >= self.warmup else None
        if not outcome:
            self._pending[row] = cells
        elif cells is not None:
            self._outcome(cells, outcome)
        return row

    def set_outcome(self, row: int, outcome: str, run_id: str | None = None, reason: str = "",
                    key: str = "") -> None:
        self.inner.set_outcome(row, outcome, run_id, reason, key)
        cells = self._pending.pop(row)
        if cells is not None:
            self._outcome(cells, outcome)

    def _outcome(self, cells: tuple[int, ...], outcome: str) -> None:
        for space, cell in zip(self.spaces, cells):
            k = (cell, outcome)
            space.outcomes[k] = space.outcomes.get(k, 0) + 1

    def run_row(self, run: Any, status: str) -> None:
        self.inner.run_row(run, status)
        event = run.event
        if self.warmup and event.at < self.warmup:
            return
        self._tick()
        started = run.started_at
        completed = status == "completed"
        for space, cell in zip(self.spaces, self._cells(run.fn.spec.id, event)):
            space.runs[cell] += 1
            if started is not None:
                space.start.add(cell, started - event.at)
            if completed:
                space.completed[cell] += 1
                space.end_to_end.add(cell, run.ended_at - event.at)

    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str,
                 waits: dict[str, float] | None) -> None:
        self.inner.step_row(run, step, kind, attempt, enqueued_at, started_at, ended_at, status, waits)
        if started_at is None or kind not in WORK_KINDS or (self.warmup and enqueued_at < self.warmup):
            return
        self._tick()
        for space, cell in zip(self.spaces, self._cells(run.fn.spec.id, run.event)):
            space.queue_wait.add(cell, started_at - enqueued_at)

    def slices(self) -> "Folded":
        """The cells, folded; event rows still open count with outcome ``""`` (as in the summary)."""
        for cells in self._pending.values():
            if cells is not None:
                self._outcome(cells, "")
        self._pending.clear()
        for space in self.spaces:
            space.fold()
            for sketch in space.sketches.values():
                sketch.compact()
        return Folded(self.capture, self.spaces, self.functions)


class Folded:
    """The folded cells of a summary-only result; :meth:`source` computes from them."""

    def __init__(self, capture: Capture, spaces: list[Space], functions: dict[str, int]) -> None:
        self.capture = capture
        self.spaces = spaces
        self.functions = functions
        self._source: FoldedSource | None = None

    def source(self, result: "Result") -> "FoldedSource":
        if self._source is None:
            self._source = FoldedSource(self, max(result.horizon - result.warmup, 0.0))
        return self._source


class FoldedSource:
    """Slices of a summary-only result, from the space that holds the expressions asked for."""

    def __init__(self, folded: Folded, span: float) -> None:
        self.folded = folded
        self.span = span
        capture = folded.capture
        self.index = dict(zip(capture.paths, capture.index))
        self.values = dict(zip(capture.paths, capture.values))
        self._groups: dict[tuple[Where, str | None], dict[int, Stats]] = {}

    def stats(self, where: Where) -> Stats:
        return self._by(where, None).get(0) or _EMPTY

    def groups(self, where: Where, path: str) -> dict[str, Stats]:
        return {self.values[path][code]: s for code, s in self._by(where, path).items()}

    def _space(self, paths: set[str]) -> Space:
        """The smallest space folded over every one of ``paths``."""
        names = self.folded.capture.paths
        fits = [s for s in self.folded.spaces if paths <= {names[i] for i in s.paths}]
        if not fits:
            raise NotCaptured(min(paths - set(names), default=min(paths)))
        return min(fits, key=lambda s: len(s.paths))

    def _by(self, where: Where, path: str | None) -> dict[int, Stats]:
        key = (where, path)
        if key not in self._groups:
            self._groups[key] = self._compute(where, path)
        return self._groups[key]

    def _compute(self, where: Where, path: str | None) -> dict[int, Stats]:
        space = self._space({p for p, _ in where.paths} | ({path} if path else set()))
        names = self.folded.capture.paths
        keys = np.array(list(space.cells), dtype=np.int64).reshape(len(space.cells), 1 + len(space.paths))
        units = _Units(keys[:, 0], {names[i]: keys[:, 1 + j] for j, i in enumerate(space.paths)})
        gid = units.group_of(where, path, self.folded.functions, self.index)
        outcomes: dict[int, dict[str, int]] = {}
        for (cell, outcome), count in space.outcomes.items():
            g = int(gid[cell])
            if g >= 0:
                mine = outcomes.setdefault(g, {})
                mine[outcome] = mine.get(outcome, 0) + count
        n = int(gid.max()) + 1 if len(gid) else 0
        g = np.where(gid >= 0, gid, n)
        runs = np.bincount(g, weights=np.asarray(space.runs, dtype=float), minlength=n + 1)[:n].astype(np.int64)
        completed = np.bincount(g, weights=np.asarray(space.completed, dtype=float), minlength=n + 1)[:n]
        dists = {lat: space.sketches[lat].merged(gid) for lat in LATENCIES}
        present = sorted({*outcomes, *np.flatnonzero(runs).tolist(), *dists["queue_wait"]})
        return {c: Stats(outcomes.get(c, {}), int(runs[c]), int(completed[c]),
                         {lat: dists[lat].get(c, _NO_SKETCH) for lat in LATENCIES})
                for c in present}


_NO_SKETCH = SketchDist(0, 0.0, math.nan, math.nan, np.zeros(0, np.int64), np.zeros(0, np.int64))


def recording(inner: Any, metrics: Sequence[Any], scenario: "Scenario", warmup: float, tables: bool) -> Any:
    """The recorder to simulate with: ``inner`` itself when ``metrics`` (texts or parsed
    metrics) read no key expression, else ``inner`` wrapped to capture what they read."""
    from flowsim.results.metric import parse, paths_of
    spaces: list[tuple[str, ...]] = []
    for m in metrics:
        paths = paths_of(parse(m))
        if paths and set(paths) not in [set(s) for s in spaces]:
            spaces.append(paths)
    if not spaces:
        return inner
    capture = Capture(list(dict.fromkeys(p for s in spaces for p in s)))
    if tables:
        return TaggingRecorder(inner, capture)
    return FoldingRecorder(inner, capture, spaces, scenario, warmup)
