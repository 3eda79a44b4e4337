"""With one function, the engine does without a walk in two cases (``World._offer``): a
push that finds the queue stopped at its first item skips the walk
(``FunctionQueue.push(hold=True)``), and an item made ready last in its callback, with the
queue empty and nothing else due now, starts at once if the constraints grant it, or
waits at the head if a function or account limit refuses it (``FunctionQueue.walk_alone``).
The tables must be exactly those of walking every time.
Priorities put new items ahead of the stopped one, a small peek window leaves items
outside it, retries, sleeps and cancellations change the queue between walks; random
scenarios add ties (several events and ends at one instant) and every mechanism."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import flowsim
from flowsim.engine import world as world_module
from flowsim.engine.queue import FunctionQueue
from flowsim.errors import ScenarioError
from flowsim.testing.strategies import scenarios

from tests.helpers import scenario


def _scenario(peek: int, seed: int) -> flowsim.Scenario:
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"limit": 2},
                                                                     {"limit": 1, "key": "event.data.user"}],
          "priority": {"run": "event.data.plan == 'vip' ? 30 : (event.data.plan == 'low' ? -5 : 0)"},
          "retries": 2, "cancelOn": [{"event": "stop", "match": "data.user"}],
          "steps": [{"run": "a", "duration": {"exponential": {"mean": "2s"}}, "failure_rate": 0.2},
                    {"sleep": "1s"}, {"run": "b", "duration": {"exponential": {"mean": "1s"}}}]}
    traffic = [{"event": "go", "arrivals": {"poisson": {"rate": "1.2/s"}},
                "data": {"user": {"zipf": {"n": 6, "s": 1.2}, "format": "u{}"},
                         "plan": {"choice": {"vip": 0.2, "low": 0.2, "std": 0.6}}}},
               {"event": "stop", "arrivals": {"poisson": {"rate": "0.05/s"}},
                "data": {"user": {"zipf": {"n": 6, "s": 1.2}, "format": "u{}"}}}]
    sc = scenario([fn], traffic=traffic, horizon="20m", platform={"profile": "inngest", "peek_size": peek})
    sc["seed"] = seed
    return flowsim.load_scenario(sc)


class _Walker(world_module.World):
    """The engine as if every push walked (the reference)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._solo = False


def _same_tables(sc: flowsim.Scenario, monkeypatch: pytest.MonkeyPatch) -> flowsim.Result:
    """Simulate ``sc`` skipping and walking; assert the tables are equal; return the first."""
    skipping = flowsim.simulate(sc)
    with monkeypatch.context() as m:
        m.setattr("flowsim.api.World", _Walker)
        walking = flowsim.simulate(sc)
    for a, b in ((skipping.events, walking.events), (skipping.runs, walking.runs), (skipping.steps, walking.steps)):
        pd.testing.assert_frame_equal(a, b)
    return skipping


@pytest.mark.parametrize("peek,seed", [(3, 1), (3, 2), (300, 3)])
def test_skipping_a_walk_that_starts_nothing_changes_nothing(monkeypatch, peek: int, seed: int) -> None:
    result = _same_tables(_scenario(peek, seed), monkeypatch)
    # The case is exercised: items waited behind the function limit and outside the window.
    blocked = set(result.steps["blocked_by"])
    assert "function" in blocked and (peek > 10 or "peek_window" in blocked)


def test_walking_an_item_alone_changes_nothing(monkeypatch) -> None:
    """A lightly loaded function whose items are mostly made ready into an empty queue:
    at arrivals, after a step, a sleep or a timed-out wait, and as delayed retries, with
    ties (constant arrivals, whole-second durations) and throttle refusals that must fall
    back to walking."""
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": 3, "retries": 2,
          "throttle": {"limit": 4, "period": "2s"},
          "steps": [{"run": "a", "duration": {"empirical": ["1s", "2s", "370ms"]}, "failure_rate": 0.2},
                    {"sleep": "1s"},
                    {"waitForEvent": {"event": "confirm", "match": "data.user", "timeout": "2s"}},
                    {"run": "b", "duration": {"exponential": {"mean": "1s"}}}]}
    traffic = [{"event": "go", "arrivals": {"poisson": {"rate": "0.6/s"}},
                "data": {"user": {"zipf": {"n": 6, "s": 1.2}, "format": "u{}"}}},
               {"event": "go", "arrivals": {"constant": {"every": "3s"}}, "data": {"user": "u1"}},
               {"event": "confirm", "arrivals": {"constant": {"every": "5s"}}, "data": {"user": "u1"}}]
    sc = flowsim.load_scenario(scenario([fn], traffic=traffic, horizon="30m", platform="inngest"))
    walked_alone = []
    walk_alone = FunctionQueue.walk_alone

    def counting(self, *args):
        done = walk_alone(self, *args)
        walked_alone.append(done)
        return done

    monkeypatch.setattr(FunctionQueue, "walk_alone", counting)
    result = _same_tables(sc, monkeypatch)
    assert sum(walked_alone) > 1000 and not all(walked_alone)
    assert {"failed", "completed"} <= set(result.steps["status"]) and "timed_out" in set(result.steps["status"])


def test_items_made_ready_during_an_arrival_are_walked_together(monkeypatch) -> None:
    """One event resumes two waits: the first resumed item must not start alone, since the
    arrival goes on and makes the second ready too; the walk then starts the one first in
    the queue's order (the vip run, by priority), not the first resumed."""
    fn = {"id": "f", "triggers": [{"event": "go"}], "concurrency": 1,
          "priority": {"run": "event.data.plan == 'vip' ? 30 : 0"},
          "steps": [{"run": "a", "duration": {"constant": "100ms"}},
                    {"waitForEvent": {"event": "confirm", "match": "data.group", "timeout": "1m"}},
                    {"run": "b", "duration": {"constant": "1s"}}]}
    traffic = [{"events": [{"at": 0, "name": "go", "data": {"group": "g", "plan": "std"}},
                           {"at": 0.5, "name": "go", "data": {"group": "g", "plan": "vip"}},
                           {"at": 5, "name": "confirm", "data": {"group": "g"}}]}]
    result = _same_tables(flowsim.load_scenario(scenario([fn], traffic=traffic, horizon="1m")), monkeypatch)
    b = result.steps[result.steps["step"] == "b"].set_index("run_id")
    assert b.loc["r2", "started_at"] == 5 and b.loc["r1", "started_at"] == 6


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(max_functions=1, max_events=30))
def test_random_single_function_scenarios_give_the_same_tables(sc) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = flowsim.load_scenario(sc)
        except ScenarioError:          # a combination Inngest rejects
            return
    with pytest.MonkeyPatch.context() as monkeypatch:
        _same_tables(loaded, monkeypatch)


def test_the_decision_log_walks_every_time() -> None:
    """With ``explain`` nothing is skipped, so the log keeps the order of walking."""
    assert not world_module.World(_scenario(3, 1), explain=True)._solo
    assert world_module.World(_scenario(3, 1))._solo


class _Gate:
    """A stop constraint whose refusal depends on the item and on a switch: when closed it
    refuses start items with one reason and other items with another (item-dependent, as
    a plug-in's may be), and items of a "blocked" group always while it is closed."""

    stop = True
    start_only = False

    def __init__(self) -> None:
        self.closed = False
        self.blocked: set[int] = set()

    def check(self, item, now):
        from flowsim.policies.base import Refusal
        if not self.closed and item.seq % 7 not in self.blocked:
            return None
        return Refusal("gate:start" if item.is_start else "gate:step", stop=True)

    def acquire(self, item, now) -> None: ...

    def release(self, item, now) -> None: ...


@pytest.mark.parametrize("seed", range(40))
def test_a_held_push_leaves_the_queue_as_a_walk_would(seed: int) -> None:
    """Two queues see the same operations; one walks after every push, the other only when
    ``push(hold=True)`` says a walk could change something. Every item's waiting reason and
    accumulated waits, and the order items start in, must agree."""
    import random
    from flowsim.engine.queue import FunctionQueue
    from flowsim.engine.runs import START, STEP, QueueItem
    rng = random.Random(seed)
    gate = _Gate()
    lazy, eager = FunctionQueue([gate], peek_size=4), FunctionQueue([gate], peek_size=4)
    started: dict[str, list[int]] = {"lazy": [], "eager": []}
    twins: list[tuple[QueueItem, QueueItem]] = []

    def walk(queue: FunctionQueue, name: str, now: float) -> None:
        queue.walk(now, lambda item, constraints: started[name].append(item.seq))

    now = 0.0
    for seq in range(60):
        now += rng.choice([0.0, 0.5, 1.0])
        op = rng.random()
        if op < 0.6:                       # a new ready item, sometimes ahead of the others
            kind = START if rng.random() < 0.6 else STEP
            score = now - rng.choice([0.0, 0.0, 30.0])
            pair = tuple(QueueItem(None, kind, 0, 1, now, seq) for _ in range(2))
            for item in pair:
                item.score = score
            twins.append(pair)
            if not lazy.push(pair[0], now, hold=True):
                walk(lazy, "lazy", now)
            eager.push(pair[1], now)
            walk(eager, "eager", now)
        elif op < 0.85:                    # the gate's state changes: both walk (a release or a wake)
            gate.closed = rng.random() < 0.8
            gate.blocked = {rng.randrange(7) for _ in range(rng.randrange(3))}
            walk(lazy, "lazy", now)
            walk(eager, "eager", now)
        else:                              # a queued item is cancelled
            queued = [pair for pair in twins if pair[0].in_queue]
            if queued:
                a, b = rng.choice(queued)
                lazy.remove(a)
                eager.remove(b)
        for a, b in twins:
            assert (a.reason, a.reason_since, a.waits, a.in_queue) == (b.reason, b.reason_since, b.waits, b.in_queue)
    assert started["lazy"] == started["eager"]


def test_a_world_runs_once():
    """A second run of the same World would continue from spent streams and records:
    it is refused rather than giving wrong tables."""
    world = world_module.World(_scenario(3, 1))
    world.run()
    with pytest.raises(RuntimeError, match="already"):
        world.run()
