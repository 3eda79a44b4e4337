"""What `flowsim run` says happened: the story's figures in summary.json (both modes)
against hand-worked timelines, timeseries.csv, and the screen at 80 columns."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.report import write_report
from flowsim.results.text import blocks, story
from flowsim.results.writers import default_bin
from tests.helpers import ev, scenario

BOTH = pytest.mark.parametrize("tables", [True, False], ids=["tables", "summary-only"])


def summarize(sc: dict, tables: bool = True) -> dict:
    return flowsim.simulate(flowsim.load_scenario(sc), tables=tables).summary()


def keyed() -> dict:
    """Keys a (three runs) and b (one), one slot per key, 1 s steps, all at t=0: a's runs
    start at 0, 1 and 2 s (latencies 0, 1, 2: p99 1.98 by linear interpolation), b's at 0."""
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"key": "event.data.k", "limit": 1}],
          "steps": [{"run": "s", "duration": "1s"}]}
    return scenario([fn], [ev(0, k="a"), ev(0, k="a"), ev(0, k="a"), ev(0, k="b")], horizon="10s")


@BOTH
def test_busiest_and_worst_key_and_the_busiest_keys_slot_use(tables):
    s = summarize(keyed(), tables)
    group = s["keys"]["concurrency:f:event.data.k"]
    assert group["label"] == "concurrency[0]" and group["functions"] == ["f"] and group["keys"] == 2
    busiest = group["busiest"]
    assert (busiest["key"], busiest["runs"], busiest["completed"]) == ("a", 3, 3)
    assert busiest["start_latency_mean"] == pytest.approx(1.0)
    slots = s["concurrency"]["concurrency:f:event.data.k"]
    assert slots["busiest_key"] == "a"
    assert slots["busiest_key_mean"] == pytest.approx(0.3)       # 3 s of one slot over 10 s
    assert slots["all_keys_mean"] == pytest.approx(0.4)          # a's 3 s and b's 1 s
    if tables:
        assert busiest["start_latency_p99"] == pytest.approx(1.98)
        assert group["worst"]["key"] == "a" and group["worst"]["start_latency_p99"] == pytest.approx(1.98)
        assert slots["busiest_key_peak"] == 1 and slots["peak"] == 1
    else:
        assert busiest["start_latency_p99"] is None and group["worst"] is None and slots["busiest_key_peak"] is None


def test_the_worst_key_is_the_highest_p99_not_the_busiest():
    sc = keyed()
    sc["traffic"][0]["events"] = [ev(0, k="a"), ev(0, k="a"), ev(5, k="a"), ev(0, k="b"), ev(0, k="b")]
    group = summarize(sc)["keys"]["concurrency:f:event.data.k"]
    assert group["busiest"]["key"] == "a"        # 3 runs; ties of 2 would go to the smaller key
    # a: latencies 0, 1, 0 (p99 0.98); b: 0, 1 (p99 0.99)
    assert group["worst"]["key"] == "b" and group["worst"]["start_latency_p99"] == pytest.approx(0.99)


def test_the_slot_table_shows_the_busiest_key_not_the_sum_over_keys():
    rows = {b.kind: b for b in blocks(summarize(keyed()))}["slots"].rows
    row = next(r for r in rows if r[0].startswith("concurrency key event.data.k"))
    assert row[0].endswith("busiest key a") and row[1] == "1 per key" and row[3] == "0.3"


def serial() -> dict:
    """Function limit 1, four 10 s runs arriving at t=0, horizon 40 s: run i starts at 10·i,
    so 3, 2, 1 then 0 items wait through the four 10 s quarters."""
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": 1, "steps": [{"run": "s", "duration": "10s"}]}
    return scenario([fn], [ev(0) for _ in range(4)], horizon="40s")


@BOTH
def test_queue_depth_per_quarter_and_offered_versus_served(tables):
    q = summarize(serial(), tables)["queue"]["f"]
    assert q["depth"] == pytest.approx([3, 2, 1, 0])
    assert (q["half"], q["created"], q["started"]) == (20.0, 0, 2)       # starts at 20 and 30


@BOTH
def test_an_item_cancelled_before_it_starts_leaves_the_queue_when_its_run_ends(tables):
    sc = serial()
    sc["functions"][0]["timeouts"] = {"start": "15s"}      # runs 3 and 4 are cancelled at 15 s
    s = summarize(sc, tables)
    assert s["cancel_reasons"] == {"start_timeout": 2}
    assert s["queue"]["f"]["depth"] == pytest.approx([3, 1, 0, 0])     # two items 10-15 s: 1 on average


@BOTH
def test_batch_sizes_and_how_batches_closed(tables):
    fn = {"id": "f", "triggers": [{"event": "go"}], "batchEvents": {"maxSize": 3, "timeout": "5s"},
          "steps": [{"run": "s", "duration": "1s"}]}
    s = summarize(scenario([fn], [ev(t) for t in (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)], horizon="1m"), tables)
    b = s["batching"]["f"]
    assert b["sizes"] == {"1": 1, "3": 2} and b["batches"] == 3 and b["events"] == 7
    assert (b["full"], b["on_timeout"], b["max_size"], b["timeout"]) == (2, 1, 3, 5.0)
    assert b["size"]["max"] == 3 and b["size"]["mean"] == pytest.approx(7 / 3)
    assert any("3 batches of 7 events" in line and "2 closed full at 3 events, 1 on the 5 s timeout" in line
               for line in story(s))


@BOTH
def test_debounce_events_per_run(tables):
    fn = {"id": "f", "triggers": [{"event": "go"}], "debounce": {"period": "5s", "key": "event.data.doc"},
          "steps": [{"run": "s", "duration": "1s"}]}
    events = [ev(0, doc="a"), ev(1, doc="a"), ev(2, doc="a"), ev(0, doc="b")]
    s = summarize(scenario([fn], events, horizon="1m"), tables)
    assert s["debounce"] == {"f": {"events": 4, "runs": 2, "events_per_run": 2.0}}


@BOTH
def test_drops_per_key_most_first(tables):
    fn = {"id": "f", "triggers": [{"event": "go"}], "rateLimit": {"limit": 1, "period": "1h", "key": "event.data.k"},
          "steps": [{"run": "s", "duration": "1s"}]}
    events = [ev(0, k="x"), ev(1, k="x"), ev(2, k="x"), ev(0, k="y"), ev(1, k="y"), ev(3, k="z")]
    s = summarize(scenario([fn], events, horizon="1m"), tables)
    assert s["drops"] == [{"function": "f", "outcome": "rate_limited", "events": 3, "keys": 2,
                           "top": [{"key": "x", "events": 2}, {"key": "y", "events": 1}]}]


@BOTH
def test_binding_per_function(tables):
    slow = {"id": "slow", "triggers": [{"event": "go"}], "concurrency": 1, "steps": [{"run": "s", "duration": "10s"}]}
    free = {"id": "free", "triggers": [{"event": "go"}], "steps": [{"run": "s", "duration": "10s"}]}
    s = summarize(scenario([slow, free], [ev(0), ev(0)], horizon="1m"), tables)
    assert s["functions"]["slow"]["binding"]["function:slow"]["total_delay"] == pytest.approx(10.0)
    assert s["functions"]["free"]["binding"] == {}


def test_timeseries_per_bin_and_constraint():
    r = flowsim.simulate(flowsim.load_scenario(serial()))
    ts = r.timeseries(10)
    assert ts["time"].tolist() == [0, 10, 20, 30]
    assert ts["arrivals"].tolist() == [4, 0, 0, 0] and ts["starts"].tolist() == [1, 1, 1, 1]
    assert ts["completions"].tolist() == [0, 1, 1, 1]          # the fourth ends at the horizon
    assert ts["queue_depth"].tolist() == pytest.approx([3, 2, 1, 0])
    assert ts["slots:function:f"].tolist() == pytest.approx([1, 1, 1, 1])
    assert ts["slots:account"].tolist() == pytest.approx([1, 1, 1, 1])
    last = r.timeseries(15)
    assert last["time"].tolist() == [0, 15, 30]                # the last bin ends at the horizon (10 s)
    # items 2, 3 and 4 wait 0-10, 0-20 and 0-30 s
    assert last["queue_depth"].tolist() == pytest.approx([(10 + 15 + 15) / 15, (5 + 15) / 15, 0])


def test_keyed_slots_in_the_timeseries_are_the_keyed_functions_only():
    sc = keyed()
    other = {"id": "g", "triggers": [{"event": "go"}], "steps": [{"run": "s", "duration": "1s"}]}
    sc["functions"].append(other)
    ts = flowsim.simulate(flowsim.load_scenario(sc)).timeseries(1)
    f, g = ts[ts["function_id"] == "f"], ts[ts["function_id"] == "g"]
    assert f["slots:concurrency:f:event.data.k"].tolist()[:4] == pytest.approx([2, 1, 1, 0])
    assert g["slots:concurrency:f:event.data.k"].tolist() == [0] * 10
    assert g["slots:account"].tolist()[:2] == pytest.approx([4, 0])


@pytest.mark.parametrize("horizon, width", [(40, 1), (600, 5), (3600, 30), (86400, 600), (30 * 86400, 21600)])
def test_default_bin_is_round_and_gives_at_most_200_bins(horizon, width):
    assert default_bin(horizon) == width and horizon / width <= 200


def test_run_writes_timeseries_csv_with_the_bin_asked(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(serial()))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--bin", "10s", "-q"])
    assert r.exit_code == 0, r.output
    lines = (out / "timeseries.csv").read_text().splitlines()
    assert lines[0].startswith("time,function_id,arrivals,starts,completions,queue_depth,slots_in_use,slots:account")
    assert len(lines) == 5
    r = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-q"])
    assert len((out / "timeseries.csv").read_text().splitlines()) == 41          # 1 s bins for 40 s


@pytest.mark.parametrize("args", [["--bin", "0"], ["--bin", "soon"], ["--summary-only", "--bin", "10s"]])
def test_a_bad_bin_is_refused_before_anything_runs(tmp_path: Path, args):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(serial()))
    r = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), *args])
    assert r.exit_code == 2 and "--bin" in r.output and not (tmp_path / "out").exists()


NOISY = {
    "name": "noisy", "seed": 3, "horizon": "10m", "platform": {"profile": "ideal", "peek_size": 20},
    "functions": [{"id": "sync", "triggers": [{"event": "go"}],
                   "concurrency": [{"key": "event.data.tenant", "limit": 2}],
                   "steps": [{"run": "s", "duration": {"exponential": {"mean": "1s"}}}]}],
    "traffic": [{"name": "quiet", "event": "go", "arrivals": {"poisson": {"rate": "1/s"}},
                 "data": {"tenant": {"choice": ["t1", "t2", "t3", "t4"]}}},
                {"name": "noisy", "event": "go", "arrivals": {"bursts": {"every": "2m", "size": 400, "spread": "5s"}},
                 "data": {"tenant": "noisy"}}],
}


def test_the_screen_at_80_columns_tells_the_story(tmp_path: Path):
    path = tmp_path / "noisy.yaml"
    path.write_text(yaml.safe_dump(NOISY))
    r = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    # Every line fits, but the last, which names the output directory (a path is not broken).
    lines = [line for line in r.output.splitlines() if not line.startswith("wrote ")]
    assert max(len(line) for line in lines) <= 80
    text = " ".join(r.output.split())
    for phrase in ("What held work back", "peek window (head-of-line)", "Busiest of 5 values of the concurrency key "
                   "event.data.tenant: noisy", "busiest key", "2 per key", "Warnings",
                   "head_of_line_blocking: noisy's backlog fills the peek window of sync", "What it means:", "Try:"):
        assert phrase in text, phrase
    assert text.index("Latency (seconds)") < text.index("Warnings")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [w["code"] for w in summary["warnings"]][:1] == ["head_of_line_blocking"]


def test_reports_put_the_warnings_first(tmp_path: Path):
    result = flowsim.simulate(flowsim.load_scenario(NOISY))
    write_report({"noisy": result}, tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.index("## Warnings") < md.index("## What happened") < md.index("![")
    assert "**head_of_line_blocking**: noisy's backlog" in md and "Try: Send noisy's events" in md
    assert "## Keys: the busiest value" in md and "## Concurrency slots" in md
    page = (tmp_path / "rep" / "index.html").read_text()
    assert page.index('class="warning"') < page.index("<img")


def test_story_in_numbers_is_the_summarys():
    s = summarize(keyed())
    lines = story(s)
    assert lines[0] == "4 events came in; 4 runs: 4 completed."
    # latencies 0, 0, 1, 2: median 0.5, p99 1 + 0.97
    assert lines[1] == "Runs started 0.5 s after their event at the median, 1.97 s at p99 (the longest 2 s)."
    assert lines[2] == ("What held work back, by share of all waiting: concurrency key event.data.k 100% "
                        "(a waited most).")
    assert np.isclose(s["start_latency"]["p99"], 1.97)
