"""Figures users can draw from any :class:`~flowsim.Result` (matplotlib).

Every function takes an optional ``ax`` and returns the ``Axes`` it drew on, so figures
compose in notebooks. Patches and lines carry a ``gid`` saying what they show
(``step``, ``sleep``, ``wait``, ``queued``, ``constraint``...), which the tests use to
check what was drawn.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from flowsim.results.result import Result

KIND_STYLE = {
    "run": {"alpha": 0.9, "hatch": None},
    "request": {"alpha": 0.9, "hatch": None},
    "sleep": {"alpha": 0.25, "hatch": "//"},
    "wait": {"alpha": 0.25, "hatch": ".."},
}


def _ax(ax: "Axes | None", size: tuple[float, float] = (8, 4)) -> "Axes":
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def gantt(result: "Result", *, by: str = "key", key: str | None = None, functions: Sequence[str] | None = None,
          until: float | None = None, queued: bool = True, ax: "Axes | None" = None) -> "Axes":
    """A Gantt chart: one row per key value (``by="key"``, key label ``key`` or the first
    the runs carry) or per run (``by="run"``); a bar per step attempt (solid), sleep
    (hatched) and wait (dotted), and a thin grey bar for the time each step was queued.
    Cancelled and failed attempts are outlined in red."""
    steps = result.steps
    runs = result.runs.set_index("run_id")
    if functions is not None:
        steps = steps[steps["function_id"].isin(list(functions))]
    keys = {r: json.loads(k) for r, k in zip(result.runs["run_id"], result.runs["keys"])}
    if by == "key":
        labels = [lab for k in keys.values() for lab in k]
        key = key or (labels[0] if labels else None)
        row_of = {r: (str(k.get(key, "")) if key else runs.loc[r, "function_id"]) for r, k in keys.items()}
    elif by == "run":
        row_of = {r: r for r in keys}
    else:
        raise ValueError(f"by must be 'key' or 'run', got {by!r}")
    end_default = until if until is not None else result.horizon
    ax = _ax(ax, (9, 0.5 + 0.35 * max(1, len(set(row_of[r] for r in steps["run_id"])))))
    rows = sorted({row_of[r] for r in steps["run_id"]}, key=_natural)
    ypos = {row: i for i, row in enumerate(rows)}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fn_color = {fn.id: colors[i % len(colors)] for i, fn in enumerate(result.scenario.functions)}
    for s in steps.itertuples():
        y = ypos[row_of[s.run_id]]
        color = fn_color[s.function_id]
        if queued and s.kind in ("run", "request"):
            q_end = s.started_at if not np.isnan(s.started_at) else end_default
            if q_end > s.enqueued_at:
                ax.barh(y, q_end - s.enqueued_at, left=s.enqueued_at, height=0.12, color="0.6", gid="queued")
        if np.isnan(s.started_at):
            continue
        end = s.ended_at if not np.isnan(s.ended_at) else end_default
        style = KIND_STYLE.get(s.kind, KIND_STYLE["run"])
        edge = "red" if s.status in ("failed", "cancelled") else "black"
        ax.barh(y, max(end - s.started_at, 0.0), left=s.started_at, height=0.6, color=color,
                alpha=style["alpha"], hatch=style["hatch"], edgecolor=edge, linewidth=0.6,
                gid="step" if s.kind in ("run", "request") else s.kind)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)")
    ax.set_ylabel(key if by == "key" and key else by)
    if until is not None:
        ax.set_xlim(right=until)
    handles = [matplotlib.patches.Patch(color=c, label=f) for f, c in fn_color.items()
               if f in set(steps["function_id"])]
    if len(handles) > 1:
        ax.legend(handles=handles, loc="upper right", fontsize="small")
    return ax


def _natural(s: str) -> tuple:
    import re
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s)))


def latency_cdf(results: "Result | Mapping[str, Result]", *, metric: str = "start_latency",
                groups: Mapping[str, Any] | None = None, ax: "Axes | None" = None) -> "Axes":
    """Empirical CDFs of a run latency (``start_latency`` or ``end_to_end_latency``), one
    line per result (a mapping of variant name → Result) or, with ``groups``
    (name → predicate on the runs table, e.g. a tenant class), one line per group."""
    ax = _ax(ax)
    items = results.items() if isinstance(results, Mapping) else [("", results)]
    for name, result in items:
        runs = result.runs
        if result.warmup:
            runs = runs[runs["event_at"] >= result.warmup]
        if metric == "start_latency":
            values = runs["started_at"] - runs["event_at"]
        elif metric == "end_to_end_latency":
            done = runs["status"] == "completed"
            values = (runs["ended_at"] - runs["event_at"]).where(done)
        else:
            raise ValueError(f"unknown metric {metric!r}")
        parts = [(name, values)] if groups is None else [
            (f"{name} {g}".strip(), values[pred(runs)]) for g, pred in groups.items()]
        for label, v in parts:
            v = np.sort(v.dropna().to_numpy())
            if len(v) == 0:
                continue
            ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", label=label or None, gid="cdf")
    ax.set_xlabel(f"{metric.replace('_', ' ')} (s)")
    ax.set_ylabel("fraction of runs")
    ax.set_ylim(0, 1.01)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize="small")
    return ax


def over_time(result: "Result", columns: Sequence[str] = ("queue_depth", "slots_in_use"), *, bin: float = 60.0,
              ax: "Axes | None" = None) -> "Axes":
    """Per-function time series (``arrivals``, ``starts``, ``completions``, ``queue_depth``,
    ``slots_in_use``) in bins of ``bin`` seconds."""
    ax = _ax(ax)
    ts = result.timeseries(bin)
    for (fn, col) in [(f, c) for f in ts["function_id"].unique() for c in columns]:
        part = ts[ts["function_id"] == fn]
        ax.plot(part["time"], part[col], label=f"{fn} {col.replace('_', ' ')}", gid=col)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize="small")
    return ax


def start_latency_over_time(result: "Result", *, bin: float = 60.0, ax: "Axes | None" = None) -> "Axes":
    """p50 and p99 start latency of the runs whose event arrived in each bin."""
    ax = _ax(ax)
    runs = result.runs.dropna(subset=["started_at"])
    lat = runs["started_at"] - runs["event_at"]
    b = (runs["event_at"] // bin) * bin
    g = lat.groupby(b)
    for q, style in ((0.5, "-"), (0.99, "--")):
        series = g.quantile(q)
        ax.plot(series.index, series.to_numpy(), style, label=f"p{int(q * 100)}", gid=f"p{int(q * 100)}")
    ax.set_xlabel("event arrival time (s)")
    ax.set_ylabel("start latency (s)")
    ax.legend(fontsize="small")
    return ax


def binding_bars(result: "Result", *, ax: "Axes | None" = None) -> "Axes":
    """Total delay each constraint caused (one horizontal bar per constraint)."""
    ax = _ax(ax, (7, 3))
    table = result.binding()
    ax.barh(table["constraint"], table["total_delay"], color="tab:red", gid="constraint")
    ax.invert_yaxis()
    ax.set_xlabel("total delay caused (s)")
    if table.empty:
        ax.text(0.5, 0.5, "no item waited", ha="center", va="center", transform=ax.transAxes)
    return ax


def per_key_latency(result: "Result", *, key: str | None = None, top: int = 10, ax: "Axes | None" = None) -> "Axes":
    """p99 start latency of the busiest ``top`` keys and the worst ``top`` keys."""
    ax = _ax(ax, (8, 4))
    table = result.per_key(key)
    if table.empty:
        ax.text(0.5, 0.5, "runs carry no key", ha="center", va="center", transform=ax.transAxes)
        return ax
    busiest = table.sort_values(["runs", "key"], ascending=[False, True]).head(top)
    worst = table.sort_values(["start_latency_p99", "key"], ascending=[False, True]).head(top)
    chosen = pd.concat([busiest.assign(group="busiest"), worst.assign(group="worst")]).drop_duplicates("key")
    colors = ["tab:blue" if g == "busiest" else "tab:orange" for g in chosen["group"]]
    ax.bar(chosen["key"].astype(str), chosen["start_latency_p99"].fillna(0), color=colors, gid="key")
    ax.set_ylabel("p99 start latency (s)")
    ax.tick_params(axis="x", rotation=60, labelsize="small")
    return ax


def sweep_curve(table: pd.DataFrame, *, x: str, y: str = "mean", lo: str = "ci_low", hi: str = "ci_high",
                slo: float | None = None, ax: "Axes | None" = None, label: str | None = None) -> "Axes":
    """A metric against a setting with its confidence band and, optionally, the SLO line."""
    ax = _ax(ax)
    t = table.sort_values(x)
    ax.plot(t[x], t[y], marker="o", label=label, gid="curve")
    if lo in t and hi in t:
        ax.fill_between(t[x], t[lo], t[hi], alpha=0.25, gid="band")
    if slo is not None:
        ax.axhline(slo, color="red", linestyle="--", label="SLO", gid="slo")
    ax.set_xlabel(x)
    if label or slo is not None:
        ax.legend(fontsize="small")
    return ax
