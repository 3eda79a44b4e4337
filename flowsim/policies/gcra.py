"""The GCRA (generic cell rate algorithm) shared by throttle and rate limit (spec §2.3).

Inngest runs one Lua body for both (``pkg/constraintapi/lua/helper/gcra.lua``, and the
same maths in ``pkg/execution/ratelimit/lua/ratelimit.lua``); the spec's Python mirror
of it, which matched the Lua on Redis, is::

    limit    = max(limit, 1)
    emission = period / limit
    dvt      = emission * (burst + 1)         # delay variation tolerance
    admit one   iff  tat - now <= dvt - emission
    consume k:  tat := max(tat, now) + k * emission
    capacity  = floor((dvt - (tat - now)) / emission)

:class:`Rate` holds the parameters, :class:`Bucket` the state of one key (its ``tat``,
the theoretical arrival time), :class:`Buckets` the buckets of one mechanism by key.
Callers pass the GCRA ``burst`` they mean: throttle passes ``limit + burst - 1``
(§4.2), rate limit ``floor(limit / 10)`` (§5.2). The *tolerance* ``τ = dvt - emission
= burst · emission`` is how far ``tat`` may run ahead of ``now`` for one more unit to
be admitted; an idle bucket admits ``burst + 1`` units at once.

Units: flowsim uses float seconds throughout. The Lua's milliseconds (throttle) and
nanoseconds (rate limit) matter only through the truncation of periods to whole
seconds by the Constraint API (§2.2), which the throttle and rate-limit configs
apply before building a :class:`Rate`.

Exactness: a bucket keeps ``tat`` as ``anchor + n · period / limit`` (the time the
bucket last left idleness plus the units consumed since, a unit consumed exactly at
``tat`` continuing the chain), so that chains of consumption do not accumulate rounding
error and times that are whole numbers stay whole; boundaries are compared with a
tolerance of :data:`SNAP` emission intervals; :meth:`Bucket.retry_at` returns a time at
which :meth:`Bucket.allows` is true by construction, so an engine that wakes exactly
then never finds it refused.

Two Lua details flowsim does not reproduce, both documented in the spec:

* the capacity peek reads the *raw* ``tat`` even when it lies in the past (for as long
  as the Redis key lives, at least 1 s), overestimating capacity; only a batched acquire
  (key queues, more than one unit at once) can act on it (§4.5). flowsim treats a
  ``tat`` in the past as an idle bucket, which is what the Lua sees once the key expired;
* the key's expiry ``EX = trunc(max((tat - now) / 1 s, 1))`` truncates to whole
  seconds, so the key can vanish up to 1 s before its ``tat`` and the bucket then reads
  as idle. The spec's mirror treats the key as present until ``tat`` [its Lua runs used
  a simulated clock, under which Redis expiry never fires], and so does flowsim.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

SNAP = 1e-9
"""Emission intervals closer than this to a whole number count as whole (about a
nanosecond per second of emission): float rounding of ``now − anchor`` must not decide
whether a unit is admitted exactly at its boundary."""


@dataclass(frozen=True)
class Rate:
    """GCRA parameters: ``limit`` units per ``period`` seconds, GCRA ``burst`` extra units.

    ``limit`` below 1 is taken as 1, as the Lua does (``math.max(limit, 1)``).
    """

    period: float
    limit: int
    burst: int = 0
    emission: float = field(init=False)
    """Seconds per unit, ``period / limit`` (the spacing ``T`` in the closed forms)."""
    dvt: float = field(init=False)
    """Delay variation tolerance, ``emission · (burst + 1)``."""
    tolerance: float = field(init=False)
    """``τ = dvt − emission = burst · emission``."""

    def __post_init__(self) -> None:
        if self.period <= 0:
            raise ValueError(f"a GCRA period must be positive, got {self.period!r}")
        if self.burst < 0:
            raise ValueError(f"a GCRA burst cannot be negative, got {self.burst!r}")
        object.__setattr__(self, "limit", max(int(self.limit), 1))
        object.__setattr__(self, "emission", self.period / self.limit)
        object.__setattr__(self, "dvt", self.emission * (self.burst + 1))
        object.__setattr__(self, "tolerance", self.burst * self.period / self.limit)

    def offset(self, n: int) -> float:
        """``n · emission``, computed as one rounding (whole when ``n·period/limit`` is)."""
        return n * self.period / self.limit


class Bucket:
    """The GCRA state of one key: ``tat = anchor + n · emission``; idle (as if absent) once ``tat < now``."""

    __slots__ = ("rate", "anchor", "n")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.anchor = 0.0
        self.n = 0            # n == 0: the key is absent (idle)

    @property
    def tat(self) -> float | None:
        """The theoretical arrival time, ``None`` for a key never written."""
        return self.anchor + self.rate.offset(self.n) if self.n else None

    def _elapsed(self, now: float) -> float:
        """Emission intervals from the anchor to ``now``, snapped to a whole number when
        within :data:`SNAP` of one (so that rounding never moves a boundary)."""
        rate = self.rate
        x = (now - self.anchor) * rate.limit / rate.period
        r = round(x)
        return float(r) if abs(x - r) <= SNAP else x

    def _backlog(self, now: float) -> int:
        """Whole emission intervals of ``tat`` still ahead of ``now``: ``ceil((tat − now)/T)⁺``."""
        if not self.n:
            return 0
        return max(self.n - math.floor(self._elapsed(now)), 0)

    def idle(self, now: float) -> bool:
        """Whether the key is absent or its ``tat`` has passed (``tat < now``)."""
        return not self.n or self._elapsed(now) > self.n

    def capacity(self, now: float) -> int:
        """Units admissible at ``now``: ``floor((dvt − (tat − now)⁺) / emission)``."""
        return self.rate.burst + 1 - self._backlog(now)

    def allows(self, now: float) -> bool:
        """Whether one more unit is admitted at ``now`` (``tat − now <= τ``)."""
        return self._backlog(now) <= self.rate.burst

    def consume(self, now: float, k: int = 1) -> bool:
        """Take ``k`` units if all ``k`` are admitted (``tat := max(tat, now) + k·T``).

        As the Lua, a request for more than the capacity takes nothing and returns False.
        """
        if self.rate.burst + 1 - self._backlog(now) < k:
            return False
        if self.idle(now):          # tat < now: the bucket restarts from now
            self.anchor = now
            self.n = k
        else:                       # tat >= now: max(tat, now) = tat
            self.n += k
        return True

    def retry_at(self, now: float) -> float:
        """The earliest time ``>= now`` at which one more unit is admitted: ``tat − τ``."""
        if self.allows(now):
            return now
        rate = self.rate
        t = self.anchor + rate.offset(self.n - rate.burst)
        while not self.allows(t):       # guard against a rounding step below the boundary
            t = math.nextafter(t, math.inf)
        return t


class Buckets:
    """The buckets of one mechanism by key; idle buckets are forgotten as time passes."""

    __slots__ = ("rate", "by_key", "_expiry")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.by_key: dict[str, Bucket] = {}
        self._expiry: list[tuple[float, str]] = []     # (tat at a write, key): a heap

    def peek(self, key: str, now: float) -> Bucket | None:
        """The bucket of ``key``, or ``None`` when it was never written or was forgotten idle."""
        self._forget(now)
        return self.by_key.get(key)

    def get(self, key: str, now: float) -> Bucket:
        """The bucket of ``key``, created idle if needed."""
        self._forget(now)
        bucket = self.by_key.get(key)
        if bucket is None:
            bucket = self.by_key[key] = Bucket(self.rate)
        return bucket

    def consume(self, key: str, now: float, k: int = 1) -> bool:
        """Take ``k`` units from ``key``'s bucket (see :meth:`Bucket.consume`)."""
        bucket = self.get(key, now)
        if not bucket.consume(now, k):
            return False
        heapq.heappush(self._expiry, (bucket.tat, key))
        return True

    def _forget(self, now: float) -> None:
        """Drop buckets whose ``tat`` has passed: an idle bucket equals an absent key (a
        bucket whose ``tat`` is exactly now is kept, so that its chain stays exact)."""
        heap = self._expiry
        while heap and heap[0][0] < now:
            _, key = heapq.heappop(heap)
            bucket = self.by_key.get(key)
            if bucket is not None and bucket.idle(now):
                del self.by_key[key]
