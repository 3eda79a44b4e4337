"""Overrides: changing any field of a scenario by a dotted path (``--set``, ``variants:``).

A path names a field of the scenario as written, one dotted segment per level:
``account.concurrency``, ``traffic.0.arrivals.poisson.rate``,
``functions.user-sync.concurrency.0.limit``. A list item is addressed by its index or,
in a list of mappings with an ``id`` (the functions), by that id. As the loader does, a
single value stands for a one-item list, so ``concurrency.0.limit`` also reaches
``concurrency: {limit: 5}``. Missing mapping fields are created, so an override can add
a mechanism to a function that has none. A value set to ``null`` removes the field.

Values on the command line are YAML scalars or flow collections (``5``, ``2s``, ``true``,
``{limit: 3, key: event.data.user_id}``), exactly as they would be written in the file.

A scenario may declare named variants, each a mapping of path → value::

    variants:
      tight: {functions.user-sync.concurrency.0.limit: 1}
      loose: {functions.user-sync.concurrency.0.limit: 5, account.concurrency: 50}

Overrides are applied to a deep copy of the parsed YAML, in order (the command line's
``--set`` first, then the variant, then a sweep's point), and the copy is validated again
with the file's line map. An error inside an overridden value names the override
(``--set functions.f.concurrency``, or the variant's line in the file); an error that an
override causes elsewhere keeps its own place and says which overrides were applied.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import yaml

from flowsim.errors import ScenarioError, ScenarioWarning
from flowsim.scenario.source import Node, Path, Source, format_path

BASE = "base"   # the name of the scenario without a variant


class OverrideError(ScenarioError):
    """Bad input located at an override (its path or value) rather than in the file."""


@dataclass(frozen=True)
class Override:
    """Set ``path`` to ``value``; ``origin`` says who asked (``--set``, ``variants.fast``...)."""

    path: str
    value: Any
    origin: str = "--set"
    line: int | None = None

    @property
    def label(self) -> str:
        """How errors name this override: ``--set functions.f.concurrency``."""
        return f"{self.origin} {self.path}"

    def describe(self) -> str:
        """``--set functions.f.concurrency=5``, for messages."""
        return f"{self.label}={yaml.safe_dump(self.value, default_flow_style=True).strip().removesuffix('...').strip()}"


def parse_assignment(text: str, origin: str = "--set") -> Override:
    """``PATH=VALUE`` from the command line; the value is parsed as YAML."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(f"expected PATH=VALUE, got {text!r}", field=origin)
    check_path(path, origin)
    return Override(path, parse_value(value, f"{origin} {path}"), origin)


def parse_value(text: str, where: str) -> Any:
    """A command-line value as YAML would read it (``5`` → 5, ``2s`` → "2s", ``{limit: 3}``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"invalid value {text!r}: {problem}", field=where) from None


def check_path(path: str, where: str) -> None:
    """A path is non-empty dotted segments (``a.b.0.c``)."""
    if not path or any(not seg.strip() for seg in path.split(".")):
        raise ScenarioError(f"expected a dotted field path such as functions.my-fn.concurrency.0.limit, "
                            f"got {path!r}", field=where)


def variants_of(raw: Any, source: Source) -> dict[str, tuple[Override, ...]]:
    """The scenario's ``variants:`` as name → overrides, checked for shape (not yet applied)."""
    node = Node(raw.get("variants") if isinstance(raw, dict) else None, ("variants",), source)
    if node.value is None:
        return {}
    out: dict[str, tuple[Override, ...]] = {}
    for name, vnode in node.items():
        if not isinstance(name, str) or not name:
            raise vnode.error("a variant name must be a non-empty string")
        if name == BASE:
            raise vnode.error(f"{BASE!r} names the scenario without a variant; choose another name")
        overrides = []
        for path, pnode in vnode.items():
            if not isinstance(path, str):
                raise pnode.error(f"expected a dotted field path such as functions.my-fn.concurrency.0.limit, "
                                  f"got {path!r}")
            try:
                check_path(path, "")
            except ScenarioError as exc:
                raise pnode.error(exc.message) from None
            overrides.append(Override(path, pnode.value, f"variants.{name}", source.line(pnode.path)))
        out[name] = tuple(overrides)
    return out


def check_variants(raw: Any, source: Source) -> None:
    """Apply and validate every variant of a scenario (called by the loader).

    Warnings are left to the analysis that runs the variants, which shows only new ones.
    """
    for overrides in variants_of(raw, source).values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            build_scenario(raw, source, overrides)


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[Override],
                    file: str | None = None) -> tuple[dict[str, Any], list[Path]]:
    """A deep copy of ``raw`` without ``variants``, with every override set, and the path each reached."""
    data = copy.deepcopy(dict(raw))
    data.pop("variants", None)
    reached = []
    for ov in overrides:
        data, path = _assign(data, ov.path.split("."), (), ov, file)
        reached.append(path)
    return data, reached


def build_scenario(raw: Mapping[str, Any], source: Source, overrides: Sequence[Override]) -> Any:
    """The validated :class:`~flowsim.scenario.model.Scenario` of ``raw`` with ``overrides`` applied."""
    from flowsim.scenario.load import parse_scenario
    data, reached = apply_overrides(raw, overrides, source.file)
    located = _OverrideSource(source.file, source.lines, tuple(zip(reached, overrides)))
    try:
        return parse_scenario(data, located)
    except OverrideError:
        raise
    except ScenarioError as exc:
        if not overrides:
            raise
        applied = ", ".join(ov.describe() for ov in overrides)
        raise ScenarioError(f"{exc.message} (with {applied})", file=exc.file, line=exc.line,
                            field=exc.field) from None


@dataclass
class _OverrideSource(Source):
    """A line map that attributes errors under an overridden path to the override."""

    overrides: tuple[tuple[Path, Override], ...] = field(default=())

    def error(self, path: Path, message: str) -> ScenarioError:
        for reached, ov in reversed(self.overrides):      # the last override of a field wins
            if path[:len(reached)] == reached:
                where = ov.label if path == reached else f"{ov.label} ({format_path(path)})"
                return OverrideError(message, file=self.file, line=ov.line, field=where)
        return super().error(path, message)


def _assign(node: Any, segments: list[str], done: Path, ov: Override, file: str | None) -> tuple[Any, Path]:
    """``node`` with ``segments`` set to the override's value, and the path that was reached."""
    if not segments:
        return copy.deepcopy(ov.value), done
    seg, rest = segments[0], segments[1:]
    if isinstance(node, list):
        i = _list_index(node, seg, done, ov, file)
        node[i], path = _assign(node[i], rest, done + (i,), ov, file)
        return node, path
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise _error(ov, file, f"{format_path(done) or 'the scenario'} is {node!r}, which has no field {seg!r}")
    key = _dict_key(node, seg)
    if key is None and seg == "0":          # a single value stands for a one-item list
        return _assign(node, rest, done, ov, file)
    if key is None:
        key = seg
    node[key], path = _assign(node.get(key), rest, done + (key,), ov, file)
    return node, path


def _dict_key(node: dict, seg: str) -> Any:
    """The key ``seg`` names: itself, or the YAML scalar it spells (``true``, ``1``)."""
    if seg in node:
        return seg
    try:
        alt = yaml.safe_load(seg)
        return alt if alt in node else None
    except (yaml.YAMLError, TypeError):
        return None


def _list_index(node: list, seg: str, done: Path, ov: Override, file: str | None) -> int:
    where = format_path(done)
    if seg.isdigit():
        i = int(seg)
        if i >= len(node):
            raise _error(ov, file, f"index {i} is out of range: {where} has {len(node)} item(s)")
        return i
    ids = [item.get("id") for item in node if isinstance(item, dict)]
    if seg in ids:
        return ids.index(seg)
    known = ", ".join(str(i) for i in ids if i is not None)
    raise _error(ov, file, f"{where} has no item with id {seg!r}" + (f" (ids: {known})" if known
                                                                     else "; use an index"))


def _error(ov: Override, file: str | None, message: str) -> OverrideError:
    return OverrideError(message, file=file, line=ov.line, field=ov.label)
