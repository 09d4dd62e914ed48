"""Latency of ``bd.next_run`` on ten candidate runs and the shipped posterior (target <= 30 s).

The ten candidates are five supervised runs and five distillation runs (four from existing
teachers, one with a teacher trained for the run); the decision is a student of 1.43e8
parameters with 1e21 FLOPs (``teacher_pretraining``, risk tolerance 0.1) on the shipped
8000-draw distillation posterior, with 32 simulated outcomes per candidate. The first call in a
new process (``cold``: it imports ArviZ's statistics, about 5 s) runs in a subprocess; ``warm``
is the best of ``--repeat`` calls after it. The baseline of the same run is one ``bd.recommend``
call for the same decision (the decision ``next_run`` makes once per outcome and candidate).

With the default ``refit="auto"``, ``next_run`` refits candidates whose reweighted draws cannot
be trusted (at most ``max_refits=4`` short fits per call). None of these ten candidates needs
one on the shipped posterior, so the calls above make no refit; the script also times one
refit of the shipped posterior with a simulated run added (``refit``, after a first refit that
fills the compiled-model cache), the price of each refit a call makes.

Usage (from the repository root)::

    .venv/bin/python benchmarks/next_run_speed.py
    .venv/bin/python benchmarks/next_run_speed.py --quick    # one warm call, 8 outcomes
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

import bayes_distill as bd
from bayes_distill import outcome_refits

TARGET = 30.0  # seconds for ten candidates
DECISION = {"compute": 1e21, "student_params": 1.43e8, "scenario": "teacher_pretraining"}
CANDIDATES = pd.DataFrame(
    [
        {"kind": "supervised", "N": 5e9, "D": 1e11},
        {"kind": "supervised", "N": 1e10, "D": 2e11},
        {"kind": "supervised", "N": 2e10, "D": 4e11},
        {"kind": "supervised", "N": 3e10, "D": 6e11},
        {"kind": "supervised", "N": 1.26e10, "D": 1e12},
        {"N_S": 1.43e8, "D_S": 1e11, "N_T": 1.26e10, "L_T": 1.9},
        {"N_S": 1.43e8, "D_S": 3e11, "N_T": 1.26e10, "L_T": 1.9},
        {"N_S": 1.43e8, "D_S": 1e11, "N_T": 2.72e9, "L_T": 2.03},
        {"N_S": 1.43e8, "D_S": 3e10, "N_T": 5.46e8, "L_T": 2.27},
        {"N_S": 1.43e8, "D_S": 1e11, "N_T": 1e10, "D_T": 2e11},
    ]
)


def timed(fn) -> tuple[float, float, object]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def cold_seconds(n_outcomes: int) -> float:
    """Wall time of the first ``next_run`` call in a new process (after loading the fit)."""
    code = (
        "import sys, time, warnings; warnings.simplefilter('ignore');"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r});"
        "import bayes_distill as bd, next_run_speed as s;"
        "fit = bd.datasets.fitted('distillation'); t = time.perf_counter();"
        f"bd.next_run(fit, s.CANDIDATES, **s.DECISION, n_outcomes={n_outcomes});"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def refit_seconds(fit) -> float:
    """Wall time of one refit of ``fit`` with a distillation run SIMULATED from the paper's law
    added (the second of two: the first fills the compiled-model cache)."""
    row = {"kind": "distillation", "N_S": 1.43e8, "D_S": 1e11, "N_T": 2.72e9, "L_T": 2.03}
    design = pd.DataFrame([{k: row[k] for k in ("N_S", "D_S", "L_T")}])
    run = bd.checks.simulate_runs("distillation", bd.laws.PAPER, design, random_seed=0)
    outcome = {"y": float(np.log(run["L_S"].iloc[0])), "L_T": row["L_T"]}
    outcome_refits.refit_with_run(fit, row, outcome, random_seed=1)
    return timed(lambda: outcome_refits.refit_with_run(fit, row, outcome, random_seed=2))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warm call, 8 outcomes")
    parser.add_argument("--repeat", type=int, default=3, help="warm calls (default 3)")
    parser.add_argument("--outcomes", type=int, default=32, help="outcomes per candidate")
    parser.add_argument("--no-refit", action="store_true", help="do not time a refit")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.outcomes, args.no_refit = 1, 8, True
    start = common.header("next_run latency: ten candidates, shipped posterior", argv)
    warnings.simplefilter("ignore")  # extrapolation warnings of the candidates
    fit = bd.datasets.fitted("distillation")
    print(
        f"posterior: shipped models/distillation.nc ({fit.n_samples} draws); decision "
        f"{DECISION}; {len(CANDIDATES)} candidates, {args.outcomes} outcomes each",
        flush=True,
    )
    cold = None if args.quick else cold_seconds(args.outcomes)
    rec_wall = min(timed(lambda: bd.recommend(fit, **DECISION))[0] for _ in range(3))
    runs = [
        timed(lambda: bd.next_run(fit, CANDIDATES, **DECISION, n_outcomes=args.outcomes))
        for _ in range(args.repeat)
    ]
    wall, cpu, table = min(runs, key=lambda r: r[0])
    refit = None if args.no_refit else refit_seconds(fit)
    rows = [
        {"call": "bd.recommend (baseline)", "wall_s": f"{rec_wall:.2f}", "ratio_to_baseline": "1"}
    ]
    if cold is not None:
        rows.append(
            {
                "call": "bd.next_run, cold (new process)",
                "wall_s": f"{cold:.2f}",
                "ratio_to_baseline": f"{cold / rec_wall:.1f}",
            }
        )
    rows.append(
        {
            "call": f"bd.next_run, warm (best of {args.repeat}; cpu {cpu:.1f} s)",
            "wall_s": f"{wall:.2f}",
            "ratio_to_baseline": f"{wall / rec_wall:.1f}",
        }
    )
    if refit is not None:
        rows.append(
            {
                "call": "one refit (shipped runs + 1 simulated run, 2 x 200 draws)",
                "wall_s": f"{refit:.2f}",
                "ratio_to_baseline": f"{refit / rec_wall:.1f}",
            }
        )
    print(common.table(rows))
    print(f"refits made by the warm call: {int(table['n_refits'].sum())}")
    print("\n## Summary")
    worst = max(wall, cold or 0.0)
    print(
        f"slowest next_run on ten candidates: {worst:.1f} s = {worst / TARGET:.2f} x the "
        f"{TARGET:g} s target -> {'OK' if worst <= TARGET else 'TOO SLOW'}"
    )
    print(f"ranking (warm call): {list(table['name'][:3])} ...")
    common.footer(start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
