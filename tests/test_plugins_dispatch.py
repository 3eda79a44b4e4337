"""Dispatch orders across keys (flowsim.plugins.dispatch): hand-worked timelines, and
max-min / weighted fairness of throughput over independent replications."""
from __future__ import annotations

import json

import numpy as np
from scipy import stats

from tests.helpers import ev, run, scenario, step_times


def fn(**kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "10s"}]}
    base.update(kw)
    return base


def backlog(keys="abc", per_key=3):
    """A blocker x at t=0, then every key's items arriving key by key from t=1 (FIFO would
    run a1 a2 a3 b1 ...)."""
    ids = [f"{k}{j}" for k in keys for j in range(1, per_key + 1)]
    return [ev(0, id="x", t="x")] + [ev(1 + i, id=i_, t=i_[0]) for i, i_ in enumerate(ids)]


def started(r):
    return [s[0] for s in step_times(r)]


def test_fifo_is_inngest_order():
    r = run(scenario([fn(concurrency=1, policies=[{"policy": "fifo"}])], backlog()))
    assert started(r) == ["x", "a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"]


def test_round_robin_interleaves_three_backlogged_keys_exactly():
    r = run(scenario([fn(concurrency=1, policies=[{"policy": "round_robin", "key": "event.data.t"}])], backlog()))
    assert step_times(r) == [("x", "work", 1, 0, 10), ("a1", "work", 1, 10, 20), ("b1", "work", 1, 20, 30),
                             ("c1", "work", 1, 30, 40), ("a2", "work", 1, 40, 50), ("b2", "work", 1, 50, 60),
                             ("c2", "work", 1, 60, 70), ("a3", "work", 1, 70, 80), ("b3", "work", 1, 80, 90),
                             ("c3", "work", 1, 90, 100)]
    keys = {json.loads(e)[0]: json.loads(k) for e, k in zip(r.runs["event_ids"], r.runs["keys"])}
    assert keys["b2"] == {"dispatch": "b"}


def test_round_robin_hatchet_example_two_slots():
    # Hatchet docs: A×5, B×5, C×5 queued with 2 slots run A, B, C, A, B, C, ...
    events = [ev(0, id="x1", t="x"), ev(0, id="x2", t="x")]
    events += [ev(1 + i / 2, id=f"{k}{j}", t=k) for i, (k, j) in enumerate((k, j) for k in "ABC" for j in range(1, 6))]
    r = run(scenario([fn(concurrency=2, policies=[{"policy": "round_robin", "key": "event.data.t"}])], events))
    starts = {s[0]: s[3] for s in step_times(r)}
    expected = {"A1": 10, "B1": 10, "C1": 20, "A2": 20, "B2": 30, "C2": 30, "A3": 40, "B3": 40,
                "C3": 50, "A4": 50, "B4": 60, "C4": 60, "A5": 70, "B5": 70, "C5": 80}
    assert {k: v for k, v in starts.items() if not k.startswith("x")} == expected


def test_round_robin_skips_a_key_refused_by_its_keyed_limit():
    # a's second item is refused by the keyed limit (a1 still runs); b goes instead.
    f = fn(concurrency=[2, {"key": "event.data.t", "limit": 1}],
           policies=[{"policy": "round_robin", "key": "event.data.t"}])
    r = run(scenario([f], [ev(0, id="a1", t="a"), ev(1, id="a2", t="a"), ev(2, id="b1", t="b")]))
    assert step_times(r) == [("a1", "work", 1, 0, 10), ("b1", "work", 1, 2, 12), ("a2", "work", 1, 10, 20)]


def test_weighted_fair_hand_worked_stride():
    # weight 2 for a: passes a 0→.5→1→1.5, b and c 0→1→2; ties by when the key became backlogged.
    pol = [{"policy": "weighted_fair", "key": "event.data.t", "weight": "event.data.t == 'a' ? 2.0 : 1.0"}]
    r = run(scenario([fn(concurrency=1, policies=pol)], backlog()))
    assert started(r) == ["x", "a1", "b1", "c1", "a2", "a3", "b2", "c2", "b3", "c3"]


def test_weighted_fair_idle_key_banks_no_credit():
    # b is idle while a runs alone; when b arrives it starts at a's pass, so it does not
    # get all the slots to "catch up": a and b alternate.
    events = [ev(i, id=f"a{i}", t="a") for i in range(6)] + [ev(25, id=f"b{j}", t="b") for j in range(3)]
    pol = [{"policy": "weighted_fair", "key": "event.data.t"}]
    r = run(scenario([fn(concurrency=1, policies=pol)], events))
    assert started(r) == ["a0", "a1", "a2", "b0", "a3", "b1", "a4", "b2", "a5"]


# -- fairness over replications ------------------------------------------------------------
K_RATES = {"k0": 6.0, "k1": 1.0, "k2": 1.0, "k3": 1.0}   # arrivals per second; each alone saturates C


def fairness_scenario(policy, seed):
    functions = [{"id": "f", "triggers": [{"event": "go"}], "concurrency": [4, {"key": "event.data.t", "limit": 4}],   # the keyed limit only records t
                  "steps": [{"run": "work", "duration": {"exponential": {"mean": "2s"}}}],
                  **({"policies": [policy]} if policy else {})}]
    traffic = [{"event": "go", "arrivals": {"poisson": {"rate": f"{rate}/s"}}, "data": {"t": k}}
               for k, rate in K_RATES.items()]
    return scenario(functions, horizon="5m", traffic=traffic) | {"seed": seed}


def shares(result):
    done = result.runs[result.runs["status"] == "completed"]
    t = done["keys"].map(lambda k: json.loads(k)["concurrency[0]"])
    counts = t.value_counts()
    return np.array([counts.get(k, 0) for k in K_RATES]) / len(done)


def ci(samples):
    x = np.asarray(samples)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1, axis=0) / np.sqrt(len(x))
    return x.mean(axis=0), half


SEEDS = range(1, 6)


def test_round_robin_gives_each_backlogged_key_c_over_k():
    """K = 4 backlogged keys, capacity C = 4 slots of mean 2 s: each key gets C/K = 1 slot,
    i.e. a quarter of the throughput, whatever its arrival rate (max-min fairness)."""
    pol = {"policy": "round_robin", "key": "event.data.t"}
    mean, half = ci([shares(run(fairness_scenario(pol, s))) for s in SEEDS])
    print("round-robin shares", mean, "±", half)
    assert np.all(np.abs(mean - 0.25) <= 0.01), mean
    assert np.all(half < 0.01), half


def test_fifo_shares_follow_arrival_rates():
    """The control: without fair dispatch the key with 6/9 of the arrivals takes ~2/3."""
    mean, _ = ci([shares(run(fairness_scenario(None, s))) for s in SEEDS])
    print("fifo shares", mean)
    assert mean[0] > 0.6


def test_weighted_fair_gives_shares_proportional_to_weights():
    """Weights 4:1:2:1 (k0..k3), all backlogged: shares 1/2, 1/8, 1/4, 1/8."""
    pol = {"policy": "weighted_fair", "key": "event.data.t",
           "weight": "event.data.t == 'k0' ? 4 : (event.data.t == 'k2' ? 2 : 1)"}
    mean, half = ci([shares(run(fairness_scenario(pol, s))) for s in SEEDS])
    expected = np.array([4, 1, 2, 1]) / 8
    print("weighted-fair shares", mean, "±", half)
    assert np.all(np.abs(mean - expected) <= 0.01), mean
    assert np.all(half < 0.01), half
