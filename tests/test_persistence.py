"""Safe persistence: save_model / load_model and IGMTFRegressor.save / load."""

import pickle

import numpy as np
import pytest
import torch
from _small_nets import SMALL_IGMTF as SMALL
from _small_nets import SMALL_RNN
from sklearn.ensemble import VotingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from igmtf_sklearn import IGMTFRegressor, RNNRegressor
from igmtf_sklearn.persistence import FORMAT_VERSION, load_model, save_model
from igmtf_sklearn.preprocessing import Fillna, RobustZScoreNorm


@pytest.fixture(scope="module")
def fitted(market_raw):
    X, y, X_test = market_raw
    pipeline = make_pipeline(RobustZScoreNorm(), Fillna(), IGMTFRegressor(**SMALL)).fit(X, y)
    return pipeline, X_test


@pytest.fixture(scope="module")
def market_raw(market):
    """conftest's raw market as (X_train, y_train, X_test): test from day 60."""
    X, y = market
    dates = X.index.get_level_values(0)
    cut = dates.unique()[60]
    return X[dates < cut], y[dates < cut], X[dates >= cut]


def test_pipeline_round_trip_predicts_identically(fitted, tmp_path):
    pipeline, X_test = fitted
    save_model(pipeline, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.predict(X_test), pipeline.predict(X_test))
    np.testing.assert_array_equal(loaded[0].center_, pipeline[0].center_)
    assert loaded[-1].pretrained_model_ is not None
    np.testing.assert_array_equal(
        loaded[-1].pretrained_model_.predict(loaded[:-1].transform(X_test)),
        pipeline[-1].pretrained_model_.predict(pipeline[:-1].transform(X_test)),
    )
    assert loaded[-1].get_params()["hidden_size"] == 8


def test_estimator_save_and_load(fitted, tmp_path):
    pipeline, X_test = fitted
    model = pipeline[-1]
    model.save(tmp_path / "igmtf.pt")
    loaded = IGMTFRegressor.load(tmp_path / "igmtf.pt")
    features = pipeline[:-1].transform(X_test)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    with pytest.raises(ValueError, match="not a IGMTFRegressor|holds a"):
        save_model(pipeline[0], tmp_path / "scaler.pt")
        IGMTFRegressor.load(tmp_path / "scaler.pt")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_file_with_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"format": "igmtf-sklearn", "model": Exploit()}, handle)
    with pytest.raises(ValueError, match="not a model file"):
        load_model(tmp_path / "evil.pt")


def test_format_version_mismatch_is_explained(tmp_path):
    torch.save(
        {"format": "igmtf-sklearn", "format_version": FORMAT_VERSION + 1, "model": {}},
        tmp_path / "future.pt",
    )
    with pytest.raises(ValueError, match="format version"):
        load_model(tmp_path / "future.pt")


def test_failed_write_leaves_nothing_behind(fitted, tmp_path, monkeypatch):
    pipeline, _ = fitted

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(pipeline, tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []


def test_foreign_objects_are_refused(tmp_path):
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(TypeError, match="joblib"):
        save_model(StandardScaler().fit(np.ones((3, 2))), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_voting_regressor_in_pipeline_round_trip(market_raw, tmp_path):
    X, y, X_test = market_raw
    seeds = VotingRegressor(
        [(f"seed{k}", IGMTFRegressor(**{**SMALL, "random_state": k})) for k in range(2)],
        weights=[1, 2],
    )
    pipeline = make_pipeline(RobustZScoreNorm(), Fillna(), seeds).fit(X, y)
    save_model(pipeline, tmp_path / "seeds.pt")
    loaded = load_model(tmp_path / "seeds.pt")
    np.testing.assert_array_equal(loaded.predict(X_test), pipeline.predict(X_test))
    check_is_fitted(loaded[-1])
    assert list(loaded[-1].named_estimators_) == ["seed0", "seed1"]
    assert loaded[-1].named_estimators_.seed1.random_state == 1
    assert loaded[-1].weights == [1, 2]
    assert loaded[-1].n_features_in_ == seeds.n_features_in_
    np.testing.assert_array_equal(loaded[-1].feature_names_in_, seeds.feature_names_in_)


@pytest.mark.parametrize("other", [LinearRegression(), "drop"], ids=["foreign", "drop"])
def test_voting_regressor_with_foreign_member_is_refused(split_market, other, tmp_path):
    X_train, y_train, _, _ = split_market
    members = [("seed0", IGMTFRegressor(**SMALL)), ("other", other)]
    model = VotingRegressor(members).fit(X_train, y_train)
    with pytest.raises(TypeError, match="member 'other'.*joblib"):
        save_model(model, tmp_path / "seeds.pt")
    assert list(tmp_path.iterdir()) == []


def test_voting_regressor_alone_round_trip_and_weights_that_are_not_numbers(split_market, tmp_path):
    X_train, y_train, X_test, _ = split_market
    members = [(f"seed{k}", RNNRegressor(**{**SMALL_RNN, "random_state": k})) for k in range(2)]
    model = VotingRegressor(members, weights=np.array([0.25, 0.75])).fit(X_train, y_train)
    save_model(model, tmp_path / "seeds.pt")
    loaded = load_model(tmp_path / "seeds.pt")
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    assert loaded.weights == [0.25, 0.75]
    model.weights = ["a", "b"]  # dropping them would change the predictions: refused
    with pytest.raises(TypeError, match="weights are a list of numbers or None"):
        save_model(model, tmp_path / "other.pt")
    assert not (tmp_path / "other.pt").exists()
