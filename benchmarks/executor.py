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

The ratio is the serial time over the other's (above 1: the executor is faster). The compiled
model is on disk before the timings (a warm-up fit), and this process's in-memory copy is
forgotten before each serial run, so every way starts by loading it from the disk cache. The
tables of every way are compared with the serial ones (``same``).

Usage (from the repository root)::

    .venv/bin/python benchmarks/executor.py          # writes nothing; redirect to a file
    .venv/bin/python benchmarks/executor.py --quick  # smoke run: 2 data sets, 2 folds, short chains
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
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
from bayes_distill.fit import ConvergenceWarning

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


def same(a: list[pd.DataFrame], b: list[pd.DataFrame]) -> bool:
    return len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b, strict=True))


def timed_ways(name: str, settings: dict, workers: int) -> list[dict]:
    rows = []
    c.clear_compiled_cache()
    with c.Timer() as t:
        reference = study(name, settings, None)
    rows.append({"way": "serial", "run": "first", "seconds": t.seconds, "same": True})

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
                {"way": way, "run": "first", "seconds": first, "same": same(result, reference)}
            )
            rows[-1]["start_s"] = started
            with c.Timer() as t:
                result = study(name, settings, executor)
            rows.append(
                {"way": way, "run": "second", "seconds": t.seconds, "same": same(result, reference)}
            )
    serial = rows[0]["seconds"]
    for row in rows:
        row.update({"study": name, "ratio": serial / row["seconds"], "load1": os.getloadavg()[0]})
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
    with c.Timer() as t:  # puts the compiled model on disk for every way
        bd.fit(bd.datasets.load("chinchilla"), law="chinchilla", random_seed=0, draws=5, tune=5)
    print(f"warm-up fit (compiles or loads the model): {t.seconds:.1f} s\n", flush=True)
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
