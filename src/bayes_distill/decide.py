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

The search
----------
Allocations are searched in log space. The free variables are

==============================  ==========================================================
scenario                        free variables (the student tokens ``D_S`` buy the rest)
==============================  ==========================================================
``best_case``                   ``log L_T`` (the teacher is free; only its loss matters)
``teacher_inference``           ``log N_T``; ``D_T`` at its upper bound (overtrained teacher)
``teacher_pretraining``         ``log N_T, log D_T``
``pretraining_and_inference``   ``log N_T, log D_T``
existing teacher                none: ``D_S`` is what the budget buys
==============================  ==========================================================

A coarse grid (24 points in one dimension, 10 x 10 in two over the box of teachers the budget
can afford; points whose student tokens fall outside the bounds are dropped) is evaluated for
every draw: one ``(S, K)`` array. Three objectives are then refined from their best grid point by
a vectorised compass search with Newton steps: each round evaluates the ``3**d - 1`` neighbours
at ``+-step`` on each axis plus the minimiser of the quadratic through them (a Newton step of at
most 4 steps per axis, which follows the long, curved valleys along which teachers of equal
cost trade size for tokens); a row moves to the best point if it improves, and its step shrinks
by 0.4 when it does not move or is close to the optimum. The objectives are the ``1 - r``
quantile over draws of the predictive loss (the recommendation; 8 rounds), the posterior mean of
the predictive loss (5 rounds, from the better of its grid point and the quantile optimum) and
each draw's own optimum (6 rounds, one search per draw run side by side as the rows of one
array, started from the best of its grid point and the two common optima), which gives the
regret and the spread of the optima. A 2-D recommendation on 4000 draws costs about 230 law
evaluations per draw (about 0.3 s of CPU); checked against a
32 x 32 grid with 24 rounds, the recommended quantile agrees to about 5e-4 nats and the
per-draw optima to 1e-5 nats on average.

Predictive loss uses common random numbers: in draw ``s`` the predicted log loss of a new run at
allocation ``x`` is ``log L_S^(s)(x) + eps_s`` with one ``eps_s`` (run noise plus the discrepancy
offsets of a new student and a new teacher, :meth:`ScalingFit.noise_draws`) shared by every
candidate, so candidates are compared on the same realisations.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import _progress, laws
from . import compute as _compute
from . import extrapolation as _extrap
from . import validate as _validate
from ._keywords import check_keywords

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = [
    "DEFAULT_BOUNDS",
    "DEFAULT_COMPUTE_RANGE",
    "SCENARIO_DESCRIPTIONS",
    "Recommendation",
    "compute_optimal",
    "crossover",
    "distill_or_train",
    "recommend",
    "recommend_sweep",
]

#: Default bounds on parameters and tokens, ``N`` and ``D`` alike (as in the paper).
DEFAULT_BOUNDS: tuple[float, float] = (1e6, 1e17)

#: One-line meaning of each scenario (Busbridge et al. 2025, Eq. 9 and Appendix H).
SCENARIO_DESCRIPTIONS: dict[str, str] = {
    "best_case": "teacher free (it exists and its logits cost nothing): choose its loss L_T",
    "teacher_inference": (
        "choose an existing, overtrained teacher (its pretraining already paid: D_T at the "
        "upper bound); pay for its logits on the student's tokens"
    ),
    "teacher_pretraining": "train the teacher; its logits are stored and reused",
    "pretraining_and_inference": "one teacher for one student: pay for training it and its logits",
}

# Search settings (see the module docstring); measured against a 32 x 32 grid with 24 rounds on
# a 4000-draw posterior: recommended quantile within 5e-4 nats, per-draw optima within 1e-5 nats
# on average (5e-4 at worst, where an optimum sits on the sharp break of the distillation law).
_COARSE_1D = 24
_COARSE_2D = 10
_N_ROUNDS = 8
_N_ROUNDS_DRAW = 6
_N_ROUNDS_MEAN = 5
_SHRINK = 0.4
#: Tokens per parameter ``D_T / N_T`` of the teachers that ``recommend`` considers training
#: (``teacher_pretraining``, ``pretraining_and_inference``): the supervised law that predicts a
#: teacher's loss was fitted on models trained with about 20 to 3600 tokens per parameter (the
#: paper's teachers), and a teacher far outside that (0.01 tokens per parameter, or 10^6) rests
#: on an extrapolation the data never checked. ``teacher_tokens_per_param`` changes the band.
TEACHER_TOKENS_PER_PARAM: tuple[float, float] = (1.0, 1e4)

#: Decisions "distil or train" are also reported with this margin (nats): the probability that
#: the distilled student beats the supervised one by more than it. It is the resolution the
#: model claims far from the runs, the tolerance of its infinite-data limit
#: (:data:`bayes_distill.model.INFINITE_DATA_TOL`): a smaller difference is a tie.
DECISION_MARGIN = 0.01

# Relative tolerance (in log) for "the optimum sits on a bound" and for feasibility.
_BOUND_TOL = 1e-3
_FEAS_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# validation


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_positive(name: str, value: Any, hint: str) -> float:
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}); {hint}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value!r}; {hint}")
    return value


def _check_teacher_loss(value: Any) -> float:
    """``teacher_loss`` as a float, checked like the losses of a run table (``load_runs``):
    a cross-entropy in nats/token within :data:`bayes_distill.data.LOSS_RANGE`."""
    from .data import LOSS_RANGE

    value = _check_positive("teacher_loss", value, "give it in nats/token, e.g. 2.1.")
    lo, hi = LOSS_RANGE
    if not lo <= value <= hi:
        if value > hi:
            why = (
                "values this large look like a perplexity (give its log, np.log(perplexity)) "
                "or a loss summed over tokens (divide by the token count)."
            )
        else:
            why = (
                "values this small are not plausible for a language model (is it an accuracy, "
                "a log10 value, or a loss scaled by some factor?)."
            )
        raise ValueError(
            f"teacher_loss={value!r} is outside the range of plausible losses [{lo:g}, {hi:g}] "
            f"nats/token (the range load_runs accepts for run-table losses): {why} Give the "
            "teacher's validation cross-entropy in nats/token (typically 1.5 to 5), e.g. "
            "teacher_loss=2.1; a loss in bits/token converts to nats by multiplying by "
            "ln 2 = 0.693."
        )
    return value


def _check_budgets(compute: Any) -> tuple[np.ndarray, bool]:
    """Budgets as a 1-D float array and whether a single number was given."""
    hint = "give FLOPs as a number such as 1e22, or a 1-D array of budgets for a sweep."
    if isinstance(compute, str | bytes | bool):
        raise TypeError(f"compute must be a number or an array of numbers, got {compute!r}; {hint}")
    try:
        arr = np.asarray(compute, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"compute must be a number or an array of numbers, got {compute!r}; {hint}"
        ) from None
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(
            f"compute must be a number or a non-empty 1-D array, got {compute!r}; {hint}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"compute must be finite and positive FLOPs, got {compute!r}; {hint}")
    return np.atleast_1d(arr), arr.ndim == 0


@dataclass(frozen=True)
class _Bounds:
    """Bounds on parameter counts (``N``) and token counts (``D``), natural scale."""

    n_lo: float
    n_hi: float
    d_lo: float
    d_hi: float

    @property
    def logs(self) -> tuple[float, float, float, float]:
        return tuple(math.log(v) for v in (self.n_lo, self.n_hi, self.d_lo, self.d_hi))

    def __str__(self) -> str:
        if (self.n_lo, self.n_hi) == (self.d_lo, self.d_hi):
            return f"({self.n_lo:.3g}, {self.n_hi:.3g})"
        return f"{{N: ({self.n_lo:.3g}, {self.n_hi:.3g}), D: ({self.d_lo:.3g}, {self.d_hi:.3g})}}"


def _check_pair(bounds: Any, pair: Any) -> tuple[float, float]:
    msg = (
        f"bounds must be a pair (lower, upper) of positive numbers with lower < upper, bounding "
        f"parameters and tokens alike, or a dict {{'N': (lower, upper), 'D': (lower, upper)}}; "
        f"got {bounds!r}. The default is {DEFAULT_BOUNDS}."
    )
    return _positive_pair(pair, msg)


def _positive_pair(pair: Any, msg: str) -> tuple[float, float]:
    """``(lo, hi)`` as floats with ``0 < lo < hi``, both finite; ValueError(msg) otherwise."""
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not (_is_number(lo) and _is_number(hi)):
        raise ValueError(msg)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(msg)
    return lo, hi


def _check_bounds(bounds: Any) -> _Bounds:
    if isinstance(bounds, Mapping):
        unknown = set(bounds) - {"N", "D"}
        if unknown:
            raise ValueError(
                f"bounds as a dict takes the keys 'N' (parameters) and 'D' (tokens), got "
                f"{sorted(map(str, unknown))}."
            )
        n = _check_pair(bounds, bounds.get("N", DEFAULT_BOUNDS))
        d = _check_pair(bounds, bounds.get("D", DEFAULT_BOUNDS))
    else:
        n = d = _check_pair(bounds, bounds)
    return _Bounds(*n, *d)


def _check_approx(approx: Any) -> str:
    if approx not in ("paper", "2N"):
        raise ValueError(
            f"approx must be 'paper' (FLOPs per token with attention and embeddings, paper Eq. 9) "
            f"or '2N' (the 6ND rule), got {approx!r}."
        )
    return approx


def _sweep_counter(what: str, n_budgets: int) -> _progress.Counter:
    """The progress counter of a sweep of budgets: on stderr when progress is on
    (:func:`bayes_distill._progress.enabled`), the sweep has several budgets and it has run
    for :data:`~bayes_distill._progress.SWEEP_DELAY` seconds."""
    on = n_budgets > 1 and _progress.enabled()
    return _progress.Counter(what, n_budgets, on=on, delay=_progress.SWEEP_DELAY)


# --------------------------------------------------------------------------------------------
# posterior parameters and small numerical helpers


def _supervised_params(fit: ScalingFit) -> dict[str, np.ndarray]:
    """Sampled supervised parameters flattened over (chain, draw), shape ``(S, 1)``."""
    return fit.draws.params(fit.model.supervised_names, 1)


def _distillation_law_params(fit: ScalingFit) -> tuple[dict, dict, dict | None]:
    """A distillation fit's draws as the searches use them: the supervised parameters (the
    teacher's loss and the baseline), the distillation-only ones, and the supervised
    parameters of the student's own loss inside the law when a two-stage fit holds them fixed
    (``None`` otherwise: the same as the first)."""
    return _supervised_params(fit), _distillation_params(fit), fit.model.student_supervised


def _check_scenario(scenario: Any) -> str:
    if not isinstance(scenario, str) or scenario not in _compute.SCENARIOS:
        valid = ", ".join(repr(s) for s in _compute.SCENARIOS)
        raise ValueError(f"Unknown scenario {scenario!r}. Valid scenarios are {valid}.")
    return scenario


def _distillation_params(fit: ScalingFit) -> dict[str, np.ndarray]:
    """Sampled distillation-only parameters flattened over (chain, draw), shape ``(S, 1)``."""
    return fit.draws.params(laws.DISTILLATION_ONLY_SAMPLED, 1)


def _log_sup(params: Mapping[str, np.ndarray], log_N: Any, log_D: Any) -> np.ndarray:
    """Log supervised law per draw; non-finite values are left for the caller to handle."""
    with np.errstate(all="ignore"):
        return laws.log_supervised(laws.NUMPY, log_N, log_D, **params)


def _bisect_increasing(f: Callable[[float], float], lo: float, hi: float, n: int = 80) -> float:
    """Largest ``x`` in ``[lo, hi]`` with ``f(x) <= 0`` for ``f`` increasing, ``f(lo) <= 0``."""
    if f(hi) <= 0:
        return hi
    for _ in range(n):
        mid = 0.5 * (lo + hi)
        if f(mid) <= 0:
            lo = mid
        else:
            hi = mid
    return lo


def _newton_step(
    fc: np.ndarray, f0: np.ndarray, steps: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minimiser offset of the quadratic through a ``3**d`` stencil (central differences).

    ``fc (R, M)`` are the values at ``offsets * steps`` around centres with values ``f0 (R,)``.
    Returns the offsets ``(R, d)`` and where they are usable (a positive-definite Hessian).
    """
    index = {tuple(o): i for i, o in enumerate(offsets)}

    def at(*o):
        return fc[:, index[o]]

    with np.errstate(all="ignore"):
        if steps.shape[1] == 1:
            h = steps[:, 0]
            g = (at(1.0) - at(-1.0)) / (2 * h)
            H = (at(1.0) - 2 * f0 + at(-1.0)) / h**2
            delta = (-g / H)[:, None]
            ok = H > 0
        else:
            h0, h1 = steps[:, 0], steps[:, 1]
            g0 = (at(1.0, 0.0) - at(-1.0, 0.0)) / (2 * h0)
            g1 = (at(0.0, 1.0) - at(0.0, -1.0)) / (2 * h1)
            H00 = (at(1.0, 0.0) - 2 * f0 + at(-1.0, 0.0)) / h0**2
            H11 = (at(0.0, 1.0) - 2 * f0 + at(0.0, -1.0)) / h1**2
            H01 = (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4 * h0 * h1)
            det = H00 * H11 - H01**2
            delta = np.stack([-(H11 * g0 - H01 * g1) / det, -(H00 * g1 - H01 * g0) / det], -1)
            ok = (H00 > 0) & (det > 0)
        ok &= np.all(np.isfinite(fc), axis=1) & np.isfinite(f0) & np.all(np.isfinite(delta), axis=1)
    return np.where(ok[:, None], delta, 0.0), ok


def _compass(
    objective: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    f0: np.ndarray,
    step: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    n_rounds: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised compass search with Newton steps; each row of ``x0 (R, d)`` is independent.

    ``objective(cand)`` maps candidates ``(R, M, d)`` to values ``(R, M)`` (``inf`` where
    infeasible). ``lo`` and ``hi`` bound every row alike ``(d,)`` or each row ``(R, d)``. Each
    round evaluates the ``3**d - 1`` neighbours at ``+-step`` per axis and the
    minimiser of the quadratic through them (a Newton step, at most ``4 step`` per axis, which
    follows the long curved valleys a plain compass search crawls along). A row moves to the
    best of these if it improves; its step shrinks when it does not move or when the Newton
    step was shorter than half the step (close to the optimum).
    """
    R, d = x0.shape
    offsets = np.array([o for o in itertools.product((-1.0, 0.0, 1.0), repeat=d) if any(o)])
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    # the stencil (R, M, d) is clipped to each row's box
    lo_s, hi_s = (lo[:, None, :], hi[:, None, :]) if lo.ndim == 2 else (lo, hi)
    x, fx = x0.copy(), f0.copy()
    steps = np.broadcast_to(np.asarray(step, float), (R, d)).copy()
    rows = np.arange(R)
    for _ in range(_N_ROUNDS if n_rounds is None else n_rounds):
        raw = x[:, None, :] + steps[:, None, :] * offsets[None]
        stencil = np.clip(raw, lo_s, hi_s)
        f_stencil = objective(stencil)
        delta, ok = _newton_step(f_stencil, fx, steps, offsets)
        ok &= ~np.any(raw != stencil, axis=(1, 2))  # central differences need the full stencil
        delta = np.clip(delta, -4 * steps, 4 * steps)
        newton = np.clip(x + delta, lo, hi)
        cand = np.concatenate([stencil, newton[:, None, :]], axis=1)
        values = np.concatenate([f_stencil, objective(newton[:, None, :])], axis=1)
        values[:, -1] = np.where(ok, values[:, -1], np.inf)
        j = np.argmin(values, axis=1)
        best = values[rows, j]
        better = best < fx
        near = (j == values.shape[1] - 1) & np.all(np.abs(delta) < steps / 2, axis=1)
        x = np.where(better[:, None], cand[rows, j], x)
        fx = np.where(better, best, fx)
        steps = np.where((better & ~near)[:, None], steps, _SHRINK * steps)
    return x, fx


def _interval(values: np.ndarray, ci_prob: float) -> dict[str, float]:
    lo, med, hi = np.quantile(values, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
    return {"median": float(med), "lower": float(lo), "upper": float(hi)}


class _StudentNoise:
    """Predictive deviation of a new distilled student's log loss, per draw (common random
    numbers: the same random numbers for every candidate allocation).

    Fits whose noise does not depend on where the new run is give one value per draw, shared by
    all candidates. Fits whose noise scale grows with the distance from the fitted runs
    (``noise_draws`` then needs ``at=``) are evaluated at each candidate's ``(N_S, D_S, L_T)``
    with the same random numbers (``common=True``), so riskier extrapolations cost more.
    """

    def __init__(self, fit: ScalingFit, seed: np.random.SeedSequence):
        self.fit, self.seed = fit, seed
        self.located = fit.model.located
        self.fixed = None
        if not self.located:
            self.fixed = np.asarray(fit.noise_draws((), random_seed=self._rng()), float)
            self.fixed = self.fixed.reshape(fit.n_samples)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)  # the same stream at every call

    def at(
        self, N_S: float, D_S: np.ndarray, L_T: np.ndarray, law_mean: np.ndarray | None = None
    ) -> np.ndarray:
        """Noise ``(S, M)`` at candidates with student tokens ``D_S`` and teacher loss ``L_T``.

        ``law_mean``: the law's log student loss per draw at the candidates ``(S, M)``, when the
        caller has it (it places the candidate on the loss axis of the distance; without it the
        law is evaluated again at the median teacher loss ``L_T``).
        """
        if not self.located:
            return self.fixed[:, None]
        at = {"N_S": N_S, "D_S": np.asarray(D_S, float), "L_T": np.asarray(L_T, float)}
        out = self.fit.noise_draws(
            (len(at["D_S"]),), random_seed=self._rng(), at=at, common=True, law_mean=law_mean
        )
        return np.asarray(out, float)


def _supervised_noise(fit: ScalingFit, seed: np.random.SeedSequence) -> np.ndarray:
    """Predictive deviation of a new supervised run's log loss, per draw: ``(S,)``.

    Uses the noise of jointly fitted supervised runs when the fit has it, and the distillation
    noise model otherwise.
    """
    out = fit.noise_draws((), random_seed=np.random.default_rng(seed), observation="supervised_obs")
    return np.asarray(out, float).reshape(fit.n_samples)


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
    budgets, _ = _check_budgets(compute)
    ci_prob = _validate.probability("ci_prob", ci_prob, "e.g. ci_prob=0.9 for a 90% interval.")
    b = _check_bounds(bounds)
    approx = _check_approx(approx)
    n_lo, n_hi, d_lo, d_hi = b.logs

    def log_D(log_N):
        return np.log(_compute.supervised_tokens(c, np.exp(log_N), approx=approx))

    ranges = []
    for c in budgets:
        if log_D(n_lo) < d_lo - _FEAS_TOL:
            need = 3 * _compute.forward_flops(b.n_lo, approx=approx) * b.d_lo
            raise ValueError(
                f"compute={c:.3g} FLOPs cannot train even the smallest model allowed by "
                f"bounds={b} (N = {b.n_lo:.3g} on D = {b.d_lo:.3g} tokens needs {need:.3g} "
                "FLOPs); raise compute or lower the bounds."
            )
        # D decreases with N: the feasible N are those with d_lo <= D(N) <= d_hi.
        n_min = n_lo
        if log_D(n_lo) > d_hi:
            n_min = _bisect_increasing(lambda x: d_hi - log_D(x), n_lo, n_hi)
            n_min = min(n_min + 1e-12, n_hi)
        n_max = _bisect_increasing(lambda x: d_lo - log_D(x), n_lo, n_hi)
        if n_min > n_max or log_D(n_max) > d_hi + _FEAS_TOL:
            raise ValueError(
                f"compute={c:.3g} FLOPs is too large for bounds={b}: every model within the "
                f"bounds would train on more than {b.d_hi:.3g} tokens; raise the upper bound."
            )
        ranges.append((n_min, n_max))

    sup = _supervised_params(fit)
    S = fit.n_samples
    fitted = _supervised_ranges(fit)
    rows, reports = [], []
    counter = _sweep_counter("compute_optimal: budget", len(budgets))
    for c, (n_min, n_max) in zip(budgets, ranges, strict=True):

        def objective(u, c=c):
            log_N = u[..., 0]
            with np.errstate(all="ignore"):
                d = np.log(_compute.supervised_tokens(c, np.exp(log_N), approx=approx))
                m = _log_sup(sup, log_N, d)
            return np.where(np.isfinite(m), m, np.inf)

        grid = np.linspace(n_min, n_max, _COARSE_1D)
        coarse = objective(grid[None, :, None])  # (S, K)
        j = np.argmin(coarse, axis=1)
        step = np.array([max(grid[1] - grid[0], 1e-6) / 2]) if n_max > n_min else np.array([0.0])
        x, fx = _compass(
            objective,
            grid[j][:, None],
            coarse[np.arange(S), j],
            step,
            np.array([n_min]),
            np.array([n_max]),
        )
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
        for name, values in (
            ("N", N),
            ("D", D),
            ("tokens_per_param", D / N),
            ("loss", np.exp(fx[ok])),
        ):
            s = _interval(values, ci_prob)
            row.update(
                {
                    f"{name}_median": s["median"],
                    f"{name}_lower": s["lower"],
                    f"{name}_upper": s["upper"],
                }
            )
        tol = _BOUND_TOL
        on = (np.abs(log_N - n_lo) < tol) | (np.abs(log_N - n_hi) < tol)
        on |= (np.abs(np.log(D) - d_lo) < tol) | (np.abs(np.log(D) - d_hi) < tol)
        row["on_bound"] = float(on.mean())
        row["n_draws"] = int(ok.sum())
        # how far the median optimum lies outside the supervised runs (nothing without runs)
        report = {}
        if fitted:
            report = _extrap._assess(fitted, {"N": row["N_median"], "D": row["D_median"]})
            row["N_fold"], row["D_fold"] = report["N"]["fold"], report["D"]["fold"]
            row["extrapolation"] = _extrap.max_fold(report)
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
            "loss_kind": "mean law (epistemic; no run-to-run noise)",
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
# recommend: the distillation problem


@dataclass
class _Problem:
    """The student loss as a function of the free variables ``u`` (log space), for all draws.

    ``mode`` is ``"loss"`` (best case: ``u = log L_T``), ``"size"`` (``u = log N_T``, ``D_T``
    at its upper bound), ``"size_tokens"`` (``u = (log N_T, log D_T)``) or ``"fixed"`` (an
    existing teacher: nothing to choose).
    """

    sup: dict[str, np.ndarray]
    dist: dict[str, np.ndarray]
    N_S: float
    compute: float
    accounting: str  # scenario used for the FLOPs (existing teachers never pay pretraining)
    mode: str
    approx: str
    bounds: _Bounds
    N_T: float | None = None  # existing teacher
    D_T: float | None = None
    log_LT_fixed: np.ndarray | float | None = None
    lo_u: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hi_u: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Log bounds on a trained teacher's tokens per parameter ``D_T / N_T`` (``size_tokens``
    #: mode): teachers outside them are not considered (:data:`TEACHER_TOKENS_PER_PARAM`).
    log_ratio: tuple[float, float] | None = None
    #: The supervised parameters of the student's own supervised loss inside the law, when
    #: they differ from ``sup`` (a two-stage fit holds them at the values it was fitted with).
    sup_student: dict[str, Any] | None = None
    #: Students sharing the teacher: each is charged ``1 / n_students`` of its pretraining.
    n_students: int = 1

    @property
    def dim(self) -> int:
        return {"loss": 1, "size": 1, "size_tokens": 2, "fixed": 0}[self.mode]

    @property
    def log_NS(self) -> float:
        return math.log(self.N_S)

    @property
    def log_d_lo(self) -> float:
        return math.log(self.bounds.d_lo)

    @property
    def log_d_hi(self) -> float:
        return math.log(self.bounds.d_hi)

    def teacher(self, u: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Teacher parameters and tokens (natural scale) of candidates ``u (..., d)``."""
        if self.mode == "size":
            return np.exp(u[..., 0]), np.full(u.shape[:-1], self.bounds.d_hi)
        if self.mode == "size_tokens":
            return np.exp(u[..., 0]), np.exp(u[..., 1])
        if self.mode == "fixed" and self.N_T is not None:
            shape = u.shape[:-1]
            D_T = np.full(shape, np.nan if self.D_T is None else self.D_T)
            return np.full(shape, self.N_T), D_T
        return None, None

    def student_tokens(self, u: np.ndarray) -> np.ndarray:
        """``D_S`` bought by the rest of the budget; NaN where the teacher costs it all."""
        N_T, D_T = self.teacher(u)
        D_T_arg = (
            D_T if self.accounting in ("teacher_pretraining", "pretraining_and_inference") else None
        )
        with np.errstate(all="ignore"):
            d = _compute.student_tokens(
                self.compute,
                self.N_S,
                N_T=N_T,
                D_T=D_T_arg,
                scenario=self.accounting,
                approx=self.approx,
                n_students=self.n_students,
            )
        d = np.broadcast_to(np.asarray(d, float), u.shape[:-1])
        return np.where(d > 0, d, np.nan)

    def feasible(self, D_S: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            log_DS = np.log(D_S)
            return (log_DS >= self.log_d_lo - _FEAS_TOL) & (log_DS <= self.log_d_hi + _FEAS_TOL)

    def log_loss(self, u: np.ndarray) -> np.ndarray:
        """Mean-law log student loss for candidates ``u (R, M, d)`` (``R`` is 1 or ``S``):
        ``(S, M)``, ``+inf`` where infeasible or not finite."""
        return self.evaluate(u)[0]

    def evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`log_loss` at ``u``, with the student tokens ``(R, M)`` and the log teacher
        loss (broadcastable to ``(S, M)``) it used, for callers that need them too."""
        D_S = self.student_tokens(u)
        ok = self.feasible(D_S) & self.plausible_teacher(u)
        with np.errstate(all="ignore"):
            log_DS = np.log(np.where(ok, D_S, self.bounds.d_lo))
            if self.mode == "loss":
                log_LT = u[..., 0]
            elif self.mode == "fixed":
                log_LT = self.log_LT_fixed
            else:
                log_LT = _log_sup(self.sup, u[..., 0], np.log(self.teacher(u)[1]))
            m = laws.log_student_loss(
                laws.NUMPY,
                self.log_NS,
                log_DS,
                log_LT,
                supervised=self.sup_student or self.sup,
                distillation=self.dist,
            )
        return np.where(ok & np.isfinite(m), m, np.inf), D_S, log_LT

    def teacher_log_loss(self, u: np.ndarray) -> np.ndarray:
        """Mean-law log teacher loss per draw at candidates ``u (R, M, d)``: ``(S, M)``."""
        S = next(iter(self.sup.values())).shape[0]
        if self.mode == "loss":
            return np.broadcast_to(u[..., 0], (S, u.shape[1]))
        if self.mode == "fixed":
            return np.broadcast_to(self.log_LT_fixed, (S, u.shape[1]))
        return _log_sup(self.sup, u[..., 0], np.log(self.teacher(u)[1]))

    def coarse_grid(self) -> np.ndarray:
        """Feasible grid points ``(K, d)``; raises ValueError if there are none."""
        if self.mode == "fixed":
            return np.zeros((1, 0))
        if self.dim == 1:
            pts = np.linspace(self.lo_u[0], self.hi_u[0], _COARSE_1D)[:, None]
        elif self.log_ratio is not None:
            # teachers' sizes by their tokens per parameter, within the plausible band
            a = np.linspace(self.lo_u[0], self.hi_u[0], _COARSE_2D)
            r = np.linspace(*self.log_ratio, _COARSE_2D)
            aa, rr = np.meshgrid(a, r, indexing="ij")
            pts = np.stack([aa, aa + rr], axis=-1).reshape(-1, 2)
            pts = pts[(pts[:, 1] >= self.lo_u[1]) & (pts[:, 1] <= self.hi_u[1])]
        else:
            a = np.linspace(self.lo_u[0], self.hi_u[0], _COARSE_2D)
            b = np.linspace(self.lo_u[1], self.hi_u[1], _COARSE_2D)
            pts = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
        keep = self.feasible(self.student_tokens(pts)) & self.plausible_teacher(pts[None])[0]
        return pts[keep]

    def plausible_teacher(self, u: np.ndarray) -> np.ndarray:
        """Whether the teachers of candidates ``u (..., d)`` have a plausible number of tokens
        per parameter (always True outside ``size_tokens`` mode or without bounds)."""
        if self.mode != "size_tokens" or self.log_ratio is None:
            return np.ones(u.shape[:-1], bool)
        lr = u[..., 1] - u[..., 0]
        lo, hi = self.log_ratio
        return (lr >= lo - _FEAS_TOL) & (lr <= hi + _FEAS_TOL)

    def grid_spacing(self) -> np.ndarray:
        n = _COARSE_1D if self.dim == 1 else _COARSE_2D
        return np.maximum((self.hi_u - self.lo_u) / (n - 1), 1e-6)

    def allocation(self, u: np.ndarray) -> dict[str, float]:
        """Allocation and FLOPs by phase of one candidate ``u (d,)``."""
        uu = np.asarray(u, float).reshape(1, -1)
        D_S = float(self.student_tokens(uu)[0])
        N_T, D_T = self.teacher(uu)
        N_T = np.nan if N_T is None else float(N_T[0])
        D_T = np.nan if D_T is None else float(D_T[0])
        if self.accounting == "best_case" or self.mode == "loss":
            phases = _compute.flops_by_phase(
                self.N_S, D_S, scenario="supervised", approx=self.approx
            )
        else:
            pays_pretraining = self.accounting in (
                "teacher_pretraining",
                "pretraining_and_inference",
            )
            phases = _compute.flops_by_phase(
                self.N_S,
                D_S,
                N_T=N_T,
                D_T=D_T if pays_pretraining else None,
                scenario=self.accounting,
                approx=self.approx,
                n_students=self.n_students,
            )
        return {
            "D_S": D_S,
            "N_T": N_T,
            "D_T": D_T,
            "flops_student": float(phases["student"]),
            "flops_teacher_logits": float(phases["teacher_logits"]),
            "flops_teacher_pretraining": float(phases["teacher_pretraining"]),
        }

    def on_bounds(self, u: np.ndarray) -> list[str]:
        """Human-readable list of the variables of candidate ``u (d,)`` that sit on a bound."""
        out = []
        alloc = self.allocation(u)
        n_lo, n_hi, d_lo, d_hi = self.bounds.logs
        checks: list[tuple[str, float, float, float]] = [("D_S", alloc["D_S"], d_lo, d_hi)]
        if self.mode == "size":
            checks.append(("N_T", alloc["N_T"], n_lo, n_hi))
        elif self.mode == "size_tokens":
            checks.append(("N_T", alloc["N_T"], n_lo, n_hi))
            checks.append(("D_T", alloc["D_T"], d_lo, d_hi))
        elif self.mode == "loss":
            checks.append(("L_T", math.exp(u[0]), self.lo_u[0], self.hi_u[0]))
        for name, value, lo, hi in checks:
            if not np.isfinite(value):
                continue
            if abs(math.log(value) - lo) < _BOUND_TOL:
                out.append(f"{name} at its lower bound {math.exp(lo):.3g}")
            elif abs(math.log(value) - hi) < _BOUND_TOL:
                out.append(f"{name} at its upper bound {math.exp(hi):.3g}")
        return out


# --------------------------------------------------------------------------------------------
# the result


def _fmt(x: float, spec: str = ".3g") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, spec)


@dataclass(frozen=True, repr=False, eq=False)
class Recommendation:
    """A risk-aware distillation recommendation (returned by :func:`recommend`).

    Losses are cross-entropies in nats/token. Two kinds of interval appear, and every field says
    which: *predictive* (the loss a new training run would realise: posterior uncertainty plus
    the discrepancy offsets of a new student and teacher plus run-to-run noise) and *mean law*
    (the law itself; epistemic uncertainty only).

    Attributes
    ----------
    scenario : str
        One of ``best_case``, ``teacher_inference``, ``teacher_pretraining``,
        ``pretraining_and_inference`` (``compute.SCENARIOS``).
    compute, student_params, risk_tolerance, ci_prob : float
        The inputs (``compute`` is the budget, a ceiling).
    compute_spent : float
        FLOPs the allocation spends, at most ``compute``: less when spending the rest would
        make the loss at risk worse (see ``notes``); ``unspent`` is the difference.
    allocation : dict
        ``D_S`` (student tokens), ``N_T``, ``D_T`` (teacher parameters and pretraining tokens;
        NaN in ``best_case``, where only the teacher's loss matters) and the FLOPs by phase,
        ``flops_student``, ``flops_teacher_logits``, ``flops_teacher_pretraining``.
    student_loss : dict
        Predictive student loss at the allocation: ``median``, ``lower``, ``upper`` (the
        ``ci_prob`` equal-tailed interval) and ``at_risk``, its ``1 - risk_tolerance``
        quantile (the *loss at risk*): under the fitted model, a new run at this allocation
        does worse than it with probability ``risk_tolerance``. It is conditional on the model
        and its extrapolation, not a guarantee.
    student_loss_mean : dict
        Mean-law student loss at the allocation: ``median``, ``lower``, ``upper``.
    teacher_loss : dict
        Mean-law teacher loss ``L_T`` at the allocation (``median``, ``lower``, ``upper``); a
        fixed number in ``best_case`` and for a given ``teacher_loss``.
    supervised_tokens : float
        Tokens of the supervised baseline, ``C / (3 F(N_S))``.
    supervised_loss, supervised_loss_mean : dict
        The same student trained on data with the whole budget: predictive (with
        ``at_risk``) and mean law.
    p_distillation_better : float
        Posterior probability that the distilled student beats the supervised one, on the mean
        law: the share of draws with ``L_S(x*) < L(N_S, C / (3 F(N_S)))``. It answers "which
        method is better", not "which of two runs will happen to be lower".
    p_distillation_better_predictive : float
        The same for two new runs, with independent noise for each.
    p_distillation_better_by_margin : float
        The share of draws in which the distilled student beats the supervised one by more
        than :data:`DECISION_MARGIN` (0.01 nats, mean law): a smaller difference is a tie at
        the model's resolution. :attr:`distill` follows it.
    supervised_source : str
        Where the fit's supervised law comes from (it gives the teacher's loss and the
        supervised baseline, so every distil-or-train answer rests on it).
    paper : dict
        The same question answered with the paper's published coefficients (Busbridge et al.
        2025, Table 6) as a point estimate, for comparison: ``p_distillation_better`` (0 or
        1), ``student_loss`` and ``supervised_loss`` (mean law at that estimate's own optimum
        for the same budget and scenario); empty for an existing teacher given by its loss.
    regret : dict
        ``expected``: posterior mean of ``L_S^(s)(x*) - min_x L_S^(s)(x)`` (mean law, nats), the
        loss given up by not knowing the parameters; ``upper``: its ``(1 + ci_prob) / 2``
        quantile.
    optimum_spread : pandas.DataFrame
        Median and ``ci_prob`` interval of the per-draw optimal ``D_S, N_T, D_T, L_T``.
    mean_optimal : dict
        The allocation minimising the posterior mean of the predictive loss (``D_S, N_T, D_T,
        L_T``) and that mean (``loss``).
    on_bound : tuple of str
        Variables of the recommended allocation that sit on a bound (empty if none).
    n_draws, n_dropped : int
        Posterior draws used, and draws dropped because the law was not finite there.
    existing_teacher : bool
        True when the teacher was given (``teacher_loss`` or ``teacher_params``).
    notes : tuple of str
        Anything else the user should know (dropped draws, accounting of a given teacher).
    per_draw : pandas.DataFrame
        One row per posterior draw: the mean-law loss at the recommendation
        (``loss_recommended``) and the predictive one (``loss_predictive``), the draw's own
        optimum (``loss_optimal``, ``D_S_opt``, ``N_T_opt``, ``D_T_opt``, ``L_T_opt``),
        ``regret``, ``teacher_loss`` and ``supervised_loss`` (mean law),
        ``supervised_loss_predictive`` and ``dropped``.
    extrapolation : dict
        How far the recommended allocation lies outside the runs the fit was fitted to (see
        :mod:`bayes_distill.extrapolation`): input name -> ``{"value", "min", "max", "fold"}``
        (and ``"against"``, the runs compared with) for ``N_S``, ``D_S`` (the allocation's),
        ``tokens_per_param`` (``D_S / N_S``) and ``L_T`` (the median mean-law teacher loss)
        against the distillation runs, and ``N_T``, ``D_T`` when the allocation has them
        against the fit's supervised runs (fold NaN and a ``"reason"`` when it has none).
        ``fold`` is how many times beyond the fitted range the value lies (1 inside it).
        Empty for a fit without runs (:meth:`ScalingFit.from_params`).
    n_students : int
        Students sharing the teacher (``recommend(..., n_students=k)``): in the scenarios that
        pay for the teacher's pretraining, ``1/k`` of its FLOPs is charged to this student
        (``allocation["flops_teacher_pretraining"]`` is that share); its logits are charged
        per student. 1 is a teacher trained for one student.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> rec = bd.recommend(fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    >>> print(f"N_T = {rec.allocation['N_T']:.2g}, D_T = {rec.allocation['D_T']:.2g}")
    N_T = 6.5e+09, D_T = 1e+11
    >>> rec.p_distillation_better  # one teacher trained for one student: supervised wins
    0.0
    >>> print(rec)  # doctest: +ELLIPSIS
    Distillation recommendation: student N_S = 1e+09 parameters, budget C = 1e+22 FLOPs
    ...
    """

    scenario: str
    compute: float
    compute_spent: float
    student_params: float
    risk_tolerance: float
    ci_prob: float
    allocation: dict[str, float]
    student_loss: dict[str, float]
    student_loss_mean: dict[str, float]
    teacher_loss: dict[str, float]
    supervised_tokens: float
    supervised_loss: dict[str, float]
    supervised_loss_mean: dict[str, float]
    p_distillation_better: float
    p_distillation_better_predictive: float
    p_distillation_better_by_margin: float
    supervised_source: str
    paper: dict[str, float]
    regret: dict[str, float]
    optimum_spread: pd.DataFrame
    mean_optimal: dict[str, float]
    on_bound: tuple[str, ...]
    n_draws: int
    n_dropped: int
    existing_teacher: bool
    notes: tuple[str, ...]
    per_draw: pd.DataFrame
    extrapolation: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_students: int = 1

    @property
    def shares_teacher_pretraining(self) -> bool:
        """Whether this student is charged only its share of the teacher's pretraining: more
        than one student shares a teacher that the scenario trains."""
        pays = _compute.SCENARIOS[self.scenario][1] > 0
        return self.n_students > 1 and pays and not self.existing_teacher

    @property
    def extrapolation_max_fold(self) -> float:
        """The largest fold of :attr:`extrapolation`: how many times beyond the fitted runs'
        range the furthest input lies (1 when all are inside; NaN when nothing was assessed)."""
        return _extrap.max_fold(self.extrapolation)

    @property
    def flops(self) -> dict[str, float]:
        """FLOPs by phase: ``student``, ``teacher_logits``, ``teacher_pretraining``, ``total``."""
        a = self.allocation
        out = {
            "student": a["flops_student"],
            "teacher_logits": a["flops_teacher_logits"],
            "teacher_pretraining": a["flops_teacher_pretraining"],
        }
        out["total"] = sum(out.values())
        return out

    @property
    def unspent(self) -> float:
        """FLOPs of the budget the recommendation leaves unspent (``compute - compute_spent``)."""
        return max(self.compute - self.compute_spent, 0.0)

    @property
    def distill(self) -> bool:
        """Whether distillation is the better bet by more than the model's resolution:
        ``p_distillation_better_by_margin > 0.5``."""
        return self.p_distillation_better_by_margin > 0.5

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: inputs, allocation, FLOPs and every loss summary as columns.

        The extrapolation is in ``extrapolation_max_fold`` and one ``<input>_fold`` column per
        input of :attr:`extrapolation` (e.g. ``D_S_fold``, ``L_T_fold``).

        Examples
        --------
        >>> import bayes_distill as bd
        >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
        >>> rec = bd.recommend(fit, compute=1e21, student_params=1e8, scenario="best_case")
        >>> rec.to_frame().shape[0]
        1
        """
        row: dict[str, Any] = {
            "scenario": self.scenario,
            "compute": self.compute,
            "compute_spent": self.compute_spent,
            "unspent": self.unspent,
            "student_params": self.student_params,
            "n_students": self.n_students,
            "risk_tolerance": self.risk_tolerance,
            "ci_prob": self.ci_prob,
            "existing_teacher": self.existing_teacher,
            "D_S": self.allocation["D_S"],
            "N_T": self.allocation["N_T"],
            "D_T": self.allocation["D_T"],
        }
        row.update({f"flops_{k}": v for k, v in self.flops.items()})
        for prefix, d in (
            ("student_loss", self.student_loss),
            ("student_loss_mean", self.student_loss_mean),
            ("teacher_loss", self.teacher_loss),
            ("supervised_loss", self.supervised_loss),
            ("supervised_loss_mean", self.supervised_loss_mean),
        ):
            row.update({f"{prefix}_{k}": v for k, v in d.items()})
        row["supervised_tokens"] = self.supervised_tokens
        row["p_distillation_better"] = self.p_distillation_better
        row["p_distillation_better_predictive"] = self.p_distillation_better_predictive
        row["p_distillation_better_by_margin"] = self.p_distillation_better_by_margin
        row["supervised_source"] = self.supervised_source
        row.update({f"paper_{k}": v for k, v in self.paper.items()})
        row.update({f"regret_{k}": v for k, v in self.regret.items()})
        for var, s in self.optimum_spread.iterrows():
            row.update({f"{var}_opt_{k}": float(v) for k, v in s.items()})
        row.update({f"mean_optimal_{k}": v for k, v in self.mean_optimal.items()})
        row["on_bound"] = "; ".join(self.on_bound)
        row["n_draws"] = self.n_draws
        row["n_dropped"] = self.n_dropped
        row["extrapolation_max_fold"] = self.extrapolation_max_fold
        row.update({f"{k}_fold": e["fold"] for k, e in self.extrapolation.items()})
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly nested dict (NaN becomes None); ``per_draw`` is left out."""

        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [clean(v) for v in x]
            if isinstance(x, float | np.floating):
                return float(x) if np.isfinite(x) else None
            if isinstance(x, np.integer | np.bool_):
                return x.item()
            return x

        return clean(
            {
                "scenario": self.scenario,
                "compute": self.compute,
                "compute_spent": self.compute_spent,
                "unspent": self.unspent,
                "student_params": self.student_params,
                "n_students": self.n_students,
                "risk_tolerance": self.risk_tolerance,
                "ci_prob": self.ci_prob,
                "existing_teacher": self.existing_teacher,
                "allocation": self.allocation,
                "flops": self.flops,
                "student_loss": {"kind": "predictive", **self.student_loss},
                "student_loss_mean": {"kind": "mean law", **self.student_loss_mean},
                "teacher_loss": {"kind": "mean law", **self.teacher_loss},
                "supervised_tokens": self.supervised_tokens,
                "supervised_loss": {"kind": "predictive", **self.supervised_loss},
                "supervised_loss_mean": {"kind": "mean law", **self.supervised_loss_mean},
                "p_distillation_better": self.p_distillation_better,
                "p_distillation_better_predictive": self.p_distillation_better_predictive,
                "p_distillation_better_by_margin": self.p_distillation_better_by_margin,
                "decision_margin": DECISION_MARGIN,
                "supervised_source": self.supervised_source,
                "paper": self.paper,
                "regret": {"kind": "mean law", **self.regret},
                "optimum_spread": {
                    var: dict(s.items()) for var, s in self.optimum_spread.iterrows()
                },
                "mean_optimal": self.mean_optimal,
                "on_bound": list(self.on_bound),
                "n_draws": self.n_draws,
                "n_dropped": self.n_dropped,
                "notes": list(self.notes),
                "extrapolation": self.extrapolation,
                "extrapolation_max_fold": self.extrapolation_max_fold,
            }
        )

    def __str__(self) -> str:
        a, f = self.allocation, self.flops
        pct = round(100 * self.ci_prob)
        g = round(100 * (1 - self.risk_tolerance))
        head = "existing teacher" if self.existing_teacher else SCENARIO_DESCRIPTIONS[self.scenario]
        lines = [
            f"Distillation recommendation: student N_S = {self.student_params:.3g} parameters, "
            f"budget C = {self.compute:.3g} FLOPs",
            f"  scenario {self.scenario!r}: {head}",
            *(
                [
                    f"  teacher pretraining shared by {self.n_students} students: "
                    f"1/{self.n_students} of its FLOPs charged"
                ]
                if self.shares_teacher_pretraining
                else []
            ),
            f"  risk tolerance {self.risk_tolerance:g}: the allocation minimises the {g}% quantile "
            f"of the predictive student loss",
            f"  posterior draws used: {self.n_draws}"
            + (f" ({self.n_dropped} dropped: law not finite)" if self.n_dropped else ""),
            "",
            f"  {'allocation':<30}{'value':>12}{'FLOPs':>12}{'share':>8}",
        ]
        total = f["total"] if f["total"] > 0 else float("nan")
        rows = [
            ("student tokens D_S", a["D_S"], f["student"]),
            ("teacher parameters N_T", a["N_T"], None),
            ("teacher tokens D_T", a["D_T"], f["teacher_pretraining"]),
            ("teacher logits (on D_S)", None, f["teacher_logits"]),
        ]
        if self.scenario == "teacher_inference" and not self.existing_teacher:
            rows[2] = ("teacher tokens D_T (bound)", a["D_T"], f["teacher_pretraining"])
        if self.shares_teacher_pretraining:
            share = f"teacher tokens D_T (1/{self.n_students})"
            rows[2] = (share, a["D_T"], f["teacher_pretraining"])
        for name, value, flops in rows:
            v = "" if value is None else _fmt(value)
            fl = "" if flops is None else _fmt(flops)
            share = "" if flops is None else f"{100 * flops / total:.1f}%"
            lines.append(f"  {name:<30}{v:>12}{fl:>12}{share:>8}")
        lines.append(f"  {'total spent':<30}{'':>12}{_fmt(f['total']):>12}{'':>8}")
        if self.unspent > 0:
            lines.append(f"  {'unspent (budget is a ceiling)':<30}{'':>12}{_fmt(self.unspent):>12}")
        lines += [
            "",
            f"  {'loss (nats/token)':<36}{'median':>8}  {f'{pct}% interval':<18}"
            f"{f'at risk ({g}% q.)':>16}",
        ]

        def loss_row(name, d):
            iv = f"[{_fmt(d['lower'], '.4f')}, {_fmt(d['upper'], '.4f')}]"
            gu = _fmt(d["at_risk"], ".4f") if "at_risk" in d else ""
            return f"  {name:<36}{_fmt(d['median'], '.4f'):>8}  {iv:<18}{gu:>16}"

        lines += [
            loss_row("student, predictive", self.student_loss),
            loss_row("student, mean law", self.student_loss_mean),
            loss_row("teacher L_T, mean law", self.teacher_loss),
            loss_row(
                f"supervised (D={self.supervised_tokens:.3g}), predictive", self.supervised_loss
            ),
            loss_row("supervised, mean law", self.supervised_loss_mean),
            "",
            f"  P(distillation beats supervised) = {self.p_distillation_better:.3f} (mean law; "
            f"{self.p_distillation_better_predictive:.3f} for two new runs); by more than "
            f"{DECISION_MARGIN:g} nats: {self.p_distillation_better_by_margin:.3f}",
            f"  the supervised law (teacher loss, baseline): {self.supervised_source}",
            f"  expected regret vs per-draw optima: {self.regret['expected']:.4g} nats "
            f"({(1 + self.ci_prob) / 2:.0%} quantile {self.regret['upper']:.4g}; mean law)",
        ]
        spread = self.optimum_spread
        parts = []
        for var in spread.index:
            s = spread.loc[var]
            if np.isfinite(s["median"]):
                parts.append(f"{var} {_fmt(s['median'])} [{_fmt(s['lower'])}, {_fmt(s['upper'])}]")
        if parts:
            lines.append(f"  per-draw optima, median [{pct}% interval]: " + ", ".join(parts))
        m = self.mean_optimal
        mo = [f"{k} {_fmt(m[k])}" for k in ("D_S", "N_T", "D_T", "L_T") if np.isfinite(m[k])]
        lines.append(
            "  posterior-mean optimum: " + ", ".join(mo) + f" (mean loss {_fmt(m['loss'], '.4f')})"
        )
        if self.paper:
            pp = self.paper
            verdict = "distillation" if pp["p_distillation_better"] else "supervised"
            lines.append(
                f"  the paper's coefficients (point estimate): {verdict} wins, student "
                f"{_fmt(pp['student_loss'], '.4f')} vs supervised "
                f"{_fmt(pp['supervised_loss'], '.4f')} (mean law)"
            )
        if self.on_bound:
            lines.append("  ON A BOUND: " + "; ".join(self.on_bound))
        lines.append("  extrapolation: " + _extrap._summary(self.extrapolation, "distillation"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


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

    For every posterior draw and candidate allocation ``x = (D_S, N_T, D_T)`` meeting the budget
    (``3 F(N_S) D_S + F(N_T) (delta_logits D_S + delta_pretrain 3 D_T) = C``, Busbridge
    Eq. 9, with ``delta_pretrain`` divided by ``n_students`` when a teacher is shared) the
    distillation law gives the student's loss. The recommended allocation
    minimises the ``1 - risk_tolerance`` quantile over draws of the posterior *predictive*
    student loss; see the module docstring for the search.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit (its supervised parameters give the teacher's loss
        ``L_T = L(N_T, D_T)`` and the supervised baseline).
    compute : float
        Budget in FLOPs, one number. For several budgets use :func:`recommend_sweep`, which
        returns a table with one row per budget.
    student_params : float
        Student non-embedding parameters ``N_S``, within ``bounds``.
    scenario : {"teacher_pretraining", "best_case", "teacher_inference", \
"pretraining_and_inference"}
        What the budget pays for (``compute.SCENARIOS``). ``best_case``: the teacher is free and
        only its loss matters; ``L_T`` is chosen directly among the losses a teacher within
        ``bounds`` can reach, ``[min_s L_s(hi, hi), max_s L_s(lo, lo)]`` over draws ``s`` (a
        teacher's loss, not a size, is what the distillation law sees). ``teacher_inference``:
        ``N_T`` is chosen with ``D_T`` at its upper bound (pretraining is not paid, so the most
        overtrained teacher is the cheapest for a given loss). ``teacher_pretraining`` and
        ``pretraining_and_inference``: ``N_T`` and ``D_T`` are chosen. In every case ``D_S`` is
        what the rest of the budget buys (more tokens never hurt the student).
    risk_tolerance : float, default 0.1
        Probability in (0, 1) the user accepts that the realised student loss exceeds the
        reported loss at risk (``student_loss["at_risk"]``, the ``1 - risk_tolerance``
        quantile under the model); 0.5 is risk-neutral (the median).
    ci_prob : float, default 0.9
        Probability of the equal-tailed intervals reported.
    teacher_loss : float, optional
        Cross-entropy (nats/token) of an existing teacher, within the range of plausible
        losses that :func:`~bayes_distill.load_runs` accepts for run tables,
        :data:`~bayes_distill.data.LOSS_RANGE` (0.3 to 15). With an existing teacher (this, or
        ``teacher_params`` and ``teacher_tokens``) nothing is optimised: ``D_S`` is what the
        budget buys. Its pretraining is sunk and never charged; its logits are charged when the
        scenario pays for them (``teacher_inference``, ``pretraining_and_inference``), which
        needs ``teacher_params``.
    teacher_params, teacher_tokens : float, optional
        Size and pretraining tokens of an existing teacher; without ``teacher_loss`` its loss
        is predicted per draw by the supervised law.
    bounds : (float, float) or dict, default (1e6, 1e17)
        Bounds on every parameter count and token count (as in the paper), or separate ones
        as ``{"N": (lo, hi), "D": (lo, hi)}``. Optima that sit on a bound are reported in
        ``on_bound``.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`.
    random_seed : int or None, default 0
        Seed of the predictive noise draws. Fixed by default so that the same call gives the
        same recommendation; None draws fresh noise.
    n_students : int, default 1
        How many students share the teacher: one teacher trained once, its pretraining FLOPs
        divided among ``n_students`` students, so this student's budget pays ``1/n_students``
        of them (``delta_pretrain = 1 / n_students``) in the scenarios that pay for them
        (``teacher_pretraining``, ``pretraining_and_inference``). The teacher's logits are
        still paid per student where the scenario pays them. It changes nothing in the other
        scenarios or for an existing teacher (a note says so). 1 gives the single-student
        answers. See :func:`bayes_distill.plots.shared_teacher` for a sweep over it.
    teacher_tokens_per_param : (float, float), default (1, 1e4)
        The band of tokens per parameter ``D_T / N_T`` of the teachers considered for
        training (``teacher_pretraining``, ``pretraining_and_inference``). The supervised law
        that predicts a teacher's loss was fitted on models with about 20 to 3600 tokens per
        parameter; outside the band its prediction is an extrapolation the data never
        checked, and a loss-at-risk search would otherwise hide FLOPs in absurd teachers.
        ``teacher_inference``'s existing teacher is overtrained by design (``D_T`` at the
        upper bound) and not restricted.
    group : str, optional
        A grouped fit (``bd.fit(..., groups=COLUMN)``): the group whose law is used
        (:meth:`ScalingFit.for_group`). Refused for a fit of one law, and for a name
        that is not one of the fit's groups (the error lists them).

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
        For a fit of another law, an unknown scenario, ``risk_tolerance`` or ``ci_prob``
        outside (0, 1), a student outside ``bounds``, a ``teacher_loss`` outside the plausible
        range of losses, ``n_students`` below 1 (a non-integer is a TypeError), or a budget
        that cannot train the student (on one token, or within ``bounds``) in the scenario.

    Warns
    -----
    ExtrapolationWarning
        Once per call, when an input of a recommended allocation lies
        beyond the runs the fit was fitted to by more than
        :data:`~bayes_distill.extrapolation.COUNT_FOLD_LIMIT` (10) times for counts or
        :data:`~bayes_distill.extrapolation.LOSS_FOLD_LIMIT` (1.1) for the teacher loss,
        naming each such input, its value and the fitted range
        (:attr:`Recommendation.extrapolation`). Never for a fit without runs.

    Notes
    -----
    Draws where the law is not finite at the recommendation are dropped from the summaries and
    counted in ``n_dropped``. A sampled fit that failed its diagnostics emits a
    :class:`~bayes_distill.ConvergenceWarning` first.

    Examples
    --------
    The paper's coefficients as a point posterior:

    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> rec = bd.recommend(fit, compute=1e21, student_params=1e9, scenario="teacher_pretraining")
    >>> sorted(rec.allocation)[:3]
    ['D_S', 'D_T', 'N_T']
    >>> abs(rec.flops["total"] / 1e21 - 1) < 0.01
    True
    >>> print(rec)  # doctest: +SKIP

    A teacher trained once for 16 students charges each a sixteenth of its pretraining:

    >>> shared = bd.recommend(fit, compute=1e22, student_params=1e9, n_students=16)
    >>> shared.p_distillation_better, shared.n_students
    (1.0, 16)
    """
    if not _is_number(compute) and np.ndim(compute) > 0:
        raise TypeError(
            f"compute must be one budget in FLOPs, e.g. compute=1e22, got {compute!r}. For "
            "several budgets use bd.recommend_sweep(fit, compute=[1e21, 1e22, 1e23], "
            "student_params=...), which returns a DataFrame with one row per budget (the same "
            "noise draws for every budget, and a loss at risk that never rises with the budget)."
        )
    if group is not None:  # one group's law of a grouped fit
        fit = _validate.law_group(fit, group, "recommend")
    recs, _ = _recommendations(
        fit,
        compute,
        student_params,
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
    if group is not None:  # one group's law of a grouped fit
        fit = _validate.law_group(fit, group, "recommend_sweep")
    recs, _ = _recommendations(
        fit,
        compute,
        student_params,
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
) -> tuple[list[Recommendation], bool]:
    """The work of :func:`recommend` and :func:`recommend_sweep` (same arguments, checked
    here): one :class:`Recommendation` per budget, in the order given, and whether ``compute``
    was a single number. The command line's JSON is built from these for one budget and for a
    sweep."""
    _validate.fit(fit, ("distillation",), "recommend")
    budgets, scalar = _check_budgets(compute)
    N_S = _check_positive("student_params", student_params, "e.g. student_params=1e9.")
    scenario = _check_scenario(scenario)
    risk = _validate.probability(
        "risk_tolerance",
        risk_tolerance,
        "e.g. 0.1 to be 90% sure of the promised loss, 0.5 for the median.",
    )
    ci_prob = _validate.probability("ci_prob", ci_prob, "e.g. ci_prob=0.9 for a 90% interval.")
    b = _check_bounds(bounds)
    approx = _check_approx(approx)
    seed = _validate.random_seed(random_seed)
    n_students = _compute.check_n_students(n_students)
    ratio = _positive_pair(
        teacher_tokens_per_param,
        "teacher_tokens_per_param must be a pair (lower, upper) of tokens per parameter with "
        f"0 < lower < upper, e.g. {TEACHER_TOKENS_PER_PARAM}; got {teacher_tokens_per_param!r}.",
    )
    if not b.n_lo <= N_S <= b.n_hi:
        raise ValueError(
            f"student_params={N_S:.3g} is outside the bounds on parameters "
            f"({b.n_lo:.3g}, {b.n_hi:.3g}); choose a student within the bounds or widen them."
        )
    d_logits, _ = _compute.SCENARIOS[scenario]
    existing = teacher_loss is not None or teacher_params is not None or teacher_tokens is not None
    teacher: dict[str, Any] = {}
    if existing:
        if teacher_loss is not None:
            teacher["L_T"] = _check_teacher_loss(teacher_loss)
        if teacher_params is not None:
            teacher["N_T"] = _check_positive("teacher_params", teacher_params, "e.g. 7e9.")
        if teacher_tokens is not None:
            if teacher_params is None:
                raise ValueError(
                    "teacher_tokens was given without teacher_params; give both (or teacher_loss)."
                )
            teacher["D_T"] = _check_positive("teacher_tokens", teacher_tokens, "e.g. 2e12.")
        if "L_T" not in teacher and "D_T" not in teacher:
            raise ValueError(
                "teacher_params alone does not say how good the teacher is: give teacher_tokens "
                "too (its loss then follows from the supervised law) or teacher_loss."
            )
        if d_logits and "N_T" not in teacher:
            raise ValueError(
                f"scenario {scenario!r} pays for the teacher's logits, so teacher_params is "
                "needed to cost them; give teacher_params, or use scenario='best_case' (or "
                "'teacher_pretraining') if the logits are already stored."
            )

    sup, dist, sup_student = _distillation_law_params(fit)

    def build(c: float) -> _Problem:
        return _build_problem(
            sup, dist, N_S, c, scenario, teacher, approx, b, sup_student, n_students, ratio
        )

    # Validate every budget before computing anything.
    for c in budgets:
        build(float(c))

    seed_student, seed_supervised = np.random.SeedSequence(seed).spawn(2)
    noise = _StudentNoise(fit, seed_student)
    eps_sup = _supervised_noise(fit, seed_supervised)
    own_supervised_noise = "sigma_supervised" in fit.posterior

    spend = _BudgetCeiling(build, noise, 1.0 - risk, scenario, budgets)
    ranges = _extrap.fitted_ranges(fit)
    recs = []
    counter = _sweep_counter("recommend: budget", len(budgets))
    for c in budgets:
        p, searched = spend.best(float(c))
        rec = _solve(
            p,
            noise,
            eps_sup,
            scenario=scenario,
            risk=risk,
            ci_prob=ci_prob,
            existing=existing,
            own_supervised_noise=own_supervised_noise,
            budget=float(c),
            ranges=ranges,
            searched=searched,
        )
        recs.append(rec)
        counter.step()
    counter.close()
    # in a sweep, a larger budget never promises a worse loss at risk than a smaller one
    order = np.argsort(budgets, kind="stable")
    for i, j in itertools.pairwise(order):
        if recs[j].student_loss["at_risk"] > recs[i].student_loss["at_risk"]:
            spent = recs[i].compute_spent
            recs[j] = _solve(
                spend.problem(spent),
                noise,
                eps_sup,
                scenario=scenario,
                risk=risk,
                ci_prob=ci_prob,
                existing=existing,
                own_supervised_noise=own_supervised_noise,
                budget=float(budgets[j]),
                ranges=ranges,
                searched=spend.search(spent),
            )
    recs = [
        dataclasses.replace(
            r,
            supervised_source=fit.supervised_source,
            paper=_paper_answer(fit, r, scenario, teacher, approx, b, n_students, ratio),
        )
        for r in recs
    ]
    # one warning per call, naming the furthest budget of a sweep for each input
    _extrap._warn(
        _extrap._stack([r.extrapolation for r in recs]),
        "distillation",
        where=None if scalar else [f"compute={r.compute:.3g}" for r in recs],
        what="budgets",
    )
    return recs, scalar


def _paper_answer(
    fit, rec: Recommendation, scenario, teacher, approx, b, n_students=1, ratio=None
) -> dict[str, float]:
    """The paper's Table-6 coefficients' answer to the same question (a point estimate)."""
    if fit.runs is None or ("L_T" in teacher and "N_T" not in teacher):
        return {}  # a fit of given parameters, or a teacher given only by its loss
    paper = _paper_fit()
    sup, dist = _supervised_params(paper), _distillation_params(paper)
    if "D_T" in teacher:  # a teacher given by its size and tokens: the paper's law says its loss
        teacher = {k: v for k, v in teacher.items() if k != "L_T"}
    try:
        p = _build_problem(
            sup,
            dist,
            rec.student_params,
            rec.compute,
            scenario,
            teacher,
            approx,
            b,
            n_students=n_students,
            teacher_ratio=ratio or TEACHER_TOKENS_PER_PARAM,
        )
    except ValueError:
        return {}
    ans = _solve(
        p,
        _StudentNoise(paper, np.random.SeedSequence(0)),
        np.zeros(1),
        scenario=scenario,
        risk=0.5,
        ci_prob=0.5,
        existing=bool(teacher),
        own_supervised_noise=True,
    )
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


#: Budgets tried below a budget ``C`` for the ceiling: ``C * 10**-k``, ``k = 1..4``.
_CEILING_STEPS = 4


class _BudgetCeiling:
    """Chooses how much of a budget to spend: budgets are ceilings, not amounts to burn.

    For a budget ``C``, the smaller budgets ``C * 10**-k`` (``k = 1 .. _CEILING_STEPS``, while
    each screens better than the one above it and the student can still be trained) and, in a
    sweep, every smaller budget of the sweep are screened by the loss at risk (the ``q``
    quantile of the predictive student loss) on the coarse grid; the best of them, if it
    screens better than ``C``, is searched fully and
    replaces ``C`` if its loss at risk is lower. A sweep then keeps, at each budget, the better
    of its own answer and the one of the next smaller budget, so its loss at risk never rises
    with the budget. The predictive noise grows with the distance from the fitted runs, so
    spending everything can make the loss at risk worse; what is not spent is reported.
    """

    def __init__(self, build, noise, q, scenario, budgets):
        self.build, self.noise, self.q, self.scenario = build, noise, q, scenario
        self.budgets = np.sort(np.asarray(budgets, float))
        self._problems: dict[float, _Problem | None] = {}
        self._coarse: dict[float, float] = {}
        # coarse evaluations of the current :meth:`best` call, handed on to :meth:`search`
        self._pending: dict[float, tuple] = {}
        self._searched: dict[float, tuple] = {}

    def problem(self, c: float) -> _Problem | None:
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
                self._pending[c] = coarse = _coarse_quantile(p, self.noise, self.q)
                if len(coarse[3]):
                    v = float(np.min(coarse[3]))
            self._coarse[c] = v
        return self._coarse[c]

    def search(self, c: float) -> tuple:
        """:func:`_quantile_search` at budget ``c`` (cached), from its coarse evaluation when
        :meth:`coarse` has just made it."""
        if c not in self._searched:
            self._searched[c] = _quantile_search(
                self.problem(c), self.noise, self.q, self.scenario, self._pending.pop(c, None)
            )
        return self._searched[c]

    def best(self, C: float) -> tuple[_Problem, tuple]:
        """The problem at the budget to spend (``C`` or one below it) and its search."""
        try:
            return self._best(C)
        finally:
            self._pending.clear()  # the screened budgets' arrays are not kept

    def _best(self, C: float) -> tuple[_Problem, tuple]:
        if self.problem(C) is None:
            self.build(C)  # raises the budget's own error
        # walk down the decades while each screens better than the best so far (the loss at
        # risk against the budget falls, then rises: once it stops improving, lower budgets
        # are worse); the sweep's smaller budgets are screened too (cached)
        below, best = C, self.coarse(C)
        for k in range(1, _CEILING_STEPS + 1):
            c = C / 10.0**k
            if self.coarse(c) >= best:
                break
            below, best = c, self.coarse(c)
        for c in (float(c) for c in self.budgets if c < C):
            if self.coarse(c) < best:
                below, best = c, self.coarse(c)
        if below != C and self.search(below)[1] < self.search(C)[1]:
            return self.problem(below), self.search(below)
        return self.problem(C), self.search(C)


def _build_problem(
    sup,
    dist,
    N_S,
    C,
    scenario,
    teacher,
    approx,
    b: _Bounds,
    sup_student=None,
    n_students=1,
    teacher_ratio: tuple[float, float] = TEACHER_TOKENS_PER_PARAM,
) -> _Problem:
    """The search problem of one budget; raises ValueError when the budget cannot work.

    ``n_students`` students share the teacher: each is charged ``1 / n_students`` of its
    pretraining, in the budget's feasibility as everywhere else (:meth:`_Problem.student_tokens`).
    """
    n_lo, n_hi, d_lo, d_hi = b.logs
    F_S = _compute.forward_flops(N_S, approx=approx)
    if C < 3 * F_S:
        raise ValueError(
            f"compute={C:.3g} FLOPs cannot train the student (student_params={N_S:.3g}) on even "
            f"one token, which costs 3 F(N_S) = {3 * F_S:.3g} FLOPs; raise compute or choose a "
            "smaller student."
        )
    d_logits = _compute.SCENARIOS[scenario][0]
    common = {"sup": sup, "dist": dist, "N_S": N_S, "compute": C, "approx": approx, "bounds": b}
    common["sup_student"] = sup_student
    common["n_students"] = n_students
    if teacher:
        accounting = "teacher_inference" if d_logits else "best_case"
        N_T, D_T = teacher.get("N_T"), teacher.get("D_T")
        if "L_T" in teacher:
            log_LT = math.log(teacher["L_T"])
        else:
            log_LT = _log_sup(sup, math.log(N_T), math.log(D_T))
        p = _Problem(
            **common, accounting=accounting, mode="fixed", N_T=N_T, D_T=D_T, log_LT_fixed=log_LT
        )
        D_S = float(p.student_tokens(np.zeros((1, 0)))[0])
        _check_student_tokens(D_S, C, N_S, scenario, b, "with this teacher")
        return p

    if scenario == "best_case":
        p = _Problem(**common, accounting="best_case", mode="loss")
        D_S = float(p.student_tokens(np.zeros((1, 1)))[0])
        _check_student_tokens(D_S, C, N_S, scenario, b, "")
        # the losses reachable by a teacher within the bounds, over all draws
        with np.errstate(all="ignore"):
            lt_lo = np.nanmin(_log_sup(sup, n_hi, d_hi))
            lt_hi = np.nanmax(_log_sup(sup, n_lo, d_lo))
        p.lo_u, p.hi_u = np.array([lt_lo]), np.array([lt_hi])
        return p

    mode = "size" if scenario == "teacher_inference" else "size_tokens"
    p = _Problem(**common, accounting=scenario, mode=mode)

    def log_DS(log_NT: float, log_DT: float) -> float:
        u = np.array([[log_NT, log_DT][: p.dim]])
        d = float(p.student_tokens(u)[0])
        return math.log(d) if d > 0 else -np.inf

    # The cheapest teacher allowed must leave the student at least d_lo tokens.
    best = log_DS(n_lo, d_lo)
    if best < d_lo - _FEAS_TOL:
        have = math.exp(best) if np.isfinite(best) else 0.0
        raise ValueError(
            f"compute={C:.3g} FLOPs is too small for scenario {scenario!r}: even the smallest "
            f"teacher allowed by bounds={b} leaves the student {have:.3g} tokens, below the "
            f"lower bound {b.d_lo:.3g}; raise compute, lower the bounds, or choose "
            "scenario='best_case'."
        )
    # D_S decreases with N_T (and D_T): the largest feasible teacher keeps D_S >= d_lo.
    n_max = _bisect_increasing(lambda x: d_lo - log_DS(x, d_lo), n_lo, n_hi)
    too_large = ValueError(
        f"compute={C:.3g} FLOPs is too large for bounds={b}: the student would train on more "
        f"than {b.d_hi:.3g} tokens whatever the teacher within the bounds; raise the upper "
        "bound on tokens."
    )
    if mode == "size":
        n_min = n_lo
        if log_DS(n_lo, d_lo) > d_hi + _FEAS_TOL:
            n_min = _bisect_increasing(lambda x: d_hi - log_DS(x, d_lo), n_lo, n_hi)
            n_min = min(n_min + 1e-9, n_max)
            if log_DS(n_min, d_lo) > d_hi + _FEAS_TOL:
                raise too_large
        p.lo_u, p.hi_u = np.array([n_min]), np.array([n_max])
    else:
        if log_DS(n_hi, d_hi) > d_hi + _FEAS_TOL:
            raise too_large
        d_max = _bisect_increasing(lambda x: d_lo - log_DS(n_lo, x), d_lo, d_hi)
        p.lo_u, p.hi_u = np.array([n_lo, d_lo]), np.array([n_max, d_max])
        p.log_ratio = (math.log(teacher_ratio[0]), math.log(teacher_ratio[1]))
    return p


def _check_student_tokens(D_S, C, N_S, scenario, b: _Bounds, context) -> None:
    ctx = f" {context}" if context else ""
    if not D_S >= b.d_lo * (1 - 1e-9):
        raise ValueError(
            f"compute={C:.3g} FLOPs buys the student (student_params={N_S:.3g}) only "
            f"{max(D_S, 0):.3g} tokens in scenario {scenario!r}{ctx}, below the lower bound "
            f"{b.d_lo:.3g} of bounds={b}; raise compute or lower the bounds."
        )
    if D_S > b.d_hi * (1 + 1e-9):
        raise ValueError(
            f"compute={C:.3g} FLOPs would train the student (student_params={N_S:.3g}) on "
            f"{D_S:.3g} tokens in scenario {scenario!r}{ctx}, above the upper bound "
            f"{b.d_hi:.3g} of bounds={b}; raise the upper bound or lower compute."
        )


def _coarse_quantile(p: _Problem, noise: _StudentNoise, q: float) -> tuple:
    """The ``q`` quantile of the predictive loss on ``p``'s coarse grid.

    Returns ``(grid, m, e, fq)``: the grid ``(K, d)`` (one point without coordinates when
    there is nothing to choose), the law's log loss ``m (S, K)`` and the noise ``e`` there, and
    the quantile ``fq (K,)``; ``m`` and ``e`` are None when no grid point is feasible.
    """
    grid = p.coarse_grid()
    if len(grid) == 0:
        return grid, None, None, np.zeros(0)
    ev = p.evaluate(grid[None])
    m, e = ev[0], _eps_at(p, noise, ev)
    return grid, m, e, _reduce_quantile(m, e, q)


def _quantile_search(
    p: _Problem, noise: _StudentNoise, q: float, scenario: str, coarse: tuple | None = None
):
    """The allocation minimising the ``q`` quantile of the predictive loss, and that quantile.

    Returns ``(x, value, grid, m, e)``: the optimum ``(d,)``, its quantile, and the coarse grid
    with the law's log loss ``m (S, K)`` and the noise ``e`` there (reused by :func:`_solve`).
    ``coarse`` is :func:`_coarse_quantile` of ``p`` when the caller has it already.
    """
    grid, m, e, fq = coarse or _coarse_quantile(p, noise, q)
    if len(fq) == 0:
        raise ValueError(
            f"No allocation within bounds={p.bounds} spends compute={p.compute:.3g} FLOPs "
            f"in scenario {scenario!r} with the student's tokens within the bounds; widen "
            "the bounds."
        )
    if p.dim == 0:
        return np.zeros(0), float(fq[0]), None, None, None
    iq = int(np.argmin(fq))

    def objective(c: np.ndarray) -> np.ndarray:
        ev = p.evaluate(c)
        return _reduce_quantile(ev[0], _eps_at(p, noise, ev), q)[None]

    x, fx = _compass(
        objective, grid[iq][None], fq[iq : iq + 1], p.grid_spacing() / 2, p.lo_u, p.hi_u
    )
    return x[0], float(fx[0]), grid, m, e


def _eps_at(p: _Problem, noise: _StudentNoise, ev: tuple) -> np.ndarray:
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


def _reduce_quantile(m: np.ndarray, e: np.ndarray, q: float) -> np.ndarray:
    """``q`` quantile over draws of the predictive loss, per candidate: ``(M,)``."""
    with np.errstate(all="ignore"):
        v = np.quantile(np.exp(m + e), q, axis=0)
    return np.where(np.isnan(v), np.inf, v)


@dataclasses.dataclass(frozen=True)
class _Optima:
    """The allocations a recommendation compares, each with its mean-law log student loss per
    draw ``(S,)`` (and, for the common ones, :meth:`_Problem.evaluate`'s output there)."""

    x_q: np.ndarray  # the recommendation: minimises the loss at risk over all draws
    ev_q: tuple
    m_q: np.ndarray
    x_mean: np.ndarray  # minimises the posterior mean of the predictive loss
    ev_mean: tuple
    m_mean: np.ndarray
    x_draw: np.ndarray  # each draw's own optimum of its mean law, (S, d)
    m_draw: np.ndarray


def _mean_loss(m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Posterior mean of the predictive loss, per candidate: ``(M,)`` (``inf`` where NaN)."""
    with np.errstate(all="ignore"):
        v = np.mean(np.exp(m + e), axis=0)
    return np.where(np.isnan(v), np.inf, v)


def _find_optima(p: _Problem, noise: _StudentNoise, q: float, scenario: str, searched) -> _Optima:
    """The recommended allocation (the ``q`` quantile's, from :func:`_quantile_search` unless
    ``searched`` holds it), the mean's optimum and each draw's optimum."""

    def at(x: np.ndarray) -> tuple[tuple, np.ndarray]:
        ev = p.evaluate(x[None, None])
        return ev, ev[0][:, 0]

    x_q, _, grid, m, e = searched or _quantile_search(p, noise, q, scenario)
    ev_q, m_q = at(x_q)
    S = m_q.shape[0]
    if p.dim == 0:
        return _Optima(x_q, ev_q, m_q, x_q, ev_q, m_q, np.zeros((S, 0)), m_q)
    step = p.grid_spacing() / 2
    fm = _mean_loss(m, e)
    best = int(np.argmin(fm))
    # The mean optimum is usually close to the quantile one: start from the better of the two,
    # with a finer step and fewer rounds.
    f_xq = _mean_loss(m_q[:, None], _eps_at(p, noise, ev_q))[0]
    start, f_start = (x_q, f_xq) if f_xq <= fm[best] else (grid[best], fm[best])

    def objective_mean(c: np.ndarray) -> np.ndarray:
        ev = p.evaluate(c)
        return _mean_loss(ev[0], _eps_at(p, noise, ev))[None]

    x_mean, _ = _compass(
        objective_mean, start[None], np.array([f_start]), step / 2, p.lo_u, p.hi_u, _N_ROUNDS_MEAN
    )
    x_mean = x_mean[0]
    ev_mean, m_mean = at(x_mean)
    # Each draw starts from the best of its coarse grid point and the two common optima.
    rows = np.arange(S)
    own = np.argmin(m, axis=1)
    starts = np.stack(
        [grid[own], np.broadcast_to(x_q, (S, p.dim)), np.broadcast_to(x_mean, (S, p.dim))]
    )
    f_starts = np.stack([m[rows, own], m_q, m_mean])
    first = np.argmin(f_starts, axis=0)
    x_draw, m_draw = _compass(
        p.log_loss,
        starts[first, rows],
        f_starts[first, rows],
        step / 2,
        p.lo_u,
        p.hi_u,
        _N_ROUNDS_DRAW,
    )
    return _Optima(x_q, ev_q, m_q, x_mean, ev_mean, m_mean, x_draw, m_draw)


def _solve_notes(
    p: _Problem,
    scenario: str,
    budget: float,
    existing: bool,
    own_supervised_noise: bool,
    n_dropped: int,
) -> list[str]:
    """What a recommendation says about how it was made (before its per-draw checks)."""
    notes = []
    if n_dropped:
        notes.append(
            f"{n_dropped} of {p.sup['log_E'].shape[0]} draws dropped: the law is not finite "
            "there (extreme parameters)."
        )
    if existing:
        charged = "charged" if p.accounting == "teacher_inference" else "free"
        notes.append(
            f"existing teacher: its pretraining is sunk and not charged; its logits are {charged}."
        )
    if p.compute < budget * (1 - 1e-9):
        notes.append(
            f"only {p.compute:.3g} of the {budget:.3g} FLOPs are spent: under the model, "
            "spending more makes the loss at risk worse (the predictive interval widens faster "
            "than the expected loss falls, far from the fitted runs). The supervised baseline "
            "spends the whole budget."
        )
    if p.n_students > 1 and (existing or _compute.SCENARIOS[scenario][1] == 0):
        why = (
            "an existing teacher's pretraining is sunk and never charged"
            if existing
            else f"scenario {scenario!r} does not pay for the teacher's pretraining"
        )
        notes.append(f"n_students={p.n_students} changes nothing here: {why}.")
    if not own_supervised_noise:
        notes.append(
            "the supervised baseline's predictive noise reuses the distillation fit's noise model "
            "(no supervised runs were fitted jointly)."
        )
    return notes


def _optimum_spread(
    p: _Problem, x_opt: np.ndarray, valid: np.ndarray, ci_prob: float
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Intervals of the per-draw optimal allocations (``D_S, N_T, D_T, L_T``), and the
    allocations per draw."""
    S = x_opt.shape[0]
    N_T, D_T = p.teacher(x_opt[:, None, :])
    per_draw = {
        "D_S": p.student_tokens(x_opt[:, None, :])[:, 0],
        "N_T": np.full(S, np.nan) if N_T is None else N_T[:, 0],
        "D_T": np.full(S, np.nan) if D_T is None else D_T[:, 0],
        "L_T": np.exp(p.teacher_log_loss(x_opt[:, None, :])[np.arange(S), 0]),
    }
    nan = {"median": np.nan, "lower": np.nan, "upper": np.nan}
    spread = {
        name: _interval(values[valid], ci_prob) if np.all(np.isfinite(values[valid])) else nan
        for name, values in per_draw.items()
    }
    frame = pd.DataFrame.from_dict(spread, orient="index")[["median", "lower", "upper"]]
    return frame, per_draw


def _outside_note(spread: pd.DataFrame, chosen: Mapping[str, float], ci_prob: float) -> list[str]:
    """A note when the recommendation lies outside the interval of the per-draw optima."""
    outside = [
        name
        for name, row in spread.iterrows()
        if np.isfinite(row["lower"])
        and np.isfinite(chosen.get(name, np.nan))
        and not row["lower"] * (1 - 1e-6) <= chosen[name] <= row["upper"] * (1 + 1e-6)
    ]
    if not outside:
        return []
    return [
        f"the recommended {', '.join(outside)} lie(s) outside the {ci_prob:.0%} interval of "
        "the per-draw optima: each draw's optimum minimises that draw's mean-law loss, while "
        "the recommendation minimises the loss at risk over all draws, which also weighs how "
        "uncertain each allocation's outcome is (the predictive noise grows away from the "
        "fitted runs) and so can prefer an allocation no single draw would choose."
    ]


def _mean_optimal(p: _Problem, o: _Optima, eps_mean: np.ndarray, v: np.ndarray) -> dict:
    """The allocation minimising the posterior mean of the predictive loss, and that loss."""
    mean_alloc = p.allocation(o.x_mean)
    lt_mean = np.exp(p.teacher_log_loss(o.x_mean[None, None])[:, 0])
    return {
        "D_S": mean_alloc["D_S"],
        "N_T": mean_alloc["N_T"],
        "D_T": mean_alloc["D_T"],
        "L_T": float(np.median(lt_mean[v])),
        "loss": float(np.mean(np.exp(o.m_mean[v] + eps_mean[v]))),
    }


def _solve(
    p: _Problem,
    noise: _StudentNoise,
    eps_sup: np.ndarray,
    *,
    scenario: str,
    risk: float,
    ci_prob: float,
    existing: bool,
    own_supervised_noise: bool,
    budget: float | None = None,
    searched: tuple | None = None,
    ranges: Mapping[str, Mapping[str, Any]] | None = None,
) -> Recommendation:
    """The recommendation of problem ``p``: its optimum of the loss at risk, compared with the
    supervised baseline (``eps_sup``: its predictive noise per draw) and each draw's optimum."""
    budget = p.compute if budget is None else budget
    S = eps_sup.shape[0]
    q = 1.0 - risk
    rows = np.arange(S)
    o = _find_optima(p, noise, q, scenario, searched)
    # Each draw's optimum: the best of its own search and the two common allocations.
    cands = np.stack(
        [
            o.x_draw,
            np.broadcast_to(o.x_q, o.x_draw.shape),
            np.broadcast_to(o.x_mean, o.x_draw.shape),
        ]
    )
    vals = np.stack([o.m_draw, o.m_q, o.m_mean])
    best = np.argmin(vals, axis=0)
    x_opt, m_opt = cands[best, rows], vals[best, rows]

    D_sup = float(_compute.supervised_tokens(budget, p.N_S, approx=p.approx))
    with np.errstate(all="ignore"):
        m_sup = _log_sup(p.sup, p.log_NS, math.log(D_sup))[:, 0]
    lt_q = p.teacher_log_loss(o.x_q[None, None])[:, 0]
    v = np.isfinite(o.m_q) & np.isfinite(m_sup) & np.isfinite(m_opt) & np.isfinite(lt_q)
    n_valid = int(v.sum())
    if n_valid == 0:
        raise ValueError(
            f"The distillation law is not finite for any posterior draw at the best allocation "
            f"for compute={p.compute:.3g}; check the fit's parameters."
        )
    notes = _solve_notes(p, scenario, budget, existing, own_supervised_noise, S - n_valid)

    eps = _eps_at(p, noise, o.ev_q)[:, 0]
    eps_mean = _eps_at(p, noise, o.ev_mean)[:, 0]
    L_q, L_pred = np.exp(o.m_q[v]), np.exp(o.m_q[v] + eps[v])
    L_sup, L_sup_pred = np.exp(m_sup[v]), np.exp(m_sup[v] + eps_sup[v])
    student_loss = _interval(L_pred, ci_prob)
    student_loss["at_risk"] = float(np.quantile(L_pred, q))
    supervised_loss = _interval(L_sup_pred, ci_prob)
    supervised_loss["at_risk"] = float(np.quantile(L_sup_pred, q))
    with np.errstate(all="ignore"):
        regret_draws = np.exp(o.m_q) - np.exp(m_opt)
    regret = {
        "expected": float(np.mean(regret_draws[v])),
        "upper": float(np.quantile(regret_draws[v], (1 + ci_prob) / 2)),
    }

    spread, opt = _optimum_spread(p, x_opt, v, ci_prob)
    allocation = p.allocation(o.x_q)
    chosen = {**allocation, "L_T": float(np.median(np.exp(lt_q[v])))}
    notes += _outside_note(spread, chosen, ci_prob)
    mean_optimal = _mean_optimal(p, o, eps_mean, v)
    per_draw = pd.DataFrame(
        {
            "loss_recommended": np.exp(o.m_q),
            "loss_predictive": np.exp(o.m_q + eps),
            "loss_optimal": np.exp(m_opt),
            "regret": regret_draws,
            **{f"{k}_opt": opt[k] for k in ("D_S", "N_T", "D_T", "L_T")},
            "teacher_loss": np.exp(lt_q),
            "supervised_loss": np.exp(m_sup),
            "supervised_loss_predictive": np.exp(m_sup + eps_sup),
            "dropped": ~v,
        }
    ).rename_axis("sample")
    teacher_loss = _interval(np.exp(lt_q[v]), ci_prob)
    return Recommendation(
        scenario=scenario,
        compute=budget,
        compute_spent=p.compute,
        student_params=p.N_S,
        risk_tolerance=risk,
        ci_prob=ci_prob,
        allocation=allocation,
        student_loss=student_loss,
        student_loss_mean=_interval(L_q, ci_prob),
        teacher_loss=teacher_loss,
        supervised_tokens=D_sup,
        supervised_loss=supervised_loss,
        supervised_loss_mean=_interval(L_sup, ci_prob),
        p_distillation_better=float(np.mean(L_q < L_sup)),
        p_distillation_better_predictive=float(np.mean(L_pred < L_sup_pred)),
        p_distillation_better_by_margin=float(np.mean(L_q < L_sup - DECISION_MARGIN)),
        supervised_source="",
        paper={},
        regret=regret,
        optimum_spread=spread,
        mean_optimal=mean_optimal,
        on_bound=tuple(p.on_bounds(o.x_q)) if p.dim else (),
        n_draws=n_valid,
        n_dropped=S - n_valid,
        existing_teacher=existing,
        notes=tuple(notes),
        per_draw=per_draw,
        extrapolation=_allocation_extrapolation(
            ranges or {}, p.N_S, allocation, teacher_loss["median"]
        ),
        n_students=p.n_students,
    )


def _allocation_extrapolation(
    ranges: Mapping[str, Mapping[str, Any]],
    N_S: float,
    allocation: Mapping[str, float],
    L_T: float,
) -> dict[str, dict[str, Any]]:
    """The extrapolation report of an allocation (``{}`` when the fit has no runs): the
    student's ``N_S, D_S, D_S / N_S``, the median teacher loss ``L_T``, and the teacher's
    ``N_T, D_T`` where the allocation has them (not in ``best_case`` or for a teacher given
    by its loss)."""
    if not ranges:
        return {}
    D_S = allocation["D_S"]
    values = {"N_S": N_S, "D_S": D_S, "tokens_per_param": D_S / N_S, "L_T": L_T}
    values.update({k: allocation[k] for k in ("N_T", "D_T") if np.isfinite(allocation[k])})
    return _extrap._assess(ranges, values)


# --------------------------------------------------------------------------------------------
# crossover: the budget where supervised training catches up with distillation

#: Default range of budgets (FLOPs) in which :func:`crossover` looks for the crossover.
DEFAULT_COMPUTE_RANGE: tuple[float, float] = (1e18, 1e27)
# The crossover's search (see :func:`crossover`): budgets per decade of its grid, bisection
# steps in log compute after it (a bracket of a quarter decade narrowed 2**12 times, to 1.4e-4
# in log compute), and rounds of each draw's compass search at a budget.
_XOVER_PER_DECADE = 4
_XOVER_BISECTIONS = 12
_XOVER_ROUNDS = 8


def _check_students(student_params: Any, b: _Bounds) -> np.ndarray:
    """Student sizes as a 1-D float array, each within the bounds on parameters."""
    hint = "give parameters as a number such as 1e9, or a 1-D array such as [1e9, 3e9, 1e10]."
    if isinstance(student_params, str | bytes | bool):
        raise TypeError(f"student_params must be numbers, got {student_params!r}; {hint}")
    try:
        arr = np.asarray(student_params, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"student_params must be numbers, got {student_params!r}; {hint}") from None
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(
            f"student_params must be a number or a non-empty 1-D array, got {student_params!r}; "
            f"{hint}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"student_params must be finite and positive, got {student_params!r}; {hint}"
        )
    for N_S in np.atleast_1d(arr):
        if not b.n_lo <= N_S <= b.n_hi:
            raise ValueError(
                f"student_params={N_S:.3g} is outside the bounds on parameters "
                f"({b.n_lo:.3g}, {b.n_hi:.3g}); choose a student within the bounds or widen them."
            )
    return np.atleast_1d(arr)


def _check_compute_range(compute_range: Any) -> tuple[float, float]:
    msg = (
        "compute_range must be a pair (lower, upper) of FLOPs with 0 < lower < upper, e.g. "
        f"(1e18, 1e27); got {compute_range!r}."
    )
    return _positive_pair(compute_range, msg)


def _draws_of(p: _Problem, rows: np.ndarray) -> _Problem:
    """``p`` restricted to the posterior draws ``rows`` (parameters shared by every draw, such
    as a two-stage fit's fixed supervised ones, are kept as they are)."""
    S = next(iter(p.sup.values())).shape[0]

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


def _draw_optima(
    p: _Problem,
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
    search of :func:`_compass` from the best of them. Returns the log losses ``(R,)`` (``inf``
    where nothing is feasible) and the optima ``(R, d)``.
    """
    R = len(rows)
    q = dataclasses.replace(
        _draws_of(p, rows), compute=np.asarray(C, float)[:, None], lo_u=lo, hi_u=hi
    )
    if q.dim == 0:
        return q.log_loss(np.zeros((R, 1, 0)))[:, 0], np.zeros((R, 0))
    n = _COARSE_1D if q.dim == 1 else _COARSE_2D
    t = np.linspace(0.0, 1.0, n)
    unit = t[:, None] if q.dim == 1 else np.stack(np.meshgrid(t, t, indexing="ij"), -1)
    unit = unit.reshape(-1, q.dim)
    cand = lo[:, None, :] + (hi - lo)[:, None, :] * unit[None]
    if starts:
        cand = np.concatenate([cand, *(np.clip(x, lo, hi)[:, None, :] for x in starts)], axis=1)
    m = q.log_loss(cand)
    j = np.argmin(m, axis=1)
    r = np.arange(R)
    step = np.maximum((hi - lo) / (n - 1), 1e-6) / 2
    x, f = _compass(q.log_loss, cand[r, j], m[r, j], step, lo, hi, _XOVER_ROUNDS)
    return f, x


def _supervised_log_loss(p: _Problem, rows: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Mean-law log loss of the student trained on data with budget ``C[i]``, draw ``rows[i]``."""
    D = _compute.supervised_tokens(np.asarray(C, float), p.N_S, approx=p.approx)
    return _log_sup(_draws_of(p, rows).sup, p.log_NS, np.log(D)[:, None])[:, 0]


def _crossover_grid(
    sup, dist, N_S, budgets, scenario, teacher, approx, b: _Bounds, sup_student
) -> list[tuple[float, _Problem]]:
    """The search problems at the budgets of the grid that can train the student (a run of
    consecutive budgets); raises ValueError when fewer than two can.

    A budget must train the distilled student within ``bounds`` in the scenario and the
    supervised one too (on ``C / (3 F(N_S))`` tokens, within the bounds on tokens), so that both
    are compared on the same footing.
    """
    problems: list[tuple[float, _Problem]] = []
    errors: dict[float, str] = {}
    for c in budgets:
        try:
            D_sup = float(_compute.supervised_tokens(float(c), N_S, approx=approx))
            if not b.d_lo <= D_sup <= b.d_hi:
                raise ValueError(
                    f"it trains the supervised student on {D_sup:.3g} tokens, outside the bounds "
                    f"on tokens ({b.d_lo:.3g}, {b.d_hi:.3g})"
                )
            p = _build_problem(sup, dist, N_S, float(c), scenario, teacher, approx, b, sup_student)
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
class _Crossing:
    """Each draw's crossover (``compute``, NaN where it has none) and what happens there."""

    compute: np.ndarray  # (S,) FLOPs where the draw's best distilled student stops winning
    D_S: np.ndarray  # (S,) the distilled student's tokens there
    never_wins: np.ndarray  # (S,) bool: distillation never wins in the range
    still_winning: np.ndarray  # (S,) bool: it wins at some budget and never stops after it
    valid: np.ndarray  # (S,) bool: the laws are finite at every budget of the grid


def _crossings(grid: list[tuple[float, _Problem]]) -> _Crossing:
    """Each draw's first budget, after distillation has won, at which the best distilled
    student stops beating the supervised one (mean law), on the grid then by bisection.

    The grid is walked upwards with the draws that have not crossed yet; each starts its search
    also from its optimum at the budget below.
    """
    budgets = np.array([c for c, _ in grid])
    p0 = grid[0][1]
    S = next(iter(p0.sup.values())).shape[0]
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
        m, optima[i, rows] = _draw_optima(p, rows, C, box_lo[i, rows], box_hi[i, rows], starts)
        gap = m - _supervised_log_loss(p, rows, C)
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
    for _ in range(_XOVER_BISECTIONS if rows.size else 0):
        mid = 0.5 * (lo_c + hi_c)
        C = np.exp(mid)
        m, x = _draw_optima(p0, rows, C, lo_u, hi_u, [x_won, x_lost])
        won = m - _supervised_log_loss(p0, rows, C) < 0  # NaN: not won
        lo_c, hi_c = np.where(won, mid, lo_c), np.where(won, hi_c, mid)
        x_won = np.where(won[:, None], x, x_won)
        x_lost = np.where(won[:, None], x_lost, x)
    compute = np.full(S, np.nan)
    compute[rows] = np.exp(0.5 * (lo_c + hi_c))
    D_S = np.full(S, np.nan)
    if rows.size:
        _, x = _draw_optima(p0, rows, compute[rows], lo_u, hi_u, [x_won, x_lost])
        q = dataclasses.replace(_draws_of(p0, rows), compute=compute[rows][:, None])
        D_S[rows] = q.student_tokens(x[:, None, :])[:, 0]
    return _Crossing(
        compute=compute,
        D_S=D_S,
        never_wins=valid & ~has_won,
        still_winning=valid & has_won & ~crosses,
        valid=valid,
    )


@check_keywords
def _crossover_row(N_S: float, grid, ci_prob: float, ranges) -> tuple[dict, dict, list]:
    """One student's row of :func:`crossover`, its extrapolation report and its crossover
    compute per draw (NaN for dropped draws)."""
    x = _crossings(grid)
    v = x.valid
    n_valid = int(v.sum())
    if n_valid == 0:
        raise ValueError(
            f"The laws are not finite for any posterior draw for student_params={N_S:.3g} "
            "in compute_range; check the fit's parameters."
        )
    crossed = v & np.isfinite(x.compute)
    summary = (
        _interval(x.compute[crossed], ci_prob)
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
    won (``g_s < 0``), at which it stops winning (``g_s >= 0``). The per-draw crossovers are
    summarised by their median and ``ci_prob`` equal-tailed interval, over the draws that have
    one; the share of draws without one in ``compute_range`` is reported next to them.

    The crossover is a property of the laws: it uses the mean law (no run-to-run noise, no
    discrepancy offsets) and the whole budget (no ceiling, unlike :func:`recommend`). It is
    where distillation *stops* winning: where it only starts winning as the budget grows (with
    the paper's coefficients, a student of 1e8 parameters whose teacher's pretraining is paid
    for loses below about 1e20 FLOPs and wins above), the draw counts in ``p_still_winning``.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    student_params : float or array_like
        Student non-embedding parameters ``N_S``, within ``bounds``; an array gives one row per
        student.
    scenario : str, default "best_case"
        What the budget pays for (as in :func:`recommend`): ``"best_case"`` (the teacher is
        free, only its loss is chosen), ``"teacher_inference"``, ``"teacher_pretraining"`` or
        ``"pretraining_and_inference"``.
    ci_prob : float, default 0.9
        Probability of the equal-tailed interval of the crossover.
    teacher_loss : float, optional
        An existing teacher's cross-entropy (nats/token): the student is distilled from it
        (nothing is chosen; its pretraining is sunk) instead of from the best teacher. Its
        logits must be free or stored: a scenario that pays for them
        (``teacher_inference``, ``pretraining_and_inference``) needs its size and is refused.
    bounds : (float, float) or dict, default (1e6, 1e17)
        Bounds on parameters and tokens, as in :func:`recommend`.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`.
    compute_range : (float, float), default (1e18, 1e27)
        Budgets (FLOPs) searched. Budgets in it that cannot train the student within
        ``bounds``, distilled in the scenario or supervised (e.g. on more than ``1e17`` tokens
        for a small student), are left out: ``compute_lo`` and ``compute_hi`` say what was
        searched.

    Returns
    -------
    pandas.DataFrame
        One row per student: ``student_params``; ``median``, ``lower``, ``upper``, the
        crossover's median and ``ci_prob`` interval in FLOPs over the draws that have one (NaN
        when none has); ``p_no_crossover``, the share of draws without a crossover in the range
        searched, which is ``p_never_wins`` (distillation never beats supervised training
        there) plus ``p_still_winning`` (it wins from some budget on and is still winning at
        the top of the range);
        ``n_draws`` (draws used) and ``n_crossover`` (those with a crossover); ``D_S_median``,
        the median of the distilled student's tokens at each draw's crossover;
        ``compute_lo, compute_hi``, the budgets searched. For a fit with runs, ``N_S_fold``,
        ``D_S_fold`` and ``extrapolation`` (their largest fold, with ``tokens_per_param``) say
        how far the student and its tokens at the median crossover lie beyond the distillation
        runs (see :mod:`bayes_distill.extrapolation`). ``attrs`` records ``scenario``,
        ``ci_prob``, ``approx``, ``compute_range``, ``teacher_loss``, ``loss_kind``,
        ``extrapolation`` (per row, each input's ``value, min, max, fold``; empty dicts for a
        fit without runs) and ``draws``: per row, each draw's crossover (NaN for none), in the
        order of the posterior's draws.

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit, or ``student_params`` is not numeric.
    ValueError
        For a fit of another law, an unknown scenario, ``ci_prob`` outside (0, 1), a student
        outside ``bounds``, a bad ``compute_range`` or one with no budgets that can train a
        student, a ``teacher_loss`` outside the plausible range of losses, or a
        ``teacher_loss`` with a scenario that pays for the teacher's logits.

    Warns
    -----
    ExtrapolationWarning
        Once per call, when the student or its tokens at the median crossover lie beyond the
        distillation runs by more than
        :data:`~bayes_distill.extrapolation.COUNT_FOLD_LIMIT` (10) times. Never for a fit
        without runs.

    Notes
    -----
    The search is vectorised over draws, as in :func:`recommend`: at every budget of a grid of
    4 per decade each draw's optimal allocation is found by a coarse grid over the teachers the
    budget affords and a compass search (started also from the draw's optimum at the previous
    budget); the first budget lost after a win brackets the crossover, which 12 bisection
    steps in log compute narrow to 1.4e-4 (0.01%). A draw that wins, loses and wins again
    within a quarter decade is not resolved. Checked against ``scipy.optimize.brentq`` on a
    SciPy minimisation per draw, the crossovers agree to 1e-4 (relative). On the shipped
    posterior (8000 draws) a student takes about 2 s in ``best_case`` and ``teacher_inference``
    and 7 s in the scenarios that choose the teacher's size and tokens.

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
    b = _check_bounds(bounds)
    sizes = _check_students(student_params, b)
    scenario = _check_scenario(scenario)
    ci_prob = _validate.probability("ci_prob", ci_prob, "e.g. ci_prob=0.9 for a 90% interval.")
    approx = _check_approx(approx)
    c_lo, c_hi = _check_compute_range(compute_range)
    teacher: dict[str, float] = {}
    if teacher_loss is not None:
        teacher["L_T"] = _check_teacher_loss(teacher_loss)
        if _compute.SCENARIOS[scenario][0]:
            raise ValueError(
                f"scenario {scenario!r} pays for the teacher's logits, which needs the teacher's "
                "size; crossover takes an existing teacher by its loss only: use "
                "scenario='best_case' (its logits stored or free) or leave teacher_loss out."
            )

    sup, dist, sup_student = _distillation_law_params(fit)
    n_grid = math.ceil(math.log10(c_hi / c_lo) * _XOVER_PER_DECADE - 1e-9) + 1
    budgets = np.geomspace(c_lo, c_hi, max(n_grid, 2))
    # every student is checked before anything is computed
    grids = [
        _crossover_grid(sup, dist, float(n), budgets, scenario, teacher, approx, b, sup_student)
        for n in sizes
    ]

    ranges = _extrap.fitted_ranges(fit)
    rows, reports, draws = [], [], []
    counter = _sweep_counter("crossover: student", len(sizes))
    for N_S, grid in zip(sizes, grids, strict=True):
        row, report, per_draw = _crossover_row(float(N_S), grid, ci_prob, ranges)
        rows.append(row)
        reports.append(report)
        draws.append(per_draw)
        counter.step()
    counter.close()
    frame = pd.DataFrame(rows)
    frame.attrs.update(
        {
            "scenario": scenario,
            "ci_prob": ci_prob,
            "approx": approx,
            "compute_range": (c_lo, c_hi),
            "teacher_loss": teacher.get("L_T"),
            "loss_kind": "mean law (epistemic; no run-to-run noise)",
            "extrapolation": [_extrap._to_json(r) for r in reports],
            "draws": draws,
        }
    )
    _extrap._warn(
        _extrap._stack(reports),
        "distillation",
        where=[f"student_params={n:.3g}" for n in sizes] if len(sizes) > 1 else None,
        what="students",
    )
    return frame


# --------------------------------------------------------------------------------------------
# distil or train: the map over student sizes and budgets

#: Default grid of :func:`distill_or_train`: student sizes and budgets, log-spaced.
DEFAULT_MAP_STUDENTS: tuple[float, float, int] = (1e8, 1e11, 25)
DEFAULT_MAP_COMPUTE: tuple[float, float, int] = (1e19, 1e26, 25)
# rounds of the compass search of each draw at each budget of the map: against 24 rounds on
# the shipped posterior, the gaps agree to 1e-4 nats (5e-6 for the posterior's median gap)
_MAP_ROUNDS = 10


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

    For every student size ``N_S``, budget ``C`` and posterior draw ``s`` the *gap* is the loss
    of the best distilled student the budget buys in ``scenario`` (the draw's own optimal
    allocation, as :attr:`Recommendation.per_draw`'s ``loss_optimal`` and :func:`crossover`),
    minus the loss of the same student trained on data with the whole budget,
    ``C / (3 F(N_S))`` tokens:
    ``gap_s = min_x L_S^(s)(x; C) - L^(s)(N_S, C / (3 F(N_S)))`` (nats/token, mean law: no
    run-to-run noise). Distillation is better where the gap is negative. Each cell reports the
    share of draws where it is, the gap's median and interval, and the same gap under the
    paper's coefficients (Busbridge et al. 2025, Table 6) as a point answer, so that the
    boundary of the posterior (``p_distillation_better = 0.5``) can be drawn beside the
    paper's (``paper_gap = 0``). :func:`bayes_distill.plots.distill_map` draws this table.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    scenario : str, default "teacher_pretraining"
        What the budget pays for, as in :func:`recommend`: ``"best_case"``,
        ``"teacher_inference"``, ``"teacher_pretraining"`` or ``"pretraining_and_inference"``.
    student_params : array_like, optional
        Student sizes ``N_S`` (within ``bounds``); default 25 log-spaced from 1e8 to 1e11.
    compute : array_like, optional
        Budgets in FLOPs; default 25 log-spaced from 1e19 to 1e26.
    ci_prob : float, default 0.9
        Probability of the gap's equal-tailed interval.
    bounds : (float, float) or dict, default (1e6, 1e17)
        Bounds on parameters and tokens, as in :func:`recommend`.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`.
    max_draws : int or None, default 400
        Use at most this many posterior draws (evenly thinned; the share of draws in a cell
        then has a Monte Carlo standard error of at most 0.025); None uses every draw.

    Returns
    -------
    pandas.DataFrame
        One row per cell (student sizes outer, budgets inner, both ascending):
        ``student_params``, ``compute``, ``supervised_tokens_per_param`` (the supervised
        student's tokens per parameter, ``C / (3 F(N_S)) / N_S``: below 1 the student sees
        each parameter's worth of data less than once, far from any fitted run);
        ``p_distillation_better`` (share of draws with a
        negative gap) and ``p_distillation_better_by_margin`` (a gap below
        ``-DECISION_MARGIN``, 0.01 nats: smaller differences are ties); ``gap_median``,
        ``gap_lower``, ``gap_upper``; ``distilled_loss_median`` and ``supervised_loss_median``;
        ``paper_gap`` and ``paper_distill`` (``paper_gap < 0``) under the paper's
        coefficients; ``n_draws``, the draws where both losses are finite. A cell whose budget
        cannot train the student within ``bounds`` (distilled in the scenario, or supervised)
        has NaN values and ``n_draws = 0``. ``attrs`` records ``scenario``, ``ci_prob``,
        ``approx``, ``loss_kind`` and ``draws_used``.

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit, or a grid is not numeric.
    ValueError
        For a fit of another law, an unknown scenario, ``ci_prob`` outside (0, 1), a student
        outside ``bounds``, a non-positive budget or ``max_draws``.

    Notes
    -----
    Each draw's optimum is searched as in :func:`crossover`, the draws of a cell side by side:
    the coarse grid of :func:`recommend` over the teachers the budget affords and the draw's
    optimum at the budget below, then 10 rounds of compass search with Newton steps (the gaps
    agree with 24 rounds to 1e-4 nats). On the shipped posterior thinned to 400 draws, the
    default 25 x 25 grid takes about 6 s of CPU in ``best_case``, 14 s in
    ``teacher_inference`` and 22 s in the scenarios that choose the teacher's size and tokens
    (``benchmarks/distill_map_speed.py``). No warning is given for cells beyond the fitted
    runs: most of a map lies there on purpose.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> grid = bd.distill_or_train(fit, "best_case", student_params=[1e9], compute=[1e20, 1e24])
    >>> grid[["compute", "p_distillation_better", "paper_distill"]].values.tolist()
    [[1e+20, 1.0, True], [1e+24, 0.0, False]]
    """
    _validate.fit(fit, ("distillation",), "distill_or_train")
    b = _check_bounds(bounds)
    lo, hi, n = DEFAULT_MAP_STUDENTS
    sizes = np.sort(
        _check_students(np.geomspace(lo, hi, n) if student_params is None else student_params, b)
    )
    lo, hi, n = DEFAULT_MAP_COMPUTE
    budgets = np.sort(_check_budgets(np.geomspace(lo, hi, n) if compute is None else compute)[0])
    scenario = _check_scenario(scenario)
    ci_prob = _validate.probability("ci_prob", ci_prob, "e.g. ci_prob=0.9 for a 90% interval.")
    approx = _check_approx(approx)
    max_draws = _validate.max_draws(max_draws)
    sup, dist, sup_student = _distillation_law_params(fit)
    S = fit.n_samples
    if max_draws is not None and S > max_draws:
        keep = np.linspace(0, S - 1, int(max_draws)).round().astype(int)
        sup = {k: v[keep] for k, v in sup.items()}
        dist = {k: v[keep] for k, v in dist.items()}
    paper_sup, paper_dist, _ = _distillation_law_params(_paper_fit())
    sets = [(sup, dist, sup_student), (paper_sup, paper_dist, None)]
    rows = []
    counter = _sweep_counter("distill_or_train: student", len(sizes))
    for N_S in sizes:
        posterior, paper = _map_losses(sets, float(N_S), budgets, scenario, approx, b)
        (dist_loss, sup_loss), (paper_dist_loss, paper_sup_loss) = posterior, paper
        rows.extend(
            _map_row(N_S, c, d, s, pd_, ps_, ci_prob)
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
    frame.attrs.update(
        {
            "scenario": scenario,
            "ci_prob": ci_prob,
            "approx": approx,
            "loss_kind": "mean law (epistemic; no run-to-run noise)",
            "draws_used": int(next(iter(sup.values())).shape[0]),
        }
    )
    return frame


def _map_row(N_S, C, dist_loss, sup_loss, paper_dist, paper_sup, ci_prob) -> dict[str, Any]:
    """One cell of :func:`distill_or_train` from the per-draw losses (NaN where infeasible)."""
    gap = dist_loss - sup_loss
    ok = np.isfinite(gap)
    row: dict[str, Any] = {"student_params": float(N_S), "compute": float(C)}
    if ok.any():
        g = gap[ok]
        s = _interval(g, ci_prob)
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


def _map_losses(
    laws_: list[tuple[dict, dict, dict | None]], N_S, budgets, scenario, approx, b: _Bounds
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each set of law parameters ``(sup, dist, sup_student)`` of ``laws_``, per budget and
    draw, the best distilled student's loss and the supervised student's (mean law,
    nats/token): two ``(B, S)`` arrays, NaN where the budget cannot train the student within
    the bounds (distilled in the scenario, or supervised).

    Budgets are searched upwards, each draw from the best of the budget's coarse grid of
    feasible teachers (:meth:`_Problem.coarse_grid`, the grid of :func:`recommend`) and its
    optimum at the budget below, then by :data:`_MAP_ROUNDS` rounds of :func:`_compass`. A
    budget's box of teachers depends on the budget, not on the law (except in ``best_case``,
    where it is cheap to build), so it is built once for every set.
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
                if p is None or scenario == "best_case":
                    p = _build_problem(
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
                out[i][1][j] = np.exp(_log_sup(sup, p.log_NS, math.log(D_sup))[:, 0])
    for losses in out:
        for a in losses:
            a[~np.isfinite(a)] = np.nan
    return out


def _map_search(p: _Problem, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's optimal log student loss in ``p`` and where it lies, ``(S,)`` and ``(S, d)``,
    from the best of the coarse grid and ``previous`` (each draw's optimum at another budget)."""
    S = next(iter(p.sup.values())).shape[0]
    grid = p.coarse_grid()
    cand = np.broadcast_to(grid[None], (S, *grid.shape))
    if previous is not None:
        cand = np.concatenate([cand, np.clip(previous, p.lo_u, p.hi_u)[:, None, :]], axis=1)
    if cand.shape[1] == 0:
        return np.full((S, p.dim), np.nan), np.full(S, np.inf)
    m = p.log_loss(cand)
    k = np.argmin(m, axis=1)
    r = np.arange(S)
    step = p.grid_spacing() / 2
    return _compass(p.log_loss, cand[r, k], m[r, k], step, p.lo_u, p.hi_u, _MAP_ROUNDS)
