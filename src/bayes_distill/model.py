"""Build the PyMC model of a scaling law.

Observation model (all laws), on the log of the loss::

    log L_i = log L_law(x_i) + delta_i + eps_i
    eps_i   ~ StudentT(nu=4, 0, sigma_i)    (Normal with ``likelihood="normal"``)
    sigma_i = sigma (1 + lambda d_i^2) exp(-eta clip(u_i))   (``noise="distance"``, the default)
    delta_i = delta[size of run i],  delta ~ Normal(0, tau)   (``discrepancy="groups"``)

``eps`` is run-to-run noise; the Student-t plays the role of the papers' Huber loss.

Why more than independent noise. A scaling law is an approximation, and its errors are neither
independent nor equally large everywhere. Two things go wrong with i.i.d. noise, and each term
above answers one of them:

* Runs of one model size share a systematic deviation from the law. Treated as independent,
  240 runs look like 240 independent pieces of evidence and the exponents come out too
  certain. ``delta`` gives every model size a shared offset (``discrepancy="groups"``,
  non-centred: ``delta = tau z``); a new model size draws a new offset from ``N(0, tau)``.
  The distillation law has no such factor by default: its runs' inputs take few discrete
  levels (5 student sizes, 13 token counts, 63 teachers on the Figure-1 runs), and offsets per
  level were confounded with the law's own dependence on them (R-hat 1.1-1.3, in-sample error
  0.7% instead of 0.1%).
* The law fits best where most runs are: on the bundled Chinchilla runs the residuals of the
  outermost quarter of runs (by distance from the centre) are 2-3 times those of the inner
  three quarters. ``d_i`` is the run's Euclidean distance from the centre of the runs in log
  inputs and in the law's log loss, each standardised by its spread over the runs
  (:class:`Frame`); ``lambda`` is learned from how the residuals grow towards the edge of the
  data. A prediction beyond the data — bigger, or predicted to beat every fitted run — has a
  larger ``d`` and so a wider predictive interval. The growth is quadratic in ``d`` because
  that is the shape of the residuals: on the Chinchilla runs their median is flat (0.26-0.29%)
  over the inner two thirds of ``d`` and rises to 0.37% and then 0.79% in the outer two sixths.
  A linear growth (``1 + lambda d``) has to compromise between the flat core and
  the steep edge; the quadratic one fits the runs better (PSIS-LOO elpd +3.2 on Chinchilla,
  +3.3 on distillation) and widens the intervals of extrapolations more, which the backtests
  showed they need (the in-sample residuals of edge runs understate their out-of-sample error,
  as the fit bends to them).
* The law's misfit is not symmetric about the centre: on the bundled runs it is largest for the
  strongest runs (on the Figure-1 runs, 62% of the largest student's runs lay outside the 90%
  noise quantile of a symmetric model, none of the smallest two students'). ``u_i`` is the
  law's predicted log loss standardised like the loss coordinate of ``d`` (negative for runs
  predicted to be stronger than the centre), and ``eta`` (learned, prior centred on 0) lets
  the noise scale grow exponentially towards lower (``eta > 0``) or higher loss, up to
  ``U_CLIP`` spreads from the centre (:func:`soft_clip`). Predicting
  stronger runs than any fitted is the use the package exists for, so this is the direction
  in which the intervals must not be too narrow. Measured (``docs/validation.md``, "Backtests"),
  with growth linear in ``d``: distillation in-sample 90% coverage 0.83 -> 0.87; backtests
  0.74 -> 0.83 (Chinchilla) and 0.76 -> 0.96 (distillation). With the quadratic growth:
  in-sample 0.85, backtests 0.87 (Chinchilla; 50% intervals 0.13 -> 0.26-0.30) and 1.0
  (distillation).

Both are checked by backtests (fit the weaker runs, predict the stronger ones) in the tests, in
:func:`bayes_distill.checks.backtest`, and in ``docs/validation.md``.

Sampled parameterisation (see :mod:`bayes_distill.laws`): amplitudes centred at ``N0 = 1e9`` and
``D0 = 1e10``, ``kappa = c1 f1`` and ``1 / f1`` instead of ``c1``, and ``gamma'`` absorbed into
the distillation term.

For the distillation law, the supervised parameters (needed for the student's supervised loss)
are either held fixed (``ModelInputs.fixed_supervised``: the second stage of a two-stage fit,
see :func:`bayes_distill.fit`), or fitted jointly with ``supervised_runs``, or, with neither,
informed only by their prior and the distillation runs (not identified).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import laws
from .priors import Prior

__all__ = ["GROUP_TOLERANCE", "Frame", "Groups", "ModelInputs", "build_model", "group_runs"]

#: Two runs belong to one group when their sizes differ by less than this in log (2%), which
#: absorbs the digitisation error of the bundled data.
GROUP_TOLERANCE = 0.02

STUDENT_T_NU = 4.0

#: The loss-direction term of the noise, ``exp(-eta u)``, acts on ``u`` soft-clipped to
#: ``[-U_CLIP, U_CLIP]`` spreads of the runs' log loss: it shapes the noise across and just
#: beyond the data, and further out the growth with distance carries on alone (an
#: unclipped exponential made the prior predictive overflow for laws far from the data).
U_CLIP = 3.0


#: How the noise grows with the distance; saved with each fit (attribute ``noise_growth``) so
#: a fit saved with linear growth (file schema 1) keeps its own.
NOISE_GROWTH = "quadratic"

#: The loss coordinate of the distance is soft-clipped at ``D_CLIP`` spreads of the runs' log
#: loss. The bundled runs span about two spreads either side of their centre, where the clip
#: changes ``u`` by under 4%; a law far from the data (as prior draws can be) would otherwise
#: make the quadratic growth swamp it (measured: the prior predictive put a distilled student
#: more than 0.1 nats below its teacher in 7-10% of draws instead of under 5%). Beyond the
#: clip, the inputs' distance carries the growth.
D_CLIP = 6.0


def distance_growth(xp, lam, d_inputs, u, kind: str = NOISE_GROWTH):
    """The factor by which the noise grows with the distance from the runs.

    ``"quadratic"``: ``1 + lambda (d_inputs^2 + clip(u)^2)``, the loss coordinate soft-clipped
    at ``D_CLIP`` spreads. ``"linear"`` (fits saved with schema 1):
    ``1 + lambda sqrt(d_inputs^2 + u^2)``.
    """
    if kind == "quadratic":
        return 1.0 + lam * (d_inputs**2 + soft_clip(xp, u, D_CLIP) ** 2)
    if kind == "linear":
        return 1.0 + lam * xp.sqrt(d_inputs**2 + u**2)
    raise ValueError(f"noise_growth must be 'quadratic' or 'linear', got {kind!r}.")


def noise_scale(xp, sigma, lam, eta, d_inputs, u, growth: str = NOISE_GROWTH):
    """The noise scale of ``noise="distance"``, ``sigma * growth * exp(-eta soft_clip(u))``,
    written once for the model (PyTensor) and for predictions (NumPy, over draws)."""
    return sigma * distance_growth(xp, lam, d_inputs, u, growth) * xp.exp(-eta * soft_clip(xp, u))


def soft_clip(xp, u, bound: float = U_CLIP):
    """``bound tanh(u / bound)``: ``u`` near the data, bounded far from it."""
    return bound * xp.tanh(u / bound)


#: Student sizes at which the distillation law's infinite-data limit is imposed (the range the
#: paper checked its coefficients over).
LIMIT_STUDENTS = (1e8, 1e9, 1e10, 1e11)

#: Tolerance (nats) of the infinite-data limit: with unlimited student tokens and the best
#: teacher, the distilled student's loss minus the supervised ``L(N_S, D -> inf)`` gets a
#: ``Normal(0, INFINITE_DATA_TOL)`` prior at each size in :data:`LIMIT_STUDENTS`.
INFINITE_DATA_TOL = 0.01

#: Teachers searched for the best one in the limit: ``L_T = E + exp(t)`` on this grid of ``t``
#: (from 0.001 to 5 nats above the floor ``E``), minimised with a soft minimum of this
#: temperature (log loss), which is smooth for the sampler and within 1e-3 of the minimum.
_LIMIT_T = np.linspace(np.log(1e-3), np.log(5.0), 64)
_LIMIT_SOFTMIN = 2e-4


def _cut_supervised(pm, fixed: Mapping[str, float], posterior) -> dict:
    """Second stage of a two-stage fit: the supervised law's parameters drawn from a normal
    approximation of the first stage's posterior (positive exponents on the log scale)."""
    import pytensor.tensor as pt

    mean, chol = posterior
    # non-centred, with the approximation as data so that a compiled model serves every fit
    loc = pm.Data("supervised_mean", mean)
    chol = pm.Data("supervised_chol", chol)
    z = pm.Normal("supervised_z", 0.0, 1.0, shape=len(laws.SAMPLED_NAMES["supervised"]))
    raw = loc + pt.dot(chol, z)
    out = {}
    for i, name in enumerate(laws.SAMPLED_NAMES["supervised"]):
        value = pt.exp(raw[i]) if name in _LOG_SCALE else raw[i]
        out[name] = pm.Deterministic(name, value)
    return out


#: Supervised parameters that the two-stage fit's normal approximation takes on the log scale.
_LOG_SCALE = ("alpha", "beta", "gamma")


def supervised_normal_approximation(draws: Mapping[str, np.ndarray]):
    """Mean and Cholesky factor of the covariance of supervised draws, on the scale of
    :func:`_cut_supervised`."""
    cols = [
        np.log(draws[k]) if k in _LOG_SCALE else np.asarray(draws[k], float)
        for k in laws.SAMPLED_NAMES["supervised"]
    ]
    x = np.stack([np.ravel(c) for c in cols], axis=1)
    return x.mean(axis=0), np.linalg.cholesky(np.cov(x, rowvar=False))


def infinite_data_gap(xp, sup: Mapping, dist: Mapping, sup_student: Mapping | None = None):
    """Best-teacher distilled loss minus supervised loss, both with unlimited student tokens.

    Evaluated at each student size of :data:`LIMIT_STUDENTS`, in nats: ``min over L_T of
    L_S(N_S, D_S -> inf, L_T) - L(N_S, D -> inf)`` (the teacher's loss searched on a grid above
    the supervised floor ``E``). The paper's coefficients give about +0.01; the model puts a
    ``Normal(0, INFINITE_DATA_TOL)`` prior on it, so that far beyond the runs the law falls
    back on supervised learning instead of inventing a distillation advantage.

    ``sup`` and ``dist`` are the sampled supervised and distillation-only parameters (scalars
    for the model; NumPy arrays of shape ``(S, 1, 1)`` broadcast over draws). ``sup_student``,
    when given, is the supervised law of the student's own loss inside the distillation law (a
    two-stage fit's fixed values); ``sup`` then gives the supervised baseline and the teachers.
    """
    log_NS = np.log(np.asarray(LIMIT_STUDENTS))[:, None] - np.log(laws.N0)

    def log_Linf_of(p):
        return xp.logaddexp(p["log_E"], p["gamma"] * (p["a"] - p["alpha"] * log_NS))

    log_Linf = log_Linf_of(sup)
    log_Linf_student = log_Linf if sup_student is None else log_Linf_of(sup_student)
    log_LT = xp.logaddexp(sup["log_E"], _LIMIT_T[None, :])
    term = dist["n_prime"] - dist["alpha_prime_eff"] * log_NS
    gap = (
        -dist["c0"] * log_LT
        - dist["kappa"] * xp.softplus(dist["inv_f1"] * (log_LT - log_Linf_student - dist["log_d1"]))
        + term
    )
    log_LS = xp.logaddexp(log_LT, gap)
    T = _LIMIT_SOFTMIN
    best = -T * xp.logsumexp(-log_LS / T, axis=-1)
    return xp.exp(best) - xp.exp(log_Linf[..., 0])


@dataclass(frozen=True)
class Groups:
    """Clusters of a positive quantity in log space: ``keys`` (log centres) and ``index``."""

    keys: np.ndarray
    index: np.ndarray

    @property
    def n(self) -> int:
        return len(self.keys)

    def lookup(self, log_values: np.ndarray, tol: float = GROUP_TOLERANCE) -> np.ndarray:
        """Index of the group each value belongs to, or -1 for a value in no fitted group."""
        log_values = np.asarray(log_values, dtype=float)
        if self.n == 0:
            return np.full(log_values.shape, -1)
        dist = np.abs(log_values[..., None] - self.keys)
        best = dist.argmin(axis=-1)
        return np.where(dist.min(axis=-1) < tol, best, -1)


def group_runs(log_values: np.ndarray, tol: float = GROUP_TOLERANCE) -> Groups:
    """Cluster sorted log values whose neighbours lie within ``tol``."""
    log_values = np.asarray(log_values, dtype=float)
    order = np.argsort(log_values)
    sorted_vals = log_values[order]
    new_group = np.r_[True, np.diff(sorted_vals) >= tol]
    labels_sorted = np.cumsum(new_group) - 1
    labels = np.empty_like(labels_sorted)
    labels[order] = labels_sorted
    keys = np.array([sorted_vals[labels_sorted == g].mean() for g in range(labels_sorted[-1] + 1)])
    return Groups(keys=keys, index=labels)


@dataclass(frozen=True)
class ModelInputs:
    """Log-space arrays that the model and the predictions share."""

    law: str
    x: dict[str, np.ndarray]
    y: np.ndarray
    groups: dict[str, Groups]
    frame: Frame
    supervised_x: dict[str, np.ndarray] | None = None
    supervised_y: np.ndarray | None = None
    supervised_groups: Groups | None = None
    #: Distillation law, two-stage fit: the supervised parameters (sampled names) at which the
    #: student's own supervised loss inside the law is held; the supervised runs are then not
    #: in the model.
    fixed_supervised: dict[str, float] | None = None
    #: Two-stage fit: mean and Cholesky factor of the covariance of the first stage's
    #: posterior of ``(log_E, a, b, log alpha, log beta, log gamma)``, the prior of the
    #: supervised law that gives the teacher's loss and the baseline (tied to the distillation
    #: law only by the infinite-data limit).
    supervised_posterior: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def student_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distillation runs: the distinct ``(log N_S, log D_S)`` pairs and each run's pair."""
        stacked = np.stack([self.x["log_NS"], self.x["log_DS"]], axis=1)
        pairs, index = np.unique(stacked, axis=0, return_inverse=True)
        return pairs[:, 0].copy(), pairs[:, 1].copy(), index.reshape(-1).astype(np.int64)

    @property
    def distance(self) -> np.ndarray:
        """Each run's standardised distance from the centre of the runs, in its inputs only."""
        return self.frame.distance(self.x)


@dataclass(frozen=True)
class Frame:
    """Centre and spread of the runs, for the distance of any run from the centre.

    The distance is Euclidean in the log inputs and the log loss, each standardised by its
    spread over the runs (a spread below 0.1 in log inputs or 0.01 in log loss counts as that
    floor, so a quantity that barely varies does not make every other value infinitely far).
    The loss coordinate is the law's prediction: a run predicted to beat every fitted run is
    far from the data even when each of its inputs is within the fitted range.
    """

    keys: tuple[str, ...]
    centre: np.ndarray
    scale: np.ndarray
    loss_centre: float
    loss_scale: float

    @classmethod
    def from_inputs(cls, x: Mapping[str, np.ndarray], log_loss: np.ndarray) -> Frame:
        keys = tuple(x)
        data = np.stack([np.asarray(x[k], float) for k in keys])
        y = np.asarray(log_loss, float)
        return cls(
            keys,
            data.mean(axis=1),
            np.maximum(data.std(axis=1), 0.1),
            float(y.mean()),
            float(max(y.std(), 0.01)),
        )

    def distance(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        """Distance in the inputs only (the loss coordinate is :meth:`loss_coordinate`)."""
        arrays = np.broadcast_arrays(*(np.asarray(x[k], float) for k in self.keys))
        sq = sum(
            ((a - c) / s) ** 2 for a, c, s in zip(arrays, self.centre, self.scale, strict=True)
        )
        return np.sqrt(sq)

    def loss_coordinate(self, log_loss):
        """A (predicted) log loss standardised by the runs' centre and spread (``u``)."""
        return (log_loss - self.loss_centre) / self.loss_scale


#: Discrepancy factors of each law: ``(name, log-input key, grouping tolerance in log)``.
FACTORS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "chinchilla": (("size", "log_N", GROUP_TOLERANCE),),
    "supervised": (("size", "log_N", GROUP_TOLERANCE),),
    # none for distillation: its inputs take few discrete levels (5 students, 13 token
    # counts on the Figure-1 runs), so per-level offsets are confounded with the law's own
    # dependence on them (measured: R-hat 1.12 and in-sample error 0.7% instead of 0.04%); the
    # distance-dependent noise carries the extrapolation uncertainty there
    "distillation": (),
}


def group_names(law: str) -> tuple[str, ...]:
    """The discrepancy factors of a law (see :data:`FACTORS`)."""
    return tuple(f[0] for f in FACTORS[law])


def factor_values(law: str, x: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Log values of each discrepancy factor, from a mapping of log inputs."""
    return {name: x[key] for name, key, _ in FACTORS[law] if x.get(key) is not None}


def factor_tolerance(law: str, name: str) -> float:
    return next(tol for n, _, tol in FACTORS[law] if n == name)


def prepare_inputs(
    law: str, runs: pd.DataFrame, supervised_runs: pd.DataFrame | None = None
) -> ModelInputs:
    """Turn validated run tables into the log arrays the model needs."""
    if law == "distillation":
        x = {
            "log_NS": np.log(runs["N_S"].to_numpy(float)),
            "log_DS": np.log(runs["D_S"].to_numpy(float)),
            "log_LT": np.log(runs["L_T"].to_numpy(float)),
        }
        y = np.log(runs["L_S"].to_numpy(float))
        groups = {n: group_runs(x[k], tol) for n, k, tol in FACTORS[law]}
        sx = sy = sg = None
        if supervised_runs is not None:
            sx = {
                "log_N": np.log(supervised_runs["N"].to_numpy(float)),
                "log_D": np.log(supervised_runs["D"].to_numpy(float)),
            }
            sy = np.log(supervised_runs["loss"].to_numpy(float))
            sg = group_runs(sx["log_N"])
        return ModelInputs(law, x, y, groups, Frame.from_inputs(x, y), sx, sy, sg)
    x = {
        "log_N": np.log(runs["N"].to_numpy(float)),
        "log_D": np.log(runs["D"].to_numpy(float)),
    }
    y = np.log(runs["loss"].to_numpy(float))
    groups = {n: group_runs(x[k], tol) for n, k, tol in FACTORS[law]}
    return ModelInputs(law, x, y, groups, Frame.from_inputs(x, y))


def _likelihood(name, mu, sigma, observed, likelihood):
    import pymc as pm

    if likelihood == "student_t":
        return pm.StudentT(name, nu=STUDENT_T_NU, mu=mu, sigma=sigma, observed=observed)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=observed)


def build_model(
    inputs: ModelInputs,
    priors: Mapping[str, Prior],
    *,
    likelihood: str = "student_t",
    discrepancy: str = "groups",
    noise: str = "distance",
):
    """Build the ``pymc.Model`` of ``inputs.law``.

    Parameters
    ----------
    inputs : ModelInputs
        From :func:`prepare_inputs`.
    priors : mapping
        One :class:`~bayes_distill.priors.Prior` per sampled parameter, plus ``sigma`` and
        ``tau`` (from :func:`~bayes_distill.priors.resolve_priors`).
    likelihood : {"student_t", "normal"}
    discrepancy : {"groups", "none"}
        ``"groups"`` adds the shared offsets described in the module docstring.
    noise : {"distance", "constant"}
        ``"distance"`` lets the noise scale grow with the run's distance from the centre of
        the runs, as described in the module docstring.

    Returns
    -------
    pymc.Model
    """
    import pymc as pm

    xp = laws.pytensor_namespace()
    law = inputs.law
    sup_names = laws.SAMPLED_NAMES["chinchilla" if law == "chinchilla" else "supervised"]
    coords = {f"{g}_group": np.arange(inputs.groups[g].n) for g in inputs.groups}
    if law == "distillation":
        coords["limit_student"] = np.array(LIMIT_STUDENTS)
    if inputs.supervised_groups is not None:
        coords["supervised_size_group"] = np.arange(inputs.supervised_groups.n)
    fixed = inputs.fixed_supervised or {}
    with pm.Model(coords=coords) as model:
        theta = {
            name: priors[name].to_pymc(name)
            for name in laws.SAMPLED_NAMES[law]
            if name not in fixed
        }
        if fixed:
            theta.update(_cut_supervised(pm, fixed, inputs.supervised_posterior))
        sigma = priors["sigma"].to_pymc("sigma")
        sup = {k: theta[k] for k in sup_names}
        # the student's own supervised loss inside the distillation law (held fixed in a
        # two-stage fit; otherwise the same law as the teacher's and the baseline's)
        sup_student = {k: pm.Data(f"fixed_{k}", v) for k, v in fixed.items()} or sup
        if law == "distillation":
            # the student's supervised loss and the law's student term depend only on (N_S,
            # D_S), which takes few distinct values (14 pairs on the Figure-1 runs): computed
            # once per pair and gathered per run, they do not dominate the gradient
            # (79 us per logp+gradient against 206 us per run: benchmarks/README.md)
            pair_NS, pair_DS, pair_index = inputs.student_pairs
            log_NS = pm.Data("pair_log_NS", pair_NS)
            log_DS = pm.Data("pair_log_DS", pair_DS)
            idx = pm.Data("pair_index", pair_index)
            log_LT = pm.Data("log_LT", inputs.x["log_LT"])
            log_LtS = laws.log_supervised(xp, log_NS, log_DS, **sup_student)[idx]
            dist = {k: theta[k] for k in laws.SAMPLED_NAMES["distillation"] if k not in sup}
            term_params = {k: dist[k] for k in laws.STUDENT_TERM_NAMES}
            term = laws.log_student_term(xp, log_NS, log_DS, **term_params)[idx]
            mu = laws.log_distillation(
                xp, None, None, log_LT, log_LtS=log_LtS, student_term=term, **dist
            )
            gap = infinite_data_gap(xp, sup, dist, sup_student)
            pm.Deterministic("infinite_data_gap", gap, dims="limit_student")
            pm.Potential("infinite_data_limit", -0.5 * ((gap / INFINITE_DATA_TOL) ** 2).sum())
        else:
            x = {k: pm.Data(k, v) for k, v in inputs.x.items()}
            mu = laws.log_supervised(xp, x["log_N"], x["log_D"], **sup)
        mu_law = mu
        for g, grp in inputs.groups.items():
            if discrepancy == "groups":
                # non-centred: on the Chinchilla runs a size holds ~5 runs whose mean is known
                # about as well as tau, where the centred version left divergences
                tau = priors["tau"].to_pymc(f"tau_{g}")
                z = pm.Normal(f"z_{g}", 0.0, 1.0, dims=f"{g}_group")
                mu = mu + tau * z[pm.Data(f"{g}_index", grp.index)]

        y = pm.Data("log_loss", inputs.y)
        scale = sigma
        if noise == "distance":
            lam = priors["lambda"].to_pymc("lambda")
            d_inputs = pm.Data("distance", inputs.distance)
            # centre and spread of the loss as data, so a cached compiled model serves new runs
            loss_centre = pm.Data("loss_centre", inputs.frame.loss_centre)
            loss_scale = pm.Data("loss_scale", inputs.frame.loss_scale)
            eta = priors["eta"].to_pymc("eta")
            u = (mu_law - loss_centre) / loss_scale  # the law's standardised log loss
            scale = noise_scale(xp, sigma, lam, eta, d_inputs, u)
        _likelihood("obs", mu, scale, y, likelihood)
        if inputs.supervised_x is not None:
            sx = {k: pm.Data(f"supervised_{k}", v) for k, v in inputs.supervised_x.items()}
            smu = laws.log_supervised(xp, sx["log_N"], sx["log_D"], **sup)
            if discrepancy != "none":
                tau_s = priors["tau"].to_pymc("tau_supervised_size")
                z_s = pm.Normal("z_supervised_size", 0.0, 1.0, dims="supervised_size_group")
                sidx = pm.Data("supervised_size_index", inputs.supervised_groups.index)
                smu = smu + tau_s * z_s[sidx]
            sigma_s = priors["sigma"].to_pymc("sigma_supervised")
            _likelihood(
                "supervised_obs",
                smu,
                sigma_s,
                pm.Data("supervised_log_loss", inputs.supervised_y),
                likelihood,
            )
    return model
