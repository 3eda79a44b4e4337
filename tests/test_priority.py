"""Run priority (spec §7): hand-worked timelines with every start computed by hand, the
value rules of ``RunPriorityFactor`` (§7.1), the interaction with keys and retries
(§3.3, §3.5, §7.2), a queue-order property, and validation through the CLI."""
from __future__ import annotations

import json
import textwrap
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowsim.cli import app
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.policies.priority import PriorityConfig
from flowsim.scenario.source import Node, load_yaml
from flowsim.testing import check_priority_order, check_work_conserving
from tests.helpers import by_event, ev, run, scenario, step_times

HI = "event.data.tier == 'hi' ? 5 : 0"


def fn(priority: str | None = HI, concurrency=1, **kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "10s"}]}
    if concurrency is not None:
        base["concurrency"] = concurrency
    if priority is not None:
        base["priority"] = {"run": priority}
    base.update(kw)
    return base


def starts(result, step: str = "work", attempt: int = 1) -> dict[str, float]:
    """Start time of ``step`` (attempt ``attempt``) per first event id."""
    return {e: s for e, name, a, s, _ in step_times(result) if name == step and a == attempt}


# -- the backlog, by hand ------------------------------------------------------------------

# Concurrency 1, 10 s steps, low-priority events at 0, 1, ..., 9 and one event with factor 5
# at 7.5: its score is 7.5 − 5 = 2.5, so it overtakes the runs created after 2.5 (e3..e7,
# still queued) but not e0..e2. e0 starts at 0, e1 at 10, e2 at 20, then h at 30.
BACKLOG = [ev(i, id=f"e{i}") for i in range(10)] + [ev(7.5, id="h", tier="hi")]
BACKLOG_STARTS = {"e0": 0, "e1": 10, "e2": 20, "h": 30, "e3": 40, "e4": 50, "e5": 60, "e6": 70,
                  "e7": 80, "e8": 90, "e9": 100}


def test_factor_overtakes_exactly_the_runs_created_within_it():
    r = run(scenario([fn()], BACKLOG))
    assert starts(r) == BACKLOG_STARTS
    assert by_event(r).loc["h", "priority_factor"] == 5
    assert (by_event(r).drop(index="h")["priority_factor"] == 0).all()


def test_without_priority_the_backlog_is_fifo():
    r = run(scenario([fn(priority=None)], BACKLOG))
    assert starts(r)["h"] == 80 and starts(r)["e7"] == 70


def test_factor_applies_to_every_step_of_the_run():
    # Two 10 s steps. L0 at 0 runs a 0-10; H (factor 100) at 4 scores −96: its step a runs
    # 10-20, and its step b, enqueued at 20 with the same score, goes ahead of L0's older b
    # (score 0). With the factor on the start only, H's b would score 4 and run at 50.
    steps = [{"run": "a", "duration": 10}, {"run": "b", "duration": 10}]
    events = [ev(0, id="L0"), ev(1, id="L1"), ev(2, id="L2"), ev(4, id="H", tier="hi")]
    r = run(scenario([fn("event.data.tier == 'hi' ? 100 : 0", steps=steps)], events))
    assert step_times(r) == [("L0", "a", 1, 0, 10), ("H", "a", 1, 10, 20), ("H", "b", 1, 20, 30),
                             ("L0", "b", 1, 30, 40), ("L1", "a", 1, 40, 50), ("L1", "b", 1, 50, 60),
                             ("L2", "a", 1, 60, 70), ("L2", "b", 1, 70, 80)]


def test_negative_factor_pushes_back_behind_runs_created_within_it():
    # N at 1 with factor −5 scores 6: behind L2 (2) and L3 (3), ahead of L7 (7).
    events = [ev(0, id="L0"), ev(1, id="N", tier="lo"), ev(2, id="L2"), ev(3, id="L3"), ev(7, id="L7")]
    r = run(scenario([fn("event.data.tier == 'lo' ? -5 : 0")], events))
    assert starts(r) == {"L0": 0, "L2": 10, "L3": 20, "N": 30, "L7": 40}
    assert by_event(r).loc["N", "priority_factor"] == -5


def test_negative_factor_delays_the_start_on_an_idle_queue():
    # Inngest scores the item run creation + |factor| and peeks only items scored <= now,
    # so it waits (§7.2; docs: "a negative number will delay the function run's jobs").
    r = run(scenario([fn("-5", concurrency=10)], [ev(0, id="N")]))
    assert starts(r) == {"N": 5}
    assert r.steps["blocked_by"].tolist() == ["priority"]


# -- retries and sleeps (§3.5, §7.2) ---------------------------------------------------------

def test_retry_loses_its_place_and_its_priority():
    # Every attempt fails, one retry after 15 s (no jitter). H (factor 100) at 0 fails at 10;
    # its retry is due at 25 and scored 25 — not 0 − 100, not 25 − 100 — so L3 (3) and
    # L4 (4) go first; the retries then run in due order (25, 35, 45, 55, 65).
    f = fn("event.data.tier == 'hi' ? 100 : 0", retries=1,
           steps=[{"run": "work", "duration": 10, "failure_rate": 1.0}])
    events = [ev(0, id="H", tier="hi")] + [ev(i, id=f"L{i}") for i in range(1, 5)]
    r = run(scenario([f], events, platform={"profile": "ideal", "retry_jitter": 0}))
    assert starts(r) == {"H": 0, "L1": 10, "L2": 20, "L3": 30, "L4": 40}
    assert starts(r, attempt=2) == {"H": 50, "L1": 60, "L2": 70, "L3": 80, "L4": 90}


def test_resumed_sleep_is_scored_by_its_wake_time():
    # a (10 s), sleep 5 s, b (10 s). H (factor 100) at 0 runs a 0-10 and wakes at 15: the
    # resumed-sleep request is scored 15, so the start items of L2..L4 (2, 3, 4) go first,
    # then H's b at 50, then the other wakes in order (25, 35, 45, 55).
    steps = [{"run": "a", "duration": 10}, {"sleep": "5s"}, {"run": "b", "duration": 10}]
    events = [ev(0, id="H", tier="hi")] + [ev(i, id=f"L{i}") for i in range(1, 5)]
    r = run(scenario([fn("event.data.tier == 'hi' ? 100 : 0", steps=steps)], events))
    assert starts(r, "a") == {"H": 0, "L1": 10, "L2": 20, "L3": 30, "L4": 40}
    assert starts(r, "b") == {"H": 50, "L1": 60, "L2": 70, "L3": 80, "L4": 90}


# -- the value (§7.1) ------------------------------------------------------------------------

def test_clamped_to_the_default_range_of_600_s():
    f = fn("event.data.tier == 'hi' ? 700 : (event.data.tier == 'lo' ? -700 : 600)")
    r = run(scenario([f], [ev(0, id="a", tier="hi"), ev(1, id="b", tier="lo"), ev(2, id="c")]))
    assert by_event(r)["priority_factor"].to_dict() == {"a": 600, "b": -600, "c": 600}


def test_clamped_to_a_custom_account_range():
    # The backlog of the first test with a factor of 100 clamped to 5: the same timeline.
    r = run(scenario([fn("event.data.tier == 'hi' ? 100 : 0")], BACKLOG, account={"priority_range": "5s"}))
    assert starts(r) == BACKLOG_STARTS
    assert by_event(r).loc["h", "priority_factor"] == 5


EXPRESSIONS = [
    # (expression, factor for data {p: 4, q: 1, s: "a", flag: true, n: "7"}, for data {})
    ("int(event.data.p)", 4, 0),                     # int() of a JSON number: an int
    ("event.data.q == 1 ? 60 : 0", 60, 0),           # int literal; double == int compares values
    ("event.data.flag ? 3.0 : 0", 0, 0),             # a double literal, even integral: non-int
    ("event.data.p * 2", 0, 0),                      # double arithmetic: non-int
    ("event.data.n", 0, 0),                          # a string (and false when missing)
    ("event.data.s < 1 ? 60 : 0", 0, 60),            # 'a' < 1 errors: 0; missing < 1 is true (§2.1)
    ("event.data.flag", 0, 0),                       # a bool is not an int
    ("size(event.data.n) + 10", 11, 10),             # size() is an int (0 for a missing field)
]


@pytest.mark.filterwarnings("ignore::flowsim.errors.ScenarioWarning")
def test_only_int_results_count_and_event_numbers_are_doubles():
    fns = [fn(expr, concurrency=100, id=f"f{i}") for i, (expr, _, _) in enumerate(EXPRESSIONS)]
    r = run(scenario(fns, [ev(0, id="full", p=4, q=1, s="a", flag=True, n="7"), ev(1, id="empty")]))
    runs = r.runs.assign(event=r.runs["event_ids"].map(lambda s: json.loads(s)[0]))
    got = {(row.function_id, row.event): row.priority_factor for row in runs.itertuples()}
    for i, (expr, full, empty) in enumerate(EXPRESSIONS):
        assert (got[(f"f{i}", "full")], got[(f"f{i}", "empty")]) == (full, empty), expr


def test_a_bare_event_field_is_a_double_in_inngest_and_gives_0():
    # Inngest decodes events from JSON: event.data.priority is a float64 however it was
    # written, and RunPriorityFactor takes ints only (§7.1). flowsim warns at load time.
    warning = r"functions\[0\].priority.run: .*never an int.*int\(event.data.priority\)"
    with pytest.warns(ScenarioWarning, match=warning):
        r = run(scenario([fn("event.data.priority")], [ev(0, id="a", priority=120), ev(1, id="b", priority=3.0)]))
    assert by_event(r)["priority_factor"].to_dict() == {"a": 0, "b": 0}


def test_priority_is_evaluated_on_the_debounced_event():
    # Debounce keeps the last event (§1 step 5): the run gets that event's factor.
    f = fn("int(event.data.p)", concurrency=None, debounce={"period": "5s"})
    r = run(scenario([f], [ev(0, id="a", p=1), ev(1, id="b", p=7)]))
    assert list(r.runs["priority_factor"]) == [7]


def test_explain_logs_non_zero_clamped_and_non_int_factors():
    import flowsim
    sc = flowsim.load_scenario(scenario([fn("event.data.tier == 'hi' ? 900 : (event.data.tier == 'x' ? 5 : "
                                            "(event.data.tier == 'd' ? 1.5 : 0))", concurrency=10)],
                                        [ev(0, id="a", tier="hi"), ev(1, id="b", tier="x"),
                                         ev(2, id="c", tier="d"), ev(3, id="z")]))
    log = flowsim.simulate(sc, explain=True).log
    rows = [(json.loads(facts), message)
            for kind, message, facts in zip(log["kind"], log["message"], log["facts"]) if kind == "priority"]
    log = [(facts["event_id"], facts["factor"], message) for facts, message in rows]
    assert [(e, f) for e, f, _ in log] == [("a", 600), ("b", 5), ("c", 0)]
    assert "clamped to 600" in log[0][2] and "returned non-int: 1.5 (double)" in log[2][2]


# -- keys, functions (§3.3, §7.2) ------------------------------------------------------------

def test_high_priority_run_of_a_blocked_key_is_skipped_not_blocking():
    # Function limit 2, one per user. a0 runs 0-10; H (user a, factor 100) at 1 is blocked by
    # its key and skipped, so b1 starts at 2; c3 then waits for the function limit. At 10
    # a0 ends and H (score −99) goes before c3 (3), which starts when b1 ends at 12.
    f = fn("event.data.tier == 'hi' ? 100 : 0", concurrency=[{"limit": 2}, {"key": "event.data.user", "limit": 1}])
    events = [ev(0, id="a0", user="a"), ev(1, id="H", user="a", tier="hi"), ev(2, id="b1", user="b"),
              ev(3, id="c3", user="c")]
    r = run(scenario([f], events))
    assert starts(r) == {"a0": 0, "b1": 2, "H": 10, "c3": 12}
    waits = r.steps.set_index("run_id")["waits"]
    runs = by_event(r)
    # H waited for its key (1-3), then, first in the queue, for the function limit (3-10).
    assert json.loads(waits[runs.loc["H", "run_id"]]) == {"concurrency:event.data.user=a": 2, "function": 7}
    assert json.loads(waits[runs.loc["c3", "run_id"]]) == {"function": 9}


def _two_functions(priority: str | None):
    a = fn(priority, concurrency=None, id="A")
    b = fn(None, concurrency=None, id="B", triggers=[{"event": "b"}])
    events = [ev(0, "b", id="B0"), ev(1, id="A1"), ev(2, "b", id="B2"), ev(3, id="AH", tier="hi")]
    return scenario([a, b], events, account={"concurrency": 1})


@pytest.mark.parametrize("seed", range(1, 9))
def test_priority_orders_only_within_its_function(seed):
    # Account limit 1: when B0 ends at 10, the two blocked functions are walked in a shuffled
    # order (§3.3). The factor changes which of A's runs goes first, never which function.
    plain, prio = run(_two_functions(None), seed), run(_two_functions("event.data.tier == 'hi' ? 600 : 0"), seed)
    order = [e for e, *_ in step_times(plain)]
    order_p = [e for e, *_ in step_times(prio)]
    assert [e[0] for e in order_p] == [e[0] for e in order]          # A or B, slot by slot
    assert [e for e in order if e[0] == "A"] == ["A1", "AH"]
    assert [e for e in order_p if e[0] == "A"] == ["AH", "A1"]


# -- a property of the queue order ------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(-700, 700)), min_size=2, max_size=25))
def test_the_waiting_run_with_the_lowest_score_starts_next(arrivals):
    # Concurrency 1, one 3 s step: whenever a run starts, every run already waiting has a
    # score (creation − clamped factor) at least as large, ties going to the older run.
    events = [ev(t / 20, id=f"e{i}", f=f) for i, (t, f) in enumerate(arrivals)]
    r = run(scenario([fn("int(event.data.f)", steps=[{"run": "work", "duration": 3}])], events))
    runs = by_event(r)
    assert runs["priority_factor"].to_dict() == {f"e{i}": max(-600, min(600, f)) for i, (_, f) in enumerate(arrivals)}
    # (the shared checker flowsim.testing.check_priority_order: no waiting item has a lower
    # score, or an equal one and an older run, than the one that starts)
    check_priority_order(r)
    check_work_conserving(r)


# -- validation (§7.1) ----------------------------------------------------------------------

FN = """\
functions:
  - id: f
    triggers: [{event: go}]
    steps: [{run: s, duration: 1s}]
"""
TRAFFIC = "traffic:\n  - events: [{at: 0, name: go}]\n"

BAD = [
    ("    priority: {run: 'event.data.'}\n", 5, "functions[0].priority.run", "Priority.Run expression is invalid: "),
    ("    priority: {run: 'event.data.x = 1'}\n", 5, "functions[0].priority.run",
     "Priority.Run expression is invalid: "),
    ("    priority: {run: 'now() > 1 ? 1 : 0'}\n", 5, "functions[0].priority.run",
     "Priority.Run expression is invalid: "),
    ("    priority: {}\n", 5, "functions[0].priority", "missing required field 'run'"),
    ("    priority: {run: '1', factor: 2}\n", 5, "functions[0].priority.factor",
     "unknown field 'factor'; allowed: run"),
    ("    priority: {run: 120}\n", 5, "functions[0].priority.run", "expected a non-empty string"),
    ("    priority: 'event.data.p'\n", 5, "functions[0].priority", "expected a mapping"),
    ("    batchEvents: {maxSize: 10, timeout: 5s}\n    priority:\n      run: \"1\"\n", 7,
     "functions[0].priority.run", "A function cannot specify Priority.Run and Batch together"),
]


@pytest.mark.parametrize("extra, line, field, message", BAD, ids=[b[3][:30] + b[0][14:30] for b in BAD])
def test_bad_priority_exit_2(tmp_path, extra, line, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(FN + extra + TRAFFIC)
    for args in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "Traceback" not in text
        assert f"{path}:{line}: {field}: {message}" in text
    assert not (tmp_path / "out").exists()


def test_batch_conflict_is_rejected_by_priority_itself():
    # Whatever order the registry validates fields in, priority's parser rejects the pair.
    text = FN + "    batchEvents: {maxSize: 10, timeout: 5s}\n    priority: {run: '1'}\n"
    data, source = load_yaml(textwrap.dedent(text), "f.yaml")
    root = Node(data, (), source)
    function = root.child("functions").elements()[0]
    with pytest.raises(ScenarioError) as err:
        PriorityConfig.parse(function.get("priority"), function, root)
    assert err.value.format() == ("f.yaml:6: functions[0].priority.run: "
                                  "A function cannot specify Priority.Run and Batch together")


def test_valid_priority_validates_without_warnings(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(FN + "    priority:\n      run: >-\n        event.data.severity == 'critical' ? 300 :\n"
                    "        event.data.user_plan == 'enterprise' ? 60 : 0\n" + TRAFFIC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
