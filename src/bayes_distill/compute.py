"""Compute accounting (Busbridge et al. 2025, Eq. 9 and Appendix H).

``F(N)`` is the forward cost in FLOPs per token. Training costs ``3 F(N)`` per token (the
backward pass costs twice the forward pass). A distillation run costs::

    FLOPs = 3 F(N_S) D_S + F(N_T) (delta_logits * D_S + delta_pretrain * 3 D_T)

with ``(delta_logits, delta_pretrain)`` set by the scenario (see :data:`SCENARIOS`). A teacher
trained once and shared by ``k`` students (``n_students=k``) charges each student ``1/k`` of its
pretraining: ``delta_pretrain`` is divided by ``k``; its logits are paid per student
(``delta_logits`` is unchanged).
"""

from __future__ import annotations

import numbers
from typing import Any, Literal

import numpy as np

__all__ = [
    "SCENARIOS",
    "check_n_students",
    "flops_by_phase",
    "forward_flops",
    "student_tokens",
    "supervised_tokens",
    "total_flops",
]

#: ``scenario -> (delta_logits, delta_pretrain)`` (Busbridge et al. 2025, Eq. 9 and Appendix H).
SCENARIOS: dict[str, tuple[float, float]] = {
    "best_case": (0.0, 0.0),
    "teacher_inference": (1.0, 0.0),
    "teacher_pretraining": (0.0, 1.0),
    "pretraining_and_inference": (1.0, 1.0),
}

# Architecture constants of the paper (Appendix H): omega = 12, rho = d_model / n_layers = 128.
_OMEGA = 12.0
_RHO = 128.0
SIGMA1 = (_RHO * _OMEGA**2) ** (-1.0 / 3.0)
SIGMA2 = (_RHO / _OMEGA) ** (1.0 / 3.0)
N_CTX = 4096
N_VOCAB = 32168


def _positive_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}.") from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} must be finite and positive, got {value!r}. Give counts as plain numbers "
            "(e.g. 1e9 for one billion parameters or tokens)."
        )
    return arr


def forward_flops(
    N,
    *,
    approx: Literal["paper", "2N"] = "paper",
    n_ctx: int = N_CTX,
    n_vocab: int = N_VOCAB,
):
    """Forward FLOPs per token of a model with ``N`` non-embedding parameters.

    Parameters
    ----------
    N : array_like
        Non-embedding parameters.
    approx : {"paper", "2N"}, default "paper"
        ``"paper"``: ``2N (1 + sigma1 n_ctx N**(-1/3) + sigma2 n_vocab N**(-2/3))``, which
        counts attention and the embedding/unembedding (paper Eq. 9, App. H). ``"2N"``: the
        plain ``F = 2N`` behind the "6ND" rule, about 40% low at 100M parameters.
    n_ctx, n_vocab : int
        Context length and vocabulary size (the paper's defaults: 4096 and 32168).

    Returns
    -------
    numpy.ndarray or float
        FLOPs per token.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> round(float(bd.compute.forward_flops(7.747e9)) / 1e9, 2)
    16.99
    """
    arr = _positive_array("N", N)
    if approx == "2N":
        out = 2.0 * arr
    elif approx == "paper":
        attention = SIGMA1 * n_ctx * arr ** (-1.0 / 3.0)
        embedding = SIGMA2 * n_vocab * arr ** (-2.0 / 3.0)
        out = 2.0 * arr * (1.0 + attention + embedding)
    else:
        raise ValueError(f"approx must be 'paper' or '2N', got {approx!r}.")
    return out if out.ndim else float(out)


def check_n_students(n_students: Any) -> int:
    """``n_students`` as an int, checked: the number of students that share one teacher.

    Parameters
    ----------
    n_students : int
        An integer >= 1 (NumPy integers too); ``1`` is a teacher trained for one student.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        For anything but an integer (a float such as ``4.0`` or ``2.5``, a string, a bool).
    ValueError
        For an integer below 1.

    Examples
    --------
    >>> from bayes_distill.compute import check_n_students
    >>> check_n_students(8)
    8
    """
    hint = (
        "give how many students share the teacher as a whole number, e.g. n_students=8 "
        "(1, the default, is a teacher trained for one student)."
    )
    if isinstance(n_students, bool) or not isinstance(n_students, numbers.Integral):
        raise TypeError(
            f"n_students must be an integer >= 1, got {n_students!r} "
            f"({type(n_students).__name__}); {hint}"
        )
    if n_students < 1:
        raise ValueError(f"n_students must be an integer >= 1, got {n_students!r}; {hint}")
    return int(n_students)


def _scenario_deltas(scenario: str) -> tuple[float, float]:
    if scenario not in SCENARIOS:
        valid = ", ".join(repr(s) for s in ("supervised", *SCENARIOS))
        raise ValueError(f"Unknown scenario {scenario!r}. Valid scenarios are {valid}.")
    return SCENARIOS[scenario]


def _teacher_flops(scenario, N_T, D_T, approx, n_students=1):
    """The scenario's deltas (``delta_pretrain`` divided by ``n_students``, the students that
    share the teacher), the teacher's forward FLOPs per token and the checked ``D_T``."""
    d_logits, d_pretrain = _scenario_deltas(scenario)
    n_students = check_n_students(n_students)
    if d_pretrain and n_students != 1:
        d_pretrain = d_pretrain / n_students
    if (d_logits or d_pretrain) and N_T is None:
        raise ValueError(f"scenario {scenario!r} pays for the teacher, so N_T is required.")
    if d_pretrain and D_T is None:
        raise ValueError(
            f"scenario {scenario!r} pays for pretraining the teacher, so D_T is required."
        )
    f_t = 0.0
    if d_logits or d_pretrain:
        f_t = forward_flops(_positive_array("N_T", N_T), approx=approx)
    d_t = _positive_array("D_T", D_T) if d_pretrain else 0.0
    return d_logits, d_pretrain, f_t, d_t


def flops_by_phase(
    N_S,
    D_S,
    *,
    N_T=None,
    D_T=None,
    scenario: str = "supervised",
    approx: Literal["paper", "2N"] = "paper",
    n_students: int = 1,
) -> dict[str, Any]:
    """FLOPs of each phase: ``student`` training, ``teacher_logits`` and ``teacher_pretraining``.

    Parameters
    ----------
    N_S, D_S : array_like
        Student parameters and the tokens it trains on.
    N_T, D_T : array_like, optional
        Teacher parameters and pretraining tokens; needed for the scenarios that pay for them.
    scenario : str
        ``"supervised"`` or one of :data:`SCENARIOS`.
    approx : {"paper", "2N"}
        See :func:`forward_flops`.
    n_students : int, default 1
        Students sharing the teacher: ``teacher_pretraining`` is this student's share,
        ``1 / n_students`` of the teacher's pretraining FLOPs (logits are per student).

    Returns
    -------
    dict
        ``{"student": ..., "teacher_logits": ..., "teacher_pretraining": ...}``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> one = bd.compute.flops_by_phase(1e9, 2e10, N_T=7e9, D_T=1.4e11,
    ...                                 scenario="teacher_pretraining")
    >>> four = bd.compute.flops_by_phase(1e9, 2e10, N_T=7e9, D_T=1.4e11,
    ...                                  scenario="teacher_pretraining", n_students=4)
    >>> bool(four["teacher_pretraining"] * 4 == one["teacher_pretraining"])
    True
    """
    d_s = _positive_array("D_S", D_S)
    student = 3.0 * forward_flops(_positive_array("N_S", N_S), approx=approx) * d_s
    zero = np.zeros_like(student) if np.ndim(student) else 0.0
    if scenario == "supervised":
        check_n_students(n_students)
        return {"student": student, "teacher_logits": zero, "teacher_pretraining": zero}
    d_logits, d_pretrain, f_t, d_t = _teacher_flops(scenario, N_T, D_T, approx, n_students)
    logits = d_logits * f_t * d_s if d_logits else zero
    pretrain = d_pretrain * 3.0 * f_t * d_t if d_pretrain else zero
    return {"student": student, "teacher_logits": logits, "teacher_pretraining": pretrain}


def total_flops(
    N_S,
    D_S,
    *,
    N_T=None,
    D_T=None,
    scenario: str = "supervised",
    approx: Literal["paper", "2N"] = "paper",
    n_students: int = 1,
):
    """Total training FLOPs of a supervised run or of a distillation scenario.

    ``3 F(N_S) D_S + F(N_T) (delta_logits D_S + delta_pretrain 3 D_T)``; for
    ``scenario="supervised"`` only the first term (``N_S, D_S`` are then the model's ``N, D``).
    With ``n_students=k`` the teacher's pretraining is shared by ``k`` students and each is
    charged ``1/k`` of it (``delta_pretrain / k``).

    Examples
    --------
    >>> import bayes_distill as bd
    >>> c = bd.compute.total_flops(1e9, 2e10, N_T=7e9, D_T=1.4e11, scenario="teacher_pretraining")
    >>> c > bd.compute.total_flops(1e9, 2e10)
    True
    """
    phases = flops_by_phase(
        N_S, D_S, N_T=N_T, D_T=D_T, scenario=scenario, approx=approx, n_students=n_students
    )
    total = phases["student"] + phases["teacher_logits"] + phases["teacher_pretraining"]
    return total if np.ndim(total) else float(total)


def supervised_tokens(compute, N, *, approx: Literal["paper", "2N"] = "paper"):
    """Tokens a model of ``N`` parameters trains on with ``compute`` FLOPs: ``C / (3 F(N))``."""
    c = _positive_array("compute", compute)
    out = c / (3.0 * forward_flops(N, approx=approx))
    return out if np.ndim(out) else float(out)


def student_tokens(
    compute,
    N_S,
    *,
    N_T=None,
    D_T=None,
    scenario: str = "supervised",
    approx: Literal["paper", "2N"] = "paper",
    n_students: int = 1,
):
    """Distillation tokens ``D_S`` that the rest of the budget buys.

    ``D_S = (C - 3 delta_pretrain F(N_T) D_T) / (3 F(N_S) + delta_logits F(N_T))``, with
    ``delta_pretrain`` divided by ``n_students`` when that many students share the teacher. The
    result is zero or negative when the teacher alone exceeds the budget; callers decide what
    to do.
    """
    c = _positive_array("compute", compute)
    if scenario == "supervised":
        check_n_students(n_students)
        return supervised_tokens(c, N_S, approx=approx)
    d_logits, d_pretrain, f_t, d_t = _teacher_flops(scenario, N_T, D_T, approx, n_students)
    f_s = forward_flops(_positive_array("N_S", N_S), approx=approx)
    spent = 3.0 * d_pretrain * f_t * d_t
    out = (c - spent) / (3.0 * f_s + d_logits * f_t)
    return out if np.ndim(out) else float(out)
