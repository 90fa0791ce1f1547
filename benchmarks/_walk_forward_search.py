"""The accuracy campaign's walk-forward grid search, one fold fit at a time.

It is what ``GridSearchCV(IGMTFRegressor(...), SEARCH_GRID, cv=WalkForwardSplit(...),
scoring=rank_ic_scorer, refit=False)`` does on the train + valid days, cut into one task
per (candidate, fold): each fold's fit is ~20 CPU minutes, the whole search hours, and a
session that ends mid-search must not lose the folds already fitted. Every fold writes its
score to its own JSON file; the ``search`` task then only reads them, picks the best mean
rank IC (the first candidate on ties, as ``GridSearchCV`` ranks) and fits it on train.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import _accuracy_results as store

#: Qlib's hard-coded (10, 10) and the corners around it.
SEARCH_GRID = [
    {"k_day": [10], "n_neighbor": [10]},
    {"k_day": [5, 20], "n_neighbor": [5, 20]},
]
#: Walk-forward folds; each tests on ``1 / SEARCH_FOLDS`` of the valid year, so no fold is
#: scored on days the pretrained GRU was trained on.
SEARCH_FOLDS = 2
#: Task names of the fold fits: ``cv<candidate>.<fold>``.
FOLD_PREFIX = "cv"


def candidates():
    """The grid's parameter combinations, in ``GridSearchCV``'s order."""
    from sklearn.model_selection import ParameterGrid

    return list(ParameterGrid(SEARCH_GRID))


def fold_tasks():
    """Task names of every (candidate, fold) fit."""
    return [f"{FOLD_PREFIX}{c}.{f}" for c in range(len(candidates())) for f in range(SEARCH_FOLDS)]


def is_fold_task(variant):
    return (
        variant.startswith(FOLD_PREFIX) and variant[len(FOLD_PREFIX) :].replace(".", "").isdigit()
    )


def fold_path(results_dir, setting, variant, seed):
    """``<results>/<setting>/search/<params>_fold<f>_seed<k>.json``: named by the
    parameters, not the candidate's index, so a changed grid never reuses a stale fold."""
    candidate, fold = _parse(variant)
    params = "_".join(f"{k}{v}" for k, v in sorted(candidates()[candidate].items()))
    return Path(results_dir) / setting / "search" / f"{params}_fold{fold}_seed{seed}.json"


def _parse(variant):
    candidate, fold = variant[len(FOLD_PREFIX) :].split(".")
    return int(candidate), int(fold)


def _search_data(frames):
    """Train + valid rows and the walk-forward splitter over them."""
    import pandas as pd

    from igmtf_sklearn.model_selection import WalkForwardSplit

    X = pd.concat([frames["train"][0], frames["valid"][0]])
    y = pd.concat([frames["train"][1], frames["valid"][1]])
    n_valid_days = frames["valid"][0].index.get_level_values(0).nunique()
    cv = WalkForwardSplit(n_splits=SEARCH_FOLDS, test_days=n_valid_days // SEARCH_FOLDS, gap_days=2)
    return X, y, cv


def fit_fold(variant, frames, estimator):
    """Fit ``estimator`` (unfitted, with the campaign's common parameters) with the task's
    candidate on its fold's training days and score it as ``GridSearchCV`` would.

    The estimator keeps its own date split (the last 20 % of the fold's days) for early
    stopping, as it would inside ``GridSearchCV``. Returns the fold's JSON record.
    """
    from sklearn.base import clone

    from igmtf_sklearn.metrics import rank_ic_scorer

    candidate, fold = _parse(variant)
    params = candidates()[candidate]
    X, y, cv = _search_data(frames)
    train, test = list(cv.split(X))[fold]
    model = clone(estimator).set_params(**params)
    model.fit(X.iloc[train], y.iloc[train])
    days = X.index.get_level_values(0)
    return {
        "params": params,
        "fold": fold,
        "train_days": [str(days[train].min().date()), str(days[train].max().date())],
        "test_days": [str(days[test].min().date()), str(days[test].max().date())],
        "rank_ic": float(rank_ic_scorer(model, X.iloc[test], y.iloc[test])),
        "epochs_run": len(model.history_),
    }


def run_fold(task, frames, estimator):
    """Fit one (candidate, fold) task, ``task`` = ``(results_dir, setting, variant, seed)``,
    with ``fit_fold`` and write its JSON record whole; returns the record."""
    results_dir, setting, variant, seed = task
    start, cpu = time.perf_counter(), time.process_time()
    record = fit_fold(variant, frames, estimator)
    record.update(
        setting=setting,
        seed=seed,
        fit_wall_s=time.perf_counter() - start,
        fit_cpu_s=time.process_time() - cpu,
        commit=store.commit(),
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    store.write_json(fold_path(results_dir, setting, variant, seed), record)
    return record


def pick(results_dir, setting, seed):
    """The best candidate by mean fold rank IC, and the search's log; from the fold files."""
    import numpy as np

    log = []
    for c, params in enumerate(candidates()):
        paths = [
            fold_path(results_dir, setting, f"{FOLD_PREFIX}{c}.{f}", seed)
            for f in range(SEARCH_FOLDS)
        ]
        scores = [json.loads(p.read_text())["rank_ic"] for p in paths]
        log.append(
            {
                "params": params,
                "fold_rank_ic": scores,
                "mean_rank_ic": float(np.mean(scores)),
                "std": float(np.std(scores)),
            }
        )
    best = max(log, key=lambda row: row["mean_rank_ic"])  # max keeps the first on ties
    return best["params"], {"grid": repr(SEARCH_GRID), "cv": log, "best": best["params"]}
