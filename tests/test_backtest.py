"""Tests of igmtf_sklearn.backtest: TopK-Dropout backtest, risk and signal analysis, Qlib interop.

The backtest cases are small hand-checkable markets: a few instruments, a few
days, prices chosen so that each case exercises one rule (timing, dropout
order, price limits, suspensions, costs, benchmark). The numbers in the
expectations are worked out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igmtf_sklearn.backtest import (
    SignalAnalysis,
    from_qlib_pred,
    group_returns,
    risk_analysis,
    signal_analysis,
    to_qlib_pred,
    topk_dropout_backtest,
)
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.metrics import daily_ic
from igmtf_sklearn.preprocessing import forward_return

# Settings that make every trade's arithmetic exact: no costs, all cash invested,
# no price limits.
FRICTIONLESS = dict(open_cost=0.0, close_cost=0.0, min_cost=0.0, risk_degree=1.0)


def make_ohlcv(closes: dict, start="2020-01-06", factor=None) -> pd.DataFrame:
    """A close-only panel; ``None`` leaves the row out (suspended), NaN keeps a NaN close."""
    n_days = len(next(iter(closes.values())))
    dates = pd.bdate_range(start, periods=n_days)
    rows = [
        (dates[d], code, value)
        for code, values in closes.items()
        for d, value in enumerate(values)
        if value is not None
    ]
    frame = pd.DataFrame(rows, columns=["datetime", "instrument", "close"])
    frame = frame.set_index(["datetime", "instrument"]).sort_index()
    if factor is not None:
        frame["factor"] = factor
    return frame


def make_scores(ohlcv: pd.DataFrame, by_day: dict) -> pd.Series:
    """Scores from ``{day number: {instrument: score}}`` on ``ohlcv``'s calendar."""
    dates = ohlcv.index.get_level_values(0).unique()
    rows = [(dates[d], code, s) for d, day in by_day.items() for code, s in day.items()]
    frame = pd.DataFrame(rows, columns=["datetime", "instrument", "score"])
    return frame.set_index(["datetime", "instrument"]).sort_index()["score"]


def held(positions: pd.DataFrame, ohlcv: pd.DataFrame, day: int) -> list:
    date = ohlcv.index.get_level_values(0).unique()[day]
    if date not in positions.index.get_level_values(0):
        return []
    return sorted(positions.loc[date].index)


def flat(n_days, value=10.0):
    return [value] * n_days


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def test_score_of_day_t_earns_the_label_of_day_t():
    # With one stock held, all cash invested and no friction, the row of day t + 2
    # is exactly the label close[t+2] / close[t+1] - 1 of the stock chosen on day t.
    rng = np.random.default_rng(0)
    closes = {c: list(10 * np.cumprod(1 + rng.normal(0, 0.02, 10))) for c in "ABCD"}
    ohlcv = make_ohlcv(closes)
    close = ohlcv["close"].groupby(level="instrument")
    label = close.shift(-2) / close.shift(-1) - 1  # forward_return, in float64
    np.testing.assert_allclose(label, forward_return(ohlcv), atol=1e-6)
    scores = label.dropna()  # the oracle: each day it picks the best next return
    report = topk_dropout_backtest(
        scores, ohlcv, topk=1, n_drop=1, limit_threshold=None, **FRICTIONLESS
    )
    dates = scores.index.get_level_values(0).unique()
    assert report.index.equals(pd.DatetimeIndex(dates, name="datetime"))
    # Row 0 has no earlier signal; row 1 buys at the close: neither earns anything.
    np.testing.assert_array_equal(report["return"].iloc[:2], 0.0)
    best = label.groupby(level="datetime").max()
    for t in range(len(dates) - 2):
        assert report["return"].iloc[t + 2] == pytest.approx(best.iloc[t], rel=1e-12)


# ---------------------------------------------------------------------------
# Dropout order
# ---------------------------------------------------------------------------


def dropout_market():
    ohlcv = make_ohlcv({c: flat(6) for c in "ABCDEF"})
    scores = make_scores(
        ohlcv,
        {
            0: dict(A=6, B=5, C=4, D=3, E=2, F=1),
            1: dict(D=7, A=6, B=5, E=4, C=3, F=1),
            2: dict(A=6, B=5, D=4, E=3, C=2, F=1),
            3: dict(A=6, D=5, E=4, C=3, F=1),  # B, held, has no score
            4: dict(A=6, B=5, C=4, D=3, E=2, F=1),
            5: dict(A=6, B=5, C=4, D=3, E=2, F=1),
        },
    )
    return ohlcv, scores


def test_dropout_sells_the_worst_holdings_and_buys_the_best_candidates():
    ohlcv, scores = dropout_market()
    _, positions = topk_dropout_backtest(
        scores, ohlcv, topk=3, n_drop=1, return_positions=True, **FRICTIONLESS
    )
    assert held(positions, ohlcv, 0) == []  # no signal before day 0
    assert held(positions, ohlcv, 1) == ["A", "B", "C"]  # the top 3 of day 0
    # Day 1's best non-held D (7) beats the worst holding C (3): swap them.
    assert held(positions, ohlcv, 2) == ["A", "B", "D"]
    # Day 2's best candidate E (3) is worse than every holding: nothing is sold.
    assert held(positions, ohlcv, 3) == ["A", "B", "D"]
    # A holding without a score (B on day 3) ranks last and is dropped for E.
    assert held(positions, ohlcv, 4) == ["A", "D", "E"]


def test_dropout_never_sells_a_holding_for_a_worse_candidate():
    # n_drop=2 on day 1: candidates D (7) and E (4); the pool's two worst are E and C,
    # and only C is held, so C alone is sold and one stock (D) bought.
    ohlcv, scores = dropout_market()
    report, positions = topk_dropout_backtest(
        scores, ohlcv, topk=3, n_drop=2, return_positions=True, **FRICTIONLESS
    )
    assert held(positions, ohlcv, 2) == ["A", "B", "D"]
    # Turnover of day 2: one third of the account sold, the same bought.
    assert report["turnover"].iloc[2] == pytest.approx(2 / 3)
    assert report["turnover"].iloc[1] == pytest.approx(1.0)


def test_n_drop_zero_keeps_the_first_portfolio():
    ohlcv, scores = dropout_market()
    report, positions = topk_dropout_backtest(
        scores, ohlcv, topk=3, n_drop=0, return_positions=True, **FRICTIONLESS
    )
    for day in range(1, 6):
        assert held(positions, ohlcv, day) == ["A", "B", "C"]
    np.testing.assert_array_equal(report["turnover"].iloc[2:], 0.0)


# ---------------------------------------------------------------------------
# Price limits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("forbid_all", [True, False])
def test_limit_up_blocks_buying(forbid_all):
    # A is the best stock but closes +10% on day 1: it cannot be bought until day 2.
    ohlcv = make_ohlcv({"A": [10, 11, 11, 11], "B": flat(4)})
    scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(4)})
    report, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        forbid_all_trade_at_limit=forbid_all,
        return_positions=True,
        **FRICTIONLESS,
    )
    assert held(positions, ohlcv, 1) == []
    assert report.loc[report.index[1], ["turnover", "cash"]].tolist() == [0.0, 1e8]
    assert held(positions, ohlcv, 2) == ["A"]


def test_limit_down_blocks_selling_but_the_buy_goes_through():
    # A is held; on day 2 the plan sells A for B, but A closes -10%: A stays, and B is
    # bought with the cash left (Qlib sizes buys before knowing which sales fail).
    ohlcv = make_ohlcv({"A": [10, 10, 9, 9], "B": flat(4)})
    scores = make_scores(ohlcv, {0: dict(A=2, B=1), 1: dict(A=1, B=2), 2: dict(A=1, B=2)})
    report, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        open_cost=0.0,
        close_cost=0.0,
        min_cost=0.0,
        risk_degree=0.5,
        return_positions=True,
    )
    assert held(positions, ohlcv, 2) == ["A", "B"]
    day1, day2 = ohlcv.index.get_level_values(0).unique()[1:3]
    # Day 1: half the 1e8 buys A; day 2: half of the other half buys B.
    assert positions.loc[(day1, "A"), "amount"] == pytest.approx(0.5e8 / 10)
    assert positions.loc[(day2, "A"), "amount"] == pytest.approx(0.5e8 / 10)
    assert positions.loc[(day2, "B"), "value"] == pytest.approx(0.25e8)
    assert report["n_holdings"].iloc[2] == 2


@pytest.mark.parametrize(("forbid_all", "sold"), [(True, False), (False, True)])
def test_limit_up_blocks_selling_only_when_all_trades_are_forbidden(forbid_all, sold):
    ohlcv = make_ohlcv({"A": [10, 10, 11, 11], "B": flat(4)})
    scores = make_scores(ohlcv, {0: dict(A=2, B=1), 1: dict(A=1, B=2), 2: dict(A=1, B=2)})
    _, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        forbid_all_trade_at_limit=forbid_all,
        return_positions=True,
        **FRICTIONLESS,
    )
    assert held(positions, ohlcv, 2) == (["B"] if sold else ["A"])  # no cash left for B


@pytest.mark.parametrize(("forbid_all", "bought"), [(True, False), (False, True)])
def test_limit_down_blocks_buying_only_when_all_trades_are_forbidden(forbid_all, bought):
    ohlcv = make_ohlcv({"A": [10, 9, 9, 9], "B": flat(4)})
    scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(4)})
    _, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        forbid_all_trade_at_limit=forbid_all,
        return_positions=True,
        **FRICTIONLESS,
    )
    assert held(positions, ohlcv, 1) == (["A"] if bought else [])


def test_moves_inside_the_threshold_and_no_threshold_trade():
    # +9% is inside the default 9.5% limit; with limit_threshold=None even +50% trades.
    for closes, threshold in (([10, 10.9, 10.9], 0.095), ([10, 15, 15], None)):
        ohlcv = make_ohlcv({"A": closes, "B": flat(3)})
        scores = make_scores(ohlcv, {d: dict(A=2, B=1) for d in range(3)})
        _, positions = topk_dropout_backtest(
            scores,
            ohlcv,
            topk=1,
            n_drop=1,
            limit_threshold=threshold,
            return_positions=True,
            **FRICTIONLESS,
        )
        assert held(positions, ohlcv, 1) == ["A"]


# ---------------------------------------------------------------------------
# Suspensions and delistings
# ---------------------------------------------------------------------------


def test_suspended_holding_keeps_its_last_close_and_cannot_be_sold():
    # A is bought at 10 on day 1, has no row on day 2 and a NaN close on day 3, then
    # comes back at 12 on day 4. The plan sells it from day 2 on (B scores higher).
    ohlcv = make_ohlcv({"A": [10, 10, None, np.nan, 12, 12], "B": flat(6)})
    scores = make_scores(ohlcv, {0: dict(A=2, B=1), **{d: dict(A=1, B=2) for d in range(1, 6)}})
    report, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        account=1000.0,
        limit_threshold=None,
        return_positions=True,
        **FRICTIONLESS,
    )
    # Day 2: the sale fails, B is bought with the (zero) cash left: nothing.
    assert held(positions, ohlcv, 2) == ["A"]
    assert held(positions, ohlcv, 3) == ["A"]
    np.testing.assert_allclose(report["return"].iloc[2:4], 0.0)
    assert report["value"].iloc[3] == pytest.approx(1000.0)
    # Day 4: A is back at 12 (+20% since its last close) and is sold for B.
    assert report["return"].iloc[4] == pytest.approx(0.2)
    assert held(positions, ohlcv, 4) == ["B"]


def test_suspended_candidate_is_not_bought():
    ohlcv = make_ohlcv({"A": [10, None, 10, 10], "B": [10, 10, np.nan, 10], "C": flat(4)})
    scores = make_scores(ohlcv, {d: dict(A=3, B=2, C=1) for d in range(4)})
    _, positions = topk_dropout_backtest(
        scores, ohlcv, topk=2, n_drop=1, return_positions=True, **FRICTIONLESS
    )
    # Day 1: A is suspended, so only B of the planned A, B is bought (half the cash).
    assert held(positions, ohlcv, 1) == ["B"]
    # Day 2: B (held, NaN close) stays; A is bought with the other half.
    assert held(positions, ohlcv, 2) == ["A", "B"]


@pytest.mark.parametrize("sell_delisted", [True, False])
def test_delisted_holding(sell_delisted):
    # A is held and has no row after day 2. B and C trade on; scores favour A, B, C.
    ohlcv = make_ohlcv({"A": [10, 10, 10, None, None, None], "B": flat(6), "C": flat(6)})
    scores = make_scores(
        ohlcv,
        {
            0: dict(A=3, B=2, C=1),
            1: dict(A=3, B=2, C=1),
            2: dict(B=2, C=1),
            3: dict(B=1, C=2),
            4: dict(B=1, C=2),
            5: dict(B=1, C=2),
        },
    )
    report, positions = topk_dropout_backtest(
        scores,
        ohlcv,
        topk=1,
        n_drop=1,
        account=1000.0,
        close_cost=0.01,
        open_cost=0.0,
        min_cost=0.0,
        risk_degree=1.0,
        sell_delisted=sell_delisted,
        return_positions=True,
    )
    if sell_delisted:
        # Day 3: A is cashed out at its last close (cost 1% of 1000), B bought with the rest.
        assert report["cost"].iloc[3] == pytest.approx(0.01)
        assert held(positions, ohlcv, 3) == ["B"]
        assert held(positions, ohlcv, 4) == ["C"]  # the strategy keeps rotating
    else:
        # Qlib: A stays forever and, ranking last, takes the only drop slot each day.
        assert held(positions, ohlcv, 3) == ["A"]  # no cash left to buy B
        assert held(positions, ohlcv, 5) == ["A"]
        assert report["value"].iloc[-1] == pytest.approx(1000.0)


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
# Accounting and inputs
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic():
    panel, signal = make_stock_panel(60, 150, return_signal=True, random_state=1)
    return panel, signal


def test_accounting_identities(synthetic):
    panel, signal = synthetic
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


def test_scores_frame_and_unsorted_input_are_accepted(synthetic):
    panel, signal = synthetic
    expected = topk_dropout_backtest(signal, panel, topk=5, n_drop=1)
    shuffled = signal.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(
        topk_dropout_backtest(shuffled, panel, topk=5, n_drop=1), expected
    )
    pred = to_qlib_pred(signal)
    pd.testing.assert_frame_equal(topk_dropout_backtest(pred, panel, topk=5, n_drop=1), expected)


def test_invalid_settings_are_listed_together():
    ohlcv = make_ohlcv({"A": flat(3)})
    scores = make_scores(ohlcv, {0: {"A": 1}})
    with pytest.raises(ValueError) as error:
        topk_dropout_backtest(scores, ohlcv, topk=0, n_drop=-1, open_cost=-0.1, account=0)
    message = str(error.value)
    for name in ("topk", "n_drop", "open_cost", "account"):
        assert name in message
    with pytest.raises(ValueError, match="trade_unit"):
        topk_dropout_backtest(scores, ohlcv, trade_unit=0)


def test_score_days_missing_from_ohlcv_are_refused():
    ohlcv = make_ohlcv({"A": flat(3)})
    scores = make_scores(ohlcv, {0: {"A": 1}})
    late = pd.Series(
        [1.0], index=pd.MultiIndex.from_tuples([(pd.Timestamp("2030-01-02"), "A")])
    ).rename_axis(["datetime", "instrument"])
    with pytest.raises(ValueError, match="ohlcv has no row"):
        topk_dropout_backtest(pd.concat([scores, late]), ohlcv)
    with pytest.raises(ValueError, match="no 'close' column"):
        topk_dropout_backtest(scores, ohlcv.rename(columns={"close": "px"}))


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


def test_signal_analysis_on_a_known_signal(synthetic):
    panel, signal = synthetic
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


def test_qlib_pred_round_trip(synthetic):
    _, signal = synthetic
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
