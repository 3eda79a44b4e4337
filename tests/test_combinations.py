"""Every pair of mechanisms on one function: rejected with Inngest's message, accepted
with a warning, or accepted; every accepted pair runs with every event accounted for
and no concurrency limit exceeded (spec §1, §9.1, README decisions)."""
from __future__ import annotations

import itertools
import warnings

import pytest

import flowsim
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.testing import check_concurrency, check_conservation

CONFIGS = {
    "concurrency": [{"key": "event.data.user", "limit": 1}, {"limit": 3}],
    "throttle": {"limit": 2, "period": "10s", "burst": 1, "key": "event.data.user"},
    "rateLimit": {"limit": 5, "period": "20s", "key": "event.data.user"},
    "idempotency": "event.data.order",
    "debounce": {"period": "5s", "key": "event.data.user", "timeout": "20s"},
    "batchEvents": {"maxSize": 3, "timeout": "5s", "key": "event.data.user"},
    "singleton": {"key": "event.data.user", "mode": "skip"},
    "priority": {"run": "event.data.vip ? 30 : 0"},
    "cancelOn": [{"event": "stop", "match": "data.user"}],
}
REJECTED = {
    frozenset({"batchEvents", "debounce"}): "Batching and debouncing are mutually exclusive",
    frozenset({"batchEvents", "singleton"}): "Batching and singletons are mutually exclusive",
    frozenset({"batchEvents", "priority"}): "A function cannot specify Priority.Run and Batch together",
    frozenset({"batchEvents", "cancelOn"}): "Batching and cancellation are mutually exclusive",
}
WARNED = {
    frozenset({"batchEvents", "rateLimit"}): "rateLimit",
    frozenset({"batchEvents", "idempotency"}): "idempotency",
    frozenset({"idempotency", "rateLimit"}): "replaces",
}
PAIRS = [frozenset(p) for p in itertools.combinations(sorted(CONFIGS), 2)]


def scenario_with(pair: frozenset[str], platform: str = "ideal") -> dict:
    fn = {"id": "f", "triggers": [{"event": "go"}],
          "steps": [{"run": "a", "duration": {"exponential": {"mean": "2s"}}, "failure_rate": 0.05},
                    {"sleep": "1s"}, {"run": "b", "duration": "500ms"}]}
    fn.update({name: CONFIGS[name] for name in sorted(pair)})
    return {"name": "pair", "seed": 4, "horizon": "5m", "platform": platform, "functions": [fn],
            "traffic": [
                {"event": "go", "arrivals": {"poisson": {"rate": "2/s"}},
                 "data": {"user": {"zipf": {"n": 6, "s": 1.0}, "format": "u{}"},
                          "order": {"uniform_int": {"min": 1, "max": 300}},
                          "vip": {"choice": {True: 0.2, False: 0.8}}}},
                {"event": "stop", "arrivals": {"poisson": {"rate": "1/m"}},
                 "data": {"user": {"zipf": {"n": 6, "s": 1.0}, "format": "u{}"}}}]}


@pytest.mark.parametrize("pair", PAIRS, ids=["+".join(sorted(p)) for p in PAIRS])
def test_pair(pair):
    sc = scenario_with(pair)
    if pair in REJECTED:
        with pytest.raises(ScenarioError, match=REJECTED[pair]):
            flowsim.load_scenario(sc)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        scenario = flowsim.load_scenario(sc)
    messages = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
    if pair in WARNED:
        assert any(WARNED[pair] in m for m in messages), messages
    else:
        assert messages == []
    for platform in ("ideal", "inngest"):
        scenario = flowsim.load_scenario(scenario_with(pair, platform)) if platform != "ideal" else scenario
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            result = flowsim.simulate(scenario)
        check_conservation(result)
        check_concurrency(result)
        assert (result.events["outcome"] != "pending").any()
