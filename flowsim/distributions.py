"""Step duration distributions, parsed from the scenario and sampled in blocks.

Every distribution knows its exact ``mean`` (closed-form checks such as M/M/c need it)
and draws ``n`` durations at once from a generator it is handed, so all randomness
comes from the world's named streams. Forms, each a duration as ``Node.duration``
reads it (``200ms``, ``1.5s``, a number of seconds):

- ``200ms`` or ``{constant: 200ms}``: always that duration;
- ``{exponential: {mean: 1s}}``;
- ``{uniform: {min: 1s, max: 3s}}``;
- ``{lognormal: {median: 800ms, p99: 5s}}`` (``sigma = ln(p99/median) / z_0.99``) or
  ``{lognormal: {mean: 1s, sigma: 0.5}}`` (``mean`` of the distribution, ``sigma`` of
  its logarithm);
- ``{empirical: [200ms, 1s, 3s]}`` (each value equally likely) or
  ``{empirical: {values: [200ms, 1s], weights: [3, 1]}}``.

``parse_distribution(node, signed=True)`` reads offsets rather than durations: the
values of ``constant``, ``uniform`` and ``empirical`` may then be negative (``-1s``).
The helpers for weighted choice and single-key forms are shared with ``traffic``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from flowsim.scenario.source import Node
from flowsim.units import format_duration, parse_duration

#: The 0.99 quantile of the standard normal distribution (``scipy.stats.norm.ppf(0.99)``).
Z_99 = 2.3263478740408408


class Distribution(Protocol):
    """Durations in seconds (non-negative, except offsets parsed with ``signed=True``)."""

    @property
    def mean(self) -> float:
        """The exact mean, in seconds."""
        ...

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` durations (float seconds) drawn from ``rng``."""
        ...

    def describe(self) -> str:
        """A short human form for reports, e.g. ``exponential(mean=1s)``."""
        ...


@dataclass(frozen=True)
class Constant:
    value: float

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def describe(self) -> str:
        return _fmt(self.value)


@dataclass(frozen=True)
class Exponential:
    mean: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)

    def describe(self) -> str:
        return f"exponential(mean={_fmt(self.mean)})"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def describe(self) -> str:
        return f"uniform({_fmt(self.low)}, {_fmt(self.high)})"


@dataclass(frozen=True)
class LogNormal:
    """``exp(N(mu, sigma²))``: median ``e^mu``, mean ``e^(mu + sigma²/2)``."""

    mu: float
    sigma: float

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma ** 2 / 2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, n)

    def describe(self) -> str:
        median = math.exp(self.mu)
        return f"lognormal(median={_fmt(median)}, p99={_fmt(median * math.exp(Z_99 * self.sigma))})"


@dataclass(frozen=True, eq=False)
class Empirical:
    values: np.ndarray
    cdf: np.ndarray

    @property
    def mean(self) -> float:
        probs = np.diff(self.cdf, prepend=0.0)
        return float(np.dot(probs, self.values))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values[sample_categorical(rng, self.cdf, n)]

    def describe(self) -> str:
        return f"empirical({len(self.values)} values, mean={_fmt(self.mean)})"


def _fmt(seconds: float) -> str:
    return format_duration(seconds) if seconds >= 0 else "-" + format_duration(-seconds)


def categorical_cdf(weights: Sequence[float]) -> np.ndarray:
    """The normalised cumulative weights, ending at exactly 1 (for :func:`sample_categorical`)."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def sample_categorical(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the probabilities of ``cdf``, by inverse CDF on uniforms.

    ``side="right"`` puts a uniform equal to a boundary in the next interval, so an
    index of weight zero is never drawn.
    """
    return np.searchsorted(cdf, rng.random(n), side="right")


def parse_form(node: Node, forms: Sequence[str]) -> tuple[str, Node]:
    """Read a single-key mapping ``{form: spec}`` whose key is one of ``forms``."""
    value = node.mapping(forms)
    if len(value) != 1:
        given = ", ".join(map(str, value)) or "none"
        raise node.error(f"expected exactly one of {', '.join(forms)}; got {given}")
    key = next(iter(value))
    return key, node.child(key)


def parse_weights(items: list[Node], where: Node) -> np.ndarray:
    """Non-negative weights with a positive sum (``where`` holds them all), as a CDF."""
    weights = [item.number(minimum=0) for item in items]
    if sum(weights) <= 0:
        raise where.error("weights must not all be zero")
    return categorical_cdf(weights)


def signed_duration(node: Node) -> float:
    """A duration that may be negative (``-1s``, ``-0.5``), e.g. an event's clock skew."""
    def parse(value: object) -> float:
        if isinstance(value, str) and value.strip().startswith("-"):
            return -parse_duration(value.strip()[1:])
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return -parse_duration(-value)
        return parse_duration(value)
    return node.convert(parse)


_FORMS = ("constant", "exponential", "uniform", "lognormal", "empirical")


def parse_distribution(node: Node, signed: bool = False) -> Distribution:
    """A duration distribution: a bare duration (constant) or one of the mapping forms.

    With ``signed`` the values of ``constant``, ``uniform`` and ``empirical`` may be
    negative (offsets rather than durations); the other forms stay non-negative.
    """
    read: Callable[[Node], float] = signed_duration if signed else Node.duration
    if not isinstance(node.value, dict):
        if isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool):
            return Constant(read(node))
        raise node.error(f"expected a duration or a mapping with one of {', '.join(_FORMS)}")
    form, spec = parse_form(node, _FORMS)
    if form == "constant":
        return Constant(read(spec))
    if form == "exponential":
        spec.mapping(["mean"], required=["mean"])
        return Exponential(spec.child("mean").duration())
    if form == "uniform":
        spec.mapping(["min", "max"], required=["min", "max"])
        low = read(spec.child("min"))
        high = read(spec.child("max"))
        if high < low:
            raise spec.child("max").error(f"max ({_fmt(high)}) must not be below min ({_fmt(low)})")
        return Uniform(low, high)
    if form == "lognormal":
        return _parse_lognormal(spec)
    return _parse_empirical(spec, read)


def _parse_lognormal(spec: Node) -> LogNormal:
    value = spec.mapping(["median", "p99", "mean", "sigma"])
    if "median" in value or "p99" in value:
        if "mean" in value or "sigma" in value:
            raise spec.error("give either median and p99, or mean and sigma")
        spec.mapping(required=["median", "p99"])
        median = spec.child("median").duration()
        p99 = spec.child("p99").duration()
        if median <= 0:
            raise spec.child("median").error("median must be positive")
        if p99 <= median:
            raise spec.child("p99").error(f"p99 ({_fmt(p99)}) must be above the median ({_fmt(median)})")
        return LogNormal(math.log(median), math.log(p99 / median) / Z_99)
    spec.mapping(required=["mean", "sigma"])
    mean = spec.child("mean").duration()
    if mean <= 0:
        raise spec.child("mean").error("mean must be positive")
    sigma = spec.child("sigma").number(minimum=0)
    return LogNormal(math.log(mean) - sigma ** 2 / 2, sigma)


def _parse_empirical(spec: Node, read: Callable[[Node], float]) -> Empirical:
    if isinstance(spec.value, list):
        values_node, weights_node = spec, None
    else:
        spec.mapping(["values", "weights"], required=["values"])
        values_node, weights_node = spec.child("values"), spec.get("weights")
    if not values_node.list():
        raise values_node.error("expected at least one value")
    values = np.array([read(item) for item in values_node.elements()])
    if weights_node is None:
        return Empirical(values, categorical_cdf(np.ones(len(values))))
    if len(weights_node.list()) != len(values):
        raise weights_node.error(f"expected {len(values)} weights (one per value), got {len(weights_node.value)}")
    return Empirical(values, parse_weights(weights_node.elements(), weights_node))
