"""Capacity-planning reports: a self-contained ``index.html`` and a ``report.md`` with PNG figures.

The first lines state the scenario, the seeds, the flowsim version and the answer (the
headline numbers and the binding constraint); then the warnings of every variant's run
(:mod:`flowsim.results.diagnostics`: what each means and what to try) and what happened
in the first one (:mod:`flowsim.results.text`: the story and its tables of keys, slots
and drops); then the figures: latency CDFs per
variant, start latency over time, queue depth and slot use over time, per-key latency
of the busiest and worst keys, the binding-constraint breakdown and, for sweeps, the
metric against the setting with its confidence band and the SLO line. The HTML embeds
the PNGs (base64), so it can be mailed or attached as one file.
"""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from flowsim import plot
from flowsim.results import text
from flowsim.results.writers import atomic_dir

if TYPE_CHECKING:
    from flowsim.results.result import Result


@dataclass
class Section:
    """A figure (PNG file name and caption) or a table of the report."""

    title: str
    image: str | None = None
    table: pd.DataFrame | None = None
    text: str = ""


@dataclass
class Report:
    """What a report says, before it is written: ``warnings`` are (variant or ``""``,
    warning) pairs, ``story`` the sentences of :func:`flowsim.results.text.story`."""

    title: str
    facts: list[tuple[str, str]]
    answer: str
    sections: list[Section] = field(default_factory=list)
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    story: list[str] = field(default_factory=list)


def answer_for(result: "Result") -> str:
    """One sentence with the headline numbers of a result and what bound it."""
    s = result.summary()
    lat = s["start_latency"]
    drops = {k: v for k, v in s["outcomes"].items() if v and k in ("rate_limited", "duplicate", "debounced",
                                                                     "singleton_skipped", "error")}
    parts = [f"p99 start latency {_secs(lat['p99'])} (p50 {_secs(lat['p50'])}) over {lat['count']} started runs"]
    if drops:
        parts.append(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in drops.items()))
    binding = result.binding()
    if not binding.empty:
        top = binding.iloc[0]
        parts.append(f"binding constraint: {top['constraint']} ({top['share']:.0%} of all waiting)")
    else:
        parts.append("no constraint delayed any step")
    return "; ".join(parts) + "."


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}s"


def build(results: Mapping[str, "Result"], out: Path, *, sweep: pd.DataFrame | None = None,
          sweep_x: str | None = None, sweep_metric: str | None = None, slo: float | None = None,
          answer: str | None = None, tables: Sequence[tuple[str, pd.DataFrame]] = (),
          figures: str | None = None) -> Report:
    """Draw every figure of the report into ``out`` and return its content.

    ``results`` maps variant names to results (one entry for a single run); the first
    is the one whose time series and keys are drawn. An analysis passes its own
    ``answer`` (over its replications), its ``tables`` (shown first) and what the
    ``figures`` are drawn from (its results are single runs).
    """
    import flowsim
    for result in results.values():
        result.require_tables("a report")
    name, first = next(iter(results.items()))
    seeds = sorted({r.seed for r in results.values()})
    facts = [("scenario", first.scenario.name + (f" ({first.scenario.file})" if first.scenario.file else "")),
             ("seeds", ", ".join(map(str, seeds))), ("flowsim", flowsim.__version__),
             ("horizon", f"{first.horizon:g} s" + (f", warm-up {first.warmup:g} s" if first.warmup else "")),
             ("variants", ", ".join(results) if len(results) > 1 else "-")]
    if figures:
        facts.append(("figures", figures))
    report = Report(f"flowsim report: {first.scenario.name}", facts, answer or answer_for(first))
    report.warnings = [(variant if len(results) > 1 else "", w) for variant, r in results.items()
                       for w in r.summary()["warnings"]]
    report.story = text.story(first.summary())
    report.sections += [Section(title, table=table) for title, table in tables]
    if sweep is not None and sweep_x and sweep_metric:
        fig, ax = plt.subplots(figsize=(8, 4))
        plot.sweep_curve(sweep, x=sweep_x, slo=slo, ax=ax, label=sweep_metric)
        ax.set_ylabel(sweep_metric)
        report.sections.append(_save(fig, out, "sweep.png", f"{sweep_metric} against {sweep_x} (95% CI)"))
        report.sections.append(Section("Sweep table", table=sweep))
    fig, ax = plt.subplots(figsize=(8, 4))
    plot.latency_cdf(dict(results) if len(results) > 1 else first, ax=ax)
    report.sections.append(_save(fig, out, "latency-cdf.png", "Start latency CDF" + (" per variant" if len(results) > 1 else "")))
    fig, ax = plt.subplots(figsize=(8, 4))
    plot.start_latency_over_time(first, bin=_bin(first), ax=ax)
    report.sections.append(_save(fig, out, "latency-over-time.png", f"Start latency over time ({name})"))
    fig, ax = plt.subplots(figsize=(8, 4))
    plot.over_time(first, bin=_bin(first), ax=ax)
    report.sections.append(_save(fig, out, "queue-and-slots.png", f"Queue depth and slots in use ({name})"))
    fig, ax = plt.subplots(figsize=(8, 4))
    plot.per_key_latency(first, ax=ax)
    report.sections.append(_save(fig, out, "per-key-latency.png", f"p99 start latency of the busiest and worst keys ({name})"))
    fig, ax = plt.subplots(figsize=(7, 3))
    plot.binding_bars(first, ax=ax)
    report.sections.append(_save(fig, out, "binding.png", f"Binding constraints: total delay caused ({name})"))
    report.sections.append(Section("Binding constraints", table=first.binding()))
    for block in text.blocks(first.summary()):      # the other blocks are the tables above and below
        if block.kind not in ("keys", "slots", "drops"):
            continue
        rows = [[_keep_indent(cell) for cell in row] for row in block.rows]
        report.sections.append(Section(f"{block.title} ({name})", table=pd.DataFrame(rows, columns=block.columns),
                                       text=block.note))
    report.sections.append(Section("Headline metrics", table=headline_table(results)))
    return report


def _keep_indent(cell: str) -> str:
    """A table cell whose leading spaces (a row under a heading row) survive HTML and Markdown."""
    stripped = cell.lstrip(" ")
    return "\u00a0" * (2 * (len(cell) - len(stripped))) + stripped


def _bin(result: "Result") -> float:
    return max(1.0, result.horizon / 60)


def _save(fig: Any, out: Path, name: str, title: str) -> Section:
    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return Section(title, image=name)


def headline_table(results: Mapping[str, "Result"]) -> pd.DataFrame:
    """Headline metrics side by side, one column per variant."""
    rows: dict[str, dict[str, Any]] = {}
    for name, r in results.items():
        s = r.summary()
        col = {f"start latency {p}": s["start_latency"][p] for p in ("p50", "p90", "p99", "max")}
        col.update({f"queue wait {p}": s["queue_wait"][p] for p in ("p50", "p99")})
        col["end-to-end p99"] = s["end_to_end_latency"]["p99"]
        col["throughput (runs/s)"] = s["throughput"]
        col.update({f"events {k}": v for k, v in s["outcomes"].items() if v})
        col.update({f"runs {k}": v for k, v in s["runs"].items() if v})
        rows[name] = col
    return pd.DataFrame(rows)


def write(report: Report, out: Path) -> None:
    """Write ``report.md`` and a self-contained ``index.html`` beside the figures."""
    md = [f"# {report.title}", "", f"**Answer:** {report.answer}", ""]
    md += [f"- {k}: {v}" for k, v in report.facts] + [""]
    if report.warnings:
        md += [f"## Warnings ({len(report.warnings)})", ""]
        for variant, w in report.warnings:
            md += [f"- **{_warning_title(variant, w)}**: {w['message']}", f"  What it means: {w['means']}",
                   f"  Try: {w['try']}"]
        md.append("")
    if report.story:
        md += ["## What happened", ""] + [f"- {line}" for line in report.story] + [""]
    for s in report.sections:
        md.append(f"## {s.title}")
        md.append("")
        if s.image:
            md.append(f"![{s.title}]({s.image})")
        if s.table is not None:
            md.append(s.table.to_markdown(index=_named_rows(s.table)) if _has_tabulate() else
                      "```\n" + s.table.to_string(index=_named_rows(s.table)) + "\n```")
        if s.text:
            md += ["", s.text]
        md.append("")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    body = [f"<h1>{html.escape(report.title)}</h1>",
            f'<p class="answer"><strong>Answer:</strong> {html.escape(report.answer)}</p>',
            "<ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in report.facts) + "</ul>"]
    if report.warnings:
        body.append(f"<h2>Warnings ({len(report.warnings)})</h2>")
        for variant, w in report.warnings:
            body.append(f'<div class="warning"><p><b>{html.escape(_warning_title(variant, w))}</b>: '
                        f"{html.escape(w['message'])}</p><p>What it means: {html.escape(w['means'])}</p>"
                        f"<p>Try: {html.escape(w['try'])}</p></div>")
    if report.story:
        body.append("<h2>What happened</h2><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in report.story)
                    + "</ul>")
    for s in report.sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.image:
            data = base64.b64encode((out / s.image).read_bytes()).decode("ascii")
            body.append(f'<img class="figure" alt="{html.escape(s.title)}" src="data:image/png;base64,{data}" '
                        'onload="this.dataset.loaded=1">')
        if s.table is not None:
            body.append(s.table.to_html(float_format=_figure, na_rep="-", border=0,
                                        index=_named_rows(s.table)))
        if s.text:
            body.append(f'<p class="note">{html.escape(s.text)}</p>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(report.title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}img{max-width:100%}"
            "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}"
            ".answer{font-size:1.2em}.warning{border-left:4px solid #d90;background:#fff8e6;padding:2px 12px;"
            "margin:8px 0}.note{color:#555;font-size:0.9em}</style></head><body>" + "\n".join(body) + "</body></html>")
    (out / "index.html").write_text(page, encoding="utf-8")


def _figure(v: float) -> str:
    """A float of a report's table: whole numbers in full (12,057), others to 4 digits."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:.4g}"


def _named_rows(table: pd.DataFrame) -> bool:
    """Whether a table's index names its rows (a headline table) rather than numbering them."""
    return not table.index.equals(pd.RangeIndex(len(table)))


def _warning_title(variant: str, warning: dict[str, Any]) -> str:
    title = warning["code"]
    return f"{title} ({variant})" if variant else title


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def write_report(results: Mapping[str, "Result"], out: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Build and write a report into ``out`` atomically (a temporary directory renamed)."""
    target = Path(out)
    with atomic_dir(target) as tmp:
        write(build(results, tmp, **kwargs), tmp)
    return target
