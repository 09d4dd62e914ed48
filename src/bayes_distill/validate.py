"""Validation of the arguments that several public functions share, in one place.

Every public function checks probabilities, integers, seeds and fits with these, so that all of
them accept the same values (NumPy scalars included, bools refused) and refuse the rest with
the same actionable message: the argument, the value, and how to fix it.
"""

from __future__ import annotations

import numbers
import os
import warnings
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import ScalingFit

__all__ = ["SEED_MAX", "fit", "integer", "is_number", "law_group", "probability", "random_seed"]

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
