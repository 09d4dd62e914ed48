"""Simulation study of ``bd.next_run``: runs it chooses against a standard IsoFLOP grid.

All runs here are SIMULATED (``bd.checks.simulate_runs``) from a known true law, the paper's
Table 6 coefficients (``bd.laws.PAPER``). The decision is ``bd.recommend``'s: how to spend
``--compute`` FLOPs (default 1e20) on a student of ``--student-params`` parameters (default
1.4e8; scenario ``best_case``: the teacher is free and its loss is chosen; risk tolerance 0.1):
distil (from a teacher of the recommended loss, on the recommended tokens) or train the student
on data, whichever has the lower loss at risk.

Each repetition starts from the same small SIMULATED design (three supervised teachers, and
distillation runs of two students from them), fits it (two-stage fit) and then adds one run per
round from a pool of candidate runs, refitting after each:

* ``grid``: the standard IsoFLOP design, done in its usual order (the smallest budget first;
  at each budget the supervised runs of every model size, then the distillation runs of every
  student size from the design's best teacher);
* ``next_run``: the candidate of the same pool ranked first by ``bd.next_run`` (value of
  information for the decision per FLOP; ``--objective``, default ``regret``).

After each round the decision is made on the new posterior and its TRUE regret is computed
under the known law (its true loss minus the best true loss over distillation and supervised
training at that budget). The table reports the regret after each round and the FLOPs each
strategy spent to first reach a regret at or below each of ``--targets`` nats; the ratio is grid
FLOPs / next_run FLOPs (above 1: next_run needed fewer FLOPs). ``--summarise FILE`` prints the
summary of an earlier run's output again (e.g. for other targets) without refitting.

Usage (from the repository root)::

    .venv/bin/python benchmarks/next_run_study.py            # full (about 15-25 min, 2 cores)
    .venv/bin/python benchmarks/next_run_study.py --quick    # seconds-to-minutes smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill.value_of_information import run_flops

TRUTH = dict(laws.PAPER)
SUP_TRUTH = {k: TRUTH[k] for k in laws.PARAM_NAMES["supervised"]}
SCENARIO = "best_case"
RISK = 0.1
SIGMA_SUP = 0.003  # run noise on log loss of the SIMULATED supervised runs
SIGMA_DIST = 0.003  # and of the SIMULATED distillation runs


def simulate(kind: str, design: pd.DataFrame, seed: int) -> pd.DataFrame:
    """SIMULATED runs at ``design`` from the true law (the model's own noise)."""
    if kind == "supervised":
        return bd.checks.simulate_runs(
            "supervised", SUP_TRUTH, design[["N", "D"]], sigma=SIGMA_SUP, random_seed=seed
        )
    return bd.checks.simulate_runs(
        "distillation", TRUTH, design[["N_S", "D_S", "L_T"]], sigma=SIGMA_DIST, random_seed=seed
    )


def initial_design(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight SIMULATED supervised runs (four sizes, 20 and 80 tokens per parameter) and 16
    SIMULATED distillation runs: students of 1.4e8 and 3e8 parameters on four token counts,
    from the teachers of 5.5e8 and 1.8e9 parameters (20 tokens per parameter)."""
    sizes = np.array([1.4e8, 3e8, 5.5e8, 1.8e9])
    design = pd.DataFrame({"N": np.r_[sizes, sizes], "D": np.r_[20 * sizes, 80 * sizes]})
    sup = simulate("supervised", design, seed)
    L_T = sup["loss"].to_numpy()[2:4]
    grid = [
        (N_S, D_S, lt)
        for N_S in (1.4e8, 3e8)
        for D_S in (2.8e9, 5.6e9, 1.1e10, 2.2e10)
        for lt in L_T
    ]
    design = pd.DataFrame(grid, columns=["N_S", "D_S", "L_T"])
    return sup, simulate("distillation", design, seed + 1)


def isoflop_pool(budgets, teacher: dict) -> pd.DataFrame:
    """The IsoFLOP grid: at each budget, supervised runs of four sizes (``D = C / 6N``) and
    distillation runs of three students from ``teacher`` (its logits charged), in grid order."""
    rows = []
    for C in budgets:
        for N in np.geomspace(math.sqrt(C / 6 / 200), math.sqrt(C / 6 / 5), 4):
            rows.append({"kind": "supervised", "N": N, "D": C / (6 * N), "budget": C})
        for N_S in np.geomspace(math.sqrt(C / 6 / 100), math.sqrt(C / 6 / 10), 3):
            D_S = C / (6 * N_S + 2 * teacher["N_T"])
            rows.append({"kind": "distillation", "N_S": N_S, "D_S": D_S, **teacher, "budget": C})
    pool = pd.DataFrame(rows)
    pool["name"] = [f"{r.kind[:4]}#{i}" for i, r in enumerate(pool.itertuples())]
    return pool


def true_optimum(compute: float, N_S: float) -> float:
    """The best true loss at the budget: distillation (the paper's law, its own best allocation)
    or supervised training."""
    point = bd.ScalingFit.from_params("distillation", TRUTH)
    rec = bd.recommend(point, compute=compute, student_params=N_S, scenario=SCENARIO)
    return min(rec.student_loss_mean["median"], rec.supervised_loss_mean["median"])


def true_loss_of_decision(rec) -> tuple[float, str]:
    """The true loss of the decision a recommendation implies: distil as recommended if its
    loss at risk is below the supervised baseline's, otherwise train on data."""
    if rec.student_loss["at_risk"] < rec.supervised_loss["at_risk"]:
        a = rec.allocation
        if SCENARIO == "best_case":  # the teacher's loss is chosen directly
            L_T = rec.teacher_loss["median"]
        else:
            L_T = laws.supervised_loss(a["N_T"], a["D_T"], **SUP_TRUTH)
        return float(laws.distillation_loss(rec.student_params, a["D_S"], L_T, **TRUTH)), "distil"
    L = laws.supervised_loss(rec.student_params, rec.supervised_tokens, **SUP_TRUTH)
    return float(L), "supervised"


def decide(fit, args):
    """The decision of the study on a posterior (``bd.recommend``)."""
    return bd.recommend(
        fit,
        compute=args.compute,
        student_params=args.student_params,
        scenario=SCENARIO,
        risk_tolerance=RISK,
    )


def fit_posterior(sup: pd.DataFrame, dist: pd.DataFrame, args, seed: int):
    return bd.fit(
        dist,
        law="distillation",
        supervised_runs=sup,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=seed,
        progressbar=False,
    )


def add_run(row: pd.Series, sup, dist, seed: int):
    """The SIMULATED outcome of one chosen run, appended to the run tables."""
    if row["kind"] == "supervised":
        new = simulate("supervised", pd.DataFrame([row[["N", "D"]]]), seed)
        return pd.concat([sup, new], ignore_index=True), dist
    new = simulate("distillation", pd.DataFrame([row[["N_S", "D_S", "L_T"]]]), seed)
    return sup, pd.concat([dist, new], ignore_index=True)


def run_strategy(strategy: str, rep: int, args, best: float, pool0: pd.DataFrame, start):
    sup, dist, fit = start
    pool = pool0.copy()
    rows, spent = [], 0.0
    rec = decide(fit, args)
    loss, choice = true_loss_of_decision(rec)
    rows.append(
        {
            "strategy": strategy,
            "rep": rep,
            "round": 0,
            "run": "-",
            "flops": 0.0,
            "regret": loss - best,
            "decision": choice,
            "status": "-",
        }
    )
    for r in range(1, args.rounds + 1):
        if strategy == "grid":
            pick, status = pool.iloc[0], "-"
        else:
            ranked = bd.next_run(
                fit,
                pool.drop(columns="budget"),
                compute=args.compute,
                student_params=args.student_params,
                scenario=SCENARIO,
                risk_tolerance=RISK,
                objective=args.objective,
                n_outcomes=args.outcomes,
                random_seed=rep,
            )
            top = ranked.iloc[0]
            pick, status = pool[pool["name"] == top["name"]].iloc[0], top["status"]
        pool = pool[pool["name"] != pick["name"]]
        spent += run_flops(pick, "paper")
        sup, dist = add_run(pick, sup, dist, seed=1000 * rep + 10 * r + (strategy == "grid"))
        fit = fit_posterior(sup, dist, args, seed=rep * 100 + r)
        rec = decide(fit, args)
        loss, choice = true_loss_of_decision(rec)
        rows.append(
            {
                "strategy": strategy,
                "rep": rep,
                "round": r,
                "run": pick["name"],
                "flops": spent,
                "regret": loss - best,
                "decision": choice,
                "status": status,
            }
        )
        print(
            f"  {strategy} rep {rep} round {r}: {pick['name']} regret {loss - best:.4g} "
            f"({choice}), FLOPs {spent:.3g}",
            flush=True,
        )
    return rows


def flops_to_target(curve: pd.DataFrame, target: float) -> float:
    hit = curve[curve["regret"] <= target]
    return float(hit["flops"].iloc[0]) if len(hit) else math.inf


def summarise(frame: pd.DataFrame, targets: list[float], rounds: int) -> None:
    """Per repetition and regret target: the FLOPs each strategy spent to first reach it, and
    their ratio; then the regret each strategy ends with and the best it reached."""
    rows = []
    for target in targets:
        for rep in sorted(frame["rep"].unique()):
            f = {s: frame[(frame.strategy == s) & (frame.rep == rep)] for s in ("grid", "next_run")}
            g, n = flops_to_target(f["grid"], target), flops_to_target(f["next_run"], target)
            if n > 0 and math.isfinite(n):
                ratio = g / n
            else:
                ratio = math.inf if n == 0 and g > 0 else math.nan
            rows.append(
                {
                    "target": target,
                    "rep": rep,
                    "grid_flops": f"{g:.3g}",
                    "next_run_flops": f"{n:.3g}",
                    "ratio_grid_over_next_run": f"{ratio:.3g}",
                }
            )
    print(
        f"FLOPs to first reach a true regret <= target (nats); inf: not reached within {rounds} "
        "rounds, 0: reached before any run, nan: neither reached it (or both at once)"
    )
    print(common.table(rows))
    ends = []
    for (strategy, rep), f in frame.groupby(["strategy", "rep"]):
        ends.append(
            {
                "strategy": strategy,
                "rep": rep,
                "regret_start": f"{f['regret'].iloc[0]:.4g}",
                "regret_end": f"{f['regret'].iloc[-1]:.4g}",
                "regret_best": f"{f['regret'].min():.4g}",
                "flops_spent": f"{f['flops'].iloc[-1]:.3g}",
            }
        )
    print(common.table(ends))


def read_rounds(path: str) -> pd.DataFrame:
    """The round table of an earlier run's output (``--summarise``)."""
    text = Path(path).read_text()
    section = text.split("## Regret after each round", 1)[1].split("## Summary", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [
        dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True))
        for ln in lines[1:]
        if not ln.startswith("|--") and ln.split("|")[1].strip() in ("grid", "next_run")
    ]
    frame = pd.DataFrame(rows)
    for col in ("rep", "round"):
        frame[col] = frame[col].astype(int)
    for col in ("flops", "regret"):
        frame[col] = frame[col].astype(float)
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, one round, tiny fits")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--outcomes", type=int, default=32)
    parser.add_argument(
        "--objective",
        choices=("regret", "at_risk"),
        default="regret",
        help="what next_run ranks by (default: the reduction of expected regret)",
    )
    parser.add_argument("--compute", type=float, default=1e20)
    parser.add_argument("--student-params", type=float, default=1.4e8)
    parser.add_argument(
        "--targets",
        type=lambda t: [float(x) for x in t.split(",")],
        default=[0.002, 0.005, 0.007],
        help="regret targets in nats, comma-separated (default 0.002,0.005,0.007)",
    )
    parser.add_argument(
        "--summarise",
        metavar="RESULTS",
        help="print the summary of an earlier run's output file instead of running",
    )
    args = parser.parse_args(argv)
    if args.summarise:
        frame = read_rounds(args.summarise)
        print(f"# next_run study: summary of {args.summarise}")
        print(f"command: python {' '.join(argv if argv is not None else sys.argv)}")
        print("\n## Summary")
        summarise(frame, args.targets, int(frame["round"].max()))
        return 0
    if args.quick:
        args.reps, args.rounds, args.draws, args.tune, args.outcomes = 1, 1, 100, 200, 8
    start = common.header("next_run study: value of information vs an IsoFLOP grid", argv)
    print(
        f"SIMULATED runs from the paper's law (bd.laws.PAPER); decision: compute="
        f"{args.compute:.3g}, student_params={args.student_params:.3g}, {SCENARIO}, risk "
        f"tolerance {RISK}; next_run objective {args.objective!r}; fits: {args.chains} chains x "
        f"({args.tune} tune + {args.draws} draws); {args.reps} repetitions x {args.rounds} "
        f"rounds; {args.outcomes} outcomes per candidate",
        flush=True,
    )
    warnings.simplefilter("ignore")  # extrapolation and convergence warnings of tiny fits
    best = true_optimum(args.compute, args.student_params)
    rows = []
    for rep in range(args.reps):
        sup, dist = initial_design(seed=10 * rep)
        teacher = {"N_T": 1.8e9, "L_T": float(sup["loss"].iloc[3])}
        pool = isoflop_pool([1e18, 1e19, 1e20], teacher)
        fit = fit_posterior(sup, dist, args, seed=rep)
        for strategy in ("grid", "next_run"):
            rows += run_strategy(strategy, rep, args, best, pool, (sup, dist, fit))
    frame = pd.DataFrame(rows)
    print("\n## Regret after each round (true regret, nats; FLOPs = cumulative cost of the runs)")
    show = frame.assign(
        flops=frame["flops"].map(lambda x: f"{x:.3g}"),
        regret=frame["regret"].map(lambda x: f"{x:.4g}"),
    )
    print(common.table(show.to_dict("records")))
    print("\n## Summary")
    summarise(frame, args.targets, args.rounds)
    common.footer(start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
