"""Scale: fit IGMTF on the full CSI 300 panel, and predict a 5,000-instrument market.

Measures, in one process:

1. ``fit``: load_qlib (members' whole histories) -> Alpha360 -> member rows ->
   RobustZScoreNorm(copy=False) + Fillna(copy=False) -> IGMTFRegressor on
   2010-2026, with wall seconds and peak RSS after each stage (the goal is
   under 8 GB; the only full-panel matrix kept is one float32 feature matrix).
2. ``predict``: 5,000 instruments x 250 days of features through the fitted
   model, as rows per second.

Usage::

    python benchmarks/bench_scale.py --pretrain-epochs 1 --epochs 1 --threads 2
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import load_qlib
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_csi300"


def peak_rss_gb():
    """Peak resident memory of this process so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def stage(name, started):
    print(f"{name:<28s} {time.perf_counter() - started:8.1f} s   peak RSS {peak_rss_gb():5.2f} GB")
    return time.perf_counter()


def fit_full_panel(data_dir, args):
    t = time.perf_counter()
    ohlcv = load_qlib(data_dir, "csi300", members_only=False)
    t = stage(f"load_qlib {ohlcv.shape}", t)
    member = ohlcv["member"].to_numpy()
    X = Alpha360().fit_transform(ohlcv)[member]
    y = forward_return(ohlcv)[member]
    del ohlcv
    t = stage(f"Alpha360 {X.shape}", t)
    # In place: the normalisers overwrite the one feature matrix instead of copying it.
    X = Fillna(copy=False).fit_transform(RobustZScoreNorm(copy=False).fit_transform(X))
    t = stage("RobustZScoreNorm + Fillna", t)
    model = IGMTFRegressor(
        pretrain_epochs=args.pretrain_epochs,
        max_epochs=args.epochs,
        random_state=0,
        verbose=1,
    )
    model.fit(X, y)
    stage(f"fit ({args.pretrain_epochs}+{args.epochs} epochs)", t)
    return model


def synthetic_features(model, n_instruments, n_days):
    rng = np.random.default_rng(0)
    index = pd.MultiIndex.from_product(
        [pd.bdate_range("2030-01-01", periods=n_days), [f"I{i:05d}" for i in range(n_instruments)]],
        names=["datetime", "instrument"],
    )
    values = rng.standard_normal((len(index), model.n_features_in_), dtype=np.float32)
    return pd.DataFrame(values, index=index, columns=model.feature_names_in_, copy=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("IGMTF_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--instruments", type=int, default=5000)
    parser.add_argument("--days", type=int, default=250)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    model = fit_full_panel(args.data_dir, args)
    X = synthetic_features(model, args.instruments, args.days)
    t = time.perf_counter()
    pred = model.predict(X)
    seconds = time.perf_counter() - t
    print(
        f"predict {args.instruments} x {args.days} = {len(pred):,} rows: {seconds:.1f} s, "
        f"{len(pred) / seconds:,.0f} rows/s, peak RSS {peak_rss_gb():.2f} GB"
    )


if __name__ == "__main__":
    main()
