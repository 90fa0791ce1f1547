"""Signal analysis: daily IC, its monthly means and score-quantile group returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from .._utils._panel import DATETIME, day_codes, day_slices
from .._utils._stats import mean_over_std
from ..metrics import daily_ic, daily_rank_ic
from ._groups import _bincount_mean, _pairs, _score_groups
from ._signal_stats import hit_rate, score_turnover

if TYPE_CHECKING:
    from .._utils._typing import Labels

__all__ = ["SignalAnalysis", "group_returns", "signal_analysis"]


@dataclass
class SignalAnalysis:
    """What :func:`signal_analysis` measured.

    Attributes
    ----------
    ic : pandas.DataFrame
        Daily ``IC`` and ``Rank IC``, indexed by ``datetime``.
    monthly_ic : pandas.DataFrame
        Their means per calendar month, indexed by a monthly ``PeriodIndex``
        named ``month``.
    group_returns : pandas.DataFrame
        Mean label per score group and day (``Group1`` = best scores ..
        ``GroupN``), ``long-short`` (``Group1 - GroupN``) and ``long-average``
        (``Group1`` minus the day's mean label), indexed by ``datetime``.
    summary : dict of str to float
        ``IC``, ``ICIR``, ``Rank IC``, ``Rank ICIR`` (as
        :func:`~igmtf_sklearn.metrics.ic_summary`), and the annualised mean and
        Sharpe ratio of the long-short and long-average returns
        (``Long-Short Ann Return``, ``Long-Short Ann Sharpe``, ``Long-Avg Ann
        Return``, ``Long-Avg Ann Sharpe``).
    hit_rate : pandas.DataFrame or None
        Instruments scored and the hit rate of each day (:func:`hit_rate`).
    stability : pandas.DataFrame or None
        Rank autocorrelation of the scores and turnover of the best and worst
        groups, day by day (:func:`score_turnover`).
    ann_scaler : float
        Periods per year of the summary's annualised figures.

    Examples
    --------
    >>> from igmtf_sklearn.backtest import SignalAnalysis, signal_analysis
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> analysis = signal_analysis(signal, forward_return(panel), n_groups=2)
    >>> isinstance(analysis, SignalAnalysis)
    True
    >>> analysis.ic.columns.tolist(), analysis.group_returns.columns.tolist()
    (['IC', 'Rank IC'], ['Group1', 'Group2', 'long-short', 'long-average'])
    """

    ic: pd.DataFrame
    monthly_ic: pd.DataFrame
    group_returns: pd.DataFrame
    summary: dict = field(default_factory=dict)
    hit_rate: pd.DataFrame | None = None
    stability: pd.DataFrame | None = None
    ann_scaler: float = 252


#: Any array-like; the panel index is then checked with an error that says how to build one.
_SCORES_AND_LABELS = {"scores": ["array-like"], "labels": ["array-like"]}
_N_GROUPS = [Interval(Integral, 2, None, closed="left")]


@validate_params({**_SCORES_AND_LABELS, "n_groups": _N_GROUPS}, prefer_skip_nested_validation=True)
def group_returns(scores: Labels, labels: Labels, n_groups: int = 5) -> pd.DataFrame:
    """Mean label of each score group, day by day, as Qlib's ``_group_return``.

    Each day the rows with a score are sorted by score, best first (ties in
    instrument order), and cut into ``n_groups`` groups of ``n // n_groups``
    rows (``n`` scored rows that day); as in Qlib the ``n % n_groups`` worst
    rows belong to no group. A group's return is the mean of its finite labels.

    Parameters
    ----------
    scores, labels : pandas.Series or single-column pandas.DataFrame
        On a ``(datetime, instrument)`` panel index; only rows in both count.
    n_groups : int, default=5
        Number of groups.

    Returns
    -------
    groups : pandas.DataFrame
        Columns ``Group1`` .. ``Group{n_groups}``, ``long-short`` (first minus
        last group) and ``long-average`` (first group minus the mean label of
        the day's scored rows), indexed by ``datetime``. Days without any
        finite label are dropped; a day with fewer than ``n_groups`` scored
        rows has NaN groups.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.backtest import group_returns
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2020-01-02"]), ["A", "B", "C", "D"]],
    ...     names=["datetime", "instrument"])
    >>> scores = pd.Series([4.0, 3.0, 2.0, 1.0], index=index)
    >>> labels = pd.Series([0.04, 0.02, 0.0, -0.02], index=index)
    >>> group_returns(scores, labels, n_groups=2).round(3)
                Group1  Group2  long-short  long-average
    datetime
    2020-01-02    0.03   -0.01        0.04          0.02
    """
    return _group_returns(_pairs(scores, labels), int(n_groups))


def _group_returns(frame: pd.DataFrame, n_groups: int) -> pd.DataFrame:
    index = frame.index
    codes = day_codes(index)
    starts, _ = day_slices(index)
    n_days = len(starts)
    score, label = frame["score"].to_numpy(), frame["label"].to_numpy()
    order, group = _score_groups(index, score, n_groups)
    sorted_label = label[order]
    counted = (group < n_groups) & np.isfinite(sorted_label)
    slot = codes[order] * n_groups + group
    means = _bincount_mean(slot[counted], sorted_label[counted], n_days * n_groups)
    result = pd.DataFrame(
        means.reshape(n_days, n_groups),
        index=pd.DatetimeIndex(index.get_level_values(0)[starts], name=DATETIME),
        columns=[f"Group{g + 1}" for g in range(n_groups)],
    )
    finite = np.isfinite(label)
    day_mean = _bincount_mean(codes[finite], label[finite], n_days)
    result["long-short"] = result["Group1"] - result[f"Group{n_groups}"]
    result["long-average"] = result["Group1"] - day_mean
    return result[np.isfinite(day_mean)]


def _ann_stats(returns: pd.Series, ann_scaler: float) -> tuple[float, float]:
    mean, std = returns.mean(), returns.std()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(mean * ann_scaler), float(np.float64(mean) / std * np.sqrt(ann_scaler))


@validate_params(
    {
        **_SCORES_AND_LABELS,
        "n_groups": _N_GROUPS,
        "ann_scaler": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def signal_analysis(
    scores: Labels, labels: Labels, *, n_groups: int = 5, ann_scaler: float = 252
) -> SignalAnalysis:
    """Daily IC, monthly IC and score-group returns of a signal, as Qlib's analyses.

    Parameters
    ----------
    scores : pandas.Series or pandas.DataFrame
        Predictions on a ``(datetime, instrument)`` index (a frame's ``score``
        column, or its only column: Qlib's ``pred.pkl``).
    labels : pandas.Series or single-column pandas.DataFrame
        Realised labels on the same kind of index, e.g.
        :func:`~igmtf_sklearn.preprocessing.forward_return` (raw, not
        normalised). Only rows present in both are used.
    n_groups : int, default=5
        Score groups per day (see :func:`group_returns`).
    ann_scaler : float, default=252
        Periods per year for the long-short summary (Qlib's ``SigAnaRecord``
        uses 252, while its ``risk_analysis`` counts 238 trading days; ``igmtf
        run`` passes 238 so that its report annualises everything alike).

    Returns
    -------
    analysis : SignalAnalysis
        ``ic``, ``monthly_ic``, ``group_returns``, ``summary``, ``hit_rate``
        and ``stability`` (see :class:`SignalAnalysis`). The daily IC
        is computed, as Qlib does, on the rows with both a finite score and a
        finite label; days without such rows are left out, and a day whose
        scores or labels are all equal has a NaN IC.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(50, 200, return_signal=True, random_state=0)
    >>> analysis = signal_analysis(signal, forward_return(panel))
    >>> sorted(analysis.summary)[:2]
    ['IC', 'ICIR']
    """
    frame = _pairs(scores, labels)
    groups = _group_returns(frame, int(n_groups))
    valid = frame[np.isfinite(frame["label"].to_numpy())]
    if valid.empty:
        raise ValueError("No row has both a finite score and a finite label.")
    ic = pd.DataFrame(
        {
            "IC": daily_ic(valid["label"], valid["score"]),
            "Rank IC": daily_rank_ic(valid["label"], valid["score"]),
        }
    )
    monthly = ic.groupby(ic.index.to_period("M")).mean()
    monthly.index.name = "month"
    return SignalAnalysis(
        ic=ic,
        monthly_ic=monthly,
        group_returns=groups,
        summary=_summary(ic, groups, ann_scaler),
        hit_rate=hit_rate(frame["score"], frame["label"]),
        stability=score_turnover(frame["score"], n_groups=int(n_groups)),
        ann_scaler=float(ann_scaler),
    )


def _summary(ic: pd.DataFrame, groups: pd.DataFrame, ann_scaler: float) -> dict:
    ls_return, ls_sharpe = _ann_stats(groups["long-short"], ann_scaler)
    la_return, la_sharpe = _ann_stats(groups["long-average"], ann_scaler)
    return {
        "IC": float(ic["IC"].mean()),
        "ICIR": mean_over_std(ic["IC"]),
        "Rank IC": float(ic["Rank IC"].mean()),
        "Rank ICIR": mean_over_std(ic["Rank IC"]),
        "Long-Short Ann Return": ls_return,
        "Long-Short Ann Sharpe": ls_sharpe,
        "Long-Avg Ann Return": la_return,
        "Long-Avg Ann Sharpe": la_sharpe,
    }
