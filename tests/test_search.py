"""The vectorised optimiser (``search.py``) on functions whose optima are known.

No fits: bowls with one known minimum per row, monotone functions for the bisection, and the
Newton step of exact quadratics.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from bayes_distill import search


def _bowls(centres: np.ndarray, scales: np.ndarray):
    """One quadratic bowl per row, ``sum(scale * (x - centre)**2)``, as an objective over
    candidates ``(R, M, d)``."""

    def objective(c: np.ndarray) -> np.ndarray:
        return np.sum(scales[:, None, :] * (c - centres[:, None, :]) ** 2, axis=-1)

    return objective


@pytest.mark.parametrize("d", [1, 2])
def test_compass_finds_each_rows_minimum(d):
    rng = np.random.default_rng(1)
    R = 50
    centres = rng.uniform(-0.8, 0.8, (R, d))
    scales = rng.uniform(0.5, 20.0, (R, d))  # elongated bowls
    objective = _bowls(centres, scales)
    x0 = np.zeros((R, d))
    f0 = objective(x0[:, None, :])[:, 0]
    best = search.compass(objective, x0, f0, np.full(d, 0.25), -np.ones(d), np.ones(d))
    assert isinstance(best, search.Optimum)
    np.testing.assert_allclose(best.x, centres, atol=1e-6)
    np.testing.assert_allclose(best.value, 0.0, atol=1e-10)


def test_compass_stays_in_a_box_per_row_and_stops_on_its_edge():
    centres = np.array([[2.0], [0.5], [-3.0]])  # outside, inside, outside the boxes below
    objective = _bowls(centres, np.ones((3, 1)))
    lo = np.array([[-1.0], [0.0], [-2.0]])
    hi = np.array([[1.0], [1.0], [-1.5]])
    x0 = (lo + hi) / 2
    best = search.compass(objective, x0, objective(x0[:, None, :])[:, 0], 0.2, lo, hi, 30)
    np.testing.assert_allclose(best.x[:, 0], [1.0, 0.5, -2.0], atol=1e-6)


def test_compass_never_returns_worse_than_its_start():
    def objective(c):  # infeasible everywhere but the start
        return np.where(np.all(c == 0.0, axis=-1), 1.0, np.inf)

    best = search.compass(objective, np.zeros((2, 2)), np.ones(2), 0.1, -np.ones(2), np.ones(2))
    np.testing.assert_array_equal(best.x, 0.0)
    np.testing.assert_array_equal(best.value, 1.0)


def test_newton_step_of_an_exact_quadratic_lands_on_its_minimum():
    # f(x, y) = 3 (x - 0.2)^2 + (y + 0.1)^2 + (x - 0.2)(y + 0.1), minimum at (0.2, -0.1)
    def f(x):
        a, b = x[..., 0] - 0.2, x[..., 1] + 0.1
        return 3 * a**2 + b**2 + a * b

    offsets = np.array([o for o in itertools.product((-1.0, 0.0, 1.0), repeat=2) if any(o)])
    steps = np.array([[0.05, 0.07]])
    centre = np.array([[0.0, 0.0]])
    fc = f(centre[:, None, :] + steps[:, None, :] * offsets[None])
    step = search.newton_step(fc, f(centre), steps, offsets)
    assert isinstance(step, search.NewtonStep)
    assert step.ok.tolist() == [True]
    np.testing.assert_allclose(centre + step.delta, [[0.2, -0.1]], atol=1e-12)


def test_newton_step_refuses_a_concave_stencil():
    offsets = np.array([[-1.0], [1.0]])
    fc = np.array([[-1.0, -1.0]])  # a maximum at the centre
    step = search.newton_step(fc, np.zeros(1), np.array([[0.1]]), offsets)
    assert step.ok.tolist() == [False]
    assert step.delta.tolist() == [[0.0]]


def test_a_search_starts_from_each_rows_best_candidate():
    centres = np.array([[0.1], [0.9]])
    objective = _bowls(centres, np.ones((2, 1)))
    cand = np.broadcast_to(search.grid([0.0], [1.0], 5)[None], (2, 5, 1))
    start = search.best_candidate(cand, objective(cand))
    assert start.x[:, 0].tolist() == [0.0, 1.0]
    best = search.compass(objective, *start, np.array([0.125]), [0.0], [1.0])
    np.testing.assert_allclose(best.x[:, 0], [0.1, 0.9], atol=1e-6)


def test_best_candidate_takes_the_first_of_equal_ones():
    cand = np.arange(6.0).reshape(1, 3, 2)
    start = search.best_candidate(cand, np.array([[2.0, 1.0, 1.0]]))
    assert start.x.tolist() == [[2.0, 3.0]] and start.value.tolist() == [1.0]


@pytest.mark.parametrize("root", [0.0, 0.3, math.pi / 4, 1.0])
def test_bisect_increasing_finds_the_edge_of_the_feasible_range(root):
    x = search.bisect_increasing(lambda x: x - root, 0.0, 1.0)
    assert x <= root + 1e-15
    assert x == pytest.approx(root, abs=1e-15)


def test_bisect_increasing_returns_the_upper_end_when_all_is_feasible():
    assert search.bisect_increasing(lambda x: x - 5.0, 0.0, 1.0) == 1.0


def test_grids_cover_their_boxes():
    pts = search.grid(np.array([1.0, -2.0]), np.array([2.0, 2.0]), 3)
    assert pts.shape == (9, 2)
    assert pts.min(axis=0).tolist() == [1.0, -2.0]
    assert pts.max(axis=0).tolist() == [2.0, 2.0]
    unit = search.unit_grid(2, 3)
    np.testing.assert_array_equal(search.grid([0.0, 0.0], [1.0, 1.0], 3), unit)
    assert search.unit_grid(1, 4).ravel().tolist() == [0.0, 1 / 3, 2 / 3, 1.0]
