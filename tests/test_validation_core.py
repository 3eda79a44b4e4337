"""Bad input: each rule gives file, line, field and what is allowed, exit code 2,
no traceback and nothing written."""
from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from flowsim.cli import app

GOOD_FN = """\
functions:
  - id: f
    triggers: [{event: go}]
    steps:
      - run: s
        duration: 1s
"""
TRAFFIC = """\
traffic:
  - events: [{at: 0, name: go}]
"""

CASES = [
    # (yaml text, expected line, expected field, expected message fragment)
    ("name: x\nfoo: 1\n" + GOOD_FN + TRAFFIC, 2, "foo", "unknown field 'foo'; allowed: name"),
    ("horizon: 5 parsecs\n" + GOOD_FN + TRAFFIC, 1, "horizon", "expected a duration such as"),
    (GOOD_FN.replace("duration: 1s", "duration: {gamma: {k: 2}}") + TRAFFIC, 6, "functions[0].steps[0].duration.gamma",
     "gamma"),
    (GOOD_FN.replace("      - run: s\n        duration: 1s", "      - fly: away") + TRAFFIC, 5,
     "functions[0].steps[0]", "a step must have exactly one of: run, sleep, waitForEvent (unknown step kind 'fly')"),
    (GOOD_FN.replace("    steps:", "    concurrency: [{limit: 1, key: event.data.a}, {limit: 2, key: event.data.b},"
                     " {limit: 3}]\n    steps:") + TRAFFIC, 4, "functions[0].concurrency",
     "There are more concurrency limits specified than the allowed max of: 2"),
    (GOOD_FN.replace("    steps:", "    concurrency: [{limit: 5, scope: account}]\n    steps:") + TRAFFIC, 4,
     "functions[0].concurrency[0]", "A concurrency key must be specified for account scoped limits"),
    (GOOD_FN.replace("    steps:", "    concurrency: [{limit: 0, key: event.data.a}]\n    steps:") + TRAFFIC, 4,
     "functions[0].concurrency[0].limit", "a keyed concurrency limit of 0 would block every run"),
    (GOOD_FN.replace("    steps:", "    concurrency: [{limit: 2, key: 'event.data.'}]\n    steps:") + TRAFFIC, 4,
     "functions[0].concurrency[0].key", "Invalid concurrency key 'event.data.'"),
    (GOOD_FN.replace("    steps:", "    concurrency: [{limit: two}]\n    steps:") + TRAFFIC, 4,
     "functions[0].concurrency[0].limit", "expected an integer"),
    (GOOD_FN.replace("triggers: [{event: go}]", "triggers: [{event: go, if: 'event.data.x =='}]") + TRAFFIC, 3,
     "functions[0].triggers[0].if", "invalid trigger `if` expression"),
    (GOOD_FN + "  - id: f\n    triggers: [go]\n    steps: [{run: s, duration: 1}]\n" + TRAFFIC, 7,
     "functions[1].id", "duplicate function id 'f'"),
    (GOOD_FN.replace("    steps:", "    retries: 21\n    steps:") + TRAFFIC, 4, "functions[0].retries",
     "value must be at most 20"),
    (GOOD_FN + "traffic:\n  - event: go\n    arrivals: {poisson: {rate: fast}}\n", 9,
     "traffic[0].arrivals.poisson.rate", "expected a rate such as"),
    ("functions: [\n", 2, None, "invalid YAML"),
    (GOOD_FN + TRAFFIC + "seed: 1\nseed: 2\n", 10, "seed", "duplicate key 'seed'"),
    ("account: {concurrency: 0}\n" + GOOD_FN + TRAFFIC, 1, "account.concurrency", "value must be at least 1"),
    (GOOD_FN.replace("    steps:", "    concurrency: {fn: [{limit: 1}]}\n    steps:") + TRAFFIC, 4,
     "functions[0].concurrency", "not modelled"),
    (GOOD_FN.replace("        duration: 1s", "        duration: 1s\n      - waitForEvent: {event: x}") + TRAFFIC, 7,
     "functions[0].steps[1].waitForEvent", "missing required field 'timeout'"),
]


@pytest.mark.parametrize("text, line, field, message", CASES, ids=[c[3][:40] for c in CASES])
def test_bad_scenario_exit_2(tmp_path, text, line, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    for args in (["validate", str(path)], ["run", str(path), "--out", str(out), "--quiet"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        text_out = " ".join(result.output.split())
        assert f"{path}:{line}" in text_out
        if field:
            assert f": {field}: " in text_out
        assert message in text_out
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_missing_file_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_valid_scenario_validates(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD_FN + TRAFFIC)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and "ok — 1 function, 1 traffic source;" in result.output
