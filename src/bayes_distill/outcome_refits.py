"""Refitting a distillation fit with one simulated run added: the fallback of
:func:`bayes_distill.next_run` when importance reweighting cannot be trusted.

A refit is a short NUTS fit (:data:`REFIT_DRAWS` draws after :data:`REFIT_TUNE` tuning steps on
:data:`REFIT_CHAINS` chains, no retries) of the fit's runs plus the simulated run, with the
fit's own law, priors, likelihood, discrepancy and noise models, sampler and way of fitting the
supervised law. The compiled model is cached by :func:`bayes_distill.fit`, so after the first
refit of a process each one costs the sampling alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .diagnostics import ConvergenceWarning

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = ["REFIT_CHAINS", "REFIT_DRAWS", "REFIT_TUNE", "can_refit", "refit_with_run"]

#: Draws per chain of a refit.
REFIT_DRAWS = 200
#: Tuning steps per chain of a refit.
REFIT_TUNE = 200
#: Chains of a refit.
REFIT_CHAINS = 2


def can_refit(fit: ScalingFit, row: Mapping[str, Any]) -> str | None:
    """Why the candidate run ``row`` cannot be valued by refitting ``fit`` (None if it can)."""
    if fit.runs is None:
        return "the fit holds no runs (e.g. ScalingFit.from_params), so it cannot be refitted"
    needs_supervised = row["kind"] == "supervised" or not np.isfinite(row["L_T"])
    if needs_supervised and fit.supervised_runs is None:
        return (
            "the fit has no supervised runs (its supervised law is the prior), so a supervised "
            "outcome cannot be added to a refit"
        )
    return None


def _fit_options(fit: ScalingFit) -> dict[str, Any]:
    """The options of :func:`bayes_distill.fit` that reproduce ``fit``'s model."""
    config = fit.config
    priors = {
        name: (spec["dist"], {k: v for k, v in spec.items() if k != "dist"})
        for name, spec in config.get("priors", {}).items()
    }
    settings = config.get("sampler_settings", {})
    how = str(config.get("supervised_fit", "cut"))
    return {
        "law": fit.law,
        "priors": priors or None,
        "likelihood": str(config.get("likelihood", "student_t")),
        "discrepancy": str(config.get("discrepancy", "groups")),
        "noise": str(config.get("noise", "distance")),
        "sampler": str(settings.get("sampler", "nutpie")),
        "supervised": how if how in ("cut", "joint") else "cut",
    }


def _with_outcome(
    fit: ScalingFit, row: Mapping[str, Any], outcome: Mapping[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The fit's run tables with the simulated run of ``row`` appended (new tables).

    ``outcome`` holds the run's log loss ``y`` and, for a distillation run, the teacher's loss
    ``L_T`` (simulated too when the teacher is trained for the run, with its log loss ``y_T``).
    """
    runs, sup = fit.runs, fit.supervised_runs
    if row["kind"] == "supervised":
        new = {"N": row["N"], "D": row["D"], "loss": float(np.exp(outcome["y"]))}
        return runs.copy(), pd.concat([sup, pd.DataFrame([new])], ignore_index=True)
    new = {"N_S": row["N_S"], "D_S": row["D_S"], "L_T": outcome["L_T"]}
    new["L_S"] = float(np.exp(outcome["y"]))
    for col in ("N_T", "D_T"):
        if col in runs.columns:
            new[col] = row[col]
    runs = pd.concat([runs, pd.DataFrame([new])], ignore_index=True)
    if np.isfinite(row["L_T"]):
        return runs, None if sup is None else sup.copy()
    teacher = {"N": row["N_T"], "D": row["D_T"], "loss": float(np.exp(outcome["y_T"]))}
    return runs, pd.concat([sup, pd.DataFrame([teacher])], ignore_index=True)


def refit_with_run(
    fit: ScalingFit, row: Mapping[str, Any], outcome: Mapping[str, float], random_seed: int
) -> ScalingFit:
    """A short refit of ``fit`` with the simulated run of ``row`` added.

    Parameters
    ----------
    fit : ScalingFit
        A distillation fit made by :func:`bayes_distill.fit` (it holds its runs).
    row : mapping
        A candidate run of :func:`bayes_distill.next_run` (``kind`` and its inputs).
    outcome : mapping
        The simulated outcome: ``y`` (the run's log loss), and for a distillation run ``L_T``
        (the teacher's loss) and, for a teacher trained for the run, ``y_T`` (its log loss).
    random_seed : int
        Seed of the refit.

    Returns
    -------
    ScalingFit
        The refit (:data:`REFIT_CHAINS` chains of :data:`REFIT_DRAWS` draws). Its convergence
        is not checked: it is short on purpose, and its Monte Carlo error is part of the
        standard error of the value ``next_run`` reports.
    """
    from .sampling import fit as fit_law

    why = can_refit(fit, row)
    if why is not None:
        raise ValueError(f"Cannot refit this fit with the run {row.get('name', '')!r}: {why}.")
    runs, sup = _with_outcome(fit, row, outcome)
    options = _fit_options(fit)
    with warnings.catch_warnings():
        # a short refit rarely meets the ESS target; its error is in the value's se
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_law(
            runs,
            **options,
            supervised_runs=sup,
            draws=REFIT_DRAWS,
            tune=REFIT_TUNE,
            chains=REFIT_CHAINS,
            random_seed=int(random_seed),
            retries=0,
            progressbar=False,
        )
