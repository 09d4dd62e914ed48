"""Shared test configuration for bayes_distill.

Slow fixtures (real NUTS fits) belong in the test modules that need them, scoped to the
session; this file holds what several test modules share: the hypothesis profiles, and the runs
SIMULATED from the supervised law with the paper's coefficients (gamma = 0.45) with the two fits
of them that the model checks use (the truth is known, so the supervised law should win the LOO
comparison and predict held-out runs well); and the distillation fits built from the paper's
coefficients (no sampling) that the tests of the decisions and of the crossover share.
"""

from __future__ import annotations

import os
import warnings

import pandas as pd
import pytest
from decision_oracles import jittered_params
from hypothesis import HealthCheck, settings

from bayes_distill import laws
from bayes_distill.diagnostics import ConvergenceWarning
from bayes_distill.results import ScalingFit
from bayes_distill.sampling import fit as fit_law
from bayes_distill.simulation import simulate_runs

# Property tests stay fast by default; `HYPOTHESIS_PROFILE=thorough pytest` searches harder.
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: The supervised law's parameters in Busbridge et al. (2025), Table 6: the truth of ``sim_runs``.
SUPERVISED_TRUTH = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
#: Draws, tuning steps and chains of the fits of the model checks.
_FIT_KWARGS = {"draws": 500, "tune": 500, "chains": 2}


@pytest.fixture(scope="session")
def fit_kwargs() -> dict[str, int]:
    """The sampler settings of the model checks' fits (short chains: not a convergence test)."""
    return dict(_FIT_KWARGS)


@pytest.fixture(scope="session")
def sim_runs() -> pd.DataFrame:
    """48 runs SIMULATED from the supervised law (``SUPERVISED_TRUTH``) on the default design."""
    return simulate_runs("supervised", SUPERVISED_TRUTH, sigma=0.003, tau=0.002, random_seed=11)


@pytest.fixture(scope="session")
def sim_fits(sim_runs) -> dict[str, ScalingFit]:
    """The supervised and Chinchilla laws fitted to ``sim_runs`` (same seed)."""
    fits = {}
    for law in ("supervised", "chinchilla"):
        # Short chains may miss the ESS target; convergence is tested in test_fit, not here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits[law] = fit_law(sim_runs, law=law, random_seed=5, **_FIT_KWARGS)
    return fits


@pytest.fixture(scope="session")
def paper_fit() -> ScalingFit:
    """The paper's Table 6 as a point posterior (one draw, no noise)."""
    return ScalingFit.from_params("distillation", laws.PAPER)


@pytest.fixture(scope="session")
def jitter_fit() -> ScalingFit:
    """300 draws around the paper's coefficients, with run noise and discrepancy spread."""
    return ScalingFit.from_params("distillation", jittered_params(300), sigma=0.01, tau=0.02)
