"""Traffic statistics: a hand-computed stream, the histogram percentiles against numpy,
the real traces against the figures published with them, and the `traffic stats` command."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowsim.streams import Streams
from flowsim.traffic.cli import traffic_app
from flowsim.traffic.event import Event
from flowsim.traffic.replay import ReplaySource, Seconds, TimeSpec, TraceMapping, DataColumn
from flowsim.traffic.stats import _percentile, format_stats, traffic_stats

TRACES = Path(__file__).parent.parent / "traces"
AZURE = TRACES / "azure-functions-2021-fixture" / "AzureFunctionsInvocationTraceForTwoWeeksJan2021.head998.csv.gz"
LLM_CODE = TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv.gz"
NASA = TRACES / "nasa-http-1995" / "nasa_19950801.tsv.gz"

# Six events; the last has no key.
TIMES = [0, 0.5, 1, 1, 61, 200]
KEYS = ["a", "b", "a", "a", "b", None]


def hand_events() -> list[Event]:
    return [Event(t, "go", {"k": k} if k else {}, id=str(i)) for i, (t, k) in enumerate(zip(TIMES, KEYS))]


def test_hand_computed_stream():
    s = traffic_stats(hand_events(), ["data.k", "name"])
    assert (s.events, s.first_at, s.last_at, s.span, s.rate_mean) == (6, 0, 200, 200, 6 / 200)
    # Minutes from the first event hold 4, 1, 0, 1 events.
    m = s.per_minute
    assert (m.buckets, m.empty) == (4, 1)
    assert (m.mean, m.p50, m.max) == pytest.approx((6 / 4 / 60, 1 / 60, 4 / 60))
    assert m.p99 == pytest.approx((1 + 3 * 0.97) / 60)          # between the 3rd and 4th of [0, 1, 1, 4]
    # Seconds 0..200: 2, 2 at seconds 0 and 1, 1 at 61 and 200, 197 empty.
    sec = s.per_second
    assert (sec.buckets, sec.empty, sec.p99, sec.max) == (201, 197, 1.0, 2.0)
    # Gaps 0.5, 0.5, 0, 60, 139: mean 40, squared deviations sum to 14921.5.
    assert s.iat_mean == pytest.approx(40)
    assert s.iat_cv == pytest.approx(math.sqrt(14921.5 / 5) / 40)
    k = s.keys[0]
    assert (k.path, k.distinct, k.missing, k.top, k.top1_share, k.top10_share) == ("data.k", 2, 1,
                                                                                     [("a", 3), ("b", 2)], 0.6, 1.0)
    # Same-key gaps: a 1 and 0, b 60.5.
    assert (k.same_key_gaps, k.gap_at_most) == (3, {"1s": 2 / 3, "10s": 2 / 3, "1m": 2 / 3})
    assert (s.keys[1].distinct, s.keys[1].top) == (1, [("go", 6)])


def test_empty_stream():
    s = traffic_stats([], ["data.k"])
    assert (s.events, s.rate_mean, s.iat_cv, s.per_minute.buckets, s.keys[0].distinct) == (0, None, None, 0, 0)
    assert format_stats(s, "x") == "x: 0 events"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=60), st.floats(0, 100))
def test_histogram_percentile_is_numpys(values, q):
    assert _percentile(Counter(values), q) == pytest.approx(np.percentile(values, q), abs=1e-9)


def csv_source(path: Path, time: TimeSpec, keys: list[str] = (), fmt: str = "csv") -> ReplaySource:
    mapping = TraceMapping(fmt, time=time, event="go", data=tuple(DataColumn(k, k) for k in keys))
    return ReplaySource("t", path, mapping)


# Figures published with the traces (traces/stats.json, computed independently).
def test_llm_code_trace_matches_its_published_figures():
    s = traffic_stats(csv_source(LLM_CODE, TimeSpec("TIMESTAMP")).events(Streams(0), math.inf))
    assert s.events == 8819 and s.rate_mean == pytest.approx(2.5667, abs=1e-4)
    m, sec = s.per_minute, s.per_second
    assert (m.buckets, m.empty) == (58, 12)
    assert (m.p50, m.p99, m.max) == pytest.approx((1.8667, 9.5738, 10.5333), abs=1e-4)
    assert (sec.p99, sec.max) == pytest.approx((27.65, 67))
    assert s.iat_cv == pytest.approx(13.151, abs=1e-3)


def test_nasa_trace_matches_its_published_figures():
    s = traffic_stats(csv_source(NASA, TimeSpec("time"), ["host", "url"], "tsv").events(Streams(0), math.inf),
                      ["data.host", "data.url"])
    assert s.events == 30969 and s.span == 46321
    assert (s.per_minute.buckets, s.per_minute.empty) == (773, 7)
    assert (s.per_minute.p99, s.per_minute.max) == pytest.approx((1.7667, 2.7333), abs=1e-4)
    assert (s.per_second.p99, s.per_second.max) == (5, 17)
    assert s.iat_cv == pytest.approx(2.386, abs=1e-3)
    host, url = s.keys
    assert (host.distinct, url.distinct) == (2365, 2088)
    assert (host.top1_share, host.top10_share, url.top1_share, url.top10_share) == pytest.approx(
        (0.0118, 0.0659, 0.0691, 0.4384), abs=1e-4)
    assert list(host.gap_at_most.values()) == pytest.approx([0.3705, 0.6683, 0.8704], abs=1e-4)
    assert url.top[0] == ("/images/NASA-logosmall.gif", 2140)


def test_azure_functions_trace_matches_its_published_figures():
    time = TimeSpec("end_timestamp", "seconds", Seconds("duration"))
    s = traffic_stats(csv_source(AZURE, time, ["app"]).events(Streams(0), math.inf), ["data.app"])
    assert (s.events, s.per_second.max, s.per_minute.buckets) == (998, 22, 108)
    assert s.iat_cv == pytest.approx(1.752, abs=1e-3)
    assert (s.keys[0].distinct, s.keys[0].top10_share) == (21, pytest.approx(0.9309, abs=1e-4))


# -- the command ----------------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(traffic_app, ["stats", *map(str, args)])


def hand_csv(tmp_path: Path) -> Path:
    rows = [f"{1700000000 + t},{k or ''}" for t, k in zip(TIMES, KEYS)]
    path = tmp_path / "hand.csv"
    path.write_text("t,k\n" + "\n".join(rows) + "\n")
    return path


def test_the_command_prints_the_figures(tmp_path):
    path = hand_csv(tmp_path)
    result = invoke(path, "--time", "t", "--key", "k")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: 6 events over 3m20s (200.0 s), from 2023-11-14 22:13:20.000 UTC to 2023-11-14 22:16:40.000 UTC",
        "events per second: mean 0.030",
        "  per minute: p50 0.017, p99 0.065, max 0.067 (4 minutes, 1 empty)",
        "  per second: p99 1.0, peak 2 (201 seconds, 197 empty)",
        "inter-arrival: mean 40s, CV 1.37",
        "key data.k: 2 distinct; top-1 share 60.0%, top-10 share 100.0%; 1 events without it",
        "  same-key gaps: <= 1s 66.7%, <= 10s 66.7%, <= 1m 66.7%",
        "          3  60.0%  a",
        "          2  40.0%  b",
    ]
    as_json = json.loads(invoke(path, "--time", "t", "--key", "k", "--json").stdout)
    assert (as_json["events"], as_json["per_second"]["max"], as_json["origin_epoch"]) == (6, 2.0, 1700000000)
    window = invoke(path, "--time", "t", "--start", "1s", "--end", "2023-11-14 22:15:00")
    assert window.stdout.splitlines()[0].startswith(f"{path}: 3 events over 1m (60.0 s), from 2023-11-14 22:13:21.000 UTC")


def test_the_command_reads_azure_end_times_and_scenarios(tmp_path):
    result = invoke(AZURE, "--end-time", "end_timestamp", "--duration", "duration", "--key", "app", "--top", "1")
    assert result.exit_code == 0, result.stderr
    assert "key data.app: 21 distinct; top-1 share 22.9%, top-10 share 93.1%" in result.stdout
    scenario = tmp_path / "s.yaml"
    scenario.write_text("horizon: 10s\nfunctions: [{id: f, triggers: [go], steps: [{run: s, duration: 1s}]}]\n"
                        "traffic:\n  - {event: go, arrivals: {constant: {every: 500ms}}, data: {k: x}}\n")
    result = invoke(scenario, "--key", "k")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [f"{scenario}: 20 events over 9.5s, from 0.000 s to 9.500 s",
                                              "events per second: mean 2.105"]
    assert "key data.k: 1 distinct; top-1 share 100.0%" in result.stdout


def test_the_command_reports_bad_input_with_exit_code_2(tmp_path):
    path = hand_csv(tmp_path)
    result = invoke(path, "--time", "tme")
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}:1: tme: missing column 'tme'; the columns are: t, k\n"
    result = invoke(path)
    assert result.exit_code == 2 and "error: --time: give the time column" in result.stderr
    unsorted = tmp_path / "u.csv"
    unsorted.write_text("t\n5\n3\n")
    result = invoke(unsorted, "--time", "t")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: {unsorted}:3: t: out of order: the time is 2s before line 2's")
    result = invoke(unsorted, "--time", "t", "--strict")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {unsorted}:3: t: out of order")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("functions: []\ntraffic: []\n")
    result = invoke(scenario, "--time", "t")
    assert result.exit_code == 2 and "error: --time: --time map a trace's columns" in result.stderr
