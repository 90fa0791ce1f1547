"""Qlib's TopK-Dropout strategy, backtested day by day at the close.

The market is laid out once as dense ``(day, instrument)`` arrays (``_market``);
the backtest then walks the days, because each day's orders depend on the
holdings the previous days left (``_orders``). This module checks the inputs and
assembles the daily report and positions.

Timing (Qlib's): the score of day ``t`` is known after ``t``'s close and is
traded at the close of the next trading day ``t + 1``; the position then earns
``close[t + 2] / close[t + 1] - 1`` on day ``t + 2``, exactly the label
``forward_return`` gives day ``t``.
"""

from __future__ import annotations

import functools
import inspect
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from .._utils._panel import DATETIME, INSTRUMENT, check_panel_index
from .._utils._param_validation import InvalidParameterError, constraint_problem
from ._market import _build_market, _is_instrument
from ._orders import _Costs, _simulate

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

#: The numeric settings of :func:`topk_dropout_backtest`, as scikit-learn
#: parameter constraints: the one source of their rules (the workflow's
#: ``backtest`` section is checked against them too, through the function's
#: ``validate_params`` constraints).
SETTING_CONSTRAINTS = {
    "topk": [Interval(Integral, 1, None, closed="left")],
    "n_drop": [Interval(Integral, 0, None, closed="left")],
    "open_cost": [Interval(Real, 0, 1, closed="left")],
    "close_cost": [Interval(Real, 0, 1, closed="left")],
    "min_cost": [Interval(Real, 0, np.inf, closed="left")],
    "account": [Interval(Real, 0, np.inf, closed="neither")],
    "limit_threshold": [Interval(Real, 0, np.inf, closed="neither"), None],
    "risk_degree": [Interval(Real, 0, 1, closed="right")],
    "trade_unit": [Interval(Integral, 1, None, closed="left"), None],
}


def _every_invalid_setting(func):
    """Report every invalid numeric setting at once, not only the first as ``validate_params``."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        problems = [
            f"{name!r} {problem}"
            for name, value in arguments.items()
            if name in SETTING_CONSTRAINTS
            and (problem := constraint_problem(SETTING_CONSTRAINTS[name], value)) is not None
        ]
        if len(problems) > 1:
            raise InvalidParameterError(
                f"{len(problems)} invalid settings of topk_dropout_backtest: "
                + "; ".join(problems)
                + "."
            )
        return func(*args, **kwargs)

    return wrapper


@_every_invalid_setting
@validate_params(
    {
        # Any array-like; the panel index is then checked with an error that says
        # how to build one.
        "scores": ["array-like"],
        "ohlcv": ["array-like"],
        "benchmark": [str, pd.Series, None],
        "forbid_all_trade_at_limit": ["boolean"],
        "sell_delisted": ["boolean"],
        "return_positions": ["boolean"],
        **SETTING_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def topk_dropout_backtest(
    scores: pd.Series | pd.DataFrame,
    ohlcv: pd.DataFrame,
    *,
    topk: int = 50,
    n_drop: int = 5,
    open_cost: float = 0.0005,
    close_cost: float = 0.0015,
    min_cost: float = 5.0,
    account: float = 1e8,
    limit_threshold: float | None = 0.095,
    benchmark: str | pd.Series | None = None,
    risk_degree: float = 0.95,
    trade_unit: int | None = None,
    forbid_all_trade_at_limit: bool = True,
    sell_delisted: bool = True,
    return_positions: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
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
# Input and output frames
# ---------------------------------------------------------------------------


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
