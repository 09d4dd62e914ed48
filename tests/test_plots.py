"""Tests of bayes_distill.plots, headless (Agg).

Each test checks what the figure shows (labelled axes, the number of plotted series, bands that
contain their median line) and, through an autouse fixture, that matplotlib's global settings are
unchanged. The supervised figures use the shipped Chinchilla posterior (a real fit, loaded, not
sampled); the distillation figures use a synthetic posterior around the paper's coefficients.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.figure import Figure

import bayes_distill as bd
from bayes_distill import checks, laws, plots
from bayes_distill.results import ScalingFit


def _rc_snapshot() -> dict[str, str]:
    return {k: repr(v) for k, v in matplotlib.rcParams.items()}


@pytest.fixture(autouse=True)
def rcparams_unchanged():
    before = _rc_snapshot()
    backend = matplotlib.get_backend()
    yield
    plt.close("all")
    after = _rc_snapshot()
    changed = {k for k in before if before[k] != after.get(k)}
    assert not changed, f"plots changed rcParams: {sorted(changed)}"
    assert matplotlib.get_backend() == backend


@pytest.fixture(scope="module")
def chinchilla_fit() -> ScalingFit:
    return bd.datasets.fitted("chinchilla")


@pytest.fixture(scope="module")
def distillation_fit() -> ScalingFit:
    rng = np.random.default_rng(0)
    draws = {k: v * np.exp(rng.normal(0.0, 0.03, 200)) for k, v in laws.PAPER.items()}
    return ScalingFit.from_params("distillation", draws, sigma=0.01, tau=0.01)


def _band_contains(collection: PolyCollection, line) -> bool:
    """Whether the filled band contains the line at every x of the line."""
    verts = collection.get_paths()[0].vertices
    x, y = line.get_data()
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = []
    for xi, yi in zip(x, y, strict=True):
        at = verts[np.isclose(verts[:, 0], xi, rtol=1e-12, atol=0)][:, 1]
        if at.size:
            ok.append(at.min() - 1e-12 <= yi <= at.max() + 1e-12)
    return bool(ok) and all(ok)


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def _rendered_height(ax, collection: PolyCollection) -> float:
    """The largest vertical width of a filled band (lower to upper at one x) as drawn, as a
    fraction of its axes' height."""
    ax.figure.canvas.draw()
    verts = collection.get_paths()[0].vertices
    in_axes = (ax.transData + ax.transAxes.inverted()).transform(verts)
    y = np.clip(in_axes[:, 1], 0.0, 1.0)  # what lies outside the axes is not seen
    x = np.round(verts[:, 0], 12)
    return max(float(np.ptp(y[x == xi])) for xi in np.unique(x))


def _bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_importing_plots_leaves_matplotlib_alone():
    code = (
        "import matplotlib as mpl\n"
        # dict.items: reading rcParams["backend"] would resolve (and import) pyplot itself
        "before = {k: repr(v) for k, v in dict.items(mpl.rcParams)}\n"
        "import bayes_distill.plots, bayes_distill.checks\n"
        "after = {k: repr(v) for k, v in dict.items(mpl.rcParams)}\n"
        "assert before == after, [k for k in before if before[k] != after[k]]\n"
        "import sys\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported at import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# ppc


def test_ppc_of_a_fit(chinchilla_fit):
    fig = plots.ppc(chinchilla_fit, num_samples=12, random_seed=0)
    assert isinstance(fig, Figure) and fig in map(plt.figure, plt.get_fignums())
    ax_d, ax_r = fig.axes
    assert all(_labelled(ax) for ax in fig.axes)
    # 12 replicated data sets and the observed one
    assert len(ax_d.get_lines()) == 13
    assert ax_d.get_lines()[-1].get_label() == "observed"
    # one error bar per run, split into inside / outside their interval
    points = sum(len(c.lines[0].get_xdata()) for c in ax_r.containers)
    assert points == len(chinchilla_fit.runs)
    assert "posterior" in fig.get_suptitle().lower()
    for container in ax_r.containers:
        median = container.lines[0].get_ydata()
        segs = container.lines[2][0].get_segments()
        lows = np.array([s[:, 1].min() for s in segs])
        highs = np.array([s[:, 1].max() for s in segs])
        assert np.all(lows <= median) and np.all(median <= highs)


def test_ppc_of_a_prior_predictive_tree():
    runs = bd.datasets.load("chinchilla")
    tree = checks.prior_predictive(runs, n_draws=40, random_seed=1)
    fig = plots.ppc(tree, num_samples=5)
    assert "prior" in fig.get_suptitle().lower()
    assert len(fig.axes[0].get_lines()) == 6
    assert fig.axes[1].get_yscale() == "log"  # prior intervals span orders of magnitude


def test_ppc_errors(chinchilla_fit):
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        plots.ppc(chinchilla_fit, num_samples=0)
    with pytest.raises(ValueError, match="ci_prob must be a number in"):
        plots.ppc(chinchilla_fit, ci_prob=0)
    with pytest.raises(TypeError, match="Expected a ScalingFit or an xarray"):
        plots.ppc(chinchilla_fit.runs)


# --------------------------------------------------------------------------------------------
# loss vs compute


def test_loss_vs_compute_frontier_and_isoflops(chinchilla_fit):
    budgets = [1e19, 1e20, 1e21]
    fig = plots.loss_vs_compute(chinchilla_fit, budgets=budgets, n_points=25)
    ax_f, ax_i, band_f, band_i = fig.axes[:4]
    assert _labelled(band_f) and _labelled(band_i)
    assert ax_f.get_ylabel() == ax_i.get_ylabel() == "loss (nats/token)"
    assert ax_f.get_xscale() == "log" and ax_i.get_xscale() == "log"
    # frontier: one band containing its median; the runs overlaid
    bands = [c for c in ax_f.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    assert _band_contains(bands[0], ax_f.get_lines()[0])
    scatter = [c for c in ax_f.collections if c not in bands]
    assert len(scatter[0].get_offsets()) == len(chinchilla_fit.runs)
    # the frontier decreases with compute
    y = ax_f.get_lines()[0].get_ydata()
    assert np.all(np.diff(y) < 0)
    # isoFLOP panel: one curve and one band per budget, each band containing its curve
    curves = [ln for ln in ax_i.get_lines() if ln.get_label().startswith("C = ")]
    i_bands = [c for c in ax_i.collections if isinstance(c, PolyCollection)]
    assert len(curves) == len(budgets) and len(i_bands) == len(budgets)
    for band, curve in zip(i_bands, curves, strict=True):
        assert _band_contains(band, curve)
        y = curve.get_ydata()
        assert 0 < int(np.argmin(y)) < len(y) - 1  # an interior optimum: a U-shape
    # a larger budget reaches a lower loss
    minima = [np.min(c.get_ydata()) for c in curves]
    assert minima == sorted(minima, reverse=True)
    assert len(ax_i.get_legend().get_texts()) == len(budgets)


def test_loss_vs_compute_synthetic_fit_needs_a_range():
    p = {k: laws.PAPER[k] for k in laws.PARAM_NAMES["supervised"]}
    fit = ScalingFit.from_params("supervised", p)
    with pytest.raises(ValueError, match="give compute_range"):
        plots.loss_vs_compute(fit)
    fig = plots.loss_vs_compute(fit, budgets=[1e20], compute_range=(1e18, 1e22), n_points=10)
    assert len(fig.axes) == 4  # two panels and their band panels, no colour bar of runs


def test_loss_vs_compute_bands_are_visible(chinchilla_fit):
    """The 90% bands of the shipped Chinchilla posterior are about 0.01 nats wide: on the loss
    axis they are thinner than a line, so each panel has a band panel under it where the band
    minus its median fills most of the height."""
    fig = plots.loss_vs_compute(chinchilla_fit, budgets=[1e19, 1e20, 1e21], n_points=25)
    ax_f, ax_i, band_f, band_i = fig.axes[:4]
    # on the loss axes the bands are a few percent of the height at most: hard to see
    assert _rendered_height(ax_f, _bands(ax_f)[0]) < 0.05
    assert np.median([_rendered_height(ax_i, b) for b in _bands(ax_i)]) < 0.08
    (frontier,) = _bands(band_f)
    assert _rendered_height(band_f, frontier) > 0.6
    isoflop = _bands(band_i)
    assert len(isoflop) == 3
    assert max(_rendered_height(band_i, b) for b in isoflop) > 0.6
    assert min(_rendered_height(band_i, b) for b in isoflop) > 0.02
    for band in (band_f, band_i):
        assert band.get_ylabel() == "90% band\n- median (nats)"
        lo, hi = band.get_ylim()
        assert lo < 0 < hi  # around the median's zero line
    # the bands panel shows the bands of the curves, not of the median: they straddle zero
    verts = frontier.get_paths()[0].vertices
    assert verts[:, 1].min() < 0 < verts[:, 1].max()


def test_loss_vs_compute_errors(chinchilla_fit, distillation_fit):
    with pytest.raises(ValueError, match="needs a fit of law chinchilla or supervised"):
        plots.loss_vs_compute(distillation_fit)
    with pytest.raises(TypeError, match=r"needs a ScalingFit as"):
        plots.loss_vs_compute("chinchilla")
    with pytest.raises(ValueError, match="budgets must be positive finite numbers"):
        plots.loss_vs_compute(chinchilla_fit, budgets=[-1.0])
    with pytest.raises(ValueError, match="compute_range must be increasing"):
        plots.loss_vs_compute(chinchilla_fit, compute_range=(1e22, 1e20))
    with pytest.raises(ValueError, match="n_points must be an integer"):
        plots.loss_vs_compute(chinchilla_fit, n_points=2)


# --------------------------------------------------------------------------------------------
# capacity gap


def test_capacity_gap_u_shape(distillation_fit):
    sizes = [2e8, 1e9]
    fig = plots.capacity_gap(distillation_fit, student_params=sizes)
    ax, band_ax = fig.axes
    assert band_ax.get_xlabel() == "teacher loss L_T (nats/token)"
    assert ax.get_ylabel() == "student loss L_S (nats/token)"
    medians = [ln for ln in ax.get_lines() if ln.get_label().startswith("N_S = ")]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(medians) == len(sizes) and len(bands) == len(sizes)
    for band, line in zip(bands, medians, strict=True):
        assert _band_contains(band, line)
        x, y = line.get_data()
        j = int(np.argmin(y))
        assert 0 < j < len(y) - 1, "the best teacher is inside the range: a U-shape"
        assert np.all(np.asarray(y) >= np.asarray(x) - 1e-9), "the student never beats L_T"
    # the bigger student is never worse, and better where the teacher is strong
    small, big = medians[0].get_ydata(), medians[1].get_ydata()
    assert np.all(big <= small + 1e-12) and big[0] < small[0]
    assert any(ln.get_label() == "L_S = L_T" for ln in ax.get_lines())


def test_capacity_gap_bands_are_visible():
    """On the shipped posterior the mean-law bands are thinner than the curves; the panel
    underneath shows each band minus its median over a large part of its height."""
    fit = bd.datasets.fitted("distillation")
    fig = plots.capacity_gap(fit, student_params=[1.98e8, 5.46e8, 1.82e9])
    ax, band_ax = fig.axes
    assert max(_rendered_height(ax, b) for b in _bands(ax)) < 0.05
    heights = [_rendered_height(band_ax, b) for b in _bands(band_ax)]
    assert len(heights) == 3
    assert max(heights) > 0.6 and min(heights) > 0.2


def test_capacity_gap_predictive_band_is_wider(distillation_fit):
    widths = {}
    for kind in ("mean", "predictive"):
        fig = plots.capacity_gap(distillation_fit, student_params=5e8, kind=kind)
        verts = fig.axes[0].collections[0].get_paths()[0].vertices
        widths[kind] = np.ptp(verts[:, 1])
    assert widths["predictive"] > widths["mean"]


def test_capacity_gap_errors(distillation_fit, chinchilla_fit):
    with pytest.raises(ValueError, match="needs a fit of law distillation"):
        plots.capacity_gap(chinchilla_fit, student_params=1e9)
    with pytest.raises(ValueError, match="student_params must be positive"):
        plots.capacity_gap(distillation_fit, student_params=[])
    with pytest.raises(ValueError, match="2 values for 3 students"):
        plots.capacity_gap(distillation_fit, student_params=[1e8, 1e9, 2e9], student_tokens=[1, 2])
    with pytest.raises(ValueError, match="kind must be"):
        plots.capacity_gap(distillation_fit, student_params=1e9, kind="both")


# --------------------------------------------------------------------------------------------
# distill map


@pytest.fixture(scope="module")
def map_data(distillation_fit):
    """The map's data on a grid where the posterior's and the paper's boundaries cross it,
    with a budget (1e15 FLOPs) that cannot train the largest student."""
    return bd.distill_or_train(
        distillation_fit,
        "teacher_pretraining",
        student_params=np.geomspace(1e8, 1e10, 5),
        compute=[1e15, *np.geomspace(1e19, 1e25, 6)],
    )


def test_distill_map_draws_the_data_and_both_boundaries(map_data):
    fig = plots.distill_map(map_data)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "compute C (FLOPs)" and ax.get_ylabel() == "student parameters N_S"
    assert fig.axes[1].get_ylabel() == "P(distillation beats supervised)"  # the colour bar
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    prob = np.ma.masked_invalid(mesh.get_array()).reshape(5, 7)
    # the cells are the table's probabilities, students as rows and budgets as columns
    expected = map_data.pivot(
        index="student_params", columns="compute", values="p_distillation_better"
    ).to_numpy()
    np.testing.assert_array_equal(prob.filled(np.nan), expected)
    assert prob.mask[:, 0].all() and not prob.mask[:, 1:].any()  # 1e15 FLOPs: grey cells
    # the posterior's P = 0.5 line and the paper's gap = 0 line, each named in the legend
    # and where the supervised student sees one token per parameter
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["posterior: P = 0.5", "paper's coefficients: gap = 0"]
    assert labels[2].startswith("1 token per parameter") and len(labels) == 3
    contours = [
        c for c in ax.collections if c.__class__.__name__ in ("ContourSet", "QuadContourSet")
    ]
    assert len(contours) == 3
    assert "teacher_pretraining" in ax.get_title()


def test_distill_map_errors(map_data):
    with pytest.raises(TypeError, match=r"needs the DataFrame of bd\.distill_or_train"):
        plots.distill_map(bd.datasets.fitted("distillation"))
    with pytest.raises(ValueError, match=r"no column\(s\) \['paper_gap'\]"):
        plots.distill_map(map_data.drop(columns="paper_gap"))
    with pytest.raises(ValueError, match="the DataFrame is empty"):
        plots.distill_map(map_data.iloc[:0])
    with pytest.raises(ValueError, match="full grid"):
        plots.distill_map(map_data.iloc[1:])


# --------------------------------------------------------------------------------------------
# recommendation


@pytest.fixture(scope="module")
def rec(distillation_fit):
    return bd.recommend(
        distillation_fit,
        compute=1e21,
        student_params=1e9,
        scenario="teacher_pretraining",
        risk_tolerance=0.1,
    )


def test_recommendation_marks_the_loss_at_risk(rec):
    fig = plots.recommendation(rec)
    ax_l, ax_d = fig.axes
    assert _labelled(ax_l) and _labelled(ax_d)
    x_lines = {round(float(ln.get_xdata()[0]), 12): ln for ln in ax_l.get_lines()}
    g = rec.student_loss["at_risk"]
    assert round(g, 12) in x_lines
    assert "loss at risk (90% quantile)" in x_lines[round(g, 12)].get_label()
    # like for like: the student and the baseline with the same kind of uncertainty
    labels = [t.get_text() for t in ax_l.get_legend().get_texts()]
    kinds = [t.split("(")[1].rstrip(")") for t in labels if t.startswith("supervised baseline")]
    assert len(kinds) == 1
    assert f"distilled student ({kinds[0]})" in labels
    assert any(t.startswith("baseline 90% quantile") for t in labels)
    bars = [p for p in ax_l.patches if p.get_height() > 0]
    assert bars, "histograms drawn"
    # the right panel's title is the probability from the recommendation
    assert f"{rec.p_distillation_better:.2f}" in ax_d.get_title()
    assert any(ln.get_xdata()[0] == 0.0 for ln in ax_d.get_lines())


def test_recommendation_errors(rec):
    with pytest.raises(TypeError, match=r"needs a bayes_distill\.Recommendation"):
        plots.recommendation(rec.to_frame())
    with pytest.raises(ValueError, match="bins must be an integer"):
        plots.recommendation(rec, bins=1)


# --------------------------------------------------------------------------------------------
# the crossover, and a teacher shared by several students


@pytest.fixture(scope="module")
def crossover_frame(distillation_fit):
    return bd.crossover(distillation_fit, student_params=[1e9, 3e9, 1e10])


def test_crossover_band_contains_the_median(crossover_frame):
    fig = plots.crossover(crossover_frame)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "student parameters N_S"
    assert ax.get_ylabel() == "crossover compute C (FLOPs)"
    assert "scenario 'best_case'" in ax.get_title()
    band = next(c for c in ax.collections if isinstance(c, PolyCollection))
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), crossover_frame["student_params"])
    np.testing.assert_allclose(line.get_ydata(), crossover_frame["median"])
    assert _band_contains(band, line)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["90% interval over draws", "crossover (median over draws)"]
    notes = [t.get_text() for t in ax.texts]
    assert notes == [f"{p:.0%} no crossover" for p in crossover_frame["p_no_crossover"]]


def test_crossover_marks_students_without_one():
    """The paper's coefficients: a 1e8 student's best-case distillation never stops winning."""
    fit = ScalingFit.from_params("distillation", laws.PAPER)
    frame = bd.crossover(fit, student_params=[1e8, 1e9])
    fig = plots.crossover(frame)
    ax = fig.axes[0]
    notes = [t.get_text() for t in ax.texts]
    top = frame["compute_hi"].iloc[0]
    assert notes[0] == f"no crossover up to {top:.2g}\n(distillation still winning)"
    assert notes[1] == "0% no crossover"
    marker = next(ln for ln in ax.get_lines() if ln.get_marker() == "^")
    assert marker.get_xdata()[0] == 1e8 and marker.get_ydata()[0] == top
    # one student and no band: its error bar only
    one = plots.crossover(frame.iloc[1:])
    assert not [c for c in one.axes[0].collections if isinstance(c, PolyCollection)]


def test_crossover_plot_errors(crossover_frame):
    with pytest.raises(TypeError, match=r"needs the DataFrame of bd\.crossover"):
        plots.crossover(crossover_frame.to_dict())
    with pytest.raises(ValueError, match=r"has no column\(s\) \['p_no_crossover'\]"):
        plots.crossover(crossover_frame.drop(columns="p_no_crossover"))
    with pytest.raises(ValueError, match="at least one student"):
        plots.crossover(crossover_frame.iloc[:0])


def test_shared_teacher_probabilities_and_losses(distillation_fit):
    ks = [1, 4, 16, 64]
    fig = plots.shared_teacher(distillation_fit, compute=1e21, student_params=1e9, n_students=ks)
    ax_p, ax_l = fig.axes
    assert _labelled(ax_p) and _labelled(ax_l)
    assert ax_p.get_xlabel() == "students sharing one trained teacher, k"
    assert ax_p.get_xscale() == "log"
    p = ax_p.get_lines()[0].get_ydata()
    np.testing.assert_allclose(ax_p.get_lines()[0].get_xdata(), ks)
    assert np.all(np.diff(p) >= 0) and p[0] < 0.5 < p[-1]
    rec = bd.recommend(
        distillation_fit,
        compute=1e21,
        student_params=1e9,
        scenario="teacher_pretraining",
        n_students=16,
    )
    assert p[2] == pytest.approx(rec.p_distillation_better)
    assert ax_p.get_lines()[1].get_ydata()[2] == pytest.approx(rec.p_distillation_better_by_margin)
    assert ax_l.get_lines()[0].get_ydata()[2] == pytest.approx(rec.student_loss["at_risk"])
    # the smallest k with P > 0.5 is marked
    k0 = ks[int(np.argmax(p > 0.5))]
    labels = [t.get_text() for t in ax_p.get_legend().get_texts()]
    assert f"pays from k = {k0} (P > 0.5)" in labels
    assert "supervised, loss at risk (90% q.)" in [
        t.get_text() for t in ax_l.get_legend().get_texts()
    ]


def test_shared_teacher_warns_once_for_the_sweep():
    shipped = bd.datasets.fitted("distillation")
    with pytest.warns(bd.ExtrapolationWarning, match=r"of 6 values of n_students") as caught:
        plots.shared_teacher(shipped, compute=1e23, student_params=1e9, max_draws=100)
    assert len(caught) == 1
    assert caught[0].filename == __file__  # attributed to the caller


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"scenario": "best_case"},
            ValueError,
            r"needs a scenario that pays for the teacher's pretraining \('teacher_pretraining' "
            r"or 'pretraining_and_inference'\), got 'best_case'",
        ),
        ({"n_students": [1, 0]}, ValueError, "n_students must be an integer >= 1, got 0"),
        ({"n_students": [1, 2.5]}, TypeError, r"n_students must be an integer >= 1, got 2\.5"),
        ({"n_students": 8}, TypeError, "n_students must be a sequence of integers"),
        ({"n_students": "8"}, TypeError, "n_students must be a sequence of integers"),
        ({"n_students": []}, ValueError, "n_students is empty"),
        ({"max_draws": 0}, ValueError, "max_draws must be a positive integer"),
        ({"compute": -1.0}, ValueError, "compute must be finite and positive"),
    ],
)
def test_shared_teacher_errors(distillation_fit, kwargs, error, match):
    base = {"compute": 1e21, "student_params": 1e9}
    with pytest.raises(error, match=match):
        plots.shared_teacher(distillation_fit, **{**base, **kwargs})


def test_shared_teacher_needs_a_distillation_fit(chinchilla_fit):
    with pytest.raises(ValueError, match="shared_teacher needs a fit of law distillation"):
        plots.shared_teacher(chinchilla_fit, compute=1e21, student_params=1e9)


# --------------------------------------------------------------------------------------------
# ArviZ plots


@pytest.mark.parametrize(
    ("function", "natural", "names"),
    [
        (plots.trace, True, ["alpha", "beta"]),
        (plots.rank, False, ["a", "b"]),
        (plots.pair, True, ["E", "alpha", "beta"]),
    ],
)
def test_arviz_plots_return_figures(chinchilla_fit, function, natural, names):
    fig = function(chinchilla_fit, var_names=names, natural=natural)
    assert isinstance(fig, Figure)
    assert fig.axes
    text = " ".join(
        [ax.get_title() for ax in fig.axes]
        + [ax.get_xlabel() for ax in fig.axes]
        + [ax.get_ylabel() for ax in fig.axes]
    )
    for name in names:
        assert name in text


def test_arviz_plots_work_on_the_fit_tree(chinchilla_fit):
    """The documented route: ArviZ directly on fit.dt and on the natural-parameter tree."""
    import arviz as az

    pc = az.plot_trace_dist(chinchilla_fit.dt, var_names=["log_E", "alpha"])
    assert isinstance(pc.viz["figure"].item(), Figure)
    pc = az.plot_rank(checks.natural_tree(chinchilla_fit), var_names=["E"])
    assert isinstance(pc.viz["figure"].item(), Figure)
    assert isinstance(pd.DataFrame(chinchilla_fit.summary()), pd.DataFrame)


def test_distill_map_thinning_keeps_the_diagnostics_out(chinchilla_fit):
    """Thinned posteriors are for speed: their (worse) diagnostics must not trigger warnings."""
    small = plots._thinned(chinchilla_fit, 100)
    assert small.n_samples <= 100
    assert "sample_stats" not in small.dt.children
    assert plots._thinned(chinchilla_fit, None) is chinchilla_fit
