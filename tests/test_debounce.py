"""Debounce (spec §6): validation with Inngest's messages, hand-worked timelines on the
``ideal`` and ``inngest`` platforms, a property test against a reference model, and the
closed forms of spec/README.md for Poisson input."""
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
from flowsim.policies.debounce import DebounceConfig
from flowsim.scenario.source import Node, Source
from flowsim.testing import check_conservation, check_debounce
from tests.helpers import ev, run, scenario

INNGEST_DELAY = 1.05      # 50 ms + 1 s (§6.2)


def fn(debounce, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": 1}],
            "debounce": debounce}
    base.update(kw)
    return base


def runs_of(result):
    """(event ids, created_at, started_at) of every run, in creation order."""
    rows = result.runs.sort_values(["created_at", "run_id"])
    return [(json.loads(r.event_ids), r.created_at, r.started_at) for r in rows.itertuples()]


def outcomes(result):
    """event id -> (outcome, reason, key)."""
    return {r.event_id: (r.outcome, r.reason, r.key) for r in result.events.itertuples()}


# -- validation (§6.1) --------------------------------------------------------------

def parse(debounce, **siblings):
    function = {"id": "f", "debounce": debounce, **siblings}
    src = Source("<dict>")
    fnode = Node(function, ("functions", 0), src)
    return DebounceConfig.parse(fnode.get("debounce"), fnode, Node({}, (), src))


@pytest.mark.parametrize("debounce, message", [
    ({"period": "soon"}, "The debounce period of 'soon' is invalid: expected a duration"),
    ({"key": "event.data.a"}, "The debounce period of '' is invalid: a period is required"),
    ({"period": "500ms"}, "The debounce period of '500ms' is less than the min of: 1s"),
    ({"period": "8d"}, "The debounce period of '8d' is greater than the max of: 168h0m0s"),
    ({"period": "5s", "key": "event.data."}, "Debounce expression is invalid: "),
    ({"period": "5s", "key": 7}, "Debounce expression is invalid: expected a CEL expression string"),
    ({"period": "5s", "timeout": "a while"}, "The debounce timeout of 'a while' is invalid"),
    ({"period": "5s", "wait": "1s"}, "unknown field 'wait'"),
])
def test_validation_messages(debounce, message):
    with pytest.raises(ScenarioError) as exc:
        parse(debounce)
    assert message in str(exc.value)
    assert exc.value.field.startswith("functions[0].debounce")


def test_debounce_and_batching_are_mutually_exclusive():
    with pytest.raises(ScenarioError, match="Batching and debouncing are mutually exclusive") as exc:
        parse({"period": "5s"}, batchEvents={"maxSize": 10, "timeout": "5s"})
    assert exc.value.field == "functions[0].debounce"


def test_parsed_values_and_empty_key_and_timeout():
    cfg = parse({"period": "1m", "key": "", "timeout": ""})
    assert (cfg.period, cfg.key, cfg.timeout) == (60.0, None, None)
    cfg = parse({"period": "1s", "key": "event.data.doc", "timeout": "1h30m"})
    assert (cfg.period, cfg.key.text, cfg.timeout) == (1.0, "event.data.doc", 5400.0)
    assert parse({"period": "7d"}).period == 7 * 86400
    assert parse(None) is None


def test_validation_points_at_the_line():
    text = "functions:\n  - id: f\n    triggers: [go]\n    debounce: {period: 0.5s}\n" \
           "    steps: [{run: s, duration: 1}]\ntraffic: [{events: []}]\n"
    from flowsim.scenario.load import parse_scenario
    from flowsim.scenario.source import load_yaml
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(*load_yaml(text, "x.yaml"))
    assert (exc.value.file, exc.value.line, exc.value.field) == ("x.yaml", 4, "functions[0].debounce.period")


# -- hand-worked timelines, ideal platform --------------------------------------------

def test_burst_collapses_to_one_run_with_the_last_event():
    events = [ev(t, id=f"e{t}") for t in (0, 1, 2, 3, 4)]
    r = run(scenario([fn({"period": "10s"})], events))
    assert runs_of(r) == [(["e4"], 14, 14)]
    out = outcomes(r)
    assert out["e4"][0] == "run"
    for a, b in zip("0123", "1234"):
        assert out[f"e{a}"] == ("debounced", f"superseded by e{b}", "")


def test_timeout_caps_every_generation_from_its_own_first_event():
    # Events every 10 s, period 30 s, timeout 60 s. Generation 1 opens at 0 (deadline 60):
    # the event at 50 may only wait 10 s, so it fires at 60. The event at 60 finds the
    # generation closed and opens generation 2 (deadline 120), which fires at 120 with the
    # event at 110, and so on. (Inngest's §6.4 bug would leave generations 2+ uncapped:
    # no run at all until the stream stops at 290, then one at 320.)
    events = [ev(t, id=f"e{t}") for t in range(0, 300, 10)]
    r = run(scenario([fn({"period": "30s", "timeout": "60s"})], events))
    assert runs_of(r) == [(["e50"], 60, 60), (["e110"], 120, 120), (["e170"], 180, 180),
                          (["e230"], 240, 240), (["e290"], 300, 300)]
    out = outcomes(r)
    assert out["e50"][0] == "run" and out["e60"] == ("debounced", "superseded by e70", "")


def test_timeout_longer_than_the_quiet_gap_changes_nothing():
    events = [ev(0, id="a"), ev(20, id="b"), ev(100, id="c")]
    r = run(scenario([fn({"period": "30s", "timeout": "10m"})], events))
    assert runs_of(r) == [(["b"], 50, 50), (["c"], 130, 130)]


def test_out_of_order_event_is_ignored_without_extension():
    # b is stamped ts=5 (in the future); c arrives later but stamped ts=3 < 5: ignored, and
    # the fire stays at b's arrival + period = 11 (not c's arrival + period = 12).
    events = [ev(0, id="a"), {**ev(1, id="b"), "ts": 5}, {**ev(2, id="c"), "ts": 3}]
    r = run(scenario([fn({"period": "10s"})], events))
    assert runs_of(r) == [(["b"], 11, 11)]
    out = outcomes(r)
    assert out["a"] == ("debounced", "superseded by b", "")
    assert out["c"][0] == "debounced"
    assert out["c"][1] == "out of order: ts 3 older than stored event b (ts 5)"


def test_equal_ts_replaces_and_future_ts_delays_the_start():
    # d's ts equals the stored event's: in order (ts >= stored). Its ts of 30 is past the
    # fire (12), so the run starts at max(fire, ts) = 30 (§1 step 9).
    events = [{**ev(1, id="c"), "ts": 30}, {**ev(2, id="d"), "ts": 30}]
    r = run(scenario([fn({"period": "10s"})], events))
    assert runs_of(r) == [(["d"], 12, 30)]
    assert outcomes(r)["c"] == ("debounced", "superseded by d", "")


def test_two_keys_are_independent():
    events = [ev(0, id="a1", doc="a"), ev(2, id="b1", doc="b"), ev(5, id="a2", doc="a"), ev(20, id="b2", doc="b")]
    r = run(scenario([fn({"period": "10s", "key": "event.data.doc"})], events))
    assert runs_of(r) == [(["b1"], 12, 12), (["a2"], 15, 15), (["b2"], 30, 30)]
    assert outcomes(r)["a1"] == ("debounced", "superseded by a2", "a")


def test_missing_field_shares_the_false_debounce_and_errors_share_invalid():
    # int(event.data.doc): a missing doc gives false (§2.1) and a non-numeric one an error.
    events = [ev(0, id="m1"), ev(2, id="x1", doc="abc"), ev(3, id="m2", other=1), ev(4, id="n1", doc=7),
              ev(5, id="x2", doc="zz")]
    r = run(scenario([fn({"period": "10s", "key": "int(event.data.doc)"})], events))
    assert runs_of(r) == [(["m2"], 13, 13), (["n1"], 14, 14), (["x2"], 15, 15)]
    out = outcomes(r)
    assert out["m1"] == ("debounced", "superseded by m2", "false")
    assert out["x1"] == ("debounced", "superseded by x2", "<invalid>")


def test_events_at_or_after_the_fire_start_a_new_generation():
    # a fires at 10; b arrives exactly then and opens generation 2 (fires at 20), c at 25 a third.
    events = [ev(0, id="a"), ev(10, id="b"), ev(25, id="c")]
    r = run(scenario([fn({"period": "10s"})], events))
    assert runs_of(r) == [(["a"], 10, 10), (["b"], 20, 20), (["c"], 35, 35)]
    assert set(r.events["outcome"]) == {"run"}


def test_no_key_means_one_debounce_per_function():
    events = [ev(0, id="a", doc="x"), ev(1, id="b", doc="y")]
    r = run(scenario([fn({"period": "5s"})], events))
    assert runs_of(r) == [(["b"], 6, 6)]


def test_held_events_are_pending_at_the_horizon():
    events = [ev(0, id="a"), ev(1, id="b")]
    r = run(scenario([fn({"period": "10s"})], events, horizon="5s"))
    assert r.runs.empty
    out = outcomes(r)
    assert out["a"] == ("debounced", "superseded by b", "") and out["b"][0] == "pending"


def test_fired_run_goes_through_the_queue_constraints():
    # Two keys fire at 10 and 11; a function concurrency limit of 1 makes the second wait.
    events = [ev(0, id="a", doc="a"), ev(1, id="b", doc="b")]
    f = fn({"period": "10s", "key": "event.data.doc"}, concurrency=1, steps=[{"run": "work", "duration": 5}])
    r = run(scenario([f], events))
    assert runs_of(r) == [(["a"], 10, 10), (["b"], 11, 15)]


def test_rate_limit_comes_before_and_is_not_applied_again_at_the_fire():
    # 1 per minute: a takes the only token at 0 and b is dropped before reaching the
    # debounce (it supersedes nothing). a's fire at 10 is not checked again (§1 steps 3-4),
    # or it would find the bucket empty.
    f = fn({"period": "10s"}, rateLimit={"limit": 1, "period": "1m"})
    r = run(scenario([f], [ev(0, id="a"), ev(1, id="b"), ev(61, id="c")]))
    assert runs_of(r) == [(["a"], 10, 10), (["c"], 71, 71)]
    assert outcomes(r)["b"][0] == "rate_limited"


def test_decisions_are_logged():
    events = [ev(0, id="e8", doc="doc-7"), ev(1, id="e9", doc="doc-7")]
    sc = flowsim.load_scenario(scenario([fn({"period": "10s", "key": "event.data.doc"})], events))
    log = flowsim.simulate(sc, explain=True).log
    messages = list(log["message"])
    assert "superseded in debounce doc-7 by event e9" in messages
    assert "debounce doc-7 fired with event e9 (2 events)" in messages


# -- hand-worked timelines, inngest platform (§6.2 delays) ----------------------------

def test_inngest_run_is_enqueued_period_plus_delay_after_the_last_event():
    events = [ev(t, id=f"e{t}") for t in (0, 1, 2, 3, 4)]
    r = run(scenario([fn({"period": "10s"})], events, platform="inngest"))
    [(ids, created, started)] = runs_of(r)
    assert ids == ["e4"]
    assert created == pytest.approx(4 + 10 + INNGEST_DELAY) and started == created


def test_inngest_timeout_stream():
    # As the ideal case, each fire 1.05 s later. The event at 60 arrives after generation 1
    # closed (its pointer expired at 60) but before it fires (61.05): it opens generation 2.
    events = [ev(t, id=f"e{t}") for t in range(0, 300, 10)]
    r = run(scenario([fn({"period": "30s", "timeout": "60s"})], events, platform="inngest"))
    got = runs_of(r)
    assert [ids for ids, _, _ in got] == [["e50"], ["e110"], ["e170"], ["e230"], ["e290"]]
    assert [c for _, c, _ in got] == pytest.approx([61.05, 121.05, 181.05, 241.05, 301.05])


def test_inngest_min_ttl_pushes_the_run_past_the_deadline():
    # Deadline 60. At 59.5 only 0.5 s are left, clamped to 1 s: the run is created at
    # 59.5 + 1 + 1.05 = 61.55, past deadline + 1.05 = 61.05 (§6.2, PR #3554).
    events = [ev(t, id=f"e{t}") for t in (0, 10, 20, 30, 40, 50)] + [ev(59.5, id="late")]
    r = run(scenario([fn({"period": "30s", "timeout": "60s"})], events, platform="inngest"))
    [(ids, created, _)] = runs_of(r)
    assert ids == ["late"] and created == pytest.approx(61.55)
    # The same stream on ideal fires exactly at the deadline.
    r = run(scenario([fn({"period": "30s", "timeout": "60s"})], events))
    assert runs_of(r) == [(["late"], 60, 60)]


def test_inngest_timeout_shorter_than_period_and_first_event_clamp():
    # timeout 0: the first wait is min(period, 0) clamped to 1 s (§6.2 newDebounce).
    r = run(scenario([fn({"period": "30s", "timeout": "0s"})], [ev(0, id="a")], platform="inngest"))
    [(_, created, _)] = runs_of(r)
    assert created == pytest.approx(1 + INNGEST_DELAY)
    r = run(scenario([fn({"period": "30s", "timeout": "5s"})], [ev(0, id="a"), ev(3, id="b")], platform="inngest"))
    [(ids, created, _)] = runs_of(r)
    assert ids == ["b"] and created == pytest.approx(5 + INNGEST_DELAY)


def test_inngest_event_in_the_delay_window_opens_a_new_generation():
    # Period 10: a's generation closes at 10 and fires at 11.05. b at 10.5 finds the
    # pointer expired and opens its own generation (fires at 10.5 + 11.05 = 21.55).
    events = [ev(0, id="a"), ev(10.5, id="b")]
    r = run(scenario([fn({"period": "10s"})], events, platform="inngest"))
    got = runs_of(r)
    assert [ids for ids, _, _ in got] == [["a"], ["b"]]
    assert [c for _, c, _ in got] == pytest.approx([11.05, 21.55])


# -- property test against a reference model -----------------------------------------

def reference(events, period, timeout, delay, min_ttl):
    """Runs and outcomes by the rules of §6.2 (intended timeout), written independently:
    events are (at, id, key, ts) in arrival order. Returns ({run event id: created_at},
    {event id: outcome}, {event id: generation index})."""
    gens = []           # per generation: {"id", "ts", "deadline", "close", "n"}
    current = {}
    outcome, member_of = {}, {}
    for at, eid, key, ts in events:
        g = current.get(key)
        if g is None or at >= g["close"]:
            g = current[key] = {"id": eid, "ts": ts, "deadline": None if timeout is None else at + timeout,
                                "n": len(gens)}
            gens.append(g)
        elif ts < g["ts"]:
            outcome[eid] = "debounced"
            member_of[eid] = g["n"]
            continue
        else:
            outcome[g["id"]] = "debounced"
            g["id"], g["ts"] = eid, ts
        ttl = period if g["deadline"] is None else min(period, g["deadline"] - at)
        g["close"] = at + max(ttl, min_ttl)
        member_of[eid] = g["n"]
    fired = {}
    for g in gens:
        outcome[g["id"]] = "run"
        fired[g["id"]] = g["close"] + delay
    return fired, outcome, member_of


event_streams = st.lists(
    st.tuples(st.sampled_from([0, 0.5, 1, 2, 3, 5, 8]),           # gap to the previous arrival
              st.sampled_from(["a", "b", None]),                 # doc (None: field missing)
              st.sampled_from([0, 0, 0, -1, -3, 2])),             # ts offset (negative: late stamp)
    min_size=1, max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams, period=st.sampled_from([1, 2, 3, 5]),
       timeout=st.sampled_from([None, 0, 2, 4, 9]), profile=st.sampled_from(["ideal", "inngest"]))
def test_property_matches_reference_and_invariants(stream, period, timeout, profile):
    at = 0.0
    explicit, ref_events = [], []
    for i, (gap, doc, offset) in enumerate(stream):
        at += gap
        eid = f"e{i}"
        data = {} if doc is None else {"doc": doc}
        explicit.append({"at": at, "name": "go", "id": eid, "ts": at + offset, "data": data})
        ref_events.append((at, eid, "false" if doc is None else doc, at + offset))
    deb = {"period": f"{period}s", "key": "event.data.doc"}
    if timeout is not None:
        deb["timeout"] = f"{timeout}s"
    sc = flowsim.load_scenario(scenario([fn(deb)], explicit, horizon="1h", platform=profile))
    r = flowsim.simulate(sc, explain=True)
    plat = sc.platform
    fired, ref_outcome, member_of = reference(ref_events, period, timeout, plat.debounce_delay,
                                              plat.debounce_min_ttl)

    # Every event has exactly one outcome, the reference's.
    assert len(r.events) == len(stream) and r.events["event_id"].is_unique
    assert dict(zip(r.events["event_id"], r.events["outcome"])) == ref_outcome
    # Runs: one per generation, with the generation's stored event, at the reference's time.
    got = {json.loads(x.event_ids)[0]: x.created_at for x in r.runs.itertuples()}
    assert all(len(json.loads(x)) == 1 for x in r.runs["event_ids"])
    assert got.keys() == fired.keys()
    for eid, created in fired.items():
        assert got[eid] == pytest.approx(created)
    # Invariants (the shared checker flowsim.testing.check_debounce): the run uses the
    # latest in-order event of its generation; from the engine's own decision log, a
    # generation fires once, with the last event that joined it in order, whose ts is the
    # largest of its members', and every run's event was fired.
    check_debounce(r)
    check_conservation(r)
    facts = [f if isinstance(f, dict) else json.loads(f)          # the log keeps facts as JSON
             for k, f in zip(r.log["kind"], r.log["facts"]) if k == "debounce"]
    assert len([f for f in facts if "events" in f]) == len(r.runs)
    joined: dict[int, list[str]] = {}
    for f in facts:
        if "by" in f:
            joined[f["generation"]].append(f["by"])
        elif "fire_at" in f:
            joined.setdefault(f["generation"], []).append(f["event"])
    # Events of one generation share the reference's generation.
    for members in joined.values():
        assert len({member_of[m] for m in members}) == 1


# -- statistics against the closed forms (spec README) -------------------------------

def ci(values, level=0.99):
    arr = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean()), float(arr.mean() - half), float(arr.mean() + half)


@pytest.mark.parametrize("lam, period", [(0.5, 1.0), (2.0, 1.0)])     # λp = 0.5 and 2
def test_poisson_runs_per_second_and_events_per_run(lam, period):
    horizon = 5000.0
    sc = flowsim.load_scenario({
        "name": "debounce-poisson", "horizon": horizon, "platform": "ideal",
        "functions": [fn({"period": period}, steps=[{"run": "work", "duration": "1ms"}])],
        "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": lam}}}]})
    rates, sizes = [], []
    for seed in flowsim.streams.replication_seeds(606, 16):
        r = flowsim.simulate(sc, seed)
        # One debounce at a time: every event that arrived before the last fire belongs
        # to a generation that fired; later ones to the one still open at the horizon.
        last_fire = r.runs["created_at"].max()
        rates.append(len(r.runs) / horizon)
        sizes.append(int((r.events["at"] < last_fire).sum()) / len(r.runs))
    rate_expected = lam * math.exp(-lam * period)
    size_expected = math.exp(lam * period)
    mean, lo, hi = ci(rates)
    assert lo <= rate_expected <= hi, f"runs/s {rate_expected:.4f} outside 99% CI [{lo:.4f}, {hi:.4f}]"
    assert (hi - lo) / rate_expected < 0.06
    mean, lo, hi = ci(sizes)
    assert lo <= size_expected <= hi, f"events/run {size_expected:.4f} outside 99% CI [{lo:.4f}, {hi:.4f}]"
    assert (hi - lo) / size_expected < 0.06

