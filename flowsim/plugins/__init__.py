"""Plug-in policies: other platforms' flow-control mechanisms, and the way to load yours.

The public policy API is documented in ``docs/policies.md``; in short, a plug-in is
either

* a *policy type* — a class with a classmethod ``parse(node, function, scenario)``
  returning a config with ``build(ctx) -> (event stages, constraints)``, exactly the
  protocol of Inngest's own mechanisms (:class:`flowsim.policies.base.MechanismType`);
  or
* a plain :class:`~flowsim.policies.base.EventStage`,
  :class:`~flowsim.policies.base.Constraint` or
  :class:`~flowsim.engine.queue.DispatchOrder` subclass, built with the entry's options
  as keyword arguments, fresh for every simulation.

A function lists them under ``policies:``, each by a registered name (entry-point group
``flowsim.policies``) or a ``"package.module:Class"`` reference (:mod:`flowsim.plugins.loader`).

Shipped plug-ins: :mod:`~flowsim.plugins.dispatch` (FIFO, round-robin, weighted fair
dispatch across keys), :mod:`~flowsim.plugins.ratelimits` (fixed window, sliding
window, token bucket and GCRA, each dropping or delaying), :mod:`~flowsim.plugins.collisions`
(Hatchet's concurrency strategies), :mod:`~flowsim.plugins.debounce_modes` (trailing
and leading debounce).
"""
from flowsim.plugins.loader import BUILTIN, PoliciesConfig, load_policy

__all__ = ["BUILTIN", "PoliciesConfig", "load_policy"]
