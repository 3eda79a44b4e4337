"""``--report`` on compare, sweep and plan: one report with the analysis's answer (over its
replications) and figures drawn from one full run per variant (or at the answer)."""
from __future__ import annotations

import json
import re

from typer.testing import CliRunner

import pandas as pd

from flowsim.cli import app
from tests.test_analysis_cli import YAML

runner = CliRunner()


def _images(report_dir) -> list[str]:
    return sorted(re.findall(r"!\[[^]]*\]\(([^)]+)\)", (report_dir / "report.md").read_text()))


def test_compare_report_draws_every_variant(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(YAML)
    out = tmp_path / "report"
    result = runner.invoke(app, ["compare", str(path), "-n", "2", "--workers", "1", "-q", "--out",
                                 str(tmp_path / "runs"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "- variants: base, three" in md
    assert "sweep.png" not in _images(out)
    assert {"latency-cdf.png", "binding.png"} <= set(_images(out))
    # The answer and the first table are the comparison's, over both replications, not one run's.
    summary = pd.read_csv(tmp_path / "runs" / "summary.csv").set_index(["variant", "metric"])
    base, three = summary.loc[("base", "p99(start_latency)")], summary.loc[("three", "p99(start_latency)")]
    answer = md.splitlines()[2]
    assert answer.startswith("**Answer:** Over 2 replications (mean ± 95% CI half-width): three vs base: ")
    assert " p99(start_latency): base " in answer
    assert f"three {three['mean']:.3g} ±" in answer and f"base {base['mean']:.3g} ±" in answer
    assert f"(Δ {'+' if three['diff'] > 0 else ''}{three['diff']:.3g} ±" in answer
    assert "## Comparison over 2 replications" in md
    assert "- figures: one full run of each variant, with the first replication's seed" in md


def test_plan_report_states_the_answer_and_draws_the_curve(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(YAML)
    out = tmp_path / "report"
    result = runner.invoke(app, ["plan", str(path), "--vary", "functions.f.concurrency=1..4", "--slo",
                                 "p99(start_latency) <= 10s", "-n", "2", "--workers", "1", "-q", "--out",
                                 str(tmp_path / "runs"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text().splitlines()
    assert md[2].startswith("**Answer:** functions.f.concurrency = ")
    assert "the constraint that delays most there: function:f (" in md[2]
    plan_json = json.loads((tmp_path / "runs" / "plan.json").read_text())
    assert plan_json["constraint"].startswith("function:f (")
    assert "sweep.png" in _images(out)
    assert "## Sweep table" in "\n".join(md)


def test_sweep_report_has_the_metric_curve(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(YAML)
    out = tmp_path / "report"
    result = runner.invoke(app, ["sweep", str(path), "--grid", "functions.f.concurrency=1,2,3", "-n", "2",
                                 "--workers", "1", "--metric", "mean(queue_wait)", "-q", "--out",
                                 str(tmp_path / "runs"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "mean(queue_wait) against functions.f.concurrency (95% CI)" in md
    assert "sweep.png" in _images(out)
    # The answer spans the points, over the replications (the curve only falls with more slots).
    summary = pd.read_csv(tmp_path / "runs" / "summary.csv")
    rows = summary[summary["metric"] == "mean(queue_wait)"].set_index("functions.f.concurrency")
    answer = md.splitlines()[2]
    assert answer.startswith("**Answer:** mean(queue_wait) over 2 replications per point")
    assert f"lowest {rows.loc[3, 'mean']:.3g} ±" in answer and "at functions.f.concurrency=3" in answer
    assert f"highest {rows.loc[1, 'mean']:.3g} ±" in answer and "at functions.f.concurrency=1," in answer
    assert "- figures: one full run of point 0" in md


def test_a_sweep_over_two_settings_reports_its_table(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(YAML)
    out = tmp_path / "report"
    result = runner.invoke(app, ["sweep", str(path), "--grid", "functions.f.concurrency=1,2", "--grid",
                                 "horizon=300,600", "-n", "2", "--workers", "1", "-q", "--out",
                                 str(tmp_path / "runs"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "sweep.png" not in _images(out)
    assert "## p99(start_latency) per point (mean and 95% CI)" in md
    assert "over 4 points." in md.splitlines()[2]
