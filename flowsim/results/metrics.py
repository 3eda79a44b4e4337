"""Headline metrics computed from the recorded tables (never inside the engine).

Percentiles use numpy's default (linear interpolation between order statistics).
Slot use of a concurrency constraint is the number of executing requests that hold a
slot in it, integrated over time: ``mean`` is its time average over the horizon,
``peak`` its maximum (for keyed limits, the maximum over key values).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flowsim.results.recorder import OUTCOMES, STATUSES

if TYPE_CHECKING:
    from flowsim.results.result import Result

PERCENTILES = (50, 90, 95, 99)


def distribution(values: Any) -> dict[str, float | int | None]:
    """count, mean, p50/p90/p95/p99 and max of ``values`` (NaNs dropped)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    out: dict[str, float | int | None] = {"count": int(arr.size)}
    if arr.size == 0:
        out.update({"mean": None, **{f"p{p}": None for p in PERCENTILES}, "max": None})
        return out
    out["mean"] = float(arr.mean())
    for p, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES)):
        out[f"p{p}"] = float(v)
    out["max"] = float(arr.max())
    return out


def occupancy(starts: np.ndarray, ends: np.ndarray, horizon: float) -> tuple[int, float]:
    """Peak and time-weighted mean of the number of open intervals over ``[0, horizon]``."""
    if len(starts) == 0:
        return 0, 0.0
    t = np.concatenate([starts, ends])
    d = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((d, t))              # at equal times, ends (-1) before starts
    t, level = t[order], np.cumsum(d[order])
    peak = int(level.max())
    mean = float(np.sum(level[:-1] * np.diff(t)) / horizon) if horizon > 0 else 0.0
    return peak, mean


def start_latency(runs: pd.DataFrame) -> pd.Series:
    """Event arrival → first step start, per started run."""
    return runs["started_at"] - runs["event_at"]


def summarize(result: "Result") -> dict[str, Any]:
    """The headline metrics of one simulation, as plain JSON-ready data."""
    events, runs, steps = result.events, result.runs, result.steps
    horizon = result.horizon
    outcomes = {o: 0 for o in OUTCOMES}
    outcomes.update({k: int(v) for k, v in events["outcome"].value_counts().sort_index().items()})
    statuses = {s: 0 for s in STATUSES}
    statuses.update({k: int(v) for k, v in runs["status"].value_counts().sort_index().items()})
    by_fn: dict[str, Any] = {}
    for fn in result.scenario.functions:
        ev = events[events["function_id"] == fn.id]
        rn = runs[runs["function_id"] == fn.id]
        by_fn[fn.id] = {
            "outcomes": {k: int(v) for k, v in ev["outcome"].value_counts().sort_index().items()},
            "runs": {k: int(v) for k, v in rn["status"].value_counts().sort_index().items()},
            "start_latency": distribution(start_latency(rn)),
        }
    completed = runs[runs["status"] == "completed"]
    work = steps[steps["kind"].isin(["run", "request"]) & steps["started_at"].notna()]
    return {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "horizon": horizon,
        "events": {"received": result.events_in, "unmatched": result.events_unmatched},
        "outcomes": outcomes,
        "runs": statuses,
        "start_latency": distribution(start_latency(runs)),
        "end_to_end_latency": distribution(completed["ended_at"] - completed["event_at"]),
        "queue_wait": distribution(work["started_at"] - work["enqueued_at"]),
        "throughput": float(len(completed) / horizon) if horizon else 0.0,
        "blocked_by": _blocked_by(steps),
        "concurrency": _slot_use(result, work),
        "functions": by_fn,
    }


def _blocked_by(steps: pd.DataFrame) -> dict[str, int]:
    """How many step attempts each reason kept waiting longest."""
    b = steps.loc[steps["blocked_by"] != "", "blocked_by"]
    return {k: int(v) for k, v in b.value_counts().sort_index().items()}


def _slot_use(result: "Result", work: pd.DataFrame) -> dict[str, dict[str, Any]]:
    horizon = result.horizon
    starts = work["started_at"].to_numpy()
    ends = work["ended_at"].fillna(horizon).to_numpy()
    out: dict[str, dict[str, Any]] = {}
    peak, mean = occupancy(starts, ends, horizon)
    out["account"] = {"limit": result.scenario.account.concurrency, "peak": peak, "mean": mean}
    keys = dict(zip(result.runs["run_id"], result.runs["keys"]))
    fn_of = work["function_id"].to_numpy()
    run_of = work["run_id"].to_numpy()
    shared: dict[str, list[tuple[str, np.ndarray]]] = {}
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        if conf is None:
            continue
        mask = fn_of == fn.id
        if conf.function_limit is not None:
            peak, mean = occupancy(starts[mask], ends[mask], horizon)
            out[f"function:{fn.id}"] = {"limit": conf.function_limit, "peak": peak, "mean": mean}
        for k in conf.keyed:
            name = (f"concurrency:{fn.id}:{k.key.text}" if k.scope == "fn"
                    else f"concurrency:{k.scope}:{k.key.text}")
            values = np.array([json.loads(keys[r]).get(k.label, "") for r in run_of[mask]], dtype=object)
            shared.setdefault(name, []).append((str(k.limit), mask, values))
    for name, parts in shared.items():
        mask = np.zeros(len(work), dtype=bool)
        values = np.empty(len(work), dtype=object)
        for _, m, v in parts:
            mask |= m
            values[m] = v
        s, e, v = starts[mask], ends[mask], values[mask]
        _, mean = occupancy(s, e, horizon)
        peak = 0
        for value in sorted(set(v.tolist())):
            sel = v == value
            peak = max(peak, occupancy(s[sel], e[sel], horizon)[0])
        limits = sorted({p[0] for p in parts}, key=int)
        out[name] = {"limit": int(limits[0]) if len(limits) == 1 else "/".join(limits),
                     "peak": peak, "mean": mean}
    return out
