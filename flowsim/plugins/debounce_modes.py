"""Debounce with a choice of payload: Inngest's trailing event or Trigger.dev's leading one.

Configuration (the options of Inngest's ``debounce`` field, spec §6.1, plus ``mode``)::

    policies:
      - policy: debounce
        period: 10s
        key: event.data.document_id
        timeout: 1m
        mode: leading              # trailing (default, Inngest) | leading (Trigger.dev)

* ``trailing`` — **Inngest** (spec §6.2): the run gets the last in-order event of the
  quiet period; exactly the ``debounce:`` field.
* ``leading`` — **Trigger.dev** (``debounce: {key, delay, mode: "leading"}``, its
  default): the run gets the first event; later ones only push the run back and are
  recorded ``debounced`` ("debounced into <first id>"). The timing rules (period,
  ``timeout`` as Trigger.dev's ``maxDelay``, the platform's clamp and fire delay) are
  Inngest's, as in :mod:`flowsim.policies.debounce`.
"""
from __future__ import annotations

import dataclasses

from flowsim.policies.debounce import DebounceConfig
from flowsim.scenario.source import Node

MODES = ("trailing", "leading")


class Debounce(DebounceConfig):
    """``debounce``: :class:`DebounceConfig` with a ``mode`` option."""

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> DebounceConfig:
        node.mapping(("period", "key", "timeout", "mode"), required=("period",))
        if function.get("debounce") is not None:
            raise node.error("the function already has a debounce field; use either it or the debounce policy")
        mode = node.get("mode").choice(MODES) if node.get("mode") else "trailing"
        base = Node({k: v for k, v in node.value.items() if k != "mode"}, node.path, node.source)
        return dataclasses.replace(DebounceConfig.parse(base, function, scenario), mode=mode)
