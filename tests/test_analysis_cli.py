"""The compare, sweep and plan commands: tables printed, CSV written, bad input exits 2."""
from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from flowsim.analysis.cli import compare, plan, sweep

app = typer.Typer()
app.command()(compare)
app.command()(sweep)
app.command()(plan)
runner = CliRunner()

YAML = textwrap.dedent("""\
    name: burst
    seed: 3
    horizon: 1m
    platform: ideal
    functions:
      - id: f
        triggers: [{event: go}]
        concurrency: 2
        steps: [{run: s, duration: {exponential: {mean: 1s}}}]
    traffic:
      - event: go
        arrivals: {poisson: {rate: 1/s}}
    variants:
      three: {functions.f.concurrency: 3}
    """)


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(YAML)
    return path


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result


def test_compare_prints_and_writes(scenario_file, tmp_path):
    out = tmp_path / "cmp"
    r = invoke("compare", scenario_file, "-n", 3, "--workers", 1, "--out", out)
    assert r.exit_code == 0, r.output
    assert "Δ three" in r.output and "p99(start_latency)" in r.output and f"wrote {out}/" in r.output
    summary = pd.read_csv(out / "summary.csv")
    rows = pd.read_csv(out / "replications.csv")
    assert list(summary.columns) == ["variant", "metric", "n", "mean", "ci_low", "ci_high", "diff", "diff_low",
                                     "diff_high"]
    assert list(rows[["variant", "replication"]].itertuples(index=False, name=None)) == [
        ("base", 0), ("base", 1), ("base", 2), ("three", 0), ("three", 1), ("three", 2)]


def test_sweep_writes_one_row_per_point_and_replication(scenario_file, tmp_path):
    out = tmp_path / "sw"
    r = invoke("sweep", scenario_file, "--grid", "functions.f.concurrency=1..3", "--grid",
               "traffic.0.arrivals.poisson.rate=1/s,2/s", "-n", 2, "--workers", 1, "--out", out,
               "--metric", "mean(queue_wait)")
    assert r.exit_code == 0, r.output
    assert "mean(queue_wait)" in r.output
    rows = pd.read_csv(out / "replications.csv")
    assert len(rows) == 3 * 2 * 2
    assert rows[["functions.f.concurrency", "traffic.0.arrivals.poisson.rate"]].drop_duplicates().values.tolist() == [
        [1, "1/s"], [1, "2/s"], [2, "1/s"], [2, "2/s"], [3, "1/s"], [3, "2/s"]]
    assert set(pd.read_csv(out / "summary.csv")["point"]) == set(range(6))


def test_plan_prints_the_answer_and_writes_it(scenario_file, tmp_path):
    out = tmp_path / "pl"
    r = invoke("plan", scenario_file, "--vary", "functions.f.concurrency=1..8", "--slo",
               "mean(queue_wait) <= 100ms", "--slo", "rate(run) >= 99%", "-n", 3, "--workers", 1, "--out", out)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "plan.json").read_text())
    assert doc["answer"] is not None and 2 <= doc["answer"] <= 8
    assert f"functions.f.concurrency = {doc['answer']}" in r.output
    assert set(pd.read_csv(out / "plan.csv")["objective"]) == {"mean(queue_wait) <= 100ms", "rate(run) >= 99%"}


@pytest.mark.parametrize("args, fragment", [
    (["compare", "{file}", "--set", "functions.zz.concurrency=1"],
     "{file}: --set functions.zz.concurrency: functions has no item with id 'zz' (ids: f)"),
    (["compare", "{file}", "--set", "functions.f.concurrency"], "--set: expected PATH=VALUE"),
    (["compare", "{file}", "-n", "1"], "--replications: at least 2 replications"),
    (["sweep", "{file}", "--grid", "functions.f.concurrency=1,x"],
     "{file}: --grid functions.f.concurrency: expected an integer limit, a mapping with limit, key, "
     "scope, or a list of up to 2 of them, got string 'x'"),
    (["sweep", "{file}", "--grid", "horizon=1m", "--variant", "nope"], "--variant: no variant 'nope'"),
    (["sweep", "{file}", "--grid", "horizon=1m", "--metric", "p42(x)"], "--metric: unknown metric 'p42(x)'"),
    (["plan", "{file}", "--vary", "functions.f.concurrency=1..x", "--slo", "throughput >= 1"], "--vary: expected"),
    (["plan", "{file}", "--vary", "functions.f.concurrency=1..3", "--slo", "p99 <= 1s"], "--slo: unknown metric"),
    (["compare", "{missing}"], "no such file"),
])
def test_bad_input_exits_2_with_one_line(scenario_file, tmp_path, args, fragment):
    subst = {"file": str(scenario_file), "missing": str(tmp_path / "nope.yaml")}
    r = invoke(*[a.format(**subst) for a in args], "--workers", 1, "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert fragment.format(**subst) in r.output.replace("\n", "")
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_a_bad_variant_points_at_its_line(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(YAML.replace("{functions.f.concurrency: 3}", "{functions.f.concurrency: {limit: x}}"))
    r = invoke("compare", path, "--workers", 1)
    assert r.exit_code == 2
    assert f"{path}:14: variants.three functions.f.concurrency (functions[0].concurrency.limit): " \
           "expected an integer" in r.output.replace("\n", "")
