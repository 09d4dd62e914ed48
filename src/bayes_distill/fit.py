"""Bayesian fits of the scaling laws with NUTS: :func:`fit`, :class:`ScalingFit`, save and load."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import __version__, laws
from . import model as _model
from .priors import NOISE_NAMES, Prior, resolve_priors

__all__ = [
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
SCHEMA_VERSION = 1

SAMPLERS = ("nutpie", "numpyro", "pymc")
LIKELIHOODS = ("student_t", "normal")
DISCREPANCIES = ("groups", "none")
RHAT_MAX = 1.01
ESS_MIN = 400

_CANONICAL = {
    "chinchilla": (("N", "D"), "loss"),
    "supervised": (("N", "D"), "loss"),
    "distillation": (("N_S", "D_S", "L_T"), "L_S"),
}


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
            out.append(
                f"R-hat above {RHAT_MAX} (max {self.max_rhat:.3f}) for {', '.join(self.bad_rhat)}: "
                "the chains disagree. Try more tuning (tune=2000), tighter priors "
                "(priors='paper'), or more runs spanning a wider range of sizes."
            )
        if self.bad_ess:
            out.append(
                f"bulk ESS below {ESS_MIN} (min {self.min_ess_bulk:.0f}) for "
                f"{', '.join(self.bad_ess)}: too few effective draws. Try more draws or "
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


def _diagnose_tree(dt: xr.DataTree) -> Diagnostics:
    import arviz as az

    post = dt["posterior"].to_dataset()
    rhat = az.rhat(post)
    ess = az.ess(post, method="bulk")
    bad_rhat, bad_ess = [], []
    max_rhat, min_ess = 0.0, np.inf
    for name in post.data_vars:
        r = np.asarray(rhat[name].values, dtype=float)
        e = np.asarray(ess[name].values, dtype=float)
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
    if not isinstance(ci_prob, int | float) or not 0 < ci_prob < 1:
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
    def supervised_source(self) -> str:
        """Where the supervised parameters of a distillation fit come from."""
        if self.law != "distillation":
            return "fitted"
        if self.supervised_runs is not None:
            return f"fitted jointly to {len(self.supervised_runs)} supervised runs"
        return "prior only (no supervised runs given; paper-informed prior by default)"

    # ---- posterior views ------------------------------------------------------------------
    @property
    def posterior(self) -> xr.Dataset:
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
        names = [n for n in post.data_vars if n == "sigma" or n.startswith("tau_")]
        return post[names]

    @property
    def n_samples(self) -> int:
        post = self.posterior
        return int(post.sizes["chain"] * post.sizes["draw"])

    def _flat(self, name: str) -> np.ndarray:
        return np.asarray(self.posterior[name].values, dtype=float).reshape(self.n_samples, -1)

    def _sampled_flat(self) -> dict[str, np.ndarray]:
        return {k: self._flat(k)[:, 0] for k in laws.SAMPLED_NAMES[self.law]}

    # ---- evaluation over draws -----------------------------------------------------------
    def log_supervised_mean(self, N, D) -> np.ndarray:
        """Log of the supervised law at ``(N, D)`` for every draw: shape ``(S, *broadcast)``.

        Available for every law (a distillation fit carries the supervised parameters).
        """
        s = self._sampled_flat()
        log_N, log_D = np.broadcast_arrays(
            np.log(np.asarray(N, float)), np.log(np.asarray(D, float))
        )
        sup_names = laws.SAMPLED_NAMES["chinchilla" if self.law == "chinchilla" else "supervised"]
        extra = (None,) * log_N.ndim
        p = {k: s[k][(slice(None), *extra)] for k in sup_names}
        return laws.log_supervised(laws.NUMPY, log_N[None], log_D[None], **p)

    def log_mean(self, **inputs) -> np.ndarray:
        """Log of the law (no noise, no discrepancy) for every draw: shape ``(S, *broadcast)``.

        Parameters
        ----------
        **inputs
            ``N, D`` for supervised laws; ``N_S, D_S, L_T`` for the distillation law, where
            ``L_T`` may be an array of shape ``(S, ...)`` (a teacher loss per draw).
        """
        if self.law != "distillation":
            return self.log_supervised_mean(inputs["N"], inputs["D"])
        s = self._sampled_flat()
        log_NS = np.log(np.asarray(inputs["N_S"], float))
        log_DS = np.log(np.asarray(inputs["D_S"], float))
        L_T = np.asarray(inputs["L_T"], float)
        log_LtS = self.log_supervised_mean(inputs["N_S"], inputs["D_S"])
        ndim = max(
            log_LtS.ndim - 1, L_T.ndim - 1 if L_T.shape[:1] == (self.n_samples,) else L_T.ndim
        )
        extra = (None,) * ndim
        per_draw = L_T.ndim >= 1 and L_T.shape[0] == self.n_samples and L_T.ndim > ndim - 0
        log_LT = np.log(L_T) if per_draw else np.log(L_T)[None]
        dist = {
            k: s[k][(slice(None), *extra)]
            for k in laws.SAMPLED_NAMES["distillation"]
            if k not in laws.SAMPLED_NAMES["supervised"]
        }
        return laws.log_distillation(
            laws.NUMPY, log_NS[None], log_DS[None], log_LT, log_LtS=log_LtS, **dist
        )

    def noise_draws(
        self,
        shape: tuple[int, ...] = (),
        *,
        random_seed: int | np.random.Generator | None = None,
        group_index: Mapping[str, np.ndarray] | None = None,
        observation: str = "obs",
    ) -> np.ndarray:
        """Predictive deviation of log loss from the law, per draw: shape ``(S, *shape)``.

        The sum of the discrepancy offsets (``tau_g * z``) and the run noise (Student-t or
        Normal with scale ``sigma``). Runs in a group seen in the data reuse that group's
        fitted offset (``group_index[g] >= 0``); others draw a new offset from ``N(0, tau_g)``.
        """
        rng = np.random.default_rng(random_seed)
        S = self.n_samples
        post = self.posterior
        sigma_name = "sigma" if observation == "obs" else "sigma_supervised"
        sigma = self._flat(sigma_name)[:, 0].reshape((S,) + (1,) * len(shape))
        if self.dt.attrs.get("likelihood", "student_t") == "student_t":
            eps = rng.standard_t(_model.STUDENT_T_NU, size=(S, *shape))
        else:
            eps = rng.standard_normal((S, *shape))
        out = sigma * eps
        groups = _model.group_names(self.law) if observation == "obs" else ("supervised_size",)
        for g in groups:
            if f"tau_{g}" not in post:
                continue
            tau = self._flat(f"tau_{g}")[:, 0].reshape((S,) + (1,) * len(shape))
            z = rng.standard_normal((S, *shape))
            if group_index is not None and g in group_index and f"z_{g}" in post:
                idx = np.broadcast_to(np.asarray(group_index[g]), shape)
                zf = self._flat(f"z_{g}")
                known = idx >= 0
                if np.any(known):
                    z[:, known] = zf[:, idx[known]]
            out = out + tau * z
        return out

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
        return az.summary(tree, ci_prob=ci_prob, ci_kind="eti", round_to="none")

    def diagnose(self, *, warn: bool = False) -> Diagnostics:
        """Check convergence with ArviZ: max R-hat <= 1.01, min bulk ESS >= 400, no divergences.

        Parameters
        ----------
        warn : bool, default False
            Also emit a :class:`ConvergenceWarning` naming the failing parameters.
        """
        diag = _diagnose_tree(self.dt)
        if warn and not diag.ok:
            warnings.warn(
                f"The {self.law} fit did NOT converge:\n  " + "\n  ".join(diag.problems()),
                ConvergenceWarning,
                stacklevel=2,
            )
        return diag

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
        random_seed : int, optional
            Seed of the predictive noise.

        Returns
        -------
        DataFrame
            The input columns plus ``median``, ``lower``, ``upper`` (nats/token).
        """
        if kind not in ("mean", "predictive"):
            raise ValueError(f"kind must be 'mean' or 'predictive', got {kind!r}.")
        ci_prob = _check_ci_prob(ci_prob)
        x = _prediction_inputs(self.law, new_runs)
        log_draws = self._log_draws(x, kind, random_seed)
        q = np.quantile(np.exp(log_draws), [0.5, (1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=0)
        out = new_runs.copy()
        out["median"], out["lower"], out["upper"] = q[0], q[1], q[2]
        return out

    def _log_draws(self, x: Mapping[str, np.ndarray], kind: str, random_seed=None) -> np.ndarray:
        if self.law == "distillation":
            L_T = x["L_T"]
            if L_T is None:
                L_T = np.exp(self.log_supervised_mean(x["N_T"], x["D_T"]))
            mu = self.log_mean(N_S=x["N_S"], D_S=x["D_S"], L_T=L_T)
        else:
            mu = self.log_mean(N=x["N"], D=x["D"])
        if kind == "mean":
            return mu
        group_index = self._group_index(x)
        return mu + self.noise_draws(mu.shape[1:], random_seed=random_seed, group_index=group_index)

    def _group_index(self, x: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._inputs is None:
            return {}
        g = self._inputs.groups
        if self.law == "distillation":
            idx = {"student": g["student"].lookup(np.log(x["N_S"]))}
            if x.get("L_T") is not None:
                idx["teacher"] = g["teacher"].lookup(np.log(x["L_T"]), 0.002)
            return idx
        return {"size": g["size"].lookup(np.log(x["N"]))}

    def posterior_predictive(self, *, random_seed: int | None = None) -> xr.DataTree:
        """``dt`` with ``posterior_predictive`` (log loss of the fitted runs) and
        ``log_likelihood`` groups added (for ArviZ's PPC plots and LOO)."""
        if self._inputs is None:
            raise ValueError("This fit has no runs (built with from_params): nothing to check.")
        inp = self._inputs
        mu = self._in_sample_mu()
        ypred = mu + self.noise_draws(
            mu.shape[1:],
            random_seed=random_seed,
            group_index=self._fitted_group_index(),
        )
        C, D = self.posterior.sizes["chain"], self.posterior.sizes["draw"]
        ll = self._pointwise_loglik(mu, self._fitted_group_index())
        dims = ("chain", "draw", "run")
        new = self.dt.copy()
        new["posterior_predictive"] = xr.DataTree(
            xr.Dataset({"obs": (dims, ypred.reshape(C, D, -1))})
        )
        new["log_likelihood"] = xr.DataTree(xr.Dataset({"obs": (dims, ll.reshape(C, D, -1))}))
        if "observed_data" not in new.children:
            new["observed_data"] = xr.DataTree(xr.Dataset({"obs": (("run",), inp.y)}))
        return new

    def _fitted_group_index(self) -> dict[str, np.ndarray]:
        return {g: grp.index for g, grp in self._inputs.groups.items()}

    def _in_sample_mu(self) -> np.ndarray:
        inp = self._inputs
        if self.law == "distillation":
            return self.log_mean(
                N_S=np.exp(inp.x["log_NS"]),
                D_S=np.exp(inp.x["log_DS"]),
                L_T=np.exp(inp.x["log_LT"]),
            )
        return self.log_mean(N=np.exp(inp.x["log_N"]), D=np.exp(inp.x["log_D"]))

    def _pointwise_loglik(self, mu: np.ndarray, group_index) -> np.ndarray:
        from scipy import stats

        post = self.posterior
        loc = mu.copy()
        for g, idx in group_index.items():
            if f"z_{g}" in post:
                loc += self._flat(f"tau_{g}")[:, :1] * self._flat(f"z_{g}")[:, idx]
        sigma = self._flat("sigma")[:, :1]
        y = self._inputs.y[None, :]
        if self.dt.attrs.get("likelihood", "student_t") == "student_t":
            return stats.t.logpdf(y, df=_model.STUDENT_T_NU, loc=loc, scale=sigma)
        return stats.norm.logpdf(y, loc=loc, scale=sigma)

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
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it, or choose another path."
            )
        if not path.parent.exists():
            raise FileNotFoundError(f"The folder {path.parent} does not exist; create it first.")
        tree = self.dt.copy()
        for name in ("posterior_predictive", "log_likelihood"):
            if name in tree.children:
                del tree[name]
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
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
            raise DataValidationError(
                f"new_runs column {col!r} must hold finite positive numbers; row "
                f"{frame.index[i]!r} has {frame[col].iloc[i]!r}."
            )
        out[col] = vals
    if law == "distillation":
        out.setdefault("L_T", None)
    return out


def _data_hash(*frames: pd.DataFrame | None) -> str:
    h = hashlib.sha256()
    for f in frames:
        if f is not None:
            h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
            h.update(",".join(map(str, f.columns)).encode())
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
    law, *, priors, settings, runs, seed, likelihood, discrepancy, supervised_runs=None
) -> dict[str, Any]:
    return {
        "bayes_distill_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "law": law,
        "likelihood": likelihood,
        "discrepancy": discrepancy,
        "priors": json.dumps({k: v.to_dict() for k, v in (priors or {}).items()}),
        "sampler_settings": json.dumps(settings),
        "random_seed": -1 if seed is None else int(seed),
        "data_sha256": _data_hash(runs, supervised_runs) if runs is not None else "",
        "n_runs": 0 if runs is None else len(runs),
        "n_supervised_runs": 0 if supervised_runs is None else len(supervised_runs),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": json.dumps(_versions()),
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
    return runs, sup


# --------------------------------------------------------------------------------------------
# fitting

_COMPILED_CACHE: dict[tuple, Any] = {}


def _validate_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def fit(
    runs: pd.DataFrame | str | os.PathLike,
    law: Literal["chinchilla", "supervised", "distillation"] = "chinchilla",
    *,
    priors: str | Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: Literal["nutpie", "numpyro", "pymc"] = "nutpie",
    likelihood: Literal["student_t", "normal"] = "student_t",
    discrepancy: Literal["groups", "none"] = "groups",
    supervised_runs: pd.DataFrame | str | os.PathLike | None = None,
    strict: bool = False,
    progressbar: bool = False,
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
    draws, tune, chains : int
        Posterior draws and tuning steps per chain; number of chains.
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
        ``"groups"`` (default): runs of one model size (and, for distillation, one teacher)
        share an offset from the law, so predictions at new sizes are honest; see
        :mod:`bayes_distill.model`. ``"none"``: independent noise only.
    supervised_runs : DataFrame or path, optional
        Distillation law only: supervised runs fitted jointly to inform the student's
        supervised loss. Without them the supervised parameters come from their prior.
    strict : bool, default False
        Raise :class:`ConvergenceError` instead of warning when the diagnostics fail.
    progressbar : bool, default False
        Show the sampler's progress bar.

    Returns
    -------
    ScalingFit

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.fit(bd.datasets.load("chinchilla"), law="chinchilla", random_seed=1)  # doctest: +SKIP
    >>> fit.diagnose().ok                                                              # doctest: +SKIP
    True
    """
    from .data import load_runs

    laws._check_law(law)
    kind = "distillation" if law == "distillation" else "supervised"
    draws = _validate_int("draws", draws, 1)
    tune = _validate_int("tune", tune, 0)
    chains = _validate_int("chains", chains, 1)
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}. Valid samplers are {', '.join(SAMPLERS)}.")
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"Unknown likelihood {likelihood!r}. Valid: {', '.join(LIKELIHOODS)}.")
    if discrepancy not in DISCREPANCIES:
        raise ValueError(f"Unknown discrepancy {discrepancy!r}. Valid: {', '.join(DISCREPANCIES)}.")
    if random_seed is not None:
        random_seed = _validate_int("random_seed", random_seed, 0)
    if supervised_runs is not None and law != "distillation":
        raise ValueError(
            f"supervised_runs is only used by law='distillation' (got law={law!r}); pass the "
            "supervised runs as `runs` instead."
        )
    table = load_runs(runs, kind=kind)
    sup_table = (
        load_runs(supervised_runs, kind="supervised") if supervised_runs is not None else None
    )
    n_params = len(laws.SAMPLED_NAMES[law])
    if len(table) < n_params:
        raise ValueError(
            f"{len(table)} runs cannot constrain the {n_params} parameters of the {law} law; "
            f"give at least {n_params} runs (preferably dozens, spanning sizes and token counts)."
        )
    resolved = resolve_priors(law, priors)
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31))

    inputs = _model.prepare_inputs(law, table, sup_table)
    settings = {
        "sampler": sampler,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "adaptation": "low_rank" if sampler == "nutpie" else "default",
    }
    dt = _sample(inputs, resolved, likelihood, discrepancy, settings, random_seed, progressbar)

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
    tree = xr.DataTree.from_dict(keep)
    tree.attrs.update(
        _provenance(
            law,
            priors=resolved,
            settings=settings,
            runs=table,
            seed=random_seed,
            likelihood=likelihood,
            discrepancy=discrepancy,
            supervised_runs=sup_table,
        )
    )
    result = ScalingFit(tree, law, runs=table, supervised_runs=sup_table)
    diag = result.diagnose()
    if not diag.ok:
        msg = f"The {law} fit did NOT converge:\n  " + "\n  ".join(diag.problems())
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return result


def _model_key(inputs: _model.ModelInputs, priors, likelihood, discrepancy) -> tuple:
    return (
        inputs.law,
        tuple(sorted((k, repr(v)) for k, v in priors.items())),
        likelihood,
        discrepancy,
        tuple((g, grp.n) for g, grp in inputs.groups.items()),
        inputs.supervised_groups.n if inputs.supervised_groups is not None else None,
    )


def _data_updates(inputs: _model.ModelInputs, discrepancy: str) -> dict[str, np.ndarray]:
    upd = dict(inputs.x)
    upd["log_loss"] = inputs.y
    if discrepancy == "groups":
        upd.update({f"{g}_index": grp.index for g, grp in inputs.groups.items()})
    if inputs.supervised_x is not None:
        upd.update({f"supervised_{k}": v for k, v in inputs.supervised_x.items()})
        upd["supervised_log_loss"] = inputs.supervised_y
        if discrepancy == "groups":
            upd["supervised_size_index"] = inputs.supervised_groups.index
    return upd


def _sample(inputs, priors, likelihood, discrepancy, settings, seed, progressbar) -> xr.DataTree:
    sampler = settings["sampler"]
    if sampler == "nutpie":
        import nutpie

        key = _model_key(inputs, priors, likelihood, discrepancy)
        compiled = _COMPILED_CACHE.get(key)
        if compiled is None:
            pm_model = _model.build_model(
                inputs, priors, likelihood=likelihood, discrepancy=discrepancy
            )
            compiled = nutpie.compile_pymc_model(pm_model)
            _COMPILED_CACHE[key] = compiled
        else:
            compiled = compiled.with_data(**_data_updates(inputs, discrepancy))
        return nutpie.sample(
            compiled,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            seed=seed,
            progress_bar=progressbar,
            adaptation="low_rank",
            save_warmup=False,
        )
    import pymc as pm

    pm_model = _model.build_model(inputs, priors, likelihood=likelihood, discrepancy=discrepancy)
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
            **kwargs,
        )


def load_fit(path: str | os.PathLike) -> ScalingFit:
    """Load a fit saved with :meth:`ScalingFit.save`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FitFileError
        If the file is not a bayes_distill fit, is truncated, or has a newer schema.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved fit at {path}.")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as exc:
        raise FitFileError(
            f"{path} could not be read as a NetCDF file ({type(exc).__name__}: {exc}). It may be "
            "truncated or not a saved fit; re-create it with fit.save()."
        ) from None
    attrs = tree.attrs
    if "schema_version" not in attrs or "law" not in attrs or "posterior" not in tree.children:
        raise FitFileError(
            f"{path} is a NetCDF file but not a bayes_distill fit (no schema_version/law "
            "attributes or no posterior group)."
        )
    schema = int(attrs["schema_version"])
    if schema > SCHEMA_VERSION:
        raise FitFileError(
            f"{path} was written with schema version {schema}, newer than this bayes_distill "
            f"({__version__}, schema {SCHEMA_VERSION}); upgrade bayes_distill to read it."
        )
    law = str(attrs["law"])
    laws._check_law(law)
    runs = sup = None
    if "constant_data" in tree.children:
        runs, sup = _groups_to_runs(law, tree)
    return ScalingFit(tree, law, runs=runs, supervised_runs=sup)


__all__ += ["NOISE_NAMES", "Prior"]
