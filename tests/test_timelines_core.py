"""Hand-worked timelines of the core: explicit events, constant durations, every start
and end computed by hand (spec §3.2, §3.3, §10)."""
from __future__ import annotations

import pandas as pd
import pytest

import flowsim

from tests.helpers import by_event, ev, run, scenario, step_times


def fn(**kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "10s"}]}
    base.update(kw)
    return base


def test_function_limit_queues_fifo():
    r = run(scenario([fn(concurrency=2)], [ev(0, id="a"), ev(0, id="b"), ev(0, id="c"), ev(1, id="d")]))
    assert step_times(r) == [("a", "work", 1, 0, 10), ("b", "work", 1, 0, 10),
                             ("c", "work", 1, 10, 20), ("d", "work", 1, 10, 20)]
    steps = r.steps.set_index("run_id")
    runs = by_event(r)
    assert steps.loc[runs.loc["c", "run_id"], "blocked_by"] == "function"
    assert steps.loc[runs.loc["a", "run_id"], "blocked_by"] == ""


def test_keyed_limit_skips_blocked_key():
    r = run(scenario([fn(concurrency=[{"key": "event.data.user", "limit": 1}])],
                     [ev(0, id="a1", user="a"), ev(1, id="a2", user="a"), ev(2, id="b1", user="b")]))
    assert step_times(r) == [("a1", "work", 1, 0, 10), ("b1", "work", 1, 2, 12), ("a2", "work", 1, 10, 20)]
    runs = by_event(r)
    blocked = r.steps.set_index("run_id").loc[runs.loc["a2", "run_id"], "blocked_by"]
    assert blocked == "concurrency:event.data.user=a"


def test_two_keys_at_once():
    limits = [{"key": "event.data.user", "limit": 1}, {"key": "event.data.org", "limit": 2}]
    r = run(scenario([fn(concurrency=limits)],
                     [ev(0, id="u1o1", user="u1", org="o1"), ev(0, id="u2o1", user="u2", org="o1"),
                      ev(0, id="u3o1", user="u3", org="o1"), ev(1, id="u1o2", user="u1", org="o2")]))
    assert step_times(r) == [("u1o1", "work", 1, 0, 10), ("u2o1", "work", 1, 0, 10),
                             ("u1o2", "work", 1, 10, 20), ("u3o1", "work", 1, 10, 20)]
    s = r.steps.set_index("run_id")["blocked_by"]
    runs = by_event(r)
    assert s[runs.loc["u3o1", "run_id"]] == "concurrency:event.data.org=o1"
    assert s[runs.loc["u1o2", "run_id"]] == "concurrency:event.data.user=u1"


def test_account_scoped_key_is_shared_by_identical_expression_only():
    shared = {"key": '"openai"', "scope": "account", "limit": 1}
    other = {"key": "'openai'", "scope": "account", "limit": 1}       # same value, other text
    fns = [
        {"id": "a", "triggers": [{"event": "a"}], "concurrency": [shared], "steps": [{"run": "s", "duration": 10}]},
        {"id": "b", "triggers": [{"event": "b"}], "concurrency": [shared], "steps": [{"run": "s", "duration": 5}]},
        {"id": "c", "triggers": [{"event": "c"}], "concurrency": [other], "steps": [{"run": "s", "duration": 5}]},
    ]
    r = run(scenario(fns, [ev(0, "a", id="ea"), ev(1, "b", id="eb"), ev(1, "c", id="ec")]))
    assert step_times(r) == [("ea", "s", 1, 0, 10), ("ec", "s", 1, 1, 6), ("eb", "s", 1, 10, 15)]
    assert r.summary()['concurrency']['concurrency:account:"openai"']["peak"] == 1


def test_account_limit_stops_every_function():
    fns = [{"id": "a", "triggers": [{"event": "go"}], "steps": [{"run": "s", "duration": 10}]},
           {"id": "b", "triggers": [{"event": "go"}], "steps": [{"run": "s", "duration": 10}]}]
    r = run(scenario(fns, [ev(0, id="e1"), ev(1, id="e2")], account={"concurrency": 2}))
    starts = sorted(r.steps["started_at"])
    assert starts == [0, 0, 10, 10]
    assert sorted(r.steps["blocked_by"]) == ["", "", "account", "account"]


def test_sleep_releases_the_slot():
    steps = [{"run": "one", "duration": 5}, {"sleep": "10s"}, {"run": "two", "duration": 5}]
    r = run(scenario([fn(concurrency=1, steps=steps)], [ev(0, id="a"), ev(1, id="b")]))
    assert step_times(r) == [("a", "one", 1, 0, 5), ("b", "one", 1, 5, 10),
                             ("a", "two", 1, 15, 20), ("b", "two", 1, 20, 25)]
    sleeps = step_times(r, "sleep")
    assert sleeps == [("a", "sleep-1", 1, 5, 15), ("b", "sleep-1", 1, 10, 20)]


def test_wait_for_event_match_and_timeout():
    steps = [{"run": "one", "duration": 1},
             {"waitForEvent": {"event": "confirm", "match": "data.id", "timeout": "10s"}},
             {"run": "two", "duration": 1}]
    events = [{"at": 0, "name": "go", "id": "a", "data": {"id": "a"}},
              {"at": 0, "name": "go", "id": "b", "data": {"id": "b"}},
              {"at": 0.5, "name": "confirm", "data": {"id": "a"}},     # before the wait: no match
              {"at": 5, "name": "confirm", "data": {"id": "a"}}]
    r = run(scenario([fn(steps=steps)], events))
    assert step_times(r) == [("a", "one", 1, 0, 1), ("b", "one", 1, 0, 1),
                             ("a", "two", 1, 5, 6), ("b", "two", 1, 11, 12)]
    waits = r.steps[r.steps["kind"] == "wait"].set_index("run_id")
    runs = by_event(r)
    assert waits.loc[runs.loc["a", "run_id"], "status"] == "matched"
    assert waits.loc[runs.loc["b", "run_id"], "status"] == "timed_out"


def test_retries_back_off_and_lose_their_place():
    # Every attempt fails; one retry; backoff 15 s then 30 s with no jitter (§10).
    f = fn(concurrency=1, retries=1, steps=[{"run": "work", "duration": 10, "failure_rate": 1.0}])
    r = run(scenario([f], [ev(0, id="a"), ev(1, id="b"), ev(2, id="c"), ev(3, id="d")],
                     platform={"profile": "ideal", "retry_jitter": 0}))
    assert step_times(r) == [("a", "work", 1, 0, 10), ("b", "work", 1, 10, 20), ("c", "work", 1, 20, 30),
                             # a's retry was due at 25 but is scored 25 > d's creation (3): d goes first
                             ("d", "work", 1, 30, 40), ("a", "work", 2, 40, 50), ("b", "work", 2, 50, 60),
                             ("c", "work", 2, 60, 70), ("d", "work", 2, 70, 80)]
    runs = by_event(r)
    assert list(runs["status"]) == ["failed"] * 4
    assert runs.loc["a", "ended_at"] == 50


def test_retry_backoff_table_and_jitter_bounds():
    f = fn(retries=3, steps=[{"run": "work", "duration": 1, "failure_rate": 1.0}])
    r = run(scenario([f], [ev(0, id="a")], platform="inngest"))
    starts = [s[3] for s in step_times(r)]
    gaps = [b - a - 1 for a, b in zip(starts, starts[1:])]
    for gap, base in zip(gaps, (15, 30, 60)):
        assert base <= gap < base + 30


def test_start_timeout_cancels_waiting_run():
    r = run(scenario([fn(concurrency=1, timeouts={"start": "5s"})], [ev(0, id="a"), ev(1, id="b"), ev(7, id="c")]))
    runs = by_event(r)
    assert runs.loc["b", "status"] == "cancelled"
    assert runs.loc["b", "cancel_reason"] == "start_timeout"
    assert runs.loc["b", "ended_at"] == 6
    assert step_times(r) == [("a", "work", 1, 0, 10), ("c", "work", 1, 10, 20)]


def test_finish_timeout_cancels_sleeping_run_but_not_final_request():
    steps = [{"run": "one", "duration": 10}, {"sleep": "10s"}, {"run": "two", "duration": 10}]
    r = run(scenario([fn(steps=steps, timeouts={"finish": "15s"})], [ev(0, id="a")]))
    a = by_event(r).loc["a"]
    assert (a["status"], a["cancel_reason"], a["ended_at"]) == ("cancelled", "finish_timeout", 15)
    r2 = run(scenario([fn(steps=[{"run": "long", "duration": 20}], timeouts={"finish": "15s"})], [ev(0, id="a")]))
    a2 = by_event(r2).loc["a"]
    assert (a2["status"], a2["ended_at"]) == ("completed", 20)


def test_peek_window_head_of_line_blocking():
    f = fn(concurrency=[{"key": "event.data.user", "limit": 1}])
    events = [ev(0, id="a1", user="a"), ev(0, id="a2", user="a"), ev(0, id="a3", user="a"), ev(0, id="b1", user="b")]
    r = run(scenario([f], events, platform={"profile": "ideal", "peek_size": 2}))
    times = {e: s for e, _, _, s, _ in step_times(r)}
    assert times == {"a1": 0, "b1": 10, "a2": 10, "a3": 20}
    runs = by_event(r)
    assert r.steps.set_index("run_id").loc[runs.loc["b1", "run_id"], "blocked_by"] == "peek_window"
    # With the default window, b is not held behind a's backlog.
    r2 = run(scenario([f], events))
    assert {e: s for e, _, _, s, _ in step_times(r2)}["b1"] == 0


def test_future_ts_delays_the_start():
    r = run(scenario([fn()], [{"at": 0, "name": "go", "id": "a", "ts": 30}]))
    assert step_times(r) == [("a", "work", 1, 30, 40)]


def test_trigger_if_and_wildcard_and_once_per_event():
    f = {"id": "f", "triggers": [{"event": "user/*", "if": "event.data.ok == true"}, {"event": "user/created"}],
         "steps": [{"run": "s", "duration": 1}]}
    r = run(scenario([f], [ev(0, "user/updated", id="u1", ok=True), ev(0, "user/updated", id="u2", ok=False),
                           ev(0, "user/updated", id="u3"), ev(0, "user/created", id="c1"), ev(0, "other", id="o")]))
    out = dict(zip(r.events["event_id"], r.events["outcome"]))
    assert out == {"u1": "run", "u2": "filtered", "u3": "filtered", "c1": "run"}
    assert len(r.runs) == 2
    assert r.summary()["events"] == {"received": 5, "unmatched": 1}


def test_cancel_on_cancels_queued_run():
    f = fn(concurrency=1, cancelOn=[{"event": "stop", "match": "data.user"}])
    r = run(scenario([f], [ev(0, id="a", user="x"), ev(1, id="b", user="y"), ev(2, "stop", user="y")]))
    runs = by_event(r)
    assert runs.loc["b", "status"] == "cancelled" and runs.loc["b", "cancel_reason"] == "cancel_on"
    assert runs.loc["a", "status"] == "completed"


@pytest.mark.parametrize("horizon, statuses", [(5, {"pending": 2}), (25, {"completed": 2})])
def test_horizon_leaves_pending(horizon, statuses):
    r = run(scenario([fn(concurrency=1)], [ev(0, id="a"), ev(1, id="b")], horizon=horizon))
    assert r.runs["status"].value_counts().to_dict() == statuses
    if horizon == 5:
        assert sorted(r.steps["status"]) == ["pending", "running"]


def test_an_account_limit_that_cannot_bind_is_left_out_with_the_same_result(monkeypatch):
    from flowsim.policies import concurrency
    from flowsim.engine.world import World
    fns = [{"id": f, "triggers": [{"event": "go"}], "concurrency": 2,
            "steps": [{"run": "s", "duration": {"exponential": {"mean": "3s"}}}]} for f in ("a", "b")]
    traffic = [{"event": "go", "arrivals": {"poisson": {"rate": "1/s"}}}]
    within = flowsim.load_scenario(scenario(fns, traffic=traffic, horizon="10m", account={"concurrency": 5}))
    # At 2 + 2 = 4 the account is reached when both functions are full, and refuses first.
    beyond = flowsim.load_scenario(scenario(fns, traffic=traffic, horizon="10m", account={"concurrency": 4}))
    names = lambda sc: [type(c).__name__ + ":" + getattr(c, "reason", "") for c in World(sc).functions[0].constraints]
    assert names(within) == ["LimitConstraint:function"]        # 2 + 2 < 5: never refuses
    assert names(beyond) == ["LimitConstraint:account", "LimitConstraint:function"]
    left_out = flowsim.simulate(within)
    monkeypatch.setattr(concurrency, "account_never_binds", lambda scenario, limit: False)
    kept = flowsim.simulate(within)
    for a, b in ((left_out.events, kept.events), (left_out.runs, kept.runs), (left_out.steps, kept.steps)):
        pd.testing.assert_frame_equal(a, b)
    assert left_out.summary() == kept.summary()
    assert (kept.steps["blocked_by"] != "account").all() and (left_out.steps["blocked_by"] == "function").any()
