"""Bayesian fits of the scaling laws with NUTS: :func:`fit`, :class:`ScalingFit`, save and load."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import __version__, _progress, laws
from . import model as _model
from ._keywords import check_keywords
from .priors import NOISE_NAMES, Prior, resolve_priors

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_TUNE",
    "SCHEMA_VERSION",
    "ConvergenceError",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "ScalingFit",
    "fit",
    "load_fit",
]

#: Version of the layout of saved fits; files with a newer schema are refused.
SCHEMA_VERSION = 2  # 2: noise grows with d^2 (attribute noise_growth); 1: with d

SAMPLERS = ("nutpie", "numpyro", "pymc")

#: Tuning steps per chain when ``fit(..., tune=None)``, by law (see :func:`fit`).
DEFAULT_TUNE = {"chinchilla": 500, "supervised": 500, "distillation": 500}
#: Posterior draws per chain when ``fit(..., draws=None)``, by law (see :func:`fit`).
DEFAULT_DRAWS = {"chinchilla": 1000, "supervised": 1000, "distillation": 2000}
LIKELIHOODS = _model.LIKELIHOODS
DISCREPANCIES = _model.DISCREPANCIES
NOISES = _model.NOISES
#: How a distillation fit uses its supervised runs (``fit(..., supervised=...)``).
SUPERVISED_FITS = ("cut", "joint")

_LOG_KEYS = _model.LOG_KEYS
RHAT_MAX = 1.01
#: Up to this R-hat a failed check is read as slow mixing (advice: more draws) rather than as
#: chains in different places (advice: more tuning, tighter priors).
RHAT_NEAR = 1.05
TARGET_ACCEPT = 0.9
ESS_MIN = 400

_CANONICAL = {
    "chinchilla": (("N", "D"), "loss"),
    "supervised": (("N", "D"), "loss"),
    "distillation": (("N_S", "D_S", "L_T"), "L_S"),
}


#: Warnings are attributed to the first caller outside the package (the user's line), however
#: deep inside bayes_distill (or its keyword-checking wrappers) they are raised.
_INTERNAL = (os.path.dirname(__file__),)


class ConvergenceError(RuntimeError):
    """Raised by ``fit(..., strict=True)`` when the sampler's diagnostics fail."""


class ConvergenceWarning(UserWarning):
    """Warned when a fit fails its diagnostics (R-hat, ESS or divergences)."""


class FitFileError(ValueError):
    """A saved fit cannot be read: truncated, foreign, or written by a newer version."""


# --------------------------------------------------------------------------------------------
# diagnostics


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of a fit (ArviZ R-hat and bulk ESS, NUTS divergences).

    Attributes
    ----------
    ok : bool
        True when ``max_rhat <= 1.01``, ``min_ess_bulk >= 400`` and there are no divergences.
    max_rhat, min_ess_bulk : float
    divergences : int
    bad_rhat, bad_ess : list of str
        Parameters failing each check.
    """

    ok: bool
    max_rhat: float
    min_ess_bulk: float
    divergences: int
    n_samples: int
    bad_rhat: list[str] = field(default_factory=list)
    bad_ess: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Human-readable list of the failed checks, with what to try."""
        out = []
        if self.bad_rhat:
            head = f"R-hat above {RHAT_MAX} (max {self.max_rhat:.3f}) for {_named(self.bad_rhat)}: "
            if self.max_rhat <= RHAT_NEAR:
                # a slowly mixing posterior, not chains in different places (convergence.py)
                advice = (
                    "the chains nearly agree but mix slowly. Try more draws (e.g. twice as "
                    "many); if that does not settle it, more tuning, tighter priors "
                    "(priors='paper'), or more runs spanning a wider range of sizes."
                )
            else:
                advice = (
                    "the chains disagree. Try more tuning (tune=2000), tighter priors "
                    "(priors='paper'), or more runs spanning a wider range of sizes."
                )
            out.append(head + advice)
        if self.bad_ess:
            out.append(
                f"bulk ESS below {ESS_MIN} (min {self.min_ess_bulk:.0f}) for "
                f"{_named(self.bad_ess)}: too few effective draws. Try more draws or "
                "more tuning."
            )
        if self.divergences:
            out.append(
                f"{self.divergences} divergent transitions: the posterior has regions the "
                "sampler cannot explore, so estimates may be biased. Try tighter priors "
                "(priors='paper'), more tuning, or check the runs for contradictory values."
            )
        return out

    def __str__(self) -> str:
        head = "converged" if self.ok else "NOT CONVERGED"
        lines = [
            f"Diagnostics: {head}",
            f"  max R-hat     {self.max_rhat:.4f} (<= {RHAT_MAX})",
            f"  min bulk ESS  {self.min_ess_bulk:.0f} (>= {ESS_MIN}) of {self.n_samples} draws",
            f"  divergences   {self.divergences} (0)",
        ]
        lines += [f"  ! {p}" for p in self.problems()]
        return "\n".join(lines)


# what each sampled parameter carries, for messages (see laws.py for the transforms)
_MEANING = {
    "log_E": "E",
    "a": "A",
    "b": "B",
    "n_prime": "A'",
    "d_prime": "B'",
    "alpha_prime_eff": "alpha'",
    "beta_prime_eff": "beta'",
    "kappa": "c1",
    "inv_f1": "f1",
    "log_d1": "d1",
    "z_size": "per-size offsets",
}


def _named(names: list[str]) -> str:
    return ", ".join(f"{n} ({_MEANING[n]})" if n in _MEANING else n for n in names)


def _diagnose_tree(dt: xr.DataTree) -> Diagnostics:
    import arviz as az

    post = dt["posterior"].to_dataset()
    with warnings.catch_warnings():
        # constant draws (e.g. a one-chain posterior given with from_params) make NumPy warn;
        # they come out as NaN/inf here and are reported as failures below
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = az.rhat(post)
        ess = az.ess(post, method="bulk")
    bad_rhat, bad_ess = [], []
    max_rhat, min_ess = 0.0, np.inf
    for name in post.data_vars:
        r = np.asarray(rhat[name].values, dtype=float)
        e = np.asarray(ess[name].values, dtype=float)
        with warnings.catch_warnings():
            # all-NaN statistics (a one-chain posterior) warn in nanmax; R-hat is then a failure
            warnings.simplefilter("ignore", RuntimeWarning)
            r_max = float(np.nanmax(r)) if r.size else 1.0
            e_min = float(np.nanmin(e)) if e.size else np.inf
        if not np.isfinite(r_max):
            r_max = np.inf
        max_rhat = max(max_rhat, r_max)
        min_ess = min(min_ess, e_min)
        if r_max > RHAT_MAX:
            bad_rhat.append(name)
        if e_min < ESS_MIN:
            bad_ess.append(name)
    divergences = 0
    if "sample_stats" in dt.children and "diverging" in dt["sample_stats"].data_vars:
        divergences = int(dt["sample_stats"]["diverging"].sum())
    n = int(post.sizes["chain"] * post.sizes["draw"])
    ok = not bad_rhat and not bad_ess and divergences == 0
    return Diagnostics(ok, max_rhat, float(min_ess), divergences, n, bad_rhat, bad_ess)


# --------------------------------------------------------------------------------------------
# the fit object


def _check_ci_prob(ci_prob: float) -> float:
    import numbers

    # numbers.Real admits numpy floats (np.float32 too); bools are rejected; NaN fails 0 < x.
    if (
        isinstance(ci_prob, bool)
        or not isinstance(ci_prob, numbers.Real)
        or not 0 < float(ci_prob) < 1
    ):
        raise ValueError(f"ci_prob must be a number in (0, 1), got {ci_prob!r}; e.g. 0.9.")
    return float(ci_prob)


class ScalingFit:
    """A fitted scaling law: the posterior and everything needed to use and reproduce it.

    Create with :func:`fit` or :func:`load_fit`; do not call the constructor directly.

    Attributes
    ----------
    law : str
        ``"chinchilla"``, ``"supervised"`` or ``"distillation"``.
    dt : xarray.DataTree
        ArviZ 1.x groups: ``posterior`` (sampled parameters), ``sample_stats``,
        ``observed_data`` and ``constant_data`` (the runs), and provenance in ``dt.attrs``.
    runs : pandas.DataFrame or None
        The canonical run table the law was fitted to (``None`` for :meth:`from_params`).
    """

    def __init__(
        self,
        dt: xr.DataTree,
        law: str,
        *,
        runs: pd.DataFrame | None,
        supervised_runs: pd.DataFrame | None = None,
    ):
        self.dt = dt
        self.law = law
        self.runs = runs
        self.supervised_runs = supervised_runs
        self._inputs = (
            _model.prepare_inputs(law, runs, supervised_runs) if runs is not None else None
        )

    # ---- provenance -----------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """Provenance recorded at fit time (versions, priors, sampler settings, data hash)."""
        attrs = dict(self.dt.attrs)
        for key in ("priors", "sampler_settings"):
            if isinstance(attrs.get(key), str):
                attrs[key] = json.loads(attrs[key])
        return attrs

    @property
    def discrepancy(self) -> str:
        return str(self.dt.attrs.get("discrepancy", "none"))

    @property
    def sampling_report(self) -> pd.DataFrame:
        """One row per sampling attempt of :func:`fit` (``retries``): tuning steps, draws,
        seed, seconds and the diagnostics of each; ``kept`` marks the attempt this fit holds.
        Empty for saved fits whose file has no record of attempts and for ``from_params`` fits."""
        raw = self.dt.attrs.get("sampling_attempts")
        frame = pd.DataFrame(json.loads(raw) if raw else [])
        if len(frame):
            frame["kept"] = frame["attempt"] == int(self.dt.attrs.get("sampling_attempt_kept", 1))
        return frame

    @cached_property
    def supervised_fixed(self) -> dict[str, float] | None:
        """Two-stage fits: the supervised parameters (sampled names) held fixed inside the
        distillation law while it was fitted, and used there for the student's own supervised
        loss; ``None`` otherwise. The posterior's supervised draws (the first stage's) serve
        the teacher's loss and the supervised baseline."""
        raw = self.dt.attrs.get("supervised_fixed_at")
        return json.loads(raw) if raw else None

    @property
    def supervised_source(self) -> str:
        """Where the supervised parameters of a distillation fit come from."""
        if self.law != "distillation":
            return "fitted"
        if self.runs is None:
            return "given directly (ScalingFit.from_params)"
        if self.supervised_runs is not None:
            name = self.supervised_runs.attrs.get("dataset")
            what = f" (bundled data set {name!r})" if name else ""
            n = len(self.supervised_runs)
            if self.dt.attrs.get("supervised_fit") == "cut":
                return (
                    f"two-stage (cut): fitted to {n} supervised runs{what} first; the "
                    "distillation runs do not update it"
                )
            return f"fitted jointly to {n} supervised runs{what}; the distillation runs move it too"
        return (
            "NOT IDENTIFIED: no supervised runs, so only the prior and the distillation runs "
            "inform it, and decisions inherit whatever the distillation fit moves it to; pass "
            "supervised_runs= (your teachers or other supervised runs)"
        )

    # ---- posterior views ------------------------------------------------------------------
    @cached_property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset (cached: treat the fit as immutable)."""
        return self.dt["posterior"].to_dataset()

    @cached_property
    def params(self) -> xr.Dataset:
        """Posterior draws of the law's natural parameters (``E, A, B, alpha, ...``)."""
        post = self.posterior
        nat = laws.to_natural(self.law, {k: post[k] for k in laws.SAMPLED_NAMES[self.law]})
        ds = xr.Dataset({k: nat[k] for k in laws.PARAM_NAMES[self.law]})
        ds.attrs["law"] = self.law
        return ds

    @property
    def noise(self) -> xr.Dataset:
        """Posterior draws of the noise scale ``sigma`` and the discrepancy spreads ``tau_*``."""
        post = self.posterior
        names = [
            n
            for n in post.data_vars
            if n in ("sigma", "lambda", "eta", "sigma_supervised") or n.startswith("tau_")
        ]
        return post[names]

    @cached_property
    def n_samples(self) -> int:
        post = self.posterior
        return int(post.sizes["chain"] * post.sizes["draw"])

    @cached_property
    def draws(self) -> _model.Draws:
        """The posterior draws as flat NumPy arrays (cached: treat the fit as immutable)."""
        return _model.Draws(self.posterior)

    @cached_property
    def model(self) -> _model.ScalingModel:
        """The observation model of this fit (its law, noise and likelihood, and its runs)."""
        attrs = self.dt.attrs
        noise = attrs.get("noise", "distance" if "lambda" in self.posterior else "constant")
        return _model.ScalingModel(
            self.law,
            likelihood=attrs.get("likelihood", "student_t"),
            discrepancy=attrs.get("discrepancy", "none"),
            noise=noise,
            inputs=self._inputs,
            growth=attrs.get("noise_growth", "linear"),  # schema-1 files: linear
            student_supervised=self.supervised_fixed,
        )

    # ---- evaluation over draws -----------------------------------------------------------
    def log_supervised_mean(self, N, D) -> np.ndarray:
        """Log of the supervised law at ``(N, D)`` for every draw: shape ``(S, *broadcast)``.

        Available for every law (a distillation fit carries the supervised parameters).
        """
        log_N, log_D = np.log(np.asarray(N, float)), np.log(np.asarray(D, float))
        return self.model.log_supervised(self.draws, log_N, log_D)

    def log_mean(self, **inputs) -> np.ndarray:
        """Log of the law (no noise, no discrepancy) for every draw: shape ``(S, *broadcast)``.

        Parameters
        ----------
        **inputs
            ``N, D`` for supervised laws; ``N_S, D_S, L_T`` for the distillation law, where
            ``L_T`` may be an array of shape ``(S, ...)`` (a teacher loss per draw).
        """
        logs = {_LOG_KEYS[k]: np.log(np.asarray(v, float)) for k, v in inputs.items()}
        return self.model.log_mean(self.draws, logs)

    def noise_draws(
        self,
        shape: tuple[int, ...] = (),
        *,
        random_seed: int | np.random.Generator | None = None,
        at: Mapping[str, Any] | None = None,
        common: bool = False,
        observation: str = "obs",
        law_mean: np.ndarray | None = None,
    ) -> np.ndarray:
        """Predictive deviation of log loss from the law, per draw: shape ``(S, *shape)``.

        The sum of the discrepancy (see :mod:`bayes_distill.model`) and the run noise
        (Student-t or Normal with scale ``sigma``).

        Parameters
        ----------
        shape : tuple of int
            Shape of the new runs.
        random_seed : int or Generator, optional
        at : mapping, optional
            Where the new runs are: the law's inputs (``N, D`` or ``N_S, D_S, L_T``, natural
            units, broadcastable to ``shape``). With it, a run at a fitted size reuses the
            fitted group offset, and the noise scale follows the run's distance from the
            centre of the fitted runs. Without it, every factor draws a new group offset; fits
            whose noise grows with distance then raise, since the noise depends on where the
            runs are.
        common : bool, default False
            Use one random number per draw for all runs (common random numbers: the
            predictive loss is then a smooth function of the inputs within each draw, which is
            what an optimiser over allocations needs).
        observation : {"obs", "supervised_obs"}
            ``"supervised_obs"``: the noise of the jointly fitted supervised runs.
        law_mean : ndarray, optional
            The law's log loss per draw at the new runs, ``(S, *shape)``, if already computed
            (it enters the distance that scales the noise).
        """
        rng = np.random.default_rng(random_seed)
        shape = tuple(shape)
        logs = None
        if at is not None:
            logs = {}
            for k, v in at.items():
                if k not in _LOG_KEYS or v is None:
                    continue
                lv = np.log(np.asarray(v, float))
                # a per-draw input (e.g. the teacher loss of each draw) has shape (S, *shape)
                per_draw = lv.ndim == len(shape) + 1 and lv.shape[0] == self.n_samples
                logs[_LOG_KEYS[k]] = lv if per_draw else np.broadcast_to(lv, shape)
        return self.model.noise_draws(
            self.draws,
            shape,
            rng,
            logs=logs,
            common=common,
            observation=observation,
            law_mean=law_mean,
        )

    # ---- user-facing summaries ----------------------------------------------------------
    def summary(self, ci_prob: float = 0.9, *, var_names: list[str] | None = None) -> pd.DataFrame:
        """ArviZ summary of the natural parameters (and the noise scales).

        Parameters
        ----------
        ci_prob : float, default 0.9
            Probability of the equal-tailed credible interval.
        var_names : list of str, optional
            Subset of parameters.

        Returns
        -------
        pandas.DataFrame
        """
        import arviz as az

        ci_prob = _check_ci_prob(ci_prob)
        ds = xr.merge([self.params, self.noise])
        if var_names is not None:
            missing = [v for v in var_names if v not in ds]
            if missing:
                raise ValueError(
                    f"Unknown var_names {missing}; this {self.law} fit has {list(ds.data_vars)}."
                )
            ds = ds[var_names]
        tree = xr.DataTree.from_dict({"posterior": ds})
        with warnings.catch_warnings():
            # constant draws (from_params fits) make NumPy warn inside R-hat/ESS; the table
            # then shows NaN for them, which is the honest answer
            warnings.simplefilter("ignore", RuntimeWarning)
            return az.summary(tree, ci_prob=ci_prob, ci_kind="eti", round_to="none")

    def diagnose(self, *, warn: bool = False) -> Diagnostics:
        """Check convergence with ArviZ: max R-hat <= 1.01, min bulk ESS >= 400, no divergences.

        Parameters
        ----------
        warn : bool, default False
            Also emit a :class:`ConvergenceWarning` naming the failing parameters.
        """
        diag = self.__dict__.get("_diagnostics")
        if diag is None:
            diag = self.__dict__["_diagnostics"] = _diagnose_tree(self.dt)
        if warn and not diag.ok:
            warnings.warn(
                f"The {self.law} fit did NOT converge:\n  " + "\n  ".join(diag.problems()),
                ConvergenceWarning,
                skip_file_prefixes=_INTERNAL,
            )
        return diag

    @check_keywords
    def predict(
        self,
        new_runs: pd.DataFrame,
        kind: Literal["mean", "predictive"] = "mean",
        ci_prob: float = 0.9,
        *,
        random_seed: int | None = None,
    ) -> pd.DataFrame:
        """Predict losses for new runs, with credible or predictive intervals.

        Parameters
        ----------
        new_runs : DataFrame
            Columns ``N, D`` (supervised laws) or ``N_S, D_S`` and either ``L_T`` or
            ``N_T, D_T`` (distillation law; the teacher loss then follows from the supervised
            law). Aliases accepted by :func:`bayes_distill.load_runs` work too.
        kind : {"mean", "predictive"}
            ``"mean"``: interval of the law itself (epistemic uncertainty only).
            ``"predictive"``: interval of a new observed run, adding the discrepancy offsets
            (a new model size draws a new offset) and run-to-run noise.
        ci_prob : float, default 0.9
            Probability of the equal-tailed interval.
        random_seed : int or numpy.random.Generator, optional
            Seed of the predictive noise.

        Returns
        -------
        DataFrame
            The input columns plus ``median``, ``lower``, ``upper`` (nats/token). For a fit
            with runs, ``extrapolation`` is the largest fold of the row's inputs and one
            ``<input>_fold`` column per input (``N_fold, D_fold, tokens_per_param_fold``;
            ``N_S_fold, D_S_fold, tokens_per_param_fold, L_T_fold`` and, for a teacher given
            by ``N_T, D_T``, ``N_T_fold, D_T_fold``, its median loss entering ``L_T_fold``)
            says how many times beyond the fitted runs' range the input lies (1 inside; see
            :mod:`bayes_distill.extrapolation`); a fit without runs (:meth:`from_params`) has
            none of these columns. ``attrs`` records ``prediction`` (the ``kind``),
            ``ci_prob``, ``n_draws`` and ``n_dropped`` (per row, the draws left out because
            the law is not finite there).

        Raises
        ------
        TypeError, DataValidationError
            If ``new_runs`` is not a DataFrame, lacks the law's columns, or holds values that
            are not finite positive numbers.
        ValueError
            For a bad ``kind``, ``ci_prob`` or ``random_seed``; or a row where the law is not
            finite for any draw, or where the predicted loss overflows the float range.

        Warns
        -----
        RuntimeWarning
            When some (not all) draws of a row are not finite (NaN or infinite, e.g. extreme
            parameter draws): they are dropped from that row's summary and counted.
        ExtrapolationWarning
            Once per call, when an input of some row lies beyond the fitted runs by more than
            :data:`~bayes_distill.extrapolation.COUNT_FOLD_LIMIT` (10) times for counts or
            :data:`~bayes_distill.extrapolation.LOSS_FOLD_LIMIT` (1.1) for the teacher loss,
            naming each such input, the row of its largest fold, its value and the range.
        """
        if not isinstance(kind, str) or kind not in ("mean", "predictive"):
            raise ValueError(f"kind must be 'mean' or 'predictive', got {kind!r}.")
        ci_prob = _check_ci_prob(ci_prob)
        if random_seed is not None and not isinstance(random_seed, np.random.Generator):
            random_seed = _validate_int("random_seed", random_seed, 0)
        x = _prediction_inputs(self.law, new_runs)
        # Numerical problems are detected and reported below, not by numpy's warnings.
        with np.errstate(all="ignore"):
            log_draws = np.asarray(self._log_draws(x, kind, random_seed), dtype=float)
        S = log_draws.shape[0]
        log_draws = log_draws.reshape(S, len(new_runs))
        finite = np.isfinite(log_draws)
        n_dropped = S - finite.sum(axis=0)

        def where(rows: np.ndarray) -> str:
            i = int(rows[0])
            values = ", ".join(
                f"{k}={float(v[i]):.4g}" for k, v in x.items() if v is not None and np.ndim(v)
            )
            more = f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
            return f"row {new_runs.index[i]!r} ({values}){more}"

        nowhere = np.flatnonzero(n_dropped == S)
        if nowhere.size:
            raise ValueError(
                f"The {self.law} law is not finite for any of the {S} posterior draws at "
                f"{where(nowhere)}; check these inputs and the fit's parameters."
            )
        with np.errstate(over="ignore"):
            losses = np.where(finite, np.exp(np.where(finite, log_draws, 0.0)), np.nan)
        overflow = np.flatnonzero(np.isinf(losses).any(axis=0))
        if overflow.size:
            raise ValueError(
                f"The predicted loss overflows the float range (log loss up to "
                f"{np.nanmax(log_draws[:, overflow[0]]):.4g}) at {where(overflow)}: these inputs "
                f"are far outside the range the {self.law} law describes."
            )
        probs = [0.5, (1 - ci_prob) / 2, (1 + ci_prob) / 2]
        if n_dropped.any():
            rows = np.flatnonzero(n_dropped)
            warnings.warn(
                f"{int(n_dropped.max())} of {S} posterior draws are not finite at "
                f"{where(rows)} and were dropped from the prediction; the intervals use the "
                "remaining draws. Non-finite draws come from extreme parameter values or inputs "
                "far outside the data; see the result's attrs['n_dropped'] for the count per row.",
                RuntimeWarning,
                skip_file_prefixes=_INTERNAL,
            )
            q = np.nanquantile(losses, probs, axis=0)
        else:
            q = np.quantile(losses, probs, axis=0)
        out = new_runs.copy()
        out["median"], out["lower"], out["upper"] = q[0], q[1], q[2]
        out.attrs = {
            **new_runs.attrs,
            "prediction": kind,
            "ci_prob": ci_prob,
            "n_draws": S,
            "n_dropped": [int(n) for n in n_dropped],
        }
        report = self._prediction_extrapolation(x)
        if report:
            folds = np.column_stack([np.asarray(e["fold"], float) for e in report.values()])
            out["extrapolation"] = np.fmax.reduce(folds, axis=1)  # NaN only if all are NaN
            for name, e in report.items():
                out[f"{name}_fold"] = e["fold"]
            from .extrapolation import _warn

            _warn(report, self.law, where=[f"row {i!r}" for i in new_runs.index], what="rows")
        return out

    def _prediction_extrapolation(self, x: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The extrapolation report of prediction inputs ``x`` (one array per input; ``{}``
        for a fit without runs). A teacher given by ``N_T, D_T`` enters with its median
        mean-law loss per row as ``L_T`` too, since that is what the distillation law sees."""
        from .extrapolation import assess

        if self.runs is None:
            return {}
        values = {k: v for k, v in x.items() if v is not None}
        if self.law == "distillation" and x.get("L_T") is None:
            with np.errstate(all="ignore"):
                lt = np.exp(self.log_supervised_mean(x["N_T"], x["D_T"]))
            ok = np.isfinite(lt).any(axis=0)
            values["L_T"] = np.full(lt.shape[1], np.nan)
            values["L_T"][ok] = np.nanmedian(lt[:, ok], axis=0)
        return assess(self, **values)

    def _log_draws(self, x: Mapping[str, np.ndarray], kind: str, random_seed=None) -> np.ndarray:
        if self.law == "distillation":
            L_T = x["L_T"]
            if L_T is None:
                L_T = np.exp(self.log_supervised_mean(x["N_T"], x["D_T"]))
                x = {**x, "L_T": L_T}  # per draw, shape (S, n)
            mu = self.log_mean(N_S=x["N_S"], D_S=x["D_S"], L_T=L_T)
        else:
            mu = self.log_mean(N=x["N"], D=x["D"])
        if kind == "mean":
            return mu
        at = {k: v for k, v in x.items() if k in _LOG_KEYS and v is not None}
        return mu + self.noise_draws(mu.shape[1:], random_seed=random_seed, at=at, law_mean=mu)

    def posterior_predictive(self, *, random_seed: int | None = None) -> xr.DataTree:
        """``dt`` with ``posterior_predictive`` (log loss of the fitted runs) and
        ``log_likelihood`` groups added (for ArviZ's PPC plots and LOO)."""
        if self._inputs is None:
            raise ValueError("This fit has no runs (built with from_params): nothing to check.")
        inp = self._inputs
        mu = self.model.log_mean(self.draws, inp.x)
        rng = np.random.default_rng(random_seed)
        ypred = mu + self.model.noise_draws(self.draws, mu.shape[1:], rng, logs=inp.x, law_mean=mu)
        C, D = self.posterior.sizes["chain"], self.posterior.sizes["draw"]
        ll = self.model.loglik(self.draws, mu)
        dims = ("chain", "draw", "run")
        new = self.dt.copy()
        new["posterior_predictive"] = xr.DataTree(
            xr.Dataset({"obs": (dims, ypred.reshape(C, D, -1))})
        )
        new["log_likelihood"] = xr.DataTree(xr.Dataset({"obs": (dims, ll.reshape(C, D, -1))}))
        if "observed_data" not in new.children:
            new["observed_data"] = xr.DataTree(xr.Dataset({"obs": (("run",), inp.y)}))
        return new

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save the fit to NetCDF (atomically), with its provenance.

        Parameters
        ----------
        path : str or Path
            Target file (``.nc``).
        overwrite : bool, default False
            Refuse to replace an existing file unless True.

        Returns
        -------
        Path

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        IsADirectoryError, FileNotFoundError
            If ``path`` is a folder, or its folder does not exist.

        Notes
        -----
        The file is written to a temporary file in the target folder, flushed to disk and
        renamed over ``path`` in one step, so a crash or an error mid-write never leaves a
        half-written file under the target name (an existing file stays as it was). The
        ``posterior_predictive`` and ``log_likelihood`` groups are not saved: they are
        recomputed from the posterior by :meth:`posterior_predictive`.
        """
        if not isinstance(overwrite, bool | np.bool_):
            raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(
                f"{path} is a folder; give the path of a file, e.g. {path / 'fit.nc'}."
            )
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it, or choose another path."
            )
        if not path.parent.is_dir():
            raise FileNotFoundError(f"The folder {path.parent} does not exist; create it first.")
        tree = self.dt.copy()
        for name in ("posterior_predictive", "log_likelihood"):
            if name in tree.children:
                del tree[name]
        # A fresh hidden name in the target folder (same file system, so the final rename is
        # atomic), created like any new file (mode 0o666 minus the umask; mkstemp's 0o600 would
        # make saved fits unreadable to the group).
        tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            encoding = {
                f"/{g}": {
                    v: {"zlib": True, "complevel": 4}
                    for v in tree[g].data_vars
                    if tree[g][v].dtype.kind == "f"
                }
                for g in tree.children
            }
            tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
            with open(tmp, "rb+") as fh:  # on disk before the rename makes it visible
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def from_params(
        cls,
        law: str,
        params: Mapping[str, Any],
        *,
        sigma: float | np.ndarray = 0.0,
        tau: float | np.ndarray = 0.0,
        n_draws: int | None = None,
    ) -> ScalingFit:
        """A 'fit' whose posterior draws are given directly (natural parameters).

        Useful to plan with published coefficients (``bd.laws.PAPER``) or with draws from
        elsewhere. Scalars are repeated ``n_draws`` times (default 1); arrays of length ``S``
        are used as ``S`` draws. ``sigma`` and ``tau`` set the predictive noise and the
        discrepancy spread of a new group.

        Examples
        --------
        >>> import bayes_distill as bd
        >>> f = bd.ScalingFit.from_params("distillation", bd.laws.PAPER, n_draws=10)
        >>> f.n_samples
        10
        """
        laws._check_law(law)
        missing = [k for k in laws.PARAM_NAMES[law] if k not in params]
        if missing:
            raise ValueError(
                f"params for law {law!r} miss {missing}; give all of {list(laws.PARAM_NAMES[law])}."
            )
        arrays = {k: np.atleast_1d(np.asarray(params[k], float)) for k in laws.PARAM_NAMES[law]}
        arrays["sigma"] = np.atleast_1d(np.asarray(sigma, float))
        arrays["tau"] = np.atleast_1d(np.asarray(tau, float))
        lengths = {len(v) for v in arrays.values()} - {1}
        if len(lengths) > 1:
            raise ValueError(f"params have inconsistent numbers of draws: {sorted(lengths)}.")
        S = n_draws or (lengths.pop() if lengths else 1)
        arrays = {k: np.broadcast_to(v, (S,)).astype(float) for k, v in arrays.items()}
        sampled = laws.to_sampled(law, arrays)
        data = {
            k: (("chain", "draw"), np.asarray(v, float).reshape(1, S)) for k, v in sampled.items()
        }
        data["sigma"] = (("chain", "draw"), arrays["sigma"].reshape(1, S))
        for g in _model.group_names(law):
            data[f"tau_{g}"] = (
                ("chain", "draw"),
                arrays["tau"].reshape(1, S) / np.sqrt(len(_model.group_names(law))),
            )
        post = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(S)})
        tree = xr.DataTree.from_dict({"posterior": post})
        tree.attrs.update(
            _provenance(
                law,
                priors=None,
                settings={"sampler": "from_params"},
                runs=None,
                seed=None,
                likelihood="normal",
                discrepancy="groups",
            )
        )
        return cls(tree, law, runs=None)

    # ---- repr -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        post = self.posterior
        med = self.params.median(("chain", "draw"))
        lines = [
            f"ScalingFit(law={self.law!r}, runs={len(self.runs) if self.runs is not None else 0}, "
            f"chains={post.sizes['chain']}, draws={post.sizes['draw']}, "
            f"sampler={self.config.get('sampler_settings', {}).get('sampler', '?')!r})",
        ]
        if self.law == "distillation":
            lines.append(f"  supervised parameters: {self.supervised_source}")
        lines.append(
            "  posterior medians: "
            + ", ".join(f"{k}={float(med[k]):.4g}" for k in laws.PARAM_NAMES[self.law])
        )
        noise = self.noise.median(("chain", "draw"))
        lines.append(
            "  noise (log loss): "
            + ", ".join(f"{k}={float(noise[k]):.3g}" for k in noise.data_vars)
        )
        report = self.sampling_report
        if len(report) > 1:
            kept = report[report["kept"]].iloc[0]
            first = report.iloc[0]
            lines.append(
                f"  sampling: kept attempt {int(kept['attempt'])} of {len(report)} (tune "
                f"{int(kept['tune'])}); the first missed its diagnostics (max R-hat "
                f"{first['max_rhat']:.3f}, {int(first['divergences'])} divergences)"
            )
        if "sample_stats" in self.dt.children:
            d = self.diagnose()
            lines.append(
                f"  diagnostics: {'ok' if d.ok else 'NOT CONVERGED'} (max R-hat {d.max_rhat:.3f}, "
                f"min ESS {d.min_ess_bulk:.0f}, divergences {d.divergences})"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# helpers


def _prediction_inputs(law: str, new_runs: pd.DataFrame) -> dict[str, np.ndarray]:
    from .data import ALIASES, DataValidationError

    if not isinstance(new_runs, pd.DataFrame):
        raise TypeError(
            f"new_runs must be a pandas DataFrame, got {type(new_runs).__name__}; e.g. "
            "pd.DataFrame({'N': [1e10], 'D': [2e11]})."
        )
    aliases = ALIASES["distillation" if law == "distillation" else "supervised"]
    frame = new_runs.rename(columns={a: c for a, c in aliases.items() if c not in new_runs})
    needed = ("N_S", "D_S") if law == "distillation" else ("N", "D")
    missing = [c for c in needed if c not in frame]
    teacher = None
    if law == "distillation":
        if "L_T" in frame:
            teacher = ("L_T",)
        elif "N_T" in frame and "D_T" in frame:
            teacher = ("N_T", "D_T")
        else:
            missing.append("L_T (or N_T and D_T)")
    if missing:
        raise DataValidationError(
            f"new_runs lacks the column(s) {missing} needed to predict with the {law} law; "
            f"found {list(new_runs.columns)}."
        )
    out: dict[str, Any] = {}
    for col in needed + (teacher or ()):
        vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(vals) | (vals <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = frame[col].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value  # 1.0, not np.float64
            label = frame.index[i]
            label = label.item() if isinstance(label, np.generic) else label
            raise DataValidationError(
                f"new_runs column {col!r} must hold finite positive numbers; row {label!r} has "
                f"{value!r}" + (f" ({int(bad.sum())} bad rows in all)." if bad.sum() > 1 else ".")
            )
        out[col] = vals
    if law == "distillation":
        out.setdefault("L_T", None)
    return out


#: What ``dt.attrs["data_sha256"]`` is the hash of (recorded next to it in every fit).
DATA_HASH_OF = (
    "SHA-256 of the arrays the model sees, in run order: for each canonical column, its name "
    "and its float64 little-endian bytes, the loss column as its natural log; then the same "
    "for the jointly fitted supervised runs (prefixed 'supervised_'). Extra columns are ignored."
)


def _data_hash(
    law: str, runs: pd.DataFrame | None, supervised_runs: pd.DataFrame | None = None
) -> str:
    """Hash of the data a fit saw (see :data:`DATA_HASH_OF`), reproducible from a saved fit.

    The losses enter as their logs because that is what the model sees and what a saved fit
    stores, so ``_data_hash(fit.law, fit.runs, fit.supervised_runs)`` of a loaded fit equals
    the hash recorded at fit time.
    """
    h = hashlib.sha256()
    tables = [
        ("", runs, _CANONICAL[law]),
        ("supervised_", supervised_runs, _CANONICAL["supervised"]),
    ]
    for prefix, frame, (inputs, target) in tables:
        if frame is None:
            continue
        for col in (*inputs, target):
            values = np.asarray(frame[col], dtype="<f8")
            if col == target:
                with np.errstate(all="ignore"):
                    values = np.log(values)
            h.update(f"{prefix}{col}:{len(values)}:".encode())
            h.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("pymc", "pytensor", "arviz", "nutpie", "numpy", "xarray"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _provenance(
    law,
    *,
    priors,
    settings,
    runs,
    seed,
    likelihood,
    discrepancy,
    noise="constant",
    supervised_runs=None,
) -> dict[str, Any]:
    import importlib.metadata as md
    import platform

    versions = _versions()
    for pkg in ("pandas", "scipy", "numba"):  # numba compiles nutpie's model
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    versions["python"] = platform.python_version()
    versions["platform"] = platform.platform()
    return {
        "bayes_distill_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "law": law,
        "likelihood": likelihood,
        "discrepancy": discrepancy,
        "noise": noise,
        "noise_growth": _model.NOISE_GROWTH,
        "priors": json.dumps({k: v.to_dict() for k, v in (priors or {}).items()}),
        "sampler_settings": json.dumps(settings),
        "random_seed": -1 if seed is None else int(seed),
        "data_sha256": _data_hash(law, runs, supervised_runs) if runs is not None else "",
        "data_sha256_of": DATA_HASH_OF,
        "n_runs": 0 if runs is None else len(runs),
        "n_supervised_runs": 0 if supervised_runs is None else len(supervised_runs),
        "supervised_runs_dataset": (
            "" if supervised_runs is None else str(supervised_runs.attrs.get("dataset", ""))
        ),
        "infinite_data_tolerance": _model.INFINITE_DATA_TOL if law == "distillation" else 0.0,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": json.dumps(versions),
    }


def _runs_to_groups(law: str, runs: pd.DataFrame, supervised_runs: pd.DataFrame | None):
    inputs, target = _CANONICAL[law]
    const = xr.Dataset({c: (("run",), runs[c].to_numpy(float)) for c in inputs})
    obs = xr.Dataset({"obs": (("run",), np.log(runs[target].to_numpy(float)))})
    obs["obs"].attrs["description"] = f"log of {target}"
    if supervised_runs is not None:
        for c in ("N", "D"):
            const[f"supervised_{c}"] = (("supervised_run",), supervised_runs[c].to_numpy(float))
        obs["supervised_obs"] = (
            ("supervised_run",),
            np.log(supervised_runs["loss"].to_numpy(float)),
        )
    return const, obs


def _groups_to_runs(law: str, tree: xr.DataTree) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    inputs, target = _CANONICAL[law]
    const = tree["constant_data"].to_dataset()
    obs = tree["observed_data"].to_dataset()
    runs = pd.DataFrame({c: const[c].values for c in inputs})
    runs[target] = np.exp(obs["obs"].values)
    sup = None
    if "supervised_N" in const:
        sup = pd.DataFrame(
            {
                "N": const["supervised_N"].values,
                "D": const["supervised_D"].values,
                "loss": np.exp(obs["supervised_obs"].values),
            }
        )
        sup.attrs["dataset"] = str(tree.attrs.get("supervised_runs_dataset", ""))
    return runs, sup


# --------------------------------------------------------------------------------------------
# fitting

_COMPILED_CACHE: dict[tuple, Any] = {}


#: Seeds must fit in 32 bits: every sampler (nutpie, numpyro's PRNGKey, PyMC) and the NetCDF
#: attribute that records the seed accept them.
_SEED_MAX = 2**32 - 1


def _validate_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}.")
    return int(value)


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
    discrepancy: Literal["groups", "none"] = "groups",
    noise: Literal["distance", "constant"] = "distance",
    supervised_runs: pd.DataFrame | str | os.PathLike | None = None,
    supervised: Literal["cut", "joint"] = "cut",
    retries: int = 1,
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
        by sampled parameter name (see :mod:`bayes_distill.priors`).
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
    discrepancy : {"groups", "none"}
        ``"groups"`` (default): runs of one model size share an offset from the law, and a new
        size draws a new offset (supervised laws; the distillation law has no such factor, see
        :mod:`bayes_distill.model`). ``"none"``: independent noise only.
    noise : {"distance", "constant"}
        ``"distance"`` (default): the noise scale grows with the square of a run's standardised
        distance from the centre of the runs (inputs and predicted loss), at a rate learned from
        the data, and towards low predicted loss, so predictive intervals widen when
        extrapolating. ``"constant"``: one noise scale everywhere.
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
    retries : int, default 1
        How many times a fit that misses its diagnostics is sampled again, each time with
        twice the tuning steps and a new seed derived from ``random_seed`` (one chain that
        adapted badly is the usual cause). The fit keeps the attempt with the smallest R-hat,
        says on which attempt it converged (``ScalingFit.sampling_report`` and the repr), and
        still warns if none converged. ``0`` samples once.
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
    from .data import load_runs

    laws._check_law(law)
    kind = "distillation" if law == "distillation" else "supervised"
    draws = DEFAULT_DRAWS[law] if draws is None else _validate_int("draws", draws, 1)
    tune = DEFAULT_TUNE[law] if tune is None else _validate_int("tune", tune, 0)
    chains = _validate_int("chains", chains, 1)
    retries = _validate_int("retries", retries, 0, 5)
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}. Valid samplers are {', '.join(SAMPLERS)}.")
    _model.check_options(likelihood=likelihood, noise=noise, discrepancy=discrepancy)
    if random_seed is not None:
        random_seed = _validate_int("random_seed", random_seed, 0, _SEED_MAX)
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
    resolved = resolve_priors(law, priors)
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
        inputs = _model.prepare_inputs(law, table, sup_table)
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
    for attempt in range(retries + 1):
        run_settings = {**settings, "tune": settings["tune"] * 2**attempt}
        seed = random_seed if attempt == 0 else int(seeds[attempt])
        started = time.perf_counter()
        dt = _sample(model, resolved, run_settings, seed, progressbar)
        kept = _assemble(dt, law, table, sup_table, stage1)
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
                "ok": diag.ok,
            }
        )
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
    chosen, tree, _ = best
    settings = {**settings, "tune": attempts[chosen]["tune"]}
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
        )
    )
    tree.attrs["supervised_fit"] = supervised_fit
    tree.attrs["sampling_attempts"] = json.dumps(attempts)
    tree.attrs["sampling_attempt_kept"] = chosen + 1
    if stage1 is not None:
        tree.attrs["supervised_fixed_at"] = json.dumps(inputs.fixed_supervised)
    result = ScalingFit(tree, law, runs=table, supervised_runs=sup_table)
    diag = result.diagnose()
    if not diag.ok:
        tried = f" (in {len(attempts)} attempts, see fit.sampling_report)" if retries else ""
        msg = f"The {law} fit did NOT converge{tried}:\n  " + "\n  ".join(diag.problems())
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, skip_file_prefixes=_INTERNAL)
    return result


def _assemble(dt, law, table, sup_table, stage1) -> xr.DataTree:
    """The fit's DataTree from the sampler's: posterior (without transformed variables),
    the sampler statistics the diagnostics use, and the runs; a two-stage fit's first-stage
    noise is merged in."""
    const, obs = _runs_to_groups(law, table, sup_table)
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


def load_fit(path: str | os.PathLike) -> ScalingFit:
    """Load a fit saved with :meth:`ScalingFit.save`.

    The file is read into memory and closed, so it can be replaced or deleted afterwards.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FitFileError
        If the file is not a bayes_distill fit (not NetCDF-4/HDF5, or a NetCDF file without the
        attributes and groups of a saved fit), is truncated or damaged, or was written with a
        newer schema version by a newer bayes_distill.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved fit at {path}.")
    if path.is_dir():
        raise FitFileError(f"{path} is a folder, not a saved fit; give the path of the .nc file.")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load()
    except Exception as exc:
        raise FitFileError(
            f"{path} could not be read as a NetCDF-4 file ({type(exc).__name__}: {exc}). It may "
            "be truncated or damaged, or not a saved fit; re-create it with fit.save()."
        ) from None

    def bad(what: str) -> FitFileError:
        return FitFileError(
            f"{path} is a NetCDF file but not a valid bayes_distill fit: {what}. Save fits with "
            "fit.save() and load them with bd.load_fit()."
        )

    attrs = tree.attrs
    problems = [f"no {k!r} attribute" for k in ("schema_version", "law") if k not in attrs]
    if "posterior" not in tree.children:
        problems.append("no 'posterior' group")
    if problems:
        raise bad(", ".join(problems))
    try:
        schema = int(attrs["schema_version"])
        if schema != float(attrs["schema_version"]):
            raise ValueError
    except (TypeError, ValueError):
        raise bad(f"schema_version is {attrs['schema_version']!r}, not an integer") from None
    if schema > SCHEMA_VERSION:
        raise FitFileError(
            f"{path} was written with schema version {schema}, newer than this bayes_distill "
            f"({__version__}, schema {SCHEMA_VERSION}); upgrade bayes_distill to read it."
        )
    law = str(attrs["law"])
    if law not in laws.LAWS:
        raise bad(f"unknown law {law!r} (valid: {', '.join(laws.LAWS)})")
    post = tree["posterior"]
    needed = [*laws.SAMPLED_NAMES[law], "sigma"]
    absent = [v for v in needed if v not in post.data_vars]
    if absent:
        raise bad(f"the posterior lacks the {law} law's variables {absent}")
    wrong_dims = [v for v in needed if post[v].dims[:2] != ("chain", "draw")]
    if wrong_dims:
        raise bad(f"posterior variables {wrong_dims} do not have dimensions (chain, draw)")
    try:
        runs = sup = None
        if "constant_data" in tree.children:
            runs, sup = _groups_to_runs(law, tree)
        return ScalingFit(tree, law, runs=runs, supervised_runs=sup)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise bad(f"its run data are incomplete ({type(exc).__name__}: {exc})") from None


__all__ += ["NOISE_NAMES", "Prior"]
