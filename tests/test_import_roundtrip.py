"""Round trip through the real SDK: for every shipped scenario and variant, `flowsim export
ts` then `flowsim import` gives back the same functions' flow control, compared as the
loader parsed it (mechanism configs, triggers, retries, timeouts, cancelOn), for the SDK v4
shape against ``inngest@4`` and the v3 shape against ``inngest@3``.

All exports of one SDK are loaded in one node process (flowsim.sdk.node.collect takes
several modules). Not compared: the account's concurrency (a plan limit, not a function
option: the export states it in a comment) and ``policies`` (flowsim plug-ins, which have no
SDK equivalent: the export comments them out, and the import cannot see them).
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import pytest

from flowsim.errors import ScenarioWarning
from flowsim.export import load_for_export, to_typescript
from flowsim.expr import Expr
from flowsim.importer import build, registration_of
from flowsim.scenario.load import load_scenario
from flowsim.scenario.model import FunctionSpec, Scenario
from flowsim.sdk.node import collect
from tests import sdk_projects
from tests.test_export import EVERYTHING
from tests.test_export_sdk import CLIENT, shipped_variants

#: What the shipped scenarios lack: cancelOn with a compound timeout (the SDK reads it with
#: `ms`, which knows no "1h30m"), match and if, a lone keyed concurrency limit, a scoped key.
EXTRA = {
    "name": "cancel-and-keys",
    "functions": [
        {"id": "order", "triggers": [{"event": "order/placed"}],
         "concurrency": {"limit": 3, "key": "event.data.user_id", "scope": "env"},
         "cancelOn": [{"event": "order/cancelled", "match": "data.order_id", "timeout": "1h30m"},
                      {"event": "order/voided", "if": "async.data.id == event.data.id && async.data.ok",
                       "timeout": "90061s"},
                      {"event": "order/refunded"}],
         "timeouts": {"start": "90s", "finish": "1d2h"},
         "steps": [{"run": "s", "duration": "1s"}]},
    ],
    "traffic": [{"events": []}],
}


def canonical(value: Any) -> Any:
    """A config as plain data: expressions by their text, dataclasses as dicts."""
    if isinstance(value, Expr):
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    return value


def flow_control(fn: FunctionSpec) -> dict[str, Any]:
    mechanisms = {k: canonical(v) for k, v in fn.mechanisms.items() if k != "policies"}
    mechanisms["concurrency"].pop("account_limit")
    return {
        "triggers": canonical(fn.triggers),
        "retries": fn.retries,
        "timeouts": (fn.start_timeout, fn.finish_timeout),
        "cancel_on": canonical(fn.cancel_on),
        "mechanisms": mechanisms,
    }


def originals() -> dict[str, Scenario]:
    out = {}
    for path, variant in shipped_variants():
        out[f"{path.stem}__{variant}"] = load_for_export(path, variant)[0]
    out["extra__cancel-and-keys"] = load_scenario(EXTRA)
    out["extra__every-option"] = load_scenario(EVERYTHING)
    return out


@pytest.mark.parametrize("inngest, sdk", [("inngest", "v4"), ("inngest-v3", "v3")])
def test_export_then_import_gives_back_the_flow_control(tmp_path_factory, tmp_path, inngest, sdk):
    app = sdk_projects.app(tmp_path, sdk_projects.package(tmp_path_factory, inngest),
                           sdk_projects.package(tmp_path_factory, "typescript"))
    (app / "client.ts").write_text(CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        scenarios = originals()
        files = []
        for name, sc in scenarios.items():
            path = app / f"{name}.ts"
            path.write_text(to_typescript(sc, sdk=sdk))
            files.append(path)
        found = collect(files)
        imported = {Path(c.file).stem: build(registration_of(c))[1] for c in found}
    assert len(imported) == len(scenarios) >= 25
    for name, original in scenarios.items():
        back = imported[name]
        assert [f.id for f in back.functions] == [f.id for f in original.functions], name
        for before, after in zip(original.functions, back.functions):
            assert flow_control(after) == flow_control(before), f"{name}: {before.id}"


def test_the_comparison_sees_a_changed_option():
    """The round trip's comparison is not blind: one limit changed is a difference."""
    sc = load_scenario(EXTRA)
    changed = load_scenario({**EXTRA, "functions": [{**EXTRA["functions"][0],
                                                     "concurrency": {"limit": 4, "key": "event.data.user_id",
                                                                     "scope": "env"}}]})
    assert flow_control(sc.functions[0]) != flow_control(changed.functions[0])
    assert flow_control(sc.functions[0]) == flow_control(load_scenario(EXTRA).functions[0])
