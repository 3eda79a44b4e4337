"""Durations and rates as users write them, parsed once at the edge into floats.

Inside flowsim time is always a float of seconds and a rate a float of events per
second. Durations accept ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` (as Inngest's
str2duration does, spec §2.2), compound forms such as ``1h30m``, and bare numbers of
seconds. Rates are ``<number>/<unit>`` (``20/s``, ``5/m``, ``1/2h``) or a bare number
per second.
"""
from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*(\d+(?:\.\d*)?)?\s*(ns|us|µs|ms|s|m|h|d|w)\s*$")

DURATION_HELP = "a duration such as 200ms, 1.5s, 5m, 2h, 1d, 1w, 1h30m or a number of seconds"
RATE_HELP = "a rate such as 20/s, 5/m, 1/2h, 100/d or a number per second"


def parse_duration(value: object) -> float:
    """Return seconds for ``value``; raise ``ValueError`` with what is allowed."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, total = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ValueError(f"expected {DURATION_HELP}, got {value!r}") from None
            seconds = total
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a non-negative finite duration, got {value!r}")
    return seconds


def parse_rate(value: object) -> float:
    """Return events per second for ``value``; raise ``ValueError`` with what is allowed."""
    if isinstance(value, bool):
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        m = _RATE.match(value)
        if not m:
            try:
                rate = float(value)
            except ValueError:
                raise ValueError(f"expected {RATE_HELP}, got {value!r}") from None
        else:
            per = float(m.group(2)) if m.group(2) else 1.0
            if per <= 0:
                raise ValueError(f"the period of a rate must be greater than 0 (as in 5/2s), got {value!r}")
            rate = float(m.group(1)) / (per * _UNIT_SECONDS[m.group(3)])
    else:
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"expected a non-negative finite rate, got {value!r}")
    return rate


def format_duration(seconds: float) -> str:
    """A short human form (``1.5s``, ``5m``, ``2h``) used in messages and exports."""
    for unit, size in (("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1 or seconds == 0:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
