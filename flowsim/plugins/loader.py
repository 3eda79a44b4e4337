"""Loading plug-in policies: the ``policies:`` field of a function (see ``docs/policies.md``).

Configuration::

    policies:
      - policy: round_robin                          # a registered name...
        key: event.data.tenant                       # ...and its options
      - policy: "mypkg.limits:TenantBudget"          # or package.module:Class
        budget: 100

``policy`` names the plug-in; every other field of the entry is its options. A name is
looked up among flowsim's own plug-ins (:data:`BUILTIN`) and then the entry points of
the group ``flowsim.policies`` of every installed distribution (an installed package
adds ``name = "pkg.mod:Class"`` to ``[project.entry-points."flowsim.policies"]``); a
reference ``"package.module:Class"`` (``Class`` may be dotted) is imported directly.

What the reference must be (:func:`load_policy`):

* a *policy type*: a class with a classmethod ``parse(node, function, scenario)`` that
  validates the options (``node``: the entry without ``policy``, errors at its fields'
  lines) and returns a config with ``build(ctx) -> (stages, constraints)`` or ``None`` —
  the protocol of Inngest's own mechanisms, which load the same way
  (``policy: "flowsim.policies.throttle:ThrottleConfig"``);
* or an :class:`~flowsim.policies.base.EventStage`, :class:`~flowsim.policies.base.Constraint`
  or :class:`~flowsim.engine.queue.DispatchOrder` subclass, built as ``Class(**options)``
  for each simulation (once at load time too, so that bad options fail there).

Every failure — unknown name, module not found or failing to import, missing attribute,
not a policy class, bad options — is a :class:`~flowsim.errors.ScenarioError` at the
``policy`` field's (or the option's) line. At most one entry may install a dispatch order.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Iterable

from flowsim.engine.queue import DispatchOrder
from flowsim.policies.base import BuildContext, Constraint, EventStage, Mechanism
from flowsim.scenario.source import Node

GROUP = "flowsim.policies"
"""The entry-point group through which installed packages register named policies."""

BUILTIN: dict[str, str] = {
    "fifo": "flowsim.plugins.dispatch:Fifo",
    "round_robin": "flowsim.plugins.dispatch:RoundRobin",
    "weighted_fair": "flowsim.plugins.dispatch:WeightedFair",
    "rate_limit": "flowsim.plugins.ratelimits:RateLimit",
    "collision": "flowsim.plugins.collisions:Collision",
    "debounce": "flowsim.plugins.debounce_modes:Debounce",
}
"""flowsim's own plug-ins by name (also declared as entry points in pyproject.toml, so
that they resolve even when the installed metadata predates them)."""

SIMPLE_BASES = (EventStage, Constraint, DispatchOrder)


def registered() -> dict[str, str]:
    """Every policy name → ``module:attr``: flowsim's own, then installed entry points
    (a name flowsim already uses keeps flowsim's meaning)."""
    names = dict(BUILTIN)
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        names.setdefault(ep.name, ep.value)
    return names


def load_policy(node: Node) -> type:
    """The class the ``policy`` field at ``node`` names, checked to be a policy class."""
    ref = node.str()
    if ":" not in ref:
        names = registered()
        if ref not in names:
            known = ", ".join(sorted(names))
            raise node.error(f"unknown policy {ref!r}: not a registered name (known: {known}) nor a "
                             "'package.module:Class' reference")
        target = names[ref]
        what = f"policy {ref!r} ({target})"
    else:
        target = ref
        what = f"policy {ref!r}"
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise node.error(f"{what}: a reference is 'package.module:Class'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise node.error(f"{what}: cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:        # the plug-in's own import-time failure, reported where it is used
        raise node.error(f"{what}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise node.error(f"{what}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not inspect.isclass(obj) or not (is_policy_type(obj) or issubclass(obj, SIMPLE_BASES)):
        raise node.error(f"{what} is not a policy class: expected a class with a classmethod parse(node, "
                         "function, scenario) and build(ctx), or a subclass of EventStage, Constraint or "
                         "DispatchOrder (see docs/policies.md)")
    return obj


def _key_queues(scenario: Node) -> bool:
    """Whether the scenario's account uses key queues (its ``account.key_queues``)."""
    account = scenario.get("account")
    return account is not None and isinstance(account.value, dict) and account.value.get("key_queues") is True


def _inngest_order(mech: Any) -> bool:
    """Whether a dispatch policy installs Inngest's own order (``fifo``), which key queues keep."""
    from flowsim.plugins.dispatch import Fifo
    return isinstance(mech, Fifo)


def is_policy_type(cls: type) -> bool:
    """Whether ``cls`` follows the mechanism protocol (``parse`` classmethod and ``build``)."""
    return callable(getattr(cls, "parse", None)) and callable(getattr(cls, "build", None))


def installs_dispatch(mech: Any) -> bool:
    """Whether a parsed policy sets the function's dispatch order (declared by the class
    attribute ``dispatch = True``, or by being a :class:`DispatchOrder`)."""
    return bool(getattr(mech, "dispatch", False))


@dataclass(frozen=True)
class SimplePolicy:
    """An EventStage, Constraint or DispatchOrder subclass with its options, built per simulation."""

    cls: type
    options: tuple[tuple[str, Any], ...]

    @property
    def dispatch(self) -> bool:
        return issubclass(self.cls, DispatchOrder)

    @classmethod
    def parse(cls, target: type, node: Node) -> "SimplePolicy":
        options = dict(node.mapping())
        try:
            inspect.signature(target).bind(**options)
        except TypeError as exc:
            raise node.error(f"bad options for {target.__qualname__}: {exc}") from None
        try:
            target(**options)
        except (TypeError, ValueError) as exc:
            raise node.error(f"bad options for {target.__qualname__}: {exc}") from None
        return cls(target, tuple(options.items()))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        obj = self.cls(**dict(self.options))
        if isinstance(obj, DispatchOrder):
            ctx.dispatch = obj
            return (), ()
        if isinstance(obj, EventStage):
            return (obj,), ()
        return (), (obj,)


@dataclass(frozen=True)
class PoliciesConfig:
    """A function's ``policies:`` list: the parsed plug-ins, built in the order listed."""

    entries: tuple[tuple[str, Mechanism], ...]

    field: ClassVar[str] = "policies"

    @classmethod
    def parse(cls, node: Node | None, function: Node, scenario: Node) -> "PoliciesConfig | None":
        if node is None:
            return None
        entries: list[tuple[str, Mechanism]] = []
        dispatch_at: Node | None = None
        for entry in node.elements():
            entry.mapping(required=("policy",))
            ref = entry.child("policy")
            target = load_policy(ref)
            options = Node({k: v for k, v in entry.value.items() if k != "policy"}, entry.path, entry.source)
            if is_policy_type(target):
                try:
                    mech = target.parse(options, function, scenario)
                except (TypeError, ValueError) as exc:       # a ScenarioError passes through as is
                    raise entry.error(f"policy {ref.value!r} rejected its options: {type(exc).__name__}: "
                                      f"{exc}") from None
            else:
                mech = SimplePolicy.parse(target, options)
            if mech is None:
                continue
            if installs_dispatch(mech):
                if dispatch_at is not None:
                    raise ref.error(f"only one policy may set the dispatch order; "
                                    f"{dispatch_at.value!r} already does")
                if _key_queues(scenario) and not _inngest_order(mech):
                    raise ref.error(f"policy {ref.value!r} sets the order of the default queue path's walk; with "
                                    "account.key_queues the order is Inngest's: per-key backlogs refilled in a "
                                    "weighted random order (§3.4). Remove one of the two")
                dispatch_at = ref
            entries.append((str(ref.value), mech))
        return cls(tuple(entries)) if entries else None

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        stages: list[EventStage] = []
        constraints: list[Constraint] = []
        for _, mech in self.entries:
            s, c = mech.build(ctx)
            stages.extend(s)
            constraints.extend(c)
        return stages, constraints

