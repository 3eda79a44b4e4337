"""Per-event cost of generating and merging traffic, and the memory an event holds.

Consumes ``flowsim.traffic.sources.merge`` (what the engine pulls one event at a time) for
two scenarios: one Poisson source without data (the M/M/c benchmark's traffic), and two
Poisson sources with data fields (Zipf tenant ids formatted as strings, a weighted choice,
uniform integers, a sequence). Prints CPU microseconds per event (median of ``--repeat``),
then the size of one event: ``sys.getsizeof`` of the object and of its dicts, and the bytes
per event that ``tracemalloc`` sees when the events are kept (ids, floats and data values
included), as an engine run keeps them until it ends.

    python benchmarks/bench_traffic.py                  # 200 000 events, median of 5
    python benchmarks/bench_traffic.py --events 50000 --repeat 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections import deque
from typing import Any

from flowsim.scenario.load import load_scenario
from flowsim.streams import Streams
from flowsim.traffic.sources import merge

RATE = 4.0


def scenario(events: int, two: bool) -> Any:
    """``events`` arrivals in all, from one data-less source or from two with data fields."""
    if not two:
        traffic = [{"event": "e", "arrivals": {"poisson": {"rate": f"{RATE}/s"}}}]
    else:
        traffic = [
            {"name": "jobs", "event": "job/submitted", "arrivals": {"poisson": {"rate": f"{RATE * 0.75}/s"}},
             "data": {"tenant": {"zipf": {"n": 10_000, "s": 1.1}, "format": "t-{}"},
                      "plan": {"choice": {"free": 0.7, "pro": 0.25, "enterprise": 0.05}}}},
            {"name": "users", "event": "user/updated", "arrivals": {"poisson": {"rate": f"{RATE * 0.25}/s"}},
             "data": {"user": {"uniform_int": {"min": 1, "max": 500}}, "n": {"sequence": {}}}},
        ]
    function = {"id": "f", "triggers": [{"event": "e"}], "steps": [{"run": "s", "duration": "1s"}]}
    return load_scenario({"name": "traffic", "seed": 1, "horizon": f"{events / RATE}s", "platform": "ideal",
                          "functions": [function], "traffic": traffic})


def consume_us(sc: Any) -> tuple[float, int]:
    """CPU microseconds per event of pulling every event of ``merge`` (events dropped at once)."""
    t0 = time.process_time()
    n = 0
    for _ in merge(list(sc.traffic), Streams(sc.seed), sc.horizon):
        n += 1
    return (time.process_time() - t0) / n * 1e6, n


def memory(sc: Any) -> dict[str, float]:
    """Sizes of one event, and traced bytes per event with every event kept."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    events = deque(merge(list(sc.traffic), Streams(sc.seed), sc.horizon))
    per_event = (tracemalloc.get_traced_memory()[0] - before) / len(events)
    tracemalloc.stop()
    e = events[-1]
    dicts = {name: getattr(e, name, None) for name in ("data", "user", "cache")}
    out = {"object": sys.getsizeof(e)}
    out.update({name: sys.getsizeof(d) if isinstance(d, dict) else 0 for name, d in dicts.items()})
    shared = [name for name, d in dicts.items() if isinstance(d, dict) and d is getattr(events[0], name, None)]
    out["shared"] = ",".join(shared) or "-"      # type: ignore[assignment]
    out["traced/event"] = per_event
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {"one source, no data": scenario(args.events, False),
             "two sources, data": scenario(args.events, True)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    counts: dict[str, int] = {}
    for _ in range(args.repeat):                 # interleaved, so load hits both alike
        for name, sc in cases.items():
            us, counts[name] = consume_us(sc)
            times[name].append(us)
    print(f"{'scenario':22} {'events':>8} {'us/event':>9}   object data user cache shared  traced B/event")
    for name, sc in cases.items():
        m = memory(sc)
        print(f"{name:22} {counts[name]:>8,} {statistics.median(times[name]):>9.3f}   "
              f"{m['object']:>6} {m['data']:>4} {m['user']:>4} {m['cache']:>5} {m['shared']:>6}  "
              f"{m['traced/event']:>14.0f}")


if __name__ == "__main__":
    main()
