"""The two protocols between the engine and the flow-control mechanisms.

A mechanism is configured by one field of a function (``throttle:``, ``debounce:``...)
and contributes, per function and per simulation, any number of

* :class:`EventStage` — sees each would-be run (a :class:`Candidate`) when an event
  arrives, in the order of spec §1 (``order`` below), and lets it pass, drops it with
  an outcome and a reason, or holds it (debounce, batching) and later hands a
  candidate back with :meth:`StageContext.resume`;
* :class:`Constraint` — asked before a queue item starts (spec §3.2, §3.3): grants
  (then :meth:`Constraint.acquire` and, when the item's request ends,
  :meth:`Constraint.release`), or refuses with a :class:`Refusal` saying why, whether
  the queue walk must stop (function and account limits) or may skip the item (keys,
  throttle), and when to look again; with key queues (§3.4) it also names the key that
  gives an item its backlog (:meth:`Constraint.backlog_key`).

The engine knows no mechanism by name: it builds these lists through the registry in
:mod:`flowsim.policies` and calls them in order. Configs are parsed and validated
without SimPy; runtime objects are built fresh for every simulation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Protocol

if TYPE_CHECKING:
    from flowsim.engine.queue import DispatchOrder
    from flowsim.engine.world import QueueDepth
    from flowsim.engine.runs import QueueItem, Run
    from flowsim.platform import Platform
    from flowsim.scenario.model import FunctionSpec, Scenario
    from flowsim.scenario.source import Node
    from flowsim.streams import Streams
    from flowsim.traffic.event import Event

# The order of event stages, spec §1.
ORDER_BATCHING = 20
ORDER_RATE_LIMIT = 30
ORDER_DEBOUNCE = 40
ORDER_KEYS = 50          # per-run flow keys and priority, from events[0]
ORDER_SINGLETON = 60
ORDER_IDEMPOTENCY = 80


@dataclass(eq=False)
class Candidate:
    """A run that may be created: a function and the events it would run with.

    ``batch_id`` is set for runs built from an event batch (they bypass the rate limit
    and expression idempotency, spec §9.1); ``priority_factor`` is filled by the
    priority stage; ``attrs`` carries anything a stage wants a later one to see.
    """

    function: "FunctionSpec"
    events: list["Event"]
    batch_id: str | None = None
    priority_factor: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> "Event":
        """The event the run's keys are evaluated from (spec §1 step 5)."""
        return self.events[0]


@dataclass(frozen=True)
class Drop:
    """A stage's verdict that the candidate creates no run.

    ``outcome`` is the event outcome (``rate_limited``, ``duplicate``...), ``key`` the
    mechanism's key value it applied to (for per-key counts). With ``record_run`` a
    run with status ``skipped`` is recorded (singleton skips, §8.2).
    """

    outcome: str
    reason: str
    record_run: bool = False
    key: str = ""


HOLD = object()
"""A stage's verdict that it keeps the candidate; it will resume it (or not) later."""


@dataclass(frozen=True)
class Refusal:
    """A constraint's answer that an item may not start now.

    ``reason`` is what users see in ``blocked_by`` (``function``, ``account``,
    ``concurrency:<expr>=<value>``, ``throttle:<key>``); ``stop`` ends the queue walk
    (function and account limits, §3.3) instead of skipping the item; ``retry_at`` is
    the earliest time the answer can change by itself (throttle), ``None`` when only a
    release can change it.
    """

    reason: str
    stop: bool = False
    retry_at: float | None = None


class Timer(Protocol):
    def cancel(self) -> None: ...


class StageContext(Protocol):
    """What the engine offers event stages."""

    platform: "Platform"
    streams: "Streams"

    @property
    def now(self) -> float: ...
    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> Timer: ...
    def resume(self, candidate: Candidate, after: "EventStage") -> None: ...
    def set_outcome(self, event: "Event", function: "FunctionSpec", outcome: str,
                    run_id: str | None = None, reason: str = "", key: str = "") -> None: ...
    def cancel_run(self, run: "Run", reason: str) -> None: ...
    def wake(self, function: "FunctionSpec") -> None:
        """Ask for a walk of the function's queue now (after a policy freed capacity of its own)."""
    def log(self, kind: str, message: str, **facts: Any) -> None: ...


class EventStage:
    """Base class of event stages; subclasses set ``order`` and override ``admit``."""

    order: ClassVar[int]

    def admit(self, candidate: Candidate, ctx: StageContext) -> Drop | object | None:
        """``None`` to pass the candidate on, a :class:`Drop`, or :data:`HOLD`."""
        return None

    def run_created(self, run: "Run", ctx: StageContext) -> Drop | None:
        """Called when the run is enqueued (spec §1 step 9); may still skip it."""
        return None

    def run_ended(self, run: "Run", ctx: StageContext) -> None:
        """Called once when the run ends (completed, failed, cancelled)."""

    def horizon(self, ctx: StageContext) -> None:
        """Called at the horizon: held events stay ``pending`` unless set otherwise."""


class Constraint:
    """Base class of queue constraints (spec §3.2)."""

    stop: ClassVar[bool] = False        # refusals stop the walk (function/account) or skip
    start_only: ClassVar[bool] = False  # gates only a run's start item and its retries (throttle)

    def bind(self, run: "Run") -> None:
        """Evaluate this constraint's key for a new run, once, into ``run.keys``."""

    def check(self, item: "QueueItem", now: float) -> Refusal | None:
        """Whether ``item`` may start at ``now``: ``None`` to grant, else why not.

        A question only: it must not change state, and asked twice at one instant it gives
        the same answer (the engine may ask again, or skip asking, when nothing changed)."""
        raise NotImplementedError

    def acquire(self, item: "QueueItem", now: float) -> None:
        """Take capacity for ``item`` (called only when every constraint granted)."""

    def release(self, item: "QueueItem", now: float) -> None:
        """Give capacity back when ``item``'s request ends."""

    def backlog_key(self, item: "QueueItem") -> str | None:
        """With key queues (§3.4): the key this constraint gives the backlog ``item`` waits
        in, or ``None`` (the default) when it does not split backlogs.

        Items are kept in one backlog per function, start or not, and combination of these
        keys (Inngest's ``fn:<id>[:start][:t<throttle key>][:c1<key>][:c2<key>]``), and a
        refill grants the first of them in score order that every constraint admits, asking
        ``check`` and ``acquire`` item by item. A constraint that answers by a key must return
        it here (a value that changes only with its answer), so that every item of a backlog
        gets the same answer: a refusal by such a constraint, or by one that ``stop``\ s,
        ends the refill, since it would refuse every later item alike, and the first ``k``
        granted are exactly what Inngest's batched ``Acquire(amount=n)`` grants (the minimum
        over the constraints of their capacity, each acquire taking one unit of it). A
        refusal by any other constraint is the item's own: the refill skips that item."""
        return None

    def explain(self, item: "QueueItem", now: float) -> str:
        """Why ``item`` waits on this constraint, with the numbers (for the decision log)."""
        refusal = self.check(item, now)
        return refusal.reason if refusal is not None else "capacity available"


@dataclass
class BuildContext:
    """What a mechanism's config sees when building its runtime for one simulation."""

    scenario: "Scenario"
    function: "FunctionSpec"
    platform: "Platform"
    streams: "Streams"
    shared: dict[Any, Any]
    dispatch: "DispatchOrder | None" = None
    """A mechanism may install the order in which the function's queue offers items
    (:class:`flowsim.engine.queue.DispatchOrder`); ``None`` keeps Inngest's (§3.3)."""
    queue_depth: "QueueDepth | None" = None
    """The account's queue depth (items enqueued and not yet started), which a mechanism
    may watch (:meth:`flowsim.engine.world.QueueDepth.watch`)."""

    def shared_state(self, key: Any, factory: Callable[[], Any]) -> Any:
        """State shared by all functions of a simulation (account and env counters)."""
        if key not in self.shared:
            self.shared[key] = factory()
        return self.shared[key]


class SummarySection:
    """Shared mechanism state (:meth:`BuildContext.shared_state`) that adds a section to the
    result's summary: when the simulation ends the engine calls :meth:`report` on each such
    state, in the order they were created, and ``Result.summary()`` carries the dicts under
    ``summary["mechanisms"][section]`` (absent when no state reports)."""

    section: ClassVar[str]

    def report(self, end: float) -> dict[str, Any]:
        """The section: plain JSON values whose keys say what they are (``end``: the horizon)."""
        raise NotImplementedError


class Mechanism(Protocol):
    """A parsed, validated mechanism config (immutable, SimPy-free)."""

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]: ...


class MechanismType(Protocol):
    """A registry entry: parses the function field ``field`` into a :class:`Mechanism`."""

    field: ClassVar[str]

    @classmethod
    def parse(cls, node: "Node | None", function: "Node", scenario: "Node") -> Mechanism | None:
        """Parse the field's node (``None`` when absent; may still return a default).

        ``function`` and ``scenario`` give access to sibling fields, for the checks of
        combinations Inngest rejects.
        """
        ...
