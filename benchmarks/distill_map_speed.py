"""Time of the distil-or-train map, ``bd.distill_or_train``, against ``bd.recommend`` per cell.

The map's data used to be one ``bd.recommend`` call per (student, budget) cell; the map now
searches every draw of every cell side by side (each draw's own optimum, as ``bd.crossover``
does). This script times the default 25 x 25 grid in each scenario, and one ``bd.recommend``
call per scenario on the same thinned posterior (the baseline): the ratio says how many
recommendations the whole map costs.

Usage (from the repository root)::

    .venv/bin/python benchmarks/distill_map_speed.py            # shipped posterior, 400 draws
    .venv/bin/python benchmarks/distill_map_speed.py --quick    # a 5 x 5 grid, two scenarios
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

import bayes_distill as bd
from bayes_distill.compute import SCENARIOS
from bayes_distill.plots import _thinned


def timed(fn) -> tuple[float, float, object]:
    """Wall-clock and CPU seconds of one run of ``fn``, and its result."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - start_cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-draws", type=int, default=400, help="draws used (default 400)")
    parser.add_argument("--quick", action="store_true", help="5 x 5 grid, two scenarios")
    args = parser.parse_args(argv)

    fit = bd.datasets.fitted("distillation")
    fit.diagnose()  # once, outside the timings
    small = _thinned(fit, args.max_draws)
    grid = {}
    scenarios = list(SCENARIOS)
    if args.quick:
        grid = {
            "student_params": np.geomspace(1e8, 1e11, 5),
            "compute": np.geomspace(1e19, 1e26, 5),
        }
        scenarios = ["best_case", "teacher_pretraining"]
    load = os.getloadavg()
    print(
        f"distill_or_train: shipped posterior thinned to {small.n_samples} draws; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}"
    )
    print(
        f"{'scenario':<27}{'cells':>6}{'map: wall':>10}{'cpu':>7}{'recommend: cpu':>15}{'ratio':>8}"
    )
    for scenario in scenarios:
        wall, cpu, frame = timed(
            lambda s=scenario: bd.distill_or_train(fit, s, max_draws=args.max_draws, **grid)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bd.ExtrapolationWarning)
            _, one, _ = timed(
                lambda s=scenario: bd.recommend(small, compute=1e22, student_params=1e9, scenario=s)
            )
        print(f"{scenario:<27}{len(frame):>6}{wall:>10.1f}{cpu:>7.1f}{one:>15.3f}{cpu / one:>8.0f}")
    print(
        "ratio = the map's CPU time / one bd.recommend call's (1e9 parameters, 1e22 FLOPs) on "
        "the same draws: the map of one recommendation per cell would cost 'cells' calls."
    )
    if load[0] > (os.cpu_count() or 1):
        print(
            "warning: the load average exceeds the CPU count, so wall times are inflated by "
            "other processes; the cpu column is this process's own time."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
