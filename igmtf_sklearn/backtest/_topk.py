"""Qlib's TopK-Dropout strategy, backtested day by day at the close.

The market is laid out once as dense ``(day, instrument)`` arrays (prices,
tradability, the signal each day trades on); the backtest then walks the days,
because each day's orders depend on the holdings the previous days left. Inside
a day every step is a numpy operation over instruments.

Timing (Qlib's): the score of day ``t`` is known after ``t``'s close and is
traded at the close of the next trading day ``t + 1``; the position then earns
``close[t + 2] / close[t + 1] - 1`` on day ``t + 2``, exactly the label
``forward_return`` gives day ``t``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._utils._panel import DATETIME, INSTRUMENT, check_panel_index, day_codes, day_slices

__all__ = ["topk_dropout_backtest"]

REPORT_COLUMNS = (
    "return",
    "return_gross",
    "cost",
    "turnover",
    "bench",
    "value",
    "cash",
    "n_holdings",
)
POSITION_COLUMNS = ("amount", "price", "value", "weight")

# Qlib treats a trade worth less than this as no trade (no cost, no position).
_MIN_TRADE_VALUE = 1e-5


@dataclass
class _Market:
    """Dense ``(day, instrument)`` view of what the backtest needs, on the backtest days."""

    dates: pd.DatetimeIndex
    instruments: pd.Index
    price: np.ndarray  # last known close (NaN before the first one)
    buyable: np.ndarray
    sellable: np.ndarray
    factor: np.ndarray | None  # Qlib's adjustment factor, only to round to trade units
    signal: np.ndarray  # score of the previous trading day, NaN where none
    has_signal: np.ndarray
    delisted: np.ndarray  # no close on this day nor any later day of ohlcv


@dataclass(frozen=True)
class _Costs:
    open_cost: float
    close_cost: float
    min_cost: float


def topk_dropout_backtest(
    scores,
    ohlcv,
    *,
    topk=50,
    n_drop=5,
    open_cost=0.0005,
    close_cost=0.0015,
    min_cost=5.0,
    account=1e8,
    limit_threshold=0.095,
    benchmark=None,
    risk_degree=0.95,
    trade_unit=None,
    forbid_all_trade_at_limit=True,
    sell_delisted=True,
    return_positions=False,
):
    """Backtest Qlib's TopK-Dropout strategy on a score panel, dealing at the close.

    Each trading day the strategy holds about ``topk`` stocks and replaces the
    ``n_drop`` worst of them, following Qlib's ``TopkDropoutStrategy`` (with
    ``method_sell="bottom"``, ``method_buy="top"``, ``only_tradable=False``):

    1. rank today's holdings by the signal, best first; a holding without a
       score ranks last (worst);
    2. take the ``n_drop + topk - n_held`` best-scored stocks not held as
       candidates;
    3. pool holdings and candidates, rank them by score and sell the holdings
       among the pool's ``n_drop`` worst (so a holding is never sold for a
       worse candidate);
    4. buy the first ``n_sold + topk - n_held`` candidates.

    Sales come first. The cash then available (the previous cash plus the
    sales' proceeds, less their costs) times ``risk_degree`` is split equally
    among the planned buys; holdings are never rebalanced, so their weights
    drift with prices, as in Qlib. Orders that cannot be dealt leave their
    share of cash idle that day.

    **Timing.** Day ``t``'s row trades at ``t``'s close on the scores of the
    previous trading day ``t - 1`` (of ``ohlcv``'s calendar), and its return is
    the change in account value from ``t - 1``'s close to ``t``'s. A stock
    scored on day ``t`` is thus bought at the close of ``t + 1`` and earns
    ``close[t + 2] / close[t + 1] - 1`` in the row of ``t + 2``: Qlib's label
    ``Ref($close, -2) / Ref($close, -1) - 1`` of day ``t`` (see
    :func:`~igmtf_sklearn.preprocessing.forward_return`). The rows run from the
    first to the last day of ``scores``; the first row trades nothing (no
    earlier signal) and what the last row buys is never held in the report, as
    in a Qlib backtest over the prediction segment.

    **Tradability.** A stock can be traded on a day only when it has a row
    with a finite close in ``ohlcv`` (otherwise it is suspended, or not listed;
    a held stock keeps its last close as value). Its change is ``close /
    previous close - 1``, the previous close being that of its previous row
    with one. With ``forbid_all_trade_at_limit=True`` (Qlib's default) a
    change ``>= limit_threshold`` (limit up) or ``<= -limit_threshold`` (limit
    down) blocks both buying and selling it that day; with ``False`` only
    buying at limit up and selling at limit down are blocked, as on the
    exchange.

    **Costs.** A buy costs ``max(value * open_cost, min_cost)``, a sale
    ``max(value * close_cost, min_cost)``, in currency, so ``account`` matters:
    the smaller the account, the heavier ``min_cost``.

    Parameters
    ----------
    scores : pandas.Series or pandas.DataFrame
        The signal on a ``(datetime, instrument)`` index, higher is better (a
        frame's ``score`` column, or its only column: Qlib's ``pred.pkl``).
        Non-finite scores count as missing.
    ohlcv : pandas.DataFrame
        Panel with a ``close`` column (adjusted prices) covering every day and
        instrument of ``scores`` (plus ``factor`` for ``trade_unit``). Its dates
        are the trading calendar.
    topk : int, default=50
        Number of stocks to hold.
    n_drop : int, default=5
        Holdings replaced per day at most (0: buy and hold, refilling only).
    open_cost, close_cost : float, default=0.0005, 0.0015
        Cost rates of buying and of selling (Qlib's benchmark settings).
    min_cost : float, default=5.0
        Minimum cost of one trade, in currency.
    account : float, default=1e8
        Initial cash.
    limit_threshold : float or None, default=0.095
        Daily move beyond which a stock is at its price limit; None: no limit.
    benchmark : str, pandas.Series or None, default=None
        An instrument of ``ohlcv`` (e.g. ``"SH000300"``, Qlib's CSI 300 index),
        whose close-to-close return is the benchmark, or a Series of daily
        benchmark returns indexed by date. Days it does not cover get 0, as in
        Qlib. None: a benchmark of 0. A benchmark instrument is never traded.
    risk_degree : float in (0, 1], default=0.95
        Share of the available cash invested when buying (Qlib's default).
    trade_unit : int or None, default=None
        Round each buy down to a multiple of this many real shares (Qlib's
        A-share setting is 100; real shares = adjusted amount x ``factor``,
        ``factor`` being 1 when ``ohlcv`` has none). None trades fractional
        amounts.
    forbid_all_trade_at_limit : bool, default=True
        Whether a stock at either limit can be neither bought nor sold (see
        above).
    sell_delisted : bool, default=True
        Whether a holding whose close never comes back in ``ohlcv`` (delisted,
        or suspended through the end of the data) is sold at its last close,
        paying ``close_cost``, on the first day it has no close. Qlib keeps
        such a stock forever (False): it ranks last without a score, takes one
        of the ``n_drop`` sale slots every day and cannot be sold, so a few of
        them freeze the portfolio.
    return_positions : bool, default=False
        Also return the holdings of each day.

    Returns
    -------
    report : pandas.DataFrame
        One row per backtest day, indexed by ``datetime``:

        - ``return``: account return after costs, ``value / previous value - 1``;
        - ``return_gross``: before costs, ``return + cost`` (Qlib's
          ``report_normal["return"]``);
        - ``cost``: the day's trading costs over the previous value;
        - ``turnover``: value bought plus value sold over the previous value;
        - ``bench``: the benchmark's return;
        - ``value``, ``cash``: account value and cash after the close;
        - ``n_holdings``: stocks held after trading.

        The excess return after costs is ``return - bench``.
    positions : pandas.DataFrame, only if ``return_positions=True``
        One row per (day, held instrument) after the day's trades, indexed by
        ``(datetime, instrument)``, with ``amount`` (adjusted shares),
        ``price`` (last close), ``value`` and ``weight`` (value over the
        account value).

    Notes
    -----
    Where this differs from Qlib: ties in score are broken by instrument
    order (Qlib's sort is not stable); a day asking for a negative number of
    candidates (more than ``topk + n_drop`` holdings, which only blocked sales
    can cause) takes none, where Qlib's list slicing takes all but a few; when
    the cash cannot cover every buy, the first uncovered order is clipped to
    the cash left and later ones get nothing; a sale is never refused for lack
    of cash to pay its cost.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> panel, signal = make_stock_panel(60, 120, return_signal=True, random_state=0)
    >>> report = topk_dropout_backtest(signal, panel, topk=10, n_drop=2)
    >>> report.columns.tolist()[:5]
    ['return', 'return_gross', 'cost', 'turnover', 'bench']
    """
    problems = setting_problems(
        topk=topk,
        n_drop=n_drop,
        open_cost=open_cost,
        close_cost=close_cost,
        min_cost=min_cost,
        account=account,
        limit_threshold=limit_threshold,
        risk_degree=risk_degree,
        trade_unit=trade_unit,
    )
    if problems:
        raise ValueError("Invalid backtest settings: " + "; ".join(problems) + ".")
    scores = _score_series(scores)
    index = check_panel_index(ohlcv, name="ohlcv")
    if "close" not in ohlcv.columns:
        raise ValueError(f"ohlcv has no 'close' column; columns found: {list(ohlcv.columns)}.")
    if isinstance(benchmark, str):
        scores = scores[~_is_instrument(scores.index, benchmark)]
    settings = {
        "limit_threshold": limit_threshold,
        "forbid_all_trade_at_limit": forbid_all_trade_at_limit,
        "trade_unit": trade_unit,
        "sell_delisted": sell_delisted,
    }
    market = _build_market(scores, ohlcv, index, settings)
    costs = _Costs(float(open_cost), float(close_cost), float(min_cost))
    records, holdings = _simulate(
        market, int(topk), int(n_drop), costs, float(account), float(risk_degree), trade_unit
    )
    report = _report_frame(market.dates, records, float(account))
    report["bench"] = _benchmark_returns(benchmark, ohlcv, market.dates)
    report = report[list(REPORT_COLUMNS)]
    if not return_positions:
        return report
    return report, _positions_frame(market, holdings, report["value"].to_numpy())


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


def setting_problems(
    *,
    topk,
    n_drop,
    open_cost,
    close_cost,
    min_cost,
    account,
    limit_threshold,
    risk_degree,
    trade_unit,
) -> list[str]:
    """What is wrong with the numeric backtest settings, one message each (empty if nothing).

    Shared with the workflow's config validation, which reports every problem at once.
    """
    problems = []
    if not (_is_int(topk) and topk >= 1):
        problems.append(f"topk must be an int >= 1, got {topk!r}")
    if not (_is_int(n_drop) and n_drop >= 0):
        problems.append(f"n_drop must be an int >= 0, got {n_drop!r}")
    for name, value in (("open_cost", open_cost), ("close_cost", close_cost)):
        if not (_is_real(value) and 0 <= value < 1):
            problems.append(f"{name} must be a rate in [0, 1), got {value!r}")
    if not (_is_real(min_cost) and min_cost >= 0):
        problems.append(f"min_cost must be a number >= 0, got {min_cost!r}")
    if not (_is_real(account) and account > 0):
        problems.append(f"account must be a positive number, got {account!r}")
    if limit_threshold is not None and not (_is_real(limit_threshold) and limit_threshold > 0):
        problems.append(
            f"limit_threshold must be a positive number or None, got {limit_threshold!r}"
        )
    if not (_is_real(risk_degree) and 0 < risk_degree <= 1):
        problems.append(f"risk_degree must be in (0, 1], got {risk_degree!r}")
    if trade_unit is not None and not (_is_int(trade_unit) and trade_unit >= 1):
        problems.append(f"trade_unit must be an int >= 1 or None, got {trade_unit!r}")
    return problems


def _score_series(scores) -> pd.Series:
    """The scores as a float Series on a sorted panel index, finite values only."""
    if isinstance(scores, pd.DataFrame):
        if "score" in scores.columns:
            scores = scores["score"]
        elif scores.shape[1] == 1:
            scores = scores.iloc[:, 0]
        else:
            raise ValueError(
                f"scores has {scores.shape[1]} columns and none is named 'score'; pass the "
                "score column as a Series."
            )
    if isinstance(scores, pd.Series) and isinstance(scores.index, pd.MultiIndex):
        if not scores.index.is_monotonic_increasing:
            scores = scores.sort_index()
    check_panel_index(scores, name="scores")
    values = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("scores has no finite value to trade on.")
    return pd.Series(values[finite], index=scores.index[finite], name="score")


# ---------------------------------------------------------------------------
# Market layout
# ---------------------------------------------------------------------------


def _calendar(index: pd.MultiIndex) -> pd.DatetimeIndex:
    starts, _ = day_slices(index)
    return pd.DatetimeIndex(index.get_level_values(0)[starts])


def _backtest_days(calendar, score_dates) -> tuple[int, int]:
    """Calendar positions of the first and last score day; every score day must trade."""
    missing = score_dates.difference(calendar)
    if len(missing):
        shown = ", ".join(str(d.date()) for d in missing[:5])
        raise ValueError(
            f"scores has {len(missing)} day(s) on which ohlcv has no row, e.g. {shown}; ohlcv "
            "must cover every day of scores (its dates are the trading calendar)."
        )
    return int(calendar.get_loc(score_dates[0])), int(calendar.get_loc(score_dates[-1]))


def _build_market(scores, ohlcv, index, settings) -> _Market:
    calendar = _calendar(index)
    first, last = _backtest_days(calendar, _calendar(scores.index))
    instruments = scores.index.remove_unused_levels().levels[1].sort_values()
    shape = (last - first + 1, len(instruments))
    rows = _market_rows(ohlcv, index, instruments, first, last, settings["trade_unit"])
    day, inst = rows["day"], rows["inst"]
    buyable, sellable = _tradable(shape, day, inst, rows["change"], settings)

    price = np.full(shape, np.nan)
    price[day, inst] = rows["close"]
    # A suspended or delisted holding keeps its last close as its value.
    price = pd.DataFrame(price).ffill().to_numpy()
    factor = None
    if rows["factor"] is not None:
        factor = np.ones(shape)
        factor[day, inst] = rows["factor"]

    delisted = rows["delisted"]
    if not settings["sell_delisted"]:
        delisted = np.zeros(shape, dtype=bool)
    signal, has_signal = _signal_matrix(scores, calendar, instruments, first, shape[0])
    return _Market(
        dates=calendar[first : last + 1],
        instruments=instruments,
        price=price,
        buyable=buyable,
        sellable=sellable,
        factor=factor,
        signal=signal,
        has_signal=has_signal,
        delisted=delisted,
    )


def _market_rows(ohlcv, index, instruments, first, last, trade_unit) -> dict:
    """The ohlcv rows with a close of the traded instruments, on the backtest days.

    ``day`` counts from the first backtest day; ``change`` is taken from the
    instrument's previous close, which may lie before the backtest.
    """
    day = day_codes(index)
    inst = _positions_in(index, 1, instruments)
    close = ohlcv["close"].to_numpy(dtype=np.float64, na_value=np.nan)
    listed = (inst >= 0) & np.isfinite(close)
    # Delisting looks at every later day of ohlcv, past the backtest too.
    delisted = _delisted(day[listed], inst[listed], first, last - first + 1, len(instruments))
    keep = listed & (day <= last)
    day, inst, close = day[keep], inst[keep], close[keep]
    change = _change(day, inst, close)
    window = day >= first
    factor = None
    if trade_unit is not None:
        factor = np.ones(int(window.sum()))
        if "factor" in ohlcv.columns:
            values = ohlcv["factor"].to_numpy(dtype=np.float64, na_value=np.nan)[keep][window]
            # A missing factor counts as 1 (adjusted price = real price).
            factor = np.where(np.isfinite(values) & (values > 0), values, 1.0)
    return {
        "day": day[window] - first,
        "inst": inst[window],
        "close": close[window],
        "change": change[window],
        "factor": factor,
        "delisted": delisted,
    }


def _tradable(shape, day, inst, change, settings):
    """Where a buy and where a sale can be dealt: a finite close and no blocking price limit."""
    tradable = np.zeros(shape, dtype=bool)
    tradable[day, inst] = True
    limit_up = np.zeros(shape, dtype=bool)
    limit_down = np.zeros(shape, dtype=bool)
    threshold = settings["limit_threshold"]
    if threshold is not None:
        # NaN changes (an instrument's first close) compare False: never at a limit.
        limit_up[day, inst] = change >= threshold
        limit_down[day, inst] = change <= -threshold
    if settings["forbid_all_trade_at_limit"]:
        blocked = limit_up | limit_down
        return tradable & ~blocked, tradable & ~blocked
    return tradable & ~limit_up, tradable & ~limit_down


def _positions_in(index: pd.MultiIndex, level: int, target: pd.Index) -> np.ndarray:
    """Position in ``target`` of each row's value at ``level`` (-1 where absent).

    Maps the level's few distinct values rather than every row's: the rows'
    values are string arrays that are slow to look up one by one.
    """
    return target.get_indexer(index.levels[level])[index.codes[level]]


def _is_instrument(index: pd.MultiIndex, code: str) -> np.ndarray:
    """Row mask of one instrument, found through the level codes."""
    return np.isin(index.codes[1], np.flatnonzero(index.levels[1] == code))


def _delisted(day, inst, first, n_days, n_inst) -> np.ndarray:
    """Whether each (backtest day, instrument) is past the instrument's last close in ohlcv."""
    last_close = np.full(n_inst, -1, dtype=np.int64)
    np.maximum.at(last_close, inst, day)
    days = np.arange(first, first + n_days)[:, None]
    # Instruments never seen in ohlcv are never bought, so they need no flag.
    return (days > last_close[None, :]) & (last_close[None, :] >= 0)


def _change(day, inst, close) -> np.ndarray:
    """``close / previous close - 1`` per row, the previous close being the instrument's last one."""
    order = np.lexsort((day, inst))
    sorted_inst, sorted_close = inst[order], close[order]
    previous = np.full(len(close), np.nan)
    same = sorted_inst[1:] == sorted_inst[:-1]
    previous[1:][same] = sorted_close[:-1][same]
    change = np.empty(len(close))
    with np.errstate(divide="ignore", invalid="ignore"):
        change[order] = sorted_close / previous - 1.0
    return change


def _signal_matrix(scores, calendar, instruments, first, n_days):
    """Scores laid out by the day they are *traded* on: row ``k`` holds day ``k - 1``'s."""
    day = _positions_in(scores.index, 0, calendar) - first
    inst = _positions_in(scores.index, 1, instruments)
    signal = np.full((n_days, len(instruments)), np.nan)
    trade_day = day + 1
    inside = trade_day < n_days  # the last day's scores would trade after the backtest
    signal[trade_day[inside], inst[inside]] = scores.to_numpy()[inside]
    return signal, np.isfinite(signal).any(axis=1)


# ---------------------------------------------------------------------------
# The strategy and the order execution of one day
# ---------------------------------------------------------------------------


def _descending(index: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``index`` sorted by score, best first, missing scores last, ties in index order."""
    key = score[index]
    key = np.where(np.isnan(key), -np.inf, key)
    return index[np.argsort(-key, kind="stable")]


def _plan_orders(amount, score, topk, n_drop):
    """Qlib's TopkDropoutStrategy decision: the holdings to sell and stocks to buy, in order."""
    held = np.flatnonzero(amount > 0)
    last = _descending(held, score)
    n_candidates = max(n_drop + topk - len(last), 0)
    candidate = np.isfinite(score)
    candidate[held] = False
    today = _descending(np.flatnonzero(candidate), score)[:n_candidates]
    if n_drop > 0 and len(last):
        # Pool holdings and candidates (in instrument order, as Qlib's index union) and
        # sell the holdings among the pool's n_drop worst.
        pool = _descending(np.sort(np.concatenate([last, today])), score)
        worst = np.zeros(len(amount), dtype=bool)
        worst[pool[-n_drop:]] = True
        sell = last[worst[last]]
    else:
        sell = last[:0]
    buy = today[: max(len(sell) + topk - len(last), 0)]
    return sell, buy


def _trade_cost(value, rate, min_cost):
    return np.where(value > _MIN_TRADE_VALUE, np.maximum(value * rate, min_cost), 0.0)


def _sell(amount, sell, sellable, price, costs):
    """Sell every sellable planned holding entirely; return (value sold, cost)."""
    sold = sell[sellable[sell]]
    value = amount[sold] * price[sold]
    cost = _trade_cost(value, costs.close_cost, costs.min_cost)
    amount[sold] = 0.0
    return float(value.sum()), float(cost.sum())


def _round_to_unit(shares, factor, trade_unit):
    """Qlib's ``round_amount_by_trade_unit``: whole lots of real shares, rounded down."""
    return (shares * factor + 0.1) // trade_unit * trade_unit / factor


def _affordable_shares(cash, price, rate, min_cost):
    """Qlib's ``_get_buy_amount_by_cash_limit``: the most shares ``cash`` pays for, cost included."""
    if cash < min_cost:
        return 0.0
    with np.errstate(divide="ignore"):
        critical = min_cost / np.float64(rate) + min_cost
    if cash >= critical:
        return cash / (1.0 + rate) / price
    return (cash - min_cost) / price


def _buy(amount, buy, cash, risk_degree, day, market, costs, trade_unit):
    """Buy equal cash shares of the planned stocks that can be bought; return (value, cost)."""
    if not len(buy):
        return 0.0, 0.0
    target = cash * risk_degree / len(buy)  # blocked orders keep their share as cash
    bought = buy[market.buyable[day, buy]]
    price = market.price[day, bought]
    factor = market.factor[day, bought] if market.factor is not None else None
    shares = target / price
    if factor is not None:
        shares = _round_to_unit(shares, factor, trade_unit)
    value = shares * price
    cost = _trade_cost(value, costs.open_cost, costs.min_cost)
    spent = np.cumsum(value + cost)
    short = np.flatnonzero(spent > cash * (1 + 1e-12))
    if len(short):
        # Orders are dealt in turn: the first the cash cannot cover is clipped to what is
        # left, and nothing is left for the later ones.
        first = short[0]
        left = cash - (spent[first - 1] if first else 0.0)
        most = _affordable_shares(left, price[first], costs.open_cost, costs.min_cost)
        if factor is not None:
            most = _round_to_unit(most, factor[first], trade_unit)
        shares[first] = min(shares[first], most)
        shares[first + 1 :] = 0.0
        value = shares * price
        cost = _trade_cost(value, costs.open_cost, costs.min_cost)
    traded = value > _MIN_TRADE_VALUE
    amount[bought[traded]] += shares[traded]
    return float(value.sum()), float(cost.sum())


def _simulate(market, topk, n_drop, costs, account, risk_degree, trade_unit):
    """Walk the days; return per-day records and the holdings after each day's trades."""
    n_days, n_inst = market.price.shape
    value_price = np.nan_to_num(market.price)  # NaN only where nothing can be held
    amount = np.zeros(n_inst)
    holdings = np.zeros((n_days, n_inst))
    records = np.zeros((n_days, 5))  # value, cash, cost, traded value, n_holdings
    cash = account
    for day in range(n_days):
        cost = traded = 0.0
        gone = np.flatnonzero((amount > 0) & market.delisted[day])
        if len(gone):
            # Cashed out at the last close whatever the signal: the stock left the market.
            traded, cost = _sell(amount, gone, market.delisted[day], market.price[day], costs)
            cash += traded - cost
        if market.has_signal[day]:
            sell, buy = _plan_orders(amount, market.signal[day], topk, n_drop)
            sold, sell_cost = _sell(amount, sell, market.sellable[day], market.price[day], costs)
            cash += sold - sell_cost
            bought, buy_cost = _buy(amount, buy, cash, risk_degree, day, market, costs, trade_unit)
            cash -= bought + buy_cost
            cost, traded = cost + sell_cost + buy_cost, traded + sold + bought
        holdings[day] = amount
        value = cash + amount @ value_price[day]
        records[day] = value, cash, cost, traded, np.count_nonzero(amount)
    return records, holdings


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def _report_frame(dates, records, account) -> pd.DataFrame:
    value, cash, cost, traded, n_holdings = records.T
    previous = np.concatenate([[account], value[:-1]])
    report = pd.DataFrame(
        {
            "return": value / previous - 1.0,
            "return_gross": (value - previous + cost) / previous,
            "cost": cost / previous,
            "turnover": traded / previous,
            "value": value,
            "cash": cash,
            "n_holdings": n_holdings.astype(np.int64),
        },
        index=pd.DatetimeIndex(dates, name=DATETIME),
    )
    return report


def _benchmark_returns(benchmark, ohlcv, dates) -> np.ndarray:
    if benchmark is None:
        return np.zeros(len(dates))
    if isinstance(benchmark, str):
        returns = _instrument_returns(benchmark, ohlcv)
    elif isinstance(benchmark, pd.Series) and not isinstance(benchmark.index, pd.MultiIndex):
        returns = benchmark.astype(np.float64)
        returns.index = pd.DatetimeIndex(returns.index)
    else:
        raise TypeError(
            "benchmark must be an instrument code of ohlcv (e.g. 'SH000300'), a Series of daily "
            f"returns indexed by date, or None; got {type(benchmark).__name__}."
        )
    aligned = returns.reindex(dates)
    if aligned.isna().all():
        raise ValueError(
            "benchmark has no return on any backtest day "
            f"({dates[0].date()} .. {dates[-1].date()}); check its dates."
        )
    return aligned.fillna(0.0).to_numpy()


def _instrument_returns(code, ohlcv) -> pd.Series:
    rows = np.flatnonzero(_is_instrument(ohlcv.index, code))
    if not len(rows):
        raise ValueError(
            f"benchmark instrument {code!r} is not in ohlcv; load it with the stocks (e.g. "
            f"load_qlib(..., instruments=[{code!r}])) or pass its daily returns as a Series."
        )
    close = pd.Series(
        ohlcv["close"].to_numpy(dtype=np.float64, na_value=np.nan)[rows],
        index=ohlcv.index.get_level_values(DATETIME)[rows],
    ).dropna()
    return close / close.shift(1) - 1.0


def _positions_frame(market, holdings, account_value) -> pd.DataFrame:
    day, inst = np.nonzero(holdings > 0)
    amount = holdings[day, inst]
    price = market.price[day, inst]
    index = pd.MultiIndex.from_arrays(
        [market.dates[day], market.instruments[inst]], names=[DATETIME, INSTRUMENT]
    )
    return pd.DataFrame(
        {
            "amount": amount,
            "price": price,
            "value": amount * price,
            "weight": amount * price / account_value[day],
        },
        index=index,
    )
