"""Tests of the decisions: compute_optimal, recommend and Recommendation (issue 4).

The reference oracle (``decision_oracles``) is a straightforward per-draw SciPy SLSQP
optimisation written against the natural-parameter API (``bd.laws.distillation_loss``,
``bd.laws.supervised_loss``) and the compute accounting, independent of the vectorised search
(``search.py``). Fits are built with ``ScalingFit.from_params`` (the paper's coefficients, or
small jitters around them), so no test here runs NUTS. ``crossover`` and ``distill_or_train``
are tested in ``test_frontier.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from decision_oracles import (
    EPOCH,
    HI,
    LO,
    PAPER_SUPERVISED,
    best_case_crossover,
    draw_params,
    jittered_params,
    paper_optimum,
    slsqp_optimum,
)

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill.compute import SCENARIOS, forward_flops
from bayes_distill.diagnostics import ConvergenceWarning
from bayes_distill.results import ScalingFit


@pytest.fixture(scope="module")
def small_fit() -> ScalingFit:
    """Three draws around the paper's coefficients (for the per-draw SLSQP oracle)."""
    return ScalingFit.from_params("distillation", jittered_params(3, scale=0.05, seed=3))


# --------------------------------------------------------------------------------------------
# agreement with SLSQP


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("C", [1e20, 1e22, 1e24])
def test_recommendation_matches_slsqp_on_point_posterior(paper_fit, scenario, C):
    rec = bd.recommend(paper_fit, compute=C, student_params=1e9, scenario=scenario)
    ref = paper_optimum(scenario, C, 1e9)
    assert rec.student_loss_mean["median"] == pytest.approx(ref["loss"], rel=5e-3)
    # the vectorised search never does worse than SLSQP by more than the tolerance
    assert rec.student_loss_mean["median"] <= ref["loss"] * (1 + 5e-3)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_per_draw_optima_match_slsqp(small_fit, scenario):
    C, N_S = 1e22, 1e9
    rec = bd.recommend(small_fit, compute=C, student_params=N_S, scenario=scenario)
    for s in range(small_fit.n_samples):
        ref = slsqp_optimum(draw_params(small_fit, s), scenario, C, N_S)
        got = rec.per_draw["loss_optimal"].iloc[s]
        assert got == pytest.approx(ref["loss"], rel=5e-3), (s, got, ref)
        # the recommendation is never better than a draw's own optimum
        assert rec.per_draw["loss_recommended"].iloc[s] >= got - 1e-12


# --------------------------------------------------------------------------------------------
# the paper's findings with the paper's coefficients


@pytest.mark.parametrize("C", [1e20, 1e22, 1e24])
def test_teacher_inference_overtrains_the_teacher(paper_fit, C):
    """With logits paid but pretraining free, the best teacher has D_T at its upper bound."""
    ref = paper_optimum("teacher_inference", C, 1e9)
    assert ref["x"][1] == pytest.approx(HI, rel=1e-2)  # SLSQP, with D_T free, pushes it there
    rec = bd.recommend(paper_fit, compute=C, student_params=1e9, scenario="teacher_inference")
    assert rec.allocation["D_T"] == pytest.approx(HI)
    assert rec.student_loss_mean["median"] == pytest.approx(ref["loss"], rel=5e-3)


def test_teacher_pretraining_teacher_is_close_to_supervised_compute_optimal(paper_fit):
    """The optimal teacher is (nearly) the supervised compute-optimal model for its FLOPs."""
    budgets = np.logspace(20, 23, 4)
    sweep = bd.recommend_sweep(
        paper_fit, compute=budgets, student_params=1e9, scenario="teacher_pretraining"
    )
    sup_fit = ScalingFit.from_params("supervised", PAPER_SUPERVISED)
    co = bd.compute_optimal(sup_fit, compute=sweep["flops_teacher_pretraining"].to_numpy())
    ratio = sweep["N_T"].to_numpy() / co["N_median"].to_numpy()
    assert np.all(np.abs(np.log(ratio)) < np.log(1.1)), ratio
    # and its loss is the compute-optimal loss for those FLOPs (to 0.1%)
    assert np.allclose(sweep["teacher_loss_median"], co["loss_median"], rtol=1e-3)


def test_pretraining_and_inference_supervised_wins_for_1b_student(paper_fit):
    """One teacher trained for one student: training the student on data is better."""
    sweep = bd.recommend_sweep(
        paper_fit,
        compute=np.logspace(20, 24, 9),
        student_params=1e9,
        scenario="pretraining_and_inference",
    )
    assert (sweep["p_distillation_better"] == 0).all()
    assert (sweep["student_loss_mean_median"] > sweep["supervised_loss_mean_median"]).all()


def test_best_case_distillation_wins_small_budgets_and_crossover_grows(paper_fit):
    budgets = np.logspace(18, 25, 15)
    crossovers = [best_case_crossover(paper_fit, n, budgets) for n in (1e9, 3e9, 1e10)]
    assert np.isfinite(crossovers[0])
    assert crossovers[0] < crossovers[1] < crossovers[2], crossovers


@pytest.mark.xfail(
    strict=True,
    reason="With the Table 6 coefficients, students below ~1e9 parameters never lose to "
    "supervised training in the best case (an asymptotic ~0.5% win at 1e8 as D -> infinity: "
    "d1 = 1.315 > 1 keeps the capacity-gap break above the student's own loss), so the "
    "crossover is not monotone from 1e8 to 1e9; see the issue 4 report.",
)
def test_best_case_crossover_grows_from_small_students(paper_fit):
    budgets = np.logspace(18, 25, 15)
    crossovers = [best_case_crossover(paper_fit, n, budgets) for n in (1e8, 3e8, 1e9)]
    assert crossovers[0] < crossovers[1] < crossovers[2], crossovers


# --------------------------------------------------------------------------------------------
# monotonicity, budget and bounds


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_smaller_risk_tolerance_never_promises_lower_loss(jitter_fit, scenario):
    risks = [0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.95]
    at_risk = [
        bd.recommend(
            jitter_fit, compute=1e22, student_params=1e9, scenario=scenario, risk_tolerance=r
        ).student_loss["at_risk"]
        for r in risks
    ]
    assert np.all(np.diff(at_risk) <= 1e-12), at_risk


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_more_compute_never_worse_optimal_loss(jitter_fit, scenario):
    budgets = np.logspace(20, 24, 9)
    median = bd.recommend_sweep(
        jitter_fit, compute=budgets, student_params=1e9, scenario=scenario, risk_tolerance=0.5
    )["student_loss_median"]
    at_risk = bd.recommend_sweep(
        jitter_fit, compute=budgets, student_params=1e9, scenario=scenario, risk_tolerance=0.1
    )["student_loss_at_risk"]
    assert np.all(np.diff(median) <= 1e-9), median.to_numpy()
    assert np.all(np.diff(at_risk) <= 1e-9), at_risk.to_numpy()


def test_compute_optimal_loss_decreases_with_compute():
    fit = ScalingFit.from_params("chinchilla", EPOCH)
    frame = bd.compute_optimal(fit, compute=np.logspace(18, 25, 15))
    assert np.all(np.diff(frame["loss_median"]) < 0)
    assert frame["N_median"].is_monotonic_increasing
    assert frame["D_median"].is_monotonic_increasing


CASES = [
    (scenario, C, N_S)
    for scenario in SCENARIOS
    for C, N_S in [(1e19, 1e8), (1e21, 1e9), (1e24, 3e9), (1e26, 1e10)]
]


@pytest.mark.parametrize(("scenario", "C", "N_S"), CASES)
def test_allocation_spends_the_budget_within_bounds(jitter_fit, scenario, C, N_S):
    rec = bd.recommend(jitter_fit, compute=C, student_params=N_S, scenario=scenario)
    assert rec.flops["total"] == pytest.approx(C, rel=1e-2)
    a = rec.allocation
    values = [a["D_S"]] + [a[k] for k in ("N_T", "D_T") if np.isfinite(a[k])]
    per_draw = rec.per_draw[["D_S_opt", "N_T_opt", "D_T_opt"]].to_numpy().ravel()
    values += list(per_draw[np.isfinite(per_draw)])
    assert np.all(np.asarray(values) >= LO * (1 - 1e-9))
    assert np.all(np.asarray(values) <= HI * (1 + 1e-9))
    # the phases add up to the total, and each is what its scenario pays for
    d_logits, d_pretrain = SCENARIOS[scenario]
    assert (rec.flops["teacher_logits"] > 0) == bool(d_logits)
    assert (rec.flops["teacher_pretraining"] > 0) == bool(d_pretrain)


def test_custom_bounds_are_respected_and_reported(paper_fit):
    bounds = {"N": (1e7, 3e9), "D": (1e6, 1e17)}
    rec = bd.recommend(
        paper_fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining", bounds=bounds
    )
    assert rec.allocation["N_T"] == pytest.approx(3e9, rel=1e-6)  # wants ~6.5e9 unbounded
    assert rec.on_bound == ("N_T at its upper bound 3e+09",)
    assert "ON A BOUND: N_T at its upper bound" in str(rec)
    assert rec.flops["total"] == pytest.approx(1e22, rel=1e-2)
    free = bd.recommend(paper_fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    assert free.on_bound == ()
    assert free.student_loss["at_risk"] < rec.student_loss["at_risk"]


def test_shared_bounds_constrain_tokens_too(paper_fit):
    with pytest.raises(ValueError, match="above the upper bound 3e\\+09"):
        bd.recommend(
            paper_fit, compute=1e22, student_params=1e9, scenario="best_case", bounds=(1e6, 3e9)
        )


# --------------------------------------------------------------------------------------------
# existing teacher


def test_existing_teacher_loss_only_chooses_nothing(paper_fit):
    C, N_S = 1e22, 1e9
    rec = bd.recommend(paper_fit, compute=C, student_params=N_S, teacher_loss=2.0)
    assert rec.existing_teacher
    assert rec.allocation["D_S"] == pytest.approx(C / (3 * forward_flops(N_S)))
    assert rec.flops["teacher_pretraining"] == 0 and rec.flops["teacher_logits"] == 0
    expected = bd.laws.distillation_loss(N_S, rec.allocation["D_S"], 2.0, **laws.PAPER)
    assert rec.student_loss_mean["median"] == pytest.approx(float(expected), rel=1e-10)
    assert rec.regret["expected"] == pytest.approx(0.0, abs=1e-12)
    assert rec.teacher_loss["median"] == pytest.approx(2.0)
    assert "sunk" in " ".join(rec.notes)


def test_existing_teacher_params_pay_logits_in_teacher_inference(paper_fit):
    C, N_S, N_T, D_T = 1e22, 1e9, 7e9, 2e12
    rec = bd.recommend(
        paper_fit,
        compute=C,
        student_params=N_S,
        scenario="teacher_inference",
        teacher_params=N_T,
        teacher_tokens=D_T,
    )
    D_S = C / (3 * forward_flops(N_S) + forward_flops(N_T))
    assert rec.allocation["D_S"] == pytest.approx(D_S)
    assert rec.flops["teacher_logits"] > 0 and rec.flops["teacher_pretraining"] == 0
    assert rec.flops["total"] == pytest.approx(C)
    L_T = bd.laws.supervised_loss(N_T, D_T, **PAPER_SUPERVISED)
    assert rec.teacher_loss["median"] == pytest.approx(float(L_T))


def test_existing_teacher_is_never_charged_pretraining(paper_fit):
    rec = bd.recommend(
        paper_fit,
        compute=1e22,
        student_params=1e9,
        scenario="pretraining_and_inference",
        teacher_loss=2.0,
        teacher_params=7e9,
    )
    assert rec.flops["teacher_pretraining"] == 0
    assert rec.flops["teacher_logits"] > 0
    assert rec.teacher_loss["median"] == pytest.approx(2.0)


# --------------------------------------------------------------------------------------------
# the result object


def test_recommendation_fields_and_outputs(jitter_fit):
    rec = bd.recommend(jitter_fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    assert set(rec.allocation) >= {"D_S", "N_T", "D_T", "flops_student"}
    assert set(rec.student_loss) == {"median", "lower", "upper", "at_risk"}
    assert set(rec.supervised_loss) == {"median", "lower", "upper", "at_risk"}
    for d in (rec.student_loss, rec.student_loss_mean, rec.supervised_loss, rec.teacher_loss):
        assert d["lower"] <= d["median"] <= d["upper"]
    # the loss at risk is the 90% quantile, above the median
    assert rec.student_loss["at_risk"] > rec.student_loss["median"]
    assert 0 <= rec.p_distillation_better <= 1
    assert rec.regret["expected"] >= 0
    assert list(rec.optimum_spread.index) == ["D_S", "N_T", "D_T", "L_T"]
    assert rec.per_draw.shape[0] == jitter_fit.n_samples
    assert np.all(rec.per_draw["regret"] >= -1e-12)
    per = rec.per_draw
    assert np.quantile(per["supervised_loss_predictive"], 0.9) == pytest.approx(
        rec.supervised_loss["at_risk"]
    )
    assert np.quantile(per["loss_predictive"], 0.9) == pytest.approx(rec.student_loss["at_risk"])
    assert rec.n_draws == jitter_fit.n_samples and rec.n_dropped == 0
    frame = rec.to_frame()
    assert frame.shape[0] == 1
    for col in (
        "D_S",
        "N_T",
        "D_T",
        "flops_student",
        "flops_teacher_logits",
        "flops_teacher_pretraining",
        "student_loss_at_risk",
        "student_loss_mean_median",
        "supervised_loss_median",
        "p_distillation_better",
        "regret_expected",
        "N_T_opt_lower",
        "mean_optimal_loss",
    ):
        assert col in frame.columns
    text = str(rec)
    for label in ("student tokens D_S", "predictive", "mean law", "at risk (90% q.)", "regret"):
        assert label in text
    assert repr(rec) == text
    json.dumps(rec.to_dict())  # JSON-serialisable


def test_sweep_returns_one_row_per_budget(jitter_fit):
    budgets = np.logspace(20, 23, 4)
    kw = {"student_params": 1e9, "scenario": "best_case"}
    frame = bd.recommend_sweep(jitter_fit, compute=budgets, **kw)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 4
    np.testing.assert_allclose(frame["compute"], budgets)
    one = bd.recommend(jitter_fit, compute=budgets[2], **kw)
    row = one.to_frame().iloc[0]
    assert list(frame.columns) == list(one.to_frame().columns)
    assert frame.iloc[2]["student_loss_at_risk"] == pytest.approx(row["student_loss_at_risk"])
    # a single budget is a one-row table: the sweep always returns a DataFrame
    single = bd.recommend_sweep(jitter_fit, compute=budgets[2], **kw)
    assert isinstance(single, pd.DataFrame) and len(single) == 1
    assert single.iloc[0]["student_loss_at_risk"] == pytest.approx(row["student_loss_at_risk"])


@pytest.mark.parametrize("compute", [[1e21, 1e22], np.array([1e21]), (1e22,)])
def test_recommend_takes_one_budget_and_points_to_the_sweep(paper_fit, compute):
    with pytest.raises(TypeError, match=r"one budget in FLOPs.*bd\.recommend_sweep\(fit, compute="):
        bd.recommend(paper_fit, compute=compute, student_params=1e9)
    # a NumPy scalar is one budget
    rec = bd.recommend(paper_fit, compute=np.float64(1e22), student_params=1e9)
    assert isinstance(rec, bd.Recommendation)


def test_sweep_keeps_the_budget_ceiling_in_the_order_given(jitter_fit):
    """Budgets in any order: the rows follow the order given, and the loss at risk never
    rises with the budget (the ceiling pass over the sorted budgets)."""
    budgets = [1e24, 1e21, 1e23, 1e22]
    frame = bd.recommend_sweep(
        jitter_fit, compute=budgets, student_params=1e9, scenario="teacher_pretraining"
    )
    assert frame["compute"].tolist() == budgets
    ordered = frame.sort_values("compute")
    assert np.all(np.diff(ordered["student_loss_at_risk"].to_numpy()) <= 1e-12)
    assert np.all(frame["compute_spent"] <= frame["compute"] * (1 + 1e-9))


def test_same_seed_same_recommendation_and_seed_matters(jitter_fit):
    kw = {"compute": 1e22, "student_params": 1e9, "scenario": "best_case"}
    a = bd.recommend(jitter_fit, **kw, random_seed=5)
    b = bd.recommend(jitter_fit, **kw, random_seed=5)
    c = bd.recommend(jitter_fit, **kw, random_seed=6)
    assert a.student_loss == b.student_loss
    assert a.student_loss["at_risk"] != c.student_loss["at_risk"]


def test_predictive_intervals_are_wider_than_mean_law(jitter_fit):
    rec = bd.recommend(jitter_fit, compute=1e22, student_params=1e9, scenario="best_case")
    width = rec.student_loss["upper"] - rec.student_loss["lower"]
    width_mean = rec.student_loss_mean["upper"] - rec.student_loss_mean["lower"]
    assert width > width_mean


def test_fit_is_not_mutated(jitter_fit):
    before = jitter_fit.dt.copy(deep=True)
    bd.recommend(jitter_fit, compute=1e22, student_params=1e9)
    bd.compute_optimal(jitter_fit, compute=1e22)
    assert jitter_fit.dt.identical(before)


def test_non_finite_draws_are_dropped_and_counted():
    params = jittered_params(20)
    params["B"] = params["B"].copy()
    params["B"][3] = np.nan
    fit = ScalingFit.from_params("distillation", params)
    rec = bd.recommend(fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    assert rec.n_dropped == 1 and rec.n_draws == 19
    assert "dropped" in " ".join(rec.notes)
    assert np.isfinite(rec.student_loss["at_risk"])
    assert bool(rec.per_draw["dropped"].iloc[3])


def test_unconverged_fit_warns():
    """A sampled fit (it has sample_stats) that fails its diagnostics warns before use."""
    n = 200
    rng = np.random.default_rng(1)
    base = ScalingFit.from_params(
        "distillation",
        jittered_params(n),
        sigma=0.01 * np.exp(0.1 * rng.standard_normal(n)),
        tau=0.02 * np.exp(0.1 * rng.standard_normal(n)),
    )
    # two chains of 200 draws (R-hat needs chains), five of them divergent
    post = xr.Dataset(
        {k: (("chain", "draw"), v.values.reshape(2, n // 2)) for k, v in base.posterior.items()},
        coords={"chain": [0, 1], "draw": np.arange(n // 2)},
    )
    diverging = np.zeros((2, n // 2), bool)
    diverging[0, :5] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    dt = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    dt.attrs.update(base.dt.attrs)
    fit = ScalingFit(dt, "distillation", runs=None)
    for _ in range(2):  # the diagnostics are cached per fit; the warning is not
        with pytest.warns(ConvergenceWarning, match="5 divergent transitions"):
            bd.recommend(fit, compute=1e22, student_params=1e9, scenario="best_case")
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        bd.compute_optimal(fit, compute=1e22)


class LocatedNoiseFit(ScalingFit):
    """A fit whose predictive noise grows with the distance of log D_S from 1e10 tokens: like
    fits with distance-dependent noise, its model says so (``located``) and its ``noise_draws``
    needs the runs' location (``at=``)."""

    @property
    def model(self):
        base = super().model
        return type("LocatedModel", (type(base),), {"located": True})(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        )

    def noise_draws(
        self, shape=(), *, random_seed=None, at=None, common=False, observation="obs", law_mean=None
    ):
        rng = np.random.default_rng(random_seed)
        S, shape = self.n_samples, tuple(shape)
        if observation != "obs":
            return 0.01 * rng.standard_normal((S, *shape))
        if at is None:
            raise ValueError("This fit's noise grows with the distance from its runs: pass at=.")
        z = rng.standard_normal((S,) + ((1,) * len(shape) if common else shape))
        d = np.abs(np.log(np.broadcast_to(np.asarray(at["D_S"], float), shape)) - np.log(1e10))
        return np.broadcast_to(0.01 * (1 + d) * z, (S, *shape)).copy()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_location_dependent_noise_is_evaluated_at_the_allocation(scenario):
    base = ScalingFit.from_params("distillation", jittered_params(100))
    fit = LocatedNoiseFit(base.dt, "distillation", runs=None)
    rec = bd.recommend(fit, compute=1e22, student_params=1e9, scenario=scenario)
    # the predictive draws are the mean law plus the noise at the recommended D_S
    z = np.random.default_rng(np.random.SeedSequence(0).spawn(2)[0]).standard_normal((100, 1))
    d = abs(math.log(rec.allocation["D_S"]) - math.log(1e10))
    expected = rec.per_draw["loss_recommended"] * np.exp(0.01 * (1 + d) * z[:, 0])
    np.testing.assert_allclose(rec.per_draw["loss_predictive"], expected, rtol=1e-12)
    assert rec.student_loss["at_risk"] > rec.student_loss_mean["upper"]
    existing = bd.recommend(fit, compute=1e22, student_params=1e9, teacher_loss=2.0)
    assert np.isfinite(existing.student_loss["at_risk"])


# --------------------------------------------------------------------------------------------
# compute_optimal


def test_compute_optimal_matches_chinchilla_closed_form():
    """With F = 2N (C = 6ND) the Chinchilla optimum is N* = G (C/6)^(beta/(alpha+beta))."""
    fit = ScalingFit.from_params("chinchilla", EPOCH)
    C = 1e23
    row = bd.compute_optimal(fit, compute=C, approx="2N").iloc[0]
    a, b = EPOCH["alpha"], EPOCH["beta"]
    G = (a * EPOCH["A"] / (b * EPOCH["B"])) ** (1 / (a + b))
    N_star = G * (C / 6) ** (b / (a + b))
    assert row["N_median"] == pytest.approx(N_star, rel=1e-3)
    assert row["D_median"] == pytest.approx(C / (6 * N_star), rel=1e-3)


def test_compute_optimal_frame_and_intervals():
    fit = ScalingFit.from_params("supervised", jittered_params(200), sigma=0.01)
    frame = bd.compute_optimal(fit, compute=[1e20, 1e22], ci_prob=0.8)
    assert len(frame) == 2
    for name in ("N", "D", "loss", "tokens_per_param"):
        assert (frame[f"{name}_lower"] <= frame[f"{name}_median"]).all()
        assert (frame[f"{name}_median"] <= frame[f"{name}_upper"]).all()
        assert (frame[f"{name}_lower"] < frame[f"{name}_upper"]).all()
    assert frame.attrs["ci_prob"] == 0.8
    assert (frame["on_bound"] == 0).all()
    # each draw's optimum spends the budget
    spent = 3 * forward_flops(frame["N_median"].to_numpy()) * frame["D_median"].to_numpy()
    assert np.all(spent < frame["compute"] * 1.5)


def test_compute_optimal_accepts_distillation_fit(paper_fit):
    sup = ScalingFit.from_params("supervised", PAPER_SUPERVISED)
    a = bd.compute_optimal(paper_fit, compute=1e22).iloc[0]
    b = bd.compute_optimal(sup, compute=1e22).iloc[0]
    assert a["N_median"] == pytest.approx(b["N_median"])


def test_compute_optimal_drops_non_finite_draws():
    params = {k: np.full(5, v) for k, v in EPOCH.items()}
    params["A"][2] = np.nan
    frame = bd.compute_optimal(ScalingFit.from_params("chinchilla", params), compute=1e22)
    assert frame["n_draws"].iloc[0] == 4
    assert np.isfinite(frame.drop(columns="compute").to_numpy()).all()


def test_compute_optimal_reports_bound():
    fit = ScalingFit.from_params("chinchilla", EPOCH)
    row = bd.compute_optimal(fit, compute=1e22, bounds={"N": (1e6, 1e9)}).iloc[0]
    assert row["N_median"] == pytest.approx(1e9, rel=1e-3)
    assert row["on_bound"] == 1.0


# --------------------------------------------------------------------------------------------
# user errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"risk_tolerance": 0.0},
            ValueError,
            r"risk_tolerance must be a number in \(0, 1\), got 0\.0",
        ),
        ({"risk_tolerance": 1.0}, ValueError, "risk_tolerance must be"),
        ({"risk_tolerance": "0.1"}, ValueError, "risk_tolerance must be"),
        ({"risk_tolerance": True}, ValueError, "risk_tolerance must be"),
        ({"ci_prob": 1.5}, ValueError, r"ci_prob must be .* got 1\.5"),
        ({"scenario": "cheap"}, ValueError, r"Unknown scenario 'cheap'.*'best_case'"),
        ({"compute": -1.0}, ValueError, "compute must be finite and positive"),
        ({"compute": float("nan")}, ValueError, "compute must be finite and positive"),
        ({"compute": "1e22"}, TypeError, "compute must be a number"),
        ({"compute": [[1e22]]}, TypeError, "compute must be one budget in FLOPs"),
        ({"compute": 1e9}, ValueError, "on even one token"),
        ({"compute": 1e13, "scenario": "best_case"}, ValueError, "below the lower bound"),
        ({"compute": 1e15}, ValueError, "too small for scenario 'teacher_pretraining'"),
        (
            {"compute": 1e30, "scenario": "best_case"},
            ValueError,
            "above the upper bound",
        ),
        (
            {"student_params": 1e18},
            ValueError,
            r"student_params=1e\+18 is outside the bounds on parameters",
        ),
        ({"student_params": "big"}, TypeError, "student_params must be a number"),
        ({"student_params": 0}, ValueError, "student_params must be finite and positive"),
        ({"bounds": (1e9, 1e6)}, ValueError, "bounds must be a pair"),
        ({"bounds": 5}, ValueError, "bounds must be a pair"),
        ({"bounds": {"N": (1e6, 1e17), "T": (1, 2)}}, ValueError, r"takes the keys 'N'.*\['T'\]"),
        ({"approx": "6ND"}, ValueError, "approx must be 'paper'"),
        ({"random_seed": -1}, ValueError, "random_seed must be"),
        ({"teacher_tokens": 1e12}, ValueError, "teacher_tokens was given without teacher_params"),
        ({"teacher_params": 7e9}, ValueError, "give teacher_tokens"),
        (
            {"teacher_loss": 2.0, "scenario": "teacher_inference"},
            ValueError,
            "teacher_params is needed",
        ),
        ({"teacher_loss": -2.0}, ValueError, "teacher_loss must be finite and positive"),
        # checked like the losses of a run table (bd.data.LOSS_RANGE)
        (
            {"teacher_loss": 0.1},
            ValueError,
            r"teacher_loss=0\.1 is outside the range of plausible losses \[0\.3, 15\] "
            r"nats/token .*accuracy.*Give the teacher's validation cross-entropy in nats/token",
        ),
        (
            {"teacher_loss": 30.0},
            ValueError,
            r"teacher_loss=30\.0 is outside the range .*perplexity .*e\.g\. teacher_loss=2\.1",
        ),
        ({"teacher_loss": "2.0"}, TypeError, "teacher_loss must be a number"),
    ],
)
def test_recommend_errors(paper_fit, kwargs, error, match):
    base = {"compute": 1e22, "student_params": 1e9}
    with pytest.raises(error, match=match):
        bd.recommend(paper_fit, **{**base, **kwargs})


def test_teacher_loss_range_is_the_run_tables(paper_fit):
    from bayes_distill.data import LOSS_RANGE

    lo, hi = LOSS_RANGE
    for value in (lo, hi):  # the ends are accepted, as in load_runs
        rec = bd.recommend(paper_fit, compute=1e22, student_params=1e9, teacher_loss=value)
        assert rec.teacher_loss["median"] == pytest.approx(value)
    with pytest.raises(ValueError, match=r"teacher_loss=0\.29"):
        bd.recommend(paper_fit, compute=1e22, student_params=1e9, teacher_loss=0.29)


def test_recommend_rejects_supervised_fit_and_non_fit():
    sup = ScalingFit.from_params("chinchilla", EPOCH)
    with pytest.raises(ValueError, match=r"needs a fit of law distillation, got a 'chinchilla'"):
        bd.recommend(sup, compute=1e22, student_params=1e9)
    with pytest.raises(TypeError, match="needs a ScalingFit"):
        bd.recommend({"E": 1.0}, compute=1e22, student_params=1e9)


def test_sweep_validates_every_budget_first(paper_fit):
    with pytest.raises(ValueError, match="one token"):
        bd.recommend_sweep(paper_fit, compute=[1e22, 1e9], student_params=1e9)
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        bd.recommend_sweep(paper_fit, compute=[[1e22]], student_params=1e9)
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        bd.recommend_sweep(paper_fit, compute=[], student_params=1e9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"compute": 0.0}, ValueError, "compute must be finite and positive"),
        ({"compute": 1e10}, ValueError, "cannot train even the smallest model"),
        ({"compute": 1e40}, ValueError, "too large for bounds"),
        ({"ci_prob": 0}, ValueError, "ci_prob must be"),
    ],
)
def test_compute_optimal_errors(kwargs, error, match):
    fit = ScalingFit.from_params("chinchilla", EPOCH)
    with pytest.raises(error, match=match):
        bd.compute_optimal(fit, **{"compute": 1e22, **kwargs})


def test_compute_optimal_rejects_non_fit():
    with pytest.raises(TypeError, match="needs a ScalingFit"):
        bd.compute_optimal("models/chinchilla.nc", compute=1e22)


# --------------------------------------------------------------------------------------------
# a teacher shared by several students (n_students)

SHARED_KS = [1, 2, 4, 8, 16, 32]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_one_student_is_the_default_answer(jitter_fit, scenario):
    kw = {"compute": 1e22, "student_params": 1e9, "scenario": scenario}
    default = bd.recommend(jitter_fit, **kw)
    one = bd.recommend(jitter_fit, **kw, n_students=1)
    assert default.n_students == one.n_students == 1
    assert one.to_dict() == default.to_dict()
    pd.testing.assert_frame_equal(one.per_draw, default.per_draw)
    assert str(one) == str(default)
    assert "shared by" not in str(one)


@pytest.mark.parametrize("scenario", ["teacher_pretraining", "pretraining_and_inference"])
def test_shared_teacher_charges_its_share_of_pretraining(paper_fit, scenario):
    C, N_S, k = 1e22, 1e9, 8
    rec = bd.recommend(paper_fit, compute=C, student_params=N_S, scenario=scenario, n_students=k)
    a, f = rec.allocation, rec.flops
    full = 3 * forward_flops(a["N_T"]) * a["D_T"]
    assert f["teacher_pretraining"] == pytest.approx(full / k, rel=1e-12)
    # the logits are paid per student, on all of its tokens
    d_logits = SCENARIOS[scenario][0]
    assert f["teacher_logits"] == pytest.approx(d_logits * forward_flops(a["N_T"]) * a["D_S"])
    assert f["total"] == pytest.approx(C, rel=1e-9)
    # the allocation is what SLSQP finds with the same accounting
    ref = slsqp_optimum(dict(laws.PAPER), scenario, C, N_S, n_students=k)
    assert rec.student_loss_mean["median"] == pytest.approx(ref["loss"], rel=5e-3)
    assert rec.student_loss_mean["median"] <= ref["loss"] * (1 + 5e-3)
    # and a teacher shared by 8 students is better value than one trained for one
    one = bd.recommend(paper_fit, compute=C, student_params=N_S, scenario=scenario)
    assert rec.student_loss_mean["median"] < one.student_loss_mean["median"]


@pytest.mark.parametrize("scenario", ["teacher_pretraining", "pretraining_and_inference"])
@pytest.mark.parametrize("C", [1e21, 1e22])
def test_more_students_per_teacher_never_make_distillation_less_likely(jitter_fit, scenario, C):
    recs = [
        bd.recommend(jitter_fit, compute=C, student_params=1e9, scenario=scenario, n_students=k)
        for k in SHARED_KS
    ]
    p = np.array([r.p_distillation_better for r in recs])
    assert np.all(np.diff(p) >= 0), p
    assert p[-1] > p[0]
    at_risk = np.array([r.student_loss["at_risk"] for r in recs])
    assert np.all(np.diff(at_risk) <= 1e-12), at_risk
    # each draw's own optimum can only improve (a cheaper teacher leaves more for the student),
    # to the accuracy of the per-draw search (5e-4 nats at worst, on the law's sharp break)
    optimal = np.stack([r.per_draw["loss_optimal"].to_numpy() for r in recs])
    assert np.all(np.diff(optimal, axis=0) <= 5e-4), np.diff(optimal, axis=0).max()
    assert np.mean(np.diff(optimal, axis=0) <= 1e-5) > 0.99


@pytest.mark.parametrize("scenario", ["best_case", "teacher_inference"])
def test_shared_teacher_changes_nothing_where_pretraining_is_not_paid(jitter_fit, scenario):
    kw = {"compute": 1e22, "student_params": 1e9, "scenario": scenario}
    one = bd.recommend(jitter_fit, **kw)
    shared = bd.recommend(jitter_fit, **kw, n_students=8)
    a, b = one.to_dict(), shared.to_dict()
    assert b.pop("n_students") == 8 and a.pop("n_students") == 1
    note = f"n_students=8 changes nothing here: scenario {scenario!r} does not pay"
    assert [n for n in b.pop("notes") if n not in a["notes"]] == [
        next(n for n in shared.notes if n.startswith(note))
    ]
    a.pop("notes")
    assert a == b
    assert "shared by" not in str(shared)


def test_shared_existing_teacher_is_never_charged_pretraining(paper_fit):
    rec = bd.recommend(
        paper_fit,
        compute=1e22,
        student_params=1e9,
        scenario="teacher_pretraining",
        teacher_loss=2.0,
        n_students=4,
    )
    assert rec.flops["teacher_pretraining"] == 0
    assert any(
        "n_students=4 changes nothing here: an existing teacher's pretraining is sunk" in n
        for n in rec.notes
    )


def test_shared_teacher_is_reported(paper_fit):
    rec = bd.recommend(
        paper_fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining", n_students=16
    )
    assert rec.n_students == 16 and rec.shares_teacher_pretraining
    text = str(rec)
    assert "teacher pretraining shared by 16 students: 1/16 of its FLOPs charged" in text
    assert "teacher tokens D_T (1/16)" in text
    assert rec.to_frame()["n_students"].iloc[0] == 16
    assert rec.to_dict()["n_students"] == 16
    json.dumps(rec.to_dict())
    sweep = bd.recommend_sweep(paper_fit, compute=[1e21, 1e22], student_params=1e9, n_students=16)
    assert sweep["n_students"].tolist() == [16, 16]
    assert sweep["flops_teacher_pretraining"].iloc[1] == pytest.approx(
        rec.flops["teacher_pretraining"]
    )


def test_shared_teacher_makes_a_smaller_budget_feasible(paper_fit):
    # 2.2e14 FLOPs train a 1e7 student on 1.1e6 tokens, but not the smallest teacher (1e6
    # parameters on 1e6 tokens, 5.8e13 FLOPs) too; shared by 1000 students it costs 5.8e10
    with pytest.raises(ValueError, match="too small for scenario 'teacher_pretraining'"):
        bd.recommend(paper_fit, compute=2.2e14, student_params=1e7)
    rec = bd.recommend(paper_fit, compute=2.2e14, student_params=1e7, n_students=1000)
    assert rec.flops["total"] == pytest.approx(2.2e14, rel=1e-6)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"n_students must be an integer >= 1, got 0; give how many students"),
        (-3, ValueError, r"n_students must be an integer >= 1, got -3"),
        (2.5, TypeError, r"n_students must be an integer >= 1, got 2\.5 \(float\)"),
        (4.0, TypeError, r"n_students must be an integer >= 1, got 4\.0 \(float\)"),
        (True, TypeError, r"n_students must be an integer >= 1, got True \(bool\)"),
        ("8", TypeError, r"n_students must be an integer >= 1, got '8' \(str\)"),
        (None, TypeError, r"n_students must be an integer >= 1, got None"),
    ],
)
def test_n_students_errors(paper_fit, value, error, match):
    with pytest.raises(error, match=match):
        bd.recommend(paper_fit, compute=1e22, student_params=1e9, n_students=value)


def test_n_students_accepts_numpy_integers(paper_fit):
    rec = bd.recommend(paper_fit, compute=1e22, student_params=1e9, n_students=np.int64(4))
    assert rec.n_students == 4 and type(rec.n_students) is int


def test_an_existing_teacher_given_by_loss_and_size_is_costed_and_compared_with_the_paper():
    """teacher_loss with teacher_params (no tokens): the logits are costed by the size and the
    paper's answer uses the same teacher loss."""
    dist = bd.datasets.fitted("distillation")
    rec = bd.recommend(
        dist,
        compute=1e21,
        student_params=3e8,
        scenario="teacher_inference",
        teacher_loss=2.4,
        teacher_params=3e9,
    )
    assert rec.existing_teacher and rec.teacher_loss["median"] == pytest.approx(2.4)
    assert rec.allocation["N_T"] == pytest.approx(3e9)
    assert rec.paper and np.isfinite(rec.paper["p_distillation_better"])
