"""The metrics the analyses report: the flat headline of every simulation, and the rows
``compare`` adds by default for keyed and multi-function scenarios.

Metrics are named by text in the grammar of :mod:`flowsim.results.metric` (which
computes them all): the headline, :data:`METRICS`, is every metric without a filter:

* ``events``: the number of event rows (one per event and function it triggers);
* ``count(X)`` and ``rate(X)`` for every outcome ``X`` (``run``, ``rate_limited``...):
  the number of event rows with that outcome, and that number over ``events``;
* ``mean(L)``, ``p50(L)``, ``p90(L)``, ``p99(L)`` for the latencies ``start_latency``
  (event arrival → first step start), ``queue_wait`` (per step attempt) and
  ``end_to_end_latency`` (arrival → end of a completed run), in seconds;
* ``throughput``: completed runs per second.

Any other metric (``p99(start_latency)[event.data.tenant=s1]``,
``worst(p99(start_latency), event.data.tenant)``...) is computed when an analysis asks
for it, beside these. A metric without data in a replication (no run started, or a
filter that matched nothing) is NaN and is left out of that metric's mean and
confidence interval.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping, Sequence

from flowsim.errors import ScenarioError
from flowsim.expr import Expr
from flowsim.results.metric import BASE_METRICS, SummarySource, Where, check, evaluate, parse
from flowsim.scenario.model import Scenario

METRICS: tuple[str, ...] = BASE_METRICS

#: The mechanisms whose keys decide when a run starts (its start latency per key).
KEYED = ("concurrency", "throttle", "policies")


def headline(summary: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of :data:`METRICS` from a ``Result.summary()``, in that order."""
    source = SummarySource(summary)
    return {m: evaluate(parse(m), source).value for m in METRICS}


def unit(metric: str) -> str:
    """What a metric measures: ``seconds``, ``per second``, ``fraction``, ``count`` or ``index``."""
    return parse(metric).unit


def key_expressions(scenario: Scenario) -> dict[str, list[str]]:
    """The key expressions of the keyed concurrency limits, throttles and dispatch
    policies of ``scenario``, each with the functions that use it, in file order."""
    out: dict[str, list[str]] = {}
    for fn in scenario.functions:
        for name in KEYED:
            for expr in _keys(fn.mechanisms.get(name)):
                users = out.setdefault(expr.text, [])
                if fn.id not in users:
                    users.append(fn.id)
    return out


def _keys(obj: Any) -> Iterator[Expr]:
    """Every expression held in a field named ``key`` of a parsed config, however nested."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "key" and isinstance(value, Expr):
                yield value
            else:
                yield from _keys(value)
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _keys(item)


#: A key expression with at most this many values in the sampled traffic gets one row per value.
FEW_VALUES = 8


def default_metrics(scenarios: Sequence[Scenario]) -> list[str]:
    """The rows ``compare`` adds to the headline when no ``--metric`` is given.

    For every key expression of a keyed limit, throttle or dispatch policy (of any
    variant) that the traffic gives values to: with at most :data:`FEW_VALUES` values in
    the sampled traffic (:func:`flowsim.results.metric.check`), the p99 start latency of
    each value; with more, of the worst and of the best value. A key used by some
    functions only is restricted to each of them. With several functions, each
    function's p99 start latency. (The worst value alone hides what fair dispatch does:
    the heavy tenant waits a little longer while every other one starts at once.)"""
    keys: dict[str, list[str]] = {}
    functions: list[str] = []
    for scenario in scenarios:
        for fn in scenario.functions:
            if fn.id not in functions:
                functions.append(fn.id)
        for text, users in key_expressions(scenario).items():
            mine = keys.setdefault(text, [])
            mine.extend(f for f in users if f not in mine)
    out = []
    for text, users in keys.items():
        scopes = [None] if set(users) == set(functions) else [f for f in functions if f in users]
        for fn in scopes:
            probe = f"worst(p99(start_latency){Where(fn).text}, {text})"
            try:
                values = check([probe], scenarios)[text]
            except ScenarioError:       # a constant key ('"openai"'), or one the traffic has no field for
                continue
            if len(values) <= FEW_VALUES:
                out += [f"p99(start_latency){Where(fn, ((text, v),)).text}" for v in values]
            else:
                out += [probe, probe.replace("worst(", "best(", 1)]
    if len(functions) > 1:
        out += [f"p99(start_latency)[function={f}]" for f in functions]
    return [parse(m).text for m in out]
