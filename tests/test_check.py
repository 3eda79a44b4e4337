"""``flowsim check`` (flowsim.testing.check, flowsim.testing.cli): it finds a violation
that a deliberately broken concurrency policy, plugged into the registry, causes only
under perturbed traffic; the reproducer it writes replays the violation with ``flowsim
run`` and is reported again by ``flowsim check``; the same run twice gives the same
report; a sound scenario passes."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app as flowsim_app
from flowsim.policies import MECHANISMS
from flowsim.policies.concurrency import ConcurrencyConfig, LimitConstraint
from flowsim.testing import InvariantError, check_concurrency
from flowsim.testing.check import Perturbation, apply, check_scenario, minimize
from flowsim.testing.cli import check

# One event every 3 s, each 1 s of work under a limit of 2: never two at once as written.
LIGHT = """\
name: light
seed: 3
horizon: 2m
platform: ideal
functions:
  - id: send
    triggers: [{event: go}]
    concurrency: 2
    steps:
      - run: work
        duration: 1s
traffic:
  - event: go
    arrivals: {constant: {rate: 1/3s}}
    data:
      user: {choice: [a, b, c]}
"""


class OverAdmitting(ConcurrencyConfig):
    """A broken concurrency policy: its function limit lets one request too many in."""

    def build(self, ctx):
        stages, constraints = super().build(ctx)
        for c in constraints:
            if isinstance(c, LimitConstraint) and c.reason == "function":
                c.limit += 1
        return stages, constraints


@pytest.fixture
def light(tmp_path) -> Path:
    path = tmp_path / "light.yaml"
    path.write_text(LIGHT)
    return path


@pytest.fixture
def broken_policy(monkeypatch):
    monkeypatch.setitem(MECHANISMS, "concurrency", OverAdmitting)


def cli() -> typer.Typer:
    """The check command in an app of its own (flowsim.cli registers the same function)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("check")(check)
    return app


def test_a_sound_scenario_passes(light):
    result = CliRunner().invoke(cli(), ["check", str(light), "--examples", "10", "--out", str(light.parent / "r.yaml")])
    assert result.exit_code == 0, result.output
    assert "no violation found" in result.output
    assert not (light.parent / "r.yaml").exists()


def test_broken_policy_is_found_and_the_reproducer_reproduces_it(light, broken_policy, tmp_path):
    # As written, the broken policy never shows: only a burst does.
    check_concurrency(flowsim.simulate(flowsim.load_scenario(light)))
    repro = tmp_path / "repro.yaml"
    result = CliRunner().invoke(cli(), ["check", str(light), "--examples", "40", "--out", str(repro)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "VIOLATION of concurrency: function send: 3 requests executing at t=" in text
    assert "limit 2" in text and "found in: a perturbed variant" in text
    assert "the reproducer reproduces the violation" in text
    # The reproducer: explicit events only, few of them, the rest of the scenario unchanged.
    sc = flowsim.load_scenario(repro)
    (source,) = sc.traffic
    assert 3 <= len(source.specs) <= 5
    assert sc.functions[0].mechanisms["concurrency"].function_limit == 2
    assert repro.read_text().startswith("# A minimal reproducer written by `flowsim check`")
    # `flowsim run` replays it: its steps table shows three requests at once under limit 2.
    out = tmp_path / "run"
    ran = CliRunner().invoke(flowsim_app, ["run", str(repro), "--out", str(out), "--quiet"])
    assert ran.exit_code == 0, ran.output
    steps = pd.read_csv(out / "steps.csv")
    starts, ends = steps["started_at"].to_numpy(), steps["ended_at"].to_numpy()
    assert max(int(((starts <= t) & (ends > t)).sum()) for t in starts) == 3
    with pytest.raises(InvariantError, match="function send: 3 requests executing"):
        check_concurrency(flowsim.simulate(sc))
    # `flowsim check` on the reproducer reports the same violation, on the file as written.
    again = CliRunner().invoke(cli(), ["check", str(repro), "--examples", "5", "--out", str(tmp_path / "r2.yaml")])
    assert again.exit_code == 1
    assert "VIOLATION of concurrency: function send: 3 requests executing" in " ".join(again.output.split())
    assert "found in: the scenario as written" in " ".join(again.output.split())


def test_the_reproducer_is_sound_with_the_real_policy(light, broken_policy, tmp_path, monkeypatch):
    report = check_scenario(light, examples=40, out=tmp_path / "repro.yaml")
    assert report.violation is not None and report.violation.invariant == "concurrency"
    monkeypatch.setitem(MECHANISMS, "concurrency", ConcurrencyConfig)
    assert check_scenario(tmp_path / "repro.yaml", examples=5).ok


def test_same_seed_same_report(light, broken_policy, tmp_path):
    one = check_scenario(light, examples=25, seed=7, out=tmp_path / "a.yaml")
    two = check_scenario(light, examples=25, seed=7, out=tmp_path / "b.yaml")
    assert one.text().replace("a.yaml", "X") == two.text().replace("b.yaml", "X")
    assert (tmp_path / "a.yaml").read_text() == (tmp_path / "b.yaml").read_text()
    with pytest.raises(InvariantError, match="VIOLATION of concurrency"):
        one.raise_if_violated()


def test_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(LIGHT.replace("concurrency: 2", "concurrency: -1"))
    result = CliRunner().invoke(cli(), ["check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:8: functions[0].concurrency" in " ".join(result.output.split())
    result = CliRunner().invoke(cli(), ["check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2


def test_perturbations_apply_and_minimize():
    base = [{"at": float(i), "name": "go", "data": {"user": f"u{i}"}, "id": f"e{i}"} for i in range(6)]
    none = Perturbation(0, 6, 1.0, 0.0, 0, (), "none", 0.0, (), ())
    assert apply(base, none, 100.0) == base
    p = Perturbation(1, 4, 0.5, 0.0, 0, ((0, 2, 0.0),), "hot", 1.0, ((1, -1.0),), ((0, 3),))
    got = apply(base, p, 100.0)
    assert [e["at"] for e in got] == [1.0, 1.0, 1.0, 1.5, 2.0, 2.5]
    assert [e["id"] for e in got] == ["e1", "e1~b0.0", "e1~b0.1", "e2", "e3", "e1"]
    assert {e["data"]["user"] for e in got} == {"u1"}
    assert got[3]["ts"] == 0.5
    assert apply(base, p, 1.2) == got[:3]
    # ddmin keeps a 1-minimal failing sub-list
    assert minimize(base, lambda ev: {"e1", "e4"} <= {e["id"] for e in ev}) == [base[1], base[4]]
