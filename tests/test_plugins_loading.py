"""Loading plug-ins: by reference and by entry point, from a package outside flowsim
(tests/plugin_pkg), their decisions in the results, and the load-time errors."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import flowsim
from tests.helpers import by_event, ev, run, scenario

PKG = Path(__file__).parent / "plugin_pkg"


@pytest.fixture
def plugin_path(monkeypatch):
    monkeypatch.syspath_prepend(str(PKG))
    yield
    for name in [m for m in sys.modules if m.startswith(("flowsim_testplugin", "broken_plugin"))]:
        del sys.modules[name]


@pytest.fixture
def installed(plugin_path, tmp_path, monkeypatch):
    """The package's metadata as pip would install it: a dist-info with entry_points.txt."""
    dist = tmp_path / "flowsim_testplugin-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flowsim-testplugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [flowsim.policies]
        test_gate = flowsim_testplugin:Gate
        test_tagger = flowsim_testplugin:EvenOnly
        round_robin = flowsim_testplugin:Gate
        """))
    monkeypatch.syspath_prepend(str(tmp_path))


def fn(*policies):
    return {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "w", "duration": "1s"}],
            "policies": list(policies)}


EVENTS = [ev(0, id="e0", n=0), ev(1, id="e1", n=1), ev(2, id="e2", n=2)]


def check_decisions(r):
    rows = r.events.set_index("event_id")
    assert (rows.loc["e1", "outcome"], rows.loc["e1", "reason"]) == ("filtered", "odd n")
    runs = by_event(r)
    assert list(runs.loc[["e0", "e2"], "started_at"]) == [5, 5]
    assert r.steps.set_index("run_id").loc[runs.loc["e0", "run_id"], "blocked_by"] == "gate:closed"


def test_loaded_by_reference(plugin_path):
    r = run(scenario([fn({"policy": "flowsim_testplugin:Gate", "open_at": "5s"},
                         {"policy": "flowsim_testplugin:EvenOnly"})], EVENTS))
    check_decisions(r)


def test_loaded_by_entry_point(installed):
    r = run(scenario([fn({"policy": "test_gate", "open_at": 5}, {"policy": "test_tagger", "field": "n"})], EVENTS))
    check_decisions(r)


def test_flowsim_names_keep_their_meaning(installed):
    sc = flowsim.load_scenario(scenario([fn({"policy": "round_robin", "key": "event.data.t"})]))
    assert type(sc.functions[0].mechanisms["policies"].entries[0][1]).__name__ == "RoundRobin"


def test_inngest_mechanism_through_the_same_api():
    f = fn({"policy": "flowsim.policies.throttle:ThrottleConfig", "limit": 1, "period": "10s"})
    r = run(scenario([f], [ev(0, id="a"), ev(1, id="b")]))
    assert list(by_event(r)["started_at"]) == [0, 10]


YAML = """\
name: t
horizon: 1m
platform: ideal
functions:
  - id: f
    triggers: [{event: go}]
    steps: [{run: w, duration: 1s}]
    policies:
      - policy: REF
        OPT
traffic: [{events: []}]
"""


@pytest.mark.parametrize("ref, opt, line, message", [
    ("nosuch_policy", "", 9, "unknown policy 'nosuch_policy'"),
    ("'nosuchmodule.x:Y'", "", 9, "cannot import module 'nosuchmodule.x'"),
    ("'broken_plugin:X'", "", 9, "importing 'broken_plugin' failed: RuntimeError: broken on purpose"),
    ("'flowsim_testplugin:Missing'", "", 9, "has no attribute 'Missing'"),
    ("'flowsim_testplugin:NotAPolicy'", "", 9, "is not a policy class"),
    ("'flowsim_testplugin:EvenOnly'", "colour: red", 9, "bad options for EvenOnly"),
    ("'flowsim_testplugin:EvenOnly'", "field: ''", 9, "field must be a non-empty name"),
    ("'flowsim_testplugin:Gate'", "open_at: soon", 10, "expected a duration"),
    ("rate_limit", "limit: 1\n        period: 1s\n        algorithm: leaky", 12, "expected one of fixed_window"),
])
def test_load_errors_name_the_line(plugin_path, tmp_path, ref, opt, line, message):
    path = tmp_path / "s.yaml"
    path.write_text(YAML.replace("REF", ref).replace("OPT", opt))
    with pytest.raises(flowsim.ScenarioError) as info:
        flowsim.load_scenario(path)
    assert info.value.line == line and message in info.value.message, info.value.format()


def test_only_one_dispatch_order():
    with pytest.raises(flowsim.ScenarioError, match="only one policy may set the dispatch order"):
        flowsim.load_scenario(scenario([fn({"policy": "fifo"}, {"policy": "round_robin", "key": "event.data.t"})]))
