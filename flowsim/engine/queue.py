"""A function's queue and its walk (spec §3.3, default path).

One queue per function, ordered by score — the run's creation time minus its priority
factor for items due now, the due time for retries and resumed sleeps (§7.2) — then by
item sequence. A walk looks at the first ``peek_size`` items in order and asks every
constraint of each: if all grant, the item starts; a refusal that ``stop``\\ s (function
or account limit) ends the walk, since nothing behind it may run; any other refusal
(keyed limit, throttle) skips the item. Items beyond the peek window are not seen at
all, so head-of-line blocking inside the window is real, as in Inngest.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import TYPE_CHECKING, Callable

from flowsim.engine.runs import QueueItem

if TYPE_CHECKING:
    from flowsim.policies.base import Constraint

PEEK_WINDOW = "peek_window"


class FunctionQueue:
    """The ready items of one function, kept sorted by ``(score, seq)``."""

    __slots__ = ("entries", "peek_size", "start_constraints", "step_constraints", "retry_at", "blocked",
                 "on_wait")

    def __init__(self, constraints: list["Constraint"], peek_size: int) -> None:
        self.entries: list[tuple[float, int, QueueItem]] = []
        self.peek_size = peek_size
        ordered = sorted(constraints, key=lambda c: not c.stop)     # stop-kinds first: cheap break
        self.start_constraints = ordered
        self.step_constraints = [c for c in ordered if not c.start_only]
        self.retry_at: float | None = None
        self.blocked = False
        self.on_wait: Callable[[QueueItem, "Constraint | None", bool], None] | None = None
        """Called with (item, constraint or None for the peek window, whether the item is
        only behind a stopped walk) when an item's waiting reason changes (decision log)."""

    def __len__(self) -> int:
        return len(self.entries)

    def push(self, item: QueueItem, now: float) -> None:
        item.in_queue = True
        entries = self.entries
        entry = (item.score, item.seq, item)
        if not entries or entries[-1] < entry:
            entries.append(entry)
        else:
            insort(entries, entry)
        if len(entries) > self.peek_size and entries[self.peek_size][2] is item:
            if item.note_reason(PEEK_WINDOW, now) and self.on_wait is not None:
                self.on_wait(item, None, False)

    def remove(self, item: QueueItem) -> None:
        entries = self.entries
        i = bisect_left(entries, (item.score, item.seq))
        if i < len(entries) and entries[i][2] is item:
            del entries[i]
        item.in_queue = False

    def walk(self, now: float, start: Callable[[QueueItem, list["Constraint"]], None]) -> None:
        """Start every item the constraints allow, peeking again while the window slides.

        Afterwards ``blocked`` says whether items are left waiting (refused, or beyond
        the window) and ``retry_at`` is the earliest time a refusal said it could change
        by itself (throttle), or ``None``. A scan that started items and left some
        unseen is followed at once by another, as Inngest's scanner comes back to a
        partition that still has due items.
        """
        self.retry_at = None
        while True:
            unseen = len(self.entries) > self.peek_size
            if not (self._scan(now, start) and unseen):
                break

    def _scan(self, now: float, start: Callable[[QueueItem, list["Constraint"]], None]) -> int:
        entries = self.entries
        n = min(len(entries), self.peek_size)
        started: list[int] = []
        stop_reason: str | None = None
        stopper: "Constraint | None" = None
        on_wait = self.on_wait
        refused = False
        retry_at = self.retry_at
        for i in range(n):
            item = entries[i][2]
            if stop_reason is not None:
                if item.note_reason(stop_reason, now) and on_wait is not None:
                    on_wait(item, stopper, True)
                continue
            constraints = self.start_constraints if item.is_start else self.step_constraints
            refusal = None
            for c in constraints:
                refusal = c.check(item, now)
                if refusal is not None:
                    break
            if refusal is None:
                started.append(i)
                item.note_reason(None, now)
                start(item, constraints)
                continue
            refused = True
            if item.note_reason(refusal.reason, now) and on_wait is not None:
                on_wait(item, c, False)
            if refusal.stop:
                stop_reason = refusal.reason
                stopper = c
            elif refusal.retry_at is not None and (retry_at is None or refusal.retry_at < retry_at):
                retry_at = refusal.retry_at
        if started:
            for i in reversed(started):
                entries[i][2].in_queue = False
                del entries[i]
        self.retry_at = retry_at
        self.blocked = refused or len(entries) > n - len(started)
        return len(started)
