"""A function's queue and its walk (spec §3.3, default path).

One queue per function, in a dispatch order; Inngest's (the default) is by score — the run's creation time minus its priority
factor for items due now, the due time for retries and resumed sleeps (§7.2) — then by
item sequence. A walk looks at the first ``peek_size`` items in order and asks every
constraint of each: if all grant, the item starts; a refusal that ``stop``\\ s (function
or account limit) ends the walk, since nothing behind it may run; any other refusal
(keyed limit, throttle) skips the item. Items beyond the peek window are not seen at
all, so head-of-line blocking inside the window is real, as in Inngest.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Callable

from flowsim.engine.runs import QueueItem

if TYPE_CHECKING:
    from flowsim.policies.base import Constraint

PEEK_WINDOW = "peek_window"


class DispatchOrder:
    """The order in which a function's ready items are offered to the constraints.

    The default, :class:`ScoreOrder`, is Inngest's: by score, then item sequence
    (§3.3, §7.2). Other platforms' orders (round-robin or weighted fair across keys)
    subclass this and are installed by a mechanism through ``BuildContext.dispatch``.
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def push(self, item: QueueItem) -> int:
        """Add a ready item; return its position in the order."""
        raise NotImplementedError

    def remove(self, item: QueueItem) -> None:
        """Take out an item that will not start (cancelled)."""
        raise NotImplementedError

    def window(self, n: int) -> list[QueueItem]:
        """The first ``n`` items in dispatch order (all of them if fewer than ``n``)."""
        raise NotImplementedError

    def started(self, items: list[QueueItem]) -> None:
        """Take out items of the last window that started, in window order."""
        raise NotImplementedError


class ScoreOrder(DispatchOrder):
    """Inngest's order: ascending ``(score, seq)``, kept sorted in two parallel lists
    (the keys, for bisection; the items, so that a window is one slice)."""

    __slots__ = ("keys", "items")

    def __init__(self) -> None:
        self.keys: list[tuple[float, int]] = []
        self.items: list[QueueItem] = []

    def __len__(self) -> int:
        return len(self.items)

    def push(self, item: QueueItem) -> int:
        keys = self.keys
        key = (item.score, item.seq)
        if not keys or keys[-1] < key:
            keys.append(key)
            self.items.append(item)
            return len(keys) - 1
        i = bisect_left(keys, key)
        keys.insert(i, key)
        self.items.insert(i, item)
        return i

    def remove(self, item: QueueItem) -> None:
        keys = self.keys
        i = bisect_left(keys, (item.score, item.seq))
        if i < len(keys) and self.items[i] is item:
            del keys[i]
            del self.items[i]

    def window(self, n: int) -> list[QueueItem]:
        return self.items[:n]

    def started(self, items: list[QueueItem]) -> None:
        k = len(items)
        if self.items[k - 1] is items[-1]:     # a subsequence of the window whose last is k-th: the first k
            del self.keys[:k]
            del self.items[:k]
            return
        if k == 1:
            self.remove(items[0])
            return
        gone = set(map(id, items))
        keep = [i for i, item in enumerate(self.items) if id(item) not in gone]
        self.keys = [self.keys[i] for i in keep]
        self.items = [self.items[i] for i in keep]


class FunctionQueue:
    """The ready items of one function, in their dispatch order, and the walk."""

    __slots__ = ("order", "peek_size", "start_constraints", "step_constraints", "retry_at", "blocked",
                 "on_wait", "stopped", "_inserts_only")

    def __init__(self, constraints: list["Constraint"], peek_size: int, order: DispatchOrder | None = None) -> None:
        self.order = order if order is not None else ScoreOrder()
        self.peek_size = peek_size
        ordered = sorted(constraints, key=lambda c: not c.stop)     # stop-kinds first: cheap break
        self.start_constraints = ordered
        self.step_constraints = [c for c in ordered if not c.start_only]
        self.retry_at: float | None = None
        self.blocked = False
        self.on_wait: Callable[[QueueItem, "Constraint | None", bool], None] | None = None
        """Called with (item, constraint or None for the peek window, whether the item is
        only behind a stopped walk) when an item's waiting reason changes (decision log)."""
        self.stopped: tuple[QueueItem, str] | None = None
        """After a walk that stopped at the first item it did not start (every item before
        it started, so that it is now the first): that item and the reason."""
        self._inserts_only = type(self.order) is ScoreOrder     # a push moves no other item

    def __len__(self) -> int:
        return len(self.order)

    def push(self, item: QueueItem, now: float, hold: bool = False) -> bool:
        """Add a ready item. With ``hold``, say whether a walk now would start nothing and
        change nothing but this item's waiting reason, and if so note that reason here as
        the walk would: the last walk stopped at what is its first item now, nothing left
        the queue since, and the first item now (that one, or this one if it comes first)
        is refused by a stop with the same reason. Only for Inngest's order, where a push
        moves no other item; the engine asks only when no walk is pending anyway."""
        item.in_queue = True
        position = self.order.push(item)
        on_wait = self.on_wait
        if position >= self.peek_size:
            if item.note_reason(PEEK_WINDOW, now) and on_wait is not None:
                on_wait(item, None, False)
        stopped = self.stopped
        if not hold or stopped is None or not self._inserts_only:
            return False
        head, reason = stopped
        first = item if position == 0 else head
        stopper = None
        for c in self.start_constraints if first.is_start else self.step_constraints:
            refusal = c.check(first, now)
            if refusal is not None:
                if refusal.stop and refusal.reason == reason:
                    stopper = c
                break
        if stopper is None:
            return False
        if position == 0:
            self.stopped = (item, reason)
        if position < self.peek_size and item.reason != reason and item.note_reason(reason, now) \
                and on_wait is not None:
            on_wait(item, stopper, position > 0)
        return True

    def walk_alone(self, item: QueueItem, now: float, start: Callable[[QueueItem, list["Constraint"]], None]) -> bool:
        """Walk an empty queue with ``item`` alone in it, when that walk needs no more than
        this item's answer: if every constraint grants it, start it without queueing it; if
        one that stops the walk refuses it, queue it as the walk would, stopped at it. True
        when done so (``blocked`` then says which); False, changing nothing, for a refusal
        that skips (a keyed limit, a throttle: the walk also says when to look again) or a
        queue that is not empty or not in Inngest's order (then push the item and walk).
        The engine asks only when that walk would come next (see ``World._offer``)."""
        if not self._inserts_only or len(self.order):
            return False
        constraints = self.start_constraints if item.is_start else self.step_constraints
        for c in constraints:
            refusal = c.check(item, now)
            if refusal is not None:
                if not refusal.stop:
                    return False
                self.order.push(item)
                item.in_queue = True
                if item.note_reason(refusal.reason, now) and self.on_wait is not None:
                    self.on_wait(item, c, False)
                self.retry_at = None
                self.stopped = (item, refusal.reason)
                self.blocked = True
                return True
        if item.reason is not None:
            item.note_reason(None, now)
        start(item, constraints)
        self.retry_at = None
        self.stopped = None
        self.blocked = False
        return True

    def remove(self, item: QueueItem) -> None:
        self.order.remove(item)
        item.in_queue = False
        self.stopped = None

    def walk(self, now: float, start: Callable[[QueueItem, list["Constraint"]], None]) -> None:
        """Start every item the constraints allow, peeking again while the window slides.

        Afterwards ``blocked`` says whether items are left waiting (refused, or beyond
        the window) and ``retry_at`` is the earliest time a refusal said it could change
        by itself (throttle), or ``None``. A scan that started items and left some
        unseen is followed at once by another, as Inngest's scanner comes back to a
        partition that still has due items.
        """
        order, peek = self.order, self.peek_size
        on_wait = self.on_wait
        start_constraints, step_constraints = self.start_constraints, self.step_constraints
        retry_at = None
        while True:
            # One look at the window of ready items (the whole queue if shorter).
            window = order.window(peek)
            if not window:
                self.retry_at = retry_at
                self.blocked = False
                self.stopped = None
                return
            seen_all = len(window) < peek or len(order) == peek
            started: list[QueueItem] = []
            refused = False
            stopped = None
            items = iter(window)
            for item in items:
                constraints = start_constraints if item.is_start else step_constraints
                refusal = None
                for c in constraints:
                    refusal = c.check(item, now)
                    if refusal is not None:
                        break
                if refusal is None:
                    started.append(item)
                    if item.reason is not None:
                        item.note_reason(None, now)
                    start(item, constraints)
                    continue
                refused = True
                if item.reason != refusal.reason and item.note_reason(refusal.reason, now) and on_wait is not None:
                    on_wait(item, c, False)
                if refusal.stop:
                    # Nothing behind may start: the rest of the window waits behind this item.
                    stop_reason = refusal.reason
                    if item is window[len(started)]:     # everything before it started: the head now
                        stopped = (item, stop_reason)
                    for item in items:
                        if item.reason != stop_reason and item.note_reason(stop_reason, now) and on_wait is not None:
                            on_wait(item, c, True)
                    break
                if refusal.retry_at is not None and (retry_at is None or refusal.retry_at < retry_at):
                    retry_at = refusal.retry_at
            if started:
                for item in started:
                    item.in_queue = False
                order.started(started)
            self.retry_at = retry_at
            self.stopped = stopped
            self.blocked = refused or not seen_all
            if not started or seen_all:
                return
