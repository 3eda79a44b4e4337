"""Benchmark: replaying multi-million-line traces in memory that does not grow with the file.

Generates traces of N lines (CSV with epoch-second times and JSON Lines in Inngest's
format, gzipped or not) and, each in a fresh process, measures:

- ``read``: iterating the replay source's events (parsing, sorting window, Event objects);
- ``simulate``: ``flowsim.simulate`` of a scenario that replays the file into a function
  that does not match the events, so that the engine keeps no per-event results: what is
  left is the reader, the merge and the engine's arrival loop.

For each it prints the wall time, events per second, the peak resident memory of the
process and its growth over the baseline measured after imports. The growth should be
the same for 1 and 10 million lines: the reader holds a sort window, not the file.

    python benchmarks/bench_replay.py                       # 1M and 3M lines, CSV and JSONL
    python benchmarks/bench_replay.py --lines 10000000 --formats csv --gzip
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import peak_rss_kb

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, fmt: str, lines: int) -> None:
    """``lines`` events at 1,000 a second from 5,000 hosts, sorted, with a little jitter-free spread."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            fh.write("time,host,url,bytes\n")
        base = 1_700_000_000
        chunk: list[str] = []
        for i in range(lines):
            t = base + i / 1000
            host, url, size = f"h{(i * 7919) % 5000}", f"/p/{i % 97}", (i * 31) % 100_000
            if fmt == "csv":
                chunk.append(f"{t:.3f},{host},{url},{size}\n")
            else:
                chunk.append(json.dumps({"name": "web/request", "data": {"host": host, "url": url, "bytes": size},
                                         "id": f"e{i}", "ts": base * 1000 + i}) + "\n")
            if len(chunk) == 10_000:
                fh.write("".join(chunk))
                chunk.clear()
        fh.write("".join(chunk))


def scenario(path: Path, fmt: str) -> dict:
    replay: dict = {"file": str(path)}
    if fmt == "csv":
        replay.update(time="time", data={"host": "host", "url": "url", "bytes": {"column": "bytes", "type": "int"}})
    return {"name": "bench", "seed": 1, "horizon": "30d", "platform": "ideal",
            "functions": [{"id": "f", "triggers": [{"event": "never/matches"}], "steps": [{"run": "s", "duration": "1s"}]}],
            "traffic": [{"name": "trace", "event": "web/request", "replay": replay}]}


def measure(mode: str, path: str, fmt: str) -> None:
    """Run in a child process: print one JSON line of figures."""
    import math

    import flowsim
    from flowsim.streams import Streams
    baseline = peak_rss_kb()
    sc = flowsim.load_scenario(scenario(Path(path), fmt))
    start = time.perf_counter()
    if mode == "read":
        count = sum(1 for _ in sc.traffic[0].events(Streams(1), math.inf))
    else:
        count = flowsim.simulate(sc).events_in
    elapsed = time.perf_counter() - start
    peak = peak_rss_kb()
    print(json.dumps({"events": count, "seconds": elapsed, "peak_kb": peak, "baseline_kb": baseline}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="1000000,3000000", help="comma-separated line counts")
    parser.add_argument("--formats", default="csv,jsonl", help="csv, jsonl or both")
    parser.add_argument("--modes", default="read,simulate", help="read, simulate or both")
    parser.add_argument("--gzip", action="store_true", help="gzip the generated files")
    parser.add_argument("--dir", default=None, help="where to write the traces (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"{'lines':>11} {'format':>9} {'file MB':>8} {'mode':>9} {'seconds':>8} {'events/s':>9} "
              f"{'peak RSS MB':>11} {'growth MB':>9}")
        for lines in (int(x) for x in args.lines.split(",")):
            for fmt in args.formats.split(","):
                path = Path(tmp) / f"trace-{lines}.{fmt}{'.gz' if args.gzip else ''}"
                generate(path, fmt, lines)
                size = path.stat().st_size / 1e6
                for mode in args.modes.split(","):
                    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), fmt],
                                         check=True, capture_output=True, text=True, cwd=ROOT,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
                    r = json.loads(out.strip().splitlines()[-1])
                    assert r["events"] == lines, r
                    label = fmt + (".gz" if args.gzip else "")
                    print(f"{lines:>11,} {label:>9} {size:>8.1f} {mode:>9} {r['seconds']:>8.1f} "
                          f"{lines / r['seconds']:>9,.0f} {r['peak_kb'] / 1024:>11.1f} "
                          f"{(r['peak_kb'] - r['baseline_kb']) / 1024:>9.1f}", flush=True)
                path.unlink()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        measure(*sys.argv[2:])
    else:
        main()
