"""The market a backtest trades in, laid out once as dense ``(day, instrument)`` arrays.

Prices, tradability (a finite close and no blocking price limit), delisting,
and the signal each day trades on: what :mod:`._orders` reads day by day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._utils._panel import day_codes, day_slices


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
