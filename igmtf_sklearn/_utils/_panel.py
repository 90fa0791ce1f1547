"""The panel convention shared by every public entry point.

A *panel* is a pandas DataFrame (or Series) indexed by a two-level MultiIndex
``(datetime, instrument)``, sorted by datetime then instrument, with no
duplicate keys. Each row is one instrument on one trading day. Qlib uses the
same layout, so frames coming out of a Qlib ``DatasetH`` fit as they are.

The helpers here validate that convention once, with one clear message per
problem, and find the day boundaries that the day-wise code (cross-sectional
normalisers, IC metrics, the estimator's day batches) builds on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

DATETIME = "datetime"
INSTRUMENT = "instrument"
PANEL_LEVELS = (DATETIME, INSTRUMENT)


def check_panel_index(obj, *, name: str = "X") -> pd.MultiIndex:
    """Validate that ``obj`` follows the panel convention and return its index.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        The panel to check.
    name : str, default="X"
        How the object is called in error messages.

    Returns
    -------
    index : pandas.MultiIndex
        ``obj.index``.

    Raises
    ------
    TypeError
        If ``obj`` is not a pandas DataFrame or Series.
    ValueError
        If the index is not a sorted, duplicate-free ``(datetime, instrument)``
        MultiIndex, or the panel is empty.
    """
    if not isinstance(obj, pd.DataFrame | pd.Series):
        # scikit-learn's estimator checks expect sparse input to be refused by name.
        sparse = " Sparse input is not supported." if sp.issparse(obj) else ""
        raise TypeError(
            f"{name} must be a pandas DataFrame or Series indexed by a (datetime, instrument) "
            f"MultiIndex, got {type(obj).__name__}.{sparse} Build one with "
            "df.set_index(['datetime', 'instrument']).sort_index(); in a Pipeline whose other "
            "steps return arrays, call pipeline.set_output(transform='pandas')."
        )
    index = obj.index
    if not isinstance(index, pd.MultiIndex) or index.nlevels != 2:
        raise ValueError(
            f"{name} must be indexed by a 2-level (datetime, instrument) MultiIndex, got "
            f"{type(index).__name__} with {index.nlevels} level(s). Build one with "
            "df.set_index(['datetime', 'instrument']).sort_index(). In a Pipeline, a step that "
            "returns an array loses the index: call .set_output(transform='pandas') on it, "
            "also on a step GridSearchCV swaps in (e.g. a FeatureUnion in the grid)."
        )
    names = tuple(index.names)
    if names == PANEL_LEVELS[::-1]:
        raise ValueError(
            f"{name}'s index levels are (instrument, datetime); the panel convention is "
            f"(datetime, instrument). Fix it with {name}.swaplevel().sort_index()."
        )
    if names != PANEL_LEVELS:
        raise ValueError(
            f"{name}'s index levels must be named {PANEL_LEVELS}, got {names}. Rename them with "
            f"{name}.rename_axis(['datetime', 'instrument'])."
        )
    if len(index) == 0:
        raise ValueError(f"{name} is empty: it needs at least one (datetime, instrument) row.")
    if not index.is_monotonic_increasing:
        raise ValueError(
            f"{name}'s index is not sorted by datetime then instrument. "
            f"Fix it with {name}.sort_index()."
        )
    if index.has_duplicates:
        duplicated = index[index.duplicated()][:3].tolist()
        raise ValueError(
            f"{name} has duplicate (datetime, instrument) keys, e.g. {duplicated}. Drop them "
            f"with {name}[~{name}.index.duplicated()]."
        )
    return index


def day_slices(index: pd.MultiIndex) -> tuple[np.ndarray, np.ndarray]:
    """Start offset and row count of each day in a sorted panel index.

    Parameters
    ----------
    index : pandas.MultiIndex
        A validated panel index (sorted by datetime).

    Returns
    -------
    starts : ndarray of int64, shape (n_days,)
        Row offset of each day's first row.
    counts : ndarray of int64, shape (n_days,)
        Number of rows of each day.
    """
    dates = index.get_level_values(0).to_numpy()
    if len(dates) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Rows are sorted by date, so a day starts wherever the date changes.
    starts = np.concatenate([[0], np.flatnonzero(dates[1:] != dates[:-1]) + 1]).astype(np.int64)
    counts = np.diff(np.append(starts, len(dates))).astype(np.int64)
    return starts, counts


def day_codes(index: pd.MultiIndex) -> np.ndarray:
    """Day number (0 .. n_days - 1) of every row of a sorted panel index."""
    starts, counts = day_slices(index)
    return np.repeat(np.arange(len(starts), dtype=np.int64), counts)


def keep_panel(X, values, columns):
    """Return ``values`` as a frame on ``X``'s index when ``X`` is a panel frame.

    The panel transformers hand a panel back as a panel, whatever the
    ``set_output`` setting, because day-wise steps further down a pipeline
    (cross-sectional normalisers, the estimator) need the ``(datetime,
    instrument)`` index. Anything else keeps scikit-learn's ndarray output.
    """
    is_panel = (
        isinstance(X, pd.DataFrame)
        and isinstance(X.index, pd.MultiIndex)
        and tuple(X.index.names) == PANEL_LEVELS
    )
    if not is_panel:
        return values
    # No copy: the values were just computed for this frame.
    return pd.DataFrame(values, index=X.index, columns=columns, copy=False)
