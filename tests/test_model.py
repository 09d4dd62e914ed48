"""The observation model (:class:`bayes_distill.model.ScalingModel`): its PyMC and NumPy sides
are one model.

The NumPy side (log mean, noise scale, pointwise log-likelihood over posterior draws) is what
predictions, decisions and checks use; the PyMC side is what is sampled. These tests evaluate
both at the same parameter values and require them to agree, with the PyMC model's own
log-density as the oracle.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill import model as bd_model
from bayes_distill.priors import resolve_priors


def _inputs(law: str, n: int | None = None, cut: bool = False) -> bd_model.ModelInputs:
    runs = bd.datasets.load("chinchilla" if law == "supervised" else law)
    if n is not None:
        runs = runs.iloc[:: max(1, len(runs) // n)].reset_index(drop=True)
    inputs = bd_model.prepare_inputs(law, runs)
    if cut:
        s = laws.to_sampled("supervised", laws.PAPER)
        fixed = {k: float(s[k]) for k in laws.SAMPLED_NAMES["supervised"]}
        mean = np.array(
            [np.log(v) if k in ("alpha", "beta", "gamma") else v for k, v in fixed.items()]
        )
        inputs = dataclasses.replace(
            inputs, fixed_supervised=fixed, supervised_posterior=(mean, 0.01 * np.eye(6))
        )
    return inputs


def _point_posterior(pm_model, jitter: int) -> xr.Dataset:
    """The model's values (untransformed, deterministics included) at a jittered initial
    point, as a one-draw posterior, and that point on the sampler's scale."""
    rng = np.random.default_rng(jitter)
    point = {
        k: v + 0.1 * rng.standard_normal(np.shape(v)) for k, v in pm_model.initial_point().items()
    }
    fn = pm_model.compile_fn(
        pm_model.unobserved_value_vars, inputs=pm_model.value_vars, on_unused_input="ignore"
    )
    values = fn(point)
    names = [v.name for v in pm_model.unobserved_value_vars]
    data = {}
    for name, value in zip(names, values, strict=True):
        if name.endswith("__"):
            continue
        value = np.asarray(value, float)
        dims = ("chain", "draw", *(f"{name}_dim_{i}" for i in range(value.ndim)))
        data[name] = (dims, value.reshape(1, 1, *value.shape))
    return xr.Dataset(data, coords={"chain": [0], "draw": [0]}), point


CASES = [
    ("chinchilla", {"likelihood": "normal", "noise": "constant"}, False),
    ("supervised", {}, False),
    ("supervised", {"discrepancy": "none"}, False),
    ("distillation", {}, False),
    ("distillation", {"likelihood": "normal"}, True),
]
#: Each case compiles a log-density; these two cover every term: the offsets, the distance
#: noise, both likelihoods, the supervised law with gamma, and the distillation law with the
#: student's supervised law held fixed and its infinite-data limit.
LOGLIK_CASES = [CASES[1], CASES[4]]


@pytest.mark.parametrize(("law", "options", "cut"), LOGLIK_CASES)
def test_numpy_loglik_equals_the_pymc_models(law, options, cut):
    inputs = _inputs(law, n=40, cut=cut)
    fixed = inputs.fixed_supervised
    model = bd_model.ScalingModel(law, inputs=inputs, student_supervised=fixed, **options)
    pm_model = model.pymc(resolve_priors(law))
    post, point = _point_posterior(pm_model, jitter=1)
    draws = bd_model.Draws(post)
    oracle = pm_model.compile_logp(vars=[pm_model["obs"]], sum=True)(point)
    got = model.loglik(draws).sum()
    # PyTensor and SciPy write the Student-t density differently: they agree to rounding
    np.testing.assert_allclose(got, oracle, rtol=1e-7)
    # the log mean the predictions use is the one inside that likelihood
    mean = model.log_mean(draws, inputs.x)
    assert mean.shape == (1, len(inputs.y)) and np.all(np.isfinite(mean))


@pytest.mark.parametrize(("law", "options", "cut"), CASES)
def test_every_data_node_has_an_update(law, options, cut):
    """A cached compiled model is fed new runs through ``data_updates``: it must name exactly
    the model's data nodes, with values of the shapes the model holds."""
    inputs = _inputs(law, n=40, cut=cut)
    model = bd_model.ScalingModel(law, inputs=inputs, **options)
    pm_model = model.pymc(resolve_priors(law))
    updates = model.data_updates()
    assert set(updates) == set(pm_model.named_vars) & {d.name for d in pm_model.data_vars}
    for name, value in updates.items():
        held = pm_model[name].get_value()
        assert np.shape(held) == np.shape(value), name
        np.testing.assert_array_equal(held, value)


def test_cache_key_depends_on_structure_not_on_values():
    priors = resolve_priors("chinchilla")
    a = bd_model.ScalingModel("chinchilla", inputs=_inputs("chinchilla", n=40))
    b = bd_model.ScalingModel("chinchilla", inputs=_inputs("chinchilla", n=60))
    c = dataclasses.replace(a, noise="constant")
    assert a.cache_key(priors) != c.cache_key(priors)
    same_groups = a.inputs.groups["size"].n == b.inputs.groups["size"].n
    assert (a.cache_key(priors) == b.cache_key(priors)) == same_groups
    # without offsets the number of model sizes does not shape the model: one compiled model
    # serves run tables with any number of sizes
    a0, b0 = (dataclasses.replace(m, discrepancy="none") for m in (a, b))
    assert a0.cache_key(priors) == b0.cache_key(priors)
    assert "size_group" not in a0.pymc(priors).coords


def test_draws_are_flat_read_only_and_shaped_for_broadcasting():
    post = xr.Dataset(
        {"alpha": (("chain", "draw"), np.arange(6.0).reshape(2, 3)),
         "z_size": (("chain", "draw", "g"), np.ones((2, 3, 4)))},
        coords={"chain": [0, 1], "draw": [0, 1, 2]},
    )  # fmt: skip
    draws = bd_model.Draws(post)
    assert draws.n == 6 and "alpha" in draws and "beta" not in draws
    np.testing.assert_array_equal(draws["alpha"][:, 0], np.arange(6.0))
    assert draws["z_size"].shape == (6, 4)
    assert draws.scalar("alpha", ndim=2).shape == (6, 1, 1)
    with pytest.raises(ValueError, match="read-only"):
        draws["alpha"][0, 0] = 1.0


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        (
            {"likelihood": "huber"},
            ValueError,
            r"Unknown likelihood 'huber'\. Valid: student_t, normal",
        ),
        ({"noise": 3}, ValueError, r"Unknown noise 3\. Valid: distance, constant"),
        ({"discrepancy": "gp"}, ValueError, r"Unknown discrepancy 'gp'\. Valid: groups, none"),
        ({"draws": 10}, TypeError, r"Unknown model option\(s\) \['draws'\]"),
    ],
)
def test_model_options_are_validated_once(options, error, match):
    with pytest.raises(error, match=match):
        bd_model.check_options(**options)
    if error is ValueError:
        with pytest.raises(error, match=match):
            bd_model.ScalingModel("chinchilla", **options)


def test_a_model_without_runs_has_no_pymc_model_and_constant_noise():
    model = bd_model.ScalingModel("chinchilla")
    assert not model.located
    with pytest.raises(ValueError, match="without inputs"):
        model.pymc(resolve_priors("chinchilla"))
    with pytest.raises(ValueError, match="inputs are for the chinchilla law"):
        bd_model.ScalingModel("distillation", inputs=_inputs("chinchilla", n=20))


def _level_shares_point(theta: dict, centre_N: float, centre_D: float) -> dict:
    """The sampled coordinates of ``model._pymc_level_shares`` at the law's parameters
    ``theta`` (sampled parameterisation), computed here independently of the model."""
    gamma = theta.get("gamma", 1.0)
    T_N = np.exp(theta["a"] - theta["alpha"] * (centre_N - np.log(laws.N0)))
    T_D = np.exp(theta["b"] - theta["beta"] * (centre_D - np.log(laws.D0)))
    R = (T_N + T_D) ** gamma
    R_N, R_D = R * T_N / (T_N + T_D), R * T_D / (T_N + T_D)
    E = np.exp(theta["log_E"])
    return {
        "level": np.log(E + R),
        "share_N": np.log(R_N / E),
        "share_D": np.log(R_D / E),
        "slope_N": np.log(gamma * theta["alpha"] * R_N),
        "slope_D": np.log(gamma * theta["beta"] * R_D),
    }


@pytest.mark.parametrize("law", ["chinchilla", "supervised"])
def test_level_shares_keep_the_laws_posterior(law):
    """The supervised laws are sampled in level-share coordinates: at corresponding points the
    model's log density equals the one in the law's own parameters plus ``log |Jacobian|``
    (``-log gamma``, and the constant of the frame the coordinates are sampled in), prior,
    offsets, noise and likelihood included, and the law's parameters are recorded under their
    own names."""
    inputs = _inputs(law, n=40)
    priors = resolve_priors(law)
    shares_model = bd_model.ScalingModel(law, inputs=inputs)
    shares = shares_model.pymc(priors)
    own = bd_model.ScalingModel(law, inputs=inputs, level_shares=False).pymc(priors)
    assert {"level", "share_N", "slope_N"} <= set(shares.named_vars)
    assert "level" not in own.named_vars
    # the coordinates are sampled in a frame fitted to the runs: raw = mean + chol x
    data = shares_model.data_updates()
    mean, chol = data["share_mean"], data["share_chol"]
    rng = np.random.default_rng(3)
    theta = {"log_E": 0.55, "a": -0.9, "b": -0.3, "alpha": 0.36, "beta": 0.31, "gamma": 0.8}
    theta = {k: v for k, v in theta.items() if k in laws.SAMPLED_NAMES[law]}
    for _ in range(3):
        point = {k: v * (1 + 0.05 * rng.standard_normal()) for k, v in theta.items()}
        own_point = own.initial_point()
        for k, v in point.items():
            key = f"{k}_log__" if f"{k}_log__" in own_point else k
            own_point[key] = np.log(v) if key.endswith("_log__") else v
        share_point = {k: v for k, v in own_point.items() if k in shares.initial_point()}
        raw = _level_shares_point(point, np.mean(inputs.x["log_N"]), np.mean(inputs.x["log_D"]))
        raw = np.array([raw[k] for k in ("level", "share_N", "share_D", "slope_N", "slope_D")])
        share_point["level_share_x"] = np.linalg.solve(chol, raw - mean)
        got = shares.compile_logp()(share_point)
        want = own.compile_logp()(own_point) - np.log(point.get("gamma", 1.0))
        want += np.sum(np.log(np.diag(chol)))  # the frame's Jacobian
        np.testing.assert_allclose(got, want, rtol=1e-9)
        outputs = shares.unobserved_value_vars
        values = shares.compile_fn(outputs, inputs=shares.value_vars)(share_point)
        recorded = {v.name: value for v, value in zip(outputs, values, strict=True)}
        for k in laws.SAMPLED_NAMES[law]:
            np.testing.assert_allclose(recorded[k], point[k], rtol=1e-9, err_msg=k)
