"""Rate-limit algorithms of other platforms, each dropping or delaying, per key.

Configuration::

    policies:
      - policy: rate_limit
        algorithm: fixed_window      # fixed_window | sliding_window | token_bucket | gcra
        limit: 10
        period: 1m
        key: event.data.user         # optional CEL; one bucket without it
        mode: drop                   # drop (default) | delay
        burst: 20                    # token_bucket: bucket size (default limit);
                                     # gcra: extra units (default floor(limit/10), Inngest's rateLimit)
        align: clock                 # fixed_window: clock (default) | first

Algorithms (``limit`` units per ``period`` seconds):

* ``fixed_window`` — a counter per window: **Sidekiq Enterprise** ``Sidekiq::Limiter.bucket``
  (windows aligned to the clock: ``align: clock``, window ``floor(t / period)``),
  **BullMQ** queue ``limiter: {max, duration}`` (a counter whose expiry is set by the first
  job of a window: ``align: first``), **Hatchet** rate limits (units replenished per
  fixed ``duration``). At most ``limit`` per window, so up to ``2 × limit`` within a
  short span across a window boundary.
* ``sliding_window`` — **Sidekiq Enterprise** ``Sidekiq::Limiter.window``: at most
  ``limit`` admissions in any interval of length ``period`` (a log of admission times;
  one admitted at ``t`` stops counting at ``t + period``). **DBOS** queue ``limiter``
  counts the workflows started in the last ``period`` seconds, the same rule.
* ``token_bucket`` — **Google Cloud Tasks** (``maxDispatchesPerSecond`` refills the
  bucket, ``maxBurstSize`` is its size): a bucket of ``burst`` tokens, initially full,
  refilled continuously at ``limit / period`` per second; one token per admission.
* ``gcra`` — **Inngest** (spec §2.3, :mod:`flowsim.policies.gcra`): emission
  ``period / limit``, ``burst`` extra units; with the default burst this is Inngest's
  ``rateLimit`` (§5.2), and in delay mode with ``burst = limit − 1`` Inngest's throttle
  (§4.2, without its key-queue and rescan details).

Modes: ``drop`` is an event stage at the rate limit's place (spec §1 step 3) that gives
a refused event the outcome ``rate_limited`` (reason with the time it would be admitted,
``events.key`` with the key); ``delay`` is a constraint on a run's start item (and its
retries, as throttle is, §4.2) that refuses with the time the key admits again, so the
run waits in the queue (``steps.blocked_by`` = ``rate_limit:<algorithm>:<key>``) — how
BullMQ, Hatchet, Sidekiq (reschedule) and Cloud Tasks hold work back. As for Inngest's
rate limit, a batch's run is not rate limited in drop mode (§9.1). The key of each run
is in ``runs.keys["rate_limit:<algorithm>"]``; keys follow :mod:`flowsim.plugins.keys`.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Protocol

from flowsim.expr import Expr
from flowsim.plugins.keys import key_of, parse_key
from flowsim.policies.base import (ORDER_RATE_LIMIT, BuildContext, Candidate, Constraint, Drop, EventStage,
                                   Refusal, StageContext)
from flowsim.policies.gcra import Buckets, Rate
from flowsim.policies.ratelimit import format_at
from flowsim.scenario.source import Node
from flowsim.units import format_duration

if TYPE_CHECKING:
    from flowsim.engine.runs import QueueItem, Run

ALGORITHMS = ("fixed_window", "sliding_window", "token_bucket", "gcra")
MODES = ("drop", "delay")
ALIGNS = ("clock", "first")
EPS = 1e-9      # times within a nanosecond of a boundary count as on it


class Limiter(Protocol):
    """One algorithm's state for every key."""

    def allows(self, key: str, now: float) -> bool: ...
    def consume(self, key: str, now: float) -> None: ...
    def retry_at(self, key: str, now: float) -> float: ...


class FixedWindow:
    """A counter per key and window (Sidekiq bucket, BullMQ, Hatchet)."""

    def __init__(self, limit: int, period: float, align: str) -> None:
        self.limit = limit
        self.period = period
        self.align = align
        self.windows: dict[str, tuple[float, int]] = {}     # key -> (window start, count)

    def _start(self, key: str, now: float) -> float:
        """The start of the window ``now`` is in (a new one at ``now`` for ``align: first``)."""
        if self.align == "clock":
            x = now / self.period
            r = round(x)
            return (r if abs(x - r) <= EPS else math.floor(x)) * self.period
        start = self.windows.get(key, (None, 0))[0]
        if start is None or now >= start + self.period - EPS:
            return now
        return start

    def _count(self, key: str, now: float) -> tuple[float, int]:
        start = self._start(key, now)
        old = self.windows.get(key)
        return start, (old[1] if old is not None and old[0] == start else 0)

    def allows(self, key: str, now: float) -> bool:
        return self._count(key, now)[1] < self.limit

    def consume(self, key: str, now: float) -> None:
        start, count = self._count(key, now)
        self.windows[key] = (start, count + 1)

    def retry_at(self, key: str, now: float) -> float:
        if self.allows(key, now):
            return now
        return self._count(key, now)[0] + self.period


class SlidingWindow:
    """A log of admission times per key (Sidekiq window, DBOS)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.logs: dict[str, deque[float]] = {}

    def _log(self, key: str, now: float) -> deque[float]:
        log = self.logs.setdefault(key, deque())
        while log and log[0] + self.period <= now + EPS:
            log.popleft()
        return log

    def allows(self, key: str, now: float) -> bool:
        return len(self._log(key, now)) < self.limit

    def consume(self, key: str, now: float) -> None:
        self._log(key, now).append(now)

    def retry_at(self, key: str, now: float) -> float:
        log = self._log(key, now)
        return now if len(log) < self.limit else log[0] + self.period


class TokenBucket:
    """A bucket of ``size`` tokens refilled at ``rate`` per second (Cloud Tasks)."""

    def __init__(self, limit: int, period: float, size: int) -> None:
        self.rate = limit / period
        self.size = size
        self.state: dict[str, tuple[float, float]] = {}     # key -> (tokens, at)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self.state.get(key, (float(self.size), now))
        return min(float(self.size), tokens + (now - at) * self.rate)

    def allows(self, key: str, now: float) -> bool:
        return self._tokens(key, now) >= 1 - EPS

    def consume(self, key: str, now: float) -> None:
        self.state[key] = (max(self._tokens(key, now) - 1, 0.0), now)

    def retry_at(self, key: str, now: float) -> float:
        tokens = self._tokens(key, now)
        if tokens >= 1 - EPS:
            return now
        t = now + (1 - tokens) / self.rate
        while not self.allows(key, t):      # a rounding step below the boundary
            t = math.nextafter(t, math.inf)
        return t


class Gcra:
    """Inngest's GCRA (§2.3) behind the :class:`Limiter` interface."""

    def __init__(self, limit: int, period: float, burst: int) -> None:
        self.buckets = Buckets(Rate(period, limit, burst))

    def allows(self, key: str, now: float) -> bool:
        return self.buckets.get(key, now).allows(now)

    def consume(self, key: str, now: float) -> None:
        self.buckets.consume(key, now)

    def retry_at(self, key: str, now: float) -> float:
        return self.buckets.get(key, now).retry_at(now)


@dataclass(frozen=True)
class RateLimit:
    """``rate_limit``: one of :data:`ALGORITHMS`, dropping or delaying, per key."""

    algorithm: str
    limit: int
    period: float
    key: Expr | None
    mode: str
    burst: int
    align: str

    @classmethod
    def parse(cls, node: Node, function: Node, scenario: Node) -> "RateLimit":
        node.mapping(("algorithm", "limit", "period", "key", "mode", "burst", "align"),
                     required=("algorithm", "limit", "period"))
        algorithm = node.child("algorithm").choice(ALGORITHMS)
        limit = node.child("limit").int(minimum=1)
        period = node.child("period").duration(minimum=1e-6, what="period")
        mode = node.get("mode").choice(MODES) if node.get("mode") else "drop"
        burst_node = node.get("burst")
        if algorithm == "token_bucket":
            burst = burst_node.int(minimum=1) if burst_node else limit
        elif algorithm == "gcra":
            burst = burst_node.int(minimum=0) if burst_node else limit // 10
        elif burst_node is not None:
            raise burst_node.error(f"burst applies to token_bucket and gcra, not {algorithm}")
        else:
            burst = 0
        align_node = node.get("align")
        if align_node is not None and algorithm != "fixed_window":
            raise align_node.error(f"align applies to fixed_window, not {algorithm}")
        align = align_node.choice(ALIGNS) if align_node else "clock"
        return cls(algorithm, limit, period, parse_key(node.get("key")), mode, burst, align)

    def limiter(self) -> Limiter:
        """A fresh state of the algorithm."""
        if self.algorithm == "fixed_window":
            return FixedWindow(self.limit, self.period, self.align)
        if self.algorithm == "sliding_window":
            return SlidingWindow(self.limit, self.period)
        if self.algorithm == "token_bucket":
            return TokenBucket(self.limit, self.period, self.burst)
        return Gcra(self.limit, self.period, self.burst)

    @property
    def label(self) -> str:
        return f"rate_limit:{self.algorithm}"

    def describe(self, key: str) -> str:
        on_key = f" on key {key}" if self.key is not None else ""
        return f"{self.algorithm} {self.limit}/{format_duration(self.period)}{on_key}"

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        if self.mode == "drop":
            return (DropStage(self, self.limiter()),), ()
        return (), (DelayConstraint(self, self.limiter()),)


class DropStage(EventStage):
    """Drop mode: refused events get ``rate_limited`` (spec §1 step 3)."""

    order = ORDER_RATE_LIMIT

    def __init__(self, config: RateLimit, limiter: Limiter) -> None:
        self.config = config
        self.limiter = limiter

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | None:
        if candidate.batch_id is not None:      # as Inngest's rate limit, §9.1
            return None
        key = key_of(self.config.key, candidate.event)
        now = ctx.now
        if self.limiter.allows(key, now):
            self.limiter.consume(key, now)
            return None
        retry = self.limiter.retry_at(key, now)
        return Drop("rate_limited", f"{self.config.describe(key)}: 0 left until t={format_at(retry)}", key=key)

    def run_created(self, run: "Run", ctx: StageContext) -> None:
        if self.config.key is not None and run.batch_id is None:
            run.keys[self.config.label] = key_of(self.config.key, run.event)
        return None


class DelayConstraint(Constraint):
    """Delay mode: a run's start waits until its key admits one more."""

    start_only = True

    def __init__(self, config: RateLimit, limiter: Limiter) -> None:
        self.config = config
        self.limiter = limiter
        self.label = config.label

    def bind(self, run: "Run") -> None:
        run.keys[self.label] = key_of(self.config.key, run.event)

    def check(self, item: "QueueItem", now: float) -> Refusal | None:
        key = item.run.keys[self.label]
        if self.limiter.allows(key, now):
            return None
        return Refusal(f"{self.label}:{key}", retry_at=self.limiter.retry_at(key, now))

    def acquire(self, item: "QueueItem", now: float) -> None:
        self.limiter.consume(item.run.keys[self.label], now)

    def explain(self, item: "QueueItem", now: float) -> str:
        key = item.run.keys[self.label]
        if self.limiter.allows(key, now):
            return f"{self.config.describe(key)}: capacity available"
        return f"{self.config.describe(key)}: 0 left until t={format_at(self.limiter.retry_at(key, now))}"
