"""Does the default ``bd.fit(runs, law="chinchilla")`` converge on the data users bring?

A suite of realistic data sets, each fitted once with ``bd.fit``'s defaults (and a fixed seed):

* **subsets of the bundled runs** (Epoch AI's 240 digitised Chinchilla runs, 40 model sizes):
  all of them, few model sizes (5, 8, 12 spread over the range), few IsoFLOP budgets (the
  runs of 3 or 5 budgets, budgets read from ``6 N D`` rounded to a quarter decade), the weaker
  half by compute, random draws of 30 and 60 runs, the smaller half of the sizes;
* **SIMULATED data sets** (``bd.checks.simulate_runs``, the package's own observation model run
  forwards: per-size offsets of spread ``tau``, Student-t run noise of scale ``sigma``, the
  noise growing with the distance from the centre at the prior median): IsoFLOP designs (a
  ladder of model sizes, each budget training the sizes between 2 and 300 tokens per
  parameter) and over-trained designs (every size at 20 to 1000 tokens per parameter), 30 to
  95 runs, 5 to 15 sizes, with laws whose losses span 0.7 to 4 nats;
* with ``--many``: 10,000 SIMULATED runs (30 sizes, 20 token counts, offsets).

Per data set: wall time, the attempts ``bd.fit`` made (``fit.sampling_report``; actions: f
first pass, c more chains, t more tuning), the draws kept (all chains), R-hat, bulk ESS,
divergences, leapfrog steps per draw (of the kept attempt; ``first_pass``: R-hat, ESS and
divergences of the first) and whether :meth:`ScalingFit.diagnose` passed. The
compiled model is cached per number of model sizes, so the first fit of each size count
includes compilation (column ``compiled``).

Usage (from the repository root)::

    python benchmarks/convergence_suite.py            # the suite (about 5-10 min on 2 cores)
    python benchmarks/convergence_suite.py --many     # and the 10,000-run data set
    python benchmarks/convergence_suite.py --quick    # smoke run (3 data sets, short chains)
    python benchmarks/convergence_suite.py --many --tune 500   # another first-attempt tuning
    python benchmarks/convergence_suite.py --compare-coordinates  # level shares vs the law's own
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

#: Laws of the simulated data sets (natural parameters) and the loss range they give on the
#: designs below: low (0.7-1.3 nats), Epoch AI's fit (1.9-3.5), high (2.9-4).
SIM_LAWS = {
    "low-loss": {"E": 0.62, "A": 60.0, "B": 350.0, "alpha": 0.30, "beta": 0.32},
    "epoch": {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366},
    "high-loss": {"E": 2.9, "A": 40.0, "B": 250.0, "alpha": 0.28, "beta": 0.30},
}


def _sizes(runs: pd.DataFrame) -> np.ndarray:
    """Index of each run's model size (runs within 2% share a size, as in the model)."""
    from bayes_distill import model

    return model.group_runs(np.log(runs["N"].to_numpy(float))).index


def bundled_subsets(seed: int) -> list[tuple[str, pd.DataFrame]]:
    """Subsets of the bundled Chinchilla runs: few sizes, few budgets, few runs."""
    import bayes_distill as bd

    runs = bd.datasets.load("chinchilla")[["N", "D", "loss"]]
    size = _sizes(runs)
    n_sizes = size.max() + 1
    budget = np.round(np.log10(6 * runs["N"] * runs["D"]) * 4) / 4
    counts = budget.value_counts()
    rng = np.random.default_rng(seed)
    out = [("bundled: all 240 runs", runs)]
    for k in (5, 8, 12):
        keep = np.unique(np.round(np.linspace(0, n_sizes - 1, k)).astype(int))
        out.append((f"bundled: {k} sizes spread", runs[np.isin(size, keep)]))
    out.append(("bundled: smaller half of sizes", runs[size < n_sizes // 2]))
    for k in (3, 5):
        keep = counts.index[:k]
        out.append((f"bundled: {k} largest IsoFLOP budgets", runs[budget.isin(keep)]))
    compute = runs["N"] * runs["D"]
    out.append(("bundled: weaker half by compute", runs[compute <= compute.median()]))
    for n in (30, 60):
        idx = np.sort(rng.choice(len(runs), n, replace=False))
        out.append((f"bundled: random {n} runs", runs.iloc[idx]))
    return [(name, r.reset_index(drop=True)) for name, r in out]


def isoflop_design(n_sizes: int, n_budgets: int, lo: float, hi: float) -> pd.DataFrame:
    """IsoFLOP design: a ladder of ``n_sizes`` sizes in ``[lo, hi]``; budgets ``C`` whose
    20-tokens-per-parameter optimum spans the ladder, each training the sizes with
    ``D = C / (6 N)`` between 1 and 1000 tokens per parameter."""
    rows = []
    for C in np.geomspace(120 * lo**2, 120 * hi**2, n_budgets):
        for N in np.geomspace(lo, hi, n_sizes):
            D = C / (6 * N)
            if 1 <= D / N <= 1000:
                rows.append((N, D))
    return pd.DataFrame(rows, columns=["N", "D"])


def overtrained_design(n_sizes: int, ratios: np.ndarray, lo: float, hi: float) -> pd.DataFrame:
    """Every size of a ladder trained at each tokens-per-parameter ratio."""
    N, r = np.meshgrid(np.geomspace(lo, hi, n_sizes), ratios, indexing="ij")
    return pd.DataFrame({"N": N.ravel(), "D": (N * r).ravel()})


#: The simulated designs: name and design (30 to 95 runs, 5 to 15 sizes).
DESIGNS = (
    ("isoflop 6 sizes x 8 budgets", lambda: isoflop_design(6, 8, 5e7, 5e8)),
    ("isoflop 8 sizes x 6 budgets", lambda: isoflop_design(8, 6, 3e7, 1e9)),
    ("isoflop 12 sizes x 6 budgets", lambda: isoflop_design(12, 6, 3e7, 3e9)),
    ("isoflop 15 sizes x 7 budgets", lambda: isoflop_design(15, 7, 5e7, 1e10)),
    (
        "over-trained 5 sizes x 6 ratios",
        lambda: overtrained_design(5, np.geomspace(20, 1000, 6), 5e7, 1e9),
    ),
    (
        "over-trained 10 sizes x 4 ratios",
        lambda: overtrained_design(10, np.geomspace(20, 500, 4), 3e7, 3e9),
    ),
    (
        "over-trained 15 sizes x 6 ratios",
        lambda: overtrained_design(15, np.geomspace(10, 400, 6), 3e7, 7e9),
    ),
)
#: (sigma, tau) of the simulated runs, cycled through the data sets.
NOISE = ((0.005, 0.01), (0.01, 0.02), (0.003, 0.005), (0.01, 0.0))


def simulated_sets(seed: int) -> list[tuple[str, pd.DataFrame]]:
    """SIMULATED data sets: each design with two of the laws, each labelled SIMULATED."""
    out = []
    names = list(SIM_LAWS)
    for i, (design_name, make) in enumerate(DESIGNS):
        for j in range(2):
            k = 2 * i + j
            law_name = names[k % len(names)]
            sigma, tau = NOISE[k % len(NOISE)]
            runs = _simulate(make(), law_name, sigma, tau, seed + k)
            label = f"SIMULATED {design_name}, {law_name} law, sigma {sigma}, tau {tau}"
            out.append((label, runs))
    return out


def _simulate(design: pd.DataFrame, law_name: str, sigma: float, tau: float, seed: int):
    import bayes_distill as bd

    return bd.checks.simulate_runs(
        "chinchilla", SIM_LAWS[law_name], design, sigma=sigma, tau=tau, random_seed=seed
    )


def many_runs(seed: int, n: int = 10_000) -> tuple[str, pd.DataFrame]:
    """``n`` SIMULATED runs: 30 sizes x 20 token counts drawn at random, Epoch's law, offsets."""
    rng = np.random.default_rng(seed)
    design = pd.DataFrame(
        {
            "N": rng.choice(np.geomspace(7e7, 1.6e10, 30), n),
            "D": rng.choice(np.geomspace(2e8, 3e11, 20), n),
        }
    )
    return (f"SIMULATED {n} runs, 30 sizes", _simulate(design, "epoch", 0.01, 0.01, seed))


def fit_row(name: str, runs: pd.DataFrame, seed: int, quick: bool, tune: int | None = None) -> dict:
    import bayes_distill as bd

    mod = c.fit_module()
    n_cached = len(mod._COMPILED_CACHE)
    kwargs = {"draws": 50, "tune": 50, "chains": 2} if quick else {}
    if tune is not None:
        kwargs["tune"] = tune
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with c.Timer() as t:
            fit = bd.fit(runs, law="chinchilla", random_seed=seed, progressbar=False, **kwargs)
    diag = fit.diagnose()
    report = fit.sampling_report
    losses = runs["loss"].to_numpy(float)
    return {
        "data set": name,
        "runs": len(runs),
        "sizes": int(_sizes(runs).max() + 1),
        "loss": f"{losses.min():.2f}-{losses.max():.2f}",
        "wall_s": t.seconds,
        "compiled": len(mod._COMPILED_CACHE) > n_cached,
        "attempts": len(report),
        "actions": ",".join(report["action"].str[0]) if "action" in report else "",
        "draws": int(fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]),
        "first_pass": f"{report['max_rhat'].iloc[0]:.3f}/{report['min_ess_bulk'].iloc[0]:.0f}/"
        f"{int(report['divergences'].iloc[0])}",
        "max_rhat": diag.max_rhat,
        "min_ess_bulk": diag.min_ess_bulk,
        "divergences": diag.divergences,
        **{k: v for k, v in c.nuts_stats(fit).items() if k == "steps_per_draw"},
        "passed": diag.ok,
        "failing": " ".join(sorted(set(diag.bad_rhat) | set(diag.bad_ess))) or "-",
    }


LAW_NAMES = ("log_E", "a", "b", "alpha", "beta")


def compare_row(name: str, runs: pd.DataFrame, seed: int, quick: bool, level_shares: bool):
    """One attempt (``retries=0``) in level-share coordinates or the law's own
    (``model.LEVEL_SHARES``): the law parameters' largest R-hat and smallest bulk ESS."""
    import arviz as az

    import bayes_distill as bd
    from bayes_distill import model

    model.LEVEL_SHARES = level_shares
    kwargs = {"draws": 50, "tune": 50, "chains": 2} if quick else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with c.Timer() as t:
                fit = bd.fit(
                    runs, law="chinchilla", random_seed=seed, progressbar=False, retries=0, **kwargs
                )
    finally:
        model.LEVEL_SHARES = True
    post = fit.dt["posterior"].to_dataset()[list(LAW_NAMES)]
    rhat, ess = az.rhat(post), az.ess(post)
    stats = c.nuts_stats(fit)
    return {
        "data set": name,
        "coordinates": "level shares" if level_shares else "law's own",
        "law_max_rhat": round(max(float(rhat[n]) for n in LAW_NAMES), 3),
        "law_min_ess": round(min(float(ess[n]) for n in LAW_NAMES)),
        "min_ess_all": round(fit.diagnose().min_ess_bulk),
        "divergences": fit.diagnose().divergences,
        "steps_per_draw": stats.get("steps_per_draw"),
        "passed": fit.diagnose().ok,
        "wall_s": round(t.seconds, 2),
    }


def backtest_rows(seeds: tuple[int, ...], quick: bool) -> list[dict]:
    """The Chinchilla backtest (fit the runs below 1e21 FLOPs, predict the 23 above) in both
    coordinates: 90% and 50% coverage and median absolute error of the predictive median."""
    import bayes_distill as bd
    from bayes_distill import model

    runs = bd.datasets.load("chinchilla")
    big = 6 * runs["N"] * runs["D"] >= 1e21
    test = runs[big]
    kwargs = {"draws": 50, "tune": 50, "chains": 2} if quick else {"draws": 500, "tune": 700}
    rows = []
    for seed in seeds:
        for shares in (True, False):
            model.LEVEL_SHARES = shares
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = bd.fit(
                        runs[~big], law="chinchilla", random_seed=seed, progressbar=False, **kwargs
                    )
            finally:
                model.LEVEL_SHARES = True
            row = {"seed": seed, "coordinates": "level shares" if shares else "law's own"}
            for q in (0.9, 0.5):
                pred = fit.predict(test, kind="predictive", ci_prob=q, random_seed=0)
                inside = (test["loss"] >= pred["lower"]) & (test["loss"] <= pred["upper"])
                row[f"coverage_{int(100 * q)}"] = round(float(inside.mean()), 2)
            error = np.abs(pred["median"].to_numpy() / test["loss"].to_numpy() - 1)
            row["median_abs_error_%"] = round(100 * float(np.median(error)), 2)
            row["max_rhat"] = round(fit.diagnose().max_rhat, 3)
            rows.append(row)
    return rows


def compare(sets, seed: int, quick: bool) -> None:
    """``--compare-coordinates``: every data set in both coordinates, then the backtest."""
    rows = []
    for name, runs in sets:
        for shares in (True, False):
            rows.append(compare_row(name, runs, seed, quick, shares))
            print(c.table(rows[-1:]), flush=True)
    print("\n## Coordinates compared (one attempt each)\n")
    print(c.table(rows))
    print("\n## Chinchilla backtest in both coordinates\n")
    print(c.table(backtest_rows((1,) if quick else (1, 2), quick)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 data sets, short chains")
    parser.add_argument("--many", action="store_true", help="add the 10,000-run data set")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="only data sets whose name contains this")
    parser.add_argument(
        "--tune",
        type=int,
        default=None,
        help="tuning steps of the first attempt instead of bd.fit's default (retries double it)",
    )
    parser.add_argument(
        "--compare-coordinates",
        action="store_true",
        help="each data set sampled once in level-share coordinates and once in the law's own, "
        "and the Chinchilla backtest in both",
    )
    args = parser.parse_args(argv)
    start = c.header("convergence_suite: bd.fit defaults on realistic data sets", argv)
    sets = bundled_subsets(args.seed) + simulated_sets(args.seed)
    if args.quick:
        sets = [sets[0], sets[1], sets[-1]]
    if args.many:
        sets.append(many_runs(args.seed))
    sets = [s for s in sets if args.only in s[0]]
    if args.compare_coordinates:
        compare(sets, args.seed, args.quick)
        c.footer(start)
        return 0
    tune = "" if args.tune is None else f", tune={args.tune}"
    print(
        f"\n{len(sets)} data sets; bd.fit(runs, law='chinchilla', random_seed={args.seed}{tune})\n"
    )
    rows = []
    for name, runs in sets:
        rows.append(fit_row(name, runs, args.seed, args.quick, args.tune))
        print(c.table(rows[-1:]), flush=True)
    print("\n## Summary\n")
    print(c.table(rows))
    passed = sum(r["passed"] for r in rows)
    first = sum(r["passed"] and r["attempts"] == 1 for r in rows)
    warm = [r["wall_s"] for r in rows if not r["compiled"]]
    print(
        f"\npassed diagnose(): {passed} of {len(rows)} ({passed / len(rows):.0%}); "
        f"on the first attempt: {first}; median wall time of the fits without compilation: "
        f"{np.median(warm) if warm else float('nan'):.2f} s"
    )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
