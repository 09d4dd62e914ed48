"""Decisions under the posterior: compute-optimal allocations and risk-aware recommendations.

Every decision is made on the posterior draws, vectorised as ``draws x candidates`` arrays
(``docs/decisions.md``); there is no optimiser call per draw.

:func:`compute_optimal`
    The supervised (Chinchilla) compute-optimal model size ``N*`` and tokens ``D*`` for a
    budget: each posterior draw gets its own optimum, summarised with credible intervals.
:func:`recommend`
    How to distil a student of ``N_S`` parameters with a budget of ``C`` FLOPs in one of the four
    scenarios of ``compute.SCENARIOS`` (or from an existing teacher). The recommended allocation
    minimises the ``1 - risk_tolerance`` quantile over draws of the posterior predictive student
    loss, and is reported as a :class:`Recommendation`. ``n_students=k`` shares a trained
    teacher among ``k`` students, each charged ``1/k`` of its pretraining.
:func:`recommend_sweep`
    :func:`recommend` over several budgets, as a table with one row per budget (the same noise
    draws for every budget; the loss at risk never rises with the budget).
:func:`crossover`
    The budget beyond which supervised training of a student beats the best distilled student,
    per posterior draw (each draw's own optimum, searched side by side and bisected in log
    compute), with the share of draws that have no crossover in the range searched.
:func:`distill_or_train`
    The share of draws in which distillation wins, over a grid of student sizes and budgets:
    the data of :func:`bayes_distill.plots.distill_map`.

The pieces live in their own modules: ``allocation`` (what each scenario lets the search
choose, and the student's loss at every candidate for all draws), ``search`` (the vectorised
optimiser), ``risk`` (the loss at risk and the searches of a recommendation), ``report``
(:class:`Recommendation`) and ``frontier`` (the crossover and the distil-or-train map).

The search
----------
A coarse grid (24 points in one dimension, 10 x 10 in two over the box of teachers the budget
can afford; points whose student tokens fall outside the bounds are dropped) is evaluated for
every draw: one ``(S, K)`` array. Three objectives are then refined from their best grid point by
a vectorised compass search with Newton steps (:func:`bayes_distill.search.compass`): the
``1 - r`` quantile over draws of the predictive loss (the recommendation; 8 rounds), the
posterior mean of the predictive loss (5 rounds) and each draw's own optimum (6 rounds, one
search per draw run side by side as the rows of one array), which gives the regret and the
spread of the optima. A 2-D recommendation on 4000 draws costs about 230 law evaluations per
draw (about 0.3 s of CPU); checked against a 32 x 32 grid with 24 rounds, the recommended
quantile agrees to about 5e-4 nats and the per-draw optima to 1e-5 nats on average.

Predictive loss uses common random numbers: in draw ``s`` the predicted log loss of a new run at
allocation ``x`` is ``log L_S^(s)(x) + eps_s`` with one ``eps_s`` (run noise plus the discrepancy
offsets of a new student and a new teacher, :meth:`ScalingFit.noise_draws`) shared by every
candidate, so candidates are compared on the same realisations.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import _progress, frontier, laws, search
from . import compute as _compute
from . import extrapolation as _extrap
from . import validate as _validate
from ._keywords import check_keywords
from .allocation import (
    BOUND_TOL,
    DEFAULT_BOUNDS,
    FEAS_TOL,
    TEACHER_TOKENS_PER_PARAM,
    Bounds,
    Problem,
    StudentNoise,
    build_problem,
    check_bounds,
    check_student_in_bounds,
    check_students,
    distillation_law_params,
    distillation_params,
    log_supervised,
    pays_logits,
    supervised_noise,
    supervised_params,
)
from .report import (
    DECISION_MARGIN,
    SCENARIO_DESCRIPTIONS,
    Recommendation,
    Setting,
    credible_interval,
    summarise,
)
from .risk import BudgetCeiling, QuantileOptimum, find_optima

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = [
    "DECISION_MARGIN",
    "DEFAULT_BOUNDS",
    "DEFAULT_COMPUTE_RANGE",
    "SCENARIO_DESCRIPTIONS",
    "TEACHER_TOKENS_PER_PARAM",
    "Recommendation",
    "compute_optimal",
    "crossover",
    "distill_or_train",
    "recommend",
    "recommend_sweep",
]

#: Default range of budgets (FLOPs) in which :func:`crossover` looks for the crossover.
DEFAULT_COMPUTE_RANGE: tuple[float, float] = (1e18, 1e27)
#: Default grid of :func:`distill_or_train`: student sizes and budgets, log-spaced.
DEFAULT_MAP_STUDENTS: tuple[float, float, int] = (1e8, 1e11, 25)
DEFAULT_MAP_COMPUTE: tuple[float, float, int] = (1e19, 1e26, 25)

_CI_HINT = "e.g. ci_prob=0.9 for a 90% interval."
_MEAN_LAW = "mean law (epistemic; no run-to-run noise)"


def _sweep_counter(what: str, n_budgets: int) -> _progress.Counter:
    """The progress counter of a sweep of budgets: on stderr when progress is on
    (:func:`bayes_distill._progress.enabled`), the sweep has several budgets and it has run
    for :data:`~bayes_distill._progress.SWEEP_DELAY` seconds."""
    on = n_budgets > 1 and _progress.enabled()
    return _progress.Counter(what, n_budgets, on=on, delay=_progress.SWEEP_DELAY)


# --------------------------------------------------------------------------------------------
# compute_optimal


@check_keywords
def compute_optimal(
    fit: ScalingFit,
    compute: float | Any,
    ci_prob: float = 0.9,
    *,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    group: str | None = None,
) -> pd.DataFrame:
    """Supervised compute-optimal model size and tokens for a budget, per posterior draw.

    For every draw the supervised law ``L(N, D)`` is minimised along the budget line
    ``3 F(N) D = C`` (Busbridge Eq. 9) over ``N`` within ``bounds`` (with ``D`` within
    ``bounds`` too); the per-draw optima are summarised by their median and equal-tailed
    credible interval.

    Parameters
    ----------
    fit : ScalingFit
        A ``"chinchilla"`` or ``"supervised"`` fit; the supervised part of a ``"distillation"``
        fit is used if given one.
    compute : float or array_like
        Training budget(s) in FLOPs. An array gives one row per budget (a sweep).
    ci_prob : float, default 0.9
        Probability of the credible intervals.
    bounds : (float, float) or dict, default (1e6, 1e17)
        Bounds on ``N`` and ``D`` alike, or ``{"N": (lo, hi), "D": (lo, hi)}``.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`.
    group : str, optional
        A grouped fit (``bd.fit(..., groups=COLUMN)``): the group whose law is optimised
        (required; the extrapolation columns then refer to that group's runs). Refused for
        a fit of one law.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``compute``, then ``N_median, N_lower, N_upper``,
        ``D_median, D_lower, D_upper``, ``tokens_per_param_*`` (``D*/N*``) and ``loss_*`` (the
        law at each draw's optimum: an interval of the *mean law*, i.e. epistemic, without
        run-to-run noise), and ``on_bound`` (fraction of draws whose optimum sits on a bound)
        and ``n_draws``. For a fit with runs, ``N_fold`` and ``D_fold`` say how many times the
        median optimum ``N_median, D_median`` lies beyond the range of the supervised runs
        (those of a distillation fit: NaN when it has none), and ``extrapolation`` is the
        larger of the two (see :mod:`bayes_distill.extrapolation`); a fit without runs
        (:meth:`ScalingFit.from_params`) has none of these columns. ``attrs`` records
        ``ci_prob``, ``law``, ``approx`` and ``extrapolation`` (per row, each input's
        ``value, min, max, fold``; empty dicts for a fit without runs).

    Raises
    ------
    TypeError
        If ``fit`` is not a :class:`~bayes_distill.ScalingFit` or ``compute`` is not numeric.
    ValueError
        For a budget that cannot train any model within ``bounds``, or a bad ``ci_prob``.

    Warns
    -----
    ExtrapolationWarning
        Once per call, when the median optimum of some budget lies more than
        :data:`~bayes_distill.extrapolation.COUNT_FOLD_LIMIT` (10) times beyond the range of
        the supervised runs in ``N`` or ``D``, naming each such input, its value and the range.

    Notes
    -----
    A sweep that runs longer than a second counts its budgets on stderr when progress is on (a
    terminal or a Jupyter kernel, unless the environment variable
    ``BAYES_DISTILL_PROGRESS=0``; see :func:`bayes_distill.fit`).

    Examples
    --------
    >>> import bayes_distill as bd
    >>> p = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    >>> fit = bd.ScalingFit.from_params("supervised", p)
    >>> row = bd.compute_optimal(fit, compute=1e22).iloc[0]
    >>> print(f"N* = {row['N_median']:.2g}, D* = {row['D_median']:.2g}")
    N* = 9.9e+09, D* = 1.5e+11
    >>> frame = bd.compute_optimal(fit, compute=[1e20, 1e21, 1e22])
    >>> bool(frame["N_median"].is_monotonic_increasing)
    True
    """
    fit = _validate.law_group(fit, group, "compute_optimal")
    _validate.fit(fit, ("chinchilla", "supervised", "distillation"), "compute_optimal")
    budgets, _ = _validate.budgets(compute)
    ci_prob = _validate.probability("ci_prob", ci_prob, _CI_HINT)
    b = check_bounds(bounds)
    approx = _validate.approx(approx)
    sizes = [_feasible_sizes(c, b, approx) for c in budgets]
    sup = supervised_params(fit)
    fitted = _supervised_ranges(fit)
    rows, reports = [], []
    counter = _sweep_counter("compute_optimal: budget", len(budgets))
    for c, (n_min, n_max) in zip(budgets, sizes, strict=True):
        row, report = _optimum_row(sup, c, n_min, n_max, b, approx, ci_prob, fitted)
        reports.append(report)
        rows.append(row)
        counter.step()
    counter.close()
    frame = pd.DataFrame(rows)
    frame.attrs.update(
        {
            "ci_prob": ci_prob,
            "law": fit.law,
            "approx": approx,
            "loss_kind": _MEAN_LAW,
            "extrapolation": [_extrap._to_json(r) for r in reports],
        }
    )
    _extrap._warn(
        _extrap._stack(reports),
        fit.law,
        where=[f"compute={c:.3g}" for c in budgets] if len(budgets) > 1 else None,
        what="budgets",
    )
    return frame


def _feasible_sizes(c: float, b: Bounds, approx: str) -> tuple[float, float]:
    """The range of log model sizes that budget ``c`` trains with tokens within the bounds;
    raises ValueError when there is none."""
    n_lo, n_hi, d_lo, d_hi = b.logs

    def log_D(log_N):
        return np.log(_compute.supervised_tokens(c, np.exp(log_N), approx=approx))

    if log_D(n_lo) < d_lo - FEAS_TOL:
        need = 3 * _compute.forward_flops(b.n_lo, approx=approx) * b.d_lo
        raise ValueError(
            f"compute={c:.3g} FLOPs cannot train even the smallest model allowed by "
            f"bounds={b} (N = {b.n_lo:.3g} on D = {b.d_lo:.3g} tokens needs {need:.3g} "
            "FLOPs); raise compute or lower the bounds."
        )
    # D decreases with N: the feasible N are those with d_lo <= D(N) <= d_hi.
    n_min = n_lo
    if log_D(n_lo) > d_hi:
        n_min = search.bisect_increasing(lambda x: d_hi - log_D(x), n_lo, n_hi)
        n_min = min(n_min + 1e-12, n_hi)
    n_max = search.bisect_increasing(lambda x: d_lo - log_D(x), n_lo, n_hi)
    if n_min > n_max or log_D(n_max) > d_hi + FEAS_TOL:
        raise ValueError(
            f"compute={c:.3g} FLOPs is too large for bounds={b}: every model within the "
            f"bounds would train on more than {b.d_hi:.3g} tokens; raise the upper bound."
        )
    return n_min, n_max


def _optimum_row(
    sup: dict[str, np.ndarray],
    c: float,
    n_min: float,
    n_max: float,
    b: Bounds,
    approx: str,
    ci_prob: float,
    fitted: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One row of :func:`compute_optimal` (each draw's optimum on the budget line of ``c``,
    searched over log sizes ``[n_min, n_max]``) and its extrapolation report."""

    def objective(u):
        log_N = u[..., 0]
        with np.errstate(all="ignore"):
            d = np.log(_compute.supervised_tokens(c, np.exp(log_N), approx=approx))
            m = log_supervised(sup, log_N, d)
        return np.where(np.isfinite(m), m, np.inf)

    grid = search.grid([n_min], [n_max], search.COARSE_1D)
    coarse = objective(grid[None])  # (S, K)
    cand = np.broadcast_to(grid[None], (coarse.shape[0], *grid.shape))
    step = np.array([max(grid[1, 0] - grid[0, 0], 1e-6) / 2 if n_max > n_min else 0.0])
    start = search.best_candidate(cand, coarse)
    x, fx = search.compass(objective, *start, step, np.array([n_min]), np.array([n_max]))
    ok = np.isfinite(fx)
    if not ok.any():
        raise ValueError(
            f"The supervised law is not finite for any posterior draw at compute={c:.3g}; "
            "check the fit's parameters."
        )
    log_N = x[ok, 0]
    N = np.exp(log_N)
    D = _compute.supervised_tokens(c, N, approx=approx)
    row = {"compute": float(c)}
    for name, values in (("N", N), ("D", D), ("tokens_per_param", D / N), ("loss", np.exp(fx[ok]))):
        row.update({f"{name}_{k}": v for k, v in credible_interval(values, ci_prob).items()})
    n_lo, n_hi, d_lo, d_hi = b.logs
    on = (np.abs(log_N - n_lo) < BOUND_TOL) | (np.abs(log_N - n_hi) < BOUND_TOL)
    on |= (np.abs(np.log(D) - d_lo) < BOUND_TOL) | (np.abs(np.log(D) - d_hi) < BOUND_TOL)
    row["on_bound"] = float(on.mean())
    row["n_draws"] = int(ok.sum())
    # how far the median optimum lies outside the supervised runs (nothing without runs)
    report = {}
    if fitted:
        report = _extrap._assess(fitted, {"N": row["N_median"], "D": row["D_median"]})
        row["N_fold"], row["D_fold"] = report["N"]["fold"], report["D"]["fold"]
        row["extrapolation"] = _extrap.max_fold(report)
    return row, report


def _supervised_ranges(fit: ScalingFit) -> dict[str, dict[str, Any]]:
    """Ranges of ``N`` and ``D`` over the fit's supervised runs (a distillation fit's jointly
    fitted supervised runs; ``{}`` for a fit without runs)."""
    ranges = _extrap.fitted_ranges(fit)
    if not ranges:
        return {}
    if fit.law == "distillation":
        return {"N": ranges["N_T"], "D": ranges["D_T"]}
    return {"N": ranges["N"], "D": ranges["D"]}


# --------------------------------------------------------------------------------------------
# recommend


@check_keywords
def recommend(
    fit: ScalingFit,
    compute: float | Any,
    student_params: float,
    *,
    scenario: str = "teacher_pretraining",
    risk_tolerance: float = 0.1,
    ci_prob: float = 0.9,
    teacher_loss: float | None = None,
    teacher_params: float | None = None,
    teacher_tokens: float | None = None,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    random_seed: int | None = 0,
    n_students: int = 1,
    teacher_tokens_per_param: tuple[float, float] = TEACHER_TOKENS_PER_PARAM,
    group: str | None = None,
) -> Recommendation:
    """Recommend how to distil a student of ``N_S`` parameters with a budget of ``C`` FLOPs.

    For every posterior draw and allocation ``x = (D_S, N_T, D_T)`` meeting the budget
    (``3 F(N_S) D_S + F(N_T) (delta_logits D_S + delta_pretrain 3 D_T) = C``, Busbridge Eq. 9,
    ``delta_pretrain`` divided by ``n_students``) the distillation law gives the student's
    loss. The recommendation minimises the ``1 - risk_tolerance`` quantile over draws of the
    *predictive* student loss (the module docstring describes the search). Draws where the law
    is not finite are dropped (``n_dropped``); a fit that failed its diagnostics warns first.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit (its supervised law gives the teacher's loss and the baseline).
    compute : float
        Budget in FLOPs, one number (a ceiling); :func:`recommend_sweep` takes several.
    student_params : float
        Student non-embedding parameters ``N_S``, within ``bounds``.
    scenario : {"teacher_pretraining", "best_case", "teacher_inference", \
"pretraining_and_inference"}
        What the budget pays for (``compute.SCENARIOS``), and so what is chosen: the teacher's
        loss ``L_T`` in ``best_case`` (the teacher is free), its size ``N_T`` with ``D_T`` at
        its upper bound in ``teacher_inference`` (logits paid, pretraining sunk), its size and
        tokens otherwise. ``D_S`` is what the rest of the budget buys.
    risk_tolerance : float, default 0.1
        Accepted probability in (0, 1) that the realised student loss exceeds the reported loss
        at risk (``student_loss["at_risk"]``); 0.5 is risk-neutral (the median).
    ci_prob : float, default 0.9
        Probability of the equal-tailed intervals reported.
    teacher_loss : float, optional
        Cross-entropy (nats/token, within :data:`~bayes_distill.data.LOSS_RANGE`) of an
        existing teacher. An existing teacher (this, or ``teacher_params`` with
        ``teacher_tokens``) leaves only ``D_S``, what the budget buys; its pretraining is sunk,
        its logits are charged when the scenario pays for them (this needs ``teacher_params``).
    teacher_params, teacher_tokens : float, optional
        Size and pretraining tokens of an existing teacher; without ``teacher_loss`` its loss
        is predicted per draw by the supervised law.
    bounds : (float, float) or dict, default (1e6, 1e17)
        Bounds on every parameter and token count, or ``{"N": (lo, hi), "D": (lo, hi)}``.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`.
    random_seed : int or None, default 0
        Seed of the predictive noise draws (None: fresh noise).
    n_students : int, default 1
        Students sharing one teacher: where the scenario pays for its pretraining, this student
        pays ``1/n_students`` of it (see :func:`bayes_distill.plots.shared_teacher`).
    teacher_tokens_per_param : (float, float), default (1, 1e4)
        The band of ``D_T / N_T`` of the teachers considered for training (the supervised law
        was fitted on 20 to 3600 tokens per parameter; far outside, it extrapolates).
    group : str, optional
        A grouped fit's group whose law is used, as for :func:`compute_optimal`.

    Returns
    -------
    Recommendation
        The recommended allocation, its losses and FLOPs, with their intervals.

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit, a number is given as something else, or ``compute`` is
        a list or array of budgets (use :func:`recommend_sweep`).
    ValueError
        For a fit of another law, an unknown scenario, a probability outside (0, 1), a student
        outside ``bounds``, an implausible ``teacher_loss``, ``n_students`` below 1, or a budget
        that cannot train the student (on one token, or within ``bounds``) in the scenario.

    Warns
    -----
    ExtrapolationWarning
        Once per call, naming each input of the allocation beyond the fitted runs by more than
        the limits of :mod:`bayes_distill.extrapolation`. Never for a fit without runs.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> rec = bd.recommend(fit, compute=1e22, student_params=1e9, n_students=16)
    >>> rec.p_distillation_better, rec.n_students, sorted(rec.allocation)[:3]
    (1.0, 16, ['D_S', 'D_T', 'N_T'])
    """
    recs, _ = _recommendations(
        fit,
        compute,
        student_params,
        one_budget=True,
        group=group,
        scenario=scenario,
        risk_tolerance=risk_tolerance,
        ci_prob=ci_prob,
        teacher_loss=teacher_loss,
        teacher_params=teacher_params,
        teacher_tokens=teacher_tokens,
        bounds=bounds,
        approx=approx,
        random_seed=random_seed,
        n_students=n_students,
        teacher_tokens_per_param=teacher_tokens_per_param,
    )
    return recs[0]


@check_keywords
def recommend_sweep(
    fit: ScalingFit,
    compute: Any,
    student_params: float,
    *,
    scenario: str = "teacher_pretraining",
    risk_tolerance: float = 0.1,
    ci_prob: float = 0.9,
    teacher_loss: float | None = None,
    teacher_params: float | None = None,
    teacher_tokens: float | None = None,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    random_seed: int | None = 0,
    n_students: int = 1,
    teacher_tokens_per_param: tuple[float, float] = TEACHER_TOKENS_PER_PARAM,
    group: str | None = None,
) -> pd.DataFrame:
    """:func:`recommend` over several budgets: one row per budget, in the order given.

    Each budget gets the recommendation :func:`recommend` would give it, with two differences
    that make the rows comparable: every budget uses the same predictive noise draws (common
    random numbers, from one ``random_seed``), and the budgets are ceilings for each other. A
    budget is a ceiling, not an amount to burn: like :func:`recommend`, a budget may spend less
    when a smaller spend promises a lower loss at risk, and in a sweep every smaller budget of
    the sweep is a candidate too. Then, walking the budgets upwards, a budget whose loss at
    risk would be worse than the one below it takes that smaller budget's spend, so
    ``student_loss_at_risk`` never rises with the budget (``compute_spent`` and ``unspent``
    say what was spent).

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit, as for :func:`recommend`.
    compute : array_like
        Budgets in FLOPs, a non-empty 1-D sequence such as ``[1e20, 1e21, 1e22]`` or
        ``np.geomspace(1e20, 1e24, 9)`` (a single number gives a one-row table).
    student_params : float
        Student non-embedding parameters ``N_S``, within ``bounds``.
    scenario, risk_tolerance, ci_prob
        As for :func:`recommend`.
    teacher_loss, teacher_params, teacher_tokens
        An existing teacher, as for :func:`recommend`.
    bounds, approx, random_seed, n_students, teacher_tokens_per_param, group
        As for :func:`recommend`.

    Returns
    -------
    pandas.DataFrame
        One :meth:`Recommendation.to_frame` row per budget, in the order of ``compute``
        (``compute``, the allocation ``D_S, N_T, D_T``, FLOPs by phase, ``student_loss_*``,
        ``supervised_loss_*``, ``p_distillation_better``, ``on_bound``, ...).
        ``attrs["extrapolation"]`` holds each row's :attr:`Recommendation.extrapolation`
        (NaN as None).

    Raises
    ------
    TypeError, ValueError
        As for :func:`recommend`; every budget is checked before any is searched, and the
        error names the budget that cannot train the student.

    Warns
    -----
    ExtrapolationWarning
        Once per call, naming for each input beyond the fitted runs the budget where it lies
        furthest.

    See Also
    --------
    recommend : one budget, as a :class:`Recommendation` (printable, with per-draw results).

    Notes
    -----
    A sweep that runs longer than a second counts its budgets on stderr when progress is on (a
    terminal or a Jupyter kernel, unless the environment variable
    ``BAYES_DISTILL_PROGRESS=0``; see :func:`bayes_distill.fit`). Each budget costs about what
    one :func:`recommend` call costs.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> sweep = bd.recommend_sweep(fit, compute=[1e20, 1e21, 1e22], student_params=1e9,
    ...                            scenario="best_case")
    >>> sweep["compute"].tolist()
    [1e+20, 1e+21, 1e+22]
    >>> bool(sweep["student_loss_at_risk"].is_monotonic_decreasing)
    True
    """
    recs, _ = _recommendations(
        fit,
        compute,
        student_params,
        group=group,
        scenario=scenario,
        risk_tolerance=risk_tolerance,
        ci_prob=ci_prob,
        teacher_loss=teacher_loss,
        teacher_params=teacher_params,
        teacher_tokens=teacher_tokens,
        bounds=bounds,
        approx=approx,
        random_seed=random_seed,
        n_students=n_students,
        teacher_tokens_per_param=teacher_tokens_per_param,
    )
    frame = pd.concat([r.to_frame() for r in recs], ignore_index=True)
    frame.attrs["extrapolation"] = [_extrap._to_json(r.extrapolation) for r in recs]
    return frame


@dataclass(frozen=True)
class _Request:
    """The checked arguments of :func:`recommend` and :func:`recommend_sweep`."""

    N_S: float
    scenario: str
    risk: float
    ci_prob: float
    bounds: Bounds
    approx: str
    seed: int | None
    n_students: int
    ratio: tuple[float, float]
    #: An existing teacher: ``L_T``, ``N_T``, ``D_T`` as given (empty when it is chosen).
    teacher: dict[str, float]

    @property
    def existing(self) -> bool:
        return bool(self.teacher)


def _check_request(
    student_params: Any,
    scenario: Any,
    risk_tolerance: Any,
    ci_prob: Any,
    teacher_loss: Any,
    teacher_params: Any,
    teacher_tokens: Any,
    bounds: Any,
    approx: Any,
    random_seed: Any,
    n_students: Any,
    teacher_tokens_per_param: Any,
) -> _Request:
    """The arguments of :func:`recommend` checked, in the order of its signature."""
    N_S = _validate.positive("student_params", student_params, "e.g. student_params=1e9.")
    scenario = _validate.scenario(scenario)
    risk = _validate.probability(
        "risk_tolerance",
        risk_tolerance,
        "e.g. 0.1 to be 90% sure of the promised loss, 0.5 for the median.",
    )
    ci_prob = _validate.probability("ci_prob", ci_prob, _CI_HINT)
    b = check_bounds(bounds)
    approx = _validate.approx(approx)
    seed = _validate.random_seed(random_seed)
    n_students = _compute.check_n_students(n_students)
    ratio = _validate.positive_pair(
        teacher_tokens_per_param,
        "teacher_tokens_per_param must be a pair (lower, upper) of tokens per parameter with "
        f"0 < lower < upper, e.g. {TEACHER_TOKENS_PER_PARAM}; got {teacher_tokens_per_param!r}.",
    )
    check_student_in_bounds(N_S, b)
    teacher = _existing_teacher(scenario, teacher_loss, teacher_params, teacher_tokens)
    return _Request(N_S, scenario, risk, ci_prob, b, approx, seed, n_students, ratio, teacher)


def _existing_teacher(
    scenario: str, teacher_loss: Any, teacher_params: Any, teacher_tokens: Any
) -> dict[str, float]:
    """An existing teacher's ``L_T``, ``N_T``, ``D_T`` as given, checked (empty when none is
    given): its loss must follow from what is given, and a scenario that pays for its logits
    needs its size."""
    teacher: dict[str, float] = {}
    if teacher_loss is None and teacher_params is None and teacher_tokens is None:
        return teacher
    if teacher_loss is not None:
        teacher["L_T"] = _validate.teacher_loss(teacher_loss)
    if teacher_params is not None:
        teacher["N_T"] = _validate.positive("teacher_params", teacher_params, "e.g. 7e9.")
    if teacher_tokens is not None:
        if teacher_params is None:
            raise ValueError(
                "teacher_tokens was given without teacher_params; give both (or teacher_loss)."
            )
        teacher["D_T"] = _validate.positive("teacher_tokens", teacher_tokens, "e.g. 2e12.")
    if "L_T" not in teacher and "D_T" not in teacher:
        raise ValueError(
            "teacher_params alone does not say how good the teacher is: give teacher_tokens "
            "too (its loss then follows from the supervised law) or teacher_loss."
        )
    if pays_logits(scenario) and "N_T" not in teacher:
        raise ValueError(
            f"scenario {scenario!r} pays for the teacher's logits, so teacher_params is "
            "needed to cost them; give teacher_params, or use scenario='best_case' (or "
            "'teacher_pretraining') if the logits are already stored."
        )
    return teacher


def _recommendations(
    fit: ScalingFit,
    compute: float | Any,
    student_params: float,
    *,
    scenario: str,
    risk_tolerance: float,
    ci_prob: float,
    teacher_loss: float | None,
    teacher_params: float | None,
    teacher_tokens: float | None,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]],
    approx: str,
    random_seed: int | None,
    n_students: int = 1,
    teacher_tokens_per_param: tuple[float, float] = TEACHER_TOKENS_PER_PARAM,
    group: Any = None,
    one_budget: bool = False,
) -> tuple[list[Recommendation], bool]:
    """The work of :func:`recommend` and :func:`recommend_sweep` (same arguments, checked
    here): one :class:`Recommendation` per budget, in the order given, and whether ``compute``
    was a single number. The command line's JSON is built from these for one budget and for a
    sweep. ``group`` narrows a grouped fit to one group's law (:meth:`ScalingFit.for_group`);
    ``one_budget`` (:func:`recommend`) refuses several budgets."""
    if one_budget and not _validate.is_number(compute) and np.ndim(compute) > 0:
        raise TypeError(
            f"compute must be one budget in FLOPs, e.g. compute=1e22, got {compute!r}. For "
            "several budgets use bd.recommend_sweep(fit, compute=[1e21, 1e22, 1e23], "
            "student_params=...), which returns a DataFrame with one row per budget (the same "
            "noise draws for every budget, and a loss at risk that never rises with the budget)."
        )
    if group is not None or getattr(fit, "law", None) == "distillation":
        # one group's law of a grouped fit (which then needs group=)
        fit = _validate.law_group(fit, group, "recommend")
    _validate.fit(fit, ("distillation",), "recommend")
    budgets, scalar = _validate.budgets(compute)
    r = _check_request(
        student_params,
        scenario,
        risk_tolerance,
        ci_prob,
        teacher_loss,
        teacher_params,
        teacher_tokens,
        bounds,
        approx,
        random_seed,
        n_students,
        teacher_tokens_per_param,
    )
    sup, dist, sup_student = distillation_law_params(fit)

    def build(c: float) -> Problem:
        return build_problem(
            sup,
            dist,
            r.N_S,
            c,
            r.scenario,
            r.teacher,
            r.approx,
            r.bounds,
            sup_student,
            r.n_students,
            r.ratio,
        )

    # Validate every budget before computing anything.
    for c in budgets:
        build(float(c))
    recs = _search_budgets(fit, r, build, budgets)
    recs = [
        dataclasses.replace(
            rec, supervised_source=fit.supervised_source, paper=_paper_answer(fit, rec, r)
        )
        for rec in recs
    ]
    # one warning per call, naming the furthest budget of a sweep for each input
    _extrap._warn(
        _extrap._stack([rec.extrapolation for rec in recs]),
        "distillation",
        where=None if scalar else [f"compute={rec.compute:.3g}" for rec in recs],
        what="budgets",
    )
    return recs, scalar


def _search_budgets(
    fit: ScalingFit, r: _Request, build, budgets: np.ndarray
) -> list[Recommendation]:
    """The recommendation at each budget (the ceiling of :class:`risk.BudgetCeiling`), then,
    walking the budgets upwards, any budget whose loss at risk is worse than the one below it
    takes that smaller budget's spend."""
    seed_student, seed_supervised = np.random.SeedSequence(r.seed).spawn(2)
    noise = StudentNoise(fit, seed_student)
    eps_sup = supervised_noise(fit, seed_supervised)
    own_supervised_noise = "sigma_supervised" in fit.posterior
    spend = BudgetCeiling(build, noise, 1.0 - r.risk, r.scenario, budgets)
    ranges = _extrap.fitted_ranges(fit)

    setting = Setting(r.scenario, r.risk, r.ci_prob, r.existing, own_supervised_noise, ranges)

    def solve(p: Problem, budget: float, searched: QuantileOptimum) -> Recommendation:
        return _solve(p, noise, eps_sup, setting, budget, searched)

    recs = []
    counter = _sweep_counter("recommend: budget", len(budgets))
    for c in budgets:
        p, searched = spend.best(float(c))
        recs.append(solve(p, float(c), searched))
        counter.step()
    counter.close()
    # in a sweep, a larger budget never promises a worse loss at risk than a smaller one
    order = np.argsort(budgets, kind="stable")
    for i, j in itertools.pairwise(order):
        if recs[j].student_loss["at_risk"] > recs[i].student_loss["at_risk"]:
            spent = recs[i].compute_spent
            recs[j] = solve(spend.problem(spent), float(budgets[j]), spend.search(spent))
    return recs


def _solve(
    p: Problem,
    noise: StudentNoise,
    eps_sup: np.ndarray,
    setting: Setting,
    budget: float | None = None,
    searched: QuantileOptimum | None = None,
) -> Recommendation:
    """The recommendation of problem ``p``: its optimum of the loss at risk (``searched`` when
    the caller has it), compared with the supervised baseline (``eps_sup``: its predictive
    noise per draw) and each draw's optimum."""
    optima = find_optima(p, noise, 1.0 - setting.risk, setting.scenario, searched)
    return summarise(p, optima, noise, eps_sup, setting, p.compute if budget is None else budget)


def _paper_answer(fit: ScalingFit, rec: Recommendation, r: _Request) -> dict[str, float]:
    """The paper's Table-6 coefficients' answer to the same question (a point estimate)."""
    teacher = r.teacher
    if fit.runs is None or ("L_T" in teacher and "N_T" not in teacher):
        return {}  # a fit of given parameters, or a teacher given only by its loss
    paper = _paper_fit()
    sup, dist = supervised_params(paper), distillation_params(paper)
    if "D_T" in teacher:  # a teacher given by its size and tokens: the paper's law says its loss
        teacher = {k: v for k, v in teacher.items() if k != "L_T"}
    try:
        p = build_problem(
            sup,
            dist,
            rec.student_params,
            rec.compute,
            r.scenario,
            teacher,
            r.approx,
            r.bounds,
            n_students=r.n_students,
            teacher_ratio=r.ratio,
        )
    except ValueError:
        return {}
    noise = StudentNoise(paper, np.random.SeedSequence(0))
    ans = _solve(p, noise, np.zeros(1), Setting(r.scenario, 0.5, 0.5, bool(teacher), True))
    return {
        "p_distillation_better": ans.p_distillation_better,
        "student_loss": ans.student_loss_mean["median"],
        "supervised_loss": ans.supervised_loss_mean["median"],
    }


@functools.cache
def _paper_fit() -> ScalingFit:
    """The paper's Table-6 coefficients as a one-draw fit (built once)."""
    from .results import ScalingFit

    return ScalingFit.from_params("distillation", laws.PAPER)


# --------------------------------------------------------------------------------------------
# crossover: the budget where supervised training catches up with distillation


@check_keywords
def crossover(
    fit: ScalingFit,
    student_params: float | Any,
    scenario: str = "best_case",
    ci_prob: float = 0.9,
    teacher_loss: float | None = None,
    *,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    compute_range: tuple[float, float] = DEFAULT_COMPUTE_RANGE,
) -> pd.DataFrame:
    """The compute beyond which supervised training beats the best distilled student.

    For each posterior draw ``s`` and budget ``C`` the gap
    ``g_s(C) = min_x L_S^(s)(x; C) - L^(s)(N_S, C / (3 F(N_S)))`` compares the best distilled
    student the budget buys in ``scenario`` (each draw's own optimal allocation, as
    :attr:`Recommendation.per_draw`'s ``loss_optimal``) with the same student trained on data
    with the whole budget. The draw's *crossover* is the first budget, after distillation has
    won (``g_s < 0``), at which it stops winning (``g_s >= 0``); a draw where distillation only
    starts winning as the budget grows counts in ``p_still_winning``. The crossover is a
    property of the laws: mean law (no run-to-run noise, no discrepancy offsets) and the whole
    budget (no ceiling, unlike :func:`recommend`).

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    student_params : float or array_like
        Student non-embedding parameters ``N_S``, within ``bounds``; an array gives one row per
        student.
    scenario : str, default "best_case"
        What the budget pays for, as in :func:`recommend`.
    ci_prob : float, default 0.9
        Probability of the equal-tailed interval of the crossover.
    teacher_loss : float, optional
        An existing teacher's cross-entropy (nats/token) to distil from instead of the best
        teacher (its pretraining sunk). A scenario that pays for its logits needs its size and
        is refused.
    bounds, approx
        As in :func:`recommend`.
    compute_range : (float, float), default (1e18, 1e27)
        Budgets (FLOPs) searched. Budgets in it that cannot train the student within
        ``bounds``, distilled in the scenario or supervised, are left out (``compute_lo`` and
        ``compute_hi`` say what was searched).

    Returns
    -------
    pandas.DataFrame
        One row per student: ``student_params``; ``median``, ``lower``, ``upper``, the
        crossover's median and ``ci_prob`` interval in FLOPs over the draws that have one (NaN
        when none has); ``p_no_crossover``, the share of draws without a crossover in the range,
        which is ``p_never_wins`` (distillation never wins there) plus ``p_still_winning`` (it
        wins from some budget on and still wins at the top of the range); ``n_draws`` and
        ``n_crossover`` (draws used, and those with a crossover); ``D_S_median``, the
        distilled student's median tokens at the crossovers; ``compute_lo, compute_hi``. For a
        fit with runs, ``N_S_fold``, ``D_S_fold`` and ``extrapolation`` (their largest fold)
        say how far these lie beyond the distillation runs (:mod:`bayes_distill.extrapolation`).
        ``attrs`` records ``scenario``, ``ci_prob``, ``approx``, ``compute_range``,
        ``teacher_loss``, ``loss_kind``, ``extrapolation`` (per row) and ``draws`` (per row,
        each draw's crossover, NaN for none, in the order of the posterior's draws).

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit, or ``student_params`` is not numeric.
    ValueError
        For a fit of another law, an unknown scenario, ``ci_prob`` outside (0, 1), a student
        outside ``bounds``, a bad ``compute_range`` or one with no budgets that can train a
        student, an implausible ``teacher_loss`` or one with a scenario that pays for logits.

    Warns
    -----
    ExtrapolationWarning
        Once per call, when the student or its tokens at the median crossover lie beyond the
        runs by more than :data:`~bayes_distill.extrapolation.COUNT_FOLD_LIMIT` times.

    Notes
    -----
    At every budget of a grid of 4 per decade each draw's optimum is searched as in
    :func:`recommend` (started also from its optimum at the previous budget); the first budget
    lost after a win brackets the crossover, which 12 bisection steps in log compute narrow to
    1.4e-4. A draw that wins, loses and wins again within a quarter decade is not resolved.
    The crossovers agree with ``scipy.optimize.brentq`` on a SciPy minimisation per draw to
    1e-4 (relative). On the shipped posterior (8000 draws) a student takes about 2 s in
    ``best_case`` and ``teacher_inference`` and 7 s when the teacher's tokens are chosen.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> frame = bd.crossover(fit, student_params=[1e9, 1e10])
    >>> [f"{c:.2g}" for c in frame["median"]]
    ['2.2e+22', '1.8e+24']
    >>> frame["p_no_crossover"].tolist()
    [0.0, 0.0]
    """
    _validate.fit(fit, ("distillation",), "crossover")
    b = check_bounds(bounds)
    sizes = check_students(student_params, b)
    scenario = _validate.scenario(scenario)
    ci_prob = _validate.probability("ci_prob", ci_prob, _CI_HINT)
    approx = _validate.approx(approx)
    compute_range = _validate.positive_pair(
        compute_range,
        "compute_range must be a pair (lower, upper) of FLOPs with 0 < lower < upper, e.g. "
        f"(1e18, 1e27); got {compute_range!r}.",
    )
    teacher = _crossover_teacher(scenario, teacher_loss)
    sup, dist, sup_student = distillation_law_params(fit)
    budgets = frontier.crossover_budgets(*compute_range)
    # every student is checked before anything is computed
    grids = [
        frontier.crossover_grid(
            sup, dist, float(n), budgets, scenario, teacher, approx, b, sup_student
        )
        for n in sizes
    ]
    attrs = {"scenario": scenario, "ci_prob": ci_prob, "approx": approx}
    attrs.update(compute_range=compute_range, teacher_loss=teacher.get("L_T"), loss_kind=_MEAN_LAW)
    return _crossover_frame(fit, sizes, grids, attrs)


def _crossover_teacher(scenario: str, teacher_loss: Any) -> dict[str, float]:
    """:func:`crossover`'s existing teacher, ``{"L_T": teacher_loss}`` (empty for none)."""
    if teacher_loss is None:
        return {}
    teacher = {"L_T": _validate.teacher_loss(teacher_loss)}
    if pays_logits(scenario):
        raise ValueError(
            f"scenario {scenario!r} pays for the teacher's logits, which needs the teacher's "
            "size; crossover takes an existing teacher by its loss only: use "
            "scenario='best_case' (its logits stored or free) or leave teacher_loss out."
        )
    return teacher


def _crossover_frame(
    fit: ScalingFit, sizes: np.ndarray, grids: list, attrs: dict[str, Any]
) -> pd.DataFrame:
    """:func:`crossover`'s table from each student's grid of problems; ``attrs`` gets the
    extrapolation reports and the per-draw crossovers."""
    ranges = _extrap.fitted_ranges(fit)
    rows, reports, draws = [], [], []
    counter = _sweep_counter("crossover: student", len(sizes))
    for N_S, grid in zip(sizes, grids, strict=True):
        row, report, per_draw = frontier.crossover_row(float(N_S), grid, attrs["ci_prob"], ranges)
        rows.append(row)
        reports.append(report)
        draws.append(per_draw)
        counter.step()
    counter.close()
    frame = pd.DataFrame(rows)
    frame.attrs.update(attrs)
    frame.attrs["extrapolation"] = [_extrap._to_json(r) for r in reports]
    frame.attrs["draws"] = draws
    _extrap._warn(
        _extrap._stack(reports),
        "distillation",
        where=[f"student_params={n:.3g}" for n in sizes] if len(sizes) > 1 else None,
        what="students",
    )
    return frame


# --------------------------------------------------------------------------------------------
# distil or train: the map over student sizes and budgets


@check_keywords
def distill_or_train(
    fit: ScalingFit,
    scenario: str = "teacher_pretraining",
    *,
    student_params: Any = None,
    compute: Any = None,
    ci_prob: float = 0.9,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    max_draws: int | None = 400,
) -> pd.DataFrame:
    """Distil or train, over a grid of student sizes and budgets: the data of the map.

    For every student size ``N_S``, budget ``C`` and posterior draw ``s`` the *gap*
    ``gap_s = min_x L_S^(s)(x; C) - L^(s)(N_S, C / (3 F(N_S)))`` is the loss of the best
    distilled student the budget buys in ``scenario`` (the draw's own optimal allocation, as in
    :func:`crossover`) minus that of the same student trained on data with the whole budget
    (nats/token, mean law). Distillation is better where the gap is negative. Each cell reports
    the share of draws where it is, the gap's median and interval, and the gap under the
    paper's coefficients (Busbridge et al. 2025, Table 6), so that the posterior's boundary
    (``p_distillation_better = 0.5``) can be drawn beside the paper's (``paper_gap = 0``), as
    :func:`bayes_distill.plots.distill_map` does.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    scenario : str, default "teacher_pretraining"
        What the budget pays for, as in :func:`recommend`.
    student_params : array_like, optional
        Student sizes ``N_S`` (within ``bounds``); default 25 log-spaced from 1e8 to 1e11.
    compute : array_like, optional
        Budgets in FLOPs; default 25 log-spaced from 1e19 to 1e26.
    ci_prob : float, default 0.9
        Probability of the gap's equal-tailed interval.
    bounds, approx
        As in :func:`recommend`.
    max_draws : int or None, default 400
        Use at most this many posterior draws (evenly thinned; the share of draws in a cell
        then has a Monte Carlo standard error of at most 0.025); None uses every draw.

    Returns
    -------
    pandas.DataFrame
        One row per cell (student sizes outer, budgets inner, both ascending):
        ``student_params``, ``compute``, ``supervised_tokens_per_param`` (``C / (3 F(N_S)) /
        N_S``: below 1 the student sees each parameter's worth of data less than once);
        ``p_distillation_better`` (share of draws with a negative gap) and
        ``p_distillation_better_by_margin`` (a gap below ``-DECISION_MARGIN``, 0.01 nats:
        smaller differences are ties); ``gap_median``, ``gap_lower``, ``gap_upper``;
        ``distilled_loss_median`` and ``supervised_loss_median``; ``paper_gap`` and
        ``paper_distill`` (``paper_gap < 0``); ``n_draws``, the draws where both losses are
        finite. A cell whose budget cannot train the student within ``bounds`` has NaN values
        and ``n_draws = 0``. ``attrs`` records ``scenario``, ``ci_prob``, ``approx``,
        ``loss_kind`` and ``draws_used``.

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit, or a grid is not numeric.
    ValueError
        For a fit of another law, an unknown scenario, ``ci_prob`` outside (0, 1), a student
        outside ``bounds``, a non-positive budget or ``max_draws``.

    Notes
    -----
    The draws of a cell are searched side by side, each from the best of the coarse grid of
    :func:`recommend` and its optimum at the budget below, then by 10 rounds of compass search
    (the gaps agree with 24 rounds to 1e-4 nats). On the shipped posterior thinned to 400
    draws the default grid takes about 6 s of CPU in ``best_case``, 14 s in
    ``teacher_inference`` and 22 s when the teacher's tokens are chosen
    (``benchmarks/distill_map_speed.py``). Cells beyond the fitted runs give no warning: most
    of a map lies there on purpose.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> grid = bd.distill_or_train(fit, "best_case", student_params=[1e9], compute=[1e20, 1e24])
    >>> grid[["compute", "p_distillation_better", "paper_distill"]].values.tolist()
    [[1e+20, 1.0, True], [1e+24, 0.0, False]]
    """
    _validate.fit(fit, ("distillation",), "distill_or_train")
    b = check_bounds(bounds)
    lo, hi, n = DEFAULT_MAP_STUDENTS
    sizes = np.sort(
        check_students(np.geomspace(lo, hi, n) if student_params is None else student_params, b)
    )
    lo, hi, n = DEFAULT_MAP_COMPUTE
    budgets = np.sort(_validate.budgets(np.geomspace(lo, hi, n) if compute is None else compute)[0])
    scenario = _validate.scenario(scenario)
    ci_prob = _validate.probability("ci_prob", ci_prob, _CI_HINT)
    approx = _validate.approx(approx)
    max_draws = _validate.max_draws(max_draws)
    sup, dist, sup_student = distillation_law_params(fit)
    if max_draws is not None and fit.n_samples > max_draws:
        keep = np.linspace(0, fit.n_samples - 1, int(max_draws)).round().astype(int)
        sup = {k: v[keep] for k, v in sup.items()}
        dist = {k: v[keep] for k, v in dist.items()}
    paper_sup, paper_dist, _ = distillation_law_params(_paper_fit())
    sets = [(sup, dist, sup_student), (paper_sup, paper_dist, None)]
    frame = _map_frame(sets, sizes, budgets, scenario, approx, b, ci_prob)
    frame.attrs.update(
        {
            "scenario": scenario,
            "ci_prob": ci_prob,
            "approx": approx,
            "loss_kind": _MEAN_LAW,
            "draws_used": int(next(iter(sup.values())).shape[0]),
        }
    )
    return frame


def _map_frame(sets, sizes, budgets, scenario, approx, b: Bounds, ci_prob) -> pd.DataFrame:
    """:func:`distill_or_train`'s cells, from the posterior's and the paper's laws ``sets``."""
    rows = []
    counter = _sweep_counter("distill_or_train: student", len(sizes))
    for N_S in sizes:
        posterior, paper = frontier.map_losses(sets, float(N_S), budgets, scenario, approx, b)
        (dist_loss, sup_loss), (paper_dist_loss, paper_sup_loss) = posterior, paper
        rows.extend(
            frontier.map_row(N_S, c, d, s, pd_, ps_, ci_prob)
            for c, d, s, pd_, ps_ in zip(
                budgets, dist_loss, sup_loss, paper_dist_loss, paper_sup_loss, strict=True
            )
        )
        counter.step()
    counter.close()
    frame = pd.DataFrame(rows)
    N = frame["student_params"].to_numpy(float)
    D = _compute.supervised_tokens(frame["compute"].to_numpy(float), N, approx=approx)
    frame.insert(2, "supervised_tokens_per_param", D / N)
    return frame
