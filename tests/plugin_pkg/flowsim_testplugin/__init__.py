"""A plug-in package outside flowsim, for the loading tests.

* :class:`Gate` — a policy type (``parse`` + ``build``): a constraint that lets runs
  start only from ``open_at`` seconds on, refusing with the reason ``gate:closed``.
* :class:`EvenOnly` — a plain :class:`EventStage`: events whose ``data.n`` is odd are
  dropped as ``filtered`` with the reason ``odd n``.
"""
from __future__ import annotations

from dataclasses import dataclass

from flowsim.policies.base import Constraint, Drop, EventStage, Refusal


class GateConstraint(Constraint):
    start_only = True

    def __init__(self, open_at: float) -> None:
        self.open_at = open_at

    def check(self, item, now):
        return None if now >= self.open_at else Refusal("gate:closed", retry_at=self.open_at)


@dataclass(frozen=True)
class Gate:
    open_at: float

    @classmethod
    def parse(cls, node, function, scenario):
        node.mapping(("open_at",), required=("open_at",))
        return cls(node.child("open_at").duration(minimum=0))

    def build(self, ctx):
        return (), (GateConstraint(self.open_at),)


class EvenOnly(EventStage):
    order = 10

    def __init__(self, field: str = "n") -> None:
        if not field:
            raise ValueError("field must be a non-empty name")
        self.field = field

    def admit(self, candidate, ctx):
        if candidate.event.data.get(self.field, 0) % 2:
            return Drop("filtered", f"odd {self.field}")
        return None


class NotAPolicy:
    """Neither a policy type nor a stage, constraint or dispatch order."""


