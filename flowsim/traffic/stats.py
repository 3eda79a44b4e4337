"""Statistics of a stream of events: what a user needs to know before choosing limits.

Computed in one pass over events sorted by ``at`` (a replayed trace or a scenario's
merged traffic), with memory bounded by the number of distinct keys, never by the
number of events:

- the count, the span (first to last event) and the mean rate ``events / span``;
- the rate per minute and the count per second, in buckets counted from the first event
  (empty buckets included; the last bucket may be partial): p50, p99 and maximum, which
  say how far bursts go above the mean (a limit near the mean queues every burst);
- the inter-arrival times' mean and coefficient of variation (standard deviation over
  mean, population form): about 1 for Poisson traffic, far above 1 for on/off bursts;
- per key (a dotted path: ``name``, ``data.host``...): the number of distinct values, the
  share of the top 1 and top 10, the top values, and how often two events of the same
  key are at most 1 s, 10 s or 60 s apart (what a debounce period or a per-key rate
  limit will see). Values are formatted as keys are (spec §2.1).

Percentiles interpolate linearly between order statistics (numpy's default).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from flowsim.expr import key_string
from flowsim.traffic.event import Event
from flowsim.units import format_duration

GAP_LIMITS = (1.0, 10.0, 60.0)
_ABSENT = object()


@dataclass
class Buckets:
    """Counts of events per fixed-width bucket, summarised as rates (events per second)."""

    width: float
    buckets: int = 0
    empty: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    max: float = 0.0


@dataclass
class KeyStats:
    """How the events spread over the values at ``path``."""

    path: str
    distinct: int = 0
    missing: int = 0
    top1_share: float = 0.0
    top10_share: float = 0.0
    top: list[tuple[str, int]] = field(default_factory=list)
    same_key_gaps: int = 0
    gap_at_most: dict[str, float] = field(default_factory=dict)


@dataclass
class TrafficStats:
    """See the module docstring. Times are simulation seconds; ``origin_epoch`` places 0."""

    events: int = 0
    first_at: float | None = None
    last_at: float | None = None
    span: float = 0.0
    rate_mean: float | None = None
    per_minute: Buckets = field(default_factory=lambda: Buckets(60.0))
    per_second: Buckets = field(default_factory=lambda: Buckets(1.0))
    iat_mean: float | None = None
    iat_cv: float | None = None
    keys: list[KeyStats] = field(default_factory=list)
    origin_epoch: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _BucketCounter:
    """Streams sorted times into per-bucket counts, keeping only a histogram of counts."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.index = 0
        self.count = 0
        self.hist: Counter[int] = Counter()

    def add(self, offset: float) -> None:
        index = int(offset // self.width)
        if index != self.index:
            self.hist[self.count] += 1
            self.hist[0] += index - self.index - 1
            self.index, self.count = index, 0
        self.count += 1

    def summary(self, events: int) -> Buckets:
        hist = self.hist.copy()
        if events:
            hist[self.count] += 1
        n = sum(hist.values())
        out = Buckets(self.width, n, hist[0])
        if n:
            out.mean = events / n / self.width
            out.p50 = _percentile(hist, 50) / self.width
            out.p99 = _percentile(hist, 99) / self.width
            out.max = max(k for k, v in hist.items() if v) / self.width
        return out


def _percentile(hist: Counter[int], q: float) -> float:
    """The ``q``-th percentile of the values a histogram counts (numpy's linear method)."""
    values = sorted(k for k, v in hist.items() if v)
    n = sum(hist[v] for v in values)

    def order_statistic(i: int) -> int:
        seen = 0
        for value in values:
            seen += hist[value]
            if seen > i:
                return value
        raise AssertionError("index beyond the histogram")

    pos = q / 100 * (n - 1)
    lo = math.floor(pos)
    x_lo, x_hi = order_statistic(lo), order_statistic(min(lo + 1, n - 1))
    return x_lo + (x_hi - x_lo) * (pos - lo)


class _KeyCounter:
    def __init__(self, path: str | tuple[str, ...]) -> None:
        # a tuple of parts names a field whose own name has a dot (a CSV column "a.b")
        self.parts = path.split(".") if isinstance(path, str) else list(path)
        self.path = path if isinstance(path, str) else ".".join(path)
        self.counts: Counter[str] = Counter()
        self.last: dict[str, float] = {}
        self.missing = 0
        self.gaps = 0
        self.close = [0] * len(GAP_LIMITS)

    def add(self, event: Event) -> None:
        value = _value(event, self.parts)
        if value is _ABSENT:
            self.missing += 1
            return
        key = key_string(value)
        self.counts[key] += 1
        last = self.last.get(key)
        if last is not None:
            gap = event.at - last
            self.gaps += 1
            for i, limit in enumerate(GAP_LIMITS):
                if gap <= limit:
                    self.close[i] += 1
        self.last[key] = event.at

    def summary(self, top: int) -> KeyStats:
        total = sum(self.counts.values())
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out = KeyStats(self.path, len(ranked), self.missing, same_key_gaps=self.gaps, top=ranked[:top])
        if total:
            out.top1_share = ranked[0][1] / total
            out.top10_share = sum(c for _, c in ranked[:10]) / total
        if self.gaps:
            out.gap_at_most = {format_duration(limit): c / self.gaps for limit, c in zip(GAP_LIMITS, self.close)}
        return out


def _value(event: Event, parts: list[str]) -> Any:
    head, rest = parts[0], parts[1:]
    if head in ("name", "id") and not rest:
        return getattr(event, head)
    if head not in ("data", "user"):
        return _ABSENT
    value: Any = getattr(event, head)
    for part in rest:
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def key_path(text: str) -> str:
    """A key as users write it: ``name``, ``id``, ``data.x``, ``user.x``; a bare field means ``data.<it>``."""
    text = text.removeprefix("event.")
    if text in ("name", "id") or text.startswith(("data.", "user.")):
        return text
    return f"data.{text}"


def traffic_stats(events: Iterable[Event], keys: Sequence[str | tuple[str, ...]] = (),
                  top: int = 10) -> TrafficStats:
    """The statistics of ``events`` (sorted by ``at``), with per-key figures for ``keys``.

    A key is a dotted path (``data.host``) or the tuple of its parts (``("data", "a.b")``).
    """
    out = TrafficStats()
    minutes, seconds = _BucketCounter(60.0), _BucketCounter(1.0)
    counters = [_KeyCounter(path) for path in keys]
    first = last = None
    n_gaps, gap_mean, gap_m2 = 0, 0.0, 0.0
    for event in events:
        at = event.at
        if first is None:
            first = at
        else:
            gap = at - last
            n_gaps += 1
            delta = gap - gap_mean
            gap_mean += delta / n_gaps
            gap_m2 += delta * (gap - gap_mean)
        last = at
        out.events += 1
        minutes.add(at - first)
        seconds.add(at - first)
        for counter in counters:
            counter.add(event)
    out.per_minute = minutes.summary(out.events)
    out.per_second = seconds.summary(out.events)
    out.keys = [c.summary(top) for c in counters]
    if first is None:
        return out
    out.first_at, out.last_at, out.span = first, last, last - first
    if out.span > 0:
        out.rate_mean = out.events / out.span
    if n_gaps:
        out.iat_mean = gap_mean
        out.iat_cv = math.sqrt(gap_m2 / n_gaps) / gap_mean if gap_mean > 0 else None
    return out


def _when(stats: TrafficStats, at: float) -> str:
    if stats.origin_epoch is None:
        return f"{at:.3f} s"
    moment = datetime.fromtimestamp(round(stats.origin_epoch + at, 3), timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _span(seconds: float) -> str:
    """``57m16s (3,435.9 s)``; short spans as ``9.5s``."""
    if seconds < 60:
        return f"{seconds:.4g}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = (f"{hours}h" if hours else "") + f"{minutes}m" + (f"{secs}s" if secs else "")
    return f"{text} ({seconds:,.1f} s)"


def _num(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def format_stats(stats: TrafficStats, title: str) -> str:
    """The stats as the ``flowsim traffic stats`` command prints them."""
    lines = [f"{title}: {stats.events:,} events"]
    if stats.first_at is None:
        return "\n".join(lines)
    lines[0] += (f" over {_span(stats.span)}, from {_when(stats, stats.first_at)} "
                 f"to {_when(stats, stats.last_at)}")
    m, s = stats.per_minute, stats.per_second
    lines.append(f"events per second: mean {_num(stats.rate_mean)}")
    lines.append(f"  per minute: p50 {_num(m.p50)}, p99 {_num(m.p99)}, max {_num(m.max)} "
                 f"({m.buckets:,} minutes, {m.empty:,} empty)")
    lines.append(f"  per second: p99 {_num(s.p99, 1)}, peak {s.max:,.0f} ({s.buckets:,} seconds, {s.empty:,} empty)")
    iat = "-" if stats.iat_mean is None else format_duration(round(stats.iat_mean, 6))
    lines.append(f"inter-arrival: mean {iat}, CV {_num(stats.iat_cv, 2)}")
    for k in stats.keys:
        line = (f"key {k.path}: {k.distinct:,} distinct; top-1 share {k.top1_share:.1%}, "
                f"top-10 share {k.top10_share:.1%}")
        if k.missing:
            line += f"; {k.missing:,} events without it"
        lines.append(line)
        if k.gap_at_most:
            lines.append("  same-key gaps: " + ", ".join(f"<= {limit} {share:.1%}"
                                                         for limit, share in k.gap_at_most.items()))
        total = stats.events - k.missing
        for value, count in k.top:
            lines.append(f"  {count:>9,} {count / total:6.1%}  {value}")
    return "\n".join(lines)
