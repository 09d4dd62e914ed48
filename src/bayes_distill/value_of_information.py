"""Value of information: which training run to do next, for the decision :func:`recommend` makes.

:func:`next_run` ranks candidate runs (supervised runs, or distillation runs from an existing or
a newly trained teacher) by how much each is expected to improve the decision "how to spend
``compute`` on a student of ``student_params`` parameters", per FLOP the run costs.

The method (preposterior analysis)
----------------------------------
1. The decisions. For every posterior draw ``s`` and every candidate decision ``k`` the student's
   loss is computed once: the allocations of :func:`recommend`'s coarse grid at the budget it
   spends, its recommended allocation and its neighbours at 1/3, 1/9 and 1/27 of the grid
   spacing (so that the decision can follow the small moves one run causes), and "train the
   student on data with the whole budget" (the supervised baseline). ``l[s, k]`` is the law's
   loss (no run noise) and ``y[s, k]`` the predictive loss with the same noise draw per draw as
   :func:`recommend` uses (common random numbers). The decision under draw weights ``w``
   minimises the weighted ``1 - risk_tolerance`` quantile of ``y[:, k]`` (with equal weights
   this is :func:`recommend`'s choice, on this discrete set of decisions).
2. The outcomes. For each candidate run, ``n_outcomes`` outcomes are simulated from the
   posterior predictive: a draw ``s_m`` is picked (without replacement) and the run's log loss
   is drawn from the observation model under it (a trained teacher's loss first, then the
   student's given that teacher loss).
3. The update. The posterior after outcome ``m`` keeps the same draws with importance weights
   ``w_s`` proportional to the likelihood of the outcome under draw ``s``, Pareto-smoothed
   (PSIS, :mod:`arviz_stats`). Each outcome's Pareto ``k`` and effective number of draws say
   whether the weights can be trusted: with ``k`` above 0.7 or fewer than 100 effective draws
   the reweighted posterior rests on too few draws. Such a candidate is valued instead from
   short refits of the fit with the run added (``refit="auto"``; :mod:`.outcome_refits`): one
   NUTS fit of a few hundred draws for each of its first ``refit_outcomes`` outcomes, within
   ``max_refits`` per call. A candidate beyond that cap, or whose fit cannot be refitted, is
   marked ``"cannot tell"``.
4. The value. The decision is recomputed under each outcome's weights (or on each refit's
   draws). The reduction of the expected regret is ``E[l(k0)] - E[l(k*)]`` under the updated
   posterior, averaged over the outcomes (``k0`` the current decision, ``k*`` the decision
   after the outcome; the per-draw best decision cancels in expectation), and the reduction of
   the loss at risk is the current loss at risk minus its average after the outcome.
5. The ranking. A value counts as clear when it exceeds :data:`CLEAR_SE` times its Monte Carlo
   standard error. Clear values rank first, by value per FLOP; a value within its error says
   nothing about whether the run helps, so however cheap that run is it ranks after them, by
   the value per FLOP its error leaves possible (``(value + CLEAR_SE * value_se) / flops``,
   which puts runs that changed the decision after no outcome last, the cheapest first); the
   ``"cannot tell"`` rows come last, ordered the same way.

Expected regret is the regret against the best of the candidate decisions for each draw (a
discrete set, so it is slightly below :func:`recommend`'s continuous ``regret``). A refit's
value carries the Monte Carlo error of its short chains as well; its loss at risk is read from
its own draws, so the reduction of the loss at risk of a refitted run also holds the difference
between a short refit's and the fit's quantile estimates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import allocation as _allocation
from . import compute as _compute
from . import model as _model
from . import outcome_refits as _outcome_refits
from . import risk as _risk
from . import validate as _validate
from ._keywords import check_keywords
from .data import DataValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = ["CLEAR_SE", "MIN_ESS", "PARETO_K_THRESHOLD", "next_run"]

#: Pareto ``k`` above which importance weights are not trusted (the PSIS rule of thumb for
#: posteriors of a few thousand draws).
PARETO_K_THRESHOLD = 0.7

#: Effective number of draws (``1 / sum w^2``) below which reweighted draws are not trusted
#: either: the Pareto ``k`` only sees heavy tails, and a run that pins the posterior down to
#: a few draws has light-tailed weights with a small ``k`` but too few draws to decide on.
MIN_ESS = 100

#: A value counts as clear of its Monte Carlo error when ``value > CLEAR_SE * value_se``
#: (about a 2.5% one-sided chance for a run of no value to look clear by chance).
CLEAR_SE = 2.0

#: Gauss-Hermite nodes that integrate a new model size's discrepancy offset out of a
#: supervised run's likelihood.
_GAUSS_HERMITE_NODES = 16

#: Steps (fractions of the coarse grid's spacing) of the neighbours of the recommended
#: allocation among the decisions. An outcome moves the best allocation by a small fraction of
#: the grid spacing; with neighbours at a third of it only, the decision could not follow and
#: most runs got a value of exactly zero. Steps down to 1/27 let it follow.
_NEIGHBOUR_STEPS = (1 / 3, 1 / 9, 1 / 27)

_OBJECTIVES = ("regret", "at_risk")
_REFIT_MODES = ("auto", "never")
_COLUMNS = ("name", "kind", "N", "D", "N_S", "D_S", "N_T", "D_T", "L_T")


# --------------------------------------------------------------------------------------------
# candidate runs


def _positive_column(frame: pd.DataFrame, col: str, rows: np.ndarray) -> None:
    values = frame.loc[rows, col]
    bad = values[~(values.astype(float) > 0) | ~np.isfinite(values.astype(float))]
    if len(bad):
        i = bad.index[0]
        raise ValueError(
            f"candidates row {i} ({frame.at[i, 'kind']} run) needs a positive, finite {col!r}; "
            f"got {frame.at[i, col]!r}."
        )


def _check_candidates(candidates: Any) -> pd.DataFrame:
    """The candidate runs as a new DataFrame with the columns of :data:`_COLUMNS`."""
    if isinstance(candidates, pd.DataFrame):
        frame = candidates.copy()
    elif isinstance(candidates, Mapping):
        frame = pd.DataFrame(dict(candidates))
    else:
        try:
            frame = pd.DataFrame(list(candidates))
        except TypeError:
            raise TypeError(
                "candidates must be a DataFrame, a mapping of columns or a list of dicts (one "
                f"per run), got {type(candidates).__name__}."
            ) from None
    if len(frame) == 0:
        raise ValueError("candidates is empty: give at least one candidate run.")
    unknown = [c for c in frame.columns if c not in _COLUMNS]
    if unknown:
        raise ValueError(
            f"candidates has unknown column(s) {unknown}; the columns are {list(_COLUMNS)}."
        )
    frame = frame.reset_index(drop=True)
    for col in _COLUMNS[2:]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    default_kind = pd.Series(np.where(frame["N_S"].notna(), "distillation", "supervised"))
    frame["kind"] = frame["kind"].fillna(default_kind) if "kind" in frame else default_kind
    bad_kind = ~frame["kind"].isin(["supervised", "distillation"])
    if bad_kind.any():
        i = int(np.flatnonzero(bad_kind)[0])
        raise ValueError(
            f"candidates row {i} has kind={frame.at[i, 'kind']!r}; use 'supervised' (columns N, "
            "D) or 'distillation' (N_S, D_S, N_T and L_T of an existing teacher, or N_T and D_T "
            "of a teacher trained for the run)."
        )
    sup = frame.index[frame["kind"] == "supervised"].to_numpy()
    dist = frame.index[frame["kind"] == "distillation"].to_numpy()
    for col in ("N", "D"):
        _positive_column(frame, col, sup)
    for col in ("N_S", "D_S", "N_T"):
        _positive_column(frame, col, dist)
    trained = dist[frame.loc[dist, "L_T"].isna().to_numpy()]
    _positive_column(frame, "D_T", trained)
    _positive_column(frame, "L_T", dist[frame.loc[dist, "L_T"].notna().to_numpy()])
    names = frame["name"] if "name" in frame else pd.Series([None] * len(frame))
    frame["name"] = [
        _default_name(r) if pd.isna(n) else str(n)
        for n, (_, r) in zip(names, frame.iterrows(), strict=True)
    ]
    return frame[list(_COLUMNS)]


def _default_name(row: pd.Series) -> str:
    if row["kind"] == "supervised":
        return f"supervised N={row['N']:.3g} D={row['D']:.3g}"
    teacher = (
        f"L_T={row['L_T']:.3g}"
        if np.isfinite(row["L_T"])
        else f"new teacher N_T={row['N_T']:.3g} D_T={row['D_T']:.3g}"
    )
    return f"distil N_S={row['N_S']:.3g} D_S={row['D_S']:.3g} from {teacher}"


def run_flops(row: Mapping[str, Any], approx: str = "paper") -> float:
    """FLOPs of one candidate run.

    Parameters
    ----------
    row : mapping
        A row of the candidates table of :func:`next_run` (``kind`` and its inputs; ``L_T`` NaN
        for a teacher trained for the run).
    approx : {"paper", "2N"}
        See :func:`bayes_distill.compute.forward_flops`.

    Returns
    -------
    float
        Training (``3 F(N) D``); for a distillation run also the teacher's logits on the
        student's tokens, plus the teacher's pretraining when it is trained for the run.
    """
    if row["kind"] == "supervised":
        phases = _compute.flops_by_phase(row["N"], row["D"], scenario="supervised", approx=approx)
    elif np.isfinite(row["L_T"]):
        phases = _compute.flops_by_phase(
            row["N_S"], row["D_S"], N_T=row["N_T"], scenario="teacher_inference", approx=approx
        )
    else:
        phases = _compute.flops_by_phase(
            row["N_S"],
            row["D_S"],
            N_T=row["N_T"],
            D_T=row["D_T"],
            scenario="pretraining_and_inference",
            approx=approx,
        )
    return float(sum(phases.values()))


# --------------------------------------------------------------------------------------------
# the observation model of a new run, per draw


def _t_or_normal_logpdf(fit: ScalingFit, y, loc, scale) -> np.ndarray:
    """Log density of the fit's run noise (Student-t or Normal) at ``y``, broadcast."""
    z = (y - loc) / scale
    if fit.dt.attrs.get("likelihood", "student_t") == "student_t":
        nu = _model.STUDENT_T_NU
        const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
        return const - np.log(scale) - (nu + 1) / 2 * np.log1p(z * z / nu)
    return -0.5 * z * z - np.log(scale) - 0.5 * math.log(2 * math.pi)


def _unit_noise(fit: ScalingFit, rng: np.random.Generator, size: int) -> np.ndarray:
    if fit.dt.attrs.get("likelihood", "student_t") == "student_t":
        return rng.standard_t(_model.STUDENT_T_NU, size=size)
    return rng.standard_normal(size)


def _supervised_noise_params(fit: ScalingFit, N: float):
    """Scale of a supervised run's noise ``(S,)``, its size offset ``(S,)`` when the size was
    fitted (else None), and the spread ``tau (S,)`` of a new size's offset (else None)."""
    post = fit.posterior
    sigma = fit.draws["sigma_supervised" if "sigma_supervised" in post else "sigma"][:, 0]
    if "tau_supervised_size" not in post:
        return sigma, None, None
    tau = fit.draws["tau_supervised_size"][:, 0]
    groups = None if fit._inputs is None else fit._inputs.supervised_groups
    if groups is not None and "z_supervised_size" in post:
        g = int(groups.lookup(np.array([math.log(N)]), _model.GROUP_TOLERANCE)[0])
        if g >= 0:
            return sigma, tau * fit.draws["z_supervised_size"][:, g], None
    return sigma, None, tau


def supervised_loglik(fit: ScalingFit, N: float, D: float, y: np.ndarray) -> np.ndarray:
    """Log-likelihood ``(S, M)`` of log losses ``y (M,)`` of a supervised run at ``(N, D)``
    under each draw: the supervised law, the size's discrepancy offset (the fitted one at a
    fitted size; a new size's offset ``Normal(0, tau)`` integrated out by Gauss-Hermite
    quadrature) and the run noise."""
    mu = fit.log_supervised_mean(N, D)[:, None]
    sigma, offset, tau = _supervised_noise_params(fit, N)
    y = np.asarray(y, float)[None, :]
    if offset is not None:
        mu = mu + offset[:, None]
    if tau is None:
        return _t_or_normal_logpdf(fit, y, mu, sigma[:, None])
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GAUSS_HERMITE_NODES)
    loc = mu[..., None] + tau[:, None, None] * nodes
    parts = _t_or_normal_logpdf(fit, y[..., None], loc, sigma[:, None, None])
    log_w = np.log(weights / weights.sum())
    return np.logaddexp.reduce(parts + log_w, axis=-1)


def _supervised_simulate(fit, N: float, D: float, draws: np.ndarray, rng) -> np.ndarray:
    """Log losses ``(M,)`` of a supervised run at ``(N, D)``, one under each draw of ``draws``."""
    mu = fit.log_supervised_mean(N, D)[draws]
    sigma, offset, tau = _supervised_noise_params(fit, N)
    out = mu + sigma[draws] * _unit_noise(fit, rng, len(draws))
    if offset is not None:
        out = out + offset[draws]
    if tau is not None:
        out = out + tau[draws] * rng.standard_normal(len(draws))
    return out


def _distillation_mean_scale(fit, N_S: float, D_S: float, L_T: np.ndarray):
    """Law ``(S, M)`` and noise scale ``(S, M)`` of a distillation run with teacher losses
    ``L_T (M,)``."""
    L_T = np.asarray(L_T, float)
    shape = L_T.shape
    N_S_arr, D_S_arr = np.full(shape, float(N_S)), np.full(shape, float(D_S))
    with np.errstate(all="ignore"):
        mu = fit.log_mean(N_S=N_S_arr, D_S=D_S_arr, L_T=L_T)
    logs = {"log_NS": np.log(N_S_arr), "log_DS": np.log(D_S_arr), "log_LT": np.log(L_T)}
    scale = np.broadcast_to(fit.model.noise_scale_at(fit.draws, shape, logs, mu), mu.shape)
    return mu, scale


def distillation_loglik(
    fit: ScalingFit, N_S: float, D_S: float, L_T: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Log-likelihood ``(S, M)`` of student log losses ``y (M,)`` of distillation runs of a
    student ``(N_S, D_S)`` from teachers of losses ``L_T (M,)``, under each draw."""
    mu, scale = _distillation_mean_scale(fit, N_S, D_S, L_T)
    return _t_or_normal_logpdf(fit, np.asarray(y, float)[None, :], mu, scale)


def _simulate_outcomes(fit, row: pd.Series, draws: np.ndarray, rng) -> dict[str, np.ndarray]:
    """Simulate the run of ``row`` once under each draw of ``draws`` (the posterior
    predictive): the run's log loss ``y (M,)``; for a distillation run also the teacher's
    loss ``L_T (M,)`` and, for a teacher trained for the run, its log loss ``y_T (M,)``."""
    if row["kind"] == "supervised":
        return {"y": _supervised_simulate(fit, row["N"], row["D"], draws, rng)}
    out = {}
    if np.isfinite(row["L_T"]):
        out["L_T"] = np.full(len(draws), float(row["L_T"]))
    else:  # the teacher is trained first: its loss is an outcome too
        out["y_T"] = _supervised_simulate(fit, row["N_T"], row["D_T"], draws, rng)
        out["L_T"] = np.exp(out["y_T"])
    mu, scale = _distillation_mean_scale(fit, row["N_S"], row["D_S"], out["L_T"])
    m = np.arange(len(draws))
    out["y"] = mu[draws, m] + scale[draws, m] * _unit_noise(fit, rng, len(draws))
    return out


def _outcome_loglik(fit, row: pd.Series, outcomes: Mapping[str, np.ndarray]) -> np.ndarray:
    """The log-likelihood ``(S, M)`` of simulated outcomes under every draw."""
    if row["kind"] == "supervised":
        return supervised_loglik(fit, row["N"], row["D"], outcomes["y"])
    loglik = 0.0
    if "y_T" in outcomes:
        loglik = supervised_loglik(fit, row["N_T"], row["D_T"], outcomes["y_T"])
    return loglik + distillation_loglik(fit, row["N_S"], row["D_S"], outcomes["L_T"], outcomes["y"])


def psis_weights(loglik: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed importance weights ``(M, S)`` (each row sums to 1) and Pareto ``k (M,)``
    for log-likelihoods ``(S, M)`` of ``M`` outcomes under ``S`` posterior draws.

    Draws where the log-likelihood is not finite get no weight. An outcome equally likely under
    every draw keeps equal weights, with ``k`` NaN (there is no tail to fit).
    """
    import arviz_stats  # noqa: F401  (registers the ``.azstats`` accessor used below)
    import xarray as xr

    lw = np.array(loglik, dtype=float).T
    finite = np.isfinite(lw)
    floor = np.min(np.where(finite, lw, np.inf), axis=1, keepdims=True) - 800.0
    lw = np.where(finite, lw, floor)
    lw = lw - lw.max(axis=1, keepdims=True)
    flat = np.ptp(lw, axis=1) < 1e-12
    w = np.full(lw.shape, 1.0 / lw.shape[1])
    khat = np.full(len(lw), np.nan)
    if np.any(~flat):
        # ``psislw`` takes the log-likelihood of leave-one-out (weights 1 / p): the weights of a
        # new observation (p) are those of minus its log-likelihood
        da = xr.DataArray(-lw[~flat], dims=("outcome", "sample"))
        log_w, k = da.azstats.psislw(dim="sample")
        log_w = log_w.transpose("outcome", "sample").values
        ww = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        w[~flat] = ww / ww.sum(axis=1, keepdims=True)
        khat[~flat] = np.asarray(k.values, float)
    return w, khat


# --------------------------------------------------------------------------------------------
# the decisions


@dataclass
class _Decisions:
    """The student's loss under each draw and decision: law ``loss (S, K)``, predictive
    ``pred (S, K)`` (sorted per column as ``pred_sorted``, in draw order ``order``), the labels
    of the decisions, the quantile ``q`` and the draws kept (``valid``)."""

    loss: np.ndarray
    pred: np.ndarray
    labels: list[str]
    q: float
    valid: np.ndarray

    def __post_init__(self) -> None:
        self.order = np.argsort(self.pred, axis=0, kind="stable")
        self.pred_sorted = np.take_along_axis(self.pred, self.order, axis=0)

    def quantiles(self, w: np.ndarray) -> np.ndarray:
        """The weighted ``q`` quantile of each decision's predictive loss ``(K,)``.

        Each draw sits at the middle of its share of the weight (``F = cumulative weight -
        w / 2``; with equal weights, NumPy's ``method="hazen"``) and the quantile is
        interpolated between draws. Taking the first draw whose cumulative weight reaches ``q``
        instead would read a level about ``1 / (2 ESS)`` too high when the weights are unequal,
        so a reweighted posterior would look riskier than the current one for no reason.
        """
        if np.all(w > 0):
            ws, values = w[self.order], self.pred_sorted
        else:  # draws without weight are left out (sorted again: rare)
            keep = w > 0
            order = np.argsort(self.pred[keep], axis=0, kind="stable")
            ws = w[keep][order]
            values = np.take_along_axis(self.pred[keep], order, axis=0)
        cw = np.cumsum(ws, axis=0)
        pos = (cw - 0.5 * ws) / cw[-1]
        cols = np.arange(self.pred.shape[1])
        j = np.clip(np.sum(pos < self.q, axis=0), 1, max(len(ws) - 1, 1))
        if len(ws) == 1:
            return values[0]
        lo, hi = pos[j - 1, cols], pos[j, cols]
        v_lo, v_hi = values[j - 1, cols], values[j, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip((self.q - lo) / (hi - lo), 0.0, 1.0)
        t = np.where(hi > lo, t, 0.0)
        return v_lo + t * (v_hi - v_lo)

    def choose(self, w: np.ndarray) -> tuple[int, float]:
        """The decision minimising the weighted loss at risk, and that loss at risk."""
        qs = self.quantiles(w)
        k = int(np.argmin(qs))
        return k, float(qs[k])


def _decision_set(p, x_q: np.ndarray) -> np.ndarray:
    """The coarse grid of problem ``p``, its optimum ``x_q`` and ``x_q``'s neighbours on a
    ``3**d`` stencil at each of :data:`_NEIGHBOUR_STEPS` of the grid spacing: ``(K, d)``
    (repeated points once)."""
    if p.dim == 0:
        return np.zeros((1, 0))
    offsets = np.array(list(np.ndindex(*(3,) * p.dim)), float) - 1.0  # 3**d stencil
    near = [
        np.clip(x_q + offsets * p.grid_spacing() * step, p.lo_u, p.hi_u)
        for step in _NEIGHBOUR_STEPS
    ]
    points = np.concatenate([p.coarse_grid(), *near])
    _, first = np.unique(points, axis=0, return_index=True)
    return points[np.sort(first)]


@dataclass
class _DecisionSet:
    """The candidate decisions (``cand (K - 1, d)`` of the search problem ``p``, then the
    supervised baseline of ``D_sup`` tokens), how they are priced and the seeds of their
    predictive noise: evaluates them under any fit's draws."""

    p: Any
    cand: np.ndarray
    D_sup: float
    scenario: str
    ratio: tuple[float, float]
    seeds: tuple[np.random.SeedSequence, np.random.SeedSequence]

    def problem(self, fit: ScalingFit):
        """The search problem of this budget and student under ``fit``'s draws."""
        sup, dist, sup_student = _allocation.distillation_law_params(fit)
        p = self.p
        return _allocation.build_problem(
            sup,
            dist,
            p.N_S,
            p.compute,
            self.scenario,
            {},
            p.approx,
            p.bounds,
            sup_student,
            1,
            self.ratio,
        )

    def losses(self, fit: ScalingFit, p=None) -> tuple[np.ndarray, np.ndarray]:
        """The law's loss and the predictive loss ``(S, K)`` of every decision under each of
        ``fit``'s draws (``p``: the problem under those draws, when it is built already)."""
        p = self.problem(fit) if p is None else p
        noise = _allocation.StudentNoise(fit, self.seeds[0])
        eps_sup = _allocation.supervised_noise(fit, self.seeds[1])
        ev = p.evaluate(self.cand[None])
        m, e = ev[0], _risk.noise_at(p, noise, ev)
        m_sup = _allocation.log_supervised(p.sup, math.log(p.N_S), math.log(self.D_sup))[:, :1]
        m = np.concatenate([np.broadcast_to(m, (len(eps_sup), m.shape[1])), m_sup], axis=1)
        e = np.concatenate(
            [np.broadcast_to(e, (len(eps_sup), self.cand.shape[0])), eps_sup[:, None]], 1
        )
        with np.errstate(all="ignore"):
            return np.exp(m), np.exp(m + e)

    def under(self, fit: ScalingFit, ok_cols: np.ndarray, labels: list[str], q: float):
        """The decisions of columns ``ok_cols`` under ``fit``'s draws (those with finite
        losses), as :class:`_Decisions`."""
        loss, pred = self.losses(fit)
        loss, pred = loss[:, ok_cols], pred[:, ok_cols]
        valid = np.all(np.isfinite(loss) & np.isfinite(pred), axis=1)
        return _Decisions(loss[valid], pred[valid], labels, q, valid)


def _decisions(fit, budget: float, N_S: float, scenario: str, q: float, opts: dict) -> tuple:
    """The decisions, their losses per draw, and the decision set that evaluates them under
    other draws (the columns kept and the labels)."""
    b = _allocation.check_bounds(opts["bounds"])
    ratio = _validate.positive_pair(
        opts["teacher_tokens_per_param"],
        "teacher_tokens_per_param must be a pair (lower, upper) with 0 < lower < upper; got "
        f"{opts['teacher_tokens_per_param']!r}.",
    )
    sup, dist, sup_student = _allocation.distillation_law_params(fit)
    approx = opts["approx"]

    def build(c: float):
        return _allocation.build_problem(
            sup, dist, N_S, c, scenario, {}, approx, b, sup_student, 1, ratio
        )

    seed_student, seed_supervised = opts["seed"].spawn(2)
    noise = _allocation.StudentNoise(fit, seed_student)
    spend = _risk.BudgetCeiling(build, noise, q, scenario, [budget])
    p, searched = spend.best(budget)
    D_sup = float(_compute.supervised_tokens(budget, N_S, approx=approx))
    space = _DecisionSet(
        p, _decision_set(p, searched.x), D_sup, scenario, ratio, (seed_student, seed_supervised)
    )
    loss, pred = space.losses(fit, p)
    ok_cols = np.mean(np.isfinite(loss), axis=0) >= 0.99
    ok_cols[-1] = True
    loss, pred = loss[:, ok_cols], pred[:, ok_cols]
    valid = np.all(np.isfinite(loss) & np.isfinite(pred), axis=1)
    labels = [_label(p, x) for x in space.cand[ok_cols[:-1]]] + [
        f"supervised: D={D_sup:.3g} tokens (whole budget)"
    ]
    return _Decisions(loss[valid], pred[valid], labels, q, valid), (space, ok_cols)


def _label(p, x: np.ndarray) -> str:
    alloc = p.allocation(x)
    parts = [f"D_S={alloc['D_S']:.3g}"]
    if p.choice is _allocation.Choice.TEACHER_LOSS:
        parts.append(f"L_T={math.exp(x[0]):.3g}")
    if np.isfinite(alloc["N_T"]):
        parts.append(f"N_T={alloc['N_T']:.3g}")
    if np.isfinite(alloc["D_T"]):
        parts.append(f"D_T={alloc['D_T']:.3g}")
    return "distil: " + ", ".join(parts)


def _value(dec: _Decisions, w: np.ndarray, k0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For outcome weights ``w (M, S)``: the reduction of expected regret, the loss at risk
    after the update and the decision chosen, per outcome."""
    regret_cut, at_risk, chosen = np.empty(len(w)), np.empty(len(w)), np.empty(len(w), int)
    for i, wi in enumerate(w):
        k, at_risk[i] = dec.choose(wi)
        chosen[i] = k
        regret_cut[i] = wi @ dec.loss[:, k0] - wi @ dec.loss[:, k]
    return regret_cut, at_risk, chosen


# --------------------------------------------------------------------------------------------
# next_run


@check_keywords
def next_run(
    fit: ScalingFit,
    candidates: pd.DataFrame | Mapping[str, Any] | list[Mapping[str, Any]],
    *,
    compute: float,
    student_params: float,
    scenario: str = "teacher_pretraining",
    risk_tolerance: float = 0.1,
    objective: Literal["regret", "at_risk"] = "regret",
    n_outcomes: int = 32,
    bounds: tuple[float, float] | Mapping[str, tuple[float, float]] = _allocation.DEFAULT_BOUNDS,
    approx: Literal["paper", "2N"] = "paper",
    random_seed: int | None = 0,
    teacher_tokens_per_param: tuple[float, float] = _allocation.TEACHER_TOKENS_PER_PARAM,
    refit: Literal["auto", "never"] = "auto",
    refit_outcomes: int = 4,
    max_refits: int = 4,
) -> pd.DataFrame:
    """Rank candidate training runs by the value of their information for a decision, per FLOP.

    The decision is :func:`~bayes_distill.recommend`'s: how to spend ``compute`` FLOPs on a
    student of ``student_params`` parameters in ``scenario`` (distil, with which teacher and how
    many tokens, or train it on data), minimising the ``1 - risk_tolerance`` quantile of the
    predictive student loss. For each candidate run, outcomes are simulated from the posterior
    predictive, the posterior is updated by Pareto-smoothed importance reweighting of its draws
    (or by short refits where those cannot be trusted), the decision is made again, and the
    expected improvement is reported (the method and the ranking: the module docstring).

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit (e.g. ``bd.datasets.fitted("distillation")``).
    candidates : DataFrame, mapping of columns or list of dicts
        One row per candidate run. ``kind="supervised"``: ``N, D`` (a model of ``N`` parameters
        trained on ``D`` tokens; it informs the supervised law, i.e. the teacher's loss and the
        supervised baseline). ``kind="distillation"``: ``N_S, D_S, N_T`` and either ``L_T`` (an
        existing teacher of that loss; its logits are charged) or ``D_T`` (a teacher trained
        for the run; its pretraining and logits are charged, and its loss is observed too).
        ``kind`` defaults to distillation where ``N_S`` is given; ``name`` labels the rows.
    compute : float
        The budget (FLOPs) of the decision.
    student_params : float
        The student's non-embedding parameters ``N_S`` in the decision.
    scenario : str, default "teacher_pretraining"
        What the budget pays for, as in :func:`~bayes_distill.recommend`.
    risk_tolerance, bounds, approx, teacher_tokens_per_param
        As in :func:`~bayes_distill.recommend`.
    objective : {"regret", "at_risk"}, default "regret"
        What ``value`` measures and the ranking uses: the expected reduction of the decision's
        expected regret (nats/token), or of its loss at risk.
    n_outcomes : int, default 32
        Simulated outcomes per candidate (``value_se``: the Monte Carlo error of ``value``).
    random_seed : int or None, default 0
        Seed of the predictive noise, of the simulated outcomes and of the refits (the same
        random numbers serve every candidate); None draws fresh ones.
    refit : {"auto", "never"}, default "auto"
        A candidate whose reweighted draws cannot be trusted for some outcome (Pareto ``k``
        above :data:`PARETO_K_THRESHOLD` or fewer than :data:`MIN_ESS` effective draws) is
        valued from short refits of the fit with each of its first ``refit_outcomes`` outcomes
        added (``"auto"``, status ``"refit"``) or left ``"cannot tell"`` (``"never"``; also a
        fit without runs, :meth:`ScalingFit.from_params`, or a simulated loss the run tables
        refuse). A refit (2 chains of 200 draws) takes seconds on a few dozen runs, 10-20 s on
        the shipped posterior's 328 runs.
    refit_outcomes : int, default 4
        Outcomes (one refit each) per refitted candidate, at least 2.
    max_refits : int, default 4
        Refits per call at most (0: none): whole candidates, in the order their unreliable
        reweighted values rank them; the others stay ``"cannot tell"``.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first: the candidate's columns, ``flops``,
        ``regret_reduction`` and ``at_risk_reduction`` (expected over the outcomes; nats/token),
        ``value`` (the one of ``objective``), ``value_se`` (its Monte Carlo standard error),
        ``p_decision_changes`` (share of outcomes after which the decision changes),
        ``value_per_flop``, ``pareto_k`` (largest Pareto ``k`` of the reweighted draws over
        the outcomes; NaN when no outcome tells the draws apart), ``min_ess`` (smallest
        effective number of reweighted draws), ``share_unreliable`` (share of outcomes with
        ``k >`` :data:`PARETO_K_THRESHOLD` or fewer than :data:`MIN_ESS` effective draws),
        ``status`` (``"importance sampling"``, ``"refit"`` (valued from ``n_refits`` refits) or
        ``"cannot tell"`` (not refitted; its value is unreliable, usually too optimistic)),
        ``n_refits``, ``clear`` (``value > CLEAR_SE * value_se``) and ``rank``: the rows whose
        value is clear first, by ``value_per_flop``; then the other valued rows, then the
        ``"cannot tell"`` ones, both by ``(value + CLEAR_SE * value_se) / flops``; ties go to
        the cheaper run. ``attrs`` holds the current decision, its expected regret and loss at
        risk, and the settings.

    Raises
    ------
    TypeError
        If ``fit`` is not a ScalingFit or ``candidates`` is not a table.
    ValueError
        For a fit of another law, a bad candidate (unknown kind or column, a missing or
        non-positive input), a bad ``objective``, ``n_outcomes``, ``refit``,
        ``refit_outcomes`` or ``max_refits``, and the errors of :func:`recommend`.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("distillation")          # doctest: +SKIP
    >>> runs = [{"kind": "supervised", "N": 3e9, "D": 6e10},
    ...         {"N_S": 5e8, "D_S": 2e10, "N_T": 2.7e9, "L_T": 2.03}]
    >>> bd.next_run(fit, runs, compute=1e21, student_params=5e8)  # doctest: +SKIP
    """
    fit = _validate.fit(fit, ("distillation",), "next_run")
    frame = _check_candidates(candidates)
    C = _validate.positive("compute", compute, "e.g. compute=1e22.")
    N_S = _validate.positive("student_params", student_params, "e.g. student_params=1e9.")
    scenario = _validate.scenario(scenario)
    risk = _validate.probability(
        "risk_tolerance", risk_tolerance, "e.g. 0.1 to be 90% sure of the promised loss."
    )
    refits = _check_valuation(objective, n_outcomes, refit, refit_outcomes, max_refits)
    approx = _validate.approx(approx)
    seed = np.random.SeedSequence(_validate.random_seed(random_seed))
    opts = {"bounds": bounds, "approx": approx, "seed": seed}
    opts["teacher_tokens_per_param"] = teacher_tokens_per_param
    decisions = _decisions(fit, C, N_S, scenario, 1.0 - risk, opts)
    return _rank(fit, frame, decisions, objective, n_outcomes, seed.spawn(1)[0], approx, refits)


def _check_valuation(objective, n_outcomes, refit, refit_outcomes, max_refits) -> dict:
    """The valuation arguments of :func:`next_run`, checked: the refit settings."""
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective={objective!r}; use 'regret' or 'at_risk'.")
    if isinstance(n_outcomes, bool) or not isinstance(n_outcomes, int) or n_outcomes < 2:
        raise ValueError(f"n_outcomes must be an integer of at least 2, got {n_outcomes!r}.")
    if refit not in _REFIT_MODES:
        raise ValueError(
            f"refit={refit!r}; use 'auto' (refit candidates whose reweighted draws cannot be "
            "trusted) or 'never'."
        )
    return {
        "mode": refit,
        "outcomes": _validate.integer(
            "refit_outcomes", refit_outcomes, 2, hint="e.g. refit_outcomes=4."
        ),
        "max_refits": _validate.integer(
            "max_refits", max_refits, 0, hint="e.g. max_refits=4, or 0 for no refits."
        ),
    }


@dataclass
class _Valuation:
    """What every candidate is valued against: the decisions, the current decision ``k0``
    with its loss at risk, the objective and the simulated outcomes per candidate ``M``."""

    dec: _Decisions
    k0: int
    at_risk_now: float
    objective: str
    M: int

    def summary(self, regret_cut: np.ndarray, at_risk: np.ndarray, chosen: np.ndarray) -> dict:
        """The value columns from the per-outcome reductions and decisions."""
        at_risk_cut = self.at_risk_now - at_risk
        per_outcome = regret_cut if self.objective == "regret" else at_risk_cut
        return {
            "regret_reduction": float(np.mean(regret_cut)),
            "at_risk_reduction": float(np.mean(at_risk_cut)),
            "value": float(np.mean(per_outcome)),
            "value_se": float(np.std(per_outcome, ddof=1) / math.sqrt(len(per_outcome))),
            "p_decision_changes": float(np.mean(chosen != self.k0)),
        }


def _importance_row(fit, row: pd.Series, val: _Valuation, outcomes, approx: str) -> dict:
    """A candidate valued by reweighting the draws after each simulated outcome."""
    dec = val.dec
    loglik = _outcome_loglik(fit, row, outcomes)[dec.valid]
    w, khat = psis_weights(loglik)
    ess = 1.0 / np.sum(w * w, axis=1)
    high = (khat > PARETO_K_THRESHOLD) | (ess < MIN_ESS)
    flops = run_flops(row, approx)
    values = val.summary(*_value(dec, w, val.k0))
    return {
        **row.to_dict(),
        "flops": flops,
        **values,
        "value_per_flop": values["value"] / flops,
        "pareto_k": float(np.nanmax(khat)) if np.any(np.isfinite(khat)) else np.nan,
        "min_ess": float(np.min(ess)),
        "share_unreliable": float(np.mean(high)),
        "status": "cannot tell" if high.any() else "importance sampling",
        "n_refits": 0,
    }


def _refit_values(fit, row: pd.Series, val: _Valuation, outcomes, refits: dict) -> dict:
    """The value columns of a candidate from short refits with its first simulated outcomes
    added, one refit per seed of ``refits["seeds"]`` (the same seeds for every candidate);
    see :mod:`.outcome_refits`."""
    space, ok_cols = refits["space"]
    n = len(refits["seeds"])
    regret_cut, at_risk, chosen = np.empty(n), np.empty(n), np.empty(n, int)
    for i in range(n):
        outcome = {k: float(v[i]) for k, v in outcomes.items()}
        new = _outcome_refits.refit_with_run(fit, row, outcome, int(refits["seeds"][i]))
        dec = space.under(new, ok_cols, val.dec.labels, val.dec.q)
        uniform = np.full(len(dec.loss), 1.0 / len(dec.loss))
        chosen[i], at_risk[i] = dec.choose(uniform)
        regret_cut[i] = float(np.mean(dec.loss[:, val.k0] - dec.loss[:, chosen[i]]))
    values = val.summary(regret_cut, at_risk, chosen)
    return {**values, "status": "refit", "n_refits": n}


def _possible_per_flop(rows: pd.DataFrame) -> pd.Series:
    """The value per FLOP that a value's Monte Carlo error leaves possible:
    ``(value + CLEAR_SE * value_se) / flops``."""
    return (rows["value"] + CLEAR_SE * rows["value_se"]) / rows["flops"]


def _order(out: pd.DataFrame) -> pd.DataFrame:
    """The ranking: rows whose value clears its error first (by value per FLOP, then the
    cheaper run), then the rows whose value does not, then those that cannot tell (both by
    ``(value + CLEAR_SE * value_se) / flops``, then the cheaper run)."""
    group = np.where(out["status"] == "cannot tell", 2, np.where(out["clear"], 0, 1))
    key = np.where(group == 0, out["value_per_flop"], _possible_per_flop(out))
    return (
        out.assign(_group=group, _key=key)
        .sort_values(["_group", "_key", "flops"], ascending=[True, False, True], kind="stable")
        .drop(columns=["_group", "_key"])
        .reset_index(drop=True)
    )


def _rank(fit, frame, decisions, objective, n_outcomes, outcome_seed, approx, refit):
    """The table of :func:`next_run` (the decisions made, the candidates valued)."""
    dec, space = decisions
    S = int(dec.valid.sum())
    k0, at_risk_now = dec.choose(np.full(S, 1.0 / S))
    regret_now = float(np.mean(dec.loss[:, k0] - dec.loss.min(axis=1)))
    val = _Valuation(dec, k0, at_risk_now, objective, min(n_outcomes, S))
    rows, sims = [], []
    for _, row in frame.iterrows():
        rng = np.random.default_rng(outcome_seed)
        draws = np.flatnonzero(dec.valid)[rng.choice(S, size=val.M, replace=False)]
        sims.append(_simulate_outcomes(fit, row, draws, rng))
        rows.append(_importance_row(fit, row, val, sims[-1], approx))
    out = pd.DataFrame(rows)
    n_refit = min(refit["outcomes"], val.M)
    refit_seeds = outcome_seed.spawn(1)[0].generate_state(n_refit) % 2**31
    if refit["mode"] == "auto":
        # the failing candidates in the order their (unreliable) values would rank them
        failing = out[out["status"] == "cannot tell"]
        failing = failing.assign(_key=_possible_per_flop(failing)).sort_values(
            ["_key", "flops"], ascending=[False, True], kind="stable"
        )
        budget = refit["max_refits"]
        settings = {"space": space, "seeds": refit_seeds}
        for i in failing.index:
            if n_refit > budget or _outcome_refits.can_refit(fit, out.loc[i]) is not None:
                continue
            budget -= n_refit
            try:
                values = _refit_values(fit, frame.loc[i], val, sims[i], settings)
            except DataValidationError:
                continue  # a simulated loss the run tables refuse: it stays "cannot tell"
            for col, v in values.items():
                out.at[i, col] = v
            out.at[i, "value_per_flop"] = out.at[i, "value"] / out.at[i, "flops"]
    out["n_refits"] = out["n_refits"].astype(int)
    out["clear"] = out["value"] > CLEAR_SE * out["value_se"]
    out = _order(out)
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs.update(
        {
            "decision": dec.labels[k0],
            "expected_regret": regret_now,
            "loss_at_risk": at_risk_now,
            "objective": objective,
            "n_outcomes": val.M,
            "n_decisions": len(dec.labels),
            "n_draws": S,
            "pareto_k_threshold": PARETO_K_THRESHOLD,
            "min_ess_threshold": MIN_ESS,
            "clear_se": CLEAR_SE,
            "refit": refit["mode"],
            "refit_outcomes": n_refit,
            "max_refits": refit["max_refits"],
            "approx": approx,
        }
    )
    return out
