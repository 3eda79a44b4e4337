"""`flowsim export ts`: each shipped scenario against its expected TypeScript, every option's
shape on a hand-written expected text, durations and strings, variants and bad input.

The expected text of the shipped scenarios is in tests/golden/export/<scenario>.ts. After
an intended change of the output, regenerate them and review the diff:

    FLOWSIM_REGEN_GOLDEN=1 python -m pytest tests/test_export.py -q
    git diff tests/golden/export/

(with the variable set, each golden is rewritten from the current output before it is
compared). The goldens are in the default shape, SDK v4's; tests/test_export_sdk.py
typechecks every shipped scenario and variant against the real ``inngest@4`` and, with
``--sdk v3``, ``inngest@3``.
"""
from __future__ import annotations

import os
import re
import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from typer.testing import CliRunner

from flowsim.analysis.overrides import parse_assignment
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.export import batch_time_str, export_app, js_string, load_for_export, ms_str, time_str, to_typescript
from tests.test_analysis_cli import YAML
from flowsim.scenario.load import load_scenario
from flowsim.units import parse_duration

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "export"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
runner = CliRunner()


def quiet_load(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        return load_scenario(source)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_matches_its_golden(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    text = to_typescript(quiet_load(Path("scenarios") / path.name))
    golden = GOLDEN / f"{path.stem}.ts"
    if os.environ.get("FLOWSIM_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no expected text for {path.name}: run FLOWSIM_REGEN_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(encoding="utf-8")


def test_every_golden_has_a_shipped_scenario():
    assert sorted(p.stem for p in GOLDEN.glob("*.ts")) == [p.stem for p in SHIPPED]


EVERYTHING = {
    "name": "every-option",
    "account": {"concurrency": 200},
    "functions": [
        {"id": "1st-everything", "name": "Everything at once",
         "triggers": [{"event": "orders/*", "if": "event.data.total > 100"}, "order/placed"],
         "concurrency": [{"key": "event.data.user_id", "limit": 2}, {"limit": 0}],
         "throttle": {"limit": 0, "period": "90.5s", "key": "event.data.customer_id"},
         "rateLimit": {"limit": 5, "period": "1m"},
         "idempotency": "event.data.order_id",
         "debounce": {"period": "1.5s", "key": 'event.data.doc + "-" + event.data.user', "timeout": "2d"},
         "priority": {"run": "event.data.vip ? 120 : 0"},
         "singleton": {"key": "event.data.user_id"},
         "cancelOn": [{"event": "order/cancelled", "match": "event.data.order_id", "timeout": "36h"},
                      {"event": "order/refunded", "if": "async.data.id == event.data.id"}],
         "timeouts": {"start": "500ms"},
         "retries": 0,
         "steps": [{"run": 'charge "card"', "duration": {"uniform": {"min": "1s", "max": "3s"}},
                    "failure_rate": 0.005},
                   {"sleep": "1h30m", "name": "cool-off"},
                   {"waitForEvent": {"event": "order/shipped", "if": "async.data.id == event.data.id",
                                     "timeout": "7d"}, "name": "shipped"}]},
        {"id": "delete", "triggers": [{"event": "a"}], "concurrency": 0,
         "batchEvents": {"maxSize": 10, "timeout": "5m", "key": "event.data.list", "if": "event.data.bulk"},
         "rateLimit": {"limit": 3, "period": "500ms"},
         "steps": [{"run": "s", "duration": {"empirical": ["1s", "2s"]}}]},
        {"id": "sync", "triggers": [{"event": "b"}],
         "concurrency": [{"limit": 60, "key": '"openai"', "scope": "account"}, {"limit": 8}],
         "throttle": {"limit": 3, "period": "7d", "burst": 2},
         "rateLimit": {"limit": 1, "period": "24h", "key": "event.data.x"},
         "singleton": {"mode": "cancel"},
         "steps": [{"run": "s", "duration": {"exponential": {"mean": "250ms"}}}]},
    ],
    "traffic": [{"events": []}],
}

EVERYTHING_TS = '''\
// flowsim export ts: scenario "every-option", variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v3: createFunction(options, trigger, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 200 (a plan limit, not a function option).

import { inngest } from "./client";

export const fn1stEverything = inngest.createFunction(
  {
    id: "1st-everything",
    name: "Everything at once",
    concurrency: [{ limit: 2, key: "event.data.user_id" }],
    throttle: { limit: 1, period: "1m30s", key: "event.data.customer_id" },
    // rateLimit: left out, idempotency replaces it, as Inngest does (spec §5.1)
    idempotency: "event.data.order_id",
    debounce: { period: "1.5s", key: 'event.data.doc + "-" + event.data.user', timeout: "2d" },
    priority: { run: "event.data.vip ? 120 : 0" },
    singleton: { key: "event.data.user_id", mode: "skip" },
    cancelOn: [
      { event: "order/cancelled", match: "data.order_id", timeout: "36h" },
      { event: "order/refunded", if: "async.data.id == event.data.id" },
    ],
    timeouts: { start: "0.5s" },
    retries: 0,
  },
  [{ event: "orders/*", if: "event.data.total > 100" }, { event: "order/placed" }],
  async ({ event, step }) => {
    // await step.run('charge "card"', async () => { /* ... */ }); // modelled: uniform(1s, 3s), 0.5% of attempts fail
    // await step.sleep("cool-off", "90m");
    // await step.waitForEvent("shipped", { event: "order/shipped", timeout: "7d", if: "async.data.id == event.data.id" });
  },
);

export const deleteFn = inngest.createFunction(
  {
    id: "delete",
    // concurrency: left out, a function limit of 0 sets no limit (spec §3.1)
    // rateLimit: left out, its period is under 1s, which Inngest truncates to 0: no limit (spec §2.2)
    batchEvents: { maxSize: 10, timeout: "300s", key: "event.data.list", if: "event.data.bulk" },
    retries: 4,
  },
  { event: "a" },
  async ({ events, step }) => {
    // await step.run("s", async () => { /* ... */ }); // modelled: empirical(2 values, mean=1.5s)
  },
);

export const sync = inngest.createFunction(
  {
    id: "sync",
    concurrency: [{ limit: 8 }, { limit: 60, key: '"openai"', scope: "account" }],
    throttle: { limit: 3, period: "7d", burst: 2 },
    rateLimit: { limit: 1, period: "24h", key: "event.data.x" },
    singleton: { mode: "cancel" },
    retries: 4,
  },
  { event: "b" },
  async ({ event, step }) => {
    // await step.run("s", async () => { /* ... */ }); // modelled: exponential(mean=250ms)
  },
);
'''


def test_every_option_in_the_sdk_shape():
    """Normalised values: throttle limit 0 → 1 and period truncated (§4.1), idempotency
    replacing rateLimit (§5.1), concurrency sorted by limit (§3.1), match as a path; the
    SDK v3 shape, with the trigger as the second argument..."""
    assert to_typescript(quiet_load(EVERYTHING), sdk="v3") == EVERYTHING_TS


def test_v4_puts_the_triggers_in_the_options():
    text = to_typescript(quiet_load(EVERYTHING), "sync", sdk="v4")
    assert "Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler)." in text
    assert text.endswith(textwrap.dedent('''\
        export const sync = inngest.createFunction(
          {
            id: "sync",
            triggers: { event: "b" },
            concurrency: [{ limit: 8 }, { limit: 60, key: '"openai"', scope: "account" }],
            throttle: { limit: 3, period: "7d", burst: 2 },
            rateLimit: { limit: 1, period: "24h", key: "event.data.x" },
            singleton: { mode: "cancel" },
            retries: 4,
          },
          async ({ event, step }) => {
            // await step.run("s", async () => { /* ... */ }); // modelled: exponential(mean=250ms)
          },
        );
        '''))


def test_one_function_is_its_block_of_the_whole_export():
    sc = quiet_load(EVERYTHING)
    whole = to_typescript(sc)
    one = to_typescript(sc, "delete")
    block = one.split('import { inngest } from "./client";\n\n')[1]
    assert block.startswith("export const deleteFn = ") and block in whole
    assert "fn1stEverything" not in one and "export const sync" not in one


def test_unknown_function_or_sdk_is_a_scenario_error():
    sc = quiet_load(EVERYTHING)
    with pytest.raises(ScenarioError, match=r"no function 'nope' in every-option; known: 1st-everything, delete, sync"):
        to_typescript(sc, "nope")
    with pytest.raises(ScenarioError, match="expected one of v3, v4"):
        to_typescript(sc, sdk="v2")


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.25, "0.25s"), (1, "1s"), (59.5, "59.5s"), (60, "1m"), (90, "1m30s"), (1800, "30m"),
    (3600, "1h"), (5400, "1h30m"), (86400, "24h"), (129600, "36h"), (172800, "2d"), (604800, "7d"),
    (90061.5, "25h1m1.5s"), (0.0000015, "0.000002s"),
])
def test_time_str(seconds, text):
    assert time_str(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.5, "0.5s"), (1, "1s"), (90, "90s"), (120, "2m"), (5400, "90m"), (3600, "1h"), (129600, "36h"),
    (86400, "1d"), (604800, "7d"), (90061, "90061s"), (1.5, "1.5s"),
])
def test_ms_str_is_one_number_and_one_unit(seconds, text):
    """What the SDK's ms() reads: cancelOn.timeout, step.sleep, waitForEvent's timeout."""
    assert ms_str(seconds) == text


@given(st.floats(min_value=0, max_value=30 * 86400, allow_nan=False))
def test_ms_str_reads_back_as_the_same_duration(seconds):
    assert parse_duration(ms_str(seconds)) == pytest.approx(round(seconds, 6), abs=1e-6)


def test_a_sub_second_cancel_timeout_is_warned_about():
    sc = quiet_load({**EVERYTHING, "functions": [{**EVERYTHING["functions"][2],
                                                  "cancelOn": [{"event": "x", "timeout": "500ms"}]}]})
    with pytest.warns(ScenarioWarning, match=r"sync: cancelOn\[0\].timeout 0.5s is under 1s: SDK v4 registers 1s"):
        text = to_typescript(sc)
    assert '{ event: "x", timeout: "0.5s" }' in text


def test_header_lines_are_comments_whatever_they_quote(tmp_path):
    """A file name holding a line break JavaScript knows (U+2028) and an override that YAML
    wraps at 80 columns: each piece is a comment line of its own."""
    path = tmp_path / "odd\u2028name.yaml"
    path.write_text(VARIANTS)
    long = parse_assignment("functions.f.throttle={limit: 4, period: 10s, key: event.data.customer.id + '-' + "
                            "event.data.region + '-' + event.data.plan}")
    assert "\n" in long.describe()         # yaml.safe_dump wraps it at 80 columns
    sc, applied = load_for_export(path, "base", [long])
    header = to_typescript(sc, overrides=applied).split("\n\nimport")[0]
    lines = re.split("\r\n|[\n\r\u2028\u2029]", header)
    assert len(lines) == 7 and all(line.startswith("//") for line in lines), lines
    assert lines[1] == '// name.yaml), variant "base".'


def test_batch_timeout_is_in_seconds_only():
    assert batch_time_str(300) == "300s" and batch_time_str(1.5) == "1.5s" and batch_time_str(3600) == "3600s"


@given(st.floats(min_value=0, max_value=30 * 86400, allow_nan=False))
def test_time_str_reads_back_as_the_same_duration(seconds):
    assert parse_duration(time_str(seconds)) == pytest.approx(round(seconds, 6), abs=1e-6)
    assert parse_duration(batch_time_str(seconds)) == pytest.approx(round(seconds, 6), abs=1e-6)


@pytest.mark.parametrize("text, literal", [
    ("event.data.user_id", '"event.data.user_id"'),
    ("event.data.tier == 'vip'", "\"event.data.tier == 'vip'\""),
    ('"openai"', "'\"openai\"'"),
    ("a\\b\n\"c\"", "'a\\\\b\\n\"c\"'"),
    ("\u2028", '"\\u2028"'),
])
def test_js_string(text, literal):
    assert js_string(text) == literal


VARIANTS = YAML + "  throttled: {functions.f.throttle: {limit: 4, period: 10s, key: event.data.user}}\n"


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "burst.yaml"
    path.write_text(VARIANTS)
    return path


def invoke(*args):
    return runner.invoke(export_app, ["ts", *[str(a) for a in args]])


def test_cli_prints_the_chosen_variant(scenario_file):
    result = invoke(scenario_file, "--variant", "three")
    assert result.exit_code == 0, result.output
    assert '// flowsim export ts: scenario "burst" (burst.yaml), variant "three".\n' \
           "// override: variants.three functions.f.concurrency=3\n" in result.stdout
    assert "    concurrency: 3,\n" in result.stdout


def test_cli_applies_set_before_the_variant(scenario_file):
    result = invoke(scenario_file, "--variant", "throttled", "--set", "functions.f.concurrency=7",
                    "--set", "functions.f.retries=1")
    assert result.exit_code == 0, result.output
    assert textwrap.dedent('''\
        // override: --set functions.f.concurrency=7
        // override: --set functions.f.retries=1
        // override: variants.throttled functions.f.throttle={key: event.data.user, limit: 4, period: 10s}
        ''') in result.stdout
    assert ('  {\n'
            '    id: "f",\n'
            '    triggers: { event: "go" },\n'
            '    concurrency: 7,\n'
            '    throttle: { limit: 4, period: "10s", key: "event.data.user" },\n'
            '    retries: 1,\n'
            '  },\n') in result.stdout


def test_load_for_export_without_overrides_is_the_file(scenario_file):
    sc, applied = load_for_export(scenario_file)
    assert applied == () and sc.function("f").mechanisms["concurrency"].function_limit == 2


@pytest.mark.parametrize("args, message", [
    (["--variant", "nope"], "--variant: no variant 'nope' in burst; known: base, three, throttled"),
    (["--function", "g"], "--function: no function 'g' in burst; known: f"),
    (["--sdk", "v5"], "--sdk: expected one of v3, v4, got 'v5'"),
    (["--set", "functions.f.concurrency=-1"], "--set functions.f.concurrency: value must be at least 0"),
    (["--set", "functions.g.retries=1"], "functions has no item with id 'g'"),
])
def test_bad_input_exits_2_with_one_line(scenario_file, args, message):
    result = invoke(scenario_file, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_cli_shows_load_warnings_once_on_stderr(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(VARIANTS.replace("concurrency: 2", "concurrency: 2\n    throttle: {limit: 0, period: 10s}"))
    result = invoke(path, "--set", "functions.f.retries=2")
    assert result.exit_code == 0
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "throttle limit 0 is taken as 1" in warned[0]
    assert 'throttle: { limit: 1, period: "10s" },' in result.stdout
