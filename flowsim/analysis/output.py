"""Writing an analysis's tables to a directory, atomically.

The files are written into a temporary sibling directory that replaces the target only
when everything is written (as :mod:`flowsim.results.writers` does for a run), so an
interrupted sweep never leaves a directory that looks complete.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd


def write_tables(out: str | os.PathLike[str], tables: Mapping[str, pd.DataFrame],
                 documents: Mapping[str, Any] | None = None) -> Path:
    """Write ``<name>.csv`` for every table and ``<name>.json`` for every document into ``out``."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, df in tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n", float_format="%.9g")
        for name, doc in (documents or {}).items():
            with open(tmp / f"{name}.json", "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
                fh.write("\n")
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
