"""Invariants every simulation must satisfy, checked on a :class:`~flowsim.Result`'s tables.

Each checker takes any result (of flowsim's own scenarios or a user's) and raises
:class:`InvariantError`, an ``AssertionError`` naming the invariant, the function, run,
key and time, when the tables break it; a function without the mechanism is not
looked at. Wherever a checker needs an event's data (keys, ``if`` conditions) it
regenerates the traffic from the scenario and seed and evaluates the function's
expressions itself, so that a mechanism that binds a wrong key is caught too. The
definitions (spec sections in brackets):

``conservation`` (spec README): every event has exactly one outcome per function whose
    triggers match its name, from the known outcomes; every run or batched outcome names
    a run that lists the event, and every event a run lists points back at the run.
``concurrency`` (§3.2): at every instant, for the account limit, each function limit and
    each keyed limit per key value, the requests executing (step rows of kind run or
    request, from start to end or the horizon) never exceed the limit. A key shared by
    several functions (env or account scope) is checked at each start against the
    starting function's own limit. Within one instant the tables do not tell the order,
    so the most lenient is taken: ends first, then requests of zero length (each beside
    the requests spanning the instant), then the other starts, smallest limit first.
    With bursty concurrency (a plan, §3.2 and :mod:`flowsim.plans`) the account may run up to
    3× its limit, and the minutes the result's ``burst`` section says it spent must be
    the right ones: each spent minute had more requests executing than the limit at some
    moment (in the most generous order), a start that certainly took the account above
    its limit lies in a spent minute, every minute certainly above the limit is spent
    while the allowance lasts, and no more minutes are spent than the allowance had.
``throttle`` (§4.2, §4.3): per function and key value, the starts of start items (retries
    included) conform to the GCRA with emission ``T = period/limit`` and tolerance
    ``τ = (limit + burst − 1)·T``: for starts ``i < j``, ``t_j − t_i ≥ (j − i)·T − τ``
    (equivalently at most ``floor((w + τ)/T) + 1`` starts in any window of length ``w``);
    with ``platform.gcra_key_expiry`` the bound restarts after the key's Redis expiry
    (``EX = trunc(max(tat − t, 1 s))`` after each start ``t``, §2.3).
    Throttle never drops: a run that never started was cancelled, skipped by a singleton
    or is still pending at the horizon, and no event's reason names the throttle. With key
    queues (§3.4, §2.4) the throttle is taken when the item is refilled, which may be up to
    ``max(backlog_lookahead, future_at_limit)`` before it starts, so the starts are
    checked with that much more tolerance.
``rate_limit`` (§5.2; ``idempotency``, §5.1, is the rate limit 1/24h): per function and
    key value, the arrival times of the events the rate limiter admitted conform to the
    GCRA with ``T = period/limit`` and ``τ = floor(limit/10)·T`` (restarting after the
    key's expiry, as for throttle); and every event it dropped was non-conforming when it
    arrived, its key not expired (checked when the admitted set is complete, i.e. the
    function does not batch). Event-id idempotency (§5.3): two
    non-batch runs of one function created from the same event id are 24 h apart.
``debounce`` (§6.2): a debounced run has one event ``e``, and every other event of the same
    function and debounce key that reached the debounce after ``e`` and before the
    generation closed (before ``created_at − debounce_delay``, less the singleton cancel
    gap when the function has one) was out of order (``ts`` older than ``e``'s) and
    debounced: the run uses the latest in-order event of its generation. With the
    decision log (``explain``), also: each generation fires once, with the last event
    that joined it, counting its members, and that event has their largest ``ts``.
``batching`` (§9.2): a batch run holds 1 to ``maxSize`` events, all with the batch key of
    the first and a true ``if``, listed in arrival order; it is created no earlier than its last
    event, no later than ``timeout`` (plus the append buffer's flush window) after its
    first, and, when not full, not before ``timeout`` after its first event.
``singleton`` (§8.2): per function and lock key, the runs holding the lock (from creation to
    end or the horizon) never overlap, the key they record is the key of their first event
    (none when it is ``false`` or fails), and a run skipped by the singleton was skipped
    while some run of its key held the lock.
``priority_order`` (§3.3, §7.2): in a function whose queue only the account and function
    limits constrain (no keyed limit, no throttle, no unknown mechanism), an item that
    starts at ``s`` has the lowest score of the items waiting at ``s``: none that was
    ready before ``s`` and still waiting after has a lower score (score ``created −
    factor`` for items due now, the due time for retries, resumed sleeps and items due
    more than ``future_at_limit`` ahead; equal scores are compared by enqueue order where
    the tables tell it, else not at all).
``work_conserving`` (§3.3): in such a function, while an item is ready and waiting (over
    any interval of positive length) the function limit or the account limit is full (with
    bursty concurrency: its burst ceiling while the minute is spent or minutes are left).
    Both describe the default path's walk; with key queues (§3.4) neither holds (backlogs
    are refilled in a random order, at the scanner's ticks), and neither is checked.
``littles_law`` (spec README): per function and overall, on the sample path over
    ``[0, T]`` (``T`` the horizon) with runs in the system from ``created_at`` to
    ``ended_at``, or to ``T`` for runs not finished (censored at ``T``): ``L = λ·W`` where
    ``L = (1/T)∫N(t)dt`` is swept from the runs table, ``λ = A/T`` with ``A`` the runs the
    events table refers to, and ``W`` the mean censored time in the system over the runs
    table. With the censoring the law is an identity on the sample path, so the tolerance
    is float rounding: ``|L − λW| ≤ 1e-9·max(L, λW) + 1e-12``. Every run must also be
    created in ``[0, T]``, end no earlier than created and no later than ``T``.
"""
from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from flowsim.expr import ExprEvalError, is_true, key_string, key_value
from flowsim.plans import BURST_FACTOR, BURST_METER, BURST_MINUTES
from flowsim.results.recorder import OUTCOMES, STATUSES
from flowsim.results.result import Result
from flowsim.scenario.model import FunctionSpec, SleepStep
from flowsim.streams import Streams
from flowsim.traffic.event import Event
from flowsim.traffic.sources import merge

EPS = 1e-9
WORK_KINDS = ("run", "request")
IDEMPOTENCY_PERIOD = 86400.0          # consts.FunctionIdempotencyPeriod (§5.3)
# Mechanisms known to add no queue constraint that skips items (so the queue is ordered
# and work-conserving when a function has only these, and no keyed concurrency limit).
ORDERED_MECHANISMS = frozenset({"concurrency", "priority", "rateLimit", "idempotency", "debounce",
                                "batchEvents", "singleton"})


class InvariantError(AssertionError):
    """An invariant does not hold; the message names what, where and when.

    ``invariant`` is the checker's name (``concurrency``, ``throttle``...); ``where`` holds
    ``function_id``, ``run_id``, ``event_id``, ``key`` and ``time`` when they apply.
    """

    def __init__(self, invariant: str, message: str, **where: Any) -> None:
        super().__init__(f"{invariant}: {message}")
        self.invariant = invariant
        self.message = message
        self.where = where


# -- facts shared by the checkers ------------------------------------------------------------

class Facts:
    """What the checkers derive from a result once: the regenerated events, which event
    each events-table row is about, the runs by id, their first events."""

    def __init__(self, result: Result) -> None:
        self.result = result
        self.scenario = result.scenario
        self.horizon = float(result.horizon)
        self._events: list[Event] | None = None
        self._row_event: list[Event | None] | None = None
        self._runs: dict[str, Any] | None = None
        self._run_event: dict[str, Event | None] | None = None

    @property
    def events(self) -> list[Event]:
        """The scenario's traffic, regenerated from its seed, in arrival order."""
        if self._events is None:
            sc = self.scenario
            self._events = list(merge(list(sc.traffic), Streams(self.result.seed), sc.horizon))
        return self._events

    @property
    def row_event(self) -> list[Event | None]:
        """For each row of ``result.events``, the regenerated event it is about (the k-th
        row of an (event id, function) pair is the k-th such event), or ``None``."""
        if self._row_event is None:
            pending: dict[tuple[str, str], list[Event]] = defaultdict(list)
            for event in self.events:
                for fn in matching(self.scenario.functions, event.name):
                    pending[(event.id, fn.id)].append(event)
            taken: Counter[tuple[str, str]] = Counter()
            out: list[Event | None] = []
            ev = self.result.events
            for event_id, fn_id in zip(ev["event_id"], ev["function_id"]):
                k = (event_id, fn_id)
                lst = pending.get(k, [])
                out.append(lst[taken[k]] if taken[k] < len(lst) else None)
                taken[k] += 1
            self._row_event = out
        return self._row_event

    @property
    def runs(self) -> dict[str, Any]:
        """run id → its row of ``result.runs`` (a namedtuple)."""
        if self._runs is None:
            self._runs = {r.run_id: r for r in self.result.runs.itertuples(index=False)}
        return self._runs

    def run_event(self, run_id: str) -> Event | None:
        """The regenerated first event of a run (its keys come from it, §1 step 5)."""
        if self._run_event is None:
            first = {rid: json.loads(r.event_ids)[0] if json.loads(r.event_ids) else None
                     for rid, r in self.runs.items()}
            self._run_event = {}
            ev = self.result.events
            for i, (rid, event_id) in enumerate(zip(ev["run_id"], ev["event_id"])):
                if rid and first.get(rid) == event_id and rid not in self._run_event:
                    self._run_event[rid] = self.row_event[i]
        return self._run_event.get(run_id)

    def rows_of(self, fn_id: str) -> Iterable[tuple[int, Any, Event | None]]:
        """(row index, row, event) of every events-table row of function ``fn_id``, in order."""
        ev = self.result.events
        row_event = self.row_event
        for i, row in enumerate(ev.itertuples(index=False)):
            if row.function_id == fn_id:
                yield i, row, row_event[i]


_CACHE: list[Facts] = []


def facts(result: Result) -> Facts:
    """The :class:`Facts` of ``result``, cached for the last result checked."""
    if _CACHE and _CACHE[0].result is result:
        return _CACHE[0]
    f = Facts(result)
    _CACHE[:] = [f]
    return f


def matching(functions: Iterable[FunctionSpec], name: str) -> list[FunctionSpec]:
    """The functions with a trigger whose event name (with ``*`` wildcards) matches ``name``."""
    out = []
    for fn in functions:
        if any((t.event == name if t.pattern is None else t.pattern.match(name)) for t in fn.triggers):
            out.append(fn)
    return out


def _key(expr: Any, event: Event | None, on_error: str | None) -> str | None:
    """A key value as the engine forms it: ``key_string`` of the value; ``on_error`` (or
    ``None``: no key) when evaluation fails; ``""`` without an expression."""
    if expr is not None and event is None:
        return None
    return key_value(expr, event, on_error)


def _fmt(t: float) -> str:
    return f"{t:.6f}".rstrip("0").rstrip(".") if math.isfinite(t) else str(t)


# -- conservation ---------------------------------------------------------------------------

def check_conservation(result: Result) -> None:
    """Every input event has exactly one outcome per function its triggers match."""
    f = facts(result)
    sc = result.scenario
    expected: Counter[tuple[str, str]] = Counter()
    at: dict[str, float] = {}
    for event in f.events:
        at.setdefault(event.id, event.at)
        for fn in matching(sc.functions, event.name):
            expected[(event.id, fn.id)] += 1
    if len(f.events) != result.events_in:
        raise InvariantError("conservation", f"{len(f.events)} events were generated but the engine received "
                                             f"{result.events_in}")
    ev = result.events
    got = Counter(zip(ev["event_id"], ev["function_id"]))
    if got != expected:
        missing = sorted((expected - got).items())[:5]
        extra = sorted((got - expected).items())[:5]
        (event_id, fn_id), _ = (missing or extra)[0]
        raise InvariantError(
            "conservation", f"events without exactly one outcome per triggered function: missing {missing}, "
                            f"extra {extra} (first: event {event_id} at t={_fmt(at.get(event_id, math.nan))} "
                            f"for {fn_id})",
            event_id=event_id, function_id=fn_id, time=at.get(event_id))
    bad = ev[~ev["outcome"].isin(OUTCOMES)]
    if len(bad):
        row = next(bad.itertuples(index=False))
        raise InvariantError("conservation", f"event {row.event_id} at t={_fmt(row.at)} for {row.function_id} "
                                             f"has unknown outcome {row.outcome!r}",
                             event_id=row.event_id, function_id=row.function_id, time=row.at)
    bad_runs = result.runs[~result.runs["status"].isin(STATUSES)]
    if len(bad_runs):
        row = bad_runs.iloc[0]
        raise InvariantError("conservation", f"run {row.run_id} has unknown status {row.status!r}",
                             run_id=row.run_id, function_id=row.function_id)
    runs = {rid: (r.function_id, json.loads(r.event_ids)) for rid, r in f.runs.items()}
    pointing: dict[str, set[str]] = defaultdict(set)
    for row in ev.itertuples(index=False):
        if row.outcome in ("run", "batched") and not row.run_id:
            raise InvariantError("conservation", f"event {row.event_id} at t={_fmt(row.at)} has outcome "
                                                 f"{row.outcome} for {row.function_id} but no run",
                                 event_id=row.event_id, function_id=row.function_id, time=row.at)
        if row.run_id and row.outcome in ("run", "batched", "singleton_skipped"):
            listed = runs.get(row.run_id)
            if listed is None or listed[0] != row.function_id or row.event_id not in listed[1]:
                raise InvariantError("conservation", f"event {row.event_id} at t={_fmt(row.at)} has outcome "
                                                     f"{row.outcome} with run {row.run_id} of {row.function_id}, "
                                                     "but that run does not list it",
                                     event_id=row.event_id, run_id=row.run_id, function_id=row.function_id,
                                     time=row.at)
            pointing[row.run_id].add(row.event_id)
    for rid, (fn_id, ids) in runs.items():
        for event_id in ids:
            if event_id not in pointing[rid]:
                r = f.runs[rid]
                raise InvariantError("conservation", f"run {rid} of {fn_id} (created at t={_fmt(r.created_at)}) "
                                                     f"lists event {event_id}, whose outcome does not name the run",
                                     run_id=rid, event_id=event_id, function_id=fn_id, time=r.created_at)


# -- concurrency ------------------------------------------------------------------------------

def check_concurrency(result: Result) -> None:
    """No concurrency constraint ever has more executing requests than its limit (§3.2)."""
    f = facts(result)
    steps = result.steps
    work = steps[steps["kind"].isin(WORK_KINDS) & steps["started_at"].notna()]
    starts = work["started_at"].to_numpy(dtype=float)
    ends = work["ended_at"].fillna(result.horizon).to_numpy(dtype=float)
    fn_of = work["function_id"].to_numpy()
    run_of = work["run_id"].to_numpy()
    step_of = work["step"].to_numpy()
    n = len(work)
    account = result.scenario.account
    if account.burst:
        _sweep("account (burst ceiling)", np.arange(n), np.full(n, BURST_FACTOR * account.concurrency), starts,
               ends, run_of, step_of, "")
        if "burst" in result.mechanisms:
            _check_burst(account, result.mechanisms["burst"], starts, ends, f.horizon)
    else:
        _sweep("account", np.arange(n), np.full(n, account.concurrency), starts, ends, run_of, step_of, "")
    groups: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        if conf is None:
            continue
        mask = np.flatnonzero(fn_of == fn.id)
        if conf.function_limit is not None:
            _sweep(f"function {fn.id}", mask, np.full(len(mask), conf.function_limit), starts, ends, run_of,
                   step_of, "")
        for k in conf.keyed:
            for i in mask:
                event = f.run_event(run_of[i])
                value = _key(k.key, event, "<nil>")
                if value is None:
                    continue
                group = (f"{fn.id}", k.label, k.key.text, value) if k.scope == "fn" else \
                    (k.scope, "", k.key.text, value)
                groups[group].append((i, k.limit))
    for (scope, _, text, value), members in groups.items():
        idx = np.asarray([i for i, _ in members])
        limits = np.asarray([lim for _, lim in members])
        _sweep(f"keyed limit {text}={value} ({scope})", idx, limits, starts, ends, run_of, step_of, value)


def _paid_minutes(section: dict[str, Any]) -> set[int]:
    """The minutes (from t = 0) a ``burst`` summary section says were spent."""
    return {m for a, b in section["burst_spans"] for m in range(round(a / BURST_METER), round(b / BURST_METER))}


def _check_burst(account: Any, section: dict[str, Any], starts: np.ndarray, ends: np.ndarray,
                 horizon: float) -> None:
    """The burst minutes spent are the right ones (see ``concurrency`` in the module doc)."""
    base = account.concurrency
    allowance = BURST_MINUTES - account.burst_minutes_used
    paid = _paid_minutes(section)
    if len(paid) != section["minutes_spent"] or len(paid) > allowance:
        raise InvariantError("concurrency", f"account burst: {len(paid)} minutes spent "
                                            f"({section['minutes_spent']} reported), {allowance} were left")
    zero = ends <= starts
    times = np.unique(np.concatenate([starts, ends, [0.0]]))
    k_s = np.searchsorted(times, starts)
    k_e = np.searchsorted(times, ends)
    pos = ~zero
    # level on [times[k], times[k+1]) and, at each instant, the starts and ends there
    steady = np.cumsum(np.bincount(k_s[pos], minlength=len(times)) - np.bincount(k_e[pos], minlength=len(times)))
    n_starts = np.bincount(k_s[pos], minlength=len(times))
    n_ends = np.bincount(k_e[pos], minlength=len(times))
    n_zero = np.bincount(k_s[zero], minlength=len(times))
    before = np.r_[0, steady[:-1]]
    generous = before + n_starts + n_zero                      # starts before ends at the instant
    lenient = before - n_ends + np.maximum(n_starts, (n_zero > 0).astype(int))     # ends first, one start
    minute = (times // BURST_METER).astype(int)
    above: set[int] = set()             # minutes certainly above the limit
    maybe: set[int] = set()             # minutes above it in the most generous order
    for k in range(len(times)):
        t = times[k]
        m = int(minute[k])
        if generous[k] > base:
            maybe.add(m)
        if lenient[k] > base:
            above.add(m)
            if n_starts[k] + n_zero[k] and m not in paid:
                raise InvariantError("concurrency", f"account: more than the limit of {base} executing at "
                                                    f"t={_fmt(t)} (burst) in minute {m}, which the burst ledger "
                                                    "did not spend", time=float(t))
        nxt = times[k + 1] if k + 1 < len(times) else horizon
        if steady[k] > base and nxt > t + EPS:
            # every minute the interval [t, nxt) covers with a positive length
            last = int(math.ceil(min(nxt, horizon) / BURST_METER - EPS)) - 1
            for mm in range(m, max(last, m) + 1):
                if min(nxt, (mm + 1) * BURST_METER) - max(t, mm * BURST_METER) > EPS:
                    above.add(mm)
                    maybe.add(mm)
    for m in sorted(paid):
        if m not in maybe:
            raise InvariantError("concurrency", f"account: burst minute {m} (from t={_fmt(m * BURST_METER)}) was "
                                                f"spent, but at most {base} requests executed in it")
    for m in sorted(above):
        if m not in paid and sum(1 for p in paid if p < m) < allowance:
            raise InvariantError("concurrency", f"account: more than {base} requests executed in minute {m} (from "
                                                f"t={_fmt(m * BURST_METER)}) while burst minutes were left, but the "
                                                "ledger did not spend it", time=m * BURST_METER)


def burst_ceilings(result: Result, times: np.ndarray) -> np.ndarray:
    """The account's limit at each of ``times``: its burst ceiling while the minute is
    spent or minutes are left, else the limit itself (without bursty concurrency: the limit)."""
    account = result.scenario.account
    base = account.concurrency
    if not account.burst:
        return np.full(len(times), float(base))
    section = result.mechanisms.get("burst")
    if section is None:
        return np.full(len(times), float(BURST_FACTOR * base))
    paid = np.array(sorted(_paid_minutes(section)), dtype=int)
    minute = (times // BURST_METER).astype(int)
    left = BURST_MINUTES - account.burst_minutes_used - np.searchsorted(paid, minute)
    return np.where(np.isin(minute, paid) | (left > 0), float(BURST_FACTOR * base), float(base))


def _sweep(name: str, idx: np.ndarray, limits: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           run_of: np.ndarray, step_of: np.ndarray, key: str) -> None:
    """Walk the intervals ``idx`` in time order. Within one instant the order is unknown,
    so the most lenient one is taken: ends first, then requests of zero length (each
    needs a free slot beside the requests spanning the instant, and none after it), then
    the starts of the others, smallest limit first."""
    if len(idx) == 0:
        return
    s, e = starts[idx], ends[idx]
    zero = e <= s
    n = len(idx)
    t = np.concatenate([e[~zero], s])
    phase = np.concatenate([np.zeros(int((~zero).sum()), dtype=int), np.where(zero, 1, 2)])
    lim = np.concatenate([np.zeros(int((~zero).sum())), limits])
    which = np.concatenate([np.flatnonzero(~zero), np.arange(n)])
    order = np.lexsort((which, lim, phase, t))
    level = 0
    for o in order:
        p = phase[o]
        if p == 0:
            level -= 1
            continue
        j = which[o]
        now = level + 1
        if p == 2:
            level = now
        if now > limits[j]:
            i = idx[j]
            raise InvariantError(
                "concurrency", f"{name}: {now} requests executing at t={_fmt(t[o])}, limit {int(limits[j])} "
                               f"(run {run_of[i]} step {step_of[i]} started then)",
                run_id=str(run_of[i]), key=key, time=float(t[o]))


# -- GCRA bounds: throttle and rate limit --------------------------------------------------------

def _key_expires(tat: float, t: float) -> float:
    """When the Redis key written at ``t`` with ``tat`` expires: ``t + trunc(max(tat − t, 1))``
    (§2.3; ``tat − t`` within 1e-9 of a whole number counts as whole, as the GCRA does)."""
    ttl = tat - t
    whole = round(ttl)
    if abs(ttl - whole) <= EPS * max(1.0, abs(ttl)):
        ttl = whole
    return t + max(int(ttl), 1)


def _gcra_conforms(times: list[float], T: float, tau: float, expiry: bool = False) -> int | None:
    """Index of the first time that breaks the GCRA(T, τ) conformance of ``times`` (sorted),
    or ``None``: virtual scheduling, ``tat := max(t, tat) + T``, conforming iff ``t ≥ tat − τ``.
    With ``expiry`` a time past the key's expiry starts afresh (the expiry is a whole number
    of seconds after a start, so the engine and this check compare the same floats)."""
    tat = -math.inf
    expires = math.inf
    eps = EPS * max(1.0, T)
    for k, t in enumerate(times):
        if expiry and t > expires:
            tat = -math.inf
        if tat != -math.inf and t < tat - tau - eps:
            return k
        tat = max(t, tat) + T
        if expiry:
            expires = _key_expires(tat, t)
    return None


def _window(times: list[float], k: int, T: float, tau: float) -> tuple[int, float, int]:
    """For a non-conforming time ``k``: the earlier start ``i`` of the tightest window, its
    time, and the bound ``floor((w + τ)/T) + 1`` that the ``k − i + 1`` times exceed."""
    best, bi = -math.inf, 0
    for i in range(k):
        excess = times[i] + (k - i) * T - times[k]
        if excess > best:
            best, bi = excess, i
    w = times[k] - times[bi]
    return bi, times[bi], math.floor((w + tau) / T + EPS) + 1


def check_throttle(result: Result) -> None:
    """Throttled starts obey the GCRA bound per key; throttle never drops (§4.2, §4.3)."""
    f = facts(result)
    steps = result.steps
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("throttle")
        if conf is None:
            continue
        limit, period, burst = max(int(conf.limit), 1), float(conf.period), int(conf.burst)
        T = period / limit
        tau = (limit + burst - 1) * T
        platform = result.scenario.platform
        if result.scenario.account.key_queues:        # taken at refill, up to this long before the start
            tau += max(platform.backlog_lookahead, platform.future_at_limit)
        expiry = result.scenario.platform.gcra_key_expiry
        first = fn.steps[0].name
        rows = steps[(steps["function_id"] == fn.id) & steps["kind"].isin(WORK_KINDS) & (steps["step"] == first)
                     & steps["started_at"].notna()]
        by_key: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for run_id, t in zip(rows["run_id"], rows["started_at"]):
            key = _key(conf.key, f.run_event(run_id), "<nil>")
            if key is None:
                continue
            by_key[key].append((float(t), run_id))
        for key in sorted(by_key):
            pairs = sorted(by_key[key])
            times = [t for t, _ in pairs]
            k = _gcra_conforms(times, T, tau, expiry)
            if k is not None:
                i, ti, bound = _window(times, k, T, tau)
                on = f" on key {key!r}" if conf.key is not None else ""
                raise InvariantError(
                    "throttle", f"{fn.id}: run {pairs[k][1]} started at t={_fmt(times[k])}{on}, the {k - i + 1}th "
                                f"start in [{_fmt(ti)}, {_fmt(times[k])}], more than the GCRA bound "
                                f"floor((w + τ)/T) + 1 = {bound} (limit {limit}/{_fmt(period)}s, burst {burst}: "
                                f"T={_fmt(T)}s, τ={_fmt(tau)}s)",
                    function_id=fn.id, run_id=pairs[k][1], key=key, time=times[k])
        runs = result.runs[result.runs["function_id"] == fn.id]
        for r in runs.itertuples(index=False):
            if math.isnan(r.started_at) and r.status not in ("cancelled", "skipped", "pending"):
                raise InvariantError("throttle", f"{fn.id}: run {r.run_id} (created at t={_fmt(r.created_at)}) "
                                                 f"never started but has status {r.status}: throttle delays, it "
                                                 "never drops", function_id=fn.id, run_id=r.run_id,
                                     time=r.created_at)
        ev = result.events
        dropped = ev[(ev["function_id"] == fn.id) & ev["reason"].astype(str).str.contains("throttle", regex=False)]
        if len(dropped):
            row = next(dropped.itertuples(index=False))
            raise InvariantError("throttle", f"{fn.id}: event {row.event_id} at t={_fmt(row.at)} has outcome "
                                             f"{row.outcome} for a throttle reason ({row.reason}): throttle never "
                                             "drops", function_id=fn.id, event_id=row.event_id, time=row.at)


_REACHED_RATE_LIMIT = frozenset({"run", "debounced", "singleton_skipped", "duplicate", "pending"})


def check_rate_limit(result: Result) -> None:
    """Rate-limit and idempotency admissions obey their GCRA bound per key (§5.1-§5.3)."""
    f = facts(result)
    for fn in result.scenario.functions:
        batching = "batchEvents" in fn.mechanisms
        conf = fn.mechanisms.get("rateLimit")
        if conf is not None:
            limit = max(int(conf.limit), 1)
            _check_admissions(f, fn, "rate_limit", "rate limit", limit, float(conf.period), limit // 10,
                              conf.key, "rate_limited", batching,
                              lambda row: row.outcome in _REACHED_RATE_LIMIT,
                              result.scenario.platform.gcra_key_expiry)
        idem = fn.mechanisms.get("idempotency")
        if idem is not None and getattr(idem, "key", None) is not None:
            # Duplicates of the event-id rule passed the key's rate limit; its own did not.
            _check_admissions(f, fn, "rate_limit", "idempotency", 1, IDEMPOTENCY_PERIOD, 0, idem.key, "duplicate",
                              batching, lambda row: (row.outcome in _REACHED_RATE_LIMIT and row.outcome != "duplicate")
                              or (row.outcome == "duplicate" and row.reason.startswith("event id")))
        if idem is not None:
            _check_event_ids(f, fn)


def _check_admissions(f: Facts, fn: FunctionSpec, invariant: str, what: str, limit: int, period: float, burst: int,
                      key_expr: Any, refused: str, batching: bool, admitted: Callable[[Any], bool],
                      expiry: bool = False) -> None:
    T = period / limit
    tau = burst * T
    eps = EPS * max(1.0, T)
    tat: dict[str, float] = {}
    expires: dict[str, float] = {}      # with expiry: when each key's Redis key expires
    times: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for _, row, event in f.rows_of(fn.id):
        if event is None or row.outcome == "batched" or (batching and row.outcome == "pending"):
            continue
        if key_expr is None:
            key = ""
        else:
            try:
                value = key_expr.on(event)
            except ExprEvalError:
                continue
            if value is False:          # not limited at all (§2.1)
                continue
            key = key_string(value)
        on = f" on key {key!r}" if key_expr is not None else ""
        now = float(event.at)
        if admitted(row):
            last = tat.get(key)
            if last is not None and now > expires.get(key, math.inf):
                last = None             # the key expired (Redis: strictly after its expiry)
            if last is not None and now < last - tau - eps:
                lst = [t for t, _ in times[key]] + [now]
                i, ti, bound = _window(lst, len(lst) - 1, T, tau)
                raise InvariantError(
                    invariant, f"{fn.id}: event {row.event_id} admitted by the {what} at t={_fmt(now)}{on}, the "
                               f"{len(lst) - i}th admission in [{_fmt(ti)}, {_fmt(now)}], more than the GCRA bound "
                               f"floor((w + τ)/T) + 1 = {bound} ({limit}/{_fmt(period)}s: T={_fmt(T)}s, "
                               f"τ={_fmt(tau)}s)", function_id=fn.id, event_id=row.event_id, key=key, time=now)
            tat[key] = max(now, last if last is not None else now) + T
            if expiry:
                expires[key] = _key_expires(tat[key], now)
            times[key].append((now, row.event_id))
        elif row.outcome == refused and not batching:
            last = tat.get(key)
            if last is None or now >= last - tau + eps or now > expires.get(key, math.inf):
                raise InvariantError(
                    invariant, f"{fn.id}: event {row.event_id} was dropped as {refused} at t={_fmt(now)}{on} "
                               f"although the {what} had capacity ({limit}/{_fmt(period)}s, "
                               f"{len(times[key])} admitted before)", function_id=fn.id, event_id=row.event_id,
                    key=key, time=now)


def _check_event_ids(f: Facts, fn: FunctionSpec) -> None:
    """Two non-batch runs of one function from the same event id are 24 h apart (§5.3)."""
    batch_runs = {row.run_id for _, row, _ in f.rows_of(fn.id) if row.outcome == "batched"}
    seen: dict[str, tuple[float, str]] = {}
    for rid, r in f.runs.items():
        if r.function_id != fn.id or rid in batch_runs or r.status == "skipped":
            continue
        ids = json.loads(r.event_ids)
        if not ids:
            continue
        prev = seen.get(ids[0])
        if prev is not None and r.created_at < prev[0] + IDEMPOTENCY_PERIOD - EPS:
            raise InvariantError("rate_limit", f"{fn.id}: run {rid} was created at t={_fmt(r.created_at)} from event "
                                               f"id {ids[0]}, which already started run {prev[1]} at "
                                               f"t={_fmt(prev[0])} (event-id idempotency holds for 24h)",
                                 function_id=fn.id, run_id=rid, event_id=ids[0], time=r.created_at)
        seen[ids[0]] = (r.created_at, rid)


# -- debounce, batching, singleton ----------------------------------------------------------------

def check_debounce(result: Result) -> None:
    """A debounced run uses the latest in-order event of its generation (§6.2)."""
    f = facts(result)
    plat = result.scenario.platform
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("debounce")
        if conf is None or getattr(conf, "mode", "trailing") != "trailing":
            continue                    # (a leading debounce, a plug-in, keeps the first event)
        single = fn.mechanisms.get("singleton")
        gap = plat.singleton_cancel_gap if single is not None and getattr(single, "mode", "") == "cancel" else 0.0
        rows = [(i, row, event) for i, row, event in f.rows_of(fn.id) if event is not None]
        keyed = [(i, row, event, _key(conf.key, event, "<invalid>")) for i, row, event in rows]
        by_key: dict[str, list[tuple[int, Any, Event]]] = defaultdict(list)
        for i, row, event, key in keyed:
            if row.outcome not in ("rate_limited", "filtered", "error", "duplicate"):
                by_key[key].append((i, row, event))
        for rid, r in f.runs.items():
            if r.function_id != fn.id:
                continue
            ids = json.loads(r.event_ids)
            if len(ids) != 1:
                raise InvariantError("debounce", f"{fn.id}: debounced run {rid} has {len(ids)} events", run_id=rid,
                                     function_id=fn.id, time=r.created_at)
            e = f.run_event(rid)
            if e is None:
                continue
            key = _key(conf.key, e, "<invalid>")
            close = r.created_at - plat.debounce_delay - gap
            for _, row, x in by_key.get(key, []):
                if x is e or not (x.at > e.at or (x.at == e.at and x.seq > e.seq)) or not x.at < close - EPS:
                    continue
                if x.ts >= e.ts or row.outcome != "debounced":
                    raise InvariantError(
                        "debounce", f"{fn.id}, key {key!r}: run {rid} was created at t={_fmt(r.created_at)} with "
                                    f"event {e.id} (at t={_fmt(e.at)}, ts {_fmt(e.ts)}), but event {x.id} (ts "
                                    f"{_fmt(x.ts)}, outcome {row.outcome}) arrived at t={_fmt(x.at)} in the same "
                                    "generation: a debounced run must use the latest in-order event",
                        function_id=fn.id, run_id=rid, event_id=x.id, key=key, time=x.at)
        if len(result.log) and sum("debounce" in g.mechanisms or "policies" in g.mechanisms
                                   for g in result.scenario.functions) == 1:
            _check_debounce_log(f, fn)


def _check_debounce_log(f: Facts, fn: FunctionSpec) -> None:
    """With the decision log (``explain``): each generation fires once, with the last event
    that joined it in order (opened it or superseded the stored one), counting them all,
    and that event has the largest ``ts`` of them; every run's event was fired."""
    log = f.result.log
    facts_ = [json.loads(x) if isinstance(x, str) else x for k, x in zip(log["kind"], log["facts"]) if k == "debounce"]
    fires = [x for x in facts_ if "events" in x]
    if len({x["generation"] for x in fires}) != len(fires):
        raise InvariantError("debounce", f"{fn.id}: a debounce generation fired more than once",
                             function_id=fn.id)
    joined: dict[int, list[str]] = defaultdict(list)
    for x in facts_:
        if "by" in x:
            joined[x["generation"]].append(x["by"])
        elif "fire_at" in x:
            joined[x["generation"]] = [x["event"]]
    # The log names events by id: an id that several of the function's events carry (explicit
    # or replayed traffic may repeat one) is ambiguous, and such a generation's ts is not compared.
    stamps: dict[str, set[float]] = defaultdict(set)
    for _, _, event in f.rows_of(fn.id):
        if event is not None:
            stamps[event.id].add(event.ts)
    ts = {i: next(iter(v)) for i, v in stamps.items() if len(v) == 1}
    for x in fires:
        members = joined.get(x["generation"], [])
        if not members or x["event"] != members[-1] or x["events"] != len(members):
            raise InvariantError("debounce", f"{fn.id}: generation {x['generation']} fired with event {x['event']} "
                                             f"({x['events']} events) but its members were {members}",
                                 function_id=fn.id, event_id=x["event"], key=x.get("key", ""))
        if all(m in ts for m in members) and x["event"] in ts and ts[x["event"]] < max(ts[m] for m in members):
            raise InvariantError("debounce", f"{fn.id}: generation {x['generation']} fired with event {x['event']} "
                                             f"(ts {_fmt(ts[x['event']])}), not the member with the largest ts",
                                 function_id=fn.id, event_id=x["event"], key=x.get("key", ""))
    fired = {x["event"] for x in fires}
    for rid, r in f.runs.items():
        ids = json.loads(r.event_ids)
        if r.function_id == fn.id and ids and ids[0] not in fired:
            raise InvariantError("debounce", f"{fn.id}: run {rid} has event {ids[0]}, which no debounce fired",
                                 function_id=fn.id, run_id=rid, time=r.created_at)


def check_batching(result: Result) -> None:
    """Batches respect ``maxSize``, ``timeout``, their key and ``if`` (§9.2)."""
    f = facts(result)
    plat = result.scenario.platform
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("batchEvents")
        if conf is None:
            continue
        timeout, size = float(conf.timeout), int(conf.max_size)
        flush = min(plat.batch_buffer, timeout) if plat.batch_buffer > 0 else 0.0
        members: dict[str, list[Event]] = defaultdict(list)
        for _, row, event in f.rows_of(fn.id):
            if row.outcome == "batched" and event is not None:
                members[row.run_id].append(event)
        for rid, events in members.items():
            r = f.runs.get(rid)
            if r is None:
                continue
            events.sort(key=lambda e: e.seq)
            first, last = events[0].at, events[-1].at
            where = dict(function_id=fn.id, run_id=rid, time=r.created_at)
            if json.loads(r.event_ids) != [e.id for e in events]:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} lists its events as {r.event_ids}, not in "
                                                 f"arrival order {[e.id for e in events]}", **where)
            if not 1 <= len(events) <= size:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} has {len(events)} events, maxSize {size}",
                                     **where)
            if r.created_at < last - EPS:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} was created at t={_fmt(r.created_at)}, "
                                                 f"before its last event arrived (t={_fmt(last)})", **where)
            if r.created_at > first + timeout + flush + EPS:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} was created at t={_fmt(r.created_at)}, "
                                                 f"more than timeout {_fmt(timeout)}s (+ {_fmt(flush)}s buffer) after "
                                                 f"its first event (t={_fmt(first)})", **where)
            if len(events) < size and r.created_at < first + timeout - EPS:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} of {len(events)} < maxSize {size} events "
                                                 f"was created at t={_fmt(r.created_at)}, before its timeout "
                                                 f"(first event at t={_fmt(first)} + {_fmt(timeout)}s)", **where)
            keys = {_key(conf.key, e, None) for e in events}
            if len(keys) != 1 or None in keys:
                raise InvariantError("batching", f"{fn.id}: batch run {rid} mixes batch keys {sorted(map(str, keys))}",
                                     **where)
            if conf.condition is not None:
                for e in events:
                    try:
                        ok = is_true(conf.condition.on(e))
                    except ExprEvalError:
                        ok = False
                    if not ok:
                        raise InvariantError("batching", f"{fn.id}: event {e.id} (t={_fmt(e.at)}) is in batch run "
                                                         f"{rid} but its batchEvents.if is not true", event_id=e.id,
                                             function_id=fn.id, run_id=rid, time=e.at)


def _lock_key(conf: Any, fn: FunctionSpec, event: Event) -> str | None:
    """The singleton lock key of a run's first event: the function id without a key, none
    when the key is ``false`` or fails to evaluate (§2.1, §8.1)."""
    if conf.key is None:
        return fn.id
    try:
        value = conf.key.on(event)
    except ExprEvalError:
        return None
    return None if value is False else key_string(value)


def check_singleton(result: Result) -> None:
    """Singleton holders never overlap; skips happen only while the lock is held (§8.2)."""
    f = facts(result)
    horizon = f.horizon
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("singleton")
        if conf is None:
            continue
        held: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
        skipped: list[tuple[str, str, float]] = []
        for rid, r in f.runs.items():
            if r.function_id != fn.id:
                continue
            event = f.run_event(rid)
            if event is None:
                continue
            key = _lock_key(conf, fn, event)
            if r.status == "skipped":
                if key is not None:
                    skipped.append((rid, key, r.created_at))
                continue
            recorded = json.loads(r.keys).get("singleton")
            if recorded != key:
                raise InvariantError("singleton", f"{fn.id}: run {rid} records lock key {recorded!r} but its event "
                                                  f"{event.id} gives {key!r}", function_id=fn.id, run_id=rid,
                                     key=str(key), time=r.created_at)
            if key is not None:
                end = horizon if math.isnan(r.ended_at) else r.ended_at
                held[key].append((r.created_at, end, rid))
        for key in sorted(held):
            spans = sorted(held[key])
            for (s0, e0, r0), (s1, _, r1) in zip(spans, spans[1:]):
                if s1 < e0 - EPS:
                    raise InvariantError("singleton", f"{fn.id}, key {key!r}: run {r1} was created at t={_fmt(s1)} "
                                                      f"while run {r0} (created at t={_fmt(s0)}) held the lock until "
                                                      f"t={_fmt(e0)}", function_id=fn.id, run_id=r1, key=key, time=s1)
        for rid, key, t in skipped:
            if not any(s - EPS <= t <= e + EPS for s, e, _ in held.get(key, [])):
                raise InvariantError("singleton", f"{fn.id}, key {key!r}: run {rid} was skipped at t={_fmt(t)} "
                                                  "although no run held the lock", function_id=fn.id, run_id=rid,
                                     key=key, time=t)


# -- the queue: priority order and work conservation -------------------------------------------------

def _ordered(fn: FunctionSpec) -> bool:
    """Whether only stop-kind constraints (account and function limits) gate ``fn``'s queue."""
    if not set(fn.mechanisms) <= ORDERED_MECHANISMS:
        return False
    conf = fn.mechanisms.get("concurrency")
    return conf is None or not getattr(conf, "keyed", ())


class _Item:
    __slots__ = ("row", "run_id", "step", "score", "ready", "started", "leave", "enq", "start_item", "seq")

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def _items(f: Facts, fn: FunctionSpec) -> list[_Item]:
    """The queue items of ``fn`` with their score, ready time and time of leaving the queue."""
    steps = f.result.steps
    rows = steps[(steps["function_id"] == fn.id) & steps["kind"].isin(WORK_KINDS)]
    names = [s.name for s in fn.steps]
    after_sleep = {names[i + 1] if i + 1 < len(names) else "(end)"
                   for i, s in enumerate(fn.steps) if isinstance(s, SleepStep)}
    future = f.scenario.platform.future_at_limit
    out = []
    for k, row in enumerate(rows.itertuples(index=False)):
        r = f.runs.get(row.run_id)
        if r is None:
            continue
        enq = float(row.enqueued_at)
        first = row.step == names[0]
        if row.attempt > 1 or (row.step in after_sleep and not first):
            score, ready, now = enq, enq, None
        elif first:
            now = float(r.created_at)
            score = now - r.priority_factor if enq <= now + future else enq
            ready = max(enq, score)
        else:
            now = enq
            score = float(r.created_at) - r.priority_factor
            ready = max(enq, score)
        started = float(row.started_at)
        if not math.isnan(started):
            leave = started
        elif not math.isnan(r.ended_at):
            leave = float(r.ended_at)           # cancelled while queued
        else:
            leave = math.inf                    # still queued at the horizon
        out.append(_Item(row=k, run_id=row.run_id, step=row.step, score=score, ready=ready, started=started,
                         leave=leave, enq=now, start_item=first and row.attempt == 1,
                         seq=int(row.run_id[1:]) if row.run_id[1:].isdigit() else k))
    return out


def _before(a: _Item, b: _Item) -> bool | None:
    """Whether ``a`` is ahead of ``b`` in the queue order; ``None`` when the tables cannot tell."""
    if a.score != b.score:
        return a.score < b.score
    if a.start_item and b.start_item:
        return a.seq < b.seq           # start items are enqueued at their run's creation, in run order
    if a.enq is not None and b.enq is not None and a.enq != b.enq:
        return a.enq < b.enq
    return None


def check_priority_order(result: Result) -> None:
    """In a queue gated only by the account and function limits, the item that starts is
    always the one with the lowest score among those waiting (§3.3, §7.2). Not with key queues."""
    if result.scenario.account.key_queues:
        return
    f = facts(result)
    for fn in result.scenario.functions:
        if not _ordered(fn):
            continue
        items = _items(f, fn)
        started = sorted((it for it in items if not math.isnan(it.started)), key=lambda it: it.started)
        by_ready = sorted(items, key=lambda it: it.ready)
        heap: list[tuple[float, int, _Item]] = []
        k = 0
        for it in started:
            s = it.started
            while k < len(by_ready) and by_ready[k].ready < s:
                j = by_ready[k]
                heapq.heappush(heap, (j.score, j.row, j))
                k += 1
            while heap and heap[0][2].leave <= s:
                heapq.heappop(heap)
            # The lowest-scored waiting items (stale entries deeper down are skipped).
            ties: list[tuple[float, int, _Item]] = []
            while heap and heap[0][0] <= it.score:
                entry = heapq.heappop(heap)
                ties.append(entry)
                j = entry[2]
                if j is it or j.leave <= s:
                    continue
                if _before(j, it) is True:
                    factor = f.runs[it.run_id].priority_factor
                    raise InvariantError(
                        "priority_order", f"{fn.id}: run {it.run_id} step {it.step} started at t={_fmt(s)} with score "
                                          f"{_fmt(it.score)} (priority factor {_fmt(factor)}) while run {j.run_id} "
                                          f"step {j.step} with a lower place in the queue (score {_fmt(j.score)}) had "
                                          f"been waiting since t={_fmt(j.ready)}", function_id=fn.id, run_id=it.run_id,
                        time=s)
            for entry in ties:
                if entry[2].leave > s:
                    heapq.heappush(heap, entry)


def check_work_conserving(result: Result) -> None:
    """In a queue gated only by the account and function limits, work never waits while
    both limits have a free slot (§3.3). Not with key queues."""
    if result.scenario.account.key_queues:
        return
    f = facts(result)
    steps = result.steps
    horizon = f.horizon
    work = steps[steps["kind"].isin(WORK_KINDS) & steps["started_at"].notna()]
    all_s = work["started_at"].to_numpy(dtype=float)
    all_e = work["ended_at"].fillna(horizon).to_numpy(dtype=float)
    for fn in result.scenario.functions:
        if not _ordered(fn):
            continue
        conf = fn.mechanisms.get("concurrency")
        limit = conf.function_limit if conf is not None and conf.function_limit is not None else math.inf
        items = [it for it in _items(f, fn) if it.ready < min(it.leave, horizon)]
        if not items:
            continue
        mine = (work["function_id"] == fn.id).to_numpy()
        # change points: waiting ±1, executing (function) ±1, executing (account) ±1
        t = np.concatenate([[it.ready for it in items], [min(it.leave, horizon) for it in items],
                            all_s[mine], all_e[mine], all_s, all_e])
        nw, nf, na = len(items), int(mine.sum()), len(all_s)
        dw = np.concatenate([np.ones(nw), -np.ones(nw), np.zeros(2 * nf + 2 * na)])
        df = np.concatenate([np.zeros(2 * nw), np.ones(nf), -np.ones(nf), np.zeros(2 * na)])
        da = np.concatenate([np.zeros(2 * nw + 2 * nf), np.ones(na), -np.ones(na)])
        order = np.argsort(t, kind="stable")
        t, dw, df, da = t[order], dw[order], df[order], da[order]
        cw, cf, ca = np.cumsum(dw), np.cumsum(df), np.cumsum(da)
        last = np.r_[t[1:] != t[:-1], True]          # the level after all changes at each time
        times, w, fx, ax = t[last], cw[last], cf[last], ca[last]
        span = np.diff(np.r_[times, horizon])
        account = burst_ceilings(result, times)
        if result.scenario.account.burst:     # the ceiling holds to the end of the minute only
            span = np.minimum(span, (times // BURST_METER + 1) * BURST_METER - times)
        bad = (span > EPS) & (w > 0) & (fx < limit) & (ax < account) & (times < horizon)
        if bad.any():
            i = int(np.argmax(bad))
            t0 = float(times[i])
            waiting = next(it for it in items if it.ready <= t0 < it.leave)
            raise InvariantError(
                "work_conserving", f"{fn.id}: from t={_fmt(t0)} to t={_fmt(t0 + span[i])} run {waiting.run_id} step "
                                   f"{waiting.step} waited (ready since t={_fmt(waiting.ready)}) while "
                                   f"{int(fx[i])} of {limit if limit != math.inf else 'unlimited'} function slots and "
                                   f"{int(ax[i])} of {int(account[i])} account slots were in use",
                function_id=fn.id, run_id=waiting.run_id, time=t0)


# -- Little's law -----------------------------------------------------------------------------------

def check_littles_law(result: Result, tolerance: float = 1e-9) -> None:
    """``L = λW`` on the sample path over ``[0, T]``, runs censored at ``T`` (see the module doc)."""
    T = float(result.horizon)
    runs = result.runs
    ev = result.events
    referenced = ev[(ev["run_id"] != "") & ev["outcome"].isin(["run", "batched", "singleton_skipped"])]
    for fn_id in [None] + [fn.id for fn in result.scenario.functions]:
        r = runs if fn_id is None else runs[runs["function_id"] == fn_id]
        where = "all functions" if fn_id is None else fn_id
        created = r["created_at"].to_numpy(dtype=float)
        ended = r["ended_at"].to_numpy(dtype=float)
        ids = r["run_id"].to_numpy()
        for i in range(len(r)):
            c, e = created[i], ended[i]
            if not (-EPS <= c <= T + EPS) or (not math.isnan(e) and not (c - EPS <= e <= T + EPS)):
                raise InvariantError("littles_law", f"{where}: run {ids[i]} is in the system from t={_fmt(c)} to "
                                                    f"t={_fmt(e)}, outside [0, {_fmt(T)}] or ending before it began",
                                     run_id=str(ids[i]), time=float(c))
        out = np.where(np.isnan(ended), T, ended)
        a = referenced if fn_id is None else referenced[referenced["function_id"] == fn_id]
        arrivals = a["run_id"].nunique()
        if len(r) == 0 and arrivals == 0:
            continue
        # L from the sweep of N(t): +1 at creation, −1 at the (censored) end, entries first.
        tt = np.concatenate([created, out])
        d = np.concatenate([np.ones(len(r)), -np.ones(len(r))])
        o = np.lexsort((-d, tt))
        tt, level = tt[o], np.cumsum(d[o])
        if len(level) and level.min() < 0:
            k = int(np.argmax(level < 0))
            raise InvariantError("littles_law", f"{where}: {int(-level[k])} more runs left the system than entered "
                                                f"it by t={_fmt(tt[k])}", time=float(tt[k]))
        L = float(np.sum(level[:-1] * np.diff(tt)) / T) if len(tt) else 0.0
        lam = arrivals / T
        W = float(np.mean(out - created)) if len(r) else 0.0
        if abs(L - lam * W) > tolerance * max(L, lam * W) + 1e-12:
            raise InvariantError("littles_law", f"{where}: L = {L:.9g} runs in the system on average over "
                                                f"[0, {_fmt(T)}], but λ·W = {arrivals}/{_fmt(T)} × {W:.9g} = "
                                                f"{lam * W:.9g} (the events table refers to {arrivals} runs, the "
                                                f"runs table has {len(r)})")


# -- all of them ----------------------------------------------------------------------------------------

INVARIANTS: dict[str, Callable[[Result], None]] = {
    "conservation": check_conservation,
    "concurrency": check_concurrency,
    "throttle": check_throttle,
    "rate_limit": check_rate_limit,
    "debounce": check_debounce,
    "batching": check_batching,
    "singleton": check_singleton,
    "priority_order": check_priority_order,
    "work_conserving": check_work_conserving,
    "littles_law": check_littles_law,
}
"""Every invariant by name, in the order :func:`check_all` runs them."""


def check_all(result: Result, only: Iterable[str] | None = None) -> list[str]:
    """Run every invariant (or those named in ``only``) on ``result``; raise the first
    :class:`InvariantError`; return the names checked."""
    names = list(INVARIANTS) if only is None else list(only)
    for name in names:
        INVARIANTS[name](result)
    return names
