"""Build the PyMC model of a scaling law.

Observation model (all laws), on the log of the loss::

    log L_i = log L_law(x_i) + delta_i + eps_i
    eps_i ~ StudentT(nu=4, 0, sigma)            (or Normal(0, sigma); ``likelihood="normal"``)
    delta_i = tau * z[g_i],  z ~ Normal(0, 1)   (``discrepancy="groups"``, the default)

``eps`` is run-to-run noise; the Student-t plays the role of the papers' Huber loss. ``delta`` is
the *discrepancy* between the law and reality that runs of one group share: runs of one model size
(supervised laws), and for the distillation law runs of one student size plus runs of one teacher
(two crossed offsets, ``tau_student`` and ``tau_teacher``). A scaling law is an approximation,
and its errors are not independent across runs of one model; treating them as independent makes
the noise scale tiny and the predictive intervals at a *new* model size far too narrow. With the
offsets, a prediction for a model size or teacher not in the data draws a new offset from the
fitted spread, so extrapolated predictive intervals carry the law's misfit between sizes. This is
checked by backtests (fit the weaker runs, predict the stronger ones) in the tests and in
:func:`bayes_distill.checks.backtest`.

Sampled parameterisation (see :mod:`bayes_distill.laws`): amplitudes centred at ``N0 = 1e9`` and
``D0 = 1e10``, ``kappa = c1 f1`` and ``1 / f1`` instead of ``c1``.

For the distillation law, the supervised parameters (needed for the student's supervised loss)
are fitted jointly with ``supervised_runs`` when given, and otherwise come from their prior (the
paper-informed supervised prior by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import laws
from .priors import Prior

__all__ = ["GROUP_TOLERANCE", "Groups", "ModelInputs", "build_model", "group_runs"]

#: Two runs belong to one group when their sizes differ by less than this in log (2%), which
#: absorbs the digitisation error of the bundled data.
GROUP_TOLERANCE = 0.02

STUDENT_T_NU = 4.0


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


@dataclass(frozen=True)
class ModelInputs:
    """Log-space arrays that the model and the predictions share."""

    law: str
    x: dict[str, np.ndarray]
    y: np.ndarray
    groups: dict[str, Groups]
    supervised_x: dict[str, np.ndarray] | None = None
    supervised_y: np.ndarray | None = None
    supervised_groups: Groups | None = None


def group_names(law: str) -> tuple[str, ...]:
    """The discrepancy groups of a law: one per model size, or student and teacher."""
    return ("student", "teacher") if law == "distillation" else ("size",)


def prepare_inputs(
    law: str, runs: pd.DataFrame, supervised_runs: pd.DataFrame | None = None
) -> ModelInputs:
    """Turn validated run tables into the log arrays the model needs."""
    if law == "distillation":
        x = {
            "log_NS": np.log(runs["N_S"].to_numpy(float)),
            "log_DS": np.log(runs["D_S"].to_numpy(float)),
            "log_LT": np.log(runs["L_T"].to_numpy(float)),
        }
        y = np.log(runs["L_S"].to_numpy(float))
        groups = {"student": group_runs(x["log_NS"]), "teacher": group_runs(x["log_LT"], 0.002)}
        sx = sy = sg = None
        if supervised_runs is not None:
            sx = {
                "log_N": np.log(supervised_runs["N"].to_numpy(float)),
                "log_D": np.log(supervised_runs["D"].to_numpy(float)),
            }
            sy = np.log(supervised_runs["loss"].to_numpy(float))
            sg = group_runs(sx["log_N"])
        return ModelInputs(law, x, y, groups, sx, sy, sg)
    x = {
        "log_N": np.log(runs["N"].to_numpy(float)),
        "log_D": np.log(runs["D"].to_numpy(float)),
    }
    y = np.log(runs["loss"].to_numpy(float))
    return ModelInputs(law, x, y, {"size": group_runs(x["log_N"])})


def _likelihood(name, mu, sigma, observed, likelihood):
    import pymc as pm

    if likelihood == "student_t":
        return pm.StudentT(name, nu=STUDENT_T_NU, mu=mu, sigma=sigma, observed=observed)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=observed)


def build_model(
    inputs: ModelInputs,
    priors: Mapping[str, Prior],
    *,
    likelihood: str = "student_t",
    discrepancy: str = "groups",
):
    """Build the ``pymc.Model`` of ``inputs.law``.

    Parameters
    ----------
    inputs : ModelInputs
        From :func:`prepare_inputs`.
    priors : mapping
        One :class:`~bayes_distill.priors.Prior` per sampled parameter, plus ``sigma`` and
        ``tau`` (from :func:`~bayes_distill.priors.resolve_priors`).
    likelihood : {"student_t", "normal"}
    discrepancy : {"groups", "none"}
        ``"groups"`` adds the shared offsets described in the module docstring.

    Returns
    -------
    pymc.Model
    """
    import pymc as pm

    xp = laws.pytensor_namespace()
    law = inputs.law
    sup_names = laws.SAMPLED_NAMES["chinchilla" if law == "chinchilla" else "supervised"]
    coords = {f"{g}_group": np.arange(inputs.groups[g].n) for g in inputs.groups}
    if inputs.supervised_groups is not None:
        coords["supervised_size_group"] = np.arange(inputs.supervised_groups.n)
    with pm.Model(coords=coords) as model:
        theta = {name: priors[name].to_pymc(name) for name in laws.SAMPLED_NAMES[law]}
        sigma = priors["sigma"].to_pymc("sigma")
        sup = {k: theta[k] for k in sup_names}
        if law == "distillation":
            x = {k: pm.Data(k, v) for k, v in inputs.x.items()}
            log_LtS = laws.log_supervised(xp, x["log_NS"], x["log_DS"], **sup)
            dist = {k: theta[k] for k in laws.SAMPLED_NAMES["distillation"] if k not in sup}
            mu = laws.log_distillation(
                xp, x["log_NS"], x["log_DS"], x["log_LT"], log_LtS=log_LtS, **dist
            )
        else:
            x = {k: pm.Data(k, v) for k, v in inputs.x.items()}
            mu = laws.log_supervised(xp, x["log_N"], x["log_D"], **sup)
        if discrepancy == "groups":
            for g, grp in inputs.groups.items():
                tau = priors["tau"].to_pymc(f"tau_{g}")
                z = pm.Normal(f"z_{g}", 0.0, 1.0, dims=f"{g}_group")
                idx = pm.Data(f"{g}_index", grp.index)
                mu = mu + tau * z[idx]
        y = pm.Data("log_loss", inputs.y)
        _likelihood("obs", mu, sigma, y, likelihood)
        if inputs.supervised_x is not None:
            sx = {k: pm.Data(f"supervised_{k}", v) for k, v in inputs.supervised_x.items()}
            smu = laws.log_supervised(xp, sx["log_N"], sx["log_D"], **sup)
            if discrepancy == "groups":
                tau_s = priors["tau"].to_pymc("tau_supervised_size")
                z_s = pm.Normal("z_supervised_size", 0.0, 1.0, dims="supervised_size_group")
                sidx = pm.Data("supervised_size_index", inputs.supervised_groups.index)
                smu = smu + tau_s * z_s[sidx]
            sigma_s = priors["sigma"].to_pymc("sigma_supervised")
            _likelihood(
                "supervised_obs",
                smu,
                sigma_s,
                pm.Data("supervised_log_loss", inputs.supervised_y),
                likelihood,
            )
    return model
