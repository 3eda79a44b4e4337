"""Replications: one scenario (or many variants of it) run over N independent seeds.

The seeds are spawned from the scenario's seed with numpy's ``SeedSequence``
(:func:`flowsim.streams.replication_seeds`). Every variant and every sweep point uses
the same N seeds, and since each random stream is named after what it drives (never
after the order of creation), variants share the traffic, durations and failures of each
replication (common random numbers): their differences are the policy's, not the dice's.

Work is sent to executors by value: a :class:`Job` carries the scenario's parsed YAML,
its file name, the overrides and the seed, never the :class:`~flowsim.scenario.model.Scenario`
(which holds compiled expressions). A worker rebuilds the scenario once and keeps it
(one cache per worker thread) for the jobs that follow.
"""
from __future__ import annotations

import hashlib
import math
import os
import pickle
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from flowsim.analysis.executors import Executor, Progress, SerialExecutor
from flowsim.analysis.headline import METRICS, headline
from flowsim.analysis.overrides import BASE, Override, build_scenario, variants_of
from flowsim.analysis.stats import mean_ci
from flowsim.api import simulate
from flowsim.results.result import Result
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.results.metric import Extreme, Jain, MetricWarning, check, parse, paths_of
from flowsim.scenario.model import Scenario
from flowsim.scenario.source import Source, load_yaml
from flowsim.streams import replication_seeds

ScenarioInput = str | os.PathLike[str] | Mapping[str, Any]
CACHE_SIZE = 16


@dataclass(frozen=True)
class Spec:
    """One concrete scenario, by value: the parsed YAML, its file and the overrides to apply."""

    raw: Any
    file: str | None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Job:
    """One simulation: a spec and a seed."""

    spec: Spec
    seed: int
    tables: bool = True
    """``False``: simulate summary-only (flat memory, percentiles within 0.5%)."""
    metrics: tuple[str, ...] = ()
    """Metrics beyond :data:`~flowsim.analysis.headline.METRICS`, as canonical texts."""


def run_job(job: Job) -> dict[str, float]:
    """Simulate one job and return its headline metrics and ``job.metrics`` (runs in a
    worker). A metric restricted to a function this variant lacks is NaN."""
    scenario = _scenario(job.spec)
    result = simulate(scenario, job.seed, tables=job.tables, metrics=job.metrics)
    out = headline(result.summary())
    functions = {f.id for f in scenario.functions}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)      # the parent warns once, over the replications
        for m in job.metrics:
            fn = parse(m).where.function
            out[m] = math.nan if fn is not None and fn not in functions else result.metric(m)
    return out


def representative(spec: Spec, seed: int) -> Result:
    """The full result of one spec and seed, in this process (for reports and figures)."""
    return simulate(_scenario(spec), seed)


_local = threading.local()


def _scenario(spec: Spec) -> Scenario:
    """The spec's scenario, built once per thread (the parent has already validated it)."""
    cache: OrderedDict[bytes, Scenario] = getattr(_local, "cache", None) or OrderedDict()
    _local.cache = cache
    key = hashlib.sha256(pickle.dumps((spec.raw, spec.file, spec.overrides), protocol=5)).digest()
    scenario = cache.get(key)
    if scenario is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            scenario = build_scenario(spec.raw, Source(spec.file), spec.overrides)
        cache[key] = scenario
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return scenario


@dataclass
class Base:
    """A loaded scenario with its line map and ``--set`` overrides: where specs come from."""

    scenario: Scenario
    source: Source
    sets: tuple[Override, ...]
    warnings: frozenset[str]

    @classmethod
    def load(cls, scenario: ScenarioInput, sets: Sequence[Override] = ()) -> "Base":
        """Load and validate ``scenario`` (and its variants) with ``sets`` applied."""
        from flowsim.scenario.load import load_scenario
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScenarioWarning)
            loaded = load_scenario(scenario)
        _reemit(caught)
        if isinstance(scenario, Mapping):
            source = Source("<dict>")
        else:   # the loader keeps no line map; read it again (the file is known to be good)
            _, source = load_yaml(Path(scenario).read_text(encoding="utf-8"), str(scenario))
        seen = frozenset(str(w.message) for w in caught if issubclass(w.category, ScenarioWarning))
        base = cls(loaded, source, tuple(sets), seen)
        if sets:
            base.spec()
        return base

    @property
    def name(self) -> str:
        return self.scenario.name

    def variants(self) -> dict[str, tuple[Override, ...]]:
        """``base`` (no override) then the scenario's variants, in file order."""
        return {BASE: (), **variants_of(self.scenario.raw, self.source)}

    def variant(self, name: str) -> tuple[Override, ...]:
        """The overrides of variant ``name`` (``base``: none)."""
        known = self.variants()
        if name not in known:
            raise ScenarioError(f"no variant {name!r} in {self.name}; known: {', '.join(known)}",
                                file=self.source.file, field="--variant")
        return known[name]

    def spec(self, overrides: Sequence[Override] = ()) -> Spec:
        """The spec of this scenario with ``--set`` then ``overrides`` applied, validated here.

        Warnings that the base scenario did not already give are passed on.
        """
        all_overrides = self.sets + tuple(overrides)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScenarioWarning)
            build_scenario(self.scenario.raw, self.source, all_overrides)
        _reemit([w for w in caught if str(w.message) not in self.warnings])
        file = self.source.file
        if file and file != "<dict>":
            file = os.path.abspath(file)      # workers may run elsewhere: trace paths resolve from it
        return Spec(self.scenario.raw, file, all_overrides)


def _reemit(caught: Sequence[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _some(values: Sequence[str], most: int = 12) -> str:
    if not values:
        return "no value"
    shown = ", ".join(values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def seeds(seed: int, replications: int) -> list[int]:
    """The seeds of ``replications`` independent replications spawned from ``seed``."""
    if replications < 2:
        raise ScenarioError(f"at least 2 replications are needed for a confidence interval, got {replications}",
                            field="--replications")
    return replication_seeds(seed, replications)


def run_specs(specs: Sequence[Spec], seed_list: Sequence[int], executor: Executor | None = None,
              progress: Progress | None = None, tables: bool = True,
              metrics: Sequence[str] = ()) -> list[list[dict[str, float]]]:
    """Headline metrics (and ``metrics``) of every spec at every seed: ``results[spec][replication]``.

    ``tables=False`` simulates summary-only (:func:`flowsim.simulate`): flat memory and no table building, percentiles within 0.5%."""
    jobs = [Job(spec, s, tables, tuple(metrics)) for spec in specs for s in seed_list]
    flat = (executor or SerialExecutor()).map(run_job, jobs, progress)
    n = len(seed_list)
    return [flat[i * n:(i + 1) * n] for i in range(len(specs))]


def tidy(labels: Sequence[Mapping[str, Any]], seed_list: Sequence[int],
         results: Sequence[Sequence[Mapping[str, float]]], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """One row per (label, replication): the label's columns, replication, seed, every metric."""
    rows = [{**label, "replication": r, "seed": s, **values}
            for label, per_seed in zip(labels, results)
            for r, (s, values) in enumerate(zip(seed_list, per_seed))]
    return pd.DataFrame(rows, columns=[*labels[0], "replication", "seed", *metrics] if labels else None)


def summarize(rows: pd.DataFrame, key: str, carry: Sequence[str] = (),
              metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and 95% CI of every metric per value of ``key`` (long: one row per key and metric).

    ``carry`` columns (constant within a key, such as a sweep point's settings) are kept.
    """
    out = []
    for value, group in rows.groupby(key, sort=False):
        first = group.iloc[0]
        for metric in metrics:
            ci = mean_ci(group[metric])
            out.append({key: value, **{c: first[c] for c in carry}, "metric": metric, "n": ci.n,
                        "mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high})
    return pd.DataFrame(out, columns=[key, *carry, "metric", "n", "mean", "ci_low", "ci_high"])


def replicate(scenario: ScenarioInput, replications: int = 10, *, sets: Sequence[Override] = (),
              seed: int | None = None, executor: Executor | None = None, progress: Progress | None = None,
              tables: bool = True, metrics: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``scenario`` over ``replications`` seeds: (rows per replication, summary with CIs)
    of the headline metrics and ``metrics`` (:mod:`flowsim.results.metric`).

    ``tables=False`` simulates summary-only (:func:`flowsim.simulate`): flat memory and no table building, percentiles within 0.5%."""
    base = Base.load(scenario, sets)
    seed_list = seeds(base.scenario.seed if seed is None else seed, replications)
    spec = base.spec()
    asked = Asked.of(metrics, [spec])
    results = run_specs([spec], seed_list, executor, progress, tables, asked.extra)
    rows = tidy([{"variant": BASE}], seed_list, results, asked.all)
    asked.warn_empty(rows, "variant")
    return rows, summarize(rows, "variant", metrics=asked.all)


@dataclass
class Asked:
    """The metrics an analysis was asked for, checked against its scenarios before anything
    runs: ``shown`` as canonical texts, ``extra`` those beyond the headline, and the values
    each key expression took in the sampled traffic (for the warning of :meth:`warn_empty`)."""

    shown: list[str]
    extra: list[str]
    seen: dict[str, list[str]]

    @classmethod
    def of(cls, metrics: Sequence[str], specs: Sequence[Spec], where: str = "--metric") -> "Asked":
        shown = list(dict.fromkeys(parse(m, where).text for m in metrics))
        extra = [m for m in shown if m not in METRICS]
        seen = check(extra, [_scenario(s) for s in specs], where) if extra else {}
        return cls(shown, extra, seen)

    @property
    def all(self) -> list[str]:
        """The headline metrics, then the extra ones."""
        return [*METRICS, *self.extra]

    def warn_empty(self, rows: pd.DataFrame, key: str) -> None:
        """Warn, once per metric, of restricted metrics that have no value in some replications."""
        for m in self.extra:
            metric = parse(m)
            if not metric.where and not isinstance(metric, (Extreme, Jain)):
                continue
            empty = rows[m].isna().groupby(rows[key], sort=False).agg(["sum", "size"])
            hit = empty[empty["sum"] > 0]
            if hit.empty:
                continue
            where = ", ".join(f"{int(r['sum'])} of {int(r['size'])} replications of "
                              f"{label if key == 'variant' else f'{key} {label}'}" for label, r in hit.iterrows())
            values = "; ".join(f"{p} takes {_some(self.seen[p])} in the sampled traffic"
                               for p in paths_of(metric) if p in self.seen)
            warnings.warn(MetricWarning(f"{m} is empty (NaN, no event row, run or step matched, or none "
                                        f"had data) in {where}" + (f"; {values}" if values else "")))

