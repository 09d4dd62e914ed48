"""Validation of the arguments that several public functions share, in one place.

Every public function checks probabilities, integers, seeds and fits with these, so that all of
them accept the same values (NumPy scalars included, bools refused) and refuse the rest with
the same actionable message: the argument, the value, and how to fix it.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .results import ScalingFit

__all__ = [
    "SEED_MAX",
    "approx",
    "budgets",
    "fit",
    "integer",
    "is_number",
    "law_group",
    "positive",
    "positive_pair",
    "positive_values",
    "probability",
    "random_seed",
    "scenario",
    "teacher_loss",
]

#: Seeds must fit in 32 bits: every sampler (nutpie, numpyro's PRNGKey, PyMC) and the NetCDF
#: attribute that records the seed accept them.
SEED_MAX = 2**32 - 1

#: Warnings are attributed to the first caller outside the package (the user's line), however
#: deep inside bayes_distill (or its keyword-checking wrappers) they are raised.
INTERNAL = (os.path.dirname(__file__),)


def is_number(value: Any) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def probability(name: str, value: Any, example: str | None = None) -> float:
    """``value`` as a float strictly between 0 and 1 (NaN refused)."""
    if not is_number(value) or not 0.0 < float(value) < 1.0:
        hint = (example or f"e.g. {name}=0.9").rstrip(".")
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}; {hint}.")
    return float(value)


def integer(name: str, value: Any, minimum: int, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an int in ``[minimum, maximum]``; floats, bools and None refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        kind = (
            ""
            if isinstance(value, numbers.Integral) and not isinstance(value, bool)
            else (f" ({type(value).__name__})")
        )
        raise ValueError(
            f"{name} must be an integer {allowed}, got {value!r}{kind}"
            + (f"; {hint}" if hint else ".")
        )
    return int(value)


def positive(name: str, value: Any, hint: str) -> float:
    """``value`` as a finite positive float; ``hint`` says how to fix a refused one."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}); {hint}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value!r}; {hint}")
    return value


def positive_pair(pair: Any, msg: str) -> tuple[float, float]:
    """``(lo, hi)`` as floats with ``0 < lo < hi``, both finite; ValueError(msg) otherwise."""
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not (is_number(lo) and is_number(hi)):
        raise ValueError(msg)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(msg)
    return lo, hi


def positive_values(
    name: str, value: Any, hint: str, unit: str = "", kind: str = "a number or an array of numbers"
) -> np.ndarray:
    """``value`` (a number or a non-empty 1-D sequence) as a 1-D array of finite positive
    floats. In the messages of a refused one, ``kind`` says what was expected and ``unit`` what
    the numbers count (e.g. " FLOPs")."""
    if isinstance(value, str | bytes | bool):
        raise TypeError(f"{name} must be {kind}, got {value!r}; {hint}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {kind}, got {value!r}; {hint}") from None
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D array, got {value!r}; {hint}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and positive{unit}, got {value!r}; {hint}")
    return np.atleast_1d(arr)


def budgets(compute: Any) -> tuple[np.ndarray, bool]:
    """Budgets ``compute`` (FLOPs) as a 1-D float array, and whether one number was given."""
    hint = "give FLOPs as a number such as 1e22, or a 1-D array of budgets for a sweep."
    return positive_values("compute", compute, hint, " FLOPs"), np.ndim(compute) == 0


def approx(value: Any) -> str:
    """The FLOPs-per-token approximation: ``"paper"`` or ``"2N"``."""
    if value not in ("paper", "2N"):
        raise ValueError(
            f"approx must be 'paper' (FLOPs per token with attention and embeddings, paper Eq. 9) "
            f"or '2N' (the 6ND rule), got {value!r}."
        )
    return value


def scenario(value: Any) -> str:
    """A distillation scenario, one of :data:`bayes_distill.compute.SCENARIOS`."""
    from .compute import SCENARIOS

    if not isinstance(value, str) or value not in SCENARIOS:
        valid = ", ".join(repr(s) for s in SCENARIOS)
        raise ValueError(f"Unknown scenario {value!r}. Valid scenarios are {valid}.")
    return value


def teacher_loss(value: Any) -> float:
    """``teacher_loss`` as a float, checked like the losses of a run table (``load_runs``):
    a cross-entropy in nats/token within :data:`bayes_distill.data.LOSS_RANGE`."""
    from .data import LOSS_RANGE

    value = positive("teacher_loss", value, "give it in nats/token, e.g. 2.1.")
    lo, hi = LOSS_RANGE
    if not lo <= value <= hi:
        if value > hi:
            why = (
                "values this large look like a perplexity (give its log, np.log(perplexity)) "
                "or a loss summed over tokens (divide by the token count)."
            )
        else:
            why = (
                "values this small are not plausible for a language model (is it an accuracy, "
                "a log10 value, or a loss scaled by some factor?)."
            )
        raise ValueError(
            f"teacher_loss={value!r} is outside the range of plausible losses [{lo:g}, {hi:g}] "
            f"nats/token (the range load_runs accepts for run-table losses): {why} Give the "
            "teacher's validation cross-entropy in nats/token (typically 1.5 to 5), e.g. "
            "teacher_loss=2.1; a loss in bits/token converts to nats by multiplying by "
            "ln 2 = 0.693."
        )
    return value


def max_draws(value: Any) -> int | None:
    """How many posterior draws a costly summary may use: None (all) or an integer >= 1."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
    ):
        raise ValueError(
            f"max_draws must be a positive integer or None, got {value!r}; e.g. max_draws=400 "
            "(None uses every draw)."
        )
    return None if value is None else int(value)


def random_seed(value: Any) -> int | None:
    """A seed: None, or an integer in ``[0, SEED_MAX]``."""
    if value is None:
        return None
    return integer("random_seed", value, 0, SEED_MAX, "or None for a fresh seed.")


def fit(
    value: Any,
    laws: tuple[str, ...] | None,
    function: str,
    name: str = "fit",
    *,
    converged: bool = True,
    grouped: bool = False,
) -> ScalingFit:
    """``value`` (the argument ``name`` of ``function``) as a :class:`ScalingFit` of one of
    ``laws`` (any law when None). With ``converged`` (decisions), a sampled fit that failed its
    diagnostics warns (:class:`ConvergenceWarning`) before it is used; checks and plots, which
    are how a failed fit is examined, pass False. A grouped fit (one law per group) is refused
    unless ``grouped``: the function evaluates one law."""
    from .results import ScalingFit

    if not isinstance(value, ScalingFit):
        raise TypeError(
            f"{function} needs a ScalingFit as `{name}`, got {type(value).__name__}; create one "
            "with bd.fit(runs, law=...), bd.load_fit(path) or bd.datasets.fitted(name)."
        )
    if laws is not None and value.law not in laws:
        if laws == ("distillation",):
            fix = (
                "fit the distillation law (bd.fit(runs, law='distillation')) or load the shipped "
                "posterior (bd.datasets.fitted('distillation')); for a supervised fit use "
                "bd.compute_optimal instead."
            )
        else:
            fix = f"pass a {' or '.join(laws)} fit."
        raise ValueError(
            f"{function} needs a fit of law {' or '.join(laws)}, got a {value.law!r} fit; {fix}"
        )
    if not grouped and value.groups is not None and value.group is None:
        raise ValueError(
            f"{function} evaluates one law, and `{name}` is a grouped fit (one law per group of "
            f"column {value.groups!r}: {', '.join(map(repr, value.group_names))}); pass "
            f"`{name}`.for_group(name) for one group's law."
        )
    # fits built with ScalingFit.from_params have no sampler statistics to diagnose
    if converged and "sample_stats" in value.dt.children:
        warn_if_not_converged(value)
    return value


def law_group(value: Any, group: Any, function: str) -> Any:
    """The fit that ``function`` evaluates: one group's law (:meth:`ScalingFit.for_group`)
    of a grouped fit, which needs ``group``; ``value`` itself for a fit of one law, which
    refuses ``group`` (as does anything that is not a fit, left to :func:`fit` to refuse)."""
    from .results import ScalingFit

    if not isinstance(value, ScalingFit) or (value.groups is None and group is None):
        return value
    if group is None:
        if value.group is not None:  # already one group's law
            return value
        raise ValueError(
            f"{function}: this fit has one law per group of column {value.groups!r}; pass "
            f"group= one of {', '.join(map(repr, value.group_names))}."
        )
    return value.for_group(value._check_group(group, function))


# ArviZ diagnostics of a 4000-draw posterior take about a second, longer than a recommendation:
# they are computed once per fit object (fits are not modified after creation).
_DIAGNOSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def warn_if_not_converged(value: ScalingFit) -> None:
    """Warn (once per fit object and call site) when a fit failed its diagnostics."""
    from .diagnostics import ConvergenceWarning

    diag = _DIAGNOSED.get(value)
    if diag is None:
        diag = _DIAGNOSED[value] = value.diagnose()
    if not diag.ok:
        warnings.warn(
            f"The {value.law} fit did NOT converge:\n  " + "\n  ".join(diag.problems()),
            ConvergenceWarning,
            skip_file_prefixes=INTERNAL,
        )
