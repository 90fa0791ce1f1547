"""
Tune IGMTF on real CSI 300 data with walk-forward cross-validation
==================================================================

Alpha360 features are built once over the whole OHLCV panel (each day's
features need the previous ``window`` days, which a fold's rows would not
have), then ``GridSearchCV`` cross-validates ``RobustZScoreNorm -> Fillna ->
IGMTFRegressor`` on the feature frame with :class:`WalkForwardSplit`, scored by
the daily IC and rank IC, on joblib's ``loky`` processes or on a Dask cluster.

Run from the repository root::

    python examples/grid_search.py --backend loky --n-jobs 2
    python examples/grid_search.py --backend dask --n-jobs 2
    python examples/grid_search.py --backend dask --scheduler tcp://host:8786

The defaults are scaled down to a few minutes on 2 CPU cores: 2018-2019,
Alpha360 over 20 days instead of 60, 1 pretraining epoch and 2 epochs, 2 folds,
4 candidates.

This script needs the Qlib-format CSI 300 data, so the documentation build shows
it without running it. Recorded output on 2026-12-01 of a two-candidate search
in one process, on a 2-vCPU AMD EPYC host with both cores busy with other jobs
(``nice -n 15``), 340 s in all, 0.9 GB peak memory::

    $ python examples/grid_search.py --backend loky --n-jobs 1 --hidden 16 --lr 1e-4 1e-3
    features: 130,501 rows x 100 columns, 1.8 s
         train_first train_last  train_days test_first  test_last  test_days
    fold
    0     2018-01-02 2018-08-28         161 2018-08-31 2019-05-08        162
    1     2018-01-02 2019-05-06         323 2019-05-09 2019-12-31        162

     hidden     lr      IC  IC std  rank IC  rank IC std   fit s  rank
         16 0.0010 -0.0011  0.0034   0.0259       0.0019 42.3185     1
         16 0.0001 -0.0013  0.0045   0.0196       0.0024 55.1060     2

    search.fit wall time: 326.2 s (4 CV fits on loky + the refit; setup 0.0 s)
    best: {'igmtfregressor__hidden_size': 16, 'igmtfregressor__lr': 0.001}, refit 79.8 s in this process

Two epochs say nothing about which learning rate is better; the output shows
what a search reports.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from contextlib import ExitStack
from pathlib import Path

import joblib
import pandas as pd
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import load_qlib
from igmtf_sklearn.metrics import ic_scorer, rank_ic_scorer
from igmtf_sklearn.model_selection import WalkForwardSplit, configure_dask_workers
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_csi300"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("IGMTF_DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="Qlib data directory (default: $IGMTF_DATA_DIR or ../shared/data/cn_csi300)",
    )
    parser.add_argument("--market", default="csi300")
    parser.add_argument("--start", default="2018-01-01")
    parser.add_argument("--end", default="2019-12-31")
    parser.add_argument("--window", type=int, default=20, help="Alpha360 window (Qlib: 60)")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-4, 1e-3])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky")
    parser.add_argument("--n-jobs", type=int, default=2, help="processes / Dask workers")
    parser.add_argument("--torch-threads", type=int, default=1, help="per worker")
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler address; default: a local cluster"
    )
    parser.add_argument("--no-refit", action="store_true", help="skip the final refit")
    return parser.parse_args(argv)


def load_features(args):
    """Alpha360 features and labels from ``start`` to ``end``, with the history they need."""
    # Enough calendar days before `start` for `window` trading days, holidays included.
    history = pd.Timestamp(args.start) - pd.Timedelta(days=2 * args.window + 30)
    # Each member's whole series (members_only=False), then only its member days, as
    # the user guide recommends: lags are those of Qlib's Ref($close, i).
    panel = load_qlib(args.data_dir, args.market, history, args.end, members_only=False)
    X = Alpha360(window=args.window).set_output(transform="pandas").fit_transform(panel)
    y = forward_return(panel)
    keep = panel["member"] & (X.index.get_level_values("datetime") >= pd.Timestamp(args.start))
    return X[keep], y[keep]


def make_search(args):
    model = IGMTFRegressor(
        pretrain_epochs=args.pretrain_epochs,
        max_epochs=args.epochs,
        random_state=0,
        verbose=0,
    )
    return GridSearchCV(
        make_pipeline(RobustZScoreNorm(), Fillna(), model),
        {"igmtfregressor__hidden_size": args.hidden, "igmtfregressor__lr": args.lr},
        cv=WalkForwardSplit(n_splits=args.folds, gap_days=2),
        scoring={"ic": ic_scorer, "rank_ic": rank_ic_scorer},
        refit=False if args.no_refit else "ic",
        n_jobs=args.n_jobs,
    )


def backend(args, stack, X, y):
    """Enter the joblib backend; for Dask, start or join the cluster first."""
    if args.backend == "loky":
        # joblib sets the thread limits (OMP_NUM_THREADS ...) of its worker processes.
        stack.enter_context(
            joblib.parallel_config(backend="loky", inner_max_num_threads=args.torch_threads)
        )
        return "loky"
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        client = stack.enter_context(Client(args.scheduler))
    else:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=args.n_jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,  # e.g. slow worker shutdowns on a busy machine
            )
        )
        client = stack.enter_context(Client(cluster))
    threads = configure_dask_workers(client, torch_threads=args.torch_threads)
    # Ship the frames to the workers once, not with every candidate x fold.
    stack.enter_context(joblib.parallel_config(backend="dask", scatter=[X, y]))
    return f"dask, {len(threads)} workers x {sorted(set(threads.values()))} torch thread(s)"


def candidates_table(search):
    results = pd.DataFrame(search.cv_results_)
    columns = {
        "param_igmtfregressor__hidden_size": "hidden",
        "param_igmtfregressor__lr": "lr",
        "mean_test_ic": "IC",
        "std_test_ic": "IC std",
        "mean_test_rank_ic": "rank IC",
        "std_test_rank_ic": "rank IC std",
        "mean_fit_time": "fit s",
        "rank_test_ic": "rank",
    }
    return results[list(columns)].rename(columns=columns).sort_values("rank")


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.torch_threads)  # the refit runs in this process
    start = time.perf_counter()
    X, y = load_features(args)
    print(
        f"features: {X.shape[0]:,} rows x {X.shape[1]} columns, {time.perf_counter() - start:.1f} s"
    )
    search = make_search(args)
    print(search.cv.fold_dates(X).to_string() + "\n")
    with ExitStack() as stack:
        start = time.perf_counter()
        where = backend(args, stack, X, y)
        setup = time.perf_counter() - start
        search.fit(X, y)
        wall = time.perf_counter() - start - setup
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(candidates_table(search).to_string(index=False))
    n_fits = len(search.cv_results_["params"]) * search.n_splits_
    refit = "" if args.no_refit else " + the refit"
    print(
        f"\nsearch.fit wall time: {wall:.1f} s ({n_fits} CV fits on {where}{refit}; setup {setup:.1f} s)"
    )
    if not args.no_refit:
        print(f"best: {search.best_params_}, refit {search.refit_time_:.1f} s in this process")


if __name__ == "__main__":
    main()
