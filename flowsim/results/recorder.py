"""Columnar buffers of what happened, turned into tidy DataFrames at the end.

The engine records facts as they happen (an event's outcome for a function, a run's
life, each step attempt); metrics are computed afterwards from these tables, never
inside the engine. Columns are plain lists, one per field, so recording a row is a
few appends and building a DataFrame is one pass.
"""
from __future__ import annotations

import json
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


class Recorder:
    """Append-only columns for the three tables."""

    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {c: [] for c in EVENT_COLUMNS}
        self.runs: dict[str, list[Any]] = {c: [] for c in RUN_COLUMNS}
        self.steps: dict[str, list[Any]] = {c: [] for c in STEP_COLUMNS}
        self._run_seq: list[int] = []

    # -- events ---------------------------------------------------------------------
    def event_row(self, event: Any, function_id: str) -> int:
        """Add the row of ``event`` for ``function_id`` with no outcome yet; return its index."""
        cols = self.events
        cols["event_id"].append(event.id)
        cols["event_name"].append(event.name)
        cols["ts"].append(event.ts)
        cols["at"].append(event.at)
        cols["function_id"].append(function_id)
        cols["outcome"].append(None)
        cols["run_id"].append(None)
        cols["key"].append("")
        cols["reason"].append("")
        return len(cols["outcome"]) - 1

    def set_outcome(self, row: int, outcome: str, run_id: str | None = None, reason: str = "",
                    key: str = "") -> None:
        cols = self.events
        if cols["outcome"][row] is not None:
            raise RuntimeError(f"event {cols['event_id'][row]} already has outcome {cols['outcome'][row]} "
                               f"for {cols['function_id'][row]}; refusing {outcome}")
        cols["outcome"][row] = outcome
        cols["run_id"][row] = run_id
        cols["key"][row] = key
        cols["reason"][row] = reason

    # -- runs -----------------------------------------------------------------------
    def run_row(self, run: Any, status: str) -> None:
        cols = self.runs
        self._run_seq.append(run.seq)
        cols["run_id"].append(run.id)
        cols["function_id"].append(run.fn.spec.id)
        cols["event_ids"].append(json.dumps([e.id for e in run.events]))
        cols["event_at"].append(run.event.at)
        cols["created_at"].append(run.created_at)
        cols["started_at"].append(run.started_at)
        cols["ended_at"].append(run.ended_at if status != "pending" else None)
        cols["status"].append(status)
        cols["cancel_reason"].append(run.cancel_reason)
        cols["priority_factor"].append(run.priority_factor)
        cols["keys"].append(json.dumps(run.keys, sort_keys=True))

    # -- steps ----------------------------------------------------------------------
    def step_row(self, run: Any, step: str, kind: str, attempt: int, enqueued_at: float,
                 started_at: float | None, ended_at: float | None, status: str, blocked_by: str,
                 waits: dict[str, float] | None) -> None:
        cols = self.steps
        cols["run_id"].append(run.id)
        cols["function_id"].append(run.fn.spec.id)
        cols["step"].append(step)
        cols["kind"].append(kind)
        cols["attempt"].append(attempt)
        cols["enqueued_at"].append(enqueued_at)
        cols["started_at"].append(started_at)
        cols["ended_at"].append(ended_at)
        cols["status"].append(status)
        cols["blocked_by"].append(blocked_by)
        cols["waits"].append(json.dumps(waits, sort_keys=True) if waits else "")

    # -- tables ---------------------------------------------------------------------
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        events = pd.DataFrame(self.events, columns=list(EVENT_COLUMNS))
        runs = pd.DataFrame(self.runs, columns=list(RUN_COLUMNS))
        if len(runs):
            runs = runs.iloc[np.argsort(np.asarray(self._run_seq), kind="stable")].reset_index(drop=True)
        steps = pd.DataFrame(self.steps, columns=list(STEP_COLUMNS))
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
