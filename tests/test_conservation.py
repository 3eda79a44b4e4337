"""Conservation on every shipped scenario: each event has exactly one outcome per
function it triggers, and no concurrency limit is ever exceeded."""
from __future__ import annotations

from pathlib import Path

import pytest

import flowsim
from flowsim.scenario.source import load_yaml
from flowsim.scenario.load import parse_scenario
from flowsim.testing import check_concurrency, check_conservation

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def shortened(path: Path, horizon: float = 600.0) -> flowsim.Scenario:
    data, source = load_yaml(path.read_text(), str(path))
    sc = parse_scenario(data, source)
    sc.horizon = min(sc.horizon, horizon)
    return sc


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_event_accounted_for(path):
    result = flowsim.simulate(shortened(path))
    check_conservation(result)
    check_concurrency(result)
    assert len(result.events) > 0


def test_checkers_fail_on_broken_results():
    result = flowsim.simulate(shortened(SCENARIOS[0], 60))
    lost = result.events.iloc[1:].reset_index(drop=True)
    broken = flowsim.Result(**{**result.__dict__, "events": lost, "_summary": None})
    with pytest.raises(AssertionError, match="missing"):
        check_conservation(broken)
    steps = result.steps.copy()
    steps["started_at"] = 0.0
    steps["ended_at"] = 1.0
    over = flowsim.Result(**{**result.__dict__, "steps": steps, "_summary": None})
    with pytest.raises(AssertionError, match="requests executing at t=0"):
        check_concurrency(over)


def test_shipped_scenarios_exist():
    assert {"process-images", "user-sync", "ai-summary"} <= {p.stem for p in SCENARIOS}
