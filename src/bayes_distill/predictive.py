"""Predictive checks: the fit's model run forwards from the priors or the posterior.

:func:`prior_predictive` runs the PyMC model that :func:`bayes_distill.fit` would sample for the
runs forwards from the priors; :func:`posterior_predictive` draws replicates of the fitted runs
from the posterior. Both return an ArviZ-style :class:`xarray.DataTree`, so ArviZ's plots apply
directly (``az.plot_ppc_dist(tree, group="prior_predictive")``), and :func:`predictive_summary`
turns either into a per-run table of intervals, coverage and PIT values. :func:`natural_tree`
gives a fit's natural parameters (``E``, ``A``, ``alpha``, ...) as a tree for ArviZ plots.
Predictive quantities are on the log-loss scale in the trees (variable ``obs``, as in the model)
and in nats/token in the tables. Users reach these as ``bd.checks.<name>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import laws
from . import model as _model
from . import validate as _validate
from .simulation import _INPUTS, _TARGET, _forward, _pymc_model

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = ["natural_tree", "posterior_predictive", "predictive_summary", "prior_predictive"]


def _as_tree(data: Any, group: str | None) -> tuple[xr.DataTree, str]:
    """Accept a ScalingFit or a DataTree; return the tree and the predictive group to use."""
    from .results import ScalingFit

    if isinstance(data, ScalingFit):
        data = data.posterior_predictive()
    if not isinstance(data, xr.DataTree):
        raise TypeError(
            "Expected a ScalingFit or an xarray.DataTree from prior_predictive() / "
            f"posterior_predictive(), got {type(data).__name__}."
        )
    available = [g for g in ("posterior_predictive", "prior_predictive") if g in data.children]
    if group is None:
        if not available:
            raise ValueError(
                "The DataTree has no posterior_predictive or prior_predictive group; build it "
                "with bd.checks.posterior_predictive(fit) or bd.checks.prior_predictive(runs)."
            )
        group = available[0]
    elif group not in ("posterior_predictive", "prior_predictive"):
        raise ValueError(
            f"group must be 'posterior_predictive' or 'prior_predictive', got {group!r}."
        )
    elif group not in data.children:
        raise ValueError(f"The DataTree has no {group!r} group; it has {available or 'neither'}.")
    if "observed_data" not in data.children or "obs" not in data["observed_data"].data_vars:
        raise ValueError("The DataTree has no observed_data group with the variable 'obs'.")
    return data, group


def prior_predictive(
    runs: pd.DataFrame | str | os.PathLike,
    law: Literal["chinchilla", "supervised", "distillation"] = "chinchilla",
    *,
    priors: str | Mapping[str, Any] | None = None,
    n_draws: int = 500,
    random_seed: int | np.random.Generator | None = None,
    **model_options: Any,
) -> xr.DataTree:
    """Prior predictive check: what the priors say the runs' losses could be.

    The model that :func:`bayes_distill.fit` would sample for these runs (the same priors,
    likelihood, discrepancy offsets and noise model, built by :mod:`bayes_distill.model` with the
    law of :mod:`bayes_distill.laws`) is run forwards with
    :func:`pymc.sample_prior_predictive`: parameters are drawn from the priors and losses
    simulated at every run's inputs. For the distillation law, the infinite-data limit (a soft
    constraint, not a distribution) cannot be sampled forwards and is left out.

    Parameters
    ----------
    runs : DataFrame or path
        The runs whose inputs are used (see :func:`bayes_distill.load_runs`); their losses are
        stored as ``observed_data`` for comparison.
    law : {"chinchilla", "supervised", "distillation"}
    priors : None, "paper" or mapping, optional
        As in :func:`bayes_distill.fit`.
    n_draws : int, default 500
        Number of prior draws.
    random_seed : int or numpy.random.Generator, optional
    **model_options
        The model options of :func:`bayes_distill.fit` (``likelihood``, ``discrepancy``, ...);
        unset ones take the same defaults.

    Returns
    -------
    xarray.DataTree
        Groups ``prior`` (the sampled parameters, the natural ones, the noise scales and the
        group offsets; dims ``chain`` (1) and ``draw``), ``prior_predictive`` (``obs``: log loss,
        dims ``chain, draw, run``), ``observed_data`` (``obs``: log loss of the runs) and
        ``constant_data`` (the inputs). Use it with :func:`predictive_summary`,
        :func:`bayes_distill.plots.ppc` or ``az.plot_ppc_dist(tree, group="prior_predictive")``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> tree = bd.checks.prior_predictive(runs, law="chinchilla", n_draws=100, random_seed=0)
    >>> tree["prior_predictive"]["obs"].shape
    (1, 100, 240)
    >>> table = bd.checks.predictive_summary(tree, ci_prob=0.9)
    >>> 0.9 <= table.attrs["coverage"] <= 1.0   # the default priors are wide
    True
    """
    from .data import kind_of, load_runs
    from .priors import resolve_priors

    laws._check_law(law)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}.")
    options = _model.check_options(**model_options)
    table = load_runs(runs, kind=kind_of(law))
    resolved = resolve_priors(law, priors)
    model = _pymc_model(law, table, resolved, options)
    drawn = _forward(model, int(n_draws), random_seed)

    prior = drawn["prior"].to_dataset()
    sampled = {k: prior[k] for k in laws.SAMPLED_NAMES[law]}
    for name, value in laws.to_natural(law, sampled).items():
        if name not in prior:
            prior[name] = value
    obs = drawn["prior_predictive"]["obs"]
    run_dim = obs.dims[-1]
    predictive = xr.Dataset({"obs": obs.rename({run_dim: "run"}).drop_vars("run", errors="ignore")})
    tree = xr.DataTree.from_dict(
        {
            "prior": prior,
            "prior_predictive": predictive,
            "observed_data": xr.Dataset(
                {"obs": (("run",), np.log(table[_TARGET[law]].to_numpy(float)))}
            ),
            "constant_data": xr.Dataset(
                {c: (("run",), table[c].to_numpy(float)) for c in _INPUTS[law]}
            ),
        }
    )
    tree["observed_data"]["obs"].attrs["description"] = f"log of {_TARGET[law]}"
    tree.attrs.update({"law": law, "kind": "prior", **{k: str(v) for k, v in options.items()}})
    return tree


def posterior_predictive(fit: ScalingFit, *, random_seed: int | None = None) -> xr.DataTree:
    """Posterior predictive check data of a fit: its tree with predictive and LOO groups.

    A thin wrapper of :meth:`ScalingFit.posterior_predictive`: ``fit.dt`` plus
    ``posterior_predictive`` (``obs``: log loss of a replicate of each fitted run, with the run's
    group offset and new run noise) and ``log_likelihood`` (pointwise, for ``az.loo``).

    Parameters
    ----------
    fit : ScalingFit
    random_seed : int, optional
        Seed of the predictive noise.

    Returns
    -------
    xarray.DataTree

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("chinchilla")                          # doctest: +SKIP
    >>> tree = bd.checks.posterior_predictive(fit, random_seed=0)       # doctest: +SKIP
    >>> import arviz as az
    >>> az.plot_ppc_dist(tree)                                          # doctest: +SKIP
    """
    fit = _validate.fit(fit, None, "posterior_predictive", converged=False, grouped=True)
    return fit.posterior_predictive(random_seed=random_seed)


def predictive_summary(
    data: ScalingFit | xr.DataTree,
    *,
    group: Literal["posterior_predictive", "prior_predictive"] | None = None,
    ci_prob: float = 0.9,
) -> pd.DataFrame:
    """Per-run predictive intervals, coverage and PIT values of a prior or posterior check.

    Parameters
    ----------
    data : ScalingFit or xarray.DataTree
        A fit (its posterior predictive is drawn with :meth:`ScalingFit.posterior_predictive`)
        or a tree from :func:`prior_predictive` / :func:`posterior_predictive`.
    group : {"posterior_predictive", "prior_predictive"}, optional
        Which predictive group to use; by default the one the tree has (posterior first).
    ci_prob : float, default 0.9
        Probability of the equal-tailed predictive intervals.

    Returns
    -------
    pandas.DataFrame
        One row per run: the inputs (from ``constant_data``), ``observed``, ``median``, ``lower``,
        ``upper`` (nats/token), ``inside`` (observed within the interval) and ``pit`` (share of
        predictive draws below the observed loss; uniform for a calibrated model).
        ``attrs`` holds ``coverage`` (share of runs inside), ``ci_prob`` and ``group``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> tree = bd.checks.prior_predictive(runs, n_draws=50, random_seed=1)
    >>> sorted(bd.checks.predictive_summary(tree).columns)[:4]
    ['D', 'N', 'inside', 'lower']
    """
    ci_prob = _validate.probability("ci_prob", ci_prob)
    tree, group = _as_tree(data, group)
    pred = np.asarray(tree[group]["obs"].values, float)
    pred = pred.reshape(-1, pred.shape[-1])
    obs = np.asarray(tree["observed_data"]["obs"].values, float)
    q = np.quantile(pred, [0.5, (1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
    frame = pd.DataFrame()
    if "constant_data" in tree.children:
        for name, var in tree["constant_data"].data_vars.items():
            if var.dims == ("run",):
                frame[name] = var.values
    frame["observed"] = np.exp(obs)
    frame["median"], frame["lower"], frame["upper"] = np.exp(q)
    frame["inside"] = (obs >= q[1]) & (obs <= q[2])
    frame["pit"] = np.mean(pred < obs[None, :], axis=0)
    frame.index.name = "run"
    frame.attrs.update(
        {"coverage": float(frame["inside"].mean()), "ci_prob": ci_prob, "group": group}
    )
    return frame


def natural_tree(fit: ScalingFit, *, noise: bool = True) -> xr.DataTree:
    """A DataTree whose ``posterior`` holds the law's natural parameters (for ArviZ plots).

    ``fit.dt["posterior"]`` holds the *sampled* parameters (``log_E``, ``a``, ``b``, ...; see
    :mod:`bayes_distill.laws`), which is what convergence diagnostics should look at. Users read
    the natural ones (``E``, ``A``, ``B``, ``alpha``, ...): this tree has them, with
    ``sample_stats`` (divergences) kept, so every ArviZ plot works on it.

    Parameters
    ----------
    fit : ScalingFit
    noise : bool, default True
        Include the noise scale ``sigma`` and the discrepancy spreads ``tau_*``.

    Returns
    -------
    xarray.DataTree

    Examples
    --------
    >>> import arviz as az
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("chinchilla")                                     # doctest: +SKIP
    >>> az.plot_trace_dist(fit.dt, var_names=["alpha", "beta"])           # doctest: +SKIP
    >>> az.plot_rank(fit.dt, var_names=["log_E", "a", "b"])               # doctest: +SKIP
    >>> tree = bd.checks.natural_tree(fit)                                # doctest: +SKIP
    >>> az.plot_pair(tree, var_names=["E", "alpha", "beta"])              # doctest: +SKIP
    """
    fit = _validate.fit(fit, None, "natural_tree", converged=False, grouped=True)
    post = fit.params
    if noise:
        post = xr.merge([post, fit.noise])
    groups = {"posterior": post}
    if "sample_stats" in fit.dt.children:
        groups["sample_stats"] = fit.dt["sample_stats"].to_dataset()
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(fit.dt.attrs)
    return tree
