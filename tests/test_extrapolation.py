"""Tests of the extrapolation report: how far inputs lie outside the fitted runs.

The fits are hand-made: a point posterior from ``ScalingFit.from_params`` (the paper's or Epoch
AI's coefficients) given a small run table whose ranges make the folds easy to check by hand.
No test here runs NUTS.
"""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill.extrapolation import (
    COUNT_FOLD_LIMIT,
    LOSS_FOLD_LIMIT,
    assess,
    fitted_ranges,
    fold,
    max_fold,
)
from bayes_distill.results import ScalingFit

EPOCH = {"E": 1.8172, "A": 477.4, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}

#: Distillation runs: N_S in [1e8, 1e10], D_S in [1e9, 1e12], D_S/N_S in [0.1, 1e4],
#: L_T in [1.8, 3.5].
RUNS = pd.DataFrame(
    {
        "N_S": [1e8, 1e8, 1e10, 1e10],
        "D_S": [1e9, 1e12, 1e9, 1e12],
        "L_T": [1.8, 3.5, 2.5, 2.0],
        "L_S": [3.6, 2.4, 2.6, 2.1],
    }
)
#: Supervised runs (the teachers): N in [1e8, 1e11], D in [1e9, 1e13].
SUPERVISED = pd.DataFrame({"N": [1e8, 1e11], "D": [1e9, 1e13], "loss": [3.5, 1.9]})
#: Supervised runs of a Chinchilla fit: N in [1e8, 1e10], D in [1e9, 1e11], D/N in [10, 10].
CHINCHILLA_RUNS = pd.DataFrame({"N": [1e8, 1e10], "D": [1e9, 1e11], "loss": [3.0, 2.5]})


def with_runs(law, params, runs, supervised_runs=None, **kwargs) -> ScalingFit:
    """A point posterior given directly, attached to a run table."""
    base = ScalingFit.from_params(law, params, **kwargs)
    return ScalingFit(base.dt, law, runs=runs, supervised_runs=supervised_runs)


@pytest.fixture(scope="module")
def dist_fit() -> ScalingFit:
    return with_runs("distillation", laws.PAPER, RUNS, SUPERVISED, sigma=0.01, tau=0.01)


@pytest.fixture(scope="module")
def dist_fit_alone() -> ScalingFit:
    """A distillation fit without supervised runs: the teacher cannot be compared."""
    return with_runs("distillation", laws.PAPER, RUNS, sigma=0.01)


@pytest.fixture(scope="module")
def chin_fit() -> ScalingFit:
    return with_runs("chinchilla", EPOCH, CHINCHILLA_RUNS)


@pytest.fixture(scope="module")
def paper_fit() -> ScalingFit:
    """No runs (from_params): nothing to report, never a warning."""
    return ScalingFit.from_params("distillation", laws.PAPER, sigma=0.01)


# --------------------------------------------------------------------------------------------
# the arithmetic


def test_fold_is_times_beyond_the_range():
    assert fold(5.0, 2.0, 10.0) == 1.0
    assert fold(2.0, 2.0, 10.0) == 1.0 and fold(10.0, 2.0, 10.0) == 1.0
    assert fold(100.0, 2.0, 10.0) == pytest.approx(10.0)
    assert fold(0.5, 2.0, 10.0) == pytest.approx(4.0)
    assert math.isnan(fold(0.0, 2.0, 10.0)) and math.isnan(fold(float("nan"), 2.0, 10.0))
    np.testing.assert_allclose(fold([1.0, 5.0, 40.0], 2.0, 10.0), [2.0, 1.0, 4.0])


def test_fitted_ranges_of_a_distillation_fit(dist_fit):
    r = fitted_ranges(dist_fit)
    assert list(r) == ["N_S", "D_S", "tokens_per_param", "L_T", "N_T", "D_T"]
    assert (r["N_S"]["min"], r["N_S"]["max"]) == (1e8, 1e10)
    assert (r["tokens_per_param"]["min"], r["tokens_per_param"]["max"]) == (0.1, 1e4)
    assert (r["L_T"]["min"], r["L_T"]["max"]) == (1.8, 3.5)
    assert (r["N_T"]["min"], r["N_T"]["max"]) == (1e8, 1e11)
    assert (r["D_T"]["min"], r["D_T"]["max"]) == (1e9, 1e13)
    assert r["N_S"]["against"] == "runs" and r["N_T"]["against"] == "supervised runs"


def test_assess_distillation_inputs_by_hand(dist_fit):
    report = assess(dist_fit, N_S=1e11, D_S=1e8, L_T=1.5, N_T=1e12, D_T=1e10)
    assert set(report) == {"N_S", "D_S", "tokens_per_param", "L_T", "N_T", "D_T"}
    assert report["N_S"] == {
        "value": 1e11,
        "min": 1e8,
        "max": 1e10,
        "fold": pytest.approx(10.0),
        "against": "runs",
    }
    assert report["D_S"]["fold"] == pytest.approx(10.0)  # 1e9 / 1e8
    # D_S / N_S = 1e-3 is derived, 100 times below the smallest 0.1
    assert report["tokens_per_param"]["value"] == pytest.approx(1e-3)
    assert report["tokens_per_param"]["fold"] == pytest.approx(100.0)
    assert report["L_T"]["fold"] == pytest.approx(1.8 / 1.5)
    assert report["N_T"]["fold"] == pytest.approx(10.0)  # against the supervised N, 1e11
    assert report["D_T"]["fold"] == 1.0
    assert max_fold(report) == pytest.approx(100.0)


def test_assess_supervised_inputs_and_arrays(chin_fit):
    report = assess(chin_fit, N=[1e9, 1e12], D=[1e10, 1e10])
    np.testing.assert_allclose(report["N"]["fold"], [1.0, 100.0])
    np.testing.assert_allclose(report["D"]["fold"], [1.0, 1.0])
    # D/N of the runs is 10 at both ends; 1e10 / 1e12 = 0.01 is 1000 times below
    np.testing.assert_allclose(report["tokens_per_param"]["fold"], [1.0, 1000.0])


def test_teacher_without_supervised_runs_is_not_assessed(dist_fit_alone):
    report = assess(dist_fit_alone, N_S=1e9, N_T=1e12, D_T=1e12)
    assert report["N_S"]["fold"] == 1.0
    for name in ("N_T", "D_T"):
        assert math.isnan(report[name]["fold"]) and report[name]["reason"] == "no supervised runs"
    assert max_fold(report) == 1.0


def test_assess_rejects_inputs_the_law_does_not_have(chin_fit, dist_fit):
    with pytest.raises(ValueError, match=r"Unknown input\(s\) \['N_S'\] for the chinchilla law"):
        assess(chin_fit, N_S=1e9)
    with pytest.raises(ValueError, match=r"valid inputs are N_S, D_S, tokens_per_param, L_T"):
        assess(dist_fit, N=1e9)


def test_thresholds_are_documented_values():
    assert COUNT_FOLD_LIMIT == 10.0 and LOSS_FOLD_LIMIT == 1.1
    assert bd.ExtrapolationWarning is bd.extrapolation.ExtrapolationWarning
    assert issubclass(bd.ExtrapolationWarning, UserWarning)
    assert "ExtrapolationWarning" in bd.__all__


# --------------------------------------------------------------------------------------------
# predict


def test_predict_inside_the_runs_reports_folds_and_does_not_warn(dist_fit):
    new = pd.DataFrame({"N_S": [1e9, 1e10], "D_S": [1e10, 1e11], "L_T": [2.0, 1.8 / 1.05]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dist_fit.predict(new)
    for col in ("N_S_fold", "D_S_fold", "tokens_per_param_fold", "L_T_fold", "extrapolation"):
        assert col in out.columns
    np.testing.assert_allclose(out["L_T_fold"], [1.0, 1.05])
    np.testing.assert_allclose(out["extrapolation"], [1.0, 1.05])


def test_predict_exactly_at_the_threshold_does_not_warn(dist_fit):
    new = pd.DataFrame({"N_S": [1e11], "D_S": [1e12], "L_T": [2.0]})  # N_S 10x: not beyond 10x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dist_fit.predict(new)
    assert out["N_S_fold"].iloc[0] == pytest.approx(10.0)


def test_predict_beyond_the_runs_warns_once_naming_the_inputs(dist_fit):
    new = pd.DataFrame({"N_S": [1e9, 1e9, 1e9], "D_S": [1e10, 1.4e14, 1e10], "L_T": [2.0, 2, 1.5]})
    with pytest.warns(bd.ExtrapolationWarning) as record:
        out = dist_fit.predict(new)
    assert len(record) == 1
    message = str(record[0].message)
    assert (
        "D_S = 1.4e+14 is 140 x beyond the fitted runs' range [1e+09, 1e+12] (at row 1" in message
    )
    assert "L_T = 1.5 is 1.2 x beyond the fitted runs' range [1.8, 3.5] (at row 2" in message
    assert "D_S/N_S = 1.4e+05 is 14 x beyond the fitted runs' range [0.1, 1e+04]" in message
    assert not re.search(r"(^|; )N_S =", message)  # within its range
    np.testing.assert_allclose(out["D_S_fold"], [1.0, 140.0, 1.0])
    np.testing.assert_allclose(out["extrapolation"], [1.0, 140.0, 1.2])


def test_predict_with_a_teacher_by_size_and_tokens(dist_fit, dist_fit_alone):
    new = pd.DataFrame({"N_S": [1e9], "D_S": [1e10], "N_T": [1e10], "D_T": [1e15]})
    with pytest.warns(bd.ExtrapolationWarning, match=r"D_T = 1e\+15 is 100 x beyond the fitted "):
        out = dist_fit.predict(new)
    assert out["D_T_fold"].iloc[0] == pytest.approx(100.0) and out["N_T_fold"].iloc[0] == 1.0
    # the teacher's predicted loss enters as L_T
    sup = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
    L_T = laws.supervised_loss(1e10, 1e15, **sup)
    assert out["L_T_fold"].iloc[0] == pytest.approx(fold(float(L_T), 1.8, 3.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no supervised runs: the teacher is not assessed
        alone = dist_fit_alone.predict(new)
    assert np.isnan(alone["D_T_fold"].iloc[0]) and alone["extrapolation"].iloc[0] >= 1.0


# --------------------------------------------------------------------------------------------
# compute_optimal


def test_compute_optimal_reports_the_median_optimum_against_the_runs(chin_fit):
    with pytest.warns(bd.ExtrapolationWarning) as record:
        frame = bd.compute_optimal(chin_fit, compute=[1e20, 1e26])
    assert len(record) == 1
    message = str(record[0].message)
    assert "N = 1.04e+12 is 104 x beyond the fitted runs' range [1e+08, 1e+10]" in message
    assert "(at compute=1e+26; 1 of 2 budgets beyond the threshold)" in message
    np.testing.assert_allclose(frame["N_fold"], fold(frame["N_median"], 1e8, 1e10))
    np.testing.assert_allclose(frame["D_fold"], fold(frame["D_median"], 1e9, 1e11))
    np.testing.assert_allclose(frame["extrapolation"], np.maximum(frame["N_fold"], frame["D_fold"]))
    assert frame["N_fold"].iloc[0] == 1.0
    assert frame.attrs["extrapolation"][1]["N"]["fold"] == pytest.approx(frame["N_fold"].iloc[1])
    json.dumps(frame.attrs["extrapolation"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bd.compute_optimal(chin_fit, compute=1e20)


def test_compute_optimal_of_a_distillation_fit_uses_its_supervised_runs(dist_fit, dist_fit_alone):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = bd.compute_optimal(dist_fit, compute=1e22).iloc[0]
        alone = bd.compute_optimal(dist_fit_alone, compute=1e26).iloc[0]
    assert row["N_fold"] == pytest.approx(fold(row["N_median"], 1e8, 1e11))
    assert math.isnan(alone["N_fold"]) and math.isnan(alone["extrapolation"])
    with pytest.warns(bd.ExtrapolationWarning, match=r"fitted supervised runs' range \[1e\+08"):
        bd.compute_optimal(dist_fit, compute=1e27)


# --------------------------------------------------------------------------------------------
# recommend


def test_recommendation_inside_the_runs(dist_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = bd.recommend(dist_fit, compute=1e21, student_params=1e9)
    ex = rec.extrapolation
    assert list(ex) == ["N_S", "D_S", "tokens_per_param", "L_T", "N_T", "D_T"]
    assert ex["D_S"]["value"] == rec.allocation["D_S"]
    assert ex["N_T"]["value"] == rec.allocation["N_T"]
    assert ex["D_T"]["value"] == rec.allocation["D_T"]
    assert ex["L_T"]["value"] == rec.teacher_loss["median"]
    assert ex["tokens_per_param"]["value"] == pytest.approx(rec.allocation["D_S"] / 1e9)
    assert all(e["fold"] == 1.0 for e in ex.values())
    assert rec.extrapolation_max_fold == 1.0
    assert "  extrapolation: all inputs within the fitted runs" in str(rec).splitlines()


def test_recommendation_beyond_the_runs_warns_and_reports(dist_fit):
    with pytest.warns(bd.ExtrapolationWarning) as record:
        rec = bd.recommend(
            dist_fit, compute=1e26, student_params=1e9, scenario="best_case", risk_tolerance=0.5
        )
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith("D_S = 1.36e+16 is 1.36e+04 x beyond the fitted runs' range")
    assert "D_S/N_S = 1.36e+07 is 1.36e+03 x beyond the fitted runs' range [0.1, 1e+04]" in message
    # best case: the teacher is only its loss
    assert set(rec.extrapolation) == {"N_S", "D_S", "tokens_per_param", "L_T"}
    assert rec.extrapolation_max_fold == pytest.approx(rec.allocation["D_S"] / 1e12)
    # to_dict: JSON, with the dict and the max fold
    data = json.loads(json.dumps(rec.to_dict()))
    assert data["extrapolation"]["D_S"]["fold"] == pytest.approx(rec.extrapolation["D_S"]["fold"])
    assert set(data["extrapolation"]["D_S"]) >= {"value", "min", "max", "fold"}
    assert data["extrapolation_max_fold"] == pytest.approx(rec.extrapolation_max_fold)
    # to_frame: the max fold and one column per input
    row = rec.to_frame().iloc[0]
    assert row["extrapolation_max_fold"] == pytest.approx(rec.extrapolation_max_fold)
    assert row["D_S_fold"] == pytest.approx(rec.extrapolation["D_S"]["fold"])
    assert "N_T_fold" not in row.index
    # __str__: the line lists the inputs beyond their range
    line = next(ln for ln in str(rec).splitlines() if "extrapolation:" in ln)
    assert line.startswith("  extrapolation: D_S = 1.36e+16 is 1.36e+04 x beyond")
    assert "; D_S/N_S = 1.36e+07 is 1.36e+03 x beyond" in line
    assert not re.search(r"(: |; )(N_S|L_T) =", line)  # within their ranges


def test_sweep_warns_once_naming_the_furthest_budget(dist_fit):
    budgets = [1e21, 1e24, 1e26]
    with pytest.warns(bd.ExtrapolationWarning) as record:
        frame = bd.recommend_sweep(
            dist_fit, compute=budgets, student_params=1e9, scenario="best_case", risk_tolerance=0.5
        )
    assert len(record) == 1
    assert "(at compute=1e+26; 2 of 3 budgets beyond the threshold)" in str(record[0].message)
    assert frame["D_S_fold"].iloc[0] == 1.0 and frame["D_S_fold"].iloc[-1] > 1e4
    assert [r["D_S"]["fold"] for r in frame.attrs["extrapolation"]] == pytest.approx(
        frame["D_S_fold"].tolist()
    )


def test_teacher_inference_teacher_tokens_against_the_supervised_runs(dist_fit, dist_fit_alone):
    # the free teacher trains on the upper bound, 1e17 tokens
    with pytest.warns(
        bd.ExtrapolationWarning,
        match=r"D_T = 1e\+17 is 1e\+04 x beyond the fitted supervised runs' range "
        r"\[1e\+09, 1e\+13\]",
    ):
        rec = bd.recommend(dist_fit, compute=1e21, student_params=1e9, scenario="teacher_inference")
    assert rec.extrapolation["D_T"]["against"] == "supervised runs"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # without supervised runs the teacher is not assessed
        alone = bd.recommend(
            dist_fit_alone, compute=1e21, student_params=1e9, scenario="teacher_inference"
        )
    assert alone.extrapolation["D_T"]["reason"] == "no supervised runs"
    assert alone.to_dict()["extrapolation"]["D_T"]["fold"] is None
    assert "N_T, D_T not assessed (no supervised runs)" in str(alone)


def test_existing_teacher_given_by_its_loss(dist_fit):
    with pytest.warns(bd.ExtrapolationWarning, match=r"L_T = 1\.5 is 1\.2 x beyond"):
        rec = bd.recommend(dist_fit, compute=1e21, student_params=1e9, teacher_loss=1.5)
    assert set(rec.extrapolation) == {"N_S", "D_S", "tokens_per_param", "L_T"}
    assert rec.extrapolation["L_T"]["fold"] == pytest.approx(1.2)


# --------------------------------------------------------------------------------------------
# fits without runs


def test_fits_without_runs_report_nothing_and_never_warn(paper_fit):
    sup = ScalingFit.from_params("chinchilla", EPOCH)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert assess(paper_fit, N_S=1e15, D_S=1e20, L_T=0.5) == {}
        out = paper_fit.predict(pd.DataFrame({"N_S": [1e15], "D_S": [1e16], "L_T": [1.9]}))
        frame = bd.compute_optimal(sup, compute=[1e20, 1e27])
        rec = bd.recommend(paper_fit, compute=1e26, student_params=1e9, scenario="best_case")
        sweep = bd.recommend_sweep(paper_fit, compute=[1e21, 1e26], student_params=1e9)
    assert not any(c.endswith("_fold") or c == "extrapolation" for c in out.columns)
    assert not any(c.endswith("_fold") or c == "extrapolation" for c in frame.columns)
    assert frame.attrs["extrapolation"] == [{}, {}]
    assert rec.extrapolation == {} and math.isnan(rec.extrapolation_max_fold)
    assert rec.to_dict()["extrapolation"] == {} and rec.to_dict()["extrapolation_max_fold"] is None
    assert "extrapolation: not assessed: the fit has no runs" in str(rec)
    assert sweep["extrapolation_max_fold"].isna().all()
