"""The ``flowsim`` command line: thin over the API; parse, call, print, exit codes.

Exit codes: 0 success, 2 bad input (a :class:`~flowsim.errors.ScenarioError`, shown
as ``file:line: field: message`` with no traceback, and nothing written).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from flowsim.console import command, out
from flowsim.errors import ScenarioError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Simulate the flow control of event-driven function platforms (Inngest first).")


def _load(path: Path):
    """Load a scenario (its warnings, combinations Inngest accepts but ignores, are printed
    by :func:`flowsim.console.command` as they come)."""
    from flowsim.scenario.load import load_scenario
    return load_scenario(path)


SEED = typer.Option(None, min=0, help="Seed (default: the scenario's `seed`).")


@app.command()
def run(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
        seed: Optional[int] = SEED,
        out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/<name>/)."),
        fmt: str = typer.Option("csv", "--format", help="Table format: csv or parquet."),
        explain: bool = typer.Option(False, "--explain", help="Also write the decision log (log.csv)."),
        warmup: str = typer.Option("0", help="Exclude the start from metrics: a duration (10m) or a fraction (0.1)."),
        report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML/Markdown report there."),
        record: Optional[Path] = typer.Option(None, "--record", help="Also write the traffic as Inngest JSON Lines "
                                              "(FILE.jsonl or .jsonl.gz) that a `replay:` source reproduces exactly."),
        summary_only: bool = typer.Option(False, "--summary-only",
                                          help="Keep no per-row tables, write summary.json alone: memory stays flat "
                                          "however long the run; percentiles within 0.5%, slot-use peak and "
                                          "saturation and per-key p99 and starvation left out (see the README)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")) -> None:
    """Simulate a scenario, write events/runs/steps tables and summary.json, print a summary.

    Every output path is checked before anything runs, and the traffic record is moved into
    place only once the tables (and report) are written, so bad input leaves nothing behind."""
    from flowsim.api import simulate
    from flowsim.results.writers import check_format, check_outputs, check_writable_parent, write_result, write_summary
    with command(quiet) as bar:
        check_format(fmt)
        if summary_only and (explain or report is not None):
            raise ScenarioError("cannot be combined with --explain or --report, which need the per-row tables",
                                field="--summary-only")
        sc = _load(scenario)
        target = out_dir or Path("runs") / sc.name
        check_outputs({"--out": target, "--report": report})
        if record is not None:
            if record.is_dir() or not record.name:
                raise ScenarioError(f"expected a file, got the directory {record}", field="--record")
            check_writable_parent(record.resolve(), record, "--record")
        progress = bar(f"simulating {sc.name}")
        result = simulate(sc, seed, explain=explain, warmup=warmup, tables=not summary_only,
                          progress=None if progress is None else (lambda f: progress(f, 1.0)))
        recorded = None
        try:
            if record is not None:     # written beside its target, moved into place last
                from flowsim.traffic.record import record_events
                recorded = record.with_name(f".{record.stem}.flowsim-partial{record.suffix}")
                record_events(sc, seed, recorded)
            if summary_only:
                write_summary(result, target)
            else:
                write_result(result, target, fmt)
            if report is not None:
                from flowsim.report import write_report
                write_report({sc.name: result}, report)
            if recorded is not None:
                os.replace(recorded, record)
        finally:
            if recorded is not None and recorded.exists():
                recorded.unlink()
    if not quiet:
        print_summary(result.summary())
        out.print(f"wrote {escape(str(target))}/" + (f" and {escape(str(report))}/index.html" if report else ""),
                  highlight=False)


@app.command("report")
def report_cmd(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
               out_dir: Optional[Path] = typer.Option(None, "--out", help="Directory (default reports/<name>/)."),
               seed: Optional[int] = SEED,
               warmup: str = typer.Option("0", help="Exclude the start from metrics: a duration or a fraction.")) -> None:
    """Simulate a scenario and write a self-contained index.html and report.md with figures."""
    from flowsim.api import simulate
    from flowsim.report import write_report
    from flowsim.results.writers import check_outputs
    with command():
        sc = _load(scenario)
        target = out_dir or Path("reports") / sc.name
        check_outputs({"--out": target})
        result = simulate(sc, seed, warmup=warmup)
        write_report({sc.name: result}, target)
    out.print(f"wrote {escape(str(target))}/index.html and {escape(str(target))}/report.md", highlight=False)


@app.command()
def validate(scenario: Path = typer.Argument(..., help="The scenario YAML file.")) -> None:
    """Check a scenario without running it."""
    with command():
        sc = _load(scenario)
    out.print(f"{escape(str(scenario))}: ok ({len(sc.functions)} functions, {len(sc.traffic)} traffic sources)",
              highlight=False, soft_wrap=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def print_summary(summary: dict[str, Any]) -> None:
    """The short table a run prints: outcomes, statuses, latencies, slot use."""
    out.print(f"[bold]{summary['scenario']}[/] seed={summary['seed']} horizon={summary['horizon']:g}s "
              f"events={summary['events']['received']}", highlight=False)
    counts = Table(title="outcomes and runs", show_header=True)
    counts.add_column("event outcome")
    counts.add_column("count", justify="right")
    counts.add_column("run status")
    counts.add_column("count", justify="right")
    outcomes = [(k, v) for k, v in summary["outcomes"].items() if v]
    statuses = [(k, v) for k, v in summary["runs"].items() if v]
    for i in range(max(len(outcomes), len(statuses))):
        o = outcomes[i] if i < len(outcomes) else ("", "")
        s = statuses[i] if i < len(statuses) else ("", "")
        counts.add_row(o[0], str(o[1]), s[0], str(s[1]))
    out.print(counts)
    lat = Table(title="latency (seconds)")
    for col in ("metric", "count", "mean", "p50", "p90", "p99", "max"):
        lat.add_column(col, justify="right" if col != "metric" else "left")
    for name in ("start_latency", "queue_wait", "end_to_end_latency"):
        d = summary[name]
        lat.add_row(name, *(_fmt(d[k]) for k in ("count", "mean", "p50", "p90", "p99", "max")))
    out.print(lat)
    slots = Table(title="concurrency slot use")
    for col in ("constraint", "limit", "peak", "mean"):
        slots.add_column(col, justify="right" if col != "constraint" else "left")
    for name, d in summary["concurrency"].items():
        slots.add_row(name, _fmt(d["limit"]), _fmt(d["peak"]), _fmt(d["mean"]))
    out.print(slots)


from flowsim.analysis.cli import compare, plan, sweep  # noqa: E402
from flowsim.export import export_app  # noqa: E402
from flowsim.importer import import_cmd  # noqa: E402
from flowsim.testing.cli import check as check_command  # noqa: E402
from flowsim.traffic.cli import traffic_app  # noqa: E402

app.command()(compare)
app.command()(sweep)
app.command()(plan)
app.command("check")(check_command)
app.command("import")(import_cmd)
app.add_typer(export_app, name="export")
app.add_typer(traffic_app, name="traffic")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
