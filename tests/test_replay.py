"""Replay: each format parses to hand-checked events, windows/speed/scale/remap, sorting,
the real traces, laziness, and every bad-file and bad-mapping error with its location."""
from __future__ import annotations

import gzip
import hashlib
import math
import tracemalloc
from pathlib import Path

import pytest
import yaml

import flowsim
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.scenario.source import Node, load_yaml
from flowsim.streams import Streams
from flowsim.traffic.replay import (ReplaySource, Seconds, TimeSpec, TraceMapping, TraceReader, sort_records)
from flowsim.traffic.sources import parse_traffic

TRACES = Path(__file__).parent.parent / "traces"
AZURE = TRACES / "azure-functions-2021-fixture" / "AzureFunctionsInvocationTraceForTwoWeeksJan2021.head998.csv.gz"
LLM_CODE = TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv.gz"
NASA = TRACES / "nasa-http-1995" / "nasa_19950801.tsv.gz"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def source(replay: dict, *, name: str = "r", event: str | None = "go") -> ReplaySource:
    """A replay source parsed from a scenario's traffic entry (a YAML file named scenario.yaml)."""
    entry = {"name": name, "replay": replay, **({"event": event} if event is not None else {})}
    data, src = load_yaml(yaml.safe_dump({"traffic": [entry]}, sort_keys=False), "scenario.yaml")
    return parse_traffic(Node(data, (), src).child("traffic"))[0]


def events(src: ReplaySource, horizon: float = math.inf, seed: int = 1) -> list[flowsim.traffic.event.Event]:
    return list(src.events(Streams(seed), horizon))


def located(fn, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None):
    with pytest.raises(ScenarioError) as info:
        fn()
    err = info.value
    assert message in err.message, err.format()
    if file is not None:
        assert err.file == file, err.format()
    assert err.line == line, err.format()
    assert err.field == field, err.format()
    return err


# -- each format, hand-checked -----------------------------------------------------

def test_inngest_jsonl_crlf_blank_lines_no_final_newline(tmp_path):
    f = write(tmp_path / "events.jsonl",
              '{"name": "app/a", "data": {"k": 1}, "id": "e1", "ts": 1700000000000}\r\n'
              '\r\n'
              '{"name": "app/b", "data": {}, "ts": 1700000000250.5, "user": {"u": 1}, "v": "2024-01-01.1"}\r\n'
              '{"name": "app/a", "ts": 1700000061000}')
    replay = source({"file": str(f)}).open(Streams(1))
    got = list(replay)
    assert [(e.at, e.ts, e.name, e.id, e.data, e.user) for e in got] == [
        (0.0, 0.0, "app/a", "e1", {"k": 1}, {}),
        (0.2505, 0.2505, "app/b", "r-3", {}, {"u": 1}),
        (61.0, 61.0, "app/a", "r-4", {}, {}),
    ]
    assert [e.source for e in got] == ["r"] * 3
    assert replay.origin_epoch == 1700000000
    assert got[1].as_cel()["ts"] == 250          # CEL sees ms since the simulation start


def test_jsonl_durations_from_a_data_field(tmp_path):
    f = write(tmp_path / "e.jsonl", '{"name": "a", "ts": 0, "data": {"tokens": 120}}\n'
                                    '{"name": "a", "ts": 5, "data": {}}\n')
    got = events(source({"file": str(f), "durations": {"gen": {"column": "data.tokens", "unit": "10ms",
                                                               "offset": "1s"}}}))
    assert [e.durations for e in got] == [{"gen": pytest.approx(2.2)}, None]
    bad = write(tmp_path / "b.jsonl", '{"name": "a", "ts": 0, "data": {"tokens": "many"}}\n')
    located(lambda: events(source({"file": str(bad), "durations": {"gen": "data.tokens"}})),
            'expected a number, got "many"', file=str(bad), line=1, field="data.tokens")


def test_csv_datetimes_with_seven_digits_crlf_no_final_newline(tmp_path):
    f = write(tmp_path / "llm.csv",
              "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
              "2023-11-16 18:17:03.9799600,4808,10\r\n"
              "2023-11-16 18:17:04.0319600,3180,8\r\n"
              "2023-11-16 18:18:04.0000001,100,0")
    got = events(source({"file": str(f), "time": "TIMESTAMP",
                         "data": {"tokens": {"column": "GeneratedTokens", "type": "int"}, "ctx": "ContextTokens"},
                         "durations": {"generate": {"column": "GeneratedTokens", "unit": "20ms",
                                                    "offset": "200ms"}}}))
    assert [e.at for e in got] == pytest.approx([0.0, 0.052, 60.0200401], abs=1e-12)
    assert [e.data for e in got] == [{"tokens": 10, "ctx": "4808"}, {"tokens": 8, "ctx": "3180"},
                                     {"tokens": 0, "ctx": "100"}]
    assert [e.durations for e in got] == [{"generate": pytest.approx(0.4)}, {"generate": pytest.approx(0.36)},
                                          {"generate": 0.2}]
    assert [e.id for e in got] == ["r-2", "r-3", "r-4"] and {e.name for e in got} == {"go"}


def test_azure_start_is_end_minus_duration_on_the_real_fixture():
    got = events(source({"file": str(AZURE), "time": {"end": "end_timestamp", "duration": "duration"},
                         "data": ["app", "func"], "durations": {"invoke": "duration"}}, name="az"))
    assert len(got) == 998
    # The file's first four rows: end_timestamp - duration, by hand.
    assert [e.at for e in got[:4]] == pytest.approx(
        [0.07949090003967285 - 0.078, 57.15786004066467 - 57.154, 59.13047790527344 - 59.125,
         6.2525410652160645 - 6.236], abs=1e-12)
    assert [e.durations["invoke"] for e in got[:4]] == [0.078, 57.154, 59.125, 6.236]
    assert got[0].data == {"app": "7b2c43a2bc30f6bb438074df88b603d2cb982d3e7961de05270735055950a568",
                           "func": "e3cdb48830f66eb8689cc0223514569a69812b77e6611e3d59814fac0747bd2f"}
    assert [e.id for e in got[:4]] == ["az-2", "az-3", "az-4", "az-5"]
    assert got[-1].at == pytest.approx(6464.802797006607, abs=1e-9)     # stats.json t_last
    assert all(a.at <= b.at for a, b in zip(got, got[1:]))


def test_real_llm_trace_crlf_gzip():
    replay = source({"file": str(LLM_CODE), "time": "TIMESTAMP",
                     "data": {"tokens": {"column": "GeneratedTokens", "type": "int"}}}).open(Streams(1))
    got = list(replay)
    assert len(got) == 8819 and replay.time_format == "datetime"
    assert (got[0].at, got[0].data, got[1].at) == (0.0, {"tokens": 10}, pytest.approx(0.052, abs=1e-9))
    assert got[-1].at == pytest.approx(1700162059.928016 - 1700158623.97996, abs=1e-6)
    assert replay.origin_epoch == pytest.approx(1700158623.97996, abs=1e-6)


def test_tsv_rows_shorter_than_the_header_and_the_real_nasa_day(tmp_path):
    f = write(tmp_path / "n.tsv", "host\tlogname\ttime\tmethod\turl\tresponse\tbytes\treferer\tuseragent\n"
                                  "a.com\t-\t807256800\tGET\t/x.gif\t200\t1713\n"
                                  "b.org\t-\t807256804\tGET\t/\"q\".html\t304\t0\n")
    got = events(source({"file": str(f), "time": "time", "name": "url",
                         "data": {"host": "host", "bytes": {"column": "bytes", "type": "int"}}}))
    assert [(e.at, e.name, e.data) for e in got] == [(0.0, "/x.gif", {"host": "a.com", "bytes": 1713}),
                                                     (4.0, '/"q".html', {"host": "b.org", "bytes": 0})]
    nasa = events(source({"file": str(NASA), "time": "time", "data": ["host", "url"]}))
    assert len(nasa) == 30969 and nasa[-1].at == 807303121 - 807256800
    assert nasa[0].data == {"host": "pppa006.compuserve.com", "url": "/images/launch-logo.gif"}


@pytest.mark.parametrize("cells, fmt, expected", [
    (["0.5", "1.5"], "seconds", [0.5, 1.5]),                         # relative clock: origin 0
    (["1700000000", "1700000001.25"], "epoch_s", [0.0, 1.25]),
    (["1700000000000", "1700000001250"], "epoch_ms", [0.0, 1.25]),
    (["2024-01-01T00:00:00Z", "2024-01-01T01:00:01.5+01:00"], "datetime", [0.0, 1.5]),
    (["2024-01-01 00:00:00", "2024-01-01T00:00:02"], "datetime", [0.0, 2.0]),
])
def test_time_formats_detected_and_explicit(tmp_path, cells, fmt, expected):
    f = write(tmp_path / "t.csv", "when\n" + "\n".join(cells) + "\n")
    for given in ("auto", fmt):
        replay = source({"file": str(f), "time": {"column": "when", "format": given}}).open(Streams(1))
        assert [e.at for e in replay] == pytest.approx(expected, abs=1e-12)
        assert replay.time_format == fmt


def test_headerless_columns_gzip_empty_cells_and_name_fallback(tmp_path):
    text = "1.0,x,5\n2.0,,\n"
    plain = write(tmp_path / "t.csv", text)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    runs = []
    for f in (plain, packed):
        src = source({"file": str(f), "header": False, "columns": ["t", "kind", "n"], "time": "t",
                      "name": "kind", "data": {"n": {"column": "n", "type": "int"}}}, event="fallback")
        runs.append([(e.at, e.name, e.data) for e in events(src)])
    assert runs[0] == runs[1] == [(1.0, "x", {"n": 5}), (2.0, "fallback", {})]


# -- window, speed, scale, remap ---------------------------------------------------------

def seconds_file(tmp_path: Path, n: int, step: float = 1.0, extra: str = "") -> Path:
    return write(tmp_path / "s.csv", "t,host\n" + "".join(f"{i * step!r},h{i % 7}\n" for i in range(n)) + extra)


def test_window_speed_and_horizon(tmp_path):
    f = seconds_file(tmp_path, 100)
    assert [e.at for e in events(source({"file": str(f), "time": "t", "start": "10s", "end": "20s"}))] == \
        [float(i) for i in range(10)]
    assert [e.at for e in events(source({"file": str(f), "time": "t", "start": "10s", "speed": 2}), 5)] == \
        [i / 2 for i in range(10)]
    epoch = write(tmp_path / "e.csv", "t\n" + "".join(f"{1700000000 + i}\n" for i in range(10)))
    got = events(source({"file": str(epoch), "time": "t", "start": "2023-11-14T22:13:23Z", "end": "2023-11-14 22:13:26"}))
    assert [e.at for e in got] == [0.0, 1.0, 2.0]        # 1700000003 .. 1700000005


def test_thinning_keeps_the_fraction_and_does_not_depend_on_the_window(tmp_path):
    n = 20_000
    f = seconds_file(tmp_path, n, 0.01)
    kept = events(source({"file": str(f), "time": "t", "scale": 0.3}))
    assert abs(len(kept) - 0.3 * n) < 5 * math.sqrt(n * 0.3 * 0.7)
    assert [e.id for e in kept] == [e.id for e in events(source({"file": str(f), "time": "t", "scale": 0.3}))]
    assert [e.id for e in kept] != [e.id for e in events(source({"file": str(f), "time": "t", "scale": 0.3}),
                                                         seed=2)]
    window = events(source({"file": str(f), "time": "t", "scale": 0.3, "start": "50s", "end": "100s"}))
    assert [e.id for e in window] == [e.id for e in kept if 50 <= e.at < 100]


def test_copies_get_new_ids_and_jitter_keeps_order(tmp_path):
    f = seconds_file(tmp_path, 1000)
    doubled = events(source({"file": str(f), "time": "t", "scale": 2}))
    assert [e.id for e in doubled[:4]] == ["r-2", "r-2~1", "r-3", "r-3~1"]
    assert [e.at for e in doubled[:4]] == [0.0, 0.0, 1.0, 1.0] and doubled[1].data == doubled[0].data
    assert doubled[1].data is not doubled[0].data
    n = 1000
    more = events(source({"file": str(f), "time": "t", "scale": 2.5}))
    assert abs(len(more) - 2.5 * n) < 5 * math.sqrt(n * 0.25)
    jittered = events(source({"file": str(f), "time": "t", "scale": 3, "jitter": "5s", "speed": 2}))
    assert len(jittered) == 3 * n
    assert all(a.at <= b.at for a, b in zip(jittered, jittered[1:]))
    origin = {e.id: e.at for e in jittered if "~" not in e.id}
    shifts = [e.at - origin[e.id.split("~")[0]] for e in jittered if "~" in e.id]
    assert min(shifts) >= 0 and max(shifts) < 2.5 and max(shifts) > 2.0     # jitter 5 s at speed 2


def test_remap_hashes_keys_into_buckets(tmp_path):
    f = seconds_file(tmp_path, 50)
    got = events(source({"file": str(f), "time": "t", "data": ["host"],
                         "remap": {"tenant": {"from": "host", "buckets": 3, "format": "t-{}"}, "host": {"buckets": 2}}}))

    def bucket(key: str, n: int) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") % n

    for e in got[:7]:
        host = f"h{int(e.at) % 7}"
        assert e.data == {"host": bucket(host, 2), "tenant": f"t-{bucket(host, 3)}"}
    assert {e.data["tenant"] for e in got} <= {"t-0", "t-1", "t-2"}


# -- out of order ---------------------------------------------------------------------

def test_out_of_order_is_sorted_with_one_warning(tmp_path):
    f = write(tmp_path / "o.csv", "t\n0\n2\n1\n3\n1\n")
    with pytest.warns(ScenarioWarning) as caught:
        got = events(source({"file": str(f), "time": "t"}))
    assert [(e.at, e.id) for e in got] == [(0, "r-2"), (1, "r-4"), (1, "r-6"), (2, "r-3"), (3, "r-5")]
    assert len(caught) == 1
    assert str(caught[0].message) == (f"{f}:4: t: out of order: the time is 1s before line 3's; sorting "
                                      f"within a window of 10000 lines (`order: strict` rejects such files)")


def test_out_of_order_rejected_with_strict_or_beyond_the_window(tmp_path):
    f = write(tmp_path / "o.csv", "t\n10\n11\n12\n13\n0\n")
    located(lambda: events(source({"file": str(f), "time": "t", "order": "strict"})),
            "out of order: the time is 13s before line 5's (`order: strict`)", file=str(f), line=6, field="t")
    located(lambda: events(source({"file": str(f), "time": "t", "sort_window": 2})),
            "out of order by more than the sort window (2 lines): the time is 11s before line 3's, "
            "already replayed", file=str(f), line=6, field="t")


# -- laziness --------------------------------------------------------------------------

def test_reading_stops_at_the_horizon(tmp_path):
    f = write(tmp_path / "big.jsonl", "".join(f'{{"name": "go", "ts": {i * 10}}}\n' for i in range(30_000))
              + "not json\n")
    src = source({"file": str(f), "sort_window": 100})
    assert len(events(src, horizon=5.0)) == 500          # never reaches the bad last line
    located(lambda: events(src), "invalid JSON", file=str(f), line=30_001)


def test_memory_does_not_grow_with_the_file(tmp_path):
    n = 100_000
    f = write(tmp_path / "big.csv", "t,host,url\n" + "".join(f"{i / 100!r},h{i % 977},/p{i % 13}\n"
                                                             for i in range(n)))
    src = source({"file": str(f), "time": "t", "data": ["host", "url"], "sort_window": 1000})
    tracemalloc.start()
    try:
        count = sum(1 for _ in src.events(Streams(1), math.inf))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 4_000_000, peak        # holding the events would take about 60 MB


# -- the engine uses the replayed durations and names -----------------------------------

def test_replayed_durations_drive_the_steps(tmp_path):
    f = write(tmp_path / "d.csv", "t,kind,ms\n0,a,1500\n1,b,\n2,a,250\n")
    sc = {"name": "d", "seed": 1, "horizon": "1m", "platform": "ideal",
          "functions": [{"id": "f", "triggers": [{"event": "a"}, {"event": "b"}], "concurrency": 1,
                         "steps": [{"run": "work", "duration": "4s"}]}],
          "traffic": [{"replay": {"file": str(f), "time": "t", "name": "kind",
                                  "durations": {"work": {"column": "ms", "unit": "1ms"}}}}]}
    steps = flowsim.simulate(sc).steps
    assert list(zip(steps.started_at, steps.ended_at)) == [(0.0, 1.5), (1.5, 5.5), (5.5, 5.75)]


# -- bad files: line and column -------------------------------------------------------

def test_unparsable_times(tmp_path):
    f = write(tmp_path / "d.csv", "TIMESTAMP,x\n2023-11-16 18:17:03.97,1\n2023-11-16 25:00:00,2\n")
    located(lambda: events(source({"file": str(f), "time": "TIMESTAMP"})),
            "cannot read '2023-11-16 25:00:00' as a datetime (ISO-8601 or YYYY-MM-DD HH:MM:SS.fffffff)",
            file=str(f), line=3, field="TIMESTAMP")
    g = write(tmp_path / "e.csv", "t\n1700000000\n17000000x1\n")
    located(lambda: events(source({"file": str(g), "time": "t"})), "cannot read '17000000x1' as epoch seconds",
            file=str(g), line=3, field="t")
    h = write(tmp_path / "e.jsonl", '{"name": "a", "ts": 1}\n{"name": "a", "ts": "2024-01-01"}\n')
    located(lambda: events(source({"file": str(h)})), 'expected epoch milliseconds, got "2024-01-01"',
            file=str(h), line=2, field="ts")
    located(lambda: events(source({"file": str(write(tmp_path / "m.jsonl", '{"name": "a"}'))})),
            "missing (epoch milliseconds)", line=1, field="ts")


def test_missing_columns_in_the_file(tmp_path):
    f = write(tmp_path / "d.tsv", "a\tt\tb\n1\t5\t3\n1\t6\n")
    located(lambda: events(source({"file": str(f), "time": "t", "data": ["a", "b"]})),
            "missing column 'b': the row has 2 fields, the header 3", file=str(f), line=3, field="b")
    n = write(tmp_path / "n.csv", "t,a\n1,2\n2,x\n")
    located(lambda: events(source({"file": str(n), "time": "t", "data": {"a": {"column": "a", "type": "int"}}})),
            "cannot read 'x' as an integer", file=str(n), line=3, field="a")
    g = write(tmp_path / "x.csv", "t,a\n1,2\n2,3,4\n")
    located(lambda: events(source({"file": str(g), "time": "t"})),
            "the row has 3 fields but the header only 2", file=str(g), line=3)
    # The header changed after the scenario was checked: the reader names the file's line 1.
    reader = TraceReader(g, TraceMapping("csv", time=TimeSpec("t"), data=(), event="go", name="kind"))
    located(lambda: list(reader.records()), "missing column 'kind'; the columns are: t, a",
            file=str(g), line=1, field="kind")


def test_invalid_json_and_bad_event_fields(tmp_path):
    cases = [
        ('{"name": "a", "ts": 1,}', "invalid JSON: Expecting property name enclosed in double quotes (column 23)",
         None),
        ("[1, 2]", "expected a JSON object (an event), got list", None),
        ('{"name": 5, "ts": 1}', "expected a non-empty string, got 5", "name"),
        ('{"ts": 1}', "missing event name", "name"),
        ('{"name": "a", "ts": 1, "data": [1]}', "expected a JSON object, got [1]", "data"),
        ('{"name": "a", "ts": 1, "id": 7}', "expected a string, got 7", "id"),
    ]
    for text, message, field in cases:
        f = write(tmp_path / "b.jsonl", '{"name": "ok", "ts": 0}\n' + text + "\n")
        located(lambda: events(source({"file": str(f)}, event=None)), message, file=str(f), line=2, field=field)


def test_damaged_files(tmp_path):
    empty = write(tmp_path / "e.csv", "")
    located(lambda: TraceReader(empty, TraceMapping("csv", time=TimeSpec("t"), event="go")).header(),
            "the trace is empty", file=str(empty), line=1)
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"t,x\n1,caf\xe9\n")
    located(lambda: events(source({"file": str(latin), "time": "t"})), "not UTF-8 text", file=str(latin), line=2)
    cut = tmp_path / "c.jsonl.gz"
    whole = gzip.compress("".join(f'{{"name": "a{i * 7919 % 10007}", "ts": {i}}}\n' for i in range(5000)).encode())
    cut.write_bytes(whole[:-50])
    with pytest.raises(ScenarioError, match="damaged gzip data") as info:
        events(source({"file": str(cut), "sort_window": 10_000}))
    assert info.value.file == str(cut) and 4000 < info.value.line <= 5000     # where the data stops
    neg = write(tmp_path / "n.csv", "t,d\n0,-5\n")
    located(lambda: events(source({"file": str(neg), "time": "t", "durations": {"s": "d"}})),
            "expected a non-negative duration, got -5.0", file=str(neg), line=2, field="d")


def test_recordings_need_the_extension_on_every_line(tmp_path):
    f = write(tmp_path / "r.jsonl", '{"name": "a", "ts": 1, "_flowsim": {"at": 0.001}}\n{"name": "a", "ts": 2}\n')
    located(lambda: events(source({"file": str(f)})), "missing: the file's first event has it",
            file=str(f), line=2, field="_flowsim")


# -- mistakes in the mapping point at the scenario --------------------------------------

def scenario_error(tmp_path: Path, replay_yaml: str, message: str, line: int, field: str) -> None:
    write(tmp_path / "t.csv", "time,host\n1,a\n")
    write(tmp_path / "t.jsonl", '{"name": "a", "ts": 1}\n')
    text = ("functions: [{id: f, triggers: [go], steps: [{run: s, duration: 1s}]}]\n"
            "traffic:\n"
            "  - event: go\n"
            "    replay:\n" + replay_yaml)
    path = write(tmp_path / "scenario.yaml", text)
    located(lambda: flowsim.load_scenario(path), message, file=str(path), line=line, field=field)


@pytest.mark.parametrize("replay_yaml, message, line, field", [
    ("      file: t.csv\n      time: tme\n",
     "missing column 'tme'; the columns are: time, host (in ", 6, "traffic[0].replay.time"),
    ("      file: t.csv\n      time: time\n      data: {h: {column: hots}}\n",
     "missing column 'hots'", 7, "traffic[0].replay.data.h.column"),
    ("      file: nope.csv\n      time: time\n", "no such trace file: ", 5, "traffic[0].replay.file"),
    ("      file: t.csv\n      tim: time\n", "unknown field 'tim'", 6, "traffic[0].replay.tim"),
    ("      file: t.jsonl\n      data: [a]\n", "`data` maps CSV/TSV columns", 6, "traffic[0].replay.data"),
    ("      file: t.csv\n      time: time\n      speed: 0\n", "speed must be positive", 7,
     "traffic[0].replay.speed"),
    ("      file: t.csv\n      time: time\n      start: 10m\n      end: 5m\n", "end must be after start", 8,
     "traffic[0].replay.end"),
    ("      file: t.csv\n", "missing required field 'time'", 4, "traffic[0].replay"),
    ("      file: t.txt\n", "cannot tell the format", 5, "traffic[0].replay.file"),
    ("      file: t.csv\n      time: {column: time, format: unix}\n", "expected one of auto, epoch_s", 6,
     "traffic[0].replay.time.format"),
    ("      file: t.csv\n      time: time\n      columns: [a, b]\n", "add `header: false`", 7,
     "traffic[0].replay.columns"),
    ("      file: t.csv\n      time: time\n      start: tomorrow\n", "expected a duration from the trace's origin",
     7, "traffic[0].replay.start"),
    ("      file: t.jsonl\n      durations: {s: tokens}\n", "name a field of the event such as data.tokens", 6,
     "traffic[0].replay.durations.s"),
])
def test_mapping_errors_name_the_scenario_line(tmp_path, replay_yaml, message, line, field):
    scenario_error(tmp_path, replay_yaml, message, line, field)


def test_a_date_on_a_relative_clock_points_at_the_scenario(tmp_path):
    write(tmp_path / "t.csv", "time\n1\n")
    path = write(tmp_path / "scenario.yaml",
                 "functions: [{id: f, triggers: [go], steps: [{run: s, duration: 1s}]}]\ntraffic:\n"
                 "  - event: go\n    replay:\n      file: t.csv\n      time: time\n"
                 "      start: 2024-01-01 00:00:00\n")
    located(lambda: flowsim.simulate(path), "a date needs a trace with absolute times", file=str(path), line=7,
            field="traffic[0].replay.start")


def test_sort_records_is_stable_for_equal_times(tmp_path):
    f = write(tmp_path / "s.csv", "t,k\n" + "".join(f"{i // 3},{i}\n" for i in range(9)))
    reader = TraceReader(f, TraceMapping("csv", time=TimeSpec("t"), event="go",
                                         durations=(("s", Seconds("k")),)))
    lines = [r.line for r in sort_records(reader.records(), reader, strict=False, window=4)]
    assert lines == list(range(2, 11))
