"""The notebooks: stored with their outputs, and executed top to bottom in a fresh kernel.

``./dev notebooks`` (``scripts/run_notebooks.py``) executes them and stores the outputs, so that a
reader on the web sees the figures; the stored notebooks must be complete (every code cell run,
no error, the figures as ``image/png``) and record the package version that produced them.
Execution uses nbclient with the ``python3`` kernel of the running interpreter and the shipped
posteriors in ``models/`` (build them with ``./dev models`` if missing). Every notebook must run
without an error and display its figures (``image/png`` outputs).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import bayes_distill as bd

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
MODELS = REPO / "models"

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
def test_notebook_is_stored_with_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    hint = "re-run it with ./dev notebooks"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for i, cell in enumerate(code):
        assert cell.execution_count is not None, f"{name}: code cell {i} was not run; {hint}"
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"{name}: code cell {i} stored an error; {hint}"
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: not run top to bottom; {hint}"
    min_images = EXPECTED[name][1]
    assert _images(nb) >= min_images, f"{name} stores {_images(nb)} figures; {hint}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_records_the_package_version(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    recorded = nb.metadata.get("bayes_distill", {}).get("version")
    assert recorded == bd.__version__, (
        f"{name} was run with bayes_distill {recorded}, not {bd.__version__}: ./dev notebooks"
    )


def test_run_notebooks_stores_outputs_and_version(tmp_path):
    script_path = REPO / "scripts" / "run_notebooks.py"
    spec = importlib.util.spec_from_file_location("run_notebooks", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    path = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# tiny"),
        nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
        nbformat.v4.new_code_cell("1 + 1"),
    ]
    nbformat.write(nb, path)
    script.run(path)
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["bayes_distill"] == {"version": bd.__version__}
    printed, result = (cell.outputs for cell in nb.cells[1:])
    assert [c.execution_count for c in nb.cells[1:]] == [1, 2]
    assert Path(printed[0].text.strip()) == tmp_path  # run in the notebook's folder
    assert result[0].data["text/plain"] == "2"


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


def test_nbconvert_runs_from_the_environment():
    """The development extras bring nbconvert: ``python -m jupyter nbconvert`` works with the
    interpreter that runs the tests, without the environment's bin folder on PATH."""
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, (
        f"python -m jupyter nbconvert failed ({proc.stderr.strip()[-500:]}); install the "
        "development extras: pip install -e '.[dev]' (or ./dev setup)"
    )
    major = int(proc.stdout.strip().split(".")[0])
    assert major >= 7, proc.stdout
