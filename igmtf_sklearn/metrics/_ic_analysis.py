"""The distribution of a daily IC series and its calendar: alphalens' IC tear sheet as tables."""

from __future__ import annotations

import calendar
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.utils._param_validation import validate_params

__all__ = ["ic_distribution", "ic_qq", "monthly_ic_table"]

#: Columns of :func:`monthly_ic_table`: the months, then the whole year.
MONTHS = tuple(calendar.month_abbr[1:])


def _as_frame(ic) -> pd.DataFrame:
    if isinstance(ic, pd.Series):
        return ic.to_frame(ic.name if ic.name is not None else "IC")
    if isinstance(ic, pd.DataFrame):
        return ic
    raise TypeError(f"ic must be a pandas Series or DataFrame, got {type(ic).__name__}.")


def _distribution(values: pd.Series) -> dict:
    values = values.dropna().astype(np.float64)
    n = len(values)
    mean, std = values.mean(), values.std(ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float64(mean) / std * np.sqrt(n)
    return {
        "mean": mean,
        "std": std,
        "IR (mean / std)": np.float64(mean) / std if std > 0 else np.nan,
        "t-stat": t,
        "p-value": 2.0 * stats.t.sf(abs(t), n - 1) if n > 1 and np.isfinite(t) else np.nan,
        "skew": values.skew(),
        "excess kurtosis": values.kurt(),
        "share > 0": float((values > 0).mean()) if n else np.nan,
        "days": n,
    }


@validate_params({"ic": [pd.Series, pd.DataFrame]}, prefer_skip_nested_validation=True)
def ic_distribution(ic: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Summary statistics of a daily IC series, as alphalens' "Information Analysis" table.

    Parameters
    ----------
    ic : pandas.Series or pandas.DataFrame
        Daily IC (one column per series, e.g. ``SignalAnalysis.ic`` with ``IC``
        and ``Rank IC``). NaN days are skipped.

    Returns
    -------
    table : pandas.DataFrame
        One column per series; rows ``mean``, ``std`` (ddof=1), ``IR (mean /
        std)`` (Qlib's ICIR), ``t-stat`` (``mean / std * sqrt(days)``) and its
        two-sided ``p-value`` under Student's t with ``days - 1`` degrees of
        freedom, ``skew``, ``excess kurtosis`` (pandas' unbiased estimators),
        ``share > 0`` and ``days``.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.metrics import ic_distribution
    >>> ic = pd.Series([0.1, 0.2, 0.3, -0.2], name="IC")
    >>> ic_distribution(ic).loc[["mean", "std", "t-stat", "share > 0", "days"]].round(4)
                   IC
    mean        0.1000
    std         0.2160
    t-stat      0.9258
    share > 0   0.7500
    days        4.0000
    """
    frame = _as_frame(ic)
    return pd.DataFrame({name: _distribution(frame[name]) for name in frame.columns})


@validate_params({"ic": [pd.Series]}, prefer_skip_nested_validation=True)
def ic_qq(ic: pd.Series) -> pd.DataFrame:
    """Quantiles of a daily IC series against those of a normal law of the same mean and std.

    The points of a normal Q-Q plot: on a straight line when the daily IC is
    normal; fat tails bend the ends away from it.

    Parameters
    ----------
    ic : pandas.Series
        Daily IC; NaN days are skipped.

    Returns
    -------
    qq : pandas.DataFrame
        One row per day, sorted: ``normal``, the quantile ``(i - 0.5) / n`` of
        the normal law with the series' mean and standard deviation (ddof=1),
        and ``observed``, the ``i``-th smallest IC.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.metrics import ic_qq
    >>> ic_qq(pd.Series([0.3, -0.1, 0.1])).round(4)
       normal  observed
    0 -0.0935      -0.1
    1  0.1000       0.1
    2  0.2935       0.3
    """
    values = np.sort(ic.dropna().to_numpy(dtype=np.float64))
    n = len(values)
    if n < 2 or not values.std() > 0:
        normal = np.full(n, np.nan)
    else:
        law = NormalDist(float(values.mean()), float(values.std(ddof=1)))
        normal = np.array([law.inv_cdf((i + 0.5) / n) for i in range(n)])
    return pd.DataFrame({"normal": normal, "observed": values})


@validate_params({"ic": [pd.Series]}, prefer_skip_nested_validation=True)
def monthly_ic_table(ic: pd.Series) -> pd.DataFrame:
    """Mean daily IC of each month, years down and months across, with each year's mean.

    The table behind the report's month x year heatmap, which stays readable
    over a test of many years where one bar per month does not.

    Parameters
    ----------
    ic : pandas.Series
        Daily IC indexed by date; NaN days are skipped.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by ``year``; columns ``Jan`` .. ``Dec`` (NaN for a month
        without a day) and ``Year``, the mean of the year's daily IC (not of
        its monthly means).

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.metrics import monthly_ic_table
    >>> ic = pd.Series([0.1, 0.3, -0.2],
    ...                index=pd.to_datetime(["2020-12-30", "2020-12-31", "2021-01-04"]))
    >>> monthly_ic_table(ic)[["Jan", "Dec", "Year"]]
          Jan  Dec  Year
    year
    2020  NaN  0.2   0.2
    2021 -0.2  NaN  -0.2
    """
    dates = pd.DatetimeIndex(ic.index)
    values = pd.Series(ic.to_numpy(dtype=np.float64), index=dates).dropna()
    years, months = values.index.year, values.index.month
    table = values.groupby([years, months]).mean().unstack()
    table = table.reindex(columns=range(1, 13))
    table.columns = list(MONTHS)
    table["Year"] = values.groupby(years).mean()
    table.index.name = "year"
    return table
