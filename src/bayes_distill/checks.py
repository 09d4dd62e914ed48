"""Model checking: predictive checks, LOO comparison, backtests and simulation-based calibration.

This module gathers the checks under one name (``bd.checks``); each concept lives in its own
module. Every check returns data (xarray DataTrees, pandas tables, small result objects); the
figures are in :mod:`bayes_distill.plots` and in ArviZ.

Predictive checks (:mod:`bayes_distill.predictive`)
    :func:`prior_predictive` runs the fit's own PyMC model forwards: parameters from the
    priors, losses at the runs' inputs with the model's noise and discrepancy;
    :func:`posterior_predictive` does the same with the posterior. Both return an ArviZ-style
    :class:`xarray.DataTree`, so ArviZ's plots apply directly
    (``az.plot_ppc_dist(tree, group="prior_predictive")``), and :func:`predictive_summary`
    turns either into a per-run table of intervals, coverage and PIT values.
    :func:`natural_tree` holds a fit's natural parameters for ArviZ plots, and
    :func:`bayes_distill.plots.ppc` draws both kinds of check.
:func:`compare` (:mod:`bayes_distill.comparison`)
    PSIS-LOO comparison (ArviZ) of laws fitted to the same runs, with the Pareto-k diagnostics
    in the table and as a :class:`ParetoKWarning`.
:func:`backtest` (:mod:`bayes_distill.holdout`)
    Fit the weaker runs, predict the stronger ones (Busbridge et al. 2025, Figure 5): per-run
    errors, the median absolute percentage error and the coverage of 50% and 90% predictive
    intervals, in a :class:`Backtest`; :func:`run_compute` gives the runs' training FLOPs.
:func:`simulate_runs`, :func:`default_design` (:mod:`bayes_distill.simulation`)
    Runs simulated from known parameters with the fitted model's own noise, on a design.
:func:`sbc` (:mod:`bayes_distill.calibration`)
    Simulation-based calibration: simulate runs from the model with known parameters (drawn
    from the prior, or fixed at published values as in :func:`simulate_runs`), fit them, and
    count how often the credible intervals cover the truth (:class:`SBCResult`).
    ``benchmarks/sbc.py`` runs the larger study.

All predictive quantities are on the log-loss scale inside the trees (variable ``obs``, as in
the model) and in nats/token in the tables.
"""

from __future__ import annotations

from .calibration import SBCResult, sbc
from .comparison import ParetoKWarning, compare
from .holdout import Backtest, backtest, run_compute
from .predictive import natural_tree, posterior_predictive, predictive_summary, prior_predictive
from .simulation import default_design, simulate_runs

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
