"""Why a fit of 10,000 SIMULATED supervised runs converges badly: which part of the model.

``scaling.py``'s 10,000-run Chinchilla fit did not finish with the final model. This script
fits the same kind of SIMULATED runs (``common.simulate_supervised``: the Chinchilla law at
Epoch's plain Huber fit, 30 model sizes, 20 token counts, 1% log-normal noise) with short
chains and a few model variants, and prints per chain what tells them apart: leapfrog steps per
draw and the median of ``alpha``. Variants:

- ``default``: ``bd.fit``'s default model (per-size offsets, noise growing with distance);
- ``discrepancy=none``: without the per-size offsets;
- ``noise=constant``: with the offsets, constant noise;
- ``offsets``: the default model on runs simulated *with* per-size offsets (sd 0.01 in log
  loss, the model's own assumption), to see whether the trouble is the boundary ``tau = 0`` of
  offset-free runs.

Found (``results/many_runs.txt``, ``results/many_runs_tune1000.txt``): too little tuning. With
300 tuning steps some chains adapt to far smaller steps and one can settle elsewhere; with
``--tune 1000`` the chains adapt alike and the default model converges.

Usage (from the repository root)::

    .venv/bin/python benchmarks/many_runs.py            # 10,000 runs, tune=300, draws=200
    .venv/bin/python benchmarks/many_runs.py --quick    # 300 runs, short chains (smoke run)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

VARIANTS = {
    "default": ({}, 0.0),
    "discrepancy=none": ({"discrepancy": "none"}, 0.0),
    "noise=constant": ({"noise": "constant"}, 0.0),
    "offsets": ({}, 0.01),
}


def simulated_runs(n: int, offset_sd: float, seed: int = 0):
    """``n`` SIMULATED runs; with ``offset_sd > 0`` every model size shifts its log losses by
    one draw of ``N(0, offset_sd)``."""
    runs, _ = c.simulate_supervised(n, seed=seed)
    if offset_sd > 0:
        sizes, index = np.unique(runs["N"].to_numpy(), return_inverse=True)
        delta = np.random.default_rng(seed + 1).normal(0.0, offset_sd, len(sizes))
        runs = runs.assign(loss=runs["loss"] * np.exp(delta[index]))
    return runs


def one_fit(name: str, runs, *, tune: int, draws: int, seed: int, quick: bool = False) -> dict:
    import bayes_distill as bd

    options, _ = VARIANTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failed diagnostics are reported in the row
        with c.Timer() as t:
            fit = bd.fit(
                runs,
                law="chinchilla",
                tune=tune,
                draws=draws,
                random_seed=seed,
                **options,
                **c.quick_fit_options(quick),
            )
    diag = fit.diagnose()
    stats = fit.dt["sample_stats"].to_dataset()
    steps = stats["n_steps"].mean(dim="draw").values
    alpha = fit.dt["posterior"]["alpha"].median(dim="draw").values
    return {
        "variant": name,
        "n_runs": len(runs),
        "wall_s": t.seconds,
        "max_rhat": diag.max_rhat,
        "min_ess_bulk": diag.min_ess_bulk,
        "divergences": diag.divergences,
        "passed": diag.ok,
        "steps_per_draw_by_chain": " ".join(f"{s:.0f}" for s in steps),
        "alpha_median_by_chain": " ".join(f"{a:.4f}" for a in alpha),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="simulated runs")
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2, help="seed of the fits")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 runs, short chains")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; valid: {', '.join(VARIANTS)}")
    if args.quick:
        args.runs, args.tune, args.draws, names = 300, 50, 50, ["default"]
    start = c.header("many_runs: the Chinchilla model on many SIMULATED runs, by model variant")
    print(f"runs={args.runs} (SIMULATED), tune={args.tune}, draws={args.draws}, 4 chains, seed")
    print(f"{args.seed}; truth: Epoch's plain Huber fit, 1% noise\n", flush=True)
    rows = []
    for name in names:
        runs = simulated_runs(args.runs, VARIANTS[name][1])
        rows.append(
            one_fit(name, runs, tune=args.tune, draws=args.draws, seed=args.seed, quick=args.quick)
        )
        print(c.table(rows[-1:]), flush=True)
    print("\n## Summary")
    print(c.table(rows))
    c.footer(start)


if __name__ == "__main__":
    main()
