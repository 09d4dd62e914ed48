"""Saving and loading fits (NetCDF with provenance): :func:`load_fit` and what
:meth:`ScalingFit.save` writes."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import laws
from . import model as _model
from ._version import __version__
from .data import columns_of
from .results import ScalingFit

__all__ = ["SCHEMA_VERSION", "FitFileError", "load_fit", "save_fit"]

#: Version of the layout of saved fits; files with a newer schema are refused.
SCHEMA_VERSION = 2  # 2: noise grows with d^2 (attribute noise_growth); 1: with d

#: law -> (input columns, loss column) of its run table, as the data hash reads them.
_CANONICAL = {law: columns_of(law) for law in laws.PARAM_NAMES}


class FitFileError(ValueError):
    """A saved fit cannot be read: truncated, foreign, or written by a newer version."""


DATA_HASH_OF = (
    "SHA-256 of the arrays the model sees, in run order: for each canonical column, its name "
    "and its float64 little-endian bytes, the loss column as its natural log; then the same "
    "for the jointly fitted supervised runs (prefixed 'supervised_'); for a grouped fit, then "
    "'groups:' and each run's group label as UTF-8 text followed by a NUL byte (then, for a "
    "grouped distillation fit, 'supervised_groups:' and each supervised run's label the same "
    "way). Other extra "
    "columns are ignored."
)


def _data_hash(
    law: str,
    runs: pd.DataFrame | None,
    supervised_runs: pd.DataFrame | None = None,
    groups: str | None = None,
) -> str:
    """Hash of the data a fit saw (see :data:`DATA_HASH_OF`), reproducible from a saved fit.

    The losses enter as their logs because that is what the model sees and what a saved fit
    stores, so ``_data_hash(fit.law, fit.runs, fit.supervised_runs)`` of a loaded fit equals
    the hash recorded at fit time.
    """
    h = hashlib.sha256()
    tables = [
        ("", runs, _CANONICAL[law]),
        ("supervised_", supervised_runs, _CANONICAL["supervised"]),
    ]
    for prefix, frame, (inputs, target) in tables:
        if frame is None:
            continue
        for col in (*inputs, target):
            values = np.asarray(frame[col], dtype="<f8")
            if col == target:
                with np.errstate(all="ignore"):
                    values = np.log(values)
            h.update(f"{prefix}{col}:{len(values)}:".encode())
            h.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    if groups:
        h.update(b"groups:")
        for label in runs[groups].astype(str):
            h.update(label.encode() + b"\0")
        if supervised_runs is not None and groups in supervised_runs:
            h.update(b"supervised_groups:")
            for label in supervised_runs[groups].astype(str):
                h.update(label.encode() + b"\0")
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("pymc", "pytensor", "arviz", "nutpie", "numpy", "xarray"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _provenance(
    law,
    *,
    priors,
    settings,
    runs,
    seed,
    likelihood,
    discrepancy,
    noise="constant",
    supervised_runs=None,
    groups=None,
) -> dict[str, Any]:
    import importlib.metadata as md
    import platform

    versions = _versions()
    for pkg in ("pandas", "scipy", "numba"):  # numba compiles nutpie's model
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    versions["python"] = platform.python_version()
    versions["platform"] = platform.platform()
    return {
        "bayes_distill_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "law": law,
        "likelihood": likelihood,
        "discrepancy": discrepancy,
        "noise": noise,
        "noise_growth": _model.NOISE_GROWTH,
        "priors": json.dumps({k: v.to_dict() for k, v in (priors or {}).items()}),
        "sampler_settings": json.dumps(settings),
        "random_seed": -1 if seed is None else int(seed),
        "data_sha256": _data_hash(law, runs, supervised_runs, groups) if runs is not None else "",
        "data_sha256_of": DATA_HASH_OF,
        "n_runs": 0 if runs is None else len(runs),
        # a grouped fit: the column naming each run's law group ("" for one law)
        "groups": groups or "",
        "n_supervised_runs": 0 if supervised_runs is None else len(supervised_runs),
        "supervised_runs_dataset": (
            "" if supervised_runs is None else str(supervised_runs.attrs.get("dataset", ""))
        ),
        "infinite_data_tolerance": _model.INFINITE_DATA_TOL if law == "distillation" else 0.0,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": json.dumps(versions),
    }


def _runs_to_groups(
    law: str, runs: pd.DataFrame, supervised_runs: pd.DataFrame | None, groups: str | None = None
):
    inputs, target = _CANONICAL[law]
    const = xr.Dataset({c: (("run",), runs[c].to_numpy(float)) for c in inputs})
    if groups:
        const["law_group_of_run"] = (("run",), runs[groups].astype(str).to_numpy(dtype=str))
    obs = xr.Dataset({"obs": (("run",), np.log(runs[target].to_numpy(float)))})
    obs["obs"].attrs["description"] = f"log of {target}"
    if supervised_runs is not None:
        for c in ("N", "D"):
            const[f"supervised_{c}"] = (("supervised_run",), supervised_runs[c].to_numpy(float))
        obs["supervised_obs"] = (
            ("supervised_run",),
            np.log(supervised_runs["loss"].to_numpy(float)),
        )
        if groups and groups in supervised_runs:
            labels = supervised_runs[groups].astype(str).to_numpy(dtype=str)
            const["law_group_of_supervised_run"] = (("supervised_run",), labels)
    return const, obs


def _groups_to_runs(law: str, tree: xr.DataTree) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    inputs, target = _CANONICAL[law]
    const = tree["constant_data"].to_dataset()
    obs = tree["observed_data"].to_dataset()
    runs = pd.DataFrame({c: const[c].values for c in inputs})
    runs[target] = np.exp(obs["obs"].values)
    if "law_group_of_run" in const:
        runs[str(tree.attrs["groups"])] = const["law_group_of_run"].values.astype(str)
    sup = None
    if "supervised_N" in const:
        sup = pd.DataFrame(
            {
                "N": const["supervised_N"].values,
                "D": const["supervised_D"].values,
                "loss": np.exp(obs["supervised_obs"].values),
            }
        )
        if "law_group_of_supervised_run" in const:
            labels = const["law_group_of_supervised_run"].values.astype(str)
            sup[str(tree.attrs["groups"])] = labels
        sup.attrs["dataset"] = str(tree.attrs.get("supervised_runs_dataset", ""))
    return runs, sup


def save_fit(fit: ScalingFit, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``fit`` to NetCDF atomically (see :meth:`ScalingFit.save`)."""
    if not isinstance(overwrite, bool | np.bool_):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; give the path of a file, e.g. {path / 'fit.nc'}."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it, or choose another path."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"The folder {path.parent} does not exist; create it first.")
    tree = fit.dt.copy()
    for name in ("posterior_predictive", "log_likelihood"):
        if name in tree.children:
            del tree[name]
    # A fresh hidden name in the target folder (same file system, so the final rename is
    # atomic), created like any new file (mode 0o666 minus the umask; mkstemp's 0o600 would
    # make saved fits unreadable to the group).
    tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        encoding = {
            f"/{g}": {
                v: {"zlib": True, "complevel": 4}
                for v in tree[g].data_vars
                if tree[g][v].dtype.kind == "f"
            }
            for g in tree.children
        }
        tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        with open(tmp, "rb+") as fh:  # on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_fit(path: str | os.PathLike) -> ScalingFit:
    """Load a fit saved with :meth:`ScalingFit.save`.

    The file is read into memory and closed, so it can be replaced or deleted afterwards.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FitFileError
        If the file is not a bayes_distill fit (not NetCDF-4/HDF5, or a NetCDF file without the
        attributes and groups of a saved fit), is truncated or damaged, or was written with a
        newer schema version by a newer bayes_distill.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved fit at {path}.")
    if path.is_dir():
        raise FitFileError(f"{path} is a folder, not a saved fit; give the path of the .nc file.")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load()
    except Exception as exc:
        raise FitFileError(
            f"{path} could not be read as a NetCDF-4 file ({type(exc).__name__}: {exc}). It may "
            "be truncated or damaged, or not a saved fit; re-create it with fit.save()."
        ) from None

    def bad(what: str) -> FitFileError:
        return FitFileError(
            f"{path} is a NetCDF file but not a valid bayes_distill fit: {what}. Save fits with "
            "fit.save() and load them with bd.load_fit()."
        )

    attrs = tree.attrs
    problems = [f"no {k!r} attribute" for k in ("schema_version", "law") if k not in attrs]
    if "posterior" not in tree.children:
        problems.append("no 'posterior' group")
    if problems:
        raise bad(", ".join(problems))
    try:
        schema = int(attrs["schema_version"])
        if schema != float(attrs["schema_version"]):
            raise ValueError
    except (TypeError, ValueError):
        raise bad(f"schema_version is {attrs['schema_version']!r}, not an integer") from None
    if schema > SCHEMA_VERSION:
        raise FitFileError(
            f"{path} was written with schema version {schema}, newer than this bayes_distill "
            f"({__version__}, schema {SCHEMA_VERSION}); upgrade bayes_distill to read it."
        )
    law = str(attrs["law"])
    if law not in laws.LAWS:
        raise bad(f"unknown law {law!r} (valid: {', '.join(laws.LAWS)})")
    post = tree["posterior"]
    needed = [*laws.SAMPLED_NAMES[law], "sigma"]
    absent = [v for v in needed if v not in post.data_vars]
    if absent:
        raise bad(f"the posterior lacks the {law} law's variables {absent}")
    wrong_dims = [v for v in needed if post[v].dims[:2] != ("chain", "draw")]
    if wrong_dims:
        raise bad(f"posterior variables {wrong_dims} do not have dimensions (chain, draw)")
    try:
        runs = sup = None
        if "constant_data" in tree.children:
            runs, sup = _groups_to_runs(law, tree)
        return ScalingFit(tree, law, runs=runs, supervised_runs=sup)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise bad(f"its run data are incomplete ({type(exc).__name__}: {exc})") from None
