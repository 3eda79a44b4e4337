"""The public Python API: load a scenario, simulate it, get a :class:`Result`."""
from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from flowsim.engine.world import World
from flowsim.errors import ScenarioError
from flowsim.units import parse_duration
from flowsim.results.result import LOG_COLUMNS, Result
from flowsim.results.streaming import SummaryRecorder
from flowsim.scenario.load import load_scenario
from flowsim.scenario.model import Scenario


def simulate(scenario: Scenario | str | os.PathLike[str] | Mapping[str, Any], seed: int | None = None, *,
             explain: bool = False, warmup: float | str = 0.0,
             progress: Callable[[float], None] | None = None, tables: bool = True,
             metrics: Sequence[str] = ()) -> Result:
    """Simulate ``scenario`` (a :class:`Scenario`, a YAML path or a dict) with ``seed``.

    ``seed`` defaults to the scenario's own. The same scenario and seed always give
    the same result. ``explain`` keeps the decision log in ``Result.log``; ``warmup``
    (seconds, a duration such as ``"10m"``, or a fraction of the horizon below 1)
    excludes the start of the run from every metric; ``progress`` is called with the
    fraction of simulated time done. ``tables=False`` keeps no rows, only the summary
    folded as the simulation goes (memory flat in the number of runs, for long runs and
    sweeps): the result's tables are empty and its percentiles approximate (see
    :mod:`flowsim.results.streaming`). ``metrics``: metric texts
    (:mod:`flowsim.results.metric`) to be asked of the result with :meth:`Result.metric`;
    those that read a key expression (``p99(start_latency)[event.data.tenant=s1]``) need
    its values captured while simulating (:mod:`flowsim.results.slices`), which changes
    nothing else in the result.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    warmup_s = parse_warmup(warmup, scenario.horizon)
    world = World(scenario, seed, explain=explain)
    folded = None if tables else SummaryRecorder(scenario, warmup_s)
    if folded is not None:
        world.recorder = folded
    inner = world.recorder
    if metrics:
        from flowsim.results.slices import recording
        world.recorder = recording(inner, metrics, scenario, warmup_s, tables)
    recorder = world.run(progress=progress)
    events, runs, steps = recorder.tables()
    slices = recorder.slices() if recorder is not inner else None
    log = pd.DataFrame([(t, kind, msg, json.dumps(facts, sort_keys=True, default=str))
                        for t, kind, msg, facts in world.decisions], columns=list(LOG_COLUMNS))
    summary = None if folded is None else folded.summary(world.seed, world.events_in, world.events_unmatched)
    if summary is not None and world.reports:
        summary["mechanisms"] = world.reports
    return Result(scenario=scenario, seed=world.seed, horizon=scenario.horizon, events=events, runs=runs,
                  steps=steps, log=log, events_in=world.events_in, events_unmatched=world.events_unmatched,
                  _summary=summary, warmup=warmup_s, summary_only=not tables, _slices=slices,
                  mechanisms=world.reports)


def parse_warmup(value: float | str, horizon: float) -> float:
    """Seconds of warm-up from a duration or a fraction of the horizon (a number below 1)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise ScenarioError(f"expected a duration or a fraction of the horizon: {exc}",
                                    field="warmup") from None
            return _check_warmup(value, horizon)
    value = float(value)
    if not math.isfinite(value):
        raise ScenarioError(f"expected a duration or a fraction of the horizon, got {value}", field="warmup")
    return _check_warmup(value * horizon if 0 < value < 1 else value, horizon)


def _check_warmup(seconds: float, horizon: float) -> float:
    if not 0 <= seconds < horizon:
        raise ScenarioError(f"must be between 0 and the horizon ({horizon:g}s), got {seconds:g}s", field="warmup")
    return seconds
