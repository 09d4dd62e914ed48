"""Why NUTS needs ~55 leapfrog steps per draw on the distillation law: local curvature.

For a Gaussian posterior and a mass matrix equal to its covariance, the Hessian of ``-log p``
in whitened coordinates is the identity everywhere, and NUTS needs few steps. This script
measures how far the shipped distillation posterior (``bd.datasets.fitted("distillation")``) is
from that: at posterior draws it computes the Hessian of ``-log p`` on the sampled
(unconstrained) scale by central differences of the model's gradient (the same compiled
callback nutpie calls), whitens it with the draws' covariance (what a perfectly adapted dense
mass matrix would use), and reports its eigenvalues. A largest eigenvalue of ``k`` means that
locally the posterior is ``sqrt(k)`` times narrower in one direction than globally: the step
size must resolve the narrow width while the trajectory crosses the global one. The script also
prints the parameters that the stiffest direction moves, standardised by their posterior
standard deviations, at a few draws, and the same eigenvalues for a reparameterisation of the
break term (``log kappa + log softplus(-log d1 / f1)``, the size of the break term when the
teacher's loss equals the student's supervised loss, instead of ``log kappa``; a change of
variables with unit Jacobian, so the posterior is unchanged). The shipped Chinchilla posterior,
which NUTS samples in ~14 steps per draw, is the reference.

Usage (from the repository root)::

    .venv/bin/python benchmarks/geometry.py            # 30 draws of each law
    .venv/bin/python benchmarks/geometry.py --quick    # 3 draws (smoke run)
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c


def compiled_model(law: str):
    import bayes_distill as bd
    from bayes_distill import _nutpie, model, priors

    inputs = model.prepare_inputs(law, bd.datasets.load(law))
    # in the law's own coordinates: the shipped posteriors' draws are recorded in them
    scaling_model = model.ScalingModel(law, inputs=inputs, level_shares=False, centring=False)
    return _nutpie.compile_model(scaling_model.pymc(priors.resolve_priors(law)))


def unconstrained_draws(compiled, posterior, thin: int) -> tuple[list[str], np.ndarray]:
    """The posterior draws as nutpie's flat vectors (``*_log__`` entries are logs)."""
    names, slices, _ = compiled.shape_info
    free = [(n, s) for n, s in zip(names, slices, strict=True) if s.stop <= compiled.n_dim]
    rows = []
    for chain in range(posterior.sizes["chain"]):
        for draw in range(0, posterior.sizes["draw"], thin):
            x = np.empty(compiled.n_dim)
            for name, sl in free:
                if name.endswith("_log__"):
                    x[sl] = np.log(posterior[name[: -len("_log__")]].values[chain, draw])
                else:
                    x[sl] = posterior[name].values[chain, draw]
            rows.append(x)
    return [n for n, _ in free], np.array(rows)


def law_draws(law: str, n_draws: int):
    """The law's compiled model, the names and flat vectors of every 5th draw of its shipped
    posterior, and ``n_draws`` of those picked at random (seed 0)."""
    import bayes_distill as bd

    compiled = compiled_model(law)
    posterior = bd.datasets.fitted(law).dt["posterior"].to_dataset()
    names, draws = unconstrained_draws(compiled, posterior, thin=5)
    picks = np.random.default_rng(0).choice(len(draws), n_draws, replace=False)
    return compiled, names, draws, picks


def gradient(compiled):
    """``x -> d log p / dx`` through the compiled C callback (as nuts-rs calls it)."""
    f64p = ctypes.POINTER(ctypes.c_double)
    n = compiled.n_dim

    def grad(x):
        x = np.ascontiguousarray(x, dtype=float)
        g, lp = np.empty(n), np.empty(())
        code = compiled.compiled_logp_func.ctypes(
            n,
            x.ctypes.data_as(f64p),
            g.ctypes.data_as(f64p),
            lp.ctypes.data_as(f64p),
            ctypes.c_void_p(compiled.user_data.ctypes.data),
        )
        if code != 0:
            raise RuntimeError(f"the log density failed at a posterior draw (code {code})")
        return g

    return grad


def whitened_hessian(grad, x, factor, step=1e-4):
    """``factor.T H factor`` with ``H`` the Hessian of ``-log p`` at ``x`` (central differences
    of the gradient along the columns of ``factor``)."""
    n = len(x)
    h = np.empty((n, n))
    for j in range(n):
        e = factor[:, j] * step
        h[j] = -(grad(x + e) - grad(x - e)) / (2 * step) @ factor
    return 0.5 * (h + h.T)


class BreakReparameterisation:
    """``(log kappa, log inv_f1, log d1) -> (log k0, log inv_f1, log d1)`` with
    ``log k0 = log kappa + log softplus(-inv_f1 log d1)``; unit Jacobian."""

    def __init__(self, names):
        self.k, self.u, self.d = (names.index(n) for n in ("kappa_log__", "inv_f1_log__", "log_d1"))

    def _g(self, u, d):
        s = -np.exp(u) * d
        softplus = np.logaddexp(0.0, s)
        dg_ds = 1.0 / (1.0 + np.exp(-s)) / softplus
        return np.log(softplus), dg_ds * s, dg_ds * -np.exp(u)  # g, dg/du, dg/dd

    def forward(self, x):
        y = np.array(x, dtype=float)
        y[..., self.k] = x[..., self.k] + self._g(x[..., self.u], x[..., self.d])[0]
        return y

    def gradient(self, grad):
        def grad_new(y):
            x = np.array(y, dtype=float)
            g, dg_du, dg_dd = self._g(y[self.u], y[self.d])
            x[self.k] = y[self.k] - g
            go = grad(x)
            out = go.copy()
            out[self.u] = go[self.u] - go[self.k] * dg_du
            out[self.d] = go[self.d] - go[self.k] * dg_dd
            return out

        return grad_new


def eigen_summary(label, grad, draws, picks) -> tuple[dict, list]:
    factor = np.linalg.cholesky(np.cov(draws.T))
    eig, vecs = [], []
    for i in picks:
        w, v = np.linalg.eigh(whitened_hessian(grad, draws[i], factor))
        eig.append(w)
        vecs.append(factor @ v[:, -1])
    eig = np.array(eig)
    row = {
        "parameterisation": label,
        "draws": len(picks),
        "largest_eig_q10": float(np.quantile(eig[:, -1], 0.1)),
        "largest_eig_median": float(np.median(eig[:, -1])),
        "largest_eig_q90": float(np.quantile(eig[:, -1], 0.9)),
        "second_eig_median": float(np.median(eig[:, -2])),
        "smallest_eig_median": float(np.median(eig[:, 0])),
        "negative_eigs_per_draw": float((eig < 0).sum(axis=1).mean()),
    }
    return row, vecs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30, help="posterior draws examined")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 draws")
    args = parser.parse_args(argv)
    start = c.header(
        "geometry: curvature of the Chinchilla and distillation posteriors at their draws"
    )
    n_draws = 3 if args.quick else args.draws
    # reference: the Chinchilla law, which NUTS samples in ~14 leapfrog steps per draw
    compiled, _, draws, picks = law_draws("chinchilla", n_draws)
    rows = [eigen_summary("chinchilla (reference)", gradient(compiled), draws, picks)[0]]
    compiled, names, draws, picks = law_draws("distillation", n_draws)
    print(f"\n{len(draws)} distillation posterior draws (every 5th), {compiled.n_dim} parameters")
    print("Hessian of -log p, whitened by the draws' covariance (1 everywhere if Gaussian)\n")
    grad = gradient(compiled)
    row, vecs = eigen_summary("distillation as sampled (log kappa)", grad, draws, picks)
    rows.append(row)
    rep = BreakReparameterisation(names)
    row, _ = eigen_summary(
        "distillation, log k0 instead of log kappa", rep.gradient(grad), rep.forward(draws), picks
    )
    rows.append(row)
    print("## Summary")
    print(c.table(rows))
    sd = draws.std(axis=0)
    print("\nDistillation: stiffest direction at some draws (posterior sds, largest = 1):")
    for i, v in zip(picks[:5], vecs[:5], strict=False):
        v = v / sd
        v = v / np.abs(v).max()
        top = np.argsort(-np.abs(v))[:6]
        print(f"  draw {i}: " + " ".join(f"{names[k]}={v[k]:+.2f}" for k in top))
    c.footer(start)


if __name__ == "__main__":
    main()
