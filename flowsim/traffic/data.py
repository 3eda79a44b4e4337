"""Event data generators: the ``data:`` mapping of a generated traffic source.

Each field of ``data:`` is either a constant or a generator that draws ``n`` plain
Python values at once (one per event of a block of arrivals) from the field's own
stream. A field is:

- a scalar, a list, or a mapping without a generator key: that value, for every event
  (``{constant: value}`` says the same and escapes a mapping that has a generator key);
- ``{zipf: {n: 5000, s: 1.2}}``: ranks ``1..n`` with ``P(k) ∝ k^-s`` (``s`` defaults to 1);
- ``{uniform_int: {min: 1, max: 10}}``: integers, both ends included;
- ``{uniform: {min: 0, max: 1}}``: floats;
- ``{normal: {mean: 0, sd: 1}}``: floats;
- ``{choice: {vip: 0.1, free: 0.9}}``: the keys, with those weights (YAML ``true:`` /
  ``false:`` / numeric keys stay bools / numbers); ``{choice: [a, b, c]}``: equally likely;
- ``{sequence: {start: 1, format: "doc-{}"}}``: ``start``, ``start + 1``, ... by the
  event's index within its source (``start`` defaults to 1);
- a mapping whose values include generators, e.g. ``customer: {tier: {choice: [a, b]}}``:
  a nested object; its generators share the stream of the top-level field and draw in
  the order they are written.

Any generator may carry ``format: "user-{}"``, applied with ``str.format`` to each value;
it is tried at load on the generator's possible values (its bounds, every choice), so a
format that does not fit them (``{:d}`` for floats or strings) is an error there.

Limits, checked at load: ``zipf`` ``n`` is at most ``MAX_ZIPF_N`` (10,000,000: its
probabilities are a table in memory, 8 bytes a rank); ``uniform_int`` bounds are 64-bit
integers (numpy draws them); ``uniform``'s ``max - min`` must be a finite float.
"""
from __future__ import annotations

import copy
import math
import string
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from flowsim.distributions import categorical_cdf, parse_weights, sample_categorical
from flowsim.errors import ScenarioError
from flowsim.scenario.source import Node

#: The largest ``zipf`` ``n``: its cumulative probabilities are held in memory (8 bytes a rank,
#: about 80 MB here, three times that while built).
MAX_ZIPF_N = 10_000_000
#: The bounds numpy draws ``uniform_int`` from (64-bit integers).
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
#: What ``str.format`` raises for a format that does not fit its value.
FORMAT_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError)


class FieldGenerator(Protocol):
    """Draws the values of one field for a block of events."""

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        """``n`` plain Python values for the events ``first .. first + n - 1`` of a source."""
        ...


_CONTAINERS = (dict, list)


def _fresh(value: Any) -> Any:
    """A value no two events share: containers are copied, scalars are immutable."""
    return copy.deepcopy(value) if isinstance(value, _CONTAINERS) else value


def records(names: list[str]) -> Callable[..., list[dict[str, Any]]]:
    """``build(column_0, column_1, ...)``: the dicts ``{names[0]: column_0[i], names[1]: column_1[i], ...}``.

    Compiled for ``names`` (one or more; they are bound as values, never written into the
    code) into a list comprehension over a dict display, which costs a third of a dict
    comprehension per row: building the events' ``data`` is the per-event cost of data fields.
    """
    columns = ", ".join(f"c{i}" for i in range(len(names)))
    values = ", ".join(f"v{i}" for i in range(len(names)))
    items = ", ".join(f"k{i}: v{i}" for i in range(len(names)))
    scope = {f"k{i}": name for i, name in enumerate(names)}
    return eval(f"lambda {columns}: [{{{items}}} for {values}, in zip({columns})]", scope)


class Constant:
    def __init__(self, value: Any) -> None:
        self.value = value

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        if isinstance(self.value, _CONTAINERS):
            return [copy.deepcopy(self.value) for _ in range(n)]
        return [self.value] * n


class Zipf:
    def __init__(self, n: int, s: float) -> None:
        self.n = n
        self.cdf = categorical_cdf(np.arange(1, n + 1, dtype=float) ** -s)

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return (sample_categorical(rng, self.cdf, n) + 1).tolist()


class UniformInt:
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return rng.integers(self.low, self.high, n, endpoint=True).tolist()


class UniformFloat:
    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return rng.uniform(self.low, self.high, n).tolist()


class Normal:
    def __init__(self, mean: float, sd: float) -> None:
        self.mean, self.sd = mean, sd

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return rng.normal(self.mean, self.sd, n).tolist()


class Choice:
    def __init__(self, values: list[Any], cdf: np.ndarray) -> None:
        self.values, self.cdf = values, cdf
        self.containers = any(isinstance(v, _CONTAINERS) for v in values)

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        picks = sample_categorical(rng, self.cdf, n).tolist()
        if self.containers:
            return [_fresh(self.values[i]) for i in picks]
        return list(map(self.values.__getitem__, picks))


class Sequence:
    def __init__(self, start: int) -> None:
        self.start = start

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return list(range(self.start + first, self.start + first + n))


class Formatted:
    """``inner``'s values through ``fmt``; ``node`` (the ``format`` field) locates an error.

    The format is checked at load on the values ``inner`` can take; one it still cannot
    format (an unbounded ``sequence`` outgrowing ``{:c}``...) is an error at ``node``.
    """

    def __init__(self, inner: FieldGenerator, fmt: str, node: Node | None = None) -> None:
        self.inner, self.fmt, self.node = inner, fmt, node

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        values = self.inner.sample(rng, n, first)
        try:
            return list(map(self.fmt.format, values))
        except FORMAT_ERRORS:
            bad = [v for v in values if not _formats(self.fmt, v)]
            message = _format_problem(self.fmt, bad[0]) if bad else f"invalid format {self.fmt!r}"
            if self.node is None:
                raise ScenarioError(message) from None
            raise self.node.error(message) from None


class Nested:
    def __init__(self, fields: dict[str, FieldGenerator]) -> None:
        self.fields = fields
        self.build = records(list(fields))

    def sample(self, rng: np.random.Generator, n: int, first: int = 0) -> list[Any]:
        return self.build(*[gen.sample(rng, n, first) for gen in self.fields.values()])


_GENERATORS = ("constant", "zipf", "uniform_int", "uniform", "normal", "choice", "sequence")


def parse_data(node: Node) -> dict[str, FieldGenerator]:
    """The ``data:`` mapping of a traffic source: field name → generator."""
    return {key: _parse_field(child) for key, child in _fields(node)}


def _fields(node: Node) -> Iterator[tuple[str, Node]]:
    for key, child in node.items():
        if not isinstance(key, str) or not key:
            raise child.error(f"field names must be non-empty strings, got {key!r}")
        yield key, child


def _parse_field(node: Node) -> FieldGenerator:
    """One field: a constant, a generator mapping, or a nested mapping of fields."""
    value = node.value
    if not isinstance(value, dict):
        return Constant(value)
    kinds = [kind for kind in _GENERATORS if kind in value]
    if not kinds:
        fields = {key: _parse_field(child) for key, child in _fields(node)}
        constants = {key: gen.value for key, gen in fields.items() if isinstance(gen, Constant)}
        return Constant(constants) if len(constants) == len(fields) else Nested(fields)
    if len(kinds) > 1:
        raise node.error(f"expected one generator, got {', '.join(kinds)}")
    kind = kinds[0]
    node.mapping([kind, "format"])
    spec = node.child(kind)
    fmt = node.get("format")
    if kind == "sequence" and spec.get("format") is not None:
        if fmt is not None:
            raise fmt.error("format is given twice (here and inside sequence)")
        fmt = spec.get("format")
    gen = _parse_generator(kind, spec)
    return Formatted(gen, _format(fmt, _examples(gen)), fmt) if fmt is not None else gen


def _formats(fmt: str, value: Any) -> bool:
    try:
        fmt.format(value)
    except FORMAT_ERRORS:
        return False
    return True


def _format_problem(fmt: str, value: Any) -> str:
    """Why ``fmt`` cannot format ``value``, and what to write instead."""
    try:
        list(string.Formatter().parse(fmt))
    except ValueError as exc:
        return f"invalid format {fmt!r} ({exc}); write {{}} where the value goes"
    try:
        fmt.format(value)
    except FORMAT_ERRORS as exc:
        return (f"invalid format {fmt!r} for a value such as {value!r} ({type(value).__name__}): "
                f"{type(exc).__name__}: {exc}; write {{}} where the value goes")
    raise AssertionError("the format works")


def _format(node: Node, examples: list[Any]) -> str:
    """The format at ``node``, tried on ``examples``: values of the generator's type and range."""
    fmt = node.str()
    for value in examples:
        if not _formats(fmt, value):
            raise node.error(_format_problem(fmt, value))
    return fmt


def _examples(gen: FieldGenerator) -> list[Any]:
    """Values ``gen`` can produce, of each type it produces: its bounds, or every choice."""
    if isinstance(gen, Constant):
        return [gen.value]
    if isinstance(gen, Zipf):
        return [1, gen.n]
    if isinstance(gen, (UniformInt, UniformFloat)):
        return [gen.low, gen.high]
    if isinstance(gen, Normal):
        return [gen.mean]
    if isinstance(gen, Choice):
        return list(gen.values)
    if isinstance(gen, Sequence):
        return [gen.start]
    return [0]


def _bounds(spec: Node, read: Callable[[Node], Any]) -> tuple[Any, Any]:
    spec.mapping(["min", "max"], required=["min", "max"])
    low = read(spec.child("min"))
    high = read(spec.child("max"))
    if high < low:
        raise spec.child("max").error(f"max ({high}) must not be below min ({low})")
    return low, high


def _int64(node: Node) -> int:
    """An integer that numpy can draw (64-bit)."""
    value = node.int()
    if not INT64_MIN <= value <= INT64_MAX:
        shown = str(value) if len(str(value)) <= 30 else f"an integer of {len(str(abs(value)))} digits"
        raise node.error(f"expected an integer from {INT64_MIN:,} to {INT64_MAX:,} (64-bit), got {shown}")
    return value


def _parse_generator(kind: str, spec: Node) -> FieldGenerator:
    if kind == "constant":
        return Constant(spec.value)
    if kind == "zipf":
        spec.mapping(["n", "s"], required=["n"])
        s = spec.get("s")
        n = spec.child("n").int(minimum=1)
        if n > MAX_ZIPF_N:
            raise spec.child("n").error(f"zipf n must be at most {MAX_ZIPF_N:,} (its probabilities are a table "
                                        f"in memory, 8 bytes a rank), got {n:,}")
        return Zipf(n, s.number(minimum=0) if s is not None else 1.0)
    if kind == "uniform_int":
        low, high = _bounds(spec, _int64)
        return UniformInt(low, high)
    if kind == "uniform":
        low, high = _bounds(spec, Node.number)
        if not math.isfinite(high - low):
            raise spec.child("max").error(f"max - min must be a finite number, got {high:g} - {low:g}")
        return UniformFloat(low, high)
    if kind == "normal":
        spec.mapping(["mean", "sd"], required=["mean", "sd"])
        return Normal(spec.child("mean").number(), spec.child("sd").number(minimum=0))
    if kind == "choice":
        return _parse_choice(spec)
    if spec.value is not None:
        spec.mapping(["start", "format"])
    start = spec.get("start")
    return Sequence(start.int() if start is not None else 1)


def _parse_choice(spec: Node) -> Choice:
    if isinstance(spec.value, list):
        if not spec.value:
            raise spec.error("expected at least one value to choose from")
        return Choice(list(spec.value), categorical_cdf(np.ones(len(spec.value))))
    options = spec.mapping()
    if not options:
        raise spec.error("expected at least one value to choose from")
    return Choice(list(options), parse_weights([child for _, child in spec.items()], spec))
