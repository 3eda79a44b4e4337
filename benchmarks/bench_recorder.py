"""Per-row cost of recording results and of building the three tables, and the memory a row holds.

Feeds ``flowsim.results.recorder.Recorder`` the rows of ``--runs`` one-step runs, as the
engine does (``event_row`` and ``set_outcome`` per event, ``step_row`` and ``run_row`` per
run, runs recorded out of creation order, one in ten never started), then builds the tables.
Prints CPU nanoseconds per call (median of ``--repeat``) and per row of ``tables()``, then the
bytes per run that ``tracemalloc`` sees held by the recorder (values it keeps alive, such as
ids and times, included) before ``tables()``, and at the peak of ``tables()``.

    python benchmarks/bench_recorder.py                  # 100 000 runs, median of 5
    python benchmarks/bench_recorder.py --runs 20000 --repeat 9
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowsim.results.recorder import Recorder  # noqa: E402
from flowsim.traffic.event import Event  # noqa: E402

FN = SimpleNamespace(spec=SimpleNamespace(id="jobs"))


class FakeRun:
    """The attributes of :class:`flowsim.engine.runs.Run` that the recorder reads."""

    __slots__ = ("id", "seq", "fn", "events", "event", "created_at", "started_at", "ended_at", "cancel_reason",
                 "priority_factor", "keys")

    def __init__(self, seq: int, event: Event, tenant: str) -> None:
        self.id, self.seq, self.fn, self.events, self.event = f"r{seq}", seq, FN, [event], event
        self.created_at = event.at
        self.started_at = event.at + 0.5 if seq % 10 else None
        self.ended_at = event.at + 1.5
        self.cancel_reason, self.priority_factor, self.keys = "", 0.0, {"concurrency[0]": tenant}


def rows(n: int) -> tuple[list[Event], list[FakeRun]]:
    events = [Event(i * 0.25, "job/submitted", id=f"t0-{i}", seq=i) for i in range(n)]
    return events, [FakeRun(i + 1, e, f"t-{i % 1000}") for i, e in enumerate(events)]


def record(events: list[Event], runs: list[FakeRun]) -> tuple[Recorder, list[float]]:
    """Record every row; return the recorder and the CPU seconds of each kind of call."""
    rec = Recorder()
    event_row, set_outcome, step_row, run_row = rec.event_row, rec.set_outcome, rec.step_row, rec.run_row
    t0 = time.process_time()
    for e in events:
        event_row(e, "jobs")
    t1 = time.process_time()
    for i, r in enumerate(runs):
        set_outcome(i, "run", r.id)
    t2 = time.process_time()
    for r in runs:
        step_row(r, "work", "run", 1, r.created_at, r.started_at, r.ended_at,
                 "completed" if r.started_at is not None else "cancelled", None)
    t3 = time.process_time()
    for r in reversed(runs):
        run_row(r, "completed" if r.started_at is not None else "cancelled")
    t4 = time.process_time()
    return rec, [t1 - t0, t2 - t1, t3 - t2, t4 - t3]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.runs
    events, runs = rows(n)
    names = ["event_row", "set_outcome", "step_row", "run_row", "tables()"]
    samples: list[list[float]] = []
    gc.disable()
    for _ in range(args.repeat):
        rec, seconds = record(events, runs)
        t = time.process_time()
        tables: Any = rec.tables()
        seconds.append(time.process_time() - t)
        samples.append(seconds)
        del rec, tables
    gc.enable()
    print(f"{n:,} one-step runs, median of {args.repeat}, CPU ns per call (tables(): per run)")
    for i, name in enumerate(names):
        print(f"  {name:12} {statistics.median(s[i] for s in samples) / n * 1e9:8.0f}")
    del events, runs
    tracemalloc.start()
    events, runs = rows(n)
    rec, _ = record(events, runs)
    del events, runs        # as the engine lets go of its runs: what is left, the recorder holds
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    tables = rec.tables()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"bytes per run: {held / n:,.0f} in the buffers, {peak / n:,.0f} at the peak of tables() "
          f"({len(tables[0]):,} + {len(tables[1]):,} + {len(tables[2]):,} rows)")


if __name__ == "__main__":
    main()
