"""The ``bayes-distill`` command line: ``recommend``, ``crossover``, ``next-run``,
``compute-optimal``, ``fit``.

Every command prints a readable table (or JSON with ``--json``), with how far its inputs lie
beyond the runs the posterior was fitted to (``extrapolation``, see
:mod:`bayes_distill.extrapolation`). Warnings (convergence, extrapolation) are printed once each,
one line on stderr. A bad argument, or a value the package rejects, prints one line on stderr
and exits with status 2; a missing shipped posterior exits with status 1 and says how to build
it.

JSON output
-----------
``--json`` prints one JSON document whose shape does not depend on the number of budgets.
``schema`` names the document and its version; the version changes when a member is renamed or
removed or changes meaning, and new members may be added within a version. Numbers that are not
finite (NaN, infinity) are ``null``.

``recommend --json``::

    {
      "schema": "bayes_distill.recommendation/1",
      "approx": "paper",                    # the FLOPs rule (--approx)
      "recommendations": [                  # one per --compute value, in the order given
        {...}                               # Recommendation.to_dict(): scenario, compute,
      ],                                    # allocation, flops, student_loss, ...,
                                            # p_distillation_better, extrapolation, notes
      "fit": {
        "law": "distillation",
        "file": "my_fit.nc",                # --fit; null for the shipped posterior
        "supervised_source": "...",         # where the supervised law comes from
        "diagnostics": {                    # null members: no sampler statistics
          "ok": true,                       # false: the fit failed R-hat, ESS or divergences
          "max_rhat": 1.004, "min_ess_bulk": 1210.0, "divergences": 0
        }
      }
    }

``compute-optimal --json``::

    {
      "schema": "bayes_distill.compute_optimal/1",
      "approx": "paper", "ci_prob": 0.9,
      "loss_kind": "mean law (epistemic; no run-to-run noise)",
      "rows": [                             # one per --compute value, in the order given
        {"compute": 1e22, "N_median": ..., "N_lower": ..., "N_upper": ..., "D_median": ...,
         "tokens_per_param_median": ..., "loss_median": ..., "on_bound": 0.0,
         "n_draws": 4000, "extrapolation": {...}}      # the columns of bd.compute_optimal
      ],
      "fit": {...}                          # as for recommend
    }

``crossover --json``::

    {
      "schema": "bayes_distill.crossover/1",
      "approx": "paper", "scenario": "best_case", "ci_prob": 0.9,
      "compute_range": [1e18, 1e27],         # --compute-range
      "teacher_loss": null,                  # --teacher-loss
      "loss_kind": "mean law (epistemic; no run-to-run noise)",
      "rows": [                              # one per --student-params value, in the order given
        {"student_params": 1e9, "median": ..., "lower": ..., "upper": ...,
         "p_no_crossover": 0.14, "p_never_wins": 0.0, "p_still_winning": 0.14,
         "n_draws": 8000, "n_crossover": 6858, "D_S_median": ..., "compute_lo": 1e18,
         "compute_hi": ..., "extrapolation": {...}}    # the columns of bd.crossover
      ],
      "fit": {...}                           # as for recommend
    }

``next-run --json``::

    {
      "schema": "bayes_distill.next_run/1",
      "approx": "paper", "scenario": "teacher_pretraining", "compute": 1e22,
      "student_params": 5.46e8, "risk_tolerance": 0.1, "objective": "regret",
      "decision": "...",                     # the current decision (recommend's, on its grid)
      "expected_regret": ..., "loss_at_risk": ...,
      "n_outcomes": 32, "n_draws": 8000, "pareto_k_threshold": 0.7,
      "min_ess_threshold": 100, "clear_se": 2.0, "refit": "auto", "refit_outcomes": 4,
      "max_refits": 4,
      "rows": [                              # one per candidate run, best first
        {"name": ..., "kind": "supervised", "N": ..., "D": ..., "flops": ...,
         "regret_reduction": ..., "at_risk_reduction": ..., "value": ..., "value_se": ...,
         "value_per_flop": ..., "p_decision_changes": ..., "pareto_k": ...,
         "min_ess": ..., "share_unreliable": ..., "status": "importance sampling",
         "n_refits": 0, "clear": true, "rank": 1}
      ],                                     # the columns of bd.next_run
      "fit": {...}                           # as for recommend
    }

A fit that failed its diagnostics says so twice: ``"ok": false`` in the JSON, and a warning on
stderr.

Examples
--------
.. code-block:: console

    $ bayes-distill recommend --compute 1e22 --student-params 1e9 \\
          --scenario teacher_pretraining --risk-tolerance 0.1
    $ bayes-distill recommend --compute 1e22 --student-params 1e9 --n-students 8
    $ bayes-distill crossover --student-params 1e9 3e9 1e10 --scenario best_case
    $ bayes-distill next-run --candidates runs.csv --compute 1e22 --student-params 5.46e8
    $ bayes-distill compute-optimal --compute 1e21 1e22 1e23
    $ bayes-distill fit runs.csv --law chinchilla --out chinchilla.nc --draws 1000 --random-seed 1
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = [
    "COMPUTE_OPTIMAL_SCHEMA",
    "CROSSOVER_SCHEMA",
    "NEXT_RUN_SCHEMA",
    "RECOMMENDATION_SCHEMA",
    "build_parser",
    "main",
]

PROG = "bayes-distill"
SCENARIOS = ("teacher_pretraining", "best_case", "teacher_inference", "pretraining_and_inference")
LAWS = ("chinchilla", "supervised", "distillation")
DATASETS = ("chinchilla", "distillation")
APPROX = ("paper", "2N")
#: What each FLOPs rule (``--approx``) counts, for the output.
APPROX_MEANING = {
    "paper": "the paper's F(N) per token, with attention and embeddings",
    "2N": "2N per token, the 6ND rule",
}
BUILD_COMMAND = "python scripts/build_models.py"
#: Names and versions of the JSON documents of ``--json`` (see the module docstring). The
#: version changes when a member is renamed or removed, or changes meaning; new members may be
#: added within a version.
RECOMMENDATION_SCHEMA = "bayes_distill.recommendation/1"
COMPUTE_OPTIMAL_SCHEMA = "bayes_distill.compute_optimal/1"
CROSSOVER_SCHEMA = "bayes_distill.crossover/1"
NEXT_RUN_SCHEMA = "bayes_distill.next_run/1"

_EPILOG = f"""\
examples:
  {PROG} recommend --compute 1e22 --student-params 1e9 --scenario teacher_pretraining \\
      --risk-tolerance 0.1
  {PROG} recommend --compute 1e20 1e21 1e22 --student-params 3e8 --scenario best_case --json
  {PROG} recommend --compute 1e22 --student-params 1e9 --teacher-loss 2.0
  {PROG} recommend --compute 1e22 --student-params 1e9 --n-students 8
  {PROG} crossover --student-params 1e9 3e9 1e10 --scenario best_case
  {PROG} next-run --candidates runs.csv --compute 1e22 --student-params 5.46e8
  {PROG} compute-optimal --compute 1e21 1e22 1e23
  {PROG} fit runs.csv --law chinchilla --out my_fit.nc --draws 1000 --random-seed 1
  {PROG} fit distillation --law distillation --out distillation.nc

Without --fit, recommend, crossover and next-run use the distillation posterior shipped in
models/ and compute-optimal the Chinchilla one (build them with `{BUILD_COMMAND}`).
Exit status: 0 success, 1 a shipped posterior is missing, 2 bad arguments.

JSON (--json): one document, the same shape for one budget or several:
  recommend        {{"schema": "{RECOMMENDATION_SCHEMA}", "approx",
                    "recommendations": [Recommendation.to_dict() per budget], "fit"}}
  compute-optimal  {{"schema": "{COMPUTE_OPTIMAL_SCHEMA}", "approx", "ci_prob",
                    "loss_kind", "rows": [one record per budget], "fit"}}
  crossover        {{"schema": "{CROSSOVER_SCHEMA}", "approx", "scenario", "ci_prob",
                    "compute_range", "teacher_loss", "loss_kind",
                    "rows": [one record per student], "fit"}}
  next-run         {{"schema": "{NEXT_RUN_SCHEMA}", "approx", "scenario", "compute",
                    "student_params", "risk_tolerance", "objective", "decision",
                    "expected_regret", "loss_at_risk", "n_outcomes", "n_draws",
                    "pareto_k_threshold", "min_ess_threshold",
                    "rows": [one record per candidate run], "fit"}}
  "fit": {{"law", "file", "supervised_source",
          "diagnostics": {{"ok", "max_rhat", "min_ess_bulk", "divergences"}}}};
  "ok" is false for a fit that failed its diagnostics (also warned on stderr).
  The version (/1) changes when a member is renamed or removed."""


class _UsageError(Exception):
    """A bad argument found after parsing (exit status 2)."""


#: Arguments that look like negative numbers, ``-1``, ``-1e22``, ``-.5``, ``-inf``: values, not
#: options (argparse's own rule misses exponents), so that ``--compute -1e22`` reaches the
#: package's validation and its message.
_NEGATIVE_NUMBER = re.compile(
    r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^-(?:inf|infinity|nan)$", re.IGNORECASE
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2, and which
    reads arguments such as ``-1e22`` as (negative) numbers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse's private matcher (an attribute since Python 3.2); sub-parsers are _Parsers
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")


def _wrap(text: str) -> str:
    return textwrap.fill(text, 79)


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _number(text: str) -> float:
    """Any float (negative, zero, inf and NaN too): the package checks it and says why."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e22, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e22, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text}")
    return value


def _by_law(defaults: dict[str, int]) -> str:
    """``{"chinchilla": 1000, ...}`` -> ``"chinchilla 1000, ..."`` (for help texts)."""
    return ", ".join(f"{law} {value}" for law, value in defaults.items())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _integer(text: str) -> int:
    """Any integer (zero and negative too): the package checks it and says why."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number such as 8, got {text!r}"
        ) from None


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bayes-distill`` (one sub-command per task).

    Examples
    --------
    >>> from bayes_distill.cli import build_parser
    >>> argv = ["recommend", "--compute", "1e22", "--student-params", "1e9"]
    >>> args = build_parser().parse_args(argv)
    >>> args.scenario, args.risk_tolerance
    ('teacher_pretraining', 0.1)
    """
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description=_wrap(
            "Bayesian scaling laws for LLM training and distillation: risk-aware "
            "compute-optimal recommendations from posterior draws."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_recommend(sub)
    _add_crossover(sub)
    _add_next_run(sub)
    _add_compute_optimal(sub)
    _add_fit(sub)
    return parser


def _group_argument(p) -> None:
    """``--group NAME``: one group's law of a grouped fit (``fit --groups``)."""
    p.add_argument(
        "--group",
        metavar="NAME",
        help="with a grouped fit (fit --groups COLUMN): the group whose law is used",
    )


def _add_recommend(sub) -> None:
    """The ``recommend`` sub-command."""
    rec = sub.add_parser(
        "recommend",
        help="how to distil a student with a compute budget, at a given risk tolerance",
        description=_wrap(
            "Recommend D_S, N_T, D_T for a student of N_S parameters and a budget of C "
            "FLOPs: the allocation minimising the (1 - risk tolerance) quantile of the posterior "
            "predictive student loss, with the supervised baseline and P(distillation better)."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rec.add_argument(
        "--compute",
        type=_number,
        nargs="+",
        required=True,
        metavar="C",
        help="budget in FLOPs, e.g. 1e22; several values give a sweep (one row per budget)",
    )
    rec.add_argument(
        "--student-params",
        type=_number,
        required=True,
        metavar="N_S",
        help="student non-embedding parameters, e.g. 1e9",
    )
    rec.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="teacher_pretraining",
        help="what the budget pays for (default: teacher_pretraining)",
    )
    rec.add_argument(
        "--risk-tolerance",
        type=_probability,
        default=0.1,
        metavar="R",
        help="accepted probability that the realised loss exceeds the promised one "
        "(default 0.1: the loss at risk is the 90%% quantile; 0.5 is risk-neutral)",
    )
    rec.add_argument(
        "--teacher-loss",
        type=_number,
        metavar="L_T",
        help="existing teacher's loss (cross-entropy in nats/token, within 0.3 to 15)",
    )
    rec.add_argument(
        "--teacher-params",
        type=_number,
        metavar="N_T",
        help="existing teacher's parameters",
    )
    rec.add_argument(
        "--teacher-tokens",
        type=_number,
        metavar="D_T",
        help="existing teacher's pretraining tokens",
    )
    rec.add_argument(
        "--random-seed",
        "--seed",
        dest="random_seed",
        type=_non_negative_int,
        default=0,
        metavar="SEED",
        help="seed of the predictive noise (default 0; --seed is an alias)",
    )
    rec.add_argument(
        "--n-students",
        type=_integer,
        default=1,
        metavar="K",
        help="students sharing one trained teacher: each is charged 1/K of its pretraining "
        "FLOPs, in the scenarios that pay for them (default 1); logits stay per student",
    )
    _group_argument(rec)
    _common(rec, default_fit="distillation", schema=RECOMMENDATION_SCHEMA)


def _add_crossover(sub) -> None:
    """The ``crossover`` sub-command."""
    xo = sub.add_parser(
        "crossover",
        help="the compute beyond which supervised training beats the best distilled student",
        description=_wrap(
            "Per posterior draw, the budget (FLOPs) at which the best distilled student stops "
            "beating the same student trained on data with the whole budget (mean law), "
            "summarised by median and credible interval, with the share of draws that have no "
            "crossover in the range searched."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    xo.add_argument(
        "--student-params",
        type=_number,
        nargs="+",
        required=True,
        metavar="N_S",
        help="student non-embedding parameters, e.g. 1e9 3e9 1e10 (one row each)",
    )
    xo.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="best_case",
        help="what the budget pays for (default: best_case)",
    )
    xo.add_argument(
        "--teacher-loss",
        type=_number,
        metavar="L_T",
        help="distil from an existing teacher of this loss (nats/token) instead of the best one",
    )
    xo.add_argument(
        "--compute-range",
        type=_number,
        nargs=2,
        metavar=("LO", "HI"),
        default=(1e18, 1e27),
        help="budgets searched, in FLOPs (default 1e18 1e27)",
    )
    _common(xo, default_fit="distillation", schema=CROSSOVER_SCHEMA)


def _add_compute_optimal(sub) -> None:
    """The ``compute-optimal`` sub-command."""
    co = sub.add_parser(
        "compute-optimal",
        help="supervised compute-optimal model size and tokens, with credible intervals",
        description=_wrap(
            "Per posterior draw, the model size N* and tokens D* minimising the "
            "supervised loss at a budget of C FLOPs (3 F(N) D = C), summarised by median and "
            "credible interval."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    co.add_argument(
        "--compute",
        type=_number,
        nargs="+",
        required=True,
        metavar="C",
        help="budget(s) in FLOPs, e.g. 1e21 1e22 1e23",
    )
    _group_argument(co)
    _common(co, default_fit="chinchilla", schema=COMPUTE_OPTIMAL_SCHEMA)


def _add_fit(sub) -> None:
    """The ``fit`` sub-command."""
    ft = sub.add_parser(
        "fit",
        help="fit a scaling law to runs with NUTS and save the posterior",
        description=_wrap(
            "Fit a scaling law to a run table (CSV or Parquet) with NUTS and save the "
            "posterior (NetCDF, with provenance) for use with --fit."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ft.add_argument(
        "runs",
        metavar="RUNS",
        help="run table (CSV or Parquet; columns N, D, loss or N_S, D_S, L_T, L_S), or the name "
        f"of a bundled data set ({', '.join(DATASETS)})",
    )
    ft.add_argument("--law", choices=LAWS, required=True, help="the scaling law to fit")
    ft.add_argument("--out", required=True, metavar="PATH", help="where to save the fit (.nc)")
    # the defaults are bd.fit's (the CLI passes None), named here from the same tables
    from .sampling import DEFAULT_DRAWS, DEFAULT_TUNE, GROUPED_DRAWS, STARTLESS_TUNE

    ft.add_argument(
        "--draws",
        type=_positive_int,
        default=None,
        help=f"draws per chain (default by law: {_by_law(DEFAULT_DRAWS)}; {GROUPED_DRAWS} "
        "with --groups)",
    )
    ft.add_argument(
        "--tune",
        type=_non_negative_int,
        default=None,
        help=f"tuning steps per chain (default by law: {_by_law(DEFAULT_TUNE)}; at least "
        f"{STARTLESS_TUNE} with --groups)",
    )
    ft.add_argument("--chains", type=_positive_int, default=4, help="chains (default 4)")
    ft.add_argument(
        "--random-seed",
        "--seed",
        dest="random_seed",
        type=_non_negative_int,
        default=None,
        metavar="SEED",
        help="random seed (default: drawn and recorded; --seed is an alias)",
    )
    ft.add_argument(
        "--priors",
        choices=("default", "paper"),
        default="default",
        help="weakly informative priors, or priors centred on the published fits",
    )
    ft.add_argument(
        "--supervised-runs",
        metavar="PATH",
        help="distillation law only: supervised runs fitted jointly (CSV/Parquet or 'chinchilla')",
    )
    ft.add_argument(
        "--groups",
        metavar="COLUMN",
        help="fit one law per group of this column, partially pooled (see docs/groups.md; the "
        "distillation law needs --supervised-runs with the same column); use --group NAME on "
        "the other commands",
    )
    ft.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    ft.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress on stderr (the sampler's bar and the line before compiling); "
        "by default it is shown when stderr is a terminal, unless BAYES_DISTILL_PROGRESS=0",
    )


def _add_next_run(sub) -> None:
    nr = sub.add_parser(
        "next-run",
        help="which training run to do next: value of information for a decision, per FLOP",
        description=_wrap(
            "Rank candidate runs (a CSV or Parquet table) by how much each is expected to "
            "reduce the expected regret (or the loss at risk) of recommend's decision for a "
            "budget and a student, per FLOP the run costs: outcomes simulated from the "
            "posterior predictive, the posterior updated by Pareto-smoothed importance "
            "reweighting, or by short refits where the reweighted draws cannot be trusted "
            "(status 'refit'; 'cannot tell' beyond --max-refits). Values that clear twice "
            "their Monte Carlo error rank first."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    nr.add_argument(
        "--candidates",
        required=True,
        metavar="PATH",
        help="candidate runs (CSV or Parquet): kind=supervised with N, D; kind=distillation "
        "with N_S, D_S, N_T and L_T (existing teacher) or D_T (teacher trained for the run); "
        "optional name",
    )
    nr.add_argument(
        "--compute", type=_number, required=True, metavar="C", help="budget of the decision"
    )
    nr.add_argument(
        "--student-params",
        type=_number,
        required=True,
        metavar="N_S",
        help="student non-embedding parameters of the decision, e.g. 1e9",
    )
    nr.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="teacher_pretraining",
        help="what the budget pays for (default: teacher_pretraining)",
    )
    nr.add_argument(
        "--risk-tolerance",
        type=_probability,
        default=0.1,
        metavar="R",
        help="as for recommend (default 0.1)",
    )
    nr.add_argument(
        "--objective",
        choices=("regret", "at_risk"),
        default="regret",
        help="rank by the reduction of expected regret (default) or of the loss at risk",
    )
    nr.add_argument(
        "--n-outcomes",
        type=_integer,
        default=32,
        metavar="M",
        help="simulated outcomes per candidate (default 32)",
    )
    nr.add_argument(
        "--random-seed",
        "--seed",
        dest="random_seed",
        type=_non_negative_int,
        default=0,
        metavar="SEED",
        help="seed of the predictive noise, the simulated outcomes and the refits (default 0)",
    )
    nr.add_argument(
        "--refit",
        choices=("auto", "never"),
        default="auto",
        help="refit candidates whose reweighted draws cannot be trusted (auto, the default) "
        "or leave them 'cannot tell' (never)",
    )
    nr.add_argument(
        "--refit-outcomes",
        type=_integer,
        default=4,
        metavar="M",
        help="simulated outcomes (one short refit each) per refitted candidate (default 4)",
    )
    nr.add_argument(
        "--max-refits",
        type=_non_negative_int,
        default=4,
        metavar="K",
        help="refits per call at most (default 4; each takes seconds on a few dozen runs, "
        "10-20 s on the shipped posterior)",
    )
    _common(nr, default_fit="distillation", schema=NEXT_RUN_SCHEMA, ci_prob=False)


def _common(
    p: argparse.ArgumentParser, *, default_fit: str, schema: str, ci_prob: bool = True
) -> None:
    p.add_argument(
        "--fit",
        metavar="PATH",
        help=f"a saved fit ({PROG} fit, or ScalingFit.save in Python); default: the shipped "
        f"{default_fit} posterior in models/",
    )
    if ci_prob:
        p.add_argument(
            "--ci-prob",
            type=_probability,
            default=0.9,
            help="credible interval probability (default 0.9)",
        )
    p.add_argument(
        "--bounds",
        type=_positive_float,
        nargs=2,
        metavar=("LO", "HI"),
        default=(1e6, 1e17),
        help="bounds on parameters and tokens (default 1e6 1e17)",
    )
    p.add_argument(
        "--approx",
        "--flops",
        dest="approx",
        choices=APPROX,
        default="paper",
        help="FLOPs per token: the paper's F(N), with attention and embeddings (default), or "
        "2N, the 6ND rule (--flops is an alias)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help=f"print one JSON document instead of a table (schema {schema}; see 'JSON' below)",
    )


# --------------------------------------------------------------------------------------------
# commands


def _load(path: str | None, shipped: str):
    """The fit at ``path``, or the shipped posterior ``shipped`` (FileNotFoundError if absent)."""
    from .persistence import load_fit

    if path is not None:
        return load_fit(path)
    from .datasets import fitted

    return fitted(shipped)


class _MissingShipped(Exception):
    pass


def _load_or_explain(path: str | None, shipped: str):
    try:
        return _load(path, shipped)
    except FileNotFoundError as exc:
        if path is not None:
            raise _UsageError(f"--fit {path}: {exc}") from None
        raise _MissingShipped(
            f"no shipped {shipped} posterior (models/{shipped}.nc is missing). Build it from the "
            f"repository root with `{BUILD_COMMAND}`, or fit one and pass it with --fit: "
            f"`{PROG} fit {shipped} --law {shipped} --out {shipped}.nc`, then --fit {shipped}.nc."
        ) from None


def _json_clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_clean(v) for v in x]
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if hasattr(x, "item") and not isinstance(x, str):
        return _json_clean(x.item())
    return x


def _records(frame) -> list[dict[str, Any]]:
    return _json_clean(frame.to_dict(orient="records"))


def _g(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _extrapolation_lines(
    reports: Sequence[dict], budgets: Sequence[float], law: str, row: str = "compute"
) -> list[str]:
    """The extrapolation of a table of budgets (or of the rows named ``row``, e.g.
    ``student_params``): one line when every row says the same, otherwise one line per row
    (``reports`` as in ``attrs["extrapolation"]``)."""
    from .extrapolation import _summary

    lines = [_summary(r, law) for r in reports]
    if len(set(lines)) <= 1:
        return [f"extrapolation: {lines[0] if lines else _summary({}, law)}"]
    what = "budget" if row == "compute" else "row"
    out = [f"extrapolation (the inputs of each {what} beyond the fitted runs' range):"]
    out += [f"  {row}={c:.3g}: {line}" for c, line in zip(budgets, lines, strict=True)]
    return out


def _fit_json(fit, path: str | None) -> dict[str, Any]:
    """The ``"fit"`` member of the JSON output: which posterior answered, and whether it passed
    its diagnostics (all null for a fit without sampler statistics, e.g. from_params)."""
    diagnostics: dict[str, Any] = dict.fromkeys(("ok", "max_rhat", "min_ess_bulk", "divergences"))
    if "sample_stats" in fit.dt.children:
        d = fit.diagnose()
        diagnostics = {
            "ok": bool(d.ok),
            "max_rhat": d.max_rhat,
            "min_ess_bulk": d.min_ess_bulk,
            "divergences": d.divergences,
        }
    return {
        "law": fit.law,
        "file": path,
        "supervised_source": fit.supervised_source,
        "diagnostics": diagnostics,
    }


def _records_with_extrapolation(frame) -> list[dict[str, Any]]:
    """JSON records of a table, each with its row's extrapolation dict."""
    rows = _records(frame)
    for row, report in zip(rows, frame.attrs.get("extrapolation", []), strict=True):
        row["extrapolation"] = _json_clean(report)
    return rows


def _cmd_recommend(args: argparse.Namespace) -> int:
    import pandas as pd

    from .decide import _recommendations
    from .extrapolation import _to_json

    fit = _load_or_explain(args.fit, "distillation")
    if fit.law != "distillation":
        raise _UsageError(
            f"recommend needs a fit of law distillation, got a {fit.law!r} fit (--fit "
            f"{args.fit}). Omit --fit to use the shipped distillation posterior, or fit one with "
            f"`{PROG} fit RUNS --law distillation --out FILE.nc`; for a {fit.law} fit use "
            f"`{PROG} compute-optimal`."
        )
    budgets = args.compute
    # what bd.recommend (one budget) and bd.recommend_sweep (several) compute, kept as
    # Recommendation objects for sweeps too (for --json)
    recs, _ = _recommendations(
        fit,
        compute=budgets[0] if len(budgets) == 1 else budgets,
        student_params=args.student_params,
        scenario=args.scenario,
        risk_tolerance=args.risk_tolerance,
        ci_prob=args.ci_prob,
        teacher_loss=args.teacher_loss,
        teacher_params=args.teacher_params,
        teacher_tokens=args.teacher_tokens,
        bounds=tuple(args.bounds),
        approx=args.approx,
        random_seed=args.random_seed,
        n_students=args.n_students,
        group=args.group,
    )
    if args.json:
        document = {
            "schema": RECOMMENDATION_SCHEMA,
            "approx": args.approx,
            "recommendations": [r.to_dict() for r in recs],
            "fit": _fit_json(fit, args.fit),
        }
        print(json.dumps(_json_clean(document), indent=2))
        return 0
    if len(budgets) == 1:
        print(recs[0])
        return 0
    result = pd.concat([r.to_frame() for r in recs], ignore_index=True)
    g = round(100 * (1 - args.risk_tolerance))
    print(
        f"Distillation sweep: student N_S = {args.student_params:.3g}, scenario "
        f"{args.scenario!r}, risk tolerance {args.risk_tolerance:g} (losses in nats/token; "
        f"predictive median and loss at risk, the {g}% quantile)"
    )
    if recs[0].shares_teacher_pretraining:
        k = args.n_students
        print(f"teacher pretraining shared by {k} students: 1/{k} of its FLOPs charged")
    header = (
        f"{'compute':>10} {'D_S':>10} {'N_T':>10} {'D_T':>10} {'student':>8} "
        f"{'at risk':>8} {'superv.':>8} {'P(dist)':>7} {'fold':>8}  on bound"
    )
    print(header)
    for _, r in result.iterrows():
        print(
            f"{r['compute']:>10.3g} {_g(r['D_S']):>10} {_g(r['N_T']):>10} {_g(r['D_T']):>10} "
            f"{r['student_loss_median']:>8.4f} {r['student_loss_at_risk']:>8.4f} "
            f"{r['supervised_loss_median']:>8.4f} {r['p_distillation_better']:>7.3f} "
            f"{_g(r['extrapolation_max_fold']):>8}  {r['on_bound'] or '-'}"
        )
    reports = [_to_json(r.extrapolation) for r in recs]
    for line in _extrapolation_lines(reports, budgets, fit.law):
        print(line)
    return 0


def _cmd_crossover(args: argparse.Namespace) -> int:
    from .decide import crossover

    fit = _load_or_explain(args.fit, "distillation")
    if fit.law != "distillation":
        raise _UsageError(
            f"crossover needs a fit of law distillation, got a {fit.law!r} fit (--fit "
            f"{args.fit}). Omit --fit to use the shipped distillation posterior, or fit one with "
            f"`{PROG} fit RUNS --law distillation --out FILE.nc`."
        )
    sizes = args.student_params
    frame = crossover(
        fit,
        student_params=sizes[0] if len(sizes) == 1 else sizes,
        scenario=args.scenario,
        ci_prob=args.ci_prob,
        teacher_loss=args.teacher_loss,
        bounds=tuple(args.bounds),
        approx=args.approx,
        compute_range=tuple(args.compute_range),
    )
    if args.json:
        document = {
            "schema": CROSSOVER_SCHEMA,
            "approx": frame.attrs["approx"],
            "scenario": frame.attrs["scenario"],
            "ci_prob": frame.attrs["ci_prob"],
            "compute_range": list(frame.attrs["compute_range"]),
            "teacher_loss": frame.attrs["teacher_loss"],
            "loss_kind": frame.attrs["loss_kind"],
            "rows": _records_with_extrapolation(frame),
            "fit": _fit_json(fit, args.fit),
        }
        print(json.dumps(_json_clean(document), indent=2))
        return 0
    pct = round(100 * args.ci_prob)
    teacher = (
        f"an existing teacher of loss {args.teacher_loss:g}"
        if args.teacher_loss is not None
        else "the best teacher"
    )
    print(
        f"Crossover: the compute beyond which supervised training beats distillation from "
        f"{teacher} (scenario {args.scenario!r}; {fit.n_samples} "
        f"draw{'s' if fit.n_samples != 1 else ''}, mean law; medians and "
        f"{pct}% intervals over the draws that cross)"
    )
    print(f"FLOPs rule (--approx {args.approx}): {APPROX_MEANING[args.approx]}")
    print(
        f"{'N_S':>9}  {'crossover':>10} {f'{pct}% interval':<22} {'none':>6} {'never':>6} "
        f"{'still':>6}  {'searched (FLOPs)':<20}"
    )
    for _, r in frame.iterrows():
        iv = f"[{_g(r['lower'])}, {_g(r['upper'])}]"
        searched = f"{r['compute_lo']:.3g} to {r['compute_hi']:.3g}"
        print(
            f"{r['student_params']:>9.3g}  {_g(r['median']):>10} {iv:<22} "
            f"{r['p_no_crossover']:>6.3f} {r['p_never_wins']:>6.3f} {r['p_still_winning']:>6.3f}"
            f"  {searched:<20}"
        )
    print(
        "none: share of draws without a crossover in the range searched = never (distillation "
        "never wins there) + still (it is still winning at the top of the range)"
    )
    reports = frame.attrs["extrapolation"]
    for line in _extrapolation_lines(reports, frame["student_params"], fit.law, "student_params"):
        print(line)
    return 0


def _read_table(path: str):
    """A CSV or Parquet table given on the command line."""
    from pathlib import Path

    import pandas as pd

    if not Path(path).exists():
        raise _UsageError(f"--candidates {path}: no such file.")
    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _cmd_next_run(args: argparse.Namespace) -> int:
    from .value_of_information import next_run

    fit = _load_or_explain(args.fit, "distillation")
    if fit.law != "distillation":
        raise _UsageError(
            f"next-run needs a fit of law distillation, got a {fit.law!r} fit (--fit "
            f"{args.fit}). Omit --fit to use the shipped distillation posterior."
        )
    frame = next_run(
        fit,
        _read_table(args.candidates),
        compute=args.compute,
        student_params=args.student_params,
        scenario=args.scenario,
        risk_tolerance=args.risk_tolerance,
        objective=args.objective,
        n_outcomes=args.n_outcomes,
        bounds=tuple(args.bounds),
        approx=args.approx,
        random_seed=args.random_seed,
        refit=args.refit,
        refit_outcomes=args.refit_outcomes,
        max_refits=args.max_refits,
    )
    a = frame.attrs
    if args.json:
        document = {
            "schema": NEXT_RUN_SCHEMA,
            "approx": a["approx"],
            "scenario": args.scenario,
            "compute": args.compute,
            "student_params": args.student_params,
            "risk_tolerance": args.risk_tolerance,
            **{k: a[k] for k in ("objective", "decision", "expected_regret", "loss_at_risk")},
            **{
                k: a[k]
                for k in (
                    "n_outcomes",
                    "n_draws",
                    "pareto_k_threshold",
                    "min_ess_threshold",
                    "clear_se",
                    "refit",
                    "refit_outcomes",
                    "max_refits",
                )
            },
            "rows": _records(frame),
            "fit": _fit_json(fit, args.fit),
        }
        print(json.dumps(_json_clean(document), indent=2))
        return 0
    print(
        f"Next run for the decision: compute={args.compute:.3g} FLOPs, student_params="
        f"{args.student_params:.3g}, scenario {args.scenario!r}, risk tolerance "
        f"{args.risk_tolerance:g} ({a['n_draws']} draws, {a['n_outcomes']} simulated outcomes "
        "per run)"
    )
    print(f"current decision: {a['decision']}")
    what = "expected regret" if a["objective"] == "regret" else "the loss at risk"
    print(
        f"expected regret {a['expected_regret']:.3g} nats, loss at risk {a['loss_at_risk']:.4g}; "
        f"ranked by the reduction of {what} per FLOP"
    )
    print(
        f"{'rank':>4}  {'run':<52} {'FLOPs':>9} {'d regret':>9} {'d at risk':>9} "
        f"{'per FLOP':>9} {'k':>5} {'ESS':>6} clear  status"
    )
    for _, r in frame.iterrows():
        print(
            f"{r['rank']:>4}  {r['name'][:52]:<52} {r['flops']:>9.3g} "
            f"{r['regret_reduction']:>9.2g} {r['at_risk_reduction']:>9.2g} "
            f"{r['value_per_flop']:>9.2g} {r['pareto_k']:>5.2f} {r['min_ess']:>6.0f} "
            f"{'yes' if r['clear'] else 'no':>5}  {r['status']}"
            + (f" ({r['n_refits']} refits)" if r["status"] == "refit" else "")
        )
    print(
        "d regret, d at risk: expected reductions (nats/token) if the run were done; clear: "
        f"the value exceeds {a['clear_se']:g} standard errors (those rows rank first, by value "
        "per FLOP); k, ESS: largest Pareto k and smallest effective number of reweighted draws "
        f"over the outcomes (k > {a['pareto_k_threshold']:g} or ESS < "
        f"{a['min_ess_threshold']:g} for some outcome: the reweighted posterior is unreliable; "
        "the run is then valued by short refits, status 'refit', or left 'cannot tell' "
        "beyond --max-refits)"
    )
    return 0


def _cmd_compute_optimal(args: argparse.Namespace) -> int:
    from .decide import compute_optimal

    fit = _load_or_explain(args.fit, "chinchilla")
    frame = compute_optimal(
        fit,
        compute=args.compute,
        ci_prob=args.ci_prob,
        bounds=tuple(args.bounds),
        approx=args.approx,
        group=args.group,
    )
    if args.json:
        document = {
            "schema": COMPUTE_OPTIMAL_SCHEMA,
            "approx": frame.attrs["approx"],
            "ci_prob": frame.attrs["ci_prob"],
            "loss_kind": frame.attrs["loss_kind"],
            "rows": _records_with_extrapolation(frame),
            "fit": _fit_json(fit, args.fit),
        }
        print(json.dumps(_json_clean(document), indent=2))
        return 0
    pct = round(100 * args.ci_prob)
    print(
        f"Supervised compute-optimal allocation ({fit.law} fit, {fit.n_samples} draws; "
        f"medians and {pct}% credible intervals; loss is the mean law, nats/token)"
    )
    print(
        f"FLOPs rule (--approx {args.approx}): {APPROX_MEANING[args.approx]}; a budget C "
        "trains N parameters on D = C / (3 F(N)) tokens"
    )
    print(
        f"{'compute':>10}  {'N*':>9} {'interval':<21} {'D*':>9} {'interval':<21} "
        f"{'D*/N*':>6}  {'loss':>6} {'interval':<15}"
    )
    for _, r in frame.iterrows():
        n_iv = f"[{r['N_lower']:.3g}, {r['N_upper']:.3g}]"
        d_iv = f"[{r['D_lower']:.3g}, {r['D_upper']:.3g}]"
        l_iv = f"[{r['loss_lower']:.4f}, {r['loss_upper']:.4f}]"
        print(
            f"{r['compute']:>10.3g}  {r['N_median']:>9.3g} {n_iv:<21} {r['D_median']:>9.3g} "
            f"{d_iv:<21} {r['tokens_per_param_median']:>6.1f}  {r['loss_median']:>6.4f} {l_iv}"
        )
    for line in _extrapolation_lines(frame.attrs["extrapolation"], args.compute, fit.law):
        print(line)
    if (frame["on_bound"] > 0).any():
        print("note: some draws' optima sit on a bound (column on_bound in --json); widen --bounds")
    return 0


def _runs_argument(value: str):
    """A bundled data set name becomes its run table; anything else is a path."""
    from pathlib import Path

    if value in DATASETS and not Path(value).exists():
        from .datasets import load

        return load(value)
    if not Path(value).exists():
        raise _UsageError(
            f"RUNS {value!r} is neither a file nor a bundled data set ({', '.join(DATASETS)})."
        )
    return value


def _cmd_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .sampling import fit as run_fit

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise _UsageError(f"--out {out} already exists; pass --overwrite to replace it.")
    if not out.parent.exists():
        raise _UsageError(f"--out {out}: the folder {out.parent} does not exist; create it first.")
    runs = _runs_argument(args.runs)
    sup = _runs_argument(args.supervised_runs) if args.supervised_runs is not None else None
    result = run_fit(
        runs,
        law=args.law,
        priors=None if args.priors == "default" else args.priors,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=args.random_seed,
        supervised_runs=sup,
        groups=args.groups,
        # None: shown when stderr is a terminal (bd.fit's rule, BAYES_DISTILL_PROGRESS too)
        progressbar=False if args.no_progress else None,
    )
    path = result.save(out, overwrite=args.overwrite)
    print(result)
    # the failed checks and what to try are in the convergence warning (stderr), once
    print(_diagnostics_table(result.diagnose()))
    print(f"saved the {args.law} fit to {path}")
    return 0


def _diagnostics_table(diag) -> str:
    """The diagnostics' numbers, without the list of problems (the warning carries it)."""
    lines = [line for line in str(diag).splitlines() if not line.startswith("  ! ")]
    if not diag.ok:
        lines.append("  (the failed checks and what to try are in the warning on stderr)")
    return "\n".join(lines)


# The package's messages are written for Python callers: argument names, keyword syntax and
# pandas snippets. The CLI rewrites them into flags and file advice with these rules, applied in
# order to every error and warning it prints (not to the tables on stdout).
_API_FLAGS = (
    "student_params",
    "teacher_loss",
    "teacher_params",
    "teacher_tokens",
    "risk_tolerance",
    "ci_prob",
    "random_seed",
    "supervised_runs",
    "n_students",
    "compute_range",
)
_REWRITES: tuple[tuple[str, str], ...] = (
    # pandas snippets of load_runs -> what to do in the file
    (r", e\.g\. runs\[('[^']*')\] = runs\[\1\] \* 1e9\.", r" the values of column \1 in the file."),
    (r" To list them: runs\[pd\.to_numeric\(.*?\)\.isna\(\)\]\.", ""),
    (r", e\.g\. runs = runs\.dropna\(subset=\[[^\]]*\]\)\.", " in the file."),
    (r"runs = runs\.rename\(columns=\{('[^']*'): ('[^']*')\}\)\.", r"rename it to \2 in the file."),
    (
        r"e\.g\. runs = runs\.drop\(columns=\[('[^']*')\]\)\.",
        r"e.g. remove column \1 from the file.",
    ),
    (r"e\.g\. runs\.columns = \[.*? for c in runs\.columns\]\.", "one name per column."),
    (r"drop them with runs\.drop_duplicates\(subset=\[[^\]]*\]\)", "drop the copies from the file"),
    (r"\(use np\.log\(perplexity\)\)", "(give the natural log of the perplexity)"),
    (r"\(give its log, np\.log\(perplexity\)\)", "(give its natural log)"),
    (r"For other formats read the file with pandas and pass the DataFrame\.", "Save it as CSV."),
    (r"did you mean kind='distillation'\?", "did you mean --law distillation?"),
    (r"did you mean kind='supervised'\?", "did you mean --law chinchilla (or supervised)?"),
    (
        r"\(the range load_runs accepts for run-table losses\)",
        "(the range accepted for losses in run tables)",
    ),
    # Python calls -> commands
    (r"bd\.fit\(runs, law='(\w+)'\)", rf"`{PROG} fit RUNS --law \1 --out FILE.nc`"),
    (r"bd\.datasets\.fitted\('(\w+)'\)", "(omit --fit)"),
    (r"bd\.compute_optimal", f"`{PROG} compute-optimal`"),
    (r"pass the supervised runs as `runs` instead", "pass the supervised runs as RUNS instead"),
    (r"or a 1-D array of budgets for a sweep", "or several budgets for a sweep"),
    # keyword arguments -> flags
    (r"\bcompute=(\S+) FLOPs", r"--compute \1 FLOPs"),
    (r"\bbounds=\(([^,()]+), ([^()]+)\)", r"--bounds \1 \2"),
    (r"\bcompute_range=\(([^,()]+), ([^()]+)\)", r"--compute-range \1 \2"),
    (
        r"a pair \(lower, upper\) of FLOPs with 0 < lower < upper, e\.g\. \(1e18, 1e27\); "
        r"got \(([^,()]+), ([^()]+)\)",
        r"two numbers LO HI (FLOPs) with 0 < LO < HI, e.g. 1e18 1e27; got \1 \2",
    ),
    (r"\b(law|scenario|priors)='(\w+)'", r"--\1 \2"),
    (r"(?<![-\w])groups='COLUMN'", "--groups COLUMN"),
    (r"(?<![-\w])group=(?=[^\s)])", "--group "),
    (r"(?<![-\w])group=", "--group"),
    (r"\b(tune|draws|chains)=(\d+)", r"--\1 \2"),
    (r"^(compute|bounds|approx|draws|tune|chains|compute_range) must", r"--\1 must"),
    (rf"(?<![-\w])({'|'.join(_API_FLAGS)})=(?=[^\s)])", r"--\1 "),  # name=value
    (rf"(?<![-\w])({'|'.join(_API_FLAGS)})=?", r"--\1"),  # a bare name, or name= alone
)


def _for_cli(text: str) -> str:
    """A message of the package, rewritten for the command line (flags, not Python).

    Examples
    --------
    >>> _for_cli("teacher_tokens was given without teacher_params; give both.")
    '--teacher-tokens was given without --teacher-params; give both.'
    >>> _for_cli("Try more tuning (tune=2000), tighter priors (priors='paper').")
    'Try more tuning (--tune 2000), tighter priors (--priors paper).'
    """
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    # flags are spelled with dashes: --student_params -> --student-params
    return re.sub(r"--(\w+)", lambda m: "--" + m[1].replace("_", "-"), text)


def _runs_context(text: str, args: argparse.Namespace) -> str:
    """``load_runs(kind=...): `` names the run table of the command line it is about."""

    def which(m: re.Match) -> str:
        if getattr(args, "command", None) != "fit":
            return "the run table: "
        if m[1] == "supervised" and args.law == "distillation":
            return f"--supervised-runs {args.supervised_runs}: "
        return f"RUNS {args.runs}: "

    return re.sub(r"load_runs\(kind='(\w+)'\): ", which, text)


def _message(exc: Any, args: argparse.Namespace) -> str:
    """One line of an error or warning of the package, phrased for the command line."""
    return _for_cli(_runs_context(_one_line(exc), args))


def _print_warnings(caught: Sequence[warnings.WarningMessage], args: argparse.Namespace) -> None:
    """Convergence, data and extrapolation warnings on stderr: one line each, phrased for the
    command line, each text once (a two-stage distillation fit validates its supervised runs
    twice); library noise (deprecations) is left out."""
    seen: set[tuple[type, str]] = set()
    for w in caught:
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning):
            continue
        text = _message(w.message, args)
        if (w.category, text) in seen:
            continue
        seen.add((w.category, text))
        print(f"{PROG}: warning: {text}", file=sys.stderr)


_COMMANDS = {
    "recommend": _cmd_recommend,
    "crossover": _cmd_crossover,
    "next-run": _cmd_next_run,
    "compute-optimal": _cmd_compute_optimal,
    "fit": _cmd_fit,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bayes-distill`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit status: 0 on success, 1 if a shipped posterior is missing, 2 for bad arguments
        (including values the package rejects, e.g. a budget too small for the student).

    Examples
    --------
    >>> from bayes_distill.cli import main
    >>> main(["recommend", "--compute", "1e22", "--student-params", "1e9"])  # doctest: +SKIP
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return int(exc.code or 0)
    from .data import DataValidationError

    prog = f"{PROG} {args.command}"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = _COMMANDS[args.command](args)
        _print_warnings(caught, args)
        return status
    except _MissingShipped as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except _UsageError as exc:  # written for the command line already
        print(f"{prog}: error: {_one_line(exc)} (see '{prog} --help')", file=sys.stderr)
        return 2
    except (ValueError, TypeError, DataValidationError, FileNotFoundError, ImportError) as exc:
        # the package's own checks (its messages name Python arguments: rewritten as flags)
        print(f"{prog}: error: {_message(exc, args)} (see '{prog} --help')", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
