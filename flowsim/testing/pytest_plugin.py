"""The pytest plugin of flowsim (entry point ``pytest11: flowsim``): test a project's
scenario files with a few lines.

* the ``flowsim_scenario`` fixture is parametrized over the files that the ini option
  ``flowsim_scenarios`` matches (glob patterns relative to the rootdir, default
  ``scenarios/*.yaml``), one test per file, named by the file's stem;
* the ``flowsim_check`` fixture is a function ``flowsim_check(path, **options)`` that runs
  :func:`flowsim.testing.check.check_scenario` (options as there), writes a reproducer
  into the test's ``tmp_path`` and fails the test with the report when an invariant
  breaks; the number of perturbed variants comes from ``examples=``, else
  ``--flowsim-examples``, else the ini option ``flowsim_examples``, else the Hypothesis
  profile's ``max_examples``.

Nothing is imported from flowsim until a test asks for a fixture, so the plugin costs
nothing to projects that do not use it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("flowsim_scenarios", "glob patterns (relative to the rootdir) of the scenario files that the "
                                       "flowsim_scenario fixture runs over", type="args", default=["scenarios/*.yaml"])
    parser.addini("flowsim_examples", "perturbed variants per scenario for flowsim_check (default: the Hypothesis "
                                      "profile's max_examples)", default="")
    group = parser.getgroup("flowsim")
    group.addoption("--flowsim-examples", type=int, default=None,
                    help="perturbed variants per scenario for flowsim_check (overrides the ini option)")


def scenario_files(config: pytest.Config) -> list[Path]:
    """The files the ``flowsim_scenarios`` patterns match, sorted, without duplicates."""
    root = Path(config.rootpath)
    found = {p for pattern in config.getini("flowsim_scenarios") for p in root.glob(pattern) if p.is_file()}
    return sorted(found)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "flowsim_scenario" in metafunc.fixturenames:
        files = scenario_files(metafunc.config)
        metafunc.parametrize("flowsim_scenario", files, ids=[p.stem for p in files])


@pytest.fixture
def flowsim_check(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """``flowsim_check(path, **options)``: check a scenario, fail the test on a violation."""
    def check(path: str | Path, **options: Any) -> Any:
        from flowsim.testing.check import check_scenario
        if options.get("examples") is None:
            cli = request.config.getoption("--flowsim-examples")
            ini = request.config.getini("flowsim_examples")
            options["examples"] = cli if cli is not None else (int(ini) if ini else None)
        options.setdefault("out", tmp_path / f"{Path(path).stem}.violation.yaml")
        report = check_scenario(path, **options)
        if not report.ok:
            pytest.fail(report.text(), pytrace=False)
        return report
    return check
