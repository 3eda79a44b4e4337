"""``flowsim check SCENARIO.yaml``: every invariant on a scenario under perturbed traffic.

Thin over :func:`flowsim.testing.check.check_scenario`: prints the report and, when an
invariant breaks, writes the minimal reproducer scenario (default
``<scenario>.violation.yaml`` in the current directory). Exit codes: 0 no violation,
1 a violation (reproducer written), 2 bad input (``file:line: field: message``).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from flowsim.console import command, out
from flowsim.errors import ScenarioError


def check(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
          examples: int = typer.Option(50, "--examples", "-n", min=0,
                                       help="Perturbed variants of the traffic to simulate."),
          seed: int = typer.Option(0, min=0, help="Seed of the search (the same seed gives the same report)."),
          reproducer: Optional[Path] = typer.Option(None, "--out", help="Where to write the reproducer "
                                                    "(default <scenario>.violation.yaml here)."),
          max_events: int = typer.Option(200, "--max-events", min=1,
                                         help="Most events of the scenario's traffic in one variant."),
          invariant: Optional[List[str]] = typer.Option(None, "--invariant", help="Check only this invariant "
                                                        "(repeatable; default all).")) -> None:
    """Check every invariant on SCENARIO and on perturbed traffic (jitter, bursts, key skew,
    out-of-order ts, duplicate ids); write a minimal reproducer of the first violation."""
    with command():
        try:
            from flowsim.testing.check import check_scenario
        except ImportError as exc:            # Hypothesis is in the test extra
            raise ScenarioError(f"flowsim check needs Hypothesis ({exc}): pip install 'flowsim[test]'") from None
        from flowsim.testing.invariants import INVARIANTS
        unknown = [name for name in invariant or [] if name not in INVARIANTS]
        if unknown:
            raise ScenarioError(f"unknown invariant {', '.join(map(repr, unknown))}; known: {', '.join(INVARIANTS)}",
                                field="--invariant")
        target = reproducer or Path(f"{scenario.stem}.violation.yaml")
        report = check_scenario(scenario, examples=examples, seed=seed, max_events=max_events, out=target,
                                invariants=invariant or None)
    out.print(report.text(), highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
