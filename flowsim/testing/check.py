"""Check a user's scenario: every invariant under Hypothesis-perturbed traffic, and a
minimal reproducer of the first violation (``flowsim check``, :func:`check_scenario`).

The scenario's own traffic is generated once from its seed (generated, explicit or
replayed sources alike) and becomes the base event list. The scenario is simulated as
it is, then Hypothesis draws *perturbations* of the base list, each simulated and checked
with every invariant of :mod:`flowsim.testing.invariants` (an exception inside the
simulator counts as the violation ``crash``):

* a window of consecutive events (at most ``max_events``);
* arrival compression (gaps × 1, ½ or ⅒: more load) and jitter (each arrival moved by up
  to ±1 ms … ±1 s, its ``ts`` with it);
* bursts: up to three events copied up to 20 times, within 0 to 0.5 s;
* key skew: a share of the events gets the data of the window's first event (one hot
  key) or unique values (many keys);
* out-of-order ``ts`` on up to five events, duplicate ids on up to three.

Every perturbation shrinks towards "none", so Hypothesis reports the simplest failing
variant; its event list is then cut down further by delta debugging (ddmin: drop halves,
quarters, ... and finally single events while the same invariant still fails, within a
budget of simulations). The result is written as a scenario file: the user's scenario
with its traffic replaced by the explicit events (``at``, ``name``, ``data``, ``id``,
``ts``), which ``flowsim run`` replays exactly and ``flowsim check`` reports again.

The search is deterministic: the same scenario, ``examples`` and ``seed`` give the same
report. Mechanisms are taken from :data:`flowsim.policies.MECHANISMS` as registered when
the check runs, so a plugged-in (or deliberately broken) mechanism is what is checked.
"""
from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import yaml
from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
from hypothesis import strategies as st

import flowsim
from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.scenario.load import load_scenario, parse_scenario
from flowsim.scenario.model import Scenario
from flowsim.scenario.source import load_yaml
from flowsim.streams import Streams
from flowsim.testing.invariants import INVARIANTS, InvariantError, check_all
from flowsim.traffic.sources import merge

DEFAULT_MAX_EVENTS = 200
MINIMIZE_BUDGET = 400           # simulations spent on ddmin at most


@dataclass
class Violation:
    """The first violation found and its minimal reproducer."""

    invariant: str
    message: str
    where: dict[str, Any]
    events: list[dict[str, Any]]
    found_in: str                               # "the scenario as written" or the perturbation
    reproducer: Path | None = None
    reproducer_text: str = ""
    reproduced: bool = False


@dataclass
class CheckReport:
    """What :func:`check_scenario` did and found."""

    scenario: str
    base_events: int
    variants: int
    seed: int
    invariants: list[str]
    violation: Violation | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.violation is None

    def text(self) -> str:
        """The report as ``flowsim check`` prints it."""
        head = (f"checked {self.scenario} as written and {self.variants} perturbed variants of its "
                f"{self.base_events} events (seed {self.seed}; shrinking included) against "
                f"{len(self.invariants)} invariants: {', '.join(self.invariants)}")
        v = self.violation
        if v is None:
            return head + "\nno violation found"
        lines = [head, f"VIOLATION of {v.invariant}: {v.message}", f"  found in: {v.found_in}",
                 f"  minimal reproducer: {len(v.events)} event{'s' if len(v.events) != 1 else ''}"]
        if v.reproducer is not None:
            lines.append(f"  written to {v.reproducer}; replay it with `flowsim run {v.reproducer}` "
                         f"or `flowsim check {v.reproducer}`")
        lines.append(f"  the reproducer {'reproduces' if v.reproduced else 'does NOT reproduce'} the violation")
        return "\n".join(lines + self.notes)

    def raise_if_violated(self) -> None:
        """Raise :class:`InvariantError` with the report when a violation was found."""
        if self.violation is not None:
            raise InvariantError(self.violation.invariant, self.text(), **self.violation.where)


# -- the scenario's events ------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and tuples turned into plain YAML-safe Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def base_events(scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's traffic from its seed, as explicit event dicts in arrival order."""
    out = []
    for e in merge(list(scenario.traffic), Streams(scenario.seed), scenario.horizon):
        spec: dict[str, Any] = {"at": float(e.at), "name": e.name, "data": _plain(e.data), "id": e.id}
        if e.ts != e.at:
            spec["ts"] = float(e.ts)
        if e.user:
            spec["user"] = _plain(e.user)
        if e.durations:
            spec["durations"] = _plain(e.durations)
        out.append(spec)
    return out


def variant(raw: Mapping[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The scenario data with its traffic replaced by ``events`` (and no variants)."""
    data = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("traffic", "variants")}
    data["traffic"] = [{"name": "reproducer", "events": [dict(e) for e in events]}]
    return data


def _failure(scenario: Mapping[str, Any] | Scenario, only: list[str]) -> InvariantError | None:
    """Simulate the scenario (data or loaded) and check it: the violation, or ``None``."""
    try:
        if not isinstance(scenario, Scenario):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScenarioWarning)
                scenario = load_scenario(scenario)
        check_all(flowsim.simulate(scenario), only)
    except InvariantError as exc:
        return exc
    except ScenarioError:
        raise
    except Exception as exc:                    # the simulator itself failed: a finding too
        return InvariantError("crash", f"{type(exc).__name__}: {exc}")
    return None


# -- perturbations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Perturbation:
    """One drawn change of the base events; every field's simplest value means "none"."""

    start: int
    length: int
    compress: float
    jitter: float
    rng_seed: int
    bursts: tuple[tuple[int, int, float], ...]
    skew: str
    skew_share: float
    ts_offsets: tuple[tuple[int, float], ...]
    duplicate_ids: tuple[tuple[int, int], ...]

    def describe(self) -> str:
        parts = [f"events {self.start}..{self.start + self.length - 1} of the scenario's traffic"]
        if self.compress != 1:
            parts.append(f"gaps x{self.compress:g}")
        if self.jitter:
            parts.append(f"jitter ±{self.jitter:g}s")
        if self.bursts:
            parts.append("bursts " + ", ".join(f"event #{i} x{n} within {s:g}s" for i, n, s in self.bursts))
        if self.skew != "none" and self.skew_share:
            parts.append(f"key skew {self.skew} on {self.skew_share:.0%} of events")
        if self.ts_offsets:
            parts.append("ts offsets " + ", ".join(f"#{i} {o:+g}s" for i, o in self.ts_offsets))
        if self.duplicate_ids:
            parts.append("duplicate ids " + ", ".join(f"#{j} takes #{i}'s" for i, j in self.duplicate_ids))
        return "; ".join(parts)


@st.composite
def perturbations(draw: st.DrawFn, n: int, max_events: int = DEFAULT_MAX_EVENTS) -> Perturbation:
    """Perturbations of a base list of ``n`` events (see the module doc)."""
    length = draw(st.integers(1, max(1, min(n, max_events))))
    start = draw(st.integers(0, max(0, n - length)))
    index = st.integers(0, length - 1)
    return Perturbation(
        start=start, length=length,
        compress=draw(st.sampled_from([1.0, 0.5, 0.1])),
        jitter=draw(st.sampled_from([0.0, 0.001, 0.1, 1.0])),
        rng_seed=draw(st.integers(0, 2 ** 32 - 1)),
        bursts=tuple(draw(st.lists(st.tuples(index, st.integers(1, 20), st.sampled_from([0.0, 0.01, 0.5])),
                                   max_size=3))),
        skew=draw(st.sampled_from(["none", "hot", "spread"])),
        skew_share=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        ts_offsets=tuple(draw(st.lists(st.tuples(index, st.sampled_from([-5.0, -1.0, -0.1, 0.1, 1.0, 5.0])),
                                       max_size=5))),
        duplicate_ids=tuple(draw(st.lists(st.tuples(index, index), max_size=3))),
    )


def apply(base: list[dict[str, Any]], p: Perturbation, horizon: float) -> list[dict[str, Any]]:
    """The event list ``p`` makes of ``base`` (sorted by ``at``, all before ``horizon``)."""
    rng = np.random.default_rng(p.rng_seed)
    window = copy.deepcopy(base[p.start:p.start + p.length])
    if not window:
        return []
    t0 = window[0]["at"]
    hot = copy.deepcopy(window[0]["data"])
    for i, e in enumerate(window):
        offset = e.get("ts", e["at"]) - e["at"]
        at = t0 + (e["at"] - t0) * p.compress
        if p.jitter:
            at = max(0.0, at + float(rng.uniform(-p.jitter, p.jitter)))
        e["at"] = at
        if "ts" in e:
            e["ts"] = at + offset
        if p.skew != "none" and p.skew_share and rng.random() < p.skew_share:
            if p.skew == "hot":
                e["data"] = copy.deepcopy(hot)
            else:
                e["data"] = {k: (f"{v}-{i}" if isinstance(v, str) else v) for k, v in e["data"].items()}
    for i, off in p.ts_offsets:
        window[i]["ts"] = window[i]["at"] + off
    for i, j in p.duplicate_ids:
        window[j]["id"] = window[i]["id"]
    extra = []
    for k, (i, copies, spread) in enumerate(p.bursts):
        for c in range(copies):
            e = copy.deepcopy(window[i])
            e["id"] = f"{e['id']}~b{k}.{c}"
            shift = float(rng.uniform(0.0, spread)) if spread else 0.0
            e["at"] += shift
            if "ts" in e:
                e["ts"] += shift
            extra.append(e)
    events = sorted(window + extra, key=lambda e: e["at"])
    return [e for e in events if e["at"] < horizon]


# -- minimisation ---------------------------------------------------------------------------------

def minimize(events: list[dict[str, Any]], fails: Callable[[list[dict[str, Any]]], bool],
             budget: int = MINIMIZE_BUDGET) -> list[dict[str, Any]]:
    """Delta debugging (ddmin): a sub-list of ``events`` on which ``fails`` still holds, and
    from which no single event can be dropped, unless the budget of calls runs out first."""
    calls = 0
    n = 2
    while len(events) >= 2 and calls < budget:
        size = -(-len(events) // n)
        chunks = [events[i:i + size] for i in range(0, len(events), size)]
        reduced = False
        for k in range(len(chunks)):
            rest = [e for j, c in enumerate(chunks) if j != k for e in c]
            calls += 1
            if rest and fails(rest):
                events, n, reduced = rest, max(n - 1, 2), True
                break
            if calls >= budget:
                break
        if not reduced:
            if n >= len(events):
                break
            n = min(len(events), 2 * n)
    return events


# -- the check -------------------------------------------------------------------------------------

def _load(scenario: str | os.PathLike[str] | Mapping[str, Any] | Scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        return load_scenario(scenario)


def reproducer_yaml(sc: Scenario, violation: Violation) -> str:
    """The reproducer scenario file's text, with a header saying what it shows."""
    data = {"name": f"{sc.name}-violation",
            "description": (f"Reproducer written by `flowsim check` for a violation of {violation.invariant} in "
                            f"{sc.name}: {violation.message}")}
    data.update((k, v) for k, v in variant(sc.raw, violation.events).items() if k not in data)
    body = yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, width=100)
    header = "".join(f"# {line}\n" for line in [
        f"A minimal reproducer written by `flowsim check` for scenario {sc.name}"
        + (f" ({sc.file})" if sc.file and sc.file != "<dict>" else "") + ".",
        f"Violation of {violation.invariant}: {violation.message}",
        f"Found in: {violation.found_in}.",
        "The traffic is the minimal explicit event list that still breaks the invariant;",
        "everything else is the original scenario. Replay: flowsim run THIS_FILE; check: flowsim check THIS_FILE.",
    ])
    return header + body


def check_scenario(scenario: str | os.PathLike[str] | Mapping[str, Any] | Scenario, *, examples: int | None = None,
                   seed: int = 0, max_events: int = DEFAULT_MAX_EVENTS, out: str | os.PathLike[str] | None = None,
                   invariants: Iterable[str] | None = None, minimize_budget: int = MINIMIZE_BUDGET) -> CheckReport:
    """Check ``scenario`` (a YAML path, a dict or a loaded :class:`Scenario` that kept its
    ``raw`` data) as written and under ``examples`` perturbed variants of its traffic
    (default: the current Hypothesis profile's ``max_examples``); stop at the first
    violation, minimise it and, with ``out``, write the reproducer scenario there.

    Call it from a plain test or script, not from inside a Hypothesis test.
    """
    sc = _load(scenario)
    if sc.raw is None:
        raise ValueError("check_scenario needs a scenario loaded from YAML or a dict (Scenario.raw is empty)")
    only = list(invariants) if invariants is not None else list(INVARIANTS)
    unknown = [n for n in only if n not in INVARIANTS]
    if unknown:
        raise ValueError(f"unknown invariants {unknown}; known: {', '.join(INVARIANTS)}")
    n_examples = examples if examples is not None else settings().max_examples
    base = base_events(sc)
    report = CheckReport(scenario=sc.name, base_events=len(base), variants=0, seed=seed, invariants=only)

    violation: Violation | None = None
    as_written = _failure(variant(sc.raw, base), only)
    if as_written is not None:
        violation = Violation(as_written.invariant, as_written.message, as_written.where, base,
                              "the scenario as written (its own traffic)")
    elif base and n_examples > 0:
        found: list[tuple[InvariantError, list[dict[str, Any]], Perturbation]] = []
        counter = [0]

        @settings(max_examples=n_examples, database=None, deadline=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.generate, Phase.shrink), print_blob=False)
        @hseed(seed)
        @given(perturbations(len(base), max_events))
        def probe(p: Perturbation) -> None:
            counter[0] += 1
            events = apply(base, p, sc.horizon)
            failure = _failure(variant(sc.raw, events), only)
            if failure is not None:
                found.append((failure, events, p))
                raise failure

        try:
            probe()
        except InvariantError:
            pass
        report.variants = counter[0]
        if found:
            failure, events, p = found[-1]         # Hypothesis replays the minimal example last
            violation = Violation(failure.invariant, failure.message, failure.where, events,
                                  f"a perturbed variant: {p.describe()}")
    if violation is None:
        return report

    def still_fails(events: list[dict[str, Any]]) -> bool:
        f = _failure(variant(sc.raw, events), only)
        return f is not None and f.invariant == violation.invariant

    violation.events = minimize(violation.events, still_fails, minimize_budget)
    last = _failure(variant(sc.raw, violation.events), only)
    if last is not None:
        violation.message, violation.where = last.message, last.where
    text = reproducer_yaml(sc, violation)
    violation.reproducer_text = text
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        violation.reproducer = path
    data, source = load_yaml(text, str(violation.reproducer or "<reproducer>"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        again = _failure(parse_scenario(data, source), only)
    violation.reproduced = again is not None and again.invariant == violation.invariant
    report.violation = violation
    return report

