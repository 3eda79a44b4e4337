"""The invariant checkers of flowsim.testing hold for every shipped plug-in."""
from __future__ import annotations

import pytest

from flowsim.testing import check_concurrency, check_conservation
from tests.helpers import run, scenario

KEY = "event.data.t"
POLICIES = {
    "fifo": {"policy": "fifo"},
    "round_robin": {"policy": "round_robin", "key": KEY},
    "weighted_fair": {"policy": "weighted_fair", "key": KEY, "weight": "event.data.t == 'a' ? 3 : 1"},
    **{f"rate_limit-{a}-{m}": {"policy": "rate_limit", "algorithm": a, "mode": m, "limit": 3, "period": "2s",
                               "key": KEY}
       for a in ("fixed_window", "sliding_window", "token_bucket", "gcra") for m in ("drop", "delay")},
    **{f"collision-{s}": {"policy": "collision", "key": KEY, "max_runs": 2, "strategy": s}
       for s in ("cancel_in_progress", "cancel_newest", "cancel_queued_except_newest",
                 "cancel_queued_except_oldest")},
    "debounce-leading": {"policy": "debounce", "period": "1s", "key": KEY, "mode": "leading"},
    "debounce-trailing": {"policy": "debounce", "period": "1s", "key": KEY},
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_invariants_hold(name):
    f = {"id": "f", "triggers": [{"event": "go"}], "policies": [POLICIES[name]],
         "concurrency": [3, {"key": KEY, "limit": 2}],
         "steps": [{"run": "a", "duration": {"exponential": {"mean": "1s"}}, "failure_rate": 0.1},
                   {"sleep": "1s"}, {"run": "b", "duration": "300ms"}]}
    traffic = [{"event": "go", "arrivals": {"poisson": {"rate": "4/s"}}, "data": {"t": {"choice": ["a", "b", "c"]}}}]
    r = run(scenario([f], horizon="2m", traffic=traffic))
    check_conservation(r)
    check_concurrency(r)
    assert len(r.runs) > 0
