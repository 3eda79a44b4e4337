"""Debounce payload modes (flowsim.plugins.debounce_modes): Inngest trailing, Trigger.dev leading."""
from __future__ import annotations

from tests.helpers import by_event, ev, run, scenario

EVENTS = [ev(0, id="e1", doc="d"), ev(3, id="e2", doc="d"), ev(6, id="e3", doc="d")]


def fn(mode=None):
    opts = {"period": "5s", "key": "event.data.doc", **({"mode": mode} if mode else {})}
    return {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "w", "duration": "1s"}],
            "policies": [{"policy": "debounce", **opts}]}


def test_trailing_runs_with_the_last_event():
    r = run(scenario([fn("trailing")], EVENTS))
    runs = by_event(r)
    assert list(runs.index) == ["e3"] and runs.loc["e3", "started_at"] == 11
    same = run(scenario([{"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "w", "duration": "1s"}],
                          "debounce": {"period": "5s", "key": "event.data.doc"}}], EVENTS))
    assert r.events.equals(same.events)


def test_leading_runs_with_the_first_event_at_the_same_time():
    r = run(scenario([fn("leading")], EVENTS))
    runs = by_event(r)
    assert list(runs.index) == ["e1"] and runs.loc["e1", "started_at"] == 11
    ev_rows = r.events.set_index("event_id")
    assert list(ev_rows["outcome"]) == ["run", "debounced", "debounced"]
    assert ev_rows.loc["e3", "reason"] == "debounced into e1"
