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

#: Tuning steps per chain when ``fit(..., tune=None)``, by law (see :func:`fit`). A Chinchilla
#: fit sampled by nutpie starts from a point fit of the runs (:mod:`._start`) and needs less
#: tuning; one that starts at PyMC's initial points takes :data:`STARTLESS_TUNE`.
DEFAULT_TUNE = {"chinchilla": 300, "supervised": 500, "distillation": 500}
#: Tuning steps per chain when ``tune=None`` of a fit that starts at PyMC's initial points: a
#: grouped fit, or a sampler other than nutpie.
STARTLESS_TUNE = 500
#: Default number of further attempts of a fit that misses its diagnostics.
RETRIES = 2
#: Posterior draws per chain when ``fit(..., draws=None)``, by law (see :func:`fit`).
DEFAULT_DRAWS = {"chinchilla": 1000, "supervised": 1000, "distillation": 2000}
#: Posterior draws per chain of a grouped fit when ``fit(..., draws=None)`` (see :func:`fit`).
GROUPED_DRAWS = 3000
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
    retries: int = RETRIES,
    strict: bool = False,
    progressbar: bool | None = None,
) -> ScalingFit:
    """Fit a scaling law to training runs with NUTS.

    Parameters
    ----------
    runs : DataFrame or path
        Run table (see :func:`bayes_distill.load_runs`); ``N, D, loss`` for the Chinchilla and
        supervised laws, ``N_S, D_S, L_T, L_S`` for the distillation law.
    law : {"chinchilla", "supervised", "distillation"}
    priors : None, "paper" or mapping, optional
        Default weakly informative priors, priors centred on the published fits, or overrides
        by sampled parameter name (see :mod:`bayes_distill.priors`). A grouped fit also takes
        the spread between groups of each parameter, e.g. ``{"alpha_sd": ("LogNormal",
        {"mu": -2.3, "sigma": 0.5})}`` when its families' exponents may differ by ~10%.
    draws, tune : int or None
        Posterior draws and tuning steps per chain. None: 300 tuning steps (Chinchilla law
        sampled by nutpie, not grouped) or 500, then 1000 draws (supervised laws), 2000 (the
        distillation law's curved posterior mixes slowly) or 3000 (grouped fits, whose
        one-budget families mix slowly); see :data:`DEFAULT_DRAWS`, :data:`DEFAULT_TUNE`,
        :data:`STARTLESS_TUNE`, :data:`GROUPED_DRAWS` and ``benchmarks/README.md``.
    chains : int
        Number of chains.
    random_seed : int, optional
        The same seed gives bit-identical draws; None draws one, recorded in the provenance.
    sampler : {"nutpie", "numpyro", "pymc"}
        NUTS by nutpie (default; numba-compiled, low-rank mass-matrix adaptation), numpyro
        (JAX; ``pip install numpyro``) or PyMC.
    likelihood : {"student_t", "normal"}
        Noise on log loss: Student-t with 4 degrees of freedom (robust, the role of the papers'
        Huber loss) or Normal.
    discrepancy : {"groups", "none"} or None
        ``"groups"``: runs of one model size share an offset from the law, and a new size draws
        a new one (supervised laws; see :mod:`bayes_distill.model`). ``"none"``: independent
        noise only. None: ``"groups"``, or ``"none"`` for a grouped fit (``groups=``), where
        offsets per (group, size) mix slowly (``docs/groups.md``).
    noise : {"distance", "constant"} or None
        ``"distance"``: the noise scale grows with the square of a run's standardised distance
        from the runs' centre (inputs and predicted loss) at a learned rate, and towards low
        predicted loss, so predictive intervals widen when extrapolating. ``"constant"``: one
        scale. None: ``"distance"``, or ``"constant"`` for a grouped fit (``docs/groups.md``).
    supervised_runs : DataFrame or path, optional
        Distillation law only: supervised runs (``N, D, loss``) of the model family, e.g. your
        teachers. They identify the supervised law, which gives the student's supervised loss
        inside the law, a planned teacher's loss ``L(N_T, D_T)`` and the supervised baseline of
        every decision; without them the prior and the distillation runs do not (the fit says).
    supervised : {"cut", "joint"}, default "cut"
        ``"cut"`` (two stages, as in the paper): the supervised law is fitted to the supervised
        runs alone (same draws, chains and priors), then held at its posterior median while the
        distillation parameters are sampled; its draws are the first stage's. ``"joint"``: one
        model with both likelihoods, where the distillation runs move the supervised law too.
    groups : str, optional
        The column of ``runs`` naming each run's group (data, architecture, ...): one law per
        group, partially pooled (``docs/groups.md``); at least two groups of
        :data:`~bayes_distill.data.MIN_GROUP_RUNS` runs. Parameters get a ``law_group``
        dimension; ``predict`` reads the column, ``compute_optimal``, ``recommend`` and
        ``recommend_sweep`` take ``group=``. The distillation law needs ``supervised_runs``
        with the same column and groups, and ``supervised="cut"``.
    retries : int, default 2
        How many times a fit that misses its diagnostics is sampled again, with twice the
        tuning, a seed derived from ``random_seed`` and, after divergences, a target acceptance
        halfway closer to 1 (0.9, 0.95, 0.975); after a miss without divergences (chains that
        mix slowly), twice the draws too, except in a two-stage distillation fit. The
        attempt with the smallest R-hat is kept (``ScalingFit.sampling_report``); it still
        warns if none converged.
    strict : bool, default False
        Raise :class:`ConvergenceError` instead of warning when the diagnostics fail.
    progressbar : bool or None, default None
        Progress on stderr: the sampler's bar and a line before compiling a model (30-60 s the
        first time, seconds once cached). None: shown in a terminal or Jupyter unless
        ``BAYES_DISTILL_PROGRESS`` says otherwise (``0`` off, ``1`` on).

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
    plan = _Plan(
        law=law,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        sampler=sampler,
        likelihood=likelihood,
        discrepancy=discrepancy,
        noise=noise,
        supervised=supervised,
        groups=groups,
        retries=retries,
        strict=strict,
        progressbar=progressbar,
    )
    return _fit(plan, runs, supervised_runs, priors)


def _fit(plan: _Plan, runs: Any, supervised_runs: Any, priors: Any) -> ScalingFit:
    """:func:`fit` once its arguments are checked (``plan``)."""
    table, sup_table = _load_tables(plan, runs, supervised_runs)
    resolved = resolve_priors(plan.law, priors, grouped=plan.groups is not None)
    model, stage1 = _build_model(plan, table, sup_table, resolved)
    sampled = _sample_with_retries(plan, model, resolved, table, sup_table, stage1)
    return _fit_result(plan, sampled, resolved, table, sup_table, stage1, model.inputs)


@dataclasses.dataclass
class _Plan:
    """The arguments of :func:`fit` other than the run tables and the priors, checked on
    creation, with the defaults that depend on other arguments filled in (``draws``, ``tune``,
    ``noise``, ``discrepancy``) and a seed drawn when ``random_seed`` is None."""

    law: str
    draws: int | None
    tune: int | None
    chains: int
    random_seed: int | None
    sampler: str
    likelihood: str
    discrepancy: str | None
    noise: str | None
    supervised: str
    groups: str | None
    retries: int
    strict: bool
    progressbar: bool | None
    #: Whether a retry after a failure without divergences may sample longer chains (not in
    #: the first stage of a two-stage fit, whose draws are paired with the second stage's).
    longer_chains: bool = True

    def __post_init__(self) -> None:
        law, groups = self.law, self.groups
        laws._check_law(law)
        default_draws = GROUPED_DRAWS if groups is not None else DEFAULT_DRAWS[law]
        self.draws = (
            default_draws if self.draws is None else _validate.integer("draws", self.draws, 1)
        )
        if self.tune is None:
            starts = groups is None and self.sampler == "nutpie"
            self.tune = DEFAULT_TUNE[law] if starts else max(DEFAULT_TUNE[law], STARTLESS_TUNE)
        else:
            self.tune = _validate.integer("tune", self.tune, 0)
        self.chains = _validate.integer("chains", self.chains, 1)
        self.retries = _validate.integer("retries", self.retries, 0, 5)
        if self.sampler not in SAMPLERS:
            raise ValueError(
                f"Unknown sampler {self.sampler!r}. Valid samplers are {', '.join(SAMPLERS)}."
            )
        if self.noise is None:
            self.noise = "constant" if groups is not None else "distance"
        if self.discrepancy is None:
            self.discrepancy = "none" if groups is not None else "groups"
        _model.check_options(
            likelihood=self.likelihood, noise=self.noise, discrepancy=self.discrepancy
        )
        if self.random_seed is None:
            self.random_seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
        else:
            self.random_seed = _validate.random_seed(self.random_seed)
        if not isinstance(self.strict, bool | np.bool_):
            raise TypeError(f"strict must be True or False, got {self.strict!r}.")
        if self.progressbar is not None and not isinstance(self.progressbar, bool | np.bool_):
            raise TypeError(
                f"progressbar must be True, False or None (shown when interactive), got "
                f"{self.progressbar!r}."
            )
        self.progressbar = _progress.enabled(self.progressbar)
        if self.sampler == "numpyro":
            import importlib.util

            if (
                importlib.util.find_spec("numpyro") is None
                or importlib.util.find_spec("jax") is None
            ):
                raise ImportError(
                    "sampler='numpyro' needs numpyro and jax: pip install "
                    "'bayes_distill[numpyro]', or use sampler='nutpie' (the default). Valid "
                    f"samplers are {', '.join(SAMPLERS)}."
                )
        if self.supervised not in SUPERVISED_FITS:
            raise ValueError(
                f"supervised must be one of {', '.join(map(repr, SUPERVISED_FITS))}, got "
                f"{self.supervised!r}: 'cut' fits the supervised law to supervised_runs first "
                "and holds it fixed, 'joint' fits both likelihoods together."
            )


def _load_tables(
    plan: _Plan, runs: Any, supervised_runs: Any
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The canonical run table and supervised run table (None without) of a fit, checked."""
    from .data import check_group_column, kind_of, load_runs

    law, groups = plan.law, plan.groups
    if supervised_runs is not None and law != "distillation":
        raise ValueError(
            f"supervised_runs is only used by law='distillation' (got law={law!r}); pass the "
            "supervised runs as `runs` instead."
        )
    table = load_runs(runs, kind=kind_of(law))
    if groups is not None and law == "distillation":
        _check_grouped_distillation(plan, supervised_runs)
    if groups is not None:
        check_group_column(table, groups)
    sup_table = (
        load_runs(supervised_runs, kind="supervised") if supervised_runs is not None else None
    )
    if sup_table is not None and isinstance(supervised_runs, pd.DataFrame):
        sup_table.attrs["dataset"] = supervised_runs.attrs.get("dataset", "")
    if groups is not None and sup_table is not None:
        _check_supervised_groups(table, sup_table, groups)
    n_params = len(laws.SAMPLED_NAMES[law])
    if len(table) < n_params:
        raise ValueError(
            f"{len(table)} runs cannot constrain the {n_params} parameters of the {law} law; "
            f"give at least {n_params} runs (preferably dozens, spanning sizes and token counts)."
        )
    return table, sup_table


def _check_grouped_distillation(plan: _Plan, supervised_runs: Any) -> None:
    """A grouped distillation fit is two-stage: it needs supervised runs and the cut fit."""
    if supervised_runs is None:
        raise ValueError(
            f"groups={plan.groups!r}: a grouped distillation fit needs supervised_runs= with the "
            f"same column {plan.groups!r} (each group's supervised runs, e.g. its teachers): "
            "each group's supervised law is fitted to them first. Without supervised runs, fit "
            "the distillation law of each group separately."
        )
    if plan.supervised != "cut":
        raise ValueError(
            f"supervised={plan.supervised!r} with groups={plan.groups!r}: a grouped distillation "
            "fit is two-stage (supervised='cut', the default): each group's supervised law is "
            "fitted to its supervised runs first. Use supervised='cut', or fit each group "
            "jointly on its own."
        )


def _check_supervised_groups(table: pd.DataFrame, sup_table: pd.DataFrame, groups: str) -> None:
    """The supervised runs of a grouped distillation fit name the same groups as its runs."""
    from .data import DataValidationError, check_group_column

    labels = set(check_group_column(table, groups))
    sup_labels = set(check_group_column(sup_table, groups, what="supervised_runs"))
    if labels != sup_labels:
        missing = sorted(labels - sup_labels)
        extra = sorted(sup_labels - labels)
        said = []
        if missing:
            said.append(f"groups {missing} have no supervised runs")
        if extra:
            said.append(f"groups {extra} have supervised runs but no distillation runs")
        raise DataValidationError(
            f"supervised_runs column {groups!r} (groups) must name the same groups as the runs: "
            f"{'; '.join(said)}. Give every group both kinds of runs, or leave the group out."
        )


def _build_model(
    plan: _Plan, table: pd.DataFrame, sup_table: pd.DataFrame | None, priors: Mapping[str, Any]
) -> tuple[_model.ScalingModel, ScalingFit | None]:
    """The model to sample, and the first stage of a two-stage distillation fit (else None).

    A two-stage fit samples the supervised law on the supervised runs first and holds it at
    its posterior median in the distillation model.
    """
    stage1 = None
    if sup_table is not None and plan.supervised == "cut":
        stage1 = _fit_supervised_stage(
            sup_table,
            priors,
            draws=plan.draws,
            tune=plan.tune,
            chains=plan.chains,
            random_seed=int(np.random.SeedSequence(plan.random_seed).generate_state(1)[0]),
            sampler=plan.sampler,
            likelihood=plan.likelihood,
            discrepancy=plan.discrepancy,
            progressbar=plan.progressbar,
            groups=plan.groups,
        )
        draws1 = {k: stage1.posterior[k].values for k in laws.SAMPLED_NAMES["supervised"]}
        # one value per law group for a grouped fit (the draws' last axis)
        fixed = {k: np.median(v, axis=(0, 1)) for k, v in draws1.items()}
        fixed = {k: float(v) if v.ndim == 0 else v for k, v in fixed.items()}
        inputs = dataclasses.replace(
            _model.prepare_inputs(plan.law, table, None, plan.groups),
            fixed_supervised=fixed,
            supervised_posterior=_model.supervised_normal_approximation(draws1),
        )
    else:
        inputs = _model.prepare_inputs(plan.law, table, sup_table, plan.groups)
    model = _model.ScalingModel(
        plan.law,
        likelihood=plan.likelihood,
        discrepancy=plan.discrepancy,
        noise=plan.noise,
        inputs=inputs,
    )
    return model, stage1


@dataclasses.dataclass(frozen=True)
class _Sampled:
    """What :func:`_sample_with_retries` keeps: the chosen attempt (0-based), its tree and
    diagnostics, the report of every attempt, and the settings of the chosen one."""

    chosen: int
    tree: xr.DataTree
    diagnostics: Diagnostics
    attempts: list[dict[str, Any]]
    settings: dict[str, Any]


def _sample_with_retries(
    plan: _Plan,
    model: _model.ScalingModel,
    priors: Mapping[str, Any],
    table: pd.DataFrame,
    sup_table: pd.DataFrame | None,
    stage1: ScalingFit | None,
) -> _Sampled:
    """Sample until the diagnostics pass or ``plan.retries`` more attempts are spent.

    Each retry doubles the tuning steps and takes a seed derived from ``plan.random_seed``;
    after divergent transitions the target acceptance moves halfway closer to 1, and after a
    miss without them the draws double (``plan.longer_chains``, single-stage fits). The attempt
    that passes, or else the one with the smallest R-hat, is kept.
    """
    settings = {
        "target_accept": TARGET_ACCEPT,
        "sampler": plan.sampler,
        "draws": plan.draws,
        "tune": plan.tune,
        "chains": plan.chains,
        "adaptation": "low_rank" if plan.sampler == "nutpie" else "default",
    }
    attempts: list[dict[str, Any]] = []
    best: tuple[int, xr.DataTree, Diagnostics] | None = None
    seeds = np.random.SeedSequence(plan.random_seed).generate_state(plan.retries + 1)
    target_accept, draws = settings["target_accept"], settings["draws"]
    longer = plan.longer_chains and stage1 is None
    for attempt in range(plan.retries + 1):
        run_settings = {
            **settings,
            "tune": settings["tune"] * 2**attempt,
            "draws": draws,
            "target_accept": target_accept,
        }
        seed = plan.random_seed if attempt == 0 else int(seeds[attempt])
        started = time.perf_counter()
        dt = _sample(model, priors, run_settings, seed, plan.progressbar)
        kept = _assemble(dt, plan.law, table, sup_table, stage1, plan.groups)
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
        elif longer:
            # chains that mix slowly without diverging: the next attempt samples twice as long
            draws *= 2
        if best is None or (diag.ok, -diag.max_rhat) > (best[2].ok, -best[2].max_rhat):
            best = (attempt, kept, diag)
        if diag.ok:
            break
        if attempt < plan.retries and plan.progressbar:
            _progress.note(
                f"the {plan.law} fit missed its diagnostics (max R-hat {diag.max_rhat:.3f}, "
                f"{diag.divergences} divergences); sampling again with "
                f"{settings['tune'] * 2 ** (attempt + 1)} tuning steps, {draws} draws and a new "
                "seed"
            )
    chosen, tree, diag = best
    settings = {
        **settings,
        "tune": attempts[chosen]["tune"],
        "draws": attempts[chosen]["draws"],
        "target_accept": attempts[chosen]["target_accept"],
    }
    return _Sampled(chosen, tree, diag, attempts, settings)


def _fit_result(
    plan: _Plan,
    sampled: _Sampled,
    priors: Mapping[str, Any],
    table: pd.DataFrame,
    sup_table: pd.DataFrame | None,
    stage1: ScalingFit | None,
    inputs: _model.ModelInputs,
) -> ScalingFit:
    """The :class:`ScalingFit` of the kept attempt, with its provenance; warns (or raises, when
    ``plan.strict``) if it did not converge."""
    law, tree, diag = plan.law, sampled.tree, sampled.diagnostics
    # where a distillation fit's supervised law comes from ("" for the supervised laws)
    supervised_fit = (
        "" if law != "distillation" else "prior" if sup_table is None else plan.supervised
    )
    tree.attrs.update(
        _provenance(
            law,
            priors=priors,
            settings=sampled.settings,
            runs=table,
            seed=plan.random_seed,
            likelihood=plan.likelihood,
            discrepancy=plan.discrepancy,
            noise=plan.noise,
            supervised_runs=sup_table,
            groups=plan.groups,
        )
    )
    tree.attrs["supervised_fit"] = supervised_fit
    tree.attrs["sampling_attempts"] = json.dumps(sampled.attempts)
    tree.attrs["sampling_attempt_kept"] = sampled.chosen + 1
    if stage1 is not None:
        tree.attrs["supervised_fixed_at"] = json.dumps(
            {k: np.asarray(v).tolist() for k, v in inputs.fixed_supervised.items()}
        )
    result = ScalingFit(tree, law, runs=table, supervised_runs=sup_table)
    result.__dict__["_diagnostics"] = diag  # the kept attempt's, computed on this posterior
    if not diag.ok:
        tried = (
            f" (in {len(sampled.attempts)} attempts, see fit.sampling_report)"
            if plan.retries
            else ""
        )
        msg = f"The {law} fit did NOT converge{tried}:\n  " + "\n  ".join(diag.problems())
        if plan.strict:
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
    with the distillation fit's priors on the supervised parameters and the noise (and their
    spreads between groups, for a grouped fit: then the first stage is a grouped fit)."""
    names = (*laws.SAMPLED_NAMES["supervised"], "sigma", "tau")
    if kwargs.get("groups") is not None:
        names += tuple(f"{k}_sd" for k in laws.SAMPLED_NAMES["supervised"])
    # one noise scale: the supervised runs of a distillation study are few (the teachers)
    plan = _Plan(
        law="supervised",
        noise="constant",
        supervised="cut",
        retries=RETRIES,
        strict=False,
        longer_chains=False,
        **kwargs,
    )
    return _fit(plan, sup_table, None, {k: resolved[k] for k in names})


def _stage1_noise(stage1: ScalingFit) -> xr.Dataset:
    """The first stage's noise of the supervised runs, named as in a joint fit, and, for a
    grouped fit, its population of supervised laws (``{name}_mu``, ``{name}_sd``: a group not
    fitted draws its supervised law from them)."""
    post = stage1.posterior
    out = {"sigma_supervised": post["sigma"]}
    for k in laws.SAMPLED_NAMES["supervised"]:
        for h in ("mu", "sd"):
            if f"{k}_{h}" in post:
                out[f"{k}_{h}"] = post[f"{k}_{h}"]
    if "tau_size" in post:
        out["tau_supervised_size"] = post["tau_size"]
        out["z_supervised_size"] = post["z_size"].rename(size_group="supervised_size_group")
    return xr.Dataset(out)


def _sample(model: _model.ScalingModel, priors, settings, seed, progressbar) -> xr.DataTree:
    sampler = settings["sampler"]
    if sampler == "nutpie":
        import nutpie

        from ._nutpie import compile_model, with_start

        key = model.cache_key(priors)
        compiled = _COMPILED_CACHE.get(key)
        if compiled is None:
            if progressbar:
                _progress.note(
                    f"compiling the {model.law} model (about 30-60 s the first time on a "
                    "machine, a few seconds once cached)"
                )
            pm_model = model.pymc(priors)
            # nutpie.compile_pymc_model, with C callbacks that numba caches on disk
            compiled = compile_model(pm_model)
            _COMPILED_CACHE[key] = compiled
        else:
            # only the data the compiled graph uses (a model may leave some unused)
            known = {var.name for var in compiled.shared_var_keys}
            updates = model.data_updates()
            compiled = compiled.with_data(**{k: v for k, v in updates.items() if k in known})
        dt = nutpie.sample(
            with_start(compiled, model.start_values()),
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
