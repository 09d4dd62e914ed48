"""The nutpie model with disk-cached C callbacks (``bayes_distill._nutpie``) computes exactly what
``nutpie.compile_pymc_model`` computes, and a second compile loads its callbacks from disk."""

import ctypes

import numpy as np
import pytest

import bayes_distill as bd
from bayes_distill import _nutpie, model, priors

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


#: Relative tolerance between two compilations of one graph: a few units in the last place.
ULPS = 1e-13


def _pymc_model(runs):
    inputs = model.prepare_inputs("chinchilla", runs)
    return model.ScalingModel("chinchilla", inputs=inputs).pymc(priors.resolve_priors("chinchilla"))


def _logp_and_grad(compiled, x):
    """Call the compiled model's C logp callback as nuts-rs does."""
    x = np.ascontiguousarray(x, dtype=float)
    grad = np.empty_like(x)
    logp = np.empty(())
    dbl = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        x.size,
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return code, float(logp), grad


def _expand(compiled, x):
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty(compiled.n_expanded)
    dbl = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_expand_func.ctypes(
        x.size,
        out.size,
        x.ctypes.data_as(dbl),
        out.ctypes.data_as(dbl),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return code, out


@pytest.fixture(scope="module")
def runs():
    return bd.datasets.load("chinchilla")


@pytest.fixture(scope="module")
def both(runs):
    import nutpie

    return nutpie.compile_pymc_model(_pymc_model(runs)), _nutpie.compile_model(_pymc_model(runs))


def test_fast_path_is_used_with_the_installed_nutpie():
    assert _nutpie.fast_path_available()


def test_logp_gradient_and_draws_equal_nutpies(both, runs):
    ref, ours = both
    assert type(ours) is type(ref)
    assert ours.n_dim == ref.n_dim and ours.n_expanded == ref.n_expanded
    assert ours.shape_info[0] == ref.shape_info[0]
    rng = np.random.default_rng(0)
    for x in [ref.initial_point_func(1), *rng.normal(0, 0.5, (3, ref.n_dim))]:
        code_r, lp_r, g_r = _logp_and_grad(ref, x)
        code_o, lp_o, g_o = _logp_and_grad(ours, x)
        assert code_o == code_r == 0
        # Same graph, compiled twice: kernels compiled afresh (an empty cache) may round the
        # last bit differently from nutpie's, so values agree to a few ulps, not bit for bit.
        np.testing.assert_allclose(lp_o, lp_r, rtol=ULPS)
        np.testing.assert_allclose(g_o, g_r, rtol=ULPS, atol=ULPS)
        np.testing.assert_allclose(_expand(ours, x)[1], _expand(ref, x)[1], rtol=ULPS)
    # a wrong dimension is refused, as nutpie's callback does
    assert _logp_and_grad(ours, np.zeros(ours.n_dim + 1))[0] == -1

    # new data through with_data: both callbacks read it
    upd = {"log_loss": np.log(runs["loss"].to_numpy()) + 0.01}
    x = ref.initial_point_func(2)
    lp_r = _logp_and_grad(ref.with_data(**upd), x)[1]
    lp_o = _logp_and_grad(ours.with_data(**upd), x)[1]
    np.testing.assert_allclose(lp_o, lp_r, rtol=ULPS)
    assert abs(lp_o - _logp_and_grad(ours, x)[1]) > 1e-6

    import nutpie

    # both sample; their draws are not compared: with kernels compiled afresh, a last-bit
    # difference in one gradient sends a chain down another trajectory within a few dozen
    # steps (NUTS is chaotic), so equal draws hold only for kernels from one compilation
    kw = {"draws": 30, "tune": 30, "chains": 1, "seed": 3, "progress_bar": False}
    for compiled in (ref, ours):
        beta = nutpie.sample(compiled, **kw).posterior["beta"].values
        assert beta.shape == (1, 30) and np.all(np.isfinite(beta))


def test_second_compile_loads_the_callbacks_from_disk(both, runs):
    again = _nutpie.compile_model(_pymc_model(runs))
    assert again.compiled_logp_func.cache_hits == 1
    assert again.compiled_expand_func.cache_hits == 1
    x = again.initial_point_func(1)
    assert _logp_and_grad(again, x)[1:2] == _logp_and_grad(both[1], x)[1:2]


def test_with_start_moves_only_the_given_variables(both, runs):
    """``with_start`` starts the named variables within ``centre +- scale``, leaves the others
    where the compiled model starts them, ignores unknown names, and is reproducible per seed."""
    mine = both[0]
    names, _, shapes = mine.shape_info
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = dict(zip(names, np.cumsum([0, *sizes[:-1]]), strict=True))
    started = _nutpie.with_start(
        mine, {"sigma_log__": (-5.0, 0.3), "eta": (0.0, 0.1), "not_a_variable": (0.0, 1.0)}
    )
    for seed in (1, 2**64 - 1):
        base, point = mine.initial_point_func(seed), started.initial_point_func(seed)
        i, j = offsets["sigma_log__"], offsets["eta"]
        assert abs(point[i] + 5.0) <= 0.3 and abs(point[j]) <= 0.1
        others = np.ones(point.size, bool)
        others[[i, j]] = False
        np.testing.assert_array_equal(point[others], base[others])
        np.testing.assert_array_equal(point, started.initial_point_func(seed))
    assert _nutpie.with_start(mine, {"not_a_variable": (0.0, 1.0)}) is mine
