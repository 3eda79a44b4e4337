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
from flowsim.traffic.replay import (DEFAULT_SORT_WINDOW, FORMATS, TIME_FORMATS, Bound, DataColumn, ReplaySource,
                                    Seconds, TimeSpec, TraceMapping, format_of, parse_when)
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
    time_format: Optional[str] = typer.Option(None, "--time-format",
                                              help=f"One of {', '.join(TIME_FORMATS)} (default: auto)."),
    end_time: Optional[str] = typer.Option(None, "--end-time",
                                           help="CSV/TSV: a column holding end times (start = end - duration)."),
    duration: Optional[str] = typer.Option(None, "--duration", help="With --end-time: the duration column."),
    duration_unit: Optional[str] = typer.Option(None, "--duration-unit",
                                                help="What 1 in the duration column is (default: 1s)."),
    name: Optional[str] = typer.Option(None, "--name", help="CSV/TSV: the column holding event names."),
    key: List[str] = typer.Option([], "--key", help="A key to count (repeatable): a CSV/TSV column, or an event "
                                                     "path such as data.user_id (JSON Lines, scenarios)."),
    start: Optional[str] = typer.Option(None, "--start", help="Window start: a duration from the origin or a date."),
    end: Optional[str] = typer.Option(None, "--end", help="Window end: a duration from the origin or a date."),
    strict: bool = typer.Option(False, "--strict", help="Reject out-of-order times instead of sorting them."),
    sort_window: Optional[int] = typer.Option(None, "--sort-window", help="Lines held back to sort out-of-order "
                                                                           f"times (default: {DEFAULT_SORT_WINDOW})."),
    seed: Optional[int] = typer.Option(None, help="Scenario: the seed (default: the scenario's)."),
    source: List[str] = typer.Option([], "--source", help="Scenario: only these traffic sources (repeatable)."),
    top: int = typer.Option(5, "--top", help="How many top values to list per key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Rates (mean, per-minute p99, peak per second), burstiness and key skew of some traffic."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        try:
            if top < 0:
                raise ScenarioError(f"expected a count of 0 or more, got {top}", field="--top")
            if file.is_dir():
                raise ScenarioError("is a directory; give a trace (.jsonl, .csv, .tsv, optionally .gz) or a "
                                    "scenario (.yaml)", file=str(file))
            if not file.exists():
                raise ScenarioError("no such file", file=str(file))
            if file.suffix.lower() in (".yaml", ".yml"):
                mapped = [o for o, v in (("--format", fmt), ("--time", time), ("--time-format", time_format),
                                         ("--end-time", end_time), ("--duration", duration),
                                         ("--duration-unit", duration_unit), ("--name", name), ("--start", start),
                                         ("--end", end), ("--sort-window", sort_window),
                                         ("--strict", strict or None)) if v is not None]
                if mapped:
                    raise ScenarioError(f"{', '.join(mapped)} map a trace's columns or "
                                        f"how it is read; a scenario has its own mapping",
                                        field=mapped[0])
                result = traffic_stats(_scenario_events(file, seed, source), _key_paths(key), top)
            else:
                scenario_only = [o for o, v in (("--seed", seed), ("--source", source or None)) if v is not None]
                if scenario_only:
                    raise ScenarioError(f"{', '.join(scenario_only)} {'apply' if len(scenario_only) > 1 else 'applies'}"
                                        f" to a scenario's traffic, not to a trace", field=scenario_only[0])
                if sort_window is not None and sort_window < 1:
                    raise ScenarioError(f"expected a number of lines of 1 or more, got {sort_window}",
                                        field="--sort-window")
                mapping, paths = _mapping(file, fmt, time, time_format or "auto", end_time, duration,
                                          duration_unit, name, key)
                window_start, window_end = _bound(start, "--start"), _bound(end, "--end")
                if (window_start is not None and window_end is not None
                        and (window_start.when is None) == (window_end.when is None)
                        and window_end.seconds() <= window_start.seconds()):
                    raise ScenarioError(f"the window's end ({end}) must be after its start ({start})", field="--end")
                replay = ReplaySource("trace", file, mapping, str(file), start=window_start or Bound(),
                                      end=window_end, strict=strict,
                                      sort_window=DEFAULT_SORT_WINDOW if sort_window is None else sort_window,
                                      ).open(Streams(0))
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
             duration: Optional[str], duration_unit: Optional[str], name: Optional[str],
             keys: list[str]) -> tuple[TraceMapping, list[str | tuple[str, ...]]]:
    """The trace mapping the options describe, and the key paths to count."""
    fmt = fmt or format_of(file)
    if fmt not in FORMATS:
        raise ScenarioError(f"expected one of {', '.join(FORMATS)} (the extension does not say), "
                            f"got {fmt!r}", field="--format")
    if time_format not in TIME_FORMATS:
        raise ScenarioError(f"expected one of {', '.join(TIME_FORMATS)}, got {time_format!r}", field="--time-format")
    if fmt == "jsonl":
        for option, value in (("--time", time), ("--end-time", end_time), ("--name", name),
                              ("--duration", duration), ("--duration-unit", duration_unit)):
            if value is not None:
                raise ScenarioError("JSON Lines events carry their own name and ts", field=option)
        if time_format != "auto":
            raise ScenarioError("JSON Lines events carry their ts in epoch milliseconds", field="--time-format")
        return TraceMapping("jsonl", event="event"), _key_paths(keys)
    if (time is None) == (end_time is None):
        raise ScenarioError("give the time column: --time COLUMN, or --end-time COLUMN --duration COLUMN",
                            field="--time")
    if end_time is None:
        for option, value in (("--duration", duration), ("--duration-unit", duration_unit)):
            if value is not None:
                raise ScenarioError(f"{option} goes with --end-time (start = end - duration); with --time it "
                                    f"would be ignored", field=option)
    if end_time is not None:
        if duration is None:
            raise ScenarioError("--end-time needs --duration (start = end - duration)", field="--duration")
        try:
            unit = parse_duration(duration_unit if duration_unit is not None else "1s")
        except ValueError as exc:
            raise ScenarioError(str(exc), field="--duration-unit") from None
        if not unit > 0:
            raise ScenarioError(f"expected a positive duration, got {duration_unit!r}", field="--duration-unit")
        spec = TimeSpec(end_time, time_format, Seconds(duration, unit))
    else:
        spec = TimeSpec(time or "", time_format)
    for k in keys:
        if not k:
            raise ScenarioError("expected a column name, got ''", field="--key")
    data = tuple(DataColumn(k, k) for k in keys if k != name)
    paths: list[str | tuple[str, ...]] = ["name" if k == name else ("data", k) for k in keys]
    return TraceMapping(fmt, time=spec, name=name, event="event", data=data), paths


def _key_paths(keys: list[str]) -> list[str]:
    """The event paths ``--key`` names (JSON Lines, scenarios): every part of the path non-empty."""
    paths = []
    for k in keys:
        path = key_path(k)
        if not k or any(not part for part in path.split(".")):
            raise ScenarioError(f"expected name, id or a dotted path such as data.user_id, got {k!r}", field="--key")
        paths.append(path)
    return paths


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
