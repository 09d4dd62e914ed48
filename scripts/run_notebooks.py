"""Execute the notebooks in ``notebooks/`` and store them with their outputs.

Usage (from the repository root)::

    ./dev notebooks              # or: .venv/bin/python scripts/run_notebooks.py [names...]

Runs every notebook (or only the ones named) top to bottom in a fresh ``python3`` kernel with
nbclient, with ``notebooks/`` as the working directory and a 600 s limit per cell, and writes it
back in place with its outputs, so that a reader on the web sees the tables and figures. The
package version is recorded in the notebook metadata (``metadata["bayes_distill"]["version"]``).
The notebooks load the shipped posteriors in ``models/`` (build them with ``./dev models``).
A cell that raises stops the run; the notebook being run is then left unchanged.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import bayes_distill as bd

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIMEOUT = 600  # seconds per cell


def run(path: Path) -> None:
    """Execute the notebook at ``path`` in its own folder and write it back with its outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError with the cell and traceback on any error
    nb.metadata["bayes_distill"] = {"version": bd.__version__}
    nbformat.validate(nb)
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    paths = [NOTEBOOKS / name for name in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        print(f"run_notebooks: no such notebook in notebooks/: {', '.join(missing)}")
        return 2
    # the kernel inherits this environment: MPLBACKEND=Agg would hide every figure, and progress
    # bars would be stored in the outputs
    os.environ.pop("MPLBACKEND", None)
    os.environ.setdefault("BAYES_DISTILL_PROGRESS", "0")
    for path in paths:
        start = time.perf_counter()
        print(f"run_notebooks: {path.name} ...", flush=True)
        run(path)
        size = path.stat().st_size / 1e6
        took = time.perf_counter() - start
        print(f"run_notebooks: {path.name} done in {took:.0f} s ({size:.2f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
