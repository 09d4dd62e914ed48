"""Simulation: the model that :func:`bayes_distill.fit` samples, run forwards.

:func:`default_design` gives the inputs of a modest, realistic sweep and :func:`simulate_runs`
simulates losses on a design from known parameters, with the model's own discrepancy offsets and
run noise (:func:`pymc.do` on the fit's PyMC model). The forward-sampling helpers here also serve
the prior predictive check (:mod:`bayes_distill.predictive`) and simulation-based calibration
(:mod:`bayes_distill.calibration`). Users reach these as ``bd.checks.default_design`` and
``bd.checks.simulate_runs``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import laws
from . import model as _model
from .data import columns_of

__all__ = ["default_design", "simulate_runs"]

#: law -> the input columns of its run table; ``_TARGET``: law -> its loss column (both read
#: from :data:`bayes_distill.data.REQUIRED_COLUMNS`).
_INPUTS = {law: columns_of(law)[0] for law in laws.PARAM_NAMES}
_TARGET = {law: columns_of(law)[1] for law in laws.PARAM_NAMES}


def _pymc_model(law: str, runs: pd.DataFrame, priors: Mapping[str, Any], options: Mapping):
    """The PyMC model that :func:`bayes_distill.fit` would build for these runs.

    ``runs`` needs the loss column: the model may standardise by the runs' losses (the
    distance-dependent noise does). For a bare design only the priors are usable (placeholder
    losses); simulations build the model on the noise-free losses of their truth instead
    (:func:`_simulate`).
    """
    frame = runs[list(_INPUTS[law])].copy()
    frame[_TARGET[law]] = runs[_TARGET[law]] if _TARGET[law] in runs else 2.0
    model_inputs = _model.prepare_inputs(law, frame)
    # the law's own parameters are the model's free variables, so that they can be fixed
    return _model.ScalingModel(
        law, inputs=model_inputs, level_shares=False, centring=False, **options
    ).pymc(priors)


def _law_loss(law: str, natural: Mapping[str, float], design: pd.DataFrame) -> np.ndarray:
    """The law itself (no noise) at the design's inputs."""
    with np.errstate(all="ignore"):
        if law == "distillation":
            out = laws.distillation_loss(design["N_S"], design["D_S"], design["L_T"], **natural)
        else:
            p = {k: natural[k] for k in laws.PARAM_NAMES[law]}
            out = laws.supervised_loss(design["N"], design["D"], **p)
    return np.asarray(out, float)


def _simulate(
    law: str,
    design: pd.DataFrame,
    priors: Mapping[str, Any],
    options: Mapping[str, Any],
    fixed: Mapping[str, float],
    seed: Any,
) -> np.ndarray:
    """Log losses simulated by the fit's model with its scalar parameters fixed (``pm.do``).

    The model is built on the noise-free losses of the truth, so that anything it derives from
    the runs' losses (the centre and spread that standardise the distance of the noise model)
    is what a fit of the simulated runs will see, up to the noise.
    """
    import pymc as pm

    sampled = {k: fixed[k] for k in laws.SAMPLED_NAMES[law]}
    natural = {k: float(v) for k, v in laws.to_natural(law, sampled).items()}
    runs = design[list(_INPUTS[law])].copy()
    runs[_TARGET[law]] = _law_loss(law, natural, design)
    model = _pymc_model(law, runs, priors, options)
    fixed = dict(fixed)
    # scipy's Student-t sampler needs a positive scale; sigma = 0 means "no run noise"
    fixed["sigma"] = max(fixed["sigma"], 1e-300)
    drawn = _forward(pm.do(model, fixed), 1, seed)
    return np.asarray(drawn["prior_predictive"]["obs"].values, float).reshape(-1)


@contextlib.contextmanager
def _quiet_pymc() -> Iterator[None]:
    """Silence PyMC's "Sampling: [...]" log line for the duration (restoring the level)."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _forward(model, draws: int, seed) -> xr.DataTree:
    """Draws of every variable of ``model`` (parameters and data) from its generative model.

    Forward sampling cannot honour a ``pm.Potential``: the distillation law's infinite-data
    limit (:func:`bayes_distill.model.infinite_data_gap`) is a soft constraint on the
    parameters, so prior draws here come from the priors without it (wider than the prior the
    fit uses); PyMC's warning saying so is expected and silenced.
    """
    import pymc as pm

    with _quiet_pymc(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        return pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)


def _scalar_free_names(model) -> list[str]:
    return [rv.name for rv in model.free_RVs if rv.ndim == 0]


def default_design(law: Literal["chinchilla", "supervised", "distillation"]) -> pd.DataFrame:
    """A run design for simulations: the inputs of a modest, realistic sweep.

    Supervised laws: 8 model sizes from 5e7 to 1e10 parameters (log-spaced) times 6 token
    budgets of 2.5 to 80 tokens per parameter (48 runs). Distillation: students of 1.4e8, 5.5e8
    and 1.8e9 parameters, 10, 20 and 60 tokens per parameter, and teachers with losses 1.8, 2.2,
    2.6, 3.0 and 3.4 nats/token (45 runs; the weak teachers reach the law's capacity break).

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}

    Returns
    -------
    pandas.DataFrame
        Columns ``N, D`` or ``N_S, D_S, L_T``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> bd.checks.default_design("chinchilla").shape
    (48, 2)
    >>> bd.checks.default_design("distillation").shape
    (45, 3)
    """
    laws._check_law(law)
    if law == "distillation":
        grid = [
            (n, n * r, lt)
            for n in (1.4e8, 5.5e8, 1.8e9)
            for r in (10.0, 20.0, 60.0)
            for lt in (1.8, 2.2, 2.6, 3.0, 3.4)
        ]
        return pd.DataFrame(grid, columns=["N_S", "D_S", "L_T"])
    grid = [(n, n * r) for n in np.geomspace(5e7, 1e10, 8) for r in (2.5, 5, 10, 20, 40, 80)]
    return pd.DataFrame(grid, columns=["N", "D"])


def _check_design(law: str, design: Any) -> pd.DataFrame:
    design = default_design(law) if design is None else design
    if not isinstance(design, pd.DataFrame):
        raise TypeError(f"design must be a pandas DataFrame, got {type(design).__name__}.")
    missing = [c for c in _INPUTS[law] if c not in design]
    if missing:
        raise ValueError(
            f"design lacks the column(s) {missing} of the {law} law; it has {list(design.columns)}."
        )
    return design


def _fixed_values(
    law: str,
    design: pd.DataFrame,
    params: Mapping[str, float],
    sigma: float,
    tau: float | Mapping[str, float],
    priors: Mapping[str, Any],
    options: Mapping[str, Any],
) -> dict[str, float]:
    """Values of every scalar parameter of the model for a simulation from known parameters.

    The model is the fit's for ``design``, built on the noise-free losses of ``params`` (see
    :func:`_simulate`). The law's parameters come from ``params``, ``sigma`` and the ``tau_*``
    from the arguments, and any other noise parameter of the model (e.g. ``lambda``, ``nu``)
    from ``params`` or, if absent there, the median of its prior (a typical value).
    """
    missing = [k for k in laws.PARAM_NAMES[law] if k not in params]
    if missing:
        raise ValueError(f"params for the {law} law miss {missing}.")
    runs = design[list(_INPUTS[law])].copy()
    runs[_TARGET[law]] = _law_loss(law, params, design)
    model = _pymc_model(law, runs, priors, options)
    scalars = _scalar_free_names(model)
    taus = [n.removeprefix("tau_") for n in scalars if n.startswith("tau_")]
    extras = [n for n in scalars if n not in laws.SAMPLED_NAMES[law] and n != "sigma"]
    extras = [n for n in extras if not n.startswith("tau_")]
    other_laws = {k for names in laws.PARAM_NAMES.values() for k in names}
    unknown = sorted(set(params) - other_laws - set(extras))
    if unknown:
        raise ValueError(
            f"params has {unknown}, which are neither parameters of a law nor noise parameters "
            f"of the {law} model ({', '.join(extras) or 'none'})."
        )
    values = [("sigma", sigma)]
    if isinstance(tau, Mapping):
        bad = sorted(set(tau) - set(taus))
        if bad:
            raise ValueError(f"tau has unknown groups {bad}; valid: {taus}.")
        values += [(f"tau[{g!r}]", v) for g, v in tau.items()]
    else:
        values.append(("tau", tau))
    values += [(k, params[k]) for k in extras if k in params]
    for name, value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    nat = {k: float(params[k]) for k in laws.PARAM_NAMES[law]}
    fixed = {k: float(v) for k, v in laws.to_sampled(law, nat).items()}
    fixed["sigma"] = float(sigma)
    for g in taus:
        fixed[f"tau_{g}"] = float(tau.get(g, 0.0) if isinstance(tau, Mapping) else tau)
    for k in extras:
        if k in params:
            fixed[k] = float(params[k])
        elif k in priors:
            draws = priors[k].sample(np.random.default_rng(0), 20001)
            fixed[k] = float(np.median(draws))
        else:  # pragma: no cover - a model parameter without a prior of that name
            raise ValueError(f"Give a value for the model's parameter {k!r} in params.")
    return fixed


def simulate_runs(
    law: Literal["chinchilla", "supervised", "distillation"],
    params: Mapping[str, float],
    design: pd.DataFrame | None = None,
    *,
    sigma: float = 0.01,
    tau: float | Mapping[str, float] = 0.0,
    random_seed: int | np.random.Generator | None = None,
    **model_options: Any,
) -> pd.DataFrame:
    """Simulate training runs from known parameters, with the model's own noise.

    The model that :func:`bayes_distill.fit` samples (:mod:`bayes_distill.model`) is run forwards
    with its parameters fixed (:func:`pymc.do`): the law (the same code as the fit), the
    discrepancy offsets shared by the runs of a group (those the model has, e.g. one per model
    size) drawn with spread ``tau``, and Student-t (or Normal) run noise with scale ``sigma``
    and the model's other noise parameters. The simulation therefore follows the fitted model;
    where the model standardises by the runs' losses, it is built on the noise-free losses.

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    params : mapping
        Natural parameters of the law (scalars), e.g. ``bd.laws.PAPER`` (parameters of other
        laws, such as ``gamma`` for the Chinchilla law, are ignored). Other scalar noise
        parameters of the model (e.g. ``lambda``, the growth of the noise with distance from the
        runs, or ``nu``, the Student-t degrees of freedom) may be given too; otherwise they are
        fixed at the median of their default prior.
    design : DataFrame, optional
        The inputs (``N, D`` or ``N_S, D_S, L_T``); default :func:`default_design`.
    sigma : float, default 0.01
        Scale of the run noise on log loss.
    tau : float or mapping, default 0.0
        Spread of the discrepancy offsets: one value for every factor, or a mapping by factor
        name (``{"size": 0.01}``; distillation: ``"student"``, ``"teacher"``, ``"tokens"``).
    random_seed : int or numpy.random.Generator, optional
    **model_options
        The model options of :func:`bayes_distill.fit` (``likelihood``, ``discrepancy``, ...).

    Returns
    -------
    pandas.DataFrame
        The design with the loss column (``loss`` or ``L_S``) added.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> p = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    >>> runs = bd.checks.simulate_runs("supervised", p, sigma=0.0)
    >>> bool(abs(runs["loss"] - bd.laws.supervised_loss(runs["N"], runs["D"], **p)).max() < 1e-9)
    True
    """
    from .priors import resolve_priors

    laws._check_law(law)
    design = _check_design(law, design)
    options = _model.check_options(**model_options)
    priors = resolve_priors(law, None)
    fixed = _fixed_values(law, design, params, sigma, tau, priors, options)
    y = _simulate(law, design, priors, options, fixed, random_seed)
    out = design.copy()
    out[_TARGET[law]] = np.exp(y)
    return out
