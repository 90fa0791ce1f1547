"""``refit=True``: after the validated fit, a new fit on every day for the epochs it kept."""

import json

import numpy as np
import pandas as pd
import pytest
from _small_nets import SMALL_IGMTF, SMALL_RNN
from sklearn.utils._param_validation import InvalidParameterError
from test_workflow import tiny_config

from igmtf_sklearn import ExplicitValidation, IGMTFRegressor, RNNRegressor
from igmtf_sklearn.metrics import training_curve
from igmtf_sklearn.model_selection import UniqueCheckpoint
from igmtf_sklearn.nets._refit import kept_epochs
from igmtf_sklearn.workflow import run_workflow

# Enough epochs, with a patience short enough, for early stopping to keep fewer than all.
IGMTF = {
    **SMALL_IGMTF,
    "pretrain_epochs": 4,
    "max_epochs": 4,
    "pretrain_patience": 2,
    "patience": 2,
}


def _kept_ic_epoch(history):
    """1-based epoch of the first highest validation IC: what IGMTF's stopping keeps."""
    scores = [row["valid_ic"] for row in history]
    return scores.index(max(scores)) + 1


@pytest.fixture(scope="module")
def fits(split_market):
    """The same seeded IGMTF fitted without and with ``refit``."""
    X, y = split_market[:2]
    plain = IGMTFRegressor(**IGMTF).fit(X, y)
    refitted = IGMTFRegressor(**IGMTF, refit=True).fit(X, y)
    return plain, refitted


def test_refit_trains_for_the_epochs_the_validated_fit_kept(fits):
    plain, refitted = fits
    assert refitted.refit_epochs_ == {
        "max_epochs": _kept_ic_epoch(plain.history_),
        "pretrain_epochs": kept_epochs(plain.pretrained_model_),
    }
    # The validated fit is the plain one, kept as validation_history_.
    assert [r["valid_ic"] for r in refitted.validation_history_] == [
        r["valid_ic"] for r in plain.history_
    ]
    # The refit has no validation: its history has the kept epochs and no valid scores.
    assert len(refitted.history_) == refitted.refit_epochs_["max_epochs"]
    assert "valid_ic" not in refitted.history_[-1]
    assert len(refitted.pretrained_model_.history_) == refitted.refit_epochs_["pretrain_epochs"]


def test_refit_is_the_documented_recipe_bit_for_bit(fits, split_market):
    """``IGMTFRegressor(pretrain_epochs=P, max_epochs=E, train_split=None)`` on every day."""
    X, y, X_test = split_market[:3]
    refitted = fits[1]
    recipe = IGMTFRegressor(**{**IGMTF, **refitted.refit_epochs_, "train_split": None})
    recipe.fit(X, y)
    np.testing.assert_array_equal(refitted.predict(X_test), recipe.predict(X_test))
    assert not np.array_equal(refitted.predict(X_test), fits[0].predict(X_test))


def test_the_refit_bank_holds_the_validation_days(fits, split_market):
    plain, refitted = fits
    n_days = split_market[0].index.get_level_values(0).nunique()
    assert refitted.module_.bank_hidden.shape[0] == n_days
    assert plain.module_.bank_hidden.shape[0] < n_days


def test_fit_leaves_the_parameters_as_given(fits):
    refitted = fits[1]
    assert refitted.get_params(deep=False) == {
        **IGMTFRegressor(**IGMTF, refit=True).get_params(deep=False),
        "train_split": refitted.train_split,  # the same default object, restored
    }
    assert refitted.max_epochs == IGMTF["max_epochs"] and refitted.train_split is not None


def test_explicit_validation_days_are_added_in_date_order(split_market):
    X, y = split_market[:2]
    dates = X.index.get_level_values(0)
    cut = dates.unique()[40]
    train, valid = dates < cut, dates >= cut
    split = ExplicitValidation(X[valid], y[valid])
    params = {**IGMTF, "pretrain_epochs": 2, "max_epochs": 2}
    refitted = IGMTFRegressor(**params, train_split=split, refit=True).fit(X[train], y[train])
    recipe = IGMTFRegressor(**{**params, **refitted.refit_epochs_, "train_split": None})
    recipe.fit(X, y)
    np.testing.assert_array_equal(refitted.predict(X), recipe.predict(X))


def test_validation_days_that_are_training_days_are_refused_before_training(split_market):
    X, y = split_market[:2]
    model = IGMTFRegressor(**IGMTF, train_split=ExplicitValidation(X, y), refit=True)
    with pytest.raises(ValueError, match="also training days"):
        model.fit(X, y)
    assert not hasattr(model, "history_") or not model.history_


@pytest.mark.parametrize(
    "params, message",
    [
        ({"train_split": None}, "holds out no validation days"),
        ({"warm_start": True}, "cannot continue a fitted one"),
    ],
)
def test_a_refit_that_cannot_be_done_is_refused(split_market, params, message):
    X, y = split_market[:2]
    with pytest.raises(ValueError, match=message):
        IGMTFRegressor(**IGMTF, refit=True, **params).fit(X, y)


def test_a_callback_watching_validation_scores_is_refused_before_training(split_market, tmp_path):
    checkpoint = UniqueCheckpoint(dirname=tmp_path)  # monitors valid_loss_best
    model = IGMTFRegressor(**IGMTF, refit=True, callbacks=[("checkpoint", checkpoint)])
    with pytest.raises(ValueError, match=r"UniqueCheckpoint\(monitor='valid_loss_best'\)"):
        model.fit(*split_market[:2])
    assert not list(tmp_path.iterdir())  # nothing written


def test_refit_must_be_a_boolean(split_market):
    with pytest.raises(InvalidParameterError, match="refit"):
        RNNRegressor(**SMALL_RNN, refit="yes").fit(*split_market[:2])


def test_the_gru_refits_for_its_kept_epoch(split_market):
    X, y, X_test = split_market[:3]
    params = {**SMALL_RNN, "max_epochs": 5, "patience": 2}
    plain = RNNRegressor(**params).fit(X, y)
    refitted = RNNRegressor(**params, refit=True).fit(X, y)
    losses = [row["valid_loss"] for row in plain.history_]
    assert refitted.refit_epochs_ == {"max_epochs": kept_epochs(plain)}
    assert kept_epochs(plain) == losses.index(min(losses)) + 1
    recipe = RNNRegressor(**{**params, "max_epochs": kept_epochs(plain), "train_split": None})
    np.testing.assert_array_equal(refitted.predict(X_test), recipe.fit(X, y).predict(X_test))


def test_refit_predicts_a_series_on_the_index(fits, split_market):
    X_test = split_market[2]
    predicted = fits[1].predict_series(X_test)
    assert isinstance(predicted, pd.Series) and predicted.index.equals(X_test.index)


def test_the_training_curve_shows_the_validated_fit_then_the_refit(fits):
    refitted = fits[1]
    curve = training_curve(refitted)
    stages = curve.groupby("stage", sort=False).size()
    epochs = refitted.refit_epochs_
    assert list(stages.index) == ["pretraining", "training", "refit pretraining", "refit training"]
    assert stages["refit training"] == epochs["max_epochs"]
    assert stages["refit pretraining"] == epochs["pretrain_epochs"]
    assert stages["training"] == len(refitted.validation_history_)
    validated = curve["stage"].isin(["pretraining", "training"])
    assert curve.loc[validated, "valid IC"].notna().all()
    assert curve.loc[~validated, "valid IC"].isna().all()


def test_a_later_fit_without_refit_forgets_the_refit(split_market):
    model = RNNRegressor(**SMALL_RNN, max_epochs=2, refit=True).fit(*split_market[:2])
    model.set_params(refit=False).fit(*split_market[:2])
    assert not hasattr(model, "refit_epochs_") and not hasattr(model, "validation_history_")


def test_igmtf_run_refits_from_yaml(tmp_path):
    config = tiny_config(tmp_path / "run")
    config["model"].update(refit=True, max_epochs=2, pretrain_epochs=2)
    config["report"] = False
    result = run_workflow(config, progress=False)
    network = result["model"][-1]
    summary = json.loads(result["files"]["metrics"].read_text())["model"]
    assert summary["refit"] is True and summary["epochs"] == network.refit_epochs_["max_epochs"]
    assert "best_valid_ic" in summary
    # Trained on the train and valid segments: the bank holds more days than train has.
    assert network.module_.bank_hidden.shape[0] > len(pd.bdate_range(*config["segments"]["train"]))
