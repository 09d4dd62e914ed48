"""Partial pooling on SIMULATED IsoFLOP studies: a new family with 10 runs next to two others.

Three families (data sets) of one architecture, each trained at 7 IsoFLOP budgets log-spaced
from 1e17 to 1e20 FLOPs with 10 model sizes per budget (``D = C / (6 N)``), losses SIMULATED
from a Chinchilla law per family plus 0.5% log-normal noise. The families share neither their
floor ``E`` nor their amplitudes; two scenarios set how much their exponents differ
(:data:`SCENARIOS`): ``close`` (within 3%, the situation pooling is for) and ``spread`` (the
target's exponents 6-12% away from the others', so that pooling pulls them the wrong way).

The *target* family has 10 runs, chosen by the design (:data:`DESIGNS`, ``--design``):

* ``one-budget``: the 10 sizes of its smallest budget (one IsoFLOP curve);
* ``two-budgets``: 5 sizes at each of its two smallest budgets (every other size of the 10,
  alternating between the budgets), what a team starting a new family does;
* ``three-budgets``: 4 + 3 + 3 sizes at its three smallest budgets.

For each simulated study (one seed), the target family is predicted at its two largest
budgets (20 runs, never fitted) by

* ``grouped, 10 runs``: ``bd.fit(..., groups="family")`` on the target's 10 runs together with
  the other two families' first 5 budgets (50 runs each);
* ``alone, 50 runs``: ``bd.fit`` on the target's first 5 budgets alone (50 runs), the baseline;
* ``alone, 10 runs``: ``bd.fit`` on the target's 10 runs alone;
* ``bound: 10 runs, true exponents``: not a method but a reference, what the target's 10 runs
  say about its floor and amplitudes when its exponents are known exactly (least squares in
  log loss with the SIMULATED truth's ``alpha`` and ``beta``): the best that borrowing
  exponents from other families can do when the families' floors are not shared.

The error is the median over the 20 held-out runs of ``|predicted median / observed - 1|`` (the
observed losses include the noise), per study; the ratio is grouped over alone-with-50-runs.
``90% coverage`` is the share of the 20 held-out runs inside the fit's 90% predictive interval.
Every fit uses ``bd.fit``'s defaults (4 chains, 500 tuning steps, 1000 draws), so its
diagnostics say whether it converges by default; ``steps/draw`` is the mean number of leapfrog
steps per draw of the attempt kept.

Usage::

    python benchmarks/groups_study.py --scenario close --design two-budgets   # 3 studies
    python benchmarks/groups_study.py --scenario spread --design one-budget
    python benchmarks/groups_study.py --quick             # smoke run: 1 study, short chains
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

#: The families' Chinchilla laws (natural parameters) per scenario; the target is "C".
SCENARIOS = {
    "close": {
        "A": {"E": 1.80, "A": 450.0, "B": 2200.0, "alpha": 0.34, "beta": 0.37},
        "B": {"E": 1.55, "A": 520.0, "B": 1700.0, "alpha": 0.35, "beta": 0.36},
        "C": {"E": 2.00, "A": 380.0, "B": 2600.0, "alpha": 0.33, "beta": 0.37},
    },
    "spread": {
        "A": {"E": 1.80, "A": 450.0, "B": 2200.0, "alpha": 0.34, "beta": 0.37},
        "B": {"E": 1.55, "A": 520.0, "B": 1700.0, "alpha": 0.36, "beta": 0.35},
        "C": {"E": 2.00, "A": 380.0, "B": 2600.0, "alpha": 0.32, "beta": 0.38},
    },
}
TARGET = "C"
BUDGETS = np.geomspace(1e17, 1e20, 7)
SIZES_PER_BUDGET = 10
NOISE = 0.005

#: The target family's 10 fitted runs per design: (budget index, size indices at that budget).
DESIGNS = {
    "one-budget": ((0, tuple(range(10))),),
    "two-budgets": ((0, (0, 2, 4, 6, 8)), (1, (1, 3, 5, 7, 9))),
    "three-budgets": ((0, (0, 3, 6, 9)), (1, (1, 4, 7)), (2, (2, 5, 8))),
}


def simulate_study(seed: int, families: dict) -> pd.DataFrame:
    """SIMULATED IsoFLOP runs of the three families: ``N, D, loss, family, budget``."""
    from bayes_distill import laws

    rng = np.random.default_rng(seed)
    rows = []
    for family, params in families.items():
        for k, budget in enumerate(BUDGETS):
            # model sizes spanning 30x around the budget's compute-optimal size (~20 tokens
            # per parameter), jittered so families do not share sizes exactly
            centre = np.sqrt(budget / (6 * 20))
            N = centre * np.geomspace(1 / 5.5, 5.5, SIZES_PER_BUDGET)
            N = N * np.exp(rng.uniform(-0.05, 0.05, N.size))
            D = budget / (6 * N)
            loss = laws.supervised_loss(N, D, **params) * np.exp(rng.normal(0, NOISE, N.size))
            rows.append(
                pd.DataFrame(
                    {
                        "N": N,
                        "D": D,
                        "loss": loss,
                        "family": family,
                        "budget": k,
                        "size": np.arange(N.size),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def design_runs(target: pd.DataFrame, design: str) -> pd.DataFrame:
    """The target family's fitted runs under ``design`` (:data:`DESIGNS`)."""
    keep = np.zeros(len(target), bool)
    for budget, sizes in DESIGNS[design]:
        keep |= (target["budget"] == budget).values & target["size"].isin(list(sizes)).values
    return target[keep]


def median_error(fit, held_out: pd.DataFrame) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extrapolation warnings: predicting beyond is the point
        pred = fit.predict(held_out, kind="mean")
    return float(np.median(np.abs(pred["median"] / held_out["loss"] - 1)))


def coverage(fit, held_out: pd.DataFrame) -> float:
    """Share of the held-out runs inside the fit's 90% posterior predictive interval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = fit.predict(held_out, kind="predictive", ci_prob=0.9)
    loss = held_out["loss"]
    return float(np.mean((pred["lower"] <= loss) & (loss <= pred["upper"])))


def true_exponent_bound(runs: pd.DataFrame, held_out: pd.DataFrame, params: dict) -> float:
    """Median error of the least-squares ``E, A, B`` of ``runs`` (log loss) with the target's
    true exponents: what its runs alone say about its floor and amplitudes."""
    from scipy.optimize import least_squares

    from bayes_distill import laws

    alpha, beta = params["alpha"], params["beta"]

    def law(log_p, N, D):
        E, A, B = np.exp(log_p)
        return laws.supervised_loss(N, D, E=E, A=A, B=B, alpha=alpha, beta=beta)

    def residuals(log_p):
        return np.log(law(log_p, runs["N"].values, runs["D"].values) / runs["loss"].values)

    start = np.log([2.0, 400.0, 2000.0])  # a generic start, not the truth
    best = least_squares(residuals, start).x
    pred = law(best, held_out["N"].values, held_out["D"].values)
    return float(np.median(np.abs(pred / held_out["loss"].values - 1)))


def one_study(
    seed: int,
    families: dict,
    *,
    draws: int | None,
    tune: int | None,
    chains: int,
    design: str,
    group_priors: dict | None = None,
    grouped_only: bool = False,
) -> list[dict]:
    import bayes_distill as bd

    runs = simulate_study(seed, families)
    target = runs[runs["family"] == TARGET]
    held_out = target[target["budget"] >= len(BUDGETS) - 2].reset_index(drop=True)
    others = runs[(runs["family"] != TARGET) & (runs["budget"] < 5)]
    few = design_runs(target, design)
    variants = {
        "grouped, 10 runs": (pd.concat([others, few]), "family"),
        "alone, 50 runs": (target[target["budget"] < 5], None),
        "alone, 10 runs": (few, None),
    }
    if grouped_only:
        variants = {k: v for k, v in variants.items() if v[1] is not None}
    out = []
    for name, (table, groups) in variants.items():
        with warnings.catch_warnings(record=True) as caught, c.Timer() as t:
            warnings.simplefilter("always")
            fit = bd.fit(
                table.reset_index(drop=True),
                law="chinchilla",
                groups=groups,
                priors=group_priors if groups else None,
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
            )
        used = fit.for_group(TARGET) if groups else fit
        diag = fit.diagnose()
        lo, hi = np.quantile(used.params["alpha"].values, [0.05, 0.95])
        out.append(
            {
                "study (seed)": seed,
                "fit": name,
                "target runs": int((table["family"] == TARGET).sum()),
                "median error": median_error(used, held_out),
                "90% coverage": coverage(used, held_out),
                "alpha 90% width": hi - lo,
                "converged": diag.ok,
                "max R-hat": diag.max_rhat,
                "min ESS": diag.min_ess_bulk,
                "divergences": diag.divergences,
                "steps/draw": c.nuts_stats(fit).get("steps_per_draw", np.nan),
                "attempts": len(fit.sampling_report),
                "wall s": t.seconds,
                "warnings": len(caught),
            }
        )
        print(c.table(out[-1:]), flush=True)
    bound = {
        "study (seed)": seed,
        "fit": "bound: 10 runs, true exponents",
        "target runs": 10,
        "median error": true_exponent_bound(few, held_out, families[TARGET]),
    }
    print(c.table([bound]), flush=True)
    return [*out, bound]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--studies", type=int, default=3, help="number of simulated studies")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="close")
    parser.add_argument(
        "--design",
        choices=list(DESIGNS),
        default="two-budgets",
        help="which 10 runs of the target family are fitted (see the module docstring)",
    )
    parser.add_argument(
        "--seeds", help="comma-separated seeds of the studies (instead of 1..--studies)"
    )
    parser.add_argument(
        "--spread-prior",
        metavar="MEDIAN,SIGMA",
        help="the grouped fit's prior on the exponents' spread between groups, LogNormal(log "
        "MEDIAN, SIGMA) for alpha_sd and beta_sd (default: the package's)",
    )
    parser.add_argument(
        "--grouped-only", action="store_true", help="only the grouped fit (and the reference)"
    )
    parser.add_argument("--draws", type=int, help="draws per chain (default: bd.fit's)")
    parser.add_argument("--tune", type=int, help="tuning steps per chain (default: bd.fit's)")
    args = parser.parse_args(argv)
    group_priors = None
    if args.spread_prior:
        median, sigma = (float(v) for v in args.spread_prior.split(","))
        spread = ("LogNormal", {"mu": float(np.log(median)), "sigma": sigma})
        group_priors = {"alpha_sd": spread, "beta_sd": spread}
    families = SCENARIOS[args.scenario]
    start = c.header("groups_study: partial pooling on SIMULATED IsoFLOP families", argv)
    if args.quick:
        draws, tune, chains, seeds = 60, 60, 2, [1]
    else:
        draws, tune, chains, seeds = None, None, 4, list(range(1, args.studies + 1))
    if args.seeds:
        seeds = [int(v) for v in args.seeds.split(",")]
    draws, tune = args.draws or draws, args.tune or tune
    print(f"\nsettings: draws={draws or 'default'} tune={tune or 'default'} chains={chains}")
    print(f"scenario {args.scenario!r}; families (SIMULATED truth): {families}")
    print(f"target {TARGET!r}; noise {NOISE:.1%}")
    print(f"design {args.design!r}: target's fitted runs (budget, sizes) {DESIGNS[args.design]}")
    print(f"grouped fit's priors: {group_priors or 'the defaults'}")
    rows = []
    for seed in seeds:
        print(f"\n## simulated study, seed {seed}", flush=True)
        rows += one_study(
            seed,
            families,
            draws=draws,
            tune=tune,
            chains=chains,
            design=args.design,
            group_priors=group_priors,
            grouped_only=args.grouped_only,
        )
    frame = pd.DataFrame(rows)
    summary = frame.groupby("fit", sort=False).agg(
        median_error=("median error", "median"),
        coverage=("90% coverage", "median"),
        alpha_width=("alpha 90% width", "median"),
        steps_per_draw=("steps/draw", "median"),
        min_ess=("min ESS", "median"),
        converged=("converged", lambda s: s.sum() if s.notna().any() else np.nan),
        fits=("median error", "size"),
    )
    print("\n## Summary (all runs SIMULATED): median over studies")
    if args.grouped_only:
        print(c.table(summary.reset_index().to_dict("records")))
        c.footer(start)
        return 0
    base = summary.loc["alone, 50 runs", "median_error"]
    summary["ratio to alone, 50 runs"] = summary["median_error"] / base
    print(c.table(summary.reset_index().to_dict("records")))
    grouped = summary.loc["grouped, 10 runs", "median_error"]
    print(
        f"\nThe target family with 10 runs, fitted with the two others, predicts its two largest "
        f"budgets with a median error of {grouped:.2%}, against {base:.2%} for a separate fit "
        f"of 50 runs: ratio {grouped / base:.2f}. Its 10 runs with its true exponents (least "
        f"squares) give {summary.loc['bound: 10 runs, true exponents', 'median_error']:.2%}."
    )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
