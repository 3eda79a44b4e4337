"""Analyses over many simulations: replications with confidence intervals, variants with
common random numbers, comparisons, sweeps and capacity plans, on local cores or Dask.

>>> from flowsim.analysis import compare, sweep, plan
>>> c = compare(["scenarios/user-sync.yaml"], replications=10)
>>> c.summary[c.summary.metric == "p99(start_latency)"]
"""
from flowsim.analysis.compare import Comparison, compare
from flowsim.analysis.executors import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor
from flowsim.analysis.headline import METRICS, headline
from flowsim.analysis.overrides import Override, apply_overrides, parse_assignment
from flowsim.analysis.plan import Objective, Plan, plan
from flowsim.analysis.replicate import replicate
from flowsim.analysis.stats import mean_ci
from flowsim.analysis.sweep import Sweep, parse_grid, sweep

__all__ = ["compare", "Comparison", "sweep", "Sweep", "parse_grid", "plan", "Plan", "Objective", "replicate",
           "headline", "METRICS", "mean_ci", "Override", "parse_assignment", "apply_overrides",
           "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor"]
