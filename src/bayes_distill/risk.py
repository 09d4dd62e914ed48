"""The loss at risk of an allocation problem, and the searches a recommendation makes on it.

The predicted log loss of a new run at candidate ``x`` in draw ``s`` is
``log L_S^(s)(x) + eps_s(x)``, with the noise ``eps`` of :class:`allocation.StudentNoise`
(common random numbers: every candidate sees the same random numbers). Over the draws this
gives two objectives per candidate: the ``q`` quantile of the predictive loss, the *loss at
risk* (:func:`quantile_loss`), and its posterior mean (:func:`mean_loss`).

:func:`quantile_search` minimises the loss at risk from the best point of the problem's coarse
grid (:func:`coarse_quantile`); :func:`find_optima` adds the optimum of the posterior mean and
each draw's own optimum of its mean law (:class:`Optima`). :class:`BudgetCeiling` decides how
much of a budget to spend: budgets are ceilings, not amounts to burn.

Settings (measured against a 32 x 32 grid with 24 rounds on a 4000-draw posterior: the
recommended quantile within 5e-4 nats, per-draw optima within 1e-5 nats on average, 5e-4 at
worst, where an optimum sits on the sharp break of the distillation law): the quantile is
refined by 8 rounds of :func:`search.compass`, the mean by 5 (from the better of its grid point
and the quantile optimum, with half the step) and each draw by 6 (from the best of its grid
point and the two common optima).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import search
from .allocation import Evaluation, Problem, StudentNoise

__all__ = [
    "BudgetCeiling",
    "CoarseQuantile",
    "Optima",
    "QuantileOptimum",
    "coarse_quantile",
    "find_optima",
    "mean_loss",
    "noise_at",
    "quantile_loss",
    "quantile_search",
]

#: Rounds of :func:`search.compass` for each draw's own optimum and for the posterior mean.
N_ROUNDS_DRAW = 6
N_ROUNDS_MEAN = 5
#: Budgets tried below a budget ``C`` for the ceiling: ``C * 10**-k``, ``k = 1..4``.
CEILING_STEPS = 4


def noise_at(p: Problem, noise: StudentNoise, ev: Evaluation) -> np.ndarray:
    """Predictive noise ``(S, M)`` at common candidates, from ``ev = p.evaluate(cand)`` with
    ``cand (1, M, d)`` (the law's values there place the candidates)."""
    if not noise.located:
        return noise.at(p.N_S, np.zeros(0), np.zeros(0))
    m, D_S, log_LT = ev
    D_S = np.asarray(D_S)[0]
    D_S = np.where(np.isfinite(D_S), D_S, p.bounds.d_lo)  # infeasible: loss is inf anyway
    with np.errstate(all="ignore"):
        # location only: the median teacher loss over draws
        L_T = np.exp(np.nanmedian(np.broadcast_to(log_LT, m.shape), axis=0))
    # +inf marks an infeasible candidate or a non-finite draw: its loss stays inf whatever
    # the noise, which only needs to be finite there
    m = np.where(np.isfinite(m), m, 0.0)
    return noise.at(p.N_S, D_S, L_T, law_mean=m)


def quantile_loss(m: np.ndarray, e: np.ndarray, q: float) -> np.ndarray:
    """``q`` quantile over draws of the predictive loss ``exp(m + e)``, per candidate: ``(M,)``
    (``inf`` where NaN)."""
    with np.errstate(all="ignore"):
        v = np.quantile(np.exp(m + e), q, axis=0)
    return np.where(np.isnan(v), np.inf, v)


def mean_loss(m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Posterior mean of the predictive loss, per candidate: ``(M,)`` (``inf`` where NaN)."""
    with np.errstate(all="ignore"):
        v = np.mean(np.exp(m + e), axis=0)
    return np.where(np.isnan(v), np.inf, v)


def _common_objective(
    p: Problem, noise: StudentNoise, reduce: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Callable[[np.ndarray], np.ndarray]:
    """The objective of :func:`search.compass` for one allocation shared by every draw: the
    predictive losses at candidates ``(1, M, d)`` reduced over draws to ``(1, M)``."""

    def objective(c: np.ndarray) -> np.ndarray:
        ev = p.evaluate(c)
        return reduce(ev.log_loss, noise_at(p, noise, ev))[None]

    return objective


class CoarseQuantile(NamedTuple):
    """The loss at risk on a problem's coarse grid."""

    #: The grid ``(K, d)`` (one point without coordinates when there is nothing to choose).
    grid: np.ndarray
    #: The law's log loss ``(S, K)`` there; None when no grid point is feasible.
    log_loss: np.ndarray | None
    #: The predictive noise ``(S, K)`` there; None when no grid point is feasible.
    noise: np.ndarray | None
    #: The loss at risk ``(K,)``.
    at_risk: np.ndarray


def coarse_quantile(p: Problem, noise: StudentNoise, q: float) -> CoarseQuantile:
    """The ``q`` quantile of the predictive loss on ``p``'s coarse grid."""
    grid = p.coarse_grid()
    if len(grid) == 0:
        return CoarseQuantile(grid, None, None, np.zeros(0))
    ev = p.evaluate(grid[None])
    e = noise_at(p, noise, ev)
    return CoarseQuantile(grid, ev.log_loss, e, quantile_loss(ev.log_loss, e, q))


class QuantileOptimum(NamedTuple):
    """The allocation minimising the loss at risk, and the coarse look it started from."""

    #: The optimum ``(d,)``.
    x: np.ndarray
    #: Its loss at risk.
    value: float
    #: The coarse grid's evaluation (reused by :func:`find_optima`).
    coarse: CoarseQuantile


def quantile_search(
    p: Problem,
    noise: StudentNoise,
    q: float,
    scenario: str,
    coarse: CoarseQuantile | None = None,
) -> QuantileOptimum:
    """The allocation minimising the ``q`` quantile of the predictive loss (the loss at risk).

    ``coarse`` is :func:`coarse_quantile` of ``p`` when the caller has it already. Raises
    ValueError when no point of the coarse grid is feasible.
    """
    coarse = coarse or coarse_quantile(p, noise, q)
    fq = coarse.at_risk
    if len(fq) == 0:
        raise ValueError(
            f"No allocation within bounds={p.bounds} spends compute={p.compute:.3g} FLOPs "
            f"in scenario {scenario!r} with the student's tokens within the bounds; widen "
            "the bounds."
        )
    if p.dim == 0:
        return QuantileOptimum(np.zeros(0), float(fq[0]), coarse)
    objective = _common_objective(p, noise, lambda m, e: quantile_loss(m, e, q))
    start = search.best_candidate(coarse.grid[None], fq[None])
    best = search.compass(objective, *start, p.grid_spacing() / 2, p.lo_u, p.hi_u)
    return QuantileOptimum(best.x[0], float(best.value[0]), coarse)


class Optima(NamedTuple):
    """The allocations a recommendation compares, each with its mean-law log student loss per
    draw ``(S,)`` (and, for the common ones, :meth:`Problem.evaluate`'s output there)."""

    x_q: np.ndarray  # the recommendation: minimises the loss at risk over all draws
    ev_q: Evaluation
    m_q: np.ndarray
    x_mean: np.ndarray  # minimises the posterior mean of the predictive loss
    ev_mean: Evaluation
    m_mean: np.ndarray
    x_draw: np.ndarray  # each draw's own optimum of its mean law, (S, d)
    m_draw: np.ndarray


def find_optima(
    p: Problem,
    noise: StudentNoise,
    q: float,
    scenario: str,
    searched: QuantileOptimum | None = None,
) -> Optima:
    """The recommended allocation (the loss at risk's optimum, from :func:`quantile_search`
    unless ``searched`` holds it), the posterior mean's optimum and each draw's optimum."""

    def at(x: np.ndarray) -> tuple[Evaluation, np.ndarray]:
        ev = p.evaluate(x[None, None])
        return ev, ev.log_loss[:, 0]

    found = searched or quantile_search(p, noise, q, scenario)
    x_q, coarse = found.x, found.coarse
    ev_q, m_q = at(x_q)
    S = m_q.shape[0]
    if p.dim == 0:
        return Optima(x_q, ev_q, m_q, x_q, ev_q, m_q, np.zeros((S, 0)), m_q)
    step = p.grid_spacing() / 2
    grid, m = coarse.grid, coarse.log_loss
    # The mean optimum is usually close to the quantile one: start from the better of the two
    # (the quantile's on a tie), with a finer step and fewer rounds.
    f_xq = mean_loss(m_q[:, None], noise_at(p, noise, ev_q))
    start = search.best_candidate(
        np.concatenate([x_q[None], grid])[None],
        np.concatenate([f_xq, mean_loss(m, coarse.noise)])[None],
    )
    objective = _common_objective(p, noise, mean_loss)
    x_mean = search.compass(objective, *start, step / 2, p.lo_u, p.hi_u, N_ROUNDS_MEAN).x[0]
    ev_mean, m_mean = at(x_mean)
    # Each draw starts from the best of its coarse grid points and the two common optima.
    cand = np.concatenate(
        [
            np.broadcast_to(grid[None], (S, *grid.shape)),
            np.broadcast_to([x_q, x_mean], (S, 2, p.dim)),
        ],
        axis=1,
    )
    values = np.concatenate([m, m_q[:, None], m_mean[:, None]], axis=1)
    start = search.best_candidate(cand, values)
    draw = search.compass(p.log_loss, *start, step / 2, p.lo_u, p.hi_u, N_ROUNDS_DRAW)
    return Optima(x_q, ev_q, m_q, x_mean, ev_mean, m_mean, draw.x, draw.value)


class BudgetCeiling:
    """Chooses how much of a budget to spend: budgets are ceilings, not amounts to burn.

    For a budget ``C``, the smaller budgets ``C * 10**-k`` (``k = 1 .. CEILING_STEPS``, while
    each screens better than the one above it and the student can still be trained) and, in a
    sweep, every smaller budget of the sweep are screened by the loss at risk (the ``q``
    quantile of the predictive student loss) on the coarse grid; the best of them, if it
    screens better than ``C``, is searched fully and replaces ``C`` if its loss at risk is
    lower. A sweep then keeps, at each budget, the better of its own answer and the one of the
    next smaller budget, so its loss at risk never rises with the budget. The predictive noise
    grows with the distance from the fitted runs, so spending everything can make the loss at
    risk worse; what is not spent is reported.

    Parameters
    ----------
    build : callable
        Budget -> :class:`Problem`, raising ValueError for a budget that cannot work.
    noise : StudentNoise
        The predictive noise.
    q : float
        The quantile (``1 - risk_tolerance``).
    scenario : str
        For error messages.
    budgets : array_like
        The budgets of the sweep (one for a single recommendation).
    """

    def __init__(
        self,
        build: Callable[[float], Problem],
        noise: StudentNoise,
        q: float,
        scenario: str,
        budgets,
    ):
        self.build, self.noise, self.q, self.scenario = build, noise, q, scenario
        self.budgets = np.sort(np.asarray(budgets, float))
        self._problems: dict[float, Problem | None] = {}
        self._coarse: dict[float, float] = {}
        # coarse evaluations of the current :meth:`best` call, handed on to :meth:`search`
        self._pending: dict[float, CoarseQuantile] = {}
        self._searched: dict[float, QuantileOptimum] = {}

    def problem(self, c: float) -> Problem | None:
        """The search problem at budget ``c`` (cached), or None if ``c`` cannot train the
        student within the bounds."""
        if c not in self._problems:
            try:
                self._problems[c] = self.build(c)
            except ValueError:
                self._problems[c] = None
        return self._problems[c]

    def coarse(self, c: float) -> float:
        """The loss at risk at budget ``c`` on the coarse grid (an upper bound; cached)."""
        if c not in self._coarse:
            p, v = self.problem(c), np.inf
            if p is not None:
                self._pending[c] = coarse = coarse_quantile(p, self.noise, self.q)
                if len(coarse.at_risk):
                    v = float(np.min(coarse.at_risk))
            self._coarse[c] = v
        return self._coarse[c]

    def search(self, c: float) -> QuantileOptimum:
        """:func:`quantile_search` at budget ``c`` (cached), from its coarse evaluation when
        :meth:`coarse` has just made it."""
        if c not in self._searched:
            self._searched[c] = quantile_search(
                self.problem(c), self.noise, self.q, self.scenario, self._pending.pop(c, None)
            )
        return self._searched[c]

    def best(self, C: float) -> tuple[Problem, QuantileOptimum]:
        """The problem at the budget to spend (``C`` or one below it) and its search."""
        try:
            return self._best(C)
        finally:
            self._pending.clear()  # the screened budgets' arrays are not kept

    def _best(self, C: float) -> tuple[Problem, QuantileOptimum]:
        if self.problem(C) is None:
            self.build(C)  # raises the budget's own error
        # walk down the decades while each screens better than the best so far (the loss at
        # risk against the budget falls, then rises: once it stops improving, lower budgets
        # are worse); the sweep's smaller budgets are screened too (cached)
        below, best = C, self.coarse(C)
        for k in range(1, CEILING_STEPS + 1):
            c = C / 10.0**k
            if self.coarse(c) >= best:
                break
            below, best = c, self.coarse(c)
        for c in (float(c) for c in self.budgets if c < C):
            if self.coarse(c) < best:
                below, best = c, self.coarse(c)
        if below != C and self.search(below).value < self.search(C).value:
            return self.problem(below), self.search(below)
        return self.problem(C), self.search(C)
