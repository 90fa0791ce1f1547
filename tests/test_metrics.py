"""Tests for igmtf_sklearn.metrics: daily IC, summaries and sklearn scorers."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from igmtf_sklearn.metrics import (
    UndefinedICWarning,
    daily_ic,
    daily_rank_ic,
    ic_scorer,
    ic_summary,
    ic_summary_scorer,
    icir,
    icir_scorer,
    mean_ic,
    mean_rank_ic,
    rank_ic_scorer,
    rank_icir,
    rank_icir_scorer,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def panel_index(day_sizes, n_instruments=None):
    """A sorted panel index with ``day_sizes[d]`` instruments on day ``d``."""
    n_instruments = n_instruments or max(max(day_sizes), 1)
    names = [f"SH{i:06d}" for i in range(n_instruments)]
    dates = pd.date_range("2021-01-04", periods=len(day_sizes), freq="B")
    keys = [(d, names[i]) for d, size in zip(dates, day_sizes) for i in range(size)]
    return pd.MultiIndex.from_tuples(keys, names=["datetime", "instrument"])


def messy_panel(seed):
    """Labels and predictions with NaNs, ties, 1-row days, constant and empty days."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, size=rng.integers(3, 15))
    sizes[0] = 1  # a one-row day
    index = panel_index(sizes)
    n = len(index)
    y = rng.normal(size=n)
    p = rng.normal(size=n) + 0.5 * y
    ties = rng.random(n) < 0.4
    y[ties] = np.round(y[ties])
    p = np.where(rng.random(n) < 0.4, np.round(p, 1), p)
    y[rng.random(n) < 0.15] = np.nan
    p[rng.random(n) < 0.15] = np.nan
    codes = np.repeat(np.arange(len(sizes)), sizes)
    last = len(sizes) - 1
    p[codes == last] = 0.1  # constant predictions, where a naive mean rounds
    if len(sizes) > 3:
        y[codes == 1] = np.nan  # a day with no valid label
        y[codes == 2] = 0.3  # constant labels
    return pd.Series(y, index=index, name="label"), p


def reference_daily(y, p, method):
    """Slow per-day pandas reference: drop NaN pairs, then Series.corr."""
    frame = pd.DataFrame({"y": y.to_numpy(), "p": np.asarray(p)}, index=y.index).dropna()

    def one_day(day):
        if len(day) < 2 or day["y"].nunique() < 2 or day["p"].nunique() < 2:
            return np.nan
        return day["p"].corr(day["y"], method=method)

    out = frame.groupby(level="datetime").apply(one_day)
    return out.reindex(y.index.unique(level="datetime")).astype(float)


def synthetic_panel(n_days=40, n_instruments=25, seed=0):
    """Features with a weak linear signal, for the model-selection tests."""
    rng = np.random.default_rng(seed)
    index = panel_index([n_instruments] * n_days)
    X = pd.DataFrame(rng.normal(size=(len(index), 4)), index=index, columns=list("abcd"))
    y = X @ np.array([0.3, -0.2, 0.1, 0.0]) + rng.normal(size=len(index))
    return X, y.rename("label")


def date_splits(index, n_splits=3):
    """Walk-forward splits on whole days, as explicit (train_idx, test_idx) pairs."""
    days = index.get_level_values("datetime")
    unique = days.unique()
    bounds = np.linspace(len(unique) // 2, len(unique), n_splits + 1).astype(int)
    splits = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        train = np.flatnonzero(days < unique[lo])
        test = np.flatnonzero(days.isin(unique[lo:hi]))
        splits.append((train, test))
    return splits


# ---------------------------------------------------------------------------
# Daily series against the pandas reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize(("func", "method"), [(daily_ic, "pearson"), (daily_rank_ic, "spearman")])
def test_daily_matches_pandas_reference(seed, func, method):
    y, p = messy_panel(seed)
    got = func(y, p)
    expected = reference_daily(y, p, method)
    np.testing.assert_array_equal(got.index, expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10, atol=1e-12)


def test_daily_series_shape_and_names():
    y, p = messy_panel(3)
    ic, ric = daily_ic(y, p), daily_rank_ic(y, p)
    dates = y.index.unique(level="datetime")
    for series, name in [(ic, "IC"), (ric, "Rank IC")]:
        assert series.name == name
        assert series.index.name == "datetime"
        assert series.index.equals(dates)


def test_undefined_days_are_nan():
    index = panel_index([1, 3, 3, 3, 3])
    y = np.array([1.0, 0.1, 0.1, 0.1, 1, np.nan, np.nan, 1, 2, 3, 5, 1, 3])
    p = np.array([2.0, 1.0, 2.0, 3.0, 4, 5, 6, 0.7, 0.7, 0.7, 1, 3, 2])
    ic = daily_ic(pd.Series(y, index=index), p)
    # one-row day, constant labels, <2 valid pairs, constant predictions, normal day
    assert ic.iloc[:4].isna().all()
    assert ic.iloc[4] == pytest.approx(np.corrcoef(y[-3:], p[-3:])[0, 1])


def test_infinite_values_are_dropped_like_nan():
    y, p = messy_panel(5)
    p_inf = p.copy()
    p_inf[np.isnan(p_inf)] = np.inf
    pd.testing.assert_series_equal(daily_ic(y, p_inf), daily_ic(y, p))


def test_perfect_and_reversed_predictions():
    _, y = synthetic_panel(n_days=5, n_instruments=10)
    assert np.allclose(daily_ic(y, 3 * y.to_numpy() + 1), 1.0)
    assert np.allclose(daily_rank_ic(y, -np.exp(y.to_numpy())), -1.0)


def test_rank_ic_ties_match_pandas_spearman():
    # Uneven days and many ties (-0.0 and 0.0 must tie): the daily ranks are the
    # average ranks pandas gives.
    rng = np.random.default_rng(0)
    sizes = rng.integers(3, 20, size=30)
    dates = np.repeat(pd.bdate_range("2021-01-01", periods=30), sizes)
    instruments = np.concatenate([np.arange(n) for n in sizes])
    index = pd.MultiIndex.from_arrays([dates, instruments], names=["datetime", "instrument"])
    values = rng.integers(0, 5, size=len(index)).astype(float)
    values[::7] = -0.0
    labels = pd.Series(rng.normal(size=len(index)), index=index)
    expected = [
        pd.Series(values[day]).corr(pd.Series(labels.to_numpy()[day]), method="spearman")
        for day in (dates == date for date in dates.unique())
    ]
    np.testing.assert_allclose(daily_rank_ic(labels, values).to_numpy(), expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def test_prediction_series_is_aligned_by_index():
    y, p = messy_panel(1)
    shuffled = pd.Series(p, index=y.index).sample(frac=1.0, random_state=0)
    pd.testing.assert_series_equal(daily_rank_ic(y, shuffled), daily_rank_ic(y, p))
    pd.testing.assert_series_equal(daily_ic(y, shuffled.to_frame("score")), daily_ic(y, p))


def test_prediction_column_and_frame_label():
    y, p = messy_panel(2)
    expected = daily_ic(y, p)
    pd.testing.assert_series_equal(daily_ic(y.to_frame(), p.reshape(-1, 1)), expected)
    pd.testing.assert_series_equal(daily_ic(y, list(p)), expected)


def test_unsorted_rows_are_sorted_together():
    y, p = messy_panel(4)
    order = np.random.default_rng(0).permutation(len(y))
    pd.testing.assert_series_equal(daily_ic(y.iloc[order], p[order]), daily_ic(y, p))
    pd.testing.assert_series_equal(daily_rank_ic(y.iloc[order], p[order]), daily_rank_ic(y, p))


def test_nullable_dtype_labels():
    y, p = messy_panel(6)
    pd.testing.assert_series_equal(daily_ic(y.astype("Float64"), p), daily_ic(y, p))


@pytest.mark.parametrize(
    ("y_pred_factory", "match"),
    [
        (lambda y: np.zeros(len(y) - 1), "rows"),
        (lambda y: np.zeros((len(y), 2)), "shape"),
        (lambda y: pd.Series(0.0, index=y.index[:-1]), "does not match"),
        (lambda y: pd.Series(0.0, index=y.index[np.zeros(len(y), int)]), "duplicate keys"),
        (lambda y: pd.DataFrame(np.zeros((len(y), 2)), index=y.index), "single column"),
    ],
)
def test_bad_predictions_raise(y_pred_factory, match):
    y, _ = messy_panel(0)
    with pytest.raises(ValueError, match=match):
        daily_ic(y, y_pred_factory(y))


def test_missing_prediction_keys_raise():
    y, p = messy_panel(0)
    other = y.rename(index=lambda k: k + "X" if isinstance(k, str) else k, level="instrument")
    with pytest.raises(ValueError, match="no prediction"):
        daily_ic(y, pd.Series(p, index=other.index))


def test_bad_labels_raise():
    y, p = messy_panel(0)
    with pytest.raises(TypeError, match="pandas DataFrame or Series"):
        daily_ic(y.to_numpy(), p)
    with pytest.raises(ValueError, match="levels must be named"):
        daily_ic(y.rename_axis(["date", "code"]), p)
    with pytest.raises(ValueError, match="duplicate"):
        daily_ic(pd.concat([y, y]), np.concatenate([p, p]))
    with pytest.raises(ValueError, match="single column"):
        daily_ic(pd.DataFrame({"a": y, "b": y}), p)


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def test_summaries_match_reference():
    y, p = messy_panel(2)
    ic = reference_daily(y, p, "pearson")
    assert ic.notna().sum() >= 3 and ic.isna().any()
    ric = reference_daily(y, p, "spearman")
    expected = {
        "IC": ic.mean(),
        "ICIR": ic.mean() / ic.std(),
        "Rank IC": ric.mean(),
        "Rank ICIR": ric.mean() / ric.std(),
    }
    summary = ic_summary(y, p)
    assert list(summary) == ["IC", "ICIR", "Rank IC", "Rank ICIR"]
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, rel=1e-10)
        assert type(summary[key]) is float
    singles = {
        "IC": mean_ic,
        "ICIR": icir,
        "Rank IC": mean_rank_ic,
        "Rank ICIR": rank_icir,
    }
    for key, func in singles.items():
        value = func(y, p)
        assert type(value) is float
        assert value == pytest.approx(summary[key], rel=1e-12)


def test_no_defined_day_warns_and_returns_nan():
    index = panel_index([1, 1, 3])
    y = pd.Series([1.0, 2.0, 1.0, 1.0, 1.0], index=index)
    p = np.arange(5.0)
    with pytest.warns(UndefinedICWarning, match="No day has a defined IC"):
        assert np.isnan(mean_ic(y, p))
    with pytest.warns(UndefinedICWarning):
        summary = ic_summary(y, p)
    assert all(np.isnan(v) for v in summary.values())


def test_icir_edge_cases():
    # One defined day: the std is undefined, so is the ICIR (no warning needed).
    index = panel_index([3, 1])
    y = pd.Series([1.0, 2.0, 3.0, 4.0], index=index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(icir(y, [1.0, 3.0, 2.0, 0.0]))
    # Perfect every day: the std is 0 up to rounding, so the ICIR is huge or inf
    # (as pandas' mean / std), not NaN, and ranks such a model first.
    _, y2 = synthetic_panel(n_days=4, n_instruments=5)
    assert icir(y2, y2.to_numpy()) > 1e6


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def integer_panels(draw):
    """Small panels of coarse values (many ties), exact under the transforms below."""
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    n = sum(sizes)
    cell = st.integers(-20, 20).map(lambda v: v / 4)
    y = np.array(draw(st.lists(cell, min_size=n, max_size=n)))
    p = np.array(draw(st.lists(cell, min_size=n, max_size=n)))
    return pd.Series(y, index=panel_index(sizes)), p


@settings(max_examples=60, deadline=None)
@given(panel=integer_panels(), scale=st.sampled_from([0.5, 2.0, 7.0]), shift=st.integers(-9, 9))
def test_ic_invariant_to_positive_affine_predictions(panel, scale, shift):
    y, p = panel
    np.testing.assert_allclose(daily_ic(y, scale * p + shift), daily_ic(y, p), atol=1e-9)
    np.testing.assert_allclose(daily_ic(y, -scale * p + shift), -daily_ic(y, p), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(panel=integer_panels())
def test_rank_ic_invariant_to_monotone_predictions(panel):
    y, p = panel
    expected = daily_rank_ic(y, p)
    np.testing.assert_allclose(daily_rank_ic(y, np.exp(p)), expected, atol=1e-12)
    np.testing.assert_allclose(daily_rank_ic(y, p**3), expected, atol=1e-12)
    np.testing.assert_allclose(daily_rank_ic(y, -p), -expected, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(panel=integer_panels())
def test_ic_bounded_and_symmetric(panel):
    y, p = panel
    ic = daily_ic(y, p)
    assert ((ic.abs() <= 1.0) | ic.isna()).all()
    np.testing.assert_allclose(daily_ic(pd.Series(p, index=y.index), y.to_numpy()), ic)


# ---------------------------------------------------------------------------
# Scorers in sklearn model selection
# ---------------------------------------------------------------------------

SCORERS = [
    (ic_scorer, mean_ic),
    (rank_ic_scorer, mean_rank_ic),
    (icir_scorer, icir),
    (rank_icir_scorer, rank_icir),
]


@pytest.mark.parametrize(("scorer", "metric"), SCORERS)
def test_grid_search_scores_equal_hand_computed(scorer, metric):
    X, y = synthetic_panel()
    cv = date_splits(X.index)
    grid = GridSearchCV(Ridge(), {"alpha": [0.1, 1000.0]}, scoring=scorer, cv=cv).fit(X, y)
    for i, alpha in enumerate(grid.cv_results_["param_alpha"]):
        for k, (train, test) in enumerate(cv):
            model = Ridge(alpha=alpha).fit(X.iloc[train], y.iloc[train])
            expected = metric(y.iloc[test], model.predict(X.iloc[test]))
            assert grid.cv_results_[f"split{k}_test_score"][i] == pytest.approx(expected)
    assert np.isfinite(grid.best_score_)


def test_scorer_uses_x_index_when_y_is_an_array():
    X, y = synthetic_panel()
    cv = date_splits(X.index)
    with_series = cross_val_score(Ridge(), X, y, scoring=ic_scorer, cv=cv)
    with_array = cross_val_score(Ridge(), X, y.to_numpy(), scoring=ic_scorer, cv=cv)
    np.testing.assert_allclose(with_array, with_series)


def test_scorer_with_pipeline_and_multimetric():
    X, y = synthetic_panel()
    cv = date_splits(X.index)
    pipe = make_pipeline(StandardScaler(), Ridge())
    scoring = {"ic": ic_scorer, "rank_ic": rank_ic_scorer}
    result = cross_validate(pipe, X, y, scoring=scoring, cv=cv)
    for k, (train, test) in enumerate(cv):
        pred = pipe.fit(X.iloc[train], y.iloc[train]).predict(X.iloc[test])
        assert result["test_ic"][k] == pytest.approx(mean_ic(y.iloc[test], pred))
        assert result["test_rank_ic"][k] == pytest.approx(mean_rank_ic(y.iloc[test], pred))


def test_summary_scorer_refits_on_ic():
    X, y = synthetic_panel()
    cv = date_splits(X.index)
    grid = GridSearchCV(
        Ridge(), {"alpha": [0.1, 1000.0]}, scoring=ic_summary_scorer, refit="IC", cv=cv
    ).fit(X, y)
    single = GridSearchCV(Ridge(), {"alpha": [0.1, 1000.0]}, scoring=ic_scorer, cv=cv).fit(X, y)
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_IC"], single.cv_results_["mean_test_score"]
    )
    assert "mean_test_Rank ICIR" in grid.cv_results_
    assert grid.best_params_ == single.best_params_


def test_constant_predictions_give_nan_not_crash():
    X, y = synthetic_panel(n_days=12, n_instruments=6)
    cv = date_splits(X.index, n_splits=2)
    with pytest.warns(UndefinedICWarning):
        scores = cross_val_score(DummyRegressor(), X, y, scoring=ic_scorer, cv=cv)
    assert np.isnan(scores).all()


def test_scorer_without_any_panel_index_raises():
    X, y = synthetic_panel(n_days=4, n_instruments=5)
    model = Ridge().fit(X.to_numpy(), y.to_numpy())
    with pytest.raises(ValueError, match="neither y nor X"):
        ic_scorer(model, X.to_numpy(), y.to_numpy())


def test_scorers_pickle_by_reference():
    for scorer, _ in [*SCORERS, (ic_summary_scorer, None)]:
        assert pickle.loads(pickle.dumps(scorer)) is scorer
        assert "igmtf_sklearn.metrics" in repr(scorer)
