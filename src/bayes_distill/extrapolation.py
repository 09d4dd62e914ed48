"""How far inputs lie outside the runs a law was fitted to (:func:`assess`).

A scaling law fitted to runs is only checked against data inside the range of those runs;
beyond it, predictions and decisions rest on the law's functional form. Every input is
compared with the range ``[min, max]`` of the same quantity over the fitted runs, and its
*fold* is how many times beyond that range it lies::

    fold = max(value / max, min / value, 1)

so ``fold = 1`` inside the range and ``fold = 10`` ten times above the largest (or below the
smallest) fitted value.

======================  ======================================  =============================
law                     input                                   compared with
======================  ======================================  =============================
chinchilla, supervised  ``N``, ``D``, ``tokens_per_param`` D/N  the fitted runs
distillation            ``N_S``, ``D_S``, ``tokens_per_param``  the fitted runs
                        D_S/N_S, ``L_T``
distillation            ``N_T``, ``D_T`` (the teacher)          ``N`` and ``D`` of the fit's
                                                                supervised runs
======================  ======================================  =============================

A distillation fit without supervised runs reports the teacher's folds as NaN (reason
``"no supervised runs"``), and a fit built with :meth:`ScalingFit.from_params` has no runs,
so nothing is reported and nothing warned.

:func:`bayes_distill.recommend`, :func:`bayes_distill.compute_optimal` and
:meth:`ScalingFit.predict <bayes_distill.ScalingFit.predict>` report the folds of their inputs
and warn with one :class:`ExtrapolationWarning` per call when a count (a number of parameters
or tokens, or tokens per parameter) is more than :data:`COUNT_FOLD_LIMIT` (10) times beyond
its range, or a loss more than :data:`LOSS_FOLD_LIMIT` (1.1, i.e. 10%) beyond it. Losses get
the tighter threshold because they vary over a far narrower range than counts: in the shipped
posteriors' runs the teacher losses span a factor of 1.45 (1.90 to 2.75 nats/token), the
parameter and token counts factors of 13 to 390.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = [
    "COUNT_FOLD_LIMIT",
    "LOSS_FOLD_LIMIT",
    "ExtrapolationWarning",
    "assess",
    "fitted_ranges",
    "fold",
    "max_fold",
]

#: Warn when a count (parameters, tokens, tokens per parameter) is more than this many times
#: beyond the range of the fitted runs.
COUNT_FOLD_LIMIT = 10.0
#: Warn when a loss is more than this factor beyond the range of the fitted runs (10%).
LOSS_FOLD_LIMIT = 1.1

#: Inputs that are losses (nats/token); every other input is a count.
LOSS_INPUTS = frozenset({"L_T"})

#: Reason given for the teacher's inputs of a distillation fit without supervised runs.
NO_SUPERVISED_RUNS = "no supervised runs"

_INPUTS = {
    "chinchilla": ("N", "D", "tokens_per_param"),
    "supervised": ("N", "D", "tokens_per_param"),
    "distillation": ("N_S", "D_S", "tokens_per_param", "L_T", "N_T", "D_T"),
}
# law -> (parameters, tokens): the columns whose ratio D/N is its tokens_per_param
_RATIO_OF = {
    "chinchilla": ("N", "D"),
    "supervised": ("N", "D"),
    "distillation": ("N_S", "D_S"),
}


class ExtrapolationWarning(UserWarning):
    """Warned when an input lies far outside the range of the runs the law was fitted to.

    Beyond :data:`COUNT_FOLD_LIMIT` times the range for parameter and token counts, or
    :data:`LOSS_FOLD_LIMIT` for losses; see :mod:`bayes_distill.extrapolation`.
    """


def fold(value: Any, lo: float, hi: float) -> np.ndarray | float:
    """How many times ``value`` lies beyond ``[lo, hi]``: ``max(value / hi, lo / value, 1)``.

    Parameters
    ----------
    value : float or array_like
        Positive values; a non-finite or non-positive value gives NaN.
    lo, hi : float
        The range (``0 < lo <= hi``).

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``value``, an array of its shape otherwise.

    Examples
    --------
    >>> from bayes_distill.extrapolation import fold
    >>> fold(5.0, 2.0, 10.0), fold(100.0, 2.0, 10.0), fold(0.5, 2.0, 10.0)
    (1.0, 10.0, 4.0)
    """
    v = np.asarray(value, dtype=float)
    with np.errstate(all="ignore"):
        out = np.maximum(np.maximum(v / hi, lo / v), 1.0)
    out = np.where(np.isfinite(v) & (v > 0), out, np.nan)
    return float(out) if out.ndim == 0 else out


def fitted_ranges(fit: ScalingFit) -> dict[str, dict[str, Any]]:
    """The range of each input over the runs ``fit`` was fitted to.

    Parameters
    ----------
    fit : ScalingFit

    Returns
    -------
    dict
        Input name -> ``{"min", "max", "against"}`` (``against`` is ``"runs"`` or
        ``"supervised runs"``), or ``{"min": nan, "max": nan, "reason": ...}`` for the
        teacher's ``N_T, D_T`` of a distillation fit without supervised runs. Empty for a fit
        without runs (:meth:`ScalingFit.from_params`).
    """
    runs = fit.runs
    if runs is None:
        return {}
    out: dict[str, dict[str, Any]] = {}

    def span(values: Any, against: str) -> dict[str, Any]:
        v = np.asarray(values, dtype=float)
        return {"min": float(np.min(v)), "max": float(np.max(v)), "against": against}

    n_col, d_col = _RATIO_OF[fit.law]
    for name in (n_col, d_col):
        out[name] = span(runs[name], "runs")
    out["tokens_per_param"] = span(
        runs[d_col].to_numpy(float) / runs[n_col].to_numpy(float), "runs"
    )
    if fit.law == "distillation":
        out["L_T"] = span(runs["L_T"], "runs")
        sup = fit.supervised_runs
        for name, col in (("N_T", "N"), ("D_T", "D")):
            if sup is None or len(sup) == 0:
                out[name] = {"min": math.nan, "max": math.nan, "reason": NO_SUPERVISED_RUNS}
            else:
                out[name] = span(sup[col], "supervised runs")
    return out


def assess(fit: ScalingFit, **values: Any) -> dict[str, dict[str, Any]]:
    """How far each input lies outside the runs ``fit`` was fitted to.

    Parameters
    ----------
    fit : ScalingFit
        The fit whose runs set the ranges (see the module docstring for which runs each
        input is compared with).
    **values : float or array_like
        Inputs by name: ``N, D, tokens_per_param`` for the supervised laws;
        ``N_S, D_S, tokens_per_param, L_T, N_T, D_T`` for the distillation law. Inputs given
        as None are left out. ``tokens_per_param`` is derived from ``N, D`` (or ``N_S, D_S``)
        when both are given and it is not.

    Returns
    -------
    dict
        Input name -> ``{"value", "min", "max", "fold", "against"}`` (``value`` and ``fold``
        are arrays when ``value`` is; ``against`` names the runs compared with, ``"runs"`` or
        ``"supervised runs"``), or ``{"value", "min", "max", "fold", "reason"}`` with NaN
        range and fold when there is no range to compare with (reason ``"no supervised
        runs"``). Empty for a fit without runs (:meth:`ScalingFit.from_params`).

    Raises
    ------
    ValueError
        For an input name the law does not have.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("chinchilla", {"E": 1.8, "A": 480.0, "B": 2100.0,
    ...                                                "alpha": 0.35, "beta": 0.37})
    >>> bd.extrapolation.assess(fit, N=1e12)  # no runs: nothing to compare with
    {}
    >>> shipped = bd.datasets.fitted("distillation")  # doctest: +SKIP
    >>> bd.extrapolation.assess(shipped, D_S=1.4e16)["D_S"]  # doctest: +SKIP
    {'value': 1.4e+16, 'min': 3700000000.0, 'max': 98500000000.0, 'fold': 142131.97969543148,
     'against': 'runs'}
    """
    valid = _INPUTS[fit.law]
    unknown = [k for k in values if k not in valid]
    if unknown:
        raise ValueError(
            f"Unknown input(s) {unknown} for the {fit.law} law; valid inputs are "
            f"{', '.join(valid)}."
        )
    ranges = fitted_ranges(fit)
    if not ranges:
        return {}
    given = {k: v for k, v in values.items() if v is not None}
    n_col, d_col = _RATIO_OF[fit.law]
    if "tokens_per_param" not in given and n_col in given and d_col in given:
        with np.errstate(all="ignore"):
            ratio = np.asarray(given[d_col], float) / np.asarray(given[n_col], float)
        given["tokens_per_param"] = float(ratio) if ratio.ndim == 0 else ratio
    return _assess(ranges, {k: given[k] for k in valid if k in given})


def _assess(
    ranges: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """:func:`assess` against given ranges (input name -> ``{"min", "max"[, "reason"]}``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        r = ranges[name]
        v = np.asarray(value, dtype=float)
        value = float(v) if v.ndim == 0 else v
        entry: dict[str, Any] = {"value": value, "min": r["min"], "max": r["max"]}
        if "reason" in r:
            entry["fold"] = math.nan if v.ndim == 0 else np.full(v.shape, np.nan)
            entry["reason"] = r["reason"]
        else:
            entry["fold"] = fold(value, r["min"], r["max"])
        if "against" in r:
            entry["against"] = r["against"]
        out[name] = entry
    return out


def max_fold(report: Mapping[str, Mapping[str, Any]]) -> float:
    """The largest fold of a report of scalar inputs.

    Parameters
    ----------
    report : mapping
        As returned by :func:`assess` for scalar inputs.

    Returns
    -------
    float
        The largest finite fold; NaN when there is none (no runs, or no range to compare
        with).

    Examples
    --------
    >>> from bayes_distill.extrapolation import max_fold
    >>> max_fold({"N": {"fold": 3.0}, "D": {"fold": 1.0}}), max_fold({})
    (3.0, nan)
    """
    folds = [_fold_of(e) for e in report.values() if math.isfinite(_fold_of(e))]
    return max(folds) if folds else math.nan


def _fold_of(entry: Mapping[str, Any]) -> float:
    """The scalar fold of a report entry; NaN for a missing one (None in JSON reports)."""
    f = entry.get("fold")
    return math.nan if f is None else float(f)


def _limit(name: str) -> float:
    """The fold beyond which input ``name`` is warned about."""
    return LOSS_FOLD_LIMIT if name in LOSS_INPUTS else COUNT_FOLD_LIMIT


def _label(name: str, law: str) -> str:
    """How input ``name`` is written in messages (``tokens_per_param`` -> ``D_S/N_S``)."""
    if name == "tokens_per_param":
        n_col, d_col = _RATIO_OF[law]
        return f"{d_col}/{n_col}"
    return name


def _describe(name: str, entry: Mapping[str, Any], law: str) -> str:
    """``"D_S = 1.4e+16 is 1.4e+05 x beyond the fitted runs' range [3.7e+09, 9.85e+10]"``
    for one scalar entry of a report."""
    against = entry.get("against", "runs")
    return (
        f"{_label(name, law)} = {float(entry['value']):.3g} is {float(entry['fold']):.3g} x "
        f"beyond the fitted {against}' range [{entry['min']:.3g}, {entry['max']:.3g}]"
    )


def _warn(
    report: Mapping[str, Mapping[str, Any]],
    law: str,
    *,
    where: Sequence[str] | None = None,
    what: str = "inputs",
) -> str | None:
    """Emit one :class:`ExtrapolationWarning` naming every input beyond its threshold.

    Parameters
    ----------
    report : mapping
        As returned by :func:`assess`: scalar entries, or 1-D arrays of one value per row.
    law : str
        The fit's law (for the labels of the inputs).
    where : sequence of str, optional
        For array entries, a label per row (e.g. ``"row 3"``, ``"compute=1e+22"``): the
        message names the row of the largest fold of each input and how many rows are beyond.
    what : str
        What the rows are, for the count (``"rows"``, ``"budgets"``).

    Returns
    -------
    str or None
        The message warned, or None when every input is within its threshold.
    """
    parts = []
    for name, e in report.items():
        folds = np.atleast_1d(np.asarray(e["fold"], dtype=float))
        over = np.isfinite(folds) & (folds > _limit(name))
        if not over.any():
            continue
        i = int(np.argmax(np.where(over, folds, -np.inf)))
        values = np.atleast_1d(np.asarray(e["value"], dtype=float))
        text = _describe(name, {**e, "value": values[i], "fold": folds[i]}, law)
        if where is not None and folds.size > 1:
            n = int(over.sum())
            text += f" (at {where[i]}; {n} of {folds.size} {what} beyond the threshold)"
        elif where is not None:
            text += f" (at {where[i]})"
        parts.append(text)
    if not parts:
        return None
    message = (
        "; ".join(parts) + f". The {law} law has not been checked against runs there, so "
        "these numbers rest on its extrapolation: treat them with caution, or add runs "
        f"closer to these inputs. (Warned beyond {COUNT_FOLD_LIMIT:g}x the fitted range for "
        f"counts and {LOSS_FOLD_LIMIT:g}x for losses; see bayes_distill.extrapolation.)"
    )
    warnings.warn(message, ExtrapolationWarning, skip_file_prefixes=(os.path.dirname(__file__),))
    return message


def _stack(reports: Sequence[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Reports of scalar inputs (one per row, e.g. per budget) as one report of 1-D arrays.

    An input missing from some rows gets NaN there; ``min``, ``max`` and ``against`` are those
    of the first row that has it (every row of one call is compared with the same runs).
    """
    names: list[str] = []
    for r in reports:
        names += [k for k in r if k not in names]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        first = next(r[name] for r in reports if name in r)
        out[name] = {
            **first,
            "value": np.array([r[name]["value"] if name in r else np.nan for r in reports]),
            "fold": np.array([r[name]["fold"] if name in r else np.nan for r in reports]),
        }
    return out


def _summary(report: Mapping[str, Mapping[str, Any]], law: str) -> str:
    """One line on a report of scalar inputs: the inputs beyond their range, or that there
    are none (used after ``"extrapolation: "`` in printed results).

    Examples
    --------
    >>> from bayes_distill.extrapolation import _summary
    >>> _summary({"N": {"value": 1e12, "min": 1e8, "max": 1e10, "fold": 100.0}}, "chinchilla")
    "N = 1e+12 is 100 x beyond the fitted runs' range [1e+08, 1e+10]"
    >>> _summary({}, "chinchilla")
    'not assessed: the fit has no runs (ScalingFit.from_params)'
    """
    if not report:
        return "not assessed: the fit has no runs (ScalingFit.from_params)"
    outside = [_describe(k, e, law) for k, e in report.items() if _fold_of(e) > 1]
    reasons: dict[str, list[str]] = {}
    for k, e in report.items():
        if "reason" in e:
            reasons.setdefault(e["reason"], []).append(_label(k, law))
    missing = [f"{', '.join(ks)} not assessed ({why})" for why, ks in reasons.items()]
    if outside:
        return "; ".join(outside + missing)
    inside = "all other inputs within the fitted runs" if missing else ""
    return "; ".join([*missing, inside]) if missing else "all inputs within the fitted runs"


def _to_json(report: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A report of scalar inputs with plain floats and None for NaN (for JSON)."""

    def clean(x: Any) -> Any:
        if x is None or isinstance(x, str):
            return x
        x = float(x)
        return x if math.isfinite(x) else None

    return {k: {kk: clean(vv) for kk, vv in e.items()} for k, e in report.items()}
