"""Tests of bayes_distill.holdout: backtests that fit the weaker SIMULATED runs (``sim_runs`` in
conftest.py) and predict the stronger ones, and the training compute that splits them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import checks, laws
from bayes_distill.diagnostics import ConvergenceWarning

SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
# Runs trained with less than this are "weak": every model size keeps its smallest budgets, so
# the backtest's training runs have the same model sizes as the full design.
COMPUTE_SPLIT = 2e21


def test_run_compute_is_the_training_flops():
    runs = pd.DataFrame({"N": [1e9], "D": [2e10], "loss": [2.5]})
    assert checks.run_compute(runs, "chinchilla")[0] == pytest.approx(
        bd.compute.total_flops(1e9, 2e10)
    )
    assert checks.run_compute(runs, "chinchilla", approx="2N")[0] == pytest.approx(6 * 1e9 * 2e10)
    dist = pd.DataFrame({"N_S": [1e9], "D_S": [2e10], "L_T": [2.0], "L_S": [2.4]})
    assert checks.run_compute(dist, "distillation")[0] == pytest.approx(
        bd.compute.total_flops(1e9, 2e10)
    )


def test_backtest_errors_before_fitting(sim_runs):
    with pytest.raises(ValueError, match="exactly one of the keys"):
        checks.backtest(sim_runs, law="supervised", train={"loss_below": 2.5})
    with pytest.raises(ValueError, match="exactly one of the keys"):
        checks.backtest(sim_runs, law="supervised", train={"loss_above": 2, "compute_below": 1})
    with pytest.raises(ValueError, match="must be a positive number"):
        checks.backtest(sim_runs, law="supervised", train={"loss_above": -1})
    with pytest.raises(TypeError, match="train must be"):
        checks.backtest(sim_runs, law="supervised", train=2.5)
    with pytest.raises(TypeError, match="must be boolean"):
        checks.backtest(sim_runs, law="supervised", train=np.arange(len(sim_runs)))
    with pytest.raises(ValueError, match="train mask has shape"):
        checks.backtest(sim_runs, law="supervised", train=np.ones(3, bool))
    with pytest.raises(ValueError, match="selects 0 of 48 runs"):
        checks.backtest(sim_runs, law="supervised", train={"loss_above": 10.0})
    with pytest.raises(ValueError, match="leaving none to predict"):
        checks.backtest(sim_runs, law="supervised", train={"loss_above": 0.5})


@pytest.fixture(scope="session")
def backtest_result(sim_runs, fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bd.backtest(
            sim_runs,
            law="supervised",
            train={"compute_below": COMPUTE_SPLIT},
            random_seed=8,
            **fit_kwargs,
        )


@pytest.mark.slow
def test_backtest_predicts_the_strong_runs_of_a_known_law(backtest_result, sim_runs):
    bt = backtest_result
    compute = checks.run_compute(sim_runs, "supervised")
    assert bt.n_train == int((compute < COMPUTE_SPLIT).sum()) and bt.n_test == len(bt.table)
    assert (bt.table["compute"] >= COMPUTE_SPLIT).all()
    np.testing.assert_array_equal(bt.train, compute < COMPUTE_SPLIT)
    # errors and intervals are consistent with each other
    t = bt.table
    np.testing.assert_allclose(t["error"], t["median"] - t["observed"])
    assert (t["lower_90"] <= t["lower_50"]).all() and (t["upper_50"] <= t["upper_90"]).all()
    assert bt.mdape == pytest.approx(t["ape"].median())
    assert bt.coverage[0.9] == pytest.approx(t["in_90"].mean())
    # the law is right, so the extrapolation is accurate and honest
    assert bt.mdape < 2.0
    assert bt.coverage[0.9] >= 0.6
    # known truth: the mean law's 90% interval covers the true loss at most held-out runs
    truth = laws.supervised_loss(t["N"], t["D"], **SUPERVISED_TRUTH)
    mean = bt.fit.predict(t[["N", "D"]], kind="mean", ci_prob=0.9)
    inside = (mean["lower"] <= truth) & (truth <= mean["upper"])
    assert inside.mean() >= 0.6
    row = bt.to_frame().iloc[0]
    assert row["n_test"] == bt.n_test and row["rule"] == "compute < 2e+21 FLOPs"
    assert "MdAPE" in str(bt)


@pytest.mark.slow
def test_backtest_with_a_mask_is_the_same_split(backtest_result, sim_runs, fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bt = checks.backtest(
            sim_runs, law="supervised", train=backtest_result.train, random_seed=8, **fit_kwargs
        )
    assert bt.rule.startswith("mask")
    pd.testing.assert_frame_equal(bt.table, backtest_result.table)
