"""Step duration distributions: exact means, sampled moments and quantiles, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from flowsim.distributions import Z_99, parse_distribution
from flowsim.errors import ScenarioError
from flowsim.scenario.source import Node, load_yaml

N = 200_000


def parse(text: str, signed: bool = False):
    data, source = load_yaml(text, "scenario.yaml")
    return parse_distribution(Node(data, (), source).child("d"), signed=signed)


def draw(dist, n: int = N, seed: int = 7) -> np.ndarray:
    return dist.sample(np.random.default_rng(seed), n)


def assert_mean_in_ci(x: np.ndarray, mean: float) -> None:
    """The sample mean within 5 standard errors of ``mean``."""
    assert abs(x.mean() - mean) < 5 * x.std() / math.sqrt(len(x)), (x.mean(), mean)


def assert_fraction(hits: np.ndarray, p: float) -> None:
    """A binomial proportion within 5 standard errors of ``p``."""
    se = math.sqrt(p * (1 - p) / len(hits))
    assert abs(hits.mean() - p) < 5 * se, (hits.mean(), p)


@pytest.mark.parametrize("text, value", [
    ("d: 200ms", 0.2), ("d: 1.5", 1.5), ("d: {constant: 2s}", 2.0), ("d: 1m30s", 90.0),
])
def test_constant_is_exact(text, value):
    dist = parse(text)
    assert dist.mean == value
    assert np.array_equal(draw(dist, 1000), np.full(1000, value))


def test_exponential_mean_and_cv():
    dist = parse("d: {exponential: {mean: 1s}}")
    assert dist.mean == 1.0
    x = draw(dist)
    assert_mean_in_ci(x, 1.0)
    assert abs(x.std() / x.mean() - 1) < 0.02
    assert (x >= 0).all()


def test_uniform_bounds_and_mean():
    dist = parse("d: {uniform: {min: 1s, max: 3s}}")
    assert dist.mean == 2.0
    x = draw(dist)
    assert x.min() >= 1.0 and x.max() < 3.0
    assert_mean_in_ci(x, 2.0)
    assert abs(x.var() - 4 / 12) < 0.01


def test_z99_is_the_normal_quantile():
    assert Z_99 == pytest.approx(stats.norm.ppf(0.99), rel=1e-12)


def test_lognormal_median_and_p99():
    dist = parse("d: {lognormal: {median: 800ms, p99: 5s}}")
    x = draw(dist)
    assert_fraction(x <= 0.8, 0.5)
    assert_fraction(x <= 5.0, 0.99)
    sigma = math.log(5 / 0.8) / Z_99
    assert dist.mean == pytest.approx(0.8 * math.exp(sigma ** 2 / 2))
    assert_mean_in_ci(x, dist.mean)


def test_lognormal_mean_sigma_form():
    dist = parse("d: {lognormal: {mean: 2s, sigma: 0.5}}")
    assert dist.mean == pytest.approx(2.0)
    x = draw(dist)
    assert_mean_in_ci(x, 2.0)
    assert np.log(x).std() == pytest.approx(0.5, rel=0.01)


def test_empirical_uniform_choice():
    dist = parse("d: {empirical: [200ms, 1s, 3s]}")
    assert dist.mean == pytest.approx((0.2 + 1 + 3) / 3)
    x = draw(dist)
    assert set(np.unique(x)) == {0.2, 1.0, 3.0}
    for v in (0.2, 1.0, 3.0):
        assert_fraction(x == v, 1 / 3)


def test_empirical_weights():
    dist = parse("d: {empirical: {values: [1s, 2s, 5s], weights: [3, 1, 0]}}")
    assert dist.mean == pytest.approx(0.75 * 1 + 0.25 * 2)
    x = draw(dist)
    assert_fraction(x == 1.0, 0.75)
    assert not (x == 5.0).any()


def test_sampling_is_deterministic_and_uses_the_given_generator():
    dist = parse("d: {lognormal: {median: 1s, p99: 10s}}")
    assert np.array_equal(draw(dist, 100, seed=3), draw(dist, 100, seed=3))
    assert not np.array_equal(draw(dist, 100, seed=3), draw(dist, 100, seed=4))


def test_signed_allows_negative_offsets_only_when_asked():
    assert parse("d: -1s", signed=True).mean == -1.0
    dist = parse("d: {uniform: {min: -1s, max: 500ms}}", signed=True)
    x = draw(dist)
    assert x.min() >= -1 and x.max() < 0.5 and (x < 0).any()
    with pytest.raises(ScenarioError, match="expected a duration"):
        parse("d: -1s")
    with pytest.raises(ScenarioError, match="non-negative"):
        parse("d: {uniform: {min: -1, max: 1}}")


def test_describe():
    assert parse("d: 200ms").describe() == "200ms"
    assert parse("d: {exponential: {mean: 1s}}").describe() == "exponential(mean=1s)"
    assert parse("d: {uniform: {min: 1s, max: 3s}}").describe() == "uniform(1s, 3s)"
    assert parse("d: {lognormal: {median: 800ms, p99: 5s}}").describe() == "lognormal(median=800ms, p99=5s)"


@pytest.mark.parametrize("text, message, field, line", [
    ("d:\n  uniform:\n    min: 3s\n    max: 1s\n", "max (1s) must not be below min (3s)", "d.uniform.max", 4),
    ("d:\n  lognormal:\n    median: 2s\n    p99: 1s\n", "p99 (1s) must be above the median (2s)", "d.lognormal.p99", 4),
    ("d:\n  lognormal: {median: 0s, p99: 1s}\n", "median must be positive", "d.lognormal.median", 2),
    ("d:\n  lognormal: {median: 1s, sigma: 1}\n", "either median and p99, or mean and sigma", "d.lognormal", 2),
    ("d:\n  empirical: []\n", "at least one value", "d.empirical", 2),
    ("d:\n  empirical:\n    values: [1s, 2s]\n    weights: [1]\n", "expected 2 weights", "d.empirical.weights", 4),
    ("d:\n  empirical:\n    values: [1s]\n    weights: [0]\n", "must not all be zero", "d.empirical.weights", 4),
    ("d:\n  empirical:\n    values: [1s]\n    weights: [-1]\n", "at least 0", "d.empirical.weights[0]", 4),
    ("d:\n  exponential:\n    mean: 1s\n    sd: 2s\n", "unknown field 'sd'; allowed: mean", "d.exponential.sd", 4),
    ("d:\n  exponential: {}\n", "missing required field 'mean'", "d.exponential", 2),
    ("d:\n  gamma: {shape: 2}\n", "unknown field 'gamma'; allowed: constant, exponential", "d.gamma", 2),
    ("d:\n  constant: 1s\n  exponential: {mean: 1s}\n", "exactly one of", "d", 1),
    ("d: fast\n", "expected a duration", "d", 1),
    ("d: [1s]\n", "expected a duration or a mapping", "d", 1),
])
def test_validation_errors_name_field_and_line(text, message, field, line):
    with pytest.raises(ScenarioError) as info:
        parse(text)
    err = info.value
    assert message in err.message
    assert (err.file, err.field, err.line) == ("scenario.yaml", field, line)
