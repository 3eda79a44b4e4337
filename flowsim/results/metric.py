"""Metrics named by text: one grammar, a small typed object, and its evaluation.

Every place a metric is named (``--slo``, ``--metric``, the tables of ``compare``,
``sweep`` and ``plan``, :meth:`flowsim.Result.metric`) goes through :func:`parse`, and
every value comes from :func:`evaluate`. (:mod:`flowsim.results.metrics` is something
else: the summary computed from the tables.) The grammar::

    METRIC  := BASE [FILTERS]
             | worst(BASE [FILTERS], PATH) | best(BASE [FILTERS], PATH)
             | jain(MEASURE [FILTERS], PATH)
    BASE    := events | count(OUTCOME) | rate(OUTCOME) | STAT(LATENCY) | throughput
    STAT    := mean | p50 | p90 | p99
    LATENCY := start_latency | queue_wait | end_to_end_latency
    MEASURE := LATENCY | throughput
    FILTERS := [FILTER, FILTER, ...]
    FILTER  := function=ID | PATH=VALUE

* ``events`` is the number of event rows (one per event and function it triggers);
  ``count(X)`` and ``rate(X)`` the number of rows with outcome ``X`` and that number
  over ``events``; ``STAT(LATENCY)`` the mean or percentile in seconds of the start
  latency (event arrival → first step start, per started run), the queue wait (per
  step attempt) or the end-to-end latency (arrival → end, per completed run);
  ``throughput`` completed runs per second.
* ``[function=ID]`` keeps that function's rows. ``[PATH=VALUE]`` keeps the rows whose
  event gives ``VALUE`` at ``PATH``, evaluated as keys are
  (:func:`flowsim.expr.key_value`: Go's ``%v`` of the value, ``false`` for a missing
  field, ``<nil>`` for an evaluation error). An event row is judged by its own event; a
  run, and each of its step attempts, by the run's event (the first of a batch, the
  last of a debounce), the event its keys come from. Filters combine with ``and``.
* ``PATH`` is any key expression: a field path such as ``event.data.tenant`` or an
  expression such as ``event.data.region + "-" + event.data.tier``. ``VALUE`` is written
  bare, or quoted (``"a b"``) when it holds a comma, a bracket, ``=`` or spaces.
* ``worst(M, PATH)`` is the worst value of ``M`` over the values ``PATH`` takes, ``best``
  the best: the largest and the smallest, except for metrics where more is better
  (``throughput``, ``count(run)``, ``rate(run)``), where worst is the smallest.
* ``jain(MEASURE, PATH)`` is Jain's fairness index ``(Σx)² / (n·Σx²)`` over the values of
  ``PATH`` of the per-value mean of the latency (values with no latency left out), or of
  the per-value throughput (values with no completed run count 0); 1 when all are equal
  (all zero included), 1/n when one value has everything.

A filtered metric whose filter matches no event row, run or step is *empty*: NaN, with a
:class:`MetricWarning` from :meth:`~flowsim.Result.metric`; so is ``worst``, ``best`` or
``jain`` when no value of ``PATH`` has data. Unfiltered metrics keep their meaning on an
empty result (``events`` 0, percentiles NaN).

Evaluation reads a :class:`Source`: the summary (metrics without a ``PATH``, exact with
tables, percentiles approximate summary-only), or the rows tagged with the values of the
captured ``PATH`` s (:mod:`flowsim.results.slices`, exact), or summary-only cells folded
per ``PATH`` value (percentiles within the summary's accuracy).
"""
from __future__ import annotations

import difflib
import math
import re
import warnings
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

import numpy as np

from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.expr import Expr, ExprEvalError, ExprSyntaxError, compile_expr, key_string, key_value
from flowsim.results.recorder import OUTCOMES

if TYPE_CHECKING:
    from flowsim.results.result import Result
    from flowsim.scenario.model import Scenario

LATENCIES = ("start_latency", "queue_wait", "end_to_end_latency")
STATISTICS = ("mean", "p50", "p90", "p99")
MEASURES = (*LATENCIES, "throughput")

#: Every metric without filters, in the order analyses list them.
BASE_METRICS: tuple[str, ...] = (
    ("events",)
    + tuple(f"count({o})" for o in OUTCOMES)
    + tuple(f"rate({o})" for o in OUTCOMES)
    + tuple(f"{s}({lat})" for lat in LATENCIES for s in STATISTICS)
    + ("throughput",)
)

#: Outcomes that are a loss (lower is better); ``run`` is the one where more is better;
#: the others (filtered, debounced, batched, duplicate) are what the scenario asked for.
LOSSES = ("rate_limited", "singleton_skipped", "error", "pending")

#: Events of each traffic source read when checking a ``PATH`` against the traffic.
SAMPLE = 2000

GRAMMAR = ("events, count(OUTCOME), rate(OUTCOME), mean|p50|p90|p99(start_latency|queue_wait|"
           "end_to_end_latency) or throughput, optionally restricted with [function=ID] or [PATH=VALUE] "
           "(comma-separated); worst(METRIC, PATH), best(METRIC, PATH), or jain(start_latency|queue_wait|"
           "end_to_end_latency|throughput, PATH); OUTCOME one of " + ", ".join(OUTCOMES))


class MetricWarning(ScenarioWarning):
    """A metric whose filter matched nothing: its value is NaN."""


# --- the typed object -----------------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    """A restriction: one function (or all) and key expressions with the value each must give."""

    function: str | None = None
    paths: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return self.function is not None or bool(self.paths)

    @property
    def text(self) -> str:
        """``[function=f, event.data.t=a]``, or ``""`` without a restriction."""
        parts = ([f"function={_quote(self.function)}"] if self.function is not None else []) + [
            f"{p}={_quote(v)}" for p, v in self.paths]
        return f"[{', '.join(parts)}]" if parts else ""


@dataclass(frozen=True)
class Simple:
    """``stat(of)[where]``: ``events``, ``count(X)``, ``rate(X)``, ``STAT(LATENCY)``, ``throughput``."""

    stat: str
    of: str = ""
    where: Where = field(default_factory=Where)

    @property
    def base(self) -> str:
        return f"{self.stat}({self.of})" if self.of else self.stat

    @property
    def text(self) -> str:
        return self.base + self.where.text

    @property
    def unit(self) -> str:
        if self.of in LATENCIES:
            return "seconds"
        if self.stat == "throughput":
            return "per second"
        return "fraction" if self.stat == "rate" else "count"

    @property
    def better(self) -> int:
        """+1 when more is better, -1 when less is, 0 when neither."""
        if self.of in LATENCIES:
            return -1
        if self.stat == "throughput" or self.of == "run":
            return 1
        return -1 if self.of in LOSSES else 0


@dataclass(frozen=True)
class Extreme:
    """``worst(inner, path)`` or ``best(inner, path)``: over the values of ``path``."""

    kind: str
    inner: Simple
    path: str

    @property
    def where(self) -> Where:
        return self.inner.where

    @property
    def unit(self) -> str:
        return self.inner.unit

    @property
    def better(self) -> int:
        return self.inner.better

    @property
    def text(self) -> str:
        return f"{self.kind}({self.inner.text}, {self.path})"


@dataclass(frozen=True)
class Jain:
    """``jain(measure[where], path)``: Jain's index over the values of ``path``."""

    measure: str
    path: str
    where: Where = field(default_factory=Where)

    unit = "index"
    better = 1

    @property
    def text(self) -> str:
        return f"jain({self.measure}{self.where.text}, {self.path})"


Metric = Simple | Extreme | Jain


def paths_of(metric: Metric) -> tuple[str, ...]:
    """The key expressions ``metric`` reads, filters first, in order."""
    out = [p for p, _ in metric.where.paths]
    if isinstance(metric, (Extreme, Jain)) and metric.path not in out:
        out.append(metric.path)
    return tuple(out)


# --- parsing ----------------------------------------------------------------------------------

_BASE = re.compile(r"^(?P<base>[a-z0-9_]+(?:\s*\(\s*[a-z0-9_]*\s*\))?)\s*(?P<rest>.*)$", re.S)
_AGGREGATE = re.compile(r"^(worst|best|jain)\s*\(")
_PARSED: dict[str, Metric] = {}


def parse(text: str | Metric, where: str = "metric") -> Metric:
    """The metric named by ``text`` (a :data:`Metric` is returned as it is).

    Raises :class:`~flowsim.errors.ScenarioError` naming ``where`` (``--metric``,
    ``--slo``) with what is allowed: an unknown metric, a bad filter, a ``PATH`` that is
    not a key expression."""
    if not isinstance(text, str):
        return text
    metric = _PARSED.get(text)
    if metric is None:
        metric = _PARSED[text] = _parse(text.strip(), where)
    return metric


def _error(where: str, message: str) -> ScenarioError:
    return ScenarioError(message, field=where)


def _parse(text: str, where: str) -> Metric:
    m = _AGGREGATE.match(text)
    if m is None:
        return _simple(text, text, where)
    kind, start = m.group(1), m.end() - 1
    close = _closing(text, start)
    what = "MEASURE" if kind == "jain" else "METRIC"
    if close < 0:
        raise _error(where, f"unclosed parenthesis in {text!r}: expected {kind}({what}, PATH)")
    after = text[close + 1:].strip()
    if after:
        raise _error(where, f"unexpected {after!r} after {kind}(...) in {text!r}: a filter goes on the metric "
                            f"inside, e.g. {kind}({'start_latency' if kind == 'jain' else 'p99(start_latency)'}"
                            "[function=ID], event.data.tenant)")
    parts = [p.strip() for p in _split(text[start + 1:close], ",")]
    if len(parts) != 2 or not all(parts):
        raise _error(where, f"expected {kind}({what}, PATH), got {text!r}")
    first, path = parts[0], key_expression(parts[1], where, text)
    if kind == "jain":
        measure, rest = re.match(r"^([a-z0-9_]*)\s*(.*)$", first, re.S).groups()
        if measure not in MEASURES:
            raise _error(where, f"jain takes a measure, one of {', '.join(MEASURES)}, got {first!r} in {text!r}")
        return Jain(measure, path, _restriction(rest, measure, text, where))
    if _AGGREGATE.match(first):
        raise _error(where, f"{kind}() takes a metric such as p99(start_latency), not another aggregate, "
                            f"in {text!r}")
    return Extreme(kind, _simple(first, text, where), path)


def _simple(text: str, whole: str, where: str) -> Simple:
    """``BASE[FILTERS]``."""
    m = _BASE.match(text)
    base = re.sub(r"\s+", "", m.group("base")) if m else text
    if base not in BASE_METRICS:
        raise _error(where, f"unknown metric {base!r}" + (f" in {whole!r}" if whole != text else "")
                     + f"; known: {GRAMMAR}")
    stat, _, of = base.partition("(")
    return Simple(stat, of.rstrip(")"), _restriction(m.group("rest").strip(), base, whole, where))


def _restriction(rest: str, base: str, whole: str, where: str) -> Where:
    """The filters ``[...]`` after ``base`` (none when ``rest`` is empty)."""
    if not rest:
        return Where()
    if not rest.startswith("[") or _closing(rest, 0) != len(rest) - 1:
        raise _error(where, f"unexpected {rest!r} after {base} in {whole!r}: expected [FILTER, ...] "
                            "with FILTER function=ID or PATH=VALUE")
    return _filters(rest[1:-1], whole, where)


def _filters(body: str, whole: str, where: str) -> Where:
    function: str | None = None
    paths: list[tuple[str, str]] = []
    for part in _split(body, ","):
        part = part.strip()
        at = _assignment(part)
        if at is None:
            raise _error(where, f"expected function=ID or PATH=VALUE, got {part!r} in {whole!r}")
        path, value = part[:at].strip(), _unquote(part[at + 1:].strip(), whole, where)
        if path == "function":
            if function is not None:
                raise _error(where, f"function= given twice in {whole!r}")
            if not value:
                raise _error(where, f"function= needs a function id in {whole!r}")
            function = value
            continue
        path = key_expression(path, where, whole)
        if any(p == path for p, _ in paths):
            raise _error(where, f"{path} filtered twice in {whole!r}")
        paths.append((path, value))
    return Where(function, tuple(paths))


def key_expression(text: str, where: str = "metric", whole: str | None = None) -> str:
    """``text`` checked to be a key expression (CEL that compiles, reading ``event``)."""
    context = f" in {whole!r}" if whole and whole != text else ""
    if not text:
        raise _error(where, f"expected a key expression such as event.data.tenant{context}")
    try:
        compile_expr(text)
    except ExprSyntaxError as exc:
        raise _error(where, f"{text!r}{context} is not a key expression such as event.data.tenant: {exc}") from None
    if not re.search(r"\bevent\b", text):
        raise _error(where, f"{text!r}{context} is not a key expression of the event: expected a path such "
                            "as event.data.tenant or an expression reading one")
    return text


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """``(index, character, depth)`` of every character outside quotes, depth counting
    ``()``, ``[]`` and ``{}`` (the brackets themselves are at the outer depth)."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            yield i, c, depth
            depth += 1
        elif c in ")]}":
            depth -= 1
            yield i, c, depth
        else:
            yield i, c, depth
        i += 1


def _closing(text: str, start: int) -> int:
    """The index of the bracket closing the one at ``start`` (-1 if none)."""
    level = None
    for i, c, depth in _scan(text):
        if i == start:
            level = depth
        elif level is not None and c in ")]}" and depth == level:
            return i
    return -1


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at each top-level ``sep``."""
    cuts = [i for i, c, depth in _scan(text) if c == sep and depth == 0]
    bounds = [-1, *cuts, len(text)]
    return [text[a + 1:b] for a, b in zip(bounds, bounds[1:])]


def _assignment(text: str) -> int | None:
    """The index of the last top-level lone ``=`` (not in ``==``, ``!=``, ``<=``, ``>=``)."""
    found = None
    for i, c, depth in _scan(text):
        if c == "=" and depth == 0 and (i == 0 or text[i - 1] not in "=!<>") and text[i + 1:i + 2] != "=":
            found = i
    return found


def top_level_operator(text: str, operators: Sequence[str]) -> tuple[int, str] | None:
    """The last top-level occurrence of one of ``operators`` (longest first at a place),
    as (index, operator): what splits ``METRIC OP BOUND``."""
    found = None
    skip = -1
    for i, _, depth in _scan(text):
        if depth or i <= skip:
            continue
        for op in operators:
            if text.startswith(op, i):
                found, skip = (i, op), i + len(op) - 1
                break
    return found


def _quote(value: str) -> str:
    if value and not re.search(r"[\s,\[\]()=\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str, whole: str, where: str) -> str:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0]:
            raise _error(where, f"unclosed quote in {value!r} in {whole!r}")
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


# --- what a metric is computed from -----------------------------------------------------------

class Dist(Protocol):
    """A distribution of seconds."""

    count: int

    def mean(self) -> float: ...
    def percentile(self, p: int) -> float: ...


class Stats(NamedTuple):
    """What a slice of a result holds: event rows per outcome, runs, completed runs and
    the three latency distributions."""

    outcomes: Mapping[str, int]
    runs: int
    completed: int
    dists: Mapping[str, Dist]

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())

    @property
    def empty(self) -> bool:
        return not self.events and not self.runs and not self.dists["queue_wait"].count


class Source(Protocol):
    """The slices of one result: ``span`` seconds measured, ``stats(where)`` (``None`` for
    a restriction it cannot answer), ``groups(where, path)``: per value of ``path``."""

    span: float

    def stats(self, where: Where) -> Stats: ...
    def groups(self, where: Where, path: str) -> dict[str, Stats]: ...


class ArrayDist:
    """A distribution held as its values: numpy's mean and linear percentiles (the tables')."""

    __slots__ = ("values", "count")

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.count = int(values.size)

    def mean(self) -> float:
        return float(self.values.mean()) if self.count else math.nan

    def percentile(self, p: int) -> float:
        return float(np.percentile(self.values, p)) if self.count else math.nan


class SummaryDist:
    """A distribution of a summary (``count``, ``mean``, ``p50``...)."""

    __slots__ = ("d", "count")

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.d = d
        self.count = int(d.get("count") or 0)

    def mean(self) -> float:
        return math.nan if self.d.get("mean") is None else float(self.d["mean"])

    def percentile(self, p: int) -> float:
        v = self.d.get(f"p{p}")
        return math.nan if v is None else float(v)


class SummarySource:
    """Metrics without a ``PATH``, from a summary (``Result.summary()``): the whole
    result, or one function's section."""

    def __init__(self, summary: Mapping[str, Any]) -> None:
        self.summary = summary
        self.span = max(float(summary["horizon"]) - float(summary.get("warmup") or 0.0), 0.0)

    def stats(self, where: Where) -> Stats:
        if where.paths:
            raise NotCaptured(where.paths[0][0])
        part = self.summary if where.function is None else self.summary["functions"][where.function]
        runs = part["runs"]
        return Stats({str(k): int(v) for k, v in part["outcomes"].items()}, sum(int(v) for v in runs.values()),
                     int(runs.get("completed", 0)), {lat: SummaryDist(part[lat]) for lat in LATENCIES})

    def groups(self, where: Where, path: str) -> dict[str, Stats]:
        raise NotCaptured(path)


class NotCaptured(LookupError):
    """A metric reads a key expression whose values were not captured while simulating."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(path)


# --- evaluation ---------------------------------------------------------------------------------

class Evaluation(NamedTuple):
    """A metric's value, and whether its slice matched anything (``False``: NaN, empty)."""

    value: float
    matched: bool


def evaluate(metric: Metric, source: Source) -> Evaluation:
    """The value of ``metric`` on ``source``."""
    if isinstance(metric, Simple):
        stats = source.stats(metric.where)
        if metric.where and stats.empty:
            return Evaluation(math.nan, False)
        return Evaluation(_simple_value(metric, stats, source.span), True)
    groups = source.groups(metric.where, metric.path)
    if isinstance(metric, Extreme):
        values = [v for v in (_simple_value(metric.inner, s, source.span) for s in groups.values())
                  if not math.isnan(v)]
        if not values:
            return Evaluation(math.nan, bool(groups))
        largest = (metric.kind == "worst") == (metric.better <= 0)
        return Evaluation(max(values) if largest else min(values), True)
    if metric.measure == "throughput":
        xs = [s.completed / source.span if source.span else 0.0 for s in groups.values()]
    else:
        xs = [s.dists[metric.measure].mean() for s in groups.values()]
    return Evaluation(jain(xs), bool(groups))


def _simple_value(metric: Simple, stats: Stats, span: float) -> float:
    stat, of = metric.stat, metric.of
    if stat == "events":
        return float(stats.events)
    if stat == "count":
        return float(stats.outcomes.get(of, 0))
    if stat == "rate":
        events = stats.events
        return stats.outcomes.get(of, 0) / events if events else math.nan
    if stat == "throughput":
        return stats.completed / span if span else 0.0
    dist = stats.dists[of]
    return dist.mean() if stat == "mean" else dist.percentile(int(stat[1:]))


def jain(values: Iterable[float]) -> float:
    """Jain's index of the non-NaN ``values``: 1 when all are equal (all zero too), NaN
    when there are none."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size == 0:
        return math.nan
    if not np.any(x):
        return 1.0
    return float(x.sum() ** 2 / (x.size * np.square(x).sum()))


def value(result: "Result", metric: str | Metric) -> float:
    """``metric`` on ``result`` (:meth:`flowsim.Result.metric`): NaN with a
    :class:`MetricWarning` when its filter matches nothing."""
    m = parse(metric)
    known = [f.id for f in result.scenario.functions]
    if m.where.function is not None and m.where.function not in known:
        raise ScenarioError(f"unknown function id {m.where.function!r} in {m.text}; functions: {', '.join(known)}",
                            field="metric")
    try:
        if not paths_of(m):
            out = evaluate(m, SummarySource(result.summary()))
        elif result._slices is None:
            raise NotCaptured(paths_of(m)[0])
        else:
            out = evaluate(m, result._slices.source(result))
    except NotCaptured as exc:
        how = "the metrics of the analysis" if result.summary_only else "any metric over that expression"
        raise ScenarioError(f"{m.text} reads {exc.path}, whose values were not captured: simulate with "
                            f"flowsim.simulate(..., metrics=[{m.text!r}]) (it captures {how})",
                            field="metric") from None
    if not out.matched:
        warnings.warn(MetricWarning(f"{m.text} matched no event row, run or step: its value is empty (NaN)"),
                      stacklevel=3)
    return out.value


# --- checking against a scenario's traffic -------------------------------------------------------

@dataclass
class Sample:
    """The first :data:`SAMPLE` events of each traffic source of a scenario, with the
    functions each triggers."""

    events: list[tuple[Any, tuple[str, ...]]]

    @classmethod
    def of(cls, scenario: "Scenario") -> "Sample":
        """The sample of ``scenario``, drawn once per scenario object (the last few kept)."""
        kept = _SAMPLES.pop(id(scenario), None)
        if kept is None or kept[0]() is not scenario:
            kept = (weakref.ref(scenario), cls._draw(scenario))
        _SAMPLES[id(scenario)] = kept
        while len(_SAMPLES) > 16:
            del _SAMPLES[next(iter(_SAMPLES))]
        return kept[1]

    @classmethod
    def _draw(cls, scenario: "Scenario") -> "Sample":
        from itertools import islice

        from flowsim.streams import Streams
        streams = Streams(scenario.seed)
        triggered: dict[str, tuple[str, ...]] = {}
        out = []
        for source in scenario.traffic:
            for event in islice(source.events(streams, scenario.horizon), SAMPLE):
                fns = triggered.get(event.name)
                if fns is None:
                    fns = triggered[event.name] = tuple(
                        f.id for f in scenario.functions
                        if any(t.event == event.name if t.pattern is None else t.pattern.match(event.name)
                               for t in f.triggers))
                if fns:
                    out.append((event, fns))
        return cls(out)

    def fields(self) -> list[str]:
        """The field paths the sampled events have (``event.data.tenant``...), sorted."""
        seen: set[str] = set()
        for event, _ in self.events:
            _flatten(event.as_cel(), "event", seen)
        return sorted(seen)


_SAMPLES: dict[int, tuple["weakref.ref[Scenario]", Sample]] = {}


def _flatten(value: Any, prefix: str, into: set[str], depth: int = 0) -> None:
    if isinstance(value, dict) and value and depth < 4:
        for k, v in value.items():
            if isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                _flatten(v, f"{prefix}.{k}", into, depth + 1)
    elif depth:
        into.add(prefix)


def check(metrics: Iterable[str | Metric], scenarios: Sequence["Scenario"], where: str = "metric") -> dict[str, list[str]]:
    """Refuse, before anything runs, a metric naming a function none of ``scenarios`` has,
    or reading a key expression that no sampled event of their traffic (the first
    :data:`SAMPLE` of each source, of the functions concerned) gives another value than
    an event without fields would. Return the values each key expression took in the
    sample (sorted), for messages about filters that match nothing."""
    samples = [Sample.of(s) for s in scenarios]
    seen: dict[str, list[str]] = {}
    empty = {"event": {}}
    for text in metrics:
        m = parse(text, where)
        functions = sorted({f.id for s in scenarios for f in s.functions})
        fn = m.where.function
        if fn is not None and fn not in functions:
            raise _error(where, f"unknown function id {fn!r} in {m.text}; functions: {', '.join(functions)}")
        for path in paths_of(m):
            if path in seen:
                continue
            expr = compile_expr(path)
            missing = _key(expr, empty)
            values: set[str] = set()
            for sample in samples:
                for event, fns in sample.events:
                    if fn is None or fn in fns:
                        values.add(key_value(expr, event))
            if not values - {missing}:
                sample_fields = sorted({f for sample in samples for f in sample.fields()})
                close = difflib.get_close_matches(path, sample_fields, n=1)
                hint = f"; did you mean {close[0]}?" if close else "."
                of = f" of function {fn}" if fn is not None else ""
                raise _error(where, f"{path} in {m.text} reads nothing the traffic's events{of} have: on every "
                                    f"sampled event it gives {missing!r}, as for an event without that field"
                                    f"{hint} Fields the events have: {', '.join(sample_fields[:20]) or 'none'}")
            seen[path] = sorted(values)
    return seen


def _key(expr: Expr, activation: Mapping[str, Any]) -> str:
    try:
        return key_string(expr.evaluate(activation))
    except ExprEvalError:
        return "<nil>"
