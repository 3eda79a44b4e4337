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
import warnings
from dataclasses import dataclass, fields, replace

from flowsim.errors import ScenarioWarning
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
    # -- key queues (§3.4, §2.4), used only with ``account: {key_queues: true}``; ``ideal``
    # sets every delay to zero (a continuous scanner, no lookahead, no requeue back-off) and
    # keeps the bounds and weights, which shape the order rather than add time.
    shadow_tick: float = 0.1
    """The shadow scanner polls every 100 ms (``defaultShadowPollTick``,
    ``pkg/execution/queue/consts.go``, ``scan.go``): backlogs are refilled only at these
    ticks (multiples of it from t = 0), so a freed slot or a new arrival waits for the next
    one. 0 = continuous (``ideal``): a scan whenever an item enters a backlog, a slot is
    released or a requeue time comes. Otherwise at least 1 ms."""
    backlog_lookahead: float = 2.0
    """A scan takes the functions whose earliest backlog is due by ``now.Truncate(1s) + 2s``
    (``ShadowPartitionLookahead``, ``scan.go``) and, in them, the backlogs and items due by
    ``now + 2s`` (``shadow_process.go``): an item is refilled, and takes its slots and
    throttle, up to 2 s before it is due, then waits in the ready queue (§2.4). ``ideal``: 0."""
    backlog_peek: int = 100
    """Backlogs peeked per scan of a function, at a random offset when more are due
    (``ShadowPartitionPeekMaxBacklogs``, ``peekOrderedSetUntil.lua``); a continuous
    scanner takes every due backlog."""
    refill_size: int = 20
    """Items asked for per backlog refill (``constraintapi.MaximumAmount``,
    ``shadow_process.go``); the constraints grant the first k by score (``acquire.lua``)."""
    step_backlog_weight: int = 10
    """Weight of a backlog of continuing runs (steps, resumed sleeps) in the scan's weighted
    shuffle (``ShuffleBacklogs``, ``backlog.go``)."""
    start_backlog_weight: int = 1
    """Weight of a backlog of run starts in that shuffle (``ShuffleBacklogs``)."""
    key_backoff_step: float = 0.0
    """A backlog refused by a keyed limit is requeued ``min(hits × step, concurrency_requeue)``
    later, ``hits`` its successive refusals (``requeueBackOff``, ``backlog.go``). At the
    spec's snapshot nothing increments ``hits`` any more (the counter left
    ``backlogRefill.lua`` in April 2026), so production requeues it at once: 0. 1 s gives
    the spec's ``min(hits s, 5 s)``."""
    concurrency_requeue: float = 5.0
    """A function whose refill was cut short by the function or account limit is not scanned
    again for 5 s, unless an enqueue pulls it earlier; also the cap of the keyed back-off
    (``PartitionConcurrencyLimitRequeueExtension``, ``consts.go``, ``shadow_process.go``).
    ``ideal``: 0."""
    concurrency_retry: float = 2.0
    """A concurrency limit that refuses a refill asks to be retried 2 s later
    (``ConcurrencyLimitRetryAfter``, ``pkg/constraintapi/constraints.go``): the backlog's
    requeue time when a function or account limit refused it. ``ideal``: 0."""
    throttle_backoff_max: float = 300.0
    """A throttled backlog is requeued at the throttle's retry time, at most 5 min ahead
    (``BacklogForceRequeueMaxBackoff``, ``consts.go``); kept by ``ideal``."""

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
                 debounce_delay=0.0, debounce_min_ttl=0.0, batch_buffer=0.0, singleton_cancel_gap=0.0,
                 shadow_tick=0.0, backlog_lookahead=0.0, concurrency_requeue=0.0, concurrency_retry=0.0)
PROFILES = {"inngest": INNGEST, "ideal": IDEAL}

_DURATIONS = {"future_at_limit", "throttle_rescan", "debounce_delay", "debounce_min_ttl",
              "batch_buffer", "retry_jitter", "singleton_cancel_gap",
              "shadow_tick", "backlog_lookahead", "key_backoff_step", "concurrency_requeue",
              "concurrency_retry", "throttle_backoff_max"}
_SWITCHES = {"throttle_force", "gcra_key_expiry"}
MIN_SHADOW_TICK = 0.001
"""A nonzero ``shadow_tick`` must be at least 1 ms (Inngest's clocks are in milliseconds)."""
KEY_QUEUE_CONSTANTS = ("shadow_tick", "backlog_lookahead", "backlog_peek", "refill_size", "step_backlog_weight",
                       "start_backlog_weight", "key_backoff_step", "concurrency_requeue", "concurrency_retry",
                       "throttle_backoff_max")
"""The constants only the key-queue path reads (§3.4)."""


def parse_platform(node: Node | None, key_queues: bool = False) -> Platform:
    """Parse the scenario's ``platform`` field: a profile name or a mapping of overrides.

    A key-queue constant set while the account does not use key queues (``key_queues``)
    changes nothing, and is warned about."""
    if node is None:
        return INNGEST
    if isinstance(node.value, str):
        return PROFILES[node.choice(PROFILES)]
    names = [f.name for f in fields(Platform) if f.name != "backoff"]
    node.mapping(names)
    if not key_queues:
        for name in KEY_QUEUE_CONSTANTS:
            if node.get(name) is not None:
                warnings.warn(ScenarioWarning(node.child(name).error(
                    f"{name} applies only to the key-queue path (account: {{key_queues: true}}); this "
                    "scenario uses the default path, which ignores it").format()))
    base = PROFILES[node.get("profile").choice(PROFILES)] if node.get("profile") else INNGEST
    overrides = {}
    for key, child in node.items():
        if key == "profile":
            continue
        if key == "shadow_tick":
            tick = child.duration()
            if 0 < tick < MIN_SHADOW_TICK:
                raise child.error(f"shadow_tick must be 0 (a continuous scanner) or at least 1ms, got {tick:g}s")
            overrides[key] = tick
        elif key in _DURATIONS:
            overrides[key] = child.duration()
        elif key in _SWITCHES:
            overrides[key] = child.bool()
        else:
            overrides[key] = child.int(minimum=1)
    return replace(base, **overrides)
