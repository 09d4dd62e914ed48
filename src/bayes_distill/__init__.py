"""bayes_distill: Bayesian scaling laws for language-model training and distillation.

Scaling-law parameters get priors and are fitted with NUTS (PyMC + nutpie) to training runs; the
posteriors flow into compute-optimal allocations with credible intervals and a recommendation
that follows the user's risk tolerance.

Public names are loaded on first use (PEP 562), so ``import bayes_distill`` is cheap and does not
import PyMC until a fit is requested.

Examples
--------
>>> import bayes_distill as bd
>>> runs = bd.datasets.load("chinchilla")            # doctest: +SKIP
>>> fit = bd.fit(runs, law="chinchilla")              # doctest: +SKIP
>>> fit.summary()                                     # doctest: +SKIP
"""

# Helper imports are private (leading underscore), so that ``dir(bd)`` and tab completion
# show the public names only (see ``__dir__`` below).
import importlib as _importlib
from typing import Any as _Any

from ._version import __version__

_SUBMODULES = (
    "checks",
    "compute",
    "datasets",
    "extrapolation",
    "laws",
    "plots",
)

# public name -> module that defines it
_LAZY = {
    # data
    "load_runs": "data",
    "DataValidationError": "data",
    "DataValidationWarning": "data",
    # fitting
    "fit": "sampling",
    "ScalingFit": "results",
    "load_fit": "persistence",
    "FitFileError": "persistence",
    "ConvergenceWarning": "diagnostics",
    "Diagnostics": "diagnostics",
    "ConvergenceError": "diagnostics",
    # extrapolation beyond the fitted runs
    "ExtrapolationWarning": "extrapolation",
    # decisions
    "compute_optimal": "decide",
    "crossover": "decide",
    "distill_or_train": "decide",
    "recommend": "decide",
    "recommend_sweep": "decide",
    "Recommendation": "decide",
    # which run next
    "next_run": "value_of_information",
    # model checking
    "compare": "comparison",
    "backtest": "holdout",
}

__all__ = [
    # modules
    "checks",
    "compute",
    "datasets",
    "extrapolation",
    "laws",
    "plots",
    # data
    "DataValidationError",
    "DataValidationWarning",
    "load_runs",
    # fitting
    "ConvergenceError",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "ScalingFit",
    "fit",
    "load_fit",
    # extrapolation beyond the fitted runs
    "ExtrapolationWarning",
    # decisions
    "Recommendation",
    "compute_optimal",
    "crossover",
    "distill_or_train",
    "recommend",
    "recommend_sweep",
    # which run next
    "next_run",
    # model checking
    "backtest",
    "compare",
    "__version__",
]


def __getattr__(name: str) -> _Any:
    if name in _SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _LAZY:
        module = _importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names: ``__all__`` (which lists the submodules users import too).

    Internal submodules that Python binds on the package once imported (``decide``, ``model``,
    ``priors``, ...) and helper names stay reachable as attributes but are not listed.
    """
    return sorted(set(__all__) | set(_SUBMODULES))
