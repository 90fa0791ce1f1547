"""What alphalens reads off a signal beside its IC: hit rate, coverage, stability, group means."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from .._utils._panel import DATETIME
from ._groups import _pairs, _score_groups, _score_series

if TYPE_CHECKING:
    from .._utils._typing import Labels

__all__ = ["group_mean_returns", "hit_rate", "score_turnover"]


@validate_params(
    {"scores": ["array-like"], "labels": ["array-like"]}, prefer_skip_nested_validation=True
)
def hit_rate(scores: Labels, labels: Labels) -> pd.DataFrame:
    """Share of each day's instruments whose score and label fall on the same side of the day.

    A score is *above* its day when it exceeds the day's median score, a
    label when it exceeds the day's median label (the median of the rows with
    both a finite score and a finite label). An instrument is a *hit* when both
    are above or both below; rows exactly on a median count in neither the
    hits nor the total. A cross-sectional signal such as IGMTF's ranks stocks
    rather than predicting signs, hence the medians.

    Parameters
    ----------
    scores, labels : pandas.Series or single-column pandas.DataFrame
        The signal and the realised labels on a ``(datetime, instrument)``
        index, as :func:`signal_analysis` takes them; only rows in both count.

    Returns
    -------
    daily : pandas.DataFrame
        Indexed by ``datetime`` (every day with a finite score): ``scored``,
        the instruments with a finite score; ``labelled``, those of them with
        a finite label too; ``hit rate``, NaN on a day without a counted row.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import hit_rate
    >>> day = pd.to_datetime(["2020-01-02"] * 4)
    >>> index = pd.MultiIndex.from_arrays([day, list("ABCD")], names=["datetime", "instrument"])
    >>> scores = pd.Series([4.0, 3.0, 2.0, 1.0], index=index)  # A is best
    >>> labels = pd.Series([0.03, -0.01, 0.01, -0.02], index=index)
    >>> hit_rate(scores, labels)
                scored  labelled  hit rate
    datetime
    2020-01-02       4         4       0.5
    """
    frame = _pairs(scores, labels)
    days = frame.index.get_level_values(0)
    valid = np.isfinite(frame["label"].to_numpy())
    both = frame[valid]
    medians = both.groupby(level=0).median()
    centred = both - medians.reindex(both.index.get_level_values(0)).to_numpy()
    product = centred["score"].to_numpy() * centred["label"].to_numpy()
    tallies = (
        pd.DataFrame({"hits": product > 0, "counted": product != 0}, index=both.index)
        .groupby(level=0)
        .sum()
    )
    result = pd.DataFrame(
        {
            "scored": pd.Series(1, index=frame.index).groupby(days).sum(),
            "labelled": pd.Series(valid, index=frame.index).groupby(days).sum(),
        }
    )
    tallies = tallies.reindex(result.index, fill_value=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        result["hit rate"] = np.where(
            tallies["counted"] > 0, tallies["hits"] / tallies["counted"], np.nan
        )
    result.index.name = DATETIME
    return result


def _rowwise_correlation(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (NaN cells skipped)."""
    a_c = a.sub(a.mean(axis=1), axis=0)
    b_c = b.sub(b.mean(axis=1), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (a_c * b_c).sum(axis=1) / np.sqrt((a_c**2).sum(axis=1) * (b_c**2).sum(axis=1))
    return r.where(a.notna().sum(axis=1) >= 2)


def _new_members(member: pd.DataFrame, lag: int) -> pd.Series:
    """Share of a group's members that were not in it ``lag`` days earlier."""
    before = member.shift(lag, fill_value=False)
    size = member.sum(axis=1)
    share = (member & ~before).sum(axis=1) / size.where(size > 0)
    share.iloc[:lag] = np.nan  # no earlier day to compare with
    return share


@validate_params(
    {
        "scores": ["array-like"],
        "n_groups": [Interval(Integral, 2, None, closed="left")],
        "lag": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def score_turnover(scores: Labels, *, n_groups: int = 5, lag: int = 1) -> pd.DataFrame:
    """How fast a signal changes: rank autocorrelation and turnover of the best and worst groups.

    alphalens' ``factor_rank_autocorrelation`` and ``quantile_turnover``, on
    the score groups of :func:`group_returns`. A slow signal (autocorrelation
    near 1, low turnover) is cheap to trade; one that reshuffles every day
    pays its costs every day.

    Parameters
    ----------
    scores : pandas.Series or pandas.DataFrame
        Predictions on a ``(datetime, instrument)`` index (a frame's ``score``
        column, or its only column). Non-finite scores count as missing.
    n_groups : int, default=5
        Score groups per day, cut as in :func:`group_returns`.
    lag : int, default=1
        Days (of the score panel) between the two days compared.

    Returns
    -------
    stability : pandas.DataFrame
        Indexed by ``datetime``: ``rank autocorrelation``, the Spearman
        correlation of the day's scores with those ``lag`` days earlier, over
        the instruments scored on both; ``Group1 turnover`` and
        ``Group{n_groups} turnover``, the share of the best (worst) group's
        instruments that were not in it ``lag`` days earlier. The first
        ``lag`` days are NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import score_turnover
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2020-01-02", "2020-01-03"]), ["A", "B", "C", "D"]],
    ...     names=["datetime", "instrument"])
    >>> scores = pd.Series([4.0, 3.0, 2.0, 1.0, 4.0, 2.0, 3.0, 1.0], index=index)
    >>> score_turnover(scores, n_groups=2).round(2)
                rank autocorrelation  Group1 turnover  Group2 turnover
    datetime
    2020-01-02                   NaN              NaN              NaN
    2020-01-03                   0.8              0.5              0.5
    """
    n_groups, lag = int(n_groups), int(lag)
    score = _score_series(scores)
    score = score[np.isfinite(score.to_numpy())]
    if score.empty:
        raise ValueError("scores has no finite value.")
    order, group = _score_groups(score.index, score.to_numpy(), n_groups)
    row_group = np.empty(len(score), dtype=np.int64)
    row_group[order] = group
    groups = pd.Series(row_group, index=score.index).unstack()
    grid = score.unstack()
    before = grid.shift(lag)
    common = grid.notna() & before.notna()
    ranks_now = grid.where(common).rank(axis=1)
    ranks_before = before.where(common).rank(axis=1)
    result = pd.DataFrame(
        {
            "rank autocorrelation": _rowwise_correlation(ranks_now, ranks_before),
            "Group1 turnover": _new_members(groups == 0, lag),
            f"Group{n_groups} turnover": _new_members(groups == n_groups - 1, lag),
        }
    )
    result.index.name = DATETIME
    return result


@validate_params({"group_returns": [pd.DataFrame]}, prefer_skip_nested_validation=True)
def group_mean_returns(group_returns: pd.DataFrame) -> pd.DataFrame:
    """Mean daily return of each score group, with its standard error.

    alphalens' "mean period-wise return by factor quantile" bar chart, drawn
    with error bars of one standard error.

    Parameters
    ----------
    group_returns : pandas.DataFrame
        Daily returns of the groups, one column each, as
        :func:`group_returns` or ``SignalAnalysis.group_returns`` give them.

    Returns
    -------
    means : pandas.DataFrame
        One row per column of ``group_returns``: ``mean`` (of the days with a
        value), ``std error`` (sample standard deviation over the square root
        of ``days``) and ``days``.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import group_mean_returns
    >>> groups = pd.DataFrame({"Group1": [0.01, 0.03], "Group2": [0.0, -0.02]})
    >>> group_mean_returns(groups)
             mean  std error  days
    Group1   0.02       0.01     2
    Group2  -0.01       0.01     2
    """
    days = group_returns.notna().sum()
    return pd.DataFrame(
        {
            "mean": group_returns.mean(),
            "std error": group_returns.std(ddof=1) / np.sqrt(days.where(days > 0)),
            "days": days.astype(np.int64),
        }
    )
