"""The metric grammar: what parses into what, canonical texts, and what is refused."""
from __future__ import annotations

import pytest

from flowsim.analysis.plan import Objective
from flowsim.errors import ScenarioError
from flowsim.results.metric import BASE_METRICS, Extreme, Jain, Simple, Where, parse, paths_of


@pytest.mark.parametrize("text, want", [
    ("p99(start_latency)", Simple("p99", "start_latency")),
    (" p99 ( start_latency ) ", Simple("p99", "start_latency")),
    ("events", Simple("events")),
    ("throughput[function=tenant-work]", Simple("throughput", "", Where("tenant-work"))),
    ("p99(start_latency)[event.data.tenant=s1]", Simple("p99", "start_latency", Where(None, (("event.data.tenant", "s1"),)))),
    ("rate(rate_limited)[function=f, event.data.tenant=s1]",
     Simple("rate", "rate_limited", Where("f", (("event.data.tenant", "s1"),)))),
    ('count(run)[event.data.region + "-" + event.data.tier="eu-1"]',
     Simple("count", "run", Where(None, (('event.data.region + "-" + event.data.tier', "eu-1"),)))),
    ('mean(queue_wait)[event.data.name="a, b [x]"]', Simple("mean", "queue_wait", Where(None, (("event.data.name", "a, b [x]"),)))),
    ('events[event.data.n == 3=true]', Simple("events", "", Where(None, (("event.data.n == 3", "true"),)))),
    ("worst(p99(start_latency), event.data.tenant)", Extreme("worst", Simple("p99", "start_latency"), "event.data.tenant")),
    ("best(p99(start_latency)[function=f], event.data.a + event.data.b)",
     Extreme("best", Simple("p99", "start_latency", Where("f")), "event.data.a + event.data.b")),
    ("jain(start_latency, event.data.tenant)", Jain("start_latency", "event.data.tenant")),
    ("jain(throughput[function=f], event.data.tenant)", Jain("throughput", "event.data.tenant", Where("f"))),
])
def test_parses(text, want):
    got = parse(text)
    assert got == want
    assert parse(got.text) == got                    # the canonical text reads back the same
    assert parse(got) is got


def test_canonical_texts_are_what_tables_name():
    assert parse("p99( start_latency )[ function = f ,event.data.t=s1 ]").text == \
        "p99(start_latency)[function=f, event.data.t=s1]"
    assert parse('events[event.data.t="a b"]').text == 'events[event.data.t="a b"]'
    assert parse("worst(p99(start_latency),event.data.t)").text == "worst(p99(start_latency), event.data.t)"
    assert all(parse(m).text == m for m in BASE_METRICS)


def test_paths_units_and_direction():
    m = parse("worst(p99(start_latency)[event.data.r=eu], event.data.t)")
    assert paths_of(m) == ("event.data.r", "event.data.t")
    assert (m.unit, m.better) == ("seconds", -1)
    assert (parse("throughput").unit, parse("throughput").better) == ("per second", 1)
    assert (parse("rate(run)").unit, parse("rate(run)").better) == ("fraction", 1)
    assert parse("rate(rate_limited)").better == -1 and parse("count(filtered)").better == 0
    assert (parse("jain(start_latency, event.data.t)").unit, parse("jain(start_latency, event.data.t)").better) == \
        ("index", 1)


@pytest.mark.parametrize("text, fragment", [
    ("p42(x)", "unknown metric 'p42(x)'; known: events, count(OUTCOME), rate(OUTCOME), "
               "mean|p50|p90|p99(start_latency|queue_wait|end_to_end_latency) or throughput"),
    ("p99(latency)", "unknown metric 'p99(latency)'"),
    ("count(ran)", "unknown metric 'count(ran)'"),
    ("worst(p42(x), event.data.t)", "unknown metric 'p42(x)' in 'worst(p42(x), event.data.t)'"),
    ("p99(start_latency)[tenant=s1]", "'tenant' in 'p99(start_latency)[tenant=s1]' is not a key expression such as "
                                      "event.data.tenant: invalid CEL expression 'tenant': undeclared reference to 'tenant'"),
    ("p99(start_latency)[event.data.t]", "expected function=ID or PATH=VALUE, got 'event.data.t'"),
    ("p99(start_latency)[]", "expected function=ID or PATH=VALUE, got ''"),
    ("p99(start_latency)[event.data.t=a", "unexpected '[event.data.t=a' after p99(start_latency)"),
    ("p99(start_latency)[function=a, function=b]", "function= given twice"),
    ("p99(start_latency)[event.data.t=a, event.data.t=b]", "event.data.t filtered twice"),
    ('p99(start_latency)[event.data.t="a]', "unexpected"),
    ("worst(p99(start_latency), tenant)", "'tenant' in 'worst(p99(start_latency), tenant)' is not a key expression"),
    ("worst(p99(start_latency), 5)", "'5' in 'worst(p99(start_latency), 5)' is not a key expression of the event"),
    ("worst(p99(start_latency), event.data.t", "unclosed parenthesis"),
    ("worst(p99(start_latency))", "expected worst(METRIC, PATH)"),
    ("worst(p99(start_latency), event.data.t)[function=f]", "a filter goes on the metric inside, e.g. "
                                                           "worst(p99(start_latency)[function=ID], event.data.tenant)"),
    ("best(worst(p99(start_latency), event.data.a), event.data.b)", "not another aggregate"),
    ("jain(p99(start_latency), event.data.t)", "jain takes a measure, one of start_latency, queue_wait, "
                                               "end_to_end_latency, throughput"),
    ("jain(events, event.data.t)", "jain takes a measure"),
])
def test_refused_with_what_is_allowed(text, fragment):
    with pytest.raises(ScenarioError) as exc:
        parse(text, "--metric")
    assert exc.value.field == "--metric"
    assert fragment in exc.value.message


@pytest.mark.parametrize("text, metric, op, bound", [
    ("p99(start_latency)[event.data.tenant=s1] <= 5s", "p99(start_latency)[event.data.tenant=s1]", "<=", 5.0),
    ("worst(p99(start_latency), event.data.tenant) <= 30s", "worst(p99(start_latency), event.data.tenant)", "<=", 30),
    ("worst(p99(start_latency), event.data.n > 3)<2m", "worst(p99(start_latency), event.data.n > 3)", "<", 120),
    ("events[event.data.n >= 3=true] > 10", "events[event.data.n >= 3=true]", ">", 10),
    ("jain(throughput, event.data.t) >= 90%", "jain(throughput, event.data.t)", ">=", 0.9),
    ("rate(rate_limited)[function=f] <= 1%", "rate(rate_limited)[function=f]", "<=", 0.01),
])
def test_objectives_over_any_metric(text, metric, op, bound):
    o = Objective.parse(text)
    assert (o.metric, o.op, o.bound) == (metric, op, pytest.approx(bound))


@pytest.mark.parametrize("text, fragment", [
    ("worst(p99(start_latency), event.data.t) <= 30 min", "invalid bound '30 min' for worst(p99(start_latency), event.data.t):"
                                                     " expected a duration"),
    ("jain(start_latency, event.data.t) >= fair", "expected a number between 0 and 1 such as 0.9"),
    ("p99(start_latency)[event.data.t=a]", "expected METRIC OP BOUND"),
    ("p99(start_latency)[event.dat.t=a", "--slo"),
])
def test_bad_objectives(text, fragment):
    with pytest.raises(ScenarioError) as exc:
        Objective.parse(text)
    assert fragment in exc.value.format()
