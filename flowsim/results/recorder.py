"""Columnar buffers of what happened, turned into tidy DataFrames at the end.

The engine records facts as they happen (an event's outcome for a function, a run's
life, each step attempt); metrics are computed afterwards from these tables, never
inside the engine. Columns are plain lists, one per field, so recording a row is a
few calls of bound ``append`` methods and building a DataFrame is one pass.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np
import pandas as pd

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


def event_ids_json(events: list[Any]) -> str:
    """``json.dumps`` of the events' ids, without its overhead for the usual single id."""
    if len(events) == 1 and type(events[0].id) is str:
        return f"[{encode_basestring_ascii(events[0].id)}]"
    return json.dumps([e.id for e in events])


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


class Recorder:
    """Append-only columns for the three tables."""

    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {c: [] for c in EVENT_COLUMNS}
        self.runs: dict[str, list[Any]] = {c: [] for c in RUN_COLUMNS}
        self.steps: dict[str, list[Any]] = {c: [] for c in STEP_COLUMNS}
        self._run_seq: list[int] = []
        self._keys_json: dict[tuple[tuple[str, str], ...], str] = {}
        # Bound ``append`` of every column, in column order: a row is one call per field.
        self._event_appends = tuple(self.events[c].append for c in EVENT_COLUMNS)
        self._run_appends = tuple(self.runs[c].append for c in RUN_COLUMNS)
        self._step_appends = tuple(self.steps[c].append for c in STEP_COLUMNS)
        # The columns an outcome fills in later, by row.
        self._outcome_cols = (self.events["outcome"], self.events["run_id"], self.events["key"],
                              self.events["reason"])

    # -- events ---------------------------------------------------------------------
    def event_row(self, event: Any, function_id: str) -> int:
        """Add the row of ``event`` for ``function_id`` with no outcome yet; return its index."""
        event_id, event_name, ts, at, function, outcome, run_id, key, reason = self._event_appends
        event_id(event.id)
        event_name(event.name)
        ts(event.ts)
        at(event.at)
        function(function_id)
        outcome(None)
        run_id(None)
        key("")
        reason("")
        return len(self._outcome_cols[0]) - 1

    def set_outcome(self, row: int, outcome: str, run_id: str | None = None, reason: str = "",
                    key: str = "") -> None:
        outcomes, run_ids, keys, reasons = self._outcome_cols
        if outcomes[row] is not None:
            cols = self.events
            raise RuntimeError(f"event {cols['event_id'][row]} already has outcome {cols['outcome'][row]} "
                               f"for {cols['function_id'][row]}; refusing {outcome}")
        outcomes[row] = outcome
        run_ids[row] = run_id
        keys[row] = key
        reasons[row] = reason

    # -- runs -----------------------------------------------------------------------
    def run_row(self, run: Any, status: str) -> None:
        run_id, function_id, event_ids, event_at, created_at, started_at, ended_at, status_, cancel_reason, \
            priority_factor, keys = self._run_appends
        self._run_seq.append(run.seq)
        run_id(run.id)
        function_id(run.fn.spec.id)
        event_ids(event_ids_json(run.events))
        event_at(run.event.at)
        created_at(run.created_at)
        started_at(run.started_at)
        ended_at(run.ended_at if status != "pending" else None)
        status_(status)
        cancel_reason(run.cancel_reason)
        priority_factor(run.priority_factor)
        keys(self.keys_json(run.keys) if run.keys else "{}")

    def keys_json(self, keys: dict[str, Any]) -> str:
        """``json.dumps(keys, sort_keys=True)``, memoised for string-valued keys (a few
        distinct key combinations recur over many runs)."""
        if not keys:
            return "{}"
        if not all(type(v) is str for v in keys.values()):
            return _SORTED_JSON(keys)
        sig = tuple(keys.items())
        text = self._keys_json.get(sig)
        if text is None:
            text = self._keys_json[sig] = _SORTED_JSON(keys)
        return text

    # -- steps ----------------------------------------------------------------------
    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str, blocked_by: str,
                 waits: dict[str, float] | None) -> None:
        a_run, a_function, a_step, a_kind, a_attempt, a_enqueued, a_started, a_ended, a_status, a_blocked, \
            a_waits = self._step_appends
        a_run(run.id)
        a_function(run.fn.spec.id)
        a_step(step)
        a_kind(kind)
        a_attempt(attempt)
        a_enqueued(enqueued_at)
        a_started(started_at)
        a_ended(ended_at)
        a_status(status)
        a_blocked(blocked_by)
        a_waits(waits_json(waits) if waits else "")

    # -- tables ---------------------------------------------------------------------
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The three tables. Consumes the buffers: each is released as soon as its
        DataFrame is built, so that the peak memory holds one copy of the rows, not two."""
        self._event_appends = self._run_appends = self._step_appends = self._outcome_cols = ()
        events = pd.DataFrame(self.events, columns=list(EVENT_COLUMNS))
        self.events = {c: [] for c in EVENT_COLUMNS}
        runs = pd.DataFrame(self.runs, columns=list(RUN_COLUMNS))
        self.runs = {c: [] for c in RUN_COLUMNS}
        if len(runs):
            runs = runs.iloc[np.argsort(np.asarray(self._run_seq), kind="stable")].reset_index(drop=True)
        self._run_seq = []
        steps = pd.DataFrame(self.steps, columns=list(STEP_COLUMNS))
        self.steps = {c: [] for c in STEP_COLUMNS}
        for df, cols in ((events, ("ts", "at")),
                         (runs, ("event_at", "created_at", "started_at", "ended_at", "priority_factor")),
                         (steps, ("enqueued_at", "started_at", "ended_at"))):
            for c in cols:
                df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        steps["attempt"] = steps["attempt"].astype("int64")
        for df in (events, runs, steps):
            for c in df.columns:
                if not pd.api.types.is_numeric_dtype(df[c]):
                    df[c] = df[c].fillna("").astype(str)
        return events, runs, steps
