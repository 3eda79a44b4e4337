"""Confidence intervals: the t quantiles against scipy, and coverage of a closed form
(Erlang C) over repeated experiments of replications."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import flowsim
from flowsim.analysis import headline, replicate
from flowsim.analysis.stats import mean_ci, t_quantile
from tests.helpers import ev, run, scenario


def test_t_quantiles_match_scipy():
    for df in list(range(1, 200)) + [500, 10_000]:
        assert t_quantile(df) == pytest.approx(stats.t.ppf(0.975, df), rel=2e-6, abs=0), df


def test_mean_ci_matches_scipy_and_leaves_out_nans():
    values = [3.1, 2.7, 4.4, 3.9, float("nan"), 3.0, 2.2]
    clean = np.array([v for v in values if not math.isnan(v)])
    lo, hi = stats.t.interval(0.95, len(clean) - 1, loc=clean.mean(), scale=stats.sem(clean))
    ci = mean_ci(values)
    assert ci.n == 6
    assert (ci.mean, ci.low, ci.high) == pytest.approx((clean.mean(), lo, hi), rel=1e-9)


def test_mean_ci_of_one_value_has_no_interval():
    ci = mean_ci([2.0])
    assert ci.n == 1 and ci.mean == 2.0 and math.isnan(ci.low) and math.isnan(ci.high)
    assert mean_ci([]).n == 0


def test_headline_rates_are_per_event_row():
    # 10 events; 3 fail the trigger's `if` (filtered); each run waits 0 s, takes 2 s.
    events = [ev(i, ok=i not in (2, 5, 7)) for i in range(10)]
    sc = scenario([{"id": "f", "triggers": [{"event": "go", "if": "event.data.ok == true"}],
                    "steps": [{"run": "s", "duration": "2s"}]}], events, horizon="1m")
    h = headline(run(sc).summary())
    assert list(h) == list(flowsim.analysis.METRICS)
    assert h["events"] == 10 and h["count(run)"] == 7 and h["count(filtered)"] == 3
    assert h["rate(filtered)"] == pytest.approx(0.3) and h["rate(run)"] == pytest.approx(0.7)
    assert h["p99(start_latency)"] == 0.0 and h["mean(end_to_end_latency)"] == pytest.approx(2.0)
    assert h["throughput"] == pytest.approx(7 / 60)


def test_headline_without_runs_is_nan():
    sc = scenario([{"id": "f", "triggers": [{"event": "go", "if": "event.data.ok == true"}],
                    "steps": [{"run": "s", "duration": "2s"}]}], [ev(1, ok=False)], horizon="1m")
    h = headline(run(sc).summary())
    assert h["rate(filtered)"] == 1.0 and math.isnan(h["p99(start_latency)"])


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean queue wait of M/M/c (Erlang C, stable Erlang B recursion; spec README)."""
    a = lam / mu
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b)) / (c * mu - lam)


def mmc(c: int, lam: float, horizon: float) -> dict:
    return {"name": "mmc", "horizon": horizon, "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "go"}], "concurrency": c,
                           "steps": [{"run": "serve", "duration": {"exponential": {"mean": 1.0}}}]}],
            "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]}


@pytest.mark.slow
def test_confidence_intervals_cover_erlang_c_at_the_stated_rate():
    # 40 experiments, each 5 replications of M/M/2 at rho = 0.5 (Wq = 1/3 s): at least 36 of the
    # 40 95% CIs must cover Wq, and their width must match the spread of the experiments' means
    # (so intervals that are too wide fail too).
    expected = erlang_c_wait(2, 1.0, 1.0)
    assert expected == pytest.approx(1 / 3)
    covered, halves, means = 0, [], []
    for experiment in range(40):
        _, summary = replicate(mmc(2, 1.0, 1000.0), 5, seed=experiment)
        row = summary[summary["metric"] == "mean(queue_wait)"].iloc[0]
        covered += bool(row["ci_low"] <= expected <= row["ci_high"])
        halves.append((row["ci_high"] - row["ci_low"]) / 2)
        means.append(row["mean"])
    assert covered >= 36, f"{covered}/40 CIs cover Erlang C {expected:.4f}"
    ratio = np.mean(halves) / (t_quantile(4) * np.std(means, ddof=1))
    assert 0.7 <= ratio <= 1.25, f"mean half-width / (t * sd of experiment means) = {ratio:.2f}"
