"""The command line of the analyses: ``flowsim compare``, ``flowsim sweep``, ``flowsim plan``.

Thin over the API (:mod:`flowsim.analysis`): parse the options, run, print a table with
rich, write the tables as CSV into ``--out`` (default ``runs/<scenario>-<command>/``):

* ``replications.csv``: one row per variant / point / value and replication;
* ``summary.csv``: mean and 95% CI per variant / point / value and metric (compare adds the
  paired difference to the first variant: ``diff``, ``diff_low``, ``diff_high``);
* ``plan.csv`` and ``plan.json`` (plan only): every evaluated value against every
  objective, and the answer with the objectives that bind.

Work runs on the local cores by default (``--workers``), or on a Dask cluster
(``--cluster tcp://host:8786``). Bad input exits with code 2 and a one-line
``file:line: field: message``; a progress bar is shown when stderr is a terminal.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from flowsim.analysis.executors import make_executor
from flowsim.analysis.output import plus_minus as _pm, write_tables
from flowsim.analysis.overrides import BASE, parse_assignment
from flowsim.console import command as _command, out
from flowsim.results.metric import parse as parse_metric
from flowsim.results.writers import check_outputs


REPLICATIONS = typer.Option(10, "--replications", "-n", help="Independent seeds per variant or point (≥ 2).")
SETS = typer.Option(None, "--set", metavar="PATH=VALUE",
                    help="Override a field, e.g. functions.my-fn.concurrency.0.limit=5 (repeatable).")
SEED = typer.Option(None, min=0, help="Seed the replication seeds are spawned from (default: the scenario's `seed`).")
WORKERS = typer.Option(None, "--workers", help="Local worker processes (default: one per core; 1: in-process).")
CLUSTER = typer.Option(None, "--cluster", metavar="ADDRESS",
                       help="Run on an existing Dask cluster, e.g. tcp://scheduler:8786.")
QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
REPORT = typer.Option(None, "--report", metavar="DIR", help="Also write an HTML/Markdown report (figures from "
                      "one full run per variant or at the answer, with the first replication's seed).")
SUMMARY_ONLY = typer.Option(False, "--summary-only", help="Simulate each replication summary-only: memory flat "
                            "in the runs, no tables to build (faster); percentiles within 0.5% (see the README).")
DEFAULT_SWEEP_METRICS = ("p50(start_latency)", "p99(start_latency)", "throughput")
# help text is read as rich markup: the filters' brackets are escaped
METRIC_HELP = escape("e.g. p99(start_latency), rate(rate_limited), p99(start_latency)[event.data.tenant=s1], "
                     "p99(start_latency)[function=ID], worst(p99(start_latency), event.data.tenant), "
                     "jain(start_latency, event.data.tenant) (see the README's Metrics)")


def compare(scenarios: List[Path] = typer.Argument(..., help="Scenario YAML files; the first is the reference."),
            replications: int = REPLICATIONS, sets: Optional[List[str]] = SETS, seed: Optional[int] = SEED,
            out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory "
                                                   "(default runs/<name>-compare/)."),
            workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER, quiet: bool = QUIET,
            report: Optional[Path] = REPORT, summary_only: bool = SUMMARY_ONLY,
            metrics: Optional[List[str]] = typer.Option(None, "--metric", help="A headline metric to compare "
                                                        f"(repeatable; default: the headline), {METRIC_HELP}.")
            ) -> None:
    """Compare every variant of the scenarios side by side: mean and 95% CI of the headline metrics,
    and the difference to the first variant (paired over common random numbers)."""
    from flowsim.analysis.compare import compare as run_compare
    with _command(quiet) as bar:
        check_outputs({"--out": out_dir, "--report": report})
        for m in metrics or []:
            parse_metric(m, "--metric")
        overrides = [parse_assignment(s) for s in sets or []]
        with make_executor(workers, cluster) as executor:
            result = run_compare(scenarios, replications, sets=overrides, seed=seed, executor=executor,
                                 progress=bar("compare"), tables=not summary_only, metrics=metrics or None)
        target = _output(out_dir, Path("runs") / f"{result.name}-compare", report)
        target = write_tables(target, {"replications": result.rows, "summary": result.summary})
        if report is not None:
            _report(report, dict(zip(result.variants, result.specs)), result.seeds[0],
                    answer=_compare_answer(result),
                    tables=[(f"Comparison over {len(result.seeds)} replications (mean ± 95% CI half-width; "
                             f"Δ: paired difference to {result.variants[0]})", comparison_frame(result))],
                    figures="one full run of each variant, with the first replication's seed")
    if not quiet:
        print_comparison(result)
        for line in result.verdicts():
            out.print(escape(line), highlight=False, soft_wrap=True)
        out.print(f"wrote {target}/", highlight=False, soft_wrap=True)


def sweep(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
          grid: List[str] = typer.Option(..., "--grid", metavar="PATH=V1,V2,...",
                                         help="A dimension of the grid: PATH=V1,V2,... or PATH=LOW..HIGH "
                                              "(repeatable; the points are the product)."),
          variants: Optional[List[str]] = typer.Option(None, "--variant", help="Sweep this variant of the "
                                                       "scenario (repeatable; default: base)."),
          replications: int = REPLICATIONS, sets: Optional[List[str]] = SETS, seed: Optional[int] = SEED,
          metrics: Optional[List[str]] = typer.Option(None, "--metric", help="A metric to print (repeatable; "
                                                      f"every headline metric is written too), {METRIC_HELP}."),
          out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory "
                                                 "(default runs/<name>-sweep/)."),
          workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER, quiet: bool = QUIET,
          report: Optional[Path] = REPORT, summary_only: bool = SUMMARY_ONLY) -> None:
    """Run every point of a grid of settings over the same seeds; write one row per point and
    replication, and a summary with 95% CIs."""
    from flowsim.analysis.sweep import parse_grid
    from flowsim.analysis.sweep import sweep as run_sweep
    with _command(quiet) as bar:
        check_outputs({"--out": out_dir, "--report": report})
        for m in metrics or []:
            parse_metric(m, "--metric")
        dims = [parse_grid(g) for g in grid]
        overrides = [parse_assignment(s) for s in sets or []]
        with make_executor(workers, cluster) as executor:
            result = run_sweep(scenario, dims, replications, variants=variants or [BASE], sets=overrides,
                               seed=seed, executor=executor, progress=bar("sweep"), tables=not summary_only,
                               metrics=metrics or ())
        target = _output(out_dir, Path("runs") / f"{result.name}-sweep", report)
        target = write_tables(target, {"replications": result.rows, "summary": result.summary})
        if report is not None:
            metric = (result.metrics or ["p99(start_latency)"])[0]
            curve = _curve(result.summary, result.settings, metric)
            per_point = result.summary[result.summary["metric"] == metric].drop(columns="metric")
            _report(report, {f"point 0 ({_point(result.summary, result.settings)})": result.specs[0]},
                    result.seeds[0], sweep=curve, sweep_x=result.settings[0] if curve is not None else None,
                    sweep_metric=metric, answer=_sweep_answer(result.summary, result.settings, metric),
                    tables=[] if curve is not None else [(f"{metric} per point (mean and 95% CI)", per_point)],
                    figures="one full run of point 0, with the first replication's seed")
    if not quiet:
        _print_sweep(result.summary, result.settings, result.metrics, len(variants or [BASE]) > 1)
        out.print(f"wrote {target}/", highlight=False, soft_wrap=True)


def plan(scenario: Path = typer.Argument(..., help="The scenario YAML file."),
         vary: str = typer.Option(..., "--vary", metavar="PATH=LOW..HIGH",
                                  help="The integer setting to size, e.g. functions.my-fn.concurrency=1..64."),
         slos: List[str] = typer.Option(..., "--slo", metavar="'METRIC OP BOUND'",
                                        help=escape("An objective, e.g. 'p99(start_latency) <= 30s', "
                                                    "'rate(rate_limited) <= 1%', 'p99(start_latency)"
                                                    "[event.data.tenant=s1] <= 5s' or 'worst(p99(start_latency), "
                                                    "event.data.tenant) <= 30s' (repeatable; metrics as for "
                                                    "compare --metric).")),
         variant: str = typer.Option(BASE, "--variant", help="Plan for this variant of the scenario."),
         replications: int = REPLICATIONS, sets: Optional[List[str]] = SETS, seed: Optional[int] = SEED,
         out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/<name>-plan/)."),
         workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER, quiet: bool = QUIET,
         report: Optional[Path] = REPORT, summary_only: bool = SUMMARY_ONLY) -> None:
    """Find the smallest value of a setting that meets every objective with 95% confidence
    (a bisection over LOW..HIGH), and say which objective binds at the answer."""
    from flowsim.analysis.plan import Objective, parse_vary
    from flowsim.analysis.plan import plan as run_plan
    with _command(quiet) as bar:
        check_outputs({"--out": out_dir, "--report": report})
        rng = parse_vary(vary)
        objectives = [Objective.parse(s) for s in slos]
        overrides = [parse_assignment(s) for s in sets or []]
        with make_executor(workers, cluster) as executor:
            result = run_plan(scenario, rng, objectives, replications, variant=variant, sets=overrides,
                              seed=seed, executor=executor, progress=bar("plan"), tables=not summary_only)
        document = {"scenario": result.name, "path": result.path, "low": result.low, "high": result.high,
                    "objectives": [o.text for o in result.objectives], "replications": replications,
                    "answer": result.answer, "binding": result.binding, "constraint": result.constraint,
                    "explanation": result.explain()}
        target = _output(out_dir, Path("runs") / f"{result.name}-plan", report)
        target = write_tables(target,
                              {"plan": result.evaluations, "replications": result.rows, "summary": result.summary},
                              {"plan": document})
        if report is not None:
            shown = result.answer if result.answer is not None else result.high
            objective = result.objectives[0]
            curve = result.evaluations[result.evaluations["objective"] == objective.text]
            _report(report, {f"{result.path} = {shown}": result.specs[shown]}, result.seeds[0],
                    sweep=curve.rename(columns={"value": result.path}), sweep_x=result.path,
                    sweep_metric=objective.metric, slo=objective.bound, answer=result.explain(),
                    figures=f"one full run at {result.path} = {shown}, with the first replication's seed")
    if not quiet:
        _print_plan(result)
        out.print(f"wrote {target}/", highlight=False, soft_wrap=True)


def _output(out_dir: Optional[Path], default: Path, report: Optional[Path]) -> Path:
    """The output directory: ``--out`` (checked before the work) or the default, checked now."""
    if out_dir is not None:
        return out_dir
    check_outputs({"--out": default, "--report": report})
    return default


def _report(out_dir: Path, specs: dict[str, Any], seed: int, **kwargs: Any) -> None:
    """Write a report from one full run of each spec at ``seed`` (the first replication's)."""
    from flowsim.analysis.replicate import representative
    from flowsim.report import write_report
    write_report({label: representative(spec, seed) for label, spec in specs.items()}, out_dir, **kwargs)


def _curve(summary: pd.DataFrame, settings: list[str], metric: str) -> Optional[pd.DataFrame]:
    """The metric against the setting, for a one-setting, one-variant sweep with numeric values."""
    rows = summary[summary["metric"] == metric]
    if len(settings) != 1 or rows["variant"].nunique() != 1 or not pd.api.types.is_numeric_dtype(rows[settings[0]]):
        return None
    return rows


def _point(summary: pd.DataFrame, settings: list[str]) -> str:
    first = summary[summary["point"] == 0].iloc[0]
    return ", ".join(f"{s}={first[s]}" for s in settings)


def _comparison_rows(result: Any, variants: list[str]) -> Iterator[tuple[str, list[tuple[str, bool]]]]:
    """Per headline metric: each of ``variants``' ``mean ± half-width`` and, after the
    first, its paired difference to the first, each with whether it is a difference whose
    CI excludes 0."""
    by = result.summary.set_index(["variant", "metric"])
    for metric in result.headline:
        cells = []
        for i, v in enumerate(variants):
            r = by.loc[(v, metric)]
            cells.append((_pm(r["mean"], r["ci_low"], r["ci_high"]), False))
            if i:
                clear = not math.isnan(r["diff_low"]) and (r["diff_low"] > 0 or r["diff_high"] < 0)
                cells.append((_pm(r["diff"], r["diff_low"], r["diff_high"], signed=True), clear))
        yield metric, cells


def _comparison_columns(variants: list[str]) -> list[str]:
    return [c for i, v in enumerate(variants) for c in ([v] if not i else [v, f"Δ {v}"])]


def print_comparison(result: Any) -> None:
    """The comparison table: a row per headline metric, a column per variant and per difference
    (in bold where its CI excludes 0). When the whole table would not fit the terminal, one
    table per variant against the first."""
    first, others = result.variants[0], result.variants[1:]
    columns = 1 + 2 * len(others)
    groups = [result.variants] if not others or 30 + 14 * columns <= out.width else [[first, v] for v in others]
    for variants in groups:
        table = Table(box=box.SIMPLE_HEAD, title="mean ± 95% CI half-width; Δ: paired difference to " + first)
        table.add_column("metric", overflow="fold", ratio=2)
        for column in _comparison_columns(variants):
            table.add_column(escape(column), justify="right", overflow="fold", ratio=1)
        for metric, cells in _comparison_rows(result, variants):
            table.add_row(escape(_breakable(metric)),
                          *(f"[bold]{text}[/]" if clear else text for text, clear in cells))
        out.print(table)


def _breakable(metric: str) -> str:
    """``metric`` with a space before its filters, where a narrow column may wrap it (the
    metric reads the same with it)."""
    return metric.replace(")[", ") [")


def comparison_frame(result: Any) -> pd.DataFrame:
    """The comparison table as text, for a report (a difference whose CI excludes 0 is starred)."""
    rows = {metric: [text + (" *" if clear else "") for text, clear in cells]
            for metric, cells in _comparison_rows(result, result.variants)}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=_comparison_columns(result.variants)).rename_axis("metric")


def _compare_answer(result: Any, metric: str = "p99(start_latency)") -> str:
    """The comparison's answer over the replications: where each variant is better or worse,
    then ``metric`` variant by variant."""
    by = result.summary.set_index(["variant", "metric"])
    parts = []
    for i, v in enumerate(result.variants):
        r = by.loc[(v, metric)]
        text = f"{v} {_pm(r['mean'], r['ci_low'], r['ci_high'])} s"
        if i and not math.isnan(r["diff"]):
            text += f" (Δ {_pm(r['diff'], r['diff_low'], r['diff_high'], signed=True)} s)"
        parts.append(text)
    return (f"Over {len(result.seeds)} replications (mean ± 95% CI half-width): " + " ".join(result.verdicts())
            + f" {metric}: " + "; ".join(parts) + ".")


def _sweep_answer(summary: pd.DataFrame, settings: list[str], metric: str) -> str:
    """The sweep's answer for ``metric``: its lowest and highest mean over the points."""
    rows = summary[(summary["metric"] == metric) & summary["mean"].notna()]
    if rows.empty:
        return f"{metric}: no value at any point."
    variants = rows["variant"].nunique() > 1

    def where(r: pd.Series) -> str:
        return ", ".join(([f"variant {r['variant']}"] if variants else []) + [f"{s}={r[s]}" for s in settings])
    low, high = rows.loc[rows["mean"].idxmin()], rows.loc[rows["mean"].idxmax()]
    return (f"{metric} over {int(low['n'])} replications per point (mean ± 95% CI half-width): lowest "
            f"{_pm(low['mean'], low['ci_low'], low['ci_high'])} at {where(low)}, highest "
            f"{_pm(high['mean'], high['ci_low'], high['ci_high'])} at {where(high)}, over {len(rows)} points.")


def _print_sweep(summary: pd.DataFrame, settings: list[str], metrics: list[str], show_variant: bool) -> None:
    if not metrics:
        from flowsim.analysis.compare import shown_metrics
        losses = [m for m in shown_metrics(summary) if m.startswith("rate(") and m != "rate(run)"]
        metrics = [*losses, *DEFAULT_SWEEP_METRICS]
    table = Table(box=box.SIMPLE_HEAD, title="mean ± 95% CI half-width")
    if show_variant:
        table.add_column("variant", no_wrap=True)
    for col in settings:
        table.add_column(escape(col), overflow="fold")
    for m in metrics:
        table.add_column(escape(_breakable(m)), justify="right", overflow="fold")
    for _, group in summary.groupby("point", sort=False):
        first = group.iloc[0]
        by = group.set_index("metric")
        cells = [escape(str(first["variant"]))] if show_variant else []
        cells += [escape(str(first[s])) for s in settings]
        cells += [_pm(by.loc[m, "mean"], by.loc[m, "ci_low"], by.loc[m, "ci_high"]) for m in metrics]
        table.add_row(*cells)
    out.print(table)


def _print_plan(result: Any) -> None:
    table = Table(box=box.SIMPLE_HEAD, title="mean ± 95% CI half-width per objective")
    table.add_column(escape(result.path), justify="right", overflow="fold")
    for o in result.objectives:
        table.add_column(escape(_breakable(o.text)), justify="right", overflow="fold")
    table.add_column("meets", justify="center")
    ev = result.evaluations.set_index(["value", "objective"])
    for value, ok in result.verdicts.items():
        cells = []
        for o in result.objectives:
            r = ev.loc[(value, o.text)]
            cell = _pm(r["mean"], r["ci_low"], r["ci_high"])
            cells.append(cell if r["met"] else f"[red]{cell}[/]")
        table.add_row(str(value), *cells, "[green]yes[/]" if ok else "[red]no[/]")
    out.print(table)
    out.print(escape(result.explain()), highlight=False, soft_wrap=True)
