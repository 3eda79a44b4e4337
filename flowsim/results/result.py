"""The result of one simulation: three tidy tables, a decision log and the summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from flowsim.scenario.model import Scenario

LOG_COLUMNS = ("time", "kind", "message", "facts")


@dataclass
class Result:
    """What one simulation produced.

    * ``events`` — one row per (event, function it triggers) with its one outcome;
    * ``runs`` — one row per run (including skipped ones) with its status;
    * ``steps`` — one row per step attempt, sleep and wait, with queue wait and
      ``blocked_by``;
    * ``log`` — the decisions taken, with ``explain=True``.

    With ``summary_only`` (``simulate(..., tables=False)``) the three tables have no rows
    and the summary was folded during the simulation: methods that need rows raise
    :class:`TablesNotKept`.
    """

    scenario: "Scenario"
    seed: int
    horizon: float
    events: pd.DataFrame
    runs: pd.DataFrame
    steps: pd.DataFrame
    log: pd.DataFrame
    events_in: int = 0
    events_unmatched: int = 0
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    warmup: float = 0.0
    summary_only: bool = False
    _slices: Any = field(default=None, repr=False)
    """The key-expression values captured for ``simulate(..., metrics=...)``
    (:mod:`flowsim.results.slices`), ``None`` when none were asked for."""
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Sections reported by mechanisms' shared state (e.g. ``burst``), by section name."""

    def summary(self) -> dict[str, Any]:
        """Headline metrics (counts, latency percentiles, slot use, binding constraints,
        fairness), computed once, excluding the warm-up; and the mechanisms' own sections
        under ``mechanisms`` when any reported (whole run, warm-up included)."""
        if self._summary is None:
            from flowsim.results.metrics import summarize
            self._summary = summarize(self, self.warmup)
            if self.mechanisms:
                self._summary["mechanisms"] = self.mechanisms
        return self._summary

    def metric(self, metric: str) -> float:
        """The value of one metric named by text (:mod:`flowsim.results.metric`), e.g.
        ``"p99(start_latency)[function=work]"`` or ``"worst(p99(start_latency), event.data.tenant)"``.

        A metric that reads a key expression needs its values captured: simulate with
        ``flowsim.simulate(..., metrics=[...])``. A filter that matches nothing gives NaN
        with a :class:`~flowsim.results.metric.MetricWarning`."""
        from flowsim.results.metric import value
        return value(self, metric)

    def binding(self) -> pd.DataFrame:
        """Which constraints delayed items and by how much (one row per constraint)."""
        if self.summary_only:
            table = pd.DataFrame.from_dict(self.summary()["binding"], orient="index", columns=[
                "items", "total_delay", "mean_delay", "share", "worst_key", "worst_key_delay"])
            return table.rename_axis("constraint").reset_index()
        from flowsim.results.metrics import binding
        return binding(self, self.warmup)

    def per_key(self, label: str | None = None) -> pd.DataFrame:
        """Per key value of ``label`` (``concurrency[0]``, ``throttle``...): runs, throughput,
        start-latency percentiles and starvation."""
        self.require_tables("per_key()")
        from flowsim.results.metrics import per_key
        return per_key(self, label, self.warmup)

    def timeseries(self, bin: float = 60.0) -> pd.DataFrame:
        """Arrivals, starts, completions, queue depth and slots in use per time bin and function."""
        self.require_tables("timeseries()")
        from flowsim.results.metrics import timeseries
        return timeseries(self, bin)

    def require_tables(self, what: str) -> None:
        """Refuse ``what`` on a summary-only result, whose tables have no rows."""
        if self.summary_only:
            raise TablesNotKept(what)


class TablesNotKept(RuntimeError):
    """A per-row view of a result simulated with ``tables=False``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the per-row tables, but this result was simulated summary-only; "
                         "run flowsim.simulate(..., tables=True) (the CLI: without --summary-only)")
