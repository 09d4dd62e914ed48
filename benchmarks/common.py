"""Shared helpers for the benchmarks: machine description, timing, simple tables, and the
classical scaling-law fitter (Huber loss on log loss, L-BFGS-B from a grid of starting points).

The classical fitter evaluates the laws with :mod:`bayes_distill.laws` (NumPy namespace), so the
law is written once in the package and never retyped here; only the parameterisation differs.

Classical parameterisations (the ones the papers optimise):

* Chinchilla (Hoffmann et al. 2022; Besiroglu et al. 2024, "Epoch"): ``theta = (a, b, e, alpha,
  beta)`` with ``A = exp(a)``, ``B = exp(b)``, ``E = exp(e)``;
  ``log L = LSE(a - alpha log N, b - beta log D, e)``.
* Distillation (Busbridge et al. 2025, Eq. 8), with the student's supervised law fixed at the
  paper's Table 6 fit (the plug-in the paper uses): ``theta = (log A', log B', alpha', beta',
  gamma', c0, log c1, log f1, log d1)``.

Importable without running anything: the smoke test imports it.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bayes_distill import laws

HUBER_DELTA = 1e-3

#: Epoch AI's plain Huber point fit on the 240 bundled runs (Besiroglu et al. 2024).
EPOCH_PLAIN_HUBER = {"A": 477.4, "B": 2143.0, "E": 1.8172, "alpha": 0.3473, "beta": 0.3672}

CHINCHILLA_NAMES = ("a", "b", "e", "alpha", "beta")
DISTILLATION_NAMES = (
    "log_A_prime",
    "log_B_prime",
    "alpha_prime",
    "beta_prime",
    "gamma_prime",
    "c0",
    "log_c1",
    "log_f1",
    "log_d1",
)
_SUPERVISED_PAPER = {k: laws.PAPER[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")}


# --------------------------------------------------------------------------------------------
# machine, timing, tables


def fit_module():
    """The module that defines ``bd.fit`` (for ``_COMPILED_CACHE`` and the defaults)."""
    import importlib

    return importlib.import_module("bayes_distill.sampling")


def quick_fit_options(quick: bool) -> dict[str, Any]:
    """Extra ``bd.fit`` options of a ``--quick`` smoke run: one attempt. Its short chains miss
    the diagnostics by design, and the automatic retries would only triple its time."""
    return {"retries": 0} if quick else {}


def clear_compiled_cache() -> None:
    """Forget nutpie models compiled in this process, so the next fit is cold."""
    fit_module()._COMPILED_CACHE.clear()


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


def machine_lines() -> list[str]:
    """nproc, CPU model, Python and library versions, load average now."""
    import importlib.metadata as md

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    versions = []
    for pkg in ("bayes_distill", "pymc", "pytensor", "nutpie", "numpyro", "jax", "scipy", "numpy"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return [
        f"machine: nproc={os.cpu_count()}, cpu={cpu}, python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "versions: " + ", ".join(versions),
    ]


def source_line() -> str:
    """The git commit of the tree and whether src/ has uncommitted changes (the package's model
    may be under development while benchmarks run)."""
    import hashlib
    import subprocess

    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--short", "--", "src").splitlines()]
    if not changed:
        return f"source: git {head}, src/ clean"
    digest = hashlib.sha256(git("diff", "HEAD", "--", "src").encode()).hexdigest()[:10]
    return (
        f"source: git {head} + uncommitted src/ changes in {', '.join(changed)} "
        f"(diff sha256 {digest})"
    )


def header(title: str, argv: Sequence[str] | None = None) -> float:
    """Print the run's header (title, command, machine, load at start); return the start time."""
    print(f"# {title}")
    print(f"command: python {' '.join(argv if argv is not None else sys.argv)}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    for line in machine_lines():
        print(line)
    print(source_line())
    print(f"load average at start: {loadavg()}")
    print(
        "NOTE: wall times on a shared machine; compare them only with the load averages "
        "printed at the start and the end.",
        flush=True,
    )
    return time.perf_counter()


def footer(start: float) -> None:
    print(f"\nload average at end: {loadavg()}")
    print(f"total wall time of this script: {time.perf_counter() - start:.1f} s", flush=True)


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain Markdown table (floats formatted with 4 significant digits)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def fmt(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return str(bool(v))
        if isinstance(v, int | np.integer):
            return f"{int(v):,}"
        if isinstance(v, float | np.floating):
            v = float(v)
            if not np.isfinite(v):
                return str(v)
            if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
                return f"{v:.3g}"
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join(lines)


def ess_bulk_min(fit) -> float:
    """Smallest bulk ESS over the law's natural parameters of a ScalingFit."""
    import arviz as az

    ess = az.ess(fit.params, method="bulk")
    return float(min(float(np.min(ess[v].values)) for v in ess.data_vars))


def nuts_stats(fit) -> dict[str, float]:
    """Divergences and mean leapfrog steps per draw from a ScalingFit's sample_stats."""
    ss = fit.dt["sample_stats"].to_dataset()
    out: dict[str, float] = {}
    if "diverging" in ss:
        out["divergences"] = int(ss["diverging"].values.sum())
    for name in ("n_steps", "tree_size"):
        if name in ss:
            out["steps_per_draw"] = float(ss[name].values.mean())
            break
    else:
        if "depth" in ss or "tree_depth" in ss:
            depth = ss["depth"] if "depth" in ss else ss["tree_depth"]
            out["steps_per_draw"] = float((2.0**depth.values - 1).mean())
    return out


# --------------------------------------------------------------------------------------------
# instrumentation of bd.fit


class Instrument:
    """Time the sampler calls that ``bd.fit`` makes, without changing ``bd.fit``'s code.

    Inside ``with Instrument() as ins:``, the compile step of ``bd.fit``
    (``bayes_distill._nutpie.compile_model``), ``nutpie.sample`` and ``pymc.sample`` are
    wrapped: their wall times are appended to ``ins.calls`` as
    ``(name, seconds)``. ``nutpie.sample`` is called with ``save_warmup=True`` (``bd.fit`` keeps
    only the posterior and sample_stats groups, so its result is unchanged) and the mean leapfrog
    steps per draw of the tuning and sampling phases are recorded. ``nutpie_backend`` and
    ``adaptation`` override nutpie's compile backend ("numba" or "jax") and mass-matrix adaptation
    ("low_rank" or "diag") for A/B measurements (a backend compiles with
    ``nutpie.compile_pymc_model``, whose callbacks are not cached on disk); ``pm_kwargs`` are
    added to ``pymc.sample``'s keyword arguments (e.g. ``cores``) and ``sample_kwargs`` to
    ``nutpie.sample``'s (e.g. ``mass_matrix_eigval_cutoff``).
    """

    def __init__(
        self,
        *,
        nutpie_backend: str | None = None,
        adaptation: str | None = None,
        pm_kwargs: dict | None = None,
        sample_kwargs: dict | None = None,
    ):
        self.nutpie_backend = nutpie_backend
        self.adaptation = adaptation
        self.pm_kwargs = dict(pm_kwargs or {})
        self.sample_kwargs = dict(sample_kwargs or {})
        self.calls: list[tuple[str, float]] = []
        self.steps: dict[str, float] = {}

    def seconds(self, name: str) -> float:
        return float(sum(s for n, s in self.calls if n == name))

    def __enter__(self) -> Instrument:
        import nutpie
        import pymc

        from bayes_distill import _nutpie

        self._orig = (_nutpie.compile_model, nutpie.sample, pymc.sample)
        orig_compile, orig_sample, orig_pm_sample = self._orig

        def compile_model(model):
            with Timer() as t:
                if self.nutpie_backend is not None:
                    kwargs = {"backend": self.nutpie_backend}
                    if self.nutpie_backend == "jax":
                        kwargs["gradient_backend"] = "jax"
                    out = nutpie.compile_pymc_model(model, **kwargs)
                else:
                    out = orig_compile(model)
            self.calls.append(("compile", t.seconds))
            return out

        def sample(compiled, **kwargs):
            kwargs["save_warmup"] = True
            kwargs.update(self.sample_kwargs)
            if self.adaptation is not None:
                kwargs["adaptation"] = self.adaptation
            with Timer() as t:
                out = orig_sample(compiled, **kwargs)
            self.calls.append(("sample", t.seconds))
            for group, key in (("warmup_sample_stats", "tune"), ("sample_stats", "draws")):
                if group in out.children and "n_steps" in out[group]:
                    n = out[group]["n_steps"].values
                    self.steps[f"{key}_steps_per_draw"] = float(n.mean())
                    self.steps[f"{key}_total_steps"] = float(n.sum())
            return out

        def pm_sample(*args, **kwargs):
            kwargs.update(self.pm_kwargs)
            with Timer() as t:
                out = orig_pm_sample(*args, **kwargs)
            self.calls.append(("pm.sample", t.seconds))
            return out

        _nutpie.compile_model = compile_model
        nutpie.sample = sample
        pymc.sample = pm_sample
        return self

    def __exit__(self, *exc: object) -> None:
        import nutpie
        import pymc

        from bayes_distill import _nutpie

        _nutpie.compile_model, nutpie.sample, pymc.sample = self._orig


# --------------------------------------------------------------------------------------------
# the classical fit


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber loss of residuals ``r``: quadratic within ``delta``, linear beyond."""
    abs_r = np.abs(r)
    return np.where(abs_r <= delta, 0.5 * r**2, delta * (abs_r - 0.5 * delta))


def chinchilla_natural(theta: Sequence[float]) -> dict[str, float]:
    """Natural parameters (E, A, B, alpha, beta) of a classical Chinchilla vector."""
    a, b, e, alpha, beta = (float(v) for v in theta)
    return {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": alpha, "beta": beta}


def distillation_natural(theta: Sequence[float]) -> dict[str, float]:
    """Natural distillation parameters of a classical distillation vector."""
    la, lb, alpha_p, beta_p, gamma_p, c0, lc1, lf1, ld1 = (float(v) for v in theta)
    return {
        "A_prime": np.exp(la),
        "B_prime": np.exp(lb),
        "alpha_prime": alpha_p,
        "beta_prime": beta_p,
        "gamma_prime": gamma_p,
        "c0": c0,
        "c1": np.exp(lc1),
        "f1": np.exp(lf1),
        "d1": np.exp(ld1),
    }


def chinchilla_objective(theta, log_N, log_D, log_L, delta=HUBER_DELTA) -> float:
    """Sum of Huber losses of log-loss residuals; the law is ``laws.log_supervised``."""
    a, b, e, alpha, beta = theta
    pred = laws.log_supervised(
        laws.NUMPY,
        log_N,
        log_D,
        log_E=e,
        a=a - alpha * np.log(laws.N0),  # the package centres the amplitudes at N0 and D0
        b=b - beta * np.log(laws.D0),
        alpha=alpha,
        beta=beta,
    )
    return float(np.sum(huber(log_L - pred, delta)))


def distillation_objective(theta, log_NS, log_DS, log_LT, log_LS, delta=HUBER_DELTA) -> float:
    """Huber objective of the distillation law (``laws.log_distillation``), with the student's
    supervised loss from the paper's Table 6 supervised fit."""
    natural = {**_SUPERVISED_PAPER, **distillation_natural(theta)}
    if not (natural["gamma_prime"] > 0 and np.isfinite(natural["f1"]) and natural["f1"] > 0):
        return 1e10
    s = laws.to_sampled("distillation", natural)
    sup = {k: s[k] for k in laws.SAMPLED_NAMES["supervised"]}
    log_LtS = laws.log_supervised(laws.NUMPY, log_NS, log_DS, **sup)
    dist = {k: s[k] for k in laws.SAMPLED_NAMES["distillation"] if k not in sup}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pred = laws.log_distillation(laws.NUMPY, log_NS, log_DS, log_LT, log_LtS=log_LtS, **dist)
    val = float(np.sum(huber(log_LS - pred, delta)))
    return val if np.isfinite(val) else 1e10


#: Hoffmann et al.'s grid (as in Epoch's replication): alpha, beta in {0, 0.5, ..., 2},
#: e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 5 * 5 * 5 * 6 * 6 = 4500 starts.
HOFFMANN_AXES = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
#: A 108-start subgrid of Hoffmann's: a, b in {0, 10, 20}, e in {-1, 0, 1},
#: alpha, beta in {0.5, 1.5}: 3 * 3 * 3 * 2 * 2 = 108 starts.
GRID108_AXES = {
    "a": (0.0, 10.0, 20.0),
    "b": (0.0, 10.0, 20.0),
    "e": (-1.0, 0.0, 1.0),
    "alpha": (0.5, 1.5),
    "beta": (0.5, 1.5),
}
#: Distillation grid (stated here; the paper does not publish its grid): two values per
#: parameter, 2**9 = 512 starts, around the range of the published fit.
DISTILLATION_AXES = {
    "log_A_prime": (np.log(1e2), np.log(1e4)),
    "log_B_prime": (np.log(1e3), np.log(1e6)),
    "alpha_prime": (0.2, 0.5),
    "beta_prime": (0.3, 0.7),
    "gamma_prime": (0.5, 1.0),
    "c0": (1.0, 3.0),
    "log_c1": (np.log(50.0), np.log(500.0)),
    "log_f1": (np.log(0.05), np.log(0.5)),
    "log_d1": (np.log(1.0), np.log(1.5)),
}


def grid(axes: dict[str, Iterable[float]], names: Sequence[str]) -> np.ndarray:
    """Cartesian product of ``axes`` as an (n_starts, len(names)) array, columns in ``names``."""
    return np.array(list(itertools.product(*(axes[n] for n in names))), dtype=float)


def hoffmann_grid() -> np.ndarray:
    return grid(HOFFMANN_AXES, CHINCHILLA_NAMES)


def grid108() -> np.ndarray:
    return grid(GRID108_AXES, CHINCHILLA_NAMES)


def distillation_grid() -> np.ndarray:
    return grid(DISTILLATION_AXES, DISTILLATION_NAMES)


def spread_subset(starts: np.ndarray, n: int) -> np.ndarray:
    """``n`` starts spread evenly through the grid (every k-th start), for timing a subset."""
    if n >= len(starts):
        return starts
    idx = np.linspace(0, len(starts) - 1, n).round().astype(int)
    return starts[idx]


@dataclass
class MultiStartResult:
    x: np.ndarray
    fun: float
    n_starts: int
    seconds: float
    nfev: int
    n_success: int

    @property
    def seconds_per_start(self) -> float:
        return self.seconds / self.n_starts


def multistart(
    objective: Callable[..., float],
    starts: np.ndarray,
    args: tuple = (),
    *,
    jac: bool | Callable[..., np.ndarray] | None = None,
) -> MultiStartResult:
    """L-BFGS-B (``scipy.optimize.minimize``, default options) from every start; keep the best.

    Without ``jac`` SciPy uses 2-point finite-difference gradients, as the published replication
    code does; ``jac=True`` means ``objective`` returns ``(value, gradient)``.
    """
    import warnings

    from scipy.optimize import minimize

    best_x, best_f, nfev, n_ok = None, np.inf, 0, 0
    t0 = time.perf_counter()
    for x0 in starts:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            res = minimize(objective, x0, args=args, jac=jac, method="L-BFGS-B")
        nfev += int(res.nfev)
        n_ok += bool(res.success)
        if np.isfinite(res.fun) and res.fun < best_f:
            best_x, best_f = np.asarray(res.x, dtype=float), float(res.fun)
    seconds = time.perf_counter() - t0
    return MultiStartResult(best_x, best_f, len(starts), seconds, nfev, n_ok)


def jax_chinchilla_objective() -> Callable[..., tuple[float, np.ndarray]]:
    """The Chinchilla Huber objective with its exact gradient (JAX autodiff of
    ``laws.log_supervised``, jit-compiled, float64), for ``multistart(..., jac=True)``.

    Turns on ``jax_enable_x64`` for the process.
    """
    from types import SimpleNamespace

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    xp = SimpleNamespace(
        name="jax",
        log=jnp.log,
        exp=jnp.exp,
        logaddexp=jnp.logaddexp,
        softplus=jax.nn.softplus,
    )

    def objective(theta, log_N, log_D, log_L):
        a, b, e, alpha, beta = theta
        pred = laws.log_supervised(
            xp,
            log_N,
            log_D,
            log_E=e,
            a=a - alpha * np.log(laws.N0),
            b=b - beta * np.log(laws.D0),
            alpha=alpha,
            beta=beta,
        )
        r = log_L - pred
        abs_r = jnp.abs(r)
        d = HUBER_DELTA
        return jnp.sum(jnp.where(abs_r <= d, 0.5 * r**2, d * (abs_r - 0.5 * d)))

    value_and_grad = jax.jit(jax.value_and_grad(objective))

    def fun(theta, log_N, log_D, log_L):
        v, g = value_and_grad(jnp.asarray(theta), log_N, log_D, log_L)
        return float(v), np.asarray(g, dtype=float)

    return fun


def chinchilla_arrays(runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.log(runs["N"].to_numpy(float)),
        np.log(runs["D"].to_numpy(float)),
        np.log(runs["loss"].to_numpy(float)),
    )


def distillation_arrays(runs) -> tuple[np.ndarray, ...]:
    return tuple(np.log(runs[c].to_numpy(float)) for c in ("N_S", "D_S", "L_T", "L_S"))


def fit_chinchilla_classical(runs, starts: np.ndarray | None = None) -> MultiStartResult:
    """Classical Chinchilla fit (Hoffmann's grid unless ``starts`` is given)."""
    starts = hoffmann_grid() if starts is None else starts
    return multistart(chinchilla_objective, starts, chinchilla_arrays(runs))


def fit_distillation_classical(runs, starts: np.ndarray | None = None) -> MultiStartResult:
    starts = distillation_grid() if starts is None else starts
    return multistart(distillation_objective, starts, distillation_arrays(runs))


def bootstrap(
    fit_fn: Callable[[Any, np.ndarray], MultiStartResult],
    runs,
    starts: np.ndarray,
    n_resamples: int,
    seed: int = 0,
) -> list[MultiStartResult]:
    """Refit ``n_resamples`` bootstrap resamples of the runs (rows drawn with replacement)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(runs), len(runs))
        out.append(fit_fn(runs.iloc[idx].reset_index(drop=True), starts))
    return out


# --------------------------------------------------------------------------------------------
# simulated runs (scaling.py)


def simulate_supervised(n: int, *, seed: int = 0, noise: float = 0.01) -> tuple[Any, dict]:
    """``n`` SIMULATED supervised runs: the Chinchilla law at Epoch's plain Huber fit plus noise.

    Model sizes from 30 values log-spaced in [7e7, 1.6e10] and token counts from 20 values
    log-spaced in [2e8, 3e11] (runs share sizes and token counts, as real sweeps do, so the
    number of discrepancy groups stays fixed as runs are added); ``log L = law + N(0, noise)``.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    truth = dict(EPOCH_PLAIN_HUBER)
    N = rng.choice(np.geomspace(7e7, 1.6e10, 30), n)
    D = rng.choice(np.geomspace(2e8, 3e11, 20), n)
    s = laws.to_sampled("chinchilla", truth)
    log_L = laws.log_supervised(laws.NUMPY, np.log(N), np.log(D), **s)
    loss = np.exp(log_L + rng.normal(0.0, noise, n))
    return pd.DataFrame({"N": N, "D": D, "loss": loss}), truth


def simulate_distillation(n: int, *, seed: int = 0, noise: float = 0.005) -> tuple[Any, dict]:
    """``n`` SIMULATED distillation runs: the paper's Table 6 law (with ``B' = 2e6``, which
    reproduces Figure 1; docs/model.md) plus noise.

    Students from 8 sizes log-spaced in [1.4e8, 1.8e9], distillation tokens from 12 values
    log-spaced in [3.7e9, 1e11], teachers from 20 losses evenly spaced in [1.9, 2.8] (the ranges
    of the bundled Figure-1 runs).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    truth = dict(laws.PAPER)
    truth["B_prime"] = 2e6
    N_S = rng.choice(np.geomspace(1.4e8, 1.8e9, 8), n)
    D_S = rng.choice(np.geomspace(3.7e9, 1e11, 12), n)
    L_T = rng.choice(np.linspace(1.9, 2.8, 20), n)
    L_S = laws.distillation_loss(N_S, D_S, L_T, **truth) * np.exp(rng.normal(0.0, noise, n))
    return pd.DataFrame({"N_S": N_S, "D_S": D_S, "L_T": L_T, "L_S": L_S}), truth


# --------------------------------------------------------------------------------------------
# variable projection (VP) point fit of the Chinchilla law: the speed anchor


@dataclass(frozen=True)
class VPResult:
    """A variable-projection fit: natural parameters, residual sum of squares, seconds."""

    params: dict[str, float]
    rss: float
    seconds: float


def vp_fit_chinchilla(N, D, loss, grid: int = 8) -> VPResult:
    """Variable-projection least-squares fit of the Chinchilla law on the loss, timed.

    For fixed ``(alpha, beta)`` the law ``E + A N^-alpha + B D^-beta`` is linear in ``(E, A,
    B)``, solved exactly by least squares; only the two exponents are searched (the approach of
    Open-Athena's VPNLS, arXiv 2603.22339): the package's ``_start.point_fit``, which also
    estimates how far to centre the per-size offsets of a fit.
    """
    from bayes_distill import _start

    t0 = time.perf_counter()
    p = _start.point_fit(np.log(np.asarray(N, float)), np.log(np.asarray(D, float)), loss, grid)
    rss = p.pop("rss")
    return VPResult(p, rss, time.perf_counter() - t0)


#: Refits of the variable-projection bootstrap, the speed anchor of issue 16.
N_BOOT_VP = 1000


def vp_bootstrap(runs, n_resamples: int, seed: int = 0) -> tuple[list[VPResult], float]:
    """``n_resamples`` VP refits of bootstrap resamples of the runs; the results and the total
    wall time (resampling included)."""
    rng = np.random.default_rng(seed)
    N, D, loss = (runs[c].to_numpy(float) for c in ("N", "D", "loss"))
    t0 = time.perf_counter()
    out = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(loss), len(loss))
        out.append(vp_fit_chinchilla(N[idx], D[idx], loss[idx]))
    return out, time.perf_counter() - t0
