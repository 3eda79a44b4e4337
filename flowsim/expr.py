"""CEL expressions evaluated with Inngest's rules, compiled to Python closures (spec §2.1).

Inngest evaluates every key, priority and ``if`` expression as CEL against
``{"event": <event map>}`` (plus ``async`` for waitForEvent/cancelOn matches), but not with
CEL's defaults: ``pkg/expressions`` evaluates with a partial activation in which every
attribute path missing from the data is *unknown*, and a decorator
(``pkg/expressions/unknown.go``) gives unknowns and loose typing fixed meanings. This module
reproduces those meanings:

* A missing attribute (or a selection on a non-map, or through ``null``) is *unknown*. An
  expression whose result is unknown evaluates to ``false``. Inside operators and functions:
  ``+`` returns the other operand (``event.data.a + '-' + event.data.missing`` is ``"a-"``;
  unknown + unknown is ``false``); ``==`` is true only against ``null``, ``!=`` the reverse;
  ``<``/``<=`` are true and ``>``/``>=`` false when the *left* operand is unknown (the
  opposite when only the right one is); ``size()`` gives 0; every other operator or function
  (``!``, ``-``, ``in``, ``startsWith``, ``string()``, ...) gives ``false``. A ternary whose
  condition is unknown is unknown; a list or map literal containing one is unknown.
* An error inside an operand of an operator or function is treated like an unknown; an error
  that reaches the top, or the condition of a ternary, is an :class:`ExprEvalError`.
* ``||`` and ``&&`` on operands that are not all booleans use JavaScript truthiness: ``||``
  returns the first truthy operand, else the last; ``&&`` the first falsy, else the last.
  Unknown, errors, ``null``, ``false``, ``""`` and ``0`` are falsy; lists and maps are truthy.
* Operands of different types: ``+`` concatenates their Go ``%v`` forms (``'n' + 1`` is
  ``"n1"``; flowsim writes ``null`` as ``<nil>`` like :func:`key_string`, where cel-go's null
  would print ``NULL_VALUE`` [UNCONFIRMED]); ``null`` compared or combined with an int, double
  or string acts as its zero value (``null > 0`` is false, ``3.1 > null`` true); ``==``
  between different types is false, except that ints and doubles compare by value
  (``n == 3`` for n = 3.0).
* ``has(e.f)`` is true when the field is present and unknown when it is not: the presence
  test is matched against the same unknown patterns [UNCONFIRMED: read from cel-go's
  attribute matching, not run].

One deliberate departure, asked for by flowsim: arithmetic mixing an int and a double is done
on the numbers (``n + 1`` with n = 2.5 gives 3.5). cel-go has no mixed int/double arithmetic,
so Inngest's decorator falls through to string concatenation (``"2.51"``) for ``+`` and to an
error for ``- * /``; reproducing that would make ``event.data.count + 1`` a string for every
JSON number.

Numbers keep the Python type they arrive with: data ints stay ints (Inngest would see JSON
float64s), integer literals in the expression stay ints, so ``event.data.vip ? 120 : 0`` gives
the int 120 a priority needs. Results leave as plain Python values; lists and maps may be the
event's own objects and must not be mutated.

**Fast path.** The parse tree comes from cel-python's parser, so the accepted syntax is
exactly cel-python's. Field selection, indexing, literals, list and map literals, all
operators (``== != < <= > >= in + - * / % ! -``, ``&& ||``, ternary), ``has``, ``size``,
``dyn``, ``string``/``int``/``double``, ``startsWith``/``endsWith``/``contains``, and
Inngest's ``lowercase``/``uppercase`` become Python closures (about 0.1-1 µs per evaluation).

**Fallback.** Anything else (the macros ``all``/``exists``/``exists_one``/``map``/``filter``,
``matches``, ``bool``, ``uint`` and bytes literals, timestamps and durations, ...) is evaluated
by cel-python's interpreter: the smallest enclosing operand of a ternary, ``&&`` or ``||``
(or the whole expression) is handed to it with the activation wrapped by
``celpy.json_to_cel``. Its "no such member/key", "does not support field selection" and
"undeclared reference" errors become unknown; inside that operand cel-python's own typing
applies (a missing field anywhere in it makes the whole operand unknown, ints and doubles do
not mix), and a timestamp, duration or bytes value may not leave it. It costs 50-300 µs plus
the conversion of the activation.

**Checked when compiling** (Inngest rejects these when a function is registered): syntax, and
references to names Inngest does not declare: variables other than ``event``, ``async``,
``user``, ``steps``, ``response``, ``actions``, ``action``, and unknown functions. Inngest's
``b64decode``, ``json_parse``, ``date`` and the clock functions ``now*`` are refused: flowsim
does not implement them and reading a clock would break determinism. Also refused: a
``matches()`` pattern written as a string literal that RE2 (cel-python's engine) cannot
compile, and a parse tree deeper than :data:`MAX_TREE_DEPTH` (Python's recursion limit).
"""
from __future__ import annotations

import itertools
import math
import numbers
import operator
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from flowsim.errors import FlowsimError

__all__ = ["Expr", "ExprEvalError", "ExprSyntaxError", "compile_expr", "is_true", "key_string", "key_value"]


class ExprSyntaxError(FlowsimError, ValueError):
    """The text is not a CEL expression Inngest would accept (raised by :func:`compile_expr`)."""


class ExprEvalError(FlowsimError):
    """Evaluation failed for a reason other than a missing field (e.g. ``'a' < 1``, ``1 / 0``)."""


class _Missing:
    """The unknown value of a missing attribute; becomes ``False`` when it is the result."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()

Activation = Mapping[str, Any]
_Fn = Callable[[Activation], Any]

# Names Inngest declares (pkg/expressions/env.go); anything else fails to compile there.
_VARIABLES = frozenset({"event", "async", "user", "steps", "response", "actions", "action"})
_TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map",
                         "null_type", "type"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_REFUSED = frozenset({"b64decode", "json_parse", "date", "now", "now_plus", "now_minus"})
_I64_MIN, _I64_MAX = -(2 ** 63), 2 ** 63 - 1


# --- values ---------------------------------------------------------------------------------

_BASE_KINDS = frozenset({bool, int, float, str, type(None), list, dict, _Missing})


def _kind(v: Any) -> type:
    """The CEL type of a value, as the Python base class (``numpy.float64`` -> ``float``)."""
    t = type(v)
    if t in _BASE_KINDS:
        return t
    if isinstance(v, str):
        return str
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int
    if isinstance(v, numbers.Real):
        return float
    if isinstance(v, dict):
        return dict
    if isinstance(v, (list, tuple)):
        return list
    return t


_NUMS = (int, float)
_ZERO = {int: 0, float: 0.0, str: ""}   # what null becomes next to these (unknown.go zeroVal)
_ORDERED = (bool, int, float, str)


def _type_name(v: Any) -> str:
    k = _kind(v)
    return {bool: "bool", int: "int", float: "double", str: "string", type(None): "null",
            list: "list", dict: "map"}.get(k, k.__name__)


def _no_overload(op: str, *args: Any) -> ExprEvalError:
    return ExprEvalError(f"no such overload: {op} applied to ({', '.join(map(_type_name, args))})")


def _i64(v: int) -> int:
    if _I64_MIN <= v <= _I64_MAX:
        return v
    raise ExprEvalError("integer overflow")


def _cel_equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: different types are unequal, except int and double."""
    ka, kb = _kind(a), _kind(b)
    if ka is kb:
        if ka is list:
            return len(a) == len(b) and all(map(_cel_equal, a, b))
        if ka is dict:
            return len(a) == len(b) and all(k in b and _cel_equal(v, b[k]) for k, v in a.items())
        return bool(a == b)
    return ka in _NUMS and kb in _NUMS and bool(a == b)


def _truthy(v: Any) -> bool:
    """JavaScript-style truthiness of Inngest's ``||``/``&&`` (unknown.go ``isTruthy``)."""
    if v is True:
        return True
    if v is False or v is None or v is MISSING:
        return False
    k = _kind(v)
    if k is str or k is int or k is float:
        return bool(v)
    return True


# --- operators (each gets operands already evaluated; MISSING stands for unknown) -----------

def _add(a: Any, b: Any) -> Any:
    if a is MISSING:
        return False if b is MISSING else b
    if b is MISSING:
        return a
    ka, kb = _kind(a), _kind(b)
    if ka is kb:
        if ka is str or ka is list:
            return a + b
        if ka is int:
            return _i64(a + b)
        if ka is float:
            return a + b
        raise _no_overload("_+_", a, b)
    if ka in _NUMS and kb in _NUMS:
        return float(a) + float(b)          # flowsim's departure, see the module docstring
    return key_string(a) + key_string(b)    # unknown.go: mixed types concatenate "%v%v"


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise ExprEvalError("division by zero")
    q = abs(a) // abs(b)
    return _i64(q if (a < 0) == (b < 0) else -q)


def _int_mod(a: int, b: int) -> int:
    if b == 0:
        raise ExprEvalError("modulus by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _float_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _arith(name: str, int_op: Callable[[int, int], int],
           float_op: Callable[[float, float], float] | None) -> Callable[[Any, Any], Any]:
    """``- * / %``: unknown gives false, null acts as the other operand's zero."""
    def impl(a: Any, b: Any) -> Any:
        if a is MISSING or b is MISSING:
            return False
        ka, kb = _kind(a), _kind(b)
        if ka is not kb:
            if a is None and kb in _ZERO:
                a, ka = _ZERO[kb], kb
            elif b is None and ka in _ZERO:
                b, kb = _ZERO[ka], ka
        if ka is int and kb is int:
            return int_op(a, b)
        if ka in _NUMS and kb in _NUMS and float_op is not None:
            return float_op(float(a), float(b))
        raise _no_overload(name, a, b)
    return impl


def _order(name: str, op: Callable[[Any, Any], bool], left_unknown: bool) -> Callable[[Any, Any], Any]:
    """``< <= > >=``; ``left_unknown`` is the result when the left operand is unknown."""
    def impl(a: Any, b: Any) -> Any:
        if a is MISSING:
            return left_unknown
        if b is MISSING:
            return not left_unknown
        ka, kb = _kind(a), _kind(b)
        if ka is not kb:
            if a is None and kb in _ZERO:
                a, ka = _ZERO[kb], kb
            elif b is None and ka in _ZERO:
                b, kb = _ZERO[ka], ka
        if (ka is kb and ka in _ORDERED) or (ka in _NUMS and kb in _NUMS):
            return op(a, b)
        raise _no_overload(name, a, b)
    return impl


def _eq(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is None or b is None
    return _cel_equal(a, b)


def _in(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return False
    kb = _kind(b)
    if kb is list:
        return any(_cel_equal(a, x) for x in b)
    if kb is dict:
        if type(a) is str:
            return a in b
        return any(_cel_equal(a, k) for k in b)
    raise _no_overload("@in", a, b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "addition_sub": _arith("_-_", lambda a, b: _i64(a - b), operator.sub),
    "multiplication_mul": _arith("_*_", lambda a, b: _i64(a * b), operator.mul),
    "multiplication_div": _arith("_/_", _int_div, _float_div),
    "multiplication_mod": _arith("_%_", _int_mod, None),
    "relation_lt": _order("_<_", operator.lt, True),
    "relation_le": _order("_<=_", operator.le, True),
    "relation_gt": _order("_>_", operator.gt, False),
    "relation_ge": _order("_>=_", operator.ge, False),
    "relation_in": _in,
}


# --- functions ------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                         re.IGNORECASE)


def _size(v: Any) -> int:
    if v is MISSING:
        return 0
    k = _kind(v)
    if k is str or k is list or k is dict:
        return len(v)
    raise _no_overload("size", v)


def _to_string(v: Any) -> Any:
    k = _kind(v)
    if k is str:
        return v
    if v is None:
        return "null"
    if k in _ORDERED:
        return key_string(v)
    raise _no_overload("string", v)


def _to_int(v: Any) -> Any:
    k = _kind(v)
    if k is int:
        return v
    if k is float:
        if not math.isfinite(v):
            raise ExprEvalError("int() of a non-finite double")
        return _i64(math.trunc(v))
    if k is str and _INT_TEXT.fullmatch(v):
        return _i64(int(v))
    raise _no_overload("int", v)


def _to_double(v: Any) -> Any:
    k = _kind(v)
    if k is float:
        return v
    if k is int:
        return float(v)
    if k is str and _FLOAT_TEXT.fullmatch(v):
        return float(v)
    raise _no_overload("double", v)


def _case(convert: Callable[[str], str]) -> Callable[[Any], Any]:
    """Inngest's ``lowercase``/``uppercase``: a non-string argument gives ``""``."""
    def impl(v: Any) -> Any:
        return convert(v) if _kind(v) is str else ""
    return impl


def _string_test(name: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], Any]:
    def impl(s: Any, x: Any) -> Any:
        if s is MISSING or x is MISSING:
            return False
        if _kind(s) is str and _kind(x) is str:
            return test(s, x)
        raise _no_overload(name, s, x)
    return impl


def _unknown_is_false(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A one-argument function whose unknown argument gives ``false`` (unknown.go default)."""
    def impl(v: Any) -> Any:
        return False if v is MISSING else fn(v)
    return impl


# name -> (number of arguments, implementation taking evaluated arguments)
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "size": (1, _size),
    "string": (1, _unknown_is_false(_to_string)),
    "int": (1, _unknown_is_false(_to_int)),
    "double": (1, _unknown_is_false(_to_double)),
    "lowercase": (1, _unknown_is_false(_case(str.lower))),
    "uppercase": (1, _unknown_is_false(_case(str.upper))),
}
_METHODS: dict[str, tuple[int, Callable[..., Any]]] = {
    "size": (0, _size),
    "startsWith": (1, _string_test("startsWith", str.startswith)),
    "endsWith": (1, _string_test("endsWith", str.endswith)),
    "contains": (1, _string_test("contains", operator.contains)),
}


# --- closures -------------------------------------------------------------------------------

def _const(value: Any) -> _Fn:
    def fn(act: Activation) -> Any:
        return value
    fn.const = (value,)  # type: ignore[attr-defined]
    return fn


def _path(root: str, keys: tuple[str, ...]) -> _Fn:
    """``root.k1.k2...``: unknown as soon as a key is absent or the value is not a map."""
    def fn(act: Activation) -> Any:
        v = act.get(root, MISSING)
        for k in keys:
            if not isinstance(v, dict):
                return MISSING
            v = v.get(k, MISSING)
        return v
    fn.path = (root, keys)  # type: ignore[attr-defined]
    return fn


def _select(operand: _Fn, field: str) -> _Fn:
    def fn(act: Activation) -> Any:
        v = operand(act)
        return v.get(field, MISSING) if isinstance(v, dict) else MISSING
    return fn


def _index(operand: _Fn, key: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        v = operand(act)
        if v is MISSING:
            return MISSING
        k = key(act)
        if k is MISSING:
            return MISSING
        if isinstance(v, dict):
            try:
                return v.get(k, MISSING)
            except TypeError:
                raise _no_overload("_[_]", v, k) from None
        if isinstance(v, (list, tuple)):
            kk = _kind(k)
            if kk is int or (kk is float and float(k).is_integer()):
                i = int(k)
                if 0 <= i < len(v):
                    return v[i]
                raise ExprEvalError(f"index {i} out of range for a list of {len(v)}")
            raise _no_overload("_[_]", v, k)
        return MISSING
    return fn


def _args_call(impl: Callable[..., Any], args: list[_Fn]) -> _Fn:
    """A function call: an error in an argument counts as unknown (unknown.go)."""
    def arg(f: _Fn, act: Activation) -> Any:
        try:
            return f(act)
        except ExprEvalError:
            return MISSING

    if len(args) == 1:
        (fa,) = args

        def call1(act: Activation) -> Any:
            return impl(arg(fa, act))
        return call1
    fa, fb = args

    def call2(act: Activation) -> Any:
        return impl(arg(fa, act), arg(fb, act))
    return call2


def _equality(fa: _Fn, fb: _Fn, negate: bool) -> _Fn:
    """``==``/``!=`` (``!=`` is exactly the negation in every case of unknown.go)."""
    if hasattr(fb, "const"):
        return _equality_with(fa, fb.const[0], negate)
    if hasattr(fa, "const"):
        return _equality_with(fb, fa.const[0], negate)

    def eq(act: Activation) -> bool:
        try:
            a = fa(act)
        except ExprEvalError:
            a = MISSING
        try:
            b = fb(act)
        except ExprEvalError:
            b = MISSING
        return _eq(a, b) is not negate
    return eq


def _equality_with(other: _Fn, value: Any, negate: bool) -> _Fn:
    """``other == value`` for a literal ``value``: the commonest key and ``if`` shape."""
    value_is_str = type(value) is str

    def eq(act: Activation) -> bool:
        try:
            v = other(act)
        except ExprEvalError:
            v = MISSING
        if value_is_str and type(v) is str:
            return (v == value) is not negate
        return _eq(v, value) is not negate
    return eq


def _binary(fa: _Fn, fb: _Fn, impl: Callable[[Any, Any], Any]) -> _Fn:
    """An operator: an error in an operand counts as unknown (unknown.go)."""
    def fn(act: Activation) -> Any:
        try:
            a = fa(act)
        except ExprEvalError:
            a = MISSING
        try:
            b = fb(act)
        except ExprEvalError:
            b = MISSING
        return impl(a, b)
    return fn


def _plus(fa: _Fn, fb: _Fn) -> _Fn:
    """``+``, with string concatenation (key expressions) tested first."""
    def fn(act: Activation) -> Any:
        try:
            a = fa(act)
        except ExprEvalError:
            a = MISSING
        try:
            b = fb(act)
        except ExprEvalError:
            b = MISSING
        if type(a) is str and type(b) is str:
            return a + b
        return _add(a, b)
    return fn


def _conditional(fc: _Fn, ft: _Fn, ff: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        c = fc(act)
        if c is True:
            return ft(act)
        if c is False:
            return ff(act)
        if c is MISSING:
            return MISSING
        raise _no_overload("_?_:_", c)
    return fn


def _or(fa: _Fn, fb: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        try:
            a = fa(act)
        except ExprEvalError:       # an error is falsy: the result is the right operand
            return fb(act)
        if a is True or (a is not False and _truthy(a)):
            return a
        return fb(act)
    return fn


def _and(fa: _Fn, fb: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        a = fa(act)                 # an error is falsy and is the result: it propagates
        if a is False or not _truthy(a):
            return a
        return fb(act)
    return fn


def _not(fo: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        try:
            v = fo(act)
        except ExprEvalError:
            return False
        if v is True:
            return False
        if v is False:
            return True
        if v is MISSING:
            return False
        raise _no_overload("!_", v)
    return fn


def _negate(fo: _Fn) -> _Fn:
    def fn(act: Activation) -> Any:
        try:
            v = fo(act)
        except ExprEvalError:
            return False
        if v is MISSING:
            return False
        k = _kind(v)
        if k is int:
            return _i64(-v)
        if k is float:
            return -v
        raise _no_overload("-_", v)
    return fn


def _has(operand: _Fn, field: str) -> _Fn:
    def fn(act: Activation) -> Any:
        v = operand(act)
        return True if isinstance(v, dict) and field in v else MISSING
    return fn


def _list(items: list[_Fn]) -> _Fn:
    def fn(act: Activation) -> Any:
        out = [f(act) for f in items]
        return MISSING if any(v is MISSING for v in out) else out
    return fn


def _map(pairs: list[tuple[_Fn, _Fn]]) -> _Fn:
    def fn(act: Activation) -> Any:
        out: dict[Any, Any] = {}
        for fk, fv in pairs:
            k, v = fk(act), fv(act)
            if k is MISSING or v is MISSING:
                return MISSING
            if _kind(k) not in (str, int, bool):
                raise ExprEvalError(f"unsupported map key type {_type_name(k)}")
            if k in out:
                raise ExprEvalError(f"duplicate map key {k!r}")
            out[k] = v
        return out
    return fn


# --- cel-python -----------------------------------------------------------------------------

_ENV: Any = None
_MISSING_ERRORS = ("no such member", "no such key", "does not support field selection",
                   "undeclared reference")


def _environment() -> Any:
    """The one cel-python Environment (interpreted runner) of this process, made on first use.

    Making it costs ~0.1 s and sets the recursion limit to 2500; a higher limit is kept.
    """
    global _ENV
    if _ENV is None:
        import celpy

        limit = sys.getrecursionlimit()
        _ENV = celpy.Environment()
        sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return _ENV


def _from_cel(v: Any) -> Any:
    """A cel-python value as a plain Python value (``BoolType`` is an int subclass: test it first)."""
    from celpy import celtypes

    if v is None:
        return None
    if isinstance(v, celtypes.BoolType):
        return bool(v)
    if isinstance(v, (celtypes.IntType, celtypes.UintType)):
        return int(v)
    if isinstance(v, celtypes.DoubleType):
        return float(v)
    if isinstance(v, celtypes.StringType):
        return str(v)
    if isinstance(v, celtypes.ListType):
        return [_from_cel(x) for x in v]
    if isinstance(v, celtypes.MapType):
        return {_from_cel(k): _from_cel(x) for k, x in v.items()}
    raise ExprEvalError(f"flowsim does not support CEL values of type {type(v).__name__} here")


def _fallback(tree: Any) -> _Fn:
    """Evaluate ``tree`` with cel-python's interpreter; its missing-field errors become unknown."""
    import celpy

    runner = _environment().program(tree)

    def fn(act: Activation) -> Any:
        try:
            cel_act = {name: celpy.json_to_cel(value) for name, value in act.items()}
        except (TypeError, ValueError) as e:
            raise ExprEvalError(f"cannot pass the activation to cel-python: {e}") from e
        try:
            result = runner.evaluate(cel_act)
        except celpy.CELEvalError as e:
            message = str(e.args[0]) if e.args else str(e)
            if any(m in message for m in _MISSING_ERRORS):
                return MISSING
            raise ExprEvalError(message) from e
        except Exception as e:      # cel-python's own failures on user input (re2, overflow, ...)
            raise ExprEvalError(f"{type(e).__name__}: {e}") from e
        return _from_cel(result)
    return fn


def _regex_problem(pattern: str) -> str | None:
    """Why RE2 (cel-python's ``matches()`` engine) cannot compile ``pattern``, or ``None``."""
    try:
        import re2
    except ImportError:                 # cel-python 0.5 requires it; keep a fallback anyway
        try:
            re.compile(pattern)
        except re.error as e:
            return str(e)
        return None
    options = re2.Options()
    options.log_errors = False          # RE2 would print the error to stderr as well
    try:
        re2.compile(pattern, options)
    except re2.error as e:
        detail = e.args[0] if e.args else str(e)
        return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    return None


# --- the translator -------------------------------------------------------------------------

class _Translator:
    """Turns a cel-python parse tree into a closure; ``None`` marks a node left to cel-python."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fallbacks = 0

    def error(self, message: str) -> ExprSyntaxError:
        text = self.text if len(self.text) <= 200 else f"{self.text[:150]}…"    # a readable message
        return ExprSyntaxError(f"invalid CEL expression {text!r}: {message}")

    def root(self, tree: Any) -> _Fn:
        return self.operand(tree, self.node(tree))

    def operand(self, tree: Any, fn: _Fn | None) -> _Fn:
        """``fn``, or cel-python for ``tree`` when it could not be translated."""
        if fn is not None:
            return fn
        self.fallbacks += 1
        return _fallback(tree)

    def node(self, tree: Any) -> _Fn | None:
        return getattr(self, tree.data)(tree)

    def single(self, tree: Any) -> _Fn | None:
        return self.node(tree.children[0])

    member = primary = paren_expr = single

    def expr(self, tree: Any) -> _Fn | None:
        if len(tree.children) == 1:
            return self.node(tree.children[0])
        c, t, f = tree.children
        fc, ft, ff = self.node(c), self.node(t), self.node(f)
        return _conditional(self.operand(c, fc), self.operand(t, ft), self.operand(f, ff))

    def logical(self, tree: Any, build: Callable[[_Fn, _Fn], _Fn]) -> _Fn | None:
        if len(tree.children) == 1:
            return self.node(tree.children[0])
        a, b = tree.children
        fa, fb = self.node(a), self.node(b)
        return build(self.operand(a, fa), self.operand(b, fb))

    def conditionalor(self, tree: Any) -> _Fn | None:
        return self.logical(tree, _or)

    def conditionaland(self, tree: Any) -> _Fn | None:
        return self.logical(tree, _and)

    def binary(self, tree: Any) -> _Fn | None:
        """relation, addition, multiplication: ``[op(left), right]`` or a single child."""
        if len(tree.children) == 1:
            return self.node(tree.children[0])
        op, right = tree.children
        fa, fb = self.node(op.children[0]), self.node(right)
        if fa is None or fb is None:
            return None
        if op.data in ("relation_eq", "relation_ne"):
            return _equality(fa, fb, negate=op.data == "relation_ne")
        if op.data == "addition_add":
            return _plus(fa, fb)
        return _binary(fa, fb, _BINARY[op.data])

    relation = addition = multiplication = binary

    def unary(self, tree: Any) -> _Fn | None:
        if len(tree.children) == 1:
            return self.node(tree.children[0])
        op, operand = tree.children
        fo = self.node(operand)
        if fo is None:
            return None
        return _not(fo) if op.data == "unary_not" else _negate(fo)

    def member_dot(self, tree: Any) -> _Fn | None:
        operand, field = tree.children
        fo = self.node(operand)
        if fo is None:
            return None
        path = getattr(fo, "path", None)
        if path is not None:
            return _path(path[0], path[1] + (field.value,))
        return _select(fo, field.value)

    def member_index(self, tree: Any) -> _Fn | None:
        fo, fk = self.node(tree.children[0]), self.node(tree.children[1])
        if fo is None or fk is None:
            return None
        return _index(fo, fk)

    def member_dot_arg(self, tree: Any) -> _Fn | None:
        operand, name = tree.children[0], tree.children[1].value
        if name in _MACROS:
            return None
        args = self.arguments(tree.children[2:])
        fo = self.node(operand)
        if name in _METHODS:
            arity, impl = _METHODS[name]
            if len(args) != arity:
                raise self.error(f"{name}() takes {arity} argument(s)")
            if fo is None or None in args:
                return None
            return _args_call(impl, [fo, *args])  # type: ignore[list-item]
        self.check_function(name)
        if name == "matches" and len(args) == 1:
            self.check_pattern(args[0])
        return None

    def ident_arg(self, tree: Any) -> _Fn | None:
        name = tree.children[0].value
        if name == "has":
            return self.has(tree.children[1:])
        args = self.arguments(tree.children[1:])
        if name == "dyn":
            if len(args) != 1:
                raise self.error("dyn() takes 1 argument(s)")
            return args[0]
        if name in _FUNCTIONS:
            arity, impl = _FUNCTIONS[name]
            if len(args) != arity:
                raise self.error(f"{name}() takes {arity} argument(s)")
            if None in args:
                return None
            return _args_call(impl, args)  # type: ignore[arg-type]
        self.check_function(name)
        if name == "matches" and len(args) == 2:
            self.check_pattern(args[1])
        return None

    def check_pattern(self, pattern: _Fn | None) -> None:
        """A literal ``matches()`` pattern must compile, with the engine cel-python uses (RE2).

        cel-python reports a bad pattern only when evaluating, as an error for every event
        (and RE2 logs a line to stderr each time); Inngest's cel-go checks a literal pattern
        when it compiles the expression.
        """
        const = getattr(pattern, "const", None)
        if const is None or type(const[0]) is not str:
            return
        problem = _regex_problem(const[0])
        if problem is not None:
            raise self.error(f"invalid regular expression {const[0]!r} in matches(): {problem}")

    def has(self, exprlist: list[Any]) -> _Fn | None:
        args = exprlist[0].children if exprlist else []
        target = args[0] if len(args) == 1 else None
        while target is not None and target.data != "member_dot" and len(target.children) == 1 \
                and hasattr(target.children[0], "data"):
            target = target.children[0]
        if target is None or target.data != "member_dot":
            raise self.error("has() takes one field selection such as has(event.data.x)")
        operand, field = target.children
        fo = self.node(operand)
        return None if fo is None else _has(fo, field.value)

    def arguments(self, exprlist: list[Any]) -> list[_Fn | None]:
        return [self.node(e) for e in exprlist[0].children] if exprlist else []

    def check_function(self, name: str) -> None:
        """Refuse functions Inngest does not declare, and those flowsim cannot run."""
        from celpy.evaluation import base_functions

        if name in _REFUSED:
            raise self.error(f"function {name}() is not supported by flowsim")
        if name not in base_functions or name in ("reduce", "min"):
            raise self.error(f"undeclared reference to function {name!r}")

    def ident(self, tree: Any) -> _Fn | None:
        name = tree.children[0].value
        if name in _VARIABLES:
            return _path(name, ())
        if name in _TYPE_NAMES:
            return None
        raise self.error(f"undeclared reference to {name!r}")

    def literal(self, tree: Any) -> _Fn | None:
        from celpy.evaluation import celstr

        token = tree.children[0]
        kind, text = token.type, token.value
        if kind == "INT_LIT":
            value = int(text, 16) if "x" in text.lower() else int(text, 10)
            if not _I64_MIN <= value <= _I64_MAX:
                raise self.error(f"integer literal {text} out of range")
            return _const(value)
        if kind == "FLOAT_LIT":
            return _const(float(text))
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            return _const(str(celstr(token)))
        if kind == "BOOL_LIT":
            return _const(text == "true")
        if kind == "NULL_LIT":
            return _const(None)
        return None                 # uint and bytes literals

    def list_lit(self, tree: Any) -> _Fn | None:
        items = self.arguments(tree.children)
        return None if None in items else _list(items)  # type: ignore[arg-type]

    def map_lit(self, tree: Any) -> _Fn | None:
        values = [self.node(e) for e in tree.children[0].children] if tree.children else []
        if None in values:
            return None
        return _map(list(zip(values[0::2], values[1::2])))  # type: ignore[arg-type]

    def member_object(self, tree: Any) -> _Fn | None:
        return None

    dot_ident = dot_ident_arg = member_object


# --- the public interface -------------------------------------------------------------------

class _Failed:
    """A memoised evaluation error."""

    __slots__ = ("error",)

    def __init__(self, error: ExprEvalError) -> None:
        self.error = error


_UNSET = object()
_SLOTS = itertools.count()


class Expr:
    """A compiled expression. ``native`` is true when no part of it needs cel-python."""

    __slots__ = ("text", "native", "_fn", "_slot")

    def __init__(self, text: str, fn: _Fn, native: bool) -> None:
        self.text = text
        self.native = native
        self._fn = fn
        self._slot = next(_SLOTS)

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The value for ``activation`` (variable name -> plain value); unknown gives ``False``.

        Raises :class:`ExprEvalError` when evaluation fails (never for a missing field).
        """
        try:
            v = self._fn(activation)
        except ExprEvalError as e:
            raise ExprEvalError(f"{self.text!r}: {e}") from e
        return False if v is MISSING else v

    def on(self, event: Any) -> Any:
        """The value for ``event`` (``{"event": event.as_cel()}``), evaluated at most once per event.

        The value, or the :class:`ExprEvalError`, is kept in ``event.cache`` under this
        expression's slot number.
        """
        cache = event.cache
        v = cache.get(self._slot, _UNSET)
        if v is _UNSET:
            try:
                v = self.evaluate({"event": event.as_cel()})
            except ExprEvalError as e:
                v = _Failed(e)
            cache[self._slot] = v
        if type(v) is _Failed:
            raise v.error
        return v

    def __repr__(self) -> str:
        return f"Expr({self.text!r}, native={self.native})"


_COMPILED: dict[str, Expr] = {}


def compile_expr(text: str) -> Expr:
    """The compiled expression for ``text``: the same object for the same text.

    Raises :class:`ExprSyntaxError` for syntax errors and names Inngest does not declare.
    """
    expr = _COMPILED.get(text)
    if expr is None:
        expr = _COMPILED[text] = _compile(text)
    return expr


# The deepest parse tree compiled. Each level costs the translator two or three Python
# frames, and cel-python's interpreter (for parts left to it) more; past a few hundred
# levels Python's recursion limit (2500 once cel-python is loaded) is reached, and it
# surfaces as a RecursionError or even as an AttributeError from getattr. (cel-go, which
# Inngest uses, bounds its parser's recursion as well.) One level of parentheses is about
# ten tree levels (expr, ||, &&, relation, +, *, unary, member, primary, parens): the limit
# allows ~35 nested parentheses, ~330 `!` or `&&` terms in a row.
MAX_TREE_DEPTH = 350


def _compile(text: str) -> Expr:
    import celpy

    env = _environment()
    translator = _Translator(text)
    too_deep = (f"expression nested too deeply (flowsim compiles at most {MAX_TREE_DEPTH} levels of "
                "operators, parentheses, calls and brackets); simplify it")
    try:
        tree = env.compile(text)
    except celpy.CELParseError as e:
        raise translator.error(_parse_problem(e)) from None
    except RecursionError:
        raise translator.error(too_deep) from None
    if _tree_depth(tree) > MAX_TREE_DEPTH:
        raise translator.error(too_deep)
    try:
        fn = translator.root(tree)
    except RecursionError:
        raise translator.error(too_deep) from None
    return Expr(text, fn, native=translator.fallbacks == 0)


def _tree_depth(tree: Any) -> int:
    """The depth of a lark parse tree, measured without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in getattr(node, "children", ()) if hasattr(child, "children"))
    return deepest


def field_paths(text: str) -> tuple[tuple[str, ...], ...]:
    """The attribute paths expression ``text`` reads, each once, in order of appearance, as
    tuples from the variable (``event.data["user"].id`` → ``("event", "data", "user", "id")``);
    only the longest selection of a chain is listed, indexes by a string literal count as
    selections. Paths that a ``has()`` tests, and paths under them, are left out: their
    absence is what the expression asks about. Read-only: the expression is parsed again
    (a compiled :class:`Expr` keeps no tree), for diagnostics, not per event."""
    from lark import Token, Tree

    tree = _environment().compile(text)

    def chain(node: Any) -> list[str] | None:
        while isinstance(node, Tree) and node.data not in ("ident", "member_dot", "member_index") \
                and len(node.children) == 1 and isinstance(node.children[0], Tree):
            node = node.children[0]
        if not isinstance(node, Tree):
            return None
        if node.data == "ident":
            return [node.children[0].value]
        if node.data == "member_dot":
            base = chain(node.children[0])
            return None if base is None else base + [node.children[1].value]
        if node.data == "member_index":
            base, key = chain(node.children[0]), getattr(_Translator(text).node(node.children[1]), "const", None)
            return None if base is None or key is None or type(key[0]) is not str else base + [key[0]]
        return None

    read: dict[tuple[str, ...], None] = {}
    tested: list[tuple[str, ...]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data == "ident_arg" and isinstance(node.children[0], Token) and node.children[0].value == "has":
            target = chain(node.children[1].children[0]) if len(node.children) > 1 else None
            if target is not None:
                tested.append(tuple(target))
            continue
        path = chain(node) if node.data in ("member_dot", "member_index") else None
        if path is not None and len(path) > 1:
            read[tuple(path)] = None
        stack.extend(reversed(node.children))
    paths = [p for p in read if not any(q[:len(p)] == p and len(q) > len(p) for q in read)]
    return tuple(p for p in paths if not any(p[:len(t)] == t for t in tested))


def _parse_problem(e: Any) -> str:
    """A one-line account of a cel-python parse error (its own message is only a caret)."""
    import lark

    cause = e.__context__
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        what = "end of expression" if cause.token.type == "$END" else repr(cause.token.value)
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters):
        what = repr(cause.char)
    else:
        return str(e.args[0]).splitlines()[0] if e.args else "syntax error"
    where = f"column {e.column}" if e.line in (None, 1) else f"line {e.line}, column {e.column}"
    return f"unexpected {what} at {where}"


def key_value(expr: "Expr | None", event: Any, error_key: str | None = "<nil>") -> str | None:
    """The key of ``event`` under ``expr`` as Inngest buckets it (spec §2.1): the value
    formatted by :func:`key_string` (a missing field gives ``"false"``), ``error_key``
    when evaluation fails, ``""`` without an expression."""
    if expr is None:
        return ""
    try:
        return key_string(expr.on(event))
    except ExprEvalError:
        return error_key


def is_true(value: Any) -> bool:
    """Whether an ``if`` expression's value lets the event through: only boolean ``true`` does."""
    return value is True


def key_string(value: Any) -> str:
    """``value`` as Go's ``fmt.Sprintf("%v")`` writes it, which is how Inngest turns keys into strings.

    ``1.0`` -> ``"1"``, ``1.5`` -> ``"1.5"``, ``1e6`` -> ``"1e+06"``, ``True`` -> ``"true"``,
    ``None`` -> ``"<nil>"``, ``[1, "a"]`` -> ``"[1 a]"``, ``{"b": 2, "a": 1}`` -> ``"map[a:1 b:2]"``.
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "<nil>"
    k = _kind(value)
    if k is str:
        return str(value)
    if k is int:
        return str(int(value))
    if k is float:
        return _go_float(float(value))
    if k is list:
        return "[" + " ".join(map(key_string, value)) + "]"
    if k is dict:
        items = sorted((key_string(a), key_string(b)) for a, b in value.items())
        return "map[" + " ".join(f"{a}:{b}" for a, b in items) + "]"
    return str(value)


def _go_float(f: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form below 1e-4 and from 1e6."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    x = len(digits) + int(exponent) - 1       # decimal exponent of the first digit
    if x < -4 or x >= 6:                      # strconv 'g' with shortest precision uses 6
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if x < 0:
        return f"{sign}0.{'0' * (-x - 1)}{digits}"
    whole, frac = digits[:x + 1].ljust(x + 1, "0"), digits[x + 1:]
    return sign + whole + ("." + frac if frac else "")
