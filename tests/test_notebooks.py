"""The notebooks: committed without outputs, and executed top to bottom in a fresh kernel.

Execution uses nbclient with the ``python3`` kernel of the running interpreter and the shipped
posteriors in ``models/`` (build them with ``./dev models`` if missing). Every notebook must run
without an error and display its figures (``image/png`` outputs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MODELS = Path(__file__).resolve().parents[1] / "models"

# notebook -> (shipped posteriors it loads, minimum number of figures it displays)
EXPECTED = {
    "01_chinchilla_replication.ipynb": (("chinchilla",), 6),
    "02_distillation_law.ipynb": (("distillation",), 6),
    "03_recommendations.ipynb": (("distillation",), 3),
}


def _images(nb) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has outputs; strip them"
            assert cell.execution_count is None, f"{name}: execution counts left in"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_executes_and_shows_figures(name, monkeypatch):
    # the kernel inherits the environment: MPLBACKEND=Agg would hide every figure
    monkeypatch.delenv("MPLBACKEND", raising=False)
    models, min_images = EXPECTED[name]
    missing = [m for m in models if not (MODELS / f"{m}.nc").exists()]
    assert not missing, f"models/{missing[0]}.nc is missing: build it with ./dev models"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError with the cell and traceback on any error
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    assert _images(nb) >= min_images, f"{name} displayed {_images(nb)} figures"
