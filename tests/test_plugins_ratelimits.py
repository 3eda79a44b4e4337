"""Rate-limit algorithms (flowsim.plugins.ratelimits): hand-worked timelines in drop and
delay mode; the fixed window's 2 × limit across a boundary."""
from __future__ import annotations

from tests.helpers import by_event, ev, run, scenario, step_times


def fn(policy, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "1s"}],
            "policies": [{"policy": "rate_limit", **policy}]}
    base.update(kw)
    return base


def outcomes(r):
    return dict(zip(r.events["event_id"], r.events["outcome"]))


def admitted(r):
    return [e for e, o in outcomes(r).items() if o == "run"]


BURST = [ev(t, id=f"e{t:g}") for t in (9.0, 9.1, 9.2, 9.3, 10.0, 10.1, 10.2, 10.3)]


def test_fixed_window_admits_twice_the_limit_across_a_boundary():
    # limit 3 per 10 s, clock-aligned: 3 in [0,10) at 9.0-9.2, 3 more in [10,20) at 10.0-10.2:
    # 6 events within 1.2 s.
    r = run(scenario([fn({"algorithm": "fixed_window", "limit": 3, "period": "10s"})], BURST))
    assert admitted(r) == ["e9", "e9.1", "e9.2", "e10", "e10.1", "e10.2"]
    row = r.events.set_index("event_id").loc["e9.3"]
    assert (row.outcome, row.reason) == ("rate_limited", "fixed_window 3/10s: 0 left until t=10")


def test_fixed_window_aligned_on_first_admission():
    # BullMQ: the window opens at 9.0 and lasts until 19.0, so 10.x are refused.
    r = run(scenario([fn({"algorithm": "fixed_window", "limit": 3, "period": "10s", "align": "first"})],
                     BURST + [ev(19, id="e19")]))
    assert admitted(r) == ["e9", "e9.1", "e9.2", "e19"]


def test_sliding_window_never_exceeds_the_limit_in_any_period():
    r = run(scenario([fn({"algorithm": "sliding_window", "limit": 3, "period": "10s"})],
                     BURST + [ev(19.0, id="e19"), ev(19.05, id="e19.05"), ev(19.1, id="e19.1")]))
    # 9.0 leaves the window at 19.0, 9.1 at 19.1.
    assert admitted(r) == ["e9", "e9.1", "e9.2", "e19", "e19.1"]


def test_token_bucket_burst_then_refill():
    # 1 token/s, bucket of 2, full at start: t=0 takes 2, t=0.5 none, t=1 one, t=1.5 none, t=3 two.
    events = [ev(t, id=f"e{t:g}") for t in (0, 0, 0, 0.5, 1, 1.5, 3, 3, 3)]
    events = [dict(e, id=f"{e['id']}-{i}") for i, e in enumerate(events)]
    r = run(scenario([fn({"algorithm": "token_bucket", "limit": 1, "period": "1s", "burst": 2})], events))
    assert admitted(r) == ["e0-0", "e0-1", "e1-4", "e3-6", "e3-7"]


def test_gcra_default_burst_matches_inngest_rate_limit():
    # 10/min with an event a second: Inngest admits t = 0, 1, 6, 12, ..., 54 (spec §5.2).
    events = [ev(t, id=f"e{t}") for t in range(60)]
    plug = run(scenario([fn({"algorithm": "gcra", "limit": 10, "period": "1m"})], events))
    inngest = run(scenario([{"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "1s"}],
                             "rateLimit": {"limit": 10, "period": "1m"}}], events))
    assert admitted(plug) == admitted(inngest) == ["e0", "e1", "e6", "e12", "e18", "e24", "e30", "e36", "e42",
                                                   "e48", "e54"]


def test_fixed_window_delay_mode_holds_runs_until_the_next_window():
    r = run(scenario([fn({"algorithm": "fixed_window", "limit": 2, "period": "10s", "mode": "delay",
                          "key": "event.data.u"})],
                     [ev(1, id="a1", u="a"), ev(2, id="a2", u="a"), ev(3, id="a3", u="a"), ev(4, id="b1", u="b"),
                      ev(5, id="a4", u="a"), ev(6, id="a5", u="a")]))
    assert set(outcomes(r).values()) == {"run"}
    starts = {s[0]: s[3] for s in step_times(r)}
    assert starts == {"a1": 1, "a2": 2, "b1": 4, "a3": 10, "a4": 10, "a5": 20}
    runs = by_event(r)
    blocked = r.steps.set_index("run_id").loc[runs.loc["a5", "run_id"], "blocked_by"]
    assert blocked == "rate_limit:fixed_window:a"


def test_sliding_window_delay_mode():
    r = run(scenario([fn({"algorithm": "sliding_window", "limit": 2, "period": "10s", "mode": "delay"})],
                     [ev(0, id="a"), ev(4, id="b"), ev(5, id="c"), ev(6, id="d")]))
    assert {s[0]: s[3] for s in step_times(r)} == {"a": 0, "b": 4, "c": 10, "d": 14}
