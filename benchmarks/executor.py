"""Independent fits serially in one process vs one fit per core in worker processes.

An SBC study of the Chinchilla law (``--n-datasets`` simulated data sets, the published
parameters as truth) and a backtest of the bundled Chinchilla runs with several folds
(``compute_below`` thresholds) are each run three ways, at the package's default draws, tuning
steps and 4 chains:

* ``serial``: ``executor=None``, the fits one after another in this process;
* ``processes``: a :class:`concurrent.futures.ProcessPoolExecutor` with one worker per core
  (``spawn`` start method), started inside the timing, then a second run on the same warm pool;
* ``dask``: a ``dask.distributed.LocalCluster`` with one single-threaded worker process per
  core, started inside the timing, then a second run on the same cluster.

First, the compile cache: one worker per core fits the Chinchilla model at the same time on
an empty PyTensor compile directory (so they compile it at once and write the same cache
entries), then a new process fits it again and should load it from the disk instead of
compiling (a shorter first fit).

The ratio is the serial time over the other's (above 1: the executor is faster). The compiled
models are on disk before the timings (a warm-up run of both studies with 5 draws), and this
process's in-memory copies are forgotten before the serial run, so every way starts by loading
them from the disk cache. A process pool starts its workers at the first task, so its start-up
is inside the first run's time (``start_s`` is then near 0). The
tables of every way are compared with the serial ones (``same``).

Usage (from the repository root)::

    .venv/bin/python benchmarks/executor.py          # writes nothing; redirect to a file
    .venv/bin/python benchmarks/executor.py --quick  # smoke run: 2 data sets, 2 folds, short
                                                     # chains, no compile-cache check
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

import bayes_distill as bd
from bayes_distill import checks
from bayes_distill.diagnostics import ConvergenceWarning

FOLDS = (3e19, 1e20, 3e20, 1e21)


def study(name: str, settings: dict, executor) -> list[pd.DataFrame]:
    """Run one study; its result tables without the timing column."""
    if name == "sbc":
        res = checks.sbc(
            "chinchilla",
            n_datasets=settings["n_datasets"],
            truth="paper",
            random_seed=0,
            executor=executor,
            **settings["fit"],
        )
        return [res.table.drop(columns="seconds")]
    folds = bd.backtest(
        bd.datasets.load("chinchilla"),
        law="chinchilla",
        train=[{"compute_below": x} for x in settings["folds"]],
        random_seed=0,
        executor=executor,
        **settings["fit"],
    )
    return [bt.table for bt in folds]


def load1() -> float:
    return os.getloadavg()[0]


def same(a: list[pd.DataFrame], b: list[pd.DataFrame]) -> bool:
    return len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b, strict=True))


def timed_ways(name: str, settings: dict, workers: int) -> list[dict]:
    rows = []
    c.clear_compiled_cache()
    with c.Timer() as t:
        reference = study(name, settings, None)
    rows.append(
        {"way": "serial", "run": "first", "seconds": t.seconds, "same": True, "load1": load1()}
    )

    def start_pool(stack: ExitStack):
        ctx = multiprocessing.get_context("spawn")
        return stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=ctx))

    def start_dask(stack: ExitStack):
        from dask.distributed import Client, LocalCluster

        cluster = stack.enter_context(
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        )
        return stack.enter_context(Client(cluster))

    ways = [("processes", start_pool)]
    try:
        import distributed  # noqa: F401

        ways.append(("dask", start_dask))
    except ImportError:
        print("dask.distributed is not installed: the dask way is skipped")
    for way, start in ways:
        with ExitStack() as stack:
            t0 = time.perf_counter()
            executor = start(stack)
            started = time.perf_counter() - t0
            result = study(name, settings, executor)
            first = time.perf_counter() - t0
            rows.append(
                {
                    "way": way,
                    "run": "first",
                    "seconds": first,
                    "start_s": started,
                    "same": same(result, reference),
                    "load1": load1(),
                }
            )
            with c.Timer() as t:
                result = study(name, settings, executor)
            rows.append(
                {
                    "way": way,
                    "run": "second",
                    "seconds": t.seconds,
                    "same": same(result, reference),
                    "load1": load1(),
                }
            )
    serial = rows[0]["seconds"]
    for row in rows:
        row.update({"study": name, "ratio": serial / row["seconds"]})
    return rows


def first_fit(seed: int, draws: int) -> dict:
    """In a worker: the first fit of the Chinchilla model in this process (PyMC's import
    included), and whether its callbacks were loaded from the disk cache."""
    t0 = time.perf_counter()
    runs = bd.datasets.load("chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = bd.fit(runs, law="chinchilla", random_seed=seed, draws=draws, tune=draws, chains=2)
    return {"seconds": time.perf_counter() - t0, "max_rhat": fit.diagnose().max_rhat}


def compile_cache(workers: int, draws: int) -> list[dict]:
    """``workers`` new processes fit one model at once on an empty compile cache, then one
    more process fits it again: does it load what they wrote?"""
    ctx = multiprocessing.get_context("spawn")
    before = os.environ.get("PYTENSOR_FLAGS")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bd_executor_") as compiledir:
        # spawned workers read the environment when they start
        os.environ["PYTENSOR_FLAGS"] = ",".join(
            f for f in [before or "", f"base_compiledir={compiledir}"] if f
        )
        try:
            for state, n in (("empty cache, at once", workers), ("after them", 1)):
                with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
                    futures = [pool.submit(first_fit, i, draws) for i in range(n)]
                    for i, future in enumerate(futures):
                        rows.append({"cache": state, "worker": i, **future.result()})
                        rows[-1]["load1"] = load1()
                files = list(Path(compiledir).rglob("*.nbi"))
                rows[-1]["numba_index_files"] = len(files)
        finally:
            if before is None:
                os.environ.pop("PYTENSOR_FLAGS", None)
            else:
                os.environ["PYTENSOR_FLAGS"] = before
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-datasets", type=int, default=6)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="smoke run: few, short fits")
    args = parser.parse_args(argv)
    start = c.header("executor: independent fits serially vs one per core in worker processes")
    if args.quick:
        settings = {"n_datasets": 2, "folds": FOLDS[-2:], "fit": {"draws": 100, "tune": 100}}
    else:
        settings = {"n_datasets": args.n_datasets, "folds": FOLDS, "fit": {}}
    settings["fit"]["chains"] = 4
    print(
        f"workers={args.workers}; sbc: {settings['n_datasets']} data sets; backtest folds: "
        f"compute_below {list(settings['folds'])}; fits: {settings['fit']} (else bd.fit's "
        "defaults)\n",
        flush=True,
    )
    warnings.simplefilter("ignore", ConvergenceWarning)
    with c.Timer() as t:  # puts every compiled model on disk (a fold's runs may need another)
        short = {**settings, "fit": {**settings["fit"], "draws": 5, "tune": 5}}
        for name in ("sbc", "backtest"):
            study(name, short, None)
    print(f"warm-up (compiles or loads the models): {t.seconds:.1f} s\n", flush=True)
    if args.quick:
        print("(--quick: the compile-cache check is skipped; it compiles a model from scratch)\n")
    else:
        print("## The compile cache when several workers compile one model at once")
        cache_rows = compile_cache(args.workers, settings["fit"].get("draws", 1000))
        print(
            c.table(
                cache_rows, ["cache", "worker", "seconds", "max_rhat", "numba_index_files", "load1"]
            )
        )
        print(
            "Every worker's first fit includes importing PyMC and compiling (empty cache) or "
            "loading (after them) the model.\n",
            flush=True,
        )
    rows = []
    columns = ["study", "way", "run", "seconds", "start_s", "ratio", "same", "load1"]
    for name in ("sbc", "backtest"):
        new = timed_ways(name, settings, args.workers)
        print(c.table(new, columns), flush=True)
        rows += new
    print("\n## Summary")
    print(c.table(rows, columns))
    print(
        "ratio: serial seconds / this way's seconds (above 1: faster than serial); start_s: "
        "starting the pool or cluster, included in 'first'"
    )
    c.footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
