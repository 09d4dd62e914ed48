"""Priors: the default and paper-informed sets, overrides by sampled name, and their checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_distill import laws
from bayes_distill.priors import NOISE_NAMES, Prior, paper_priors, resolve_priors, sample_prior


@pytest.mark.parametrize("law", laws.LAWS)
@pytest.mark.parametrize("which", [None, "default", "paper"])
def test_every_sampled_parameter_and_noise_term_has_a_prior(law, which):
    priors = resolve_priors(law, which)
    assert set(priors) == {*laws.SAMPLED_NAMES[law], *NOISE_NAMES}
    assert all(isinstance(p, Prior) for p in priors.values())


@pytest.mark.parametrize("law", ["supervised", "distillation"])
def test_paper_priors_are_centred_on_table_6(law):
    """The paper-informed priors put their median at the published fit (Table 6 of Busbridge
    et al. 2025), on the sampled scale."""
    sampled = laws.to_sampled(law, {k: laws.PAPER[k] for k in laws.PARAM_NAMES[law]})
    draws = sample_prior(law, paper_priors(law), 20000, random_seed=0)
    for name in laws.SAMPLED_NAMES[law]:
        spread = np.std(draws[name])
        assert abs(np.median(draws[name]) - float(sampled[name])) < 0.05 * spread + 1e-9, name


def test_sample_matches_the_distribution():
    """Prior.sample draws from the distribution PyMC would build (checked with SciPy)."""
    rng = np.random.default_rng(1)
    cases = [
        (Prior("Normal", mu=0.3, sigma=0.1), stats.norm(0.3, 0.1)),
        (Prior("LogNormal", mu=0.0, sigma=0.5), stats.lognorm(0.5)),
        (Prior("HalfNormal", sigma=2.0), stats.halfnorm(scale=2.0)),
        (Prior("Gamma", alpha=2.0, beta=4.0), stats.gamma(2.0, scale=0.25)),
        (Prior("Exponential", lam=3.0), stats.expon(scale=1 / 3.0)),
        (Prior("Uniform", lower=-1.0, upper=2.0), stats.uniform(-1.0, 3.0)),
        (
            Prior("TruncatedNormal", mu=0.0, sigma=1.0, lower=0.0, upper=1.0),
            stats.truncnorm(0.0, 1.0),
        ),
    ]
    for prior, dist in cases:
        x = prior.sample(rng, 4000)
        assert stats.kstest(x, dist.cdf).pvalue > 1e-3, prior


def test_overrides_replace_one_parameter_on_top_of_a_base():
    new = Prior("Normal", mu=0.5, sigma=0.01)
    priors = resolve_priors("chinchilla", {"alpha": new})
    assert priors["alpha"] == new
    assert priors["beta"] == resolve_priors("chinchilla")["beta"]
    on_paper = resolve_priors(
        "chinchilla", {"base": "paper", "alpha": ("Normal", {"mu": 0.5, "sigma": 0.01})}
    )
    assert on_paper["alpha"] == new
    assert on_paper["beta"] == paper_priors("chinchilla")["beta"]


@pytest.mark.parametrize(
    ("priors", "error", "match"),
    [
        ("flat", ValueError, r"priors='flat' is not a known prior set"),
        (3, TypeError, r"priors must be None, 'default', 'paper' or a mapping, got int"),
        ({"A": Prior("Normal", mu=0, sigma=1)}, ValueError, r"Unknown parameter 'A'.*use a\b"),
        ({"alpha": 0.3}, TypeError, r"The prior for 'alpha' must be a"),
    ],
)
def test_bad_priors_say_what_to_do(priors, error, match):
    with pytest.raises(error, match=match):
        resolve_priors("chinchilla", priors)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("Cauchy",), r"Unknown prior distribution 'Cauchy'"),
        (("Normal",), r"needs exactly the parameters \['mu', 'sigma'\]"),
        (("HalfNormal", {"sigma": -1.0}), r"sigma=-1\.0 must be positive"),
        (("Uniform", {"lower": 1.0, "upper": 0.0}), r"lower=1\.0 must be below upper=0\.0"),
        (("Normal", {"mu": float("nan"), "sigma": 1.0}), r"mu=nan must be a finite number"),
    ],
)
def test_prior_refuses_what_pymc_would_not_build(args, match):
    with pytest.raises(ValueError, match=match):
        Prior(*args)
