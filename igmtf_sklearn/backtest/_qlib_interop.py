"""Scores to and from Qlib's ``<PRED>`` layout (``pred.pkl`` of a ``SignalRecord``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils._panel import PANEL_LEVELS, check_panel_index

__all__ = ["from_qlib_pred", "to_qlib_pred"]


def to_qlib_pred(scores: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Scores as Qlib's ``pred.pkl``: a float frame with one ``score`` column.

    Qlib's ``SignalRecord`` saves predictions as a DataFrame indexed by
    ``(datetime, instrument)`` with a single ``score`` column;
    ``TopkDropoutStrategy(signal=pred)`` and Qlib's analysis functions take it
    as it is. Pickle the result (``pred.to_pickle("pred.pkl")``) to hand it to a
    Qlib recorder.

    Parameters
    ----------
    scores : pandas.Series, single-column DataFrame, or array-like with ``index``
        Predictions on a ``(datetime, instrument)`` panel index, e.g.
        ``pd.Series(model.predict(X), index=X.index)``. Unsorted rows are
        sorted.

    Returns
    -------
    pred : pandas.DataFrame
        Column ``score`` (float64), on the sorted ``(datetime, instrument)``
        index.

    Examples
    --------
    >>> from igmtf_sklearn.backtest import to_qlib_pred
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> panel, signal = make_stock_panel(3, 5, churn=0, return_signal=True, random_state=0)
    >>> pred = to_qlib_pred(signal)
    >>> pred.columns.tolist(), pred.shape
    (['score'], (15, 1))
    """
    if isinstance(scores, pd.DataFrame):
        if scores.shape[1] != 1:
            raise ValueError(
                f"scores must be a Series or a single-column DataFrame, got {scores.shape[1]} "
                "columns."
            )
        scores = scores.iloc[:, 0]
    if not isinstance(scores, pd.Series):
        raise TypeError(
            "scores must be a pandas Series on a (datetime, instrument) index, got "
            f"{type(scores).__name__}; wrap predictions as pd.Series(y_pred, index=X.index)."
        )
    if isinstance(scores.index, pd.MultiIndex) and not scores.index.is_monotonic_increasing:
        scores = scores.sort_index()
    check_panel_index(scores, name="scores")
    values = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame({"score": values}, index=scores.index)


def from_qlib_pred(pred: pd.DataFrame | pd.Series) -> pd.Series:
    """Qlib's ``pred.pkl`` (or any ``score`` frame) as a Series named ``score``.

    Parameters
    ----------
    pred : pandas.DataFrame or pandas.Series
        Qlib's predictions: a frame with a ``score`` column (or a single column)
        indexed by ``(datetime, instrument)``; an ``(instrument, datetime)``
        index, as some Qlib versions write, is swapped.

    Returns
    -------
    scores : pandas.Series of float64
        On a sorted ``(datetime, instrument)`` index.

    Examples
    --------
    >>> from igmtf_sklearn.backtest import from_qlib_pred, to_qlib_pred
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> panel, signal = make_stock_panel(3, 5, return_signal=True, random_state=0)
    >>> pred = to_qlib_pred(signal).swaplevel()  # (instrument, datetime), as some Qlib versions
    >>> scores = from_qlib_pred(pred)
    >>> scores.name, scores.index.names
    ('score', FrozenList(['datetime', 'instrument']))
    """
    if isinstance(pred, pd.DataFrame):
        if "score" in pred.columns:
            pred = pred["score"]
        elif pred.shape[1] == 1:
            pred = pred.iloc[:, 0]
        else:
            raise ValueError(f"pred has no 'score' column; columns: {list(pred.columns)}.")
    if not isinstance(pred, pd.Series):
        raise TypeError(f"pred must be a pandas DataFrame or Series, got {type(pred).__name__}.")
    if isinstance(pred.index, pd.MultiIndex) and tuple(pred.index.names) == PANEL_LEVELS[::-1]:
        pred = pred.swaplevel()
    if isinstance(pred.index, pd.MultiIndex) and not pred.index.is_monotonic_increasing:
        pred = pred.sort_index()
    check_panel_index(pred, name="pred")
    return pred.astype(np.float64).rename("score")
