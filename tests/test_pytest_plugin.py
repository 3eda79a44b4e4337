"""The pytest entry point (flowsim.testing.pytest_plugin): a user's project tests its
scenario files with the README's few lines; a broken policy makes the test fail with the
violation report and a reproducer."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

from tests.test_check import LIGHT

# Three events at once under a limit of 2: fine for the real policy, not for a broken one.
BURST = LIGHT.replace("name: light", "name: burst").replace(
    "    arrivals: {constant: {rate: 1/3s}}\n    data:\n      user: {choice: [a, b, c]}\n",
    "    events: [{at: 0}, {at: 0}, {at: 0}, {at: 5}]\n")

USER_TEST = """\
def test_scenario(flowsim_scenario, flowsim_check):
    flowsim_check(flowsim_scenario)
"""

BROKEN_CONFTEST = """\
from flowsim.policies import MECHANISMS
from flowsim.policies.concurrency import ConcurrencyConfig, LimitConstraint


class OverAdmitting(ConcurrencyConfig):
    def build(self, ctx):
        stages, constraints = super().build(ctx)
        for c in constraints:
            if isinstance(c, LimitConstraint) and c.reason == "function":
                c.limit += 1
        return stages, constraints


MECHANISMS["concurrency"] = OverAdmitting
"""


def pytest_in(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
                          cwd=project, capture_output=True, text=True, timeout=300)


def test_entry_point_is_registered():
    assert [e.value for e in entry_points(group="pytest11") if e.name == "flowsim"] == \
        ["flowsim.testing.pytest_plugin"], "reinstall flowsim (pip install -e .) to register its pytest plugin"


def test_a_users_project_checks_its_scenarios(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "light.yaml").write_text(LIGHT)
    (tmp_path / "scenarios" / "burst.yaml").write_text(BURST)
    (tmp_path / "pytest.ini").write_text("[pytest]\nflowsim_scenarios = scenarios/*.yaml\nflowsim_examples = 5\n")
    (tmp_path / "test_scenarios.py").write_text(USER_TEST)
    ok = pytest_in(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 passed" in ok.stdout
    (tmp_path / "conftest.py").write_text(textwrap.dedent(BROKEN_CONFTEST))
    bad = pytest_in(tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    out = " ".join(bad.stdout.split())
    assert "2 failed" in out
    assert "FAILED test_scenarios.py::test_scenario[burst]" in out      # as written
    assert "FAILED test_scenarios.py::test_scenario[light]" in out      # under perturbed traffic
    assert "VIOLATION of concurrency: function send: 3 requests executing at t=0, limit 2" in out
    assert "found in: the scenario as written" in out
    assert "burst.violation.yaml" in out and "the reproducer reproduces the violation" in out
