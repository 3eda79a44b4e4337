"""Sweeps: the grid, the tidy tables, and identical results on every executor (serial,
local process pool, a Dask LocalCluster started here)."""
from __future__ import annotations

import pandas as pd
import pytest

from flowsim.analysis import DaskExecutor, ProcessExecutor, SerialExecutor, parse_grid, sweep
from flowsim.analysis.headline import METRICS
from flowsim.errors import ScenarioError

SCENARIO = {"name": "s", "seed": 5, "horizon": "90s", "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "go"}], "concurrency": {"limit": 1},
                           "steps": [{"run": "work", "duration": {"exponential": {"mean": "500ms"}}}]}],
            "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": "2/s"}}}],
            "variants": {"keyed": {"functions.f.concurrency": {"limit": 1, "key": "event.data.user"},
                                   "traffic.0.data": {"user": {"choice": {"a": 0.5, "b": 0.5}}}}}}
GRID = [("functions.f.concurrency", [1, 2, 4]), ("traffic.0.arrivals.poisson.rate", ["2/s", "3/s"])]


def test_sweep_tables_are_tidy():
    s = sweep(SCENARIO, GRID, 2, executor=SerialExecutor())
    assert s.settings == ["functions.f.concurrency", "traffic.0.arrivals.poisson.rate"]
    assert list(s.rows.columns[:5]) == ["point", "variant", *s.settings, "replication"]
    assert len(s.rows) == 6 * 2 and list(s.rows["point"]) == [p for p in range(6) for _ in range(2)]
    first = s.rows.iloc[0]
    assert (first["functions.f.concurrency"], first["traffic.0.arrivals.poisson.rate"]) == (1, "2/s")
    assert len(s.summary) == 6 * len(METRICS)
    # more slots, shorter waits; more traffic, more events (same seeds at every point)
    mean = s.summary[s.summary["metric"] == "mean(queue_wait)"].set_index(s.settings)["mean"]
    assert mean.loc[(1, "3/s")] > mean.loc[(2, "3/s")] > mean.loc[(4, "3/s")]
    events = s.summary[s.summary["metric"] == "events"].set_index(s.settings)["mean"]
    assert events.loc[(1, "3/s")] > events.loc[(1, "2/s")]
    assert events.loc[(1, "2/s")] == events.loc[(4, "2/s")]


def test_sweep_over_variants_applies_the_grid_on_top():
    s = sweep(SCENARIO, [("functions.f.concurrency.0.limit", [1, 2])], 2, variants=["base", "keyed"],
              executor=SerialExecutor())
    assert list(s.rows.drop_duplicates("point")["variant"]) == ["base", "base", "keyed", "keyed"]
    p99 = s.summary[s.summary["metric"] == "p99(start_latency)"].set_index(["variant", s.settings[0]])["mean"]
    assert p99.loc[("keyed", 1)] < p99.loc[("base", 1)]      # one slot per user is two slots in all


def test_same_tables_on_every_executor():
    from dask.distributed import LocalCluster
    serial = sweep(SCENARIO, GRID, 2, executor=SerialExecutor())
    seen: dict[str, list[tuple[int, int]]] = {"pool": [], "dask": []}
    with ProcessExecutor(2) as pool:
        local = sweep(SCENARIO, GRID, 2, executor=pool, progress=lambda *a: seen["pool"].append(a))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with DaskExecutor(cluster.scheduler_address) as dask:
            remote = sweep(SCENARIO, GRID, 2, executor=dask, progress=lambda *a: seen["dask"].append(a))
    for other in (local, remote):
        pd.testing.assert_frame_equal(serial.rows, other.rows)
        pd.testing.assert_frame_equal(serial.summary, other.summary)
    for calls in seen.values():
        assert calls[-1] == (12, 12) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_grid_values():
    assert parse_grid("functions.f.concurrency=1,2,5") == ("functions.f.concurrency", [1, 2, 5])
    assert parse_grid("a.b=2..4") == ("a.b", [2, 3, 4])
    assert parse_grid("a=2s, 1m") == ("a", ["2s", "1m"])
    assert parse_grid("a={limit: 1, key: event.data.x},{limit: 2}") == (
        "a", [{"limit": 1, "key": "event.data.x"}, {"limit": 2}])
    for bad in ("a", "a=", "a=1,,2", "=1,2", "a=5..2"):
        with pytest.raises(ScenarioError):
            parse_grid(bad)


def test_a_bad_point_fails_before_anything_runs():
    with pytest.raises(ScenarioError) as info:
        sweep(SCENARIO, [("functions.f.concurrency", [1, "many"])], 2, executor=SerialExecutor())
    assert info.value.field == "--grid functions.f.concurrency"
    assert "got string 'many'" in info.value.message
