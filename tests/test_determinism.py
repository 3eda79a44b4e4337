"""Determinism: the same scenario and seed give byte-identical outputs in two
processes with different PYTHONHASHSEED; another seed gives other outputs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

SCENARIO = {
    "name": "det", "seed": 3, "horizon": "10m",
    "functions": [
        {"id": "a", "triggers": [{"event": "go"}],
         "concurrency": [{"key": "event.data.user", "limit": 1}, {"key": '"shared"', "scope": "account", "limit": 4}],
         "steps": [{"run": "s1", "duration": {"exponential": {"mean": "2s"}}, "failure_rate": 0.1},
                   {"sleep": "5s"}, {"run": "s2", "duration": "500ms"}]},
        {"id": "b", "triggers": [{"event": "go"}, {"event": "other"}],
         "concurrency": [{"key": '"shared"', "scope": "account", "limit": 4}],
         "steps": [{"run": "s", "duration": {"uniform": {"min": "1s", "max": "3s"}}}]},
    ],
    "traffic": [{"event": "go", "arrivals": {"poisson": {"rate": "2/s"}},
                 "data": {"user": {"zipf": {"n": 20, "s": 1.0}, "format": "u{}"}}},
                {"event": "other", "arrivals": {"bursts": {"every": "1m", "size": 20, "spread": "5s"}}}],
}


def _run(tmp: Path, name: str, hashseed: str, seed: int) -> dict[str, bytes]:
    out = tmp / name
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    subprocess.run([sys.executable, "-m", "flowsim.cli", "run", str(tmp / "s.yaml"), "--out", str(out),
                    "--seed", str(seed), "--quiet"], check=True, env=env)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_byte_identical_across_processes_and_hash_seeds(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    first = _run(tmp_path, "one", "0", 5)
    second = _run(tmp_path, "two", "12345", 5)
    assert sorted(first) == ["events.csv", "runs.csv", "steps.csv", "summary.json", "timeseries.csv"]
    assert first == second
    third = _run(tmp_path, "three", "0", 6)
    assert third["events.csv"] != first["events.csv"]
