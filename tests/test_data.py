"""Tests of bayes_distill.data.load_runs: schema, aliases, validation errors and warnings."""

from __future__ import annotations

import copy
import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bayes_distill as bd
from bayes_distill import data as data_mod
from bayes_distill.data import ALIASES, DataValidationError, DataValidationWarning, load_runs


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def supervised(**overrides) -> pd.DataFrame:
    """Three plausible supervised runs; keyword arguments replace whole columns."""
    columns = {
        "N": [1e8, 4e8, 1e9],
        "D": [2e9, 8e9, 2e10],
        "loss": [3.1, 2.8, 2.6],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def distillation(**overrides) -> pd.DataFrame:
    """Three plausible distillation runs; keyword arguments replace whole columns."""
    columns = {
        "N_S": [1.4e8, 5.5e8, 1.8e9],
        "D_S": [3.7e9, 1.2e10, 4.9e10],
        "L_T": [2.2, 2.3, 2.4],
        "L_S": [2.75, 2.55, 2.45],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------------------------
# public names and the canonical output
# --------------------------------------------------------------------------------------------
def test_public_names():
    assert bd.load_runs is load_runs
    assert bd.DataValidationError is DataValidationError
    assert issubclass(DataValidationError, ValueError)
    assert issubclass(DataValidationWarning, UserWarning)


def test_supervised_canonical_float_columns():
    raw = supervised(N=[100_000_000, 400_000_000, 1_000_000_000], note=["a", "b", "c"])
    runs = load_runs(raw, kind="supervised")
    assert list(runs.columns) == ["N", "D", "loss", "note"]
    assert all(runs[c].dtype == np.float64 for c in ["N", "D", "loss"])
    np.testing.assert_array_equal(runs["N"], [1e8, 4e8, 1e9])
    assert runs.attrs["kind"] == "supervised"


def test_default_kind_is_supervised():
    assert list(load_runs(supervised()).columns) == ["N", "D", "loss"]


def test_distillation_canonical_order_with_optional_columns_and_extras():
    raw = distillation(seed=[1, 2, 3], D_T=[1e11, 2e11, 3e11], N_T=[1e9, 2e9, 3e9])
    raw = raw[["seed", "D_T", "L_S", "N_T", "L_T", "D_S", "N_S"]]
    runs = load_runs(raw, kind="distillation")
    assert list(runs.columns) == ["N_S", "D_S", "L_T", "L_S", "N_T", "D_T", "seed"]
    pd.testing.assert_series_equal(runs["seed"], raw["seed"])
    assert runs.attrs["kind"] == "distillation"


def test_extra_columns_keep_their_order_and_values():
    raw = supervised(zeta=[1, 2, 3], alpha=["x", None, "z"], mid=[0.5, np.nan, 1.5])
    runs = load_runs(raw)
    assert list(runs.columns) == ["N", "D", "loss", "zeta", "alpha", "mid"]
    pd.testing.assert_frame_equal(runs[["zeta", "alpha", "mid"]], raw[["zeta", "alpha", "mid"]])


def test_index_is_kept():
    raw = supervised().set_axis(["run-a", "run-b", "run-c"])
    runs = load_runs(raw)
    assert list(runs.index) == ["run-a", "run-b", "run-c"]


@pytest.mark.parametrize(
    "raw, kind",
    [
        (
            pd.DataFrame(
                {
                    "Model Size": ["1e8", "4e8", "1e9"],
                    "Training FLOP": [1.2e18, 1.92e19, 1.2e20],
                    "L": [3.1, 2.8, 2.6],
                    "other": [object(), None, 3],
                },
                index=[10, 5, 7],
            ),
            "supervised",
        ),
        (
            distillation(N_T=[1e9, np.nan, 3e9]).rename(columns={"N_S": "NS", "L_T": "LT"}),
            "distillation",
        ),
    ],
)
def test_input_dataframe_is_not_mutated(raw, kind):
    before = copy.deepcopy(raw)
    columns_before = list(raw.columns)
    runs = load_runs(raw, kind=kind)
    pd.testing.assert_frame_equal(raw, before)
    assert list(raw.columns) == columns_before
    assert "kind" not in raw.attrs
    # the result shares no memory with the input
    runs.iloc[0, 0] = -1.0
    pd.testing.assert_frame_equal(raw, before)


def test_file_is_not_mutated(tmp_path):
    path = tmp_path / "runs.csv"
    supervised().to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    load_runs(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".CSV"])
def test_csv_round_trip(tmp_path, suffix):
    raw = distillation(tag=["a", "b", "c"])
    path = tmp_path / f"runs{suffix}"
    raw.to_csv(path, index=False, compression="gzip" if suffix.endswith("gz") else None)
    expected = load_runs(raw, kind="distillation")
    pd.testing.assert_frame_equal(load_runs(str(path), kind="distillation"), expected)
    pd.testing.assert_frame_equal(load_runs(path, kind="distillation"), expected)


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path, suffix):
    pytest.importorskip("pyarrow")
    raw = supervised(tag=["a", "b", "c"])
    path = tmp_path / f"runs{suffix}"
    raw.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(load_runs(path), load_runs(raw))


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "runs.parquet"
    path.write_bytes(b"whatever")
    real = data_mod.importlib.util.find_spec
    monkeypatch.setattr(
        data_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyarrow" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"pip install pyarrow"):
        load_runs(path)


@pytest.mark.parametrize("name", ["runs.txt", "runs.xlsx", "runs", "runs.json"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("N,D,loss\n1e8,2e9,3\n")
    with pytest.raises(DataValidationError, match=r"unsupported file extension.*\.csv.*\.parquet"):
        load_runs(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match=r"nope\.csv' does not exist"):
        load_runs(tmp_path / "nope.csv")


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "runs.csv"
    folder.mkdir()
    with pytest.raises(DataValidationError, match=r"is a directory, not a file"):
        load_runs(folder)


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.csv", b"", r"could not read .*empty\.csv' as csv: EmptyDataError"),
        ("binary.csv", b"\xff\xfe\x00N,D\n\x00\x81,2\n", r"could not read .* as csv"),
        ("broken.parquet", b"not parquet", r"could not read .* as parquet"),
    ],
)
def test_unreadable_file(tmp_path, name, content, match):
    if name.endswith("parquet"):
        pytest.importorskip("pyarrow")
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match=match) as info:
        load_runs(path)
    # no raw pandas / pyarrow traceback chained to ours
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    "obj, hint",
    [
        ({"N": [1e8], "D": [2e9], "loss": [3.0]}, r"pd\.DataFrame\(data\)"),
        (np.ones((2, 3)), r"pd\.DataFrame\(data\)"),
        ([[1e8, 2e9, 3.0]], r"pd\.DataFrame\(data\)"),
        (pd.Series({"N": 1e8, "D": 2e9, "loss": 3.0}), r"Series"),
        (None, r"got NoneType"),
        (42, r"got int"),
        (b"runs.csv", r"got bytes"),
    ],
)
def test_not_a_table(obj, hint):
    with pytest.raises(DataValidationError, match=r"expected a pandas\.DataFrame or the path"):
        load_runs(obj)
    with pytest.raises(DataValidationError, match=hint):
        load_runs(obj)


# --------------------------------------------------------------------------------------------
# kind and columns
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, match",
    [
        ("supervize", r"kind must be one of 'supervised', 'distillation', got 'supervize'"),
        (None, r"kind must be one of .* got None"),
        ("chinchilla", r"'chinchilla' and 'supervised' laws both use kind='supervised'"),
        ("Distillation", r"Did you mean kind='distillation'\?"),
    ],
)
def test_bad_kind(kind, match):
    with pytest.raises(DataValidationError, match=match):
        load_runs(supervised(), kind=kind)


def test_aliases_dict_is_documented_and_small():
    assert ALIASES == {
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
    for aliases in ALIASES.values():
        for alias, canonical in aliases.items():
            assert f'``"{alias}" -> "{canonical}"``' in data_mod.__doc__
            assert alias in load_runs.__doc__
    assert "Training FLOP" in load_runs.__doc__


def test_supervised_aliases_and_training_flop():
    raw = pd.DataFrame({"Model Size": [1e8, 1e9], "Training FLOP": [1.2e19, 6e20], "L": [2.9, 2.4]})
    runs = load_runs(raw)
    assert list(runs.columns) == ["N", "D", "loss", "Training FLOP"]
    np.testing.assert_allclose(runs["D"], raw["Training FLOP"] / (6 * raw["Model Size"]))
    np.testing.assert_allclose(runs["D"], [2e10, 1e11])
    np.testing.assert_array_equal(runs["loss"], [2.9, 2.4])


def test_distillation_aliases():
    raw = pd.DataFrame(
        {
            "NS": [1e8, 2e8],
            "DS": [4e9, 8e9],
            "LT": [2.2, 2.3],
            "LS": [2.7, 2.6],
            "NT": [1e9, 2e9],
            "DT": [1e11, 2e11],
        }
    )
    runs = load_runs(raw, kind="distillation")
    assert list(runs.columns) == ["N_S", "D_S", "L_T", "L_S", "N_T", "D_T"]
    np.testing.assert_array_equal(runs.to_numpy(), raw.to_numpy())


@pytest.mark.parametrize(
    "raw, kind, match",
    [
        (supervised(**{"Model Size": [1e8, 4e8, 1e9]}), "supervised", r"'N' and 'Model Size'"),
        (supervised(L=[3.1, 2.8, 2.6]), "supervised", r"'loss' and 'L' both give 'loss'"),
        (distillation(NS=[1e8, 2e8, 3e8]), "distillation", r"'N_S' and 'NS' both give 'N_S'"),
        (
            distillation(N_T=[1e9] * 3, NT=[1e9] * 3),
            "distillation",
            r"'N_T' and 'NT' both give 'N_T'",
        ),
    ],
)
def test_canonical_and_alias_together_is_ambiguous(raw, kind, match):
    with pytest.raises(DataValidationError, match=match + r".*ambiguous.*runs\.drop\(columns="):
        load_runs(raw, kind=kind)


def test_missing_columns_lists_found_columns_and_aliases():
    raw = supervised().drop(columns=["D"])
    with pytest.raises(
        DataValidationError,
        match=r"missing required column\(s\) 'D'\. Columns found: 'N', 'loss'\..*"
        r"accepted aliases: 'Model Size' -> 'N', 'L' -> 'loss', 'Training FLOP' -> 'D'",
    ):
        load_runs(raw)


def test_missing_distillation_columns_mentions_optional_and_aliases():
    raw = distillation().drop(columns=["L_T", "L_S"])
    with pytest.raises(
        DataValidationError,
        match=r"missing required column\(s\) 'L_T', 'L_S'.*optional: N_T, D_T.*'LT' -> 'L_T'",
    ):
        load_runs(raw, kind="distillation")


def test_missing_columns_suggests_the_other_kind():
    with pytest.raises(DataValidationError, match=r"did you mean kind='distillation'\?"):
        load_runs(distillation(), kind="supervised")
    with pytest.raises(DataValidationError, match=r"did you mean kind='supervised'\?"):
        load_runs(supervised(), kind="distillation")
    raw = pd.DataFrame({"NS": [1e8], "DS": [1e9], "LT": [2.0], "LS": [2.5]})
    with pytest.raises(DataValidationError, match=r"did you mean kind='distillation'\?"):
        load_runs(raw, kind="supervised")


def test_missing_columns_points_out_near_miss_names():
    raw = supervised().rename(columns={"N": "n", "loss": " Loss "})
    with pytest.raises(
        DataValidationError, match=r"Column 'n' looks like 'N'.*rename\(columns=\{'n': 'N'\}\)"
    ):
        load_runs(raw)
    with pytest.raises(DataValidationError, match=r"Column ' Loss ' looks like 'loss'"):
        load_runs(raw)


def test_missing_everything():
    with pytest.raises(DataValidationError, match=r"Columns found: 'a', 'b'"):
        load_runs(pd.DataFrame({"a": [1], "b": [2]}))


def test_multiindex_columns():
    raw = supervised()
    raw.columns = pd.MultiIndex.from_tuples([("N", ""), ("D", ""), ("loss", "")])
    with pytest.raises(DataValidationError, match=r"multi-level column labels; flatten"):
        load_runs(raw)


def test_duplicated_column_labels():
    raw = pd.DataFrame([[1e8, 2e9, 3.0, 2.9]], columns=["N", "D", "loss", "loss"])
    with pytest.raises(DataValidationError, match=r"duplicated column labels: 'loss'"):
        load_runs(raw)


@pytest.mark.parametrize(
    "raw, match",
    [
        (pd.DataFrame(), r"the table is empty \(0 rows; columns found: none\)"),
        (supervised().iloc[:0], r"the table is empty \(0 rows; columns found: 'N', 'D', 'loss'\)"),
    ],
)
def test_empty_table(raw, match):
    with pytest.raises(DataValidationError, match=match):
        load_runs(raw)


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------
def test_numbers_written_as_text_are_accepted():
    raw = supervised(N=["1e8", " 4e8 ", "1000000000"], loss=pd.array(["3.1", "2.8", "2.6"]))
    runs = load_runs(raw)
    np.testing.assert_array_equal(runs["N"], [1e8, 4e8, 1e9])
    assert runs["loss"].dtype == np.float64


def test_nullable_and_categorical_numeric_columns_are_accepted():
    raw = supervised(
        N=pd.array([100_000_000, 400_000_000, 1_000_000_000], dtype="Int64"),
        D=pd.Categorical([2e9, 8e9, 2e10]),
        loss=pd.array([3.1, 2.8, 2.6], dtype="Float64"),
    )
    runs = load_runs(raw)
    np.testing.assert_array_equal(runs["N"], [1e8, 4e8, 1e9])
    np.testing.assert_array_equal(runs["D"], [2e9, 8e9, 2e10])


@pytest.mark.parametrize(
    "column, values, match",
    [
        (
            "N",
            [1e8, "1B", "abc"],
            r"column 'N' \(parameters\) has 2 of 3 values that are not "
            r"numbers, first at row 1: '1B'",
        ),
        ("D", [2e9, 8e9, "1,000"], r"column 'D' .* first at row 2: '1,000'"),
        ("loss", [True, False, True], r"column 'loss' .* not numbers, first at row 0: True"),
        ("loss", [3.1, 2.8, True], r"not numbers, first at row 2: True"),
        ("N", pd.to_datetime(["2024-01-01"] * 3), r"column 'N' .* not numbers"),
        ("N", [1e8, 4e8, complex(1, 2)], r"not numbers, first at row 2: \(1\+2j\)"),
        ("D", [2e9, "", 2e10], r"not numbers, first at row 1: ''"),
    ],
)
def test_non_numeric_values(column, values, match):
    with pytest.raises(DataValidationError, match=match):
        load_runs(supervised(**{column: values}))


def test_non_numeric_message_names_index_label_and_alias():
    raw = pd.DataFrame(
        {"NS": [1e8, "big"], "DS": [4e9, 8e9], "LT": [2.2, 2.3], "LS": [2.7, 2.6]},
        index=["first", "second"],
    )
    with pytest.raises(
        DataValidationError,
        match=r"column 'N_S' \(student parameters, read from 'NS'\) has 1 of 2 values that are "
        r"not numbers, first at row 'second' \(position 1\): 'big'\..*runs\['NS'\]",
    ):
        load_runs(raw, kind="distillation")


@pytest.mark.parametrize(
    "column, values",
    [
        ("N", [1e8, np.nan, 1e9]),
        ("D", [2e9, None, 2e10]),
        ("loss", pd.array([3.1, None, 2.6], dtype="Float64")),
        ("N", pd.array([1, None, 2], dtype="Int64")),
    ],
)
def test_nan_in_required_column(column, values):
    with pytest.raises(
        DataValidationError,
        match=rf"column '{column}' .* 1 of 3 values missing \(NaN or empty\), first at row 1: "
        rf"(nan|<NA>).*dropna\(subset=\['{column}'\]\)",
    ):
        load_runs(supervised(**{column: values}))


def test_nan_allowed_in_optional_teacher_columns():
    raw = distillation(N_T=[1e9, np.nan, np.nan], D_T=[np.nan] * 3)
    runs = load_runs(raw, kind="distillation")
    assert runs["N_T"].isna().sum() == 2
    assert runs["D_T"].isna().all()


def test_nan_in_required_distillation_column():
    with pytest.raises(DataValidationError, match=r"column 'L_T' .* missing"):
        load_runs(distillation(L_T=[2.2, np.nan, 2.4]), kind="distillation")


@pytest.mark.parametrize("column", ["N", "D", "loss"])
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.inf, r"1 of 3 values that are infinite, first at row 2: inf"),
        (-np.inf, r"1 of 3 values that are infinite, first at row 2: -inf"),
        ("inf", r"infinite"),
        (0.0, r"1 of 3 values that are zero or negative, first at row 2: 0\."),
        (-2.5, r"zero or negative, first at row 2: -2\.5\. Parameters, tokens, compute and "),
    ],
)
def test_infinite_zero_negative(column, bad, match):
    values = list(supervised()[column].astype(object))
    values[2] = bad
    with pytest.raises(DataValidationError, match=rf"column '{column}' .*{match}"):
        load_runs(supervised(**{column: values}))


@pytest.mark.parametrize(
    "frame, kind, column",
    [
        (supervised(N=[1e8, 400.0, 1e9]), "supervised", "N"),
        (distillation(N_S=[1.4e8, 550.0, 1.8e9]), "distillation", "N_S"),
        (distillation(N_T=[1e9, 2.0, 3e9]), "distillation", "N_T"),
    ],
)
def test_parameters_in_millions_or_billions(frame, kind, column):
    with pytest.raises(
        DataValidationError,
        match=rf"column '{column}' .* values below 1e5, first at row 1: 4?\d+\. {column} looks "
        r"like it is in millions or billions; multiply by 1e6 \(millions\) or 1e9 \(billions\)",
    ):
        load_runs(frame, kind=kind)


@pytest.mark.parametrize(
    "frame, kind, column",
    [
        (supervised(D=[2e9, 8.0, 2e10]), "supervised", "D"),
        (distillation(D_S=[3.7e9, 12.0, 4.9e10]), "distillation", "D_S"),
        (distillation(D_T=[1e11, 200.0, 3e11]), "distillation", "D_T"),
    ],
)
def test_tokens_in_millions_or_billions(frame, kind, column):
    with pytest.raises(
        DataValidationError,
        match=rf"column '{column}' .* values below 1e6, first at row 1: .* {column} looks like "
        r"it is in millions or billions",
    ):
        load_runs(frame, kind=kind)


def test_thresholds_are_inclusive_lower_bounds():
    runs = load_runs(supervised(N=[1e5, 2e5, 3e5], D=[1e6, 1e6, 1e6], loss=[0.3, 15.0, 2.0]))
    assert len(runs) == 3


def test_training_flop_in_wrong_units():
    raw = pd.DataFrame({"Model Size": [1e8, 1e9], "Training FLOP": [1e3, 6e20], "loss": [3, 2]})
    with pytest.raises(
        DataValidationError,
        match=r"column 'D' \(derived as 'Training FLOP' / \(6 N\)\) has 1 of 2 values below 1e6"
        r".*compute is in FLOP",
    ):
        load_runs(raw)


@pytest.mark.parametrize("bad, problem", [(-1e20, "zero or negative"), (np.inf, "infinite")])
def test_training_flop_must_be_positive_and_finite(bad, problem):
    raw = pd.DataFrame({"Model Size": [1e8, 1e9], "Training FLOP": [bad, 6e20], "loss": [3, 2]})
    with pytest.raises(DataValidationError, match=rf"column 'Training FLOP' .*{problem}"):
        load_runs(raw)


@pytest.mark.parametrize(
    "frame, kind, column, value, match",
    [
        (supervised, "supervised", "loss", 27.0, r"above 15.*perplexities"),
        (supervised, "supervised", "loss", 0.05, r"below 0\.3.*nats/token"),
        (distillation, "distillation", "L_T", 16.0, r"above 15"),
        (distillation, "distillation", "L_S", 0.2, r"below 0\.3"),
    ],
)
def test_loss_outside_plausible_range(frame, kind, column, value, match):
    raw = frame()
    raw.loc[1, column] = value
    with pytest.raises(
        DataValidationError, match=rf"column '{column}' .*first at row 1: {value:g}\. *.*"
    ):
        load_runs(raw, kind=kind)
    with pytest.raises(DataValidationError, match=match):
        load_runs(raw, kind=kind)


# --------------------------------------------------------------------------------------------
# warnings
# --------------------------------------------------------------------------------------------
def test_training_flop_is_used_only_when_d_is_absent():
    raw = supervised(**{"Training FLOP": [1e18, 2e19, 1e20]})
    runs = load_runs(raw)
    assert list(runs.columns) == ["N", "D", "loss", "Training FLOP"]
    np.testing.assert_array_equal(runs["D"], raw["D"])  # not C / (6 N)
    pd.testing.assert_series_equal(runs["Training FLOP"], raw["Training FLOP"])


@pytest.mark.parametrize(
    "raw, kind",
    [
        (
            pd.DataFrame(
                {"Model Size": [1e8, 1e9], "Training FLOP": [1.2e19, 6e20], "L": [2.9, 2.4]}
            ),
            "supervised",
        ),
        (distillation(NT=[1e9, np.nan, 2e9], extra=["a", "b", "c"]), "distillation"),
    ],
)
def test_load_runs_is_idempotent(raw, kind):
    once = load_runs(raw, kind=kind)
    pd.testing.assert_frame_equal(load_runs(once, kind=kind), once)


def test_duplicated_runs_warn_and_name_rows():
    raw = supervised(N=[1e8, 4e8, 1e8], D=[2e9, 8e9, 2e9], loss=[3.1, 2.8, 3.1])
    with pytest.warns(
        DataValidationWarning,
        match=r"1 group\(s\) of duplicated runs, identical in N, D, loss: rows \[0, 2\]\..*"
        r"drop_duplicates\(subset=\['N', 'D', 'loss'\]\)",
    ):
        runs = load_runs(raw)
    assert len(runs) == 3  # nothing dropped


def test_repeated_runs_with_different_losses_are_not_duplicates():
    load_runs(supervised(N=[1e8, 4e8, 1e8], D=[2e9, 8e9, 2e9], loss=[3.1, 2.8, 3.0]))


def test_duplicated_distillation_runs_include_teacher_columns():
    raw = distillation(
        N_S=[1e8] * 3, D_S=[4e9] * 3, L_T=[2.2, 2.2, 2.3], L_S=[2.7] * 3, N_T=[1e9, 1e9, 1e9]
    )
    with pytest.warns(
        DataValidationWarning,
        match=r"identical in N_S, D_S, L_T, L_S, N_T: rows \[0, 1\]",
    ):
        load_runs(raw, kind="distillation")
    # different teacher sizes make them different runs
    raw["N_T"] = [1e9, 2e9, 1e9]
    load_runs(raw, kind="distillation")


def test_many_duplicate_groups_are_summarised():
    raw = supervised(N=np.repeat(np.arange(1, 8) * 1e8, 2), D=np.repeat([2e10] * 7, 2), loss=3.0)
    with pytest.warns(DataValidationWarning, match=r"7 group\(s\).*\[8, 9\] and 2 more"):
        load_runs(raw)


def test_tokens_far_fewer_than_parameters_warns():
    raw = supervised(D=[2e9, 3.9e6, 2e10])
    with pytest.warns(
        DataValidationWarning,
        match=r"1 of 3 runs have D < N / 100 .* first at row 1: N = 4e\+08, D = 3\.9e\+06\. "
        r"Check that the columns are not swapped",
    ):
        load_runs(raw)
    # exactly N / 100 is fine
    load_runs(supervised(D=[2e9, 4e6, 2e10]))


def test_teacher_tokens_far_fewer_than_teacher_parameters_warns():
    raw = distillation(N_T=[1e10] * 3, D_T=[1e11, 5e7, 1e11])
    with pytest.warns(DataValidationWarning, match=r"D_T < N_T / 100"):
        load_runs(raw, kind="distillation")


def test_student_better_than_teacher_warns():
    raw = distillation(L_S=[2.75, 2.25, 2.45])  # row 1: 2.25 < 0.99 * 2.3
    with pytest.warns(
        DataValidationWarning,
        match=r"1 of 3 runs have a student loss more than 1% below the teacher's \(L_S < 0\.99 "
        r"L_T\), first at row 1: L_T = 2\.3, L_S = 2\.25",
    ):
        load_runs(raw, kind="distillation")
    # within 1% (noise) is fine, as is slightly below the teacher
    load_runs(distillation(L_S=[2.75, 2.28, 2.45]), kind="distillation")


def test_single_run_warns():
    with pytest.warns(DataValidationWarning, match=r"single run.*prior"):
        runs = load_runs(supervised().iloc[:1])
    assert len(runs) == 1
    load_runs(supervised().iloc[:2])  # two runs: no warning


def test_warning_points_at_the_callers_line():
    with pytest.warns(DataValidationWarning) as record:
        load_runs(supervised().iloc[:1])
    assert record[0].filename == __file__


def test_errors_come_before_warnings():
    raw = supervised(N=[1e8, 1e8, "x"], D=[2e9, 2e9, 1e9])
    with pytest.raises(DataValidationError, match=r"not numbers"):
        load_runs(raw)


# --------------------------------------------------------------------------------------------
# property: only DataValidationError / DataValidationWarning ever escape
# --------------------------------------------------------------------------------------------
COLUMN_POOL = [
    "N", "D", "loss", "Model Size", "Training FLOP", "L",
    "N_S", "D_S", "L_T", "L_S", "NS", "DS", "LT", "LS", "N_T", "D_T", "NT", "DT",
    "n", " N", "junk", 0, 1.5,
]  # fmt: skip
COMPLETE_SETS = [
    ["N", "D", "loss"],
    ["Model Size", "Training FLOP", "L"],
    ["Model Size", "D", "loss"],
    ["N_S", "D_S", "L_T", "L_S"],
    ["NS", "DS", "LT", "LS", "NT", "DT"],
    ["N_S", "D_S", "L_T", "L_S", "N_T", "D_T"],
]
# plausible values per column role, so that random tables also reach the value checks
PLAUSIBLE = {
    "params": [1e5, 1e8, 4e8, 1e9],
    "tokens": [1e6, 2e9, 8e9, 1e11],
    "loss": [0.3, 2.0, 2.5, 3.0, 15.0],
    "flop": [1e18, 1e20, 1e22],
    "other": [1.0, 2e9, 2.5],
}
ROLE = {"Training FLOP": "flop"}
for _name in ["N", "Model Size", "N_S", "NS", "N_T", "NT"]:
    ROLE[_name] = "params"
for _name in ["D", "D_S", "DS", "D_T", "DT"]:
    ROLE[_name] = "tokens"
for _name in ["loss", "L", "L_T", "LT", "L_S", "LS"]:
    ROLE[_name] = "loss"
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e308, -1e308, 5e-324, 1e5, 1e6, 0.3, 15.0]),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.text(max_size=6),
    st.sampled_from(["1e9", "nan", "inf", "-3", "1B", "", " 2.5 "]),
    st.none(),
    st.booleans(),
)


@st.composite
def random_tables(draw):
    """Tables with random column names (often a complete set) and random or plausible cells."""
    if draw(st.booleans()):
        columns = draw(st.lists(st.sampled_from(COLUMN_POOL), max_size=7))
    else:
        columns = draw(st.sampled_from(COMPLETE_SETS))
        columns = columns + draw(st.lists(st.sampled_from(COLUMN_POOL), max_size=2))
        columns = draw(st.permutations(columns))
    n_rows = draw(st.integers(min_value=0, max_value=5))
    data = {}
    for position, name in enumerate(columns):
        plausible = st.sampled_from(PLAUSIBLE[ROLE.get(name, "other")])
        mode = draw(st.sampled_from(["plausible"] * 4 + ["floats", "mixed"]))
        cell = {
            "plausible": plausible,
            "floats": st.one_of(plausible, st.floats()),
            "mixed": CELLS,
        }[mode]
        data[position] = draw(st.lists(cell, min_size=n_rows, max_size=n_rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pd.DataFrame(data, index=range(n_rows), columns=range(len(columns)))
        frame.columns = columns
    return frame


@given(frame=random_tables(), kind=st.sampled_from(["supervised", "distillation"]))
def test_random_tables_only_raise_data_validation_errors(frame, kind):
    before = copy.deepcopy(frame)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            runs = load_runs(frame, kind=kind)
        except DataValidationError as err:
            assert str(err).startswith(f"load_runs(kind={kind!r}): ")
            runs = None
    unexpected = [w for w in record if not issubclass(w.category, DataValidationWarning)]
    assert not unexpected, [str(w.message) for w in unexpected]
    pd.testing.assert_frame_equal(frame, before)
    if runs is not None:
        required = data_mod.REQUIRED_COLUMNS[kind]
        assert list(runs.columns[: len(required)]) == list(required)
        values = runs[list(required)].to_numpy()
        assert values.dtype == np.float64
        assert np.isfinite(values).all() and (values > 0).all()
        assert len(runs) == len(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataValidationWarning)
            pd.testing.assert_frame_equal(load_runs(runs, kind=kind), runs)
