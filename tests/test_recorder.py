"""The recorder's tables: packed numbers come back exactly (NaN for a time not known), runs
in creation order, text columns as pandas would build them from the values (``""`` for a
missing one; numbers inferred for ids that are all numbers), and the engine's misuse refused."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowsim.results.recorder import EVENT_COLUMNS, RUN_COLUMNS, STEP_COLUMNS, Recorder
from flowsim.traffic.event import Event

FN = SimpleNamespace(spec=SimpleNamespace(id="f"))
TIMES = {"ts", "at", "event_at", "created_at", "started_at", "ended_at", "enqueued_at", "priority_factor"}


def run(seq: int, event: Event, started: float | None, ended: float | None, keys: dict[str, Any] | None = None,
        cancel_reason: str = "") -> SimpleNamespace:
    return SimpleNamespace(id=f"r{seq}", seq=seq, fn=FN, events=[event], event=event, created_at=event.at,
                           started_at=started, ended_at=ended, cancel_reason=cancel_reason,
                           priority_factor=0.0, keys=keys or {})


def test_rows_round_trip() -> None:
    rec = Recorder()
    e1, e2, e3 = Event(0.1 + 0.2, "a", id="x"), Event(1.5, "a", id="y", ts=1.25), Event(2.0, "b", id='q"')
    rows = [rec.event_row(e, "f") for e in (e1, e2, e3)]
    rec.set_outcome(rows[0], "run", "r2")
    rec.set_outcome(rows[1], "rate_limited", None, reason="limit 1/1s", key="k1")
    # rows[2] never gets an outcome: an empty cell, as a missing value always was
    r1, r2 = run(1, e2, None, 7.0, cancel_reason="start_timeout"), run(2, e1, 0.5, 9.0, {"b": "2", "a": "1"})
    rec.step_row(r2, "s0", "run", 1, 0.3, 0.5, None, "running", {"function": 0.2})
    rec.step_row(r1, "s0", "run", 2, 1.5, None, None, "cancelled", None)
    rec.run_row(r2, "pending")        # recorded first, created second
    rec.run_row(r1, "cancelled")
    events, runs, steps = rec.tables()

    assert list(events.columns) == list(EVENT_COLUMNS)
    assert list(runs.columns) == list(RUN_COLUMNS) and list(steps.columns) == list(STEP_COLUMNS)
    assert events["at"].tolist()[0] == 0.1 + 0.2 and events["ts"].tolist()[:2] == [0.1 + 0.2, 1.25]
    assert events["outcome"].tolist() == ["run", "rate_limited", ""]
    assert events["run_id"].tolist() == ["r2", "", ""]
    assert events[["key", "reason"]].values.tolist()[1] == ["k1", "limit 1/1s"]
    assert runs["run_id"].tolist() == ["r1", "r2"]           # creation order
    assert runs["event_ids"].tolist() == ['["y"]', '["x"]']
    assert runs["keys"].tolist() == ["{}", '{"a": "1", "b": "2"}']
    assert runs["cancel_reason"].tolist() == ["start_timeout", ""]
    assert np.isnan(runs["started_at"][0]) and runs["started_at"][1] == 0.5
    assert runs["ended_at"][0] == 7.0 and np.isnan(runs["ended_at"][1])       # pending: no end yet
    assert steps["attempt"].tolist() == [1, 2]
    assert steps["waits"].tolist() == ['{"function": 0.2}', ""]
    assert np.isnan(steps["started_at"][1]) and np.isnan(steps["ended_at"]).all()
    for df in (events, runs, steps):
        for c in df.columns:
            if c == "attempt":
                assert df[c].dtype == np.int64
            elif c in TIMES:
                assert df[c].dtype == np.float64, c
            else:
                assert pd.api.types.is_string_dtype(df[c]) and df[c].map(type).eq(str).all(), c
    assert steps.to_csv(index=False).splitlines()[2] == "r1,f,s0,run,2,1.5,,,cancelled,,"


def test_ids_as_pandas_infers_them() -> None:
    """Ids that are all numbers stay a number column; a mix becomes text."""
    for ids, expected in (([1, 2], [1, 2]), ([1, "b"], ["1", "b"])):
        rec = Recorder()
        for i in ids:
            rec.set_outcome(rec.event_row(SimpleNamespace(id=i, name="e", ts=0.0, at=0.0), "f"), "filtered")
        column = rec.tables()[0]["event_id"]
        assert column.tolist() == expected
        assert pd.api.types.is_integer_dtype(column) == (expected == ids)


def test_empty_tables() -> None:
    events, runs, steps = Recorder().tables()
    assert (len(events), len(runs), len(steps)) == (0, 0, 0)
    assert list(steps.columns) == list(STEP_COLUMNS) and steps["attempt"].dtype == np.int64
    assert runs["ended_at"].dtype == np.float64
    # Text columns have the dtype pandas gives a column of no values (float64 in pandas 3, object in 2).
    no_values = pd.DataFrame({"c": []})["c"].dtype
    assert {df[c].dtype for df in (events, runs, steps) for c in ("run_id", "function_id")} == {no_values}


def test_second_outcome_refused() -> None:
    rec = Recorder()
    row = rec.event_row(Event(0.0, "e", id="x"), "f")
    rec.set_outcome(row, "run", "r1")
    with pytest.raises(RuntimeError, match="already has outcome run"):
        rec.set_outcome(row, "filtered")


def test_keys_json_does_not_confuse_equal_values() -> None:
    """1, 1.0 and True are equal dict keys in Python but not the same JSON."""
    rec = Recorder()
    assert rec.keys_json({"k": "1"}) == '{"k": "1"}'
    assert [rec.keys_json({"k": v}) for v in (1, True, 1.0, "1")] == ['{"k": 1}', '{"k": true}', '{"k": 1.0}',
                                                                      '{"k": "1"}']
    assert rec.keys_json({"k": [1]}) == '{"k": [1]}'       # unhashable: not memoised
