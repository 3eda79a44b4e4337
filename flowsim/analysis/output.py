"""Writing an analysis's tables to a directory, atomically (as a run's, through
:func:`flowsim.results.writers.atomic_dir`), so an interrupted sweep never leaves a
directory that looks complete; and the numbers as the tables print them.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from flowsim.results.writers import atomic_dir


def write_tables(out: str | os.PathLike[str], tables: Mapping[str, pd.DataFrame],
                 documents: Mapping[str, Any] | None = None) -> Path:
    """Write ``<name>.csv`` for every table and ``<name>.json`` for every document into ``out``."""
    target = Path(out)
    with atomic_dir(target) as tmp:
        for name, df in tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n", float_format="%.9g")
        for name, doc in (documents or {}).items():
            with open(tmp / f"{name}.json", "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
                fh.write("\n")
    return target


def number(v: float | None, digits: int = 3) -> str:
    """``v`` to ``digits`` significant digits (whole above 10**digits), ``-`` for none or NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 10 ** digits:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def plus_minus(mean: float, low: float, high: float, signed: bool = False) -> str:
    """``mean ± half-width`` (just the mean when there is no interval, ``-`` without a mean)."""
    if math.isnan(mean):
        return "-"
    text = ("+" if signed and mean > 0 else "") + number(mean)
    if math.isnan(low):
        return text
    return f"{text} ±{number((high - low) / 2, 2)}"
