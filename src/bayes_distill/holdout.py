"""Backtests: fit the weaker runs, predict the held-out stronger ones, and score the predictions.

As in Busbridge et al. (2025), Figure 5: :func:`backtest` fits the law to the runs below a
strength threshold (a loss, a compute budget, or a boolean mask; several thresholds are several
folds) and returns a :class:`Backtest` per fold with per-run errors, the median absolute
percentage error and the coverage of 50% and 90% predictive intervals. :func:`run_compute` gives
the training FLOPs that the ``compute_below`` rule compares. Users reach these as
``bd.backtest`` and ``bd.checks.<name>``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import _progress, laws
from . import validate as _validate
from .simulation import _INPUTS, _TARGET

__all__ = ["Backtest", "backtest", "run_compute"]


def run_compute(
    runs: pd.DataFrame, law: str, *, approx: Literal["paper", "2N"] = "paper"
) -> np.ndarray:
    """Training FLOPs of each run: ``3 F(N) D`` (supervised), ``3 F(N_S) D_S`` (the student).

    The distillation teacher's cost is not included: it is the student's own scale that
    makes a run strong or weak (the ``compute_below`` rule of :func:`backtest`).

    Parameters
    ----------
    runs : DataFrame
        Canonical run table (``N, D`` or ``N_S, D_S`` columns).
    law : {"chinchilla", "supervised", "distillation"}
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token, see :func:`bayes_distill.compute.forward_flops`; ``"2N"`` gives ``6ND``.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import pandas as pd
    >>> import bayes_distill as bd
    >>> runs = pd.DataFrame({"N": [1e9], "D": [2e10]})
    >>> float(bd.checks.run_compute(runs, "chinchilla", approx="2N")[0])
    1.2e+20
    """
    from .compute import total_flops

    if law == "distillation":
        return np.asarray(total_flops(runs["N_S"], runs["D_S"], approx=approx), float)
    return np.asarray(total_flops(runs["N"], runs["D"], approx=approx), float)


_TRAIN_KEYS = ("loss_above", "compute_below")


def _train_mask(
    train: Any, table: pd.DataFrame, law: str, approx: str, *, name: str = "train"
) -> tuple[np.ndarray, str]:
    """The boolean mask of the training runs of one rule, and the rule in words.

    ``name`` is how the rule is called in error messages (``train[1]`` for a list's second).
    """
    n = len(table)
    if isinstance(train, Mapping):
        if len(train) != 1 or next(iter(train)) not in _TRAIN_KEYS:
            raise ValueError(
                f"{name} as a mapping needs exactly one of the keys {list(_TRAIN_KEYS)}, e.g. "
                f"{{'loss_above': 2.6}} or {{'compute_below': 1e20}}; got {dict(train)!r}."
            )
        key, value = next(iter(train.items()))
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{name}[{key!r}] must be a positive number, got {value!r}.")
        if key == "loss_above":
            mask = table[_TARGET[law]].to_numpy(float) > value
            rule = f"loss > {value:g}"
        else:
            mask = run_compute(table, law, approx=approx) < value
            rule = f"compute < {value:.3g} FLOPs"
        return mask, rule
    if isinstance(train, str) or np.isscalar(train) or train is None:
        raise TypeError(
            f"{name} must be {{'loss_above': L}}, {{'compute_below': C}}, a boolean mask with "
            f"one entry per run, or a list of these (one backtest each); got {train!r}."
        )
    mask = np.asarray(train)
    if mask.dtype != bool:
        raise TypeError(
            f"{name} as an array must be boolean (True = fit on this run), got dtype {mask.dtype}."
        )
    if mask.shape != (n,):
        raise ValueError(f"{name} mask has shape {mask.shape}, but there are {n} runs.")
    return mask.copy(), f"mask ({int(mask.sum())} runs)"


@dataclass(frozen=True, repr=False)
class Backtest:
    """The result of :func:`backtest`.

    Attributes
    ----------
    law : str
    rule : str
        How the training runs were chosen (e.g. ``"loss > 2.6"``).
    table : pandas.DataFrame
        One row per held-out run: the inputs, ``compute`` (training FLOPs), ``observed``,
        ``median`` (of the posterior predictive), ``lower_50``/``upper_50`` and
        ``lower_90``/``upper_90`` (predictive intervals), ``error`` (``median - observed``,
        nats), ``ape`` (absolute percentage error, %), ``in_50`` and ``in_90``.
    train : numpy.ndarray
        Boolean mask of the training runs (in the order of the canonical run table).
    mdape : float
        Median absolute percentage error of the predictive median on the held-out runs (%).
    coverage : dict
        ``{0.5: ..., 0.9: ...}``: share of held-out runs inside each predictive interval.
    fit : ScalingFit
        The fit to the training runs.
    random_seed : int or None
        The seed of the fit and of the predictive noise (``None``: not seeded).
    """

    law: str
    rule: str
    table: pd.DataFrame
    train: np.ndarray
    mdape: float
    coverage: dict[float, float]
    fit: Any = field(compare=False)
    random_seed: int | None = None

    @property
    def n_train(self) -> int:
        return int(self.train.sum())

    @property
    def n_test(self) -> int:
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """One summary row: law, rule, run counts, MdAPE, coverages and the fit's health."""
        diag = self.fit.diagnose()
        row = {
            "law": self.law,
            "rule": self.rule,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "mdape": self.mdape,
            "mean_error": float(self.table["error"].mean()),
        }
        row.update({f"coverage_{round(100 * p)}": c for p, c in self.coverage.items()})
        row.update({"converged": diag.ok, "divergences": diag.divergences})
        return pd.DataFrame([row])

    def __str__(self) -> str:
        cov = ", ".join(f"{p:.0%}: {c:.0%}" for p, c in self.coverage.items())
        return (
            f"Backtest of the {self.law} law: fit {self.n_train} runs ({self.rule}), "
            f"predict {self.n_test}\n"
            f"  MdAPE of the predictive median: {self.mdape:.2f}%\n"
            f"  mean error (median - observed): {self.table['error'].mean():+.4f} nats\n"
            f"  coverage of predictive intervals (nominal: actual): {cov}"
        )

    __repr__ = __str__


def _is_folds(train: Any) -> bool:
    """Whether ``train`` is a list of training rules (several folds) rather than one rule."""
    return (
        isinstance(train, list | tuple)
        and len(train) > 0
        and all(isinstance(t, Mapping) or np.ndim(t) == 1 for t in train)
    )


def _folds(
    rules: list[Any], table: pd.DataFrame, law: str, approx: str, several: bool
) -> list[tuple[np.ndarray, str]]:
    """Each rule's training mask and description, checked before anything is fitted."""
    folds = []
    n_needed = len(laws.SAMPLED_NAMES[law])
    for i, rule in enumerate(rules):
        name = f"train[{i}]" if several else "train"
        mask, described = _train_mask(rule, table, law, approx, name=name)
        if mask.sum() < n_needed:
            raise ValueError(
                f"{name} ({described}) selects {int(mask.sum())} of {len(table)} runs; the "
                f"{law} law needs at least {n_needed} to fit. Loosen the threshold."
            )
        if (~mask).sum() == 0:
            raise ValueError(
                f"{name} ({described}) selects all {len(table)} runs, leaving none to "
                "predict; tighten the threshold."
            )
        folds.append((mask, described))
    return folds


def _fold_seeds(random_seed: Any, n_folds: int) -> list[int]:
    """One seed per fold, derived from ``random_seed`` (drawn once here when it is None)."""
    random_seed = _validate.random_seed(random_seed)
    root = np.random.SeedSequence(random_seed)
    return [int(child.generate_state(1)[0] % 2**31) for child in root.spawn(n_folds)]


def _backtest_fold(
    table: pd.DataFrame,
    law: str,
    mask: np.ndarray,
    rule: str,
    approx: str,
    fit_kwargs: Mapping[str, Any],
    report: bool = False,
) -> Backtest:
    """Fit the runs of ``mask`` and score the predictions of the others (one fold).

    ``report`` notes on stderr when the held-out runs are predicted.
    """
    from .extrapolation import ExtrapolationWarning
    from .sampling import fit as _fit

    train_runs = table[mask].reset_index(drop=True)
    test_runs = table[~mask].reset_index(drop=True)
    fitted = _fit(train_runs, law=law, **fit_kwargs)
    if report:
        _progress.note(f"backtest: predicting the {len(test_runs)} held-out runs")
    seed = fit_kwargs.get("random_seed")
    inputs = list(_INPUTS[law])
    new = test_runs[inputs]
    with warnings.catch_warnings():
        # held-out runs beyond the training runs are what a backtest measures, not a mistake
        warnings.simplefilter("ignore", ExtrapolationWarning)
        p50 = fitted.predict(new, kind="predictive", ci_prob=0.5, random_seed=seed)
        p90 = fitted.predict(new, kind="predictive", ci_prob=0.9, random_seed=seed)
    observed = test_runs[_TARGET[law]].to_numpy(float)
    out = new.copy()
    out["compute"] = run_compute(test_runs, law, approx=approx)
    out["observed"] = observed
    out["median"] = p90["median"].to_numpy()
    out["lower_50"], out["upper_50"] = p50["lower"].to_numpy(), p50["upper"].to_numpy()
    out["lower_90"], out["upper_90"] = p90["lower"].to_numpy(), p90["upper"].to_numpy()
    out["error"] = out["median"] - observed
    out["ape"] = 100 * np.abs(out["error"]) / observed
    out["in_50"] = (observed >= out["lower_50"]) & (observed <= out["upper_50"])
    out["in_90"] = (observed >= out["lower_90"]) & (observed <= out["upper_90"])
    return Backtest(
        law=law,
        rule=rule,
        table=out,
        train=mask,
        mdape=float(out["ape"].median()),
        coverage={0.5: float(out["in_50"].mean()), 0.9: float(out["in_90"].mean())},
        fit=fitted,
        random_seed=seed,
    )


def backtest(
    runs: pd.DataFrame | str | os.PathLike,
    law: Literal["chinchilla", "supervised", "distillation"] = "chinchilla",
    *,
    train: Mapping[str, float] | Sequence[bool] | np.ndarray | Sequence[Any],
    approx: Literal["paper", "2N"] = "paper",
    executor: Any = None,
    **fit_kwargs: Any,
) -> Backtest | list[Backtest]:
    """Fit the weaker runs, predict the stronger ones, and score the predictions.

    As in Busbridge et al. (2025), Figure 5: the law is fitted to the runs below a strength
    threshold and must extrapolate to the rest. Predictions are posterior predictive (a new
    model size draws a new discrepancy offset, plus run noise), scored by the median absolute
    percentage error (MdAPE) of the predictive median and the coverage of the 50% and 90%
    predictive intervals. Several thresholds (folds) are several independent fits, which an
    ``executor`` can run in parallel (see ``docs/scaling_out.md``).

    Parameters
    ----------
    runs : DataFrame or path
        All runs (see :func:`bayes_distill.load_runs`).
    law : {"chinchilla", "supervised", "distillation"}
    train : mapping, boolean array, or list of them
        Which runs to fit: ``{"loss_above": L}`` (runs with loss above ``L`` nats/token; the
        student loss ``L_S`` for distillation), ``{"compute_below": C}`` (runs trained with
        fewer than ``C`` FLOPs, see :func:`run_compute`) or a boolean mask with one entry per
        run (True = fit). The other runs are predicted. A list of such rules backtests each
        (one fold per rule, e.g. ``[{"compute_below": 1e20}, {"compute_below": 1e21}]``) and
        returns a list.
    approx : {"paper", "2N"}, default "paper"
        FLOPs per token for ``compute_below`` (:func:`bayes_distill.compute.forward_flops`).
    executor : None or executor, optional
        Runs the folds' fits: anything with ``submit(fn, *args, **kwargs)`` returning futures
        with ``result()``, such as :class:`concurrent.futures.ProcessPoolExecutor` or a
        ``dask.distributed.Client``. None (default) fits the folds one after another in this
        process, reusing its compiled models. The results do not depend on the executor.
    **fit_kwargs
        Passed to :func:`bayes_distill.fit` (``draws``, ``tune``, ``chains``, ``random_seed``,
        ``priors``, ``discrepancy``, ``supervised_runs``, ``progressbar``, ...). ``random_seed``
        also seeds the predictive noise; with a list of rules, each fold uses its own seed
        derived from it (``Backtest.random_seed``: pass it with that fold's rule alone to
        repeat the fold). When progress is on (``progressbar``, as in
        :func:`bayes_distill.fit`), lines on stderr say what is fitted and when the held-out
        runs are predicted; with an executor, a counter of finished folds (the fits' own
        progress bars are not shown).

    Returns
    -------
    Backtest or list of Backtest
        One per rule of ``train``, in its order, when ``train`` is a list.

    Raises
    ------
    TypeError
        If ``train`` is neither a mapping nor a boolean mask (nor a list of them), or
        ``executor`` has no ``submit`` method.
    ValueError
        If ``train`` selects too few runs to fit, or none to predict.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> bt = bd.backtest(runs, law="chinchilla", train={"compute_below": 1e20},
    ...                  draws=300, tune=300, chains=2, random_seed=0)   # doctest: +SKIP
    >>> print(bt)                                                       # doctest: +SKIP
    >>> bt.table.head()                                                 # doctest: +SKIP

    Several folds, fitted two at a time in worker processes:

    >>> from concurrent.futures import ProcessPoolExecutor
    >>> import pandas as pd
    >>> with ProcessPoolExecutor(max_workers=2) as pool:                # doctest: +SKIP
    ...     folds = bd.backtest(runs, law="chinchilla", train=[{"compute_below": c}
    ...                         for c in (3e19, 1e20, 1e21)], random_seed=0, executor=pool)
    >>> pd.concat([bt.to_frame() for bt in folds])                      # doctest: +SKIP
    """
    from . import _parallel
    from .data import kind_of, load_runs

    laws._check_law(law)
    _parallel.check_executor(executor)
    table = load_runs(runs, kind=kind_of(law))
    several = _is_folds(train)
    folds = _folds(list(train) if several else [train], table, law, approx, several)
    seeds = (
        _fold_seeds(fit_kwargs.get("random_seed"), len(folds))
        if several
        else [fit_kwargs.get("random_seed")]
    )
    show = _progress.enabled(fit_kwargs.get("progressbar"))
    tasks = []
    for (mask, described), seed in zip(folds, seeds, strict=True):
        kwargs = {**fit_kwargs, "random_seed": seed}
        if executor is not None:
            kwargs["progressbar"] = False  # other processes' bars would garble the terminal
        tasks.append(
            {
                "table": table,
                "law": law,
                "mask": mask,
                "rule": described,
                "approx": approx,
                "fit_kwargs": kwargs,
                "report": show and executor is None and not several,
            }
        )
    if show:
        what = "; ".join(f"{int(m.sum())} of {len(table)} runs ({d})" for m, d in folds)
        where = "" if executor is None else f", on {type(executor).__name__}"
        _progress.note(f"backtest: fitting the {law} law to {what}{where}")
    counter = _progress.Counter("backtest: fold", len(tasks), on=show and several)
    results = _parallel.run_tasks(
        _backtest_fold, tasks, executor, on_result=lambda i, bt: counter.step(f"({bt.rule})")
    )
    counter.close()
    return results if several else results[0]
