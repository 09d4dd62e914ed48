"""Tests of running independent fits on an executor (``executor=`` of backtest and sbc).

The fast tests replace ``bd.fit`` by a stand-in that builds a fit from parameters, so the
bookkeeping (folds, seeds, order, errors, warnings) is checked without sampling. The last test
runs a tiny backtest and a tiny SBC on a Dask ``LocalCluster`` of two worker processes with real
fits, and checks that they give the same tables as the same calls run serially.
"""

from __future__ import annotations

import importlib
import multiprocessing
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import _parallel, checks, laws
from bayes_distill.diagnostics import ConvergenceWarning

fit_mod = importlib.import_module("bayes_distill.sampling")

SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}


class InlineExecutor:
    """The smallest executor: ``submit`` runs the call at once and returns a done future."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        self.submitted += 1
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def supervised_runs(n: int = 20) -> pd.DataFrame:
    N = np.geomspace(1e8, 3e9, n)
    D = 20 * N
    return pd.DataFrame({"N": N, "D": D, "loss": 1.8 + 400 / N**0.34 + 2000 / D**0.37})


@pytest.fixture
def fit_from_params(monkeypatch):
    """``bd.fit`` replaced by a fit built from parameters whose draws depend on the seed; the
    keyword arguments of each call are recorded."""
    calls = []

    def fake_fit(runs, law="chinchilla", **kwargs):
        calls.append(kwargs)
        rng = np.random.default_rng(kwargs.get("random_seed"))
        p = {k: v * np.exp(0.01 * rng.standard_normal(10)) for k, v in SUPERVISED_TRUTH.items()}
        noise = 0.01 * np.exp(0.1 * rng.standard_normal((2, 10)))
        return bd.ScalingFit.from_params(law, p, sigma=noise[0], tau=noise[1])

    monkeypatch.setattr(fit_mod, "fit", fake_fit)
    return calls


# --------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("executor", [object(), 2, "processes"])
def test_an_executor_without_submit_is_refused_before_fitting(executor, fit_from_params):
    runs = supervised_runs()
    train = {"loss_above": float(runs["loss"].median())}
    with pytest.raises(TypeError, match=r"executor must be None .* submit\(fn"):
        checks.backtest(runs, law="supervised", train=train, executor=executor)
    with pytest.raises(TypeError, match=r"executor must be None .* got"):
        checks.sbc("supervised", n_datasets=1, executor=executor)
    assert fit_from_params == []


def test_errors_of_a_list_of_folds_name_the_fold(fit_from_params):
    runs = supervised_runs()
    fine = {"loss_above": float(runs["loss"].median())}
    with pytest.raises(ValueError, match=r"train\[1\] as a mapping needs exactly one"):
        checks.backtest(runs, law="supervised", train=[fine, {"loss": 2}])
    with pytest.raises(ValueError, match=r"train\[0\] \(loss > 10\) selects 0 of 20 runs"):
        checks.backtest(runs, law="supervised", train=[{"loss_above": 10.0}])
    with pytest.raises(TypeError, match=r"train\[1\] as an array must be boolean"):
        checks.backtest(runs, law="supervised", train=[np.arange(20) < 12, np.arange(20)])
    assert fit_from_params == []


# --------------------------------------------------------------------------------------------
# folds, seeds and order


def test_a_list_of_rules_backtests_each_fold_with_its_own_seed(fit_from_params):
    runs = supervised_runs()
    loss = np.sort(runs["loss"].to_numpy())
    rules = [{"loss_above": float(loss[10])}, {"loss_above": float(loss[6])}]
    folds = checks.backtest(runs, law="supervised", train=rules, random_seed=3)
    assert isinstance(folds, list) and len(folds) == 2
    assert [bt.n_train for bt in folds] == [9, 13]
    seeds = [bt.random_seed for bt in folds]
    assert len(set(seeds)) == 2 and seeds == [c["random_seed"] for c in fit_from_params]
    # a fold is repeated on its own with its rule and its seed
    alone = checks.backtest(runs, law="supervised", train=rules[1], random_seed=seeds[1])
    pd.testing.assert_frame_equal(alone.table, folds[1].table)
    # one rule alone keeps the given seed
    assert checks.backtest(runs, law="supervised", train=rules[0], random_seed=3).random_seed == 3


def test_folds_without_a_seed_are_seeded_once_and_recorded(fit_from_params):
    runs = supervised_runs()
    loss = np.sort(runs["loss"].to_numpy())
    rules = [{"loss_above": float(loss[8])}, {"loss_above": float(loss[4])}]
    folds = checks.backtest(runs, law="supervised", train=rules)
    assert all(isinstance(bt.random_seed, int) for bt in folds)


@pytest.mark.parametrize("make", [InlineExecutor, lambda: ThreadPoolExecutor(max_workers=2)])
def test_backtest_folds_are_the_same_on_any_executor(make, fit_from_params):
    runs = supervised_runs()
    loss = np.sort(runs["loss"].to_numpy())
    rules = [{"loss_above": float(loss[8])}, {"loss_above": float(loss[4])}, np.arange(20) < 12]
    serial = checks.backtest(runs, law="supervised", train=rules, random_seed=5)
    executor = make()
    other = checks.backtest(runs, law="supervised", train=rules, random_seed=5, executor=executor)
    for a, b in zip(serial, other, strict=True):
        assert (a.rule, a.random_seed) == (b.rule, b.random_seed)
        pd.testing.assert_frame_equal(a.table, b.table)
    # the fits on an executor show no progress bars of their own
    assert all(c["progressbar"] is False for c in fit_from_params[len(rules) :])
    if isinstance(executor, InlineExecutor):
        assert executor.submitted == len(rules)
    else:
        executor.shutdown()


def test_sbc_is_the_same_on_any_executor_and_calls_back_in_order(fit_from_params):
    kwargs = {"n_datasets": 3, "truth": "paper", "random_seed": 2}
    serial = checks.sbc("supervised", **kwargs)
    seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = checks.sbc(
            "supervised", **kwargs, executor=pool, callback=lambda i, rows: seen.append(i)
        )
    assert seen == [0, 1, 2]
    pd.testing.assert_frame_equal(
        serial.table.drop(columns="seconds"), threaded.table.drop(columns="seconds")
    )
    seeds = [c["random_seed"] for c in fit_from_params]
    assert seeds[:3] == seeds[3:] and len(set(seeds[:3])) == 3


# --------------------------------------------------------------------------------------------
# warnings and failures in other processes


def _spawn_pool() -> ProcessPoolExecutor:
    # spawn: forking a process that has run the sampler's threads is unsafe
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def test_warnings_of_another_process_are_warned_here():
    tasks = [
        {"message": "from a worker", "category": UserWarning},
        {"message": "silenced", "category": ConvergenceWarning},
    ]
    with _spawn_pool() as pool, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _parallel.run_tasks(warnings.warn, tasks, pool, quiet=(ConvergenceWarning,))
    assert [(w.category, str(w.message)) for w in caught] == [(UserWarning, "from a worker")]


def test_a_failing_task_raises_here_and_cancels_the_rest():
    class FirstRunsOthersWait:
        def __init__(self) -> None:
            self.futures: list[Future] = []

        def submit(self, fn, /, *args, **kwargs) -> Future:
            future: Future = Future()
            if not self.futures:
                try:
                    future.set_result(fn(*args, **kwargs))
                except Exception as error:
                    future.set_exception(error)
            self.futures.append(future)
            return future

    executor = FirstRunsOthersWait()
    tasks = [{"x": "not a number"}, {"x": "1"}]
    with pytest.raises(ValueError, match="not a number"):
        _parallel.run_tasks(_float_of, tasks, executor)
    assert executor.futures[1].cancelled()


def _float_of(x: str) -> float:
    return float(x)


# --------------------------------------------------------------------------------------------
# a Dask cluster of worker processes, with real fits

TINY = {"draws": 60, "tune": 100, "chains": 2, "retries": 0}  # short chains: one attempt


def _studies(executor=None) -> tuple[list[checks.Backtest], checks.SBCResult]:
    """A tiny backtest of two folds and a tiny SBC, both of the supervised law."""
    runs = checks.simulate_runs(
        "supervised", SUPERVISED_TRUTH, sigma=0.003, tau=0.002, random_seed=11
    )
    # both folds keep every model size, so every fit uses one compiled model
    rules = [{"compute_below": 2e21}, {"compute_below": 6e21}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        folds = bd.backtest(
            runs, law="supervised", train=rules, random_seed=4, executor=executor, **TINY
        )
        sbc = checks.sbc(
            "supervised", n_datasets=2, truth="paper", random_seed=1, executor=executor, **TINY
        )
    return folds, sbc


@pytest.mark.slow
def test_backtest_and_sbc_on_a_dask_local_cluster():
    distributed = pytest.importorskip(
        "distributed",
        reason="dask.distributed is not installed (pip install 'dask[distributed]', in the "
        "dev extras)",
    )
    # A model compiled afresh and the same model loaded from the compile cache on disk can
    # differ in the last bits of the log density, which NUTS turns into other draws. The
    # workers load the model from the cache (this first fit puts it there), and so does the
    # serial reference, computed with executor=None in a new process.
    runs = checks.simulate_runs("supervised", SUPERVISED_TRUTH, random_seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bd.fit(runs, law="supervised", random_seed=0, draws=5, tune=5, chains=1)
    with _spawn_pool() as pool:
        serial_folds, serial_sbc = pool.submit(_studies).result()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_folds, dask_sbc = _studies(client)
    for a, b in zip(serial_folds, dask_folds, strict=True):
        assert a.random_seed == b.random_seed
        pd.testing.assert_frame_equal(a.table, b.table)
        assert a.fit.posterior.equals(b.fit.posterior)
    pd.testing.assert_frame_equal(
        serial_sbc.table.drop(columns="seconds"), dask_sbc.table.drop(columns="seconds")
    )
