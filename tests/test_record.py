"""Recording: the JSON Lines a scenario's traffic is written as, and replaying it
reproduces the recorded run exactly (events, runs, steps)."""
from __future__ import annotations

import copy
import datetime
import gzip
import json

import pandas as pd
import pytest

import flowsim
from flowsim.errors import ScenarioError
from flowsim.streams import Streams
from flowsim.traffic.record import record_events

SCENARIO = {
    "name": "rec", "seed": 5, "horizon": "3m",
    "functions": [
        {"id": "keyed", "triggers": [{"event": "order/*"}], "concurrency": [{"key": "event.data.user", "limit": 1}],
         "steps": [{"run": "charge", "duration": {"exponential": {"mean": "2s"}}, "failure_rate": 0.1},
                   {"sleep": "3s"}, {"run": "ship", "duration": "500ms"}]},
        {"id": "debounced", "triggers": [{"event": "order/placed"}],
         "debounce": {"period": "5s", "key": "event.data.user"}, "steps": [{"run": "sum", "duration": "1s"}]},
        {"id": "serial", "triggers": [{"event": "tick"}], "concurrency": 1,
         "steps": [{"run": "t", "duration": {"uniform": {"min": "0.5s", "max": "1.5s"}}}]},
    ],
    "traffic": [
        {"name": "orders", "event": "order/placed", "arrivals": {"poisson": {"rate": "2/s"}},
         "data": {"user": {"zipf": {"n": 10}, "format": "u{}"}, "amount": {"uniform": {"min": 1, "max": 100}}},
         "ts_offset": {"uniform": {"min": "-2s", "max": "2s"}}},
        {"name": "ticks-a", "event": "tick", "arrivals": {"constant": {"every": "1s"}}, "data": {"src": "a"}},
        {"name": "ticks-b", "event": "tick", "arrivals": {"constant": {"every": "1s"}}, "data": {"src": "b"}},
        {"name": "manual", "events": [
            {"at": 3, "name": "order/paid", "id": "m-1", "ts": 2.25, "user": {"plan": "pro"},
             "data": {"user": "u1", "nested": {"x": [1, 2.5, None, True]}}, "durations": {"charge": 9.5}}]},
    ],
}


def replaying(path, **options) -> dict:
    sc = copy.deepcopy(SCENARIO)
    sc["traffic"] = [{"name": "recorded", "replay": {"file": str(path), **options}}]
    return sc


def assert_same_run(a: flowsim.Result, b: flowsim.Result) -> None:
    for table in ("events", "runs", "steps"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
    assert a.summary() == b.summary()


@pytest.mark.parametrize("name", ["traffic.jsonl", "traffic.jsonl.gz"])
def test_replaying_a_recording_reproduces_the_run(tmp_path, name):
    sc = flowsim.load_scenario(SCENARIO)
    path = tmp_path / name
    count = record_events(sc, 11, path)
    original = flowsim.simulate(sc, 11)
    assert count == original.events_in > 700
    replayed = flowsim.simulate(replaying(path), 11)
    assert_same_run(original, replayed)
    assert (original.events["ts"] != original.events["at"]).any()          # ts_offset made them differ
    assert set(original.events["outcome"]) >= {"run", "debounced"}


def test_the_recorded_lines(tmp_path):
    path = tmp_path / "t.jsonl"
    record_events(flowsim.load_scenario(SCENARIO), None, path)
    lines = path.read_text().splitlines()
    manual = [json.loads(x) for x in lines if '"m-1"' in x]
    assert manual == [{"name": "order/paid", "data": {"user": "u1", "nested": {"x": [1, 2.5, None, True]}},
                       "id": "m-1", "ts": 2250.0, "user": {"plan": "pro"},
                       "_flowsim": {"at": 3.0, "ts": 2.25, "durations": {"charge": 9.5}}}]
    ticks = [json.loads(x) for x in lines if '"tick"' in x][:4]
    assert [(t["id"], t["_flowsim"]["at"]) for t in ticks] == [("ticks-a-0", 0.0), ("ticks-b-0", 0.0),
                                                               ("ticks-a-1", 1.0), ("ticks-b-1", 1.0)]
    assert all("user" not in t for t in ticks)
    first = json.loads(lines[0])
    assert first["ts"] == pytest.approx(first["_flowsim"]["ts"] * 1000)


def test_the_order_of_simultaneous_events_matters_and_is_kept(tmp_path):
    path = tmp_path / "t.jsonl"
    record_events(flowsim.load_scenario(SCENARIO), 3, path)
    original = flowsim.simulate(SCENARIO, 3)
    assert_same_run(original, flowsim.simulate(replaying(path), 3))
    lines = path.read_text().splitlines()
    i, j = (k for k, x in enumerate(lines) if '"id":"ticks-a-5"' in x or '"id":"ticks-b-5"' in x)
    lines[i], lines[j] = lines[j], lines[i]
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_text("\n".join(lines) + "\n")
    other = flowsim.simulate(replaying(swapped), 3)
    with pytest.raises(AssertionError):
        assert_same_run(original, other)


def test_recording_a_replay_gives_the_same_file(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    record_events(flowsim.load_scenario(SCENARIO), 2, first)
    record_events(flowsim.load_scenario(replaying(first)), 2, second)
    assert gzip.decompress(second.read_bytes()) == first.read_bytes()


def test_a_recording_replays_faster_with_speed(tmp_path):
    path = tmp_path / "t.jsonl"
    record_events(flowsim.load_scenario(SCENARIO), 2, path)
    sc = flowsim.load_scenario(replaying(path, speed=2))
    fast = list(sc.traffic[0].events(Streams(2), sc.horizon))
    slow = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(fast) == len(slow)
    assert [(e.at, e.ts, e.id) for e in fast[:50]] == [
        (x["_flowsim"]["at"] / 2, x["_flowsim"]["ts"] / 2, x["id"]) for x in slow[:50]]


def test_data_that_is_not_json_is_an_error(tmp_path):
    sc = copy.deepcopy(SCENARIO)
    sc["traffic"] = [{"events": [{"at": 1, "name": "tick", "id": "d", "data": {"day": datetime.date(2024, 1, 1)}}]}]
    target = tmp_path / "t.jsonl"
    with pytest.raises(ScenarioError, match="cannot record event 'd': its data is not JSON"):
        record_events(flowsim.load_scenario(sc), 1, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []
