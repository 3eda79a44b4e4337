"""Reading user configuration with its line numbers, and a small reader for validation.

``load_yaml`` parses with PyYAML's ``SafeLoader`` (nothing but plain data can be
built) and keeps, beside the data, the line of every mapping key and list item, so
that any error can point at the exact place. ``Node`` wraps one value with its path
and offers the checks every parser repeats: allowed keys, types, durations, rates and
CEL expressions, each failing with a :class:`~flowsim.errors.ScenarioError` that names
file, line, field and what was expected.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import yaml

from flowsim.errors import ScenarioError
from flowsim.units import parse_duration, parse_rate

if TYPE_CHECKING:
    from flowsim.expr import Expr

Path = tuple[Any, ...]


def format_path(path: Path) -> str:
    """``("functions", 0, "concurrency")`` → ``functions[0].concurrency``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class LineMap(dict):
    """Lines by path, plus ``aliases``: where a YAML alias (or merged value) was first read.

    A node used again through an alias (``*name``, or ``<<: *name``) is indexed once, at its
    first path; ``aliases`` maps each later path to that first one, so that a line under
    an alias is still found without indexing the aliased value again.
    """

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[Path, Path] = {}


@dataclass
class Source:
    """Where a configuration came from: a file name (or ``<dict>``) and a line map."""

    file: str | None = None
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one (through aliases)."""
        lines = self.lines
        aliases = getattr(lines, "aliases", None)
        for _ in range(100):                    # each step leaves one alias; a bound for safety
            for n in range(len(path), -1, -1):
                prefix = path[:n]
                if aliases and n < len(path) and prefix in aliases:
                    path = aliases[prefix] + path[n:]
                    break
                if prefix in lines:
                    return lines[prefix]
            else:
                return None
        return None

    def error(self, path: Path, message: str) -> ScenarioError:
        return ScenarioError(message, file=self.file, line=self.line(path), field=format_path(path) or None)


def load_yaml(text: str, file: str | None = None) -> tuple[Any, Source]:
    """Parse YAML safely, returning the data and a :class:`Source` with line numbers.

    Anchors and aliases are read as ``yaml.safe_load`` reads them (an aliased value is
    shared, not copied), and so are merge keys (``<<: *defaults``: the merged mapping's
    keys, explicit keys winning). A value that contains itself through an alias is an error.
    """
    source = Source(file, LineMap())
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, source
            _Indexer(source, loader).index(node, ())
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        raise ScenarioError(f"invalid YAML: {problem}", file=file,
                            line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ScenarioError("invalid YAML: nested too deeply", file=file) from None
    return data, source


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Indexer:
    """Records the line of every mapping key and list item, visiting each YAML node once."""

    def __init__(self, source: Source, loader: yaml.SafeLoader) -> None:
        self.source = source
        self.loader = loader
        self.lines = source.lines
        self.aliases: dict[Path, Path] = getattr(source.lines, "aliases", {})
        self.first: dict[int, Path] = {}      # id(node) -> the path it was first indexed at
        self.open: set[int] = set()           # ids of the nodes being indexed (the ancestors)

    def index(self, node: yaml.Node, path: Path) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return
        key = id(node)
        if key in self.open:
            raise ScenarioError("this value contains itself through an alias (a recursive anchor), "
                                "which no scenario field accepts", file=self.source.file,
                                line=self.source.line(path), field=format_path(path) or None)
        if key in self.first:
            self.aliases[path] = self.first[key]
            return
        self.first[key] = path
        self.open.add(key)
        if isinstance(node, yaml.MappingNode):
            for k, (key_node, value_node) in self._entries(node, path).items():
                self.lines[path + (k,)] = key_node.start_mark.line + 1
                self.index(value_node, path + (k,))
        else:
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                self.index(item, path + (i,))
        self.open.discard(key)

    def _entries(self, node: yaml.MappingNode, path: Path) -> dict[Any, tuple[yaml.Node, yaml.Node]]:
        """The mapping's keys as ``safe_load`` builds them: merged keys first, explicit ones win."""
        seen: dict[Any, int] = {}
        has_merge = False
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                has_merge = True
                continue
            k = self._key(key_node)
            if k in seen:
                raise ScenarioError(f"duplicate key {k!r} (first at line {seen[k]})", file=self.source.file,
                                    line=key_node.start_mark.line + 1, field=format_path(path + (k,)))
            seen[k] = key_node.start_mark.line + 1
        if has_merge:
            # PyYAML's own merge: replaces the << entries by the merged mappings' entries, in
            # front of the explicit ones (raises a MarkedYAMLError for a value that is no mapping)
            self.loader.flatten_mapping(node)
        entries: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            entries[self._key(key_node)] = (key_node, value_node)    # later entries win, as in a dict
        return entries

    def _key(self, key_node: yaml.Node) -> Any:
        k = self.loader.construct_object(key_node, deep=True)
        try:
            hash(k)
        except TypeError:
            raise ScenarioError("mapping keys must be plain values", file=self.source.file,
                                line=key_node.start_mark.line + 1) from None
        return k


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "a mapping", list: "a list"}


class Node:
    """One value of the user's configuration, with its path and source for errors."""

    __slots__ = ("value", "path", "source")

    def __init__(self, value: Any, path: Path, source: Source) -> None:
        self.value = value
        self.path = path
        self.source = source

    # -- errors -----------------------------------------------------------------
    def error(self, message: str) -> ScenarioError:
        """A :class:`ScenarioError` located at this node."""
        return self.source.error(self.path, message)

    # -- navigation -------------------------------------------------------------
    def child(self, key: Any) -> "Node":
        return Node(self.value[key] if key in self._container() else None, self.path + (key,), self.source)

    def _container(self) -> Any:
        if isinstance(self.value, dict):
            return self.value
        if isinstance(self.value, list):
            return range(len(self.value))
        return ()

    def __contains__(self, key: Any) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def get(self, key: str) -> "Node | None":
        """The child node, or ``None`` when the key is absent or null."""
        if isinstance(self.value, dict) and self.value.get(key) is not None:
            return Node(self.value[key], self.path + (key,), self.source)
        return None

    def items(self) -> Iterator[tuple[Any, "Node"]]:
        for k, v in self.mapping().items():
            yield k, Node(v, self.path + (k,), self.source)

    def elements(self) -> list["Node"]:
        """Children of a list (a single non-list value counts as a one-item list)."""
        if isinstance(self.value, list):
            return [Node(v, self.path + (i,), self.source) for i, v in enumerate(self.value)]
        return [self]

    # -- type checks ------------------------------------------------------------
    def mapping(self, allowed: Iterable[str] | None = None, required: Iterable[str] = (),
                expected: str | None = None) -> dict:
        """Require a mapping whose keys are among ``allowed`` and include ``required``.

        ``expected`` words what the field accepts when it is not a mapping, for a field that
        also takes other forms (``"an integer limit or a mapping with limit, key, scope"``);
        by default the message says "expected a mapping".
        """
        if not isinstance(self.value, dict):
            raise self.error(f"expected {expected or 'a mapping'}, got {_describe(self.value)}")
        if allowed is not None:
            allowed = list(allowed)
            for key in self.value:
                if key not in allowed:
                    raise Node(None, self.path + (key,), self.source).error(
                        f"unknown field {key!r}; allowed: {', '.join(allowed)}{did_you_mean(key, allowed)}")
        for key in required:
            if self.value.get(key) is None:
                raise self.error(f"missing required field {key!r}")
        return self.value

    def list(self) -> list:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_describe(self.value)}")
        return self.value

    def str(self) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.error(f"expected a non-empty string, got {_describe(self.value)}")
        return self.value

    def int(self, minimum: int | None = None, maximum: int | None = None) -> int:
        v = self.value
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(f"expected an integer, got {_describe(self.value)}")
        _check_range(self, v, minimum, maximum)
        return v

    def number(self, minimum: float | None = None, maximum: float | None = None) -> float:
        """A finite number (NaN and infinities are refused: no field gives them a meaning)."""
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(f"expected a number, got {_describe(v)}")
        try:
            f = float(v)
        except OverflowError:                   # an integer too large for a float
            raise self.error(f"expected a finite number, got {v}") from None
        if not math.isfinite(f):
            raise self.error(f"expected a finite number, got {_yaml_float(f)}")
        _check_range(self, f, minimum, maximum)
        return f

    def bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_describe(self.value)}")
        return self.value

    def choice(self, options: Iterable[str]) -> str:
        options = list(options)
        if self.value not in options:
            raise self.error(f"expected one of {', '.join(options)}, got {_describe(self.value)}"
                             f"{did_you_mean(self.value, options) if isinstance(self.value, str) else ''}")
        return self.value

    def duration(self, minimum: float | None = None, maximum: float | None = None,
                 what: str = "duration") -> float:
        try:
            seconds = parse_duration(self.value)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        _check_range(self, seconds, minimum, maximum, what=what, fmt=_fmt_seconds)
        return seconds

    def rate(self) -> float:
        try:
            return parse_rate(self.value)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def expr(self, invalid: str = "invalid expression: {error}") -> "Expr":
        """Compile the CEL expression at this node, once (:func:`flowsim.expr.compile_expr`).

        A syntax error becomes an error here, worded by ``invalid`` with the placeholders
        ``{text}`` (the expression) and ``{error}`` (what is wrong), so that each
        mechanism keeps Inngest's message for its own field.
        """
        from flowsim.expr import compile_expr
        text = self.str()
        try:
            return compile_expr(text)
        except ValueError as exc:
            raise self.error(invalid.format(text=text, error=exc)) from None

    def convert(self, fn: Callable[[Any], Any]) -> Any:
        """Apply ``fn``; a ``ValueError`` it raises becomes an error at this node."""
        try:
            return fn(self.value)
        except ValueError as exc:
            raise self.error(str(exc)) from None


def did_you_mean(given: Any, known: Iterable[str]) -> str:
    """``"; did you mean `rateLimit`?"`` for the known name closest to ``given`` (difflib's
    similarity, ignoring case, so ``ratelimit`` and ``rateLimt`` both find it), or ``""``."""
    by_lower: dict[str, str] = {}
    for name in known:
        by_lower.setdefault(str(name).lower(), str(name))
    close = difflib.get_close_matches(str(given).lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean `{by_lower[close[0]]}`?" if close else ""


def _fmt_seconds(v: float) -> str:
    """A duration for a message; below a millisecond in µs or ns (``1e-06ms`` reads badly)."""
    from flowsim.units import format_duration
    if 0 < abs(v) < 1e-3:
        return f"{v * 1e6:g}µs" if abs(v) >= 1e-6 else f"{v * 1e9:g}ns"
    return format_duration(v)


def _yaml_float(v: float) -> str:
    """NaN and infinities as YAML spells them (``.nan``, ``.inf``, ``-.inf``)."""
    if v != v:
        return ".nan"
    return ".inf" if v > 0 else "-.inf"


# A lower bound at or below this is "more than zero" in words: durations are positive to
# make sense (a horizon, a timeout) and the bound only rules out 0 (1 ns, 1 µs in callers).
_TINY = 1e-6


def _check_range(node: Node, v: float, minimum: float | None, maximum: float | None,
                 what: str = "value", fmt: Callable[[float], str] = lambda x: f"{x:g}") -> None:
    if v != v:
        raise node.error(f"{what} must be a number, got {_yaml_float(v)}")
    if minimum is not None and v < minimum:
        if 0 < minimum <= _TINY and v <= 0:
            raise node.error(f"{what} must be greater than 0, got {fmt(v)}")
        raise node.error(f"{what} must be at least {fmt(minimum)}, got {fmt(v)}")
    if maximum is not None and v > maximum:
        raise node.error(f"{what} must be at most {fmt(maximum)}, got {fmt(v)}")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    for t, name in _TYPE_NAMES.items():
        if type(value) is t:
            return f"{name[2:] if name.startswith('a ') else name} {value!r}" if t in (str, int, float) else name
    return repr(value)
