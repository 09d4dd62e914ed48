"""Grouped distillation fits (issue 20): one distillation law per group, partially pooled.

The runs are SIMULATED by the package's own simulator (``bd.checks.simulate_runs``) from known
per-group laws (``TRUTH``): three families whose supervised laws differ in their floor and
amplitudes and whose distillation laws differ a little in ``c0``; the family ``SMALL`` has
distillation runs of its smallest student only. One tiny grouped fit is shared by the module
(its compiled models serve the command-line fit too).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import laws

# the module's fit is tiny (2 chains x 200 draws): functions that use it warn that it did not
# converge, which is right and not what these tests check. The SIMULATED law lets a strong
# student beat its weakest teachers (L_T = 3.0, 3.4) by more than 1%, which load_runs flags.
pytestmark = [
    pytest.mark.filterwarnings("ignore::bayes_distill.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:load_runs.*student loss more than 1% below"),
]

#: SIMULATED truth: the paper's coefficients, with each family's floor, amplitudes and c0 moved.
TRUTH = {
    "web": dict(laws.PAPER),
    "code": {**laws.PAPER, "E": 1.10, "A": 3000.0, "c0": 2.3},
    "math": {**laws.PAPER, "E": 1.35, "B": 20000.0, "c0": 2.8},
}
SMALL = "math"
TINY = {"draws": 200, "tune": 600, "chains": 2, "retries": 0}


def simulated_groups(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SIMULATED distillation runs (the default design, 45 per family, 15 for SMALL: its
    smallest student) and supervised runs (the default design, 48 per family), 0.5% noise,
    with the family in column ``family``."""
    design = bd.checks.default_design("distillation")
    dist, sup = [], []
    for i, (family, p) in enumerate(TRUTH.items()):
        d = bd.checks.simulate_runs("distillation", p, design, sigma=0.005, random_seed=seed + i)
        if family == SMALL:
            d = d[d["N_S"] == d["N_S"].min()]
        s = bd.checks.simulate_runs(
            "supervised",
            {k: p[k] for k in laws.PARAM_NAMES["supervised"]},
            sigma=0.005,
            random_seed=seed + 10 + i,
        )
        dist.append(d.assign(family=family))
        sup.append(s.assign(family=family))
    return pd.concat(dist, ignore_index=True), pd.concat(sup, ignore_index=True)


@pytest.fixture(scope="session")
def runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulated_groups()


@pytest.fixture(scope="session")
def grouped(runs) -> bd.ScalingFit:
    dist, sup = runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bd.ConvergenceWarning)  # tiny chains
        warnings.filterwarnings("ignore", "load_runs.*student loss more than 1% below")
        return bd.fit(
            dist,
            law="distillation",
            groups="family",
            supervised_runs=sup,
            random_seed=3,
            **TINY,
        )


def true_student_loss(family: str, x: pd.DataFrame) -> np.ndarray:
    return np.asarray(laws.distillation_loss(x["N_S"], x["D_S"], x["L_T"], **TRUTH[family]))


# --- the model ------------------------------------------------------------------------------


def test_posterior_has_one_distillation_law_per_group(grouped):
    post = grouped.posterior
    assert grouped.group_names == ("code", "math", "web")
    for name in laws.SAMPLED_NAMES["distillation"]:
        assert post[name].dims == ("chain", "draw", "law_group"), name
        # the population of every parameter: distillation-only ones from the pooled second
        # stage, supervised ones from the grouped first stage
        assert {f"{name}_mu", f"{name}_sd"} <= set(post.data_vars), name
    assert post["infinite_data_gap"].dims == ("chain", "draw", "law_group", "limit_student")
    fixed = grouped.supervised_fixed
    assert set(fixed) == set(laws.SAMPLED_NAMES["supervised"])
    assert all(len(v) == 3 for v in fixed.values())
    # the student's own supervised loss is held at each group's first-stage median
    for g, name in enumerate(grouped.group_names):
        median = float(np.median(post["log_E"].sel(law_group=name)))
        assert fixed["log_E"][g] == pytest.approx(median, abs=0.05)
    assert "two-stage (cut)" in repr(grouped) and "by group ('family')" in repr(grouped)


def test_parameter_recovery_on_simulated_groups(grouped, runs):
    """SIMULATED truth: each family's law predicts its noise-free losses within a fraction of
    a percent where it has runs; the family with one student, at the two larger students it
    has no run of, within a few percent (it borrows the other families' student exponents)."""
    design = bd.checks.default_design("distillation")
    for family in TRUTH:
        x = design.assign(family=family)
        error = np.abs(grouped.predict(x)["median"] / true_student_loss(family, x) - 1)
        seen = (x["N_S"] == x["N_S"].min()) if family == SMALL else np.ones(len(x), bool)
        assert np.median(error[seen]) < 0.005, family
        assert np.median(error[~seen]) < 0.03 if family == SMALL else True
        sup = bd.checks.default_design("supervised")
        law = grouped.for_group(family).log_supervised_mean(sup["N"], sup["D"])
        truth = laws.supervised_loss(
            sup["N"], sup["D"], **{k: TRUTH[family][k] for k in laws.PARAM_NAMES["supervised"]}
        )
        assert np.median(np.abs(np.exp(np.median(law, axis=0)) / truth - 1)) < 0.01, family


def test_loglik_covers_every_run(grouped, runs):
    tree = grouped.posterior_predictive(random_seed=0)
    assert tree["log_likelihood"]["obs"].shape[-1] == len(runs[0])
    assert np.isfinite(tree["log_likelihood"]["obs"].values).all()


# --- predictions and decisions by group -----------------------------------------------------


def test_predict_uses_each_rows_group(grouped):
    new = pd.DataFrame(
        {"N_S": [5.5e8] * 3, "D_S": [1.1e10] * 3, "L_T": [2.2] * 3, "family": list(TRUTH)}
    )
    out = grouped.predict(new)
    assert out["median"].nunique() == 3
    one = grouped.for_group("code").predict(new.iloc[[1]].drop(columns="family"))
    assert one["median"].iloc[0] == pytest.approx(out["median"].iloc[1])
    # a teacher given by its size and tokens: its loss from its own group's supervised law
    by_size = new.drop(columns="L_T").assign(N_T=3e9, D_T=6e10)
    out = grouped.predict(by_size)
    one = grouped.for_group("code").predict(by_size.iloc[[1]].drop(columns="family"))
    assert one["median"].iloc[0] == pytest.approx(out["median"].iloc[1])


def test_a_new_group_draws_from_the_population(grouped):
    new = pd.DataFrame(
        {"N_S": [5.5e8] * 2, "D_S": [1.1e10] * 2, "L_T": [2.2] * 2, "family": ["web", "new"]}
    )
    out = grouped.predict(new, random_seed=1)
    width = out["upper"] - out["lower"]
    assert np.isfinite(width).all() and width.iloc[1] > 2 * width.iloc[0]
    pd.testing.assert_frame_equal(out, grouped.predict(new, random_seed=1))


def test_one_groups_view(grouped, runs):
    dist, sup = runs
    view = grouped.for_group(SMALL)
    assert len(view.runs) == (dist["family"] == SMALL).sum()
    assert len(view.supervised_runs) == (sup["family"] == SMALL).sum()
    at = grouped.group_names.index(SMALL)
    assert view.model.student_supervised == {
        k: pytest.approx(v[at]) for k, v in grouped.supervised_fixed.items()
    }
    assert view.posterior["c0"].dims == ("chain", "draw")
    assert "c0_mu" not in view.posterior and "alpha_mu" not in view.posterior


def test_groups_plot(grouped):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = bd.plots.groups(grouped, var_names=["E", "c0", "alpha_prime"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["code (45 runs)", "math (15 runs)", "web (45 runs)"]
    plt.close(fig)


def test_compute_optimal_and_recommend_by_group(grouped):
    web = bd.compute_optimal(grouped, 1e21, group="web")
    pd.testing.assert_frame_equal(web, bd.compute_optimal(grouped.for_group("web"), 1e21))
    a = bd.recommend(grouped, 1e21, 1e9, group="code", random_seed=0)
    b = bd.recommend(grouped.for_group("code"), 1e21, 1e9, random_seed=0)
    assert a.allocation == b.allocation
    sweep = bd.recommend_sweep(grouped, [1e21, 3e21], 1e9, group="web", random_seed=0)
    assert len(sweep) == 2 and np.isfinite(sweep["D_S"]).all()
    for function in (bd.recommend, bd.recommend_sweep):
        with pytest.raises(ValueError, match=r"group='prose' is not a group .* 'code', 'math'"):
            function(grouped, 1e21, 1e9, group="prose")
    with pytest.raises(ValueError, match=r"pass group= one of 'code', 'math', 'web'"):
        bd.recommend(grouped, 1e21, 1e9)


def test_save_and_load_keep_the_groups_of_both_tables(grouped, tmp_path):
    loaded = bd.load_fit(grouped.save(tmp_path / "grouped.nc"))
    assert list(loaded.supervised_runs["family"]) == list(grouped.supervised_runs["family"])
    assert loaded.config["data_sha256"] == grouped.config["data_sha256"]
    assert loaded.supervised_fixed == grouped.supervised_fixed
    new = pd.DataFrame({"N_S": [5.5e8], "D_S": [1.1e10], "L_T": [2.2], "family": ["math"]})
    pd.testing.assert_frame_equal(loaded.predict(new), grouped.predict(new))


def test_data_hash_depends_on_the_supervised_groups(runs):
    from bayes_distill.persistence import _data_hash

    dist, sup = runs
    swapped = sup.assign(family=sup["family"].replace({"web": "code", "code": "web"}))
    assert _data_hash("distillation", dist, sup, "family") != _data_hash(
        "distillation", dist, swapped, "family"
    )


# --- what is refused (no sampling) ----------------------------------------------------------


@pytest.fixture
def no_sampling(monkeypatch):
    from bayes_distill import sampling

    def sampler_called(*args, **kwargs):
        raise AssertionError("fit() started sampling before validating its arguments")

    monkeypatch.setattr(sampling, "_sample", sampler_called)


def test_refused_combinations(no_sampling, runs):
    dist, sup = runs
    with pytest.raises(ValueError, match=r"groups='family': a grouped distillation fit needs"):
        bd.fit(dist, law="distillation", groups="family")
    with pytest.raises(ValueError, match=r"supervised='joint' with groups='family'.*'cut'"):
        bd.fit(dist, law="distillation", groups="family", supervised_runs=sup, supervised="joint")
    with pytest.raises(bd.DataValidationError, match=r"is not a column of supervised_runs"):
        bd.fit(
            dist,
            law="distillation",
            groups="family",
            supervised_runs=sup.drop(columns="family"),
        )
    fewer = sup[sup["family"] != "web"]
    with pytest.raises(bd.DataValidationError, match=r"groups \['web'\] have no supervised runs"):
        bd.fit(dist, law="distillation", groups="family", supervised_runs=fewer)


# --- command line ---------------------------------------------------------------------------


def test_cli_fit_with_groups(grouped, runs, tmp_path, capsys, monkeypatch):
    """``fit --groups`` with ``--supervised-runs`` (after the module's fit, whose compiled
    models it reuses; without retries, which 20 draws would spend in vain)."""
    import functools

    from bayes_distill import sampling
    from bayes_distill.cli import main

    monkeypatch.setattr(sampling, "fit", functools.partial(sampling.fit, retries=0))
    dist, sup = runs
    dist.to_csv(tmp_path / "dist.csv", index=False)
    sup.to_csv(tmp_path / "sup.csv", index=False)
    out = tmp_path / "grouped.nc"
    argv = ["fit", str(tmp_path / "dist.csv"), "--law", "distillation", "--groups", "family"]
    argv += ["--supervised-runs", str(tmp_path / "sup.csv"), "--out", str(out)]
    argv += ["--draws", "20", "--tune", "20", "--chains", "1", "--seed", "1", "--no-progress"]
    assert main(argv) == 0
    loaded = bd.load_fit(out)
    assert loaded.groups == "family" and loaded.group_names == grouped.group_names
    assert "family" in loaded.supervised_runs
    capsys.readouterr()
    path = str(grouped.save(tmp_path / "g.nc"))
    argv = ["recommend", "--fit", path, "--compute", "1e21", "--student-params", "1e9"]
    assert main([*argv, "--group", "web"]) == 0
    assert "Distillation recommendation" in capsys.readouterr().out
