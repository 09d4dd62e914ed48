"""How far to centre the per-size offsets of a supervised law, estimated from the runs.

The offsets ``delta_g ~ Normal(0, tau)`` are sampled as ``delta_g = tau^(1 - w_g) zeta_g`` with
``zeta_g ~ Normal(0, tau^w_g)``: ``w_g = 0`` is the non-centred form (``zeta = z``), ``w_g = 1``
the centred one (``zeta = delta``). Every ``w`` gives the same posterior of ``(tau, delta)``;
they differ in how well NUTS mixes. The non-centred form suits sizes whose runs say little
about their offset (it removes the funnel between ``tau`` and the offsets); the centred one
suits sizes whose offset the runs pin down (it removes the ridge ``tau z = delta``, along
which ``tau`` otherwise mixes slowly). The weight of a size is the share of its offset's
precision that comes from its runs in a normal model (partial non-centring, Papaspiliopoulos,
Roberts and Skold 2007)::

    w_g = n_g tau^2 / (n_g tau^2 + sigma^2)

with ``tau`` and ``sigma`` estimated by a one-way random-effects analysis of variance of the
runs' residuals from a least-squares point fit of the Chinchilla law (:func:`point_fit`), ``n_g``
the size's number of runs. ``tau`` is taken small within its uncertainty (few sizes or few runs
per size lower it), since a centred offset with ``tau`` near 0 is a funnel. When the runs show
no spread between sizes beyond their noise, the weights are 0 and the model is the non-centred
one.
"""

from __future__ import annotations

import numpy as np

from . import laws

__all__ = ["BOUND", "MAX_WEIGHT", "offset_weights", "point_fit"]

#: The one-sided probability of the bounds on the mean squares (lower for the spread between
#: groups, upper for the noise within them) at which ``tau`` and ``sigma`` are taken.
BOUND = 0.9

#: The largest weight: a fully centred offset leaves a funnel where ``tau`` nears 0.
MAX_WEIGHT = 0.9


def _profile(alpha, beta, x_N, x_D, loss):
    """Least-squares ``(E, A, B)`` (scaled amplitudes) and residual sums of squares, for each
    pair of exponents (arrays of one shape)."""
    alpha, beta = np.atleast_1d(alpha), np.atleast_1d(beta)
    cols = np.stack(
        [
            np.ones((alpha.size, loss.size)),
            np.exp(-alpha[:, None] * x_N),
            np.exp(-beta[:, None] * x_D),
        ],
        axis=-1,
    )
    gram = np.einsum("kni,knj->kij", cols, cols)
    rhs = np.einsum("kni,n->ki", cols, loss)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    resid = loss - np.einsum("kni,ki->kn", cols, coef)
    return coef, np.einsum("kn,kn->k", resid, resid)


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
        coef = np.linalg.solve(cols.T @ cols, cols.T @ loss)
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


def offset_weights(log_N, log_D, log_loss, index, n_groups: int) -> np.ndarray:
    """The centring weight ``w_g`` of each group's offset (see the module docstring).

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
    numpy.ndarray
        One weight in ``[0, MAX_WEIGHT]`` per group; all 0 when the spread between groups is
        not estimable (no group with two runs, or a single group) or not above the noise.
    """
    index = np.asarray(index, int)
    log_loss = np.asarray(log_loss, float)
    n_g = np.bincount(index, minlength=n_groups).astype(float)
    n, used = log_loss.size, int(np.sum(n_g > 0))
    if used < 2 or n - used < 1:
        return np.zeros(n_groups)
    with np.errstate(all="ignore"):
        p = point_fit(log_N, log_D, np.exp(log_loss))
        fitted = p["E"] + p["A"] * np.exp(-p["alpha"] * np.asarray(log_N, float))
        fitted = fitted + p["B"] * np.exp(-p["beta"] * np.asarray(log_D, float))
        resid = log_loss - np.log(fitted)
    if not np.all(np.isfinite(resid)):
        return np.zeros(n_groups)
    from scipy.special import chdtri  # chi-square quantile, chdtri(df, 1 - q) = ppf(q)

    # one-way random-effects analysis of variance of the residuals; tau^2 at the lower end of
    # its range (the between-group mean square at its lower and the within-group one at its
    # upper 90% bound), because the centred form is the worse one when tau is small
    means = np.bincount(index, weights=resid, minlength=n_groups) / np.maximum(n_g, 1.0)
    df_within, df_between = n - used, used - 1
    within = float(np.sum((resid - means[index]) ** 2)) / df_within
    between = float(np.sum(n_g * (means - resid.mean()) ** 2)) / df_between
    within *= df_within / chdtri(df_within, BOUND)
    between *= df_between / chdtri(df_between, 1.0 - BOUND)
    n0 = (n - float(np.sum(n_g**2)) / n) / df_between
    tau2 = max((between - within) / n0, 0.0)
    if tau2 == 0.0 or within <= 0.0:
        return np.zeros(n_groups)
    return np.minimum(n_g * tau2 / (n_g * tau2 + within), MAX_WEIGHT)
