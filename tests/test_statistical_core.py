"""Statistical checks of the core against closed forms (spec README), with 95%
confidence intervals over independent replications."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import flowsim
import flowsim.streams


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean queue wait of M/M/c by Erlang C, via the stable Erlang B recursion."""
    a = lam / mu
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    erlang_c = c * b / (c - a * (1 - b))
    return erlang_c / (c * mu - lam)


def ci95(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values)
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half)


def test_erlang_c_reference_values():
    # M/M/1: Wq = rho / (mu - lam); M/M/2 with a = 1: C = 1/3, Wq = 1/3.
    assert erlang_c_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    assert erlang_c_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)


def mmc_scenario(c: int, lam: float, horizon: float) -> dict:
    return {"name": "mmc", "horizon": horizon, "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "go"}], "concurrency": c,
                           "steps": [{"run": "serve", "duration": {"exponential": {"mean": 1.0}}}]}],
            "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]}


@pytest.mark.slow
@pytest.mark.parametrize("c, lam", [(3, 1.5), (3, 2.4)])
def test_mmc_mean_wait_matches_erlang_c(c, lam):
    warmup, horizon = 500.0, 12000.0
    sc = flowsim.load_scenario(mmc_scenario(c, lam, horizon))
    means = []
    for seed in flowsim.streams.replication_seeds(2024, 8):
        steps = flowsim.simulate(sc, seed).steps
        done = steps[(steps["enqueued_at"] >= warmup) & steps["started_at"].notna()]
        means.append(float((done["started_at"] - done["enqueued_at"]).mean()))
    lo, hi = ci95(means)
    expected = erlang_c_wait(c, lam, 1.0)
    assert lo <= expected <= hi, f"Erlang C {expected:.4f} outside 95% CI [{lo:.4f}, {hi:.4f}]"
