"""Every kind of metric against values worked out by hand on explicit events, with tables
and summary-only; which event a run is judged by (a batch's first, a debounce's last)."""
from __future__ import annotations

import math
import warnings

import pytest

import flowsim
from flowsim.errors import ScenarioError
from flowsim.results.metric import MetricWarning
from tests.helpers import ev, scenario

# f: one slot, 10 s steps, every event; g: no limit, 1 s steps, only tenant a's events.
#   e1 a@0   f: starts 0, ends 10 (latency 0)      g: starts 0 (0)
#   e2 b@0   f: starts 10, ends 20 (10)            g: filtered
#   e3 a@1   f: starts 20, ends 30 (19)            g: starts 1 (0)
#   e4 -@2   f: starts 30, ends 40 (28)            g: filtered   (no tenant: the key is "false")
HAND = scenario(
    [{"id": "f", "triggers": [{"event": "go"}], "concurrency": 1, "steps": [{"run": "work", "duration": "10s"}]},
     {"id": "g", "triggers": [{"event": "go", "if": "event.data.tenant == 'a'"}],
      "steps": [{"run": "work", "duration": "1s"}]}],
    [ev(0, id="e1", tenant="a"), ev(0, id="e2", tenant="b"), ev(1, id="e3", tenant="a"), ev(2, id="e4")])

EXPECTED = {
    "events": 8,
    "count(filtered)": 2,
    "rate(filtered)": 0.25,
    "count(run)[event.data.tenant=a]": 4,
    "events[event.data.tenant=b]": 2,
    "rate(filtered)[event.data.tenant=b]": 0.5,
    "events[event.data.tenant=false]": 2,
    "mean(start_latency)[function=f]": (0 + 10 + 19 + 28) / 4,
    "p99(start_latency)[function=f]": 19 + 0.97 * 9,           # numpy's linear percentile of 0, 10, 19, 28
    "p50(start_latency)[function=f]": 14.5,
    "mean(start_latency)[function=f, event.data.tenant=a]": 9.5,
    "mean(start_latency)[event.data.tenant=a]": (0 + 19 + 0 + 0) / 4,
    "mean(queue_wait)[event.data.tenant=b]": 10,
    "mean(end_to_end_latency)[function=f, event.data.tenant=a]": (10 + 29) / 2,
    "throughput[function=g]": 2 / 3600,
    "throughput[event.data.tenant=a]": 4 / 3600,
    "worst(mean(start_latency)[function=f], event.data.tenant)": 28,
    "best(mean(start_latency)[function=f], event.data.tenant)": 9.5,
    "worst(count(filtered), event.data.tenant)": 1,       # b and "false" one each, a none
    "worst(throughput, event.data.tenant)": 1 / 3600,     # more is better: the smallest (b, "false")
    "best(throughput, event.data.tenant)": 4 / 3600,
    "jain(start_latency[function=f], event.data.tenant)": 47.5 ** 2 / (3 * (9.5 ** 2 + 10 ** 2 + 28 ** 2)),
    "jain(throughput, event.data.tenant)": 6 ** 2 / (3 * (16 + 1 + 1)),
    "jain(end_to_end_latency[function=g], event.data.tenant)": 1.0,   # one value (a)
    "p99(start_latency)[function=g, event.data.tenant=b]": math.nan,  # rows (filtered), but no run
}


@pytest.fixture(scope="module", params=[True, False], ids=["tables", "summary-only"])
def hand(request):
    return flowsim.simulate(flowsim.load_scenario(HAND), tables=request.param, metrics=list(EXPECTED))


@pytest.mark.parametrize("metric", list(EXPECTED))
def test_hand_computed_value(hand, metric):
    want = EXPECTED[metric]
    got = hand.metric(metric)
    if math.isnan(want):
        assert math.isnan(got)
    elif hand.summary_only and metric.startswith("p"):        # percentiles: within the sketch's 0.5%
        assert got == pytest.approx(want, rel=0.005)
    else:
        assert got == pytest.approx(want, rel=1e-12)


def test_a_filter_that_matches_nothing_is_nan_with_a_warning(hand):
    with pytest.warns(MetricWarning, match=r"p99\(start_latency\)\[event.data.tenant=zz\] matched no event"):
        assert math.isnan(hand.metric("p99(start_latency)[event.data.tenant=zz]"))
    with pytest.warns(MetricWarning):
        assert math.isnan(hand.metric("events[event.data.tenant=zz]"))      # never a silent 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hand.metric("count(rate_limited)[event.data.tenant=a]") == 0   # rows matched: a true 0


def test_metrics_without_a_key_expression_need_no_capture():
    result = flowsim.simulate(flowsim.load_scenario(HAND))
    assert result.metric("mean(start_latency)[function=f]") == pytest.approx(14.25)
    assert result.metric("p99( start_latency )") == result.summary()["start_latency"]["p99"]
    with pytest.raises(ScenarioError, match=r"reads event.data.tenant, whose values were not captured: "
                                            r"simulate with flowsim.simulate\(\.\.\., metrics=\["):
        result.metric("p99(start_latency)[event.data.tenant=a]")
    with pytest.raises(ScenarioError, match="unknown function id 'h' in p99\\(start_latency\\)\\[function=h\\]; "
                                            "functions: f, g"):
        result.metric("p99(start_latency)[function=h]")


def test_summary_only_answers_the_expressions_it_folded():
    result = flowsim.simulate(flowsim.load_scenario(HAND), tables=False,
                              metrics=["worst(p99(start_latency), event.data.tenant)"])
    # the same expression, another metric and filter: answered from the same cells
    assert result.metric("mean(start_latency)[function=f, event.data.tenant=a]") == pytest.approx(9.5)
    with pytest.raises(ScenarioError, match="reads event.name"):
        result.metric("p99(start_latency)[event.name=go]")


def test_the_warm_up_is_applied_as_the_summary_applies_it():
    # with a warm-up of 1 s, e1 and e2 (at 0) are left out: f's measured runs are e3 (19) and e4 (28)
    for tables in (True, False):
        result = flowsim.simulate(flowsim.load_scenario(HAND), warmup=1, tables=tables,
                                  metrics=["mean(start_latency)[event.data.tenant=a]"])
        assert result.metric("mean(start_latency)[event.data.tenant=a]") == pytest.approx((19 + 0) / 2)
        assert result.metric("events[event.data.tenant=a]") == 2
        with pytest.warns(MetricWarning):        # b's only event came before the warm-up ended
            assert math.isnan(result.metric("mean(start_latency)[event.data.tenant=b]"))


def test_a_debounced_run_is_judged_by_its_last_event():
    # no key: a at 0 and b at 1 make one run, fired 5 s after b, from b's event
    sc = scenario([{"id": "f", "triggers": [{"event": "go"}], "debounce": {"period": "5s"},
                    "steps": [{"run": "work", "duration": "1s"}]}],
                  [ev(0, id="e1", tenant="a"), ev(1, id="e2", tenant="b")])
    for tables in (True, False):
        r = flowsim.simulate(flowsim.load_scenario(sc), tables=tables, metrics=["events[event.data.tenant=a]"])
        started = 0.0 if r.summary_only else float(r.runs["started_at"].iloc[0])
        assert r.metric("count(debounced)[event.data.tenant=a]") == 1
        assert r.metric("count(run)[event.data.tenant=b]") == 1
        assert r.metric("throughput[event.data.tenant=b]") == pytest.approx(1 / 3600)
        assert r.metric("throughput[event.data.tenant=a]") == 0          # rows matched, no run of its own
        with pytest.warns(MetricWarning):    # judged by b, the run is none of a's: no latency at all
            assert math.isnan(r.metric("mean(queue_wait)[event.data.tenant=zz]"))
        assert math.isnan(r.metric("mean(start_latency)[event.data.tenant=a]"))
        if not r.summary_only:
            assert r.metric("mean(start_latency)[event.data.tenant=b]") == pytest.approx(started - 1)
            assert started == pytest.approx(6)


def test_a_batch_is_judged_by_its_first_event():
    sc = scenario([{"id": "f", "triggers": [{"event": "go"}], "batchEvents": {"maxSize": 2, "timeout": "10s"},
                    "steps": [{"run": "work", "duration": "1s"}]}],
                  [ev(0, id="e1", tenant="a"), ev(3, id="e2", tenant="b")])
    for tables in (True, False):
        r = flowsim.simulate(flowsim.load_scenario(sc), tables=tables, metrics=["events[event.data.tenant=a]"])
        assert r.metric("count(batched)[event.data.tenant=b]") == 1       # each event row by its own event
        assert r.metric("throughput[event.data.tenant=a]") == pytest.approx(1 / 3600)   # the run: by e1
        assert r.metric("throughput[event.data.tenant=b]") == 0
        assert r.metric("mean(start_latency)[event.data.tenant=a]") == pytest.approx(3)  # full at 3, from e1's 0
