"""``flowsim --version``, shell completion, and the closest name suggested for an unknown
scenario field, choice, command or option."""
from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsim.cli import app
from flowsim.errors import ScenarioError
from flowsim.scenario.load import load_scenario
from flowsim.scenario.source import did_you_mean
from tests.test_analysis_cli import YAML

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_version_is_the_installed_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"flowsim {version('flowsim')}\n"


def test_version_from_the_installed_command():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "flowsim", "--version"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == f"flowsim {version('flowsim')}"


def test_help_offers_completion_and_version():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in result.output


def test_show_completion_prints_a_script_for_the_shell():
    result = runner.invoke(app, ["--show-completion"], prog_name="flowsim", env={"SHELL": "/bin/bash"})
    assert result.exit_code == 0, result.output
    assert "_FLOWSIM_COMPLETE" in result.output and "flowsim" in result.output


@pytest.mark.parametrize("words, completion", [
    ("flowsim va", "validate"), ("flowsim run --ex", "--explain"), ("flowsim report --va", "--variant"),
    ("flowsim run --variant base --se", "--seed"),
])
def test_completion_completes_commands_and_options(words, completion):
    """What the installed script asks the program for, in bash's protocol."""
    env = {"_FLOWSIM_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    result = runner.invoke(app, [], prog_name="flowsim", env=env)
    assert result.exit_code == 0
    assert completion in result.output.split(), result.output


# -- did you mean -----------------------------------------------------------------------

def fails(tmp_path, text: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return flat(result.output)


@pytest.mark.parametrize("old, new, line, field, suggestion", [
    ("    concurrency: 2\n", "    concurrency: 2\n    rateLimt: {limit: 1, period: 1s}\n", 9,
     "functions[0].rateLimt", "rateLimit"),
    ("    concurrency: 2\n", "    concurrency: 2\n    ratelimit: {limit: 1, period: 1s}\n", 9,
     "functions[0].ratelimit", "rateLimit"),
    ("    concurrency: 2\n", "    concurrency: [{limt: 2}]\n", 8, "functions[0].concurrency[0].limt", "limit"),
    ("horizon: 1m\n", "horizn: 1m\n", 3, "horizn", "horizon"),
    ("    arrivals:", "    arivals:", 12, "traffic[0].arivals", "arrivals"),
    ("{poisson: {rate: 1/s}}", "{poison: {rate: 1/s}}", 12, "traffic[0].arrivals.poison", "poisson"),
    ("{exponential: {mean: 1s}}", "{exponential: {maen: 1s}}", 9, "functions[0].steps[0].duration.exponential.maen",
     "mean"),
    ("three: {functions.f.concurrency: 3}", "three: {functions.f.concurency: 3}", 14,
     "variants.three functions.f.concurency", "concurrency"),
])
def test_an_unknown_field_suggests_the_closest_name(tmp_path, old, new, line, field, suggestion):
    assert old in YAML
    out = fails(tmp_path, YAML.replace(old, new))
    assert f"s.yaml:{line}: {field}: unknown field" in out, out
    assert out.endswith(f"did you mean `{suggestion}`?"), out


def test_a_far_name_gets_no_suggestion(tmp_path):
    out = fails(tmp_path, YAML.replace("    concurrency: 2\n", "    concurrency: 2\n    zzz: 1\n"))
    assert "unknown field 'zzz'; allowed: id, name, triggers" in out and "did you mean" not in out


def test_an_unknown_choice_suggests_the_closest_one():
    with pytest.raises(ScenarioError, match=r"expected one of .*, got string 'acount'; did you mean `account`\?"):
        load_scenario({"name": "x", "horizon": "1m", "traffic": [],
                       "functions": [{"id": "f", "triggers": [{"event": "a"}], "steps": [{"run": "s", "duration": 1}],
                                      "concurrency": [{"limit": 1, "key": "'k'", "scope": "acount"}]}]})


def test_did_you_mean():
    assert did_you_mean("rateLimt", ["concurrency", "rateLimit", "throttle"]) == "; did you mean `rateLimit`?"
    assert did_you_mean("THROTTLE", ["concurrency", "rateLimit", "throttle"]) == "; did you mean `throttle`?"
    assert did_you_mean("xyz", ["concurrency", "rateLimit"]) == ""
    assert did_you_mean(3, ["a", "b"]) == ""


@pytest.mark.parametrize("args, needle", [
    (["run", "x.yaml", "--exlpain"], "No such option: --exlpain"),
    (["report", "x.yaml", "--varient", "a"], "No such option: --varient"),
    (["vaildate", "x.yaml"], "No such command 'vaildate'. Did you mean 'validate'?"),
])
def test_unknown_commands_and_options_get_clicks_suggestion(args, needle):
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    out = flat(result.output)
    assert result.exit_code == 2 and needle in out, out
    if args[-1].startswith("--") or args[-2].startswith("--"):
        wrong = next(a for a in args if a.startswith("--"))
        right = {"--exlpain": "--explain", "--varient": "--variant"}[wrong]
        assert right in out.split(needle, 1)[1], out
