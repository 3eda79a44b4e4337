"""Reading user configuration with its line numbers, and a small reader for validation.

``load_yaml`` parses with PyYAML's ``SafeLoader`` (nothing but plain data can be
built) and keeps, beside the data, the line of every mapping key and list item, so
that any error can point at the exact place. ``Node`` wraps one value with its path
and offers the checks every parser repeats: allowed keys, types, durations, rates and
CEL expressions, each failing with a :class:`~flowsim.errors.ScenarioError` that names
file, line, field and what was expected.
"""
from __future__ import annotations

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


@dataclass
class Source:
    """Where a configuration came from: a file name (or ``<dict>``) and a line map."""

    file: str | None = None
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path, message: str) -> ScenarioError:
        return ScenarioError(message, file=self.file, line=self.line(path), field=format_path(path) or None)


def load_yaml(text: str, file: str | None = None) -> tuple[Any, Source]:
    """Parse YAML safely, returning the data and a :class:`Source` with line numbers."""
    source = Source(file)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, source
            _index(node, (), source, loader)
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
    return data, source


def _index(node: yaml.Node, path: Path, source: Source, loader: yaml.SafeLoader) -> None:
    lines = source.lines
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ScenarioError("mapping keys must be plain values", file=source.file,
                                    line=key_node.start_mark.line + 1) from None
            if key in seen:
                raise ScenarioError(f"duplicate key {key!r} (first at line {seen[key]})", file=source.file,
                                    line=key_node.start_mark.line + 1, field=format_path(path + (key,)))
            seen[key] = key_node.start_mark.line + 1
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index(value_node, path + (key,), source, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _index(item, path + (i,), source, loader)


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
    def mapping(self, allowed: Iterable[str] | None = None, required: Iterable[str] = ()) -> dict:
        """Require a mapping whose keys are among ``allowed`` and include ``required``."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_describe(self.value)}")
        if allowed is not None:
            allowed = list(allowed)
            for key in self.value:
                if key not in allowed:
                    raise Node(None, self.path + (key,), self.source).error(
                        f"unknown field {key!r}; allowed: {', '.join(allowed)}")
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
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(f"expected a number, got {_describe(v)}")
        _check_range(self, float(v), minimum, maximum)
        return float(v)

    def bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_describe(self.value)}")
        return self.value

    def choice(self, options: Iterable[str]) -> str:
        options = list(options)
        if self.value not in options:
            raise self.error(f"expected one of {', '.join(options)}, got {_describe(self.value)}")
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


def _fmt_seconds(v: float) -> str:
    from flowsim.units import format_duration
    return format_duration(v)


def _check_range(node: Node, v: float, minimum: float | None, maximum: float | None,
                 what: str = "value", fmt: Callable[[float], str] = lambda x: f"{x:g}") -> None:
    if minimum is not None and v < minimum:
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
