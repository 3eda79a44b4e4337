"""Singleton (spec §8): hand-worked timelines on ``ideal``, validation, a property test
over random streams, and the Erlang-B check of skip mode (spec README)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import flowsim
import flowsim.streams
from flowsim.errors import ScenarioError
from flowsim.platform import IDEAL, INNGEST
from flowsim.policies.singleton import SingletonConfig
from flowsim.scenario.source import Node, Source
from flowsim.testing import check_conservation, check_singleton
from tests.helpers import by_event, ev, run, scenario, step_times


def fn(singleton, steps=None, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "singleton": singleton,
            "steps": steps or [{"run": "work", "duration": 10}]}
    base.update(kw)
    return base


def outcomes(r):
    return dict(zip(r.events["event_id"], r.events["outcome"]))


# -- skip mode ----------------------------------------------------------------------------

def test_skip_while_holder_sleeps():
    # a: work 0-5, sleep 5-15, finish 15-20. b arrives during the sleep: a still holds the lock.
    steps = [{"run": "one", "duration": 5}, {"sleep": "10s"}, {"run": "two", "duration": 5}]
    r = run(scenario([fn({"key": "event.data.db"}, steps)],
                     [ev(0, id="a", db="x"), ev(8, id="b", db="x"), ev(21, id="c", db="x")]))
    assert outcomes(r) == {"a": "run", "b": "singleton_skipped", "c": "run"}
    runs = by_event(r)
    holder = runs.loc["a", "run_id"]
    b = runs.loc["b"]
    assert (b["status"], b["created_at"], b["ended_at"]) == ("skipped", 8, 8)
    assert math.isnan(b["started_at"])
    assert holder in b["cancel_reason"]
    row = r.events.set_index("event_id").loc["b"]
    assert holder in row["reason"] and row["key"] == "x" and row["run_id"] == b["run_id"]
    assert runs.loc["a", "ended_at"] == 20
    assert step_times(r) == [("a", "one", 1, 0, 5), ("a", "two", 1, 15, 20),
                             ("c", "one", 1, 21, 26), ("c", "two", 1, 36, 41)]
    assert json.loads(runs.loc["a", "keys"]) == {"singleton": "x"}


def test_skip_while_holder_is_queued_behind_concurrency():
    # Function limit 1: x1 runs 0-10, a1 (created at 1) waits in the queue until 10 and
    # holds the lock from its enqueue, so a2 at 5 is skipped although nothing of a runs.
    r = run(scenario([fn({"key": "event.data.user"}, concurrency=1)],
                     [ev(0, id="x1", user="x"), ev(1, id="a1", user="a"), ev(5, id="a2", user="a"),
                      ev(21, id="a3", user="a")]))
    assert outcomes(r) == {"x1": "run", "a1": "run", "a2": "singleton_skipped", "a3": "run"}
    assert step_times(r) == [("x1", "work", 1, 0, 10), ("a1", "work", 1, 10, 20), ("a3", "work", 1, 21, 31)]
    runs = by_event(r)
    assert runs.loc["a1", "run_id"] in runs.loc["a2", "cancel_reason"]
    steps = r.steps.set_index("run_id")
    assert steps.loc[runs.loc["a1", "run_id"], "blocked_by"] == "function"


def test_lock_released_when_run_completes():
    r = run(scenario([fn({})], [ev(0, id="a"), ev(9.75, id="b"), ev(10.25, id="c"), ev(15, id="d")]))
    assert outcomes(r) == {"a": "run", "b": "singleton_skipped", "c": "run", "d": "singleton_skipped"}
    runs = by_event(r)
    assert runs.loc["c", "run_id"] in runs.loc["d", "cancel_reason"]
    # No key: one lock per function, named by the function id.
    assert r.events.set_index("event_id").loc["b", "key"] == "f"
    assert step_times(r) == [("a", "work", 1, 0, 10), ("c", "work", 1, 10.25, 20.25)]


def test_two_keys_are_independent():
    r = run(scenario([fn({"key": "event.data.user"})],
                     [ev(0, id="a1", user="a"), ev(1, id="b1", user="b"), ev(2, id="a2", user="a"),
                      ev(3, id="b2", user="b"), ev(10.5, id="a3", user="a")]))
    assert outcomes(r) == {"a1": "run", "b1": "run", "a2": "singleton_skipped", "b2": "singleton_skipped",
                           "a3": "run"}
    assert step_times(r) == [("a1", "work", 1, 0, 10), ("b1", "work", 1, 1, 11), ("a3", "work", 1, 10.5, 20.5)]
    runs = by_event(r)
    assert runs.loc["a1", "run_id"] in runs.loc["a2", "cancel_reason"]
    assert runs.loc["b1", "run_id"] in runs.loc["b2", "cancel_reason"]


def test_key_false_means_no_lock():
    # Events without `db`: the key is false (§2.1), they are not singletons and overlap freely;
    # events with `db` still lock.
    r = run(scenario([fn({"key": "event.data.db"})],
                     [ev(0, id="n1"), ev(1, id="n2"), ev(2, id="n3"), ev(3, id="d1", db="x"),
                      ev(4, id="d2", db="x"), ev(5, id="n4")]))
    assert outcomes(r) == {"n1": "run", "n2": "run", "n3": "run", "d1": "run", "d2": "singleton_skipped",
                           "n4": "run"}
    starts = {e: s for e, _, _, s, _ in step_times(r)}
    assert starts == {"n1": 0, "n2": 1, "n3": 2, "d1": 3, "n4": 5}
    runs = by_event(r)
    assert json.loads(runs.loc["n1", "keys"]) == {}
    assert json.loads(runs.loc["d1", "keys"]) == {"singleton": "x"}


def test_key_error_ignores_singleton_with_a_warning():
    sc = flowsim.load_scenario(scenario([fn({"key": "event.data.n / event.data.d"})],
                                        [ev(0, id="e1", n=1, d=0), ev(1, id="e2", n=1, d=0),
                                         ev(2, id="k1", n=4, d=2), ev(3, id="k2", n=4, d=2)]))
    r = flowsim.simulate(sc, explain=True)
    assert outcomes(r) == {"e1": "run", "e2": "run", "k1": "run", "k2": "singleton_skipped"}
    warnings = r.log[r.log["kind"] == "singleton"]
    assert len(warnings) == 2 and all("division by zero" in m for m in warnings["message"])
    assert r.events.set_index("event_id").loc["k2", "key"] == "2"


def test_failing_run_in_retry_backoff_holds_the_lock():
    # a fails at 10, retries at 10 + 15 s (no jitter) = 25, fails again at 35: failed.
    f = fn({}, steps=[{"run": "work", "duration": 10, "failure_rate": 1.0}], retries=1)
    r = run(scenario([f], [ev(0, id="a"), ev(20, id="b"), ev(36, id="c")],
                     platform={"profile": "ideal", "retry_jitter": 0}))
    assert outcomes(r) == {"a": "run", "b": "singleton_skipped", "c": "run"}
    runs = by_event(r)
    assert (runs.loc["a", "status"], runs.loc["a", "ended_at"]) == ("failed", 35)
    assert runs.loc["a", "run_id"] in runs.loc["b", "cancel_reason"]
    assert [s for s in step_times(r) if s[0] == "c"][0][3] == 36


# -- cancel mode --------------------------------------------------------------------------

def test_cancel_mode_burst_cancels_each_holder_and_keeps_the_executing_slot():
    # Function limit 1. e1 executes 0-10; e2 at 2 cancels e1 (its request keeps the slot
    # until 10, result discarded) and queues; e3 at 4 cancels the queued e2 and queues;
    # e3 starts only when e1's request ends at 10. e4 at 25 finds the lock free.
    r = run(scenario([fn({"mode": "cancel"}, concurrency=1)],
                     [ev(0, id="e1"), ev(2, id="e2"), ev(4, id="e3"), ev(25, id="e4")]))
    assert outcomes(r) == {"e1": "run", "e2": "run", "e3": "run", "e4": "run"}
    runs = by_event(r)
    got = {e: (runs.loc[e, "status"], runs.loc[e, "cancel_reason"], runs.loc[e, "ended_at"]) for e in runs.index}
    assert got == {"e1": ("cancelled", "singleton", 2), "e2": ("cancelled", "singleton", 4),
                   "e3": ("completed", "", 20), "e4": ("completed", "", 35)}
    assert math.isnan(runs.loc["e2", "started_at"])
    steps = r.steps.set_index("run_id")
    e1_step = steps.loc[runs.loc["e1", "run_id"]]
    assert (e1_step["started_at"], e1_step["ended_at"], e1_step["status"]) == (0, 10, "cancelled")
    e2_step = steps.loc[runs.loc["e2", "run_id"]]
    assert e2_step["status"] == "cancelled" and math.isnan(e2_step["started_at"])
    assert step_times(r) == [("e1", "work", 1, 0, 10), ("e3", "work", 1, 10, 20), ("e4", "work", 1, 25, 35)]
    assert steps.loc[runs.loc["e3", "run_id"], "blocked_by"] == "function"


def test_cancel_mode_race_skips_the_late_run():
    # With 0.5 s between the lock's release and the enqueue (§8.2): e2 at 2 cancels e1's
    # run and is enqueued at 2.5; e3 at 2.25 finds the lock free and takes it, so e2's run
    # is skipped at 2.5. e4 at 5 cancels e3's run and is enqueued at 5.5.
    r = run(scenario([fn({"mode": "cancel"})],
                     [ev(0, id="e1"), ev(2, id="e2"), ev(2.25, id="e3"), ev(5, id="e4")],
                     platform={"profile": "ideal", "singleton_cancel_gap": 0.5}))
    assert outcomes(r) == {"e1": "run", "e2": "singleton_skipped", "e3": "run", "e4": "run"}
    runs = by_event(r)
    got = {e: (runs.loc[e, "status"], runs.loc[e, "created_at"], runs.loc[e, "ended_at"]) for e in runs.index}
    assert got == {"e1": ("cancelled", 0, 2), "e2": ("skipped", 2.5, 2.5), "e3": ("cancelled", 2.25, 5),
                   "e4": ("completed", 5.5, 15.5)}
    assert runs.loc["e3", "run_id"] in runs.loc["e2", "cancel_reason"]
    assert step_times(r) == [("e1", "work", 1, 0, 10), ("e3", "work", 1, 2.25, 12.25), ("e4", "work", 1, 5.5, 15.5)]


def test_cancel_gap_profiles():
    assert INNGEST.singleton_cancel_gap == 0.01
    assert IDEAL.singleton_cancel_gap == 0.0


# -- validation ---------------------------------------------------------------------------

def _parse(fn_value: dict):
    src = Source("<dict>")
    root = Node({"functions": [fn_value]}, (), src)
    fnode = root.child("functions").child(0)
    return SingletonConfig.parse(fnode.get("singleton"), fnode, root)


def test_parse_defaults_and_modes():
    cfg = _parse({"singleton": {"key": "event.data.user"}})
    assert cfg.mode == "skip" and cfg.key.text == "event.data.user"
    cfg = _parse({"singleton": {"mode": "cancel"}})
    assert cfg.mode == "cancel" and cfg.key is None
    assert _parse({}) is None


def test_parse_rejects_batching_sibling():
    with pytest.raises(ScenarioError, match="Batching and singletons are mutually exclusive"):
        _parse({"singleton": {}, "batchEvents": {"maxSize": 10, "timeout": "5s"}})


@pytest.mark.parametrize("singleton, field, message", [
    ({"mode": "queue"}, "functions[0].singleton.mode", "expected one of skip, cancel"),
    ({"key": "event.data."}, "functions[0].singleton.key", "Invalid singleton key"),
    ({"mode": "skip", "limit": 1}, "functions[0].singleton.limit", "unknown field 'limit'"),
])
def test_validation_errors(singleton, field, message):
    with pytest.raises(ScenarioError) as exc:
        flowsim.load_scenario(scenario([fn(singleton)], [ev(0)]))
    assert exc.value.field == field and message in exc.value.message


def test_batching_and_singleton_rejected_at_load():
    f = fn({"key": "event.data.user"}, batchEvents={"maxSize": 10, "timeout": "5s"})
    with pytest.raises(ScenarioError, match="Batching and singletons are mutually exclusive"):
        flowsim.load_scenario(scenario([f], [ev(0)]))


# -- property: the lock is exclusive, every event has one outcome ---------------------------

event_st = st.tuples(st.floats(0, 4, allow_nan=False), st.sampled_from(["a", "b", None]),
                     st.floats(0.1, 6, allow_nan=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(["skip", "cancel"]), stream=st.lists(event_st, min_size=1, max_size=25),
       sleep=st.booleans(), limit=st.sampled_from([None, 1]), gap=st.sampled_from([0.0, 0.3]),
       fail=st.sampled_from([0.0, 0.4]))
def test_property_lock_exclusive_and_one_outcome(mode, stream, sleep, limit, gap, fail):
    steps = [{"run": "work", "duration": 1, "failure_rate": fail}]
    if sleep:
        steps += [{"sleep": "2s"}, {"run": "tail", "duration": 1}]
    f = fn({"key": "event.data.k", "mode": mode}, steps, retries=1)
    if limit:
        f["concurrency"] = limit
    events, t = [], 0.0
    for i, (dt, key, d) in enumerate(stream):
        t += dt
        data = {"k": key} if key else {}
        events.append({"at": t, "name": "go", "id": f"e{i}", "data": data, "durations": {"work": d}})
    r = run(scenario([f], events, horizon="10h",
                     platform={"profile": "ideal", "retry_jitter": "1s", "singleton_cancel_gap": gap}))
    # Every event exactly one outcome, consistent with the runs table.
    assert sorted(r.events["event_id"]) == sorted(e["id"] for e in events)
    assert set(r.events["outcome"]) <= {"run", "singleton_skipped"}
    runs = r.runs
    run_events = {rid: json.loads(ids) for rid, ids in zip(runs["run_id"], runs["event_ids"])}
    status = dict(zip(runs["run_id"], runs["status"]))
    keyed = {e["id"]: e["data"].get("k") for e in events}
    for row in r.events.itertuples():
        assert run_events[row.run_id] == [row.event_id]
        assert (status[row.run_id] == "skipped") == (row.outcome == "singleton_skipped")
        if row.outcome == "singleton_skipped":
            assert keyed[row.event_id] is not None and row.key == keyed[row.event_id]
    assert len(runs) == len(events)
    check_conservation(r)
    # Runs holding the same key never overlap, from creation to end; each holds the key of
    # its event (none when the field is missing); skips happen while the key is held.
    check_singleton(r)
    # Skip mode never cancels; cancel mode skips only when the release-to-enqueue gap is open.
    if mode == "skip":
        assert "cancelled" not in set(runs["status"])
    elif gap == 0:
        assert "skipped" not in set(runs["status"])


# -- statistics: skip mode is an Erlang loss system with one server -----------------------

def ci(values: list[float], level: float = 0.99) -> tuple[float, float]:
    """Student-t confidence interval of the mean of independent replications."""
    arr = np.asarray(values)
    half = stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half)


@pytest.mark.parametrize("duration, mean", [
    ({"exponential": {"mean": 0.5}}, 0.5), ({"exponential": {"mean": 2.0}}, 2.0),
    ({"constant": 0.5}, 0.5), ({"constant": 2.0}, 2.0),
])
def test_skip_probability_is_erlang_b(duration, mean):
    # P(skip) = a/(1+a) whatever the run-time distribution (M/G/1/1 loss, insensitivity).
    # Four cases at 99% each: a false alarm in about 4% of seed choices.
    lam, horizon, warmup = 1.0, 4000.0, 20.0
    sc = flowsim.load_scenario({
        "name": "erlang-b", "horizon": horizon, "platform": "ideal",
        "functions": [fn({}, [{"run": "work", "duration": duration}])],
        "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]})
    fractions = []
    for seed in flowsim.streams.replication_seeds(2024, 8):
        ev_ = flowsim.simulate(sc, seed).events
        ev_ = ev_[ev_["at"] >= warmup]
        fractions.append(float((ev_["outcome"] == "singleton_skipped").mean()))
    a = lam * mean
    expected = a / (1 + a)
    lo, hi = ci(fractions)
    assert lo <= expected <= hi, f"P(skip) {expected:.4f} outside 99% CI [{lo:.4f}, {hi:.4f}]"
