"""Compile a PyMC model for nutpie with C callbacks that numba caches on disk.

``nutpie.compile_pymc_model`` compiles the model's log density and gradient with PyTensor's
numba backend (cached on disk by PyTensor), then wraps them in two ``numba.cfunc`` callbacks for
nuts-rs. Those wrappers are closures over the model's data, so numba cannot cache them: on this
machine they took 12-13 s of a 26 s first Chinchilla fit, in every new process.

:func:`compile_model` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel` with wrappers
written as source text that has no closures: they read the data arrays from nutpie's user-data
record (the layout ``nutpie.compile_pymc.make_user_data`` writes, so ``with_data`` keeps working)
and call PyTensor's compiled function. The wrapper is registered with PyTensor's numba cache
locator under a key made of its source, PyTensor's key of the function it calls, and the numba
and nutpie versions, so a later process loads it from disk. The log density, gradient and draws
are the same numbers nutpie's own wrappers give (a test compares them).

The module uses nutpie's internal helpers (``_make_functions`` and the user-data record); if a
future nutpie lacks them, :func:`compile_model` falls back to ``nutpie.compile_pymc_model``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["compile_model", "fast_path_available", "with_start"]

#: Bump when the generated wrappers change, so that old cache entries are not used.
_WRAPPER_VERSION = "1"

_LOGP_TEMPLATE = """\
def logp_cfunc(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
{unpack}
    x = carray(x_, ({n_dim},))
    out = carray(out_, ({n_dim},))
    lp = carray(logp_, ())
    try:
        logp_val, grad = inner(x{args})
    except Exception:
        return 1
    lp[()] = logp_val
    out[...] = grad
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(logp_val):
        return 4
    return 0
"""

_EXPAND_TEMPLATE = """\
def expand_cfunc(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim} or expanded != {n_expanded}:
        return -1
{unpack}
    x = carray(x_, ({n_dim},))
    out = carray(out_, ({n_expanded},))
    try:
        (values,) = inner(x{args})
    except Exception:
        return -2
    out[...] = values
    return 0
"""


def _internals():
    """nutpie's and PyTensor's internal helpers, or None when this version lacks one."""
    try:
        from nutpie import compile_pymc as cp
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

        needed = (
            "_make_functions",
            "_prepare_dims_and_coords",
            "_wrap_with_lock",
            "make_user_data",
            "address_as_void_pointer",
            "CompiledPyMCModel",
        )
        if not all(hasattr(cp, name) for name in needed):
            return None
    except ImportError:
        return None
    return cp, CACHED_SRC_FUNCTIONS, compile_numba_function_src


def fast_path_available() -> bool:
    """Whether :func:`compile_model` can build cacheable callbacks with the installed nutpie."""
    return _internals() is not None


def _unpack_lines(keys: list[str], shared: dict[str, np.ndarray]) -> str:
    """Source lines that view each data array in the user-data record as ``a0, a1, ...``."""
    if not keys:
        return ""
    lines = ["    sh = carray(user_data_, (), RECORD)['shared']"]
    for i, key in enumerate(keys):
        arr = shared[key]
        ptr = f"void_ptr(sh['data']['{key}'][()])"
        shape = "".join(f"int(sh['shape']['{key}'][{j}]), " for j in range(arr.ndim))
        lines.append(f"    a{i} = carray({ptr}, ({shape}), np.{arr.dtype.name})")
    return "\n".join(lines)


def _callback(
    internals, kind: str, template: str, signature, inner, keys, shared, record_dtype, sizes
):
    """Compile one C callback; cached on disk when PyTensor cached the function it calls.

    ``internals`` is what :func:`_internals` returned to :func:`compile_model`.
    """
    import numba
    import nutpie

    cp, cached_src_functions, compile_src = internals
    src = template.format(
        unpack=_unpack_lines(keys, shared),
        args="".join(f", a{i}" for i in range(len(keys))),
        **sizes,
    )
    inner_key = cached_src_functions.get(getattr(inner, "py_func", None))
    cache_key = None
    if inner_key is not None:
        material = "\n".join(
            (
                _WRAPPER_VERSION,
                src,
                str(record_dtype),
                inner_key,
                numba.__version__,
                nutpie.__version__,
            )
        )
        cache_key = f"bayes_distill_{kind}_" + hashlib.sha256(material.encode()).hexdigest()
    env = {
        # numba rebuilds a cached function's environment by importing its module
        "__name__": __name__,
        "inner": inner,
        "carray": numba.carray,
        "np": np,
        "void_ptr": cp.address_as_void_pointer,
        "RECORD": record_dtype,
    }
    pyfunc = compile_src(src, f"{kind}_cfunc", global_env=env, cache_key=cache_key)
    return numba.cfunc(signature, cache=cache_key is not None)(pyfunc)


def compile_model(model: Any):
    """Compile ``model`` for ``nutpie.sample``; a drop-in for ``nutpie.compile_pymc_model``.

    Parameters
    ----------
    model : pymc.Model
        The model to compile (initial points: PyMC's support points, jittered, as nutpie).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        With the numba backend; ``with_data`` replaces data arrays as with nutpie's own.
    """
    internals = _internals()
    if internals is None:
        import nutpie

        return nutpie.compile_pymc_model(model)
    import numba
    from pymc.initial_point import make_initial_point_fn

    cp = internals[0]
    # as nutpie.compile_pymc_model: jittered support points, one chain at a time (the lock
    # keeps the random draws of the chains' threads reproducible for a seed)
    initial_point_fn = cp._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, init_fn, shape_info, reparameterized = (
        cp._make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=initial_point_fn,
        )
    )
    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys: dict[Any, str] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        # deterministic keys (nutpie draws random ones): they appear in the cached source
        key = f"d{len(shared_var_keys)}"
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[key] = value
        shared_var_keys[var] = key
    user_data = cp.make_user_data(shared_var_keys, shared_data)
    sizes = {"n_dim": n_dim, "n_expanded": n_expanded}
    f64p = numba.types.CPointer(numba.types.double)
    u64, i64, void = numba.types.uint64, numba.types.int64, numba.types.voidptr
    callbacks = {
        kind: _callback(
            internals,
            kind,
            template,
            signature,
            fn.vm.jit_fn,
            [shared_var_keys[v] for v in fn.get_shared()],
            shared_data,
            user_data.dtype,
            sizes,
        )
        for kind, template, signature, fn in (
            ("logp", _LOGP_TEMPLATE, i64(u64, f64p, f64p, f64p, void), logp_pt),
            ("expand", _EXPAND_TEMPLATE, i64(u64, u64, f64p, f64p, void), expand_pt),
        )
    }
    dims, coords = cp._prepare_dims_and_coords(model, shape_info, reparameterized)
    return cp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=callbacks["logp"],
        compiled_expand_func=callbacks["expand"],
        initial_point_func=init_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        reparameterized_names=reparameterized,
    )


def with_start(compiled, values: dict[str, tuple[Any, Any]]):
    """``compiled`` with its chains started near given values.

    Parameters
    ----------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
    values : dict
        ``{name: (centre, scale)}`` by sampled (transformed) variable name: each chain starts
        that variable at ``centre + scale * u``, ``u`` uniform on ``[-1, 1]`` (PyMC's jitter,
        scaled), drawn from the chain's seed. Other variables start where ``compiled`` would
        start them; names the model does not have are ignored, and a compiled model other than
        nutpie's PyMC one is returned as it is.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
    """
    import dataclasses

    if not values or not hasattr(compiled, "shape_info"):
        return compiled
    names, _, shapes = compiled.shape_info
    slices, cursor = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        if cursor >= compiled.n_dim:
            break  # the deterministics follow the sampled variables
        size = int(np.prod(shape))
        slices[name] = (slice(cursor, cursor + size), tuple(int(k) for k in shape))
        cursor += size
    known = {k: v for k, v in values.items() if k in slices}
    if not known:
        return compiled
    base = compiled.initial_point_func

    def initial_point(seed):
        point = np.array(base(seed), dtype=float)
        rng = np.random.default_rng([int(seed) % 2**63, 1])
        for name, (centre, scale) in known.items():
            where, shape = slices[name]
            u = rng.uniform(-1.0, 1.0, shape)
            point[where] = np.ravel(np.broadcast_to(centre + scale * u, shape))
        return point

    return dataclasses.replace(compiled, initial_point_func=initial_point)
