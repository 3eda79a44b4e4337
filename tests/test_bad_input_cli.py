"""Bad command-line input: exit code 2, one line naming the option, no traceback, and
nothing written (every output path is checked before anything runs)."""
from __future__ import annotations

import os
import time

import pytest
import yaml
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.errors import ScenarioError
from tests.test_analysis_cli import YAML

runner = CliRunner()


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A scenario file in a fresh current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "burst.yaml").write_text(YAML)
    return tmp_path


def _fails(args: list[str], *needles: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


def _listing(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_messages_are_text_not_markup(here):
    """A key or a path with brackets is shown as written (rich would read ``[/x]`` as a
    closing tag and crash, or drop ``[bold]``)."""
    (here / "b.yaml").write_text(YAML + "'[/x]': 1\n")
    _fails(["validate", "b.yaml"], "[/x]")
    (here / "c.yaml").write_text(YAML + "'[bold]typo': 1\n")
    _fails(["validate", "c.yaml"], "[bold]typo")
    _fails(["validate", "[/x].yaml"], "[/x].yaml")


@pytest.mark.parametrize("command", [["run", "burst.yaml"], ["report", "burst.yaml"],
                                     ["compare", "burst.yaml", "-n", "2"]])
def test_a_negative_seed_is_refused(here, command):
    _fails([*command, "--seed", "-1"], "--seed")
    assert _listing(here) == ["burst.yaml"]


def test_a_negative_seed_is_refused_by_the_api():
    with pytest.raises(ScenarioError, match="non-negative"):
        flowsim.simulate(flowsim.load_scenario(yaml.safe_load(YAML)), seed=-1)


def test_an_output_under_a_file_is_refused_before_running(here):
    (here / "F").write_text("keep")
    _fails(["run", "burst.yaml", "--out", "F/sub"], "--out", "not a directory")
    _fails(["run", "burst.yaml", "--report", "F/sub"], "--report")
    _fails(["report", "burst.yaml", "--out", "F/sub"], "--out")
    _fails(["compare", "burst.yaml", "-n", "2", "--workers", "1", "--out", "F/sub"], "--out")
    _fails(["compare", "burst.yaml", "-n", "2", "--workers", "1", "--report", "F/sub"], "--report")
    assert _listing(here) == ["F", "burst.yaml"]       # no runs/, no half of anything
    assert (here / "F").read_text() == "keep"


def test_a_file_is_not_replaced_by_an_output_directory(here):
    (here / "F").write_text("keep")
    _fails(["run", "burst.yaml", "--out", "F"], "exists and is not a directory")
    assert (here / "F").read_text() == "keep"


@pytest.mark.parametrize("path", [".", "", ".."])
def test_the_current_directory_is_never_replaced(here, path):
    _fails(["run", "burst.yaml", "--out", path], "--out")
    assert _listing(here) == ["burst.yaml"]           # no ..old.* left either
    assert not [p for p in here.parent.iterdir() if ".old." in p.name]


def test_a_directory_with_other_files_is_not_replaced(here):
    (here / "mine").mkdir()
    (here / "mine" / "notes.txt").write_text("keep")
    _fails(["run", "burst.yaml", "--out", "mine"], "notes.txt", "flowsim did not write")
    assert (here / "mine" / "notes.txt").read_text() == "keep"


def test_a_previous_output_directory_is_replaced(here):
    assert runner.invoke(app, ["run", "burst.yaml", "-q", "--out", "o"]).exit_code == 0
    assert runner.invoke(app, ["run", "burst.yaml", "-q", "--out", "o", "--explain"]).exit_code == 0
    assert (here / "o" / "log.csv").exists()
    assert runner.invoke(app, ["report", "burst.yaml", "--out", "r"]).exit_code == 0
    assert runner.invoke(app, ["report", "burst.yaml", "--out", "r"]).exit_code == 0


@pytest.mark.parametrize("report", ["o", "o/report"])
def test_tables_and_report_must_be_apart(here, report):
    _fails(["run", "burst.yaml", "--out", "o", "--report", report], "must be apart")
    assert _listing(here) == ["burst.yaml"]


def test_the_record_is_left_only_when_the_run_succeeds(here):
    (here / "F").write_text("keep")
    _fails(["run", "burst.yaml", "--record", "rec.jsonl", "--out", "F/sub"], "--out")
    _fails(["run", "burst.yaml", "--record", "F/rec.jsonl"], "--record")
    (here / "d").mkdir()
    _fails(["run", "burst.yaml", "--record", "d"], "--record", "directory")
    assert _listing(here) == ["F", "burst.yaml", "d"]
    result = runner.invoke(app, ["run", "burst.yaml", "-q", "--record", "rec.jsonl.gz", "--out", "o"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in here.iterdir()) == ["F", "burst.yaml", "d", "o", "rec.jsonl.gz"]


def test_a_malformed_cluster_address_is_refused_at_once(here):
    start = time.monotonic()
    _fails(["compare", "burst.yaml", "-n", "2", "--cluster", "not a url"], "--cluster", "tcp://host:8786")
    assert time.monotonic() - start < 30       # no wait on a client that never connected
    assert _listing(here) == ["burst.yaml"]


def test_an_unknown_invariant_names_the_option(here):
    pytest.importorskip("hypothesis")
    _fails(["check", "burst.yaml", "--invariant", "nope"], "--invariant", "'nope'")


def test_warnings_raised_while_running_are_printed_as_warnings(here):
    (here / "t.jsonl").write_text('{"name": "go", "ts": 1700000001000}\n{"name": "go", "ts": 1700000000000}\n')
    (here / "r.yaml").write_text(YAML.replace("arrivals: {poisson: {rate: 1/s}}", "replay: {file: t.jsonl}"))
    result = runner.invoke(app, ["run", "r.yaml", "-q", "--out", "o"])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "out of order" in result.output
    assert "ScenarioWarning" not in result.output and "replay.py" not in result.output


def test_an_unwritable_parent_is_refused(here):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    (here / "ro").mkdir(mode=0o500)
    _fails(["run", "burst.yaml", "--out", "ro/x"], "not writable")


def test_a_warmup_that_is_not_a_number_is_refused(here):
    _fails(["run", "burst.yaml", "--warmup", "nan"], "warmup", "expected a duration or a fraction")
    assert _listing(here) == ["burst.yaml"]


def test_an_slo_bound_in_the_wrong_unit_says_what_is_expected(here):
    out = _fails(["plan", "burst.yaml", "--vary", "functions.f.concurrency=1..3", "--slo",
                  "rate(rate_limited) <= 3s", "-n", "2"], "--slo", "a percentage such as 1%")
    assert "could not convert" not in out
