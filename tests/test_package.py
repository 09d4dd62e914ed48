"""The package namespace: ``dir(bd)`` lists the public names only."""

from __future__ import annotations

import subprocess
import sys

import bayes_distill as bd

SUBMODULES = {"checks", "compute", "datasets", "extrapolation", "laws", "plots"}


def test_dir_lists_the_public_names_only():
    bd.recommend, bd.checks  # noqa: B018 - lazy loads bind more names on the package
    import bayes_distill.decide  # noqa: F401 - binds the internal submodule on the package

    names = dir(bd)
    assert names == sorted(set(bd.__all__) | SUBMODULES)
    for helper in ("Any", "annotations", "importlib", "decide", "model", "priors"):
        assert helper not in names
    assert [n for n in names if n.startswith("_")] == ["__version__"]
    assert SUBMODULES <= set(names)
    # every listed name resolves
    for name in names:
        getattr(bd, name)


def test_dir_of_a_fresh_import_does_not_import_pymc():
    code = (
        "import sys, bayes_distill as bd; names = dir(bd); "
        "assert 'Any' not in names and 'importlib' not in names, names; "
        "assert 'pymc' not in sys.modules; print(len(names))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(set(bd.__all__) | SUBMODULES)
