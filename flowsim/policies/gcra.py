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

Redis key expiry, a platform choice (``platform.gcra_key_expiry``: on for ``inngest``,
off for ``ideal``). A consuming request writes the key with ``EX = trunc(max((tat − now)
/ 1 s, 1))`` seconds (Lua's ``string.format("%d", …)`` truncates; the peek with quantity
0 and a refused request write nothing), so the key can vanish up to 1 s before its
``tat``, and the next request then finds an idle bucket: ``rateLimit {limit: 9, period:
1m}`` admits events at 0 s and 6.5 s (the key written at 0 with ``tat`` 6.67 s expires at
6 s). Redis deletes a key once its time is strictly past the expiry, so the key still
reads at the expiry instant itself. With expiry off, a key lives until its ``tat``, the
exact GCRA of the spec's mirror (whose Lua runs used a simulated clock, under which Redis
expiry never fires).

One Lua detail flowsim does not reproduce, documented in the spec: the capacity peek
reads the *raw* ``tat`` even when it lies in the past (for as long as the Redis key
lives), overestimating capacity; only a batched acquire (key queues, more than one unit
at once) can act on it (§4.5). flowsim treats a ``tat`` in the past as an idle bucket,
which is what the Lua sees once the key expired.
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
    """The GCRA state of one key: ``tat = anchor + n · emission``; idle (as if absent) once
    ``tat < now`` or, with ``expiry``, once the Redis key expired (``now > expires``)."""

    __slots__ = ("rate", "anchor", "n", "expiry", "expires")

    def __init__(self, rate: Rate, expiry: bool = False) -> None:
        self.rate = rate
        self.anchor = 0.0
        self.n = 0            # n == 0: the key is absent (idle)
        self.expiry = expiry
        self.expires = math.inf
        """When the Redis key expires (write time + ``EX``); it reads until then, inclusive."""

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
        if not self.n or now > self.expires:
            return 0
        return max(self.n - math.floor(self._elapsed(now)), 0)

    def idle(self, now: float) -> bool:
        """Whether the key is absent (never written, or expired) or its ``tat`` has passed."""
        return not self.n or now > self.expires or self._elapsed(now) > self.n

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
        if self.idle(now):          # tat < now (or the key expired): the bucket restarts from now
            self.anchor = now
            self.n = k
        else:                       # tat >= now: max(tat, now) = tat
            self.n += k
        if self.expiry:
            self.expires = now + self._ex(now)
        return True

    def _ex(self, now: float) -> int:
        """The key's ``EX`` after a write at ``now``: ``trunc(max(tat − now, 1 s))`` whole
        seconds, with ``tat − now`` a whole number of seconds when within :data:`SNAP` of one."""
        ttl = (self.n - self._elapsed(now)) * self.rate.period / self.rate.limit
        whole = round(ttl)
        if abs(ttl - whole) <= SNAP * max(1.0, abs(ttl)):
            ttl = whole
        return max(int(ttl), 1)

    def retry_at(self, now: float) -> float:
        """The earliest time ``>= now`` at which one more unit is admitted: ``tat − τ``, or
        just after the key expires if that comes first."""
        if self.allows(now):
            return now
        rate = self.rate
        t = self.anchor + rate.offset(self.n - rate.burst)
        if self.expires < t:
            t = math.nextafter(self.expires, math.inf)
        while not self.allows(t):       # guard against a rounding step below the boundary
            t = math.nextafter(t, math.inf)
        return t


class Buckets:
    """The buckets of one mechanism by key; idle buckets are forgotten as time passes.
    ``expiry``: keys expire as Redis expires them (see the module docstring)."""

    __slots__ = ("rate", "expiry", "by_key", "_expiry")

    def __init__(self, rate: Rate, expiry: bool = False) -> None:
        self.rate = rate
        self.expiry = expiry
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
            bucket = self.by_key[key] = Bucket(self.rate, self.expiry)
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
