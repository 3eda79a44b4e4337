"""The platform's timing model: Inngest's constants, each with its spec section.

Two profiles: ``inngest`` (the default) reproduces the delays and granularities of
Inngest's engine; ``ideal`` sets every overhead to zero, for analytic work where the
closed forms of ``spec/README.md`` assume an instantaneous platform. A scenario picks
a profile and may override single constants::

    platform: ideal
    platform: {profile: inngest, peek_size: 500}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from flowsim.scenario.source import Node

BACKOFF_TABLE = (15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0)
"""Retry backoff in seconds, the last value repeating (``backoff.TableBackoff``, §10)."""


@dataclass(frozen=True)
class Platform:
    """Timing constants. Times are seconds."""

    profile: str = "inngest"
    peek_size: int = 300
    """Items peeked per partition scan (§3.3: random in [300, 750], skewed to 300; the
    lower bound is used, so head-of-line blocking shows at its most likely size)."""
    future_at_limit: float = 2.0
    """Items due within this of now are scored by run creation − priority factor; later
    ones keep their due time as score (``consts.FutureAtLimit``, §7.2)."""
    throttle_rescan: float = 1.0
    """A throttle-blocked partition is rescanned at ``now.Truncate(1s) + 1s``
    (``PartitionThrottleLimitRequeueExtension``, §3.3); 0 = exactly at the GCRA's time."""
    throttle_force: bool = True
    """The throttle rescan is forced (``PartitionRequeue(..., force=true)`` in
    ``process_partition.go``, §3.3): until it comes, an arrival does not make the function's
    queue walked (``enqueue_to_partition.lua`` moves the partition earlier only after
    ``forceAtMS``); the end of one of the function's own executing items does
    (``dequeue.lua`` rescores the partition and clears ``forceAtMS``). ``ideal``: off,
    every arrival is looked at when it comes."""
    gcra_key_expiry: bool = True
    """Throttle and rate-limit keys expire as Inngest's Lua writes them (§2.3): each
    consuming request sets ``EX = trunc(max((tat − now) / 1 s, 1))`` seconds, so a key can
    vanish up to a second before its ``tat`` and the next request finds an idle bucket
    (``helper/gcra.lua``, ``ratelimit.lua``). ``ideal``: off, the exact GCRA (a key lives
    until its ``tat``)."""
    debounce_delay: float = 1.05
    """A debounce fires ``period + 50 ms + 1 s`` after its last event (§6.2)."""
    debounce_min_ttl: float = 1.0
    """A debounce's remaining wait is clamped to at least 1 s (§6.2, §6.4)."""
    batch_buffer: float = 0.5
    """Batch appends are buffered up to 500 ms (``DefaultMaxBufferDuration``, §9.2) or
    until the buffer holds the function's ``maxSize`` events, then bulk-appended (the
    50-event ``DefaultMaxBufferSize`` applies only to functions without a ``maxSize``,
    which batching functions always have: ``buffer.go``)."""
    retry_jitter: float = 30.0
    """Uniform 0–30 s jitter added to every retry backoff (§10)."""
    singleton_cancel_gap: float = 0.01
    """Singleton ``cancel`` mode: time from freeing the holder's lock (GETDEL) to the
    new run's enqueue, which takes the lock (§8.2). In between Inngest cancels the
    holder (load metadata and events, ``Finalize``) and creates the new run's state:
    about ten sequential Redis round trips, ~1 ms each, so 10 ms [an estimate, not
    measured]. An event of the same key arriving meanwhile finds the lock free and
    takes it, and the late run is skipped. ``ideal``: 0 (release and enqueue atomic)."""
    backoff: tuple[float, ...] = BACKOFF_TABLE

    def retry_delay(self, attempt: int, u: float) -> float:
        """Backoff before retry number ``attempt`` (1-based), ``u`` uniform in [0, 1)."""
        table = self.backoff
        return table[min(attempt - 1, len(table) - 1)] + u * self.retry_jitter

    def throttle_wake(self, now: float, retry_at: float) -> float:
        """When a partition refused by throttle is looked at again (§3.3)."""
        if self.throttle_rescan <= 0:
            return retry_at
        step = self.throttle_rescan
        # Rescans happen at whole-second ticks after the refusal: the first tick at or
        # after the moment the GCRA allows the start.
        first = (math.floor(now / step) + 1) * step
        if retry_at <= first:
            return first
        return math.ceil(retry_at / step) * step


INNGEST = Platform()
IDEAL = Platform(profile="ideal", throttle_rescan=0.0, throttle_force=False, gcra_key_expiry=False,
                 debounce_delay=0.0, debounce_min_ttl=0.0, batch_buffer=0.0, singleton_cancel_gap=0.0)
PROFILES = {"inngest": INNGEST, "ideal": IDEAL}

_DURATIONS = {"future_at_limit", "throttle_rescan", "debounce_delay", "debounce_min_ttl",
              "batch_buffer", "retry_jitter", "singleton_cancel_gap"}
_SWITCHES = {"throttle_force", "gcra_key_expiry"}


def parse_platform(node: Node | None) -> Platform:
    """Parse the scenario's ``platform`` field: a profile name or a mapping of overrides."""
    if node is None:
        return INNGEST
    if isinstance(node.value, str):
        return PROFILES[node.choice(PROFILES)]
    names = [f.name for f in fields(Platform) if f.name != "backoff"]
    node.mapping(names)
    base = PROFILES[node.get("profile").choice(PROFILES)] if node.get("profile") else INNGEST
    overrides = {}
    for key, child in node.items():
        if key == "profile":
            continue
        if key in _DURATIONS:
            overrides[key] = child.duration()
        elif key in _SWITCHES:
            overrides[key] = child.bool()
        else:
            overrides[key] = child.int(minimum=1)
    return replace(base, **overrides)
