"""Analyses of a backtest's daily report: by calendar year, rolling, and the portfolio's exposure."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from ._risk import PERIODS_PER_YEAR

__all__ = ["portfolio_exposure", "rolling_information_ratio", "yearly_analysis"]

#: Days a year, as :func:`risk_analysis` counts them for daily returns.
DAYS_PER_YEAR = PERIODS_PER_YEAR["day"]
_N = [Interval(Real, 0, None, closed="neither")]


def _require_columns(report: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in report.columns]
    if missing:
        raise ValueError(
            f"report has no column {missing[0]!r}: pass the daily report of topk_dropout_backtest."
        )


def _max_drawdown(returns: pd.Series) -> float:
    """Qlib's sum-mode drawdown: the running maximum starts at the first cumulative value."""
    curve = returns.cumsum()
    return float((curve - curve.cummax()).min())


@validate_params({"report": [pd.DataFrame], "N": _N}, prefer_skip_nested_validation=True)
def yearly_analysis(report: pd.DataFrame, *, N: float = DAYS_PER_YEAR) -> pd.DataFrame:
    """Return, benchmark, excess return and drawdown of each calendar year of a backtest.

    Returns add up within a year (Qlib's ``sum`` mode, as :func:`risk_analysis`).

    Parameters
    ----------
    report : pandas.DataFrame
        The daily report of :func:`topk_dropout_backtest` (``return``,
        ``return_gross``, ``cost``, ``bench``).
    N : float, default=238
        Days a year, to annualise the information ratio (Qlib's count).

    Returns
    -------
    yearly : pandas.DataFrame
        One row per year, indexed by ``year``: ``return`` (after costs),
        ``benchmark``, ``excess, no cost``, ``excess, with cost`` (sums of the
        year's daily returns), ``max drawdown`` (of the cumulative excess
        return with cost, within the year), ``information ratio`` (of the
        excess with cost, ``mean / std * sqrt(N)``) and ``days``.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import yearly_analysis
    >>> report = pd.DataFrame(
    ...     {"return": [0.02, -0.01, 0.01], "cost": [0.0, 0.0, 0.0],
    ...      "bench": [0.01, 0.0, 0.0]},
    ...     index=pd.to_datetime(["2020-12-30", "2020-12-31", "2021-01-04"]))
    >>> report["return_gross"] = report["return"] + report["cost"]
    >>> yearly_analysis(report)[["return", "benchmark", "excess, with cost", "max drawdown"]]
          return  benchmark  excess, with cost  max drawdown
    year
    2020    0.01       0.01               0.00         -0.01
    2021    0.01       0.00               0.01          0.00
    """
    _require_columns(report, ("return_gross", "cost", "bench"))
    no_cost = report["return_gross"] - report["bench"]
    with_cost = no_cost - report["cost"]
    frame = pd.DataFrame(
        {
            "return": report["return_gross"] - report["cost"],
            "benchmark": report["bench"],
            "excess, no cost": no_cost,
            "excess, with cost": with_cost,
        }
    )
    years = pd.DatetimeIndex(report.index).year
    yearly = frame.groupby(years).sum()
    by_year = with_cost.groupby(years)
    yearly["max drawdown"] = by_year.apply(_max_drawdown)
    with np.errstate(divide="ignore", invalid="ignore"):
        yearly["information ratio"] = by_year.mean() / by_year.std() * np.sqrt(N)
    yearly["days"] = by_year.size()
    yearly.index.name = "year"
    return yearly


@validate_params(
    {
        "returns": ["array-like"],
        "window": [Interval(Integral, 2, None, closed="left")],
        "N": _N,
    },
    prefer_skip_nested_validation=True,
)
def rolling_information_ratio(
    returns: pd.Series | pd.DataFrame, *, window: int = 60, N: float = DAYS_PER_YEAR
) -> pd.DataFrame:
    """Information ratio over a rolling window of days: ``mean / std * sqrt(N)``.

    The ratio is NaN until the window is full: a few days' ratio swings
    without meaning.

    Parameters
    ----------
    returns : pandas.Series or pandas.DataFrame
        Daily (excess) returns indexed by date; a frame gives one column each.
    window : int, default=60
        Days in the window (about a quarter).
    N : float, default=238
        Days a year (Qlib's count, as :func:`risk_analysis`).

    Returns
    -------
    ratio : pandas.DataFrame
        Same index as ``returns``; one column per column of ``returns`` (a
        Series gives one, named after it, or ``information ratio``).

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import rolling_information_ratio
    >>> excess = pd.Series([0.01, 0.03, -0.01, 0.02], name="excess")
    >>> rolling_information_ratio(excess, window=3, N=4).round(2)
       excess
    0     NaN
    1     NaN
    2    1.00
    3    1.28
    """
    if isinstance(returns, pd.Series):
        returns = returns.to_frame(
            returns.name if returns.name is not None else "information ratio"
        )
    elif not isinstance(returns, pd.DataFrame):
        returns = pd.DataFrame({"information ratio": np.asarray(returns, dtype=np.float64)})
    rolling = returns.astype(np.float64).rolling(int(window), min_periods=int(window))
    with np.errstate(divide="ignore", invalid="ignore"):
        return rolling.mean() / rolling.std() * np.sqrt(N)


@validate_params({"report": [pd.DataFrame]}, prefer_skip_nested_validation=True)
def portfolio_exposure(report: pd.DataFrame) -> pd.DataFrame:
    """Holdings and cash of a backtest, day by day.

    Parameters
    ----------
    report : pandas.DataFrame
        The daily report of :func:`topk_dropout_backtest` (``n_holdings``,
        ``cash``, ``value``).

    Returns
    -------
    exposure : pandas.DataFrame
        Same index: ``holdings`` (stocks held after the day's trades),
        ``cash share`` (cash over the account value) and ``invested`` (one
        minus the cash share).

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import portfolio_exposure
    >>> report = pd.DataFrame({"n_holdings": [0, 10], "cash": [100.0, 5.0],
    ...                        "value": [100.0, 100.0]})
    >>> portfolio_exposure(report)
       holdings  cash share  invested
    0         0        1.00      0.00
    1        10        0.05      0.95
    """
    _require_columns(report, ("n_holdings", "cash", "value"))
    cash_share = report["cash"] / report["value"]
    return pd.DataFrame(
        {"holdings": report["n_holdings"], "cash share": cash_share, "invested": 1.0 - cash_share}
    )
