"""LOO comparison: :func:`compare` ranks laws fitted to the same runs by PSIS-LOO (ArviZ).

Each fit's pointwise log-likelihood goes through :func:`arviz.loo` and the results through
:func:`arviz.compare`; runs with a high Pareto k are counted in the table and reported in one
:class:`ParetoKWarning`. Users reach these as ``bd.compare`` and ``bd.checks.compare``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import validate as _validate

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = ["ParetoKWarning", "compare"]


class ParetoKWarning(UserWarning):
    """PSIS-LOO found runs whose Pareto k exceeds the reliability threshold.

    The LOO estimate of such a fit is unreliable: the runs are highly influential (outliers, or
    the only runs at their size). See ``compare(...)["n_high_pareto_k"]``.
    """


def _named_fits(fits: Any) -> dict[str, ScalingFit]:
    """The fits of :func:`compare` by name, checked: at least two, each with runs, all fitted to
    the same runs."""
    if isinstance(fits, Mapping):
        named = dict(fits)
    elif isinstance(fits, Sequence) and not isinstance(fits, str):
        named = {}
        laws_seen = [getattr(f, "law", type(f).__name__) for f in fits]
        for i, (f, law) in enumerate(zip(fits, laws_seen, strict=True)):
            name = law if laws_seen.count(law) == 1 else f"{law}_{laws_seen[: i + 1].count(law)}"
            named[name] = f
    else:
        raise TypeError(
            "fits must be a mapping {name: ScalingFit} or a list of ScalingFit, got "
            f"{type(fits).__name__}."
        )
    if len(named) < 2:
        raise ValueError(f"compare needs at least two fits, got {len(named)}.")
    for name, f in named.items():
        _validate.fit(f, None, "compare", f"fits[{name!r}]", converged=False, grouped=True)
        if f.runs is None:
            raise ValueError(f"fits[{name!r}] has no runs (built with from_params): no LOO.")
    names = list(named)
    y_ref = np.asarray(named[names[0]].dt["observed_data"]["obs"].values)
    for name in names[1:]:
        y = np.asarray(named[name].dt["observed_data"]["obs"].values)
        if y.shape != y_ref.shape or not np.allclose(y, y_ref, rtol=0, atol=1e-12):
            raise ValueError(
                f"fits[{name!r}] was fitted to different runs than fits[{names[0]!r}] "
                f"({y.size} vs {y_ref.size} runs, or different losses); LOO comparison needs "
                "the same runs."
            )
    return named


def _loo(name: str, f: ScalingFit, random_seed) -> tuple[Any, dict[str, Any], str]:
    """PSIS-LOO of one fit (ArviZ), its Pareto-k summary, and a message when it is unreliable."""
    import arviz as az

    tree = f.posterior_predictive(random_seed=random_seed)
    # ArviZ's own Pareto-k warning and the floating-point warnings of extreme importance ratios
    # are folded into one ParetoKWarning by compare
    with warnings.catch_warnings(), np.errstate(divide="ignore", over="ignore"):
        warnings.filterwarnings("ignore", message=".*Pareto distribution.*")
        elpd = az.loo(tree, var_name="obs", pointwise=True)
    k = np.asarray(elpd.pareto_k.values, float)
    threshold = float(elpd.good_k)
    high = ~(k <= threshold)  # a NaN k (degenerate importance ratios) is not reliable
    n_high = int(np.sum(high))
    row = {
        "law": f.law,
        "pareto_k_max": float(np.max(np.where(np.isnan(k), np.inf, k))),
        "pareto_k_threshold": threshold,
        "n_high_pareto_k": n_high,
    }
    message = ""
    if n_high:
        worst = np.argsort(np.where(high & np.isnan(k), np.inf, k))[::-1][: min(n_high, 5)]
        where = ", ".join(f"run {int(i)} (k={k[i]:.2f})" for i in worst)
        message = (
            f"{name}: {n_high} of {k.size} runs have Pareto k > {threshold:.2f} ({where}); "
            "its LOO estimate is unreliable (influential runs or outliers)."
        )
    return elpd, row, message


def compare(
    fits: Mapping[str, ScalingFit] | Sequence[ScalingFit],
    *,
    method: Literal["stacking", "BB-pseudo-BMA", "pseudo-BMA"] = "stacking",
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Compare laws fitted to the same runs by PSIS-LOO (ArviZ), with Pareto-k diagnostics.

    Each fit's pointwise log-likelihood (:meth:`ScalingFit.posterior_predictive`) goes through
    :func:`arviz.loo` and the results through :func:`arviz.compare`. Runs whose Pareto k exceeds
    ArviZ's sample-size-dependent threshold (``min(1 - 1/log10(S), 0.7)``), or is undefined
    (NaN, reported as infinite in ``pareto_k_max``), make that fit's LOO
    estimate unreliable: they are counted in the table and reported in one
    :class:`ParetoKWarning` (ArviZ's own warnings are folded into it).

    The log-likelihood conditions on the fitted group offsets, so this is leave-one-*run*-out
    within known model sizes; to judge extrapolation to new sizes use :func:`backtest`.

    Parameters
    ----------
    fits : mapping of str to ScalingFit, or sequence of ScalingFit
        Fits of the same runs (for example ``{"chinchilla": f1, "supervised": f2}``). A
        sequence is named by each fit's law (suffixed ``_1``, ``_2`` if repeated).
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}, default "stacking"
        How :func:`arviz.compare` computes the model weights.
    random_seed : int, optional
        Seed of the posterior predictive draws (not used by LOO itself).

    Returns
    -------
    pandas.DataFrame
        :func:`arviz.compare`'s table (best first: ``rank``, ``elpd``, ``elpd_diff``, ``dse``,
        ``p_worse``, ``p``, ``se``, ``weight``, ...) plus ``law``, ``pareto_k_max``,
        ``pareto_k_threshold`` and ``n_high_pareto_k``. ``attrs["loo"]`` holds the
        :class:`~arviz_stats.utils.ELPDData` of each fit and ``attrs["warnings"]`` the
        Pareto-k messages (empty when all are reliable).

    Raises
    ------
    TypeError
        If an element is not a ScalingFit.
    ValueError
        With fewer than two fits, or fits of different runs.

    Warns
    -----
    ParetoKWarning
        When any fit has runs with a high Pareto k.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> fits = {law: bd.fit(runs, law=law, random_seed=1) for law in ("chinchilla", "supervised")}
    ...                                                               # doctest: +SKIP
    >>> table = bd.checks.compare(fits)                               # doctest: +SKIP
    >>> table[["rank", "elpd", "elpd_diff", "dse", "weight", "n_high_pareto_k"]]  # doctest: +SKIP
    """
    import arviz as az

    named = _named_fits(fits)
    loos, messages = {}, []
    rows = {}
    for name, f in named.items():
        loos[name], rows[name], message = _loo(name, f, random_seed)
        if message:
            messages.append(message)
    with np.errstate(all="ignore"):  # stacking weights with near-zero predictive densities
        table = az.compare(loos, method=method, round_to="none")
    extra = pd.DataFrame.from_dict(rows, orient="index")
    table = table.join(extra)
    table.attrs.update({"loo": loos, "warnings": messages, "method": method})
    if messages:
        warnings.warn(
            "PSIS-LOO is unreliable for some fits:\n  "
            + "\n  ".join(messages)
            + "\nCompare with backtests (bd.checks.backtest) or K-fold CV before trusting the "
            "ranking.",
            ParetoKWarning,
            stacklevel=2,
        )
    return table
