"""Warnings that explain a bad run (flowsim.results.diagnostics): each provoked, each
absent where it must not appear, in both modes; and the field paths an expression reads."""
from __future__ import annotations

import copy

import pytest

import flowsim
from flowsim.expr import field_paths
from tests.helpers import ev, scenario
from tests.test_run_story import NOISY, serial

BOTH = pytest.mark.parametrize("tables", [True, False], ids=["tables", "summary-only"])


def warnings_of(sc: dict, tables: bool = True, seed: int | None = None) -> list[dict]:
    found = flowsim.simulate(flowsim.load_scenario(sc), seed, tables=tables).summary()["warnings"]
    for w in found:
        assert set(w) == {"code", "message", "means", "try", "figures"} and all(w[k] for k in ("message", "means", "try"))
    return found


def codes(sc: dict, tables: bool = True, seed: int | None = None) -> list[str]:
    return [w["code"] for w in warnings_of(sc, tables, seed)]


# -- field paths --------------------------------------------------------------------------
@pytest.mark.parametrize("text, paths", [
    ("event.data.user_id", [("event", "data", "user_id")]),
    ('"openai"', []),
    ("event.data.plan == 'pro' ? 60 : 0", [("event", "data", "plan")]),
    ('event.data["a b"].c + event.user.id', [("event", "data", "a b", "c"), ("event", "user", "id")]),
    ("has(event.data.vip) && event.data.vip.level > 1", []),
    ("size(event.data) > 2 && event.data.q", [("event", "data", "q")]),
    ("async.data.id == event.data.id", [("async", "data", "id"), ("event", "data", "id")]),
    ("event.data.items.exists(x, x.v > 1)", [("event", "data", "items"), ("x", "v")]),
])
def test_field_paths(text, paths):
    assert list(field_paths(text)) == paths


# -- missing_field ------------------------------------------------------------------------
def webhooks(key: str) -> dict:
    return {"name": "w", "seed": 1, "horizon": "10m", "platform": "ideal",
            "functions": [{"id": "hook", "triggers": [{"event": "webhook"}],
                           "rateLimit": {"limit": 1, "period": "1h", "key": key},
                           "steps": [{"run": "s", "duration": "100ms"}]}],
            "traffic": [{"name": "hooks", "event": "webhook", "arrivals": {"poisson": {"rate": "1/s"}},
                         "data": {"webhook_id": {"choice": ["w1", "w2", "w3"]}}}]}


@BOTH
def test_a_typo_in_a_key_path_is_named_with_the_closest_field(tables):
    found = [w for w in warnings_of(webhooks("event.dat.webhook_id"), tables) if w["code"] == "missing_field"]
    assert len(found) == 1
    f = found[0]["figures"]
    assert (f["function"], f["where"], f["path"], f["source"]) == ("hook", "rateLimit key", "event.dat.webhook_id",
                                                                   "hooks")
    assert f["missing"] == f["sampled"] > 500 and f["suggestion"] == "event.data.webhook_id"
    assert "event.data" in f["fields"] and "Did you mean event.data.webhook_id?" in found[0]["message"]
    assert "missing_field" not in codes(webhooks("event.data.webhook_id"), tables)


def test_a_misspelt_field_under_data_lists_the_fields_events_have():
    sc = webhooks("event.data.webhookid")
    w = next(w for w in warnings_of(sc) if w["code"] == "missing_field")
    assert w["figures"]["fields"] == ["event.data.webhook_id"] and w["figures"]["suggestion"] == "event.data.webhook_id"


def test_if_and_priority_expressions_are_checked_too():
    sc = webhooks("event.data.webhook_id")
    fn = sc["functions"][0]
    fn["triggers"][0]["if"] = "event.data.kind == 'push'"
    fn["priority"] = {"run": "event.data.tier == 'pro' ? 60 : 0"}
    found = {w["figures"]["where"]: w for w in warnings_of(sc) if w["code"] == "missing_field"}
    assert set(found) == {"triggers[0] if"}          # every event is filtered: the priority sees none
    sc["traffic"][0]["data"]["kind"] = "push"
    found = {w["figures"]["where"]: w for w in warnings_of(sc) if w["code"] == "missing_field"}
    assert set(found) == {"priority run"} and found["priority run"]["figures"]["path"] == "event.data.tier"


def explicit(present: int, absent: int, **fn_extra) -> dict:
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"key": "event.data.user", "limit": 1}],
          "steps": [{"run": "s", "duration": "1s"}], **fn_extra}
    events = [ev(i, user=f"u{i}") for i in range(present)] + [ev(present + i, other=1) for i in range(absent)]
    return scenario([fn], events, horizon="1m")


@pytest.mark.parametrize("present, absent, warned", [(1, 9, False), (0, 10, True), (1, 10, True), (10, 0, False)])
def test_more_than_90_percent_missing(present, absent, warned):
    assert ("missing_field" in codes(explicit(present, absent))) is warned


def test_a_path_tested_by_has_and_sources_the_function_does_not_see_are_not_warned():
    sc = explicit(5, 0)
    sc["functions"][0]["triggers"][0]["if"] = "has(event.data.vip) ? event.data.vip : true"
    sc["traffic"].append({"name": "others", "events": [ev(0, "other-event", x=1) for _ in range(5)]})
    assert "missing_field" not in codes(sc)


# -- head_of_line_blocking --------------------------------------------------------------------
@BOTH
def test_a_noisy_key_filling_the_peek_window_is_head_of_line_blocking(tables):
    found = [w for w in warnings_of(NOISY, tables) if w["code"] == "head_of_line_blocking"]
    assert len(found) == 1
    f = found[0]["figures"]
    assert f["key"] == "noisy" and f["function"] == "sync" and f["constraint"] == "concurrency:event.data.tenant"
    assert f["peek_window_share"] > 0.5 and f["key_share_in_window"] > 0.9
    assert "event.data.tenant != 'noisy' ? 600 : 0" in found[0]["try"]


def test_no_head_of_line_blocking_without_the_noisy_key():
    quiet = copy.deepcopy(NOISY)
    quiet["traffic"] = quiet["traffic"][:1]
    assert "head_of_line_blocking" not in codes(quiet)


def test_a_backlog_deeper_than_the_window_waiting_for_capacity_is_not_head_of_line_blocking():
    capacity = copy.deepcopy(NOISY)
    capacity["functions"][0]["concurrency"] = 2          # a function limit, no key
    result = flowsim.simulate(flowsim.load_scenario(capacity))
    assert result.summary()["binding"]["peek_window"]["share"] > 0.5
    assert "head_of_line_blocking" not in [w["code"] for w in result.summary()["warnings"]]


# -- queue_growing ----------------------------------------------------------------------------
def mmc(rate: str) -> dict:
    """M/M/5 with mean service 1 s: rate 6/s is 120% load, 3.5/s 70%."""
    return {"name": "mmc", "seed": 1, "horizon": "20m", "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "e"}], "concurrency": 5,
                           "steps": [{"run": "s", "duration": {"exponential": {"mean": "1s"}}}]}],
            "traffic": [{"event": "e", "arrivals": {"poisson": {"rate": rate}}}]}


@pytest.mark.parametrize("seed", range(4))
def test_an_overloaded_queue_is_growing_and_a_stable_one_is_not(seed):
    over = [w for w in warnings_of(mmc("6/s"), seed=seed) if w["code"] == "queue_growing"]
    assert len(over) == 1
    f = over[0]["figures"]
    assert f["created_per_s"] == pytest.approx(6, rel=0.1) and f["started_per_s"] == pytest.approx(5, rel=0.1)
    assert "queue_growing" not in codes(mmc("3.5/s"), seed=seed)


def test_a_burst_that_drains_is_not_a_growing_queue():
    sc = mmc("1/s")
    sc["traffic"].append({"event": "e", "arrivals": {"bursts": {"every": "1h", "size": 2000, "spread": "10s",
                                                                "offset": "5m"}}})
    assert "queue_growing" not in codes(sc)


@BOTH
def test_queue_growing_in_both_modes(tables):
    assert "queue_growing" in codes(mmc("6/s"), tables)


# -- timeouts --------------------------------------------------------------------------------
@BOTH
def test_runs_cancelled_by_timeouts(tables):
    sc = serial()
    sc["functions"][0]["timeouts"] = {"start": "15s"}          # 2 of 4 runs cancelled
    w = next(w for w in warnings_of(sc, tables) if w["code"] == "timeouts")
    assert w["figures"] == {"runs": 4, "cancelled": 2, "start_timeout": 2, "finish_timeout": 0}
    assert "2 of 4 runs (50%)" in w["message"] and "timeouts.start" in w["try"] and "finish" not in w["try"]
    sc["functions"][0]["timeouts"] = {"start": "1h"}
    assert "timeouts" not in codes(sc, tables)


def test_finish_timeouts_and_the_ten_percent_threshold():
    fn = {"id": "f", "triggers": [{"event": "go"}], "timeouts": {"finish": "5s"},
          "steps": [{"run": "a", "duration": "10s"}, {"run": "b", "duration": "1s"}]}
    w = next(w for w in warnings_of(scenario([fn], [ev(0)], horizon="1m")) if w["code"] == "timeouts")
    assert w["figures"]["finish_timeout"] == 1 and "timeouts.finish" in w["try"]
    sc = serial()                                            # 1 of 10 runs cancelled: not more than 10%
    sc["traffic"][0]["events"] = [ev(0)] + [ev(i * 20) for i in range(1, 10)]
    sc["horizon"] = "5m"
    sc["functions"][0]["timeouts"] = {"start": "5s"}
    sc["traffic"][0]["events"][1] = ev(1)
    s = flowsim.simulate(flowsim.load_scenario(sc)).summary()
    assert s["cancel_reasons"] == {"start_timeout": 1} and "timeouts" not in [w["code"] for w in s["warnings"]]


# -- no_run_completed ------------------------------------------------------------------------
@BOTH
def test_no_run_completed(tables):
    fn = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "a", "duration": "1s"}, {"sleep": "1h"}]}
    w = next(w for w in warnings_of(scenario([fn], [ev(0), ev(1)], horizon="10m"), tables)
             if w["code"] == "no_run_completed")
    assert w["figures"] == {"events": 2, "runs": 2, "started": 2} and "2 of 2 runs started" in w["message"]
    filtered = {"id": "f", "triggers": [{"event": "go", "if": "event.data.x == 1"}],
                "steps": [{"run": "a", "duration": "1s"}]}
    w = next(w for w in warnings_of(scenario([filtered], [ev(0, x=2)], horizon="10m"), tables)
             if w["code"] == "no_run_completed")
    assert "none of the 1 events became a run (1 filtered)" in w["message"]
    assert "no_run_completed" not in codes(serial(), tables)
