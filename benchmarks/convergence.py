"""How often ``bd.fit`` converges, over seeds, for a few sampler settings and model variants.

A single fit that passes :meth:`ScalingFit.diagnose` says little about how often a user's fit
will; this script fits the same runs with several seeds per configuration and counts the fits
that pass (max R-hat <= 1.01, min bulk ESS >= 400, no divergences), with the wall time, the
smallest bulk ESS and the mean leapfrog steps per draw of each.

A configuration is a comma-separated list of ``key=value``:

- ``tune``, ``draws``, ``chains``: as in ``bd.fit`` (absent: the law's ``DEFAULT_TUNE``,
  ``DEFAULT_DRAWS`` and 4 chains; ``default`` alone is ``bd.fit``'s defaults);
- ``noise``, ``likelihood``: the model options of ``bd.fit``;
- ``fix``: a sampled parameter held (almost) fixed at the median of the bundled posterior of the
  law (``bd.datasets.fitted``), through a prior with a standard deviation of 0.01 on the sampled
  scale: a diagnostic of which parameter makes the geometry hard, not a model to use;
- ``cutoff``: nutpie's ``mass_matrix_eigval_cutoff`` (default 100), the eigenvalue band the
  low-rank mass matrix ignores;
- ``supervised`` (distillation law): ``cut`` (the default, as the shipped posterior: the
  bundled teachers as supervised runs, two stages), ``joint`` (the same runs in one model) or
  ``none`` (no supervised runs).

``--anchor`` (Chinchilla law) also times the 1000-refit variable-projection bootstrap of the
same runs (``common.vp_bootstrap``, the speed anchor of issue 16) after the fits, and prints
each configuration's median warm fit as a ratio to it.

The compiled model is reused between the seeds of a configuration (warm fits), so the wall time
excludes compilation; the first fit of each configuration may include it.

Usage (from the repository root)::

    .venv/bin/python benchmarks/convergence.py                      # default configurations
    .venv/bin/python benchmarks/convergence.py --seeds 1,2,3 --configs "tune=500;fix=gamma_prime"
    .venv/bin/python benchmarks/convergence.py --quick              # smoke run (short chains)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

DEFAULT_SEEDS = "5,7,9,11,13,15,17,19"
#: for the distillation law: ``bd.fit``'s first defaults (1000 + 1000), its second (500 + 1500),
#: and 1000 + 1500 (the shipped posterior until then); the current defaults (500 + 2000) were
#: chosen with ``--configs "draws=2000;draws=2500"`` (``results/convergence_draws.txt``)
DEFAULT_CONFIGS = "tune=1000,draws=1000;tune=500,draws=1500;tune=1000,draws=1500"
KEYS = ("tune", "draws", "chains", "noise", "likelihood", "fix", "cutoff", "supervised")
#: the columns of one fit's row (printed as each fit ends, and in the header above them)
ROW_COLUMNS = (
    "config",
    "seed",
    "wall_s",
    "compiled",
    "max_rhat",
    "min_ess_bulk",
    "divergences",
    "steps_per_draw",
    "passed",
    "failing",
)


def parse_config(text: str) -> dict[str, str]:
    """``"tune=500,draws=1500"`` -> ``{"tune": "500", "draws": "1500"}``; ``"default"`` -> {}."""
    text = text.strip()
    if text in ("", "default"):
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in KEYS:
            raise SystemExit(
                f"bad configuration item {item!r}: use key=value with key one of " + ", ".join(KEYS)
            )
        out[key.strip()] = value.strip()
    return out


def fit_kwargs(law: str, config: dict[str, str]) -> dict:
    """Keyword arguments of ``bd.fit`` for a configuration (without the seed)."""
    import bayes_distill as bd
    from bayes_distill.priors import Prior, resolve_priors

    kwargs: dict = {}
    for key in ("tune", "draws", "chains"):
        if key in config:
            kwargs[key] = int(config[key])
    for key in ("noise", "likelihood"):
        if key in config:
            kwargs[key] = config[key]
    if law == "distillation" and config.get("supervised", "cut") != "none":
        kwargs["supervised_runs"] = bd.datasets.load("distillation_teachers")
        kwargs["supervised"] = config.get("supervised", "cut")
    if "fix" in config:
        name = config["fix"]
        post = bd.datasets.fitted(law).dt["posterior"]
        value = float(np.median(post[name].values))
        # same family as the default prior, so a positive parameter stays positive
        if resolve_priors(law, None)[name].dist == "LogNormal":
            prior = Prior("LogNormal", mu=float(np.log(value)), sigma=0.01)
        else:
            prior = Prior("Normal", mu=value, sigma=0.01)
        kwargs["priors"] = {name: prior}
    return kwargs


def run_config(law, runs, text, seeds, quick) -> list[dict]:
    import bayes_distill as bd

    config = parse_config(text)
    kwargs = fit_kwargs(law, config)
    if quick:
        kwargs.update(draws=60, tune=60)
    sample_kwargs = {}
    if "cutoff" in config:
        sample_kwargs["mass_matrix_eigval_cutoff"] = float(config["cutoff"])
    rows = []
    c.clear_compiled_cache()
    for seed in seeds:
        ins = c.Instrument(sample_kwargs=sample_kwargs)
        with warnings.catch_warnings(record=True), ins:
            warnings.simplefilter("always")
            with c.Timer() as t:
                fit = bd.fit(runs, law=law, random_seed=seed, **kwargs)
        diag = fit.diagnose()
        row = {
            "config": text,
            "seed": seed,
            "wall_s": t.seconds,
            "compiled": ins.seconds("compile") > 0,
            "max_rhat": diag.max_rhat,
            "min_ess_bulk": diag.min_ess_bulk,
            "divergences": diag.divergences,
            "steps_per_draw": ins.steps.get("draws_steps_per_draw", float("nan")),
            "passed": diag.ok,
            "failing": " ".join(sorted(set(diag.bad_rhat + diag.bad_ess))) or "-",
        }
        print(c.table([row]).splitlines()[-1], flush=True)
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for text in dict.fromkeys(r["config"] for r in rows):
        sub = [r for r in rows if r["config"] == text]
        warm = [r["wall_s"] for r in sub if not r["compiled"]] or [r["wall_s"] for r in sub]
        passed = sum(r["passed"] for r in sub)
        out.append(
            {
                "config": text,
                "fits": len(sub),
                "passed": passed,
                "pass_rate": passed / len(sub),
                "median_warm_wall_s": statistics.median(warm),
                "median_max_rhat": statistics.median(r["max_rhat"] for r in sub),
                "worst_max_rhat": max(r["max_rhat"] for r in sub),
                "median_min_ess": statistics.median(r["min_ess_bulk"] for r in sub),
                "median_steps_per_draw": statistics.median(r["steps_per_draw"] for r in sub),
            }
        )
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--law", default="distillation", choices=["chinchilla", "distillation"])
    parser.add_argument("--seeds", default=DEFAULT_SEEDS, help="comma-separated seeds")
    parser.add_argument(
        "--configs", default=DEFAULT_CONFIGS, help="';'-separated configurations (see above)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, short chains")
    parser.add_argument(
        "--anchor",
        action="store_true",
        help="Chinchilla law: time the 1000-refit VP bootstrap too and print ratios to it",
    )
    args = parser.parse_args(argv)
    if args.anchor and args.law != "chinchilla":
        parser.error(
            "--anchor is the Chinchilla law's variable-projection bootstrap: use --law chinchilla"
        )
    import bayes_distill as bd

    start = c.header(f"convergence: how often bd.fit passes its diagnostics ({args.law})")
    seeds = [int(s) for s in args.seeds.split(",")]
    configs = [s for s in args.configs.split(";") if s.strip()]
    if args.quick:
        seeds, configs = seeds[:1], ["default"]
        print("QUICK: 1 seed, 60 tuning steps and 60 draws; the pass rate means nothing here")
    for text in configs:
        parse_config(text)  # fail on a typo before any fit
    runs = bd.datasets.load(args.law)
    print(f"\n{len(runs)} runs (bd.datasets.load({args.law!r})); seeds {seeds}\n")
    print("\n".join(c.table([dict.fromkeys(ROW_COLUMNS, "")]).splitlines()[:2]))
    rows = []
    for text in configs:
        rows += run_config(args.law, runs, text, seeds, args.quick)
    summary = summarise(rows)
    if args.anchor:
        n_boot = 50 if args.quick else c.N_BOOT_VP
        _, anchor = c.vp_bootstrap(runs, n_boot, seed=1)
        print(f"\nVP bootstrap, {n_boot} refits of the same runs: {anchor:.2f} s")
        for row in summary:
            row["ratio_to_vp_bootstrap"] = row["median_warm_wall_s"] / anchor
    print("\n## Summary")
    print(c.table(summary))
    c.footer(start)


if __name__ == "__main__":
    main()
