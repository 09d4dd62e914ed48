"""Tests of bayes_distill.datasets: the bundled run tables and the shipped fits."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import datasets
from bayes_distill.data import load_runs

REPO = Path(__file__).resolve().parents[1]


def test_list_datasets():
    assert datasets.list_datasets() == ["chinchilla", "distillation", "distillation_teachers"]
    assert bd.datasets is datasets


@pytest.mark.parametrize("name", ["chinchilla", "distillation", "distillation_teachers"])
def test_data_files_match_their_checksums_and_the_readme(name):
    meta = datasets.DATASETS[name]
    path = datasets.data_file(name)
    assert Path(str(path)) == REPO / "data" / meta["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == meta["sha256"]
    readme = (REPO / "data" / "README.md").read_text()
    assert digest in readme
    assert meta["file"] in readme


def test_chinchilla_follows_epochs_protocol():
    runs = datasets.load("chinchilla")
    raw = pd.read_csv(REPO / "data" / "epoch_chinchilla.csv")
    assert runs.shape == (240, 8)
    assert list(runs.columns) == ["N", "D", "loss", "x", "y", "color", "Training FLOP", "hex_color"]
    assert isinstance(runs.index, pd.RangeIndex)
    assert runs.attrs == {"kind": "supervised", "dataset": "chinchilla"}
    # N = Model Size, D = Training FLOP / (6 N)
    np.testing.assert_allclose(runs["D"], runs["Training FLOP"] / (6 * runs["N"]), rtol=1e-15)
    keep = raw["loss"] < np.sort(raw["loss"])[-5]
    np.testing.assert_array_equal(runs["N"], raw.loc[keep, "Model Size"])
    np.testing.assert_allclose(
        runs["D"], raw.loc[keep, "Training FLOP"] / (6 * raw.loc[keep, "Model Size"])
    )
    # the five highest losses are the ones dropped
    assert runs["loss"].max() < np.sort(raw["loss"])[-5]
    assert sorted(set(raw["loss"]) - set(runs["loss"])) == sorted(raw["loss"].nlargest(5))


def test_chinchilla_keep_all():
    runs = datasets.load("chinchilla", drop_highest_losses=0)
    assert runs.shape == (245, 8)
    # ranges documented in data/README.md
    assert runs["loss"].agg(["min", "max"]).tolist() == pytest.approx([2.0774, 5.0056], abs=1e-4)
    assert runs["N"].agg(["min", "max"]).tolist() == pytest.approx([5.73e7, 1.62e10], rel=1e-2)
    assert runs["D"].agg(["min", "max"]).tolist() == pytest.approx([2.45e8, 3.18e11], rel=1e-2)
    direct = load_runs(REPO / "data" / "epoch_chinchilla.csv")
    direct.attrs["dataset"] = "chinchilla"
    pd.testing.assert_frame_equal(runs, direct)


def test_distillation_runs():
    runs = datasets.load("distillation")
    assert runs.shape == (328, 4)
    assert list(runs.columns) == ["N_S", "D_S", "L_T", "L_S"]
    assert runs.attrs == {"kind": "distillation", "dataset": "distillation"}
    assert runs["N_S"].min() == 1.43e8 and runs["N_S"].max() == 1.82e9
    assert runs["D_S"].min() == 3.7e9 and runs["D_S"].max() == 9.85e10


def test_bundled_tables_load_without_warnings_and_are_idempotent():
    # pytest turns any warning into an error: the bundled data pass every check, including
    # the three Figure-1 pairs with equal inputs and different student losses
    for name in datasets.list_datasets():
        runs = datasets.load(name)
        again = load_runs(runs, kind=datasets.DATASETS[name]["kind"])
        again.attrs["dataset"] = name
        pd.testing.assert_frame_equal(again, runs)
    raw = pd.read_csv(REPO / "data" / "distillation_fig1.csv")
    assert raw.duplicated(["NS", "DS", "LT"]).sum() == 3
    load_runs(raw, kind="distillation")


def test_drop_highest_losses_applies_to_the_student_loss():
    runs = datasets.load("distillation", drop_highest_losses=3)
    full = datasets.load("distillation")
    assert len(runs) == 325
    assert runs["L_S"].max() < np.sort(full["L_S"])[-3]


@pytest.mark.parametrize(
    "value, error, match",
    [
        (-1, ValueError, r"between 0 and 244 for dataset 'chinchilla' \(245 runs\), got -1"),
        (245, ValueError, r"between 0 and 244 .* got 245"),
        (1.5, TypeError, r"non-negative integer or None, got 1\.5"),
        ("5", TypeError, r"got '5'"),
        (True, TypeError, r"got True"),
    ],
)
def test_bad_drop_highest_losses(value, error, match):
    with pytest.raises(error, match=match):
        datasets.load("chinchilla", drop_highest_losses=value)


def test_numpy_integer_drop_is_accepted():
    assert len(datasets.load("chinchilla", drop_highest_losses=np.int64(5))) == 240


@pytest.mark.parametrize("function", [datasets.load, datasets.fitted, datasets.data_file])
@pytest.mark.parametrize("name", ["chinchila", "Chinchilla", None, "epoch"])
def test_unknown_name_lists_valid_names(function, name):
    with pytest.raises(
        ValueError,
        match=rf"Unknown dataset {name!r}; valid names are 'chinchilla', 'distillation'",
    ):
        function(name)


def test_data_found_in_package_data_when_not_in_source_tree(tmp_path, monkeypatch):
    # a wheel install has no repository data/ folder; the package's _data/ folder is used
    package = tmp_path / "site" / "bayes_distill"
    (package / "_data").mkdir(parents=True)
    shutil.copy(REPO / "data" / "epoch_chinchilla.csv", package / "_data")
    monkeypatch.setattr(datasets, "_REPO_ROOT", tmp_path / "no-repo")
    monkeypatch.setattr(datasets.importlib.resources, "files", lambda _: package)
    assert datasets.data_file("chinchilla") == package / "_data" / "epoch_chinchilla.csv"
    assert len(datasets.load("chinchilla")) == 240
    with pytest.raises(FileNotFoundError, match=r"'distillation_fig1\.csv' .* was not found"):
        datasets.load("distillation")


def test_fitted_missing_file_says_how_to_rebuild(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_REPO_ROOT", tmp_path)
    monkeypatch.setattr(datasets.importlib.resources, "files", lambda _: tmp_path / "pkg")
    with pytest.raises(
        FileNotFoundError,
        match=r"No shipped fit for 'chinchilla'.*`python scripts/build_models\.py`.*"
        r"models/chinchilla\.nc",
    ):
        datasets.fitted("chinchilla")


def test_fitted_reads_the_shipped_file_with_load_fit(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "distillation.nc"
    target.write_bytes(b"stub")
    calls = []
    fake = types.ModuleType("bayes_distill.persistence")
    fake.load_fit = lambda path: calls.append(Path(path)) or "a fit"
    monkeypatch.setitem(sys.modules, "bayes_distill.persistence", fake)
    monkeypatch.setattr(datasets, "_REPO_ROOT", tmp_path)
    assert datasets.fitted("distillation") == "a fit"
    assert calls == [target]


def test_importing_datasets_does_not_import_pymc():
    code = (
        "import sys, bayes_distill as bd; bd.datasets.load('chinchilla'); "
        "assert 'pymc' not in sys.modules and 'pytensor' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_wheel_ships_the_data_and_the_posteriors(tmp_path):
    # a non-editable install has no source tree: build the wheel, unpack it and load from it
    pytest.importorskip("setuptools")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path / "wheel")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "wheel").glob("bayes_distill-*.whl")
    shutil.unpack_archive(wheel, tmp_path / "site", format="zip")
    for name, spec in datasets.DATASETS.items():
        assert (tmp_path / "site" / "bayes_distill" / "_data" / spec["file"]).is_file(), name
    for name in datasets.FITTED:
        assert (tmp_path / "site" / "bayes_distill" / "_models" / f"{name}.nc").is_file(), name
    code = (
        "import bayes_distill as bd, pathlib, sys; "
        f"assert pathlib.Path(bd.__file__).is_relative_to({str(tmp_path / 'site')!r}); "
        "assert '_data' in str(bd.datasets.data_file('chinchilla')); "
        "assert len(bd.datasets.load('distillation')) == 328; "
        "assert bd.datasets.fitted('chinchilla').law == 'chinchilla'"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)


def test_teachers_are_reproduced_by_their_script():
    # the shipped table is exactly what scripts/reconstruct_teachers.py writes from the raw runs
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "reconstruct_teachers.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_teachers_follow_the_matching_rule():
    teachers = datasets.load("distillation_teachers")
    raw = pd.read_csv(REPO / "data" / "distillation_fig1.csv")
    # every teacher loss is a digitised L_T of the 143M panel, each used once
    panel = set(raw.loc[raw["NS"] == 143e6, "LT"])
    assert set(teachers["loss"]) <= panel and teachers["loss"].is_unique
    # each (N, D) is used once, at a Table-13 size, at 20 tokens per parameter or at 512B tokens
    assert not teachers.duplicated(["N", "D"]).any()
    m20 = np.isclose(teachers["D"], 20 * teachers["N"])
    assert np.all(m20 | np.isclose(teachers["D"], 512e9))
    assert (teachers["regime"] == np.where(m20, "M=20", "D=512B")).all()
    # within the rule's 0.03 nats of the paper's supervised law there
    p = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    law = bd.laws.supervised_loss(teachers["N"], teachers["D"], **p)
    np.testing.assert_allclose(law, teachers["paper_law_loss"], atol=1e-4)
    assert np.all(np.abs(teachers["loss"] - law) <= 0.03)
    # the two checks the paper's law and the digitisation give at 512B tokens
    at_512b = teachers[~m20].set_index("N")
    assert at_512b.loc[12.6e9, "loss"] == pytest.approx(1.8953)
    assert at_512b.loc[7.75e9, "loss"] == pytest.approx(1.9318)


def test_fitted_refuses_a_data_set_without_a_shipped_fit():
    with pytest.raises(
        ValueError, match=r"No shipped fit named 'distillation_teachers'.*'chinchilla'"
    ):
        datasets.fitted("distillation_teachers")
