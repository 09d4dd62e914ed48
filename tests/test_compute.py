"""Tests of compute accounting against the paper (Busbridge et al. 2025, Eq. 9, App. H, Table 13).

The oracles are written out here, independently of ``bayes_distill.compute``: the architecture
constants come from omega and rho, and the scenario deltas from the paper's Eq. 9 and Appendix H.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayes_distill as bd
from bayes_distill import compute

# --- independent oracle (paper Eq. 9, Appendix H) ---------------------------------------------

OMEGA = 12.0
RHO = 128.0  # d_model / n_layers
SIGMA1 = (RHO * OMEGA**2) ** (-1.0 / 3.0)
SIGMA2 = (RHO / OMEGA) ** (1.0 / 3.0)
N_CTX = 4096
N_VOCAB = 32168

#: scenario -> (delta_logits, delta_pretrain), as in the paper's Eq. 9 and Appendix H.
DELTAS = {
    "best_case": (0, 0),
    "teacher_inference": (1, 0),
    "teacher_pretraining": (0, 1),
    "pretraining_and_inference": (1, 1),
}
ALL_SCENARIOS = ("supervised", *DELTAS)


def oracle_forward(N):
    N = np.asarray(N, dtype=float)
    return 2 * N * (1 + SIGMA1 * N_CTX * N ** (-1 / 3) + SIGMA2 * N_VOCAB * N ** (-2 / 3))


def oracle_total(N_S, D_S, N_T, D_T, scenario):
    student = 3 * oracle_forward(N_S) * D_S
    d_logits, d_pretrain = DELTAS.get(scenario, (0, 0))
    if (d_logits, d_pretrain) == (0, 0):  # supervised, best_case: the teacher is free
        return student
    return student + oracle_forward(N_T) * (d_logits * D_S + d_pretrain * 3 * D_T)


# A 1B student distilled on 20B tokens from a 7B teacher pretrained on 140B tokens.
RUN = {"N_S": 1e9, "D_S": 2e10, "N_T": 7e9, "D_T": 1.4e11}


# --- F(N) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("N", "expected"),
    [(102.8e6, 0.3398e9), (546e6, 1.415e9), (7.747e9, 16.99e9), (12.61e9, 27.23e9)],
    ids=["102.8M", "546M", "7.747B", "12.61B"],
)
def test_forward_flops_reproduces_paper_table_13(N, expected):
    got = compute.forward_flops(N)
    assert abs(got / expected - 1) < 2e-3, f"F({N:.4g}) = {got:.5g}, paper: {expected:.5g}"


def test_architecture_constants_match_design():
    assert compute.SIGMA1 == pytest.approx(0.037857, abs=5e-7)
    assert compute.SIGMA2 == pytest.approx(2.2013, abs=5e-5)
    assert compute.SIGMA1 == pytest.approx(SIGMA1, rel=1e-14)
    assert compute.SIGMA2 == pytest.approx(SIGMA2, rel=1e-14)
    assert (compute.N_CTX, compute.N_VOCAB) == (4096, 32168)


def test_forward_flops_matches_formula_on_arrays():
    N = np.geomspace(1e6, 1e15, 37).reshape(37, 1)
    got = compute.forward_flops(N)
    assert isinstance(got, np.ndarray)
    assert got.shape == N.shape
    np.testing.assert_allclose(got, oracle_forward(N), rtol=1e-13)


def test_forward_flops_scalar_in_float_out():
    assert isinstance(compute.forward_flops(1e9), float)
    assert isinstance(compute.forward_flops(1e9, approx="2N"), float)


def test_forward_flops_2n_option_is_2n_and_40_percent_low_at_100m():
    N = np.array([1e6, 1e8, 7.75e9, 1e15])
    np.testing.assert_array_equal(compute.forward_flops(N, approx="2N"), 2 * N)
    shortfall = 1 - compute.forward_flops(100e6, approx="2N") / compute.forward_flops(100e6)
    assert shortfall == pytest.approx(0.40, abs=0.02)
    # The 6ND rule becomes accurate only for large models.
    big = 1 - compute.forward_flops(1e13, approx="2N") / compute.forward_flops(1e13)
    assert 0 < big < 0.02


def test_forward_flops_context_and_vocab_are_used():
    base = compute.forward_flops(1e9)
    assert compute.forward_flops(1e9, n_ctx=8192) > base
    assert compute.forward_flops(1e9, n_vocab=256_000) > base
    expected = 2e9 * (1 + SIGMA1 * 2048 * 1e9 ** (-1 / 3) + SIGMA2 * 50_000 * 1e9 ** (-2 / 3))
    assert compute.forward_flops(1e9, n_ctx=2048, n_vocab=50_000) == pytest.approx(
        expected, rel=1e-13
    )


# --- scenario FLOPs --------------------------------------------------------------------------


def test_scenarios_table_matches_design():
    assert compute.SCENARIOS == DELTAS


@pytest.mark.parametrize("approx", ["paper", "2N"])
@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_total_flops_matches_eq_9(scenario, approx):
    got = compute.total_flops(**RUN, scenario=scenario, approx=approx)
    if approx == "paper":
        expected = oracle_total(**RUN, scenario=scenario)
    else:
        N_S, D_S, N_T, D_T = RUN.values()
        d_logits, d_pretrain = DELTAS.get(scenario, (0, 0))
        expected = 6 * N_S * D_S + 2 * N_T * (d_logits * D_S + d_pretrain * 3 * D_T)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-13)


def test_total_flops_worked_example_by_hand():
    # pretraining_and_inference, 2N approximation: 6 N_S D_S + 2 N_T D_S + 6 N_T D_T.
    got = compute.total_flops(
        1e9, 2e10, N_T=7e9, D_T=1.4e11, scenario="pretraining_and_inference", approx="2N"
    )
    assert got == pytest.approx(1.2e20 + 2.8e20 + 5.88e21, rel=1e-14)


def test_total_flops_supervised_is_the_default_and_ignores_teacher():
    assert compute.total_flops(1e9, 2e10) == pytest.approx(3 * oracle_forward(1e9) * 2e10)
    assert compute.total_flops(1e9, 2e10, N_T=7e9, D_T=1e12) == compute.total_flops(1e9, 2e10)
    # best_case: the teacher is free.
    assert compute.total_flops(**RUN, scenario="best_case") == compute.total_flops(1e9, 2e10)


def test_total_flops_orders_scenarios():
    c = {s: compute.total_flops(**RUN, scenario=s) for s in ALL_SCENARIOS}
    assert c["supervised"] == c["best_case"] < c["teacher_inference"]
    assert c["teacher_inference"] < c["pretraining_and_inference"]
    assert c["best_case"] < c["teacher_pretraining"] < c["pretraining_and_inference"]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_total_flops_broadcasts_over_arrays(scenario):
    D_S = np.geomspace(1e9, 1e12, 5)
    N_T = np.array([[1e9], [7e9], [7e10]])
    got = compute.total_flops(1e9, D_S, N_T=N_T, D_T=1e12, scenario=scenario)
    expected = oracle_total(1e9, D_S, N_T, 1e12, scenario)
    # The teacher's size enters (and broadcasts) only when the scenario pays for the teacher.
    assert expected.shape == ((5,) if DELTAS.get(scenario, (0, 0)) == (0, 0) else (3, 5))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("approx", ["paper", "2N"])
@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_flops_by_phase_sums_to_total(scenario, approx):
    phases = compute.flops_by_phase(**RUN, scenario=scenario, approx=approx)
    assert set(phases) == {"student", "teacher_logits", "teacher_pretraining"}
    total = compute.total_flops(**RUN, scenario=scenario, approx=approx)
    assert sum(phases.values()) == pytest.approx(total, rel=1e-14)


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_flops_by_phase_values(scenario):
    phases = compute.flops_by_phase(**RUN, scenario=scenario)
    d_logits, d_pretrain = DELTAS.get(scenario, (0, 0))
    f_t = oracle_forward(RUN["N_T"])
    assert phases["student"] == pytest.approx(3 * oracle_forward(1e9) * RUN["D_S"], rel=1e-13)
    assert phases["teacher_logits"] == pytest.approx(d_logits * f_t * RUN["D_S"], rel=1e-13)
    assert phases["teacher_pretraining"] == pytest.approx(
        d_pretrain * 3 * f_t * RUN["D_T"], rel=1e-13
    )


# --- budget -> tokens ------------------------------------------------------------------------


@pytest.mark.parametrize("approx", ["paper", "2N"])
@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
@pytest.mark.parametrize("budget", [1e21, 3e22, 1e25])
def test_student_tokens_inverts_total_flops(scenario, budget, approx):
    teacher = {"N_T": 7e9, "D_T": 1e10}  # pretraining it costs ~4e20 FLOPs
    D_S = compute.student_tokens(budget, 1e9, **teacher, scenario=scenario, approx=approx)
    assert D_S > 0
    back = compute.total_flops(1e9, D_S, **teacher, scenario=scenario, approx=approx)
    assert back == pytest.approx(budget, rel=1e-12)


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_tokens_to_budget_to_tokens(scenario):
    C = compute.total_flops(**RUN, scenario=scenario)
    D_S = compute.student_tokens(C, RUN["N_S"], N_T=RUN["N_T"], D_T=RUN["D_T"], scenario=scenario)
    assert D_S == pytest.approx(RUN["D_S"], rel=1e-12)


def test_student_tokens_is_vectorised():
    budgets = np.array([1e22, 1e23, 1e24])
    N_T = np.array([[3e9], [7e9]])
    D_S = compute.student_tokens(budgets, 1e9, N_T=N_T, D_T=1e11, scenario="teacher_pretraining")
    assert D_S.shape == (2, 3)
    back = compute.total_flops(1e9, D_S, N_T=N_T, D_T=1e11, scenario="teacher_pretraining")
    np.testing.assert_allclose(back, np.broadcast_to(budgets, (2, 3)), rtol=1e-12)


def test_student_tokens_not_positive_when_teacher_exceeds_budget():
    teacher_cost = 3 * oracle_forward(7e9) * 1e12
    D_S = compute.student_tokens(
        teacher_cost / 2, 1e9, N_T=7e9, D_T=1e12, scenario="teacher_pretraining"
    )
    assert D_S < 0


def test_supervised_tokens_is_c_over_3f():
    assert compute.supervised_tokens(1e22, 1e9) == pytest.approx(
        1e22 / (3 * oracle_forward(1e9)), rel=1e-13
    )
    assert compute.supervised_tokens(6e21, 1e9, approx="2N") == pytest.approx(1e12, rel=1e-14)
    assert compute.student_tokens(1e22, 1e9) == compute.supervised_tokens(1e22, 1e9)


# --- a teacher shared by several students ---------------------------------------------------


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
@pytest.mark.parametrize("k", [1, 3, 16])
def test_shared_teacher_charges_one_kth_of_its_pretraining(scenario, k):
    phases = compute.flops_by_phase(**RUN, scenario=scenario, n_students=k)
    d_logits, d_pretrain = DELTAS.get(scenario, (0, 0))
    f_t = oracle_forward(RUN["N_T"])
    # pretraining divided among the k students; logits paid per student, whatever k
    assert phases["teacher_pretraining"] == pytest.approx(
        d_pretrain * 3 * f_t * RUN["D_T"] / k, rel=1e-13
    )
    assert phases["teacher_logits"] == pytest.approx(d_logits * f_t * RUN["D_S"], rel=1e-13)
    total = compute.total_flops(**RUN, scenario=scenario, n_students=k)
    assert total == pytest.approx(sum(phases.values()), rel=1e-14)
    # the budget that total costs buys the same student tokens back
    D_S = compute.student_tokens(
        total, RUN["N_S"], N_T=RUN["N_T"], D_T=RUN["D_T"], scenario=scenario, n_students=k
    )
    assert D_S == pytest.approx(RUN["D_S"], rel=1e-12)


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_one_student_is_the_default_accounting(scenario):
    kw = {"scenario": scenario}
    assert compute.total_flops(**RUN, **kw, n_students=1) == compute.total_flops(**RUN, **kw)
    one = compute.flops_by_phase(**RUN, **kw, n_students=1)
    assert one == compute.flops_by_phase(**RUN, **kw)
    tokens = compute.student_tokens(3e22, 1e9, N_T=7e9, D_T=1e11, **kw, n_students=1)
    assert tokens == compute.student_tokens(3e22, 1e9, N_T=7e9, D_T=1e11, **kw)


def test_shared_teacher_leaves_more_tokens_for_the_student():
    teacher = {"N_T": 7e9, "D_T": 1e12}
    tokens = [
        compute.student_tokens(1e23, 1e9, **teacher, scenario="teacher_pretraining", n_students=k)
        for k in (1, 2, 8, 10**6)
    ]
    assert np.all(np.diff(tokens) > 0)
    # a teacher shared by very many students is nearly free
    assert tokens[-1] == pytest.approx(compute.supervised_tokens(1e23, 1e9), rel=1e-5)


@pytest.mark.parametrize("func", ["total_flops", "flops_by_phase", "student_tokens"])
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"^n_students must be an integer >= 1, got 0; "),
        (-2, ValueError, r"^n_students must be an integer >= 1, got -2"),
        (1.5, TypeError, r"^n_students must be an integer >= 1, got 1\.5 \(float\)"),
        (False, TypeError, r"^n_students must be an integer >= 1, got False \(bool\)"),
    ],
)
@pytest.mark.parametrize("scenario", ["supervised", "teacher_pretraining"])
def test_n_students_is_checked(func, value, error, match, scenario):
    args = (1e22, 1e9) if func == "student_tokens" else (1e9, 2e10)
    with pytest.raises(error, match=match):
        getattr(compute, func)(*args, N_T=7e9, D_T=1e11, scenario=scenario, n_students=value)


def test_check_n_students():
    assert compute.check_n_students(np.int32(5)) == 5
    assert type(compute.check_n_students(np.int32(5))) is int
    with pytest.raises(TypeError, match=r"e\.g\. n_students=8"):
        compute.check_n_students("8")


# --- user errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("func", ["total_flops", "flops_by_phase", "student_tokens"])
def test_unknown_scenario_lists_valid_names(func):
    args = (1e22, 1e9) if func == "student_tokens" else (1e9, 2e10)
    with pytest.raises(ValueError, match=r"Unknown scenario 'teacher_only'") as info:
        getattr(compute, func)(*args, N_T=7e9, D_T=1e11, scenario="teacher_only")
    for name in ALL_SCENARIOS:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("scenario", "teacher", "missing"),
    [
        ("teacher_inference", {}, "N_T"),
        ("teacher_pretraining", {"D_T": 1e11}, "N_T"),
        ("teacher_pretraining", {"N_T": 7e9}, "D_T"),
        ("pretraining_and_inference", {"D_T": 1e11}, "N_T"),
        ("pretraining_and_inference", {"N_T": 7e9}, "D_T"),
    ],
)
@pytest.mark.parametrize("func", ["total_flops", "flops_by_phase"])
def test_missing_teacher_raises(func, scenario, teacher, missing):
    with pytest.raises(ValueError, match=rf"scenario '{scenario}'.*{missing} is required"):
        getattr(compute, func)(1e9, 2e10, **teacher, scenario=scenario)


def test_best_case_needs_no_teacher():
    assert compute.total_flops(1e9, 2e10, scenario="best_case") == compute.total_flops(1e9, 2e10)
    assert compute.student_tokens(1e22, 1e9, scenario="best_case") == pytest.approx(
        compute.supervised_tokens(1e22, 1e9)
    )


@pytest.mark.parametrize(
    ("scenario", "teacher", "missing"),
    [
        ("teacher_inference", {}, "N_T"),
        ("teacher_pretraining", {"N_T": 7e9}, "D_T"),
        ("pretraining_and_inference", {"N_T": 7e9}, "D_T"),
    ],
)
def test_student_tokens_missing_teacher_raises(scenario, teacher, missing):
    with pytest.raises(ValueError, match=rf"{missing} is required"):
        compute.student_tokens(1e22, 1e9, **teacher, scenario=scenario)


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, np.inf, [1e9, 0.0]])
def test_forward_flops_rejects_non_positive_n(bad):
    with pytest.raises(ValueError, match=r"^N must be finite and positive"):
        compute.forward_flops(bad)


def test_forward_flops_rejects_non_numbers():
    with pytest.raises(TypeError, match=r"^N must be a number"):
        compute.forward_flops("a lot")


def test_forward_flops_rejects_unknown_approx():
    with pytest.raises(ValueError, match=r"approx must be 'paper' or '2N', got '6ND'"):
        compute.forward_flops(1e9, approx="6ND")


@pytest.mark.parametrize(
    ("arg", "kwargs"),
    [
        ("D_S", {"N_S": 1e9, "D_S": -2e10, "N_T": 7e9, "D_T": 1e11}),
        ("D_T", {"N_S": 1e9, "D_S": 2e10, "N_T": 7e9, "D_T": 0.0}),
        ("N_S", {"N_S": 0.0, "D_S": 2e10, "N_T": 7e9, "D_T": 1e11}),
        ("N_T", {"N_S": 1e9, "D_S": 2e10, "N_T": -7e9, "D_T": 1e11}),
    ],
)
def test_total_flops_error_names_the_argument(arg, kwargs):
    N_S, D_S = kwargs.pop("N_S"), kwargs.pop("D_S")
    with pytest.raises(ValueError, match=rf"^{arg} must be finite and positive"):
        compute.total_flops(N_S, D_S, **kwargs, scenario="pretraining_and_inference")


def test_compute_budget_must_be_positive():
    with pytest.raises(ValueError, match=r"^compute must be finite and positive"):
        compute.student_tokens(-1e22, 1e9, N_T=7e9, D_T=1e11, scenario="teacher_pretraining")
    with pytest.raises(ValueError, match=r"^compute must be finite and positive"):
        compute.supervised_tokens(0.0, 1e9)


def test_public_api_reaches_compute():
    assert bd.compute.forward_flops is compute.forward_flops
    assert bd.compute.total_flops is compute.total_flops
