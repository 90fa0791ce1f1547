"""Hyper-parameter search over the whole pipeline with the date splitters.

GridSearchCV's scores are the fold ICs of fits by hand; RandomizedSearchCV and
cross_validate run with the splitters too. Then the fitted search's joblib round
trip, UniqueCheckpoint's folders for sequential and parallel fits, and Dask.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pytest
import torch
from _small_nets import SMALL_IGMTF
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from igmtf_sklearn.metrics import ic_scorer, rank_ic_scorer
from igmtf_sklearn.model_selection import (
    PurgedKFoldByDate,
    UniqueCheckpoint,
    WalkForwardSplit,
    configure_dask_workers,
)
from igmtf_sklearn.preprocessing import Fillna, RobustZScoreNorm
from igmtf_sklearn.regressor import IGMTFRegressor

# The grid sets hidden_size.
SMALL = {k: v for k, v in SMALL_IGMTF.items() if k != "hidden_size"}
GRID = {"igmtfregressor__hidden_size": [4, 8]}
SCORING = {"ic": ic_scorer, "rank_ic": rank_ic_scorer}


# -- helpers ------------------------------------------------------------------


def _pipeline(**params):
    return make_pipeline(RobustZScoreNorm(), Fillna(), IGMTFRegressor(**{**SMALL, **params}))


# -- search over the whole pipeline ------------------------------------------------


@pytest.fixture(scope="module")
def search(market):
    X, y = market
    cv = WalkForwardSplit(n_splits=2, test_days=15)
    search = GridSearchCV(_pipeline(), GRID, cv=cv, scoring=SCORING, refit="ic")
    return search.fit(X, y)


def test_grid_search_scores_are_the_fold_ics(market, search):
    X, y = market
    results = search.cv_results_
    assert [p["igmtfregressor__hidden_size"] for p in results["params"]] == [4, 8]
    for key in ("mean_test_ic", "std_test_ic", "mean_test_rank_ic", "mean_fit_time"):
        assert np.isfinite(results[key]).all()
    # Refit by hand, candidate hidden_size=8, each fold: the same IC and rank IC.
    for i, (train, test) in enumerate(WalkForwardSplit(n_splits=2, test_days=15).split(X)):
        model = _pipeline(hidden_size=8).fit(X.iloc[train], y.iloc[train])
        X_test, y_test = X.iloc[test], y.iloc[test]
        assert results[f"split{i}_test_ic"][1] == pytest.approx(ic_scorer(model, X_test, y_test))
        assert results[f"split{i}_test_rank_ic"][1] == pytest.approx(
            rank_ic_scorer(model, X_test, y_test)
        )
    best = int(np.argmax(results["mean_test_ic"]))
    assert search.best_index_ == best and search.best_params_ == results["params"][best]
    assert results["rank_test_ic"][best] == 1
    # The refit is the best candidate trained on every date.
    refit = _pipeline(hidden_size=search.best_params_["igmtfregressor__hidden_size"])
    np.testing.assert_array_equal(search.predict(X), refit.fit(X, y).predict(X))


def test_randomized_search_with_purged_k_fold(market):
    X, y = market
    search = RandomizedSearchCV(
        _pipeline(hidden_size=4),
        {"igmtfregressor__lr": loguniform(1e-4, 1e-2), "igmtfregressor__k_day": [2, 3]},
        n_iter=2,
        cv=PurgedKFoldByDate(n_splits=2, purge_days=2, embargo_days=5),
        scoring=ic_scorer,
        random_state=0,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cross_validate_with_the_splitter(market):
    X, y = market
    scores = cross_validate(
        _pipeline(hidden_size=4, max_epochs=1), X, y, cv=WalkForwardSplit(2), scoring=SCORING
    )
    assert scores["test_ic"].shape == (2,) and np.isfinite(scores["test_rank_ic"]).all()


# -- persistence -------------------------------------------------------------------


def test_joblib_round_trip_keeps_weights_and_bank_not_data(market, search, tmp_path):
    X, y = market
    path = tmp_path / "search.joblib"
    joblib.dump(search, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert loaded.cv_results_["params"] == search.cv_results_["params"]
    bank, loaded_bank = (
        search.best_estimator_[-1].memory_bank_,
        loaded.best_estimator_[-1].memory_bank_,
    )
    for key in bank:
        torch.testing.assert_close(loaded_bank[key], bank[key])
    # The weights and memory bank are in the file; the training data is not.
    blob = path.read_bytes()
    assert len(blob) < X.to_numpy().nbytes
    features = search.best_estimator_[:-1].transform(X).to_numpy(np.float32)
    for rows in (X.to_numpy(np.float32), X.to_numpy(np.float64), features):
        row = rows[len(rows) // 2]
        assert row.tobytes() not in blob
    assert bank["hidden"].numpy().tobytes() in blob


# -- checkpoints of parallel fits ------------------------------------------------------


def _checkpoint_folders(base):
    folders = sorted(p for p in base.iterdir() if p.is_dir())
    return folders, [json.loads((p / "net_params.json").read_text()) for p in folders]


def test_unique_checkpoint_gives_each_fit_a_folder(market, tmp_path):
    X, y = market
    base = tmp_path / "runs"
    net = _pipeline(
        hidden_size=4, callbacks=[("checkpoint", UniqueCheckpoint(base, load_best=True))]
    )
    first = clone(net).fit(X, y)[-1]
    second = clone(net).fit(X, y)[-1]
    folders, params = _checkpoint_folders(base)
    assert len(folders) == 2 and all((p / "params.pt").is_file() for p in folders)
    assert {str(p) for p in folders} == {
        dict(model.callbacks_)["checkpoint"].fit_dirname_ for model in (first, second)
    }
    assert params[0]["hidden_size"] == 4 and params[0]["class"] == "IGMTFRegressor"
    # net.load_params(checkpoint=...) (load_best, LoadInitState) reads the fit's own files.
    checkpoint = dict(first.callbacks_)["checkpoint"]
    files = checkpoint.get_formatted_files(first)
    assert Path(files["f_params"]).parent == Path(checkpoint.fit_dirname_)
    assert Path(checkpoint.f_history_) == Path(checkpoint.fit_dirname_) / "history.json"
    assert Path(checkpoint.f_history_).is_file()
    # Clones share the base folder, not the fit folder.
    assert clone(first).callbacks[0][1].dirname == base


@pytest.mark.slow
def test_parallel_search_checkpoints_do_not_collide(market, tmp_path):
    X, y = market
    base = tmp_path / "runs"
    pipeline = _pipeline(max_epochs=1, callbacks=[("checkpoint", UniqueCheckpoint(base))])
    # One fold, so that the two candidates are fitted at the same time in two workers.
    cv = WalkForwardSplit(1, test_days=15)
    search = GridSearchCV(pipeline, GRID, cv=cv, scoring=ic_scorer, n_jobs=2).fit(X, y)
    folders, params = _checkpoint_folders(base)
    # One folder per fit: each candidate in a worker, plus the refit here.
    assert len(folders) == 3 and all((p / "params.pt").is_file() for p in folders)
    best = search.best_params_["igmtfregressor__hidden_size"]
    assert sorted(p["hidden_size"] for p in params) == sorted([4, 8, best])


# -- Dask ----------------------------------------------------------------------------


def test_configure_dask_workers_validates_threads():
    client = SimpleNamespace(register_plugin=print, run=print)  # never reached
    with pytest.raises(ValueError, match="'torch_threads' parameter .* int in the range \\[1,"):
        configure_dask_workers(client=client, torch_threads=0)
    with pytest.raises(TypeError, match="'client' parameter"):
        configure_dask_workers(client=None)


@pytest.mark.slow
def test_search_runs_on_dask(market, search):
    pytest.importorskip("distributed")
    from dask.distributed import Client, LocalCluster

    X, y = market
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        # Nanny-started workers begin with OMP_NUM_THREADS=1: 2 shows that the plugin ran.
        assert set(configure_dask_workers(client, torch_threads=2).values()) == {2}
        threads = configure_dask_workers(client, torch_threads=1)  # replaces the plugin
        assert len(threads) == 2 and set(threads.values()) == {1}
        # Checked in a task thread, where the fits run.
        assert client.submit(torch.get_num_threads, pure=False).result() == 1
        # One candidate, no refit: two fits, one per worker, keep the test short.
        on_dask = GridSearchCV(
            _pipeline(),
            {"igmtfregressor__hidden_size": [8]},
            cv=search.cv,
            scoring=SCORING,
            refit=False,
        )
        with joblib.parallel_backend("dask"):
            on_dask.fit(X, y)
    # The same fits as the sequential search's second candidate.
    for key in ("split0_test_ic", "split1_test_ic", "split1_test_rank_ic"):
        np.testing.assert_allclose(on_dask.cv_results_[key], search.cv_results_[key][1:], rtol=1e-5)
