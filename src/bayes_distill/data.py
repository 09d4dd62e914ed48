"""Run tables: canonical columns, explicit aliases, validation with actionable errors.

A *run table* has one row per training run. :func:`load_runs` reads it from a CSV or parquet file
or a :class:`pandas.DataFrame`, renames the documented aliases to the canonical column names,
converts them to floats and validates them. Every problem with the table raises
:class:`DataValidationError` (a :class:`ValueError`) whose message names the column, the row
(its index label) and the offending value, and says how to fix it. Problems that may be
legitimate emit a :class:`DataValidationWarning` instead.

Canonical columns (units: parameters, tokens, nats/token):

=================  ==================================  =============================
kind               required                            optional
=================  ==================================  =============================
``supervised``     ``N``, ``D``, ``loss``              --
``distillation``   ``N_S``, ``D_S``, ``L_T``, ``L_S``  ``N_T``, ``D_T``
=================  ==================================  =============================

``N`` counts non-embedding parameters, ``D`` training tokens, and losses are validation
cross-entropies in nats/token. In distillation tables ``N_S, D_S`` are the student's parameters
and distillation tokens, ``L_T`` the teacher's and ``L_S`` the student's cross-entropy against
data, ``N_T, D_T`` the teacher's parameters and pretraining tokens (not used by the fit, which
sees the teacher only through ``L_T``).

Accepted aliases (see :data:`ALIASES`; nothing else is guessed):

- supervised: ``"Model Size" -> "N"``, ``"L" -> "loss"``, and ``"Training FLOP"`` (compute C in
  FLOP), from which ``D = C / (6 N)`` is derived, the convention of Epoch AI's Chinchilla
  replication (Besiroglu et al. 2024). The compute column is kept as an extra column.
- distillation: ``"NS" -> "N_S"``, ``"DS" -> "D_S"``, ``"LT" -> "L_T"``, ``"LS" -> "L_S"``,
  ``"NT" -> "N_T"``, ``"DT" -> "D_T"`` (the spelling of the Figure-1 data of Busbridge et al.).

A table holding both a canonical column and one of its aliases is ambiguous and is rejected.
``"Training FLOP"`` is a source for ``D`` rather than an alias: it is used only when ``D`` is
absent and is otherwise kept untouched as an extra column, so that the output of
:func:`load_runs` can be passed to :func:`load_runs` again (it is idempotent).

Checks
------
Errors (:class:`DataValidationError`): input that is not a table, an unreadable file or an
unsupported extension; an unknown ``kind``; duplicated or multi-level column labels; an empty
table; missing columns; non-numeric values (text, booleans, dates); NaN (allowed only in the
optional ``N_T``, ``D_T``); infinite, zero or negative values; parameters below ``1e5`` or tokens
below ``1e6`` (counts given in millions or billions); losses outside ``[0.3, 15]`` nats/token
(perplexities, losses summed over tokens, other units). Losses in bits/token mostly fall inside
the range and cannot be told apart from nats: convert them yourself (multiply by ln 2).

Warnings (:class:`DataValidationWarning`):

- duplicated runs: rows identical in every canonical column, inputs and losses alike (the
  signature of copy-pasted rows or a table concatenated twice). Runs with the same inputs and
  different losses (repeated seeds) carry information about the noise and are not flagged;
- tokens fewer than parameters by more than 100x (``D < N / 100``): likely swapped columns or
  tokens in the wrong unit, but early checkpoints of large models legitimately look like
  this, so it is a warning rather than an error;
- a student whose loss is below its teacher's by more than 1% (``L_S < 0.99 L_T``): against
  data, a student should not beat its teacher by more than noise;
- a single run: the laws have five or more parameters, so the posterior will be the prior.

Group column (``bd.fit(runs, ..., groups="COLUMN")``): any extra column survives
:func:`load_runs` unchanged, and :func:`check_group_column` validates the one a grouped fit uses
(present, no missing labels, at least two groups, at least :data:`MIN_GROUP_RUNS` runs each).

Silence a warning you have understood with :func:`warnings.filterwarnings`, e.g.
``warnings.filterwarnings("ignore", category=DataValidationWarning, message=".*duplicated")``.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = [
    "ALIASES",
    "KINDS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "TRAINING_FLOP_COLUMN",
    "DataValidationError",
    "DataValidationWarning",
    "MIN_GROUP_RUNS",
    "check_group_column",
    "columns_of",
    "kind_of",
    "load_runs",
]


class DataValidationError(ValueError):
    """A run table that cannot be used: wrong columns, wrong types, impossible values.

    The message names the column, the row (index label) and the value, and says how to fix it.
    """


class DataValidationWarning(UserWarning):
    """A run table that can be used but looks suspicious (duplicates, swapped units, ...)."""


#: The kinds of run table :func:`load_runs` understands.
KINDS: tuple[str, ...] = ("supervised", "distillation")

#: ``kind -> canonical columns that must be present``.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "supervised": ("N", "D", "loss"),
    "distillation": ("N_S", "D_S", "L_T", "L_S"),
}


def kind_of(law: str) -> str:
    """The kind of run table (:func:`load_runs`) that ``law`` is fitted to."""
    return "distillation" if law == "distillation" else "supervised"


def columns_of(law: str) -> tuple[tuple[str, ...], str]:
    """The input columns and the loss column of the run table that ``law`` is fitted to (the
    loss is the last of the kind's :data:`REQUIRED_COLUMNS`)."""
    *inputs, loss = REQUIRED_COLUMNS[kind_of(law)]
    return tuple(inputs), loss


#: ``kind -> canonical columns that may be present``.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "supervised": (),
    "distillation": ("N_T", "D_T"),
}

#: ``kind -> {alias: canonical column}``: the only renames :func:`load_runs` performs.
ALIASES: dict[str, dict[str, str]] = {
    "supervised": {"Model Size": "N", "L": "loss"},
    "distillation": {
        "NS": "N_S",
        "DS": "D_S",
        "LT": "L_T",
        "LS": "L_S",
        "NT": "N_T",
        "DT": "D_T",
    },
}

#: Supervised tables may give training compute C (FLOP) under this name instead of ``D``;
#: ``D = C / (6 N)`` is then derived (Epoch AI's convention) and the column is kept as an extra.
TRAINING_FLOP_COLUMN = "Training FLOP"

_PARAMS = frozenset({"N", "N_S", "N_T"})
_TOKENS = frozenset({"D", "D_S", "D_T"})
_LOSSES = frozenset({"loss", "L_T", "L_S"})
_DESCRIPTION = {
    "N": "parameters",
    "D": "training tokens",
    "loss": "validation cross-entropy, nats/token",
    "N_S": "student parameters",
    "D_S": "student distillation tokens",
    "L_T": "teacher cross-entropy, nats/token",
    "L_S": "student cross-entropy, nats/token",
    "N_T": "teacher parameters",
    "D_T": "teacher pretraining tokens",
    TRAINING_FLOP_COLUMN: "training compute, FLOP",
}
_TOKEN_PARTNER = {"D": "N", "D_S": "N_S", "D_T": "N_T"}

#: Thresholds of the plausibility checks (documented in the module docstring).
MIN_PARAMS = 1e5
MIN_TOKENS = 1e6
LOSS_RANGE = (0.3, 15.0)
MIN_TOKENS_PER_PARAM = 1e-2
STUDENT_BELOW_TEACHER_TOL = 0.01

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_MAX_LISTED = 5


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def load_runs(
    path_or_dataframe: str | os.PathLike[str] | pd.DataFrame,
    kind: Literal["supervised", "distillation"] = "supervised",
) -> pd.DataFrame:
    """Read and validate a table of training runs.

    Parameters
    ----------
    path_or_dataframe : str, path-like or pandas.DataFrame
        A CSV file (``.csv``, optionally compressed: ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``,
        ``.csv.zip``, ``.csv.zst``), a parquet file (``.parquet``, ``.pq``; needs the optional
        dependency ``pyarrow``) or a DataFrame. It is never modified.
    kind : {"supervised", "distillation"}, default "supervised"
        ``"supervised"`` needs columns ``N, D, loss`` (for the ``"chinchilla"`` and
        ``"supervised"`` laws); ``"distillation"`` needs ``N_S, D_S, L_T, L_S`` and may have
        ``N_T, D_T``. Aliases (:data:`ALIASES`): supervised ``"Model Size" -> "N"``,
        ``"L" -> "loss"``, ``"Training FLOP"`` (D = C / (6 N), used only if ``D`` is absent);
        distillation
        ``NS, DS, LT, LS, NT, DT`` -> ``N_S, D_S, L_T, L_S, N_T, D_T``.

    Returns
    -------
    pandas.DataFrame
        A new frame with the input's index: the canonical columns first, as ``float64`` and in
        the order above, then every other input column unchanged (nothing is dropped).
        ``runs.attrs["kind"]`` records ``kind``.

    Raises
    ------
    DataValidationError
        If the table cannot be used; the message names the column, row and value and says how
        to fix it. See the module docstring for the list of checks.
    ImportError
        If a parquet file is given and ``pyarrow`` is not installed.

    Warns
    -----
    DataValidationWarning
        For duplicated runs (identical in every canonical column), tokens fewer than
        parameters / 100, a student more than 1% better than its teacher, or a single run.

    Examples
    --------
    >>> import pandas as pd
    >>> import bayes_distill as bd
    >>> raw = pd.DataFrame({"Model Size": [4e8, 1e9], "Training FLOP": [1e20, 6e20],
    ...                     "loss": [2.6, 2.4]})
    >>> runs = bd.load_runs(raw, kind="supervised")
    >>> runs[["N", "D", "loss"]]
                  N             D  loss
    0  4.000000e+08  4.166667e+10   2.6
    1  1.000000e+09  1.000000e+11   2.4
    >>> list(runs.columns)
    ['N', 'D', 'loss', 'Training FLOP']

    Distillation runs in the spelling of the Figure-1 data:

    >>> fig1 = pd.DataFrame({"NS": [1.43e8, 5.46e8], "DS": [3.7e9, 1.23e10],
    ...                      "LT": [1.90, 2.19], "LS": [2.75, 2.43]})
    >>> list(bd.load_runs(fig1, kind="distillation").columns)
    ['N_S', 'D_S', 'L_T', 'L_S']

    Counts given in billions are caught:

    >>> bad = pd.DataFrame({"N": [0.4, 1.0], "D": [8e9, 2e10], "loss": [2.6, 2.4]})
    >>> try:
    ...     bd.load_runs(bad)
    ... except bd.DataValidationError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    load_runs(kind='supervised'): column 'N' (parameters) has 2 of 2 values below 1e5, first at
    row 0: 0.4. N looks like it is in millions or billions; multiply by 1e6 (millions) or 1e9
    (billions), e.g. runs['N'] = runs['N'] * 1e9.
    """
    return _load_runs(path_or_dataframe, kind)


# --------------------------------------------------------------------------------------------
# implementation
# --------------------------------------------------------------------------------------------
def _load_runs(data: Any, kind: Any) -> pd.DataFrame:
    """:func:`load_runs` without the public signature's documentation."""
    kind = _check_kind(kind)
    frame = _read(data, kind)
    ctx = _Context(kind, frame)
    ctx.check_structure()
    sources = ctx.resolve_columns()
    values = ctx.convert_and_check(sources)
    out = _assemble(frame, kind, sources, values)
    ctx.warn(values)
    return out


def _prefix(kind: str) -> str:
    return f"load_runs(kind={kind!r}): "


def _check_kind(kind: Any) -> str:
    if isinstance(kind, str) and kind in KINDS:
        return kind
    hint = ""
    if isinstance(kind, str) and kind.strip().lower() in ("chinchilla", "supervised"):
        hint = " The 'chinchilla' and 'supervised' laws both use kind='supervised'."
    elif isinstance(kind, str) and kind.strip().lower() in KINDS:
        hint = f" Did you mean kind={kind.strip().lower()!r}?"
    raise DataValidationError(
        f"load_runs: kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}.{hint}"
    )


def _read(data: Any, kind: str) -> pd.DataFrame:
    prefix = _prefix(kind)
    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, (str, os.PathLike)):
        hint = ""
        if isinstance(data, pd.Series):
            hint = " For a Series, use series.to_frame().T for one run or build a DataFrame."
        elif isinstance(data, dict | np.ndarray | list | tuple):
            hint = " Wrap it first: pd.DataFrame(data)."
        elif hasattr(data, "to_pandas"):
            hint = " Convert it first with .to_pandas()."
        raise DataValidationError(
            f"{prefix}expected a pandas.DataFrame or the path of a CSV or parquet file, got "
            f"{type(data).__name__}.{hint}"
        )
    try:
        path = Path(data)
    except TypeError:
        raise DataValidationError(
            f"{prefix}could not interpret {data!r} as a file path; give a str or pathlib.Path."
        ) from None
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        reader = "parquet"
    elif name.endswith(_CSV_SUFFIXES):
        reader = "csv"
    else:
        raise DataValidationError(
            f"{prefix}unsupported file extension for {str(path)!r}: supported are "
            f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}. For other formats read the file "
            "with pandas and pass the DataFrame."
        )
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DataValidationError(f"{prefix}{str(path)!r} {what}.")
    if reader == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ImportError(
            f"Reading parquet file {str(path)!r} needs the optional dependency pyarrow: "
            "pip install pyarrow (or pip install 'bayes_distill[parquet]'). "
            "Alternatively save the table as CSV."
        )
    try:
        if reader == "parquet":
            frame = pd.read_parquet(path, engine="pyarrow")
        else:
            frame = pd.read_csv(path, low_memory=False)
    except Exception as exc:  # any reader failure is a user-input problem
        raise DataValidationError(
            f"{prefix}could not read {str(path)!r} as {reader}: {type(exc).__name__}: {exc}"
        ) from None
    return frame


def _sci(x: float) -> str:
    """``1e+05`` -> ``1e5``."""
    return f"{x:.0e}".replace("e+0", "e").replace("e+", "e")


def _fmt(value: Any) -> str:
    """A short, readable rendering of a cell value."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (np.generic,)):
        value = value.item()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _label(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _elementwise_float(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert an object array cell by cell; return floats and a mask of non-numeric cells."""
    out = np.full(values.shape, np.nan)
    bad = np.zeros(values.shape, dtype=bool)
    for i, v in enumerate(values):
        if v is None or v is pd.NA or v is pd.NaT:
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
        elif isinstance(v, (numbers.Real, Decimal)) and not isinstance(v, (np.datetime64,)):
            try:
                out[i] = float(v)
            except OverflowError:
                out[i] = np.inf if v > 0 else -np.inf
            except (TypeError, ValueError):
                bad[i] = True
        elif isinstance(v, str):
            try:
                out[i] = float(v.strip())
            except ValueError:
                bad[i] = True
        else:
            bad[i] = True
    return out, bad


def _to_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of cells that are not numbers (text, booleans, dates...)."""
    dtype = series.dtype
    n = len(series)
    if ptypes.is_complex_dtype(dtype):
        raw = series.to_numpy()
        real = raw.imag == 0
        return np.where(real, raw.real, np.nan), ~real
    if (
        ptypes.is_bool_dtype(dtype)
        or ptypes.is_datetime64_any_dtype(dtype)
        or ptypes.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype)
    ):
        return np.full(n, np.nan), series.notna().to_numpy(dtype=bool)
    if ptypes.is_numeric_dtype(dtype):
        try:
            with np.errstate(all="ignore"):
                return series.to_numpy(dtype=float, na_value=np.nan), np.zeros(n, dtype=bool)
        except (TypeError, ValueError, OverflowError):
            pass
    return _elementwise_float(series.to_numpy(dtype=object))


class _Context:
    """Validation state for one table: its kind, frame and how columns were found."""

    def __init__(self, kind: str, frame: pd.DataFrame):
        self.kind = kind
        self.frame = frame
        self.prefix = _prefix(kind)
        self.index = frame.index
        self.n = len(frame)
        self.display: dict[str, str] = {}

    # -- errors -----------------------------------------------------------------------------
    def fail(self, message: str) -> None:
        raise DataValidationError(self.prefix + message)

    def fail_rows(
        self, column: str, mask: np.ndarray, shown: np.ndarray, problem: str, fix: str
    ) -> None:
        """Raise for the rows in ``mask``, naming the first one and its value."""
        pos = int(np.flatnonzero(mask)[0])
        count = int(mask.sum())
        label = _label(self.index[pos])
        where = f"row {label}" if label == str(pos) else f"row {label} (position {pos})"
        self.fail(
            f"column {self.display[column]} has {count} of {self.n} values {problem}, first at "
            f"{where}: {_fmt(shown[pos])}. {fix}"
        )

    def alias_text(self) -> str:
        pairs = [f"{a!r} -> {c!r}" for a, c in ALIASES[self.kind].items()]
        if self.kind == "supervised":
            pairs.append(f"{TRAINING_FLOP_COLUMN!r} -> 'D' (as D = C / (6 N))")
        return ", ".join(pairs)

    # -- structure ---------------------------------------------------------------------------
    def check_structure(self) -> None:
        columns = self.frame.columns
        if isinstance(columns, pd.MultiIndex):
            self.fail(
                "the table has multi-level column labels; flatten them first, e.g. "
                "runs.columns = ['_'.join(map(str, c)) for c in runs.columns]."
            )
        duplicated = columns[columns.duplicated()].unique()
        if len(duplicated):
            names = ", ".join(_label(c) for c in duplicated[:_MAX_LISTED])
            self.fail(
                f"the table has duplicated column labels: {names}; each column name must be "
                "unique. Rename or drop the copies."
            )
        if self.n == 0:
            found = ", ".join(_label(c) for c in columns) or "none"
            self.fail(
                f"the table is empty (0 rows; columns found: {found}). "
                "Give at least one run per row."
            )

    # -- columns -----------------------------------------------------------------------------
    def resolve_columns(self) -> dict[str, Any]:
        """Map each canonical column to the input label it is read from."""
        present = list(self.frame.columns)
        present_set = set(present)
        canonical = REQUIRED_COLUMNS[self.kind] + OPTIONAL_COLUMNS[self.kind]
        sources: dict[str, Any] = {}
        for col in canonical:
            candidates = [col] if col in present_set else []
            candidates += [a for a, c in ALIASES[self.kind].items() if c == col and a in present]
            if col == "D" and not candidates and TRAINING_FLOP_COLUMN in present_set:
                candidates.append(TRAINING_FLOP_COLUMN)
            if len(candidates) > 1:
                names = " and ".join(repr(c) for c in candidates)
                self.fail(
                    f"columns {names} both give {col!r} ({_DESCRIPTION[col]}); this is ambiguous. "
                    f"Keep one, e.g. runs = runs.drop(columns=[{candidates[1]!r}])."
                )
            if candidates:
                sources[col] = candidates[0]
                if candidates[0] == col:
                    self.display[col] = f"{col!r} ({_DESCRIPTION[col]})"
                elif candidates[0] == TRAINING_FLOP_COLUMN:
                    self.display[col] = f"{col!r} (derived as {TRAINING_FLOP_COLUMN!r} / (6 N))"
                else:
                    self.display[col] = (
                        f"{col!r} ({_DESCRIPTION[col]}, read from {candidates[0]!r})"
                    )
        if sources.get("D") == TRAINING_FLOP_COLUMN:
            self.display[TRAINING_FLOP_COLUMN] = (
                f"{TRAINING_FLOP_COLUMN!r} ({_DESCRIPTION[TRAINING_FLOP_COLUMN]})"
            )
        missing = [c for c in REQUIRED_COLUMNS[self.kind] if c not in sources]
        if missing:
            self.fail(self._missing_message(missing, present))
        return sources

    def _missing_message(self, missing: list[str], present: list[Any]) -> str:
        found = ", ".join(_label(c) for c in present) or "none"
        parts = [
            f"missing required column(s) {', '.join(map(repr, missing))}. Columns found: {found}. "
            f"A {self.kind} table needs {', '.join(REQUIRED_COLUMNS[self.kind])}"
        ]
        if OPTIONAL_COLUMNS[self.kind]:
            parts[0] += f" (optional: {', '.join(OPTIONAL_COLUMNS[self.kind])})"
        parts[0] += f"; accepted aliases: {self.alias_text()}."
        # near misses: case or surrounding spaces
        for col in missing:
            names = [col, *(a for a, c in ALIASES[self.kind].items() if c == col)]
            if col == "D":
                names.append(TRAINING_FLOP_COLUMN)
            wanted = {n.strip().lower(): n for n in names}
            for label in present:
                key = str(label).strip().lower()
                if key in wanted and label != wanted[key]:
                    parts.append(
                        f"Column {label!r} looks like {wanted[key]!r} (names are exact): "
                        f"runs = runs.rename(columns={{{label!r}: {wanted[key]!r}}})."
                    )
                    break
        other = next(k for k in KINDS if k != self.kind)
        other_names = set(REQUIRED_COLUMNS[other]) | set(ALIASES[other])
        if other == "supervised":
            other_names.add(TRAINING_FLOP_COLUMN)
        hits = [c for c in present if isinstance(c, str) and c in other_names]
        if len(hits) >= 2:
            parts.append(
                f"The columns {', '.join(map(repr, hits))} belong to {other} tables: "
                f"did you mean kind={other!r}?"
            )
        return " ".join(parts)

    # -- values ------------------------------------------------------------------------------
    def convert_and_check(self, sources: dict[str, Any]) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        optional = set(OPTIONAL_COLUMNS[self.kind])
        for col, source in sources.items():
            if source == TRAINING_FLOP_COLUMN:
                flop = self._numeric(TRAINING_FLOP_COLUMN, self.frame[source], allow_nan=False)
                self._positive_finite(TRAINING_FLOP_COLUMN, flop)
                with np.errstate(all="ignore"):
                    derived = flop / (6.0 * values["N"])
                self._positive_finite(col, derived, derived_from=TRAINING_FLOP_COLUMN)
                values[col] = derived
            else:
                arr = self._numeric(col, self.frame[source], allow_nan=col in optional)
                self._positive_finite(col, arr)
                values[col] = arr
            self._plausible(col, values[col], sources)
        return values

    def _numeric(self, col: str, series: pd.Series, *, allow_nan: bool) -> np.ndarray:
        name = series.name
        arr, bad = _to_float(series)
        if bad.any():
            raw = series.to_numpy(dtype=object)
            self.fail_rows(
                col,
                bad,
                raw,
                "that are not numbers",
                "Fix or drop those rows; numbers written as text ('1e9') are accepted, units "
                "('1B') and thousands separators ('1,000') are not. To list them: "
                f"runs[pd.to_numeric(runs[{name!r}], errors='coerce').isna()].",
            )
        if not allow_nan:
            nan = np.isnan(arr)
            if nan.any():
                self.fail_rows(
                    col,
                    nan,
                    arr,
                    "missing (NaN or empty)",
                    "Every run needs every required column: fill them in or drop those runs, "
                    f"e.g. runs = runs.dropna(subset=[{name!r}]).",
                )
        return arr

    def _positive_finite(self, col: str, arr: np.ndarray, derived_from: str | None = None) -> None:
        with np.errstate(invalid="ignore"):
            inf = np.isinf(arr)
            nonpos = arr <= 0
        extra = (
            f" D is derived as {derived_from!r} / (6 N); check that column's units (FLOP)."
            if derived_from
            else ""
        )
        if inf.any():
            self.fail_rows(
                col,
                inf,
                arr,
                "that are infinite",
                "Counts and losses must be finite numbers; fix or drop those runs." + extra,
            )
        if nonpos.any():
            self.fail_rows(
                col,
                nonpos,
                arr,
                "that are zero or negative",
                "Parameters, tokens, compute and losses are positive; a negative value may be a "
                "log-loss sign error or a placeholder. Fix or drop those runs." + extra,
            )

    def _plausible(self, col: str, arr: np.ndarray, sources: dict[str, Any]) -> None:
        name = sources[col]
        snippet = f"runs[{name!r}]"
        with np.errstate(invalid="ignore"):
            if col in _PARAMS:
                low = arr < MIN_PARAMS
                if low.any():
                    self.fail_rows(
                        col,
                        low,
                        arr,
                        f"below {_sci(MIN_PARAMS)}",
                        f"{col} looks like it is in millions or billions; multiply by 1e6 "
                        f"(millions) or 1e9 (billions), e.g. {snippet} = {snippet} * 1e9.",
                    )
            elif col in _TOKENS:
                low = arr < MIN_TOKENS
                if low.any():
                    how = (
                        f"D is derived as {TRAINING_FLOP_COLUMN!r} / (6 N): check that the compute "
                        "is in FLOP (not PF-days or PFLOP) and N in parameters."
                        if name == TRAINING_FLOP_COLUMN
                        else f"{col} looks like it is in millions or billions; multiply by 1e6 "
                        f"(millions) or 1e9 (billions), e.g. {snippet} = {snippet} * 1e9."
                    )
                    self.fail_rows(col, low, arr, f"below {_sci(MIN_TOKENS)}", how)
            elif col in _LOSSES:
                lo, hi = LOSS_RANGE
                high = arr > hi
                if high.any():
                    self.fail_rows(
                        col,
                        high,
                        arr,
                        f"above {hi:g}",
                        "Losses must be cross-entropy in nats/token (typically 1.5 to 5). Values "
                        "this large look like perplexities (use np.log(perplexity)) or losses "
                        "summed over tokens (divide by the token count); losses in bits/token "
                        "convert to nats by multiplying by ln 2 = 0.693.",
                    )
                low = arr < lo
                if low.any():
                    self.fail_rows(
                        col,
                        low,
                        arr,
                        f"below {lo:g}",
                        "Losses must be cross-entropy in nats/token (typically 1.5 to 5); values "
                        "this small are not plausible for language models. Is it an accuracy, "
                        "a log10 value, or a loss scaled by some factor? Losses in bits/token "
                        "convert to nats by multiplying by ln 2 = 0.693.",
                    )

    # -- warnings ----------------------------------------------------------------------------
    def warn(self, values: dict[str, np.ndarray]) -> None:
        if self.n == 1:
            self._warn(
                "the table has a single run. The laws have five or more parameters, so a fit to "
                "one run returns essentially the prior; add runs at several sizes and token counts."
            )
        self._warn_duplicates(values)
        for tokens, params in _TOKEN_PARTNER.items():
            if tokens in values and params in values:
                with np.errstate(invalid="ignore"):
                    few = values[tokens] < MIN_TOKENS_PER_PARAM * values[params]
                if few.any():
                    pos = int(np.flatnonzero(few)[0])
                    self._warn(
                        f"{int(few.sum())} of {self.n} runs have {tokens} < {params} / 100 (fewer "
                        f"tokens than parameters by more than 100x), first at row "
                        f"{_label(self.index[pos])}: {params} = {_fmt(values[params][pos])}, "
                        f"{tokens} = {_fmt(values[tokens][pos])}. Check that the columns are not "
                        f"swapped and that {tokens} counts tokens (not millions or billions). "
                        "Early checkpoints of large models can legitimately look like this."
                    )
        if "L_S" in values and "L_T" in values:
            better = values["L_S"] < values["L_T"] * (1.0 - STUDENT_BELOW_TEACHER_TOL)
            if better.any():
                pos = int(np.flatnonzero(better)[0])
                self._warn(
                    f"{int(better.sum())} of {self.n} runs have a student loss more than "
                    f"{STUDENT_BELOW_TEACHER_TOL:.0%} below the teacher's (L_S < 0.99 L_T), first "
                    f"at row {_label(self.index[pos])}: L_T = {_fmt(values['L_T'][pos])}, "
                    f"L_S = {_fmt(values['L_S'][pos])}. Against data, a student should not beat "
                    "its teacher by more than noise: check that the columns are not swapped and "
                    "that both losses are measured on the same validation data."
                )

    def _warn_duplicates(self, values: dict[str, np.ndarray]) -> None:
        columns = list(values)
        table = pd.DataFrame(values)
        dup = table.duplicated(keep=False).to_numpy()
        if not dup.any():
            return
        positions = np.flatnonzero(dup)
        groups = table.iloc[positions].groupby(columns, sort=False, dropna=False).indices
        listed = []
        for members in list(groups.values())[:_MAX_LISTED]:
            labels = [_label(self.index[positions[m]]) for m in members]
            listed.append("[" + ", ".join(labels) + "]")
        more = f" and {len(groups) - _MAX_LISTED} more" if len(groups) > _MAX_LISTED else ""
        self._warn(
            f"{len(groups)} group(s) of duplicated runs, identical in {', '.join(columns)}: rows "
            f"{', '.join(listed)}{more}. Copy-pasted rows or a table concatenated twice count the "
            f"same run more than once; drop them with runs.drop_duplicates(subset={columns!r}). "
            "(Repeated runs with different losses are not flagged.)"
        )

    def _warn(self, message: str) -> None:
        warnings.warn(
            self.prefix + message,
            DataValidationWarning,
            skip_file_prefixes=(os.path.dirname(__file__),),
        )


def _assemble(
    frame: pd.DataFrame, kind: str, sources: dict[str, Any], values: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The canonical float columns, then every input column not renamed, copied."""
    renamed = {s for c, s in sources.items() if s != TRAINING_FLOP_COLUMN}
    extras = [c for c in frame.columns if c not in renamed]
    out = frame.loc[:, extras].copy(deep=True)
    out.index = frame.index.copy()
    for position, col in enumerate(sources):
        out.insert(position, col, values[col].astype(np.float64, copy=True))
    out.attrs["kind"] = kind
    return out


#: Fewest runs a group of a grouped fit may hold: with fewer, a group's own runs say almost
#: nothing about its law and its parameters are its population's prior.
MIN_GROUP_RUNS = 3


def check_group_column(
    runs: pd.DataFrame, column: Any, *, what: str = "runs", min_runs: int = MIN_GROUP_RUNS
) -> np.ndarray:
    """The group label of every run of ``runs[column]``, as strings, validated.

    Parameters
    ----------
    runs : pandas.DataFrame
        A run table (e.g. the output of :func:`load_runs`, which keeps extra columns).
    column : str
        The column naming each run's group (data recipe, architecture, optimiser...).
    what : str
        How the table is called in the messages (``"runs"``, ``"new_runs"``).
    min_runs : int
        Fewest runs per group; 0 checks only the column and its labels (for predictions).

    Returns
    -------
    numpy.ndarray
        One label per run (``str``; numbers and strings alike are compared as text).

    Raises
    ------
    DataValidationError
        If ``column`` is not a column name of ``runs``, holds missing labels, gives a single
        group, or a group with fewer than ``min_runs`` runs.
    """
    if not isinstance(column, str) or not column:
        raise DataValidationError(
            f"groups must be the name of a column of {what} (a non-empty str), got {column!r}; "
            "e.g. groups='dataset'."
        )
    if column not in runs.columns:
        found = ", ".join(_label(c) for c in runs.columns)
        near = [c for c in runs.columns if str(c).strip().lower() == column.strip().lower()]
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise DataValidationError(
            f"groups={column!r} is not a column of {what} (columns: {found}).{hint} Add a column "
            f"naming each run's group, e.g. {what}[{column!r}] = 'main'."
        )
    raw = runs[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        pos = int(np.flatnonzero(missing)[0])
        raise DataValidationError(
            f"{what} column {column!r} (groups) has {int(missing.sum())} missing labels, first at "
            f"row {_label(runs.index[pos])}; give every run a group, or drop those runs."
        )
    labels = raw.astype(str).to_numpy()
    if min_runs == 0:
        return labels
    names, counts = np.unique(labels, return_counts=True)
    if len(names) < 2:
        raise DataValidationError(
            f"{what} column {column!r} (groups) holds a single group ({names[0]!r}): partial "
            "pooling needs at least two groups. Fit without groups= instead."
        )
    few = names[counts < min_runs]
    if len(few):
        listed = ", ".join(f"{n!r} ({int(c)} runs)" for n, c in zip(names, counts, strict=True))
        raise DataValidationError(
            f"{what} column {column!r} (groups): group {few[0]!r} has fewer than {min_runs} runs "
            f"(groups: {listed}). Add runs to it, merge it into another group, or drop it."
        )
    return labels
