"""Key queues (spec §3.4) against flowsim's invariants and rules: the invariant checkers on
drawn scenarios, byte-identical outputs across processes and hash seeds, the decision
log, summary-only runs, plug-ins, and the default path left as it was."""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import flowsim
from flowsim.errors import ScenarioWarning
from flowsim.testing import check_all, check_concurrency, check_conservation, strategies as fst
from flowsim.testing.determinism import check_determinism

from tests.helpers import ev, run, scenario
from tests.test_summary_only import differences

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "scenarios" / "noisy-neighbour-key-queues.yaml"


def load(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)        # drawn configs are all clean
        return flowsim.load_scenario(data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(sc=fst.scenarios(key_queues=True))
def test_invariants_hold_with_key_queues(sc):
    check_all(flowsim.simulate(load(sc)))


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(sc=fst.scenarios(key_queues=True, max_events=40))
def test_invariants_hold_with_key_queues_many(sc):
    check_all(flowsim.simulate(load(sc)))


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(sc=fst.scenarios(key_queues=True))
def test_the_decision_log_changes_nothing(sc):
    s = load(sc)
    a, b = flowsim.simulate(s), flowsim.simulate(s, explain=True)
    for table in ("events", "runs", "steps"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))


def test_the_strategy_draws_key_queues_only_when_asked():
    drawn = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(a=fst.scenarios(), b=fst.scenarios(key_queues=True), c=fst.scenarios(key_queues=None))
    def collect(a, b, c):
        drawn.append((a, b, c))
    collect()
    assert not any(a.get("account", {}).get("key_queues") for a, _, _ in drawn)
    assert all(b["account"]["key_queues"] is True for _, b, _ in drawn)
    assert {bool(c.get("account", {}).get("key_queues")) for _, _, c in drawn} == {True, False}


def test_outputs_are_identical_across_processes_and_hash_seeds(tmp_path):
    drawn = []

    @settings(max_examples=4, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(sc=fst.scenarios(key_queues=True, max_events=30))
    def collect(sc):
        drawn.append(sc)
    collect()
    paths = []
    for i, sc in enumerate(drawn[:3]):
        path = tmp_path / f"drawn-{i}.yaml"
        path.write_text(yaml.safe_dump(sc))
        paths.append(path)
    variant = yaml.safe_load(SHIPPED.read_text())
    variant.pop("variants")
    variant["account"] = {"key_queues": True}
    variant["horizon"] = "2m"
    path = tmp_path / "shipped-key-queues.yaml"
    path.write_text(yaml.safe_dump(variant))
    check_determinism(paths + [path])


def test_summary_only_agrees_with_the_tables():
    data = dict(yaml.safe_load(SHIPPED.read_text()), horizon="3m", account={"key_queues": True})
    data.pop("variants")
    s = load(data)
    tables = flowsim.simulate(s, warmup=0.2).summary()
    folded = dict(flowsim.simulate(s, warmup=0.2, tables=False).summary())
    folded.pop("summary_only")
    assert differences(tables, folded) == []


def test_key_queues_false_is_the_default_path():
    f = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"key": "event.data.k", "limit": 1}],
         "steps": [{"run": "work", "duration": "1s"}]}
    events = [ev(0.3 * i, k=f"k{i % 3}") for i in range(30)]
    a = run(scenario([f], events, platform="inngest"))
    b = run(scenario([f], events, platform="inngest", account={"key_queues": False}))
    for table in ("events", "runs", "steps"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))


def test_the_log_says_which_backlog_and_which_constraint():
    f = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"key": "event.data.t", "limit": 1}],
         "steps": [{"run": "work", "duration": "1s"}]}
    sc = scenario([f], [ev(0.05, id="a0", t="A"), ev(0.05, id="a1", t="A")], platform="inngest",
                  account={"key_queues": True}, horizon="10s")
    log = flowsim.simulate(load(sc), explain=True).log
    messages = log["message"].tolist()
    assert ("run r2 step work waiting in backlog f/start concurrency:event.data.t=A: keyed limit "
            "event.data.t=A: 1/1 in use") in messages
    assert ("backlog f/start concurrency:event.data.t=A: 1 item(s) moved to the ready queue, 1 left; then "
            "refused by concurrency:event.data.t=A") in messages
    waiting = log[log["kind"] == "waiting"]
    assert waiting["time"].tolist()[0] == 0.05       # first: waiting for the scanner's tick
    assert "the shadow scanner's next refill" in waiting["message"].tolist()[0]


PLUGINS = {
    "collision": {"policy": "collision", "key": "event.data.k", "max_runs": 1, "strategy": "cancel_queued_except_oldest"},
    "rate_limit delay": {"policy": "rate_limit", "algorithm": "fixed_window", "limit": 2, "period": "10s",
                         "mode": "delay", "key": "event.data.k"},
}


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_plug_in_constraints_work_with_key_queues(name):
    f = {"id": "f", "triggers": [{"event": "go"}], "policies": [PLUGINS[name]], "concurrency": 3,
         "steps": [{"run": "work", "duration": "2s"}]}
    events = [ev(0.25 * i, k=f"k{i % 4}") for i in range(60)]
    for platform in ("inngest", "ideal"):
        r = run(scenario([f], events, platform=platform, account={"key_queues": True}, horizon="10m"))
        check_conservation(r)
        check_concurrency(r)
        assert r.runs["status"].isin(["completed", "cancelled"]).all(), r.runs["status"].value_counts()


def test_a_dispatch_order_is_refused_with_key_queues():
    f = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "1s"}],
         "policies": [{"policy": "round_robin", "key": "event.data.k"}]}
    with pytest.raises(flowsim.ScenarioError, match="sets the order of the default queue path's walk"):
        flowsim.load_scenario(scenario([f], [ev(0)], account={"key_queues": True}))
    f["policies"] = [{"policy": "fifo"}]           # Inngest's own order is the backlogs' order
    flowsim.load_scenario(scenario([f], [ev(0)], account={"key_queues": True}))
