"""Run independent fits on a user's executor: serially here, or wherever ``submit`` sends them.

Backtests of several folds and the fits of simulation-based calibration do not depend on each
other. :func:`run_tasks` hands each one to anything with ``submit(fn, *args, **kwargs)`` that
returns a future with ``result()``: :class:`concurrent.futures.ProcessPoolExecutor` and
:class:`~concurrent.futures.ThreadPoolExecutor`, a ``dask.distributed.Client`` (local or remote
cluster), or Ray's pools through their ``concurrent.futures`` interface. The package schedules
nothing itself: results are collected in the order the tasks were submitted, so they and the
seeds that made them are the same whatever ran them.

Warnings raised in another process (a pool's or a cluster's worker) would be printed there and
lost to the caller: tasks that ran elsewhere record them and :func:`run_tasks` warns them again
in the calling process, where the caller's warning filters apply. Tasks that run in this
process (serially, or on a thread pool) warn directly.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["check_executor", "run_tasks"]

#: Tells this process from a forked copy of it (same token, other pid) and from a process on
#: another machine (other token, possibly the same pid).
_PROCESS = (os.getpid(), uuid.uuid4().hex)

_INTERNAL = (os.path.dirname(__file__),)


def check_executor(executor: Any, name: str = "executor") -> None:
    """Raise a TypeError naming ``name`` unless ``executor`` is None or has ``submit``.

    Parameters
    ----------
    executor : object or None
    name : str, default "executor"
        The argument's name, for the message.
    """
    if executor is None or callable(getattr(executor, "submit", None)):
        return
    raise TypeError(
        f"{name} must be None (fit one after another in this process) or an executor with a "
        "submit(fn, *args, **kwargs) method returning futures, such as "
        "concurrent.futures.ProcessPoolExecutor(max_workers=2) or a dask.distributed.Client; "
        f"got {type(executor).__name__} ({executor!r:.80})."
    )


def _identity() -> tuple[int, str]:
    return (os.getpid(), _PROCESS[1])


def _call(
    fn: Callable[..., Any],
    kwargs: Mapping[str, Any],
    caller: tuple[int, str],
    quiet: tuple[type[Warning], ...],
) -> tuple[Any, list[tuple[type[Warning], str]]]:
    """Run ``fn(**kwargs)``; in another process than ``caller``, record its warnings.

    A top-level function, so that process pools and clusters can pickle it by name.
    """
    if _identity() == caller:
        return fn(**kwargs), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in quiet:
            warnings.simplefilter("ignore", category)
        result = fn(**kwargs)
    return result, [(w.category, str(w.message)) for w in caught]


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[Mapping[str, Any]],
    executor: Any,
    *,
    quiet: tuple[type[Warning], ...] = (),
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[fn(**kwargs) for kwargs in tasks]``, each call run by ``executor``.

    Parameters
    ----------
    fn : callable
        A module-level function (pickled by name when the executor runs it in another process).
    tasks : sequence of mapping
        The keyword arguments of each call; they must be picklable for process executors.
    executor : None or executor
        None runs the calls here, one after another. Otherwise each call is submitted with
        ``executor.submit`` and its future's ``result()`` collected in submission order.
    quiet : tuple of Warning subclasses
        Categories ignored while the tasks run (wherever they run).
    on_result : callable, optional
        Called as ``on_result(i, result)`` as each result is collected, in task order.

    Returns
    -------
    list
        The results, in task order.
    """
    check_executor(executor)
    caller = _identity()
    results: list[Any] = []
    with warnings.catch_warnings():
        # tasks in this process (serial, or a thread pool's threads) see these filters
        for category in quiet:
            warnings.simplefilter("ignore", category)
        if executor is None:
            pending = None
            outcomes = (_call(fn, kwargs, caller, quiet) for kwargs in tasks)
        else:
            pending = [executor.submit(_call, fn, kwargs, caller, quiet) for kwargs in tasks]
            outcomes = (future.result() for future in pending)
        try:
            for i, (result, caught) in enumerate(outcomes):
                for category, message in caught:
                    warnings.warn(message, category, skip_file_prefixes=_INTERNAL)
                results.append(result)
                if on_result is not None:
                    on_result(i, result)
        except BaseException:
            for future in pending or ():
                cancel = getattr(future, "cancel", None)  # result() is all a future must have
                if cancel is not None:
                    cancel()  # the calls that have not started yet
            raise
    return results
