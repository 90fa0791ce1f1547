"""Qlib's summaries of the daily IC: its mean (``IC``) and mean over standard deviation (``ICIR``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pandas as pd
from sklearn.utils._param_validation import validate_params

from igmtf_sklearn._utils._stats import mean_over_std
from igmtf_sklearn.metrics._ic import (
    _IC_PARAMETERS,
    _daily_correlation,
    _prepare,
    daily_ic,
    daily_rank_ic,
)

if TYPE_CHECKING:
    from .._utils._typing import Labels, Scores

__all__ = ["UndefinedICWarning", "ic_summary", "icir", "mean_ic", "mean_rank_ic", "rank_icir"]


class UndefinedICWarning(UserWarning):
    """Warned when no day has a defined IC, so the mean IC and ICIR are NaN.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from igmtf_sklearn.metrics import UndefinedICWarning, mean_ic
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2020-01-02"]), ["A", "B"]], names=["datetime", "instrument"])
    >>> y_true = pd.Series([0.01, 0.02], index=index)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     mean_ic(y_true, [1.0, 1.0])  # constant predictions: no day has an IC
    nan
    >>> caught[0].category is UndefinedICWarning
    True
    """


def _warn_if_undefined(daily: pd.Series) -> None:
    if not daily.notna().any():
        warnings.warn(
            "No day has a defined IC (each needs at least 2 rows with finite label and "
            "prediction, not all equal); the mean IC and ICIR are NaN.",
            UndefinedICWarning,
            stacklevel=3,
        )


def _mean(daily: pd.Series) -> float:
    return float(daily.mean())


@validate_params(_IC_PARAMETERS, prefer_skip_nested_validation=True)
def mean_ic(y_true: Labels, y_pred: Scores) -> float:
    """Mean of the daily IC (Qlib's ``IC``).

    Days with an undefined IC (see :func:`daily_ic`) are skipped. When no day has
    one the result is NaN and an :class:`UndefinedICWarning` is emitted.

    Parameters
    ----------
    y_true : pandas.Series or single-column pandas.DataFrame
        Labels on a ``(datetime, instrument)`` panel index. Unsorted rows are
        accepted and sorted internally.
    y_pred : array-like of shape (n_rows,) or (n_rows, 1), or pandas Series/DataFrame
        Predictions. A pandas object is aligned to ``y_true`` by index key;
        anything else must be in ``y_true``'s row order.

    Returns
    -------
    ic : float
        Mean daily Pearson IC.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import mean_ic
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> round(mean_ic(forward_return(panel), signal), 2)
    0.13
    """
    daily = daily_ic(y_true, y_pred)
    _warn_if_undefined(daily)
    return _mean(daily)


@validate_params(_IC_PARAMETERS, prefer_skip_nested_validation=True)
def mean_rank_ic(y_true: Labels, y_pred: Scores) -> float:
    """Mean of the daily rank IC (Qlib's ``Rank IC``).

    Days with an undefined IC (see :func:`daily_ic`) are skipped. When no day has
    one the result is NaN and an :class:`UndefinedICWarning` is emitted.

    Parameters
    ----------
    y_true : pandas.Series or single-column pandas.DataFrame
        Labels on a ``(datetime, instrument)`` panel index. Unsorted rows are
        accepted and sorted internally.
    y_pred : array-like of shape (n_rows,) or (n_rows, 1), or pandas Series/DataFrame
        Predictions. A pandas object is aligned to ``y_true`` by index key;
        anything else must be in ``y_true``'s row order.

    Returns
    -------
    rank_ic : float
        Mean daily Spearman IC.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import mean_rank_ic
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> round(mean_rank_ic(forward_return(panel), signal), 2)
    0.1
    """
    daily = daily_rank_ic(y_true, y_pred)
    _warn_if_undefined(daily)
    return _mean(daily)


@validate_params(_IC_PARAMETERS, prefer_skip_nested_validation=True)
def icir(y_true: Labels, y_pred: Scores) -> float:
    """Mean over standard deviation (ddof=1) of the daily IC (Qlib's ``ICIR``).

    Days with an undefined IC (see :func:`daily_ic`) are skipped. When no day has
    one the result is NaN and an :class:`UndefinedICWarning` is emitted.

    Parameters
    ----------
    y_true : pandas.Series or single-column pandas.DataFrame
        Labels on a ``(datetime, instrument)`` panel index. Unsorted rows are
        accepted and sorted internally.
    y_pred : array-like of shape (n_rows,) or (n_rows, 1), or pandas Series/DataFrame
        Predictions. A pandas object is aligned to ``y_true`` by index key;
        anything else must be in ``y_true``'s row order.

    Returns
    -------
    icir : float
        NaN with fewer than 2 defined days; +-inf if the daily IC never varies.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import icir
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> round(icir(forward_return(panel), signal), 2)
    0.5
    """
    daily = daily_ic(y_true, y_pred)
    _warn_if_undefined(daily)
    return mean_over_std(daily)


@validate_params(_IC_PARAMETERS, prefer_skip_nested_validation=True)
def rank_icir(y_true: Labels, y_pred: Scores) -> float:
    """Mean over standard deviation of the daily rank IC (Qlib's ``Rank ICIR``).

    Days with an undefined IC (see :func:`daily_ic`) are skipped. When no day has
    one the result is NaN and an :class:`UndefinedICWarning` is emitted.

    Parameters
    ----------
    y_true : pandas.Series or single-column pandas.DataFrame
        Labels on a ``(datetime, instrument)`` panel index. Unsorted rows are
        accepted and sorted internally.
    y_pred : array-like of shape (n_rows,) or (n_rows, 1), or pandas Series/DataFrame
        Predictions. A pandas object is aligned to ``y_true`` by index key;
        anything else must be in ``y_true``'s row order.

    Returns
    -------
    rank_icir : float
        NaN with fewer than 2 defined days; +-inf if the daily rank IC
        never varies.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import rank_icir
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> round(rank_icir(forward_return(panel), signal), 2)
    0.4
    """
    daily = daily_rank_ic(y_true, y_pred)
    _warn_if_undefined(daily)
    return mean_over_std(daily)


@validate_params(_IC_PARAMETERS, prefer_skip_nested_validation=True)
def ic_summary(y_true: Labels, y_pred: Scores) -> dict[str, float]:
    """Qlib's four IC statistics at once.

    Days with an undefined IC (see :func:`daily_ic`) are skipped. When no day has
    one the result is NaN and an :class:`UndefinedICWarning` is emitted.

    Parameters
    ----------
    y_true : pandas.Series or single-column pandas.DataFrame
        Labels on a ``(datetime, instrument)`` panel index. Unsorted rows are
        accepted and sorted internally.
    y_pred : array-like of shape (n_rows,) or (n_rows, 1), or pandas Series/DataFrame
        Predictions. A pandas object is aligned to ``y_true`` by index key;
        anything else must be in ``y_true``'s row order.

    Returns
    -------
    summary : dict of str to float
        Keys ``'IC'``, ``'ICIR'``, ``'Rank IC'`` and ``'Rank ICIR'``, as returned by
        :func:`mean_ic`, :func:`icir`, :func:`mean_rank_ic` and :func:`rank_icir`.

    Examples
    --------
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import ic_summary
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> {k: round(v, 2) for k, v in ic_summary(forward_return(panel), signal).items()}
    {'IC': 0.13, 'ICIR': 0.5, 'Rank IC': 0.1, 'Rank ICIR': 0.4}
    """
    prepared = _prepare(y_true, y_pred)  # validate once for both series
    ic = _daily_correlation(*prepared, rank=False)
    rank_ic = _daily_correlation(*prepared, rank=True)
    _warn_if_undefined(ic)
    return {
        "IC": _mean(ic),
        "ICIR": mean_over_std(ic),
        "Rank IC": _mean(rank_ic),
        "Rank ICIR": mean_over_std(rank_ic),
    }
