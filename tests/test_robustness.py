"""Robustness (issue 7): failed sampling is reported, numerics never leak NaN or inf silently,
fits are reproducible from their seed, and inputs are never mutated.

The sampled fits are tiny (2 chains x 50 draws after 50 tuning steps): far too short to pass
the diagnostics, which is what the failed-sampling tests need. They all share one model (the
same one as test_fit_io.py), so NUTS is compiled once per session and each fit takes ~1 s.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_distill as bd
from bayes_distill import diagnostics as diagnostics_mod
from bayes_distill import laws
from bayes_distill import results as results_mod
from bayes_distill import sampling as sampling_mod

ScalingFit = results_mod.ScalingFit
ConvergenceError, ConvergenceWarning = (
    diagnostics_mod.ConvergenceError,
    diagnostics_mod.ConvergenceWarning,
)

#: The tiny fit shared with test_fit_io.py (same model: compiled once per session).
TINY = {"law": "chinchilla", "draws": 50, "tune": 50, "chains": 2}


def chinchilla_runs() -> pd.DataFrame:
    return bd.datasets.load("chinchilla").iloc[:60]


def tiny_fit(runs: pd.DataFrame, **kwargs) -> ScalingFit:
    """A tiny fit; its ConvergenceWarning is expected and checked."""
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        return sampling_mod.fit(runs, **{**TINY, **kwargs})


@pytest.fixture(scope="module")
def runs_given() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run table passed to the shared fit, and a deep copy taken before the call."""
    runs = chinchilla_runs()
    runs.attrs["source"] = "epoch"
    return runs, copy.deepcopy(runs)


@pytest.fixture(scope="module")
def failed(runs_given) -> tuple[ScalingFit, list[warnings.WarningMessage]]:
    """The shared tiny fit (seed 1) and the warnings it emitted."""
    with pytest.warns(ConvergenceWarning) as record:
        fit = sampling_mod.fit(runs_given[0], **TINY, random_seed=1)
    return fit, list(record)


@pytest.fixture(scope="module")
def sampled(failed) -> ScalingFit:
    return failed[0]


def jittered(law: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: laws.PAPER[k] * np.exp(0.02 * rng.standard_normal(n)) for k in laws.PARAM_NAMES[law]}


def disagreeing_chains(law: str) -> ScalingFit:
    """A 2-chain posterior whose chains disagree on ``alpha`` (R-hat far above 1.01)."""
    params = jittered(law, 200)
    params["alpha"] = np.r_[np.full(100, 0.30), np.full(100, 0.45)] * params["alpha"] / 0.4
    noise = 0.01 * np.exp(0.1 * np.random.default_rng(1).standard_normal((2, 200)))
    base = ScalingFit.from_params(law, params, sigma=noise[0], tau=noise[1])
    coords = {"chain": [0, 1], "draw": np.arange(100)}
    post = xr.Dataset(
        {k: (("chain", "draw"), v.values.reshape(2, 100)) for k, v in base.posterior.items()},
        coords=coords,
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 100), bool))}, coords)
    tree = base.dt.copy()
    tree["posterior"] = xr.DataTree(post)
    tree["sample_stats"] = xr.DataTree(stats)
    return ScalingFit(tree, law, runs=None)


# --------------------------------------------------------------------------------------------
# failed sampling


def test_failed_fit_warns_naming_parameters_and_what_to_do(failed):
    fit, record = failed
    messages = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1
    message = messages[0]
    assert message.startswith("The chinchilla fit did NOT converge")
    diag = fit.diagnose()
    assert not diag.ok
    assert diag.bad_ess, "100 draws cannot reach a bulk ESS of 400"
    assert f"bulk ESS below {diagnostics_mod.ESS_MIN}" in message
    for name in diag.bad_ess + diag.bad_rhat:
        assert name in message
    assert "more draws" in message and "more tuning" in message
    if diag.bad_rhat:
        assert "R-hat above 1.01" in message and "priors='paper'" in message
    # the warning points at the caller, not at bayes_distill's internals
    assert record[0].filename == __file__


def test_strict_fit_raises_instead_of_warning(runs_given):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning on the way
        with pytest.raises(
            ConvergenceError,
            match=r"(?s)did NOT converge.*bulk ESS below 400 .* for .*more draws",
        ):
            sampling_mod.fit(runs_given[0], **TINY, random_seed=1, strict=True)


@pytest.fixture(scope="module")
def contradictory() -> pd.DataFrame:
    """The same runs with their losses shuffled: no scaling law fits them."""
    runs = chinchilla_runs()[["N", "D", "loss"]].reset_index(drop=True)
    runs["loss"] = np.random.default_rng(3).permutation(runs["loss"].to_numpy())
    return runs


def test_contradictory_data_warns_and_strict_raises(contradictory):
    with pytest.warns(ConvergenceWarning, match=r"(?s)did NOT converge.*R-hat above 1\.01 .*for"):
        fit = sampling_mod.fit(contradictory, **TINY, random_seed=3)
    assert not fit.diagnose().ok
    with pytest.raises(ConvergenceError, match=r"(?s)R-hat above 1\.01.*tighter priors"):
        sampling_mod.fit(contradictory, **TINY, random_seed=3, strict=True)


def test_decisions_on_a_failed_fit_warn(sampled):
    with pytest.warns(ConvergenceWarning, match=r"(?s)chinchilla fit did NOT converge.*ESS"):
        frame = bd.compute_optimal(sampled, compute=1e21)
    assert np.isfinite(frame["N_median"]).all()


def test_recommend_on_a_failed_fit_warns():
    fit = disagreeing_chains("distillation")
    diag = fit.diagnose()
    assert "alpha" in diag.bad_rhat
    with pytest.warns(
        ConvergenceWarning, match=r"(?s)distillation fit did NOT converge.*R-hat.*alpha"
    ):
        rec = bd.recommend(fit, compute=1e21, student_params=1e9, scenario="teacher_pretraining")
    assert np.isfinite(rec.student_loss["at_risk"])


# --------------------------------------------------------------------------------------------
# reproducibility


def test_same_seed_gives_bit_identical_draws(sampled, runs_given):
    again = tiny_fit(runs_given[0], random_seed=1)
    for group in ("posterior", "sample_stats"):
        a, b = sampled.dt[group].to_dataset(), again.dt[group].to_dataset()
        assert list(a.data_vars) == list(b.data_vars)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, strict=True)


def test_another_seed_gives_other_draws(sampled, runs_given):
    other = tiny_fit(runs_given[0], random_seed=2)
    assert not np.array_equal(other.posterior["alpha"].values, sampled.posterior["alpha"].values)


def test_seed_none_is_recorded_and_reproduces_the_fit(runs_given):
    first = tiny_fit(runs_given[0], random_seed=None)
    seed = first.dt.attrs["random_seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**31
    again = tiny_fit(runs_given[0], random_seed=seed)
    assert again.dt.attrs["random_seed"] == seed
    xr.testing.assert_equal(again.posterior, first.posterior)


# --------------------------------------------------------------------------------------------
# numerics: no silent NaN or inf


def supervised_with_a_nan_draw() -> tuple[ScalingFit, ScalingFit]:
    """A 4-draw fit whose third draw has alpha = NaN, and the fit of the 3 other draws."""
    params = jittered("supervised", 4)
    params["alpha"][2] = np.nan
    sigma = np.array([0.01, 0.02, 0.03, 0.04])
    good = {k: np.delete(v, 2) for k, v in params.items()}
    return (
        ScalingFit.from_params("supervised", params, sigma=sigma),
        ScalingFit.from_params("supervised", good, sigma=np.delete(sigma, 2)),
    )


NEW = pd.DataFrame({"N": [1e8, 1e9, 1e10], "D": [2e9, 2e10, 2e11]}, index=["s", "m", "l"])


def test_non_finite_draws_are_dropped_and_counted():
    fit, good = supervised_with_a_nan_draw()
    with pytest.warns(
        RuntimeWarning,
        match=r"1 of 4 posterior draws are not finite at row 's' \(N=1e\+08, D=2e\+09\) "
        r"\(and 2 more rows\) and were dropped",
    ):
        out = fit.predict(NEW)
    assert np.isfinite(out[["median", "lower", "upper"]].to_numpy()).all()
    assert out.attrs["n_dropped"] == [1, 1, 1] and out.attrs["n_draws"] == 4
    pd.testing.assert_frame_equal(out, good.predict(NEW))


def test_non_finite_draws_are_dropped_from_predictive_intervals():
    fit, _ = supervised_with_a_nan_draw()
    with pytest.warns(RuntimeWarning, match=r"1 of 4 posterior draws are not finite"):
        out = fit.predict(NEW, kind="predictive", random_seed=0)
    assert np.isfinite(out[["median", "lower", "upper"]].to_numpy()).all()
    assert out.attrs["prediction"] == "predictive"


def test_law_not_finite_for_any_draw_is_an_error():
    params = jittered("chinchilla", 3)
    params["E"] = np.full(3, np.nan)
    fit = ScalingFit.from_params("chinchilla", params)
    with pytest.raises(
        ValueError,
        match=r"chinchilla law is not finite for any of the 3 posterior draws at row 's' "
        r"\(N=1e\+08, D=2e\+09\) \(and 2 more rows\)",
    ):
        fit.predict(NEW)


@pytest.mark.parametrize(
    ("law", "params", "new", "match"),
    [
        (
            "supervised",
            {**jittered("supervised", 2), "alpha": np.array([0.4, 3.0])},
            pd.DataFrame({"N": [1e9, 1e-300], "D": [1e10, 1e10]}),
            r"overflows the float range \(log loss up to 9\d\d\.?\d*\) at row 1 "
            r"\(N=1e-300, D=1e\+10\): these inputs are far outside",
        ),
        (
            "distillation",
            laws.PAPER,
            pd.DataFrame({"N_S": [1e9], "D_S": [1e10], "L_T": [1e-300]}),
            r"overflows the float range .* at row 0 \(N_S=1e\+09, D_S=1e\+10, L_T=1e-300\)",
        ),
    ],
)
def test_overflowing_loss_is_an_error_naming_the_input(law, params, new, match):
    fit = ScalingFit.from_params(law, params)
    with pytest.raises(ValueError, match=match):
        fit.predict(new)


@pytest.mark.parametrize(
    ("N", "D"),
    [(1.0, 1.0), (1e30, 1e30), (1e300, 1e300), (5e-324, 1e10)],
)
def test_extreme_but_representable_inputs_give_finite_losses(N, D):
    params = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
    fit = ScalingFit.from_params("supervised", params, sigma=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fit.predict(pd.DataFrame({"N": [N], "D": [D]}))
    values = out[["median", "lower", "upper"]].to_numpy()
    assert np.isfinite(values).all() and (values >= params["E"]).all()
    assert out.attrs["n_dropped"] == [0]


def test_predictions_on_the_sampled_fit_are_finite(sampled):
    new = pd.DataFrame({"N": np.geomspace(1e6, 1e14, 9), "D": np.geomspace(1e7, 1e16, 9)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("mean", "predictive"):
            # the grid reaches far beyond the runs on purpose, and says so once per call
            with pytest.warns(bd.ExtrapolationWarning, match=r"N = 1e\+14 is \S+ x beyond"):
                out = sampled.predict(new, kind=kind, random_seed=0)
            assert np.isfinite(out[["median", "lower", "upper"]].to_numpy()).all()
            assert (out["lower"] <= out["median"]).all() and (out["median"] <= out["upper"]).all()
            assert out["extrapolation"].iloc[-1] > 1e3 and (out["extrapolation"] >= 1).all()


def test_compute_optimal_drops_non_finite_draws_and_counts_them():
    fit, good = supervised_with_a_nan_draw()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning leaks
        row = bd.compute_optimal(fit, compute=1e22).iloc[0]
    assert row["n_draws"] == 3
    assert np.isfinite(row.drop("compute").to_numpy(float)).all()
    expected = bd.compute_optimal(good, compute=1e22).iloc[0]
    pd.testing.assert_series_equal(row, expected)


def test_recommend_drops_non_finite_draws_and_says_how_many():
    params = jittered("distillation", 10)
    params["c0"][4] = np.nan
    fit = ScalingFit.from_params("distillation", params, sigma=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = bd.recommend(fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    assert rec.n_dropped == 1 and rec.n_draws == 9
    assert any("1 of 10 draws dropped" in note for note in rec.notes)
    assert np.isfinite(list(rec.student_loss.values())).all()


# --------------------------------------------------------------------------------------------
# inputs are never mutated


def test_fit_does_not_mutate_the_runs(sampled, runs_given):
    runs, before = runs_given
    pd.testing.assert_frame_equal(runs, before, check_exact=True)
    assert runs.attrs == before.attrs and runs.attrs["source"] == "epoch"
    # the fit's own table is a copy
    assert not np.shares_memory(sampled.runs["N"].to_numpy(), runs["N"].to_numpy())


def test_predict_does_not_mutate_the_table_or_the_fit(sampled):
    new = pd.DataFrame(
        {"Model Size": [1e9, 2e9], "D": [2e10, 4e10], "note": ["a", "b"]}, index=[7, 3]
    )
    new.attrs["who"] = "me"
    before_new, before_dt = copy.deepcopy(new), sampled.dt.copy(deep=True)
    out = sampled.predict(new, kind="predictive", random_seed=0)
    pd.testing.assert_frame_equal(new, before_new, check_exact=True)
    assert new.attrs == {"who": "me"}
    xr.testing.assert_identical(sampled.dt, before_dt)
    out.iloc[0, 0] = -1.0
    pd.testing.assert_frame_equal(new, before_new, check_exact=True)


def test_fit_methods_do_not_mutate_the_fit(sampled):
    before = sampled.dt.copy(deep=True)
    attrs = dict(sampled.dt.attrs)
    runs = sampled.runs.copy(deep=True)
    sampled.summary()
    sampled.diagnose()
    repr(sampled)
    sampled.posterior_predictive(random_seed=0)
    sampled.log_mean(N=[1e9], D=[1e10])
    with pytest.warns(ConvergenceWarning):
        bd.compute_optimal(sampled, compute=1e21)
    xr.testing.assert_identical(sampled.dt, before)
    assert dict(sampled.dt.attrs) == attrs
    pd.testing.assert_frame_equal(sampled.runs, runs, check_exact=True)
    assert set(sampled.dt.children) == set(before.children)


def test_recommend_does_not_mutate_the_fit():
    fit = ScalingFit.from_params("distillation", jittered("distillation", 30), sigma=0.01)
    before = fit.dt.copy(deep=True)
    bd.recommend(
        fit,
        compute=1e22,
        student_params=1e9,
        scenario="teacher_inference",
        teacher_params=7e9,
        teacher_tokens=2e12,
        risk_tolerance=0.2,
    )
    bd.recommend_sweep(fit, compute=[1e21, 1e22], student_params=1e9, scenario="best_case")
    xr.testing.assert_identical(fit.dt, before)


def test_distillation_predict_does_not_mutate_the_table():
    fit = ScalingFit.from_params("distillation", laws.PAPER, n_draws=3, sigma=0.01, tau=0.01)
    new = pd.DataFrame({"NS": [1e9], "DS": [2e10], "NT": [7e9], "DT": [2e12]})
    before = copy.deepcopy(new)
    out = fit.predict(new, kind="predictive", random_seed=1)
    pd.testing.assert_frame_equal(new, before, check_exact=True)
    assert list(out.columns) == [*new.columns, "median", "lower", "upper"]


@pytest.mark.parametrize(
    ("max_rhat", "advice", "not_advice"),
    [(1.013, "mix slowly. Try more draws", "chains disagree"), (1.3, "chains disagree", "mix")],
)
def test_rhat_advice_depends_on_how_far_the_chains_are(max_rhat, advice, not_advice):
    diag = diagnostics_mod.Diagnostics(
        ok=False,
        max_rhat=max_rhat,
        min_ess_bulk=900.0,
        divergences=0,
        n_samples=6000,
        bad_rhat=["d_prime"],
    )
    (problem,) = diag.problems()
    assert f"max {max_rhat:.3f}" in problem and "d_prime" in problem
    assert advice in problem and not_advice not in problem
