"""Simulation-based calibration: :func:`sbc` and its result, :class:`SBCResult`.

Take true parameters (drawn from the prior, or fixed at published values), simulate runs from
the model that :func:`bayes_distill.fit` samples (:mod:`bayes_distill.simulation`), fit them,
and count how often the credible intervals cover the truth (Talts et al. 2018).
``benchmarks/sbc.py`` runs the larger study. Users reach these as ``bd.checks.sbc``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import _progress, laws
from . import model as _model
from . import validate as _validate
from .simulation import (
    _TARGET,
    _check_design,
    _fixed_values,
    _forward,
    _law_loss,
    _pymc_model,
    _scalar_free_names,
    _simulate,
)

__all__ = ["SBCResult", "sbc"]


# Published values used by ``sbc(..., truth="paper")``: the Epoch AI replication for Chinchilla
# (Besiroglu et al. 2024, arXiv 2404.10102), Busbridge et al. Table 6 otherwise.
_EPOCH = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}


def _published(law: str) -> dict[str, float]:
    if law == "chinchilla":
        return dict(_EPOCH)
    return {k: laws.PAPER[k] for k in laws.PARAM_NAMES[law]}


@dataclass(frozen=True, repr=False)
class SBCResult:
    """The result of :func:`sbc`.

    Attributes
    ----------
    law : str
    truth : str
        ``"prior"`` (parameters drawn from the prior: proper SBC) or ``"fixed"``.
    ci_prob : float
    table : pandas.DataFrame
        One row per dataset and parameter: ``dataset``, ``parameter``, ``true``, ``median``,
        ``lower``, ``upper``, ``covered``, ``rank`` (posterior draws below the truth),
        ``n_draws``, ``converged``, ``divergences``, ``seconds``.
    n_rejected : int
        Simulated datasets redrawn because a loss fell outside the plausible range that
        :func:`bayes_distill.load_runs` accepts.
    """

    law: str
    truth: str
    ci_prob: float
    table: pd.DataFrame
    n_rejected: int = 0

    @property
    def n_datasets(self) -> int:
        return int(self.table["dataset"].nunique())

    @property
    def coverage(self) -> pd.DataFrame:
        """Coverage per parameter: ``coverage``, ``n``, ``mean_rank`` (0.5 when calibrated)."""
        t = self.table
        g = t.groupby("parameter", sort=False)
        out = pd.DataFrame(
            {
                "coverage": g["covered"].mean(),
                "n": g["covered"].size(),
                "mean_rank": g.apply(
                    lambda d: float((d["rank"] / d["n_draws"]).mean()), include_groups=False
                ),
            }
        )
        out.attrs["ci_prob"] = self.ci_prob
        return out

    @property
    def overall(self) -> float:
        """Coverage pooled over all parameters and datasets."""
        return float(self.table["covered"].mean())

    def __str__(self) -> str:
        conv = self.table.drop_duplicates("dataset")["converged"]
        lines = [
            f"SBC of the {self.law} law: {self.n_datasets} datasets (truth: {self.truth}), "
            f"{self.ci_prob:.0%} intervals; {int(conv.sum())} fits converged"
            + (f"; {self.n_rejected} implausible datasets redrawn" if self.n_rejected else ""),
            f"  {'parameter':<18}{'coverage':>9}{'mean rank':>11}",
        ]
        for name, row in self.coverage.iterrows():
            lines.append(f"  {name:<18}{row['coverage']:>9.2f}{row['mean_rank']:>11.2f}")
        lines.append(f"  {'all':<18}{self.overall:>9.2f}")
        return "\n".join(lines)

    __repr__ = __str__


def _sbc_fit(
    dataset: int,
    sim: pd.DataFrame,
    truths: Mapping[str, float],
    quantiles: tuple[float, float],
    fit_kwargs: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Fit one simulated dataset of :func:`sbc`; one table row per parameter with a truth."""
    from .sampling import fit as _fit

    start = time.perf_counter()
    fitted = _fit(sim, **fit_kwargs)
    seconds = time.perf_counter() - start
    diag = fitted.diagnose()
    post = fitted.posterior
    rows = []
    for name, true in truths.items():
        if name in fitted.params:
            v = np.asarray(fitted.params[name].values, float).ravel()
        elif name in post:
            v = np.asarray(post[name].values, float).ravel()
        else:  # pragma: no cover - a parameter the fit does not report
            continue
        lo, hi = np.quantile(v, quantiles)
        rows.append(
            {
                "dataset": dataset,
                "parameter": name,
                "true": true,
                "median": float(np.median(v)),
                "lower": float(lo),
                "upper": float(hi),
                "covered": bool(lo <= true <= hi),
                "rank": int(np.sum(v < true)),
                "n_draws": v.size,
                "converged": diag.ok,
                "divergences": diag.divergences,
                "seconds": seconds,
            }
        )
    return rows


def _sbc_tasks(
    law: str,
    design: pd.DataFrame,
    truths_used: list[dict[str, float]],
    ys: list[np.ndarray],
    rng: np.random.Generator,
    quantiles: tuple[float, float],
    fit_kwargs: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The arguments of :func:`_sbc_fit` for each simulated dataset, with its fit's seed."""
    tasks = []
    for i, (true_scalars, y) in enumerate(zip(truths_used, ys, strict=True)):
        sampled = {k: true_scalars[k] for k in laws.SAMPLED_NAMES[law]}
        truths = {k: float(v) for k, v in laws.to_natural(law, sampled).items()}
        truths.update({k: v for k, v in true_scalars.items() if k not in laws.SAMPLED_NAMES[law]})
        sim = design.copy()
        sim[_TARGET[law]] = np.exp(y)
        seed = int(rng.integers(2**31))
        tasks.append(
            {
                "dataset": i,
                "sim": sim,
                "truths": truths,
                "quantiles": quantiles,
                "fit_kwargs": {**fit_kwargs, "random_seed": seed},
            }
        )
    return tasks


def sbc(
    law: Literal["chinchilla", "supervised", "distillation"],
    *,
    n_datasets: int = 20,
    truth: Literal["prior", "paper"] | Mapping[str, float] = "prior",
    design: pd.DataFrame | None = None,
    priors: str | Mapping[str, Any] | None = None,
    sigma: float = 0.01,
    tau: float = 0.01,
    ci_prob: float = 0.9,
    random_seed: int | None = 0,
    callback: Callable[[int, pd.DataFrame], None] | None = None,
    executor: Any = None,
    **fit_kwargs: Any,
) -> SBCResult:
    """Simulation-based calibration of the model of ``law``.

    For each dataset: take true parameters, simulate runs on ``design`` from the model that
    :func:`bayes_distill.fit` samples (run forwards with :func:`pymc.sample_prior_predictive`),
    fit them with the same ``priors`` and model options, and record whether the equal-tailed
    ``ci_prob`` interval of each natural parameter and of each scalar noise parameter
    (``sigma``, ``tau_*``, ...) covers the truth. With ``truth="prior"`` everything is drawn from
    the prior, so a calibrated model and a correct sampler give a coverage of ``ci_prob`` for
    every parameter and uniform ranks (Talts et al. 2018). Simulations with a loss outside the
    range :func:`bayes_distill.load_runs` accepts are redrawn (counted in ``n_rejected``).

    Parameters
    ----------
    law : {"chinchilla", "supervised", "distillation"}
    n_datasets : int, default 20
    truth : "prior", "paper" or mapping, default "prior"
        ``"prior"``: a fresh draw from the prior for every dataset. ``"paper"``: fixed at the
        published values (Epoch AI's replication for Chinchilla, Busbridge et al. Table 6
        otherwise), or a mapping of natural parameters; ``sigma`` and ``tau`` then set the noise
        (other noise parameters: from the mapping, else their prior median).
    design : DataFrame, optional
        Run inputs; default :func:`default_design`.
    priors : None, "paper" or mapping, optional
        Priors of the fits (and of the truth when ``truth="prior"``).
    sigma, tau : float, default 0.01
        Noise and offset spreads for a fixed truth (ignored with ``truth="prior"``).
    ci_prob : float, default 0.9
    random_seed : int, optional
        Seeds the truths, the simulations and the fits.
    callback : callable, optional
        Called as ``callback(i, rows)`` after each dataset (for progress reports), in the
        order of the datasets.
    executor : None or executor, optional
        Runs the fits of the simulated datasets: anything with ``submit(fn, *args, **kwargs)``
        returning futures with ``result()``, such as
        :class:`concurrent.futures.ProcessPoolExecutor` or a ``dask.distributed.Client`` (see
        ``docs/scaling_out.md``). None (default) fits them one after another in this process.
        The truths, simulations and seeds are drawn here first, so the result does not depend
        on the executor (apart from the ``seconds`` column).
    **fit_kwargs
        Passed to :func:`bayes_distill.fit` (``draws``, ``tune``, ``chains``, ``sampler``, and the
        model options ``likelihood``, ``discrepancy``, ..., which the simulation uses too).
        ``progressbar`` (as in :func:`bayes_distill.fit`: None shows progress when interactive,
        see ``BAYES_DISTILL_PROGRESS``) turns on a counter of fitted datasets on stderr; the
        fits' own progress bars are shown only when it is True.

    Returns
    -------
    SBCResult

    Examples
    --------
    >>> import bayes_distill as bd
    >>> res = bd.checks.sbc("chinchilla", n_datasets=4, draws=300, tune=300, chains=2)
    ...                                                            # doctest: +SKIP
    >>> res.coverage                                               # doctest: +SKIP
    >>> print(res)                                                 # doctest: +SKIP

    On a Dask cluster (``pip install "dask[distributed]"``), one fit per worker at a time:

    >>> from dask.distributed import Client, LocalCluster                # doctest: +SKIP
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1)        # doctest: +SKIP
    >>> with Client(cluster) as client:                                  # doctest: +SKIP
    ...     res = bd.checks.sbc("chinchilla", n_datasets=20, executor=client)
    """

    from . import _parallel
    from .priors import resolve_priors

    laws._check_law(law)
    if isinstance(n_datasets, bool) or not isinstance(n_datasets, int) or n_datasets < 1:
        raise ValueError(f"n_datasets must be a positive integer, got {n_datasets!r}.")
    ci_prob = _validate.probability("ci_prob", ci_prob)
    if "runs" in fit_kwargs:
        raise TypeError("'runs' is simulated by sbc; do not pass it.")
    _parallel.check_executor(executor)
    design = _check_design(law, design)
    options = _model.check_options(**{k: v for k, v in fit_kwargs.items() if k in _model.OPTIONS})
    resolved = resolve_priors(law, priors)
    fixed_params = _fixed_truth(law, truth)

    rng = np.random.default_rng(random_seed)
    candidates = _candidate_truths(
        law, design, resolved, options, fixed_params, sigma, tau, 4 * n_datasets + 10, rng
    )
    truths_used, ys, n_rejected = _plausible_datasets(
        law, design, resolved, options, candidates, n_datasets, rng
    )
    progressbar = fit_kwargs.pop("progressbar", None)
    # the counter of _fit_datasets reports each dataset; a bar per fit only when asked for (and
    # only in this process: other processes' bars would garble the terminal)
    fit_kwargs.update(law=law, priors=priors, progressbar=progressbar is True and executor is None)
    quantiles = ((1 - ci_prob) / 2, (1 + ci_prob) / 2)
    tasks = _sbc_tasks(law, design, truths_used, ys, rng, quantiles, fit_kwargs)
    rows = _fit_datasets(tasks, law, _progress.enabled(progressbar), callback, executor)
    return SBCResult(
        law=law,
        truth="prior" if fixed_params is None else "fixed",
        ci_prob=ci_prob,
        table=pd.DataFrame(rows),
        n_rejected=n_rejected,
    )


def _fixed_truth(law: str, truth: Any) -> dict[str, float] | None:
    """The fixed natural parameters of ``sbc(..., truth=...)``; None to draw them from the prior."""
    if isinstance(truth, str):
        if truth not in ("prior", "paper"):
            raise ValueError(f"truth must be 'prior', 'paper' or a mapping, got {truth!r}.")
        return None if truth == "prior" else _published(law)
    if isinstance(truth, Mapping):
        missing = set(laws.PARAM_NAMES[law]) - set(truth)
        if missing:
            raise ValueError(f"truth misses the parameters {sorted(missing)} of the {law} law.")
        return dict(truth)
    raise TypeError(f"truth must be 'prior', 'paper' or a mapping, got {truth!r}.")


def _candidate_truths(
    law: str,
    design: pd.DataFrame,
    priors: Mapping[str, Any],
    options: Mapping[str, Any],
    fixed_params: Mapping[str, float] | None,
    sigma: float,
    tau: float,
    n_candidates: int,
    rng: np.random.Generator,
) -> list[dict[str, float]]:
    """Values of every scalar parameter for each candidate dataset: prior draws, or the fixed
    truth with its noise parameters (repeated)."""
    if fixed_params is None:
        model = _pymc_model(law, design, priors, options)  # for the priors only
        prior = _forward(model, n_candidates, rng)["prior"]
        scalars = _scalar_free_names(model)
        return [
            {k: float(prior[k].values.reshape(-1)[j]) for k in scalars} for j in range(n_candidates)
        ]
    fixed = _fixed_values(law, design, fixed_params, sigma, tau, priors, options)
    return [fixed] * n_candidates


def _plausible_datasets(
    law: str,
    design: pd.DataFrame,
    priors: Mapping[str, Any],
    options: Mapping[str, Any],
    candidates: list[dict[str, float]],
    n_datasets: int,
    rng: np.random.Generator,
) -> tuple[list[dict[str, float]], list[np.ndarray], int]:
    """Simulate candidates in turn until ``n_datasets`` have losses in the range that
    :func:`bayes_distill.load_runs` accepts: their truths, their log losses, and how many
    candidates were rejected."""
    from .data import LOSS_RANGE

    truths_used, ys, n_rejected = [], [], 0
    for values in candidates:
        if len(ys) == n_datasets:
            break
        sampled = {k: values[k] for k in laws.SAMPLED_NAMES[law]}
        natural = {k: float(v) for k, v in laws.to_natural(law, sampled).items()}
        mean_law = _law_loss(law, natural, design)
        plausible = np.all(np.isfinite(mean_law)) and np.all(
            (mean_law > LOSS_RANGE[0]) & (mean_law < LOSS_RANGE[1])
        )
        if plausible:
            y = _simulate(law, design, priors, options, values, rng)
            with np.errstate(over="ignore"):
                plausible = np.all(np.isfinite(y)) and np.all(
                    (np.exp(y) > LOSS_RANGE[0]) & (np.exp(y) < LOSS_RANGE[1])
                )
        if not plausible:
            n_rejected += 1
            continue
        truths_used.append(values)
        ys.append(y)
    if len(ys) < n_datasets:
        raise RuntimeError(
            f"Only {len(ys)} of {len(candidates)} simulated datasets have plausible losses; the "
            "prior is too wide for this design."
        )
    return truths_used, ys, n_rejected


def _fit_datasets(
    tasks: list[dict[str, Any]],
    law: str,
    show: bool,
    callback: Callable[[int, pd.DataFrame], None] | None,
    executor: Any,
) -> list[dict[str, Any]]:
    """Fit the simulated datasets of :func:`sbc` (on ``executor`` if given), with a counter of
    fitted datasets on stderr when ``show``; the table rows of all datasets, in their order."""
    from . import _parallel
    from .data import DataValidationWarning
    from .diagnostics import ConvergenceWarning

    n_datasets = len(tasks)
    if show:
        where = "" if executor is None else f" on {type(executor).__name__}"
        _progress.note(f"sbc: fitting {n_datasets} simulated {law} datasets{where}")
    counter = _progress.Counter("sbc: dataset", n_datasets, on=show)

    def collected(i: int, new_rows: list[dict[str, Any]]) -> None:
        first = new_rows[0] if new_rows else {"seconds": 0.0, "converged": False}
        ok = "converged" if first["converged"] else "NOT converged"
        counter.step(f"(last fit {first['seconds']:.0f} s, {ok})")
        if callback is not None:
            callback(i, pd.DataFrame(new_rows))

    # Simulated teachers and students can cross by more than noise, and a fit can fail its
    # diagnostics: both are recorded in the table, not warned.
    per_dataset = _parallel.run_tasks(
        _sbc_fit,
        tasks,
        executor,
        quiet=(DataValidationWarning, ConvergenceWarning),
        on_result=collected,
    )
    counter.close()
    return [row for rows in per_dataset for row in rows]
