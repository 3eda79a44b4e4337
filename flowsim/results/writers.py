"""Writing a result to a directory, atomically.

Files are written into a temporary sibling directory which is renamed into place
only when everything is written, so an interrupted or failed run never leaves a
directory that looks complete.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flowsim.errors import ScenarioError
from flowsim.results.result import Result, TablesNotKept
from flowsim.units import parse_duration

FORMATS = ("csv", "parquet")


#: The names of what flowsim writes into an output directory (a run's tables and summary,
#: a report, an analysis's tables): a directory holding anything else is not replaced.
OUTPUT_NAMES = re.compile(r"(events|runs|steps|log|replications|summary|plan|timeseries)\.(csv|parquet|json)"
                          r"|index\.html|report\.md|[\w-]+\.png")


def check_format(fmt: str) -> None:
    """Refuse a table format that is unknown or whose library is not installed."""
    if fmt not in FORMATS:
        raise ScenarioError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}", field="--format")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ScenarioError("--format parquet needs pyarrow: pip install 'flowsim[parquet]'",
                                field="--format") from None


def check_output_dir(out: str | os.PathLike[str], field: str) -> Path:
    """Refuse, before anything runs, an output directory that cannot be written or whose
    replacement would lose something (:func:`atomic_dir` replaces it as a whole): the
    current directory or one above it, a file, a directory holding files flowsim did not
    write, or a place that cannot be created. Returns the path."""
    target = Path(out)
    if not str(out):
        raise ScenarioError("expected a directory, got an empty path", field=field)
    resolved = target.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise ScenarioError(f"{out} is the current directory or holds it, and flowsim replaces its output "
                            "directory as a whole: give a new directory or one flowsim wrote", field=field)
    if target.exists():
        if not target.is_dir():
            raise ScenarioError(f"{out} exists and is not a directory", field=field)
        foreign = sorted(p.name for p in target.iterdir() if not OUTPUT_NAMES.fullmatch(p.name))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ScenarioError(f"{out} holds files flowsim did not write ({shown}), which replacing it would "
                                "delete: give another directory, or empty it", field=field)
    check_writable_parent(resolved, out, field)
    return target


def check_outputs(outputs: dict[str, str | os.PathLike[str] | None]) -> None:
    """:func:`check_output_dir` for each output directory given (option → path), and
    refuse two of them that are the same or one inside the other (replacing one would
    replace or leave a stray file in the other)."""
    given = {field: check_output_dir(path, field).resolve() for field, path in outputs.items() if path is not None}
    fields = list(given)
    for i, a in enumerate(fields):
        for b in fields[i + 1:]:
            if given[a] == given[b] or given[a] in given[b].parents or given[b] in given[a].parents:
                raise ScenarioError(f"{outputs[b]} and {a} {outputs[a]} must be apart (neither inside the other)",
                                    field=b)


def check_writable_parent(resolved: Path, shown: str | os.PathLike[str], field: str) -> None:
    """Refuse a path whose nearest existing ancestor is not a writable directory."""
    ancestor = resolved.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ScenarioError(f"cannot create {shown}: {ancestor} is not a directory", field=field)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ScenarioError(f"cannot write {shown}: {ancestor} is not writable", field=field)


#: Round bin widths, in seconds, that :func:`default_bin` chooses from.
ROUND_BINS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BINS = 200


def default_bin(horizon: float) -> float:
    """The smallest round duration that cuts ``horizon`` into at most :data:`MAX_BINS` bins
    (100-200 of them for a horizon from a few minutes to a few months)."""
    for width in ROUND_BINS:
        if horizon / width <= MAX_BINS:
            return float(width)
    return float(ROUND_BINS[-1] * (horizon // (ROUND_BINS[-1] * MAX_BINS) + 1))


def timeseries_bin(text: str | None) -> bool | float:
    """What ``run --bin`` asks of :func:`write_result`: ``True`` (the default bin) when not
    given, else the bin in seconds; a :class:`ScenarioError` for anything but a positive duration."""
    if text is None:
        return True
    try:
        width = parse_duration(text)
    except ValueError as exc:
        raise ScenarioError(str(exc), field="--bin") from None
    if width <= 0:
        raise ScenarioError(f"expected a positive duration, got {text!r}", field="--bin")
    return width


def write_result(result: Result, out: str | os.PathLike[str], fmt: str = "csv",
                 timeseries: bool | float = False) -> Path:
    """Write ``events``, ``runs``, ``steps`` (CSV or Parquet) and ``summary.json``; with
    ``timeseries`` (``True`` for :func:`default_bin`, or a bin in seconds) also
    ``timeseries`` (``Result.timeseries``: per bin and function, arrivals, starts,
    completions, queue depth and slots in use per concurrency constraint)."""
    if result.summary_only:
        raise TablesNotKept("writing the tables")
    check_format(fmt)
    target = Path(out)
    with atomic_dir(target) as tmp:
        tables = {"events": result.events, "runs": result.runs, "steps": result.steps}
        if len(result.log):
            tables["log"] = result.log
        if timeseries is not False:
            tables["timeseries"] = result.timeseries(default_bin(result.horizon) if timeseries is True
                                                     else float(timeseries))
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
            try:
                os.replace(target, old / "x")
                os.replace(tmp, target)
            finally:
                if (old / "x").exists() and not target.exists():     # the second move failed: put it back
                    os.replace(old / "x", target)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
