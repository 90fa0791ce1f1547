"""Tests of igmtf_sklearn.preprocessing: sklearn conventions, Alpha360 and the label, against Qlib.

Every reference below is the slow, obvious version of what Qlib computes: a
per-instrument loop with pandas ``shift`` for Alpha360 and the label. The
panels built here also serve test_preprocessing_norms.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    parametrize_with_checks,
)

from igmtf_sklearn.preprocessing import (
    Alpha360,
    CSGaussRankNorm,
    CSRankNorm,
    CSZScoreNorm,
    Fillna,
    RobustZScoreNorm,
    cs_rank_norm,
    forward_return,
)

OHLCV = ["open", "high", "low", "close", "volume"]
# Alpha360's field order when the panel has no vwap (as the shared CSI 300 data).
OHLCV_QLIB_ORDER = ["close", "open", "high", "low", "volume"]


# --------------------------------------------------------------------------- panels


def make_panel(n_days=12, vwap=True, seed=0):
    """A small OHLCV panel with the awkward cases of real data.

    - ``AAA`` trades every day;
    - ``BBB`` enters on day 4 (late listing / index entry);
    - ``CCC`` has a gap (days 3-6 missing, e.g. a suspension) and a NaN close;
    - ``DDD`` leaves after day 7 and has a zero-volume day;
    - ``EEE`` trades a single day.
    """
    days = pd.date_range("2021-01-04", periods=n_days, freq="B")
    present = {
        "AAA": range(n_days),
        "BBB": range(4, n_days),
        "CCC": [d for d in range(n_days) if not 3 <= d <= 6],
        "DDD": range(8),
        "EEE": [5],
    }
    keys = sorted((days[d], inst) for inst, ds in present.items() for d in ds)
    index = pd.MultiIndex.from_tuples(keys, names=["datetime", "instrument"])
    rng = np.random.default_rng(seed)
    n = len(index)
    close = (10 + rng.standard_normal(n)).astype(np.float32)
    frame = pd.DataFrame(
        {
            "open": close * rng.uniform(0.97, 1.03, n),
            "high": close * rng.uniform(1.0, 1.05, n),
            "low": close * rng.uniform(0.95, 1.0, n),
            "close": close,
            "volume": rng.uniform(1e5, 1e7, n),
        },
        index=index,
    ).astype(np.float32)
    if vwap:
        frame["vwap"] = (close * rng.uniform(0.98, 1.02, n)).astype(np.float32)
    frame.loc[(days[8], "CCC"), "close"] = np.nan
    frame.loc[(days[2], "DDD"), "volume"] = 0.0
    return frame


def random_panel(n_days=40, n_instruments=25, keep=0.8, seed=1):
    """A larger panel where each instrument misses random days."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", periods=n_days, freq="B")
    insts = [f"S{i:03d}" for i in range(n_instruments)]
    full = pd.MultiIndex.from_product([days, insts], names=["datetime", "instrument"])
    index = full[rng.random(len(full)) < keep]
    values = rng.lognormal(2, 0.3, size=(len(index), 5)).astype(np.float32)
    return pd.DataFrame(values, index=index, columns=OHLCV)


# --------------------------------------------------------------------------- references


def alpha360_reference(panel, window, fields):
    """Qlib's Alpha360 expressions, one instrument and one lag at a time."""
    parts = []
    for _, rows in panel.groupby(level="instrument", sort=False):
        rows = rows.sort_index()
        columns = {}
        for field in fields:
            if field == "volume":
                denominator = rows["volume"] + np.float32(1e-12)
            else:
                denominator = rows["close"]
            for lag in range(window - 1, -1, -1):
                columns[f"{field.upper()}{lag}"] = rows[field].shift(lag) / denominator
        parts.append(pd.DataFrame(columns, index=rows.index))
    return pd.concat(parts).sort_index()


def label_reference(panel, horizon, shift):
    """``Ref($close, -(shift + horizon)) / Ref($close, -shift) - 1`` per instrument."""
    by_instrument = panel["close"].groupby(level="instrument")
    return by_instrument.shift(-(shift + horizon)) / by_instrument.shift(-shift) - np.float32(1)


# --------------------------------------------------------------------------- sklearn checks


@parametrize_with_checks(
    [RobustZScoreNorm(), RobustZScoreNorm(clip_outlier=False), Fillna(), Fillna(fill_value=-1.5)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [Alpha360(), CSZScoreNorm(), CSRankNorm(), CSGaussRankNorm()])
def test_panel_transformers_follow_sklearn_conventions(estimator):
    # The data-driven checks need arrays; these ones only need the constructor.
    name = type(estimator).__name__
    check_parameters_default_constructible(name, estimator)
    check_no_attributes_set_in_init(name, estimator)
    check_get_params_invariance(name, estimator)
    check_set_params(name, estimator)


# --------------------------------------------------------------------------- Alpha360


@pytest.mark.parametrize("window", [1, 3, 6])
@pytest.mark.parametrize("vwap", [True, False])
def test_alpha360_matches_qlib(window, vwap):
    panel = make_panel(vwap=vwap)
    alpha = Alpha360(window=window).fit(panel)
    fields = ["close", "open", "high", "low", "vwap", "volume"] if vwap else OHLCV_QLIB_ORDER
    expected = alpha360_reference(panel, window, fields)
    got = alpha.transform(panel)
    # A panel comes back as a panel, so the next pipeline steps keep the index.
    assert isinstance(got, pd.DataFrame) and got.index.equals(panel.index)
    assert (got.dtypes == np.float32).all()
    assert got.shape == (len(panel), len(fields) * window)
    assert list(alpha.get_feature_names_out()) == list(expected.columns)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_alpha360_matches_qlib_on_random_panel():
    panel = random_panel()
    got = Alpha360(window=10).fit_transform(panel)
    np.testing.assert_array_equal(got, alpha360_reference(panel, 10, OHLCV_QLIB_ORDER))


def test_alpha360_history_and_gaps():
    panel = make_panel(vwap=False)
    out = Alpha360(window=3).set_output(transform="pandas").fit_transform(panel)
    day = panel.index.get_level_values("datetime").unique()
    # BBB's first row has no history; its third row has two earlier rows.
    assert out.loc[(day[4], "BBB"), ["CLOSE2", "CLOSE1"]].isna().all()
    assert out.loc[(day[6], "BBB"), ["CLOSE2", "CLOSE1"]].notna().all()
    # After its gap, CCC's lag 1 is its last trading day before the gap (day 2).
    expected = panel.loc[(day[2], "CCC"), "close"] / panel.loc[(day[7], "CCC"), "close"]
    assert out.loc[(day[7], "CCC"), "CLOSE1"] == pytest.approx(expected)
    # CLOSE0 is 1 wherever close is known; NaN close gives NaN prices.
    assert (out["CLOSE0"].dropna() == 1).all()
    assert out.loc[(day[8], "CCC")].filter(like="OPEN").isna().all()
    # A zero-volume day divides by 1e-12 instead of 0, as Qlib does.
    assert out.loc[(day[2], "DDD"), "VOLUME0"] == 0
    assert out.loc[(day[2], "DDD"), "VOLUME1"] > 1e15


def test_alpha360_fields_and_attributes():
    alpha = Alpha360(window=4).fit(make_panel(vwap=False))
    assert alpha.fields_ == OHLCV_QLIB_ORDER
    assert (alpha.d_feat_, alpha.seq_len_) == (5, 4)
    names = alpha.get_feature_names_out()
    assert len(names) == 20
    assert list(names[:4]) == ["CLOSE3", "CLOSE2", "CLOSE1", "CLOSE0"]
    assert list(names[-4:]) == ["VOLUME3", "VOLUME2", "VOLUME1", "VOLUME0"]
    assert Alpha360().fit(make_panel()).d_feat_ == 6


def test_alpha360_explicit_fields_keep_their_order():
    panel = make_panel()
    alpha = Alpha360(window=2, fields=["volume", "open"]).fit(panel)
    assert list(alpha.get_feature_names_out()) == ["VOLUME1", "VOLUME0", "OPEN1", "OPEN0"]
    expected = alpha360_reference(panel, 2, ["volume", "open"])
    np.testing.assert_array_equal(alpha.transform(panel), expected.to_numpy())


def test_alpha360_is_stateless():
    # Transforming another panel equals fitting on it: nothing is learned from rows.
    alpha = Alpha360(window=3).fit(make_panel(seed=0))
    other = make_panel(seed=5)
    np.testing.assert_array_equal(alpha.transform(other), Alpha360(window=3).fit_transform(other))


def test_alpha360_pandas_output_keeps_index():
    panel = make_panel()
    alpha = Alpha360(window=2).set_output(transform="pandas")
    out = alpha.fit_transform(panel)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(panel.index)
    assert list(out.columns) == list(alpha.get_feature_names_out())
    assert (out.dtypes == np.float32).all()


def test_alpha360_accepts_float64_and_extra_columns():
    panel = make_panel(vwap=False).astype(np.float64)
    panel["factor"] = 1.0
    got = Alpha360(window=2).fit_transform(panel)
    expected = alpha360_reference(panel.astype(np.float32), 2, OHLCV_QLIB_ORDER)
    np.testing.assert_array_equal(got, expected.to_numpy())


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.ones((3, 5)), TypeError, "pandas DataFrame"),
        (make_panel()["close"], TypeError, "got a Series"),
        (make_panel().reset_index(), ValueError, "MultiIndex"),
        (make_panel().sort_index(ascending=False), ValueError, "not sorted"),
        (make_panel().swaplevel(), ValueError, r"\(instrument, datetime\)"),
        (make_panel().drop(columns="close"), ValueError, "no 'close' column"),
        (make_panel().assign(open="x"), ValueError, "'open' has dtype"),
    ],
)
def test_alpha360_rejects_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        Alpha360().fit(X)


def test_alpha360_rejects_bad_params():
    panel = make_panel(vwap=False)
    with pytest.raises(ValueError, match="distinct names"):
        Alpha360(fields=["close", "turnover"]).fit(panel)
    with pytest.raises(ValueError, match="lacks the requested"):
        Alpha360(fields=["close", "vwap"]).fit(panel)
    with pytest.raises(InvalidParameterError, match="window"):
        Alpha360(window=0).fit(panel)


def test_alpha360_checks_columns_at_transform():
    alpha = Alpha360().fit(make_panel())
    with pytest.raises(ValueError, match="feature names"):
        alpha.transform(make_panel(vwap=False))


# --------------------------------------------------------------------------- label


@pytest.mark.parametrize("horizon, shift", [(1, 1), (1, 0), (5, 1), (2, 3)])
def test_forward_return_matches_qlib(horizon, shift):
    panel = make_panel()
    label = forward_return(panel, horizon=horizon, shift=shift)
    assert label.name == "LABEL0"
    assert label.dtype == np.float32
    assert label.index.equals(panel.index)
    expected = label_reference(panel, horizon, shift)
    np.testing.assert_array_equal(label.to_numpy(), expected.to_numpy())


def test_forward_return_default_is_qlib_label():
    panel = random_panel()
    close = panel["close"].groupby(level="instrument")
    # Qlib: Ref($close, -2) / Ref($close, -1) - 1
    expected = close.shift(-2) / close.shift(-1) - np.float32(1)
    np.testing.assert_array_equal(forward_return(panel["close"]), expected)
    # Each instrument's last two rows have no label.
    assert forward_return(panel).groupby(level="instrument").tail(2).isna().all()


def test_forward_return_rejects_bad_input():
    with pytest.raises(ValueError, match="no 'close' column"):
        forward_return(make_panel().drop(columns="close"))
    with pytest.raises(ValueError, match="MultiIndex"):
        forward_return(make_panel().reset_index())
    with pytest.raises(ValueError, match="numeric"):
        forward_return(make_panel().assign(close="x"))
    with pytest.raises(InvalidParameterError, match="horizon"):
        forward_return(make_panel(), horizon=0)


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_data_slice(data_dir):
    from igmtf_sklearn.datasets import load_qlib

    panel = load_qlib(data_dir, "csi300", "2020-01-01", "2020-04-30")
    alpha = Alpha360(window=20).set_output(transform="pandas")
    features = alpha.fit_transform(panel)
    assert alpha.d_feat_ == 5  # the shared data has no vwap
    assert features.shape == (len(panel), 100)
    assert features.index.equals(panel.index)
    # Qlib's formulas on a handful of instruments.
    some = panel.index.get_level_values("instrument").unique()[:5]
    subset = panel[panel.index.get_level_values("instrument").isin(some)]
    expected = alpha360_reference(subset, 20, OHLCV_QLIB_ORDER)
    np.testing.assert_array_equal(features.loc[subset.index].to_numpy(), expected.to_numpy())
    # The usual processing chain gives finite, clipped float32 features.
    processed = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas")
    out = processed.fit_transform(features)
    assert out.index.equals(panel.index) and (out.dtypes == np.float32).all()
    assert np.isfinite(out.to_numpy()).all() and np.abs(out.to_numpy()).max() <= 3
    label = cs_rank_norm(forward_return(panel))
    assert label.notna().mean() > 0.9
    assert label.abs().max() <= 1.73 + 1e-6
