"""Capacity planning: objectives, the bisection, the binding objective, and a known answer
(the smallest M/M/c by Erlang C's p99 wait)."""
from __future__ import annotations

import math

import pytest

from flowsim.analysis import Objective, plan
from flowsim.analysis.plan import parse_vary
from flowsim.errors import ScenarioError
from tests.helpers import ev, scenario

# Ten events at t = 0, each run one 1 s step: with c slots the k-th start waits floor(k / c) s,
# so mean(start_latency) is 4.5, 2.0, 1.2, 0.8, 0.5, 0.4 for c = 1..6 and p50 is 1 at c = 4,
# 0.5 at c = 5, 0 from c = 6 (numpy's linear percentiles). No randomness: every replication agrees.
BURST = scenario([{"id": "f", "triggers": [{"event": "go"}], "concurrency": 1,
                   "steps": [{"run": "s", "duration": "1s"}]}], [ev(0, id=f"e{i}") for i in range(10)],
                 horizon="1m")
VARY = ("functions.f.concurrency", 1, 10)


def test_bisection_finds_the_smallest_value_and_the_binding_objective():
    p = plan(BURST, VARY, ["mean(start_latency) <= 0.9s"], 2)
    assert p.answer == 4
    assert p.verdicts == {1: False, 3: False, 4: True, 5: True, 10: True}   # 10, 1, 5, 3, 4: not the whole range
    assert p.binding == ["mean(start_latency) <= 0.9s"]
    ev_ = p.evaluations.set_index("value")
    assert ev_.loc[3, "mean"] == pytest.approx(1.2) and ev_.loc[4, "mean"] == pytest.approx(0.8)
    assert "functions.f.concurrency = 4 is the smallest value" in p.explain()
    assert sorted(set(p.rows["value"])) == [1, 3, 4, 5, 10] and len(p.rows) == 10


def test_the_objective_that_fails_below_the_answer_binds():
    p = plan(BURST, VARY, ["mean(start_latency) <= 0.9s", "p50(start_latency) < 0.5s"], 2)
    assert p.answer == 6                              # at 5, p50 is exactly 0.5: not < 0.5
    assert p.binding == ["p50(start_latency) < 0.5s"]   # the mean (0.5 at 5) does not bind


def test_low_end_already_meets():
    p = plan(BURST, ("functions.f.concurrency", 4, 10), ["mean(start_latency) <= 0.9s"], 2)
    assert (p.answer, p.binding) == (4, [])
    assert list(p.verdicts) == [4, 10]
    assert "already meets" in p.explain()


def test_nothing_in_range_meets():
    p = plan(BURST, ("functions.f.concurrency", 1, 3), ["mean(start_latency) <= 0.9s",
                                                        "count(run) >= 10"], 2)
    assert (p.answer, p.binding) == (None, ["mean(start_latency) <= 0.9s"])
    assert list(p.verdicts) == [3]
    assert "no functions.f.concurrency in 1..3" in p.explain()


@pytest.mark.parametrize("text, metric, op, bound", [
    ("p99(start_latency) <= 30s", "p99(start_latency)", "<=", 30.0),
    ("p99(start_latency)<=500ms", "p99(start_latency)", "<=", 0.5),
    ("rate(rate_limited) <= 1%", "rate(rate_limited)", "<=", 0.01),
    ("rate(rate_limited) < 0.02", "rate(rate_limited)", "<", 0.02),
    ("throughput >= 5/s", "throughput", ">=", 5.0),
    ("count(run) > 3", "count(run)", ">", 3.0),
])
def test_objectives_parse(text, metric, op, bound):
    o = Objective.parse(text)
    assert (o.metric, o.op, o.bound) == (metric, op, pytest.approx(bound))


@pytest.mark.parametrize("text, fragment", [("p99(latency) <= 3s", "unknown metric 'p99(latency)'"),
                                            ("p99(start_latency) = 3s", "expected METRIC OP BOUND"),
                                            ("p99(start_latency) <= soon", "invalid bound 'soon'"),
                                            ("count(run) >= inf", "must be finite")])
def test_bad_objectives(text, fragment):
    with pytest.raises(ScenarioError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Objective.parse(text)


def test_vary_ranges():
    assert parse_vary("functions.f.concurrency=1..64") == ("functions.f.concurrency", 1, 64)
    for bad in ("functions.f.concurrency=1..x", "functions.f.concurrency=5..2", "1..3"):
        with pytest.raises(ScenarioError):
            parse_vary(bad)


def erlang_c_p99_wait(c: int, lam: float, mu: float = 1.0) -> float:
    """The 99th percentile of the M/M/c queue wait: P(W > t) = C(c, a) e^{-(c mu - lam) t}."""
    a = lam / mu
    if c <= a:
        return math.inf
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    erlang_c = c * b / (c - a * (1 - b))
    return 0.0 if erlang_c <= 0.01 else math.log(erlang_c / 0.01) / (c * mu - lam)


@pytest.mark.slow
def test_plan_finds_the_erlang_c_answer():
    # M/M/c, lambda = 4/s, mean service 1 s: p99 wait is 4.0 s at c = 5, 1.68 s at 6, 0.87 s at 7.
    # The smallest c with p99 <= 1.3 s is 7; the bound sits between so a CI can separate them.
    lam, bound = 4.0, 1.3
    expected = next(c for c in range(1, 20) if erlang_c_p99_wait(c, lam) <= bound)
    assert expected == 7
    sc = {"name": "mmc", "horizon": 400, "platform": "ideal",
          "functions": [{"id": "f", "triggers": [{"event": "go"}], "concurrency": 1,
                         "steps": [{"run": "serve", "duration": {"exponential": {"mean": 1.0}}}]}],
          "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]}
    p = plan(sc, ("functions.f.concurrency", 4, 12), [f"p99(start_latency) <= {bound}s", "mean(queue_wait) <= 0.5s"],
             10, seed=1)
    assert p.answer == expected
    assert p.binding == [f"p99(start_latency) <= {bound}s"]
    ev_ = p.evaluations[p.evaluations["metric"] == "p99(start_latency)"].set_index("value")
    for c in (6, 7):   # the estimates are near the closed form (short runs start empty: a little low)
        assert ev_.loc[c, "mean"] == pytest.approx(erlang_c_p99_wait(c, lam), rel=0.25)
