"""The allocation problem of one budget: what a scenario lets the search choose, and the
student's loss at every candidate, for all posterior draws at once.

A distillation budget ``C`` pays for the student's tokens ``D_S`` and, depending on the
scenario (:data:`bayes_distill.compute.SCENARIOS`, the pair ``(delta_logits,
delta_pretrain)``), for the teacher's logits and pretraining. What is left to choose follows
from that pair (:func:`free_variables`); the student's tokens buy the rest of the budget:

==============================  ===============  ===========================================
scenario                        pays for         free variables (log space)
==============================  ===============  ===========================================
``best_case``                   nothing          ``log L_T`` (only the teacher's loss matters)
``teacher_inference``           logits           ``log N_T``; ``D_T`` at its upper bound (an
                                                 existing, overtrained teacher)
``teacher_pretraining``         pretraining      ``log N_T, log D_T``
``pretraining_and_inference``   both             ``log N_T, log D_T``
existing teacher                its logits only  none: ``D_S`` is what the budget buys
==============================  ===============  ===========================================

:class:`Problem` evaluates the mean-law student loss of candidates ``u (R, M, d)`` for every
draw, ``(S, M)``; :func:`build_problem` checks that a budget can train the student and finds
the box of teachers it can afford. :class:`StudentNoise` and :func:`supervised_noise` give the
predictive deviation of a new run's log loss per draw (common random numbers, shared by every
candidate).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import compute as _compute
from . import laws, search
from . import validate as _validate

if TYPE_CHECKING:  # pragma: no cover
    from .results import ScalingFit

__all__ = [
    "DEFAULT_BOUNDS",
    "TEACHER_TOKENS_PER_PARAM",
    "Bounds",
    "Choice",
    "Evaluation",
    "Problem",
    "StudentNoise",
    "build_problem",
    "check_bounds",
    "free_variables",
]

#: Default bounds on parameters and tokens, ``N`` and ``D`` alike (as in the paper).
DEFAULT_BOUNDS: tuple[float, float] = (1e6, 1e17)

#: Tokens per parameter ``D_T / N_T`` of the teachers that ``recommend`` considers training
#: (``teacher_pretraining``, ``pretraining_and_inference``): the supervised law that predicts a
#: teacher's loss was fitted on models trained with about 20 to 3600 tokens per parameter (the
#: paper's teachers), and a teacher far outside that (0.01 tokens per parameter, or 10^6) rests
#: on an extrapolation the data never checked. ``teacher_tokens_per_param`` changes the band.
TEACHER_TOKENS_PER_PARAM: tuple[float, float] = (1.0, 1e4)

#: Relative tolerance (in log) for "the optimum sits on a bound".
BOUND_TOL = 1e-3
#: Relative tolerance (in log) for feasibility.
FEAS_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# bounds


@dataclass(frozen=True)
class Bounds:
    """Bounds on parameter counts (``N``) and token counts (``D``), natural scale."""

    n_lo: float
    n_hi: float
    d_lo: float
    d_hi: float

    @property
    def logs(self) -> tuple[float, float, float, float]:
        return tuple(math.log(v) for v in (self.n_lo, self.n_hi, self.d_lo, self.d_hi))

    def __str__(self) -> str:
        if (self.n_lo, self.n_hi) == (self.d_lo, self.d_hi):
            return f"({self.n_lo:.3g}, {self.n_hi:.3g})"
        return f"{{N: ({self.n_lo:.3g}, {self.n_hi:.3g}), D: ({self.d_lo:.3g}, {self.d_hi:.3g})}}"


def _check_pair(bounds: Any, pair: Any) -> tuple[float, float]:
    msg = (
        f"bounds must be a pair (lower, upper) of positive numbers with lower < upper, bounding "
        f"parameters and tokens alike, or a dict {{'N': (lower, upper), 'D': (lower, upper)}}; "
        f"got {bounds!r}. The default is {DEFAULT_BOUNDS}."
    )
    return _validate.positive_pair(pair, msg)


def check_bounds(bounds: Any) -> Bounds:
    """``bounds`` (a pair for ``N`` and ``D`` alike, or ``{"N": pair, "D": pair}``) checked."""
    if isinstance(bounds, Mapping):
        unknown = set(bounds) - {"N", "D"}
        if unknown:
            raise ValueError(
                f"bounds as a dict takes the keys 'N' (parameters) and 'D' (tokens), got "
                f"{sorted(map(str, unknown))}."
            )
        n = _check_pair(bounds, bounds.get("N", DEFAULT_BOUNDS))
        d = _check_pair(bounds, bounds.get("D", DEFAULT_BOUNDS))
    else:
        n = d = _check_pair(bounds, bounds)
    return Bounds(*n, *d)


def check_students(student_params: Any, b: Bounds) -> np.ndarray:
    """Student sizes as a 1-D float array, each within the bounds on parameters."""
    hint = "give parameters as a number such as 1e9, or a 1-D array such as [1e9, 3e9, 1e10]."
    arr = _validate.positive_values("student_params", student_params, hint, kind="numbers")
    for N_S in arr:
        check_student_in_bounds(float(N_S), b)
    return arr


def check_student_in_bounds(N_S: float, b: Bounds) -> None:
    """Refuse a student ``N_S`` outside the bounds on parameters."""
    if not b.n_lo <= N_S <= b.n_hi:
        raise ValueError(
            f"student_params={N_S:.3g} is outside the bounds on parameters "
            f"({b.n_lo:.3g}, {b.n_hi:.3g}); choose a student within the bounds or widen them."
        )


# --------------------------------------------------------------------------------------------
# scenarios


class Choice(enum.Enum):
    """What the search chooses (its free variables, in log space); the student's tokens buy
    the rest of the budget."""

    TEACHER_LOSS = ("L_T",)  # the teacher is free: only its loss matters
    TEACHER_SIZE = ("N_T",)  # an existing, overtrained teacher: D_T at its upper bound
    TEACHER_SIZE_TOKENS = ("N_T", "D_T")  # a teacher trained for the budget
    NOTHING = ()  # an existing teacher

    @property
    def dim(self) -> int:
        """The number of free variables."""
        return len(self.value)


def free_variables(scenario: str, existing: bool = False) -> Choice:
    """What a search in ``scenario`` chooses, from what the scenario pays for
    (:data:`bayes_distill.compute.SCENARIOS`): a teacher it trains has a size and tokens, a
    teacher whose logits alone it pays for has a size (its pretraining, sunk, used as many
    tokens as the bounds allow), and a free teacher has only a loss. An ``existing`` teacher
    leaves nothing to choose."""
    d_logits, d_pretrain = _compute.SCENARIOS[scenario]
    if existing:
        return Choice.NOTHING
    if d_pretrain:
        return Choice.TEACHER_SIZE_TOKENS
    if d_logits:
        return Choice.TEACHER_SIZE
    return Choice.TEACHER_LOSS


def sunk_pretraining(scenario: str) -> str:
    """The scenario that charges an existing teacher as ``scenario`` would, less its
    pretraining (sunk): the same ``delta_logits``, ``delta_pretrain = 0``."""
    d_logits = _compute.SCENARIOS[scenario][0]
    return next(s for s, d in _compute.SCENARIOS.items() if d == (d_logits, 0.0))


def pays_pretraining(scenario: str) -> bool:
    """Whether ``scenario`` charges the teacher's pretraining."""
    return _compute.SCENARIOS[scenario][1] > 0


def pays_logits(scenario: str) -> bool:
    """Whether ``scenario`` charges the teacher's logits on the student's tokens."""
    return _compute.SCENARIOS[scenario][0] > 0


# --------------------------------------------------------------------------------------------
# posterior parameters


def supervised_params(fit: ScalingFit) -> dict[str, np.ndarray]:
    """Sampled supervised parameters flattened over (chain, draw), shape ``(S, 1)``."""
    return fit.draws.params(fit.model.supervised_names, 1)


def distillation_params(fit: ScalingFit) -> dict[str, np.ndarray]:
    """Sampled distillation-only parameters flattened over (chain, draw), shape ``(S, 1)``."""
    return fit.draws.params(laws.DISTILLATION_ONLY_SAMPLED, 1)


def distillation_law_params(fit: ScalingFit) -> tuple[dict, dict, dict | None]:
    """A distillation fit's draws as the searches use them: the supervised parameters (the
    teacher's loss and the baseline), the distillation-only ones, and the supervised
    parameters of the student's own loss inside the law when a two-stage fit holds them fixed
    (``None`` otherwise: the same as the first)."""
    return supervised_params(fit), distillation_params(fit), fit.model.student_supervised


def log_supervised(params: Mapping[str, np.ndarray], log_N: Any, log_D: Any) -> np.ndarray:
    """Log supervised law per draw; non-finite values are left for the caller to handle."""
    with np.errstate(all="ignore"):
        return laws.log_supervised(laws.NUMPY, log_N, log_D, **params)


# --------------------------------------------------------------------------------------------
# the problem


class Evaluation(NamedTuple):
    """The student loss at candidates, with what it was computed from."""

    #: Mean-law log student loss ``(S, M)``, ``+inf`` where infeasible or not finite.
    log_loss: np.ndarray
    #: The student's tokens ``(R, M)`` (NaN where the teacher costs the whole budget).
    D_S: np.ndarray
    #: The log teacher loss used, broadcastable to ``(S, M)``.
    log_LT: Any


@dataclass
class Problem:
    """The student loss as a function of the free variables ``u`` (log space), for all draws.

    ``choice`` says what ``u`` holds (:class:`Choice`); ``accounting`` is the scenario that
    prices the FLOPs (an existing teacher's is the one of :func:`sunk_pretraining`).
    """

    sup: dict[str, np.ndarray]
    dist: dict[str, np.ndarray]
    N_S: float
    compute: float
    accounting: str
    choice: Choice
    approx: str
    bounds: Bounds
    N_T: float | None = None  # existing teacher
    D_T: float | None = None
    log_LT_fixed: np.ndarray | float | None = None
    lo_u: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hi_u: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Log bounds on a trained teacher's tokens per parameter ``D_T / N_T``
    #: (``TEACHER_SIZE_TOKENS``): teachers outside them are not considered
    #: (:data:`TEACHER_TOKENS_PER_PARAM`).
    log_ratio: tuple[float, float] | None = None
    #: The supervised parameters of the student's own supervised loss inside the law, when
    #: they differ from ``sup`` (a two-stage fit holds them at the values it was fitted with).
    sup_student: dict[str, Any] | None = None
    #: Students sharing the teacher: each is charged ``1 / n_students`` of its pretraining.
    n_students: int = 1

    @property
    def dim(self) -> int:
        return self.choice.dim

    @property
    def n_draws(self) -> int:
        return next(iter(self.sup.values())).shape[0]

    @property
    def log_NS(self) -> float:
        return math.log(self.N_S)

    @property
    def log_d_lo(self) -> float:
        return math.log(self.bounds.d_lo)

    @property
    def log_d_hi(self) -> float:
        return math.log(self.bounds.d_hi)

    def teacher(self, u: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Teacher parameters and tokens (natural scale) of candidates ``u (..., d)``."""
        if self.choice is Choice.TEACHER_SIZE:
            return np.exp(u[..., 0]), np.full(u.shape[:-1], self.bounds.d_hi)
        if self.choice is Choice.TEACHER_SIZE_TOKENS:
            return np.exp(u[..., 0]), np.exp(u[..., 1])
        if self.choice is Choice.NOTHING and self.N_T is not None:
            shape = u.shape[:-1]
            D_T = np.full(shape, np.nan if self.D_T is None else self.D_T)
            return np.full(shape, self.N_T), D_T
        return None, None

    def student_tokens(self, u: np.ndarray) -> np.ndarray:
        """``D_S`` bought by the rest of the budget; NaN where the teacher costs it all."""
        N_T, D_T = self.teacher(u)
        with np.errstate(all="ignore"):
            d = _compute.student_tokens(
                self.compute,
                self.N_S,
                N_T=N_T,
                D_T=D_T if pays_pretraining(self.accounting) else None,
                scenario=self.accounting,
                approx=self.approx,
                n_students=self.n_students,
            )
        d = np.broadcast_to(np.asarray(d, float), u.shape[:-1])
        return np.where(d > 0, d, np.nan)

    def feasible(self, D_S: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            log_DS = np.log(D_S)
            return (log_DS >= self.log_d_lo - FEAS_TOL) & (log_DS <= self.log_d_hi + FEAS_TOL)

    def log_loss(self, u: np.ndarray) -> np.ndarray:
        """Mean-law log student loss for candidates ``u (R, M, d)`` (``R`` is 1 or ``S``):
        ``(S, M)``, ``+inf`` where infeasible or not finite."""
        return self.evaluate(u).log_loss

    def evaluate(self, u: np.ndarray) -> Evaluation:
        """:meth:`log_loss` at ``u``, with the student tokens and the log teacher loss it used,
        for callers that need them too."""
        D_S = self.student_tokens(u)
        ok = self.feasible(D_S) & self.plausible_teacher(u)
        with np.errstate(all="ignore"):
            log_DS = np.log(np.where(ok, D_S, self.bounds.d_lo))
            if self.choice is Choice.TEACHER_LOSS:
                log_LT = u[..., 0]
            elif self.choice is Choice.NOTHING:
                log_LT = self.log_LT_fixed
            else:
                log_LT = log_supervised(self.sup, u[..., 0], np.log(self.teacher(u)[1]))
            m = laws.log_student_loss(
                laws.NUMPY,
                self.log_NS,
                log_DS,
                log_LT,
                supervised=self.sup_student or self.sup,
                distillation=self.dist,
            )
        return Evaluation(np.where(ok & np.isfinite(m), m, np.inf), D_S, log_LT)

    def teacher_log_loss(self, u: np.ndarray) -> np.ndarray:
        """Mean-law log teacher loss per draw at candidates ``u (R, M, d)``: ``(S, M)``."""
        if self.choice is Choice.TEACHER_LOSS:
            return np.broadcast_to(u[..., 0], (self.n_draws, u.shape[1]))
        if self.choice is Choice.NOTHING:
            return np.broadcast_to(self.log_LT_fixed, (self.n_draws, u.shape[1]))
        return log_supervised(self.sup, u[..., 0], np.log(self.teacher(u)[1]))

    def coarse_grid(self) -> np.ndarray:
        """Feasible grid points ``(K, d)`` over the box ``lo_u, hi_u`` (possibly none)."""
        if self.dim == 0:
            return np.zeros((1, 0))
        if self.dim == 1:
            pts = search.grid(self.lo_u, self.hi_u, search.COARSE_1D)
        elif self.log_ratio is not None:
            # teachers' sizes by their tokens per parameter, within the plausible band
            a = np.linspace(self.lo_u[0], self.hi_u[0], search.COARSE_2D)
            r = np.linspace(*self.log_ratio, search.COARSE_2D)
            aa, rr = np.meshgrid(a, r, indexing="ij")
            pts = np.stack([aa, aa + rr], axis=-1).reshape(-1, 2)
            pts = pts[(pts[:, 1] >= self.lo_u[1]) & (pts[:, 1] <= self.hi_u[1])]
        else:
            pts = search.grid(self.lo_u, self.hi_u, search.COARSE_2D)
        keep = self.feasible(self.student_tokens(pts)) & self.plausible_teacher(pts[None])[0]
        return pts[keep]

    def plausible_teacher(self, u: np.ndarray) -> np.ndarray:
        """Whether the teachers of candidates ``u (..., d)`` have a plausible number of tokens
        per parameter (always True unless a trained teacher's band is set)."""
        if self.choice is not Choice.TEACHER_SIZE_TOKENS or self.log_ratio is None:
            return np.ones(u.shape[:-1], bool)
        lr = u[..., 1] - u[..., 0]
        lo, hi = self.log_ratio
        return (lr >= lo - FEAS_TOL) & (lr <= hi + FEAS_TOL)

    def grid_spacing(self) -> np.ndarray:
        n = search.COARSE_1D if self.dim == 1 else search.COARSE_2D
        return np.maximum((self.hi_u - self.lo_u) / (n - 1), 1e-6)

    def allocation(self, u: np.ndarray) -> dict[str, float]:
        """Allocation and FLOPs by phase of one candidate ``u (d,)``."""
        uu = np.asarray(u, float).reshape(1, -1)
        D_S = float(self.student_tokens(uu)[0])
        N_T, D_T = self.teacher(uu)
        N_T = np.nan if N_T is None else float(N_T[0])
        D_T = np.nan if D_T is None else float(D_T[0])
        phases = _compute.flops_by_phase(
            self.N_S,
            D_S,
            N_T=N_T,
            D_T=D_T if pays_pretraining(self.accounting) else None,
            scenario=self.accounting,
            approx=self.approx,
            n_students=self.n_students,
        )
        return {
            "D_S": D_S,
            "N_T": N_T,
            "D_T": D_T,
            "flops_student": float(phases["student"]),
            "flops_teacher_logits": float(phases["teacher_logits"]),
            "flops_teacher_pretraining": float(phases["teacher_pretraining"]),
        }

    def on_bounds(self, u: np.ndarray) -> list[str]:
        """Human-readable list of the variables of candidate ``u (d,)`` that sit on a bound."""
        out = []
        alloc = self.allocation(u)
        n_lo, n_hi, d_lo, d_hi = self.bounds.logs
        checks: list[tuple[str, float, float, float]] = [("D_S", alloc["D_S"], d_lo, d_hi)]
        if self.choice is Choice.TEACHER_SIZE:
            checks.append(("N_T", alloc["N_T"], n_lo, n_hi))
        elif self.choice is Choice.TEACHER_SIZE_TOKENS:
            checks.append(("N_T", alloc["N_T"], n_lo, n_hi))
            checks.append(("D_T", alloc["D_T"], d_lo, d_hi))
        elif self.choice is Choice.TEACHER_LOSS:
            checks.append(("L_T", math.exp(u[0]), self.lo_u[0], self.hi_u[0]))
        for name, value, lo, hi in checks:
            if not np.isfinite(value):
                continue
            if abs(math.log(value) - lo) < BOUND_TOL:
                out.append(f"{name} at its lower bound {math.exp(lo):.3g}")
            elif abs(math.log(value) - hi) < BOUND_TOL:
                out.append(f"{name} at its upper bound {math.exp(hi):.3g}")
        return out


# --------------------------------------------------------------------------------------------
# building the problem of a budget


def build_problem(
    sup: dict[str, np.ndarray],
    dist: dict[str, np.ndarray],
    N_S: float,
    C: float,
    scenario: str,
    teacher: Mapping[str, float],
    approx: str,
    b: Bounds,
    sup_student: dict[str, Any] | None = None,
    n_students: int = 1,
    teacher_ratio: tuple[float, float] = TEACHER_TOKENS_PER_PARAM,
) -> Problem:
    """The search problem of one budget ``C``; raises ValueError when the budget cannot work.

    ``teacher`` holds an existing teacher (``L_T``, or ``N_T`` with ``D_T`` or ``L_T``), or is
    empty. ``n_students`` students share the teacher: each is charged ``1 / n_students`` of its
    pretraining, in the budget's feasibility as everywhere else (:meth:`Problem.student_tokens`).
    """
    F_S = _compute.forward_flops(N_S, approx=approx)
    if C < 3 * F_S:
        raise ValueError(
            f"compute={C:.3g} FLOPs cannot train the student (student_params={N_S:.3g}) on even "
            f"one token, which costs 3 F(N_S) = {3 * F_S:.3g} FLOPs; raise compute or choose a "
            "smaller student."
        )
    choice = free_variables(scenario, existing=bool(teacher))
    common = {"sup": sup, "dist": dist, "N_S": N_S, "compute": C, "approx": approx, "bounds": b}
    common.update(sup_student=sup_student, n_students=n_students, choice=choice)
    if choice is Choice.NOTHING:
        N_T, D_T = teacher.get("N_T"), teacher.get("D_T")
        if "L_T" in teacher:
            log_LT = math.log(teacher["L_T"])
        else:
            log_LT = log_supervised(sup, math.log(N_T), math.log(D_T))
        p = Problem(
            **common, accounting=sunk_pretraining(scenario), N_T=N_T, D_T=D_T, log_LT_fixed=log_LT
        )
        D_S = float(p.student_tokens(np.zeros((1, 0)))[0])
        check_student_tokens(D_S, C, N_S, scenario, b, "with this teacher")
        return p
    p = Problem(**common, accounting=scenario)
    if choice is Choice.TEACHER_LOSS:
        D_S = float(p.student_tokens(np.zeros((1, 1)))[0])
        check_student_tokens(D_S, C, N_S, scenario, b, "")
        n_lo, n_hi, d_lo, d_hi = b.logs
        # the losses reachable by a teacher within the bounds, over all draws
        with np.errstate(all="ignore"):
            lt_lo = np.nanmin(log_supervised(sup, n_hi, d_hi))
            lt_hi = np.nanmax(log_supervised(sup, n_lo, d_lo))
        p.lo_u, p.hi_u = np.array([lt_lo]), np.array([lt_hi])
        return p
    _teacher_box(p, scenario)
    if choice is Choice.TEACHER_SIZE_TOKENS:
        p.log_ratio = (math.log(teacher_ratio[0]), math.log(teacher_ratio[1]))
    return p


def _teacher_box(p: Problem, scenario: str) -> None:
    """Sets ``p.lo_u, p.hi_u`` to the box of teachers (sizes, and tokens when chosen) that the
    budget affords with the student's tokens within the bounds; raises ValueError if none."""
    b, C = p.bounds, p.compute
    n_lo, n_hi, d_lo, d_hi = b.logs

    def log_DS(log_NT: float, log_DT: float) -> float:
        u = np.array([[log_NT, log_DT][: p.dim]])
        d = float(p.student_tokens(u)[0])
        return math.log(d) if d > 0 else -np.inf

    # The cheapest teacher allowed must leave the student at least d_lo tokens.
    best = log_DS(n_lo, d_lo)
    if best < d_lo - FEAS_TOL:
        have = math.exp(best) if np.isfinite(best) else 0.0
        raise ValueError(
            f"compute={C:.3g} FLOPs is too small for scenario {scenario!r}: even the smallest "
            f"teacher allowed by bounds={b} leaves the student {have:.3g} tokens, below the "
            f"lower bound {b.d_lo:.3g}; raise compute, lower the bounds, or choose "
            "scenario='best_case'."
        )
    # D_S decreases with N_T (and D_T): the largest feasible teacher keeps D_S >= d_lo.
    n_max = search.bisect_increasing(lambda x: d_lo - log_DS(x, d_lo), n_lo, n_hi)
    too_large = ValueError(
        f"compute={C:.3g} FLOPs is too large for bounds={b}: the student would train on more "
        f"than {b.d_hi:.3g} tokens whatever the teacher within the bounds; raise the upper "
        "bound on tokens."
    )
    if p.choice is Choice.TEACHER_SIZE:
        n_min = n_lo
        if log_DS(n_lo, d_lo) > d_hi + FEAS_TOL:
            n_min = search.bisect_increasing(lambda x: d_hi - log_DS(x, d_lo), n_lo, n_hi)
            n_min = min(n_min + 1e-9, n_max)
            if log_DS(n_min, d_lo) > d_hi + FEAS_TOL:
                raise too_large
        p.lo_u, p.hi_u = np.array([n_min]), np.array([n_max])
    else:
        if log_DS(n_hi, d_hi) > d_hi + FEAS_TOL:
            raise too_large
        d_max = search.bisect_increasing(lambda x: d_lo - log_DS(n_lo, x), d_lo, d_hi)
        p.lo_u, p.hi_u = np.array([n_lo, d_lo]), np.array([n_max, d_max])


def check_student_tokens(D_S, C, N_S, scenario, b: Bounds, context) -> None:
    """Refuse a budget that buys the student tokens outside the bounds."""
    ctx = f" {context}" if context else ""
    if not D_S >= b.d_lo * (1 - 1e-9):
        raise ValueError(
            f"compute={C:.3g} FLOPs buys the student (student_params={N_S:.3g}) only "
            f"{max(D_S, 0):.3g} tokens in scenario {scenario!r}{ctx}, below the lower bound "
            f"{b.d_lo:.3g} of bounds={b}; raise compute or lower the bounds."
        )
    if D_S > b.d_hi * (1 + 1e-9):
        raise ValueError(
            f"compute={C:.3g} FLOPs would train the student (student_params={N_S:.3g}) on "
            f"{D_S:.3g} tokens in scenario {scenario!r}{ctx}, above the upper bound "
            f"{b.d_hi:.3g} of bounds={b}; raise the upper bound or lower compute."
        )


# --------------------------------------------------------------------------------------------
# predictive noise


class StudentNoise:
    """Predictive deviation of a new distilled student's log loss, per draw (common random
    numbers: the same random numbers for every candidate allocation).

    Fits whose noise does not depend on where the new run is give one value per draw, shared by
    all candidates. Fits whose noise scale grows with the distance from the fitted runs
    (``noise_draws`` then needs ``at=``) are evaluated at each candidate's ``(N_S, D_S, L_T)``
    with the same random numbers (``common=True``), so riskier extrapolations cost more.
    """

    def __init__(self, fit: ScalingFit, seed: np.random.SeedSequence):
        self.fit, self.seed = fit, seed
        self.located = fit.model.located
        self.fixed = None
        if not self.located:
            self.fixed = np.asarray(fit.noise_draws((), random_seed=self._rng()), float)
            self.fixed = self.fixed.reshape(fit.n_samples)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)  # the same stream at every call

    def at(
        self, N_S: float, D_S: np.ndarray, L_T: np.ndarray, law_mean: np.ndarray | None = None
    ) -> np.ndarray:
        """Noise ``(S, M)`` at candidates with student tokens ``D_S`` and teacher loss ``L_T``.

        ``law_mean``: the law's log student loss per draw at the candidates ``(S, M)``, when the
        caller has it (it places the candidate on the loss axis of the distance; without it the
        law is evaluated again at the median teacher loss ``L_T``).
        """
        if not self.located:
            return self.fixed[:, None]
        at = {"N_S": N_S, "D_S": np.asarray(D_S, float), "L_T": np.asarray(L_T, float)}
        out = self.fit.noise_draws(
            (len(at["D_S"]),), random_seed=self._rng(), at=at, common=True, law_mean=law_mean
        )
        return np.asarray(out, float)


def supervised_noise(fit: ScalingFit, seed: np.random.SeedSequence) -> np.ndarray:
    """Predictive deviation of a new supervised run's log loss, per draw: ``(S,)``.

    Uses the noise of jointly fitted supervised runs when the fit has it, and the distillation
    noise model otherwise.
    """
    out = fit.noise_draws((), random_seed=np.random.default_rng(seed), observation="supervised_obs")
    return np.asarray(out, float).reshape(fit.n_samples)
