"""Invariants every simulation must satisfy, checked on its result tables."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np

from flowsim.engine.world import World
from flowsim.results.metrics import occupancy
from flowsim.results.recorder import OUTCOMES, STATUSES
from flowsim.results.result import Result
from flowsim.traffic.sources import merge


class InvariantError(AssertionError):
    """An invariant does not hold; the message names what, where and when."""


def check_conservation(result: Result) -> None:
    """Every input event has exactly one outcome per function its triggers match.

    The traffic is regenerated from the scenario and seed, and matched against the
    functions' triggers independently of the engine; every ``run``/``batched``
    outcome must name an existing run that lists the event.
    """
    scenario = result.scenario
    world = World(scenario, result.seed)          # only for trigger matching
    expected: Counter[tuple[str, str]] = Counter()
    n = 0
    for event in merge(list(scenario.traffic), world.streams, scenario.horizon):
        n += 1
        for fn, _ in world._match_triggers(event.name):
            expected[(event.id, fn.spec.id)] += 1
    if n != result.events_in:
        raise InvariantError(f"{n} events were generated but the engine received {result.events_in}")
    ev = result.events
    got = Counter(zip(ev["event_id"], ev["function_id"]))
    if got != expected:
        missing = sorted((expected - got).items())[:5]
        extra = sorted((got - expected).items())[:5]
        raise InvariantError(f"events without exactly one outcome per triggered function: "
                             f"missing {missing}, extra {extra}")
    bad = ev[~ev["outcome"].isin(OUTCOMES)]
    if len(bad):
        row = bad.iloc[0]
        raise InvariantError(f"event {row.event_id} for {row.function_id} has unknown outcome {row.outcome!r}")
    bad_runs = result.runs[~result.runs["status"].isin(STATUSES)]
    if len(bad_runs):
        row = bad_runs.iloc[0]
        raise InvariantError(f"run {row.run_id} has unknown status {row.status!r}")
    runs = {r.run_id: (r.function_id, set(json.loads(r.event_ids))) for r in result.runs.itertuples()}
    with_run = ev[ev["outcome"].isin(["run", "batched", "singleton_skipped"]) & (ev["run_id"] != "")]
    for row in with_run.itertuples():
        fn_events = runs.get(row.run_id)
        if fn_events is None or fn_events[0] != row.function_id or row.event_id not in fn_events[1]:
            raise InvariantError(f"event {row.event_id} has outcome {row.outcome} with run {row.run_id} "
                                 f"of {row.function_id}, but that run does not list it")
    needs_run = ev[ev["outcome"].isin(["run", "batched"]) & (ev["run_id"] == "")]
    if len(needs_run):
        row = needs_run.iloc[0]
        raise InvariantError(f"event {row.event_id} has outcome {row.outcome} for {row.function_id} but no run")


def check_concurrency(result: Result) -> None:
    """No concurrency constraint ever has more executing requests than its limit.

    Checked from the steps table at every instant (an interval ending at t frees its
    slot before one starting at t takes it): the account limit over all functions,
    each function limit, and each keyed limit per key value. A key shared across
    functions (env/account scope) is compared with the largest of their limits, since
    each function compares the shared count with its own (§3.2).
    """
    steps = result.steps
    work = steps[steps["kind"].isin(["run", "request"]) & steps["started_at"].notna()]
    starts = work["started_at"].to_numpy()
    ends = work["ended_at"].fillna(result.horizon).to_numpy()
    _check_level("account", starts, ends, result.scenario.account.concurrency, result.horizon)
    keys = dict(zip(result.runs["run_id"], result.runs["keys"].map(json.loads)))
    shared: dict[tuple[str, str, str], list[int]] = {}
    limits: dict[tuple[str, str, str], int] = {}
    fn_of = work["function_id"].to_numpy()
    run_of = work["run_id"].to_numpy()
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        if conf is None:
            continue
        mask = fn_of == fn.id
        if conf.function_limit is not None:
            _check_level(f"function {fn.id}", starts[mask], ends[mask], conf.function_limit, result.horizon)
        for k in conf.keyed:
            for i in np.flatnonzero(mask):
                value = keys[run_of[i]][k.label]
                group = (fn.id if k.scope == "fn" else k.scope, k.key.text, value)
                shared.setdefault(group, []).append(i)
                limits[group] = max(limits.get(group, 0), k.limit)
    for (scope, text, value), idx in shared.items():
        idx_arr = np.asarray(idx)
        limit = limits[(scope, text, value)]
        _check_level(f"keyed limit {text}={value} ({scope})", starts[idx_arr], ends[idx_arr], limit,
                     result.horizon)


def _check_level(name: str, starts: np.ndarray, ends: np.ndarray, limit: int, horizon: float) -> None:
    peak, _ = occupancy(starts, ends, horizon)
    if peak > limit:
        t = np.concatenate([starts, ends])
        d = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
        order = np.lexsort((d, t))
        level = np.cumsum(d[order])
        when = t[order][int(np.argmax(level > limit))]
        raise InvariantError(f"{name}: {int(level.max())} requests executing at t={when:g}, limit {limit}")
