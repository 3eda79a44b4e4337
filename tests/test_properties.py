"""Properties of the whole semantics over drawn scenarios (flowsim.testing.strategies):
every invariant holds on every drawn scenario, the strategies stay within Inngest's valid
ranges, and determinism holds across processes and PYTHONHASHSEED values."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

import flowsim
from flowsim.errors import ScenarioWarning
from flowsim.testing import InvariantError, check_all
from flowsim.testing import strategies as fst
from flowsim.testing.determinism import check_determinism, compare_outputs


def load(sc: dict) -> flowsim.Scenario:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)        # drawn configs are all clean
        return flowsim.load_scenario(sc)


@given(sc=fst.scenarios())
def test_every_invariant_holds_on_drawn_scenarios(sc):
    check_all(flowsim.simulate(load(sc)))


@given(events=fst.event_streams(names=("go", "other"), keys="few", max_size=40))
def test_event_streams(events):
    assert 1 <= len(events) <= 40
    ats = [e["at"] for e in events]
    assert ats == sorted(ats) and all(a * 4 == int(a * 4) for a in ats)
    assert {e["name"] for e in events} <= {"go", "other"}
    assert {e["data"].get("user", "a") for e in events} <= {"a", "b", "c"}
    ids = [e["id"] for e in events]
    assert ids[0] == "e0" and all(i in {f"e{k}" for k in range(len(ids))} for i in ids)


@given(fc=fst.flow_controls(), steps=fst.step_lists())
def test_configs_are_valid_and_respect_exclusions(fc, steps):
    sc = load({"functions": [{"id": "f", "triggers": [{"event": "go"}], "steps": steps, **fc}],
               "traffic": [{"events": [{"at": 0, "name": "go", "data": {"user": "a"}}]}], "horizon": 5})
    mechanisms = set(sc.functions[0].mechanisms)
    if "batchEvents" in mechanisms:
        assert not mechanisms & {"debounce", "singleton", "priority", "rateLimit"}
    assert not {"rateLimit", "idempotency"} <= set(fc)


def test_drawn_scenarios_are_deterministic_across_processes_and_hash_seeds(tmp_path):
    files: list[Path] = []

    @settings(max_examples=6, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(sc=fst.scenarios(max_events=20))
    def collect(sc):
        path = tmp_path / f"s{len(files)}.yaml"
        path.write_text(yaml.safe_dump(sc, sort_keys=False))
        files.append(path)

    collect()
    shipped = Path(__file__).parent.parent / "scenarios" / "process-images.yaml"
    check_determinism(files + [shipped], hash_seeds=("0", "12345"))


def test_compare_outputs_names_the_first_difference(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, value in ((a, "0.5"), (b, "0.50000001")):
        d.mkdir()
        (d / "runs.csv").write_text(f"run_id,started_at\nr1,0\nr2,{value}\n")
        (d / "summary.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(InvariantError, match=r"determinism: s.yaml: runs.csv differs at line 3: 'r2,0.5' against "
                                             r"'r2,0.50000001'"):
        compare_outputs(a, b, "s.yaml")
    (b / "extra.csv").write_text("")
    with pytest.raises(InvariantError, match="different files"):
        compare_outputs(a, b, "s.yaml")
