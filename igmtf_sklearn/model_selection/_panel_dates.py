"""Trading days of a panel's rows, for the date splitters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils._panel import DATETIME

__all__ = ["panel_dates", "rows_of"]


def panel_dates(X: pd.DataFrame | pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Day number of every row of ``X`` and the sorted unique dates.

    Works on any row order: the day numbers come from the values of the
    ``datetime`` level, not from the row positions, so an unsorted panel (or one
    with the levels swapped) splits the same way as the sorted one.

    Parameters
    ----------
    X : pandas.DataFrame or pandas.Series
        Indexed by a MultiIndex with a ``datetime`` level, or by a DatetimeIndex.

    Returns
    -------
    codes : ndarray of intp, shape (n_rows,)
        Position of each row's date in ``dates``.
    dates : pandas.Index
        The sorted unique dates.
    """
    if not isinstance(X, pd.DataFrame | pd.Series):
        raise TypeError(
            "The date splitters need a pandas DataFrame or Series indexed by (datetime, "
            f"instrument), got {type(X).__name__}: they split on the dates, not on the rows."
        )
    index = X.index
    if isinstance(index, pd.MultiIndex) and DATETIME in index.names:
        values = index.get_level_values(DATETIME)
    elif isinstance(index, pd.DatetimeIndex):
        values = index
    else:
        raise ValueError(
            f"X's index has no '{DATETIME}' level (levels: {list(index.names)}). Index the panel "
            "by (datetime, instrument), e.g. X.rename_axis(['datetime', 'instrument'])."
        )
    # Hash-based and sorted: the same day numbers whatever the row order.
    codes, dates = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise ValueError("X's datetime level contains missing dates (NaT); drop those rows.")
    return codes, dates


def rows_of(codes, days, n_dates):
    """Row positions whose day number is in ``days``."""
    selected = np.zeros(n_dates, dtype=bool)
    selected[days] = True
    return np.flatnonzero(selected[codes])
