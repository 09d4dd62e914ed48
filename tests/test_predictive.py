"""Tests of bayes_distill.predictive: prior and posterior predictive checks, their summaries, and
the tree of natural parameters."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bayes_distill as bd
from bayes_distill import checks, laws

SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}


# --------------------------------------------------------------------------------------------
# prior predictive


def test_prior_predictive_structure():
    runs = bd.datasets.load("chinchilla")
    tree = checks.prior_predictive(runs, law="supervised", n_draws=64, random_seed=0)
    assert isinstance(tree, xr.DataTree)
    assert {"prior", "prior_predictive", "observed_data", "constant_data"} <= set(tree.children)
    assert tree["prior_predictive"]["obs"].dims == ("chain", "draw", "run")
    assert tree["prior_predictive"]["obs"].shape == (1, 64, len(runs))
    prior = tree["prior"]
    for name in (*laws.SAMPLED_NAMES["supervised"], *laws.PARAM_NAMES["supervised"], "sigma"):
        assert name in prior.data_vars
    np.testing.assert_allclose(tree["observed_data"]["obs"], np.log(runs["loss"]))
    np.testing.assert_allclose(tree["constant_data"]["N"], runs["N"])
    assert np.all(np.isfinite(tree["prior_predictive"]["obs"]))
    again = checks.prior_predictive(runs, law="supervised", n_draws=64, random_seed=0)
    xr.testing.assert_identical(
        tree["prior_predictive"].to_dataset(), again["prior_predictive"].to_dataset()
    )


def test_prior_predictive_matches_the_law_for_a_point_prior():
    """A near-point prior with no noise reproduces the law itself (reference oracle)."""
    from bayes_distill.priors import Prior

    runs = bd.datasets.load("chinchilla").iloc[:30]
    s = laws.to_sampled("supervised", SUPERVISED_TRUTH)
    tiny = 1e-9
    priors = {k: Prior("Normal", mu=float(s[k]), sigma=tiny) for k in ("log_E", "a", "b")}
    priors.update(
        {
            k: Prior("LogNormal", mu=float(np.log(s[k])), sigma=tiny)
            for k in ("alpha", "beta", "gamma")
        }
    )
    priors["sigma"] = Prior("HalfNormal", sigma=tiny)
    tree = checks.prior_predictive(
        runs, law="supervised", priors=priors, n_draws=5, discrepancy="none", random_seed=1
    )
    expected = np.log(laws.supervised_loss(runs["N"], runs["D"], **SUPERVISED_TRUTH))
    pred = tree["prior_predictive"]["obs"].values[0]
    np.testing.assert_allclose(pred, np.broadcast_to(expected, pred.shape), atol=1e-6)


def test_prior_predictive_distillation():
    runs = bd.datasets.load("distillation")
    tree = checks.prior_predictive(runs, law="distillation", n_draws=20, random_seed=2)
    prior = tree["prior"]
    for name in (*laws.SAMPLED_NAMES["distillation"], *laws.PARAM_NAMES["distillation"]):
        assert name in prior.data_vars
    assert "sigma" in prior.data_vars
    assert tree["prior_predictive"]["obs"].shape == (1, 20, len(runs))
    # the student never beats its teacher by more than the noise allows
    log_LT = np.log(runs["L_T"].to_numpy())
    assert np.mean(tree["prior_predictive"]["obs"].values[0] > log_LT - 0.1) > 0.95
    assert {"N_S", "D_S", "L_T"} <= set(tree["constant_data"].data_vars)


def test_prior_predictive_errors():
    runs = bd.datasets.load("chinchilla")
    with pytest.raises(ValueError, match="n_draws must be a positive integer"):
        checks.prior_predictive(runs, n_draws=0)
    with pytest.raises(ValueError, match="Unknown likelihood"):
        checks.prior_predictive(runs, likelihood="cauchy")
    with pytest.raises(ValueError, match="Unknown discrepancy"):
        checks.prior_predictive(runs, discrepancy="gp")
    with pytest.raises(TypeError, match=r"Unknown model option\(s\) \['draws'\]"):
        checks.prior_predictive(runs, draws=10)
    with pytest.raises(ValueError, match="not a known prior set"):
        checks.prior_predictive(runs, priors="flat")


# --------------------------------------------------------------------------------------------
# predictive summaries and posterior predictive


def test_predictive_summary_of_a_prior_check():
    runs = bd.datasets.load("chinchilla")
    tree = checks.prior_predictive(runs, n_draws=200, random_seed=4)
    table = checks.predictive_summary(tree, ci_prob=0.8)
    assert len(table) == len(runs)
    assert {"N", "D", "observed", "median", "lower", "upper", "inside", "pit"} <= set(table)
    assert (table["lower"] <= table["median"]).all() and (table["median"] <= table["upper"]).all()
    assert table["pit"].between(0, 1).all()
    assert table.attrs["group"] == "prior_predictive" and table.attrs["ci_prob"] == 0.8
    assert table.attrs["coverage"] == pytest.approx(table["inside"].mean())


def test_predictive_summary_errors():
    runs = bd.datasets.load("chinchilla")
    tree = checks.prior_predictive(runs, n_draws=10, random_seed=0)
    with pytest.raises(ValueError, match="ci_prob must be a number in"):
        checks.predictive_summary(tree, ci_prob=90)
    with pytest.raises(ValueError, match="has no 'posterior_predictive' group"):
        checks.predictive_summary(tree, group="posterior_predictive")
    with pytest.raises(ValueError, match="group must be"):
        checks.predictive_summary(tree, group="posterior")
    with pytest.raises(TypeError, match=r"Expected a ScalingFit or an xarray\.DataTree"):
        checks.predictive_summary(runs)
    bare = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": ("draw", [1.0])})})
    with pytest.raises(ValueError, match="no posterior_predictive or prior_predictive group"):
        checks.predictive_summary(bare)


@pytest.mark.slow
def test_posterior_predictive_is_calibrated_in_sample(sim_fits, sim_runs):
    tree = checks.posterior_predictive(sim_fits["supervised"], random_seed=0)
    assert {"posterior_predictive", "log_likelihood", "observed_data"} <= set(tree.children)
    assert tree["posterior_predictive"]["obs"].sizes["run"] == len(sim_runs)
    table = checks.predictive_summary(tree, ci_prob=0.9)
    # in-sample 90% predictive intervals of a correct model cover most runs
    assert 0.75 <= table.attrs["coverage"] <= 1.0
    np.testing.assert_allclose(table["observed"], sim_runs["loss"])


@pytest.mark.slow
def test_natural_tree_holds_the_natural_parameters(sim_fits):
    fit = sim_fits["chinchilla"]
    tree = checks.natural_tree(fit)
    for name in laws.PARAM_NAMES["chinchilla"]:
        np.testing.assert_allclose(tree["posterior"][name], fit.params[name])
    assert "sigma" in tree["posterior"].data_vars
    assert "sigma" not in checks.natural_tree(fit, noise=False)["posterior"].data_vars
    if "sample_stats" in fit.dt.children:
        assert "diverging" in tree["sample_stats"].data_vars
    with pytest.raises(TypeError, match=r"needs a ScalingFit as"):
        checks.natural_tree(fit.dt)
