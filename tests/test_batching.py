"""Event batching (spec §9, §1 step 2, §2.1): hand-worked timelines on ``ideal`` and
``inngest`` (the append buffer), a property test over random streams, the closed form
of batch sizes (spec README) with confidence intervals, and validation."""
from __future__ import annotations

import json
import math
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import flowsim
import flowsim.streams
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.policies.batching import BatchConfig, parse_go_duration
from flowsim.scenario.source import Node, load_yaml
from flowsim.testing import check_batching, check_conservation
from tests.helpers import ev, run, scenario


def fn(batch: dict, **kw) -> dict:
    base = {"id": "f", "triggers": [{"event": "go"}], "batchEvents": batch,
            "steps": [{"run": "work", "duration": "1s"}]}
    base.update(kw)
    return base


def batches(result: flowsim.Result) -> list[tuple[list[str], float, float | None]]:
    """(event ids in order, created_at, started_at) of every run, in creation order."""
    runs = result.runs.sort_values(["created_at", "run_id"])
    return [(json.loads(r.event_ids), r.created_at, None if math.isnan(r.started_at) else r.started_at)
            for r in runs.itertuples()]


def outcomes(result: flowsim.Result) -> dict[str, tuple[str, str | None]]:
    """event id -> (outcome, run id)."""
    return {r.event_id: (r.outcome, r.run_id) for r in result.events.itertuples()}


def batch_log(result: flowsim.Result) -> list[str]:
    """The batching decisions of the explain log, in order."""
    return list(result.log[result.log["kind"] == "batch"]["message"])


def assert_batched_consistent(result: flowsim.Result) -> None:
    """Every event of a batch run is ``batched`` with that run's id, and only those."""
    out = outcomes(result)
    for r in result.runs.itertuples():
        ids = json.loads(r.event_ids)
        kinds = {out[i][0] for i in ids}
        if kinds == {"batched"}:
            assert all(out[i][1] == r.run_id for i in ids)
    for event_id, (outcome, run_id) in out.items():
        if outcome == "batched":
            row = result.runs.set_index("run_id").loc[run_id]
            assert event_id in json.loads(row["event_ids"])


# -- hand-worked timelines, ideal platform ----------------------------------------------

def test_keyed_batches_fill_independently():
    """TestBatchKeyEvents (§9.2): a b c a b c a b, maxSize 3: a and b start when full, c at its timeout."""
    events = [ev(t, id=f"{k}{t}", k=k) for t, k in enumerate("abcabcab")]
    r = flowsim.simulate(flowsim.load_scenario(
        scenario([fn({"maxSize": 3, "timeout": "10s", "key": "event.data.k"})], events)), explain=True)
    assert batches(r) == [(["a0", "a3", "a6"], 6.0, 6.0),
                          (["b1", "b4", "b7"], 7.0, 7.0),
                          (["c2", "c5"], 12.0, 12.0)]          # c: first event at 2 + 10 s
    runs = {json.loads(x.event_ids)[0]: x.run_id for x in r.runs.itertuples()}
    out = outcomes(r)
    assert out == {"a0": ("batched", runs["a0"]), "a3": ("batched", runs["a0"]), "a6": ("batched", runs["a0"]),
                   "b1": ("batched", runs["b1"]), "b4": ("batched", runs["b1"]), "b7": ("batched", runs["b1"]),
                   "c2": ("batched", runs["c2"]), "c5": ("batched", runs["c2"])}
    assert batch_log(r) == ["batch a closed (full)", "batch b closed (full)", "batch c closed (timeout)"]
    assert_batched_consistent(r)


def test_timeout_releases_batch_and_is_not_extended():
    events = [ev(0, id="e0"), ev(1, id="e1"), ev(4.5, id="e2"), ev(7, id="e3"), ev(13, id="e4")]
    r = run(scenario([fn({"maxSize": 10, "timeout": "5s"})], events))
    # The first batch times out 5 s after e0 although e2 came at 4.5 s; e3 opens the next one.
    assert batches(r) == [(["e0", "e1", "e2"], 5.0, 5.0), (["e3"], 12.0, 12.0), (["e4"], 18.0, 18.0)]
    assert {o for o, _ in outcomes(r).values()} == {"batched"}
    assert_batched_consistent(r)


def test_batch_run_ignores_event_ts_and_binds_keys_from_first_event():
    """§9.2: event ``ts`` is ignored for batch runs; keys come from the batch's first event."""
    events = [{"at": 0, "name": "go", "id": "e0", "ts": 100, "data": {"u": "x"}},
              {"at": 1, "name": "go", "id": "e1", "data": {"u": "y"}}]
    r = run(scenario([fn({"maxSize": 2, "timeout": "5s"},
                         concurrency=[{"key": "event.data.u", "limit": 1}])], events))
    assert batches(r) == [(["e0", "e1"], 1.0, 1.0)]
    assert json.loads(r.runs.iloc[0]["keys"]) == {"concurrency[0]": "x"}


def test_if_sends_event_around_the_batch():
    """§1 step 2: ``if`` false or an error gives a normal single-event run, at once."""
    b = {"maxSize": 5, "timeout": "3s", "if": "event.data.n > 1"}
    events = [ev(0, id="big0", n=5), ev(1, id="small1", n=0), ev(1.5, id="err2", n="x"), ev(2, id="big2", n=7)]
    r = run(scenario([fn(b)], events))
    assert batches(r) == [(["small1"], 1.0, 1.0), (["err2"], 1.5, 1.5), (["big0", "big2"], 3.0, 3.0)]
    out = outcomes(r)
    assert out["small1"][0] == out["err2"][0] == "run"
    assert out["big0"][0] == out["big2"][0] == "batched"
    assert out["big0"][1] == out["big2"][1] != out["small1"][1]


def test_if_bypass_is_rate_limited_but_batched_events_are_not():
    """README decisions / §9.1: events failing ``if`` meet the rate limit; batched ones bypass it."""
    f = fn({"maxSize": 3, "timeout": "10s", "if": "event.data.bulk == true"},
           rateLimit={"limit": 1, "period": "1m"})
    events = [ev(0, id="s0", bulk=False), ev(1, id="s1", bulk=False),
              ev(2, id="b2", bulk=True), ev(3, id="b3", bulk=True), ev(4, id="b4", bulk=True),
              ev(5, id="s5", bulk=False)]
    with pytest.warns(ScenarioWarning, match="batched events bypass the rate limit"):
        sc = flowsim.load_scenario(scenario([f], events))
    r = flowsim.simulate(sc)
    out = outcomes(r)
    assert out["s0"][0] == "run"
    assert out["s1"][0] == "rate_limited" and out["s5"][0] == "rate_limited"
    assert [out[i][0] for i in ("b2", "b3", "b4")] == ["batched"] * 3
    assert batches(r) == [(["s0"], 0.0, 0.0), (["b2", "b3", "b4"], 4.0, 4.0)]


def test_missing_key_field_shares_the_false_batch():
    """§2.1: a missing field evaluates to false, so those events share the batch "false"
    with events whose key really is false."""
    b = {"maxSize": 2, "timeout": "5s", "key": "event.data.k"}
    events = [ev(0, id="missing0"), ev(1, id="x1", k="x"), ev(2, id="false2", k=False), ev(3, id="missing3")]
    r = flowsim.simulate(flowsim.load_scenario(scenario([fn(b)], events)), explain=True)
    assert batches(r) == [(["missing0", "false2"], 2.0, 2.0), (["x1"], 6.0, 6.0), (["missing3"], 8.0, 8.0)]
    assert batch_log(r) == ["batch false closed (full)", "batch x closed (timeout)",
                                      "batch false closed (timeout)"]


def test_key_error_fails_the_append():
    """§2.1: a batch key that fails to evaluate: the event is neither batched nor run."""
    b = {"maxSize": 2, "timeout": "5s", "key": "event.data.a / event.data.b"}
    events = [ev(0, id="ok0", a=1, b=1), ev(1, id="bad1", a=1, b=0), ev(2, id="ok2", a=2, b=2)]
    r = run(scenario([fn(b)], events))
    rows = r.events.set_index("event_id")
    assert rows.loc["bad1", "outcome"] == "error"
    assert rows.loc["bad1", "run_id"] in ("", None)
    assert "batch key error" in rows.loc["bad1", "reason"] and "division by zero" in rows.loc["bad1", "reason"]
    assert batches(r) == [(["ok0", "ok2"], 2.0, 2.0)]      # both keys are "1"


def test_open_batch_at_horizon_is_pending():
    r = run(scenario([fn({"maxSize": 5, "timeout": "1m"})], [ev(0, id="e0"), ev(1, id="e1")], horizon="30s"))
    assert len(r.runs) == 0
    assert {o for o, _ in outcomes(r).values()} == {"pending"}


# -- hand-worked timelines, inngest platform (the append buffer, §9.2) --------------------

def test_buffer_delays_first_event_time():
    """Events at 0 and 0.2 are flushed at 0.5 s: the batch's timeout runs from 0.5 s, not 0.
    The event at 0.7 waits in a new buffer until 1.2 s and joins the same batch."""
    b = {"maxSize": 5, "timeout": "2s"}
    events = [ev(0, id="e0"), ev(0.2, id="e1"), ev(0.7, id="e2")]
    r = flowsim.simulate(flowsim.load_scenario(scenario([fn(b)], events, platform="inngest")), explain=True)
    assert batches(r) == [(["e0", "e1", "e2"], 2.5, 2.5)]
    closes = r.log[r.log["kind"] == "batch"]
    assert list(closes["message"]) == ["batch f/b1 closed (timeout)"]
    assert json.loads(closes.iloc[0]["facts"])["opened_at"] == 0.5
    ideal = run(scenario([fn(b)], events, platform="ideal"))
    assert batches(ideal) == [(["e0", "e1", "e2"], 2.0, 2.0)]


def test_buffer_flush_at_max_size_overflows_into_a_new_batch():
    """e0 is committed at 0.5 s (batch 1 opens, timeout 2.5 s). e1-e3 fill the next buffer to
    maxSize at 0.8 s: the flush fills batch 1 with e1, e2 (it starts at once) and e3 overflows
    into batch 2, opened at the flush, which times out at 2.8 s."""
    b = {"maxSize": 3, "timeout": "2s"}
    events = [ev(0, id="e0"), ev(0.6, id="e1"), ev(0.7, id="e2"), ev(0.8, id="e3")]
    r = flowsim.simulate(flowsim.load_scenario(scenario([fn(b)], events, platform="inngest")), explain=True)
    got = [(ids, round(c, 9), round(s, 9)) for ids, c, s in batches(r)]
    assert got == [(["e0", "e1", "e2"], 0.8, 0.8), (["e3"], 2.8, 2.8)]
    assert batch_log(r) == ["batch f/b1 closed (full)", "batch f/b2 closed (timeout)"]
    assert_batched_consistent(r)


def test_buffer_full_at_arrival_starts_at_once():
    """A buffer that reaches maxSize is flushed at that arrival, not after 0.5 s."""
    b = {"maxSize": 3, "timeout": "5s", "key": "event.data.k"}
    events = [ev(0, id="a0", k="a"), ev(0.1, id="b1", k="b"), ev(0.2, id="a2", k="a"), ev(0.3, id="a3", k="a")]
    r = run(scenario([fn(b)], events, platform="inngest"))
    got = [(ids, round(c, 9)) for ids, c, _ in batches(r)]
    assert got == [(["a0", "a2", "a3"], 0.3), (["b1"], 5.6)]     # b: flushed at 0.6, +5 s


# -- property test over random streams -------------------------------------------------

streams = st.lists(st.tuples(st.floats(0, 2.5, allow_nan=False), st.sampled_from("abc")), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams, max_size=st.integers(2, 5), timeout_ms=st.integers(1000, 4000),
       keyed=st.booleans(), profile=st.sampled_from(["ideal", "inngest"]))
def test_batches_respect_size_and_timeout(stream, max_size, timeout_ms, keyed, profile):
    t = 0.0
    events = []
    for i, (gap, k) in enumerate(stream):
        t += gap
        events.append(ev(round(t, 3), id=f"e{i}", k=k))
    b = {"maxSize": max_size, "timeout": f"{timeout_ms}ms"}
    if keyed:
        b["key"] = "event.data.k"
    r = run(scenario([fn(b)], events, platform=profile, horizon="10m"))
    timeout = timeout_ms / 1000
    # Each event has exactly one outcome, and with a long horizon every one is batched.
    assert len(r.events) == len(events)
    assert sorted(r.events["event_id"]) == sorted(e["id"] for e in events)
    assert set(r.events["outcome"]) == {"batched"}
    at = {e["id"]: e["at"] for e in events}
    # 1..maxSize events of one key in append order; created no earlier than the last, no
    # later than timeout (+ the buffer's flush window) after the first, and not before the
    # timeout unless full (the shared checker flowsim.testing.check_batching).
    check_batching(r)
    check_conservation(r)
    seen = []
    for ids, created, started in batches(r):
        seen += ids
        first = min(at[i] for i in ids)
        if profile == "ideal":
            # Exact on ideal: a full batch starts with its last event, another one at first + timeout.
            expected = max(at[i] for i in ids) if len(ids) == max_size else first + timeout
            assert created == pytest.approx(expected, abs=1e-9)
    assert sorted(seen) == sorted(at)
    assert_batched_consistent(r)


# -- statistics: batch sizes against the closed form (spec README) -----------------------

def closed_form(lam: float, n: int, tau: float) -> tuple[float, float]:
    """Mean batch size ``1 + E[min(N-1, K)]`` and ``P(full) = P(K >= N-1)``, K ~ Poisson(λτ)."""
    k = stats.poisson(lam * tau)
    mean = 1 + sum(k.sf(j) for j in range(n - 1))        # E[min(N-1, K)] = Σ_{j<N-1} P(K > j)
    return float(mean), float(k.sf(n - 2))


def ci(values: list[float], level: float = 0.99) -> tuple[float, float]:
    arr = np.asarray(values)
    half = stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half)


def test_closed_form_reference_values():
    # N = 2: size 1 + min(1, K): mean 2 - e^-λτ, P(full) = 1 - e^-λτ.
    assert closed_form(1.0, 2, 1.0) == pytest.approx((2 - math.exp(-1), 1 - math.exp(-1)))


@pytest.mark.parametrize("lam, n, tau, horizon", [(2.0, 5, 2.0, 1200.0), (1.0, 10, 5.0, 3000.0)])
def test_batch_size_matches_poisson_closed_form(lam, n, tau, horizon):
    sc = flowsim.load_scenario(scenario(
        [fn({"maxSize": n, "timeout": f"{tau:g}s"}, steps=[{"run": "work", "duration": "10ms"}])],
        traffic=[{"event": "go", "arrivals": {"poisson": {"rate": lam}}}], horizon=horizon))
    means, fulls, counts = [], [], []
    for seed in flowsim.streams.replication_seeds(99, 10):
        runs = flowsim.simulate(sc, seed).runs
        sizes = runs["event_ids"].map(lambda s: len(json.loads(s))).to_numpy()
        assert sizes.max() <= n
        means.append(float(sizes.mean()))
        fulls.append(float((sizes == n).mean()))
        counts.append(len(sizes))
    mean_expected, full_expected = closed_form(lam, n, tau)
    lo, hi = ci(means)
    assert lo <= mean_expected <= hi, f"mean size {mean_expected:.4f} outside 99% CI [{lo:.4f}, {hi:.4f}]"
    lo, hi = ci(fulls)
    assert lo <= full_expected <= hi, f"P(full) {full_expected:.4f} outside 99% CI [{lo:.4f}, {hi:.4f}]"
    assert min(counts) > 300           # enough batches per replication for the CLT


# -- validation ------------------------------------------------------------------------

FN_YAML = """\
functions:
  - id: f
    triggers: [{event: go}]
    batchEvents: {batch}
    steps:
      - run: s
        duration: 1s
"""


def parse(batch: str, extra: str = "") -> BatchConfig | None:
    """Parse the function's batchEvents with BatchConfig alone (the sibling fields are only
    looked at, not validated by their own mechanisms); errors carry file, line and field."""
    text = FN_YAML.replace("{batch}", batch) + textwrap.indent(extra, "    ")
    data, source = load_yaml(text, "t.yaml")
    root = Node(data, (), source)
    function = root.child("functions").child(0)
    return BatchConfig.parse(function.get("batchEvents"), function, root)


@pytest.mark.parametrize("batch, extra, line, field, message", [
    ("{maxSize: 1, timeout: 5s}", "", 4, "functions[0].batchEvents.maxSize",
     "batch size cannot be smaller than 2: 1"),
    ("{maxSize: 10, timeout: 1d}", "", 4, "functions[0].batchEvents.timeout", "invalid timeout string: 1d"),
    ("{maxSize: 10, timeout: 10ss}", "", 4, "functions[0].batchEvents.timeout", "invalid timeout string: 10ss"),
    ("{maxSize: 10, timeout: 30}", "", 4, "functions[0].batchEvents.timeout", "invalid timeout string: 30"),
    ("{maxSize: 10, timeout: 999ms}", "", 4, "functions[0].batchEvents.timeout",
     "batch timeout should be more than 1s"),
    ("{maxSize: 10, timeout: 0}", "", 4, "functions[0].batchEvents.timeout", "batch timeout should be more than 1s"),
    ("{maxSize: 10, timeout: 5s, key: 'event.data.'}", "", 4, "functions[0].batchEvents.key",
     "batch key expression is invalid: "),
    ("{maxSize: 10, timeout: 5s, if: 'event.data.x =='}", "", 4, "functions[0].batchEvents.if",
     "conditional batch expression is invalid: "),
    ("{maxSize: 10, timeout: 5s, size: 3}", "", 4, "functions[0].batchEvents.size", "unknown field 'size'"),
    ("{maxSize: 10}", "", 4, "functions[0].batchEvents", "missing required field 'timeout'"),
    ("{maxSize: 10, timeout: 5s}", "cancelOn: [{event: stop}]\n", 8, "functions[0].cancelOn",
     "Batching and cancellation are mutually exclusive"),
    ("{maxSize: 10, timeout: 5s}", "debounce: {period: 5s}\n", 8, "functions[0].debounce",
     "Batching and debouncing are mutually exclusive"),
    ("{maxSize: 10, timeout: 5s}", "singleton: {mode: skip}\n", 8, "functions[0].singleton",
     "Batching and singletons are mutually exclusive"),
    ("{maxSize: 10, timeout: 5s}", "priority:\n  run: 'event.data.vip ? 60 : 0'\n", 9, "functions[0].priority.run",
     "A function cannot specify Priority.Run and Batch together"),
])
def test_validation_messages(batch, extra, line, field, message):
    with pytest.raises(ScenarioError) as info:
        parse(batch, extra)
    err = info.value
    assert (err.file, err.line, err.field) == ("t.yaml", line, field)
    assert message in err.message


@pytest.mark.parametrize("extra, line, field, fragment", [
    ("rateLimit: {limit: 10, period: 1m}\n", 8, "functions[0].rateLimit", "batched events bypass the rate limit"),
    ("idempotency: event.data.id\n", 8, "functions[0].idempotency", "batched events bypass it"),
])
def test_rate_limit_and_idempotency_are_accepted_with_a_warning(extra, line, field, fragment):
    with pytest.warns(ScenarioWarning) as record:
        config = parse("{maxSize: 10, timeout: 5s}", extra)
    assert config is not None and config.max_size == 10 and config.timeout == 5.0
    texts = [str(w.message) for w in record if issubclass(w.category, ScenarioWarning)]
    assert len(texts) == 1
    assert texts[0].startswith(f"t.yaml:{line}: {field}: ") and fragment in texts[0]


def test_priority_without_run_and_plain_config_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = parse("{maxSize: 2, timeout: 1h30m, key: event.data.k, if: 'event.data.bulk == true'}",
                       "priority: {}\n")
    assert (config.max_size, config.timeout) == (2, 5400.0)
    assert config.key.text == "event.data.k" and config.condition.text == "event.data.bulk == true"


def test_validation_through_load_scenario_names_the_file_line_and_field():
    text = FN_YAML.replace("{batch}", "{maxSize: 0, timeout: 5s}") + "traffic:\n  - events: [{at: 0, name: go}]\n"
    data, source = load_yaml(text, "s.yaml")
    from flowsim.scenario.load import parse_scenario
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: functions\[0\]\.batchEvents\.maxSize: "
                                            r"batch size cannot be smaller than 2: 0"):
        parse_scenario(data, source)


@pytest.mark.parametrize("text, seconds", [
    ("1s", 1.0), ("1.5h", 5400.0), ("1h30m", 5400.0), ("300ms", 0.3), (".5s", 0.5), ("1.s", 1.0),
    ("2m3.5s", 123.5), ("0", 0.0), ("-1s", -1.0), ("+2s", 2.0), ("1µs", 1e-6), ("1us", 1e-6), ("10ns", 1e-8),
    ("1d", None), ("30", None), ("", None), (".s", None), ("s", None), ("1s2", None), ("1 s", None), ("-", None),
])
def test_go_duration_parser(text, seconds):
    got = parse_go_duration(text)
    if seconds is None:
        assert got is None
    else:
        assert got == pytest.approx(seconds)
