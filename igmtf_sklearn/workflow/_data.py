"""The data of an ``igmtf run``: loading the panel, Alpha360 features, labels and segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets import load_qlib, make_stock_panel, read_ohlcv
from ..preprocessing import Alpha360, forward_return
from ._config import _source

#: Calendar days loaded before the training segment, so that its first day has a
#: full 60-trading-day Alpha360 window (60 trading days are about 85 calendar days).
WARMUP_CALENDAR_DAYS = 90
#: Qlib's label for day t is close[t+2] / close[t+1] - 1: the last LABEL_HORIZON
#: labels of a segment are realised in the next one, so they are dropped.
LABEL_HORIZON = 2


def _load_data(config):
    """The panel to build features on, the rows that are members, the OHLCV to trade and the benchmark.

    Returns
    -------
    panel : pandas.DataFrame
        OHLCV of every instrument, over every day it has data in the window.
    members : ndarray of bool or None
        Rows of ``panel`` inside the market's membership (None: all rows).
    benchmark : pandas.Series or None
        Daily benchmark returns indexed by date.
    """
    data, segments = config["data"], config["segments"]
    start = segments["train"][0] - pd.Timedelta(days=WARMUP_CALENDAR_DAYS)
    end = segments["test"][1]
    if _source(data) == "provider_uri":
        return _load_qlib_data(data, start, end)
    if _source(data) == "ohlcv_path":
        return _load_ohlcv_file(data, start, end)
    return _load_synthetic(data["synthetic"], start, end)


def _load_qlib_data(data, start, end):
    root = data["provider_uri"]
    # Point-in-time membership, then the members' whole history: Qlib computes features on
    # the full series and only then keeps the member days, so a stock joining the index
    # arrives with its window, and one leaving it can still be sold.
    members = load_qlib(root, data["market"], start, end, fields=["close"])
    codes = members.index.remove_unused_levels().levels[1].tolist()
    panel = load_qlib(root, codes, start, end)
    in_market = panel.index.isin(members.index)
    benchmark = None
    if data["benchmark"] is not None:
        index_close = load_qlib(root, [data["benchmark"]], start, end, fields=["close"])["close"]
        benchmark = _close_to_returns(index_close.droplevel(1))
    return panel, in_market, benchmark


def _load_ohlcv_file(data, start, end):
    panel = read_ohlcv(data["ohlcv_path"])
    dates = panel.index.get_level_values(0)
    panel = panel[(dates >= start) & (dates <= end)]
    benchmark = None
    code = data["benchmark"]
    if code is not None:
        is_benchmark = np.asarray(panel.index.get_level_values(1) == code)
        if not is_benchmark.any():
            raise ValueError(
                f"data.benchmark: instrument {code!r} is not in {str(data['ohlcv_path'])!r} between "
                f"{start.date()} and {end.date()}."
            )
        benchmark = _close_to_returns(panel["close"][is_benchmark].droplevel(1))
        panel = panel[~is_benchmark]  # an index is neither a feature row nor tradable
    return panel, None, benchmark


def _load_synthetic(settings, start, end):
    settings = dict(settings)
    if settings.get("start") is not None:
        settings["start"] = settings["start"].strftime("%Y-%m-%d")
    panel = make_stock_panel(**settings)
    dates = panel.index.get_level_values(0)
    panel = panel[(dates >= start) & (dates <= end)]
    # A simulated market has no index: the benchmark is its equal-weighted mean return.
    close = panel["close"].astype(np.float64)
    returns = close / close.groupby(level=1).shift(1) - 1.0
    return panel, None, returns.groupby(level=0).mean().dropna()


def _close_to_returns(close: pd.Series) -> pd.Series:
    close = close.astype(np.float64).dropna()
    return (close / close.shift(1) - 1.0).dropna()


# ---------------------------------------------------------------------------
# Features, labels and segments
# ---------------------------------------------------------------------------


def _features_and_label(panel, members, window):
    """Alpha360 features, the label, and the day each label is realised, on the member rows.

    All three are computed on the members' whole histories before the member
    rows are kept, as Qlib computes its expressions.
    """
    X = Alpha360(window=window).set_output(transform="pandas").fit_transform(panel)
    y = forward_return(panel)
    # The label of a row is close[t+2] / close[t+1] - 1 over the instrument's own rows:
    # it is known on the date of its LABEL_HORIZON-th next row.
    dates = pd.Series(panel.index.get_level_values(0), index=panel.index)
    realised = dates.groupby(level=1).shift(-LABEL_HORIZON)
    if members is not None:
        X, y, realised = X[members], y[members], realised[members]
    return X, y, realised


def _segment_rows(X, y, realised, segments, window):
    """Row masks of the segments, and the labels of train and valid without look-ahead.

    A train or valid label realised after its segment ends (the last days'
    labels, more for a suspended stock) is dropped: it is a return of the next
    segment. The first ``window - 1`` trading days of the data have incomplete
    windows for every instrument and take no part in training.
    """
    dates = X.index.get_level_values(0)
    days = dates.unique()
    first_full_day = days[min(window - 1, len(days) - 1)]
    y = y.copy()
    masks = {}
    for name, (start, end) in segments.items():
        mask = np.asarray((dates >= start) & (dates <= end))
        if name == "train":
            mask &= np.asarray(dates >= first_full_day)
        if not mask.any():
            raise ValueError(_empty_segment_message(name, start, end, days, first_full_day))
        if name != "test":
            y[mask & np.asarray(realised > end)] = np.nan
        masks[name] = mask
    return masks, y


def _empty_segment_message(name, start, end, days, first_full_day) -> str:
    message = (
        f"segments.{name} ({start.date()} .. {end.date()}) has no row in the data, which covers "
        f"{days[0].date()} .. {days[-1].date()}"
    )
    if name == "train":
        message += f" (training starts at {first_full_day.date()}, after the feature window)"
    return message + "."
