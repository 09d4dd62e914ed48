"""Wall time of the first ``bd.fit`` in a new Python process, by state of the on-disk caches.

Each measurement runs in its own process (``python first_fit.py --child ...``), so nothing is
compiled in memory beforehand. Three states per law:

- ``cold``: a fresh, empty PyTensor compile directory (``PYTENSOR_FLAGS=base_compiledir=...``),
  so PyTensor's numba kernels and the package's nutpie callbacks are all compiled: the first fit
  of a model structure on a new machine.
- ``warm``: a new process with the same directory: what every later session pays.
- ``baseline``: as ``warm``, but the model is compiled with ``nutpie.compile_pymc_model``, whose
  C callbacks numba cannot cache; this is what ``bd.fit`` did before ``bayes_distill._nutpie``.

Each child also fits a second time in the same process (the compiled model reused, new seed).
Imports are timed separately and not counted in the fit. The script prints each row and the
ratios ``warm / baseline`` and ``cold / baseline`` (below 1: faster).

Usage (from the repository root)::

    .venv/bin/python benchmarks/first_fit.py                 # both laws, 2 repeats
    .venv/bin/python benchmarks/first_fit.py --laws chinchilla --repeats 3
    .venv/bin/python benchmarks/first_fit.py --quick         # smoke run (Chinchilla, few draws)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

TARGETS = {"chinchilla": 10.0, "distillation": 60.0}  # seconds, issue 3


def child(law: str, compiler: str, draws: int | None, tune: int | None, seed: int) -> None:
    """Runs in a fresh process: import, fit twice, print one JSON line."""
    t0 = time.perf_counter()
    import warnings

    import bayes_distill as bd

    sampling_mod = c.fit_module()
    import nutpie
    import pymc  # noqa: F401

    from bayes_distill import _nutpie

    if compiler == "nutpie":
        _nutpie.compile_model = nutpie.compile_pymc_model
    runs = bd.datasets.load(law)
    import_s = time.perf_counter() - t0
    out = {"import_s": import_s}
    for i, name in enumerate(("first", "second")):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            with c.Timer() as t:
                fit = bd.fit(
                    runs,
                    law=law,
                    draws=draws,
                    tune=tune,
                    random_seed=seed + i,
                    **c.quick_fit_options(draws is not None),
                )
        out[f"{name}_s"] = t.seconds
        diag = fit.diagnose()
        out[f"{name}_rhat"] = diag.max_rhat
        out[f"{name}_ok"] = diag.ok
    compiled = next(iter(sampling_mod._COMPILED_CACHE.values()))
    hits = getattr(compiled.compiled_logp_func, "cache_hits", 0)
    out["callbacks_from_disk"] = bool(hits)
    print("RESULT " + json.dumps(out), flush=True)


def run_child(law, compiler, compiledir, draws, tune, seed) -> dict:
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={compiledir}"])
    cmd = [sys.executable, __file__, "--child", law, compiler, str(draws), str(tune), str(seed)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", nargs="+", default=["chinchilla", "distillation"])
    parser.add_argument("--repeats", type=int, default=2, help="warm/baseline processes per law")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: Chinchilla only, 1 repeat, 100 draws"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        law, compiler, draws, tune, seed = args.child
        draws_, tune_ = (None if v == "None" else int(v) for v in (draws, tune))
        child(law, compiler, draws_, tune_, int(seed))
        return 0

    start = c.header("first_fit: first bd.fit in a new process, by state of the disk caches")
    if args.quick:
        args.laws, args.repeats = ["chinchilla"], 1
    # None: bd.fit's law defaults (DEFAULT_DRAWS, DEFAULT_TUNE)
    draws, tune = (100, 100) if args.quick else (None, None)
    print(
        f"draws={draws or 'default'}, tune={tune or 'default'}, 4 chains; "
        f"targets (issue 3): {TARGETS}\n"
    )
    rows = []
    for law in args.laws:
        with tempfile.TemporaryDirectory(prefix="bd_first_fit_") as compiledir:
            plan = [("cold", "bayes_distill")]
            plan += [("warm", "bayes_distill"), ("baseline", "nutpie")] * args.repeats
            for k, (state, compiler) in enumerate(plan):
                res = run_child(law, compiler, compiledir, draws, tune, seed=1 + 2 * k)
                row = {
                    "law": law,
                    "state": state,
                    "compiler": compiler,
                    "import_s": res["import_s"],
                    "first_fit_s": res["first_s"],
                    "first_rhat": res["first_rhat"],
                    "second_fit_s": res["second_s"],
                    "callbacks_from_disk": res["callbacks_from_disk"],
                    "load1": os.getloadavg()[0],
                }
                rows.append(row)
                print(c.table([row]), flush=True)

    print("\n## Summary")
    print(c.table(rows))
    ratios = []
    for law in args.laws:

        def median(state, law=law):
            return statistics.median(
                r["first_fit_s"] for r in rows if r["law"] == law and r["state"] == state
            )

        base = median("baseline")
        for state in ("cold", "warm"):
            ratios.append(
                {
                    "law": law,
                    "first fit": state,
                    "median_s": median(state),
                    "baseline_s": base,
                    "ratio to baseline": median(state) / base,
                    "target_s": TARGETS[law],
                    "met": median(state) <= TARGETS[law],
                }
            )
    print("\nRatios of the first fit in a process (median) to the baseline (nutpie's callbacks)")
    print(c.table(ratios))
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
