"""NUTS samplers on the same models: nutpie (numba; default low-rank and diagonal mass matrix;
JAX backend), numpyro (JAX) and PyMC's own NUTS, all through ``bd.fit``.

Also nutpie with other tuning lengths (250 and 1000 around the default 500), to see whether the
default tuning is more, or less, than convergence needs.

Every row is a ``bd.fit`` call with the package's default model (priors, likelihood, discrepancy
and noise) and its default ``draws=1000, tune=500, chains=4``. The sampler calls ``bd.fit`` makes
are timed by ``common.Instrument`` (no change to the package): nutpie's compile and sample calls
separately, and ``pymc.sample`` for numpyro and PyMC. For numpyro and PyMC, compilation happens
inside ``pymc.sample``; it is estimated by the wall time of the same fit with 1 chain and 10 + 10
draws ("setup"). Tuning vs drawing time is split in proportion to the leapfrog steps of each phase
(nutpie, which records the warmup). numpyro runs its 4 chains in parallel on 4 virtual XLA host
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set by this script), as nutpie
runs 4 chains on threads. PyMC's NUTS runs as ``bd.fit`` calls it (PyMC's default ``cores`` is
``min(4, cpu_count // 2)``, i.e. 1 here: chains run one after another) and, for Chinchilla, also
with ``cores=min(chains, nproc)`` injected (on distillation only the latter).

On the distillation model every configuration other than nutpie's default (low_rank) runs with
250 tuning + 250 draws and its wall time is projected to 500 + 1000 (they need hundreds of
leapfrog steps per draw; see ``DISTILLATION_ALT_ITERS``).

Usage::

    python benchmarks/samplers.py            # full run: Chinchilla and distillation
    python benchmarks/samplers.py --quick    # smoke run: Chinchilla only, 1 chain x (50 + 50)
    python benchmarks/samplers.py --no-pymc-distillation   # skip PyMC's NUTS on distillation
    python benchmarks/samplers.py --model-costs   # compile split, cost per gradient by model
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

#: On the distillation model the configurations other than nutpie low_rank need hundreds of
#: leapfrog steps per draw (nutpie diag: 924 per draw, 1588 s for 1000 + 1000 in a first run),
#: so they run 250 tuning + 250 draws and their wall time is projected to the default 500 + 1000.
DISTILLATION_ALT_ITERS = 250


#: Extra ``bd.fit`` options for every fit of this run (``--quick``: one attempt).
FIT_OPTIONS: dict = {}


def _fit(runs, law, *, sampler, draws, tune, chains, seed, instrument=None):
    import bayes_distill as bd

    instrument = instrument or c.Instrument()
    with warnings.catch_warnings(record=True) as caught, instrument:
        warnings.simplefilter("always")
        with c.Timer() as t:
            fit = bd.fit(
                runs,
                law=law,
                sampler=sampler,
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
                **FIT_OPTIONS,
            )
    return fit, t.seconds, instrument, len(caught)


def row(law, label, fit, wall, ins, n_warn, *, setup=None, chains=4, iters=None, full=None):
    """One table row. ``iters=(tune, draws)`` run; ``full=(tune, draws)`` to project to."""
    diag = fit.diagnose()
    ess = c.ess_bulk_min(fit)
    stats = c.nuts_stats(fit)
    compile_s = ins.seconds("compile")
    sample_s = ins.seconds("sample") or ins.seconds("pm.sample")
    out = {
        "law": law,
        "sampler": label,
        "wall_s": wall,
        "compile_s": compile_s if compile_s else (setup if setup is not None else float("nan")),
        "sample_s": sample_s,
        "min_ess_bulk": ess,
        "ess_per_s_wall": ess / wall,
        "ess_per_s_sampling": ess / sample_s if sample_s else float("nan"),
        "max_rhat": diag.max_rhat,
        "converged": diag.ok,
        "divergences": stats.get("divergences", diag.divergences),
        "steps_per_draw": stats.get("steps_per_draw", float("nan")),
        "load1": os.getloadavg()[0],
    }
    if iters is not None:
        out["tune+draws"] = f"{iters[0]}+{iters[1]}"
        if full is not None and tuple(full) != tuple(iters):
            fixed = out["compile_s"] if np.isfinite(out["compile_s"]) else 0.0
            scale = sum(full) / sum(iters)
            out["projected_wall_s"] = fixed + max(wall - fixed, 0.0) * scale
        else:
            out["projected_wall_s"] = wall
    if ins.steps:
        tune_steps = ins.steps.get("tune_total_steps", 0.0)
        draw_steps = ins.steps.get("draws_total_steps", 0.0)
        total = tune_steps + draw_steps
        out["tune_steps_per_draw"] = ins.steps.get("tune_steps_per_draw", float("nan"))
        out["tune_s_est"] = sample_s * tune_steps / total if total else float("nan")
        out["draws_s_est"] = sample_s * draw_steps / total if total else float("nan")
        # wall seconds per gradient evaluation on the 2 cores the chains share
        cores = min(chains, os.cpu_count() or 1)
        out["us_per_grad"] = 1e6 * sample_s * cores / total if total else float("nan")
    if n_warn:
        out["warnings"] = n_warn
    return out


def bench_law(
    runs, law, *, draws, tune, chains, seed, samplers, rows, with_setup=True, alt_iters=None
):
    """``alt_iters``: run the non-default configurations (nutpie diag and JAX, numpyro, PyMC)
    with ``tune = draws = alt_iters`` and project their wall time to ``tune + draws``."""
    full = (tune, draws)
    alt = (alt_iters, alt_iters) if alt_iters else full

    def emit(r):
        rows.append(r)
        print(c.table([r]), flush=True)

    if "nutpie" in samplers:
        c.clear_compiled_cache()
        fit, wall, ins, nw = _fit(
            runs, law, sampler="nutpie", draws=draws, tune=tune, chains=chains, seed=seed
        )
        emit(row(law, "nutpie numba low_rank, cold", fit, wall, ins, nw, chains=chains, iters=full))
        fit, wall, ins, nw = _fit(
            runs, law, sampler="nutpie", draws=draws, tune=tune, chains=chains, seed=seed + 1
        )
        emit(row(law, "nutpie numba low_rank, warm", fit, wall, ins, nw, chains=chains, iters=full))
    if "nutpie-tune" in samplers:
        for short in (250, 1000):
            fit, wall, ins, nw = _fit(
                runs, law, sampler="nutpie", draws=draws, tune=short, chains=chains, seed=seed + 1
            )
            emit(
                row(
                    law,
                    f"nutpie numba low_rank, warm, tune={short}",
                    fit,
                    wall,
                    ins,
                    nw,
                    chains=chains,
                    iters=(short, draws),
                )
            )
    # non-default nutpie configurations: (key, label, Instrument options, seed, cold)
    variants = (
        ("nutpie-diag", "nutpie numba diag, warm", {"adaptation": "diag"}, seed + 1, False),
        ("nutpie-jax", "nutpie jax low_rank, cold", {"nutpie_backend": "jax"}, seed, True),
    )
    for key, label, options, vseed, cold in variants:
        if key not in samplers:
            continue
        if cold:
            c.clear_compiled_cache()
        fit, wall, ins, nw = _fit(
            runs,
            law,
            sampler="nutpie",
            draws=alt[1],
            tune=alt[0],
            chains=chains,
            seed=vseed,
            instrument=c.Instrument(**options),
        )
        if cold:
            c.clear_compiled_cache()  # the cache key does not know the backend
        emit(row(law, label, fit, wall, ins, nw, chains=chains, iters=alt, full=full))
    for sampler in ("numpyro", "pymc", "pymc-cores"):
        if sampler not in samplers:
            continue
        name = "pymc" if sampler == "pymc-cores" else sampler
        setup = None
        if with_setup:
            _, setup, _, _ = _fit(runs, law, sampler=name, draws=10, tune=10, chains=1, seed=seed)
        if sampler == "pymc-cores":
            cores = min(chains, os.cpu_count() or 1)
            ins = c.Instrument(pm_kwargs={"cores": cores})
            label = f"PyMC NUTS, cores={cores} injected"
        else:
            ins = None
            label = {"numpyro": "numpyro (via pm.sample)", "pymc": "PyMC NUTS (bd.fit default)"}[
                sampler
            ]
        fit, wall, ins, nw = _fit(
            runs,
            law,
            sampler=name,
            draws=alt[1],
            tune=alt[0],
            chains=chains,
            seed=seed,
            instrument=ins,
        )
        emit(row(law, label, fit, wall, ins, nw, setup=setup, chains=chains, iters=alt, full=full))


MODEL_VARIANTS = (
    ("default (student_t, groups, distance)", {}),
    ("likelihood=normal", {"likelihood": "normal"}),
    ("noise=constant", {"noise": "constant"}),
    ("discrepancy=none", {"discrepancy": "none"}),
    (
        "normal, none, constant",
        {"likelihood": "normal", "discrepancy": "none", "noise": "constant"},
    ),
)


def model_costs(laws_: tuple[str, ...], n_evals: int) -> list[dict]:
    """Compile time (PyTensor graph functions vs numba's two C callbacks: logp+gradient and
    'expand') and the cost of one logp+gradient evaluation (the PyTensor numba function that
    nutpie's callback wraps, called from Python) of the model ``bd.fit`` builds, for variants of
    the observation model."""
    import numba
    import numpy as np
    import nutpie

    import bayes_distill as bd
    from bayes_distill import model as bd_model
    from bayes_distill import priors as bd_priors

    cfunc_times: list[float] = []
    orig_cfunc = numba.cfunc

    def timed_cfunc(*args, **kwargs):
        decorator = orig_cfunc(*args, **kwargs)

        def apply(fn):
            with c.Timer() as t:
                out = decorator(fn)
            cfunc_times.append(t.seconds)
            return out

        return apply

    rows = []
    numba.cfunc = timed_cfunc
    try:
        first = True
        for law in laws_:
            kind = "distillation" if law == "distillation" else "supervised"
            table = bd.load_runs(bd.datasets.load(law), kind=kind)
            inputs = bd_model.prepare_inputs(law, table)
            priors = bd_priors.resolve_priors(law, None)
            for label, kwargs in MODEL_VARIANTS:
                cfunc_times.clear()
                with c.Timer() as t_build:
                    pm_model = bd_model.ScalingModel(law, inputs=inputs, **kwargs).pymc(priors)
                with c.Timer() as t_compile:
                    compiled = nutpie.compile_pymc_model(pm_model)
                # nutpie 0.16 has no benchmark_logp on PyMC models: time the PyTensor numba
                # function the C callback wraps (includes ~µs of Python call overhead)
                point = np.zeros(compiled.n_dim)
                compiled.logp_func(point)
                per_eval = np.empty(n_evals)
                for i in range(n_evals):
                    t0 = time.perf_counter()
                    compiled.logp_func(point)
                    per_eval[i] = time.perf_counter() - t0
                logp_s = cfunc_times[0] if cfunc_times else float("nan")
                expand_s = cfunc_times[1] if len(cfunc_times) > 1 else float("nan")
                rows.append(
                    {
                        "law": law,
                        "model": label + (" [first compile in process]" if first else ""),
                        "n_dim": compiled.n_dim,
                        "build_s": t_build.seconds,
                        "compile_s": t_compile.seconds,
                        "numba_logp_s": logp_s,
                        "numba_expand_s": expand_s,
                        "pytensor_s": t_compile.seconds - sum(cfunc_times),
                        "us_per_grad_median": 1e6 * float(np.median(per_eval)),
                        "us_per_grad_min": 1e6 * float(np.min(per_eval)),
                        "load1": os.getloadavg()[0],
                    }
                )
                first = False
                print(c.table(rows[-1:]), flush=True)
    finally:
        numba.cfunc = orig_cfunc
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (Chinchilla only)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-pymc-distillation",
        action="store_true",
        help="skip PyMC's own NUTS on the distillation model (slow)",
    )
    parser.add_argument(
        "--model-costs",
        action="store_true",
        help="instead: compile time split and cost per gradient of model variants",
    )
    args = parser.parse_args(argv)
    if args.model_costs:
        start = c.header("samplers --model-costs: where compile and gradient time go", argv)
        laws_ = ("chinchilla",) if args.quick else ("chinchilla", "distillation")
        rows = model_costs(laws_, 200 if args.quick else 5000)
        print("\n## Summary")
        print(
            "compile_s = pytensor_s (graph rewriting and PyTensor functions) + numba_logp_s + "
            "numba_expand_s (numba compiling nutpie's two C callbacks). us_per_grad: one "
            "logp+gradient evaluation at the zero point, called from Python (the PyTensor "
            "numba function)."
        )
        print(c.table(rows))
        c.footer(start)
        return 0
    start = c.header("samplers: nutpie vs numpyro vs PyMC NUTS through bd.fit", argv)

    import bayes_distill as bd

    if args.quick:
        FIT_OPTIONS.update(c.quick_fit_options(True))
        draws, tune, chains = 50, 50, 1
        plan = [("chinchilla", ("nutpie", "nutpie-diag", "numpyro", "pymc"))]
    else:
        draws, tune, chains = 1000, 500, 4  # bd.fit's defaults
        dist_samplers = ("nutpie", "nutpie-tune", "nutpie-diag", "nutpie-jax", "numpyro")
        if not args.no_pymc_distillation:
            dist_samplers += ("pymc-cores",)
        plan = [
            (
                "chinchilla",
                (
                    "nutpie",
                    "nutpie-tune",
                    "nutpie-diag",
                    "nutpie-jax",
                    "numpyro",
                    "pymc",
                    "pymc-cores",
                ),
            ),
            ("distillation", dist_samplers),
        ]
    xla = os.environ["XLA_FLAGS"]
    print(f"\nsettings: draws={draws} tune={tune} chains={chains}; XLA_FLAGS={xla}")
    rows: list[dict] = []
    for law, samplers in plan:
        print(f"\n## {law}", flush=True)
        bench_law(
            bd.datasets.load(law),
            law,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=args.seed,
            samplers=samplers,
            rows=rows,
            with_setup=not args.quick,
            alt_iters=None if args.quick or law != "distillation" else DISTILLATION_ALT_ITERS,
        )

    cols = [
        "law",
        "sampler",
        "tune+draws",
        "wall_s",
        "projected_wall_s",
        "compile_s",
        "sample_s",
        "tune_s_est",
        "draws_s_est",
        "min_ess_bulk",
        "ess_per_s_wall",
        "ess_per_s_sampling",
        "max_rhat",
        "converged",
        "divergences",
        "steps_per_draw",
        "tune_steps_per_draw",
        "us_per_grad",
        "load1",
    ]
    print("\n## Summary")
    print(
        "compile_s: nutpie's compile call, or for numpyro/PyMC the 'setup' estimate (wall of a "
        "1-chain 10+10 fit; not measured with --quick). sample_s: the nutpie.sample / "
        "pymc.sample call. tune_s_est and draws_s_est split sample_s by leapfrog steps. "
        "steps_per_draw: sampling phase. projected_wall_s: rows run with fewer iterations, "
        "projected to the full tune+draws (compile/setup + sampling x iterations ratio). "
        "us_per_grad: sample_s x min(chains, cores) / all leapfrog steps."
    )
    print(c.table(rows, cols))
    for law in dict.fromkeys(r["law"] for r in rows):
        base = next(r for r in rows if r["law"] == law and r["sampler"].endswith("warm"))
        print(f"\nRatios against nutpie numba low_rank (warm), {law}:")
        print(
            c.table(
                [
                    {
                        "sampler": r["sampler"],
                        "(projected) wall / nutpie warm wall": r.get(
                            "projected_wall_s", r["wall_s"]
                        )
                        / base["wall_s"],
                        "ESS/s(wall) / nutpie warm": r["ess_per_s_wall"] / base["ess_per_s_wall"],
                    }
                    for r in rows
                    if r["law"] == law
                ]
            )
        )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
