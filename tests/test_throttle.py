"""Throttle (spec §4): hand-worked timelines on both platforms, properties over random
streams and configs, and the M/D/1 closed form (spec README) on ``ideal``."""
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
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.platform import IDEAL, INNGEST
from flowsim.testing import check_conservation, check_throttle
from tests.helpers import by_event, ev, run, scenario, step_times


def fn(throttle=None, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": 1}]}
    if throttle is not None:
        base["throttle"] = throttle
    base.update(kw)
    return base


def starts(result) -> list[float]:
    return [t[3] for t in step_times(result)]


def start_item(result, event_id: str):
    """The steps row of the start item (first attempt) of ``event_id``'s run."""
    run_id = by_event(result).loc[event_id, "run_id"]
    steps = result.steps[(result.steps["run_id"] == run_id) & (result.steps["attempt"] == 1)]
    return steps.iloc[0]


# -- hand-worked timelines ----------------------------------------------------------------

@pytest.mark.parametrize("platform", ["ideal", "inngest"])
def test_limit_plus_burst_at_once_then_one_per_emission(platform):
    # emission 10/2 = 5 s, GCRA burst 2+1-1 = 2, τ = 10 s: three at t=0 (tat 15), then
    # the 4th at 15-10 = 5, the 5th at 10, the 6th at 15. The due times are whole
    # seconds, so inngest's rescans (next whole second at or after them) give the same.
    r = run(scenario([fn({"limit": 2, "period": "10s", "burst": 1})], [ev(0, id=f"e{i}") for i in range(6)],
                     platform=platform))
    assert starts(r) == [0, 0, 0, 5, 10, 15]
    assert (r.events["outcome"] == "run").all()
    for event_id, wait in (("e3", 5.0), ("e4", 10.0), ("e5", 15.0)):
        row = start_item(r, event_id)
        assert row["blocked_by"] == "throttle"
        assert json.loads(row["waits"]) == {"throttle": wait}
    assert start_item(r, "e0")["blocked_by"] == ""


@pytest.mark.parametrize("platform, expected", [
    ("ideal", [0, 0, 0, 10 / 3, 20 / 3, 10]),
    ("inngest", [0, 0, 0, 4, 7, 10]),          # rescanned at whole seconds until the GCRA allows
])
def test_fractional_emission_on_both_platforms(platform, expected):
    # limit 3 per 10 s, burst 0: τ = 2·10/3; three at once (tat 10), then due at 10/3,
    # 20/3, 10 on ideal; inngest looks again at now.Truncate(1s)+1s, ceil of the due time.
    r = run(scenario([fn({"limit": 3, "period": "10s"})], [ev(0, id=f"e{i}") for i in range(6)],
                     platform=platform))
    assert starts(r) == pytest.approx(expected, abs=1e-12)
    assert starts(r)[5] == 10.0


@pytest.mark.parametrize("platform, expected", [("ideal", [0.5, 5.5, 10.5]), ("inngest", [0.5, 6, 11])])
def test_inngest_delay_carries_over(platform, expected):
    # limit 1 per 5 s from t=0.5: ideal starts at the GCRA times; inngest at the next whole
    # second, and the late start pushes the next one (tat = 6 + 5).
    r = run(scenario([fn({"limit": 1, "period": "5s"})], [ev(0.5, id=f"e{i}") for i in range(3)],
                     platform=platform))
    assert starts(r) == expected


@pytest.mark.parametrize("platform", ["ideal", "inngest"])
def test_docs_example_six_events_half_a_second_apart(platform):
    # flow-control/throttling.mdx: {limit: 2, period: 6s, burst: 1}, six events 0.5 s apart:
    # three start as they arrive, then one every 3 s; none dropped.
    r = run(scenario([fn({"limit": 2, "period": "6s", "burst": 1})],
                     [ev(0.5 * i, id=f"e{i}") for i in range(6)], platform=platform))
    assert starts(r) == [0, 0.5, 1, 3, 6, 9]


def test_platform_throttle_wake():
    assert IDEAL.throttle_wake(0.0, 3.25) == 3.25
    assert INNGEST.throttle_wake(0.0, 3.25) == 4.0
    assert INNGEST.throttle_wake(2.5, 2.7) == 3.0          # at least the next tick
    assert INNGEST.throttle_wake(2.0, 2.5) == 3.0
    assert INNGEST.throttle_wake(1.5, 6.0) == 6.0


def test_a_throttled_key_does_not_block_another_key():
    # limit 1 per 10 s, burst 2 per customer: GCRA burst 2, τ = 20 s. Customer a sends
    # four at t=0: three start, the 4th is due at 30-20 = 10. Customer b's run at t=1
    # starts at once, past a's waiting item.
    events = [ev(0, id=f"a{i}", customer="a") for i in range(4)] + [ev(1, id="b0", customer="b")]
    r = run(scenario([fn({"limit": 1, "period": "10s", "burst": 2, "key": "event.data.customer"})], events))
    assert step_times(r) == [("a0", "work", 1, 0, 1), ("a1", "work", 1, 0, 1), ("a2", "work", 1, 0, 1),
                             ("b0", "work", 1, 1, 2), ("a3", "work", 1, 10, 11)]
    row = start_item(r, "a3")
    assert row["blocked_by"] == "throttle:a"
    assert json.loads(row["waits"]) == {"throttle:a": 10.0}
    assert json.loads(by_event(r).loc["b0", "keys"]) == {"throttle": "b"}


def test_missing_field_and_error_keys_share_buckets():
    # key 10 / n: n=2 gives "5"; n missing gives false (bucket "false"); n=0 is a
    # division error (bucket "<nil>"). Each bucket: one start per 10 s.
    events = [ev(0, id="ok1", n=2), ev(0, id="ok2", n=2), ev(0, id="miss1"), ev(0, id="miss2"),
              ev(0, id="err1", n=0), ev(0, id="err2", n=0)]
    r = run(scenario([fn({"limit": 1, "period": "10s", "key": "10 / event.data.n"})], events))
    runs = by_event(r)
    assert {e: json.loads(runs.loc[e, "keys"])["throttle"] for e in ("ok1", "miss1", "err1")} == \
        {"ok1": "5", "miss1": "false", "err1": "<nil>"}
    assert [runs.loc[e, "started_at"] for e in ("ok1", "ok2", "miss1", "miss2", "err1", "err2")] == \
        [0, 10, 0, 10, 0, 10]
    assert start_item(r, "miss2")["blocked_by"] == "throttle:false"
    assert start_item(r, "err2")["blocked_by"] == "throttle:<nil>"


def test_only_the_start_item_is_throttled():
    # limit 1 per 10 s: a starts at 0 (tat 10); a's second step at 5 is not throttled,
    # b's start waits until 10.
    steps = [{"run": "one", "duration": 5}, {"run": "two", "duration": 5}]
    r = run(scenario([fn({"limit": 1, "period": "10s"}, steps=steps)], [ev(0, id="a"), ev(0, id="b")]))
    assert step_times(r) == [("a", "one", 1, 0, 5), ("a", "two", 1, 5, 10), ("b", "one", 1, 10, 15),
                             ("b", "two", 1, 15, 20)]


def test_a_retry_of_the_start_item_consumes_throttle_again():
    # limit 1 per 60 s; every attempt fails after 1 s, one retry after 15 s (no jitter).
    # a: attempt 1 at 0 (tat 60); its retry is due at 16 but throttled until 60 (tat 120);
    # b arrives at 61 and waits for 120; b's retry, due at 136, waits for 180.
    f = fn({"limit": 1, "period": "60s"}, retries=1, steps=[{"run": "work", "duration": 1, "failure_rate": 1.0}])
    r = run(scenario([f], [ev(0, id="a"), ev(61, id="b")], platform={"profile": "ideal", "retry_jitter": 0}))
    assert step_times(r) == [("a", "work", 1, 0, 1), ("a", "work", 2, 60, 61),
                             ("b", "work", 1, 120, 121), ("b", "work", 2, 180, 181)]
    retry = r.steps[(r.steps["attempt"] == 2) & (r.steps["started_at"] == 60)].iloc[0]
    assert retry["blocked_by"] == "throttle" and json.loads(retry["waits"]) == {"throttle": 44.0}


def test_each_function_has_its_own_throttle():
    th = {"limit": 1, "period": "10s", "key": "event.data.customer"}
    fns = [dict(fn(th), id="f1"), dict(fn(th), id="f2")]
    r = run(scenario(fns, [ev(0, id="e1", customer="a"), ev(0, id="e2", customer="a")]))
    got = sorted((row.function_id, row.started_at) for row in r.runs.itertuples())
    assert got == [("f1", 0), ("f1", 10), ("f2", 0), ("f2", 10)]


def test_limit_zero_is_one_and_period_is_truncated():
    with pytest.warns(ScenarioWarning) as caught:
        r = run(scenario([fn({"limit": 0, "period": "2.9s"})], [ev(0, id=f"e{i}") for i in range(3)]))
    messages = " ".join(str(w.message) for w in caught)
    assert "limit 0 is taken as 1" in messages and "2.9s is truncated to 2s" in messages
    assert starts(r) == [0, 2, 4]


# -- validation ---------------------------------------------------------------------------

YAML = """\
functions:
  - id: f
    triggers: [{event: go}]
    throttle: TH
    steps:
      - run: s
        duration: 1s
traffic:
  - events: [{at: 0, name: go}]
"""


@pytest.mark.parametrize("throttle, field, message", [
    ("{limit: 1, period: 500ms}", "functions[0].throttle.period",
     "throttle period must be between 1s and 7d (Inngest's documented range; the period is truncated to whole "
     "seconds, so a shorter one would be 0), got 500ms"),
    ("{limit: 1, period: 8d}", "functions[0].throttle.period", "throttle period must be between 1s and 7d"),
    ("{limit: 1, period: soon}", "functions[0].throttle.period", "expected a duration such as"),
    ("{limit: 1}", "functions[0].throttle", "missing required field 'period'"),
    ("{period: 1m}", "functions[0].throttle", "missing required field 'limit'"),
    ("{limit: -1, period: 1m}", "functions[0].throttle.limit", "value must be at least 0"),
    ("{limit: 1, period: 1m, burst: -1}", "functions[0].throttle.burst", "value must be at least 0"),
    ("{limit: 1, period: 1m, key: 'event.data.'}", "functions[0].throttle.key", "throttle key is invalid: "),
    ("{limit: 1, period: 1m, scope: fn}", "functions[0].throttle.scope", "unknown field 'scope'"),
])
def test_validation_messages(tmp_path, throttle, field, message):
    path = tmp_path / "th.yaml"
    path.write_text(YAML.replace("TH", throttle))
    with pytest.raises(ScenarioError) as info:
        flowsim.load_scenario(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 4, field)
    assert err.message.startswith(message)


@pytest.mark.parametrize("period, seconds", [("1s", 1), ("7d", 604800), ("90s", 90)])
def test_period_range_ends_are_accepted(tmp_path, period, seconds):
    path = tmp_path / "th.yaml"
    path.write_text(YAML.replace("TH", f"{{limit: 3, period: {period}, burst: 2}}"))
    config = flowsim.load_scenario(path).functions[0].mechanisms["throttle"]
    assert (config.period, config.limit, config.burst, config.key) == (seconds, 3, 2, None)
    assert config.rate.burst == 4 and config.rate.tolerance == pytest.approx(4 * seconds / 3)


# -- properties ---------------------------------------------------------------------------

@st.composite
def throttled_streams(draw):
    limit = draw(st.integers(1, 4))
    period = draw(st.integers(1, 10))
    burst = draw(st.integers(0, 3))
    n_keys = draw(st.integers(1, 3))
    n = draw(st.integers(1, 30))
    gaps = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))        # quarter seconds
    keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=n, max_size=n))
    at, events = 0.0, []
    for i, (g, k) in enumerate(zip(gaps, keys)):
        at += g / 4
        events.append(ev(at, id=f"e{i}", customer=f"c{k}"))
    return {"limit": limit, "period": f"{period}s", "burst": burst, "key": "event.data.customer"}, events


def md1_lindley(arrivals: list[float], service: float) -> list[float]:
    """M/D/1 queue waits on a sample path (Lindley's recursion, FIFO)."""
    waits, w, prev = [], 0.0, None
    for a in arrivals:
        if prev is not None:
            w = max(0.0, w + service - (a - prev))
        waits.append(w)
        prev = a
    return waits


def throttle_starts_by_key(result) -> dict[str, list[tuple[float, float]]]:
    """key -> [(created_at, started_at)] in creation order."""
    out: dict[str, list[tuple[float, float]]] = {}
    runs = result.runs.sort_values("run_id", key=lambda s: s.str[1:].astype(int))
    for row in runs.itertuples():
        out.setdefault(json.loads(row.keys)["throttle"], []).append((row.created_at, row.started_at))
    return out


@pytest.mark.parametrize("platform", ["ideal", "inngest"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=throttled_streams())
def test_throttle_properties(platform, case):
    """Never drops, every run starts, FIFO within a key, and within any window of length
    w at most floor((w + τ)/T) + 1 starts per key, τ = (limit + burst − 1)·T (the shared
    checker flowsim.testing.check_throttle: GCRA conformance of the starts per key)."""
    throttle, events = case
    limit, period = throttle["limit"], float(throttle["period"][:-1])
    T = period / limit
    horizon = events[-1]["at"] + (len(events) + 2) * T + 5
    r = run(scenario([fn(throttle)], events, horizon=horizon, platform=platform))
    assert (r.events["outcome"] == "run").all()
    assert len(r.runs) == len(events) and r.runs["started_at"].notna().all()
    for key, rows in throttle_starts_by_key(r).items():
        started = [s for _, s in rows]
        assert started == sorted(started), f"key {key} not FIFO"
    check_throttle(r)
    check_conservation(r)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=throttled_streams())
def test_throttle_delays_are_md1_waits_less_the_tolerance(case):
    """On ideal, per key, the start delay is exactly max(0, W − τ), W the M/D/1 wait
    with service T on the same arrivals (the GCRA's tat − now is the M/D/1 workload of
    the started runs; a run starts when it falls to τ)."""
    throttle, events = case
    limit, period, burst = throttle["limit"], float(throttle["period"][:-1]), throttle["burst"]
    T, tau = period / limit, (limit + burst - 1) * period / limit
    horizon = events[-1]["at"] + (len(events) + 2) * T + 5
    r = run(scenario([fn(throttle)], events, horizon=horizon))
    for rows in throttle_starts_by_key(r).values():
        created = [c for c, _ in rows]
        expected = [c + max(0.0, w - tau) for c, w in zip(created, md1_lindley(created, T))]
        assert [s for _, s in rows] == pytest.approx(expected, abs=1e-9)


# -- statistics -----------------------------------------------------------------------------

def ci95(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values)
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_limit_1_burst_0_is_md1(rho):
    """limit 1, burst 0: τ = 0, so start delays are M/D/1 waits with service period/limit:
    Wq = ρ / (2μ(1 − ρ)) (Pollaczek–Khinchine), μ = 1/T. (With limit + burst > 1 the
    delays are max(0, W − τ) instead, see the sample-path test above.)"""
    T, warmup, horizon = 2.0, 400.0, 12000.0
    lam = rho / T
    sc = flowsim.load_scenario({
        "name": "md1", "horizon": horizon, "platform": "ideal",
        "functions": [fn({"limit": 1, "period": f"{T:g}s"}, steps=[{"run": "work", "duration": "100ms"}])],
        "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]})
    means = []
    for seed in flowsim.streams.replication_seeds(404, 8):
        runs = flowsim.simulate(sc, seed).runs
        runs = runs[(runs["created_at"] >= warmup) & runs["started_at"].notna()]
        means.append(float((runs["started_at"] - runs["created_at"]).mean()))
    expected = rho / (2 * (1 / T) * (1 - rho))
    lo, hi = ci95(means)
    assert lo <= expected <= hi, f"P-K Wq {expected:.4f} outside 95% CI [{lo:.4f}, {hi:.4f}]"
