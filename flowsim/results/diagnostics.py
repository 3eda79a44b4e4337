"""Warnings that explain a bad run: small named checks over a summary and its scenario.

Each check (:class:`Check`) has a stable ``code`` and what its warning means; each case it
finds carries this run's message, figures and what to try. A check reads the summary's own figures (so it works the same on a summary-only result) and,
for the expressions, the scenario and a sample of its traffic. :func:`diagnose` runs
every check and returns the warnings ``summary.json`` holds under ``warnings``: objects
with ``code``, ``message`` (the sentence with this run's numbers), ``means``, ``try``
and the ``figures`` behind the message.

The checks, in the order they are reported (a root cause before its effects), and what
makes them fire:

* ``missing_field`` — a key, ``if`` or priority expression (any CEL expression of a
  function that reads ``event``) reads a field that more than 90% of a traffic source's
  events lack, among the first :data:`SAMPLE` events of that source that the expression
  sees (those matching the function's triggers, and for anything but the trigger's own
  ``if``, passing it). Its value is then unknown: a key becomes ``"false"`` (one shared
  key), an ``if`` false, a priority 0 — a different answer, silently.
* ``head_of_line_blocking`` — more than half of all waiting was spent outside a queue's
  peek window (§3.3), and inside the window most of that function's waiting was on a key
  (a keyed concurrency limit or throttle skips the item and the walk goes on): the
  window is full of one key's blocked items while other keys' items behind it are never
  looked at. The key that fills it is the key value whose items spent the most time
  blocked inside the window.
* ``queue_growing`` — a function's queue is still growing at the horizon. The test: the
  mean number of items waiting rises from the second to the third to the last quarter of
  the measured window, by at least half and by at least :data:`GROWTH_ITEMS` items. A
  stable queue's quarter means fluctuate around one level and a burst that drains shows a
  fall, while a queue fed faster than it is served grows in every quarter.
* ``timeouts`` — more than 10% of the runs (all but skipped ones) were cancelled by a
  start or finish timeout.
* ``no_run_completed`` — events came in and no run completed in the measured window.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterator

from flowsim.expr import Expr, ExprEvalError, field_paths, is_true
from flowsim.results.recorder import OUTCOMES
from flowsim.results.text import constraint_words, num, pct
from flowsim.streams import Streams

if TYPE_CHECKING:
    from flowsim.scenario.model import FunctionSpec, Scenario
    from flowsim.traffic.event import Event

HOL_SHARE = 0.5          # of all waiting, outside the peek window
GROWTH = 1.5             # last quarter's mean queue depth over the second's
GROWTH_ITEMS = 10.0      # and at least this many more items waiting
MISSING_SHARE = 0.9      # of a source's sampled events
SAMPLE = 1000            # events sampled per traffic source
TIMEOUT_SHARE = 0.1      # of the runs
TIMEOUT_REASONS = ("start_timeout", "finish_timeout")

Finding = tuple[str, dict[str, Any], str]       # message, figures, what to try (this run's)


@dataclass(frozen=True)
class Check:
    """One warning: its code, what it means, and the function that finds its cases."""

    code: str
    means: str
    find: Callable[[dict[str, Any], "Scenario"], list[Finding]]


def diagnose(summary: dict[str, Any], scenario: "Scenario") -> list[dict[str, Any]]:
    """Every warning of every check, in the order of :data:`CHECKS`."""
    out = []
    for check in CHECKS:
        for message, figures, advice in check.find(summary, scenario):
            out.append({"code": check.code, "message": message, "means": check.means, "try": advice,
                        "figures": figures})
    return out


# -- head-of-line blocking ----------------------------------------------------------------
def _head_of_line(summary: dict[str, Any], scenario: "Scenario") -> list[Finding]:
    binding = summary["binding"]
    peek = binding.get("peek_window")
    if peek is None or peek["share"] <= HOL_SHARE:
        return []
    fns = summary["functions"]
    fn_id = min((f for f in fns if "peek_window" in fns[f]["binding"]),
                key=lambda f: (-fns[f]["binding"]["peek_window"]["total_delay"], f))
    rows = fns[fn_id]["binding"]
    inside = {n: r for n, r in rows.items() if n not in ("peek_window", "priority")}
    keyed = {n: r for n, r in inside.items() if r["worst_key"]}
    inside_delay = sum(r["total_delay"] for r in inside.values())
    keyed_delay = sum(r["total_delay"] for r in keyed.values())
    if not keyed or keyed_delay < 0.5 * inside_delay:
        return []       # the window is full of items waiting for capacity: a deep backlog, not blocking
    name = min(keyed, key=lambda n: (-keyed[n]["worst_key_delay"], n))
    key = keyed[name]["worst_key"]
    key_share = keyed[name]["worst_key_delay"] / keyed_delay
    figures = {"function": fn_id, "peek_window_share": peek["share"], "peek_window_delay": peek["total_delay"],
               "constraint": name, "key": key, "key_share_in_window": key_share}
    message = (f"{key}'s backlog fills the peek window of {fn_id}: {pct(peek['share'])} of all waiting was "
               f"head-of-line blocking, by items the queue never looked at; inside the window, {key}'s items "
               f"held back by the {constraint_words(name)} took {pct(key_share)} of the time items sat blocked "
               "by a key.")
    advice = _hol_advice(name, key)
    return [(message, figures, advice)]


def _hol_advice(name: str, key: str) -> str:
    expr = name[len("concurrency:"):] if name.startswith("concurrency:") else None
    example = f" (priority: {{run: \"{expr} != '{key}' ? 600 : 0\"}})" if expr else ""
    return (f"Send {key}'s events to a function of its own (each function has its own queue and peek "
            f"window); or give the other keys' runs a higher priority so they come first in the window{example}, "
            f"which helps while {key}'s backlog is younger than the priority range; or raise {key}'s limit, or "
            "drop its excess with a rateLimit on that key rather than queueing it. Inngest's key queues (per-key "
            "backlogs, for Enterprise accounts on request) remove this blocking: simulate them with "
            "--set account.key_queues=true.")


# -- a growing queue ----------------------------------------------------------------------
def _queue_growing(summary: dict[str, Any], scenario: "Scenario") -> list[Finding]:
    out = []
    binding = summary["binding"]
    capacity = [n for n in binding if n not in ("peek_window", "priority")]
    top = min(capacity, key=lambda n: (-binding[n]["total_delay"], n)) if capacity else None
    for fn_id, q in summary["queue"].items():
        d = q["depth"]
        if not (d[1] < d[2] < d[3] and d[3] >= GROWTH * d[1] and d[3] - d[1] >= GROWTH_ITEMS):
            continue
        half = q["half"]
        offered, served = q["created"] / half, q["started"] / half
        figures = {"function": fn_id, "depth": d, "created_per_s": offered, "started_per_s": served,
                   "horizon": summary["horizon"]}
        message = (f"{fn_id}'s queue is still growing at the horizon: {num(round(d[1]))}, {num(round(d[2]))} then "
                   f"{num(round(d[3]))} "
                   "items waiting on average over the last three quarters of the run; in its second half runs "
                   f"arrived at {offered:.3g}/s and started at {served:.3g}/s. Latency percentiles then depend "
                   "on the horizon: a longer run reports longer waits.")
        limit = f" (the {constraint_words(top)} binds most inside the queue's window)" if top else ""
        advice = (f"More capacity where it binds{limit}, or less offered load; to compare settings, compare "
                  "them at the same horizon and read the queue's trend in timeseries.csv, not only the "
                  "percentiles.")
        out.append((message, figures, advice))
    return out


# -- a field the traffic does not have -----------------------------------------------------
def _expressions(fn: "FunctionSpec") -> Iterator[tuple[str, Expr, int | None]]:
    """Every expression of a function with where it is written and, for a trigger's own
    ``if``, the trigger's index (it sees every event of the trigger's name)."""
    for i, trigger in enumerate(fn.triggers):
        if trigger.condition is not None:
            yield f"triggers[{i}] if", trigger.condition, i
    for name, config in fn.mechanisms.items():
        for where, expr in _walk(config, [name]):
            yield where, expr, None
    for i, cancel in enumerate(fn.cancel_on):
        if cancel.condition is not None:
            yield f"cancelOn[{i}] if", cancel.condition, None
    for step in fn.steps:
        condition = getattr(step, "condition", None)
        if condition is not None:
            yield f"waitForEvent {step.name} if", condition, None


def _walk(obj: Any, where: list[str]) -> Iterator[tuple[str, Expr]]:
    """The expressions inside a mechanism's configuration (dataclasses, tuples, lists),
    named by the mechanism, a plug-in's policy name, and the field (``if`` for ``condition``)."""
    if isinstance(obj, Expr):
        yield " ".join(where), obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, Expr):
                yield " ".join(where + ["if" if f.name == "condition" else f.name]), value
            else:
                yield from _walk(value, where)
    elif isinstance(obj, (tuple, list)):
        if len(obj) == 2 and isinstance(obj[0], str):        # a plug-in entry: (policy name, config)
            yield from _walk(obj[1], where + [obj[0]])
        else:
            for item in obj:
                yield from _walk(item, where)


def _lookup(event: "Event", path: tuple[str, ...]) -> tuple[bool, int, Any]:
    """Whether ``path`` (from ``event``) is present, how deep it got, and the value there."""
    value: Any = event.as_cel()
    for depth, key in enumerate(path[1:], start=1):
        if not isinstance(value, dict) or key not in value:
            return False, depth, value
        value = value[key]
    return True, len(path), value


def _sample(scenario: "Scenario", seed: int) -> dict[str, list["Event"]]:
    """The first :data:`SAMPLE` events of each traffic source (the run's own, from the seed)."""
    streams = Streams(seed)
    return {src.name: list(islice(src.events(streams, scenario.horizon), SAMPLE)) for src in scenario.traffic}


def _sees(fn: "FunctionSpec", trigger: int | None, event: "Event") -> bool:
    """Whether an expression of ``fn`` sees ``event``: it matches the trigger (``trigger``'s
    own ``if``), else some trigger whose ``if`` lets it through."""
    triggers = fn.triggers if trigger is None else (fn.triggers[trigger],)
    for t in triggers:
        if not (t.event == event.name if t.pattern is None else t.pattern.match(event.name)):
            continue
        if trigger is not None or t.condition is None:
            return True
        try:
            if is_true(t.condition.on(event)):
                return True
        except ExprEvalError:        # an evaluation error filters the event, as in the engine
            continue
    return False


def _missing_fields(summary: dict[str, Any], scenario: "Scenario") -> list[Finding]:
    out: list[Finding] = []
    found = [(fn, where, expr, trigger, path) for fn in scenario.functions
             for where, expr, trigger in _expressions(fn)
             for path in field_paths(expr.text) if path[0] == "event" and len(path) > 1]
    if not found:
        return out
    sample = _sample(scenario, summary["seed"])
    for fn, where, expr, trigger, path in found:
        for source, events in sample.items():
            seen = [e for e in events if _sees(fn, trigger, e)]
            if not seen:
                continue
            looked = [_lookup(e, path) for e in seen]
            missing = [x for x in looked if not x[0]]
            if len(missing) <= MISSING_SHARE * len(seen):
                continue
            out.append(_missing_finding(fn.id, where, expr.text, path, source, len(seen), missing))
    return out


def _missing_finding(fn_id: str, where: str, text: str, path: tuple[str, ...], source: str, seen: int,
                     missing: list[tuple[bool, int, Any]]) -> Finding:
    depth = min(m[1] for m in missing)           # where most of them stop
    at = [m for m in missing if m[1] == depth]
    parent = ".".join(path[:depth])
    have: dict[str, int] = {}
    for _, _, value in at:
        if isinstance(value, dict):
            for k in value:
                have[k] = have.get(k, 0) + 1
    fields = sorted(have, key=lambda k: (-have[k], k))
    dotted = ".".join(path)
    close = difflib.get_close_matches(path[depth], fields, n=1, cutoff=0.6)
    suggestion = ".".join(path[:depth] + (close[0],) + path[depth + 1:]) if close else None
    if fields:
        shown = ", ".join(f"{parent}.{k}" for k in fields[:8]) + (", ..." if len(fields) > 8 else "")
        has = f"they have {shown}"
    else:
        kinds = sorted({type(v).__name__ for _, _, v in at})
        has = f"{parent} is {'/'.join(kinds)} there, not a map"
    guess = f" Did you mean {suggestion}?" if suggestion else ""
    message = (f"the {where} expression `{text}` of {fn_id} reads {dotted}, which {pct(len(missing) / seen)} of "
               f"traffic source {source}'s events lack ({len(missing)} of the first {seen} it sees): {has}.{guess}")
    figures = {"function": fn_id, "where": where, "expression": text, "path": dotted, "source": source,
               "sampled": seen, "missing": len(missing), "fields": [f"{parent}.{k}" for k in fields],
               "suggestion": suggestion}
    advice = (f"Correct the path in the scenario ({suggestion})" if suggestion else
              "Correct the path in the scenario") + ", or add the field to that source's data."
    return message, figures, advice


# -- timeouts and no completion -------------------------------------------------------------
def _timeouts(summary: dict[str, Any], scenario: "Scenario") -> list[Finding]:
    runs = sum(n for status, n in summary["runs"].items() if status != "skipped")
    reasons = summary["cancel_reasons"]
    by = {r: reasons.get(r, 0) for r in TIMEOUT_REASONS}
    n = sum(by.values())
    if not runs or n <= TIMEOUT_SHARE * runs:
        return []
    parts = []
    if by["start_timeout"]:
        parts.append(f"{by['start_timeout']:,} waited longer than timeouts.start to start")
    if by["finish_timeout"]:
        parts.append(f"{by['finish_timeout']:,} were still going at timeouts.finish")
    message = f"{n:,} of {runs:,} runs ({pct(n / runs)}) were cancelled by timeouts: {' and '.join(parts)}."
    figures = {"runs": runs, "cancelled": n, **by}
    tips = []
    if by["start_timeout"]:
        tips.append("for the start timeouts, speed up the queue where it binds (see what held work back) or "
                    "lengthen timeouts.start")
    if by["finish_timeout"]:
        tips.append("for the finish timeouts, check the steps' durations, retries, sleeps and waits against "
                    "timeouts.finish")
    advice = "; ".join(tips)
    advice = advice[0].upper() + advice[1:] + "."
    return [(message, figures, advice)]


def _no_run_completed(summary: dict[str, Any], scenario: "Scenario") -> list[Finding]:
    rows = sum(summary["outcomes"].values())
    runs = summary["runs"]
    if not rows or runs.get("completed", 0):
        return []
    created = sum(runs.values()) - runs.get("skipped", 0)
    started = summary["start_latency"]["count"]
    figures = {"events": rows, "runs": created, "started": started}
    if not created:
        lost = ", ".join(f"{n:,} {o.replace('_', ' ')}" for o, n in summary["outcomes"].items()
                         if n and o in OUTCOMES)
        message = f"No run completed: none of the {rows:,} events became a run ({lost})."
        advice = "Check the triggers' if, the rate limit and the other event stages against the traffic."
    elif not started:
        message = f"No run completed: {created:,} runs were created and none of them started."
        advice = "Read the binding constraints and the warnings above; a longer horizon if the limits are right."
    else:
        message = (f"No run completed: {started:,} of {created:,} runs started, and none finished before the "
                   "horizon (steps, sleeps or waits outlast it, or they failed or were cancelled).")
        advice = "A longer horizon, or check the steps' sleeps and waitForEvent timeouts against it."
    return [(message, figures, advice)]


CHECKS: tuple[Check, ...] = (
    Check("missing_field",
          "A CEL path missing from the event is unknown: a key becomes \"false\" (every such run shares one "
          "key), an if is false (the event is filtered), a priority is 0. The run goes on with a different "
          "answer and no error.", _missing_fields),
    Check("head_of_line_blocking",
          "The queue only looks at its first items (the peek window, §3.3). When they all belong to one "
          "key that is at its limit, items of other keys behind them are not seen, however idle their "
          "own limits are: they wait for that key's backlog, not for capacity.", _head_of_line),
    Check("queue_growing",
          "Work arrives faster than it is served, so the backlog has no steady state: every latency "
          "percentile grows with the horizon and says more about the run's length than about the setting.",
          _queue_growing),
    Check("timeouts",
          "A cancelled run stops where it was: its remaining steps never run, and its event gets no completed "
          "run. The latencies of the runs that remain look better than what the events experienced.",
          _timeouts),
    Check("no_run_completed",
          "Every completion-based figure (end-to-end latency, throughput) is empty, and the percentiles that "
          "remain describe work that never finished.", _no_run_completed),
)
