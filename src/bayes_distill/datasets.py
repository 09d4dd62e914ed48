"""Bundled run data and the fits shipped with the package.

Two public data sets are bundled (sources, licences, caveats and checksums in ``data/README.md``):

``"chinchilla"``
    Hoffmann et al. (2022) runs as digitised by Epoch AI (Besiroglu et al. 2024, "Chinchilla
    Scaling: A replication attempt"), 245 runs, a supervised table. Epoch's protocol is applied:
    ``N = Model Size``, ``D = Training FLOP / (6 N)``, and the 5 highest losses are dropped
    (``losses < sorted(losses)[-5]``), leaving 240 runs.
``"distillation"``
    328 distillation runs digitised from Figure 1 of Busbridge et al. (2025), "Distillation
    Scaling Laws" (via PlanarG/active-sl, MIT), a distillation table (``N_S, D_S, L_T, L_S``).
``"distillation_teachers"``
    The 10 teachers of those runs as supervised runs (``N, D, loss``): the losses are the
    digitised ``L_T``; sizes and tokens are *reconstructed* by matching each loss to the
    paper's supervised models (``scripts/reconstruct_teachers.py``, ``data/README.md``). The
    shipped distillation posterior fits them jointly, so that its supervised law (the teacher's
    loss, the supervised baseline) rests on supervised observations.

Examples
--------
>>> import bayes_distill as bd
>>> bd.datasets.list_datasets()
['chinchilla', 'distillation', 'distillation_teachers']
>>> bd.datasets.load("chinchilla").shape
(240, 8)
>>> bd.datasets.load("distillation").shape
(328, 4)
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayes_distill.data import _load_runs

if TYPE_CHECKING:  # pragma: no cover
    from bayes_distill.results import ScalingFit

__all__ = ["DATASETS", "FITTED", "data_file", "fitted", "list_datasets", "load"]

#: Metadata of the bundled data sets: file name, run-table kind, rows in the file, the loss
#: column, the number of highest losses dropped by default, and the file's sha256.
DATASETS: dict[str, dict[str, Any]] = {
    "chinchilla": {
        "file": "epoch_chinchilla.csv",
        "kind": "supervised",
        "rows": 245,
        "loss_column": "loss",
        "drop_highest_losses": 5,
        "sha256": "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30",
        "description": "Hoffmann et al. 2022 runs digitised by Epoch AI (Besiroglu et al. 2024)",
    },
    "distillation": {
        "file": "distillation_fig1.csv",
        "kind": "distillation",
        "rows": 328,
        "loss_column": "L_S",
        "drop_highest_losses": 0,
        "sha256": "ba02669f53548739b8a88085d8ead1a3ecc1e27da3c744c9a4bb13059b7402b6",
        "description": "Figure 1 of Busbridge et al. 2025, digitised (PlanarG/active-sl)",
    },
    "distillation_teachers": {
        "file": "distillation_fig1_teachers.csv",
        "kind": "supervised",
        "rows": 10,
        "loss_column": "loss",
        "drop_highest_losses": 0,
        "sha256": "aa298485babc0561d0c50dab9ba255a7fe582e9cc7de488b40056c79282f4760",
        "description": (
            "the Figure-1 teachers as supervised runs, sizes and tokens reconstructed "
            "(scripts/reconstruct_teachers.py)"
        ),
    },
}

#: Data sets with a posterior shipped in ``models/`` (:func:`fitted`).
FITTED = ("chinchilla", "distillation")

_REBUILD_COMMAND = "python scripts/build_models.py"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def list_datasets() -> list[str]:
    """Names accepted by :func:`load` and :func:`fitted`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import bayes_distill as bd
    >>> bd.datasets.list_datasets()
    ['chinchilla', 'distillation', 'distillation_teachers']
    """
    return list(DATASETS)


def _check_name(name: Any) -> str:
    if isinstance(name, str) and name in DATASETS:
        return name
    raise ValueError(f"Unknown dataset {name!r}; valid names are {', '.join(map(repr, DATASETS))}.")


def _candidates(repo_dir: str, package_dir: str, filename: str) -> list[Traversable]:
    """Where a shipped file may be: the source tree (editable install), then package data."""
    candidates: list[Traversable] = [_REPO_ROOT / repo_dir / filename]
    try:
        candidates.append(importlib.resources.files("bayes_distill") / package_dir / filename)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - odd import setups
        pass
    return candidates


def data_file(name: str) -> Traversable:
    """Where the raw file of a bundled data set lives.

    Looks in the repository's ``data/`` folder (source checkout, editable install) and then in
    the package data folder ``bayes_distill/_data`` (wheel install).

    Parameters
    ----------
    name : {"chinchilla", "distillation"}

    Returns
    -------
    pathlib.Path or importlib.resources.abc.Traversable
        The file, readable with ``.open("rb")``.

    Raises
    ------
    ValueError
        For an unknown name.
    FileNotFoundError
        If the file is in neither location.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> bd.datasets.data_file("chinchilla").name
    'epoch_chinchilla.csv'
    """
    name = _check_name(name)
    file = DATASETS[name]["file"]
    candidates = _candidates("data", "_data", file)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"The data file {file!r} of dataset {name!r} was not found; looked in "
        f"{', '.join(str(c) for c in candidates)}. Reinstall bayes_distill or run from a "
        "source checkout."
    )


def load(name: str, *, drop_highest_losses: int | None = None) -> pd.DataFrame:
    """Load a bundled run table, validated and with canonical columns.

    Parameters
    ----------
    name : {"chinchilla", "distillation"}
        ``"chinchilla"``: Epoch AI's digitisation of Hoffmann et al. (2022), a supervised table
        (``N, D, loss`` then the raw columns ``x, y, color, Training FLOP, hex_color``), with
        ``N = Model Size`` and ``D = Training FLOP / (6 N)`` as Epoch derive it.
        ``"distillation"``: the 328 runs of Figure 1 of Busbridge et al. (2025), a distillation
        table (``N_S, D_S, L_T, L_S``; no teacher sizes).
    drop_highest_losses : int, optional
        Drop the runs with the k highest losses (``loss`` or ``L_S``) using Epoch's rule
        ``losses < sorted(losses)[-k]`` (ties with the k-th highest are dropped too).
        Default: the data set's published protocol, 5 for ``"chinchilla"`` (240 runs remain, as
        in Besiroglu et al.) and 0 for ``"distillation"`` (all 328 runs). Use 0 to keep all.

    Returns
    -------
    pandas.DataFrame
        As returned by :func:`bayes_distill.load_runs`, with a fresh ``RangeIndex``;
        ``attrs["dataset"]`` holds ``name``.

    Raises
    ------
    ValueError
        For an unknown name or a ``drop_highest_losses`` outside ``[0, rows - 1]``.
    TypeError
        If ``drop_highest_losses`` is not an integer.

    Notes
    -----
    The Figure-1 table has three pairs of runs with the same inputs (rows 62/63, 160/161,
    246/247 of the file: same student, tokens and teacher loss) and slightly different student
    losses, repeated runs or a digitisation artefact; they are kept.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> runs = bd.datasets.load("chinchilla")
    >>> len(runs), len(bd.datasets.load("chinchilla", drop_highest_losses=0))
    (240, 245)
    >>> list(runs.columns[:3])
    ['N', 'D', 'loss']
    >>> bool(((runs["Training FLOP"] / (6 * runs["N"])) == runs["D"]).all())
    True
    >>> bd.datasets.load("distillation")[["N_S", "D_S", "L_T", "L_S"]].head(2)
               N_S           D_S     L_T     L_S
    0  143000000.0  3.700000e+09  1.8953  2.7548
    1  143000000.0  3.700000e+09  1.9318  2.7536
    """
    name = _check_name(name)
    meta = DATASETS[name]
    k = meta["drop_highest_losses"] if drop_highest_losses is None else drop_highest_losses
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"drop_highest_losses must be a non-negative integer or None, got {k!r}.")
    k = int(k)
    if not 0 <= k < meta["rows"]:
        raise ValueError(
            f"drop_highest_losses must be between 0 and {meta['rows'] - 1} for dataset "
            f"{name!r} ({meta['rows']} runs), got {k}."
        )
    with data_file(name).open("rb") as fh:
        raw = pd.read_csv(fh)
    runs = _load_runs(raw, meta["kind"])
    if k:
        losses = runs[meta["loss_column"]].to_numpy()
        keep = losses < np.sort(losses)[-k]
        runs = runs.loc[keep]
    runs = runs.reset_index(drop=True)
    runs.attrs["dataset"] = name
    return runs


def fitted(name: str) -> ScalingFit:
    """The posterior fit shipped with the package for a bundled data set.

    Reads ``models/{name}.nc`` with :func:`bayes_distill.load_fit`. ``"chinchilla"`` is the
    Chinchilla law fitted to :func:`load` ``("chinchilla")``; ``"distillation"`` the
    distillation law fitted to :func:`load` ``("distillation")``.

    Parameters
    ----------
    name : {"chinchilla", "distillation"}

    Returns
    -------
    bayes_distill.ScalingFit

    Raises
    ------
    ValueError
        For an unknown name.
    FileNotFoundError
        If the fit file is missing; it is rebuilt from a source checkout with
        ``python scripts/build_models.py``.

    Examples
    --------
    >>> import bayes_distill as bd
    >>> fit = bd.datasets.fitted("chinchilla")    # doctest: +SKIP
    >>> fit.summary()                             # doctest: +SKIP
    """
    name = _check_name(name)
    if name not in FITTED:
        raise ValueError(
            f"No shipped fit named {name!r}; shipped fits are {', '.join(map(repr, FITTED))}."
        )
    relative = f"{name}.nc"
    candidates = _candidates("models", "_models", relative)
    for candidate in candidates:
        if candidate.is_file():
            from bayes_distill.persistence import load_fit  # lazy: fit imports PyMC

            with importlib.resources.as_file(candidate) as path:
                return load_fit(path)
    raise FileNotFoundError(
        f"No shipped fit for {name!r}: looked for {', '.join(str(c) for c in candidates)}. "
        f"Rebuild it from the repository root with `{_REBUILD_COMMAND}` (it fits the bundled "
        f"data and writes models/{relative})."
    )
