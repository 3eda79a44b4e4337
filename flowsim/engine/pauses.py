"""Pauses: runs waiting for an event (``waitForEvent``) or cancellable by one (``cancelOn``).

A pause is created when a run reaches ``waitForEvent`` or, for ``cancelOn``, when the
run is scheduled (spec §10); every later event with the pause's name whose ``match``
field equals the run's (or whose ``if`` is true, CEL over ``event`` and ``async``)
consumes it. Pauses with ``match`` are indexed by the run's value, so an incoming
event finds its pauses without scanning every waiting run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from flowsim.expr import ExprEvalError, is_true

if TYPE_CHECKING:
    from flowsim.engine.runs import Run
    from flowsim.expr import Expr
    from flowsim.traffic.event import Event

_MISSING = object()


def field_value(event: "Event", path: str) -> Any:
    """The value at dotted ``path`` (``data.user_id``) of the event, or a sentinel."""
    value: Any = event.as_cel()
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _index_key(value: Any) -> Any:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, (dict, list)):
        return ("j", repr(value))
    return ("s", value)


class Pause:
    """One waiting or cancellable run; ``on_match`` is called with the matching event."""

    __slots__ = ("run", "event", "match", "condition", "on_match", "dead", "timer")

    def __init__(self, run: "Run", event: str, match: str | None, condition: "Expr | None",
                 on_match: Callable[["Pause", "Event"], None]) -> None:
        self.run = run
        self.event = event
        self.match = match
        self.condition = condition
        self.on_match = on_match
        self.dead = False
        self.timer: Any = None

    def kill(self) -> None:
        self.dead = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class PauseIndex:
    """Live pauses by event name, indexed by match value where there is one."""

    def __init__(self) -> None:
        self.by_value: dict[str, dict[str, dict[Any, list[Pause]]]] = {}
        self.general: dict[str, list[Pause]] = {}

    def add(self, pause: Pause) -> None:
        if pause.match is not None:
            value = field_value(pause.run.event, pause.match)
            if value is _MISSING:
                return      # nothing can match a missing field; only its timeout applies
            paths = self.by_value.setdefault(pause.event, {})
            paths.setdefault(pause.match, {}).setdefault(_index_key(value), []).append(pause)
        else:
            self.general.setdefault(pause.event, []).append(pause)

    def __bool__(self) -> bool:
        return bool(self.by_value or self.general)

    def dispatch(self, event: "Event") -> None:
        """Consume, in creation order, every live pause the event matches."""
        matched: list[Pause] = []
        paths = self.by_value.get(event.name)
        if paths:
            for path, values in paths.items():
                value = field_value(event, path)
                if value is _MISSING:
                    continue
                key = _index_key(value)
                found = values.pop(key, None)
                if found:
                    matched.extend(p for p in found if not p.dead)
        general = self.general.get(event.name)
        if general:
            keep = []
            for p in general:
                if p.dead:
                    continue
                if p.condition is None or _condition(p, event):
                    matched.append(p)
                else:
                    keep.append(p)
            self.general[event.name] = keep
        if not matched:
            return
        matched.sort(key=lambda p: p.run.seq)
        for p in matched:
            if p.dead:
                continue
            p.kill()
            p.on_match(p, event)


def _condition(pause: Pause, event: "Event") -> bool:
    try:
        return is_true(pause.condition.evaluate({"event": pause.run.event.as_cel(), "async": event.as_cel()}))
    except ExprEvalError:
        return False
