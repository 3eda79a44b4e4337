"""Per-evaluation cost of flowsim.expr's fast path against cel-python's interpreter.

Run: ``python benchmarks/bench_expr.py``. The cel-python column excludes, and the last column
adds, the ``celpy.json_to_cel`` conversion of a 20-field event that cel-python needs.
"""
from __future__ import annotations

import timeit

import celpy

from flowsim.expr import _environment, compile_expr

EXPRESSIONS = [
    "event.data.user_id",
    "event.data.tier == 'vip' ? 120 : 0",
    "event.data.severity == 'critical' ? 300 : (event.data.plan == 'enterprise' ? 120 : 0)",
    "event.data.user_id + '-' + event.data.plan",
    "event.data.tags.exists(t, t == 'vip') ? 120 : 0",   # falls back to cel-python
]


def per_call_us(fn: object, number: int) -> float:
    """Best of five runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    data = {f"f{i}": i for i in range(15)}
    data.update(user_id="u123", tier="vip", severity="high", plan="enterprise", tags=["a", "vip"])
    activation = {"event": {"name": "ticket/created", "id": "01J", "ts": 0, "user": {}, "data": data}}
    env = _environment()
    convert = per_call_us(lambda: celpy.json_to_cel(activation["event"]), 2000)
    print(f"{'expression':62} {'flowsim':>9} {'cel-python':>11} {'+convert':>9}")
    for text in EXPRESSIONS:
        expr = compile_expr(text)
        fast = per_call_us(lambda: expr.evaluate(activation), 20000 if expr.native else 200)
        program = env.program(env.compile(text))
        cel_activation = {"event": celpy.json_to_cel(activation["event"])}
        slow = per_call_us(lambda: program.evaluate(cel_activation), 300)
        label = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label:62} {fast:7.2f}µs {slow:9.1f}µs {slow + convert:7.1f}µs")


if __name__ == "__main__":
    main()
