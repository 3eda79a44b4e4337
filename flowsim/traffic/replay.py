"""Replaying recorded traffic: Inngest JSON Lines event files and CSV/TSV traces.

A ``replay:`` traffic source reads a file lazily and yields its events::

    - name: llm                       # optional; default "t<index>"; names ids and streams
      event: llm/request              # the name of events that carry none (CSV without `name`)
      replay:
        file: ../traces/llm/code.csv.gz    # relative to the scenario file; gzip is detected
        format: csv                   # jsonl | csv | tsv; default from the extension
        # -- CSV/TSV column mapping --------------------------------------------------
        header: true                  # the first line names the columns (default)
        columns: [a, b, c]            # or name them here, for a file without a header
        time: TIMESTAMP               # or {column: c, format: auto|epoch_s|epoch_ms|datetime|seconds}
                                      # or {end: end_timestamp, duration: duration}: start = end - duration
        name: url                     # the column holding the event name
        data: [host, url]             # columns copied into event.data, as strings
        data: {host: host, bytes: {column: bytes, type: int}}   # or field: column (type str|int|float)
        # -- both formats --------------------------------------------------------
        durations: {generate: {column: GeneratedTokens, unit: 20ms, offset: 250ms}}
        start: 10m                    # window: a duration from the trace's origin, or a date
        end: "2023-11-16 19:00:00"    #   (ISO-8601, read as UTC when it has no offset)
        speed: 2                      # time compression: the trace plays twice as fast
        scale: 1.5                    # rate multiplier: thinning below 1, copies above 1
        jitter: 1s                    # copies land uniformly within this time after their original
        remap: {host: {buckets: 50, format: "tenant-{}"}}   # hash many keys into a few
        order: sort                   # sort | strict: what to do with out-of-order times
        sort_window: 10000            # lines held back for sorting

**Records.** A JSON Lines file holds one Inngest event per line, ``{"name", "data", "id",
"ts", "user"}`` with ``ts`` in epoch milliseconds, as Inngest's event API and exports use
(other keys, such as ``v``, are ignored). A CSV/TSV row becomes an event through the
mapping: the time column (``format: auto`` reads datetimes as such and numbers as epoch
milliseconds from 1e11, epoch seconds from 1e8, seconds from the trace start below), the
name column or the source's ``event``, the ``data`` columns (an empty cell leaves its
field out) and ``durations``: per step name, ``offset + value x unit`` seconds taken
from a numeric column (JSON Lines: a dotted path such as ``data.tokens``); the engine
uses it instead of the step's distribution, and an empty cell keeps the distribution.
Events without an ``id`` get ``<source>-<line>``. Blank lines are skipped; CRLF line
ends and a missing final newline are fine.

**Time.** Each record has a trace time. Epoch and datetime times are an *absolute*
clock whose origin is the earliest event; seconds from the trace start (and flowsim
recordings) are a *relative* clock whose origin is 0. ``start`` (default: the origin)
becomes simulation time 0 and ``end`` (default: none) stops the replay, both either a
duration from the origin or an absolute date; then ``at = (time - start) / speed``, and
events at or after the horizon are not read. Absolute times are kept relative to the
first record's whole second, so sub-microsecond digits survive.

**Order.** Records are sorted by time (stably, by line) within a window of
``sort_window`` lines: a record that goes back in time gives one warning per pass
(``order: strict`` makes it an error); one that goes back further than the window can
repair is an error naming both lines.

**Scale.** Each record, in time order, gets ``floor(scale)`` copies plus one more with
probability ``scale - floor(scale)``, drawn from the stream ``replay:<source>/scale``; so
``scale: 0.3`` keeps 30% of the events and ``scale: 2`` doubles each one. The first copy is
the record itself; the others get ids ``<id>~1``, ``<id>~2``..., the same data, and times
shifted by ``jitter x u`` with ``u`` uniform from ``replay:<source>/jitter`` (0 by default:
copies arrive with their original). A record's draws do not depend on ``start``/``end``.

**Remap.** ``remap: {field: {buckets: N, from: other, format: "t-{}"}}`` sets data
``field`` to the bucket ``0..N-1`` of ``from``'s value (default: the field itself), a
stable hash of its key string (as keys are formatted, spec §2.1), optionally formatted.

**Recordings.** ``flowsim run --record`` writes Inngest events with an extra
``"_flowsim": {"at", "ts", "durations"}`` holding the exact simulation times in seconds
(:mod:`flowsim.traffic.record`). A file whose first event has it is read on that
relative clock, so that replaying a recording reproduces the recorded run exactly.

Bad input raises :class:`~flowsim.errors.ScenarioError` naming the trace file, the line and
the column (JSON Lines: the field); mistakes in the mapping itself name the scenario's line.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import functools
import gzip
import hashlib
import heapq
import json
import math
import warnings
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.expr import key_string
from flowsim.scenario.source import Node
from flowsim.streams import Streams
from flowsim.traffic.arrivals import Expected
from flowsim.traffic.data import FORMAT_ERRORS
from flowsim.traffic.event import Event
from flowsim.units import format_duration, parse_duration

FORMATS = ("jsonl", "csv", "tsv")
TIME_FORMATS = ("auto", "epoch_s", "epoch_ms", "datetime", "seconds")
COLUMN_TYPES = ("str", "int", "float")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
RECORDING_KEY = "_flowsim"
DEFAULT_SORT_WINDOW = 10_000
MAX_DEPTH = 100                  # how deeply a JSON Lines event may nest lists and objects
_BLOCK = 1024                    # uniforms drawn at once for scale and jitter
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)


# -- the mapping ------------------------------------------------------------------

@dataclass(frozen=True)
class Seconds:
    """A numeric column (JSON Lines: a dotted path) read as ``offset + value x unit`` seconds."""

    column: str
    unit: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class TimeSpec:
    """Where a CSV/TSV row's time is: ``column``, minus ``duration`` when that is given."""

    column: str
    format: str = "auto"
    duration: Seconds | None = None


@dataclass(frozen=True)
class DataColumn:
    """A CSV/TSV column copied into ``event.data[field]`` as ``type``."""

    field: str
    column: str
    type: str = "str"


@dataclass(frozen=True)
class TraceMapping:
    """How a file's records become events (see the module docstring)."""

    format: str
    time: TimeSpec | None = None
    name: str | None = None
    event: str | None = None
    data: tuple[DataColumn, ...] = ()
    durations: tuple[tuple[str, Seconds], ...] = ()
    header: bool = True
    columns: tuple[str, ...] | None = None

    def used_columns(self) -> list[str]:
        """The CSV/TSV columns the mapping reads, in the order errors report them."""
        out = []
        if self.time is not None:
            out.append(self.time.column)
            if self.time.duration is not None:
                out.append(self.time.duration.column)
        if self.name is not None:
            out.append(self.name)
        out.extend(d.column for d in self.data)
        out.extend(s.column for _, s in self.durations)
        return list(dict.fromkeys(out))


def format_of(path: Path) -> str | None:
    """The format a file's extension implies (``.gz`` looked through), or ``None``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1]) if suffixes else None


# -- reading ----------------------------------------------------------------------

class Record(NamedTuple):
    """One event of a trace, before windowing: times on the reader's clock (seconds)."""

    t: float
    ts: float
    line: int
    name: str
    data: dict[str, Any]
    id: str
    user: dict[str, Any] | None
    durations: dict[str, float] | None


@contextlib.contextmanager
def open_lines(path: Path, display: str) -> Iterator[Iterator[str]]:
    """The lines of ``path`` as UTF-8 text, gunzipped when it starts like gzip, decoded one by one.

    Decoding line by line lets a bad byte be reported at its line; a leading BOM is dropped.
    Decoding and gzip errors surface while iterating (see :meth:`TraceReader.error`).
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    except FileNotFoundError:
        raise ScenarioError("no such trace file", file=display) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the trace: {exc}", file=display) from None
    with raw:
        yield _decoded(raw)


def _decoded(raw: Any) -> Iterator[str]:
    lines = iter(raw)
    first = next(lines, None)
    if first is None:
        return
    yield first.decode("utf-8").removeprefix("\ufeff")
    for line in lines:
        yield line.decode("utf-8")


def trace_lines(path: Path, sample: int = 1 << 16) -> float | None:
    """About how many lines ``path`` holds, from its size and its first ``sample`` bytes
    (gzip: the uncompressed size its trailer records); ``None`` if it cannot be read."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            magic = fh.read(2)
            if magic == b"\x1f\x8b":
                fh.seek(-4, 2)
                # ISIZE: the uncompressed size modulo 2**32 (of the last member)
                size = max(int.from_bytes(fh.read(4), "little"), size)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            head = fh.read(sample)
    except (OSError, EOFError, zlib.error):
        return None
    if not head:
        return 0.0
    return size / (len(head) / max(head.count(b"\n"), 1))


class _Clock:
    """Turns time cells into seconds on the trace's clock, relative to ``base``.

    ``base`` is the first time's whole epoch second for absolute clocks, 0 for relative ones.
    """

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.base: int | None = None

    @property
    def relative(self) -> bool:
        return self.format == "seconds"

    def parse(self, text: str) -> float:
        """Seconds since ``base``; ``ValueError`` with what was expected."""
        fmt = self.format
        if fmt == "auto":
            fmt = self.format = _detect(text)
        try:
            if fmt == "datetime":
                whole, frac = _datetime_seconds(text)
                if self.base is None:
                    self.base = whole
                return (whole - self.base) + frac
            value = float(text)
        except ValueError:
            raise ValueError(f"cannot read {text!r} as {_FORMAT_HELP[fmt]}") from None
        if not math.isfinite(value):
            raise ValueError(f"cannot read {text!r} as {_FORMAT_HELP[fmt]}")
        if fmt == "seconds":
            self.base = 0
            return value
        if fmt == "epoch_ms":
            return self.from_ms(value)
        if self.base is None:
            self.base = math.floor(value)
        return value - self.base      # exact: value and base are within a factor 2 (Sterbenz)

    def from_ms(self, ms: float) -> float:
        """Seconds since ``base`` of an epoch time in milliseconds."""
        if self.base is None:
            self.base = math.floor(ms / 1000)
        return (ms - self.base * 1000) / 1000

    def absolute(self, when: tuple[int, float]) -> float:
        """An absolute ``(epoch second, fraction)`` on this clock."""
        return (when[0] - (self.base or 0)) + when[1]


_FORMAT_HELP = {"epoch_s": "epoch seconds", "epoch_ms": "epoch milliseconds", "seconds": "seconds",
                "datetime": "a datetime (ISO-8601 or YYYY-MM-DD HH:MM:SS.fffffff)"}


def _detect(text: str) -> str:
    """``format: auto``: datetimes by their look, numbers by their size (module docstring)."""
    try:
        value = float(text)
    except ValueError:
        return "datetime"
    if abs(value) >= 1e11:
        return "epoch_ms"
    return "epoch_s" if abs(value) >= 1e8 else "seconds"


def _datetime_seconds(text: str) -> tuple[int, float]:
    """``(whole epoch seconds, fraction)`` of an ISO-8601 datetime; naive means UTC.

    Python keeps microseconds; a longer fraction (Azure's 7 digits) is read from the text.
    """
    dt = datetime.fromisoformat(text.strip())
    whole = (dt.replace(microsecond=0) - (_EPOCH if dt.tzinfo is None else _EPOCH_UTC)) // _SECOND
    frac = dt.microsecond / 1e6
    dot = text.find(".", 10)
    if dot > 0:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            frac = int(text[dot + 1:end]) / 10 ** (end - dot - 1)
    return whole, frac


def parse_when(value: Any) -> tuple[int, float]:
    """An absolute time written by a user (``datetime``/``date`` from YAML, or ISO text)."""
    if isinstance(value, datetime):
        base = _EPOCH if value.tzinfo is None else _EPOCH_UTC
        return (value.replace(microsecond=0) - base) // _SECOND, value.microsecond / 1e6
    if isinstance(value, date):
        return (datetime(value.year, value.month, value.day) - _EPOCH) // _SECOND, 0.0
    if isinstance(value, str):
        return _datetime_seconds(value)
    raise ValueError(f"expected a datetime, got {value!r}")


class TraceReader:
    """Reads a trace's records in file order, lazily; knows its clock once reading began."""

    def __init__(self, path: Path, mapping: TraceMapping, display: str | None = None) -> None:
        self.path = path
        self.mapping = mapping
        self.display = display or str(path)
        self.clock = _Clock(mapping.time.format if mapping.time is not None else "epoch_ms")

    def error(self, message: str, line: int | None = None, column: str | None = None) -> ScenarioError:
        return ScenarioError(message, file=self.display, line=line, field=column)

    def time_field(self) -> str:
        """The column (JSON Lines: the field) that holds the records' times."""
        if self.mapping.time is not None:
            return self.mapping.time.column
        return f"{RECORDING_KEY}.at" if self.clock.relative else "ts"

    def records(self) -> Iterator[Record]:
        """Every record of the file, in file order."""
        if self.mapping.format == "jsonl":
            return self._jsonl()
        return self._delimited()

    # -- CSV / TSV --------------------------------------------------------------
    def _rows(self, lines: Iterator[str]) -> Any:
        if self.mapping.format == "tsv":
            return csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        # strict: a quote that is never closed is an error, not the rest of the file in one cell
        return csv.reader(lines, strict=True)

    def header(self) -> list[str]:
        """The column names (from the first non-blank line, or the mapping's ``columns``)."""
        if self.mapping.columns is not None:
            return list(self.mapping.columns)
        with open_lines(self.path, self.display) as lines:
            rows = self._rows(lines)
            for row in self._guard(rows):
                if row:
                    return row
        raise self.error("the trace is empty (no header line)", 1)

    def columns_index(self, header: list[str], line: int | None = 1) -> dict[str, int]:
        """Positions of the mapping's columns; a missing or repeated one is an error."""
        index: dict[str, int] = {}
        for col in self.mapping.used_columns():
            hits = [i for i, name in enumerate(header) if name.strip() == col]
            if not hits:
                raise self.error(f"missing column {col!r}; the columns are: {', '.join(header)}", line, col)
            if len(hits) > 1:
                raise self.error(f"column {col!r} appears {len(hits)} times in the header", line, col)
            index[col] = hits[0]
        return index

    def _guard(self, rows: Any) -> Iterator[list[str]]:
        """The rows, with decoding and CSV errors turned into located errors."""
        it = iter(rows)
        while True:
            first = rows.line_num + 1          # the line the next row starts on
            try:
                row = next(it)
            except StopIteration:
                return
            except csv.Error as exc:
                if str(exc) == "unexpected end of data" and rows.line_num > first:
                    raise self.error(f"malformed CSV: the quoted field that starts on this line is never "
                                     f"closed (it runs to line {rows.line_num}, the end of the file)",
                                     first) from None
                if str(exc) == "unexpected end of data":
                    raise self.error("malformed CSV: a quoted field is never closed", first) from None
                raise self.error(f"malformed CSV: {exc}", rows.line_num) from None
            except UnicodeDecodeError:
                raise self.error("not UTF-8 text", rows.line_num + 1) from None
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise self.error(f"damaged gzip data: {exc}", rows.line_num + 1) from None
            yield row

    def _delimited(self) -> Iterator[Record]:
        m = self.mapping
        with open_lines(self.path, self.display) as lines:
            rows = self._rows(lines)
            rows_it = self._guard(rows)
            if m.columns is not None:
                header = list(m.columns)
                index = self.columns_index(header, None)
            else:
                header = next((row for row in rows_it if row), [])
                if not header:
                    raise self.error("the trace is empty (no header line)", 1)
                index = self.columns_index(header, rows.line_num)
            width = len(header)
            need = max(index.values(), default=-1) + 1
            assert m.time is not None
            t_col, t_at = m.time.column, index[m.time.column]
            minus = m.time.duration
            minus_at = index[minus.column] if minus is not None else -1
            name_at = index[m.name] if m.name is not None else -1
            data = [(d.field, index[d.column], _CONVERT[d.type], d) for d in m.data]
            durations = [(step, index[s.column], s) for step, s in m.durations]
            clock = self.clock
            for row in rows_it:
                if not row:
                    continue
                line = rows.line_num
                if len(row) < need:
                    missing = next(c for c, i in index.items() if i >= len(row))
                    raise self.error(f"missing column {missing!r}: the row has {len(row)} fields, "
                                     f"the header {width}", line, missing)
                if len(row) > width:
                    raise self.error(f"the row has {len(row)} fields but the header only {width} "
                                     f"(a stray delimiter?)", line)
                try:
                    t = clock.parse(row[t_at])
                except ValueError as exc:
                    raise self.error(str(exc), line, t_col) from None
                if minus is not None:
                    t -= self._seconds(row[minus_at], minus, line)
                if name_at >= 0 and row[name_at]:
                    name = row[name_at]
                elif m.event is not None:
                    name = m.event
                else:
                    raise self.error("empty event name (give the source an `event` to use instead)",
                                     line, m.name)
                values: dict[str, Any] = {}
                for fld, at, convert, spec in data:
                    cell = row[at]
                    if cell:
                        try:
                            values[fld] = convert(cell)
                        except ValueError:
                            raise self.error(f"cannot read {cell!r} as {_TYPE_HELP[spec.type]}", line,
                                             spec.column) from None
                override = None
                for step, at, spec in durations:
                    if row[at]:
                        if override is None:
                            override = {}
                        override[step] = self._seconds(row[at], spec, line)
                yield Record(t, t, line, name, values, "", None, override)

    def _seconds(self, cell: str, spec: Seconds, line: int) -> float:
        try:
            value = float(cell)
        except ValueError:
            raise self.error(f"cannot read {cell!r} as a number", line, spec.column) from None
        return self._check_seconds(value, spec, line)

    def _check_seconds(self, value: float, spec: Seconds, line: int) -> float:
        seconds = spec.offset + value * spec.unit
        if not math.isfinite(seconds) or seconds < 0:
            raise self.error(f"expected a non-negative duration, got {value!r} "
                             f"({format_duration(spec.offset)} + value x {format_duration(spec.unit)})",
                             line, spec.column)
        return seconds

    # -- JSON Lines -----------------------------------------------------------------
    def _jsonl(self) -> Iterator[Record]:
        recording: bool | None = None
        for line, text in self._event_lines():
            obj = self._json(text, line)
            if not isinstance(obj, dict):
                raise self.error(f"expected a JSON object (an event), got {type(obj).__name__}", line)
            if recording is None:
                recording = RECORDING_KEY in obj
                if recording:
                    self.clock.format = "seconds"
                    self.clock.base = 0
            yield self._event_record(obj, line, recording)

    def _event_lines(self) -> Iterator[tuple[int, str]]:
        """The non-blank lines of a JSON Lines file with their numbers, lazily; an empty
        file, text that is not UTF-8 and damaged gzip data are errors at their line."""
        line = 0
        empty = True
        with open_lines(self.path, self.display) as lines:
            while True:
                try:
                    text = next(lines)
                except StopIteration:
                    if empty:
                        raise self.error("the trace is empty (no events)", 1) from None
                    return
                except UnicodeDecodeError:
                    raise self.error("not UTF-8 text", line + 1) from None
                except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                    raise self.error(f"damaged gzip data: {exc}", line + 1) from None
                line += 1
                if text.strip():
                    empty = False
                    yield line, text

    def _json(self, text: str, line: int) -> Any:
        """The JSON value of one line; what is wrong with it names the line.

        Values nested more than ``MAX_DEPTH`` deep are refused: copying, hashing and writing
        them would exceed Python's recursion limit later, far from the line.
        """
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid JSON: {exc.msg} (column {exc.colno})", line) from None
        except RecursionError:
            raise self.error(f"invalid JSON: nested too deeply (at most {MAX_DEPTH} levels)", line) from None
        except ValueError as exc:                    # an integer of more than 4300 digits
            raise self.error(f"invalid JSON: {exc}", line) from None
        if text.count("[") + text.count("{") > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
            raise self.error(f"invalid JSON: nested too deeply (at most {MAX_DEPTH} levels)", line)
        return obj

    def first_event_line(self) -> int:
        """The line of the first non-blank line of a JSON Lines file; an empty file is an error.

        Reads no further than that line, so that a scenario with an empty trace fails at load.
        """
        lines = self._event_lines()
        try:
            return next(lines)[0]
        finally:
            lines.close()

    def _event_record(self, obj: dict[str, Any], line: int, recording: bool) -> Record:
        name = obj.get("name")
        if name is None:
            if self.mapping.event is None:
                raise self.error("missing event name (give the source an `event` to use instead)", line, "name")
            name = self.mapping.event
        elif not isinstance(name, str) or not name:
            raise self.error(f"expected a non-empty string, got {name!r}", line, "name")
        data = obj.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise self.error(f"expected a JSON object, got {json.dumps(data)[:40]}", line, "data")
        ident = obj.get("id")
        if ident is None:
            ident = ""
        elif not isinstance(ident, str):
            raise self.error(f"expected a string, got {json.dumps(ident)[:40]}", line, "id")
        user = obj.get("user")
        if user is not None and not isinstance(user, dict):
            raise self.error(f"expected a JSON object, got {json.dumps(user)[:40]}", line, "user")
        if recording:
            ext = obj.get(RECORDING_KEY)
            if not isinstance(ext, dict):
                raise self.error("missing: the file's first event has it, so every event must "
                                 "(a flowsim recording)", line, RECORDING_KEY)
            t = self._number(ext.get("at"), line, f"{RECORDING_KEY}.at", "seconds")
            ts = self._number(ext.get("ts", t), line, f"{RECORDING_KEY}.ts", "seconds")
            durations = ext.get("durations")
            if durations is not None and not (isinstance(durations, dict) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in durations.values())):
                raise self.error("expected an object of non-negative seconds", line, f"{RECORDING_KEY}.durations")
        else:
            t = ts = self.clock.from_ms(self._number(obj.get("ts"), line, "ts", "epoch milliseconds"))
            durations = None
        for step, spec in self.mapping.durations:
            value = _path(obj, spec.column)
            if value is _ABSENT or value is None:
                continue
            value = self._number(value, line, spec.column, "a number")
            durations = dict(durations or {})
            durations[step] = self._check_seconds(value, spec, line)
        return Record(t, ts, line, name, data, ident, user, durations)

    def _number(self, value: Any, line: int, fld: str, what: str) -> float:
        if value is None:
            raise self.error(f"missing ({what})", line, fld)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"expected {what}, got {json.dumps(value)[:40]}", line, fld)
        try:
            number = float(value)
        except OverflowError:                        # an integer beyond any float
            raise self.error(f"expected {what}, got an integer of {len(str(abs(value)))} digits", line,
                             fld) from None
        if not math.isfinite(number):
            raise self.error(f"expected {what}, got {json.dumps(value)[:40]}", line, fld)
        return number


def _depth(obj: Any) -> int:
    """How deeply ``obj``'s lists and objects nest (a scalar: 0), without recursion."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return deepest


_CONVERT = {"str": str, "int": int, "float": float}
_TYPE_HELP = {"str": "a string", "int": "an integer", "float": "a number"}
_ABSENT = object()


def _path(obj: Any, dotted: str) -> Any:
    """The value at a dotted path (``data.user.id``), or ``_ABSENT``."""
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _ABSENT
        obj = obj[part]
    return obj


# -- sorting ----------------------------------------------------------------------

def sort_records(records: Iterator[Record], reader: TraceReader, strict: bool,
                 window: int) -> Iterator[Record]:
    """``records`` by ``(t, line)``, repairing disorder within ``window`` lines (module docstring)."""
    heap: list[tuple[float, int, Record]] = []
    latest: Record | None = None      # the latest record read so far
    out: Record | None = None         # the last record yielded
    warned = False
    for rec in records:
        if latest is not None and rec.t < latest.t:
            column = reader.time_field()
            back = f"{format_duration(latest.t - rec.t)} before line {latest.line}'s"
            if strict:
                raise reader.error(f"out of order: the time is {back} (`order: strict`)", rec.line, column)
            if out is not None and rec.t < out.t:
                raise reader.error(f"out of order by more than the sort window ({window} lines): the time is "
                                   f"{format_duration(out.t - rec.t)} before line {out.line}'s, already "
                                   f"replayed; sort the file or raise `sort_window`", rec.line, column)
            if not warned:
                warned = True
                warnings.warn(ScenarioWarning(reader.error(
                    f"out of order: the time is {back}; sorting within a window of {window} lines "
                    f"(`order: strict` rejects such files)", rec.line, column).format()), stacklevel=2)
        if latest is None or rec.t >= latest.t:
            latest = rec
        if strict:
            yield rec
            continue
        heapq.heappush(heap, (rec.t, rec.line, rec))
        if len(heap) > window:
            out = heapq.heappop(heap)[2]
            yield out
    while heap:
        yield heapq.heappop(heap)[2]


# -- the source -------------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    """A window end: a duration from the trace's origin, or an absolute ``(second, fraction)``."""

    offset: float | None = None
    when: tuple[int, float] | None = None
    relative_error: ScenarioError | None = field(default=None, compare=False)

    def resolve(self, clock: _Clock, origin: float) -> float:
        if self.when is None:
            return origin + (self.offset or 0.0)
        if clock.relative:
            raise self.relative_error or ScenarioError("a date needs a trace with absolute times")
        return clock.absolute(self.when)

    def seconds(self) -> float:
        """For comparing two bounds of the same kind."""
        return self.when[0] + self.when[1] if self.when is not None else (self.offset or 0.0)


@dataclass(frozen=True)
class Remap:
    """``data[field] = format(hash(data[source]) mod buckets)``."""

    field: str
    source: str
    buckets: int
    format: str | None = None

    def apply(self, data: dict[str, Any]) -> None:
        value = _path(data, self.source)
        if value is _ABSENT:
            return
        bucket = _bucket(key_string(value), self.buckets)
        target = data
        *parents, last = self.field.split(".")
        for part in parents:
            nxt = target.get(part)
            if not isinstance(nxt, dict):
                nxt = target[part] = {}
            target = nxt
        target[last] = self.format.format(bucket) if self.format is not None else bucket


@functools.lru_cache(maxsize=1 << 16)
def _bucket(key: str, buckets: int) -> int:
    """A stable hash of ``key`` (BLAKE2b, independent of PYTHONHASHSEED) modulo ``buckets``."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % buckets


class _Uniforms:
    """Uniform draws from one stream, taken in blocks."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.block: list[float] = []
        self.i = 0

    def next(self) -> float:
        if self.i == len(self.block):
            self.block = self.rng.random(_BLOCK).tolist()
            self.i = 0
        self.i += 1
        return self.block[self.i - 1]


@dataclass(frozen=True)
class ReplaySource:
    """A traffic source that replays a file (see the module docstring)."""

    name: str
    path: Path
    mapping: TraceMapping
    display: str = ""
    start: Bound = Bound()
    end: Bound | None = None
    speed: float = 1.0
    scale: float = 1.0
    jitter: float = 0.0
    remap: tuple[Remap, ...] = ()
    strict: bool = False
    sort_window: int = DEFAULT_SORT_WINDOW

    def events(self, streams: Streams, horizon: float) -> Iterator[Event]:
        """The replayed events with ``at < horizon``, in order of ``at``, read lazily."""
        return iter(self.open(streams, horizon))

    def expected_events(self, streams: Streams, horizon: float) -> Expected:
        """The number of events a run replays before ``horizon``: the trace read through,
        line by line as :meth:`events` reads it (so with the same errors, naming the trace's
        file and line), counting the records inside the window, times ``scale``. Exact for a
        whole ``scale`` without ``jitter``; otherwise an expectation (thinning and jittered
        copies past the horizon are drawn per seed). The copies themselves are not made, so
        ``scale: 1000`` reads as fast as ``scale: 1``."""
        once = replace(self, scale=1.0, jitter=0.0)
        count = sum(1 for _ in once.events(streams, horizon))
        whole = self.scale == int(self.scale)
        return Expected(count * self.scale, whole and (self.jitter == 0 or self.scale == 1))

    def open(self, streams: Streams, horizon: float = math.inf) -> "Replay":
        """A pass over the file that also tells where simulation time 0 lies on its clock."""
        return Replay(self, streams, horizon)


class Replay:
    """One pass of a :class:`ReplaySource`; ``origin_epoch`` is set once iteration began.

    ``origin_epoch``: the epoch seconds of simulation time 0 (``None`` for a relative clock).
    ``time_format``: the clock's format (``auto`` resolved).
    """

    def __init__(self, source: ReplaySource, streams: Streams, horizon: float) -> None:
        self.source = source
        self.streams = streams
        self.horizon = horizon
        self.reader = TraceReader(source.path, source.mapping, source.display or str(source.path))
        self.origin_epoch: float | None = None

    @property
    def time_format(self) -> str:
        return self.reader.clock.format

    def __iter__(self) -> Iterator[Event]:
        src, reader, horizon = self.source, self.reader, self.horizon
        records = sort_records(reader.records(), reader, src.strict, src.sort_window)
        whole, frac = int(src.scale), src.scale - int(src.scale)
        scale_draws = _Uniforms(self.streams[f"replay:{src.name}/scale"]) if frac > 0 else None
        jitter_draws = _Uniforms(self.streams[f"replay:{src.name}/jitter"]) if src.jitter > 0 else None
        copies: list[tuple[float, int, int, Event]] = []
        start = end = math.inf
        first = True
        for rec in records:
            if first:
                first = False
                origin = 0.0 if reader.clock.relative else rec.t
                start = src.start.resolve(reader.clock, origin)
                end = src.end.resolve(reader.clock, origin) if src.end is not None else math.inf
                if not reader.clock.relative:
                    self.origin_epoch = (reader.clock.base or 0) + start
            if rec.t >= end:
                break
            at = (rec.t - start) / src.speed
            if at >= horizon:
                break
            n = whole + (1 if scale_draws is not None and scale_draws.next() < frac else 0)
            if rec.t < start or n == 0:
                continue
            while copies and copies[0][:3] < (at, rec.line, 0):
                yield heapq.heappop(copies)[3]
            event = self._event(rec, at, (rec.ts - start) / src.speed if rec.ts != rec.t else at)
            for k in range(1, n):
                shift = jitter_draws.next() * src.jitter if jitter_draws is not None else 0.0
                if rec.t + shift < end and at + shift / src.speed < horizon:
                    twin = self._copy(event, k, shift / src.speed)
                    heapq.heappush(copies, (twin.at, rec.line, k, twin))
            yield event
        while copies:
            yield heapq.heappop(copies)[3]

    def _event(self, rec: Record, at: float, ts: float) -> Event:
        src = self.source
        for remap in src.remap:
            remap.apply(rec.data)
        return Event(at, rec.name, rec.data, id=rec.id or f"{src.name}-{rec.line}", ts=ts, user=rec.user,
                     source=src.name, durations=rec.durations)

    def _copy(self, event: Event, k: int, shift: float) -> Event:
        return Event(event.at + shift, event.name, copy.deepcopy(event.data), id=f"{event.id}~{k}",
                     ts=event.ts + shift, user=event.user, source=event.source, durations=event.durations)


# -- parsing the scenario's `replay:` ---------------------------------------------

_REPLAY = ("file", "format", "header", "columns", "time", "name", "data", "durations", "start", "end", "speed",
           "scale", "jitter", "remap", "order", "sort_window")
_CSV_ONLY = ("header", "columns", "time", "name", "data")


def parse_replay(node: Node, name: str, event: str | None) -> ReplaySource:
    """The ``replay:`` mapping of a traffic entry named ``name`` (``event``: its default name)."""
    node.mapping(_REPLAY, required=["file"])
    file_node = node.child("file")
    path = _resolve(file_node)
    display = str(path)
    if path.is_dir():
        raise file_node.error(f"{display} is a directory; name a trace file (.jsonl, .csv, .tsv, optionally .gz)")
    fmt_node = node.get("format")
    if fmt_node is not None:
        fmt = fmt_node.choice(FORMATS)
    else:
        fmt = format_of(path)
        if fmt is None:
            raise file_node.error(f"cannot tell the format from the file name; add `format:` "
                                  f"({', '.join(FORMATS)})")
    if not path.is_file():
        raise file_node.error(f"no such trace file: {display}")
    if fmt == "jsonl":
        for key in _CSV_ONLY:
            if node.get(key) is not None:
                raise node.child(key).error(f"`{key}` maps CSV/TSV columns; JSON Lines events carry "
                                            f"their own name, data and ts")
        mapping = TraceMapping("jsonl", event=event, durations=_parse_durations(node.get("durations"), True))
        TraceReader(path, mapping, display).first_event_line()
    else:
        mapping = _parse_columns(node, fmt, event)
        _check_header(node, TraceReader(path, mapping, display))
    speed = _positive(node.get("speed"), "speed") if node.get("speed") is not None else 1.0
    start, end = _parse_bound(node.get("start")) or Bound(), _parse_bound(node.get("end"))
    if end is not None and (start.when is None) == (end.when is None) and end.seconds() <= start.seconds():
        raise node.child("end").error("end must be after start")
    return ReplaySource(
        name=name, path=path, mapping=mapping, display=display, start=start, end=end, speed=speed,
        scale=_positive(node.get("scale"), "scale") if node.get("scale") is not None else 1.0,
        jitter=node.get("jitter").duration(what="jitter") if node.get("jitter") is not None else 0.0,
        remap=_parse_remap(node.get("remap")),
        strict=(node.get("order").choice(("sort", "strict")) == "strict") if node.get("order") else False,
        sort_window=node.get("sort_window").int(minimum=1) if node.get("sort_window") else DEFAULT_SORT_WINDOW)


def _positive(node: Node, what: str) -> float:
    """A positive, finite multiplier (``speed``, ``scale``)."""
    value = node.number()
    if not math.isfinite(value) or value <= 0:
        raise node.error(f"{what} must be positive (and finite), got {value:g}")
    return value


def _resolve(node: Node) -> Path:
    """The trace's path: relative paths are relative to the scenario file's folder."""
    path = Path(node.str()).expanduser()
    scenario = node.source.file
    if not path.is_absolute() and scenario and scenario != "<dict>":
        path = Path(scenario).parent / path
    return path


def _parse_columns(node: Node, fmt: str, event: str | None) -> TraceMapping:
    header_node, columns_node = node.get("header"), node.get("columns")
    header = header_node.bool() if header_node is not None else True
    columns = None
    if columns_node is not None:
        columns = tuple(c.str() for c in columns_node.elements())
        if header:
            raise columns_node.error("`columns` names the columns of a file without a header; "
                                     "add `header: false` (or drop `columns` to use the header)")
    elif not header:
        raise node.error("a file without a header needs `columns:` to name its columns")
    time_node = node.get("time")
    if time_node is None:
        raise node.error("missing required field 'time' (the column holding each row's time)")
    name_node = node.get("name")
    if name_node is None and event is None:
        raise node.error("give the events a name: the source's `event`, or a `name` column")
    return TraceMapping(fmt, time=_parse_time(time_node), name=name_node.str() if name_node else None,
                        event=event, data=_parse_data(node.get("data")),
                        durations=_parse_durations(node.get("durations"), False),
                        header=header, columns=columns)


def _parse_time(node: Node) -> TimeSpec:
    if isinstance(node.value, str):
        return TimeSpec(node.str())
    node.mapping(("column", "end", "duration", "format"))
    fmt = node.get("format").choice(TIME_FORMATS) if node.get("format") is not None else "auto"
    if node.get("end") is not None:
        if node.get("column") is not None:
            raise node.child("column").error("give either `column` (the start time) or `end` and `duration`")
        if node.get("duration") is None:
            raise node.error("missing required field 'duration' (start = end - duration)")
        return TimeSpec(node.child("end").str(), fmt, _parse_seconds(node.child("duration")))
    if node.get("column") is None:
        raise node.error("missing required field 'column' (or `end` and `duration`)")
    if node.get("duration") is not None:
        raise node.child("duration").error("`duration` goes with `end` (start = end - duration)")
    return TimeSpec(node.child("column").str(), fmt)


def _parse_seconds(node: Node) -> Seconds:
    if isinstance(node.value, str):
        return Seconds(node.str())
    node.mapping(("column", "unit", "offset"), required=["column"])
    unit = node.get("unit").duration(what="unit") if node.get("unit") is not None else 1.0
    offset = node.get("offset").duration(what="offset") if node.get("offset") is not None else 0.0
    return Seconds(node.child("column").str(), unit, offset)


def _parse_durations(node: Node | None, jsonl: bool) -> tuple[tuple[str, Seconds], ...]:
    if node is None:
        return ()
    out = []
    for step, child in node.items():
        spec = _parse_seconds(child)
        if jsonl and not spec.column.startswith(("data.", "user.")):
            raise (child.child("column") if isinstance(child.value, dict) else child).error(
                f"in JSON Lines, name a field of the event such as data.{spec.column}")
        out.append((str(step), spec))
    return tuple(out)


def _parse_data(node: Node | None) -> tuple[DataColumn, ...]:
    if node is None:
        return ()
    if isinstance(node.value, list):
        return tuple(DataColumn(c.str(), c.str()) for c in node.elements())
    out = []
    for key, child in node.items():
        if not isinstance(key, str) or not key:
            raise child.error(f"field names must be non-empty strings, got {key!r}")
        if isinstance(child.value, str):
            out.append(DataColumn(key, child.str()))
            continue
        child.mapping(("column", "type"), required=["column"])
        kind = child.get("type").choice(COLUMN_TYPES) if child.get("type") is not None else "str"
        out.append(DataColumn(key, child.child("column").str(), kind))
    return tuple(out)


def _parse_bound(node: Node | None) -> Bound | None:
    if node is None:
        return None
    value = node.value
    if isinstance(value, (datetime, date)) or (isinstance(value, str) and not _is_duration(value)):
        try:
            when = parse_when(value)
        except ValueError:
            raise node.error(f"expected a duration from the trace's origin (10m) or a date "
                             f"(2023-11-16 18:30:00), got {value!r}") from None
        return Bound(when=when, relative_error=node.error(
            "a date needs a trace with absolute times (epoch or datetime); this one counts seconds "
            "from its start, so give a duration"))
    return Bound(offset=node.duration())


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _parse_remap(node: Node | None) -> tuple[Remap, ...]:
    if node is None:
        return ()
    out = []
    for key, child in node.items():
        child.mapping(("buckets", "from", "format"), required=["buckets"])
        fmt = child.get("format").str() if child.get("format") is not None else None
        buckets = child.child("buckets").int(minimum=1)
        if fmt is not None:
            for bucket in (0, buckets - 1):
                try:
                    fmt.format(bucket)
                except FORMAT_ERRORS as exc:
                    raise child.child("format").error(
                        f"invalid format {fmt!r} for the bucket {bucket} ({type(exc).__name__}: {exc}); "
                        f"write {{}} where the bucket goes") from None
        source = child.get("from").str() if child.get("from") is not None else str(key)
        out.append(Remap(str(key), source, buckets, fmt))
    return tuple(out)


def _check_header(node: Node, reader: TraceReader) -> None:
    """A column the mapping names that the file lacks is a mistake in the scenario: say where."""
    header = reader.header()
    try:
        reader.columns_index(header)
    except ScenarioError as exc:
        raise _column_node(node, exc.field or "").error(f"{exc.message} (in {reader.display})") from None


def _column_node(node: Node, column: str) -> Node:
    """The scenario node that names ``column`` (the replay mapping itself if none does)."""
    def find(n: Node) -> Node | None:
        if n.value == column:
            return n
        if isinstance(n.value, dict):
            for _, child in n.items():
                hit = find(child)
                if hit is not None:
                    return hit
        elif isinstance(n.value, list):
            for child in n.elements():
                hit = find(child)
                if hit is not None:
                    return hit
        return None
    for key in ("time", "name", "data", "durations"):
        child = node.get(key)
        if child is not None:
            hit = find(child)
            if hit is not None:
                return hit
    return node
