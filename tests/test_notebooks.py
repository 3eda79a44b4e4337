"""Every notebook in notebooks/ runs top to bottom without an error, and its committed outputs are complete.

The notebooks execute with the ``python3`` kernel of this environment (``ipykernel`` is in the
``test`` extra) and ``notebooks/`` as working directory, as ``python notebooks/refresh.py``
does when it refreshes the committed outputs. They take a minute or two each, hence ``slow``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _text(nb) -> list[str]:
    """The stream text of every code cell, in order (what computed conclusions print)."""
    return ["".join(o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") == "stream"
                    and o.get("name") == "stdout") for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"compare-policies.ipynb", "capacity-planning.ipynb",
                                          "semantics-tour.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_complete(path):
    """Every code cell was executed in order, none failed, and the notebook shows figures (run notebooks/refresh.py)."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.get("execution_count") for c in cells] == list(range(1, len(cells) + 1)), \
        f"{path.name} was not executed top to bottom: run notebooks/refresh.py"
    assert any("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    for i, cell in enumerate(cells):
        assert not [o for o in cell.outputs if o.get("output_type") == "error"], f"cell {i} of {path.name} failed"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_and_matches_its_committed_text(path):
    committed = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}}).execute()   # raises on any error
    assert _text(nb) == _text(committed), f"{path.name}'s printed results changed: run notebooks/refresh.py"
