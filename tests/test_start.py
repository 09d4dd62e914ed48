"""Where the sampler starts and in which coordinates (``_start``): the point fit, the offsets'
centring weights, the level-share frame and the starting values, and the model's posterior
unchanged by them (SIMULATED runs where stated)."""

from __future__ import annotations

import numpy as np
import pytest

import bayes_distill as bd
from bayes_distill import _start, laws
from bayes_distill import model as bd_model
from bayes_distill.priors import resolve_priors
from bayes_distill.simulation import simulate_runs

TRUTH = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}


def _design(sizes: int = 8, per_size: int = 6):
    N = np.repeat(np.geomspace(5e7, 5e9, sizes), per_size)
    D = np.tile(np.geomspace(2e9, 2e11, per_size), sizes)
    return N, D


def _weights(runs):
    log_N = np.log(runs["N"].to_numpy(float))
    groups = bd_model.group_runs(log_N)
    return _start.analyse(
        log_N, np.log(runs["D"].to_numpy(float)), np.log(runs["loss"].to_numpy(float)),
        groups.index, groups.n,
    ).weights  # fmt: skip


def test_point_fit_recovers_a_noise_free_law():
    N, D = _design(9, 9)
    s = laws.to_sampled("chinchilla", TRUTH)
    loss = np.exp(laws.log_supervised(laws.NUMPY, np.log(N), np.log(D), **s))
    got = _start.point_fit(np.log(N), np.log(D), loss)
    for k, v in TRUTH.items():
        assert got[k] == pytest.approx(v, rel=1e-3), k
    assert got["rss"] < 1e-12


@pytest.mark.parametrize(
    ("tau", "low", "high"),
    [(0.05, 0.6, _start.MAX_WEIGHT), (0.0, 0.0, 0.3)],
)
def test_weights_follow_the_spread_between_sizes(tau, low, high):
    """SIMULATED: offsets 10x the run noise are centred (weights near the cap); no offsets,
    weights near 0 (the non-centred form)."""
    import pandas as pd

    N, D = _design()
    runs = simulate_runs(
        "chinchilla", TRUTH, pd.DataFrame({"N": N, "D": D}), sigma=0.005, tau=tau, random_seed=4
    )
    w = _weights(runs)
    assert w.shape == (8,)
    assert np.all((w >= 0) & (w <= _start.MAX_WEIGHT))
    assert low <= np.median(w) <= high


def test_weights_are_zero_when_the_spread_is_not_estimable():
    rng = np.random.default_rng(0)
    log_N, log_D = np.log(np.geomspace(1e8, 1e10, 6)), np.log(np.geomspace(1e9, 1e11, 6))
    log_loss = np.log(2.0 + rng.uniform(0, 0.1, 6))
    # one run per group: no noise estimate within a group
    np.testing.assert_array_equal(
        _start.analyse(log_N, log_D, log_loss, np.arange(6), 6).weights, np.zeros(6)
    )
    # a single group
    np.testing.assert_array_equal(
        _start.analyse(log_N, log_D, log_loss, np.zeros(6, int), 1).weights, np.zeros(1)
    )


@pytest.mark.parametrize("law", ["chinchilla", "supervised"])
def test_centred_offsets_keep_the_posterior(law):
    """At corresponding points (``zeta = tau^w z``) the model's log density equals the
    non-centred model's minus ``sum_g w_g log tau`` (the Jacobian of ``z -> zeta``), and the
    recorded ``z_size`` is ``z``."""
    runs = bd.datasets.load("chinchilla")
    inputs = bd_model.prepare_inputs(law, runs)
    priors = resolve_priors(law)
    centred_model = bd_model.ScalingModel(law, inputs=inputs)
    centred = centred_model.pymc(priors)
    plain = bd_model.ScalingModel(law, inputs=inputs, centring=False).pymc(priors)
    w = centred_model.data_updates()["size_centring"]
    assert np.any(w > 0.1), "the bundled runs' sizes should be partly centred"
    assert "zeta_size" in centred.named_vars and "zeta_size" not in plain.named_vars
    rng = np.random.default_rng(5)
    for _ in range(3):
        point = plain.initial_point()
        z = rng.standard_normal(point["z_size"].shape)
        log_tau = np.log(0.01) + 0.3 * rng.standard_normal()
        point.update(z_size=z, tau_size_log__=log_tau)
        c_point = {k: v for k, v in point.items() if k != "z_size"}
        c_point["zeta_size"] = np.exp(w * log_tau) * z
        got = centred.compile_logp()(c_point)
        want = plain.compile_logp()(point) - np.sum(w) * log_tau
        np.testing.assert_allclose(got, want, rtol=1e-9)
        outputs = centred.unobserved_value_vars
        values = centred.compile_fn(outputs, inputs=centred.value_vars)(c_point)
        recorded = dict(zip((v.name for v in outputs), values, strict=True))["z_size"]
        np.testing.assert_allclose(recorded, z, rtol=1e-9)


def test_simulations_are_not_centred():
    """Simulations fix ``tau`` (possibly at 0) with ``pymc.do``: their offsets stay ``tau z``."""
    runs = simulate_runs("chinchilla", TRUTH, sigma=0.01, tau=0.0, random_seed=1)
    assert np.all(np.isfinite(runs["loss"]))


def test_level_share_frame_is_the_point_fit_and_its_laplace_covariance():
    """The frame's mean is the point fit in level-share coordinates (mapped back, the fit's
    parameters); its covariance is positive definite, tight in the level (240 runs) and no
    wider than the sd-2 Normals the coordinates are created with."""
    runs = bd.datasets.load("chinchilla")
    log_N, log_D = np.log(runs["N"].to_numpy(float)), np.log(runs["D"].to_numpy(float))
    log_loss = np.log(runs["loss"].to_numpy(float))
    sizes = bd_model.group_runs(log_N)
    analysis = _start.analyse(log_N, log_D, log_loss, sizes.index, sizes.n)
    mean, chol = _start.level_share_frame(analysis, log_N, log_D)
    raw = dict(zip(_start.LEVEL_SHARE_COORDS, mean, strict=True))
    theta, _, _ = _start.level_share_params(laws.NUMPY, raw, np.mean(log_N), np.mean(log_D))
    nat = laws.to_natural("chinchilla", theta)
    for k in ("E", "A", "B", "alpha", "beta"):
        assert nat[k] == pytest.approx(analysis.fit[k], rel=1e-8), k
    sd = np.sqrt(np.diag(chol @ chol.T))
    assert sd[0] < 0.01 and np.all(sd <= 2.0)
    # without a point fit: the creation Normals
    none = _start.Analysis(None, None, np.zeros(1), 0.0, 0.0, np.zeros(1))
    mean0, chol0 = _start.level_share_frame(none, log_N, log_D)
    np.testing.assert_array_equal(mean0, [m for m, _ in _start.LEVEL_SHARE_COORDS.values()])
    np.testing.assert_array_equal(
        chol0, np.diag([s for _, s in _start.LEVEL_SHARE_COORDS.values()])
    )


def test_start_values_are_near_the_estimates():
    """SIMULATED: the noise and the offsets' spread start within a factor of 2 of the truth,
    and a model without centring has no starting values."""
    import pandas as pd

    N, D = _design()
    runs = simulate_runs(
        "chinchilla", TRUTH, pd.DataFrame({"N": N, "D": D}), sigma=0.005, tau=0.03, random_seed=2
    )
    model = bd_model.ScalingModel("chinchilla", inputs=bd_model.prepare_inputs("chinchilla", runs))
    start = model.start_values()
    # the Student-t scale (nu = 4) of the runs' noise (its sd / sqrt(2))
    assert np.exp(start["sigma_log__"][0]) == pytest.approx(0.005, rel=1.0)
    assert np.exp(start["tau_size_log__"][0]) == pytest.approx(0.03, rel=1.0)
    assert start["zeta_size"][0].shape == (8,)
    assert (
        bd_model.ScalingModel("chinchilla", inputs=model.inputs, centring=False).start_values()
        == {}
    )


def test_noise_starts_at_the_likelihoods_scale():
    """The Student-t scale (nu = 4) of noise of a given sd is that sd over sqrt(2); a normal
    likelihood starts at the sd itself (SIMULATED runs)."""
    import pandas as pd

    N, D = _design()
    runs = simulate_runs(
        "chinchilla", TRUTH, pd.DataFrame({"N": N, "D": D}), sigma=0.005, tau=0.03, random_seed=2
    )
    inputs = bd_model.prepare_inputs("chinchilla", runs)
    student = bd_model.ScalingModel("chinchilla", inputs=inputs).start_values()
    normal = bd_model.ScalingModel("chinchilla", likelihood="normal", inputs=inputs).start_values()
    assert normal["sigma_log__"][0] - student["sigma_log__"][0] == pytest.approx(np.log(2) / 2)
    assert normal["tau_size_log__"] == student["tau_size_log__"]


def test_the_level_share_frame_is_computed_once_per_model():
    """The frame is fitted once per model and its data hold ``log |det chol|``."""
    import pandas as pd

    N, D = _design()
    runs = simulate_runs("chinchilla", TRUTH, pd.DataFrame({"N": N, "D": D}), random_seed=3)
    model = bd_model.ScalingModel("chinchilla", inputs=bd_model.prepare_inputs("chinchilla", runs))
    first, second = model.data_updates(), model.data_updates()
    assert first["share_chol"] is second["share_chol"]
    chol = first["share_chol"]
    assert first["share_log_det"] == pytest.approx(np.log(abs(np.linalg.det(chol))))
