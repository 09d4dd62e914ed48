"""Rebuild the shipped posteriors in ``models/`` from the bundled data.

Usage (from the repository root)::

    ./dev models                 # or: .venv/bin/python scripts/build_models.py [names...]

Fits the Chinchilla law to the Epoch AI Chinchilla runs, and the distillation law to the Figure-1
distillation runs jointly with their teachers as supervised runs (``distillation_teachers``),
with the package defaults (4 chains, 500 tuning steps; 1000 draws per chain for the Chinchilla
law and 2000 for the distillation law, ``bd.fit``'s ``DEFAULT_DRAWS``; seeds below), and saves
them as ``models/<name>.nc`` (NetCDF with provenance). Refuses to save a fit that did not
converge.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bayes_distill as bd

MODELS = Path(__file__).resolve().parents[1] / "models"
SPECS = {
    "chinchilla": {"law": "chinchilla", "random_seed": 20240417},
    "distillation": {"law": "distillation", "random_seed": 20250211},
}
#: Supervised runs fitted jointly with a data set (the teachers of the distillation runs).
SUPERVISED_RUNS = {"distillation": "distillation_teachers"}


def build(name: str) -> Path:
    spec = SPECS[name]
    runs = bd.datasets.load(name)
    if name in SUPERVISED_RUNS:
        spec = {**spec, "supervised_runs": bd.datasets.load(SUPERVISED_RUNS[name])}
    start = time.perf_counter()
    fit = bd.fit(runs, strict=True, progressbar=True, **spec)
    elapsed = time.perf_counter() - start
    print(fit)
    print(f"{name}: fitted in {elapsed:.1f} s")
    path = fit.save(MODELS / f"{name}.nc", overwrite=True)
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return path


def main(argv: list[str]) -> int:
    names = argv or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {list(SPECS)}", file=sys.stderr)
        return 2
    MODELS.mkdir(exist_ok=True)
    for name in names:
        build(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
