"""Idempotency (spec §5.1, §5.3): duplicates by event id (always on, 24 h from the first
run's creation) and by the ``idempotency`` expression (a rate limit of 1 per 24 h that
replaces ``rateLimit``)."""
from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

import flowsim
from flowsim.cli import app
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.policies.base import Candidate
from flowsim.policies.idempotency import EventIdStage, IdempotencyConfig
from flowsim.traffic.event import Event
from tests.helpers import ev, run, scenario

DAY = 86400


def fn(**kw):
    base = {"id": "f", "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": 1}]}
    base.update(kw)
    return base


def outcomes(result, function_id: str = "f") -> list[tuple[str, float, str, str]]:
    """(event id, arrival, outcome, key) in arrival order."""
    ev_ = result.events[result.events["function_id"] == function_id]
    return [(r.event_id, r.at, r.outcome, r.key) for r in ev_.itertuples()]


# -- event-id idempotency -------------------------------------------------------------------

def test_event_id_idempotency_is_always_on():
    r = run(scenario([fn()], [ev(0, id="x"), ev(5, id="x"), ev(10, id="y")]))
    assert outcomes(r) == [("x", 0, "run", ""), ("x", 5, "duplicate", "x"), ("y", 10, "run", "")]
    dup = r.events[r.events["outcome"] == "duplicate"].iloc[0]
    assert dup["reason"] == "event id x already started a run at t=0: no new run for it until t=86400"
    assert not dup["run_id"] and len(r.runs) == 2
    assert "idempotency" in flowsim.load_scenario(scenario([fn()], [])).functions[0].mechanisms


def test_the_window_is_24h_from_the_first_runs_creation():
    # The state key is SET NX EX 24h at creation and keeps its TTL when the run ends
    # (tombstone with KEEPTTL): duplicates until +24h exclusive; at exactly +24h a new run
    # starts and opens a new window, even though the first run is still sleeping.
    steps = [{"run": "a", "duration": 1}, {"sleep": "30h"}, {"run": "b", "duration": 1}]
    times = [0, 3600, DAY - 0.5, DAY, DAY + 10, 2 * DAY - 1, 2 * DAY]
    r = run(scenario([fn(steps=steps)], [ev(t, id="x") for t in times], horizon="3d"))
    assert [o[2] for o in outcomes(r)] == ["run", "duplicate", "duplicate", "run", "duplicate", "duplicate", "run"]
    runs = r.runs.sort_values("created_at")
    assert list(runs["created_at"]) == [0, DAY, 2 * DAY]
    assert runs.iloc[0]["ended_at"] > DAY                        # still going when the key expired
    reasons = r.events[r.events["outcome"] == "duplicate"]["reason"].tolist()
    assert reasons[2] == f"event id x already started a run at t={DAY}: no new run for it until t={2 * DAY}"


def test_only_events_that_create_a_run_take_the_key():
    # x is rate limited at t=10 (no state created), so its redelivery at t=3600 runs; the
    # one at 7200 passes the rate limit and is a duplicate.
    r = run(scenario([fn(rateLimit={"limit": 1, "period": "1h"})],
                     [ev(0, id="a"), ev(10, id="x"), ev(3600, id="x"), ev(7200, id="x")], horizon="3h"))
    assert [o[2] for o in outcomes(r)] == ["run", "rate_limited", "run", "duplicate"]


def test_each_function_has_its_own_keys():
    fns = [fn(id="f1"), fn(id="f2")]
    r = run(scenario(fns, [ev(0, id="x"), ev(1, id="x")]))
    for f in ("f1", "f2"):
        assert [o[2] for o in outcomes(r, f)] == ["run", "duplicate"]


class FakeContext:
    def __init__(self, now: float) -> None:
        self.now = now


def test_batch_candidates_are_keyed_by_their_batch_and_never_duplicates():
    stage = EventIdStage()
    spec = flowsim.load_scenario(scenario([fn()], [])).functions[0]
    x = Event(0, "go", id="x")
    ctx = FakeContext(0.0)
    assert stage.admit(Candidate(spec, [x], batch_id="b1"), ctx) is None
    assert stage.admit(Candidate(spec, [x], batch_id="b2"), ctx) is None
    assert stage.admit(Candidate(spec, [x]), ctx) is None           # the batches took no event key
    assert stage.admit(Candidate(spec, [x]), ctx).outcome == "duplicate"


# -- idempotency: <expression> ----------------------------------------------------------------

def test_expression_dedups_by_key_for_24h():
    events = [ev(0, id="e1", order="o1"), ev(100, id="e2", order="o1"), ev(100, id="e3", order="o2"),
              ev(DAY - 1, id="e4", order="o1"), ev(DAY, id="e5", order="o1")]
    r = run(scenario([fn(idempotency="event.data.order")], events, horizon="2d"))
    assert [(o[0], o[2], o[3]) for o in outcomes(r)] == [
        ("e1", "run", ""), ("e2", "duplicate", "o1"), ("e3", "run", ""), ("e4", "duplicate", "o1"),
        ("e5", "run", "")]
    reason = r.events.set_index("event_id").loc["e2", "reason"]
    assert reason == "idempotency key o1 already used (rate limit 1/24h): no new run for it until t=86400"
    assert list(r.runs.sort_values("created_at")["keys"]) == [
        '{"idempotency": "o1"}', '{"idempotency": "o2"}', '{"idempotency": "o1"}']


def test_expression_false_means_no_dedup_and_error_means_no_run():
    # key 10 / n: missing n → false → not deduplicated (the rate limit's rule, §2.1);
    # n = 0 → evaluation error → no run, outcome error.
    events = [ev(0, id="m1"), ev(1, id="m2"), ev(2, id="z1", n=0), ev(3, id="k1", n=5), ev(4, id="k2", n=5)]
    r = run(scenario([fn(idempotency="10 / event.data.n")], events))
    out = {o[0]: o[2] for o in outcomes(r)}
    assert out == {"m1": "run", "m2": "run", "z1": "error", "k1": "run", "k2": "duplicate"}
    reason = r.events.set_index("event_id").loc["z1", "reason"]
    assert reason.startswith("idempotency key error: ") and "division by zero" in reason


def test_event_id_rule_still_applies_with_an_expression():
    r = run(scenario([fn(idempotency="event.data.order")], [ev(0, id="x"), ev(1, id="x")]))
    assert [(o[2], o[3]) for o in outcomes(r)] == [("run", ""), ("duplicate", "x")]


def test_idempotency_replaces_rate_limit():
    # rateLimit 1/h alone would drop o2 and o3; with idempotency it is gone (§5.1) and only
    # repeated keys are dropped, as duplicates.
    f = fn(rateLimit={"limit": 1, "period": "1h"}, idempotency="event.data.order")
    events = [ev(0, id="e1", order="o1"), ev(1, id="e2", order="o2"), ev(2, id="e3", order="o3"),
              ev(3, id="e4", order="o1")]
    with pytest.warns(ScenarioWarning, match="rateLimit is ignored: the function's idempotency replaces it"):
        sc = flowsim.load_scenario(scenario([f], events))
    assert "rateLimit" not in sc.functions[0].mechanisms
    r = flowsim.simulate(sc)
    assert [o[2] for o in outcomes(r)] == ["run", "run", "run", "duplicate"]


# -- validation ---------------------------------------------------------------------------------

YAML = """\
functions:
  - id: f
    triggers: [{event: go}]
    idempotency: IDEM
    steps:
      - run: s
        duration: 1s
traffic:
  - events: [{at: 0, name: go}]
"""


@pytest.mark.parametrize("idem, field, message", [
    ("\"event.data.\"", "functions[0].idempotency", "key is invalid: "),
    ("{key: event.data.id}", "functions[0].idempotency", "expected a non-empty string"),
    ("\"\"", "functions[0].idempotency", "expected a non-empty string"),
])
def test_validation_messages(tmp_path, idem, field, message):
    path = tmp_path / "idem.yaml"
    path.write_text(YAML.replace("IDEM", idem))
    with pytest.raises(ScenarioError) as info:
        flowsim.load_scenario(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 4, field)
    assert err.message.startswith(message)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and f"{path}:4: {field}: {message}" in " ".join(result.output.split())


def test_parse_without_the_field_keeps_the_event_id_rule():
    config = IdempotencyConfig.parse(None, None, None)
    assert config == IdempotencyConfig(None)


def test_rate_limit_warning_names_its_line(tmp_path):
    path = tmp_path / "both.yaml"
    text = YAML.replace("IDEM", "event.data.order").replace(
        "    steps:", textwrap.indent("rateLimit: {limit: 1, period: 1h}\n", "    ") + "    steps:")
    path.write_text(text)
    with pytest.warns(ScenarioWarning) as caught:
        flowsim.load_scenario(path)
    texts = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
    assert len(texts) == 1 and texts[0].startswith(f"{path}:5: functions[0].rateLimit: rateLimit is ignored")
