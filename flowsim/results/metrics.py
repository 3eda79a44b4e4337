"""Metrics computed from the recorded tables (never inside the engine).

* latency distributions (start latency: event arrival → first step start; end-to-end:
  arrival → run end; queue wait per step attempt), p50/p90/p95/p99/max, numpy's default
  (linear) percentiles;
* losses: counts and rates of every outcome and status, per function and per key;
* slot use of every concurrency constraint: peak, time-weighted mean and the fraction
  of time at the limit;
* binding constraints: for every delayed item, how long each reason held it
  (``steps.waits``), summed per constraint;
* fairness across key values: Jain's index ``(Σx)²/(n·Σx²)`` of per-key throughput and
  of per-key mean start latency, the worst key's p99 start latency, and starvation (the
  longest time a key had queued work and no step running);
* time series of arrivals, starts, completions, queue depth and slot use.

A warm-up (``warmup`` seconds) excludes the start of the run from every metric: events
and runs whose event arrived before it, steps enqueued before it, and the time before it
in time-weighted figures.
"""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flowsim.results.recorder import OUTCOMES, STATUSES

if TYPE_CHECKING:
    from flowsim.results.result import Result
    from flowsim.scenario.model import Scenario

PERCENTILES = (50, 90, 95, 99)
WORK_KINDS = ("run", "request")


def distribution(values: Any) -> dict[str, float | int | None]:
    """count, mean, p50/p90/p95/p99 and max of ``values`` (NaNs dropped)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    out: dict[str, float | int | None] = {"count": int(arr.size)}
    if arr.size == 0:
        out.update({"mean": None, **{f"p{p}": None for p in PERCENTILES}, "max": None})
        return out
    out["mean"] = float(arr.mean())
    for p, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES)):
        out[f"p{p}"] = float(v)
    out["max"] = float(arr.max())
    return out


def jain(values: Any) -> float | None:
    """Jain's fairness index of non-negative ``values``: 1 when all equal, 1/n when one has all."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0 or not np.any(x):
        return None
    return float(x.sum() ** 2 / (x.size * np.square(x).sum()))


def levels(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The step function of open intervals: change times and the level after each."""
    t = np.concatenate([starts, ends])
    d = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((d, t))              # at equal times, ends (-1) before starts
    return t[order], np.cumsum(d[order])


def occupancy(starts: np.ndarray, ends: np.ndarray, horizon: float, t0: float = 0.0,
              limit: float | None = None) -> tuple[int, float] | tuple[int, float, float]:
    """Peak and time-weighted mean of the number of open intervals over ``[t0, horizon]``;
    with ``limit``, also the fraction of that time the level was at or above it."""
    if len(starts) == 0:
        return (0, 0.0) if limit is None else (0, 0.0, 0.0)
    t, level = levels(np.maximum(starts, t0), np.maximum(ends, t0))
    span = horizon - t0
    dt = np.diff(t)
    peak = int(level.max())
    mean = float(np.sum(level[:-1] * dt) / span) if span > 0 else 0.0
    if limit is None:
        return peak, mean
    saturated = float(np.sum(dt[level[:-1] >= limit]) / span) if span > 0 else 0.0
    return peak, mean, saturated


class Tables:
    """The tables of a result restricted to the measured window (after warm-up)."""

    def __init__(self, result: "Result", warmup: float = 0.0) -> None:
        self.result = result
        self.warmup = warmup
        self.horizon = result.horizon
        self.span = max(result.horizon - warmup, 0.0)
        ev, runs, steps = result.events, result.runs, result.steps
        self.events = ev[ev["at"] >= warmup] if warmup else ev
        self.runs = runs[runs["event_at"] >= warmup] if warmup else runs
        self.steps = steps[steps["enqueued_at"] >= warmup] if warmup else steps
        self.work = self.steps[self.steps["kind"].isin(WORK_KINDS) & self.steps["started_at"].notna()]
        self._keys: dict[str, dict[str, Any]] | None = None

    def run_keys(self) -> dict[str, dict[str, Any]]:
        """run id → evaluated keys (parsed once)."""
        if self._keys is None:
            parsed: dict[str, dict[str, Any]] = {}      # each distinct JSON parsed once (read-only dicts)
            self._keys = {}
            for r, k in zip(self.result.runs["run_id"].tolist(), self.result.runs["keys"].tolist()):
                value = parsed.get(k)
                if value is None:
                    value = parsed[k] = json.loads(k)
                self._keys[r] = value
        return self._keys


def start_latency(runs: pd.DataFrame) -> pd.Series:
    """Event arrival → first step start, per started run."""
    return runs["started_at"] - runs["event_at"]


def _counts(series: pd.Series, names: tuple[str, ...] = ()) -> dict[str, int]:
    out = {n: 0 for n in names}
    out.update({str(k): int(v) for k, v in series.value_counts().sort_index().items()})
    return out


def summarize(result: "Result", warmup: float = 0.0) -> dict[str, Any]:
    """The headline metrics of one simulation, as plain JSON-ready data, with what explains
    them (binding constraints, busiest and worst keys, the queue's trend, batch sizes,
    drops per key) and the warnings of :mod:`flowsim.results.diagnostics`."""
    t = Tables(result, warmup)
    events, runs, steps, work = t.events, t.runs, t.steps, t.work
    completed = runs[runs["status"] == "completed"]
    outcomes = _counts(events["outcome"], OUTCOMES)
    n_rows = max(len(events), 1)
    rows, per_value, fn_rows, fn_per_value = _binding_rows(t)
    by_fn: dict[str, Any] = {}
    for fn in result.scenario.functions:
        ev = events[events["function_id"] == fn.id]
        rn = runs[runs["function_id"] == fn.id]
        wk = work[work["function_id"] == fn.id]
        done = rn[rn["status"] == "completed"]
        by_fn[fn.id] = {
            "outcomes": _counts(ev["outcome"]),
            "runs": _counts(rn["status"]),
            "start_latency": distribution(start_latency(rn)),
            "end_to_end_latency": distribution(done["ended_at"] - done["event_at"]),
            "queue_wait": distribution(wk["started_at"] - wk["enqueued_at"]),
            "throughput": float(len(done) / t.span) if t.span else 0.0,
            "losses_by_key": _losses_by_key(ev),
            "binding": binding_dict(fn_rows.get(fn.id, {}), fn_per_value.get(fn.id, {})),
        }
    keys = key_story(t)
    cancelled = runs.loc[runs["status"] == "cancelled", "cancel_reason"]
    summary = {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "horizon": result.horizon,
        "warmup": warmup,
        "events": {"received": result.events_in, "unmatched": result.events_unmatched},
        "outcomes": outcomes,
        "outcome_rates": {k: v / n_rows for k, v in outcomes.items()},
        "runs": _counts(runs["status"], STATUSES),
        "start_latency": distribution(start_latency(runs)),
        "end_to_end_latency": distribution(completed["ended_at"] - completed["event_at"]),
        "queue_wait": distribution(work["started_at"] - work["enqueued_at"]),
        "throttle_delay": distribution(_delay_of(steps, "throttle:")),
        "throughput": float(len(completed) / t.span) if t.span else 0.0,
        "blocked_by": _counts(steps.loc[steps["blocked_by"] != "", "blocked_by"]),
        "binding": binding_dict(rows, per_value),
        "concurrency": slot_use(t, {name: k["busiest"]["key"] for name, k in keys.items()}),
        "keys": keys,
        "queue": queue_trend(t),
        "cancel_reasons": _counts(cancelled),
        "batching": batching(t),
        "fairness": fairness(result, warmup=warmup, tables=t),
        "functions": by_fn,
    }
    return complete(summary, result.scenario)


def complete(summary: dict[str, Any], scenario: "Scenario") -> dict[str, Any]:
    """Add to a summary (of either mode) what is derived from its own figures and the
    scenario: ``debounce``, ``drops`` and ``warnings``. Returns ``summary``."""
    from flowsim.results.diagnostics import diagnose
    summary["debounce"] = debounce(summary)
    summary["drops"] = drops(summary)
    summary["warnings"] = diagnose(summary, scenario)
    return summary


# Outcomes that are no loss, whatever key they carry (not counted in ``losses_by_key``).
NOT_LOSSES = ("run", "batched", "pending", "filtered")


def _losses_by_key(ev: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of keyed drops (rate_limited, duplicate, ...) per outcome and key value."""
    keyed = ev[(ev["key"] != "") & ~ev["outcome"].isin(NOT_LOSSES)]
    out: dict[str, dict[str, int]] = {}
    for (outcome, key), n in keyed.groupby(["outcome", "key"]).size().sort_index().items():
        out.setdefault(str(outcome), {})[str(key)] = int(n)
    return out


def _delay_of(steps: pd.DataFrame, prefix: str) -> np.ndarray:
    """Per step attempt, the seconds it waited for reasons starting with ``prefix``."""
    waits = steps.loc[steps["waits"] != "", "waits"]
    out = []
    for w in waits:
        total = sum(v for k, v in json.loads(w).items() if k.startswith(prefix))
        if total:
            out.append(total)
    return np.asarray(out, dtype=float)


def constraint_of(reason: str) -> tuple[str, str]:
    """Split a wait reason into the constraint and the key value
    (``concurrency:event.data.user=a`` → (``concurrency:event.data.user``, ``a``))."""
    if reason.startswith("concurrency:"):
        name, _, value = reason.partition("=")
        return name, value
    if reason.startswith("throttle:"):
        return "throttle", reason[len("throttle:"):]
    return reason, ""


def binding_name(reason: str, function_id: str) -> tuple[str, str]:
    """The binding-table row of a wait ``reason`` of a step of ``function_id``, and its key
    value: :func:`constraint_of`, with a function limit named after its function."""
    name, value = constraint_of(reason)
    return (f"function:{function_id}" if name == "function" else name), value


def binding_table(rows: dict[str, list[Any]], per_value: dict[tuple[str, str], float]) -> pd.DataFrame:
    """The binding table from ``rows`` (constraint → [items delayed, total delay]) and
    ``per_value`` ((constraint, key value) → delay): most delay first, with each
    constraint's share and the key value that suffered most from it."""
    total = sum(r[1] for r in rows.values())
    out = []
    for name in sorted(rows, key=lambda n: (-rows[n][1], n)):
        items, delay = rows[name]
        worst = max(((v, s) for (n, v), s in per_value.items() if n == name), key=lambda x: (x[1], x[0]),
                    default=("", 0.0))
        out.append({"constraint": name, "items": items, "total_delay": delay, "mean_delay": delay / items,
                    "share": delay / total if total else 0.0, "worst_key": worst[0], "worst_key_delay": worst[1]})
    return pd.DataFrame(out, columns=["constraint", "items", "total_delay", "mean_delay", "share", "worst_key",
                                      "worst_key_delay"])


def binding(result: "Result", warmup: float = 0.0, tables: Tables | None = None) -> pd.DataFrame:
    """Which constraints delayed items, and by how much in total.

    One row per constraint (``account``, ``function``, ``concurrency:<expr>``,
    ``throttle``, ``peek_window``, ...) with the number of items it delayed, the total
    and mean delay it caused, its share of all delay, and the key value that suffered
    most from it. ``tables``: the already restricted tables, if the caller has them.
    """
    rows, per_value, _, _ = _binding_rows(tables or Tables(result, warmup))
    return binding_table(rows, per_value)


def binding_dict(rows: dict[str, list[Any]], per_value: dict[tuple[str, str], float]) -> dict[str, dict[str, Any]]:
    """:func:`binding_table` as the summary holds it: constraint → its row."""
    return binding_table(rows, per_value).set_index("constraint").to_dict(orient="index")


def _binding_rows(t: Tables) -> tuple[dict[str, list[Any]], dict[tuple[str, str], float],
                                      dict[str, dict[str, list[Any]]], dict[str, dict[tuple[str, str], float]]]:
    """The inputs of :func:`binding_table` (constraint → [items, delay]; (constraint, key
    value) → delay) over all steps, and the same per function, in one pass over the waits."""
    steps = t.steps[t.steps["waits"] != ""]
    rows: dict[str, list[Any]] = {}
    per_value: dict[tuple[str, str], float] = {}
    fn_rows: dict[str, dict[str, list[Any]]] = {}
    fn_per_value: dict[str, dict[tuple[str, str], float]] = {}
    for fn_id, w in zip(steps["function_id"].tolist(), steps["waits"].tolist()):
        mine = fn_rows.setdefault(fn_id, {})
        mine_values = fn_per_value.setdefault(fn_id, {})
        for reason, seconds in json.loads(w).items():
            name, value = binding_name(reason, fn_id)
            for table, values in ((rows, per_value), (mine, mine_values)):
                row = table.setdefault(name, [0, 0.0])
                row[0] += 1
                row[1] += seconds
                if value:
                    values[(name, value)] = values.get((name, value), 0.0) + seconds
    return rows, per_value, fn_rows, fn_per_value


def keyed_limits(result: "Result") -> dict[str, list[tuple[str, str, int]]]:
    """Keyed concurrency limits by summary name, each with its (function, key label, limit).

    A function-scoped limit is named ``concurrency:<function>:<expr>``; env and account
    scoped ones ``concurrency:<scope>:<expr>`` and are shared by every function with the
    same expression text (§3.2).
    """
    out: dict[str, list[tuple[str, str, int]]] = {}
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        for k in (conf.keyed if conf else ()):
            name = f"concurrency:{fn.id}:{k.key.text}" if k.scope == "fn" else f"concurrency:{k.scope}:{k.key.text}"
            out.setdefault(name, []).append((fn.id, k.label, k.limit))
    return out


def slot_use(t: Tables, busiest: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Peak, time-weighted mean and saturated fraction of every concurrency constraint.

    For the account and function limits ``saturated`` is the fraction of time at the
    limit. A keyed limit is one limit per key value: its ``peak`` is the highest level of
    any one key, ``saturated`` the fraction of time some key value was at its limit while
    work of that value waited (the time the limit was binding), ``all_keys_mean`` the
    slots held under it by all keys together, and ``busiest_key_mean`` and
    ``busiest_key_peak`` the slot use of the key ``busiest`` names (constraint → key, the
    key with the most runs, from :func:`key_story`).
    """
    result = t.result
    busiest = busiest or {}
    steps = t.result.steps
    steps = steps[steps["kind"].isin(WORK_KINDS)]
    ran = steps["started_at"].notna().to_numpy()
    enq = steps["enqueued_at"].to_numpy()
    starts = steps["started_at"].fillna(t.horizon).to_numpy()
    ends = steps["ended_at"].fillna(t.horizon).to_numpy()
    fn_of = steps["function_id"].to_numpy()
    t0 = t.warmup
    out: dict[str, dict[str, Any]] = {}
    limit = result.scenario.account.concurrency
    peak, mean, sat = occupancy(starts[ran], ends[ran], t.horizon, t0, limit)
    out["account"] = {"limit": limit, "peak": peak, "mean": mean, "saturated": sat}
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        if conf is not None and conf.function_limit is not None:
            m = ran & (fn_of == fn.id)
            peak, mean, sat = occupancy(starts[m], ends[m], t.horizon, t0, conf.function_limit)
            out[f"function:{fn.id}"] = {"limit": conf.function_limit, "peak": peak, "mean": mean, "saturated": sat}
    keys = t.run_keys()
    run_of = steps["run_id"].to_numpy()
    big = 1e6       # running counts ±1 and waiting ±big: binding while running ≥ limit and waiting > 0
    for name, members in keyed_limits(result).items():
        label_of = {f: label for f, label, _ in members}
        value_of = [keys[r].get(label_of[f]) if f in label_of else None for f, r in zip(fn_of, run_of)]
        mine = np.flatnonzero([v is not None for v in value_of])
        limit = max(lim for _, _, lim in members)
        _, mean = occupancy(starts[mine][ran[mine]], ends[mine][ran[mine]], t.horizon, t0)
        codes, uniques = pd.factorize(np.array([value_of[i] for i in mine], dtype=object), sort=True)
        order = mine[np.argsort(codes, kind="stable")]
        bounds = np.flatnonzero(np.r_[True, np.diff(np.sort(codes, kind="stable")) != 0, True])
        peak = 0
        chosen = busiest.get(name)
        chosen_peak, chosen_mean = None, None
        bind_starts, bind_ends = [], []
        for g in range(len(uniques)):         # one pass per key value, over its own rows only
            sel = order[bounds[g]:bounds[g + 1]]
            r = sel[ran[sel]]
            level = occupancy(starts[r], ends[r], t.horizon, t0)
            peak = max(peak, level[0])
            if str(uniques[g]) == chosen:
                chosen_peak, chosen_mean = level
            tt = np.concatenate([starts[r], ends[r], enq[sel], starts[sel]])
            d = np.concatenate([np.ones(len(r)), -np.ones(len(r)), np.full(len(sel), big), np.full(len(sel), -big)])
            o = np.lexsort((d, tt))
            tt, lvl = tt[o], np.cumsum(d[o])
            hit = (np.mod(lvl[:-1], big) >= limit) & (lvl[:-1] >= big) & (np.diff(tt) > 0)
            if hit.any():
                bind_starts.append(np.maximum(tt[:-1][hit], t0))
                bind_ends.append(np.maximum(tt[1:][hit], t0))
        binding_time = 0.0
        if bind_starts:
            times, level = levels(np.concatenate(bind_starts), np.concatenate(bind_ends))
            binding_time = float(np.sum(np.diff(times)[level[:-1] > 0]))
        limits = sorted({lim for _, _, lim in members})
        out[name] = {"limit": limits[0] if len(limits) == 1 else "/".join(map(str, limits)), "peak": peak, "all_keys_mean": mean, "saturated": binding_time / t.span if t.span else 0.0,
                     "busiest_key": chosen, "busiest_key_mean": chosen_mean, "busiest_key_peak": chosen_peak}
    return out


def concurrency_groups(scenario: "Scenario") -> dict[tuple[str, str], str]:
    """(function, key label) → the summary name of the keyed concurrency limit it binds."""
    return {(fn, label): name for name, members in keyed_limits(SimpleNamespace(scenario=scenario)).items()
            for fn, label, _ in members}


def key_group(function_id: str, label: str, groups: dict[tuple[str, str], str]) -> str:
    """The name under which ``summary["keys"]`` describes the key ``label`` of a function's
    runs: its keyed concurrency limit's name (shared by the functions of an env or account
    scoped limit), else ``<label>:<function>`` (``throttle:send``, ``singleton:backup``)."""
    return groups.get((function_id, label)) or f"{label}:{function_id}"


def key_story(t: Tables) -> dict[str, dict[str, Any]]:
    """For every key runs carry (keyed concurrency limits, throttle, singleton, rate limit,
    dispatch keys...), by :func:`key_group` name in sorted order: how many key values, and
    the busiest key (the most runs; ties: the smallest key) and the worst key (the highest
    p99 start latency; ties: the smallest key), each with its runs, completions and start
    latency mean and p99. Runs without that key are not counted."""
    groups = concurrency_groups(t.result.scenario)
    keys = t.run_keys()
    runs = t.runs
    latency = start_latency(runs).to_numpy(dtype=float)
    done = (runs["status"] == "completed").to_numpy()
    ids = runs["run_id"].to_numpy()
    fn_of = runs["function_id"].to_numpy()
    rows: dict[str, tuple[str, list[np.ndarray], list[Any], list[str]]] = {}
    for fn in t.result.scenario.functions:
        index = np.flatnonzero(fn_of == fn.id)
        run_keys = [keys[r] for r in ids[index]]
        for label in sorted(set().union(*run_keys)):
            values = [k.get(label) for k in run_keys]
            has = np.array([v is not None for v in values], dtype=bool)
            name = key_group(fn.id, label, groups)
            entry = rows.setdefault(name, (label, [], [], []))
            entry[1].append(index[has])
            entry[2].extend(v for v in values if v is not None)
            entry[3].append(fn.id)
    order = {fn.id: i for i, fn in enumerate(t.result.scenario.functions)}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(rows):
        label, parts, values, fns = rows[name]
        idx = np.concatenate(parts)
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=True)
        lat = latency[idx]
        n_runs = np.bincount(codes, minlength=len(uniques))
        n_done = np.bincount(codes, weights=done[idx], minlength=len(uniques)).astype(int)
        busiest = int(np.argmax(n_runs))
        worst = _worst_by_p99(codes, lat, len(uniques))

        def describe(g: int | None) -> dict[str, Any] | None:
            if g is None:
                return None
            d = distribution(lat[codes == g])
            return {"key": str(uniques[g]), "runs": int(n_runs[g]), "completed": int(n_done[g]),
                    "start_latency_mean": d["mean"], "start_latency_p99": d["p99"]}
        out[name] = {"label": label, "functions": sorted(fns, key=order.__getitem__), "keys": int(len(uniques)),
                     "busiest": describe(busiest), "worst": describe(worst)}
    return out


def _worst_by_p99(codes: np.ndarray, values: np.ndarray, groups: int) -> int | None:
    """The group whose values (NaN: none) have the highest p99 (numpy's linear
    interpolation, all groups at once; ties: the lowest group), or ``None`` if none has any."""
    keep = ~np.isnan(values)
    c, v = codes[keep], values[keep]
    if not len(c):
        return None
    o = np.lexsort((v, c))
    c, v = c[o], v[o]
    first = np.searchsorted(c, np.arange(groups))
    n = np.bincount(c, minlength=groups)
    has = n > 0
    h = (n[has] - 1) * 0.99
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, n[has] - 1)
    base = first[has]
    p99 = v[base + lo] + (v[base + hi] - v[base + lo]) * (h - lo)
    best = np.flatnonzero(has)[np.argmax(p99)]
    return int(best)


def key_labels(t: Tables) -> list[str]:
    """The key labels runs carry (``concurrency[0]``, ``throttle``, ...), in first-seen order."""
    seen: dict[str, None] = {}
    for keys in t.run_keys().values():
        for label in keys:
            seen.setdefault(label, None)
    return list(seen)


def per_key(result: "Result", label: str | None = None, warmup: float = 0.0,
            tables: Tables | None = None) -> pd.DataFrame:
    """One row per key value of ``label`` (default: the first key runs carry): runs,
    completions, throughput, start-latency distribution and starvation."""
    t = tables or Tables(result, warmup)
    labels = key_labels(t)
    if label is None:
        if not labels:
            return pd.DataFrame()
        label = labels[0]
    keys = t.run_keys()
    runs = t.runs
    codes, values = pd.factorize(pd.Series([keys[r].get(label, "") for r in runs["run_id"].tolist()], dtype=object),
                                 sort=True)
    # Each key's rows in their table order (a stable sort), as a groupby would hand them over.
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]       # no key value (None) is no group, as in a groupby
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    latency = start_latency(runs).to_numpy(dtype=float)[order]
    done = np.bincount(codes[order], weights=(runs["status"] == "completed").to_numpy()[order],
                       minlength=len(values))
    starving = starvation(t, label)
    rows = []
    for i, value in enumerate(values):
        d = distribution(latency[bounds[i]:bounds[i + 1]])
        rows.append({"key": value, "runs": int(bounds[i + 1] - bounds[i]), "completed": int(done[i]),
                     "throughput": int(done[i]) / t.span if t.span else 0.0,
                     **{f"start_latency_{k}": v for k, v in d.items() if k != "count"},
                     "starvation": starving.get(value, 0.0)})
    return pd.DataFrame(rows)


def starvation(t: Tables, label: str) -> dict[str, float]:
    """Per key value, the longest time it had queued work and no step running."""
    keys = t.run_keys()
    steps = t.steps[t.steps["kind"].isin(WORK_KINDS)]
    horizon = t.horizon
    key_of = np.array([keys[r].get(label, "") for r in steps["run_id"].tolist()], dtype=object)
    enq = steps["enqueued_at"].to_numpy()
    start = steps["started_at"].fillna(horizon).to_numpy()
    end = steps["ended_at"].fillna(horizon).to_numpy()
    out: dict[str, float] = {}
    order = np.argsort(key_of.astype(str), kind="stable")
    key_sorted = key_of[order]
    bounds = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1], True])
    for i in range(len(bounds) - 1):
        idx = order[bounds[i]:bounds[i + 1]]
        # +1 waiting while queued, +1000000 running: starving where waiting > 0 and running == 0
        t_ = np.concatenate([enq[idx], start[idx], start[idx], end[idx]])
        d = np.concatenate([np.ones(len(idx)), -np.ones(len(idx)), np.full(len(idx), 1e6), np.full(len(idx), -1e6)])
        o = np.lexsort((d, t_))
        t_, lvl = t_[o], np.cumsum(d[o])
        # Over the intervals of positive length, the longest stretch of consecutive starving
        # ones (zero-length intervals neither start nor end a stretch).
        j = np.flatnonzero(t_[1:] > t_[:-1])
        starving = (lvl[j] > 0) & (lvl[j] < 1e6)
        edges = np.diff(np.r_[False, starving, False].astype(np.int8))
        first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
        longest = float((t_[j[last] + 1] - t_[j[first]]).max()) if len(first) else 0.0
        out[str(key_sorted[bounds[i]])] = longest
    return out


def fairness(result: "Result", label: str | None = None, warmup: float = 0.0,
             tables: Tables | None = None) -> dict[str, Any]:
    """Jain's indices across key values, the worst key's p99 and the longest starvation."""
    t = tables or Tables(result, warmup)
    table = per_key(result, label, warmup, t)
    if table.empty:
        return {}
    worst = table.sort_values(["start_latency_p99", "key"], ascending=[False, True], na_position="last").iloc[0]
    starved = table.sort_values(["starvation", "key"], ascending=[False, True]).iloc[0]
    return {
        "key": label or key_labels(t)[0],
        "keys": int(len(table)),
        "jain_throughput": jain(table["throughput"]),
        "jain_start_latency": jain(table["start_latency_mean"]),
        "worst_p99_start_latency": None if pd.isna(worst["start_latency_p99"]) else float(worst["start_latency_p99"]),
        "worst_key": str(worst["key"]),
        "starvation_max": float(starved["starvation"]),
        "starved_key": str(starved["key"]),
    }


QUARTERS = 4


def quarters(warmup: float, horizon: float) -> np.ndarray:
    """The edges of the measured window's quarters, over which the queue's trend is read."""
    return warmup + (horizon - warmup) * np.arange(QUARTERS + 1) / QUARTERS


def queued_intervals(result: "Result") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every work item's (function, time it became due, time it left the queue): its start;
    for one cancelled before it started, its run's end; for one still queued, the horizon."""
    steps = result.steps
    steps = steps[steps["kind"].isin(WORK_KINDS)]
    left = steps["started_at"].to_numpy(dtype=float).copy()
    gone = np.isnan(left) & (steps["status"] == "cancelled").to_numpy()
    if gone.any():
        ended = result.runs.set_index("run_id")["ended_at"]
        left[gone] = ended.reindex(steps["run_id"].to_numpy()[gone]).to_numpy(dtype=float)
    enq = steps["enqueued_at"].to_numpy(dtype=float)
    left = np.where(np.isnan(left), result.horizon, left)
    return steps["function_id"].to_numpy(), enq, np.maximum(left, enq)


def queued_time(enq: np.ndarray, left: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Item-seconds spent queued within each interval between ``edges``."""
    return np.array([np.clip(np.minimum(left, hi) - np.maximum(enq, lo), 0.0, None).sum()
                     for lo, hi in zip(edges[:-1], edges[1:])])


def queue_trend(t: Tables) -> dict[str, dict[str, Any]]:
    """Per function, whether its queue drains: the mean number of work items waiting in each
    quarter of the measured window (``depth``), and the runs created and started in its
    second half (``created``/``started`` over ``half`` seconds: offered and served load).
    :mod:`flowsim.results.diagnostics` reads a growing queue from it."""
    edges = quarters(t.warmup, t.horizon)
    width = (t.horizon - t.warmup) / QUARTERS
    fn_of, enq, left = queued_intervals(t.result)
    mid = edges[QUARTERS // 2]
    runs = t.runs
    created = runs.loc[runs["created_at"] >= mid, "function_id"].value_counts()
    started = runs.loc[runs["started_at"] >= mid, "function_id"].value_counts()
    out: dict[str, dict[str, Any]] = {}
    for fn in t.result.scenario.functions:
        m = fn_of == fn.id
        depth = queued_time(enq[m], left[m], edges) / width if width > 0 else np.zeros(QUARTERS)
        out[fn.id] = {"depth": [float(d) for d in depth], "half": float(t.horizon - mid),
                      "created": int(created.get(fn.id, 0)), "started": int(started.get(fn.id, 0))}
    return out


def batching(t: Tables) -> dict[str, dict[str, Any]]:
    """Per function with ``batchEvents``: how many batches ran, their sizes (``sizes``: size
    → batches, and its distribution) and how many closed full (``maxSize`` events) rather
    than on the timeout. A batch is a run whose events have the outcome ``batched``."""
    out: dict[str, dict[str, Any]] = {}
    events = t.result.events
    batched = events.loc[events["outcome"] == "batched", "run_id"].value_counts()
    for fn in t.result.scenario.functions:
        conf = fn.mechanisms.get("batchEvents")
        if conf is None:
            continue
        runs = t.runs.loc[t.runs["function_id"] == fn.id, "run_id"]
        sizes = batched.reindex(runs.to_numpy()).dropna().astype(int)
        out[fn.id] = batch_summary(conf.max_size, conf.timeout, sizes.value_counts().to_dict())
    return out


def batch_summary(max_size: int, timeout: float, sizes: dict[int, int]) -> dict[str, Any]:
    """The ``batching`` entry of a function from its batch sizes (size → number of batches)."""
    ordered = {int(k): int(sizes[k]) for k in sorted(sizes)}
    values = np.repeat(np.fromiter(ordered, dtype=float, count=len(ordered)),
                       np.fromiter(ordered.values(), dtype=np.int64, count=len(ordered)))
    full = sum(n for size, n in ordered.items() if size >= max_size)
    return {"max_size": max_size, "timeout": timeout, "batches": int(values.size), "events": int(values.sum()),
            "full": full, "on_timeout": int(values.size) - full, "size": distribution(values),
            "sizes": {str(k): v for k, v in ordered.items()}}


# Outcomes of an event that never left a debounce as its run's event (held, or dropped before it).
_NOT_FIRED = ("debounced", "pending", "filtered", "rate_limited", "batched")


def debounce(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per function whose events were debounced: the events that reached the debounce
    (``events``), the generations that fired with one of them as the run's event (``runs``:
    every measured outcome but debounced, still pending, and those of earlier stages) and
    ``events_per_run``, their ratio. Derived from the outcome counts, so exact in both modes."""
    out: dict[str, dict[str, Any]] = {}
    for fn_id, fn in summary["functions"].items():
        outcomes = fn["outcomes"]
        absorbed = outcomes.get("debounced", 0)
        if not absorbed:
            continue
        fired = sum(n for o, n in outcomes.items() if o not in _NOT_FIRED)
        out[fn_id] = {"events": absorbed + fired, "runs": fired,
                      "events_per_run": (absorbed + fired) / fired if fired else None}
    return out


TOP_KEYS = 5


def drops(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every kind of drop (rate_limited, duplicate, debounced, singleton_skipped, error...) per
    function, most events first: how many events, over how many key values, and the
    :data:`TOP_KEYS` keys that lost most (ties: the smallest key). From ``losses_by_key``
    and the outcome counts, so exact in both modes."""
    out = []
    for fn_id, fn in summary["functions"].items():
        for outcome, n in fn["outcomes"].items():
            if not n or not outcome or outcome in NOT_LOSSES:
                continue
            per_key = fn["losses_by_key"].get(outcome, {})
            top = sorted(per_key.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYS]
            out.append({"function": fn_id, "outcome": outcome, "events": n, "keys": len(per_key),
                        "top": [{"key": k, "events": v} for k, v in top]})
    out.sort(key=lambda d: (-d["events"], d["function"], d["outcome"]))
    return out


def timeseries(result: "Result", bin: float = 60.0) -> pd.DataFrame:
    """Per time bin (``time``: its start; the last bin ends at the horizon) and function:
    event rows that arrived, runs that started and completed, the mean number of work items
    waiting in its queue (``queue_depth``; an item cancelled before it started leaves when
    its run ends), the mean slots its executing steps held (``slots_in_use``) and, for every
    concurrency constraint of the summary (``slots:account``, ``slots:function:<id>``,
    ``slots:concurrency:...`` summed over key values), the mean slots the function held
    under it (0 for a constraint the function is not under). Time-weighted means."""
    if not bin > 0:
        raise ValueError(f"the bin must be a positive number of seconds, got {bin!r}")
    steps, runs, events = result.steps, result.runs, result.events
    edges = np.arange(0.0, result.horizon, bin)
    edges = np.append(edges[edges < result.horizon], result.horizon)
    work = steps[steps["kind"].isin(WORK_KINDS)]
    fn_of_item, due, left = queued_intervals(result)
    ran = work["started_at"].notna().to_numpy()
    busy_fn = work["function_id"].to_numpy()[ran]
    busy_start = work["started_at"].to_numpy()[ran]
    busy_end = work["ended_at"].fillna(result.horizon).to_numpy()[ran]
    keys = {r: json.loads(k) for r, k in zip(runs["run_id"].tolist(), runs["keys"].tolist())}
    busy_keys = [keys.get(r, {}) for r in work["run_id"].to_numpy()[ran]]
    constraints: list[tuple[str, dict[str, str | None]]] = [("account", {fn.id: None for fn in result.scenario.functions})]
    for fn in result.scenario.functions:
        conf = fn.mechanisms.get("concurrency")
        if conf is not None and conf.function_limit is not None:
            constraints.append((f"function:{fn.id}", {fn.id: None}))
    for name, members in keyed_limits(result).items():
        constraints.append((name, {f: label for f, label, _ in members}))
    frames = []
    for fn in result.scenario.functions:
        ev = events[events["function_id"] == fn.id]
        rn = runs[runs["function_id"] == fn.id]
        mine = busy_fn == fn.id
        queued = fn_of_item == fn.id
        frame = {"time": edges[:-1], "function_id": fn.id,
                 "arrivals": np.histogram(ev["at"], edges)[0],
                 "starts": np.histogram(rn["started_at"].dropna(), edges)[0],
                 "completions": np.histogram(rn.loc[rn["status"] == "completed", "ended_at"], edges)[0],
                 "queue_depth": _binned_mean(due[queued], left[queued], edges),
                 "slots_in_use": _binned_mean(busy_start[mine], busy_end[mine], edges)}
        for name, members in constraints:
            if fn.id not in members:
                frame[f"slots:{name}"] = np.zeros(len(edges) - 1)
                continue
            label = members[fn.id]
            under = mine if label is None else mine & np.array([k.get(label) is not None for k in busy_keys],
                                                                dtype=bool)
            frame[f"slots:{name}"] = _binned_mean(busy_start[under], busy_end[under], edges)
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _binned_mean(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time-weighted mean number of open intervals within each bin."""
    out = np.zeros(len(edges) - 1)
    if len(starts) == 0:
        return out
    t, level = levels(starts, ends)
    # integral of the step function up to each edge
    cum = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t))])
    def integral(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(t, x, side="right") - 1
        base = np.where(i >= 0, cum[np.clip(i, 0, None)], 0.0)
        lvl = np.where(i >= 0, level[np.clip(i, 0, None)], 0.0)
        return base + lvl * (x - np.where(i >= 0, t[np.clip(i, 0, None)], x))
    area = integral(edges)
    return np.diff(area) / np.diff(edges)
