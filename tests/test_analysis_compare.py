"""Variants share the dice of each replication (common random numbers)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from flowsim.analysis import compare, parse_assignment
from flowsim.analysis.headline import METRICS
from flowsim.errors import ScenarioError


def queue(limit: int, **extra) -> dict:
    """Poisson arrivals at 2/s, lognormal steps of median 1 s that fail 10% of the time (retried)."""
    return {"name": "q", "seed": 11, "horizon": "5m", "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "go"}], "concurrency": limit, "retries": 2,
                           "steps": [{"run": "work", "duration": {"lognormal": {"median": "1s", "p99": "4s"}},
                                      "failure_rate": 0.1}]}],
            "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": "2/s"}},
                         "data": {"user": {"zipf": {"n": 50, "s": 1.1}}}}], **extra}


def test_variants_differing_in_a_limit_that_never_binds_are_identical():
    c = compare([queue(50, variants={"wide": {"functions.f.concurrency": 500}, "tight": {
        "functions.f.concurrency": 2}})], replications=4)
    assert c.variants == ["base", "wide", "tight"]
    rows = c.rows.set_index(["variant", "replication"])
    base, wide, tight = (rows.loc[v] for v in c.variants)
    pd.testing.assert_frame_equal(base, wide)                       # same dice, same results
    assert len(set(base["mean(end_to_end_latency)"])) == 4          # ... though each replication differs
    assert (tight["p99(start_latency)"] > base["p99(start_latency)"]).all()
    # the events themselves are the same in every variant of a replication
    assert (tight["events"] == base["events"]).all()
    s = c.summary.set_index(["variant", "metric"])
    assert s.loc[("wide", "mean(start_latency)"), ["diff", "diff_low", "diff_high"]].tolist() == [0.0, 0.0, 0.0]


def test_paired_difference_is_tighter_than_the_intervals_it_compares():
    # With common random numbers the per-replication differences vary far less than the metric
    # itself: the paired CI is much narrower than the CI of a difference of independent means.
    c = compare([queue(4, variants={"five": {"functions.f.concurrency": 5}})], replications=6)
    s = c.summary.set_index(["variant", "metric"])
    base, five = s.loc[("base", "mean(end_to_end_latency)")], s.loc[("five", "mean(end_to_end_latency)")]
    assert five["diff_high"] < 0                                    # five slots are clearly faster
    assert five["diff"] == pytest.approx(five["mean"] - base["mean"])
    paired = five["diff_high"] - five["diff_low"]
    independent = math.hypot(base["ci_high"] - base["ci_low"], five["ci_high"] - five["ci_low"])
    assert paired < 0.5 * independent
    assert np.isnan(base["diff"])


def test_scenarios_from_several_files_share_seeds(tmp_path):
    import yaml
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump({**queue(50), "name": "a"}))
    b.write_text(yaml.safe_dump({**queue(80), "name": "b", "seed": 99}))   # its own seed is not used
    c = compare([a, b], replications=3, sets=[parse_assignment("horizon=2m")])
    assert c.variants == ["a", "b"]
    rows = c.rows.set_index(["variant", "replication"])
    pd.testing.assert_frame_equal(rows.loc["a"], rows.loc["b"])
    assert set(c.summary["metric"]) == set(METRICS)


def test_too_few_replications():
    with pytest.raises(ScenarioError, match="at least 2 replications"):
        compare([queue(5)], replications=1)
