"""`flowsim import`: an app's functions, read by its real SDK (inngest@4, inngest@3, installed
by npm once per run: tests/sdk_projects.py) or from a registration JSON, as a scenario that
validates; what is not modelled listed; bad input exits 2 and writes nothing.
"""
from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from flowsim.cli import app as cli
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.importer import build, comment, flow, read_registration_json, to_scenario
from flowsim.scenario.load import load_scenario
from flowsim.scenario.source import load_yaml
from flowsim.sdk.node import collect
from tests import sdk_projects

runner = CliRunner()

CLIENT = 'import { Inngest } from "inngest";\nexport const inngest = new Inngest({ id: "shop" });\n'

#: Every flow-control option, in both SDK shapes (the v3 app also has a middleware).
OPTIONS = """\
    id: "charge-card",
    name: "Charge the card",
    concurrency: [{ limit: 2, key: "event.data.user_id" }, { limit: 50, key: '"stripe"', scope: "account" }],
    throttle: { limit: 10, period: "1m", burst: 2, key: "event.data.merchant" },
    idempotency: "event.data.order_id",
    debounce: { period: "30s", key: "event.data.cart.id", timeout: "5m" },
    priority: { run: "event.data.vip ? 120 : 0" },
    singleton: { key: "event.data.user_id", mode: "cancel" },
    cancelOn: [{ event: "order/cancelled", match: "data.order_id", timeout: "90m" },
               { event: "order/voided", if: "async.data.id == event.data.id" }],
    timeouts: { start: "10m", finish: "1h" },
    retries: 2,
    checkpointing: false,
    onFailure: async () => {},"""
TRIGGERS = '[{ event: "order/placed", if: "event.data.total > 10" }, { cron: "0 * * * *" }]'
SECOND = """\
    id: "send-receipts",
    rateLimit: { limit: 100, period: "1h", key: "event.data.user_id" },
    batchEvents: { maxSize: 50, timeout: "10s", key: "event.data.user_id", if: "event.data.bulk == true" },"""

APP_V4 = f"""\
import {{ inngest }} from "./client";

export const chargeCard = inngest.createFunction(
  {{
{OPTIONS}
    triggers: {TRIGGERS},
  }},
  async ({{ event, step }}) => {{
    return {{ charged: event.data.order_id }};
  }},
);

export const sendReceipts = inngest.createFunction(
  {{
{SECOND}
    triggers: {{ event: "order/paid" }},
  }},
  async ({{ events }}) => events.length,
);
"""

APP_V3 = f"""\
import {{ InngestMiddleware }} from "inngest";
import {{ inngest }} from "./client";

const audit = new InngestMiddleware({{ name: "audit", init: () => ({{}}) }});

export const chargeCard = inngest.createFunction(
  {{
{OPTIONS}
    middleware: [audit],
  }},
  {TRIGGERS},
  async ({{ event, step }}) => {{
    return {{ charged: event.data.order_id }};
  }},
);

export const sendReceipts = inngest.createFunction(
  {{
{SECOND}
  }},
  {{ event: "order/paid" }},
  async ({{ events }}) => events.length,
);
"""

#: What both SDKs register for the app, as written to the scenario.
FUNCTIONS = """\
functions:
  - id: charge-card
    name: Charge the card
    triggers: [{event: order/placed, if: event.data.total > 10}]
    concurrency:
      - {limit: 2, key: event.data.user_id}
      - {limit: 50, key: '"stripe"', scope: account}
    throttle: {limit: 10, period: 1m, burst: 2, key: event.data.merchant}
    idempotency: event.data.order_id
    debounce: {period: 30s, key: event.data.cart.id, timeout: 5m}
    priority: {run: 'event.data.vip ? 120 : 0'}
    singleton: {key: event.data.user_id, mode: cancel}
    cancelOn:
      - {event: order/cancelled, match: data.order_id, timeout: 1h30m}
      - {event: order/voided, if: async.data.id == event.data.id}
    timeouts: {start: 10m, finish: 1h}
    retries: 2
    # PLACEHOLDER: your handler's steps (run, sleep, waitForEvent) and how long
    # each takes.
    steps:
      - run: handler
        duration: 1s
  - id: send-receipts
    triggers: [{event: order/paid}]
    rateLimit: {limit: 100, period: 1h, key: event.data.user_id}
    batchEvents:
      maxSize: 50
      timeout: 10s
      key: event.data.user_id
      if: event.data.bulk == true
    # retries: not registered, so Inngest's default applies (4)
    # PLACEHOLDER: your handler's steps (run, sleep, waitForEvent) and how long
    # each takes.
    steps:
      - run: handler
        duration: 1s
"""


@pytest.fixture(scope="module")
def v4(tmp_path_factory):
    """The folder of the installed inngest@4."""
    return sdk_projects.package(tmp_path_factory, "inngest")


@pytest.fixture(scope="module")
def v3(tmp_path_factory):
    return sdk_projects.package(tmp_path_factory, "inngest-v3")


def make_app(tmp_path: Path, inngest: Path, files: dict[str, str]) -> Path:
    """An app with that inngest and typescript (installed beside it) and these files."""
    app = sdk_projects.app(tmp_path, inngest, inngest.parent / "typescript")
    for name, text in files.items():
        (app / name).write_text(text)
    return app


def comments(text: str) -> str:
    """The text's comments as one line (they are wrapped at 80 columns)."""
    return " ".join(line.strip()[1:].strip() for line in text.splitlines() if line.strip().startswith("#"))


def invoke(*args):
    return runner.invoke(cli, ["import", *[str(a) for a in args]])


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# -- real SDKs ------------------------------------------------------------------------------

@pytest.mark.parametrize("sdk", ["v4", "v3"])
def test_every_option_is_read_as_the_sdk_registers_it(tmp_path, request, sdk):
    project = request.getfixturevalue(sdk)
    app = make_app(tmp_path, project, {"client.ts": CLIENT, "functions.ts": APP_V4 if sdk == "v4" else APP_V3})
    out = tmp_path / "shop.yaml"
    result = invoke(app / "functions.ts", "--out", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    said = comments(text)
    version = sdk_projects.version(project)
    assert said.startswith(f"Imported by `flowsim import` from functions.ts (inngest {version}, typescript ")
    assert FUNCTIONS in text
    notes = said.split("Not simulated (flowsim does not model these; they are left out): ")[1].split(" PLACEHOLDER")[0]
    expected = ["charge-card: cron trigger '0 * * * *' (flowsim simulates event triggers)",
                "charge-card: onFailure handler (registered as 'shop-charge-card-failure'; flowsim does not run it)",
                "charge-card: `checkpointing` option (not modelled)"]
    if sdk == "v3":
        expected.insert(2, "charge-card: `middleware` option (not modelled)")
    assert sorted(notes.strip("- ").split(" - ")) == sorted(expected)
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: charge-card: not simulated")]
    assert len(warned) == len(expected)
    assert "name: shop\n" in text
    # the placeholder traffic: a source per trigger event, with the fields the keys read
    assert ("  - event: order/placed\n    arrivals: {poisson: {rate: 1/s}}\n    data:\n"
            "      user_id: {zipf: {n: 100, s: 1.0}, format: 'user_id-{}'}\n"
            "      merchant: {zipf: {n: 100, s: 1.0}, format: 'merchant-{}'}\n"
            "      order_id: {zipf: {n: 100, s: 1.0}, format: 'order_id-{}'}\n"
            "      cart: {id: {zipf: {n: 100, s: 1.0}, format: 'cart.id-{}'}}\n") in text
    assert "PLACEHOLDER: conditions read event.data.total, event.data.vip: add them to data" in said
    assert "no source sends the cancelOn events order/cancelled, order/voided" in said
    assert "sends no event.data.total, event.data.vip" in result.stderr
    with pytest.warns(ScenarioWarning, match="rateLimit with batchEvents: Inngest accepts it"):
        sc = load_scenario(out)      # validates (with the loader's warning on the app's combination)
    assert [f.id for f in sc.functions] == ["charge-card", "send-receipts"]
    assert sc.function("charge-card").cancel_on[0].match == "data.order_id"
    assert sc.function("charge-card").cancel_on[0].timeout == 5400
    validated = runner.invoke(cli, ["validate", str(out)])
    assert validated.exit_code == 0 and "error" not in validated.stderr, validated.output


def test_the_printed_scenario_runs(tmp_path, v4):
    app = make_app(tmp_path, v4, {"client.ts": CLIENT, "functions.ts": APP_V4})
    result = invoke(app / "functions.ts")
    assert result.exit_code == 0
    (tmp_path / "s.yaml").write_text(result.stdout)
    ran = runner.invoke(cli, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "runs"), "-q"])
    assert ran.exit_code == 0, ran.output
    summary = json.loads((tmp_path / "runs" / "summary.json").read_text())
    assert summary["events"]["received"] > 0


def test_javascript_modules_and_what_they_export(tmp_path, v4):
    """An exported client leads to all its functions, in creation order; a CommonJS module's
    object export and an array are read one level deep; a function in both keeps its name."""
    app = make_app(tmp_path, v4, {
        "client.mjs": 'import { Inngest } from "inngest";\nexport const inngest = new Inngest({ id: "app" });\n',
        "fns.mjs": textwrap.dedent("""\
            import { inngest } from "./client.mjs";
            export const b = inngest.createFunction({ id: "b", triggers: [{ event: "x" }] }, async () => {});
            export const a = inngest.createFunction({ id: "a", triggers: [{ event: "y" }] }, async () => {});
            export const all = [a, b];
            """),
        "viaclient.mjs": 'import "./fns.mjs";\nexport { inngest } from "./client.mjs";\n',
        "common.cjs": textwrap.dedent("""\
            const { Inngest } = require("inngest");
            const inngest = new Inngest({ id: "cjs" });
            const f = inngest.createFunction({ id: "f", concurrency: 3, triggers: { event: "z" } }, async () => {});
            module.exports = { functions: [f] };
            """),
    })
    found = collect([app / "fns.mjs", app / "viaclient.mjs", app / "common.cjs"])
    assert [(f.export, f.configs[0]["id"]) for f in found[0].functions] == [("b", "app-b"), ("a", "app-a")]
    assert [f.export for f in found[1].functions] == ["inngest.funcs", "inngest.funcs"]
    assert found[2].functions[0].export == "default.functions[0]"
    assert found[2].transpiler is None and found[0].sdk.startswith("inngest 4.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        from flowsim.importer import registration_of
        sc = build(registration_of(found[2]))[1]
    assert sc.name == "cjs" and sc.function("f").mechanisms["concurrency"].function_limit == 3


@pytest.mark.parametrize("sdk", ["v4", "v3"])
def test_functions_passed_to_serve_are_found(tmp_path, request, sdk):
    """A route file exports only the serve() handler: its functions are read all the same."""
    create = ('inngest.createFunction({ id: "hidden", concurrency: 4, triggers: [{ event: "h" }] }, async () => {})'
              if sdk == "v4" else
              'inngest.createFunction({ id: "hidden", concurrency: 4 }, { event: "h" }, async () => {})')
    app = make_app(tmp_path, request.getfixturevalue(sdk), {"route.ts": textwrap.dedent(f"""\
        import {{ Inngest }} from "inngest";
        import {{ serve }} from "inngest/node";
        const inngest = new Inngest({{ id: "web" }});
        const hidden = {create};
        export const handler = serve({{ client: inngest, functions: [hidden] }});
        """)})
    found = collect([app / "route.ts"])[0]
    assert [(f.export, f.configs[0]["id"], f.configs[0]["concurrency"]) for f in found.functions] == [
        ("serve()", "web-hidden", 4)]


def test_tsx_is_used_when_the_app_has_it_with_tsconfig_paths(tmp_path, tmp_path_factory, v4):
    app = sdk_projects.app(tmp_path, v4, sdk_projects.package(tmp_path_factory, "tsx"))
    (app / "tsconfig.json").write_text('{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["src/*"]}}}')
    (app / "src").mkdir()
    (app / "src" / "client.ts").write_text(CLIENT)
    (app / "src" / "functions.ts").write_text(APP_V4.replace('"./client"', '"@/client"'))
    found = collect([app / "src" / "functions.ts"])[0]
    assert found.transpiler.startswith("tsx 4.")
    assert [f.configs[0]["id"] for f in found.functions] == ["shop-charge-card", "shop-send-receipts"]


def test_a_path_alias_without_tsx_says_to_install_it(tmp_path, v4):
    app = make_app(tmp_path, v4, {"functions.ts": APP_V4.replace('"./client"', '"@/client"')})
    line = error_line(invoke(app / "functions.ts"))
    assert "Error [ERR_MODULE_NOT_FOUND]: Cannot find package '@/client'" in line
    assert "knows no tsconfig.json path aliases: npm install --save-dev tsx" in line


def test_an_older_v3_sdk_is_read_and_what_it_does_not_register_is_said(tmp_path, tmp_path_factory):
    """inngest 3.20 predates singleton and timeouts (it drops them from the registration),
    the SDK's object tags and the object form of getConfig: the options set in the code but
    not registered are warned about and not imported."""
    app = sdk_projects.app(tmp_path, sdk_projects.package(tmp_path_factory, "inngest-v3.20"))
    (app / "fns.mjs").write_text(textwrap.dedent("""\
        import { Inngest } from "inngest";
        export const inngest = new Inngest({ id: "old" });
        export const f = inngest.createFunction(
          { id: "f", concurrency: 2, singleton: { mode: "skip" }, timeouts: { start: "1m" } },
          { event: "e" },
          async () => {},
        );
        """))
    result = invoke(app / "fns.mjs")
    assert result.exit_code == 0, result.output
    for option in ("singleton", "timeouts"):
        assert (f"warning: {app / 'fns.mjs'}: f: `{option}` is set in the code, but inngest 3.20.0 does not "
                "register it, so Inngest ignores it; it is not imported") in result.stderr.replace("\n", " ")
    assert "    concurrency: 2\n" in result.stdout and "singleton" not in result.stdout.split("functions:")[1]


def test_the_json_registration_imports_as_the_module_does(tmp_path, v4):
    """The payload of a sync (for apps in other languages) gives the same scenario."""
    app = make_app(tmp_path, v4, {"client.ts": CLIENT, "functions.ts": APP_V4})
    found = collect([app / "functions.ts"])[0]
    payload = {"url": "http://localhost:3000/api/inngest", "appName": "shop", "sdk": "js:v4",
               "functions": [c for f in found.functions for c in f.configs]}
    (tmp_path / "sync.json").write_text(json.dumps(payload, indent=2))
    from_json = invoke(tmp_path / "sync.json")
    from_module = invoke(app / "functions.ts")
    assert from_json.exit_code == 0 and from_module.exit_code == 0
    body = lambda text: text[text.index("name: "):]   # noqa: E731 (the header names the source)
    assert body(from_json.stdout) == body(from_module.stdout)
    assert "from sync.json (registration JSON (js:v4))" in comments(from_json.stdout)


# -- bad input with node ---------------------------------------------------------------------

def test_a_module_that_throws_exits_2_saying_where(tmp_path, v4):
    app = make_app(tmp_path, v4, {"client.ts": CLIENT, "functions.ts": textwrap.dedent("""\
        import { inngest } from "./client";
        const url: string | undefined = undefined;
        function connect(): never { throw new TypeError("DATABASE_URL is not set"); }
        export const db = url ?? connect();
        """)})
    out = tmp_path / "out.yaml"
    line = error_line(invoke(app / "functions.ts", "--out", out))
    assert "functions.ts: the module threw while node loaded it: TypeError: DATABASE_URL is not set" in line
    assert f"(at {app / 'functions.ts'}:3:" in line      # the TypeScript line, through the source map
    assert not out.exists()


@pytest.mark.parametrize("files, expected", [
    ({"a.mjs": "export const a = 1;\nexport default { b: 2 };\n"},
     "a.mjs: the module exports no Inngest functions (its exports: a, default); export the functions"),
    ({"a.ts": 'import { inngest } from "./client";\nexport const client = 1;\n', "client.ts": CLIENT},
     "a.ts: the module exports no Inngest functions (its exports: client)"),
])
def test_a_module_without_functions_exits_2(tmp_path, v4, files, expected):
    app = make_app(tmp_path, v4, files)
    assert expected in error_line(invoke(app / next(iter(files)), "--out", tmp_path / "o.yaml"))
    assert not (tmp_path / "o.yaml").exists()


def test_no_sdk_exits_2(tmp_path):
    (tmp_path / "a.mjs").write_text('export const a = 1;\n')
    line = error_line(invoke(tmp_path / "a.mjs"))
    assert "a.mjs: no `inngest` package is installed for this module (looked up from" in line
    assert "npm install inngest" in line


def test_an_sdk_older_than_v3_exits_2(tmp_path, tmp_path_factory):
    old = sdk_projects.packed(tmp_path_factory, "inngest@2")
    app = sdk_projects.app(tmp_path, old)
    (app / "a.mjs").write_text('import { Inngest } from "inngest";\n')
    line = error_line(invoke(app / "a.mjs"))
    assert "is too old: flowsim import reads the function configuration of the TypeScript SDK v3 and v4" in line
    assert "npm install inngest@latest" in line and "inngest 2." in line


def test_typescript_without_a_transpiler_exits_2(tmp_path, v4):
    app = sdk_projects.app(tmp_path, v4)
    (app / "a.ts").write_text("export const a: number = 1;\n")
    line = error_line(invoke(app / "a.ts"))
    assert "neither `tsx` nor `typescript` is installed for it" in line and "npm install --save-dev typescript" in line


def test_node_missing_exits_2(tmp_path, monkeypatch):
    (tmp_path / "a.mjs").write_text("export const a = 1;\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert "node is not on PATH" in error_line(invoke(tmp_path / "a.mjs"))


def test_a_module_that_never_finishes_loading_is_stopped(tmp_path, v4):
    app = make_app(tmp_path, v4, {"a.mjs": "await new Promise(() => setInterval(() => {}, 1000));\n"})
    with pytest.raises(ScenarioError, match=r"did not finish loading within 1 s"):
        collect([app / "a.mjs"], timeout=1)


def test_a_server_left_running_does_not_hold_the_import(tmp_path, v4):
    app = make_app(tmp_path, v4, {"a.mjs": textwrap.dedent("""\
        import http from "node:http";
        import { Inngest } from "inngest";
        const inngest = new Inngest({ id: "srv" });
        export const f = inngest.createFunction({ id: "f", triggers: { event: "e" } }, async () => {});
        http.createServer(() => {}).listen(0);
        console.log("listening");
        """)})
    result = invoke(app / "a.mjs")
    assert result.exit_code == 0 and "listening" not in result.stdout and "  - id: f\n" in result.stdout


# -- registration JSON ------------------------------------------------------------------------

def registration(*functions, app="py-app"):
    return {"appName": app, "sdk": "py:v0.5.0", "functions": list(functions)}


def fn(fn_id, **fields):
    return {"id": f"py-app-{fn_id}", "name": fn_id, "triggers": [{"event": "e"}],
            "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": "u"},
                               "retries": {"attempts": 1}}}, **fields}


def write(tmp_path, data, name="sync.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def test_json_what_is_not_modelled_is_listed(tmp_path):
    data = registration(
        fn("a", throttle={"limit": 1, "period": "1s", "quantum": 3}, checkpoint={"on": True},
           cancel=[{"event": "stop", "if": "event.data.id == async.data.id", "timeout": ""}]),
        fn("b", triggers=[{"cron": "*/5 * * * *"}]),
        {"id": "py-app-a-failure", "name": "a (failure)",
         "triggers": [{"event": "inngest/function.failed", "expression": "event.data.function_id == 'py-app-a'"}]},
        fn("c", triggers=[{"event": "inngest/function.finished"}, {"event": "f", "expression": "event.data.x"}]),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        imported, sc = build(read_registration_json(write(tmp_path, data)))
    assert imported.notes == {
        "a": ["registered field `checkpoint` (not modelled)", "`throttle.quantum` (not modelled)",
              "onFailure handler (registered as 'py-app-a-failure'; flowsim does not run it)"],
        "b": ["cron trigger '*/5 * * * *' (flowsim simulates event triggers)", "not imported: it has no event trigger"],
        "c": ["trigger on Inngest's internal event 'inngest/function.finished' (flowsim does not emit it)"],
    }
    assert [f.id for f in sc.functions] == ["a", "c"] and sc.function("a").retries == 1
    assert sc.function("a").cancel_on[0].match == "data.id" and sc.function("a").cancel_on[0].timeout is None
    assert any("an empty cancellation timeout" in str(w.message) and "functions[0].cancel[0].timeout" in str(w.message)
               and "sync.json:" in str(w.message) for w in caught)
    assert "- b: not imported: it has no event trigger" in comments(imported.text)


def test_json_bare_functions_array_and_the_app_prefix(tmp_path):
    data = [fn("a")]
    imported, sc = build(read_registration_json(write(tmp_path, data)))
    assert sc.functions[0].id == "py-app-a" and sc.name == "sync"   # no app name: nothing to take off
    imported, sc = build(read_registration_json(write(tmp_path, registration(fn("a")))))
    assert sc.functions[0].id == "a" and sc.name == "py-app"


def test_an_if_that_is_not_exactly_a_match_stays_an_if(tmp_path):
    data = registration(fn("a", cancel=[{"event": "s", "if": "event.data.id == async.data.other"},
                                        {"event": "t", "if": "event.event.x == async.event.x"}]))
    sc = build(read_registration_json(write(tmp_path, data)))[1]
    assert [(c.match, c.condition.text) for c in sc.function("a").cancel_on] == [
        (None, "event.data.id == async.data.other"), (None, "event.event.x == async.event.x")]


@pytest.mark.parametrize("text, expected", [
    ("{not json", "sync.json:1: not JSON: Expecting property name enclosed in double quotes (column 2)"),
    ('{"url": "x"}', "sync.json:1: not an Inngest registration payload: expected the `functions` array"),
    ('"hello"', "sync.json:1: not an Inngest registration payload"),
    ('{"functions": []}', "sync.json:1: functions: the registration has no functions"),
    ('{"functions": [1]}', "functions[0]: not a function's registration: expected an object with `id` and "
                           "`triggers`, got int"),
    ('{"functions": [\n  {"name": "x", "triggers": []}\n]}', "sync.json:2: functions[0].id: expected a non-empty string"),
    ('{"functions": [\n  {"id": "x"}\n]}', "sync.json:2: functions[0]: not a function's registration: it has no "
                                           "`triggers`"),
    ('[{"id": "x", "triggers": [{"event": "e"}], "rateLimit": {"limit": 1, "period": "48h"}}]',
     "sync.json: flowsim cannot simulate function 'x', rateLimit.period as registered: period must be less than "
     "24h0m0s"),
    ('[{"id": "x", "triggers": [{"cron": "* * * * *"}]}]', "sync.json: no function has an event trigger"),
    ('[{"id": "x", "triggers": [{"expression": "true"}]}]', "sync.json:1: [0].triggers[0]: a trigger needs an `event` or "
                                                            "a `cron`"),
])
def test_a_json_that_is_not_a_registration_exits_2(tmp_path, text, expected):
    out = tmp_path / "o.yaml"
    line = error_line(invoke(write(tmp_path, text), "--out", out))
    assert expected in line, line
    assert not out.exists()


@pytest.mark.parametrize("name, expected", [
    ("app.py", "app.py: expected a TypeScript or JavaScript module (.ts, .tsx, .mts, .cts, .js, .mjs, .cjs) of "
               "the app, or a registration payload (.json), got a .py"),
    ("missing.json", "missing.json: no such file"),
])
def test_other_files_exit_2(tmp_path, name, expected):
    if name.endswith(".py"):
        (tmp_path / name).write_text("x = 1\n")
    assert expected in error_line(invoke(tmp_path / name))


def test_out_must_be_a_file_in_a_writable_place(tmp_path):
    path = write(tmp_path, [fn("a")])
    assert "--out: expected a file, got the directory" in error_line(invoke(path, "--out", tmp_path))
    (tmp_path / "f").write_text("")
    assert "is not a directory" in error_line(invoke(path, "--out", tmp_path / "f" / "x.yaml"))


def test_out_is_written_whole_and_replaces_the_old_file(tmp_path):
    path = write(tmp_path, registration(fn("a")))
    out = tmp_path / "s.yaml"
    out.write_text("old")
    result = invoke(path, "--out", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert comments(out.read_text()).startswith("Imported by `flowsim import` from sync.json")
    assert f"wrote {out}: 1 function; fill the PLACEHOLDER lines" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "sync.json"]


# -- the text ---------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(TEXT, min_size=1, max_size=3, unique=True), events=st.lists(TEXT, min_size=1, max_size=3),
       note=TEXT)
def test_the_text_reads_back_as_the_data_whatever_the_strings(ids, events, note):
    """Flow values and comments survive any id, event name or note (quotes, colons, '#',
    line breaks YAML or JavaScript know)."""
    from flowsim.importer import Registered, Registration
    from flowsim.scenario.source import Node, Source
    functions = [Registered(Node({"id": i, "triggers": [{"event": e} for e in events],
                                  "throttle": {"limit": 1, "period": "1m", "key": f"event.data.k + {e!r}",
                                               note: 1}}, (i,), Source("x")), None) for i, e in zip(ids, events * 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        imported = to_scenario(Registration(f"dir/{note}.ts", note, functions), "n")
    data, _ = load_yaml(imported.text)
    assert data == imported.data


def test_comment_lines_never_break():
    assert comment("a\nb\u2028c\x85d") == ["# a", "# b", "# c", "# d"]
    long = "word " * 30
    assert all(len(line) <= 80 for line in comment(long))
    assert flow("a: b") == "'a: b'" and flow(5) == "5" and flow({"k": "#x"}) == "{k: '#x'}"
