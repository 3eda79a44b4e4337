"""Confidence intervals over independent replications (Student's t, two-sided 95%).

Each replication gives one value of a metric; the interval is
``mean ± t(0.975, n−1) · s / √n`` with ``s`` the sample standard deviation. The t
quantiles are exact (to 9 digits) for up to 30 degrees of freedom and, beyond, a
Cornish–Fisher expansion around the normal quantile (error below 2e-6), so flowsim needs
no scipy at run time. A paired interval (the difference of two variants replication by
replication, which share their random numbers) is the same formula on the differences.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Iterable, NamedTuple

LEVEL = 0.95
# t quantiles at 0.975 for 1..30 degrees of freedom
_T975 = (12.706204736, 4.30265273, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
         2.306004135, 2.262157163, 2.228138852, 2.20098516, 2.17881283, 2.160368656, 2.144786688,
         2.131449546, 2.119905299, 2.109815578, 2.10092204, 2.093024054, 2.085963447, 2.079613845,
         2.073873068, 2.06865761, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
         2.045229642, 2.042272456)
_Z = NormalDist().inv_cdf(0.975)


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


class Interval(NamedTuple):
    """A mean and its 95% confidence interval over ``n`` values (NaN bounds when ``n < 2``)."""

    n: int
    mean: float
    low: float
    high: float


def mean_ci(values: Iterable[float]) -> Interval:
    """Mean and 95% CI of ``values``, NaNs left out."""
    xs = [float(v) for v in values if not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan)
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(1, mean, math.nan, math.nan)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Interval(n, mean, mean - half, mean + half)
