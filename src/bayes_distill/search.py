"""A small vectorised optimiser: many independent minimisations run side by side as array rows.

Decisions minimise a function for every posterior draw at once (each draw's own optimum), or
one function of all draws (a quantile over draws). Both are boxes in at most two dimensions,
cheap to evaluate on whole arrays and expensive to loop over in Python, so every piece here
takes arrays of candidates and returns arrays of results:

:func:`grid`
    A product grid of evenly spaced points over a box: the coarse first look.
:func:`unit_grid`
    The same grid over the unit box, to be scaled into a box per row.
:func:`best_candidate`
    Each row's best candidate (a coarse grid plus any other starts): where a search starts.
:func:`compass`
    Compass search with Newton steps, every row independent (:class:`Optimum` per row).
:func:`newton_step`
    The minimiser of the quadratic through a ``3**d`` stencil (:class:`NewtonStep`).
:func:`bisect_increasing`
    Bisection of a scalar increasing function, for the edges of feasible ranges.

Each round of :func:`compass` evaluates the ``3**d - 1`` neighbours at ``+-step`` on each axis
plus the minimiser of the quadratic through them, a Newton step of at most 4 steps per axis,
which follows long curved valleys that a plain compass search crawls along. A row moves to the
best point if it improves, and its step shrinks by :data:`SHRINK` when it does not move or
when the Newton step was shorter than half the step (close to the optimum).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = [
    "COARSE_1D",
    "COARSE_2D",
    "N_ROUNDS",
    "SHRINK",
    "NewtonStep",
    "Optimum",
    "best_candidate",
    "bisect_increasing",
    "compass",
    "grid",
    "newton_step",
    "unit_grid",
]

#: Points of a coarse grid in one dimension, and per axis in two.
COARSE_1D = 24
COARSE_2D = 10
#: Default rounds of :func:`compass`.
N_ROUNDS = 8
#: Factor by which a row's step shrinks when it does not move or is close to the optimum.
SHRINK = 0.4


class NewtonStep(NamedTuple):
    """The minimiser of a quadratic fitted to a stencil, per row."""

    #: Offsets ``(R, d)`` from the stencil's centre to the minimiser (0 where not usable).
    delta: np.ndarray
    #: ``(R,)`` bool: the quadratic has a positive-definite Hessian and finite values.
    ok: np.ndarray


class Optimum(NamedTuple):
    """The result of a minimisation, per row."""

    #: The best points found, ``(R, d)``.
    x: np.ndarray
    #: The objective there, ``(R,)`` (``inf`` where nothing finite was found).
    value: np.ndarray


def bisect_increasing(f: Callable[[float], float], lo: float, hi: float, n: int = 80) -> float:
    """Largest ``x`` in ``[lo, hi]`` with ``f(x) <= 0``, for ``f`` increasing with ``f(lo) <= 0``.

    Parameters
    ----------
    f : callable
        A scalar function, increasing on ``[lo, hi]``.
    lo, hi : float
        The interval; ``hi`` is returned when ``f(hi) <= 0``.
    n : int, default 80
        Bisection steps (80 halve an interval of width 100 below 1e-22).

    Returns
    -------
    float
        The left end of the final bracket, where ``f <= 0``.

    Examples
    --------
    >>> round(bisect_increasing(lambda x: x**2 - 2.0, 0.0, 2.0), 12)
    1.414213562373
    """
    if f(hi) <= 0:
        return hi
    for _ in range(n):
        mid = 0.5 * (lo + hi)
        if f(mid) <= 0:
            lo = mid
        else:
            hi = mid
    return lo


def newton_step(
    fc: np.ndarray, f0: np.ndarray, steps: np.ndarray, offsets: np.ndarray
) -> NewtonStep:
    """Minimiser offset of the quadratic through a ``3**d`` stencil (central differences).

    Parameters
    ----------
    fc : ndarray, shape (R, M)
        Values at ``offsets * steps`` around each row's centre (``M = 3**d - 1``).
    f0 : ndarray, shape (R,)
        Values at the centres.
    steps : ndarray, shape (R, d)
        Step per row and axis (``d`` is 1 or 2).
    offsets : ndarray, shape (M, d)
        The stencil's offsets in steps, each coordinate -1, 0 or 1 (not all 0).

    Returns
    -------
    NewtonStep
        The offsets ``(R, d)`` to the minimiser and where they are usable.
    """
    index = {tuple(o): i for i, o in enumerate(offsets)}

    def at(*o):
        return fc[:, index[o]]

    with np.errstate(all="ignore"):
        if steps.shape[1] == 1:
            h = steps[:, 0]
            g = (at(1.0) - at(-1.0)) / (2 * h)
            H = (at(1.0) - 2 * f0 + at(-1.0)) / h**2
            delta = (-g / H)[:, None]
            ok = H > 0
        else:
            h0, h1 = steps[:, 0], steps[:, 1]
            g0 = (at(1.0, 0.0) - at(-1.0, 0.0)) / (2 * h0)
            g1 = (at(0.0, 1.0) - at(0.0, -1.0)) / (2 * h1)
            H00 = (at(1.0, 0.0) - 2 * f0 + at(-1.0, 0.0)) / h0**2
            H11 = (at(0.0, 1.0) - 2 * f0 + at(0.0, -1.0)) / h1**2
            H01 = (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4 * h0 * h1)
            det = H00 * H11 - H01**2
            delta = np.stack([-(H11 * g0 - H01 * g1) / det, -(H00 * g1 - H01 * g0) / det], -1)
            ok = (H00 > 0) & (det > 0)
        ok &= np.all(np.isfinite(fc), axis=1) & np.isfinite(f0) & np.all(np.isfinite(delta), axis=1)
    return NewtonStep(np.where(ok[:, None], delta, 0.0), ok)


def compass(
    objective: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    f0: np.ndarray,
    step: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    n_rounds: int = N_ROUNDS,
) -> Optimum:
    """Vectorised compass search with Newton steps; each row of ``x0`` is independent.

    Parameters
    ----------
    objective : callable
        Maps candidates ``(R, M, d)`` to values ``(R, M)`` (``inf`` where infeasible).
    x0 : ndarray, shape (R, d)
        Starting points.
    f0 : ndarray, shape (R,)
        The objective at ``x0``.
    step : array_like, shape (d,) or (R, d)
        Initial step per axis (and row).
    lo, hi : array_like, shape (d,) or (R, d)
        The box, the same for every row or one per row; the stencil is clipped to it.
    n_rounds : int, default :data:`N_ROUNDS`
        Rounds of search.

    Returns
    -------
    Optimum
        The best point per row and its value (never worse than the start).

    Examples
    --------
    Two bowls, one per row, minimised side by side:

    >>> import numpy as np
    >>> centres = np.array([[0.3, -0.2], [-0.5, 0.4]])
    >>> def bowl(c):
    ...     return np.sum((c - centres[:, None, :]) ** 2, axis=-1)
    >>> x0 = np.zeros((2, 2))
    >>> best = compass(bowl, x0, bowl(x0[:, None, :])[:, 0], 0.25, -np.ones(2), np.ones(2))
    >>> np.allclose(best.x, centres)
    True
    """
    R, d = x0.shape
    offsets = np.array([o for o in itertools.product((-1.0, 0.0, 1.0), repeat=d) if any(o)])
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    # the stencil (R, M, d) is clipped to each row's box
    lo_s, hi_s = (lo[:, None, :], hi[:, None, :]) if lo.ndim == 2 else (lo, hi)
    x, fx = x0.copy(), f0.copy()
    steps = np.broadcast_to(np.asarray(step, float), (R, d)).copy()
    rows = np.arange(R)
    for _ in range(n_rounds):
        raw = x[:, None, :] + steps[:, None, :] * offsets[None]
        stencil = np.clip(raw, lo_s, hi_s)
        f_stencil = objective(stencil)
        delta, ok = newton_step(f_stencil, fx, steps, offsets)
        ok &= ~np.any(raw != stencil, axis=(1, 2))  # central differences need the full stencil
        delta = np.clip(delta, -4 * steps, 4 * steps)
        newton = np.clip(x + delta, lo, hi)
        cand = np.concatenate([stencil, newton[:, None, :]], axis=1)
        values = np.concatenate([f_stencil, objective(newton[:, None, :])], axis=1)
        values[:, -1] = np.where(ok, values[:, -1], np.inf)
        j = np.argmin(values, axis=1)
        best = values[rows, j]
        better = best < fx
        near = (j == values.shape[1] - 1) & np.all(np.abs(delta) < steps / 2, axis=1)
        x = np.where(better[:, None], cand[rows, j], x)
        fx = np.where(better, best, fx)
        steps = np.where((better & ~near)[:, None], steps, SHRINK * steps)
    return Optimum(x, fx)


def best_candidate(candidates: np.ndarray, values: np.ndarray) -> Optimum:
    """Each row's best candidate (the first of equal ones): where :func:`compass` starts.

    Parameters
    ----------
    candidates : ndarray, shape (R, K, d)
        Candidates per row (a coarse grid, possibly with other starts appended).
    values : ndarray, shape (R, K)
        The objective at ``candidates``.

    Returns
    -------
    Optimum
        The best candidate ``(R, d)`` of each row and its value ``(R,)``.

    Examples
    --------
    >>> import numpy as np
    >>> def parabola(c):
    ...     return (c[..., 0] - 0.7) ** 2
    >>> pts = grid(np.array([0.0]), np.array([1.0]), 5)[None]  # (1, 5, 1)
    >>> start = best_candidate(pts, parabola(pts))
    >>> start.x.tolist()
    [[0.75]]
    >>> best = compass(parabola, *start, np.array([0.125]), [0.0], [1.0])
    >>> round(float(best.x[0, 0]), 6)
    0.7
    """
    rows = np.arange(candidates.shape[0])
    j = np.argmin(values, axis=1)
    return Optimum(candidates[rows, j], values[rows, j])


def grid(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced points per axis over the box ``[lo, hi]``: ``(n**d, d)``.

    The first axis varies slowest. ``lo`` and ``hi`` are ``(d,)``.

    Examples
    --------
    >>> grid([0.0, 10.0], [1.0, 20.0], 2).tolist()
    [[0.0, 10.0], [0.0, 20.0], [1.0, 10.0], [1.0, 20.0]]
    """
    axes = [np.linspace(a, b, n) for a, b in zip(lo, hi, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def unit_grid(d: int, n: int) -> np.ndarray:
    """:func:`grid` over the unit box ``[0, 1]**d``, to be scaled into a box per row:
    ``lo[:, None, :] + (hi - lo)[:, None, :] * unit_grid(d, n)[None]``."""
    return grid(np.zeros(d), np.ones(d), n)
