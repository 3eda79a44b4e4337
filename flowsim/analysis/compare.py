"""Side-by-side comparison of variants with confidence intervals (common random numbers).

The variants are, for each scenario given, the scenario itself (``base``) and each of its
``variants:``. All of them run on the same replication seeds (from ``--seed`` or the first
scenario's seed), so replication ``r`` of every variant sees the same traffic. Each metric
gets its mean and 95% CI per variant, and for every variant after the first, the
difference to the first with a *paired* 95% CI (over the per-replication differences,
which common random numbers make far tighter than the two intervals suggest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from flowsim.analysis.executors import Executor, Progress
from flowsim.analysis.headline import METRICS
from flowsim.analysis.overrides import BASE, Override
from flowsim.analysis.replicate import Base, ScenarioInput, Spec, run_specs, seeds, summarize, tidy
from flowsim.analysis.stats import mean_ci
from flowsim.errors import ScenarioError


@dataclass
class Comparison:
    """``rows``: one per variant and replication; ``summary``: one per variant and metric, with
    ``mean``, ``ci_low``, ``ci_high`` and the paired difference to the first variant
    (``diff``, ``diff_low``, ``diff_high``; NaN for the first)."""

    name: str
    variants: list[str]
    rows: pd.DataFrame
    summary: pd.DataFrame
    specs: list[Spec]
    seeds: list[int]


def compare(scenarios: Sequence[ScenarioInput], replications: int = 10, *, sets: Sequence[Override] = (),
            seed: int | None = None, executor: Executor | None = None,
            progress: Progress | None = None, tables: bool = True) -> Comparison:
    """Run every variant of every scenario over the same ``replications`` seeds and compare them.

    ``tables=False`` simulates summary-only (:func:`flowsim.simulate`): flat memory and no table building, percentiles within 0.5%."""
    if not scenarios:
        raise ScenarioError("at least one scenario is needed")
    bases = [Base.load(s, sets) for s in scenarios]
    names = [b.name for b in bases]
    prefixes = names if len(set(names)) == len(names) else [f"{i + 1}:{n}" for i, n in enumerate(names)]
    labels, specs = [], []
    for base, prefix in zip(bases, prefixes):
        for variant, overrides in base.variants().items():
            if len(bases) == 1:
                labels.append(variant)
            else:
                labels.append(prefix if variant == BASE else f"{prefix}/{variant}")
            specs.append(base.spec(overrides))
    seed_list = seeds(bases[0].scenario.seed if seed is None else seed, replications)
    results = run_specs(specs, seed_list, executor, progress, tables)
    rows = tidy([{"variant": v} for v in labels], seed_list, results)
    return Comparison(bases[0].name, labels, rows, _with_differences(rows, summarize(rows, "variant"), labels),
                      specs, seed_list)


def _with_differences(rows: pd.DataFrame, summary: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Add the paired difference of each variant to the first, per metric."""
    first = rows[rows["variant"] == labels[0]].set_index("replication")
    diffs = []
    for label in labels:
        other = rows[rows["variant"] == label].set_index("replication")
        for metric in METRICS:
            if label == labels[0]:
                diffs.append((float("nan"),) * 3)
            else:
                ci = mean_ci(other[metric] - first[metric])
                diffs.append((ci.mean, ci.low, ci.high))
    out = summary.copy()
    out[["diff", "diff_low", "diff_high"]] = pd.DataFrame(diffs, index=out.index)
    return out
