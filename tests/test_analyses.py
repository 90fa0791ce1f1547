"""The report's analyses, each against numbers worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.pipeline import Pipeline

from igmtf_sklearn.backtest import (
    group_mean_returns,
    hit_rate,
    portfolio_exposure,
    rolling_information_ratio,
    score_turnover,
    signal_analysis,
    yearly_analysis,
)
from igmtf_sklearn.metrics import ic_distribution, ic_qq, monthly_ic_table, training_curve


def _panel(values, dates, instruments):
    index = pd.MultiIndex.from_product(
        [pd.to_datetime(dates), instruments], names=["datetime", "instrument"]
    )
    return pd.Series(np.asarray(values, dtype=float), index=index)


def test_ic_distribution_by_hand():
    ic = pd.DataFrame({"IC": [0.1, 0.2, 0.3, -0.2], "Rank IC": [0.0, 0.1, np.nan, 0.2]})
    table = ic_distribution(ic)
    std = np.sqrt((0.0**2 + 0.1**2 + 0.2**2 + 0.3**2) / 3)  # deviations from the mean 0.1
    assert table.loc["mean", "IC"] == pytest.approx(0.1)
    assert table.loc["std", "IC"] == pytest.approx(std)
    assert table.loc["IR (mean / std)", "IC"] == pytest.approx(0.1 / std)
    assert table.loc["t-stat", "IC"] == pytest.approx(0.1 / std * 2)
    expected_p = stats.ttest_1samp([0.1, 0.2, 0.3, -0.2], 0.0).pvalue
    assert table.loc["p-value", "IC"] == pytest.approx(expected_p)
    assert table.loc["share > 0", "IC"] == 0.75
    # The NaN day is skipped: mean 0.1 and std 0.1 of three days.
    assert table.loc["days", "Rank IC"] == 3
    assert table.loc["std", "Rank IC"] == pytest.approx(0.1)
    assert table.loc["share > 0", "Rank IC"] == pytest.approx(2 / 3)


def test_ic_qq_by_hand():
    qq = ic_qq(pd.Series([0.3, np.nan, -0.1, 0.1]))
    # Mean 0.1, std 0.2; the normal quantiles at 1/6, 1/2 and 5/6.
    z = 0.9674216  # the standard normal quantile at 5/6
    np.testing.assert_allclose(qq["normal"], [0.1 - 0.2 * z, 0.1, 0.1 + 0.2 * z], atol=1e-7)
    np.testing.assert_allclose(qq["observed"], [-0.1, 0.1, 0.3])
    assert ic_qq(pd.Series([0.1, 0.1]))["normal"].isna().all()  # no spread: no normal law


def test_monthly_ic_table_by_hand():
    ic = pd.Series(
        [0.1, 0.3, np.nan, -0.2, 0.4],
        index=pd.to_datetime(
            ["2020-03-02", "2020-03-03", "2020-05-04", "2021-01-04", "2021-02-01"]
        ),
    )
    table = monthly_ic_table(ic)
    assert table.index.tolist() == [2020, 2021]
    assert table.columns[0] == "Jan" and table.columns[-1] == "Year" and len(table.columns) == 13
    assert table.loc[2020, "Mar"] == pytest.approx(0.2)
    assert np.isnan(table.loc[2020, "May"])  # its only day has no IC
    assert table.loc[2021, "Year"] == pytest.approx(0.1)  # the mean of the days


def test_hit_rate_by_hand():
    scores = _panel([1, 2, 3, 4, 1, 2, 3, np.nan], ["2020-01-02", "2020-01-03"], list("ABCD"))
    labels = _panel([0.1, -0.1, 0.2, 0.3, 3, 2, 1, 0.5], ["2020-01-02", "2020-01-03"], list("ABCD"))
    labels.iloc[2] = np.nan  # day 1: C has no label
    daily = hit_rate(scores, labels)
    # Day 1, rows A, B, D: score median 2, label median 0.1 -> A's label and B's score
    # lie on their medians (not counted), D is above both: 1 hit of 1 counted.
    # Day 2, rows A, B, C (D has no score): medians 2 and 2 -> A -/+, B on both, C +/-.
    assert daily["scored"].tolist() == [4, 3]
    assert daily["labelled"].tolist() == [3, 3]
    np.testing.assert_allclose(daily["hit rate"], [1.0, 0.0])


def test_score_turnover_by_hand():
    day1 = [6, 5, 4, 3, 2, 1]
    day2 = [6, 5, 3, 4, 2, 1]  # C and D swap places
    scores = _panel(day1 + day2, ["2020-01-02", "2020-01-03"], list("ABCDEF"))
    table = score_turnover(scores, n_groups=2)
    assert table.iloc[0].isna().all()
    # Spearman with one swapped pair: 1 - 6 * 2 / (6 * 35).
    assert table["rank autocorrelation"].iloc[1] == pytest.approx(1 - 12 / 210)
    # Group1 goes from {A, B, C} to {A, B, D}; Group2 from {D, E, F} to {C, E, F}.
    assert table["Group1 turnover"].iloc[1] == pytest.approx(1 / 3)
    assert table["Group2 turnover"].iloc[1] == pytest.approx(1 / 3)


def test_group_mean_returns_by_hand():
    groups = pd.DataFrame({"Group1": [0.01, 0.03, np.nan], "Group2": [0.0, -0.02, 0.02]})
    table = group_mean_returns(groups)
    assert table.loc["Group1", "mean"] == pytest.approx(0.02)
    assert table.loc["Group1", "std error"] == pytest.approx(np.sqrt(2e-4) / np.sqrt(2))
    assert table.loc["Group2", "std error"] == pytest.approx(0.02 / np.sqrt(3))
    assert table["days"].tolist() == [2, 3]


def test_yearly_analysis_by_hand():
    report = pd.DataFrame(
        {
            "return_gross": [0.02, -0.01, 0.03, 0.01],
            "cost": [0.001, 0.0, 0.001, 0.0],
            "bench": [0.01, 0.0, 0.01, 0.02],
        },
        index=pd.to_datetime(["2020-12-30", "2020-12-31", "2021-01-04", "2021-01-05"]),
    )
    yearly = yearly_analysis(report, N=4)
    assert yearly.loc[2020, "return"] == pytest.approx(0.009)
    assert yearly.loc[2020, "benchmark"] == pytest.approx(0.01)
    assert yearly.loc[2020, "excess, no cost"] == pytest.approx(0.0)
    assert yearly.loc[2020, "excess, with cost"] == pytest.approx(-0.001)
    # 2020's excess with cost: 0.009 then -0.01; the sum falls 0.01 below its peak.
    assert yearly.loc[2020, "max drawdown"] == pytest.approx(-0.01)
    # 2021's excess with cost: 0.019 then -0.01: mean 0.0045, std 0.0205061.
    excess = np.array([0.019, -0.01])
    assert yearly.loc[2021, "information ratio"] == pytest.approx(
        excess.mean() / excess.std(ddof=1) * 2
    )
    assert yearly["days"].tolist() == [2, 2]


def test_rolling_information_ratio_waits_for_a_full_window():
    excess = pd.DataFrame({"a": [0.01, 0.03, -0.01, 0.02]})
    ratio = rolling_information_ratio(excess, window=3, N=4)
    assert ratio["a"].iloc[:2].isna().all()
    # Days 0-2: mean 0.01, std 0.02 -> 0.5 * sqrt(4).
    assert ratio["a"].iloc[2] == pytest.approx(1.0)


def test_portfolio_exposure_by_hand():
    report = pd.DataFrame({"n_holdings": [0, 10], "cash": [100.0, 5.0], "value": [100.0, 50.0]})
    exposure = portfolio_exposure(report)
    assert exposure["holdings"].tolist() == [0, 10]
    np.testing.assert_allclose(exposure["cash share"], [1.0, 0.1])
    np.testing.assert_allclose(exposure["invested"], [0.0, 0.9])
    with pytest.raises(ValueError, match="topk_dropout_backtest"):
        portfolio_exposure(report.drop(columns="cash"))


def test_training_curve_reads_the_pretraining_then_the_model():
    gru = SimpleNamespace(
        history=[{"train_loss": 1.0, "valid_loss": 1.2, "valid_ic": 0.01, "dur": 1.0}] * 2
    )
    net = SimpleNamespace(
        pretrained_model_=gru,
        history=[{"train_loss": 0.9, "valid_loss": 1.1, "valid_ic": None, "dur": 2.0}],
    )
    net.get_params = lambda deep=True: {}  # enough for a Pipeline to hold it
    curve = training_curve(Pipeline([("model", net)]))
    assert curve["stage"].tolist() == ["pretraining", "pretraining", "training"]
    assert curve["epoch"].tolist() == [1, 2, 1]
    assert np.isnan(curve["valid IC"].iloc[2])
    assert training_curve(SimpleNamespace()).empty


def test_signal_analysis_carries_the_hit_rate_and_the_stability():
    rng = np.random.default_rng(0)
    scores = _panel(
        rng.normal(size=60), pd.bdate_range("2021-01-04", periods=6), list("ABCDEFGHIJ")
    )
    labels = scores * 0.5 + rng.normal(size=60)
    analysis = signal_analysis(scores, labels, ann_scaler=238)
    pd.testing.assert_frame_equal(analysis.hit_rate, hit_rate(scores, labels))
    pd.testing.assert_frame_equal(analysis.stability, score_turnover(scores))
    assert analysis.ann_scaler == 238
    ls = analysis.group_returns["long-short"]
    assert analysis.summary["Long-Short Ann Return"] == pytest.approx(ls.mean() * 238)
