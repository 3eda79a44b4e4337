"""Columnar buffers of what happened, turned into tidy DataFrames at the end.

The engine records facts as they happen (an event's outcome for a function, a run's
life, each step attempt); metrics are computed afterwards from these tables, never
inside the engine. Text columns are plain lists, one per field; the numbers of a row
(times, the run's sequence number, the attempt) are packed with :mod:`struct` into one
``bytearray`` per table, 8 bytes each, NaN for a time not known. Recording a row is a
few ``append`` calls and one ``pack``, and no float is kept as a Python object (32 bytes
with its list slot; they were most of the memory of a long run). ``tables()`` wraps
each buffer as a column with no per-value conversion (pandas' inference only where a
column holds something other than strings), releasing the buffers as it goes.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from struct import Struct
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, is_numeric_dtype

EVENT_COLUMNS = ("event_id", "event_name", "ts", "at", "function_id", "outcome", "run_id", "key", "reason")
RUN_COLUMNS = ("run_id", "function_id", "event_ids", "event_at", "created_at", "started_at", "ended_at",
               "status", "cancel_reason", "priority_factor", "keys")
STEP_COLUMNS = ("run_id", "function_id", "step", "kind", "attempt", "enqueued_at", "started_at", "ended_at",
                "status", "blocked_by", "waits")

# Every outcome an (event, function) pair can have (the contract of events.csv).
OUTCOMES = ("run", "filtered", "rate_limited", "duplicate", "debounced", "batched", "singleton_skipped",
            "error", "pending")
STATUSES = ("completed", "failed", "cancelled", "skipped", "pending")

_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode
_NAN = float("nan")

# The packed numbers of a row, in this order. Runs carry their sequence number first (the
# runs table is in creation order), steps their attempt; every other field is a float.
_EVENT_NUMBERS = ("ts", "at")
_RUN_NUMBERS = ("seq", "event_at", "created_at", "started_at", "ended_at", "priority_factor")
_STEP_NUMBERS = ("attempt", "enqueued_at", "started_at", "ended_at")
_INTEGERS = ("seq", "attempt")
_PACK_EVENT = Struct("=2d").pack
_PACK_RUN = Struct("=q5d").pack
_PACK_STEP = Struct("=q3d").pack


def blocked_by(waits: dict[str, float] | None) -> str:
    """The reason that kept a step waiting longest (ties: the greater name), or ``""``."""
    if not waits:
        return ""
    if len(waits) == 1:
        return next(iter(waits))
    return max(waits.items(), key=lambda kv: (kv[1], kv[0]))[0]


def waits_json(waits: dict[str, float] | None) -> str:
    """``json.dumps(waits, sort_keys=True)`` (reason → seconds, finite floats), or ``""``."""
    if not waits:
        return ""
    if len(waits) == 1:       # the usual case: one reason
        (k, v), = waits.items()
        if type(k) is str and type(v) is float and v - v == 0.0:
            return "{" + encode_basestring_ascii(k) + ": " + float.__repr__(v) + "}"
    if all(type(k) is str and isinstance(v, float) and v - v == 0.0 for k, v in waits.items()):
        return "{" + ", ".join(f"{encode_basestring_ascii(k)}: {float.__repr__(v)}"
                               for k, v in sorted(waits.items())) + "}"
    return _SORTED_JSON(waits)


# Text columns whose every value is a ``str`` the recorder makes or the engine passes as a
# constant (run ids, JSON, outcomes, statuses, kinds): wrapped without looking at each value.
_ALWAYS_STR = frozenset({"run_id", "event_ids", "keys", "waits", "outcome", "status", "kind"})


def _text(name: str, values: np.ndarray) -> pd.Series:
    """Text column ``name`` as pandas builds it from the values, then ``fillna("").astype(str)``
    unless it inferred numbers: an all-``str`` column is wrapped as it is (no copy, no
    conversion); any other (a ``None``, ids that are numbers, no rows) goes that general way."""
    if values.size and (name in _ALWAYS_STR or infer_dtype(values, skipna=False) == "string"):
        return pd.Series(values, dtype=str, copy=False)
    column = pd.DataFrame({name: values.tolist()})[name]
    return column if is_numeric_dtype(column) else column.fillna("").astype(str)


class _Table:
    """One table's buffers: a list per text column, and the numbers of each row packed
    into one ``bytearray``, 8 bytes each in the order of ``numbers``."""

    __slots__ = ("columns", "numbers", "text", "packed")

    def __init__(self, columns: tuple[str, ...], numbers: tuple[str, ...]) -> None:
        self.columns = columns
        self.numbers = numbers
        self.text: dict[str, list[Any]] = {c: [] for c in columns if c not in numbers}
        self.packed = bytearray()

    def frame(self, order_by: str | None = None) -> pd.DataFrame:
        """The table, its rows sorted by the number ``order_by`` if given. Empties the
        buffers, each as soon as it is converted, so that the rows are never held twice."""
        packed, self.packed = self.packed, bytearray()
        floats = np.frombuffer(packed, dtype=np.float64).reshape(-1, len(self.numbers))
        ints = floats.view(np.int64)
        views = {name: (ints if name in _INTEGERS else floats)[:, i] for i, name in enumerate(self.numbers)}
        order = None
        if order_by is not None:
            key = views.pop(order_by)
            if len(key) > 1 and not (key[1:] > key[:-1]).all():
                order = np.argsort(key, kind="stable")
            del key
        numbers = {name: column.copy() if order is None else column[order] for name, column in views.items()}
        del packed, floats, ints, views      # the buffer, released now
        data: dict[str, Any] = {}
        for name in self.columns:
            if name in numbers:
                data[name] = numbers[name]
                continue
            strings, self.text[name] = self.text[name], []
            array = np.fromiter(strings, dtype=object, count=len(strings))
            del strings     # the list, released now rather than at the end
            data[name] = _text(name, array if order is None else array[order])
        return pd.DataFrame(data, columns=list(self.columns), copy=False)


class Recorder:
    """Append-only columns for the three tables."""

    def __init__(self) -> None:
        self._tables = (_Table(EVENT_COLUMNS, _EVENT_NUMBERS), _Table(RUN_COLUMNS, _RUN_NUMBERS),
                        _Table(STEP_COLUMNS, _STEP_NUMBERS))
        self._keys_json: dict[tuple[tuple[str, str], ...], str] = {}
        self._wait_prefix: dict[str, str] = {}      # reason → its JSON up to the seconds: '{"reason": '
        # The buffers of each table in the order its row method fills them.
        self._events, self._runs, self._steps = ((*t.text.values(), t.packed) for t in self._tables)
        # The columns an outcome fills in later, by row.
        self._outcome_cols = tuple(self._tables[0].text[c] for c in ("outcome", "run_id", "key", "reason"))

    # -- events ---------------------------------------------------------------------
    def event_row(self, event: Any, function_id: str, outcome: str = "", run_id: str = "",
                  reason: str = "") -> int:
        """Add the row of ``event`` for ``function_id``, with its outcome if known (else
        ``set_outcome`` gives it later, once); return its index."""
        ids, names, functions, outcomes, run_ids, keys, reasons, numbers = self._events
        ids.append(event.id)
        names.append(event.name)
        functions.append(function_id)
        outcomes.append(outcome)
        run_ids.append(run_id)
        keys.append("")
        reasons.append(reason)
        numbers += _PACK_EVENT(event.ts, event.at)
        return len(outcomes) - 1

    def set_outcome(self, row: int, outcome: str, run_id: str | None = None, reason: str = "",
                    key: str = "") -> None:
        """Give row ``row`` its outcome (once: a second one is an engine bug)."""
        outcomes, run_ids, keys, reasons = self._outcome_cols
        if outcomes[row]:
            cols = self._tables[0].text
            raise RuntimeError(f"event {cols['event_id'][row]} already has outcome {outcomes[row]} "
                               f"for {cols['function_id'][row]}; refusing {outcome}")
        outcomes[row] = outcome
        if run_id is not None:
            run_ids[row] = run_id
        if key:
            keys[row] = key
        if reason:
            reasons[row] = reason

    # -- runs -----------------------------------------------------------------------
    def run_row(self, run: Any, status: str) -> None:
        """Add ``run``'s row with ``status`` (``pending`` leaves its end unknown)."""
        ids, functions, event_ids, statuses, cancel_reasons, keys, numbers = self._runs
        ids.append(run.id)
        functions.append(run.fn.spec.id)
        events = run.events
        if len(events) == 1 and type(events[0].id) is str:      # json.dumps, without its overhead
            event_ids.append(f"[{encode_basestring_ascii(events[0].id)}]")
        else:
            event_ids.append(json.dumps([e.id for e in events]))
        statuses.append(status)
        cancel_reasons.append(run.cancel_reason)
        keys.append(self.keys_json(run.keys) if run.keys else "{}")
        started, ended = run.started_at, run.ended_at
        numbers += _PACK_RUN(run.seq, run.event.at, run.created_at, _NAN if started is None else started,
                             _NAN if ended is None or status == "pending" else ended, run.priority_factor)

    def keys_json(self, keys: dict[str, Any]) -> str:
        """``json.dumps(keys, sort_keys=True)``, memoised for string-valued keys (a few
        distinct key combinations recur over many runs)."""
        if not keys:
            return "{}"
        try:
            sig = tuple(keys.items())
            text = self._keys_json.get(sig)
        except TypeError:      # an unhashable value
            return _SORTED_JSON(keys)
        if text is None:
            text = _SORTED_JSON(keys)
            if all(type(v) is str for v in keys.values()):
                self._keys_json[sig] = text
        return text

    # -- steps ----------------------------------------------------------------------
    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str,
                 waits: dict[str, float] | None) -> None:
        """Add a step attempt's row (``None``: a time not reached); ``waits``: seconds
        waited per reason, from which ``blocked_by`` is the longest."""
        ids, functions, steps, kinds, statuses, blocked, waits_col, numbers = self._steps
        ids.append(run.id)
        functions.append(run.fn.spec.id)
        steps.append(step)
        kinds.append(kind)
        statuses.append(status)
        if not waits:
            blocked.append("")
            waits_col.append("")
        elif len(waits) == 1:       # the usual wait: one reason, its JSON from a prefix kept per reason
            (reason, seconds), = waits.items()
            blocked.append(reason)
            prefix = self._wait_prefix.get(reason)
            if prefix is not None and type(seconds) is float and seconds - seconds == 0.0:
                waits_col.append(prefix + float.__repr__(seconds) + "}")
            else:
                waits_col.append(waits_json(waits))
                if type(reason) is str:
                    self._wait_prefix[reason] = "{" + encode_basestring_ascii(reason) + ": "
        else:
            blocked.append(blocked_by(waits))
            waits_col.append(waits_json(waits))
        numbers += _PACK_STEP(attempt, enqueued_at, _NAN if started_at is None else started_at,
                              _NAN if ended_at is None else ended_at)

    # -- tables ---------------------------------------------------------------------
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The three tables. Consumes the buffers: each is released as soon as it is
        converted, so that the peak memory holds one copy of the rows, not two."""
        self._events = self._runs = self._steps = self._outcome_cols = ()
        events, runs, steps = self._tables
        return events.frame(), runs.frame(order_by="seq"), steps.frame()
