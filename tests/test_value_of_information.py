"""Tests of ``bd.next_run`` (value of information) and its pieces, with independent oracles:
NumPy's quantiles, SciPy's densities and numerical integration, and brute-force reweighting."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayes_distill as bd
from bayes_distill import compute as C
from bayes_distill import outcome_refits
from bayes_distill import value_of_information as voi
from bayes_distill.cli import NEXT_RUN_SCHEMA, main
from bayes_distill.diagnostics import ConvergenceWarning

DECISION = {"compute": 1e22, "student_params": 5.46e8}
CANDIDATES = [
    {"kind": "supervised", "N": 1e9, "D": 2e10},
    {"N_S": 5.46e8, "D_S": 2e10, "N_T": 2.72e9, "L_T": 2.03},
    {"N_S": 1.43e8, "D_S": 3e9, "N_T": 1.82e9, "L_T": 2.08},
    {"N_S": 1e9, "D_S": 2e10, "N_T": 3e9, "D_T": 6e10, "name": "new teacher"},
]


@pytest.fixture(scope="module")
def shipped():
    return bd.datasets.fitted("distillation")


@pytest.fixture(scope="module")
def ranked(shipped):
    return bd.next_run(shipped, CANDIDATES, **DECISION, n_outcomes=8)


def _decisions(pred, q, loss=None):
    loss = pred if loss is None else loss
    return voi._Decisions(loss, pred, [f"d{k}" for k in range(pred.shape[1])], q, np.ones(1))


# ---- the weighted decision ------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.5, 0.9, 0.37])
def test_uniform_weights_give_numpy_hazen_quantiles(q):
    pred = np.random.default_rng(1).gamma(2.0, size=(101, 7))
    dec = _decisions(pred, q)
    expected = np.quantile(pred, q, axis=0, method="hazen")
    np.testing.assert_allclose(dec.quantiles(np.full(101, 1 / 101)), expected, rtol=1e-12)


def test_zero_weights_drop_draws():
    rng = np.random.default_rng(2)
    pred = rng.normal(size=(40, 5))
    keep = rng.random(40) < 0.5
    dec = _decisions(pred, 0.8)
    expected = np.quantile(pred[keep], 0.8, axis=0, method="hazen")
    np.testing.assert_allclose(dec.quantiles(keep / keep.sum()), expected, rtol=1e-12)


def test_weighted_quantile_is_not_biased_by_unequal_weights():
    """Random weights independent of the values: the weighted quantile stays centred on the
    quantile of equal weights (reading the first draw past q would be ~1/(2 ESS) too high)."""
    rng = np.random.default_rng(6)
    pred = rng.normal(size=(1000, 1))
    dec = _decisions(pred, 0.9)
    now = dec.quantiles(np.full(1000, 1e-3))[0]
    w = rng.exponential(size=(400, 1000)) ** 3  # ESS about a tenth of the draws
    w /= w.sum(axis=1, keepdims=True)
    after = np.array([dec.quantiles(wi)[0] for wi in w])
    assert abs(after.mean() - now) < 3 * after.std() / math.sqrt(len(after))


def test_value_matches_brute_force_reweighting():
    rng = np.random.default_rng(3)
    S, K, M = 300, 6, 5
    loss = 2 + 0.05 * rng.normal(size=(S, K))
    pred = loss * np.exp(0.01 * rng.normal(size=(S, 1)))
    w = rng.dirichlet(np.ones(S), size=M)
    dec = _decisions(pred, 0.9, loss)
    k0 = 2
    regret_cut, at_risk, chosen = voi._value(dec, w, k0)
    for m in range(M):  # brute force: sort, accumulate, pick, average
        q = []
        for k in range(K):
            order = np.argsort(pred[:, k])
            mid = np.cumsum(w[m][order]) - w[m][order] / 2
            q.append(np.interp(0.9, mid / w[m].sum(), pred[order, k]))
        k = int(np.argmin(q))
        assert chosen[m] == k and at_risk[m] == pytest.approx(min(q))
        exp_loss = (w[m][:, None] * loss).sum(axis=0)
        assert regret_cut[m] == pytest.approx(exp_loss[k0] - exp_loss[k])


# ---- the observation model of a new run ---------------------------------------------------


def test_supervised_loglik_integrates_a_new_size_offset(shipped):
    """At a size the fit has not seen the offset is integrated out (oracle: scipy.quad)."""
    N, D, y = 3.3e9, 7e10, np.array([0.70, 0.73])
    ll = voi.supervised_loglik(shipped, N, D, y)
    mu = shipped.log_supervised_mean(N, D)
    sigma = shipped.draws["sigma_supervised"][:, 0]
    tau = shipped.draws["tau_supervised_size"][:, 0]
    for s in (0, 1234, 7999):
        for m in range(2):

            def integrand(z, s=s, m=m):
                return stats.t.pdf(
                    y[m], df=4.0, loc=mu[s] + tau[s] * z, scale=sigma[s]
                ) * stats.norm.pdf(z)

            exact = integrate.quad(integrand, -10, 10, points=[0.0], limit=200)[0]
            assert ll[s, m] == pytest.approx(math.log(exact), abs=1e-6)


def test_supervised_loglik_uses_the_fitted_offset_at_a_fitted_size(shipped):
    N, D, y = 1.26e10, 5.12e11, np.array([math.log(1.9)])
    groups = shipped._inputs.supervised_groups
    g = int(np.argmin(np.abs(groups.keys - math.log(N))))
    loc = (
        shipped.log_supervised_mean(N, D)
        + shipped.draws["tau_supervised_size"][:, 0] * shipped.draws["z_supervised_size"][:, g]
    )
    expected = stats.t.logpdf(y[0], df=4.0, loc=loc, scale=shipped.draws["sigma_supervised"][:, 0])
    np.testing.assert_allclose(voi.supervised_loglik(shipped, N, D, y)[:, 0], expected)


def test_distillation_loglik_is_scipys_student_t(shipped):
    L_T, y = np.array([2.0, 2.4]), np.log([2.5, 2.6])
    mu, scale = voi._distillation_mean_scale(shipped, 5e8, 2e10, L_T)
    expected = stats.t.logpdf(y[None], df=4.0, loc=mu, scale=scale)
    np.testing.assert_allclose(voi.distillation_loglik(shipped, 5e8, 2e10, L_T, y), expected)


def test_psis_weights_follow_mild_likelihoods_and_flag_sharp_ones():
    rng = np.random.default_rng(4)
    mild = 0.1 * rng.normal(size=(4000, 2))
    w, k = voi.psis_weights(mild)
    exact = np.exp(mild - mild.max(axis=0)).T
    exact /= exact.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w, exact, rtol=0.05)
    assert np.all(k < voi.PARETO_K_THRESHOLD)
    # an outcome in the posterior's tail: weights grow over the draws (a heavy right tail)
    tail = -0.5 * ((rng.normal(size=(4000, 1)) - 4.0) / 0.5) ** 2
    assert voi.psis_weights(tail)[1][0] > voi.PARETO_K_THRESHOLD


# ---- next_run ---------------------------------------------------------------------------------


def test_uninformative_run_has_no_value():
    """Draws that share the supervised law: a supervised run cannot tell them apart, so every
    outcome leaves the weights uniform and the decision unchanged (exactly zero value)."""
    rng = np.random.default_rng(5)
    params = dict(bd.laws.PAPER)
    for k in ("A_prime", "B_prime", "c1"):
        params[k] = params[k] * np.exp(0.2 * rng.normal(size=200))
    fit = bd.ScalingFit.from_params("distillation", params, sigma=0.01)
    out = bd.next_run(fit, [{"kind": "supervised", "N": 1e9, "D": 2e10}], **DECISION, n_outcomes=6)
    row = out.iloc[0]
    assert row["regret_reduction"] == 0.0 and row["at_risk_reduction"] == pytest.approx(0.0)
    assert row["p_decision_changes"] == 0.0 and row["status"] == "importance sampling"


def test_next_run_table(ranked):
    assert list(ranked["rank"]) == [1, 2, 3, 4]
    assert set(ranked["status"]) <= {"importance sampling", "refit", "cannot tell"}
    np.testing.assert_array_equal(ranked["clear"], ranked["value"] > 2 * ranked["value_se"])
    _assert_ranking_rule(ranked)
    np.testing.assert_allclose(ranked["value"], ranked["regret_reduction"])
    np.testing.assert_allclose(ranked["value_per_flop"], ranked["value"] / ranked["flops"])
    unreliable = (ranked["pareto_k"] > voi.PARETO_K_THRESHOLD) | (ranked["min_ess"] < voi.MIN_ESS)
    assert np.all(unreliable == (ranked["status"] == "cannot tell"))
    assert np.all((ranked["share_unreliable"] > 0) == unreliable)
    assert ranked.attrs["n_draws"] == 8000 and ranked.attrs["n_outcomes"] == 8
    assert ranked.attrs["expected_regret"] >= 0 and ranked.attrs["objective"] == "regret"
    assert "new teacher" in set(ranked["name"])


def _assert_ranking_rule(table: pd.DataFrame) -> None:
    """Clear rows first by value per FLOP; then the other valued rows, then the ones that
    cannot tell, by the value per FLOP their error leaves possible; ties: the cheaper run."""
    group = np.where(table["status"] == "cannot tell", 2, np.where(table["clear"], 0, 1))
    assert list(group) == sorted(group)
    upper = (table["value"] + voi.CLEAR_SE * table["value_se"]) / table["flops"]
    key = np.where(group == 0, table["value_per_flop"], upper)
    for g in (0, 1, 2):
        part = list(zip(-key[group == g], table["flops"][group == g], strict=True))
        assert part == sorted(part)


def test_value_within_its_error_never_outranks_a_clear_one():
    """A cheap run whose value is within its Monte Carlo error (and a cheap run of value
    exactly zero) rank below a costly run whose value clears its error, however large their
    value per FLOP; zero-value runs come last among the valued ones, the cheapest first."""
    table = pd.DataFrame(
        {
            "name": ["noisy cheap", "clear costly", "zero cheap", "zero mid", "unreliable", "lo"],
            "flops": [1e18, 1e22, 1e18, 1e20, 1e17, 1e18],
            "value": [2e-4, 1e-3, 0.0, 0.0, 5e-3, 1e-4],
            "value_se": [1.5e-4, 2e-4, 0.0, 0.0, 1e-3, 1e-4],
            "status": ["IS", "refit", "IS", "IS", "cannot tell", "IS"],
        }
    )
    table["value_per_flop"] = table["value"] / table["flops"]
    table["clear"] = table["value"] > voi.CLEAR_SE * table["value_se"]
    ordered = voi._order(table)
    assert list(ordered["name"]) == [
        "clear costly",  # the only clear value
        "noisy cheap",  # (2e-4 + 3e-4) / 1e18 could be worth most per FLOP
        "lo",
        "zero cheap",  # no outcome changed the decision: cheapest first
        "zero mid",
        "unreliable",  # cannot tell: last, whatever its value
    ]
    _assert_ranking_rule(ordered)


def test_decision_set_follows_small_moves():
    """The decisions around the recommended allocation reach down to 1/27 of the grid
    spacing, without repeated points."""

    class Problem:
        dim = 1
        lo_u, hi_u = np.array([0.0]), np.array([10.0])

        def grid_spacing(self):
            return np.array([1.0])

        def coarse_grid(self):
            return np.arange(0.0, 11.0)[:, None]

    points = voi._decision_set(Problem(), np.array([5.0]))
    assert len(np.unique(points, axis=0)) == len(points)
    near = np.sort(np.abs(points[:, 0] - 5.0))
    np.testing.assert_allclose(near[:7], [0, 1 / 27, 1 / 27, 1 / 9, 1 / 9, 1 / 3, 1 / 3])


def test_next_run_costs(ranked):
    by_name = ranked.set_index("name")
    sup = by_name.loc["supervised N=1e+09 D=2e+10"]
    assert sup["flops"] == pytest.approx(3 * C.forward_flops(1e9) * 2e10)
    new = by_name.loc["new teacher"]
    phases = C.flops_by_phase(1e9, 2e10, N_T=3e9, D_T=6e10, scenario="pretraining_and_inference")
    assert new["flops"] == pytest.approx(sum(phases.values()))


def test_next_run_is_reproducible_and_does_not_mutate(shipped):
    frame = pd.DataFrame(CANDIDATES[1:3])
    before = frame.copy()
    a = bd.next_run(shipped, frame, **DECISION, n_outcomes=4, objective="at_risk")
    b = bd.next_run(shipped, frame, **DECISION, n_outcomes=4, objective="at_risk")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(frame, before)
    np.testing.assert_allclose(a["value"], a["at_risk_reduction"])


@pytest.mark.parametrize(
    ("candidates", "kwargs", "match"),
    [
        ([{"kind": "teacher", "N": 1e9, "D": 1e10}], {}, "kind='teacher'"),
        ([{"kind": "supervised", "N": 1e9}], {}, "'D'"),
        ([{"kind": "supervised", "N": -1e9, "D": 1e10}], {}, "positive, finite 'N'"),
        ([{"N_S": 1e9, "D_S": 1e10, "L_T": 2.0}], {}, "'N_T'"),
        ([{"N_S": 1e9, "D_S": 1e10, "N_T": 3e9}], {}, "'D_T'"),
        ([{"kind": "supervised", "N": 1e9, "D": 1e10, "loss": 2.0}], {}, "unknown column"),
        ([], {}, "empty"),
        (CANDIDATES[:1], {"objective": "mean"}, "objective='mean'"),
        (CANDIDATES[:1], {"n_outcomes": 1}, "n_outcomes"),
        (CANDIDATES[:1], {"refit": "always"}, "refit='always'"),
        (CANDIDATES[:1], {"refit_outcomes": 1}, "refit_outcomes must be an integer >= 2"),
        (CANDIDATES[:1], {"max_refits": -1}, "max_refits must be an integer >= 0"),
        (CANDIDATES[:1], {"max_refits": 2.0}, "max_refits"),
    ],
)
def test_next_run_errors_name_the_argument(shipped, candidates, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bd.next_run(shipped, candidates, **DECISION, **kwargs)


def test_next_run_needs_a_distillation_fit():
    fit = bd.ScalingFit.from_params(
        "chinchilla", {"E": 1.8, "A": 480, "B": 2000, "alpha": 0.35, "beta": 0.37}
    )
    with pytest.raises(ValueError, match="distillation"):
        bd.next_run(fit, CANDIDATES[:1], **DECISION)


# ---- the refit fallback ---------------------------------------------------------------------

#: Candidates for the tiny fit: a supervised run at a new size, and distillation runs from an
#: existing teacher and from one trained for the run.
TINY_CANDIDATES = [
    {"kind": "supervised", "N": 4e8, "D": 8e9, "name": "sup"},
    {"N_S": 1.4e8, "D_S": 6e9, "N_T": 1.8e9, "L_T": 2.3, "name": "distil"},
    {"N_S": 1.4e8, "D_S": 4e9, "N_T": 5.5e8, "D_T": 1.1e10, "name": "new teacher"},
]
TINY_DECISION = {"compute": 1e20, "student_params": 1.4e8, "scenario": "best_case"}


@pytest.fixture(scope="module")
def tiny_fit():
    """A short fit (2 chains of 40 draws) of runs SIMULATED from the paper's law: too few
    draws for any informative outcome to leave MIN_ESS effective draws, so every such
    candidate needs the refit fallback."""
    sizes = np.array([1.4e8, 3e8, 5.5e8, 1.8e9])
    sup_design = pd.DataFrame({"N": np.r_[sizes, sizes], "D": np.r_[20 * sizes, 80 * sizes]})
    truth = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    sup = bd.checks.simulate_runs("supervised", truth, sup_design, sigma=0.003, random_seed=1)
    dist_design = pd.DataFrame(
        [
            (n, d, lt)
            for n in (1.4e8, 3e8)
            for d in (2.8e9, 5.6e9, 1.1e10, 2.2e10)
            for lt in (2.2, 2.5)
        ],
        columns=["N_S", "D_S", "L_T"],
    )
    dist = bd.checks.simulate_runs(
        "distillation", bd.laws.PAPER, dist_design, sigma=0.003, random_seed=2
    )
    with warnings.catch_warnings():  # short chains: not a convergence test
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bd.fit(
            dist,
            law="distillation",
            supervised_runs=sup,
            draws=40,
            tune=100,
            chains=2,
            random_seed=3,
            retries=0,
            progressbar=False,
        )


def _tiny_next_run(fit, **kwargs):
    """next_run on the tiny fit (which warns that it did not converge: short on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bd.next_run(
            fit, TINY_CANDIDATES, **TINY_DECISION, n_outcomes=4, refit_outcomes=2, **kwargs
        )


@pytest.fixture(scope="module")
def refitted(tiny_fit):
    """next_run with room for one candidate's two refits, and without refits."""
    return _tiny_next_run(tiny_fit, max_refits=3), _tiny_next_run(tiny_fit, refit="never")


def test_refit_values_the_failing_candidates_within_the_cap(refitted):
    auto, never = refitted
    assert set(never["status"]) == {"cannot tell"} and (never["n_refits"] == 0).all()
    # room for one candidate's two refits: the first failing candidate in the order of the
    # ranking's key is refitted, the others stay "cannot tell" and rank last
    key = (never["value"] + voi.CLEAR_SE * never["value_se"]) / never["flops"]
    first = never.assign(k=key).sort_values(["k", "flops"], ascending=[False, True])
    by_name = auto.set_index("name")
    assert by_name.at[first["name"].iloc[0], "status"] == "refit"
    assert by_name.at[first["name"].iloc[0], "n_refits"] == 2
    assert (auto["status"] == "refit").sum() == 1
    assert list(auto["status"].iloc[-2:]) == ["cannot tell", "cannot tell"]
    refit = auto[auto["status"] == "refit"].iloc[0]
    assert np.isfinite(refit["value"]) and np.isfinite(refit["value_se"])
    assert refit["value_se"] >= 0 and refit["p_decision_changes"] in (0.0, 0.5, 1.0)
    # the importance-sampling diagnostics that sent it to a refit are kept
    assert refit["min_ess"] < voi.MIN_ESS or refit["pareto_k"] > voi.PARETO_K_THRESHOLD
    _assert_ranking_rule(auto)
    assert auto.attrs["refit"] == "auto" and auto.attrs["refit_outcomes"] == 2


def test_refit_is_reproducible(tiny_fit, refitted):
    again = _tiny_next_run(tiny_fit, max_refits=3)
    pd.testing.assert_frame_equal(again, refitted[0])


def test_refit_adds_the_simulated_run_without_mutating_the_fit(tiny_fit):
    runs_before, sup_before = tiny_fit.runs.copy(), tiny_fit.supervised_runs.copy()
    row = {"kind": "distillation", "N_S": 1.4e8, "D_S": 4e9, "N_T": 5.5e8, "D_T": 1.1e10}
    row["L_T"] = math.nan
    outcome = {"y": math.log(2.9), "y_T": math.log(2.4), "L_T": 2.4}
    runs, sup = outcome_refits._with_outcome(tiny_fit, row, outcome)
    assert len(runs) == len(runs_before) + 1 and len(sup) == len(sup_before) + 1
    assert runs.iloc[-1][["N_S", "D_S", "L_T", "L_S"]].tolist() == pytest.approx(
        [1.4e8, 4e9, 2.4, 2.9]
    )
    assert sup.iloc[-1][["N", "D", "loss"]].tolist() == pytest.approx([5.5e8, 1.1e10, 2.4])
    pd.testing.assert_frame_equal(tiny_fit.runs, runs_before)
    pd.testing.assert_frame_equal(tiny_fit.supervised_runs, sup_before)


def test_a_fit_without_runs_cannot_be_refitted(jitter_fit):
    row = {"kind": "supervised", "N": 1e9, "D": 2e10, "L_T": math.nan}
    assert "holds no runs" in outcome_refits.can_refit(jitter_fit, row)
    with pytest.raises(ValueError, match="holds no runs"):
        outcome_refits.refit_with_run(jitter_fit, row, {"y": 0.7}, random_seed=0)


def test_cli_next_run_json(tmp_path, capsys):
    path = tmp_path / "candidates.csv"
    pd.DataFrame(CANDIDATES[1:3]).to_csv(path, index=False)
    argv = ["next-run", "--candidates", str(path), "--compute", "1e22"]
    argv += ["--student-params", "5.46e8", "--n-outcomes", "4", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == NEXT_RUN_SCHEMA and len(doc["rows"]) == 2
    assert doc["rows"][0]["rank"] == 1 and doc["objective"] == "regret"
    assert doc["fit"]["law"] == "distillation"
    assert doc["refit"] == "auto" and doc["max_refits"] == 4 and "clear" in doc["rows"][0]
    assert main([*argv, "--refit", "never", "--max-refits", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["refit"] == "never" and doc["max_refits"] == 0
    assert main(argv[:-1]) == 0
    out = capsys.readouterr().out
    assert "current decision:" in out and "status" in out and "clear" in out


def test_cli_next_run_missing_file(capsys):
    argv = ["next-run", "--candidates", "nope.csv", "--compute", "1e22", "--student-params", "1e9"]
    assert main(argv) == 2
    assert "--candidates nope.csv" in capsys.readouterr().err
