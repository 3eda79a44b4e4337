"""Recording the traffic a scenario generates, as Inngest JSON Lines that replay exactly.

``flowsim run --record FILE.jsonl`` writes every event the engine sees (the scenario's
sources merged with :func:`flowsim.traffic.sources.merge`, the same seed), one per line,
in arrival order (``seq``)::

    {"name": "image/uploaded", "data": {"user_id": "user-7"}, "id": "t0-0", "ts": 118.2547,
     "_flowsim": {"at": 0.1182547, "ts": 0.1182547}}

``name``, ``data``, ``id``, ``user`` (when not empty) and ``ts`` are Inngest's event fields.
``ts`` is in milliseconds, as Inngest's, on a clock whose epoch is the simulation start,
and may have a fraction. The ``_flowsim`` object keeps what a millisecond timestamp cannot:
the exact arrival time ``at`` and event time ``ts`` in seconds (floats written with
Python's shortest round-trip repr, so they read back bit for bit) and the step
``durations`` the event overrides, when it has any. :mod:`flowsim.traffic.replay` reads a
file whose first event has ``_flowsim`` on that clock, keeping file order for equal
times, so a scenario whose traffic is ``replay: {file: FILE.jsonl}`` and that has the same
functions and seed reproduces the recorded run's events, runs and steps exactly.

A path ending in ``.gz`` is written gzip-compressed. The file is written beside its
target and moved into place when complete.
"""
from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from flowsim.errors import ScenarioError
from flowsim.streams import Streams
from flowsim.traffic.event import Event
from flowsim.traffic.replay import RECORDING_KEY
from flowsim.traffic.sources import merge


def event_json(event: Event) -> dict[str, Any]:
    """The JSON object of one recorded event (module docstring)."""
    obj: dict[str, Any] = {"name": event.name, "data": event.data, "id": event.id, "ts": event.ts * 1000}
    if event.user:
        obj["user"] = event.user
    ext: dict[str, Any] = {"at": event.at, "ts": event.ts}
    if event.durations:
        ext["durations"] = event.durations
    obj[RECORDING_KEY] = ext
    return obj


def write_events(events: Iterable[Event], path: str | os.PathLike[str]) -> int:
    """Write ``events`` as JSON Lines to ``path`` (gzip when it ends in ``.gz``); return how many."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    count = 0
    try:
        raw = gzip.open(tmp, "wt", encoding="utf-8", newline="\n") if target.suffix == ".gz" else \
            open(tmp, "w", encoding="utf-8", newline="\n")
        with raw as fh:
            for event in events:
                try:
                    line = json.dumps(event_json(event), ensure_ascii=False, allow_nan=False,
                                      separators=(",", ":"))
                except (TypeError, ValueError) as exc:
                    raise ScenarioError(f"cannot record event {event.id!r}: its data is not JSON ({exc})",
                                        file=str(target)) from None
                fh.write(line + "\n")
                count += 1
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count


def record_events(scenario: Any, seed: int | None, path: str | os.PathLike[str]) -> int:
    """Write the traffic ``scenario`` generates with ``seed`` (default: its own) to ``path``.

    These are the events the engine sees in a run with that seed, in its order; returns how many.
    """
    streams = Streams(scenario.seed if seed is None else int(seed))
    return write_events(merge(list(scenario.traffic), streams, scenario.horizon), path)
