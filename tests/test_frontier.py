"""Tests of where distillation stops paying (``frontier.py``): ``crossover`` and the data of
the distil-or-train map, ``distill_or_train``.

Each draw's crossover is checked against a root-finder per draw (``brentq`` on the gap between
a SciPy minimisation of the distilled student and the supervised one), and the map's cells
under the paper's coefficients against the SLSQP optimum of ``decision_oracles``. Fits are built
with ``ScalingFit.from_params``, so no test here runs NUTS.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from decision_oracles import (
    EPOCH,
    HI,
    LO,
    PAPER_SUPERVISED,
    SUPERVISED_KEYS,
    best_case_crossover,
    draw_params,
    jittered_params,
    paper_optimum,
    slsqp_optimum,
)
from scipy import optimize

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill.compute import forward_flops
from bayes_distill.results import ScalingFit

# --------------------------------------------------------------------------------------------
# crossover: a root-finder per draw


def crossover_oracle(
    params: dict[str, float],
    scenario: str,
    N_S: float,
    compute_range: tuple[float, float],
    *,
    lt_box: tuple[float, float] | None = None,
    teacher_loss: float | None = None,
    per_decade: int = 6,
) -> float:
    """One draw's crossover by ``brentq``: the first budget, after distillation has won, where
    the best distilled student (a SciPy minimisation per budget) stops beating supervised
    training; NaN when there is none in ``compute_range``.

    ``best_case`` minimises over ``log L_T`` in ``lt_box`` (a grid of 200, then a bounded
    ``minimize_scalar``); the scenarios that pay for the teacher use :func:`slsqp_optimum`; a
    given ``teacher_loss`` is used as it is.
    """
    sup = {k: params[k] for k in SUPERVISED_KEYS}

    def best_distilled(C):
        D = C / (3 * forward_flops(N_S))
        if teacher_loss is not None:
            return float(bd.laws.distillation_loss(N_S, D, teacher_loss, **params))
        if scenario != "best_case":
            return slsqp_optimum(params, scenario, C, N_S)["loss"]

        def f(log_LT):
            return float(bd.laws.distillation_loss(N_S, D, math.exp(log_LT), **params))

        grid = np.linspace(*lt_box, 200)
        i = int(np.argmin([f(t) for t in grid]))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        res = optimize.minimize_scalar(f, bounds=(lo, hi), method="bounded")
        return min(float(res.fun), f(grid[i]))

    def gap(log_C):
        C = math.exp(log_C)
        L_sup = float(bd.laws.supervised_loss(N_S, C / (3 * forward_flops(N_S)), **sup))
        return best_distilled(C) - L_sup

    lo, hi = np.log(compute_range)
    n = round((hi - lo) / math.log(10) * per_decade) + 1
    scan = np.linspace(lo, hi, n)
    won = False
    previous = None
    for x in scan:
        g = gap(x)
        if g < 0:
            won = True
        elif won:
            return math.exp(optimize.brentq(gap, previous, x, xtol=1e-6))
        previous = x
    return math.nan


def lt_box(fit: ScalingFit) -> tuple[float, float]:
    """The teacher losses ``recommend`` and ``crossover`` search in ``best_case`` (log): those a
    teacher within the bounds reaches, over all draws."""
    losses = [
        (
            float(
                laws.supervised_loss(HI, HI, **{k: draw_params(fit, s)[k] for k in SUPERVISED_KEYS})
            ),
            float(
                laws.supervised_loss(LO, LO, **{k: draw_params(fit, s)[k] for k in SUPERVISED_KEYS})
            ),
        )
        for s in range(fit.n_samples)
    ]
    return math.log(min(a for a, _ in losses)), math.log(max(b for _, b in losses))


@pytest.fixture(scope="module")
def xover_fit() -> ScalingFit:
    """Four draws around the paper's coefficients (for the per-draw root-finder)."""
    return ScalingFit.from_params("distillation", jittered_params(4, scale=0.05, seed=7))


def test_crossover_matches_a_root_finder_per_draw(xover_fit):
    sizes = [1e9, 3e9, 1e10]
    frame = bd.crossover(xover_fit, student_params=sizes, compute_range=(1e19, 1e26))
    box = lt_box(xover_fit)
    crossed = []
    for row, N_S in enumerate(sizes):
        got = np.asarray(frame.attrs["draws"][row])
        ref = [
            crossover_oracle(draw_params(xover_fit, s), "best_case", N_S, (1e19, 1e26), lt_box=box)
            for s in range(xover_fit.n_samples)
        ]
        # the same draws cross (NaN: still winning at 1e26), at the same budgets to 0.2%
        np.testing.assert_allclose(got, ref, rtol=2e-3)
        crossed.append(np.isfinite(ref))
        assert frame["p_still_winning"].iloc[row] == pytest.approx(1 - np.mean(crossed[-1]))
        if crossed[-1].any():
            assert frame["median"].iloc[row] == pytest.approx(np.nanmedian(ref), rel=2e-3)
    # both kinds of draw are checked: two cross, two are still winning at 1e26 FLOPs
    assert np.any(crossed) and not np.all(crossed)


def test_crossover_of_a_trained_teacher_matches_a_root_finder(xover_fit):
    """Teacher pretraining paid: a 1e10 student distils best below ~3e20 FLOPs."""
    fit = ScalingFit.from_params("distillation", jittered_params(3, scale=0.05, seed=7))
    frame = bd.crossover(
        fit, student_params=1e10, scenario="teacher_pretraining", compute_range=(1e19, 1e22)
    )
    got = np.asarray(frame.attrs["draws"][0])
    ref = [
        crossover_oracle(
            draw_params(fit, s), "teacher_pretraining", 1e10, (1e19, 1e22), per_decade=3
        )
        for s in range(fit.n_samples)
    ]
    assert np.isfinite(ref).all(), ref
    np.testing.assert_allclose(got, ref, rtol=2e-3)


def test_crossover_of_an_existing_teacher_matches_a_root_finder(xover_fit):
    frame = bd.crossover(
        xover_fit, student_params=1e9, teacher_loss=2.3, compute_range=(1e19, 1e26)
    )
    ref = [
        crossover_oracle(
            draw_params(xover_fit, s), "best_case", 1e9, (1e19, 1e26), teacher_loss=2.3
        )
        for s in range(xover_fit.n_samples)
    ]
    assert np.isfinite(ref).all(), ref
    np.testing.assert_allclose(frame.attrs["draws"][0], ref, rtol=2e-3)
    assert frame.attrs["teacher_loss"] == 2.3


def test_crossover_frame_summarises_the_draws(jitter_fit):
    frame = bd.crossover(jitter_fit, student_params=[1e9, 1e10], ci_prob=0.8)
    assert list(frame.columns) == [
        "student_params",
        "median",
        "lower",
        "upper",
        "p_no_crossover",
        "p_never_wins",
        "p_still_winning",
        "n_draws",
        "n_crossover",
        "D_S_median",
        "compute_lo",
        "compute_hi",
    ]  # a fit without runs has no extrapolation columns
    for row in range(2):
        draws = np.asarray(frame.attrs["draws"][row])
        assert draws.shape == (jitter_fit.n_samples,)
        crossed = draws[np.isfinite(draws)]
        r = frame.iloc[row]
        assert r["n_crossover"] == crossed.size and r["n_draws"] == jitter_fit.n_samples
        lo, med, hi = np.quantile(crossed, [0.1, 0.5, 0.9])
        assert (r["lower"], r["median"], r["upper"]) == pytest.approx((lo, med, hi))
        assert r["p_no_crossover"] == pytest.approx(1 - crossed.size / jitter_fit.n_samples)
        assert r["p_no_crossover"] == pytest.approx(r["p_never_wins"] + r["p_still_winning"])
        assert r["compute_lo"] <= r["lower"] <= r["median"] <= r["upper"] <= r["compute_hi"]
        # best case: the student's tokens at the crossover are what the budget buys
        D = np.median(crossed / (3 * forward_flops(r["student_params"])))
        assert r["D_S_median"] == pytest.approx(D, rel=1e-6)
    assert frame["median"].iloc[0] < frame["median"].iloc[1]
    assert frame.attrs["scenario"] == "best_case" and frame.attrs["ci_prob"] == 0.8
    assert frame.attrs["compute_range"] == (1e18, 1e27)
    assert frame.attrs["teacher_loss"] is None
    assert frame.attrs["extrapolation"] == [{}, {}]
    assert "mean law" in frame.attrs["loss_kind"]


def test_crossover_agrees_with_a_recommend_sweep(paper_fit):
    """The paper's coefficients: each crossover lies between the last budget of a sweep at
    which distillation wins and the first at which it loses (compare best_case_crossover)."""
    budgets = np.logspace(18, 25, 15)
    frame = bd.crossover(paper_fit, student_params=[1e9, 3e9, 1e10])
    for N_S, c in zip((1e9, 3e9, 1e10), frame["median"], strict=True):
        first_lost = best_case_crossover(paper_fit, N_S, budgets)
        assert first_lost / 10**0.5 < c <= first_lost
    assert frame["median"].is_monotonic_increasing
    assert (frame["p_no_crossover"] == 0).all()


def test_small_students_are_still_winning_at_the_top_of_the_range(paper_fit):
    """Table 6: below ~1e9 parameters the best case never loses (see the xfail in
    test_decide.py); a student whose teacher's pretraining is paid only starts winning (near
    1e20 FLOPs)."""
    frame = bd.crossover(paper_fit, student_params=1e8)
    row = frame.iloc[0]
    assert np.isnan(row["median"]) and row["n_crossover"] == 0
    assert row["p_no_crossover"] == row["p_still_winning"] == 1.0
    # 1e27 FLOPs would train 1e8 parameters on more than 1e17 tokens: the range stops below
    assert row["compute_hi"] <= 3 * forward_flops(1e8) * HI < 1e27
    assert row["compute_lo"] == 1e18
    paid = bd.crossover(paper_fit, student_params=1e8, scenario="teacher_pretraining")
    assert paid["p_still_winning"].iloc[0] == 1.0
    never = bd.crossover(
        paper_fit,
        student_params=1e9,
        scenario="pretraining_and_inference",
        compute_range=(1e20, 1e26),
    )
    assert never["p_never_wins"].iloc[0] == 1.0 and np.isnan(never["median"].iloc[0])


def test_crossover_drops_non_finite_draws():
    params = jittered_params(20)
    params["B"] = params["B"].copy()
    params["B"][3] = np.nan
    fit = ScalingFit.from_params("distillation", params)
    frame = bd.crossover(fit, student_params=1e9)
    assert frame["n_draws"].iloc[0] == 19
    assert np.isnan(frame.attrs["draws"][0][3])
    assert np.isfinite(frame["median"].iloc[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"student_params": "1e9"}, TypeError, "student_params must be numbers"),
        ({"student_params": [[1e9]]}, ValueError, "non-empty 1-D array"),
        ({"student_params": []}, ValueError, "non-empty 1-D array"),
        ({"student_params": [1e9, -1.0]}, ValueError, "student_params must be finite and positive"),
        (
            {"student_params": [1e9, 1e18]},
            ValueError,
            r"student_params=1e\+18 is outside the bounds",
        ),
        ({"scenario": "cheap"}, ValueError, r"Unknown scenario 'cheap'"),
        ({"ci_prob": 1.0}, ValueError, r"ci_prob must be .* got 1\.0"),
        ({"approx": "6ND"}, ValueError, "approx must be 'paper'"),
        ({"bounds": (1e9, 1e6)}, ValueError, "bounds must be a pair"),
        ({"compute_range": 1e22}, ValueError, r"compute_range must be a pair .*got 1e\+22"),
        ({"compute_range": (1e22, 1e20)}, ValueError, "0 < lower < upper"),
        ({"compute_range": (0, 1e20)}, ValueError, "0 < lower < upper"),
        ({"compute_range": ("a", 1e20)}, ValueError, "compute_range must be a pair"),
        (
            {"compute_range": (1e5, 1e9)},
            ValueError,
            r"compute_range=\(1e\+05, 1e\+09\) holds no range of budgets that can train the "
            r"student \(student_params=1e\+09\) in scenario 'best_case'",
        ),
        ({"teacher_loss": 30.0}, ValueError, r"teacher_loss=30\.0 is outside the range"),
        (
            {"teacher_loss": 2.0, "scenario": "teacher_inference"},
            ValueError,
            r"scenario 'teacher_inference' pays for the teacher's logits.*by its loss only",
        ),
        ({"compute_ranges": (1e18, 1e20)}, TypeError, "Did you mean 'compute_range'"),
    ],
)
def test_crossover_errors(paper_fit, kwargs, error, match):
    with pytest.raises(error, match=match):
        bd.crossover(paper_fit, **{"student_params": 1e9, **kwargs})


def test_crossover_rejects_other_fits():
    with pytest.raises(ValueError, match=r"crossover needs a fit of law distillation"):
        bd.crossover(ScalingFit.from_params("chinchilla", EPOCH), student_params=1e9)
    with pytest.raises(TypeError, match="needs a ScalingFit"):
        bd.crossover("models/distillation.nc", student_params=1e9)


# --------------------------------------------------------------------------------------------
# distill_or_train: the data of the distil-or-train map


def paper_gap(scenario: str, C: float, N_S: float) -> float:
    """The paper's best distilled student (SLSQP) minus the supervised one, in nats/token."""
    supervised = laws.supervised_loss(N_S, C / (3 * forward_flops(N_S)), **PAPER_SUPERVISED)
    return paper_optimum(scenario, C, N_S)["loss"] - float(supervised)


@pytest.mark.parametrize(
    ("scenario", "N_S", "budgets"),
    [
        ("best_case", 1e9, [1e21, 1e22, 3e22, 1e23]),
        ("teacher_pretraining", 3e8, [1e21, 1e22, 1e23, 1e24]),
    ],
)
def test_distill_or_train_paper_answer_matches_slsqp(paper_fit, scenario, N_S, budgets):
    """Cells on both sides of the paper's boundary: the map's gap under the paper's
    coefficients is SLSQP's, and distillation is better exactly where the gap is negative."""
    grid = bd.distill_or_train(paper_fit, scenario, student_params=[N_S], compute=budgets)
    assert grid["compute"].tolist() == budgets
    ref = np.array([paper_gap(scenario, C, N_S) for C in budgets])
    assert np.any(ref < 0) and np.any(ref > 0), "the cells straddle the boundary"
    np.testing.assert_allclose(grid["paper_gap"], ref, atol=2e-5)
    assert grid["paper_distill"].tolist() == (ref < 0).tolist()
    # the paper's point fit as the posterior: one draw, P is 0 or 1 on the same side
    assert grid["p_distillation_better"].tolist() == (ref < 0).astype(float).tolist()
    np.testing.assert_allclose(grid["gap_median"], grid["paper_gap"], atol=1e-12)


def test_distill_or_train_boundary_brackets_the_slsqp_root(paper_fit):
    """The P = 0.5 boundary of the paper's point fit for a student of 1e9 parameters in the
    best case lies between the map's budgets where P flips, where brentq on SLSQP's gap puts
    it."""
    budgets = np.geomspace(1e20, 1e24, 9)
    grid = bd.distill_or_train(paper_fit, "best_case", student_params=[1e9], compute=budgets)
    p = grid["p_distillation_better"].to_numpy()
    flips = np.flatnonzero(np.diff(p) != 0)
    assert flips.size == 1
    i = int(flips[0])
    root = optimize.brentq(lambda x: paper_gap("best_case", 10.0**x, 1e9), 20.0, 24.0, xtol=1e-6)
    assert budgets[i] < 10.0**root < budgets[i + 1]


def test_distill_or_train_summarises_the_draws(jitter_fit):
    sizes, budgets = [1e8, 1e9, 1e10], [1e15, 1e20, 1e22, 1e24]
    grid = bd.distill_or_train(
        jitter_fit, "teacher_pretraining", student_params=sizes[::-1], compute=budgets
    )
    assert len(grid) == 12
    assert grid["student_params"].tolist() == np.repeat(sizes, 4).tolist()  # sorted, tidy
    assert grid["compute"].tolist() == budgets * 3
    tokens = grid["compute"] / (3 * forward_flops(grid["student_params"].to_numpy()))
    np.testing.assert_allclose(grid["supervised_tokens_per_param"], tokens / grid["student_params"])
    assert grid.attrs["scenario"] == "teacher_pretraining"
    assert grid.attrs["draws_used"] == jitter_fit.n_samples
    # 1e15 FLOPs trains none of these students: those cells are empty, not an error
    empty = grid[grid["compute"] == 1e15]
    assert (empty["n_draws"] == 0).all() and empty["p_distillation_better"].isna().all()
    full = grid[grid["compute"] > 1e15]
    assert (full["n_draws"] == jitter_fit.n_samples).all()
    p, by_margin = full["p_distillation_better"], full["p_distillation_better_by_margin"]
    assert ((p >= 0) & (p <= 1)).all() and (by_margin <= p).all()
    assert (full["gap_lower"] <= full["gap_median"]).all()
    assert (full["gap_median"] <= full["gap_upper"]).all()
    # the median gap is below zero exactly where most draws distil
    clear = (p - 0.5).abs() > 0.05
    assert ((full["gap_median"] < 0) == (p > 0.5))[clear].all()
    np.testing.assert_allclose(
        full["gap_median"],
        full["distilled_loss_median"] - full["supervised_loss_median"],
        atol=0.02,
    )
    # thinning keeps evenly spaced draws
    thin = bd.distill_or_train(
        jitter_fit, "best_case", student_params=[1e9], compute=[1e22], max_draws=50
    )
    assert thin.attrs["draws_used"] == 50 and thin["n_draws"].iloc[0] == 50


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scenario": "free_lunch"}, ValueError, "Unknown scenario"),
        ({"max_draws": 0}, ValueError, "max_draws must be a positive integer"),
        ({"compute": [0.0]}, ValueError, "compute must be finite and positive"),
        ({"student_params": [1e20]}, ValueError, "outside the bounds on parameters"),
        ({"ci_prob": 1.5}, ValueError, "ci_prob must be"),
        ({"max_draw": 5}, TypeError, "Did you mean 'max_draws'"),
    ],
)
def test_distill_or_train_errors(paper_fit, kwargs, error, match):
    base = {"student_params": [1e9], "compute": [1e21]}
    with pytest.raises(error, match=match):
        bd.distill_or_train(paper_fit, **{**base, **kwargs})
    with pytest.raises(ValueError, match="distill_or_train needs a fit of law distillation"):
        bd.distill_or_train(ScalingFit.from_params("chinchilla", EPOCH), **base)
