"""Qlib's TopK-Dropout decision and the order execution of each day, walked day by day.

Each day's orders depend on the holdings the previous days left, so the days
are walked in turn; inside a day every step is a numpy operation over
instruments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Qlib treats a trade worth less than this as no trade (no cost, no position).
_MIN_TRADE_VALUE = 1e-5


@dataclass(frozen=True)
class _Costs:
    open_cost: float
    close_cost: float
    min_cost: float


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
