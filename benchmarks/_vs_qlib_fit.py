"""``vs_qlib.py``'s fit stages: ``fit-ours`` pretrains the GRU and trains ``IGMTFRegressor``;
``fit-qlib`` trains Qlib's ``IGMTF`` from the same GRU weights on the same matrices. Each
times its epochs phase by phase and scores the test segment."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from _vs_qlib_common import (
    FIELDS,
    SEGMENTS,
    PhaseRSS,
    Timed,
    cpu_seconds,
    load_segment,
    set_threads,
    write_result,
)


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
            self._last = (time.perf_counter(), cpu_seconds())
            set_phase(between_epochs)

        def on_epoch_begin(self, net, **kwargs):
            self._begin, self._valid_start = (time.perf_counter(), cpu_seconds()), None
            set_phase(training_phase)

        def on_batch_begin(self, net, training=False, **kwargs):
            if not training and self._valid_start is None:
                self._valid_start = (time.perf_counter(), cpu_seconds())
                set_phase(valid_phase)

        def on_epoch_end(self, net, **kwargs):
            end = (time.perf_counter(), cpu_seconds())
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

    set_threads(args.threads)
    rss = PhaseRSS()
    X_train, y_train = load_segment(args.workdir, "train")
    X_valid, y_valid = load_segment(args.workdir, "valid")
    X_test, y_test = load_segment(args.workdir, "test")
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
    t, cpu = time.perf_counter(), cpu_seconds()
    pred = model.predict(X_test)
    result["predict_wall"], result["predict_cpu"] = time.perf_counter() - t, cpu_seconds() - cpu
    result["peak_rss_by_phase_mib"] = rss.stop()
    result["test"] = _ic(y_test, pred)
    write_result(args.outdir, "fit-ours", result)


# -- stage 4: Qlib ---------------------------------------------------------------
def _qlib_static_dataset(args):
    import pandas as pd
    from qlib.data.dataset import DatasetH
    from qlib.data.dataset.handler import DataHandlerLP
    from qlib.data.dataset.loader import StaticDataLoader

    parts, raw_test_label = [], None
    for name in SEGMENTS:
        X, y = load_segment(args.workdir, name)
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

    set_threads(args.threads)
    rss = PhaseRSS()
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
        gru.train_epoch = Timed(gru.train_epoch, rss, "pretrain")
        gru.test_epoch = Timed(gru.test_epoch, rss, "pretrain valid")
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
    hidden = model.get_train_hidden = Timed(model.get_train_hidden, rss, "bank")
    train = model.train_epoch = Timed(model.train_epoch, rss, "train")
    tests = model.test_epoch = Timed(model.test_epoch, rss, "valid")
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
    t, cpu = time.perf_counter(), cpu_seconds()
    pred = model.predict(dataset, segment="test")
    result["predict_wall"], result["predict_cpu"] = time.perf_counter() - t, cpu_seconds() - cpu
    result["peak_rss_by_phase_mib"] = rss.stop()
    result["predict_hidden"] = hidden.calls[-1]
    pred = pred.reindex(y_test.index).to_numpy(np.float32)
    result["test"] = _ic(y_test, pred)
    write_result(args.outdir, "fit-qlib", result)
