"""Restricted metrics in compare, sweep and plan: the API, the CLI, the default headline,
the words, bad input (exit 2 before anything runs) and byte-identical outputs."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from flowsim.analysis import compare, plan, sweep
from flowsim.analysis.headline import METRICS, default_metrics
from flowsim.analysis.replicate import Base, _scenario
from flowsim.cli import app
from flowsim.errors import ScenarioError
from flowsim.results.metric import MetricWarning

YAML = textwrap.dedent("""\
    name: tenants
    seed: 5
    horizon: 2m
    platform: ideal
    functions:
      - id: work
        triggers: [{event: go}]
        concurrency: [2, {limit: 1, key: event.data.user}]
        steps: [{run: s, duration: {exponential: {mean: 1s}}}]
      - id: audit
        triggers: [{event: go}]
        steps: [{run: s, duration: 200ms}]
    traffic:
      - event: go
        arrivals: {poisson: {rate: 2.6/s}}
        data: {tenant: big, user: {uniform_int: {min: 1, max: 30}, format: "u{}"}}
      - event: go
        arrivals: {poisson: {rate: 0.2/s}}
        data: {tenant: small, user: {uniform_int: {min: 31, max: 40}, format: "u{}"}}
    variants:
      fair: {functions.work.policies: [{policy: round_robin, key: event.data.tenant}]}
    """)
SMALL = "p99(start_latency)[event.data.tenant=small]"
runner = CliRunner()


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "tenants.yaml"
    p.write_text(YAML)
    return p


def test_compare_with_metrics(path):
    c = compare([path], replications=3, metrics=[SMALL, "worst(mean(queue_wait), event.data.tenant)"])
    assert c.headline == [SMALL, "worst(mean(queue_wait), event.data.tenant)"]
    assert set(c.summary["metric"]) == {*METRICS, *c.headline}
    s = c.summary.set_index(["variant", "metric"])
    assert s.loc[("fair", SMALL), "diff_high"] < 0            # fair dispatch lets the small tenant in
    assert s.loc[("fair", SMALL), "mean"] < 0.5 * s.loc[("base", SMALL), "mean"]
    verdict, = c.verdicts()
    assert verdict.startswith(f"fair vs base: better on {SMALL} (-")


def test_the_default_headline_of_a_keyed_multi_function_scenario(path):
    base = Base.load(path)
    specs = [base.spec(o) for o in base.variants().values()]
    assert default_metrics([_scenario(s) for s in specs]) == [
        "worst(p99(start_latency)[function=work], event.data.user)",      # 40 users: the two ends
        "best(p99(start_latency)[function=work], event.data.user)",
        "p99(start_latency)[function=work, event.data.tenant=big]",       # two tenants: each
        "p99(start_latency)[function=work, event.data.tenant=small]",
        "p99(start_latency)[function=work]", "p99(start_latency)[function=audit]"]
    c = compare([path], replications=3)
    assert c.headline[-6:] == default_metrics([_scenario(s) for s in specs])
    assert "fair vs base: better on p99(start_latency)[function=work, event.data.tenant=small]" in c.verdicts()[0]


def test_a_scenario_without_keys_gets_the_plain_headline(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text(YAML.replace(", {limit: 1, key: event.data.user}", "").replace(
        "  - id: audit\n    triggers: [{event: go}]\n    steps: [{run: s, duration: 200ms}]\n", "").replace(
        "variants:\n  fair: {functions.work.policies: [{policy: round_robin, key: event.data.tenant}]}\n",
        "variants:\n  three: {functions.work.concurrency: 3}\n"))
    c = compare([p], replications=2)
    assert set(c.summary["metric"]) == set(METRICS) and set(c.headline) <= set(METRICS)


def test_summary_only_compare_agrees(path):
    a = compare([path], replications=2, metrics=[SMALL]).summary.set_index(["variant", "metric"])
    b = compare([path], replications=2, metrics=[SMALL], tables=False).summary.set_index(["variant", "metric"])
    assert b.loc[("base", SMALL), "mean"] == pytest.approx(a.loc[("base", SMALL), "mean"], rel=0.005)


def test_sweep_and_plan_take_any_metric(path):
    s = sweep(path, [("functions.work.concurrency.0", [1, 4])], replications=2, metrics=[SMALL])
    assert s.metrics == [SMALL]
    p99 = s.summary[s.summary["metric"] == SMALL].set_index("functions.work.concurrency.0")["mean"]
    assert p99[4] < p99[1]
    p = plan(path, ("functions.work.concurrency.0", 1, 6), [f"{SMALL} <= 5s",
             "worst(p99(start_latency)[function=work], event.data.tenant) <= 30s"], replications=3)
    assert p.answer is not None and set(p.evaluations["metric"]) == {
        SMALL, "worst(p99(start_latency)[function=work], event.data.tenant)"}


def test_a_filter_that_matches_no_run_warns_and_shows_a_dash(path, tmp_path):
    with pytest.warns(MetricWarning, match=r"p99\(start_latency\)\[event.data.tenant=tiny\] is empty .* in 2 of 2 "
                                           r"replications of base, 2 of 2 replications of fair; event.data.tenant "
                                           r"takes big, small in the sampled traffic"):
        c = compare([path], replications=2, metrics=["p99(start_latency)[event.data.tenant=tiny]"])
    assert c.summary.set_index(["variant", "metric"])["mean"].isna().loc[
        (slice(None), "p99(start_latency)[event.data.tenant=tiny]")].all()
    r = runner.invoke(app, ["compare", str(path), "-n", "2", "--workers", "1", "--out", str(tmp_path / "o"),
                            "--metric", "p99(start_latency)[event.data.tenant=tiny]"])
    assert r.exit_code == 0, r.output
    assert "warning: p99(start_latency)[event.data.tenant=tiny] is empty" in r.output.replace("\n", "")
    row = next(line for line in r.output.splitlines() if line.strip().startswith("p99(start_latency)"))
    assert row.split()[-3:] == ["-", "-", "-"]
    assert "fair vs base: no clear difference on any of the 1 metrics shown." in r.output


@pytest.mark.parametrize("args, fragment", [
    (["compare", "{file}", "--metric", "p42(x)"], "--metric: unknown metric 'p42(x)'; known: events, count(OUTCOME)"),
    (["compare", "{file}", "--metric", "p99(start_latency)[event.data.tenat=big]"],
     "--metric: event.data.tenat in p99(start_latency)[event.data.tenat=big] reads nothing the traffic's events have: "
     "on every sampled event it gives 'false', as for an event without that field; did you mean event.data.tenant? "
     "Fields the events have: event.data.tenant, event.data.user, event.id, event.name, event.ts"),
    (["compare", "{file}", "--metric", "worst(p99(start_latency), tenant)"], "--metric: 'tenant' in "),
    (["compare", "{file}", "--metric", "jain(start_latency, 1 + 2)"], "is not a key expression of the event"),
    (["compare", "{file}", "--metric", "p99(start_latency)[function=wrok]"],
     "--metric: unknown function id 'wrok' in p99(start_latency)[function=wrok]; functions: audit, work"),
    (["sweep", "{file}", "--grid", "horizon=1m", "--metric", "worst(p99(start_latency), event.data.usr)"],
     "did you mean event.data.user?"),
    (["plan", "{file}", "--vary", "functions.work.concurrency.0=1..3", "--slo",
      "p99(start_latency)[event.data.tenant=big, function=nope] <= 5s"], "--slo: unknown function id 'nope'"),
    (["plan", "{file}", "--vary", "functions.work.concurrency.0=1..3", "--slo", "worst(p99(start_latency)) <= 5s"],
     "--slo: expected worst(METRIC, PATH)"),
])
def test_bad_metrics_exit_2_before_anything_runs(path, tmp_path, args, fragment):
    r = runner.invoke(app, [a.format(file=path) for a in args] + ["--workers", "1", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert fragment in r.output.replace("\n", "")
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_a_key_expression_is_checked_on_the_events_of_its_function(tmp_path):
    p = tmp_path / "two.yaml"
    p.write_text(YAML.replace("triggers: [{event: go}]\n    steps: [{run: s, duration: 200ms}]",
                              "triggers: [{event: other}]\n    steps: [{run: s, duration: 200ms}]")
                 .replace("variants:", "  - {event: other, arrivals: {poisson: {rate: 1/s}}, data: {kind: x}}\nvariants:"))
    compare([p], replications=2, metrics=["p99(start_latency)[function=work, event.data.tenant=big]"])
    with pytest.raises(ScenarioError, match="event.data.tenant in .* reads nothing the traffic's events of function "
                                            "audit have"):
        compare([p], replications=2, metrics=["p99(start_latency)[function=audit, event.data.tenant=big]"])


def _compare(tmp, name: str, hashseed: str) -> dict[str, bytes]:
    out = tmp / name
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    subprocess.run([sys.executable, "-m", "flowsim.cli", "compare", str(tmp / "tenants.yaml"), "-n", "2",
                    "--workers", "1", "-q", "--out", str(out), "--metric", SMALL, "--metric",
                    "jain(throughput, event.data.user)", "--summary-only"], check=True, env=env)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_byte_identical_across_processes_and_hash_seeds(path, tmp_path):
    first, second = _compare(tmp_path, "one", "0"), _compare(tmp_path, "two", "4242")
    assert first == second and set(first) == {"replications.csv", "summary.csv"}
    rows = pd.read_csv(tmp_path / "one" / "replications.csv")
    assert rows[SMALL].notna().all() and rows["jain(throughput, event.data.user)"].between(0, 1).all()


def test_the_help_shows_the_filters():
    r = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "200"})
    assert "p99(start_latency)[event.data.tenant=s1]" in r.output       # not read as rich markup
