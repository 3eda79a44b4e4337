"""Dispatch orders across keys: which ready item of a function's queue is offered next.

A dispatch order replaces the order of the function's queue (:class:`flowsim.engine.queue.DispatchOrder`);
the constraints and the peek window (spec §3.3) are unchanged: the walk still asks every
constraint of each item of the window, a stopping refusal still ends it. Configuration::

    policies:
      - policy: fifo                                   # Inngest's order (the default anyway)
      - policy: round_robin
        key: event.data.tenant
      - policy: weighted_fair
        key: event.data.tenant
        weight: "event.data.tier == 'pro' ? 3.0 : 1.0"   # CEL, per item; default 1.0

* :class:`Fifo` — **Inngest** (spec §3.3, §7.2): by score (run creation time minus the
  priority factor; due time for retries and resumed sleeps), then item sequence.
* :class:`RoundRobin` — **Hatchet** ``GROUP_ROUND_ROBIN`` ("each distinct group gets a fair
  share": keys A×5, B×5, C×5 queued with 2 slots run A, B, C, A, B, C, …, Hatchet docs,
  concurrency) and **BullMQ Pro** groups (jobs of different groups are processed in
  round-robin). Keys with ready items form a ring in the order they became backlogged;
  the window takes the first item of every key in ring order, then the second of each,
  and so on; after a walk the ring turns so that the key after the last one started
  comes first. A key that empties leaves the ring; one that fills again joins at its end.
  Within a key, items keep Inngest's order.
* :class:`WeightedFair` — **Temporal** task-queue fairness (fairness keys and weights:
  "dispatches tasks for different fairness keys in proportion to their weights", weight a
  positive float, default 1.0; a key of weight 2.0 is dispatched twice as often as one
  of 1.0). Modelled as stride scheduling (start-time fair queueing): every key has a
  virtual *pass*; the window offers items by ascending pass of their key, an item of
  weight ``w`` advancing its key's pass by ``1/w`` when it starts; a key that becomes
  backlogged again starts at ``max(its pass, the pass of the last item started)``, so an
  idle key banks no credit. A weight that is not a positive number counts as 1.0.

The key of each run is recorded in ``runs.keys["dispatch"]``.
"""
from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from dataclasses import dataclass
from typing import ClassVar, Iterable

from flowsim.engine.queue import DispatchOrder, ScoreOrder
from flowsim.engine.runs import QueueItem
from flowsim.expr import Expr, ExprEvalError
from flowsim.plugins.keys import key_of, parse_key
from flowsim.policies.base import BuildContext, Constraint, EventStage
from flowsim.scenario.source import Node

LABEL = "dispatch"      # the run's dispatch key in runs.keys
Entry = tuple[float, int, QueueItem]


@dataclass(frozen=True)
class Fifo:
    """Inngest's dispatch order (§3.3): by score, then sequence."""

    dispatch: ClassVar[bool] = True

    @classmethod
    def parse(cls, node: Node, function: Node, scenario: Node) -> "Fifo":
        node.mapping(())
        return cls()

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        ctx.dispatch = ScoreOrder()
        return (), ()


class KeyedOrder(DispatchOrder):
    """Items grouped by key, each group in Inngest's order; subclasses choose across keys."""

    def __init__(self, key: Expr) -> None:
        self.key = key
        self.queues: dict[str, list[Entry]] = {}
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def key_of(self, item: QueueItem) -> str:
        """The run's dispatch key, evaluated once per run into ``run.keys``."""
        keys = item.run.keys
        value = keys.get(LABEL)
        if value is None:
            value = keys[LABEL] = key_of(self.key, item.run.event)
        return value

    def _insert(self, item: QueueItem) -> tuple[str, int, bool]:
        """Add ``item`` to its key's queue: (key, rank in the key, whether the key was empty)."""
        key = self.key_of(item)
        queue = self.queues.get(key)
        fresh = queue is None
        if fresh:
            queue = self.queues[key] = []
        entry = (item.score, item.seq, item)
        insort(queue, entry)
        self.n += 1
        return key, bisect_left(queue, entry), fresh

    def _delete(self, item: QueueItem) -> bool:
        """Take ``item`` out; True if its key's queue became empty."""
        key = self.key_of(item)
        queue = self.queues.get(key)
        if queue is None:
            return False
        i = bisect_left(queue, (item.score, item.seq))
        if i >= len(queue) or queue[i][2] is not item:
            return False
        del queue[i]
        self.n -= 1
        if not queue:
            del self.queues[key]
            return True
        return False


class RoundRobinOrder(KeyedOrder):
    """Hatchet's GROUP_ROUND_ROBIN / BullMQ Pro groups: one item per key in turn."""

    def __init__(self, key: Expr) -> None:
        super().__init__(key)
        self.ring: list[str] = []       # keys with items; ring[0] is served next

    def push(self, item: QueueItem) -> int:
        key, rank, fresh = self._insert(item)
        if fresh:
            self.ring.append(key)
        # Position: every key contributes min(len, rank) items of earlier rounds, and the
        # keys before this one in the ring one more if they reach this round.
        pos = rank
        before = True
        for k in self.ring:
            if k == key:
                before = False
                continue
            size = len(self.queues[k])
            pos += min(size, rank) + (1 if before and size > rank else 0)
        return pos

    def remove(self, item: QueueItem) -> None:
        key = self.key_of(item)
        if self._delete(item):
            self.ring.remove(key)

    def window(self, n: int) -> list[QueueItem]:
        out: list[QueueItem] = []
        queues = self.queues
        rank = 0
        while len(out) < n:
            took = False
            for k in self.ring:
                q = queues[k]
                if rank < len(q):
                    out.append(q[rank][2])
                    took = True
                    if len(out) == n:
                        return out
            if not took:
                break
            rank += 1
        return out

    def started(self, items: list[QueueItem]) -> None:
        last = self.key_of(items[-1])
        i = self.ring.index(last)
        self.ring = self.ring[i + 1:] + self.ring[:i + 1]
        for item in items:
            self.remove(item)


class WeightedFairOrder(KeyedOrder):
    """Temporal's fairness keys: stride scheduling across keys by weight."""

    def __init__(self, key: Expr, weight: Expr | None) -> None:
        super().__init__(key)
        self.weight = weight
        self.passes: dict[str, float] = {}
        self.since: dict[str, int] = {}     # tie-break: when the key last became backlogged
        self.vtime = 0.0                    # the pass of the last item started
        self.backlogged = 0

    def stride(self, item: QueueItem) -> float:
        """``1 / weight`` of the item's run (weight from the expression, default 1.0)."""
        attrs = item.run.attrs
        s = attrs.get("dispatch_stride")
        if s is None:
            w = 1.0
            if self.weight is not None:
                try:
                    v = self.weight.on(item.run.event)
                except ExprEvalError:
                    v = None
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                    w = float(v)
            s = attrs["dispatch_stride"] = 1.0 / w
        return s

    def push(self, item: QueueItem) -> int:
        key, rank, fresh = self._insert(item)
        if fresh:
            self.passes[key] = max(self.passes.get(key, 0.0), self.vtime)
            self.backlogged += 1
            self.since[key] = self.backlogged
        # Approximate position (it only labels items beyond the peek window): the items of
        # every key whose virtual start precedes this item's, each key at its head's stride.
        queue = self.queues[key]
        start = self.passes[key] + sum(self.stride(e[2]) for e in queue[:rank])
        pos = rank
        for k, q in self.queues.items():
            if k != key:
                ahead = (start - self.passes[k]) / self.stride(q[0][2])
                pos += min(len(q), max(0, int(ahead) + 1))
        return pos

    def remove(self, item: QueueItem) -> None:
        self._delete(item)

    def window(self, n: int) -> list[QueueItem]:
        queues = self.queues
        heap = [(self.passes[k], self.since[k], k, 0) for k in queues]
        heapq.heapify(heap)
        out: list[QueueItem] = []
        while heap and len(out) < n:
            p, since, k, i = heapq.heappop(heap)
            item = queues[k][i][2]
            out.append(item)
            if i + 1 < len(queues[k]):
                heapq.heappush(heap, (p + self.stride(item), since, k, i + 1))
        return out

    def started(self, items: list[QueueItem]) -> None:
        for item in items:
            key = self.key_of(item)
            p = self.passes[key]
            self.vtime = max(self.vtime, p)
            self.passes[key] = p + self.stride(item)
            self._delete(item)


@dataclass(frozen=True)
class RoundRobin:
    """``round_robin``: Hatchet GROUP_ROUND_ROBIN / BullMQ Pro groups across ``key`` values."""

    key: Expr
    dispatch: ClassVar[bool] = True

    @classmethod
    def parse(cls, node: Node, function: Node, scenario: Node) -> "RoundRobin":
        node.mapping(("key",), required=("key",))
        return cls(parse_key(node.child("key")))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        ctx.dispatch = RoundRobinOrder(self.key)
        return (), ()


@dataclass(frozen=True)
class WeightedFair:
    """``weighted_fair``: Temporal fairness keys, shares in proportion to ``weight``."""

    key: Expr
    weight: Expr | None
    dispatch: ClassVar[bool] = True

    @classmethod
    def parse(cls, node: Node, function: Node, scenario: Node) -> "WeightedFair":
        node.mapping(("key", "weight"), required=("key",))
        weight = node.get("weight")
        if weight is not None and isinstance(weight.value, (int, float)) and not isinstance(weight.value, bool):
            weight = Node(repr(float(weight.value)), weight.path, weight.source)
        return cls(parse_key(node.child("key")), parse_key(weight, "weight"))

    def build(self, ctx: BuildContext) -> tuple[Iterable[EventStage], Iterable[Constraint]]:
        ctx.dispatch = WeightedFairOrder(self.key, self.weight)
        return (), ()
