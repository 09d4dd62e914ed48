"""The scaling laws, written once against an array namespace.

Three laws are implemented (``docs/model.md``):

* ``"supervised"``: ``L(N, D) = E + (A / N**alpha + B / D**beta) ** gamma`` (Busbridge et al.
  2025, Eq. 1);
* ``"chinchilla"``: the same with ``gamma = 1`` (Hoffmann et al. 2022, Approach 3);
* ``"distillation"``: the student's cross-entropy against data (Busbridge et al. 2025, Eq. 8)::

      L_S = L_T + L_T**(-c0) * (1 + (L_T / (d1 * Lt_S))**(1/f1))**(-c1*f1)
                * (A'/N_S**alpha' + B'/D_S**beta')**gamma'

  where ``Lt_S = L(N_S, D_S)`` is the supervised law.

Every law is evaluated in log space by one function that takes an *array namespace* ``xp``:
:data:`NUMPY` for predictions over posterior draws (NumPy broadcasting, so xarray objects work
too) and :func:`pytensor_namespace` inside the PyMC model. The same code therefore serves the
model, the predictions and the decisions.

The natural parameters (``E, A, B, alpha, ...``) are what users see. The sampler works on a
reparameterisation that removes the long, thin ridges of the natural one:

* ``log_E``;
* ``a = log A - alpha * log N0`` and ``b = log B - beta * log D0``: the log of each term at the
  reference scales ``N0 = 1e9`` parameters and ``D0 = 1e10`` tokens;
* ``kappa = c1 * f1`` and ``inv_f1 = 1 / f1`` instead of ``c1`` and ``f1`` (only these two are
  identified by data: the break in the distillation law is nearly a step);
* ``log_d1``;
* for the distillation term ``(A'/N_S**alpha' + B'/D_S**beta')**gamma'``, the exponent
  ``gamma'`` is absorbed into the terms: ``n_prime = gamma' (log A' - alpha' log N0)``,
  ``d_prime = gamma' (log B' - beta' log D0)`` (the logs of each term raised to ``gamma'`` at the
  reference scales), ``alpha_prime_eff = gamma' alpha'`` and ``beta_prime_eff = gamma' beta'``
  (the slopes the data see when one term dominates). In the natural parameterisation
  ``gamma'`` is almost perfectly correlated with ``alpha'`` and ``A'`` (posterior correlations
  of -0.96 and 0.97 on the Figure-1 runs); this removes that ridge.

:func:`to_natural` and :func:`to_sampled` convert between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = [
    "D0",
    "DISTILLATION_ONLY_SAMPLED",
    "LAWS",
    "N0",
    "NUMPY",
    "PAPER",
    "PARAM_NAMES",
    "POSITIVE_NAMES",
    "SAMPLED_NAMES",
    "distillation_loss",
    "log_distillation",
    "log_student_loss",
    "log_supervised",
    "pytensor_namespace",
    "supervised_loss",
    "to_natural",
    "to_sampled",
]

#: Reference scales at which the amplitudes are centred for sampling.
N0 = 1e9
D0 = 1e10

LAWS = ("chinchilla", "supervised", "distillation")

_SUPERVISED = ("E", "A", "B", "alpha", "beta", "gamma")
_DISTILLATION_ONLY = (
    "A_prime",
    "B_prime",
    "alpha_prime",
    "beta_prime",
    "gamma_prime",
    "c0",
    "c1",
    "f1",
    "d1",
)

#: Natural parameter names of each law (``gamma`` is fixed to 1 in the Chinchilla law).
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "chinchilla": ("E", "A", "B", "alpha", "beta"),
    "supervised": _SUPERVISED,
    "distillation": _SUPERVISED + _DISTILLATION_ONLY,
}

#: Names of the sampled (unconstrained-friendly) parameters of each law.
SAMPLED_NAMES: dict[str, tuple[str, ...]] = {
    "chinchilla": ("log_E", "a", "b", "alpha", "beta"),
    "supervised": ("log_E", "a", "b", "alpha", "beta", "gamma"),
    "distillation": (
        "log_E",
        "a",
        "b",
        "alpha",
        "beta",
        "gamma",
        "n_prime",
        "d_prime",
        "alpha_prime_eff",
        "beta_prime_eff",
        "gamma_prime",
        "c0",
        "kappa",
        "inv_f1",
        "log_d1",
    ),
}

#: Sampled parameters that are positive (exponents, ``kappa``, ``1 / f1``): their priors are on
#: the positive numbers, a two-stage fit's normal approximation and a grouped fit's pooling take
#: them on the log scale.
POSITIVE_NAMES = (
    "alpha",
    "beta",
    "gamma",
    "alpha_prime_eff",
    "beta_prime_eff",
    "gamma_prime",
    "kappa",
    "inv_f1",
)

#: The sampled parameters of the distillation law's student term (:func:`log_student_term`).
STUDENT_TERM_NAMES = ("n_prime", "d_prime", "alpha_prime_eff", "beta_prime_eff", "gamma_prime")

#: Published fits, Busbridge et al. (2025) Table 6: the supervised law (73 runs) and the
#: distillation law (697 runs). Use them as prior centres, not as truth: ``c1`` is not identified
#: (only ``c1 * f1`` and ``1 / f1`` are) and ``B_prime`` with ``beta_prime`` does not reproduce
#: the paper's own Figure 1 (RMSE 0.043 nats on its runs; ``B'`` near 2e6 gives about 0.01).
PAPER: dict[str, float] = {
    "E": 1.220,
    "A": 3355.0,
    "B": 18186.0,
    "alpha": 0.408,
    "beta": 0.431,
    "gamma": 0.452,
    "A_prime": 2243.0,
    "B_prime": 24181.0,
    "alpha_prime": 0.321,
    "beta_prime": 0.637,
    "gamma_prime": 0.764,
    "c0": 2.549,
    "c1": 522.6,
    "f1": 0.090,
    "d1": 1.315,
}


def _scipy_logsumexp(x, axis):
    from scipy.special import logsumexp

    return logsumexp(x, axis=axis)


NUMPY = SimpleNamespace(
    name="numpy",
    log=np.log,
    exp=np.exp,
    logaddexp=np.logaddexp,
    softplus=lambda x: np.logaddexp(0.0, x),
    logsumexp=lambda x, axis: _scipy_logsumexp(x, axis=axis),
)
"""Array namespace for NumPy (and anything that follows NumPy's ufuncs, such as xarray)."""


def pytensor_namespace() -> SimpleNamespace:
    """Return the array namespace for PyTensor (imported lazily: PyTensor is slow to import)."""
    import pytensor.tensor as pt

    return SimpleNamespace(
        name="pytensor",
        log=pt.log,
        exp=pt.exp,
        sqrt=pt.sqrt,
        tanh=pt.tanh,
        logaddexp=pt.logaddexp,
        softplus=pt.softplus,
        logsumexp=pt.logsumexp,
    )


def log_supervised(xp: Any, log_N: Any, log_D: Any, *, log_E, a, b, alpha, beta, gamma=1.0):
    """Log of the supervised law in the sampled parameterisation.

    ``log L = logaddexp(log E, gamma * logaddexp(a - alpha (log N - log N0),
    b - beta (log D - log D0)))``.
    """
    n_term = a - alpha * (log_N - np.log(N0))
    d_term = b - beta * (log_D - np.log(D0))
    return xp.logaddexp(log_E, gamma * xp.logaddexp(n_term, d_term))


def log_student_term(
    xp: Any, log_NS: Any, log_DS: Any, *, n_prime, d_prime, alpha_prime_eff, beta_prime_eff,
    gamma_prime,
):  # fmt: skip
    """Log of the distillation law's student term ``(A' N_S^-alpha' + B' D_S^-beta')^gamma'``."""
    n_term = n_prime - alpha_prime_eff * (log_NS - np.log(N0))
    d_term = d_prime - beta_prime_eff * (log_DS - np.log(D0))
    return gamma_prime * xp.logaddexp(n_term / gamma_prime, d_term / gamma_prime)


def log_distillation(
    xp: Any,
    log_NS: Any,
    log_DS: Any,
    log_LT: Any,
    *,
    log_LtS,
    n_prime,
    d_prime,
    alpha_prime_eff,
    beta_prime_eff,
    gamma_prime,
    c0,
    kappa,
    inv_f1,
    log_d1,
    student_term=None,
):
    """Log of the distillation law (paper Eq. 8) in the sampled parameterisation.

    ``log_LtS`` is the log of the supervised loss of the same student on the same tokens.
    ``student_term``, when given, is :func:`log_student_term` at ``(log_NS, log_DS)`` already
    computed (the model computes it once per distinct student and token count).
    """
    if student_term is None:
        student_term = log_student_term(
            xp,
            log_NS,
            log_DS,
            n_prime=n_prime,
            d_prime=d_prime,
            alpha_prime_eff=alpha_prime_eff,
            beta_prime_eff=beta_prime_eff,
            gamma_prime=gamma_prime,
        )
    gap = -c0 * log_LT - kappa * xp.softplus(inv_f1 * (log_LT - log_LtS - log_d1)) + student_term
    return xp.logaddexp(log_LT, gap)


#: The distillation law's own sampled parameters (those not shared with the supervised law).
DISTILLATION_ONLY_SAMPLED = tuple(
    k for k in SAMPLED_NAMES["distillation"] if k not in SAMPLED_NAMES["supervised"]
)


def log_student_loss(
    xp: Any,
    log_NS: Any,
    log_DS: Any,
    log_LT: Any,
    *,
    supervised: Mapping[str, Any],
    distillation: Mapping[str, Any],
    index: Any = None,
):
    """Log student loss of the distillation law, assembled from its parts.

    The one place where the distillation law meets the supervised law: the student's own
    supervised loss ``L(N_S, D_S)`` (with the ``supervised`` parameters: sampled names
    ``log_E, a, b, alpha, beta, gamma``) and the law's student term depend only on
    ``(log_NS, log_DS)``; :func:`log_distillation` combines them with the teacher's loss.

    Parameters
    ----------
    xp : namespace
        :data:`NUMPY` (arrays broadcast over draws) or :func:`pytensor_namespace`.
    log_NS, log_DS : array_like
        Log student size and tokens.
    log_LT : array_like
        Log teacher loss, broadcastable against the student quantities (after ``index``).
    supervised, distillation : mapping
        Sampled parameters: the supervised law of the student's own loss, and the
        distillation-only ones (:data:`DISTILLATION_ONLY_SAMPLED`; extra keys are ignored).
    index : array_like of int, optional
        When ``(log_NS, log_DS)`` are the distinct student pairs, the pair of each run: the
        student quantities are computed once per pair and gathered.
    """
    dist = {k: distillation[k] for k in DISTILLATION_ONLY_SAMPLED}
    sup = {k: supervised[k] for k in SAMPLED_NAMES["supervised"] if k in supervised}
    log_LtS = log_supervised(xp, log_NS, log_DS, **sup)
    term = log_student_term(xp, log_NS, log_DS, **{k: dist[k] for k in STUDENT_TERM_NAMES})
    if index is not None:
        log_LtS, term = log_LtS[index], term[index]
    return log_distillation(xp, None, None, log_LT, log_LtS=log_LtS, student_term=term, **dist)


def to_sampled(law: str, natural: Mapping[str, Any]) -> dict[str, Any]:
    """Convert natural parameters (``E, A, alpha, ...``) to the sampled parameterisation.

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    natural : mapping
        Natural parameters; values may be scalars or arrays (broadcast elementwise).

    Returns
    -------
    dict
        The sampled parameters named in :data:`SAMPLED_NAMES`.
    """
    _check_law(law)
    p = natural
    out = {
        "log_E": np.log(p["E"]),
        "a": np.log(p["A"]) - p["alpha"] * np.log(N0),
        "b": np.log(p["B"]) - p["beta"] * np.log(D0),
        "alpha": p["alpha"],
        "beta": p["beta"],
    }
    if law != "chinchilla":
        out["gamma"] = p.get("gamma", 1.0)
    if law == "distillation":
        g = p["gamma_prime"]
        out.update(
            n_prime=g * (np.log(p["A_prime"]) - p["alpha_prime"] * np.log(N0)),
            d_prime=g * (np.log(p["B_prime"]) - p["beta_prime"] * np.log(D0)),
            alpha_prime_eff=g * p["alpha_prime"],
            beta_prime_eff=g * p["beta_prime"],
            gamma_prime=g,
            c0=p["c0"],
            kappa=p["c1"] * p["f1"],
            inv_f1=1.0 / p["f1"],
            log_d1=np.log(p["d1"]),
        )
    return out


def to_natural(law: str, sampled: Mapping[str, Any]) -> dict[str, Any]:
    """Convert sampled parameters to natural ones (the inverse of :func:`to_sampled`).

    Works elementwise on scalars, NumPy arrays and xarray objects.
    """
    _check_law(law)
    s = sampled
    out = {
        "E": np.exp(s["log_E"]),
        "A": np.exp(s["a"] + s["alpha"] * np.log(N0)),
        "B": np.exp(s["b"] + s["beta"] * np.log(D0)),
        "alpha": s["alpha"],
        "beta": s["beta"],
    }
    if law != "chinchilla":
        out["gamma"] = s["gamma"]
    if law == "distillation":
        g = s["gamma_prime"]
        alpha_p = s["alpha_prime_eff"] / g
        beta_p = s["beta_prime_eff"] / g
        out.update(
            A_prime=np.exp(s["n_prime"] / g + alpha_p * np.log(N0)),
            B_prime=np.exp(s["d_prime"] / g + beta_p * np.log(D0)),
            alpha_prime=alpha_p,
            beta_prime=beta_p,
            gamma_prime=g,
            c0=s["c0"],
            c1=s["kappa"] * s["inv_f1"],
            f1=1.0 / s["inv_f1"],
            d1=np.exp(s["log_d1"]),
        )
    return out


def _check_law(law: str) -> None:
    if law not in LAWS:
        raise ValueError(
            f"Unknown law {law!r}. Valid laws are {', '.join(map(repr, LAWS))}: 'chinchilla' "
            "(Hoffmann et al. 2022), 'supervised' (with the gamma exponent of Busbridge et al. "
            "2025) and 'distillation' (Busbridge et al. 2025, Eq. 8)."
        )


def _positive(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} must be finite and positive, got {value!r}. Pass parameter counts and "
            "token counts as plain numbers (e.g. 1e9 for one billion) and losses in nats/token."
        )
    return arr


def supervised_loss(N, D, *, E, A, B, alpha, beta, gamma=1.0):
    """Evaluate the supervised scaling law ``E + (A / N**alpha + B / D**beta) ** gamma``.

    Parameters
    ----------
    N : array_like
        Non-embedding parameters (e.g. ``7.75e9``).
    D : array_like
        Training tokens.
    E, A, B, alpha, beta, gamma : float or array_like
        Law parameters; ``gamma=1`` gives the Chinchilla law. Arrays broadcast with ``N`` and
        ``D`` (NumPy rules), so posterior draws can be passed directly.

    Returns
    -------
    numpy.ndarray
        Cross-entropy in nats/token.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> p = {k: bd.laws.PAPER[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")}
    >>> round(float(bd.laws.supervised_loss(7.75e9, 512e9, **p)), 3)
    1.933
    """
    log_N = np.log(_positive("N", N))
    log_D = np.log(_positive("D", D))
    sampled = to_sampled(
        "supervised", {"E": E, "A": A, "B": B, "alpha": alpha, "beta": beta, "gamma": gamma}
    )
    return np.exp(log_supervised(NUMPY, log_N, log_D, **sampled))


def distillation_loss(
    N_S,
    D_S,
    L_T,
    *,
    E,
    A,
    B,
    alpha,
    beta,
    gamma,
    A_prime,
    B_prime,
    alpha_prime,
    beta_prime,
    gamma_prime,
    c0,
    c1,
    f1,
    d1,
):
    """Evaluate the distillation scaling law (Busbridge et al. 2025, Eq. 8).

    Parameters
    ----------
    N_S : array_like
        Student non-embedding parameters.
    D_S : array_like
        Distillation tokens.
    L_T : array_like
        Teacher cross-entropy in nats/token.
    E, A, B, alpha, beta, gamma : float or array_like
        Supervised-law parameters, used for the student's supervised loss ``L(N_S, D_S)``.
    A_prime, B_prime, alpha_prime, beta_prime, gamma_prime, c0, c1, f1, d1 : float or array_like
        Distillation-law parameters.

    Returns
    -------
    numpy.ndarray
        Student cross-entropy against data, in nats/token; never below ``L_T``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> float(bd.laws.distillation_loss(1e9, 2e10, 2.3, **bd.laws.PAPER)) > 2.3
    True
    """
    natural = {
        "E": E,
        "A": A,
        "B": B,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
        "A_prime": A_prime,
        "B_prime": B_prime,
        "alpha_prime": alpha_prime,
        "beta_prime": beta_prime,
        "gamma_prime": gamma_prime,
        "c0": c0,
        "c1": c1,
        "f1": f1,
        "d1": d1,
    }
    s = to_sampled("distillation", natural)
    log_NS = np.log(_positive("N_S", N_S))
    log_DS = np.log(_positive("D_S", D_S))
    log_LT = np.log(_positive("L_T", L_T))
    return np.exp(log_student_loss(NUMPY, log_NS, log_DS, log_LT, supervised=s, distillation=s))
