"""Tests of igmtf_sklearn.backtest's TopK-Dropout backtest: the trades it makes, and its inputs.

The cases are small hand-checkable markets: a few instruments, a few days,
prices chosen so that each case exercises one trading rule (timing, dropout
order, price limits, suspensions). The numbers in the expectations are worked
out by hand in the comments. The helpers that build these markets serve
test_backtest_analysis.py too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igmtf_sklearn.backtest import to_qlib_pred, topk_dropout_backtest
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
# Inputs
# ---------------------------------------------------------------------------


def test_scores_frame_and_unsorted_input_are_accepted(panel_with_signal):
    panel, signal = panel_with_signal
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
