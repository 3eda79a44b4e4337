"""``--report`` on compare, sweep and plan: one report with the analysis's answer and
figures drawn from one full run per variant (or at the answer)."""
from __future__ import annotations

import json
import re

from typer.testing import CliRunner

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
