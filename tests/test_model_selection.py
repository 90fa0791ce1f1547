"""Date splitters: WalkForwardSplit and PurgedKFoldByDate.

Folds are read as day numbers of small panels (whole days, gaps, rolling
windows, purge and embargo; uneven, unsorted and swapped-level panels; refusals),
then checked as properties over random shuffled panels with hypothesis. One
walk-forward fold is the estimator's own DateValidSplit, which is re-exported
with ExplicitValidation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.model_selection import (
    DateValidSplit,
    ExplicitValidation,
    PurgedKFoldByDate,
    WalkForwardSplit,
)

# -- helpers ------------------------------------------------------------------


def _panel(dates, instruments):
    """A one-column panel with a row per (date, instrument) pair given."""
    index = pd.MultiIndex.from_arrays([dates, instruments], names=["datetime", "instrument"])
    return pd.DataFrame({"x": np.arange(len(index), dtype=float)}, index=index)


def _grid_panel(n_dates, n_instruments=3):
    dates = pd.bdate_range("2024-01-01", periods=n_dates)
    index = pd.MultiIndex.from_product(
        [dates, [f"S{i}" for i in range(n_instruments)]], names=["datetime", "instrument"]
    )
    return pd.DataFrame({"x": np.arange(len(index), dtype=float)}, index=index)


def _day_numbers(X):
    """Position of each row's date among the panel's sorted unique dates."""
    dates = X.index.get_level_values("datetime")
    return np.searchsorted(np.sort(dates.unique()), dates)


def _fold_days(X, cv):
    """The folds of ``cv`` on ``X`` as sorted day numbers, checking rows keep whole days."""
    days = _day_numbers(X)
    folds = []
    for train, test in cv.split(X):
        for rows in (train, test):
            assert rows.dtype.kind == "i" and np.all(np.diff(rows) > 0)
        train_days, test_days = np.unique(days[train]), np.unique(days[test])
        # Whole days: every row of a selected date is selected.
        np.testing.assert_array_equal(train, np.flatnonzero(np.isin(days, train_days)))
        np.testing.assert_array_equal(test, np.flatnonzero(np.isin(days, test_days)))
        folds.append((train_days, test_days))
    return folds


# -- WalkForwardSplit -----------------------------------------------------------


def test_walk_forward_folds_like_time_series_split_on_dates():
    X = _grid_panel(20)
    folds = _fold_days(X, WalkForwardSplit(n_splits=3, test_days=4, gap_days=2))
    assert WalkForwardSplit(n_splits=3).get_n_splits() == 3 == len(folds)
    for i, (train, test) in enumerate(folds):
        np.testing.assert_array_equal(test, np.arange(8 + 4 * i, 12 + 4 * i))
        np.testing.assert_array_equal(train, np.arange(0, 6 + 4 * i))  # expanding, gap of 2
    assert folds[-1][1][-1] == 19  # the last window ends on the last date


def test_walk_forward_default_test_days_and_zero_gap():
    folds = _fold_days(_grid_panel(12), WalkForwardSplit(n_splits=3, gap_days=0))
    # 12 // (3 + 1) = 3 dates per window, training right up to it.
    assert [(t[-1], s[0], len(s)) for t, s in folds] == [(2, 3, 3), (5, 6, 3), (8, 9, 3)]


def test_walk_forward_rolling_window():
    X = _grid_panel(30)
    rolling = _fold_days(X, WalkForwardSplit(4, test_days=3, train_days=5, expanding=False))
    assert [len(train) for train, _ in rolling] == [5] * 4
    assert all(test[0] - train[-1] == 3 for train, test in rolling)
    # Without train_days the window keeps the first fold's length.
    default = _fold_days(X, WalkForwardSplit(4, test_days=3, expanding=False))
    assert [len(train) for train, _ in default] == [16] * 4
    # expanding=True with train_days: the first fold's window, then growing.
    anchored = _fold_days(X, WalkForwardSplit(4, test_days=3, train_days=5))
    assert [(train[0], len(train)) for train, _ in anchored] == [
        (11, 5),
        (11, 8),
        (11, 11),
        (11, 14),
    ]


def test_walk_forward_on_an_uneven_panel_splits_on_dates():
    # Instruments list late and delist early (churn), so days have different row counts.
    panel = make_stock_panel(n_instruments=12, n_days=40, churn=0.5, random_state=0)
    assert panel.groupby(level="datetime").size().nunique() > 1
    cv = WalkForwardSplit(n_splits=3, test_days=5, gap_days=2)
    folds = _fold_days(panel, cv)
    assert [len(test) for _, test in folds] == [5, 5, 5]
    table = cv.fold_dates(panel)
    dates = panel.index.get_level_values("datetime").unique()
    assert table["test_last"].iloc[-1] == dates[-1]
    assert (table["test_first"].to_numpy() > table["train_last"].to_numpy()).all()


def test_unsorted_panels_and_swapped_levels_split_the_same_rows():
    X = _panel(*zip(*[(d, s) for d in pd.bdate_range("2024-01-01", periods=15) for s in "ABC"]))
    cv = WalkForwardSplit(n_splits=2, test_days=3)
    shuffled = X.sample(frac=1.0, random_state=0)
    swapped = shuffled.swaplevel()
    for other in (shuffled, swapped):
        for (train, test), (o_train, o_test) in zip(cv.split(X), cv.split(other)):
            assert set(X.index[train]) == set(other.index[o_train].reorder_levels(X.index.names))
            assert set(X.index[test]) == set(other.index[o_test].reorder_levels(X.index.names))


def test_date_indexed_series_and_non_panels():
    series = pd.Series(range(10), index=pd.bdate_range("2024-01-01", periods=10))
    [(train, test)] = WalkForwardSplit(1, test_days=2, gap_days=1).split(series)
    np.testing.assert_array_equal(train, np.arange(7))
    np.testing.assert_array_equal(test, [8, 9])
    with pytest.raises(TypeError, match="pandas DataFrame or Series"):
        next(WalkForwardSplit().split(np.zeros((10, 2))))
    with pytest.raises(ValueError, match="no 'datetime' level"):
        next(WalkForwardSplit().split(pd.DataFrame({"x": range(3)})))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_splits": 5}, "needs at least 13 dates"),  # 5 x 2 + gap 2 + 1 training date > 12
        ({"n_splits": 3, "test_days": 4}, "needs at least 15 dates"),
        ({"n_splits": 2, "test_days": 3, "train_days": 7}, "needs at least 15 dates"),
        (
            {"n_splits": 0},
            r"'n_splits' parameter of WalkForwardSplit must be an int in the range \[1,",
        ),
        ({"n_splits": 2, "gap_days": -1}, r"'gap_days' parameter .* an int in the range \[0,"),
        ({"n_splits": 2, "test_days": 1.5}, r"'test_days' parameter .* an int in the range \[1,"),
    ],
)
def test_walk_forward_refuses_impossible_folds(params, message):
    with pytest.raises(ValueError, match=message):
        list(WalkForwardSplit(**params).split(_grid_panel(12)))


def test_walk_forward_needs_enough_dates_for_the_default_windows():
    with pytest.raises(ValueError, match="needs at least"):
        list(WalkForwardSplit(n_splits=5).split(_grid_panel(5)))


# -- PurgedKFoldByDate --------------------------------------------------------------


def test_purged_k_fold_blocks_purge_and_embargo():
    X = _grid_panel(10, n_instruments=2)
    folds = _fold_days(X, PurgedKFoldByDate(n_splits=3, purge_days=2, embargo_days=1))
    assert [list(test) for _, test in folds] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert [list(train) for train, _ in folds] == [[5, 6, 7, 8, 9], [0, 1, 8, 9], [0, 1, 2, 3, 4]]
    assert PurgedKFoldByDate(n_splits=3).get_n_splits(X) == 3


def test_purged_k_fold_refuses_impossible_folds():
    with pytest.raises(ValueError, match="needs at least 5 dates"):
        list(PurgedKFoldByDate(n_splits=5).split(_grid_panel(4)))
    with pytest.raises(ValueError, match="no training date"):
        list(PurgedKFoldByDate(n_splits=2, purge_days=3).split(_grid_panel(6)))
    with pytest.raises(ValueError, match=r"'n_splits' parameter .* an int in the range \[2,"):
        PurgedKFoldByDate(n_splits=1).get_n_splits()


# -- properties over random panels ------------------------------------------------


@st.composite
def _random_panels(draw):
    """A panel of random dates with 1-4 random instruments each, rows shuffled."""
    n_dates = draw(st.integers(1, 30))
    offsets = np.cumsum(draw(st.lists(st.integers(1, 4), min_size=n_dates, max_size=n_dates)))
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(offsets, unit="D")
    keys = [
        (date, name)
        for date in dates
        for name in draw(st.sets(st.sampled_from("ABCD"), min_size=1, max_size=4))
    ]
    order = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(len(keys))
    return _panel(*zip(*[keys[i] for i in order])), n_dates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=_random_panels(),
    n_splits=st.integers(1, 4),
    test_days=st.none() | st.integers(1, 6),
    train_days=st.none() | st.integers(1, 8),
    expanding=st.booleans(),
    gap_days=st.integers(0, 3),
)
def test_walk_forward_properties(data, n_splits, test_days, train_days, expanding, gap_days):
    X, n_dates = data
    cv = WalkForwardSplit(
        n_splits, test_days=test_days, train_days=train_days, expanding=expanding, gap_days=gap_days
    )
    size = test_days if test_days is not None else n_dates // (n_splits + 1)
    feasible = size >= 1 and n_dates - n_splits * size - gap_days >= (train_days or 1)
    if not feasible:
        with pytest.raises(ValueError, match="needs at least"):
            list(cv.split(X))
        return
    folds = _fold_days(X, cv)
    assert len(folds) == n_splits
    tests = np.concatenate([test for _, test in folds])
    # Consecutive test windows of equal length, the last ending on the last date.
    np.testing.assert_array_equal(tests, np.arange(n_dates - n_splits * size, n_dates))
    for train, test in folds:
        assert len(test) == size
        assert test[0] - train[-1] - 1 == gap_days  # exactly the gap, nothing overlaps
        np.testing.assert_array_equal(train, np.arange(train[0], train[-1] + 1))
    lengths = {len(train) for train, _ in folds}
    starts = {train[0] for train, _ in folds}
    assert len(lengths if not expanding else starts) == 1
    if train_days is not None:
        assert len(folds[0][0]) == train_days


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=_random_panels(),
    n_splits=st.integers(2, 5),
    purge_days=st.integers(0, 3),
    embargo_days=st.integers(0, 3),
)
def test_purged_k_fold_properties(data, n_splits, purge_days, embargo_days):
    X, n_dates = data
    cv = PurgedKFoldByDate(n_splits, purge_days=purge_days, embargo_days=embargo_days)
    try:
        folds = _fold_days(X, cv)
    except ValueError as error:
        assert "needs at least" in str(error) or "no training date" in str(error)
        return
    assert len(folds) == n_splits
    # The test blocks partition the dates into contiguous blocks of near-equal size.
    np.testing.assert_array_equal(np.concatenate([test for _, test in folds]), np.arange(n_dates))
    assert max(len(t) for _, t in folds) - min(len(t) for _, t in folds) <= 1
    for train, test in folds:
        excluded = np.arange(test[0] - purge_days, test[-1] + embargo_days + 1)
        expected = np.setdiff1d(np.arange(n_dates), excluded)
        np.testing.assert_array_equal(train, expected)


@pytest.mark.parametrize(("n_days", "valid", "gap"), [(10, 3, 1), (30, 6, 2), (8, 1, 0)])
def test_one_walk_forward_fold_is_the_estimators_validation_split(n_days, valid, gap):
    # Same gap convention as the estimator's own validation split.
    expected = DateValidSplit(valid_size=valid, gap_days=gap).split_days(n_days)
    [fold] = WalkForwardSplit(1, test_days=valid, gap_days=gap).split_days(n_days)
    for got, want in zip(fold, expected):
        np.testing.assert_array_equal(got, want)


def test_validation_splits_are_re_exported():
    import igmtf_sklearn
    from igmtf_sklearn import nets

    assert DateValidSplit is igmtf_sklearn.DateValidSplit is nets.DateValidSplit
    assert ExplicitValidation is igmtf_sklearn.ExplicitValidation is nets.ExplicitValidation
