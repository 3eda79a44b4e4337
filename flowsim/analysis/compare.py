"""Side-by-side comparison of variants with confidence intervals (common random numbers).

The variants are, for each scenario given, the scenario itself (``base``) and each of its
``variants:``. All of them run on the same replication seeds (from ``--seed`` or the first
scenario's seed), so replication ``r`` of every variant sees the same traffic. Each metric
gets its mean and 95% CI per variant, and for every variant after the first, the
difference to the first with a *paired* 95% CI (over the per-replication differences,
which common random numbers make far tighter than the two intervals suggest).

The metrics are the headline (:mod:`flowsim.analysis.headline`) and those asked for
(``metrics=``, ``--metric``: any metric of :mod:`flowsim.results.metric`). Without any
asked for, a scenario with keyed limits, throttles or dispatch policies, or several
functions, gets :func:`~flowsim.analysis.headline.default_metrics` too: the p99 start
latency of the worst and the best key value per key expression and of each function.
:meth:`Comparison.verdicts` says in words where each variant is better or worse than the
first: the metrics whose paired CI excludes 0, in the direction that is better for them
(lower latencies and losses, higher throughput, runs and fairness).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from flowsim.analysis.executors import Executor, Progress
from flowsim.analysis.headline import METRICS, default_metrics
from flowsim.analysis.output import plus_minus
from flowsim.analysis.overrides import BASE, Override
from flowsim.analysis.replicate import Asked, Base, ScenarioInput, Spec, _scenario, run_specs, seeds, summarize, tidy
from flowsim.analysis.stats import mean_ci
from flowsim.errors import ScenarioError
from flowsim.results.metric import parse


@dataclass
class Comparison:
    """``rows``: one per variant and replication; ``summary``: one per variant and metric, with
    ``mean``, ``ci_low``, ``ci_high`` and the paired difference to the first variant
    (``diff``, ``diff_low``, ``diff_high``; NaN for the first); ``headline``: the metrics
    to show, in order (those asked for, or the headline metrics with data and the
    default rows)."""

    name: str
    variants: list[str]
    rows: pd.DataFrame
    summary: pd.DataFrame
    specs: list[Spec]
    seeds: list[int]
    headline: list[str]

    def verdicts(self, most: int = 4) -> list[str]:
        """For each variant after the first, one sentence: on which headline metrics it is
        better and worse than the first (paired 95% CI excluding 0) and by how much, the
        largest changes relative to the first's value first, ``most`` named per side."""
        by = self.summary.set_index(["variant", "metric"])
        out = []
        for v in self.variants[1:]:
            groups: dict[str, list[tuple[float, str]]] = {"better": [], "worse": [], "different": []}
            unclear = 0
            for m in self.headline:
                r = by.loc[(v, m)]
                if math.isnan(r["diff_low"]) or r["diff_low"] <= 0 <= r["diff_high"]:
                    unclear += 1
                    continue
                better = parse(m).better
                kind = "different" if not better else "better" if (r["diff"] > 0) == (better > 0) else "worse"
                reference = abs(by.loc[(self.variants[0], m), "mean"])
                size = abs(r["diff"]) / reference if reference > 0 else math.inf
                groups[kind].append((size, f"{m} ({_difference(m, r)})"))
            parts = []
            for kind, items in groups.items():
                if not items:
                    continue
                named = [text for _, text in sorted(items, key=lambda x: -x[0])[:most]]
                more = f" and {len(items) - most} more" if len(items) > most else ""
                label = "different (neither better nor worse)" if kind == "different" else kind
                parts.append(f"{label} on {', '.join(named)}{more}")
            if not parts:
                out.append(f"{v} vs {self.variants[0]}: no clear difference on any of the {len(self.headline)} "
                           "metrics shown.")
                continue
            rest = f"; no clear difference on the {unclear} other{'s' if unclear != 1 else ''}" if unclear else ""
            out.append(f"{v} vs {self.variants[0]}: " + "; ".join(parts) + rest + ".")
        return out


def _difference(metric: str, r: pd.Series) -> str:
    """The paired difference with its unit: seconds, per second, percentage points."""
    kind = parse(metric).unit
    scale, suffix = {"seconds": (1, " s"), "per second": (1, "/s"), "fraction": (100, " pp")}.get(kind, (1, ""))
    return plus_minus(r["diff"] * scale, r["diff_low"] * scale, r["diff_high"] * scale, signed=True) + suffix


def shown_metrics(summary: pd.DataFrame) -> list[str]:
    """Of the headline metrics, those worth a row: events, the rates of outcomes that
    happened, the latencies with data, throughput."""
    keep = []
    for metric in METRICS:
        means = summary.loc[summary["metric"] == metric, "mean"]
        if metric.startswith("count(") or means.isna().all():
            continue
        if metric.startswith("rate(") and not (means.fillna(0) > 0).any():
            continue
        keep.append(metric)
    return keep


def compare(scenarios: Sequence[ScenarioInput], replications: int = 10, *, sets: Sequence[Override] = (),
            seed: int | None = None, executor: Executor | None = None, progress: Progress | None = None,
            tables: bool = True, metrics: Sequence[str] | None = None) -> Comparison:
    """Run every variant of every scenario over the same ``replications`` seeds and compare them.

    ``metrics``: the metrics to show (the headline ones are computed anyway); ``None``
    shows the headline and :func:`~flowsim.analysis.headline.default_metrics`.
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
    if metrics is None:
        asked = Asked.of(default_metrics([_scenario(s) for s in specs]), specs)
    else:
        asked = Asked.of(metrics, specs)
    results = run_specs(specs, seed_list, executor, progress, tables, asked.extra)
    rows = tidy([{"variant": v} for v in labels], seed_list, results, asked.all)
    asked.warn_empty(rows, "variant")
    summary = _with_differences(rows, summarize(rows, "variant", metrics=asked.all), labels, asked.all)
    headline = asked.shown if metrics is not None else [*shown_metrics(summary), *asked.extra]
    return Comparison(bases[0].name, labels, rows, summary, specs, seed_list, headline)


def _with_differences(rows: pd.DataFrame, summary: pd.DataFrame, labels: list[str],
                      metrics: Sequence[str]) -> pd.DataFrame:
    """Add the paired difference of each variant to the first, per metric."""
    first = rows[rows["variant"] == labels[0]].set_index("replication")
    diffs = []
    for label in labels:
        other = rows[rows["variant"] == label].set_index("replication")
        for metric in metrics:
            if label == labels[0]:
                diffs.append((float("nan"),) * 3)
            else:
                ci = mean_ci(other[metric] - first[metric])
                diffs.append((ci.mean, ci.low, ci.high))
    out = summary.copy()
    out[["diff", "diff_low", "diff_high"]] = pd.DataFrame(diffs, index=out.index)
    return out
