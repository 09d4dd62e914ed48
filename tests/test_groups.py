"""Grouped fits with partial pooling (issue 20): one law per group, pooled through a hierarchy.

The runs are SIMULATED from known per-group Chinchilla laws (``simulated_groups``). Two tiny
fits are shared by the module: the grouped fit of three families, one of which has few runs,
and that small family fitted alone.
"""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest

import bayes_distill as bd
from bayes_distill import laws
from bayes_distill import model as model_mod

matplotlib.use("Agg")

# the module's fits are tiny (2 chains x 250 draws): functions that use them warn that they
# did not converge, which is right and not what these tests check
pytestmark = pytest.mark.filterwarnings("ignore::bayes_distill.ConvergenceWarning")

#: SIMULATED truth: three families of one architecture on different data.
TRUTH = {
    "web": {"E": 1.80, "A": 450.0, "B": 2200.0, "alpha": 0.34, "beta": 0.37},
    "code": {"E": 1.55, "A": 520.0, "B": 1700.0, "alpha": 0.36, "beta": 0.35},
    "math": {"E": 2.00, "A": 380.0, "B": 2600.0, "alpha": 0.32, "beta": 0.38},
}
SMALL = "math"
TINY = {"draws": 250, "tune": 300, "chains": 2, "retries": 0}


def simulated_groups(seed: int = 0, small_runs: int = 8) -> pd.DataFrame:
    """SIMULATED runs: 40 per family on a grid of sizes and tokens, ``small_runs`` for SMALL
    (its smallest sizes), 0.5% log-normal noise."""
    rng = np.random.default_rng(seed)
    NN, RR = np.meshgrid(np.geomspace(5e7, 2e10, 8), np.geomspace(5, 100, 5))
    N, D = NN.ravel(), (NN * RR).ravel()
    frames = []
    for family, params in TRUTH.items():
        keep = np.argsort(N, kind="stable")[:small_runs] if family == SMALL else slice(None)
        n, d = N[keep], D[keep]
        loss = laws.supervised_loss(n, d, **params) * np.exp(rng.normal(0, 0.005, n.size))
        frames.append(pd.DataFrame({"N": n, "D": d, "loss": loss, "family": family}))
    return pd.concat(frames, ignore_index=True)


def quiet_fit(runs, **kwargs) -> bd.ScalingFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bd.ConvergenceWarning)  # tiny chains
        return bd.fit(runs, law="chinchilla", random_seed=3, **TINY, **kwargs)


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return simulated_groups()


@pytest.fixture(scope="module")
def grouped(runs) -> bd.ScalingFit:
    return quiet_fit(runs, groups="family")


@pytest.fixture(scope="module")
def small_alone(runs) -> bd.ScalingFit:
    return quiet_fit(runs[runs["family"] == SMALL].drop(columns="family"))


# --- the model ------------------------------------------------------------------------------


def test_posterior_has_one_law_per_group(grouped):
    post = grouped.posterior
    assert grouped.group_names == ("code", "math", "web")
    assert grouped.groups == "family"
    for name in laws.SAMPLED_NAMES["chinchilla"]:
        assert post[name].dims == ("chain", "draw", "law_group")
        assert list(post[name]["law_group"].values) == ["code", "math", "web"]
        assert {f"{name}_mu", f"{name}_sd"} <= set(post.data_vars)
        # every group centred (the exponents on the log scale)
        sampled = f"{name}_log" if name in ("alpha", "beta") else f"{name}_c"
        assert post[sampled].dims == ("chain", "draw", "law_group")
    assert grouped.params["alpha"].dims == ("chain", "draw", "law_group")


def test_parameter_recovery_on_simulated_groups(grouped):
    """SIMULATED truth inside the groups' 95% intervals (tiny chains: a loose check)."""
    for family, truth in TRUTH.items():
        for name in ("E", "alpha", "beta"):
            draws = grouped.params[name].sel(law_group=family).values
            lo, hi = np.quantile(draws, [0.025, 0.975])
            assert lo <= truth[name] <= hi, f"{family} {name}: {truth[name]} not in [{lo}, {hi}]"


def test_a_small_group_borrows_strength(grouped, small_alone):
    """Partial pooling: the family with 8 runs has narrower exponents than fitted alone."""
    for name in ("alpha", "beta"):
        pooled = grouped.params[name].sel(law_group=SMALL).values
        alone = small_alone.params[name].values
        assert np.std(pooled) < 0.7 * np.std(alone), name


def test_loglik_and_posterior_predictive_cover_every_run(grouped, runs):
    tree = grouped.posterior_predictive(random_seed=0)
    assert tree["log_likelihood"]["obs"].shape[-1] == len(runs)
    assert np.isfinite(tree["log_likelihood"]["obs"].values).all()
    assert np.isfinite(tree["posterior_predictive"]["obs"].values).all()


def test_summary_and_repr_by_group(grouped):
    table = grouped.summary()
    for family in TRUTH:
        assert f"alpha[{family}]" in table.index and f"E[{family}]" in table.index
    assert "alpha_sd" in table.index
    text = repr(grouped)
    assert "by group ('family')" in text and all(f in text for f in TRUTH)


# --- predictions and decisions by group -----------------------------------------------------


def test_predict_uses_each_rows_group(grouped):
    new = pd.DataFrame({"N": [2e9] * 3, "D": [4e10] * 3, "family": ["web", "code", "math"]})
    out = grouped.predict(new)
    expected = {f: laws.supervised_loss(2e9, 4e10, **TRUTH[f]) for f in TRUTH}
    for i, family in enumerate(new["family"]):
        assert out["lower"].iloc[i] < expected[family] < out["upper"].iloc[i], family
    one = grouped.for_group("code").predict(new.iloc[[1]].drop(columns="family"))
    assert one["median"].iloc[0] == pytest.approx(out["median"].iloc[1])


def test_a_new_group_draws_from_the_population(grouped):
    new = pd.DataFrame({"N": [2e9, 2e9], "D": [4e10, 4e10], "family": ["web", "unseen"]})
    out = grouped.predict(new, random_seed=1)
    width = out["upper"] - out["lower"]
    assert width.iloc[1] > 2 * width.iloc[0]
    again = grouped.predict(new, random_seed=1)
    pd.testing.assert_frame_equal(out, again)


def test_predict_needs_the_group_column(grouped):
    with pytest.raises(bd.DataValidationError, match=r"groups='family' is not a column of new_"):
        grouped.predict(pd.DataFrame({"N": [1e9], "D": [2e10]}))


def test_compute_optimal_by_group(grouped):
    web = bd.compute_optimal(grouped, 1e21, group="web")
    same = bd.compute_optimal(grouped.for_group("web"), 1e21)
    pd.testing.assert_frame_equal(web, same)
    code = bd.compute_optimal(grouped, 1e21, group="code")
    assert web["loss_median"].iloc[0] > code["loss_median"].iloc[0]  # code's floor is lower


def test_compute_optimal_group_errors(grouped, small_alone):
    with pytest.raises(ValueError, match=r"pass group= one of 'code', 'math', 'web'"):
        bd.compute_optimal(grouped, 1e21)
    with pytest.raises(ValueError, match=r"group='prose' is not a group .* 'code', 'math'"):
        bd.compute_optimal(grouped, 1e21, group="prose")
    with pytest.raises(ValueError, match=r"group='web' needs a grouped fit"):
        bd.compute_optimal(small_alone, 1e21, group="web")


def test_recommend_group_errors(grouped, small_alone):
    paper = bd.ScalingFit.from_params("distillation", laws.PAPER)
    for function in (bd.recommend, bd.recommend_sweep):
        with pytest.raises(ValueError, match=r"recommend: group='prose' is not a group .* 'math'"):
            function(grouped, 1e21, 1e9, group="prose")
        with pytest.raises(ValueError, match=r"recommend: group='web' needs a grouped fit"):
            function(paper, 1e21, 1e9, group="web")
        # a grouped supervised law has no distillation law to recommend with
        with pytest.raises(ValueError, match=r"distillation"):
            function(grouped, 1e21, 1e9, group="web")
    with pytest.raises(ValueError, match=r"distillation"):
        bd.recommend(grouped, 1e21, 1e9)


def test_recommend_with_group_none_is_unchanged():
    paper = bd.ScalingFit.from_params("distillation", laws.PAPER)
    a = bd.recommend(paper, 1e21, 1e9, scenario="best_case", group=None)
    b = bd.recommend(paper, 1e21, 1e9, scenario="best_case")
    assert a.allocation == b.allocation


def test_functions_of_one_law_refuse_a_grouped_fit(grouped):
    with pytest.raises(ValueError, match=r"loss_vs_compute evaluates one law.*for_group"):
        bd.plots.loss_vs_compute(grouped)
    with pytest.raises(ValueError, match=r"one value per law group"):
        grouped.log_supervised_mean(1e9, 2e10)


def test_one_groups_view(grouped, runs):
    view = grouped.for_group("math")
    assert view.group == "math" and len(view.runs) == (runs["family"] == "math").sum()
    assert view.posterior["alpha"].dims == ("chain", "draw")
    np.testing.assert_array_equal(
        view.params["alpha"].values, grouped.params["alpha"].sel(law_group="math").values
    )
    assert "law group 'math'" in repr(view)
    fig = bd.plots.loss_vs_compute(view)
    assert fig.axes
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match=r"group='web' needs a grouped fit .* group 'math''s law"):
        view.for_group("web")


def test_groups_plot(grouped):
    import matplotlib.pyplot as plt

    fig = bd.plots.groups(grouped, var_names=["E", "alpha"])
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["code (40 runs)", "math (8 runs)", "web (40 runs)"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"var_names \['tau'\] are not parameters"):
        bd.plots.groups(grouped, var_names=["tau"])


# --- persistence ----------------------------------------------------------------------------


def test_save_and_load_keep_the_groups(grouped, tmp_path):
    path = grouped.save(tmp_path / "grouped.nc")
    loaded = bd.load_fit(path)
    assert loaded.groups == "family" and loaded.group_names == grouped.group_names
    assert list(loaded.runs["family"]) == list(grouped.runs["family"])
    assert loaded.config["data_sha256"] == grouped.config["data_sha256"]
    new = pd.DataFrame({"N": [3e9], "D": [6e10], "family": ["code"]})
    pd.testing.assert_frame_equal(loaded.predict(new), grouped.predict(new))
    view = bd.load_fit(grouped.for_group("web").save(tmp_path / "web.nc"))
    assert view.group == "web"
    pd.testing.assert_frame_equal(
        bd.compute_optimal(view, 1e21), bd.compute_optimal(grouped, 1e21, group="web")
    )


def test_data_hash_depends_on_the_groups(runs):
    from bayes_distill.persistence import _data_hash

    swapped = runs.assign(family=runs["family"].replace({"web": "code", "code": "web"}))
    assert _data_hash("chinchilla", runs, None, "family") != _data_hash(
        "chinchilla", swapped, None, "family"
    )
    assert _data_hash("chinchilla", runs) == _data_hash("chinchilla", swapped)


# --- errors (no sampling) -------------------------------------------------------------------


@pytest.fixture
def no_sampling(monkeypatch):
    from bayes_distill import sampling

    def sampler_called(*args, **kwargs):
        raise AssertionError("fit() started sampling before validating its arguments")

    monkeypatch.setattr(sampling, "_sample", sampler_called)


@pytest.mark.parametrize(
    ("edit", "groups", "match"),
    [
        (
            lambda r: r,
            "Family",
            r"groups='Family' is not a column of runs .* Did you mean 'family'",
        ),
        (lambda r: r, 3, r"groups must be the name of a column of runs .* got 3"),
        (lambda r: r.assign(family="web"), "family", r"holds a single group \('web'\)"),
        (
            lambda r: r.assign(family=r["family"].where(r.index != 5)),
            "family",
            r"1 missing labels, first at row 5",
        ),
        (
            lambda r: r.assign(family=np.where(r.index < 2, "tiny", r["family"])),
            "family",
            r"group 'tiny' has fewer than 3 runs",
        ),
    ],
)
def test_group_column_errors(no_sampling, runs, edit, groups, match):
    with pytest.raises(bd.DataValidationError, match=match):
        bd.fit(edit(runs), law="chinchilla", groups=groups)


def test_the_spreads_priors_can_be_set(runs):
    from bayes_distill.priors import GROUP_SD_PRIORS, Prior, resolve_priors

    wide = Prior("LogNormal", mu=np.log(0.1), sigma=0.5)
    resolved = resolve_priors("chinchilla", {"alpha_sd": wide}, grouped=True)
    assert resolved["alpha_sd"] == wide and resolved["beta_sd"] == GROUP_SD_PRIORS["beta"]
    assert (
        resolve_priors("chinchilla", "paper", grouped=True)["log_E_sd"] == GROUP_SD_PRIORS["log_E"]
    )
    inputs = model_mod.prepare_inputs("chinchilla", runs, None, "family")
    built = model_mod.ScalingModel(
        "chinchilla", discrepancy="none", noise="constant", inputs=inputs
    ).pymc(resolved)
    import pymc as pm

    expected = pm.LogNormal.dist(mu=np.log(0.1), sigma=0.5)
    for value in (0.02, 0.1):
        assert float(pm.logp(built["alpha_sd"], value).eval()) == pytest.approx(
            float(pm.logp(expected, value).eval())
        )
    with pytest.raises(ValueError, match=r"'alpha_sd' .* belong to grouped fits"):
        resolve_priors("chinchilla", {"alpha_sd": wide})


def test_the_group_column_survives_load_runs(runs):
    loaded = bd.load_runs(runs)
    assert list(loaded["family"]) == list(runs["family"])


def test_law_groups_lookup():
    g = model_mod.LawGroups.from_labels(np.array(["b", "a", "b", "c"]))
    assert g.names == ("a", "b", "c")
    np.testing.assert_array_equal(g.index, [1, 0, 1, 2])
    np.testing.assert_array_equal(g.lookup(["c", "x", "a"]), [2, -1, 0])


def test_offsets_per_group_and_size_and_noise_by_distance(runs):
    """The grouped model with its optional parts on: offsets per (group, model size), and the
    noise growing with each run's distance from its own group's runs."""
    fit = quiet_fit(runs, groups="family", discrepancy="groups", noise="distance")
    inputs = fit.model.inputs
    # every family has the same sizes, yet no two families share an offset
    n_sizes = sum(len(np.unique(runs.loc[runs["family"] == f, "N"])) for f in TRUTH)
    assert inputs.groups["size"].n == n_sizes
    assert isinstance(inputs.frame, model_mod.GroupFrames)
    centre, _ = inputs.loss_standardisation()
    assert len(np.unique(np.round(centre, 12))) == 3  # each run standardised by its family
    new = pd.DataFrame({"N": [2e9, 2e9], "D": [4e10, 4e10], "family": ["code", "unseen"]})
    out = fit.predict(new, kind="predictive", random_seed=0)
    assert np.isfinite(out[["median", "lower", "upper"]].to_numpy()).all()
    assert np.isfinite(fit.posterior_predictive(random_seed=0)["log_likelihood"]["obs"]).all()
    view = fit.for_group("code")
    assert np.isfinite(bd.compute_optimal(view, 1e21)["N_median"]).all()


# --- command line ---------------------------------------------------------------------------


def test_cli_fit_with_groups(runs, tmp_path, capsys):
    from bayes_distill.cli import main

    table = tmp_path / "runs.csv"
    runs.to_csv(table, index=False)
    out = tmp_path / "grouped.nc"
    argv = ["fit", str(table), "--law", "chinchilla", "--groups", "family", "--out", str(out)]
    argv += ["--draws", "30", "--tune", "30", "--chains", "1", "--seed", "1", "--no-progress"]
    assert main(argv) == 0
    loaded = bd.load_fit(out)
    assert loaded.groups == "family" and loaded.group_names == ("code", "math", "web")
    capsys.readouterr()
    assert (
        main(
            [
                "fit",
                str(table),
                "--law",
                "chinchilla",
                "--groups",
                "dataset",
                "--out",
                str(tmp_path / "x.nc"),
                "--draws",
                "5",
                "--tune",
                "5",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "dataset" in capsys.readouterr().err


def test_cli_compute_optimal_and_recommend_by_group(grouped, tmp_path, capsys):
    import json

    from bayes_distill.cli import main

    path = str(grouped.save(tmp_path / "grouped.nc"))
    argv = ["compute-optimal", "--compute", "1e21", "--fit", path, "--json"]
    assert main([*argv, "--group", "web"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    expected = bd.compute_optimal(bd.load_fit(path), 1e21, group="web")
    assert rows[0]["N_median"] == pytest.approx(expected["N_median"].iloc[0])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pass --group one of 'code', 'math', 'web'" in err
    assert main([*argv, "--group", "prose"]) == 2
    assert "--group 'prose' is not a group" in capsys.readouterr().err
    # recommend needs a distillation law: a grouped supervised fit is refused by law, and
    # --group on a fit of one law is refused
    rec = ["recommend", "--compute", "1e21", "--student-params", "1e9"]
    assert main([*rec, "--fit", path, "--group", "web"]) == 2
    assert "distillation" in capsys.readouterr().err
    one = str(bd.ScalingFit.from_params("distillation", laws.PAPER).save(tmp_path / "p.nc"))
    assert main([*rec, "--fit", one, "--group", "web"]) == 2
    assert "--group 'web' needs a grouped fit" in capsys.readouterr().err


def test_the_amplitudes_are_sampled_at_each_groups_runs(grouped, runs):
    """``a_c`` is the log of each group's N-term at the mean log size of its runs (and ``b_c``
    of its D-term at their mean log tokens): a change of variables of ``a`` and ``b``."""
    post = grouped.posterior
    for amp, exp_name, col, ref in (("a", "alpha", "N", laws.N0), ("b", "beta", "D", laws.D0)):
        for family in grouped.group_names:
            shift = np.log(runs.loc[runs["family"] == family, col]).mean() - np.log(ref)
            g = dict(law_group=family)
            expected = post[amp].sel(g) - post[exp_name].sel(g) * shift
            np.testing.assert_allclose(post[f"{amp}_c"].sel(g), expected, rtol=1e-9, atol=1e-9)


def test_a_grouped_fit_takes_more_draws_by_default(monkeypatch, runs):
    """``draws=None``: GROUPED_DRAWS per chain for a grouped fit, the law's default otherwise."""
    from bayes_distill import sampling

    class Sampled(Exception):
        pass

    def capture(model, priors, settings, seed, progressbar):
        raise Sampled(settings["draws"])

    monkeypatch.setattr(sampling, "_sample", capture)
    for groups, draws in (("family", sampling.GROUPED_DRAWS), (None, 1000)):
        table = runs if groups else runs[runs["family"] == "web"].drop(columns="family")
        with pytest.raises(Sampled) as caught:
            bd.fit(table, law="chinchilla", groups=groups)
        assert caught.value.args == (draws,)
