"""Bad traffic input found by an audit (data generators, replayed traces, `traffic stats`
options, the scenario's name, step duration overrides, huge event counts): each gives exit
code 2 and one message naming file, line, field (or option) and what is expected; never a
traceback, a hang, or silently accepted garbage. Huge but valid traffic is accepted with a
warning."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowsim.cli import app
from flowsim.traffic.cli import traffic_app

HEAD = """\
name: base
seed: 7
horizon: 1m
functions:
  - id: fn
    triggers: [{event: a/b}]
    concurrency: 5
    steps:
      - run: work
        duration: 100ms
traffic:
"""
BASE = HEAD + """\
  - event: a/b
    arrivals: {poisson: {rate: 2/s}}
    data:
      user_id: {zipf: {n: 20, s: 1.1}, format: "user-{}"}
"""
DATA_LINE = 15                      # the line of a field under `data:` in generated()
REPLAY_LINE = 14                    # the line of `replay:` in replayed()


def generated(field: str, arrivals: str = "{poisson: {rate: 2/s}}", horizon: str = "1m") -> str:
    """The base scenario with one data field ``u: <field>``."""
    return (HEAD.replace("horizon: 1m", f"horizon: {horizon}")
            + f"  - event: a/b\n    arrivals: {arrivals}\n    data:\n      u: {field}\n")


def replayed(replay: str) -> str:
    """The base scenario with a replayed source ``r`` whose ``replay:`` is ``replay``."""
    return HEAD + f"  - name: r\n    event: a/b\n    replay: {replay}\n"


def flat(text: str) -> str:
    return " ".join(text.split())


def cli(args: list[str], application=app):
    result = CliRunner().invoke(application, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def fails(args: list[str], *needles: str, application=app) -> str:
    """The command exits with 2 and a message holding every needle (whitespace folded)."""
    result = cli(args, application)
    out = flat(result.output)
    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in out, out
    return out


def stats_fails(args: list[str], *needles: str) -> str:
    return fails(args, *needles, application=traffic_app)


def scenario(tmp_path: Path, text: str, name: str = "sc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- 1. data formats ------------------------------------------------------------------

@pytest.mark.parametrize("field, shown", [
    ("{zipf: {n: 10}, format: 'x{0[0]}'}", "not subscriptable"),
    ("{zipf: {n: 10}, format: 'x{.foo}'}", "has no attribute 'foo'"),
    ("{zipf: {n: 10}, format: 'x{name}'}", "KeyError"),
    ("{uniform: {min: 0, max: 1}, format: 'x{:d}'}", "Unknown format code 'd' for object of type 'float'"),
    ("{normal: {mean: 0, sd: 1}, format: 'x{:d}'}", "Unknown format code 'd' for object of type 'float'"),
    ("{choice: [a, b], format: 'x{:d}'}", "Unknown format code 'd' for object of type 'str'"),
    ("{choice: {1: 0.5, b: 0.5}, format: 'x{:d}'}", "'b'"),
    ("{uniform_int: {min: 1, max: 2000000}, format: '{:c}'}", "2000000"),
])
def test_a_data_format_that_does_not_fit_the_values_fails_at_load(tmp_path, field, shown):
    path = scenario(tmp_path, generated(field))
    out = fails(["validate", path], f"{path}:{DATA_LINE}: traffic[0].data.u.format: invalid format", shown)
    assert "write {} where the value goes" in out
    fails(["run", path, "--out", tmp_path / "out"], "traffic[0].data.u.format")
    assert not (tmp_path / "out").exists()


def test_a_format_syntax_error_says_so_without_a_value(tmp_path):
    path = scenario(tmp_path, generated("{zipf: {n: 10}, format: 'x{'}"))
    fails(["validate", path], f"{path}:{DATA_LINE}: traffic[0].data.u.format: invalid format 'x{{' "
                              f"(Single '{{' encountered in format string)")


def test_a_format_that_fails_on_a_later_value_is_an_error_at_its_field(tmp_path):
    """A counter outgrows ``{:c}`` (chr) after a few events: the run stops with the field's place."""
    path = scenario(tmp_path, generated("{sequence: {start: 1114100}, format: '{:c}'}"))
    assert cli(["validate", path]).exit_code == 0
    fails(["run", path, "--out", tmp_path / "out"],
          f"{path}:{DATA_LINE}: traffic[0].data.u.format: invalid format '{{:c}}' for a value such as 1114112")
    assert not (tmp_path / "out").exists()


def test_valid_formats_still_work(tmp_path):
    path = scenario(tmp_path, generated("{uniform: {min: 0, max: 1}, format: 'x{:.2f}'}"))
    assert cli(["validate", path]).exit_code == 0
    path = scenario(tmp_path, generated("{uniform_int: {min: 1, max: 9}, format: 'u-{:03d}'}"))
    result = cli(["run", path, "--out", tmp_path / "ok", "-q"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fmt, shown", [("x{0[0]}", "not subscriptable"), ("x{.foo}", "has no attribute"),
                                        ("{:c}", "OverflowError")])
def test_a_remap_format_is_checked_on_the_buckets(tmp_path, fmt, shown):
    (tmp_path / "t.jsonl").write_text('{"name": "a/b", "ts": 1700000000000, "data": {"k": "a"}}\n')
    remap = f"{{t: {{from: k, buckets: 2000000, format: '{fmt}'}}}}"
    path = scenario(tmp_path, replayed(f"{{file: t.jsonl, remap: {remap}}}"))
    fails(["validate", path], f"{path}:{REPLAY_LINE}: traffic[0].replay.remap.t.format: invalid format", shown)


# -- 2. generator bounds ------------------------------------------------------------------

@pytest.mark.parametrize("field, where, shown", [
    ("{uniform_int: {min: 0, max: 100000000000000000000000}}", "uniform_int.max", "(64-bit)"),
    ("{uniform_int: {min: -100000000000000000000000, max: 0}}", "uniform_int.min", "(64-bit)"),
    ("{uniform_int: {min: 0, max: 1.0e+30}}", "uniform_int.max", "(64-bit)"),
    ("{zipf: {n: 10000000000}}", "zipf.n", "zipf n must be at most 10,000,000"),
    ("{uniform: {min: -1.0e+308, max: 1.0e+308}}", "uniform.max", "max - min must be a finite number"),
])
def test_generator_bounds_are_checked_at_load(tmp_path, field, where, shown):
    path = scenario(tmp_path, generated(field))
    fails(["validate", path], f"{path}:{DATA_LINE}: traffic[0].data.u.{where}: ", shown)


def test_the_largest_bounds_still_run(tmp_path):
    path = scenario(tmp_path, generated("{uniform_int: {min: -9223372036854775808, max: 9223372036854775807}}",
                                        horizon="5s"))
    assert cli(["run", path, "--out", tmp_path / "ok", "-q"]).exit_code == 0


# -- 3. JSON Lines numbers and nesting --------------------------------------------------

def _jsonl_cases(tmp_path: Path) -> list[tuple[Path, str]]:
    ok = '{"name": "a/b", "ts": 1700000000000}\n'
    cases = {
        "bigint.jsonl": (ok + '{"name": "a/b", "ts": 1' + "0" * 400 + "}\n",
                         ":2: ts: expected epoch milliseconds, got an integer of 401 digits"),
        "deep.jsonl": (ok + "[" * 100000 + "\n", ":2: invalid JSON: nested too deeply"),
        "nested.jsonl": (ok + '{"name": "a/b", "ts": 1700000000001, "data": {"x": ' + "[" * 700 + "]" * 700 + "}}\n",
                         ":2: invalid JSON: nested too deeply (at most 100 levels)"),
        "digits.jsonl": (ok + '{"name": "a/b", "ts": 1700000000001, "data": {"x": ' + "1" * 5000 + "}}\n",
                         ":2: invalid JSON: Exceeds the limit"),
    }
    out = []
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        out.append((tmp_path / name, message))
    return out


def test_json_lines_numbers_and_nesting_are_line_located_errors(tmp_path):
    for trace, message in _jsonl_cases(tmp_path):
        path = scenario(tmp_path, replayed(f"{{file: {trace.name}, scale: 2}}"))
        fails(["run", path, "--out", tmp_path / "out"], f"{trace}{message}")
        assert not (tmp_path / "out").exists()
        stats_fails(["stats", trace, "--key", "data.x"], f"{trace}{message}")


# -- 4. CSV quotes ------------------------------------------------------------------------

def test_an_unterminated_csv_quote_is_an_error_with_its_line(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text('time,user\n1700000000,u1\n1700000001,"u2\n1700000002,u3\n1700000003,u4\n1700000004,u5\n')
    path = scenario(tmp_path, replayed("{file: t.csv, time: time, data: [user]}"))
    message = f"{trace}:3: malformed CSV: the quoted field that starts on this line is never closed"
    fails(["run", path, "--out", tmp_path / "out"], message)
    stats_fails(["stats", trace, "--time", "time", "--key", "user"], message)


def test_a_quoted_field_over_two_lines_is_still_read(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text('time,user\n1700000000,"u\n1"\n1700000001,u2\n')
    result = cli(["stats", trace, "--time", "time", "--key", "user"], traffic_app)
    assert result.exit_code == 0, result.output
    assert "2 events" in result.output


# -- 5. empty JSON Lines ------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_json_lines_trace_is_an_error_like_an_empty_csv(tmp_path, text):
    trace = tmp_path / "t.jsonl"
    trace.write_text(text)
    path = scenario(tmp_path, replayed("{file: t.jsonl}"))
    fails(["validate", path], f"{trace}:1: the trace is empty (no events)")
    fails(["run", path, "--out", tmp_path / "out"], f"{trace}:1: the trace is empty")
    stats_fails(["stats", trace], f"{trace}:1: the trace is empty (no events)")
    with gzip.open(tmp_path / "t.jsonl.gz", "wt") as fh:
        fh.write(text)
    stats_fails(["stats", tmp_path / "t.jsonl.gz"], "the trace is empty (no events)")


# -- 6. replay multipliers ----------------------------------------------------------------

@pytest.mark.parametrize("key, value", [("scale", "0"), ("scale", "-1"), ("speed", "0"), ("speed", "-2")])
def test_replay_scale_and_speed_must_be_positive(tmp_path, key, value):
    (tmp_path / "t.jsonl").write_text('{"name": "a/b", "ts": 1700000000000}\n')
    path = scenario(tmp_path, replayed(f"{{file: t.jsonl, {key}: {value}}}"))
    fails(["validate", path], f"{path}:{REPLAY_LINE}: traffic[0].replay.{key}: {key} must be positive (and finite)")


# -- 7. the scenario's name ---------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [("../../etc/x", "must not contain '/'"), ("/abs/X", "must not contain '/'"),
                                           ("'..'", "must not be '.' or '..'"), ("'.'", "must not be '.' or '..'"),
                                           ("'a\\b'", "must not contain '\\\\'"),
                                           ('"a\\tb"', "must not contain control characters"),
                                           ("'  '", "must not be blank")])
def test_a_scenario_name_must_be_one_folder_name(tmp_path, monkeypatch, name, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    path = scenario(tmp_path / "sub", BASE.replace("name: base", f"name: {name}"))
    fails(["validate", path], f"{path}:1: name: a scenario name names its output folder", problem)
    fails(["run", path], "name:")
    assert listing(tmp_path) == ["sub", "sub/sc.yaml"]


def test_a_file_name_that_gives_no_usable_name_needs_a_name(tmp_path):
    path = scenario(tmp_path, BASE.replace("name: base\n", ""), name="...yaml")
    fails(["validate", path], f"{path}:1: the file name gives no usable scenario name ('..'", "add a `name:`")
    path = scenario(tmp_path, BASE.replace("name: base\n", ""), name="fine.yaml")
    assert cli(["validate", path]).exit_code == 0


# -- 8. step duration overrides -----------------------------------------------------------

def test_an_explicit_events_duration_must_name_a_run_step(tmp_path):
    path = scenario(tmp_path, HEAD + "  - events: [{at: 1s, name: a/b, durations: {nostep: 1s}}]\n")
    fails(["validate", path], f"{path}:12: traffic[0].events[0].durations.nostep: no function has a run step "
                              f"named 'nostep'", "the run steps are: work")
    ok = scenario(tmp_path, HEAD + "  - events: [{at: 1s, name: a/b, durations: {work: 1s}}]\n", "ok.yaml")
    assert cli(["validate", ok]).exit_code == 0


def test_a_replay_duration_must_name_a_run_step(tmp_path):
    (tmp_path / "t.csv").write_text("time,size\n1700000000,5\n")
    path = scenario(tmp_path, replayed("{file: t.csv, time: time, durations: {nostep: size}}"))
    fails(["validate", path], f"{path}:{REPLAY_LINE}: traffic[0].replay.durations.nostep: no function has a run "
                              f"step named 'nostep'", "the run steps are: work")
    (tmp_path / "t.jsonl").write_text('{"name": "a/b", "ts": 1700000000000, "data": {"n": 1}}\n')
    path = scenario(tmp_path, replayed("{file: t.jsonl, durations: {sleep-1: data.n}}"))
    fails(["validate", path], "traffic[0].replay.durations.sleep-1: no function has a run step named 'sleep-1'")


# -- 9. `traffic stats` options -----------------------------------------------------------

@pytest.fixture
def csv_trace(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,user,size\n1700000000,u1,5\n1700000001,u2,7\n1700000002,u1,3\n")
    return path


@pytest.mark.parametrize("args, option, message", [
    (["--sort-window", "0"], "--sort-window", "1 or more"),
    (["--sort-window", "-5"], "--sort-window", "1 or more"),
    (["--top", "-1"], "--top", "0 or more"),
    (["--start", "10m", "--end", "5m"], "--end", "must be after its start"),
    (["--start", "5m", "--end", "5m"], "--end", "must be after its start"),
    (["--duration", "size"], "--duration", "goes with --end-time"),
    (["--duration-unit", "1ms"], "--duration-unit", "goes with --end-time"),
    (["--key", ""], "--key", "expected a column name"),
    (["--seed", "3"], "--seed", "applies to a scenario's traffic"),
    (["--source", "x"], "--source", "applies to a scenario's traffic"),
])
def test_stats_options_are_checked_for_a_csv_trace(csv_trace, args, option, message):
    stats_fails(["stats", csv_trace, "--time", "time", *args], f"error: {option}: ", message)


def test_stats_options_are_checked_for_json_lines_and_scenarios(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"name": "a/b", "ts": 1700000000000, "data": {"x": 1}}\n')
    stats_fails(["stats", trace, "--key", "data..x"], "error: --key: expected name, id or a dotted path", "'data..x'")
    stats_fails(["stats", trace, "--key", "data."], "error: --key: ")
    stats_fails(["stats", trace, "--time-format", "epoch_s"], "error: --time-format: ")
    stats_fails(["stats", trace, "--duration", "x"], "error: --duration: ")
    path = scenario(tmp_path, BASE)
    stats_fails(["stats", path, "--key", "data..x"], "error: --key: ")
    for option, value in (("--sort-window", "5"), ("--duration", "x"), ("--time-format", "epoch_s")):
        stats_fails(["stats", path, option, value], f"error: {option}: ")
    stats_fails(["stats", path, "--strict"], "error: --strict: ")


def test_stats_of_a_csv_column_with_a_dot_counts_it(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("time,a.b\n1700000000,x\n1700000001,x\n")
    result = cli(["stats", trace, "--time", "time", "--key", "a.b"], traffic_app)
    assert result.exit_code == 0, result.output
    assert "key data.a.b: 1 distinct; top-1 share 100.0%" in result.output
    assert "without it" not in result.output


def test_stats_of_a_directory_or_a_missing_file_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").mkdir()
    stats_fails(["stats", "."], "error: .: is a directory")
    stats_fails(["stats", "d.jsonl"], "error: d.jsonl: is a directory")
    stats_fails(["stats", "nope.csv", "--time", "t"], "error: nope.csv: no such file")
    path = scenario(tmp_path, replayed("{file: d.jsonl}"))
    fails(["validate", path], f"{path}:{REPLAY_LINE}: traffic[0].replay.file: ", "d.jsonl is a directory")
    fails(["validate", tmp_path / "d.jsonl"], "is a directory")


def test_stats_still_take_valid_options(csv_trace):
    result = cli(["stats", csv_trace, "--time", "time", "--key", "user", "--top", "0", "--sort-window", "1",
                  "--start", "1s", "--end", "10m"], traffic_app)
    assert result.exit_code == 0, result.output
    assert "2 events" in result.output


# -- 10. huge event counts ----------------------------------------------------------------

@pytest.mark.parametrize("arrivals, horizon, estimate", [
    ("{constant: {every: 1ns}}", "1m", "60,000,000,000"),
    ("{bursts: {every: 1s, size: 1000000000}}", "1m", "60,000,000,000"),
    ("{bursts: {every: 1h, size: 100000000}}", "1m", "100,000,000"),
    ("{poisson: {rate: 2/s}}", "100000000d", "17,280,000,000,000"),
    ("{diurnal: {mean: 1000/s, amplitude: 0.5}}", "1d", "86,400,000"),
])
def test_huge_generated_traffic_is_accepted_with_a_warning(tmp_path, arrivals, horizon, estimate):
    path = scenario(tmp_path, generated("x", arrivals, horizon))
    result = cli(["validate", path])
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert (f"warning: {path}:13: traffic[0].arrivals: traffic source 't0' is expected to make about {estimate} "
            f"events") in out, out


def test_huge_replayed_traffic_is_accepted_with_a_warning(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"name": "a/b", "ts": 1700000000000}\n' * 2)
    path = scenario(tmp_path, replayed("{file: t.jsonl, scale: 1000000000}"))
    result = cli(["validate", path])
    assert result.exit_code == 0, result.output
    assert (f"warning: {path}:{REPLAY_LINE}: traffic[0].replay.scale: traffic source 'r' replays up to about "
            f"2,000,000,000 events") in flat(result.output)


def test_ordinary_traffic_gives_no_warning(tmp_path):
    path = scenario(tmp_path, generated("x", "{poisson: {rate: 100/s}}", "1d"))
    result = cli(["validate", path])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    for shipped in sorted(Path(__file__).parent.parent.joinpath("scenarios").glob("*.yaml")):
        result = cli(["validate", shipped])
        assert result.exit_code == 0 and "events before" not in result.output, (shipped, result.output)
