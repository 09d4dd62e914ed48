"""Priors for the scaling-law parameters.

Every prior is stated on the *sampled* scale (see :mod:`bayes_distill.laws`) and documented in
natural units below. ``N0 = 1e9`` parameters and ``D0 = 1e10`` tokens are the reference scales.

Default, weakly informative priors (``priors=None``)
----------------------------------------------------
Supervised and Chinchilla laws:

============  ==========================  ==================================================
parameter     prior (sampled scale)        what it allows (central 95%, natural units)
============  ==========================  ==================================================
``log_E``     Normal(0.4, 0.5)             irreducible loss E in [0.56, 4.0] nats/token
``a``         Normal(-1, 1.5)              the N-term A / N0**alpha in [0.02, 7] nats
``b``         Normal(-1, 1.5)              the D-term B / D0**beta in [0.02, 7] nats
``alpha``     LogNormal(log 0.35, 0.5)     alpha in [0.13, 0.93]
``beta``      LogNormal(log 0.35, 0.5)     beta in [0.13, 0.93]
``gamma``     LogNormal(log 0.7, 0.4)      gamma in [0.32, 1.5] (supervised law only)
============  ==========================  ==================================================

Distillation law (in addition, the supervised parameters above are needed for the student's
supervised loss; without supervised runs they get the paper-informed prior, see below):

====================  ==========================  ===========================================
``n_prime``            Normal(0, 1.5)             gamma' log(A' / N0**alpha') in [-2.9, 2.9]
``d_prime``            Normal(-1, 2)              gamma' log(B' / D0**beta') in [-4.9, 2.9]
``alpha_prime_eff``    LogNormal(log 0.3, 0.6)    gamma' alpha' in [0.09, 0.97]
``beta_prime_eff``     LogNormal(log 0.35, 0.7)   gamma' beta' in [0.09, 1.4]
``gamma_prime``        LogNormal(log 0.75, 0.15)  gamma' in [0.56, 1.0]
``c0``                 Normal(2.5, 1.5)           c0 in [-0.4, 5.4]
``kappa``              LogNormal(log 47, 1)       c1 * f1 in [6, 330]
``inv_f1``             LogNormal(log 11, 0.7)     1 / f1 in [2.8, 44]
``log_d1``             Normal(log 1.3, 0.3)       d1 in [0.72, 2.3]
====================  ==========================  ===========================================

The distillation term's exponent ``gamma'`` is absorbed into its amplitudes and slopes (see
:mod:`bayes_distill.laws`): the priors above are on ``gamma' alpha'`` etc., which is what the
data constrain.

Noise and discrepancy (all laws; log-loss scale):

``sigma`` HalfNormal(0.02): run-to-run noise, about 2% of the loss at most a priori;
``tau`` HalfNormal(0.02): spread of the systematic offset shared by runs of one group (one
model size; supervised laws only);
``lambda`` HalfNormal(0.3): growth of the noise scale with the run's standardised distance from
the centre of the runs (``sigma (1 + lambda d^2)``); see :mod:`bayes_distill.model`. At the
edge of typical run sets (``d`` ~ 3) the prior median makes the noise ~2.8 times its central
value, and its 95% quantile ~6 times (a HalfNormal(1) on the quadratic growth let the prior
predictive noise swamp the law).
``eta`` Normal(0, 0.3): how the noise scale changes towards lower predicted loss
(``exp(-eta u)``, ``u`` the law's standardised log loss, soft-clipped at 3); ``eta = 0.3``
makes it ~2 times larger for a run predicted 1.2 standard deviations of the runs' log loss
below their centre than for one 1.2 above, and at most ~6 times larger at the clip.

Grouped fits (``bd.fit(..., groups="COLUMN")``): each law parameter above becomes the
population value of the groups' (``alpha_mu``; its prior is the one above), and the groups
spread around it with a learned scale (``alpha_sd``) whose prior is :data:`GROUP_SD_PRIORS`:
LogNormal(log 0.1, 0.5) on the log scale of the exponents (groups' exponents differ by 4-27%,
central 95%), LogNormal(log 0.15, 0.5) on ``log_E`` (0.06-0.4) and LogNormal(log 0.3, 0.5) on
``a``, ``b`` (0.11-0.8): data recipes change the floor and the amplitudes more than the
exponents. The distillation law's own parameters spread like their supervised counterparts
(LogNormal(log 0.3, 0.5) on ``n_prime``, ``d_prime``; LogNormal(log 0.1, 0.5) on the log of
``alpha_prime_eff``, ``beta_prime_eff``, ``kappa``, ``inv_f1``), ``gamma_prime`` half as much
(its own prior is narrow), ``c0`` and ``log_d1`` little (LogNormal(log 0.15, 0.5) and
LogNormal(log 0.08, 0.5): the capacity gap describes how a student follows a teacher, which a
data recipe changes little). With a few groups a spread is learned mostly from its prior, so
the prior decides how much a small group borrows; ``priors={"alpha_sd": ...}`` sets it (see
:func:`resolve_priors`). A tighter default, LogNormal(log 0.04, 0.6), was measured and not
kept: on SIMULATED families (``benchmarks/groups_study.py``) it narrowed a one-budget family's
exponents but predicted its larger budgets worse in 7 of 8 studies (one tie), with 90%
intervals that covered 40-50% of them in two. None of the priors puts much mass near zero,
which keeps the sampler out of the neck of the hierarchy's funnel: with Gamma(2, 10) on
``log_E`` and Gamma(2, 5) on ``a``, ``b`` (similar medians, more mass near zero), NUTS diverged
in the centred hierarchy (see :func:`bayes_distill.model._pymc_pooled`).

Paper-informed priors (``priors="paper"``)
------------------------------------------
Centred on the published fits (``laws.PAPER``): the supervised law on Busbridge et al.
Table 6 (Chinchilla law on the Epoch AI replication), with standard deviations several times the
papers' bootstrap intervals (``log_E`` 0.1, ``a``/``b`` 0.5, log-exponents 0.15). Inside the
distillation law (the default there too, for the supervised part) the supervised prior is
narrower: 0.05 on ``log_E``, 0.2 on ``a``/``b`` and 0.07 on the log-exponents, because without
supervised runs only this prior carries the supervised law (see the comment in the source);
``d_prime`` and ``beta_prime_eff`` stay wide because the published
``B'`` does not reproduce the paper's own Figure 1.

Overriding priors
-----------------
Pass a mapping from *sampled* parameter name to a :class:`Prior` (or a ``(dist, params)``
tuple), alone or on top of a base set::

    from bayes_distill.priors import Prior
    bd.fit(runs, law="chinchilla", priors={"alpha": Prior("Normal", mu=0.35, sigma=0.05)})
    bd.fit(runs, law="distillation",
           priors={"base": "paper", "beta_prime_eff": ("LogNormal", {"mu": -1, "sigma": 1})})

Natural names (``E``, ``A``, ``B``, ``c1``, ``f1``, ``d1``) are refused with a message naming
the sampled parameter that carries them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import laws

__all__ = [
    "GROUP_SD_PRIORS",
    "Prior",
    "default_priors",
    "paper_priors",
    "resolve_priors",
    "sample_prior",
]

_DISTS = {
    "Normal": ("mu", "sigma"),
    "LogNormal": ("mu", "sigma"),
    "HalfNormal": ("sigma",),
    "TruncatedNormal": ("mu", "sigma", "lower", "upper"),
    "Gamma": ("alpha", "beta"),
    "Exponential": ("lam",),
    "Uniform": ("lower", "upper"),
}

_NATURAL_TO_SAMPLED = {
    "E": "log_E (the log of E)",
    "A": "a (= log A - alpha log 1e9, the log of the N-term at N0 = 1e9)",
    "B": "b (= log B - beta log 1e10, the log of the D-term at D0 = 1e10)",
    "A_prime": "n_prime (= gamma' (log A' - alpha' log 1e9))",
    "B_prime": "d_prime (= gamma' (log B' - beta' log 1e10))",
    "alpha_prime": "alpha_prime_eff (= gamma' alpha')",
    "beta_prime": "beta_prime_eff (= gamma' beta')",
    "c1": "kappa (= c1 * f1)",
    "f1": "inv_f1 (= 1 / f1)",
    "d1": "log_d1 (the log of d1)",
}

NOISE_NAMES = ("sigma", "tau", "lambda", "eta")


@dataclass(frozen=True)
class Prior:
    """A prior distribution on one sampled parameter.

    Parameters
    ----------
    dist : str
        A PyMC distribution name: ``Normal``, ``LogNormal``, ``HalfNormal``,
        ``TruncatedNormal``, ``Gamma``, ``Exponential`` or ``Uniform``.
    **params
        The distribution's parameters, with PyMC's names.

    Examples
    --------
    >>> from bayes_distill.priors import Prior
    >>> Prior("Normal", mu=0.35, sigma=0.05)
    Prior('Normal', mu=0.35, sigma=0.05)
    """

    dist: str
    params: dict[str, float] = field(default_factory=dict)

    def __init__(self, dist: str, params: Mapping[str, float] | None = None, **kwargs: float):
        if dist not in _DISTS:
            raise ValueError(
                f"Unknown prior distribution {dist!r}. Valid ones are {', '.join(_DISTS)}."
            )
        merged = dict(params or {}, **kwargs)
        needed = set(_DISTS[dist])
        if set(merged) != needed:
            raise ValueError(
                f"Prior {dist!r} needs exactly the parameters {sorted(needed)}, got "
                f"{sorted(merged)}."
            )
        for key, value in merged.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"Prior {dist!r}: {key}={value!r} must be a finite number.")
        for key in ("sigma", "lam", "beta"):
            if key in merged and merged[key] <= 0 and not (dist == "Gamma" and key == "alpha"):
                raise ValueError(f"Prior {dist!r}: {key}={merged[key]!r} must be positive.")
        if "lower" in merged and merged["lower"] >= merged["upper"]:
            lower, upper = merged["lower"], merged["upper"]
            raise ValueError(f"Prior {dist!r}: lower={lower!r} must be below upper={upper!r}.")
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "params", {k: float(v) for k, v in merged.items()})

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"Prior({self.dist!r}, {inner})"

    def to_pymc(self, name: str):
        """Create the PyMC random variable (inside a model context)."""
        import pymc as pm

        return getattr(pm, self.dist)(name, **self.params)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values with NumPy (for prior predictive checks and simulations)."""
        p = self.params
        if self.dist == "Normal":
            return rng.normal(p["mu"], p["sigma"], size)
        if self.dist == "LogNormal":
            return np.exp(rng.normal(p["mu"], p["sigma"], size))
        if self.dist == "HalfNormal":
            return np.abs(rng.normal(0.0, p["sigma"], size))
        if self.dist == "TruncatedNormal":
            from scipy.stats import truncnorm

            a = (p["lower"] - p["mu"]) / p["sigma"]
            b = (p["upper"] - p["mu"]) / p["sigma"]
            return truncnorm.rvs(a, b, loc=p["mu"], scale=p["sigma"], size=size, random_state=rng)
        if self.dist == "Gamma":
            return rng.gamma(p["alpha"], 1.0 / p["beta"], size)
        if self.dist == "Exponential":
            return rng.exponential(1.0 / p["lam"], size)
        return rng.uniform(p["lower"], p["upper"], size)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (stored in saved fits)."""
        return {"dist": self.dist, **self.params}


def _ln(x: float) -> float:
    return float(np.log(x))


_NOISE = {
    "sigma": Prior("HalfNormal", sigma=0.02),
    "tau": Prior("HalfNormal", sigma=0.02),
    "lambda": Prior("HalfNormal", sigma=0.3),
    "eta": Prior("Normal", mu=0.0, sigma=0.3),
}

#: Priors of the spread of each law parameter across the groups of a grouped fit (see the
#: module docstring): on the log scale for the exponents, additive for ``log_E, a, b``.
GROUP_SD_PRIORS = {
    "log_E": Prior("LogNormal", mu=_ln(0.15), sigma=0.5),
    "a": Prior("LogNormal", mu=_ln(0.3), sigma=0.5),
    "b": Prior("LogNormal", mu=_ln(0.3), sigma=0.5),
    "alpha": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "beta": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "gamma": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    # the distillation law's own parameters (grouped distillation fits): the student term's
    # log amplitudes like a and b, its exponents like alpha and beta; gamma' has a narrow prior
    # (0.15 on its log) and spreads half as much; the capacity gap's break (c0, kappa, 1/f1,
    # d1) describes how a student follows a teacher, which a data recipe changes little
    "n_prime": Prior("LogNormal", mu=_ln(0.3), sigma=0.5),
    "d_prime": Prior("LogNormal", mu=_ln(0.3), sigma=0.5),
    "alpha_prime_eff": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "beta_prime_eff": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "gamma_prime": Prior("LogNormal", mu=_ln(0.05), sigma=0.5),
    "c0": Prior("LogNormal", mu=_ln(0.15), sigma=0.5),
    "kappa": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "inv_f1": Prior("LogNormal", mu=_ln(0.1), sigma=0.5),
    "log_d1": Prior("LogNormal", mu=_ln(0.08), sigma=0.5),
}

_SUPERVISED_DEFAULT = {
    "log_E": Prior("Normal", mu=0.4, sigma=0.5),
    "a": Prior("Normal", mu=-1.0, sigma=1.5),
    "b": Prior("Normal", mu=-1.0, sigma=1.5),
    "alpha": Prior("LogNormal", mu=_ln(0.35), sigma=0.5),
    "beta": Prior("LogNormal", mu=_ln(0.35), sigma=0.5),
    "gamma": Prior("LogNormal", mu=_ln(0.7), sigma=0.4),
}

_DISTILLATION_DEFAULT = {
    "n_prime": Prior("Normal", mu=0.0, sigma=1.5),
    "d_prime": Prior("Normal", mu=-1.0, sigma=2.0),
    "alpha_prime_eff": Prior("LogNormal", mu=_ln(0.3), sigma=0.6),
    "beta_prime_eff": Prior("LogNormal", mu=_ln(0.35), sigma=0.7),
    # gamma' only sets how the N- and D-terms blend; on the Figure-1 runs it was correlated at
    # -0.93 with d_prime and left R-hat at 1.03 with a 0.5 prior, 1.012 with 0.25
    "gamma_prime": Prior("LogNormal", mu=_ln(0.75), sigma=0.15),
    "c0": Prior("Normal", mu=2.5, sigma=1.5),
    "kappa": Prior("LogNormal", mu=_ln(47.0), sigma=1.0),
    "inv_f1": Prior("LogNormal", mu=_ln(11.0), sigma=0.7),
    "log_d1": Prior("Normal", mu=_ln(1.3), sigma=0.3),
}


_POSITIVE = frozenset(laws.POSITIVE_NAMES)


def _centred(law: str, values: Mapping[str, float], widths: Mapping[str, float]) -> dict:
    """Priors centred on published natural values, with the given sd on the sampled scale."""
    s = laws.to_sampled(law, values)
    out = {}
    for name in laws.SAMPLED_NAMES[law]:
        centre = float(s[name])
        width = widths[name]
        if name in _POSITIVE:
            out[name] = Prior("LogNormal", mu=_ln(centre), sigma=width)
        else:
            out[name] = Prior("Normal", mu=centre, sigma=width)
    return out


# Epoch AI's replication of Chinchilla (Besiroglu et al. 2024, arXiv 2404.10102): its estimates.
_EPOCH = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}
_PAPER_SUPERVISED = {k: laws.PAPER[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")}
_SUPERVISED_WIDTHS = {
    "log_E": 0.1,
    "a": 0.5,
    "b": 0.5,
    "alpha": 0.15,
    "beta": 0.15,
    "gamma": 0.15,
}
# When the distillation law is fitted without supervised runs, the supervised parameters enter
# only through the student's supervised loss inside the capacity-gap break, where the data barely
# constrain them: a wide prior there leaves a curved, nearly flat ridge that costs NUTS twice the
# leapfrog steps (88 vs 45 per draw on the Figure-1 runs). The paper's supervised law was fitted
# to 73 runs of the same model family, so the prior keeps it within about 5% on E and 7% on the
# exponents; pass supervised runs (or override) to learn it instead.
_SUPERVISED_IN_DISTILLATION_WIDTHS = {
    "log_E": 0.05,
    "a": 0.2,
    "b": 0.2,
    "alpha": 0.07,
    "beta": 0.07,
    "gamma": 0.07,
}
_DISTILLATION_WIDTHS = {
    **_SUPERVISED_IN_DISTILLATION_WIDTHS,
    "n_prime": 1.0,
    "d_prime": 2.5,  # wide: the published B' does not reproduce Figure 1
    "alpha_prime_eff": 0.3,
    "beta_prime_eff": 0.6,  # wide for the same reason
    "gamma_prime": 0.3,
    "c0": 1.0,
    "kappa": 0.7,
    "inv_f1": 0.5,
    "log_d1": 0.2,
}


def paper_priors(law: str) -> dict[str, Prior]:
    """Priors centred on the published fits (see the module docstring)."""
    laws._check_law(law)
    if law == "chinchilla":
        out = _centred("chinchilla", _EPOCH, _SUPERVISED_WIDTHS)
    elif law == "supervised":
        out = _centred("supervised", _PAPER_SUPERVISED, _SUPERVISED_WIDTHS)
    else:
        out = _centred("distillation", laws.PAPER, _DISTILLATION_WIDTHS)
    return {**out, **_NOISE}


def default_priors(law: str) -> dict[str, Prior]:
    """The default weakly informative priors of ``law`` (see the module docstring).

    For the distillation law, the supervised parameters get the paper-informed prior, because
    the student's supervised loss is not identified by distillation runs alone.
    """
    laws._check_law(law)
    if law == "distillation":
        sup = {
            k: v
            for k, v in paper_priors("distillation").items()
            if k in laws.SAMPLED_NAMES["supervised"]
        }
        return {**sup, **_DISTILLATION_DEFAULT, **_NOISE}
    names = laws.SAMPLED_NAMES[law]
    return {**{k: _SUPERVISED_DEFAULT[k] for k in names}, **_NOISE}


def _as_prior(name: str, value: Any) -> Prior:
    if isinstance(value, Prior):
        return value
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], Mapping)
    ):
        return Prior(value[0], dict(value[1]))
    raise TypeError(
        f"The prior for {name!r} must be a bayes_distill.priors.Prior or a (dist, params) "
        f"tuple such as ('Normal', {{'mu': 0.3, 'sigma': 0.1}}), got {value!r}."
    )


def resolve_priors(
    law: str, priors: str | Mapping[str, Any] | None = None, *, grouped: bool = False
) -> dict[str, Prior]:
    """Turn the user's ``priors`` argument into one :class:`Prior` per sampled parameter.

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    priors : None, "default", "paper" or mapping
        ``None``/``"default"``: :func:`default_priors`; ``"paper"``: :func:`paper_priors`; a
        mapping overrides parameters by sampled name on top of the defaults (or on top of
        ``"paper"`` if it contains ``"base": "paper"``).
    grouped : bool, default False
        A grouped fit: the result also holds the spread between groups of each law parameter
        (``alpha_sd``, ..., :data:`GROUP_SD_PRIORS`), which a mapping may override too.

    Returns
    -------
    dict
        ``{sampled name: Prior}`` for every parameter of the law and the noise model (and the
        spreads ``{name}_sd`` when ``grouped``).
    """
    laws._check_law(law)
    spreads = {f"{k}_sd": GROUP_SD_PRIORS[k] for k in laws.SAMPLED_NAMES[law]} if grouped else {}
    if priors is None or (isinstance(priors, str) and priors == "default"):
        return {**default_priors(law), **spreads}
    if isinstance(priors, str):
        if priors == "paper":
            return {**paper_priors(law), **spreads}
        raise ValueError(
            f"priors={priors!r} is not a known prior set. Use None (default weakly "
            "informative), 'paper' (centred on the published fits) or a mapping of overrides."
        )
    if not isinstance(priors, Mapping):
        raise TypeError(
            f"priors must be None, 'default', 'paper' or a mapping, got {type(priors).__name__}."
        )
    overrides = dict(priors)
    base = overrides.pop("base", "default")
    out = resolve_priors(law, base, grouped=grouped)
    valid = (*laws.SAMPLED_NAMES[law], *NOISE_NAMES, *spreads)
    for name, value in overrides.items():
        if name not in valid:
            hint = ""
            if name in _NATURAL_TO_SAMPLED:
                hint = f" Priors are set on the sampled scale: use {_NATURAL_TO_SAMPLED[name]}."
            elif name.endswith("_sd") and name[:-3] in laws.SAMPLED_NAMES[law]:
                hint = " Spreads between groups belong to grouped fits (bd.fit(..., groups=...))."
            raise ValueError(
                f"Unknown parameter {name!r} in priors for law {law!r}.{hint} Valid names: "
                f"{', '.join(valid)}."
            )
        out[name] = _as_prior(name, value)
    return out


def sample_prior(
    law: str, priors: Mapping[str, Prior], n: int, *, random_seed: int | None = None
) -> dict[str, np.ndarray]:
    """Draw ``n`` sets of sampled parameters from ``priors`` with NumPy."""
    rng = np.random.default_rng(random_seed)
    return {name: priors[name].sample(rng, n) for name in (*laws.SAMPLED_NAMES[law], *NOISE_NAMES)}
