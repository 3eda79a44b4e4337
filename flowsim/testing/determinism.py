"""Determinism as a checked property: the same scenario and seed give byte-identical
outputs across processes and ``PYTHONHASHSEED`` values.

:func:`check_determinism` runs a set of scenarios in one fresh Python process per hash
seed (``python -m flowsim.testing.determinism OUT SCENARIO...``), each written exactly as
``flowsim run --explain`` writes it (``events.csv``, ``runs.csv``, ``steps.csv``,
``log.csv``, ``summary.json``), and compares every file byte for byte. A difference is an
:class:`~flowsim.testing.invariants.InvariantError` naming the scenario, the file, the
two hash seeds and the first differing line.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from flowsim.testing.invariants import InvariantError

HASH_SEEDS = ("0", "12345")


def compare_outputs(a: Path, b: Path, what: str = "") -> None:
    """Raise :class:`InvariantError` unless directories ``a`` and ``b`` hold the same files
    with the same bytes."""
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    if names_a != names_b:
        raise InvariantError("determinism", f"{what}: different files: {names_a} and {names_b}")
    for name in names_a:
        x, y = (a / name).read_bytes(), (b / name).read_bytes()
        if x == y:
            continue
        lx, ly = x.splitlines(), y.splitlines()
        line = next((i for i, (p, q) in enumerate(zip(lx, ly)) if p != q), min(len(lx), len(ly)))
        show = lambda lines: lines[line].decode(errors="replace") if line < len(lines) else "<end of file>"  # noqa: E731
        raise InvariantError("determinism", f"{what}: {name} differs at line {line + 1}: {show(lx)!r} against "
                                            f"{show(ly)!r}")


def write_outputs(scenarios: Sequence[str], out: Path, seed: int | None = None) -> None:
    """Simulate each scenario with the decision log and write it into ``out/<index>``."""
    import warnings

    import flowsim
    from flowsim.errors import ScenarioWarning
    from flowsim.results.writers import write_result

    for i, path in enumerate(scenarios):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            sc = flowsim.load_scenario(path)
        write_result(flowsim.simulate(sc, seed, explain=True), out / str(i))


def check_determinism(scenarios: Iterable[str | os.PathLike[str]], *, hash_seeds: Sequence[str] = HASH_SEEDS,
                      seed: int | None = None) -> None:
    """Run ``scenarios`` (YAML paths) once per ``PYTHONHASHSEED`` in ``hash_seeds``, each in
    a new process, and require byte-identical outputs (``seed``: the scenarios' own if None)."""
    paths = [str(Path(p).resolve()) for p in scenarios]
    with tempfile.TemporaryDirectory(prefix="flowsim-determinism-") as tmp:
        outs = []
        for h in hash_seeds:
            out = Path(tmp) / f"hash-{h}"
            cmd = [sys.executable, "-m", "flowsim.testing.determinism", str(out)] + paths
            if seed is not None:
                cmd[3:3] = ["--seed", str(seed)]
            subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": h})
            outs.append(out)
        for h, out in zip(hash_seeds[1:], outs[1:]):
            for i, path in enumerate(paths):
                compare_outputs(outs[0] / str(i), out / str(i),
                                f"{path} with PYTHONHASHSEED={hash_seeds[0]} and {h}")


def main(argv: list[str]) -> None:
    seed = None
    if argv[:1] == ["--seed"]:
        seed, argv = int(argv[1]), argv[2:]
    write_outputs(argv[1:], Path(argv[0]), seed)


if __name__ == "__main__":
    main(sys.argv[1:])
