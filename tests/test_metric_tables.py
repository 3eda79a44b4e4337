"""Metrics over key expressions against pandas on the tables of a shipped scenario; the
capture changes nothing else; summary-only agrees with the tables within its accuracy."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import flowsim
from flowsim.analysis.overrides import parse_assignment
from flowsim.analysis.replicate import Base, _scenario
from flowsim.results.metric import jain
from flowsim.results.slices import CellSketches, bucket
from flowsim.results.streaming import RELATIVE_ACCURACY, Sketch

# round_robin puts each run's tenant in runs.keys["dispatch"], the keyed limit its user in
# runs.keys["concurrency[0]"]: the tables themselves say which rows each filter must keep.
TENANT, USER = "event.data.tenant", "event.data.user"
METRICS = [f"p99(start_latency)[{TENANT}=s1]", f"mean(queue_wait)[{TENANT}=big]", f"count(run)[{TENANT}=s2]",
           f"p50(end_to_end_latency)[function=tenant-work, {TENANT}=s3]", f"worst(p99(start_latency), {USER})",
           f"best(p90(start_latency), {TENANT})", f"jain(start_latency, {TENANT})", f"jain(throughput, {USER})",
           f"throughput[{TENANT}=s4]"]


@pytest.fixture(scope="module")
def scenario():
    base = Base.load("scenarios/compare-fair-dispatch.yaml", [parse_assignment("horizon=3m")])
    return _scenario(base.spec(base.variant("round_robin")))


@pytest.fixture(scope="module")
def full(scenario):
    return flowsim.simulate(scenario, metrics=METRICS)


@pytest.fixture(scope="module")
def light(scenario):
    return flowsim.simulate(scenario, tables=False, metrics=METRICS)


def _runs(result: flowsim.Result) -> pd.DataFrame:
    runs = result.runs.copy()
    keys = runs["keys"].map(json.loads)
    runs["tenant"], runs["user"] = keys.str["dispatch"], keys.str["concurrency[0]"]
    runs["start"] = runs["started_at"] - runs["event_at"]
    runs["e2e"] = (runs["ended_at"] - runs["event_at"]).where(runs["status"] == "completed")
    return runs


def test_against_pandas(full):
    runs = _runs(full)
    steps = full.steps.merge(runs[["run_id", "tenant"]], on="run_id")
    steps = steps[steps["kind"].isin(["run", "request"]) & steps["started_at"].notna()]
    events = full.events.merge(runs[["run_id", "tenant"]], on="run_id", how="left")
    assert events["tenant"].notna().all()        # every row here is a run's: the table gives its tenant
    span = full.horizon
    by_tenant, by_user = runs.groupby("tenant"), runs.groupby("user")
    completed = lambda g: (g["status"] == "completed").sum() / span     # noqa: E731
    want = {
        METRICS[0]: np.percentile(runs.loc[runs["tenant"] == "s1", "start"].dropna(), 99),
        METRICS[1]: (steps["started_at"] - steps["enqueued_at"])[steps["tenant"] == "big"].mean(),
        METRICS[2]: ((events["tenant"] == "s2") & (events["outcome"] == "run")).sum(),
        METRICS[3]: np.percentile(runs.loc[runs["tenant"] == "s3", "e2e"].dropna(), 50),
        METRICS[4]: by_user["start"].apply(lambda s: np.percentile(s.dropna(), 99) if s.notna().any() else np.nan).max(),
        METRICS[5]: by_tenant["start"].apply(lambda s: np.percentile(s.dropna(), 90)).min(),
        METRICS[6]: jain(by_tenant["start"].mean()),
        METRICS[7]: jain(by_user.apply(completed)),
        METRICS[8]: completed(runs[runs["tenant"] == "s4"]),
    }
    assert runs["tenant"].nunique() == 5 and runs["user"].nunique() > 100
    for metric, value in want.items():
        assert full.metric(metric) == pytest.approx(value, rel=1e-12), metric


def test_summary_only_agrees_with_the_tables(full, light):
    for metric in METRICS:
        a, b = full.metric(metric), light.metric(metric)
        percentile = metric.startswith(("p", "worst", "best"))
        assert b == pytest.approx(a, rel=RELATIVE_ACCURACY if percentile else 1e-9), metric


def test_capturing_changes_no_table_and_no_summary(scenario, full, light):
    plain = flowsim.simulate(scenario)
    for table in ("events", "runs", "steps"):
        pd.testing.assert_frame_equal(getattr(plain, table), getattr(full, table))
    assert plain.summary() == full.summary()
    assert flowsim.simulate(scenario, tables=False).summary() == light.summary()


def test_a_metric_without_key_expression_adds_no_wrapper(scenario):
    assert flowsim.simulate(scenario, metrics=["p99(start_latency)[function=tenant-work]"])._slices is None


def test_cells_grow_with_the_values_not_the_runs(light):
    space, = light._slices.spaces[:1]
    assert len(space.cells) == 5            # one function x five tenants, whatever the number of runs
    users = [s for s in light._slices.spaces if len(s.paths) == 1 and light._slices.capture.paths[s.paths[0]] == USER]
    runs = light.summary()["runs"]
    assert len(users[0].cells) < 300 < sum(runs.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_a_cell_sketch_is_the_summary_sketch(seed):
    # the same values, the same bucket mapping: the same percentiles to the bit
    rng = np.random.default_rng(seed)
    values = np.r_[rng.lognormal(0, 2, 5000), np.zeros(40), rng.uniform(0, 1e-10, 10), -rng.exponential(1, 30)]
    sketch, cells = Sketch(), CellSketches()
    for i, v in enumerate(values):
        sketch.add(float(v))
        cells.add(i % 3, float(v))
    sketch.fold()
    cells.fold(3)
    cells.compact()
    merged = cells.merged(np.zeros(3, dtype=np.int64))[0]
    d = sketch.distribution()
    for p in (50, 90, 99):
        assert merged.percentile(p) == d[f"p{p}"]
    assert merged.count == d["count"] and merged.mean() == pytest.approx(d["mean"], rel=1e-12)
    assert (bucket(np.array([0.0, 1e-12, 1.0])) == bucket(np.array([0.0, 0.0, 1.0]))).all()
    per_cell = cells.merged(np.arange(3))
    for c in range(3):
        assert per_cell[c].percentile(50) == pytest.approx(np.percentile(values[c::3], 50), rel=RELATIVE_ACCURACY)
    assert cells.merged(np.full(3, -1)) == {}           # every cell left out: no group
