"""Run priority: ``priority: {run: "<CEL expression>"}`` (spec §7).

Configuration (§7.1)::

    priority:
      run: "event.data.user_tier == 'vip' ? 120 : 0"

The expression is evaluated once per run, on the run's first event (the debounce's last
event; §1 step 5), and gives the run's *priority factor* in seconds. The engine uses the
factor (§7.2, :meth:`flowsim.engine.world.World._enqueue`): a start or step item due now is
scored ``run creation − factor`` in its function's queue, so a run with factor ``f`` goes
ahead of the queued work of runs created less than ``f`` seconds before it, for every step
of the run; retries and resumed sleeps are scored by their due time and get no factor
(§3.5, §7.2). A negative factor pushes the run back behind runs created up to ``|f|``
seconds after it. Priority reorders items only within one function's queue (§7.2).

The value, as ``Function.RunPriorityFactor`` computes it (§7.1):

* an **int** is the factor, clamped to ``±account.priority_range`` (default ±600 s, the
  Cloud docs' range; the OSS source clamps to ±43200 s; spec README decisions);
* anything else — a string, a bool (a missing field evaluates to ``false``, §2.1), a
  double, null, a list or map — or an evaluation error gives factor **0**.

Ints and doubles follow Inngest's engine, not the event as written: Inngest decodes event
data from JSON, so every number in it is a float64 (``Event.Map`` even converts ``ts``),
and ``RunPriorityFactor`` accepts only ``int``/``int64`` results. Integer *literals* in the
expression stay int64 (cel-go, and ``inngest/expr``'s literal lifting parses them with
``ParseInt``), as does ``int(...)``. Hence ``event.data.vip ? 120 : 0`` and
``int(event.data.priority)`` give 120, but a bare ``event.data.priority`` is a double —
``3.0`` as much as ``3`` — and gives 0. flowsim reproduces this by evaluating the
expression on a JSON view of the event in which every number is a float
(:class:`JsonView`); a bare event field, which can never be an int there, is warned about
at load time. **[DOC≠SRC]** The SDK reference offers ``event.data.priority`` as an example;
the source, read but not run, gives it factor 0.

Validation (§7.1): ``run`` is required; an invalid expression is rejected with
``Priority.Run expression is invalid: …``; ``priority.run`` on a function with
``batchEvents`` is rejected with ``A function cannot specify Priority.Run and Batch
together`` (``Function.Validate`` checks only that a batch config is present).
"""
from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from flowsim.errors import ScenarioWarning
from flowsim.expr import Expr, ExprEvalError, compile_expr, key_string
from flowsim.policies.base import ORDER_KEYS, BuildContext, Candidate, Constraint, EventStage, StageContext
from flowsim.scenario.source import Node
from flowsim.traffic.event import Event

# A bare attribute path such as ``event.data.priority``: never an int in Inngest (see above).
_BARE_FIELD = re.compile(r"\s*event(\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+\s*")
_VIEW_KEY = "priority:json-view"     # where an event keeps its JsonView, in Event.cache


def _json_numbers(value: Any) -> Any:
    """``value`` with every number a float, as Go's ``encoding/json`` decodes it into ``any``."""
    t = type(value)       # the usual JSON types first, by exact type (cheaper than the ABC checks)
    if t is str or t is float or t is bool or value is None:
        return value
    if t is int:
        return float(value)
    if t is dict:
        out = {}
        for k, v in value.items():      # scalars inline: one call per container, not per value
            t = type(v)
            out[k] = v if t is str or t is float or t is bool or v is None else \
                float(v) if t is int else _json_numbers(v)
        return out
    if t is list:
        return [_json_numbers(v) for v in value]
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_numbers(v) for v in value]
    return value


class JsonView:
    """An event as Inngest's engine sees it when it evaluates ``priority.run``: every
    number of its data (and its ``ts``) a float64 (spec §7.1).

    It offers what :meth:`Expr.on` needs (``as_cel`` and a ``cache``), so each
    expression is still evaluated at most once per event; :func:`json_view` keeps one
    view per event in the event's own cache. The view converts at once and keeps no
    reference to its event, so that the two form no reference cycle (which only the
    cyclic garbage collector could free: a cost per event).
    """

    __slots__ = ("cache", "_activation")

    def __init__(self, event: Event) -> None:
        self.cache: dict[int, Any] = {}
        self._activation: dict[str, Any] = _json_numbers(event.as_cel())

    def as_cel(self) -> dict[str, Any]:
        return self._activation


def json_view(event: Event) -> JsonView:
    """The :class:`JsonView` of ``event``, made once per event."""
    view = event.cache.get(_VIEW_KEY)
    if view is None:
        view = event.cache[_VIEW_KEY] = JsonView(event)
    return view


def _is_int(value: Any) -> bool:
    """Whether a CEL result is an int (``RunPriorityFactor``'s ``case int, int64``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _cel_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Real):
        return "double"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


@dataclass(frozen=True)
class PriorityConfig:
    """A function's ``priority.run`` expression."""

    run: Expr

    field: ClassVar[str] = "priority"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "PriorityConfig | None":
        """Validate ``priority`` (spec §7.1); ``None`` when the function has none."""
        if node is None:
            return None
        node.mapping(("run",), required=("run",))
        run = node.child("run")
        text = run.str()
        try:
            expr = compile_expr(text)
        except ValueError as exc:
            raise run.error(f"Priority.Run expression is invalid: {exc}") from None
        if function.get("batchEvents") is not None:
            raise run.error("A function cannot specify Priority.Run and Batch together")
        if _BARE_FIELD.fullmatch(text):
            warnings.warn(ScenarioWarning(run.error(
                f"`{text.strip()}` returns an event field, which Inngest's engine reads from JSON as a "
                "string, bool or float64, never an int, so Priority.Run gives factor 0 for every run "
                f"(spec §7.1); write `int({text.strip()})` for a numeric field").format()), stacklevel=2)
        return cls(expr)

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        return [PriorityStage(self.run, ctx.scenario.account.priority_range)], []


class PriorityStage(EventStage):
    """Sets ``candidate.priority_factor`` from ``priority.run`` (spec §1 step 5, §7.1)."""

    order = ORDER_KEYS

    def __init__(self, run: Expr, priority_range: float) -> None:
        self.run = run
        self.range = priority_range

    def admit(self, candidate: Candidate, ctx: StageContext) -> None:
        event = candidate.events[0]
        try:
            value = self.run.on(json_view(event))
        except ExprEvalError as exc:
            ctx.log("priority", f"Priority.Run expression errored: {exc}; factor 0",
                    event_id=event.id, function_id=candidate.function.id, factor=0)
            return None
        if not _is_int(value):
            # RunPriorityFactor: "returned non-int" is an error, and the caller uses 0.
            ctx.log("priority", f"Priority.Run expression returned non-int: {key_string(value)} "
                    f"({_cel_type(value)}); factor 0",
                    event_id=event.id, function_id=candidate.function.id, factor=0)
            return None
        value = int(value)
        factor = float(min(max(value, -self.range), self.range))
        if factor != value:
            ctx.log("priority", f"priority factor {value} clamped to {factor:g} "
                    f"(account.priority_range ±{self.range:g} s)",
                    event_id=event.id, function_id=candidate.function.id, factor=factor, value=value)
        elif factor:
            ctx.log("priority", f"priority factor {factor:g} s", event_id=event.id,
                    function_id=candidate.function.id, factor=factor)
        candidate.priority_factor = factor
        return None
