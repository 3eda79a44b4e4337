"""The registry of flow-control mechanisms: scenario field name → mechanism type.

The engine builds each function's event stages and queue constraints from this
registry and never names a mechanism. A new mechanism is a module plus an entry here.
Every entry is asked to parse its field even when the field is absent, so that
always-on rules (the account limit, event-id idempotency) live in their mechanism's
module too. The order of entries is the order in which fields are validated; the
order in which stages see events is their own ``order`` (spec §1).
"""
from __future__ import annotations

from flowsim.policies.base import MechanismType
from flowsim.policies.batching import BatchConfig
from flowsim.policies.concurrency import ConcurrencyConfig
from flowsim.policies.debounce import DebounceConfig
from flowsim.policies.idempotency import IdempotencyConfig
from flowsim.policies.priority import PriorityConfig
from flowsim.policies.ratelimit import RateLimitConfig
from flowsim.policies.singleton import SingletonConfig
from flowsim.policies.throttle import ThrottleConfig
from flowsim.plugins.loader import PoliciesConfig

MECHANISMS: dict[str, type[MechanismType]] = {
    "concurrency": ConcurrencyConfig,
    "batchEvents": BatchConfig,
    "debounce": DebounceConfig,
    "singleton": SingletonConfig,
    "priority": PriorityConfig,
    "throttle": ThrottleConfig,
    "rateLimit": RateLimitConfig,
    "idempotency": IdempotencyConfig,
    "policies": PoliciesConfig,     # plug-ins by name or reference (flowsim.plugins, docs/policies.md)
}
