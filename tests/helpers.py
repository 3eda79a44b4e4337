"""Small builders shared by the tests: scenarios from explicit events, step lookups."""
from __future__ import annotations

from typing import Any

import pandas as pd

import flowsim


def scenario(functions: list[dict[str, Any]], events: list[dict[str, Any]] | None = None, *,
             horizon: str | float = "1h", platform: Any = "ideal", traffic: list[dict[str, Any]] | None = None,
             **extra: Any) -> dict[str, Any]:
    """A scenario dict with explicit events (``at`` in seconds)."""
    return {"name": "t", "seed": 1, "horizon": horizon, "platform": platform, "functions": functions,
            "traffic": traffic if traffic is not None else [{"events": events or []}], **extra}


def ev(at: float, name: str = "go", id: str | None = None, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"at": at, "name": name, "data": data}
    if id is not None:
        out["id"] = id
    return out


def run(sc: dict[str, Any], seed: int | None = None) -> flowsim.Result:
    return flowsim.simulate(flowsim.load_scenario(sc), seed)


def step_times(result: flowsim.Result, kind: str = "run") -> list[tuple[str, str, int, float, float]]:
    """(event id of the run, step, attempt, started_at, ended_at) of every started step, in start order."""
    steps = result.steps[(result.steps["kind"] == kind) & result.steps["started_at"].notna()]
    ev_of = {r.run_id: r.event_ids for r in result.runs.itertuples()}
    rows = [(_first_event(ev_of[s.run_id]), s.step, int(s.attempt), s.started_at, s.ended_at)
            for s in steps.itertuples()]
    return sorted(rows, key=lambda r: (r[3], r[0], r[1]))


def _first_event(event_ids: str) -> str:
    import json
    return json.loads(event_ids)[0]


def by_event(result: flowsim.Result) -> pd.DataFrame:
    """runs indexed by the id of their first event."""
    runs = result.runs.copy()
    runs["event"] = runs["event_ids"].map(_first_event)
    return runs.set_index("event")
