"""From plan to code: a scenario's functions as Inngest TypeScript (``flowsim export ts``).

:func:`to_typescript` prints, for each function of a validated scenario, an
``inngest.createFunction`` call whose options carry the flow control flowsim simulated,
in the TypeScript SDK's field names and shapes, so that the configuration settled on
with ``compare``/``sweep``/``plan`` (a variant, ``--set`` overrides) moves into code
without retyping. The handler is a skeleton: each step flowsim models is a comment with
its modelled duration, to be replaced by the user's code.

Exported from the validated model rather than the YAML, so the values are the ones the
simulation used, normalised as Inngest reads them:

* durations as Inngest time strings (``30s``, ``5m``, ``1h30m``, ``36h``; whole days from
  ``2d`` up in days; sub-second parts as fractional seconds, ``0.5s``, since the SDK's
  ``TimeStr`` has no ``ms``), except where the SDK itself parses the duration with the
  ``ms`` package (``cancelOn.timeout``, ``step.sleep``, ``waitForEvent``): one number and
  one unit there (``90m``, ``1.5s``, see :func:`ms_str`); ``batchEvents.timeout``
  in seconds only (the SDK's ``TimeStrBatch``; Inngest parses it with Go's
  ``time.ParseDuration``, which has no ``d``, spec §2.2, §9.1);
* ``concurrency`` a number when it is only a function limit, else the list of limits sorted
  by limit as Inngest sorts them (spec §3.1), ``scope`` only when not ``fn``; a function
  limit of 0 (no limit) is left out;
* ``throttle`` with ``limit`` 0 written as 1 and the period truncated to whole seconds (spec
  §4.1, §2.2), ``burst`` only when above 0 (the server's default, §4.1);
* ``rateLimit`` left out, with a comment, when ``idempotency`` replaces it (§5.1) or when its
  period is under 1 s (§2.2); ``singleton.mode`` always written (the SDK requires it);
* ``retries`` always written: flowsim's default is Inngest's ``DefaultRetryCount`` (4,
  spec §10), while the SDK's documentation says 3, so an explicit value avoids doubt;
* CEL expressions (keys, ``if``, ``priority.run``) as JavaScript string literals;
  ``cancelOn.match`` and ``waitForEvent.match`` as the dotted path the SDK expects.

Two SDK shapes (``sdk``): ``v4``, the default and the current SDK's,
``createFunction({ ...options, triggers }, handler)``, and ``v3``,
``createFunction(options, trigger, handler)``. A single trigger is an object, several an
array. Every comment line starts with ``//``, whatever it quotes: a text holding a line
break (a long ``--set`` value, a file name) is split into several comment lines, on every
character JavaScript ends a line at. Output is deterministic: fixed key order, no
timestamps. ``flowsim import`` reads the output back (tests/test_import_roundtrip.py).
"""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional, Sequence

import typer

from flowsim.analysis.overrides import BASE, Override, build_scenario, parse_assignment, variants_of
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.expr import Expr
from flowsim.policies.concurrency import ConcurrencyConfig
from flowsim.scenario.model import FunctionSpec, RunStep, Scenario, SleepStep, WaitStep
from flowsim.scenario.source import load_yaml

SDKS = ("v3", "v4")
WIDTH = 100                 # wrap an object or list over several lines past this many characters
INDENT = "  "
DAY = 86400
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_RESERVED = frozenset((
    "break case catch class const continue debugger default delete do else enum export extends false finally "
    "for function if import in instanceof let new null return super switch this throw true try typeof var void "
    "while with yield await implements interface package private protected public static").split())


def time_str(seconds: float) -> str:
    """An Inngest ``TimeStr``: ``90`` → ``1m30s``, ``129600`` → ``36h``, ``604800`` → ``7d``, ``0.25`` → ``0.25s``.

    Hours, minutes, then seconds with any fraction (to the microsecond); a whole number
    of days from two days up is written in days. Inngest's ``str2duration`` reads every
    form (spec §2.2), and without ``d`` Go's ``time.ParseDuration`` does too.
    """
    rest = round(seconds, 6)
    if rest <= 0:
        return "0s"
    if rest >= 2 * DAY and rest % DAY == 0:
        return f"{int(rest // DAY)}d"
    parts = []
    whole = int(rest)
    frac = rest - whole
    for unit, size in (("h", 3600), ("m", 60)):
        n, whole = divmod(whole, size)
        if n:
            parts.append(f"{n}{unit}")
    secs = _decimal(whole + frac)
    if secs != "0":
        parts.append(f"{secs}s")
    return "".join(parts)


def ms_str(seconds: float) -> str:
    """A duration the SDK reads with the ``ms`` package: one number and one unit (``90m``,
    ``36h``, ``500ms``), for ``cancelOn.timeout``, ``step.sleep`` and ``waitForEvent``'s
    ``timeout``, which the SDK converts with ``ms()`` before registering them. ``ms`` reads
    no compound form: ``ms("1h30m")`` is undefined, and the SDK then registers an empty
    timeout. Whole days, hours, minutes or seconds in the largest unit that divides the
    duration, else fractional seconds (``1.5s``: ``ms`` reads it, and the SDK's ``TimeStr``
    type has no ``ms`` unit).
    """
    rest = round(seconds, 6)
    if rest <= 0:
        return "0s"
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60), ("s", 1)):
        if rest % size == 0:
            return f"{int(rest // size)}{unit}"
    return f"{_decimal(rest)}s"


def batch_time_str(seconds: float) -> str:
    """A ``batchEvents.timeout``: seconds only (``300s``), the SDK's ``TimeStrBatch`` (spec §9.1)."""
    return f"{_decimal(round(seconds, 6))}s"


def _decimal(x: float) -> str:
    """``x`` in plain decimal notation, without trailing zeros (never ``1e-05``)."""
    return f"{x:.6f}".rstrip("0").rstrip(".")


def js(value: Any, indent: int = 0, column: int = 0, expand: bool = False) -> str:
    """``value`` as a TypeScript literal: inline when it fits in :data:`WIDTH` from ``column``,
    else (or when ``expand``) one entry per line with trailing commas, as Prettier writes it.
    A :class:`Comment` value in a dict becomes a ``//`` line in place of its entry."""
    if not isinstance(value, (dict, list)) or not value:
        return _inline(value)
    has_comment = isinstance(value, dict) and any(isinstance(v, Comment) for v in value.values())
    if not expand and not has_comment:
        inline = _inline(value)
        if column + len(inline) + 1 <= WIDTH:
            return inline
    pad = INDENT * (indent + 1)
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, Comment):
                lines.extend(comment_lines(v, pad))
                continue
            head = f"{pad}{k}: "
            lines.append(f"{head}{js(v, indent + 1, len(head))},")
        return "{\n" + "\n".join(lines) + "\n" + INDENT * indent + "}"
    for v in value:
        lines.append(f"{pad}{js(v, indent + 1, len(pad))},")
    return "[\n" + "\n".join(lines) + "\n" + INDENT * indent + "]"


class Comment(str):
    """A ``// comment`` line among an object's entries (the object is then written over several lines)."""


#: The characters that end a line in JavaScript (ECMA-262 LineTerminator); a ``//`` comment
#: ends at any of them.
_LINE_TERMINATORS = re.compile("\r\n|[\n\r\u2028\u2029]")


def comment_lines(text: str, indent: str = "") -> list[str]:
    """``text`` as ``//`` comment lines: one per line of the text, so that no part of it
    can end up outside a comment."""
    return [f"{indent}// {line}".rstrip() for line in _LINE_TERMINATORS.split(text)]


def js_string(text: str) -> str:
    """A JavaScript string literal, in double quotes unless the text holds more of them than
    single quotes (Prettier's rule: ``'"openai"'``, ``"event.data.tier == 'vip'"``)."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for ch in text:
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        entries = [f"{k}: {_inline(v)}" for k, v in value.items() if not isinstance(v, Comment)]
        return "{ " + ", ".join(entries) + " }" if entries else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TypeScript")


def _one_or_many(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else items


def _triggers(fn: FunctionSpec) -> Any:
    out = []
    for t in fn.triggers:
        trig: dict[str, Any] = {"event": t.event}
        if t.condition is not None:
            trig["if"] = t.condition.text
        out.append(trig)
    return _one_or_many(out)


def _concurrency(config: ConcurrencyConfig) -> int | list[dict[str, Any]] | None:
    """A number for a lone function limit, else the limits sorted by limit (spec §3.1)."""
    entries: list[tuple[int, int, dict[str, Any]]] = []
    if config.function_limit is not None:
        entries.append((config.function_limit, 0, {"limit": config.function_limit}))
    for k in config.keyed:
        entry: dict[str, Any] = {"limit": k.limit, "key": k.key.text}
        if k.scope != "fn":
            entry["scope"] = k.scope
        entries.append((k.limit, 1, entry))
    if not entries:
        return None
    if len(entries) == 1 and config.function_limit is not None:
        return config.function_limit
    return [e for _, _, e in sorted(entries, key=lambda e: (e[0], e[1]))]


def _with_key(options: dict[str, Any], key: Expr | None, name: str = "key") -> dict[str, Any]:
    """``options`` with the expression's text under ``name`` when there is one."""
    if key is not None:
        options[name] = key.text
    return options


def _mechanisms(fn: FunctionSpec, raw_fn: dict[str, Any]) -> dict[str, Any]:
    """The flow-control options in the SDK's names, in the order of the issue's list."""
    m = fn.mechanisms
    out: dict[str, Any] = {}
    conc = _concurrency(m["concurrency"]) if "concurrency" in m else None
    if conc is not None:
        out["concurrency"] = conc
    elif raw_fn.get("concurrency") is not None:
        out["_concurrency"] = Comment("concurrency: left out, a function limit of 0 sets no limit (spec §3.1)")
    if "throttle" in m:
        t = m["throttle"]
        opts: dict[str, Any] = {"limit": t.limit, "period": time_str(t.period)}
        if t.burst:
            opts["burst"] = t.burst
        out["throttle"] = _with_key(opts, t.key)
    if "rateLimit" in m:
        r = m["rateLimit"]
        out["rateLimit"] = _with_key({"limit": r.limit, "period": time_str(r.period)}, r.key)
    elif raw_fn.get("rateLimit") is not None:
        why = ("idempotency replaces it, as Inngest does (spec §5.1)" if raw_fn.get("idempotency") is not None
               else "its period is under 1s, which Inngest truncates to 0: no limit (spec §2.2)")
        out["_rateLimit"] = Comment(f"rateLimit: left out, {why}")
    idem = m.get("idempotency")
    if idem is not None and idem.key is not None:
        out["idempotency"] = idem.key.text
    if "debounce" in m:
        d = m["debounce"]
        opts = _with_key({"period": time_str(d.period)}, d.key)
        if d.timeout is not None:
            opts["timeout"] = time_str(d.timeout)
        out["debounce"] = opts
    if "priority" in m:
        out["priority"] = {"run": m["priority"].run.text}
    if "singleton" in m:
        s = m["singleton"]
        out["singleton"] = {**_with_key({}, s.key), "mode": s.mode}
    if "batchEvents" in m:
        b = m["batchEvents"]
        opts = _with_key({"maxSize": b.max_size, "timeout": batch_time_str(b.timeout)}, b.key)
        out["batchEvents"] = _with_key(opts, b.condition, "if")
    return out


def _cancel_on(fn: FunctionSpec) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(fn.cancel_on):
        entry: dict[str, Any] = {"event": c.event}
        if c.match is not None:
            entry["match"] = c.match
        if c.condition is not None:
            entry["if"] = c.condition.text
        if c.timeout is not None:
            entry["timeout"] = ms_str(c.timeout)
            if 0 < c.timeout < 1:
                warnings.warn(ScenarioWarning(
                    f"{fn.id}: cancelOn[{i}].timeout {entry['timeout']} is under 1s: SDK v4 registers 1s, and v3 an "
                    "empty timeout that Inngest cannot parse, so Inngest will not cancel as simulated"))
        out.append(entry)
    return out


def _options(fn: FunctionSpec, raw_fn: dict[str, Any], sdk: str) -> dict[str, Any]:
    opts: dict[str, Any] = {"id": fn.id}
    if isinstance(raw_fn.get("name"), str):
        opts["name"] = raw_fn["name"]
    if sdk == "v4":
        opts["triggers"] = _triggers(fn)
    opts.update(_mechanisms(fn, raw_fn))
    plugins = raw_fn.get("policies")
    if plugins:
        names = ", ".join(str(p.get("policy")) if isinstance(p, dict) else str(p)
                          for p in (plugins if isinstance(plugins, list) else [plugins]))
        opts["policies"] = Comment(f"simulated with flowsim plug-in policies ({names}): "
                                   "not Inngest options, no SDK equivalent")
    cancel = _cancel_on(fn)
    if cancel:
        opts["cancelOn"] = cancel
    timeouts: dict[str, Any] = {}
    if fn.start_timeout is not None:
        timeouts["start"] = time_str(fn.start_timeout)
    if fn.finish_timeout is not None:
        timeouts["finish"] = time_str(fn.finish_timeout)
    if timeouts:
        opts["timeouts"] = timeouts
    opts["retries"] = fn.retries
    return opts


def _step_lines(fn: FunctionSpec) -> list[str]:
    """The steps as commented-out SDK calls, with what flowsim models for each."""
    lines = []
    for s in fn.steps:
        name = js_string(s.name)
        if isinstance(s, RunStep):
            note = s.duration.describe()
            if s.failure_rate:
                note += f", {_decimal(s.failure_rate * 100)}% of attempts fail"
            lines.append(f"// await step.run({name}, async () => {{ /* ... */ }}); // modelled: {note}")
        elif isinstance(s, SleepStep):
            lines.append(f"// await step.sleep({name}, {js(ms_str(s.duration))});")
        elif isinstance(s, WaitStep):
            opts: dict[str, Any] = {"event": s.event, "timeout": ms_str(s.timeout)}
            if s.match is not None:
                opts["match"] = s.match
            if s.condition is not None:
                opts["if"] = s.condition.text
            lines.append(f"// await step.waitForEvent({name}, {_inline(opts)});")
    return lines


def _identifier(fn_id: str, taken: dict[str, int]) -> str:
    """A camelCase TypeScript name for the exported constant, unique in the output."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", fn_id) if w]
    name = "".join([words[0][:1].lower() + words[0][1:]] + [w[:1].upper() + w[1:] for w in words[1:]]) \
        if words else "fn"
    if name[0].isdigit():
        name = "fn" + name[0].upper() + name[1:]
    if name in _RESERVED:
        name += "Fn"
    n = taken.get(name, 0)
    taken[name] = n + 1
    return name if n == 0 else f"{name}{n + 1}"


def _function(fn: FunctionSpec, raw_fn: dict[str, Any], name: str, sdk: str) -> str:
    indent = INDENT * 2
    handler_args = "{ events, step }" if "batchEvents" in fn.mechanisms else "{ event, step }"
    parts = [f"export const {name} = inngest.createFunction(",
             INDENT + js(_options(fn, raw_fn, sdk), 1, len(INDENT), expand=True) + ","]
    if sdk == "v3":
        parts.append(INDENT + js(_triggers(fn), 1, len(INDENT)) + ",")
    parts.append(f"{INDENT}async ({handler_args}) => {{")
    parts.extend(indent + line for line in _step_lines(fn))
    parts.append(INDENT + "},")
    parts.append(");")
    return "\n".join(parts)


def to_typescript(scenario: Scenario, function_id: str | None = None, *, variant: str = BASE,
                  overrides: Sequence[Override] = (), sdk: str = "v4") -> str:
    """The scenario's functions (or only ``function_id``) as ``inngest.createFunction`` calls.

    ``variant`` and ``overrides`` only name, in the header comment, what was applied to
    ``scenario`` (see :func:`load_for_export`). Raises :class:`ScenarioError` for an
    unknown function id or SDK shape.
    """
    if sdk not in SDKS:
        raise ScenarioError(f"expected one of {', '.join(SDKS)}, got {sdk!r}", field="--sdk")
    functions = list(scenario.functions)
    if function_id is not None:
        functions = [fn for fn in functions if fn.id == function_id]
        if not functions:
            known = ", ".join(fn.id for fn in scenario.functions)
            raise ScenarioError(f"no function {function_id!r} in {scenario.name}; known: {known}",
                                file=scenario.file, field="--function")
    raw_functions = scenario.raw.get("functions", []) if isinstance(scenario.raw, dict) else []
    source = f" ({Path(scenario.file).name})" if scenario.file and scenario.file != "<dict>" else ""
    shape = ("createFunction(options, trigger, handler)" if sdk == "v3"
             else "createFunction({ ...options, triggers }, handler)")
    notes = [f"flowsim export ts: scenario {js_string(scenario.name)}{source}, variant {js_string(variant)}."]
    notes += [f"override: {ov.describe()}" for ov in overrides]
    notes += [
        f"Options as flowsim simulated them; Inngest TypeScript SDK {sdk}: {shape}.",
        "Handlers are skeletons: each modelled step is a comment, to replace with your code.",
        f"Account concurrency simulated: {scenario.account.concurrency} (a plan limit, not a function option).",
        *(["Queue path simulated: key queues (an account option Inngest enables on request, not a function "
           "option)."] if scenario.account.key_queues else []),
    ]
    header = [line for note in notes for line in comment_lines(note)]
    header += ["", 'import { inngest } from "./client";']
    taken: dict[str, int] = {}
    blocks = []
    for fn in functions:
        raw_fn = raw_functions[fn.index] if fn.index < len(raw_functions) else {}
        blocks.append(_function(fn, raw_fn if isinstance(raw_fn, dict) else {}, _identifier(fn.id, taken), sdk))
    return "\n".join(header) + "\n\n" + "\n\n".join(blocks) + "\n"


def load_for_export(path: str | Path, variant: str = BASE,
                    sets: Sequence[Override] = ()) -> tuple[Scenario, tuple[Override, ...]]:
    """The scenario at ``path`` with ``sets`` then the variant's overrides applied, and those overrides.

    The order is the analyses' (:mod:`flowsim.analysis.overrides`): ``--set`` first, then
    the variant. An unknown variant is a :class:`ScenarioError` naming the known ones.
    """
    from flowsim.scenario.load import load_scenario
    scenario = load_scenario(path)
    if variant == BASE and not sets:
        return scenario, ()
    _, source = load_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    known = {BASE: (), **variants_of(scenario.raw, source)}
    if variant not in known:
        raise ScenarioError(f"no variant {variant!r} in {scenario.name}; known: {', '.join(known)}",
                            file=str(path), field="--variant")
    overrides = tuple(sets) + tuple(known[variant])
    return build_scenario(scenario.raw, source, overrides), overrides


def export_ts(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
              function: Optional[str] = typer.Option(None, "--function", help="Export only this function id."),
              variant: str = typer.Option(BASE, "--variant", help="Export this variant of the scenario."),
              sets: Optional[List[str]] = typer.Option(None, "--set", metavar="PATH=VALUE",
                                                       help="Override a field first, e.g. "
                                                            "functions.my-fn.concurrency=8 (repeatable)."),
              sdk: str = typer.Option("v4", "--sdk", help="v4 (the current SDK): the triggers inside the options, "
                                                          "createFunction({ ...options, triggers }, handler); "
                                                          "v3: createFunction(options, trigger, handler).")) -> None:
    """Print the functions' createFunction options (flow control, retries, timeouts) as TypeScript."""
    from rich.console import Console
    from rich.markup import escape
    err = Console(stderr=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScenarioWarning)
            overrides = [parse_assignment(s) for s in sets or []]
            sc, applied = load_for_export(scenario, variant, overrides)
            text = to_typescript(sc, function, variant=variant, overrides=applied, sdk=sdk)
    except ScenarioError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.format())}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    shown: list[str] = []
    for w in caught:
        message = str(w.message)
        if issubclass(w.category, ScenarioWarning) and message not in shown:
            shown.append(message)
            err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.stdout.write(text)


export_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="Turn a scenario into code: `flowsim export ts` for Inngest's TypeScript SDK.")


@export_app.callback()
def export() -> None:
    """Turn a scenario into code (a group, so that ``ts`` keeps its name)."""


export_app.command("ts")(export_ts)
