"""Acceptance tests of the Bayesian fits (issue 3): real NUTS fits, once per session.

The fits on the bundled data are the expensive part of the suite (tens of seconds each); they are
built once in session-scoped fixtures and shared by every test here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_distill as bd
from bayes_distill import laws

pytestmark = pytest.mark.slow

# Epoch AI's bootstrap 95% intervals (Besiroglu et al. 2024, arXiv 2404.10102).
EPOCH_95 = {
    "A": (285.0, 744.0),
    "B": (1042.0, 5810.0),
    "E": (1.769, 1.871),
    "alpha": (0.317, 0.373),
    "beta": (0.331, 0.415),
}


@pytest.fixture(scope="session")
def chinchilla_fit():
    return bd.fit(bd.datasets.load("chinchilla"), law="chinchilla", random_seed=20240417)


@pytest.fixture(scope="session")
def distillation_fit():
    # as scripts/build_models.py builds the shipped posterior: the defaults, the teachers as
    # supervised runs (two-stage) and this seed
    return bd.fit(
        bd.datasets.load("distillation"),
        law="distillation",
        supervised_runs=bd.datasets.load("distillation_teachers"),
        random_seed=20250211,
    )


# --- Chinchilla law on the Chinchilla runs --------------------------------------------------


def test_chinchilla_converges(chinchilla_fit):
    diag = chinchilla_fit.diagnose()
    assert diag.ok, str(diag)
    assert diag.max_rhat <= 1.01
    assert diag.min_ess_bulk >= 400
    assert diag.divergences == 0


@pytest.mark.parametrize("name", list(EPOCH_95))
def test_chinchilla_medians_inside_epoch_intervals(chinchilla_fit, name):
    median = float(chinchilla_fit.params[name].median())
    lo, hi = EPOCH_95[name]
    assert lo <= median <= hi, f"{name}: median {median:.4g} outside Epoch's [{lo}, {hi}]"


def test_chinchilla_beta_interval_excludes_hoffmann(chinchilla_fit):
    beta = chinchilla_fit.params["beta"].values.ravel()
    lo, hi = np.quantile(beta, [0.025, 0.975])
    assert not lo <= 0.28 <= hi, f"95% interval of beta [{lo:.3f}, {hi:.3f}] contains 0.28"


def test_chinchilla_data_exponent_ratio(chinchilla_fit):
    p = chinchilla_fit.params
    ratio = (p["beta"] / (p["alpha"] + p["beta"])).values.ravel()
    assert abs(np.median(ratio) - 0.513) <= 0.03


def test_chinchilla_summary_and_repr(chinchilla_fit):
    table = chinchilla_fit.summary()
    assert list(table.index[:5]) == ["E", "A", "B", "alpha", "beta"]
    assert {"mean", "sd", "ess_bulk", "r_hat"} <= set(table.columns)
    text = repr(chinchilla_fit)
    assert "law='chinchilla'" in text and "diagnostics: ok" in text


def test_chinchilla_params_are_natural(chinchilla_fit):
    post = chinchilla_fit.posterior
    A = np.exp(post["a"] + post["alpha"] * np.log(laws.N0))
    np.testing.assert_allclose(chinchilla_fit.params["A"].values, A.values, rtol=1e-12)
    assert set(chinchilla_fit.params.dims) == {"chain", "draw"}


def test_predict_mean_and_predictive(chinchilla_fit):
    new = pd.DataFrame({"N": [1e9, 7e10], "D": [2e10, 1.4e12], "note": ["a", "b"]})
    before = new.copy()
    mean = chinchilla_fit.predict(new, kind="mean", ci_prob=0.9)
    pred = chinchilla_fit.predict(new, kind="predictive", ci_prob=0.9, random_seed=1)
    pd.testing.assert_frame_equal(new, before)
    assert list(mean.columns) == [
        "N", "D", "note", "median", "lower", "upper",
        "extrapolation", "N_fold", "D_fold", "tokens_per_param_fold",
    ]  # fmt: skip
    assert (mean["lower"] < mean["median"]).all() and (mean["median"] < mean["upper"]).all()
    # the predictive interval adds noise and discrepancy, so it is wider than the mean's
    assert ((pred["upper"] - pred["lower"]) > (mean["upper"] - mean["lower"])).all()
    # further from the data, the predictive interval widens (relative width)
    rel = (pred["upper"] - pred["lower"]) / pred["median"]
    assert rel.iloc[1] > rel.iloc[0]


def test_predict_rejects_bad_input(chinchilla_fit):
    with pytest.raises(bd.DataValidationError, match=r"lacks the column\(s\) \['D'\]"):
        chinchilla_fit.predict(pd.DataFrame({"N": [1e9]}))
    with pytest.raises(bd.DataValidationError, match=r"column 'N' must hold finite positive"):
        chinchilla_fit.predict(pd.DataFrame({"N": [-1.0], "D": [1e10]}))
    with pytest.raises(ValueError, match=r"kind must be 'mean' or 'predictive'"):
        chinchilla_fit.predict(pd.DataFrame({"N": [1e9], "D": [1e10]}), kind="median")
    with pytest.raises(ValueError, match=r"ci_prob must be a number in \(0, 1\)"):
        chinchilla_fit.predict(pd.DataFrame({"N": [1e9], "D": [1e10]}), ci_prob=90)


def test_none_takes_the_law_defaults(chinchilla_fit, distillation_fit):
    """Both fixtures leave ``tune`` and ``draws`` at None: 300 tuning steps for Chinchilla and
    500 for distillation, 1000 draws for Chinchilla and 2000 for distillation
    (``DEFAULT_TUNE``, ``DEFAULT_DRAWS``). A fit's first attempt uses them; a retry
    (``retries``) doubles the tuning, which the settings of the kept attempt record."""
    for fit, tune, draws in ((chinchilla_fit, 300, 1000), (distillation_fit, 500, 2000)):
        first = fit.sampling_report.iloc[0]
        assert (first["tune"], first["draws"]) == (tune, draws)
        settings = fit.config["sampler_settings"]
        kept = fit.sampling_report[fit.sampling_report["kept"]].iloc[0]
        assert (settings["tune"], settings["draws"]) == (kept["tune"], draws)
        assert fit.posterior.sizes["draw"] == draws


# --- distillation law on the Figure-1 runs --------------------------------------------------


def test_distillation_converges(distillation_fit):
    diag = distillation_fit.diagnose()
    assert diag.ok, str(diag)


def test_distillation_in_sample_error(distillation_fit):
    runs = distillation_fit.runs
    pred = distillation_fit.predict(runs, kind="mean")
    mdape = np.median(np.abs(pred["median"] / runs["L_S"] - 1))
    assert mdape <= 0.005, f"in-sample MdAPE {mdape:.4%}"


def test_distillation_predictive_coverage(distillation_fit):
    """Issue 3 asks for 85-95%. Measured 0.87 with the loss-direction noise term (``eta``);
    0.83 without it (the misses were concentrated on the largest student)."""
    runs = distillation_fit.runs
    pred = distillation_fit.predict(runs, kind="predictive", ci_prob=0.9, random_seed=3)
    inside = ((runs["L_S"] >= pred["lower"]) & (runs["L_S"] <= pred["upper"])).mean()
    assert 0.85 <= inside <= 0.95, f"90% predictive intervals cover {inside:.1%} of the runs"


def test_distillation_repr_says_where_supervised_parameters_come_from(distillation_fit):
    assert "supervised parameters: two-stage (cut): fitted to 10 supervised runs" in repr(
        distillation_fit
    )
    assert distillation_fit.config["supervised_fit"] == "cut"
    assert set(distillation_fit.supervised_fixed) == set(bd.laws.SAMPLED_NAMES["supervised"])


def test_two_stage_keeps_the_supervised_law_of_the_supervised_runs(distillation_fit):
    """The distillation runs do not re-fit the supervised law: its posterior stays within the
    first stage's (the teachers alone), moved only through the infinite-data limit.

    That limit does move the floor: on the shipped posterior the first stage's median E sits at
    the 0.944 quantile of the second stage's E (1.6 posterior sds), so the check is the central
    99% interval; a 90% interval puts its edge on the value and fails on some kernels' draws."""
    post = distillation_fit.params
    fixed = bd.laws.to_natural("supervised", distillation_fit.supervised_fixed)
    for name in ("E", "alpha", "beta", "gamma"):
        lo, hi = np.quantile(post[name].values, [0.005, 0.995])
        assert lo <= fixed[name] <= hi, (name, lo, fixed[name], hi)
    # the distillation law's limit with unlimited data is near the supervised one
    gap = distillation_fit.posterior["infinite_data_gap"].median(("chain", "draw")).values
    assert np.all(np.abs(gap) < 0.03), gap


def test_distillation_without_supervised_runs_says_it_is_not_identified():
    fit = bd.ScalingFit(
        xr.DataTree(), "distillation", runs=bd.datasets.load("distillation"), supervised_runs=None
    )
    assert fit.supervised_source.startswith("NOT IDENTIFIED")


def test_distillation_predict_from_teacher_size(distillation_fit):
    new = pd.DataFrame({"N_S": [5e8], "D_S": [2e10], "N_T": [7e9], "D_T": [1.4e11]})
    out = distillation_fit.predict(new, kind="mean")
    # the student is never better than its teacher
    L_T = np.exp(distillation_fit.log_supervised_mean(7e9, 1.4e11))
    assert out["median"].iloc[0] > np.median(L_T)


# --- automatic retry of a fit that misses its diagnostics ----------------------------------


def test_a_fit_that_misses_its_diagnostics_is_sampled_again_and_says_so(monkeypatch):
    from bayes_distill import diagnostics as diagnostics_mod
    from bayes_distill import sampling as sampling_mod

    real = diagnostics_mod._diagnose_tree
    calls = []

    def first_fails(tree):
        d = real(tree)
        calls.append(d)
        if len(calls) == 1:  # the first attempt "fails": one divergence
            return diagnostics_mod.Diagnostics(
                False, d.max_rhat, d.min_ess_bulk, 1, d.n_samples, [], []
            )
        return d

    monkeypatch.setattr(sampling_mod, "_diagnose_tree", first_fails)
    runs = bd.datasets.load("chinchilla")
    fit = bd.fit(runs, law="chinchilla", random_seed=3, tune=300)
    report = fit.sampling_report
    assert list(report["attempt"]) == [1, 2] and list(report["ok"]) == [False, True]
    assert list(report["tune"]) == [300, 600]  # twice the tuning on the second attempt
    assert report.loc[0, "random_seed"] == 3 and report.loc[1, "random_seed"] != 3
    assert list(report["kept"]) == [False, True]
    assert fit.config["sampler_settings"]["tune"] == 600
    assert "kept attempt 2 of 2 (tune 600)" in repr(fit)


def test_retries_zero_samples_once_and_warns(monkeypatch):
    from bayes_distill import diagnostics as diagnostics_mod
    from bayes_distill import sampling as sampling_mod

    real = diagnostics_mod._diagnose_tree

    def always_fails(tree):
        d = real(tree)
        return diagnostics_mod.Diagnostics(
            False, d.max_rhat, d.min_ess_bulk, 1, d.n_samples, [], []
        )

    monkeypatch.setattr(sampling_mod, "_diagnose_tree", always_fails)
    runs = bd.datasets.load("chinchilla")
    with pytest.warns(bd.ConvergenceWarning, match=r"The chinchilla fit did NOT converge:"):
        fit = bd.fit(runs, law="chinchilla", random_seed=3, draws=200, tune=200, retries=0)
    assert len(fit.sampling_report) == 1
    with pytest.warns(bd.ConvergenceWarning, match=r"did NOT converge \(in 3 attempts"):
        fit = bd.fit(runs, law="chinchilla", random_seed=3, draws=200, tune=200)
    assert len(fit.sampling_report) == 3


@pytest.mark.parametrize(
    ("law", "groups", "sampler", "tune"),
    [
        ("chinchilla", None, "nutpie", 300),
        ("chinchilla", "family", "nutpie", 500),
        ("chinchilla", None, "pymc", 500),
        ("distillation", None, "nutpie", 500),
    ],
)
def test_default_tuning_is_shorter_only_where_the_sampler_starts_from_a_point_fit(
    law, groups, sampler, tune
):
    """A Chinchilla fit sampled by nutpie starts from a point fit of the runs and tunes for
    300 steps; grouped fits and other samplers start at PyMC's initial points and take 500."""
    from bayes_distill.sampling import _Plan

    plan = _Plan(
        law=law, draws=None, tune=None, chains=4, random_seed=1, sampler=sampler,
        likelihood="student_t", discrepancy=None, noise=None, retries=2, groups=groups,
        supervised="cut", strict=False, progressbar=False,
    )  # fmt: skip
    assert plan.tune == tune
    assert _Plan(**{**plan.__dict__, "tune": 7}).tune == 7
