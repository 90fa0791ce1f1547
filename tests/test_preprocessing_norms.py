"""Tests of igmtf_sklearn.preprocessing's norms against Qlib's formulas.

RobustZScoreNorm is checked against ``np.nanmedian`` on the whole matrix, as
Qlib computes it; Fillna against ``np.where``; the cross-sectional norms
(CSZScoreNorm, CSRankNorm, CSGaussRankNorm) against pandas ``groupby`` by day.
The panels come from test_preprocessing.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from test_preprocessing import make_panel, random_panel

from igmtf_sklearn.preprocessing import (
    Alpha360,
    CSGaussRankNorm,
    CSRankNorm,
    CSZScoreNorm,
    Fillna,
    RobustZScoreNorm,
    cs_gauss_rank_norm,
    cs_rank_norm,
    cs_zscore_norm,
    forward_return,
)

# Private modules, on purpose: a few tests shrink their block sizes so that small
# inputs cross the block boundaries that only large panels reach otherwise.
from igmtf_sklearn.preprocessing import _day_blocks, _normalize  # isort: skip


# --------------------------------------------------------------------------- references


def robust_reference(fit_X, X, clip_outlier):
    """Qlib's RobustZScoreNorm.fit and __call__, verbatim on the whole matrix."""
    mean_train = np.nanmedian(fit_X, axis=0)
    std_train = np.nanmedian(np.abs(fit_X - mean_train), axis=0)
    std_train += 1e-12
    std_train *= 1.4826
    X = X - mean_train
    X /= std_train
    return np.clip(X, -3, 3) if clip_outlier else X


def zscore_reference(obj):
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    out = frame.groupby(level="datetime", group_keys=False).apply(
        lambda day: (day - day.mean()).div(day.std())
    )
    return out.iloc[:, 0] if isinstance(obj, pd.Series) else out


def rank_reference(obj):
    t = obj.groupby(level="datetime").rank(pct=True)
    t -= 0.5
    t *= 3.46
    return t


def gauss_rank_reference(obj):
    # The normal quantile at the middle of each average rank's slot: (rank - 0.5) / n.
    ranks = obj.groupby(level="datetime").rank()
    counts = obj.groupby(level="datetime").transform("count")
    return ((ranks - 0.5) / counts).apply(scipy.stats.norm.ppf)


CS_NORMS = [
    (cs_zscore_norm, zscore_reference),
    (cs_rank_norm, rank_reference),
    (cs_gauss_rank_norm, gauss_rank_reference),
]
CS_CLASSES = {
    CSZScoreNorm: cs_zscore_norm,
    CSRankNorm: cs_rank_norm,
    CSGaussRankNorm: cs_gauss_rank_norm,
}


# --------------------------------------------------------------------------- RobustZScoreNorm


def _features(n_rows, n_cols, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n_rows, n_cols)).astype(dtype)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 1] = np.nan  # all-NaN column
    X[:, 2] = np.round(X[:, 2])  # ties
    X[:, 3] = 7.0  # zero MAD
    return X


# 700 rows take nanmedian's large-array path, 300 rows its small-array path;
# 40 columns span several median blocks.
@pytest.mark.parametrize("n_rows", [300, 700])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip_outlier", [True, False])
def test_robust_zscore_matches_qlib_exactly(n_rows, dtype, clip_outlier):
    X_fit, X = _features(n_rows, 40, seed=0, dtype=dtype), _features(200, 40, seed=1, dtype=dtype)
    norm = RobustZScoreNorm(clip_outlier=clip_outlier).fit(X_fit)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = robust_reference(X_fit, X, clip_outlier)
    got = norm.transform(X)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[:, 1]).all()
    assert np.array_equal(np.isnan(got), np.isnan(X))


def test_robust_zscore_copy_and_inplace():
    X = _features(50, 4)
    original = X.copy()
    norm = RobustZScoreNorm().fit(X)
    out = norm.transform(X)
    np.testing.assert_array_equal(X, original)
    inplace = RobustZScoreNorm(copy=False).fit(X).transform(X)
    assert inplace is X or np.shares_memory(inplace, X)
    np.testing.assert_array_equal(inplace, out)


def test_robust_zscore_pandas_output_keeps_panel_index():
    panel = Alpha360(window=3).set_output(transform="pandas").fit_transform(make_panel())
    out = RobustZScoreNorm().set_output(transform="pandas").fit_transform(panel)
    assert out.index.equals(panel.index)
    assert list(out.columns) == list(panel.columns)
    assert (out.dtypes == np.float32).all()


def test_robust_zscore_median_blocks(monkeypatch):
    # Small tiles and blocks exercise the block boundaries of the median code.
    monkeypatch.setattr(_normalize, "_MEDIAN_BLOCK_COLS", 3)
    monkeypatch.setattr(_normalize, "_TILE_ROWS", 64)
    X = _features(700, 10)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = robust_reference(X, X, True)
    np.testing.assert_array_equal(RobustZScoreNorm().fit_transform(X), expected)


# --------------------------------------------------------------------------- Fillna


def test_fillna_fills_only_nan():
    X = np.array([[1.0, np.nan], [np.nan, -2.0]], dtype=np.float32)
    out = Fillna(fill_value=-9).fit_transform(X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, -9], [-9, -2]])
    assert np.isnan(X).sum() == 2  # the input is untouched


def test_fillna_pandas_output_keeps_panel_index():
    panel = Alpha360(window=3).set_output(transform="pandas").fit_transform(make_panel())
    out = Fillna().set_output(transform="pandas").fit_transform(panel)
    assert out.index.equals(panel.index)
    assert not out.isna().any().any()
    pd.testing.assert_frame_equal(out, panel.fillna(0))


def test_fillna_in_place(monkeypatch):
    monkeypatch.setattr(_normalize, "_FILL_BLOCK_ROWS", 7)
    X = _features(50, 5)
    expected = np.where(np.isnan(X), np.float32(0), X)
    out = Fillna(copy=False).fit_transform(X)
    assert np.shares_memory(out, X)
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------- cross-section


def cs_panel(dtype=np.float64, seed=0):
    """Features with NaN, ties, a one-row day and an all-NaN day/column."""
    panel = random_panel(n_days=15, n_instruments=12, seed=seed)
    panel = panel.iloc[:, :3].astype(dtype).rename(columns=lambda c: f"F_{c}")
    rng = np.random.default_rng(seed)
    panel = panel.mask(rng.random(panel.shape) < 0.15)
    panel.iloc[::4, 1] = 1.5  # ties
    first_day = panel.index.get_level_values("datetime")[0]
    lone = pd.DataFrame(
        [[1.0, 2.0, 3.0]],
        columns=panel.columns,
        dtype=dtype,
        index=pd.MultiIndex.from_tuples(
            [(first_day - pd.Timedelta(days=3), "S000")], names=["datetime", "instrument"]
        ),
    )
    panel = pd.concat([lone, panel])
    day = panel.index.get_level_values("datetime")
    panel.loc[day == day.unique()[3], "F_high"] = np.nan
    return panel


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func, reference", CS_NORMS)
def test_cs_norms_match_pandas(func, reference, dtype):
    panel = cs_panel(dtype)
    got = func(panel)
    assert isinstance(got, pd.DataFrame)
    assert got.index.equals(panel.index) and got.columns.equals(panel.columns)
    assert (got.dtypes == dtype).all()
    expected = reference(panel.astype(np.float64))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("func, reference", CS_NORMS)
def test_cs_norms_on_label_series(func, reference):
    label = forward_return(random_panel())
    got = func(label)
    assert isinstance(got, pd.Series)
    assert got.name == "LABEL0" and got.dtype == np.float32
    assert got.index.equals(label.index)
    expected = reference(label.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("func", [func for func, _ in CS_NORMS])
def test_cs_norms_day_blocks(func, monkeypatch):
    # With tiny blocks, days are processed a few at a time; the result is the same.
    panel = cs_panel()
    expected = func(panel)
    monkeypatch.setattr(_day_blocks, "BLOCK_CELLS", 40)
    pd.testing.assert_frame_equal(func(panel), expected)


def test_cs_rank_norm_values():
    index = pd.MultiIndex.from_product(
        [pd.date_range("2020-01-01", periods=1), list("ABCDE")], names=["datetime", "instrument"]
    )
    got = cs_rank_norm(pd.Series([3.0, 1.0, np.nan, 1.0, 2.0], index=index))
    # ranks 4, 1.5, -, 1.5, 3 out of 4 valid values
    expected = (np.array([1.0, 0.375, np.nan, 0.375, 0.75]) - 0.5) * 3.46
    np.testing.assert_allclose(got, expected)


def test_cs_gauss_rank_norm_values():
    index = pd.MultiIndex.from_product(
        [pd.date_range("2020-01-01", periods=2), list("ABCDE")], names=["datetime", "instrument"]
    )
    y = pd.Series([3.0, 1.0, np.nan, 1.0, 2.0, 5.0, np.nan, np.nan, np.nan, np.nan], index=index)
    got = cs_gauss_rank_norm(y)
    # Day 1: ranks 4, 1.5, -, 1.5, 3 of 4 values; day 2: a lone value sits at the median.
    expected = scipy.stats.norm.ppf([3.5 / 4, 1 / 4, np.nan, 1 / 4, 2.5 / 4, 0.5])
    np.testing.assert_allclose(got.iloc[:6], expected)
    assert got.iloc[6:].isna().all()
    # The order of the day is the ranks' (so is any rank IC), the spread a normal's.
    big = forward_return(random_panel(n_days=3, n_instruments=400)).dropna()
    gauss, uniform = cs_gauss_rank_norm(big), cs_rank_norm(big)
    day = big.index.get_level_values("datetime")
    pd.testing.assert_series_equal(gauss.groupby(day).rank(), uniform.groupby(day).rank())
    assert gauss.abs().max() > 2.5 > uniform.abs().max()
    np.testing.assert_allclose(gauss.groupby(level="datetime").std(), 1, atol=0.02)


@pytest.mark.parametrize("cls", list(CS_CLASSES))
def test_cs_transformers(cls):
    panel = cs_panel(np.float32)
    func = CS_CLASSES[cls]
    norm = cls().fit(panel)
    assert norm.n_features_in_ == 3
    assert list(norm.get_feature_names_out()) == list(panel.columns)
    pd.testing.assert_frame_equal(norm.transform(panel), func(panel))
    # A Series stays a Series, whatever the output configuration.
    label = forward_return(random_panel())
    out = cls().set_output(transform="pandas").fit_transform(label)
    pd.testing.assert_series_equal(out, func(label))


@pytest.mark.parametrize("cls", list(CS_CLASSES))
def test_cs_transformers_work_unfitted(cls):
    # Stateless: transform needs no fit, and warns about nothing.
    label = forward_return(random_panel())
    func = CS_CLASSES[cls]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_series_equal(cls().transform(label), func(label))


@pytest.mark.parametrize("cls", list(CS_CLASSES))
def test_cs_transformers_in_pandas_pipeline(cls):
    panel = make_panel(vwap=False)
    pipe = make_pipeline(Alpha360(window=2), cls(), Fillna()).set_output(transform="pandas")
    out = pipe.fit_transform(panel)
    assert out.index.equals(panel.index)
    assert not out.isna().any().any()
    with pytest.raises(ValueError, match="not supported"):
        cls().set_output(transform="polars")


def test_cs_zscore_clip():
    panel = cs_panel()
    scores = CSZScoreNorm().fit_transform(panel)
    clipped = CSZScoreNorm(clip=0.5).fit_transform(panel)
    pd.testing.assert_frame_equal(clipped, scores.clip(-0.5, 0.5))
    assert scores.abs().max().max() > 0.5  # the clip did something
    with pytest.raises(InvalidParameterError, match="'clip' parameter"):
        CSZScoreNorm(clip=0).fit(panel)


@pytest.mark.parametrize("cls", list(CS_CLASSES))
def test_cs_transformers_reject_bad_input(cls):
    panel = cs_panel()
    with pytest.raises(TypeError, match="pandas DataFrame"):
        cls().fit(panel.to_numpy())
    with pytest.raises(ValueError, match="MultiIndex"):
        cls().fit(panel.reset_index(drop=True))
    with pytest.raises(ValueError, match="non-numeric"):
        cls().fit(panel.assign(name="x"))
    with pytest.raises(ValueError, match="duplicate"):
        cls().fit(pd.concat([panel.iloc[:2], panel.iloc[1:3]]))
    with pytest.raises(ValueError, match="feature names"):
        cls().fit(panel).transform(panel.rename(columns={"F_open": "other"}))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        cs_rank_norm(panel.to_numpy())


# --------------------------------------------------------------------------- pipeline


def test_pipeline_keeps_the_panel_index_without_set_output():
    panel = make_panel()
    pipe = make_pipeline(Alpha360(window=3), RobustZScoreNorm(), Fillna())
    out = pipe.fit_transform(panel)
    assert isinstance(out, pd.DataFrame) and out.index.equals(panel.index)
    assert list(out.columns) == list(pipe[0].get_feature_names_out())
    # Plain arrays keep scikit-learn's ndarray output.
    assert isinstance(Fillna().fit_transform(out.to_numpy()), np.ndarray)
