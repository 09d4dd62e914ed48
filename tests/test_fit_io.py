"""Saved fits (issue 7): exact round trips, provenance, refusal to overwrite, atomic writes and
clear errors for files that are not (readable) fits.

One tiny NUTS fit (2 chains x 50 draws) is shared by the module; test_robustness.py fits the
same model, so the compiled model is reused within a session.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_distill as bd
from bayes_distill import diagnostics as diagnostics_mod
from bayes_distill import laws
from bayes_distill import model as model_mod
from bayes_distill import persistence as persistence_mod
from bayes_distill import results as results_mod
from bayes_distill import sampling as sampling_mod
from bayes_distill.priors import Prior

ScalingFit, FitFileError = results_mod.ScalingFit, persistence_mod.FitFileError
ConvergenceWarning = diagnostics_mod.ConvergenceWarning

#: The tiny fit shared with test_robustness.py (same model: compiled once per session).
TINY = {"law": "chinchilla", "draws": 50, "tune": 50, "chains": 2, "retries": 0}  # one attempt


def chinchilla_runs() -> pd.DataFrame:
    return bd.datasets.load("chinchilla").iloc[:60]


@pytest.fixture(scope="module")
def sampled() -> ScalingFit:
    with pytest.warns(ConvergenceWarning, match="did NOT converge"):
        return sampling_mod.fit(chinchilla_runs(), **TINY, random_seed=11)


@pytest.fixture(scope="module")
def distillation_fit() -> ScalingFit:
    """A distillation posterior without runs, 2 chains x 10 draws, with sampler statistics."""
    rng = np.random.default_rng(0)
    params = {k: v * np.exp(0.02 * rng.standard_normal(20)) for k, v in laws.PAPER.items()}
    base = ScalingFit.from_params("distillation", params, sigma=0.01, tau=0.02)
    coords = {"chain": [0, 1], "draw": np.arange(10)}
    post = xr.Dataset(
        {k: (("chain", "draw"), v.values.reshape(2, 10)) for k, v in base.posterior.items()},
        coords=coords,
    )
    tree = base.dt.copy()
    tree["posterior"] = xr.DataTree(post)
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset(
            {
                "diverging": (("chain", "draw"), np.zeros((2, 10), bool)),
                "n_steps": (("chain", "draw"), np.full((2, 10), 7, np.uint64)),
            },
            coords=coords,
        )
    )
    return ScalingFit(tree, "distillation", runs=None)


def save_and_load(fit: ScalingFit, path) -> ScalingFit:
    fit.save(path)
    return persistence_mod.load_fit(path)


def assert_trees_identical(a: xr.DataTree, b: xr.DataTree) -> None:
    """Every group, variable, coordinate, dtype and attribute, and the root attributes."""
    xr.testing.assert_identical(a, b)
    assert set(a.children) == set(b.children)
    for name in a.children:
        da, db = a[name].to_dataset(), b[name].to_dataset()
        xr.testing.assert_identical(da, db)
        assert da.attrs == db.attrs
        for v in da.variables:
            assert da[v].dtype == db[v].dtype, (name, v)
            np.testing.assert_array_equal(da[v].values, db[v].values)
    assert a.attrs.keys() == b.attrs.keys()
    for key, value in a.attrs.items():
        assert b.attrs[key] == value, key


# --------------------------------------------------------------------------------------------
# exact round trips


def test_sampled_fit_round_trip_is_exact(sampled, tmp_path):
    loaded = save_and_load(sampled, tmp_path / "fit.nc")
    assert set(sampled.dt.children) >= {"posterior", "sample_stats", "constant_data"}
    assert_trees_identical(sampled.dt, loaded.dt)
    assert loaded.law == sampled.law
    assert loaded.config == sampled.config
    xr.testing.assert_identical(loaded.params, sampled.params)
    for col in ("N", "D"):
        np.testing.assert_array_equal(loaded.runs[col], sampled.runs[col])
    np.testing.assert_allclose(loaded.runs["loss"], sampled.runs["loss"], rtol=1e-15)
    new = pd.DataFrame({"N": [1e8, 1e10], "D": [2e9, 2e11]})
    pd.testing.assert_frame_equal(loaded.predict(new), sampled.predict(new))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert loaded.diagnose() == sampled.diagnose()


def test_distillation_fit_round_trip_is_exact(distillation_fit, tmp_path):
    loaded = save_and_load(distillation_fit, tmp_path / "fit.nc")
    assert_trees_identical(distillation_fit.dt, loaded.dt)
    assert loaded.law == "distillation" and loaded.runs is None
    xr.testing.assert_identical(loaded.params, distillation_fit.params)


def test_saved_file_loads_twice_identically(sampled, tmp_path):
    path = tmp_path / "fit.nc"
    sampled.save(path)
    a, b = persistence_mod.load_fit(path), persistence_mod.load_fit(str(path))
    assert_trees_identical(a.dt, b.dt)


def test_save_does_not_touch_the_fit(sampled, tmp_path):
    before = sampled.dt.copy(deep=True)
    attrs = dict(sampled.dt.attrs)
    sampled.save(tmp_path / "fit.nc")
    xr.testing.assert_identical(sampled.dt, before)
    assert dict(sampled.dt.attrs) == attrs


def test_derived_groups_are_not_saved(sampled, tmp_path):
    tree = sampled.posterior_predictive(random_seed=0)
    assert {"posterior_predictive", "log_likelihood"} <= set(tree.children)
    with_ppc = ScalingFit(tree, sampled.law, runs=sampled.runs)
    loaded = save_and_load(with_ppc, tmp_path / "fit.nc")
    assert not {"posterior_predictive", "log_likelihood"} & set(loaded.dt.children)
    assert_trees_identical(sampled.dt, loaded.dt)


def test_load_closes_the_file(sampled, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/fd")
    path = tmp_path / "fit.nc"
    loaded = save_and_load(sampled, path)

    def open_files():
        out = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                out.add(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return out

    assert str(path) not in open_files()
    # the data stay usable after the file is gone
    path.unlink()
    assert np.isfinite(loaded.params["alpha"].values).all()


# --------------------------------------------------------------------------------------------
# provenance: everything needed to refit


def test_provenance_is_recorded(sampled):
    attrs = sampled.dt.attrs
    assert attrs["schema_version"] == persistence_mod.SCHEMA_VERSION
    assert attrs["bayes_distill_version"] == bd.__version__
    assert attrs["law"] == "chinchilla"
    assert attrs["random_seed"] == 11
    assert attrs["n_runs"] == 60
    assert attrs["likelihood"] in model_mod.LIKELIHOODS
    assert attrs["discrepancy"] in model_mod.DISCREPANCIES
    assert len(attrs["data_sha256"]) == 64
    assert "log" in attrs["data_sha256_of"]
    created = datetime.datetime.fromisoformat(attrs["created_at"])
    assert created.tzinfo is not None
    config = sampled.config
    assert config["sampler_settings"] == {
        "target_accept": sampling_mod.TARGET_ACCEPT,
        "sampler": "nutpie",
        "draws": 50,
        "tune": 50,
        "chains": 2,
        "adaptation": "low_rank",
    }
    expected = set(laws.SAMPLED_NAMES["chinchilla"]) | {"sigma"}
    assert expected <= set(config["priors"])
    for spec in config["priors"].values():
        assert isinstance(spec["dist"], str)
    versions = json.loads(attrs["versions"])
    for pkg in ("pymc", "pytensor", "arviz", "nutpie", "numpy", "xarray", "python"):
        assert versions[pkg] and versions[pkg] != "not installed", pkg


def test_noise_scale_grows_as_saved(sampled, tmp_path):
    """The predictive noise is ``sigma (1 + lambda (d_in^2 + clip6(u)^2)) exp(-eta clip3(u))``;
    a fit saved with schema 1 (no ``noise_growth`` attribute) keeps the linear growth it was
    fitted with, ``1 + lambda sqrt(d_in^2 + u^2)``."""
    assert sampled.dt.attrs["noise_growth"] == "quadratic"
    runs = chinchilla_runs()
    logs = {"log_N": np.log(runs["N"].to_numpy()[:5]), "log_D": np.log(runs["D"].to_numpy()[:5])}
    law = sampled.model.log_mean(sampled.draws, logs)
    frame = sampled.model.inputs.frame
    u = frame.loss_coordinate(law)
    d_in = frame.distance(logs)
    post = sampled.dt.posterior
    sigma, lam, eta = (post[v].values.reshape(-1, 1) for v in ("sigma", "lambda", "eta"))
    clip = np.exp(-eta * 3.0 * np.tanh(u / 3.0))
    scale = sampled.model.noise_scale_at(sampled.draws, (5,), logs, law)
    growth = 1 + lam * (d_in**2 + (6.0 * np.tanh(u / 6.0)) ** 2)
    np.testing.assert_allclose(scale, sigma * growth * clip, rtol=1e-12)
    path = tmp_path / "old.nc"
    sampled.save(path)
    with h5py.File(path, "r+") as f:  # what a schema-1 file looks like
        del f.attrs["noise_growth"]
        f.attrs["schema_version"] = 1
    old = persistence_mod.load_fit(path)
    scale = old.model.noise_scale_at(old.draws, (5,), logs, law)
    growth = 1 + lam * np.sqrt(d_in**2 + u**2)
    np.testing.assert_allclose(scale, sigma * growth * clip, rtol=1e-12)


def test_data_hash_identifies_the_data(sampled, tmp_path):
    runs = sampled.runs
    recorded = sampled.dt.attrs["data_sha256"]
    assert persistence_mod._data_hash("chinchilla", runs) == recorded
    # recomputable from a saved fit
    loaded = save_and_load(sampled, tmp_path / "fit.nc")
    assert persistence_mod._data_hash(loaded.law, loaded.runs) == recorded
    # columns the model does not see do not matter; any value the model sees does
    assert persistence_mod._data_hash("chinchilla", runs[["N", "D", "loss"]]) == recorded
    changed = runs.copy()
    changed.loc[changed.index[7], "loss"] *= 1 + 1e-12
    assert persistence_mod._data_hash("chinchilla", changed) != recorded
    assert persistence_mod._data_hash("chinchilla", runs.iloc[::-1]) != recorded
    swapped = runs.rename(columns={"N": "D", "D": "N"})
    assert persistence_mod._data_hash("chinchilla", swapped) != recorded


def test_refit_from_the_saved_record_alone_is_bit_identical(sampled, tmp_path):
    loaded = save_and_load(sampled, tmp_path / "fit.nc")
    config = loaded.config
    settings = config["sampler_settings"]
    priors = {name: Prior(spec.pop("dist"), spec) for name, spec in config["priors"].items()}
    with pytest.warns(ConvergenceWarning):
        refit = sampling_mod.fit(
            loaded.runs,
            law=config["law"],
            priors=priors,
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            sampler=settings["sampler"],
            likelihood=config["likelihood"],
            discrepancy=config["discrepancy"],
            random_seed=int(config["random_seed"]),
            retries=0,  # the record is of the kept attempt: reproduce that attempt alone
        )
    assert refit.dt.attrs["data_sha256"] == config["data_sha256"]
    xr.testing.assert_equal(refit.posterior, sampled.posterior)  # bit for bit, bar created_at
    for name, values in sampled.posterior.items():
        np.testing.assert_array_equal(refit.posterior[name].values, values.values, strict=True)


# --------------------------------------------------------------------------------------------
# overwriting and atomic writes


def test_save_refuses_to_overwrite(sampled, distillation_fit, tmp_path):
    path = tmp_path / "fit.nc"
    sampled.save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"fit\.nc already exists; pass overwrite=True"):
        distillation_fit.save(path)
    assert path.read_bytes() == before
    assert distillation_fit.save(path, overwrite=True) == path
    assert persistence_mod.load_fit(path).law == "distillation"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]


def test_save_to_a_missing_folder_or_a_folder(sampled, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"The folder .*nowhere does not exist"):
        sampled.save(tmp_path / "nowhere" / "fit.nc")
    with pytest.raises(IsADirectoryError, match=r"is a folder; give the path of a file"):
        sampled.save(tmp_path, overwrite=True)
    assert not list(tmp_path.iterdir())


def test_saved_file_has_ordinary_permissions(distillation_fit, tmp_path):
    umask = os.umask(0o022)
    try:
        path = distillation_fit.save(tmp_path / "fit.nc")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def _crash_while_writing(monkeypatch, error):
    """Make the NetCDF writer leave half a file behind and then fail."""

    def half_written(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as fh:
            fh.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        raise error

    monkeypatch.setattr(xr.DataTree, "to_netcdf", half_written)


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_crash_mid_write_leaves_no_file(distillation_fit, tmp_path, monkeypatch, error):
    _crash_while_writing(monkeypatch, error)
    with pytest.raises(type(error)):
        distillation_fit.save(tmp_path / "fit.nc")
    assert not list(tmp_path.iterdir())  # no target, no temporary file


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_crash_mid_overwrite_keeps_the_old_file(
    sampled, distillation_fit, tmp_path, monkeypatch, error
):
    path = tmp_path / "fit.nc"
    sampled.save(path)
    before = path.read_bytes()
    _crash_while_writing(monkeypatch, error)
    with pytest.raises(type(error)):
        distillation_fit.save(path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]
    monkeypatch.undo()
    assert_trees_identical(persistence_mod.load_fit(path).dt, sampled.dt)


def test_crash_at_the_rename_keeps_the_old_file(sampled, distillation_fit, tmp_path, monkeypatch):
    path = tmp_path / "fit.nc"
    sampled.save(path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="power cut"):
        distillation_fit.save(path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]


# --------------------------------------------------------------------------------------------
# files that are not readable fits


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No saved fit at .*nope\.nc"):
        persistence_mod.load_fit(tmp_path / "nope.nc")


def test_folder_is_not_a_fit(tmp_path):
    with pytest.raises(FitFileError, match=r"is a folder, not a saved fit"):
        persistence_mod.load_fit(tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(sampled, tmp_path, keep):
    path = tmp_path / "fit.nc"
    sampled.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FitFileError, match=r"could not be read as a NetCDF-4 file.*truncated"):
        persistence_mod.load_fit(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"N,D,loss\n1e9,2e10,2.5\n", bytes(range(256)) * 8],
    ids=["empty", "csv", "binary"],
)
def test_file_that_is_not_netcdf(tmp_path, content):
    path = tmp_path / "fit.nc"
    path.write_bytes(content)
    with pytest.raises(FitFileError, match=r"could not be read as a NetCDF-4 file") as info:
        persistence_mod.load_fit(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_netcdf3_file(tmp_path):
    path = tmp_path / "fit.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(path, engine="scipy")
    with pytest.raises(FitFileError, match=r"could not be read as a NetCDF-4 file"):
        persistence_mod.load_fit(path)


def test_foreign_netcdf_file(tmp_path):
    path = tmp_path / "fit.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}, attrs={"title": "x"}).to_netcdf(
        path, engine="h5netcdf"
    )
    with pytest.raises(
        FitFileError,
        match=r"is a NetCDF file but not a valid bayes_distill fit: no 'schema_version' "
        r"attribute, no 'law' attribute, no 'posterior' group",
    ):
        persistence_mod.load_fit(path)


def test_arviz_file_without_provenance(distillation_fit, tmp_path):
    path = tmp_path / "fit.nc"
    tree = distillation_fit.dt.copy()
    tree.attrs = {}
    tree.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match=r"no 'schema_version' attribute, no 'law' attribute\."):
        persistence_mod.load_fit(path)


def _write_altered(fit: ScalingFit, path, alter) -> None:
    tree = fit.dt.copy(deep=True)
    alter(tree)
    tree.to_netcdf(path, engine="h5netcdf")


def _drop_posterior_variable(tree):
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars("alpha"))


def _drop_observed_data(tree):
    del tree["observed_data"]


def _posterior_without_chains(tree):
    post = tree["posterior"].to_dataset()
    tree["posterior"] = xr.DataTree(post.isel(chain=0))


@pytest.mark.parametrize(
    ("alter", "error", "match"),
    [
        (
            lambda t: t.attrs.update(schema_version=persistence_mod.SCHEMA_VERSION + 1),
            FitFileError,
            rf"written with schema version {persistence_mod.SCHEMA_VERSION + 1}, newer than this "
            rf"bayes_distill .*upgrade bayes_distill",
        ),
        (
            lambda t: t.attrs.update(schema_version="one"),
            FitFileError,
            r"not a valid bayes_distill fit: schema_version is 'one', not an integer",
        ),
        (
            lambda t: t.attrs.update(schema_version=1.5),
            FitFileError,
            r"schema_version is .*1\.5.*, not an integer",
        ),
        (
            lambda t: t.attrs.update(law="kaplan"),
            FitFileError,
            r"unknown law 'kaplan' \(valid: chinchilla, supervised, distillation\)",
        ),
        (
            _drop_posterior_variable,
            FitFileError,
            r"the posterior lacks the chinchilla law's variables \['alpha'\]",
        ),
        (
            _posterior_without_chains,
            FitFileError,
            r"do not have dimensions \(chain, draw\)",
        ),
        (
            _drop_observed_data,
            FitFileError,
            r"its run data are incomplete",
        ),
    ],
    ids=["newer-schema", "text-schema", "float-schema", "law", "variable", "dims", "runs"],
)
def test_damaged_fit_files(sampled, tmp_path, alter, error, match):
    path = tmp_path / "fit.nc"
    _write_altered(sampled, path, alter)
    with pytest.raises(error, match=match):
        persistence_mod.load_fit(path)


def test_fit_file_error_is_a_value_error():
    assert issubclass(FitFileError, ValueError)
