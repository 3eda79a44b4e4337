"""The ``flowsim`` command line: thin over the API; parse, call, print, exit codes.

Exit codes: 0 success, 2 bad input (a :class:`~flowsim.errors.ScenarioError`, shown
as ``file:line: field: message`` with no traceback, and nothing written).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

import typer
from rich.markup import escape

from flowsim.analysis.overrides import BASE, Override
from flowsim.console import command, out
from flowsim.errors import ScenarioError, ScenarioWarning

if TYPE_CHECKING:
    from flowsim.analysis.replicate import Base
    from flowsim.results.result import Result
    from flowsim.scenario.model import Scenario
    from flowsim.traffic.arrivals import Expected

app = typer.Typer(no_args_is_help=True,
                  help="Simulate the flow control of event-driven function platforms (Inngest first).")


def _package_version() -> str:
    """flowsim's version as installed (``importlib.metadata``), or the source's when run
    from a checkout that is not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("flowsim")
    except PackageNotFoundError:
        import flowsim
        return flowsim.__version__


def _print_version(value: bool) -> None:
    if value:
        out.print(f"flowsim {_package_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print flowsim's version and exit.")) -> None:
    """The program's own options: ``--version`` (typer adds the shell completion's)."""


def _load(path: Path) -> "Scenario":
    """Load a scenario (its warnings, combinations Inngest accepts but ignores, are printed
    by :func:`flowsim.console.command` as they come)."""
    from flowsim.scenario.load import load_scenario
    return load_scenario(path)


@dataclass(frozen=True)
class Chosen:
    """One variant of a scenario as ``run`` and ``report`` simulate it: its name, the
    ``--set`` overrides and the variant's own (applied in that order, as the analyses
    apply them) and the scenario built with them."""

    variant: str
    sets: tuple[Override, ...]
    own: tuple[Override, ...]
    scenario: "Scenario"

    def variant_text(self) -> str:
        """``tight (functions.f.concurrency=1)``: the variant and what it changes."""
        changes = ", ".join(ov.describe().removeprefix(f"{ov.origin} ") for ov in self.own)
        return self.variant + (f" ({changes})" if changes else "")

    def applied(self) -> str:
        """``variant tight (functions.f.concurrency=1), --set horizon=10m``; ``""`` for the
        scenario as written."""
        parts = [f"variant {self.variant_text()}"] if self.variant != BASE else []
        return ", ".join(parts + [ov.describe() for ov in self.sets])


def _choose(path: Path, sets: Sequence[str], variants: Sequence[str] | None) -> tuple["Base", list[Chosen]]:
    """The scenario at ``path`` and each of ``variants`` of it (``None``: base and every
    variant) with ``sets`` applied, through the analyses'
    :class:`~flowsim.analysis.replicate.Base`: validated; a variant that does not exist is
    an error listing the known ones; warnings the scenario as written does not give are shown."""
    from flowsim.analysis.overrides import build_scenario, parse_assignment
    from flowsim.analysis.replicate import Base
    base = Base.load(path, [parse_assignment(s) for s in sets])
    chosen = []
    for name in dict.fromkeys(variants if variants is not None else base.variants()):
        own = base.variant(name)
        scenario = base.scenario
        if base.sets or own:
            base.spec(own)                      # validates, shows the warnings it adds
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScenarioWarning)
                scenario = build_scenario(base.scenario.raw, base.source, base.sets + own)
        chosen.append(Chosen(name, base.sets, own, scenario))
    return base, chosen


def _default_dir(root: str, name: str, chosen: Sequence[Chosen]) -> Path:
    """``root/<name>/``, or ``root/<name>-<variant>/`` for one variant other than base."""
    if len(chosen) == 1 and chosen[0].variant != BASE:
        return Path(root) / f"{name}-{chosen[0].variant}"
    return Path(root) / name


SEED = typer.Option(None, min=0, help="Seed (default: the scenario's `seed`).")
SETS = typer.Option(None, "--set", metavar="PATH=VALUE",
                    help="Override a field, e.g. functions.my-fn.concurrency=8 (repeatable; as in compare).")
WARMUP = typer.Option("0", help="Exclude the start from metrics: a duration (10m) or a fraction (0.1).")


@app.command()
def run(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
        seed: Optional[int] = SEED,
        sets: Optional[List[str]] = SETS,
        variant: str = typer.Option(BASE, "--variant", metavar="NAME", help="Run this variant of the scenario (default: base, "
                                    "the scenario as written)."),
        out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/<name>/, "
                                               "runs/<name>-<variant>/ for a variant)."),
        fmt: str = typer.Option("csv", "--format", help="Table format: csv or parquet."),
        explain: bool = typer.Option(False, "--explain", help="Also write the decision log (log.csv)."),
        warmup: str = WARMUP,
        report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML/Markdown report there."),
        ts_bin: Optional[str] = typer.Option(None, "--bin", help="Bin of timeseries.csv, a duration (default: a round "
                                          "duration giving 100-200 bins of the horizon)."),
        record: Optional[Path] = typer.Option(None, "--record", help="Also write the traffic as Inngest JSON Lines "
                                              "(FILE.jsonl or .jsonl.gz) that a `replay:` source reproduces exactly."),
        summary_only: bool = typer.Option(False, "--summary-only",
                                          help="Keep no per-row tables, write summary.json alone: memory stays flat "
                                          "however long the run; percentiles within 0.5%, slot-use peak and "
                                          "saturation and per-key p99 and starvation left out (see the README)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")) -> None:
    """Simulate a scenario (or one --variant), write its tables and summary.json, print a summary.

    Every output path is checked before anything runs, and the traffic
    record is moved into place only once the tables (and report) are
    written, so bad input leaves nothing behind.
    """
    from flowsim.api import simulate
    from flowsim.results.writers import (check_format, check_outputs, check_writable_parent, timeseries_bin,
                                         write_result, write_summary)
    with command(quiet) as bar:
        check_format(fmt)
        series = timeseries_bin(ts_bin)
        if summary_only and (explain or report is not None or ts_bin is not None):
            raise ScenarioError("cannot be combined with --explain, --report or --bin, which need the per-row tables",
                                field="--summary-only")
        base, (chosen,) = _choose(scenario, sets or [], [variant])
        sc = chosen.scenario
        target = out_dir or _default_dir("runs", sc.name, [chosen])
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
                write_result(result, target, fmt, timeseries=series)
            if report is not None:
                from flowsim.report import write_report
                write_report({_label(sc.name, [chosen], chosen): result}, report,
                             figures=_figures([chosen], result.seed))
            if recorded is not None:
                os.replace(recorded, record)
        finally:
            if recorded is not None and recorded.exists():
                recorded.unlink()
    if not quiet:
        _say_variant(base, [chosen], "run one with --variant NAME, or all with `flowsim compare`")
        print_summary(result.summary())
        out.print(f"wrote {escape(str(target))}/" + (f" and {escape(str(report))}/index.html" if report else ""),
                  highlight=False, soft_wrap=True)


def _say_variant(base: "Base", chosen: Sequence[Chosen], hint: str) -> None:
    """Which variant (and overrides) the output is of, and the variants left out (``hint``:
    how to get them)."""
    for c in chosen:
        applied = c.applied()
        if applied:
            out.print(escape(f"{c.scenario.name}: {applied}"), highlight=False, soft_wrap=True)
    others = [v for v in base.variants() if v not in {c.variant for c in chosen}]
    if others:
        shown = ", ".join(c.variant for c in chosen)
        out.print(escape(f"{shown} only; the scenario's other variants: {', '.join(others)} ({hint})"),
                  highlight=False, soft_wrap=True)


def _label(name: str, chosen: Sequence[Chosen], c: Chosen) -> str:
    """A result's name in a report: the scenario's for its base alone, else the variant's."""
    return name if len(chosen) == 1 and c.variant == BASE else c.variant


def _figures(chosen: Sequence[Chosen], seed: int) -> str:
    """The report's "figures" line: what was simulated, with which overrides and seed."""
    if len(chosen) == 1:
        applied = chosen[0].applied()
        return f"one run with seed {seed}" + (f": {applied}" if applied else "")
    sets = ", ".join(ov.describe() for ov in chosen[0].sets)
    return (f"one run of each variant with seed {seed}: {'; '.join(c.variant_text() for c in chosen)}"
            + (f"; all with {sets}" if sets else "")
            + f". The figures over time, per key and of binding constraints show {chosen[0].variant}.")


def _answer(results: "dict[str, Result]") -> str | None:
    """The report's answer: each variant's (one run each, so no confidence interval: say
    where to get one); ``None`` for a single result (the report's own answer)."""
    if len(results) == 1:
        return None
    from flowsim.report import answer_for
    return (" ".join(f"{label}: {answer_for(r)}" for label, r in results.items())
            + " One run of each with the same seed: flowsim compare gives confidence intervals.")


@app.command("report")
def report_cmd(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
               out_dir: Optional[Path] = typer.Option(None, "--out", help="Directory (default reports/<name>/, "
                                                      "reports/<name>-<variant>/ for one variant)."),
               seed: Optional[int] = SEED,
               sets: Optional[List[str]] = SETS,
               variants: Optional[List[str]] = typer.Option(None, "--variant", metavar="NAME", help="Report this variant "
                                                            "(repeatable; default: every variant side by side)."),
               warmup: str = WARMUP) -> None:
    """Simulate a scenario and write an HTML/Markdown report, its variants side by side.

    A self-contained index.html and a report.md with figures, from one run
    of each variant (every one, or those --variant names) with the same
    seed. The headline table and latency CDFs have one column or curve per
    variant; the figures over time, per key and of binding constraints
    show the first variant.
    """
    from flowsim.api import simulate
    from flowsim.report import write_report
    from flowsim.results.writers import check_outputs
    with command() as bar:
        base, chosen = _choose(scenario, sets or [], variants or None)
        name = base.name
        target = out_dir or _default_dir("reports", name, chosen)
        check_outputs({"--out": target})
        results = {}
        for c in chosen:
            progress = bar(f"simulating {name}" + (f" ({c.variant})" if len(chosen) > 1 else ""))
            results[_label(name, chosen, c)] = simulate(
                c.scenario, seed, warmup=warmup, progress=None if progress is None else (lambda f: progress(f, 1.0)))
        first = next(iter(results.values()))
        write_report(results, target, figures=_figures(chosen, first.seed), answer=_answer(results))
    _say_variant(base, chosen, "add them with --variant NAME, or leave --variant out for all")
    what = (f": variants {', '.join(c.variant for c in chosen)} side by side" if len(chosen) > 1 else "")
    out.print(f"wrote {escape(str(target))}/index.html and {escape(str(target))}/report.md{escape(what)}",
              highlight=False, soft_wrap=True)


@app.command()
def validate(scenario: Path = typer.Argument(..., help="The scenario YAML file.")) -> None:
    """Check a scenario without running it; print the expected events per traffic source.

    Every field and variant is checked, and every replayed trace is read
    through as a run reads it: a broken line fails here, with its file and
    line, as it would fail the run.
    """
    from flowsim.streams import Streams
    with command():
        sc = _load(scenario)
        streams = Streams(sc.seed)
        expected = [(source.name, source.expected_events(streams, sc.horizon)) for source in sc.traffic]
    events = ", ".join(f"{name} {_expected(e)}" for name, e in expected)
    out.print(escape(f"{scenario}: ok — {_plural(len(sc.functions), 'function')}, "
                     f"{_plural(len(sc.traffic), 'traffic source')}; expected events: {events or 'none'}"),
              highlight=False, soft_wrap=True)


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _expected(e: "Expected") -> str:
    """``24,000`` for an exact count, ``≈ 36,000`` for an expectation."""
    n = float(e.count)
    if n >= 1e15:
        text = f"{n:.3g}"
    elif n >= 10 or n == int(n):
        text = f"{n:,.0f}"
    else:
        text = f"{n:.2g}"
    return text if e.exact else f"≈ {text}"


def print_summary(summary: dict[str, Any]) -> None:
    """What a run prints: the story, short tables, then the warnings (flowsim.results.text)."""
    from flowsim.results.text import print_summary as show, print_warnings
    show(summary, out)
    print_warnings(summary, out)


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
