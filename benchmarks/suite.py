"""flowsim's benchmark suite: speed against SimPy and Ciw, a million events, CEL, sweeps.

Prints one table per benchmark. Every comparison runs both sides in this same process,
interleaved (A, B, A, B, ...), and reports the median of the repetitions, so that the
ratios stay meaningful on a noisy machine. Single-process figures are CPU seconds
(``time.process_time``), which other load on the machine disturbs less than wall time;
the sweep speed-up is wall time (it is about using more cores).

1. ``mmc``: one-step M/M/c (``concurrency: c``, exponential service of mean 1 s, Poisson
   arrivals at 80% load) — flowsim, a plain SimPy model (a process per customer holding a
   ``simpy.Resource``) and Ciw on the same rates; customers completed per CPU second.
2. ``steps3``: the same system with three ``step.run`` of mean 1/3 s separated by 1 s sleeps,
   every step acquiring a slot again — flowsim against its SimPy twin.
3. ``million``: the combined multi-tenant scenario (keyed concurrency per tenant, a function
   limit, a throttle, priority; 10 000 tenants with Zipf skew) at one million events, in a
   child process pinned to one core: wall and CPU time of ``flowsim.simulate`` and peak
   resident memory (and the same with ``tables=False`` once ``simulate`` offers it). The
   summary is timed at 100 000 events only: its per-key slot use is O(keys x steps).
4. ``expr``: the key, ``if`` and priority expressions of every shipped scenario evaluated by
   flowsim's compiled closures and by cel-python (with and without converting the event).
5. ``sweep``: 64 points x 4 replications with ``flowsim.analysis.sweep`` on 1 and 2 local
   workers: wall time and speed-up.

    python benchmarks/suite.py                      # everything, full size (~10 min)
    python benchmarks/suite.py --only mmc,expr      # some of them
    python benchmarks/suite.py --quick              # reduced sizes (the CI smoke test)

Needs ``pip install 'flowsim[bench]'`` (Ciw) for the Ciw column; without it the column says
``n/a``.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowsim import simulate  # noqa: E402
from flowsim.expr import Expr, _environment  # noqa: E402
from flowsim.scenario.load import load_scenario  # noqa: E402
from flowsim.scenario.model import Scenario  # noqa: E402
from flowsim.traffic.sources import merge  # noqa: E402
from flowsim.streams import Streams  # noqa: E402
from rss import peak_rss_kb  # noqa: E402

BENCHES = ("mmc", "steps3", "million", "expr", "sweep")
LOAD = 0.8          # offered load of the M/M/c systems
SLEEP = 1.0         # seconds between the steps of the three-step model


# -- helpers ---------------------------------------------------------------------------
def cpu_timed(fn: Callable[[], int]) -> tuple[float, int]:
    """(CPU seconds, count returned by ``fn``)."""
    t0 = time.process_time()
    n = fn()
    return time.process_time() - t0, n


def interleaved(contenders: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple[float, int]]:
    """Run the contenders in turn ``repeat`` times; per contender the median CPU time and its count."""
    times: dict[str, list[float]] = {k: [] for k in contenders}
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for name, fn in contenders.items():
            dt, n = cpu_timed(fn)
            times[name].append(dt)
            counts[name] = n
    return {k: (statistics.median(v), counts[k]) for k, v in times.items()}


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    width = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for j, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, width))))
        if j == 0:
            print("  " + "  ".join("-" * w for w in width))
    sys.stdout.flush()


class Blocks:
    """Exponential draws in numpy blocks, as flowsim draws them (the same cost model for SimPy)."""

    def __init__(self, rng: np.random.Generator, mean: float) -> None:
        self.rng, self.mean = rng, mean
        self.it: Iterator[float] = iter(())

    def __call__(self) -> float:
        v = next(self.it, None)
        if v is None:
            self.it = iter(self.rng.exponential(self.mean, 256).tolist())
            v = next(self.it)
        return v


# -- 1 and 2: M/M/c against SimPy and Ciw ----------------------------------------------
def mmc_scenario(c: int, customers: int, steps: int = 1) -> Scenario:
    """M/M/c at 80% load, mean service 1 s per customer (split over ``steps`` steps)."""
    lam = LOAD * c
    mean = f"{1000 / steps:.6f}ms"
    body: list[dict[str, Any]] = []
    for k in range(steps):
        if k:
            body.append({"sleep": f"{SLEEP}s"})
        body.append({"run": f"s{k}", "duration": {"exponential": {"mean": mean}}})
    return load_scenario({
        "name": f"mmc-{c}-{steps}", "seed": 1, "horizon": f"{customers / lam}s", "platform": "ideal",
        "account": {"concurrency": 1_000_000},
        "functions": [{"id": "f", "triggers": [{"event": "e"}], "concurrency": c, "steps": body}],
        "traffic": [{"event": "e", "arrivals": {"poisson": {"rate": f"{lam}/s"}}}]})


def run_flowsim(scenario: Scenario) -> int:
    result = simulate(scenario)
    return int((result.runs["status"] == "completed").sum())


def run_flowsim_summary(scenario: Scenario) -> int:
    """flowsim summary-only (``tables=False``): the summary folded as it goes, no tables."""
    return simulate(scenario, tables=False).summary()["runs"]["completed"]


def run_simpy(c: int, horizon: float, steps: int = 1, seed: int = 1) -> int:
    """The plain SimPy model: a process per customer; each step requests the resource again."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    rng = np.random.default_rng(seed)
    gap, service = Blocks(rng, 1 / (LOAD * c)), Blocks(rng, 1.0 / steps)
    done = [0]

    def customer() -> Iterator[Any]:
        for k in range(steps):
            if k:
                yield env.timeout(SLEEP)
            with server.request() as req:
                yield req
                yield env.timeout(service())
        done[0] += 1

    def source() -> Iterator[Any]:
        while True:
            yield env.timeout(gap())
            env.process(customer())

    env.process(source())
    env.run(until=horizon)
    return done[0]


def run_ciw(c: int, horizon: float, seed: int = 1) -> int:
    import ciw
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=LOAD * c)],
                                 service_distributions=[ciw.dists.Exponential(rate=1.0)],
                                 number_of_servers=[c])
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(horizon)
    return len(sim.get_all_records())


def have_ciw() -> bool:
    try:
        import ciw  # noqa: F401
    except ImportError:
        return False
    return True


def bench_mmc(customers: int, repeat: int, servers: tuple[int, ...]) -> None:
    rows = []
    for c in servers:
        sc = mmc_scenario(c, customers)
        contenders: dict[str, Callable[[], int]] = {
            "flowsim": lambda: run_flowsim(sc),
            "summary": lambda: run_flowsim_summary(sc),
            "simpy": lambda: run_simpy(c, sc.horizon),
        }
        if have_ciw():
            contenders["ciw"] = lambda: run_ciw(c, sc.horizon)
        r = interleaved(contenders, repeat)
        rate = {k: n / t for k, (t, n) in r.items()}
        ciw_rate = rate.get("ciw")
        for mode, label in (("flowsim", "tables"), ("summary", "summary only")):
            rows.append([f"c={c}", label, f"{customers:,}", f"{rate[mode]:,.0f}", f"{rate['simpy']:,.0f}",
                         "n/a" if ciw_rate is None else f"{ciw_rate:,.0f}", f"{rate[mode] / rate['simpy']:.2f}",
                         "n/a" if ciw_rate is None else f"{rate[mode] / ciw_rate:.2f}"])
    table(f"1. One-step M/M/c at {LOAD:.0%} load: customers completed per CPU second (median of {repeat})",
          ["system", "flowsim mode", "customers", "flowsim/s", "simpy/s", "ciw/s", "flowsim:simpy", "flowsim:ciw"],
          rows)


def bench_steps3(customers: int, repeat: int, servers: tuple[int, ...]) -> None:
    rows = []
    for c in servers:
        sc = mmc_scenario(c, customers, steps=3)
        r = interleaved({"flowsim": lambda: run_flowsim(sc), "summary": lambda: run_flowsim_summary(sc),
                         "simpy": lambda: run_simpy(c, sc.horizon, steps=3)}, repeat)
        rate = {k: n / t for k, (t, n) in r.items()}
        for mode, label in (("flowsim", "tables"), ("summary", "summary only")):
            rows.append([f"c={c}", label, f"{customers:,}", f"{rate[mode]:,.0f}", f"{rate['simpy']:,.0f}",
                         f"{rate[mode] / rate['simpy']:.2f}"])
    table(f"2. Three steps separated by {SLEEP:g} s sleeps, each re-acquiring a slot: runs completed per CPU "
          f"second (median of {repeat})",
          ["system", "flowsim mode", "customers", "flowsim/s", "simpy/s", "flowsim:simpy"], rows)


# -- 3: the combined multi-tenant scenario at a million events -------------------------
def multi_tenant(events: int, rate: float = 500.0) -> dict[str, Any]:
    """10 000 tenants (Zipf, s=1.1: the largest sends ~15% of the events), a per-tenant
    concurrency limit, a function limit, a global throttle a little above the mean rate and a
    priority for the enterprise plan; ``events`` arrivals in all. Loaded (~100 of 150 slots
    busy, the largest tenant ~15 of its 20) but stable, so the queue does not grow without bound."""
    return {
        "name": "multi-tenant", "seed": 1, "horizon": f"{events / rate}s", "platform": "ideal",
        "account": {"concurrency": 10_000},
        "functions": [{
            "id": "tenant-jobs", "triggers": [{"event": "job/submitted"}],
            "concurrency": [{"limit": 150}, {"key": "event.data.tenant", "limit": 20}],
            "throttle": {"limit": 550, "period": "1s", "burst": 20},
            "priority": {"run": "event.data.plan == 'enterprise' ? 60 : 0"},
            "steps": [{"run": "work", "duration": {"exponential": {"mean": "200ms"}}}],
        }],
        "traffic": [{"event": "job/submitted", "arrivals": {"poisson": {"rate": f"{rate}/s"}},
                     "data": {"tenant": {"zipf": {"n": 10_000, "s": 1.1}, "format": "t-{}"},
                              "plan": {"choice": {"free": 0.7, "pro": 0.25, "enterprise": 0.05}}}}],
    }


def million_child(events: int, tables: bool, summary: bool) -> None:
    """In a child process: simulate (and with ``summary`` compute the summary); print figures as JSON."""
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    sc = load_scenario(multi_tenant(events))
    base = peak_rss_kb()
    w0, c0 = time.perf_counter(), time.process_time()
    kwargs = {} if tables else {"tables": False}
    result = simulate(sc, **kwargs)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    peak = peak_rss_kb()
    completed = (int((result.runs["status"] == "completed").sum()) if tables
                 else result.summary()["runs"]["completed"])
    figures = {"events": result.events_in, "completed": completed,
               "wall": wall, "cpu": cpu, "peak_mb": peak / 1024, "base_mb": base / 1024, "summary_cpu": None}
    if summary:
        c1 = time.process_time()
        result.summary()
        figures["summary_cpu"] = time.process_time() - c1
        figures["summary_peak_mb"] = peak_rss_kb() / 1024
    print(json.dumps(figures))


def summary_only_supported() -> bool:
    import inspect
    return "tables" in inspect.signature(simulate).parameters


def bench_million(sizes: list[tuple[int, bool]]) -> None:
    """``sizes``: (events, whether to time the summary too)."""
    rows = []
    modes = [True] + ([False] if summary_only_supported() else [])
    for events, summary in sizes:
        for tables in modes:
            out = subprocess.run([sys.executable, __file__, "--child-million", str(events), str(int(tables)),
                                  str(int(summary))], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(["tables" if tables else "summary only", f"{r['events']:,}", f"{r['completed']:,}",
                         f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"{r['events'] / r['cpu']:,.0f}",
                         f"{r['peak_mb']:,.0f}", f"{r['peak_mb'] - r['base_mb']:,.0f}",
                         "-" if r["summary_cpu"] is None else f"{r['summary_cpu']:.1f}"])
    table("3. Combined multi-tenant scenario (keyed concurrency, throttle, priority, 10 000 Zipf tenants), "
          "one core: flowsim.simulate (engine and tables), then Result.summary() where timed",
          ["mode", "events", "completed", "wall s", "cpu s", "events/cpu s", "peak RSS MB", "over imports MB",
           "summary cpu s"], rows)


# -- 4: expression evaluation ----------------------------------------------------------
def _exprs(obj: Any, out: dict[str, Expr], seen: set[int]) -> None:
    """Every compiled expression reachable from ``obj`` (a scenario), by text."""
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type(None))):
        return
    seen.add(id(obj))
    if isinstance(obj, Expr):
        out.setdefault(obj.text, obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _exprs(getattr(obj, f.name), out, seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            _exprs(v, out, seen)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _exprs(v, out, seen)


def shipped_expressions(events_per: int) -> list[tuple[str, str, Expr, list[dict[str, Any]]]]:
    """(scenario, text, expression, sample activations) for every shipped scenario's expressions."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml"))):
            try:
                sc = load_scenario(path)
            except Exception as exc:   # noqa: BLE001 - a scenario being edited must not stop the suite
                print(f"  (skipped {Path(path).name}: {exc})")
                continue
            found: dict[str, Expr] = {}
            _exprs(sc.functions, found, set())
            if not found:
                continue
            sample = []
            for event in merge(list(sc.traffic), Streams(sc.seed), sc.horizon):
                sample.append({"event": event.as_cel(), "async": event.as_cel()})
                if len(sample) >= events_per:
                    break
            for text, expr in found.items():
                out.append((Path(path).stem, text, expr, sample))
    return out


def bench_expr(events_per: int, repeat: int) -> None:
    import celpy
    env = _environment()
    rows = []
    ratios, ratios_conv = [], []
    for name, text, expr, sample in shipped_expressions(events_per):
        program = env.program(env.compile(text))

        def ours() -> None:
            for act in sample:
                try:
                    expr.evaluate(act)
                except Exception:   # noqa: BLE001 - the cost is what is measured
                    pass

        converted = [{k: celpy.json_to_cel(v) for k, v in act.items()} for act in sample]

        def cel(acts: list[dict[str, Any]], convert: bool) -> None:
            for act in acts:
                try:
                    program.evaluate({k: celpy.json_to_cel(v) for k, v in act.items()} if convert else act)
                except Exception:   # noqa: BLE001 - missing fields raise in cel-python
                    pass

        n = len(sample)
        fast = min(cpu_timed(lambda: ours() or 0)[0] for _ in range(repeat)) / n * 1e6
        slow = min(cpu_timed(lambda: cel(converted, False) or 0)[0] for _ in range(repeat)) / n * 1e6
        conv = min(cpu_timed(lambda: cel(sample, True) or 0)[0] for _ in range(repeat)) / n * 1e6
        ratios.append(slow / fast)
        ratios_conv.append(conv / fast)
        label = text if len(text) <= 56 else text[:53] + "..."
        rows.append([name, label, "closure" if expr.native else "fallback", f"{fast:.2f}", f"{slow:.1f}",
                     f"{conv:.1f}", f"{slow / fast:.0f}x", f"{conv / fast:.0f}x"])
    table(f"4. Expressions of the shipped scenarios, µs per evaluation (best of {repeat}, {events_per} events each); "
          f"median speed-up {statistics.median(ratios):.0f}x, {statistics.median(ratios_conv):.0f}x with conversion",
          ["scenario", "expression", "flowsim path", "flowsim", "cel-python", "+convert", "ratio", "ratio+conv"],
          rows)


# -- 5: sweeps on 1 and 2 workers ------------------------------------------------------
def bench_sweep(points: int, replications: int, customers: int) -> None:
    from flowsim.analysis import sweep
    from flowsim.analysis.executors import ProcessExecutor, SerialExecutor
    raw = mmc_scenario(5, customers).raw
    grid = [("functions.f.concurrency", list(range(5, 5 + points)))]
    rows = []
    times = {}
    for label, make in (("1 (in process)", SerialExecutor), ("2 (process pool)", lambda: ProcessExecutor(2))):
        executor = make()
        w0 = time.perf_counter()
        try:
            result = sweep(raw, grid, replications, executor=executor)
        finally:
            executor.close()
        times[label] = time.perf_counter() - w0
        rows.append([label, f"{points} x {replications}", f"{len(result.rows)}", f"{times[label]:.1f}",
                     f"{len(result.rows) / times[label]:.1f}"])
    speedup = times["1 (in process)"] / times["2 (process pool)"]
    table(f"5. Sweep (flowsim.analysis.sweep, M/M/c with {customers:,} customers per run), wall time: "
          f"speed-up {speedup:.2f}x from 1 to 2 workers (pool start-up included)",
          ["workers", "points x reps", "runs", "wall s", "runs/s"], rows)


# -- main ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (a smoke test)")
    parser.add_argument("--customers", type=int, help="customers per M/M/c run (default 200 000; quick 1 000)")
    parser.add_argument("--events", type=int, help="events of the combined scenario (default 1 000 000)")
    parser.add_argument("--repeat", type=int, help="repetitions for the medians (default 3; quick 1)")
    parser.add_argument("--summary-events", type=int,
                        help="events of the combined scenario whose summary is also timed (default 100 000; "
                             "the summary of the full size is not: see benchmarks/README.md)")
    parser.add_argument("--child-million", nargs=3, metavar=("EVENTS", "TABLES", "SUMMARY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_million:
        million_child(int(args.child_million[0]), bool(int(args.child_million[1])), bool(int(args.child_million[2])))
        return
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    quick = args.quick
    customers = args.customers or (1_000 if quick else 200_000)
    repeat = args.repeat or (1 if quick else 3)
    print(f"flowsim benchmark suite — Python {sys.version.split()[0]}, simpy {simpy.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if "mmc" in only:
        bench_mmc(customers, repeat, (5, 100))
    if "steps3" in only:
        bench_steps3(customers // 2 if not quick else customers, repeat, (5, 100))
    if "million" in only:
        bench_million([(args.summary_events or (3_000 if quick else 100_000), True),
                       (args.events or (3_000 if quick else 1_000_000), False)])
    if "expr" in only:
        bench_expr(10 if quick else 200, 1 if quick else 3)
    if "sweep" in only:
        bench_sweep(4 if quick else 64, 2 if quick else 4, 200 if quick else 2_000)


if __name__ == "__main__":
    main()
