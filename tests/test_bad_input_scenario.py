"""Bad scenario input found by an audit: each gives exit code 2 and one message naming
file, line, field and what is expected; never a traceback, a hang, or silently accepted
garbage. Valid uses of the same YAML features (aliases, merge keys) keep working."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from flowsim.cli import app
from flowsim.errors import ScenarioError
from flowsim.scenario.load import load_scenario
from flowsim.scenario.source import load_yaml

BASE = """\
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
  - event: a/b
    arrivals: {poisson: {rate: 2/s}}
    data:
      user_id: {zipf: {n: 20, s: 1.1}, format: "user-{}"}
"""


def validate(tmp_path, text: str) -> tuple[str, str]:
    """Run ``flowsim validate`` on ``text``; it must exit 2 without a traceback. Returns
    (the file name, the output on one line)."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return str(path), out


def expect(tmp_path, text: str, line: int, field: str | None, message: str) -> None:
    path, out = validate(tmp_path, text)
    assert f"{path}:{line}: " in out, out
    if field:
        assert f": {field}: " in out, out
    assert message in out, out


def test_base_scenario_is_valid(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


# --- 1. aliases -------------------------------------------------------------------------------

def test_recursive_alias_is_an_error_with_its_line(tmp_path):
    expect(tmp_path, "a: &x [*x]\n" + BASE, 1, "a[0]", "contains itself through an alias")


def test_recursive_alias_in_a_mapping(tmp_path):
    text = BASE.replace("      user_id:", "      meta: &m {self: *m}\n      user_id:")
    expect(tmp_path, text, 15, "traffic[0].data.meta.self", "contains itself through an alias")


def lol(levels: int = 8, indent: str = "") -> str:
    lines = [f"{indent}a: &a [x,x,x,x,x,x,x,x,x]"]
    for prev, name in zip("abcdefghij", "bcdefghijk"[:levels - 1]):
        lines.append(f"{indent}{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_header_fails_fast(tmp_path):
    """Eight levels of nine aliases (9**8 leaves) used to take minutes in the line indexer."""
    path = tmp_path / "lol.yaml"
    path.write_text(lol() + BASE)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "flowsim", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    assert f"{path}:1: a: unknown field 'a'" in out


def test_many_aliases_in_a_valid_field_load_quickly():
    text = BASE.replace("      user_id:", lol(indent="      ") + "      user_id:")
    start = time.monotonic()
    data, source = load_yaml(text, "x.yaml")
    assert time.monotonic() - start < 5
    h = data["traffic"][0]["data"]["h"]
    assert h[0] is h[8]                         # shared, as yaml.safe_load builds it
    assert source.line(("traffic", 0, "data", "h", 8, 3, 0)) is not None


def test_alias_keeps_the_line_of_the_aliased_value(tmp_path):
    """An error inside an aliased value points at the line where the value is written."""
    text = """\
name: x
traffic:
  - event: a/b
    arrivals: {poisson: {rate: 1/s}}
    data:
      meta: &c
        limit: two
functions:
  - id: fn
    triggers: [a/b]
    concurrency: *c
    steps: [{run: w, duration: 1s}]
"""
    expect(tmp_path, text, 7, "functions[0].concurrency.limit", "expected an integer")


def test_aliases_load_like_safe_load():
    text = "x: &v {a: 1, b: [1, 2]}\ny: *v\nz: [*v, *v]\n"
    import yaml
    data, source = load_yaml(text, "f.yaml")
    assert data == yaml.safe_load(text)
    assert source.line(("y", "b", 1)) == 1 and source.line(("z", 1, "a")) == 1


# --- 2. merge keys ----------------------------------------------------------------------------

MERGED = """\
name: m
horizon: 10s
functions:
  - &f
    id: fn
    triggers: [a/b]
    retries: 2
    concurrency: 3
    steps: [{run: w, duration: 1s}]
  - <<: *f
    id: fn2
    retries: 1
traffic:
  - event: a/b
    arrivals: {poisson: {rate: 1/s}}
"""


def test_merge_keys_are_supported(tmp_path):
    import yaml
    path = tmp_path / "m.yaml"
    path.write_text(MERGED)
    data, _ = load_yaml(MERGED, str(path))
    assert data == yaml.safe_load(MERGED)
    scenario = load_scenario(path)
    fn, fn2 = scenario.functions
    assert (fn.id, fn.retries, fn2.id, fn2.retries) == ("fn", 2, "fn2", 1)
    assert fn2.triggers == fn.triggers and fn2.steps == fn.steps
    assert fn2.mechanisms["concurrency"].function_limit == 3
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_merge_of_a_list_of_mappings_earlier_wins():
    import yaml
    text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], z: 3}\n"
    data, source = load_yaml(text, "f.yaml")
    assert data == yaml.safe_load(text) and data["c"] == {"x": 1, "y": 1, "z": 3}
    assert source.line(("c", "x")) == 1 and source.line(("c", "z")) == 3


def test_merged_explicit_value_is_checked_at_its_line(tmp_path):
    expect(tmp_path, MERGED.replace("    retries: 1", "    retries: 30"), 12, "functions[1].retries",
           "value must be at most 20")


def test_merged_key_error_points_at_the_merged_mapping(tmp_path):
    """A merged key that is wrong where it lands is reported at the line it is written on."""
    text = MERGED.replace("    triggers: [a/b]", "    triggers: [&t {event: a/b}]").replace(
        "    steps: [{run: w, duration: 1s}]\n  - <<: *f",
        "    steps: [{run: w, duration: 1s}]\n  - id: fn3\n    triggers: [a/b]\n"
        "    steps: [{<<: *t, run: w, duration: 1s}]\n  - <<: *f")
    expect(tmp_path, text, 6, "functions[1].steps[0].event", "unknown field 'event'")


def test_merge_of_a_scalar_is_invalid_yaml(tmp_path):
    expect(tmp_path, MERGED.replace("  - <<: *f", "  - <<: 5"), 10, None,
           "invalid YAML: expected a mapping or list of mappings for merging")


def test_duplicate_explicit_keys_beside_a_merge_are_still_refused(tmp_path):
    expect(tmp_path, MERGED.replace("    retries: 1", "    retries: 1\n    retries: 3"), 13,
           "functions[1].retries", "duplicate key 'retries' (first at line 12)")


def test_too_deeply_nested_yaml(tmp_path):
    path, out = validate(tmp_path, "x: " + "[" * 3000 + "]" * 3000 + "\n" + BASE)
    assert f"{path}: invalid YAML: nested too deeply" in out


# --- 3. NaN and infinity ----------------------------------------------------------------------

NON_FINITE = [
    (BASE.replace("duration: 100ms", "duration: 100ms\n        failure_rate: .nan"), 11,
     "functions[0].steps[0].failure_rate", "expected a finite number, got .nan"),
    (BASE.replace("duration: 100ms", "duration: {lognormal: {mean: 1s, sigma: .nan}}"), 10,
     "functions[0].steps[0].duration.lognormal.sigma", "expected a finite number, got .nan"),
    (BASE.replace("duration: 100ms", "duration: {lognormal: {mean: 1s, sigma: .inf}}"), 10,
     "functions[0].steps[0].duration.lognormal.sigma", "expected a finite number, got .inf"),
    (BASE.replace("duration: 100ms", "duration: {empirical: {values: [1s, 2s], weights: [1, .nan]}}"), 10,
     "functions[0].steps[0].duration.empirical.weights[1]", "expected a finite number, got .nan"),
    (BASE.replace("duration: 100ms", "duration: {empirical: {values: [1s, 2s], weights: [1, .inf]}}"), 10,
     "functions[0].steps[0].duration.empirical.weights[1]", "expected a finite number, got .inf"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{choice: {a: .nan, b: 1}}"), 15,
     "traffic[0].data.user_id.choice.a", "expected a finite number, got .nan"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{choice: {a: .inf, b: 1}}"), 15,
     "traffic[0].data.user_id.choice.a", "expected a finite number, got .inf"),
    (BASE.replace("s: 1.1", "s: .nan"), 15, "traffic[0].data.user_id.zipf.s", "expected a finite number, got .nan"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{normal: {mean: .nan, sd: 1}}"), 15,
     "traffic[0].data.user_id.normal.mean", "expected a finite number, got .nan"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{uniform: {min: 0, max: .inf}}"), 15,
     "traffic[0].data.user_id.uniform.max", "expected a finite number, got .inf"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{uniform: {min: -.inf, max: 1}}"), 15,
     "traffic[0].data.user_id.uniform.min", "expected a finite number, got -.inf"),
    (BASE.replace('{zipf: {n: 20, s: 1.1}, format: "user-{}"}', "{uniform: {min: .nan, max: 1}}"), 15,
     "traffic[0].data.user_id.uniform.min", "expected a finite number, got .nan"),
    (BASE.replace("{poisson: {rate: 2/s}}", "{diurnal: {mean: 2/s, amplitude: .nan, period: 1h}}"), 13,
     "traffic[0].arrivals.diurnal.amplitude", "expected a finite number, got .nan"),
]


@pytest.mark.parametrize("text, line, field, message", NON_FINITE, ids=[c[2] + c[3][-5:] for c in NON_FINITE])
def test_nan_and_infinity_are_refused(tmp_path, text, line, field, message):
    expect(tmp_path, text, line, field, message)


@pytest.mark.parametrize("key, value", [("speed", ".nan"), ("speed", ".inf"), ("scale", ".nan"),
                                        ("scale", ".inf")])
def test_replay_speed_and_scale_must_be_finite(tmp_path, key, value):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"name": "a/b", "ts": 0, "data": {}}\n{"name": "a/b", "ts": 1000, "data": {}}\n')
    text = BASE.split("traffic:")[0] + f"traffic:\n  - replay:\n      file: {trace}\n      {key}: {value}\n"
    expect(tmp_path, text, 14, f"traffic[0].replay.{key}", f"expected a finite number, got {value}")


def test_nan_from_set_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE)
    result = CliRunner().invoke(app, ["compare", str(path), "--set", "functions.fn.steps.0.failure_rate=.nan",
                                      "-n", "2", "--workers", "1", "--out", str(tmp_path / "out")])
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "--set functions.fn.steps.0.failure_rate: expected a finite number, got .nan" in out
    assert not (tmp_path / "out").exists()


# --- 4. a rate over a zero period -------------------------------------------------------------

@pytest.mark.parametrize("rate", ["5/0s", "5/0m", "5/0.0h"])
def test_rate_over_zero_period(tmp_path, rate):
    expect(tmp_path, BASE.replace("rate: 2/s", f"rate: {rate}"), 13, "traffic[0].arrivals.poisson.rate",
           f"the period of a rate must be greater than 0 (as in 5/2s), got '{rate}'")


# --- 5. deeply nested CEL ---------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    "(" * 113 + "true" + ")" * 113,
    "[" * 104 + "]" * 104 + " == []",
    " && ".join(["event.data.a == 1"] * 822),
    "!" * 1236 + "true",
    "(" * 5000 + "true" + ")" * 5000,
], ids=["parens", "brackets", "and", "not", "parens5000"])
def test_deeply_nested_expression(tmp_path, expr):
    text = BASE.replace("triggers: [{event: a/b}]", f"triggers: [{{event: a/b, if: '{expr}'}}]")
    path, out = validate(tmp_path, text)
    assert f"{path}:6: functions[0].triggers[0].if: invalid trigger `if` expression" in out
    assert "expression nested too deeply" in out
    assert len(out) < 1000                      # the expression is shortened in the message


def test_deeply_nested_key(tmp_path):
    text = BASE.replace("concurrency: 5", "concurrency: {limit: 1, key: '" + "[" * 104 + "]" * 104 + "'}")
    expect(tmp_path, text, 7, "functions[0].concurrency.key", "expression nested too deeply")


def test_moderately_nested_expressions_still_compile():
    from flowsim.expr import compile_expr
    act = {"event": {"data": {"a": 1, "s": "xy"}}}
    assert compile_expr("(" * 30 + "event.data.a == 1" + ")" * 30).evaluate(act) is True
    assert compile_expr(" && ".join(["event.data.a == 1"] * 300)).evaluate(act) is True
    assert compile_expr("!" * 300 + "true").evaluate(act) is True
    assert compile_expr(" || ".join([f"event.data.s.matches('^{i}')" for i in range(100)])).evaluate(act) is False


# --- 6. invalid regular expressions -----------------------------------------------------------

@pytest.mark.parametrize("expr, pattern", [
    ("event.data.user_id.matches('[')", "["),
    ("matches(event.data.user_id, 'a(')", "a("),
    ("event.data.user_id.matches('(?=lookahead)')", "(?=lookahead)"),
])
def test_invalid_regex_literal(tmp_path, expr, pattern):
    text = BASE.replace("triggers: [{event: a/b}]", f'triggers: [{{event: a/b, if: "{expr}"}}]')
    expect(tmp_path, text, 6, "functions[0].triggers[0].if",
           f"invalid regular expression '{pattern}' in matches()")


def test_valid_and_dynamic_regexes_still_work():
    from flowsim.expr import compile_expr
    act = {"event": {"data": {"s": "user-12", "p": "["}}}
    assert compile_expr("event.data.s.matches('^user-[0-9]+$')").evaluate(act) is True
    assert compile_expr("matches(event.data.s, r'\\d')").evaluate(act) is True
    # a pattern from the data cannot be checked when compiling: it stays an evaluation error
    assert compile_expr("event.data.s.matches(event.data.p)").native is False


def test_invalid_regex_in_wait_match(tmp_path):
    text = BASE.replace("      - run: work\n        duration: 100ms",
                        "      - waitForEvent: {event: c/d, if: \"async.data.x.matches('*')\", timeout: 1s}")
    expect(tmp_path, text, 9, "functions[0].steps[0].waitForEvent.if", "invalid regular expression '*'")


# --- 7. readable bounds -----------------------------------------------------------------------

def test_zero_horizon_says_greater_than_zero(tmp_path):
    expect(tmp_path, BASE.replace("horizon: 1m", "horizon: 0"), 3, "horizon",
           "horizon must be greater than 0, got 0s")


def test_zero_start_timeout_says_greater_than_zero(tmp_path):
    text = BASE.replace("    concurrency: 5", "    concurrency: 5\n    timeouts: {start: 0}")
    expect(tmp_path, text, 8, "functions[0].timeouts.start", "start timeout must be greater than 0, got 0s")


def test_tiny_bounds_read_in_microseconds_and_nanoseconds():
    from flowsim.scenario.source import Node, Source
    src = Source("f.yaml", {(): 1})
    with pytest.raises(ScenarioError, match=r"period must be at least 1µs, got 100ns"):
        Node("100ns", (), src).duration(minimum=1e-6, what="period")
    with pytest.raises(ScenarioError, match=r"period must be greater than 0, got 0s"):
        Node(0, (), src).duration(minimum=1e-6, what="period")
    with pytest.raises(ScenarioError, match=r"wait must be at least 2ms, got 1ms"):
        Node("1ms", (), src).duration(minimum=2e-3, what="wait")


def test_mapping_can_name_the_other_forms_a_field_accepts():
    from flowsim.scenario.source import Node, Source
    node = Node("five", ("concurrency",), Source("f.yaml", {("concurrency",): 7}))
    with pytest.raises(ScenarioError) as exc:
        node.mapping(("limit", "key", "scope"), expected="an integer or a mapping with limit, key, scope")
    assert str(exc.value) == ("f.yaml:7: concurrency: expected an integer or a mapping with limit, key, scope, "
                              "got string 'five'")
    with pytest.raises(ScenarioError, match="expected a mapping, got string 'five'"):
        node.mapping()
