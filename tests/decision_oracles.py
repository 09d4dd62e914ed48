"""Reference answers for the tests of the decisions (``test_decide.py``, ``test_frontier.py``).

A straightforward per-draw SciPy SLSQP optimisation written against the natural-parameter API
(``bd.laws.distillation_loss``, ``bd.laws.supervised_loss``) and the compute accounting,
independent of the vectorised search (``search.py``); draws jittered around the paper's
coefficients for fits built with ``ScalingFit.from_params``; and the first budget of a
``recommend_sweep`` at which supervised training wins the best case.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import optimize

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill.compute import SCENARIOS, forward_flops
from bayes_distill.results import ScalingFit

LO, HI = 1e6, 1e17
SUPERVISED_KEYS = laws.PARAM_NAMES["supervised"]
PAPER_SUPERVISED = {k: laws.PAPER[k] for k in SUPERVISED_KEYS}
#: Epoch AI's plain Huber point fit of the Chinchilla law (Besiroglu et al. 2024).
EPOCH = {"E": 1.8172, "A": 477.4, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}


def jittered_params(n_draws: int, *, scale: float = 0.03, seed: int = 0) -> dict[str, np.ndarray]:
    """Draws around the paper's coefficients: each parameter times ``exp(scale * z)``."""
    rng = np.random.default_rng(seed)
    return {k: v * np.exp(scale * rng.standard_normal(n_draws)) for k, v in laws.PAPER.items()}


def draw_params(fit: ScalingFit, s: int) -> dict[str, float]:
    return {k: float(fit.params[k].values.reshape(-1)[s]) for k in laws.PARAM_NAMES[fit.law]}


# --------------------------------------------------------------------------------------------
# the SLSQP oracle


@functools.cache
def paper_optimum(scenario: str, C: float, N_S: float) -> dict:
    """SLSQP optimum with the paper's coefficients (cached: several tests reuse it)."""
    return slsqp_optimum(dict(laws.PAPER), scenario, C, N_S)


def slsqp_optimum(
    params: dict[str, float], scenario: str, C: float, N_S: float, n_students: int = 1
) -> dict:
    """Per-draw optimum of the student loss by multi-start SLSQP in log space.

    ``best_case`` optimises ``L_T`` over the losses a teacher within the bounds reaches; the
    other scenarios optimise ``(N_T, D_T)`` freely within the bounds (also ``D_T`` in
    ``teacher_inference``, where it costs nothing) subject to ``D_S >= 1e6``. A teacher shared
    by ``n_students`` students charges each ``1 / n_students`` of its pretraining.
    """
    sup = {k: params[k] for k in SUPERVISED_KEYS}

    def teacher_loss(log_NT, log_DT):
        return bd.laws.supervised_loss(math.exp(log_NT), math.exp(log_DT), **sup)

    def d_s(x):
        if scenario == "best_case":
            return C / (3 * forward_flops(N_S))
        N_T, D_T = math.exp(x[0]), math.exp(x[1])
        share = 1.0 / n_students if SCENARIOS[scenario][1] else 0.0
        pretraining = share * 3 * forward_flops(N_T) * D_T
        logits = SCENARIOS[scenario][0] * forward_flops(N_T)
        # written out (Eq. 9), not through compute.student_tokens
        return (C - pretraining) / (3 * forward_flops(N_S) + logits)

    def objective(x):
        L_T = math.exp(x[0]) if scenario == "best_case" else teacher_loss(x[0], x[1])
        D_S = max(d_s(x), LO * 1e-3)
        return math.log(float(bd.laws.distillation_loss(N_S, D_S, L_T, **params)))

    def constraint(x):
        return (d_s(x) - LO) / LO

    if scenario == "best_case":
        lo_lt = math.log(teacher_loss(math.log(HI), math.log(HI)))
        hi_lt = math.log(teacher_loss(math.log(LO), math.log(LO)))
        bounds = [(lo_lt, hi_lt)]
        starts = [[v] for v in np.linspace(lo_lt, hi_lt, 7)]
        cons = ()
    else:
        bounds = [(math.log(LO), math.log(HI))] * 2
        grid = np.linspace(math.log(LO), math.log(HI), 6)
        starts = [[a, b] for a in grid for b in grid if constraint([a, b]) >= 0]
        starts = sorted(starts, key=objective)[:5]  # multi-start from the 5 best grid points
        cons = ({"type": "ineq", "fun": constraint},)
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x0 in starts:
            res = optimize.minimize(
                objective,
                x0,
                method="SLSQP",
                bounds=bounds,
                constraints=cons,
                options={"ftol": 1e-12, "maxiter": 500},
            )
            if constraint(res.x) < -1e-6:
                continue
            if best is None or res.fun < best.fun:
                best = res
    out = {"loss": math.exp(best.fun), "x": np.exp(best.x), "D_S": d_s(best.x)}
    return out


def best_case_crossover(fit, N_S, budgets):
    """First budget at which supervised training beats the best-case distilled student."""
    sweep = bd.recommend_sweep(fit, compute=budgets, student_params=N_S, scenario="best_case")
    wins = (sweep["student_loss_mean_median"] < sweep["supervised_loss_mean_median"]).to_numpy()
    assert wins[0], f"distillation should win at the smallest budget for N_S={N_S:g}"
    losing = np.flatnonzero(~wins)
    return budgets[losing[0]] if losing.size else np.inf
