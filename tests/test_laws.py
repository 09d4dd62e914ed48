"""Tests of the scaling laws against published numbers and naive transcriptions of the papers.

References: Busbridge et al. (2025), "Distillation Scaling Laws", Eq. 1, Eq. 8 and Table 6;
Hoffmann et al. (2022) Approach 3 as replicated by Besiroglu et al. (2024, Epoch AI).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import bayes_distill as bd
from bayes_distill import laws

# --- reference values (the papers' tables) ---------------------------------------------------

#: Busbridge et al. (2025) Table 6, typed in from the paper independently of ``laws.PAPER``.
TABLE_6 = {
    "E": 1.220,
    "A": 3355.0,
    "B": 18186.0,
    "alpha": 0.408,
    "beta": 0.431,
    "gamma": 0.452,
    "A_prime": 2243.0,
    "B_prime": 24181.0,
    "alpha_prime": 0.321,
    "beta_prime": 0.637,
    "gamma_prime": 0.764,
    "c0": 2.549,
    "c1": 522.6,
    "f1": 0.090,
    "d1": 1.315,
}
SUPERVISED_KEYS = ("E", "A", "B", "alpha", "beta", "gamma")
PAPER_SUPERVISED = {k: laws.PAPER[k] for k in SUPERVISED_KEYS}

#: Epoch AI's plain Huber point fit of the Chinchilla law (Besiroglu et al. 2024).
EPOCH = {"E": 1.8172, "A": 477.4, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}

SUPERVISED_FITS = {
    "paper-supervised": PAPER_SUPERVISED,
    "epoch-chinchilla": {**EPOCH, "gamma": 1.0},
}


def naive_supervised(N, D, *, E, A, B, alpha, beta, gamma=1.0):
    """Paper Eq. 1, transcribed literally."""
    return E + (A / N**alpha + B / D**beta) ** gamma


def naive_distillation(N_S, D_S, L_T, p):
    """Paper Eq. 8, transcribed literally in natural form."""
    Lt_S = naive_supervised(N_S, D_S, **{k: p[k] for k in SUPERVISED_KEYS})
    return (
        L_T
        + L_T ** (-p["c0"])
        * (1 + (L_T / (p["d1"] * Lt_S)) ** (1 / p["f1"])) ** (-p["c1"] * p["f1"])
        * (p["A_prime"] / N_S ** p["alpha_prime"] + p["B_prime"] / D_S ** p["beta_prime"])
        ** p["gamma_prime"]
    )


# --- strategies ------------------------------------------------------------------------------

log10_N = st.floats(6.0, 15.0)
log10_D = st.floats(6.0, 17.0)


def _pos(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


NATURAL = {
    "E": _pos(0.5, 5.0),
    "A": _pos(1.0, 1e6),
    "B": _pos(1.0, 1e7),
    "alpha": _pos(0.05, 1.0),
    "beta": _pos(0.05, 1.0),
    "gamma": _pos(0.1, 2.0),
    "A_prime": _pos(1.0, 1e6),
    "B_prime": _pos(1.0, 1e7),
    "alpha_prime": _pos(0.05, 1.0),
    "beta_prime": _pos(0.05, 1.0),
    "gamma_prime": _pos(0.1, 2.0),
    "c0": _pos(0.0, 5.0),
    "c1": _pos(1.0, 1000.0),
    "f1": _pos(0.01, 1.0),
    "d1": _pos(0.5, 3.0),
}


def natural_params(law):
    return st.fixed_dictionaries({k: NATURAL[k] for k in laws.PARAM_NAMES[law]})


# --- structure and published values ----------------------------------------------------------


def test_paper_holds_table_6():
    assert laws.PAPER == TABLE_6


def test_param_names():
    assert laws.PARAM_NAMES["chinchilla"] == ("E", "A", "B", "alpha", "beta")
    assert laws.PARAM_NAMES["supervised"] == SUPERVISED_KEYS
    assert set(laws.PARAM_NAMES["distillation"]) == set(TABLE_6)
    for law in laws.LAWS:
        assert len(laws.SAMPLED_NAMES[law]) == len(laws.PARAM_NAMES[law])


@pytest.mark.parametrize(
    ("N", "D", "expected"), [(7.75e9, 512e9, 1.933), (12.6e9, 512e9, 1.894)], ids=["7.75B", "12.6B"]
)
def test_supervised_law_reproduces_paper(N, D, expected):
    got = float(bd.laws.supervised_loss(N, D, **PAPER_SUPERVISED))
    assert got == pytest.approx(expected, abs=3e-3)


def test_supervised_law_needs_the_paper_gamma():
    # The regression numbers come from the gamma = 0.452 law, not the Chinchilla (gamma = 1) one.
    chinchilla = float(laws.supervised_loss(7.75e9, 512e9, **{**PAPER_SUPERVISED, "gamma": 1.0}))
    assert abs(chinchilla - 1.933) > 0.1


def test_chinchilla_law_with_epoch_fit_is_e_plus_power_laws():
    N = np.geomspace(7e7, 1.6e10, 9)[:, None]
    D = np.geomspace(5e9, 5e11, 7)[None, :]
    expected = EPOCH["E"] + EPOCH["A"] / N ** EPOCH["alpha"] + EPOCH["B"] / D ** EPOCH["beta"]
    got = laws.supervised_loss(N, D, **EPOCH)  # gamma defaults to 1: the Chinchilla law
    assert got.shape == (9, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(laws.supervised_loss(N, D, **EPOCH, gamma=1.0), expected, rtol=1e-12)


def test_chinchilla_log_form_default_gamma_is_one():
    s = laws.to_sampled("chinchilla", EPOCH)
    log_N, log_D = np.log(1e9), np.log(2e10)
    got = np.exp(laws.log_supervised(laws.NUMPY, log_N, log_D, **s))
    assert got == pytest.approx(naive_supervised(1e9, 2e10, **EPOCH), rel=1e-12)


@given(log10_N, log10_D)
def test_supervised_law_equals_eq_1(lg_N, lg_D):
    N, D = 10.0**lg_N, 10.0**lg_D
    for p in SUPERVISED_FITS.values():
        assert float(laws.supervised_loss(N, D, **p)) == pytest.approx(
            naive_supervised(N, D, **p), rel=1e-12
        )


def test_supervised_law_broadcasts_over_draws():
    # Parameters as posterior draws (draws, 1) against a grid of N (1, n).
    draws = {k: np.full((4, 1), v) for k, v in PAPER_SUPERVISED.items()}
    draws["E"] = np.linspace(1.1, 1.4, 4)[:, None]
    N = np.geomspace(1e8, 1e11, 6)
    got = laws.supervised_loss(N, 1e12, **draws)
    assert got.shape == (4, 6)
    np.testing.assert_allclose(
        got[2], laws.supervised_loss(N, 1e12, **{**PAPER_SUPERVISED, "E": 1.3})
    )


# --- distillation law ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("N_S", "D_S", "L_T"),
    [(1e8, 2e9, 2.0), (1e9, 2e10, 2.3), (3e9, 1e11, 1.8), (5e8, 1e12, 3.0), (2e9, 5e10, 2.6)],
)
def test_distillation_law_equals_naive_eq_8(N_S, D_S, L_T):
    got = float(laws.distillation_loss(N_S, D_S, L_T, **laws.PAPER))
    assert got == pytest.approx(naive_distillation(N_S, D_S, L_T, laws.PAPER), rel=1e-10)


@given(
    N_S=st.floats(7.0, 10.5),
    D_S=st.floats(8.0, 12.0),
    L_T=st.floats(1.3, 4.0),
    p=natural_params("distillation"),
)
def test_distillation_law_equals_naive_eq_8_random_params(N_S, D_S, L_T, p):
    N_S, D_S = 10.0**N_S, 10.0**D_S
    expected = naive_distillation(N_S, D_S, L_T, p)
    assume(np.isfinite(expected))
    got = float(laws.distillation_loss(N_S, D_S, L_T, **p))
    assert got == pytest.approx(expected, rel=1e-10)


def test_distillation_tends_to_teacher_as_student_grows():
    L_T = 2.0
    N_S = np.geomspace(1e7, 1e16, 19)
    gaps = laws.distillation_loss(N_S, 100 * N_S, L_T, **laws.PAPER) - L_T
    assert gaps[0] > 0.1
    # The gap shrinks, strictly while it is resolvable, and vanishes for a huge student.
    resolvable = gaps[:-1] > 1e-12
    assert resolvable[:5].all()
    assert np.all(np.diff(gaps)[resolvable] < 0)
    assert np.all(np.diff(gaps) <= 1e-14)
    np.testing.assert_allclose(gaps[-3:], 0.0, atol=1e-12)


def test_distillation_tends_to_teacher_as_teacher_loss_grows():
    L_T = np.array([1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 100.0])
    L_S = laws.distillation_loss(1e9, 2e10, L_T, **laws.PAPER)
    rel_gap = (L_S - L_T) / L_T
    assert rel_gap[0] > 0.1
    np.testing.assert_allclose(rel_gap[-3:], 0.0, atol=1e-12)
    assert np.all(np.diff(rel_gap[:-2]) < 0)


@pytest.mark.parametrize(
    ("N_S", "D_S"), [(1e7, 1e8), (1e8, 2e9), (1e9, 2e10), (3e9, 1e11), (1e12, 1e14)]
)
def test_capacity_gap_interior_minimum_in_teacher_loss(N_S, D_S):
    L_T = np.geomspace(1.0, 20.0, 400)
    L_S = laws.distillation_loss(N_S, D_S, L_T, **laws.PAPER)
    i = int(np.argmin(L_S))
    assert 0 < i < len(L_T) - 1, f"minimum at the edge of the grid: L_T = {L_T[i]}"
    # A genuine U: clearly worse with a much stronger teacher and with a much weaker one.
    assert L_S[0] > L_S[i] + 1e-3
    assert L_S[-1] > L_S[i] + 1e-3


@given(N_S=log10_N, D_S=log10_D, L_T=st.floats(0.5, 50.0))
def test_distillation_never_below_teacher(N_S, D_S, L_T):
    L_S = float(laws.distillation_loss(10.0**N_S, 10.0**D_S, L_T, **laws.PAPER))
    assert np.isfinite(L_S)
    # exp(log(L_T)) may differ from L_T by an ulp or two.
    assert L_S >= L_T * (1 - 1e-14)


def test_distillation_law_broadcasts_over_draws():
    p = {k: np.full((3, 1), v) for k, v in laws.PAPER.items()}
    p["d1"] = np.array([[1.0], [1.315], [2.0]])
    got = laws.distillation_loss(1e9, 2e10, np.linspace(1.5, 3.0, 5), **p)
    assert got.shape == (3, 5)
    ref = laws.distillation_loss(1e9, 2e10, np.linspace(1.5, 3.0, 5), **laws.PAPER)
    np.testing.assert_allclose(got[1], ref, rtol=1e-14)


# --- monotonicity (hypothesis) ---------------------------------------------------------------


def _ordered_pair(lo, hi):
    """Two values lo <= x1 < x2 <= hi at least 0.01 decades apart."""
    return (
        st.tuples(st.floats(lo, hi), st.floats(lo, hi))
        .filter(lambda t: abs(t[0] - t[1]) >= 0.01)
        .map(sorted)
    )


@pytest.mark.parametrize("fit", list(SUPERVISED_FITS))
@given(N=_ordered_pair(6.0, 15.0), lg_D=log10_D)
def test_supervised_law_decreases_in_N(fit, N, lg_D):
    p = SUPERVISED_FITS[fit]
    L1, L2 = laws.supervised_loss(10.0 ** np.array(N), 10.0**lg_D, **p)
    assert np.isfinite(L1) and np.isfinite(L2)
    assert L1 > L2 > p["E"] > 0


@pytest.mark.parametrize("fit", list(SUPERVISED_FITS))
@given(lg_N=log10_N, D=_ordered_pair(6.0, 17.0))
def test_supervised_law_decreases_in_D(fit, lg_N, D):
    p = SUPERVISED_FITS[fit]
    L1, L2 = laws.supervised_loss(10.0**lg_N, 10.0 ** np.array(D), **p)
    assert np.isfinite(L1) and np.isfinite(L2)
    assert L1 > L2 > p["E"] > 0


def _check_decreasing(L1, L2, L_T):
    assert np.isfinite(L1) and np.isfinite(L2) and L2 > 0
    assert L2 <= L1 * (1 + 1e-14)
    if L1 - L_T > 1e-6 * L_T:  # not saturated at the teacher: strictly better
        assert L2 < L1


@given(N_S=_ordered_pair(6.0, 15.0), lg_D=log10_D, L_T=st.floats(1.0, 10.0))
def test_distillation_law_decreases_in_N_S(N_S, lg_D, L_T):
    L1, L2 = laws.distillation_loss(10.0 ** np.array(N_S), 10.0**lg_D, L_T, **laws.PAPER)
    _check_decreasing(L1, L2, L_T)


@given(lg_N=log10_N, D_S=_ordered_pair(6.0, 17.0), L_T=st.floats(1.0, 10.0))
def test_distillation_law_decreases_in_D_S(lg_N, D_S, L_T):
    L1, L2 = laws.distillation_loss(10.0**lg_N, 10.0 ** np.array(D_S), L_T, **laws.PAPER)
    _check_decreasing(L1, L2, L_T)


# --- parameter transforms --------------------------------------------------------------------


@pytest.mark.parametrize("law", laws.LAWS)
@given(data=st.data())
def test_to_sampled_to_natural_round_trip(law, data):
    natural = data.draw(natural_params(law))
    sampled = laws.to_sampled(law, natural)
    assert tuple(sampled) == laws.SAMPLED_NAMES[law]
    back = laws.to_natural(law, sampled)
    assert set(back) == set(laws.PARAM_NAMES[law])
    for k, v in natural.items():
        assert back[k] == pytest.approx(v, rel=1e-10, abs=0 if v else 1e-300), k


@pytest.mark.parametrize("law", laws.LAWS)
@given(data=st.data())
def test_to_natural_to_sampled_round_trip(law, data):
    sampled = laws.to_sampled(law, data.draw(natural_params(law)))
    again = laws.to_sampled(law, laws.to_natural(law, sampled))
    for k, v in sampled.items():
        assert again[k] == pytest.approx(v, rel=1e-10, abs=1e-12), k


def test_sampled_amplitudes_are_log_terms_at_reference_scale():
    s = laws.to_sampled("distillation", laws.PAPER)
    P = laws.PAPER
    assert s["a"] == pytest.approx(np.log(P["A"] / laws.N0 ** P["alpha"]), rel=1e-12)
    assert s["b"] == pytest.approx(np.log(P["B"] / laws.D0 ** P["beta"]), rel=1e-12)
    assert s["kappa"] == pytest.approx(P["c1"] * P["f1"], rel=1e-14)
    assert s["inv_f1"] == pytest.approx(1 / P["f1"], rel=1e-14)
    assert s["log_d1"] == pytest.approx(np.log(P["d1"]), rel=1e-14)


def test_transforms_are_elementwise_and_do_not_mutate():
    natural = {k: np.array([v, 1.1 * v]) for k, v in laws.PAPER.items()}
    copy = {k: v.copy() for k, v in natural.items()}
    back = laws.to_natural("distillation", laws.to_sampled("distillation", natural))
    for k in natural:
        np.testing.assert_array_equal(natural[k], copy[k])
        np.testing.assert_allclose(back[k], natural[k], rtol=1e-12)


@pytest.mark.parametrize("func", [laws.to_sampled, laws.to_natural])
def test_unknown_law_lists_valid_laws(func):
    with pytest.raises(ValueError, match=r"Unknown law 'kaplan'") as info:
        func("kaplan", laws.PAPER)
    for law in laws.LAWS:
        assert repr(law) in str(info.value)


# --- NumPy and PyTensor agree ----------------------------------------------------------------

N_DRAWS = 64


def _graph_inputs(law):
    data = ("log_N", "log_D") if law != "distillation" else ("log_N", "log_D", "log_LT")
    return data + laws.SAMPLED_NAMES[law]


def _log_law(xp, law, v):
    """The log law of ``law`` on the values ``v`` (a mapping name -> array) in namespace ``xp``."""
    sup = {k: v[k] for k in laws.SAMPLED_NAMES["supervised" if law != "chinchilla" else law]}
    log_sup = laws.log_supervised(xp, v["log_N"], v["log_D"], **sup)
    if law != "distillation":
        return log_sup
    rest = {k: v[k] for k in laws.SAMPLED_NAMES["distillation"] if k not in sup}
    return laws.log_distillation(xp, v["log_N"], v["log_D"], v["log_LT"], log_LtS=log_sup, **rest)


@pytest.fixture(scope="module")
def compiled_laws():
    """One compiled PyTensor function per law, built with :func:`laws.pytensor_namespace`."""
    import pytensor
    import pytensor.tensor as pt

    xp = laws.pytensor_namespace()
    out = {}
    for law in laws.LAWS:
        names = _graph_inputs(law)
        inputs = {n: pt.dvector(n) for n in names}
        out[law] = pytensor.function([inputs[n] for n in names], _log_law(xp, law, inputs))
    return out


def _random_values(law, rng):
    natural = {
        k: v * np.exp(rng.normal(0.0, 0.1, N_DRAWS))
        for k, v in laws.PAPER.items()
        if k in laws.PARAM_NAMES[law]
    }
    values = laws.to_sampled(law, natural)
    values["log_N"] = rng.uniform(np.log(1e6), np.log(1e15), N_DRAWS)
    values["log_D"] = rng.uniform(np.log(1e6), np.log(1e17), N_DRAWS)
    if law == "distillation":
        values["log_LT"] = rng.uniform(np.log(1.0), np.log(10.0), N_DRAWS)
    return {k: np.asarray(v, dtype=float) for k, v in values.items()}


@pytest.mark.parametrize("law", laws.LAWS)
def test_numpy_and_pytensor_agree(law, compiled_laws):
    rng = np.random.default_rng(20250211)
    for _ in range(3):
        values = _random_values(law, rng)
        expected = _log_law(laws.NUMPY, law, values)
        got = compiled_laws[law](*(values[n] for n in _graph_inputs(law)))
        assert got.shape == (N_DRAWS,)
        np.testing.assert_allclose(np.exp(got), np.exp(expected), rtol=1e-10)


def test_numpy_log_form_matches_supervised_loss():
    rng = np.random.default_rng(1)
    values = _random_values("supervised", rng)
    natural = laws.to_natural("supervised", values)
    direct = laws.supervised_loss(np.exp(values["log_N"]), np.exp(values["log_D"]), **natural)
    np.testing.assert_allclose(
        np.exp(_log_law(laws.NUMPY, "supervised", values)), direct, rtol=1e-12
    )


# --- user errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.0, -7e9, np.nan, np.inf, [1e9, -1.0]])
@pytest.mark.parametrize("arg", ["N", "D"])
def test_supervised_loss_rejects_non_positive(arg, bad):
    args = {"N": 7.75e9, "D": 512e9, arg: bad}
    with pytest.raises(ValueError, match=rf"^{arg} must be finite and positive"):
        laws.supervised_loss(args["N"], args["D"], **PAPER_SUPERVISED)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
@pytest.mark.parametrize("arg", ["N_S", "D_S", "L_T"])
def test_distillation_loss_rejects_non_positive(arg, bad):
    args = {"N_S": 1e9, "D_S": 2e10, "L_T": 2.3, arg: bad}
    with pytest.raises(ValueError, match=rf"^{arg} must be finite and positive"):
        laws.distillation_loss(args["N_S"], args["D_S"], args["L_T"], **laws.PAPER)


def test_supervised_loss_does_not_mutate_inputs():
    N = np.array([1e8, 1e9])
    D = np.array([2e9, 2e10])
    laws.supervised_loss(N, D, **PAPER_SUPERVISED)
    np.testing.assert_array_equal(N, [1e8, 1e9])
    np.testing.assert_array_equal(D, [2e9, 2e10])


def test_distillation_student_term_computed_once_per_pair_is_the_same_law():
    """The model computes the student term and the student's supervised loss once per distinct
    (N_S, D_S) pair and gathers them per run; the result is the per-run law."""
    from bayes_distill import model

    runs = bd.datasets.load("distillation")
    inputs = model.prepare_inputs("distillation", runs)
    pair_NS, pair_DS, index = inputs.student_pairs
    assert len(pair_NS) == len(runs[["N_S", "D_S"]].drop_duplicates()) < len(runs)
    np.testing.assert_array_equal(pair_NS[index], inputs.x["log_NS"])
    np.testing.assert_array_equal(pair_DS[index], inputs.x["log_DS"])
    s = laws.to_sampled("distillation", laws.PAPER)
    sup = {k: s[k] for k in laws.SAMPLED_NAMES["supervised"]}
    dist = {k: s[k] for k in laws.SAMPLED_NAMES["distillation"] if k not in sup}
    x = inputs.x
    per_run = laws.log_distillation(
        laws.NUMPY, x["log_NS"], x["log_DS"], x["log_LT"],
        log_LtS=laws.log_supervised(laws.NUMPY, x["log_NS"], x["log_DS"], **sup), **dist,
    )  # fmt: skip
    gathered = laws.log_student_loss(
        laws.NUMPY, pair_NS, pair_DS, x["log_LT"], supervised=sup, distillation=dist, index=index
    )
    np.testing.assert_allclose(gathered, per_run, rtol=1e-14)
    per_run_assembled = laws.log_student_loss(
        laws.NUMPY, x["log_NS"], x["log_DS"], x["log_LT"], supervised=sup, distillation=dist
    )
    np.testing.assert_allclose(per_run_assembled, per_run, rtol=1e-14)
