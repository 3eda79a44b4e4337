"""Traffic sources (the scenario's ``traffic:`` list) and their merge into one stream.

An entry is either *generated*::

    - event: user/profile.updated            # required
      name: signups                          # optional; default "t<index>"
      arrivals: {poisson: {rate: 20/s}}      # required, see flowsim.traffic.arrivals
      data: {user_id: {zipf: {n: 5000}, format: "user-{}"}}   # see flowsim.traffic.data
      start: 0s                              # optional window inside the horizon
      end: 30m
      ts_offset: {uniform: {min: -1s, max: 1s}}   # optional: ts = at + offset

or *explicit*::

    - name: replay                           # optional
      event: user/profile.updated            # optional default for the events' name
      events:
        - {at: 0s, name: user/profile.updated, data: {user_id: a}}
        - {at: 1.5s, data: {user_id: a}, id: evt-2, ts: 1s, user: {}, durations: {send: 2s}}

or a *replay* of a recorded trace (an Inngest JSON Lines event file or a CSV/TSV trace,
read lazily; see :mod:`flowsim.traffic.replay` for the whole mapping)::

    - name: nasa                             # optional
      event: nasa/request                    # the name of events that carry none
      replay: {file: traces/nasa.tsv.gz, time: time, data: [host, url]}

``ts_offset`` is any distribution of :mod:`flowsim.distributions` whose constant,
uniform or empirical values may be negative (``-1s``: the event's own clock is behind).
Explicit events are sorted by ``at`` (stably); ``at`` must be non-negative and events
at or after the horizon are not emitted. An event's id is its explicit ``id``, else
``<source>-<k>`` with ``k`` its 0-based position in the source's (sorted) output.

Randomness comes from the streams ``arrivals:<source>``, ``data:<source>/<field>``
and ``ts:<source>``, so each source and each field has its own dice: adding a source
or a field changes nobody else's values. Data is drawn per block of ``CHUNK`` arrivals.
"""
from __future__ import annotations

import copy
import heapq
from itertools import chain
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from flowsim.distributions import Distribution, parse_distribution, signed_duration
from flowsim.scenario.source import Node
from flowsim.streams import Streams
from flowsim.traffic.arrivals import CHUNK, ArrivalProcess, Expected, parse_arrivals
from flowsim.traffic.data import FieldGenerator, parse_data, records
from flowsim.traffic.event import NO_USER, Event
from flowsim.traffic.replay import parse_replay


class TrafficSource(Protocol):
    """A named source of events, yielded in order of ``at``."""

    @property
    def name(self) -> str:
        """Unique among the scenario's sources; names its random streams."""
        ...

    def events(self, streams: Streams, horizon: float) -> Iterator[Event]:
        """This source's events with ``at < horizon``, sorted by ``at``, lazily."""
        ...

    def expected_events(self, streams: Streams, horizon: float) -> Expected:
        """How many events :meth:`events` yields before ``horizon``: from the arrival
        process's closed form, counted, or read (a replay is read through as a run reads
        it, so a broken trace raises here what the run would raise)."""
        ...


#: The ``data`` of every event of a generated source without data fields.
_NO_DATA: dict[str, Any] = {}


@dataclass(frozen=True)
class GeneratedSource:
    name: str
    event: str
    arrivals: ArrivalProcess
    data: dict[str, FieldGenerator]
    start: float = 0.0
    end: float | None = None
    ts_offset: Distribution | None = None

    def events(self, streams: Streams, horizon: float) -> Iterator[Event]:
        """The events, numbered by ``seq`` = their index in this source (what :func:`merge`
        assigns when this is the only source).

        Each is made without ``Event.__init__``, whose conversions and defaults it does not
        need (times are floats already): that costs about half as much per event.
        """
        end = horizon if self.end is None else min(self.end, horizon)
        blocks = _chunks(self.arrivals.blocks(streams[f"arrivals:{self.name}"], self.start, end))
        fields = [(streams[f"data:{self.name}/{field}"], gen) for field, gen in self.data.items()]
        build = records(list(self.data)) if self.data else None
        offsets = streams[f"ts:{self.name}"] if self.ts_offset is not None else None
        name, source, prefix = self.event, self.name, f"{self.name}-"
        new = object.__new__
        k = 0
        for block in blocks:
            n = len(block)
            datas = build(*[gen.sample(rng, n, k) for rng, gen in fields]) if build else [_NO_DATA] * n
            ts = block
            if self.ts_offset is not None:
                ts = (np.asarray(block) + self.ts_offset.sample(offsets, n)).tolist()
            for seq, at, t, data in zip(range(k, k + n), block, ts, datas):
                event = new(Event)
                event.at = at
                event.name = name
                event.data = data
                event.id = f"{prefix}{seq}"
                event.ts = t
                event.user = NO_USER
                event.seq = seq
                event.source = source
                event.durations = None
                event.cache = {}
                event._activation = None
                yield event
            k += n

    def expected_events(self, streams: Streams, horizon: float) -> Expected:
        """The arrival process's expected count over the source's window (no draws)."""
        end = horizon if self.end is None else min(self.end, horizon)
        return self.arrivals.expected(self.start, end)


def _chunks(blocks: Iterator[list[float]]) -> Iterator[list[float]]:
    """The same times in lists of exactly ``CHUNK`` (the last one shorter, never empty).

    Data is drawn per such block, whatever lists the arrival process yields, so that the
    values do not depend on how a process happens to batch its times.
    """
    pending: list[float] = []
    for block in blocks:
        if not pending and len(block) == CHUNK:
            yield block
            continue
        pending += block
        while len(pending) >= CHUNK:
            yield pending[:CHUNK]
            del pending[:CHUNK]
    if pending:
        yield pending


@dataclass(frozen=True)
class ExplicitSource:
    name: str
    specs: tuple[dict[str, Any], ...]  # Event keyword arguments, sorted by "at", ids filled in

    def events(self, streams: Streams, horizon: float) -> Iterator[Event]:
        for spec in self.specs:
            if spec["at"] >= horizon:
                return
            # Each event gets its own data, user and durations (the only containers).
            fresh = {key: copy.deepcopy(value) if isinstance(value, dict) else value for key, value in spec.items()}
            yield Event(**fresh, source=self.name)

    def expected_events(self, streams: Streams, horizon: float) -> Expected:
        return Expected(sum(1 for spec in self.specs if spec["at"] < horizon), True)


def merge(sources: list[TrafficSource], streams: Streams, horizon: float) -> Iterator[Event]:
    """All sources' events in order of ``(at, source position, index in source)``, lazily.

    Assigns ``Event.seq`` = 0, 1, 2, ... in that order: the global tie-breaker. A lone
    generated source numbers its own events, so its events come straight through.
    """
    if len(sources) == 1:
        if isinstance(sources[0], GeneratedSource):
            return sources[0].events(streams, horizon)
        return _numbered(sources[0].events(streams, horizon))
    return _merged(sources, streams, horizon)


def _numbered(events: Iterator[Event], first: int = 0) -> Iterator[Event]:
    """``events`` with ``seq`` = ``first``, ``first`` + 1, ..."""
    for seq, event in enumerate(events, first):
        event.seq = seq
        yield event


def _merged(sources: list[TrafficSource], streams: Streams, horizon: float) -> Iterator[Event]:
    """Each source's next event in a heap keyed by ``(at, position)``; the source on top
    yields a run of events, until its next one comes after the head of another source.

    A source has one event in the heap at a time, so its own events keep their order
    without an index, and an event inside a run costs a comparison, not heap operations.
    """
    heap: list[tuple[float, int, Event, Iterator[Event]]] = []
    for position, source in enumerate(sources):
        events = source.events(streams, horizon)
        first = next(events, None)
        if first is not None:
            heap.append((first.at, position, first, events))
    heapq.heapify(heap)
    seq = 0
    while len(heap) > 1:
        _, position, event, events = heapq.heappop(heap)
        bound, rival = heap[0][0], heap[0][1]
        while True:
            event.seq = seq
            seq += 1
            yield event
            event = next(events, None)
            if event is None:
                break
            at = event.at
            if at > bound or (at == bound and position > rival):
                heapq.heappush(heap, (at, position, event, events))
                break
    if heap:            # the last source left: the rest of its events, in order
        _, _, event, events = heap[0]
        yield from _numbered(chain((event,), events), seq)


_GENERATED = ("name", "event", "arrivals", "data", "start", "end", "ts_offset")
_EXPLICIT = ("name", "event", "events")
_REPLAY = ("name", "event", "replay")
_EVENT = ("at", "name", "data", "id", "ts", "user", "durations")


def parse_traffic(node: Node) -> list[TrafficSource]:
    """The scenario's ``traffic:`` list; source names must be unique."""
    node.list()
    sources: list[TrafficSource] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(node.elements()):
        source = _parse_entry(entry, index)
        if source.name in seen:
            where = entry.get("name") or entry
            raise where.error(f"duplicate traffic source name {source.name!r} (also traffic[{seen[source.name]}])")
        seen[source.name] = index
        sources.append(source)
    return sources


def _parse_entry(entry: Node, index: int) -> TrafficSource:
    value = entry.mapping()
    name_node = entry.get("name")
    name = name_node.str() if name_node is not None else f"t{index}"
    if name_node is not None and "/" in name:
        raise name_node.error("a source name must not contain '/'")
    event_node = entry.get("event")
    event = event_node.str() if event_node is not None else None
    if "events" in value:
        entry.mapping(_EXPLICIT, required=["events"])
        return _parse_explicit(entry.child("events"), name, event)
    if "replay" in value:
        entry.mapping(_REPLAY, required=["replay"])
        return parse_replay(entry.child("replay"), name, event)
    entry.mapping(_GENERATED)
    if value.get("arrivals") is None:
        raise entry.error("missing required field 'arrivals' (or give explicit 'events', or a 'replay')")
    if event is None:
        raise entry.error("missing required field 'event' (the name of the generated events)")
    start_node, end_node = entry.get("start"), entry.get("end")
    start = start_node.duration() if start_node is not None else 0.0
    end = None
    if end_node is not None:
        end = end_node.duration()
        if end <= start:
            raise end_node.error("end must be after start")
    data = entry.get("data")
    offset = entry.get("ts_offset")
    return GeneratedSource(name, event, parse_arrivals(entry.child("arrivals")),
                           parse_data(data) if data is not None else {}, start, end,
                           parse_distribution(offset, signed=True) if offset is not None else None)


_READERS: dict[str, Callable[[Node], Any]] = {
    "name": Node.str, "data": Node.mapping, "user": Node.mapping, "id": Node.str, "ts": signed_duration,
    "durations": lambda node: {step: child.duration() for step, child in node.items()},
}


def _parse_explicit(node: Node, name: str, default_event: str | None) -> ExplicitSource:
    node.list()
    specs = []
    for item in node.elements():
        item.mapping(_EVENT, required=["at"] if default_event is not None else ["at", "name"])
        spec: dict[str, Any] = {"at": item.child("at").duration(), "name": default_event}
        for key, read in _READERS.items():
            child = item.get(key)
            if child is not None:
                spec[key] = read(child)
        specs.append(spec)
    specs.sort(key=lambda spec: spec["at"])
    for k, spec in enumerate(specs):
        spec.setdefault("id", f"{name}-{k}")
    return ExplicitSource(name, tuple(specs))
