"""Hatchet's concurrency strategies (flowsim.plugins.collisions): which run each cancels."""
from __future__ import annotations

import pytest

from tests.helpers import by_event, ev, run, scenario


def fn(strategy, max_runs=1):
    return {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": "10s"}],
            "policies": [{"policy": "collision", "key": "event.data.u", "max_runs": max_runs, "strategy": strategy}]}


EVENTS = [ev(0, id="a1", u="a"), ev(2, id="a2", u="a"), ev(3, id="b1", u="b"), ev(4, id="a3", u="a"),
          ev(5, id="a4", u="a")]


def fates(r):
    runs = by_event(r)
    return {e: (row.status, row.started_at if row.started_at == row.started_at else None)
            for e, row in runs.iterrows()}


def test_cancel_in_progress_keeps_the_newest():
    r = run(scenario([fn("cancel_in_progress")], EVENTS))
    assert fates(r) == {"a1": ("cancelled", 0), "a2": ("cancelled", 2), "a3": ("cancelled", 4),
                        "a4": ("completed", 5), "b1": ("completed", 3)}
    runs = by_event(r)
    assert runs.loc["a1", "cancel_reason"] == f"cancel_in_progress: newer run {runs.loc['a2', 'run_id']} on key a"
    assert set(r.events["outcome"]) == {"run"}


def test_cancel_newest_keeps_the_oldest():
    r = run(scenario([fn("cancel_newest")], EVENTS + [ev(11, id="a5", u="a")]))
    assert fates(r) == {"a1": ("completed", 0), "a2": ("cancelled", None), "a3": ("cancelled", None),
                        "a4": ("cancelled", None), "b1": ("completed", 3), "a5": ("completed", 11)}


def test_cancel_queued_except_newest():
    # a1 holds the slot; a2, a3 queue in turn and are replaced by the newer one; a4 runs at 10.
    r = run(scenario([fn("cancel_queued_except_newest")], EVENTS))
    assert fates(r) == {"a1": ("completed", 0), "a2": ("cancelled", None), "a3": ("cancelled", None),
                        "a4": ("completed", 10), "b1": ("completed", 3)}
    runs = by_event(r)
    assert r.steps.set_index("run_id").loc[runs.loc["a4", "run_id"], "blocked_by"] == \
        "collision:cancel_queued_except_newest:a"


def test_cancel_queued_except_oldest():
    r = run(scenario([fn("cancel_queued_except_oldest")], EVENTS))
    assert fates(r) == {"a1": ("completed", 0), "a2": ("completed", 10), "a3": ("cancelled", None),
                        "a4": ("cancelled", None), "b1": ("completed", 3)}


def test_max_runs_two_cancel_in_progress():
    r = run(scenario([fn("cancel_in_progress", max_runs=2)], EVENTS))
    assert fates(r) == {"a1": ("cancelled", 0), "a2": ("cancelled", 2), "a3": ("completed", 4),
                        "a4": ("completed", 5), "b1": ("completed", 3)}


@pytest.mark.parametrize("bad", [{"max_runs": 0, "strategy": "cancel_newest"},
                                 {"max_runs": 1, "strategy": "drop_newest"}])
def test_bad_options_are_load_errors(bad):
    import flowsim
    with pytest.raises(flowsim.ScenarioError):
        flowsim.load_scenario(scenario([{"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "w"}],
                                         "policies": [{"policy": "collision", **bad}]}]))


def test_a_holder_cancelled_by_cancel_on_hands_its_slot_over_at_once():
    # a1 holds key a while sleeping (no engine slot, no release); a2 waits for the slot.
    # A stop event cancels a1 at 4: a2 is promoted and its queue walked at once (ctx.wake).
    f = fn("cancel_queued_except_oldest")
    f["steps"] = [{"sleep": "20s"}, {"run": "work", "duration": "1s"}]
    f["cancelOn"] = [{"event": "stop", "match": "data.job"}]
    stop = {"at": 4, "name": "stop", "data": {"job": 1}}
    r = run(scenario([f], [ev(0, id="a1", u="a", job=1), ev(1, id="a2", u="a", job=2), stop]))
    runs = by_event(r)
    assert runs.loc["a1", "cancel_reason"] == "cancel_on"
    assert runs.loc["a2", "started_at"] == 4          # its start request ran at the promotion
