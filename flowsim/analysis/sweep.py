"""Sweeps: every point of a grid of settings, each over the same replication seeds.

``--grid PATH=V1,V2,...`` (values as YAML would read them, ``{...}`` allowed) or
``--grid PATH=LOW..HIGH`` (every integer from LOW to HIGH) names one dimension; the
points are the product of the dimensions, for each variant asked for (``base`` by
default). Each point is the scenario with ``--set``, the variant, then the point's
values applied (spec of overrides: :mod:`flowsim.analysis.overrides`). Every point runs
on the same seeds, so neighbouring points differ by their settings, not by their traffic.

The result is tidy: ``rows`` has one row per point and replication (point, variant, one
column per grid path, replication, seed, every headline metric and every metric asked
for with ``metrics=``), and ``summary`` one row per point and metric with its mean and
95% CI. Rows are in point then replication
order whichever executor ran them.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import yaml

from flowsim.analysis.executors import Executor, Progress
from flowsim.analysis.overrides import BASE, Override, check_path, parse_value
from flowsim.analysis.replicate import Asked, Base, ScenarioInput, Spec, run_specs, seeds, summarize, tidy
from flowsim.errors import ScenarioError

_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")
MAX_POINTS = 100_000


@dataclass
class Sweep:
    """``rows`` (per point and replication) and ``summary`` (per point and metric, with CIs);
    ``metrics``: those asked for, as canonical texts."""

    name: str
    settings: list[str]
    rows: pd.DataFrame
    summary: pd.DataFrame
    specs: list[Spec]
    seeds: list[int]
    metrics: list[str]


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``PATH=V1,V2,...`` or ``PATH=LOW..HIGH`` → (path, values)."""
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(f"expected PATH=V1,V2,... or PATH=LOW..HIGH, got {text!r}", field="--grid")
    where = f"--grid {path}"
    check_path(path, where)
    m = _RANGE.match(values)
    if m:
        low, high = int(m.group(1)), int(m.group(2))
        if high < low:
            raise ScenarioError(f"empty range {low}..{high}", field=where)
        return path, list(range(low, high + 1))
    parsed = parse_value(f"[{values}]", where)
    if not parsed or any(v is None for v in parsed):
        raise ScenarioError(f"expected values separated by commas, got {values!r}", field=where)
    return path, parsed


def sweep(scenario: ScenarioInput, grid: Sequence[tuple[str, Sequence[Any]]], replications: int = 10, *,
          variants: Sequence[str] = (BASE,), sets: Sequence[Override] = (), seed: int | None = None,
          executor: Executor | None = None, progress: Progress | None = None, tables: bool = True,
          metrics: Sequence[str] = ()) -> Sweep:
    """Run every point of ``grid`` (for each of ``variants``) over ``replications`` seeds.

    ``metrics``: metrics beyond the headline to compute (:mod:`flowsim.results.metric`).
    ``tables=False`` simulates summary-only (:func:`flowsim.simulate`): flat memory and no table building, percentiles within 0.5%."""
    paths = [p for p, _ in grid]
    if not grid:
        raise ScenarioError("a sweep needs at least one --grid PATH=V1,V2,...", field="--grid")
    dup = next((p for p in paths if paths.count(p) > 1), None)
    if dup is not None or any(p in ("point", "variant", "replication", "seed") for p in paths):
        raise ScenarioError(f"a grid path may appear once and may not be a column name: {dup or paths}",
                            field="--grid")
    points = len(variants) * _product_size(grid)
    if points > MAX_POINTS:
        raise ScenarioError(f"the grid has {points} points; at most {MAX_POINTS}", field="--grid")
    base = Base.load(scenario, sets)
    seed_list = seeds(base.scenario.seed if seed is None else seed, replications)
    labels, specs, firsts = [], [], []
    for variant in variants:
        variant_overrides = base.variant(variant)
        for values in itertools.product(*(v for _, v in grid)):
            overrides = tuple(Override(p, v, "--grid") for p, v in zip(paths, values))
            labels.append({"point": len(labels), "variant": variant,
                           **{p: _cell(v) for p, v in zip(paths, values)}})
            specs.append(base.spec(variant_overrides + overrides))
        firsts.append(specs[-1])
    asked = Asked.of(metrics, firsts)
    results = run_specs(specs, seed_list, executor, progress, tables, asked.extra)
    rows = tidy(labels, seed_list, results, asked.all)
    asked.warn_empty(rows, "point")
    return Sweep(base.name, paths, rows, summarize(rows, "point", ["variant", *paths], asked.all), specs, seed_list,
                 asked.shown)


def _product_size(grid: Sequence[tuple[str, Sequence[Any]]]) -> int:
    size = 1
    for _, values in grid:
        size *= len(values)
    return size


def _cell(value: Any) -> Any:
    """A grid value as a table cell: scalars as they are, collections as flow YAML."""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip()
    return value
