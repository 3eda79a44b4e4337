"""A Hypothesis state machine for the queue and concurrency core (spec §3.2, §3.3, §4, §7).

:class:`QueueMachine` drives one scenario step by step, in the style of Hypothesis'
stateful testing: a configuration is drawn once (one or two functions with concurrency
limits, keyed or not, shared account-wide or not, throttle, priority, a sleep between
steps, a small account limit), then the rules

* ``send`` — an event arrives now (key drawn from few values, sometimes missing; tier);
* ``advance`` — time moves on by a quarter second to five seconds;
* ``finish`` — one executing step of one run ends now;

run in any order. Steps last "forever" (a day) unless ``finish`` ends them, so the
machine, not a duration distribution, decides when capacity is freed. After every rule
the whole history is simulated again up to the current time (the simulator is
deterministic, so the prefix is the same run, and a step ended by ``finish`` carries its
duration in its event's ``durations``), and every invariant of
:mod:`flowsim.testing.invariants` is checked on the result, together with the machine's
own bookkeeping (a finished step ended when it was told to). A failure is reported, as
Hypothesis does, with the shortest sequence of rules that reproduces it::

    state = QueueMachine()
    state.setup(config={...})
    state.send(fn_event='go', user='a', tier='hi')
    state.advance(dt=0.25)
    state.finish(data=data(...))
    state.teardown()

Run it from a test module with ``TestQueueMachine = QueueMachine.TestCase``; every
example replays its whole history at each step, so :func:`machine_settings` gives a
quarter of the active profile's examples (its other settings unchanged).
"""
from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import flowsim
from flowsim.testing.invariants import check_all

FOREVER = 86400.0           # a step's duration until ``finish`` ends it
EPSILON = 1e-3              # the snapshot's horizon lies this far after "now"
KEY = "event.data.user"


def machine_settings() -> settings:
    """The active profile with a quarter of its examples (at least 5) for the machine."""
    return settings(max_examples=max(5, settings().max_examples // 4))


@st.composite
def core_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Functions for the queue core: concurrency (function, keyed, shared), throttle and
    priority on some, a sleep between two steps on some, sometimes an account limit."""
    fns = []
    for i in range(draw(st.integers(1, 2))):
        steps: list[dict[str, Any]] = [{"run": "a", "duration": FOREVER}]
        if draw(st.booleans()):
            steps += [{"sleep": f"{draw(st.integers(1, 3))}s"}, {"run": "b", "duration": FOREVER}]
        fn: dict[str, Any] = {"id": f"f{i}", "triggers": [{"event": "go" if i == 0 else "other"}], "steps": steps,
                              "retries": 0}
        limits: list[dict[str, Any]] = []
        if draw(st.booleans()):
            limits.append({"limit": draw(st.integers(1, 3))})
        if draw(st.booleans()):
            scope = draw(st.sampled_from(["fn", "account"]))
            limits.append({"limit": draw(st.integers(1, 2)), "key": KEY, **({"scope": scope} if scope != "fn" else {})})
        if limits:
            fn["concurrency"] = limits
        if draw(st.integers(0, 3)) == 0:
            fn["throttle"] = {"limit": draw(st.integers(1, 3)), "period": f"{draw(st.integers(1, 5))}s",
                              "burst": draw(st.integers(0, 1)), **draw(st.sampled_from([{}, {"key": KEY}]))}
        if draw(st.booleans()):
            fn["priority"] = {"run": f"event.data.tier == 'hi' ? {draw(st.integers(-5, 30))} : 0"}
        fns.append(fn)
    config: dict[str, Any] = {"functions": fns, "platform": draw(st.sampled_from(["ideal", "inngest"]))}
    if draw(st.booleans()):
        config["account"] = {"concurrency": draw(st.integers(1, 4))}
    return config


class QueueMachine(RuleBasedStateMachine):
    """Send events, advance time, finish steps; every invariant holds after each rule."""

    def __init__(self) -> None:
        super().__init__()
        self.config: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.now = 0.0
        self._result: flowsim.Result | None = None
        self._checked: flowsim.Result | None = None
        self._finished: tuple[str, str, float] | None = None

    # -- the scenario so far ----------------------------------------------------------------
    def scenario(self) -> dict[str, Any]:
        """The scenario that replays everything so far, up to just after now."""
        return {"name": "queue-machine", "seed": 1, "horizon": self.now + EPSILON, **self.config,
                "traffic": [{"name": "machine", "events": self.events}]}

    def result(self) -> flowsim.Result:
        if self._result is None:
            self._result = flowsim.simulate(flowsim.load_scenario(self.scenario()))
        return self._result

    # -- rules ----------------------------------------------------------------------------------
    @initialize(config=core_configs())
    def setup(self, config: dict[str, Any]) -> None:
        self.config = config

    @rule(fn_event=st.sampled_from(["go", "go", "other"]), user=st.sampled_from(["a", "b", "c", None]),
          tier=st.sampled_from(["lo", "hi"]))
    def send(self, fn_event: str, user: str | None, tier: str) -> None:
        data: dict[str, Any] = {"tier": tier}
        if user is not None:
            data["user"] = user
        self.events.append({"at": self.now, "name": fn_event, "id": f"e{len(self.events)}", "data": data})
        self._result = None

    @rule(dt=st.sampled_from([0.25, 0.5, 1.0, 2.0, 5.0]))
    def advance(self, dt: float) -> None:
        self.now += dt
        self._result = None

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        steps = self.result().steps
        running = steps[(steps["status"] == "running") & (steps["started_at"] <= self.now)]
        if running.empty:
            return
        row = running.iloc[data.draw(st.integers(0, len(running) - 1), label="which running step")]
        runs = self.result().runs.set_index("run_id")
        event_id = json.loads(runs.loc[row["run_id"], "event_ids"])[0]
        event = next(e for e in self.events if e["id"] == event_id)
        event.setdefault("durations", {})[row["step"]] = self.now - float(row["started_at"])
        self._finished = (str(row["run_id"]), str(row["step"]), self.now)
        self._result = None

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def every_invariant_holds(self) -> None:
        if not self.config:
            return
        result = self.result()
        if result is not self._checked:             # a no-op rule changes nothing
            check_all(result)
            self._checked = result

    @invariant()
    def finished_step_ended_when_told(self) -> None:
        if self._finished is None:
            return
        run_id, step, when = self._finished
        steps = self.result().steps
        row = steps[(steps["run_id"] == run_id) & (steps["step"] == step)].iloc[0]
        assert math.isclose(row["ended_at"], when, abs_tol=1e-9), \
            f"run {run_id} step {step} was finished at t={when:g} but ended at t={row['ended_at']:g}"
        self._finished = None
