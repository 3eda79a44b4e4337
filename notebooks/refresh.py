"""Re-execute the notebooks in place so that their committed outputs match the code.

    python notebooks/refresh.py                          # every notebook
    python notebooks/refresh.py semantics-tour.ipynb     # some of them

Each notebook runs top to bottom with the ``python3`` kernel of this environment (install
the ``test`` extra: ``pip install -e .[test]``), with ``notebooks/`` as working directory,
and is written back with its outputs. ``tests/test_notebooks.py`` executes them the same way.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT = 600          # seconds per cell


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` (cwd = its folder) and return it with fresh outputs."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=TIMEOUT,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def main(names: list[str]) -> None:
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        t0 = time.perf_counter()
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
