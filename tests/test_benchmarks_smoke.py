"""Smoke tests of the benchmarks (issue 6).

The classical fitter in ``benchmarks/common.py`` must be right for the comparison to mean
anything: it is checked against Epoch AI's plain Huber fit of the bundled Chinchilla runs and
against a direct transcription of the log-sum-exp objective. Each script must run end to end
with ``--quick``. No speed goal is asserted here: speed goals live in issue 6 and in
``benchmarks/README.md``, never in timed tests.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayes_distill as bd

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chinchilla():
    return bd.datasets.load("chinchilla")


def test_huber(common):
    r = np.array([-1.0, -1e-3, 0.0, 5e-4, 2e-3])
    expected = np.array([1e-3 * (1.0 - 5e-4), 0.5e-6, 0.0, 0.5 * 25e-8, 1e-3 * (2e-3 - 5e-4)])
    np.testing.assert_allclose(common.huber(r, 1e-3), expected, rtol=1e-12)


def test_chinchilla_objective_matches_log_sum_exp(common, chinchilla):
    # Oracle: Epoch's objective written out directly.
    log_N, log_D, log_L = common.chinchilla_arrays(chinchilla)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b, e = rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(-1, 1)
        alpha, beta = rng.uniform(0.1, 1.0, 2)
        pred = np.log(np.exp(a - alpha * log_N) + np.exp(b - beta * log_D) + np.exp(e))
        r = log_L - pred
        d = 1e-3
        oracle = np.sum(np.where(np.abs(r) <= d, 0.5 * r**2, d * (np.abs(r) - 0.5 * d)))
        got = common.chinchilla_objective(np.array([a, b, e, alpha, beta]), log_N, log_D, log_L)
        assert got == pytest.approx(oracle, rel=1e-10)


def test_grids(common):
    hoff, g108, dist = common.hoffmann_grid(), common.grid108(), common.distillation_grid()
    assert hoff.shape == (4500, 5)
    assert g108.shape == (108, 5)
    assert dist.shape == (512, 9)
    assert {tuple(x) for x in g108} <= {tuple(x) for x in hoff}
    assert len(common.spread_subset(hoff, 450)) == 450


def test_classical_chinchilla_reproduces_epoch_plain_huber_fit(common, chinchilla):
    starts = common.spread_subset(common.grid108(), 6)
    res = common.fit_chinchilla_classical(chinchilla, starts)
    got = common.chinchilla_natural(res.x)
    ref = common.EPOCH_PLAIN_HUBER  # A 477.4, B 2143, E 1.8172, alpha 0.3473, beta 0.3672
    assert got["A"] == pytest.approx(ref["A"], rel=5e-3)
    assert got["B"] == pytest.approx(ref["B"], rel=5e-3)
    assert got["E"] == pytest.approx(ref["E"], abs=2e-4)
    assert got["alpha"] == pytest.approx(ref["alpha"], abs=5e-4)
    assert got["beta"] == pytest.approx(ref["beta"], abs=5e-4)


def test_simulations_follow_the_law(common):
    # Noise-free simulated runs have a zero classical objective at the true parameters, which
    # checks the simulators and both objectives' parameterisations together.
    runs, truth = common.simulate_supervised(200, seed=3, noise=0.0)
    theta = [np.log(truth["A"]), np.log(truth["B"]), np.log(truth["E"])]
    theta += [truth["alpha"], truth["beta"]]
    assert common.chinchilla_objective(theta, *common.chinchilla_arrays(runs)) < 1e-20
    runs, truth = common.simulate_distillation(200, seed=3, noise=0.0)
    theta = [
        np.log(truth["A_prime"]),
        np.log(truth["B_prime"]),
        truth["alpha_prime"],
        truth["beta_prime"],
        truth["gamma_prime"],
        truth["c0"],
        np.log(truth["c1"]),
        np.log(truth["f1"]),
        np.log(truth["d1"]),
    ]
    assert common.distillation_objective(theta, *common.distillation_arrays(runs)) < 1e-20
    assert common.distillation_objective(np.add(theta, 0.05), *common.distillation_arrays(runs))
    assert len(runs) == 200 and (runs["L_S"] > runs["L_T"]).all()


def test_instrument_restores_the_samplers(common):
    import nutpie
    import pymc

    from bayes_distill import _nutpie

    before = (_nutpie.compile_model, nutpie.sample, pymc.sample)
    with common.Instrument(adaptation="diag"):
        assert nutpie.sample is not before[1]
        assert _nutpie.compile_model is not before[0]
    assert (_nutpie.compile_model, nutpie.sample, pymc.sample) == before


#: Scripts whose ``--quick`` run is checked below, slowest first.
QUICK_SCRIPTS = (
    "first_fit.py",
    "samplers.py",
    "convergence.py",
    "fit_vs_classical.py",
    "executor.py",
    "next_run_study.py",
    "scaling.py",
    "many_runs.py",
    "geometry.py",
    "next_run_speed.py",
    "paper_findings.py",
    "distill_map_speed.py",
    "groups_study.py",
    "groups_distill_study.py",
    "convergence_suite.py",
)


def _run_quick(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


#: The non-parametrised tests below and the script each checks.
_SCRIPT_OF_TEST = {
    "test_paper_findings_quick": "paper_findings.py",
    "test_distill_map_speed_quick": "distill_map_speed.py",
}


@pytest.fixture(scope="module")
def quick_runs(request):
    """The ``--quick`` runs of the scripts that the selected tests check, started together on
    two worker threads when the first of them asks (each is a subprocess: while one compiles or
    imports, the other samples), so that the module waits for the slowest pair rather than for
    the sum of all."""
    from concurrent.futures import ThreadPoolExecutor

    selected = set()
    for item in request.session.items:
        if item.module is not request.module or "quick_runs" not in item.fixturenames:
            continue
        callspec = getattr(item, "callspec", None)
        selected.add(callspec.params["script"] if callspec else _SCRIPT_OF_TEST[item.name])
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {s: pool.submit(_run_quick, s) for s in QUICK_SCRIPTS if s in selected}


@pytest.mark.slow
@pytest.mark.benchmarks
@pytest.mark.parametrize(
    "script",
    [
        "fit_vs_classical.py",
        "samplers.py",
        "scaling.py",
        "first_fit.py",
        "convergence.py",
        "geometry.py",
        "many_runs.py",
        "executor.py",
        "next_run_speed.py",
        "next_run_study.py",
        "groups_study.py",
        "convergence_suite.py",
        "groups_distill_study.py",
    ],
)
def test_script_runs_quick(script, quick_runs):
    proc = quick_runs[script].result()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "load average at start" in out and "load average at end" in out
    assert "## Summary" in out
    if script == "fit_vs_classical.py":
        assert "ratio (a)/(b)" in out and "Epoch plain Huber" in out and "ratio (a)/(d)" in out
    elif script == "first_fit.py":
        assert "ratio to baseline" in out and "cold" in out and "warm" in out
    elif script == "geometry.py":
        assert "largest_eig_median" in out and "chinchilla (reference)" in out
    elif script == "convergence.py":
        assert "pass_rate" in out and "| default | 1    |" in out
    elif script == "scaling.py":
        assert "Growth exponents" in out and "SIMULATED" in out
    elif script == "next_run_speed.py":
        assert "ratio_to_baseline" in out and "target" in out
    elif script == "next_run_study.py":
        assert "SIMULATED" in out and "median_ratio" in out and "next_run_regret_mean" in out
        assert "At equal FLOPs" in out and "Per repetition" in out
    elif script == "convergence_suite.py":
        assert "passed diagnose():" in out and "SIMULATED" in out and "bundled:" in out
    elif script == "many_runs.py":
        assert "SIMULATED" in out and "steps_per_draw_by_chain" in out and "| default |" in out
    elif script == "executor.py":
        assert "| processes |" in out and "| False |" not in out  # same tables every way


def test_vp_fit_recovers_a_noise_free_law(common):
    """The variable-projection anchor finds the law it is given (SIMULATED, noise-free)."""
    truth = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(5e7, 1e10, 9), np.geomspace(1e9, 3e11, 9)))
    s = bd.laws.to_sampled("chinchilla", truth)
    loss = np.exp(bd.laws.log_supervised(bd.laws.NUMPY, np.log(N), np.log(D), **s))
    got = common.vp_fit_chinchilla(N, D, loss)
    for k, v in truth.items():
        assert got.params[k] == pytest.approx(v, rel=1e-3), k
    assert got.rss < 1e-12


def test_convergence_configurations():
    spec = importlib.util.spec_from_file_location("bench_convergence", BENCH / "convergence.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.parse_config("default") == {}
    assert module.parse_config("tune=500, draws=1500") == {"tune": "500", "draws": "1500"}
    kwargs = module.fit_kwargs("distillation", module.parse_config("tune=500,fix=gamma_prime"))
    assert kwargs["tune"] == 500 and "draws" not in kwargs  # bd.fit's DEFAULT_DRAWS
    prior = kwargs["priors"]["gamma_prime"]
    assert prior.dist == "LogNormal" and prior.params["sigma"] == 0.01
    with pytest.raises(SystemExit, match=r"tunes=5.*key one of tune, draws, chains"):
        module.parse_config("tunes=5")
    assert module.fit_kwargs("chinchilla", module.parse_config("chains=2"))["chains"] == 2
    # distillation fits take the bundled teachers as supervised runs unless told otherwise
    assert kwargs["supervised"] == "cut" and len(kwargs["supervised_runs"]) == 10
    none = module.fit_kwargs("distillation", module.parse_config("supervised=none"))
    assert "supervised_runs" not in none


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_convergence_anchor_ratios(monkeypatch, capsys):
    """``--anchor`` times the VP bootstrap on the same runs and divides each configuration's
    median warm fit by it; it is the Chinchilla law's anchor only."""
    module = _bench_module("convergence")
    with pytest.raises(SystemExit):
        module.main(["--anchor"])
    assert "use --law chinchilla" in capsys.readouterr().err

    def fake_config(law, runs, text, seeds, quick):
        row = dict.fromkeys(module.ROW_COLUMNS, 0)
        return [{**row, "config": text, "seed": s, "wall_s": 3.0 + s} for s in seeds]

    timed = []

    def fake_bootstrap(runs, n_resamples, seed=0):
        timed.append((len(runs), n_resamples))
        return [], 2.0

    monkeypatch.setattr(module, "run_config", fake_config)
    monkeypatch.setattr(module.c, "vp_bootstrap", fake_bootstrap)
    module.main(["--law", "chinchilla", "--anchor", "--seeds", "1,2,3", "--configs", "default"])
    out = capsys.readouterr().out
    assert timed == [(len(bd.datasets.load("chinchilla")), 1000)]
    summary = out.split("## Summary", 1)[1].splitlines()
    assert "ratio_to_vp_bootstrap" in summary[1]
    assert summary[3].split("|")[-2].strip() == "2.5"  # median 5.0 s / 2.0 s


@pytest.mark.parametrize(
    ("scenario", "risk"),
    [("best_case", 0.1), ("teacher_inference", 0.5), ("teacher_pretraining", 0.1)],
)
def test_screen_of_the_true_law_decides_right(scenario, risk):
    """``next_run_study --screen``: a fit that is the true law makes the true best decision at
    every budget and student (regret 0), distilling exactly where the true gap is negative, in
    each scenario and at each risk tolerance the study takes."""
    module = _bench_module("next_run_study")
    args = module.parse_args(["--screen", "1", "--scenario", scenario, "--risk", str(risk)])
    assert (args.scenario, args.risk) == (scenario, risk)
    truth = bd.ScalingFit.from_params("distillation", module.TRUTH)
    rows = module.screen_rows(truth, design=7, scenario=scenario, risk=risk)
    assert len(rows) == len(module.SCREEN_STUDENTS) * len(module.SCREEN_COMPUTE)
    for row in rows:
        assert row["design"] == 7
        assert row["true_regret"] == pytest.approx(0.0, abs=1e-9), row
        assert row["decision"] == (
            "distil" if row["true_distil_minus_supervised"] < 0 else "supervised"
        )
        assert row["decision"] == (
            "distil" if row["distil_at_risk"] < row["supervised_at_risk"] else "supervised"
        )
        assert row["distil_spent"] <= row["compute"]
        assert "supervised_at_risk_distance_noise" not in row  # only with a supervised fit


@pytest.mark.slow
@pytest.mark.benchmarks
def test_paper_findings_quick(quick_runs):
    proc = quick_runs["paper_findings.py"].result()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "load average at start" in out and "load average at end" in out
    assert "two-stage (cut)" in out and "paper P" in out
    assert sum(line.startswith("best_case") for line in out.splitlines()) == 2


@pytest.mark.slow
@pytest.mark.benchmarks
def test_distill_map_speed_quick(quick_runs):
    proc = quick_runs["distill_map_speed.py"].result()
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split() for line in proc.stdout.splitlines()]
    timed = [r for r in rows if r and r[0] in ("best_case", "teacher_pretraining")]
    assert [r[1] for r in timed] == ["25", "25"]  # cells of the quick grid
