"""Model checking: predictive checks, LOO comparison, backtests and simulation-based calibration.

Every check returns data (xarray DataTrees, pandas tables, small result objects); the figures are
in :mod:`bayes_distill.plots` and in ArviZ.

Predictive checks
    :func:`prior_predictive` runs the fit's own PyMC model forwards: parameters from the
    priors, losses at the runs' inputs with the model's noise and discrepancy;
    :func:`posterior_predictive` does the same with the posterior. Both return an ArviZ-style
    :class:`xarray.DataTree`, so ArviZ's plots apply directly
    (``az.plot_ppc_dist(tree, group="prior_predictive")``), and :func:`predictive_summary`
    turns either into a per-run table of intervals, coverage and PIT values.
    :func:`bayes_distill.plots.ppc` draws both kinds.
:func:`compare`
    PSIS-LOO comparison (ArviZ) of laws fitted to the same runs, with the Pareto-k diagnostics
    in the table and as a :class:`ParetoKWarning`.
:func:`backtest`
    Fit the weaker runs, predict the stronger ones (Busbridge et al. 2025, Figure 5): per-run
    errors, the median absolute percentage error and the coverage of 50% and 90% predictive
    intervals.
:func:`sbc`
    Simulation-based calibration: simulate runs from the model with known parameters (drawn
    from the prior, or fixed at published values as in :func:`simulate_runs`), fit them, and
    count how often the credible intervals cover the truth. ``benchmarks/sbc.py`` runs the
    larger study.

All predictive quantities are on the log-loss scale inside the trees (variable ``obs``, as in
the model) and in nats/token in the tables.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import _progress, laws
from . import model as _model
from . import validate as _validate

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = [
    "Backtest",
    "ParetoKWarning",
    "SBCResult",
    "backtest",
    "compare",
    "default_design",
    "natural_tree",
    "posterior_predictive",
    "predictive_summary",
    "prior_predictive",
    "run_compute",
    "sbc",
    "simulate_runs",
]

_INPUTS = {
    "chinchilla": ("N", "D"),
    "supervised": ("N", "D"),
    "distillation": ("N_S", "D_S", "L_T"),
}
_TARGET = {"chinchilla": "loss", "supervised": "loss", "distillation": "L_S"}


class ParetoKWarning(UserWarning):
    """PSIS-LOO found runs whose Pareto k exceeds the reliability threshold.

    The LOO estimate of such a fit is unreliable: the runs are highly influential (outliers, or
    the only runs at their size). See ``compare(...)["n_high_pareto_k"]``.
    """


# --------------------------------------------------------------------------------------------
# helpers


def _kind(law: str) -> str:
    return "distillation" if law == "distillation" else "supervised"


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
    return _model.ScalingModel(law, inputs=model_inputs, **options).pymc(priors)


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


# --------------------------------------------------------------------------------------------
# predictive checks


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
    from .data import load_runs
    from .priors import resolve_priors

    laws._check_law(law)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}.")
    options = _model.check_options(**model_options)
    table = load_runs(runs, kind=_kind(law))
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


# --------------------------------------------------------------------------------------------
# LOO comparison


def _named_fits(fits: Any) -> dict[str, ScalingFit]:
    """The fits of :func:`compare` by name, checked: at least two, each with runs, all fitted to
    the same runs."""
    if isinstance(fits, Mapping):
        named = dict(fits)
    elif isinstance(fits, Sequence) and not isinstance(fits, str):
        named = {}
        laws_seen = [getattr(f, "law", type(f).__name__) for f in fits]
        for i, (f, law) in enumerate(zip(fits, laws_seen, strict=True)):
            name = law if laws_seen.count(law) == 1 else f"{law}_{laws_seen[: i + 1].count(law)}"
            named[name] = f
    else:
        raise TypeError(
            "fits must be a mapping {name: ScalingFit} or a list of ScalingFit, got "
            f"{type(fits).__name__}."
        )
    if len(named) < 2:
        raise ValueError(f"compare needs at least two fits, got {len(named)}.")
    for name, f in named.items():
        _validate.fit(f, None, "compare", f"fits[{name!r}]", converged=False, grouped=True)
        if f.runs is None:
            raise ValueError(f"fits[{name!r}] has no runs (built with from_params): no LOO.")
    names = list(named)
    y_ref = np.asarray(named[names[0]].dt["observed_data"]["obs"].values)
    for name in names[1:]:
        y = np.asarray(named[name].dt["observed_data"]["obs"].values)
        if y.shape != y_ref.shape or not np.allclose(y, y_ref, rtol=0, atol=1e-12):
            raise ValueError(
                f"fits[{name!r}] was fitted to different runs than fits[{names[0]!r}] "
                f"({y.size} vs {y_ref.size} runs, or different losses); LOO comparison needs "
                "the same runs."
            )
    return named


def _loo(name: str, f: ScalingFit, random_seed) -> tuple[Any, dict[str, Any], str]:
    """PSIS-LOO of one fit (ArviZ), its Pareto-k summary, and a message when it is unreliable."""
    import arviz as az

    tree = f.posterior_predictive(random_seed=random_seed)
    # ArviZ's own Pareto-k warning and the floating-point warnings of extreme importance ratios
    # are folded into one ParetoKWarning by compare
    with warnings.catch_warnings(), np.errstate(divide="ignore", over="ignore"):
        warnings.filterwarnings("ignore", message=".*Pareto distribution.*")
        elpd = az.loo(tree, var_name="obs", pointwise=True)
    k = np.asarray(elpd.pareto_k.values, float)
    threshold = float(elpd.good_k)
    high = ~(k <= threshold)  # a NaN k (degenerate importance ratios) is not reliable
    n_high = int(np.sum(high))
    row = {
        "law": f.law,
        "pareto_k_max": float(np.max(np.where(np.isnan(k), np.inf, k))),
        "pareto_k_threshold": threshold,
        "n_high_pareto_k": n_high,
    }
    message = ""
    if n_high:
        worst = np.argsort(np.where(high & np.isnan(k), np.inf, k))[::-1][: min(n_high, 5)]
        where = ", ".join(f"run {int(i)} (k={k[i]:.2f})" for i in worst)
        message = (
            f"{name}: {n_high} of {k.size} runs have Pareto k > {threshold:.2f} ({where}); "
            "its LOO estimate is unreliable (influential runs or outliers)."
        )
    return elpd, row, message


def compare(
    fits: Mapping[str, ScalingFit] | Sequence[ScalingFit],
    *,
    method: Literal["stacking", "BB-pseudo-BMA", "pseudo-BMA"] = "stacking",
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Compare laws fitted to the same runs by PSIS-LOO (ArviZ), with Pareto-k diagnostics.

    Each fit's pointwise log-likelihood (:meth:`ScalingFit.posterior_predictive`) goes through
    :func:`arviz.loo` and the results through :func:`arviz.compare`. Runs whose Pareto k exceeds
    ArviZ's sample-size-dependent threshold (``min(1 - 1/log10(S), 0.7)``), or is undefined
    (NaN, reported as infinite in ``pareto_k_max``), make that fit's LOO
    estimate unreliable: they are counted in the table and reported in one
    :class:`ParetoKWarning` (ArviZ's own warnings are folded into it).

    The log-likelihood conditions on the fitted group offsets, so this is leave-one-*run*-out
    within known model sizes; to judge extrapolation to new sizes use :func:`backtest`.

    Parameters
    ----------
    fits : mapping of str to ScalingFit, or sequence of ScalingFit
        Fits of the same runs (for example ``{"chinchilla": f1, "supervised": f2}``). A
        sequence is named by each fit's law (suffixed ``_1``, ``_2`` if repeated).
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}, default "stacking"
        How :func:`arviz.compare` computes the model weights.
    random_seed : int, optional
        Seed of the posterior predictive draws (not used by LOO itself).

    Returns
    -------
    pandas.DataFrame
        :func:`arviz.compare`'s table (best first: ``rank``, ``elpd``, ``elpd_diff``, ``dse``,
        ``p_worse``, ``p``, ``se``, ``weight``, ...) plus ``law``, ``pareto_k_max``,
        ``pareto_k_threshold`` and ``n_high_pareto_k``. ``attrs["loo"]`` holds the
        :class:`~arviz_stats.utils.ELPDData` of each fit and ``attrs["warnings"]`` the
        Pareto-k messages (empty when all are reliable).

    Raises
    ------
    TypeError
        If an element is not a ScalingFit.
    ValueError
        With fewer than two fits, or fits of different runs.

    Warns
    -----
    ParetoKWarning
        When any fit has runs with a high Pareto k.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> fits = {law: bd.fit(runs, law=law, random_seed=1) for law in ("chinchilla", "supervised")}
    ...                                                               # doctest: +SKIP
    >>> table = bd.checks.compare(fits)                               # doctest: +SKIP
    >>> table[["rank", "elpd", "elpd_diff", "dse", "weight", "n_high_pareto_k"]]  # doctest: +SKIP
    """
    import arviz as az

    named = _named_fits(fits)
    loos, messages = {}, []
    rows = {}
    for name, f in named.items():
        loos[name], rows[name], message = _loo(name, f, random_seed)
        if message:
            messages.append(message)
    with np.errstate(all="ignore"):  # stacking weights with near-zero predictive densities
        table = az.compare(loos, method=method, round_to="none")
    extra = pd.DataFrame.from_dict(rows, orient="index")
    table = table.join(extra)
    table.attrs.update({"loo": loos, "warnings": messages, "method": method})
    if messages:
        warnings.warn(
            "PSIS-LOO is unreliable for some fits:\n  "
            + "\n  ".join(messages)
            + "\nCompare with backtests (bd.checks.backtest) or K-fold CV before trusting the "
            "ranking.",
            ParetoKWarning,
            stacklevel=2,
        )
    return table


# --------------------------------------------------------------------------------------------
# backtests


def run_compute(
    runs: pd.DataFrame, law: str, *, approx: Literal["paper", "2N"] = "paper"
) -> np.ndarray:
    """Training FLOPs of each run: ``3 F(N) D`` (supervised), ``3 F(N_S) D_S`` (the student).

    The distillation teacher's cost is not included: it is the student's own scale that
    makes a run strong or weak (the ``compute_below`` rule of :func:`backtest`).

    Parameters
    ----------
    runs : DataFrame
        Canonical run table (``N, D`` or ``N_S, D_S`` columns).
    law : {"chinchilla", "supervised", "distillation"}
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`; ``"2N"`` gives ``6ND``.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import pandas as pd
    >>> import bayes_distill as bd
    >>> runs = pd.DataFrame({"N": [1e9], "D": [2e10]})
    >>> float(bd.checks.run_compute(runs, "chinchilla", approx="2N")[0])
    1.2e+20
    """
    from .compute import total_flops

    if law == "distillation":
        return np.asarray(total_flops(runs["N_S"], runs["D_S"], approx=approx), float)
    return np.asarray(total_flops(runs["N"], runs["D"], approx=approx), float)


_TRAIN_KEYS = ("loss_above", "compute_below")


def _train_mask(
    train: Any, table: pd.DataFrame, law: str, approx: str, *, name: str = "train"
) -> tuple[np.ndarray, str]:
    """The boolean mask of the training runs of one rule, and the rule in words.

    ``name`` is how the rule is called in error messages (``train[1]`` for a list's second).
    """
    n = len(table)
    if isinstance(train, Mapping):
        if len(train) != 1 or next(iter(train)) not in _TRAIN_KEYS:
            raise ValueError(
                f"{name} as a mapping needs exactly one of the keys {list(_TRAIN_KEYS)}, e.g. "
                f"{{'loss_above': 2.6}} or {{'compute_below': 1e20}}; got {dict(train)!r}."
            )
        key, value = next(iter(train.items()))
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{name}[{key!r}] must be a positive number, got {value!r}.")
        if key == "loss_above":
            mask = table[_TARGET[law]].to_numpy(float) > value
            rule = f"loss > {value:g}"
        else:
            mask = run_compute(table, law, approx=approx) < value
            rule = f"compute < {value:.3g} FLOPs"
        return mask, rule
    if isinstance(train, str) or np.isscalar(train) or train is None:
        raise TypeError(
            f"{name} must be {{'loss_above': L}}, {{'compute_below': C}}, a boolean mask with "
            f"one entry per run, or a list of these (one backtest each); got {train!r}."
        )
    mask = np.asarray(train)
    if mask.dtype != bool:
        raise TypeError(
            f"{name} as an array must be boolean (True = fit on this run), got dtype {mask.dtype}."
        )
    if mask.shape != (n,):
        raise ValueError(f"{name} mask has shape {mask.shape}, but there are {n} runs.")
    return mask.copy(), f"mask ({int(mask.sum())} runs)"


@dataclass(frozen=True, repr=False)
class Backtest:
    """The result of :func:`backtest`.

    Attributes
    ----------
    law : str
    rule : str
        How the training runs were chosen (e.g. ``"loss > 2.6"``).
    table : pandas.DataFrame
        One row per held-out run: the inputs, ``compute`` (training FLOPs), ``observed``,
        ``median`` (of the posterior predictive), ``lower_50``/``upper_50`` and
        ``lower_90``/``upper_90`` (predictive intervals), ``error`` (``median - observed``,
        nats), ``ape`` (absolute percentage error, %), ``in_50`` and ``in_90``.
    train : numpy.ndarray
        Boolean mask of the training runs (in the order of the canonical run table).
    mdape : float
        Median absolute percentage error of the predictive median on the held-out runs (%).
    coverage : dict
        ``{0.5: ..., 0.9: ...}``: share of held-out runs inside each predictive interval.
    fit : ScalingFit
        The fit to the training runs.
    random_seed : int or None
        The seed of the fit and of the predictive noise (``None``: not seeded).
    """

    law: str
    rule: str
    table: pd.DataFrame
    train: np.ndarray
    mdape: float
    coverage: dict[float, float]
    fit: Any = field(compare=False)
    random_seed: int | None = None

    @property
    def n_train(self) -> int:
        return int(self.train.sum())

    @property
    def n_test(self) -> int:
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """One summary row: law, rule, run counts, MdAPE, coverages and the fit's health."""
        diag = self.fit.diagnose()
        row = {
            "law": self.law,
            "rule": self.rule,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "mdape": self.mdape,
            "mean_error": float(self.table["error"].mean()),
        }
        row.update({f"coverage_{round(100 * p)}": c for p, c in self.coverage.items()})
        row.update({"converged": diag.ok, "divergences": diag.divergences})
        return pd.DataFrame([row])

    def __str__(self) -> str:
        cov = ", ".join(f"{p:.0%}: {c:.0%}" for p, c in self.coverage.items())
        return (
            f"Backtest of the {self.law} law: fit {self.n_train} runs ({self.rule}), "
            f"predict {self.n_test}\n"
            f"  MdAPE of the predictive median: {self.mdape:.2f}%\n"
            f"  mean error (median - observed): {self.table['error'].mean():+.4f} nats\n"
            f"  coverage of predictive intervals (nominal: actual): {cov}"
        )

    __repr__ = __str__


def _is_folds(train: Any) -> bool:
    """Whether ``train`` is a list of training rules (several folds) rather than one rule."""
    return (
        isinstance(train, list | tuple)
        and len(train) > 0
        and all(isinstance(t, Mapping) or np.ndim(t) == 1 for t in train)
    )


def _folds(
    rules: list[Any], table: pd.DataFrame, law: str, approx: str, several: bool
) -> list[tuple[np.ndarray, str]]:
    """Each rule's training mask and description, checked before anything is fitted."""
    folds = []
    n_needed = len(laws.SAMPLED_NAMES[law])
    for i, rule in enumerate(rules):
        name = f"train[{i}]" if several else "train"
        mask, described = _train_mask(rule, table, law, approx, name=name)
        if mask.sum() < n_needed:
            raise ValueError(
                f"{name} ({described}) selects {int(mask.sum())} of {len(table)} runs; the "
                f"{law} law needs at least {n_needed} to fit. Loosen the threshold."
            )
        if (~mask).sum() == 0:
            raise ValueError(
                f"{name} ({described}) selects all {len(table)} runs, leaving none to "
                "predict; tighten the threshold."
            )
        folds.append((mask, described))
    return folds


def _fold_seeds(random_seed: Any, n_folds: int) -> list[int]:
    """One seed per fold, derived from ``random_seed`` (drawn once here when it is None)."""
    random_seed = _validate.random_seed(random_seed)
    root = np.random.SeedSequence(random_seed)
    return [int(child.generate_state(1)[0] % 2**31) for child in root.spawn(n_folds)]


def _backtest_fold(
    table: pd.DataFrame,
    law: str,
    mask: np.ndarray,
    rule: str,
    approx: str,
    fit_kwargs: Mapping[str, Any],
    report: bool = False,
) -> Backtest:
    """Fit the runs of ``mask`` and score the predictions of the others (one fold).

    ``report`` notes on stderr when the held-out runs are predicted.
    """
    from .extrapolation import ExtrapolationWarning
    from .sampling import fit as _fit

    train_runs = table[mask].reset_index(drop=True)
    test_runs = table[~mask].reset_index(drop=True)
    fitted = _fit(train_runs, law=law, **fit_kwargs)
    if report:
        _progress.note(f"backtest: predicting the {len(test_runs)} held-out runs")
    seed = fit_kwargs.get("random_seed")
    inputs = list(_INPUTS[law])
    new = test_runs[inputs]
    with warnings.catch_warnings():
        # held-out runs beyond the training runs are what a backtest measures, not a mistake
        warnings.simplefilter("ignore", ExtrapolationWarning)
        p50 = fitted.predict(new, kind="predictive", ci_prob=0.5, random_seed=seed)
        p90 = fitted.predict(new, kind="predictive", ci_prob=0.9, random_seed=seed)
    observed = test_runs[_TARGET[law]].to_numpy(float)
    out = new.copy()
    out["compute"] = run_compute(test_runs, law, approx=approx)
    out["observed"] = observed
    out["median"] = p90["median"].to_numpy()
    out["lower_50"], out["upper_50"] = p50["lower"].to_numpy(), p50["upper"].to_numpy()
    out["lower_90"], out["upper_90"] = p90["lower"].to_numpy(), p90["upper"].to_numpy()
    out["error"] = out["median"] - observed
    out["ape"] = 100 * np.abs(out["error"]) / observed
    out["in_50"] = (observed >= out["lower_50"]) & (observed <= out["upper_50"])
    out["in_90"] = (observed >= out["lower_90"]) & (observed <= out["upper_90"])
    return Backtest(
        law=law,
        rule=rule,
        table=out,
        train=mask,
        mdape=float(out["ape"].median()),
        coverage={0.5: float(out["in_50"].mean()), 0.9: float(out["in_90"].mean())},
        fit=fitted,
        random_seed=seed,
    )


def backtest(
    runs: pd.DataFrame | str | os.PathLike,
    law: Literal["chinchilla", "supervised", "distillation"] = "chinchilla",
    *,
    train: Mapping[str, float] | Sequence[bool] | np.ndarray | Sequence[Any],
    approx: Literal["paper", "2N"] = "paper",
    executor: Any = None,
    **fit_kwargs: Any,
) -> Backtest | list[Backtest]:
    """Fit the weaker runs, predict the stronger ones, and score the predictions.

    As in Busbridge et al. (2025), Figure 5: the law is fitted to the runs below a strength
    threshold and must extrapolate to the rest. Predictions are posterior predictive (a new
    model size draws a new discrepancy offset, plus run noise), scored by the median absolute
    percentage error (MdAPE) of the predictive median and the coverage of the 50% and 90%
    predictive intervals. Several thresholds (folds) are several independent fits, which an
    ``executor`` can run in parallel (see ``docs/scaling_out.md``).

    Parameters
    ----------
    runs : DataFrame or path
        All runs (see :func:`bayes_distill.load_runs`).
    law : {"chinchilla", "supervised", "distillation"}
    train : mapping, boolean array, or list of them
        Which runs to fit: ``{"loss_above": L}`` (runs with loss above ``L`` nats/token; the
        student loss ``L_S`` for distillation), ``{"compute_below": C}`` (runs trained with
        fewer than ``C`` FLOPs, see :func:`run_compute`) or a boolean mask with one entry per
        run (True = fit). The other runs are predicted. A list of such rules backtests each
        (one fold per rule, e.g. ``[{"compute_below": 1e20}, {"compute_below": 1e21}]``) and
        returns a list.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token for ``compute_below`` (:func:`bayes_distill.compute.forward_flops`).
    executor : None or executor, optional
        Runs the folds' fits: anything with ``submit(fn, *args, **kwargs)`` returning futures
        with ``result()``, such as :class:`concurrent.futures.ProcessPoolExecutor` or a
        ``dask.distributed.Client``. None (default) fits the folds one after another in this
        process, reusing its compiled models. The results do not depend on the executor.
    **fit_kwargs
        Passed to :func:`bayes_distill.fit` (``draws``, ``tune``, ``chains``, ``random_seed``,
        ``priors``, ``discrepancy``, ``supervised_runs``, ``progressbar``, ...). ``random_seed``
        also seeds the predictive noise; with a list of rules, each fold uses its own seed
        derived from it (``Backtest.random_seed``: pass it with that fold's rule alone to
        repeat the fold). When progress is on (``progressbar``, as in
        :func:`bayes_distill.fit`), lines on stderr say what is fitted and when the held-out
        runs are predicted; with an executor, a counter of finished folds (the fits' own
        progress bars are not shown).

    Returns
    -------
    Backtest or list of Backtest
        One per rule of ``train``, in its order, when ``train`` is a list.

    Raises
    ------
    TypeError
        If ``train`` is neither a mapping nor a boolean mask (nor a list of them), or
        ``executor`` has no ``submit`` method.
    ValueError
        If ``train`` selects too few runs to fit, or none to predict.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> bt = bd.backtest(runs, law="chinchilla", train={"compute_below": 1e20},
    ...                  draws=300, tune=300, chains=2, random_seed=0)   # doctest: +SKIP
    >>> print(bt)                                                       # doctest: +SKIP
    >>> bt.table.head()                                                 # doctest: +SKIP

    Several folds, fitted two at a time in worker processes:

    >>> from concurrent.futures import ProcessPoolExecutor
    >>> import pandas as pd
    >>> with ProcessPoolExecutor(max_workers=2) as pool:                # doctest: +SKIP
    ...     folds = bd.backtest(runs, law="chinchilla", train=[{"compute_below": c}
    ...                         for c in (3e19, 1e20, 1e21)], random_seed=0, executor=pool)
    >>> pd.concat([bt.to_frame() for bt in folds])                      # doctest: +SKIP
    """
    from . import _parallel
    from .data import load_runs

    laws._check_law(law)
    _parallel.check_executor(executor)
    table = load_runs(runs, kind=_kind(law))
    several = _is_folds(train)
    folds = _folds(list(train) if several else [train], table, law, approx, several)
    seeds = (
        _fold_seeds(fit_kwargs.get("random_seed"), len(folds))
        if several
        else [fit_kwargs.get("random_seed")]
    )
    show = _progress.enabled(fit_kwargs.get("progressbar"))
    tasks = []
    for (mask, described), seed in zip(folds, seeds, strict=True):
        kwargs = {**fit_kwargs, "random_seed": seed}
        if executor is not None:
            kwargs["progressbar"] = False  # other processes' bars would garble the terminal
        tasks.append(
            {
                "table": table,
                "law": law,
                "mask": mask,
                "rule": described,
                "approx": approx,
                "fit_kwargs": kwargs,
                "report": show and executor is None and not several,
            }
        )
    if show:
        what = "; ".join(f"{int(m.sum())} of {len(table)} runs ({d})" for m, d in folds)
        where = "" if executor is None else f", on {type(executor).__name__}"
        _progress.note(f"backtest: fitting the {law} law to {what}{where}")
    counter = _progress.Counter("backtest: fold", len(tasks), on=show and several)
    results = _parallel.run_tasks(
        _backtest_fold, tasks, executor, on_result=lambda i, bt: counter.step(f"({bt.rule})")
    )
    counter.close()
    return results if several else results[0]


# --------------------------------------------------------------------------------------------
# simulation


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
    model,
    law: str,
    params: Mapping[str, float],
    sigma: float,
    tau: float | Mapping[str, float],
    priors: Mapping[str, Any],
) -> dict[str, float]:
    """Values of every scalar parameter of ``model`` for a simulation from known parameters.

    The law's parameters come from ``params``, ``sigma`` and the ``tau_*`` from the arguments,
    and any other noise parameter of the model (e.g. ``lambda``, ``nu``) from ``params`` or, if
    absent there, the median of its prior (a typical value).
    """
    missing = [k for k in laws.PARAM_NAMES[law] if k not in params]
    if missing:
        raise ValueError(f"params for the {law} law miss {missing}.")
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
    missing = [k for k in laws.PARAM_NAMES[law] if k not in params]
    if missing:
        raise ValueError(f"params for the {law} law miss {missing}.")
    runs = design[list(_INPUTS[law])].copy()
    runs[_TARGET[law]] = _law_loss(law, params, design)
    model = _pymc_model(law, runs, priors, options)
    fixed = _fixed_values(model, law, params, sigma, tau, priors)
    y = _simulate(law, design, priors, options, fixed, random_seed)
    out = design.copy()
    out[_TARGET[law]] = np.exp(y)
    return out


# --------------------------------------------------------------------------------------------
# simulation-based calibration

# Published values used by ``sbc(..., truth="paper")``: the Epoch AI replication for Chinchilla
# (Besiroglu et al. 2024, arXiv 2404.10102), Busbridge et al. Table 6 otherwise.
_EPOCH = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}


def _published(law: str) -> dict[str, float]:
    if law == "chinchilla":
        return dict(_EPOCH)
    return {k: laws.PAPER[k] for k in laws.PARAM_NAMES[law]}


@dataclass(frozen=True, repr=False)
class SBCResult:
    """The result of :func:`sbc`.

    Attributes
    ----------
    law : str
    truth : str
        ``"prior"`` (parameters drawn from the prior: proper SBC) or ``"fixed"``.
    ci_prob : float
    table : pandas.DataFrame
        One row per dataset and parameter: ``dataset``, ``parameter``, ``true``, ``median``,
        ``lower``, ``upper``, ``covered``, ``rank`` (posterior draws below the truth),
        ``n_draws``, ``converged``, ``divergences``, ``seconds``.
    n_rejected : int
        Simulated datasets redrawn because a loss fell outside the plausible range that
        :func:`bayes_distill.load_runs` accepts.
    """

    law: str
    truth: str
    ci_prob: float
    table: pd.DataFrame
    n_rejected: int = 0

    @property
    def n_datasets(self) -> int:
        return int(self.table["dataset"].nunique())

    @property
    def coverage(self) -> pd.DataFrame:
        """Coverage per parameter: ``coverage``, ``n``, ``mean_rank`` (0.5 when calibrated)."""
        t = self.table
        g = t.groupby("parameter", sort=False)
        out = pd.DataFrame(
            {
                "coverage": g["covered"].mean(),
                "n": g["covered"].size(),
                "mean_rank": g.apply(
                    lambda d: float((d["rank"] / d["n_draws"]).mean()), include_groups=False
                ),
            }
        )
        out.attrs["ci_prob"] = self.ci_prob
        return out

    @property
    def overall(self) -> float:
        """Coverage pooled over all parameters and datasets."""
        return float(self.table["covered"].mean())

    def __str__(self) -> str:
        conv = self.table.drop_duplicates("dataset")["converged"]
        lines = [
            f"SBC of the {self.law} law: {self.n_datasets} datasets (truth: {self.truth}), "
            f"{self.ci_prob:.0%} intervals; {int(conv.sum())} fits converged"
            + (f"; {self.n_rejected} implausible datasets redrawn" if self.n_rejected else ""),
            f"  {'parameter':<18}{'coverage':>9}{'mean rank':>11}",
        ]
        for name, row in self.coverage.iterrows():
            lines.append(f"  {name:<18}{row['coverage']:>9.2f}{row['mean_rank']:>11.2f}")
        lines.append(f"  {'all':<18}{self.overall:>9.2f}")
        return "\n".join(lines)

    __repr__ = __str__


def _sbc_fit(
    dataset: int,
    sim: pd.DataFrame,
    truths: Mapping[str, float],
    quantiles: tuple[float, float],
    fit_kwargs: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Fit one simulated dataset of :func:`sbc`; one table row per parameter with a truth."""
    from .sampling import fit as _fit

    start = time.perf_counter()
    fitted = _fit(sim, **fit_kwargs)
    seconds = time.perf_counter() - start
    diag = fitted.diagnose()
    post = fitted.posterior
    rows = []
    for name, true in truths.items():
        if name in fitted.params:
            v = np.asarray(fitted.params[name].values, float).ravel()
        elif name in post:
            v = np.asarray(post[name].values, float).ravel()
        else:  # pragma: no cover - a parameter the fit does not report
            continue
        lo, hi = np.quantile(v, quantiles)
        rows.append(
            {
                "dataset": dataset,
                "parameter": name,
                "true": true,
                "median": float(np.median(v)),
                "lower": float(lo),
                "upper": float(hi),
                "covered": bool(lo <= true <= hi),
                "rank": int(np.sum(v < true)),
                "n_draws": v.size,
                "converged": diag.ok,
                "divergences": diag.divergences,
                "seconds": seconds,
            }
        )
    return rows


def _sbc_tasks(
    law: str,
    design: pd.DataFrame,
    truths_used: list[dict[str, float]],
    ys: list[np.ndarray],
    rng: np.random.Generator,
    quantiles: tuple[float, float],
    fit_kwargs: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The arguments of :func:`_sbc_fit` for each simulated dataset, with its fit's seed."""
    tasks = []
    for i, (true_scalars, y) in enumerate(zip(truths_used, ys, strict=True)):
        sampled = {k: true_scalars[k] for k in laws.SAMPLED_NAMES[law]}
        truths = {k: float(v) for k, v in laws.to_natural(law, sampled).items()}
        truths.update({k: v for k, v in true_scalars.items() if k not in laws.SAMPLED_NAMES[law]})
        sim = design.copy()
        sim[_TARGET[law]] = np.exp(y)
        seed = int(rng.integers(2**31))
        tasks.append(
            {
                "dataset": i,
                "sim": sim,
                "truths": truths,
                "quantiles": quantiles,
                "fit_kwargs": {**fit_kwargs, "random_seed": seed},
            }
        )
    return tasks


def sbc(
    law: Literal["chinchilla", "supervised", "distillation"],
    *,
    n_datasets: int = 20,
    truth: Literal["prior", "paper"] | Mapping[str, float] = "prior",
    design: pd.DataFrame | None = None,
    priors: str | Mapping[str, Any] | None = None,
    sigma: float = 0.01,
    tau: float = 0.01,
    ci_prob: float = 0.9,
    random_seed: int | None = 0,
    callback: Callable[[int, pd.DataFrame], None] | None = None,
    executor: Any = None,
    **fit_kwargs: Any,
) -> SBCResult:
    """Simulation-based calibration of the model of ``law``.

    For each dataset: take true parameters, simulate runs on ``design`` from the model that
    :func:`bayes_distill.fit` samples (run forwards with :func:`pymc.sample_prior_predictive`),
    fit them with the same ``priors`` and model options, and record whether the equal-tailed
    ``ci_prob`` interval of each natural parameter and of each scalar noise parameter
    (``sigma``, ``tau_*``, ...) covers the truth. With ``truth="prior"`` everything is drawn from
    the prior, so a calibrated model and a correct sampler give a coverage of ``ci_prob`` for
    every parameter and uniform ranks (Talts et al. 2018). Simulations with a loss outside the
    range :func:`bayes_distill.load_runs` accepts are redrawn (counted in ``n_rejected``).

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    n_datasets : int, default 20
    truth : "prior", "paper" or mapping, default "prior"
        ``"prior"``: a fresh draw from the prior for every dataset. ``"paper"``: fixed at the
        published values (Epoch AI's replication for Chinchilla, Busbridge et al. Table 6
        otherwise), or a mapping of natural parameters; ``sigma`` and ``tau`` then set the noise
        (other noise parameters: from the mapping, else their prior median).
    design : DataFrame, optional
        Run inputs; default :func:`default_design`.
    priors : None, "paper" or mapping, optional
        Priors of the fits (and of the truth when ``truth="prior"``).
    sigma, tau : float, default 0.01
        Noise and offset spreads for a fixed truth (ignored with ``truth="prior"``).
    ci_prob : float, default 0.9
    random_seed : int, optional
        Seeds the truths, the simulations and the fits.
    callback : callable, optional
        Called as ``callback(i, rows)`` after each dataset (for progress reports), in the
        order of the datasets.
    executor : None or executor, optional
        Runs the fits of the simulated datasets: anything with ``submit(fn, *args, **kwargs)``
        returning futures with ``result()``, such as
        :class:`concurrent.futures.ProcessPoolExecutor` or a ``dask.distributed.Client`` (see
        ``docs/scaling_out.md``). None (default) fits them one after another in this process.
        The truths, simulations and seeds are drawn here first, so the result does not depend
        on the executor (apart from the ``seconds`` column).
    **fit_kwargs
        Passed to :func:`bayes_distill.fit` (``draws``, ``tune``, ``chains``, ``sampler``, and the
        model options ``likelihood``, ``discrepancy``, ..., which the simulation uses too).
        ``progressbar`` (as in :func:`bayes_distill.fit`: None shows progress when interactive,
        see ``BAYES_DISTILL_PROGRESS``) turns on a counter of fitted datasets on stderr; the
        fits' own progress bars are shown only when it is True.

    Returns
    -------
    SBCResult

    Examples
    --------
    >>> import bayes_distill as bd
    >>> res = bd.checks.sbc("chinchilla", n_datasets=4, draws=300, tune=300, chains=2)
    ...                                                            # doctest: +SKIP
    >>> res.coverage                                               # doctest: +SKIP
    >>> print(res)                                                 # doctest: +SKIP

    On a Dask cluster (``pip install "dask[distributed]"``), one fit per worker at a time:

    >>> from dask.distributed import Client, LocalCluster                # doctest: +SKIP
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1)        # doctest: +SKIP
    >>> with Client(cluster) as client:                                  # doctest: +SKIP
    ...     res = bd.checks.sbc("chinchilla", n_datasets=20, executor=client)
    """

    from . import _parallel
    from .data import LOSS_RANGE, DataValidationWarning
    from .diagnostics import ConvergenceWarning
    from .priors import resolve_priors

    laws._check_law(law)
    if isinstance(n_datasets, bool) or not isinstance(n_datasets, int) or n_datasets < 1:
        raise ValueError(f"n_datasets must be a positive integer, got {n_datasets!r}.")
    ci_prob = _validate.probability("ci_prob", ci_prob)
    if "runs" in fit_kwargs:
        raise TypeError("'runs' is simulated by sbc; do not pass it.")
    _parallel.check_executor(executor)
    design = _check_design(law, design)
    options = _model.check_options(**{k: v for k, v in fit_kwargs.items() if k in _model.OPTIONS})
    resolved = resolve_priors(law, priors)
    if isinstance(truth, str):
        if truth not in ("prior", "paper"):
            raise ValueError(f"truth must be 'prior', 'paper' or a mapping, got {truth!r}.")
        fixed_params = None if truth == "prior" else _published(law)
    elif isinstance(truth, Mapping):
        missing = set(laws.PARAM_NAMES[law]) - set(truth)
        if missing:
            raise ValueError(f"truth misses the parameters {sorted(missing)} of the {law} law.")
        fixed_params = dict(truth)
    else:
        raise TypeError(f"truth must be 'prior', 'paper' or a mapping, got {truth!r}.")

    rng = np.random.default_rng(random_seed)
    model = _pymc_model(law, design, resolved, options)  # for the priors only
    scalars = _scalar_free_names(model)
    n_candidates = 4 * n_datasets + 10  # implausible simulations are redrawn
    if fixed_params is None:
        prior = _forward(model, n_candidates, rng)["prior"]
        candidates = [
            {k: float(prior[k].values.reshape(-1)[j]) for k in scalars} for j in range(n_candidates)
        ]
    else:
        runs = design[list(_INPUTS[law])].copy()
        runs[_TARGET[law]] = _law_loss(law, fixed_params, design)
        fixed = _fixed_values(
            _pymc_model(law, runs, resolved, options), law, fixed_params, sigma, tau, resolved
        )
        candidates = [fixed] * n_candidates
    truths_used, ys, n_rejected = [], [], 0
    for values in candidates:
        if len(ys) == n_datasets:
            break
        sampled = {k: values[k] for k in laws.SAMPLED_NAMES[law]}
        natural = {k: float(v) for k, v in laws.to_natural(law, sampled).items()}
        mean_law = _law_loss(law, natural, design)
        plausible = np.all(np.isfinite(mean_law)) and np.all(
            (mean_law > LOSS_RANGE[0]) & (mean_law < LOSS_RANGE[1])
        )
        if plausible:
            y = _simulate(law, design, resolved, options, values, rng)
            with np.errstate(over="ignore"):
                plausible = np.all(np.isfinite(y)) and np.all(
                    (np.exp(y) > LOSS_RANGE[0]) & (np.exp(y) < LOSS_RANGE[1])
                )
        if not plausible:
            n_rejected += 1
            continue
        truths_used.append(values)
        ys.append(y)
    if len(ys) < n_datasets:
        raise RuntimeError(
            f"Only {len(ys)} of {n_candidates} simulated datasets have plausible losses; the "
            "prior is too wide for this design."
        )

    lo_q, hi_q = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    progressbar = fit_kwargs.pop("progressbar", None)
    show = _progress.enabled(progressbar)
    fit_kwargs = {
        **fit_kwargs,
        "law": law,
        "priors": priors,
        # the counter below reports each dataset; a bar per fit only when asked for (and only
        # in this process: other processes' bars would garble the terminal)
        "progressbar": progressbar is True and executor is None,
    }
    tasks = _sbc_tasks(law, design, truths_used, ys, rng, (lo_q, hi_q), fit_kwargs)
    if show:
        where = "" if executor is None else f" on {type(executor).__name__}"
        _progress.note(f"sbc: fitting {n_datasets} simulated {law} datasets{where}")
    counter = _progress.Counter("sbc: dataset", n_datasets, on=show)

    def collected(i: int, new_rows: list[dict[str, Any]]) -> None:
        first = new_rows[0] if new_rows else {"seconds": 0.0, "converged": False}
        ok = "converged" if first["converged"] else "NOT converged"
        counter.step(f"(last fit {first['seconds']:.0f} s, {ok})")
        if callback is not None:
            callback(i, pd.DataFrame(new_rows))

    # Simulated teachers and students can cross by more than noise, and a fit can fail its
    # diagnostics: both are recorded in the table, not warned.
    per_dataset = _parallel.run_tasks(
        _sbc_fit,
        tasks,
        executor,
        quiet=(DataValidationWarning, ConvergenceWarning),
        on_result=collected,
    )
    counter.close()
    return SBCResult(
        law=law,
        truth="prior" if fixed_params is None else "fixed",
        ci_prob=ci_prob,
        table=pd.DataFrame([row for rows in per_dataset for row in rows]),
        n_rejected=n_rejected,
    )
