"""Grouped distillation fits on SIMULATED families: parameter recovery and a one-student family.

Three families (data sets) of one model family, each with supervised runs (the default
supervised design, 48 runs) and distillation runs (the default distillation design: students of
1.4e8, 5.5e8 and 1.8e9 parameters, 3 token counts, 5 teacher losses; 45 runs), SIMULATED by
``bd.checks.simulate_runs`` from a distillation law per family (:data:`FAMILIES`: the paper's
coefficients with each family's floor, amplitudes, ``c0`` and student exponent moved) with 0.5%
run noise. The *target* family's distillation runs are cut to its smallest student (15 runs);
its two larger students (30 runs) are held out and predicted by

* ``grouped, 1 student``: ``bd.fit(..., law="distillation", groups="family",
  supervised_runs=...)`` on every family's supervised runs, the target's 15 distillation runs and
  the two other families' 45;
* ``alone, 3 students``: ``bd.fit`` of the target alone on its 45 distillation runs (the
  baseline: it has seen the held-out students);
* ``alone, 1 student``: ``bd.fit`` of the target alone on its 15 runs.

Each fit uses ``bd.fit``'s defaults (4 chains, 500 tuning steps, 2000 draws, two-stage). The
error is the median over the 30 held-out runs of ``|predicted median / true law - 1|`` (the
SIMULATED law without noise: where a student nearly matches its teacher, the law's loss is
close to ``L_T`` whatever its parameters, and the noise would swamp the differences);
``90% coverage`` is the share of them inside the 90% predictive interval. Parameter recovery:
for the grouped fit, the share of (family, parameter) pairs whose SIMULATED truth lies inside
the 90% posterior interval, per natural parameter of the distillation law.

Usage::

    python benchmarks/groups_distill_study.py             # 2 simulated studies
    python benchmarks/groups_distill_study.py --quick     # smoke run: 1 study, short chains
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

from bayes_distill import laws

#: SIMULATED truth: the families' distillation laws (natural parameters); the target is "C".
FAMILIES = {
    "A": dict(laws.PAPER),
    "B": {**laws.PAPER, "E": 1.10, "A": 3000.0, "c0": 2.3, "alpha_prime": 0.34},
    "C": {**laws.PAPER, "E": 1.35, "B": 20000.0, "c0": 2.8, "alpha_prime": 0.30},
}
TARGET = "C"
NOISE = 0.005
#: The distillation law's own natural parameters whose recovery is reported.
RECOVERED = ("E", "alpha", "beta", "A_prime", "alpha_prime", "gamma_prime", "c0", "f1", "d1")


def simulate_study(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SIMULATED distillation and supervised runs of the three families (column ``family``)."""
    import bayes_distill as bd

    design = bd.checks.default_design("distillation")
    dist, sup = [], []
    for i, (family, p) in enumerate(FAMILIES.items()):
        seeds = np.random.SeedSequence([seed, i]).generate_state(2)
        d = bd.checks.simulate_runs(
            "distillation", p, design, sigma=NOISE, random_seed=int(seeds[0])
        )
        s = bd.checks.simulate_runs(
            "supervised",
            {k: p[k] for k in laws.PARAM_NAMES["supervised"]},
            sigma=NOISE,
            random_seed=int(seeds[1]),
        )
        dist.append(d.assign(family=family))
        sup.append(s.assign(family=family))
    return pd.concat(dist, ignore_index=True), pd.concat(sup, ignore_index=True)


def held_out_scores(fit, held_out: pd.DataFrame) -> tuple[float, float]:
    """Median relative error of the mean law against the SIMULATED law (noise-free) and 90%
    predictive coverage of the observed (noisy) losses on ``held_out``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extrapolation warnings: predicting beyond is the point
        mean = fit.predict(held_out, kind="mean")
        pred = fit.predict(held_out, kind="predictive", ci_prob=0.9, random_seed=0)
    x = held_out
    truth = laws.distillation_loss(x["N_S"], x["D_S"], x["L_T"], **FAMILIES[TARGET])
    error = float(np.median(np.abs(mean["median"].to_numpy() / np.asarray(truth) - 1)))
    loss = held_out["L_S"].to_numpy()
    inside = (pred["lower"].to_numpy() <= loss) & (loss <= pred["upper"].to_numpy())
    return error, float(np.mean(inside))


def recovery(fit) -> dict[str, float]:
    """Per natural parameter, the share of families whose truth is in the 90% interval."""
    out = {}
    for name in RECOVERED:
        hits = []
        for family, truth in FAMILIES.items():
            draws = fit.params[name].sel(law_group=family).values
            lo, hi = np.quantile(draws, [0.05, 0.95])
            hits.append(lo <= truth[name] <= hi)
        out[name] = float(np.mean(hits))
    return out


def one_study(seed: int, *, draws, tune, chains, retries) -> tuple[list[dict], dict]:
    import bayes_distill as bd

    dist, sup = simulate_study(seed)
    target = dist[dist["family"] == TARGET]
    small = target["N_S"] == target["N_S"].min()
    held_out = target[~small].drop(columns="family").reset_index(drop=True)
    target_sup = sup[sup["family"] == TARGET].drop(columns="family")
    variants = {
        "grouped, 1 student": (pd.concat([dist[dist["family"] != TARGET], target[small]]), sup),
        "alone, 3 students": (target.drop(columns="family"), target_sup),
        "alone, 1 student": (target[small].drop(columns="family"), target_sup),
    }
    rows, recovered = [], {}
    for name, (table, sup_table) in variants.items():
        grouped = name.startswith("grouped")
        with warnings.catch_warnings(record=True) as caught, c.Timer() as t:
            warnings.simplefilter("always")
            fit = bd.fit(
                table.reset_index(drop=True),
                law="distillation",
                supervised_runs=sup_table.reset_index(drop=True),
                groups="family" if grouped else None,
                draws=draws,
                tune=tune,
                chains=chains,
                retries=retries,
                random_seed=seed,
                progressbar=False,
            )
        used = fit.for_group(TARGET) if grouped else fit
        error, cover = held_out_scores(used, held_out)
        diag = fit.diagnose()
        lo, hi = np.quantile(used.params["alpha_prime"].values, [0.05, 0.95])
        rows.append(
            {
                "study (seed)": seed,
                "fit": name,
                "target runs": int(len(table) if not grouped else small.sum()),
                "median error": error,
                "90% coverage": cover,
                "alpha' 90% width": hi - lo,
                "converged": diag.ok,
                "max R-hat": diag.max_rhat,
                "min ESS": diag.min_ess_bulk,
                "divergences": diag.divergences,
                "attempts": len(fit.sampling_report),
                "wall s": t.seconds,
                "warnings": len(caught),
            }
        )
        print(c.table(rows[-1:]), flush=True)
        if grouped:
            recovered = recovery(fit)
            print("truth inside the grouped fit's 90% intervals (share of 3 families):")
            print(c.table([recovered]), flush=True)
    return rows, recovered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--studies", type=int, default=2, help="number of simulated studies")
    args = parser.parse_args(argv)
    start = c.header("groups_distill_study: grouped distillation fits on SIMULATED families", argv)
    if args.quick:  # no retries: short chains miss the diagnostics anyway
        draws, tune, chains, retries, seeds = 60, 100, 2, 0, [1]
    else:
        draws, tune, chains, retries = None, None, 4, 2
        seeds = list(range(1, args.studies + 1))
    print(
        f"\nsettings: draws={draws or 'default'} tune={tune or 'default'} chains={chains} "
        f"retries={retries}"
    )
    print(f"families (SIMULATED truth): {FAMILIES}")
    print(f"target {TARGET!r}; noise {NOISE:.1%}")
    rows, recovered = [], []
    for seed in seeds:
        print(f"\n## simulated study, seed {seed}", flush=True)
        study, rec = one_study(seed, draws=draws, tune=tune, chains=chains, retries=retries)
        rows += study
        recovered.append(rec)
    frame = pd.DataFrame(rows)
    summary = frame.groupby("fit", sort=False).agg(
        median_error=("median error", "median"),
        coverage=("90% coverage", "median"),
        alpha_prime_width=("alpha' 90% width", "median"),
        converged=("converged", "sum"),
        fits=("median error", "size"),
    )
    base = summary.loc["alone, 3 students", "median_error"]
    summary["ratio to alone, 3 students"] = summary["median_error"] / base
    print("\n## Summary (all runs SIMULATED): median over studies")
    print(c.table(summary.reset_index().to_dict("records")))
    print("\ntruth inside the grouped fit's 90% intervals, mean over studies and families:")
    print(c.table([pd.DataFrame(recovered).mean().to_dict()]))
    grouped = summary.loc["grouped, 1 student", "median_error"]
    print(
        f"\nThe target family with one student (15 runs), fitted with the two others, predicts "
        f"its two larger students with a median error of {grouped:.2%}, against {base:.2%} for "
        f"a separate fit that saw them: ratio {grouped / base:.2f}; alone, its one student "
        f"gives {summary.loc['alone, 1 student', 'median_error']:.2%}."
    )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
