"""Tests of the ``bayes-distill`` command line (issue 4), through ``main(argv)``.

Fits are built with ``ScalingFit.from_params`` and saved to a temporary folder; the shipped
posteriors are replaced by monkeypatching ``bayes_distill.datasets.fitted`` so the tests do not
depend on ``models/``, and ``bayes-distill fit`` runs with a stand-in for NUTS whose arguments are
checked against the real ``fit`` signature (a real fit takes 10-60 s).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayes_distill as bd
from bayes_distill import datasets, laws
from bayes_distill.cli import build_parser, main
from bayes_distill.persistence import load_fit
from bayes_distill.results import ScalingFit

FIT_MODULE = importlib.import_module("bayes_distill.sampling")  # where bd.fit is defined
REAL_FIT = FIT_MODULE.fit
EPOCH = {"E": 1.8172, "A": 477.4, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}


def _jittered(law: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = laws.PAPER if law == "distillation" else EPOCH
    return {k: v * np.exp(0.03 * rng.standard_normal(n)) for k, v in base.items()}


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fits")
    dist = ScalingFit.from_params("distillation", _jittered("distillation", 60), sigma=0.01)
    chin = ScalingFit.from_params("chinchilla", _jittered("chinchilla", 60, seed=1))
    return {
        "distillation": dist.save(folder / "distillation.nc"),
        "chinchilla": chin.save(folder / "chinchilla.nc"),
    }


@pytest.fixture(scope="module")
def fits_with_runs(tmp_path_factory) -> dict[str, Path]:
    """Point posteriors saved with small run tables, whose ranges the inputs are compared with:
    distillation N_S in [1e8, 1e10], D_S in [1e9, 1e12], the teachers' N in [1e8, 1e11] and D
    in [1e9, 1e13]; Chinchilla N in [1e8, 1e10], D in [1e9, 1e11]."""
    import pandas as pd
    import xarray as xr

    from bayes_distill.persistence import _runs_to_groups

    folder = tmp_path_factory.mktemp("fits_with_runs")
    runs = {
        "distillation": pd.DataFrame(
            {
                "N_S": [1e8, 1e8, 1e10, 1e10],
                "D_S": [1e9, 1e12, 1e9, 1e12],
                "L_T": [1.8, 3.5, 2.5, 2.0],
                "L_S": [3.6, 2.4, 2.6, 2.1],
            }
        ),
        "chinchilla": pd.DataFrame({"N": [1e8, 1e10], "D": [1e9, 1e11], "loss": [3.0, 2.5]}),
    }
    sup = pd.DataFrame({"N": [1e8, 1e11], "D": [1e9, 1e13], "loss": [3.5, 1.9]})
    out = {}
    for law, params in (("distillation", laws.PAPER), ("chinchilla", EPOCH)):
        base = ScalingFit.from_params(law, params, sigma=0.01)
        const, obs = _runs_to_groups(law, runs[law], sup if law == "distillation" else None)
        tree = base.dt.copy()
        tree["constant_data"] = xr.DataTree(const)
        tree["observed_data"] = xr.DataTree(obs)
        out[law] = ScalingFit(tree, law, runs=None).save(folder / f"{law}.nc")
    return out


def run(capsys, argv):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------------------------
# recommend


def test_recommend_prints_a_table(capsys, fits):
    status, out, err = run(
        capsys,
        [
            "recommend",
            "--compute",
            "1e22",
            "--student-params",
            "1e9",
            "--scenario",
            "teacher_pretraining",
            "--risk-tolerance",
            "0.1",
            "--fit",
            str(fits["distillation"]),
        ],
    )
    assert status == 0, err
    assert err == ""
    assert "scenario 'teacher_pretraining'" in out
    assert "student tokens D_S" in out and "teacher parameters N_T" in out
    assert "student, predictive" in out and "student, mean law" in out
    assert "at risk (90% q.)" in out
    assert "P(distillation beats supervised)" in out


def test_recommend_json_matches_the_api(capsys, fits):
    argv = ["recommend", "--compute", "1e21", "--student-params", "3e8", "--json"]
    status, out, _ = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 0
    document = json.loads(out)
    assert document["schema"] == "bayes_distill.recommendation/1"
    assert len(document["recommendations"]) == 1
    data = document["recommendations"][0]
    rec = bd.recommend(
        load_fit(fits["distillation"]), compute=1e21, student_params=3e8, random_seed=0
    )
    assert data["scenario"] == "teacher_pretraining"
    assert data["student_loss"]["kind"] == "predictive"
    assert data["student_loss"]["at_risk"] == pytest.approx(rec.student_loss["at_risk"])
    assert data["allocation"]["N_T"] == pytest.approx(rec.allocation["N_T"])
    assert set(data["flops"]) == {"student", "teacher_logits", "teacher_pretraining", "total"}
    assert data == json.loads(json.dumps(rec.to_dict()))  # exactly Recommendation.to_dict()


def test_recommend_sweep_table_and_json(capsys, fits):
    base = ["recommend", "--compute", "1e20", "1e21", "1e22", "--student-params", "1e9"]
    base += ["--scenario", "best_case", "--fit", str(fits["distillation"])]
    status, out, _ = run(capsys, base)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("Distillation sweep")
    assert len(lines) == 2 + 3 + 1
    # a fit without runs (from_params): nothing to compare with
    assert lines[-1] == "extrapolation: not assessed: the fit has no runs (ScalingFit.from_params)"
    status, out, _ = run(capsys, [*base, "--json"])
    rows = json.loads(out)["recommendations"]
    assert [r["compute"] for r in rows] == [1e20, 1e21, 1e22]
    # best case: only the teacher's loss matters
    assert all(r["allocation"]["N_T"] is None for r in rows)


def test_recommend_existing_teacher(capsys, fits):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--teacher-loss", "2.0"]
    status, out, _ = run(capsys, [*argv, "--fit", str(fits["distillation"]), "--json"])
    assert status == 0
    data = json.loads(out)["recommendations"][0]
    assert data["existing_teacher"] is True
    assert data["teacher_loss"]["median"] == pytest.approx(2.0)


def test_recommend_uses_the_shipped_posterior_by_default(capsys, fits, monkeypatch):
    asked = []

    def fake_fitted(name):
        asked.append(name)
        return load_fit(fits[name])

    monkeypatch.setattr(datasets, "fitted", fake_fitted)
    status, out, _ = run(capsys, ["recommend", "--compute", "1e22", "--student-params", "1e9"])
    assert status == 0 and "Distillation recommendation" in out
    status, out, _ = run(capsys, ["compute-optimal", "--compute", "1e22"])
    assert status == 0 and "chinchilla fit" in out
    assert asked == ["distillation", "chinchilla"]


def test_missing_shipped_posterior_says_how_to_build_it(capsys, monkeypatch):
    def missing(name):
        raise FileNotFoundError(f"No shipped fit for {name!r}")

    monkeypatch.setattr(datasets, "fitted", missing)
    status, out, err = run(capsys, ["recommend", "--compute", "1e22", "--student-params", "1e9"])
    assert status == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "models/distillation.nc is missing" in err
    assert "python scripts/build_models.py" in err
    assert "bayes-distill fit distillation --law distillation" in err


def test_recommend_prints_the_extrapolation_and_warns_once(capsys, fits_with_runs):
    argv = ["recommend", "--compute", "1e26", "--student-params", "1e9", "--scenario"]
    argv += ["best_case", "--risk-tolerance", "0.5", "--fit", str(fits_with_runs["distillation"])]
    status, out, err = run(capsys, argv)
    assert status == 0, err
    line = next(ln for ln in out.splitlines() if "extrapolation:" in ln)
    assert "D_S = 1.36e+16 is 1.36e+04 x beyond the fitted runs' range [1e+09, 1e+12]" in line
    # the warning reaches stderr once, one line
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bayes-distill: warning: D_S = 1.36e+16 is 1.36e+04 x beyond")
    assert err.count("D_S = 1.36e+16") == 1
    # --json carries the extrapolation dict
    status, out, err = run(capsys, [*argv, "--json"])
    assert status == 0 and len(err.strip().splitlines()) == 1
    data = json.loads(out)["recommendations"][0]
    d_s = data["extrapolation"]["D_S"]
    assert (d_s["min"], d_s["max"]) == (1e9, 1e12)
    assert d_s["value"] == pytest.approx(1.36e16, rel=1e-2)
    assert d_s["fold"] == pytest.approx(d_s["value"] / 1e12)
    assert data["extrapolation_max_fold"] == pytest.approx(d_s["fold"])


def test_recommend_inside_the_runs_prints_no_warning(capsys, fits_with_runs):
    argv = ["recommend", "--compute", "1e21", "--student-params", "1e9"]
    status, out, err = run(capsys, [*argv, "--fit", str(fits_with_runs["distillation"])])
    assert status == 0 and err == ""
    assert "  extrapolation: all inputs within the fitted runs" in out.splitlines()


def test_recommend_sweep_extrapolation_table_and_json(capsys, fits_with_runs):
    argv = ["recommend", "--compute", "1e21", "1e26", "--student-params", "1e9", "--scenario"]
    argv += ["best_case", "--risk-tolerance", "0.5", "--fit", str(fits_with_runs["distillation"])]
    status, out, err = run(capsys, argv)
    assert status == 0
    assert len(err.strip().splitlines()) == 1 and "(at compute=1e+26; 1 of 2 budgets" in err
    lines = out.strip().splitlines()
    assert "fold" in lines[1].split()
    assert lines[-3] == "extrapolation (the inputs of each budget beyond the fitted runs' range):"
    assert lines[-2] == "  compute=1e+21: all inputs within the fitted runs"
    assert lines[-1].startswith("  compute=1e+26: D_S = 1.36e+16 is 1.36e+04 x beyond")
    status, out, _ = run(capsys, [*argv, "--json"])
    rows = json.loads(out)["recommendations"]
    assert rows[0]["extrapolation"]["D_S"]["fold"] == 1.0
    assert rows[1]["extrapolation"]["D_S"]["fold"] == pytest.approx(1.36e4, rel=1e-2)
    assert rows[0]["extrapolation_max_fold"] == 1.0 and rows[1]["extrapolation_max_fold"] > 1e4


def test_recommend_teacher_loss_outside_the_plausible_range_exits_2(capsys, fits):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--teacher-loss", "0.1"]
    status, out, err = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bayes-distill recommend: error: --teacher-loss 0.1 is outside")
    assert "the range of plausible losses [0.3, 15] nats/token" in lines[0]
    assert "Give the teacher's validation cross-entropy in nats/token" in lines[0]


# --------------------------------------------------------------------------------------------
# compute-optimal


def test_compute_optimal_table_and_json(capsys, fits):
    argv = ["compute-optimal", "--compute", "1e21", "1e23", "--fit", str(fits["chinchilla"])]
    status, out, _ = run(capsys, argv)
    assert status == 0
    lines = out.strip().splitlines()
    assert "Supervised compute-optimal allocation (chinchilla fit, 60 draws" in lines[0]
    assert lines[1].startswith("FLOPs rule (--approx paper): the paper's F(N) per token")
    assert len(lines) == 3 + 2 + 1
    assert lines[-1].startswith("extrapolation: not assessed")
    status, out, _ = run(capsys, [*argv, "--json", "--ci-prob", "0.8"])
    document = json.loads(out)
    assert document["schema"] == "bayes_distill.compute_optimal/1"
    assert (document["approx"], document["ci_prob"]) == ("paper", 0.8)
    rows = document["rows"]
    frame = bd.compute_optimal(load_fit(fits["chinchilla"]), compute=[1e21, 1e23], ci_prob=0.8)
    assert [r["N_median"] for r in rows] == pytest.approx(frame["N_median"].tolist())
    assert rows[0]["N_lower"] < rows[0]["N_median"] < rows[0]["N_upper"]


def test_compute_optimal_extrapolation_line_warning_and_json(capsys, fits_with_runs):
    argv = [
        "compute-optimal",
        "--compute",
        "1e20",
        "1e26",
        "--fit",
        str(fits_with_runs["chinchilla"]),
    ]
    status, out, err = run(capsys, argv)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[-2] == "  compute=1e+20: all inputs within the fitted runs"
    assert lines[-1].startswith("  compute=1e+26: N = 1.04e+12 is 104 x beyond the fitted runs'")
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("bayes-distill: warning: N = 1.04e+12")
    status, out, _ = run(capsys, [*argv, "--json"])
    rows = json.loads(out)["rows"]
    assert rows[1]["N_fold"] == pytest.approx(104, rel=1e-2)
    assert rows[1]["extrapolation"]["N"]["fold"] == pytest.approx(rows[1]["N_fold"])
    assert rows[0]["extrapolation"]["D"] == {
        "value": pytest.approx(rows[0]["D_median"]),
        "min": 1e9,
        "max": 1e11,
        "fold": 1.0,
        "against": "runs",
    }


# --------------------------------------------------------------------------------------------
# bad arguments: one line on stderr, exit status 2


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["recommend", "--student-params", "1e9"],
            "the following arguments are required: --compute",
        ),
        (["recommend", "--compute", "abc", "--student-params", "1e9"], "expected a number"),
        (
            ["recommend", "--compute", "-1", "--student-params", "1e9"],
            "--compute must be finite and positive FLOPs",
        ),
        (
            ["recommend", "--compute", "-1e22", "--student-params", "1e9"],
            "--compute must be finite and positive FLOPs, got -1e+22",
        ),
        (
            ["recommend", "--compute", "1e22", "--student-params", "-1e9"],
            "--student-params must be finite and positive, got -1000000000.0; e.g. "
            "--student-params 1e9",
        ),
        (["compute-optimal", "--compute", "-1e22"], "--compute must be finite and positive FLOPs"),
        (
            [
                "recommend",
                "--compute",
                "1e22",
                "--student-params",
                "1e9",
                "--risk-tolerance",
                "1.5",
            ],
            "strictly between 0 and 1",
        ),
        (
            ["recommend", "--compute", "1e22", "--student-params", "1e9", "--scenario", "cheap"],
            "invalid choice: 'cheap'",
        ),
        (["teach", "--compute", "1e22"], "invalid choice: 'teach'"),
        ([], "the following arguments are required: COMMAND"),
        (["recommend", "--compute", "1e8", "--student-params", "1e9"], "on even one token"),
        (["recommend", "--compute", "1e22", "--student-params", "1e18"], "outside the bounds"),
        (
            [
                "recommend",
                "--compute",
                "1e22",
                "--student-params",
                "1e9",
                "--teacher-tokens",
                "1e12",
            ],
            "--teacher-tokens was given without --teacher-params; give both (or --teacher-loss)",
        ),
        (
            ["recommend", "--compute", "1e22", "--student-params", "1e9", "--teacher-loss", "0.1"],
            "--teacher-loss 0.1 is outside the range of plausible losses [0.3, 15] nats/token",
        ),
        (["compute-optimal", "--compute", "1e9"], "cannot train even the smallest model"),
        (["fit", "no_such_runs.csv", "--law", "chinchilla", "--out", "x.nc"], "neither a file"),
        (["fit", "chinchilla", "--law", "gpt", "--out", "x.nc"], "invalid choice: 'gpt'"),
        (["fit", "chinchilla", "--law", "chinchilla", "--out", "x.nc", "--draws", "0"], "positive"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, fits, argv, match):
    needs_fit = argv[:1] in (["recommend"], ["compute-optimal"]) and "--compute" in argv
    if needs_fit:
        law = "distillation" if argv[0] == "recommend" else "chinchilla"
        argv = [*argv, "--fit", str(fits[law])]
    status, out, err = run(capsys, argv)
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0] and match in lines[0]


def test_missing_or_corrupt_fit_file_exits_2(capsys, tmp_path):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--fit"]
    status, _, err = run(capsys, [*argv, str(tmp_path / "nope.nc")])
    assert status == 2 and "No saved fit" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    status, _, err = run(capsys, [*argv, str(bad)])
    assert status == 2 and "could not be read" in err and len(err.strip().splitlines()) == 1


def test_recommend_with_a_supervised_fit_exits_2(capsys, fits):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9"]
    status, _, err = run(capsys, [*argv, "--fit", str(fits["chinchilla"])])
    assert status == 2
    assert "needs a fit of law distillation, got a 'chinchilla' fit" in err


def test_help_and_version(capsys):
    status, out, _ = run(capsys, ["--help"])
    assert status == 0
    assert "examples:" in out and "recommend --compute 1e22" in out
    for command in ("recommend", "compute-optimal", "fit"):
        status, out, _ = run(capsys, [command, "--help"])
        assert status == 0 and "examples:" in out
    status, out, _ = run(capsys, ["--version"])
    assert status == 0 and bd.__version__ in out


def test_fit_help_names_the_defaults_bd_fit_uses(capsys):
    """The help of --draws and --tune is built from the tables bd.fit reads, so it cannot
    drift from them (it once said 1000 tuning steps for distillation after the default
    became 500)."""
    from bayes_distill.sampling import DEFAULT_DRAWS, DEFAULT_TUNE

    status, out, _ = run(capsys, ["fit", "--help"])
    text = " ".join(out.split())  # argparse wraps the help lines
    assert status == 0
    for law in ("chinchilla", "supervised", "distillation"):
        assert f"{law} {DEFAULT_DRAWS[law]}" in text.split("draws per chain")[1].split("--tune")[0]
        assert f"{law} {DEFAULT_TUNE[law]}" in text.split("tuning steps per chain")[1]


def test_parser_defaults():
    args = build_parser().parse_args(["recommend", "--compute", "1e22", "--student-params", "1e9"])
    assert args.scenario == "teacher_pretraining"
    assert args.risk_tolerance == 0.1 and args.ci_prob == 0.9
    assert args.fit is None and args.json is False
    fit_argv = ["fit", "runs.csv", "--law", "chinchilla", "--out", "f.nc"]
    fit_args = build_parser().parse_args(fit_argv)
    # bd.fit then takes the law's DEFAULT_TUNE and DEFAULT_DRAWS
    assert fit_args.tune is None and fit_args.draws is None
    assert fit_args.chains == 4


def test_console_script_help():
    script = Path(sys.executable).with_name("bayes-distill")
    assert script.exists(), "the bayes-distill console script is not installed"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: bayes-distill" in result.stdout and "examples:" in result.stdout


# --------------------------------------------------------------------------------------------
# fit


def test_fit_command_passes_options_and_saves(capsys, tmp_path, monkeypatch):
    calls = {}

    def fake_fit(runs, **kwargs):
        calls["runs"], calls["kwargs"] = runs, kwargs
        return ScalingFit.from_params("chinchilla", _jittered("chinchilla", 20))

    monkeypatch.setattr(FIT_MODULE, "fit", fake_fit)
    out_path = tmp_path / "fit.nc"
    argv = ["fit", "chinchilla", "--law", "chinchilla", "--out", str(out_path)]
    argv += ["--draws", "300", "--tune", "200", "--chains", "2", "--seed", "7", "--priors", "paper"]
    status, out, err = run(capsys, argv)
    assert status == 0, err
    assert f"saved the chinchilla fit to {out_path}" in out
    assert calls["kwargs"] == {
        "law": "chinchilla",
        "priors": "paper",
        "draws": 300,
        "tune": 200,
        "chains": 2,
        "random_seed": 7,
        "supervised_runs": None,
        "groups": None,
        "progressbar": None,  # bd.fit's rule: shown when stderr is a terminal
    }
    assert len(calls["runs"]) == 240  # the bundled Chinchilla runs
    # the real bd.fit accepts exactly these arguments (checked without running NUTS)
    inspect.signature(REAL_FIT).bind(calls["runs"], **calls["kwargs"])
    assert load_fit(out_path).law == "chinchilla"
    # refuses to overwrite without --overwrite
    status, _, err = run(capsys, argv)
    assert status == 2 and "--overwrite" in err
    status, _, _ = run(capsys, [*argv, "--overwrite"])
    assert status == 0


def _unconverged(law: str = "chinchilla") -> ScalingFit:
    """A point-cloud posterior with sampler statistics that fail the diagnostics (60 draws are
    too few for a bulk ESS of 400, and one transition diverged)."""
    import xarray as xr

    base = ScalingFit.from_params(law, _jittered(law, 60), sigma=0.01)
    tree = base.dt.copy()
    diverging = np.zeros((1, 60), dtype=bool)
    diverging[0, 7] = True
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=base.posterior.coords)
    )
    return ScalingFit(tree, law, runs=None)


def test_fit_command_prints_the_repr_on_its_own_line_and_each_warning_once(
    capsys, tmp_path, monkeypatch
):
    def fake_fit(runs, **kwargs):
        result = _unconverged()
        result.diagnose(warn=True)  # as bd.fit warns for a fit that fails its diagnostics
        return result

    monkeypatch.setattr(FIT_MODULE, "fit", fake_fit)
    argv = ["fit", "chinchilla", "--law", "chinchilla", "--out", str(tmp_path / "f.nc")]
    status, out, err = run(capsys, argv)
    assert status == 0, err
    assert out.startswith("ScalingFit(law='chinchilla'")
    assert "diagnostics: NOT CONVERGED" in out
    # the problems are in the warning, printed once on stderr, one line
    assert "divergent transitions" not in out
    assert "the failed checks and what to try are in the warning on stderr" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bayes-distill: warning: The chinchilla fit did NOT converge")
    assert err.count("1 divergent transitions") == 1


def test_fit_command_prints_a_repeated_warning_once(capsys, tmp_path, monkeypatch):
    """A two-stage fit validates the supervised runs twice: the CLI says each thing once."""
    import warnings

    from bayes_distill.data import DataValidationWarning

    def fake_fit(runs, **kwargs):
        for _ in range(2):
            message = "load_runs(kind='supervised'): the table has a single run."
            warnings.warn(message, DataValidationWarning, stacklevel=2)
        return ScalingFit.from_params("chinchilla", _jittered("chinchilla", 20))

    monkeypatch.setattr(FIT_MODULE, "fit", fake_fit)
    argv = ["fit", "chinchilla", "--law", "chinchilla", "--out", str(tmp_path / "f.nc")]
    status, _, err = run(capsys, argv)
    assert status == 0
    assert err.count("single run") == 1


# --------------------------------------------------------------------------------------------
# one vocabulary: flags named like the API's arguments, errors phrased for the command line


def test_flags_are_named_like_the_api_arguments_with_the_old_names_as_aliases():
    parser = build_parser()
    base = ["recommend", "--compute", "1e22", "--student-params", "1e9"]
    for flag in ("--random-seed", "--seed"):
        assert parser.parse_args([*base, flag, "5"]).random_seed == 5
    for flag in ("--approx", "--flops"):
        assert parser.parse_args([*base, flag, "2N"]).approx == "2N"
        assert (
            parser.parse_args(["compute-optimal", "--compute", "1e22", flag, "2N"]).approx == "2N"
        )
    fit_base = ["fit", "runs.csv", "--law", "chinchilla", "--out", "f.nc"]
    for flag in ("--random-seed", "--seed"):
        assert parser.parse_args([*fit_base, flag, "3"]).random_seed == 3


def test_help_names_the_new_flags_and_their_aliases(capsys):
    status, out, _ = run(capsys, ["recommend", "--help"])
    text = " ".join(out.split())
    assert status == 0
    assert "--random-seed, --seed SEED" in text and "--approx, --flops {paper,2N}" in text
    status, out, _ = run(capsys, ["fit", "--help"])
    assert "--random-seed, --seed SEED" in " ".join(out.split())


def test_negative_numbers_reach_the_package_checks(capsys, fits):
    """argparse reads '-1e22' as an option (\"expected at least one argument\"); the CLI passes
    it on as a number, and the package's check answers."""
    argv = ["recommend", "--compute", "-1e22", "--student-params", "1e9"]
    status, out, err = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 2 and out == ""
    assert "expected at least one argument" not in err
    assert err.startswith(
        "bayes-distill recommend: error: --compute must be finite and positive FLOPs, got -1e+22"
    )
    for value in ("-inf", "-.5", "-1E+22"):
        argv = ["compute-optimal", "--compute", value, "--fit", str(fits["chinchilla"])]
        status, _, err = run(capsys, argv)
        assert status == 2 and "--compute must be finite and positive FLOPs" in err, value


def test_compute_optimal_says_which_flops_rule_it_used(capsys, fits):
    argv = ["compute-optimal", "--compute", "1e22", "--fit", str(fits["chinchilla"])]
    status, out, _ = run(capsys, [*argv, "--flops", "2N"])
    assert status == 0
    assert "FLOPs rule (--approx 2N): 2N per token, the 6ND rule" in out


def _write_runs(path: Path, **columns) -> str:
    import pandas as pd

    N = np.geomspace(1e8, 3e9, 12)
    table = {"N": N, "D": 20 * N, "loss": 1.8 + 400 / N**0.34 + 2000 / (20 * N) ** 0.37}
    table.update(columns)
    pd.DataFrame(table).to_csv(path, index=False)
    return str(path)


# Python phrasing that CLI messages must not contain: calls, keyword syntax, pandas snippets
PYTHONIC = re.compile(r"bd\.|runs\[|runs = |np\.|pd\.|load_runs|\b[a-z_]+=\S|`runs`")


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("teacher_loss", "--teacher-loss 0.1 is outside"),
        ("teacher_tokens", "--teacher-tokens was given without --teacher-params"),
        ("teacher_params", "--teacher-params alone does not say how good the teacher is"),
        (
            "logits",
            "so --teacher-params is needed to cost them; give --teacher-params, or use "
            "--scenario best_case",
        ),
        ("small_budget", "--compute 1e+08 FLOPs cannot train the student (--student-params 1e+09)"),
        ("big_student", "--student-params 1e+18 is outside the bounds"),
        ("wrong_law", "recommend needs a fit of law distillation, got a 'chinchilla' fit"),
        (
            "tiny_budget",
            "--compute 1e+09 FLOPs cannot train even the smallest model allowed by "
            "--bounds 1e+06 1e+17",
        ),
        (
            "supervised_runs",
            "--supervised-runs is only used by --law distillation (got --law "
            "chinchilla); pass the supervised runs as RUNS instead",
        ),
        (
            "units",
            "multiply by 1e6 (millions) or 1e9 (billions) the values of column 'N' in the file",
        ),
        ("nan", "fill them in or drop those runs in the file"),
        ("case", "Column 'n' looks like 'N' (names are exact): rename it to 'N' in the file"),
        ("perplexity", "(give the natural log of the perplexity)"),
        ("kind", "belong to supervised tables: did you mean --law chinchilla (or supervised)?"),
        ("seed", "--random-seed must be an integer in [0, 4294967295], got 5000000000"),
    ],
)
def test_errors_are_phrased_for_the_command_line(capsys, fits, tmp_path, case, match):
    rec = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--fit"]
    rec.append(str(fits["distillation"]))
    out_nc = str(tmp_path / "out.nc")
    N = np.geomspace(1e8, 3e9, 12)
    fit_chinchilla = ["fit", "chinchilla", "--law", "chinchilla", "--out", out_nc]
    argv = {
        "teacher_loss": [*rec, "--teacher-loss", "0.1"],
        "teacher_tokens": [*rec, "--teacher-tokens", "1e12"],
        "teacher_params": [*rec, "--teacher-params", "1e10"],
        "logits": [*rec, "--teacher-loss", "2", "--scenario", "teacher_inference"],
        "small_budget": [*rec, "--compute", "1e8"],
        "big_student": [*rec, "--student-params", "1e18"],
        "wrong_law": [*rec, "--fit", str(fits["chinchilla"])],
        "tiny_budget": ["compute-optimal", "--compute", "1e9", "--fit", str(fits["chinchilla"])],
        "supervised_runs": [*fit_chinchilla, "--supervised-runs", "chinchilla"],
        "units": ["fit", _write_runs(tmp_path / "units.csv", N=N / 1e9)],
        "nan": ["fit", _write_runs(tmp_path / "nan.csv", loss=[np.nan] * 12)],
        "perplexity": ["fit", _write_runs(tmp_path / "ppl.csv", loss=[300.0] * 12)],
        "kind": [
            "fit",
            _write_runs(tmp_path / "kind.csv"),
            "--law",
            "distillation",
            "--out",
            out_nc,
        ],
        "case": ["fit", _write_runs(tmp_path / "case.csv"), "--law", "chinchilla", "--out", out_nc],
        "seed": [*fit_chinchilla, "--random-seed", "5000000000"],
    }[case]
    if argv[0] == "fit" and "--law" not in argv:
        argv += ["--law", "chinchilla", "--out", out_nc]
    if case == "case":
        import pandas as pd

        pd.read_csv(argv[1]).rename(columns={"N": "n"}).to_csv(argv[1], index=False)
    status, out, err = run(capsys, argv)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert match in lines[0]
    assert not PYTHONIC.search(lines[0].split(": error: ", 1)[1]), lines[0]
    if argv[0] == "fit" and case not in ("supervised_runs", "seed"):
        # the message names the run table of the command line
        assert f"error: RUNS {argv[1]}: " in lines[0]


def test_warnings_are_phrased_for_the_command_line(capsys, tmp_path, monkeypatch):
    def fake_fit(runs, **kwargs):
        result = _unconverged()
        result.diagnose(warn=True)
        return result

    monkeypatch.setattr(FIT_MODULE, "fit", fake_fit)
    status, _, err = run(
        capsys, ["fit", "chinchilla", "--law", "chinchilla", "--out", str(tmp_path / "f.nc")]
    )
    assert status == 0
    assert "--priors paper" in err and "priors='paper'" not in err


def test_for_cli_rewrites():
    from bayes_distill.cli import _for_cli

    assert _for_cli("e.g. teacher_loss=2.1; or ci_prob=0.9.") == (
        "e.g. --teacher-loss 2.1; or --ci-prob 0.9."
    )
    assert _for_cli("pass supervised_runs= (your teachers)") == (
        "pass --supervised-runs (your teachers)"
    )
    assert _for_cli("more tuning (tune=2000), tighter priors (priors='paper')") == (
        "more tuning (--tune 2000), tighter priors (--priors paper)"
    )
    # labels that are not arguments stay as they are
    assert _for_cli("D_S = 1e16 (at compute=1e+26; 1 of 2 budgets") == (
        "D_S = 1e16 (at compute=1e+26; 1 of 2 budgets"
    )


# --------------------------------------------------------------------------------------------
# one JSON schema, versioned


def test_recommend_json_has_one_shape_for_one_budget_or_many(capsys, fits):
    base = ["recommend", "--student-params", "1e9", "--json", "--fit", str(fits["distillation"])]
    documents = []
    for budgets in (["1e21"], ["1e21", "1e22"]):
        status, out, _ = run(capsys, [*base, "--compute", *budgets])
        assert status == 0
        documents.append(json.loads(out))
    one, sweep = documents
    assert set(one) == set(sweep) == {"schema", "approx", "recommendations", "fit"}
    assert one["schema"] == sweep["schema"] == "bayes_distill.recommendation/1"
    assert [len(d["recommendations"]) for d in documents] == [1, 2]
    assert set(one["recommendations"][0]) == set(sweep["recommendations"][1])
    # the sweep's rows are what bd.recommend_sweep's DataFrame holds (as Recommendation.to_dict)
    frame = bd.recommend_sweep(
        load_fit(fits["distillation"]), compute=[1e21, 1e22], student_params=1e9
    )
    assert [r["allocation"]["D_S"] for r in sweep["recommendations"]] == pytest.approx(
        frame["D_S"].tolist()
    )
    assert [r["student_loss"]["at_risk"] for r in sweep["recommendations"]] == pytest.approx(
        frame["student_loss_at_risk"].tolist()
    )
    assert one["fit"] == {
        "law": "distillation",
        "file": str(fits["distillation"]),
        "supervised_source": "given directly (ScalingFit.from_params)",
        # a from_params fit has no sampler statistics
        "diagnostics": {"ok": None, "max_rhat": None, "min_ess_bulk": None, "divergences": None},
    }


def test_compute_optimal_json_has_one_shape_for_one_budget_or_many(capsys, fits):
    base = ["compute-optimal", "--json", "--fit", str(fits["chinchilla"])]
    _, out, _ = run(capsys, [*base, "--compute", "1e22"])
    one = json.loads(out)
    _, out, _ = run(capsys, [*base, "--compute", "1e21", "1e22", "--approx", "2N"])
    sweep = json.loads(out)
    assert set(one) == set(sweep) == {"schema", "approx", "ci_prob", "loss_kind", "rows", "fit"}
    assert one["schema"] == "bayes_distill.compute_optimal/1"
    assert (one["approx"], sweep["approx"]) == ("paper", "2N")
    assert [len(d["rows"]) for d in (one, sweep)] == [1, 2]
    assert one["fit"]["law"] == "chinchilla" and one["fit"]["supervised_source"] == "fitted"


def test_json_records_a_fit_that_failed_its_diagnostics(capsys, tmp_path):
    path = _unconverged("distillation").save(tmp_path / "failed.nc")
    argv = ["recommend", "--compute", "1e21", "--student-params", "1e9", "--json"]
    status, out, err = run(capsys, [*argv, "--fit", str(path)])
    assert status == 0
    diagnostics = json.loads(out)["fit"]["diagnostics"]
    assert diagnostics["ok"] is False
    assert diagnostics["divergences"] == 1
    assert diagnostics["min_ess_bulk"] < 400
    # and on stderr, once
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "The distillation fit did NOT converge" in lines[0]
    path = _unconverged("chinchilla").save(tmp_path / "failed_chinchilla.nc")
    status, out, err = run(
        capsys, ["compute-optimal", "--compute", "1e22", "--json", "--fit", str(path)]
    )
    assert status == 0 and json.loads(out)["fit"]["diagnostics"]["ok"] is False
    assert "did NOT converge" in err


def test_help_documents_the_json_schema(capsys):
    for command, schema in (
        ("recommend", "bayes_distill.recommendation/1"),
        ("compute-optimal", "bayes_distill.compute_optimal/1"),
    ):
        status, out, _ = run(capsys, [command, "--help"])
        text = " ".join(out.split())
        assert status == 0
        assert f"schema {schema}" in text
        assert '"diagnostics": {"ok", "max_rhat", "min_ess_bulk", "divergences"}' in text
    import bayes_distill.cli as cli

    assert "bayes_distill.recommendation/1" in cli.__doc__
    assert cli.RECOMMENDATION_SCHEMA == "bayes_distill.recommendation/1"
    assert cli.COMPUTE_OPTIMAL_SCHEMA == "bayes_distill.compute_optimal/1"


# --------------------------------------------------------------------------------------------
# a teacher shared by several students (--n-students)


def test_recommend_n_students_table_and_json(capsys, fits):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--n-students", "8"]
    argv += ["--fit", str(fits["distillation"])]
    status, out, err = run(capsys, argv)
    assert status == 0, err
    assert "teacher pretraining shared by 8 students: 1/8 of its FLOPs charged" in out
    assert "teacher tokens D_T (1/8)" in out
    status, out, _ = run(capsys, [*argv, "--json"])
    data = json.loads(out)["recommendations"][0]
    rec = bd.recommend(
        load_fit(fits["distillation"]), compute=1e22, student_params=1e9, n_students=8
    )
    assert data["n_students"] == 8
    assert data == json.loads(json.dumps(rec.to_dict()))
    # the default is one student per teacher
    status, out, _ = run(capsys, [*argv[:5], "--fit", str(fits["distillation"]), "--json"])
    assert json.loads(out)["recommendations"][0]["n_students"] == 1


def test_recommend_n_students_sweep_says_the_teacher_is_shared(capsys, fits):
    argv = ["recommend", "--compute", "1e21", "1e22", "--student-params", "1e9"]
    argv += ["--n-students", "4", "--fit", str(fits["distillation"])]
    status, out, _ = run(capsys, argv)
    assert status == 0
    assert (
        out.splitlines()[1] == "teacher pretraining shared by 4 students: 1/4 of its FLOPs charged"
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("0", "error: --n-students must be an integer >= 1, got 0; give how many students"),
        ("-2", "error: --n-students must be an integer >= 1, got -2"),
        ("2.5", "argument --n-students: expected a whole number such as 8, got '2.5'"),
    ],
)
def test_recommend_bad_n_students_exits_2(capsys, fits, value, match):
    argv = ["recommend", "--compute", "1e22", "--student-params", "1e9", "--n-students", value]
    status, out, err = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], err
    assert "e.g. --n-students 8" in lines[0] or value == "2.5"
    assert not PYTHONIC.search(lines[0].split(": error: ", 1)[1]), lines[0]


# --------------------------------------------------------------------------------------------
# crossover


def test_crossover_prints_a_table(capsys, fits):
    argv = ["crossover", "--student-params", "1e9", "3e9", "1e10"]
    status, out, err = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 0, err
    assert err == ""
    lines = out.strip().splitlines()
    assert lines[0].startswith("Crossover: the compute beyond which supervised training beats")
    assert "scenario 'best_case'; 60 draws, mean law; medians and 90% intervals" in lines[0]
    assert lines[1].startswith("FLOPs rule (--approx paper)")
    assert lines[2].split() == [
        "N_S", "crossover", "90%", "interval", "none", "never", "still", "searched", "(FLOPs)"
    ]  # fmt: skip
    frame = bd.crossover(load_fit(fits["distillation"]), student_params=[1e9, 3e9, 1e10])
    for line, (_, r) in zip(lines[3:6], frame.iterrows(), strict=True):
        assert line.split()[:2] == [f"{r['student_params']:.3g}", f"{r['median']:.3g}"]
    assert lines[6].startswith("none: share of draws without a crossover")
    assert lines[-1] == "extrapolation: not assessed: the fit has no runs (ScalingFit.from_params)"


def test_crossover_json_matches_the_api(capsys, fits):
    argv = ["crossover", "--student-params", "1e9", "--scenario", "teacher_inference"]
    argv += ["--compute-range", "1e19", "1e25", "--ci-prob", "0.8", "--json"]
    status, out, _ = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 0
    document = json.loads(out)
    assert set(document) == {
        "schema", "approx", "scenario", "ci_prob", "compute_range", "teacher_loss", "loss_kind",
        "rows", "fit",
    }  # fmt: skip
    assert document["schema"] == "bayes_distill.crossover/1"
    assert document["scenario"] == "teacher_inference" and document["ci_prob"] == 0.8
    assert document["compute_range"] == [1e19, 1e25] and document["teacher_loss"] is None
    frame = bd.crossover(
        load_fit(fits["distillation"]),
        student_params=1e9,
        scenario="teacher_inference",
        ci_prob=0.8,
        compute_range=(1e19, 1e25),
    )
    (row,) = document["rows"]
    assert row["extrapolation"] == {}
    assert {k: v for k, v in row.items() if k != "extrapolation"} == pytest.approx(
        frame.iloc[0].to_dict()
    )
    assert document["fit"]["file"] == str(fits["distillation"])


def test_crossover_with_an_existing_teacher(capsys, fits):
    argv = ["crossover", "--student-params", "1e9", "--teacher-loss", "2.3", "--json"]
    status, out, _ = run(capsys, [*argv, "--fit", str(fits["distillation"])])
    assert status == 0
    document = json.loads(out)
    assert document["teacher_loss"] == 2.3
    status, out, _ = run(capsys, [*argv[:-1], "--fit", str(fits["distillation"])])
    assert "from an existing teacher of loss 2.3" in out


def test_crossover_uses_the_shipped_posterior_by_default(capsys, fits, monkeypatch):
    asked = []

    def fake_fitted(name):
        asked.append(name)
        return load_fit(fits[name])

    monkeypatch.setattr(datasets, "fitted", fake_fitted)
    status, out, _ = run(capsys, ["crossover", "--student-params", "1e9"])
    assert status == 0 and out.startswith("Crossover")
    assert asked == ["distillation"]


def test_crossover_prints_the_extrapolation_and_warns_once(capsys, fits_with_runs):
    """The paper's point posterior, with distillation runs of D_S in [1e9, 1e12]: at its
    crossover (2.2e22 FLOPs) a 1e9 student trains on 3e12 tokens, 3 times the largest; a 1e10
    student (1.8e24 FLOPs) on 2.8e13, 28 times: only that one is warned about."""
    argv = ["crossover", "--student-params", "1e9", "1e10", "--fit"]
    status, out, err = run(capsys, [*argv, str(fits_with_runs["distillation"])])
    assert status == 0
    assert "(scenario 'best_case'; 1 draw, mean law;" in out
    lines = out.strip().splitlines()
    assert lines[-3] == "extrapolation (the inputs of each row beyond the fitted runs' range):"
    assert lines[-2] == (
        "  student_params=1e+09: D_S = 3e+12 is 3 x beyond the fitted runs' range [1e+09, 1e+12]"
    )
    assert lines[-1].startswith("  student_params=1e+10: D_S = 2.82e+13 is 28.2 x beyond")
    warned = err.strip().splitlines()
    assert len(warned) == 1
    assert warned[0].startswith("bayes-distill: warning: D_S = 2.82e+13 is 28.2 x beyond")
    assert "(at --student-params 1e+10; 1 of 2 students beyond the threshold)" in warned[0]
    status, out, _ = run(capsys, [*argv, str(fits_with_runs["distillation"]), "--json"])
    rows = json.loads(out)["rows"]
    assert rows[1]["D_S_fold"] == pytest.approx(rows[1]["D_S_median"] / 1e12)
    assert rows[1]["extrapolation"]["D_S"]["max"] == 1e12
    assert rows[0]["extrapolation"]["N_S"]["fold"] == 1.0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            ["--compute-range", "1e20", "1e10"],
            "--compute-range must be two numbers LO HI (FLOPs) with 0 < LO < HI, e.g. 1e18 1e27",
        ),
        (
            ["--compute-range", "1e5", "1e9"],
            "--compute-range 1e+05 1e+09 holds no range of budgets that can train the student "
            "(--student-params 1e+09)",
        ),
        (
            ["--teacher-loss", "2", "--scenario", "teacher_inference"],
            "crossover takes an existing teacher by its loss only: use --scenario best_case",
        ),
        (["--teacher-loss", "0.1"], "--teacher-loss 0.1 is outside the range"),
        (["--student-params", "1e9", "1e18"], "--student-params 1e+18 is outside the bounds"),
        (["--student-params", "-1e9"], "--student-params must be finite and positive"),
        (["--scenario", "free"], "invalid choice: 'free'"),
    ],
)
def test_crossover_errors_are_phrased_for_the_command_line(capsys, fits, extra, match):
    argv = ["crossover", "--student-params", "1e9", "--fit", str(fits["distillation"]), *extra]
    status, out, err = run(capsys, argv)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], err
    assert not PYTHONIC.search(lines[0].split(": error: ", 1)[1]), lines[0]


def test_crossover_with_a_supervised_fit_exits_2(capsys, fits):
    status, _, err = run(
        capsys, ["crossover", "--student-params", "1e9", "--fit", str(fits["chinchilla"])]
    )
    assert status == 2
    assert "crossover needs a fit of law distillation, got a 'chinchilla' fit" in err


def test_crossover_parser_defaults_and_help(capsys):
    args = build_parser().parse_args(["crossover", "--student-params", "1e9", "1e10"])
    assert args.student_params == [1e9, 1e10] and args.scenario == "best_case"
    from bayes_distill import decide

    assert tuple(args.compute_range) == (1e18, 1e27) == decide.DEFAULT_COMPUTE_RANGE
    assert args.teacher_loss is None and args.ci_prob == 0.9 and args.approx == "paper"
    status, out, _ = run(capsys, ["crossover", "--help"])
    text = " ".join(out.split())
    assert status == 0 and "examples:" in text
    assert "schema bayes_distill.crossover/1" in text
    assert "crossover --student-params 1e9 3e9 1e10" in text
    import bayes_distill.cli as cli

    assert cli.CROSSOVER_SCHEMA == "bayes_distill.crossover/1"
    assert '"schema": "bayes_distill.crossover/1"' in cli.__doc__
