"""The shared invariant checkers (flowsim.testing.invariants): each passes on a real
result of its mechanism and fails, naming the run, key and time, on a deliberately broken
copy of it (a fabricated overlap, an over-admitted window, a lost event...), so that none
of them can pass vacuously."""
from __future__ import annotations

import dataclasses
import json

import pytest

import flowsim
from flowsim.testing import (INVARIANTS, InvariantError, check_all, check_batching, check_concurrency,
                             check_conservation, check_debounce, check_littles_law, check_priority_order,
                             check_rate_limit, check_singleton, check_throttle, check_work_conserving)
from tests.helpers import by_event, ev, run, scenario


def fn(steps=None, **kw):
    return {"id": "f", "triggers": [{"event": "go"}], "steps": steps or [{"run": "work", "duration": 10}], **kw}


def broken(result: flowsim.Result, **tables) -> flowsim.Result:
    """A copy of ``result`` with some tables replaced."""
    return dataclasses.replace(result, _summary=None, **tables)


def fails(checker, result, invariant: str, match: str) -> InvariantError:
    with pytest.raises(InvariantError, match=match) as info:
        checker(result)
    assert info.value.invariant == invariant
    assert str(info.value).startswith(f"{invariant}: ")
    return info.value


def set_cells(df, mask, **values):
    df = df.copy()
    for col, value in values.items():
        df.loc[mask, col] = value
    return df


def test_every_checker_is_registered_and_named():
    assert list(INVARIANTS) == ["conservation", "concurrency", "throttle", "rate_limit", "debounce", "batching",
                                "singleton", "priority_order", "work_conserving", "littles_law"]
    assert issubclass(InvariantError, AssertionError)


# -- conservation: a lost event, a run that forgets an event ------------------------------------

def test_conservation_lost_event_and_dangling_run():
    r = run(scenario([fn()], [ev(i, id=f"e{i}") for i in range(4)]))
    check_all(r)
    err = fails(check_conservation, broken(r, events=r.events.iloc[1:].reset_index(drop=True)), "conservation",
                r"missing \[\(\('e0', 'f'\), 1\)\].*event e0 at t=0 for f")
    assert err.where == {"event_id": "e0", "function_id": "f", "time": 0.0}
    runs = set_cells(r.runs, r.runs["run_id"] == "r2", event_ids='["e0"]')
    fails(check_conservation, broken(r, runs=runs), "conservation", "with run r2 of f, but that run does not list it")
    events = set_cells(r.events, r.events["event_id"] == "e3", outcome="vanished")
    fails(check_conservation, broken(r, events=events), "conservation", "unknown outcome 'vanished'")


# -- concurrency: a fabricated overlap ------------------------------------------------------------

def test_concurrency_fabricated_overlap_per_function_and_per_key():
    f = fn(concurrency=[{"limit": 3}, {"key": "event.data.u", "limit": 1}])
    r = run(scenario([f], [ev(0, id="a0", u="a"), ev(1, id="a1", u="a"), ev(2, id="b2", u="b"),
                           ev(3, id="c3", u="c"), ev(4, id="d4", u="d")]))
    check_all(r)
    assert by_event(r)["started_at"].to_dict() == {"a0": 0, "a1": 10, "b2": 2, "c3": 3, "d4": 12}
    a1 = by_event(r).loc["a1", "run_id"]
    steps = set_cells(r.steps, r.steps["run_id"] == a1, started_at=0.5, ended_at=1.5)
    err = fails(check_concurrency, broken(r, steps=steps), "concurrency",
                r"keyed limit event.data.u=a \(f\): 2 requests executing at t=0.5, limit 1 \(run r2 step work")
    assert (err.where["run_id"], err.where["key"], err.where["time"]) == ("r2", "a", 0.5)
    steps = set_cells(r.steps, r.steps["run_id"] == by_event(r).loc["d4", "run_id"], started_at=4.0, ended_at=14.0)
    fails(check_concurrency, broken(r, steps=steps), "concurrency", "function f: 4 requests executing at t=4, limit 3")


def test_concurrency_shared_key_uses_each_functions_own_limit():
    # A shared account-scoped key: f (limit 1) must not start while g (limit 3) runs one.
    shared = {"key": '"db"', "scope": "account"}
    fs = [fn(id="f", concurrency=[{**shared, "limit": 1}]),
          fn(id="g", triggers=[{"event": "g"}], concurrency=[{**shared, "limit": 3}])]
    r = run(scenario(fs, [ev(0, "g", id="g0"), ev(1, id="f1"), ev(2, "g", id="g2")]))
    check_all(r)
    assert by_event(r)["started_at"].to_dict() == {"g0": 0, "f1": 12, "g2": 2}
    f1 = by_event(r).loc["f1", "run_id"]
    steps = set_cells(r.steps, r.steps["run_id"] == f1, started_at=1.0, ended_at=11.0)
    fails(check_concurrency, broken(r, steps=steps), "concurrency", r"keyed limit \"db\"=db \(account\): 2 requests "
                                                                    "executing at t=1, limit 1")


def test_concurrency_zero_length_request_needs_a_free_slot():
    # A zero-time request (a sleep boundary) inside another run's step breaks limit 1.
    f = fn([{"run": "a", "duration": 5}, {"sleep": "1s"}, {"sleep": "1s", "name": "nap"}], concurrency=1)
    r = run(scenario([f], [ev(0, id="e0"), ev(0, id="e1")]))
    check_all(r)
    req = (r.steps["kind"] == "request") & (r.steps["run_id"] == by_event(r).loc["e1", "run_id"])
    t = float(r.steps.loc[req, "started_at"].iloc[0])
    steps = set_cells(r.steps, req, started_at=7.0, ended_at=7.0)
    assert t != 7.0
    fails(check_concurrency, broken(r, steps=steps), "concurrency", "function f: 2 requests executing at t=7")


# -- throttle: an over-admitted window, a dropped run ----------------------------------------------

def test_throttle_over_admitted_window_and_drop():
    f = fn(throttle={"limit": 2, "period": "10s", "burst": 1, "key": "event.data.c"},
           steps=[{"run": "work", "duration": 1}])
    r = run(scenario([f], [ev(0, id=f"e{i}", c="x") for i in range(6)] + [ev(0, id="y", c="y")]))
    check_all(r)
    assert sorted(r.runs["started_at"]) == [0, 0, 0, 0, 5, 10, 15]
    e3 = by_event(r).loc["e3", "run_id"]
    steps = set_cells(r.steps, r.steps["run_id"] == e3, started_at=4.0, ended_at=5.0)
    err = fails(check_throttle, broken(r, steps=steps), "throttle",
                r"f: run r4 started at t=4 on key 'x', the 4th start in \[0, 4\], more than the GCRA bound "
                r"floor\(\(w \+ τ\)/T\) \+ 1 = 3 \(limit 2/10s, burst 1: T=5s, τ=10s\)")
    assert (err.where["run_id"], err.where["key"], err.where["time"]) == ("r4", "x", 4.0)
    runs = set_cells(r.runs, r.runs["run_id"] == e3, started_at=float("nan"), status="completed")
    fails(check_throttle, broken(r, runs=runs), "throttle", "run r4 .* never started but has status completed")


# -- rate limit: an over-admitted window, a wrong drop, an idempotency duplicate -------------------

def test_rate_limit_over_admitted_window_and_wrong_drop():
    # 10/min: hidden burst 1, admitted at t = 0, 1, 6, 12, ...
    r = run(scenario([fn(rateLimit={"limit": 10, "period": "1m", "key": "event.data.k"},
                         steps=[{"run": "work", "duration": 1}])],
                     [ev(t, id=f"e{t}", k="a") for t in range(14)]))
    check_all(r)
    assert by_event(r).index.tolist() == ["e0", "e1", "e6", "e12"]
    events = set_cells(r.events, r.events["event_id"] == "e2", outcome="run")
    err = fails(check_rate_limit, broken(r, events=events), "rate_limit",
                r"f: event e2 admitted by the rate limit at t=2 on key 'a', the 3th admission in \[0, 2\], more than "
                r"the GCRA bound floor\(\(w \+ τ\)/T\) \+ 1 = 2 \(10/60s: T=6s, τ=6s\)")
    assert err.where == {"function_id": "f", "event_id": "e2", "key": "a", "time": 2.0}
    # Without e12's admission, e13 conformed (e12 itself sat exactly on the boundary).
    events = set_cells(r.events, r.events["event_id"] == "e12", outcome="rate_limited")
    fails(check_rate_limit, broken(r, events=events), "rate_limit",
          r"event e13 was dropped as rate_limited at t=13 on key 'a' although the rate limit had capacity \(10/60s, "
          "3 admitted before\\)")


def test_idempotency_key_and_event_id_duplicates():
    r = run(scenario([fn(idempotency="event.data.k", steps=[{"run": "work", "duration": 1}])],
                     [ev(0, id="a", k="x"), ev(5, id="b", k="x"), ev(6, id="c", k="y"), ev(7, id="c", k="z")]))
    check_all(r)
    assert list(zip(r.events["event_id"], r.events["outcome"])) == [("a", "run"), ("b", "duplicate"), ("c", "run"),
                                                                    ("c", "duplicate")]
    events = set_cells(r.events, r.events["event_id"] == "b", outcome="run")
    fails(check_rate_limit, broken(r, events=events), "rate_limit",
          r"event b admitted by the idempotency at t=5 on key 'x'.*\(1/86400s")
    # a second run of event id c (the engine dropped it as a duplicate of the event id)
    runs = r.runs.copy()
    extra = runs.iloc[-1].copy()
    extra["run_id"], extra["created_at"] = "r9", 7.0
    runs.loc[len(runs)] = extra
    fails(check_rate_limit, broken(r, runs=runs), "rate_limit",
          "run r9 was created at t=7 from event id c, which already started run r2 at t=6")


# -- debounce: a run with a superseded event ------------------------------------------------------

def test_debounce_run_with_a_stale_event():
    sc = flowsim.load_scenario(scenario([fn(debounce={"period": "10s", "key": "event.data.d"})],
                                        [ev(t, id=f"e{t}", d="x") for t in range(5)] + [{**ev(5, id="old", d="x"),
                                                                                           "ts": 1}]))
    r = flowsim.simulate(sc, explain=True)
    check_all(r)
    (rid,) = r.runs["run_id"]
    assert json.loads(r.runs.iloc[0]["event_ids"]) == ["e4"]
    runs = set_cells(r.runs, r.runs["run_id"] == rid, event_ids='["e2"]')
    events = r.events.copy()
    events.loc[events["event_id"] == "e2", ["outcome", "run_id"]] = ["run", rid]
    events.loc[events["event_id"] == "e4", ["outcome", "run_id"]] = ["debounced", ""]
    err = fails(check_debounce, broken(r, runs=runs, events=events), "debounce",
                r"f, key 'x': run r1 was created at t=14 with event e2 \(at t=2, ts 2\), but event e3 \(ts 3, "
                r"outcome debounced\) arrived at t=3 in the same generation")
    assert (err.where["event_id"], err.where["key"], err.where["time"]) == ("e3", "x", 3.0)
    # The decision log, when kept, must tell the same story.
    log = r.log.copy()
    fire = log.index[(log["kind"] == "debounce") & log["facts"].str.contains('"events"')][0]
    log.loc[fire, "facts"] = log.loc[fire, "facts"].replace('"e4"', '"e3"')
    fails(check_debounce, broken(r, log=log), "debounce", r"generation 1 fired with event e3 \(5 events\) but its "
                                                          r"members were \['e0', 'e1', 'e2', 'e3', 'e4'\]")


# -- batching: a batch past its timeout, an oversized batch ------------------------------------------

def test_batching_timeout_and_size():
    r = run(scenario([fn(batchEvents={"maxSize": 3, "timeout": "5s", "key": "event.data.k"},
                         steps=[{"run": "work", "duration": 1}])],
                     [ev(0, id="a0", k="a"), ev(1, id="a1", k="a"), ev(2, id="b2", k="b"), ev(3, id="a3", k="a")]))
    check_all(r)
    rid = r.events.set_index("event_id").loc["b2", "run_id"]
    runs = set_cells(r.runs, r.runs["run_id"] == rid, created_at=9.0)
    err = fails(check_batching, broken(r, runs=runs), "batching", r"f: batch run r2 was created at t=9, more than "
                                                                   r"timeout 5s \(\+ 0s buffer\) after its first event")
    assert err.where == {"function_id": "f", "run_id": "r2", "time": 9.0}
    runs = set_cells(r.runs, r.runs["run_id"] == rid, created_at=4.0)
    fails(check_batching, broken(r, runs=runs), "batching", "of 1 < maxSize 3 events was created at t=4, before its "
                                                            "timeout")
    full = r.events.set_index("event_id").loc["a0", "run_id"]
    events = set_cells(r.events, r.events["event_id"] == "b2", run_id=full)
    runs = set_cells(r.runs, r.runs["run_id"] == full, event_ids='["a0", "a1", "b2", "a3"]')
    fails(check_batching, broken(r, runs=runs, events=events), "batching", "has 4 events, maxSize 3")


# -- singleton: a fabricated overlap, a skip without a holder -----------------------------------------

def test_singleton_overlap_and_skip_without_holder():
    r = run(scenario([fn(singleton={"key": "event.data.u"})],
                     [ev(0, id="a0", u="a"), ev(5, id="a5", u="a"), ev(12, id="a12", u="a"), ev(1, id="n")]))
    check_all(r)
    first = by_event(r).loc["a0", "run_id"]
    runs = set_cells(r.runs, r.runs["run_id"] == first, ended_at=13.0)
    err = fails(check_singleton, broken(r, runs=runs), "singleton",
                r"f, key 'a': run r4 was created at t=12 while run r1 \(created at t=0\) held the lock until t=13")
    assert (err.where["run_id"], err.where["key"], err.where["time"]) == ("r4", "a", 12.0)
    runs = set_cells(r.runs, r.runs["run_id"] == first, ended_at=4.0)
    fails(check_singleton, broken(r, runs=runs), "singleton", "run r3 was skipped at t=5 although no run held the lock")
    runs = set_cells(r.runs, r.runs["run_id"] == by_event(r).loc["n", "run_id"], keys='{"singleton": "false"}')
    fails(check_singleton, broken(r, runs=runs), "singleton", "records lock key 'false' but its event n gives None")


# -- the queue: priority order, work conservation ------------------------------------------------------

def test_priority_order_swapped_starts():
    f = fn(concurrency=1, priority={"run": "event.data.tier == 'hi' ? 5 : 0"})
    r = run(scenario([f], [ev(i, id=f"e{i}") for i in range(4)] + [ev(2.5, id="h", tier="hi")]))
    check_all(r)
    runs = by_event(r)
    assert runs["started_at"].to_dict() == {"e0": 0, "h": 10, "e1": 20, "e2": 30, "e3": 40}
    steps = r.steps.copy()
    for e, t in (("h", 20.0), ("e1", 10.0)):
        steps.loc[steps["run_id"] == runs.loc[e, "run_id"], ["started_at", "ended_at"]] = [t, t + 10]
    err = fails(check_priority_order, broken(r, steps=steps), "priority_order",
                r"f: run r2 step work started at t=10 with score 1 \(priority factor 0\) while run r4 step work with a "
                r"lower place in the queue \(score -2.5\) had been waiting since t=2.5")
    assert err.where == {"function_id": "f", "run_id": "r2", "time": 10.0}


def test_priority_order_ties_go_to_the_older_run():
    r = run(scenario([fn(concurrency=1)], [ev(0, id="e0"), ev(1, id="e1"), ev(1, id="e2")]))
    check_all(r)
    steps = r.steps.copy()
    for e, t in (("e1", 20.0), ("e2", 10.0)):
        steps.loc[steps["run_id"] == by_event(r).loc[e, "run_id"], ["started_at", "ended_at"]] = [t, t + 10]
    fails(check_priority_order, broken(r, steps=steps), "priority_order", "run r3 step work started at t=10")


def test_work_conserving_idle_slot():
    r = run(scenario([fn(concurrency=2)], [ev(0, id="e0"), ev(1, id="e1"), ev(2, id="e2")]))
    check_all(r)
    e2 = by_event(r).loc["e2", "run_id"]
    assert by_event(r).loc["e2", "started_at"] == 10
    steps = set_cells(r.steps, r.steps["run_id"] == e2, started_at=12.0, ended_at=22.0)
    err = fails(check_work_conserving, broken(r, steps=steps), "work_conserving",
                r"f: from t=10 to t=11 run r3 step work waited \(ready since t=2\) while 1 of 2 function slots and 1 "
                r"of 1000 account slots were in use")
    assert err.where == {"function_id": "f", "run_id": "r3", "time": 10.0}


# -- Little's law: a lost run, a run ending before it began ---------------------------------------------

def test_littles_law_lost_run_and_negative_sojourn():
    r = run(scenario([fn()], [ev(i, id=f"e{i}") for i in range(5)], horizon="12s"))
    check_all(r)
    assert set(r.runs["status"]) == {"completed", "pending"}           # censored at the horizon
    lost = broken(r, runs=r.runs.iloc[1:].reset_index(drop=True))
    fails(check_littles_law, lost, "littles_law", r"all functions: L = .* but λ·W = 5/12 × .* \(the events table "
                                                  r"refers to 5 runs, the runs table has 4\)")
    runs = set_cells(r.runs, r.runs["run_id"] == "r1", ended_at=-1.0)
    err = fails(check_littles_law, broken(r, runs=runs), "littles_law", "run r1 is in the system from t=0 to t=-1")
    assert err.where == {"run_id": "r1", "time": 0.0}


def test_check_all_on_a_scenario_with_every_mechanism():
    fs = [fn(id="thr", throttle={"limit": 1, "period": "2s"}, concurrency=[{"limit": 3}, {"key": "event.data.u",
                                                                                          "limit": 1}]),
          fn(id="rl", rateLimit={"limit": 2, "period": "5s"}, priority={"run": "event.data.u == 'a' ? 9 : 0"},
             concurrency=1),
          fn(id="deb", debounce={"period": "2s", "key": "event.data.u"}, singleton={"mode": "cancel"}),
          fn(id="bat", triggers=[{"event": "go"}, {"event": "other"}], batchEvents={"maxSize": 3, "timeout": "2s"})]
    events = [ev(i * 0.5, "go" if i % 3 else "other", id=f"e{i}", u="ab"[i % 2]) for i in range(40)]
    for platform in ("ideal", "inngest"):
        r = run(scenario(fs, events, horizon="2m", platform=platform))
        assert check_all(r) == list(INVARIANTS)
        assert check_all(r, only=["littles_law"]) == ["littles_law"]


def test_debounce_log_check_with_a_repeated_event_id():
    """An id two events carry (e9 debounced, then e9 again, which runs) is ambiguous in the
    decision log: the check must not take the first e9's ts for the fired one."""
    sc = {"name": "drawn", "seed": 1, "horizon": 13.0, "platform": "ideal",
          "functions": [{"id": "f0", "triggers": [{"event": "go"}], "steps": [{"run": "s0", "duration": 5.0}],
                         "debounce": {"period": "4s", "key": "event.data.user"}}],
          "traffic": [{"name": "drawn", "events": [
              {"at": 6.0, "name": "go", "id": "e9"}, {"at": 8.0, "name": "go", "id": "e6", "ts": 9.0},
              {"at": 8.0, "name": "go", "id": "e9", "ts": 9.0}]}]}
    result = flowsim.simulate(flowsim.load_scenario(sc), explain=True)
    assert list(result.events["outcome"]) == ["debounced", "debounced", "run"]
    check_debounce(result)
