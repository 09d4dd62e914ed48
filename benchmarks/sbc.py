"""Simulation-based calibration of the default model of each law.

For every law, ``--n-datasets`` data sets are simulated on the law's default run design
(:func:`bayes_distill.checks.default_design`) from parameters drawn from the default prior (or
fixed at the published values with ``--truth paper``), each is fitted with NUTS, and the share
of data sets whose equal-tailed 90% credible interval covers the true value is reported per
parameter, with the mean normalised rank of the truth (0.5 when calibrated) and a binomial
range for the coverage a calibrated model would show with this many data sets.

Usage (from the repository root)::

    .venv/bin/python benchmarks/sbc.py                          # all laws, 40/40/20 data sets
    .venv/bin/python benchmarks/sbc.py --laws chinchilla --n-datasets 100 --csv sbc.csv

The tests run a few data sets per law (tests/test_calibration.py, marked slow); this is the larger
study whose numbers are in docs/validation.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from bayes_distill import checks

DEFAULT_N = {"chinchilla": 40, "supervised": 40, "distillation": 20}


def binomial_range(n: int, p: float = 0.9, prob: float = 0.95) -> tuple[float, float]:
    """Central ``prob`` range of the observed coverage of a calibrated model over ``n`` sets."""
    lo, hi = stats.binom.ppf([(1 - prob) / 2, (1 + prob) / 2], n, p)
    return lo / n, hi / n


def run(law: str, n_datasets: int, args: argparse.Namespace) -> checks.SBCResult:
    start = time.perf_counter()

    def progress(i: int, rows: pd.DataFrame) -> None:
        elapsed = time.perf_counter() - start
        print(
            f"  [{law}] data set {i + 1}/{n_datasets}: {rows['covered'].mean():.0%} covered, "
            f"converged={bool(rows['converged'].iloc[0])}, "
            f"divergences={int(rows['divergences'].iloc[0])}, {elapsed:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    return checks.sbc(
        law,
        n_datasets=n_datasets,
        truth=args.truth,
        ci_prob=args.ci_prob,
        random_seed=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        callback=progress,
    )


def report(res: checks.SBCResult, seconds: float) -> str:
    n = res.n_datasets
    lo, hi = binomial_range(n, res.ci_prob)
    conv = res.table.drop_duplicates("dataset")
    lines = [
        f"## {res.law}: {n} data sets (truth: {res.truth}), {res.ci_prob:.0%} intervals, "
        f"{seconds:.0f} s",
        f"fits that passed the diagnostics: {int(conv['converged'].sum())}/{n}; "
        f"data sets with divergences: {int((conv['divergences'] > 0).sum())}/{n}; "
        f"implausible simulations redrawn: {res.n_rejected}",
        f"a calibrated model shows a coverage in [{lo:.2f}, {hi:.2f}] (95% binomial range)",
        "",
        f"| {'parameter':<14} | coverage | mean rank |",
        f"|{'-' * 16}|----------|-----------|",
    ]
    for name, row in res.coverage.iterrows():
        flag = "" if lo <= row["coverage"] <= hi else " *"
        lines.append(f"| {name:<14} | {row['coverage']:>8.2f} | {row['mean_rank']:>9.2f} |{flag}")
    lines.append(f"| {'all':<14} | {res.overall:>8.2f} |           |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", nargs="+", default=list(DEFAULT_N), choices=list(DEFAULT_N))
    parser.add_argument("--n-datasets", type=int, default=None, help="per law (default 40/40/20)")
    parser.add_argument("--truth", choices=("prior", "paper"), default="prior")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--ci-prob", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default=None, help="write every (data set, parameter) row")
    args = parser.parse_args(argv)

    print(f"# Simulation-based calibration ({platform.python_version()}, {platform.machine()})")
    print(
        f"settings: draws={args.draws}, tune={args.tune}, chains={args.chains}, "
        f"seed={args.seed}, truth={args.truth}\n"
    )
    tables = []
    for law in args.laws:
        n = args.n_datasets or DEFAULT_N[law]
        start = time.perf_counter()
        res = run(law, n, args)
        print(report(res, time.perf_counter() - start), "\n", flush=True)
        tables.append(res.table.assign(law=law))
    if args.csv:
        pd.concat(tables, ignore_index=True).to_csv(args.csv, index=False)
        print(f"rows written to {args.csv}")
    summary = pd.concat(tables).groupby("law", sort=False)["covered"].agg(["mean", "size"])
    print("overall coverage per law (all parameters pooled):")
    for law, row in summary.iterrows():
        print(f"  {law:<13} {row['mean']:.3f} over {int(row['size'])} intervals")
    ok = bool(np.all((summary["mean"] >= 0.80) & (summary["mean"] <= 0.97)))
    print(f"within the issue's 80-97% target: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
