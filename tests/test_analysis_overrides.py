"""Overrides (--set, variants): paths, values, and errors that name the override."""
from __future__ import annotations

import copy
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowsim
from flowsim.analysis.overrides import (Override, apply_overrides, build_scenario, parse_assignment,
                                        variants_of)
from flowsim.errors import ScenarioError
from flowsim.scenario.source import load_yaml

YAML = textwrap.dedent("""\
    name: t
    platform: ideal
    functions:
      - id: a
        triggers: [{event: go}]
        steps:
          - run: s1
            duration: 1s
          - run: s2
            duration: 1s
      - id: b
        triggers: [{event: go}]
        concurrency: {limit: 2, key: event.data.user}
        steps: [{run: s, duration: 1s}]
    traffic:
      - event: go
        arrivals: {poisson: {rate: 1/s}}
        data:
          user: {choice: {x: 0.5, y: 0.5}}
          ok: {choice: {true: 0.5, false: 0.5}}
    """)


def loaded(text: str = YAML):
    data, source = load_yaml(text, "t.yaml")
    return data, source


@pytest.mark.parametrize("assignment, path, expected", [
    ("functions.b.concurrency.0.limit=5", ("functions", 1, "concurrency", "limit"), 5),   # single value as a list
    ("functions.1.concurrency.limit=3", ("functions", 1, "concurrency", "limit"), 3),     # by index
    ("functions.a.concurrency=4", ("functions", 0, "concurrency"), 4),                    # created
    ("account.concurrency=50", ("account", "concurrency"), 50),                           # created, nested
    ("functions.a.steps.1.duration=2s", ("functions", 0, "steps", 1, "duration"), "2s"),
    ("traffic.0.data.ok.choice.true=0.9", ("traffic", 0, "data", "ok", "choice", True), 0.9),  # YAML key true
    ("functions.a.throttle={limit: 3, period: 1m}", ("functions", 0, "throttle"), {"limit": 3, "period": "1m"}),
])
def test_assignment_reaches_the_field(assignment, path, expected):
    data, _ = loaded()
    before = copy.deepcopy(data)
    out, reached = apply_overrides(data, [parse_assignment(assignment)])
    node = out
    for part in path:
        node = node[part]
    assert node == expected
    assert reached == [path]
    assert data == before                      # the original is untouched


def test_null_removes_a_field_and_the_scenario_still_loads():
    data, source = loaded()
    sc = build_scenario(data, source, [parse_assignment("functions.b.concurrency=null")])
    assert sc.function("b").mechanisms["concurrency"].keyed == ()


def test_overridden_scenario_has_the_new_value():
    data, source = loaded()
    sc = build_scenario(data, source, [parse_assignment("functions.b.concurrency.0.limit=7"),
                                       parse_assignment("horizon=2m")])
    assert sc.function("b").mechanisms["concurrency"].keyed[0].limit == 7
    assert sc.horizon == 120.0


@pytest.mark.parametrize("assignment, fragment", [
    ("functions.zz.concurrency=3", "functions has no item with id 'zz' (ids: a, b)"),
    ("functions.5.concurrency=3", "index 5 is out of range: functions has 2 item(s)"),
    ("functions.a.steps.0.run.x=1", "functions[0].steps[0].run is 's1', which has no field 'x'"),
])
def test_bad_paths_name_the_override(assignment, fragment):
    data, source = loaded()
    with pytest.raises(ScenarioError) as info:
        build_scenario(data, source, [parse_assignment(assignment)])
    assert info.value.field == "--set " + assignment.split("=")[0]
    assert fragment in info.value.message


def test_invalid_value_names_the_override_and_the_field_below_it():
    data, source = loaded()
    with pytest.raises(ScenarioError) as info:
        build_scenario(data, source, [parse_assignment("functions.b.concurrency={limit: 0, key: event.data.user}")])
    assert info.value.field == "--set functions.b.concurrency (functions[1].concurrency.limit)"
    assert "a keyed concurrency limit of 0 would block every run" in info.value.message
    assert info.value.line is None and info.value.file == "t.yaml"


def test_error_elsewhere_caused_by_an_override_keeps_its_line_and_says_which_override():
    data, source = loaded()
    with pytest.raises(ScenarioError) as info:
        build_scenario(data, source, [parse_assignment("functions.a.steps.1.run=s1")])
    assert info.value.field == "functions[0].steps[1]"
    assert info.value.line == 9
    assert "duplicate step name 's1'" in info.value.message
    assert "(with --set functions.a.steps.1.run=s1)" in info.value.message


@pytest.mark.parametrize("text, fragment", [("functions.a", "expected PATH=VALUE"),
                                            ("=3", "expected PATH=VALUE"),
                                            ("functions..a=3", "expected a dotted field path"),
                                            ("x={a: [}", "invalid value")])
def test_bad_assignments(text, fragment):
    with pytest.raises(ScenarioError, match=fragment.replace("[", r"\[")):
        parse_assignment(text)


def test_command_line_values_are_yaml_scalars():
    assert parse_assignment("a=5").value == 5
    assert parse_assignment("a=2s").value == "2s"
    assert parse_assignment("a=true").value is True
    assert parse_assignment("a={limit: 3}").value == {"limit": 3}
    assert parse_assignment("a.b = 1.5 ").value == 1.5


VARIANTS = YAML + textwrap.dedent("""\
    variants:
      tight: {functions.b.concurrency.0.limit: 1}
      loose:
        functions.b.concurrency.0.limit: 5
        account.concurrency: 50
    """)


def test_variants_are_read_in_file_order_with_their_lines():
    data, source = loaded(VARIANTS)
    variants = variants_of(data, source)
    assert list(variants) == ["tight", "loose"]
    assert variants["loose"] == (Override("functions.b.concurrency.0.limit", 5, "variants.loose", 24),
                                 Override("account.concurrency", 50, "variants.loose", 25))


@pytest.mark.parametrize("variants, line, field, fragment", [
    ("variants:\n  tight: {functions.b.concurrency.0.limit: 0}\n", 22,
     "variants.tight functions.b.concurrency.0.limit", "a keyed concurrency limit of 0"),
    ("variants:\n  tight: {functions.q.concurrency: 1}\n", 22,
     "variants.tight functions.q.concurrency", "functions has no item with id 'q'"),
    ("variants:\n  base: {horizon: 1m}\n", 22, "variants.base", "'base' names the scenario without a variant"),
    ("variants:\n  tight: 3\n", 22, "variants.tight", "expected a mapping"),
    ("variants: [a]\n", 21, "variants", "expected a mapping"),
    ("variants:\n  tight: {'functions..b': 1}\n", 22, "variants.tight.functions..b", "dotted field path"),
])
def test_bad_variants_fail_at_load_with_their_line(tmp_path, variants, line, field, fragment):
    path = tmp_path / "s.yaml"
    path.write_text(YAML + variants)
    with pytest.raises(ScenarioError) as info:
        flowsim.load_scenario(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert fragment in info.value.message
    assert info.value.file == str(path)


def test_good_variants_load():
    data, _ = loaded(VARIANTS)
    assert flowsim.load_scenario(data).name == "t"


# -- property: an override changes its field and nothing else -------------------------------------------

scalars = st.one_of(st.integers(-5, 5), st.text("abc", min_size=1, max_size=3), st.booleans())
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3),
    st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner, min_size=1, max_size=3)), max_leaves=12)


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaf_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaf_paths(v, prefix + (i,))
    else:
        yield prefix


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=2), trees, min_size=1, max_size=3), st.data())
def test_override_sets_exactly_its_field(tree, data):
    paths = list(_leaf_paths(tree))
    path = data.draw(st.sampled_from(paths))
    out, reached = apply_overrides(tree, [Override(".".join(str(p) for p in path), "NEW")])
    assert reached == [path]
    expected = copy.deepcopy(tree)
    node = expected
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = "NEW"
    assert out == expected
