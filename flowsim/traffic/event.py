"""The event: what traffic sources produce and what every mechanism looks at."""
from __future__ import annotations

from typing import Any

#: The ``user`` of every event that has none (one shared dict instead of one per event).
NO_USER: dict[str, Any] = {}


class Event:
    """One incoming event, in Inngest's shape.

    ``at`` is when it reaches the platform and ``ts`` its own timestamp (both seconds
    since the simulation start); they differ for clock skew, late delivery and
    future-dated events (a future ``ts`` delays the run, spec §1 step 9). ``seq`` is
    the global arrival order, the tie-breaker everywhere. ``cache`` holds the value of
    each expression already evaluated on this event, so that every expression is
    evaluated at most once per event. ``durations`` optionally overrides the duration
    of named steps (replayed traces that carry real durations).

    An event without ``user`` shares one empty dict with all such events, and the events
    of a generated source without data fields share one empty ``data``: treat ``data``,
    ``user`` and ``durations`` as read-only (nothing in flowsim writes to them).
    """

    # GeneratedSource.events (flowsim.traffic.sources) sets every slot itself: keep it in step.
    __slots__ = ("at", "name", "data", "id", "ts", "user", "seq", "source", "cache", "durations", "_activation")

    def __init__(self, at: float, name: str, data: dict[str, Any] | None = None, id: str = "",
                 ts: float | None = None, user: dict[str, Any] | None = None, seq: int = 0,
                 source: str = "", durations: dict[str, float] | None = None) -> None:
        self.at = float(at)
        self.name = name
        self.data = data if data is not None else {}
        self.id = id
        self.ts = self.at if ts is None else float(ts)
        self.user = user if user is not None else NO_USER
        self.seq = seq
        self.source = source
        self.durations = durations
        self.cache: dict[int, Any] = {}
        self._activation: dict[str, Any] | None = None

    def as_cel(self) -> dict[str, Any]:
        """The event as CEL sees it: ``{name, data, id, ts, user}``, ``ts`` in epoch-style ms."""
        act = self._activation
        if act is None:
            act = self._activation = {"name": self.name, "data": self.data, "id": self.id,
                                      "ts": int(round(self.ts * 1000)), "user": self.user}
        return act

    def __repr__(self) -> str:
        return f"Event(at={self.at:g}, name={self.name!r}, id={self.id!r}, data={self.data!r})"
