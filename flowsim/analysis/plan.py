"""Capacity planning: the smallest value of a setting that meets every objective, with confidence.

An objective is ``METRIC OP BOUND`` over any metric (:mod:`flowsim.results.metric`):
``p99(start_latency) <= 30s``, ``rate(rate_limited) <= 0.01`` (or ``1%``),
``throughput >= 20/s``, ``p99(start_latency)[event.data.tenant=s1] <= 5s``,
``worst(p99(start_latency), event.data.tenant) <= 30s``, ``jain(start_latency, event.data.tenant) >= 0.9``. A value *meets* an objective with confidence when the whole 95%
CI of the metric over the replications lies on the right side of the bound (the upper
end for ``<=``/``<``, the lower end for ``>=``/``>``); a metric without data (no run
started) does not meet.

The search assumes that raising the setting never makes the objectives harder to meet
(more slots, a higher limit), and bisects the integer range LOW..HIGH: HIGH first (if
it fails, nothing in the range meets), then LOW (if it meets, LOW is the answer), then
halving the gap between a failing and a meeting value. That is 2 + ⌈log2(HIGH−LOW)⌉
evaluations at most instead of the whole range. Every evaluation runs on the same seeds
(common random numbers), so neighbouring values differ by the setting, not by the dice.
The objective that *binds* is the one that fails just below the answer (at answer − 1),
the one that forbids a smaller value; several may bind, the most violated first.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from flowsim.analysis.executors import Executor, Progress
from flowsim.analysis.overrides import BASE, Override, check_path
from flowsim.analysis.replicate import (Asked, Base, ScenarioInput, Spec, representative, run_specs, seeds, summarize,
                                        tidy)
from flowsim.results.result import Result
from flowsim.analysis.stats import Interval, mean_ci
from flowsim.errors import ScenarioError
from flowsim.results.metric import parse, top_level_operator
from flowsim.units import parse_duration, parse_rate

_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


#: What a bound looks like, by the unit of its metric.
_BOUND_FORMS = {"seconds": "a duration such as 30s or 500ms", "per second": "a rate such as 5/s or 300/m",
                "fraction": "a fraction such as 0.01 or a percentage such as 1%", "count": "a number such as 100",
                "index": "a number between 0 and 1 such as 0.9"}


@dataclass(frozen=True)
class Objective:
    """``metric op bound``, e.g. ``p99(start_latency) <= 30s`` (bound in seconds: 30.0);
    ``metric`` is the metric's canonical text."""

    metric: str
    op: str
    bound: float
    text: str

    @classmethod
    def parse(cls, text: str) -> "Objective":
        found = top_level_operator(text, ("<=", ">=", "<", ">"))
        raw = text[found[0] + len(found[1]):].strip() if found else ""
        if not found or not raw or not text[:found[0]].strip():
            raise ScenarioError(f"expected METRIC OP BOUND such as 'p99(start_latency) <= 30s', got {text!r}",
                                field="--slo")
        op, parsed = found[1], parse(text[:found[0]], "--slo")
        metric, kind = parsed.text, parsed.unit
        try:
            if kind == "seconds":
                bound = parse_duration(raw)
            elif kind == "per second":
                bound = parse_rate(raw)
            elif kind in ("fraction", "index") and raw.endswith("%"):
                bound = float(raw[:-1]) / 100
            else:
                bound = float(raw)
        except ValueError:
            raise ScenarioError(f"invalid bound {raw!r} for {metric}: expected {_BOUND_FORMS[kind]}",
                                field="--slo") from None
        if not math.isfinite(bound):
            raise ScenarioError(f"the bound of {text!r} must be finite", field="--slo")
        return cls(metric, op, bound, text.strip())

    @property
    def upper(self) -> bool:
        """True for ``<=``/``<`` (the metric must stay below the bound)."""
        return self.op in ("<=", "<")

    def met(self, ci: Interval) -> bool:
        """Whether the whole CI is on the right side of the bound."""
        edge = ci.high if self.upper else ci.low
        if math.isnan(edge):
            return False
        return {"<=": edge <= self.bound, "<": edge < self.bound,
                ">=": edge >= self.bound, ">": edge > self.bound}[self.op]

    def excess(self, ci: Interval) -> float:
        """How far the CI's far end lies past the bound, relative to the bound (≤ 0 when met)."""
        edge = ci.high if self.upper else ci.low
        if math.isnan(edge):
            return math.inf
        over = edge - self.bound if self.upper else self.bound - edge
        return over / abs(self.bound) if self.bound else over


def parse_vary(text: str) -> tuple[str, int, int]:
    """``PATH=LOW..HIGH`` (integers) → (path, low, high)."""
    path, sep, rng = text.partition("=")
    path = path.strip()
    m = _RANGE.match(rng)
    if not sep or not path or not m:
        raise ScenarioError(f"expected PATH=LOW..HIGH with integers, got {text!r}", field="--vary")
    check_path(path, f"--vary {path}")
    low, high = int(m.group(1)), int(m.group(2))
    if high < low:
        raise ScenarioError(f"empty range {low}..{high}", field=f"--vary {path}")
    return path, low, high


@dataclass
class Plan:
    """The answer (``None`` when even HIGH fails), the objectives that bind, and every evaluation.

    ``evaluations`` has one row per evaluated value and objective (value, objective,
    metric, n, mean, ci_low, ci_high, bound, met); ``rows`` and ``summary`` are the
    replications and CIs of every evaluated value (column ``value``).
    """

    name: str
    path: str
    low: int
    high: int
    objectives: list[Objective]
    answer: int | None
    binding: list[str]
    evaluations: pd.DataFrame
    rows: pd.DataFrame
    summary: pd.DataFrame
    verdicts: dict[int, bool]
    specs: dict[int, Spec]
    seeds: list[int]
    constraint: str = ""
    """The flow-control constraint that delays most at the answer (at HIGH when there is
    none), from one full run with the first replication's seed, with its share."""

    def explain(self) -> str:
        """One sentence: the answer and why."""
        at = f"; the constraint that delays most there: {self.constraint}" if self.constraint else ""
        if self.answer is None:
            return (f"no {self.path} in {self.low}..{self.high} meets every objective with confidence; "
                    f"at {self.high}: {'; '.join(self.binding)} not met{at}")
        if self.answer == self.low:
            return (f"{self.path} = {self.answer}: the low end of the range already meets every objective "
                    f"(nothing in the range binds; try a lower LOW){at}")
        return (f"{self.path} = {self.answer} is the smallest value that meets every objective with confidence; "
                f"binding: {'; '.join(self.binding)} (not met at {self.answer - 1}){at}")


def plan(scenario: ScenarioInput, vary: tuple[str, int, int], objectives: Sequence[Objective | str],
         replications: int = 10, *, variant: str = BASE, sets: Sequence[Override] = (),
         seed: int | None = None, executor: Executor | None = None,
         progress: Progress | None = None, tables: bool = True) -> Plan:
    """Find the smallest value of ``vary`` = (path, low, high) meeting every objective.

    ``tables=False`` simulates summary-only (:func:`flowsim.simulate`): flat memory and no table building, percentiles within 0.5%."""
    path, low, high = vary
    objs = [o if isinstance(o, Objective) else Objective.parse(o) for o in objectives]
    if not objs:
        raise ScenarioError("a plan needs at least one --slo objective", field="--slo")
    base = Base.load(scenario, sets)
    variant_overrides = base.variant(variant)
    asked = Asked.of([o.metric for o in objs], [base.spec(variant_overrides)], "--slo")
    seed_list = seeds(base.scenario.seed if seed is None else seed, replications)
    budget = (2 + math.ceil(math.log2(max(high - low, 1)))) * len(seed_list)
    done: dict[int, list[dict[str, float]]] = {}
    specs: dict[int, Spec] = {}
    cis: dict[int, list[Interval]] = {}
    verdicts: dict[int, bool] = {}

    def meets(value: int) -> bool:
        spec = specs[value] = base.spec(variant_overrides + (Override(path, value, "--vary"),))
        offset = len(done) * len(seed_list)
        report = (lambda d, _t: progress(offset + d, budget)) if progress else None
        done[value] = run_specs([spec], seed_list, executor, report, tables, asked.extra)[0]
        cis[value] = [mean_ci(r[o.metric] for r in done[value]) for o in objs]
        verdicts[value] = all(o.met(ci) for o, ci in zip(objs, cis[value]))
        return verdicts[value]

    if not meets(high):
        answer, probe = None, high
    elif low == high or meets(low):
        answer, probe = low, None
    else:
        lo, hi = low, high          # lo fails, hi meets
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if meets(mid) else (mid, hi)
        answer, probe = hi, lo
    if progress:
        progress(budget, budget)
    binding = []
    if probe is not None:
        failing = [(o.excess(ci), o.text) for o, ci in zip(objs, cis[probe]) if not o.met(ci)]
        binding = [text for _, text in sorted(failing, key=lambda f: -f[0])]
    values = sorted(done)
    rows = tidy([{"value": v} for v in values], seed_list, [done[v] for v in values], asked.all)
    asked.warn_empty(rows, "value")
    evaluations = pd.DataFrame(
        [{"value": v, "objective": o.text, "metric": o.metric, "n": ci.n, "mean": ci.mean, "ci_low": ci.low,
          "ci_high": ci.high, "bound": o.bound, "met": o.met(ci)}
         for v in values for o, ci in zip(objs, cis[v])])
    shown = binding_constraint(representative(specs[high if answer is None else answer], seed_list[0]))
    return Plan(base.name, path, low, high, objs, answer, binding, evaluations, rows,
                summarize(rows, "value", metrics=asked.all), {v: verdicts[v] for v in values}, specs, seed_list, shown)


def binding_constraint(result: Result) -> str:
    """The constraint that delayed the most, with its share of all waiting (``""`` if none)."""
    table = result.binding()
    if table.empty:
        return ""
    top = table.iloc[0]
    return f"{top['constraint']} ({top['share']:.0%} of the waiting)"
