"""Accuracy of the Bayesian fits: parameter recovery on SIMULATED runs with a known law, and
honest extrapolation (fit the weaker runs of the bundled data, predict the stronger ones).

Each test makes its own NUTS fit, independent of the session fits in test_fit.py, so the two
files can run on different test workers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import laws

pytestmark = pytest.mark.slow

# Backtests (fit the weaker runs, predict the stronger): the default model's 90% predictive
# intervals covered 0.87 (20 of 23) of the bigger Chinchilla runs and 1.0 of the strongest
# distillation runs (docs/validation.md, "Backtests"); with noise growing linearly in distance
# 0.83-0.87 and 0.96, without the loss-direction noise term 0.74 and 0.76, and an i.i.d.-noise
# model 0.48-0.52 and 0.44. These bounds guard the gain (0.86: at most 3 of 23 outside).
CHINCHILLA_BACKTEST_MIN_COVERAGE = 0.86
DISTILLATION_BACKTEST_MIN_COVERAGE = 0.85


# --- parameter recovery on simulated data ---------------------------------------------------

SUPERVISED_TRUTH = {"E": 1.8, "A": 450.0, "B": 2200.0, "alpha": 0.34, "beta": 0.37}


def _simulated_supervised(rng):
    N = np.geomspace(5e7, 1e10, 12)
    ratio = np.geomspace(2, 200, 10)
    NN, RR = np.meshgrid(N, ratio)
    N, D = NN.ravel(), (NN * RR).ravel()
    loss = laws.supervised_loss(N, D, **SUPERVISED_TRUTH) * np.exp(rng.normal(0, 0.005, N.size))
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


def test_chinchilla_parameter_recovery():
    """Simulated (not real) runs from known parameters: 90% intervals contain the truth."""
    runs = _simulated_supervised(np.random.default_rng(7))
    with warnings.catch_warnings():
        # with freshly compiled kernels (an empty compile cache) this fit has had one divergent
        # transition in 4000 draws, with cached ones none: the rounding of the compiled
        # gradient moves the chains. R-hat and ESS must pass; one or two divergences may not
        # hide a recovery failure, which the intervals below would show.
        warnings.simplefilter("ignore", bd.ConvergenceWarning)
        fit = bd.fit(runs, law="chinchilla", random_seed=11)
    diag = fit.diagnose()
    assert diag.max_rhat <= 1.01 and diag.min_ess_bulk >= 400 and diag.divergences <= 2, diag
    for name, truth in SUPERVISED_TRUTH.items():
        lo, hi = np.quantile(fit.params[name].values, [0.05, 0.95])
        assert lo <= truth <= hi, f"{name}: truth {truth} outside 90% interval [{lo:.4g}, {hi:.4g}]"


def test_distillation_parameter_recovery():
    """Simulated (not real) distillation runs: 90% intervals contain the identified params."""
    rng = np.random.default_rng(5)
    truth = dict(laws.PAPER, B_prime=2e6)  # B' that reproduces Figure 1 (docs/model.md)
    N_S = np.repeat(np.geomspace(1.4e8, 1.8e9, 5), 30)
    D_S = np.exp(rng.uniform(np.log(4e9), np.log(1e11), N_S.size))
    L_T = rng.uniform(1.9, 2.8, N_S.size)
    L_S = laws.distillation_loss(N_S, D_S, L_T, **truth) * np.exp(rng.normal(0, 0.002, N_S.size))
    runs = pd.DataFrame({"N_S": N_S, "D_S": D_S, "L_T": L_T, "L_S": L_S})
    # c1, f1 and d1 are weakly identified, so their ESS may fall short of 400 here: the check
    # is recovery, with R-hat < 1.05 (the strict diagnostics are tested on the real runs), so
    # one attempt is enough (measured: R-hat 1.018, ESS 221, 3 divergences)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bd.ConvergenceWarning)
        fit = bd.fit(runs, law="distillation", random_seed=3, retries=0)
    assert fit.diagnose().max_rhat < 1.05, str(fit.diagnose())
    sampled = laws.to_sampled("distillation", truth)
    post = fit.posterior
    # the parameters the runs identify (c1 and d1 are not identified: only c1 f1 and 1/f1 are)
    for name in ("alpha_prime_eff", "beta_prime_eff", "c0", "n_prime"):
        lo, hi = np.quantile(post[name].values, [0.05, 0.95])
        assert lo <= sampled[name] <= hi, (
            f"{name}: truth {sampled[name]:.4g} outside 90% interval [{lo:.4g}, {hi:.4g}]"
        )


# --- honest extrapolation: fit the weaker runs, predict the stronger ones -------------------


def _coverage(fit, test, target, ci_prob):
    pred = fit.predict(test, kind="predictive", ci_prob=ci_prob, random_seed=0)
    return float(((test[target] >= pred["lower"]) & (test[target] <= pred["upper"])).mean())


def _backtest_fit(runs, law):
    """A shorter fit on part of the runs. Its diagnostics are checked loosely (R-hat < 1.05):
    the point of these tests is the coverage, and a 500-draw fit on 70% of the runs may miss
    the strict thresholds by a little; that warning is expected and silenced here only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bd.ConvergenceWarning)
        fit = bd.fit(runs, law=law, draws=500, tune=700, random_seed=1)
    assert fit.diagnose().max_rhat < 1.05, str(fit.diagnose())
    return fit


def test_chinchilla_extrapolation_intervals_are_honest():
    """Fit the runs below 1e21 FLOPs, predict the 23 bigger ones (the paper's Fig. 5 idea).

    An i.i.d.-noise fit covers about half of them with its 90% intervals (measured: 0.48-0.52);
    the default model's per-size offsets and distance-dependent noise must do much better.
    """
    runs = bd.datasets.load("chinchilla")
    big = 6 * runs["N"] * runs["D"] >= 1e21
    fit = _backtest_fit(runs[~big], "chinchilla")
    assert _coverage(fit, runs[big], "loss", 0.9) >= CHINCHILLA_BACKTEST_MIN_COVERAGE


def test_distillation_extrapolation_intervals_are_honest():
    """Fit the 70% weakest distillation runs, predict the 30% strongest (lowest L_S)."""
    runs = bd.datasets.load("distillation")
    strong = runs["L_S"] <= runs["L_S"].quantile(0.3)
    fit = _backtest_fit(runs[~strong], "distillation")
    assert _coverage(fit, runs[strong], "L_S", 0.9) >= DISTILLATION_BACKTEST_MIN_COVERAGE
