"""Thread count on a busy machine: torch's default against one thread and ``n_threads="auto"``.

torch starts one OpenMP thread per core. While other processes hold cores, those
threads spin-wait for each other at every parallel region. This script fits the
same small IGMTF (synthetic market, fixed seed) with each thread setting, first on
a quiet machine, then while ``--busy`` processes spin on the CPU, and prints wall
and CPU seconds per fit.

Usage::

    python benchmarks/bench_threads.py --busy 1 --settings default,1,auto

``default`` is torch's own thread count (one per core), ``auto`` the estimator's
default (the cores that are idle when ``fit`` starts).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import torch


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _market(n_instruments, n_days):
    from sklearn.pipeline import make_pipeline

    from igmtf_sklearn.datasets import make_stock_panel
    from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

    panel = make_stock_panel(n_instruments=n_instruments, n_days=n_days, random_state=0)
    X = Alpha360(window=60).set_output(transform="pandas").fit_transform(panel)
    y = forward_return(panel)
    keep = y.notna().to_numpy() & X.notna().all(axis=1).to_numpy()
    pipe = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas")
    return pipe.fit_transform(X[keep]), y[keep]


def _fit(X, y, setting, epochs):
    from igmtf_sklearn import IGMTFRegressor

    n_threads = {"default": None, "auto": "auto"}.get(setting)
    if setting == "default":
        torch.set_num_threads(os.cpu_count() or 1)  # torch's own default: one per core
    elif n_threads is None:
        n_threads = int(setting)
    model = IGMTFRegressor(
        pretrain_epochs=0,
        max_epochs=epochs,
        train_split=None,
        random_state=0,
        verbose=0,
        n_threads=n_threads,
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes in the busy case")
    parser.add_argument("--settings", default="default,1,auto")
    parser.add_argument("--instruments", type=int, default=260)
    parser.add_argument("--days", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    X, y = _market(args.instruments, args.days)
    n_days = X.index.get_level_values(0).nunique()
    print(f"{len(X):,} rows, {n_days} days, {os.cpu_count()} cores, torch {torch.__version__}")
    print("| machine | threads | fit wall s | fit CPU s |\n|---|---|---|---|")
    for busy in (0, args.busy):
        spinners = [mp.Process(target=_spin, args=(3600,), daemon=True) for _ in range(busy)]
        for process in spinners:
            process.start()
        if busy:
            time.sleep(65)  # let the 1-minute load average see them, as "auto" reads it
        try:
            for setting in args.settings.split(","):
                wall, cpu = _fit(X, y, setting, args.epochs)
                label = "quiet" if not busy else f"{busy} core(s) busy"
                print(f"| {label} | {setting} | {wall:.1f} | {cpu:.1f} |", flush=True)
        finally:
            for process in spinners:
                process.terminate()


if __name__ == "__main__":
    main()
