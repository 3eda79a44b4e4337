"""The GCRA (spec §2.3) against hand-computed sequences and against the spec's own
Python mirror of Inngest's Lua, run in exact rational arithmetic."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.policies.gcra import Bucket, Buckets, Rate
from flowsim.policies.ratelimit import hidden_burst


def admitted(rate: Rate, times: list[float]) -> list[float]:
    """The times among ``times`` at which one unit is admitted (and consumed)."""
    bucket = Bucket(rate)
    return [t for t in times if bucket.consume(t)]


# -- hand-computed sequences ------------------------------------------------------------

def test_parameters():
    r = Rate(period=60, limit=10, burst=5)
    assert (r.emission, r.dvt, r.tolerance) == (6, 36, 30)
    assert Rate(period=10, limit=0).limit == 1          # limit = max(limit, 1)
    assert Rate(period=10, limit=0).emission == 10


@pytest.mark.parametrize("burst", [0, 1, 4])
def test_idle_burst_size(burst):
    b = Bucket(Rate(period=10, limit=2, burst=burst))
    assert b.capacity(0) == burst + 1
    for i in range(burst + 1):
        assert b.allows(0) and b.consume(0)
    assert not b.allows(0) and not b.consume(0)
    assert b.capacity(0) == 0


def test_spacing_after_the_burst():
    # emission 5 s, tolerance 10 s: three at t=0 (tat 15), then one each 5 s.
    b = Bucket(Rate(period=10, limit=2, burst=2))
    assert [b.consume(0) for _ in range(4)] == [True, True, True, False]
    assert b.tat == 15
    assert b.retry_at(0) == 5
    assert not b.allows(4.999)
    assert b.consume(5) and b.retry_at(5) == 10 and b.tat == 20
    assert b.consume(10) and b.retry_at(10) == 15


def test_retry_at_is_admitted_exactly_when_emission_is_not_whole():
    b = Bucket(Rate(period=10, limit=3, burst=0))
    t, starts = 0.0, []
    for _ in range(7):
        t = b.retry_at(t)
        assert b.consume(t)
        starts.append(t)
    assert starts == pytest.approx([0, 10 / 3, 20 / 3, 10, 40 / 3, 50 / 3, 20])
    assert starts[3] == 10.0 and starts[6] == 20.0          # whole times stay whole


def test_recovery_after_idleness_is_capped_at_the_burst():
    b = Bucket(Rate(period=60, limit=10, burst=1))          # emission 6, capacity 2
    assert b.consume(0) and b.consume(0) and not b.consume(0)
    assert b.capacity(6) == 1
    assert b.capacity(12) == 2
    assert b.capacity(10_000) == 2                          # no credit beyond dvt
    assert [b.consume(10_000) for _ in range(3)] == [True, True, False]


def test_limit_1_per_24h():
    b = Bucket(Rate(period=86400, limit=1, burst=0))
    assert b.consume(100)
    assert not b.allows(100 + 86399.999)
    assert b.retry_at(200) == 86500
    assert b.consume(86500) and not b.consume(86500)


def test_one_bucket_per_key():
    buckets = Buckets(Rate(period=10, limit=1, burst=0))
    assert buckets.consume("customer-a", 0)
    assert not buckets.consume("customer-a", 1)
    assert buckets.consume("customer-b", 1)                 # b has its own bucket
    assert buckets.peek("customer-a", 5).retry_at(5) == 10
    assert buckets.consume("customer-a", 10)


def test_idle_buckets_are_forgotten():
    buckets = Buckets(Rate(period=10, limit=1, burst=0))
    for k in range(100):
        buckets.consume(f"k{k}", 0)
    assert len(buckets.by_key) == 100
    assert buckets.peek("k0", 10) is not None               # tat == now: kept
    assert buckets.peek("k0", 10.5) is None and not buckets.by_key
    assert buckets.consume("k0", 10.5)


def test_consume_more_than_capacity_takes_nothing():
    b = Bucket(Rate(period=10, limit=1, burst=2))           # capacity 3
    assert not b.consume(0, 4) and b.tat is None
    assert b.consume(0, 3) and b.capacity(0) == 0


@pytest.mark.parametrize("limit, burst, at_once", [(1, 0, 1), (5, 0, 1), (10, 1, 2), (100, 10, 11)])
def test_rate_limit_hidden_burst(limit, burst, at_once):
    assert hidden_burst(limit) == burst
    rate = Rate(period=3600, limit=limit, burst=hidden_burst(limit))
    assert len(admitted(rate, [0.0] * 50)) == at_once


def test_rate_limit_10_per_minute_with_an_event_each_second():
    rate = Rate(period=60, limit=10, burst=hidden_burst(10))
    times = admitted(rate, [float(t) for t in range(0, 130)])
    assert times[:11] == [0, 1, 6, 12, 18, 24, 30, 36, 42, 48, 54]
    assert len([t for t in times if t < 60]) == 11
    assert times[11:] == [60, 66, 72, 78, 84, 90, 96, 102, 108, 114, 120, 126]


# -- differential: the spec's mirror of the Lua, exactly -----------------------------------

def mirror(tat, now, period, limit, burst, quantity):
    """spec §2.3, verbatim but in Fractions: (new tat, remaining, limited)."""
    limit = max(limit, 1)
    emission = Fraction(period) / limit
    dvt = emission * (burst + 1)
    if tat is None:
        tat = now
    q = quantity if quantity > 0 else 1
    inc = q * emission
    new_tat = (tat if now <= tat else now) + inc
    ttl = tat - now
    allow_at = new_tat - dvt
    limited = (now - allow_at) < 0
    if limited and quantity > 0:
        return tat, 0, True
    if quantity > 0:
        tat = new_tat
        ttl = new_tat - now
    nxt = dvt - ttl
    remaining = math.floor(nxt / emission) if nxt > -emission else 0
    return tat, remaining, limited


@settings(max_examples=300, deadline=None)
@given(period=st.integers(1, 120), limit=st.integers(0, 40), burst=st.integers(0, 12),
       steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 4)), min_size=1, max_size=60))
def test_matches_the_spec_mirror(period, limit, burst, steps):
    """Quarter-second times keep both sides exact; a past ``tat`` is an expired key."""
    b = Bucket(Rate(period, limit, burst))
    tat, now = None, Fraction(0)
    for gap, quantity in steps:
        now += Fraction(gap, 4)
        t = float(now)
        if quantity == 0:
            _, remaining, _ = mirror(tat, now, period, limit, burst, 0)
            assert b.capacity(t) == min(remaining, burst + 1)
            continue
        tat, remaining, limited = mirror(tat, now, period, limit, burst, quantity)
        assert b.consume(t, quantity) == (not limited)
        if not limited:
            assert math.isclose(b.tat, tat, rel_tol=1e-12)
            assert b.capacity(t) == remaining


@settings(max_examples=200, deadline=None)
@given(period=st.integers(1, 100), limit=st.integers(1, 30), burst=st.integers(0, 10),
       gaps=st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=80))
def test_window_bound_and_retry_time(period, limit, burst, gaps):
    """Admissions in any window of length w number at most floor((w + τ)/T) + 1, and
    ``retry_at`` is the first admissible time (admitted then, refused just before)."""
    rate = Rate(period, limit, burst)
    b = Bucket(rate)
    times, t = [], 0.0
    for g in gaps:
        t += g
        if not b.allows(t):
            r = b.retry_at(t)
            assert r > t and b.allows(r) and not b.allows(r - 1e-6 * rate.emission)
        if b.consume(t):
            times.append(t)
    T, tau = rate.emission, rate.tolerance
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            w = times[j] - times[i]
            assert j - i + 1 <= math.floor((w + tau) / T + 1e-9) + 1
