"""Tests of bayes_distill.simulation: the default design, and runs simulated from known
parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_distill import checks, laws

SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}


def test_default_design_shapes_and_columns():
    sup = checks.default_design("chinchilla")
    dist = checks.default_design("distillation")
    assert list(sup.columns) == ["N", "D"] and len(sup) == 48
    assert list(dist.columns) == ["N_S", "D_S", "L_T"] and len(dist) == 45
    assert sup["N"].nunique() == 8


def test_simulate_runs_without_noise_is_the_law():
    runs = checks.simulate_runs("supervised", SUPERVISED_TRUTH, sigma=0.0, tau=0.0)
    expected = laws.supervised_loss(runs["N"], runs["D"], **SUPERVISED_TRUTH)
    np.testing.assert_allclose(runs["loss"], expected, rtol=1e-12)
    dist = checks.simulate_runs("distillation", laws.PAPER, sigma=0.0, tau=0.0)
    expected = laws.distillation_loss(dist["N_S"], dist["D_S"], dist["L_T"], **laws.PAPER)
    np.testing.assert_allclose(dist["L_S"], expected, rtol=1e-12)


def test_simulate_runs_noise_scale_and_seed():
    design = pd.DataFrame({"N": np.full(4000, 1e9), "D": np.full(4000, 2e10)})
    a = checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, design, sigma=0.02, random_seed=3)
    b = checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, design, sigma=0.02, random_seed=3)
    pd.testing.assert_frame_equal(a, b)
    resid = np.log(a["loss"]) - np.log(laws.supervised_loss(1e9, 2e10, **SUPERVISED_TRUTH))
    # one input point, so no distance effect: Student-t (or normal) noise of scale sigma, whose
    # interquartile range is 2 * 0.674 * sigma (normal) to 2 * 0.741 * sigma (4 d.o.f.)
    iqr = np.subtract(*np.quantile(resid, [0.75, 0.25]))
    assert 2 * 0.674 * 0.02 * 0.9 < iqr < 2 * 0.741 * 0.02 * 1.1
    assert "loss" not in design  # the design is not modified


def test_simulate_runs_group_offsets_are_shared():
    design = pd.DataFrame({"N": np.repeat([1e8, 1e9], 200), "D": np.full(400, 2e10)})
    runs = checks.simulate_runs(
        "chinchilla", SUPERVISED_TRUTH, design, sigma=0.0, tau=0.05, random_seed=0
    )
    mean_law = laws.supervised_loss(design["N"], design["D"], **SUPERVISED_TRUTH)
    offset = np.log(runs["loss"] / mean_law)
    # no run noise: every run of one size shares its offset exactly
    assert offset[:200].std() < 1e-12 and offset[200:].std() < 1e-12


def test_simulate_runs_errors():
    with pytest.raises(ValueError, match="design lacks the column"):
        checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, pd.DataFrame({"N": [1e9]}))
    with pytest.raises(ValueError, match="miss"):
        checks.simulate_runs("distillation", SUPERVISED_TRUTH)
    with pytest.raises(ValueError, match="sigma must be a non-negative number"):
        checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, sigma=-1.0)
    with pytest.raises(ValueError, match="tau has unknown groups"):
        checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, tau={"teacher": 0.1})
    with pytest.raises(ValueError, match=r"params has \['kappa'\]"):
        checks.simulate_runs("chinchilla", {**SUPERVISED_TRUTH, "kappa": 1.0})
    with pytest.raises(TypeError, match="design must be a pandas DataFrame"):
        checks.simulate_runs("chinchilla", SUPERVISED_TRUTH, design={"N": [1e9]})
    with pytest.raises(ValueError, match="Unknown law"):
        checks.simulate_runs("kaplan", SUPERVISED_TRUTH)
