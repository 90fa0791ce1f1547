"""Accuracy campaign: IGMTF variants against Qlib's default and the GRU alone, on real data.

Every fit of the campaign is one *task* ``(setting, variant, seed)``; its result goes to
its own JSON file under ``--results-dir`` the moment the fit ends, and a task whose file
exists is skipped. A campaign interrupted (a session's end, Ctrl-C) therefore continues
where it stopped when the same command is run again.

Settings (train / valid / test by date; early stopping on the valid segment):

- ``A``: CSI 300, train 2016-2018, valid 2019, test 2020;
- ``B``: CSI 300, train 2020-2022, valid 2023, test 2024;
- ``C``: ``cn_sample500``, train 2016-2018, valid 2019, test 2020;
- ``A-1``, ``B-1``, ``C-1``: each a year earlier, so that their test year is the setting's
  valid year (run only when named: a refit on the valid year's labels is judged there);
- ``A+1``, ``B+1``, ``C+1``: each a year later, tested on a year the campaign never scored
  (run only when named: the recommended configuration's check out of sample).

Per ``(setting, seed)`` the GRU base is pretrained ONCE (task ``pretrain``, its weights
kept under ``<results-dir>/pretrained/``) and handed with ``pretrained=`` to every IGMTF
variant, so that variants differ only in what they are. ``gru`` is the fair baseline for
"does the graph help": the pretrained GRU trained on for as many epochs as IGMTF gets,
so both have had ``pretrain_epochs + epochs`` epochs at most.

Usage::

    python benchmarks/accuracy.py --settings C --seeds 0 --variants qlib,gru --jobs 2
    python benchmarks/accuracy.py --table             # mean +- std and paired differences
    python benchmarks/accuracy.py --return-labels --settings A-1,B-1,C-1  # score_power's

Data: ``--data-root`` (default ``$IGMTF_DATA_ROOT`` or ``../shared/data``) holds
``cn_csi300/`` and ``cn_sample500/``. Each task runs in its own process with one torch
thread (``--jobs`` processes at a time): on a 2-core machine two threads per process
spin-wait and run several times slower.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

import _accuracy_results as store
import _accuracy_schedule as schedule
import _accuracy_tables as tables
import _feature_choice as choice
import _refit as refit
import _score_power_tables as score_power
import _walk_forward_search as search
from _accuracy_data import (
    FEATURES,
    LOOKBACK_DAYS,
    MAIN_SETTINGS,
    SEGMENTS,
    SETTINGS,
    same_as,
    segment_frames,
    split_name,
)
from _accuracy_variants import (
    BUDGET,
    GRU,
    PRETRAININGS,
    SMOKE_PARAMS,
    SPECIAL,
    VARIANTS,
    base_spec,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO_ROOT / "benchmarks" / "results" / "accuracy"
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / ".cache"


# -- tasks -----------------------------------------------------------------------------
def _history(net):
    keys = ("epoch", "train_loss", "valid_loss", "valid_ic", "dur", "bank_dur")
    return [{k: row[k] for k in keys if k in row} for row in net.history_]


def _common(frames, seed):
    from igmtf_sklearn import ExplicitValidation

    X_valid, y_valid = frames["valid"]
    return {
        **SMOKE_PARAMS,
        # Alpha360's fields x 60 days, whatever the normalisation put side by side
        "d_feat": frames["train"][0].shape[1] // (LOOKBACK_DAYS + 1),
        "label_norm": None,  # train/valid labels are rank-normalised per day already
        "train_split": ExplicitValidation(X_valid, y_valid),
        "patience": BUDGET["patience"],
        "random_state": seed,
        "verbose": 0,
    }


def _evaluate(model, frames):
    """Valid and test IC; a label-reading model also with its bank grown as labels become known.

    ``valid`` / ``test`` are with the bank the model has after ``fit`` (the training
    days). With ``label_neighbors``, ``valid_grown`` / ``test_grown`` first add the
    valid days (and, for test, the test days) with their labels: each day still reads
    only labels known on it (``label_horizon``), exactly what a model whose bank is
    extended every day would see.
    """
    result = {
        name: store.score(frames[name][1], model.predict(frames[name][0]))
        for name in ("valid", "test")
    }
    if getattr(model, "label_neighbors", 0):
        from igmtf_sklearn.preprocessing import cs_rank_norm

        X_valid, y_valid = frames["valid"]
        X_test, y_test = frames["test"]
        model.extend_memory_bank(X_valid, y_valid)  # rank-normalised already
        result["valid_grown"] = store.score(y_valid, model.predict(X_valid))
        known = y_test.notna().to_numpy()
        model.extend_memory_bank(X_test[known], cs_rank_norm(y_test[known]))
        result["test_grown"] = store.score(y_test, model.predict(X_test))
    return result


def _resolve(params):
    """Variant parameters as the estimator takes them: our loss classes by name, and
    ``freeze`` (a pattern of parameter names) as skorch's ``Freezer`` callback."""
    from skorch.callbacks import Freezer

    import igmtf_sklearn

    resolved = {k: v for k, v in params.items() if k != "freeze"}
    if "criterion" in params:
        resolved["criterion"] = getattr(igmtf_sklearn, params["criterion"])
    if "freeze" in params:
        resolved["callbacks"] = [("freeze", Freezer(params["freeze"]))]
    return resolved


def run_task(setting, variant, seed, results_dir, data_root, cache_dir):
    """Fit one task and write its JSON result; returns the result."""
    import torch

    torch.set_num_threads(1)
    store.commit()  # the code this process runs, before a commit can land during the fit
    if choice.is_task(variant):
        task = (results_dir, data_root, cache_dir)
        return choice.run(setting, variant, seed, task, _choice_gru)
    kind, base = split_name(variant)  # "qlib@cs": a "qlib" fit on the "cs" base
    features, labels, pretraining = base_spec(base)
    frames = segment_frames(setting, data_root, cache_dir, features, labels=labels)
    common = _common(frames, seed)
    if refit.is_task(variant):
        fit = functools.partial(_refit, {**common, "train_split": None}, pretraining)
        return refit.run(results_dir, setting, variant, seed, frames, fit)
    gru_path = store.pretrained_path(results_dir, setting, seed, base)
    if search.is_fold_task(variant):
        from igmtf_sklearn import IGMTFRegressor

        unfitted = IGMTFRegressor(
            pretrained=str(gru_path),
            max_epochs=BUDGET["epochs"],
            **{k: v for k, v in common.items() if k != "train_split"},  # its own date split
        )
        return search.run_fold((results_dir, setting, variant, seed), frames, unfitted)
    if (
        kind == "pretrain"
        and gru_path.is_file()
        and store.task_path(results_dir, setting, variant, seed).is_file()
    ):
        # Fitted before predictions were kept: predict with its weights, do not refit.
        model = _gru_from(gru_path, frames, max_epochs=0, **common)
        store.save_predictions(model, frames, results_dir, setting, variant, seed, labels)
        return None
    start, cpu = time.perf_counter(), time.process_time()
    task = (results_dir, setting, seed)
    model, params, extra = _fit(kind, frames, common, gru_path, task, pretraining)
    fit_wall, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    store.save_predictions(model, frames, results_dir, setting, variant, seed, labels)
    history = _history(model)
    valid_ics = [row.get("valid_ic") for row in history]
    result = {
        "setting": setting,
        "variant": variant,
        "features": features,
        "labels": labels,
        "base": base,
        "seed": seed,
        "params": {k: repr(v) for k, v in params.items()},
        "budget": BUDGET,
        "epochs_run": len(history),
        "best_epoch": (int(max(range(len(valid_ics)), key=lambda i: valid_ics[i])) + 1)
        if valid_ics and None not in valid_ics
        else None,
        "history": history,
        **extra,
        "fit_wall_s": fit_wall,
        "fit_cpu_s": fit_cpu,
        **_evaluate(model, frames),
        "rows": {name: len(frames[name][0]) for name in SEGMENTS},
        "machine": store.machine(),
        "commit": store.commit(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    store.write_json(store.task_path(results_dir, setting, variant, seed), result)
    return result


def _fit(kind, frames, common, gru_path, task, pretraining=None):
    """The fitted model of a task of this ``kind``, its parameters and extra log entries;
    ``task`` is ``(results_dir, setting, seed)``, ``pretraining`` the GRU's extra
    parameters (what it stops on; Qlib's validation loss when None)."""
    import torch

    from igmtf_sklearn import IGMTFRegressor
    from igmtf_sklearn.report import atomic_path

    X_train, y_train = frames["train"]
    gru = {**GRU, **(pretraining or {"monitor": "valid_loss"})}
    if kind == "pretrain":
        unfitted, params = _pretraining_gru(common, pretraining)
        model = unfitted.fit(X_train, y_train)
        gru_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(gru_path) as tmp:
            torch.save(model.module_.state_dict(), tmp)
        return model, params, {}
    if kind == "gru":
        # The pretrained GRU trained on for IGMTF's epoch budget: equal total epochs.
        params = {**gru, "max_epochs": BUDGET["epochs"]}
        model = _gru_from(gru_path, frames, **params, **common)
        return model, {**params, "from": "pretrain"}, {}
    extra = {}
    if kind == "search":
        params, extra["search"] = search.pick(*task)
    else:
        params = dict(VARIANTS[kind])
    model = IGMTFRegressor(
        pretrained=str(gru_path), max_epochs=BUDGET["epochs"], **_resolve(params), **common
    )
    return model.fit(X_train, y_train), params, extra


def _pretraining_gru(common, pretraining=None):
    """The unfitted GRU of a pretraining and its parameters; ``pretraining`` as in ``_fit``."""
    from igmtf_sklearn import RNNRegressor

    rule = pretraining or {"monitor": "valid_loss"}
    params = {**GRU, **rule, "max_epochs": BUDGET["pretrain_epochs"]}
    return RNNRegressor(**params, **common), params


def _refit(common, pretraining, X, y, pretrain_epochs, epochs):
    """Qlib's IGMTF (``refit.SOURCE``) on ``X, y`` without validation: its GRU pretrained
    for ``pretrain_epochs``, then ``epochs`` of IGMTF, the epochs its source fit kept."""
    from igmtf_sklearn import IGMTFRegressor

    gru = _pretraining_gru(common, pretraining)[0].set_params(max_epochs=pretrain_epochs)
    gru.fit(X, y)
    params = _resolve(VARIANTS[refit.SOURCE])
    return IGMTFRegressor(pretrained=gru, max_epochs=epochs, **params, **common).fit(X, y)


def _choice_gru(frames, seed):
    """The ``icstop`` pretraining's GRU (stopped on the validation IC), for a
    normalisation's choice on the training years."""
    return _pretraining_gru(_common(frames, seed), base_spec("icstop")[2])[0]


def _gru_from(gru_path, frames, **params):
    """``RNNRegressor`` starting from the pretrained weights, trained on for ``max_epochs``
    (0: none; the fit then only records the input layout)."""
    import torch

    from igmtf_sklearn import RNNRegressor

    model = RNNRegressor(warm_start=True, **params)
    model.initialize()
    model.module_.load_state_dict(torch.load(gru_path, weights_only=True))
    return model.fit(*frames["train"])


def run_campaign(args):
    """Run the tasks left, ``args.jobs`` processes at a time, as their inputs appear."""

    def command(key):
        cmd = [sys.executable, __file__, "--one", *map(str, key)]
        cmd += ["--results-dir", str(args.results_dir), "--data-root", str(args.data_root)]
        return cmd + ["--cache-dir", str(args.cache_dir)] + (["--smoke"] if args.smoke else [])

    for setting in args.settings:
        if twins := ", ".join(same_as(setting)):
            print(f"note: {setting} has the market and years of {twins}: its fits repeat theirs")
    tasks = schedule.plan(args.settings, args.variants, args.seeds, args.results_dir)
    schedule.run(tasks, args.jobs, command, args.results_dir)


# -- command line ----------------------------------------------------------------------
def _shrink_for_smoke():
    """A smoke run (``--smoke``): two months of training, six weeks of valid and test, one
    epoch of everything, hidden size 4; checks the plumbing, says nothing about accuracy."""
    import pandas as pd

    def first_weeks(start, weeks):
        return (start, str((pd.Timestamp(start) + pd.Timedelta(weeks=weeks)).date()))

    for spec in SETTINGS.values():
        end = pd.Timestamp(spec["train"][1])
        spec["train"] = (str((end - pd.Timedelta(days=61)).date()), spec["train"][1])
        spec["valid"] = first_weeks(spec["valid"][0], 6)
        spec["test"] = first_weeks(spec["test"][0], 6)
    BUDGET.update(pretrain_epochs=1, epochs=1, patience=1)
    search.SEARCH_GRID[:] = [{"k_day": [10], "n_neighbor": [10]}, {"k_day": [5], "n_neighbor": [5]}]
    SMOKE_PARAMS.update(hidden_size=4, num_layers=1)


def _list(text):
    return [t for t in text.split(",") if t]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=_list, default=list(MAIN_SETTINGS))
    parser.add_argument("--variants", type=_list, default=["gru", *VARIANTS])
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in _list(t)], default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("IGMTF_DATA_ROOT", REPO_ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--table", action="store_true", help="print the tables of the results")
    parser.add_argument(
        "--return-labels",
        action="store_true",
        help="save the --settings' valid returns (z-scored per day), which score_power's "
        "tables choose on, where no task saved them; needs the data",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny slice and budget, to test the runner"
    )
    parser.add_argument(
        "--one", nargs=3, metavar=("SETTING", "VARIANT", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.settings if s not in SETTINGS]
    unknown += [
        v
        for v in args.variants
        if split_name(v)[0] not in (*VARIANTS, *SPECIAL, *refit.KINDS)
        or split_name(v)[1] not in (*FEATURES, *PRETRAININGS)
        or (v.startswith("search") and "@" in v)  # the search runs on Qlib's features only
    ]
    if unknown:
        parser.error(
            f"unknown setting(s)/variant(s) {unknown}; settings: {list(SETTINGS)}, "
            f"variants: {[*SPECIAL, *VARIANTS, *refit.KINDS]}, each optionally @<base> with "
            f"base in {[*FEATURES[1:], *PRETRAININGS]}"
        )
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.smoke:
        _shrink_for_smoke()
    if args.one:
        setting, variant, seed = args.one
        run_task(setting, variant, int(seed), args.results_dir, args.data_root, args.cache_dir)
    elif args.table:
        tables.print_tables(args.results_dir)
    elif args.return_labels:
        for setting in args.settings:
            score_power.save_return_labels(
                setting, args.data_root, args.cache_dir, args.results_dir
            )
    else:
        run_campaign(args)


if __name__ == "__main__":
    main()
