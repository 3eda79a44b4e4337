"""``flowsim traffic ...``: commands that look at traffic before any simulation.

``flowsim traffic stats FILE`` prints :mod:`flowsim.traffic.stats` for a trace (JSON Lines,
CSV or TSV, gzipped or not, read with the mapping options below, which mirror the
``replay:`` fields of :mod:`flowsim.traffic.replay`) or for a scenario's traffic (FILE
ending in ``.yaml``/``.yml``: its sources merged with its seed, up to its horizon).
Bad input prints ``error: file:line: field: message`` and exits with code 2.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

import typer

from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.streams import Streams
from flowsim.traffic.event import Event
from flowsim.traffic.replay import (FORMATS, TIME_FORMATS, Bound, DataColumn, ReplaySource, Seconds, TimeSpec,
                                    TraceMapping, format_of, parse_when)
from flowsim.traffic.stats import format_stats, key_path, traffic_stats
from flowsim.units import parse_duration

traffic_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Look at traffic: statistics of a trace or of a scenario's traffic.")


@traffic_app.callback()
def traffic() -> None:
    """Look at traffic before simulating it (a group, so that ``stats`` keeps its name)."""


@traffic_app.command()
def stats(
    file: Path = typer.Argument(..., help="A trace (.jsonl, .csv, .tsv, optionally .gz) or a scenario (.yaml)."),
    fmt: Optional[str] = typer.Option(None, "--format", help=f"Trace format: {', '.join(FORMATS)} "
                                                           "(default: from the extension)."),
    time: Optional[str] = typer.Option(None, "--time", help="CSV/TSV: the column holding each row's time."),
    time_format: str = typer.Option("auto", "--time-format", help=f"One of {', '.join(TIME_FORMATS)}."),
    end_time: Optional[str] = typer.Option(None, "--end-time",
                                           help="CSV/TSV: a column holding end times (start = end - duration)."),
    duration: Optional[str] = typer.Option(None, "--duration", help="With --end-time: the duration column."),
    duration_unit: str = typer.Option("1s", "--duration-unit", help="What 1 in the duration column is."),
    name: Optional[str] = typer.Option(None, "--name", help="CSV/TSV: the column holding event names."),
    key: List[str] = typer.Option([], "--key", help="A key to count (repeatable): a CSV/TSV column, or an event "
                                                     "path such as data.user_id (JSON Lines, scenarios)."),
    start: Optional[str] = typer.Option(None, "--start", help="Window start: a duration from the origin or a date."),
    end: Optional[str] = typer.Option(None, "--end", help="Window end: a duration from the origin or a date."),
    strict: bool = typer.Option(False, "--strict", help="Reject out-of-order times instead of sorting them."),
    sort_window: int = typer.Option(10_000, "--sort-window", help="Lines held back to sort out-of-order times."),
    seed: Optional[int] = typer.Option(None, help="Scenario: the seed (default: the scenario's)."),
    source: List[str] = typer.Option([], "--source", help="Scenario: only these traffic sources (repeatable)."),
    top: int = typer.Option(5, "--top", help="How many top values to list per key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Rates (mean, per-minute p99, peak per second), burstiness and key skew of some traffic."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        try:
            if file.suffix.lower() in (".yaml", ".yml"):
                mapped = [o for o, v in (("--format", fmt), ("--time", time), ("--end-time", end_time),
                                         ("--name", name), ("--start", start), ("--end", end)) if v is not None]
                if mapped:
                    raise ScenarioError(f"{', '.join(mapped)} map a trace's columns; a scenario has its own "
                                        f"mapping", field=mapped[0])
                result = traffic_stats(_scenario_events(file, seed, source), [key_path(k) for k in key], top)
            else:
                mapping, paths = _mapping(file, fmt, time, time_format, end_time, duration, duration_unit, name, key)
                replay = ReplaySource("trace", file, mapping, str(file), start=_bound(start, "--start") or Bound(),
                                      end=_bound(end, "--end"), strict=strict,
                                      sort_window=sort_window).open(Streams(0))
                result = traffic_stats(replay, paths, top)
                result.origin_epoch = replay.origin_epoch
        except ScenarioError as exc:
            _show(caught)
            typer.echo(f"error: {exc.format()}", err=True)
            raise typer.Exit(2)
    _show(caught)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=1))
    else:
        typer.echo(format_stats(result, str(file)))


def _show(caught: Iterable[warnings.WarningMessage]) -> None:
    for w in caught:
        if issubclass(w.category, ScenarioWarning):
            typer.echo(f"warning: {w.message}", err=True)


def _mapping(file: Path, fmt: Optional[str], time: Optional[str], time_format: str, end_time: Optional[str],
             duration: Optional[str], duration_unit: str, name: Optional[str],
             keys: list[str]) -> tuple[TraceMapping, list[str]]:
    """The trace mapping the options describe, and the key paths to count."""
    fmt = fmt or format_of(file)
    if fmt not in FORMATS:
        raise ScenarioError(f"expected one of {', '.join(FORMATS)} (the extension does not say), "
                            f"got {fmt!r}", field="--format")
    if time_format not in TIME_FORMATS:
        raise ScenarioError(f"expected one of {', '.join(TIME_FORMATS)}, got {time_format!r}", field="--time-format")
    if fmt == "jsonl":
        for option, value in (("--time", time), ("--end-time", end_time), ("--name", name)):
            if value is not None:
                raise ScenarioError("JSON Lines events carry their own name and ts", field=option)
        return TraceMapping("jsonl", event="event"), [key_path(k) for k in keys]
    if (time is None) == (end_time is None):
        raise ScenarioError("give the time column: --time COLUMN, or --end-time COLUMN --duration COLUMN",
                            field="--time")
    if end_time is not None:
        if duration is None:
            raise ScenarioError("--end-time needs --duration (start = end - duration)", field="--duration")
        try:
            unit = parse_duration(duration_unit)
        except ValueError as exc:
            raise ScenarioError(str(exc), field="--duration-unit") from None
        spec = TimeSpec(end_time, time_format, Seconds(duration, unit))
    else:
        spec = TimeSpec(time or "", time_format)
    data = tuple(DataColumn(k, k) for k in keys if k != name)
    paths = ["name" if k == name else f"data.{k}" for k in keys]
    return TraceMapping(fmt, time=spec, name=name, event="event", data=data), paths


def _bound(text: Optional[str], option: str) -> Bound | None:
    if text is None:
        return None
    try:
        return Bound(offset=parse_duration(text))
    except ValueError:
        pass
    try:
        return Bound(when=parse_when(text),
                     relative_error=ScenarioError("a date needs a trace with absolute times", field=option))
    except ValueError:
        raise ScenarioError(f"expected a duration (10m) or a date (2023-11-16 18:30:00), got {text!r}",
                            field=option) from None


def _scenario_events(path: Path, seed: Optional[int], names: list[str]) -> Iterator[Event]:
    from flowsim.scenario.load import load_scenario
    from flowsim.traffic.sources import merge
    sc = load_scenario(path)
    sources = list(sc.traffic)
    if names:
        known = [s.name for s in sources]
        for n in names:
            if n not in known:
                raise ScenarioError(f"no traffic source {n!r}; the sources are: {', '.join(known)}", field="--source")
        sources = [s for s in sources if s.name in names]
    return merge(sources, Streams(sc.seed if seed is None else seed), sc.horizon)
