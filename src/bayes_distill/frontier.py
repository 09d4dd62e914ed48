"""Where distillation stops paying: each posterior draw's best distilled student against the
same student trained on data, over budgets and student sizes.

For a draw ``s``, a student of ``N_S`` parameters and a budget ``C`` the *gap* is
``min_x L_S^(s)(x; C) - L^(s)(N_S, C / (3 F(N_S)))``: the best distilled student the budget
buys (the draw's own optimal allocation) minus the same student trained on data with the whole
budget (mean law, nats/token). Distillation wins where the gap is negative.

:func:`crossings`
    Each draw's *crossover*: the first budget, after distillation has won, at which it stops
    winning (a grid of budgets, then bisection in log compute). Drives ``crossover``.
:func:`map_losses`
    The two losses per draw over a grid of budgets, for ``distill_or_train``'s map.

Every draw's optimum is searched side by side with the draws as the rows of one array
(:func:`bayes_distill.search.compass`), each started also from its optimum at the neighbouring
budget.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compute as _compute
from . import extrapolation as _extrap
from . import search
from .allocation import Bounds, Choice, Problem, build_problem, log_supervised
from .report import DECISION_MARGIN, credible_interval

__all__ = [
    "Crossing",
    "crossings",
    "crossover_budgets",
    "crossover_grid",
    "crossover_row",
    "map_losses",
    "map_row",
]

# The crossover's search: budgets per decade of its grid, bisection steps in log compute after
# it (a bracket of a quarter decade narrowed 2**12 times, to 1.4e-4 in log compute), and rounds
# of each draw's compass search at a budget.
XOVER_PER_DECADE = 4
XOVER_BISECTIONS = 12
XOVER_ROUNDS = 8
# rounds of the compass search of each draw at each budget of the map: against 24 rounds on
# the shipped posterior, the gaps agree to 1e-4 nats (5e-6 for the posterior's median gap)
MAP_ROUNDS = 10


def crossover_budgets(c_lo: float, c_hi: float) -> np.ndarray:
    """The grid of budgets from ``c_lo`` to ``c_hi``: :data:`XOVER_PER_DECADE` per decade."""
    n_grid = math.ceil(math.log10(c_hi / c_lo) * XOVER_PER_DECADE - 1e-9) + 1
    return np.geomspace(c_lo, c_hi, max(n_grid, 2))


def _draws_of(p: Problem, rows: np.ndarray) -> Problem:
    """``p`` restricted to the posterior draws ``rows`` (parameters shared by every draw, such
    as a two-stage fit's fixed supervised ones, are kept as they are)."""
    S = p.n_draws

    def take(params: dict[str, Any] | None) -> dict[str, Any] | None:
        if params is None:
            return None
        return {k: v[rows] if np.shape(v)[:1] == (S,) and S > 1 else v for k, v in params.items()}

    fixed = p.log_LT_fixed
    if isinstance(fixed, np.ndarray) and fixed.shape[:1] == (S,) and S > 1:
        fixed = fixed[rows]
    return dataclasses.replace(
        p,
        sup=take(p.sup),
        dist=take(p.dist),
        sup_student=take(p.sup_student),
        log_LT_fixed=fixed,
    )


def draw_optima(
    p: Problem,
    rows: np.ndarray,
    C: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    starts: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's optimal mean-law log student loss at its own budget, and where it lies.

    The draws ``rows`` of ``p`` are searched side by side, draw ``i`` at budget ``C[i]`` within
    its box ``lo[i], hi[i]`` (``(R, d)``): a coarse grid over the box plus the candidates
    ``starts`` (``(R, d)`` each, e.g. the optima at neighbouring budgets), then the compass
    search of :func:`search.compass` from the best of them. Returns the log losses ``(R,)`` (``inf``
    where nothing is feasible) and the optima ``(R, d)``.
    """
    R = len(rows)
    q = dataclasses.replace(
        _draws_of(p, rows), compute=np.asarray(C, float)[:, None], lo_u=lo, hi_u=hi
    )
    if q.dim == 0:
        return q.log_loss(np.zeros((R, 1, 0)))[:, 0], np.zeros((R, 0))
    n = search.COARSE_1D if q.dim == 1 else search.COARSE_2D
    cand = lo[:, None, :] + (hi - lo)[:, None, :] * search.unit_grid(q.dim, n)[None]
    if starts:
        cand = np.concatenate([cand, *(np.clip(x, lo, hi)[:, None, :] for x in starts)], axis=1)
    step = np.maximum((hi - lo) / (n - 1), 1e-6) / 2
    start = search.best_candidate(cand, q.log_loss(cand))
    best = search.compass(q.log_loss, *start, step, lo, hi, XOVER_ROUNDS)
    return best.value, best.x


def supervised_log_loss(p: Problem, rows: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Mean-law log loss of the student trained on data with budget ``C[i]``, draw ``rows[i]``."""
    D = _compute.supervised_tokens(np.asarray(C, float), p.N_S, approx=p.approx)
    return log_supervised(_draws_of(p, rows).sup, p.log_NS, np.log(D)[:, None])[:, 0]


def crossover_grid(
    sup, dist, N_S, budgets, scenario, teacher, approx, b: Bounds, sup_student
) -> list[tuple[float, Problem]]:
    """The search problems at the budgets of the grid that can train the student (a run of
    consecutive budgets); raises ValueError when fewer than two can.

    A budget must train the distilled student within ``bounds`` in the scenario and the
    supervised one too (on ``C / (3 F(N_S))`` tokens, within the bounds on tokens), so that both
    are compared on the same footing.
    """
    problems: list[tuple[float, Problem]] = []
    errors: dict[float, str] = {}
    for c in budgets:
        try:
            D_sup = float(_compute.supervised_tokens(float(c), N_S, approx=approx))
            if not b.d_lo <= D_sup <= b.d_hi:
                raise ValueError(
                    f"it trains the supervised student on {D_sup:.3g} tokens, outside the bounds "
                    f"on tokens ({b.d_lo:.3g}, {b.d_hi:.3g})"
                )
            p = build_problem(sup, dist, N_S, float(c), scenario, teacher, approx, b, sup_student)
        except ValueError as exc:
            # the budget is named once, by the caller's message
            errors[float(c)] = re.sub(r"^compute=\S+ FLOPs ", "it ", str(exc)).rstrip(".")
            if problems:  # past the largest budget that can train it
                break
            continue
        problems.append((float(c), p))
    if len(problems) < 2:
        ends = dict.fromkeys([min(errors), max(errors)]) if errors else {}
        why = "".join(f"; at {c:.3g} FLOPs {errors[c]}" for c in ends)
        raise ValueError(
            f"compute_range=({budgets[0]:.3g}, {budgets[-1]:.3g}) holds no range of budgets that "
            f"can train the student (student_params={N_S:.3g}) in scenario {scenario!r} within "
            f"bounds={b}{why}. Choose another compute_range or widen the bounds."
        )
    return problems


@dataclass(frozen=True)
class Crossing:
    """Each draw's crossover (``compute``, NaN where it has none) and what happens there."""

    compute: np.ndarray  # (S,) FLOPs where the draw's best distilled student stops winning
    D_S: np.ndarray  # (S,) the distilled student's tokens there
    never_wins: np.ndarray  # (S,) bool: distillation never wins in the range
    still_winning: np.ndarray  # (S,) bool: it wins at some budget and never stops after it
    valid: np.ndarray  # (S,) bool: the laws are finite at every budget of the grid


def crossings(grid: list[tuple[float, Problem]]) -> Crossing:
    """Each draw's first budget, after distillation has won, at which the best distilled
    student stops beating the supervised one (mean law), on the grid then by bisection.

    The grid is walked upwards with the draws that have not crossed yet; each starts its search
    also from its optimum at the budget below.
    """
    budgets = np.array([c for c, _ in grid])
    p0 = grid[0][1]
    S = p0.n_draws
    d = p0.dim
    optima = np.full((len(grid), S, d), np.nan)
    box_lo = np.stack([np.broadcast_to(p.lo_u, (S, d)) for _, p in grid])  # (G, S, d)
    box_hi = np.stack([np.broadcast_to(p.hi_u, (S, d)) for _, p in grid])
    lost_at = np.full(S, -1)  # the first budget not won after a win
    has_won = np.zeros(S, bool)
    valid = np.ones(S, bool)  # the laws are finite at every budget searched
    for i, (c, p) in enumerate(grid):
        rows = np.flatnonzero(valid & (lost_at < 0))
        if rows.size == 0:
            break
        C = np.full(rows.size, c)
        starts = [optima[i - 1, rows]] if i else []
        m, optima[i, rows] = draw_optima(p, rows, C, box_lo[i, rows], box_hi[i, rows], starts)
        gap = m - supervised_log_loss(p, rows, C)
        finite = np.isfinite(gap)
        valid[rows[~finite]] = False
        won = finite & (gap < 0)
        lost_at[rows[finite & ~won & has_won[rows]]] = i
        has_won[rows[won]] = True
    crosses = valid & (lost_at >= 0)
    rows = np.flatnonzero(crosses)
    jr = lost_at[rows]
    # bisection in log compute between the last budget won and the first lost, each draw in
    # the union of the two budgets' boxes of teachers (infeasible candidates are +inf)
    lo_c, hi_c = np.log(budgets[jr - 1]), np.log(budgets[jr])
    lo_u = np.minimum(box_lo[jr - 1, rows], box_lo[jr, rows])
    hi_u = np.maximum(box_hi[jr - 1, rows], box_hi[jr, rows])
    x_won, x_lost = optima[jr - 1, rows], optima[jr, rows]
    for _ in range(XOVER_BISECTIONS if rows.size else 0):
        mid = 0.5 * (lo_c + hi_c)
        C = np.exp(mid)
        m, x = draw_optima(p0, rows, C, lo_u, hi_u, [x_won, x_lost])
        won = m - supervised_log_loss(p0, rows, C) < 0  # NaN: not won
        lo_c, hi_c = np.where(won, mid, lo_c), np.where(won, hi_c, mid)
        x_won = np.where(won[:, None], x, x_won)
        x_lost = np.where(won[:, None], x_lost, x)
    compute = np.full(S, np.nan)
    compute[rows] = np.exp(0.5 * (lo_c + hi_c))
    D_S = np.full(S, np.nan)
    if rows.size:
        _, x = draw_optima(p0, rows, compute[rows], lo_u, hi_u, [x_won, x_lost])
        q = dataclasses.replace(_draws_of(p0, rows), compute=compute[rows][:, None])
        D_S[rows] = q.student_tokens(x[:, None, :])[:, 0]
    return Crossing(
        compute=compute,
        D_S=D_S,
        never_wins=valid & ~has_won,
        still_winning=valid & has_won & ~crosses,
        valid=valid,
    )


def crossover_row(N_S: float, grid, ci_prob: float, ranges) -> tuple[dict, dict, list]:
    """One student's row of ``crossover``, its extrapolation report and its crossover
    compute per draw (NaN for dropped draws)."""
    x = crossings(grid)
    v = x.valid
    n_valid = int(v.sum())
    if n_valid == 0:
        raise ValueError(
            f"The laws are not finite for any posterior draw for student_params={N_S:.3g} "
            "in compute_range; check the fit's parameters."
        )
    crossed = v & np.isfinite(x.compute)
    summary = (
        credible_interval(x.compute[crossed], ci_prob)
        if crossed.any()
        else {"median": np.nan, "lower": np.nan, "upper": np.nan}
    )
    row: dict[str, Any] = {"student_params": N_S, **summary}
    row["p_no_crossover"] = float(np.mean(~crossed[v]))
    row["p_never_wins"] = float(np.mean(x.never_wins[v]))
    row["p_still_winning"] = float(np.mean(x.still_winning[v]))
    row["n_draws"] = n_valid
    row["n_crossover"] = int(crossed.sum())
    D_S = float(np.median(x.D_S[crossed])) if crossed.any() else np.nan
    row["D_S_median"] = D_S
    row["compute_lo"], row["compute_hi"] = grid[0][0], grid[-1][0]
    report = {}
    if ranges:
        report = _extrap._assess(ranges, {"N_S": N_S, "D_S": D_S, "tokens_per_param": D_S / N_S})
        row["N_S_fold"], row["D_S_fold"] = report["N_S"]["fold"], report["D_S"]["fold"]
        row["extrapolation"] = _extrap.max_fold(report)
    return row, report, np.where(v, x.compute, np.nan).tolist()


def map_row(N_S, C, dist_loss, sup_loss, paper_dist, paper_sup, ci_prob) -> dict[str, Any]:
    """One cell of ``distill_or_train`` from the per-draw losses (NaN where infeasible)."""
    gap = dist_loss - sup_loss
    ok = np.isfinite(gap)
    row: dict[str, Any] = {"student_params": float(N_S), "compute": float(C)}
    if ok.any():
        g = gap[ok]
        s = credible_interval(g, ci_prob)
        row.update(
            {
                "p_distillation_better": float(np.mean(g < 0)),
                "p_distillation_better_by_margin": float(np.mean(g < -DECISION_MARGIN)),
                "gap_median": s["median"],
                "gap_lower": s["lower"],
                "gap_upper": s["upper"],
                "distilled_loss_median": float(np.median(dist_loss[ok])),
                "supervised_loss_median": float(np.median(sup_loss[ok])),
            }
        )
    else:
        row.update(
            dict.fromkeys(
                (
                    "p_distillation_better",
                    "p_distillation_better_by_margin",
                    "gap_median",
                    "gap_lower",
                    "gap_upper",
                    "distilled_loss_median",
                    "supervised_loss_median",
                ),
                np.nan,
            )
        )
    paper_gap = float(paper_dist[0] - paper_sup[0])
    row["paper_gap"] = paper_gap
    row["paper_distill"] = bool(paper_gap < 0) if np.isfinite(paper_gap) else None
    row["n_draws"] = int(ok.sum())
    return row


def map_losses(
    laws_: list[tuple[dict, dict, dict | None]], N_S, budgets, scenario, approx, b: Bounds
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each set of law parameters ``(sup, dist, sup_student)`` of ``laws_``, per budget and
    draw, the best distilled student's loss and the supervised student's (mean law,
    nats/token): two ``(B, S)`` arrays, NaN where the budget cannot train the student within
    the bounds (distilled in the scenario, or supervised).

    Budgets are searched upwards, each draw from the best of the budget's coarse grid of
    feasible teachers (:meth:`Problem.coarse_grid`, the grid of ``recommend``) and its
    optimum at the budget below, then by :data:`MAP_ROUNDS` rounds of :func:`search.compass`. A
    budget's box of teachers depends on the budget, not on the law (except for a free teacher
    chosen by its loss, whose box is cheap to build), so it is built once for every set.
    """
    shapes = [(len(budgets), next(iter(sup.values())).shape[0]) for sup, _, _ in laws_]
    out = [(np.full(shape, np.nan), np.full(shape, np.nan)) for shape in shapes]
    previous: list[np.ndarray | None] = [None] * len(laws_)
    for j, c in enumerate(budgets):
        D_sup = float(_compute.supervised_tokens(float(c), N_S, approx=approx))
        if not b.d_lo <= D_sup <= b.d_hi:
            continue
        p = None
        for i, (sup, dist, sup_student) in enumerate(laws_):
            try:
                if p is None or p.choice is Choice.TEACHER_LOSS:
                    p = build_problem(
                        sup, dist, N_S, float(c), scenario, {}, approx, b, sup_student
                    )
                else:
                    p = dataclasses.replace(p, sup=sup, dist=dist, sup_student=sup_student)
            except ValueError:
                break
            x, f = _map_search(p, previous[i])
            previous[i] = x
            with np.errstate(all="ignore"):
                out[i][0][j] = np.exp(f)
                out[i][1][j] = np.exp(log_supervised(sup, p.log_NS, math.log(D_sup))[:, 0])
    for losses in out:
        for a in losses:
            a[~np.isfinite(a)] = np.nan
    return out


def _map_search(p: Problem, previous: np.ndarray | None) -> search.Optimum:
    """Each draw's optimum in ``p``, ``(S, d)``, and its log student loss ``(S,)``, from the
    best of the coarse grid and ``previous`` (each draw's optimum at another budget)."""
    S = p.n_draws
    grid = p.coarse_grid()
    cand = np.broadcast_to(grid[None], (S, *grid.shape))
    if previous is not None:
        cand = np.concatenate([cand, np.clip(previous, p.lo_u, p.hi_u)[:, None, :]], axis=1)
    if cand.shape[1] == 0:
        return search.Optimum(np.full((S, p.dim), np.nan), np.full(S, np.inf))
    step = p.grid_spacing() / 2
    start = search.best_candidate(cand, p.log_loss(cand))
    return search.compass(p.log_loss, *start, step, p.lo_u, p.hi_u, MAP_ROUNDS)
