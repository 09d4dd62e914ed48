"""Simulation study of ``bd.next_run``: runs it chooses against a standard IsoFLOP grid.

All runs here are SIMULATED (``bd.checks.simulate_runs``) from a known true law, the paper's
Table 6 coefficients (``bd.laws.PAPER``). The decision is ``bd.recommend``'s: how to spend
``--compute`` FLOPs (default 1e20) on a student of ``--student-params`` parameters (default
1.4e8; scenario ``best_case``: the teacher is free and its loss is chosen; risk tolerance 0.1):
distil (from a teacher of the recommended loss, on the recommended tokens) or train the student
on data, whichever has the lower loss at risk.

Each repetition starts from its own small SIMULATED design (eight supervised runs, and
distillation runs of two students from two of them), fits it (two-stage fit, no retries) and
then adds one run per round from a pool of 21 candidate runs, refitting after each:

* ``grid``: the standard IsoFLOP design at budgets 1e18, 1e19 and 1e20 FLOPs per run, done in
  its usual order (the smallest budget first; at each budget the supervised runs of four model
  sizes, then the distillation runs of three student sizes from the design's best teacher).
  Each run's tokens make it cost exactly its budget as the study charges it (``run_flops``);
* ``next_run``: the candidate of the same pool ranked first by ``bd.next_run`` with its
  default settings (value of information for the decision per FLOP, values that clear their
  Monte Carlo error first; candidates whose reweighted draws fail are refitted, at most four
  refits per call; ``--objective``, default ``regret``).

After each round the decision is made on the new posterior and its TRUE regret is computed
under the known law (its true loss minus the best true loss over distillation and supervised
training at that budget). The summary, over the repetitions, gives:

* the mean true regret of each strategy after each round;
* the regret at equal FLOPs: after each grid round, next_run's regret after its last round
  that spent no more than the grid had (paired difference, bootstrap interval);
* the FLOPs each strategy spent to first reach a regret at or below each of ``--targets``
  nats, and their ratio grid FLOPs / next_run FLOPs (above 1: next_run needed fewer), with its
  median over repetitions, the distribution-free interval of that median and a sign test.

``--screen K`` shows, instead of the study, the decision on the first K starting designs'
fits at several budgets and student sizes with its true regret: the study's decision should be
one the starting design gets wrong by more than refits of the same data move it
(``--refit-noise``), or no run can show its value.

``--summarise FILE`` prints the summary of an earlier run's output again (e.g. for other
targets) without refitting; given the progress log (stderr) of a run, finished or not, it
summarises the repetitions both strategies have finished. Progress goes to stderr.

Usage (from the repository root)::

    .venv/bin/python benchmarks/next_run_study.py            # full (hours at load 10, 2 cores)
    .venv/bin/python benchmarks/next_run_study.py --quick    # smoke run, about a minute
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import re
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill._parallel import run_tasks
from bayes_distill.cli import SCENARIOS
from bayes_distill.value_of_information import run_flops

TRUTH = dict(laws.PAPER)
SUP_TRUTH = {k: TRUTH[k] for k in laws.PARAM_NAMES["supervised"]}
SCENARIO = "best_case"
RISK = 0.1
SIGMA_SUP = 0.003  # run noise on log loss of the SIMULATED supervised runs
SIGMA_DIST = 0.003  # and of the SIMULATED distillation runs
BUDGETS = (1e18, 1e19, 1e20)  # the IsoFLOP grid's budgets (FLOPs per run)
SCREEN_STUDENTS = (1.4e8, 3e8)  # the decisions --screen shows: the design's two students
SCREEN_COMPUTE = (1e20, 1e21, 3e21, 1e22, 3e22)  # at these budgets (FLOPs)


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
    """The IsoFLOP grid: at each budget ``C``, supervised runs of four sizes and distillation
    runs of three students from ``teacher``, in grid order. Each run's tokens are those that
    make it cost exactly ``C`` as the study charges it (``run_flops``, the paper's FLOP count,
    the teacher's logits included), so a run at budget ``C`` costs ``C``."""
    rows = []
    for C in budgets:
        for N in np.geomspace(math.sqrt(C / 6 / 200), math.sqrt(C / 6 / 5), 4):
            per_token = run_flops({"kind": "supervised", "N": N, "D": 1.0}, "paper")
            rows.append({"kind": "supervised", "N": N, "D": C / per_token, "budget": C})
        for N_S in np.geomspace(math.sqrt(C / 6 / 100), math.sqrt(C / 6 / 10), 3):
            row = {"kind": "distillation", "N_S": N_S, "D_S": 1.0, **teacher}
            D_S = C / run_flops(row, "paper")
            rows.append({**row, "D_S": D_S, "budget": C})
    pool = pd.DataFrame(rows)
    pool["name"] = [f"{r.kind[:4]}#{i}" for i, r in enumerate(pool.itertuples())]
    return pool


@functools.cache
def true_recommendation(compute: float, N_S: float, scenario: str = SCENARIO):
    """``bd.recommend`` under the true law (the paper's law as a point fit: its own best
    allocation), once per budget, student and scenario."""
    point = bd.ScalingFit.from_params("distillation", TRUTH)
    return bd.recommend(point, compute=compute, student_params=N_S, scenario=scenario)


def true_optimum(compute: float, N_S: float, scenario: str = SCENARIO) -> float:
    """The best true loss at the budget: distillation or supervised training."""
    rec = true_recommendation(compute, N_S, scenario)
    return min(rec.student_loss_mean["median"], rec.supervised_loss_mean["median"])


def true_loss_of_decision(rec) -> tuple[float, str]:
    """The true loss of the decision a recommendation implies: distil as recommended if its
    loss at risk is below the supervised baseline's, otherwise train on data."""
    if rec.student_loss["at_risk"] < rec.supervised_loss["at_risk"]:
        a = rec.allocation
        if rec.scenario == "best_case":  # the teacher's loss is chosen directly
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
        scenario=args.scenario,
        risk_tolerance=args.risk,
    )


def fit_posterior(sup: pd.DataFrame, dist: pd.DataFrame, args, seed: int):
    """A two-stage fit of the runs so far, without retries (the study records the decision
    each fit leads to, converged or not)."""
    return bd.fit(
        dist,
        law="distillation",
        supervised_runs=sup,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=seed,
        retries=0,
        progressbar=False,
    )


def add_run(row: pd.Series, sup, dist, seed: int):
    """The SIMULATED outcome of one chosen run, appended to the run tables."""
    if row["kind"] == "supervised":
        new = simulate("supervised", pd.DataFrame([row[["N", "D"]]]), seed)
        return pd.concat([sup, new], ignore_index=True), dist
    new = simulate("distillation", pd.DataFrame([row[["N_S", "D_S", "L_T"]]]), seed)
    return sup, pd.concat([dist, new], ignore_index=True)


def pick_next(strategy: str, fit, pool: pd.DataFrame, rep: int, args) -> tuple[pd.Series, str]:
    """The run a strategy does next: the grid's next run, or ``bd.next_run``'s first."""
    if strategy == "grid":
        return pool.iloc[0], "-"
    ranked = bd.next_run(
        fit,
        pool.drop(columns="budget"),
        compute=args.compute,
        student_params=args.student_params,
        scenario=args.scenario,
        risk_tolerance=args.risk,
        objective=args.objective,
        n_outcomes=args.outcomes,
        random_seed=rep,
    )
    top = ranked.iloc[0]
    return pool[pool["name"] == top["name"]].iloc[0], top["status"]


def run_strategy(strategy: str, rep: int, args, best: float, pool0: pd.DataFrame, start):
    """The rounds of one strategy in one repetition: the true regret after each.

    Common random numbers keep the two strategies' differences down to their choices: both
    start from the same fit, the refit after round ``r`` has the same seed for both, and a run
    has the same SIMULATED outcome whichever strategy does it (its seed is the run's place in
    the pool)."""
    sup, dist, fit = start
    pool = pool0.copy()
    rows, spent = [], 0.0
    loss, choice = true_loss_of_decision(decide(fit, args))
    base = {"strategy": strategy, "rep": rep}
    rows.append(
        {
            **base,
            "round": 0,
            "run": "-",
            "flops": 0.0,
            "regret": loss - best,
            "decision": choice,
            "status": "-",
        }
    )
    print(f"  {strategy} rep {rep} round 0: regret {loss - best:.4g} ({choice})", file=sys.stderr)
    for r in range(1, args.rounds + 1):
        pick, status = pick_next(strategy, fit, pool, rep, args)
        pool = pool[pool["name"] != pick["name"]]
        spent += run_flops(pick, "paper")
        seed = 1000 * rep + int(pick["name"].split("#")[1])
        sup, dist = add_run(pick, sup, dist, seed=seed)
        fit = fit_posterior(sup, dist, args, seed=rep * 100 + r)
        loss, choice = true_loss_of_decision(decide(fit, args))
        rows.append(
            {
                **base,
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
            f"({choice}), FLOPs {spent:.3g}" + ("" if status == "-" else f" [{status}]"),
            file=sys.stderr,
            flush=True,
        )
    return rows


def run_repetition(rep: int, args, best: float) -> list[dict]:
    """One repetition: a SIMULATED starting design, its fit, then both strategies' rounds."""
    warnings.simplefilter("ignore")  # extrapolation and convergence warnings of small fits
    sup, dist = initial_design(seed=10 * rep)
    teacher = {"N_T": 1.8e9, "L_T": float(sup["loss"].iloc[3])}
    pool = isoflop_pool(BUDGETS, teacher)
    fit = fit_posterior(sup, dist, args, seed=rep)
    rows = []
    for strategy in ("grid", "next_run"):
        rows += run_strategy(strategy, rep, args, best, pool, (sup, dist, fit))
    return rows


# --------------------------------------------------------------------------------------------
# summaries over repetitions


def flops_to_target(curve: pd.DataFrame, target: float) -> float:
    hit = curve[curve["regret"] <= target]
    return float(hit["flops"].iloc[0]) if len(hit) else math.inf


def median_interval(values: np.ndarray, level: float = 0.9) -> tuple[float, float, float]:
    """The median of ``values`` and the distribution-free interval for it from order
    statistics (the sign test's interval: ``[x_(l), x_(n+1-l)]`` covers the median with
    probability at least ``level``). Infinite values are allowed (censored ratios); with an
    even number of values of which some are infinite, the median is the lower middle one."""
    x = np.sort(np.asarray(values, float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    med = float(np.median(x)) if np.all(np.isfinite(x)) else float(x[(n - 1) // 2])
    # the largest l with P(l <= B(n, 1/2) <= n - l) >= level
    ls = [k for k in range(1, n // 2 + 1) if 1 - 2 * stats.binom.cdf(k - 1, n, 0.5) >= level]
    if not ls:
        return med, -math.inf, math.inf
    lo = max(ls)
    return med, float(x[lo - 1]), float(x[n - lo])


def parse_target(text: str) -> str:
    """A regret target: nats (``0.002``) or a fraction of the starting regret (``0.5x``)."""
    try:
        value = float(text[:-1] if text.endswith("x") else text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"target {text!r} is not a positive number of nats (e.g. 0.002) or a positive "
            "fraction of the starting regret (e.g. 0.5x)"
        )
    return text


def target_table(frame: pd.DataFrame, targets: list[str]) -> tuple[list[dict], list[dict]]:
    """FLOPs to first reach each regret target, per repetition, and their ratio summarised.

    A target ending in ``x`` is that fraction of the repetition's starting regret (the same
    for both strategies, which start from the same fit)."""
    per_rep, summary = [], []
    reps = sorted(frame["rep"].unique())
    for spec in targets:
        ratios, at_start, neither = [], 0, 0
        for rep in reps:
            f = {s: frame[(frame.strategy == s) & (frame.rep == rep)] for s in ("grid", "next_run")}
            start = float(f["grid"].sort_values("round")["regret"].iloc[0])
            target = float(spec[:-1]) * start if spec.endswith("x") else float(spec)
            g, n = flops_to_target(f["grid"], target), flops_to_target(f["next_run"], target)
            if g == 0 and n == 0:
                at_start, ratio = at_start + 1, math.nan
            elif math.isinf(g) and math.isinf(n):
                neither, ratio = neither + 1, math.nan
            else:
                ratio = math.inf if math.isinf(g) else (0.0 if math.isinf(n) else g / n)
                ratios.append(ratio)
            per_rep.append(
                {
                    "target": spec,
                    "rep": rep,
                    "nats": target,
                    "grid": g,
                    "next_run": n,
                    "ratio": ratio,
                }
            )
        r = np.array(ratios)
        med, lo, hi = median_interval(r)
        more, fewer = int(np.sum(r > 1)), int(np.sum(r < 1))
        p = stats.binomtest(more, more + fewer, 0.5).pvalue if more + fewer else math.nan
        summary.append(
            {
                "target": spec,
                "reps_compared": len(r),
                "both_at_start": at_start,
                "neither_reached": neither,
                "next_run_fewer_FLOPs": more,
                "grid_fewer_FLOPs": fewer,
                "median_ratio": f"{med:.3g}",
                "90%_interval": f"[{lo:.3g}, {hi:.3g}]",
                "sign_test_p": f"{p:.2g}",
            }
        )
    return per_rep, summary


def paired_interval(diff: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """90% bootstrap interval (percentile, 10,000 resamples) of the mean of paired differences."""
    if len(diff) < 2 or np.ptp(diff) == 0:
        return float(np.mean(diff)), float(np.mean(diff))
    res = stats.bootstrap(
        (diff,),
        np.mean,
        confidence_level=0.9,
        n_resamples=10_000,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def regret_at(curve: pd.DataFrame, flops: float) -> float:
    """The regret after the last round whose cumulative FLOPs are within ``flops``."""
    within = curve[curve["flops"] <= flops * (1 + 1e-9)]
    return float(within["regret"].iloc[-1])


def round_tables(frame: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """Mean true regret of each strategy after each round, and at the grid's cumulative FLOPs
    after each of its rounds (next_run's regret after its last round within that spend)."""
    by_round, equal = [], []
    reps = sorted(frame["rep"].unique())
    curves = {
        (s, rep): frame[(frame.strategy == s) & (frame.rep == rep)].sort_values("round")
        for s in ("grid", "next_run")
        for rep in reps
    }
    for r in sorted(frame["round"].unique()):
        row = {"round": r}
        for s in ("grid", "next_run"):
            reg = np.array([curves[s, rep]["regret"].iloc[r] for rep in reps])
            fl = np.array([curves[s, rep]["flops"].iloc[r] for rep in reps])
            row[f"{s}_regret_mean"] = f"{reg.mean():.4g}"
            row[f"{s}_regret_se"] = f"{reg.std(ddof=1) / math.sqrt(len(reg)):.2g}"
            row[f"{s}_FLOPs_median"] = f"{np.median(fl):.3g}"
        by_round.append(row)
        if r == 0:
            continue
        g_flops = np.array([curves["grid", rep]["flops"].iloc[r] for rep in reps])
        g = np.array([curves["grid", rep]["regret"].iloc[r] for rep in reps])
        n = np.array(
            [regret_at(curves["next_run", rep], f) for rep, f in zip(reps, g_flops, strict=True)]
        )
        diff = g - n
        lo, hi = paired_interval(diff)
        equal.append(
            {
                "grid_round": r,
                "grid_FLOPs": f"{np.median(g_flops):.3g}",
                "grid_regret_mean": f"{g.mean():.4g}",
                "next_run_regret_mean": f"{n.mean():.4g}",
                "diff_mean": f"{diff.mean():.4g}",
                "diff_90%_bootstrap": f"[{lo:.3g}, {hi:.3g}]",
                "next_run_lower": int(np.sum(diff > 0)),
                "grid_lower": int(np.sum(diff < 0)),
                "ties": int(np.sum(diff == 0)),
            }
        )
    return by_round, equal


def summarise(frame: pd.DataFrame, targets: list[str], rounds: int) -> None:
    """Print the study's summary tables over the repetitions."""
    n_reps = frame["rep"].nunique()
    by_round, equal = round_tables(frame)
    print(f"\nMean true regret (nats) after each round over {n_reps} repetitions (se: standard")
    print("error of the mean), and the median cumulative FLOPs spent")
    print(common.table(by_round))
    print(
        "\nAt equal FLOPs: each strategy's true regret once next_run has spent at most what "
        "the grid spent\nafter each of its rounds (next_run's regret after its last round "
        "within that spend; round 0 if\nits first pick already cost more); diff = grid - "
        "next_run (above 0: next_run lower), paired\nover repetitions, 90% percentile "
        "bootstrap interval of the mean"
    )
    print(common.table(equal))
    per_rep, summary = target_table(frame, targets)
    print(
        f"\nFLOPs to first reach a true regret <= target within {rounds} rounds (target: nats, "
        "or with x a fraction of\nthe repetition's starting regret); ratio = "
        "grid FLOPs / next_run FLOPs\n(above 1: next_run needed fewer). A strategy that never "
        "reached the target counts as needing more\n(ratio inf or 0, censored at the last "
        "round); repetitions that start at or below the target, or\nwhere neither reached "
        "it, have no ratio. Median ratio with its distribution-free 90% interval\n(order "
        "statistics, the sign test's interval) and the two-sided sign test of 'ratio > 1' vs "
        "'< 1'"
    )
    print(common.table(summary))
    show = [
        {
            **r,
            "nats": f"{r['nats']:.3g}",
            "grid": f"{r['grid']:.3g}",
            "next_run": f"{r['next_run']:.3g}",
            "ratio": f"{r['ratio']:.3g}",
        }
        for r in per_rep
    ]
    print("\nPer repetition (inf: not reached; 0: reached before any run)")
    print(common.table(show))


#: A progress line on stderr: ``  next_run rep 3 round 2: dist#12 regret 0.0075 (distil), FLOPs
#: 1e+19`` (round 0: no run and no FLOPs; a ``[status]`` of next_run's pick may follow).
PROGRESS = re.compile(
    r"^\s*(?P<strategy>grid|next_run) rep (?P<rep>\d+) round (?P<round>\d+): "
    r"(?:(?P<run>\S+) )?regret (?P<regret>\S+) \((?P<decision>\w+)\)"
    r"(?:, FLOPs (?P<flops>\S+))?"
)


def read_progress(text: str) -> pd.DataFrame:
    """The rounds of a (possibly unfinished) run's progress log, keeping only the repetitions
    in which both strategies finished every round of the longest one seen."""
    rows = [m.groupdict() for m in map(PROGRESS.match, text.splitlines()) if m]
    frame = pd.DataFrame(rows)
    frame["run"] = frame["run"].fillna("-")
    frame["flops"] = frame["flops"].fillna("0")
    for col in ("rep", "round"):
        frame[col] = frame[col].astype(int)
    for col in ("flops", "regret"):
        frame[col] = frame[col].astype(float)
    counts = frame.groupby(["rep", "strategy"])["round"].nunique().unstack()
    complete = counts.index[(counts == frame["round"].max() + 1).all(axis=1)]
    frame = frame[frame["rep"].isin(complete)]
    return frame.sort_values(["rep", "strategy", "round"], kind="stable").reset_index(drop=True)


def read_rounds(path: str) -> pd.DataFrame:
    """The round table of an earlier run's output (``--summarise``), or the rounds of its
    progress log (stderr) when the run has not written its table (yet)."""
    text = Path(path).read_text()
    if "## Regret after each round" not in text:
        return read_progress(text)
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, one round, tiny fits")
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--outcomes", type=int, default=16)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes for the repetitions (1: serially in this process)",
    )
    parser.add_argument(
        "--objective",
        choices=("regret", "at_risk"),
        default="regret",
        help="what next_run ranks by (default: the reduction of expected regret)",
    )
    parser.add_argument("--compute", type=float, default=1e20)
    parser.add_argument("--student-params", type=float, default=1.4e8)
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default=SCENARIO,
        help=f"the decision's scenario (default {SCENARIO})",
    )
    parser.add_argument(
        "--risk",
        type=float,
        default=RISK,
        help=f"the decision's risk tolerance (default {RISK})",
    )
    parser.add_argument(
        "--targets",
        type=lambda t: [parse_target(x) for x in t.split(",")],
        default=["0.001", "0.002", "0.005", "0.5x"],
        help="regret targets, comma-separated: nats, or a fraction of each repetition's "
        "starting regret with a trailing x (default 0.001,0.002,0.005,0.5x)",
    )
    parser.add_argument(
        "--refit-noise",
        type=int,
        default=0,
        metavar="K",
        help="instead of the study: refit each repetition's starting design with K seeds",
    )
    parser.add_argument(
        "--screen",
        type=int,
        default=0,
        metavar="K",
        help="instead of the study: the decision on the first K starting designs' fits at "
        "several budgets and student sizes, with its true regret",
    )
    parser.add_argument(
        "--summarise",
        metavar="RESULTS",
        help="print the summary of an earlier run's output file (or of the complete "
        "repetitions in its progress log, stderr) instead of running",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.rounds, args.draws, args.tune, args.outcomes = 1, 1, 100, 100, 8
        args.workers = 1
    return args


def refit_noise(args, best: float) -> None:
    """The true regret of the decision after refits of the same data with other seeds: the
    noise floor of the study's regret (no run added; ``--refit-noise K``, K seeds per design)."""
    warnings.simplefilter("ignore")
    rows = []
    for rep in range(args.reps):
        sup, dist = initial_design(seed=10 * rep)
        regrets = []
        for seed in range(args.refit_noise):
            fit = fit_posterior(sup, dist, args, seed=rep * 100 + 50 + seed)
            regrets.append(true_loss_of_decision(decide(fit, args))[0] - best)
            print(f"  design {rep} seed {seed}: regret {regrets[-1]:.4g}", file=sys.stderr)
        r = np.array(regrets)
        rows.append(
            {
                "design": rep,
                "refits": len(r),
                "regret_mean": f"{r.mean():.4g}",
                "regret_sd": f"{r.std(ddof=1):.2g}",
                "regret_min": f"{r.min():.4g}",
                "regret_max": f"{r.max():.4g}",
            }
        )
    print("\n## Summary")
    print("True regret (nats) of the decision after refits of the same starting design with")
    print("different seeds (no run added): how much the regret moves from sampling alone")
    print(common.table(rows))


def distance_noise_at_risk(sup_fit, N: float, D: float, risk: float) -> float:
    """The ``1 - risk`` quantile of a new supervised run's loss under ``sup_fit``, a fit of the
    supervised runs alone whose noise grows with the distance from them."""
    new = pd.DataFrame({"N": [N], "D": [D]})
    if risk >= 0.5:
        return float(sup_fit.predict(new, kind="predictive", random_seed=1)["median"].iloc[0])
    pred = sup_fit.predict(new, kind="predictive", ci_prob=1 - 2 * risk, random_seed=1)
    return float(pred["upper"].iloc[0])


def screen_rows(
    fit, design: int, scenario: str = SCENARIO, risk: float = RISK, sup_fit=None
) -> list[dict]:
    """The decision on ``fit`` at each of :data:`SCREEN_COMPUTE` for each of
    :data:`SCREEN_STUDENTS` (in ``scenario``, at risk tolerance ``risk``), with its true regret
    and the true gap between the best distilled student and the same student trained on data.

    Each row has both arms' loss at risk as ``bd.recommend`` compares them; with ``sup_fit`` (the
    supervised runs fitted alone, noise growing with the distance from them) also the supervised
    arm's loss at risk under that noise: whether a supervised baseline whose noise grows with
    its distance, as the distillation arm's does, would change the decision."""
    rows = []
    for N_S in SCREEN_STUDENTS:
        for C in SCREEN_COMPUTE:
            truth = true_recommendation(C, N_S, scenario)
            rec = bd.recommend(
                fit, compute=C, student_params=N_S, scenario=scenario, risk_tolerance=risk
            )
            loss, choice = true_loss_of_decision(rec)
            rows.append(
                {
                    "design": design,
                    "student_params": N_S,
                    "compute": C,
                    "true_distil_minus_supervised": truth.student_loss_mean["median"]
                    - truth.supervised_loss_mean["median"],
                    "p_distillation_better": rec.p_distillation_better,
                    "decision": choice,
                    "true_regret": loss - true_optimum(C, N_S, scenario),
                    "distil_at_risk": rec.student_loss["at_risk"],
                    "distil_spent": rec.compute_spent,
                    "supervised_at_risk": rec.supervised_loss["at_risk"],
                }
            )
            if sup_fit is not None:
                rows[-1]["supervised_at_risk_distance_noise"] = distance_noise_at_risk(
                    sup_fit, N_S, rec.supervised_tokens, risk
                )
    return rows


def screen(args) -> None:
    """The decision on the first ``args.screen`` starting designs' fits (``--screen K``, see
    :func:`screen_rows`): where the starting design already decides well, no run can lower the
    regret much, so a study of ``next_run`` needs a decision that it gets wrong."""
    warnings.simplefilter("ignore")
    rows = []
    for rep in range(args.screen):
        sup, dist = initial_design(seed=10 * rep)
        fit = fit_posterior(sup, dist, args, seed=rep)
        sup_fit = bd.fit(
            sup,
            law="supervised",
            noise="distance",
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_seed=rep,
            retries=0,
            progressbar=False,
        )
        for row in screen_rows(fit, rep, args.scenario, args.risk, sup_fit):
            at_risk = ("distil_at_risk", "supervised_at_risk", "supervised_at_risk_distance_noise")
            rows.append(
                {
                    **row,
                    **{k: f"{row[k]:.4f}" for k in at_risk},
                    "distil_spent": f"{row['distil_spent']:.3g}",
                    "student_params": f"{row['student_params']:.3g}",
                    "compute": f"{row['compute']:.3g}",
                    "true_distil_minus_supervised": f"{row['true_distil_minus_supervised']:.4f}",
                    "p_distillation_better": f"{row['p_distillation_better']:.2f}",
                    "true_regret": f"{row['true_regret']:.4g}",
                }
            )
            print(f"  design {rep}: {rows[-1]}", file=sys.stderr, flush=True)
    print("\n## Summary")
    print(
        f"The decision on each starting design's fit ({args.scenario}, risk tolerance "
        f"{args.risk}) and its true regret;"
    )
    print("true_distil_minus_supervised: the true law's best distilled student minus the same")
    print("student trained on data (below 0: distillation is better); distil_at_risk and")
    print("supervised_at_risk: the two arms' loss at risk as bd.recommend compares them")
    print("(distil_spent: the FLOPs its budget ceiling spends on distillation);")
    print(
        "supervised_at_risk_distance_noise: the supervised arm's loss at risk from the supervised"
    )
    print("runs fitted alone with noise growing with the distance from them (noise='distance'),")
    print("as the distillation arm's does")
    print(common.table(rows))


def run_all(args, best: float) -> pd.DataFrame:
    """Every repetition, serially or on a pool of ``args.workers`` processes."""
    tasks = [{"rep": rep, "args": args, "best": best} for rep in range(args.reps)]
    with ExitStack() as stack:
        executor = None
        if args.workers > 1:
            ctx = multiprocessing.get_context("spawn")
            executor = stack.enter_context(
                ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx)
            )
        results = run_tasks(run_repetition, tasks, executor, quiet=(Warning,))
    return pd.DataFrame([row for rows in results for row in rows])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarise:
        frame = read_rounds(args.summarise)
        print(f"# next_run study: summary of {args.summarise}")
        print(f"command: python {' '.join(argv if argv is not None else sys.argv)}")
        print(f"repetitions summarised: {[int(r) for r in sorted(frame['rep'].unique())]}")
        print("\n## Summary")
        summarise(frame, args.targets, int(frame["round"].max()))
        return 0
    start = common.header("next_run study: value of information vs an IsoFLOP grid", argv)
    if args.screen:
        print(
            f"SIMULATED runs from the paper's law (bd.laws.PAPER); {args.screen} starting "
            f"designs; fits: {args.chains} chains x ({args.tune} tune + {args.draws} draws)",
            flush=True,
        )
        screen(args)
        common.footer(start)
        return 0
    plan = (
        f"{args.reps} starting designs refitted with {args.refit_noise} seeds each, serially"
        if args.refit_noise
        else f"next_run objective {args.objective!r}; {args.reps} repetitions x {args.rounds} "
        f"rounds on {args.workers} worker process(es); {args.outcomes} outcomes per candidate"
    )
    print(
        f"SIMULATED runs from the paper's law (bd.laws.PAPER); decision: compute="
        f"{args.compute:.3g}, student_params={args.student_params:.3g}, {args.scenario}, risk "
        f"tolerance {args.risk}; fits: {args.chains} chains x ({args.tune} tune + {args.draws} "
        f"draws), no retries; {plan}",
        flush=True,
    )
    warnings.simplefilter("ignore")  # extrapolation and convergence warnings of small fits
    if args.refit_noise:
        refit_noise(args, true_optimum(args.compute, args.student_params, args.scenario))
        common.footer(start)
        return 0
    frame = run_all(args, true_optimum(args.compute, args.student_params, args.scenario))
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
