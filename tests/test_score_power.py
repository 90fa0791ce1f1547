"""``score_power``: each day's scores raised to a power, chosen on the validation days."""

import numpy as np
import pandas as pd
import pytest
from _small_nets import SMALL_IGMTF, SMALL_RNN
from sklearn.utils._param_validation import InvalidParameterError

from igmtf_sklearn import ExplicitValidation, IGMTFRegressor, RNNRegressor
from igmtf_sklearn._utils._panel import day_slices
from igmtf_sklearn.metrics import daily_ic
from igmtf_sklearn.nets._score_power import POWERS, choose_power, powered_scores
from igmtf_sklearn.persistence import load_model, save_model

RNN = {**SMALL_RNN, "max_epochs": 2}


def _day_panel(values, counts):
    days = np.repeat(pd.date_range("2020-01-01", periods=len(counts)), counts)
    slots = np.concatenate([np.arange(n) for n in counts])
    index = pd.MultiIndex.from_arrays([days, [f"S{k}" for k in slots]])
    return pd.Series(values, index=index.set_names(["datetime", "instrument"]))


# -- the transform and the choice ----------------------------------------------------
def test_powered_scores_keep_each_days_order_and_stretch_its_tails():
    rng = np.random.default_rng(0)
    counts = np.array([50, 1, 30, 4])
    pred = rng.normal(size=counts.sum()) * 5 + 3
    pred[51:81] = 2.0  # a day whose predictions are all equal
    series = _day_panel(pred, counts)
    day = series.index.get_level_values(0)
    z = (series - series.groupby(day).transform("mean")) / series.groupby(day).transform("std")
    one = powered_scores(pred, counts, 1.0)
    assert one.dtype == np.float32
    np.testing.assert_allclose(one[:50], z[:50], rtol=1e-5)  # p = 1: the day's z-scores
    np.testing.assert_array_equal(one[50:81], 0)  # one row, or all equal: no spread, 0
    stretched = pd.Series(powered_scores(pred, counts, 2.0), index=series.index)
    spread = np.r_[0:50, 81:85]  # the days with a spread
    ranks = stretched.groupby(day).rank().iloc[spread], series.groupby(day).rank().iloc[spread]
    pd.testing.assert_series_equal(*ranks)
    assert stretched.iloc[:50].abs().max() > np.abs(z.iloc[:50]).max()


def _days(rng, n_days=120, n_rows=200):
    """Predictions and, for each, labels that follow their tails or only their order."""
    pred = rng.normal(size=(n_days, n_rows))
    tails = np.sign(pred) * np.abs(pred) ** 2 + rng.normal(size=pred.shape) * 3
    order = pred + rng.normal(size=pred.shape) * 3
    return pred.ravel(), tails.ravel(), order.ravel(), np.full(n_days, n_rows)


def test_auto_power_follows_the_tails_only_where_they_carry_signal():
    rng = np.random.default_rng(1)
    pred, tails, order, counts = _days(rng)
    assert choose_power(pred, tails, counts) > 1.0
    # Linear labels: 1 is the best power, or another by less than a standard error.
    assert choose_power(pred, order, counts) == 1.0
    assert choose_power(pred, rng.normal(size=pred.shape), counts) == 1.0  # noise: keep 1
    assert choose_power(pred[:200], tails[:200], counts[:1]) == 1.0  # one day: no error bar


def test_auto_power_is_the_best_daily_ic_beyond_one_standard_error():
    rng = np.random.default_rng(2)
    pred, tails, _, counts = _days(rng, n_days=40)
    labels = _day_panel(tails, counts)
    daily = {
        power: daily_ic(labels, powered_scores(pred, counts, power)).to_numpy() for power in POWERS
    }
    best = max(POWERS, key=lambda power: daily[power].mean())
    gain = daily[best] - daily[1.0]
    expected = best if gain.mean() > gain.std(ddof=1) / np.sqrt(len(gain)) else 1.0
    assert choose_power(pred, tails, counts) == expected


# -- the estimators ------------------------------------------------------------------
@pytest.fixture(scope="module")
def halves(split_market):
    """Training and explicit validation days, so the choice can be redone by hand."""
    X, y = split_market[:2]
    dates = X.index.get_level_values("datetime")
    cut = dates.unique()[40]
    return X[dates < cut], y[dates < cut], X[dates >= cut], y[dates >= cut]


@pytest.mark.parametrize("estimator, params", [(RNNRegressor, RNN), (IGMTFRegressor, SMALL_IGMTF)])
def test_auto_power_is_chosen_on_the_validation_days_and_applied(
    estimator, params, halves, split_market
):
    X, y, X_valid, y_valid = halves
    X_test = split_market[2]
    split = ExplicitValidation(X_valid, y_valid)
    plain = estimator(**params, train_split=split).fit(X, y)
    model = estimator(**params, train_split=split, score_power="auto").fit(X, y)
    # Training is untouched; the power is the one the validation days choose.
    valid_counts = day_slices(X_valid.index)[1]
    expected = choose_power(plain.predict(X_valid), y_valid.to_numpy(), valid_counts)
    assert model.score_power_ == expected and model.score_power_ in POWERS
    test_counts = day_slices(X_test.index)[1]
    np.testing.assert_array_equal(
        model.predict(X_test), powered_scores(plain.predict(X_test), test_counts, expected)
    )


def test_a_fixed_power_needs_no_validation(split_market):
    X, y, X_test, _ = split_market
    plain = RNNRegressor(**RNN, train_split=None).fit(X, y)
    model = RNNRegressor(**RNN, train_split=None, score_power=1.5).fit(X, y)
    assert model.score_power_ == 1.5
    counts = day_slices(X_test.index)[1]
    np.testing.assert_array_equal(
        model.predict(X_test), powered_scores(plain.predict(X_test), counts, 1.5)
    )


def test_auto_power_with_refit_is_chosen_by_the_validated_fit(split_market):
    X, y, X_test, _ = split_market
    validated = RNNRegressor(**RNN, score_power="auto").fit(X, y)
    refitted = RNNRegressor(**RNN, score_power="auto", refit=True).fit(X, y)
    assert refitted.score_power_ == validated.score_power_
    epochs = refitted.refit_epochs_["max_epochs"]
    by_hand = RNNRegressor(**{**RNN, "max_epochs": epochs}, train_split=None).fit(X, y)
    counts = day_slices(X_test.index)[1]
    expected = powered_scores(by_hand.predict(X_test), counts, refitted.score_power_)
    np.testing.assert_array_equal(refitted.predict(X_test), expected)


def test_auto_power_without_validation_days_is_refused_before_any_work(split_market):
    X, y = split_market[:2]
    model = IGMTFRegressor(**SMALL_IGMTF, train_split=None, score_power="auto")
    with pytest.raises(ValueError, match=r'score_power="auto" chooses .* train_split=None'):
        model.fit(X, y)
    assert not hasattr(model, "module_")
    with pytest.raises(InvalidParameterError, match="score_power"):
        RNNRegressor(**RNN, score_power=0).fit(X, y)


def test_the_chosen_power_is_saved_with_the_model(split_market, tmp_path):
    X, y, X_test, _ = split_market
    model = RNNRegressor(**RNN, score_power=2.0).fit(X, y)
    save_model(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.score_power_ == 2.0
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
