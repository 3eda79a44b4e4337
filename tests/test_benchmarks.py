"""Smoke test of the benchmark suite (benchmarks/suite.py) at reduced size: every
benchmark runs and prints its table. Speed is never asserted (issue 9)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "suite.py"
TITLES = ("1. One-step M/M/c", "2. Three steps", "3. Combined multi-tenant scenario",
          "4. Expressions of the shipped scenarios", "5. Sweep")


def test_suite_runs_at_reduced_size() -> None:
    out = subprocess.run([sys.executable, str(SUITE), "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    for title in TITLES:
        assert title in out.stdout, f"missing table {title!r} in:\n{out.stdout}"
    # every comparison row carries its ratio
    mmc = out.stdout.split("1. One-step M/M/c")[1].split("2. Three steps")[0]
    assert "c=5" in mmc and "c=100" in mmc


def test_suite_rejects_unknown_benchmark() -> None:
    out = subprocess.run([sys.executable, str(SUITE), "--only", "nope"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown benchmark" in out.stderr
