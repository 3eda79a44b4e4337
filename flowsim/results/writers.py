"""Writing a result to a directory, atomically.

Files are written into a temporary sibling directory which is renamed into place
only when everything is written, so an interrupted or failed run never leaves a
directory that looks complete.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flowsim.errors import ScenarioError
from flowsim.results.result import Result, TablesNotKept

FORMATS = ("csv", "parquet")


def write_result(result: Result, out: str | os.PathLike[str], fmt: str = "csv") -> Path:
    """Write ``events``, ``runs``, ``steps`` (CSV or Parquet) and ``summary.json``."""
    if result.summary_only:
        raise TablesNotKept("writing the tables")
    if fmt not in FORMATS:
        raise ScenarioError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}", field="--format")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ScenarioError("--format parquet needs pyarrow: pip install 'flowsim[parquet]'",
                                field="--format") from None
    target = Path(out)
    with atomic_dir(target) as tmp:
        tables = {"events": result.events, "runs": result.runs, "steps": result.steps}
        if len(result.log):
            tables["log"] = result.log
        for name, df in tables.items():
            if fmt == "csv":
                df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n", float_format="%.9g")
            else:
                df.to_parquet(tmp / f"{name}.parquet", index=False)
        _write_summary(result, tmp)
    return target


def write_summary(result: Result, out: str | os.PathLike[str]) -> Path:
    """Write ``summary.json`` alone into the directory ``out`` (replaced atomically): the
    output of a summary-only result (``simulate(..., tables=False)``)."""
    target = Path(out)
    with atomic_dir(target) as tmp:
        _write_summary(result, tmp)
    return target


def _write_summary(result: Result, directory: Path) -> None:
    with open(directory / "summary.json", "w", encoding="utf-8") as fh:
        json.dump(result.summary(), fh, indent=2, sort_keys=False)
        fh.write("\n")


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces ``target`` only if the block
    completes, so a failed or interrupted write never leaves a directory that looks
    complete (an existing ``target`` is kept until then)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
