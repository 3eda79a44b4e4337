"""Hypothesis strategies for flowsim: event streams, flow-control configurations, step
lists and whole scenarios, all as the plain dicts a scenario YAML holds.

Every configuration stays within the ranges Inngest accepts (spec §3.1, §4.1, §5.1,
§6.1, §7.1, §8.1, §9.1) and avoids the combinations it rejects (batching with debounce,
singleton, priority or ``cancelOn``) or that flowsim only accepts with a warning (rate
limit with idempotency or batching), so a drawn scenario always loads cleanly. Values are
kept small (periods of seconds, a few dozen events) so that a simulation takes
milliseconds and failures shrink to short timelines.

Events carry ``data.user`` (the key of every keyed configuration here; absent now and
then, which gives the key ``false``, spec §2.1), ``data.tier`` (``hi``/``lo``, for
priority and ``if``) and ``data.n``. ::

    from hypothesis import given
    from flowsim.testing import check_all, strategies as fst

    @given(fst.scenarios())
    def test_my_invariant(sc):
        check_all(flowsim.simulate(flowsim.load_scenario(sc)))
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEY = "event.data.user"
FEW_KEYS = ("a", "b", "c")


def _key_values(keys: str) -> st.SearchStrategy[str | None]:
    few = st.sampled_from(FEW_KEYS)
    many = st.integers(0, 10 ** 6).map(lambda i: f"u{i}")
    values = {"few": few, "many": many, "either": st.one_of(few, many)}[keys]
    return st.one_of(values, values, values, values, st.none())        # None: the field is missing


@st.composite
def event_streams(draw: st.DrawFn, *, names: tuple[str, ...] = ("go",), min_size: int = 1, max_size: int = 30,
                  keys: str = "either", max_gap: float = 3.0, max_burst: int = 6, out_of_order: bool = True,
                  duplicate_ids: bool = True) -> list[dict[str, Any]]:
    """Explicit events (``{at, name, id, data[, ts]}``, sorted by ``at``) in groups: each
    group is a gap (a multiple of 0.25 s up to ``max_gap``, ties on purpose) then a burst
    of 1 to ``max_burst`` events at the same instant. ``keys``: ``few`` (a, b, c),
    ``many`` (up to a million values) or ``either``. With ``out_of_order`` some events
    carry a ``ts`` before or after their arrival; with ``duplicate_ids`` some reuse an
    earlier event's id."""
    groups = draw(st.lists(st.tuples(st.integers(0, int(max_gap * 4)), st.integers(1, max_burst)),
                           min_size=1, max_size=max_size))
    key_values = _key_values(keys)
    events: list[dict[str, Any]] = []
    at = 0.0
    for gap, size in groups:
        at += gap / 4
        for _ in range(size):
            if len(events) >= max_size:
                break
            i = len(events)
            event: dict[str, Any] = {"at": at, "name": draw(st.sampled_from(names)), "id": f"e{i}"}
            if duplicate_ids and i > 0 and draw(st.integers(0, 9)) == 0:
                event["id"] = events[draw(st.integers(0, i - 1))]["id"]
            data: dict[str, Any] = {"tier": draw(st.sampled_from(["lo", "lo", "hi"])), "n": draw(st.integers(0, 9))}
            user = draw(key_values)
            if user is not None:
                data["user"] = user
            event["data"] = data
            if out_of_order:
                offset = draw(st.sampled_from([0.0, 0.0, 0.0, 0.0, -0.5, -3.0, 1.0]))
                if offset:
                    event["ts"] = at + offset
            events.append(event)
    if len(events) < min_size:
        return draw(event_streams(names=names, min_size=min_size, max_size=max_size, keys=keys, max_gap=max_gap,
                                  max_burst=max_burst, out_of_order=out_of_order, duplicate_ids=duplicate_ids))
    return events


def _seconds(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda s: f"{s}s")


def _maybe_key() -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from([{}, {"key": KEY}])


def concurrency_configs() -> st.SearchStrategy[Any]:
    """``concurrency``: a function limit (0 is none, §3.1), one keyed limit, or up to two
    step limits, keyed ones scoped ``fn``, ``env`` or ``account`` (§3.1)."""
    keyed = st.builds(lambda limit, scope: {"limit": limit, "key": KEY, **({"scope": scope} if scope else {})},
                      st.integers(1, 3), st.sampled_from([None, "env", "account"]))
    return st.one_of(
        st.integers(0, 4),
        keyed,
        st.tuples(st.integers(1, 4), keyed).map(lambda p: [{"limit": p[0]}, p[1]]),
    )


def throttle_configs() -> st.SearchStrategy[dict[str, Any]]:
    """``throttle``: limit 1..4 per 1..10 s, burst 0..2, optional key (§4.1)."""
    return st.builds(lambda limit, period, burst, key: {"limit": limit, "period": period, "burst": burst, **key},
                     st.integers(1, 4), _seconds(1, 10), st.integers(0, 2), _maybe_key())


def rate_limit_configs() -> st.SearchStrategy[dict[str, Any]]:
    """``rateLimit``: limit 1..25 (hidden burst up to 2) per 1..30 s, optional key (§5.1)."""
    return st.builds(lambda limit, period, key: {"limit": limit, "period": period, **key},
                     st.integers(1, 25), _seconds(1, 30), _maybe_key())


def debounce_configs() -> st.SearchStrategy[dict[str, Any]]:
    """``debounce``: period 1..6 s, optional key and timeout (§6.1)."""
    return st.builds(lambda period, key, timeout: {"period": period, **key, **timeout},
                     _seconds(1, 6), _maybe_key(), st.one_of(st.just({}), _seconds(1, 15).map(lambda t: {"timeout": t})))


def batch_configs() -> st.SearchStrategy[dict[str, Any]]:
    """``batchEvents``: maxSize 2..5, timeout 1..6 s, optional key and ``if`` (§9.1)."""
    return st.builds(lambda size, timeout, key, cond: {"maxSize": size, "timeout": timeout, **key, **cond},
                     st.integers(2, 5), _seconds(1, 6), _maybe_key(),
                     st.sampled_from([{}, {"if": "event.data.tier == 'lo'"}]))


def singleton_configs() -> st.SearchStrategy[dict[str, Any]]:
    """``singleton``: mode skip or cancel, optional key (§8.1)."""
    return st.builds(lambda mode, key: {"mode": mode, **key}, st.sampled_from(["skip", "cancel"]), _maybe_key())


def priority_configs() -> st.SearchStrategy[dict[str, str]]:
    """``priority.run``: a factor for ``hi`` events, beyond the ±600 s clamp at times (§7.1)."""
    return st.one_of(
        st.integers(-700, 700).map(lambda f: {"run": f"event.data.tier == 'hi' ? {f} : 0"}),
        st.just({"run": "int(event.data.n) * 2"}),
    )


def idempotency_configs() -> st.SearchStrategy[str]:
    """``idempotency``: a key expression (a rate limit of 1 per 24h on it, §5.1)."""
    return st.just(KEY)


@st.composite
def flow_controls(draw: st.DrawFn) -> dict[str, Any]:
    """Any combination of mechanisms Inngest accepts without a warning from flowsim."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["concurrency"] = draw(concurrency_configs())
    if draw(st.integers(0, 3)) == 0:
        out["throttle"] = draw(throttle_configs())
    if draw(st.integers(0, 4)) == 0:
        out["batchEvents"] = draw(batch_configs())
        return out                  # excludes debounce, singleton, priority; rateLimit/idempotency warn
    limiter = draw(st.sampled_from([None, None, None, "rateLimit", "idempotency"]))
    if limiter == "rateLimit":
        out["rateLimit"] = draw(rate_limit_configs())
    elif limiter == "idempotency":
        out["idempotency"] = draw(idempotency_configs())
    if draw(st.integers(0, 3)) == 0:
        out["debounce"] = draw(debounce_configs())
    if draw(st.integers(0, 3)) == 0:
        out["singleton"] = draw(singleton_configs())
    if draw(st.integers(0, 2)) == 0:
        out["priority"] = draw(priority_configs())
    return out


@st.composite
def step_lists(draw: st.DrawFn, *, max_steps: int = 3, waits: bool = True) -> list[dict[str, Any]]:
    """1 to ``max_steps`` steps: ``run`` (constant or exponential duration, failing now and
    then), ``sleep`` and, with ``waits``, ``waitForEvent`` on ``confirm`` matching the user."""
    kinds = ["run", "run", "run", "sleep"] + (["wait"] if waits else [])
    steps = []
    for i in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(kinds)) if i else "run"
        if kind == "run":
            duration = draw(st.one_of(st.integers(1, 20).map(lambda q: q / 4),
                                      st.integers(1, 5).map(lambda m: {"exponential": {"mean": f"{m}s"}})))
            step: dict[str, Any] = {"run": f"s{i}", "duration": duration}
            if draw(st.integers(0, 4)) == 0:
                step["failure_rate"] = draw(st.sampled_from([0.2, 0.5]))
        elif kind == "sleep":
            step = {"sleep": draw(_seconds(1, 5)), "name": f"s{i}"}
        else:
            step = {"waitForEvent": {"event": "confirm", "match": "data.user", "timeout": draw(_seconds(1, 10))},
                    "name": f"s{i}"}
        steps.append(step)
    return steps


@st.composite
def functions(draw: st.DrawFn, fn_id: str = "f", events: tuple[str, ...] = ("go",)) -> dict[str, Any]:
    """A function: triggers on ``events``, a step list, 0..2 retries, flow control."""
    fn: dict[str, Any] = {"id": fn_id, "triggers": [{"event": e} for e in events], "steps": draw(step_lists()),
                          "retries": draw(st.integers(0, 2))}
    fn.update(draw(flow_controls()))
    return fn


@st.composite
def scenarios(draw: st.DrawFn, *, max_functions: int = 3, max_events: int = 30,
              key_queues: bool | None = False) -> dict[str, Any]:
    """A whole scenario: 1..``max_functions`` functions on ``go`` and ``other``, an
    explicit event stream (``confirm`` events resume waits), the ``ideal`` or ``inngest``
    platform, sometimes a small account limit, a horizon past the last event.
    ``key_queues``: the queue path, ``True`` for key queues (§3.4), ``None`` to draw it;
    the default (``False``, the walk of §3.3) draws nothing, so the same scenarios as before."""
    n = draw(st.integers(1, max_functions))
    fns = []
    for i in range(n):
        events = draw(st.sampled_from([("go",), ("go",), ("other",), ("go", "other")]))
        fns.append(draw(functions(f"f{i}", events)))
    events = draw(event_streams(names=("go", "go", "other", "confirm"), max_size=max_events))
    last = max(e["at"] for e in events)
    sc: dict[str, Any] = {
        "name": "drawn", "seed": draw(st.integers(0, 2 ** 16)), "horizon": last + draw(st.sampled_from([5, 30, 120])),
        "platform": draw(st.sampled_from(["ideal", "inngest"])), "functions": fns,
        "traffic": [{"name": "drawn", "events": events}],
    }
    if draw(st.integers(0, 3)) == 0:
        sc["account"] = {"concurrency": draw(st.integers(1, 4))}
    if key_queues or (key_queues is None and draw(st.booleans())):
        sc.setdefault("account", {})["key_queues"] = True
    return sc


def accounts_with_plans() -> st.SearchStrategy[dict[str, Any]]:
    """``account`` with a plan (:mod:`flowsim.plans`) and a small explicit limit; on plans
    with bursty concurrency, burst off or 0, 58, 59 or 60 of its 60 minutes already spent
    (so that a drawn scenario of a few minutes also sees the allowance run out)."""
    def account(plan: str, limit: int, burst: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"plan": plan, "concurrency": limit}
        if plan != "free":
            out.update({"burst": False} if burst is False else {"burst_minutes_used": burst})
        return out
    return st.builds(account, st.sampled_from(["free", "pro", "business", "enterprise"]), st.integers(1, 4),
                     st.sampled_from([False, 0, 58, 59, 59, 60]))


@st.composite
def scenarios_with_plans(draw: st.DrawFn, **kw: Any) -> dict[str, Any]:
    """:func:`scenarios` (``kw`` passed on) whose account has a plan two times in three
    (:func:`accounts_with_plans`). A strategy of its own, so that :func:`scenarios` draws
    what it always drew (the output hashes of ``benchmarks/hashes.py`` depend on it)."""
    sc = draw(scenarios(**kw))
    if draw(st.integers(0, 2)):
        sc["account"] = draw(accounts_with_plans())
    return sc
