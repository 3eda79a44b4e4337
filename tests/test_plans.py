"""Plans (``account: {plan: ...}``) and bursty concurrency: hand-worked ledgers, the plan's
limits and caps, bad input, the queue-depth warning, the summary section, the capacity
plan with and without burst, and the invariants on random scenarios with plans."""
from __future__ import annotations

import dataclasses
import json
import textwrap
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.plans import PLANS
from flowsim.policies import concurrency
from flowsim.testing import InvariantError, check_all, check_concurrency, check_work_conserving
from flowsim.testing import strategies as fst
from tests.helpers import ev, run, scenario


def fn(duration=60, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": duration}]}
    base.update(kw)
    return base


def steady(account, until="30m", horizon="1h", every="6s", **kw):
    """One 60 s step every 6 s until ``until``: 10 steps executing at once, 2.5× a limit of 4."""
    return scenario([fn()], horizon=horizon, account=account, **kw,
                    traffic=[{"event": "go", "arrivals": {"constant": {"every": every}}, "end": until}])


def waits(result):
    steps = result.steps[result.steps["started_at"].notna()]
    return (steps["started_at"] - steps["enqueued_at"]).tolist()


# -- the ledger, hand-worked -------------------------------------------------------------------

def test_demand_of_2_5x_for_30_minutes_is_served_by_the_burst():
    # Limit 4, burst ceiling 12. Run k arrives at 6k (k = 0..299) and runs 60 s, so from
    # t = 24 (the 5th) more than 4 execute, up to 10; the last ones end at 1854, and from
    # 1830 (run 295's end) only 4 are left. Above the limit over [24, 1830): clock minutes
    # 0..30, 31 minutes. Every run from the 5th (at 24) on started with 4 or more in use:
    # 296 runs only started thanks to the burst.
    r = run(steady({"plan": "pro", "concurrency": 4}))
    assert max(waits(r)) == 0.0 and len(r.runs) == 300
    burst = r.summary()["mechanisms"]["burst"]
    assert burst["minutes_spent"] == 31
    assert burst["minutes_left"] == 29
    assert burst["burst_spans"] == [[0.0, 1860.0]]
    assert burst["runs_started_by_burst"] == 296 == burst["steps_started_by_burst"]
    assert (burst["peak_in_use"], burst["peak_at"]) == (10, 54.0)
    assert burst["ran_out"] is False and burst["ran_out_at"] is None and burst["limit_back_to_base_at"] is None
    assert (burst["account_limit"], burst["burst_limit"]) == (4, 12)
    check_all(r)


def test_without_burst_the_same_demand_queues():
    # 4 slots of 60 s serve one run every 15 s against one every 6 s: the 5th run (at 24)
    # waits for the first slot at 60, and the backlog grows by 0.1 run a second.
    r = run(steady({"plan": "pro", "concurrency": 4, "burst": False}))
    assert "burst" not in r.summary()["mechanisms"]
    w = waits(r)
    assert w[:5] == [0, 0, 0, 0, 36.0]
    assert max(w) > 1500
    check_all(r)


def test_the_burst_stops_after_60_minutes_and_the_summary_says_when():
    # Demand of 2.5x for 90 minutes: minutes 0..59 are spent, the 60th (minute 59) at its
    # start, 3540, where 10 steps carried over from minute 58; from 3600 the limit is 4
    # again. Runs 4..599 (t = 24..3594) started thanks to the burst: 596. The 10 steps
    # started in minute 59 run on into minute 60 (the last ends at 3654), which is above
    # the limit without being paid for: 1 minute.
    r = run(steady({"plan": "pro", "concurrency": 4}, until="90m", horizon="2h"))
    burst = r.summary()["mechanisms"]["burst"]
    assert burst["minutes_spent"] == 60 and burst["minutes_left"] == 0
    assert burst["ran_out"] is True
    assert burst["ran_out_at"] == 3540.0
    assert burst["limit_back_to_base_at"] == 3600.0
    assert burst["runs_started_by_burst"] == 596
    assert burst["minutes_above_limit_after_running_out"] == 1
    starts = r.steps["started_at"]
    late = r.steps[r.steps["enqueued_at"] >= 3600]
    assert (late["started_at"].fillna(float("inf")) > late["enqueued_at"]).all()     # a backlog again
    assert starts[r.steps["enqueued_at"] < 3600].sub(r.steps["enqueued_at"]).max() == 0.0
    check_all(r)


def test_the_screen_tells_the_burst_story():
    """``run`` says how many minutes the burst took, what it started and when it ran out."""
    from flowsim.results.text import story, blocks
    served = story(run(steady({"plan": "pro", "concurrency": 4})).summary())
    assert ("Bursty concurrency: more than the account limit of 4 steps executed (up to 10, ceiling 12) in 31 "
            "clock minutes; 296 runs started only thanks to the burst; 29 of the month's 60 minutes are left. "
            "Without it (--set account.burst=false) these starts would have waited.") in served
    summary = run(steady({"plan": "pro", "concurrency": 4}, until="90m", horizon="2h")).summary()
    assert any("The allowance of 60 minutes ran out at 3,540 s, and the limit was back to 4 from 3,600 s" in line
               for line in story(summary))
    slots = next(b for b in blocks(summary) if b.kind == "slots")
    assert slots.rows[0][:2] == ["account", "4 (burst 12)"]
    quiet = story(run(steady({"plan": "pro", "concurrency": 40})).summary())
    assert any(line.startswith("Bursty concurrency was not needed") for line in quiet)


def test_minutes_already_spent_this_month():
    # 50 of 60 spent before: minutes 0..9 are left; the 10th (minute 9) is spent at 540.
    r = run(steady({"plan": "business", "concurrency": 4, "burst_minutes_used": 50}))
    burst = r.summary()["mechanisms"]["burst"]
    assert (burst["minutes_spent_before"], burst["minutes_spent"], burst["minutes_left"]) == (50, 10, 0)
    assert (burst["ran_out_at"], burst["limit_back_to_base_at"]) == (540.0, 600.0)
    assert burst["burst_spans"] == [[0.0, 600.0]]
    check_all(r)


def test_an_allowance_spent_before_the_start_is_no_burst():
    r = run(steady({"plan": "pro", "concurrency": 4, "burst_minutes_used": 60}, until="5m", horizon="10m"))
    burst = r.summary()["mechanisms"]["burst"]
    assert burst["minutes_spent"] == 0 and burst["runs_started_by_burst"] == 0
    assert (burst["ran_out_at"], burst["limit_back_to_base_at"]) == (0.0, 0.0)
    assert waits(r)[4] == 36.0
    check_all(r)


def test_a_minute_is_spent_for_a_moment_above_the_limit():
    # Two one-second steps at 59.5 on a limit of 1: the second is above the limit, in
    # minute 0 only ([59.5, 60.5) is in minutes 0 and 1, but the level is 2 over
    # [59.5, 60.5) so minute 1 is spent too); a third at 150 alone spends nothing.
    r = run(scenario([fn(duration=1)], [ev(59.5), ev(59.5), ev(150)], account={"plan": "pro", "concurrency": 1}))
    burst = r.summary()["mechanisms"]["burst"]
    assert burst["burst_spans"] == [[0.0, 120.0]]
    assert burst["runs_started_by_burst"] == 1
    r = run(scenario([fn(duration=0.5)], [ev(59.5), ev(59.5)], account={"plan": "pro", "concurrency": 1}))
    assert r.summary()["mechanisms"]["burst"]["burst_spans"] == [[0.0, 60.0]]      # [59.5, 60): minute 0


def test_function_limits_and_throttle_still_apply_during_a_burst():
    # Burst ceiling 12, but the function limit of 5 holds: the 6th waits.
    r = run(steady({"plan": "pro", "concurrency": 4}, until="1m", horizon="5m"))
    assert max(waits(r)) == 0
    sc = steady({"plan": "pro", "concurrency": 4}, until="1m", horizon="5m")
    sc["functions"][0]["concurrency"] = 5
    r = run(sc)
    assert waits(r)[5] == 30.0          # run 5 (t = 30) waits for run 0's end at 60
    sc["functions"][0].pop("concurrency")
    sc["functions"][0]["throttle"] = {"limit": 1, "period": "12s"}
    r = run(sc)
    assert waits(r)[:3] == [0, 6.0, 12.0]


def test_burst_counts_every_function():
    # The account limit is shared: two functions, each one step of 60 s at 0, limit 1.
    g = {"id": "g", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": 60}]}
    r = run(scenario([fn(), g], [ev(0)], account={"plan": "pro", "concurrency": 1}))
    burst = r.summary()["mechanisms"]["burst"]
    assert burst["peak_in_use"] == 2 and burst["minutes_spent"] == 1
    check_all(r)


# -- plan limits --------------------------------------------------------------------------------

@pytest.mark.parametrize("plan, limit", [("free", 5), ("pro", 100), ("business", 500)])
def test_the_plan_gives_the_account_limit(plan, limit):
    sc = flowsim.load_scenario(scenario([fn()], [ev(0)], account={"plan": plan}))
    assert sc.account.concurrency == limit
    assert sc.functions[0].mechanisms["concurrency"].account_limit == limit
    assert sc.account.burst is (plan != "free")


def test_an_explicit_limit_overrides_the_plans():
    sc = flowsim.load_scenario(scenario([fn()], [ev(0)], account={"plan": "pro", "concurrency": 250}))
    assert sc.account.concurrency == 250
    sc = flowsim.load_scenario(scenario([fn()], [ev(0)], account={"plan": "enterprise", "concurrency": 20000}))
    assert sc.account.concurrency == 20000 and sc.account.burst


def test_free_runs_five_steps_at_once_and_never_bursts():
    r = run(scenario([fn(duration=10)], [ev(0) for _ in range(8)], account={"plan": "free"}))
    assert waits(r) == [0] * 5 + [10.0] * 3
    assert "burst" not in r.summary()["mechanisms"]


def test_the_published_table():
    assert {n: (p.concurrency, p.max_concurrency, p.batch_size, p.batch_timeout, p.queue_depth, p.burst)
            for n, p in PLANS.items()} == {
        "free": (5, 5, 5, 30.0, 100_000, False),
        "pro": (100, 1000, 100, 300.0, 1_000_000, True),
        "business": (500, 500, 500, 300.0, 10_000_000, True),
        "enterprise": (None, None, None, None, None, True),
    }


# -- bad input ----------------------------------------------------------------------------------

def load_text(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return flowsim.load_scenario(path)


BASE = """\
    functions:
      - id: f
        triggers: [{event: go}]
        steps: [{run: work, duration: 1}]
    traffic: [{events: [{at: 0, name: go}]}]
    """


@pytest.mark.parametrize("account, line, field, message", [
    ("{plan: free, concurrency: 50}", 1, "account.concurrency",
     "50 is above the free plan's limit of 5 concurrent steps (Inngest's published plan limits); "
     "account.concurrency wins over the plan's own limit, so it must be one the plan allows: 1 to 5 on free "
     "(free: up to 5, pro: up to 1,000, business: up to 500, enterprise: any)"),
    ("{plan: pro, concurrency: 1500}", 1, "account.concurrency", "above the pro plan's limit of 1,000"),
    ("{plan: team}", 1, "account.plan", "expected one of free, pro, business, enterprise, got string 'team'"),
    ("{plan: enterprise}", 1, "account.plan",
     "the enterprise plan's concurrency is custom: set account.concurrency to your contract's limit"),
    ("{plan: free, burst: true}", 1, "account.burst",
     "the free plan has no bursty concurrency (Pro and above: pro, business or enterprise)"),
    ("{concurrency: 10, burst: true}", 1, "account.burst",
     "bursty concurrency comes with a plan: set account.plan to pro, business or enterprise"),
    ("{plan: pro, burst: 1}", 1, "account.burst", "expected true or false"),
    ("{plan: pro, burst_minutes_used: 61}", 1, "account.burst_minutes_used", "must be at most 60, got 61"),
    ("{plan: pro, burst: false, burst_minutes_used: 3}", 1, "account.burst_minutes_used",
     "burst_minutes_used needs bursty concurrency"),
])
def test_account_errors(tmp_path, account, line, field, message):
    with pytest.raises(ScenarioError) as err:
        load_text(tmp_path, f"account: {account}\n" + textwrap.dedent(BASE))
    assert err.value.line == line and err.value.field == field
    assert message in err.value.message


@pytest.mark.parametrize("plan, batch, field, message", [
    ("pro", "{maxSize: 200, timeout: 10s}", "maxSize",
     "the pro plan's event batch capacity is 100 events (Inngest's published plan limits); maxSize 200 is above it"),
    ("free", "{maxSize: 5, timeout: 1m}", "timeout",
     "the free plan's event batch timeout is 30s (Inngest's published plan limits); timeout 1m is above it"),
    ("business", "{maxSize: 10, timeout: 6m}", "timeout", "the business plan's event batch timeout is 5m"),
])
def test_batches_above_the_plans_caps(tmp_path, plan, batch, field, message):
    text = textwrap.dedent(f"""\
        account: {{plan: {plan}}}
        functions:
          - id: f
            triggers: [{{event: go}}]
            steps: [{{run: work, duration: 1}}]
            batchEvents: {batch}
        traffic: [{{events: [{{at: 0, name: go}}]}}]
        """)
    with pytest.raises(ScenarioError) as err:
        load_text(tmp_path, text)
    assert err.value.line == 6 and err.value.field == f"functions[0].batchEvents.{field}"
    assert message in err.value.message


def test_batches_within_the_caps_and_on_enterprise_load(tmp_path):
    for plan in ("free", "enterprise"):
        limit = ", concurrency: 50" if plan == "enterprise" else ""
        load_text(tmp_path, textwrap.dedent(f"""\
            account: {{plan: {plan}{limit}}}
            functions:
              - id: f
                triggers: [{{event: go}}]
                steps: [{{run: work, duration: 1}}]
                batchEvents: {{maxSize: 5, timeout: 30s}}
            traffic: [{{events: [{{at: 0, name: go}}]}}]
            """))


def test_cli_exit_code_2(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("account: {plan: free, concurrency: 50}\n" + textwrap.dedent(BASE))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "s.yaml:1: account.concurrency: 50 is above the free plan's limit" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_a_horizon_longer_than_a_month_warns():
    with pytest.warns(ScenarioWarning, match="flowsim does not refill it within a simulation"):
        flowsim.load_scenario(scenario([fn()], [ev(0)], horizon="30d", account={"plan": "pro"}))


# -- queue depth --------------------------------------------------------------------------------

def test_passing_the_plans_queue_depth_warns_and_is_flagged(monkeypatch):
    # Inngest does not say what happens at the queue depth limit: flowsim warns and goes on.
    monkeypatch.setitem(PLANS, "free", dataclasses.replace(PLANS["free"], queue_depth=10))
    sc = scenario([fn(duration=10)], [ev(0) for _ in range(12)] + [ev(5) for _ in range(5)],
                  account={"plan": "free"})
    with pytest.warns(ScenarioWarning, match="at t=5s the account's queues held 11 items, more than the free "
                                             "plan's queue depth of 10; Inngest does not publish what happens"):
        r = run(sc)
    depth = r.summary()["mechanisms"]["queue_depth"]
    assert (depth["limit"], depth["exceeded"], depth["first_exceeded_at"]) == (10, True, 5.0)
    assert (depth["peak"], depth["peak_at"]) == (12, 5.0)      # 7 waiting at 0; 5 more at 5
    assert len(r.runs) == 17 and (r.runs["status"] != "skipped").all()      # nothing refused


def test_within_the_queue_depth_nothing_is_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run(scenario([fn(duration=10)], [ev(0) for _ in range(12)], account={"plan": "free"}))
    depth = r.summary()["mechanisms"]["queue_depth"]
    assert (depth["peak"], depth["exceeded"], depth["first_exceeded_at"]) == (7, False, None)


# -- the summary section ------------------------------------------------------------------------

def test_no_plan_no_section():
    r = run(scenario([fn()], [ev(0)]))
    assert "mechanisms" not in r.summary() and r.mechanisms == {}


def test_the_section_reaches_the_summary_only_result_and_summary_json(tmp_path):
    sc = steady({"plan": "pro", "concurrency": 4}, until="5m", horizon="10m")
    full = run(sc)
    folded = flowsim.simulate(flowsim.load_scenario(sc), tables=False)
    assert folded.summary()["mechanisms"] == full.summary()["mechanisms"]
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(sc))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["mechanisms"]["burst"]["minutes_spent"] == full.summary()["mechanisms"]["burst"]["minutes_spent"]


# -- capacity planning with and without burst ---------------------------------------------------

SPIKE = """\
    name: import-spike
    seed: 1
    horizon: 10m
    account: {plan: pro}
    platform: ideal
    functions:
      - id: import-row
        triggers: [{event: import/row}]
        steps: [{run: write, duration: 60s}]
    traffic:
      - event: import/row
        arrivals: {bursts: {every: 1h, size: 12}}
    """


@pytest.mark.parametrize("extra, answer", [([], 4), (["--set", "account.burst=false"], 12)])
def test_plan_finds_the_smallest_account_limit_with_and_without_burst(tmp_path, extra, answer):
    # 12 one-minute steps at once: with burst a limit of 4 (ceiling 12) starts them all at
    # once; without, it takes 12.
    path = tmp_path / "spike.yaml"
    path.write_text(textwrap.dedent(SPIKE))
    result = CliRunner().invoke(app, ["plan", str(path), "--vary", "account.concurrency=1..20", "--slo",
                                      "p99(start_latency) <= 1s", "-n", "2", "--workers", "1", "--out",
                                      str(tmp_path / "out"), *extra])
    assert result.exit_code == 0, result.output
    assert f"account.concurrency = {answer} is the smallest value that meets every objective" in result.output


# -- invariants ---------------------------------------------------------------------------------

def test_the_invariant_catches_a_ledger_that_keeps_bursting(monkeypatch):
    # A ledger that never runs out: after minute 59 starts above the limit are not paid for.
    monkeypatch.setattr(concurrency, "BURST_MINUTES", 10 ** 6)
    r = run(steady({"plan": "pro", "concurrency": 4}, until="70m", horizon="75m"))
    with pytest.raises(InvariantError, match="spent|did not spend"):
        check_concurrency(r)


def test_the_invariant_catches_a_wrong_section():
    r = run(steady({"plan": "pro", "concurrency": 4}, until="5m", horizon="10m"))
    burst = dict(r.mechanisms["burst"])
    burst["burst_spans"] = [[0.0, 120.0], [180.0, 360.0]]           # minute 2 left out
    burst["minutes_spent"] = 5
    bad = dataclasses.replace(r, mechanisms={**r.mechanisms, "burst": burst})
    with pytest.raises(InvariantError, match="in minute 2, which the burst ledger did not spend"):
        check_concurrency(bad)
    burst["burst_spans"] = [[0.0, 420.0]]                          # minute 6 has at most 4
    burst["minutes_spent"] = 7
    with pytest.raises(InvariantError, match="burst minute 6 .* was spent, but at most 4"):
        check_concurrency(dataclasses.replace(r, mechanisms={**r.mechanisms, "burst": burst}))


def test_work_conservation_knows_the_burst_ceiling(monkeypatch):
    # A ledger that refuses above the limit while minutes are left leaves work waiting.
    monkeypatch.setattr(concurrency.BurstLedger, "admits", lambda self, now: self.used < self.base)
    r = run(steady({"plan": "pro", "concurrency": 4}, until="5m", horizon="10m"))
    with pytest.raises(InvariantError, match="0 of unlimited function slots|4 of 12 account slots"):
        check_work_conserving(r)


@settings(max_examples=150, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(fst.scenarios_with_plans())
def test_invariants_hold_with_plans(sc):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        r = flowsim.simulate(flowsim.load_scenario(sc))
    check_all(r)
