"""Progress reports on stderr for the long jobs: fits, sweeps of budgets, backtests and SBC.

Whether progress is shown is decided by :func:`enabled`, in this order:

1. an explicit argument (``bd.fit(..., progressbar=True)`` or ``False``);
2. the environment variable ``BAYES_DISTILL_PROGRESS`` (``0``/``false``/``no``/``off`` turns
   progress off everywhere, ``1``/``true``/``yes``/``on`` turns it on; other values are ignored);
3. otherwise, whether the session is interactive: stderr is a terminal, or the code runs in a
   Jupyter kernel.

So scripts whose stderr goes to a file, CI logs and test runs print nothing unless asked to.
Every report is plain text on stderr, prefixed with ``bayes_distill:``; there is no dependency
beyond the standard library (the sampler's own progress bar is nutpie's).
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType

__all__ = ["ENV_VAR", "Counter", "enabled", "interactive", "note"]

#: The environment variable that turns progress on (``1``) or off (``0``) everywhere.
ENV_VAR = "BAYES_DISTILL_PROGRESS"
PREFIX = "bayes_distill: "

_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}

#: Seconds a sweep of budgets runs before its counter appears: a sweep that finishes sooner
#: prints nothing (a hundred compute-optimal budgets take a fraction of a second).
SWEEP_DELAY = 1.0


def _in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel imported and an IPython shell)."""
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def interactive() -> bool:
    """Whether a person is probably watching: stderr is a terminal, or a Jupyter kernel runs."""
    return _stderr_is_terminal() or _in_jupyter()


def enabled(progressbar: bool | None = None) -> bool:
    """Whether to show progress.

    Parameters
    ----------
    progressbar : bool or None, default None
        True or False forces progress on or off. None reads the environment variable
        ``BAYES_DISTILL_PROGRESS`` (``0`` off, ``1`` on) and, when it is not set, shows
        progress in interactive sessions (:func:`interactive`).

    Returns
    -------
    bool
    """
    if progressbar is not None:
        return bool(progressbar)
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in _OFF:
        return False
    if value in _ON:
        return True
    return interactive()


def note(message: str) -> None:
    """Print ``bayes_distill: <message>`` as one line on stderr (the caller checks
    :func:`enabled`)."""
    print(PREFIX + message, file=sys.stderr, flush=True)


class Counter:
    """A step counter on stderr, e.g. ``bayes_distill: recommend: budget 3 of 50 (12 s)``.

    On a terminal or in Jupyter the line is rewritten in place (carriage return) and ended with
    a newline by :meth:`close`; elsewhere (stderr redirected with progress forced on) each step
    is its own line. Nothing is printed when ``on`` is False, nor before ``delay`` seconds have
    passed since the counter was created.

    Parameters
    ----------
    what : str
        What is counted, e.g. ``"recommend: budget"``.
    total : int
        Number of steps.
    on : bool
        Whether to print at all (usually :func:`enabled`).
    delay : float, default 0
        Seconds before the first report.

    Examples
    --------
    >>> with Counter("sbc: dataset", 3, on=False) as counter:
    ...     for i in range(3):
    ...         counter.step()
    """

    def __init__(self, what: str, total: int, *, on: bool, delay: float = 0.0):
        self.what, self.total, self.on, self.delay = what, int(total), bool(on), float(delay)
        self.done = 0
        self.start = time.perf_counter()
        self._rewrite = interactive()
        self._shown = False
        self._width = 0

    def step(self, detail: str = "") -> None:
        """Count one finished step; ``detail`` is appended to the line."""
        self.done += 1
        elapsed = time.perf_counter() - self.start
        if not self.on or elapsed < self.delay:
            return
        text = f"{PREFIX}{self.what} {self.done} of {self.total} ({elapsed:.0f} s)"
        if detail:
            text += f" {detail}"
        if self._rewrite:
            pad = " " * max(self._width - len(text), 0)
            sys.stderr.write(f"\r{text}{pad}")
            self._width = len(text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        """End the line a terminal counter left open."""
        if self._shown and self._rewrite:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._shown = False

    def __enter__(self) -> Counter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
