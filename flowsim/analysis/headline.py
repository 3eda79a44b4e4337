"""The headline metrics of one simulation, as flat numbers that replications can average.

Every analysis (compare, sweep, plan) reports these, under names that objectives use
as written (``p99(start_latency) <= 30s``, ``rate(rate_limited) <= 0.01``):

* ``events``: the number of event rows (one per event and function it triggers);
* ``count(X)`` and ``rate(X)`` for every outcome ``X`` (``run``, ``rate_limited``...):
  the number of event rows with that outcome, and that number over ``events``;
* ``mean(L)``, ``p50(L)``, ``p90(L)``, ``p99(L)`` for the latencies ``start_latency``
  (event arrival → first step start), ``queue_wait`` (per step attempt) and
  ``end_to_end_latency`` (arrival → end of a completed run), in seconds;
* ``throughput``: completed runs per second.

A metric without data in a replication (no run started) is NaN and is left out of that
metric's mean and confidence interval. New metrics are added here and only here.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from flowsim.results.recorder import OUTCOMES

LATENCIES = ("start_latency", "queue_wait", "end_to_end_latency")
STATISTICS = ("mean", "p50", "p90", "p99")

METRICS: tuple[str, ...] = (
    ("events",)
    + tuple(f"count({o})" for o in OUTCOMES)
    + tuple(f"rate({o})" for o in OUTCOMES)
    + tuple(f"{s}({lat})" for lat in LATENCIES for s in STATISTICS)
    + ("throughput",)
)


def headline(summary: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of :data:`METRICS` from a ``Result.summary()``, in that order."""
    outcomes = summary["outcomes"]
    rows = sum(int(v) for v in outcomes.values())
    out: dict[str, float] = {"events": float(rows)}
    for o in OUTCOMES:
        out[f"count({o})"] = float(outcomes.get(o, 0))
    for o in OUTCOMES:
        out[f"rate({o})"] = outcomes.get(o, 0) / rows if rows else math.nan
    for lat in LATENCIES:
        dist = summary[lat]
        for s in STATISTICS:
            out[f"{s}({lat})"] = math.nan if dist.get(s) is None else float(dist[s])
    out["throughput"] = float(summary["throughput"])
    return out


def unit(metric: str) -> str:
    """What a metric measures: ``seconds``, ``per second``, ``fraction`` or ``count``."""
    if metric.endswith(tuple(f"({lat})" for lat in LATENCIES)):
        return "seconds"
    if metric == "throughput":
        return "per second"
    if metric.startswith("rate("):
        return "fraction"
    return "count"
