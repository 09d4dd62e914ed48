"""Tests of bayes_distill.comparison: PSIS-LOO comparison of laws fitted to the same SIMULATED
runs (``sim_runs`` and ``sim_fits`` in conftest.py), with its Pareto-k diagnostics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_distill import checks, laws
from bayes_distill.results import ScalingFit

SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}


@pytest.fixture(scope="session")
def comparison(sim_fits) -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", checks.ParetoKWarning)
        table = checks.compare(sim_fits, random_seed=0)
    return table, [w for w in caught if issubclass(w.category, checks.ParetoKWarning)]


@pytest.mark.slow
def test_compare_ranks_the_true_law_first(comparison):
    table, _ = comparison
    assert list(table.index) == ["supervised", "chinchilla"]
    assert list(table["rank"]) == [0, 1]
    assert table.loc["supervised", "elpd_diff"] == 0.0
    assert table.loc["chinchilla", "elpd_diff"] < 0
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table.loc["supervised", "weight"] > 0.5
    assert table.loc["chinchilla", "law"] == "chinchilla"


@pytest.mark.slow
def test_compare_reports_pareto_k(comparison):
    table, caught = comparison
    for col in ("pareto_k_max", "pareto_k_threshold", "n_high_pareto_k"):
        assert col in table
    assert set(table.attrs["loo"]) == {"supervised", "chinchilla"}
    for name, elpd in table.attrs["loo"].items():
        k = np.asarray(elpd.pareto_k)
        assert table.loc[name, "pareto_k_max"] == pytest.approx(
            np.max(np.nan_to_num(k, nan=np.inf))
        )
        assert table.loc[name, "n_high_pareto_k"] == int(np.sum(~(k <= elpd.good_k)))
    # the warning is emitted exactly when some run has a high k, and says which fit
    high = table["n_high_pareto_k"] > 0
    assert bool(caught) == bool(high.any())
    assert len(table.attrs["warnings"]) == int(high.sum())
    for name in table.index[high]:
        assert name in str(caught[0].message)


@pytest.mark.slow
def test_compare_warns_on_an_influential_outlier(sim_fits, sim_runs):
    """A non-robust (Normal) likelihood with a gross outlier has a high Pareto k there.

    The default Student-t likelihood bounds an outlier's influence, so the posterior of the
    session fit is reused with a Normal likelihood and one loss moved far away.
    """
    fit = sim_fits["supervised"]
    runs = sim_runs.copy()
    runs.loc[0, "loss"] *= 1.5
    tree = fit.dt.copy()
    obs = tree["observed_data"].to_dataset()
    obs["obs"] = ("run", np.log(runs["loss"].to_numpy()))
    tree["observed_data"] = xr.DataTree(obs)
    tree.attrs["likelihood"] = "normal"
    outlier = ScalingFit(tree, "supervised", runs=runs)
    other = ScalingFit(tree, "supervised", runs=runs)
    with pytest.warns(checks.ParetoKWarning, match="run 0"):
        table = checks.compare({"a": outlier, "b": other})
    assert (table["n_high_pareto_k"] >= 1).all()


@pytest.mark.slow
def test_compare_errors(sim_fits, sim_runs):
    with pytest.raises(ValueError, match="at least two fits"):
        checks.compare({"one": sim_fits["supervised"]})
    with pytest.raises(TypeError, match=r"needs a ScalingFit as"):
        checks.compare({"a": sim_fits["supervised"], "b": "chinchilla"})
    with pytest.raises(TypeError, match="fits must be a mapping"):
        checks.compare(sim_fits["supervised"])
    synthetic = ScalingFit.from_params("supervised", SUPERVISED_TRUTH)
    with pytest.raises(ValueError, match="has no runs"):
        checks.compare([sim_fits["supervised"], synthetic])
    # same law twice in a list: named law_1, law_2; different runs are refused
    runs = sim_runs.copy()
    runs["loss"] *= 1.01
    tree = sim_fits["chinchilla"].dt.copy()
    obs = tree["observed_data"].to_dataset()
    obs["obs"] = ("run", np.log(runs["loss"].to_numpy()))
    tree["observed_data"] = xr.DataTree(obs)
    moved = ScalingFit(tree, "chinchilla", runs=runs)
    with pytest.raises(ValueError, match=r"fits\['chinchilla_2'\] was fitted to different runs"):
        checks.compare([sim_fits["chinchilla"], moved])
