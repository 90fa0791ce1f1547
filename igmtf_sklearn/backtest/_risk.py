"""Qlib's ``risk_analysis``: mean, volatility, annualised return, IR and drawdown."""

from __future__ import annotations

import re
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

if TYPE_CHECKING:
    from .._utils._typing import ArrayLike

#: Periods per year, as Qlib's ``risk_analysis`` counts them (238 trading days,
#: the A-share market's; 240 minutes a day).
PERIODS_PER_YEAR = {"minute": 240 * 238, "day": 238, "week": 50, "month": 12}

_FREQ_UNITS = {
    "min": "minute",
    "minute": "minute",
    "d": "day",
    "day": "day",
    "w": "week",
    "week": "week",
    "mon": "month",
    "month": "month",
}
_FREQ_PATTERN = re.compile(r"^\s*(\d*)\s*([a-z]+)\s*$")
RISK_METRICS = ("mean", "std", "annualized_return", "information_ratio", "max_drawdown")


def _periods_per_year(freq) -> float:
    """Qlib's annualisation scaler for ``freq``: ``"day"`` -> 238, ``"5min"`` -> 240 * 238 / 5."""
    match = _FREQ_PATTERN.match(str(freq).lower())
    unit = _FREQ_UNITS.get(match.group(2)) if match else None
    if unit is None:
        raise ValueError(
            f"freq={freq!r} is not a frequency; use 'day', 'week', 'month', 'minute' or a "
            "multiple such as '5min', or pass N (periods per year) directly."
        )
    count = int(match.group(1) or 1)
    if count < 1:
        raise ValueError(f"freq={freq!r} needs a positive multiple.")
    return PERIODS_PER_YEAR[unit] / count


def _as_return_series(returns) -> pd.Series:
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise ValueError(
                f"returns must be a Series or a single-column DataFrame, got {returns.shape[1]} "
                "columns; pass one column, e.g. report['return'] - report['bench']."
            )
        returns = returns.iloc[:, 0]
    if not isinstance(returns, pd.Series):
        returns = pd.Series(np.asarray(returns, dtype=np.float64).ravel())
    return returns.astype(np.float64).dropna()


@validate_params(
    {
        "returns": ["array-like"],
        "freq": [str],
        "N": [Interval(Real, 0, None, closed="neither"), None],
        "mode": [StrOptions({"sum", "product"})],
    },
    prefer_skip_nested_validation=True,
)
def risk_analysis(
    returns: pd.Series | pd.DataFrame | ArrayLike,
    *,
    freq: str = "day",
    N: float | None = None,
    mode: str = "sum",
) -> pd.Series:
    """Risk statistics of a return series, as Qlib's ``risk_analysis``.

    Conventions (Qlib's, including its choices of where the drawdown starts):

    ``mode="sum"`` (Qlib's default): returns accumulate by *addition*, which
    keeps the cumulative curve of a long backtest linear rather than
    exponential.

    - ``mean`` = arithmetic mean of the returns; ``std`` = sample standard
      deviation (ddof=1);
    - ``annualized_return`` = ``mean * N``;
    - ``information_ratio`` = ``mean / std * sqrt(N)``;
    - ``max_drawdown`` = ``min(cumsum(r) - cummax(cumsum(r)))``, a negative
      number (0 without drawdown). The running maximum starts at the first
      period's cumulative value, not at 0, as in Qlib.

    ``mode="product"``: returns compound.

    - ``mean`` = geometric mean, ``prod(1 + r) ** (1 / n) - 1``; ``std`` =
      sample standard deviation of ``log(1 + r)``;
    - ``annualized_return`` = ``prod(1 + r) ** (N / n) - 1``;
    - ``information_ratio`` = ``mean / std * sqrt(N)``;
    - ``max_drawdown`` = ``min(c / cummax(c) - 1)`` with ``c = cumprod(1 + r)``.

    Parameters
    ----------
    returns : pandas.Series, single-column DataFrame or array-like
        Returns per period, e.g. the daily excess return
        ``report["return"] - report["bench"]`` of :func:`topk_dropout_backtest`.
        NaN values are dropped first.
    freq : str, default="day"
        Frequency of ``returns``, giving ``N`` when ``N`` is None: 238 per
        year for ``"day"`` (Qlib's count of A-share trading days, not 252), 50
        for ``"week"``, 12 for ``"month"``, 240 * 238 for ``"minute"``; a
        multiple such as ``"5min"`` divides it.
    N : float or None, default=None
        Periods per year; overrides ``freq``.
    mode : {"sum", "product"}, default="sum"
        How returns accumulate (see above).

    Returns
    -------
    risk : pandas.Series of float, named ``"risk"``
        ``mean``, ``std``, ``annualized_return``, ``information_ratio``,
        ``max_drawdown``. ``risk.to_frame()`` is Qlib's layout. With fewer than
        two returns ``std`` and ``information_ratio`` are NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> risk = risk_analysis(pd.Series([0.01, -0.02, 0.03]))
    >>> risk.round(4).to_dict()
    {'mean': 0.0067, 'std': 0.0252, 'annualized_return': 1.5867, 'information_ratio': 4.0868, 'max_drawdown': -0.02}
    """
    if N is None:
        N = _periods_per_year(freq)
    r = _as_return_series(returns)
    if r.empty:
        return pd.Series(np.nan, index=list(RISK_METRICS), name="risk")
    stats = _sum_mode(r, N) if mode == "sum" else _product_mode(r, N)
    # A zero std gives +-inf (or NaN for 0/0), as pandas arithmetic would.
    with np.errstate(divide="ignore", invalid="ignore"):
        stats["information_ratio"] = np.float64(stats["mean"]) / stats["std"] * np.sqrt(N)
    return pd.Series(stats, name="risk")[list(RISK_METRICS)].astype(np.float64)


def _sum_mode(r: pd.Series, N: float) -> dict:
    cumulative = r.cumsum()
    return {
        "mean": r.mean(),
        "std": r.std(ddof=1),
        "annualized_return": r.mean() * N,
        "max_drawdown": (cumulative - cumulative.cummax()).min(),
    }


def _product_mode(r: pd.Series, N: float) -> dict:
    curve = (1.0 + r).cumprod()
    growth = curve.iloc[-1]
    return {
        "mean": growth ** (1.0 / len(r)) - 1.0,
        "std": np.log1p(r).std(ddof=1),
        "annualized_return": growth ** (N / len(r)) - 1.0,
        "max_drawdown": (curve / curve.cummax() - 1.0).min(),
    }
