"""How ``bd.fit`` cost grows with the number of runs, on SIMULATED runs.

Supervised: 100, 1,000 and 10,000 runs simulated from the Chinchilla law at Epoch's plain Huber
fit, fitted with ``law="chinchilla"``. Distillation: 300 and 3,000 runs simulated from the
paper's Table 6 distillation law (``B' = 2e6``), fitted with ``law="distillation"``. The
simulations (``common.simulate_supervised`` / ``common.simulate_distillation``) draw model sizes,
token counts and teachers from fixed sets of values, so the number of discrepancy groups, i.e.
of parameters, stays the same as runs are added: only the data grow.

For each size: a cold fit (compiled-model cache cleared: compile + sample) and a warm fit (the
compiled model reused), with ``bd.fit``'s defaults (``draws=1000, tune=500, chains=4``, the
default model). The growth exponent k in ``time ~ n**k`` is the log-log slope between
consecutive sizes, for the warm wall time, the sampling time per leapfrog step (cost of one
gradient) and the steps per draw.

Usage::

    python benchmarks/scaling.py            # full run
    python benchmarks/scaling.py --quick    # smoke run: 100 and 300 supervised runs, short chains
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c


def one_size(law, runs, *, draws, tune, chains, seed, options):
    import bayes_distill as bd

    out = {"law": law, "n_runs": len(runs), "simulated": True}
    c.clear_compiled_cache()
    for kind in ("cold", "warm"):
        ins = c.Instrument()
        with warnings.catch_warnings(record=True) as caught, ins:
            warnings.simplefilter("always")
            with c.Timer() as t:
                fit = bd.fit(
                    runs,
                    law=law,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    random_seed=seed + (kind == "warm"),
                    **options,
                )
        out[f"{kind}_wall_s"] = t.seconds
        if kind == "cold":
            out["compile_s"] = ins.seconds("compile")
    sample_s = ins.seconds("sample")
    steps = ins.steps.get("tune_total_steps", 0.0) + ins.steps.get("draws_total_steps", 0.0)
    diag = fit.diagnose()
    ess = c.ess_bulk_min(fit)
    cores = min(chains, os.cpu_count() or 1)
    out.update(
        sample_s=sample_s,
        warm_ms_per_run=1e3 * out["warm_wall_s"] / len(runs),
        steps_per_draw=ins.steps.get("draws_steps_per_draw", float("nan")),
        tune_steps_per_draw=ins.steps.get("tune_steps_per_draw", float("nan")),
        us_per_grad=1e6 * sample_s * cores / steps if steps else float("nan"),
        min_ess_bulk=ess,
        ess_per_s_warm=ess / out["warm_wall_s"],
        max_rhat=diag.max_rhat,
        divergences=diag.divergences,
        converged=diag.ok,
        warnings=len(caught),
        load1=os.getloadavg()[0],
    )
    return out


def exponents(rows: list[dict]) -> list[dict]:
    out = []
    for law in dict.fromkeys(r["law"] for r in rows):
        rs = [r for r in rows if r["law"] == law]
        for a, b in itertools.pairwise(rs):
            ratio = np.log(b["n_runs"] / a["n_runs"])
            out.append(
                {
                    "law": law,
                    "from -> to runs": f"{a['n_runs']:,} -> {b['n_runs']:,}",
                    "k warm wall": np.log(b["warm_wall_s"] / a["warm_wall_s"]) / ratio,
                    "k cold wall": np.log(b["cold_wall_s"] / a["cold_wall_s"]) / ratio,
                    "k us/gradient": np.log(b["us_per_grad"] / a["us_per_grad"]) / ratio,
                    "k steps/draw": np.log(b["steps_per_draw"] / a["steps_per_draw"]) / ratio,
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    start = c.header("scaling: bd.fit cost against the number of (SIMULATED) runs", argv)

    if args.quick:
        draws, tune, chains = 100, 100, 2
        plan = [("chinchilla", (100, 300))]
    else:
        draws, tune, chains = 1000, 500, 4  # bd.fit's defaults
        plan = [("chinchilla", (100, 1_000, 10_000)), ("distillation", (300, 3_000))]
    print(f"\nsettings: draws={draws} tune={tune} chains={chains}; runs are SIMULATED")

    rows = []
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": args.seed}
    settings["options"] = c.quick_fit_options(args.quick)
    for law, sizes in plan:
        simulate = c.simulate_distillation if law == "distillation" else c.simulate_supervised
        for n in sizes:
            runs, _ = simulate(n, seed=args.seed)
            print(f"\n{law}: {n:,} simulated runs", flush=True)
            rows.append(one_size(law, runs, **settings))
            print(c.table(rows[-1:]), flush=True)

    print("\n## Summary (all runs SIMULATED)")
    print(c.table(rows))
    print("\nGrowth exponents k (time ~ n_runs**k; k <= 1 is the target for the wall time)")
    print(c.table(exponents(rows)))
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
