"""Figures of fits, checks and decisions.

Every function returns a :class:`matplotlib.figure.Figure` created through :mod:`matplotlib.pyplot`
(so that it displays when it is the last expression of a notebook cell) and changes no global
matplotlib state: no rcParams, style or backend is touched at import or call time. Close the
figures you no longer need with ``plt.close(fig)``.

==============================  ==============================================================
:func:`ppc`                     observed losses against the prior or posterior predictive
:func:`groups`                  each group's parameters with intervals (grouped fits)
:func:`loss_vs_compute`         isoFLOP curves and the compute-optimal frontier (supervised laws)
:func:`capacity_gap`            student loss against teacher loss: the U-shape (distillation)
:func:`distill_map`             P(distillation beats supervised) over student size x budget,
                                with the paper's boundary (from
                                :func:`bayes_distill.distill_or_train`)
:func:`crossover`               the compute where supervised training overtakes distillation,
                                against student size (from :func:`bayes_distill.crossover`)
:func:`shared_teacher`          P(distillation better) and the loss at risk against the number
                                of students sharing one trained teacher
:func:`recommendation`          the loss distribution of a recommendation against the baseline
:func:`trace`, :func:`rank`,    ArviZ's trace, rank and pair plots of the natural parameters
:func:`pair`
==============================  ==============================================================

ArviZ plots work on the fit's tree directly: ``fit.dt`` holds the *sampled* parameters
(``log_E``, ``a``, ``b``, ``alpha``, ...; what the sampler saw, so what convergence plots should
show) and :func:`bayes_distill.checks.natural_tree` a tree of the natural ones (``E``, ``A``,
``B``, ...)::

    import arviz as az
    az.plot_trace_dist(fit.dt, var_names=["log_E", "alpha", "beta"])
    az.plot_rank(fit.dt, var_names=["a", "b"])
    az.plot_pair(bd.checks.natural_tree(fit), var_names=["E", "alpha", "beta"])
    az.plot_ppc_dist(fit.posterior_predictive())     # log loss, observed vs replicated
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import laws
from . import validate as _validate

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

    from .decide import Recommendation
    from .results import ScalingFit

__all__ = [
    "capacity_gap",
    "crossover",
    "distill_map",
    "groups",
    "loss_vs_compute",
    "pair",
    "ppc",
    "rank",
    "recommendation",
    "shared_teacher",
    "trace",
]

_LOSS_LABEL = "loss (nats/token)"


# --------------------------------------------------------------------------------------------
# helpers


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _positive_values(name: str, values: Any, example: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive finite numbers, got {values!r}; e.g. {example}.")
    return arr


def _band(draws: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, lower and upper (equal-tailed) over the first axis."""
    q = np.nanquantile(draws, [0.5, (1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
    return q[0], q[1], q[2]


def _pct(ci_prob: float) -> str:
    return f"{100 * ci_prob:.0f}%"


def _band_panel(ax, ci_prob: float, what: str = "") -> None:
    """Label a panel that draws credible bands minus their median (nats), around a zero line.

    Bands of a loss a few hundredths of a nat wide are a line's width on an axis spanning a
    nat; drawn against their median they fill the panel, so their width, and how it grows
    beyond the runs, can be read.
    """
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_ylabel(f"{_pct(ci_prob)} band\n- median{what} (nats)", fontsize="small")
    ax.tick_params(labelsize="small")


# --------------------------------------------------------------------------------------------
# predictive checks


def ppc(
    data: ScalingFit | xr.DataTree,
    *,
    group: Literal["posterior_predictive", "prior_predictive"] | None = None,
    ci_prob: float = 0.9,
    num_samples: int = 50,
    random_seed: int | None = None,
) -> Figure:
    """Observed losses against the posterior (or prior) predictive distribution.

    Left: the distribution of the observed losses (black) over ``num_samples`` replicated data
    sets (thin lines). Right: each run's observed loss against its predictive median with the
    ``ci_prob`` interval; runs outside their interval are drawn in red, and the title gives the
    share inside (about ``ci_prob`` for a calibrated model).

    Parameters
    ----------
    data : ScalingFit or xarray.DataTree
        A fit, or a tree from :func:`bayes_distill.checks.prior_predictive` /
        :func:`bayes_distill.checks.posterior_predictive`.
    group : {"posterior_predictive", "prior_predictive"}, optional
        Which predictive group to show; by default the one the tree has.
    ci_prob : float, default 0.9
        Probability of the predictive intervals.
    num_samples : int, default 50
        Replicated data sets drawn on the left.
    random_seed : int, optional
        Seed of the posterior predictive draws (when ``data`` is a fit) and of the choice of
        replicated data sets.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> tree = bd.checks.prior_predictive(runs, n_draws=100, random_seed=0)
    >>> fig = bd.plots.ppc(tree, num_samples=20)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['loss (nats/token)', 'observed loss (nats/token)']
    """
    from scipy.stats import gaussian_kde

    from .predictive import predictive_summary
    from .results import ScalingFit

    ci_prob = _validate.probability("ci_prob", ci_prob)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}.")
    if isinstance(data, ScalingFit):
        data = data.posterior_predictive(random_seed=random_seed)
    table = predictive_summary(data, group=group, ci_prob=ci_prob)
    group = table.attrs["group"]
    pred = np.exp(np.asarray(data[group]["obs"].values, float))
    pred = pred.reshape(-1, pred.shape[-1])
    obs = table["observed"].to_numpy()
    rng = np.random.default_rng(random_seed)
    pick = rng.choice(len(pred), size=min(num_samples, len(pred)), replace=False)

    plt = _pyplot()
    fig, (ax_d, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    # densities of log loss (the model's scale), drawn against loss
    log_pred, log_obs = np.log(pred[pick]), np.log(obs)
    lo, hi = np.quantile(np.r_[log_pred.ravel(), log_obs], [0.005, 0.995])
    pad = 0.05 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, 200)
    kind = "posterior" if group == "posterior_predictive" else "prior"
    for j, row in enumerate(log_pred):
        ax_d.plot(
            np.exp(grid),
            _kde(gaussian_kde, row, grid),
            color="C0",
            alpha=0.25,
            lw=0.8,
            label=f"{kind} predictive" if j == 0 else None,
        )
    ax_d.plot(
        np.exp(grid), _kde(gaussian_kde, log_obs, grid), color="black", lw=2, label="observed"
    )
    if hi - lo > np.log(3.0):  # prior predictive checks span orders of magnitude
        ax_d.set_xscale("log")
    ax_d.set_xlabel(_LOSS_LABEL)
    ax_d.set_ylabel("density of log loss")
    ax_d.set_title(f"observed vs {len(pick)} replicated data sets")
    ax_d.legend(loc="best", frameon=False)

    inside = table["inside"].to_numpy()
    yerr = np.vstack([table["median"] - table["lower"], table["upper"] - table["median"]])
    for mask, color, label in ((inside, "C0", "inside"), (~inside, "C3", "outside")):
        if mask.any():
            ax_r.errorbar(
                obs[mask],
                table["median"].to_numpy()[mask],
                yerr=yerr[:, mask],
                fmt="o",
                ms=3,
                lw=0.8,
                color=color,
                label=f"{label} the {_pct(ci_prob)} interval ({int(mask.sum())})",
            )
    ends = [min(obs.min(), table["lower"].min()), max(obs.max(), table["upper"].max())]
    ax_r.plot(ends, ends, color="0.4", ls="--", lw=1, label="predicted = observed")
    if kind == "prior":  # prior predictive intervals span orders of magnitude
        ax_r.set_yscale("log")
        ax_r.set_xscale("log")
    ax_r.set_xlabel("observed loss (nats/token)")
    ax_r.set_ylabel(f"{kind} predictive median and {_pct(ci_prob)} interval")
    ax_r.set_title(f"{table.attrs['coverage']:.0%} of runs inside their {_pct(ci_prob)} interval")
    ax_r.legend(loc="upper left", frameon=False, fontsize="small")
    fig.suptitle(f"{kind.capitalize()} predictive check")
    return fig


def _kde(gaussian_kde, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    if values.size < 2 or np.ptp(values) == 0:
        return np.zeros_like(grid)
    return gaussian_kde(values)(grid)


# --------------------------------------------------------------------------------------------
# supervised laws: isoFLOP curves and the frontier


def _default_budgets(compute: np.ndarray) -> np.ndarray:
    lo, hi = np.log10(compute.min()), np.log10(compute.max())
    return 10 ** np.linspace(lo + 0.15 * (hi - lo), hi - 0.15 * (hi - lo), 5)


def loss_vs_compute(
    fit: ScalingFit,
    *,
    budgets: Sequence[float] | np.ndarray | None = None,
    compute_range: tuple[float, float] | None = None,
    ci_prob: float = 0.9,
    approx: Literal["paper", "2N"] = "paper",
    n_points: int = 60,
) -> Figure:
    """IsoFLOP curves and the compute-optimal frontier of a supervised fit, with the runs.

    Left: the loss of the compute-optimal model against compute (the frontier: median and
    ``ci_prob`` band of the per-draw optima, from :func:`bayes_distill.compute_optimal`), with
    the runs overlaid at their training compute ``3 F(N) D``. Right: for each budget in
    ``budgets``, the loss of a model of ``N`` parameters trained on ``D = C / (3 F(N))`` tokens
    (median and band), the optimum ``N*`` (median, with its interval as a horizontal bar), and
    the runs within 20% of that budget.

    All bands are of the mean law (epistemic uncertainty, no run-to-run noise). Near the runs
    they are a few thousandths of a nat wide, thinner than the lines on a loss axis, so a
    panel under each plot draws them minus their median (grey: the runs' compute), where their
    width and its growth beyond the runs can be read.

    Parameters
    ----------
    fit : ScalingFit
        A ``"chinchilla"`` or ``"supervised"`` fit.
    budgets : sequence of float, optional
        Budgets (FLOPs) of the isoFLOP curves; default five spanning the runs' compute.
    compute_range : (float, float), optional
        Range of the frontier; default from a third of the smallest run's compute to 100 times
        the largest (extrapolation is part of the point).
    ci_prob : float, default 0.9
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token (:func:`bayes_distill.compute.forward_flops`).
    n_points : int, default 60
        Points per curve.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes``: the frontier, the isoFLOP curves, then the band panel under each, and
        the colour bar of the runs' sizes (when there are runs).

    Examples
    --------
    >>> import bayes_distill as bd
    >>> p = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    >>> fit = bd.ScalingFit.from_params("supervised", p)
    >>> fig = bd.plots.loss_vs_compute(fit, budgets=[1e19, 1e21], compute_range=(1e18, 1e23))
    >>> [ax.get_ylabel() for ax in fig.axes[:2]]
    ['loss (nats/token)', 'loss (nats/token)']
    >>> fig.axes[3].get_xlabel()
    'parameters N'
    """
    from . import compute as _compute
    from .decide import compute_optimal
    from .extrapolation import ExtrapolationWarning

    fit = _validate.fit(fit, ("chinchilla", "supervised"), "loss_vs_compute", converged=False)
    ci_prob = _validate.probability("ci_prob", ci_prob)
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 3:
        raise ValueError(f"n_points must be an integer >= 3, got {n_points!r}.")
    runs = fit.runs
    run_c = None
    if runs is not None:
        run_c = np.asarray(_compute.total_flops(runs["N"], runs["D"], approx=approx), float)
    if compute_range is None:
        if run_c is None:
            raise ValueError(
                "This fit has no runs (from_params): give compute_range=(lo, hi) and budgets."
            )
        compute_range = (run_c.min() / 3, run_c.max() * 100)
    c_lo, c_hi = _positive_values("compute_range", compute_range, "(1e18, 1e24)")
    if not c_lo < c_hi:
        raise ValueError(f"compute_range must be increasing, got {compute_range!r}.")
    if budgets is None:
        budgets = _default_budgets(run_c if run_c is not None else np.array([c_lo, c_hi]))
    budgets = _positive_values("budgets", budgets, "[1e19, 1e20, 1e21]")

    frontier_c = np.geomspace(c_lo, c_hi, n_points)
    with warnings.catch_warnings():
        # the frontier reaches beyond the runs on purpose (by default 100x their compute), and
        # the figure draws the runs next to it, so the extent of the extrapolation is visible
        warnings.simplefilter("ignore", ExtrapolationWarning)
        front = compute_optimal(fit, compute=frontier_c, ci_prob=ci_prob, approx=approx)
        opt = compute_optimal(fit, compute=budgets, ci_prob=ci_prob, approx=approx)

    plt = _pyplot()
    fig, ((ax_f, ax_i), (band_f, band_i)) = plt.subplots(
        2, 2, figsize=(12, 6.4), sharex="col", height_ratios=[3, 1.3], layout="constrained"
    )
    _frontier_panels(fig, ax_f, band_f, front, runs, run_c, ci_prob)
    _isoflop_panels(ax_i, band_i, fit, budgets, opt, run_c, ci_prob, approx, n_points)
    fig.suptitle(f"{fit.law.capitalize()} law: loss against compute")
    return fig


def _frontier_panels(fig, ax_f, band_f, front, runs, run_c, ci_prob: float) -> None:
    """The compute-optimal frontier with its band and the runs, and its band panel."""
    ax_f.fill_between(
        front["compute"],
        front["loss_lower"],
        front["loss_upper"],
        color="C0",
        alpha=0.3,
        lw=0,
        label=f"{_pct(ci_prob)} credible band",
    )
    ax_f.plot(front["compute"], front["loss_median"], color="C0", lw=2, label="frontier (median)")
    if runs is not None:
        sc = ax_f.scatter(
            run_c,
            runs["loss"],
            c=np.log10(runs["N"]),
            cmap="viridis",
            s=10,
            zorder=3,
            label="runs",
        )
        fig.colorbar(sc, ax=ax_f, label="log10 parameters N")
    band_f.fill_between(
        front["compute"],
        front["loss_lower"] - front["loss_median"],
        front["loss_upper"] - front["loss_median"],
        color="C0",
        alpha=0.4,
        lw=0,
    )
    _band_panel(band_f, ci_prob)
    if run_c is not None:
        band_f.axvspan(run_c.min(), run_c.max(), color="0.9", zorder=0, label="runs' compute")
        band_f.legend(loc="upper left", frameon=False, fontsize="small")
    ax_f.set_xscale("log")
    band_f.set_xlabel("training compute C (FLOPs)")
    ax_f.set_ylabel(_LOSS_LABEL)
    ax_f.set_title("compute-optimal frontier (mean law)")
    ax_f.legend(loc="upper right", frameon=False)


def _isoflop_panels(
    ax_i, band_i, fit, budgets, opt, run_c, ci_prob: float, approx: str, n_points: int
) -> None:
    """The isoFLOP curve of each budget with its band, optimum and nearby runs, and their band
    panel, scaled to what is in view."""
    from . import compute as _compute

    runs = fit.runs
    N_lo = float(opt["N_lower"].min()) / 10
    N_hi = float(opt["N_upper"].max()) * 10
    if runs is not None:
        N_lo, N_hi = min(N_lo, runs["N"].min() / 2), max(N_hi, runs["N"].max() * 2)
    N_grid = np.geomspace(N_lo, N_hi, n_points)
    isoflop_bands = []
    for k, c in enumerate(budgets):
        color = f"C{k % 10}"
        D = _compute.supervised_tokens(c, N_grid, approx=approx)
        loss = np.exp(fit.log_supervised_mean(N_grid, D))
        med, lo, hi = _band(loss, ci_prob)
        ax_i.fill_between(N_grid, lo, hi, color=color, alpha=0.2, lw=0)
        ax_i.plot(N_grid, med, color=color, lw=1.5, label=f"C = {c:.2g}")
        band_i.fill_between(N_grid, lo - med, hi - med, color=color, alpha=0.3, lw=0)
        isoflop_bands.append((med, lo - med, hi - med))
        row = opt.iloc[k]
        ax_i.errorbar(
            [row["N_median"]],
            [row["loss_median"]],
            xerr=[[row["N_median"] - row["N_lower"]], [row["N_upper"] - row["N_median"]]],
            fmt="D",
            color=color,
            ms=5,
            capsize=3,
            mec="black",
            zorder=4,
        )
        if runs is not None:
            near = np.abs(np.log(run_c / c)) < np.log(1.2)
            if near.any():
                ax_i.scatter(
                    runs["N"][near], runs["loss"][near], color=color, s=14, ec="black", zorder=3
                )
    _band_panel(band_i, ci_prob)
    ax_i.set_xscale("log")
    band_i.set_xlabel("parameters N")
    ax_i.set_ylabel(_LOSS_LABEL)
    ax_i.set_title(f"isoFLOP curves ({_pct(ci_prob)} bands), optimum N* with interval")
    ax_i.legend(loc="upper right", frameon=False, fontsize="small")
    # show every optimum with room above it (the curves rise steeply away from N*)
    bottom = float(opt["loss_lower"].min())
    top = float(opt["loss_upper"].max())
    if runs is not None:
        near_any = np.min(np.abs(np.log(run_c[:, None] / budgets[None, :])), axis=1) < np.log(1.2)
        if near_any.any():
            bottom = min(bottom, float(runs["loss"][near_any].min()))
            top = max(top, float(runs["loss"][near_any].max()))
    span = max(top - bottom, 0.05)
    ax_i.set_ylim(bottom - 0.1 * span, top + 0.35 * span)
    # the band panel is scaled to the bands of the curves where they are in view above
    shown = [
        np.abs(np.r_[lo_dev[med <= top + 0.35 * span], hi_dev[med <= top + 0.35 * span]])
        for med, lo_dev, hi_dev in isoflop_bands
    ]
    reach = max((float(np.nanmax(a)) for a in shown if a.size), default=0.0)
    if reach > 0:
        band_i.set_ylim(-1.1 * reach, 1.1 * reach)


# --------------------------------------------------------------------------------------------
# distillation: capacity gap


def _student_tokens(fit: ScalingFit, N_S: float) -> float:
    """The most common D_S of the fitted runs of this student size, else 20 tokens/parameter."""
    from .model import GROUP_TOLERANCE

    runs = fit.runs
    if runs is not None:
        same = np.abs(np.log(runs["N_S"].to_numpy(float) / N_S)) < GROUP_TOLERANCE
        if same.any():
            d = runs["D_S"].to_numpy(float)[same]
            values, counts = np.unique(np.round(np.log(d), 2), return_counts=True)
            return float(np.exp(values[np.argmax(counts)]))
    return 20.0 * N_S


def _capacity_gap_inputs(fit, student_params, student_tokens, teacher_losses) -> tuple:
    """Students, their tokens (one each) and the sorted grid of teacher losses, checked, with
    the defaults of :func:`capacity_gap`."""
    sizes = _positive_values("student_params", student_params, "student_params=[2e8, 1e9]")
    if student_tokens is None:
        tokens = np.array([_student_tokens(fit, n) for n in sizes])
    else:
        tokens = _positive_values("student_tokens", student_tokens, "student_tokens=2e10")
        if tokens.size == 1:
            tokens = np.repeat(tokens, sizes.size)
        if tokens.size != sizes.size:
            raise ValueError(
                f"student_tokens has {tokens.size} values for {sizes.size} students; give one "
                "per student or a single value."
            )
    if teacher_losses is None:
        runs = fit.runs
        lo, hi = (1.6, 4.0) if runs is None else (runs["L_T"].min() * 0.85, runs["L_T"].max() * 1.3)
        teacher_losses = np.linspace(lo, hi, 80)
    grid = _positive_values("teacher_losses", teacher_losses, "np.linspace(1.8, 3.5, 50)")
    return sizes, tokens, np.sort(grid)


def capacity_gap(
    fit: ScalingFit,
    student_params: float | Sequence[float],
    *,
    student_tokens: float | Sequence[float] | None = None,
    teacher_losses: Sequence[float] | np.ndarray | None = None,
    kind: Literal["mean", "predictive"] = "mean",
    ci_prob: float = 0.9,
    random_seed: int | None = 0,
) -> Figure:
    """Student loss against teacher loss for fixed students: the capacity gap (a U-shape).

    For each student (``N_S`` parameters distilled on ``D_S`` tokens) the distillation law is
    evaluated over a range of teacher losses ``L_T``: median and ``ci_prob`` band, with the best
    teacher loss of the median curve marked. A better teacher helps until the student cannot
    follow it, after which the student gets worse. Dotted horizontal lines give the same student
    trained supervised on ``D_S`` tokens (median of the mean law); the dashed diagonal is
    ``L_S = L_T``. Runs of the same student and tokens are overlaid. The bands of the mean law
    are thinner than the lines near the runs, so a panel underneath draws each band minus its
    median (grey: the fitted teachers' losses).

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    student_params : float or sequence of float
        Student size(s) ``N_S``; one curve each.
    student_tokens : float or sequence of float, optional
        Distillation tokens ``D_S`` per student; default: the most common ``D_S`` of the fitted
        runs of that size, else 20 tokens per parameter.
    teacher_losses : array_like, optional
        The ``L_T`` grid (nats/token); default spans the fitted teachers, widened.
    kind : {"mean", "predictive"}, default "mean"
        Band of the mean law (epistemic) or posterior predictive (a new run; see
        :meth:`ScalingFit.predict`).
    ci_prob : float, default 0.9
    random_seed : int, optional
        Seed of the predictive noise (``kind="predictive"``).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes``: the curves, then the band panel.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> fig = bd.plots.capacity_gap(fit, student_params=[2e8, 1e9])
    >>> fig.axes[0].get_ylabel(), fig.axes[1].get_xlabel()
    ('student loss L_S (nats/token)', 'teacher loss L_T (nats/token)')
    """
    from .extrapolation import ExtrapolationWarning

    fit = _validate.fit(fit, ("distillation",), "capacity_gap", converged=False)
    ci_prob = _validate.probability("ci_prob", ci_prob)
    if kind not in ("mean", "predictive"):
        raise ValueError(f"kind must be 'mean' or 'predictive', got {kind!r}.")
    sizes, tokens, grid = _capacity_gap_inputs(fit, student_params, student_tokens, teacher_losses)
    runs = fit.runs

    plt = _pyplot()
    fig, (ax, band) = plt.subplots(
        2, 1, figsize=(7.5, 6.6), sharex=True, height_ratios=[3, 1.3], layout="constrained"
    )
    for k, (n, d) in enumerate(zip(sizes, tokens, strict=True)):
        color = f"C{k % 10}"
        new = pd.DataFrame({"N_S": n, "D_S": d, "L_T": grid})
        with warnings.catch_warnings():
            # the grid spans teacher losses beyond the runs on purpose (by default from 0.85
            # times the lowest to 1.3 times the highest), to show the whole U-shape
            warnings.simplefilter("ignore", ExtrapolationWarning)
            pred = fit.predict(new, kind=kind, ci_prob=ci_prob, random_seed=random_seed)
        ax.fill_between(grid, pred["lower"], pred["upper"], color=color, alpha=0.2, lw=0)
        ax.plot(grid, pred["median"], color=color, lw=2, label=f"N_S = {n:.3g}, D_S = {d:.3g}")
        band.fill_between(
            grid,
            pred["lower"] - pred["median"],
            pred["upper"] - pred["median"],
            color=color,
            alpha=0.3,
            lw=0,
        )
        j = int(np.argmin(pred["median"].to_numpy()))
        ax.plot(grid[j], pred["median"].iloc[j], marker="v", color=color, mec="black", ms=8)
        sup = np.exp(fit.log_supervised_mean(n, d)).ravel()
        ax.axhline(float(np.median(sup)), color=color, ls=":", lw=1.2)
        if runs is not None:
            same = (np.abs(np.log(runs["N_S"] / n)) < 0.02) & (
                np.abs(np.log(runs["D_S"] / d)) < 0.02
            )
            if same.any():
                ax.scatter(
                    runs["L_T"][same], runs["L_S"][same], color=color, ec="black", s=16, zorder=3
                )
    ax.plot(grid, grid, color="0.4", ls="--", lw=1, label="L_S = L_T")
    _band_panel(band, ci_prob)
    if runs is not None:
        band.axvspan(runs["L_T"].min(), runs["L_T"].max(), color="0.9", zorder=0)
    band.set_xlabel("teacher loss L_T (nats/token)")
    ax.set_ylabel("student loss L_S (nats/token)")
    which = "mean law" if kind == "mean" else "posterior predictive"
    ax.set_title(
        f"Capacity gap: {which}, {_pct(ci_prob)} bands (below: minus the median)\n"
        "triangles: best teacher; dotted: supervised student",
        fontsize="medium",
    )
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------
# distillation: where does distillation pay?


def _thinned(fit: ScalingFit, max_draws: int | None) -> ScalingFit:
    """The fit with at most ``max_draws`` posterior draws (evenly thinned)."""
    from .results import ScalingFit

    if max_draws is None or fit.n_samples <= max_draws:
        return fit
    step = int(np.ceil(fit.n_samples / max_draws))
    tree = fit.dt.copy()
    keep = slice(None, None, step)
    tree["posterior"] = tree["posterior"].to_dataset().isel(draw=keep)
    if "sample_stats" in tree.children:
        # the diagnostics belong to the full posterior (checked by the caller), not to a thinning
        del tree["sample_stats"]
    return ScalingFit(tree, fit.law, runs=fit.runs, supervised_runs=fit.supervised_runs)


#: The columns of :func:`bayes_distill.distill_or_train` that :func:`distill_map` draws.
_MAP_COLUMNS = ("student_params", "compute", "p_distillation_better", "paper_gap")


def distill_map(frame: pd.DataFrame) -> Figure:
    """Map of P(distillation beats supervised training) over student size and compute.

    Draws the table of :func:`bayes_distill.distill_or_train`: the colour of each cell is the
    share of posterior draws whose best distilled student (for the table's scenario) beats the
    same student trained on data with the whole budget. The solid black line is the
    posterior's boundary, ``P = 0.5``; the dashed orange line is the boundary under the
    paper's coefficients (Busbridge et al. 2025, Table 6, as a point fit: the hard line of
    their Figure 6), where the gap ``paper_gap`` changes sign. The legend says which is which.
    A black dotted line marks where the supervised student trains on one token per parameter:
    above it (large students, small budgets) both laws are evaluated far from any run. Grey
    cells: budgets that cannot train the student in the scenario within the bounds.

    Parameters
    ----------
    frame : pandas.DataFrame
        The result of :func:`bayes_distill.distill_or_train` (one row per student and budget
        of a grid; its ``attrs["scenario"]`` gives the title).

    Returns
    -------
    matplotlib.figure.Figure
        The probabilities are also in ``fig.axes[0].collections[0].get_array()`` (students
        as rows, budgets as columns, both ascending).

    Raises
    ------
    TypeError, ValueError
        If ``frame`` is not a DataFrame of :func:`bayes_distill.distill_or_train` (missing
        columns, empty, or not a full grid of students x budgets).

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> data = bd.distill_or_train(fit, "best_case", student_params=[1e8, 1e9, 1e10],
    ...                            compute=[1e20, 1e22, 1e24])
    >>> fig = bd.plots.distill_map(data)
    >>> fig.axes[0].get_ylabel()
    'student parameters N_S'
    """
    from matplotlib.lines import Line2D

    how = "bd.distill_or_train(fit, scenario)"
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"distill_map needs the DataFrame of {how}, got {type(frame).__name__}.")
    missing = [c for c in _MAP_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"distill_map needs the DataFrame of {how}; this one has no column(s) {missing}."
        )
    if frame.empty:
        raise ValueError(f"distill_map needs at least one cell: the DataFrame is empty ({how}).")
    prob = frame.pivot_table(
        index="student_params", columns="compute", values="p_distillation_better", dropna=False
    )
    paper = frame.pivot_table(
        index="student_params", columns="compute", values="paper_gap", dropna=False
    )
    if prob.size != len(frame):
        raise ValueError(
            f"distill_map needs one row per student and budget of a full grid, as {how} "
            f"returns; got {len(frame)} rows for {prob.shape[0]} students x {prob.shape[1]} "
            "budgets."
        )
    sizes = prob.index.to_numpy(float)
    budgets = prob.columns.to_numpy(float)
    P = prob.to_numpy(float)
    gap = paper.reindex(index=prob.index, columns=prob.columns).to_numpy(float)
    scenario = frame.attrs.get("scenario", "")

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 5.5), layout="constrained")
    ax.set_facecolor("0.85")
    mesh = ax.pcolormesh(
        _edges(budgets), _edges(sizes), np.ma.masked_invalid(P), cmap="RdBu", vmin=0.0, vmax=1.0
    )
    fig.colorbar(mesh, ax=ax, label="P(distillation beats supervised)")
    handles = []
    if min(P.shape) >= 2 and np.isfinite(P).sum() >= 4 and np.nanmin(P) < 0.5 < np.nanmax(P):
        with np.errstate(invalid="ignore"):
            ax.contour(budgets, sizes, P, levels=[0.5], colors="black", linewidths=2)
        handles.append(Line2D([], [], color="black", lw=2, label="posterior: P = 0.5"))
    if min(gap.shape) >= 2 and np.isfinite(gap).sum() >= 4 and np.nanmin(gap) < 0 < np.nanmax(gap):
        with np.errstate(invalid="ignore"):
            ax.contour(
                budgets, sizes, gap, levels=[0.0], colors="tab:orange", linewidths=2,
                linestyles="--",
            )  # fmt: skip
        handles.append(
            Line2D([], [], color="tab:orange", lw=2, ls="--", label="paper's coefficients: gap = 0")
        )
    if "supervised_tokens_per_param" in frame.columns:
        ratio = frame.pivot_table(
            index="student_params", columns="compute", values="supervised_tokens_per_param"
        ).reindex(index=prob.index, columns=prob.columns)
        r = np.log10(ratio.to_numpy(float))
        if min(r.shape) >= 2 and np.nanmin(r) < 0 < np.nanmax(r):
            ax.contour(
                budgets, sizes, r, levels=[0.0], colors="black", linewidths=1.3, linestyles=":"
            )
            handles.append(
                Line2D(
                    [], [], color="black", lw=1.3, ls=":",
                    label="1 token per parameter (above: fewer; far from any run)",
                )
            )  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute C (FLOPs)")
    ax.set_ylabel("student parameters N_S")
    ax.set_title(
        f"Distil or train: scenario {scenario!r} (blue: distil, red: train)", fontsize="medium"
    )
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges (geometric midpoints) around log-spaced centres."""
    logc = np.log(centres)
    if logc.size == 1:
        return np.exp(np.array([logc[0] - 0.5, logc[0] + 0.5]))
    mid = (logc[1:] + logc[:-1]) / 2
    return np.exp(np.r_[2 * logc[0] - mid[0], mid, 2 * logc[-1] - mid[-1]])


# --------------------------------------------------------------------------------------------
# the crossover, and a teacher shared by several students

#: The columns of :func:`bayes_distill.crossover` that :func:`crossover` draws.
_CROSSOVER_COLUMNS = ("student_params", "median", "lower", "upper", "p_no_crossover")


def crossover(frame: pd.DataFrame) -> Figure:
    """The compute beyond which supervised training beats distillation, against student size.

    The median over posterior draws of each student's crossover (from
    :func:`bayes_distill.crossover`) with its ``ci_prob`` interval, as a band (and error bars)
    on log-log axes: below the line the best distilled student wins, above it supervised
    training does. Each point is labelled with the share of draws that have no crossover in
    the range searched (``p_no_crossover``); a student none of whose draws cross is drawn as a
    hollow triangle at the top of its range, labelled with why (distillation never wins, or is
    still winning there).

    Parameters
    ----------
    frame : pandas.DataFrame
        The result of :func:`bayes_distill.crossover` (its ``attrs`` give the scenario and
        ``ci_prob`` of the title and legend).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> frame = bd.crossover(fit, student_params=[1e9, 3e9, 1e10])
    >>> fig = bd.plots.crossover(frame)
    >>> fig.axes[0].get_ylabel()
    'crossover compute C (FLOPs)'
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            "crossover needs the DataFrame of bd.crossover(fit, student_params=...), got "
            f"{type(frame).__name__}."
        )
    missing = [c for c in _CROSSOVER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"crossover needs the DataFrame of bd.crossover(fit, student_params=...); this one "
            f"has no column(s) {missing}."
        )
    if frame.empty:
        raise ValueError("crossover needs at least one student: the DataFrame is empty.")
    data = frame.sort_values("student_params")
    sizes = data["student_params"].to_numpy(float)
    med, lo, hi = (data[c].to_numpy(float) for c in ("median", "lower", "upper"))
    crossed = np.isfinite(med)
    ci_prob = frame.attrs.get("ci_prob")
    interval = f"{_pct(ci_prob)} interval" if ci_prob is not None else "interval"

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
    if crossed.sum() >= 2:
        ax.fill_between(
            sizes[crossed],
            lo[crossed],
            hi[crossed],
            color="C0",
            alpha=0.25,
            lw=0,
            label=f"{interval} over draws",
        )
    if crossed.any():
        ax.errorbar(
            sizes[crossed],
            med[crossed],
            yerr=[med[crossed] - lo[crossed], hi[crossed] - med[crossed]],
            fmt="o-",
            color="C0",
            lw=2,
            capsize=4,
            label="crossover (median over draws)",
        )
    for n, m, row in zip(sizes, med, data.itertuples(index=False), strict=True):
        p = float(row.p_no_crossover)
        if np.isfinite(m):
            ax.annotate(
                f"{p:.0%} no crossover",
                (n, m),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize="small",
                color="0.3",
            )
            continue
        top = float(getattr(row, "compute_hi", np.nan))
        if not np.isfinite(top):
            continue
        never = float(getattr(row, "p_never_wins", np.nan))
        why = "distillation never wins" if never >= 0.5 else "distillation still winning"
        ax.plot([n], [top], marker="^", ms=9, mfc="none", mec="C3", ls="none")
        ax.annotate(
            f"no crossover up to {top:.2g}\n({why})",
            (n, top),
            textcoords="offset points",
            xytext=(8, -6),
            va="top",
            fontsize="small",
            color="C3",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("student parameters N_S")
    ax.set_ylabel("crossover compute C (FLOPs)")
    scenario = frame.attrs.get("scenario", "")
    ax.set_title(
        "Where supervised training overtakes distillation"
        + (f": scenario {scenario!r}" if scenario else "")
        + "\n(below the line distillation wins; mean law)",
        fontsize="medium",
    )
    ax.margins(x=0.15, y=0.1)
    if crossed.any():
        ax.legend(loc="lower right", frameon=False, fontsize="small")
    return fig


def shared_teacher(
    fit: ScalingFit,
    compute: float,
    student_params: float,
    n_students: Sequence[int] = (1, 2, 4, 8, 16, 32),
    scenario: str = "teacher_pretraining",
    *,
    risk_tolerance: float = 0.1,
    max_draws: int | None = None,
    random_seed: int | None = 0,
) -> Figure:
    """From how many students a trained teacher pays: distillation against ``n_students``.

    For each ``k`` in ``n_students``, :func:`bayes_distill.recommend` with ``n_students=k``
    (one teacher trained once for ``k`` students, each charged ``1/k`` of its pretraining).
    Left: P(distillation beats supervised), on the mean law and by the decision margin
    (0.01 nats), with the line at 0.5 and the smallest ``k`` above it marked. Right: the
    distilled student's loss at risk (the ``1 - risk_tolerance`` quantile of its predictive
    loss) and predictive median against ``k``, with the supervised baseline's.

    Parameters
    ----------
    fit : ScalingFit
        A ``"distillation"`` fit.
    compute : float
        The budget of one student, FLOPs.
    student_params : float
        Student non-embedding parameters ``N_S``.
    n_students : sequence of int, default (1, 2, 4, 8, 16, 32)
        Numbers of students sharing the teacher (integers >= 1).
    scenario : {"teacher_pretraining", "pretraining_and_inference"}
        A scenario that pays for the teacher's pretraining (in the others sharing it changes
        nothing).
    risk_tolerance : float, default 0.1
        Passed to :func:`bayes_distill.recommend`.
    max_draws : int or None, default None
        Thin the posterior to at most this many draws; None uses every draw.
    random_seed : int, optional
        Seed of the predictive noise in :func:`bayes_distill.recommend`.

    Returns
    -------
    matplotlib.figure.Figure
        The probabilities are also the y data of ``fig.axes[0].lines[0]`` (mean law) and
        ``lines[1]`` (by the margin), the losses at risk of ``fig.axes[1].lines[0]``.

    Warns
    -----
    ExtrapolationWarning
        Once for the sweep, naming the ``k`` whose allocation lies furthest beyond the fitted
        runs for each input (as :func:`bayes_distill.recommend` does for a sweep of budgets).
    ConvergenceWarning
        Once, for a sampled fit that failed its diagnostics.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> fig = bd.plots.shared_teacher(fit, compute=1e22, student_params=1e9)
    >>> [round(p) for p in fig.axes[0].lines[0].get_ydata()]
    [0, 0, 0, 1, 1, 1]
    """
    from . import compute as _compute

    fit = _validate.fit(fit, ("distillation",), "shared_teacher", converged=False)
    pays = [s for s, (_, d_pretrain) in _compute.SCENARIOS.items() if d_pretrain]
    if scenario not in pays:
        raise ValueError(
            f"shared_teacher needs a scenario that pays for the teacher's pretraining "
            f"({' or '.join(map(repr, pays))}), got {scenario!r}: in the others a shared "
            "teacher changes nothing."
        )
    if isinstance(n_students, str | bytes) or not isinstance(n_students, Sequence | np.ndarray):
        raise TypeError(
            f"n_students must be a sequence of integers >= 1, got {n_students!r}; e.g. "
            "[1, 2, 4, 8, 16, 32]."
        )
    ks = sorted({_compute.check_n_students(k) for k in n_students})
    if not ks:
        raise ValueError("n_students is empty; give e.g. [1, 2, 4, 8, 16, 32].")
    max_draws = _validate.max_draws(max_draws)
    recs = _shared_teacher_sweep(
        _thinned(fit, max_draws), ks, compute, student_params, scenario, risk_tolerance, random_seed
    )
    x = np.array(ks, float)
    p = np.array([r.p_distillation_better for r in recs])
    p_margin = np.array([r.p_distillation_better_by_margin for r in recs])
    at_risk = np.array([r.student_loss["at_risk"] for r in recs])
    median = np.array([r.student_loss["median"] for r in recs])
    sup_risk = recs[0].supervised_loss["at_risk"]
    sup_median = recs[0].supervised_loss["median"]
    g = 1 - recs[0].risk_tolerance

    plt = _pyplot()
    fig, (ax_p, ax_l) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    ax_p.plot(x, p, "o-", color="C0", lw=2, label="P(distillation better), mean law")
    ax_p.plot(x, p_margin, "s--", color="C0", lw=1.2, alpha=0.7, label="... by more than 0.01 nats")
    ax_p.axhline(0.5, color="0.4", ls=":", lw=1)
    above = np.flatnonzero(p > 0.5)
    if above.size:
        k0 = ks[int(above[0])]
        ax_p.axvline(k0, color="C2", lw=1.2, ls="--", label=f"pays from k = {k0} (P > 0.5)")
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_ylabel("P(distillation beats supervised)")
    ax_l.plot(x, at_risk, "o-", color="C0", lw=2, label=f"distilled, loss at risk ({g:.0%} q.)")
    ax_l.plot(x, median, "o--", color="C0", lw=1.2, alpha=0.7, label="distilled, median")
    ax_l.axhline(sup_risk, color="C1", lw=2, label=f"supervised, loss at risk ({g:.0%} q.)")
    ax_l.axhline(sup_median, color="C1", ls="--", lw=1.2, alpha=0.7, label="supervised, median")
    ax_l.set_ylabel("predictive student loss (nats/token)")
    for ax in (ax_p, ax_l):
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(k) for k in ks])
        ax.set_xlabel("students sharing one trained teacher, k")
        ax.legend(loc="best", frameon=False, fontsize="small")
    fig.suptitle(
        f"A teacher shared by k students (each charged 1/k of its pretraining): "
        f"{scenario}, N_S = {student_params:.3g}, C = {compute:.3g} FLOPs per student",
        fontsize="medium",
    )
    return fig


def _shared_teacher_sweep(
    fit, ks, compute, student_params, scenario, risk_tolerance, random_seed
) -> list:
    """One recommendation per number of students ``k``; each warning once for the sweep, and
    one extrapolation warning naming the furthest ``k`` of each input."""
    from . import extrapolation as _extrap
    from .decide import recommend
    from .extrapolation import ExtrapolationWarning

    recs = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in ks:
            recs.append(
                recommend(
                    fit,
                    compute=compute,
                    student_params=student_params,
                    scenario=scenario,
                    risk_tolerance=risk_tolerance,
                    random_seed=random_seed,
                    n_students=k,
                )
            )
    seen = set()
    for w in caught:  # each message once for the sweep, attributed to the caller
        key = (w.category, str(w.message))
        if issubclass(w.category, ExtrapolationWarning) or key in seen:
            continue
        seen.add(key)
        warnings.warn(w.message, w.category, skip_file_prefixes=_validate.INTERNAL)
    _extrap._warn(
        _extrap._stack([r.extrapolation for r in recs]),
        "distillation",
        where=[f"n_students={k}" for k in ks],
        what="values of n_students",
    )
    return recs


# --------------------------------------------------------------------------------------------
# a recommendation


def recommendation(rec: Recommendation, *, bins: int = 60) -> Figure:
    """The predicted loss of a recommended allocation against the supervised baseline.

    Left: the distribution over posterior draws of the distilled student's loss at the
    recommended allocation and of the same student trained on data with the whole budget, like
    for like (both posterior predictive when the recommendation records the baseline's
    predictive draws, otherwise both mean law, with the student's predictive distribution as
    an outline), with the student's predictive median (dashed), the loss at risk
    ``1 - risk_tolerance`` quantile the recommendation promises (solid) and the baseline's
    (dotted). Right: the per-draw difference of the mean-law losses, whose share below zero is
    ``rec.p_distillation_better``.

    Parameters
    ----------
    rec : Recommendation
        From :func:`bayes_distill.recommend` with a single budget.
    bins : int, default 60
        Histogram bins.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> import numpy as np
    >>> draws = {k: np.full(200, v) for k, v in bd.laws.PAPER.items()}
    >>> fit = bd.ScalingFit.from_params("distillation", draws, sigma=0.01, tau=0.01)
    >>> rec = bd.recommend(fit, compute=1e21, student_params=1e9, scenario="best_case")
    >>> fig = bd.plots.recommendation(rec)
    >>> fig.axes[0].get_xlabel()
    'student loss (nats/token)'
    """
    from .decide import Recommendation

    if not isinstance(rec, Recommendation):
        raise TypeError(
            "recommendation needs a bayes_distill.Recommendation (bd.recommend with one budget), "
            f"got {type(rec).__name__}; for a sweep, call bd.recommend once per budget."
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}.")
    per = rec.per_draw
    if "dropped" in per:
        per = per[~per["dropped"].astype(bool)]
    student_pred = per["loss_predictive"].to_numpy(float)
    if "supervised_loss_predictive" in per:  # like for like: both predictive
        kind = "predictive"
        student = student_pred
        baseline = per["supervised_loss_predictive"].to_numpy(float)
    else:  # the baseline's per-draw predictive loss is not recorded: compare the mean laws
        kind = "mean law"
        student = per["loss_recommended"].to_numpy(float)
        baseline = per["supervised_loss"].to_numpy(float)
    g = 1 - rec.risk_tolerance
    n_bins = int(min(bins, max(10, 2 * np.sqrt(len(per)))))

    plt = _pyplot()
    fig, (ax_l, ax_d) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    both = np.r_[student, baseline, student_pred]
    edges = np.linspace(*np.quantile(both, [0.002, 0.998]), n_bins + 1)
    common = {"bins": edges, "density": True, "alpha": 0.5}
    ax_l.hist(student, color="C0", label=f"distilled student ({kind})", **common)
    ax_l.hist(baseline, color="C1", label=f"supervised baseline ({kind})", **common)
    if kind == "mean law":
        ax_l.hist(
            student_pred,
            bins=edges,
            density=True,
            histtype="step",
            color="C0",
            lw=1.5,
            label="distilled student (predictive)",
        )
    ax_l.axvline(
        rec.student_loss["median"],
        color="C0",
        ls="--",
        lw=1.2,
        label=f"student median (predictive): {rec.student_loss['median']:.4f}",
    )
    ax_l.axvline(
        rec.student_loss["at_risk"],
        color="C0",
        lw=2.2,
        label=f"loss at risk ({g:.0%} quantile): {rec.student_loss['at_risk']:.4f}",
    )
    ax_l.axvline(
        rec.supervised_loss["at_risk"],
        color="C1",
        ls=":",
        lw=2.2,
        label=f"baseline {g:.0%} quantile (predictive): {rec.supervised_loss['at_risk']:.4f}",
    )
    ax_l.set_xlabel("student loss (nats/token)")
    ax_l.set_ylabel("density")
    ax_l.set_title(
        f"{rec.scenario}: N_S = {rec.student_params:.3g}, C = {rec.compute:.3g} FLOPs",
        fontsize="medium",
    )
    ax_l.legend(loc="best", frameon=False, fontsize="x-small")

    diff = per["loss_recommended"].to_numpy(float) - per["supervised_loss"].to_numpy(float)
    ax_d.hist(diff, bins=n_bins, color="0.5", alpha=0.8)
    ax_d.axvline(0.0, color="black", lw=1.5)
    ax_d.set_xlabel("L_S(distilled) - L(supervised), mean law (nats/token)")
    ax_d.set_ylabel("posterior draws")
    ax_d.set_title(
        f"P(distillation better) = {rec.p_distillation_better:.2f} (share left of 0)",
        fontsize="medium",
    )
    return fig


# --------------------------------------------------------------------------------------------
# grouped fits

#: Natural parameters whose population value a grouped fit samples directly (``E`` as
#: ``exp(log_E_mu)``), drawn behind the groups in :func:`groups`.
_POPULATION = {
    "E": "log_E_mu",
    "alpha": "alpha_mu",
    "beta": "beta_mu",
    "gamma": "gamma_mu",
    "gamma_prime": "gamma_prime_mu",
    "c0": "c0_mu",
    "d1": "log_d1_mu",
}
#: Natural parameters whose population value is sampled as their log.
_LOG_POPULATION = ("E", "d1")


def groups(
    fit: ScalingFit, *, var_names: Sequence[str] = ("E", "alpha", "beta"), ci_prob: float = 0.9
) -> Figure:
    """Each group's parameters of a grouped fit, with credible intervals.

    One panel per parameter, one row per group: the posterior median and the equal-tailed
    ``ci_prob`` interval, the group's number of runs in its label, and, for ``E``, the
    exponents, and the distillation law's ``gamma_prime``, ``c0`` and ``d1``, the population
    value (median and interval, shaded) around which the groups are pooled. A group with few
    runs sits close to the population, with an interval about as wide as the spread between
    groups.

    Parameters
    ----------
    fit : ScalingFit
        A grouped fit (``bd.fit(runs, law=..., groups="COLUMN")``).
    var_names : sequence of str, default ("E", "alpha", "beta")
        Natural parameters of the law.
    ci_prob : float, default 0.9

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.fit(runs, law="chinchilla", groups="dataset")  # doctest: +SKIP
    >>> fig = bd.plots.groups(fit, var_names=["E", "alpha", "beta"])  # doctest: +SKIP
    """
    fit = _validate.fit(fit, laws.LAWS, "groups", converged=False, grouped=True)
    if fit.groups is None or fit.group is not None:
        raise ValueError(
            "plots.groups needs a grouped fit (bd.fit(runs, law=..., groups='COLUMN')); for one "
            "law, bd.plots.pair or bd.plots.trace show its parameters."
        )
    ci_prob = _validate.probability("ci_prob", ci_prob)
    names = [str(v) for v in var_names] if not isinstance(var_names, str) else [var_names]
    unknown = [v for v in names if v not in laws.PARAM_NAMES[fit.law]]
    if unknown or not names:
        raise ValueError(
            f"var_names {unknown or names} are not parameters of the {fit.law} law; valid: "
            f"{', '.join(laws.PARAM_NAMES[fit.law])}."
        )
    plt = _pyplot()
    params, post = fit.params, fit.posterior
    labels = list(fit.group_names)
    counts = fit.runs[fit.groups].astype(str).value_counts()
    y = np.arange(len(labels))
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.4 * len(names), 1.0 + 0.45 * len(labels)), squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=True):
        values = params[name].stack(sample=("chain", "draw")).transpose("law_group", "sample")
        med, lo, hi = _band(values.values.T, ci_prob)
        pop = _POPULATION.get(name)
        if pop in post:
            draws = post[pop].values.ravel()
            draws = np.exp(draws) if name in _LOG_POPULATION else draws
            p_med, p_lo, p_hi = _band(draws[:, None], ci_prob)
            ax.axvspan(p_lo[0], p_hi[0], color="C0", alpha=0.15, label="population")
            ax.axvline(p_med[0], color="C0", lw=1)
        ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="o", color="black", capsize=3)
        ax.set_yticks(y, [f"{g} ({int(counts.get(g, 0))} runs)" for g in labels])
        ax.set_xlabel(name)
        if ax is not axes[0][0]:
            ax.tick_params(labelleft=False)
    axes[0][0].invert_yaxis()
    if any(_POPULATION.get(n) in post for n in names):
        axes[0][0].legend(loc="best", fontsize="small")
    fig.suptitle(
        f"{fit.law.capitalize()} law by group ({fit.groups!r}): medians and {_pct(ci_prob)} "
        "intervals",
        fontsize="medium",
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# ArviZ plots of the natural parameters


def _arviz_figure(pc: Any) -> Figure:
    return pc.viz["figure"].item()


def _tree_for(fit: ScalingFit, natural: bool) -> xr.DataTree:
    from .predictive import natural_tree

    _validate.fit(fit, laws.LAWS, "this plot", converged=False, grouped=True)
    return natural_tree(fit) if natural else fit.dt


def _names(fit: ScalingFit, var_names: Sequence[str] | None, natural: bool) -> list[str]:
    if var_names is not None:
        return list(var_names)
    return list(laws.PARAM_NAMES[fit.law] if natural else laws.SAMPLED_NAMES[fit.law])


def trace(
    fit: ScalingFit, *, var_names: Sequence[str] | None = None, natural: bool = True
) -> Figure:
    """ArviZ trace plot (:func:`arviz.plot_trace_dist`) of the law's parameters.

    Parameters
    ----------
    fit : ScalingFit
    var_names : sequence of str, optional
        Parameters to show; default all parameters of the law.
    natural : bool, default True
        Natural parameters (``E, A, B, ...``, via :func:`bayes_distill.checks.natural_tree`) or
        the sampled ones (``log_E, a, b, ...``, in ``fit.dt``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("chinchilla")                  # doctest: +SKIP
    >>> fig = bd.plots.trace(fit, var_names=["alpha", "beta"])  # doctest: +SKIP
    """
    import arviz as az

    pc = az.plot_trace_dist(_tree_for(fit, natural), var_names=_names(fit, var_names, natural))
    return _arviz_figure(pc)


def rank(
    fit: ScalingFit, *, var_names: Sequence[str] | None = None, natural: bool = False
) -> Figure:
    """ArviZ rank plot (:func:`arviz.plot_rank`) of the sampled parameters (by default).

    Rank plots judge mixing, so they show what the sampler saw unless ``natural=True``.

    Parameters
    ----------
    fit : ScalingFit
    var_names : sequence of str, optional
    natural : bool, default False

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fig = bd.plots.rank(bd.datasets.fitted("chinchilla"))   # doctest: +SKIP
    """
    import arviz as az

    pc = az.plot_rank(_tree_for(fit, natural), var_names=_names(fit, var_names, natural))
    return _arviz_figure(pc)


def pair(
    fit: ScalingFit, *, var_names: Sequence[str] | None = None, natural: bool = True
) -> Figure:
    """ArviZ pair plot (:func:`arviz.plot_pair`) of the law's parameters.

    Parameters
    ----------
    fit : ScalingFit
    var_names : sequence of str, optional
        Default: all parameters of the law (15 for the distillation law: pass a subset).
    natural : bool, default True

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("chinchilla")                                # doctest: +SKIP
    >>> fig = bd.plots.pair(fit, var_names=["E", "A", "B", "alpha", "beta"])  # doctest: +SKIP
    """
    import arviz as az

    pm = az.plot_pair(_tree_for(fit, natural), var_names=_names(fit, var_names, natural))
    return _arviz_figure(pm)
