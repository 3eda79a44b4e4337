"""Loading a scenario from YAML (or a dict) into the validated model.

Every rule here raises a :class:`~flowsim.errors.ScenarioError` naming the file, the
line, the field path and what is allowed. Mechanism fields (``concurrency``,
``throttle``...) are parsed by their own modules through :mod:`flowsim.policies`.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any, Mapping

from flowsim.distributions import parse_distribution
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.plans import BURST_MINUTES, PLANS
from flowsim.platform import parse_platform
from flowsim.policies import MECHANISMS
from flowsim.policies.concurrency import DEFAULT_ACCOUNT_LIMIT, account_limit
from flowsim.scenario.model import (DEFAULT_PRIORITY_RANGE, DEFAULT_RETRIES, MAX_CANCELLATIONS, MAX_RETRIES,
                                    Account, CancelOn, FunctionSpec, RunStep, Scenario, SleepStep, Step,
                                    Trigger, WaitStep)
from flowsim.scenario.source import Node, Source, load_yaml
from flowsim.traffic.replay import ReplaySource, trace_lines
from flowsim.traffic.sources import ExplicitSource, GeneratedSource, parse_traffic
from flowsim.units import format_duration

TOP_LEVEL = ("name", "description", "seed", "horizon", "account", "platform", "functions", "traffic", "variants")
FUNCTION_CORE = ("id", "name", "triggers", "steps", "retries", "timeouts", "cancelOn")


def load_scenario(source: str | os.PathLike[str] | Mapping[str, Any]) -> Scenario:
    """Load and validate a scenario from a YAML file path or an already-parsed dict."""
    if isinstance(source, Mapping):
        data, src = copy.deepcopy(dict(source)), Source("<dict>")
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError("no such file", file=str(path)) from None
        except IsADirectoryError:
            raise ScenarioError("is a directory; give a scenario file (.yaml)", file=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read the file: {exc}", file=str(path)) from None
        data, src = load_yaml(text, str(path))
    return parse_scenario(data, src)


def parse_scenario(data: Any, source: Source) -> Scenario:
    """Build a :class:`Scenario` from parsed data and its :class:`Source`."""
    root = Node(data, (), source)
    root.mapping(TOP_LEVEL, required=("functions", "traffic"))
    name = _parse_name(root, source)
    seed = root.get("seed").int(minimum=0) if root.get("seed") else 0
    horizon = root.child("horizon").duration(minimum=1e-9, what="horizon") if root.get("horizon") else 3600.0
    account = _parse_account(root.get("account"), horizon)
    platform = parse_platform(root.get("platform"), account.key_queues)
    functions_node = root.child("functions")
    functions_node.list()
    functions: list[FunctionSpec] = []
    seen: dict[str, int] = {}
    for i, fnode in enumerate(functions_node.elements()):
        fn = _parse_function(fnode, i, root)
        if fn.id in seen:
            raise fnode.child("id").error(f"duplicate function id {fn.id!r} (also functions[{seen[fn.id]}])")
        seen[fn.id] = i
        functions.append(fn)
    if not functions:
        raise functions_node.error("at least one function is required")
    traffic_node = root.child("traffic")
    traffic_node.list()
    traffic = parse_traffic(traffic_node)
    _check_durations(traffic_node, functions)
    _warn_event_count(traffic_node, traffic, horizon)
    description = root.get("description").str() if root.get("description") else ""
    if root.get("variants"):
        # variants: {name: {path: value}}, each applied and validated now so that a bad one
        # fails at load with its line (flowsim.analysis.overrides; imported here to avoid a cycle)
        from flowsim.analysis.overrides import check_variants
        check_variants(data, source)
    return Scenario(name=name, seed=seed, horizon=horizon, account=account, platform=platform,
                    functions=tuple(functions), traffic=tuple(traffic), file=source.file,
                    description=description, raw=data)


def _parse_name(root: Node, source: Source) -> str:
    """The scenario's name: it names its output folder (``runs/<name>/``), so it is one path part."""
    node = root.get("name")
    if node is None:
        if not source.file or source.file == "<dict>":
            return "scenario"
        name = Path(source.file).stem
        if _name_problem(name) is not None:
            raise root.error(f"the file name gives no usable scenario name ({name!r}: {_name_problem(name)}); "
                             f"add a `name:`")
        return name
    name = node.str()
    problem = _name_problem(name)
    if problem is not None:
        raise node.error(f"a scenario name names its output folder (runs/<name>/), so it {problem}, "
                         f"got {name!r}")
    return name


def _name_problem(name: str) -> str | None:
    """What makes ``name`` unusable as one folder name, or ``None``."""
    if not name.strip():
        return "must not be blank"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    for sep in ("/", "\\", os.sep, os.altsep):
        if sep and sep in name:
            return f"must not contain {sep!r}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "must not contain control characters"
    return None


#: Above this many expected events, a traffic source gets a warning (it may run for long).
MANY_EVENTS = 50_000_000


def _warn_event_count(node: Node, traffic: list[Any], horizon: float) -> None:
    """A :class:`ScenarioWarning` for each source expected to make more than ``MANY_EVENTS``
    events before the horizon (computed from its rates or its trace's size, never by drawing
    them), and for the sources together."""
    total = 0.0
    warned = False
    for index, source in enumerate(traffic):
        estimate = _expected_events(source, horizon)
        if estimate is None:
            continue
        total += estimate
        if estimate > MANY_EVENTS:
            warned = True
            entry = node.child(index)
            if isinstance(source, ReplaySource):
                where = entry.child("replay")
                where = where.get("scale") or where
                what = (f"replays up to about {_count(estimate)} events (the trace's "
                        f"~{_count(estimate / source.scale)} lines x scale {source.scale:g})")
            else:
                where = entry.get("arrivals") or entry
                what = (f"is expected to make about {_count(estimate)} events before the horizon "
                        f"({format_duration(horizon)})")
            warnings.warn(ScenarioWarning(where.error(
                f"traffic source {source.name!r} {what}; that may take very long and much memory "
                f"(this warns above {MANY_EVENTS:,} events)").format()))
    if total > MANY_EVENTS and not warned:
        warnings.warn(ScenarioWarning(node.error(
            f"the traffic sources together are expected to make about {_count(total)} events before the "
            f"horizon ({format_duration(horizon)}); that may take very long and much memory "
            f"(this warns above {MANY_EVENTS:,} events)").format()))


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e15 else f"{n:.3g}"


def _expected_events(source: Any, horizon: float) -> float | None:
    """About how many events ``source`` makes before ``horizon`` (a replay: at most); ``None``
    when unknown."""
    if isinstance(source, GeneratedSource):
        end = horizon if source.end is None else min(source.end, horizon)
        return float(source.arrivals.expected(source.start, end).count)
    if isinstance(source, ExplicitSource):
        return float(len(source.specs))
    if isinstance(source, ReplaySource):
        lines = trace_lines(source.path)
        return None if lines is None else lines * source.scale
    return None


def _check_durations(node: Node, functions: list[FunctionSpec]) -> None:
    """``durations`` (of explicit events, or a replay's) must name a run step of some function."""
    steps = list(dict.fromkeys(s.name for fn in functions for s in fn.steps if isinstance(s, RunStep)))

    def check(durations: Node | None) -> None:
        if durations is None or not isinstance(durations.value, dict):
            return
        for step, child in durations.items():
            if step not in steps:
                raise child.error(f"no function has a run step named {step!r} (durations fix the duration of "
                                  f"a step.run); the run steps are: {', '.join(map(str, steps)) or 'none'}")

    for entry in node.elements():
        if not isinstance(entry.value, dict):
            continue
        if isinstance(entry.value.get("events"), list):
            for event in entry.child("events").elements():
                check(event.get("durations"))
        if isinstance(entry.value.get("replay"), dict):
            check(entry.child("replay").get("durations"))


ACCOUNT_FIELDS = ("plan", "concurrency", "burst", "burst_minutes_used", "priority_range", "key_queues")
#: Above this horizon the burst allowance's monthly refill (at a time not published) could fall inside.
SHORTEST_MONTH = 28 * 86400.0


def _parse_account(node: Node | None, horizon: float) -> Account:
    """``account``: the concurrency limit, a plan (:mod:`flowsim.plans`) and its burst,
    the priority range and the queue path."""
    if node is None:
        return Account(DEFAULT_ACCOUNT_LIMIT)
    node.mapping(ACCOUNT_FIELDS)
    plan = PLANS[node.get("plan").choice(PLANS)] if node.get("plan") else None
    limit_node = node.get("concurrency")
    if limit_node is not None:
        limit = limit_node.int(minimum=1)
        if plan is not None and plan.max_concurrency is not None and limit > plan.max_concurrency:
            raise limit_node.error(
                f"{limit} is above the {plan.name} plan's limit of {plan.max_concurrency:,} concurrent steps "
                f"(Inngest's published plan limits); account.concurrency wins over the plan's own limit, so it "
                f"must be one the plan allows: 1 to {plan.max_concurrency:,} on {plan.name} "
                f"({_plan_ranges()})")
    elif plan is not None and plan.concurrency is None:
        raise node.child("plan").error(
            f"the {plan.name} plan's concurrency is custom: set account.concurrency to your contract's limit")
    limit = account_limit(node)
    burst = plan is not None and plan.burst
    burst_node = node.get("burst")
    if burst_node is not None and burst_node.bool():
        if plan is None:
            raise burst_node.error("bursty concurrency comes with a plan: set account.plan to "
                                   f"{_or(name for name, p in PLANS.items() if p.burst)}")
        if not plan.burst:
            raise burst_node.error(f"the {plan.name} plan has no bursty concurrency (Pro and above: "
                                   f"{_or(name for name, p in PLANS.items() if p.burst)})")
    elif burst_node is not None:
        burst = False
    used = 0
    used_node = node.get("burst_minutes_used")
    if used_node is not None:
        if not burst:
            raise used_node.error("burst_minutes_used needs bursty concurrency (a plan with it, and burst not "
                                  "false)")
        used = used_node.int(minimum=0, maximum=BURST_MINUTES)
    if burst and horizon > SHORTEST_MONTH:
        warnings.warn(ScenarioWarning(node.child("plan").error(
            f"the horizon ({format_duration(horizon)}) is longer than a month: Inngest refills the burst "
            f"allowance ({BURST_MINUTES} minutes) monthly at a time it does not publish, and flowsim does not "
            "refill it within a simulation").format()))
    prange = (node.get("priority_range").duration(maximum=43200, what="priority range")
              if node.get("priority_range") else DEFAULT_PRIORITY_RANGE)
    key_queues = node.get("key_queues").bool() if node.get("key_queues") is not None else False
    return Account(limit, prange, key_queues, plan, burst, used)


def _plan_ranges() -> str:
    """What each plan allows for account.concurrency, for a message."""
    return ", ".join(f"{p.name}: up to {p.max_concurrency:,}" if p.max_concurrency is not None else f"{p.name}: any"
                     for p in PLANS.values())


def _or(names: Any) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _parse_function(node: Node, index: int, root: Node) -> FunctionSpec:
    node.mapping(FUNCTION_CORE + tuple(MECHANISMS), required=("id", "triggers", "steps"))
    fn_id = node.child("id").str()
    triggers = tuple(_parse_trigger(t) for t in _non_empty_list(node.child("triggers"), "trigger"))
    steps = _parse_steps(node.child("steps"))
    retries = node.get("retries").int(minimum=0, maximum=MAX_RETRIES) if node.get("retries") else DEFAULT_RETRIES
    start_timeout = finish_timeout = None
    if node.get("timeouts"):
        t = node.get("timeouts")
        t.mapping(("start", "finish"))
        start_timeout = t.get("start").duration(minimum=1e-9, what="start timeout") if t.get("start") else None
        finish_timeout = t.get("finish").duration(minimum=1e-9, what="finish timeout") if t.get("finish") else None
    cancel_on: tuple[CancelOn, ...] = ()
    if node.get("cancelOn"):
        entries = node.get("cancelOn").elements()
        if len(entries) > MAX_CANCELLATIONS:
            raise node.get("cancelOn").error(
                f"This function exceeds the max number of cancellation events: {MAX_CANCELLATIONS}")
        cancel_on = tuple(_parse_cancel(e) for e in entries)
    mechanisms = {}
    for fld, mtype in MECHANISMS.items():
        mech = mtype.parse(node.get(fld), node, root)
        if mech is not None:
            mechanisms[fld] = mech
    return FunctionSpec(id=fn_id, index=index, triggers=triggers, steps=steps, retries=retries,
                        start_timeout=start_timeout, finish_timeout=finish_timeout, cancel_on=cancel_on,
                        mechanisms=mechanisms)


def _non_empty_list(node: Node, what: str) -> list[Node]:
    items = node.elements() if node.value is not None else []
    if not items:
        raise node.error(f"at least one {what} is required")
    return items


def compile_at(node: Node, what: str = "expression") -> Any:
    """Compile the CEL expression at ``node``; a syntax error names the field."""
    return node.expr(f"invalid {what}: {{error}}")


def _parse_trigger(node: Node) -> Trigger:
    if isinstance(node.value, str):
        return Trigger(node.str())
    node.mapping(("event", "if", "cron"), required=())
    if node.get("cron"):
        raise node.child("cron").error("cron triggers are not simulated; use an event trigger")
    if node.get("event") is None:
        raise node.error("missing required field 'event'")
    cond = compile_at(node.get("if"), "trigger `if` expression") if node.get("if") else None
    return Trigger(node.child("event").str(), cond)


STEP_KINDS = ("run", "sleep", "waitForEvent")


def _parse_steps(node: Node) -> tuple[Step, ...]:
    steps: list[Step] = []
    names: set[str] = set()
    for i, s in enumerate(_non_empty_list(node, "step")):
        if not isinstance(s.value, dict):
            raise s.error(f"expected a step mapping with one of: {', '.join(STEP_KINDS)}")
        kinds = [k for k in STEP_KINDS if k in s.value]
        if len(kinds) != 1:
            unknown = [k for k in s.value if k not in ("duration", "failure_rate", "name")]
            hint = f" (unknown step kind {unknown[0]!r})" if unknown and not kinds else ""
            raise s.error(f"a step must have exactly one of: {', '.join(STEP_KINDS)}{hint}")
        kind = kinds[0]
        if kind == "run":
            s.mapping(("run", "duration", "failure_rate"), required=("duration",))
            name = s.child("run").str()
            dist = parse_distribution(s.child("duration"))
            rate = s.get("failure_rate").number(0.0, 1.0) if s.get("failure_rate") else 0.0
            step: Step = RunStep(name, dist, rate)
        elif kind == "sleep":
            s.mapping(("sleep", "name"))
            name = s.get("name").str() if s.get("name") else f"sleep-{i}"
            step = SleepStep(name, s.child("sleep").duration(what="sleep"))
        else:
            s.mapping(("waitForEvent", "name"))
            w = s.child("waitForEvent")
            w.mapping(("event", "match", "if", "timeout"), required=("event", "timeout"))
            if w.get("match") and w.get("if"):
                raise w.error("use either `match` or `if`, not both (as Inngest's SDKs)")
            name = s.get("name").str() if s.get("name") else f"wait-{i}"
            step = WaitStep(name, w.child("event").str(), w.child("timeout").duration(what="timeout"),
                            _match_path(w.get("match")),
                            compile_at(w.get("if"), "waitForEvent `if` expression") if w.get("if") else None)
        if step.name in names:
            raise s.error(f"duplicate step name {step.name!r}")
        names.add(step.name)
        steps.append(step)
    return tuple(steps)


def _match_path(node: Node | None) -> str | None:
    if node is None:
        return None
    path = node.str()
    parts = path.split(".")
    if parts[0] in ("event", "async"):
        parts = parts[1:]
    if not parts or not all(p.isidentifier() for p in parts):
        raise node.error(f"expected a dotted field path such as data.user_id, got {path!r}")
    return ".".join(parts)


def _parse_cancel(node: Node) -> CancelOn:
    node.mapping(("event", "match", "if", "timeout"), required=("event",))
    return CancelOn(node.child("event").str(), _match_path(node.get("match")),
                    compile_at(node.get("if"), "cancelOn `if` expression") if node.get("if") else None,
                    node.get("timeout").duration(what="timeout") if node.get("timeout") else None)
