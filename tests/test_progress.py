"""Progress on stderr: when it is shown (argument, BAYES_DISTILL_PROGRESS, interactivity), the
line before a model is compiled, and the counters of sweeps, backtests and SBC.

No test compiles or samples a model: the compiler and the sampler are replaced by stand-ins, and
decisions use :meth:`ScalingFit.from_params` fits.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import _nutpie, _progress, checks, laws
from bayes_distill import sampling as sampling_mod

COMPILING = "bayes_distill: compiling the"


class _Stop(Exception):
    """Raised by the stand-in sampler: the test has seen what it needs."""


class _FakeCompiled:
    shared_var_keys = ()  # the data nodes of the compiled graph (none here)

    def with_data(self, **data):
        return self


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(_progress.ENV_VAR, raising=False)


@pytest.fixture
def fake_nutpie(monkeypatch):
    """An empty compiled-model cache, a compiler that counts its calls and a sampler that stops
    the fit (nothing is compiled or sampled)."""
    import nutpie

    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return _FakeCompiled()

    def fake_sample(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(sampling_mod, "_COMPILED_CACHE", {})
    monkeypatch.setattr(_nutpie, "compile_model", fake_compile)
    monkeypatch.setattr(nutpie, "sample", fake_sample)
    return compiled


def supervised_runs(n: int = 12) -> pd.DataFrame:
    N = np.geomspace(1e8, 3e9, n)
    D = 20 * N
    return pd.DataFrame({"N": N, "D": D, "loss": 1.8 + 400 / N**0.34 + 2000 / D**0.37})


def start_fit(**kwargs) -> None:
    """Run ``bd.fit`` up to the sampler (the stand-in stops it)."""
    with pytest.raises(_Stop):
        bd.fit(supervised_runs(), law="chinchilla", draws=10, tune=10, chains=1, **kwargs)


# --------------------------------------------------------------------------------------------
# when progress is on


def test_progress_is_off_under_pytest(no_env):
    # pytest captures stderr: not a terminal, and no Jupyter kernel
    assert not sys.stderr.isatty()
    assert _progress.enabled() is False
    assert _progress.enabled(None) is False


@pytest.mark.parametrize(
    ("env", "argument", "expected"),
    [
        ("0", None, False),
        ("1", None, True),
        ("true", None, True),
        ("off", None, False),
        ("", None, False),  # set but empty: the interactivity rule (off here)
        ("maybe", None, False),  # not understood: the interactivity rule
        ("0", True, True),  # an explicit argument wins
        ("1", False, False),
    ],
)
def test_env_var_and_argument_switch_progress(monkeypatch, env, argument, expected):
    monkeypatch.setenv(_progress.ENV_VAR, env)
    assert _progress.enabled(argument) is expected


def test_terminal_or_jupyter_turns_progress_on(no_env, monkeypatch):
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    assert _progress.enabled() is True
    monkeypatch.setenv(_progress.ENV_VAR, "0")
    assert _progress.enabled() is False  # the variable turns it off everywhere
    monkeypatch.delenv(_progress.ENV_VAR)
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: False)
    monkeypatch.setattr(_progress, "_in_jupyter", lambda: True)
    assert _progress.enabled() is True


def test_fit_progressbar_defaults_to_none_and_is_validated():
    import inspect

    assert inspect.signature(bd.fit).parameters["progressbar"].default is None
    with pytest.raises(TypeError, match=r"progressbar must be True, False or None .*got 'yes'"):
        bd.fit(supervised_runs(), progressbar="yes")


# --------------------------------------------------------------------------------------------
# the line before compiling


def test_compile_line_once_per_model(capsys, fake_nutpie, no_env):
    start_fit(progressbar=True)
    err = capsys.readouterr().err
    assert err.count(COMPILING) == 1
    line = next(ln for ln in err.splitlines() if COMPILING in ln)
    assert line == (
        "bayes_distill: compiling the chinchilla model (about 30-60 s the first time on a "
        "machine, a few seconds once cached)"
    )
    assert len(fake_nutpie) == 1
    # the same model again: taken from the in-process cache, no line
    start_fit(progressbar=True)
    assert COMPILING not in capsys.readouterr().err
    assert len(fake_nutpie) == 1
    # another model (another likelihood) is compiled, and says so once
    start_fit(progressbar=True, likelihood="normal")
    start_fit(progressbar=True, likelihood="normal")
    assert capsys.readouterr().err.count(COMPILING) == 1
    assert len(fake_nutpie) == 2


@pytest.mark.parametrize(
    ("env", "argument", "shown"),
    [(None, None, False), ("1", None, True), ("0", None, False), ("1", False, False)],
)
def test_compile_line_follows_the_switches(capsys, fake_nutpie, monkeypatch, env, argument, shown):
    monkeypatch.delenv(_progress.ENV_VAR, raising=False)
    if env is not None:
        monkeypatch.setenv(_progress.ENV_VAR, env)
    start_fit(progressbar=argument)
    assert (COMPILING in capsys.readouterr().err) is shown
    assert len(fake_nutpie) == 1  # compiled either way


def test_sampler_gets_the_resolved_switch(monkeypatch, no_env):
    seen = {}

    def fake_sample(model, priors, settings, seed, progressbar):
        seen["progressbar"] = progressbar
        raise _Stop

    monkeypatch.setattr(sampling_mod, "_sample", fake_sample)
    start_fit()
    assert seen["progressbar"] is False
    monkeypatch.setenv(_progress.ENV_VAR, "1")
    start_fit()
    assert seen["progressbar"] is True


# --------------------------------------------------------------------------------------------
# counters of sweeps, backtests and SBC


@pytest.fixture(scope="module")
def distillation_fit():
    return bd.ScalingFit.from_params("distillation", laws.PAPER, n_draws=20, sigma=0.01, tau=0.01)


@pytest.fixture(scope="module")
def chinchilla_fit():
    p = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
    return bd.ScalingFit.from_params("chinchilla", p, n_draws=20, sigma=0.01)


def test_recommend_sweep_counts_budgets(capsys, monkeypatch, distillation_fit):
    monkeypatch.setenv(_progress.ENV_VAR, "1")
    monkeypatch.setattr(_progress, "SWEEP_DELAY", 0.0)
    budgets = [1e20, 1e21, 1e22]
    frame = bd.recommend_sweep(distillation_fit, compute=budgets, student_params=1e9)
    assert isinstance(frame, pd.DataFrame)
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        f"bayes_distill: recommend: budget {i} of 3" for i in (1, 2, 3)
    ]
    # one budget is not a sweep
    bd.recommend(distillation_fit, compute=1e21, student_params=1e9)
    assert capsys.readouterr().err == ""


def test_compute_optimal_sweep_counts_budgets(capsys, monkeypatch, chinchilla_fit):
    monkeypatch.setenv(_progress.ENV_VAR, "1")
    monkeypatch.setattr(_progress, "SWEEP_DELAY", 0.0)
    bd.compute_optimal(chinchilla_fit, compute=[1e20, 1e21])
    err = capsys.readouterr().err
    assert "bayes_distill: compute_optimal: budget 2 of 2" in err
    # a sweep shorter than the delay prints nothing
    monkeypatch.setattr(_progress, "SWEEP_DELAY", 60.0)
    bd.compute_optimal(chinchilla_fit, compute=[1e20, 1e21])
    assert capsys.readouterr().err == ""


def test_sweeps_are_quiet_when_progress_is_off(capsys, monkeypatch, no_env, distillation_fit):
    monkeypatch.setattr(_progress, "SWEEP_DELAY", 0.0)
    bd.recommend_sweep(distillation_fit, compute=[1e20, 1e21], student_params=1e9)
    bd.compute_optimal(distillation_fit, compute=[1e20, 1e21])
    assert capsys.readouterr().err == ""


def test_counter_rewrites_one_line_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "interactive", lambda: True)
    with _progress.Counter("sbc: dataset", 2, on=True) as counter:
        counter.step("(a)")
        counter.step()
    err = capsys.readouterr().err
    assert err.startswith("\rbayes_distill: sbc: dataset 1 of 2 (0 s) (a)")
    assert "\rbayes_distill: sbc: dataset 2 of 2 (0 s)" in err
    assert err.endswith("\n") and err.count("\n") == 1


@pytest.fixture
def fit_from_params(monkeypatch):
    """``bd.fit`` replaced by a point posterior at the paper's supervised coefficients; the
    arguments of each call are recorded."""
    calls = []

    def fake_fit(runs, law="chinchilla", **kwargs):
        calls.append(kwargs)
        rng = np.random.default_rng(len(calls))
        # scattered draws: diagnostics of constant draws are NaN
        p = {
            k: laws.PAPER[k] * np.exp(0.01 * rng.standard_normal(10))
            for k in laws.PARAM_NAMES["supervised"]
        }
        noise = 0.01 * np.exp(0.1 * rng.standard_normal((2, 10)))
        return bd.ScalingFit.from_params(law, p, sigma=noise[0], tau=noise[1])

    monkeypatch.setattr(sampling_mod, "fit", fake_fit)
    return calls


def test_backtest_reports_its_steps(capsys, monkeypatch, no_env, fit_from_params):
    runs = supervised_runs(20)
    train = {"compute_below": float(np.median(checks.run_compute(runs, "supervised")))}
    checks.backtest(runs, law="supervised", train=train, random_seed=0)
    assert capsys.readouterr().err == ""
    checks.backtest(runs, law="supervised", train=train, random_seed=0, progressbar=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("bayes_distill: backtest: fitting the supervised law to 10 of 20")
    assert lines[1] == "bayes_distill: backtest: predicting the 10 held-out runs"
    assert fit_from_params[-1]["progressbar"] is True  # and the fit shows its own progress


def test_sbc_counts_datasets(capsys, monkeypatch, fit_from_params):
    monkeypatch.setenv(_progress.ENV_VAR, "1")
    checks.sbc("supervised", n_datasets=2, truth="paper", random_seed=1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "bayes_distill: sbc: fitting 2 simulated supervised datasets"
    assert [ln.split(" (")[0] for ln in lines[1:]] == [
        "bayes_distill: sbc: dataset 1 of 2",
        "bayes_distill: sbc: dataset 2 of 2",
    ]
    # the counter reports the datasets; the fits' own bars only when progressbar=True
    assert [c["progressbar"] for c in fit_from_params] == [False, False]
    monkeypatch.setenv(_progress.ENV_VAR, "0")
    checks.sbc("supervised", n_datasets=1, truth="paper", random_seed=1)
    assert capsys.readouterr().err == ""
