"""'Did you mean ...?' for misspelled keyword arguments of the public entry points.

:func:`check_keywords` wraps :func:`bayes_distill.fit`, :func:`bayes_distill.recommend`,
:func:`bayes_distill.compute_optimal` and :meth:`bayes_distill.ScalingFit.predict`: an unknown
keyword argument raises the TypeError Python would raise, with a suggestion taken first from
:data:`SYNONYMS` (names users bring from ArviZ, PyMC or the papers) and otherwise from
:func:`difflib.get_close_matches` over the function's own keywords. Without a suggestion the
message lists the keywords the function takes. The wrapper keeps the function's signature and
docstring (``inspect.signature`` follows ``__wrapped__``).
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["SYNONYMS", "check_keywords", "suggest", "unexpected_keyword"]

#: Other names for our arguments (lower case) -> the argument. Used only when the function
#: takes that argument.
SYNONYMS: dict[str, str] = {
    "seed": "random_seed",
    "hdi_prob": "ci_prob",
    "risk": "risk_tolerance",
    "budget": "compute",
    "flops": "compute",
    "n_s": "student_params",
    "student_size": "student_params",
}


def suggest(name: str, accepted: Sequence[str]) -> str | None:
    """The keyword of ``accepted`` that ``name`` most likely meant, or None.

    Examples
    --------
    >>> suggest("seed", ["runs", "law", "random_seed"])
    'random_seed'
    >>> suggest("chians", ["draws", "tune", "chains"])
    'chains'
    >>> suggest("colour", ["draws", "tune"]) is None
    True
    """
    synonym = SYNONYMS.get(name.lower())
    if synonym in accepted:
        return synonym
    for candidate in (name, name.lower()):
        close = difflib.get_close_matches(candidate, list(accepted), n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def unexpected_keyword(function: str, name: str, accepted: Sequence[str]) -> TypeError:
    """The TypeError for keyword ``name`` that ``function`` (its qualified name) does not take."""
    message = f"{function}() got an unexpected keyword argument {name!r}."
    guess = suggest(name, accepted)
    if guess is not None:
        message += f" Did you mean {guess!r}?"
    else:
        message += f" Its keyword arguments are {', '.join(accepted)}."
    return TypeError(message)


def check_keywords[F: Callable[..., Any]](func: F) -> F:
    """Wrap ``func`` so that an unknown keyword argument raises a TypeError with a suggestion.

    Parameters
    ----------
    func : callable
        A function or method without ``**kwargs``.

    Returns
    -------
    callable
        ``func`` behind a check of the keyword names (a set lookup per keyword).
    """
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        raise TypeError(f"{func.__qualname__} takes **kwargs: every keyword is accepted.")
    accepted = tuple(n for n, p in params.items() if p.kind in kinds and n != "self")
    known = frozenset(accepted)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in known:
                raise unexpected_keyword(func.__qualname__, name, accepted)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
