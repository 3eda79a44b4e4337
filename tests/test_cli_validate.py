"""``validate`` reads every replayed trace as ``run`` does (same errors, file:line) and prints
the expected number of events per traffic source, from closed forms checked here against
the arrival processes themselves."""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from flowsim.cli import app
from flowsim.traffic.arrivals import Bursts, Constant, Diurnal, Poisson

runner = CliRunner()

HEAD = """\
name: v
seed: 7
horizon: {horizon}
functions:
  - id: fn
    triggers: [{{event: a/b}}]
    steps: [{{run: work, duration: 10ms}}]
{more}traffic:
"""
SECOND_FN = """\
  - id: other
    triggers: [{event: a/b}]
    steps: [{run: work, duration: 10ms}]
"""


def write(tmp_path, traffic: str, horizon: str = "1h", more: str = ""):
    path = tmp_path / "x.yaml"
    path.write_text(HEAD.format(horizon=horizon, more=more) + traffic)
    return path


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def validated(path) -> str:
    code, out = invoke("validate", path)
    assert code == 0, out
    return out


# -- the printed line --------------------------------------------------------------------

def test_validate_prints_expected_events_per_source(tmp_path):
    path = write(tmp_path, """\
  - {name: tenants, event: a/b, arrivals: {poisson: {rate: 10/s}}}
  - {name: noisy, event: a/b, arrivals: {constant: {every: 150ms}}}
""")
    assert validated(path) == (f"{path}: ok — 1 function, 2 traffic sources; "
                               f"expected events: tenants ≈ 36,000, noisy 24,000")


def test_validate_plurals_and_explicit_events(tmp_path):
    path = write(tmp_path, "  - events: [{at: 0, name: a/b}, {at: 30s, name: a/b}, {at: 2m, name: a/b}]\n",
                 horizon="1m", more=SECOND_FN)
    assert validated(path) == f"{path}: ok — 2 functions, 1 traffic source; expected events: t0 2"


def test_validate_windows_and_bursts(tmp_path):
    path = write(tmp_path, """\
  - {name: late, event: a/b, arrivals: {poisson: {rate: 1/s}}, start: 50m, end: 2h}
  - {name: cut, event: a/b, arrivals: {bursts: {every: 1m, size: 15, spread: 4s, offset: 58s}}}
  - {name: whole, event: a/b, arrivals: {bursts: {every: 10m, size: 100, spread: 1m}}}
""")
    # late: 10 min of 1/s; cut: 59 whole bursts and half of the last; whole: 6 bursts inside the hour
    assert validated(path).endswith("expected events: late ≈ 600, cut ≈ 892, whole 600")


def test_the_readme_example_is_what_validate_prints(monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    line = validated("scenarios/ai-image-processing.yaml")
    assert f"\n{line}\n" in (root / "README.md").read_text()


# -- the closed forms against the processes ------------------------------------------------

@pytest.mark.parametrize("process, start, end", [
    (Constant(0.15), 0.0, 3600.0),
    (Constant(1 / 3), 0.0, 10.0),
    (Constant(1 / 3, 0.2), 5.0, 17.3),
    (Constant(7.0, 100.0), 0.0, 50.0),
    (Constant(0.1), 0.0, 0.3),
])
def test_constant_count_is_what_it_yields(process, start, end):
    times = [t for block in process.blocks(np.random.default_rng(0), start, end) for t in block]
    assert process.expected(start, end) == (len(times), True)


def _mean_count(process, start: float, end: float, n: int) -> tuple[float, float]:
    counts = [sum(len(b) for b in process.blocks(np.random.default_rng(seed), start, end)) for seed in range(n)]
    return float(np.mean(counts)), float(np.std(counts, ddof=1) / math.sqrt(n))


@pytest.mark.parametrize("process, start, end", [
    (Bursts(60.0, 15, spread=4.0, offset=58.0), 0.0, 1800.0),          # the last burst cut at its half
    (Bursts(60.0, 15, spread=4.0, offset=58.0, base=0.02), 0.0, 1800.0),
    (Diurnal(0.05, 0.8, period=86400.0, peak=50400.0), 3600.0, 6 * 3600.0),
    (Diurnal(0.2, 0.5, period=3600.0), 0.0, 1000.0),
    (Poisson(0.3), 10.0, 2000.0),
])
def test_expected_count_matches_the_mean_over_seeds(process, start, end):
    expected = process.expected(start, end)
    assert not expected.exact
    mean, se = _mean_count(process, start, end, 300)
    assert abs(mean - expected.count) < 4 * se + 1e-9, (mean, se, expected)


def test_expected_counts_by_hand():
    assert Bursts(60.0, 15, spread=4.0, offset=58.0).expected(0, 1800) == (29 * 15 + 7.5, False)
    assert Bursts(600.0, 100, spread=60.0).expected(0, 3600) == (600, True)
    assert Bursts(600.0, 100).expected(0, 3600.5) == (700, True)
    assert Diurnal(1.0, 0.5, period=100.0).expected(0, 100) == pytest.approx((100.0, False))
    assert Diurnal(1.0, 0.5, period=100.0).expected(0, 25).count == pytest.approx(25 + 0.5 * 100 / (2 * math.pi))
    assert Poisson(2.0).expected(5, 1) == (0, True)


# -- replayed traces ------------------------------------------------------------------------

def jsonl(n: int, every_ms: int = 1000) -> str:
    return "".join(f'{{"name": "a/b", "ts": {1700000000000 + k * every_ms}, "data": {{"k": {k}}}}}\n'
                   for k in range(n))


def replay(tmp_path, file: str, extra: str = "", horizon: str = "1h"):
    return write(tmp_path, f"  - {{name: r, event: a/b, replay: {{file: {file}{extra}}}}}\n", horizon=horizon)


def test_validate_counts_a_replay_to_the_horizon(tmp_path):
    (tmp_path / "t.jsonl").write_text(jsonl(100))
    assert validated(replay(tmp_path, "t.jsonl", horizon="1m")).endswith("expected events: r 60")
    assert validated(replay(tmp_path, "t.jsonl", ", start: 50s", horizon="1m")).endswith("expected events: r 50")
    assert validated(replay(tmp_path, "t.jsonl", ", scale: 2", horizon="10s")).endswith("expected events: r 20")
    assert validated(replay(tmp_path, "t.jsonl", ", scale: 0.5", horizon="10s")).endswith("expected events: r ≈ 5")
    assert validated(replay(tmp_path, "t.jsonl", ", scale: 1000000000")).endswith(
        "expected events: r 100,000,000,000")


def _broken(tmp_path, kind: str) -> str:
    """A trace whose first lines are fine (the load reads only those) and whose middle is not."""
    if kind == "json":
        (tmp_path / "t.jsonl").write_text(jsonl(3) + '{"name": "a/b", "ts": 1700000005000,\n' + jsonl(3))
        return "t.jsonl"
    if kind == "object":
        (tmp_path / "t.jsonl").write_text(jsonl(5) + "[1, 2]\n")
        return "t.jsonl"
    if kind == "csv":
        (tmp_path / "t.csv").write_text("time,k\n1,a\n2,b\nlater,c\n4,d\n")
        return "t.csv, time: {column: time, format: seconds}"
    if kind == "gzip":
        data = gzip.compress(jsonl(20000).encode())
        (tmp_path / "t.jsonl.gz").write_bytes(data[:len(data) // 2])
        return "t.jsonl.gz"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind, needle", [
    ("json", "t.jsonl:4: invalid JSON"),
    ("object", "t.jsonl:6: expected a JSON object (an event), got list"),
    ("csv", "t.csv:4: time:"),
    ("gzip", "t.jsonl.gz:"),
])
def test_a_broken_trace_fails_validate_as_it_fails_run(tmp_path, kind, needle):
    path = replay(tmp_path, _broken(tmp_path, kind), horizon="1d")
    run_code, run_out = invoke("run", path, "--out", tmp_path / "out")
    code, out = invoke("validate", path)
    assert run_code == 2 and code == 2
    assert needle in out
    assert out == run_out                        # the same message, file:line and all
    assert out.startswith("error: ") and out.count("error:") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, accepted", [
    ("", False),                    # the sort window reads 10,000 lines ahead: it reaches the bad line
    (", order: strict", True),      # no window: the replay stops at the first event past the horizon
    (", sort_window: 1", True),
])
def test_validate_accepts_exactly_what_run_accepts(tmp_path, extra, accepted):
    """validate reads what a run reads, no more: a bad line past the horizon fails both or neither."""
    (tmp_path / "t.jsonl").write_text(jsonl(100) + "not json\n")
    path = replay(tmp_path, "t.jsonl", extra, horizon="1m")
    run_code, run_out = invoke("run", path, "--out", tmp_path / "out", "-q")
    code, out = invoke("validate", path)
    assert (run_code, code) == ((0, 0) if accepted else (2, 2)), (run_out, out)
    if accepted:
        assert out.endswith("expected events: r 60")
    else:
        assert out == run_out and "t.jsonl:101: invalid JSON" in out
