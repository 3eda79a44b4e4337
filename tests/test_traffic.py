"""Traffic: arrival processes, data generators, sources and their merge."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from itertools import chain, islice

import numpy as np
import pytest
from scipy import stats

from flowsim.errors import ScenarioError
from flowsim.scenario.source import Node, load_yaml
from flowsim.streams import Streams
from flowsim.expr import compile_expr
from flowsim.traffic.arrivals import CHUNK, parse_arrivals
from flowsim.traffic.data import parse_data, records
from flowsim.traffic.event import NO_USER, Event
from flowsim.traffic.sources import GeneratedSource, merge, parse_traffic


def node(text: str, key: str) -> Node:
    data, source = load_yaml(text, "scenario.yaml")
    return Node(data, (), source).child(key)


def arrivals(text: str):
    return parse_arrivals(node(f"a: {text}", "a"))


def times(proc, start: float, end: float, seed: int = 1) -> np.ndarray:
    return np.array(list(chain.from_iterable(proc.blocks(np.random.default_rng(seed), start, end))))


def assert_count(count: int, expected: float) -> None:
    """A Poisson count within 5 standard deviations of its mean."""
    assert abs(count - expected) < 5 * math.sqrt(expected), (count, expected)


def assert_fraction(hits, p: float) -> None:
    hits = np.asarray(hits)
    assert abs(hits.mean() - p) < 5 * math.sqrt(p * (1 - p) / len(hits)), (hits.mean(), p)


def assert_error(fn, message: str, field: str, line: int | None = None) -> None:
    with pytest.raises(ScenarioError) as info:
        fn()
    assert message in info.value.message
    assert info.value.field == field
    assert info.value.file == "scenario.yaml"
    if line is not None:
        assert info.value.line == line


# -- arrivals -------------------------------------------------------------------

def test_poisson_count_and_interarrival_cv():
    proc = arrivals("{poisson: {rate: 20/s}}")
    assert proc.rate == 20
    t = times(proc, 0, 10_000)
    assert_count(len(t), 20 * 10_000)
    gaps = np.diff(t)
    assert (gaps >= 0).all() and t[0] >= 0 and t[-1] < 10_000
    assert abs(gaps.std() / gaps.mean() - 1) < 0.02
    assert abs(gaps.mean() - 1 / 20) < 5 * (1 / 20) / math.sqrt(len(gaps))


def test_poisson_window_and_zero_rate():
    t = times(arrivals("{poisson: {rate: 5/m}}"), 100, 50_000)
    assert t.min() >= 100 and t.max() < 50_000
    assert_count(len(t), 5 / 60 * 49_900)
    assert len(times(arrivals("{poisson: {rate: 0}}"), 0, 1e6)) == 0


def test_constant_spacing_is_exact():
    assert np.array_equal(times(arrivals("{constant: {every: 30s}}"), 0, 3600), 30.0 * np.arange(120))
    t = times(arrivals("{constant: {every: 500ms, offset: 5s}}"), 10, 3010)
    assert np.array_equal(t, 15 + 0.5 * np.arange(5990))  # spans several chunks
    proc = arrivals("{constant: {rate: 1/m}}")
    assert proc.rate == pytest.approx(1 / 60)
    assert np.allclose(times(proc, 0, 3600), 60.0 * np.arange(60))


def test_bursts_place_size_events_inside_each_spread_window():
    proc = arrivals("{bursts: {every: 5m, size: 200, spread: 10s, offset: 1m}}")
    assert proc.rate == pytest.approx(200 / 300)
    t = times(proc, 0, 3600)
    starts = 60 + 300 * np.arange(12)
    assert len(t) == 12 * 200 and (np.diff(t) >= 0).all()
    for b in starts:
        assert ((t >= b) & (t < b + 10)).sum() == 200
    offsets = (t - np.repeat(starts, 200)) / 10
    assert stats.kstest(offsets, "uniform").pvalue > 1e-3


def test_small_bursts_are_sorted_uniform_samples():
    t = times(arrivals("{bursts: {every: 10s, size: 3, spread: 10s}}"), 0, 20_000).reshape(-1, 3)
    offsets = t - 10 * np.arange(2000)[:, None]
    assert (np.diff(offsets, axis=1) >= 0).all()
    assert stats.kstest(offsets.ravel() / 10, "uniform").pvalue > 1e-3
    assert stats.kstest(offsets[:, 0] / 10, stats.beta(1, 3).cdf).pvalue > 1e-3  # the minimum of 3


def test_a_burst_larger_than_a_chunk_is_uniform_and_sorted():
    t = times(arrivals(f"{{bursts: {{every: 1h, size: {3 * CHUNK + 5}, spread: 2s, offset: 7s}}}}"), 0, 3600)
    assert len(t) == 3 * CHUNK + 5 and (np.diff(t) >= 0).all()
    assert t.min() >= 7 and t.max() < 9
    assert stats.kstest((t - 7) / 2, "uniform").pvalue > 1e-3


def test_bursts_with_a_base_rate_and_no_spread():
    proc = arrivals("{bursts: {base: 1/s, every: 100s, size: 50}}")
    assert proc.rate == 1.5
    t = times(proc, 0, 100_000)
    assert (np.diff(t) >= 0).all()
    at_burst = np.isin(t, 100.0 * np.arange(1000))
    assert at_burst.sum() == 1000 * 50
    assert_count(int((~at_burst).sum()), 100_000)


def test_a_base_rate_does_not_move_the_bursts():
    bursts = times(arrivals("{bursts: {every: 10s, size: 5, spread: 3s}}"), 0, 1000)
    with_base = times(arrivals("{bursts: {every: 10s, size: 5, spread: 3s, base: 2/s}}"), 0, 1000)
    assert len(with_base) > len(bursts) and np.isin(bursts, with_base).all()


def test_bursts_stop_at_the_window_end():
    t = times(arrivals("{bursts: {every: 1m, size: 1000, spread: 10s}}"), 0, 125)
    assert len(t) < 3000 and t.max() < 125
    assert ((t >= 120) & (t < 125)).sum() == len(t) - 2000


def _diurnal_integral(mean, amp, period, peak, a, b):
    w = 2 * math.pi / period
    return mean * ((b - a) + amp / w * (math.sin(w * (b - peak)) - math.sin(w * (a - peak))))


def test_diurnal_total_matches_the_integral_of_the_rate():
    proc = arrivals("{diurnal: {mean: 20/s, amplitude: 0.5, period: 1000s, peak: 200s}}")
    assert proc.rate == 20
    t = times(proc, 0, 2500)
    assert_count(len(t), _diurnal_integral(20, 0.5, 1000, 200, 0, 2500))


def test_diurnal_shape_follows_the_rate():
    t = times(arrivals("{diurnal: {mean: 10/s, amplitude: 0.8, period: 100s, peak: 30s}}"), 0, 20_000)
    edges = np.linspace(0, 100, 11)
    observed = np.histogram(t % 100, edges)[0]
    expected = [200 * _diurnal_integral(10, 0.8, 100, 30, a, b) for a, b in zip(edges[:-1], edges[1:])]
    assert stats.chisquare(observed, np.array(expected) * observed.sum() / sum(expected)).pvalue > 1e-3


@pytest.mark.parametrize("text", [
    "{poisson: {rate: 1000/s}}",
    "{constant: {every: 1ms}}",
    "{bursts: {base: 1000/s, every: 1h, size: 1000000000, spread: 1h}}",
    "{diurnal: {mean: 1000/s, amplitude: 1}}",
])
def test_times_are_lazy(text):
    began = time.perf_counter()
    blocks = arrivals(text).blocks(np.random.default_rng(1), 0, 1e9)
    first = list(islice(chain.from_iterable(blocks), 10))
    assert isinstance(blocks, Iterator)
    assert len(first) == 10 and first == sorted(first)
    assert time.perf_counter() - began < 0.5


def test_arrivals_are_deterministic_per_generator():
    proc = arrivals("{bursts: {base: 2/s, every: 10s, size: 5, spread: 3s}}")
    assert np.array_equal(times(proc, 0, 100, seed=4), times(proc, 0, 100, seed=4))
    assert not np.array_equal(times(proc, 0, 100, seed=4), times(proc, 0, 100, seed=5))


@pytest.mark.parametrize("text, message, field", [
    ("{constant: {rate: 1/s, every: 1s}}", "exactly one of rate and every", "a.constant"),
    ("{constant: {every: 0s}}", "every must be positive", "a.constant.every"),
    ("{constant: {rate: 0}}", "rate must be positive", "a.constant.rate"),
    ("{bursts: {every: 1m, size: 10, spread: 2m}}", "spread must not exceed every", "a.bursts.spread"),
    ("{bursts: {every: 1m, size: 0}}", "at least 1", "a.bursts.size"),
    ("{bursts: {size: 10}}", "missing required field 'every'", "a.bursts"),
    ("{diurnal: {mean: 1/s, amplitude: 1.5}}", "at most 1", "a.diurnal.amplitude"),
    ("{poisson: {rate: 20/x}}", "expected a rate", "a.poisson.rate"),
    ("{poisson: {lambda: 2}}", "unknown field 'lambda'; allowed: rate", "a.poisson.lambda"),
    ("{gamma: {shape: 1}}", "unknown field 'gamma'; allowed: poisson, constant, bursts, diurnal", "a.gamma"),
    ("20/s", "expected a mapping", "a"),
])
def test_arrival_errors(text, message, field):
    assert_error(lambda: arrivals(text), message, field, line=1)


# -- data -----------------------------------------------------------------------

def fields(text: str):
    return parse_data(node(text, "data"))


def sample(text: str, n: int = 200_000, seed: int = 1, first: int = 0) -> list:
    (gen,) = fields(f"data: {{f: {text}}}").values()
    return gen.sample(np.random.default_rng(seed), n, first)


def test_zipf_shares_of_the_top_ranks():
    values = sample("{zipf: {n: 5000, s: 1.2}}")
    assert all(type(v) is int for v in values) and min(values) >= 1 and max(values) <= 5000
    ranks = np.array(values)
    h = (np.arange(1, 5001, dtype=float) ** -1.2).sum()
    for k in (1, 2, 3, 10):
        assert_fraction(ranks == k, k ** -1.2 / h)


def test_zipf_with_format_and_default_exponent():
    values = sample('{zipf: {n: 3}, format: "user-{}"}', n=60_000)
    assert set(values) == {"user-1", "user-2", "user-3"}
    assert_fraction([v == "user-1" for v in values], 1 / (1 + 1 / 2 + 1 / 3))


def test_choice_frequencies_and_bool_keys():
    values = sample("{choice: {true: 0.9, false: 0.1}}")
    assert {type(v) for v in values} == {bool}
    assert_fraction([v is True for v in values], 0.9)
    values = sample("{choice: {vip: 1, free: 9}}")
    assert_fraction([v == "vip" for v in values], 0.1)
    values = sample("{choice: [a, 2, null]}")
    for v in ("a", 2, None):
        assert_fraction([x == v for x in values], 1 / 3)


def test_numeric_generators_give_plain_python_values():
    ints = sample("{uniform_int: {min: 1, max: 3}}")
    assert {type(v) for v in ints} == {int} and set(ints) == {1, 2, 3}
    assert_fraction([v == 3 for v in ints], 1 / 3)
    floats = np.array(sample("{uniform: {min: 2, max: 4}}"))
    assert floats.min() >= 2 and floats.max() < 4
    assert abs(floats.mean() - 3) < 5 * floats.std() / math.sqrt(len(floats))
    normal = sample("{normal: {mean: 10, sd: 2}}")
    assert type(normal[0]) is float
    assert np.mean(normal) == pytest.approx(10, abs=0.03) and np.std(normal) == pytest.approx(2, rel=0.01)


def test_sequence_counts_by_event_index():
    assert sample("{sequence: {}}", n=3) == [1, 2, 3]
    assert sample("{sequence: null}", n=2, first=5) == [6, 7]
    assert sample('{sequence: {start: 0, format: "doc-{}"}}', n=3, first=10) == ["doc-10", "doc-11", "doc-12"]
    assert sample('{sequence: {start: 7}, format: "{:04d}"}', n=2) == ["0007", "0008"]


def test_constants_and_nested_fields():
    gens = fields("""
data:
  plan: pro
  count: 3
  active: true
  tags: [a, b]
  address: {city: Paris, zip: "75001"}
  escaped: {constant: {choice: a}}
  customer:
    tier: {choice: [gold]}
    region: eu
""")
    rng = np.random.default_rng(1)
    rows = {name: gen.sample(rng, 2) for name, gen in gens.items()}
    assert rows["plan"] == ["pro", "pro"] and rows["count"] == [3, 3] and rows["active"] == [True, True]
    assert rows["tags"] == [["a", "b"]] * 2 and rows["tags"][0] is not rows["tags"][1]
    assert rows["address"] == [{"city": "Paris", "zip": "75001"}] * 2
    assert rows["escaped"] == [{"choice": "a"}] * 2
    assert rows["customer"] == [{"tier": "gold", "region": "eu"}] * 2


def test_records_build_one_dict_per_row_in_field_order():
    assert records(["b", "a"])([1, 2], ["x", "y"]) == [{"b": 1, "a": "x"}, {"b": 2, "a": "y"}]
    assert list(records(["b", "a"])([1], ["x"])[0]) == ["b", "a"]
    assert records(["only"])([7, 8]) == [{"only": 7}, {"only": 8}]
    odd = ["user-id", "class", "a b", "{}", "k0"]       # names are values, never code
    assert records(odd)(*[[i] for i in range(5)]) == [dict(zip(odd, range(5)))]


def test_choices_of_containers_are_fresh_per_event_and_scalars_plain():
    picks = sample("{choice: [[1, 2], {a: 1}]}", n=50)
    lists = [p for p in picks if isinstance(p, list)]
    assert len(lists) > 1 and all(p == [1, 2] for p in lists) and lists[0] is not lists[1]
    assert sorted(set(sample("{choice: [x, 3, true]}", n=200)), key=str) == [3, True, "x"]


@pytest.mark.parametrize("text, message, field", [
    ("{f: {zipf: {n: 3}, fmt: x}}", "unknown field 'fmt'; allowed: zipf, format", "data.f.fmt"),
    ("{f: {zipf: {n: 0}}}", "at least 1", "data.f.zipf.n"),
    ("{f: {zipf: {n: 5, s: -1}}}", "at least 0", "data.f.zipf.s"),
    ("{f: {zipf: {n: 3}, format: 'u-{x}'}}", "invalid format", "data.f.format"),
    ("{f: {zipf: {n: 3}, choice: [a]}}", "expected one generator, got zipf, choice", "data.f"),
    ("{f: {uniform_int: {min: 5, max: 1}}}", "must not be below min", "data.f.uniform_int.max"),
    ("{f: {uniform_int: {min: 1.5, max: 3}}}", "expected an integer", "data.f.uniform_int.min"),
    ("{f: {choice: {a: -1, b: 2}}}", "at least 0", "data.f.choice.a"),
    ("{f: {choice: {a: 0}}}", "must not all be zero", "data.f.choice"),
    ("{f: {choice: []}}", "at least one value", "data.f.choice"),
    ("{f: {sequence: {format: 'a{}'}, format: 'b{}'}}", "format is given twice", "data.f.format"),
    ("{f: {normal: {mean: 1}}}", "missing required field 'sd'", "data.f.normal"),
    ("{1: a}", "field names must be non-empty strings", "data[1]"),
    ("[a]", "expected a mapping", "data"),
])
def test_data_errors(text, message, field):
    assert_error(lambda: fields(f"data: {text}"), message, field, line=1)


# -- sources --------------------------------------------------------------------

def traffic(text: str):
    return parse_traffic(node(text, "traffic"))


def run(sources, seed: int = 1, horizon: float = 60.0) -> list:
    return list(merge(sources, Streams(seed), horizon))


def facts(events) -> list[tuple]:
    return [(e.at, e.name, e.id, e.ts, e.data, e.source) for e in events]


SIGNUPS = """
  - event: user/profile.updated
    name: signups
    arrivals: {poisson: {rate: 20/s}}
    data:
      user_id: {zipf: {n: 5000, s: 1.2}, format: "user-{}"}
      active: {choice: {true: 0.9, false: 0.1}}
"""
ORDERS = """
  - event: shop/order.created
    arrivals: {poisson: {rate: 5/s}}
    data: {amount: {uniform: {min: 1, max: 100}}}
"""


def test_same_seed_same_events_and_different_seed_different_events():
    sources = traffic("traffic:" + SIGNUPS + ORDERS)
    assert [s.name for s in sources] == ["signups", "t1"]
    first = run(sources)
    assert facts(first) == facts(run(traffic("traffic:" + SIGNUPS + ORDERS)))
    assert facts(first) != facts(run(sources, seed=2))
    assert all(isinstance(e.data["user_id"], str) and isinstance(e.data["active"], bool)
               for e in first if e.source == "signups")


def test_adding_a_source_does_not_change_the_first_sources_events():
    alone = run(traffic("traffic:" + SIGNUPS))
    together = run(traffic("traffic:" + SIGNUPS + ORDERS))
    assert facts(alone) == facts(e for e in together if e.source == "signups")
    assert len(together) > len(alone)


def test_sources_with_different_names_have_different_streams():
    a, b = traffic("traffic:" + SIGNUPS + SIGNUPS.replace("signups", "other"))
    events_a, events_b = run([a]), run([b])
    assert [e.at for e in events_a] != [e.at for e in events_b]
    assert [e.data["user_id"] for e in events_a[:50]] != [e.data["user_id"] for e in events_b[:50]]


def test_adding_a_field_changes_no_other_field_nor_the_arrivals():
    more = SIGNUPS.replace("    data:\n", "    data:\n      plan: {choice: [free, pro]}\n")
    assert more != SIGNUPS
    before, after = run(traffic("traffic:" + SIGNUPS)), run(traffic("traffic:" + more))
    assert [(e.at, e.data["user_id"], e.data["active"]) for e in before] == \
           [(e.at, e.data["user_id"], e.data["active"]) for e in after]


def test_merge_orders_by_time_then_source_position_and_numbers_seq():
    sources = traffic("""
traffic:
  - name: b
    events:
      - {at: 1s, name: x, id: b1}
      - {at: 2s, name: x, id: b2}
  - name: a
    events:
      - {at: 2s, name: y, id: a2}
      - {at: 1s, name: y, id: a1}
      - {at: 0.5s, name: y, id: a0}
  - event: z
    arrivals: {constant: {every: 1s}}
""")
    events = run(sources, horizon=2.5)
    assert [e.id for e in events] == ["t2-0", "a0", "b1", "a1", "t2-1", "b2", "a2", "t2-2"]
    assert [e.seq for e in events] == list(range(8))


def test_explicit_events_are_sorted_stably_with_ids_and_defaults():
    (source,) = traffic("""
traffic:
  - name: replay
    event: user/profile.updated
    events:
      - {at: 3s, data: {user_id: c}}
      - {at: 1.5s, data: {user_id: a}, id: evt-2, ts: -1s, user: {plan: pro}}
      - {at: 1.5s, name: other, durations: {send: 2s}}
      - {at: 0s}
      - {at: 10s}
""")
    events = run([source], horizon=10)
    assert [(e.at, e.id, e.name) for e in events] == [
        (0.0, "replay-0", "user/profile.updated"), (1.5, "evt-2", "user/profile.updated"),
        (1.5, "replay-2", "other"), (3.0, "replay-3", "user/profile.updated")]
    assert [e.ts for e in events] == [0.0, -1.0, 1.5, 3.0]
    assert events[1].user == {"plan": "pro"} and events[2].durations == {"send": 2.0}
    assert events[3].data == {"user_id": "c"} and events[0].data == {}
    events[3].data["user_id"] = "changed"
    assert run([source], horizon=10)[3].data == {"user_id": "c"}


def test_generated_window_ids_and_ts_offset():
    (source,) = traffic("""
traffic:
  - event: tick
    name: ticks
    arrivals: {constant: {every: 1s}}
    start: 10s
    end: 20s
    ts_offset: {uniform: {min: -1s, max: 500ms}}
    data: {n: {sequence: {}}}
""")
    events = run([source], horizon=15.5)
    assert [e.at for e in events] == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert [e.id for e in events] == [f"ticks-{k}" for k in range(6)]
    assert [e.data["n"] for e in events] == [1, 2, 3, 4, 5, 6]
    offsets = np.array([e.ts - e.at for e in events])
    assert (offsets >= -1).all() and (offsets < 0.5).all() and len(set(offsets)) == 6


def test_data_blocks_follow_the_event_index_across_chunks():
    (source,) = traffic("""
traffic:
  - event: e
    arrivals: {constant: {every: 1ms}}
    ts_offset: -2s
    data: {n: {sequence: {start: 0}}}
""")
    events = run([source], horizon=3 * CHUNK / 1000 + 0.0005)
    assert [e.data["n"] for e in events] == list(range(3 * CHUNK + 1))
    assert all(e.ts == pytest.approx(e.at - 2) for e in events)


class Batches:
    """An arrival process that yields given times in lists of the given sizes."""

    rate = 1.0

    def __init__(self, times: list[float], sizes: list[int]) -> None:
        self.times, self.sizes = times, sizes

    def blocks(self, rng, start, end):
        k = 0
        for size in self.sizes:
            yield self.times[k:k + size]
            k += size


class BlockSize:
    """A data field whose value is the size of the block it was drawn for."""

    def sample(self, rng, n, first=0):
        return [n] * n


def test_data_is_drawn_per_chunk_whatever_lists_the_arrival_process_yields():
    n = 2 * CHUNK + 5
    times_ = [i / 1000 for i in range(n)]
    for sizes in ([n], [1, 0, CHUNK, CHUNK - 1, 5], [CHUNK, CHUNK, 3, 0, 2]):
        source = GeneratedSource("s", "e", Batches(times_, sizes), {"n": BlockSize()})
        events = list(source.events(Streams(1), 1e9))
        assert [e.at for e in events] == times_
        assert [e.data["n"] for e in events] == [CHUNK] * (2 * CHUNK) + [5] * 5


def test_generated_events_share_only_read_only_empties():
    bare, rich = traffic("traffic:\n  - {event: e, arrivals: {constant: {every: 1s}}}\n"
                         "  - {event: e, arrivals: {constant: {every: 1s}}, data: {n: 1}}\n")
    a, b = run([bare], horizon=2)
    assert all(hasattr(a, slot) for slot in Event.__slots__)        # made without __init__
    assert a.data == {} and a.data is b.data and a.user is NO_USER and b.user is NO_USER
    c, d = run([rich], horizon=2)
    assert c.data == d.data == {"n": 1} and c.data is not d.data
    assert a.cache is not b.cache and a.durations is None
    key = compile_expr("event.data.n + 1")
    assert key.on(c) == 2 and c.cache and not d.cache
    assert a.as_cel() == {"name": "e", "data": {}, "id": "t0-0", "ts": 0, "user": {}}
    assert NO_USER == {}


def test_a_lone_source_numbers_its_events():
    (explicit,) = traffic("traffic:\n  - {name: x, events: [{at: 2s, name: e}, {at: 1s, name: e}]}\n")
    assert [(e.id, e.seq) for e in run([explicit])] == [("x-0", 0), ("x-1", 1)]
    (generated,) = traffic("traffic:\n  - {event: e, arrivals: {poisson: {rate: 5/s}}}\n")
    events = run([generated], horizon=100)
    assert [e.seq for e in events] == list(range(len(events))) and len(events) > 400


def test_merge_matches_a_sort_by_time_position_and_index():
    """Sources with many equal times: runs from one source stop at the others' heads."""
    sources = traffic("""
traffic:
  - {name: a, event: e, arrivals: {constant: {every: 1s}}}
  - {name: b, event: e, arrivals: {constant: {every: 500ms}}, start: 1s}
  - {name: c, event: e, arrivals: {bursts: {every: 3s, size: 4}}}
  - {name: d, event: e, arrivals: {poisson: {rate: 2/s}}, end: 20s}
  - {name: e, events: [{at: 3s, name: e}, {at: 3s, name: e}, {at: 0s, name: e}]}
  - {name: f, event: e, arrivals: {poisson: {rate: 0/s}}}
""")
    events = run(sources, horizon=30)
    position = {s.name: p for p, s in enumerate(sources)}
    alone = {s.name: [e.id for e in run([s], horizon=30)] for s in sources}
    expected = sorted((e for e in events), key=lambda e: (e.at, position[e.source], alone[e.source].index(e.id)))
    assert [e.id for e in events] == [e.id for e in expected]
    assert [e.seq for e in events] == list(range(len(events)))
    assert sum(map(len, alone.values())) == len(events) > 150


def test_events_are_lazy():
    began = time.perf_counter()
    first = list(islice(merge(traffic("traffic:" + SIGNUPS + ORDERS), Streams(1), 1e9), 5))
    assert len(first) == 5 and time.perf_counter() - began < 1


@pytest.mark.parametrize("text, message, field, line", [
    ("traffic:\n  - event: e\n    arrivals: {poisson: {rate: 1/s}}\n    rate: 5/s\n",
     "unknown field 'rate'; allowed: name, event, arrivals, data, start, end, ts_offset", "traffic[0].rate", 4),
    ("traffic:\n  - events: []\n    arrivals: {poisson: {rate: 1/s}}\n",
     "unknown field 'arrivals'; allowed: name, event, events", "traffic[0].arrivals", 3),
    ("traffic:\n  - event: e\n", "missing required field 'arrivals'", "traffic[0]", 2),
    ("traffic:\n  - arrivals: {poisson: {rate: 1/s}}\n", "missing required field 'event'", "traffic[0]", 2),
    ("traffic:\n  - {name: a, events: []}\n  - {name: a, events: []}\n",
     "duplicate traffic source name 'a' (also traffic[0])", "traffic[1].name", 3),
    ("traffic:\n  - {events: []}\n  - {name: t0, events: []}\n", "duplicate traffic source name 't0'",
     "traffic[1].name", 3),
    ("traffic:\n  - {name: a/b, events: []}\n", "must not contain '/'", "traffic[0].name", 2),
    ("traffic:\n  - event: e\n    arrivals: {poisson: {rate: 1/s}}\n    start: 5s\n    end: 5s\n",
     "end must be after start", "traffic[0].end", 5),
    ("traffic:\n  - events:\n      - {at: -1s, name: e}\n", "expected a duration", "traffic[0].events[0].at", 3),
    ("traffic:\n  - events:\n      - {at: 1s}\n", "missing required field 'name'", "traffic[0].events[0]", 3),
    ("traffic:\n  - events:\n      - {at: 1s, name: e, when: 2s}\n",
     "unknown field 'when'; allowed: at, name, data, id, ts, user, durations", "traffic[0].events[0].when", 3),
    ("traffic: {event: e}\n", "expected a list", "traffic", 1),
])
def test_source_errors(text, message, field, line):
    assert_error(lambda: traffic(text), message, field, line)
