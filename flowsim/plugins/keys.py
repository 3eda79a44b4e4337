"""Key expressions of the plug-in policies: parsed from an option, evaluated once per event.

A key is CEL (:mod:`flowsim.expr`), written as Inngest's keys are (``event.data.tenant``).
Its value is formatted with :func:`flowsim.expr.key_string` (Go's ``%v``); a missing
field gives ``false`` and so the shared key ``"false"``, an evaluation error the shared
key ``"<nil>"`` — the buckets Inngest's keyed concurrency uses (spec §2.1), which the
plug-ins adopt for every key since the platforms they model have no rule of their own
that the simulation could tell apart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flowsim.expr import Expr, key_value
from flowsim.scenario.source import Node

if TYPE_CHECKING:
    from flowsim.traffic.event import Event

ERROR_KEY = "<nil>"


def parse_key(node: Node | None, what: str = "key") -> Expr | None:
    """Compile the CEL expression at ``node`` (``None`` when absent)."""
    return node.expr(f"{what} is invalid: {{error}}") if node is not None else None


def key_of(expr: Expr | None, event: "Event") -> str:
    """The key value of ``event`` (``""`` without an expression)."""
    return key_value(expr, event, ERROR_KEY)
