"""``--explain``'s decision log records every start (waited or not) and every filtered event,
and holds what the README says it holds."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.engine.world import World
from tests.helpers import ev, scenario

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def shipped(name: str, horizon: str) -> dict:
    """A shipped scenario, without its variants, cut to ``horizon`` (to stay fast)."""
    raw = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    raw.pop("variants", None)
    raw["horizon"] = horizon
    return raw


def starts_in_steps(steps: pd.DataFrame) -> list[tuple]:
    """(run, step, attempt, time) of every started step or request row of steps.csv."""
    rows = steps[steps["kind"].isin(["run", "request"]) & steps["started_at"].notna()]
    return sorted(zip(rows["run_id"], rows["step"], rows["attempt"].astype(int), rows["started_at"].round(6)))


def starts_in_log(log: pd.DataFrame) -> list[tuple]:
    rows = log[log["kind"] == "started"]
    facts = [json.loads(f) for f in rows["facts"]]
    return sorted(zip((f["run_id"] for f in facts), (f["step"] for f in facts),
                      (int(f["attempt"]) for f in facts), rows["time"].round(6)))


# Queueing, keyed limits with sleeps and waits, throttle and priority, batching, debounce,
# singleton cancellation with starts in flight, retries, several functions sharing a key.
SCENARIOS = [("process-images", "10m"), ("user-sync", "5m"), ("ai-image-processing", "20m"),
             ("bulk-email-send", "20m"), ("save-document", "1h"), ("realtime-sync", "10m"),
             ("ai-summary", "5m"), ("process-order", "10m")]


@pytest.mark.parametrize("name, horizon", SCENARIOS)
def test_every_start_is_logged(tmp_path, name, horizon):
    """Through the CLI: one `started` row of log.csv per started row of steps.csv, with the
    same run, step, attempt and time."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(shipped(name, horizon)))
    result = runner.invoke(app, ["run", str(path), "--explain", "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    steps = pd.read_csv(tmp_path / "out" / "steps.csv")
    log = pd.read_csv(tmp_path / "out" / "log.csv")
    expected = starts_in_steps(steps)
    assert expected, "the scenario must start something"
    logged = starts_in_log(log)
    extra = Counter(logged) - Counter(expected)
    assert not Counter(expected) - Counter(logged)
    assert not extra


def test_a_step_in_flight_of_a_run_cancelled_before_the_horizon_has_a_row():
    """Nothing lost: singleton cancel at t=1 of a run whose 5 s step started at 0; horizon 3.
    The cancelled run's request still executes at the horizon (it holds its slot until it
    ends, and its result will be discarded): its row says ``running``, ending unknown."""
    sc = scenario([{"id": "f", "triggers": [{"event": "go"}], "singleton": {"key": "event.data.k", "mode": "cancel"},
                    "steps": [{"run": "s", "duration": "5s"}]}],
                  [ev(0, id="a", k=1), ev(1, id="b", k=1)], horizon="3s")
    for tables in (True, False):
        result = flowsim.simulate(sc, tables=tables)
        if tables:
            steps = result.steps.set_index("run_id")
            assert sorted(steps.index) == ["r1", "r2"]
            assert steps.loc["r1", "status"] == "running" and pd.isna(steps.loc["r1", "ended_at"])
            assert result.runs.set_index("run_id").loc["r1", "status"] == "cancelled"
        # r1's request holds its slot from 0 to the horizon, r2's from 1: 5 slot-seconds over 3 s.
        assert result.summary()["concurrency"]["account"]["mean"] == pytest.approx(5 / 3)


def test_starts_that_did_not_wait_are_logged_at_once_and_others_with_their_wait():
    """A hand-worked timeline: limit 1, three events at t=0, 0 and 5, steps of 2 s. The first
    starts at once at 0, the second after 2 s at 2, the third at once at 5."""
    sc = scenario([{"id": "f", "triggers": [{"event": "go"}], "concurrency": 1,
                    "steps": [{"run": "s", "duration": "2s"}]}],
                  [ev(0, id="a"), ev(0, id="b"), ev(5, id="c")])
    result = flowsim.simulate(sc, explain=True)
    started = result.log[result.log["kind"] == "started"]
    assert list(started["time"]) == [0, 2, 5]
    assert list(started["message"]) == ["run r1 step s started at once", "run r2 step s started after waiting 2s",
                                        "run r3 step s started at once"]
    assert [json.loads(f)["waited"] for f in started["facts"]] == [0, 2, 0]


def test_every_filtered_event_is_logged():
    result = flowsim.simulate(shipped("user-sync", "5m"), explain=True)
    filtered = result.events[result.events["outcome"] == "filtered"]
    logged = result.log[result.log["kind"] == "filtered"]
    assert len(filtered) > 0
    assert sorted(json.loads(f)["event_id"] for f in logged["facts"]) == sorted(filtered["event_id"])
    assert logged["message"].iloc[0].endswith("filtered (if false: event.data.active == true)")


def test_without_explain_nothing_is_logged_and_the_fast_paths_stay_on():
    raw = shipped("process-images", "2m")
    assert flowsim.simulate(raw).log.empty
    sc = flowsim.load_scenario(raw)
    assert World(sc)._solo and not World(sc, explain=True)._solo


# The kinds the README's description of log.csv names, and a scenario whose log holds each.
README_KINDS = {"admitted": "process-images", "filtered": "user-sync", "rate_limited": "webhook-processor",
                "singleton_skipped": "data-backup", "debounce": "save-document", "priority": "process-order",
                "batch": "bulk-email-send", "cancel": "realtime-sync", "waiting": "process-images",
                "started": "process-images", "duplicate": None}


def _explain_paragraph() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("`--explain` also writes `log.csv`")
    return " ".join(text[start:text.index("\n\n", start)].split())


def test_the_readme_describes_the_log_it_holds():
    paragraph = _explain_paragraph()
    for kind, name in README_KINDS.items():
        assert f"`{kind}`" in paragraph, kind
        if name is None:
            continue
        log = flowsim.simulate(shipped(name, "5m"), explain=True).log
        assert kind in set(log["kind"]), (kind, name, sorted(set(log["kind"])))
    assert "one row per started row of `steps.csv`" in paragraph
    # the quoted messages are the engine's own wording
    log = flowsim.simulate(shipped("ai-image-processing", "20m"), explain=True).log
    assert log["message"].str.fullmatch(r"run r\d+ step \S+ waiting: keyed limit event\.data\.user_id=user-1: "
                                        r"3/3 in use").any()
    assert log["message"].str.fullmatch(r"run r\d+ step \S+ started after waiting [\d.e-]+s").any()
    assert log["message"].str.fullmatch(r"run r\d+ step \S+ started at once").any()


def test_duplicates_are_logged_with_their_outcome_as_kind():
    sc = scenario([{"id": "f", "triggers": [{"event": "go"}], "idempotency": "event.data.k",
                    "steps": [{"run": "s", "duration": "1s"}]}],
                  [ev(0, id="a", k=1), ev(1, id="b", k=1)])
    log = flowsim.simulate(sc, explain=True).log
    dup = log[log["kind"] == "duplicate"]
    assert len(dup) == 1 and re.match(r"event b for f: duplicate", dup["message"].iloc[0])
