"""Build the PyMC model of a scaling law.

Observation model (all laws), on the log of the loss::

    log L_i = log L_law(x_i) + delta_i + eps_i
    eps_i   ~ StudentT(nu=4, 0, sigma_i)    (Normal with ``likelihood="normal"``)
    sigma_i = sigma (1 + lambda d_i^2) exp(-eta clip(u_i))   (``noise="distance"``, the default)
    delta_i = delta[size of run i],  delta ~ Normal(0, tau)   (``discrepancy="groups"``)

``eps`` is run-to-run noise; the Student-t plays the role of the papers' Huber loss.

Why more than independent noise. A scaling law is an approximation, and its errors are neither
independent nor equally large everywhere. Two things go wrong with i.i.d. noise, and each term
above answers one of them:

* Runs of one model size share a systematic deviation from the law. Treated as independent,
  240 runs look like 240 independent pieces of evidence and the exponents come out too
  certain. ``delta`` gives every model size a shared offset (``discrepancy="groups"``,
  ``delta = tau z``, sampled partially centred by how much each size's runs say about its
  offset, :mod:`._start`); a new model size draws a new offset from ``N(0, tau)``.
  The distillation law has no such factor by default: its runs' inputs take few discrete
  levels (5 student sizes, 13 token counts, 63 teachers on the Figure-1 runs), and offsets per
  level were confounded with the law's own dependence on them (R-hat 1.1-1.3, in-sample error
  0.7% instead of 0.1%).
* The law fits best where most runs are: on the bundled Chinchilla runs the residuals of the
  outermost quarter of runs (by distance from the centre) are 2-3 times those of the inner
  three quarters. ``d_i`` is the run's Euclidean distance from the centre of the runs in log
  inputs and in the law's log loss, each standardised by its spread over the runs
  (:class:`Frame`); ``lambda`` is learned from how the residuals grow towards the edge of the
  data. A prediction beyond the data — bigger, or predicted to beat every fitted run — has a
  larger ``d`` and so a wider predictive interval. The growth is quadratic in ``d`` because
  that is the shape of the residuals: on the Chinchilla runs their median is flat (0.26-0.29%)
  over the inner two thirds of ``d`` and rises to 0.37% and then 0.79% in the outer two sixths.
  A linear growth (``1 + lambda d``) has to compromise between the flat core and
  the steep edge; the quadratic one fits the runs better (PSIS-LOO elpd +3.2 on Chinchilla,
  +3.3 on distillation) and widens the intervals of extrapolations more, which the backtests
  showed they need (the in-sample residuals of edge runs understate their out-of-sample error,
  as the fit bends to them).
* The law's misfit is not symmetric about the centre: on the bundled runs it is largest for the
  strongest runs (on the Figure-1 runs, 62% of the largest student's runs lay outside the 90%
  noise quantile of a symmetric model, none of the smallest two students'). ``u_i`` is the
  law's predicted log loss standardised like the loss coordinate of ``d`` (negative for runs
  predicted to be stronger than the centre), and ``eta`` (learned, prior centred on 0) lets
  the noise scale grow exponentially towards lower (``eta > 0``) or higher loss, up to
  ``U_CLIP`` spreads from the centre (:func:`soft_clip`). Predicting
  stronger runs than any fitted is the use the package exists for, so this is the direction
  in which the intervals must not be too narrow. Measured (``docs/validation.md``, "Backtests"),
  with growth linear in ``d``: distillation in-sample 90% coverage 0.83 -> 0.87; backtests
  0.74 -> 0.83 (Chinchilla) and 0.76 -> 0.96 (distillation). With the quadratic growth:
  in-sample 0.85, backtests 0.87 (Chinchilla; 50% intervals 0.13 -> 0.26-0.30) and 1.0
  (distillation).

Both are checked by backtests (fit the weaker runs, predict the stronger ones) in the tests, in
:func:`bayes_distill.checks.backtest`, and in ``docs/validation.md``.

Sampled parameterisation (see :mod:`bayes_distill.laws`): amplitudes centred at ``N0 = 1e9`` and
``D0 = 1e10``, ``kappa = c1 f1`` and ``1 / f1`` instead of ``c1``, and ``gamma'`` absorbed into
the distillation term. A supervised law fitted on its own is sampled in level-share coordinates
at the centre of its runs (:func:`_pymc_level_shares`), with the law's parameters recorded as
deterministics under their own names.

Grouped fits (``bd.fit(..., groups="COLUMN")``): every law parameter is one
per group, spread around a population value with a learned scale (``log alpha_g ~
Normal(log alpha_mu, alpha_sd)`` for the exponents, ``log_E_g ~ Normal(log_E_mu, log_E_sd)``
for ``log_E, a, b``; the amplitudes sampled at each group's runs, :func:`_pymc_pooled`): a
group with few runs borrows the others' information through the population, one with many
runs is barely pulled. The per-group values keep the law's names with a ``law_group``
dimension; the noise is shared (constant by default, see :func:`bayes_distill.fit`; with
``noise="distance"`` each run's distance is from its own group's runs, :class:`GroupFrames`),
and the discrepancy offsets belong to (group, model size) pairs. A group not fitted draws its
parameters from the population (:meth:`Draws.with_new_groups`). A grouped distillation fit is
two-stage: each group's supervised law comes from a grouped supervised fit of the supervised
runs (held at its median for the student's own loss, drawn from a normal approximation for the
teachers and the baseline), and the distillation law's own parameters are pooled as above
(:meth:`ScalingModel._pymc_pooled_distillation`); positive parameters are pooled on the log
scale (:data:`_LOG_SCALE`).

For the distillation law, the supervised parameters (needed for the student's supervised loss)
are either held fixed (``ModelInputs.fixed_supervised``: the second stage of a two-stage fit,
see :func:`bayes_distill.fit`), or fitted jointly with ``supervised_runs``, or, with neither,
informed only by their prior and the distillation runs (not identified).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _start, laws
from .priors import Prior

__all__ = [
    "GROUP_TOLERANCE",
    "OPTIONS",
    "Draws",
    "Frame",
    "GroupFrames",
    "Groups",
    "LawGroups",
    "ModelInputs",
    "ScalingModel",
    "check_options",
    "group_runs",
]

#: Two runs belong to one group when their sizes differ by less than this in log (2%), which
#: absorbs the digitisation error of the bundled data.
GROUP_TOLERANCE = 0.02

STUDENT_T_NU = 4.0

#: The loss-direction term of the noise, ``exp(-eta u)``, acts on ``u`` soft-clipped to
#: ``[-U_CLIP, U_CLIP]`` spreads of the runs' log loss: it shapes the noise across and just
#: beyond the data, and further out the growth with distance carries on alone (an
#: unclipped exponential made the prior predictive overflow for laws far from the data).
U_CLIP = 3.0


#: How the noise grows with the distance; saved with each fit (attribute ``noise_growth``) so
#: a fit saved with linear growth (file schema 1) keeps its own.
NOISE_GROWTH = "quadratic"

#: The loss coordinate of the distance is soft-clipped at ``D_CLIP`` spreads of the runs' log
#: loss. The bundled runs span about two spreads either side of their centre, where the clip
#: changes ``u`` by under 4%; a law far from the data (as prior draws can be) would otherwise
#: make the quadratic growth swamp it (measured: the prior predictive put a distilled student
#: more than 0.1 nats below its teacher in 7-10% of draws instead of under 5%). Beyond the
#: clip, the inputs' distance carries the growth.
D_CLIP = 6.0


def distance_growth(xp, lam, d_inputs, u, kind: str = NOISE_GROWTH):
    """The factor by which the noise grows with the distance from the runs.

    ``"quadratic"``: ``1 + lambda (d_inputs^2 + clip(u)^2)``, the loss coordinate soft-clipped
    at ``D_CLIP`` spreads. ``"linear"`` (fits saved with schema 1):
    ``1 + lambda sqrt(d_inputs^2 + u^2)``.
    """
    if kind == "quadratic":
        return 1.0 + lam * (d_inputs**2 + soft_clip(xp, u, D_CLIP) ** 2)
    if kind == "linear":
        return 1.0 + lam * xp.sqrt(d_inputs**2 + u**2)
    raise ValueError(f"noise_growth must be 'quadratic' or 'linear', got {kind!r}.")


def noise_scale(xp, sigma, lam, eta, d_inputs, u, growth: str = NOISE_GROWTH):
    """The noise scale of ``noise="distance"``, ``sigma * growth * exp(-eta soft_clip(u))``,
    written once for the model (PyTensor) and for predictions (NumPy, over draws)."""
    return sigma * distance_growth(xp, lam, d_inputs, u, growth) * xp.exp(-eta * soft_clip(xp, u))


def soft_clip(xp, u, bound: float = U_CLIP):
    """``bound tanh(u / bound)``: ``u`` near the data, bounded far from it."""
    return bound * xp.tanh(u / bound)


#: Student sizes at which the distillation law's infinite-data limit is imposed (the range the
#: paper checked its coefficients over).
LIMIT_STUDENTS = (1e8, 1e9, 1e10, 1e11)

#: Tolerance (nats) of the infinite-data limit: with unlimited student tokens and the best
#: teacher, the distilled student's loss minus the supervised ``L(N_S, D -> inf)`` gets a
#: ``Normal(0, INFINITE_DATA_TOL)`` prior at each size in :data:`LIMIT_STUDENTS`.
INFINITE_DATA_TOL = 0.01

#: Teachers searched for the best one in the limit: ``L_T = E + exp(t)`` on this grid of ``t``
#: (from 0.001 to 5 nats above the floor ``E``), minimised with a soft minimum of this
#: temperature (log loss), which is smooth for the sampler and within 1e-3 of the minimum.
_LIMIT_T = np.linspace(np.log(1e-3), np.log(5.0), 64)
_LIMIT_SOFTMIN = 2e-4


def _cut_supervised(pm, mean, chol) -> dict:
    """Second stage of a two-stage fit: the supervised law's parameters drawn from a normal
    approximation of the first stage's posterior (positive exponents on the log scale), given
    as the model's data ``mean`` and Cholesky factor ``chol`` so that a compiled model serves
    every fit."""
    import pytensor.tensor as pt

    z = pm.Normal("supervised_z", 0.0, 1.0, shape=len(laws.SAMPLED_NAMES["supervised"]))
    raw = mean + pt.dot(chol, z)
    out = {}
    for i, name in enumerate(laws.SAMPLED_NAMES["supervised"]):
        value = pt.exp(raw[i]) if name in _LOG_SCALE else raw[i]
        out[name] = pm.Deterministic(name, value)
    return out


def _cut_supervised_by_group(pm, mean, chol) -> dict:
    """:func:`_cut_supervised` for a grouped two-stage fit: one normal approximation per law
    group (``mean`` of shape ``(G, P)``, ``chol`` of shape ``(G, P, P)``), independent between
    groups; each parameter has the ``law_group`` dimension."""
    import pytensor.tensor as pt

    names = laws.SAMPLED_NAMES["supervised"]
    z = pm.Normal("supervised_z", 0.0, 1.0, dims=("law_group", "supervised_parameter"))
    raw = mean + (chol * z[:, None, :]).sum(axis=-1)
    out = {}
    for i, name in enumerate(names):
        value = raw[:, i]
        value = pt.exp(value) if name in _LOG_SCALE else value
        out[name] = pm.Deterministic(name, value, dims="law_group")
    return out


#: Positive parameters: the two-stage fit's normal approximation takes the supervised ones on
#: the log scale, and a grouped fit pools every one of them on the log scale.
_LOG_SCALE = laws.POSITIVE_NAMES


#: Sample the supervised laws in the coordinates of :func:`_pymc_level_shares`.
LEVEL_SHARES = True

#: Exponent priors whose support is the positive numbers (sampled on the log scale).
_POSITIVE_PRIORS = ("LogNormal", "Gamma", "HalfNormal", "Exponential")


def _pymc_level_shares(pm, priors, d, gamma=None) -> dict:
    """The supervised law's parameters sampled as the loss level at the centre of the runs,
    how it splits between ``E`` and the reducible terms, and the slopes there.

    At the centre ``(c_N, c_D)`` (the runs' mean log N and log D) the loss is ``E + R`` with
    ``R = (T_N + T_D)^gamma`` (``gamma = 1`` for the Chinchilla law), of which ``R_N = R T_N /
    (T_N + T_D)`` is the N-term's part and ``R_D`` the D-term's. The sampled coordinates are
    ``level = log(E + R)``, ``share_N = log(R_N / E)``, ``share_D = log(R_D / E)`` and
    ``slope_N = log(gamma alpha R_N)``, ``slope_D = log(gamma beta R_D)`` (minus the loss's
    derivatives in log N and log D there). Runs determine the level and the slopes well and
    the split of the level between ``E`` and the terms poorly. In the law's own parameters that
    poorly determined direction is a curved ridge (``E = level - slope / alpha`` for ``gamma =
    1``), where NUTS mixes slowly; here it runs along the ``share`` axes. The map to ``(log_E,
    a, b, log alpha, log beta)`` at a given ``gamma`` has Jacobian determinant ``1 / gamma``
    (1 for the Chinchilla law), so the prior of the law's parameters is kept exactly: a
    potential adds its log density at the mapped point with that Jacobian, and removes the
    density the coordinates were created with.

    The coordinates are sampled in a frame fitted to the runs before sampling
    (:func:`._start.level_share_frame`, data ``share_mean`` and ``share_chol``): ``raw = mean +
    chol x``, so that ``x`` is of about unit scale and correlation at the posterior. The
    frame's Jacobian is a constant (data ``share_log_det``, the log of ``|det chol|``), added
    to the potential."""
    names = tuple(_start.LEVEL_SHARE_COORDS)
    # raw = mean + chol x (the frame of _start.level_share_frame), x created as Normal(0, 1)
    x = pm.Normal("level_share_x", 0.0, 1.0, shape=len(names))
    raw_vec = d["share_mean"] + d["share_chol"] @ x
    raw = {n: pm.Deterministic(n, raw_vec[i]) for i, n in enumerate(names)}
    theta, log_alpha, log_beta = _start.level_share_params(
        laws.pytensor_namespace(), raw, d["centre_log_N"], d["centre_log_D"], gamma
    )
    logp = log_alpha + log_beta - (0.0 if gamma is None else pm.math.log(gamma))
    for name, value in theta.items():
        prior = priors[name]
        logp = logp + pm.logp(getattr(pm, prior.dist).dist(**prior.params), value)
    # the density x was created with out, the frame's constant Jacobian in
    logp = logp - pm.logp(pm.Normal.dist(0.0, 1.0), x).sum()
    logp = logp + d["share_log_det"]
    pm.Potential("level_share_prior", logp)
    out = {name: pm.Deterministic(name, value) for name, value in theta.items()}
    if gamma is not None:
        out["gamma"] = gamma
    return out


#: Each amplitude pooled at its group's runs: the exponent of its term, and the input whose
#: reference scale (``N0``, ``D0``) it is defined at (see :func:`_pymc_pooled`).
_AMPLITUDE_TERMS = {
    "a": ("alpha", "log_N", np.log(laws.N0)),
    "b": ("beta", "log_D", np.log(laws.D0)),
}


def _group_shifts(pt, d, n_groups: int) -> dict:
    """Per law group and amplitude: its exponent's name and ``log x_g - log x0``, the mean log
    input of the group's runs (model size for ``a``, tokens for ``b``) minus the reference
    scale, computed from the model's data so that a compiled model serves every run table."""
    index = d["law_group_index"]
    counts = pt.inc_subtensor(pt.zeros(n_groups)[index], 1.0)
    out = {}
    for name, (exponent, key, log_ref) in _AMPLITUDE_TERMS.items():
        total = pt.inc_subtensor(pt.zeros(n_groups)[index], d[key])
        out[name] = (exponent, total / counts - log_ref)
    return out


def _pymc_pooled(pm, priors, names, shifts: Mapping) -> dict:
    """A grouped fit's law parameters: per law group, around a population value
    (``{name}_mu``, with the law's prior) with a learned spread (``{name}_sd``, prior
    ``priors["{name}_sd"]``, by default :data:`~bayes_distill.priors.GROUP_SD_PRIORS`); by
    name, one value per group (``law_group`` dimension).

    ``log_E_g ~ Normal(log_E_mu, log_E_sd)`` (and ``a``, ``b``) and ``log alpha_g ~
    Normal(log alpha_mu, alpha_sd)`` (the exponents on the log scale), every group centred
    (sampled as ``log_E_c``, ``alpha_log``). The amplitudes are sampled where the group's runs
    are rather than at the reference scales: ``a_c = a_g - alpha_g s_g``, the log of the
    N-term at the mean log model size of the group's runs (``s_g = log N_g - log N0``, from
    ``shifts``), with prior ``Normal(a_mu - alpha_g s_g, a_sd)``, which is exactly the prior
    of ``a_g`` moved (a shear of unit Jacobian; the posterior is unchanged); ``b`` likewise
    with ``beta`` and the tokens. Runs 30x below ``N0`` pin ``a_c`` and leave ``a_g`` on a
    ridge with ``alpha_g`` (posterior correlation -0.99 in every group).

    Measured on SIMULATED studies of ``benchmarks/groups_study.py`` (three families, one with
    10 runs; ``benchmarks/README.md``): with the 10-run group non-centred (``log_E_g =
    log_E_mu + log_E_sd z_g``), the data pin its loss level to the noise (0.5%) while ``z_g``
    scales with spreads that three groups barely inform, a funnel that NUTS crossed with 210-260
    leapfrog steps per draw (step size 0.06; whitened Hessian eigenvalues up to ~6000). Every
    group centred, with the amplitudes at their runs, takes 14-28 steps per draw. The
    centred hierarchy's own funnel, at small spreads of the amplitudes and floors, is kept
    away by their LogNormal spread priors (with Gamma(2, 5) and Gamma(2, 10) spreads: 6-21
    divergent transitions in 4000 draws)."""
    import pytensor.tensor as pt

    from .priors import GROUP_SD_PRIORS

    values = {}
    # the exponents first: an amplitude's prior at its group's runs moves with the exponent
    for name in sorted(names, key=lambda n: n not in _LOG_SCALE):
        mu = priors[name].to_pymc(f"{name}_mu")
        sd = priors.get(f"{name}_sd", GROUP_SD_PRIORS[name]).to_pymc(f"{name}_sd")
        if name in _LOG_SCALE:
            values[name] = pt.exp(pm.Normal(f"{name}_log", pt.log(mu), sd, dims="law_group"))
        elif name in shifts:
            exponent, shift = shifts[name]
            slope = values[exponent] * shift  # the term's log change from x0 to the runs
            values[name] = pm.Normal(f"{name}_c", mu - slope, sd, dims="law_group") + slope
        else:
            values[name] = pm.Normal(f"{name}_c", mu, sd, dims="law_group")
    return {name: pm.Deterministic(name, values[name], dims="law_group") for name in names}


def supervised_normal_approximation(draws: Mapping[str, np.ndarray]):
    """Mean and Cholesky factor of the covariance of supervised draws, on the scale of
    :func:`_cut_supervised`.

    Draws of shape ``(chain, draw)`` give a mean ``(P,)`` and a factor ``(P, P)``; draws of a
    grouped fit, ``(chain, draw, G)``, give one per law group, ``(G, P)`` and ``(G, P, P)``
    (:func:`_cut_supervised_by_group`)."""
    cols = [
        np.log(draws[k]) if k in _LOG_SCALE else np.asarray(draws[k], float)
        for k in laws.SAMPLED_NAMES["supervised"]
    ]
    if cols[0].ndim == 3:
        per_group = [
            supervised_normal_approximation(
                {k: np.asarray(draws[k])[..., g] for k in laws.SAMPLED_NAMES["supervised"]}
            )
            for g in range(cols[0].shape[-1])
        ]
        return np.stack([m for m, _ in per_group]), np.stack([c for _, c in per_group])
    x = np.stack([np.ravel(c) for c in cols], axis=1)
    return x.mean(axis=0), np.linalg.cholesky(np.cov(x, rowvar=False))


def infinite_data_gap(xp, sup: Mapping, dist: Mapping, sup_student: Mapping | None = None):
    """Best-teacher distilled loss minus supervised loss, both with unlimited student tokens.

    Evaluated at each student size of :data:`LIMIT_STUDENTS`, in nats: ``min over L_T of
    L_S(N_S, D_S -> inf, L_T) - L(N_S, D -> inf)`` (the teacher's loss searched on a grid above
    the supervised floor ``E``). The paper's coefficients give about +0.01; the model puts a
    ``Normal(0, INFINITE_DATA_TOL)`` prior on it, so that far beyond the runs the law falls
    back on supervised learning instead of inventing a distillation advantage.

    ``sup`` and ``dist`` are the sampled supervised and distillation-only parameters (scalars
    for the model; NumPy arrays of shape ``(S, 1, 1)`` broadcast over draws). ``sup_student``,
    when given, is the supervised law of the student's own loss inside the distillation law (a
    two-stage fit's fixed values); ``sup`` then gives the supervised baseline and the teachers.
    """
    log_NS = np.log(np.asarray(LIMIT_STUDENTS))[:, None] - np.log(laws.N0)

    def log_Linf_of(p):
        return xp.logaddexp(p["log_E"], p["gamma"] * (p["a"] - p["alpha"] * log_NS))

    log_Linf = log_Linf_of(sup)
    log_Linf_student = log_Linf if sup_student is None else log_Linf_of(sup_student)
    log_LT = xp.logaddexp(sup["log_E"], _LIMIT_T[None, :])
    term = dist["n_prime"] - dist["alpha_prime_eff"] * log_NS
    gap = (
        -dist["c0"] * log_LT
        - dist["kappa"] * xp.softplus(dist["inv_f1"] * (log_LT - log_Linf_student - dist["log_d1"]))
        + term
    )
    log_LS = xp.logaddexp(log_LT, gap)
    T = _LIMIT_SOFTMIN
    best = -T * xp.logsumexp(-log_LS / T, axis=-1)
    return xp.exp(best) - xp.exp(log_Linf[..., 0])


@dataclass(frozen=True)
class Groups:
    """Clusters of a positive quantity in log space: ``keys`` (log centres) and ``index``."""

    keys: np.ndarray
    index: np.ndarray

    @property
    def n(self) -> int:
        return len(self.keys)

    def lookup(self, log_values: np.ndarray, tol: float = GROUP_TOLERANCE) -> np.ndarray:
        """Index of the group each value belongs to, or -1 for a value in no fitted group."""
        log_values = np.asarray(log_values, dtype=float)
        if self.n == 0:
            return np.full(log_values.shape, -1)
        dist = np.abs(log_values[..., None] - self.keys)
        best = dist.argmin(axis=-1)
        return np.where(dist.min(axis=-1) < tol, best, -1)


def group_runs(log_values: np.ndarray, tol: float = GROUP_TOLERANCE) -> Groups:
    """Cluster sorted log values whose neighbours lie within ``tol``."""
    log_values = np.asarray(log_values, dtype=float)
    order = np.argsort(log_values)
    sorted_vals = log_values[order]
    new_group = np.r_[True, np.diff(sorted_vals) >= tol]
    labels_sorted = np.cumsum(new_group) - 1
    labels = np.empty_like(labels_sorted)
    labels[order] = labels_sorted
    keys = np.array([sorted_vals[labels_sorted == g].mean() for g in range(labels_sorted[-1] + 1)])
    return Groups(keys=keys, index=labels)


#: Log-space distance between the discrepancy keys of two law groups: a model size of one group
#: is never clustered with a size of another (offsets belong to (group, size) pairs).
GROUP_STRIDE = 100.0


@dataclass(frozen=True)
class LawGroups:
    """The law groups of a grouped fit: their ``names`` (sorted) and each run's ``index``."""

    names: tuple[str, ...]
    index: np.ndarray

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> LawGroups:
        names, index = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
        return cls(tuple(str(n) for n in names), index.reshape(-1).astype(np.int64))

    def lookup(self, labels: Any) -> np.ndarray:
        """Index of each label's group, or -1 for a label of no fitted group."""
        position = {n: i for i, n in enumerate(self.names)}
        return np.array([position.get(str(v), -1) for v in np.ravel(labels)], dtype=np.int64)


@dataclass(frozen=True)
class ModelInputs:
    """Log-space arrays that the model and the predictions share."""

    law: str
    x: dict[str, np.ndarray]
    y: np.ndarray
    groups: dict[str, Groups]
    frame: Frame
    supervised_x: dict[str, np.ndarray] | None = None
    supervised_y: np.ndarray | None = None
    supervised_groups: Groups | None = None
    #: Distillation law, two-stage fit: the supervised parameters (sampled names) at which the
    #: student's own supervised loss inside the law is held; the supervised runs are then not
    #: in the model.
    fixed_supervised: dict[str, float] | None = None
    #: Two-stage fit: mean and Cholesky factor of the covariance of the first stage's
    #: posterior of ``(log_E, a, b, log alpha, log beta, log gamma)``, the prior of the
    #: supervised law that gives the teacher's loss and the baseline (tied to the distillation
    #: law only by the infinite-data limit).
    supervised_posterior: tuple[np.ndarray, np.ndarray] | None = None
    #: Grouped fits: the law group of each run (one law per group, partially pooled).
    law_groups: LawGroups | None = None

    @property
    def student_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distillation runs: the distinct ``(log N_S, log D_S)`` pairs and each run's pair."""
        stacked = np.stack([self.x["log_NS"], self.x["log_DS"]], axis=1)
        pairs, index = np.unique(stacked, axis=0, return_inverse=True)
        return pairs[:, 0].copy(), pairs[:, 1].copy(), index.reshape(-1).astype(np.int64)

    @property
    def distance(self) -> np.ndarray:
        """Each run's standardised distance from the centre of the runs, in its inputs only."""
        return self.frame.distance(self.x, self.group_index)

    @property
    def group_index(self) -> np.ndarray | None:
        """Grouped fits: each run's law group index; ``None`` otherwise."""
        return None if self.law_groups is None else self.law_groups.index

    def loss_standardisation(self) -> tuple[Any, Any]:
        """Centre and spread of the log loss that the loss coordinate ``u`` of each run uses:
        scalars, or per run for a grouped fit (each run's group's)."""
        return self.frame.loss_centre_scale(self.group_index)


@dataclass(frozen=True)
class Frame:
    """Centre and spread of the runs, for the distance of any run from the centre.

    The distance is Euclidean in the log inputs and the log loss, each standardised by its
    spread over the runs (a spread below 0.1 in log inputs or 0.01 in log loss counts as that
    floor, so a quantity that barely varies does not make every other value infinitely far).
    The loss coordinate is the law's prediction: a run predicted to beat every fitted run is
    far from the data even when each of its inputs is within the fitted range.
    """

    keys: tuple[str, ...]
    centre: np.ndarray
    scale: np.ndarray
    loss_centre: float
    loss_scale: float

    @classmethod
    def from_inputs(cls, x: Mapping[str, np.ndarray], log_loss: np.ndarray) -> Frame:
        keys = tuple(x)
        data = np.stack([np.asarray(x[k], float) for k in keys])
        y = np.asarray(log_loss, float)
        return cls(
            keys,
            data.mean(axis=1),
            np.maximum(data.std(axis=1), 0.1),
            float(y.mean()),
            float(max(y.std(), 0.01)),
        )

    def distance(self, x: Mapping[str, np.ndarray], group: Any = None) -> np.ndarray:
        """Distance in the inputs only (the loss coordinate is :meth:`loss_coordinate`);
        ``group`` is ignored (see :class:`GroupFrames`)."""
        arrays = np.broadcast_arrays(*(np.asarray(x[k], float) for k in self.keys))
        sq = sum(
            ((a - c) / s) ** 2 for a, c, s in zip(arrays, self.centre, self.scale, strict=True)
        )
        return np.sqrt(sq)

    def loss_coordinate(self, log_loss, group: Any = None):
        """A (predicted) log loss standardised by the runs' centre and spread (``u``);
        ``group`` is ignored (see :class:`GroupFrames`)."""
        return (log_loss - self.loss_centre) / self.loss_scale

    def loss_centre_scale(self, group: Any = None) -> tuple[float, float]:
        """The loss coordinate's centre and spread (``group`` is ignored)."""
        return self.loss_centre, self.loss_scale


@dataclass(frozen=True)
class GroupFrames:
    """A grouped fit's frames: a run's distance and loss coordinate are measured from its own
    group's runs (families differ in their losses, so the loss coordinate of one is not
    comparable with another's), and from all runs for a group not fitted. Same methods as
    :class:`Frame`, with each run's law group index ``group`` (broadcast against the runs)."""

    frames: tuple[Frame, ...]
    overall: Frame

    @classmethod
    def from_inputs(cls, x: Mapping[str, np.ndarray], log_loss: np.ndarray, index: np.ndarray):
        frames = tuple(
            Frame.from_inputs({k: v[index == g] for k, v in x.items()}, log_loss[index == g])
            for g in range(int(index.max()) + 1)
        )
        return cls(frames, Frame.from_inputs(x, log_loss))

    @property
    def keys(self) -> tuple[str, ...]:
        return self.overall.keys

    def _which(self, group: Any) -> np.ndarray:
        g = np.asarray(group, dtype=np.int64)
        return np.where((g >= 0) & (g < len(self.frames)), g, len(self.frames))

    def _stack(self, attr: str) -> np.ndarray:
        return np.stack([np.asarray(getattr(f, attr), float) for f in (*self.frames, self.overall)])

    def distance(self, x: Mapping[str, np.ndarray], group: Any) -> np.ndarray:
        arrays = np.broadcast_arrays(*(np.asarray(x[k], float) for k in self.keys))
        which = np.broadcast_to(self._which(group), arrays[0].shape)
        centre, scale = self._stack("centre")[which], self._stack("scale")[which]
        return np.sqrt(
            sum(((a - centre[..., i]) / scale[..., i]) ** 2 for i, a in enumerate(arrays))
        )

    def loss_coordinate(self, log_loss, group: Any):
        centre, scale = self.loss_centre_scale(group)
        return (log_loss - centre) / scale

    def loss_centre_scale(self, group: Any) -> tuple[np.ndarray, np.ndarray]:
        which = self._which(group)
        return self._stack("loss_centre")[which], self._stack("loss_scale")[which]


#: Discrepancy factors of each law: ``(name, log-input key, grouping tolerance in log)``.
FACTORS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "chinchilla": (("size", "log_N", GROUP_TOLERANCE),),
    "supervised": (("size", "log_N", GROUP_TOLERANCE),),
    # none for distillation: its inputs take few discrete levels (5 students, 13 token
    # counts on the Figure-1 runs), so per-level offsets are confounded with the law's own
    # dependence on them (measured: R-hat 1.12 and in-sample error 0.7% instead of 0.04%); the
    # distance-dependent noise carries the extrapolation uncertainty there
    "distillation": (),
}


def group_names(law: str) -> tuple[str, ...]:
    """The discrepancy factors of a law (see :data:`FACTORS`)."""
    return tuple(f[0] for f in FACTORS[law])


def factor_values(
    law: str, x: Mapping[str, np.ndarray], group: Any = None
) -> dict[str, np.ndarray]:
    """Log values of each discrepancy factor, from a mapping of log inputs (``group``: the
    runs' law group indices in a grouped fit, see :func:`factor_keys`)."""
    return {
        name: factor_keys(x, key, group) for name, key, _ in FACTORS[law] if x.get(key) is not None
    }


def factor_tolerance(law: str, name: str) -> float:
    return next(tol for n, _, tol in FACTORS[law] if n == name)


def factor_keys(x: Mapping[str, np.ndarray], key: str, group: Any = None) -> np.ndarray:
    """Log values of a discrepancy factor, shifted by :data:`GROUP_STRIDE` per law group (so
    that a factor level of one group is never one of another's)."""
    values = np.asarray(x[key], float)
    return values if group is None else values + GROUP_STRIDE * np.asarray(group, float)


def prepare_inputs(
    law: str,
    runs: pd.DataFrame,
    supervised_runs: pd.DataFrame | None = None,
    groups: str | None = None,
) -> ModelInputs:
    """Turn validated run tables into the log arrays the model needs (``groups``: the column
    of a grouped fit's law groups)."""
    if law == "distillation":
        x = {
            "log_NS": np.log(runs["N_S"].to_numpy(float)),
            "log_DS": np.log(runs["D_S"].to_numpy(float)),
            "log_LT": np.log(runs["L_T"].to_numpy(float)),
        }
        y = np.log(runs["L_S"].to_numpy(float))
        factors = {n: group_runs(x[k], tol) for n, k, tol in FACTORS[law]}
        sx = sy = sg = None
        if supervised_runs is not None:
            sx = {
                "log_N": np.log(supervised_runs["N"].to_numpy(float)),
                "log_D": np.log(supervised_runs["D"].to_numpy(float)),
            }
            sy = np.log(supervised_runs["loss"].to_numpy(float))
            sg = group_runs(sx["log_N"])
        law_groups = _law_groups(runs, groups)
        frame = (
            Frame.from_inputs(x, y)
            if law_groups is None
            else GroupFrames.from_inputs(x, y, law_groups.index)
        )
        return ModelInputs(law, x, y, factors, frame, sx, sy, sg, law_groups=law_groups)
    x = {
        "log_N": np.log(runs["N"].to_numpy(float)),
        "log_D": np.log(runs["D"].to_numpy(float)),
    }
    y = np.log(runs["loss"].to_numpy(float))
    law_groups = _law_groups(runs, groups)
    index = None if law_groups is None else law_groups.index
    factors = {n: group_runs(factor_keys(x, k, index), tol) for n, k, tol in FACTORS[law]}
    frame = Frame.from_inputs(x, y) if index is None else GroupFrames.from_inputs(x, y, index)
    return ModelInputs(law, x, y, factors, frame, law_groups=law_groups)


def _law_groups(runs: pd.DataFrame, groups: str | None) -> LawGroups | None:
    """The law groups of the runs' column ``groups`` (None for a fit of one law)."""
    if groups is None:
        return None
    from .data import check_group_column

    return LawGroups.from_labels(check_group_column(runs, groups, min_runs=0))


#: Natural input name -> key of its log in the model's inputs.
LOG_KEYS = {"N": "log_N", "D": "log_D", "N_S": "log_NS", "D_S": "log_DS", "L_T": "log_LT"}
NATURAL_OF = {v: k for k, v in LOG_KEYS.items()}

#: The observation model's options and their valid values; the first is the default.
OPTIONS: dict[str, tuple[str, ...]] = {
    "likelihood": ("student_t", "normal"),
    "discrepancy": ("groups", "none"),
    "noise": ("distance", "constant"),
}
LIKELIHOODS = OPTIONS["likelihood"]
DISCREPANCIES = OPTIONS["discrepancy"]
NOISES = OPTIONS["noise"]


def check_options(**options: Any) -> dict[str, str]:
    """Validate observation-model options (``likelihood``, ``discrepancy``, ``noise``).

    Unset options take their defaults (the first valid value). Returns all three.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(
            f"Unknown model option(s) {unknown}; the model options (as in bd.fit) are "
            f"{', '.join(OPTIONS)}."
        )
    out = {}
    for name, valid in OPTIONS.items():
        value = options.get(name, valid[0])
        if not isinstance(value, str) or value not in valid:
            raise ValueError(f"Unknown {name} {value!r}. Valid: {', '.join(valid)}.")
        out[name] = value
    return out


class Draws:
    """Posterior draws flattened over ``(chain, draw)`` once, as read-only NumPy arrays.

    ``draws[name]`` is ``(S, size)``; :meth:`params` gives the scalar parameters shaped
    ``(S, 1, ..., 1)`` to broadcast against inputs of ``ndim`` dimensions.
    """

    def __init__(self, posterior: Any):
        self.posterior = posterior
        self.n = int(posterior.sizes["chain"] * posterior.sizes["draw"])
        self._cache: dict[str, np.ndarray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.posterior

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            arr = np.asarray(self.posterior[name].values, dtype=float).reshape(self.n, -1)
            arr.flags.writeable = False
            self._cache[name] = arr
        return self._cache[name]

    def scalar(self, name: str, ndim: int = 0) -> np.ndarray:
        """Draws of a scalar parameter as ``(S, 1, ..., 1)`` with ``ndim`` trailing ones."""
        values = self[name]
        if values.shape[1] != 1:
            coords = self.posterior[name].coords
            groups = [str(g) for g in coords["law_group"].values] if "law_group" in coords else []
            raise ValueError(
                f"{name} has one value per law group ({groups}) in this grouped fit; evaluate "
                "one group's law: pass group= (predict reads the group column) or use "
                "fit.for_group(name)."
            )
        return values[:, 0].reshape((self.n,) + (1,) * ndim)

    def params(self, names: tuple[str, ...], ndim: int = 0) -> dict[str, np.ndarray]:
        """:meth:`scalar` of each name."""
        return {k: self.scalar(k, ndim) for k in names}

    def gather(self, names: tuple[str, ...], group: np.ndarray) -> dict[str, np.ndarray]:
        """Per-group parameters at each entry of ``group`` (law group indices):
        ``(S, *group.shape)`` each."""
        group = np.asarray(group, dtype=np.int64)
        return {k: self[k][:, group.reshape(-1)].reshape((self.n, *group.shape)) for k in names}

    def with_new_groups(
        self, names: tuple[str, ...], n_new: int, rng: np.random.Generator
    ) -> Draws:
        """These draws with ``n_new`` groups appended to each per-group parameter of ``names``,
        each drawn from the population (``{name}_mu``, ``{name}_sd``) of every draw."""
        out = Draws(self.posterior)
        out._cache = dict(self._cache)
        for k in names:
            z = rng.standard_normal((self.n, n_new))
            mu, sd = self[f"{k}_mu"], self[f"{k}_sd"]
            new = mu * np.exp(sd * z) if k in _LOG_SCALE else mu + sd * z
            arr = np.concatenate([self[k], new], axis=1)
            arr.flags.writeable = False
            out._cache[k] = arr
        return out


def _likelihood(name, mu, sigma, observed, likelihood):
    import pymc as pm

    if likelihood == "student_t":
        return pm.StudentT(name, nu=STUDENT_T_NU, mu=mu, sigma=sigma, observed=observed)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=observed)


def _pymc_offsets(pm, g: str, tau, d) -> Any:
    """The offsets of group factor ``g`` at the runs, ``tau z[index]`` with ``z ~ N(0, 1)``.

    With centring weights ``w`` in the data (``{g}_centring``, from :mod:`._start`), the
    sampled variable is ``zeta = tau^w z ~ Normal(0, tau^w)`` (``z`` recorded as a
    deterministic): the same posterior, in the coordinates that mix best for how much the
    runs say about each offset. Without weights, non-centred (``zeta = z``).
    """
    if f"{g}_centring" not in d:
        z = pm.Normal(f"z_{g}", 0.0, 1.0, dims=f"{g}_group")
        return tau * z[d[f"{g}_index"]]
    w = d[f"{g}_centring"]
    zeta = pm.Normal(f"zeta_{g}", 0.0, tau**w, dims=f"{g}_group")
    pm.Deterministic(f"z_{g}", zeta * tau**-w, dims=f"{g}_group")
    return (tau ** (1.0 - w) * zeta)[d[f"{g}_index"]]


@dataclass(frozen=True)
class ScalingModel:
    """The observation model of one law: the law's assembly, the noise and the likelihood.

    It serves both sides of a fit: :meth:`pymc` builds the PyMC model that is sampled (and
    :meth:`data_updates` feeds a compiled one new runs), and :meth:`log_mean`,
    :meth:`noise_draws` and :meth:`loglik` evaluate the same model in NumPy over posterior
    :class:`Draws` for predictions, decisions and checks.

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    likelihood, discrepancy, noise : str
        The options of :data:`OPTIONS` (see :func:`bayes_distill.fit`).
    inputs : ModelInputs, optional
        The fitted runs (``None`` for a law given by its parameters: no discrepancy offsets
        and no distance to grow the noise with).
    growth : {"quadratic", "linear"}
        How the noise grows with the distance (:func:`distance_growth`).
    student_supervised : mapping, optional
        Distillation law: sampled supervised parameters at which the student's own
        supervised loss inside the law is held (a two-stage fit); ``None``: the draws'.
    group : int, optional
        Grouped fits, evaluated for one law group (:meth:`ScalingFit.for_group`): the index of
        that group, whose draws the law parameters then are; new runs take its discrepancy
        offsets. ``None``: the NumPy methods take a ``group`` index per run instead.
    level_shares, centring : bool
        Whether a supervised law fitted on its own is sampled in level-share coordinates
        (:func:`_pymc_level_shares`) and with partially centred offsets and starting values
        from a point fit of the runs (:mod:`._start`); simulations, which fix the law's
        parameters and ``tau`` with :func:`pymc.do`, turn both off. Neither changes the
        posterior.
    """

    law: str
    likelihood: str = "student_t"
    discrepancy: str = "groups"
    noise: str = "distance"
    inputs: ModelInputs | None = None
    growth: str = NOISE_GROWTH
    student_supervised: Mapping[str, float] | None = None
    group: int | None = None
    level_shares: bool = True
    centring: bool = True

    def __post_init__(self):
        laws._check_law(self.law)
        check_options(likelihood=self.likelihood, discrepancy=self.discrepancy, noise=self.noise)
        if self.inputs is not None and self.inputs.law != self.law:
            raise ValueError(f"inputs are for the {self.inputs.law} law, not {self.law}.")

    @property
    def supervised_names(self) -> tuple[str, ...]:
        """Sampled names of the supervised law that this law carries."""
        return laws.SAMPLED_NAMES["chinchilla" if self.law == "chinchilla" else "supervised"]

    # ---- PyMC ---------------------------------------------------------------------------
    def cache_key(self, priors: Mapping[str, Prior]) -> tuple:
        """What determines the compiled model's structure (its data can change)."""
        inputs = self.inputs
        # the number of discrepancy levels shapes the model only when it has offsets
        offsets = self.discrepancy == "groups"
        return (
            self.law,
            tuple(sorted((k, repr(v)) for k, v in priors.items())),
            self.likelihood,
            self.discrepancy,
            self.noise,
            tuple((g, grp.n) for g, grp in inputs.groups.items()) if offsets else None,
            inputs.supervised_groups.n
            if offsets and inputs.supervised_groups is not None
            else None,
            tuple(sorted(inputs.fixed_supervised)) if inputs.fixed_supervised else None,
            len(inputs.law_groups.names) if inputs.law_groups is not None else None,
            self._level_shares(priors),
            self.discrepancy == "groups" and self._centred_offsets(),
        )

    def _level_shares(self, priors: Mapping[str, Prior]) -> bool:
        """Whether the law is sampled in :func:`_pymc_level_shares`'s coordinates: a
        supervised law fitted alone (no groups, no fixed parameters) with exponent priors on
        the positive numbers."""
        inputs = self.inputs
        return (
            LEVEL_SHARES
            and self.level_shares
            and self.law in ("chinchilla", "supervised")
            and inputs.law_groups is None
            and not inputs.fixed_supervised
            and all(
                priors[n].dist in _POSITIVE_PRIORS
                for n in ("alpha", "beta", "gamma")
                if n in laws.SAMPLED_NAMES[self.law]
            )
        )

    @functools.cached_property
    def _analysis(self) -> _start.Analysis | None:
        """The runs' least-squares point fit and its residuals by model size
        (:func:`._start.analyse`), for a supervised law fitted on its own; else None."""
        inputs = self.inputs
        if (
            inputs is None
            or self.law not in ("chinchilla", "supervised")
            or inputs.law_groups is not None
            or inputs.fixed_supervised
        ):
            return None
        sizes = inputs.groups.get("size") or group_runs(inputs.x["log_N"])
        return _start.analyse(inputs.x["log_N"], inputs.x["log_D"], inputs.y, sizes.index, sizes.n)

    @functools.cached_property
    def _share_frame(self) -> dict[str, Any]:
        """The level-share coordinates' frame (:func:`._start.level_share_frame`) as model
        data: ``share_mean``, ``share_chol`` and ``share_log_det`` (``log |det chol|``)."""
        x = self.inputs.x
        mean, chol = _start.level_share_frame(self._analysis, x["log_N"], x["log_D"])
        log_det = float(np.log(np.abs(np.diagonal(chol))).sum())
        return {"share_mean": mean, "share_chol": chol, "share_log_det": log_det}

    def _centred_offsets(self) -> bool:
        """Whether the per-size offsets are partially centred (:func:`_pymc_offsets`): a
        supervised law fitted on its own, not a simulation."""
        return self.centring and self._analysis is not None

    def start_values(self) -> dict[str, tuple[Any, Any]]:
        """Where the sampler starts: a centre and a jitter scale per sampled (transformed)
        variable, from the runs (:meth:`._start.Analysis.start`); empty when the model has no
        such estimates (the sampler then starts at PyMC's jittered points of the priors)."""
        if not self._centred_offsets():
            return {}
        return self._analysis.start(student_t=self.likelihood == "student_t")

    def data_updates(self) -> dict[str, Any]:
        """Values of every ``pm.Data`` of :meth:`pymc`, by name, for these inputs."""
        inputs = self.inputs
        if inputs.law == "distillation" and inputs.law_groups is not None:
            # a grouped fit evaluates the law per run: a student pair's law depends on its group
            out = {k: inputs.x[k] for k in ("log_NS", "log_DS", "log_LT")}
        elif inputs.law == "distillation":
            pair_NS, pair_DS, pair_index = inputs.student_pairs
            out = {"pair_log_NS": pair_NS, "pair_log_DS": pair_DS, "pair_index": pair_index}
            out["log_LT"] = inputs.x["log_LT"]
        else:
            out = dict(inputs.x)
            if inputs.law_groups is None:
                out["centre_log_N"] = float(np.mean(inputs.x["log_N"]))
                out["centre_log_D"] = float(np.mean(inputs.x["log_D"]))
            if self._analysis is not None:
                out.update(self._share_frame)
        out["log_loss"] = inputs.y
        if inputs.law_groups is not None:
            out["law_group_index"] = inputs.law_groups.index
        for k, v in (inputs.fixed_supervised or {}).items():
            out[f"fixed_{k}"] = v
        if inputs.supervised_posterior is not None:
            out["supervised_mean"], out["supervised_chol"] = inputs.supervised_posterior
        if self.discrepancy == "groups":
            out.update({f"{g}_index": grp.index for g, grp in inputs.groups.items()})
            if self._centred_offsets() and "size" in inputs.groups:
                out["size_centring"] = self._analysis.weights
        if self.noise == "distance":
            out["distance"] = inputs.distance
            out["loss_centre"], out["loss_scale"] = inputs.loss_standardisation()
        if inputs.supervised_x is not None:
            out.update({f"supervised_{k}": v for k, v in inputs.supervised_x.items()})
            out["supervised_log_loss"] = inputs.supervised_y
            if self.discrepancy == "groups":
                out["supervised_size_index"] = inputs.supervised_groups.index
        return out

    def pymc(self, priors: Mapping[str, Prior]):
        """Build the ``pymc.Model`` of these inputs.

        Parameters
        ----------
        priors : mapping
            One :class:`~bayes_distill.priors.Prior` per sampled parameter, plus ``sigma``,
            ``tau``, ``lambda`` and ``eta`` (from :func:`~bayes_distill.priors.resolve_priors`).

        Returns
        -------
        pymc.Model
            Every array of the inputs is a ``pm.Data`` named as in :meth:`data_updates`.
        """
        import pymc as pm

        inputs = self.inputs
        if inputs is None:
            raise ValueError("A ScalingModel without inputs (runs) has no PyMC model.")
        data = self.data_updates()
        offsets = self.discrepancy == "groups"
        coords = {f"{g}_group": np.arange(inputs.groups[g].n) for g in inputs.groups if offsets}
        if self.law == "distillation":
            coords["limit_student"] = np.array(LIMIT_STUDENTS)
        if offsets and inputs.supervised_groups is not None:
            coords["supervised_size_group"] = np.arange(inputs.supervised_groups.n)
        if inputs.law_groups is not None:
            coords["law_group"] = list(inputs.law_groups.names)
            coords["supervised_parameter"] = list(laws.SAMPLED_NAMES["supervised"])
        with pm.Model(coords=coords) as model:
            d = {k: pm.Data(k, v) for k, v in data.items()}
            mu_law, sup = self._pymc_law(pm, priors, d)
            scale = priors["sigma"].to_pymc("sigma")
            mu = mu_law
            if self.discrepancy == "groups":
                for g in inputs.groups:
                    tau = priors["tau"].to_pymc(f"tau_{g}")
                    mu = mu + _pymc_offsets(pm, g, tau, d)
            if self.noise == "distance":
                lam = priors["lambda"].to_pymc("lambda")
                eta = priors["eta"].to_pymc("eta")
                u = (mu_law - d["loss_centre"]) / d["loss_scale"]  # the law's standardised log loss
                scale = noise_scale(laws.pytensor_namespace(), scale, lam, eta, d["distance"], u)
            _likelihood("obs", mu, scale, d["log_loss"], self.likelihood)
            if inputs.supervised_x is not None:
                self._pymc_supervised_runs(pm, priors, d, sup)
        return model

    def _pymc_law(self, pm, priors, d) -> tuple[Any, dict]:
        """The law's log mean at the runs (the sampled parameters created on the way) and the
        supervised parameters."""
        xp = laws.pytensor_namespace()
        fixed = self.inputs.fixed_supervised or {}
        if self.inputs.law_groups is not None and self.law == "distillation":
            return self._pymc_pooled_distillation(pm, priors, d)
        if self.inputs.law_groups is not None:
            import pytensor.tensor as pt

            n_groups = len(self.inputs.law_groups.names)
            shifts = _group_shifts(pt, d, n_groups)
            pooled = _pymc_pooled(pm, priors, laws.SAMPLED_NAMES[self.law], shifts)
            theta = {k: v[d["law_group_index"]] for k, v in pooled.items()}
            return laws.log_supervised(xp, d["log_N"], d["log_D"], **theta), theta
        if self._level_shares(priors):
            gamma = priors["gamma"].to_pymc("gamma") if self.law == "supervised" else None
            theta = _pymc_level_shares(pm, priors, d, gamma)
            return laws.log_supervised(xp, d["log_N"], d["log_D"], **theta), theta
        theta = {
            name: priors[name].to_pymc(name)
            for name in laws.SAMPLED_NAMES[self.law]
            if name not in fixed
        }
        if fixed:
            theta.update(_cut_supervised(pm, d["supervised_mean"], d["supervised_chol"]))
        sup = {k: theta[k] for k in self.supervised_names}
        if self.law != "distillation":
            return laws.log_supervised(xp, d["log_N"], d["log_D"], **sup), sup
        # the student's own supervised loss (held fixed in a two-stage fit, otherwise the same
        # law as the teacher's and the baseline's) and the student term depend only on (N_S,
        # D_S), which takes few distinct values: computed once per pair, gathered per run
        student = {k: d[f"fixed_{k}"] for k in fixed} or sup
        mu = laws.log_student_loss(
            xp,
            d["pair_log_NS"],
            d["pair_log_DS"],
            d["log_LT"],
            supervised=student,
            distillation=theta,
            index=d["pair_index"],
        )
        gap = infinite_data_gap(xp, sup, theta, student)
        pm.Deterministic("infinite_data_gap", gap, dims="limit_student")
        pm.Potential("infinite_data_limit", -0.5 * ((gap / INFINITE_DATA_TOL) ** 2).sum())
        return mu, sup

    def _pymc_pooled_distillation(self, pm, priors, d) -> tuple[Any, dict]:
        """A grouped two-stage distillation fit: the law's log mean at the runs, and each
        group's supervised parameters (``law_group`` dimension).

        The distillation-only parameters are pooled across the law groups
        (:func:`_pymc_pooled`); the supervised law of each group comes from the first stage,
        a grouped supervised fit: held at that group's posterior median for the student's own
        loss (``fixed_*``, one value per group) and drawn from that group's normal
        approximation for the teachers and the baseline (:func:`_cut_supervised_by_group`).
        The infinite-data limit holds for every group's law."""
        xp = laws.pytensor_namespace()
        index = d["law_group_index"]
        names = laws.DISTILLATION_ONLY_SAMPLED
        pooled = _pymc_pooled(pm, priors, names, {})  # every group centred
        sup = _cut_supervised_by_group(pm, d["supervised_mean"], d["supervised_chol"])
        fixed = self.supervised_names
        student_by_group = {k: d[f"fixed_{k}"] for k in fixed}
        mu = laws.log_student_loss(
            xp,
            d["log_NS"],
            d["log_DS"],
            d["log_LT"],
            supervised={k: v[index] for k, v in student_by_group.items()},
            distillation={k: v[index] for k, v in pooled.items()},
        )

        def per_group(values):  # (G,) -> (G, 1, 1), broadcast over the limit's grid
            return {k: v[:, None, None] for k, v in values.items()}

        gap = infinite_data_gap(xp, per_group(sup), per_group(pooled), per_group(student_by_group))
        pm.Deterministic("infinite_data_gap", gap, dims=("law_group", "limit_student"))
        pm.Potential("infinite_data_limit", -0.5 * ((gap / INFINITE_DATA_TOL) ** 2).sum())
        return mu, sup

    def _pymc_supervised_runs(self, pm, priors, d, sup) -> None:
        """The jointly fitted supervised runs' likelihood (constant noise)."""
        xp = laws.pytensor_namespace()
        smu = laws.log_supervised(xp, d["supervised_log_N"], d["supervised_log_D"], **sup)
        if self.discrepancy == "groups":
            tau_s = priors["tau"].to_pymc("tau_supervised_size")
            z_s = pm.Normal("z_supervised_size", 0.0, 1.0, dims="supervised_size_group")
            smu = smu + tau_s * z_s[d["supervised_size_index"]]
        sigma_s = priors["sigma"].to_pymc("sigma_supervised")
        _likelihood("supervised_obs", smu, sigma_s, d["supervised_log_loss"], self.likelihood)

    # ---- NumPy, over posterior draws ----------------------------------------------------
    def log_supervised(self, draws: Draws, log_N: Any, log_D: Any, group: Any = None) -> np.ndarray:
        """Log of the supervised law per draw: ``(S, *broadcast(log_N, log_D))``.

        ``group``: grouped fits, the law group index of each input (broadcast against them),
        whose parameters are gathered from ``draws``.
        """
        log_N, log_D = np.broadcast_arrays(np.asarray(log_N, float), np.asarray(log_D, float))
        if group is None:
            p = draws.params(self.supervised_names, log_N.ndim)
        else:
            p = draws.gather(self.supervised_names, np.broadcast_to(group, log_N.shape))
        return laws.log_supervised(laws.NUMPY, log_N[None], log_D[None], **p)

    def log_mean(self, draws: Draws, logs: Mapping[str, Any], group: Any = None) -> np.ndarray:
        """Log of the law (no noise, no offsets) per draw: ``(S, *shape)``.

        ``logs`` holds the log inputs (keys of :data:`LOG_KEYS`); ``log_LT`` may be given per
        draw, with shape ``(S, *shape)``. ``group``: see :meth:`log_supervised`.
        """
        if self.law != "distillation":
            return self.log_supervised(draws, logs["log_N"], logs["log_D"], group)
        log_NS, log_DS = np.broadcast_arrays(
            np.asarray(logs["log_NS"], float), np.asarray(logs["log_DS"], float)
        )
        log_LT = np.asarray(logs["log_LT"], float)
        lead = log_LT.shape[:1] == (draws.n,)
        ndim = max(log_NS.ndim, log_LT.ndim - 1 if lead else log_LT.ndim)
        per_draw = lead and log_LT.ndim > ndim
        if group is not None:
            group = np.broadcast_to(np.asarray(group, np.int64), log_NS.shape)
            student = self._student_by_group(draws, group)
            dist = draws.gather(laws.DISTILLATION_ONLY_SAMPLED, group)
        else:
            student = self.student_supervised or draws.params(self.supervised_names, ndim)
            dist = draws.params(laws.DISTILLATION_ONLY_SAMPLED, ndim)
        return laws.log_student_loss(
            laws.NUMPY,
            log_NS[None],
            log_DS[None],
            log_LT if per_draw else log_LT[None],
            supervised=student,
            distillation=dist,
        )

    def _student_by_group(self, draws: Draws, group: np.ndarray) -> dict[str, np.ndarray]:
        """Grouped distillation fits: the supervised parameters of the student's own loss at
        each law group index of ``group``, ``(S, *group.shape)``: the group's values held
        fixed by a two-stage fit (:attr:`student_supervised`, one per group), or the draws'
        for a group not fitted (drawn from the population)."""
        student = draws.gather(self.supervised_names, group)
        if self.student_supervised is None:
            return student
        fixed = {k: np.atleast_1d(np.asarray(v, float)) for k, v in self.student_supervised.items()}
        known = group < len(next(iter(fixed.values())))
        at = np.where(known, group, 0)
        return {k: np.where(known, fixed[k][at], v) for k, v in student.items()}

    @property
    def located(self) -> bool:
        """Whether the noise depends on where a run is (it grows with the distance)."""
        return self.noise == "distance" and self.inputs is not None

    def noise_scale_at(
        self,
        draws: Draws,
        shape: tuple[int, ...],
        logs: Mapping[str, np.ndarray] | None,
        law_mean: np.ndarray | None = None,
        group: Any = None,
    ) -> np.ndarray:
        """Noise scale per draw at runs of ``shape``: ``(S, *shape)`` or ``(S, 1, ...)``.

        ``sigma (1 + lambda d^2) exp(-eta clip(u))`` with ``d`` the runs' distance (their log
        inputs ``logs`` and the law's log loss ``law_mean``, computed when not given) from the
        centre of the fitted runs; ``sigma`` alone when the noise is constant.
        """
        ndim = len(shape)
        sigma = draws.scalar("sigma", ndim)
        if "lambda" not in draws or self.inputs is None:
            return sigma
        frame = self.inputs.frame
        if logs is None or any(k not in logs for k in frame.keys):
            needed = [NATURAL_OF[k] for k in frame.keys]
            raise ValueError(
                "This fit's noise grows with the distance from its runs, so predictive draws "
                f"need the location of the new runs: pass at= with {needed}."
            )
        if law_mean is None:
            law_mean = self.log_mean(draws, logs, group)
        family = self.group if group is None else group  # the runs' law group (grouped fits)
        u = frame.loss_coordinate(law_mean, family)
        d_inputs = frame.distance({k: logs[k] for k in frame.keys}, family)
        eta = draws.scalar("eta", ndim) if "eta" in draws else 0.0
        return noise_scale(np, sigma, draws.scalar("lambda", ndim), eta, d_inputs, u, self.growth)

    def _offsets_at(self, draws: Draws, g: str, v: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Offset of factor ``g`` at log values ``v``, per draw: ``(S, *v.shape)``. Values in a
        fitted group reuse its offset; others draw ``tau_g * e`` (a new group)."""
        out = np.broadcast_to(draws.scalar(f"tau_{g}", v.ndim) * e, (draws.n, *v.shape)).copy()
        delta = self.offsets(draws, g)
        if delta is not None:
            known = self.inputs.groups[g].lookup(v, factor_tolerance(self.law, g))
            mask = known >= 0
            if np.any(mask):
                out[:, mask] = delta[:, known[mask]]
        return out

    def offsets(self, draws: Draws, g: str) -> np.ndarray | None:
        """Fitted offset of each group of factor ``g``: ``(S, K)``, or None."""
        if self.inputs is None or f"z_{g}" not in draws:
            return None
        return draws[f"tau_{g}"][:, :1] * draws[f"z_{g}"]

    def noise_draws(
        self,
        draws: Draws,
        shape: tuple[int, ...],
        rng: np.random.Generator,
        *,
        logs: Mapping[str, np.ndarray] | None = None,
        common: bool = False,
        observation: str = "obs",
        law_mean: np.ndarray | None = None,
        group: Any = None,
    ) -> np.ndarray:
        """Predictive deviation of log loss from the law per draw, ``(S, *shape)``: the
        offsets of the runs' groups plus the run noise. See :meth:`ScalingFit.noise_draws`;
        ``group``: grouped fits, the law group index of each run (see :meth:`log_supervised`;
        a run of a group not fitted draws new offsets)."""
        S, shape = draws.n, tuple(shape)
        ndim = len(shape)
        draw_shape = (S,) + ((1,) * ndim if common else shape)

        def unit_noise():
            if self.likelihood == "student_t":
                return rng.standard_t(STUDENT_T_NU, size=draw_shape)
            return rng.standard_normal(draw_shape)

        if observation != "obs":
            name = "sigma_supervised" if "sigma_supervised" in draws else "sigma"
            out = draws.scalar(name, ndim) * unit_noise()
            if "tau_supervised_size" in draws:
                out = out + draws.scalar("tau_supervised_size", ndim) * rng.standard_normal(
                    draw_shape
                )
            return np.broadcast_to(out, (S, *shape)).copy()
        scale = self.noise_scale_at(draws, shape, logs, law_mean, group)
        out = np.broadcast_to(scale * unit_noise(), (S, *shape)).copy()
        factors = factor_values(self.law, logs or {}, self.group if group is None else group)
        for g in group_names(self.law):
            if f"tau_{g}" not in draws:
                continue
            e = rng.standard_normal(draw_shape)
            if g in factors:
                out = out + self._offsets_at(draws, g, np.asarray(factors[g], float), e)
            else:
                out = out + draws.scalar(f"tau_{g}", ndim) * e
        return out

    def loglik(self, draws: Draws, mu: np.ndarray | None = None) -> np.ndarray:
        """Pointwise log-likelihood of the fitted runs per draw, ``(S, n_runs)`` (``mu``: the
        law's log mean at the runs, when already computed)."""
        from scipy import stats

        inputs = self.inputs
        group = None if inputs.law_groups is None else inputs.law_groups.index
        if mu is None:
            mu = self.log_mean(draws, inputs.x, group)
        loc = mu.copy()
        for g, grp in inputs.groups.items():
            delta = self.offsets(draws, g)
            if delta is not None:
                loc += delta[:, grp.index]
        sigma = self.noise_scale_at(draws, (len(inputs.y),), inputs.x, mu, group)
        y = inputs.y[None, :]
        if self.likelihood == "student_t":
            return stats.t.logpdf(y, df=STUDENT_T_NU, loc=loc, scale=sigma)
        return stats.norm.logpdf(y, loc=loc, scale=sigma)
