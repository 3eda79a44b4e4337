"""The public Python API: load a scenario, simulate it, get a :class:`Result`."""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import pandas as pd

from flowsim.engine.world import World
from flowsim.results.result import LOG_COLUMNS, Result
from flowsim.scenario.load import load_scenario
from flowsim.scenario.model import Scenario


def simulate(scenario: Scenario | str | os.PathLike[str] | Mapping[str, Any], seed: int | None = None, *,
             explain: bool = False, progress: Callable[[float], None] | None = None) -> Result:
    """Simulate ``scenario`` (a :class:`Scenario`, a YAML path or a dict) with ``seed``.

    ``seed`` defaults to the scenario's own. The same scenario and seed always give
    the same result. ``explain`` keeps the decision log in ``Result.log``;
    ``progress`` is called with the fraction of simulated time done.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    world = World(scenario, seed, explain=explain)
    recorder = world.run(progress=progress)
    events, runs, steps = recorder.tables()
    log = pd.DataFrame(world.decisions, columns=list(LOG_COLUMNS))
    return Result(scenario=scenario, seed=world.seed, horizon=scenario.horizon, events=events, runs=runs,
                  steps=steps, log=log, events_in=world.events_in, events_unmatched=world.events_unmatched)
