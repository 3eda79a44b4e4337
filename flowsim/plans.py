"""Inngest Cloud's plans and the limits they publish (docs *Durable Execution limits*,
*Bursty Concurrency*, 2026).

``account: {plan: pro}`` gives the account the plan's included concurrency (an explicit
``account.concurrency`` overrides it, within the plan's maximum), caps ``batchEvents``
(``maxSize`` at the plan's event batch capacity, ``timeout`` at its batch timeout),
watches the queue depth against the plan's limit (Inngest publishes the limit but not
what happens at it, so flowsim warns when the simulated depth passes it and goes on),
and on Pro and above turns on bursty concurrency: up to :data:`BURST_FACTOR` times the
account limit for up to :data:`BURST_MINUTES` minutes a month, metered as
:mod:`flowsim.policies.concurrency` describes.

How the table is read: a figure the docs mark *included* (Pro's 100 concurrent steps)
can be raised, up to the published Pro maximum of 1,000 (*Bursty Concurrency*: "If that
peak is above 1,000, the Pro maximum, talk to us about Enterprise"); the other figures
(Free's 5, Business's 500) are the plan's limit. Enterprise is custom throughout: its
concurrency must be given, and nothing is capped or watched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowsim.scenario.source import Node


@dataclass(frozen=True)
class Plan:
    """One plan's published limits; ``None`` where the plan is custom (Enterprise)."""

    name: str
    concurrency: int | None
    """Concurrent steps included: the account limit unless ``account.concurrency`` is set."""
    max_concurrency: int | None
    """The highest ``account.concurrency`` the plan allows."""
    batch_size: int | None
    """Event batch capacity: the largest ``batchEvents.maxSize``."""
    batch_timeout: float | None
    """Event batch timeout: the longest ``batchEvents.timeout``, in seconds."""
    queue_depth: int | None
    """Queue depth: flowsim warns when more items than this wait in the account's queues."""
    burst: bool
    """Whether the plan has bursty concurrency (Pro and above)."""


PLANS: dict[str, Plan] = {
    "free": Plan("free", 5, 5, 5, 30.0, 100_000, False),
    "pro": Plan("pro", 100, 1_000, 100, 300.0, 1_000_000, True),
    "business": Plan("business", 500, 500, 500, 300.0, 10_000_000, True),
    "enterprise": Plan("enterprise", None, None, None, None, None, True),
}

BURST_FACTOR = 3
"""Bursty concurrency raises the account limit to this multiple of it."""
BURST_MINUTES = 60
"""Minutes of burst a month (the allowance refills monthly, at a time not published)."""
BURST_METER = 60.0
"""The burst budget is spent in whole clock minutes of this many seconds."""


def plan_of(scenario: "Node") -> Plan | None:
    """The plan of a scenario's ``account`` (validated by the loader first), or ``None``."""
    account = scenario.get("account")
    plan = account.get("plan") if account is not None and isinstance(account.value, dict) else None
    return PLANS.get(plan.value) if plan is not None else None
