"""Output hashes: a fingerprint of everything flowsim writes, to prove an engine change
changes no answer.

For every case it simulates the scenario and hashes the files ``flowsim run`` writes
(``events.csv``, ``runs.csv``, ``steps.csv``, ``summary.json``, and ``log.csv`` with
``--explain``), plus the tables' dtypes. The cases:

* ``shipped``: every shipped scenario (``scenarios/*.yaml``) and each of its variants,
  with the horizon capped (``--cap``, default 10 min), at two seeds, with and without
  the decision log;
* ``bench``: the benchmark scenarios (``benchmarks/scenarios/*.yaml``, whole, each at
  several peek sizes: the noisy tenant's deep backlog), the one-step M/M/5 and the combined
  multi-tenant scenario at 50,000 events;
* ``random``: random scenarios from :func:`flowsim.testing.strategies.scenarios` (up to 3
  functions, ties at whole seconds, every mechanism), drawn derandomized so the same
  Hypothesis version draws the same ones, with and without the decision log.

    python benchmarks/hashes.py --write before.json --random-file drawn.json   # on the old commit
    python benchmarks/hashes.py --check before.json --random-file drawn.json   # on the new one
    python benchmarks/hashes.py --only shipped,bench --check before.json
    python benchmarks/hashes.py --tables-only --write before.json   # what happened, not the summary

Exits 1 when ``--check`` finds a difference (or a case missing from one side).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

KINDS = ("shipped", "bench", "random")
SEEDS = (None, 7)          # the scenario's own seed, and another
PEEK_SIZES = (None, 50, 300, 750)


def _capped(path: str, cap: float, extra: tuple[tuple[str, Any], ...] = ()) -> list[tuple[str, Any]]:
    """(variant label, scenario) pairs of a scenario file, horizon capped at ``cap`` seconds."""
    from flowsim.analysis.overrides import Override
    from flowsim.analysis.replicate import Base, _scenario
    base = Base.load(path)
    sets = [Override(p, v) for p, v in extra]
    if base.scenario.horizon > cap:
        sets.append(Override("horizon", f"{cap:g}s"))
    out = []
    for name, overrides in base.variants().items():
        spec = Base(base.scenario, base.source, tuple(sets), base.warnings).spec(overrides)
        out.append((name, _scenario(spec)))
    return out


def cases(kinds: tuple[str, ...], cap: float, random_n: int,
          random_file: str | None = None) -> Iterator[tuple[str, str, Any, bool]]:
    """(kind, label, argument, explain): the argument is what :func:`_hash_case` builds."""
    if "shipped" in kinds:
        for path in sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml"))):
            for seed in SEEDS:
                for explain in (False, True):
                    yield "shipped", f"{Path(path).stem}|seed={seed}|explain={explain}", (path, seed, ()), explain
    if "bench" in kinds:
        for path in sorted(glob.glob(str(ROOT / "benchmarks" / "scenarios" / "*.yaml"))):
            for peek in PEEK_SIZES:
                extra = () if peek is None else (("platform.peek_size", peek),)
                yield "bench", f"{Path(path).stem}|peek={peek}", (path, None, extra), False    # not capped
        yield "bench", "mmc5", ("mmc", None, ()), False
        yield "bench", "multi-tenant-50k", ("multi-tenant", None, ()), False
    if "random" in kinds:
        for i, sc in enumerate(drawn_scenarios(random_n, random_file)):      # drawn once: jobs carry them
            for explain in (False, True):
                yield "random", f"random-{i:04d}|explain={explain}", ("random", sc, ()), explain


def drawn_scenarios(n: int, path: str | None) -> list[dict[str, Any]]:
    """The random scenarios of the ``random`` kind: read from ``path`` when it exists, else
    drawn and, with a ``path``, written there. Hypothesis mines string literals from the
    modules loaded when it draws, so a change that adds a module or a literal draws other
    scenarios: compare two commits on the scenarios of one file."""
    if path and Path(path).exists():
        scenarios = json.loads(Path(path).read_text())
        if len(scenarios) < n:
            raise SystemExit(f"{path} holds {len(scenarios)} scenarios, fewer than --random {n}")
        return scenarios[:n]
    scenarios = random_scenarios(n)
    if path:
        Path(path).write_text(json.dumps(scenarios))
    return scenarios


def random_scenarios(n: int) -> list[dict[str, Any]]:
    """``n`` scenarios drawn derandomized from :func:`flowsim.testing.strategies.scenarios`."""
    from hypothesis import HealthCheck, given, settings
    from flowsim.testing import strategies as fst
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(fst.scenarios())
    def draw(sc: dict[str, Any]) -> None:
        if len(drawn) < n:
            drawn.append(json.loads(json.dumps(sc)))
    draw()
    return drawn


def _files_hash(directory: Path, result: Any, tables_only: bool) -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if tables_only and name == "summary.json":
            continue
        h.update(name.encode())
        h.update((directory / name).read_bytes())
    for table in ("events", "runs", "steps"):
        h.update(repr(list(getattr(result, table).dtypes.astype(str).items())).encode())
    return h.hexdigest()


def _hash_case(job: tuple[str, str, Any, bool, float, bool]) -> tuple[str, str]:
    kind, label, arg, explain, cap, tables_only = job
    import flowsim
    from flowsim.errors import ScenarioWarning
    from flowsim.results.writers import write_result
    warnings.simplefilter("ignore")
    what, seed, extra = arg
    if kind == "shipped":
        scenarios = _capped(what, cap, extra)
    elif kind == "bench" and what not in ("mmc", "multi-tenant"):
        scenarios = _capped(what, float("inf"), extra)
    elif what == "mmc":
        from suite import mmc_scenario
        scenarios = [("base", mmc_scenario(5, 20_000))]
    elif what == "multi-tenant":
        from suite import multi_tenant
        scenarios = [("base", flowsim.load_scenario(multi_tenant(50_000)))]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            scenarios = [("base", flowsim.load_scenario(seed))]      # the drawn scenario
        seed = None
    h = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="flowsim-hash-") as tmp:
        for name, sc in scenarios:
            result = flowsim.simulate(sc, seed, explain=explain)
            out = Path(tmp) / name
            write_result(result, out)
            h.update(name.encode())
            h.update(_files_hash(out, result, tables_only).encode())
    return label, h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    parser.add_argument("--cap", type=float, default=600.0, help="horizon cap in seconds (default 600)")
    parser.add_argument("--random", type=int, default=600, help="random scenarios (default 600)")
    parser.add_argument("--random-file", metavar="FILE", help="read the random scenarios from FILE (JSON), or draw "
                        "them and write them there if it does not exist: the same scenarios on both commits")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tables-only", action="store_true",
                        help="hash the tables and the decision log, not summary.json (for a change that adds "
                             "to the summary but must not change what happened)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE", help="write the hashes as JSON")
    group.add_argument("--check", metavar="FILE", help="compare with hashes written before")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.only.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    jobs = [(k, label, arg, explain, args.cap, args.tables_only) for k, label, arg, explain in
            cases(kinds, args.cap, args.random, args.random_file)]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            hashes = dict(pool.map(_hash_case, jobs, chunksize=8))
    else:
        hashes = dict(map(_hash_case, jobs))
    if args.write:
        Path(args.write).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
        print(f"{len(hashes)} hashes written to {args.write}")
        return 0
    before = json.loads(Path(args.check).read_text())
    before = {k: v for k, v in before.items() if any(k.startswith(p) for p in _prefixes(kinds))}
    differ = sorted(k for k in hashes if k in before and before[k] != hashes[k])
    missing = sorted(set(before) ^ set(hashes))
    for k in differ:
        print(f"differs: {k}")
    for k in missing:
        print(f"only on one side: {k}")
    print(f"{len(differ)} of {len(hashes)} hashes differ; {len(missing)} on one side only")
    return 1 if differ or missing else 0


def _prefixes(kinds: tuple[str, ...]) -> list[str]:
    """Label prefixes of the kinds (a shipped label starts with the scenario's name)."""
    out = []
    if "shipped" in kinds:
        out += [Path(p).stem + "|" for p in glob.glob(str(ROOT / "scenarios" / "*.yaml"))]
    if "bench" in kinds:
        out += [Path(p).stem + "|" for p in glob.glob(str(ROOT / "benchmarks" / "scenarios" / "*.yaml"))]
        out += ["mmc5", "multi-tenant-50k"]
    if "random" in kinds:
        out += ["random-"]
    return out


if __name__ == "__main__":
    sys.exit(main())
