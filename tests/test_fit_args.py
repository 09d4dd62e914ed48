"""Bad arguments to every public entry point are refused clearly, before any work (issue 7).

``bd.fit`` must raise before sampling starts: the sampler is replaced by one that fails the test
if it is ever called, so these tests run in milliseconds. Decision functions are exercised with
fits built by :meth:`ScalingFit.from_params` (no NUTS here).
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill import model as model_mod
from bayes_distill import results as results_mod
from bayes_distill import sampling as sampling_mod
from bayes_distill.compute import SCENARIOS
from bayes_distill.data import DataValidationError, DataValidationWarning

ScalingFit = results_mod.ScalingFit


# --------------------------------------------------------------------------------------------
# helpers


def supervised_runs(n: int = 12) -> pd.DataFrame:
    """``n`` plausible supervised runs on a grid of sizes and tokens (no sampling needed)."""
    N = np.geomspace(1e8, 3e9, n)
    D = 20 * N
    loss = 1.8 + 400 / N**0.34 + 2000 / D**0.37
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


def distillation_runs(n: int = 12) -> pd.DataFrame:
    N_S = np.geomspace(1e8, 3e9, n)
    L_T = np.linspace(2.0, 2.4, n)
    return pd.DataFrame({"N_S": N_S, "D_S": 20 * N_S, "L_T": L_T, "L_S": L_T + 0.3 * (1e8 / N_S)})


@pytest.fixture
def no_sampling(monkeypatch):
    """Fail the test if ``fit`` reaches the sampler."""

    def sampler_called(*args, **kwargs):
        raise AssertionError("fit() started sampling before validating its arguments")

    monkeypatch.setattr(sampling_mod, "_sample", sampler_called)


@pytest.fixture(scope="module")
def paper_distillation() -> ScalingFit:
    return ScalingFit.from_params("distillation", laws.PAPER, n_draws=20, sigma=0.01, tau=0.01)


@pytest.fixture(scope="module")
def paper_chinchilla() -> ScalingFit:
    """20 draws scattered around the paper's supervised coefficients (gamma = 1)."""
    rng = np.random.default_rng(0)
    params = {
        k: laws.PAPER[k] * np.exp(0.02 * rng.standard_normal(20))
        for k in laws.PARAM_NAMES["chinchilla"]
    }
    noise = 0.01 * np.exp(rng.random((2, 20)))
    return ScalingFit.from_params("chinchilla", params, sigma=noise[0], tau=noise[1])


def valid_list(names) -> str:
    """Regex: every name in ``names`` appears, in order, in the message."""
    return ".*".join(re.escape(str(n)) for n in names)


# --------------------------------------------------------------------------------------------
# the public name bd.fit


@pytest.mark.parametrize(
    "first",
    ["bd.load_fit", "from bayes_distill.sampling import fit", "import bayes_distill.results"],
)
def test_bd_fit_is_the_function_whatever_is_imported_first(first):
    code = (
        "import bayes_distill as bd\n"
        f"{first}\n"
        "import inspect\n"
        "assert inspect.isfunction(bd.fit), repr(bd.fit)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]


# --------------------------------------------------------------------------------------------
# fit(): names and numbers, all refused before sampling


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"law": "kaplan"}, ValueError, r"Unknown law 'kaplan'\. Valid laws are 'chinchilla', "),
        ({"law": "Chinchilla"}, ValueError, r"Unknown law 'Chinchilla'.*'supervised'"),
        ({"law": None}, ValueError, r"Unknown law None"),
        ({"sampler": "stan"}, ValueError, r"Unknown sampler 'stan'\. Valid samplers are nutpie"),
        ({"likelihood": "huber"}, ValueError, r"Unknown likelihood 'huber'\. Valid: student_t"),
        ({"discrepancy": "gp"}, ValueError, r"Unknown discrepancy 'gp'\. Valid: "),
        ({"draws": 0}, ValueError, r"draws must be an integer >= 1, got 0"),
        ({"draws": 100.0}, ValueError, r"draws must be an integer >= 1, got 100\.0"),
        ({"draws": "1000"}, ValueError, r"draws must be an integer >= 1, got '1000'"),
        ({"draws": True}, ValueError, r"draws must be an integer >= 1, got True"),
        ({"tune": -1}, ValueError, r"tune must be an integer >= 0, got -1"),
        ({"chains": 0}, ValueError, r"chains must be an integer >= 1, got 0"),
        ({"chains": 2.5}, ValueError, r"chains must be an integer >= 1, got 2\.5"),
        ({"random_seed": -1}, ValueError, r"random_seed must be an integer in \[0, 4294967295\]"),
        ({"random_seed": 2**64}, ValueError, r"random_seed must be an integer in \[0, "),
        ({"random_seed": 1.5}, ValueError, r"random_seed must be an integer .* got 1\.5"),
        ({"random_seed": "42"}, ValueError, r"random_seed must be an integer .* got '42'"),
        ({"strict": "yes"}, TypeError, r"strict must be True or False, got 'yes'"),
        ({"progressbar": 1}, TypeError, r"progressbar must be True, False or None .*got 1"),
        ({"priors": "papr"}, ValueError, r"priors='papr' is not a known prior set.*'paper'"),
        ({"priors": {"nope": ("Normal", {})}}, ValueError, r"Unknown parameter 'nope'.*log_E"),
        ({"priors": 5}, TypeError, r"priors must be None, 'default', 'paper' or a mapping"),
        ({"supervised": "both"}, ValueError, r"supervised must be one of 'cut', 'joint', got "),
    ],
)
def test_fit_rejects_bad_arguments_before_sampling(no_sampling, kwargs, error, match):
    with pytest.raises(error, match=match):
        sampling_mod.fit(supervised_runs(), **{"law": "chinchilla", **kwargs})


def test_unknown_discrepancy_lists_every_valid_one(no_sampling):
    with pytest.raises(ValueError, match=valid_list(model_mod.DISCREPANCIES)):
        sampling_mod.fit(supervised_runs(), discrepancy="gp")
    with pytest.raises(ValueError, match=valid_list(sampling_mod.SAMPLERS)):
        sampling_mod.fit(supervised_runs(), sampler="stan")
    with pytest.raises(ValueError, match=valid_list(model_mod.LIKELIHOODS)):
        sampling_mod.fit(supervised_runs(), likelihood="huber")
    with pytest.raises(ValueError, match=valid_list(laws.LAWS)):
        sampling_mod.fit(supervised_runs(), law="kaplan")


def test_missing_numpyro_is_reported_before_sampling(no_sampling, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"sampler='numpyro' needs numpyro and jax.*pip install"):
        sampling_mod.fit(supervised_runs(), sampler="numpyro")


@pytest.mark.parametrize(("law", "n_params"), [("chinchilla", 5), ("supervised", 6)])
def test_too_few_runs(no_sampling, law, n_params):
    runs = supervised_runs(n_params - 1)
    with pytest.raises(
        ValueError,
        match=rf"{n_params - 1} runs cannot constrain the {n_params} parameters of the {law} law; "
        rf"give at least {n_params} runs",
    ):
        sampling_mod.fit(runs, law=law)


def test_too_few_distillation_runs(no_sampling):
    n = len(laws.SAMPLED_NAMES["distillation"])
    with pytest.raises(ValueError, match=rf"3 runs cannot constrain the {n} parameters"):
        sampling_mod.fit(distillation_runs(3), law="distillation")


def test_single_run_warns_then_refuses(no_sampling):
    with (
        pytest.warns(DataValidationWarning, match=r"single run"),
        pytest.raises(ValueError, match=r"1 runs cannot constrain the 5 parameters"),
    ):
        sampling_mod.fit(supervised_runs(1), law="chinchilla")


def test_supervised_runs_need_the_distillation_law(no_sampling):
    with pytest.raises(
        ValueError,
        match=r"supervised_runs is only used by law='distillation' \(got law='chinchilla'\); "
        r"pass the supervised runs as `runs` instead",
    ):
        sampling_mod.fit(supervised_runs(), law="chinchilla", supervised_runs=supervised_runs())


@pytest.mark.parametrize(
    ("runs", "law", "match"),
    [
        (distillation_runs(), "chinchilla", r"did you mean kind='distillation'\?"),
        (distillation_runs(), "supervised", r"did you mean kind='distillation'\?"),
        (supervised_runs(), "distillation", r"did you mean kind='supervised'\?"),
    ],
)
def test_wrong_kind_of_table(no_sampling, runs, law, match):
    with pytest.raises(DataValidationError, match=r"missing required column.*" + match):
        sampling_mod.fit(runs, law=law)


def test_distillation_table_given_as_supervised_runs(no_sampling):
    with pytest.raises(DataValidationError, match=r"kind='supervised'.*did you mean"):
        sampling_mod.fit(
            distillation_runs(), law="distillation", supervised_runs=distillation_runs()
        )


@pytest.mark.parametrize(
    ("runs", "error", "match"),
    [
        (None, DataValidationError, r"expected a pandas\.DataFrame or the path"),
        ("no/such/runs.csv", DataValidationError, r"does not exist"),
        (supervised_runs().iloc[:0], DataValidationError, r"the table is empty"),
        (supervised_runs().assign(loss=np.nan), DataValidationError, r"'loss'.*NaN"),
    ],
)
def test_bad_tables_are_refused_before_sampling(no_sampling, runs, error, match):
    with pytest.raises(error, match=match):
        sampling_mod.fit(runs, law="chinchilla")


# --------------------------------------------------------------------------------------------
# ScalingFit methods


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"kind": "posterior"},
            ValueError,
            r"kind must be 'mean' or 'predictive', got 'posterior'",
        ),
        ({"kind": ["mean"]}, ValueError, r"kind must be 'mean' or 'predictive'"),
        ({"ci_prob": 0}, ValueError, r"ci_prob must be a number in \(0, 1\), got 0"),
        ({"ci_prob": 1.0}, ValueError, r"ci_prob must be a number in \(0, 1\), got 1\.0"),
        ({"ci_prob": 90}, ValueError, r"ci_prob must be a number in \(0, 1\), got 90"),
        ({"ci_prob": float("nan")}, ValueError, r"ci_prob must be a number in \(0, 1\), got nan"),
        ({"ci_prob": "0.9"}, ValueError, r"ci_prob must be a number in \(0, 1\), got '0\.9'"),
        ({"ci_prob": True}, ValueError, r"ci_prob must be a number in \(0, 1\), got True"),
        (
            {"random_seed": -3},
            ValueError,
            r"random_seed must be an integer in \[0, 4294967295\], got -3",
        ),
        (
            {"random_seed": "a"},
            ValueError,
            r"random_seed must be an integer in \[0, 4294967295\], got 'a'",
        ),
    ],
)
def test_predict_rejects_bad_arguments(paper_chinchilla, kwargs, error, match):
    new = pd.DataFrame({"N": [1e9], "D": [2e10]})
    with pytest.raises(error, match=match):
        paper_chinchilla.predict(new, **kwargs)


def test_ci_prob_accepts_numpy_floats(paper_chinchilla):
    new = pd.DataFrame({"N": [1e9], "D": [2e10]})
    a = paper_chinchilla.predict(new, ci_prob=np.float32(0.5))
    b = paper_chinchilla.predict(new, ci_prob=0.5)
    pd.testing.assert_frame_equal(a, b)
    paper_chinchilla.summary(ci_prob=np.float64(0.8))


@pytest.mark.parametrize(
    ("new", "error", "match"),
    [
        ({"N": [1e9], "D": [2e10]}, TypeError, r"new_runs must be a pandas DataFrame, got dict"),
        (pd.DataFrame({"N": [1e9]}), DataValidationError, r"lacks the column\(s\) \['D'\]"),
        (
            pd.DataFrame({"N": [1e9, -1.0], "D": [2e10, 2e10]}),
            DataValidationError,
            r"column 'N' must hold finite positive numbers; row 1 has -1\.0",
        ),
        (
            pd.DataFrame({"N": [1e9], "D": ["lots"]}),
            DataValidationError,
            r"column 'D' must hold finite positive numbers; row 0 has 'lots'",
        ),
        (
            pd.DataFrame({"N": [np.inf], "D": [2e10]}),
            DataValidationError,
            r"column 'N' must hold finite positive numbers; row 0 has inf",
        ),
    ],
)
def test_predict_rejects_bad_tables(paper_chinchilla, new, error, match):
    with pytest.raises(error, match=match):
        paper_chinchilla.predict(new)


def test_distillation_predict_needs_a_teacher(paper_distillation):
    with pytest.raises(
        DataValidationError, match=r"lacks the column\(s\) \['L_T \(or N_T and D_T\)'"
    ):
        paper_distillation.predict(pd.DataFrame({"N_S": [1e9], "D_S": [2e10]}))


def test_summary_rejects_bad_arguments(paper_chinchilla):
    with pytest.raises(ValueError, match=r"ci_prob must be a number in \(0, 1\), got 1\.5"):
        paper_chinchilla.summary(ci_prob=1.5)
    with pytest.raises(ValueError, match=r"Unknown var_names \['gamma'\]; this chinchilla fit has"):
        paper_chinchilla.summary(var_names=["gamma"])


@pytest.mark.parametrize(
    ("law", "params", "error", "match"),
    [
        ("kaplan", laws.PAPER, ValueError, r"Unknown law 'kaplan'"),
        ("chinchilla", {"E": 1.7}, ValueError, r"params for law 'chinchilla' miss \['A', 'B'"),
        (
            "chinchilla",
            {**laws.PAPER, "A": [1.0, 2.0], "B": [1.0, 2.0, 3.0]},
            ValueError,
            r"inconsistent numbers of draws: \[2, 3\]",
        ),
    ],
)
def test_from_params_rejects_bad_arguments(law, params, error, match):
    with pytest.raises(error, match=match):
        ScalingFit.from_params(law, params)


def test_save_rejects_bad_overwrite(paper_chinchilla, tmp_path):
    with pytest.raises(TypeError, match=r"overwrite must be True or False, got 'yes'"):
        paper_chinchilla.save(tmp_path / "fit.nc", overwrite="yes")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# decisions: recommend and compute_optimal


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"scenario": "teacher_free"},
            ValueError,
            r"Unknown scenario 'teacher_free'\. Valid scenarios are .*" + valid_list(SCENARIOS),
        ),
        ({"scenario": None}, ValueError, r"Unknown scenario None"),
        ({"risk_tolerance": 0}, ValueError, r"risk_tolerance must be a number in \(0, 1\), got 0"),
        ({"risk_tolerance": 1}, ValueError, r"risk_tolerance must be a number in \(0, 1\), got 1"),
        ({"risk_tolerance": -0.1}, ValueError, r"risk_tolerance must be .* got -0\.1"),
        ({"risk_tolerance": 10}, ValueError, r"risk_tolerance must be .* got 10"),
        ({"risk_tolerance": float("nan")}, ValueError, r"risk_tolerance must be .* got nan"),
        ({"ci_prob": 0.0}, ValueError, r"ci_prob must be a number in \(0, 1\), got 0\.0"),
        ({"ci_prob": 1.0}, ValueError, r"ci_prob must be a number in \(0, 1\), got 1\.0"),
        ({"ci_prob": 95}, ValueError, r"ci_prob must be .* got 95"),
        # 3 F(N_S) ~ 6.6e9 FLOPs train a 1e9-parameter student on one token
        ({"compute": 1e9}, ValueError, r"cannot train the student .* on even one token"),
        ({"compute": 0}, ValueError, r"compute must be finite and positive"),
        ({"compute": -1e22}, ValueError, r"compute must be finite and positive"),
        ({"student_params": 1e18}, ValueError, r"student_params=1e\+18 is outside the bounds"),
        ({"student_params": 1e3}, ValueError, r"student_params=1e\+03 is outside the bounds"),
        (
            {"student_params": 1e10, "bounds": (1e6, 1e9)},
            ValueError,
            r"student_params=1e\+10 is outside the bounds .* \(1e\+06, 1e\+09\)",
        ),
        ({"teacher_loss": 0.0}, ValueError, r"teacher_loss must be finite and positive"),
    ],
)
def test_recommend_rejects_bad_arguments(paper_distillation, kwargs, error, match):
    args = {
        "compute": 1e22,
        "student_params": 1e9,
        "scenario": "teacher_pretraining",
        "risk_tolerance": 0.1,
        "ci_prob": 0.9,
        "teacher_loss": None,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        bd.recommend(paper_distillation, **args)


@pytest.mark.parametrize("law", ["chinchilla", "supervised"])
def test_recommend_needs_a_distillation_fit(law):
    params = {k: laws.PAPER[k] for k in laws.PARAM_NAMES[law]}
    fit = ScalingFit.from_params(law, params)
    with pytest.raises(
        ValueError,
        match=rf"recommend needs a fit of law distillation, got a '{law}' fit; fit the "
        r"distillation law .*bd\.compute_optimal instead",
    ):
        bd.recommend(fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")


def test_recommend_and_compute_optimal_need_a_fit():
    with pytest.raises(TypeError, match=r"recommend needs a ScalingFit as `fit`, got dict"):
        bd.recommend(dict(laws.PAPER), compute=1e22, student_params=1e9)
    with pytest.raises(TypeError, match=r"compute_optimal needs a ScalingFit as `fit`, got str"):
        bd.compute_optimal("models/chinchilla.nc", compute=1e22)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ci_prob": 0}, ValueError, r"ci_prob must be a number in \(0, 1\), got 0"),
        ({"ci_prob": 1}, ValueError, r"ci_prob must be a number in \(0, 1\), got 1"),
        ({"ci_prob": "90%"}, ValueError, r"ci_prob must be .* got '90%'"),
        ({"compute": 1e3}, ValueError, r"cannot train even the smallest model"),
        ({"compute": "1e22"}, TypeError, r"compute must be a number or an array of numbers"),
        ({"compute": [1e22, np.inf]}, ValueError, r"compute must be finite and positive"),
    ],
)
def test_compute_optimal_rejects_bad_arguments(paper_chinchilla, kwargs, error, match):
    with pytest.raises(error, match=match):
        bd.compute_optimal(paper_chinchilla, **{"compute": 1e22, "ci_prob": 0.9, **kwargs})


# --------------------------------------------------------------------------------------------
# misspelled keyword arguments: "Did you mean ...?" from the four entry points alike


@pytest.mark.parametrize(
    ("call", "keyword", "suggestion"),
    [
        ("fit", "seed", "random_seed"),
        ("fit", "chians", "chains"),
        ("fit", "progress_bar", "progressbar"),
        ("fit", "Draws", "draws"),
        ("recommend", "risk", "risk_tolerance"),
        ("recommend", "seed", "random_seed"),
        ("recommend", "hdi_prob", "ci_prob"),
        ("recommend", "budget", "compute"),
        ("recommend", "flops", "compute"),
        ("recommend", "n_s", "student_params"),
        ("recommend", "N_S", "student_params"),
        ("recommend", "student_size", "student_params"),
        ("recommend", "teacher_los", "teacher_loss"),
        ("compute_optimal", "hdi_prob", "ci_prob"),
        ("compute_optimal", "budget", "compute"),
        ("compute_optimal", "aprox", "approx"),
        ("predict", "hdi_prob", "ci_prob"),
        ("predict", "seed", "random_seed"),
        ("predict", "knd", "kind"),
    ],
)
def test_misspelled_keywords_suggest_the_argument(
    no_sampling, paper_distillation, paper_chinchilla, call, keyword, suggestion
):
    new = pd.DataFrame({"N": [1e9], "D": [2e10]})
    calls = {
        "fit": ("fit", lambda **kw: bd.fit(supervised_runs(), **kw)),
        "recommend": (
            "recommend",
            lambda **kw: bd.recommend(paper_distillation, 1e22, 1e9, **kw),
        ),
        "compute_optimal": (
            "compute_optimal",
            lambda **kw: bd.compute_optimal(paper_chinchilla, 1e22, **kw),
        ),
        "predict": ("ScalingFit.predict", lambda **kw: paper_chinchilla.predict(new, **kw)),
    }
    name, function = calls[call]
    message = (
        rf"^{re.escape(name)}\(\) got an unexpected keyword argument '{keyword}'\. "
        rf"Did you mean '{suggestion}'\?$"
    )
    with pytest.raises(TypeError, match=message):
        function(**{keyword: 1})


def test_a_keyword_without_a_close_match_lists_the_keywords(no_sampling, paper_chinchilla):
    with pytest.raises(
        TypeError,
        match=r"^fit\(\) got an unexpected keyword argument 'colour'\. Its keyword arguments "
        r"are runs, law, priors, draws, .*, strict, progressbar\.$",
    ):
        bd.fit(supervised_runs(), colour="red")
    # a synonym is suggested only where the function takes its target
    with pytest.raises(TypeError, match=r"'budget'\. Its keyword arguments are new_runs, kind"):
        paper_chinchilla.predict(pd.DataFrame({"N": [1e9], "D": [2e10]}), budget=1e22)


def test_checked_functions_keep_their_signature_and_docs():
    import inspect

    for function in (bd.fit, bd.recommend, bd.compute_optimal, ScalingFit.predict):
        assert "Parameters" in function.__doc__
        assert inspect.signature(function) == inspect.signature(function.__wrapped__)
    assert list(inspect.signature(bd.fit).parameters)[:2] == ["runs", "law"]


def test_warnings_still_point_at_the_callers_line():
    """The keyword check adds a frame; warnings skip the package's frames and name this file."""
    import warnings

    import xarray as xr

    rng = np.random.default_rng(3)
    params = {k: v * np.exp(0.02 * rng.standard_normal(40)) for k, v in laws.PAPER.items()}
    base = ScalingFit.from_params("distillation", params, sigma=0.01)
    tree = base.dt.copy()
    diverging = np.ones((1, 40), dtype=bool)
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=base.posterior.coords)
    )
    failed = ScalingFit(tree, "distillation", runs=None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bd.recommend(failed, compute=1e22, student_params=1e9)
    convergence = [w for w in record if issubclass(w.category, bd.ConvergenceWarning)]
    assert len(convergence) == 1
    assert convergence[0].filename == __file__
