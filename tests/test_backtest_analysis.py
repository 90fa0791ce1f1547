"""Tests of igmtf_sklearn.backtest: costs, benchmark and accounting; risk and signal analysis; Qlib.

The cost and benchmark cases are small hand-checkable markets built with the
helpers of test_backtest.py, their numbers worked out by hand in the comments.
risk_analysis is checked by hand on a few returns, group_returns against a
pandas version of Qlib's code; the accounting identities and signal_analysis
also run on a synthetic panel with a known signal (``panel_with_signal``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_backtest import FRICTIONLESS, flat, make_ohlcv, make_scores

from igmtf_sklearn.backtest import (
    SignalAnalysis,
    from_qlib_pred,
    group_returns,
    risk_analysis,
    signal_analysis,
    to_qlib_pred,
    topk_dropout_backtest,
)
from igmtf_sklearn.metrics import daily_ic
from igmtf_sklearn.preprocessing import forward_return

# ---------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------


def cost_market():
    ohlcv = make_ohlcv({c: flat(4) for c in "ABC"})
    scores = make_scores(ohlcv, {0: dict(A=3, B=2, C=1), 1: dict(A=3, C=2, B=1), 2: {"A": 1}})
    return ohlcv, scores


def test_min_cost_binds_on_a_small_account():
    ohlcv, scores = cost_market()
    settings = dict(topk=2, n_drop=1, open_cost=0.001, close_cost=0.002, min_cost=5.0)
    report = topk_dropout_backtest(scores, ohlcv, account=1000.0, risk_degree=0.9, **settings).iloc[
        :3
    ]
    # Day 1: two buys of 0.9 * 1000 / 2 = 450; 0.1% of that is 0.45 < 5: 10 in all.
    assert report["cost"].iloc[1] == pytest.approx(10 / 1000)
    assert report["return"].iloc[1] == pytest.approx(-10 / 1000)
    assert report["return_gross"].iloc[1] == pytest.approx(0.0)
    assert report["turnover"].iloc[1] == pytest.approx(0.9)
    # Day 2: sell B (45 shares, 450; cost 5), cash 90 + 445 = 535; buy C for
    # 0.9 * 535 = 481.5 (cost 5). The previous value is 990.
    assert report["cost"].iloc[2] == pytest.approx(10 / 990)
    assert report["turnover"].iloc[2] == pytest.approx((450 + 481.5) / 990)
    assert report["cash"].iloc[2] == pytest.approx(535 - 481.5 - 5)


def test_cost_rates_apply_on_a_large_account():
    ohlcv, scores = cost_market()
    report = topk_dropout_backtest(
        scores, ohlcv, topk=2, n_drop=1, risk_degree=0.9, account=1e8
    ).iloc[:3]
    # Day 1: 0.9 of the account bought at 0.05%.
    assert report["cost"].iloc[1] == pytest.approx(0.9 * 0.0005)
    # Day 2: 0.45e8 sold at 0.15%, then 0.9 of the cash bought at 0.05%.
    sold = 0.45e8
    cash = 0.1e8 - 0.9e8 * 0.0005 + sold * (1 - 0.0015)
    expected = sold * 0.0015 + 0.9 * cash * 0.0005
    previous = report["value"].iloc[1]
    assert report["cost"].iloc[2] == pytest.approx(expected / previous)


def test_cash_shortfall_clips_the_last_buy():
    # All cash invested with min costs: the second buy of 500 + 5 no longer fits.
    ohlcv, scores = cost_market()
    _, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=2,
        n_drop=1,
        account=1000.0,
        risk_degree=1.0,
        open_cost=0.001,
        min_cost=5.0,
        return_positions=True,
    )
    day1 = positions.loc[ohlcv.index.get_level_values(0).unique()[1]]
    # A: 50 shares (500, cost 5); B gets (1000 - 505 - 5) / 10 = 49 shares.
    assert day1["amount"].tolist() == pytest.approx([50.0, 49.0])


def test_trade_unit_rounds_real_shares_with_the_factor():
    ohlcv = make_ohlcv({"A": flat(3, 30.0), "B": flat(3, 30.0)}, factor=2.0)
    scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(3)})
    common = dict(topk=1, n_drop=1, account=1e5, return_positions=True, **FRICTIONLESS)
    _, exact = topk_dropout_backtest(scores, ohlcv, **common)
    _, lots = topk_dropout_backtest(scores, ohlcv, trade_unit=100, **common)
    _, no_factor = topk_dropout_backtest(
        scores, ohlcv.drop(columns="factor"), trade_unit=100, **common
    )
    # 1e5 / 30 = 3333.3 adjusted shares = 6666.7 real ones -> 6600 real = 3300 adjusted.
    assert exact["amount"].iloc[0] == pytest.approx(1e5 / 30)
    assert lots["amount"].iloc[0] == pytest.approx(3300.0)
    assert no_factor["amount"].iloc[0] == pytest.approx(3300.0)  # 3333.3 -> 3300


# ---------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------


def test_benchmark_from_an_instrument_of_the_panel():
    ohlcv = make_ohlcv({"A": flat(4), "B": flat(4), "IDX": [100, 101, 99, 99]})
    # Scores start on day 1, so day 1's benchmark return looks back at day 0.
    scores = make_scores(ohlcv, {d: dict(A=2, B=1, IDX=9) for d in range(1, 4)})
    report, positions = topk_dropout_backtest(
        scores, ohlcv, topk=1, n_drop=1, benchmark="IDX", return_positions=True
    )
    np.testing.assert_allclose(report["bench"], [0.01, 99 / 101 - 1, 0.0])
    assert "IDX" not in positions.index.get_level_values(1)  # the index is never traded


def test_benchmark_as_a_series_and_none():
    ohlcv = make_ohlcv({"A": flat(4), "B": flat(4)})
    scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(4)})
    dates = ohlcv.index.get_level_values(0).unique()
    bench = pd.Series([0.01, 0.02], index=dates[[0, 2]])
    report = topk_dropout_backtest(scores, ohlcv, topk=1, n_drop=1, benchmark=bench)
    np.testing.assert_allclose(report["bench"], [0.01, 0.0, 0.02, 0.0])
    report = topk_dropout_backtest(scores, ohlcv, topk=1, n_drop=1)
    np.testing.assert_array_equal(report["bench"], 0.0)


def test_benchmark_errors():
    ohlcv = make_ohlcv({"A": flat(3), "B": flat(3)})
    scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(3)})
    with pytest.raises(ValueError, match="'SH000300' is not in ohlcv"):
        topk_dropout_backtest(scores, ohlcv, benchmark="SH000300")
    with pytest.raises(TypeError, match="'benchmark' parameter of topk_dropout_backtest must be"):
        topk_dropout_backtest(scores, ohlcv, benchmark=[0.01])
    far = pd.Series([0.01], index=pd.DatetimeIndex(["1999-01-04"]))
    with pytest.raises(ValueError, match="no return on any backtest day"):
        topk_dropout_backtest(scores, ohlcv, benchmark=far)


# ---------------------------------------------------------------------------
# Accounting
# ---------------------------------------------------------------------------


def test_accounting_identities(panel_with_signal):
    panel, signal = panel_with_signal
    report, positions = topk_dropout_backtest(
        signal, panel, topk=10, n_drop=2, account=1e6, return_positions=True
    )
    np.testing.assert_allclose(report["return_gross"] - report["cost"], report["return"])
    np.testing.assert_allclose(1e6 * (1 + report["return"]).cumprod(), report["value"])
    by_day = positions.groupby(level="datetime")
    np.testing.assert_allclose(
        by_day["value"].sum() + report["cash"].loc[by_day.size().index],
        report["value"].loc[by_day.size().index],
    )
    counts = by_day.size().reindex(report.index, fill_value=0)
    np.testing.assert_array_equal(counts, report["n_holdings"])
    assert (report["turnover"] >= 0).all() and (report["cost"] >= 0).all()
    assert report.columns.tolist()[:5] == ["return", "return_gross", "cost", "turnover", "bench"]


# ---------------------------------------------------------------------------
# Risk analysis
# ---------------------------------------------------------------------------


def test_risk_analysis_sum_mode_by_hand():
    r = pd.Series([0.01, -0.02, 0.03, -0.01])
    risk = risk_analysis(r)
    mean = 0.0025
    std = np.sqrt(((0.0075**2) + (0.0225**2) + (0.0275**2) + (0.0125**2)) / 3)
    assert risk["mean"] == pytest.approx(mean)
    assert risk["std"] == pytest.approx(std)
    assert risk["annualized_return"] == pytest.approx(mean * 238)
    assert risk["information_ratio"] == pytest.approx(mean / std * np.sqrt(238))
    # Cumulative sums 0.01, -0.01, 0.02, 0.01: the deepest fall from a peak is 0.02.
    assert risk["max_drawdown"] == pytest.approx(-0.02)
    assert risk.index.tolist() == [
        "mean",
        "std",
        "annualized_return",
        "information_ratio",
        "max_drawdown",
    ]


def test_risk_analysis_product_mode_by_hand():
    r = pd.Series([0.10, -0.10, 0.05])
    risk = risk_analysis(r, mode="product")
    growth = 1.1 * 0.9 * 1.05  # 1.0395
    logs = np.log([1.1, 0.9, 1.05])
    assert risk["mean"] == pytest.approx(growth ** (1 / 3) - 1)
    assert risk["std"] == pytest.approx(np.std(logs, ddof=1))
    assert risk["annualized_return"] == pytest.approx(growth ** (238 / 3) - 1)
    assert risk["information_ratio"] == pytest.approx(
        (growth ** (1 / 3) - 1) / np.std(logs, ddof=1) * np.sqrt(238)
    )
    # Curve 1.1, 0.99, 1.0395: the drawdown from 1.1 to 0.99 is -10%.
    assert risk["max_drawdown"] == pytest.approx(-0.1)


def test_risk_analysis_frequency_and_inputs():
    r = pd.Series([0.01, 0.03, np.nan])
    assert risk_analysis(r, freq="week")["annualized_return"] == pytest.approx(0.02 * 50)
    assert risk_analysis(r, freq="month")["annualized_return"] == pytest.approx(0.02 * 12)
    assert risk_analysis(r, N=252)["annualized_return"] == pytest.approx(0.02 * 252)
    assert risk_analysis(r.to_frame())["mean"] == pytest.approx(0.02)
    assert risk_analysis([0.01, 0.03])["mean"] == pytest.approx(0.02)
    minute = risk_analysis(r, freq="5min")["annualized_return"]
    assert minute == pytest.approx(0.02 * 240 * 238 / 5)
    with pytest.raises(ValueError, match="mode"):
        risk_analysis(r, mode="log")
    with pytest.raises(ValueError, match="not a frequency"):
        risk_analysis(r, freq="fortnight")
    with pytest.raises(ValueError, match="N"):
        risk_analysis(r, N=0)
    assert risk_analysis(pd.Series([], dtype=float)).isna().all()


# ---------------------------------------------------------------------------
# Signal analysis
# ---------------------------------------------------------------------------


def qlib_group_return(scores, labels, n_groups):
    """Qlib's ``_group_return`` with pandas (stable sort for the ties of the test)."""
    frame = pd.DataFrame({"score": scores, "label": labels}).dropna(subset=["score"])
    frame = frame.reset_index().sort_values(
        ["datetime", "score", "instrument"], ascending=[True, False, True]
    )
    out = {}
    for g in range(n_groups):
        out[f"Group{g + 1}"] = frame.groupby("datetime")["label"].apply(
            lambda x, g=g: x.iloc[len(x) // n_groups * g : len(x) // n_groups * (g + 1)].mean()
        )
    result = pd.DataFrame(out)
    result["long-short"] = result["Group1"] - result[f"Group{n_groups}"]
    result["long-average"] = result["Group1"] - frame.groupby("datetime")["label"].mean()
    return result.dropna(how="all")


@pytest.fixture(scope="module")
def signal_panel():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2021-01-01", periods=45)
    index = pd.MultiIndex.from_product(
        [dates, [f"S{i:02d}" for i in range(23)]], names=["datetime", "instrument"]
    )
    index = index[rng.random(len(index)) > 0.15]  # uneven days
    scores = pd.Series(np.round(rng.normal(size=len(index)), 1), index=index)  # ties
    labels = pd.Series(0.3 * scores.to_numpy() + rng.normal(size=len(index)), index=index)
    labels[rng.random(len(index)) < 0.1] = np.nan
    scores[rng.random(len(index)) < 0.05] = np.nan
    labels[labels.index.get_level_values(0) == dates[-1]] = np.nan  # a day without labels
    return scores, labels


@pytest.mark.parametrize("n_groups", [2, 5])
def test_group_returns_match_a_pandas_reference(signal_panel, n_groups):
    scores, labels = signal_panel
    got = group_returns(scores, labels, n_groups=n_groups)
    expected = qlib_group_return(scores, labels, n_groups)
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_freq=False)


def test_signal_analysis_ic_and_monthly_means(signal_panel):
    scores, labels = signal_panel
    analysis = signal_analysis(scores, labels)
    assert isinstance(analysis, SignalAnalysis)
    both = pd.DataFrame({"s": scores, "l": labels}).dropna()
    ic = both.groupby(level="datetime").apply(lambda d: d["s"].corr(d["l"]))
    rank_ic = both.groupby(level="datetime").apply(lambda d: d["s"].corr(d["l"], method="spearman"))
    np.testing.assert_allclose(analysis.ic["IC"], ic, rtol=1e-10)
    np.testing.assert_allclose(analysis.ic["Rank IC"], rank_ic, rtol=1e-10)
    monthly = ic.groupby(ic.index.to_period("M")).mean()
    np.testing.assert_allclose(analysis.monthly_ic["IC"], monthly)
    assert analysis.monthly_ic.index.name == "month"
    summary = analysis.summary
    assert summary["IC"] == pytest.approx(ic.mean())
    assert summary["ICIR"] == pytest.approx(ic.mean() / ic.std())
    ls = analysis.group_returns["long-short"]
    assert summary["Long-Short Ann Return"] == pytest.approx(ls.mean() * 252)
    assert summary["Long-Short Ann Sharpe"] == pytest.approx(ls.mean() / ls.std() * np.sqrt(252))


def test_signal_analysis_on_a_known_signal(panel_with_signal):
    panel, signal = panel_with_signal
    label = forward_return(panel)
    analysis = signal_analysis(to_qlib_pred(signal), label.to_frame())
    assert analysis.summary["IC"] == pytest.approx(daily_ic(label, signal).mean())
    # A real signal orders the groups: the best group earns more than the worst.
    means = analysis.group_returns.mean()
    assert means["Group1"] > means["Group5"] and means["long-short"] > 0


def test_signal_analysis_errors(signal_panel):
    scores, labels = signal_panel
    with pytest.raises(ValueError, match="n_groups"):
        group_returns(scores, labels, n_groups=1)
    other = labels.copy()
    other.index = other.index.set_levels(other.index.levels[1] + "X", level=1)
    with pytest.raises(ValueError, match="share no row"):
        signal_analysis(scores, other)


# ---------------------------------------------------------------------------
# Qlib interop
# ---------------------------------------------------------------------------


def test_qlib_pred_round_trip(panel_with_signal):
    _, signal = panel_with_signal
    pred = to_qlib_pred(signal.sample(frac=1.0, random_state=0))
    assert pred.columns.tolist() == ["score"]
    assert pred.index.names == ["datetime", "instrument"]
    assert pred.index.is_monotonic_increasing and pred["score"].dtype == np.float64
    back = from_qlib_pred(pred.swaplevel())  # an (instrument, datetime) pred is swapped back
    pd.testing.assert_series_equal(back, signal.astype(np.float64).rename("score"))
    with pytest.raises(TypeError, match="pandas Series"):
        to_qlib_pred(signal.to_numpy())
    with pytest.raises(ValueError, match="single-column"):
        to_qlib_pred(pd.DataFrame({"a": signal, "b": signal}))
