"""``run`` and ``report`` take ``--set`` and ``--variant`` as the analyses do; ``report``
shows every variant side by side; no shipped text tells users to use an option that the
command does not have."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from flowsim.cli import app
from tests.test_analysis_cli import YAML

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """burst.yaml (function limit 2, variant `three`: limit 3) in a fresh current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "burst.yaml").write_text(YAML)
    return tmp_path


def ok(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def limit_of(run_dir: Path) -> int:
    return json.loads((run_dir / "summary.json").read_text())["concurrency"]["function:f"]["limit"]


# -- run -------------------------------------------------------------------------------

def test_run_set_overrides_a_field_and_says_so(here):
    out = ok("run", "burst.yaml", "--set", "functions.f.concurrency=5", "--out", "a")
    assert limit_of(here / "a") == 5
    assert "burst: --set functions.f.concurrency=5" in out


def test_run_variant_applies_its_overrides_and_writes_beside_base(here):
    out = ok("run", "burst.yaml", "--variant", "three")
    assert limit_of(here / "runs" / "burst-three") == 3          # base's runs/burst/ is left alone
    assert not (here / "runs" / "burst").exists()
    assert "burst: variant three (functions.f.concurrency=3)" in out
    assert "other variants: base" in out


def test_a_variant_and_the_same_set_give_the_same_run(here):
    """One way of applying overrides: the variant and the --set that spells it out write the
    same tables."""
    ok("run", "burst.yaml", "--variant", "three", "--out", "v")
    ok("run", "burst.yaml", "--set", "functions.f.concurrency=3", "--out", "s")
    for name in ("events.csv", "runs.csv", "steps.csv"):
        assert (here / "v" / name).read_bytes() == (here / "s" / name).read_bytes()


def test_set_is_applied_before_the_variant(here):
    """--set first, then the variant (as compare applies them): the variant's value wins."""
    ok("run", "burst.yaml", "--variant", "three", "--set", "functions.f.concurrency=7", "--out", "a")
    assert limit_of(here / "a") == 3
    ok("run", "burst.yaml", "--variant", "three", "--set", "horizon=30s", "--out", "b")
    summary = json.loads((here / "b" / "summary.json").read_text())
    assert summary["horizon"] == 30 and summary["concurrency"]["function:f"]["limit"] == 3


def test_run_base_names_the_variants_it_left_out(here):
    out = ok("run", "burst.yaml", "--out", "a")
    assert "base only; the scenario's other variants: three" in " ".join(out.split())
    assert limit_of(here / "a") == 2


def test_run_quiet_prints_nothing(here):
    assert ok("run", "burst.yaml", "--variant", "three", "-q", "--out", "a") == ""


def test_run_unknown_variant_exits_2_listing_the_known_ones(here):
    out = fails("run", "burst.yaml", "--variant", "four")
    assert "burst.yaml: --variant: no variant 'four' in burst; known: base, three" in out
    assert listing(here) == ["burst.yaml"]


@pytest.mark.parametrize("assignment, needle", [
    ("functions.g.concurrency=3", "--set functions.g.concurrency: functions has no item with id 'g' (ids: f)"),
    ("functions.f.concurrency=-1", "--set functions.f.concurrency"),
    ("nonsense", "--set: expected PATH=VALUE, got 'nonsense'"),
    ("horizon={a", "--set horizon: invalid value"),
])
def test_run_bad_set_exits_2_and_writes_nothing(here, assignment, needle):
    assert needle in fails("run", "burst.yaml", "--set", assignment)
    assert listing(here) == ["burst.yaml"]


def test_run_report_of_a_variant_says_which(here):
    ok("run", "burst.yaml", "--variant", "three", "--out", "a", "--report", "rep")
    md = (here / "rep" / "report.md").read_text()
    assert "- figures: one run with seed 3: variant three (functions.f.concurrency=3)" in md


# -- report ----------------------------------------------------------------------------

def test_report_shows_every_variant_side_by_side(here):
    out = " ".join(ok("report", "burst.yaml").split())
    assert "report.md: variants base, three side by side" in out
    md = (here / "reports" / "burst" / "report.md").read_text()
    assert "- variants: base, three" in md
    assert ("- figures: one run of each variant with seed 3: base; three (functions.f.concurrency=3). "
            "The figures over time, per key and of binding constraints show base.") in md
    answer = next(line for line in md.splitlines() if line.startswith("**Answer:**"))
    assert "base: p99 start latency" in answer and "three: p99 start latency" in answer
    assert "One run of each with the same seed: flowsim compare gives confidence intervals." in answer
    table = md[md.index("## Headline metrics"):]
    assert re.search(r"\bbase[\s|]+three\b", table), table          # one column per variant


def test_report_variant_picks_one_and_says_which(here):
    out = " ".join(ok("report", "burst.yaml", "--variant", "three", "--set", "horizon=30s").split())
    assert "burst: variant three (functions.f.concurrency=3), --set horizon=30s" in out
    assert "three only; the scenario's other variants: base" in out
    md = (here / "reports" / "burst-three" / "report.md").read_text()
    assert "- figures: one run with seed 3: variant three (functions.f.concurrency=3), --set horizon=30s" in md
    assert "- horizon: 30 s" in md


def test_report_several_variants_in_the_order_given(here):
    ok("report", "burst.yaml", "--variant", "three", "--variant", "base", "--variant", "three", "--out", "r")
    assert "- variants: three, base" in (here / "r" / "report.md").read_text()


def test_report_of_a_scenario_without_variants_is_unchanged(here):
    (here / "plain.yaml").write_text(YAML[:YAML.index("variants:")])
    out = " ".join(ok("report", "plain.yaml").split())
    assert out.endswith("reports/burst/report.md")
    md = (here / "reports" / "burst" / "report.md").read_text()
    assert "- variants: -" in md and "- figures: one run with seed 3" in md


def test_report_unknown_variant_exits_2_and_writes_nothing(here):
    assert "no variant 'four' in burst; known: base, three" in fails("report", "burst.yaml", "--variant", "four")
    assert "--set" in fails("report", "burst.yaml", "--set", "functions.g.x=1")
    assert listing(here) == ["burst.yaml"]


# -- shipped text names only options that exist ----------------------------------------

def _commands() -> dict[str, Any]:
    """Every command and subcommand (click's, as typer builds them) by its full name
    (``run``, ``traffic stats``)."""
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}

    def walk(cmd: Any, prefix: str) -> None:
        if hasattr(cmd, "commands"):         # a group
            for name, sub in cmd.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found[prefix] = cmd
    walk(root, "")
    return found


def _options(cmd: Any) -> set[str]:
    return {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}


def _snippets(text: str) -> list[str]:
    """Code spans that are flowsim command lines (``flowsim run X --set ...``, or a bare
    ``run --report DIR``)."""
    commands = {name.split()[0] for name in _commands()}
    spans = re.findall(r"`([^`\n]+)`", text)
    return [s.removeprefix("flowsim ") for s in spans
            if s.startswith("flowsim ") or s.split(" ", 1)[0] in commands and "--" in s]


def _check(text: str, where: str) -> list[str]:
    commands = _commands()
    commands[""] = typer.main.get_command(app)        # the program's own: flowsim --version
    problems = []
    for snippet in _snippets(text):
        words = snippet.split()
        name = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
        if words[0].startswith("--"):
            name = ""
        if name not in commands:
            continue
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", snippet):
            if opt not in _options(commands[name]):
                problems.append(f"{where}: `{snippet}`: {name or 'flowsim'} has no {opt}")
    return problems


def test_shipped_scenarios_and_readme_name_only_options_that_exist():
    problems = []
    run = _options(_commands()["run"])
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        comments = "\n".join(line for line in path.read_text().splitlines() if line.lstrip().startswith("#"))
        problems += _check(comments, path.name)
        for opt in re.findall(r"`(--[a-z][a-z-]*)", comments):      # a bare `--explain`: run's
            if opt not in run:
                problems.append(f"{path.name}: `flowsim run` has no {opt}")
    problems += _check((ROOT / "README.md").read_text(), "README.md")
    assert not problems, "\n".join(problems)


def test_the_option_check_catches_a_missing_option():
    assert _check("Try `flowsim run x.yaml --grid a=1`.", "x") == ["x: `run x.yaml --grid a=1`: run has no --grid"]
    assert _check("`run --report DIR` and `flowsim traffic stats F --top 3`", "x") == []
    assert _check("`flowsim --version`, `flowsim --verbose`", "x") == ["x: `--verbose`: flowsim has no --verbose"]


def test_no_shipped_scenario_or_readme_line_cites_an_issue():
    texts = {p.name: p.read_text() for p in (ROOT / "scenarios").glob("*.yaml")}
    texts["README.md"] = (ROOT / "README.md").read_text()
    cited = [f"{name}: {line.strip()}" for name, text in texts.items() for line in text.splitlines()
             if re.search(r"\bissues? #?\d+", line, re.IGNORECASE)]
    assert not cited, cited


def test_the_process_images_hint_runs(here):
    """The shipped comment's command does what it says: 8 slots, runs barely queue."""
    text = (ROOT / "scenarios" / "process-images.yaml").read_text()
    hint = re.search(r"`flowsim run scenarios/process-images.yaml (--set [^`]+)`", text)
    assert hint is not None
    option, value = hint.group(1).split(" ", 1)
    raw = yaml.safe_load(text)
    raw["horizon"] = "10m"
    (here / "pi.yaml").write_text(yaml.safe_dump(raw))
    ok("run", "pi.yaml", option, value, "--out", "a")
    summary = json.loads((here / "a" / "summary.json").read_text())
    assert summary["concurrency"]["function:process-images"]["limit"] == 8
    assert summary["start_latency"]["p50"] == 0
