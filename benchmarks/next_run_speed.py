"""Latency of ``bd.next_run`` on ten candidate runs and the shipped posterior (target <= 30 s).

The ten candidates are five supervised runs and five distillation runs (four from existing
teachers, one with a teacher trained for the run); the decision is a student of 1.43e8
parameters with 1e21 FLOPs (``teacher_pretraining``, risk tolerance 0.1) on the shipped
8000-draw distillation posterior, with 32 simulated outcomes per candidate. The first call in a
new process (``cold``: it imports ArviZ's statistics, about 5 s) runs in a subprocess; ``warm``
is the best of ``--repeat`` calls after it. The baseline of the same run is one ``bd.recommend``
call for the same decision (the decision ``next_run`` makes once per outcome and candidate).

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

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

import bayes_distill as bd

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warm call, 8 outcomes")
    parser.add_argument("--repeat", type=int, default=3, help="warm calls (default 3)")
    parser.add_argument("--outcomes", type=int, default=32, help="outcomes per candidate")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.outcomes = 1, 8
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
    print(common.table(rows))
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
