"""Fitting a scaling law with NUTS: :func:`fit` (sampling, retries, the two-stage
distillation fit) and the compiled-model cache."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import _progress, laws
from . import model as _model
from . import validate as _validate
from ._keywords import check_keywords
from .diagnostics import ConvergenceError, ConvergenceWarning, Diagnostics, _diagnose_tree
from .persistence import _provenance, _runs_to_groups
from .priors import resolve_priors
from .results import ScalingFit

__all__ = ["DEFAULT_DRAWS", "DEFAULT_TUNE", "fit"]

SAMPLERS = ("nutpie", "numpyro", "pymc")

#: Tuning steps per chain when ``fit(..., tune=None)``, by law (see :func:`fit`).
DEFAULT_TUNE = {"chinchilla": 500, "supervised": 500, "distillation": 500}
#: Posterior draws per chain when ``fit(..., draws=None)``, by law (see :func:`fit`).
DEFAULT_DRAWS = {"chinchilla": 1000, "supervised": 1000, "distillation": 2000}
#: How a distillation fit uses its supervised runs (``fit(..., supervised=...)``).
SUPERVISED_FITS = ("cut", "joint")
TARGET_ACCEPT = 0.9

# --------------------------------------------------------------------------------------------
# fitting

_COMPILED_CACHE: dict[tuple, Any] = {}


@check_keywords
def fit(
    runs: pd.DataFrame | str | os.PathLike,
    law: Literal["chinchilla", "supervised", "distillation"] = "chinchilla",
    *,
    priors: str | Mapping[str, Any] | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: Literal["nutpie", "numpyro", "pymc"] = "nutpie",
    likelihood: Literal["student_t", "normal"] = "student_t",
    discrepancy: Literal["groups", "none"] | None = None,
    noise: Literal["distance", "constant"] | None = None,
    supervised_runs: pd.DataFrame | str | os.PathLike | None = None,
    supervised: Literal["cut", "joint"] = "cut",
    groups: str | None = None,
    retries: int = 2,
    strict: bool = False,
    progressbar: bool | None = None,
) -> ScalingFit:
    """Fit a scaling law to training runs with NUTS.

    Parameters
    ----------
    runs : DataFrame or path
        Run table (see :func:`bayes_distill.load_runs`); supervised ``N, D, loss`` for the
        Chinchilla and supervised laws, ``N_S, D_S, L_T, L_S`` for the distillation law.
    law : {"chinchilla", "supervised", "distillation"}
    priors : None, "paper" or mapping, optional
        Default weakly informative priors, priors centred on the published fits, or overrides
        by sampled parameter name (see :mod:`bayes_distill.priors`). A grouped fit also takes
        the spread between groups of each parameter, e.g. ``{"alpha_sd": ("LogNormal",
        {"mu": -2.3, "sigma": 0.5})}`` when its families' exponents may differ by ~10%.
    draws, tune : int or None
        Posterior draws and tuning steps per chain. ``None`` takes the law's
        defaults, :data:`DEFAULT_DRAWS` and :data:`DEFAULT_TUNE`: 1000 draws after 500 tuning
        steps for the supervised laws (nutpie's low-rank adaptation settles within a few
        hundred steps, and they converged as often as with 1000 at two thirds of the cost,
        ``benchmarks/samplers.py``); 2000 draws after 500 tuning steps for the distillation
        law, whose posterior is curved (``benchmarks/geometry.py``) and mixes slowly, so that
        R-hat <= 1.01 is near the noise of 1000-1500 draws. Over sixteen seeds
        (``benchmarks/convergence.py``, ``results/convergence_draws.txt``), 500 + 2000 passed
        all 16 in a median 35-37 s per fit (worst R-hat 1.009, median smallest bulk ESS
        ~1200); 500 + 1500 passed 7 of 8 seeds (14 of 17 distinct fits in all) in 28 s,
        and 1000 + 1000 7 of 8 (19 of 22) in 35 s.
        When :meth:`ScalingFit.diagnose` reports R-hat just above 1.01, more draws are the
        first thing to try.
    chains : int
        Number of chains.
    random_seed : int, optional
        Seed; the same seed gives bit-identical draws. When None, a seed is drawn and recorded
        in the fit's provenance so the fit can be reproduced.
    sampler : {"nutpie", "numpyro", "pymc"}
        NUTS implementation: nutpie (default; numba-compiled, low-rank mass-matrix adaptation),
        numpyro (JAX; needs ``pip install numpyro``) or PyMC's own.
    likelihood : {"student_t", "normal"}
        Noise model on log loss: Student-t with 4 degrees of freedom (robust, the role of the
        papers' Huber loss) or Normal.
    discrepancy : {"groups", "none"} or None
        None (default): ``"groups"``, or ``"none"`` for a grouped fit (``groups=``).
        ``"groups"``: runs of one model size share an offset from the law, and a new
        size draws a new offset (supervised laws; the distillation law has no such factor, see
        :mod:`bayes_distill.model`). ``"none"``: independent noise only. In a grouped fit the
        offsets belong to (group, model size) pairs; they are off by default there because
        with them a family of 10 IsoFLOP runs (each its own model size) mixed slowly (R-hat
        1.05-1.09 after 1000 draws, 1.00 without them; SIMULATED, ``benchmarks/groups_study.py``).
    noise : {"distance", "constant"} or None
        None (default): ``"distance"``, or ``"constant"`` for a grouped fit (``groups=``).
        ``"distance"``: the noise scale grows with the square of a run's standardised
        distance from the centre of the runs (inputs and predicted loss), at a rate learned from
        the data, and towards low predicted loss, so predictive intervals widen when
        extrapolating. ``"constant"``: one noise scale everywhere. A grouped fit takes the
        distance from each run's own group, but its default is ``"constant"``: with the
        distance, one chain in four stuck in a mode where a whole group's law runs far above
        its runs and the noise grows to cover them (measured on three SIMULATED families).
    supervised_runs : DataFrame or path, optional
        Distillation law only: supervised runs (``N, D, loss``) of the same model family, e.g.
        your teachers and other models trained on data. They identify the supervised law, which
        the distillation law uses three times: the student's supervised loss inside the law, a
        planned teacher's loss ``L(N_T, D_T)``, and the supervised baseline of every
        distil-or-train decision. Without them, only the (paper-informed) prior and the
        distillation runs inform it, which do not identify it: the fit says so.
    supervised : {"cut", "joint"}, default "cut"
        How ``supervised_runs`` are used. ``"cut"`` (two stages, as the paper fits its laws):
        the supervised law is fitted to the supervised runs alone (same draws, chains and
        priors), then held at its posterior median inside the distillation law while the
        distillation parameters are sampled, so that the distillation runs cannot move it;
        the fit's supervised draws are the first stage's, paired with the second stage's.
        ``"joint"``: one model with both likelihoods, where the distillation runs also move
        the supervised law (measured on the bundled data: ``beta`` 0.43 -> 0.34).
    groups : str, optional
        Chinchilla and supervised laws: the column of ``runs`` naming each run's group (data
        recipe, architecture, optimiser...). One law is fitted per group with partial
        pooling: each law parameter is spread around a population value with a learned
        scale, so a group with few runs borrows strength from the others and one with many
        runs is barely pulled (see ``docs/groups.md`` and :mod:`bayes_distill.model`). Needs
        at least two groups of at least :data:`~bayes_distill.data.MIN_GROUP_RUNS` runs each.
        The fit's parameters then have a ``law_group`` dimension; :meth:`ScalingFit.predict`
        reads the column, :func:`~bayes_distill.compute_optimal` takes ``group=``, and
        :meth:`ScalingFit.for_group` gives one group's law to every other function.
    retries : int, default 2
        How many times a fit that misses its diagnostics is sampled again, each time with
        twice the tuning steps and a new seed derived from ``random_seed`` (one chain that
        adapted badly is the usual cause), and, after divergent transitions, a target
        acceptance rate halfway closer to 1 (smaller steps: 0.9, then 0.95, 0.975). The fit
        keeps the attempt with the smallest R-hat, says on which attempt it converged
        (``ScalingFit.sampling_report`` and the repr), and still warns if none converged.
        ``0`` samples once.
    strict : bool, default False
        Raise :class:`ConvergenceError` instead of warning when the diagnostics fail.
    progressbar : bool or None, default None
        Show progress on stderr: the sampler's progress bar, and one line before a model is
        compiled (the first fit of a model in a process compiles it: about 20-30 s the first
        time on a machine, a few seconds once numba's disk cache holds it). None shows progress
        in interactive sessions (stderr is a terminal, or a Jupyter kernel) unless the
        environment variable ``BAYES_DISTILL_PROGRESS`` says otherwise (``0`` off everywhere,
        ``1`` on); True or False force it.

    Returns
    -------
    ScalingFit

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> fit = bd.fit(runs, law="chinchilla", random_seed=1)  # doctest: +SKIP
    >>> fit.diagnose().ok  # doctest: +SKIP
    True
    """
    from .data import check_group_column, load_runs

    laws._check_law(law)
    kind = "distillation" if law == "distillation" else "supervised"
    draws = DEFAULT_DRAWS[law] if draws is None else _validate.integer("draws", draws, 1)
    tune = DEFAULT_TUNE[law] if tune is None else _validate.integer("tune", tune, 0)
    chains = _validate.integer("chains", chains, 1)
    retries = _validate.integer("retries", retries, 0, 5)
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}. Valid samplers are {', '.join(SAMPLERS)}.")
    if noise is None:
        noise = "constant" if groups is not None else "distance"
    if discrepancy is None:
        discrepancy = "none" if groups is not None else "groups"
    _model.check_options(likelihood=likelihood, noise=noise, discrepancy=discrepancy)
    if random_seed is not None:
        random_seed = _validate.random_seed(random_seed)
    if not isinstance(strict, bool | np.bool_):
        raise TypeError(f"strict must be True or False, got {strict!r}.")
    if progressbar is not None and not isinstance(progressbar, bool | np.bool_):
        raise TypeError(
            f"progressbar must be True, False or None (shown when interactive), got "
            f"{progressbar!r}."
        )
    progressbar = _progress.enabled(progressbar)
    if sampler == "numpyro":
        import importlib.util

        if importlib.util.find_spec("numpyro") is None or importlib.util.find_spec("jax") is None:
            raise ImportError(
                "sampler='numpyro' needs numpyro and jax: pip install 'bayes_distill[numpyro]', "
                f"or use sampler='nutpie' (the default). Valid samplers are {', '.join(SAMPLERS)}."
            )
    if supervised not in SUPERVISED_FITS:
        raise ValueError(
            f"supervised must be one of {', '.join(map(repr, SUPERVISED_FITS))}, got "
            f"{supervised!r}: 'cut' fits the supervised law to supervised_runs first and holds "
            "it fixed, 'joint' fits both likelihoods together."
        )
    if supervised_runs is not None and law != "distillation":
        raise ValueError(
            f"supervised_runs is only used by law='distillation' (got law={law!r}); pass the "
            "supervised runs as `runs` instead."
        )
    table = load_runs(runs, kind=kind)
    if groups is not None:
        if law == "distillation":
            raise ValueError(
                f"groups={groups!r}: grouped fits are available for the chinchilla and "
                "supervised laws; fit the distillation law of each group separately."
            )
        check_group_column(table, groups)
    sup_table = (
        load_runs(supervised_runs, kind="supervised") if supervised_runs is not None else None
    )
    if sup_table is not None and isinstance(supervised_runs, pd.DataFrame):
        sup_table.attrs["dataset"] = supervised_runs.attrs.get("dataset", "")
    n_params = len(laws.SAMPLED_NAMES[law])
    if len(table) < n_params:
        raise ValueError(
            f"{len(table)} runs cannot constrain the {n_params} parameters of the {law} law; "
            f"give at least {n_params} runs (preferably dozens, spanning sizes and token counts)."
        )
    resolved = resolve_priors(law, priors, grouped=groups is not None)
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31))

    stage1 = None
    if sup_table is not None and supervised == "cut":
        stage1 = _fit_supervised_stage(
            sup_table,
            resolved,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=int(np.random.SeedSequence(random_seed).generate_state(1)[0]),
            sampler=sampler,
            likelihood=likelihood,
            discrepancy=discrepancy,
            progressbar=progressbar,
        )
        draws1 = {k: stage1.posterior[k].values for k in laws.SAMPLED_NAMES["supervised"]}
        fixed = {k: float(np.median(v)) for k, v in draws1.items()}
        inputs = dataclasses.replace(
            _model.prepare_inputs(law, table, None),
            fixed_supervised=fixed,
            supervised_posterior=_model.supervised_normal_approximation(draws1),
        )
    else:
        inputs = _model.prepare_inputs(law, table, sup_table, groups)
    model = _model.ScalingModel(
        law, likelihood=likelihood, discrepancy=discrepancy, noise=noise, inputs=inputs
    )
    settings = {
        "target_accept": TARGET_ACCEPT,
        "sampler": sampler,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "adaptation": "low_rank" if sampler == "nutpie" else "default",
    }
    attempts: list[dict[str, Any]] = []
    best: tuple[float, xr.DataTree, Diagnostics] | None = None
    seeds = np.random.SeedSequence(random_seed).generate_state(retries + 1)
    target_accept = settings["target_accept"]
    for attempt in range(retries + 1):
        run_settings = {
            **settings,
            "tune": settings["tune"] * 2**attempt,
            "target_accept": target_accept,
        }
        seed = random_seed if attempt == 0 else int(seeds[attempt])
        started = time.perf_counter()
        dt = _sample(model, resolved, run_settings, seed, progressbar)
        kept = _assemble(dt, law, table, sup_table, stage1, groups)
        diag = _diagnose_tree(kept)
        attempts.append(
            {
                "attempt": attempt + 1,
                "tune": run_settings["tune"],
                "draws": run_settings["draws"],
                "random_seed": seed,
                "seconds": round(time.perf_counter() - started, 2),
                "max_rhat": diag.max_rhat,
                "min_ess_bulk": diag.min_ess_bulk,
                "divergences": diag.divergences,
                "target_accept": target_accept,
                "ok": diag.ok,
            }
        )
        if diag.divergences:
            # divergences: the next attempt takes smaller steps (half the distance to 1)
            target_accept = 1.0 - (1.0 - target_accept) / 2
        if best is None or (diag.ok, -diag.max_rhat) > (best[2].ok, -best[2].max_rhat):
            best = (attempt, kept, diag)
        if diag.ok:
            break
        if attempt < retries and progressbar:
            _progress.note(
                f"the {law} fit missed its diagnostics (max R-hat {diag.max_rhat:.3f}, "
                f"{diag.divergences} divergences); sampling again with "
                f"{settings['tune'] * 2 ** (attempt + 1)} tuning steps and a new seed"
            )
    chosen, tree, diag = best
    settings = {
        **settings,
        "tune": attempts[chosen]["tune"],
        "target_accept": attempts[chosen]["target_accept"],
    }
    # where a distillation fit's supervised law comes from ("" for the supervised laws)
    supervised_fit = "" if law != "distillation" else "prior" if sup_table is None else supervised
    tree.attrs.update(
        _provenance(
            law,
            priors=resolved,
            settings=settings,
            runs=table,
            seed=random_seed,
            likelihood=likelihood,
            discrepancy=discrepancy,
            noise=noise,
            supervised_runs=sup_table,
            groups=groups,
        )
    )
    tree.attrs["supervised_fit"] = supervised_fit
    tree.attrs["sampling_attempts"] = json.dumps(attempts)
    tree.attrs["sampling_attempt_kept"] = chosen + 1
    if stage1 is not None:
        tree.attrs["supervised_fixed_at"] = json.dumps(inputs.fixed_supervised)
    result = ScalingFit(tree, law, runs=table, supervised_runs=sup_table)
    result.__dict__["_diagnostics"] = diag  # the kept attempt's, computed on this posterior
    if not diag.ok:
        tried = f" (in {len(attempts)} attempts, see fit.sampling_report)" if retries else ""
        msg = f"The {law} fit did NOT converge{tried}:\n  " + "\n  ".join(diag.problems())
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, skip_file_prefixes=_validate.INTERNAL)
    return result


def _assemble(dt, law, table, sup_table, stage1, groups=None) -> xr.DataTree:
    """The fit's DataTree from the sampler's: posterior (without transformed variables),
    the sampler statistics the diagnostics use, and the runs; a two-stage fit's first-stage
    noise is merged in."""
    const, obs = _runs_to_groups(law, table, sup_table, groups)
    keep = {"posterior": dt["posterior"].to_dataset()}
    if "sample_stats" in dt.children:
        ss = dt["sample_stats"].to_dataset()
        wanted = [
            v
            for v in (
                "diverging",
                "n_steps",
                "depth",
                "step_size",
                "energy",
                "lp",
                "tree_depth",
                "acceptance_rate",
                "mean_tree_accept",
            )
            if v in ss
        ]
        keep["sample_stats"] = ss[wanted]
    keep["constant_data"] = const
    keep["observed_data"] = obs
    post = keep["posterior"]
    drop = [v for v in post.data_vars if v.endswith("_log__") or v.endswith("_interval__")]
    keep["posterior"] = post.drop_vars(drop)
    if stage1 is not None:
        keep["posterior"] = xr.merge(
            [keep["posterior"].drop_vars("supervised_z"), _stage1_noise(stage1)]
        )
        if "sample_stats" in keep and "sample_stats" in stage1.dt.children:
            div = stage1.dt["sample_stats"].to_dataset().get("diverging")
            if div is not None and "diverging" in keep["sample_stats"]:
                # a draw counts as divergent when either stage diverged there
                keep["sample_stats"]["diverging"] = keep["sample_stats"]["diverging"] | div
    return xr.DataTree.from_dict(keep)


def _fit_supervised_stage(sup_table: pd.DataFrame, resolved: Mapping, **kwargs) -> ScalingFit:
    """First stage of a two-stage distillation fit: the supervised law on the supervised runs,
    with the distillation fit's priors on the supervised parameters and the noise."""
    names = (*laws.SAMPLED_NAMES["supervised"], "sigma", "tau")
    # one noise scale: the supervised runs of a distillation study are few (the teachers)
    return fit(
        sup_table,
        law="supervised",
        priors={k: resolved[k] for k in names},
        noise="constant",
        **kwargs,
    )


def _stage1_noise(stage1: ScalingFit) -> xr.Dataset:
    """The first stage's noise of the supervised runs, named as in a joint fit."""
    post = stage1.posterior
    out = {"sigma_supervised": post["sigma"]}
    if "tau_size" in post:
        out["tau_supervised_size"] = post["tau_size"]
        out["z_supervised_size"] = post["z_size"].rename(size_group="supervised_size_group")
    return xr.Dataset(out)


def _sample(model: _model.ScalingModel, priors, settings, seed, progressbar) -> xr.DataTree:
    sampler = settings["sampler"]
    if sampler == "nutpie":
        import nutpie

        from ._nutpie import compile_model

        key = model.cache_key(priors)
        compiled = _COMPILED_CACHE.get(key)
        if compiled is None:
            if progressbar:
                _progress.note(
                    f"compiling the {model.law} model (about 20-30 s the first time on a "
                    "machine, a few seconds once cached)"
                )
            pm_model = model.pymc(priors)
            # nutpie.compile_pymc_model, with C callbacks that numba caches on disk
            compiled = compile_model(pm_model)
            _COMPILED_CACHE[key] = compiled
        else:
            compiled = compiled.with_data(**model.data_updates())
        dt = nutpie.sample(
            compiled,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            seed=seed,
            progress_bar=progressbar,
            adaptation="low_rank",
            # 0.9 rather than nutpie's 0.8: the distance-dependent noise curves the posterior
            # enough to leave an occasional divergence at 0.8 (1 in 4000 draws on the
            # Chinchilla runs), at the cost of about one more leapfrog step per draw
            target_accept=settings["target_accept"],
            save_warmup=False,
        )
        if progressbar and _progress._stderr_is_terminal():
            # nutpie's terminal progress bar leaves the cursor after its last row: end that
            # line, so that what is printed next (e.g. the fit's repr) starts on its own line
            sys.stderr.write("\n")
            sys.stderr.flush()
        return dt
    import pymc as pm

    pm_model = model.pymc(priors)
    kwargs = {}
    if sampler == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise ImportError(
                "sampler='numpyro' needs numpyro and jax: pip install 'bayes_distill[numpyro]'."
            ) from None
        kwargs["nuts_sampler"] = "numpyro"
    else:
        kwargs["nuts_sampler"] = "pymc"
    with pm_model:
        return pm.sample(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            random_seed=seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            target_accept=settings["target_accept"],
            **kwargs,
        )
