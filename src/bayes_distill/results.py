"""The result of a fit: :class:`ScalingFit`, its posterior, predictions and summaries."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import laws
from . import model as _model
from . import validate as _validate
from ._keywords import check_keywords
from .diagnostics import ConvergenceWarning, Diagnostics, _diagnose_tree
from .validate import INTERNAL as _INTERNAL

__all__ = ["ScalingFit"]

_LOG_KEYS = _model.LOG_KEYS


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
        The canonical run table the law was fitted to (``None`` for :meth:`from_params`; the
        group's runs for one group of a grouped fit, :meth:`for_group`).
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
        column = self.groups
        self._inputs = (
            _model.prepare_inputs(law, runs, supervised_runs, column) if runs is not None else None
        )
        if self.group is not None and runs is not None:
            # one group of a grouped fit: its own runs, with the model of all the fitted runs
            self.runs = runs[runs[column].astype(str) == self.group]
            if supervised_runs is not None and column in supervised_runs:
                mine = supervised_runs[column].astype(str) == self.group
                self.supervised_runs = supervised_runs[mine]

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
    def groups(self) -> str | None:
        """The column of the runs naming their law groups, for a grouped fit (and one group of
        it); ``None`` for a fit of one law."""
        return str(self.dt.attrs.get("groups", "")) or None

    @property
    def group(self) -> str | None:
        """The law group this fit evaluates (:meth:`for_group`), else ``None``."""
        return str(self.dt.attrs.get("law_group_view", "")) or None

    @property
    def group_names(self) -> tuple[str, ...]:
        """The law groups of a grouped fit, in the order of the ``law_group`` dimension
        (empty for a fit of one law)."""
        if self._inputs is None or self._inputs.law_groups is None:
            return ()
        return self._inputs.law_groups.names

    def for_group(self, name: Any) -> ScalingFit:
        """One group's law of a grouped fit, as a fit of one law.

        Its posterior holds that group's parameters (without the population's), its ``runs``
        are that group's runs, and its noise, discrepancy and distances are the grouped
        fit's. Every function that takes a fit takes it (``bd.crossover``, plots, checks...).

        Parameters
        ----------
        name : str
            A group name (see :attr:`group_names`; labels are compared as text).

        Returns
        -------
        ScalingFit
        """
        label = self._check_group(name, "for_group")
        post = self.posterior
        pooled = [v for v in post.data_vars if "law_group" in post[v].dims]
        hyper = [
            f"{k}_{h}" for k in laws.SAMPLED_NAMES[self.law] for h in ("mu", "sd", "log", "c", "z")
        ]
        one = post.drop_vars([v for v in hyper if v in post])
        one = one.sel(law_group=label, drop=True) if pooled else one
        tree = self.dt.copy()
        tree["posterior"] = xr.DataTree(one)
        tree.attrs["law_group_view"] = label
        return ScalingFit(tree, self.law, runs=self.runs, supervised_runs=self.supervised_runs)

    def _check_group(self, name: Any, function: str) -> str:
        """``name`` as one of this grouped fit's groups, or an error naming the valid ones."""
        if self.groups is None or self.group is not None:
            what = "a fit of one law" if self.groups is None else f"group {self.group!r}'s law"
            raise ValueError(
                f"{function}: group={name!r} needs a grouped fit (bd.fit(runs, law=..., "
                f"groups='COLUMN')); this is {what}: leave group= out."
            )
        label = str(name) if isinstance(name, str | int | np.integer) else None
        if label is None or label not in self.group_names:
            raise ValueError(
                f"{function}: group={name!r} is not a group of this fit (column "
                f"{self.groups!r}); valid groups: {', '.join(map(repr, self.group_names))}."
            )
        return label

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
    def _group_spreads(self) -> xr.Dataset:
        """A grouped fit's spreads between groups (``{name}_sd``); empty otherwise."""
        post = self.posterior
        names = [f"{k}_sd" for k in laws.SAMPLED_NAMES[self.law] if f"{k}_sd" in post]
        return post[names]

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
            student_supervised=self._student_supervised,
            group=None if self.group is None else self.group_names.index(self.group),
        )

    @property
    def _student_supervised(self) -> dict[str, Any] | None:
        """:attr:`supervised_fixed` as the model takes it: one value per law group for a
        grouped two-stage fit, that group's value for one group of it (:meth:`for_group`)."""
        fixed = self.supervised_fixed
        if fixed is None or self.groups is None:
            return fixed
        if self.group is None:
            return {k: np.asarray(v, float) for k, v in fixed.items()}
        at = self.group_names.index(self.group)
        return {k: float(np.asarray(v, float)[at]) for k, v in fixed.items()}

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

        For a grouped fit, one row per parameter and group (``alpha[name]``), and the spread of
        each sampled parameter between the groups (``alpha_sd``: on the log scale for the
        exponents, see :mod:`bayes_distill.model`).

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

        ci_prob = _validate.probability("ci_prob", ci_prob)
        ds = xr.merge([self.params, self.noise, self._group_spreads])
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
            law). Aliases accepted by :func:`bayes_distill.load_runs` work too. For a grouped
            fit, also its group column (:attr:`groups`): each row is predicted with its
            group's law; a row of a group not fitted gets a new group's parameters, drawn from
            the population (the hyperprior as fitted) once per draw and new group, so its
            intervals carry the spread between groups.
        kind : {"mean", "predictive"}
            ``"mean"``: interval of the law itself (epistemic uncertainty only).
            ``"predictive"``: interval of a new observed run, adding the discrepancy offsets
            (a new model size draws a new offset) and run-to-run noise.
        ci_prob : float, default 0.9
            Probability of the equal-tailed interval.
        random_seed : int or numpy.random.Generator, optional
            Seed of the predictive noise (and of a new group's parameters).

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
        ci_prob = _validate.probability("ci_prob", ci_prob)
        if random_seed is not None and not isinstance(random_seed, np.random.Generator):
            random_seed = _validate.random_seed(random_seed)
        x = _prediction_inputs(self.law, new_runs)
        rng = np.random.default_rng(random_seed)
        group, draws = self._prediction_groups(new_runs, rng)
        # Numerical problems are detected and reported below, not by numpy's warnings.
        with np.errstate(all="ignore"):
            log_draws = np.asarray(self._log_draws(x, kind, rng, group, draws), dtype=float)
        S = log_draws.shape[0]
        probs = [0.5, (1 - ci_prob) / 2, (1 + ci_prob) / 2]
        q, n_dropped = _loss_quantiles(
            log_draws.reshape(S, len(new_runs)), probs, x, new_runs, self.law
        )
        out = new_runs.copy()
        out["median"], out["lower"], out["upper"] = q[0], q[1], q[2]
        out.attrs = {
            **new_runs.attrs,
            "prediction": kind,
            "ci_prob": ci_prob,
            "n_draws": S,
            "n_dropped": [int(n) for n in n_dropped],
        }
        report = self._prediction_extrapolation(x, group, draws)
        if report:
            folds = np.column_stack([np.asarray(e["fold"], float) for e in report.values()])
            out["extrapolation"] = np.fmax.reduce(folds, axis=1)  # NaN only if all are NaN
            for name, e in report.items():
                out[f"{name}_fold"] = e["fold"]
            from .extrapolation import _warn

            _warn(report, self.law, where=[f"row {i!r}" for i in new_runs.index], what="rows")
        return out

    def _prediction_extrapolation(
        self,
        x: Mapping[str, Any],
        group: np.ndarray | None = None,
        draws: _model.Draws | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The extrapolation report of prediction inputs ``x`` (one array per input; ``{}``
        for a fit without runs). A teacher given by ``N_T, D_T`` enters with its median
        mean-law loss per row as ``L_T`` too, since that is what the distillation law sees
        (grouped fits: with each row's law group index ``group`` and the ``draws`` that hold
        its parameters, see :meth:`_prediction_groups`)."""
        from .extrapolation import assess

        if self.runs is None:
            return {}
        values = {k: v for k, v in x.items() if v is not None}
        if self.law == "distillation" and x.get("L_T") is None:
            log_N, log_D = np.log(x["N_T"]), np.log(x["D_T"])
            with np.errstate(all="ignore"):
                if group is None:
                    lt = np.exp(self.log_supervised_mean(x["N_T"], x["D_T"]))
                else:
                    lt = np.exp(self.model.log_supervised(draws, log_N, log_D, group))
            ok = np.isfinite(lt).any(axis=0)
            values["L_T"] = np.full(lt.shape[1], np.nan)
            values["L_T"][ok] = np.nanmedian(lt[:, ok], axis=0)
        return assess(self, **values)

    def _prediction_groups(
        self, new_runs: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[np.ndarray | None, _model.Draws]:
        """Grouped fits: the law group index of each row of ``new_runs`` and the draws with a
        new group (from the population) for each group name not fitted; else ``(None, draws)``."""
        if self.groups is None or self.group is not None:
            return None, self.draws
        from .data import check_group_column

        labels = check_group_column(new_runs, self.groups, what="new_runs", min_runs=0)
        index = self._inputs.law_groups.lookup(labels)
        new = sorted(set(labels[index < 0]))
        for j, name in enumerate(new):
            index[labels == name] = len(self.group_names) + j
        draws = self.draws
        if new:
            draws = draws.with_new_groups(laws.SAMPLED_NAMES[self.law], len(new), rng)
        return index, draws

    def _log_draws(
        self,
        x: Mapping[str, np.ndarray],
        kind: str,
        random_seed=None,
        group: np.ndarray | None = None,
        draws: _model.Draws | None = None,
    ) -> np.ndarray:
        if group is not None:
            logs = {
                _LOG_KEYS[k]: np.log(v) for k, v in x.items() if k in _LOG_KEYS and v is not None
            }
            if self.law == "distillation" and x["L_T"] is None:
                # the teacher's loss from its group's supervised law, per draw: (S, n)
                logs["log_LT"] = self.model.log_supervised(
                    draws, np.log(x["N_T"]), np.log(x["D_T"]), group
                )
            mu = self.model.log_mean(draws, logs, group)
            if kind == "mean":
                return mu
            rng = np.random.default_rng(random_seed)
            return mu + self.model.noise_draws(
                draws, mu.shape[1:], rng, logs=logs, law_mean=mu, group=group
            )
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
        if self.group is not None:
            raise ValueError(
                f"This is group {self.group!r} of a grouped fit: check the grouped fit itself "
                "(its posterior predictive covers every group's runs)."
            )
        group = None if inp.law_groups is None else inp.law_groups.index
        mu = self.model.log_mean(self.draws, inp.x, group)
        rng = np.random.default_rng(random_seed)
        ypred = mu + self.model.noise_draws(
            self.draws, mu.shape[1:], rng, logs=inp.x, law_mean=mu, group=group
        )
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
        from .persistence import save_fit

        return save_fit(self, path, overwrite=overwrite)

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
        from .persistence import _provenance

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
        if self.group is not None:
            lines.append(f"  law group {self.group!r} of a grouped fit (column {self.groups!r})")
        if "law_group" in med.dims:
            lines.append(f"  posterior medians by group ({self.groups!r}):")
            for name in med["law_group"].values:
                one = med.sel(law_group=name)
                lines.append(
                    f"    {name}: "
                    + ", ".join(f"{k}={float(one[k]):.4g}" for k in laws.PARAM_NAMES[self.law])
                )
        else:
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


def _loss_quantiles(
    log_draws: np.ndarray,
    probs: list[float],
    x: Mapping[str, Any],
    new_runs: pd.DataFrame,
    law: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles ``probs`` of each row's loss over its finite draws (``log_draws``: draws x rows
    of log loss), and the number of draws dropped per row.

    Raises when a row has no finite draw or its loss overflows; warns when some draws of a row
    are dropped. ``x`` (the prediction inputs) and ``new_runs`` name the rows in the messages.
    """
    S = log_draws.shape[0]
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
            f"The {law} law is not finite for any of the {S} posterior draws at "
            f"{where(nowhere)}; check these inputs and the fit's parameters."
        )
    with np.errstate(over="ignore"):
        losses = np.where(finite, np.exp(np.where(finite, log_draws, 0.0)), np.nan)
    overflow = np.flatnonzero(np.isinf(losses).any(axis=0))
    if overflow.size:
        raise ValueError(
            f"The predicted loss overflows the float range (log loss up to "
            f"{np.nanmax(log_draws[:, overflow[0]]):.4g}) at {where(overflow)}: these inputs "
            f"are far outside the range the {law} law describes."
        )
    if not n_dropped.any():
        return np.quantile(losses, probs, axis=0), n_dropped
    warnings.warn(
        f"{int(n_dropped.max())} of {S} posterior draws are not finite at "
        f"{where(np.flatnonzero(n_dropped))} and were dropped from the prediction; the intervals "
        "use the remaining draws. Non-finite draws come from extreme parameter values or inputs "
        "far outside the data; see the result's attrs['n_dropped'] for the count per row.",
        RuntimeWarning,
        skip_file_prefixes=_INTERNAL,
    )
    return np.nanquantile(losses, probs, axis=0), n_dropped


def _prediction_inputs(law: str, new_runs: pd.DataFrame) -> dict[str, np.ndarray]:
    from .data import ALIASES, DataValidationError, kind_of

    if not isinstance(new_runs, pd.DataFrame):
        raise TypeError(
            f"new_runs must be a pandas DataFrame, got {type(new_runs).__name__}; e.g. "
            "pd.DataFrame({'N': [1e10], 'D': [2e11]})."
        )
    aliases = ALIASES[kind_of(law)]
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
