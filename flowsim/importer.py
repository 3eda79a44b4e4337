"""From code to plan: an Inngest app's functions as a scenario (``flowsim import``).

The input is what Inngest itself sees of an app: each function's configuration as the SDK
registers it when the app syncs. Either

* a TypeScript or JavaScript module of the app: :func:`flowsim.sdk.node.collect` runs it
  with node and the app's own ``inngest`` package (v3 or v4) and asks that SDK for its
  registration output, so the options are read exactly as the SDK sends them, not parsed
  from source text; or
* a JSON file holding the registration payload, for apps in other languages: the
  ``functions`` array the SDK sends when the app syncs, alone or in the sync request's body.

:func:`to_scenario` maps each registered function to flowsim's scenario format. The
registration is close to it already; the differences it undoes:

* ``triggers[].expression`` is a trigger's ``if``; ``steps.step.retries.attempts`` is
  ``retries``; ``cancel`` is ``cancelOn``, and an ``if`` of the form
  ``event.P == async.P`` is the ``match: P`` the SDK turned into it;
* a function id is registered as ``<app id>-<id>``: the app's prefix is taken off;
* an ``onFailure`` handler is registered as a second function (``<id>-failure``, triggered
  by ``inngest/function.failed``): it is listed, not imported.

What flowsim does not model (cron triggers, ``onFailure``, ``middleware``, internal
``inngest/`` events, any registered field or option it does not know) is listed in the
scenario's header and as a warning, never dropped silently; so is an option set in the code
that the SDK's version does not register at all. What the registration cannot hold is
written as a PLACEHOLDER with a comment: the horizon, the account's concurrency (a plan
limit), each function's steps (they are in the handler's code) and the traffic: one Poisson
source per trigger event, with the ``event.data`` fields that the functions' keys read, so
that keyed limits have keys to work on. The text is validated with the loader before
anything is written: a configuration flowsim cannot simulate is an error naming the
function.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer
import yaml

from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.scenario.model import DEFAULT_RETRIES, Scenario
from flowsim.scenario.source import Node, Source, load_yaml
from flowsim.sdk.node import MODULES, Collected, collect

#: Registered flow-control fields, in the order they are written (the exporter's order),
#: with the keys flowsim models for each (``None``: the value is not a mapping).
FLOW_FIELDS: dict[str, tuple[str, ...] | None] = {
    "concurrency": ("limit", "key", "scope"),
    "throttle": ("limit", "period", "burst", "key"),
    "rateLimit": ("limit", "period", "key"),
    "idempotency": None,
    "debounce": ("period", "key", "timeout"),
    "priority": ("run",),
    "singleton": ("key", "mode"),
    "batchEvents": ("maxSize", "timeout", "key", "if"),
}
TIMEOUT_KEYS = ("start", "finish")
CANCEL_KEYS = ("event", "if", "timeout")
#: Registered fields read elsewhere than FLOW_FIELDS.
STRUCTURE = ("id", "name", "triggers", "steps", "cancel", "timeouts")
#: createFunction options that are registered, with the registered field that carries them
#: (``retries`` is ``steps.<step>.retries.attempts``, read by :func:`_retries`).
REGISTERED_OPTIONS = {**{k: k for k in FLOW_FIELDS}, "timeouts": "timeouts", "cancelOn": "cancel",
                      "retries": "steps"}
#: createFunction options with no effect on flow control, and options handled on their own.
QUIET_OPTIONS = ("id", "name", "description", "triggers", "onFailure")
FAILED_EVENT = "inngest/function.failed"
_FAILURE_IF = re.compile(r"^event\.data\.function_id == '(.*)'$")
_MATCH_IF = re.compile(r"^event\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) == async\.\1$")
_DATA_FIELD = re.compile(r"\bevent\.data((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
PLACEHOLDER_RATE = "1/s"
PLACEHOLDER_DURATION = "1s"
PLACEHOLDER_HORIZON = "1h"
PLACEHOLDER_KEYS = 100          # distinct values of a placeholder key field
WIDTH = 80                      # comment lines are wrapped at this many columns


@dataclass
class Registered:
    """One registered function, with where it came from (for messages) and, from a module,
    the option names it was created with (``None`` from JSON)."""

    node: Node
    app: str | None
    options: tuple[str, ...] | None = None
    failure_handler: str | None = None     # the registered id of its onFailure function, if any


@dataclass
class Registration:
    """What an app registers: its functions and a description of what read them."""

    file: str
    origin: str                            # "inngest 4.24.0, typescript 6.0.3" or "registration JSON"
    functions: list[Registered]
    sdk: str | None = None                 # "inngest 4.24.0": the SDK that registered them, from a module


@dataclass
class Imported:
    """A scenario built from a registration: the data, the text, and what was left out."""

    data: dict[str, Any]
    text: str
    notes: dict[str, list[str]] = field(default_factory=dict)   # function id -> what is not simulated


# -- reading ------------------------------------------------------------------------------

def read_app(path: str | os.PathLike[str]) -> Registration:
    """The registration of the app at ``path``: a module (run with node) or a JSON payload."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_registration_json(path)
    if suffix in MODULES:
        return read_module(path)
    raise ScenarioError(f"expected a TypeScript or JavaScript module ({', '.join(MODULES)}) of the app, or a "
                        f"registration payload (.json), got a {suffix or 'file without extension'}", file=str(path))


def read_module(path: Path) -> Registration:
    """Run the module with node and the app's SDK (:func:`flowsim.sdk.node.collect`)."""
    return registration_of(collect([path])[0])


def registration_of(found: Collected) -> Registration:
    """The registration of the functions the collector found in one module."""
    path = Path(found.file)
    origin = found.sdk + (f", {found.transpiler}" if found.transpiler else "")
    if not found.functions:
        exports = ", ".join(found.exports) or "nothing"
        raise ScenarioError(f"the module exports no Inngest functions (its exports: {exports}); export the "
                            "functions made with createFunction, an array or object of them, or the Inngest "
                            "client (its functions are then all read)", file=str(path))
    functions: list[Registered] = []
    source = Source(str(path))
    for fn in found.functions:
        main, *extra = fn.configs
        slug = main.get("id") if isinstance(main.get("id"), str) else fn.export
        label = slug[len(fn.app) + 1:] if fn.app and slug.startswith(f"{fn.app}-") else slug
        failure = next((c.get("id") for c in extra if _failure_target(c) == main.get("id")), None)
        functions.append(Registered(Node(main, (label,), source), fn.app, fn.options, failure))
    return Registration(str(path), origin, functions, found.sdk)


def read_registration_json(path: Path) -> Registration:
    """The ``functions`` array of a registration payload (alone, or in the sync body)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not JSON: {exc.msg} (column {exc.colno}); expected the registration payload an "
                            "Inngest SDK sends when the app syncs", file=str(path), line=exc.lineno) from None
    except RecursionError:
        raise ScenarioError("not a registration payload: nested too deeply", file=str(path)) from None
    try:
        _, source = load_yaml(text, str(path))      # JSON is YAML: this gives every field its line
    except ScenarioError:
        source = Source(str(path))
    root = Node(data, (), source)
    app = None
    if isinstance(data, dict) and isinstance(data.get("functions"), list):
        node = root.child("functions")
        app = next((data[k] for k in ("appName", "app_id") if isinstance(data.get(k), str)), None)
    elif isinstance(data, list):
        node = root
    else:
        raise root.error("not an Inngest registration payload: expected the `functions` array an SDK sends when "
                         "the app syncs, or an object holding it (the sync request's body)")
    if not node.value:
        raise node.error("the registration has no functions")
    functions = []
    for element in node.elements():
        if not isinstance(element.value, dict):
            raise element.error(f"not a function's registration: expected an object with `id` and `triggers`, "
                                f"got {type(element.value).__name__}")
        element.child("id").str()
        if element.get("triggers") is None:
            raise element.error("not a function's registration: it has no `triggers`")
        element.child("triggers").list()
        functions.append(Registered(element, app))
    kept = []
    for f in functions:
        target = _failure_target(f.node.value)
        owner = next((g for g in functions if g is not f and g.node.value["id"] == target), None)
        if owner is not None:
            owner.failure_handler = f.node.value["id"]
        else:
            kept.append(f)
    sdk = data.get("sdk") if isinstance(data, dict) and isinstance(data.get("sdk"), str) else None
    return Registration(str(path), "registration JSON" + (f" ({sdk})" if sdk else ""), kept)


def _failure_target(config: Any) -> str | None:
    """The registered id whose failures ``config`` handles, when it is an ``onFailure`` function."""
    triggers = config.get("triggers") if isinstance(config, dict) else None
    if not isinstance(triggers, list) or len(triggers) != 1 or not isinstance(triggers[0], dict):
        return None
    t = triggers[0]
    m = _FAILURE_IF.match(t.get("expression") or "") if isinstance(t.get("expression"), str) else None
    return m.group(1) if t.get("event") == FAILED_EVENT and m else None


# -- mapping ------------------------------------------------------------------------------

def to_scenario(reg: Registration, name: str) -> Imported:
    """The scenario of ``reg``'s functions (see the module docstring), text with comments."""
    ids = _function_ids(reg)
    functions: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    for f, fn_id in zip(reg.functions, ids):
        out, left_out = _function(f, fn_id, reg.sdk)
        if left_out:
            notes[fn_id] = left_out
        if out is not None:
            functions.append(out)
    if not functions:
        raise ScenarioError("no function has an event trigger, and flowsim simulates event-triggered functions "
                            "only (not simulated: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in notes.items())
                            + ")", file=reg.file)
    data = {"name": name, "horizon": PLACEHOLDER_HORIZON, "functions": functions, "traffic": _traffic(functions)}
    for src in data["traffic"]:
        read = _condition_fields(functions, src["event"])
        if read:
            warnings.warn(ScenarioWarning(ScenarioError(
                f"the placeholder traffic of {src['event']!r} sends no event.data.{', event.data.'.join(read)}, "
                "which conditions (`if`, priority) read: until you add them to its data, an `if` on them is "
                "likely false for every event", file=reg.file).format()))
    return Imported(data, _render(data, reg, notes), notes)


def _function_ids(reg: Registration) -> list[str]:
    """Registered ids without their app's prefix (kept whole when that would make two equal)."""
    stripped = []
    for f in reg.functions:
        slug = f.node.value["id"]
        prefix = f"{f.app}-" if f.app else None
        stripped.append(slug[len(prefix):] if prefix and slug.startswith(prefix) and len(slug) > len(prefix)
                        else slug)
    if len(set(stripped)) < len(stripped):
        return [f.node.value["id"] for f in reg.functions]
    return stripped


def _function(f: Registered, fn_id: str, sdk: str | None) -> tuple[dict[str, Any] | None, list[str]]:
    """One function in the scenario's format, and what of it is not simulated."""
    node = f.node
    cfg = node.value
    left_out: list[str] = []
    out: dict[str, Any] = {"id": fn_id}
    if isinstance(cfg.get("name"), str) and cfg["name"] not in (fn_id, cfg["id"]):
        out["name"] = cfg["name"]
    triggers = []
    for t in node.child("triggers").elements():
        t.mapping()
        if t.get("cron") is not None:
            left_out.append(f"cron trigger {t.child('cron').str()!r} (flowsim simulates event triggers)")
            continue
        event = t.child("event").str() if t.get("event") is not None else None
        if event is None:
            raise t.error("a trigger needs an `event` or a `cron`")
        if event.startswith("inngest/"):
            left_out.append(f"trigger on Inngest's internal event {event!r} (flowsim does not emit it)")
            continue
        trig: dict[str, Any] = {"event": event}
        if t.get("expression") is not None:
            trig["if"] = t.child("expression").str()
        triggers.append(trig)
    for key, value in cfg.items():
        if key not in STRUCTURE and key not in FLOW_FIELDS and value is not None:
            left_out.append(f"registered field `{key}` (not modelled)")
    for fld, keys in FLOW_FIELDS.items():
        sub = node.get(fld)
        if sub is not None:
            out[fld] = _known(sub, keys, left_out) if fld != "concurrency" else _concurrency(sub, left_out)
    cancel = node.get("cancel")
    if cancel is not None:
        out["cancelOn"] = [_cancel(c, left_out) for c in cancel.elements()]
    if node.get("timeouts") is not None:
        timeouts = _known(node.child("timeouts"), TIMEOUT_KEYS, left_out)
        if timeouts:
            out["timeouts"] = timeouts
    retries = _retries(node)
    if retries is not None:
        out["retries"] = retries
    if f.failure_handler is not None:
        left_out.append(f"onFailure handler (registered as {f.failure_handler!r}; flowsim does not run it)")
    for option in f.options or ():
        if option in REGISTERED_OPTIONS:
            carried = retries if option == "retries" else cfg.get(REGISTERED_OPTIONS[option])
            if carried is None:
                _warn(node, f"`{option}` is set in the code, but {sdk} does not register it, so Inngest ignores "
                            "it; it is not imported (upgrade the SDK to have it applied)")
        elif option not in QUIET_OPTIONS:
            left_out.append(f"`{option}` option (not modelled)")
    if not triggers:
        left_out.append("not imported: it has no event trigger")
        return None, left_out
    out = {"id": out.pop("id"), **({"name": out.pop("name")} if "name" in out else {}), "triggers": triggers,
           **out}
    out["steps"] = [{"run": "handler", "duration": PLACEHOLDER_DURATION}]
    return out, left_out


def _known(node: Node, keys: tuple[str, ...] | None, left_out: list[str]) -> Any:
    """The value with only the keys flowsim models (the others listed as not modelled)."""
    if keys is None or not isinstance(node.value, dict):
        return node.value
    out = {}
    for k, v in node.value.items():
        if v is None:
            continue
        if k in keys:
            out[k] = v
        else:
            left_out.append(f"`{_dotted(node.path[1:] + (k,))}` (not modelled)")
    return out


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _concurrency(node: Node, left_out: list[str]) -> Any:
    """A number, one limit or a list of them, as registered (keys flowsim knows kept)."""
    keys = FLOW_FIELDS["concurrency"]
    if isinstance(node.value, list):
        return [_known(e, keys, left_out) for e in node.elements()]
    return _known(node, keys, left_out)


def _cancel(node: Node, left_out: list[str]) -> dict[str, Any]:
    """A ``cancel`` entry as ``cancelOn``: the SDK's ``event.P == async.P`` back to ``match: P``."""
    entry = _known(node, CANCEL_KEYS, left_out)
    if not isinstance(entry, dict):
        raise node.error("expected a cancellation with `event`, and optionally `if` and `timeout`")
    out: dict[str, Any] = {"event": entry.get("event")}
    condition = entry.get("if")
    m = _MATCH_IF.match(condition) if isinstance(condition, str) else None
    if m and not m.group(1).startswith(("event.", "async.")):
        out["match"] = m.group(1)
    elif condition is not None:
        out["if"] = condition
    timeout = entry.get("timeout")
    if timeout == "":
        _warn(node.child("timeout"), "an empty cancellation timeout (the SDK registers one for a timeout its "
                                     "`ms` cannot read, such as 1h30m, and v3 for one under 1 s): Inngest parses it "
                                     "with str2duration when it schedules a run, which fails on an empty string, "
                                     "so runs may not start at all; imported without a timeout (one year)")
    elif timeout is not None:
        out["timeout"] = timeout
    return out


def _retries(node: Node) -> int | None:
    """``steps.<first>.retries.attempts``, the function's retries, when registered."""
    steps = node.get("steps")
    if steps is None or not isinstance(steps.value, dict) or not steps.value:
        return None
    step = steps.child("step") if "step" in steps.value else steps.child(next(iter(steps.value)))
    retries = step.get("retries") if isinstance(step.value, dict) else None
    attempts = retries.get("attempts") if retries is not None and isinstance(retries.value, dict) else None
    return attempts.int(minimum=0) if attempts is not None else None


def _warn(node: Node, message: str) -> None:
    warnings.warn(ScenarioWarning(node.error(message).format()))


# -- placeholders ---------------------------------------------------------------------------

def _traffic(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One placeholder Poisson source per trigger event, with the data fields keys read."""
    sources: dict[str, dict[str, Any]] = {}
    for fn in functions:
        fields = _key_fields(fn)
        for t in fn["triggers"]:
            name = t["event"].replace("*", "example")
            src = sources.setdefault(name, {"event": name, "arrivals": {"poisson": {"rate": PLACEHOLDER_RATE}},
                                            "data": {}})
            for path in fields:
                _set_field(src["data"], path)
    out = []
    for src in sources.values():
        if not src["data"]:
            del src["data"]
        out.append(src)
    return out


def _key_fields(fn: dict[str, Any]) -> list[tuple[str, ...]]:
    """The ``event.data`` paths read by the function's keys (concurrency, throttle, ...)."""
    texts: list[str] = []
    for fld in FLOW_FIELDS:
        value = fn.get(fld)
        if fld == "idempotency" and isinstance(value, str):
            texts.append(value)
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                texts.append(entry["key"])
    paths: list[tuple[str, ...]] = []
    for text in texts:
        for m in _DATA_FIELD.finditer(text):
            path = tuple(m.group(1).lstrip(".").split("."))
            if path not in paths:
                paths.append(path)
    return paths


def _set_field(data: dict[str, Any], path: tuple[str, ...]) -> None:
    """A Zipf-skewed string at ``path`` (nested mappings for a dotted path), unless taken."""
    *parents, leaf = path
    node = data
    for p in parents:
        child = node.get(p)
        if child is None or _is_generator(child):
            child = node[p] = {}
        node = child
    if leaf not in node:
        node[leaf] = {"zipf": {"n": PLACEHOLDER_KEYS, "s": 1.0}, "format": f"{'.'.join(path)}-{{}}"}


def _is_generator(value: Any) -> bool:
    return isinstance(value, dict) and "zipf" in value


def _condition_fields(functions: list[dict[str, Any]], event: str) -> list[str]:
    """``event.data`` fields read by the ``if`` of triggers on ``event`` (and priority, batch ifs)."""
    texts = []
    for fn in functions:
        if any(t["event"].replace("*", "example") == event for t in fn["triggers"]):
            texts += [t["if"] for t in fn["triggers"] if "if" in t]
            texts += [fn[f][k] for f, k in (("priority", "run"), ("batchEvents", "if"))
                      if isinstance(fn.get(f), dict) and isinstance(fn[f].get(k), str)]
    out: list[str] = []
    for text in texts:
        for m in _DATA_FIELD.finditer(text):
            name = m.group(1).lstrip(".")
            if name not in out:
                out.append(name)
    return out


# -- writing --------------------------------------------------------------------------------

def flow(value: Any) -> str:
    """``value`` as one line of flow-style YAML (``{limit: 2, key: event.data.user_id}``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False,
                          allow_unicode=False).rstrip("\n")
    return text[:-4] if text.endswith("\n...") else text


#: What PyYAML's reader refuses anywhere in a file, comments included (its ``NON_PRINTABLE``).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def comment(text: str, indent: str = "", width: int = WIDTH) -> list[str]:
    """``text`` as YAML comment lines wrapped at ``width``: every line commented, whatever
    line breaks it holds (PyYAML reads ``\\r``, ``\\x85``, ``\\u2028``, ``\\u2029`` as breaks too),
    and characters YAML refuses even in a comment written as escapes (``\\x1b``)."""
    text = _NOT_PRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    lines = []
    for paragraph in text.splitlines() or [""]:
        lead = re.match(r"\s*(?:- )?", paragraph).group(0)
        wrapped = textwrap.wrap(paragraph, width - len(indent) - 2, subsequent_indent=" " * len(lead),
                                break_long_words=False, break_on_hyphens=False)
        lines += [f"{indent}# {line}".rstrip() for line in wrapped or [""]]
    return lines


def field_lines(key: str, value: Any, indent: str, lead: str | None = None) -> list[str]:
    """``key: value`` in flow style on one line when it fits in :data:`WIDTH` columns, else
    a block: a list item per line, or a mapping's fields one per line, each fitted again.
    ``lead`` replaces ``indent`` on the first line (``  - `` for a list item's first key)."""
    first = indent if lead is None else lead
    line = f"{first}{flow(key)}: {flow(value)}"
    if len(line) <= WIDTH or not isinstance(value, (list, dict)) or not value:
        return [line]
    out = [f"{first}{flow(key)}:"]
    if isinstance(value, list):
        out += [f"{indent}  - {flow(v)}" for v in value]
    else:
        for k, v in value.items():
            out += field_lines(k, v, indent + "  ")
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _render(data: dict[str, Any], reg: Registration, notes: dict[str, list[str]]) -> str:
    """The scenario as YAML, one flow-style value a field, with the comments that say what
    is imported, what is a placeholder and what is not simulated."""
    functions = data["functions"]
    lines = comment(
        f"Imported by `flowsim import` from {Path(reg.file).name} ({reg.origin}): "
        f"{_plural(len(functions), 'function')}, with the flow control its SDK registers. Lines marked "
        "PLACEHOLDER are not in the app: fill them before trusting a result (the traffic, each function's "
        "steps and their durations, the horizon, the account's concurrency).")
    if notes:
        lines += ["#"] + comment("Not simulated (flowsim does not model these; they are left out):")
        lines += [line for fn_id, items in notes.items() for item in items
                  for line in comment(f"- {_one_line(fn_id)}: {_one_line(item)}")]
    lines += [
        f"name: {flow(data['name'])}",
        "# PLACEHOLDER: how long to simulate.",
        f"horizon: {flow(data['horizon'])}",
        *comment("PLACEHOLDER: your plan's account concurrency (not part of the app; 1000 when left out)."),
        "# account: {concurrency: 1000}",
        "functions:",
    ]
    for fn in functions:
        lead = "  - "
        for key, value in fn.items():
            if key == "steps":
                if "retries" not in fn:
                    lines.append(f"    # retries: not registered, so Inngest's default applies ({DEFAULT_RETRIES})")
                lines += comment("PLACEHOLDER: your handler's steps (run, sleep, waitForEvent) and how long "
                                 "each takes.", "    ")
                lines.append("    steps:")
                for step in value:
                    lines.append(f"      - run: {flow(step['run'])}")
                    lines.append(f"        duration: {flow(step['duration'])}")
                continue
            lines += field_lines(key, value, "    ", lead)
            lead = "    "
    lines += comment("PLACEHOLDER: which events arrive, how often, with which data (one Poisson source per "
                     "trigger event; data: the fields the keys read, "
                     f"{PLACEHOLDER_KEYS} Zipf-skewed values each).")
    lines.append("traffic:")
    for src in data["traffic"]:
        lines.append(f"  - event: {flow(src['event'])}")
        lines.append(f"    arrivals: {flow(src['arrivals'])}")
        if "data" in src:
            lines += field_lines("data", src["data"], "    ")
        read = _condition_fields(functions, src["event"])
        if read:
            lines += comment(f"PLACEHOLDER: conditions read event.data.{', event.data.'.join(read)}: add them "
                             "to data (an event without them does not pass an `if`).", "    ")
    sent = {s["event"] for s in data["traffic"]}
    cancels = [e for e in dict.fromkeys(c["event"] for fn in functions for c in fn.get("cancelOn", []))
               if e not in sent]
    if cancels:
        lines += comment(f"PLACEHOLDER: no source sends the cancelOn events {', '.join(cancels)}: add one to "
                         "simulate cancellations.", "  ")
    return "\n".join(lines) + "\n"


# -- the command ------------------------------------------------------------------------------

def scenario_name(reg: Registration) -> str:
    """The app's id when there is one app, else the file's name: one folder name (runs/<name>/)."""
    apps = list(dict.fromkeys(f.app for f in reg.functions if f.app))
    base = apps[0] if len(apps) == 1 else Path(reg.file).stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")
    return name or "imported"


def import_app(path: str | os.PathLike[str], shown_as: str = "<imported>") -> tuple[Imported, Scenario]:
    """Read the app at ``path``, map it, and validate the text as ``flowsim validate`` would.

    ``shown_as`` names the written scenario in the loader's warnings. A configuration the
    loader refuses is a :class:`ScenarioError` naming the function.
    """
    return build(read_app(path), shown_as)


def build(reg: Registration, shown_as: str = "<imported>") -> tuple[Imported, Scenario]:
    """The scenario of ``reg``, its text parsed back and validated by the loader."""
    from flowsim.scenario.load import parse_scenario
    path = reg.file
    imported = to_scenario(reg, scenario_name(reg))
    parsed, source = load_yaml(imported.text, shown_as)
    try:
        scenario = parse_scenario(parsed, source)
    except ScenarioError as exc:
        where = exc.field or ""
        m = re.match(r"functions\[(\d+)\]\.?(.*)", where)
        if m:
            fn_id = imported.data["functions"][int(m.group(1))]["id"]
            where = f"function {fn_id!r}" + (f", {m.group(2)}" if m.group(2) else "")
        raise ScenarioError(f"flowsim cannot simulate {where or 'the app'} as registered: {exc.message}",
                            file=str(path)) from None
    return imported, scenario


def import_cmd(file: Path = typer.Argument(..., help="A TypeScript/JavaScript module of the app, or the "
                                                      "registration JSON its SDK sends when it syncs."),
               out: Optional[Path] = typer.Option(None, "--out", help="Write the scenario there (default: "
                                                                       "print it).")) -> None:
    """Import an Inngest app's functions as a scenario: their flow control as the SDK registers it,
    traffic and step durations as placeholders to fill."""
    from flowsim.console import command, err, warn
    from flowsim.results.writers import check_writable_parent
    with command():
        if out is not None:
            if out.is_dir() or not out.name:
                raise ScenarioError(f"expected a file, got the directory {out}", field="--out")
            check_writable_parent(out.resolve(), out, "--out")
        imported, scenario = import_app(file, str(out) if out is not None else "<imported>")
        for fn_id, items in imported.notes.items():
            for item in items:
                warn(f"{fn_id}: not simulated: {item}")
        if out is None:
            typer.echo(imported.text, nl=False)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".flowsim-partial", dir=out.resolve().parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(imported.text)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        count = len(scenario.functions)
        err.print(f"wrote {out}: {count} function{'s' if count != 1 else ''}; fill the PLACEHOLDER lines, then "
                  f"`flowsim run {out}`", highlight=False, markup=False, soft_wrap=True)
