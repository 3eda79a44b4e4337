"""Arrival processes: when a traffic source's events reach the platform.

Each process yields increasing times in ``[start, end)`` lazily, a list at a time,
drawing ``CHUNK`` values at a time with numpy, so a day of traffic at thousands of
events per second never sits in memory, and a consumer iterates plain lists rather
than resuming a generator per time. Forms (rates as ``Node.rate`` reads them, durations as
``Node.duration`` does, times measured from the start of the simulation):

- ``{poisson: {rate: 20/s}}``: exponential gaps; a rate of 0 gives no events;
- ``{constant: {rate: 1/m}}`` or ``{constant: {every: 30s, offset: 0s}}``: one event
  every interval, the first at ``start + offset`` (``offset`` defaults to 0, so the
  first event is at the window's start);
- ``{bursts: {every: 5m, size: 200, spread: 10s, offset: 0s, base: 1/s}}``: ``size``
  events placed uniformly at random in ``[b, b + spread)`` for each burst start
  ``b = start + offset + j·every``, on top of an optional Poisson ``base`` rate.
  ``spread`` (default 0: all at once) must not exceed ``every``, so bursts never overlap;
- ``{diurnal: {mean: 20/s, amplitude: 0.5, period: 24h, peak: 14h}}``: Poisson with
  rate ``mean·(1 + amplitude·cos(2π(t − peak)/period))`` by thinning; ``period``
  defaults to 24h and ``peak`` to 0; ``t`` is simulation time, so ``peak: 14h`` is
  14:00 when the simulation starts at midnight.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from itertools import chain, islice
from typing import Iterator, NamedTuple, Protocol

import numpy as np

from flowsim.distributions import parse_form
from flowsim.scenario.source import Node

#: How many random values a process draws at once.
CHUNK = 4096


class Expected(NamedTuple):
    """How many events a source makes: ``count``, exactly (``exact``: every seed gives it)
    or as an expectation over seeds."""

    count: float
    exact: bool


class ArrivalProcess(Protocol):
    """A point process of arrival times."""

    @property
    def rate(self) -> float:
        """The long-run mean number of events per second."""
        ...

    def expected(self, start: float, end: float) -> Expected:
        """The expected number of arrivals in ``[start, end)``, from the closed form (no draws)."""
        ...

    def blocks(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        """Increasing arrival times in ``[start, end)``, generated lazily from ``rng``, in
        consecutive lists of any length (possibly empty)."""
        ...


def _poisson(rng: np.random.Generator, rate: float, start: float, end: float) -> Iterator[list[float]]:
    """Poisson times in lists of ``CHUNK``, the last one shorter."""
    if rate <= 0:
        return
    t = start
    while t < end:
        chunk = t + np.cumsum(rng.exponential(1.0 / rate, CHUNK))
        yield chunk[chunk < end].tolist()
        t = chunk[-1]


def _sorted_uniforms(rng: np.random.Generator, n: int, low: float, width: float) -> Iterator[np.ndarray]:
    """``n`` sorted uniforms on ``[low, low + width)``, a chunk at a time.

    Sequential order statistics: given the ``i`` smallest, the remaining ``m`` points
    are uniform on the rest of the interval, so the fraction of it left above the next
    one is ``V^(1/m)`` with ``V`` uniform, i.e. its log is ``−E/m`` with ``E``
    exponential. Cumulative sums of those logs give the points in order.
    """
    log_left = 0.0
    remaining = n
    while remaining > 0:
        k = min(CHUNK, remaining)
        logs = log_left - np.cumsum(rng.standard_exponential(k) / np.arange(remaining, remaining - k, -1))
        yield low - width * np.expm1(logs)
        log_left = float(logs[-1])
        remaining -= k


@dataclass(frozen=True)
class Poisson:
    rate: float

    def blocks(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        return _poisson(rng, self.rate, start, end)

    def expected(self, start: float, end: float) -> Expected:
        return Expected(self.rate * max(end - start, 0.0), self.rate <= 0 or end <= start)


@dataclass(frozen=True)
class Constant:
    interval: float
    offset: float = 0.0

    @property
    def rate(self) -> float:
        return 1.0 / self.interval

    def blocks(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        first = start + self.offset
        k = 0
        while True:
            chunk = first + self.interval * np.arange(k, k + CHUNK)
            yield chunk[chunk < end].tolist()
            if chunk[-1] >= end:
                return
            k += CHUNK

    def expected(self, start: float, end: float) -> Expected:
        """The number of ``k >= 0`` with ``start + offset + k·interval < end``, in the same
        floating-point arithmetic as :meth:`blocks` (so the count is the one it yields)."""
        first = start + self.offset
        if first >= end:
            return Expected(0, True)
        k = math.ceil((end - first) / self.interval)
        for _ in range(2):      # the division's rounding is at most one off (beyond 2^53, moot)
            if k > 0 and first + self.interval * (k - 1) >= end:
                k -= 1
            elif first + self.interval * k < end:
                k += 1
        return Expected(k, True)


@dataclass(frozen=True)
class Bursts:
    every: float
    size: int
    spread: float = 0.0
    offset: float = 0.0
    base: float = 0.0

    @property
    def rate(self) -> float:
        return self.base + self.size / self.every

    def blocks(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        # Two child streams, so the base traffic and the bursts do not move each other's dice.
        base_rng, burst_rng = rng.spawn(2)
        bursts = self._bursts(burst_rng, start, end)
        if self.base <= 0:
            return bursts
        # Stable: a base time equal to a burst time comes first.
        times = heapq.merge(chain.from_iterable(_poisson(base_rng, self.base, start, end)),
                            chain.from_iterable(bursts))
        return iter(lambda: list(islice(times, CHUNK)), [])

    def expected(self, start: float, end: float) -> Expected:
        """Every burst that starts before ``end`` brings ``size`` events, the last one only
        the share of its spread before ``end`` (bursts never overlap, so only the last one
        can be cut); plus the base rate over the window."""
        first = start + self.offset
        base = Poisson(self.base).expected(start, end)
        if first >= end:
            return base
        bursts = Constant(self.every, self.offset).expected(start, end).count
        last = first + self.every * (bursts - 1)
        cut = self.spread > 0 and last + self.spread > end
        count = (bursts - 1) * self.size + self.size * (min(1.0, (end - last) / self.spread) if cut else 1)
        return Expected(count + base.count, base.exact and not cut)

    def _bursts(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        j = 0
        while (b := start + self.offset + j * self.every) < end:
            for chunk in _sorted_uniforms(rng, self.size, b, self.spread):
                over = np.flatnonzero(chunk >= end)
                if over.size:                    # the window ends here: up to the first time past it
                    yield chunk[:over[0]].tolist()
                    return
                yield chunk.tolist()
            j += 1


@dataclass(frozen=True)
class Diurnal:
    mean: float
    amplitude: float
    period: float = 86400.0
    peak: float = 0.0

    @property
    def rate(self) -> float:
        return self.mean

    def blocks(self, rng: np.random.Generator, start: float, end: float) -> Iterator[list[float]]:
        top = self.mean * (1 + self.amplitude)
        if top <= 0:
            return
        t = start
        while t < end:
            candidates = t + np.cumsum(rng.exponential(1.0 / top, CHUNK))
            rate = self.mean * (1 + self.amplitude * np.cos(2 * math.pi * (candidates - self.peak) / self.period))
            keep = (rng.random(CHUNK) * top < rate) & (candidates < end)
            yield candidates[keep].tolist()
            t = candidates[-1]

    def expected(self, start: float, end: float) -> Expected:
        """The integral of the rate over ``[start, end)``."""
        if end <= start or self.mean * (1 + self.amplitude) <= 0:
            return Expected(0, True)
        w = 2 * math.pi / self.period
        wave = (math.sin(w * (end - self.peak)) - math.sin(w * (start - self.peak))) / w
        return Expected(self.mean * ((end - start) + self.amplitude * wave), False)


def _duration(spec: Node, key: str, default: float) -> float:
    child = spec.get(key)
    return child.duration() if child is not None else default


def _positive(node: Node, value: float, what: str) -> float:
    if value <= 0:
        raise node.error(f"{what} must be positive")
    return value


_FORMS = ("poisson", "constant", "bursts", "diurnal")


def parse_arrivals(node: Node) -> ArrivalProcess:
    """An arrival process: ``{poisson: ...}``, ``{constant: ...}``, ``{bursts: ...}`` or ``{diurnal: ...}``."""
    form, spec = parse_form(node, _FORMS)
    if form == "poisson":
        spec.mapping(["rate"], required=["rate"])
        return Poisson(spec.child("rate").rate())
    if form == "constant":
        value = spec.mapping(["rate", "every", "offset"])
        if ("rate" in value) == ("every" in value):
            raise spec.error("give exactly one of rate and every")
        if "rate" in value:
            interval = 1.0 / _positive(spec.child("rate"), spec.child("rate").rate(), "rate")
        else:
            interval = _positive(spec.child("every"), spec.child("every").duration(), "every")
        return Constant(interval, _duration(spec, "offset", 0.0))
    if form == "bursts":
        spec.mapping(["base", "every", "size", "spread", "offset"], required=["every", "size"])
        every = _positive(spec.child("every"), spec.child("every").duration(), "every")
        spread = _duration(spec, "spread", 0.0)
        if spread > every:
            raise spec.child("spread").error("spread must not exceed every (bursts would overlap)")
        base = spec.get("base")
        return Bursts(every, spec.child("size").int(minimum=1), spread, _duration(spec, "offset", 0.0),
                      base.rate() if base is not None else 0.0)
    spec.mapping(["mean", "amplitude", "period", "peak"], required=["mean", "amplitude"])
    period = _positive(spec.child("period"), _duration(spec, "period", 86400.0), "period")
    return Diurnal(spec.child("mean").rate(), spec.child("amplitude").number(0, 1), period,
                   _duration(spec, "peak", 0.0))
