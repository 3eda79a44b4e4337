"""Key queues (spec §3.4, §2.4): hand-worked timelines of the shadow scanner on Inngest's
constants (ticks of 100 ms, a lookahead of 2 s, refills of 20, requeue back-offs), the
weighted shuffle's weights against their closed form, and the continuous ``ideal`` scanner.

Times in these timelines are computed from the constants: an item enqueued at a time that is
not a tick is refilled at the next tick (``ceil(t / 0.1) · 0.1``) when its function is due;
a function whose pointer was pushed into the future is due at the first tick ``t`` with
``floor(t) + 2 ≥ pointer`` (``scan.go``: ``now.Truncate(1s) + ShadowPartitionLookahead``).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import flowsim
from flowsim.engine.backlogs import BACKLOG, weighted_order
from flowsim.engine.world import World
from flowsim.testing import check_concurrency

from tests.helpers import by_event, ev, run, scenario, step_times

KQ = {"key_queues": True}


def fn(**kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "10s"}]}
    base.update(kw)
    return base


def start_of(result, event_id, step="work", attempt=1):
    return next(s[3] for s in step_times(result) if s[0] == event_id and s[1] == step and s[2] == attempt)


# -- the noisy key and the other key (the timeline) ---------------------------------------

NOISY = [ev(0, id=f"a{i}", t="A") for i in range(1000)] + [ev(5.05, id="b", t="B")]


def noisy(platform, key_queues):
    f = fn(concurrency=[{"key": "event.data.t", "limit": 1}], steps=[{"run": "work", "duration": "0.3s"}])
    return run(scenario([f], NOISY, platform=platform, account={"key_queues": key_queues}, horizon="10m"))


def test_a_noisy_key_at_its_limit_no_longer_hides_another_key():
    # 1,000 runs of key A (limit 1, 0.3 s each) queued at 0; B arrives at 5.05.
    # Default path: the walk peeks 300 items, all of A, so B is not seen until 700 of A have
    # started: a699 ends at 700 × 0.3 = 210 s, when B enters the window and starts.
    base = noisy("inngest", False)
    assert start_of(base, "b") == pytest.approx(210.0)
    assert start_of(base, "b") - 5.05 > 200
    assert base.steps.set_index("run_id").loc[by_event(base).loc["b", "run_id"], "blocked_by"] == "peek_window"
    # Key queues: B has its own backlog; A's is refused at every tick (keyed limit, requeued at
    # once), so the function is due at every tick and B is refilled at the first one after its
    # arrival, ceil(5.05 / 0.1) · 0.1 = 5.1 s.
    kq = noisy("inngest", True)
    assert start_of(kq, "b") == 5.1
    steps = kq.steps.set_index("run_id")
    assert steps.loc[by_event(kq).loc["b", "run_id"], "blocked_by"] == BACKLOG
    assert steps.loc[by_event(kq).loc["a999", "run_id"], "blocked_by"] == "concurrency:event.data.t=A"
    assert kq.binding().iloc[0]["constraint"] == "concurrency:event.data.t"
    # Ideal: the scanner is continuous, B starts at its arrival.
    assert start_of(noisy("ideal", True), "b") == 5.05


def test_a_freed_slot_waits_for_the_next_tick():
    # a0 starts at the tick at 0.1 and ends at 10.1; a1 (same key) is refilled at the first tick at
    # or after it. A release pulls no pointer: nothing happens between ticks (dequeue.lua).
    sc = scenario([fn(concurrency=[{"key": "event.data.k", "limit": 1}])],
                  [ev(0.05, id="a0", k="A"), ev(0.05, id="a1", k="A"), ev(10.12, id="b0", k="B")],
                  platform="inngest", account=KQ, horizon="1m")
    assert step_times(run(sc)) == [("a0", "work", 1, 0.1, 10.1), ("a1", "work", 1, 10.1, 20.1),
                                   ("b0", "work", 1, 10.2, 20.2)]


# -- refills --------------------------------------------------------------------------------------

def test_a_refill_moves_at_most_refill_size_items():
    events = [ev(0.05, id=f"e{i}") for i in range(50)]
    sc = scenario([fn()], events, platform="inngest", account=KQ, horizon="1m")
    starts = Counter(s[3] for s in step_times(run(sc)))
    assert starts == {0.1: 20, 0.2: 20, 0.3: 10}          # one refill of 20 per backlog per tick
    sc["platform"] = {"profile": "inngest", "refill_size": 7}
    assert Counter(s[3] for s in step_times(run(sc))) == {0.1: 7, 0.2: 7, 0.3: 7, 0.4: 7, 0.5: 7, 0.6: 7,
                                                          0.7: 7, 0.8: 1}
    sc["platform"] = "ideal"        # continuous: the scanner comes back at once while items are left
    assert Counter(s[3] for s in step_times(run(sc))) == {0.05: 50}


def multiplier_events():
    """45 runs of throttle key w whose first steps (refilled 20, 20, 5 at 0.1, 0.2, 0.3) all end
    near 1.15 s, so 45 second steps wait in the default backlog at the tick 1.2, beside three
    start backlogs (keys x, y, z)."""
    out = []
    for i in range(45):
        e = ev(0.05, id=f"w{i}", k="w")
        e["durations"] = {"a": 1.05 if i < 20 else 0.95 if i < 40 else 0.85}
        out.append(e)
    return out + [ev(1.16, id=k, k=k) for k in "xyz"]


def test_throttle_without_keys_refills_the_default_backlog_first_and_many_times():
    two = [{"run": "a", "duration": "1s"}, {"run": "b", "duration": "5s"}]
    throttled = fn(steps=two, throttle={"limit": 100, "period": "1s", "key": "event.data.k"})
    r = run(scenario([throttled], multiplier_events(), platform="inngest", account=KQ, horizon="1m"))
    # BacklogRefillMultiplier: the default backlog goes first, refilled up to len(backlogs) = 5
    # times (itself in front, then the four peeked), so all 45 second steps start at 1.2.
    assert Counter(s[3] for s in step_times(r) if s[1] == "b" and s[0].startswith("w")) == {1.2: 45}
    plain = fn(steps=two)           # no throttle: one refill of 20 per tick
    r = run(scenario([plain], multiplier_events(), platform="inngest", account=KQ, horizon="1m"))
    assert Counter(s[3] for s in step_times(r) if s[1] == "b" and s[0].startswith("w")) == {1.2: 20, 1.3: 20,
                                                                                         1.4: 5}


# -- requeue back-offs -------------------------------------------------------------------------------

def keyed_pair(platform):
    sc = scenario([fn(concurrency=[{"key": "event.data.k", "limit": 1}])],
                  [ev(0.05, id="a0", k="A"), ev(0.05, id="a1", k="A")], platform=platform, account=KQ, horizon="1m")
    return start_of(run(sc), "a1")


def test_keyed_limit_back_off():
    # At the spec's snapshot nothing counts successive hits any more: a keyed-limited backlog is
    # requeued at once, and a1 is refilled at the tick of a0's end (10.1).
    assert keyed_pair("inngest") == 10.1
    # With the spec's min(hits s, 5 s): refusals at 0.1 (a0 granted, A exhausted: back-off 0),
    # 0.2 (+1 s), 0.3 (+2 s), 0.4 (+3 s: due at 1.4, the function at floor(t) ≥ 1.4, so 2.0),
    # 2.0 (+4 s → 6.0, scanned at 4.0), 4.0 (+5 s → 9.0, at 7.0), 7.0 (→ 12.0, at 10.0, a0 still
    # running until 10.1), 10.0 (→ 15.0, at 13.0): a1 starts at 13.0.
    assert keyed_pair({"profile": "inngest", "key_backoff_step": "1s"}) == 13.0
    assert keyed_pair("ideal") == 10.05


def test_function_limit_cut_short_requeues_the_function_for_five_seconds():
    f = fn(concurrency=2, steps=[{"run": "work", "duration": "0.5s"}])
    three = [ev(0.05, id="a"), ev(0.05, id="b"), ev(0.05, id="c")]
    # Tick 0.1: the refill grants a and b, then the function limit is exhausted with c left: the
    # function is requeued to 0.1 + 5 = 5.1 (its backlog to 0.1 + 2 = 2.1), so it is scanned
    # again at the first tick with floor(t) + 2 ≥ 5.1: 4.0, although a and b end at 0.6.
    assert step_times(run(scenario([f], three, platform="inngest", account=KQ, horizon="1m"))) == [
        ("a", "work", 1, 0.1, 0.6), ("b", "work", 1, 0.1, 0.6), ("c", "work", 1, 4.0, 4.5)]
    # An enqueue pulls the pointer back (enqueue_to_backlog): d at 1.05, scanned at 1.1.
    assert step_times(run(scenario([f], three + [ev(1.05, id="d")], platform="inngest", account=KQ,
                                   horizon="1m")))[2:] == [("c", "work", 1, 1.1, 1.6), ("d", "work", 1, 1.1, 1.6)]
    assert start_of(run(scenario([f], three, platform="ideal", account=KQ, horizon="1m")), "c") == 0.55


def test_a_throttled_backlog_is_requeued_at_most_five_minutes_ahead():
    f = fn(throttle={"limit": 1, "period": "1h"}, steps=[{"run": "work", "duration": "1s"}])
    sc = flowsim.load_scenario(scenario([f], [ev(0.05, id="a"), ev(0.06, id="b")], platform="inngest",
                                        account=KQ, horizon="2h"))
    world = World(sc)
    part = world.functions[0].queue
    seen = []
    world.call_at(1.0, lambda: seen.append(part.backlogs["start throttle"].pointer))
    world.run()
    # At 0.1 a takes the throttle; b's retry time is 0.1 + 3600 s, capped to 0.1 + 300 s.
    assert seen == [pytest.approx(300.1)]
    result = flowsim.simulate(sc)
    assert start_of(result, "b") == pytest.approx(3600.1)


# -- leases held in the ready queue (§2.4) --------------------------------------------------------------

def retried(events, key_queues, profile="inngest"):
    f = fn(concurrency=1, retries=1, steps=[{"run": "work", "duration": "1s", "failure_rate": 1.0}],
           cancelOn=[{"event": "stop", "match": "data.k"}])
    return run(scenario([f], events, platform={"profile": profile, "retry_jitter": 0}, account={"key_queues": key_queues},
                        horizon="1m"))


def rows(result):
    """(event, attempt, started_at or None, status) of every step row."""
    return [(by_event_id(result, s.run_id), int(s.attempt), None if np.isnan(s.started_at) else s.started_at,
             s.status) for s in result.steps.itertuples()]


def by_event_id(result, run_id):
    runs = by_event(result)
    return runs.index[runs["run_id"] == run_id][0]


def test_a_refilled_item_holds_its_slot_while_it_waits_in_the_ready_queue():
    # x's first attempt fails at 1.1, its retry is due at 16.1 (backoff 15 s, no jitter). Its
    # function is due at the first tick with floor(t) + 2 ≥ 16.1: 15.0, where the retry is
    # refilled and takes the only slot, 1.1 s before it starts. y arrives at 15.05 and is refused
    # (function limit) until the retry ends at 17.1.
    events = [ev(0.05, id="x", k="x"), ev(15.05, id="y", k="y")]
    r = retried(events, True)
    assert rows(r)[:3] == [("x", 1, 0.1, "failed"), ("x", 2, 16.1, "failed"), ("y", 1, 17.1, "failed")]
    assert r.steps.set_index("run_id").loc[by_event(r).loc["y", "run_id"]].iloc[0]["blocked_by"] == "function"
    # Without key queues (or with the ideal scanner's zero lookahead) y starts at once.
    assert rows(retried(events, False))[1] == ("y", 1, 15.05, "failed")
    assert rows(retried(events, True, "ideal"))[1] == ("y", 1, 15.05, "failed")


def test_a_cancelled_refilled_item_releases_its_slot():
    # x is cancelled at 15.5 while its refilled retry holds the slot: the slot is released, and y,
    # refused at 15.1 (function limit, backlog requeued to 17.1), is refilled when the function
    # is due again: the first tick with floor(t) + 2 ≥ 17.1, 16.0.
    r = retried([ev(0.05, id="x", k="x"), ev(15.05, id="y", k="y"), ev(15.5, "stop", k="x")], True)
    assert rows(r)[:3] == [("x", 1, 0.1, "failed"), ("x", 2, None, "cancelled"), ("y", 1, 16.0, "failed")]
    check_concurrency(r)


# -- the weighted shuffle ---------------------------------------------------------------------------------

def test_weighted_order_is_sampling_without_replacement():
    rng = np.random.default_rng(7)
    weights = [10, 1, 1, 1, 1, 1]
    n = 6000
    firsts = Counter(weighted_order(rng, weights)[0] for _ in range(n))
    for i, w in enumerate(weights):
        p = w / sum(weights)
        half = 4 * np.sqrt(p * (1 - p) / n)        # ±4 standard errors
        assert abs(firsts[i] / n - p) < half, (i, firsts[i] / n, p)
    # The second place, given the heavy one came first: uniform over the five light ones.
    seconds = Counter(o[1] for o in (weighted_order(rng, weights) for _ in range(n)) if o[0] == 0)
    total = sum(seconds.values())
    assert all(abs(seconds[i] / total - 0.2) < 4 * np.sqrt(0.16 / total) for i in range(1, 6))


@pytest.mark.parametrize("starts", [1, 5])
def test_backlogs_of_continuing_runs_are_favoured(starts):
    # One slot. x (key kx) runs its first step 0.1 → 1.1; then its second step waits in its
    # (non-start) backlog beside `starts` start backlogs (keys k0..), all refused until 1.1 (the
    # function limit) and due at the tick 1.1: the first in the weighted order gets the slot,
    # x's step with probability 10 / (10 + starts).
    f = fn(concurrency=[1, {"key": "event.data.k", "limit": 5}],
           steps=[{"run": "a", "duration": "1s"}, {"run": "b", "duration": "1s"}])
    events = [ev(0.05, id="x", k="kx")] + [ev(0.5, id=f"s{i}", k=f"k{i}") for i in range(starts)]
    data = scenario([f], events, platform="inngest", account=KQ, horizon="10s")
    sc = flowsim.load_scenario(data)
    n = 400
    wins = sum(start_of(flowsim.simulate(sc, seed), "x", "b") == 1.1 for seed in range(n))
    p = 10 / (10 + starts)
    assert abs(wins / n - p) < 3 * np.sqrt(p * (1 - p) / n), (wins / n, p)     # within 3 standard errors
