"""The distil-or-train answers of a posterior beside those of the paper's coefficients.

Busbridge et al. (2025) find (F1) that supervised training matches or beats distillation given
enough student compute, the crossover growing with student size, and (F2) that distillation does
not pay when the teacher's pretraining is counted. This prints, per scenario, student size and
budget, the posterior's P(distillation better) (strict, and by the decision margin of 0.01
nats), the median gap distilled - supervised (mean law, nats; negative: distillation better),
the loss at risk and the share of the budget spent, with the paper's Table-6 answer beside it.

Usage (from the repository root)::

    .venv/bin/python benchmarks/paper_findings.py > benchmarks/results/paper_findings.txt
    .venv/bin/python benchmarks/paper_findings.py --fit my_fit.nc --risk-tolerance 0.5
    .venv/bin/python benchmarks/paper_findings.py --quick      # smoke run: one scenario
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

import bayes_distill as bd
from bayes_distill.results import ScalingFit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

BUDGETS = np.logspace(20, 26, 7)
STUDENTS = (1e9, 1e10)
SCENARIOS = ("best_case", "teacher_inference", "teacher_pretraining", "pretraining_and_inference")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", help="a saved fit (default: the shipped distillation posterior)")
    parser.add_argument("--risk-tolerance", type=float, default=0.1)
    parser.add_argument("--quick", action="store_true", help="smoke run: best_case, 1e9, 2 budgets")
    args = parser.parse_args(argv)
    scenarios, students, budgets = SCENARIOS, STUDENTS, BUDGETS
    if args.quick:
        scenarios, students, budgets = ("best_case",), (1e9,), BUDGETS[::6]
    fit = bd.load_fit(args.fit) if args.fit else bd.datasets.fitted("distillation")
    paper = ScalingFit.from_params("distillation", bd.laws.PAPER)
    start = c.header("paper findings: distil-or-train answers beside the paper's coefficients")
    print(f"posterior: {args.fit or 'models/distillation.nc'}; {fit.supervised_source}")
    print(f"risk tolerance {args.risk_tolerance}; gap = distilled - supervised, mean law\n")
    head = (
        f"{'scenario':<26}{'N_S':>7}{'C':>8}{'P':>7}{'P>0.01':>8}{'gap':>9}{'at risk':>9}"
        f"{'spent':>8}{'paper P':>9}{'paper gap':>10}"
    )
    print(head)
    for scenario in scenarios:
        for N_S in students:
            with warnings.catch_warnings():
                # the table is about the answers; beyond the runs they warn, as they should
                warnings.simplefilter("ignore", bd.ConvergenceWarning)
                warnings.simplefilter("ignore", bd.ExtrapolationWarning)
                ours = bd.recommend_sweep(
                    fit, compute=budgets, student_params=N_S, scenario=scenario,
                    risk_tolerance=args.risk_tolerance,
                )  # fmt: skip
            theirs = bd.recommend_sweep(
                paper, compute=budgets, student_params=N_S, scenario=scenario, risk_tolerance=0.5
            )
            for i, C in enumerate(budgets):
                o, t = ours.iloc[i], theirs.iloc[i]
                gap = o["student_loss_mean_median"] - o["supervised_loss_mean_median"]
                tgap = t["student_loss_mean_median"] - t["supervised_loss_mean_median"]
                print(
                    f"{scenario:<26}{N_S:>7.0e}{C:>8.0e}{o['p_distillation_better']:>7.3f}"
                    f"{o['p_distillation_better_by_margin']:>8.3f}{gap:>+9.4f}"
                    f"{o['student_loss_at_risk']:>9.4f}{o['compute_spent'] / C:>8.2g}"
                    f"{t['p_distillation_better']:>9.0f}{tgap:>+10.4f}"
                )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
