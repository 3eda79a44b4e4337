"""Summary-only simulation (``simulate(..., tables=False)``, ``run --summary-only``, issue 9):
the folded summary equals the tables' one where it says it is exact, percentiles are
within the stated accuracy, an event row still gets one outcome, memory stays flat."""
from __future__ import annotations

import json
import math
import tracemalloc
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.results.result import TablesNotKept
from flowsim.results.streaming import OMITTED, RELATIVE_ACCURACY, Sketch, SummaryRecorder
from flowsim.report import write_report
from flowsim.results.writers import write_result
from flowsim.scenario.load import parse_scenario
from flowsim.scenario.source import load_yaml

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
PERCENTILE_FIELDS = ("p50", "p90", "p95", "p99")
# sums in another order: equal up to rounding
ROUNDED_FIELDS = ("mean", "jain_start_latency", "all_keys_mean", "busiest_key_mean", "start_latency_mean", "depth")
OMITTED_FIELDS = {f.rsplit(".", 1)[1] for f in OMITTED}


def shipped(path: Path, cap: float = 300.0) -> flowsim.Scenario:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, source = load_yaml(path.read_text(), str(path))
        scenario = parse_scenario(data, source)
    scenario.horizon = min(scenario.horizon, cap)
    return scenario


def differences(tables: Any, folded: Any, path: str = "") -> list[str]:
    """Where the folded summary departs from the tables' beyond what the module states."""
    field = path.rsplit(".", 1)[-1].split("[")[0]
    if field in OMITTED_FIELDS and folded is None:
        return []
    if isinstance(tables, dict):
        if not isinstance(folded, dict) or list(tables) != list(folded):
            return [f"{path}: keys {list(tables)} != {folded if not isinstance(folded, dict) else list(folded)}"]
        return [d for k in tables for d in differences(tables[k], folded[k], f"{path}.{k}")]
    if isinstance(tables, list):
        if not isinstance(folded, list) or len(tables) != len(folded):
            return [f"{path}: tables {tables!r}, summary-only {folded!r}"]
        return [d for i, (a, b) in enumerate(zip(tables, folded)) for d in differences(a, b, f"{path}[{i}]")]
    if field in PERCENTILE_FIELDS and tables is not None and folded is not None:
        ok = abs(folded - tables) <= RELATIVE_ACCURACY * 1.0001 * abs(tables) + 1e-9
    elif field in ROUNDED_FIELDS and isinstance(tables, float) and isinstance(folded, float):
        ok = math.isclose(tables, folded, rel_tol=1e-12, abs_tol=1e-9)
    else:
        ok = type(tables) is type(folded) and tables == folded
    return [] if ok else [f"{path}: tables {tables!r}, summary-only {folded!r}"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_summary_only_matches_the_tables(path: Path) -> None:
    full = flowsim.simulate(shipped(path), warmup=0.2).summary()
    folded = dict(flowsim.simulate(shipped(path), warmup=0.2, tables=False).summary())
    marker = folded.pop("summary_only")
    assert marker == {"relative_accuracy": RELATIVE_ACCURACY, "approximate": list(PERCENTILE_FIELDS),
                      "omitted": list(OMITTED)}
    assert differences(full, folded) == []


def test_sketch_percentiles_within_the_stated_accuracy() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(0, 3, 20_000), np.zeros(500), -rng.exponential(2, 300),
                             rng.uniform(0, 1e-10, 50)])
    rng.shuffle(values)
    sketch = Sketch()
    for chunk in np.array_split(values, 7):     # folded several times
        sketch.buffer.extend(chunk.tolist())
        sketch.fold()
    got = sketch.distribution()
    assert got["count"] == values.size and got["max"] == values.max()
    assert math.isclose(got["mean"], values.mean(), rel_tol=1e-12)
    for p in (50, 90, 95, 99):
        want = np.percentile(values, p)
        assert abs(got[f"p{p}"] - want) <= RELATIVE_ACCURACY * 1.0001 * abs(want) + 1e-9, p


def test_a_second_outcome_for_an_event_row_is_refused() -> None:
    recorder = SummaryRecorder(shipped(SCENARIOS[0]))
    event = SimpleNamespace(id="e1", name="x", ts=0.0, at=0.0)
    function_id = recorder.scenario.functions[0].id
    row = recorder.event_row(event, function_id)
    other = recorder.event_row(event, function_id)
    recorder.set_outcome(row, "run", "r1")
    with pytest.raises(RuntimeError, match="already has an outcome.*refusing filtered"):
        recorder.set_outcome(row, "filtered")
    recorder.set_outcome(other, "filtered")      # the other row still takes its one outcome


def _mmc(horizon: float) -> flowsim.Scenario:
    """M/M/5 at 80% load."""
    return flowsim.load_scenario({
        "name": "mmc", "seed": 1, "horizon": f"{horizon}s", "platform": "ideal",
        "functions": [{"id": "f", "triggers": [{"event": "e"}], "concurrency": 5,
                       "steps": [{"run": "s", "duration": {"exponential": {"mean": "1s"}}}]}],
        "traffic": [{"event": "e", "arrivals": {"poisson": {"rate": "4/s"}}}]})


def _peak_memory(horizon: float, tables: bool) -> int:
    scenario = _mmc(horizon)
    tracemalloc.start()
    try:
        flowsim.simulate(scenario, tables=tables).summary()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_summary_only_memory_is_flat_in_the_horizon() -> None:
    horizon = 1000.0                # ~4 000 customers; 4x that: ~16 000
    flat = _peak_memory(4 * horizon, False) / _peak_memory(horizon, False)
    grows = _peak_memory(4 * horizon, True) / _peak_memory(horizon, True)
    assert flat < 1.3, flat
    assert grows > 2.5, grows


def test_cli_summary_only_writes_summary_json_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(SCENARIOS[0]), "--summary-only", "--warmup", "0.1", "--out", str(out),
                                 "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary_only"]["omitted"] == list(OMITTED) and summary["runs"]["completed"] > 0
    r = CliRunner().invoke(app, ["run", str(SCENARIOS[0]), "--summary-only", "--explain", "--out",
                                 str(tmp_path / "no")])
    assert r.exit_code == 2 and "--summary-only" in r.output and not (tmp_path / "no").exists()


def test_row_views_of_a_summary_only_result_fail_clearly(tmp_path: Path) -> None:
    scenario = shipped(next(p for p in SCENARIOS if p.stem == "compare-fair-dispatch"), 120)
    full = flowsim.simulate(scenario)
    result = flowsim.simulate(scenario, tables=False)
    assert len(result.runs) == 0 and list(result.runs.columns) == list(full.runs.columns)
    for call in (result.per_key, result.timeseries, lambda: write_result(result, tmp_path / "x"),
                 lambda: write_report({"r": result}, tmp_path / "x")):
        with pytest.raises(TablesNotKept, match=r"tables=True"):
            call()
    assert not (tmp_path / "x").exists()
    binding = result.binding()      # derived from the summary
    assert len(binding) == 2 and binding.to_dict("records") == full.binding().to_dict("records")


def test_a_summary_only_sweep_gives_the_sweep_within_the_sketch_accuracy() -> None:
    from flowsim.analysis.headline import METRICS
    from flowsim.analysis.overrides import parse_assignment
    from flowsim.analysis.sweep import sweep
    scenario = next(p for p in SCENARIOS if p.stem == "process-images")
    grid = [("functions.process-images.concurrency", [2, 4])]
    sets = [parse_assignment("horizon=20m")]
    full = sweep(scenario, grid, 2, sets=sets).rows
    light = sweep(scenario, grid, 2, sets=sets, tables=False).rows
    assert len(full) == len(light) == 4
    for metric in METRICS:
        a, b = full[metric].to_numpy(float), light[metric].to_numpy(float)
        both = ~(np.isnan(a) | np.isnan(b))
        assert (np.isnan(a) == np.isnan(b)).all(), metric
        assert np.allclose(b[both], a[both], rtol=RELATIVE_ACCURACY, atol=1e-9), metric
