"""The report of a recommendation: :class:`Recommendation`, its tidy row, JSON and text, and
how it is summarised from the optima of an allocation problem.

Every output of a :class:`Recommendation` (``to_frame``, ``to_dict`` and the loss table of
``str``) reads one table of its fields, :data:`FIELDS`: a field's name, how it becomes columns
of the tidy row, whether and how it enters the JSON, the kind of a loss summary (predictive or
mean law) and its label in the printed table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import compute as _compute
from . import extrapolation as _extrap
from .allocation import (
    Choice,
    Problem,
    StudentNoise,
    free_variables,
    log_supervised,
    pays_logits,
    pays_pretraining,
)
from .risk import Optima, noise_at

__all__ = [
    "DECISION_MARGIN",
    "FIELDS",
    "SCENARIO_DESCRIPTIONS",
    "Recommendation",
    "Setting",
    "credible_interval",
    "summarise",
]

#: One-line meaning of each scenario (Busbridge et al. 2025, Eq. 9 and Appendix H).
SCENARIO_DESCRIPTIONS: dict[str, str] = {
    "best_case": "teacher free (it exists and its logits cost nothing): choose its loss L_T",
    "teacher_inference": (
        "choose an existing, overtrained teacher (its pretraining already paid: D_T at the "
        "upper bound); pay for its logits on the student's tokens"
    ),
    "teacher_pretraining": "train the teacher; its logits are stored and reused",
    "pretraining_and_inference": "one teacher for one student: pay for training it and its logits",
}

#: Decisions "distil or train" are also reported with this margin (nats): the probability that
#: the distilled student beats the supervised one by more than it. It is the resolution the
#: model claims far from the runs, the tolerance of its infinite-data limit
#: (:data:`bayes_distill.model.INFINITE_DATA_TOL`): a smaller difference is a tie.
DECISION_MARGIN = 0.01


def _fmt(x: float, spec: str = ".3g") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, spec)


# --------------------------------------------------------------------------------------------
# the fields


class Field(NamedTuple):
    """One entry of :data:`FIELDS`."""

    #: The attribute read, the key of ``to_dict`` and the column (or column prefix) of
    #: ``to_frame``.
    name: str
    #: How the value becomes columns of ``to_frame`` (a key of ``_COLUMNS``); None: no column.
    frame: str | None = "value"
    #: Whether the value enters ``to_dict``: ``"value"`` as it is (a loss summary of some
    #: ``kind`` with the kind first), ``"spread"`` one dict per variable; None: left out.
    json: str | None = "value"
    #: ``"predictive"`` or ``"mean law"`` for a loss summary.
    kind: str | None = None
    #: The row label of a loss summary in the printed table (formatted with ``rec=``).
    label: str | None = None


def _prefixed(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{name}_{k}": v for k, v in value.items()}


#: Column makers of ``to_frame``: ``(name, value) -> {column: value}``.
_COLUMNS: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "value": lambda name, value: {name: value},
    "prefixed": _prefixed,
    "allocation": lambda name, value: {k: value[k] for k in ("D_S", "N_T", "D_T")},
    "spread": lambda name, value: {
        f"{var}_opt_{k}": float(v) for var, s in value.iterrows() for k, v in s.items()
    },
    "joined": lambda name, value: {name: "; ".join(value)},
    "folds": lambda name, value: {f"{k}_fold": e["fold"] for k, e in value.items()},
}

#: The fields of a :class:`Recommendation`, in the order of ``to_dict``'s keys and of
#: ``to_frame``'s columns. Two fields appear twice because the two orders differ: the
#: supervised baseline's tokens come before its losses in ``to_dict`` and after every loss in
#: ``to_frame``; the extrapolation report is nested in ``to_dict`` and one ``<input>_fold``
#: column per input, after ``extrapolation_max_fold``, in ``to_frame``.
FIELDS: tuple[Field, ...] = (
    Field("scenario"),
    Field("compute"),
    Field("compute_spent"),
    Field("unspent"),
    Field("student_params"),
    Field("n_students"),
    Field("risk_tolerance"),
    Field("ci_prob"),
    Field("existing_teacher"),
    Field("allocation", frame="allocation"),
    Field("flops", frame="prefixed"),
    Field("student_loss", "prefixed", kind="predictive", label="student, predictive"),
    Field("student_loss_mean", "prefixed", kind="mean law", label="student, mean law"),
    Field("teacher_loss", "prefixed", kind="mean law", label="teacher L_T, mean law"),
    Field("supervised_tokens", frame=None),
    Field(
        "supervised_loss",
        "prefixed",
        kind="predictive",
        label="supervised (D={rec.supervised_tokens:.3g}), predictive",
    ),
    Field("supervised_loss_mean", "prefixed", kind="mean law", label="supervised, mean law"),
    Field("supervised_tokens", json=None),
    Field("p_distillation_better"),
    Field("p_distillation_better_predictive"),
    Field("p_distillation_better_by_margin"),
    Field("decision_margin", frame=None),
    Field("supervised_source"),
    Field("paper", frame="prefixed"),
    Field("regret", frame="prefixed", kind="mean law"),
    Field("optimum_spread", frame="spread", json="spread"),
    Field("mean_optimal", frame="prefixed"),
    Field("on_bound", frame="joined"),
    Field("n_draws"),
    Field("n_dropped"),
    Field("notes", frame=None),
    Field("extrapolation", frame=None),
    Field("extrapolation_max_fold"),
    Field("extrapolation", frame="folds", json=None),
)


def _json_value(f: Field, value: Any) -> Any:
    if f.json == "spread":
        return {var: dict(s.items()) for var, s in value.iterrows()}
    return {"kind": f.kind, **value} if f.kind else value


def _clean(x: Any) -> Any:
    """``x`` with NumPy scalars as Python ones, tuples as lists and NaN as None."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer | np.bool_):
        return x.item()
    return x


# --------------------------------------------------------------------------------------------
# the recommendation


@dataclass(frozen=True, repr=False, eq=False)
class Recommendation:
    """A risk-aware distillation recommendation (returned by :func:`recommend`).

    Losses are cross-entropies in nats/token. Two kinds of interval appear, and every field says
    which: *predictive* (the loss a new training run would realise: posterior uncertainty plus
    the discrepancy offsets of a new student and teacher plus run-to-run noise) and *mean law*
    (the law itself; epistemic uncertainty only).

    Attributes
    ----------
    scenario : str
        One of ``best_case``, ``teacher_inference``, ``teacher_pretraining``,
        ``pretraining_and_inference`` (``compute.SCENARIOS``).
    compute, student_params, risk_tolerance, ci_prob : float
        The inputs (``compute`` is the budget, a ceiling).
    compute_spent : float
        FLOPs the allocation spends, at most ``compute``: less when spending the rest would
        make the loss at risk worse (see ``notes``); ``unspent`` is the difference.
    allocation : dict
        ``D_S`` (student tokens), ``N_T``, ``D_T`` (teacher parameters and pretraining tokens;
        NaN in ``best_case``, where only the teacher's loss matters) and the FLOPs by phase,
        ``flops_student``, ``flops_teacher_logits``, ``flops_teacher_pretraining``.
    student_loss : dict
        Predictive student loss at the allocation: ``median``, ``lower``, ``upper`` (the
        ``ci_prob`` equal-tailed interval) and ``at_risk``, its ``1 - risk_tolerance``
        quantile (the *loss at risk*): under the fitted model, a new run at this allocation
        does worse than it with probability ``risk_tolerance``. It is conditional on the model
        and its extrapolation, not a guarantee.
    student_loss_mean : dict
        Mean-law student loss at the allocation: ``median``, ``lower``, ``upper``.
    teacher_loss : dict
        Mean-law teacher loss ``L_T`` at the allocation (``median``, ``lower``, ``upper``); a
        fixed number in ``best_case`` and for a given ``teacher_loss``.
    supervised_tokens : float
        Tokens of the supervised baseline, ``C / (3 F(N_S))``.
    supervised_loss, supervised_loss_mean : dict
        The same student trained on data with the whole budget: predictive (with
        ``at_risk``) and mean law.
    p_distillation_better : float
        Posterior probability that the distilled student beats the supervised one, on the mean
        law: the share of draws with ``L_S(x*) < L(N_S, C / (3 F(N_S)))``. It answers "which
        method is better", not "which of two runs will happen to be lower".
    p_distillation_better_predictive : float
        The same for two new runs, with independent noise for each.
    p_distillation_better_by_margin : float
        The share of draws in which the distilled student beats the supervised one by more
        than :data:`DECISION_MARGIN` (0.01 nats, mean law): a smaller difference is a tie at
        the model's resolution. :attr:`distill` follows it.
    supervised_source : str
        Where the fit's supervised law comes from (it gives the teacher's loss and the
        supervised baseline, so every distil-or-train answer rests on it).
    paper : dict
        The same question answered with the paper's published coefficients (Busbridge et al.
        2025, Table 6) as a point estimate, for comparison: ``p_distillation_better`` (0 or
        1), ``student_loss`` and ``supervised_loss`` (mean law at that estimate's own optimum
        for the same budget and scenario); empty for an existing teacher given by its loss.
    regret : dict
        ``expected``: posterior mean of ``L_S^(s)(x*) - min_x L_S^(s)(x)`` (mean law, nats), the
        loss given up by not knowing the parameters; ``upper``: its ``(1 + ci_prob) / 2``
        quantile.
    optimum_spread : pandas.DataFrame
        Median and ``ci_prob`` interval of the per-draw optimal ``D_S, N_T, D_T, L_T``.
    mean_optimal : dict
        The allocation minimising the posterior mean of the predictive loss (``D_S, N_T, D_T,
        L_T``) and that mean (``loss``).
    on_bound : tuple of str
        Variables of the recommended allocation that sit on a bound (empty if none).
    n_draws, n_dropped : int
        Posterior draws used, and draws dropped because the law was not finite there.
    existing_teacher : bool
        True when the teacher was given (``teacher_loss`` or ``teacher_params``).
    notes : tuple of str
        Anything else the user should know (dropped draws, accounting of a given teacher).
    per_draw : pandas.DataFrame
        One row per posterior draw: the mean-law loss at the recommendation
        (``loss_recommended``) and the predictive one (``loss_predictive``), the draw's own
        optimum (``loss_optimal``, ``D_S_opt``, ``N_T_opt``, ``D_T_opt``, ``L_T_opt``),
        ``regret``, ``teacher_loss`` and ``supervised_loss`` (mean law),
        ``supervised_loss_predictive`` and ``dropped``.
    extrapolation : dict
        How far the recommended allocation lies outside the runs the fit was fitted to (see
        :mod:`bayes_distill.extrapolation`): input name -> ``{"value", "min", "max", "fold"}``
        (and ``"against"``, the runs compared with) for ``N_S``, ``D_S`` (the allocation's),
        ``tokens_per_param`` (``D_S / N_S``) and ``L_T`` (the median mean-law teacher loss)
        against the distillation runs, and ``N_T``, ``D_T`` when the allocation has them
        against the fit's supervised runs (fold NaN and a ``"reason"`` when it has none).
        ``fold`` is how many times beyond the fitted range the value lies (1 inside it).
        Empty for a fit without runs (:meth:`ScalingFit.from_params`).
    n_students : int
        Students sharing the teacher (``recommend(..., n_students=k)``): in the scenarios that
        pay for the teacher's pretraining, ``1/k`` of its FLOPs is charged to this student
        (``allocation["flops_teacher_pretraining"]`` is that share); its logits are charged
        per student. 1 is a teacher trained for one student.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
    >>> rec = bd.recommend(fit, compute=1e22, student_params=1e9, scenario="teacher_pretraining")
    >>> print(f"N_T = {rec.allocation['N_T']:.2g}, D_T = {rec.allocation['D_T']:.2g}")
    N_T = 6.5e+09, D_T = 1e+11
    >>> rec.p_distillation_better  # one teacher trained for one student: supervised wins
    0.0
    >>> print(rec)  # doctest: +ELLIPSIS
    Distillation recommendation: student N_S = 1e+09 parameters, budget C = 1e+22 FLOPs
    ...
    """

    scenario: str
    compute: float
    compute_spent: float
    student_params: float
    risk_tolerance: float
    ci_prob: float
    allocation: dict[str, float]
    student_loss: dict[str, float]
    student_loss_mean: dict[str, float]
    teacher_loss: dict[str, float]
    supervised_tokens: float
    supervised_loss: dict[str, float]
    supervised_loss_mean: dict[str, float]
    p_distillation_better: float
    p_distillation_better_predictive: float
    p_distillation_better_by_margin: float
    supervised_source: str
    paper: dict[str, float]
    regret: dict[str, float]
    optimum_spread: pd.DataFrame
    mean_optimal: dict[str, float]
    on_bound: tuple[str, ...]
    n_draws: int
    n_dropped: int
    existing_teacher: bool
    notes: tuple[str, ...]
    per_draw: pd.DataFrame
    extrapolation: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_students: int = 1

    @property
    def shares_teacher_pretraining(self) -> bool:
        """Whether this student is charged only its share of the teacher's pretraining: more
        than one student shares a teacher that the scenario trains."""
        pays = pays_pretraining(self.scenario)
        return self.n_students > 1 and pays and not self.existing_teacher

    @property
    def extrapolation_max_fold(self) -> float:
        """The largest fold of :attr:`extrapolation`: how many times beyond the fitted runs'
        range the furthest input lies (1 when all are inside; NaN when nothing was assessed)."""
        return _extrap.max_fold(self.extrapolation)

    @property
    def flops(self) -> dict[str, float]:
        """FLOPs by phase: ``student``, ``teacher_logits``, ``teacher_pretraining``, ``total``."""
        a = self.allocation
        out = {
            "student": a["flops_student"],
            "teacher_logits": a["flops_teacher_logits"],
            "teacher_pretraining": a["flops_teacher_pretraining"],
        }
        out["total"] = sum(out.values())
        return out

    @property
    def unspent(self) -> float:
        """FLOPs of the budget the recommendation leaves unspent (``compute - compute_spent``)."""
        return max(self.compute - self.compute_spent, 0.0)

    @property
    def distill(self) -> bool:
        """Whether distillation is the better bet by more than the model's resolution:
        ``p_distillation_better_by_margin > 0.5``."""
        return self.p_distillation_better_by_margin > 0.5

    @property
    def decision_margin(self) -> float:
        """The margin (nats) of :attr:`p_distillation_better_by_margin`,
        :data:`DECISION_MARGIN`."""
        return DECISION_MARGIN

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: inputs, allocation, FLOPs and every loss summary as columns.

        The extrapolation is in ``extrapolation_max_fold`` and one ``<input>_fold`` column per
        input of :attr:`extrapolation` (e.g. ``D_S_fold``, ``L_T_fold``).

        Examples
        --------
        >>> import bayes_distill as bd
        >>> fit = bd.ScalingFit.from_params("distillation", bd.laws.PAPER)
        >>> rec = bd.recommend(fit, compute=1e21, student_params=1e8, scenario="best_case")
        >>> rec.to_frame().shape[0]
        1
        """
        row: dict[str, Any] = {}
        for f in FIELDS:
            if f.frame is not None:
                row.update(_COLUMNS[f.frame](f.name, getattr(self, f.name)))
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly nested dict (NaN becomes None); ``per_draw`` is left out."""
        return _clean(
            {f.name: _json_value(f, getattr(self, f.name)) for f in FIELDS if f.json is not None}
        )

    def __str__(self) -> str:
        return "\n".join(
            [*self._head_lines(), *self._allocation_lines(), *self._loss_lines(), *self._tail()]
        )

    def __repr__(self) -> str:
        return self.__str__()

    def _head_lines(self) -> list[str]:
        g = round(100 * (1 - self.risk_tolerance))
        head = "existing teacher" if self.existing_teacher else SCENARIO_DESCRIPTIONS[self.scenario]
        lines = [
            f"Distillation recommendation: student N_S = {self.student_params:.3g} parameters, "
            f"budget C = {self.compute:.3g} FLOPs",
            f"  scenario {self.scenario!r}: {head}",
        ]
        if self.shares_teacher_pretraining:
            lines.append(
                f"  teacher pretraining shared by {self.n_students} students: "
                f"1/{self.n_students} of its FLOPs charged"
            )
        dropped = f" ({self.n_dropped} dropped: law not finite)" if self.n_dropped else ""
        return [
            *lines,
            f"  risk tolerance {self.risk_tolerance:g}: the allocation minimises the {g}% quantile "
            f"of the predictive student loss",
            f"  posterior draws used: {self.n_draws}{dropped}",
            "",
        ]

    def _allocation_lines(self) -> list[str]:
        a, f = self.allocation, self.flops
        lines = [f"  {'allocation':<30}{'value':>12}{'FLOPs':>12}{'share':>8}"]
        total = f["total"] if f["total"] > 0 else float("nan")
        teacher_tokens = "teacher tokens D_T"
        if free_variables(self.scenario, self.existing_teacher) is Choice.TEACHER_SIZE:
            teacher_tokens = "teacher tokens D_T (bound)"
        if self.shares_teacher_pretraining:
            teacher_tokens = f"teacher tokens D_T (1/{self.n_students})"
        rows = [
            ("student tokens D_S", a["D_S"], f["student"]),
            ("teacher parameters N_T", a["N_T"], None),
            (teacher_tokens, a["D_T"], f["teacher_pretraining"]),
            ("teacher logits (on D_S)", None, f["teacher_logits"]),
        ]
        for name, value, flops in rows:
            v = "" if value is None else _fmt(value)
            fl = "" if flops is None else _fmt(flops)
            share = "" if flops is None else f"{100 * flops / total:.1f}%"
            lines.append(f"  {name:<30}{v:>12}{fl:>12}{share:>8}")
        lines.append(f"  {'total spent':<30}{'':>12}{_fmt(f['total']):>12}{'':>8}")
        if self.unspent > 0:
            lines.append(f"  {'unspent (budget is a ceiling)':<30}{'':>12}{_fmt(self.unspent):>12}")
        return lines

    def _loss_lines(self) -> list[str]:
        pct = round(100 * self.ci_prob)
        g = round(100 * (1 - self.risk_tolerance))
        lines = [
            "",
            f"  {'loss (nats/token)':<36}{'median':>8}  {f'{pct}% interval':<18}"
            f"{f'at risk ({g}% q.)':>16}",
        ]
        for f in FIELDS:
            if f.label is not None:
                d = getattr(self, f.name)
                iv = f"[{_fmt(d['lower'], '.4f')}, {_fmt(d['upper'], '.4f')}]"
                gu = _fmt(d["at_risk"], ".4f") if "at_risk" in d else ""
                name = f.label.format(rec=self)
                lines.append(f"  {name:<36}{_fmt(d['median'], '.4f'):>8}  {iv:<18}{gu:>16}")
        return [
            *lines,
            "",
            f"  P(distillation beats supervised) = {self.p_distillation_better:.3f} (mean law; "
            f"{self.p_distillation_better_predictive:.3f} for two new runs); by more than "
            f"{DECISION_MARGIN:g} nats: {self.p_distillation_better_by_margin:.3f}",
            f"  the supervised law (teacher loss, baseline): {self.supervised_source}",
            f"  expected regret vs per-draw optima: {self.regret['expected']:.4g} nats "
            f"({(1 + self.ci_prob) / 2:.0%} quantile {self.regret['upper']:.4g}; mean law)",
        ]

    def _tail(self) -> list[str]:
        lines = []
        pct = round(100 * self.ci_prob)
        spread = self.optimum_spread
        parts = []
        for var in spread.index:
            s = spread.loc[var]
            if np.isfinite(s["median"]):
                parts.append(f"{var} {_fmt(s['median'])} [{_fmt(s['lower'])}, {_fmt(s['upper'])}]")
        if parts:
            lines.append(f"  per-draw optima, median [{pct}% interval]: " + ", ".join(parts))
        m = self.mean_optimal
        mo = [f"{k} {_fmt(m[k])}" for k in ("D_S", "N_T", "D_T", "L_T") if np.isfinite(m[k])]
        lines.append(
            "  posterior-mean optimum: " + ", ".join(mo) + f" (mean loss {_fmt(m['loss'], '.4f')})"
        )
        if self.paper:
            pp = self.paper
            verdict = "distillation" if pp["p_distillation_better"] else "supervised"
            lines.append(
                f"  the paper's coefficients (point estimate): {verdict} wins, student "
                f"{_fmt(pp['student_loss'], '.4f')} vs supervised "
                f"{_fmt(pp['supervised_loss'], '.4f')} (mean law)"
            )
        if self.on_bound:
            lines.append("  ON A BOUND: " + "; ".join(self.on_bound))
        lines.append("  extrapolation: " + _extrap._summary(self.extrapolation, "distillation"))
        lines += [f"  note: {n}" for n in self.notes]
        return lines


# --------------------------------------------------------------------------------------------
# summarising a problem's optima


@dataclass(frozen=True)
class Setting:
    """What a recommendation answers, shared by every budget of one call."""

    scenario: str
    #: ``risk_tolerance``: the loss at risk is the ``1 - risk`` quantile.
    risk: float
    ci_prob: float
    #: Whether the teacher was given (nothing to choose).
    existing: bool
    #: Whether the fit has its own noise for supervised runs (a note says when it has not).
    own_supervised_noise: bool
    #: The ranges of the fitted runs, for the extrapolation report (empty: none).
    ranges: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def credible_interval(values: np.ndarray, ci_prob: float) -> dict[str, float]:
    """Median and equal-tailed ``ci_prob`` interval of ``values``."""
    lo, med, hi = np.quantile(values, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
    return {"median": float(med), "lower": float(lo), "upper": float(hi)}


def _notes(p: Problem, setting: Setting, budget: float, n_dropped: int) -> list[str]:
    """What a recommendation says about how it was made (before its per-draw checks)."""
    scenario, existing = setting.scenario, setting.existing
    notes = []
    if n_dropped:
        notes.append(
            f"{n_dropped} of {p.n_draws} draws dropped: the law is not finite "
            "there (extreme parameters)."
        )
    if existing:
        charged = "charged" if pays_logits(p.accounting) else "free"
        notes.append(
            f"existing teacher: its pretraining is sunk and not charged; its logits are {charged}."
        )
    if p.compute < budget * (1 - 1e-9):
        notes.append(
            f"only {p.compute:.3g} of the {budget:.3g} FLOPs are spent: under the model, "
            "spending more makes the loss at risk worse (the predictive interval widens faster "
            "than the expected loss falls, far from the fitted runs). The supervised baseline "
            "spends the whole budget."
        )
    if p.n_students > 1 and (existing or _compute.SCENARIOS[scenario][1] == 0):
        why = (
            "an existing teacher's pretraining is sunk and never charged"
            if existing
            else f"scenario {scenario!r} does not pay for the teacher's pretraining"
        )
        notes.append(f"n_students={p.n_students} changes nothing here: {why}.")
    if not setting.own_supervised_noise:
        notes.append(
            "the supervised baseline's predictive noise reuses the distillation fit's noise model "
            "(no supervised runs were fitted jointly)."
        )
    return notes


def _optimum_spread(
    p: Problem, x_opt: np.ndarray, valid: np.ndarray, ci_prob: float
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Intervals of the per-draw optimal allocations (``D_S, N_T, D_T, L_T``), and the
    allocations per draw."""
    S = x_opt.shape[0]
    N_T, D_T = p.teacher(x_opt[:, None, :])
    per_draw = {
        "D_S": p.student_tokens(x_opt[:, None, :])[:, 0],
        "N_T": np.full(S, np.nan) if N_T is None else N_T[:, 0],
        "D_T": np.full(S, np.nan) if D_T is None else D_T[:, 0],
        "L_T": np.exp(p.teacher_log_loss(x_opt[:, None, :])[np.arange(S), 0]),
    }
    nan = {"median": np.nan, "lower": np.nan, "upper": np.nan}
    spread = {
        name: credible_interval(values[valid], ci_prob)
        if np.all(np.isfinite(values[valid]))
        else nan
        for name, values in per_draw.items()
    }
    frame = pd.DataFrame.from_dict(spread, orient="index")[["median", "lower", "upper"]]
    return frame, per_draw


def _outside_note(spread: pd.DataFrame, chosen: Mapping[str, float], ci_prob: float) -> list[str]:
    """A note when the recommendation lies outside the interval of the per-draw optima."""
    outside = [
        name
        for name, row in spread.iterrows()
        if np.isfinite(row["lower"])
        and np.isfinite(chosen.get(name, np.nan))
        and not row["lower"] * (1 - 1e-6) <= chosen[name] <= row["upper"] * (1 + 1e-6)
    ]
    if not outside:
        return []
    return [
        f"the recommended {', '.join(outside)} lie(s) outside the {ci_prob:.0%} interval of "
        "the per-draw optima: each draw's optimum minimises that draw's mean-law loss, while "
        "the recommendation minimises the loss at risk over all draws, which also weighs how "
        "uncertain each allocation's outcome is (the predictive noise grows away from the "
        "fitted runs) and so can prefer an allocation no single draw would choose."
    ]


def _mean_optimal(p: Problem, o: Optima, eps_mean: np.ndarray, v: np.ndarray) -> dict:
    """The allocation minimising the posterior mean of the predictive loss, and that loss."""
    mean_alloc = p.allocation(o.x_mean)
    lt_mean = np.exp(p.teacher_log_loss(o.x_mean[None, None])[:, 0])
    return {
        "D_S": mean_alloc["D_S"],
        "N_T": mean_alloc["N_T"],
        "D_T": mean_alloc["D_T"],
        "L_T": float(np.median(lt_mean[v])),
        "loss": float(np.mean(np.exp(o.m_mean[v] + eps_mean[v]))),
    }


def _allocation_extrapolation(
    ranges: Mapping[str, Mapping[str, Any]],
    N_S: float,
    allocation: Mapping[str, float],
    L_T: float,
) -> dict[str, dict[str, Any]]:
    """The extrapolation report of an allocation (``{}`` when the fit has no runs): the
    student's ``N_S, D_S, D_S / N_S``, the median teacher loss ``L_T``, and the teacher's
    ``N_T, D_T`` where the allocation has them (not in ``best_case`` or for a teacher given
    by its loss)."""
    if not ranges:
        return {}
    D_S = allocation["D_S"]
    values = {"N_S": N_S, "D_S": D_S, "tokens_per_param": D_S / N_S, "L_T": L_T}
    values.update({k: allocation[k] for k in ("N_T", "D_T") if np.isfinite(allocation[k])})
    return _extrap._assess(ranges, values)


def _draw_optimum(o: Optima) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's optimum: the best of its own search and the two common allocations."""
    rows = np.arange(o.m_q.shape[0])
    shape = o.x_draw.shape
    cands = np.stack([o.x_draw, np.broadcast_to(o.x_q, shape), np.broadcast_to(o.x_mean, shape)])
    vals = np.stack([o.m_draw, o.m_q, o.m_mean])
    best = np.argmin(vals, axis=0)
    return cands[best, rows], vals[best, rows]


def _comparison(
    L_q: np.ndarray,
    L_pred: np.ndarray,
    L_sup: np.ndarray,
    L_sup_pred: np.ndarray,
    q: float,
    ci_prob: float,
) -> dict[str, Any]:
    """The loss summaries of the distilled and the supervised student and the probabilities
    that distillation is better, from their losses over the valid draws."""
    student_loss = credible_interval(L_pred, ci_prob)
    student_loss["at_risk"] = float(np.quantile(L_pred, q))
    supervised_loss = credible_interval(L_sup_pred, ci_prob)
    supervised_loss["at_risk"] = float(np.quantile(L_sup_pred, q))
    return {
        "student_loss": student_loss,
        "student_loss_mean": credible_interval(L_q, ci_prob),
        "supervised_loss": supervised_loss,
        "supervised_loss_mean": credible_interval(L_sup, ci_prob),
        "p_distillation_better": float(np.mean(L_q < L_sup)),
        "p_distillation_better_predictive": float(np.mean(L_pred < L_sup_pred)),
        "p_distillation_better_by_margin": float(np.mean(L_q < L_sup - DECISION_MARGIN)),
    }


def summarise(
    p: Problem,
    o: Optima,
    noise: StudentNoise,
    eps_sup: np.ndarray,
    setting: Setting,
    budget: float,
) -> Recommendation:
    """The recommendation of problem ``p`` from its optima ``o``: the loss at risk's optimum,
    compared with the supervised baseline (``eps_sup``: its predictive noise per draw) and each
    draw's optimum. ``budget`` is the budget asked for (``p.compute`` is what is spent)."""
    S = eps_sup.shape[0]
    q, ci_prob = 1.0 - setting.risk, setting.ci_prob
    x_opt, m_opt = _draw_optimum(o)
    D_sup = float(_compute.supervised_tokens(budget, p.N_S, approx=p.approx))
    with np.errstate(all="ignore"):
        m_sup = log_supervised(p.sup, p.log_NS, math.log(D_sup))[:, 0]
    lt_q = p.teacher_log_loss(o.x_q[None, None])[:, 0]
    v = np.isfinite(o.m_q) & np.isfinite(m_sup) & np.isfinite(m_opt) & np.isfinite(lt_q)
    n_valid = int(v.sum())
    if n_valid == 0:
        raise ValueError(
            f"The distillation law is not finite for any posterior draw at the best allocation "
            f"for compute={p.compute:.3g}; check the fit's parameters."
        )
    notes = _notes(p, setting, budget, S - n_valid)
    eps = noise_at(p, noise, o.ev_q)[:, 0]
    eps_mean = noise_at(p, noise, o.ev_mean)[:, 0]
    compared = _comparison(
        np.exp(o.m_q[v]),
        np.exp(o.m_q[v] + eps[v]),
        np.exp(m_sup[v]),
        np.exp(m_sup[v] + eps_sup[v]),
        q,
        ci_prob,
    )
    with np.errstate(all="ignore"):
        regret_draws = np.exp(o.m_q) - np.exp(m_opt)
    regret = {
        "expected": float(np.mean(regret_draws[v])),
        "upper": float(np.quantile(regret_draws[v], (1 + ci_prob) / 2)),
    }
    spread, opt = _optimum_spread(p, x_opt, v, ci_prob)
    allocation = p.allocation(o.x_q)
    notes += _outside_note(
        spread, {**allocation, "L_T": float(np.median(np.exp(lt_q[v])))}, ci_prob
    )
    per_draw = pd.DataFrame(
        {
            "loss_recommended": np.exp(o.m_q),
            "loss_predictive": np.exp(o.m_q + eps),
            "loss_optimal": np.exp(m_opt),
            "regret": regret_draws,
            **{f"{k}_opt": opt[k] for k in ("D_S", "N_T", "D_T", "L_T")},
            "teacher_loss": np.exp(lt_q),
            "supervised_loss": np.exp(m_sup),
            "supervised_loss_predictive": np.exp(m_sup + eps_sup),
            "dropped": ~v,
        }
    ).rename_axis("sample")
    teacher_loss = credible_interval(np.exp(lt_q[v]), ci_prob)
    return Recommendation(
        scenario=setting.scenario,
        compute=budget,
        compute_spent=p.compute,
        student_params=p.N_S,
        risk_tolerance=setting.risk,
        ci_prob=ci_prob,
        allocation=allocation,
        teacher_loss=teacher_loss,
        supervised_tokens=D_sup,
        supervised_source="",
        paper={},
        regret=regret,
        optimum_spread=spread,
        mean_optimal=_mean_optimal(p, o, eps_mean, v),
        on_bound=tuple(p.on_bounds(o.x_q)) if p.dim else (),
        n_draws=n_valid,
        n_dropped=S - n_valid,
        existing_teacher=setting.existing,
        notes=tuple(notes),
        per_draw=per_draw,
        extrapolation=_allocation_extrapolation(
            setting.ranges, p.N_S, allocation, teacher_loss["median"]
        ),
        n_students=p.n_students,
        **compared,
    )
