"""
IGMTF on CSI 300 with Qlib's Alpha360 benchmark setup, without Qlib
===================================================================

Reproduces the data side of Qlib's ``workflow_config_igmtf_Alpha360.yaml``
from Qlib-format day bars:

- universe: CSI 300, point-in-time membership;
- features: Alpha360 (60 days of close, open, high, low, volume divided by the
  day's close / volume; this data has no vwap, so 5 fields, ``d_feat=5``),
  computed on each instrument's whole price history, so that a stock that
  joined the index recently still has its 60 days of history;
- processors: ``RobustZScoreNorm(clip_outlier=True)`` fitted on the training
  segment, then ``Fillna``; the label ``Ref($close, -2) / Ref($close, -1) - 1``
  is rank-normalised per day inside the estimator (``label_norm="csrank"``);
- segments: train 2016-01-01 .. 2018-12-31, valid 2019, test 2020;
- model: ``IGMTFRegressor``, validated (early stopping) on the 2019 segment.

It prints the test IC, Rank IC, ICIR and Rank ICIR of IGMTF and of its
pretrained GRU alone, and the wall time of each stage.

Usage::

    python examples/csi300_igmtf.py --pretrain-epochs 1 --epochs 1   # smoke run
    python examples/csi300_igmtf.py --pretrain-epochs 10 --epochs 10 --threads 1

The data directory is ``--data-dir``, else ``$IGMTF_DATA_DIR``, else
``../shared/data/cn_csi300`` next to the repository. It must hold Qlib's
layout: ``calendars/day.txt``, ``instruments/csi300.txt``, ``features/<code>/*.day.bin``.

This script needs the Qlib-format CSI 300 data, so the documentation build shows
it without running it. Recorded output of a smoke run (1 pretraining epoch, 1
IGMTF epoch) on 2026-12-01, on one core of a 2-vCPU AMD EPYC host with both
cores busy with other jobs (``nice -n 15``), 597 s in all, 1.9 GB peak memory::

    $ python examples/csi300_igmtf.py --pretrain-epochs 1 --epochs 1 --threads 1
    train: 190222 rows, 731 days, 2016-01-04 .. 2018-12-28
    valid: 66531 rows, 244 days, 2019-01-02 .. 2019-12-31
    test: 65563 rows, 243 days, 2020-01-02 .. 2020-12-31
    [GRU] training: up to 1 epoch, early stopping after 20 without improvement
      epoch    elapsed    left    train_loss    valid_ic    valid_loss       dur
    -------  ---------  ------  ------------  ----------  ------------  --------
          1      3m37s      0s        0.9963      0.0325        0.9976  217.2718
    [IGMTF] training: up to 1 epoch, early stopping after 20 without improvement
      epoch    bank_dur    elapsed    left    train_loss    valid_ic    valid_loss       dur
    -------  ----------  ---------  ------  ------------  ----------  ------------  --------
          1     77.8353      5m47s      0s        0.9962      0.0267        0.9971  269.4076

    model             IC    Rank IC       ICIR  Rank ICIR
    IGMTF        -0.0075     0.0169    -0.0414     0.0906
    GRU alone    -0.0150     0.0172    -0.0802     0.0895

    wall time: data prep 7s, pretraining 217s, IGMTF training 355s, predict 18s, total 597s

One epoch of each says nothing about accuracy; see :doc:`/benchmarks` for full
runs against Qlib.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import joblib
import pandas as pd
import torch
from sklearn.pipeline import Pipeline, make_pipeline

from igmtf_sklearn.datasets import load_qlib
from igmtf_sklearn.metrics import ic_summary
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return
from igmtf_sklearn.regressor import ExplicitValidation, IGMTFRegressor

MARKET = "csi300"
SEGMENTS = {
    "train": ("2016-01-01", "2018-12-31"),
    "valid": ("2019-01-01", "2019-12-31"),
    "test": ("2020-01-01", "2020-12-31"),
}
# About 80 trading days before 2016 for the 60-day window, and a month after
# 2020 for the labels of the last test days, which look two days ahead.
LOAD_START, LOAD_END = "2015-09-01", "2021-01-31"
METRICS = ("IC", "Rank IC", "ICIR", "Rank ICIR")


def default_data_dir():
    """``$IGMTF_DATA_DIR``, else ``<repo>/../shared/data/cn_csi300``."""
    env = os.environ.get("IGMTF_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cn_csi300"


def load_features(data_dir, window=60):
    """Alpha360 features and labels of the CSI 300 members, on the members' days.

    Features and labels are computed on each member's full series (member or
    not on a given day), then restricted to the days it was in the index, as
    Qlib does: a lag or a label never skips over the days outside the index.
    """
    panel = load_qlib(
        data_dir, MARKET, start_time=LOAD_START, end_time=LOAD_END, members_only=False
    )
    X = Alpha360(window=window).fit_transform(panel)
    y = forward_return(panel)
    return X[panel["member"]], y[panel["member"]]


def segment(X, y, name):
    """Rows of one of ``SEGMENTS`` (both ends included)."""
    start, end = (pd.Timestamp(day) for day in SEGMENTS[name])
    dates = X.index.get_level_values("datetime")
    rows = (dates >= start) & (dates <= end)
    return X[rows], y[rows]


def prepare(data_dir):
    """Load, build features, split into segments and fit the feature processors.

    Returns
    -------
    processors : Pipeline
        ``RobustZScoreNorm -> Fillna`` fitted on the training segment.
    data : dict of str to (DataFrame, Series)
        Processed features and raw labels of each segment.
    """
    X, y = load_features(data_dir)
    raw = {name: segment(X, y, name) for name in SEGMENTS}
    processors = make_pipeline(RobustZScoreNorm(clip_outlier=True), Fillna())
    processors.set_output(transform="pandas").fit(raw["train"][0])
    data = {name: (processors.transform(Xs), ys) for name, (Xs, ys) in raw.items()}
    return processors, data


def make_model(args, X_valid, y_valid):
    """IGMTF with Qlib's benchmark architecture, early-stopped on the valid segment."""
    return IGMTFRegressor(
        hidden_size=args.hidden_size,
        num_layers=2,
        pretrain_epochs=args.pretrain_epochs,
        max_epochs=args.epochs,
        lr=args.lr,
        random_state=args.seed,
        train_split=ExplicitValidation(X_valid, y_valid),
        device=args.device,
        verbose=1,
    )


def history_seconds(net):
    """Seconds a skorch net spent in its epochs."""
    return float(sum(net.history[:, "dur"])) if net is not None and len(net.history) else 0.0


def print_results(scores, times):
    """The results table, then the wall times."""
    width = max(map(len, scores))
    print(f"\n{'model':<{width}}  " + "  ".join(f"{m:>9}" for m in METRICS))
    for name, summary in scores.items():
        print(f"{name:<{width}}  " + "  ".join(f"{summary[m]:9.4f}" for m in METRICS))
    print("\nwall time: " + ", ".join(f"{stage} {sec:.0f}s" for stage, sec in times.items()))


def main(argv=None):
    """Run the example (see the module docstring)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    times = {}
    start = time.perf_counter()
    processors, data = prepare(args.data_dir)
    times["data prep"] = time.perf_counter() - start
    for name, (Xs, _) in data.items():
        days = Xs.index.get_level_values(0)
        print(
            f"{name}: {len(Xs)} rows, {days.nunique()} days, {days.min():%Y-%m-%d} .. "
            f"{days.max():%Y-%m-%d}",
            flush=True,
        )

    model = make_model(args, *data["valid"])
    start = time.perf_counter()
    model.fit(*data["train"])
    fit_seconds = time.perf_counter() - start
    times["pretraining"] = history_seconds(model.pretrained_model_)
    times["IGMTF training"] = fit_seconds - times["pretraining"]

    X_test, y_test = data["test"]
    start = time.perf_counter()
    scores = {"IGMTF": ic_summary(y_test, model.predict(X_test))}
    times["predict"] = time.perf_counter() - start
    if model.pretrained_model_ is not None:
        scores["GRU alone"] = ic_summary(y_test, model.pretrained_model_.predict(X_test))
    times["total"] = sum(times.values())
    print_results(scores, times)
    if args.save:
        # The validation frame need not travel with the model (it is ~80 MB);
        # the memory bank, which predict needs, does.
        model.set_params(train_split=None)
        # Processors and model in one pipeline: it scores raw Alpha360 features.
        joblib.dump(Pipeline([*processors.steps, ("igmtf", model)]), args.save)
        print(f"saved the fitted pipeline to {args.save}")
    return 0


def parse_args(argv=None):
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="Qlib-format data directory (default: %(default)s)",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=10,
        help="GRU pretraining epochs at most (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=int, default=10, help="IGMTF epochs at most (default: %(default)s)"
    )
    parser.add_argument("--hidden-size", type=int, default=64, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=1e-4, help="IGMTF learning rate")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, min(4, (os.cpu_count() or 1) // 2)),
        help="torch CPU threads (default: %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (default: cpu)')
    parser.add_argument("--save", type=Path, help="joblib file to save the fitted pipeline to")
    args = parser.parse_args(argv)
    for name in ("pretrain_epochs", "epochs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if not (args.data_dir / "calendars" / "day.txt").is_file():
        parser.error(f"no Qlib data at {args.data_dir}; pass --data-dir or set IGMTF_DATA_DIR")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
