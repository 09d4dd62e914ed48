"""Where the sampler starts, and in which coordinates, estimated from the runs.

A least-squares point fit of the Chinchilla law (:func:`point_fit`, variable projection) and an
analysis of variance of its residuals by model size give, before any sampling:

* **How far to centre each size's offset.** The offsets ``delta_g ~ Normal(0, tau)`` are sampled
  as ``delta_g = tau^(1 - w_g) zeta_g`` with ``zeta_g ~ Normal(0, tau^w_g)``: ``w_g = 0`` is the
  non-centred form (``zeta = z``), ``w_g = 1`` the centred one (``zeta = delta``). Every ``w``
  gives the same posterior of ``(tau, delta)``; they differ in how well NUTS mixes. The
  non-centred form suits sizes whose runs say little about their offset (it removes the funnel
  between ``tau`` and the offsets); the centred one suits sizes whose offset the runs pin down
  (it removes the ridge ``tau z = delta``, along which ``tau`` otherwise mixes slowly). The
  weight of a size is the share of its offset's precision that comes from its runs in a normal
  model (partial non-centring, Papaspiliopoulos, Roberts and Skold 2007)::

      w_g = n_g tau^2 / (n_g tau^2 + sigma^2)

  with ``tau`` and ``sigma`` from a one-way random-effects analysis of variance of the
  residuals, ``n_g`` the size's number of runs. ``tau`` is taken small within its uncertainty
  (few sizes or few runs per size lower it), since a centred offset with ``tau`` near 0 is a
  funnel. When the runs show no spread between sizes beyond their noise, the weights are 0.
* **A whitened frame for the law's level-share coordinates** (:func:`level_share_frame`): the
  coordinates at the point fit and a Laplace approximation of their covariance there, so that
  the sampler sees coordinates of about unit scale and correlation from its first step (the
  loss level at the centre of the 240 Chinchilla runs is known to 0.0007 nats).
* **Starting values** of the noise parameters and the offsets near their estimates
  (:func:`Analysis.start`), instead of PyMC's points of the priors.

None of this changes the posterior, only how the sampler reaches and explores it; where the
point fit fails (e.g. a negative floor ``E``), the defaults of the model are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import laws

__all__ = [
    "BOUND",
    "MAX_WEIGHT",
    "Analysis",
    "analyse",
    "level_share_frame",
    "level_share_params",
    "point_fit",
]

#: The one-sided probability of the bounds on the mean squares (lower for the spread between
#: groups, upper for the noise within them) at which ``tau`` and ``sigma`` are taken.
BOUND = 0.9

#: The largest weight: a fully centred offset leaves a funnel where ``tau`` nears 0.
MAX_WEIGHT = 0.9


def _solve(gram, rhs):
    """Solve the normal equations, kept solvable when two columns coincide (one model size)."""
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        diag = np.einsum("...ii->...i", gram).max(axis=-1)[..., None, None]
        return np.linalg.solve(gram + 1e-12 * diag * np.eye(gram.shape[-1]), rhs)


def _profile(alpha, beta, x_N, x_D, loss):
    """Least-squares ``(E, A, B)`` (scaled amplitudes) and residual sums of squares, for each
    pair of exponents (``alpha[k], beta[k]``): normal equations of the three columns, batched."""
    alpha = np.atleast_1d(alpha)[:, None]
    beta = np.atleast_1d(beta)[:, None]
    cols = np.stack(
        [np.ones((len(alpha), len(loss))), np.exp(-alpha * x_N), np.exp(-beta * x_D)], axis=-1
    )
    cols_t = cols.transpose(0, 2, 1)
    coef = _solve(cols_t @ cols, cols_t @ loss[:, None])
    resid = loss - (cols @ coef)[..., 0]
    return coef[..., 0], (resid * resid).sum(axis=1)


def point_fit(log_N, log_D, loss, grid: int = 8) -> dict[str, float]:
    """Least-squares fit of the Chinchilla law ``E + A N^-alpha + B D^-beta`` to the loss.

    Variable projection: for fixed ``(alpha, beta)`` the law is linear in ``(E, A, B)``, solved
    exactly; only the exponents are searched (a ``grid x grid`` grid on ``[0.05, 1]^2``, then
    L-BFGS-B with the exact gradient of the projected residual sum of squares). ``N`` and ``D``
    are taken relative to ``laws.N0`` and ``laws.D0``, which keeps the normal equations well
    conditioned.

    Parameters
    ----------
    log_N, log_D : array_like
        Natural logs of the model sizes and token counts.
    loss : array_like
        The runs' losses.
    grid : int
        Points per exponent of the starting grid.

    Returns
    -------
    dict
        ``E, A, B, alpha, beta`` (natural parameters) and ``rss``.
    """
    from scipy.optimize import minimize

    x_N = np.asarray(log_N, float) - np.log(laws.N0)
    x_D = np.asarray(log_D, float) - np.log(laws.D0)
    loss = np.asarray(loss, float)
    g = np.linspace(0.05, 1.0, grid)
    ga, gb = (v.ravel() for v in np.meshgrid(g, g, indexing="ij"))
    _, rss = _profile(ga, gb, x_N, x_D, loss)
    start = np.array([ga[np.argmin(rss)], gb[np.argmin(rss)]])
    ones = np.ones_like(loss)

    def objective(p):
        # the residual sum of squares at the projected (E, A, B) and its gradient in the
        # exponents (at the least-squares (E, A, B) their own derivatives drop out)
        col_N, col_D = np.exp(-p[0] * x_N), np.exp(-p[1] * x_D)
        cols = np.column_stack([ones, col_N, col_D])
        coef = _solve(cols.T @ cols, cols.T @ loss)
        r = loss - cols @ coef
        grad = [2.0 * coef[1] * (r @ (x_N * col_N)), 2.0 * coef[2] * (r @ (x_D * col_D))]
        return float(r @ r), np.array(grad)

    res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(0.01, 2.0)] * 2)
    alpha, beta = (float(v) for v in res.x)
    coef, rss = _profile(alpha, beta, x_N, x_D, loss)
    E, a0, b0 = (float(v) for v in coef[0])
    return {
        "E": E,
        "A": a0 * laws.N0**alpha,
        "B": b0 * laws.D0**beta,
        "alpha": alpha,
        "beta": beta,
        "rss": float(rss[0]),
    }


@dataclass(frozen=True)
class Analysis:
    """The point fit's residuals analysed by group (:func:`analyse`).

    Attributes
    ----------
    fit : dict or None
        The point fit (:func:`point_fit`); None when it failed.
    resid : numpy.ndarray or None
        The runs' log-loss residuals from it.
    weights : numpy.ndarray
        The centring weight ``w_g`` of each group's offset.
    tau, sigma : float
        Point estimates of the spread of the offsets and of the run noise (0 when unknown).
    offsets : numpy.ndarray
        Each group's estimated offset: its mean residual, shrunk towards 0 by
        ``n_g tau^2 / (n_g tau^2 + sigma^2)`` at the point estimates.
    """

    fit: dict | None
    resid: np.ndarray | None
    weights: np.ndarray
    tau: float
    sigma: float
    offsets: np.ndarray

    def start(self, student_t: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Starting values and jitter scales of the noise parameters and the offsets, by the
        name of the sampled (transformed) variable; ``student_t``: whether the noise is
        Student-t (nu = 4), whose scale is its standard deviation over sqrt(2), or normal."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.sigma > 0:
            scale = self.sigma / np.sqrt(2.0) if student_t else self.sigma
            out["sigma_log__"] = (np.log(scale), 0.3)
        if self.tau > 0:
            out["tau_size_log__"] = (np.log(self.tau), 0.3)
            w = self.weights
            # zeta = tau^w z = tau^(w - 1) delta; its spread given the runs ~ tau^w sqrt(1 - w)
            out["zeta_size"] = (
                self.tau ** (w - 1.0) * self.offsets,
                self.tau**w * np.sqrt(np.maximum(1.0 - w, 0.1)),
            )
        out["eta"] = (0.0, 0.1)
        return out


def _residuals(log_N, log_D, log_loss) -> tuple[dict | None, np.ndarray | None]:
    with np.errstate(all="ignore"):
        try:
            p = point_fit(log_N, log_D, np.exp(log_loss))
        except (np.linalg.LinAlgError, ValueError):
            return None, None
    if not min(p["E"], p["A"], p["B"]) > 0:
        return None, None  # not a law (e.g. runs that no law fits)
    natural = {k: p[k] for k in laws.PARAM_NAMES["chinchilla"]}
    theta = laws.to_sampled("chinchilla", natural)
    with np.errstate(all="ignore"):
        resid = log_loss - laws.log_supervised(laws.NUMPY, log_N, log_D, **theta)
    if not np.all(np.isfinite(resid)):
        return None, None
    return p, resid


def analyse(log_N, log_D, log_loss, index, n_groups: int) -> Analysis:
    """Fit the law by least squares and analyse its residuals by group (module docstring).

    Parameters
    ----------
    log_N, log_D, log_loss : array_like
        The runs' log inputs and log losses.
    index : array_like of int
        Each run's group, ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups.

    Returns
    -------
    Analysis
        Weights all 0 (and ``tau = 0``) when the spread between groups is not estimable (no
        group with two runs, a single group, a failed point fit) or not above the noise.
    """
    from scipy.special import chdtri  # chi-square quantile, chdtri(df, 1 - q) = ppf(q)

    log_N, log_D = np.asarray(log_N, float), np.asarray(log_D, float)
    log_loss, index = np.asarray(log_loss, float), np.asarray(index, int)
    n_g = np.bincount(index, minlength=n_groups).astype(float)
    n, used = log_loss.size, int(np.sum(n_g > 0))
    fit, resid = _residuals(log_N, log_D, log_loss)
    none = Analysis(fit, resid, np.zeros(n_groups), 0.0, 0.0, np.zeros(n_groups))
    if resid is None:
        return none
    sigma = float(np.sqrt(np.mean(resid**2)))
    if used < 2 or n - used < 1:
        return Analysis(fit, resid, none.weights, 0.0, sigma, none.offsets)
    # one-way random-effects analysis of variance of the residuals
    means = np.bincount(index, weights=resid, minlength=n_groups) / np.maximum(n_g, 1.0)
    df_within, df_between = n - used, used - 1
    within = float(np.sum((resid - means[index]) ** 2)) / df_within
    between = float(np.sum(n_g * (means - resid.mean()) ** 2)) / df_between
    n0 = (n - float(np.sum(n_g**2)) / n) / df_between
    tau2 = max((between - within) / n0, 0.0)
    # for the weights, tau^2 at the lower end of its range (the between-group mean square at
    # its lower and the within-group one at its upper 90% bound): the centred form is the worse
    # one when tau is small
    low = within * df_within / chdtri(df_within, BOUND)
    tau2_low = max((between * df_between / chdtri(df_between, 1.0 - BOUND) - low) / n0, 0.0)
    if tau2 == 0.0 or within <= 0.0:
        return Analysis(fit, resid, none.weights, 0.0, np.sqrt(within), none.offsets)
    weights = np.minimum(n_g * tau2_low / (n_g * tau2_low + low), MAX_WEIGHT)
    shrink = n_g * tau2 / (n_g * tau2 + within)
    return Analysis(fit, resid, weights, np.sqrt(tau2), np.sqrt(within), shrink * means)


#: The level-share coordinates (see ``model._pymc_level_shares``) and the (mean, sd) of the
#: Normal each is created with when no point fit is at hand.
LEVEL_SHARE_COORDS = {
    "level": (1.0, 2.0),
    "share_N": (0.0, 2.0),
    "share_D": (0.0, 2.0),
    "slope_N": (-2.5, 2.0),
    "slope_D": (-2.5, 2.0),
}


def level_share_params(xp, raw, centre_N, centre_D, gamma=None) -> tuple[dict, Any, Any]:
    """The supervised law's sampled parameters at level-share coordinates ``raw`` (a mapping
    with the keys of :data:`LEVEL_SHARE_COORDS`), and ``log alpha``, ``log beta``.

    ``xp`` is an array namespace of :mod:`bayes_distill.laws` (NumPy or PyTensor).
    """
    log_gamma = 0.0 if gamma is None else xp.log(gamma)
    share = xp.logaddexp(raw["share_N"], raw["share_D"])  # log(R / E)
    split = raw["share_N"] - raw["share_D"]  # log(T_N / T_D)
    log_E = raw["level"] - xp.softplus(share)
    log_R = raw["level"] - xp.softplus(-share)
    log_wN, log_wD = -xp.softplus(-split), -xp.softplus(split)
    log_S = log_R if gamma is None else log_R / gamma
    log_alpha = raw["slope_N"] - log_gamma - log_R - log_wN
    log_beta = raw["slope_D"] - log_gamma - log_R - log_wD
    alpha, beta = xp.exp(log_alpha), xp.exp(log_beta)
    theta = {
        "log_E": log_E,
        "a": log_S + log_wN + alpha * (centre_N - np.log(laws.N0)),
        "b": log_S + log_wD + beta * (centre_D - np.log(laws.D0)),
        "alpha": alpha,
        "beta": beta,
    }
    return theta, log_alpha, log_beta


def level_share_frame(analysis: Analysis, log_N, log_D) -> tuple[np.ndarray, np.ndarray]:
    """The mean and Cholesky factor of the level-share coordinates' frame: ``raw = mean + chol
    x`` with ``x`` of about unit scale.

    At the point fit, ``mean`` is its coordinates and ``chol chol^T`` the Laplace covariance
    ``(J^T J / s^2 + I / 4)^-1`` (``J`` the derivatives of the law's log loss at the runs, ``s``
    the residuals' root mean square, ``I / 4`` the sd-2 Normals the coordinates are created
    with). Without a point fit, those Normals: the means and ``2 I``.
    """
    names = tuple(LEVEL_SHARE_COORDS)
    default = (
        np.array([LEVEL_SHARE_COORDS[k][0] for k in names]),
        np.diag([LEVEL_SHARE_COORDS[k][1] for k in names]),
    )
    fit = analysis.fit
    if fit is None:
        return default
    log_N, log_D = np.asarray(log_N, float), np.asarray(log_D, float)
    c_N, c_D = float(np.mean(log_N)), float(np.mean(log_D))
    T_N = fit["A"] * np.exp(-fit["alpha"] * c_N)
    T_D = fit["B"] * np.exp(-fit["beta"] * c_D)
    mean = np.log(
        [
            fit["E"] + T_N + T_D,
            T_N / fit["E"],
            T_D / fit["E"],
            fit["alpha"] * T_N,
            fit["beta"] * T_D,
        ]
    )

    def log_law(v):
        theta, _, _ = level_share_params(laws.NUMPY, dict(zip(names, v, strict=True)), c_N, c_D)
        return laws.log_supervised(laws.NUMPY, log_N, log_D, **theta)

    h = 1e-6
    jac = np.column_stack(
        [(log_law(mean + h * e) - log_law(mean - h * e)) / (2 * h) for e in np.eye(len(names))]
    )
    s2 = float(np.mean(analysis.resid**2))
    precision = jac.T @ jac / s2 + np.eye(len(names)) / 4.0
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(precision)) and s2 > 0):
        return default
    try:
        chol = np.linalg.cholesky(np.linalg.inv(precision))
    except np.linalg.LinAlgError:
        return default
    return mean, chol
