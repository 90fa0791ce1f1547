"""Side-by-side benchmark: Qlib's IGMTF against ``IGMTFRegressor`` on the same data.

Usage (from the repository root, with ``pyqlib`` importable, e.g. the bench venv)::

    python benchmarks/vs_qlib.py [--data-dir DIR] [--threads 1] \
        [--train 2016-01-01:2018-12-31] [--valid 2019-01-01:2019-12-31] \
        [--test 2020-01-01:2020-12-31] [--pretrain-epochs 1] [--epochs 2] [--seed 0]

Every stage runs in a subprocess of its own, one after the other, so that each
reports its own peak RSS and none slows another down:

1. ``prep-ours``: our pipeline prepares the data ONCE (``load_qlib(members_only=False)``
   -> ``Alpha360`` -> ``forward_return``; ``RobustZScoreNorm(clip)`` fitted on the
   train segment -> ``Fillna``; training / validation labels: rows without a label
   dropped (``DropnaLabel``) and ``cs_rank_norm`` (``CSRankNorm``)). The float32
   matrices are written to the work directory and are what both frameworks train on.
2. ``prep-qlib``: Qlib's own handler prepares the same segments (``qlib.init`` +
   ``DataHandlerLP`` with the Alpha360 expressions minus ``vwap``, RobustZScoreNorm,
   Fillna, DropnaLabel, CSRankNorm + ``DatasetH.prepare``), timed for the data-prep
   ratio; its output is then compared with ours (and discarded).
3. ``fit-ours``: ``IGMTFRegressor`` pretrains its GRU inside ``fit`` (timed per
   epoch) and saves it; then a second ``IGMTFRegressor(pretrained=<that file>,
   pretrain_epochs=0)`` trains IGMTF (head-to-head stage) and predicts the test
   segment.
4. ``fit-qlib``: Qlib's ``GRU`` trains for the same number of pretraining epochs
   (timed; its weights are not used), then Qlib's ``IGMTF`` starts from OUR saved
   GRU weights (the identical checkpoint), trains on a ``DatasetH`` over a static
   frame holding the identical matrices and labels, and predicts the test segment.

Qlib's known bugs are worked around here, not patched in Qlib: its IGMTF builds the
pretrained base with ``GRUModel()`` (``d_feat=6``), so the harness rebinds that name
in ``qlib.contrib.model.pytorch_igmtf`` to a ``GRUModel`` of the right shape; its
``metric=""`` raises, so ``metric="ic"`` (Qlib's benchmark setting) is used; days with
a single row crash its ``forward`` (``squeeze``), so days with fewer than 2 rows are
dropped from every segment for both frameworks (the count is printed).

Test IC / rank IC / ICIR / rank ICIR of both frameworks' test predictions are computed
by the same code (``igmtf_sklearn.metrics.ic_summary``) against the raw label.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cn_csi300"
SEGMENTS = ("train", "valid", "test")
LOOKBACK_DAYS = 59  # Alpha360's longest lag
LOOKAHEAD_DAYS = 2  # the label Ref($close, -2) / Ref($close, -1) - 1
FIELDS = ("close", "open", "high", "low", "volume")  # Alpha360's order, no vwap here


# -- helpers ------------------------------------------------------------------
def _peak_rss_mib(who=resource.RUSAGE_SELF):
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _segment(text):
    start, _, end = text.partition(":")
    if not start or not end:
        raise argparse.ArgumentTypeError(f"expected START:END, got {text!r}")
    return start, end


def _set_threads(n):
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


class _ObjectArrayNumpy:
    """``numpy`` for ``qlib.contrib.model.pytorch_igmtf``, with a ragged-safe ``asarray``.

    Qlib's ``get_train_hidden`` stores the per-day hidden states with
    ``np.asarray(list_of_tensors, dtype=object)``: when every training day has the
    same number of rows, numpy builds a 3-D array of scalars instead of a 1-D array of
    tensors and ``forward`` then fails (``torch.cat`` gets ndarrays). This keeps the
    1-D array of tensors whatever the day sizes; everything else is numpy itself.
    """

    def __init__(self, numpy):
        self._np = numpy

    def __getattr__(self, name):
        return getattr(self._np, name)

    def asarray(self, a, dtype=None, **kwargs):
        if dtype is object and isinstance(a, list):
            out = self._np.empty(len(a), dtype=object)
            for i, item in enumerate(a):
                out[i] = item
            return out
        return self._np.asarray(a, dtype=dtype, **kwargs)


def _cpu():
    """CPU seconds of this process and its finished children (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class _Timed:
    """Wrap a callable and record the wall and CPU seconds of each call."""

    def __init__(self, func, rss=None, phase=None):
        self.func, self.calls, self.cpu, self.results = func, [], [], []
        self.rss, self.phase = rss, phase

    def __call__(self, *args, **kwargs):
        if self.rss is not None:
            self.rss.phase = self.phase
        start, cpu = time.perf_counter(), _cpu()
        result = self.func(*args, **kwargs)
        self.calls.append(time.perf_counter() - start)
        self.cpu.append(_cpu() - cpu)
        self.results.append(result)
        return result


class _SkipTrainRescoring:
    """Qlib's ``IGMTF.test_epoch`` minus its first call of each epoch (the training set).

    ``IGMTF.fit`` calls ``test_epoch`` twice an epoch, training set then validation
    set; only the validation score is used (early stopping, best weights).
    """

    def __init__(self, test_epoch):
        self.test_epoch, self.n_calls = test_epoch, 0

    def __call__(self, *args, **kwargs):
        self.n_calls += 1
        if self.n_calls % 2:
            return float("nan"), float("nan")
        return self.test_epoch(*args, **kwargs)


class _PhaseRSS:
    """Peak resident memory of each phase of a stage, sampled every 20 ms.

    ``ru_maxrss`` gives the stage's peak only; this says which phase reached it
    (``phase`` is set by the stage as it goes: load, pretrain, bank, train, valid,
    predict).
    """

    def __init__(self):
        import threading

        self.phase, self.peaks, self._stop = "load", {}, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as statm:
            while not self._stop.wait(0.02):
                statm.seek(0)
                rss = int(statm.read().split()[1]) * page / 2**20
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return {k: round(v) for k, v in self.peaks.items()}


def _write_result(workdir, stage, result):
    result["peak_rss_mib"] = _peak_rss_mib()
    result["peak_rss_children_mib"] = _peak_rss_mib(resource.RUSAGE_CHILDREN)
    (Path(workdir) / f"{stage}.json").write_text(json.dumps(result, indent=1))


def _load_segment(workdir, name, with_label=True):
    """A prepared segment from the work directory: features frame, label Series."""
    import numpy as np
    import pandas as pd

    workdir = Path(workdir)
    meta = json.loads((workdir / "meta.json").read_text())
    X = np.load(workdir / f"X_{name}.npy")
    index = pd.MultiIndex.from_arrays(
        [np.load(workdir / f"dates_{name}.npy"), np.load(workdir / f"inst_{name}.npy")],
        names=["datetime", "instrument"],
    )
    frame = pd.DataFrame(X, index=index, columns=meta["columns"], copy=False)
    y = pd.Series(np.load(workdir / f"y_{name}.npy"), index=index, name="LABEL0")
    return frame, (y if with_label else None)


# -- stage 1: our data preparation ---------------------------------------------
def stage_prep_ours(args):
    import numpy as np

    from igmtf_sklearn.datasets import load_qlib
    from igmtf_sklearn.preprocessing import (
        Alpha360,
        Fillna,
        RobustZScoreNorm,
        cs_rank_norm,
        forward_return,
    )

    times = {}
    t0, cpu0 = time.perf_counter(), _cpu()
    calendar = np.array(
        (Path(args.data_dir) / "calendars" / "day.txt").read_text().split(), dtype="datetime64[ns]"
    )
    first = max(np.searchsorted(calendar, np.datetime64(args.train[0])) - LOOKBACK_DAYS, 0)
    last = min(
        np.searchsorted(calendar, np.datetime64(args.test[1]), side="right") - 1 + LOOKAHEAD_DAYS,
        len(calendar) - 1,
    )
    ohlcv = load_qlib(
        args.data_dir, args.market, calendar[first], calendar[last], members_only=False
    )
    times["load_qlib"] = time.perf_counter() - t0

    t = time.perf_counter()
    alpha = Alpha360(window=args.window, fields=list(FIELDS)).set_output(transform="pandas")
    X = alpha.fit_transform(ohlcv)
    times["alpha360"] = time.perf_counter() - t
    t = time.perf_counter()
    y = forward_return(ohlcv)
    dates = X.index.get_level_values(0)
    keep = ohlcv["member"].to_numpy() & (dates >= args.train[0]) & (dates <= args.test[1])
    X, y = X[keep], y[keep]
    dates = X.index.get_level_values(0)
    masks = {
        name: (dates >= seg[0]) & (dates <= seg[1])
        for name, seg in zip(SEGMENTS, (args.train, args.valid, args.test))
    }
    times["label+select"] = time.perf_counter() - t

    t = time.perf_counter()
    norm = RobustZScoreNorm(clip_outlier=True).set_output(transform="pandas")
    norm.fit(X[masks["train"]])
    fill = Fillna().set_output(transform="pandas")
    out = {}
    dropped_days = {}
    for name in SEGMENTS:
        Xs = fill.fit_transform(norm.transform(X[masks[name]]))
        ys = y[masks[name]]
        if name != "test":  # DropnaLabel + CSRankNorm on the learning segments
            known = ys.notna().to_numpy()
            Xs, ys = Xs[known], cs_rank_norm(ys[known])
        # Qlib's IGMTF crashes on a day with a single row: drop such days everywhere.
        counts = Xs.groupby(level=0, sort=False).size()
        small = counts.index[counts < 2]
        dropped_days[name] = len(small)
        if len(small):
            ok = ~Xs.index.get_level_values(0).isin(small)
            Xs, ys = Xs[ok], ys[ok]
        out[name] = (Xs, ys)
    times["norm+fillna+csrank"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    times["total_cpu"] = _cpu() - cpu0

    workdir = Path(args.workdir)
    columns = list(out["train"][0].columns)
    summary = {}
    for name, (Xs, ys) in out.items():
        np.save(workdir / f"X_{name}.npy", np.ascontiguousarray(Xs.to_numpy(np.float32)))
        np.save(workdir / f"y_{name}.npy", ys.to_numpy(np.float32))
        np.save(workdir / f"dates_{name}.npy", Xs.index.get_level_values(0).to_numpy())
        np.save(workdir / f"inst_{name}.npy", Xs.index.get_level_values(1).to_numpy().astype(str))
        summary[name] = {"rows": len(Xs), "days": int(Xs.index.get_level_values(0).nunique())}
    (workdir / "meta.json").write_text(
        json.dumps({"columns": columns, "d_feat": len(FIELDS), "segments": summary})
    )
    _write_result(
        args.workdir,
        "prep-ours",
        {"times": times, "segments": summary, "dropped_days": dropped_days},
    )


# -- stage 2: Qlib's data preparation ------------------------------------------
def _alpha360_without_vwap(window):
    fields, names = [], []
    for field in FIELDS:
        denom = "($volume+1e-12)" if field == "volume" else "$close"
        for i in range(window - 1, 0, -1):
            fields.append(f"Ref(${field}, {i})/{denom}")
            names.append(f"{field.upper()}{i}")
        fields.append(f"${field}/{denom}")
        names.append(f"{field.upper()}0")
    return fields, names


def stage_prep_qlib(args):
    import numpy as np
    import qlib
    from qlib.data.dataset import DatasetH
    from qlib.data.dataset.handler import DataHandlerLP
    from qlib.data.dataset.processor import CSRankNorm, DropnaLabel, Fillna, RobustZScoreNorm

    t0, cpu0 = time.perf_counter(), _cpu()
    qlib.init(provider_uri=str(args.data_dir), region="cn", kernels=args.threads)
    t_init = time.perf_counter() - t0
    t = time.perf_counter()
    handler = DataHandlerLP(
        instruments=args.market,
        start_time=args.train[0],
        end_time=args.test[1],
        data_loader={
            "class": "QlibDataLoader",
            "kwargs": {
                "config": {
                    "feature": _alpha360_without_vwap(args.window),
                    "label": (["Ref($close, -2)/Ref($close, -1) - 1"], ["LABEL0"]),
                },
            },
        },
        infer_processors=[
            RobustZScoreNorm(
                fit_start_time=args.train[0],
                fit_end_time=args.train[1],
                fields_group="feature",
                clip_outlier=True,
            ),
            Fillna(fields_group="feature"),
        ],
        learn_processors=[DropnaLabel(), CSRankNorm(fields_group="label")],
    )
    t_handler = time.perf_counter() - t
    t = time.perf_counter()
    dataset = DatasetH(handler, segments=dict(zip(SEGMENTS, (args.train, args.valid, args.test))))
    frames = {
        "train": dataset.prepare(
            "train", col_set=["feature", "label"], data_key=DataHandlerLP.DK_L
        ),
        "valid": dataset.prepare(
            "valid", col_set=["feature", "label"], data_key=DataHandlerLP.DK_L
        ),
        "test": dataset.prepare("test", col_set="feature", data_key=DataHandlerLP.DK_I),
    }
    t_prepare = time.perf_counter() - t
    total, total_cpu = time.perf_counter() - t0, _cpu() - cpu0
    rss_after_prep = _peak_rss_mib()
    children_rss = _peak_rss_mib(resource.RUSAGE_CHILDREN)

    # How close is Qlib's data to ours? (after the timing and the RSS reading)
    compare = {}
    for name, frame in frames.items():
        ours, y_ours = _load_segment(args.workdir, name)
        feat = frame["feature"] if name != "test" else frame
        common = feat.index.intersection(ours.index)
        a = feat.loc[common, list(ours.columns)].to_numpy(np.float32)
        b = ours.loc[common].to_numpy(np.float32)
        diff = np.abs(a - b)
        entry = {
            "rows_qlib": len(feat),
            "rows_ours": len(ours),
            "rows_common": len(common),
            "feature_max_abs_diff": float(np.nanmax(diff)) if diff.size else float("nan"),
            "feature_share_within_1e-4": float(np.mean(diff <= 1e-4))
            if diff.size
            else float("nan"),
        }
        if name != "test":
            la = frame["label"].iloc[:, 0].loc[common].to_numpy(np.float32)
            lb = y_ours.loc[common].to_numpy(np.float32)
            entry["label_max_abs_diff"] = float(np.nanmax(np.abs(la - lb)))
        compare[name] = entry
    result = {
        "times": {
            "qlib.init": t_init,
            "handler": t_handler,
            "prepare": t_prepare,
            "total": total,
            "total_cpu": total_cpu,
        },
        "compare": compare,
    }
    _write_result(args.workdir, "prep-qlib", result)
    # Report the RSS of the preparation itself, not of the comparison that followed.
    path = Path(args.workdir) / "prep-qlib.json"
    saved = json.loads(path.read_text())
    saved["peak_rss_mib"], saved["peak_rss_children_mib"] = rss_after_prep, children_rss
    path.write_text(json.dumps(saved, indent=1))


# -- stage 3: ours ---------------------------------------------------------------
def _our_stage_callback(rss=None, phase_names=("bank", "train", "valid")):
    from skorch.callbacks import Callback

    between_epochs, training_phase, valid_phase = phase_names

    def set_phase(name):
        if rss is not None:
            rss.phase = name

    class StagePhases(Callback):
        """Wall and CPU seconds of each epoch: memory bank, training, validation.

        skorch calls the net's own ``on_epoch_begin`` (IGMTF's memory-bank rebuild)
        before the callbacks', so the bank is what lies between the previous epoch's
        end and this callback's ``on_epoch_begin``.
        """

        def initialize(self):
            self.epochs_ = []
            return self

        def on_train_begin(self, net, **kwargs):
            self._last = (time.perf_counter(), _cpu())
            set_phase(between_epochs)

        def on_epoch_begin(self, net, **kwargs):
            self._begin, self._valid_start = (time.perf_counter(), _cpu()), None
            set_phase(training_phase)

        def on_batch_begin(self, net, training=False, **kwargs):
            if not training and self._valid_start is None:
                self._valid_start = (time.perf_counter(), _cpu())
                set_phase(valid_phase)

        def on_epoch_end(self, net, **kwargs):
            end = (time.perf_counter(), _cpu())
            valid = self._valid_start or end
            record = {}
            for i, suffix in enumerate(("", "_cpu")):
                record["bank" + suffix] = self._begin[i] - self._last[i]
                record["train" + suffix] = valid[i] - self._begin[i]
                record["valid" + suffix] = end[i] - valid[i]
                record["epoch" + suffix] = end[i] - self._last[i]
            self.epochs_.append(record)
            self._last = end
            set_phase(between_epochs)

    return StagePhases()


def _ic(y_raw, pred):
    import warnings

    from igmtf_sklearn.metrics import ic_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ic_summary(y_raw, pred)


def stage_fit_ours(args):
    import torch

    from igmtf_sklearn import ExplicitValidation, IGMTFRegressor, RNNRegressor

    _set_threads(args.threads)
    rss = _PhaseRSS()
    X_train, y_train = _load_segment(args.workdir, "train")
    X_valid, y_valid = _load_segment(args.workdir, "valid")
    X_test, y_test = _load_segment(args.workdir, "test")
    common = {
        "d_feat": len(FIELDS),
        "hidden_size": args.hidden_size,
        "num_layers": args.num_layers,
        "label_norm": None,  # the labels are csrank-normalised already, as Qlib's
        "train_split": ExplicitValidation(X_valid, y_valid),
        "random_state": args.seed,
        "verbose": 0,
    }
    result = {}
    gru_path = Path(args.outdir) / "gru_ours.pt"
    if args.pretrain_epochs:
        # What IGMTFRegressor.fit runs as its pretraining (_pretrain): an RNNRegressor
        # with the same settings; built here to hang a timing callback on it.
        pre_phases = _our_stage_callback(rss, ("pretrain setup", "pretrain", "pretrain valid"))
        t = time.perf_counter()
        base = RNNRegressor(
            lr=1e-3,
            batch_size=800,
            max_epochs=args.pretrain_epochs,
            patience=args.patience,
            callbacks=[("stage_phases", pre_phases)],
            **common,
        ).fit(X_train, y_train)
        result["pretrain_fit_wall"] = time.perf_counter() - t
        result["pretrain_epochs"] = [
            {"dur": row["dur"], **phase, "valid_ic": row.get("valid_ic")}
            for row, phase in zip(base.history_, pre_phases.epochs_)
        ]
        torch.save(base.module_.state_dict(), gru_path)
        del base
    else:  # a fresh GRU, so that both frameworks still start from the same weights
        from igmtf_sklearn.module import RNNModule

        torch.manual_seed(args.seed)
        torch.save(RNNModule(len(FIELDS), args.hidden_size, args.num_layers).state_dict(), gru_path)

    rss.phase = "igmtf setup"
    phases = _our_stage_callback(rss)
    model = IGMTFRegressor(
        pretrained=str(gru_path),
        pretrain_epochs=0,
        lr=args.lr,
        **({} if args.our_batch_size is None else {"batch_size": args.our_batch_size}),
        bank_refresh=args.our_bank_refresh,
        max_epochs=args.epochs,
        patience=args.patience,
        callbacks=[("stage_phases", phases)],
        **common,
    )
    t = time.perf_counter()
    model.fit(X_train, y_train)
    result["igmtf_fit_wall"] = time.perf_counter() - t
    history = model.history_
    result["igmtf_epochs"] = [
        {"dur": row["dur"], "bank": row["bank_dur"], **phase, "valid_ic": row.get("valid_ic")}
        for row, phase in zip(history, phases.epochs_)
    ]
    rss.phase = "predict"
    t, cpu = time.perf_counter(), _cpu()
    pred = model.predict(X_test)
    result["predict_wall"], result["predict_cpu"] = time.perf_counter() - t, _cpu() - cpu
    result["peak_rss_by_phase_mib"] = rss.stop()
    result["test"] = _ic(y_test, pred)
    _write_result(args.outdir, "fit-ours", result)


# -- stage 4: Qlib ---------------------------------------------------------------
def _qlib_static_dataset(args):
    import pandas as pd
    from qlib.data.dataset import DatasetH
    from qlib.data.dataset.handler import DataHandlerLP
    from qlib.data.dataset.loader import StaticDataLoader

    parts, raw_test_label = [], None
    for name in SEGMENTS:
        X, y = _load_segment(args.workdir, name)
        if name == "test":
            raw_test_label = y
        # The test label is the raw return; Qlib's predict reads features only.
        parts.append(pd.concat({"feature": X, "label": y.to_frame()}, axis=1))
    frame = pd.concat(parts)
    del parts
    handler = DataHandlerLP(data_loader=StaticDataLoader(config=frame))
    segments = dict(zip(SEGMENTS, (args.train, args.valid, args.test)))
    return DatasetH(handler, segments=segments), raw_test_label


def stage_fit_qlib(args):
    import numpy as np
    import qlib
    from qlib.contrib.model import pytorch_igmtf
    from qlib.contrib.model.pytorch_gru import GRU, GRUModel
    from qlib.workflow import R

    _set_threads(args.threads)
    rss = _PhaseRSS()
    outdir = Path(args.outdir)
    qlib.init(
        provider_uri=str(args.data_dir),
        region="cn",
        kernels=args.threads,
        exp_manager={
            "class": "MLflowExpManager",
            "module_path": "qlib.workflow.expm",
            "kwargs": {"uri": (outdir / "mlruns").as_uri(), "default_exp_name": "vs_qlib"},
        },
    )
    dataset, y_test = _qlib_static_dataset(args)
    d_feat = len(FIELDS)
    result = {}

    if args.pretrain_epochs and not args.accuracy_only:
        gru = GRU(
            d_feat=d_feat,
            hidden_size=args.hidden_size,
            num_layers=args.num_layers,
            n_epochs=args.pretrain_epochs,
            lr=1e-3,
            early_stop=args.patience,
            batch_size=800,
            metric="loss",
            GPU=-1,
            seed=args.seed,
        )
        gru.train_epoch = _Timed(gru.train_epoch, rss, "pretrain")
        gru.test_epoch = _Timed(gru.test_epoch, rss, "pretrain valid")
        t = time.perf_counter()
        with R.start(experiment_name="vs_qlib"):
            gru.fit(dataset, save_path=str(outdir / "gru_qlib.pt"))
        result["pretrain_fit_wall"] = time.perf_counter() - t
        result["pretrain_epochs"] = [
            {
                "train": gru.train_epoch.calls[i],
                "train_cpu": gru.train_epoch.cpu[i],
                # test_epoch runs twice an epoch: the training set again, then valid.
                "rescore_train": gru.test_epoch.calls[2 * i],
                "rescore_train_cpu": gru.test_epoch.cpu[2 * i],
                "valid": gru.test_epoch.calls[2 * i + 1],
                "valid_cpu": gru.test_epoch.cpu[2 * i + 1],
            }
            for i in range(len(gru.train_epoch.calls))
        ]
        del gru

    # Workaround: Qlib's IGMTF.fit builds its pretrained base as GRUModel() (d_feat=6,
    # default sizes); give the name the shape of this run instead of patching Qlib.
    pytorch_igmtf.GRUModel = functools.partial(
        GRUModel, d_feat=d_feat, hidden_size=args.hidden_size, num_layers=args.num_layers
    )
    # Workaround: equal-size training days break its np.asarray(..., dtype=object).
    pytorch_igmtf.np = _ObjectArrayNumpy(np)
    model = pytorch_igmtf.IGMTF(
        d_feat=d_feat,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        n_epochs=args.epochs,
        lr=args.lr,
        metric="ic",  # workaround: metric="" raises in Qlib's metric_fn
        early_stop=args.patience,
        base_model="GRU",
        model_path=str(outdir / "gru_ours.pt"),  # the identical pretrained weights
        GPU=-1,
        seed=args.seed,
    )
    hidden = model.get_train_hidden = _Timed(model.get_train_hidden, rss, "bank")
    train = model.train_epoch = _Timed(model.train_epoch, rss, "train")
    tests = model.test_epoch = _Timed(model.test_epoch, rss, "valid")
    if args.accuracy_only:
        # fit() re-scores the whole training set after each epoch only to log it; the
        # scores feed nothing (no early stopping, no checkpoint), so skip that call.
        tests.func = _SkipTrainRescoring(tests.func)
    t = time.perf_counter()
    model.fit(dataset, save_path=str(outdir / "igmtf_qlib.pt"))
    result["igmtf_fit_wall"] = time.perf_counter() - t
    n_epochs = len(train.calls)
    result["igmtf_epochs"] = []
    for i in range(n_epochs):
        record = {}
        for suffix, attr in (("", "calls"), ("_cpu", "cpu")):
            record["bank" + suffix] = getattr(hidden, attr)[i]  # get_train_hidden
            record["train" + suffix] = getattr(train, attr)[i]
            record["rescore_train" + suffix] = getattr(tests, attr)[2 * i]
            record["valid" + suffix] = getattr(tests, attr)[2 * i + 1]
            record["epoch" + suffix] = sum(
                record[k + suffix] for k in ("bank", "train", "rescore_train", "valid")
            )
        record["valid_ic"] = float(tests.results[2 * i + 1][1])  # (loss, score = IC)
        result["igmtf_epochs"].append(record)
    rss.phase = "predict"
    t, cpu = time.perf_counter(), _cpu()
    pred = model.predict(dataset, segment="test")
    result["predict_wall"], result["predict_cpu"] = time.perf_counter() - t, _cpu() - cpu
    result["peak_rss_by_phase_mib"] = rss.stop()
    result["predict_hidden"] = hidden.calls[-1]
    pred = pred.reindex(y_test.index).to_numpy(np.float32)
    result["test"] = _ic(y_test, pred)
    _write_result(args.outdir, "fit-qlib", result)


STAGES = {
    "prep-ours": stage_prep_ours,
    "prep-qlib": stage_prep_qlib,
    "fit-ours": stage_fit_ours,
    "fit-qlib": stage_fit_qlib,
}


# -- orchestration and the table ---------------------------------------------------
def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def _fmt(value, digits=1, unit=" s"):
    if value is None or value != value:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _ratio(q, o):
    if q is None or o is None or q != q or o != o or not o:
        return "n/a"
    return f"{q / o:.2f}x"


def build_table(results, cpu=False):
    """The comparison table: wall seconds, or CPU seconds with ``cpu=True``."""
    sx = "_cpu" if cpu else ""
    po, pq = results.get("prep-ours", {}), results.get("prep-qlib", {})
    fo, fq = results.get("fit-ours", {}), results.get("fit-qlib", {})

    def avg(r, group, key):
        epochs = r.get(group) or []
        values = [e.get(key + sx) for e in epochs]
        return _mean(values) if epochs else None

    def gru_epoch(r):
        epochs = r.get("pretrain_epochs") or []
        if not epochs:
            return None
        keys = ("train", "rescore_train", "valid") if "rescore_train" in epochs[0] else ("epoch",)
        return _mean([sum(e.get(k + sx, 0.0) for k in keys) for e in epochs])

    rows = [
        (
            "data prep (features + labels, 3 segments)",
            pq.get("times", {}).get("total" + sx),
            po.get("times", {}).get("total" + sx),
        ),
        ("GRU pretrain epoch", gru_epoch(fq), gru_epoch(fo)),
        (
            "  training steps",
            avg(fq, "pretrain_epochs", "train"),
            avg(fo, "pretrain_epochs", "train"),
        ),
        (
            "  re-scoring train (Qlib only)",
            avg(fq, "pretrain_epochs", "rescore_train"),
            0.0 if fo else None,
        ),
        ("  validation", avg(fq, "pretrain_epochs", "valid"), avg(fo, "pretrain_epochs", "valid")),
        ("IGMTF epoch", avg(fq, "igmtf_epochs", "epoch"), avg(fo, "igmtf_epochs", "epoch")),
        (
            "  train hidden / memory bank",
            avg(fq, "igmtf_epochs", "bank"),
            avg(fo, "igmtf_epochs", "bank"),
        ),
        (
            "  training (one day per step)",
            avg(fq, "igmtf_epochs", "train"),
            avg(fo, "igmtf_epochs", "train"),
        ),
        (
            "  re-scoring train (Qlib only)",
            avg(fq, "igmtf_epochs", "rescore_train"),
            0.0 if fo else None,
        ),
        ("  validation", avg(fq, "igmtf_epochs", "valid"), avg(fo, "igmtf_epochs", "valid")),
        ("predict test", fq.get("predict" + (sx or "_wall")), fo.get("predict" + (sx or "_wall"))),
    ]
    unit = "CPU s" if cpu else "wall s"
    lines = [f"| stage ({unit}) | Qlib | ours | Qlib/ours |", "|---|---|---|---|"]
    for name, q, o in rows:
        lines.append(f"| {name} | {_fmt(q)} | {_fmt(o)} | {_ratio(q, o)} |")
    if cpu:
        return "\n".join(lines)
    for name, q, o in [
        ("peak RSS, data prep", pq.get("peak_rss_mib"), po.get("peak_rss_mib")),
        ("peak RSS, pretrain + IGMTF + predict", fq.get("peak_rss_mib"), fo.get("peak_rss_mib")),
    ]:
        lines.append(f"| {name} | {_fmt(q, 0, ' MiB')} | {_fmt(o, 0, ' MiB')} | {_ratio(q, o)} |")
    tq, to = fq.get("test", {}), fo.get("test", {})
    for key in ("IC", "Rank IC", "ICIR", "Rank ICIR"):
        lines.append(f"| test {key} | {_fmt(tq.get(key), 4, '')} | {_fmt(to.get(key), 4, '')} | |")
    return "\n".join(lines)


def _details(results):
    lines = []
    po, pq = results.get("prep-ours", {}), results.get("prep-qlib", {})
    if po:
        lines.append(
            "our data prep: " + ", ".join(f"{k} {v:.1f} s" for k, v in po["times"].items())
        )
        lines.append(
            f"segments: {po['segments']}; days with < 2 rows dropped: {po['dropped_days']}"
        )
    if pq:
        lines.append(
            "Qlib data prep: " + ", ".join(f"{k} {v:.1f} s" for k, v in pq["times"].items())
        )
        lines.append(
            f"Qlib prep worker processes' peak RSS: {pq.get('peak_rss_children_mib', 0):.0f} MiB"
        )
        for name, entry in pq.get("compare", {}).items():
            lines.append(f"Qlib vs our data, {name}: {entry}")
    for stage in ("fit-ours", "fit-qlib"):
        r = results.get(stage)
        if not r:
            continue
        if "peak_rss_by_phase_mib" in r:
            lines.append(f"{stage}: peak RSS by phase (MiB): {r['peak_rss_by_phase_mib']}")
        lines.append(
            f"{stage}: GRU fit wall {_fmt(r.get('pretrain_fit_wall'))}, IGMTF fit wall "
            f"{_fmt(r.get('igmtf_fit_wall'))}; per epoch:"
        )
        for group in ("pretrain_epochs", "igmtf_epochs"):
            for i, e in enumerate(r.get(group, [])):
                items = ", ".join(f"{k} {v:.3f}" for k, v in e.items() if isinstance(v, float))
                lines.append(f"   {group[:-7]} {i}: {items}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("IGMTF_DATA_DIR", str(DEFAULT_DATA_DIR))
    )
    parser.add_argument("--market", default="csi300")
    parser.add_argument("--train", type=_segment, default=("2016-01-01", "2018-12-31"))
    parser.add_argument("--valid", type=_segment, default=("2019-01-01", "2019-12-31"))
    parser.add_argument("--test", type=_segment, default=("2020-01-01", "2020-12-31"))
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2, help="IGMTF epochs")
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--our-batch-size",
        type=int,
        default=None,
        help="IGMTFRegressor(batch_size=...): rows per memory-bank and validation block "
        "(default: the estimator's own)",
    )
    parser.add_argument(
        "--our-bank-refresh",
        choices=("epoch", "training_pass"),
        default="epoch",
        help="IGMTFRegressor(bank_refresh=...): 'epoch' (Qlib's exact bank, the default) or "
        "'training_pass' (the bank from the training steps' own hidden states)",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        help="comma-separated seeds for the accuracy comparison: fit-ours and fit-qlib run "
        "once per seed (results in WORKDIR/seed<k>/), then a table of test ICs with the "
        "seed-to-seed spread is printed; replaces --seed",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="fit stages run at the same time (with --seeds)"
    )
    parser.add_argument(
        "--accuracy-only",
        action="store_true",
        help="skip what only times Qlib and cannot change its model: its GRU pretraining "
        "(its weights are never used) and its per-epoch re-scoring of the training set",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (and Qlib kernels)")
    parser.add_argument("--workdir", default=None, help="default: a fresh temporary directory")
    parser.add_argument(
        "--stages",
        default="prep-ours,prep-qlib,fit-ours,fit-qlib",
        help="comma-separated subset, in this order (prep-ours and fit-ours feed the others); "
        "with --seeds, an empty list just prints the table of the results in the work dir",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the stages")
    parser.add_argument("--json", default=None, help="also write all results to this file")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--outdir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage:
        args.outdir = args.outdir or args.workdir
        STAGES[args.stage](args)
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vs_qlib_"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
        MLFLOW_ALLOW_FILE_STORE="true",  # mlflow >= 3.1x refuses a file store otherwise
        PYTHONWARNINGS="ignore",
    )
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    results = {}
    print(f"work dir {workdir}; torch threads = Qlib kernels = {args.threads}", flush=True)
    stages = [stage for stage in args.stages.split(",") if stage]
    seeds = _seed_list(args.seeds)
    for stage in stages:
        if seeds and stage.startswith("fit-"):
            continue  # run per seed below
        cmd = [args.python, __file__, *passthrough, "--workdir", str(workdir), "--stage", stage]
        _run_stages([(stage, cmd)], env, jobs=1)
        results[stage] = json.loads((workdir / f"{stage}.json").read_text())
    if seeds:
        _run_seeds(args, seeds, [s for s in stages if s.startswith("fit-")], passthrough, env)
        print()
        print(accuracy_table(workdir, seeds))
        if args.json:
            Path(args.json).write_text(
                json.dumps({"args": vars(args), "results": _seed_results(workdir, seeds)}, indent=1)
            )
        return
    for stage in STAGES:  # stages not run now: earlier results in the same work dir
        path = workdir / f"{stage}.json"
        if stage not in results and path.is_file():
            results[stage] = json.loads(path.read_text())
    import torch

    print()
    print(
        f"Qlib {_version('qlib')} vs igmtf_sklearn {_version('igmtf_sklearn')}; torch {torch.__version__}, "
        f"{args.threads} torch thread(s) each; train {args.train}, valid {args.valid}, test {args.test}; "
        f"pretrain epochs {args.pretrain_epochs}, IGMTF epochs {args.epochs}, seed {args.seed}, "
        f"hidden {args.hidden_size} x {args.num_layers}; load average {os.getloadavg()[0]:.2f}"
    )
    print(build_table(results))
    print()
    print(build_table(results, cpu=True))
    print()
    print(_details(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"args": vars(args), "results": results}, indent=1, default=str)
        )


# -- several seeds: the accuracy comparison ----------------------------------------
def _seed_list(text):
    return [int(part) for part in text.split(",")] if text else []


def _run_stages(tasks, env, jobs):
    """Run ``(name, cmd)`` stage subprocesses, ``jobs`` at a time; raise on a failure.

    A task whose name starts with ``fit-qlib`` waits for the ``fit-ours`` task of the
    same seed: Qlib's IGMTF starts from the GRU that stage pretrained.
    """
    pending, running, done = list(tasks), {}, set()
    while pending or running:
        for name, cmd in list(pending):
            if len(running) >= jobs:
                break
            needs = name.replace("fit-qlib", "fit-ours")
            if needs != name and any(n == needs for n, _ in tasks) and needs not in done:
                continue
            pending.remove((name, cmd))
            print(f"== {name} ==", flush=True)
            running[name] = (subprocess.Popen(cmd, env=env), time.perf_counter())
        time.sleep(0.5)
        for name, (proc, start) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            print(
                f"== {name}: exit {proc.returncode}, {time.perf_counter() - start:.1f} s",
                flush=True,
            )
            if proc.returncode:
                for other, _ in running.values():
                    other.kill()
                raise SystemExit(f"stage {name} failed (exit {proc.returncode})")
            done.add(name)


def _run_seeds(args, seeds, fit_stages, passthrough, env):
    workdir = Path(args.workdir)
    tasks = []
    for seed in seeds:
        outdir = workdir / f"seed{seed}"
        outdir.mkdir(exist_ok=True)
        for stage in fit_stages:
            cmd = [
                args.python,
                __file__,
                *passthrough,
                "--workdir",
                str(workdir),
                "--outdir",
                str(outdir),
                "--seed",
                str(seed),
                "--stage",
                stage,
            ]
            tasks.append((f"{stage} seed {seed}", cmd))
    _run_stages(tasks, env, jobs=args.jobs)


def _seed_results(workdir, seeds):
    results = {}
    for seed in seeds:
        for stage in ("fit-ours", "fit-qlib"):
            path = Path(workdir) / f"seed{seed}" / f"{stage}.json"
            if path.is_file():
                results.setdefault(seed, {})[stage] = json.loads(path.read_text())
    return results


def _mean_std(values):
    """Mean and sample standard deviation of the known values (NaN where undefined)."""
    values = [v for v in values if v is not None and v == v]
    mean = statistics.fmean(values) if values else float("nan")
    return mean, statistics.stdev(values) if len(values) > 1 else float("nan")


def accuracy_table(workdir, seeds):
    """Test IC, rank IC, ICIR and rank ICIR of both frameworks, per seed and mean +- std."""
    results = _seed_results(workdir, seeds)
    keys = ("IC", "Rank IC", "ICIR", "Rank ICIR")
    lines = [
        "| seed | framework | epochs run (best) | " + " | ".join(f"test {k}" for k in keys) + " |",
        "|---|---|---|" + "---|" * len(keys),
    ]
    per_key = {(who, k): [] for who in ("fit-qlib", "fit-ours") for k in keys}
    for seed in seeds:
        for who, label in (("fit-qlib", "Qlib"), ("fit-ours", "ours")):
            r = results.get(seed, {}).get(who)
            if not r:
                continue
            ics = [e.get("valid_ic") for e in r.get("igmtf_epochs", [])]
            known = [v if v is not None and v == v else float("-inf") for v in ics]
            best = 1 + known.index(max(known)) if known else None
            cells = []
            for k in keys:
                value = r["test"].get(k)
                per_key[who, k].append(value)
                cells.append(_fmt(value, 4, ""))
            run = f"{len(ics)} ({best})" if best is not None else f"{len(ics)}"
            lines.append(f"| {seed} | {label} | {run} | " + " | ".join(cells) + " |")
    for who, label in (("fit-qlib", "Qlib"), ("fit-ours", "ours")):
        cells = []
        for k in keys:
            mean, std = _mean_std(per_key[who, k])
            cells.append(f"{mean:.4f} +- {std:.4f}")
        lines.append(f"| mean +- std | {label} | | " + " | ".join(cells) + " |")
    # Paired by seed: only seeds where both frameworks have a result.
    both = [r for r in results.values() if "fit-ours" in r and "fit-qlib" in r]
    cells = []
    for k in keys:
        diffs = [r["fit-ours"]["test"][k] - r["fit-qlib"]["test"][k] for r in both]
        mean, std = _mean_std(diffs)
        cells.append(f"{mean:+.4f} +- {std:.4f}")
    lines.append("| ours - Qlib, paired | | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:
        return "n/a"


if __name__ == "__main__":
    main()
