"""Convergence diagnostics of a fit: R-hat, bulk ESS and divergences (ArviZ), and the warning
and error a fit that did not converge raises."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

__all__ = ["ESS_MIN", "RHAT_MAX", "ConvergenceError", "ConvergenceWarning", "Diagnostics"]

RHAT_MAX = 1.01
#: Up to this R-hat a failed check is read as slow mixing (advice: more draws) rather than as
#: chains in different places (advice: more tuning, tighter priors).
RHAT_NEAR = 1.05
ESS_MIN = 400


class ConvergenceError(RuntimeError):
    """Raised by ``fit(..., strict=True)`` when the sampler's diagnostics fail."""


class ConvergenceWarning(UserWarning):
    """Warned when a fit fails its diagnostics (R-hat, ESS or divergences)."""


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
    "zeta_size": "per-size offsets as sampled",
    "level_share_x": "the law as sampled",
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
